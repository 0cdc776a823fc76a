/** CRC-32C (Castagnoli), the checksum `etcdctl snapshot status` reports as the snapshot's hash. */

const POLY = 0x82f63b78;

const TABLES: Uint32Array[] = (() => {
  // Slicing-by-4 tables: TABLES[0] is the classic byte table.
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[i] = c >>> 0;
  }
  const tables = [t0];
  for (let t = 1; t < 4; t++) {
    const prev = tables[t - 1];
    const next = new Uint32Array(256);
    for (let i = 0; i < 256; i++) next[i] = (prev[i] >>> 8) ^ t0[prev[i] & 0xff];
    tables.push(next);
  }
  return tables;
})();

/** An incremental CRC-32C, like Go's crc32.New(crc32.MakeTable(crc32.Castagnoli)). */
export class Crc32c {
  private crc = 0xffffffff;

  update(bytes: Uint8Array): this {
    const [t0, t1, t2, t3] = TABLES;
    let c = this.crc;
    let i = 0;
    const n = bytes.length;
    for (; i + 4 <= n; i += 4) {
      c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
      c = t3[c & 0xff] ^ t2[(c >>> 8) & 0xff] ^ t1[(c >>> 16) & 0xff] ^ t0[c >>> 24];
    }
    for (; i < n; i++) c = t0[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

export function crc32c(bytes: Uint8Array): number {
  return new Crc32c().update(bytes).digest();
}

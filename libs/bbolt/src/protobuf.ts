/**
 * The few pieces of the protobuf wire format the etcd backend messages need:
 * varints (int64 in two's complement, uint64) and length-delimited bytes.
 * Encoding follows proto3 as gogoproto does it: fields in number order, zero
 * values and empty bytes left out.
 */

const TWO_32 = 2 ** 32;
const UINT64_MAX = 0xffffffffffffffffn;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_BYTES = 2;
export const WIRE_FIXED32 = 5;

/** An int64 or uint64 field value as the unsigned 64-bit pattern a varint carries. */
export function toUint64(value: bigint | number, what: string, signed: boolean): bigint {
  const v = typeof value === 'bigint' ? value : BigInt(checkInteger(value, what));
  if (signed) {
    if (v < -(1n << 63n) || v >= 1n << 63n) throw new RangeError(`${what} ${v} is outside int64`);
    return v < 0n ? v + (1n << 64n) : v;
  }
  if (v < 0n || v > UINT64_MAX) throw new RangeError(`${what} ${v} is outside uint64`);
  return v;
}

function checkInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) throw new RangeError(`${what} ${n} is not a safe integer (use a bigint)`);
  return n;
}

/** Bytes a varint of this unsigned value takes. */
export function varintSize(v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < 2 ** 49) {
    let n = 1;
    while (v >= 128) {
      v = Math.floor(v / 128);
      n++;
    }
    return n;
  }
  let b = BigInt(v);
  let n = 1;
  while (b >= 128n) {
    b >>= 7n;
    n++;
  }
  return n;
}

/** Write an unsigned varint at `off`; returns the offset after it. */
export function writeVarint(out: Uint8Array, off: number, v: bigint | number): number {
  if (typeof v === 'number' && v >= 0 && v < 2 ** 49) {
    while (v >= 128) {
      out[off++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    out[off++] = v;
    return off;
  }
  let b = BigInt(v);
  while (b >= 128n) {
    out[off++] = Number(b & 0x7fn) | 0x80;
    b >>= 7n;
  }
  out[off++] = Number(b);
  return off;
}

/** A value that fits a safe JavaScript number is handed around as a number, else as a bigint. */
function compact(v: bigint): bigint | number {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A field of a message being encoded: number, and a varint or bytes. */
export type ProtoField = { field: number; varint: bigint | number } | { field: number; bytes: Uint8Array };

/** Size of the encoded message (fields whose varint is 0 or bytes are empty are left out). */
export function messageSize(fields: ProtoField[]): number {
  let size = 0;
  for (const f of fields) {
    if ('varint' in f) {
      if (f.varint === 0 || f.varint === 0n) continue;
      size += varintSize(f.field << 3) + varintSize(f.varint);
    } else {
      if (f.bytes.length === 0) continue;
      size += varintSize(f.field << 3) + varintSize(f.bytes.length) + f.bytes.length;
    }
  }
  return size;
}

/** Encode fields (in the order given) into out at off; returns the offset after them. */
export function writeMessage(out: Uint8Array, off: number, fields: ProtoField[]): number {
  for (const f of fields) {
    if ('varint' in f) {
      if (f.varint === 0 || f.varint === 0n) continue;
      off = writeVarint(out, off, (f.field << 3) | WIRE_VARINT);
      off = writeVarint(out, off, f.varint);
    } else {
      if (f.bytes.length === 0) continue;
      off = writeVarint(out, off, (f.field << 3) | WIRE_BYTES);
      off = writeVarint(out, off, f.bytes.length);
      out.set(f.bytes, off);
      off += f.bytes.length;
    }
  }
  return off;
}

/** Encode a message into a new Buffer. */
export function encodeMessage(fields: ProtoField[]): Buffer {
  const out = Buffer.alloc(messageSize(fields));
  writeMessage(out, 0, fields);
  return out;
}

/** One decoded field: varints as numbers when they fit, bigints when not; bytes as views. */
export type DecodedField = { field: number; wire: 0; varint: bigint | number } | { field: number; wire: 2; bytes: Buffer } | { field: number; wire: 1 | 5 };

/**
 * Reads a message field by field without building anything: `next()` moves
 * to the next field (false at the end), then read its varint or bytes, or
 * skip it. Throws (naming `what`) on truncated varints or bytes, overlong
 * varints, and wire types this format never uses (groups).
 */
export class ProtoCursor {
  private pos = 0;
  private readonly b: Buffer;
  field = 0;
  wire = 0;

  constructor(
    buf: Uint8Array,
    private readonly what: string,
  ) {
    this.b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  next(): boolean {
    if (this.pos >= this.b.length) return false;
    const tag = this.varint();
    if (typeof tag !== 'number' || tag >= TWO_32) throw new Error(`${this.what}: bad field tag`);
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    if (this.field === 0) throw new Error(`${this.what}: field number 0`);
    if (this.wire !== WIRE_VARINT && this.wire !== WIRE_BYTES && this.wire !== WIRE_FIXED64 && this.wire !== WIRE_FIXED32) {
      throw new Error(`${this.what}: unsupported wire type ${this.wire} for field ${this.field}`);
    }
    return true;
  }

  /** An unsigned varint: a number up to 49 bits, else a number if safe, else a bigint. */
  varint(): bigint | number {
    const b = this.b;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (this.pos >= b.length) throw new Error(`${this.what}: truncated varint`);
      const byte = b[this.pos++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n;
      scale *= 128;
    }
    let v = BigInt(n);
    let shift = 49n;
    for (let i = 7; i < 10; i++) {
      if (this.pos >= b.length) throw new Error(`${this.what}: truncated varint`);
      const byte = b[this.pos++];
      v |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) {
        if (v > UINT64_MAX) throw new Error(`${this.what}: varint overflows 64 bits`);
        return compact(v);
      }
      shift += 7n;
    }
    throw new Error(`${this.what}: varint longer than 10 bytes`);
  }

  /** The current length-delimited field, as a view. */
  bytes(): Buffer {
    const len = this.varint();
    if (typeof len !== 'number' || this.pos + len > this.b.length) {
      throw new Error(`${this.what}: field ${this.field} runs past the end (${String(len)} bytes)`);
    }
    const out = this.b.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Skip the current field's value, whatever its wire type. */
  skip(): void {
    if (this.wire === WIRE_VARINT) this.varint();
    else if (this.wire === WIRE_BYTES) this.bytes();
    else {
      const len = this.wire === WIRE_FIXED64 ? 8 : 4;
      if (this.pos + len > this.b.length) throw new Error(`${this.what}: field ${this.field} runs past the end`);
      this.pos += len;
    }
  }
}

/** Decode the fields of a message (see ProtoCursor for what it rejects). */
export function decodeMessage(buf: Uint8Array, what: string): DecodedField[] {
  const c = new ProtoCursor(buf, what);
  const fields: DecodedField[] = [];
  while (c.next()) {
    const field = c.field;
    if (c.wire === WIRE_VARINT) fields.push({ field, wire: WIRE_VARINT, varint: c.varint() });
    else if (c.wire === WIRE_BYTES) fields.push({ field, wire: WIRE_BYTES, bytes: c.bytes() });
    else {
      const wire = c.wire as 1 | 5;
      c.skip();
      fields.push({ field, wire });
    }
  }
  return fields;
}

/** A varint read back as int64 (two's complement). */
export function asInt64(v: bigint | number): bigint {
  return BigInt.asIntN(64, BigInt(v));
}

/** A varint read back as uint64. */
export function asUint64(v: bigint | number): bigint {
  return BigInt(v);
}

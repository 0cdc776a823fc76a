import vm from 'node:vm';
import { seededRandom } from '@kubets/testkit';
import { BoltWriteError } from './errors';
import { fnv1a64 } from './format';
import { openBolt, readBolt } from './reader';
import type { BoltBucket, BoltEntry } from './types';
import { writeBolt } from './writer';

const b = (s: string) => Buffer.from(s);
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

/** A comparable form of buckets: hex everywhere, sorted as the file stores them. */
interface Plain {
  name: string;
  entries: Array<[string, string]>;
  buckets: Plain[];
  sequence: string;
}
function plain(buckets: BoltBucket[]): Plain[] {
  return buckets
    .map((bk) => ({
      name: hex(typeof bk.name === 'string' ? b(bk.name) : bk.name),
      entries: bk.entries.map(([k, v]): [string, string] => [hex(k), hex(v)]).sort((x, y) => Buffer.compare(Buffer.from(x[0], 'hex'), Buffer.from(y[0], 'hex'))),
      buckets: plain(bk.buckets ?? []),
      sequence: String(bk.sequence ?? 0n),
    }))
    .sort((x, y) => Buffer.compare(Buffer.from(x.name, 'hex'), Buffer.from(y.name, 'hex')));
}

/** Raw page headers, read straight from the bytes (independent of the reader). */
function pageHeaders(file: Buffer, pageSize = 4096) {
  const pages: Array<{ id: number; flags: number; count: number; overflow: number }> = [];
  const hw = Number(file.readBigUInt64LE(16 + 40));
  for (let id = 0; id < hw; ) {
    const off = id * pageSize;
    const p = { id: Number(file.readBigUInt64LE(off)), flags: file.readUInt16LE(off + 8), count: file.readUInt16LE(off + 10), overflow: file.readUInt32LE(off + 12) };
    pages.push(p);
    id += p.overflow + 1;
  }
  return pages;
}

function revKey(i: number): Buffer {
  const k = Buffer.alloc(17);
  k.writeBigUInt64BE(BigInt(i));
  k[8] = 0x5f;
  return k;
}

describe('writeBolt / readBolt round trips', () => {
  it('an empty database: two meta pages, an empty freelist, an empty root leaf', () => {
    const file = writeBolt([]);
    expect(file.length).toBe(4 * 4096);
    expect(readBolt(file)).toEqual([]);
    const pages = pageHeaders(file);
    expect(pages.map((p) => [p.id, p.flags, p.count])).toEqual([
      [0, 0x04, 0],
      [1, 0x04, 0],
      [2, 0x10, 0],
      [3, 0x02, 0],
    ]);
    const db = openBolt(file);
    expect(db.meta).toMatchObject({ page: 1, pageSize: 4096, root: 3, freelist: 2, highWater: 4, txid: 1n });
    expect(db.metaWarnings).toEqual([]);
    expect(db.freePages()).toEqual([]);
    expect(db.check()).toEqual([]);
  });

  it('meta pages carry magic, version, page size and an FNV-1a checksum of their fields', () => {
    const file = writeBolt([{ name: 'a', entries: [] }], { txid: 7 });
    for (const [page, txid] of [
      [0, 6n],
      [1, 7n],
    ] as const) {
      const m = page * 4096 + 16;
      expect(file.readBigUInt64LE(page * 4096)).toBe(BigInt(page));
      expect(file.readUInt32LE(m)).toBe(0xed0cdaed);
      expect(file.readUInt32LE(m + 4)).toBe(2);
      expect(file.readUInt32LE(m + 8)).toBe(4096);
      expect(file.readBigUInt64LE(m + 32)).toBe(2n); // freelist page
      expect(file.readBigUInt64LE(m + 48)).toBe(txid);
      expect(file.readBigUInt64LE(m + 56)).toBe(fnv1a64(file, m, m + 56));
    }
    expect(openBolt(file).meta.txid).toBe(7n);
  });

  it('FNV-1a 64 matches the reference vectors', () => {
    expect(fnv1a64(b(''))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(b('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(b('foobar'))).toBe(0x85944171f73967e8n);
  });

  it('empty buckets, one key, many buckets', () => {
    const cases: BoltBucket[][] = [
      [{ name: 'empty', entries: [] }],
      [{ name: 'one', entries: [[b('k'), b('v')]] }],
      [{ name: 'empty-value', entries: [[b('k'), Buffer.alloc(0)]] }],
      Array.from({ length: 300 }, (_, i) => ({ name: `bucket-${i}`, entries: [[b(`k${i}`), b(`v${i}`)] as BoltEntry] })),
    ];
    for (const buckets of cases) {
      const file = writeBolt(buckets);
      expect(plain(readBolt(file))).toEqual(plain(buckets));
      expect(openBolt(file).check()).toEqual([]);
    }
  });

  it('sorts entries and buckets by key bytewise, whatever order they come in', () => {
    const entries: BoltEntry[] = [
      [b('b'), b('2')],
      [Buffer.from([0xff]), b('4')],
      [b('a'), b('1')],
      [b('ab'), b('3')],
    ];
    const file = writeBolt([
      { name: 'z', entries: [] },
      { name: 'a', entries },
    ]);
    const read = readBolt(file);
    expect(read.map((x) => x.name.toString())).toEqual(['a', 'z']);
    expect(read[0].entries.map(([k]) => hex(k))).toEqual(['61', '6162', '62', 'ff']);
    // The caller's array is left alone.
    expect(entries.map(([k]) => hex(k))).toEqual(['62', 'ff', '61', '6162']);
  });

  it('accepts plain Uint8Arrays, from another realm too', () => {
    const foreign = vm.runInNewContext('[new Uint8Array([1, 2]), new Uint8Array([3])]') as Uint8Array[];
    expect(foreign[0] instanceof Uint8Array).toBe(false);
    const file = writeBolt([{ name: new Uint8Array([0x6e]), entries: [[foreign[0], foreign[1]], [new Uint8Array([0]), new Uint8Array(0)]] }]);
    expect(plain(readBolt(file))).toEqual([{ name: '6e', entries: [['00', ''], ['0102', '03']], buckets: [], sequence: '0' }]);
  });

  it('binary keys and values: every byte value, 1 byte to the largest key bbolt allows', () => {
    const rnd = seededRandom(7);
    const entries: BoltEntry[] = [];
    for (let i = 0; i < 256; i++) entries.push([Buffer.from([i]), Buffer.from([255 - i, 0, i])]);
    entries.push([Buffer.from([0, 0, 0]), Buffer.alloc(0)]);
    entries.push([Buffer.alloc(32768, 0xfe), Buffer.alloc(10, 1)]);
    for (let i = 0; i < 500; i++) {
      const k = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
      if (entries.some(([x]) => Buffer.compare(x, k) === 0)) continue;
      entries.push([k, Buffer.from(Array.from({ length: Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)))]);
    }
    const buckets = [{ name: Buffer.from([0x00, 0xff, 0x10]), entries }];
    const file = writeBolt(buckets);
    expect(plain(readBolt(file))).toEqual(plain(buckets));
    expect(openBolt(file).check()).toEqual([]);
  });

  it('100k keys with 256-byte values: fast, fully packed leaves, branch pages, lookups', () => {
    const N = 100_000;
    const value = Buffer.alloc(256, 0xab);
    const entries: BoltEntry[] = new Array(N);
    for (let i = 0; i < N; i++) entries[i] = [revKey(i + 1), value];
    const start = performance.now();
    const file = writeBolt([{ name: 'key', entries }]);
    const elapsed = performance.now() - start;
    // Well under a second on a developer machine; a loose bound here so a
    // loaded CI box does not flake, while a 10x regression still fails.
    expect(elapsed).toBeLessThan(3000);

    // Each element is 16 + 17 + 256 = 289 bytes: 14 fit in a 4 KiB page.
    const pages = pageHeaders(file);
    const leaves = pages.filter((p) => p.flags === 0x02);
    const branches = pages.filter((p) => p.flags === 0x01);
    // ceil(N / 14) leaves for the bucket (the last one holds 12), plus the root bucket's leaf.
    expect(leaves.length).toBe(Math.ceil(N / 14) + 1);
    expect(leaves.filter((p) => p.count === 14 && p.overflow === 0).length).toBe(Math.floor(N / 14));
    expect(branches.length).toBeGreaterThan(1); // two levels of branches above 7143 leaves
    expect(pages.every((p, i) => i === 0 || p.id > pages[i - 1].id)).toBe(true);

    const read = readBolt(file);
    expect(read).toHaveLength(1);
    expect(read[0].entries).toHaveLength(N);
    for (let i = 0; i < N; i += 997) {
      expect(read[0].entries[i][0].equals(entries[i][0])).toBe(true);
      expect(read[0].entries[i][1].equals(value)).toBe(true);
    }
    const db = openBolt(file);
    const bucket = db.bucket('key')!;
    for (const i of [1, 2, 13, 14, 15, 5000, 99_999, 100_000]) expect(bucket.get(revKey(i))?.equals(value)).toBe(true);
    expect(bucket.get(revKey(0))).toBeUndefined();
    expect(bucket.get(revKey(100_001))).toBeUndefined();
    expect(db.check()).toEqual([]);
  });

  it('large values: overflow pages past 4 KiB and past 1 MiB', () => {
    const rnd = seededRandom(11);
    const big = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
    const buckets: BoltBucket[] = [
      {
        name: 'big',
        entries: [
          [b('a'), b('small')],
          [b('b'), big(5000)],
          [b('c'), big(1_200_000)],
          [b('d'), b('small too')],
          [b('e'), big(4081)],
        ],
      },
    ];
    const file = writeBolt(buckets);
    const pages = pageHeaders(file);
    const overflows = pages.filter((p) => p.overflow > 0).map((p) => p.overflow);
    // 'a' and the 5000-byte 'b' share a page and one overflow page; the 1.2 MB 'c' needs ~293 pages.
    expect(overflows).toContain(1);
    expect(Math.max(...overflows)).toBeGreaterThanOrEqual(Math.floor(1_200_000 / 4096));
    expect(plain(readBolt(file))).toEqual(plain(buckets));
    const db = openBolt(file);
    expect(db.bucket('big')!.get('c')!.equals(buckets[0].entries[2][1])).toBe(true);
    expect(db.check()).toEqual([]);
  });

  it('huge keys: pages of huge elements overflow with at least two keys each, and the tree still converges', () => {
    const entries: BoltEntry[] = [];
    for (let i = 0; i < 60; i++) {
      entries.push([Buffer.concat([Buffer.from([i]), Buffer.alloc(i % 3 === 0 ? 32767 : 3, i)]), b(`v${i}`)]);
    }
    const file = writeBolt([{ name: 'huge', entries }]);
    const pages = pageHeaders(file);
    expect(pages.filter((p) => p.flags === 0x01).length).toBeGreaterThan(0);
    // Every page of the bucket (all but the root bucket's leaf) has two keys or more.
    expect(pages.filter((p) => p.flags & 0x03 && p.id !== pages[pages.length - 1].id).every((p) => p.count >= 2)).toBe(true);
    const read = readBolt(file);
    expect(read[0].entries.map(([k]) => hex(k))).toEqual(entries.map(([k]) => hex(k)));
    expect(openBolt(file).bucket('huge')!.get(entries[30][0])!.toString()).toBe('v30');
    expect(openBolt(file).check()).toEqual([]);
  });

  it('nested buckets, inline and not, with sequences', () => {
    const many: BoltEntry[] = Array.from({ length: 500 }, (_, i) => [b(`n${String(i).padStart(4, '0')}`), b(`value ${i}`)]);
    const buckets: BoltBucket[] = [
      {
        name: 'parent',
        sequence: 42n,
        entries: [[b('plain'), b('v')]],
        buckets: [
          { name: 'inline-child', entries: [[b('x'), b('y')]], sequence: 0xffffffffffffffffn },
          { name: 'empty-child', entries: [] },
          { name: 'big-child', entries: many, buckets: [{ name: 'grandchild', entries: [[b('g'), b('h')]] }] },
        ],
      },
    ];
    const file = writeBolt(buckets);
    expect(plain(readBolt(file))).toEqual(plain(buckets));
    const db = openBolt(file);
    const parent = db.bucket('parent')!;
    expect(parent.inline).toBe(false); // it has nested buckets
    expect(parent.sequence).toBe(42n);
    expect(parent.bucket('inline-child')!.inline).toBe(true);
    expect(parent.bucket('inline-child')!.sequence).toBe(0xffffffffffffffffn);
    expect(parent.bucket('empty-child')!.inline).toBe(true);
    expect(parent.bucket('big-child')!.inline).toBe(false);
    expect(parent.bucket('big-child')!.bucket('grandchild')!.get('g')!.toString()).toBe('h');
    expect(parent.get('inline-child')).toBeUndefined(); // a bucket is not a value
    expect(parent.bucket('plain')).toBeUndefined();
    expect(parent.bucketNames().map(String)).toEqual(['big-child', 'empty-child', 'inline-child']);
    expect(db.check()).toEqual([]);
  });

  it('a bucket is inline up to a quarter page, as bbolt decides', () => {
    // page header 16 + element 16 + key 1 + value v <= 1024  <=>  v <= 991
    const at = (v: number) => openBolt(writeBolt([{ name: 't', entries: [[b('k'), Buffer.alloc(v)]] }])).bucket('t')!.inline;
    expect(at(991)).toBe(true);
    expect(at(992)).toBe(false);
  });

  it('other page sizes and fill percents', () => {
    const entries: BoltEntry[] = Array.from({ length: 3000 }, (_, i) => [revKey(i), Buffer.alloc(i % 700, i & 0xff)]);
    for (const pageSize of [512, 1024, 16384, 65536]) {
      for (const fillPercent of [0.5, 1]) {
        const file = writeBolt([{ name: 'k', entries }, { name: 's', entries: [[b('a'), b('b')]] }], { pageSize, fillPercent });
        expect(file.length % pageSize).toBe(0);
        const db = openBolt(file);
        expect(db.pageSize).toBe(pageSize);
        expect(db.check()).toEqual([]);
        const read = readBolt(file);
        expect(read[0].entries.length).toBe(3000);
        expect(read[0].entries.every(([k, v], i) => k.equals(entries[i][0]) && v.equals(entries[i][1]))).toBe(true);
      }
    }
    const full = writeBolt([{ name: 'k', entries }]).length;
    const half = writeBolt([{ name: 'k', entries }], { fillPercent: 0.5 }).length;
    expect(half).toBeGreaterThan(full * 1.5);
  });
});

describe('freelists (as bbolt writes them when pages get freed)', () => {
  /** A written file grown by three pages past its high-water mark, both metas updated. */
  function withSpare(): { file: Buffer; spare: number[] } {
    const base = writeBolt([{ name: 'a', entries: [[b('k'), b('v')]] }]);
    const hw = Number(base.readBigUInt64LE(16 + 40));
    const file = Buffer.concat([base, Buffer.alloc(3 * 4096)]);
    for (const page of [0, 1]) {
      const m = page * 4096 + 16;
      file.writeBigUInt64LE(BigInt(hw + 3), m + 40);
      file.writeBigUInt64LE(fnv1a64(file, m, m + 56), m + 56);
    }
    return { file, spare: [hw, hw + 1, hw + 2] };
  }

  it('pages neither reachable nor free are reported, as bbolt\'s Tx.Check does', () => {
    const { file, spare } = withSpare();
    expect(openBolt(file).check()).toEqual(spare.map((id) => `page ${id}: unreachable and not free`));
  });

  it('a freelist page listing them (count in the header)', () => {
    const { file, spare } = withSpare();
    file.writeUInt16LE(3, 2 * 4096 + 10);
    [spare[2], spare[0], spare[1]].forEach((id, i) => file.writeBigUInt64LE(BigInt(id), 2 * 4096 + 16 + 8 * i));
    const db = openBolt(file);
    expect(db.freePages()).toEqual(spare);
    expect(db.check()).toEqual([]);
  });

  it('a freelist page with the count in its first element (0xFFFF in the header)', () => {
    const { file, spare } = withSpare();
    file.writeUInt16LE(0xffff, 2 * 4096 + 10);
    file.writeBigUInt64LE(3n, 2 * 4096 + 16);
    spare.forEach((id, i) => file.writeBigUInt64LE(BigInt(id), 2 * 4096 + 24 + 8 * i));
    expect(openBolt(file).freePages()).toEqual(spare);
    expect(openBolt(file).check()).toEqual([]);
  });

  it('a page both free and in use, a page freed twice, a free id out of range', () => {
    const { file, spare } = withSpare();
    file.writeUInt16LE(4, 2 * 4096 + 10);
    [3, spare[0], spare[0], spare[1]].forEach((id, i) => file.writeBigUInt64LE(BigInt(id), 2 * 4096 + 16 + 8 * i));
    const problems = openBolt(file).check();
    expect(problems).toContain(`page ${spare[0]}: freed twice`);
    expect(problems.some((p) => /^page 3: reachable from bucket .* but free$/.test(p))).toBe(true);
    expect(problems).toContain(`page ${spare[2]}: unreachable and not free`);
    file.writeBigUInt64LE(999n, 2 * 4096 + 16);
    expect(() => openBolt(file).freePages()).toThrow(/page 2: free page id 999 is outside/);
    file.writeUInt16LE(600, 2 * 4096 + 10);
    expect(() => openBolt(file).freePages()).toThrow(/page 2: freelist of 600 ids does not fit in 4096 bytes/);
  });
});

describe('writeBolt rejects what bbolt would not store', () => {
  it.each([
    ['a duplicate key', [{ name: 'a', entries: [[b('k'), b('1')], [b('k'), b('2')]] }], /duplicate key "k"/],
    ['a duplicate key, unsorted', [{ name: 'a', entries: [[b('k'), b('1')], [b('a'), b('1')], [b('k'), b('2')]] }], /duplicate key "k"/],
    ['a key that is also a bucket', [{ name: 'a', entries: [[b('x'), b('1')]], buckets: [{ name: 'x', entries: [] }] }], /duplicate key "x"/],
    ['two top-level buckets of one name', [{ name: 'a', entries: [] }, { name: 'a', entries: [] }], /duplicate key "a"/],
    ['an empty key', [{ name: 'a', entries: [[Buffer.alloc(0), b('1')]] }], /empty key/],
    ['a key over 32768 bytes', [{ name: 'a', entries: [[Buffer.alloc(32769, 1), b('1')]] }], /longer than 32768/],
    ['an empty bucket name', [{ name: '', entries: [] }], /bucket name is empty/],
    ['an entry that is not a pair of bytes', [{ name: 'a', entries: [['k', 'v']] }], /not a \[Uint8Array, Uint8Array\] pair/],
    ['a bucket name that is neither string nor bytes', [{ name: 42, entries: [] }], /name must be a string or a Uint8Array/],
  ])('%s', (_, buckets, message) => {
    expect(() => writeBolt(buckets as unknown as BoltBucket[])).toThrow(BoltWriteError);
    expect(() => writeBolt(buckets as unknown as BoltBucket[])).toThrow(message);
  });

  it('bad options and a bucket that contains itself', () => {
    expect(() => writeBolt([], { pageSize: 1000 })).toThrow(/page size 1000/);
    expect(() => writeBolt([], { fillPercent: 0.05 })).toThrow(/fill percent/);
    expect(() => writeBolt([], { txid: 0 })).toThrow(/txid/);
    const loop: BoltBucket = { name: 'loop', entries: [], buckets: [] };
    loop.buckets!.push(loop);
    expect(() => writeBolt([loop])).toThrow(/contains itself/);
  });
});

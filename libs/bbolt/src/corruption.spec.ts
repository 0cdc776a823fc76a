import { seededRandom, testSeed, withSeed } from '@kubets/testkit';
import { BoltCorruptionError } from './errors';
import { fnv1a64 } from './format';
import { openBolt, readBolt } from './reader';
import type { BoltBucket, BoltEntry } from './types';
import { writeBolt } from './writer';

const PS = 4096;
const b = (s: string) => Buffer.from(s);

function key(i: number): Buffer {
  const k = Buffer.alloc(8);
  k.writeBigUInt64BE(BigInt(i));
  return k;
}

/**
 * 'data': 2000 keys of 100-byte values (about 61 leaves under one branch
 * page), 'small': an inline bucket. The writer lays out children first, so
 * page 3 is data's first leaf, hw-2 its branch root, hw-1 the root bucket's leaf.
 */
const buckets: BoltBucket[] = [
  { name: 'data', entries: Array.from({ length: 2000 }, (_, i): BoltEntry => [key(i), Buffer.alloc(100, i & 0xff)]) },
  { name: 'small', entries: [[b('a'), b('1')], [b('b'), b('2')]] },
];
const original = writeBolt(buckets);
const hw = Number(original.readBigUInt64LE(16 + 40));
const FIRST_LEAF = 3;
const BRANCH = hw - 2;
const ROOT_LEAF = hw - 1;

function copy(): Buffer {
  return Buffer.from(original);
}

/** Rewrite a meta page's checksum after editing its fields. */
function reseal(file: Buffer, page: 0 | 1, pageSize = PS): void {
  const m = page * pageSize + 16;
  file.writeBigUInt64LE(fnv1a64(file, m, m + 56), m + 56);
}

/** A string form of a whole database's contents, quick to compare. */
function contents(file: Buffer): string {
  const show = (bs: BoltBucket[]): string =>
    bs
      .map((bk) => `${Buffer.from(bk.name as Uint8Array).toString('hex')}{${bk.entries.map(([k, v]) => `${Buffer.from(k).toString('hex')}=${Buffer.from(v).toString('hex')}`).join(',')}|${show(bk.buckets ?? [])}}`)
      .join(';');
  return show(readBolt(file));
}

function expectCorrupt(file: Buffer, message: RegExp, read: (f: Buffer) => unknown = readBolt): void {
  let error: unknown;
  try {
    read(file);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(BoltCorruptionError);
  expect((error as Error).message).toMatch(message);
}

describe('the layout these tests rely on', () => {
  it('has data leaves from page 3, a branch root, and the root bucket leaf last', () => {
    expect(original.readUInt16LE(FIRST_LEAF * PS + 8)).toBe(0x02);
    expect(original.readUInt16LE(BRANCH * PS + 8)).toBe(0x01);
    expect(original.readUInt16LE(ROOT_LEAF * PS + 8)).toBe(0x02);
    expect(openBolt(original).meta.root).toBe(ROOT_LEAF);
  });
});

describe('meta pages', () => {
  it('a damaged meta page 0 falls back to meta page 1', () => {
    const file = copy();
    file[16 + 20] ^= 0xff; // root page id, under the checksum
    const db = openBolt(file);
    expect(db.meta.page).toBe(1);
    expect(db.metaWarnings.join()).toMatch(/meta page 0: checksum .* does not match/);
    expect(contents(file)).toBe(contents(original));
  });

  it('a damaged meta page 1 (the newer) falls back to meta page 0', () => {
    const file = copy();
    file[PS + 16 + 50] ^= 0x01; // txid
    const db = openBolt(file);
    expect(db.meta.page).toBe(0);
    expect(db.meta.txid).toBe(0n);
    expect(contents(file)).toBe(contents(original));
  });

  it('with meta page 0 damaged, meta page 1 is found at a 16 KiB page size too', () => {
    const file = writeBolt(buckets, { pageSize: 16384 });
    file.writeUInt32LE(0, 16); // magic
    const db = openBolt(file);
    expect(db.pageSize).toBe(16384);
    expect(db.meta.page).toBe(1);
    expect(contents(file)).toBe(contents(original));
  });

  it('the valid meta with the higher txid wins', () => {
    const file = copy();
    file.writeBigUInt64LE(9n, 16 + 48);
    reseal(file, 0);
    expect(openBolt(file).meta).toMatchObject({ page: 0, txid: 9n });
  });

  it('both meta pages bad: a clear error naming both problems', () => {
    const file = copy();
    file.writeUInt32LE(0xdeadbeef, 16);
    file.writeUInt32LE(3, PS + 16 + 4);
    reseal(file, 1);
    expectCorrupt(file, /no valid meta page: meta page 0: bad magic 0xdeadbeef .*; meta page 1: unsupported version 3/, openBolt);
  });

  it('a checksummed meta page with impossible fields is not used', () => {
    const file = copy();
    file.writeBigUInt64LE(BigInt(hw + 5), PS + 16 + 16); // root above the high-water mark
    reseal(file, 1);
    const db = openBolt(file);
    expect(db.meta.page).toBe(0);
    expect(db.metaWarnings.join()).toMatch(/meta page 1: root page \d+ is outside/);
  });

  it('not a bbolt file at all', () => {
    expectCorrupt(Buffer.alloc(8192, 0x41), /no valid meta page: meta page 0: bad magic 0x41414141/, openBolt);
    expectCorrupt(Buffer.alloc(10), /too short to hold a meta page/, openBolt);
  });
});

describe('truncated files', () => {
  it.each([
    ['the last page missing', original.length - PS],
    ['half a page missing', original.length - PS / 2],
    ['only the meta pages', 2 * PS],
  ])('%s', (_, length) => {
    expectCorrupt(original.subarray(0, length), /file is truncated: meta page 1 \(txid 1\) uses \d+ pages of 4096 bytes/, openBolt);
  });

  it('only meta page 0, cut inside meta page 1', () => {
    expectCorrupt(original.subarray(0, PS + 40), /file is truncated/, openBolt);
  });
});

describe('bad pages', () => {
  const branchElement = (i: number) => BRANCH * PS + 16 + i * 16;
  const leafElement = (page: number, i: number) => page * PS + 16 + i * 16;

  it('a branch element pointing past the high-water mark', () => {
    const file = copy();
    file.writeBigUInt64LE(999_999n, branchElement(3) + 8);
    expectCorrupt(file, new RegExp(`page 999999: branch page ${BRANCH} refers to page 999999, outside the data pages \\[2, ${hw}\\)`));
  });

  it('a branch element pointing at a meta page', () => {
    const file = copy();
    file.writeBigUInt64LE(1n, branchElement(0) + 8);
    expectCorrupt(file, /refers to page 1, outside the data pages/);
  });

  it('a branch element pointing at the freelist page', () => {
    const file = copy();
    file.writeBigUInt64LE(2n, branchElement(0) + 8);
    expectCorrupt(file, new RegExp(`page 2: is a freelist page, branch page ${BRANCH} expects a branch or leaf page`));
  });

  it('a branch element with an absurd page id', () => {
    const file = copy();
    file.writeBigUInt64LE(0xffffffffffffff00n, branchElement(0) + 8);
    expectCorrupt(file, /branch element 0 child page id 0xffffffffffffff00 is out of range/);
  });

  it('a page whose header names another page', () => {
    const file = copy();
    file.writeBigUInt64LE(77n, (FIRST_LEAF + 1) * PS);
    expectCorrupt(file, new RegExp(`page ${FIRST_LEAF + 1}: header says page id 77`));
  });

  it('a page of unknown type', () => {
    const file = copy();
    file.writeUInt16LE(0x40, (FIRST_LEAF + 2) * PS + 8);
    expectCorrupt(file, new RegExp(`page ${FIRST_LEAF + 2}: is a unknown<0x40> page`));
  });

  it('overflow pages past the high-water mark', () => {
    const file = copy();
    file.writeUInt32LE(hw, FIRST_LEAF * PS + 12);
    expectCorrupt(file, /page 3: \d+ overflow pages run past the high-water mark/);
  });

  it('more element headers than the page holds', () => {
    const file = copy();
    file.writeUInt16LE(0xffff, FIRST_LEAF * PS + 10);
    expectCorrupt(file, /page 3: 65535 element headers do not fit in 4096 bytes/);
  });

  it('a leaf element whose key lies past the end of its page', () => {
    const file = copy();
    file.writeUInt32LE(0x00ffffff, leafElement(FIRST_LEAF, 5) + 4);
    expectCorrupt(file, /page 3: leaf element 5 \(pos 16777215, key 8 bytes, value 100 bytes\) lies outside its page's data/);
  });

  it('a leaf element whose value runs past the end of its page', () => {
    const file = copy();
    file.writeUInt32LE(0xfffffff0, leafElement(FIRST_LEAF, 0) + 12);
    expectCorrupt(file, /page 3: leaf element 0 .* lies outside its page's data/);
  });

  it('a leaf element pointing back into the element headers', () => {
    const file = copy();
    file.writeUInt32LE(0, leafElement(FIRST_LEAF, 2) + 4);
    expectCorrupt(file, /page 3: leaf element 2 \(pos 0,.* lies outside/);
  });

  it('a branch element whose key lies outside its page', () => {
    const file = copy();
    file.writeUInt32LE(PS * 2, branchElement(1));
    expectCorrupt(file, new RegExp(`page ${BRANCH}: branch element 1 .* lies outside its page's data`));
  });

  it('keys out of order', () => {
    const file = copy();
    // The first key of page 3 (key 0) becomes larger than the second.
    const pos = file.readUInt32LE(leafElement(FIRST_LEAF, 0) + 4);
    file.writeBigUInt64BE(0xffffn, leafElement(FIRST_LEAF, 0) + pos);
    expectCorrupt(file, /page 3: key 0x0000000000000001 at element 1 is not after the previous key 0x000000000000ffff in bucket \/"data"/);
  });

  it('an empty key', () => {
    const file = copy();
    file.writeUInt32LE(0, leafElement(FIRST_LEAF, 4) + 8);
    expectCorrupt(file, /page 3: leaf element 4 has an empty key/);
  });

  it('a branch page that refers to itself: an error, not an endless loop, for walks and lookups', () => {
    const file = copy();
    file.writeBigUInt64LE(BigInt(BRANCH), branchElement(0) + 8);
    expectCorrupt(file, new RegExp(`page ${BRANCH}: referenced twice in bucket /"data"`));
    expectCorrupt(file, /tree deeper than 64 levels \(a cycle\?\)/, (f) => openBolt(f).bucket('data')!.get(key(0)));
  });

  it('two branch elements sharing a child', () => {
    const file = copy();
    file.writeBigUInt64LE(file.readBigUInt64LE(branchElement(0) + 8), branchElement(1) + 8);
    expectCorrupt(file, /page 3: referenced twice in bucket \/"data" \(second time from branch page/);
  });

  it('an inline bucket whose page is not a leaf', () => {
    const file = copy();
    // The root bucket's leaf: element 1 is 'small', an inline bucket value of 16 + a page.
    const el = leafElement(ROOT_LEAF, 1);
    const valueAt = el + file.readUInt32LE(el + 4) + file.readUInt32LE(el + 8);
    file.writeUInt16LE(0x01, valueAt + 16 + 8);
    expectCorrupt(file, /inline bucket \/"small": page is a branch page, not a leaf/);
  });

  it('an inline bucket claiming more elements than it holds', () => {
    const file = copy();
    const el = leafElement(ROOT_LEAF, 1);
    const valueAt = el + file.readUInt32LE(el + 4) + file.readUInt32LE(el + 8);
    file.writeUInt16LE(40, valueAt + 16 + 10);
    expectCorrupt(file, /inline bucket \/"small": 40 element headers do not fit/);
  });

  it('a bucket value too short for a bucket header', () => {
    const file = copy();
    file.writeUInt32LE(4, leafElement(ROOT_LEAF, 0) + 12);
    expectCorrupt(file, /bucket \/"data": header is 4 bytes, needs 16/);
  });

  it('a plain value among the top-level buckets', () => {
    const file = copy();
    file.writeUInt32LE(0, leafElement(ROOT_LEAF, 0));
    expectCorrupt(file, /the root bucket holds a plain value under key "data"/);
  });
});

describe('random damage never escapes as anything but BoltCorruptionError', () => {
  const small = writeBolt([
    { name: 'a', entries: Array.from({ length: 300 }, (_, i): BoltEntry => [key(i), Buffer.alloc(i % 50, i)]) },
    { name: 'b', entries: [[b('x'), Buffer.alloc(6000, 1)]], buckets: [{ name: 'c', entries: [[b('y'), b('z')]] }] },
  ]);

  function attempt(file: Buffer): 'ok' | 'corrupt' {
    try {
      readBolt(file);
      const db = openBolt(file);
      db.check();
      db.bucket('a')?.get(key(150));
      db.bucket('b')?.bucket('c')?.get('y');
      return 'ok';
    } catch (err) {
      if (err instanceof BoltCorruptionError) return 'corrupt';
      throw new Error(`not a BoltCorruptionError: ${(err as Error).stack}`);
    }
  }

  it('flipped bytes', () =>
    withSeed((seed) => {
      const rnd = seededRandom(seed);
      const seen = { ok: 0, corrupt: 0 };
      for (let round = 0; round < 400; round++) {
        const file = Buffer.from(small);
        const flips = 1 + Math.floor(rnd() * 8);
        for (let f = 0; f < flips; f++) {
          // Mostly page headers and element headers, where damage matters.
          const page = 2 + Math.floor(rnd() * (small.length / PS - 2));
          const off = page * PS + Math.floor(rnd() < 0.7 ? rnd() * 160 : rnd() * PS);
          file[off] ^= 1 << Math.floor(rnd() * 8);
        }
        seen[attempt(file)]++;
      }
      expect(seen.corrupt).toBeGreaterThan(50);
    }, testSeed()));

  it('truncations', () => {
    for (let length = 0; length < small.length; length += 509) {
      expect(attempt(small.subarray(0, length))).toBe('corrupt');
    }
  });
});

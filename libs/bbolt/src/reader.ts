import { BoltCorruptionError } from './errors';
import {
  asBuffer,
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  describeKey,
  fnv1a64,
  FREELIST_COUNT_OVERFLOW,
  FREELIST_PAGE_FLAG,
  isValidPageSize,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  MAGIC,
  MAX_PAGE_SIZE,
  META_CHECKSUM_OFFSET,
  META_SIZE,
  MIN_PAGE_SIZE,
  nameBytes,
  NO_FREELIST,
  PAGE_HEADER_SIZE,
  pageTypeName,
  VERSION,
} from './format';
import type { BoltMeta, ReadBucket } from './types';

/** B+trees deeper than this are taken as a cycle in a corrupted file. */
const MAX_TREE_DEPTH = 64;
/** Buckets nested deeper than this are refused (bbolt has no limit, but no real file comes close). */
const MAX_BUCKET_DEPTH = 256;
const TWO_32 = 2 ** 32;

/** A page's bounds once checked: the bytes [start, end) hold it. */
interface PageRef {
  /** Page id, or -1 for the page inside an inline bucket's value. */
  id: number;
  /** Where the page is described in errors. */
  where: string;
  start: number;
  end: number;
  flags: number;
  count: number;
}

/** Where a bucket's tree lives: a root page id, or an inline page. */
type BucketRoot = { kind: 'page'; pgid: number } | { kind: 'inline'; page: PageRef };

/** A sub-bucket or a plain value, as found in a leaf element. */
export type BoltValue = { bucket: false; value: Buffer } | { bucket: true; value: Buffer };

/**
 * A bbolt database file opened for reading. Nothing is copied: keys and
 * values are views into the buffer given to `openBolt`, so keep it unchanged
 * while using what it returns.
 *
 * Every page is checked when it is read: its id is below the high-water mark
 * and matches its header, its type is the one expected, its elements and
 * their keys and values lie inside it. A bad file throws BoltCorruptionError
 * naming the page and the problem.
 */
export class BoltDB {
  readonly buf: Buffer;
  readonly meta: BoltMeta;
  /** Problems of the meta page that was not chosen (empty when both were valid). */
  readonly metaWarnings: string[];
  private readonly dv: DataView;

  constructor(buf: Uint8Array) {
    this.buf = asBuffer(buf);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const chosen = chooseMeta(this.buf, this.dv);
    this.meta = chosen.meta;
    this.metaWarnings = chosen.warnings;
  }

  get pageSize(): number {
    return this.meta.pageSize;
  }

  /** Bytes in use: high-water mark × page size (what bbolt's Tx.Size reports). */
  get size(): number {
    return this.meta.highWater * this.meta.pageSize;
  }

  /** The root bucket, whose entries are the top-level buckets. */
  root(): BoltBucketReader {
    return new BoltBucketReader(this, { kind: 'page', pgid: this.meta.root }, this.meta.sequence, '(root)', 0);
  }

  /** A top-level bucket, or undefined when there is none by that name. */
  bucket(name: Uint8Array | string): BoltBucketReader | undefined {
    return this.root().bucket(name);
  }

  /** Names of the top-level buckets, in key order. */
  bucketNames(): Buffer[] {
    const names: Buffer[] = [];
    this.root().forEach((key, value) => {
      if (value.bucket) names.push(key);
    });
    return names;
  }

  /**
   * The free page ids stored in the freelist page, sorted; undefined when the
   * file stores no freelist (bbolt's NoFreelistSync).
   */
  freePages(): number[] | undefined {
    if (this.meta.freelist === undefined) return undefined;
    const p = this.page(this.meta.freelist, FREELIST_PAGE_FLAG, 'freelist');
    let count = p.count;
    let first = p.start + PAGE_HEADER_SIZE;
    if (count === FREELIST_COUNT_OVERFLOW) {
      if (first + 8 > p.end) throw new BoltCorruptionError('freelist count overflows its page', p.id);
      const c = this.u64(first, p.id, 'freelist count');
      count = c;
      first += 8;
    }
    if (first + count * 8 > p.end) {
      throw new BoltCorruptionError(`freelist of ${count} ids does not fit in ${p.end - p.start} bytes`, p.id);
    }
    const ids: number[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const id = this.u64(first + i * 8, p.id, 'free page id');
      if (id < 2 || id >= this.meta.highWater) {
        throw new BoltCorruptionError(`free page id ${id} is outside [2, ${this.meta.highWater})`, p.id);
      }
      ids[i] = id;
    }
    return ids.sort((a, b) => a - b);
  }

  /**
   * What bbolt's Tx.Check verifies (and `etcdctl snapshot status` runs first):
   * every page below the high-water mark is reachable exactly once or free,
   * and no page is both. Also walks every bucket, checking key order. Returns
   * the problems found; throws only when the file cannot be walked at all.
   */
  check(): string[] {
    const problems: string[] = [];
    const owner = new Map<number, string>();
    const mark = (id: number, span: number, what: string) => {
      for (let i = 0; i < span; i++) {
        const prev = owner.get(id + i);
        if (prev !== undefined) problems.push(`page ${id + i}: referenced by ${prev} and by ${what}`);
        else owner.set(id + i, what);
      }
    };
    mark(0, 1, 'meta 0');
    mark(1, 1, 'meta 1');
    const free = this.freePages();
    const freeSet = new Set<number>();
    for (const id of free ?? []) {
      if (freeSet.has(id)) problems.push(`page ${id}: freed twice`);
      freeSet.add(id);
    }
    if (this.meta.freelist !== undefined) {
      const p = this.page(this.meta.freelist, FREELIST_PAGE_FLAG, 'freelist');
      mark(this.meta.freelist, (p.end - p.start) / this.pageSize, 'the freelist');
    }
    const walk = (bucket: BoltBucketReader) => {
      bucket.forEachPage((id, span) => {
        if (freeSet.has(id)) problems.push(`page ${id}: reachable from bucket ${bucket.path} but free`);
        mark(id, span, `bucket ${bucket.path}`);
      });
      bucket.forEach((key, value) => {
        if (value.bucket) walk(bucket.bucket(key)!);
      });
    };
    walk(this.root());
    if (free !== undefined) {
      for (let id = 0; id < this.meta.highWater; id++) {
        if (!owner.has(id) && !freeSet.has(id)) problems.push(`page ${id}: unreachable and not free`);
      }
    }
    return problems;
  }

  /** Read a u64 that must fit a JavaScript number. */
  u64(off: number, pageId: number | undefined, what: string): number {
    const lo = this.dv.getUint32(off, true);
    const hi = this.dv.getUint32(off + 4, true);
    if (hi >= 1 << 21) {
      throw new BoltCorruptionError(`${what} 0x${this.dv.getBigUint64(off, true).toString(16)} is out of range`, pageId);
    }
    return hi * TWO_32 + lo;
  }

  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }

  u64big(off: number): bigint {
    return this.dv.getBigUint64(off, true);
  }

  /**
   * Check and locate page `id`, which must carry `expectFlags` (any of them).
   * `what` says what referred to it, for errors.
   */
  page(id: number, expectFlags: number, what: string): PageRef {
    const { highWater, pageSize } = this.meta;
    if (!Number.isSafeInteger(id) || id < 2 || id >= highWater) {
      throw new BoltCorruptionError(`${what} refers to page ${id}, outside the data pages [2, ${highWater})`, id);
    }
    const start = id * pageSize;
    if (start + PAGE_HEADER_SIZE > this.buf.length) {
      throw new BoltCorruptionError(`page starts at byte ${start}, past the end of the ${this.buf.length}-byte file`, id);
    }
    const headerId = this.dv.getBigUint64(start, true);
    if (headerId !== BigInt(id)) {
      throw new BoltCorruptionError(`header says page id ${headerId} (${what} expected page ${id})`, id);
    }
    const flags = this.dv.getUint16(start + 8, true);
    const count = this.dv.getUint16(start + 10, true);
    const overflow = this.dv.getUint32(start + 12, true);
    if ((flags & expectFlags) === 0) {
      throw new BoltCorruptionError(`is a ${pageTypeName(flags)} page, ${what} expects ${describeFlags(expectFlags)}`, id);
    }
    if (id + overflow >= highWater) {
      throw new BoltCorruptionError(`${overflow} overflow pages run past the high-water mark ${highWater}`, id);
    }
    const end = start + (overflow + 1) * pageSize;
    if (end > this.buf.length) {
      throw new BoltCorruptionError(`page and its ${overflow} overflow pages end at byte ${end}, past the end of the ${this.buf.length}-byte file`, id);
    }
    const ref: PageRef = { id, where: `page ${id}`, start, end, flags, count };
    if (flags & (BRANCH_PAGE_FLAG | LEAF_PAGE_FLAG)) checkElementArea(ref);
    return ref;
  }
}

function describeFlags(flags: number): string {
  const names: string[] = [];
  if (flags & BRANCH_PAGE_FLAG) names.push('branch');
  if (flags & LEAF_PAGE_FLAG) names.push('leaf');
  if (flags & FREELIST_PAGE_FLAG) names.push('freelist');
  return `a ${names.join(' or ')} page`;
}

function checkElementArea(p: PageRef): void {
  const headers = p.start + PAGE_HEADER_SIZE + p.count * (p.flags & BRANCH_PAGE_FLAG ? BRANCH_ELEMENT_SIZE : LEAF_ELEMENT_SIZE);
  if (headers > p.end) {
    throw corrupt(p, `${p.count} element headers do not fit in ${p.end - p.start} bytes`);
  }
}

function corrupt(p: PageRef, message: string): BoltCorruptionError {
  return p.id >= 0 ? new BoltCorruptionError(message, p.id) : new BoltCorruptionError(`${p.where}: ${message}`);
}

/**
 * One bucket of an open file: look keys up, iterate in key order, open
 * nested buckets.
 */
export class BoltBucketReader {
  constructor(
    private readonly db: BoltDB,
    private readonly rootRef: BucketRoot,
    /** The bucket's NextSequence() counter. */
    readonly sequence: bigint,
    /** Path of bucket names, for errors. */
    readonly path: string,
    private readonly depth: number,
  ) {}

  /** True when the bucket is stored inline in its parent's leaf. */
  get inline(): boolean {
    return this.rootRef.kind === 'inline';
  }

  /** The value of `key`, or undefined when absent or when `key` names a nested bucket. */
  get(key: Uint8Array | string): Buffer | undefined {
    const found = this.lookup(nameBytes(key));
    return found && !found.bucket ? found.value : undefined;
  }

  /** The nested bucket `name`, or undefined. */
  bucket(name: Uint8Array | string): BoltBucketReader | undefined {
    const key = nameBytes(name);
    const found = this.lookup(key);
    if (!found || !found.bucket) return undefined;
    return this.openChild(key, found.value);
  }

  /**
   * Call fn for every element in key order: plain values with bucket false,
   * nested buckets with bucket true and their raw header as value. Checks that
   * keys strictly increase and that no page is visited twice.
   */
  forEach(fn: (key: Buffer, value: BoltValue) => void): void {
    let prev: Buffer | undefined;
    this.walkLeaves((page) => {
      const buf = this.db.buf;
      for (let i = 0; i < page.count; i++) {
        const el = leafElement(this.db, page, i);
        const key = buf.subarray(el.k, el.k + el.ksize);
        if (prev !== undefined && Buffer.compare(prev, key) >= 0) {
          throw corrupt(page, `key ${describeKey(key)} at element ${i} is not after the previous key ${describeKey(prev)} in bucket ${this.path}`);
        }
        prev = key;
        fn(key, { bucket: el.isBucket, value: buf.subarray(el.k + el.ksize, el.k + el.ksize + el.vsize) });
      }
    });
  }

  /** Plain entries (not nested buckets) in key order. */
  entries(): Array<[Buffer, Buffer]> {
    const out: Array<[Buffer, Buffer]> = [];
    this.forEach((key, value) => {
      if (!value.bucket) out.push([key, value.value]);
    });
    return out;
  }

  /** Names of nested buckets in key order. */
  bucketNames(): Buffer[] {
    const out: Buffer[] = [];
    this.forEach((key, value) => {
      if (value.bucket) out.push(key);
    });
    return out;
  }

  /** Every page of this bucket's tree (not nested buckets'), with how many pages it spans. Inline buckets have none. */
  forEachPage(fn: (id: number, span: number) => void): void {
    if (this.rootRef.kind === 'inline') return;
    const visited = new Set<number>();
    const visit = (pgid: number, depth: number, what: string) => {
      const page = this.readTreePage(pgid, depth, what, visited);
      fn(page.id, (page.end - page.start) / this.db.pageSize);
      if (page.flags & BRANCH_PAGE_FLAG) {
        for (let i = 0; i < page.count; i++) visit(branchElement(this.db, page, i).pgid, depth + 1, `branch page ${page.id}`);
      }
    };
    visit(this.rootRef.pgid, 0, `bucket ${this.path}`);
  }

  private readTreePage(pgid: number, depth: number, what: string, visited: Set<number> | undefined): PageRef {
    if (depth > MAX_TREE_DEPTH) {
      throw new BoltCorruptionError(`bucket ${this.path}: tree deeper than ${MAX_TREE_DEPTH} levels (a cycle?) at page ${pgid}`, pgid);
    }
    if (visited) {
      if (visited.has(pgid)) throw new BoltCorruptionError(`referenced twice in bucket ${this.path} (second time from ${what})`, pgid);
      visited.add(pgid);
    }
    const page = this.db.page(pgid, BRANCH_PAGE_FLAG | LEAF_PAGE_FLAG, what);
    if (page.flags & BRANCH_PAGE_FLAG && page.count === 0) throw new BoltCorruptionError('branch page has no elements', pgid);
    return page;
  }

  private walkLeaves(fn: (page: PageRef) => void): void {
    if (this.rootRef.kind === 'inline') {
      fn(this.rootRef.page);
      return;
    }
    const visited = new Set<number>();
    const visit = (pgid: number, depth: number, what: string) => {
      const page = this.readTreePage(pgid, depth, what, visited);
      if (page.flags & BRANCH_PAGE_FLAG) {
        for (let i = 0; i < page.count; i++) visit(branchElement(this.db, page, i).pgid, depth + 1, `branch page ${page.id}`);
      } else {
        fn(page);
      }
    };
    visit(this.rootRef.pgid, 0, `bucket ${this.path}`);
  }

  private lookup(key: Buffer): BoltValue | undefined {
    let page: PageRef;
    if (this.rootRef.kind === 'inline') {
      page = this.rootRef.page;
    } else {
      page = this.readTreePage(this.rootRef.pgid, 0, `bucket ${this.path}`, undefined);
      let depth = 0;
      while (page.flags & BRANCH_PAGE_FLAG) {
        // The last child whose first key is <= key (or the first child).
        let lo = 0;
        let hi = page.count - 1;
        let index = 0;
        while (lo <= hi) {
          const mid = (lo + hi) >>> 1;
          const el = branchElement(this.db, page, mid);
          if (Buffer.compare(this.db.buf.subarray(el.k, el.k + el.ksize), key) <= 0) {
            index = mid;
            lo = mid + 1;
          } else {
            hi = mid - 1;
          }
        }
        const child = branchElement(this.db, page, index).pgid;
        page = this.readTreePage(child, ++depth, `branch page ${page.id}`, undefined);
      }
    }
    let lo = 0;
    let hi = page.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const el = leafElement(this.db, page, mid);
      const c = Buffer.compare(this.db.buf.subarray(el.k, el.k + el.ksize), key);
      if (c === 0) {
        const value = this.db.buf.subarray(el.k + el.ksize, el.k + el.ksize + el.vsize);
        return { bucket: el.isBucket, value };
      }
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** Open the nested bucket whose leaf value (header, maybe inline page) is `value`. */
  openChild(name: Buffer, value: Buffer): BoltBucketReader {
    const path = `${this.path === '(root)' ? '' : this.path}/${describeKey(name)}`;
    if (this.depth + 1 > MAX_BUCKET_DEPTH) throw new BoltCorruptionError(`bucket ${path}: nested deeper than ${MAX_BUCKET_DEPTH} buckets`);
    if (value.length < BUCKET_HEADER_SIZE) {
      throw new BoltCorruptionError(`bucket ${path}: header is ${value.length} bytes, needs ${BUCKET_HEADER_SIZE}`);
    }
    const valueStart = value.byteOffset - this.db.buf.byteOffset;
    const rootLo = this.db.u32(valueStart);
    const rootHi = this.db.u32(valueStart + 4);
    const sequence = this.db.u64big(valueStart + 8);
    if (rootLo === 0 && rootHi === 0) {
      const start = valueStart + BUCKET_HEADER_SIZE;
      const end = valueStart + value.length;
      if (end - start < PAGE_HEADER_SIZE) {
        throw new BoltCorruptionError(`inline bucket ${path}: ${end - start} bytes cannot hold a page header`);
      }
      const flags = this.db.buf.readUInt16LE(start + 8);
      const count = this.db.buf.readUInt16LE(start + 10);
      const page: PageRef = { id: -1, where: `inline bucket ${path}`, start, end, flags, count };
      if ((flags & LEAF_PAGE_FLAG) === 0) {
        throw new BoltCorruptionError(`inline bucket ${path}: page is a ${pageTypeName(flags)} page, not a leaf`);
      }
      checkElementArea(page);
      return new BoltBucketReader(this.db, { kind: 'inline', page }, sequence, path, this.depth + 1);
    }
    const pgid = this.db.u64(valueStart, undefined, `bucket ${path} root page id`);
    return new BoltBucketReader(this.db, { kind: 'page', pgid }, sequence, path, this.depth + 1);
  }
}

interface LeafElement {
  isBucket: boolean;
  /** Absolute offset of the key; the value follows it. */
  k: number;
  ksize: number;
  vsize: number;
}

function leafElement(db: BoltDB, page: PageRef, i: number): LeafElement {
  const hdr = page.start + PAGE_HEADER_SIZE + i * LEAF_ELEMENT_SIZE;
  const flags = db.u32(hdr);
  const pos = db.u32(hdr + 4);
  const ksize = db.u32(hdr + 8);
  const vsize = db.u32(hdr + 12);
  const k = hdr + pos;
  const dataStart = page.start + PAGE_HEADER_SIZE + page.count * LEAF_ELEMENT_SIZE;
  if (k < dataStart || k + ksize + vsize > page.end) {
    throw corrupt(page, `leaf element ${i} (pos ${pos}, key ${ksize} bytes, value ${vsize} bytes) lies outside its page's data [${dataStart - page.start}, ${page.end - page.start})`);
  }
  if (ksize === 0) throw corrupt(page, `leaf element ${i} has an empty key`);
  return { isBucket: (flags & BUCKET_LEAF_FLAG) !== 0, k, ksize, vsize };
}

function branchElement(db: BoltDB, page: PageRef, i: number): { k: number; ksize: number; pgid: number } {
  const hdr = page.start + PAGE_HEADER_SIZE + i * BRANCH_ELEMENT_SIZE;
  const pos = db.u32(hdr);
  const ksize = db.u32(hdr + 4);
  const k = hdr + pos;
  const dataStart = page.start + PAGE_HEADER_SIZE + page.count * BRANCH_ELEMENT_SIZE;
  if (k < dataStart || k + ksize > page.end) {
    throw corrupt(page, `branch element ${i} (pos ${pos}, key ${ksize} bytes) lies outside its page's data [${dataStart - page.start}, ${page.end - page.start})`);
  }
  const pgid = db.u64(hdr + 8, page.id, `branch element ${i} child page id`);
  return { k, ksize, pgid };
}

interface MetaCandidate {
  meta?: BoltMeta;
  problem?: string;
}

function readMetaAt(buf: Buffer, dv: DataView, page: 0 | 1, off: number, expectPageSize: number | undefined): MetaCandidate {
  const m = off + PAGE_HEADER_SIZE;
  if (m + META_SIZE > buf.length) return { problem: `meta page ${page}: file too short (${buf.length} bytes)` };
  const magic = dv.getUint32(m, true);
  if (magic !== MAGIC) return { problem: `meta page ${page}: bad magic 0x${magic.toString(16)} (want 0x${MAGIC.toString(16)})` };
  const version = dv.getUint32(m + 4, true);
  if (version !== VERSION) return { problem: `meta page ${page}: unsupported version ${version} (want ${VERSION})` };
  const checksum = dv.getBigUint64(m + META_CHECKSUM_OFFSET, true);
  const sum = fnv1a64(buf, m, m + META_CHECKSUM_OFFSET);
  if (checksum !== sum) {
    return { problem: `meta page ${page}: checksum 0x${checksum.toString(16)} does not match its contents (0x${sum.toString(16)})` };
  }
  const pageSize = dv.getUint32(m + 8, true);
  if (!isValidPageSize(pageSize)) return { problem: `meta page ${page}: unsupported page size ${pageSize}` };
  if (expectPageSize !== undefined && pageSize !== expectPageSize) {
    return { problem: `meta page ${page}: page size ${pageSize} disagrees with its position (${expectPageSize})` };
  }
  const big = (o: number) => dv.getBigUint64(m + o, true);
  const root = big(16);
  const freelist = big(32);
  const highWater = big(40);
  if (highWater < 3n || highWater * BigInt(pageSize) > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { problem: `meta page ${page}: high-water mark ${highWater} is out of range` };
  }
  if (root < 2n || root >= highWater) return { problem: `meta page ${page}: root page ${root} is outside [2, ${highWater})` };
  if (freelist !== NO_FREELIST && (freelist < 2n || freelist >= highWater)) {
    return { problem: `meta page ${page}: freelist page ${freelist} is outside [2, ${highWater})` };
  }
  return {
    meta: {
      page,
      pageSize,
      flags: dv.getUint32(m + 12, true),
      root: Number(root),
      sequence: big(24),
      freelist: freelist === NO_FREELIST ? undefined : Number(freelist),
      highWater: Number(highWater),
      txid: big(48),
      checksum,
    },
  };
}

/**
 * Pick the meta page to use, as bbolt does: of the valid ones, the one with
 * the higher txid. The page size comes from meta page 0; when page 0 is bad,
 * meta page 1 is looked for at every supported page size.
 */
function chooseMeta(buf: Buffer, dv: DataView): { meta: BoltMeta; warnings: string[] } {
  if (buf.length < PAGE_HEADER_SIZE + META_SIZE) {
    throw new BoltCorruptionError(`file is ${buf.length} bytes, too short to hold a meta page`);
  }
  const m0 = readMetaAt(buf, dv, 0, 0, undefined);
  let m1: MetaCandidate;
  if (m0.meta) {
    m1 = readMetaAt(buf, dv, 1, m0.meta.pageSize, m0.meta.pageSize);
  } else {
    m1 = { problem: 'meta page 1: not found at any page size' };
    for (let ps = MIN_PAGE_SIZE; ps <= MAX_PAGE_SIZE; ps *= 2) {
      const c = readMetaAt(buf, dv, 1, ps, ps);
      if (c.meta) {
        m1 = c;
        break;
      }
      if (ps === 4096) m1 = c; // report the problem at the usual page size
    }
  }
  const valid = [m0.meta, m1.meta].filter((m): m is BoltMeta => m !== undefined);
  const problems = [m0.problem, m1.problem].filter((p): p is string => p !== undefined);
  if (valid.length === 0) throw new BoltCorruptionError(`no valid meta page: ${problems.join('; ')}`);
  const meta = valid.length === 2 && valid[1].txid > valid[0].txid ? valid[1] : valid[0];
  const needed = meta.highWater * meta.pageSize;
  if (needed > buf.length) {
    throw new BoltCorruptionError(
      `file is truncated: meta page ${meta.page} (txid ${meta.txid}) uses ${meta.highWater} pages of ${meta.pageSize} bytes (${needed} bytes), the file has ${buf.length}`,
    );
  }
  return { meta, warnings: problems };
}

/** Open a bbolt file held in memory. Throws BoltCorruptionError when neither meta page is valid. */
export function openBolt(buf: Uint8Array): BoltDB {
  return new BoltDB(buf);
}

/**
 * Read a whole bbolt file: every top-level bucket with its entries and nested
 * buckets, in key order. Keys, values and names are Buffers viewing `buf`.
 * Pages are checked as they are read; a page referenced twice (a cycle or a
 * shared subtree) is an error.
 */
export function readBolt(buf: Uint8Array): ReadBucket[] {
  const db = openBolt(buf);
  const visitedPages = new Set<number>();
  const read = (reader: BoltBucketReader, name: Buffer): ReadBucket => {
    reader.forEachPage((id) => {
      if (visitedPages.has(id)) throw new BoltCorruptionError(`referenced by more than one bucket (seen again in ${reader.path})`, id);
      visitedPages.add(id);
    });
    const entries: Array<[Buffer, Buffer]> = [];
    const buckets: ReadBucket[] = [];
    reader.forEach((key, value) => {
      if (value.bucket) buckets.push(read(reader.openChild(key, value.value), key));
      else entries.push([key, value.value]);
    });
    const bucket: ReadBucket = { name, entries };
    if (buckets.length > 0) bucket.buckets = buckets;
    if (reader.sequence !== 0n) bucket.sequence = reader.sequence;
    return bucket;
  };
  const top: ReadBucket[] = [];
  const root = db.root();
  root.forEachPage((id) => visitedPages.add(id));
  root.forEach((key, value) => {
    if (!value.bucket) {
      throw new BoltCorruptionError(`the root bucket holds a plain value under key ${describeKey(key)}; it may hold only buckets`);
    }
    top.push(read(root.openChild(key, value.value), key));
  });
  return top;
}

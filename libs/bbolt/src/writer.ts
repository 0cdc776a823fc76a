import { constants as bufferConstants } from 'node:buffer';
import { BoltWriteError } from './errors';
import {
  BRANCH_ELEMENT_SIZE,
  BRANCH_PAGE_FLAG,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  DEFAULT_PAGE_SIZE,
  describeKey,
  fnv1a64,
  FREELIST_PAGE_FLAG,
  isValidPageSize,
  LEAF_ELEMENT_SIZE,
  LEAF_PAGE_FLAG,
  MAGIC,
  MAX_FILL_PERCENT,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  META_CHECKSUM_OFFSET,
  META_PAGE_FLAG,
  MIN_FILL_PERCENT,
  MIN_PAGE_SIZE,
  MAX_PAGE_SIZE,
  nameBytes,
  PAGE_HEADER_SIZE,
  VERSION,
} from './format';
import type { BoltBucket, WriteBoltOptions } from './types';

/**
 * The plan of one bucket: its items in key order (plain values and nested
 * buckets share one key space), whether it is stored inline in its parent,
 * and, when it is not, the pages its B+tree occupies.
 */
class BucketPlan {
  inline = false;
  /** Bytes of this bucket's value in its parent's leaf: header, plus the inline page when inline. */
  valueSize = BUCKET_HEADER_SIZE;
  /** Root page id when not inline. */
  root = 0;
  constructor(
    readonly sequence: bigint,
    readonly keys: Uint8Array[],
    /** A plain value, or the plan of a nested bucket. */
    readonly values: Array<Uint8Array | BucketPlan>,
  ) {}
}

/** A Uint8Array (or Buffer), from this realm or another (a vm context, a worker's transfer). */
function isBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array || (ArrayBuffer.isView(x) && Object.prototype.toString.call(x) === '[object Uint8Array]');
}

interface PagePlan {
  pgid: number;
  /** Pages it spans, 1 + overflow. */
  span: number;
  bucket: BucketPlan;
  leaf: boolean;
  /** Leaf: item range [start, end) of the bucket. Branch: range of `children`. */
  start: number;
  end: number;
  children: PagePlan[] | undefined;
  firstKey: Uint8Array;
}

const TWO_32 = 2 ** 32;
/** pgids 0 and 1 are the meta pages, 2 the freelist. */
const FREELIST_PGID = 2;
const FIRST_DATA_PGID = 3;

interface Context {
  pageSize: number;
  threshold: number;
  nextPgid: number;
  pages: PagePlan[];
  path: Set<BoltBucket>;
}

/**
 * Write a complete bbolt database file holding `buckets` (top-level buckets,
 * each with its entries and nested buckets). Entries are sorted by key
 * bytewise; a key that appears twice in one bucket (as entries or as an
 * entry and a nested bucket's name) is an error.
 *
 * The file is compact: pages 0 and 1 are meta pages (txid - 1 and txid, both
 * describing the same tree), page 2 an empty freelist, then every bucket's
 * pages, packed to `fillPercent`. Buckets small enough (a quarter page, no
 * nested buckets) are stored inline in their parent, as bbolt does.
 */
export function writeBolt(buckets: BoltBucket[], options: WriteBoltOptions = {}): Buffer {
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!isValidPageSize(pageSize)) {
    throw new BoltWriteError(`page size ${pageSize} is not a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE}`);
  }
  const fillPercent = options.fillPercent ?? MAX_FILL_PERCENT;
  if (!(fillPercent >= MIN_FILL_PERCENT && fillPercent <= MAX_FILL_PERCENT)) {
    throw new BoltWriteError(`fill percent ${fillPercent} is outside [${MIN_FILL_PERCENT}, ${MAX_FILL_PERCENT}]`);
  }
  const txid = BigInt(options.txid ?? 1);
  if (txid < 1n || txid > 0xffffffffffffffffn) throw new BoltWriteError(`txid ${txid} is outside [1, 2^64)`);
  if (!Array.isArray(buckets)) throw new BoltWriteError('buckets must be an array');

  const ctx: Context = {
    pageSize,
    threshold: Math.floor(pageSize * fillPercent),
    nextPgid: FIRST_DATA_PGID,
    pages: [],
    path: new Set(),
  };
  const root = planBucket(ctx, { name: 'root', entries: [], buckets }, '', true);
  const highWater = ctx.nextPgid;
  const totalBytes = highWater * pageSize;
  if (totalBytes > bufferConstants.MAX_LENGTH) {
    throw new BoltWriteError(`the file would be ${totalBytes} bytes, more than a Buffer can hold (${bufferConstants.MAX_LENGTH})`);
  }

  const out = Buffer.alloc(totalBytes);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (const page of ctx.pages) writePage(out, dv, pageSize, page);

  // Page 2: an empty freelist (the file has no free pages).
  writePageHeader(dv, FREELIST_PGID * pageSize, FREELIST_PGID, FREELIST_PAGE_FLAG, 0, 0);

  const newer = Number(txid % 2n);
  writeMeta(out, dv, pageSize, newer, root.root, highWater, txid);
  writeMeta(out, dv, pageSize, 1 - newer, root.root, highWater, txid - 1n);
  return out;
}

function planBucket(ctx: Context, bucket: BoltBucket, where: string, isRoot = false): BucketPlan {
  if (bucket === null || typeof bucket !== 'object') throw new BoltWriteError(`${where || 'top level'}: a bucket must be an object`);
  if (ctx.path.has(bucket)) throw new BoltWriteError(`${where}: a bucket contains itself`);
  const entries = bucket.entries ?? [];
  const subs = bucket.buckets ?? [];
  if (!Array.isArray(entries)) throw new BoltWriteError(`${where}: entries must be an array`);
  if (!Array.isArray(subs)) throw new BoltWriteError(`${where}: buckets must be an array`);
  const sequence = bucket.sequence ?? 0n;
  if (typeof sequence !== 'bigint' || sequence < 0n || sequence > 0xffffffffffffffffn) {
    throw new BoltWriteError(`${where}: sequence must be a bigint in [0, 2^64)`);
  }

  ctx.path.add(bucket);
  const n = entries.length + subs.length;
  let keys = new Array<Uint8Array>(n);
  let values = new Array<Uint8Array | BucketPlan>(n);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    const key = entry?.[0];
    const value = entry?.[1];
    if (!isBytes(key) || !isBytes(value)) {
      throw new BoltWriteError(`${where}: entry ${i} is not a [Uint8Array, Uint8Array] pair`);
    }
    if (key.length === 0) throw new BoltWriteError(`${where}: entry ${i} has an empty key`);
    if (key.length > MAX_KEY_SIZE) throw new BoltWriteError(`${where}: key ${describeKey(key)} is longer than ${MAX_KEY_SIZE} bytes`);
    if (value.length > MAX_VALUE_SIZE) throw new BoltWriteError(`${where}: value of key ${describeKey(key)} is longer than ${MAX_VALUE_SIZE} bytes`);
    keys[i] = key;
    values[i] = value;
  }
  for (let j = 0; j < subs.length; j++) {
    const sub = subs[j];
    if (sub === null || typeof sub !== 'object') throw new BoltWriteError(`${where}: nested bucket ${j} must be an object`);
    if (typeof sub.name !== 'string' && !isBytes(sub.name)) throw new BoltWriteError(`${where}: bucket ${j}'s name must be a string or a Uint8Array`);
    const name = nameBytes(sub.name);
    if (name.length === 0) throw new BoltWriteError(`${where}: a bucket name is empty`);
    if (name.length > MAX_KEY_SIZE) throw new BoltWriteError(`${where}: bucket name ${describeKey(name)} is longer than ${MAX_KEY_SIZE} bytes`);
    const child = planBucket(ctx, sub, `${where}/${describeKey(name)}`);
    keys[entries.length + j] = name;
    values[entries.length + j] = child;
  }
  ctx.path.delete(bucket);

  // Sort by key unless already sorted (the usual case), then reject duplicates.
  let sorted = true;
  for (let i = 1; i < n; i++) {
    const c = Buffer.compare(keys[i - 1], keys[i]);
    if (c === 0) throw new BoltWriteError(`${where || 'top level'}: duplicate key ${describeKey(keys[i])}`);
    if (c > 0) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    const order = Array.from({ length: n }, (_, i) => i);
    const k0 = keys;
    order.sort((a, b) => Buffer.compare(k0[a], k0[b]));
    keys = order.map((i) => k0[i]);
    const v0 = values;
    values = order.map((i) => v0[i]);
    for (let i = 1; i < n; i++) {
      if (Buffer.compare(keys[i - 1], keys[i]) === 0) {
        throw new BoltWriteError(`${where || 'top level'}: duplicate key ${describeKey(keys[i])}`);
      }
    }
  }

  const plan = new BucketPlan(sequence, keys, values);

  // bbolt keeps a bucket inline when it has no nested buckets and its single
  // leaf page is no bigger than a quarter page.
  if (!isRoot && subs.length === 0) {
    let size = PAGE_HEADER_SIZE;
    const max = ctx.pageSize / 4;
    for (let i = 0; i < n && size <= max; i++) {
      size += LEAF_ELEMENT_SIZE + keys[i].length + (values[i] as Uint8Array).length;
    }
    if (size <= max) {
      plan.inline = true;
      plan.valueSize = BUCKET_HEADER_SIZE + size;
      return plan;
    }
  }

  layoutTree(ctx, plan);
  return plan;
}

function itemValueSize(value: Uint8Array | BucketPlan): number {
  return value instanceof BucketPlan ? value.valueSize : value.length;
}

/** bbolt puts at least this many elements on a page that splits (its minKeysPerPage). */
const MIN_KEYS_PER_PAGE = 2;

/**
 * Split elements into consecutive groups (pages), starting a new group when
 * the next element would take the current one past the threshold, as long as
 * the current one has at least two elements: like bbolt's split, a page of
 * large elements overflows rather than holding fewer than two. Every group
 * then has at least two elements (when there are two), so each branch level
 * is at most half the size of the one below and the tree always converges.
 * Returns group boundaries: group g is [bounds[g], bounds[g+1]).
 */
function pack(count: number, elementSize: (i: number) => number, threshold: number): number[] {
  const bounds = [0];
  let size = PAGE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const el = elementSize(i);
    if (i - bounds[bounds.length - 1] >= MIN_KEYS_PER_PAGE && size + el > threshold) {
      bounds.push(i);
      size = PAGE_HEADER_SIZE;
    }
    size += el;
  }
  bounds.push(count);
  // The last group may have a single element: take one from the group before
  // (which has at least two), or join it when that one has only two.
  const g = bounds.length - 2;
  if (g >= 1 && bounds[g + 1] - bounds[g] < MIN_KEYS_PER_PAGE) {
    if (bounds[g] - bounds[g - 1] > MIN_KEYS_PER_PAGE) bounds[g] -= 1;
    else bounds.splice(g, 1);
  }
  return bounds;
}

function groupBytes(start: number, end: number, elementSize: (i: number) => number): number {
  let size = PAGE_HEADER_SIZE;
  for (let i = start; i < end; i++) size += elementSize(i);
  return size;
}

function allocate(ctx: Context, bytes: number): { pgid: number; span: number } {
  const span = Math.max(1, Math.ceil(bytes / ctx.pageSize));
  const pgid = ctx.nextPgid;
  ctx.nextPgid += span;
  if (span - 1 > 0xffffffff) throw new BoltWriteError(`a page would need ${span - 1} overflow pages`);
  return { pgid, span };
}

/** Lay out a non-inline bucket's leaves, then branch levels until one root page remains. */
function layoutTree(ctx: Context, bucket: BucketPlan): void {
  const { keys, values } = bucket;
  const leafSize = (i: number) => LEAF_ELEMENT_SIZE + keys[i].length + itemValueSize(values[i]);
  const bounds = pack(keys.length, leafSize, ctx.threshold);
  let level: PagePlan[] = [];
  for (let g = 0; g + 1 < bounds.length; g++) {
    const start = bounds[g];
    const end = bounds[g + 1];
    const { pgid, span } = allocate(ctx, groupBytes(start, end, leafSize));
    const page: PagePlan = { pgid, span, bucket, leaf: true, start, end, children: undefined, firstKey: keys[start] };
    ctx.pages.push(page);
    level.push(page);
  }
  while (level.length > 1) {
    const children = level;
    const branchSize = (i: number) => BRANCH_ELEMENT_SIZE + children[i].firstKey.length;
    const b = pack(children.length, branchSize, ctx.threshold);
    const next: PagePlan[] = [];
    for (let g = 0; g + 1 < b.length; g++) {
      const start = b[g];
      const end = b[g + 1];
      const { pgid, span } = allocate(ctx, groupBytes(start, end, branchSize));
      const page: PagePlan = { pgid, span, bucket, leaf: false, start, end, children, firstKey: children[start].firstKey };
      ctx.pages.push(page);
      next.push(page);
    }
    level = next;
  }
  bucket.root = level[0].pgid;
}

function setU64(dv: DataView, off: number, n: number): void {
  dv.setUint32(off, n >>> 0, true);
  dv.setUint32(off + 4, Math.floor(n / TWO_32), true);
}

function writePageHeader(dv: DataView, off: number, id: number, flags: number, count: number, overflow: number): void {
  if (count > 0xffff) throw new BoltWriteError(`page ${id} would hold ${count} elements, more than a page header can count`);
  setU64(dv, off, id);
  dv.setUint16(off + 8, flags, true);
  dv.setUint16(off + 10, count, true);
  dv.setUint32(off + 12, overflow, true);
}

function writePage(out: Buffer, dv: DataView, pageSize: number, page: PagePlan): void {
  const off = page.pgid * pageSize;
  const count = page.end - page.start;
  if (page.leaf) {
    writePageHeader(dv, off, page.pgid, LEAF_PAGE_FLAG, count, page.span - 1);
    writeLeafElements(out, dv, off, page.bucket, page.start, page.end);
    return;
  }
  writePageHeader(dv, off, page.pgid, BRANCH_PAGE_FLAG, count, page.span - 1);
  const children = page.children!;
  let hdr = off + PAGE_HEADER_SIZE;
  let data = hdr + count * BRANCH_ELEMENT_SIZE;
  for (let i = page.start; i < page.end; i++) {
    const child = children[i];
    const key = child.firstKey;
    dv.setUint32(hdr, data - hdr, true);
    dv.setUint32(hdr + 4, key.length, true);
    setU64(dv, hdr + 8, child.pgid);
    out.set(key, data);
    data += key.length;
    hdr += BRANCH_ELEMENT_SIZE;
  }
}

/** Write items [start, end) of a bucket as the elements of the leaf page at pageOff. */
function writeLeafElements(out: Buffer, dv: DataView, pageOff: number, bucket: BucketPlan, start: number, end: number): void {
  const { keys, values } = bucket;
  let hdr = pageOff + PAGE_HEADER_SIZE;
  let data = hdr + (end - start) * LEAF_ELEMENT_SIZE;
  for (let i = start; i < end; i++) {
    const key = keys[i];
    const value = values[i];
    const nested = value instanceof BucketPlan;
    const vsize = nested ? value.valueSize : value.length;
    dv.setUint32(hdr, nested ? BUCKET_LEAF_FLAG : 0, true);
    dv.setUint32(hdr + 4, data - hdr, true);
    dv.setUint32(hdr + 8, key.length, true);
    dv.setUint32(hdr + 12, vsize, true);
    out.set(key, data);
    data += key.length;
    if (nested) writeBucketValue(out, dv, data, value);
    else out.set(value, data);
    data += vsize;
    hdr += LEAF_ELEMENT_SIZE;
  }
}

/** A nested bucket's value: its header, and its whole leaf page when it is inline. */
function writeBucketValue(out: Buffer, dv: DataView, off: number, bucket: BucketPlan): void {
  setU64(dv, off, bucket.inline ? 0 : bucket.root);
  dv.setBigUint64(off + 8, bucket.sequence, true);
  if (!bucket.inline) return;
  const pageOff = off + BUCKET_HEADER_SIZE;
  // bbolt leaves an inline page's id at 0.
  writePageHeader(dv, pageOff, 0, LEAF_PAGE_FLAG, bucket.keys.length, 0);
  writeLeafElements(out, dv, pageOff, bucket, 0, bucket.keys.length);
}

function writeMeta(out: Buffer, dv: DataView, pageSize: number, id: number, root: number, highWater: number, txid: bigint): void {
  const off = id * pageSize;
  writePageHeader(dv, off, id, META_PAGE_FLAG, 0, 0);
  const m = off + PAGE_HEADER_SIZE;
  dv.setUint32(m, MAGIC, true);
  dv.setUint32(m + 4, VERSION, true);
  dv.setUint32(m + 8, pageSize, true);
  dv.setUint32(m + 12, 0, true);
  setU64(dv, m + 16, root);
  dv.setBigUint64(m + 24, 0n, true);
  setU64(dv, m + 32, FREELIST_PGID);
  setU64(dv, m + 40, highWater);
  dv.setBigUint64(m + 48, txid, true);
  dv.setBigUint64(m + META_CHECKSUM_OFFSET, fnv1a64(out, m, m + META_CHECKSUM_OFFSET), true);
}

/**
 * The on-disk layout of a bbolt (go.etcd.io/bbolt) database file, as bbolt
 * writes it on little-endian 64-bit machines (amd64, arm64).
 *
 * A file is an array of pages of `pageSize` bytes. Every page starts with a
 * 16-byte header:
 *
 *   offset 0  u64 id        the page's own id (its index in the file)
 *   offset 8  u16 flags     branch 0x01, leaf 0x02, meta 0x04, freelist 0x10
 *   offset 10 u16 count     number of elements (or free page ids)
 *   offset 12 u32 overflow  how many extra pages follow this one
 *
 * Pages 0 and 1 are meta pages; the meta body follows the header:
 *
 *   +0  u32 magic 0xED0CDAED   +4 u32 version 2   +8 u32 pageSize   +12 u32 flags
 *   +16 u64 root bucket's root page   +24 u64 root bucket's sequence
 *   +32 u64 freelist page (all ones: no freelist stored)
 *   +40 u64 high-water mark (number of pages in use)   +48 u64 txid
 *   +56 u64 checksum: FNV-1a 64 of bytes +0..+56
 *
 * Branch elements are 16 bytes {u32 pos, u32 ksize, u64 child pgid}; leaf
 * elements are 16 bytes {u32 flags, u32 pos, u32 ksize, u32 vsize}, where
 * `pos` is the distance from the element header to its key, and the value
 * follows the key. A leaf element with flag 0x01 is a nested bucket whose
 * value is a 16-byte bucket header {u64 root pgid, u64 sequence}; when the
 * root is 0 the bucket is inline and a whole leaf page follows the header
 * inside the value.
 */

export const MAGIC = 0xed0cdaed;
export const VERSION = 2;
export const DEFAULT_PAGE_SIZE = 4096;

export const PAGE_HEADER_SIZE = 16;
export const BRANCH_ELEMENT_SIZE = 16;
export const LEAF_ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
/** Size of the meta body that follows the page header (the checksum is its last 8 bytes). */
export const META_SIZE = 64;
/** Bytes of the meta body covered by the checksum. */
export const META_CHECKSUM_OFFSET = 56;

export const BRANCH_PAGE_FLAG = 0x01;
export const LEAF_PAGE_FLAG = 0x02;
export const META_PAGE_FLAG = 0x04;
export const FREELIST_PAGE_FLAG = 0x10;

/** Leaf element flag: the element is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

/** bbolt's limits for keys and values. */
export const MAX_KEY_SIZE = 32768;
export const MAX_VALUE_SIZE = 2 ** 31 - 2;

/** bbolt's bounds for a bucket's fill percent (how full split pages are). */
export const MIN_FILL_PERCENT = 0.1;
export const MAX_FILL_PERCENT = 1.0;

/** The freelist page id bbolt stores when the freelist is not synced to disk. */
export const NO_FREELIST = 0xffffffffffffffffn;

/** A page's count field saturates here; the real count is then the first u64. */
export const FREELIST_COUNT_OVERFLOW = 0xffff;

/** Page sizes this library accepts: powers of two in this range. */
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 1 << 20;

export function isValidPageSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PAGE_SIZE && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0;
}

export function pageTypeName(flags: number): string {
  if (flags & BRANCH_PAGE_FLAG) return 'branch';
  if (flags & LEAF_PAGE_FLAG) return 'leaf';
  if (flags & META_PAGE_FLAG) return 'meta';
  if (flags & FREELIST_PAGE_FLAG) return 'freelist';
  return `unknown<0x${flags.toString(16).padStart(2, '0')}>`;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a, 64-bit, of bytes[start, end): the hash bbolt uses for meta checksums. */
export function fnv1a64(bytes: Uint8Array, start = 0, end = bytes.length): bigint {
  let h = FNV64_OFFSET;
  for (let i = start; i < end; i++) {
    h ^= BigInt(bytes[i]);
    h = (h * FNV64_PRIME) & MASK64;
  }
  return h;
}

/** Show a key in an error message: printable ASCII as is, anything else as hex. */
export function describeKey(key: Uint8Array, max = 64): string {
  const printable = key.every((b) => b >= 0x20 && b < 0x7f);
  const shown = key.subarray(0, max);
  const text = printable ? JSON.stringify(Buffer.from(shown).toString('latin1')) : `0x${Buffer.from(shown).toString('hex')}`;
  return key.length > max ? `${text}… (${key.length} bytes)` : text;
}

/** A Buffer view of any Uint8Array, sharing its memory. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes of a bucket name given as a string (UTF-8) or bytes. */
export function nameBytes(name: Uint8Array | string): Buffer {
  return typeof name === 'string' ? Buffer.from(name, 'utf8') : asBuffer(name);
}

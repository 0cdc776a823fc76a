/** A key/value pair of a bucket. */
export type BoltEntry = [key: Uint8Array, value: Uint8Array];

/**
 * A bucket and everything in it. Keys of `entries` and names of `buckets`
 * share one key space (a nested bucket is a special entry of its parent).
 */
export interface BoltBucket {
  /** Bucket name: a string is encoded as UTF-8. */
  name: Uint8Array | string;
  entries: BoltEntry[];
  /** Nested buckets. */
  buckets?: BoltBucket[];
  /** The bucket's NextSequence() counter; 0 when absent. */
  sequence?: bigint;
}

/** A bucket as readBolt returns it: names, keys and values are Buffers viewing the file. */
export interface ReadBucket extends BoltBucket {
  name: Buffer;
  entries: Array<[key: Buffer, value: Buffer]>;
  buckets?: ReadBucket[];
}

export interface WriteBoltOptions {
  /** Page size in bytes: a power of two from 512 to 1 MiB. Default 4096 (bbolt's on amd64 Linux). */
  pageSize?: number;
  /**
   * How full to pack pages, as a fraction of the page size: 0.1 to 1.0
   * (bbolt's bounds). Default 1.0: every page but the last of each level
   * holds as many elements as fit.
   */
  fillPercent?: number;
  /**
   * Transaction id of the newer meta page (>= 1). The other meta page gets
   * txid - 1 and describes the same tree. Default 1, like a fresh bbolt file.
   */
  txid?: bigint | number;
}

/** The meta page a reader chose, decoded. */
export interface BoltMeta {
  /** Which meta page (0 or 1) this is. */
  page: 0 | 1;
  pageSize: number;
  flags: number;
  /** Root page of the root bucket (the bucket of top-level buckets). */
  root: number;
  /** The root bucket's sequence. */
  sequence: bigint;
  /** Freelist page id, or undefined when the file stores no freelist. */
  freelist: number | undefined;
  /** High-water mark: pages [0, highWater) are in use or free. */
  highWater: number;
  txid: bigint;
  checksum: bigint;
}

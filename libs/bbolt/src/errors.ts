/**
 * A bbolt file that cannot be read: bad magic or version, checksums that do
 * not match, or a page or element that points outside where it may.
 * `pageId` names the page at fault when there is one.
 */
export class BoltCorruptionError extends Error {
  override readonly name = 'BoltCorruptionError';
  constructor(
    message: string,
    readonly pageId?: number,
  ) {
    super(pageId === undefined ? `bbolt: ${message}` : `bbolt: page ${pageId}: ${message}`);
  }
}

/** Input that cannot be written as a bbolt file (bad key, duplicate key, bad option). */
export class BoltWriteError extends Error {
  override readonly name = 'BoltWriteError';
  constructor(message: string) {
    super(`bbolt: ${message}`);
  }
}

/** An etcd snapshot that does not decode (missing hash, bad revision key, bad protobuf). */
export class EtcdSnapshotError extends Error {
  override readonly name = 'EtcdSnapshotError';
  constructor(message: string) {
    super(`etcd snapshot: ${message}`);
  }
}

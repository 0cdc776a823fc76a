/** MVCC errors, with etcd's messages (the gRPC layer maps them to status codes). */

export class CompactedError extends Error {
  constructor() {
    super('mvcc: required revision has been compacted');
    this.name = 'CompactedError';
  }
}

export class FutureRevisionError extends Error {
  constructor() {
    super('mvcc: required revision is a future revision');
    this.name = 'FutureRevisionError';
  }
}

// Error classes. Messages follow etcd-io/raft's wording so operators recognise them.

export class RaftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A proposal was dropped (no leader, transfer in progress, size limit, ...). */
export class ErrProposalDropped extends RaftError {
  constructor(message = 'raft proposal dropped') {
    super(message);
  }
}

/** The requested index is older than the first index kept by storage. */
export class ErrCompacted extends RaftError {
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** The requested index is newer than the last index known to storage. */
export class ErrUnavailable extends RaftError {
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** A snapshot older than the one already held was offered. */
export class ErrSnapOutOfDate extends RaftError {
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/** Storage cannot produce a snapshot right now; raft retries later. */
export class ErrSnapshotTemporarilyUnavailable extends RaftError {
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** A local-only message type was stepped in from the network. */
export class ErrStepLocalMsg extends RaftError {
  constructor() {
    super('raft: cannot step raft local message');
  }
}

/** A response came from a node that is not in the configuration. */
export class ErrStepPeerNotFound extends RaftError {
  constructor() {
    super('raft: cannot step as peer not found');
  }
}

/** The Node driver was stopped. */
export class ErrStopped extends RaftError {
  constructor() {
    super('raft: stopped');
  }
}

/** A durable log (WAL or snapshot file) cannot be read back safely. */
export class ErrCorruptLog extends RaftError {
  constructor(
    message: string,
    readonly file?: string,
    readonly offset?: number,
  ) {
    super(message);
  }
}

// raft-consensus-ts: Raft consensus following the design of etcd-io/raft.

// Data types (raftpb), enums and small helpers.
export {
  None,
  EntryType,
  MessageType,
  ConfChangeType,
  ConfChangeTransition,
  StateType,
  ReadOnlyOption,
  SnapshotStatus,
  newMessage,
  newEntry,
  emptyConfState,
  emptySnapshot,
  emptyHardState,
  isEmptyHardState,
  isEmptySnap,
  isLocalMsg,
  isResponseMsg,
  describeMessage,
} from './types';
export type {
  Entry,
  Message,
  HardState,
  ConfState,
  Snapshot,
  SnapshotMetadata,
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  SoftState,
  ReadState,
} from './types';

// Errors.
export {
  RaftError,
  ErrProposalDropped,
  ErrCompacted,
  ErrUnavailable,
  ErrSnapOutOfDate,
  ErrSnapshotTemporarilyUnavailable,
  ErrStepLocalMsg,
  ErrStepPeerNotFound,
  ErrStopped,
  ErrCorruptLog,
} from './errors';

// The deterministic core.
export { RawNode } from './rawnode';
export type { Ready, Status, ProgressStatus } from './rawnode';
export type { Config } from './raft';
export { seededRandom } from './random';
export { noopLogger } from './logger';
export type { Logger } from './logger';
export { describeConfChange, confChangeToEntryData } from './confchange';

// Storage.
export { MemoryStorage, newMemoryStorageWithPeers } from './storage';
export type { Storage, PersistentStorage } from './storage';
export { WalStorage } from './wal/wal-storage';
export type { WalStorageOptions } from './wal/wal-storage';

// The event-loop driver.
export { Node, ErrReadIndexTimeout } from './node';
export type { NodeOptions, Transport } from './node';

// Wire format (etcd raftpb compatible protobuf).
export * as codec from './codec';
export { DecodeError } from './codec';

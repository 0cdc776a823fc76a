// Core data types. Names and numeric values follow etcd's raftpb (raft.proto),
// so the codec module can put them on the wire in a compatible form.

/** No node / no leader / no vote. Node ids start at 1. */
export const None = 0;

export enum EntryType {
  EntryNormal = 0,
  EntryConfChange = 1,
  EntryConfChangeV2 = 2,
}

export enum MessageType {
  MsgHup = 0,
  MsgBeat = 1,
  MsgProp = 2,
  MsgApp = 3,
  MsgAppResp = 4,
  MsgVote = 5,
  MsgVoteResp = 6,
  MsgSnap = 7,
  MsgHeartbeat = 8,
  MsgHeartbeatResp = 9,
  MsgUnreachable = 10,
  MsgSnapStatus = 11,
  MsgCheckQuorum = 12,
  MsgTransferLeader = 13,
  MsgTimeoutNow = 14,
  MsgReadIndex = 15,
  MsgReadIndexResp = 16,
  MsgPreVote = 17,
  MsgPreVoteResp = 18,
}

export enum ConfChangeType {
  ConfChangeAddNode = 0,
  ConfChangeRemoveNode = 1,
  ConfChangeUpdateNode = 2,
  ConfChangeAddLearnerNode = 3,
}

export enum ConfChangeTransition {
  /** Simple change when possible, otherwise joint consensus left automatically. */
  ConfChangeTransitionAuto = 0,
  /** Always joint consensus, left automatically once applied. */
  ConfChangeTransitionJointImplicit = 1,
  /** Always joint consensus, left when the application proposes an empty ConfChangeV2. */
  ConfChangeTransitionJointExplicit = 2,
}

export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

export enum ReadOnlyOption {
  /** Confirm leadership with a heartbeat round for every batch of reads. */
  Safe = 0,
  /** Trust the leader lease (needs CheckQuorum; depends on bounded clock drift). */
  LeaseBased = 1,
}

export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

export interface Entry {
  term: number;
  index: number;
  type: EntryType;
  data: Uint8Array;
}

export interface ConfState {
  voters: number[];
  learners: number[];
  votersOutgoing: number[];
  learnersNext: number[];
  autoLeave: boolean;
}

export interface SnapshotMetadata {
  confState: ConfState;
  index: number;
  term: number;
}

export interface Snapshot {
  data: Uint8Array;
  metadata: SnapshotMetadata;
}

export interface Message {
  type: MessageType;
  to: number;
  from: number;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  snapshot?: Snapshot;
  reject: boolean;
  rejectHint: number;
  context?: Uint8Array;
}

export interface HardState {
  term: number;
  vote: number;
  commit: number;
}

export interface ConfChange {
  /** Only carried through for the application (etcd uses it as a request id). */
  id: number;
  type: ConfChangeType;
  nodeId: number;
  context?: Uint8Array;
}

export interface ConfChangeSingle {
  type: ConfChangeType;
  nodeId: number;
}

export interface ConfChangeV2 {
  transition: ConfChangeTransition;
  changes: ConfChangeSingle[];
  context?: Uint8Array;
}

export interface SoftState {
  lead: number;
  raftState: StateType;
}

export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Builds a message with every field present (stable object shape, defaults zero). */
export function newMessage(m: Partial<Message> & { type: MessageType }): Message {
  return {
    type: m.type,
    to: m.to ?? 0,
    from: m.from ?? 0,
    term: m.term ?? 0,
    logTerm: m.logTerm ?? 0,
    index: m.index ?? 0,
    entries: m.entries ?? [],
    commit: m.commit ?? 0,
    snapshot: m.snapshot,
    reject: m.reject ?? false,
    rejectHint: m.rejectHint ?? 0,
    context: m.context,
  };
}

export function newEntry(e: Partial<Entry> = {}): Entry {
  return { term: e.term ?? 0, index: e.index ?? 0, type: e.type ?? EntryType.EntryNormal, data: e.data ?? EMPTY };
}

export function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function emptySnapshot(): Snapshot {
  return { data: EMPTY, metadata: { confState: emptyConfState(), index: 0, term: 0 } };
}

export function emptyHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}

export function isEmptyHardState(hs: HardState | undefined): boolean {
  return !hs || (hs.term === 0 && hs.vote === 0 && hs.commit === 0);
}

export function isHardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function isEmptySnap(s: Snapshot | undefined): boolean {
  return !s || s.metadata.index === 0;
}

/** Whether persisting this Ready needs an fsync (term, vote or entries changed). */
export function mustSync(st: HardState, prev: HardState, entryCount: number): boolean {
  return entryCount !== 0 || st.vote !== prev.vote || st.term !== prev.term;
}

export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppResp ||
    t === MessageType.MsgVoteResp ||
    t === MessageType.MsgHeartbeatResp ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResp
  );
}

export function voteRespMsgType(t: MessageType): MessageType {
  if (t === MessageType.MsgVote) return MessageType.MsgVoteResp;
  if (t === MessageType.MsgPreVote) return MessageType.MsgPreVoteResp;
  throw new Error(`not a vote message: ${MessageType[t]}`);
}

/** Size of an entry's payload, used for MaxUncommittedEntriesSize accounting. */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

export function payloadsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.length;
  return s;
}

function varintLen(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Exact size of the protobuf encoding of an entry (the unit of MaxSizePerMsg). */
export function entrySize(e: Entry): number {
  let n = 3 + varintLen(e.type) + varintLen(e.term) + varintLen(e.index);
  const l = e.data.length;
  if (l > 0) n += 1 + varintLen(l) + l;
  return n;
}

export function entriesSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += entrySize(e);
  return s;
}

/**
 * Returns the longest prefix of ents whose total size is at most maxSize, but
 * always at least one entry.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length === 0) return ents;
  let size = entrySize(ents[0]);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySize(ents[limit]);
    if (size > maxSize) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map((e) => `${e.term}/${e.index}`).join(' ')}]`;
  if (m.snapshot && !isEmptySnap(m.snapshot)) s += ` Snapshot:${m.snapshot.metadata.term}/${m.snapshot.metadata.index}`;
  return s;
}

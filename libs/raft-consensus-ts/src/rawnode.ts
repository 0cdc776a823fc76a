// RawNode: the synchronous, thread-free API over the raft state machine.
//
// The application loop is:
//   rn.tick() / rn.step(msg) / rn.propose(data) ...
//   if (rn.hasReady()) {
//     const rd = rn.ready();
//     1. persist rd.snapshot, rd.entries and rd.hardState (fsync if rd.mustSync)
//     2. send rd.messages
//     3. apply rd.snapshot, then rd.committedEntries (and applyConfChange for conf entries)
//     4. rn.advance(rd)
//   }

import { asV2, confChangeToEntryData } from './confchange';
import { ErrStepLocalMsg, ErrStepPeerNotFound } from './errors';
import { Config, Raft } from './raft';
import { ProgressStateType } from './tracker';
import {
  ConfChange,
  ConfChangeV2,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  ReadState,
  Snapshot,
  SnapshotStatus,
  SoftState,
  StateType,
  isLocalMsg,
  isResponseMsg,
  mustSync,
  newEntry,
  newMessage,
} from './types';

/** Everything the application must do after a batch of steps. */
export interface Ready {
  /** Set when leader or role changed. Not persisted. */
  softState?: SoftState;
  /** Set when term, vote or commit changed; persist before sending messages. */
  hardState?: HardState;
  /** Results of readIndex() requests, in order. */
  readStates: ReadState[];
  /** Entries to append to stable storage before sending messages. */
  entries: Entry[];
  /** A snapshot from the leader to persist and then apply. */
  snapshot?: Snapshot;
  /** Committed entries to apply to the state machine (already persisted before). */
  committedEntries: Entry[];
  /** Messages to send after entries and hard state are persisted. */
  messages: Message[];
  /** Whether persisting this Ready must be durable (fsync) before messages go out. */
  mustSync: boolean;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot';
  recentActive: boolean;
  isLearner: boolean;
  paused: boolean;
  inflight: number;
  pendingSnapshot: number;
}

export interface Status {
  id: number;
  hardState: HardState;
  softState: SoftState;
  applied: number;
  leadTransferee: number;
  config: ConfState;
  /** Replication progress per peer; only on the leader. */
  progress?: Map<number, ProgressStatus>;
}

const stateNames: Record<ProgressStateType, ProgressStatus['state']> = {
  [ProgressStateType.Probe]: 'probe',
  [ProgressStateType.Replicate]: 'replicate',
  [ProgressStateType.Snapshot]: 'snapshot',
};

export class RawNode {
  /** The state machine. Exposed for tests and tools; prefer the methods. */
  readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;
  private awaitingAdvance = false;

  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  /**
   * Bootstraps a brand-new cluster member: the log starts with one committed
   * ConfChangeAddNode entry per peer. Call once, on empty storage, with the
   * same peer list on every initial member (see Raft.bootstrap).
   */
  bootstrap(peers: number[]): void {
    this.raft.bootstrap(peers);
    // The first Ready must carry the hard state even if it equals the initial one.
    this.prevHardSt = { term: 0, vote: 0, commit: 0 };
  }

  get id(): number {
    return this.raft.id;
  }

  /** Advances the logical clock by one tick (election / heartbeat timers). */
  tick(): void {
    this.raft.tick();
  }

  /**
   * Advances only the election timer, for nodes of an idle group that skip
   * heartbeats. Do not use with CheckQuorum unless all nodes do it.
   */
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  /** Starts an election now (a pre-election first when PreVote is on). */
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup }));
  }

  /** Proposes data to be appended to the log. Throws ErrProposalDropped. */
  propose(data: Uint8Array): void {
    this.raft.step(newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [newEntry({ data })] }));
  }

  /** Proposes several entries in one message (they stay contiguous in the log). */
  proposeBatch(data: Uint8Array[]): void {
    if (data.length === 0) return;
    this.raft.step(
      newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: data.map((d) => newEntry({ data: d })) }),
    );
  }

  /** Proposes a configuration change. Throws ErrProposalDropped. */
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const { type, data } = confChangeToEntryData(cc);
    this.raft.step(newMessage({ type: MessageType.MsgProp, entries: [newEntry({ type, data })] }));
  }

  /**
   * Applies a committed conf change to the local configuration. Call it for
   * every EntryConfChange(V2) entry when applying it. Returns the new ConfState
   * (record it with the next snapshot).
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(asV2(cc));
  }

  /**
   * Steps a message received from a peer. Throws ErrStepLocalMsg for local
   * message types and ErrStepPeerNotFound for responses from unknown peers;
   * ErrProposalDropped for forwarded proposals that cannot be accepted.
   */
  step(m: Message): void {
    if (isLocalMsg(m.type)) throw new ErrStepLocalMsg();
    if (isResponseMsg(m.type) && !this.raft.trk.progress.has(m.from)) throw new ErrStepPeerNotFound();
    this.raft.step(m);
  }

  /** Whether ready() would return anything. */
  hasReady(): boolean {
    const r = this.raft;
    if (r.lead !== this.prevSoftSt.lead || r.state !== this.prevSoftSt.raftState) return true;
    const hs = this.prevHardSt;
    if (r.term !== hs.term || r.vote !== hs.vote || r.raftLog.committed !== hs.commit) return true;
    if (r.raftLog.hasNextUnstableSnapshot()) return true;
    if (r.msgs.length > 0) return true;
    if (r.raftLog.hasNextUnstableEnts() || r.raftLog.hasNextCommittedEnts()) return true;
    return r.readStates.length > 0;
  }

  /**
   * Returns what the application must persist, send and apply. Call advance()
   * once it has been handled; ready() may not be called again before that.
   */
  ready(): Ready {
    if (this.awaitingAdvance) throw new Error('raft: ready() called again before advance()');
    const r = this.raft;
    const rd: Ready = {
      softState: undefined,
      hardState: undefined,
      readStates: r.readStates,
      // A copy: steps between ready() and advance() may append to the unstable
      // log, and advance() must only mark what this Ready persisted as stable.
      entries: r.raftLog.nextUnstableEnts().slice(),
      snapshot: r.raftLog.unstable.snapshot,
      committedEntries: r.raftLog.nextCommittedEnts(),
      messages: r.msgs,
      mustSync: false,
    };
    const ss = r.softState();
    if (ss.lead !== this.prevSoftSt.lead || ss.raftState !== this.prevSoftSt.raftState) {
      rd.softState = ss;
      this.prevSoftSt = ss;
    }
    const hs = r.hardState();
    rd.mustSync = mustSync(hs, this.prevHardSt, rd.entries.length);
    if (hs.term !== this.prevHardSt.term || hs.vote !== this.prevHardSt.vote || hs.commit !== this.prevHardSt.commit) {
      rd.hardState = hs;
      this.prevHardSt = hs;
    }
    // A snapshot is persisted with fsync too.
    if (rd.snapshot) rd.mustSync = true;
    r.readStates = [];
    r.msgs = [];
    if (rd.committedEntries.length > 0) {
      r.raftLog.acceptApplying(rd.committedEntries[rd.committedEntries.length - 1].index);
    }
    this.awaitingAdvance = true;
    return rd;
  }

  /**
   * Tells raft the Ready was persisted, sent and applied. Messages may be
   * stepped between ready() and advance().
   */
  advance(rd: Ready): void {
    this.awaitingAdvance = false;
    const last = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1] : undefined;
    this.raft.advance(rd.committedEntries, last, rd.snapshot);
  }

  status(): Status {
    const r = this.raft;
    const st: Status = {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      config: r.trk.confState(),
    };
    if (r.state === StateType.Leader) {
      st.progress = new Map();
      r.trk.visit((id, pr) => {
        st.progress!.set(id, {
          match: pr.match,
          next: pr.next,
          state: stateNames[pr.state],
          recentActive: pr.recentActive,
          isLearner: pr.isLearner,
          paused: pr.isPaused(),
          inflight: pr.inflights.count(),
          pendingSnapshot: pr.pendingSnapshot,
        });
      });
    }
    return st;
  }

  /** Tells the leader that a message to id could not be delivered. */
  reportUnreachable(id: number): void {
    this.raft.step(newMessage({ type: MessageType.MsgUnreachable, from: id }));
  }

  /** Tells the leader how sending a snapshot to id ended. */
  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step(newMessage({ type: MessageType.MsgSnapStatus, from: id, reject: status === SnapshotStatus.SnapshotFailure }));
  }

  /** Asks the leader to hand leadership to transferee (forwarded if we are a follower). */
  transferLeader(transferee: number): void {
    this.raft.step(newMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
  }

  /**
   * Requests a linearizable read index. The result arrives as a ReadState in a
   * later Ready with the same requestCtx (so make ctx unique). Requests are
   * silently dropped when there is no leader; retry on timeout.
   */
  readIndex(ctx: Uint8Array): void {
    this.raft.step(newMessage({ type: MessageType.MsgReadIndex, entries: [newEntry({ data: ctx })] }));
  }
}

// The raft state machine. Deterministic: no I/O, no timers, no clock; time is
// tick() calls and randomness comes from Config.random.

import { Changer, asV2, enterJoint, leaveJoint, restoreConfState } from './confchange';
import { decodeConfChange, decodeConfChangeV2, encodeConfChange, encodeConfChangeV2 } from './codec';
import { ErrProposalDropped, ErrSnapshotTemporarilyUnavailable } from './errors';
import { Logger, noopLogger } from './logger';
import { seededRandom } from './random';
import { RaftLog } from './raft-log';
import { ReadOnly } from './read-only';
import { Storage } from './storage';
import {
  ProgressMap,
  ProgressStateType,
  ProgressTracker,
  TrackerConfig,
  VoteResult,
  describeTrackerConfig,
} from './tracker';
import {
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  None,
  ReadOnlyOption,
  ReadState,
  Snapshot,
  SoftState,
  StateType,
  newEntry,
  newMessage,
  payloadsSize,
  voteRespMsgType,
} from './types';

/** Marks a campaign started by leadership transfer (carried in the vote request's context). */
const CAMPAIGN_TRANSFER = new TextEncoder().encode('CampaignTransfer');

enum CampaignType {
  PreElection,
  Election,
  Transfer,
}

export interface Config {
  /** This node's id (non-zero). */
  id: number;
  /**
   * Ticks a follower waits without hearing from a leader before campaigning.
   * The actual timeout is randomised in [electionTick, 2*electionTick).
   */
  electionTick: number;
  /** Ticks between leader heartbeats; must be < electionTick. */
  heartbeatTick: number;
  /** The stable log. Raft reads it; the application writes it. */
  storage: Storage;
  /** Last applied index when restarting (entries up to it are not re-delivered). */
  applied?: number;
  /** Max bytes of entries per MsgApp (0: one entry per message). Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Max bytes of committed entries per Ready. Default: maxSizePerMsg, or unlimited if that is unset. */
  maxCommittedSizePerReady?: number;
  /** Max bytes of uncommitted entry payload a leader accepts before dropping proposals. Default unlimited. */
  maxUncommittedEntriesSize?: number;
  /** Max in-flight MsgApp per follower in replicate state. Default 256. */
  maxInflightMsgs?: number;
  /** Max in-flight payload bytes per follower. Default unlimited. */
  maxInflightBytes?: number;
  /** Leader steps down if it does not hear from a quorum within an election timeout. */
  checkQuorum?: boolean;
  /** Run a pre-election before incrementing the term. */
  preVote?: boolean;
  readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. */
  disableProposalForwarding?: boolean;
  /** A leader removed from the configuration steps down when the change is applied. */
  stepDownOnRemoval?: boolean;
  logger?: Logger;
  /**
   * Source of randomness in [0, 1). Defaults to a PRNG seeded from the id, so
   * runs are replayable. Never Math.random.
   */
  random?: () => number;
}

interface ResolvedConfig {
  maxSizePerMsg: number;
  maxCommittedSizePerReady: number;
  maxUncommittedEntriesSize: number;
  maxInflightMsgs: number;
  maxInflightBytes: number;
}

const DEFAULT_MAX_SIZE_PER_MSG = 1024 * 1024;

/** Validates a config and returns the values with defaults applied. Throws on invalid input. */
export function validateConfig(c: Config): ResolvedConfig {
  if (!Number.isSafeInteger(c.id) || c.id <= 0) throw new Error('cannot use none as id');
  if (!(c.heartbeatTick > 0)) throw new Error('heartbeat tick must be greater than 0');
  if (!(c.electionTick > c.heartbeatTick)) throw new Error('election tick must be greater than heartbeat tick');
  if (!c.storage) throw new Error('storage cannot be nil');
  const maxSizePerMsg = c.maxSizePerMsg ?? DEFAULT_MAX_SIZE_PER_MSG;
  const maxInflightMsgs = c.maxInflightMsgs ?? 256;
  if (!(maxInflightMsgs > 0)) throw new Error('max inflight messages must be greater than 0');
  const maxInflightBytes = c.maxInflightBytes && c.maxInflightBytes > 0 ? c.maxInflightBytes : Infinity;
  if (maxInflightBytes < maxSizePerMsg) throw new Error('max inflight bytes must be >= max message size');
  if (c.readOnlyOption === ReadOnlyOption.LeaseBased && !c.checkQuorum) {
    throw new Error('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
  }
  return {
    maxSizePerMsg,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady || Math.max(maxSizePerMsg, DEFAULT_MAX_SIZE_PER_MSG),
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize || Infinity,
    maxInflightMsgs,
    maxInflightBytes,
  };
}

export class Raft {
  readonly id: number;
  term = 0;
  vote = None;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  trk: ProgressTracker;
  state: StateType = StateType.Follower;
  isLearner = false;
  /** Outgoing messages, drained by RawNode.ready(). */
  msgs: Message[] = [];
  lead = None;
  /** Target of an ongoing leadership transfer. */
  leadTransferee = None;
  /** Index of the last conf change proposed by this leader (only one may be pending). */
  pendingConfIndex = 0;
  /** Payload bytes of uncommitted entries appended by this leader. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly logger: Logger;
  readonly random: () => number;
  /** ReadIndex requests received before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** The state-specific step function (tests may replace it). */
  stepFn: (m: Message) => void;

  constructor(c: Config) {
    const rc = validateConfig(c);
    this.id = c.id;
    this.logger = c.logger ?? noopLogger;
    this.random = c.random ?? seededRandom(c.id);
    this.raftLog = new RaftLog(c.storage, this.logger, rc.maxCommittedSizePerReady);
    this.maxMsgSize = rc.maxSizePerMsg;
    this.maxUncommittedSize = rc.maxUncommittedEntriesSize;
    this.trk = new ProgressTracker(rc.maxInflightMsgs, rc.maxInflightBytes);
    this.electionTimeout = c.electionTick;
    this.heartbeatTimeout = c.heartbeatTick;
    this.checkQuorum = !!c.checkQuorum;
    this.preVote = !!c.preVote;
    this.readOnly = new ReadOnly(c.readOnlyOption ?? ReadOnlyOption.Safe);
    this.disableProposalForwarding = !!c.disableProposalForwarding;
    this.stepDownOnRemoval = !!c.stepDownOnRemoval;
    this.stepFn = (m) => this.stepFollower(m);

    const { hardState, confState } = c.storage.initialState();
    const [cfg, prs] = restoreConfState(this.trk, this.raftLog.lastIndex(), confState);
    this.switchToConfig(cfg, prs);

    if (hardState.term !== 0 || hardState.vote !== 0 || hardState.commit !== 0) this.loadState(hardState);
    if (c.applied && c.applied > 0) this.raftLog.appliedTo(c.applied);
    this.becomeFollower(this.term, None);

    this.logger.info(
      `raft ${this.id} started [peers: [${this.trk.voterNodes().join(',')}], term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastindex: ${this.raftLog.lastIndex()}, lastterm: ${this.raftLog.lastTerm()}]`,
    );
  }

  /**
   * Seeds an empty log with one committed ConfChangeAddNode entry per peer (at
   * term 1), the way etcd bootstraps a new cluster. Every member of a new
   * cluster must bootstrap with the same list; nodes joining later start
   * empty and learn the configuration from the log or a snapshot.
   */
  bootstrap(peers: number[]): void {
    if (peers.length === 0) throw new Error('must provide at least one peer to Bootstrap');
    if (this.raftLog.storage.lastIndex() !== 0 || this.raftLog.lastIndex() !== 0) {
      throw new Error("can't bootstrap a nonempty Storage");
    }
    this.becomeFollower(1, None);
    const ents: Entry[] = peers.map((id, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.EntryConfChange,
      data: encodeConfChange({ id: 0, type: ConfChangeType.ConfChangeAddNode, nodeId: id }),
    }));
    this.raftLog.append(ents);
    this.raftLog.committed = ents.length;
    for (const id of peers) {
      this.applyConfChange({
        transition: ConfChangeTransition.ConfChangeTransitionAuto,
        changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: id }],
      });
    }
  }

  hasLeader(): boolean {
    return this.lead !== None;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Queues a message, filling in from/term by the rules of its type. */
  send(m: Message): void {
    if (m.from === None) m.from = this.id;
    const t = m.type;
    if (t === MessageType.MsgVote || t === MessageType.MsgVoteResp || t === MessageType.MsgPreVote || t === MessageType.MsgPreVoteResp) {
      if (m.term === 0) throw new Error(`term should be set when sending ${MessageType[t]}`);
    } else {
      if (m.term !== 0) throw new Error(`term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and read requests are forwarded as local messages: no term.
      if (t !== MessageType.MsgProp && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    if (m.to === this.id) throw new Error(`message should not be self-addressed when sending ${MessageType[t]}`);
    this.msgs.push(m);
  }

  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * Sends an append (or a snapshot) to `to` if its progress allows. With
   * sendIfEmpty false, nothing is sent when there are no new entries.
   * Returns whether a message was sent.
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.termOrUndefined(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to);

    let ents: Entry[] = [];
    if (pr.state !== ProgressStateType.Replicate || !pr.inflights.full()) {
      try {
        ents = this.raftLog.entries(pr.next, this.maxMsgSize);
      } catch {
        // Compacted concurrently with our term lookup: fall back to a snapshot.
        return this.maybeSendSnapshot(to);
      }
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const commit = this.raftLog.committed;
    this.send(newMessage({ type: MessageType.MsgApp, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit }));
    pr.sentEntries(ents.length, payloadsSize(ents));
    pr.sentCommit = commit;
    return true;
  }

  private maybeSendSnapshot(to: number): boolean {
    const pr = this.trk.progress.get(to)!;
    if (!pr.recentActive) {
      this.logger.debug(`${this.id} ignore sending snapshot to ${to} since it is not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (err) {
      if (err instanceof ErrSnapshotTemporarilyUnavailable) {
        this.logger.debug(`${this.id} failed to send snapshot to ${to} because snapshot is temporarily unavailable`);
        return false;
      }
      throw err;
    }
    if (snapshot.metadata.index === 0) throw new Error('need non-empty snapshot');
    const { index, term } = snapshot.metadata;
    this.logger.debug(`${this.id} [firstindex: ${this.raftLog.firstIndex()}, commit: ${this.raftLog.committed}] sent snapshot[index: ${index}, term: ${term}] to ${to} [${pr}]`);
    pr.becomeSnapshot(index);
    this.send(newMessage({ type: MessageType.MsgSnap, to, snapshot }));
    return true;
  }

  sendHeartbeat(to: number, ctx: Uint8Array | undefined): void {
    const pr = this.trk.progress.get(to)!;
    // A follower's log may be behind; never tell it to commit past what it has.
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send(newMessage({ type: MessageType.MsgHeartbeat, to, commit, context: ctx }));
    if (commit > pr.sentCommit) pr.sentCommit = commit;
  }

  bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    const ctx = this.readOnly.heartbeatCtx();
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  /** Commits the quorum-acknowledged index if it belongs to the current term. */
  maybeCommit(): boolean {
    const mci = this.trk.committed();
    if (mci === Infinity) return false;
    return this.raftLog.maybeCommit(mci, this.term);
  }

  reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = None;
    }
    this.lead = None;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const last = this.raftLog.lastIndex();
    this.trk.visit((id, pr) => {
      pr.match = 0;
      pr.next = last + 1;
      pr.sentCommit = 0;
      pr.state = ProgressStateType.Probe;
      pr.pendingSnapshot = 0;
      pr.recentActive = false;
      pr.msgAppFlowPaused = false;
      pr.inflights.reset();
      if (id === this.id) pr.match = last;
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
  }

  /** Appends entries to the leader's log. Returns false if dropped by the uncommitted size limit. */
  appendEntry(es: Entry[]): boolean {
    let li = this.raftLog.lastIndex();
    const ents: Entry[] = new Array(es.length);
    for (let i = 0; i < es.length; i++) {
      const e = es[i];
      ents[i] = { term: this.term, index: li + 1 + i, type: e.type, data: e.data };
    }
    if (!this.increaseUncommittedSize(ents)) {
      this.logger.warn(`${this.id} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    li = this.raftLog.append(ents);
    // The leader's own append counts towards the quorum at once, although a
    // leader may send this Ready's messages before it persists the entries
    // (the Node driver does). A commit that counts them only shows in a
    // later Ready (committed entries, the commit index in messages), and the
    // application must finish persisting a Ready before it takes the next.
    this.trk.progress.get(this.id)?.maybeUpdate(li);
    this.maybeCommit();
    return true;
  }

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgHup, from: this.id }));
    }
  }

  tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ type: MessageType.MsgCheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== None) this.abortLeaderTransfer();
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ type: MessageType.MsgBeat, from: this.id }));
    }
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = (m) => this.stepFollower(m);
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
    this.logger.info(`${this.id} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> candidate]');
    this.stepFn = (m) => this.stepCandidate(m);
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  becomePreCandidate(): void {
    if (this.state === StateType.Leader) throw new Error('invalid transition [leader -> pre-candidate]');
    // A pre-candidate changes neither term nor vote.
    this.stepFn = (m) => this.stepCandidate(m);
    this.trk.resetVotes();
    this.lead = None;
    this.state = StateType.PreCandidate;
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  becomeLeader(): void {
    if (this.state === StateType.Follower) throw new Error('invalid transition [follower -> leader]');
    this.stepFn = (m) => this.stepLeader(m);
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    const pr = this.trk.progress.get(this.id);
    if (pr) {
      pr.becomeReplicate();
      pr.recentActive = true;
    }
    // Conf changes in the uncommitted tail may be pending; allow a new one
    // only once everything up to here is applied.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // An empty entry of the new term: committing it commits all earlier entries.
    if (!this.appendEntry([newEntry()])) throw new Error('empty entry was dropped');
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  private hup(t: CampaignType): void {
    if (this.state === StateType.Leader) {
      this.logger.debug(`${this.id} ignoring MsgHup because already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and can not campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(`${this.id} cannot campaign at term ${this.term} since there are still pending configuration changes to apply`);
      return;
    }
    this.logger.info(`${this.id} is starting a new election at term ${this.term}`);
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const ents = this.raftLog.slice(this.raftLog.applied + 1, this.raftLog.committed + 1, Infinity);
    return ents.some((e) => e.type !== EntryType.EntryNormal);
  }

  campaign(t: CampaignType): void {
    let term: number;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
      // Pre-vote requests carry the term we would campaign with.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgVote;
      term = this.term;
    }
    // Our own vote.
    const { result } = this.poll(this.id, voteRespMsgType(voteMsg), true);
    if (result === VoteResult.VoteWon) {
      // Single-node cluster: we won right away.
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.raftLog.lastIndex();
    const lastTerm = this.raftLog.lastTerm();
    for (const id of this.trk.voterNodes()) {
      if (id === this.id) continue;
      this.logger.info(`${this.id} [logterm: ${lastTerm}, index: ${lastIndex}] sent ${MessageType[voteMsg]} request to ${id} at term ${this.term}`);
      this.send(
        newMessage({
          type: voteMsg,
          to: id,
          term,
          index: lastIndex,
          logTerm: lastTerm,
          context: t === CampaignType.Transfer ? CAMPAIGN_TRANSFER : undefined,
        }),
      );
    }
  }

  private poll(id: number, t: MessageType, v: boolean): { granted: number; rejected: number; result: VoteResult } {
    this.logger.info(`${this.id} received ${MessageType[t]}${v ? '' : ' rejection'} from ${id} at term ${this.term}`);
    this.trk.recordVote(id, v);
    return this.trk.tallyVotes();
  }

  /** Steps a message. Throws ErrProposalDropped when a proposal cannot be accepted. */
  step(m: Message): void {
    if (m.term === 0) {
      // local message
    } else if (m.term > this.term) {
      if (m.type === MessageType.MsgVote || m.type === MessageType.MsgPreVote) {
        const force = m.context !== undefined && bytesEqual(m.context, CAMPAIGN_TRANSFER);
        const inLease = this.checkQuorum && this.lead !== None && this.electionElapsed < this.electionTimeout;
        if (!force && inLease) {
          // We heard from a leader recently: ignore the request so a node that
          // was partitioned away cannot depose a healthy leader.
          this.logger.info(
            `${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}, vote: ${this.vote}] ignored ${MessageType[m.type]} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}: lease is not expired (remaining ticks: ${this.electionTimeout - this.electionElapsed})`,
          );
          return;
        }
      }
      if (m.type === MessageType.MsgPreVote) {
        // Never change our term in response to a PreVote.
      } else if (m.type === MessageType.MsgPreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; our term moves only when we win.
      } else {
        this.logger.info(`${this.id} [term: ${this.term}] received a ${MessageType[m.type]} message with higher term from ${m.from} [term: ${m.term}]`);
        if (m.type === MessageType.MsgApp || m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgSnap) {
          this.becomeFollower(m.term, m.from);
        } else {
          this.becomeFollower(m.term, None);
        }
      }
    } else if (m.term < this.term) {
      if (
        (this.checkQuorum || this.preVote || !this.promotable()) &&
        (m.type === MessageType.MsgHeartbeat || m.type === MessageType.MsgApp)
      ) {
        // A leader of an older term is talking to us. If our term moved on
        // during a partition, the old leader only learns about it from our
        // vote requests; but with PreVote / CheckQuorum those may never come,
        // and a learner (or a node that does not know it is a voter yet)
        // never campaigns at all. Answering with our term makes it step down,
        // so the cluster can elect a leader we will follow. (etcd-io/raft
        // answers only with PreVote / CheckQuorum; learners with a higher
        // term then stay stuck.)
        this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from }));
      } else if (m.type === MessageType.MsgPreVote) {
        this.logger.info(`${this.id} [term: ${this.term}] rejected ${MessageType[m.type]} from ${m.from} [term: ${m.term}]`);
        this.send(newMessage({ type: MessageType.MsgPreVoteResp, to: m.from, term: this.term, reject: true }));
      } else {
        this.logger.debug(`${this.id} [term: ${this.term}] ignored a ${MessageType[m.type]} message with lower term from ${m.from} [term: ${m.term}]`);
      }
      return;
    }

    switch (m.type) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        break;
      case MessageType.MsgVote:
      case MessageType.MsgPreVote: {
        // We can vote if this is a repeat of a vote we cast, if we have not
        // voted and know of no leader in this term, or for a PreVote of a future term.
        const canVote =
          this.vote === m.from ||
          (this.vote === None && this.lead === None) ||
          (m.type === MessageType.MsgPreVote && m.term > this.term);
        if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
          this.logger.info(`${this.id} cast ${MessageType[m.type]} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
          // The response carries the request's term: for a PreVote that is
          // the future term, which the candidate compares against its own.
          this.send(newMessage({ type: voteRespMsgType(m.type), to: m.from, term: m.term }));
          if (m.type === MessageType.MsgVote) {
            this.electionElapsed = 0;
            this.vote = m.from;
          }
        } else {
          this.logger.info(`${this.id} rejected ${MessageType[m.type]} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
          this.send(newMessage({ type: voteRespMsgType(m.type), to: m.from, term: this.term, reject: true }));
        }
        break;
      }
      default:
        this.stepFn(m);
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.MsgBeat:
        this.bcastHeartbeat();
        return;
      case MessageType.MsgCheckQuorum:
        if (!this.trk.quorumActive()) {
          this.logger.warn(`${this.id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, None);
        }
        // Start the next round of activity tracking.
        this.trk.visit((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
        return;
      case MessageType.MsgProp:
        this.leaderPropose(m);
        return;
      case MessageType.MsgReadIndex:
        if (this.trk.isSingleton()) {
          this.respondToReadIndex(m, this.raftLog.committed);
          return;
        }
        // The read index must be at least the commit index of this term;
        // until an entry of ours commits, we do not know it.
        if (!this.committedEntryInCurrentTerm()) {
          this.pendingReadIndexMessages.push(m);
          return;
        }
        this.sendReadIndexResponse(m);
        return;
    }

    const pr = this.trk.progress.get(m.from);
    if (!pr) {
      this.logger.debug(`${this.id} no progress available for ${m.from}`);
      return;
    }
    switch (m.type) {
      case MessageType.MsgAppResp:
        pr.recentActive = true;
        if (m.reject) {
          this.logger.debug(`${this.id} received MsgAppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`);
          let nextProbeIdx = m.rejectHint;
          if (m.logTerm > 0) {
            // Skip all our entries with a term above the follower's term at the hint.
            nextProbeIdx = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm)[0];
          }
          if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
            if (pr.state === ProgressStateType.Replicate) pr.becomeProbe();
            this.sendAppend(m.from);
          }
        } else if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressStateType.Probe)) {
          if (pr.state === ProgressStateType.Probe) {
            pr.becomeReplicate();
          } else if (pr.state === ProgressStateType.Snapshot && pr.match + 1 >= this.raftLog.firstIndex()) {
            // The follower caught up far enough to be served from the log.
            pr.becomeProbe();
            pr.becomeReplicate();
          } else if (pr.state === ProgressStateType.Replicate) {
            pr.inflights.freeLE(m.index);
          }
          if (this.maybeCommit()) {
            this.releasePendingReadIndexMessages();
            this.bcastAppend();
          } else if (pr.canBumpCommit(this.raftLog.committed)) {
            this.sendAppend(m.from);
          }
          // Stream as much as the flow control allows.
          while (this.maybeSendAppend(m.from, false)) {
            /* keep sending */
          }
          if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
            this.logger.info(`${this.id} sent MsgTimeoutNow to ${m.from} after received MsgAppResp`);
            this.sendTimeoutNow(m.from);
          }
        }
        return;
      case MessageType.MsgHeartbeatResp:
        pr.recentActive = true;
        pr.msgAppFlowPaused = false;
        if (pr.match < this.raftLog.lastIndex() || pr.state === ProgressStateType.Probe) this.sendAppend(m.from);
        if (this.readOnly.option !== ReadOnlyOption.Safe || !m.context || m.context.length === 0) return;
        this.readOnly.recvAck(m.from, m.context);
        for (const rs of this.readOnly.maybeAdvance(this.trk.config.voters)) {
          this.respondToReadIndex(rs.req, rs.index);
        }
        return;
      case MessageType.MsgSnapStatus:
        if (pr.state !== ProgressStateType.Snapshot) return;
        if (!m.reject) {
          pr.becomeProbe();
          this.logger.debug(`${this.id} snapshot succeeded, resumed sending replication messages to ${m.from} [${pr}]`);
        } else {
          // The snapshot did not arrive: forget it so we retry from scratch.
          pr.pendingSnapshot = 0;
          pr.becomeProbe();
          this.logger.debug(`${this.id} snapshot failed, resumed sending replication messages to ${m.from} [${pr}]`);
        }
        // Wait for a heartbeat response before probing, so the follower had
        // time to apply the snapshot.
        pr.msgAppFlowPaused = true;
        return;
      case MessageType.MsgUnreachable:
        // Optimistic appends were probably lost: go back to probing.
        if (pr.state === ProgressStateType.Replicate) pr.becomeProbe();
        this.logger.debug(`${this.id} failed to send message to ${m.from} because it is unreachable [${pr}]`);
        return;
      case MessageType.MsgTransferLeader: {
        if (pr.isLearner) {
          this.logger.debug(`${this.id} is learner. Ignored transferring leadership`);
          return;
        }
        const transferee = m.from;
        const last = this.leadTransferee;
        if (last !== None) {
          if (last === transferee) {
            this.logger.info(`${this.id} [term ${this.term}] transfer leadership to ${transferee} is in progress, ignores request to same node`);
            return;
          }
          this.abortLeaderTransfer();
          this.logger.info(`${this.id} [term ${this.term}] abort previous transferring leadership to ${last}`);
        }
        if (transferee === this.id) {
          this.logger.debug(`${this.id} is already leader. Ignored transferring leadership to self`);
          return;
        }
        this.logger.info(`${this.id} [term ${this.term}] starts to transfer leadership to ${transferee}`);
        // The transfer must finish within one election timeout.
        this.electionElapsed = 0;
        this.leadTransferee = transferee;
        if (pr.match === this.raftLog.lastIndex()) {
          this.sendTimeoutNow(transferee);
          this.logger.info(`${this.id} sends MsgTimeoutNow to ${transferee} immediately as ${transferee} already has up-to-date log`);
        } else {
          this.sendAppend(transferee);
        }
        return;
      }
    }
  }

  private leaderPropose(m: Message): void {
    if (m.entries.length === 0) throw new Error(`${this.id} stepped empty MsgProp`);
    if (!this.trk.progress.has(this.id)) {
      // We were removed from the configuration while still leading.
      throw new ErrProposalDropped();
    }
    if (this.leadTransferee !== None) {
      this.logger.debug(`${this.id} [term ${this.term}] transfer leadership to ${this.leadTransferee} is in progress; dropping proposal`);
      throw new ErrProposalDropped();
    }
    let ents = m.entries;
    for (let i = 0; i < ents.length; i++) {
      const e = ents[i];
      if (e.type === EntryType.EntryNormal) continue;
      let cc: ConfChangeV2;
      try {
        cc = e.type === EntryType.EntryConfChange ? asV2(decodeConfChange(e.data)) : decodeConfChangeV2(e.data);
      } catch {
        throw new ErrProposalDropped('raft proposal dropped: undecodable conf change');
      }
      const alreadyPending = this.pendingConfIndex > this.raftLog.applied;
      const alreadyJoint = this.trk.config.voters[1].size > 0;
      const wantsLeaveJoint = cc.changes.length === 0;
      let failed = '';
      if (alreadyPending) {
        failed = `possible unapplied conf change at index ${this.pendingConfIndex} (applied to ${this.raftLog.applied})`;
      } else if (alreadyJoint && !wantsLeaveJoint) {
        failed = 'must transition out of joint config first';
      } else if (!alreadyJoint && wantsLeaveJoint) {
        failed = 'not in joint state; refusing empty conf change';
      }
      if (failed) {
        this.logger.info(`${this.id} ignoring conf change at config ${describeTrackerConfig(this.trk.config)}: ${failed}`);
        // Keep the slot (the caller may wait for it) but make it a no-op.
        if (ents === m.entries) ents = ents.slice();
        ents[i] = newEntry();
      } else {
        this.pendingConfIndex = this.raftLog.lastIndex() + i + 1;
      }
    }
    if (!this.appendEntry(ents)) throw new ErrProposalDropped();
    this.bcastAppend();
  }

  private stepCandidate(m: Message): void {
    const myVoteRespType = this.state === StateType.PreCandidate ? MessageType.MsgPreVoteResp : MessageType.MsgVoteResp;
    switch (m.type) {
      case MessageType.MsgProp:
        this.logger.info(`${this.id} no leader at term ${this.term}; dropping proposal`);
        throw new ErrProposalDropped();
      case MessageType.MsgApp:
        this.becomeFollower(m.term, m.from); // m.term === this.term here
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case myVoteRespType: {
        const { granted, rejected, result } = this.poll(m.from, m.type, !m.reject);
        this.logger.info(`${this.id} has received ${granted} ${MessageType[m.type]} votes and ${rejected} vote rejections`);
        if (result === VoteResult.VoteWon) {
          if (this.state === StateType.PreCandidate) {
            this.campaign(CampaignType.Election);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === VoteResult.VoteLost) {
          // A rejected PreVote / vote: fall back to follower in our current term.
          this.becomeFollower(this.term, None);
        }
        return;
      }
      case MessageType.MsgTimeoutNow:
        this.logger.debug(`${this.id} [term ${this.term} state ${StateType[this.state]}] ignored MsgTimeoutNow from ${m.from}`);
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.MsgProp:
        if (this.lead === None) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping proposal`);
          throw new ErrProposalDropped();
        }
        if (this.disableProposalForwarding) {
          this.logger.info(`${this.id} not forwarding to leader ${this.lead} at term ${this.term}; dropping proposal`);
          throw new ErrProposalDropped();
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgApp:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.MsgHeartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.MsgSnap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.MsgTransferLeader:
        if (this.lead === None) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping leader transfer msg`);
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgTimeoutNow:
        this.logger.info(`${this.id} [term ${this.term}] received MsgTimeoutNow from ${m.from} and starts an election to get leadership.`);
        // Leadership transfer skips PreVote: the old leader asked for it.
        this.hup(CampaignType.Transfer);
        return;
      case MessageType.MsgReadIndex:
        if (this.lead === None) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping index reading msg`);
          return;
        }
        m.to = this.lead;
        this.send(m);
        return;
      case MessageType.MsgReadIndexResp:
        if (m.entries.length !== 1) {
          this.logger.error(`${this.id} invalid format of MsgReadIndexResp from ${m.from}, entries count: ${m.entries.length}`);
          return;
        }
        this.readStates.push({ index: m.index, requestCtx: m.entries[0].data });
        return;
    }
  }

  handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      // Everything up to our commit index matches already.
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
      return;
    }
    const lastNew = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: lastNew }));
      return;
    }
    this.logger.debug(
      `${this.id} [logterm: ${this.raftLog.zeroTermOnOutOfBounds(m.index)}, index: ${m.index}] rejected MsgApp [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`,
    );
    // Hint the leader at the last index that might match: the largest index
    // whose term is <= the leader's term at m.index. This skips whole terms
    // of divergent entries in one round trip.
    const [hintIndex, hintTerm] = this.raftLog.findConflictByTerm(Math.min(m.index, this.raftLog.lastIndex()), m.logTerm);
    this.send(
      newMessage({ type: MessageType.MsgAppResp, to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm }),
    );
  }

  handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send(newMessage({ type: MessageType.MsgHeartbeatResp, to: m.from, context: m.context }));
  }

  handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    const { index, term } = s.metadata;
    if (this.restore(s)) {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] restored snapshot [index: ${index}, term: ${term}]`);
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.lastIndex() }));
    } else {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${index}, term: ${term}]`);
      this.send(newMessage({ type: MessageType.MsgAppResp, to: m.from, index: this.raftLog.committed }));
    }
  }

  /** Installs a snapshot from the leader. Returns false if it was ignored. */
  restore(s: Snapshot): boolean {
    if (s.metadata.index <= this.raftLog.committed) return false;
    if (this.raftLog.applying > this.raftLog.applied) {
      // The application is still applying committed entries from an earlier
      // Ready (steps may arrive before advance()). Installing the snapshot
      // now would replace the configuration under the conf changes among
      // those entries. Ignore it: the leader sends it again.
      this.logger.info(`${this.id} ignored snapshot [index: ${s.metadata.index}] while entries up to ${this.raftLog.applying} are being applied`);
      return false;
    }
    if (this.state !== StateType.Follower) {
      // Only a follower of the snapshot's leader gets here; be defensive.
      this.logger.warn(`${this.id} attempted to restore snapshot as leader; should never happen`);
      this.becomeFollower(this.term + 1, None);
      return false;
    }
    const cs = s.metadata.confState;
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id) && !cs.votersOutgoing.includes(this.id)) {
      // etcd-io/raft refuses such a snapshot. It happens to a node that joined
      // after the leader's latest snapshot was taken: its own addition is in
      // the log after the snapshot. Refusing would leave it stuck forever
      // (the leader keeps sending the same snapshot), so we install it: the
      // snapshot only holds committed state, and the entries that follow
      // bring the configuration that includes this node.
      this.logger.info(`${this.id} restoring a snapshot whose configuration does not include it yet (joined after index ${s.metadata.index})`);
    }
    if (this.raftLog.matchTerm(s.metadata.index, s.metadata.term)) {
      // We already have the snapshot's last entry: just move the commit index.
      this.logger.info(`${this.id} fast-forwarded commit to snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`);
      this.raftLog.commitTo(s.metadata.index);
      return false;
    }
    this.raftLog.restore(s);
    this.trk = new ProgressTracker(this.trk.maxInflight, this.trk.maxInflightBytes);
    const [cfg, prs] = restoreConfState(this.trk, this.raftLog.lastIndex(), cs);
    this.switchToConfig(cfg, prs);
    return true;
  }

  /** Whether this node may campaign (a voter without a pending snapshot). */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasNextUnstableSnapshot();
  }

  applyConfChange(cc: ConfChangeV2): ConfState {
    const changer = new Changer(this.trk, this.raftLog.lastIndex());
    let res: [TrackerConfig, ProgressMap];
    if (leaveJoint(cc)) {
      res = changer.leaveJoint();
    } else {
      const { joint, autoLeave } = enterJoint(cc);
      res = joint ? changer.enterJoint(autoLeave, cc.changes) : changer.simple(cc.changes);
    }
    return this.switchToConfig(res[0], res[1]);
  }

  private switchToConfig(cfg: TrackerConfig, prs: ProgressMap): ConfState {
    this.trk.setConfig(cfg, prs);
    this.logger.info(`${this.id} switched to configuration ${describeTrackerConfig(cfg)}`);
    const cs = this.trk.confState();
    const pr = prs.get(this.id);
    this.isLearner = pr !== undefined && pr.isLearner;
    if ((pr === undefined || this.isLearner) && this.state === StateType.Leader) {
      // We were removed or demoted. Stepping down is optional: a leader that
      // stays on keeps replicating (it does not count itself) so the change
      // itself can commit everywhere.
      if (this.stepDownOnRemoval) this.becomeFollower(this.term, None);
      return cs;
    }
    if (this.state !== StateType.Leader || cs.voters.length === 0) return cs;
    // The quorum may have changed: maybe something commits now.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== None && !this.trk.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  loadState(hs: HardState): void {
    if (hs.commit < this.raftLog.committed || hs.commit > this.raftLog.lastIndex()) {
      throw new Error(`${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    }
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + Math.floor(this.random() * this.electionTimeout);
  }

  sendTimeoutNow(to: number): void {
    this.send(newMessage({ type: MessageType.MsgTimeoutNow, to }));
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = None;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.zeroTermOnOutOfBounds(this.raftLog.committed) === this.term;
  }

  private respondToReadIndex(req: Message, readIndex: number): void {
    if (req.from === None || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0].data });
      return;
    }
    this.send(newMessage({ type: MessageType.MsgReadIndexResp, to: req.from, index: readIndex, entries: req.entries }));
  }

  private sendReadIndexResponse(m: Message): void {
    if (this.readOnly.option === ReadOnlyOption.LeaseBased) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    this.readOnly.addRequest(this.raftLog.committed, m);
    // Our own acknowledgement; the followers' come with heartbeat responses.
    this.readOnly.recvAck(this.id, this.readOnly.heartbeatCtx());
    this.bcastHeartbeat();
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) return;
    const msgs = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of msgs) this.sendReadIndexResponse(m);
  }

  increaseUncommittedSize(ents: Entry[]): boolean {
    const s = payloadsSize(ents);
    // Always accept an empty payload, and anything when nothing is pending,
    // so a single large entry can still get through.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(s: number): void {
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  /** Called by RawNode.advance once the application persisted and applied a Ready. */
  advance(committed: Entry[], lastEntry: Entry | undefined, snapshot: Snapshot | undefined): void {
    let newApplied = 0;
    if (snapshot) {
      this.raftLog.stableSnapTo(snapshot.metadata.index);
      newApplied = snapshot.metadata.index;
    }
    if (committed.length > 0) {
      newApplied = Math.max(newApplied, committed[committed.length - 1].index);
      this.reduceUncommittedSize(payloadsSize(committed));
    }
    if (newApplied > this.raftLog.applied) {
      this.raftLog.appliedTo(newApplied);
      if (this.trk.config.autoLeave && newApplied >= this.pendingConfIndex && this.state === StateType.Leader) {
        // The joint config was entered with auto-leave: propose leaving it.
        const data = encodeConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [] });
        try {
          this.step(newMessage({ type: MessageType.MsgProp, entries: [newEntry({ type: EntryType.EntryConfChangeV2, data })] }));
          this.logger.info(`${this.id} initiating automatic transition out of joint configuration`);
        } catch (err) {
          this.logger.debug(`${this.id} not initiating automatic transition out of joint configuration: ${String(err)}`);
        }
      }
    }
    if (lastEntry) this.raftLog.stableTo(lastEntry.index, lastEntry.term);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export { CampaignType };

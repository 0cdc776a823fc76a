// Quorum arithmetic, per-follower replication progress and the progress tracker.

import { ConfState } from './types';

// ---------------------------------------------------------------- quorum

export enum VoteResult {
  /** Neither won nor lost yet: some votes are missing. */
  VotePending = 1,
  VoteLost = 2,
  VoteWon = 3,
}

/** Highest index acknowledged by a majority of voters (Infinity for an empty config). */
export function majorityCommittedIndex(voters: ReadonlySet<number>, acked: (id: number) => number | undefined): number {
  const n = voters.size;
  if (n === 0) return Infinity;
  const srt: number[] = new Array(n);
  let i = 0;
  for (const id of voters) srt[i++] = acked(id) ?? 0;
  srt.sort((a, b) => a - b);
  return srt[n - (Math.floor(n / 2) + 1)];
}

export function majorityVoteResult(voters: ReadonlySet<number>, votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.VoteWon;
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (yes >= q) return VoteResult.VoteWon;
  if (yes + missing >= q) return VoteResult.VotePending;
  return VoteResult.VoteLost;
}

/** A configuration: incoming voters [0] and, while joint, outgoing voters [1]. */
export type JointConfig = [Set<number>, Set<number>];

export function jointCommittedIndex(c: JointConfig, acked: (id: number) => number | undefined): number {
  return Math.min(majorityCommittedIndex(c[0], acked), majorityCommittedIndex(c[1], acked));
}

export function jointVoteResult(c: JointConfig, votes: ReadonlyMap<number, boolean>): VoteResult {
  const r1 = majorityVoteResult(c[0], votes);
  const r2 = majorityVoteResult(c[1], votes);
  if (r1 === r2) return r1;
  if (r1 === VoteResult.VoteLost || r2 === VoteResult.VoteLost) return VoteResult.VoteLost;
  return VoteResult.VotePending;
}

export function jointIds(c: JointConfig): Set<number> {
  const s = new Set(c[0]);
  for (const id of c[1]) s.add(id);
  return s;
}

// ---------------------------------------------------------------- inflights

/**
 * Sliding window of in-flight MsgApp messages to one follower (the last index
 * each carried, and its payload bytes), bounded in count and bytes.
 */
export class Inflights {
  private start = 0;
  private count_ = 0;
  private bytes_ = 0;
  private readonly buffer: number[] = [];
  private readonly sizes: number[] = [];

  constructor(
    readonly size: number,
    readonly maxBytes: number = Infinity,
  ) {}

  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    for (let i = 0; i < this.count_; i++) {
      const k = (this.start + i) % this.size;
      c.add(this.buffer[k], this.sizes[k]);
    }
    return c;
  }

  add(index: number, bytes: number): void {
    if (this.full()) throw new Error('cannot add into a full inflights');
    let next = this.start + this.count_;
    if (next >= this.size) next -= this.size;
    this.buffer[next] = index;
    this.sizes[next] = bytes;
    this.count_++;
    this.bytes_ += bytes;
  }

  /** Frees every in-flight message whose last index is <= to. */
  freeLE(to: number): void {
    if (this.count_ === 0 || to < this.buffer[this.start]) return;
    let idx = this.start;
    let i = 0;
    let bytes = 0;
    for (; i < this.count_; i++) {
      if (to < this.buffer[idx]) break;
      bytes += this.sizes[idx];
      if (++idx >= this.size) idx -= this.size;
    }
    this.count_ -= i;
    this.bytes_ -= bytes;
    this.start = idx;
    if (this.count_ === 0) this.start = 0;
  }

  full(): boolean {
    return this.count_ === this.size || (this.maxBytes !== Infinity && this.bytes_ >= this.maxBytes);
  }

  count(): number {
    return this.count_;
  }

  bytes(): number {
    return this.bytes_;
  }

  reset(): void {
    this.count_ = 0;
    this.start = 0;
    this.bytes_ = 0;
  }
}

// ---------------------------------------------------------------- progress

export enum ProgressStateType {
  /** Send at most one append per heartbeat interval until the follower's match is known. */
  Probe = 0,
  /** Stream appends optimistically, bounded by the inflight window. */
  Replicate = 1,
  /** A snapshot is in flight; pause appends until it is reported. */
  Snapshot = 2,
}

/** The leader's view of one follower. */
export class Progress {
  match = 0;
  next: number;
  /** Highest commit index sent to the follower. */
  sentCommit = 0;
  state = ProgressStateType.Probe;
  pendingSnapshot = 0;
  /** Heard from the follower since the last CheckQuorum. */
  recentActive = false;
  /** Probe: an append was sent and unacknowledged. Replicate: the window is full. */
  msgAppFlowPaused = false;
  inflights: Inflights;
  isLearner: boolean;

  constructor(next: number, inflights: Inflights, isLearner: boolean, recentActive = false) {
    this.next = next;
    this.inflights = inflights;
    this.isLearner = isLearner;
    this.recentActive = recentActive;
  }

  clone(): Progress {
    const p = new Progress(this.next, this.inflights.clone(), this.isLearner, this.recentActive);
    p.match = this.match;
    p.sentCommit = this.sentCommit;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.msgAppFlowPaused = this.msgAppFlowPaused;
    return p;
  }

  private resetState(state: ProgressStateType): void {
    this.msgAppFlowPaused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressStateType.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressStateType.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressStateType.Probe);
      this.next = this.match + 1;
    }
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  becomeReplicate(): void {
    this.resetState(ProgressStateType.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressStateType.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
  }

  /** Bookkeeping after sending an append with `entries` entries of `bytes` payload. */
  sentEntries(entries: number, bytes: number): void {
    switch (this.state) {
      case ProgressStateType.Replicate:
        if (entries > 0) {
          this.next += entries;
          this.inflights.add(this.next - 1, bytes);
        }
        this.msgAppFlowPaused = this.inflights.full();
        break;
      case ProgressStateType.Probe:
        if (entries > 0) this.msgAppFlowPaused = true;
        break;
      default:
        throw new Error(`sending append in unhandled state ${ProgressStateType[this.state]}`);
    }
  }

  /** Whether sending an (empty) append would tell the follower a newer commit index. */
  canBumpCommit(index: number): boolean {
    return index > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** Records an acknowledgement up to n. Returns false if it is stale. */
  maybeUpdate(n: number): boolean {
    if (n <= this.match) return false;
    this.match = n;
    this.next = Math.max(this.next, n + 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  /**
   * Handles a rejected append for index `rejected`, with the follower's hint
   * `matchHint`. Returns false if the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressStateType.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.msgAppFlowPaused = false;
    return true;
  }

  isPaused(): boolean {
    if (this.state === ProgressStateType.Snapshot) return true;
    return this.msgAppFlowPaused;
  }

  toString(): string {
    let s = `${ProgressStateType[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    if (this.inflights.count() > 0) s += ` inflight=${this.inflights.count()}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }
}

// ---------------------------------------------------------------- tracker

export interface TrackerConfig {
  voters: JointConfig;
  /** In a joint config, leave it automatically once the entering change is applied. */
  autoLeave: boolean;
  learners: Set<number>;
  /** Voters of the outgoing config that become learners when the joint config is left. */
  learnersNext: Set<number>;
}

export function emptyTrackerConfig(): TrackerConfig {
  return { voters: [new Set(), new Set()], autoLeave: false, learners: new Set(), learnersNext: new Set() };
}

export function cloneTrackerConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [new Set(c.voters[0]), new Set(c.voters[1])],
    autoLeave: c.autoLeave,
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
  };
}

const sortedIds = (s: Iterable<number>): number[] => Array.from(s).sort((a, b) => a - b);

export function describeTrackerConfig(c: TrackerConfig): string {
  let s = `voters=(${sortedIds(c.voters[0]).join(' ')})`;
  if (c.voters[1].size > 0) s += `&&(${sortedIds(c.voters[1]).join(' ')})`;
  if (c.learners.size > 0) s += ` learners=(${sortedIds(c.learners).join(' ')})`;
  if (c.learnersNext.size > 0) s += ` learners_next=(${sortedIds(c.learnersNext).join(' ')})`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}

export type ProgressMap = Map<number, Progress>;

export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: ProgressMap = new Map();
  votes = new Map<number, boolean>();
  private sorted: number[] | undefined;

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number = Infinity,
  ) {}

  setConfig(config: TrackerConfig, progress: ProgressMap): void {
    this.config = config;
    this.progress = progress;
    this.sorted = undefined;
  }

  confState(): ConfState {
    return {
      voters: sortedIds(this.config.voters[0]),
      votersOutgoing: sortedIds(this.config.voters[1]),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  /** Largest index acknowledged by a quorum (joint-aware). */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** Ids of all tracked nodes, ascending. */
  ids(): number[] {
    if (!this.sorted) this.sorted = sortedIds(this.progress.keys());
    return this.sorted;
  }

  visit(f: (id: number, pr: Progress) => void): void {
    for (const id of this.ids()) {
      const pr = this.progress.get(id);
      if (pr) f(id, pr);
    }
  }

  /** Whether a quorum of voters has been recently active. */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return jointVoteResult(this.config.voters, votes) === VoteResult.VoteWon;
  }

  voterNodes(): number[] {
    return sortedIds(jointIds(this.config.voters));
  }

  learnerNodes(): number[] {
    return sortedIds(this.config.learners);
  }

  isVoter(id: number): boolean {
    return this.config.voters[0].has(id) || this.config.voters[1].has(id);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  recordVote(id: number, v: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, v);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}

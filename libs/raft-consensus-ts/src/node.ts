// Node: drives a RawNode on the Node.js event loop.
//
// It owns the tick timer and the Ready loop, in the order raft requires:
//   1. persist the snapshot, entries and hard state (fsync when mustSync)
//   2. send the messages through the transport
//   3. apply the snapshot and committed entries (conf changes included)
//   4. advance
// Steps (from the transport, proposals, ticks) that arrive while a Ready is
// being handled are stepped right away and picked up by the next Ready, so
// work naturally batches: one Ready (one fsync) per turn of the loop.

import { asV2 } from './confchange';
import { decodeConfChange, decodeConfChangeV2 } from './codec';
import { ErrProposalDropped, ErrStepPeerNotFound, ErrStopped, RaftError } from './errors';
import { Logger, noopLogger } from './logger';
import { Config } from './raft';
import { RawNode, Ready, Status } from './rawnode';
import { PersistentStorage } from './storage';
import {
  ConfChange,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  Message,
  Snapshot,
  SnapshotStatus,
  SoftState,
  StateType,
} from './types';

/** Delivers messages to peers. Must not throw; report failures with Node.reportUnreachable / reportSnapshot. */
export interface Transport {
  send(messages: Message[]): void;
}

export interface NodeOptions {
  /** A RawNode built on `storage`, or the config to build one (storage comes from `storage`). */
  raft: RawNode | Omit<Config, 'storage'>;
  /** Where Ready contents are persisted; also the Storage raft reads. */
  storage: PersistentStorage;
  transport: Transport;
  /** Tick interval in milliseconds; 0 disables the timer (call tick() yourself). */
  tickMs: number;
  /**
   * Applies committed entries in order. Conf change entries are included:
   * each comes last in its call, and the Node applies it to raft (then calls
   * onConfChange) when the call returns.
   */
  onApply(entries: Entry[]): Promise<void> | void;
  /** Replaces the state machine with a snapshot received from the leader. */
  onSnapshot?(snapshot: Snapshot): Promise<void> | void;
  /** Leader or role changed. */
  onSoftState?(ss: SoftState): void;
  /** A conf change was applied; cs is the new configuration. */
  onConfChange?(cc: ConfChangeV2, cs: ConfState, entry: Entry): void;
  /** A fatal error (storage or apply failed): the node has stopped. Defaults to logging it. */
  onError?(err: Error): void;
  /** For the members of a brand-new cluster: bootstrap with these voters if the storage is empty. */
  bootstrapPeers?: number[];
  /** How long readIndex() waits for its read state. Default 5000 ms. */
  readIndexTimeoutMs?: number;
  /**
   * How often readIndex() asks again while it has no answer (a request made
   * while there was no leader, or lost with a message, is dropped by raft,
   * not queued). Default 500 ms, etcd's readIndexRetryTime.
   */
  readIndexRetryMs?: number;
  /**
   * Persist each Ready with storage.save() on the event loop even when the
   * storage has saveAsync(). Default false: saveAsync() runs the fsync on
   * libuv's thread pool and the loop keeps stepping messages meanwhile.
   *
   * A synchronous fsync blocks the loop for its duration but needs no thread
   * hand-offs: the async one wakes a pool thread, which wakes the loop again
   * when the disk is done, and on a small (virtual) machine those wake-ups
   * cost more CPU and latency than the blocked loop does. A leader still
   * sends before it persists; with a transport whose send() hands the bytes
   * to the kernel at once (a socket write), followers get them before the
   * leader's fsync starts.
   */
  syncWrites?: boolean;
  logger?: Logger;
}

interface PendingProposal {
  data: Uint8Array;
  resolve(): void;
  reject(err: Error): void;
}

interface PendingRead {
  resolve(index: number): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class ErrReadIndexTimeout extends RaftError {
  constructor() {
    super('raft: read index request timed out');
  }
}

export class Node {
  readonly rawNode: RawNode;
  private readonly opts: NodeOptions;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = false;
  private scheduled = false;
  private loop: Promise<void> | undefined;
  private proposals: PendingProposal[] = [];
  private readonly reads = new Map<string, PendingRead>();
  private readSeq = 0;
  private applied: number;
  private appliedWaiters: { index: number; resolve(): void; reject(err: Error): void }[] = [];
  private confState: ConfState;
  private softState: SoftState;
  /** Last index of the entries onApply is working on (0 outside onApply). */
  private applying = 0;
  private deferredSnapshot: { data: Uint8Array; keepEntries: number } | undefined;

  constructor(opts: NodeOptions) {
    this.opts = opts;
    this.logger = opts.logger ?? noopLogger;
    if (opts.raft instanceof RawNode) {
      this.rawNode = opts.raft;
    } else {
      this.rawNode = new RawNode({ logger: this.logger, ...opts.raft, storage: opts.storage });
    }
    if (opts.bootstrapPeers && opts.storage.lastIndex() === 0 && opts.storage.snapshot().metadata.index === 0) {
      const { hardState } = opts.storage.initialState();
      if (hardState.term === 0 && hardState.vote === 0 && hardState.commit === 0) this.rawNode.bootstrap(opts.bootstrapPeers);
    }
    this.applied = this.rawNode.raft.raftLog.applied;
    this.confState = this.rawNode.raft.trk.confState();
    this.softState = this.rawNode.raft.softState();
  }

  get id(): number {
    return this.rawNode.id;
  }

  /** Highest index applied to the state machine. */
  get appliedIndex(): number {
    return this.applied;
  }

  /** Highest index known to be committed. */
  get committedIndex(): number {
    return this.rawNode.raft.raftLog.committed;
  }

  /** The configuration as of the last applied conf change (for snapshots). */
  get currentConfState(): ConfState {
    return this.confState;
  }

  get isLeader(): boolean {
    return this.softState.raftState === StateType.Leader;
  }

  get leader(): number {
    return this.softState.lead;
  }

  /** Starts the tick timer and the Ready loop. */
  start(): void {
    if (this.running) return;
    if (this.stopped) throw new ErrStopped();
    this.running = true;
    if (this.opts.tickMs > 0) {
      this.timer = setInterval(() => this.tick(), this.opts.tickMs);
    }
    this.schedule();
  }

  /** Stops the timer, finishes the Ready being handled, and fails pending requests. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.loop) await this.loop.catch(() => undefined);
    this.failPending(new ErrStopped());
  }

  /** One logical clock tick (the timer calls this; call it directly when tickMs is 0). */
  tick(): void {
    if (!this.running) return;
    this.rawNode.tick();
    this.schedule();
  }

  /**
   * Proposes data. Resolves once the proposal entered the log path (appended
   * by the leader, or forwarded to it), like etcd's Node.Propose: it is not
   * committed yet. Rejects with ErrProposalDropped if it could not be.
   */
  propose(data: Uint8Array): Promise<void> {
    if (!this.running) return Promise.reject(new ErrStopped());
    return new Promise<void>((resolve, reject) => {
      this.proposals.push({ data, resolve, reject });
      this.schedule();
    });
  }

  /** Proposes a configuration change (applied to raft when committed). */
  proposeConfChange(cc: ConfChange | ConfChangeV2): Promise<void> {
    if (!this.running) return Promise.reject(new ErrStopped());
    this.flushProposals();
    try {
      this.rawNode.proposeConfChange(cc);
    } catch (err) {
      return Promise.reject(err);
    }
    this.schedule();
    return Promise.resolve();
  }

  /**
   * Linearizable read: resolves with an index such that a read served after
   * the state machine has applied it (see waitForApplied) is up to date.
   */
  readIndex(): Promise<number> {
    if (!this.running) return Promise.reject(new ErrStopped());
    const seq = ++this.readSeq;
    const ctx = new Uint8Array(16);
    const dv = new DataView(ctx.buffer);
    dv.setFloat64(0, this.id);
    dv.setFloat64(8, seq);
    const key = Buffer.from(ctx).toString('hex');
    return new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const timeoutMs = this.opts.readIndexTimeoutMs ?? 5000;
      const retryMs = this.opts.readIndexRetryMs ?? 500;
      // Ask again with the same context until a read state answers it: the
      // first answer resolves, later ones find no entry and are ignored.
      const ask = (): void => {
        if (!this.running) return;
        this.rawNode.readIndex(ctx);
        this.schedule();
        const left = timeoutMs - (Date.now() - started);
        const entry = this.reads.get(key);
        if (!entry) return;
        entry.timer = left <= retryMs ? setTimeout(() => {
          this.reads.delete(key);
          reject(new ErrReadIndexTimeout());
        }, left) : setTimeout(ask, retryMs);
      };
      this.reads.set(key, { resolve, reject, timer: undefined as unknown as NodeJS.Timeout });
      ask();
    });
  }

  /** Resolves once the state machine has applied index. */
  waitForApplied(index: number): Promise<void> {
    if (this.applied >= index) return Promise.resolve();
    if (this.stopped) return Promise.reject(new ErrStopped());
    return new Promise<void>((resolve, reject) => this.appliedWaiters.push({ index, resolve, reject }));
  }

  /** Steps a message received from a peer. */
  step(m: Message): void {
    if (!this.running) return;
    try {
      this.rawNode.step(m);
    } catch (err) {
      // A forwarded proposal the leader cannot take, or a straggler from a
      // removed peer: the sender will time out / retry.
      if (err instanceof ErrProposalDropped || err instanceof ErrStepPeerNotFound) {
        this.logger.debug(`raft node ${this.id}: ignored message from ${m.from}: ${err.message}`);
      } else {
        this.fail(err as Error);
        return;
      }
    }
    this.schedule();
  }

  /** Starts an election now. */
  campaign(): void {
    if (!this.running) return;
    this.rawNode.campaign();
    this.schedule();
  }

  /** Asks the leader to hand over leadership to transferee. */
  transferLeadership(transferee: number): void {
    if (!this.running) return;
    this.rawNode.transferLeader(transferee);
    this.schedule();
  }

  reportUnreachable(id: number): void {
    if (!this.running) return;
    this.rawNode.reportUnreachable(id);
    this.schedule();
  }

  reportSnapshot(id: number, status: SnapshotStatus): void {
    if (!this.running) return;
    this.rawNode.reportSnapshot(id, status);
    this.schedule();
  }

  /**
   * Records an application snapshot and compacts the log, keeping
   * `keepEntries` entries before it for slow followers.
   *
   * Outside onApply, `data` must be the state machine as of appliedIndex; the
   * snapshot is taken at once and returned. From inside onApply, `data` must be
   * the state after applying all the entries of that call: the snapshot is
   * taken once they (and any conf change among them) are applied, at the
   * index of the last one, and undefined is returned.
   * If the newest snapshot is already at that index, nothing is written.
   */
  snapshot(data: Uint8Array, keepEntries = 0): Snapshot | undefined {
    if (this.applying > 0) {
      this.deferredSnapshot = { data, keepEntries };
      return undefined;
    }
    return this.takeSnapshot(data, keepEntries);
  }

  private takeSnapshot(data: Uint8Array, keepEntries: number): Snapshot {
    const index = this.applied;
    const current = this.opts.storage.snapshot();
    if (index <= current.metadata.index) return current;
    const snap = this.opts.storage.createSnapshot(index, this.confState, data);
    const compactTo = index - keepEntries;
    if (compactTo >= this.opts.storage.firstIndex()) this.opts.storage.compact(compactTo);
    return snap;
  }

  status(): Status {
    return this.rawNode.status();
  }

  // ------------------------------------------------------------ the loop

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    if (this.loop) return; // the running loop checks again before it exits
    this.loop = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.run());
  }

  private async run(): Promise<void> {
    try {
      while (this.running && this.scheduled) {
        this.scheduled = false;
        this.flushProposals();
        while (this.running && this.rawNode.hasReady()) {
          await this.handleReady(this.rawNode.ready());
          this.flushProposals();
        }
        if (this.scheduled) {
          // more work arrived while we were applying: yield once so I/O
          // callbacks (incoming messages, proposals) can batch into it
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.loop = undefined;
      if (this.scheduled && this.running) {
        this.scheduled = false;
        this.schedule();
      }
    }
  }

  private flushProposals(): void {
    if (this.proposals.length === 0) return;
    const batch = this.proposals;
    this.proposals = [];
    try {
      this.rawNode.proposeBatch(batch.map((p) => p.data));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    }
    for (const p of batch) p.resolve();
  }

  private async handleReady(rd: Ready): Promise<void> {
    // A leader may send before persisting: its followers write the entries
    // in parallel with it (Raft thesis 10.2.1, as etcd does). Everything the
    // leader's messages reveal about commitment waits for the next Ready, which
    // starts only after this one's entries are durable here. Anyone else
    // persists first: votes and acknowledgements must be durable when sent.
    const leader = (rd.softState ?? this.softState).raftState === StateType.Leader;
    if (leader && rd.messages.length > 0) this.opts.transport.send(rd.messages);
    // 1. persist
    const storage = this.opts.storage;
    if (storage.saveAsync && !this.opts.syncWrites) await storage.saveAsync(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    else storage.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    // 2. send
    if (!leader && rd.messages.length > 0) this.opts.transport.send(rd.messages);
    // 3. apply
    if (rd.softState) {
      this.softState = rd.softState;
      this.opts.onSoftState?.(rd.softState);
    }
    if (rd.snapshot) {
      await this.opts.onSnapshot?.(rd.snapshot);
      this.confState = rd.snapshot.metadata.confState;
      this.applied = Math.max(this.applied, rd.snapshot.metadata.index);
    }
    // Committed entries go to onApply in runs that end at a conf change, so
    // each conf change is applied to raft right after the application applied
    // it, and a snapshot requested from onApply sees a consistent config.
    const ents = rd.committedEntries;
    let start = 0;
    for (let i = 0; i < ents.length; i++) {
      if (ents[i].type === EntryType.EntryNormal && i !== ents.length - 1) continue;
      const run = start === 0 && i === ents.length - 1 ? ents : ents.slice(start, i + 1);
      start = i + 1;
      const last = run[run.length - 1];
      this.applying = last.index;
      try {
        await this.opts.onApply(run);
      } finally {
        this.applying = 0;
      }
      if (last.type !== EntryType.EntryNormal) {
        const cc = last.type === EntryType.EntryConfChange ? asV2(decodeConfChange(last.data)) : decodeConfChangeV2(last.data);
        this.confState = this.rawNode.applyConfChange(cc);
        this.opts.onConfChange?.(cc, this.confState, last);
      }
      this.applied = last.index;
      if (this.deferredSnapshot) {
        const d = this.deferredSnapshot;
        this.deferredSnapshot = undefined;
        this.takeSnapshot(d.data, d.keepEntries);
      }
    }
    for (const rs of rd.readStates) {
      const key = Buffer.from(rs.requestCtx).toString('hex');
      const p = this.reads.get(key);
      if (p) {
        this.reads.delete(key);
        clearTimeout(p.timer);
        p.resolve(rs.index);
      }
    }
    // 4. advance
    this.rawNode.advance(rd);
    this.notifyApplied();
  }

  private notifyApplied(): void {
    if (this.appliedWaiters.length === 0) return;
    const still: typeof this.appliedWaiters = [];
    for (const w of this.appliedWaiters) {
      if (w.index <= this.applied) w.resolve();
      else still.push(w);
    }
    this.appliedWaiters = still;
  }

  private failPending(err: Error): void {
    for (const p of this.proposals) p.reject(err);
    this.proposals = [];
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.reads.clear();
    for (const w of this.appliedWaiters) w.reject(err);
    this.appliedWaiters = [];
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    this.logger.error(`raft node ${this.id}: fatal error, stopping: ${err.stack ?? err.message}`);
    this.stopped = true;
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.failPending(err);
    this.opts.onError?.(err);
  }
}

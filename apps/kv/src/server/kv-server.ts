import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { InternalRequest } from '@kubets/proto/kubets/kv/v1/raft_internal';
import type { ResponseHeader } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { GrpcStatusError } from '@kubets/service-kit';
import type { Logger } from 'pino';
import {
  ConfChangeType,
  EntryType,
  ErrProposalDropped,
  Node,
  StateType,
  WalStorage,
  type ConfChangeV2,
  type ConfState,
  type Entry,
  type Message,
  type Snapshot,
  type SoftState,
} from 'raft-consensus-ts';
import { Applier } from '../apply/applier';
import { ApplyError, Errors } from '../errors';
import { Lessor } from '../lease/lessor';
import { MvccStore } from '../mvcc/store';
import { decodeState, encodeState, type KvState } from '../snapshot/state';
import { WatchHub } from '../watch/hub';
import { Membership, type MemberRecord } from './members';

export type RequestBody = NonNullable<InternalRequest['request']>;

export interface KvServerOptions {
  name: string;
  dataDir: string;
  memberId: number;
  clusterId: number;
  /** Members of a new cluster (ignored when the data dir already holds state). */
  initialMembers: MemberRecord[];
  /** true: bootstrap a new cluster; false: join an existing one (state comes from the leader). */
  newCluster: boolean;
  clientUrls: string[];
  heartbeatMs: number;
  electionMs: number;
  snapshotCount: number;
  /** Entries kept behind a snapshot for slow followers (etcd: 5000). */
  snapshotCatchUpEntries?: number;
  maxRequestBytes: number;
  quotaBackendBytes: number;
  progressNotifyMs?: number;
  log: Logger;
  /** Sends Raft messages to peers (the peer transport). */
  send(messages: Message[]): void;
}

interface Waiter {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * TEST ONLY: KUBETS_KV_UNSAFE_LOCAL_READS=1 serves linearizable reads from
 * local state without ReadIndex. That breaks linearizability on purpose: the
 * linearizability test runs a cluster with it to prove its checker catches
 * stale reads. Never set it anywhere else.
 */
const UNSAFE_LOCAL_READS = process.env.KUBETS_KV_UNSAFE_LOCAL_READS === '1';

/** The version string kubets-kv reports (etcd's API level, plus what answers). */
export const KV_VERSION = '3.4.0-kubets';

/**
 * One kubets-kv member: the Raft node (WAL on disk), the state machine
 * (MVCC store, lessor, membership) applied from committed entries, the watch
 * hub, and the request paths the gRPC API uses:
 *
 * - writes: propose(request) -> the entry commits -> every member applies it
 *   -> the proposer's waiter gets the apply result (or etcd's timeout);
 * - linearizable reads: ReadIndex, batched: all reads that arrive while one
 *   ReadIndex round is in flight share the next round; each round waits
 *   until the state machine applied the read index, then the reads run
 *   locally;
 * - serializable reads: straight from the local state machine.
 */
export class KvServer extends EventEmitter {
  readonly store = new MvccStore();
  readonly lessor: Lessor;
  readonly applier: Applier;
  readonly membership: Membership;
  readonly hub: WatchHub;
  readonly node: Node;
  private readonly storage: WalStorage;
  private readonly waiters = new Map<bigint, Waiter>();
  private nextRequestId: bigint;
  private leaderId = 0;
  private lastSnapshotIndex = 0;
  private consistentIndex = 0;
  private leaseTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly requestTimeoutMs: number;
  private readonly leaderWaiters = new Set<() => void>();
  // linearizable read batching
  private readRound: Promise<void> | undefined;
  private nextRoundWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  /** Active alarms (NOSPACE), replicated through Raft. */
  private readonly alarms = new Set<number>();

  constructor(private readonly opts: KvServerOptions) {
    super();
    this.setMaxListeners(0);
    const log = opts.log;
    const raftLog = raftLogger(log);
    this.requestTimeoutMs = 5_000 + 2 * opts.electionMs;
    const minTtl = Math.ceil((1.5 * opts.electionMs) / 1000);
    this.lessor = new Lessor(minTtl);
    this.applier = new Applier(this.store, this.lessor);
    this.membership = new Membership(opts.clusterId);
    this.hub = new WatchHub(this.store, {
      header: (rev) => this.header(rev),
      progressIntervalMs: opts.progressNotifyMs,
      maxResponseBytes: opts.maxRequestBytes,
    });
    this.nextRequestId = (BigInt(Date.now()) << 16n) & ((1n << 63n) - 1n);

    const walDir = path.join(opts.dataDir, 'member');
    fs.mkdirSync(walDir, { recursive: true });
    this.storage = WalStorage.open(walDir, { logger: raftLog });
    const snap = this.storage.snapshot();
    const restored = snap.metadata.index > 0;
    if (restored) {
      this.restoreState(decodeState(snap.data));
      this.lastSnapshotIndex = snap.metadata.index;
      log.info({ index: snap.metadata.index, revision: this.store.currentRev }, 'restored state from snapshot');
    } else {
      for (const m of opts.initialMembers) this.membership.add({ ...m });
    }
    const electionTick = Math.max(2, Math.round(opts.electionMs / opts.heartbeatMs));
    const hasState = this.storage.lastIndex() > 0 || restored;
    this.node = new Node({
      raft: {
        id: opts.memberId,
        electionTick,
        heartbeatTick: 1,
        applied: snap.metadata.index,
        maxSizePerMsg: 1024 * 1024,
        maxInflightMsgs: 256,
        maxUncommittedEntriesSize: 1 << 30,
        checkQuorum: true,
        preVote: true,
        logger: raftLog,
      },
      storage: this.storage,
      transport: { send: (messages) => opts.send(messages) },
      tickMs: opts.heartbeatMs,
      onApply: (entries) => this.applyEntries(entries),
      onSnapshot: (snapshot) => this.installSnapshot(snapshot),
      onSoftState: (ss) => this.onSoftState(ss),
      onConfChange: (cc, cs) => this.onConfChange(cc, cs),
      onError: (err) => {
        log.fatal({ err }, 'raft node failed');
        this.failAll(Errors.stopped());
      },
      bootstrapPeers: !hasState && opts.newCluster ? opts.initialMembers.map((m) => m.id) : undefined,
      readIndexTimeoutMs: this.requestTimeoutMs,
      logger: raftLog,
    });
  }

  get memberId(): number {
    return this.opts.memberId;
  }

  get clusterId(): number {
    return this.membership.clusterId;
  }

  get leader(): number {
    return this.leaderId;
  }

  get isLeader(): boolean {
    return this.leaderId === this.opts.memberId && this.leaderId !== 0;
  }

  get raftTerm(): number {
    return this.term;
  }

  /** The current Raft term (followers learn it from the leader's messages). */
  private get term(): number {
    return this.node.rawNode.raft.term;
  }

  get appliedIndex(): number {
    return this.node.appliedIndex;
  }

  get activeAlarms(): number[] {
    return [...this.alarms];
  }

  start(): void {
    if (UNSAFE_LOCAL_READS) this.opts.log.warn('KUBETS_KV_UNSAFE_LOCAL_READS=1: linearizable reads are served locally (test-only, NOT linearizable)');
    this.node.start();
    // The only voter need not wait out an election timeout (etcd fast-forwards
    // its election ticks for a one-member cluster the same way).
    // Raft refuses to campaign while committed conf changes are unapplied (a
    // new cluster's bootstrap entries): campaign once they are.
    const cs = this.node.currentConfState;
    if (cs.voters.length === 1 && cs.voters[0] === this.opts.memberId && cs.votersOutgoing.length === 0) {
      this.node.waitForApplied(this.node.committedIndex).then(
        () => {
          if (!this.stopped && this.node.leader === 0) this.node.campaign();
        },
        () => undefined,
      );
    }
    this.leaseTimer = setInterval(() => this.revokeExpiredLeases(), 500);
    // Publish this member's name and client URLs once a leader exists (like etcd's publish).
    void this.publishAttributes();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    // A leader hands over first, as etcd's Stop does: the others need not
    // wait out an election timeout (requests meanwhile get "server stopped"
    // and clients retry elsewhere).
    await this.handOverLeadership();
    this.hub.close();
    await this.node.stop();
    this.failAll(Errors.stopped());
    this.storage.close();
  }

  header(revision = this.store.currentRev): ResponseHeader {
    return {
      clusterId: BigInt(this.membership.clusterId),
      memberId: BigInt(this.opts.memberId),
      revision: BigInt(revision),
      raftTerm: BigInt(this.term),
    };
  }

  /** Step a Raft message received from a peer. */
  step(message: Message): void {
    this.node.step(message);
  }

  // ---------------------------------------------------------------- writes

  /** Replicate a request and resolve with its apply result (headers filled in). */
  async propose<T>(request: RequestBody): Promise<T> {
    if (this.stopped) throw Errors.stopped();
    this.checkQuota(request);
    const id = this.nextRequestId++;
    const data = InternalRequest.encode({ id, proposer: BigInt(this.opts.memberId), request }).finish();
    if (data.length > this.opts.maxRequestBytes) throw Errors.requestTooLarge();
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(this.leaderId === 0 ? Errors.timeoutDueToLeaderFail() : Errors.timeout());
      }, this.requestTimeoutMs);
      this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
    });
    const deadline = Date.now() + this.requestTimeoutMs;
    // A proposal made while no leader is known is dropped by Raft: wait for one and retry.
    for (;;) {
      try {
        await this.node.propose(data);
        break;
      } catch (err) {
        if (!(err instanceof ErrProposalDropped) || Date.now() >= deadline) {
          this.settle(id, undefined, err instanceof ErrProposalDropped ? Errors.timeout() : Errors.stopped());
          break;
        }
        await this.waitForLeader(deadline - Date.now());
      }
    }
    const value = await result;
    return value;
  }

  /**
   * etcd's space quota: requests that add data (puts, txns with puts, lease
   * grants) are refused once the store would exceed --quota-backend-bytes;
   * the first refusal raises the NOSPACE alarm cluster-wide, which keeps
   * refusing them until an operator compacts and disarms it.
   */
  private checkQuota(request: RequestBody): void {
    const cost = requestCost(request);
    if (cost === 0) return;
    if (this.alarms.has(ALARM_NOSPACE)) throw Errors.noSpace();
    const quota = this.opts.quotaBackendBytes > 0 ? this.opts.quotaBackendBytes : DEFAULT_QUOTA_BYTES;
    if (this.store.approxBytes + cost <= quota) return;
    this.opts.log.warn({ bytes: this.store.approxBytes, quota }, 'space quota exceeded: raising the NOSPACE alarm');
    void this.propose({ $case: 'alarm', value: { action: 1, memberID: BigInt(this.opts.memberId), alarm: ALARM_NOSPACE } }).catch(
      (err: Error) => this.opts.log.warn({ err: err.message }, 'could not raise the NOSPACE alarm'),
    );
    throw Errors.noSpace();
  }

  private waitForLeader(timeoutMs: number): Promise<void> {
    if (this.leaderId !== 0) return new Promise((r) => setTimeout(r, 10));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.leaderWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, timeoutMs));
      this.leaderWaiters.add(done);
    });
  }

  private settle(id: bigint, value: unknown, error: Error | undefined): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    clearTimeout(w.timer);
    if (error) w.reject(error);
    else w.resolve(value);
  }

  private failAll(error: GrpcStatusError): void {
    for (const [id] of this.waiters) this.settle(id, undefined, error);
    for (const r of this.nextRoundWaiters) r.reject(error);
    this.nextRoundWaiters = [];
  }

  // ----------------------------------------------------------------- reads

  /** Resolves when a read served locally now is linearizable. */
  linearizableRead(): Promise<void> {
    if (this.stopped) return Promise.reject(Errors.stopped());
    // Deliberately broken mode for the linearizability tests' negative control.
    if (UNSAFE_LOCAL_READS) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.nextRoundWaiters.push({ resolve, reject }));
    if (!this.readRound) this.startReadRound();
    return p;
  }

  private startReadRound(): void {
    const waiters = this.nextRoundWaiters;
    this.nextRoundWaiters = [];
    this.readRound = (async () => {
      try {
        const index = await this.node.readIndex();
        await this.node.waitForApplied(index);
        for (const w of waiters) w.resolve();
      } catch {
        const err = this.stopped ? Errors.stopped() : Errors.timeout();
        for (const w of waiters) w.reject(err);
      }
    })().finally(() => {
      this.readRound = undefined;
      if (this.nextRoundWaiters.length > 0) this.startReadRound();
    });
  }

  // ----------------------------------------------------------------- apply

  private applyEntries(entries: Entry[]): void {
    for (const entry of entries) {
      if (entry.type === EntryType.EntryNormal && entry.data.length > 0) this.applyEntry(entry);
      this.consistentIndex = entry.index;
    }
    this.maybeSnapshot();
  }

  private applyEntry(entry: Entry): void {
    let req: InternalRequest;
    try {
      req = InternalRequest.decode(entry.data);
    } catch (err) {
      // Every member decodes the same bytes the same way: skipping keeps them in step.
      this.opts.log.error({ err, index: entry.index }, 'undecodable entry skipped');
      return;
    }
    const mine = req.proposer === BigInt(this.opts.memberId);
    let value: unknown;
    let error: Error | undefined;
    try {
      value = this.applyRequest(req.request);
    } catch (err) {
      if (err instanceof ApplyError) error = err.grpc;
      else {
        this.opts.log.error({ err, index: entry.index }, 'apply failed');
        error = new GrpcStatusError(13, `etcdserver: apply failed: ${(err as Error).message}`);
      }
    }
    if (mine) this.settle(req.id, value, error);
  }

  private applyRequest(request: InternalRequest['request']): unknown {
    const a = this.applier;
    switch (request?.$case) {
      case 'put':
        return this.withHeader(a.put(request.value));
      case 'deleteRange':
        return this.withHeader(a.deleteRange(request.value));
      case 'txn':
        return this.withHeader(a.txn(request.value));
      case 'compaction':
        return this.withHeader(a.compact(request.value.revision));
      case 'leaseGrant':
        return this.withHeader(a.leaseGrant(request.value));
      case 'leaseRevoke':
        return this.withHeader(a.leaseRevoke(request.value.ID));
      case 'alarm': {
        const r = request.value;
        if (r.action === 1) this.alarms.add(r.alarm);
        else if (r.action === 2) this.alarms.delete(r.alarm);
        return { header: this.header(), alarms: [...this.alarms].map((alarm) => ({ memberID: r.memberID, alarm })) };
      }
      case 'memberAttributes': {
        const m = request.value;
        this.membership.setAttributes(Number(m.memberId), m.name, m.clientUrls);
        return { header: this.header() };
      }
      default:
        return undefined;
    }
  }

  private withHeader<T extends { header?: ResponseHeader }>(resp: T): T {
    const rev = resp.header ? Number(resp.header.revision) : this.store.currentRev;
    resp.header = this.header(rev);
    return resp;
  }

  private onSoftState(ss: SoftState): void {
    const wasLeader = this.isLeader;
    this.leaderId = ss.lead;
    const nowLeader = ss.raftState === StateType.Leader;
    if (nowLeader && !wasLeader) {
      this.lessor.promote();
      this.opts.log.info({ term: this.term }, 'became leader');
    } else if (!nowLeader && wasLeader) {
      this.lessor.demote();
      this.opts.log.info({ leader: ss.lead }, 'lost leadership');
    }
    if (ss.lead !== 0) for (const w of [...this.leaderWaiters]) w();
    this.emit('leader', ss.lead);
  }

  /**
   * Resolve when `done()` holds, re-checking after every leader or membership
   * change (events 'leader', 'membership'); reject with etcd's timeout.
   */
  waitUntil(done: () => boolean, timeoutMs = this.requestTimeoutMs): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(Errors.timeout());
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('leader', check);
        this.off('membership', check);
      };
      this.on('leader', check);
      this.on('membership', check);
    });
  }

  private onConfChange(cc: ConfChangeV2, _cs: ConfState): void {
    for (const change of cc.changes) {
      const id = change.nodeId;
      if (change.type === ConfChangeType.ConfChangeRemoveNode) {
        this.membership.remove(id);
        if (id === this.opts.memberId) {
          // Removed while leading: hand over at once rather than after the
          // shutdown's wait for running calls (proposals forwarded to a
          // leader outside the configuration are dropped).
          void this.handOverLeadership();
          this.emit('removed');
        }
      } else if (change.type === ConfChangeType.ConfChangeUpdateNode) {
        // etcdctl member update: new peer URLs (Raft's configuration is unchanged).
        const update = parseContext(cc.context);
        if (update?.peerUrls && this.membership.get(id)) this.membership.setPeerUrls(id, update.peerUrls);
      } else if (!this.membership.get(id)) {
        const record: MemberRecord = { id, name: '', peerUrls: [], clientUrls: [], isLearner: change.type === ConfChangeType.ConfChangeAddLearnerNode };
        this.membership.add({ ...record, ...parseContext(cc.context), id });
      } else if (change.type === ConfChangeType.ConfChangeAddNode) {
        this.membership.promote(id);
      }
    }
    this.emit('membership');
  }

  // ------------------------------------------------------------ snapshots

  /** The whole replicated state, as stored in snapshots and Maintenance.Snapshot. */
  exportState(): KvState {
    return {
      revisions: this.store.exportRevisions(),
      compactRev: this.store.compactRev,
      currentRev: this.store.currentRev,
      consistentIndex: this.consistentIndex,
      term: this.term,
      leases: this.lessor.ids().map((id) => ({ id, ttl: this.lessor.lookup(id)!.ttl })),
      members: this.membership.all(),
      removed: [...this.membership.removed],
      clusterId: this.membership.clusterId,
      alarms: [...this.alarms],
    };
  }

  private restoreState(state: KvState): void {
    this.store.importRevisions(state.revisions, state.compactRev, state.currentRev);
    // Leases own the live keys that name them.
    const keysByLease = new Map<bigint, string[]>();
    for (const kv of this.store.range({ key: '', end: '' }).kvs) {
      if (kv.lease !== 0n) {
        const k = kv.key.toString('latin1');
        keysByLease.set(kv.lease, [...(keysByLease.get(kv.lease) ?? []), k]);
      }
    }
    this.lessor.restore(state.leases.map((l) => ({ id: l.id, ttl: l.ttl, keys: keysByLease.get(l.id) ?? [] })));
    if (state.members.length > 0) this.membership.restore(state.members, state.removed);
    if (state.clusterId) this.membership.clusterId = state.clusterId;
    this.alarms.clear();
    for (const a of state.alarms) this.alarms.add(a);
    this.consistentIndex = state.consistentIndex;
  }

  private installSnapshot(snapshot: Snapshot): void {
    this.restoreState(decodeState(snapshot.data));
    this.lastSnapshotIndex = snapshot.metadata.index;
    this.consistentIndex = snapshot.metadata.index;
    this.opts.log.info({ index: snapshot.metadata.index, revision: this.store.currentRev }, 'installed snapshot from leader');
  }

  private maybeSnapshot(): void {
    const applied = this.consistentIndex;
    if (applied - this.lastSnapshotIndex < this.opts.snapshotCount) return;
    const started = performance.now();
    const data = encodeState(this.exportState());
    this.node.snapshot(data, this.opts.snapshotCatchUpEntries ?? 5_000);
    this.lastSnapshotIndex = applied;
    this.opts.log.info({ index: applied, bytes: data.length, ms: Math.round(performance.now() - started) }, 'saved snapshot');
  }

  // ---------------------------------------------------------------- leases

  private revokeExpiredLeases(): void {
    if (!this.isLeader || this.stopped) return;
    for (const id of this.lessor.expired(1000)) {
      this.propose({ $case: 'leaseRevoke', value: { ID: id } }).catch((err: Error) => {
        this.opts.log.debug({ err: err.message, lease: id.toString(16) }, 'revoking an expired lease failed; will retry');
      });
    }
  }

  /** Pick a lease id no live lease uses (positive int64). */
  newLeaseId(): bigint {
    for (;;) {
      const id = crypto.randomBytes(8).readBigUInt64BE() & ((1n << 63n) - 1n);
      if (id !== 0n && !this.lessor.lookup(id)) return id;
    }
  }

  // --------------------------------------------------------------- members

  private async publishAttributes(): Promise<void> {
    const me = this.membership.get(this.opts.memberId);
    if (me && me.name === this.opts.name && me.clientUrls.join(',') === this.opts.clientUrls.join(',')) return;
    while (!this.stopped) {
      try {
        await this.propose({
          $case: 'memberAttributes',
          value: { memberId: BigInt(this.opts.memberId), name: this.opts.name, clientUrls: this.opts.clientUrls },
        });
        this.opts.log.info({ member: this.opts.name, clientUrls: this.opts.clientUrls }, 'published member attributes');
        return;
      } catch (err) {
        if (this.stopped) return;
        this.opts.log.debug({ err: (err as Error).message }, 'publishing member attributes failed; retrying');
      }
    }
  }

  /**
   * If this member leads, transfer leadership to the most up-to-date other
   * voter and wait (at most two election timeouts) until someone else leads.
   */
  private async handOverLeadership(): Promise<void> {
    if (!this.node.isLeader) return;
    const st = this.node.status();
    let to = 0;
    let best = -1;
    for (const id of st.config.voters) {
      const match = st.progress?.get(id)?.match ?? -1;
      if (id !== this.opts.memberId && match > best) {
        to = id;
        best = match;
      }
    }
    if (to === 0) return;
    this.opts.log.info({ to: to.toString(16) }, 'handing leadership over');
    this.node.transferLeadership(to);
    await this.waitUntil(() => !this.node.isLeader, 2 * this.opts.electionMs).catch(() => {
      this.opts.log.warn({ to: to.toString(16) }, 'leadership transfer did not finish in time');
    });
  }

  /** Raft's view, for Status and health. */
  raftStatus(): { leader: number; term: number; commit: number; applied: number } {
    const st = this.node.status();
    return { leader: this.leaderId, term: this.term, commit: st.hardState?.commit ?? 0, applied: this.node.appliedIndex };
  }

  /**
   * etcd's "db size": the larger of the last snapshot's size and the store's
   * estimate of what it holds (the same measure the space quota uses).
   */
  dbSize(): number {
    return Math.max(this.storage.snapshot().data.length, this.store.approxBytes);
  }
}

const ALARM_NOSPACE = 1;
const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;

/** Bytes a request adds to the store (0: it adds nothing and is never refused for space). */
function requestCost(request: RequestBody): number {
  switch (request.$case) {
    case 'put':
      return 64 + request.value.key.length + request.value.value.length;
    case 'leaseGrant':
      return 64;
    case 'txn': {
      let cost = 0;
      const walk = (ops: typeof request.value.success) => {
        for (const op of ops) {
          const r = op.request;
          if (r?.$case === 'requestPut') cost += 64 + r.value.key.length + r.value.value.length;
          else if (r?.$case === 'requestTxn') {
            walk(r.value.success);
            walk(r.value.failure);
          }
        }
      };
      walk(request.value.success);
      walk(request.value.failure);
      return cost;
    }
    default:
      return 0;
  }
}

/** The member record carried in a conf change's context (JSON), if any. */
function parseContext(context: Uint8Array | undefined): Partial<MemberRecord> | undefined {
  if (!context || context.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.from(context).toString()) as Partial<MemberRecord>;
  } catch {
    return undefined; // context is informational
  }
}

function raftLogger(log: Logger) {
  const child = log.child({ actor: 'raft' });
  return {
    debug: (msg: string) => child.debug(msg),
    info: (msg: string) => child.info(msg),
    warn: (msg: string) => child.warn(msg),
    error: (msg: string) => child.error(msg),
  };
}

export { ConfChangeType };

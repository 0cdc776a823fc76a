// A deterministic, seeded cluster simulator for the raft core.
//
// N RawNodes talk over a simulated network that drops, duplicates, delays
// (and so reorders) messages, and can be partitioned. Nodes crash and restart
// from what they persisted: each node's MemoryStorage only ever receives what
// a Ready asked to persist, and a crash may even hit between persisting a
// Ready and sending its messages. After every event the simulator checks:
//
//  - election safety: at most one leader per term;
//  - log matching: an (index, term) pair always has the same log prefix on
//    every node that ever persisted it (checked with prefix hashes);
//  - leader completeness: a new leader of term T has every entry applied
//    anywhere whose term is < T;
//  - state machine safety: no two nodes apply different entries at an index,
//    and snapshots carry the same state as applying the log;
//  - no acknowledged (applied somewhere) proposal is lost: after the final
//    heal every node applies up to the highest acknowledged index.
//
// Liveness: after the network heals and every node is up, a leader must be
// elected and fresh proposals must be applied on every node within a bounded
// number of ticks.
//
// Membership changes run under the same faults: nodes join as learners (with
// empty storage), learners are promoted, voters are demoted or removed, and
// voters are replaced through joint consensus (ConfChangeV2, auto-leave).
// Like etcd's transport, the network drops traffic from and to a node once
// its removal has been applied somewhere.
//
// Everything is driven by one seeded PRNG, so a seed replays exactly.

import { RawNode, Ready } from '../../src/rawnode';
import { MemoryStorage } from '../../src/storage';
import { asV2 } from '../../src/confchange';
import { decodeConfChange, decodeConfChangeV2 } from '../../src/codec';
import { seededRandom } from '../../src/random';
import { ErrProposalDropped } from '../../src/errors';
import {
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  SnapshotStatus,
  StateType,
  describeMessage,
  isEmptySnap,
} from '../../src/types';

export interface SimOptions {
  seed: number;
  nodes: number;
  /** Ticks of chaos (faults injected) before the final heal. */
  chaosTicks?: number;
  /** Tick budget for the liveness phase after the heal. */
  livenessTicks?: number;
  /** Number of events kept for the failure trace. */
  traceSize?: number;
  /** Inject membership changes (default: decided by the seed, half of the runs). */
  membership?: boolean;
  /** Probability that a Ready is applied and advanced later, after more events (default 0.25). */
  deferApplyRate?: number;
}

export class SimFailure extends Error {
  constructor(
    message: string,
    readonly seed: number,
    readonly trace: string[],
  ) {
    super(message);
    this.name = 'SimFailure';
  }
}

export interface SimResult {
  seed: number;
  ticks: number;
  events: number;
  committed: number;
  leaders: number;
  crashes: number;
  snapshotsSent: number;
  confChanges: number;
  config: string;
}

interface QueuedMessage {
  at: number;
  seq: number;
  m: Message;
}

interface SimNode {
  id: number;
  /** What has been persisted: survives crashes. */
  storage: MemoryStorage;
  rn: RawNode | undefined;
  /** Applied state (lost on crash, rebuilt from the snapshot). */
  applied: number;
  hash: number;
  /** Mirror of the persisted log as prefix hashes: hashes[i - base] is the hash at index i. */
  base: number;
  hashes: number[];
  terms: number[];
  restartAt: number;
  wasLeader: boolean;
  /** Member of the initial cluster (bootstraps its log), or a later joiner. */
  initial: boolean;
  /** Configuration as of the applied index. */
  confState: ConfState;
  /** Removed from the cluster: stopped for good. */
  removed: boolean;
  /**
   * A Ready that was persisted and sent but not yet applied and advanced: the
   * node keeps stepping messages meanwhile, as the Node driver does while
   * onApply runs.
   */
  pending: Ready | undefined;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** 32-bit FNV-1a of a chain value plus an entry. */
function chain(prev: number, index: number, term: number, data: Uint8Array): number {
  let h = (prev ^ 0x811c9dc5) >>> 0;
  h = Math.imul(h ^ index, 0x01000193) >>> 0;
  h = Math.imul(h ^ term, 0x01000193) >>> 0;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h;
}

function members(cs: ConfState): Set<number> {
  return new Set([...cs.voters, ...cs.learners, ...cs.votersOutgoing, ...cs.learnersNext]);
}

function describeConf(cs: ConfState): string {
  let s = `voters=(${cs.voters.join(' ')})`;
  if (cs.votersOutgoing.length) s += `&&(${cs.votersOutgoing.join(' ')})`;
  if (cs.learners.length) s += ` learners=(${cs.learners.join(' ')})`;
  if (cs.learnersNext.length) s += ` learnersNext=(${cs.learnersNext.join(' ')})`;
  return s;
}

function encodeState(hash: number): Uint8Array {
  return enc.encode(String(hash));
}

function decodeState(b: Uint8Array): number {
  return b.length === 0 ? 0 : Number(dec.decode(b));
}

export class Simulator {
  readonly seed: number;
  private readonly rand: () => number;
  private readonly n: number;
  /** every node ever created, including joiners and removed ones */
  private readonly ids: number[];
  private nextId: number;
  private readonly nodes = new Map<number, SimNode>();
  private queue: QueuedMessage[] = [];
  private seq = 0;
  private now = 0;
  private events = 0;
  private readonly trace: string[] = [];
  private readonly traceSize: number;

  // fault model (changes over the run)
  private dropRate: number;
  private dupRate: number;
  private maxDelay: number;
  /** partition group of each node; messages only flow within a group */
  private group = new Map<number, number>();

  // raft config for this seed
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly electionTick = 10;
  private readonly heartbeatTick: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly membership: boolean;
  private readonly stepDownOnRemoval: boolean;
  private readonly deferApplyRate: number;
  /** latest configuration applied anywhere, and the index of its conf change */
  private canonConf: ConfState | undefined;
  private canonConfIndex = 0;

  // invariant state
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly logKeys = new Map<number, number>(); // (index * 2^20 + term) -> prefix hash
  /** canonical applied log: canonTerm[i], canonHash[i] for i >= 1 */
  private readonly canonTerm: number[] = [0];
  private readonly canonHash: number[] = [0];
  private proposalSeq = 0;
  /** liveness-phase proposals applied somewhere */
  private readonly finalApplied = new Set<string>();
  private readonly chaosTicks: number;
  private readonly livenessTicks: number;
  private stats = { crashes: 0, leaders: 0, snapshotsSent: 0, confChanges: 0 };

  constructor(opts: SimOptions) {
    this.seed = opts.seed;
    this.rand = seededRandom(opts.seed * 2654435761 + 1);
    this.n = opts.nodes;
    this.ids = Array.from({ length: this.n }, (_, i) => i + 1);
    this.traceSize = opts.traceSize ?? 150;
    this.chaosTicks = opts.chaosTicks ?? 160;
    this.livenessTicks = opts.livenessTicks ?? 300;
    this.preVote = this.rand() < 0.5;
    this.checkQuorum = this.rand() < 0.5;
    this.heartbeatTick = this.rand() < 0.5 ? 1 : 2;
    this.maxSizePerMsg = this.rand() < 0.5 ? 0 : 64 + Math.floor(this.rand() * 256);
    this.maxInflight = 1 + Math.floor(this.rand() * 6);
    this.membership = opts.membership ?? this.rand() < 0.5;
    this.stepDownOnRemoval = this.rand() < 0.5;
    this.deferApplyRate = opts.deferApplyRate ?? 0.25;
    this.nextId = this.n + 1;
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelay = 0.5;
    for (const id of this.ids) this.addNode(id, true);
  }

  private addNode(id: number, initial: boolean): SimNode {
    const node: SimNode = {
      id,
      storage: new MemoryStorage(),
      rn: undefined,
      applied: 0,
      hash: 0,
      base: 0,
      hashes: [0],
      terms: [0],
      restartAt: 0,
      wasLeader: false,
      initial,
      confState: { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false },
      removed: false,
      pending: undefined,
    };
    this.nodes.set(id, node);
    if (!this.ids.includes(id)) this.ids.push(id);
    this.group.set(id, 0);
    this.start(node);
    return node;
  }

  describeConfig(): string {
    return `nodes=${this.n} preVote=${this.preVote} checkQuorum=${this.checkQuorum} heartbeatTick=${this.heartbeatTick} maxSizePerMsg=${this.maxSizePerMsg} maxInflight=${this.maxInflight} membership=${this.membership} stepDownOnRemoval=${this.stepDownOnRemoval}`;
  }

  // ------------------------------------------------------------ node lifecycle

  private start(node: SimNode): void {
    const snap = node.storage.snapshot();
    node.rn = new RawNode({
      id: node.id,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      storage: node.storage,
      applied: snap.metadata.index,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      maxSizePerMsg: this.maxSizePerMsg,
      maxInflightMsgs: this.maxInflight,
      stepDownOnRemoval: this.stepDownOnRemoval,
      random: seededRandom(this.seed * 31 + node.id * 1000003 + this.now * 7),
    });
    // The initial members bootstrap the configuration into the log (again,
    // if they crashed before persisting it). Joiners start empty.
    if (node.initial && node.storage.lastIndex() === 0 && snap.metadata.index === 0) {
      node.rn.bootstrap(Array.from({ length: this.n }, (_, i) => i + 1));
    }
    node.applied = snap.metadata.index;
    node.hash = decodeState(snap.data);
    node.confState = snap.metadata.confState;
    node.wasLeader = false;
    if (node.applied > 0) this.checkCanonical(node, node.applied, node.hash, 'restart from snapshot');
  }

  private crash(node: SimNode, why: string): void {
    this.record(`crash ${node.id} (${why})`);
    node.rn = undefined;
    node.pending = undefined;
    node.restartAt = this.now + 5 + Math.floor(this.rand() * 40);
    this.stats.crashes++;
  }

  private restart(node: SimNode): void {
    if (node.removed) return;
    this.record(`restart ${node.id} [persisted last=${node.storage.lastIndex()} hs=${JSON.stringify(node.storage.getHardState())}]`);
    this.start(node);
  }

  // ------------------------------------------------------------ tracing and failure

  private record(s: string): void {
    this.trace.push(`[t=${this.now.toFixed(2)}] ${s}`);
    if (this.trace.length > this.traceSize) this.trace.shift();
  }

  fail(msg: string): never {
    throw new SimFailure(`seed ${this.seed}: ${msg}`, this.seed, this.trace.slice());
  }

  // ------------------------------------------------------------ network

  /** Like etcd's transport: no traffic from or to a node whose removal was applied. */
  private isSilenced(id: number): boolean {
    const node = this.nodes.get(id);
    return node === undefined || node.removed;
  }

  private send(from: number, msgs: Message[]): void {
    for (const m of msgs) {
      if (this.isSilenced(m.to) || this.isSilenced(from)) continue;
      if (this.group.get(m.from) !== this.group.get(m.to) || this.rand() < this.dropRate) {
        this.dropped(from, m);
        continue;
      }
      this.enqueue(m);
      if (this.rand() < this.dupRate) this.enqueue(m);
    }
  }

  private enqueue(m: Message): void {
    const at = this.now + this.rand() * this.maxDelay;
    const q: QueuedMessage = { at, seq: this.seq++, m };
    // insertion sort from the back: the queue is short and mostly ordered
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1].at > at || (this.queue[i - 1].at === at && this.queue[i - 1].seq > q.seq))) i--;
    this.queue.splice(i, 0, q);
  }

  private dropped(from: number, m: Message): void {
    const sender = this.nodes.get(from)!;
    if (!sender.rn) return;
    // A real transport notices failed snapshot streams and broken connections.
    if (m.type === MessageType.MsgSnap) {
      sender.rn.reportSnapshot(m.to, SnapshotStatus.SnapshotFailure);
    } else if (this.rand() < 0.2) {
      sender.rn.reportUnreachable(m.to);
    }
  }

  private deliver(q: QueuedMessage): void {
    const m = q.m;
    const node = this.nodes.get(m.to)!;
    if (this.isSilenced(m.from) || this.isSilenced(m.to)) return;
    if (!node.rn || this.group.get(m.from) !== this.group.get(m.to)) {
      if (m.type === MessageType.MsgSnap) this.dropped(m.from, m);
      return;
    }
    this.events++;
    this.record(`deliver ${describeMessage(m)}`);
    try {
      node.rn.step(m);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped) && !(err instanceof Error && err.name === 'ErrStepPeerNotFound')) throw err;
    }
    if (m.type === MessageType.MsgSnap) {
      this.stats.snapshotsSent++;
      const sender = this.nodes.get(m.from)!;
      sender.rn?.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish);
    }
    this.afterEvent(node);
  }

  // ------------------------------------------------------------ ready handling

  private afterEvent(node: SimNode): void {
    // Sometimes let several events accumulate into one Ready (as the Node driver batches).
    if (node.rn && this.rand() < 0.8) this.handleReady(node);
    this.checkNode(node);
  }

  private handleReady(node: SimNode): void {
    const rn = node.rn!;
    if (node.pending) {
      const prev = node.pending;
      node.pending = undefined;
      this.apply(node, prev);
      if (!node.rn) return; // removed while applying
      rn.advance(prev);
      this.maybeCompact(node);
    }
    if (!rn.hasReady()) return;
    const rd = rn.ready();
    this.persist(node, rd);
    if (this.rand() < 0.004) {
      // Crash after persisting, before any message is sent or anything applied.
      this.crash(node, 'after persist, before send');
      return;
    }
    this.send(node.id, rd.messages);
    if (this.deferApplyRate > 0 && this.rand() < this.deferApplyRate) {
      // apply later: more events reach this node before advance()
      node.pending = rd;
      return;
    }
    this.apply(node, rd);
    if (!node.rn) return; // removed while applying
    rn.advance(rd);
    this.maybeCompact(node);
  }

  private persist(node: SimNode, rd: Ready): void {
    const s = node.storage;
    if (rd.snapshot && !isEmptySnap(rd.snapshot)) {
      const md = rd.snapshot.metadata;
      const h = decodeState(rd.snapshot.data);
      this.checkCanonical(node, md.index, h, 'snapshot received');
      node.base = md.index;
      node.hashes = [h];
      node.terms = [md.term];
    }
    if (rd.entries.length > 0) this.mirrorAppend(node, rd.entries);
    s.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    // Ready contract: once a Ready is persisted, the durable state equals what
    // raft acts on (term, vote, commit and the log), so a crash right now loses
    // nothing that a message of this Ready may reveal.
    const r = node.rn!.raft;
    const hs = s.getHardState();
    if (hs.term !== r.term || hs.vote !== r.vote || hs.commit !== r.raftLog.committed) {
      this.fail(`node ${node.id} persisted hard state ${JSON.stringify(hs)} but raft has ${JSON.stringify(r.hardState())}`);
    }
    if (s.lastIndex() !== r.raftLog.lastIndex() || s.term(s.lastIndex()) !== r.raftLog.lastTerm()) {
      this.fail(`node ${node.id} persisted log ends at ${s.lastIndex()} but raft's ends at ${r.raftLog.lastIndex()}`);
    }
    if (rd.hardState && rd.hardState.commit > node.base + node.hashes.length - 1) {
      this.fail(`node ${node.id} persisted commit ${rd.hardState.commit} beyond its persisted log ${node.base + node.hashes.length - 1}`);
    }
  }

  private mirrorAppend(node: SimNode, ents: Entry[]): void {
    for (const e of ents) {
      if (e.index <= node.base) continue;
      const k = e.index - node.base;
      if (k > node.hashes.length) this.fail(`node ${node.id} persisted entry ${e.index} after a gap (last ${node.base + node.hashes.length - 1})`);
      node.hashes.length = k;
      node.terms.length = k;
      const h = chain(node.hashes[k - 1], e.index, e.term, e.data);
      node.hashes.push(h);
      node.terms.push(e.term);
      // Log matching: the same (index, term) must always have the same prefix.
      const key = e.index * 1048576 + e.term;
      const prev = this.logKeys.get(key);
      if (prev === undefined) this.logKeys.set(key, h);
      else if (prev !== h) this.fail(`log matching violated: node ${node.id} has entry ${e.index}/${e.term} with a different log prefix`);
    }
  }

  private apply(node: SimNode, rd: Ready): void {
    if (rd.snapshot && !isEmptySnap(rd.snapshot)) {
      node.applied = rd.snapshot.metadata.index;
      node.hash = decodeState(rd.snapshot.data);
      node.confState = rd.snapshot.metadata.confState;
      this.record(`${node.id} applied snapshot ${rd.snapshot.metadata.term}/${rd.snapshot.metadata.index}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index !== node.applied + 1) this.fail(`node ${node.id} applied ${e.index} after ${node.applied}`);
      node.hash = chain(node.hash, e.index, e.term, e.data);
      node.applied = e.index;
      this.checkCanonical(node, e.index, node.hash, 'apply', e.term);
      if (e.type !== EntryType.EntryNormal) {
        this.applyConfChange(node, e);
        if (!node.rn) return; // removed
      } else if (e.data.length > 0 && e.data[0] === 102 /* 'f' */) {
        this.finalApplied.add(dec.decode(e.data));
      }
    }
    if (rd.committedEntries.length > 0) {
      const last = rd.committedEntries[rd.committedEntries.length - 1];
      this.record(`${node.id} applied up to ${last.index}`);
    }
  }

  private applyConfChange(node: SimNode, e: Entry): void {
    const cc: ConfChangeV2 = e.type === EntryType.EntryConfChange ? asV2(decodeConfChange(e.data)) : decodeConfChangeV2(e.data);
    node.confState = node.rn!.applyConfChange(cc);
    if (e.index <= this.canonConfIndex) return;
    // First node to apply this change: it is now the cluster's configuration.
    const cs = node.confState;
    const before = this.canonConf;
    this.canonConf = cs;
    this.canonConfIndex = e.index;
    if (e.index > this.n) this.stats.confChanges++; // not counting the bootstrap entries
    this.record(`config at ${e.index}: ${describeConf(cs)}`);
    if (!before) return;
    const now = members(cs);
    for (const id of members(before)) {
      if (now.has(id)) continue;
      const gone = this.nodes.get(id)!;
      gone.removed = true;
      if (gone.rn) gone.rn = undefined;
      this.record(`${id} removed from the cluster and stopped`);
    }
  }

  /** State machine safety: the state after index i must be the same everywhere. */
  private checkCanonical(node: SimNode, index: number, hash: number, what: string, term?: number): void {
    if (index < this.canonHash.length) {
      if (this.canonHash[index] !== hash) {
        this.fail(`state machine safety violated: node ${node.id} (${what}) has a different state at index ${index}`);
      }
    } else if (index === this.canonHash.length && term !== undefined) {
      this.canonHash.push(hash);
      this.canonTerm.push(term);
    } else {
      this.fail(`node ${node.id} (${what}) reached index ${index} before any node applied ${this.canonHash.length}`);
    }
  }

  private maybeCompact(node: SimNode): void {
    if (this.rand() >= 0.03) return;
    const s = node.storage;
    const snapIndex = s.snapshot().metadata.index;
    if (node.applied <= snapIndex + 2) return;
    s.createSnapshot(node.applied, node.confState, encodeState(node.hash));
    const keep = Math.floor(this.rand() * 4);
    const to = node.applied - keep;
    if (to >= s.firstIndex()) s.compact(to);
    this.record(`${node.id} snapshot at ${node.applied}, compacted to ${to}`);
  }

  // ------------------------------------------------------------ invariants per node

  private checkNode(node: SimNode): void {
    const rn = node.rn;
    if (!rn) return;
    const r = rn.raft;
    if (r.state === StateType.Leader) {
      const prev = this.leaderOfTerm.get(r.term);
      if (prev === undefined) {
        this.leaderOfTerm.set(r.term, node.id);
        this.stats.leaders++;
        this.record(`${node.id} is leader of term ${r.term}`);
        this.checkLeaderCompleteness(node);
      } else if (prev !== node.id) {
        this.fail(`election safety violated: ${prev} and ${node.id} are both leaders of term ${r.term}`);
      }
    }
  }

  private checkLeaderCompleteness(node: SimNode): void {
    const r = node.rn!.raft;
    // Largest applied (hence committed) index whose entry has a term below ours.
    let i = this.canonTerm.length - 1;
    while (i > 0 && this.canonTerm[i] >= r.term) i--;
    if (i === 0) return;
    if (i < r.raftLog.firstIndex() - 1) return; // inside our snapshot (checked when installed)
    const t = r.raftLog.termOrUndefined(i);
    if (t !== this.canonTerm[i]) {
      this.fail(`leader completeness violated: leader ${node.id} of term ${r.term} lacks committed entry ${i} (term ${this.canonTerm[i]}, has ${t})`);
    }
  }

  // ------------------------------------------------------------ driving

  private tickAll(): void {
    for (const id of this.ids) {
      const node = this.nodes.get(id)!;
      if (!node.rn) {
        if (node.restartAt <= this.now && node.restartAt > 0) this.restart(node);
        continue;
      }
      node.rn.tick();
      this.events++;
      this.afterEvent(node);
    }
  }

  /** Runs messages due up to time t, then the tick at t. */
  private advanceTo(t: number): void {
    while (this.queue.length > 0 && this.queue[0].at <= t) {
      const q = this.queue.shift()!;
      this.now = q.at;
      this.deliver(q);
    }
    this.now = t;
    // Flush Readies that were left to batch.
    for (const node of this.nodes.values()) if (node.rn) this.handleReady(node);
    this.tickAll();
  }

  private propose(node: SimNode, data: string): boolean {
    if (!node.rn) return false;
    try {
      node.rn.propose(enc.encode(data));
      this.record(`propose ${data} at ${node.id}`);
    } catch (err) {
      if (err instanceof ErrProposalDropped) return false;
      throw err;
    }
    this.afterEvent(node);
    return true;
  }

  private randomNode(): SimNode {
    const live = this.ids.filter((id) => !this.nodes.get(id)!.removed);
    return this.nodes.get(live[Math.floor(this.rand() * live.length)])!;
  }

  private proposeLeaveJoint(leader: SimNode): void {
    try {
      leader.rn!.proposeConfChange({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [] });
      this.record(`propose leaving the joint config at ${leader.id}`);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped)) throw err;
    }
    this.afterEvent(leader);
  }

  /** Proposes a random membership change through the current leader. */
  private changeMembership(): void {
    const leader = this.currentLeader();
    const cs = this.canonConf;
    if (!leader || !cs) return;
    if (cs.votersOutgoing.length > 0) {
      // an explicit joint config stays until the application leaves it
      if (!cs.autoLeave && this.rand() < 0.3) this.proposeLeaveJoint(leader);
      return;
    }
    const r = this.rand;
    const voters = cs.voters;
    const learners = cs.learners;
    const options: (() => ConfChangeV2 | undefined)[] = [];
    const single = (type: ConfChangeType, nodeId: number): ConfChangeV2 => ({
      transition: ConfChangeTransition.ConfChangeTransitionAuto,
      changes: [{ type, nodeId }],
    });
    const liveNodes = this.ids.filter((id) => !this.nodes.get(id)!.removed).length;
    if (liveNodes < this.n + 2) {
      options.push(() => {
        const id = this.nextId++;
        this.addNode(id, false);
        this.record(`new node ${id} started (empty), proposing it as a learner`);
        return single(ConfChangeType.ConfChangeAddLearnerNode, id);
      });
    }
    if (learners.length > 0) {
      const l = learners[Math.floor(r() * learners.length)];
      options.push(() => single(ConfChangeType.ConfChangeAddNode, l));
      if (voters.length > 2) {
        // replace a voter by a learner in one joint change
        const v = voters[Math.floor(r() * voters.length)];
        const transitions = [
          ConfChangeTransition.ConfChangeTransitionAuto,
          ConfChangeTransition.ConfChangeTransitionJointImplicit,
          ConfChangeTransition.ConfChangeTransitionJointExplicit,
        ];
        options.push(() => ({
          transition: transitions[Math.floor(r() * 3)],
          changes: [
            { type: ConfChangeType.ConfChangeRemoveNode, nodeId: v },
            { type: ConfChangeType.ConfChangeAddNode, nodeId: l },
          ] as ConfChangeSingle[],
        }));
      }
    }
    if (voters.length > 3) {
      const v = voters[Math.floor(r() * voters.length)];
      options.push(() => single(ConfChangeType.ConfChangeRemoveNode, v));
      options.push(() => single(ConfChangeType.ConfChangeAddLearnerNode, v)); // demote
    }
    if (options.length === 0) return;
    const cc = options[Math.floor(r() * options.length)]();
    if (!cc || !leader.rn) return;
    try {
      leader.rn.proposeConfChange(cc);
      this.record(`propose conf change at ${leader.id}: ${cc.changes.map((c) => `${ConfChangeType[c.type]}(${c.nodeId})`).join(' ')}`);
    } catch (err) {
      if (!(err instanceof ErrProposalDropped)) throw err;
    }
    this.afterEvent(leader);
  }

  private chaos(tick: number): void {
    const r = this.rand;
    // fault rates drift over time
    if (r() < 0.05) {
      this.dropRate = r() < 0.5 ? 0 : r() * 0.3;
      this.dupRate = r() < 0.5 ? 0 : r() * 0.2;
      this.maxDelay = r() < 0.3 ? 0.2 : r() * 4;
      this.record(`network: drop=${this.dropRate.toFixed(2)} dup=${this.dupRate.toFixed(2)} delay<=${this.maxDelay.toFixed(1)}`);
    }
    if (r() < 0.02) {
      // partition into two random groups (or heal)
      if (r() < 0.4) {
        for (const id of this.ids) this.group.set(id, 0);
        this.record('heal partition');
      } else {
        for (const id of this.ids) this.group.set(id, r() < 0.5 ? 1 : 0);
        this.record(`partition ${this.ids.map((id) => `${id}:${this.group.get(id)}`).join(' ')}`);
      }
    }
    if (r() < 0.012) {
      const node = this.randomNode();
      if (node.rn) this.crash(node, 'random');
    }
    if (this.membership && r() < 0.03) this.changeMembership();
    if (r() < 0.35) this.propose(this.randomNode(), `p${this.proposalSeq++}`);
    void tick;
  }

  private heal(): void {
    this.dropRate = 0;
    this.dupRate = 0;
    this.maxDelay = 0.5;
    for (const id of this.ids) this.group.set(id, 0);
    for (const node of this.nodes.values()) if (!node.rn && !node.removed) this.restart(node);
    this.record('=== heal: no faults from here on ===');
  }

  run(): SimResult {
    let t = 0;
    for (; t < this.chaosTicks; t++) {
      this.advanceTo(t);
      this.chaos(t);
    }
    this.heal();
    // Liveness: a leader emerges, and new proposals get applied everywhere.
    const healedAt = t;
    const want: string[] = [];
    let proposedAt = -1;
    for (;;) {
      t++;
      if (t - healedAt > this.livenessTicks) {
        const st = this.ids.map((id) => {
          const node = this.nodes.get(id)!;
          if (!node.rn) return `${id}:${node.removed ? 'removed' : 'down'}`;
          const r = node.rn.raft;
          return `${id}:${StateType[r.state]} term=${r.term} lead=${r.lead} applied=${node.applied} last=${r.raftLog.lastIndex()} commit=${r.raftLog.committed}`;
        });
        this.fail(`liveness: not converged ${this.livenessTicks} ticks after heal [${st.join('; ')}]`);
      }
      this.advanceTo(t);
      const leader = this.currentLeader();
      if (!leader) continue;
      if (this.canonConf && this.canonConf.votersOutgoing.length > 0 && !this.canonConf.autoLeave && t % 10 === 0) {
        this.proposeLeaveJoint(leader);
      }
      if (proposedAt < 0 || t - proposedAt > 4 * this.electionTick) {
        // (re)propose through the leader; duplicates of a proposal are fine
        if (want.length === 0) for (let k = 0; k < 3; k++) want.push(`final${k}`);
        for (const w of want) this.propose(leader, w);
        proposedAt = t;
      }
      if (this.converged(want)) break;
    }
    return {
      seed: this.seed,
      ticks: t,
      events: this.events,
      committed: this.canonHash.length - 1,
      leaders: this.stats.leaders,
      crashes: this.stats.crashes,
      snapshotsSent: this.stats.snapshotsSent,
      confChanges: this.stats.confChanges,
      config: this.describeConfig(),
    };
  }

  private currentLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      const r = node.rn?.raft;
      if (node.removed || !r || r.state !== StateType.Leader) continue;
      // a leader removed from the config may stay on (stepDownOnRemoval off): skip it
      if (!r.trk.progress.has(node.id)) continue;
      if (!best || r.term > best.rn!.raft.term) best = node;
    }
    return best;
  }

  /** Every node applied every wanted proposal and everything acknowledged before. */
  private converged(want: string[]): boolean {
    const top = this.canonHash.length - 1;
    const cs = this.canonConf;
    // joint configs are left automatically: wait for that too
    if (cs && cs.votersOutgoing.length > 0) return false;
    const want_ = cs ? members(cs) : new Set(this.ids);
    for (const node of this.nodes.values()) {
      if (!want_.has(node.id)) continue; // never added, or removed
      if (!node.rn || node.applied < top) return false;
    }
    return want.every((w) => this.finalApplied.has(w));
  }

  formatFailure(err: SimFailure, replayCmd: string): string {
    return [
      err.message,
      `config: ${this.describeConfig()}`,
      `replay: ${replayCmd}`,
      `last ${err.trace.length} events:`,
      ...err.trace.map((l) => `  ${l}`),
    ].join('\n');
  }
}

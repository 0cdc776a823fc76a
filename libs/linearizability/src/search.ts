/**
 * The search over one partition: Wing & Gong's algorithm with Lowe's cache of
 * visited (linearized set, state) configurations, as in Porcupine, plus a few
 * reductions for operations with an UNKNOWN outcome.
 *
 * Completed operations' call and return events are sorted by time into a
 * doubly linked list. The calls before the first return are the candidates
 * to linearize next. Linearizing one applies it to the model, pushes it on a
 * stack and lifts its call and return out of the list. When every candidate
 * of a configuration has been tried, the operation whose return comes first
 * cannot be placed: backtrack (pop, put the nodes back, try the next
 * candidate). Linearizing every completed operation proves the partition
 * linearizable; backtracking past the root proves it is not.
 *
 * Pending operations (UNKNOWN output, never returned) are not in the list:
 * they never force anything, and "it did not take effect" is the same as "it
 * took effect after everything else". So:
 * - they are candidates once called, tried after the completed candidates;
 * - the search succeeds once every completed operation is linearized (the
 *   leftover pending ones go last, where the model must accept them);
 * - a pending operation that would not change the state is not tried: it can
 *   go last instead;
 * - a finished (failed) configuration also rules out every configuration with
 *   the same state whose set is a superset of its set by pending operations
 *   only: any continuation of the latter also works from the former (the
 *   pending operations it lacks go last). Only finished configurations
 *   prune, never unfinished ones on the current path, which keeps the usual
 *   argument sound: the first configuration to be finished while having a
 *   continuation would have had the first step of its shortest continuation
 *   pruned by a configuration finished before it, which then had a
 *   continuation too.
 *
 * The differential tests in property.spec.ts compare all this with a
 * brute-force search on thousands of small random histories.
 */
import { UNKNOWN } from './types';
import type { Model, Operation, Timestamp, Verdict } from './types';
import { hashString, mix32 } from './hash';
import { safeJson } from './format';

/** How many search steps between two looks at the clock. */
const CLOCK_EVERY = 1024;

/** What the search leaves behind to explain an illegal partition. */
export interface StuckPoint<S> {
  /** Operation indexes of the prefix, in order, and the state after each. */
  prefix: number[];
  states: S[];
  state: S;
  /** The operation whose return was reached. */
  blocking: number;
  /** The operations that were candidates (including `blocking`). */
  open: number[];
}

export interface PartitionOutcome<S> {
  verdict: Verdict;
  steps: number;
  /** For `illegal`: the depth of the longest prefix found. */
  bestDepth?: number;
  /** When asked to explain: what is stuck at that depth. */
  stuck?: StuckPoint<S>;
}

function compareTimes(a: Timestamp, b: Timestamp): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A growable Int32Array. */
class IntVec {
  data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(16, capacity));
  }
  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < this.length + extra) size *= 2;
    const bigger = new Int32Array(size);
    bigger.set(this.data.subarray(0, this.length));
    this.data = bigger;
  }
  push(value: number): void {
    this.reserve(1);
    this.data[this.length++] = value;
  }
}

/**
 * Visited configurations: an open-addressing table from a 32-bit key to a
 * chain of entries; each entry is an encoded set (in an arena), a state and
 * an on-path flag. Typed arrays keep the garbage collector out of the way.
 */
class Visited<S> {
  private slotKey: Int32Array;
  private slotHead: Int32Array;
  private slotsUsed = 0;
  private readonly entryNext = new IntVec(1024);
  private readonly entryOffset = new IntVec(1024);
  private entryOnPath = new Uint8Array(1024);
  private readonly entryState: S[] = [];
  private readonly arena = new IntVec(4096);

  constructor(
    private readonly equal: (a: S, b: S) => boolean,
    /** Encoded sets are [frontier, count, count ranks..., pending words...]. */
    private readonly pendingWords: number,
  ) {
    this.slotKey = new Int32Array(1024);
    this.slotHead = new Int32Array(1024).fill(-1);
  }

  private slot(key: number): number {
    const mask = this.slotKey.length - 1;
    let i = mix32(key) & mask;
    while (this.slotHead[i] !== -1 && this.slotKey[i] !== key) i = (i + 1) & mask;
    return i;
  }

  /**
   * Is there a finished entry with this key and an equal state whose set
   * equals `set` on completed operations and is a subset of it on pending ones?
   */
  covers(key: number, set: Int32Array, state: S): boolean {
    const head = this.slotHead[this.slot(key)];
    const arena = this.arena.data;
    const exact = 2 + set[1];
    for (let e = head; e !== -1; e = this.entryNext.data[e]) {
      if (this.entryOnPath[e] === 1) continue;
      const offset = this.entryOffset.data[e];
      let same = true;
      for (let i = 0; i < exact; i++) {
        if (arena[offset + i] !== set[i]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      for (let w = 0; w < this.pendingWords; w++) {
        if ((arena[offset + exact + w] & ~set[exact + w]) !== 0) {
          same = false;
          break;
        }
      }
      if (same && this.equal(this.entryState[e], state)) return true;
    }
    return false;
  }

  /** Add an entry (on path); returns its id. */
  add(key: number, set: Int32Array, state: S): number {
    if ((this.slotsUsed + 1) * 2 > this.slotKey.length) this.grow();
    const i = this.slot(key);
    if (this.slotHead[i] === -1) {
      this.slotKey[i] = key;
      this.slotsUsed++;
    }
    const e = this.entryState.length;
    const length = 2 + set[1] + this.pendingWords;
    this.arena.reserve(length);
    this.entryOffset.push(this.arena.length);
    this.arena.data.set(set.subarray(0, length), this.arena.length);
    this.arena.length += length;
    this.entryNext.push(this.slotHead[i]);
    this.slotHead[i] = e;
    this.entryState.push(state);
    if (e >= this.entryOnPath.length) {
      const bigger = new Uint8Array(this.entryOnPath.length * 2);
      bigger.set(this.entryOnPath);
      this.entryOnPath = bigger;
    }
    this.entryOnPath[e] = 1;
    return e;
  }

  finish(entry: number): void {
    this.entryOnPath[entry] = 0;
  }

  private grow(): void {
    const oldKey = this.slotKey;
    const oldHead = this.slotHead;
    this.slotKey = new Int32Array(oldKey.length * 2);
    this.slotHead = new Int32Array(oldKey.length * 2).fill(-1);
    for (let j = 0; j < oldKey.length; j++) {
      if (oldHead[j] === -1) continue;
      const i = this.slot(oldKey[j]);
      this.slotKey[i] = oldKey[j];
      this.slotHead[i] = oldHead[j];
    }
  }
}

/**
 * Search one partition. With `explainAtDepth`, stop at the first backtrack
 * at that depth and return what is stuck there (the search is
 * deterministic, so a second run retraces the first).
 */
export function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  deadline: number | undefined,
  explainAtDepth = -1,
): PartitionOutcome<S> {
  const n = ops.length;
  if (n === 0) return { verdict: 'ok', steps: 0 };
  const inputs = ops.map((op) => op.input);
  const outputs = ops.map((op) => op.output);

  // Completed operations, ranked by call time; pending ones apart, by call time.
  const main: number[] = [];
  const pend: number[] = [];
  ops.forEach((op, i) => (op.output === UNKNOWN ? pend : main).push(i));
  const byCall = (a: number, b: number): number => compareTimes(ops[a].call, ops[b].call) || a - b;
  main.sort(byCall);
  pend.sort(byCall);
  const m = main.length;
  const rank = new Int32Array(n).fill(-1);
  main.forEach((op, r) => (rank[op] = r));
  const pendBit = new Int32Array(n).fill(-1);
  pend.forEach((op, j) => (pendBit[op] = j));
  const callAtRank = main.map((op) => ops[op].call);
  const returnAtRank = main.map((op) => ops[op].return);
  const pendCall = pend.map((op) => ops[op].call);

  // The list of events of completed operations. Events 0..m-1 are the calls
  // of ranks 0..m-1, m..2m-1 their returns. At equal times a call goes
  // first, so operations that touch count as overlapping.
  const order = Array.from({ length: 2 * m }, (_, e) => e);
  const eventTime = (e: number): Timestamp => (e < m ? callAtRank[e] : returnAtRank[e - m]);
  order.sort((a, b) => compareTimes(eventTime(a), eventTime(b)) || (a < m ? 0 : 1) - (b < m ? 0 : 1) || a - b);
  // Node 0 is the head, 2m+1 the tail, node k+1 the k-th event.
  const HEAD = 0;
  const TAIL = 2 * m + 1;
  const next = new Int32Array(2 * m + 2);
  const prev = new Int32Array(2 * m + 2);
  const nodeOp = new Int32Array(2 * m + 2).fill(-1);
  const nodeTime: Timestamp[] = new Array<Timestamp>(2 * m + 2).fill(0);
  const match = new Int32Array(2 * m + 2).fill(-1); // call node -> its return node; -1 for returns
  const returnNode = new Int32Array(m);
  for (let k = 0; k < 2 * m; k++) {
    const e = order[k];
    nodeOp[k + 1] = main[e % m];
    nodeTime[k + 1] = eventTime(e);
    if (e >= m) returnNode[e - m] = k + 1;
  }
  for (let k = 0; k < 2 * m; k++) if (order[k] < m) match[k + 1] = returnNode[order[k]];
  for (let node = 0; node <= TAIL; node++) {
    next[node] = node + 1;
    prev[node] = node - 1;
  }
  const lift = (call: number): void => {
    next[prev[call]] = next[call];
    prev[next[call]] = prev[call];
    const ret = match[call];
    next[prev[ret]] = next[ret];
    prev[next[ret]] = prev[ret];
  };
  // Exact inverse of lift, valid because lifts and unlifts nest (LIFO).
  const unlift = (call: number): void => {
    const ret = match[call];
    next[prev[ret]] = ret;
    prev[next[ret]] = ret;
    next[prev[call]] = call;
    prev[next[call]] = call;
  };

  const hashState = model.hash
    ? (s: S): number => {
        const h = model.hash!(s);
        return typeof h === 'number' ? h | 0 : hashString(h);
      }
    : (): number => 0;

  // The linearized set. Completed operations of rank < frontier are all
  // linearized; one of rank >= frontier can only be linearized if it was
  // called before the frontier's operation returns (which had to wait), so
  // the set encodes compactly as [frontier, count, those ranks..., pending
  // bitset words...]. Its hash (xor of one random word per completed member)
  // ignores pending operations, so that configurations that differ only in
  // pending operations share a chain in the cache.
  const linearized = new Uint8Array(n);
  const pendingWords = (pend.length + 31) >>> 5;
  const pendingSet = new Int32Array(pendingWords);
  let frontier = 0;
  const memberHash = new Int32Array(n);
  for (const op of main) memberHash[op] = mix32(op + 1);
  let setHash = 0;
  let encoded = new Int32Array(2 + 64 + pendingWords);
  const encode = (): Int32Array => {
    let count = 0;
    if (frontier < m) {
      const limit = returnAtRank[frontier];
      for (let r = frontier + 1; r < m && callAtRank[r] <= limit; r++) {
        if (linearized[main[r]] === 1) {
          if (2 + count + pendingWords >= encoded.length) {
            const bigger = new Int32Array(encoded.length * 2);
            bigger.set(encoded);
            encoded = bigger;
          }
          encoded[2 + count++] = r;
        }
      }
    }
    encoded[0] = frontier;
    encoded[1] = count;
    for (let w = 0; w < pendingWords; w++) encoded[2 + count + w] = pendingSet[w];
    return encoded;
  };
  const mark = (op: number): void => {
    linearized[op] = 1;
    const r = rank[op];
    if (r >= 0) {
      setHash ^= memberHash[op];
      if (r === frontier) while (frontier < m && linearized[main[frontier]] === 1) frontier++;
    } else {
      pendingSet[pendBit[op] >>> 5] |= 1 << (pendBit[op] & 31);
    }
  };
  const unmark = (op: number): void => {
    linearized[op] = 0;
    const r = rank[op];
    if (r >= 0) {
      setHash ^= memberHash[op];
      if (r < frontier) frontier = r;
    } else {
      pendingSet[pendBit[op] >>> 5] &= ~(1 << (pendBit[op] & 31));
    }
  };

  const visited = new Visited<S>((a, b) => model.equal(a, b), pendingWords);

  // The search stack: per linearized operation, its call node (-1 if
  // pending), the state before it, its cache entry, and for pending ones the
  // scan position to resume from and the first return of that configuration.
  const stackOp = new Int32Array(n);
  const stackNode = new Int32Array(n);
  const stackPend = new Int32Array(n);
  const stackReturn = new Int32Array(n);
  const stackEntry = new Int32Array(n);
  const stackState: (S | undefined)[] = new Array<S | undefined>(n);
  let depth = 0;
  let state = model.init();
  let remaining = m; // completed operations not yet linearized

  /** Apply `op` and push it, unless the model refuses or the cache prunes it. */
  const tryLinearize = (op: number, pending: boolean): boolean => {
    const [accepted, after] = model.step(state, inputs[op], outputs[op]);
    if (!accepted) return false;
    // A pending operation that changes nothing here might as well go last.
    if (pending && model.equal(after, state)) return false;
    mark(op);
    const set = encode();
    const key = (setHash ^ Math.imul(hashState(after), 0x9e3779b1)) | 0;
    if (visited.covers(key, set, after)) {
      unmark(op);
      return false;
    }
    stackEntry[depth] = visited.add(key, set, after);
    stackOp[depth] = op;
    stackState[depth] = state;
    depth++;
    state = after;
    return true;
  };

  let bestDepth = -1;
  let steps = 0;
  // Candidates of a configuration: first the calls before the first return
  // in the list (phase "main"), then the pending operations called by then.
  // Trying pending ones last explores configurations with fewer pending
  // operations first, which then rule out the others.
  let inMain = true;
  let node = next[HEAD];
  let firstReturn = -1;
  let pi = 0;
  for (;;) {
    if (remaining === 0) {
      appendPending();
      return { verdict: 'ok', steps };
    }
    steps++;
    if (deadline !== undefined && steps % CLOCK_EVERY === 0 && performance.now() > deadline) {
      return { verdict: 'unknown', steps };
    }
    if (inMain) {
      if (match[node] < 0) {
        firstReturn = node;
        inMain = false;
        pi = 0;
      } else if (tryLinearize(nodeOp[node], false)) {
        stackNode[depth - 1] = node;
        lift(node);
        remaining--;
        node = next[HEAD];
      } else {
        node = next[node];
      }
      continue;
    }
    if (pi < pend.length && pendCall[pi] <= nodeTime[firstReturn]) {
      const op = pend[pi];
      if (linearized[op] === 0 && tryLinearize(op, true)) {
        stackNode[depth - 1] = -1;
        stackPend[depth - 1] = pi;
        stackReturn[depth - 1] = firstReturn;
        inMain = true;
        node = next[HEAD];
      } else {
        pi++;
      }
      continue;
    }
    // Every candidate failed: the operation returning at firstReturn cannot
    // be linearized in this configuration. Backtrack.
    if (depth === explainAtDepth) return { verdict: 'illegal', steps, stuck: recordStuck(firstReturn) };
    if (depth > bestDepth) bestDepth = depth;
    if (depth === 0) return { verdict: 'illegal', steps, bestDepth };
    depth--;
    const op = stackOp[depth];
    state = stackState[depth] as S;
    stackState[depth] = undefined;
    visited.finish(stackEntry[depth]);
    unmark(op);
    const call = stackNode[depth];
    if (call >= 0) {
      unlift(call);
      remaining++;
      inMain = true;
      node = next[call];
    } else {
      pi = stackPend[depth] + 1;
      firstReturn = stackReturn[depth];
    }
  }

  /**
   * Every completed operation is linearized: the pending ones left over go
   * last, where their effect cannot be observed. Models must accept UNKNOWN
   * outputs in any state; check that this one does.
   */
  function appendPending(): void {
    let s = state;
    for (const op of pend) {
      if (linearized[op] === 1) continue;
      const [accepted, after] = model.step(s, inputs[op], outputs[op]);
      if (!accepted) {
        throw new TypeError(`model refused an operation with an UNKNOWN output (input ${safeJson(inputs[op])}); models must accept any output when it is UNKNOWN`);
      }
      s = after;
    }
  }

  function recordStuck(at: number): StuckPoint<S> {
    const prefix: number[] = [];
    const states: S[] = [];
    for (let i = 0; i < depth; i++) {
      prefix.push(stackOp[i]);
      states.push(i + 1 < depth ? (stackState[i + 1] as S) : state);
    }
    // Every node before the first return in the list is an open call.
    const open: number[] = [];
    for (let k = next[HEAD]; k !== at; k = next[k]) open.push(nodeOp[k]);
    for (let j = 0; j < pend.length && pendCall[j] <= nodeTime[at]; j++) if (linearized[pend[j]] === 0) open.push(pend[j]);
    return { prefix, states, state, blocking: nodeOp[at], open };
  }
}

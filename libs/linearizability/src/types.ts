/**
 * The vocabulary of the checker: operations and events of a recorded history,
 * the sequential model they are checked against, and the result.
 */

/**
 * The output of an operation whose outcome is unknown: the client timed out,
 * lost its connection, or crashed before it saw a response. Such an operation
 * may or may not have taken effect, at any time after its call.
 */
export const UNKNOWN: unique symbol = Symbol.for('@kubets/linearizability.unknown');
export type Unknown = typeof UNKNOWN;

/**
 * A point in time. Any unit, as long as one history uses one clock: numbers
 * (e.g. `performance.now()`) or bigints (e.g. `process.hrtime.bigint()`, which
 * does not fit a double without losing nanoseconds). `Infinity` as a return
 * time means "never returned".
 */
export type Timestamp = number | bigint;

/** A client identity, only used to describe operations. */
export type ClientId = number | string;

/**
 * One completed or pending operation of a history.
 *
 * An operation that never returned has `output: UNKNOWN` and, by convention,
 * `return: Infinity`. The checker treats *every* operation with an UNKNOWN
 * output as if it returned at Infinity, whatever `return` says: a request the
 * client gave up on may still be applied later (it can sit in a Raft log), so
 * the only sound reading is "may take effect at any point after its call, or
 * never" (never is the same as "last, after everything else").
 */
export interface Operation<I, O> {
  clientId: ClientId;
  input: I;
  /** When the client sent the request. */
  call: Timestamp;
  output: O | Unknown;
  /** When the client saw the response; `Infinity` if it never did. */
  return: Timestamp;
}

/**
 * The event-list form of a history, as an ordered list of call and return
 * events matched by `id` (Porcupine's `Event`). Only the order matters. A call
 * without a return, or a return whose value is UNKNOWN, is a pending operation.
 */
export type HistoryEvent<I, O> =
  | { kind: 'call'; id: number | string; clientId: ClientId; value: I }
  | { kind: 'return'; id: number | string; clientId?: ClientId; value: O | Unknown };

/**
 * A sequential specification of the object under test.
 *
 * States must be treated as immutable: `step` returns a new state (or the same
 * one when nothing changes) and never mutates its argument, because the checker
 * keeps old states to backtrack to and in its cache.
 */
export interface Model<S, I, O> {
  /** The state before any operation. */
  init(): S;
  /**
   * Apply `input` to `state`. Returns whether `output` is what the object
   * would have answered in that state, and the state after the operation.
   * When `output` is UNKNOWN the model must accept it (any answer is possible)
   * and return the state as if the operation took effect; "did not take
   * effect" is covered by the checker placing the operation last.
   */
  step(state: S, input: I, output: O | Unknown): [ok: boolean, next: S];
  /** State equality, used by the cache of visited (linearized set, state) pairs. */
  equal(a: S, b: S): boolean;
  /** A hash consistent with `equal`. Optional but speeds up the cache when states vary. */
  hash?(state: S): number | string;
  /**
   * Split a history into independent parts (P-compositionality), e.g. one per
   * key. Each part is checked alone; the history is linearizable iff every
   * part is. Only correct when operations of different parts commute and no
   * operation touches two parts.
   */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /** A name for a part returned by `partition`, e.g. `key "a"`. */
  partitionLabel?(part: readonly Operation<I, O>[]): string;
  /** One line for an operation, e.g. `put("a", "1") -> ok`. */
  describeOperation?(input: I, output: O | Unknown): string;
  /** One line for a state. */
  describeState?(state: S): string;
}

export interface CheckOptions {
  /**
   * Give up after this many milliseconds (over all partitions). A check that
   * gives up has `verdict: 'unknown'`, `timedOut: true` and `ok: false`:
   * it proves nothing either way and must not be read as a pass.
   */
  timeoutMs?: number;
  /** Stop at the first partition found not linearizable; later ones are `skipped`. Default false. */
  stopAtFirstFailure?: boolean;
}

/**
 * `ok`: a linearization exists. `illegal`: none exists (proved by exhaustive
 * search). `unknown`: the search was cut short by the timeout.
 */
export type Verdict = 'ok' | 'illegal' | 'unknown';

/** An operation as shown in a counterexample. */
export interface DescribedOperation<I, O> {
  operation: Operation<I, O>;
  /** `model.describeOperation`, or JSON. */
  description: string;
}

export interface LinearizedStep<S, I, O> extends DescribedOperation<I, O> {
  stateAfter: S;
  stateDescription: string;
}

export interface StuckOperation<I, O> extends DescribedOperation<I, O> {
  /**
   * Whether the model accepts this operation's output in the state after the
   * longest prefix. `false`: its output contradicts that state. `true`: it
   * could come next, but every continuation from there failed.
   */
  acceptedByModel: boolean;
}

/**
 * Why a partition is not linearizable: the longest linearizable prefix the
 * search found, and the operations that were open at that point, none of which
 * leads to a full linearization.
 */
export interface Counterexample<S, I, O> {
  partition: number;
  label: string;
  /** Operations in the partition. */
  operations: number;
  /** The longest linearizable prefix found, in linearization order. */
  prefix: LinearizedStep<S, I, O>[];
  /** The state after `prefix`. */
  state: S;
  stateDescription: string;
  /**
   * The operation whose return was reached before it could be linearized: it
   * had to take effect by then, and could not.
   */
  blocking: DescribedOperation<I, O>;
  /** The operations not in the prefix that had been called before `blocking` returned (including it). */
  stuck: StuckOperation<I, O>[];
}

export interface PartitionResult<S, I, O> {
  index: number;
  label: string;
  operations: number;
  /** `skipped`: not checked because `stopAtFirstFailure` and an earlier partition failed. */
  verdict: Verdict | 'skipped';
  /** Search steps taken. */
  steps: number;
  elapsedMs: number;
  counterexample?: Counterexample<S, I, O>;
}

export interface CheckResult<S, I, O> {
  /** True only if every partition was proved linearizable. */
  ok: boolean;
  /** `illegal` if any partition is illegal; else `unknown` if any timed out; else `ok`. */
  verdict: Verdict;
  /** Set when the timeout cut the search short somewhere. Never a pass. */
  timedOut?: boolean;
  /** Operations in the history as given (before partitioning). */
  operations: number;
  partitions: PartitionResult<S, I, O>[];
  /** The counterexample of the first illegal partition. */
  counterexample?: Counterexample<S, I, O>;
  elapsedMs: number;
}

/**
 * @kubets/linearizability: is a recorded concurrent history linearizable?
 *
 * A Porcupine-style checker (Wing & Gong search with Lowe's state cache, and
 * P-compositionality: the model's `partition` splits the history, e.g. per
 * key, and each part is checked alone). Written for the kubets-kv Jepsen-style
 * tests: clients put/get/cas a few keys while members are killed; record every
 * operation, then check.
 *
 * ```ts
 * import { checkOperations, kvModel, describeFailure, UNKNOWN, type KvOperation } from '@kubets/linearizability';
 *
 * const history: KvOperation[] = [];
 * const call = performance.now();                     // any clock, numbers or bigints
 * try {
 *   await kv.put('a', '1');
 *   history.push({ clientId: 1, input: { op: 'put', key: 'a', value: '1' }, call,
 *                  output: { ok: true }, return: performance.now() });
 * } catch {                                              // timeout, member killed: outcome unknown
 *   history.push({ clientId: 1, input: { op: 'put', key: 'a', value: '1' }, call,
 *                  output: UNKNOWN, return: Infinity });
 * }
 * // ... gets -> { value: string | null }, deletes -> { deleted }, cas -> { succeeded }
 *
 * const result = checkOperations(kvModel, history, { timeoutMs: 10_000 });
 * if (!result.ok) throw new Error(describeFailure(result));   // or assertLinearizable(result)
 * ```
 *
 * Rules that matter:
 * - `call` is taken before the request is sent, `return` after the response
 *   arrives. A wider interval is always safe; a narrower one gives false alarms.
 * - An operation whose outcome is unknown gets `output: UNKNOWN` (and
 *   `return: Infinity`). It may or may not have taken effect, at any time after
 *   its call; the checker accepts both. Do not record it as failed, and do not
 *   drop an unknown write: a later read may see it. (`clientId` only labels
 *   operations in explanations; overlapping operations of one client are fine.)
 * - Operations that definitely failed (rejected before being proposed) are
 *   left out of the history. `kvModel` does not check revisions (they are
 *   store-wide, the check is per key). Unique put/cas values are not
 *   required but make the check sharper and faster (a read names its write).
 * - `result.verdict` is `ok`, `illegal` (proved: see `result.counterexample`
 *   and `describeFailure`) or `unknown` (the `timeoutMs` budget ran out:
 *   `timedOut: true`, `ok: false`). Unknown proves nothing; treat it as a test
 *   failure or an inconclusive run, never as a pass.
 * - Equal timestamps count as overlapping (a return at t and a call at t may
 *   be ordered either way): the conservative reading.
 * - Cost: each key is searched alone (Wing & Gong with a state cache, as in
 *   Porcupine). Linearizable histories of thousands of operations per key
 *   with ~5 concurrent clients take tens of milliseconds. The search is
 *   exponential in how many operations overlap, and a pending operation
 *   overlaps everything after its call, so proving a history NOT
 *   linearizable when a key has many pending writes can take seconds: always
 *   pass `timeoutMs`.
 *
 * Custom models implement `Model<S, I, O>`: `init`, `step(state, input, output)
 * -> [ok, next]` (pure; accept any output when it is UNKNOWN), `equal`, and
 * optionally `hash`, `partition`, `partitionLabel`, `describeOperation`,
 * `describeState`. `checkEvents` takes Porcupine's event-list form instead.
 */
export { checkOperations, checkEvents, eventsToOperations, pendingOperation } from './checker';
export { describeFailure, describeCounterexample, formatOperation, assertLinearizable } from './describe';
export type { DescribeOptions } from './describe';
export { UNKNOWN } from './types';
export type {
  Unknown,
  Timestamp,
  ClientId,
  Operation,
  HistoryEvent,
  Model,
  CheckOptions,
  Verdict,
  CheckResult,
  PartitionResult,
  Counterexample,
  DescribedOperation,
  LinearizedStep,
  StuckOperation,
} from './types';
export { registerModel, createRegisterModel } from './models/register';
export type { RegisterValue, RegisterInput, RegisterOutput, RegisterOperation } from './models/register';
export { kvModel } from './models/kv';
export type { KvInput, KvOutput, KvPutOutput, KvGetOutput, KvDeleteOutput, KvCasOutput, KvOperation, KvState } from './models/kv';
export { hashString } from './hash';

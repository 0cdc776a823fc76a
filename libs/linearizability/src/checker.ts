/**
 * The public entry points: validate a history, split it with the model's
 * partition function, search each part (see search.ts), explain failures.
 */
import { UNKNOWN } from './types';
import type {
  CheckOptions,
  CheckResult,
  Counterexample,
  DescribedOperation,
  HistoryEvent,
  Model,
  Operation,
  PartitionResult,
  Timestamp,
  Verdict,
} from './types';
import { checkPartition } from './search';
import type { StuckPoint } from './search';
import { describeOperation, safeJson } from './format';

/**
 * Check a history of operations against a model. Throws a RangeError or
 * TypeError on a malformed history (bad timestamps, return before call); a
 * model may throw on outputs of the wrong shape.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<S, I, O> {
  const started = performance.now();
  history.forEach(validateOperation);
  const deadline = options.timeoutMs === undefined ? undefined : started + Math.max(0, options.timeoutMs);
  const parts = model.partition ? model.partition(history) : [history.slice()];

  const partitions: PartitionResult<S, I, O>[] = [];
  let illegal = false;
  let timedOut = false;
  for (let index = 0; index < parts.length; index++) {
    const ops = parts[index];
    const label = model.partitionLabel ? model.partitionLabel(ops) : parts.length === 1 ? 'history' : `partition ${index}`;
    if (illegal && options.stopAtFirstFailure) {
      partitions.push({ index, label, operations: ops.length, verdict: 'skipped', steps: 0, elapsedMs: 0 });
      continue;
    }
    const partStarted = performance.now();
    const outcome = checkPartition(model, ops, deadline);
    const result: PartitionResult<S, I, O> = {
      index,
      label,
      operations: ops.length,
      verdict: outcome.verdict,
      steps: outcome.steps,
      elapsedMs: performance.now() - partStarted,
    };
    if (outcome.verdict === 'illegal') {
      illegal = true;
      const explained = checkPartition(model, ops, undefined, outcome.bestDepth);
      result.counterexample = buildCounterexample(model, ops, index, label, explained.stuck!);
    } else if (outcome.verdict === 'unknown') {
      timedOut = true;
    }
    partitions.push(result);
  }

  const verdict: Verdict = illegal ? 'illegal' : timedOut ? 'unknown' : 'ok';
  const result: CheckResult<S, I, O> = {
    ok: verdict === 'ok',
    verdict,
    operations: history.length,
    partitions,
    elapsedMs: performance.now() - started,
  };
  if (timedOut) result.timedOut = true;
  const firstIllegal = partitions.find((p) => p.counterexample !== undefined);
  if (firstIllegal) result.counterexample = firstIllegal.counterexample;
  return result;
}

/**
 * Check a history given as an ordered list of call/return events. Only the
 * order of events matters; each event's index is used as its time. A call
 * with no return, or a return with an UNKNOWN value, is a pending operation.
 */
export function checkEvents<S, I, O>(
  model: Model<S, I, O>,
  events: readonly HistoryEvent<I, O>[],
  options: CheckOptions = {},
): CheckResult<S, I, O> {
  return checkOperations(model, eventsToOperations(events), options);
}

/** Convert the event-list form to operations (times are event indexes). */
export function eventsToOperations<I, O>(events: readonly HistoryEvent<I, O>[]): Operation<I, O>[] {
  const open = new Map<number | string, Operation<I, O>>();
  const closed = new Set<number | string>();
  const ops: Operation<I, O>[] = [];
  events.forEach((event, index) => {
    if (event.kind === 'call') {
      if (open.has(event.id) || closed.has(event.id)) throw new TypeError(`event ${index}: duplicate call id ${String(event.id)}`);
      const op: Operation<I, O> = { clientId: event.clientId, input: event.value, call: index, output: UNKNOWN, return: Infinity };
      open.set(event.id, op);
      ops.push(op);
    } else if (event.kind === 'return') {
      const op = open.get(event.id);
      if (op === undefined) throw new TypeError(`event ${index}: return for id ${String(event.id)} without an open call`);
      open.delete(event.id);
      closed.add(event.id);
      op.output = event.value;
      op.return = event.value === UNKNOWN ? Infinity : index;
    } else {
      throw new TypeError(`event ${index}: kind must be 'call' or 'return'`);
    }
  });
  return ops;
}

/** A pending operation: called, never answered. */
export function pendingOperation<I, O>(clientId: Operation<I, O>['clientId'], input: I, call: Timestamp): Operation<I, O> {
  return { clientId, input, call, output: UNKNOWN, return: Infinity };
}

function isTimestamp(t: unknown): t is Timestamp {
  return typeof t === 'bigint' || (typeof t === 'number' && !Number.isNaN(t));
}

function validateOperation<I, O>(op: Operation<I, O>, index: number): void {
  if (!isTimestamp(op.call) || op.call === Infinity || op.call === -Infinity) {
    throw new RangeError(`operation ${index}: call must be a finite number or a bigint, got ${String(op.call)}`);
  }
  if (op.output === UNKNOWN) return; // its return time is ignored
  if (!isTimestamp(op.return)) throw new RangeError(`operation ${index}: return must be a number or a bigint, got ${String(op.return)}`);
  if (op.return < op.call) throw new RangeError(`operation ${index}: returns (${String(op.return)}) before its call (${String(op.call)})`);
}

function buildCounterexample<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  partition: number,
  label: string,
  stuck: StuckPoint<S>,
): Counterexample<S, I, O> {
  const describeState = (s: S): string => (model.describeState ? model.describeState(s) : safeJson(s));
  const described = (i: number): DescribedOperation<I, O> => ({
    operation: ops[i],
    description: describeOperation(model, ops[i].input, ops[i].output),
  });
  return {
    partition,
    label,
    operations: ops.length,
    prefix: stuck.prefix.map((i, k) => ({
      ...described(i),
      stateAfter: stuck.states[k],
      stateDescription: describeState(stuck.states[k]),
    })),
    state: stuck.state,
    stateDescription: describeState(stuck.state),
    blocking: described(stuck.blocking),
    stuck: stuck.open.map((i) => ({
      ...described(i),
      acceptedByModel: model.step(stuck.state, ops[i].input, ops[i].output)[0],
    })),
  };
}

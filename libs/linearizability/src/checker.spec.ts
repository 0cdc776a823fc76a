import { checkEvents, checkOperations, eventsToOperations, pendingOperation } from './checker';
import { describeFailure } from './describe';
import { createRegisterModel, registerModel } from './models/register';
import type { RegisterInput, RegisterOperation, RegisterOutput, RegisterValue } from './models/register';
import { UNKNOWN } from './types';
import type { HistoryEvent, Model, Operation, Unknown } from './types';

// Register histories. Times are [call, return]; the register starts at null.
const put = (client: number, value: RegisterValue, call: number, ret: number): RegisterOperation => ({
  clientId: client,
  input: { op: 'put', value },
  call,
  output: { ok: true },
  return: ret,
});
const get = (client: number, value: RegisterValue, call: number, ret: number): RegisterOperation => ({
  clientId: client,
  input: { op: 'get' },
  call,
  output: { value },
  return: ret,
});
const pendingPut = (client: number, value: RegisterValue, call: number): RegisterOperation =>
  pendingOperation(client, { op: 'put', value }, call);

const verdictOf = (history: RegisterOperation[]): string => checkOperations(registerModel, history).verdict;

describe('register histories from the literature', () => {
  const cases: [name: string, history: RegisterOperation[], linearizable: boolean][] = [
    ['the empty history', [], true],
    ['a write, then a read of it', [put(1, 1, 0, 1), get(2, 1, 2, 3)], true],
    ['a read of the initial value', [get(1, null, 0, 1)], true],
    ['a read of a value nobody wrote', [get(1, 7, 0, 1)], false],
    ['a read overlapping a write may see the new value', [put(1, 1, 0, 10), get(2, 1, 2, 3)], true],
    ['a read overlapping a write may see the old value', [put(1, 1, 0, 10), get(2, null, 2, 3)], true],
    ['a read returns a value before it was written', [get(2, 1, 0, 1), put(1, 1, 2, 3)], false],
    // Sequentially consistent (reorder B's read first) but not linearizable.
    ['a read after a completed write sees the old value', [put(1, 1, 0, 1), get(2, null, 2, 3)], false],
    ['a stale read after two completed writes', [put(1, 1, 0, 1), put(1, 2, 2, 3), get(2, 1, 4, 5)], false],
    ['the last of two sequential writes wins', [put(1, 1, 0, 1), put(1, 2, 2, 3), get(2, 2, 4, 5)], true],
    // Lamport's regular-but-not-atomic register: new value, then old value, during one write.
    ['new-old inversion of two sequential reads during a write', [put(1, 1, 0, 10), get(2, 1, 1, 2), get(3, null, 3, 4)], false],
    ['old-new order of two sequential reads during a write', [put(1, 1, 0, 10), get(2, null, 1, 2), get(3, 1, 3, 4)], true],
    ['overlapping reads may disagree during a write', [put(1, 1, 0, 10), get(2, 1, 1, 4), get(3, null, 2, 3)], true],
    [
      'overlapping writes, reads ordered 2 then 1',
      [put(1, 1, 0, 10), put(2, 2, 0, 10), get(3, 2, 1, 2), get(3, 1, 3, 4)],
      true,
    ],
    [
      'overlapping writes, reads ordered 1 then 2',
      [put(1, 1, 0, 10), put(2, 2, 0, 10), get(3, 1, 1, 2), get(3, 2, 3, 4)],
      true,
    ],
    [
      'overlapping writes, the value flips back without a write',
      [put(1, 1, 0, 10), put(2, 2, 0, 10), get(3, 2, 1, 2), get(3, 1, 3, 4), get(3, 2, 11, 12)],
      false,
    ],
    [
      'three writers, readers agree on one order',
      [put(1, 1, 0, 6), put(2, 2, 1, 7), put(3, 3, 2, 8), get(4, 3, 3, 4), get(4, 1, 5, 9), get(5, 1, 10, 11)],
      true,
    ],
    [
      'three writers, readers see two different orders',
      [put(1, 1, 0, 10), put(2, 2, 0, 10), put(3, 3, 0, 10), get(4, 1, 1, 2), get(4, 2, 3, 4), get(5, 2, 1, 2), get(5, 1, 3, 4)],
      false,
    ],
    // Equal timestamps count as overlapping (the conservative choice).
    ['a write returning when a read is called: the read may see it', [put(1, 1, 0, 5), get(2, 1, 5, 6)], true],
    ['a write returning when a read is called: the read may miss it', [put(1, 1, 0, 5), get(2, null, 5, 6)], true],
    ['instantaneous operations at one instant may go in any order', [get(2, null, 3, 3), put(1, 1, 3, 3)], true],
  ];

  it.each(cases)('%s', (_name, history, linearizable) => {
    expect(verdictOf(history)).toBe(linearizable ? 'ok' : 'illegal');
  });

  it('does not depend on the order of the history array', () => {
    const history = [put(1, 1, 0, 10), put(2, 2, 0, 10), get(3, 2, 1, 2), get(3, 1, 3, 4), get(3, 2, 11, 12)];
    expect(verdictOf([...history].reverse())).toBe('illegal');
    expect(verdictOf(history.slice(0, 4).reverse())).toBe('ok');
  });

  it('honours a non-null initial value', () => {
    const model = createRegisterModel(0);
    expect(checkOperations(model, [get(1, 0, 0, 1)]).ok).toBe(true);
    expect(checkOperations(model, [get(1, null, 0, 1)]).ok).toBe(false);
  });
});

describe('operations with unknown outcome', () => {
  it('may or may not take effect', () => {
    expect(verdictOf([pendingPut(1, 1, 0), get(2, 1, 5, 6)])).toBe('ok');
    expect(verdictOf([pendingPut(1, 1, 0), get(2, null, 5, 6)])).toBe('ok');
    expect(verdictOf([pendingPut(1, 1, 0), get(2, null, 5, 6), get(2, 1, 7, 8)])).toBe('ok');
  });

  it('can take effect long after the client gave up', () => {
    expect(verdictOf([pendingPut(1, 1, 0), put(1, 2, 100, 101), get(2, 2, 200, 201), get(2, 1, 300, 301)])).toBe('ok');
  });

  it('a failed attempt that used up one pending write does not rule out orders that keep it', () => {
    // Only order: put(2), get, put(3), put(1), get. Trying put(1) first fails
    // in a configuration that differs from the good one only in pending writes.
    const history = [pendingPut(1, 1, 0), pendingPut(2, 2, 0), get(3, 2, 1, 2), put(3, 3, 3, 4), get(3, 1, 5, 6)];
    expect(verdictOf(history)).toBe('ok');
    expect(verdictOf([...history, get(3, 2, 7, 8)])).toBe('illegal');
  });

  it('cannot take effect before its call', () => {
    expect(verdictOf([get(2, 1, 0, 1), pendingPut(1, 1, 2)])).toBe('illegal');
  });

  it('take effect at most once: a value seen cannot disappear without a write', () => {
    expect(verdictOf([pendingPut(1, 1, 0), get(2, 1, 5, 6), get(2, null, 7, 8)])).toBe('illegal');
  });

  it('do not make values nobody wrote readable', () => {
    expect(verdictOf([pendingPut(1, 1, 0), get(2, 2, 5, 6)])).toBe('illegal');
  });

  it('ignore the recorded return time: UNKNOWN means it may still take effect later', () => {
    const timedOut: RegisterOperation = { clientId: 1, input: { op: 'put', value: 1 }, call: 0, output: UNKNOWN, return: 3 };
    expect(verdictOf([timedOut, get(2, null, 5, 6), get(2, 1, 7, 8)])).toBe('ok');
  });

  it('a known output with return Infinity must still be linearized, at any time after its call', () => {
    const late: RegisterOperation = { ...get(2, 1, 5, 0), return: Infinity };
    expect(verdictOf([late, put(1, 1, 10, 11)])).toBe('ok');
    expect(verdictOf([late])).toBe('illegal');
  });

  it('models must accept UNKNOWN outputs: a model that does not is reported', () => {
    const strict: Model<RegisterValue, RegisterInput, RegisterOutput> = {
      ...registerModel,
      step: (state, input, output) => (output === UNKNOWN ? [false, state] : registerModel.step(state, input, output)),
    };
    expect(() => checkOperations(strict, [put(1, 1, 0, 1), pendingPut(2, 2, 0)])).toThrow(/must accept any output when it is UNKNOWN/);
  });

  it('a pending read constrains nothing', () => {
    const pendingGet = pendingOperation<RegisterInput, RegisterOutput>(1, { op: 'get' }, 0);
    expect(verdictOf([pendingGet, put(2, 1, 1, 2), get(3, 1, 3, 4)])).toBe('ok');
  });
});

describe('timestamps and validation', () => {
  it('accepts bigint timestamps (process.hrtime.bigint) beyond 2^53', () => {
    const base = 2n ** 60n;
    const big = (op: RegisterOperation, call: bigint, ret: bigint): RegisterOperation => ({ ...op, call: base + call, return: base + ret });
    // 1 ns apart: a double cannot tell these apart, a bigint can.
    expect(verdictOf([big(put(1, 1, 0, 0), 0n, 1n), big(get(2, null, 0, 0), 2n, 3n)])).toBe('illegal');
    expect(verdictOf([big(put(1, 1, 0, 0), 0n, 2n), big(get(2, null, 0, 0), 2n, 3n)])).toBe('ok');
  });

  it('rejects malformed operations', () => {
    expect(() => verdictOf([put(1, 1, 5, 4)])).toThrow(RangeError);
    expect(() => verdictOf([put(1, 1, Number.NaN, 4)])).toThrow(RangeError);
    expect(() => verdictOf([put(1, 1, 0, Number.NaN)])).toThrow(RangeError);
    expect(() => verdictOf([pendingPut(1, 1, Infinity)])).toThrow(RangeError);
    const wrongShape = { ...get(1, 1, 0, 1), output: { ok: true as const } };
    expect(() => verdictOf([wrongShape])).toThrow(TypeError);
  });
});

// A FIFO queue: not partitionable, states are arrays.
type QueueInput = { op: 'enq'; value: string } | { op: 'deq' };
type QueueOutput = { ok: true } | { value: string | null };
const queueModel: Model<readonly string[], QueueInput, QueueOutput> = {
  init: () => [],
  step(state, input, output: QueueOutput | Unknown) {
    if (input.op === 'enq') return [true, [...state, input.value]];
    const head = state.length === 0 ? null : state[0];
    const ok = output === UNKNOWN || ('value' in output && output.value === head);
    return [ok, state.slice(1)];
  },
  equal: (a, b) => a.length === b.length && a.every((v, i) => v === b[i]),
  hash: (s) => s.join('\u0000'),
};
const enq = (client: string, value: string, call: number, ret: number): Operation<QueueInput, QueueOutput> => ({
  clientId: client,
  input: { op: 'enq', value },
  call,
  output: { ok: true },
  return: ret,
});
const deq = (client: string, value: string | null, call: number, ret: number): Operation<QueueInput, QueueOutput> => ({
  clientId: client,
  input: { op: 'deq' },
  call,
  output: { value },
  return: ret,
});

describe('a custom model: the FIFO queue of Herlihy & Wing', () => {
  it('overlapping enqueues may be dequeued in either order', () => {
    const history = [enq('A', 'x', 0, 3), enq('B', 'y', 1, 4), deq('B', 'y', 5, 6), deq('A', 'x', 7, 8)];
    expect(checkOperations(queueModel, history).ok).toBe(true);
  });

  it('sequential enqueues must be dequeued in order', () => {
    const history = [enq('A', 'x', 0, 1), enq('B', 'y', 2, 3), deq('A', 'y', 4, 5)];
    expect(checkOperations(queueModel, history).verdict).toBe('illegal');
  });

  it('a value is dequeued once', () => {
    const history = [enq('A', 'x', 0, 1), deq('B', 'x', 2, 5), deq('C', 'x', 3, 4)];
    expect(checkOperations(queueModel, history).verdict).toBe('illegal');
  });
});

describe('the event-list form', () => {
  const call = (id: number, value: QueueInput, clientId = id): HistoryEvent<QueueInput, QueueOutput> => ({ kind: 'call', id, clientId, value });
  const ret = (id: number, value: QueueOutput | Unknown): HistoryEvent<QueueInput, QueueOutput> => ({ kind: 'return', id, value });

  it('checks the same histories', () => {
    const ok = [call(1, { op: 'enq', value: 'x' }), call(2, { op: 'enq', value: 'y' }), ret(1, { ok: true }), ret(2, { ok: true }), call(3, { op: 'deq' }), ret(3, { value: 'y' })];
    expect(checkEvents(queueModel, ok).ok).toBe(true);
    const bad = [call(1, { op: 'enq', value: 'x' }), ret(1, { ok: true }), call(2, { op: 'enq', value: 'y' }), ret(2, { ok: true }), call(3, { op: 'deq' }), ret(3, { value: 'y' })];
    expect(checkEvents(queueModel, bad).verdict).toBe('illegal');
  });

  it('treats a call without a return, or an UNKNOWN return, as pending', () => {
    const events = [call(1, { op: 'enq', value: 'x' }), call(2, { op: 'enq', value: 'y' }), ret(2, UNKNOWN), call(3, { op: 'deq' }), ret(3, { value: 'x' })];
    const ops = eventsToOperations(events);
    expect(ops.map((op) => op.return)).toEqual([Infinity, Infinity, 4]);
    expect(checkEvents(queueModel, events).ok).toBe(true);
    // y's enqueue may have happened, but cannot be dequeued before x's.
    const events2 = [call(1, { op: 'enq', value: 'x' }), ret(1, { ok: true }), call(2, { op: 'enq', value: 'y' }), call(3, { op: 'deq' }), ret(3, { value: 'y' })];
    expect(checkEvents(queueModel, events2).verdict).toBe('illegal');
  });

  it('rejects unmatched or duplicate ids', () => {
    expect(() => eventsToOperations([ret(1, { ok: true })])).toThrow(TypeError);
    expect(() => eventsToOperations([call(1, { op: 'deq' }), call(1, { op: 'deq' })])).toThrow(TypeError);
    expect(() => eventsToOperations([call(1, { op: 'deq' }), ret(1, { value: null }), ret(1, { value: null })])).toThrow(TypeError);
  });
});

describe('timeouts', () => {
  // 18 concurrent writes, then a read of a value nobody wrote: proving this
  // illegal means visiting every (subset of writes, last write) pair, millions.
  const hard = (): RegisterOperation[] => [...Array.from({ length: 18 }, (_, i) => put(i, i, 0, 10)), get(99, 'nobody', 11, 12)];

  it('gives up after timeoutMs with an unknown verdict, never a pass', () => {
    const started = performance.now();
    const result = checkOperations(registerModel, hard(), { timeoutMs: 30 });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result).toMatchObject({ ok: false, verdict: 'unknown', timedOut: true });
    expect(result.partitions[0].verdict).toBe('unknown');
    expect(result.counterexample).toBeUndefined();
    expect(describeFailure(result)).toMatch(/^UNKNOWN \(not a pass\)/);
  });

  it('a timeout of 0 still decides nothing silently', () => {
    const result = checkOperations(registerModel, hard(), { timeoutMs: 0 });
    expect(result.ok).toBe(false);
    expect(result.verdict).toBe('unknown');
  });

  it('does not affect histories decided in time', () => {
    expect(checkOperations(registerModel, [put(1, 1, 0, 1), get(2, 1, 2, 3)], { timeoutMs: 1000 })).toMatchObject({ ok: true, verdict: 'ok' });
    expect(checkOperations(registerModel, [put(1, 1, 0, 1), get(2, 2, 2, 3)], { timeoutMs: 1000 }).timedOut).toBeUndefined();
  });
});

import { checkOperations } from '../checker';
import { assertLinearizable, describeFailure } from '../describe';
import { UNKNOWN } from '../types';
import { kvModel } from './kv';
import type { KvInput, KvOperation, KvOutput } from './kv';

let nextClient = 1;
const op = (input: KvInput, output: KvOutput | typeof UNKNOWN, call: number, ret: number, clientId = nextClient++): KvOperation => ({
  clientId,
  input,
  call,
  output,
  return: output === UNKNOWN ? Infinity : ret,
});
const put = (key: string, value: string, call: number, ret: number, revision?: number): KvOperation =>
  op({ op: 'put', key, value }, revision === undefined ? { ok: true } : { ok: true, revision }, call, ret);
const get = (key: string, value: string | null, call: number, ret: number): KvOperation => op({ op: 'get', key }, { value }, call, ret);
const del = (key: string, deleted: number, call: number, ret: number): KvOperation => op({ op: 'delete', key }, { deleted }, call, ret);
const cas = (key: string, expect: string | null, value: string, succeeded: boolean, call: number, ret: number): KvOperation =>
  op({ op: 'cas', key, expect, value }, { succeeded }, call, ret);
const unknown = (input: KvInput, call: number): KvOperation => op(input, UNKNOWN, call, Infinity);

const verdict = (history: KvOperation[]): string => checkOperations(kvModel, history).verdict;

describe('kvModel semantics', () => {
  it('get of a missing key is null; put then get', () => {
    expect(verdict([get('a', null, 0, 1), put('a', '1', 2, 3), get('a', '1', 4, 5)])).toBe('ok');
    expect(verdict([put('a', '1', 0, 1), get('a', null, 2, 3)])).toBe('illegal');
  });

  it('delete reports whether the key existed and removes it', () => {
    expect(verdict([del('a', 0, 0, 1), put('a', '1', 2, 3), del('a', 1, 4, 5), get('a', null, 6, 7), del('a', 0, 8, 9)])).toBe('ok');
    expect(verdict([put('a', '1', 0, 1), del('a', 0, 2, 3)])).toBe('illegal');
    expect(verdict([del('a', 1, 0, 1)])).toBe('illegal');
    expect(verdict([put('a', '1', 0, 1), del('a', 1, 2, 3), get('a', '1', 4, 5)])).toBe('illegal');
  });

  it('cas succeeds exactly when the value matches (null = absent)', () => {
    expect(verdict([cas('a', null, '1', true, 0, 1), get('a', '1', 2, 3)])).toBe('ok');
    expect(verdict([cas('a', null, '1', false, 0, 1)])).toBe('illegal');
    expect(verdict([put('a', '1', 0, 1), cas('a', '1', '2', true, 2, 3), cas('a', '1', '3', false, 4, 5), get('a', '2', 6, 7)])).toBe('ok');
    expect(verdict([put('a', '1', 0, 1), cas('a', '0', '2', true, 2, 3)])).toBe('illegal');
    expect(verdict([put('a', '1', 0, 1), cas('a', '0', '2', false, 2, 3), get('a', '2', 4, 5)])).toBe('illegal');
    expect(verdict([put('a', '1', 0, 1), cas('a', null, '2', false, 2, 3), get('a', '1', 4, 5)])).toBe('ok');
  });

  it('two concurrent cas from the same value: exactly one may succeed', () => {
    const base = put('a', '0', 0, 1);
    expect(verdict([base, cas('a', '0', 'x', true, 2, 5), cas('a', '0', 'y', false, 3, 4)])).toBe('ok');
    expect(verdict([base, cas('a', '0', 'x', true, 2, 5), cas('a', '0', 'y', true, 3, 4)])).toBe('illegal');
  });

  it('accepts and ignores put revisions', () => {
    expect(verdict([put('a', '1', 0, 1, 7), put('b', '1', 2, 3, 3), get('a', '1', 4, 5)])).toBe('ok');
  });

  it('rejects outputs of the wrong shape with a TypeError', () => {
    const bad = { ...get('a', null, 0, 1), output: { ok: true } } as KvOperation;
    expect(() => checkOperations(kvModel, [bad])).toThrow(/does not fit get/);
    const bad2 = { ...put('a', '1', 0, 1), output: { value: '1' } } as KvOperation;
    expect(() => checkOperations(kvModel, [bad2])).toThrow(TypeError);
  });
});

describe('kvModel with unknown outcomes', () => {
  it.each([
    ['put', { op: 'put', key: 'a', value: '1' }],
    ['cas', { op: 'cas', key: 'a', expect: null, value: '1' }],
  ] as [string, KvInput][])('an unknown %s may or may not take effect', (_name, input) => {
    expect(verdict([unknown(input, 0), get('a', '1', 5, 6)])).toBe('ok');
    expect(verdict([unknown(input, 0), get('a', null, 5, 6)])).toBe('ok');
    expect(verdict([unknown(input, 0), get('a', null, 5, 6), get('a', '1', 7, 8)])).toBe('ok');
    // But it takes effect once, at one instant.
    expect(verdict([unknown(input, 0), get('a', '1', 5, 6), get('a', null, 7, 8)])).toBe('illegal');
    // And reading a value nobody ever wrote is still wrong.
    expect(verdict([unknown(input, 0), get('a', '2', 5, 6)])).toBe('illegal');
  });

  it('an unknown cas whose comparison fails cannot write', () => {
    expect(verdict([put('a', '0', 0, 1), unknown({ op: 'cas', key: 'a', expect: 'nope', value: '1' }, 2), get('a', '1', 5, 6)])).toBe('illegal');
  });

  it('an unknown delete may or may not take effect', () => {
    const d = (): KvOperation => unknown({ op: 'delete', key: 'a' }, 2);
    expect(verdict([put('a', '0', 0, 1), d(), get('a', null, 5, 6)])).toBe('ok');
    expect(verdict([put('a', '0', 0, 1), d(), get('a', '0', 5, 6)])).toBe('ok');
    expect(verdict([put('a', '0', 0, 1), d(), get('a', null, 5, 6), get('a', '0', 7, 8)])).toBe('illegal');
  });

  it('an unknown put can only take effect after its call', () => {
    expect(verdict([get('a', '1', 0, 1), unknown({ op: 'put', key: 'a', value: '1' }, 2)])).toBe('illegal');
  });

  it('drops unknown gets when partitioning', () => {
    const result = checkOperations(kvModel, [put('a', '1', 0, 1), unknown({ op: 'get', key: 'a' }, 0), unknown({ op: 'get', key: 'b' }, 0)]);
    expect(result.ok).toBe(true);
    expect(result.partitions.map((p) => [p.label, p.operations])).toEqual([['key "a"', 1]]);
  });
});

describe('per-key partitioning', () => {
  const history = (): KvOperation[] => [
    put('a', '1', 0, 1),
    put('b', '1', 0, 1),
    put('c', '1', 0, 1),
    get('a', '1', 2, 3),
    put('b', '2', 2, 3),
    get('b', '1', 4, 5), // stale
    get('c', '1', 4, 5),
  ];

  it('checks each key alone and names the failing one', () => {
    const result = checkOperations(kvModel, history());
    expect(result.ok).toBe(false);
    expect(result.verdict).toBe('illegal');
    expect(result.partitions.map((p) => [p.label, p.verdict])).toEqual([
      ['key "a"', 'ok'],
      ['key "b"', 'illegal'],
      ['key "c"', 'ok'],
    ]);
    expect(result.counterexample?.label).toBe('key "b"');
  });

  it('can stop at the first failing partition', () => {
    const result = checkOperations(kvModel, history(), { stopAtFirstFailure: true });
    expect(result.partitions.map((p) => p.verdict)).toEqual(['ok', 'illegal', 'skipped']);
    expect(describeFailure(result)).toContain('1 partition(s) skipped');
  });

  it('keys do not constrain each other', () => {
    // Per key this is fine; across keys the reads see a and b in opposite orders,
    // which is still linearizable (the puts overlap every read).
    const h = [put('a', '1', 0, 10), put('b', '1', 0, 10), get('a', '1', 1, 2), get('b', null, 3, 4), get('b', '1', 1, 2), get('a', null, 3, 4)];
    expect(verdict(h)).toBe('illegal'); // per key: a seen then unseen
    const h2 = [put('a', '1', 0, 10), put('b', '1', 0, 10), get('a', '1', 1, 2), get('b', null, 1, 2)];
    expect(verdict(h2)).toBe('ok');
  });
});

describe('describeFailure', () => {
  it('names the key, the longest prefix, the stuck operations and their times', () => {
    const history = [
      { ...put('k', 'v1', 100, 110), clientId: 1 },
      { ...put('k', 'v2', 120, 130), clientId: 2 },
      { ...get('k', 'v1', 140, 150), clientId: 3 },
      { ...put('other', 'x', 100, 200), clientId: 4 },
    ];
    const result = checkOperations(kvModel, history);
    expect(result.verdict).toBe('illegal');
    const cx = result.counterexample!;
    expect(cx.label).toBe('key "k"');
    expect(cx.prefix.map((s) => s.description)).toEqual(['put("k", "v1") -> ok', 'put("k", "v2") -> ok']);
    expect(cx.stateDescription).toBe('{"k": "v2"}');
    expect(cx.blocking.operation.clientId).toBe(3);
    expect(cx.stuck).toEqual([expect.objectContaining({ description: 'get("k") -> "v1"', acceptedByModel: false })]);

    const text = describeFailure(result);
    expect(text).toContain('NOT linearizable: key "k"');
    expect(text).toContain('client 1: put("k", "v1") -> ok  [call 100, return 110]');
    expect(text).toContain('client 3: get("k") -> "v1"  [call 140, return 150]  (its output contradicts this state)');
    expect(text).toContain('had to take effect before it returned');
    expect(describeFailure(result, { origin: 100 })).toContain('[call +40, return +50]');
    expect(() => assertLinearizable(result)).toThrow(/NOT linearizable: key "k"/);
  });

  it('marks operations that fit the state but lead nowhere, and pending ones', () => {
    const history = [
      { ...put('k', 'v1', 0, 1), clientId: 1 },
      { ...op({ op: 'put', key: 'k', value: 'v2' }, UNKNOWN, 2, Infinity), clientId: 2 },
      { ...get('k', 'v2', 3, 4), clientId: 3 },
      { ...get('k', 'v1', 5, 6), clientId: 4 },
    ];
    const result = checkOperations(kvModel, history);
    expect(result.verdict).toBe('illegal');
    const text = describeFailure(result);
    expect(text).toContain('put("k", "v2") -> ? (no response)  [call 2, never returned]');
    expect(text).toMatch(/fits this state, but every continuation fails|its output contradicts this state/);
  });

  it('shortens long prefixes and describes passes', () => {
    const history: KvOperation[] = [];
    for (let i = 0; i < 50; i++) history.push(put('k', `v${i}`, 10 * i, 10 * i + 1));
    history.push(get('k', 'v3', 1000, 1001));
    const result = checkOperations(kvModel, history);
    const text = describeFailure(result, { maxPrefix: 5 });
    expect(text).toContain('45 earlier operation(s) not shown');
    expect(text.split('\n').length).toBeLessThan(20);
    expect(describeFailure(checkOperations(kvModel, history.slice(0, 50)))).toMatch(/^Linearizable: 50 operations in 1 partition/);
  });
});

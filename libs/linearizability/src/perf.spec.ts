/**
 * Speed on histories shaped like the kubets-kv tests. Each test checks one
 * fixed history (a fixed seed), so the work is the same on every run, and its
 * budget is far above the time measured on a quiet machine (tens of ms): it
 * catches a search that blows up, not the load of a shared CI machine.
 * Random histories of every shape are covered by property.spec.ts.
 */
import { withSeed } from '@kubets/testkit';
import { checkOperations } from './checker';
import { describeFailure } from './describe';
import { kvModel } from './models/kv';
import { mutate, simulateKv } from '../test/support/kv-sim';

function timed<T>(body: () => T): [T, number] {
  const started = performance.now();
  const value = body();
  return [value, performance.now() - started];
}

describe('performance', () => {
  // Warm the JIT so the first budget does not pay for compilation.
  beforeAll(() => {
    checkOperations(kvModel, simulateKv(Math.random, { clients: 5, opsPerClient: 200, keys: ['a', 'b', 'c'], pendingRate: 0.01 }));
  });

  const BUDGET_MS = 8_000;

  it('5 clients x 400 ops on 3 keys, 1% timeouts', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 400, keys: ['a', 'b', 'c'], pendingRate: 0.01 });
      const [result, ms] = timed(() => checkOperations(kvModel, history, { timeoutMs: 10_000 }));
      if (!result.ok) throw new Error(describeFailure(result));
      expect(ms).toBeLessThan(BUDGET_MS);
    }, 1));

  it('5 clients x 1000 ops on one key (5000 ops per key)', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 1000, keys: ['k'], pendingRate: 0.005 });
      const [result, ms] = timed(() => checkOperations(kvModel, history, { timeoutMs: 10_000 }));
      if (!result.ok) throw new Error(describeFailure(result));
      expect(ms).toBeLessThan(BUDGET_MS);
    }, 2));

  it('a stale read in 5 clients x 400 ops on 3 keys is found', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 400, keys: ['a', 'b', 'c'], pendingRate: 0.01 });
      const mutation = mutate(random, history, 'stale');
      expect(mutation?.provable).toBe(true);
      const [result, ms] = timed(() => checkOperations(kvModel, mutation!.history, { timeoutMs: 10_000 }));
      expect(result.verdict).toBe('illegal');
      expect(ms).toBeLessThan(BUDGET_MS);
    }, 3));
});

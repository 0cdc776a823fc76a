/**
 * Speed on histories shaped like the kubets-kv tests. Budgets are generous
 * multiples of the measured times so a loaded CI machine does not flake.
 */
import { testSeed, withSeed } from '@kubets/testkit';
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

  it('5 clients x 400 ops on 3 keys, 1% timeouts: < 2 s', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 400, keys: ['a', 'b', 'c'], pendingRate: 0.01 });
      const [result, ms] = timed(() => checkOperations(kvModel, history, { timeoutMs: 10_000 }));
      if (!result.ok) throw new Error(describeFailure(result));
      expect(ms).toBeLessThan(2000);
    }, testSeed()));

  it('5 clients x 1000 ops on one key (5000 ops per key): < 1 s', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 1000, keys: ['k'], pendingRate: 0.005 });
      const [result, ms] = timed(() => checkOperations(kvModel, history, { timeoutMs: 10_000 }));
      if (!result.ok) throw new Error(describeFailure(result));
      expect(ms).toBeLessThan(1000);
    }, testSeed()));

  it('a stale read in 5 clients x 400 ops on 3 keys is found: < 2 s', () =>
    withSeed((_seed, random) => {
      const history = simulateKv(random, { clients: 5, opsPerClient: 400, keys: ['a', 'b', 'c'], pendingRate: 0.01 });
      const mutation = mutate(random, history, 'stale');
      if (mutation === undefined || !mutation.provable) return; // (practically never, at this size)
      const [result, ms] = timed(() => checkOperations(kvModel, mutation.history, { timeoutMs: 10_000 }));
      expect(result.verdict).toBe('illegal');
      expect(ms).toBeLessThan(2000);
    }, testSeed()));
});

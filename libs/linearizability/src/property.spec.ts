/**
 * Randomised tests. Each runs many cases from consecutive seeds starting at
 * testSeed(); a failure names the seed (replay with KUBETS_SEED=<seed>).
 */
import { seededRandom, testSeed } from '@kubets/testkit';
import { checkOperations } from './checker';
import { describeFailure } from './describe';
import { kvModel } from './models/kv';
import type { KvOperation } from './models/kv';
import { registerModel } from './models/register';
import type { RegisterOperation } from './models/register';
import { UNKNOWN } from './types';
import type { CheckResult, Model, Operation } from './types';
import { bruteForceLinearizable, mutate, perturb, simulateKv } from '../test/support/kv-sim';
import type { MutationKind, Random, SimOptions } from '../test/support/kv-sim';

/** Run `body` for `count` seeds; a failure names the seed that failed. */
function forSeeds(count: number, body: (random: Random, seed: number) => void): void {
  const base = testSeed();
  for (let i = 0; i < count; i++) {
    const seed = (base + i) % 2 ** 31;
    try {
      body(seededRandom(seed), seed);
    } catch (err) {
      const error = err as Error;
      error.message = `[seed ${seed}; replay with KUBETS_SEED=${seed}] ${error.message}`;
      throw error;
    }
  }
}

const int = (random: Random, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));

function randomShape(random: Random): SimOptions {
  const keyCount = int(random, 1, 3);
  return {
    clients: int(random, 1, 6),
    opsPerClient: int(random, 1, 25),
    keys: ['a', 'b', 'c'].slice(0, keyCount),
    pendingRate: random() < 0.5 ? 0 : 0.1 * random(),
    // Integer times keep ties between clients common. A client's next call is
    // after its last return (minGap 1 by default): with gaps and latencies of
    // 0 every operation would sit at one instant, one fully concurrent blob,
    // exponential for any Wing & Gong checker.
    maxGap: int(random, 0, 8),
    maxLatency: int(random, 0, 12),
  };
}

function fail(message: string, history: readonly KvOperation[]): never {
  const lines = history.map((op) => `  ${JSON.stringify({ ...op, output: op.output === UNKNOWN ? 'UNKNOWN' : op.output, return: String(op.return) })}`);
  throw new Error(`${message}\n${lines.join('\n')}`);
}

/**
 * A counterexample must be self-consistent: its prefix replays through the
 * model to its states, respects real time, and holds every operation that
 * returned before the blocking one; the blocking one is among the stuck.
 */
function expectConsistentCounterexample<S, I, O>(model: Model<S, I, O>, result: CheckResult<S, I, O>, parts: Operation<I, O>[][]): void {
  const cx = result.counterexample!;
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`inconsistent counterexample: ${what}`);
  };
  let state = model.init();
  cx.prefix.forEach((step, k) => {
    const [accepted, next] = model.step(state, step.operation.input, step.operation.output);
    check(accepted && model.equal(next, step.stateAfter), `prefix step ${k} does not replay`);
    state = next;
  });
  check(model.equal(state, cx.state), 'state after the prefix');
  // Real-time order: no operation in the prefix returned before an earlier one was called.
  let latestCall: Operation<I, O>['call'] = -Infinity;
  for (const step of cx.prefix) {
    check(!(step.operation.return < latestCall), 'prefix violates real-time order');
    if (step.operation.call > latestCall) latestCall = step.operation.call;
  }
  const inPrefix = new Set(cx.prefix.map((s) => s.operation));
  const blocking = cx.blocking.operation;
  for (const op of parts[cx.partition]) {
    check(op.output === UNKNOWN || !(op.return < blocking.return) || inPrefix.has(op), 'an operation returning before the blocking one is missing');
  }
  check(cx.stuck.some((s) => s.operation === blocking) && !inPrefix.has(blocking), 'blocking operation not among the stuck');
}

describe('histories of a simulated atomic KV', () => {
  it('are all linearizable (2000 seeds, with timeouts and ties)', () => {
    forSeeds(2000, (random) => {
      const history = simulateKv(random, randomShape(random));
      const result = checkOperations(kvModel, history, { timeoutMs: 10_000 });
      if (!result.ok) fail(`checker rejected a linearizable history:\n${describeFailure(result)}`, history);
    });
  });

  it('become non-linearizable under provably breaking mutations (2000 seeds)', () => {
    const kinds: MutationKind[] = ['never-written', 'stale', 'future', 'swap'];
    const provableByKind = new Map<MutationKind, number>(kinds.map((k) => [k, 0]));
    forSeeds(2000, (random, seed) => {
      const history = simulateKv(random, randomShape(random));
      const kind = kinds[seed % kinds.length];
      const mutation = mutate(random, history, kind);
      if (mutation === undefined || !mutation.provable) return;
      provableByKind.set(kind, provableByKind.get(kind)! + 1);
      const result = checkOperations(kvModel, mutation.history, { timeoutMs: 10_000 });
      if (result.verdict !== 'illegal') fail(`checker accepted a mutated history (${mutation.note})`, mutation.history);
      expectConsistentCounterexample(kvModel, result, kvModel.partition!(mutation.history));
    });
    // The property must not hold vacuously: most seeds yield a provable mutation.
    for (const kind of kinds) expect(provableByKind.get(kind)).toBeGreaterThan(150);
  });
});

describe('differential test against a brute-force oracle', () => {
  it('agrees on small random histories, linearizable or not (3000 seeds)', () => {
    let legal = 0;
    let illegal = 0;
    forSeeds(3000, (random) => {
      const shape: SimOptions = {
        clients: int(random, 1, 4),
        opsPerClient: int(random, 1, 4),
        keys: ['a', 'b'].slice(0, int(random, 1, 2)),
        pendingRate: random() < 0.5 ? 0 : 0.25,
        minGap: int(random, 0, 1),
        maxGap: int(random, 0, 4),
        maxLatency: int(random, 0, 6),
      };
      const base = simulateKv(random, shape);
      const history = random() < 0.3 ? base : perturb(random, base, int(random, 1, 2));
      const expected = bruteForceLinearizable(history);
      const result = checkOperations(kvModel, history);
      if (result.ok !== expected) fail(`checker says ${result.verdict}, brute force says ${expected ? 'ok' : 'illegal'}`, history);
      if (expected) legal++;
      else illegal++;
    });
    // Both outcomes must be well represented for the comparison to mean anything.
    expect(legal).toBeGreaterThan(600);
    expect(illegal).toBeGreaterThan(600);
  });

  it('agrees on pending-heavy histories of up to 18 operations (3000 seeds)', () => {
    // Timeouts are where the checker's reductions for pending operations act.
    let compared = 0;
    forSeeds(3000, (random) => {
      const shape: SimOptions = {
        clients: int(random, 2, 4),
        opsPerClient: int(random, 3, 6),
        keys: ['a', 'b'].slice(0, int(random, 1, 2)),
        pendingRate: [0.2, 0.4, 0.6][int(random, 0, 2)],
        minGap: int(random, 0, 1),
        maxGap: int(random, 0, 4),
        maxLatency: int(random, 0, 8),
        mix: random() < 0.5 ? undefined : { put: 3, get: 3, delete: 2, cas: 4 },
      };
      const base = simulateKv(random, shape);
      // Keep the oracle fast: it tries every subset of the pending operations.
      if (base.length > 18 || base.filter((op) => op.output === UNKNOWN).length > 6) return;
      const history = random() < 0.3 ? base : perturb(random, base, int(random, 1, 3));
      const expected = bruteForceLinearizable(history);
      const result = checkOperations(kvModel, history);
      if (result.ok !== expected) fail(`checker says ${result.verdict}, brute force says ${expected ? 'ok' : 'illegal'}`, history);
      compared++;
    });
    expect(compared).toBeGreaterThan(1500);
  });

  it('the register model agrees with the KV model on one key (1000 seeds)', () => {
    forSeeds(1000, (random) => {
      const base = simulateKv(random, { clients: int(random, 1, 4), opsPerClient: int(random, 1, 6), keys: ['r'], mix: { put: 1, get: 1, delete: 0, cas: 0 }, pendingRate: 0.1 });
      const history = random() < 0.3 ? base : perturb(random, base, 1);
      const register: RegisterOperation[] = history.map((op) => ({
        clientId: op.clientId,
        call: op.call,
        return: op.return,
        input: op.input.op === 'put' ? { op: 'put', value: op.input.value } : { op: 'get' },
        output: op.output === UNKNOWN ? UNKNOWN : 'value' in op.output ? { value: op.output.value } : { ok: true },
      }));
      expect(checkOperations(registerModel, register).ok).toBe(checkOperations(kvModel, history).ok);
    });
  });
});

// Deterministic cluster simulation, 3 nodes. See test/sim/simulator.ts for the
// model and invariants, and test/sim/run.ts for the env vars
// (RAFT_SIM_SEEDS, RAFT_SIM_START, RAFT_SIM_SEED).

import { runSeeds, seedRange, summarize } from './sim/run';

const range = seedRange(1500);

test(`3-node cluster keeps every safety invariant and recovers after heal (seeds ${range.from}..${range.from + range.count - 1})`, () => {
  const results = runSeeds(3, range, 'test/sim-3nodes.test.ts');
  // The runs must actually exercise the interesting paths.
  const total = (f: (r: (typeof results)[number]) => number) => results.reduce((a, r) => a + f(r), 0);
  if (range.count >= 100) {
    expect(total((r) => r.crashes)).toBeGreaterThan(range.count / 2);
    expect(total((r) => r.snapshotsSent)).toBeGreaterThan(0);
    expect(total((r) => r.leaders)).toBeGreaterThan(range.count);
  }
  process.stdout.write(`sim 3 nodes: ${summarize(results)}\n`);
}, 600_000);

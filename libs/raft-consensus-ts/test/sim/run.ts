// Runs simulator seeds for a jest test file.
//
//   RAFT_SIM_SEEDS=20000   seeds per cluster size (default 1500 for 3 nodes and 1500 for 5)
//   RAFT_SIM_START=100000  first seed (default 1)
//   RAFT_SIM_SEED=1234     replay exactly one seed (the trace is printed on failure)
//   RAFT_SIM_TRACE=2000    events kept for the failure trace (default 150)
//   RAFT_SIM_DEFER=0       probability of applying a Ready late (default 0.25)

import { SimFailure, SimResult, Simulator } from './simulator';

export interface SeedRange {
  from: number;
  count: number;
}

export function seedRange(defaultCount: number): SeedRange {
  const one = process.env.RAFT_SIM_SEED;
  if (one !== undefined && one !== '') return { from: Number(one), count: 1 };
  const count = process.env.RAFT_SIM_SEEDS ? Number(process.env.RAFT_SIM_SEEDS) : defaultCount;
  const from = process.env.RAFT_SIM_START ? Number(process.env.RAFT_SIM_START) : 1;
  return { from, count };
}

export function runSeeds(nodes: number, range: SeedRange, testFile: string): SimResult[] {
  const results: SimResult[] = [];
  for (let seed = range.from; seed < range.from + range.count; seed++) {
    const traceSize = process.env.RAFT_SIM_TRACE ? Number(process.env.RAFT_SIM_TRACE) : undefined;
    const deferApplyRate = process.env.RAFT_SIM_DEFER ? Number(process.env.RAFT_SIM_DEFER) : undefined;
    const sim = new Simulator({ seed, nodes, traceSize, deferApplyRate });
    try {
      results.push(sim.run());
    } catch (err) {
      const replay = `RAFT_SIM_SEED=${seed} npx jest ${testFile}`;
      if (err instanceof SimFailure) throw new Error(sim.formatFailure(err, replay));
      const trace = (sim as unknown as { trace: string[] }).trace;
      throw new Error(
        `seed ${seed}: unexpected error: ${err instanceof Error ? err.stack : String(err)}\nconfig: ${sim.describeConfig()}\nreplay: ${replay}\nlast events:\n${trace.map((l) => `  ${l}`).join('\n')}`,
      );
    }
  }
  return results;
}

export function summarize(results: SimResult[]): string {
  const sum = (f: (r: SimResult) => number) => results.reduce((a, r) => a + f(r), 0);
  return `${results.length} seeds: ${sum((r) => r.events)} events, ${sum((r) => r.committed)} entries committed, ${sum((r) => r.leaders)} leaders elected, ${sum((r) => r.crashes)} crashes, ${sum((r) => r.snapshotsSent)} snapshots delivered, ${sum((r) => r.confChanges)} configuration changes`;
}

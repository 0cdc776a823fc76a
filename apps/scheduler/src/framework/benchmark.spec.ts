/**
 * In-memory micro-benchmark, shaped like scheduler_perf's SchedulingBasic:
 * nodes with 4 cpu / 32Gi / 110 pods, pods requesting 100m / 500Mi, scheduled
 * one at a time with the default profile, each assumed before the next.
 * The bound is deliberately generous (CI machines vary); the numbers are printed.
 */
import type { Node, Pod } from './api-types';
import { makeNode, makePod } from '../testing';
import { scheduleOne, SchedulingState } from './scheduler-core';
import { Snapshot } from './types';

function nodes(n: number): Node[] {
  const out: Node[] = [];
  for (let i = 0; i < n; i++) out.push(makeNode(`node-${i}`, { cpu: '4', memory: '32Gi', pods: 110 }));
  return out;
}

async function run(numNodes: number, numPods: number, podFor: (i: number) => Pod): Promise<{ ms: number; podsPerSecond: number; snapshot: Snapshot }> {
  const snapshot = Snapshot.fromObjects({ nodes: nodes(numNodes) });
  const state = SchedulingState.seeded(1);
  // Warm up the JIT on a throwaway snapshot.
  const warm = Snapshot.fromObjects({ nodes: nodes(200) });
  for (let i = 0; i < 50; i++) {
    const p = podFor(i);
    const r = await scheduleOne(p, warm, { state: SchedulingState.seeded(2) });
    if (r.node) warm.assumePod(p, r.node);
  }
  const start = performance.now();
  for (let i = 0; i < numPods; i++) {
    const pod = podFor(i);
    const r = await scheduleOne(pod, snapshot, { state });
    if (r.unschedulable) throw new Error(r.message);
    snapshot.assumePod(pod, r.node);
  }
  const ms = performance.now() - start;
  return { ms, podsPerSecond: (numPods / ms) * 1000, snapshot };
}

describe('scheduling throughput (in memory)', () => {
  it('schedules 1,000 pods onto 5,000 nodes well within a few seconds', async () => {
    const { ms, podsPerSecond, snapshot } = await run(5000, 1000, (i) => makePod(`pod-${i}`, { cpu: '100m', memory: '500Mi' }));
    process.stdout.write(`[bench] SchedulingBasic 5000 nodes / 1000 pods: ${ms.toFixed(0)} ms, ${podsPerSecond.toFixed(0)} pods/s\n`);
    const placed = snapshot.nodeInfos.reduce((n, ni) => n + ni.podCount, 0);
    expect(placed).toBe(1000);
    // Spread by LeastAllocated: no node got more than one pod of 1000 over 5000 nodes.
    expect(Math.max(...snapshot.nodeInfos.map((ni) => ni.podCount))).toBe(1);
    expect(ms).toBeLessThan(10_000);
  });

  it('schedules 1,000 pods of one ReplicaSet onto 100 nodes, evenly', async () => {
    const owner = { kind: 'ReplicaSet', name: 'web-abc', uid: 'rs-1' };
    const { ms, podsPerSecond, snapshot } = await run(100, 1000, (i) =>
      makePod(`web-abc-${i}`, { cpu: '100m', memory: '500Mi', labels: { app: 'web' }, owner }),
    );
    process.stdout.write(`[bench] 100 nodes / 1000 pods of one ReplicaSet: ${ms.toFixed(0)} ms, ${podsPerSecond.toFixed(0)} pods/s\n`);
    const counts = snapshot.nodeInfos.map((ni) => ni.podCount);
    expect(Math.min(...counts)).toBe(10);
    expect(Math.max(...counts)).toBe(10);
    expect(ms).toBeLessThan(10_000);
  });
});

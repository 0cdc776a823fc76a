import type { Node, Pod } from './api-types';
import { makeNode, makePod } from '../testing';
import { defaultFramework, Framework } from './framework';
import { Parallelizer } from './parallelize';
import { NodeResourcesFit } from './plugins/node-resources-fit';
import { numFeasibleNodesToFind, scheduleOne, SchedulingState, type ScheduleFailure, type ScheduleResult } from './scheduler-core';
import { Snapshot } from './types';

const CP_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

function snap(nodes: Node[], pods: Pod[] = []): Snapshot {
  return Snapshot.fromObjects({ nodes, pods });
}

function failed(r: ScheduleResult): ScheduleFailure {
  if (!r.unschedulable) throw new Error(`expected a failure, got node ${r.node}`);
  return r;
}

const noPreemption = defaultFramework({ withoutPreemption: true });

describe('FailedScheduling messages', () => {
  it('"0/3 nodes are available: 3 Insufficient cpu."', async () => {
    const nodes = [makeNode('n1', { cpu: '1' }), makeNode('n2', { cpu: '1' }), makeNode('n3', { cpu: '1' })];
    const r = failed(await scheduleOne(makePod('p', { cpu: '2' }), snap(nodes), { framework: noPreemption }));
    expect(r.message).toBe('0/3 nodes are available: 3 Insufficient cpu.');
    expect([...r.unschedulablePlugins]).toEqual(['NodeResourcesFit']);
  });

  it('appends the preemption diagnosis: a request bigger than any node is not helped by preemption', async () => {
    const nodes = [makeNode('n1', { cpu: '1' }), makeNode('n2', { cpu: '1' }), makeNode('n3', { cpu: '1' })];
    const r = failed(await scheduleOne(makePod('p', { cpu: '2' }), snap(nodes)));
    expect(r.message).toBe('0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.');
  });

  it('full nodes with no lower-priority pods: "No preemption victims found for incoming pod"', async () => {
    const nodes = [makeNode('n1', { cpu: '2' }), makeNode('n2', { cpu: '2' }), makeNode('n3', { cpu: '2' })];
    const pods = nodes.map((n, i) => makePod(`busy-${i}`, { nodeName: n.metadata!.name, cpu: '1500m' }));
    const r = failed(await scheduleOne(makePod('p', { cpu: '1' }), snap(nodes, pods)));
    expect(r.message).toBe(
      '0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.',
    );
  });

  it('counts and sorts reasons as kube does (2 memory, 3 tainted control planes)', async () => {
    const nodes = [
      makeNode('w1', { memory: '1Gi' }),
      makeNode('w2', { memory: '1Gi' }),
      makeNode('cp1', { taints: [CP_TAINT] }),
      makeNode('cp2', { taints: [CP_TAINT] }),
      makeNode('cp3', { taints: [CP_TAINT] }),
    ];
    const pods = [makePod('a', { nodeName: 'w1', memory: '512Mi' }), makePod('b', { nodeName: 'w2', memory: '512Mi' })];
    const pod = makePod('p', { memory: '768Mi' });
    expect(failed(await scheduleOne(pod, snap(nodes, pods), { framework: noPreemption })).message).toBe(
      '0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.',
    );
    const r = failed(await scheduleOne(pod, snap(nodes, pods)));
    expect(r.message).toBe(
      '0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. ' +
        'preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.',
    );
    expect([...r.unschedulablePlugins].sort()).toEqual(['NodeResourcesFit', 'TaintToleration']);
  });

  it("sorts the histogram as strings, like Go's sort.Strings ('10 ...' before '2 ...')", async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 10; i++) nodes.push(makeNode(`small-${i}`, { cpu: '500m' }));
    nodes.push(makeNode('cp-a', { taints: [CP_TAINT] }), makeNode('cp-b', { taints: [CP_TAINT] }));
    const r = failed(await scheduleOne(makePod('p', { cpu: '1' }), snap(nodes), { framework: noPreemption }));
    expect(r.message).toBe('0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.');
  });

  it('counts every reason of a node, and only the first failing filter', async () => {
    const nodes = [
      makeNode('both', { cpu: '1', memory: '1Gi' }),
      makeNode('tainted-and-small', { cpu: '1', memory: '1Gi', taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] }),
      makeNode('cordoned', { unschedulable: true }),
    ];
    const r = failed(await scheduleOne(makePod('p', { cpu: '2', memory: '2Gi' }), snap(nodes), { framework: noPreemption }));
    expect(r.message).toBe(
      '0/3 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable.',
    );
  });

  it('names nodes left out by PreFilter (required affinity to node names)', async () => {
    const nodes = [makeNode('node-1', { cpu: '1' }), makeNode('node-2'), makeNode('node-3'), makeNode('node-4')];
    const pod = makePod('ds-pod', {
      cpu: '2',
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] }] },
        },
      },
    });
    // The same shape as a DaemonSet pod pinned to a full node on a real cluster.
    const r = failed(await scheduleOne(pod, snap(nodes, [makePod('x', { nodeName: 'node-1', cpu: '500m' })])));
    expect(r.message).toBe(
      "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
        'preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.',
    );
    // With a request that fits an empty node-1 but not next to the existing pod:
    const fitsEmpty = { ...pod, spec: { ...pod.spec!, containers: [{ name: 'c', resources: { requests: { cpu: '800m' } } }] } };
    const r2 = failed(await scheduleOne(fitsEmpty, snap(nodes, [makePod('x', { nodeName: 'node-1', cpu: '500m' })])));
    expect(r2.message).toBe(
      "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
        'preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling.',
    );
    expect([...r2.unschedulablePlugins].sort()).toEqual(['NodeAffinity', 'NodeResourcesFit']);
  });

  it('a node name that does not exist', async () => {
    const pod = makePod('p', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['gone'] }] }] },
        },
      },
    });
    const r = failed(await scheduleOne(pod, snap([makeNode('a'), makeNode('b'), makeNode('c')]), { framework: noPreemption }));
    expect(r.message).toBe("0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity].");
  });

  it('uses the PreFilter message when PreFilter rejects the pod', async () => {
    const pod = makePod('p', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchFields: [
                  { key: 'metadata.name', operator: 'In', values: ['a'] },
                  { key: 'metadata.name', operator: 'In', values: ['b'] },
                ],
              },
            ],
          },
        },
      },
    });
    const r = failed(await scheduleOne(pod, snap([makeNode('a'), makeNode('b')])));
    expect(r.message).toBe('0/2 nodes are available: pod affinity terms conflict. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
  });

  it('node selector mismatch', async () => {
    const r = failed(await scheduleOne(makePod('p', { nodeSelector: { disktype: 'ssd' } }), snap([makeNode('a'), makeNode('b')])));
    expect(r.message).toBe(
      "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
    );
  });

  it('preemptionPolicy Never', async () => {
    const r = failed(await scheduleOne(makePod('p', { cpu: '2', preemptionPolicy: 'Never' }), snap([makeNode('n1', { cpu: '1' })])));
    expect(r.message).toBe('0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
  });

  it('victims that would not free enough: the filter reasons again', async () => {
    const nodes = [makeNode('n1', { cpu: '2' })];
    const pods = [makePod('low', { nodeName: 'n1', cpu: '500m', priority: -10 }), makePod('same', { nodeName: 'n1', cpu: '1500m' })];
    const r = failed(await scheduleOne(makePod('p', { cpu: '1' }), snap(nodes, pods)));
    expect(r.message).toBe('0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu.');
  });

  it('when preemption would help, the message stops after the filter reasons and the candidates are returned', async () => {
    const nodes = [makeNode('n1', { cpu: '2' }), makeNode('n2', { cpu: '2' })];
    const pods = [makePod('low', { nodeName: 'n1', cpu: '1500m', priority: -1 }), makePod('same', { nodeName: 'n2', cpu: '1500m' })];
    const r = failed(await scheduleOne(makePod('p', { cpu: '1' }), snap(nodes, pods)));
    expect(r.message).toBe('0/2 nodes are available: 2 Insufficient cpu.');
    expect(r.preemptionCandidates).toEqual(['n1']);
  });

  it('no nodes at all', async () => {
    const r = failed(await scheduleOne(makePod('p'), new Snapshot()));
    expect(r.message).toBe('no nodes available to schedule pods');
    expect(r.noNodes).toBe(true);
  });

  it('cuts event messages at 1024 bytes', async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 60; i++) nodes.push(makeNode(`n${i}`, { taints: [{ key: `example.com/dedicated-to-team-${i}`, value: 'x', effect: 'NoSchedule' }] }));
    const r = failed(await scheduleOne(makePod('p'), snap(nodes), { framework: noPreemption }));
    expect(r.message.length).toBeGreaterThan(1024);
    expect(r.eventMessage.length).toBe(1024);
    expect(r.eventMessage.endsWith(' ...')).toBe(true);
    expect(r.message.startsWith(r.eventMessage.slice(0, 1020))).toBe(true);
  });
});

describe('scheduleOne: choosing a node', () => {
  it('picks the least allocated node', async () => {
    const nodes = [makeNode('busy'), makeNode('idle'), makeNode('half')];
    const pods = [makePod('a', { nodeName: 'busy', cpu: '3', memory: '6Gi' }), makePod('b', { nodeName: 'half', cpu: '2', memory: '4Gi' })];
    const r = await scheduleOne(makePod('p', { cpu: '500m', memory: '1Gi' }), snap(nodes, pods), { seed: 1 });
    expect(r.node).toBe('idle');
    expect(r.unschedulable).toBeUndefined();
    if (!r.unschedulable) {
      expect(r.feasibleNodes).toBe(3);
      expect(r.evaluatedNodes).toBe(3);
    }
  });

  it('avoids PreferNoSchedule taints (TaintToleration weight 3)', async () => {
    const nodes = [makeNode('soft', { taints: [{ key: 'spot', effect: 'PreferNoSchedule' }] }), makeNode('clean')];
    for (let seed = 0; seed < 10; seed++) expect((await scheduleOne(makePod('p'), snap(nodes), { seed })).node).toBe('clean');
  });

  it('returns the only feasible node without scoring', async () => {
    const r = await scheduleOne(makePod('p', { cpu: '3' }), snap([makeNode('small', { cpu: '1' }), makeNode('big', { cpu: '4' })]));
    expect(r).toMatchObject({ node: 'big', feasibleNodes: 1, evaluatedNodes: 2 });
    expect(r.unschedulable ? undefined : r.scores).toBeUndefined();
  });

  it('breaks ties at random, reproducibly with a seed', async () => {
    const nodes = [makeNode('a'), makeNode('b'), makeNode('c'), makeNode('d')];
    const s = snap(nodes);
    const run = async (seed: number) => {
      const state = SchedulingState.seeded(seed);
      const picks: string[] = [];
      for (let i = 0; i < 20; i++) picks.push((await scheduleOne(makePod(`p${i}`), s, { state })).node!);
      return picks;
    };
    expect(await run(42)).toEqual(await run(42));
    const counts = new Map<string, number>();
    const state = SchedulingState.seeded(7);
    for (let i = 0; i < 2000; i++) {
      const n = (await scheduleOne(makePod(`q${i}`), s, { state })).node!;
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    for (const n of ['a', 'b', 'c', 'd']) {
      expect(counts.get(n)).toBeGreaterThan(400);
      expect(counts.get(n)).toBeLessThan(600);
    }
  });
});

describe('percentageOfNodesToScore', () => {
  it.each([
    // [percentage, nodes, expected]
    [0, 10, 10],
    [0, 99, 99],
    [0, 100, 100],
    [0, 500, 230], // 50 - 4 = 46%
    [0, 1000, 420], // 50 - 8 = 42%
    [0, 5000, 500], // 50 - 40 = 10%
    [0, 6000, 300], // 50 - 48 = 2% -> 5%
    [0, 15000, 750], // 5%
    [undefined, 5000, 500],
    [1, 5000, 100], // at least 100
    [30, 1000, 300],
    [100, 5000, 5000],
  ])('percentage %p of %d nodes -> %d', (pct, n, want) => {
    expect(numFeasibleNodesToFind(pct, n)).toBe(want);
  });

  it('stops filtering once enough nodes are feasible, and starts the next attempt where this one stopped', async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 1000; i++) nodes.push(makeNode(`n${i}`));
    const s = snap(nodes);
    const state = SchedulingState.seeded(1);
    const r1 = await scheduleOne(makePod('p1'), s, { state });
    expect(r1).toMatchObject({ feasibleNodes: 420, evaluatedNodes: 420 });
    expect(state.nextStartNodeIndex).toBe(420);
    // The chosen node is among the first 420 (n0..n419).
    expect(Number(r1.node!.slice(1))).toBeLessThan(420);
    const r2 = await scheduleOne(makePod('p2'), s, { state });
    expect(Number(r2.node!.slice(1))).toBeGreaterThanOrEqual(420);
    expect(Number(r2.node!.slice(1))).toBeLessThan(840);
    expect(state.nextStartNodeIndex).toBe(840);
    await scheduleOne(makePod('p3'), s, { state });
    expect(state.nextStartNodeIndex).toBe(260); // (840 + 420) % 1000
  });

  it('counts rejected nodes as processed', async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 200; i++) nodes.push(makeNode(`n${i}`, i % 2 === 0 ? { taints: [CP_TAINT] } : {}));
    const state = SchedulingState.seeded(1);
    // 200 nodes -> 100 to find; only 100 are feasible, so all 200 are looked at.
    const r = await scheduleOne(makePod('p'), snap(nodes), { state });
    expect(r).toMatchObject({ feasibleNodes: 100, evaluatedNodes: 200 });
    expect(state.nextStartNodeIndex).toBe(0);
  });

  it('honours an explicit percentage', async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 1000; i++) nodes.push(makeNode(`n${i}`));
    const r = await scheduleOne(makePod('p'), snap(nodes), { state: SchedulingState.seeded(1), percentageOfNodesToScore: 15 });
    expect(r).toMatchObject({ feasibleNodes: 150 });
  });

  it('yields to the event loop during long filter passes', async () => {
    const nodes: Node[] = [];
    for (let i = 0; i < 3000; i++) nodes.push(makeNode(`n${i}`, { taints: [CP_TAINT] }));
    const parallelizer = new Parallelizer({ maxBlockMs: 0 });
    const fw = defaultFramework({ parallelizer, withoutPreemption: true });
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    const r = failed(await scheduleOne(makePod('p'), snap(nodes), { framework: fw }));
    expect(r.message).toBe('0/3000 nodes are available: 3000 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.');
    expect(ranMeanwhile).toBe(true);
    expect(parallelizer.yields).toBeGreaterThan(10);
  });
});

describe('spreading a ReplicaSet', () => {
  const owner = { kind: 'ReplicaSet', name: 'web-7c9f', uid: 'rs-uid-1' };
  const rs = { metadata: { name: 'web-7c9f', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web', 'pod-template-hash': '7c9f' } } } };

  async function scheduleReplicas(nodes: Node[], opts: { withRs: boolean; cpu?: string; memory?: string; seed: number }): Promise<Map<string, number>> {
    const s = Snapshot.fromObjects({ nodes, replicaSets: opts.withRs ? [rs] : [] });
    const state = SchedulingState.seeded(opts.seed);
    for (let i = 0; i < 30; i++) {
      const pod = makePod(`web-7c9f-${i}`, { labels: { app: 'web', 'pod-template-hash': '7c9f' }, owner, cpu: opts.cpu, memory: opts.memory });
      const r = await scheduleOne(pod, s, { state });
      if (r.unschedulable) throw new Error(r.message);
      s.assumePod(pod, r.node);
    }
    return new Map(s.nodeInfos.map((ni) => [ni.name, ni.podCount]));
  }

  const equalNodes = () => [1, 2, 3, 4, 5].map((i) => makeNode(`node-${i}`, { cpu: '64', memory: '256Gi' }));

  it.each([1, 2, 3])('30 pods over 5 equal nodes -> 6 each (seed %d), spreading alone decides', async (seed) => {
    // 10m / 10Mi on 64-core nodes: resource scores round to the same value, so only PodTopologySpread separates the nodes.
    const counts = await scheduleReplicas(equalNodes(), { withRs: true, cpu: '10m', memory: '10Mi', seed });
    expect([...counts.values()]).toEqual([6, 6, 6, 6, 6]);
  });

  it('also without the ReplicaSet object (controller-uid fallback) and for best-effort pods', async () => {
    const counts = await scheduleReplicas(equalNodes(), { withRs: false, seed: 9 });
    expect([...counts.values()]).toEqual([6, 6, 6, 6, 6]);
  });

  it('without spreading, equal resource scores leave placement to chance', async () => {
    // A framework with only fit + LeastAllocated: ties are common, so some node usually gets more than 6.
    const fw = new Framework([new NodeResourcesFit()]);
    let uneven = 0;
    for (let seed = 0; seed < 5; seed++) {
      const s = Snapshot.fromObjects({ nodes: equalNodes() });
      const state = SchedulingState.seeded(seed);
      for (let i = 0; i < 30; i++) {
        const pod = makePod(`w${i}`, { cpu: '10m', memory: '10Mi', owner });
        const r = await scheduleOne(pod, s, { framework: fw, state });
        s.assumePod(pod, r.node!);
      }
      if (s.nodeInfos.some((ni) => ni.podCount !== 6)) uneven++;
    }
    expect(uneven).toBeGreaterThan(0);
  });
});

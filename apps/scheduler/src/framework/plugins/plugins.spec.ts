import type { Node, NodeSelectorTerm, Pod, ResourceList } from '../api-types';
import { makeNode, makePod } from '../../testing';
import { Code, CycleState, NodeInfo, Snapshot, type NodeScore } from '../types';
import { balancedResourceScorer, NodeResourcesBalancedAllocation } from './balanced-allocation';
import { ERR_REASON_AFFINITY_CONFLICT, ERR_REASON_NODE_AFFINITY, NodeAffinity } from './node-affinity';
import { ERR_REASON_NODE_NAME, NodeName } from './node-name';
import { NodeResourcesFit } from './node-resources-fit';
import { ERR_REASON_UNSCHEDULABLE, NodeUnschedulable } from './node-unschedulable';
import { PodTopologySpread } from './pod-topology-spread';
import { TaintToleration } from './taint-toleration';

function cycle(nodes: Node[] = [], pods: Pod[] = []): CycleState {
  return new CycleState(Snapshot.fromObjects({ nodes, pods }));
}

/** A node with only a capacity (like kube's st.MakeNode().Capacity(...)). */
function capNode(name: string, allocatable: ResourceList): Node {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name } }, status: { allocatable } };
}

/** A pod with one container per request list (st.MakePod().Req(...).Req(...)). */
function reqPod(name: string, reqs: ResourceList[], nodeName?: string): Pod {
  return makePod(name, { nodeName, containers: reqs.map((r, i) => ({ name: `c${i}`, resources: { requests: r } })) });
}

describe('NodeUnschedulable', () => {
  const pl = new NodeUnschedulable();
  it('rejects cordoned nodes unless the pod tolerates node.kubernetes.io/unschedulable', () => {
    const cordoned = new NodeInfo(makeNode('n', { unschedulable: true }));
    const st = pl.filter(cycle(), makePod('p'), cordoned)!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual([ERR_REASON_UNSCHEDULABLE]);
    expect(ERR_REASON_UNSCHEDULABLE).toBe('node(s) were unschedulable');
    const tolerant = makePod('p', { tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }] });
    expect(pl.filter(cycle(), tolerant, cordoned)).toBeNull();
    expect(pl.filter(cycle(), makePod('p'), new NodeInfo(makeNode('ok')))).toBeNull();
  });
});

describe('NodeName', () => {
  const pl = new NodeName();
  it('fits only the requested node', () => {
    const pod = makePod('p', { nodeName: 'a' });
    expect(pl.filter(cycle(), pod, new NodeInfo(makeNode('a')))).toBeNull();
    const st = pl.filter(cycle(), pod, new NodeInfo(makeNode('b')))!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual(["node(s) didn't match the requested node name"]);
    expect(st.reasons[0]).toBe(ERR_REASON_NODE_NAME);
    expect(pl.filter(cycle(), makePod('q'), new NodeInfo(makeNode('b')))).toBeNull();
  });
});

describe('NodeAffinity', () => {
  const pl = new NodeAffinity();
  const node = makeNode('node-1', { labels: { zone: 'z1', disk: 'ssd', cores: '16', gpu: 'true' } });

  function run(pod: Pod, n: Node = node) {
    const state = cycle([n]);
    const pre = pl.preFilter(state, pod);
    if (pre.status?.code === Code.Skip) return { pre, filter: null };
    return { pre, filter: pl.filter(state, pod, new NodeInfo(n)) };
  }

  function withTerms(...terms: NodeSelectorTerm[]): Pod {
    return makePod('p', { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
  }

  it('skips pods without selector or affinity', () => {
    expect(run(makePod('p')).pre.status?.code).toBe(Code.Skip);
  });

  it('matches spec.nodeSelector', () => {
    expect(run(makePod('p', { nodeSelector: { disk: 'ssd' } })).filter).toBeNull();
    const st = run(makePod('p', { nodeSelector: { disk: 'hdd' } })).filter!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual(["node(s) didn't match Pod's node affinity/selector"]);
    expect(st.reasons[0]).toBe(ERR_REASON_NODE_AFFINITY);
  });

  it.each([
    ['In', { key: 'zone', operator: 'In', values: ['z1', 'z2'] }, true],
    ['In miss', { key: 'zone', operator: 'In', values: ['z3'] }, false],
    ['NotIn', { key: 'zone', operator: 'NotIn', values: ['z3'] }, true],
    ['NotIn hit', { key: 'zone', operator: 'NotIn', values: ['z1'] }, false],
    ['NotIn on a missing label', { key: 'rack', operator: 'NotIn', values: ['r1'] }, true],
    ['Exists', { key: 'gpu', operator: 'Exists' }, true],
    ['Exists miss', { key: 'tpu', operator: 'Exists' }, false],
    ['DoesNotExist', { key: 'tpu', operator: 'DoesNotExist' }, true],
    ['DoesNotExist hit', { key: 'gpu', operator: 'DoesNotExist' }, false],
    ['Gt', { key: 'cores', operator: 'Gt', values: ['8'] }, true],
    ['Gt equal', { key: 'cores', operator: 'Gt', values: ['16'] }, false],
    ['Lt', { key: 'cores', operator: 'Lt', values: ['32'] }, true],
    ['Lt miss', { key: 'cores', operator: 'Lt', values: ['4'] }, false],
    ['Gt on a non-integer label', { key: 'zone', operator: 'Gt', values: ['1'] }, false],
    ['Gt with a non-integer value (invalid term)', { key: 'cores', operator: 'Gt', values: ['x'] }, false],
    ['Gt with two values (invalid term)', { key: 'cores', operator: 'Gt', values: ['1', '2'] }, false],
    ['unknown operator (invalid term)', { key: 'cores', operator: 'Near', values: ['1'] }, false],
  ])('matchExpressions %s', (_name, expr, fits) => {
    const { filter } = run(withTerms({ matchExpressions: [expr] }));
    expect(filter === null).toBe(fits);
  });

  it('ANDs expressions within a term and ORs terms', () => {
    const and = withTerms({
      matchExpressions: [
        { key: 'zone', operator: 'In', values: ['z1'] },
        { key: 'disk', operator: 'In', values: ['hdd'] },
      ],
    });
    expect(run(and).filter).not.toBeNull();
    const or = withTerms({ matchExpressions: [{ key: 'disk', operator: 'In', values: ['hdd'] }] }, { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] });
    expect(run(or).filter).toBeNull();
    // An invalid term does not match, but a valid later one still can.
    const invalidThenValid = withTerms({ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['x'] }] }, { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] });
    expect(run(invalidThenValid).filter).toBeNull();
  });

  it('requires both nodeSelector and affinity', () => {
    const pod = makePod('p', {
      nodeSelector: { disk: 'hdd' },
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] }] } } },
    });
    expect(run(pod).filter).not.toBeNull();
  });

  it('an empty term list or empty terms match nothing', () => {
    expect(run(withTerms()).filter).not.toBeNull();
    expect(run(withTerms({})).filter).not.toBeNull();
  });

  it('matchFields on metadata.name narrows the nodes in PreFilter and filters', () => {
    const pod = withTerms({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['node-1'] }] });
    const { pre, filter } = run(pod);
    expect([...(pre.result?.nodeNames ?? [])]).toEqual(['node-1']);
    expect(filter).toBeNull();
    expect(run(pod, makeNode('node-2')).filter).not.toBeNull();
    const notIn = withTerms({ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['node-1'] }] });
    expect(run(notIn).filter).not.toBeNull();
    expect(run(notIn, makeNode('node-2')).filter).toBeNull();
  });

  it('unions node names across terms, and a term without a name means every node', () => {
    const pod = withTerms(
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] },
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['b'] }] },
    );
    expect([...(pl.preFilter(cycle(), pod).result?.nodeNames ?? [])].sort()).toEqual(['a', 'b']);
    const open = withTerms({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a'] }] }, { matchExpressions: [{ key: 'zone', operator: 'Exists' }] });
    expect(pl.preFilter(cycle(), open).result).toBeUndefined();
  });

  it('reports conflicting node names within a term', () => {
    const pod = withTerms({
      matchFields: [
        { key: 'metadata.name', operator: 'In', values: ['a'] },
        { key: 'metadata.name', operator: 'In', values: ['b'] },
      ],
    });
    const st = pl.preFilter(cycle(), pod).status!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual([ERR_REASON_AFFINITY_CONFLICT]);
  });

  it('scores preferred terms by summed weights, normalized to 0..100', () => {
    const pod = makePod('p', {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 2, preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] } },
            { weight: 5, preference: { matchExpressions: [{ key: 'disk', operator: 'In', values: ['ssd'] }] } },
          ],
        },
      },
    });
    const nodes = [node, makeNode('n2', { labels: { zone: 'z1' } }), makeNode('n3')];
    const state = cycle(nodes);
    expect(pl.preScore(state, pod)).toBeNull();
    const scores: NodeScore[] = nodes.map((n) => ({ name: n.metadata!.name!, score: pl.score(state, pod, new NodeInfo(n)) }));
    expect(scores.map((s) => s.score)).toEqual([7, 2, 0]);
    pl.normalizeScore(state, pod, scores);
    expect(scores.map((s) => s.score)).toEqual([100, 28, 0]);
    expect(pl.preScore(cycle(), makePod('q'))?.code).toBe(Code.Skip);
  });
});

describe('TaintToleration', () => {
  const pl = new TaintToleration();
  const cp = makeNode('cp', { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] });

  it('rejects untolerated NoSchedule and NoExecute taints, naming the first one', () => {
    const st = pl.filter(cycle(), makePod('p'), new NodeInfo(cp))!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual(['node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }']);
    const two = makeNode('n', {
      taints: [
        { key: 'soft', value: 'x', effect: 'PreferNoSchedule' },
        { key: 'dedicated', value: 'gpu', effect: 'NoExecute' },
        { key: 'other', value: 'y', effect: 'NoSchedule' },
      ],
    });
    expect(pl.filter(cycle(), makePod('p'), new NodeInfo(two))!.reasons).toEqual(['node(s) had untolerated taint {dedicated: gpu}']);
  });

  it.each([
    ['Exists on the key', { key: 'dedicated', operator: 'Exists' }, true],
    ['Equal with the value', { key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoExecute' }, true],
    ['empty operator means Equal', { key: 'dedicated', value: 'gpu' }, true],
    ['wrong value', { key: 'dedicated', operator: 'Equal', value: 'cpu' }, false],
    ['wrong effect', { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }, false],
    ['empty key with Exists tolerates everything', { operator: 'Exists' }, true],
  ])('tolerations: %s', (_name, toleration, fits) => {
    const n = makeNode('n', { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoExecute' }] });
    expect(pl.filter(cycle(), makePod('p', { tolerations: [toleration] }), new NodeInfo(n)) === null).toBe(fits);
  });

  it('ignores PreferNoSchedule in Filter and scores it: fewer untolerated, higher', () => {
    const nodes = [
      makeNode('clean'),
      makeNode('one', { taints: [{ key: 'a', effect: 'PreferNoSchedule' }] }),
      makeNode('two', {
        taints: [
          { key: 'a', effect: 'PreferNoSchedule' },
          { key: 'b', effect: 'PreferNoSchedule' },
        ],
      }),
    ];
    const pod = makePod('p', { tolerations: [{ key: 'b', operator: 'Exists', effect: 'PreferNoSchedule' }] });
    const state = cycle(nodes);
    pl.preScore(state, pod);
    const scores = nodes.map((n) => ({ name: n.metadata!.name!, score: pl.score(state, pod, new NodeInfo(n)) }));
    expect(pl.filter(state, pod, new NodeInfo(nodes[2]!))).toBeNull();
    expect(scores.map((s) => s.score)).toEqual([0, 1, 1]);
    pl.normalizeScore(state, pod, scores);
    expect(scores.map((s) => s.score)).toEqual([100, 0, 0]);
  });
});

describe('NodeResourcesFit: Filter', () => {
  const pl = new NodeResourcesFit();
  function filter(pod: Pod, node: Node, existing: Pod[] = []) {
    const state = cycle([node], existing);
    pl.preFilter(state, pod);
    return pl.filter(state, pod, state.snapshot.get(node.metadata!.name!)!);
  }

  it('fits requests against allocatable minus requested, with quantities', () => {
    const node = makeNode('n', { cpu: '2', memory: '4Gi' });
    expect(filter(makePod('p', { cpu: '1500m', memory: '3Gi' }), node, [makePod('q', { nodeName: 'n', cpu: '500m', memory: '1024Mi' })])).toBeNull();
    const st = filter(makePod('p', { cpu: '1501m', memory: '3Gi' }), node, [makePod('q', { nodeName: 'n', cpu: '0.5', memory: '1Gi' })])!;
    expect(st.code).toBe(Code.Unschedulable);
    expect(st.reasons).toEqual(['Insufficient cpu']);
  });

  it('reports every missing resource, in kube order', () => {
    const node = makeNode('n', { cpu: '1', memory: '1Gi', pods: 1, ephemeralStorage: '1Gi', allocatable: { 'example.com/gpu': '1' } });
    const st = filter(
      makePod('p', { requests: { cpu: '800m', memory: '800Mi', 'ephemeral-storage': '800Mi', 'example.com/gpu': '1' } }),
      node,
      [makePod('q', { nodeName: 'n', requests: { cpu: '500m', memory: '500Mi', 'ephemeral-storage': '500Mi', 'example.com/gpu': '1' } })],
    )!;
    expect(st.reasons).toEqual(['Too many pods', 'Insufficient cpu', 'Insufficient memory', 'Insufficient ephemeral-storage', 'Insufficient example.com/gpu']);
    expect(st.code).toBe(Code.Unschedulable);
  });

  it('counts pods against allocatable pods, even for best-effort pods', () => {
    const node = makeNode('n', { pods: 2 });
    const existing = [makePod('a', { nodeName: 'n' }), makePod('b', { nodeName: 'n' })];
    expect(filter(makePod('p'), node, existing)!.reasons).toEqual(['Too many pods']);
    expect(filter(makePod('p'), node, existing.slice(1))).toBeNull();
  });

  it('uses the init-container max rule and overhead', () => {
    const node = makeNode('n', { cpu: '2' });
    const init = makePod('p', { cpu: '500m', initContainers: [{ name: 'init', resources: { requests: { cpu: '2500m' } } }] });
    expect(filter(init, node)!.reasons).toEqual(['Insufficient cpu']);
    const overhead = makePod('p', { cpu: '1900m', overhead: { cpu: '200m' } });
    expect(filter(overhead, node)!.reasons).toEqual(['Insufficient cpu']);
  });

  it('is UnschedulableAndUnresolvable when the request exceeds the whole node', () => {
    const st = filter(makePod('p', { cpu: '5' }), makeNode('n', { cpu: '4' }))!;
    expect(st.code).toBe(Code.UnschedulableAndUnresolvable);
    expect(st.reasons).toEqual(['Insufficient cpu']);
  });
});

describe('NodeResourcesFit: LeastAllocated score (kube test cases)', () => {
  const pl = new NodeResourcesFit();
  function scores(pod: Pod, nodes: Node[], existing: Pod[] = []): number[] {
    const state = cycle(nodes, existing);
    pl.preScore(state, pod);
    return state.snapshot.nodeInfos.map((ni) => pl.score(state, pod, ni));
  }

  it('nothing scheduled, nothing requested', () => {
    const pod = makePod('p', { containers: [] });
    expect(scores(pod, [capNode('n1', { cpu: '4000', memory: '10000' }), capNode('n2', { cpu: '4000', memory: '10000' })])).toEqual([100, 100]);
  });

  it('nothing scheduled, resources requested, differently sized nodes -> 37, 50', () => {
    const pod = reqPod('p', [
      { cpu: '1000', memory: '2000' },
      { cpu: '2000', memory: '3000' },
    ]);
    expect(scores(pod, [capNode('n1', { cpu: '4000', memory: '10000' }), capNode('n2', { cpu: '6000', memory: '10000' })])).toEqual([37, 50]);
  });

  it('no resources requested, pods scheduled with resources -> 70, 57', () => {
    const pod = makePod('p', { containers: [] });
    const existing = [
      reqPod('a', [{ cpu: '3000', memory: '0' }], 'n1'),
      reqPod('b', [{ cpu: '3000', memory: '0' }], 'n1'),
      reqPod('c', [{ cpu: '3000', memory: '0' }], 'n2'),
      reqPod('d', [{ cpu: '3000', memory: '5000' }], 'n2'),
    ];
    expect(scores(pod, [capNode('n1', { cpu: '10000', memory: '20000' }), capNode('n2', { cpu: '10000', memory: '20000' })], existing)).toEqual([70, 57]);
  });

  it('requested resources exceed node capacity -> 50, 25', () => {
    const pod = reqPod('p', [{ cpu: '3000', memory: '0' }]);
    const existing = [reqPod('a', [{ cpu: '3000', memory: '0' }], 'n1'), reqPod('b', [{ cpu: '3000', memory: '5000' }], 'n2')];
    expect(scores(pod, [capNode('n1', { cpu: '4000', memory: '10000' }), capNode('n2', { cpu: '4000', memory: '10000' })], existing)).toEqual([50, 25]);
  });

  it('weights resources', () => {
    const weighted = new NodeResourcesFit({
      scoringResources: [
        { name: 'memory', weight: 2 },
        { name: 'cpu', weight: 1 },
      ],
    });
    const pod = reqPod('p', [
      { cpu: '1000', memory: '2000' },
      { cpu: '2000', memory: '3000' },
    ]);
    const state = cycle([capNode('n1', { cpu: '4000', memory: '10000' }), capNode('n2', { cpu: '6000', memory: '10000' })]);
    weighted.preScore(state, pod);
    expect(state.snapshot.nodeInfos.map((ni) => weighted.score(state, pod, ni))).toEqual([41, 50]);
  });

  it('scores best-effort pods with the 100m / 200Mi defaults so they spread', () => {
    const pod = makePod('p');
    const existing = [makePod('a', { nodeName: 'n1' }), makePod('b', { nodeName: 'n1' })];
    const [busy, idle] = scores(pod, [makeNode('n1', { cpu: '1', memory: '1Gi' }), makeNode('n2', { cpu: '1', memory: '1Gi' })], existing);
    expect(busy).toBeLessThan(idle!);
    // n2: cpu (1000-100)*100/1000 = 90, memory (1024-200)*100/1024 = 80 -> 85
    expect(idle).toBe(85);
  });
});

describe('NodeResourcesBalancedAllocation', () => {
  const pl = new NodeResourcesBalancedAllocation();

  it('is (1 - std) * 100 of the cpu and memory fractions', () => {
    expect(balancedResourceScorer([3000, 5000], [4000, 10000])).toBe(87); // |0.75-0.5|/2 = 0.125
    expect(balancedResourceScorer([0, 0], [4000, 10000])).toBe(100);
    expect(balancedResourceScorer([8000, 0], [4000, 10000])).toBe(50); // cpu capped at 1
  });

  it('uses actual requests of the node and the pod (kube test case -> 87, 100)', () => {
    const pod = reqPod('p', [
      { cpu: '1000', memory: '2000' },
      { cpu: '2000', memory: '3000' },
    ]);
    const state = cycle([capNode('n1', { cpu: '4000', memory: '10000' }), capNode('n2', { cpu: '6000', memory: '10000' })]);
    expect(pl.preScore(state, pod)).toBeNull();
    // n1: cpu 3000/4000 = .75, mem 5000/10000 = .5 -> 87; n2: .5/.5 -> 100
    expect(state.snapshot.nodeInfos.map((ni) => pl.score(state, pod, ni))).toEqual([87, 100]);
  });

  it('skips best-effort pods', () => {
    expect(pl.preScore(cycle(), makePod('p'))?.code).toBe(Code.Skip);
  });
});

describe('PodTopologySpread (default constraints)', () => {
  const pl = new PodTopologySpread();
  const rs = { metadata: { name: 'web-rs', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'web' } } } };
  const owner = { kind: 'ReplicaSet', name: 'web-rs' };

  function normalized(pod: Pod, nodes: Node[], pods: Pod[], snapshotExtra: Partial<Parameters<typeof Snapshot.fromObjects>[0]> = {}): number[] {
    const state = new CycleState(Snapshot.fromObjects({ nodes, pods, ...snapshotExtra }));
    const st = pl.preScore(state, pod, state.snapshot.nodeInfos);
    if (st?.code === Code.Skip) return [];
    const scores = state.snapshot.nodeInfos.map((ni) => ({ name: ni.name, score: pl.score(state, pod, ni) }));
    pl.normalizeScore(state, pod, scores);
    return scores.map((s) => s.score);
  }

  const nodes = [makeNode('a'), makeNode('b'), makeNode('c')];
  const existing = [
    makePod('w1', { nodeName: 'a', labels: { app: 'web' }, owner }),
    makePod('w2', { nodeName: 'a', labels: { app: 'web' }, owner }),
    makePod('w3', { nodeName: 'b', labels: { app: 'web' }, owner }),
    makePod('other1', { nodeName: 'c', labels: { app: 'db' } }),
    makePod('other2', { nodeName: 'c', labels: { app: 'db' } }),
  ];
  const incoming = makePod('w4', { labels: { app: 'web' }, owner });

  it('prefers nodes with fewer pods of the same ReplicaSet', () => {
    // raw: a = round(2*ln5 + 2) = 5, b = round(ln5 + 2) = 4, c = 2; 100*(5+2-s)/5
    expect(normalized(incoming, nodes, existing, { replicaSets: [rs] })).toEqual([40, 60, 100]);
  });

  it('falls back to the controller uid when the ReplicaSet is not in the snapshot', () => {
    expect(normalized(incoming, nodes, existing)).toEqual([40, 60, 100]);
    const strict = new PodTopologySpread({ fallbackToController: false });
    const state = new CycleState(Snapshot.fromObjects({ nodes, pods: existing }));
    expect(strict.preScore(state, incoming, state.snapshot.nodeInfos)?.code).toBe(Code.Skip);
  });

  it('uses the selector of a Service selecting the pod', () => {
    const svc = { metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' } } };
    const loose = [makePod('x1', { nodeName: 'a', labels: { app: 'web' } }), makePod('x2', { nodeName: 'a', labels: { app: 'web' } })];
    expect(normalized(makePod('x3', { labels: { app: 'web' } }), nodes, loose, { services: [svc] })).toEqual([40, 100, 100]);
  });

  it('ignores terminating pods and other namespaces, and skips pods without a workload', () => {
    const pods = [
      makePod('t', { nodeName: 'a', labels: { app: 'web' }, owner, deletionTimestamp: '2024-01-01T00:00:00Z' }),
      makePod('ns', { nodeName: 'b', labels: { app: 'web' }, owner, namespace: 'other' }),
    ];
    expect(normalized(incoming, nodes, pods, { replicaSets: [rs] })).toEqual([100, 100, 100]);
    expect(normalized(makePod('lonely'), nodes, existing)).toEqual([]);
  });

  it('spreads across zones too when nodes have zone labels', () => {
    const zoned = [
      makeNode('a1', { labels: { 'topology.kubernetes.io/zone': 'z1' } }),
      makeNode('a2', { labels: { 'topology.kubernetes.io/zone': 'z1' } }),
      makeNode('b1', { labels: { 'topology.kubernetes.io/zone': 'z2' } }),
    ];
    const pods = [makePod('w1', { nodeName: 'a1', labels: { app: 'web' }, owner })];
    const s = normalized(incoming, zoned, pods, { replicaSets: [rs] });
    // a2 has no pod but shares z1 with a1: it scores below b1.
    expect(s[2]).toBe(100);
    expect(s[1]).toBeLessThan(100);
    expect(s[0]).toBeLessThan(s[1]!);
  });
});

import { DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY, newDaemonPod, nodeShouldRunDaemonPod, reconcileDaemonSet, targetNodeName, templateHash } from './daemonset';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const ds = (extra: Record<string, any> = {}) => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'agent', namespace: 'default', uid: 'ds-uid', generation: 2 },
  spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'x' }], ...extra } } },
});
const node = (name: string, o: Record<string, any> = {}) => ({ metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(o.labels ?? {}) } }, spec: { taints: o.taints ?? [] } });
const pod = (name: string, nodeName: string, hash: string, ready = true) => ({
  metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', labels: { app: 'agent', [DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY]: hash }, ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }] },
  spec: { nodeName },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2026-01-01T00:00:00Z' }] },
});

describe('DaemonSet planning', () => {
  it('node eligibility: nodeSelector, required affinity, taints vs the daemon tolerations', () => {
    expect(nodeShouldRunDaemonPod(node('n1'), ds()).shouldRun).toBe(true);
    expect(nodeShouldRunDaemonPod(node('n1'), ds({ nodeSelector: { disk: 'ssd' } })).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(node('n1', { labels: { disk: 'ssd' } }), ds({ nodeSelector: { disk: 'ssd' } })).shouldRun).toBe(true);
    const aff = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } };
    expect(nodeShouldRunDaemonPod(node('n1', { labels: { zone: 'b' } }), ds({ affinity: aff })).shouldRun).toBe(false);
    expect(nodeShouldRunDaemonPod(node('n1', { labels: { zone: 'a' } }), ds({ affinity: aff })).shouldRun).toBe(true);
    // Default daemon tolerations: unschedulable, not-ready, unreachable, pressure taints.
    for (const key of ['node.kubernetes.io/unschedulable', 'node.kubernetes.io/memory-pressure']) expect(nodeShouldRunDaemonPod(node('n1', { taints: [{ key, effect: 'NoSchedule' }] }), ds()).shouldRun).toBe(true);
    expect(nodeShouldRunDaemonPod(node('n1', { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }] }), ds()).shouldRun).toBe(true);
    // A foreign NoSchedule taint: no new pod, but an existing one keeps running; NoExecute evicts.
    expect(nodeShouldRunDaemonPod(node('n1', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), ds())).toEqual({ shouldRun: false, shouldContinueRunning: true });
    expect(nodeShouldRunDaemonPod(node('n1', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }), ds())).toEqual({ shouldRun: false, shouldContinueRunning: false });
    expect(nodeShouldRunDaemonPod(node('n1', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoSchedule' }] }), ds({ tolerations: [{ key: 'dedicated', operator: 'Exists' }] })).shouldRun).toBe(true);
  });

  it('new pods are pinned by matchFields metadata.name', () => {
    const p = newDaemonPod(ds(), 'n7', 'h1');
    expect(p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }]);
    expect(targetNodeName(p)).toBe('n7');
    expect(p.metadata.labels).toMatchObject({ app: 'agent', 'controller-revision-hash': 'h1', 'pod-template-generation': '2' });
    expect(p.metadata.generateName).toBe('agent-');
  });

  it('creates on missing nodes, deletes misscheduled and duplicate pods, computes status', () => {
    const d = ds({ nodeSelector: { role: 'worker' } });
    const h = templateHash(d);
    const nodes = [node('n1', { labels: { role: 'worker' } }), node('n2', { labels: { role: 'worker' } }), node('n3')];
    const dup = { ...pod('p1b', 'n1', h), metadata: { ...pod('p1b', 'n1', h).metadata, creationTimestamp: '2026-01-01T00:05:00Z' } };
    const plan = reconcileDaemonSet(d, [pod('p1', 'n1', h), dup, pod('p3', 'n3', h), pod('gone', 'n9', h)], nodes, NOW);
    expect(plan.create).toEqual(['n2']);
    expect(plan.delete.map((x) => x.name).sort()).toEqual(['gone', 'p1b', 'p3']);
    expect(plan.status).toMatchObject({ desiredNumberScheduled: 2, currentNumberScheduled: 1, numberMisscheduled: 1, numberReady: 1, numberAvailable: 1, updatedNumberScheduled: 1, numberUnavailable: 1, observedGeneration: 2 });
    expect(plan.statusChanged).toBe(true);
  });

  it('RollingUpdate: old unavailable pods go at once, old available ones within maxUnavailable', () => {
    const d = ds();
    (d.spec as any).updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } };
    const nodes = ['n1', 'n2', 'n3', 'n4'].map((n) => node(n));
    const plan = reconcileDaemonSet(d, [pod('a', 'n1', 'old'), pod('b', 'n2', 'old'), pod('c', 'n3', 'old'), pod('d', 'n4', 'old', false)], nodes, NOW);
    // d is unavailable (counts against the budget and goes), then one available old pod fits in maxUnavailable 2.
    expect(plan.delete.map((x) => x.name)).toEqual(['d', 'a']);
    expect(plan.create).toEqual([]);
    const onDelete = reconcileDaemonSet({ ...d, spec: { ...d.spec, updateStrategy: { type: 'OnDelete' } } }, [pod('a', 'n1', 'old')], [node('n1')], NOW);
    expect(onDelete.delete).toEqual([]);
  });
});

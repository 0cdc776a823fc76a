import { notFound } from '@kubets/api-machinery';
import { pod, replicaSet, T0 } from '../testing/fixtures';
import { SimCluster } from '../testing/sim';
import { UIDTrackingControllerExpectations } from '../util/expectations';
import { timeString, type KObject } from '../util/k8s';
import { executeReplicaSetPlan, slowStartBatch, type RecordedEvent, type ReplicaSetApi } from './execute';
import { getPodsToDelete, sortPodsForDeletion } from './ranking';
import { calculateReplicaSetStatus, reconcileReplicaSet, slowStartBatchSizes } from './reconcile';

const names = (pods: KObject[]) => pods.map((p) => p.metadata.name);

describe('deletion ranking (ActivePodsWithRanks)', () => {
  const now = T0 + 100 * 3600_000;

  it('prefers unassigned, then Pending < Unknown < Running, then not ready', () => {
    const pods = [
      pod('running-ready', { ready: true, readySince: T0 }),
      pod('running-notready', { ready: false }),
      pod('unknown', { phase: 'Unknown', node: 'n1' }),
      pod('pending-assigned', { phase: 'Pending', node: 'n1' }),
      pod('unassigned', { phase: 'Pending', node: '' }),
    ];
    expect(names(getPodsToDelete(pods, pods, 4, { now }))).toEqual(['unassigned', 'pending-assigned', 'unknown', 'running-notready']);
  });

  it('then deletion cost, colocation, shorter ready time, more restarts, newer creation', () => {
    const base = { ready: true, node: 'n1' };
    // Deletion cost beats everything after readiness.
    const cheap = pod('cheap', { ...base, annotations: { 'controller.kubernetes.io/pod-deletion-cost': '-10' }, readySince: T0 });
    const dear = pod('dear', { ...base, annotations: { 'controller.kubernetes.io/pod-deletion-cost': '10' }, readySince: now - 1000 });
    expect(names(sortPodsForDeletion([{ pod: dear, rank: 0 }, { pod: cheap, rank: 0 }], { now }).map((r) => r.pod))).toEqual(['cheap', 'dear']);

    // Doubled-up pods (more related pods on the node) go first.
    const crowded = pod('crowded', { ready: true, node: 'busy', readySince: T0 });
    const alone = pod('alone', { ready: true, node: 'quiet', readySince: now - 1000 });
    const related = [crowded, alone, pod('x', { node: 'busy', ready: true }), pod('y', { node: 'busy', ready: true })];
    expect(names(getPodsToDelete([alone, crowded], related, 1, { now }))).toEqual(['crowded']);

    // Ready for a shorter time first (log scale: 1 min vs 10 h are different buckets).
    const young = pod('young', { ...base, readySince: now - 60_000 });
    const old = pod('old', { ...base, readySince: now - 10 * 3600_000 });
    expect(names(getPodsToDelete([old, young], [], 1, { now }))).toEqual(['young']);

    // Same ready time: more restarts first.
    const flappy = pod('flappy', { ...base, readySince: T0, restarts: 5 });
    const steady = pod('steady', { ...base, readySince: T0, restarts: 0 });
    expect(names(getPodsToDelete([steady, flappy], [], 1, { now }))).toEqual(['flappy']);

    // Then the newer pod.
    const newer = pod('newer', { ...base, readySince: T0, created: now - 60_000 });
    const older = pod('older', { ...base, readySince: T0, created: now - 10 * 3600_000 });
    expect(names(getPodsToDelete([older, newer], [], 1, { now }))).toEqual(['newer']);
    // Exact comparison without the log scale.
    const a = pod('a', { ...base, readySince: T0, created: now - 2000 });
    const b = pod('b', { ...base, readySince: T0, created: now - 1000 });
    expect(names(getPodsToDelete([a, b], [], 1, { now, logarithmicScaleDown: false }))).toEqual(['b']);
  });

  it('pods of about the same age tie on the log scale and are ordered by uid', () => {
    const p1 = pod('p1', { ready: true, readySince: T0, created: now - 70_000, uid: 'b' });
    const p2 = pod('p2', { ready: true, readySince: T0, created: now - 90_000, uid: 'a' });
    expect(names(getPodsToDelete([p1, p2], [], 1, { now }))).toEqual(['p2']);
  });
});

describe('reconcileReplicaSet', () => {
  const rs = replicaSet('web-abc', 3);

  it('creates the missing pods from the template, recording expected adds', () => {
    const exp = new UIDTrackingControllerExpectations({ now: () => T0 });
    const plan = reconcileReplicaSet(rs, [pod('p1', { owner: rs })], exp, { now: T0 });
    expect(plan.create?.count).toBe(2);
    expect(plan.create?.batches).toEqual([1, 1]);
    expect(plan.create?.pod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: 'web-abc-',
        namespace: 'default',
        labels: { app: 'web' },
        annotations: { note: 'x' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', uid: 'uid-web-abc', controller: true, blockOwnerDeletion: true }],
      },
      spec: { containers: [{ name: 'web', image: 'nginx' }] },
    });
    expect(exp.getExpectations('default/web-abc')).toMatchObject({ add: 2, del: 0 });
    // Until those adds are observed, nothing more is decided.
    const again = reconcileReplicaSet(rs, [pod('p1', { owner: rs })], exp, { now: T0 });
    expect(again.needsSync).toBe(false);
    expect(again.create).toBeUndefined();
  });

  it('slow start batches 1, 2, 4, ... and at most burstReplicas per sync', () => {
    expect(slowStartBatchSizes(20)).toEqual([1, 2, 4, 8, 5]);
    const big = replicaSet('big', 1200);
    const plan = reconcileReplicaSet(big, [], new UIDTrackingControllerExpectations(), { now: T0 });
    expect(plan.create?.count).toBe(500);
    expect(plan.create?.batches).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 245]);
  });

  it('deletes the least valuable surplus pods and expects their deletion by key', () => {
    const exp = new UIDTrackingControllerExpectations({ now: () => T0 });
    const pods = [
      pod('ready-1', { owner: rs, ready: true }),
      pod('ready-2', { owner: rs, ready: true }),
      pod('pending', { owner: rs, phase: 'Pending', node: '' }),
      pod('notready', { owner: rs, ready: false }),
      pod('ready-3', { owner: rs, ready: true }),
    ];
    const plan = reconcileReplicaSet(rs, pods, exp, { now: T0 });
    expect(names(plan.delete)).toEqual(['pending', 'notready']);
    expect([...exp.getDeleteKeys('default/web-abc')!]).toEqual(['default/pending', 'default/notready']);
  });

  it('skips pods being deleted or finished, and pods of other controllers', () => {
    const other = replicaSet('other', 1, { uid: 'uid-other' });
    const pods = [
      pod('live', { owner: rs }),
      pod('terminating', { owner: rs, deleting: true }),
      pod('done', { owner: rs, phase: 'Succeeded' }),
      pod('failed', { owner: rs, phase: 'Failed' }),
      pod('foreign', { owner: other }),
    ];
    const plan = reconcileReplicaSet(rs, pods, new UIDTrackingControllerExpectations(), { now: T0 });
    expect(names(plan.pods)).toEqual(['live']);
    expect(plan.create?.count).toBe(2);
    expect(plan.status.replicas).toBe(1);
  });

  it('adopts matching orphans and releases owned pods whose labels no longer match', () => {
    const pods = [pod('orphan-1'), pod('orphan-2'), pod('mine', { owner: rs }), pod('relabelled', { owner: rs, labels: { app: 'debug' } })];
    const plan = reconcileReplicaSet(rs, pods, new UIDTrackingControllerExpectations(), { now: T0 });
    expect(names(plan.pods)).toEqual(['orphan-1', 'orphan-2', 'mine']);
    expect(plan.adopt.map((a) => a.object.metadata.name)).toEqual(['orphan-1', 'orphan-2']);
    expect(plan.adopt[0].patch.metadata.ownerReferences[0]).toMatchObject({ kind: 'ReplicaSet', name: 'web-abc', controller: true, blockOwnerDeletion: true });
    expect(plan.release.map((a) => a.object.metadata.name)).toEqual(['relabelled']);
    expect(plan.release[0].patch).toEqual({ metadata: { ownerReferences: [{ $patch: 'delete', uid: 'uid-web-abc' }], uid: 'uid-relabelled' } });
    // Three matching pods for three replicas: nothing to create.
    expect(plan.create).toBeUndefined();
    expect(plan.delete).toEqual([]);
  });

  it('a ReplicaSet being deleted only reports status', () => {
    const dying = replicaSet('web-abc', 3);
    dying.metadata.deletionTimestamp = timeString(T0);
    const plan = reconcileReplicaSet(dying, [], new UIDTrackingControllerExpectations(), { now: T0 });
    expect(plan.create).toBeUndefined();
  });

  it('status: replicas, fullyLabeled, ready, available (minReadySeconds), observedGeneration', () => {
    const r = replicaSet('web-abc', 4, { minReadySeconds: 10, generation: 3 });
    r.spec.template.metadata.labels = { app: 'web', tier: 'fe' };
    const now = T0 + 60_000;
    const pods = [
      pod('a', { owner: r, labels: { app: 'web', tier: 'fe' }, ready: true, readySince: T0 }),
      pod('b', { owner: r, labels: { app: 'web', tier: 'fe' }, ready: true, readySince: now - 5000 }),
      pod('c', { owner: r, labels: { app: 'web' }, ready: false }),
    ];
    const plan = reconcileReplicaSet(r, pods, new UIDTrackingControllerExpectations(), { now });
    expect(plan.status).toEqual({ replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1, observedGeneration: 3 });
    expect(plan.statusChanged).toBe(true);
  });

  it('ReplicaFailure condition on create errors, removed once creates work', () => {
    const failed = calculateReplicaSetStatus(rs, [], new Error('pods "web-abc-" is forbidden: exceeded quota'), T0);
    expect(failed.conditions).toEqual([
      { type: 'ReplicaFailure', status: 'True', lastTransitionTime: timeString(T0), reason: 'FailedCreate', message: 'pods "web-abc-" is forbidden: exceeded quota' },
    ]);
    const healed = calculateReplicaSetStatus({ ...rs, status: failed }, [], undefined, T0);
    expect(healed.conditions).toBeUndefined();
  });
});

describe('executeReplicaSetPlan', () => {
  function fakeApi(failAfter = Infinity): ReplicaSetApi & { created: number; statuses: KObject[]; patched: string[] } {
    const api = {
      created: 0,
      statuses: [] as KObject[],
      patched: [] as string[],
      async createPod(_ns: string, p: KObject) {
        if (api.created >= failAfter) throw new Error('exceeded quota');
        api.created++;
        return { ...p, metadata: { ...p.metadata, name: `${p.metadata.generateName}${api.created}` } };
      },
      async deletePod(_ns: string, name: string) {
        if (name === 'gone') throw notFound('', 'pods', name);
      },
      async patchPod(_ns: string, name: string) {
        api.patched.push(name);
      },
      async updateReplicaSetStatus(r: KObject) {
        api.statuses.push(r.status);
        return r;
      },
    };
    return api;
  }

  it('slow start stops after a failing batch; skipped creates are no longer expected; ReplicaFailure is reported', async () => {
    const rs = replicaSet('web-abc', 10);
    const exp = new UIDTrackingControllerExpectations({ now: () => T0 });
    const plan = reconcileReplicaSet(rs, [], exp, { now: T0 });
    const api = fakeApi(4);
    const events: RecordedEvent[] = [];
    const res = await executeReplicaSetPlan(rs, plan, api, exp, (e) => events.push(e), () => T0);
    // Batches 1, 2 succeed (3 pods), the batch of 4 gets 1 success and 3 failures, then it stops.
    expect(api.created).toBe(4);
    expect(res.created).toHaveLength(4);
    expect(exp.getExpectations('default/web-abc')).toMatchObject({ add: 4 });
    expect(events.filter((e) => e.reason === 'SuccessfulCreate').map((e) => e.message)[0]).toBe('Created pod: web-abc-1');
    expect(events.filter((e) => e.reason === 'FailedCreate').map((e) => e.message)).toEqual(['Error creating: exceeded quota', 'Error creating: exceeded quota', 'Error creating: exceeded quota']);
    expect(res.error).toBeInstanceOf(Error);
    expect(api.statuses[0].conditions[0]).toMatchObject({ type: 'ReplicaFailure', reason: 'FailedCreate', message: 'exceeded quota' });
  });

  it('slowStartBatch counts successes', async () => {
    let calls = 0;
    const r = await slowStartBatch(7, 1, async () => {
      calls++;
    });
    expect(r).toEqual({ successes: 7 });
    expect(calls).toBe(7);
  });

  it('a NotFound delete is not an error and is no longer expected', async () => {
    const rs = replicaSet('web-abc', 0);
    const exp = new UIDTrackingControllerExpectations({ now: () => T0 });
    const plan = reconcileReplicaSet(rs, [pod('gone', { owner: rs }), pod('here', { owner: rs })], exp, { now: T0 });
    const res = await executeReplicaSetPlan(rs, plan, fakeApi(), exp, () => {}, () => T0);
    expect(res.error).toBeUndefined();
    expect(res.deleted).toEqual(['here']);
    expect([...exp.getDeleteKeys('default/web-abc')!]).toEqual(['default/here']);
  });
});

describe('ReplicaSet controller against a lagging informer (simulated)', () => {
  async function rsCluster(lagMs: number, replicas: number) {
    const sim = new SimCluster({ informerLagMs: lagMs, deploymentController: false });
    sim.create('replicasets', replicaSet('web', replicas, { uid: undefined }));
    let maxPods = 0;
    sim.onWrite(() => {
      maxPods = Math.max(maxPods, sim.list('pods').filter((p) => !p.metadata.deletionTimestamp).length);
    });
    return { sim, maxPods: () => maxPods };
  }

  it('never overshoots even when pod events arrive 20 s late and the ReplicaSet is resynced every second', async () => {
    const { sim, maxPods } = await rsCluster(20_000, 5);
    for (let i = 0; i < 60; i++) {
      sim.resyncReplicaSet('default', 'web');
      await sim.advance(1000);
    }
    expect(sim.stats.podCreates).toBe(5);
    expect(maxPods()).toBe(5);
    expect(sim.get('replicasets', 'default', 'web')?.status).toMatchObject({ replicas: 5, readyReplicas: 5, availableReplicas: 5, observedGeneration: 1 });
  });

  it('scale down with lag deletes exactly the surplus', async () => {
    const { sim } = await rsCluster(2_000, 12);
    await sim.advance(60_000);
    expect(sim.podsOf('default', 'web')).toHaveLength(12);
    sim.mergePatch('replicasets', 'default', 'web', { spec: { replicas: 5 } });
    for (let i = 0; i < 30; i++) {
      sim.resyncReplicaSet('default', 'web');
      await sim.advance(500);
    }
    expect(sim.stats.podDeletes).toBe(7);
    expect(sim.podsOf('default', 'web')).toHaveLength(5);
  });

  it('lost watch events: expectations expire after 5 minutes and the controller acts again', async () => {
    const sim = new SimCluster({ informerLagMs: 10, deploymentController: false });
    sim.create('replicasets', replicaSet('web', 3, { uid: undefined }));
    await sim.advance(5); // the ReplicaSet reaches the cache after 10 ms
    await sim.advance(10); // synced: 3 creates expected
    sim.pauseInformers();
    await sim.advance(100);
    sim.dropHeldEvents(); // the ADDED events are lost
    // Someone deletes the pods; the controller never learns of them.
    for (const p of sim.list('pods')) sim.delete('pods', 'default', p.metadata.name);
    await sim.advance(1000);
    sim.resumeInformers();
    expect(sim.stats.podCreates).toBe(3);
    for (let i = 0; i < 4; i++) {
      sim.resyncReplicaSet('default', 'web');
      await sim.advance(60_000);
    }
    expect(sim.stats.podCreates).toBe(3); // still waiting (4 min)
    for (let i = 0; i < 2; i++) {
      sim.resyncReplicaSet('default', 'web');
      await sim.advance(60_000);
    }
    expect(sim.stats.podCreates).toBe(6); // expired after 5 min: pods recreated
    expect(sim.podsOf('default', 'web')).toHaveLength(3);
  });

  it('adopts an orphan and releases a relabelled pod', async () => {
    const sim = new SimCluster({ deploymentController: false });
    sim.create('pods', { metadata: { name: 'stray', namespace: 'default', labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    sim.create('replicasets', replicaSet('web', 2, { uid: undefined }));
    await sim.advance(5000);
    const stray = sim.get('pods', 'default', 'stray')!;
    expect(stray.metadata.ownerReferences).toEqual([{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: sim.get('replicasets', 'default', 'web')!.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(sim.stats.podCreates).toBe(2); // the stray + 1 created
    sim.mergePatch('pods', 'default', 'stray', { metadata: { labels: { app: 'debug' } } });
    await sim.advance(5000);
    expect(sim.get('pods', 'default', 'stray')!.metadata.ownerReferences).toBeUndefined();
    expect(sim.podsOf('default', 'web')).toHaveLength(2);
    expect(sim.stats.podCreates).toBe(3);
  });
});

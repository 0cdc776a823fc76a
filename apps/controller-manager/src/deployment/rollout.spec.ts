// Deployment + ReplicaSet controllers driven through simulated time against
// the simulated API (informer lag, pods turning Ready after a delay, graceful
// pod termination), checking what a user would see on a watch.
import { forbiddenError } from '@kubets/api-machinery';
import { deployment, rolloutStatus, type DeploymentOpts } from '../testing/fixtures';
import { SimCluster, type SimOptions } from '../testing/sim';
import type { KObject } from '../util/k8s';

const NS = 'default';

function dep(sim: SimCluster): KObject {
  return sim.get('deployments', NS, 'web')!;
}

function rsByImage(sim: SimCluster, image: string): KObject | undefined {
  return sim.replicaSetsOf(NS, 'web').find((r) => r.spec.template.spec.containers[0].image === image);
}

function livePods(sim: SimCluster): KObject[] {
  return sim.list('pods', NS).filter((p) => !p.metadata.deletionTimestamp);
}

function cond(d: KObject, type: string): KObject | undefined {
  return (d.status?.conditions ?? []).find((c: KObject) => c.type === type);
}

/** Rolled out (kubectl rollout status would say so) with exactly `replicas` pods, all of the current template. */
function settled(sim: SimCluster, replicas: number, image: string): boolean {
  const d = dep(sim);
  if (!rolloutStatus(d).done || Number(d.spec.replicas) !== replicas) return false;
  const pods = sim.list('pods', NS);
  return pods.length === replicas && pods.every((p) => p.spec.containers[0].image === image && !p.metadata.deletionTimestamp);
}

async function start(o: DeploymentOpts, simOpts: SimOptions = {}): Promise<SimCluster> {
  const sim = new SimCluster(simOpts);
  sim.create('deployments', deployment('web', o));
  expect(await sim.runUntil(() => settled(sim, o.replicas ?? 1, o.image ?? 'nginx:1'))).toBe(true);
  return sim;
}

function setImage(sim: SimCluster, image: string): void {
  sim.mergePatch('deployments', NS, 'web', { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } });
}

/** Track the fewest available and the most live pods from now on (ground truth, after every write). */
function watchPods(sim: SimCluster) {
  const seen = { minAvailable: Infinity, maxLive: 0, maxSpecTotal: 0, minStatusAvailable: Infinity };
  sim.onWrite((kind) => {
    seen.minAvailable = Math.min(seen.minAvailable, sim.availablePods(NS).length);
    seen.maxLive = Math.max(seen.maxLive, livePods(sim).length);
    seen.maxSpecTotal = Math.max(seen.maxSpecTotal, sim.replicaSetsOf(NS, 'web').reduce((n, r) => n + r.spec.replicas, 0));
    if (kind === 'deployments') seen.minStatusAvailable = Math.min(seen.minStatusAvailable, Number(dep(sim).status?.availableReplicas ?? 0));
  });
  return seen;
}

function scalingEvents(sim: SimCluster): string[] {
  return sim.events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
}

describe('Deployment rollouts (simulated cluster)', () => {
  // Pods turn Ready between 0.5 and 3 s after they run, in no particular order.
  const jittered = (p: KObject) => 500 + ((p.metadata.name.split('').reduce((h: number, c: string) => h * 31 + c.charCodeAt(0), 7) >>> 0) % 2500);

  it.each([
    ['a prompt informer', { informerLagMs: 10 }],
    ['an informer lagging 700 ms and pods ready after 0.5-3 s', { informerLagMs: 700, readyDelayMs: jittered }],
  ] as [string, SimOptions][])('30 replicas, maxUnavailable 0, %s: available never drops below 30 and the new ReplicaSet reaches 30', async (_name, simOpts) => {
    const sim = await start({ replicas: 30, maxSurge: '25%', maxUnavailable: 0 }, simOpts);
    const v1 = rsByImage(sim, 'nginx:1')!;
    expect(v1.metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
    expect(scalingEvents(sim)).toEqual([`Scaled up replica set ${v1.metadata.name} from 0 to 30`]);
    expect(dep(sim).metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');

    const seen = watchPods(sim);
    setImage(sim, 'nginx:2');
    expect(await sim.runUntil(() => settled(sim, 30, 'nginx:2'))).toBe(true);

    expect(seen.minAvailable).toBeGreaterThanOrEqual(30);
    expect(seen.minStatusAvailable).toBeGreaterThanOrEqual(30);
    expect(seen.maxLive).toBeLessThanOrEqual(38); // 30 + maxSurge (25% of 30, rounded up)
    expect(seen.maxSpecTotal).toBeLessThanOrEqual(38);
    const v2 = rsByImage(sim, 'nginx:2')!;
    expect(v2.spec.replicas).toBe(30);
    expect(v2.status).toMatchObject({ replicas: 30, readyReplicas: 30, availableReplicas: 30 });
    expect(rsByImage(sim, 'nginx:1')!.spec.replicas).toBe(0);
    expect(v2.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
    const d = dep(sim);
    expect(d.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
    expect(d.status).toMatchObject({ replicas: 30, updatedReplicas: 30, readyReplicas: 30, availableReplicas: 30, observedGeneration: 2 });
    expect(d.status.unavailableReplicas).toBeUndefined();
    expect(cond(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${v2.metadata.name}" has successfully progressed.` });
    expect(cond(d, 'Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' });
    expect(rolloutStatus(d)).toEqual({ done: true, message: 'deployment "web" successfully rolled out' });
    const events = scalingEvents(sim);
    expect(events).toContain(`Scaled up replica set ${v2.metadata.name} from 0 to 8`);
    expect(events.some((m) => m.startsWith(`Scaled down replica set ${v1.metadata.name} from 30 to `))).toBe(true);
    expect(events.at(-1)).toMatch(new RegExp(`^Scaled down replica set ${v1.metadata.name} from \\d+ to 0$`));
  });

  it.each([
    ['a prompt informer', { informerLagMs: 10 }],
    ['an informer lagging 700 ms and pods ready after 0.5-3 s', { informerLagMs: 700, readyDelayMs: jittered }],
  ] as [string, SimOptions][])('maxSurge 0, maxUnavailable 1, %s: never more than 30 pods, never fewer than 29 available', async (_name, simOpts) => {
    const sim = await start({ replicas: 30, maxSurge: 0, maxUnavailable: 1 }, simOpts);
    const seen = watchPods(sim);
    setImage(sim, 'nginx:2');
    expect(await sim.runUntil(() => settled(sim, 30, 'nginx:2'))).toBe(true);
    expect(seen.maxSpecTotal).toBeLessThanOrEqual(30);
    expect(seen.maxLive).toBeLessThanOrEqual(30);
    expect(seen.minAvailable).toBeGreaterThanOrEqual(29);
    expect(rsByImage(sim, 'nginx:2')!.status.availableReplicas).toBe(30);
  });

  it('Recreate: old pods are all gone (terminated) before the first new pod exists', async () => {
    const sim = await start({ replicas: 10, strategy: 'Recreate' });
    let violations = 0;
    let newPods = 0;
    sim.onWrite((kind, type, obj) => {
      if (kind !== 'pods' || type !== 'ADDED' || obj.spec.containers[0].image !== 'nginx:2') return;
      newPods++;
      if (sim.list('pods', NS).some((p) => p.spec.containers[0].image === 'nginx:1')) violations++;
    });
    const seenRS: string[] = [];
    sim.onWrite((kind, type, obj) => {
      if (kind === 'replicasets' && type === 'ADDED') seenRS.push(obj.metadata.name);
    });
    setImage(sim, 'nginx:2');
    expect(await sim.runUntil(() => settled(sim, 10, 'nginx:2'))).toBe(true);
    expect(newPods).toBe(10);
    expect(violations).toBe(0);
    // The new ReplicaSet is created with all replicas at once.
    expect(scalingEvents(sim)).toContain(`Scaled up replica set ${seenRS[0]} from 0 to 10`);
    expect(scalingEvents(sim)).toContain(`Scaled down replica set ${rsByImage(sim, 'nginx:1')!.metadata.name} from 10 to 0`);
  });

  it('scale 30 -> 5 -> 12 in the middle of a rollout: proportional, no overshoot, exact at rest', async () => {
    const sim = await start({ replicas: 30 });
    setImage(sim, 'nginx:2');
    await sim.advance(1500); // part-way: both ReplicaSets active
    const mid = sim.replicaSetsOf(NS, 'web').filter((r) => r.spec.replicas > 0);
    expect(mid).toHaveLength(2);

    // Watch every ReplicaSet write: once every active ReplicaSet carries the new desired count, their sum is within replicas + maxSurge.
    const overshoots: string[] = [];
    sim.onWrite((kind) => {
      if (kind !== 'replicasets') return;
      const active = sim.replicaSetsOf(NS, 'web').filter((r) => r.spec.replicas > 0);
      for (const [desired, surge] of [
        [5, 2],
        [12, 3],
      ]) {
        if (active.length && active.every((r) => r.metadata.annotations['deployment.kubernetes.io/desired-replicas'] === String(desired))) {
          const total = active.reduce((n, r) => n + r.spec.replicas, 0);
          if (total > desired + surge) overshoots.push(`${desired}: ${total}`);
        }
      }
    });
    // The first moment both ReplicaSets carry desired-replicas=5: scaled together, in proportion.
    let firstAt5: Record<string, number> | undefined;
    sim.onWrite((kind) => {
      if (kind !== 'replicasets' || firstAt5) return;
      const rss = sim.replicaSetsOf(NS, 'web');
      if (rss.every((r) => r.metadata.annotations['deployment.kubernetes.io/desired-replicas'] === '5')) {
        firstAt5 = Object.fromEntries(rss.map((r) => [r.spec.template.spec.containers[0].image, r.spec.replicas]));
      }
    });
    const before = Object.fromEntries(mid.map((r) => [r.spec.template.spec.containers[0].image, r.spec.replicas]));
    sim.mergePatch('deployments', NS, 'web', { spec: { replicas: 5 } });
    await sim.advance(200);
    // 5 + maxSurge (25% of 5 -> 2) = 7, split by size: kube's GetProportion on {before}.
    expect(firstAt5).toBeDefined();
    expect(firstAt5!['nginx:1'] + firstAt5!['nginx:2']).toBe(7);
    expect(firstAt5!['nginx:1']).toBeGreaterThan(0);
    expect(firstAt5!['nginx:2']).toBeGreaterThan(0);
    const expected = (n: number) => Math.round((n * 7) / (before['nginx:1'] + before['nginx:2']));
    expect(firstAt5!['nginx:1']).toBe(expected(before['nginx:1']));

    sim.mergePatch('deployments', NS, 'web', { spec: { replicas: 12 } });
    let maxLiveAfter12 = 0;
    sim.onWrite(() => {
      const d = dep(sim);
      if (Number(d.status?.observedGeneration ?? 0) >= Number(d.metadata.generation)) maxLiveAfter12 = Math.max(maxLiveAfter12, livePods(sim).length);
    });
    expect(await sim.runUntil(() => settled(sim, 12, 'nginx:2'))).toBe(true);
    expect(overshoots).toEqual([]);
    expect(maxLiveAfter12).toBeLessThanOrEqual(15);
    expect(rsByImage(sim, 'nginx:2')!.spec.replicas).toBe(12);
    expect(rsByImage(sim, 'nginx:1')!.spec.replicas).toBe(0);
    expect(livePods(sim)).toHaveLength(12);
    expect(dep(sim).status).toMatchObject({ replicas: 12, updatedReplicas: 12, availableReplicas: 12 });
  });

  it('rollback (kubectl rollout undo): the old ReplicaSet is re-used with the next revision', async () => {
    const sim = await start({ replicas: 5 });
    const v1 = rsByImage(sim, 'nginx:1')!;
    setImage(sim, 'nginx:2');
    expect(await sim.runUntil(() => settled(sim, 5, 'nginx:2'))).toBe(true);
    const v2 = rsByImage(sim, 'nginx:2')!;
    expect(dep(sim).metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');

    // kubectl rollout undo: the template of revision 1 without the pod-template-hash label.
    const tpl = structuredClone(v1.spec.template);
    delete tpl.metadata.labels['pod-template-hash'];
    const d = dep(sim);
    d.spec.template = tpl;
    sim.update('deployments', d);
    expect(await sim.runUntil(() => settled(sim, 5, 'nginx:1'))).toBe(true);

    const rss = sim.replicaSetsOf(NS, 'web');
    expect(rss.map((r) => r.metadata.name).sort()).toEqual([v1.metadata.name, v2.metadata.name].sort());
    const back = rsByImage(sim, 'nginx:1')!;
    expect(back.metadata.uid).toBe(v1.metadata.uid);
    expect(back.spec.replicas).toBe(5);
    expect(back.metadata.annotations['deployment.kubernetes.io/revision']).toBe('3');
    expect(back.metadata.annotations['deployment.kubernetes.io/revision-history']).toBe('1');
    expect(rsByImage(sim, 'nginx:2')!.spec.replicas).toBe(0);
    expect(dep(sim).metadata.annotations['deployment.kubernetes.io/revision']).toBe('3');
    expect(cond(dep(sim), 'Progressing')).toMatchObject({ reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${v1.metadata.name}" has successfully progressed.` });
  });

  it('paused: no rollout progress, scaling still works; resuming rolls out', async () => {
    const sim = await start({ replicas: 10 });
    const v1 = rsByImage(sim, 'nginx:1')!;
    sim.mergePatch('deployments', NS, 'web', { spec: { paused: true } });
    await sim.advance(1000);
    expect(cond(dep(sim), 'Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused', message: 'Deployment is paused' });
    setImage(sim, 'nginx:2');
    await sim.advance(30_000);
    expect(sim.replicaSetsOf(NS, 'web')).toHaveLength(1);
    // As with kube: no ReplicaSet has the new template, so nothing counts as updated.
    expect(rolloutStatus(dep(sim)).message).toBe('Waiting for deployment "web" rollout to finish: 0 out of 10 new replicas have been updated...');
    expect(dep(sim).status).toMatchObject({ replicas: 10, availableReplicas: 10, observedGeneration: 3 });
    expect(dep(sim).status.updatedReplicas).toBeUndefined();

    sim.mergePatch('deployments', NS, 'web', { spec: { replicas: 15 } });
    expect(await sim.runUntil(() => sim.podsOf(NS, v1.metadata.name).length === 15 && Number(dep(sim).status.availableReplicas) === 15)).toBe(true);
    expect(rsByImage(sim, 'nginx:1')!.spec.replicas).toBe(15);
    expect(sim.replicaSetsOf(NS, 'web')).toHaveLength(1);

    sim.mergePatch('deployments', NS, 'web', { spec: { paused: false } });
    await sim.advance(20);
    expect(cond(dep(sim), 'Progressing')?.reason).toMatch(/DeploymentResumed|NewReplicaSetCreated/);
    expect(await sim.runUntil(() => settled(sim, 15, 'nginx:2'))).toBe(true);
    expect(rsByImage(sim, 'nginx:2')!.spec.replicas).toBe(15);
  });

  it('progress deadline exceeded when new pods never become ready', async () => {
    const sim = await start(
      { replicas: 6, progressDeadlineSeconds: 30 },
      { readyDelayMs: (p) => (p.spec.containers[0].image === 'nginx:2' ? undefined : 1000) },
    );
    const seen = watchPods(sim);
    setImage(sim, 'nginx:2');
    // The last progress report before the deadline hit (its lastUpdateTime has second precision, as metav1.Time).
    let lastProgress: KObject | undefined;
    sim.onWrite((kind, _t, obj) => {
      const c = kind === 'deployments' ? cond(obj, 'Progressing') : undefined;
      if (c && c.reason !== 'ProgressDeadlineExceeded') lastProgress = c;
    });
    expect(await sim.runUntil(() => cond(dep(sim), 'Progressing')?.reason === 'ProgressDeadlineExceeded', 120_000)).toBe(true);
    expect(lastProgress?.reason).toBe('ReplicaSetUpdated');
    const sinceProgress = sim.now - Date.parse(lastProgress!.lastUpdateTime);
    expect(sinceProgress).toBeGreaterThan(30_000);
    expect(sinceProgress).toBeLessThan(32_000); // requeued for the deadline (+1 s), not left to a resync
    const v2 = rsByImage(sim, 'nginx:2')!;
    expect(cond(dep(sim), 'Progressing')).toMatchObject({ status: 'False', message: `ReplicaSet "${v2.metadata.name}" has timed out progressing.` });
    expect(rolloutStatus(dep(sim)).error).toBe('deployment "web" exceeded its progress deadline');
    // The broken rollout stays within maxUnavailable (25% of 6 -> 1).
    expect(seen.minAvailable).toBeGreaterThanOrEqual(5);
    expect(cond(dep(sim), 'Available')).toMatchObject({ status: 'True' });
  });

  it('revisionHistoryLimit: old empty ReplicaSets beyond the limit are deleted', async () => {
    const sim = await start({ replicas: 3, revisionHistoryLimit: 1 });
    for (const image of ['nginx:2', 'nginx:3', 'nginx:4']) {
      setImage(sim, image);
      expect(await sim.runUntil(() => settled(sim, 3, image))).toBe(true);
    }
    await sim.advance(5000);
    const rss = sim.replicaSetsOf(NS, 'web');
    expect(rss.map((r) => r.spec.template.spec.containers[0].image).sort()).toEqual(['nginx:3', 'nginx:4']);
    expect(rsByImage(sim, 'nginx:4')!.metadata.annotations['deployment.kubernetes.io/revision']).toBe('4');
  });

  it('minReadySeconds: pods count as available only after being ready that long', async () => {
    const sim = new SimCluster();
    sim.create('deployments', deployment('web', { replicas: 3, minReadySeconds: 5 }));
    let firstReady = 0;
    let firstAvailable = 0;
    sim.onWrite((kind, _t, obj) => {
      if (kind !== 'replicasets') return;
      if (!firstReady && obj.status?.readyReplicas === 3) firstReady = sim.now;
      if (!firstAvailable && obj.status?.availableReplicas === 3) firstAvailable = sim.now;
    });
    expect(await sim.runUntil(() => settled(sim, 3, 'nginx:1'))).toBe(true);
    expect(firstAvailable - firstReady).toBeGreaterThanOrEqual(5000);
    expect(firstAvailable - firstReady).toBeLessThan(7000); // woken by the delayed requeue, not by chance
    expect(rsByImage(sim, 'nginx:1')!.spec.minReadySeconds).toBe(5);
  });

  it('pod creation failures surface as ReplicaFailure on the ReplicaSet and the Deployment', async () => {
    let quota = 2;
    const sim = new SimCluster({
      createPodError: () => (quota-- > 0 ? undefined : forbiddenError('', 'pods', 'web-', 'exceeded quota: compute-resources, requested: pods=1, used: pods=2, limited: pods=2')),
    });
    sim.create('deployments', deployment('web', { replicas: 3 }));
    await sim.advance(10_000);
    const rs = rsByImage(sim, 'nginx:1')!;
    const message = 'pods "web-" is forbidden: exceeded quota: compute-resources, requested: pods=1, used: pods=2, limited: pods=2';
    expect(cond(rs, 'ReplicaFailure')).toMatchObject({ status: 'True', reason: 'FailedCreate', message });
    expect(cond(dep(sim), 'ReplicaFailure')).toMatchObject({ status: 'True', reason: 'FailedCreate', message });
    expect(sim.events.some((e) => e.reason === 'FailedCreate' && e.message === `Error creating: ${message}`)).toBe(true);
    expect(livePods(sim)).toHaveLength(2);
    quota = 1;
    expect(await sim.runUntil(() => settled(sim, 3, 'nginx:1'), 60_000)).toBe(true);
    expect(cond(rs, 'ReplicaFailure')).toBeDefined();
    expect(cond(rsByImage(sim, 'nginx:1')!, 'ReplicaFailure')).toBeUndefined();
    expect(cond(dep(sim), 'ReplicaFailure')).toBeUndefined();
  });
});

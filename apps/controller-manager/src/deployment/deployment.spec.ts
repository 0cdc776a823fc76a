import { deployment, T0, template } from '../testing/fixtures';
import { computeHash } from '../util/hash';
import { timeString, type KObject } from '../util/k8s';
import { planCleanup, planScale, reconcileDeployment, replicaSetCreateFailure, type DeploymentAction } from './reconcile';
import {
  equalIgnoreHash,
  getProportion,
  lastRevision,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  scaledValueFromIntOrPercent,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
} from './util';

function rsUpdates(actions: DeploymentAction[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of actions) if (a.type === 'updateReplicaSet') out[a.replicaSet.metadata.name] = a.replicaSet.spec.replicas;
  return out;
}

/** A ReplicaSet of deployment "foo" (kube's test helper `rs`). */
function rs(name: string, replicas: number, created: number, o: { available?: number; tpl?: KObject; revision?: number } = {}): KObject {
  const r: KObject = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: timeString(created), generation: 1, resourceVersion: '7', annotations: {} },
    spec: { replicas, selector: { matchLabels: { app: 'foo' } }, template: o.tpl ?? template('nginx:1', { app: 'foo' }) },
    status: { replicas, availableReplicas: o.available ?? replicas, observedGeneration: 1 },
  };
  if (o.revision !== undefined) r.metadata.annotations['deployment.kubernetes.io/revision'] = String(o.revision);
  return r;
}

/** kube's newDeployment(name, replicas, nil, maxSurge, maxUnavailable, ...): both fenceposts default to 0. */
function foo(replicas: number, surge = 0, unavailable = 0): KObject {
  const d = deployment('foo', { replicas, maxSurge: surge, maxUnavailable: unavailable });
  d.metadata.uid = 'uid-foo';
  d.metadata.generation = 1;
  return d;
}

describe('fenceposts', () => {
  it('rounds maxSurge up and maxUnavailable down', () => {
    expect(scaledValueFromIntOrPercent('25%', 30, true)).toBe(8);
    expect(scaledValueFromIntOrPercent('25%', 30, false)).toBe(7);
    expect(scaledValueFromIntOrPercent(3, 30, false)).toBe(3);
    expect(() => scaledValueFromIntOrPercent('25', 30, true)).toThrow('invalid type: string is not a percentage');
    expect(resolveFenceposts('25%', '25%', 30)).toEqual({ surge: 8, unavailable: 7 });
  });

  it('both resolving to zero makes maxUnavailable 1', () => {
    expect(resolveFenceposts('1%', '1%', 2)).toEqual({ surge: 1, unavailable: 0 });
    expect(resolveFenceposts(0, '1%', 2)).toEqual({ surge: 0, unavailable: 1 });
    expect(resolveFenceposts(0, 0, 10)).toEqual({ surge: 0, unavailable: 1 });
  });

  it('MaxUnavailable is capped at replicas and 0 for Recreate', () => {
    expect(maxUnavailable(deployment('d', { replicas: 2, maxUnavailable: 5 }))).toBe(2);
    expect(maxUnavailable(deployment('d', { replicas: 10, strategy: 'Recreate' }))).toBe(0);
    expect(maxSurge(deployment('d', { replicas: 10, strategy: 'Recreate' }))).toBe(0);
  });
});

describe('revisions', () => {
  it('SetNewReplicaSetAnnotations raises the revision and keeps the history', () => {
    const d = deployment('d', { replicas: 3 });
    d.metadata.annotations = { team: 'a', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'deployment.kubernetes.io/revision': '9' };
    const r: KObject = { metadata: { annotations: { 'deployment.kubernetes.io/revision': '1' } } };
    expect(setNewReplicaSetAnnotations(d, r, '3', true)).toBe(true);
    expect(r.metadata.annotations).toEqual({ team: 'a', 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' });
    setNewReplicaSetAnnotations(d, r, '5', true);
    expect(r.metadata.annotations['deployment.kubernetes.io/revision-history']).toBe('1,3');
    expect(setNewReplicaSetAnnotations(d, r, '4', true)).toBe(false);
    const fresh: KObject = { metadata: {} };
    setNewReplicaSetAnnotations(d, fresh, '1', false);
    expect(fresh.metadata.annotations).toEqual({
      team: 'a',
      'deployment.kubernetes.io/revision': '1',
      'deployment.kubernetes.io/desired-replicas': '3',
      'deployment.kubernetes.io/max-replicas': '4',
    });
    expect(lastRevision([rs('a', 0, T0, { revision: 4 }), rs('b', 0, T0, { revision: 7 }), rs('c', 0, T0, { revision: 2 })])).toBe(4);
  });

  it('EqualIgnoreHash ignores only the pod-template-hash label', () => {
    const t = template('nginx:1', { app: 'foo' });
    const withHash = template('nginx:1', { app: 'foo', 'pod-template-hash': 'abc' });
    expect(equalIgnoreHash(t, withHash)).toBe(true);
    expect(equalIgnoreHash(t, template('nginx:2', { app: 'foo' }))).toBe(false);
  });
});

describe('scale (proportional scaling, kube TestScale cases)', () => {
  const newT = T0 + 2 * 3600_000;
  const oldT = T0 + 3600_000;
  const olderT = T0;
  const cases: { name: string; d: KObject; old: KObject; newRS?: KObject; oldRSs: KObject[]; want: Record<string, number> }[] = [
    { name: 'normal scaling event: 10 -> 12', d: foo(12), old: foo(10), newRS: rs('foo-v1', 10, newT), oldRSs: [], want: { 'foo-v1': 12 } },
    { name: 'normal scaling event: 10 -> 5', d: foo(5), old: foo(10), newRS: rs('foo-v1', 10, newT), oldRSs: [], want: { 'foo-v1': 5 } },
    { name: 'proportional scaling: 5 -> 10', d: foo(10), old: foo(5), newRS: rs('foo-v2', 2, newT), oldRSs: [rs('foo-v1', 3, oldT)], want: { 'foo-v2': 4, 'foo-v1': 6 } },
    { name: 'proportional scaling: 5 -> 3', d: foo(3), old: foo(5), newRS: rs('foo-v2', 2, newT), oldRSs: [rs('foo-v1', 3, oldT)], want: { 'foo-v2': 1, 'foo-v1': 2 } },
    { name: 'proportional scaling: 9 -> 4', d: foo(4), old: foo(9), newRS: rs('foo-v2', 8, newT), oldRSs: [rs('foo-v1', 1, oldT)], want: { 'foo-v2': 4, 'foo-v1': 0 } },
    {
      name: 'proportional scaling: 7 -> 10',
      d: foo(10),
      old: foo(7),
      newRS: rs('foo-v3', 2, newT),
      oldRSs: [rs('foo-v2', 3, oldT), rs('foo-v1', 2, olderT)],
      want: { 'foo-v3': 3, 'foo-v2': 4, 'foo-v1': 3 },
    },
    {
      name: 'proportional scaling: 13 -> 8',
      d: foo(8),
      old: foo(13),
      newRS: rs('foo-v3', 2, newT),
      oldRSs: [rs('foo-v2', 8, oldT), rs('foo-v1', 3, olderT)],
      want: { 'foo-v3': 1, 'foo-v2': 5, 'foo-v1': 2 },
    },
    {
      name: 'leftover distribution: 3 -> 4 (scales up the new ReplicaSet)',
      d: foo(4),
      old: foo(3),
      newRS: rs('foo-v3', 1, newT),
      oldRSs: [rs('foo-v2', 1, oldT), rs('foo-v1', 1, olderT)],
      want: { 'foo-v3': 2, 'foo-v2': 1, 'foo-v1': 1 },
    },
    {
      name: 'leftover distribution: 3 -> 2 (scales down the oldest)',
      d: foo(2),
      old: foo(3),
      newRS: rs('foo-v3', 1, newT),
      oldRSs: [rs('foo-v2', 1, oldT), rs('foo-v1', 1, olderT)],
      want: { 'foo-v3': 1, 'foo-v2': 1, 'foo-v1': 0 },
    },
    {
      name: 'proportional scaling (no new rs): 4 -> 5',
      d: foo(5),
      old: foo(4),
      oldRSs: [rs('foo-v2', 2, oldT), rs('foo-v1', 2, olderT)],
      want: { 'foo-v2': 3, 'foo-v1': 2 },
    },
    {
      name: 'proportional scaling: 6 -> 0',
      d: foo(0),
      old: foo(6),
      newRS: rs('foo-v3', 3, newT),
      oldRSs: [rs('foo-v2', 2, oldT), rs('foo-v1', 1, olderT)],
      want: { 'foo-v3': 0, 'foo-v2': 0, 'foo-v1': 0 },
    },
    {
      name: 'proportional scaling: 0 -> 6',
      d: foo(6),
      old: foo(6),
      newRS: rs('foo-v3', 0, newT),
      oldRSs: [rs('foo-v2', 0, oldT), rs('foo-v1', 0, olderT)],
      want: { 'foo-v3': 6, 'foo-v2': 0, 'foo-v1': 0 },
    },
    { name: 'deployment with surge pods', d: foo(20, 2), old: foo(10, 2), newRS: rs('foo-v2', 6, newT), oldRSs: [rs('foo-v1', 6, oldT)], want: { 'foo-v2': 11, 'foo-v1': 11 } },
    { name: 'change both surge and size', d: foo(50, 6), old: foo(10, 3), newRS: rs('foo-v2', 5, newT), oldRSs: [rs('foo-v1', 8, oldT)], want: { 'foo-v2': 22, 'foo-v1': 34 } },
    {
      name: 'saturated but broken new replica set does not affect old pods',
      d: foo(2, 1, 1),
      old: foo(2, 1, 1),
      newRS: rs('foo-v2', 2, newT, { available: 0 }),
      oldRSs: [rs('foo-v1', 1, oldT)],
      want: { 'foo-v2': 2, 'foo-v1': 1 },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      for (const r of [c.newRS, ...c.oldRSs]) if (r) setReplicasAnnotations(r, c.old.spec.replicas, c.old.spec.replicas + maxSurge(c.old));
      const actions = planScale(c.d, c.newRS, c.oldRSs, T0);
      const sizes: Record<string, number> = {};
      for (const r of [c.newRS, ...c.oldRSs]) if (r) sizes[r.metadata.name] = r.spec.replicas;
      Object.assign(sizes, rsUpdates(actions));
      expect(sizes).toEqual(c.want);
    });
  }

  it('GetProportion never exceeds what is left to distribute', () => {
    const d = foo(10);
    const r = rs('foo-v1', 5, T0);
    setReplicasAnnotations(r, 5, 5);
    expect(getProportion(r, d, 3, 0)).toBe(3);
    expect(getProportion(r, d, 5, 5)).toBe(0);
  });

  it('records ScalingReplicaSet events with 1.31+ wording', () => {
    const r = rs('foo-v1', 10, newT);
    setReplicasAnnotations(r, 10, 10);
    const [a] = planScale(foo(12), r, [], T0);
    expect(a).toMatchObject({ type: 'updateReplicaSet', event: { type: 'Normal', reason: 'ScalingReplicaSet', message: 'Scaled up replica set foo-v1 from 10 to 12' } });
    expect(a.type === 'updateReplicaSet' && a.replicaSet.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/desired-replicas': '12', 'deployment.kubernetes.io/max-replicas': '12' });
    const [b] = planScale(foo(5), r, [], T0);
    expect(b).toMatchObject({ event: { message: 'Scaled down replica set foo-v1 from 10 to 5' } });
  });
});

describe('cleanupDeployment (revisionHistoryLimit)', () => {
  function old(name: string, spec: number, status: number, o: { deleting?: boolean; rev?: number } = {}): KObject {
    const r = rs(name, spec, T0, { revision: o.rev });
    r.status.replicas = status;
    if (o.deleting) r.metadata.deletionTimestamp = timeString(T0);
    return r;
  }
  const deleted = (acts: DeploymentAction[]) => acts.filter((a) => a.type === 'deleteReplicaSet').map((a) => (a as any).replicaSet.metadata.name);
  const withLimit = (n: number) => {
    const d = foo(1);
    d.spec.revisionHistoryLimit = n;
    return d;
  };

  it('keeps the newest N old ReplicaSets that are empty', () => {
    expect(deleted(planCleanup(withLimit(1), [old('foo-1', 0, 0, { rev: 1 }), old('foo-2', 0, 0, { rev: 2 }), old('foo-3', 0, 0, { rev: 3 })]))).toEqual(['foo-1', 'foo-2']);
    expect(deleted(planCleanup(withLimit(0), [old('foo-1', 0, 0), old('foo-2', 0, 1), old('foo-3', 1, 0), old('foo-4', 1, 1)]))).toEqual(['foo-1']);
    expect(deleted(planCleanup(withLimit(0), [old('foo-1', 0, 0), old('foo-2', 0, 0)]))).toEqual(['foo-1', 'foo-2']);
    expect(deleted(planCleanup(withLimit(0), [old('foo-1', 1, 1), old('foo-2', 1, 1)]))).toEqual([]);
    expect(deleted(planCleanup(withLimit(0), [old('foo-1', 0, 0, { deleting: true })]))).toEqual([]);
    expect(deleted(planCleanup(withLimit(2147483647), [old('foo-1', 0, 0), old('foo-2', 0, 0), old('foo-3', 0, 0)]))).toEqual([]);
  });
});

describe('reconcileDeployment', () => {
  function web(replicas = 3): KObject {
    const d = deployment('web', { replicas });
    d.metadata.uid = 'uid-web';
    d.metadata.generation = 1;
    d.metadata.resourceVersion = '5';
    return d;
  }

  it('creates the first ReplicaSet: name, labels, selector, annotations, event, conditions', () => {
    const d = web(3);
    const plan = reconcileDeployment(d, [], { now: T0 });
    const hash = computeHash(d.spec.template);
    const create = plan.actions[0];
    expect(create.type).toBe('createReplicaSet');
    if (create.type !== 'createReplicaSet') return;
    expect(create.replicaSet).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `web-${hash}`,
        namespace: 'default',
        labels: { app: 'web', 'pod-template-hash': hash },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true, blockOwnerDeletion: true }],
        annotations: { 'deployment.kubernetes.io/revision': '1', 'deployment.kubernetes.io/desired-replicas': '3', 'deployment.kubernetes.io/max-replicas': '4' },
      },
      spec: {
        replicas: 3,
        minReadySeconds: 0,
        selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
        template: { metadata: { labels: { app: 'web', 'pod-template-hash': hash } }, spec: d.spec.template.spec },
      },
    });
    expect(create.event).toEqual({ type: 'Normal', reason: 'ScalingReplicaSet', message: `Scaled up replica set web-${hash} from 0 to 3` });
    const status = plan.actions.find((a) => a.type === 'updateDeploymentStatus');
    expect(status?.type === 'updateDeploymentStatus' && status.deployment.status).toEqual({
      observedGeneration: 1,
      unavailableReplicas: 3,
      conditions: [
        { type: 'Progressing', status: 'True', lastUpdateTime: timeString(T0), lastTransitionTime: timeString(T0), reason: 'NewReplicaSetCreated', message: `Created new replica set "web-${hash}"` },
        { type: 'Available', status: 'False', lastUpdateTime: timeString(T0), lastTransitionTime: timeString(T0), reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
      ],
    });
    expect(plan.actions.at(-1)).toEqual({ type: 'patchDeployment', patch: { metadata: { annotations: { 'deployment.kubernetes.io/revision': '1' } } } });
  });

  it('a hash collision raises collisionCount and retries with a new name', () => {
    const d = web(3);
    const hash = computeHash(d.spec.template);
    const squatter = rs(`web-${hash}`, 1, T0, { tpl: template('other', { app: 'web' }) });
    squatter.metadata.labels = { app: 'other' };
    const plan = reconcileDeployment(d, [squatter], { now: T0 });
    expect(plan.error).toContain('hash collision');
    expect(plan.actions.map((a) => a.type)).toEqual(['updateDeploymentStatus']);
    const bumped = (plan.actions[0] as any).deployment;
    expect(bumped.status.collisionCount).toBe(1);
    const again = reconcileDeployment(bumped, [squatter], { now: T0 });
    expect((again.actions[0] as any).replicaSet.metadata.name).toBe(`web-${computeHash(d.spec.template, 1)}`);
  });

  it('a template equal to an old ReplicaSet re-uses it with the next revision (rollback)', () => {
    const d = web(3);
    const v1 = rs('web-v1', 0, T0, { revision: 1, tpl: template('nginx:1', { app: 'web', 'pod-template-hash': 'v1' }) });
    const v2 = rs('web-v2', 3, T0 + 1000, { revision: 2, tpl: template('nginx:2', { app: 'web', 'pod-template-hash': 'v2' }) });
    for (const r of [v1, v2]) {
      r.metadata.labels = { app: 'web' };
      r.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true, blockOwnerDeletion: true }];
      setReplicasAnnotations(r, 3, 4);
    }
    d.metadata.annotations = { 'deployment.kubernetes.io/revision': '2' };
    const plan = reconcileDeployment(d, [v1, v2], { now: T0 + 5000 });
    expect(plan.actions.some((a) => a.type === 'createReplicaSet')).toBe(false);
    const upd = plan.actions[0];
    expect(upd.type === 'updateReplicaSet' && upd.replicaSet.metadata).toMatchObject({
      name: 'web-v1',
      annotations: { 'deployment.kubernetes.io/revision': '3', 'deployment.kubernetes.io/revision-history': '1' },
    });
    // The annotation update comes first; the scale-up follows in the same sync.
    const scale = plan.actions.find((a) => a.type === 'updateReplicaSet' && a.event);
    expect(scale?.type === 'updateReplicaSet' && scale.event?.message).toBe('Scaled up replica set web-v1 from 0 to 1');
  });

  it('ReplicaSetCreateError on a failed create', () => {
    const f = replicaSetCreateFailure(web(), 'web-abc', new Error('quota exceeded'), T0);
    expect(f.event).toEqual({ type: 'Warning', reason: 'ReplicaSetCreateError', message: 'Failed to create new replica set "web-abc": quota exceeded' });
    expect(f.deployment?.status.conditions).toEqual([
      { type: 'Progressing', status: 'False', lastUpdateTime: timeString(T0), lastTransitionTime: timeString(T0), reason: 'ReplicaSetCreateError', message: 'Failed to create new replica set "web-abc": quota exceeded' },
    ]);
  });

  it('an empty selector selects nothing and warns', () => {
    const d = web();
    d.spec.selector = {};
    d.metadata.generation = 2;
    const plan = reconcileDeployment(d, [], { now: T0 });
    expect(plan.events).toEqual([{ type: 'Warning', reason: 'SelectingAll', message: 'This deployment is selecting all pods. A non-empty selector is required.' }]);
    expect(plan.actions.map((a) => a.type)).toEqual(['updateDeploymentStatus']);
  });

  it('adopts orphan ReplicaSets it selects and releases ones it no longer selects', () => {
    const d = web();
    const orphan = rs('web-orphan', 0, T0, { tpl: template('nginx:0', { app: 'web' }) });
    orphan.metadata.labels = { app: 'web' };
    const stray = rs('web-stray', 0, T0);
    stray.metadata.labels = { app: 'api' };
    stray.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true }];
    const plan = reconcileDeployment(d, [orphan, stray], { now: T0 });
    expect(plan.actions.slice(0, 2)).toEqual([
      { type: 'adoptReplicaSet', replicaSet: orphan, patch: { metadata: { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'uid-web', controller: true, blockOwnerDeletion: true }], uid: 'uid-web-orphan' } } },
      { type: 'releaseReplicaSet', replicaSet: stray, patch: { metadata: { ownerReferences: [{ $patch: 'delete', uid: 'uid-web' }], uid: 'uid-web-stray' } } },
    ]);
  });
});

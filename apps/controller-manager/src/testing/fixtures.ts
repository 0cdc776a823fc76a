// Object builders for tests.
import { timeString, type KObject } from '../util/k8s';

export const T0 = Date.UTC(2025, 0, 1, 0, 0, 0);

export interface PodOpts {
  ns?: string;
  uid?: string;
  labels?: Record<string, string>;
  owner?: KObject;
  ownerKind?: string;
  node?: string;
  phase?: string;
  ready?: boolean;
  readySince?: number;
  created?: number;
  restarts?: number;
  deleting?: boolean;
  annotations?: Record<string, string>;
}

export function pod(name: string, o: PodOpts = {}): KObject {
  const p: KObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.ns ?? 'default',
      uid: o.uid ?? `uid-${name}`,
      labels: o.labels ?? { app: 'web' },
      creationTimestamp: timeString(o.created ?? T0),
      resourceVersion: '1',
    },
    spec: { containers: [{ name: 'c', image: 'nginx' }] },
    status: { phase: o.phase ?? 'Running' },
  };
  if (o.annotations) p.metadata.annotations = o.annotations;
  if (o.node !== undefined) p.spec.nodeName = o.node;
  else if ((o.phase ?? 'Running') === 'Running') p.spec.nodeName = 'node-1';
  if (o.owner) {
    p.metadata.ownerReferences = [
      { apiVersion: 'apps/v1', kind: o.ownerKind ?? 'ReplicaSet', name: o.owner.metadata.name, uid: o.owner.metadata.uid, controller: true, blockOwnerDeletion: true },
    ];
  }
  if (o.ready !== undefined) {
    p.status.conditions = [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: timeString(o.readySince ?? o.created ?? T0) }];
  }
  if (o.restarts !== undefined) p.status.containerStatuses = [{ name: 'c', restartCount: o.restarts, ready: !!o.ready }];
  if (o.deleting) p.metadata.deletionTimestamp = timeString(T0);
  return p;
}

export function template(image = 'nginx:1', labels: Record<string, string> = { app: 'web' }): KObject {
  return { metadata: { labels: { ...labels } }, spec: { containers: [{ name: 'web', image }] } };
}

export function replicaSet(name: string, replicas: number, o: { ns?: string; uid?: string; labels?: Record<string, string>; minReadySeconds?: number; generation?: number; owner?: KObject } = {}): KObject {
  const labels = o.labels ?? { app: 'web' };
  const rs: KObject = {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: o.ns ?? 'default', uid: o.uid ?? `uid-${name}`, generation: o.generation ?? 1, resourceVersion: '1', creationTimestamp: timeString(T0) },
    spec: {
      replicas,
      selector: { matchLabels: { ...labels } },
      template: { metadata: { labels: { ...labels }, annotations: { note: 'x' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } },
    },
    status: { replicas: 0 },
  };
  if (o.minReadySeconds) rs.spec.minReadySeconds = o.minReadySeconds;
  if (o.owner) {
    rs.metadata.ownerReferences = [{ apiVersion: 'apps/v1', kind: 'Deployment', name: o.owner.metadata.name, uid: o.owner.metadata.uid, controller: true, blockOwnerDeletion: true }];
  }
  return rs;
}

export interface DeploymentOpts {
  ns?: string;
  replicas?: number;
  image?: string;
  strategy?: 'RollingUpdate' | 'Recreate';
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  progressDeadlineSeconds?: number;
  revisionHistoryLimit?: number;
  minReadySeconds?: number;
  paused?: boolean;
}

export function deployment(name: string, o: DeploymentOpts = {}): KObject {
  const strategy: KObject = { type: o.strategy ?? 'RollingUpdate' };
  if (strategy.type === 'RollingUpdate') strategy.rollingUpdate = { maxSurge: o.maxSurge ?? '25%', maxUnavailable: o.maxUnavailable ?? '25%' };
  const d: KObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: o.ns ?? 'default' },
    spec: {
      replicas: o.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: template(o.image ?? 'nginx:1', { app: name }),
      strategy,
      revisionHistoryLimit: o.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
    },
  };
  if (o.minReadySeconds) d.spec.minReadySeconds = o.minReadySeconds;
  if (o.paused) d.spec.paused = true;
  return d;
}

/** kubectl rollout status's verdict for a Deployment (DeploymentStatusViewer). */
export function rolloutStatus(d: KObject): { done: boolean; message: string; error?: string } {
  const s = d.status ?? {};
  const name = d.metadata.name;
  if (Number(d.metadata.generation ?? 0) > Number(s.observedGeneration ?? 0)) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
  const cond = (s.conditions ?? []).find((c: KObject) => c.type === 'Progressing');
  if (cond && cond.reason === 'ProgressDeadlineExceeded') return { done: false, message: '', error: `deployment "${name}" exceeded its progress deadline` };
  const replicas = Number(d.spec.replicas ?? 1);
  const updated = Number(s.updatedReplicas ?? 0);
  const total = Number(s.replicas ?? 0);
  const available = Number(s.availableReplicas ?? 0);
  if (updated < replicas) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...` };
  if (total > updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${total - updated} old replicas are pending termination...` };
  if (available < updated) return { done: false, message: `Waiting for deployment "${name}" rollout to finish: ${available} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

// Carrying out a DeploymentPlan against the API, in order, stopping at the
// first failure (kube's sync returns the error and the key is retried with
// back-off). Events tied to an action are recorded when it succeeded.
import { isAlreadyExists, isNotFound } from '@kubets/api-machinery';
import { clone, nameOf, namespaceOf, type KObject } from '../util/k8s';
import { replicaSetCreateFailure, type DeploymentPlan, type PlannedEvent } from './reconcile';

/** What the executor needs from the API (the typed client of libs/client, or a fake). */
export interface DeploymentApi {
  createReplicaSet(namespace: string, rs: KObject): Promise<KObject>;
  /** PUT with the object's resourceVersion (409 Conflict when stale). */
  updateReplicaSet(namespace: string, rs: KObject): Promise<KObject>;
  deleteReplicaSet(namespace: string, name: string): Promise<void>;
  /** Strategic merge patch (adoption/release); returning the patched object lets later updates use its resourceVersion. */
  patchReplicaSet(namespace: string, name: string, patch: KObject): Promise<KObject | void>;
  /** PUT deployments/<name>/status. */
  updateDeploymentStatus(namespace: string, deployment: KObject): Promise<KObject>;
  /** JSON merge patch of the Deployment (metadata only). */
  patchDeployment(namespace: string, name: string, patch: KObject): Promise<void>;
}

export type DeploymentEventSink = (deployment: KObject, event: PlannedEvent) => void;

export interface DeploymentExecution {
  /** The first failure; retry the key with back-off. */
  error?: unknown;
  /** How many actions were carried out. */
  done: number;
  /** Sync again after this long (from the plan), when everything succeeded. */
  requeueAfterMs?: number;
  /** Sync again through the rate limiter (from the plan), when everything succeeded. */
  requeueRateLimited?: boolean;
}

/**
 * Execute a plan from reconcileDeployment. A ReplicaSet updated or created
 * earlier in the same plan is written again with the resourceVersion (and
 * uid) the server returned, since later actions were planned on top of it.
 * A failed create of the new ReplicaSet records kube's ReplicaSetCreateError
 * condition and event; AlreadyExists only retries (the next sync, with the
 * ReplicaSet in the cache, decides between "it is ours" and a hash collision).
 */
export async function executeDeploymentPlan(
  deployment: KObject,
  plan: DeploymentPlan,
  api: DeploymentApi,
  events: DeploymentEventSink,
  now: () => number = Date.now,
): Promise<DeploymentExecution> {
  const ns = namespaceOf(deployment);
  const written = new Map<string, { resourceVersion?: string; uid?: string }>();
  const remember = (rs: KObject) => written.set(nameOf(rs), { resourceVersion: rs?.metadata?.resourceVersion, uid: rs?.metadata?.uid });
  for (const e of plan.events) events(deployment, e);
  let done = 0;
  for (const a of plan.actions) {
    try {
      switch (a.type) {
        case 'adoptReplicaSet':
        case 'releaseReplicaSet':
          try {
            const patched = await api.patchReplicaSet(ns, nameOf(a.replicaSet), a.patch);
            if (patched) remember(patched);
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
          break;
        case 'createReplicaSet': {
          try {
            remember(await api.createReplicaSet(ns, a.replicaSet));
          } catch (e) {
            if (!isAlreadyExists(e)) {
              const f = replicaSetCreateFailure(deployment, nameOf(a.replicaSet), e, now());
              if (f.deployment) {
                try {
                  await api.updateDeploymentStatus(ns, f.deployment);
                } catch {
                  // The bigger issue is the create failure.
                }
              }
              events(deployment, f.event);
            }
            throw e;
          }
          if (a.event) events(deployment, a.event);
          break;
        }
        case 'updateReplicaSet': {
          const rs = clone(a.replicaSet);
          const prior = written.get(nameOf(rs));
          if (prior) {
            if (prior.resourceVersion !== undefined) rs.metadata.resourceVersion = prior.resourceVersion;
            if (prior.uid !== undefined) rs.metadata.uid = prior.uid;
          }
          remember(await api.updateReplicaSet(ns, rs));
          if (a.event) events(deployment, a.event);
          break;
        }
        case 'deleteReplicaSet':
          try {
            await api.deleteReplicaSet(ns, nameOf(a.replicaSet));
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
          break;
        case 'updateDeploymentStatus':
          await api.updateDeploymentStatus(ns, a.deployment);
          break;
        case 'patchDeployment':
          await api.patchDeployment(ns, nameOf(deployment), a.patch);
          break;
      }
    } catch (e) {
      return { error: e, done };
    }
    done++;
  }
  if (plan.error) return { error: new Error(plan.error), done };
  return { done, requeueAfterMs: plan.requeueAfterMs, requeueRateLimited: plan.requeueRateLimited };
}

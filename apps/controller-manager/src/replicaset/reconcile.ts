// The ReplicaSet controller's sync (pkg/controller/replicaset/replica_set.go
// syncReplicaSet + manageReplicas, replica_set_utils.go calculateStatus) as a
// pure function: objects in, decisions out. executeReplicaSetPlan (execute.ts)
// carries the decisions out against the API.
import { selectorFromLabelSelector, type Selector } from '@kubets/api-machinery';
import { claimBySelector, type ObjectPatch } from '../util/controller-ref';
import type { UIDTrackingControllerExpectations } from '../util/expectations';
import {
  clone,
  controllerRefOf,
  errorMessage,
  int32Field,
  isBeingDeleted,
  isPodActive,
  isPodAvailable,
  isPodReady,
  keyOf,
  labelsOf,
  nameOf,
  namespaceOf,
  newControllerRef,
  podKey,
  semanticEqual,
  timeString,
  type KObject,
  type OwnerReference,
} from '../util/k8s';
import { getPodsToDelete } from './ranking';

/** --concurrent-... burstReplicas: the most pods one sync creates or deletes. */
export const BURST_REPLICAS = 500;
/** controller.SlowStartInitialBatchSize. */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;

export const REPLICA_SET_KIND = { apiVersion: 'apps/v1', kind: 'ReplicaSet' } as const;

/** Event and condition reasons (controller_utils.go). */
export const FAILED_CREATE_POD_REASON = 'FailedCreate';
export const SUCCESSFUL_CREATE_POD_REASON = 'SuccessfulCreate';
export const FAILED_DELETE_POD_REASON = 'FailedDelete';
export const SUCCESSFUL_DELETE_POD_REASON = 'SuccessfulDelete';
export const REPLICA_FAILURE_CONDITION = 'ReplicaFailure';

export interface ReplicaSetReconcileOptions {
  /** Now, in ms (pod availability, condition times, log-scale ranking). Default Date.now(). */
  now?: number;
  /** Default 500. */
  burstReplicas?: number;
  /**
   * Every ReplicaSet of the namespace (from the informer). Used to find the
   * ReplicaSets sharing this one's owner, whose pods rank deletions by
   * colocation (getIndirectlyRelatedPods). Default: just this one.
   */
  replicaSets?: readonly KObject[];
}

export interface PodCreation {
  /** How many pods to create (already recorded as expected adds). */
  count: number;
  /** The pod to POST (generateName `<rs-name>-`), one copy per create. */
  pod: KObject;
  /** Batch sizes of the slow start: 1, 2, 4, ... summing to count. */
  batches: number[];
}

export interface ReplicaSetPlan {
  /** `namespace/name`, the expectations and work-queue key. */
  key: string;
  /** False while expectations are unsatisfied: no creates or deletes this round. */
  needsSync: boolean;
  /** Set when the selector could not be parsed; nothing else is done (kube logs and drops the key). */
  invalidSelector?: string;
  /** Pods this ReplicaSet manages (owned and matching, plus those being adopted). */
  pods: KObject[];
  adopt: ObjectPatch[];
  release: ObjectPatch[];
  create?: PodCreation;
  /** Pods to delete (already recorded as expected deletions by pod key). */
  delete: KObject[];
  /** The status if every create/delete succeeds (observedGeneration included). */
  status: KObject;
  /** True when `status` differs from the ReplicaSet's current status. */
  statusChanged: boolean;
  /** Sync again after this long (minReadySeconds: ready pods turning available). */
  requeueAfterMs?: number;
}

export function replicasOf(rs: KObject): number {
  return int32Field(rs?.spec?.replicas, 1);
}

export function minReadySecondsOf(o: KObject): number {
  return int32Field(o?.spec?.minReadySeconds, 0);
}

/** getPodsPrefix: `<name>-`. */
export function podNamePrefix(controllerName: string): string {
  const prefix = `${controllerName}-`;
  return prefix.length <= 253 ? prefix : controllerName;
}

/**
 * controller.GetPodFromTemplate: labels, annotations and finalizers of the
 * template, generateName `<rs-name>-`, the controller reference, the spec.
 */
export function podFromTemplate(template: KObject | undefined, parent: KObject, controllerRef: OwnerReference): KObject {
  const meta: KObject = { generateName: podNamePrefix(nameOf(parent)) };
  const ns = namespaceOf(parent);
  if (ns) meta.namespace = ns;
  const tm = template?.metadata ?? {};
  if (tm.labels && Object.keys(tm.labels).length) meta.labels = { ...tm.labels };
  if (tm.annotations && Object.keys(tm.annotations).length) meta.annotations = { ...tm.annotations };
  if (Array.isArray(tm.finalizers) && tm.finalizers.length) meta.finalizers = [...tm.finalizers];
  meta.ownerReferences = [{ ...controllerRef }];
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta, spec: clone(template?.spec ?? {}) };
}

/** slowStartBatch's batch sizes: initial, doubling, capped by what remains. */
export function slowStartBatchSizes(count: number, initialBatchSize = SLOW_START_INITIAL_BATCH_SIZE): number[] {
  const out: number[] = [];
  let remaining = count;
  for (let size = Math.min(remaining, initialBatchSize); size > 0; size = Math.min(2 * size, remaining)) {
    out.push(size);
    remaining -= size;
  }
  return out;
}

function selectorOf(rs: KObject): Selector {
  return selectorFromLabelSelector(rs?.spec?.selector);
}

/** The pods of every ReplicaSet controlled by this one's owner (for colocation ranks). */
function indirectlyRelatedPods(rs: KObject, pods: readonly KObject[], replicaSets: readonly KObject[] | undefined): KObject[] {
  const owner = controllerRefOf(rs);
  const related = owner && replicaSets ? replicaSets.filter((r) => namespaceOf(r) === namespaceOf(rs) && controllerRefOf(r)?.uid === owner.uid) : [rs];
  if (!related.some((r) => r?.metadata?.uid === rs?.metadata?.uid)) related.push(rs);
  const seen = new Set<string>();
  const out: KObject[] = [];
  for (const r of related) {
    let sel: Selector;
    try {
      sel = selectorOf(r);
    } catch {
      continue;
    }
    for (const p of pods) {
      if (namespaceOf(p) !== namespaceOf(r) || !sel.matches(labelsOf(p))) continue;
      const id = String(p?.metadata?.uid ?? podKey(p));
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(p);
    }
  }
  return out;
}

function condition(status: KObject, type: string): KObject | undefined {
  return Array.isArray(status?.conditions) ? status.conditions.find((c: KObject) => c?.type === type) : undefined;
}

/**
 * calculateStatus + the observedGeneration of updateReplicaSetStatus:
 * replicas (pods claimed), fullyLabeledReplicas (pods carrying every template
 * label), readyReplicas, availableReplicas (ready for minReadySeconds), and a
 * ReplicaFailure condition while creates or deletes fail. Zero counts other
 * than replicas are left out, as Go's omitempty does.
 */
export function calculateReplicaSetStatus(rs: KObject, pods: readonly KObject[], manageError: unknown, now: number): KObject {
  const prev: KObject = rs?.status ?? {};
  const templateLabels: Record<string, string> = rs?.spec?.template?.metadata?.labels ?? {};
  const minReady = minReadySecondsOf(rs);
  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    const l = labelsOf(p);
    if (Object.entries(templateLabels).every(([k, v]) => l[k] === v)) fullyLabeled++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now)) available++;
    }
  }
  let conditions: KObject[] = Array.isArray(prev.conditions) ? prev.conditions.map((c: KObject) => ({ ...c })) : [];
  const failure = condition(prev, REPLICA_FAILURE_CONDITION);
  if (manageError !== undefined && manageError !== null && !failure) {
    const diff = pods.length - replicasOf(rs);
    const reason = diff < 0 ? FAILED_CREATE_POD_REASON : diff > 0 ? FAILED_DELETE_POD_REASON : '';
    conditions = conditions.filter((c) => c.type !== REPLICA_FAILURE_CONDITION);
    conditions.push({ type: REPLICA_FAILURE_CONDITION, status: 'True', lastTransitionTime: timeString(now), reason, message: errorMessage(manageError) });
  } else if ((manageError === undefined || manageError === null) && failure) {
    conditions = conditions.filter((c) => c.type !== REPLICA_FAILURE_CONDITION);
  }
  const status: KObject = { replicas: pods.length };
  if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  const gen = Number(rs?.metadata?.generation ?? 0);
  if (gen) status.observedGeneration = gen;
  if (conditions.length) status.conditions = conditions;
  // Keep fields kube does not compute (e.g. a newer server's) as they were.
  for (const [k, v] of Object.entries(prev)) {
    if (!(k in status) && !['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration', 'conditions'].includes(k)) status[k] = v;
  }
  return status;
}

/** updateReplicaSetStatus's short cut: nothing to write when counts, generation and conditions are unchanged. */
export function replicaSetStatusChanged(rs: KObject, status: KObject): boolean {
  const s: KObject = rs?.status ?? {};
  const n = (v: unknown) => Number(v ?? 0);
  return !(
    n(s.replicas) === n(status.replicas) &&
    n(s.fullyLabeledReplicas) === n(status.fullyLabeledReplicas) &&
    n(s.readyReplicas) === n(status.readyReplicas) &&
    n(s.availableReplicas) === n(status.availableReplicas) &&
    n(rs?.metadata?.generation) === n(s.observedGeneration) &&
    semanticEqual(s.conditions, status.conditions)
  );
}

/** The requeue after a status update: pods ready but not yet available for minReadySeconds. */
export function minReadyRequeueMs(rs: KObject, status: KObject): number | undefined {
  const minReady = minReadySecondsOf(rs);
  if (minReady > 0 && Number(status.readyReplicas ?? 0) === replicasOf(rs) && Number(status.availableReplicas ?? 0) !== replicasOf(rs)) {
    return minReady * 1000;
  }
  return undefined;
}

/**
 * One sync of a ReplicaSet.
 *
 * - `pods`: the pods of the ReplicaSet's namespace from the informer cache
 *   (all of them; inactive ones, i.e. Succeeded, Failed or being deleted,
 *   are ignored, and so are pods controlled by others).
 * - `expectations`: the controller's expectations; when they are satisfied
 *   and a create or delete is decided, the new expectations are recorded
 *   here (expect N adds, or the keys of the pods to delete), exactly as kube
 *   does before issuing the calls. While they are not satisfied the plan has
 *   no creates or deletes, so a lagging informer never causes overshoot.
 *
 * The returned plan must be carried out in order: adoptions/releases, then
 * creates (in slow-start batches) and deletes, then the status. If it is
 * abandoned, call `abandonReplicaSetPlan` so the expectations do not wait
 * for events that will never come.
 */
export function reconcileReplicaSet(
  rs: KObject,
  pods: readonly KObject[],
  expectations: UIDTrackingControllerExpectations,
  opts: ReplicaSetReconcileOptions = {},
): ReplicaSetPlan {
  const now = opts.now ?? Date.now();
  const burst = opts.burstReplicas ?? BURST_REPLICAS;
  const key = keyOf(rs);
  const needsSync = expectations.satisfiedExpectations(key);
  const plan: ReplicaSetPlan = { key, needsSync, pods: [], adopt: [], release: [], delete: [], status: rs?.status ?? {}, statusChanged: false };

  let selector: Selector;
  try {
    selector = selectorOf(rs);
  } catch (e) {
    plan.invalidSelector = `error converting pod selector to selector for rs ${key}: ${errorMessage(e)}`;
    return plan;
  }

  const ns = namespaceOf(rs);
  const active = pods.filter((p) => namespaceOf(p) === ns && isPodActive(p));
  const claim = claimBySelector(rs, newControllerRef(rs, REPLICA_SET_KIND.apiVersion, REPLICA_SET_KIND.kind), active, selector);
  plan.pods = claim.claimed;
  plan.adopt = claim.adopt;
  plan.release = claim.release;

  if (needsSync && !isBeingDeleted(rs)) {
    const replicas = replicasOf(rs);
    let diff = claim.claimed.length - replicas;
    if (diff < 0) {
      diff = Math.min(-diff, burst);
      expectations.expectCreations(key, diff);
      plan.create = {
        count: diff,
        pod: podFromTemplate(rs?.spec?.template, rs, newControllerRef(rs, REPLICA_SET_KIND.apiVersion, REPLICA_SET_KIND.kind)),
        batches: slowStartBatchSizes(diff),
      };
    } else if (diff > 0) {
      diff = Math.min(diff, burst);
      const related = indirectlyRelatedPods(rs, pods, opts.replicaSets);
      plan.delete = getPodsToDelete(claim.claimed, related, diff, { now });
      expectations.expectDeletions(key, plan.delete.map(podKey));
    }
  }

  plan.status = calculateReplicaSetStatus(rs, claim.claimed, undefined, now);
  plan.statusChanged = replicaSetStatusChanged(rs, plan.status);
  plan.requeueAfterMs = minReadyRequeueMs(rs, plan.status);
  return plan;
}

/** Undo the expectations a plan recorded, for a plan that will not be carried out. */
export function abandonReplicaSetPlan(plan: ReplicaSetPlan, expectations: UIDTrackingControllerExpectations): void {
  if (plan.create) expectations.lowerExpectations(plan.key, plan.create.count, 0);
  for (const p of plan.delete) expectations.deletionObserved(plan.key, podKey(p));
}

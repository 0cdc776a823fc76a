// The ReplicaSet controller's pod event handlers (addPod, updatePod,
// deletePod in replica_set.go): which ReplicaSet keys to enqueue for a pod
// change, and the expectation bookkeeping (a pod ADDED observes a creation, a
// pod DELETED or newly carrying a deletionTimestamp observes a deletion).
// The informer wiring calls these from its event handlers.
import { selectorFromLabelSelector } from '@kubets/api-machinery';
import type { UIDTrackingControllerExpectations } from '../util/expectations';
import { controllerRefOf, isBeingDeleted, isPodReady, keyOf, labelsOf, namespaceOf, podKey, semanticEqual, type KObject, type OwnerReference } from '../util/k8s';
import { minReadySecondsOf, REPLICA_SET_KIND } from './reconcile';

export interface EnqueueRequests {
  /** Keys to add to the work queue now. */
  keys: string[];
  /** Keys to add after a delay (ms). */
  after: { key: string; delayMs: number }[];
}

/** The informer's view of ReplicaSets: look up by namespace/name, list a namespace. */
export interface ReplicaSetLookup {
  get(namespace: string, name: string): KObject | undefined;
  list(namespace: string): readonly KObject[];
}

function resolveControllerRef(namespace: string, ref: OwnerReference, lookup: ReplicaSetLookup): KObject | undefined {
  if (ref.kind !== REPLICA_SET_KIND.kind) return undefined;
  const rs = lookup.get(namespace, ref.name);
  return rs && rs.metadata?.uid === ref.uid ? rs : undefined;
}

/** getPodReplicaSets: ReplicaSets of the pod's namespace whose (non-empty) selector matches it. */
export function replicaSetsSelectingPod(pod: KObject, lookup: ReplicaSetLookup): KObject[] {
  const out: KObject[] = [];
  for (const rs of lookup.list(namespaceOf(pod))) {
    try {
      const sel = selectorFromLabelSelector(rs?.spec?.selector);
      if (sel.empty() || !sel.matches(labelsOf(pod))) continue;
      out.push(rs);
    } catch {
      // An invalid selector matches nothing.
    }
  }
  return out;
}

function none(): EnqueueRequests {
  return { keys: [], after: [] };
}

export function onPodDeleted(pod: KObject, lookup: ReplicaSetLookup, expectations: UIDTrackingControllerExpectations): EnqueueRequests {
  const ref = controllerRefOf(pod);
  if (!ref) return none();
  const rs = resolveControllerRef(namespaceOf(pod), ref, lookup);
  if (!rs) return none();
  const key = keyOf(rs);
  expectations.deletionObserved(key, podKey(pod));
  return { keys: [key], after: [] };
}

export function onPodAdded(pod: KObject, lookup: ReplicaSetLookup, expectations: UIDTrackingControllerExpectations): EnqueueRequests {
  if (isBeingDeleted(pod)) {
    // A controller restart can list a pod already being deleted: not a creation.
    return onPodDeleted(pod, lookup, expectations);
  }
  const ref = controllerRefOf(pod);
  if (ref) {
    const rs = resolveControllerRef(namespaceOf(pod), ref, lookup);
    if (!rs) return none();
    const key = keyOf(rs);
    expectations.creationObserved(key);
    return { keys: [key], after: [] };
  }
  // An orphan: wake every ReplicaSet that might adopt it (no creation observed).
  return { keys: replicaSetsSelectingPod(pod, lookup).map(keyOf), after: [] };
}

export function onPodUpdated(oldPod: KObject, curPod: KObject, lookup: ReplicaSetLookup, expectations: UIDTrackingControllerExpectations): EnqueueRequests {
  if (curPod?.metadata?.resourceVersion !== undefined && curPod.metadata.resourceVersion === oldPod?.metadata?.resourceVersion) return none();
  const labelChanged = !semanticEqual(labelsOf(curPod), labelsOf(oldPod));
  if (isBeingDeleted(curPod)) {
    // Graceful deletion: act on the deletionTimestamp, not on the final DELETE.
    const r = onPodDeleted(curPod, lookup, expectations);
    if (labelChanged) r.keys.push(...onPodDeleted(oldPod, lookup, expectations).keys);
    return r;
  }
  const out = none();
  const curRef = controllerRefOf(curPod);
  const oldRef = controllerRefOf(oldPod);
  const refChanged = !semanticEqual(curRef ?? null, oldRef ?? null);
  if (refChanged && oldRef) {
    const old = resolveControllerRef(namespaceOf(oldPod), oldRef, lookup);
    if (old) out.keys.push(keyOf(old));
  }
  if (curRef) {
    const rs = resolveControllerRef(namespaceOf(curPod), curRef, lookup);
    if (!rs) return out;
    out.keys.push(keyOf(rs));
    const minReady = minReadySecondsOf(rs);
    if (!isPodReady(oldPod) && isPodReady(curPod) && minReady > 0) {
      // Check availability again once minReadySeconds have passed (+1 s of skew).
      out.after.push({ key: keyOf(rs), delayMs: minReady * 1000 + 1000 });
    }
    return out;
  }
  if (labelChanged || refChanged) out.keys.push(...replicaSetsSelectingPod(curPod, lookup).map(keyOf));
  return out;
}

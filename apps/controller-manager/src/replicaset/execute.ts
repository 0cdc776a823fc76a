// Carrying out a ReplicaSetPlan against the API (the I/O half of
// manageReplicas and syncReplicaSet), with kube's error handling: slow-start
// creates, parallel deletes, expectations lowered for calls that did not
// happen, events, and the status with ReplicaFailure when calls failed.
import { isNotFound } from '@kubets/api-machinery';
import type { UIDTrackingControllerExpectations } from '../util/expectations';
import { clone, errorMessage, nameOf, namespaceOf, podKey, type KObject } from '../util/k8s';
import {
  abandonReplicaSetPlan,
  calculateReplicaSetStatus,
  FAILED_CREATE_POD_REASON,
  FAILED_DELETE_POD_REASON,
  minReadyRequeueMs,
  replicaSetStatusChanged,
  SLOW_START_INITIAL_BATCH_SIZE,
  SUCCESSFUL_CREATE_POD_REASON,
  SUCCESSFUL_DELETE_POD_REASON,
  type ReplicaSetPlan,
} from './reconcile';

/** What the executor needs from the API (the typed client of libs/client, or a fake). */
export interface ReplicaSetApi {
  /** POST a pod; returns the created pod (with its generated name). */
  createPod(namespace: string, pod: KObject): Promise<KObject>;
  /** DELETE a pod. A NotFound StatusError counts as already deleted. */
  deletePod(namespace: string, name: string): Promise<void>;
  /** PATCH a pod with a strategic merge patch. */
  patchPod(namespace: string, name: string, patch: KObject): Promise<void>;
  /** PUT replicasets/<name>/status with the given object; returns the stored object. */
  updateReplicaSetStatus(rs: KObject): Promise<KObject>;
}

/** An event to record (type Normal/Warning, reason, message) about `object`. */
export interface RecordedEvent {
  object: KObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type EventSink = (e: RecordedEvent) => void;

export interface ReplicaSetExecution {
  /** The first error (the key should be retried with back-off), if any. */
  error?: unknown;
  /** Pods created, by name. */
  created: string[];
  /** Pods deleted, by name. */
  deleted: string[];
  /** The status written (or that would have been written), undefined when unchanged. */
  status?: KObject;
  /** Sync again after this long (minReadySeconds). */
  requeueAfterMs?: number;
}

/** slowStartBatch: calls fn count times in batches 1, 2, 4, ...; stops after a batch with a failure. */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let size = Math.min(remaining, initialBatchSize); size > 0; size = Math.min(2 * size, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: size }, () => fn()));
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += size - failures.length;
    if (failures.length > 0) return { successes, error: failures[0].reason };
    remaining -= size;
  }
  return { successes };
}

/**
 * Execute a plan from reconcileReplicaSet. `now` is read after the calls
 * (for the status's availability and condition times).
 */
export async function executeReplicaSetPlan(
  rs: KObject,
  plan: ReplicaSetPlan,
  api: ReplicaSetApi,
  expectations: UIDTrackingControllerExpectations,
  events: EventSink,
  now: () => number = Date.now,
): Promise<ReplicaSetExecution> {
  const out: ReplicaSetExecution = { created: [], deleted: [] };
  if (plan.invalidSelector) return out;
  const ns = namespaceOf(rs);

  // Adopt and release first; a failure ends the sync (the key is retried).
  for (const { object, patch } of [...plan.adopt, ...plan.release]) {
    try {
      await api.patchPod(namespaceOf(object) || ns, nameOf(object), patch);
    } catch (e) {
      if (isNotFound(e)) continue;
      abandonReplicaSetPlan(plan, expectations);
      out.error = e;
      return out;
    }
  }

  let manageError: unknown;
  if (plan.create) {
    const { count, pod } = plan.create;
    const { successes, error } = await slowStartBatch(count, SLOW_START_INITIAL_BATCH_SIZE, async () => {
      try {
        const created = await api.createPod(ns, clone(pod));
        out.created.push(nameOf(created));
        events({ object: rs, type: 'Normal', reason: SUCCESSFUL_CREATE_POD_REASON, message: `Created pod: ${nameOf(created)}` });
      } catch (e) {
        events({ object: rs, type: 'Warning', reason: FAILED_CREATE_POD_REASON, message: `Error creating: ${errorMessage(e)}` });
        throw e;
      }
    });
    // Pods never attempted (or failed) will not show up in the informer.
    for (let i = successes; i < count; i++) expectations.creationObserved(plan.key);
    manageError = error;
  } else if (plan.delete.length > 0) {
    const results = await Promise.allSettled(
      plan.delete.map(async (p) => {
        try {
          await api.deletePod(ns, nameOf(p));
          out.deleted.push(nameOf(p));
          events({ object: rs, type: 'Normal', reason: SUCCESSFUL_DELETE_POD_REASON, message: `Deleted pod: ${nameOf(p)}` });
        } catch (e) {
          // The informer will not observe this deletion.
          expectations.deletionObserved(plan.key, podKey(p));
          if (isNotFound(e)) return;
          events({ object: rs, type: 'Warning', reason: FAILED_DELETE_POD_REASON, message: `Error deleting: ${errorMessage(e)}` });
          throw new Error(`unable to delete pods: ${errorMessage(e)}`);
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) manageError = failed.reason;
  }

  const status = manageError === undefined ? plan.status : calculateReplicaSetStatus(rs, plan.pods, manageError, now());
  if (manageError !== undefined ? replicaSetStatusChanged(rs, status) : plan.statusChanged) {
    out.status = status;
    try {
      await api.updateReplicaSetStatus({ ...rs, status });
    } catch (e) {
      out.error = e;
      return out;
    }
  }
  if (manageError === undefined) out.requeueAfterMs = minReadyRequeueMs(rs, status);
  out.error = manageError;
  return out;
}

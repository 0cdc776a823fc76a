// The ReplicaSet controller wired to the cluster (pkg/controller/replicaset's
// ReplicaSetController): shared pod and ReplicaSet informers feed its queue
// through the handlers of ../replicaset/events.ts (expectations observed
// there), a sync plans with reconcileReplicaSet and carries the plan out with
// executeReplicaSetPlan over the typed client.
import type { Client, EventRecorder, Informer, Logger, WorkQueueMetrics } from '@kubets/client';
import { onPodAdded, onPodDeleted, onPodUpdated, type EnqueueRequests, type ReplicaSetLookup } from '../replicaset/events';
import { executeReplicaSetPlan, type RecordedEvent, type ReplicaSetApi } from '../replicaset/execute';
import { minReadySecondsOf, reconcileReplicaSet } from '../replicaset/reconcile';
import { UIDTrackingControllerExpectations } from '../util/expectations';
import { keyOf, namespaceOf, type KObject } from '../util/k8s';
import { QueueController } from './queue-controller';

export interface ReplicaSetControllerOptions {
  client: Client;
  pods: Informer<any>;
  replicaSets: Informer<any>;
  recorder: EventRecorder;
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
  now?: () => number;
}

/** The ReplicaSetApi over the typed client. */
export function replicaSetApi(client: Client): ReplicaSetApi {
  return {
    createPod: async (ns, pod) => (await client.pods.create(ns, pod)) as KObject,
    deletePod: async (ns, name) => void (await client.pods.delete(ns, name)),
    patchPod: async (ns, name, patch) => void (await client.pods.patch(ns, name, 'strategic', patch)),
    updateReplicaSetStatus: async (rs) => (await client.replicaSets.updateStatus(namespaceOf(rs), rs)) as KObject,
  };
}

export class ReplicaSetController extends QueueController {
  readonly expectations = new UIDTrackingControllerExpectations();
  private readonly api: ReplicaSetApi;
  private readonly lookup: ReplicaSetLookup;
  private readonly now: () => number;

  constructor(private readonly o: ReplicaSetControllerOptions) {
    super('replicaset', o.workers, o.log, o.metrics);
    this.api = replicaSetApi(o.client);
    this.now = o.now ?? Date.now;
    this.lookup = {
      get: (ns, name) => o.replicaSets.getByName(ns, name) as KObject | undefined,
      list: (ns) => o.replicaSets.list({ namespace: ns }) as KObject[],
    };
    // replica_set.go: addRS / updateRS / deleteRS.
    o.replicaSets.addEventHandler({
      onAdd: (rs) => this.enqueue(keyOf(rs)),
      onUpdate: (oldRS, cur) => {
        // A resync re-delivers the same object: still enqueued (kube's resync does the same).
        const key = keyOf(cur);
        this.enqueue(key);
        const minReady = minReadySecondsOf(cur);
        if (minReady > 0 && oldRS?.status?.availableReplicas !== cur?.status?.availableReplicas) this.enqueueAfter(key, minReady * 1000 + 1000);
      },
      onDelete: (rs) => {
        const key = keyOf(rs);
        this.expectations.deleteExpectations(key);
        this.enqueue(key);
      },
    });
    // addPod / updatePod / deletePod: the expectation bookkeeping happens even
    // while the controller is not running (a standby's expectations are reset on start anyway).
    o.pods.addEventHandler({
      onAdd: (pod) => this.enqueueAll(onPodAdded(pod, this.lookup, this.expectations)),
      onUpdate: (oldPod, cur) => this.enqueueAll(onPodUpdated(oldPod, cur, this.lookup, this.expectations)),
      onDelete: (pod) => this.enqueueAll(onPodDeleted(pod, this.lookup, this.expectations)),
    });
  }

  private enqueueAll(r: EnqueueRequests): void {
    for (const k of r.keys) this.enqueue(k);
    for (const a of r.after) this.enqueueAfter(a.key, a.delayMs);
  }

  protected allKeys(): string[] {
    return this.o.replicaSets.keys();
  }

  private readonly record = (e: RecordedEvent): void => {
    void this.o.recorder.event(e.object, e.type, e.reason, e.message);
  };

  protected async sync(key: string): Promise<void> {
    const rs = this.o.replicaSets.get(key) as KObject | undefined;
    if (!rs) {
      this.expectations.deleteExpectations(key);
      return;
    }
    const ns = namespaceOf(rs);
    const pods = this.o.pods.list({ namespace: ns }) as KObject[];
    // The planning is pure code over cached objects: if it throws, the controller crashes (see QueueController).
    const plan = this.plan(key, () => reconcileReplicaSet(rs, pods, this.expectations, { now: this.now(), replicaSets: this.lookup.list(ns) }));
    if (plan.invalidSelector) {
      this.log.error({ key }, plan.invalidSelector);
      return;
    }
    const res = await executeReplicaSetPlan(rs, plan, this.api, this.expectations, this.record, this.now);
    if (res.error !== undefined) throw res.error;
    if (res.requeueAfterMs !== undefined) this.enqueueAfter(key, res.requeueAfterMs);
  }
}

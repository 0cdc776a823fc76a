// The Deployment controller wired to the cluster (pkg/controller/deployment's
// DeploymentController): Deployment, ReplicaSet and pod informers feed its
// queue the way kube's handlers do; a sync plans with reconcileDeployment and
// carries the plan out with executeDeploymentPlan over the typed client.
import { selectorFromLabelSelector } from '@kubets/api-machinery';
import type { Client, EventRecorder, Informer, Logger, WorkQueueMetrics } from '@kubets/client';
import { executeDeploymentPlan, type DeploymentApi } from '../deployment/execute';
import { reconcileDeployment, type PlannedEvent } from '../deployment/reconcile';
import { controllerRefOf, isBeingDeleted, keyOf, labelsOf, namespaceOf, semanticEqual, type KObject, type OwnerReference } from '../util/k8s';
import { QueueController } from './queue-controller';

export interface DeploymentControllerOptions {
  client: Client;
  pods: Informer<any>;
  replicaSets: Informer<any>;
  deployments: Informer<any>;
  recorder: EventRecorder;
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
  now?: () => number;
}

/** The DeploymentApi over the typed client. */
export function deploymentApi(client: Client): DeploymentApi {
  return {
    createReplicaSet: async (ns, rs) => (await client.replicaSets.create(ns, rs)) as KObject,
    updateReplicaSet: async (ns, rs) => (await client.replicaSets.update(ns, rs)) as KObject,
    deleteReplicaSet: async (ns, name) => void (await client.replicaSets.delete(ns, name, { propagationPolicy: 'Background' })),
    patchReplicaSet: async (ns, name, patch) => (await client.replicaSets.patch(ns, name, 'strategic', patch)) as KObject,
    updateDeploymentStatus: async (ns, d) => (await client.deployments.updateStatus(ns, d)) as KObject,
    patchDeployment: async (ns, name, patch) => void (await client.deployments.patch(ns, name, 'merge', patch)),
  };
}

export class DeploymentController extends QueueController {
  private readonly api: DeploymentApi;
  private readonly now: () => number;

  constructor(private readonly o: DeploymentControllerOptions) {
    super('deployment', o.workers, o.log, o.metrics);
    this.api = deploymentApi(o.client);
    this.now = o.now ?? Date.now;
    // addDeployment / updateDeployment / deleteDeployment
    o.deployments.addEventHandler({
      onAdd: (d) => this.enqueue(keyOf(d)),
      onUpdate: (_old, cur) => this.enqueue(keyOf(cur)),
      onDelete: (d) => this.enqueue(keyOf(d)),
    });
    // addReplicaSet / updateReplicaSet / deleteReplicaSet
    o.replicaSets.addEventHandler({
      onAdd: (rs) => {
        if (isBeingDeleted(rs)) return this.rsDeleted(rs);
        const ref = controllerRefOf(rs);
        if (ref) {
          const d = this.resolve(namespaceOf(rs), ref);
          if (d) this.enqueue(keyOf(d));
          return;
        }
        for (const d of this.deploymentsSelecting(rs)) this.enqueue(keyOf(d));
      },
      onUpdate: (oldRS, cur) => {
        if (cur?.metadata?.resourceVersion !== undefined && cur.metadata.resourceVersion === oldRS?.metadata?.resourceVersion) return;
        const curRef = controllerRefOf(cur);
        const oldRef = controllerRefOf(oldRS);
        const refChanged = !semanticEqual(curRef ?? null, oldRef ?? null);
        if (refChanged && oldRef) {
          const d = this.resolve(namespaceOf(oldRS), oldRef);
          if (d) this.enqueue(keyOf(d));
        }
        if (curRef) {
          const d = this.resolve(namespaceOf(cur), curRef);
          if (d) this.enqueue(keyOf(d));
          return;
        }
        const labelChanged = !semanticEqual(labelsOf(cur), labelsOf(oldRS));
        if (labelChanged || refChanged) for (const d of this.deploymentsSelecting(cur)) this.enqueue(keyOf(d));
      },
      onDelete: (rs) => this.rsDeleted(rs),
    });
    // deletePod: a Recreate rollout waits until no old pod is left.
    o.pods.addEventHandler({
      onDelete: (pod) => {
        const ref = controllerRefOf(pod);
        if (!ref || ref.kind !== 'ReplicaSet') return;
        const rs = o.replicaSets.getByName(namespaceOf(pod), ref.name) as KObject | undefined;
        if (!rs || rs.metadata?.uid !== ref.uid) return;
        const dref = controllerRefOf(rs);
        const d = dref ? this.resolve(namespaceOf(rs), dref) : undefined;
        if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(keyOf(d));
      },
    });
  }

  private rsDeleted(rs: KObject): void {
    const ref = controllerRefOf(rs);
    if (!ref) return;
    const d = this.resolve(namespaceOf(rs), ref);
    if (d) this.enqueue(keyOf(d));
  }

  /** resolveControllerRef: the Deployment a controller reference names, if it is still that object. */
  private resolve(ns: string, ref: OwnerReference): KObject | undefined {
    if (ref.kind !== 'Deployment') return undefined;
    const d = this.o.deployments.getByName(ns, ref.name) as KObject | undefined;
    return d && d.metadata?.uid === ref.uid ? d : undefined;
  }

  /** getDeploymentsForReplicaSet: Deployments of the namespace whose non-empty selector matches an orphan. */
  private deploymentsSelecting(rs: KObject): KObject[] {
    return (this.o.deployments.list({ namespace: namespaceOf(rs) }) as KObject[]).filter((d) => {
      try {
        const sel = selectorFromLabelSelector(d.spec?.selector);
        return !sel.empty() && sel.matches(labelsOf(rs));
      } catch {
        return false;
      }
    });
  }

  protected allKeys(): string[] {
    return this.o.deployments.keys();
  }

  private readonly record = (d: KObject, e: PlannedEvent): void => {
    void this.o.recorder.event(d, e.type, e.reason, e.message);
  };

  protected async sync(key: string): Promise<void> {
    const d = this.o.deployments.get(key) as KObject | undefined;
    if (!d) {
      this.log.debug?.({ key }, 'deployment has been deleted');
      return;
    }
    const ns = namespaceOf(d);
    // The planning is pure code over cached objects: if it throws, the controller crashes (see QueueController).
    const plan = this.plan(key, () => reconcileDeployment(d, this.o.replicaSets.list({ namespace: ns }) as KObject[], { now: this.now(), pods: this.o.pods.list({ namespace: ns }) as KObject[] }));
    const res = await executeDeploymentPlan(d, plan, this.api, this.record, this.now);
    if (res.error !== undefined) throw res.error;
    // kube: enqueueRateLimited inside the sync (the queue's run() forgets the key after a successful sync).
    if (res.requeueRateLimited) this.enqueueRateLimited(key);
    if (res.requeueAfterMs !== undefined) this.enqueueAfter(key, res.requeueAfterMs);
  }
}

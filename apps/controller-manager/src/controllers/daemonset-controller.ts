// The DaemonSet controller wired to the cluster (pkg/controller/daemon's
// DaemonSetsController): DaemonSet, pod and node informers feed a queue of
// `ns/name` keys; a sync claims the pods (adopt orphans by selector, release
// owned pods that stopped matching), plans with reconcileDaemonSet and
// creates / deletes pods and writes the status. Creations and deletions are
// tracked with expectations so a lagging informer never doubles a pod.
// Daemon pods carry a required node affinity on their node's name
// (matchFields metadata.name, as kube since 1.12) and are bound by the
// scheduler.
import type { Client, EventRecorder, Informer, Logger, WorkQueueMetrics } from '@kubets/client';
import { isNotFound } from '@kubets/client';
import { dsSelector, newDaemonPod, nodeShouldRunDaemonPod, reconcileDaemonSet } from '../daemonset/daemonset';
import { claimBySelector } from '../util/controller-ref';
import { ControllerExpectations } from '../util/expectations';
import { controllerRefOf, keyOf, labelsOf, nameOf, namespaceOf, newControllerRef, type KObject } from '../util/k8s';
import { QueueController } from './queue-controller';

export interface DaemonSetControllerOptions {
  client: Client;
  pods: Informer<any>;
  nodes: Informer<any>;
  daemonSets: Informer<any>;
  recorder?: EventRecorder;
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
  now?: () => number;
}

export class DaemonSetController extends QueueController {
  readonly expectations = new ControllerExpectations();
  private readonly now: () => number;

  constructor(private readonly o: DaemonSetControllerOptions) {
    super('daemonset', o.workers, o.log, o.metrics);
    this.now = o.now ?? Date.now;
    o.daemonSets.addEventHandler({
      onAdd: (ds) => this.enqueue(keyOf(ds)),
      onUpdate: (_old, ds) => this.enqueue(keyOf(ds)),
      onDelete: (ds) => {
        this.expectations.deleteExpectations(keyOf(ds));
        this.enqueue(keyOf(ds));
      },
    });
    o.pods.addEventHandler({
      onAdd: (pod) => {
        const ds = this.owner(pod);
        if (ds) {
          this.expectations.creationObserved(keyOf(ds));
          this.enqueue(keyOf(ds));
        } else this.enqueueMatching(pod);
      },
      onUpdate: (old, pod) => {
        const a = this.owner(old);
        const b = this.owner(pod);
        if (a && (!b || keyOf(a) !== keyOf(b))) this.enqueue(keyOf(a));
        if (b) this.enqueue(keyOf(b));
        else if (JSON.stringify(labelsOf(old)) !== JSON.stringify(labelsOf(pod))) this.enqueueMatching(pod);
      },
      onDelete: (pod) => {
        const ds = this.owner(pod);
        if (!ds) return;
        this.expectations.deletionCountObserved(keyOf(ds));
        this.enqueue(keyOf(ds));
      },
    });
    // addNode / updateNode / deleteNode: every DaemonSet whose decision for the node may change.
    const onNode = (oldNode: KObject | undefined, node: KObject) => {
      for (const ds of o.daemonSets.list() as KObject[]) {
        if (oldNode === undefined) {
          if (nodeShouldRunDaemonPod(node, ds).shouldRun) this.enqueue(keyOf(ds));
          continue;
        }
        const a = nodeShouldRunDaemonPod(oldNode, ds);
        const b = nodeShouldRunDaemonPod(node, ds);
        if (a.shouldRun !== b.shouldRun || a.shouldContinueRunning !== b.shouldContinueRunning) this.enqueue(keyOf(ds));
      }
    };
    o.nodes.addEventHandler({
      onAdd: (n) => onNode(undefined, n),
      onUpdate: (old, n) => onNode(old, n),
      onDelete: () => {
        for (const k of o.daemonSets.keys()) this.enqueue(k);
      },
    });
  }

  private owner(pod: KObject | undefined): KObject | undefined {
    const ref = controllerRefOf(pod);
    if (!ref || ref.kind !== 'DaemonSet') return undefined;
    const ds = this.o.daemonSets.getByName(namespaceOf(pod), ref.name) as KObject | undefined;
    return ds && ds.metadata?.uid === ref.uid ? ds : undefined;
  }

  /** An orphan pod: the DaemonSets whose selector matches it may adopt it. */
  private enqueueMatching(pod: KObject): void {
    if (controllerRefOf(pod)) return;
    for (const ds of this.o.daemonSets.list({ namespace: namespaceOf(pod) }) as KObject[]) {
      if (dsSelector(ds).matches(labelsOf(pod))) this.enqueue(keyOf(ds));
    }
  }

  protected allKeys(): string[] {
    return this.o.daemonSets.keys();
  }

  private event(ds: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.o.recorder) void this.o.recorder.event(ds, type, reason, message).catch(() => {});
  }

  protected async sync(key: string): Promise<void> {
    const ds = this.o.daemonSets.get(key) as KObject | undefined;
    if (!ds) {
      this.expectations.deleteExpectations(key);
      return;
    }
    if (ds.metadata?.deletionTimestamp) return;
    const ns = namespaceOf(ds);
    const selector = dsSelector(ds);
    if (selector.empty()) {
      this.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    const pods = this.o.client.pods;
    // ClaimPods: adopt matching orphans, release owned pods that no longer match.
    const claim = claimBySelector(ds, newControllerRef(ds, 'apps/v1', 'DaemonSet'), this.o.pods.list({ namespace: ns }) as KObject[], selector);
    for (const a of claim.adopt) await pods.patch(ns, nameOf(a.object), 'strategic', a.patch).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    for (const r of claim.release) await pods.patch(ns, nameOf(r.object), 'strategic', r.patch).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    const nodes = this.o.nodes.list() as KObject[];
    const plan = reconcileDaemonSet(ds, claim.claimed, nodes, this.now());

    if (this.expectations.satisfiedExpectations(key)) {
      this.expectations.setExpectations(key, plan.create.length, plan.delete.length);
      const errors: unknown[] = [];
      await Promise.all(
        plan.create.map(async (node) => {
          try {
            const pod = await pods.create(ns, newDaemonPod(ds, node, plan.hash));
            this.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${nameOf(pod)}`);
          } catch (e) {
            this.expectations.creationObserved(key);
            this.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(e as Error).message}`);
            errors.push(e);
          }
        }),
      );
      await Promise.all(
        plan.delete.map(async (d) => {
          try {
            await pods.delete(ns, d.name);
            this.log.info({ key, pod: d.name, reason: d.reason }, 'deleted daemon pod');
            this.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${d.name}`);
          } catch (e) {
            this.expectations.deletionCountObserved(key);
            if (!isNotFound(e)) {
              this.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${(e as Error).message}`);
              errors.push(e);
            }
          }
        }),
      );
      if (errors.length > 0) throw errors[0];
    }

    if (plan.statusChanged) {
      await this.o.client.daemonSets.updateStatus(ns, { ...ds, status: plan.status });
    }
    if (plan.requeueAfterMs !== undefined) this.enqueueAfter(key, plan.requeueAfterMs);
  }
}

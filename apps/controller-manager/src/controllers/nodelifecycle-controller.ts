// The node lifecycle controller (pkg/controller/nodelifecycle) with the taint
// eviction manager (pkg/controller/tainteviction) and the part of the pod GC
// (pkg/controller/podgc) that force-deletes pods of lost nodes, wired to the
// cluster. Queue keys are node names.
//   - Health: a node's probe time moves whenever its Ready condition's
//     lastHeartbeatTime or its kube-node-lease Lease's renewTime changes (as
//     observed here, on this clock). After --node-monitor-grace-period without
//     one, Ready, MemoryPressure, DiskPressure and PIDPressure become Unknown
//     (NodeStatusUnknown, "Kubelet stopped posting node status.") and the
//     node's pods are marked Ready=False (MarkPodsNotReady).
//   - Taints: Ready Unknown -> node.kubernetes.io/unreachable NoExecute and
//     NoSchedule; Ready False -> node.kubernetes.io/not-ready NoExecute and
//     NoSchedule; Ready True -> neither (removed on recovery).
//   - Eviction: a pod on a node with a NoExecute taint it does not tolerate is
//     deleted at once; one tolerating it with tolerationSeconds is deleted
//     that long after the taint's timeAdded. On an unreachable node the kubelet
//     cannot finish a graceful deletion, so the deletion is a force delete
//     (gracePeriodSeconds 0), and pods already terminating there are force
//     deleted once their grace period is over: in kube that is the pod GC's
//     job (gcOrphaned / gcTerminating); here the eviction does it.
import { isConflict, isNotFound, type Client, type EventRecorder, type Informer, type Logger, type WorkQueueMetrics } from '@kubets/client';
import { errorMessage, type KObject } from '../util/k8s';
import { evictionDecision, readyStatus, reconcileTaints, unknownConditions, wantedHealthTaints, type Taint } from '../nodelifecycle/taints';
import { QueueController } from './queue-controller';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export interface NodeLifecycleControllerOptions {
  client: Client;
  nodes: Informer<any>;
  leases: Informer<any>;
  pods: Informer<any>;
  recorder?: EventRecorder;
  /** --node-monitor-period */
  monitorPeriodMs: number;
  /** --node-monitor-grace-period */
  gracePeriodMs: number;
  workers?: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
  now?: () => number;
}

interface Health {
  probeMs: number;
  heartbeat?: string;
  renewTime?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

export class NodeLifecycleController extends QueueController {
  private readonly health = new Map<string, Health>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly o: NodeLifecycleControllerOptions) {
    super('nodelifecycle', o.workers ?? 1, o.log, o.metrics);
    this.now = o.now ?? Date.now;
    o.nodes.addEventHandler({
      onAdd: (n) => this.observeNode(n),
      onUpdate: (_old, n) => this.observeNode(n),
      onDelete: (n) => void this.health.delete(String(n?.metadata?.name)),
    });
    o.leases.addEventHandler({ onAdd: (l) => this.observeLease(l), onUpdate: (_old, l) => this.observeLease(l) });
    const onPod = (p: KObject) => {
      const node = p?.spec?.nodeName;
      if (!node) return;
      const n = o.nodes.getByName(undefined, node) as KObject | undefined;
      if (n && (n.spec?.taints ?? []).some((t: Taint) => t.effect === 'NoExecute')) this.enqueue(node);
    };
    o.pods.addEventHandler({ onAdd: onPod, onUpdate: (_old, p) => onPod(p) });
  }

  private touch(name: string): Health {
    let h = this.health.get(name);
    if (!h) this.health.set(name, (h = { probeMs: this.now() }));
    return h;
  }

  private observeNode(n: KObject): void {
    const name = String(n?.metadata?.name ?? '');
    if (!name) return;
    const h = this.touch(name);
    const hb = (n.status?.conditions ?? []).find((c: KObject) => c.type === 'Ready')?.lastHeartbeatTime;
    if (hb !== h.heartbeat) {
      if (h.heartbeat !== undefined || hb !== undefined) h.probeMs = this.now();
      h.heartbeat = hb;
    }
    this.enqueue(name);
  }

  private observeLease(l: KObject): void {
    if (l?.metadata?.namespace !== NODE_LEASE_NAMESPACE) return;
    const name = String(l.metadata.name ?? '');
    const h = this.touch(name);
    const renew = l.spec?.renewTime;
    if (renew && renew !== h.renewTime) {
      h.renewTime = renew;
      h.probeMs = this.now();
    }
  }

  protected allKeys(): string[] {
    return this.o.nodes.list().map((n: KObject) => String(n.metadata.name));
  }

  override start(): Promise<void> {
    const run = super.start();
    // monitorNodeHealth every --node-monitor-period.
    this.timer = setInterval(() => {
      for (const k of this.allKeys()) this.enqueue(k);
    }, this.o.monitorPeriodMs);
    this.timer.unref();
    return run;
  }

  override async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await super.stop();
  }

  protected async sync(name: string): Promise<void> {
    let node = this.o.nodes.getByName(undefined, name) as KObject | undefined;
    if (!node) return;
    const nowMs = this.now();
    const h = this.touch(name);
    const nodesApi = this.o.client.nodes;

    // 1. Health: no heartbeat for the grace period -> conditions Unknown.
    if (nowMs - h.probeMs > this.o.gracePeriodMs) {
      const conds = unknownConditions(node, iso(nowMs));
      if (conds) {
        node = await nodesApi.patchStatus(undefined, name, 'merge', { status: { conditions: conds } });
        this.log.info({ node: name, silentMs: nowMs - h.probeMs }, 'node stopped posting status: conditions Unknown');
        void this.o.recorder?.event({ apiVersion: 'v1', kind: 'Node', metadata: { name, uid: name } }, 'Normal', 'NodeNotReady', `Node ${name} status is now: NodeNotReady`);
      }
    }
    const ready = readyStatus(node!);

    // 2. Taints from the Ready condition.
    const taints: Taint[] = node!.spec?.taints ?? [];
    const next = reconcileTaints(taints, wantedHealthTaints(ready), iso(nowMs));
    if (next) {
      node = await nodesApi.patch(undefined, name, 'merge', { metadata: { resourceVersion: node!.metadata.resourceVersion }, spec: { taints: next.length > 0 ? next : null } });
      this.log.info({ node: name, ready, taints: next.map((t) => `${t.key}:${t.effect}`) }, 'node health taints updated');
    }

    // 3. Pods on a not-ready node: Ready=False (MarkPodsNotReady), then taint eviction.
    const pods = this.o.pods.byIndex('node', name) as KObject[];
    if (ready !== 'True') await this.markPodsNotReady(pods);
    const noExec = ((node!.spec?.taints ?? []) as Taint[]).filter((t) => t.effect === 'NoExecute');
    const unreachable = ready === 'Unknown' || ready === undefined;
    let nextAt = Infinity;
    for (const p of pods) {
      if (p.metadata?.deletionTimestamp) {
        // Terminating on a node that cannot finish it: force delete after the grace period (pod GC's gcTerminating).
        if (!unreachable) continue;
        const due = Date.parse(p.metadata.deletionTimestamp);
        if (!Number.isFinite(due) || due <= nowMs) await this.deletePod(p, true, 'terminating on an unreachable node');
        else nextAt = Math.min(nextAt, due);
        continue;
      }
      if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const d = evictionDecision(p, noExec, nowMs);
      if (d.evict === 'now') await this.deletePod(p, unreachable, 'taint eviction');
      else if (d.evict === 'at') nextAt = Math.min(nextAt, d.atMs);
    }
    if (nextAt !== Infinity) this.enqueueAfter(name, Math.max(10, nextAt - nowMs + 10));
  }

  private async markPodsNotReady(pods: KObject[]): Promise<void> {
    const now = iso(this.now());
    for (const p of pods) {
      const conds: KObject[] = p.status?.conditions ?? [];
      const i = conds.findIndex((c) => c.type === 'Ready');
      if (i < 0 || conds[i]!.status !== 'True') continue;
      const next = conds.map((c, j) => (j === i ? { ...c, status: 'False', lastTransitionTime: now } : c));
      try {
        await this.o.client.pods.patchStatus(p.metadata.namespace, p.metadata.name, 'merge', { status: { conditions: next } });
      } catch (e) {
        if (!isNotFound(e) && !isConflict(e)) this.log.warn({ pod: `${p.metadata.namespace}/${p.metadata.name}`, err: errorMessage(e) }, 'marking pod not ready failed');
      }
    }
  }

  private async deletePod(p: KObject, force: boolean, why: string): Promise<void> {
    const ns = String(p.metadata.namespace);
    const podName = String(p.metadata.name);
    try {
      await this.o.client.pods.delete(ns, podName, { ...(force ? { gracePeriodSeconds: 0 } : {}), preconditions: { uid: p.metadata.uid } });
      this.log.info({ pod: `${ns}/${podName}`, node: p.spec?.nodeName, force, why }, 'deleted pod');
      if (!p.metadata.deletionTimestamp) void this.o.recorder?.event(p, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${ns}/${podName}`);
    } catch (e) {
      if (isNotFound(e) || isConflict(e)) return;
      throw e;
    }
  }
}

// The scheduler wired to the cluster: informer events keep the Snapshot (the
// scheduler cache) and the SchedulingQueue current, and one worker pops a pod
// at a time, runs scheduleOne, assumes the pod and binds it through
// pods/binding (kube's scheduleOne / bindingCycle, eventhandlers.go).
//
// Actor-like: every change to the snapshot and the queue (informer events,
// the scheduling cycle, binding results) runs through one serial mailbox, so
// the snapshot never changes while scheduleOne looks at it.
import { isConflict, isNotFound, type Client, type InformerFactory, type KObject, type Logger } from '@kubets/client';
import { DEFAULT_SCHEDULER_NAME, podKey, type Node, type Pod, type ReplicaSet, type Service } from './framework/api-types';
import type { Framework } from './framework/framework';
import { defaultFramework } from './framework/framework';
import { scheduleOne, SchedulingState, type ScheduleFailure } from './framework/scheduler-core';
import { isTerminalPod, Snapshot } from './framework/types';
import { ClusterEvents, nodeUpdateEvents, preCheckForNode } from './queue/events';
import { SchedulingQueue, type QueuedPodInfo } from './queue/scheduling-queue';

export interface ClusterSchedulerOptions {
  client: Client;
  factory: InformerFactory;
  /** spec.schedulerName this scheduler is responsible for (default "default-scheduler") */
  schedulerName?: string;
  framework?: Framework;
  log?: Logger;
  /** bindings in flight at once (the binding cycles run while the next pod is scheduled, as in kube) */
  maxInFlightBindings?: number;
}

export interface ClusterSchedulerStats {
  attempts: number;
  scheduled: number;
  unschedulable: number;
  errors: number;
  bindConflicts: number;
}

type AnyObj = KObject & Record<string, any>;

function assigned(pod: Pod): boolean {
  return !!pod.spec?.nodeName;
}

function podRef(pod: Pod): AnyObj {
  return { ...(pod as unknown as AnyObj), apiVersion: 'v1', kind: 'Pod' } as AnyObj;
}

export class ClusterScheduler {
  readonly snapshot = new Snapshot();
  readonly queue: SchedulingQueue;
  readonly framework: Framework;
  readonly state = new SchedulingState();
  readonly schedulerName: string;
  readonly stats: ClusterSchedulerStats = { attempts: 0, scheduled: 0, unschedulable: 0, errors: 0, bindConflicts: 0 };
  private readonly client: Client;
  private readonly factory: InformerFactory;
  private readonly log: Logger | undefined;
  /** Pods assumed onto a node whose binding the informer has not shown yet. */
  private readonly assumed = new Set<string>();
  private readonly bindings = new Set<Promise<void>>();
  private readonly maxInFlight: number;
  private mailbox: Promise<void> = Promise.resolve();
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(o: ClusterSchedulerOptions) {
    this.client = o.client;
    this.factory = o.factory;
    this.log = o.log;
    this.schedulerName = o.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.framework = o.framework ?? defaultFramework();
    this.queue = new SchedulingQueue({ pluginEvents: this.framework.eventsToRegister() });
    this.maxInFlight = o.maxInFlightBindings ?? 16;
  }

  /** Runs `fn` after everything queued before it (the mailbox). */
  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const p = this.mailbox.then(fn);
    this.mailbox = p.then(
      () => undefined,
      (e) => this.log?.error({ err: (e as Error)?.message ?? String(e) }, 'scheduler mailbox handler failed'),
    );
    return p;
  }

  private tell(fn: () => void): void {
    void this.serial(fn).catch(() => undefined);
  }

  /** Whether an unassigned pod is ours to schedule. */
  responsibleFor(pod: Pod): boolean {
    return (pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME) === this.schedulerName && !pod.metadata?.deletionTimestamp && !isTerminalPod(pod);
  }

  /** Registers the informer event handlers (call before factory.start()). */
  register(): void {
    const nodes = this.factory.nodes();
    nodes.addEventHandler({
      onAdd: (n) =>
        this.tell(() => {
          const info = this.snapshot.addNode(n as unknown as Node);
          this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.NodeAdd, preCheckForNode(info));
        }),
      onUpdate: (o, n) =>
        this.tell(() => {
          const info = this.snapshot.updateNode(n as unknown as Node);
          const events = nodeUpdateEvents(o as unknown as Node, n as unknown as Node);
          if (events.length === 0) return;
          const pre = preCheckForNode(info);
          for (const ev of events) this.queue.moveAllToActiveOrBackoffQueue(ev, pre);
        }),
      onDelete: (n) => this.tell(() => this.snapshot.removeNode(String(n.metadata?.name ?? ''))),
    });

    const pods = this.factory.pods();
    pods.addEventHandler({
      onAdd: (p) => this.tell(() => this.podAdded(p as unknown as Pod)),
      onUpdate: (o, n) => this.tell(() => this.podUpdated(o as unknown as Pod, n as unknown as Pod)),
      onDelete: (p) => this.tell(() => this.podDeleted(p as unknown as Pod)),
    });

    const services = this.factory.services();
    services.addEventHandler({
      onAdd: (s) => this.tell(() => this.snapshot.setWorkload('Service', s as unknown as Service)),
      onUpdate: (_o, s) => this.tell(() => this.snapshot.setWorkload('Service', s as unknown as Service)),
      onDelete: (s) => this.tell(() => this.snapshot.deleteWorkload('Service', s as unknown as Service)),
    });
    const replicaSets = this.factory.replicaSets();
    replicaSets.addEventHandler({
      onAdd: (r) => this.tell(() => this.snapshot.setWorkload('ReplicaSet', r as unknown as ReplicaSet)),
      onUpdate: (_o, r) => this.tell(() => this.snapshot.setWorkload('ReplicaSet', r as unknown as ReplicaSet)),
      onDelete: (r) => this.tell(() => this.snapshot.deleteWorkload('ReplicaSet', r as unknown as ReplicaSet)),
    });
  }

  private podAdded(pod: Pod): void {
    const key = podKey(pod);
    if (assigned(pod)) {
      this.assumed.delete(key);
      this.queue.delete(pod);
      this.snapshot.addPod(pod);
      this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodAdd);
    } else if (this.responsibleFor(pod) && !this.assumed.has(key)) {
      this.queue.add(pod);
    }
  }

  private podUpdated(oldPod: Pod, pod: Pod): void {
    const key = podKey(pod);
    if (assigned(pod)) {
      this.assumed.delete(key);
      if (!assigned(oldPod)) this.queue.delete(pod); // bound (by us or anyone): out of the queue
      this.snapshot.updatePod(pod);
      if (assigned(oldPod)) this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodUpdate);
      else this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodAdd);
      return;
    }
    if (this.assumed.has(key)) return; // being bound: the binding's own update follows
    if (this.responsibleFor(pod)) this.queue.update(oldPod, pod);
    else this.queue.delete(pod);
  }

  private podDeleted(pod: Pod): void {
    const key = podKey(pod);
    this.assumed.delete(key);
    this.queue.delete(pod);
    if (this.snapshot.nodeOf(key) !== undefined) {
      this.snapshot.removePod(key);
      this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodDelete);
    }
  }

  /** Starts the scheduling loop (the backoff and unschedulable flushes too). Resolves when it stops. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops the loop and waits for the bindings in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.close();
    await this.running;
    await Promise.allSettled([...this.bindings]);
  }

  private async loop(): Promise<void> {
    this.queue.run();
    this.log?.info({ schedulerName: this.schedulerName }, 'scheduling loop started');
    while (!this.stopped) {
      while (this.bindings.size >= this.maxInFlight) await Promise.race(this.bindings);
      const info = await this.queue.pop();
      if (!info || this.stopped) break;
      try {
        await this.serial(() => this.schedulingCycle(info));
      } catch (e) {
        this.log?.error({ pod: info.key, err: (e as Error).message }, 'scheduling cycle failed');
      }
    }
    this.log?.info({}, 'scheduling loop stopped');
  }

  private async schedulingCycle(info: QueuedPodInfo): Promise<void> {
    const pod = info.pod;
    const cycle = this.queue.schedulingCycle;
    if (!this.responsibleFor(pod) || assigned(pod) || this.assumed.has(info.key)) {
      this.queue.done(info.key);
      return;
    }
    this.stats.attempts++;
    let result;
    try {
      result = await scheduleOne(pod, this.snapshot, { framework: this.framework, state: this.state });
    } catch (e) {
      this.stats.errors++;
      const message = (e as Error).message;
      this.log?.error({ pod: info.key, err: message }, 'error scheduling pod; retrying');
      this.queue.addUnschedulableIfNotPresent(info, cycle, { error: true });
      this.failureSideEffects(pod, message, message);
      return;
    }
    if (result.unschedulable) {
      this.stats.unschedulable++;
      this.handleUnschedulable(info, cycle, result);
      return;
    }
    const node = result.node;
    this.snapshot.assumePod(pod, node);
    this.assumed.add(info.key);
    const b = this.bindingCycle(info, cycle, node);
    this.bindings.add(b);
    void b.finally(() => this.bindings.delete(b));
  }

  private handleUnschedulable(info: QueuedPodInfo, cycle: number, r: ScheduleFailure): void {
    this.log?.info({ pod: info.key, reason: r.message }, 'unable to schedule pod; waiting');
    info.unschedulablePlugins = r.unschedulablePlugins;
    this.queue.addUnschedulableIfNotPresent(info, cycle);
    this.failureSideEffects(info.pod, r.eventMessage, r.message);
  }

  /** FailedScheduling event and PodScheduled=False (reason Unschedulable), as kube's handleSchedulingFailure. */
  private failureSideEffects(pod: Pod, eventMessage: string, conditionMessage: string): void {
    void this.client.recordEvent(podRef(pod), 'Warning', 'FailedScheduling', eventMessage);
    const current = (((pod.status as AnyObj | undefined)?.conditions ?? []) as Array<Record<string, string | undefined>>).find((c) => c.type === 'PodScheduled');
    if (current && current.status === 'False' && current.reason === 'Unschedulable' && current.message === conditionMessage) return;
    const condition = {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message: conditionMessage,
      lastProbeTime: null,
      lastTransitionTime: current?.status === 'False' && current.lastTransitionTime ? current.lastTransitionTime : new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    this.client.pods
      .patchStatus(ns, name, 'strategic', { status: { conditions: [condition] } })
      .catch((e) => this.log?.warn({ pod: `${ns}/${name}`, err: (e as Error).message }, 'could not update the PodScheduled condition'));
  }

  private async bindingCycle(info: QueuedPodInfo, cycle: number, node: string): Promise<void> {
    const pod = info.pod;
    const ns = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    try {
      await this.client.bind(ns, name, node, { uid: pod.metadata?.uid });
    } catch (e) {
      if (isConflict(e) || isNotFound(e)) {
        // Already bound (by someone else) or gone: drop it; the informer brings the truth.
        this.stats.bindConflicts++;
        this.log?.info({ pod: `${ns}/${name}`, node, err: (e as Error).message }, 'binding rejected: pod already bound or deleted; dropping it');
        const fresh = await this.client.pods.get(ns, name).catch(() => undefined);
        await this.serial(() => {
          this.assumed.delete(info.key);
          this.snapshot.forgetPod(info.key);
          const p = fresh as unknown as Pod | undefined;
          if (p && p.metadata?.uid === pod.metadata?.uid && assigned(p)) this.snapshot.addPod(p);
          this.queue.delete(info.key);
          this.queue.done(info.key);
        });
        return;
      }
      this.stats.errors++;
      const message = `binding rejected: ${(e as Error).message}`;
      this.log?.warn({ pod: `${ns}/${name}`, node, err: (e as Error).message }, 'binding failed; retrying');
      await this.serial(() => {
        this.assumed.delete(info.key);
        this.snapshot.forgetPod(info.key);
        this.queue.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodDelete);
        this.queue.addUnschedulableIfNotPresent(info, cycle, { error: true });
      });
      void this.client.recordEvent(podRef(pod), 'Warning', 'FailedScheduling', message);
      return;
    }
    this.stats.scheduled++;
    await this.serial(() => this.queue.done(info.key));
    this.log?.debug?.({ pod: `${ns}/${name}`, node }, 'bound pod');
    void this.client.recordEvent(podRef(pod), 'Normal', 'Scheduled', `Successfully assigned ${ns}/${name} to ${node}`);
  }
}

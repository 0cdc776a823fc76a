/**
 * kube-scheduler's PriorityQueue (pkg/scheduler/backend/queue), without
 * queueing hints:
 *
 * - activeQ: pods ready to be tried, highest priority first, then the
 *   earliest queued (PrioritySort); pop() waits for one.
 * - podBackoffQ: pods that failed and wait out their backoff, 1 s doubling
 *   per attempt up to 10 s, ordered by when the backoff ends; moved to activeQ
 *   by a flush every second.
 * - unschedulablePods: pods no node fits; a cluster event that one of the
 *   plugins that rejected the pod registered for (node added or changed,
 *   assigned pod deleted...) moves them to activeQ, or to podBackoffQ while
 *   still backing off; after 5 minutes there they are moved anyway (flush
 *   every 30 s).
 * - A pod that failed while a move event happened during its attempt goes to
 *   podBackoffQ instead of unschedulablePods (moveRequestCycle), so the event
 *   is not lost.
 *
 * Pods are keyed by uid (namespace/name when there is none).
 */
import { podKey, podPriority, type Pod } from '../framework/api-types';
import { isWildCardEvent, matchClusterEvents, type ClusterEvent } from '../framework/types';
import { ClusterEvents } from './events';
import { KeyedHeap } from './heap';

/** DefaultPodInitialBackoffDuration. */
export const DEFAULT_POD_INITIAL_BACKOFF_MS = 1_000;
/** DefaultPodMaxBackoffDuration. */
export const DEFAULT_POD_MAX_BACKOFF_MS = 10_000;
/** DefaultPodMaxInUnschedulablePodsDuration. */
export const DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_MS = 5 * 60_000;
/** How often backoffQ and unschedulablePods are flushed. */
export const BACKOFF_FLUSH_INTERVAL_MS = 1_000;
export const UNSCHEDULABLE_FLUSH_INTERVAL_MS = 30_000;

/** framework.QueuedPodInfo. */
export interface QueuedPodInfo {
  pod: Pod;
  readonly key: string;
  /** When the pod was last added to a queue (ms): orders activeQ and starts the backoff. */
  timestamp: number;
  /** When the pod was first popped. */
  initialAttemptTimestamp?: number;
  /** Scheduling attempts so far (incremented by pop). */
  attempts: number;
  /** The plugins that rejected it last time; set by the caller before addUnschedulableIfNotPresent. */
  unschedulablePlugins: Set<string>;
  /** Monotonic insertion number: breaks timestamp ties so equal pods pop in FIFO order. */
  seq: number;
}

export interface SchedulingQueueOptions {
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  podMaxInUnschedulablePodsMs?: number;
  /**
   * The events each plugin registered (Framework.eventsToRegister()). A pod
   * rejected by plugins P is moved only by events registered by one of P.
   * Without it every event moves every unschedulable pod.
   */
  pluginEvents?: Map<string, ClusterEvent[]>;
  /** Clock (ms). Default Date.now, so Jest's fake timers drive it. */
  now?: () => number;
  /** QueueSort; default PrioritySort (priority, then timestamp). */
  less?: (a: QueuedPodInfo, b: QueuedPodInfo) => boolean;
}

/** PrioritySort.Less. */
export function prioritySortLess(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
  const p1 = podPriority(a.pod);
  const p2 = podPriority(b.pod);
  if (p1 !== p2) return p1 > p2;
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  return a.seq < b.seq;
}

interface InFlight {
  info: QueuedPodInfo;
  deleted: boolean;
  /** The pod changed (spec or metadata) while it was being scheduled. */
  updated: boolean;
}

/** isPodUpdated: a change other than status, resourceVersion, generation or managedFields. */
export function isPodUpdated(oldPod: Pod | undefined, newPod: Pod): boolean {
  if (!oldPod) return true;
  const strip = (p: Pod) => {
    const { resourceVersion: _rv, generation: _g, ...meta } = (p.metadata ?? {}) as Record<string, unknown>;
    delete meta.managedFields;
    return JSON.stringify([meta, p.spec ?? null]);
  };
  return strip(oldPod) !== strip(newPod);
}

export class SchedulingQueue {
  private readonly activeQ: KeyedHeap<QueuedPodInfo>;
  private readonly podBackoffQ: KeyedHeap<QueuedPodInfo>;
  private readonly unschedulablePods = new Map<string, QueuedPodInfo>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly waiters: Array<(p: QueuedPodInfo | undefined) => void> = [];
  private readonly initialBackoff: number;
  private readonly maxBackoff: number;
  private readonly maxInUnschedulable: number;
  private readonly pluginEvents: Map<string, ClusterEvent[]> | undefined;
  private readonly now: () => number;
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private closed = false;
  /** Incremented by every pop. */
  private _schedulingCycle = 0;
  /** The scheduling cycle of the last move request. */
  private moveRequestCycle = -1;

  constructor(opts: SchedulingQueueOptions = {}) {
    this.initialBackoff = opts.podInitialBackoffMs ?? DEFAULT_POD_INITIAL_BACKOFF_MS;
    this.maxBackoff = opts.podMaxBackoffMs ?? DEFAULT_POD_MAX_BACKOFF_MS;
    this.maxInUnschedulable = opts.podMaxInUnschedulablePodsMs ?? DEFAULT_POD_MAX_IN_UNSCHEDULABLE_PODS_MS;
    this.pluginEvents = opts.pluginEvents;
    this.now = opts.now ?? (() => Date.now());
    const key = (p: QueuedPodInfo) => p.key;
    this.activeQ = new KeyedHeap(key, opts.less ?? prioritySortLess);
    this.podBackoffQ = new KeyedHeap(key, (a, b) => {
      const ta = this.backoffTime(a);
      const tb = this.backoffTime(b);
      return ta !== tb ? ta < tb : a.seq < b.seq;
    });
  }

  /** Starts the periodic flushes (backoffQ every second, unschedulablePods every 30 s). */
  run(): void {
    if (this.timers.length || this.closed) return;
    const t1 = setInterval(() => this.flushBackoffQCompleted(), BACKOFF_FLUSH_INTERVAL_MS);
    const t2 = setInterval(() => this.flushUnschedulablePodsLeftover(), UNSCHEDULABLE_FLUSH_INTERVAL_MS);
    t1.unref?.();
    t2.unref?.();
    this.timers = [t1, t2];
  }

  /** Stops the flushes; pending and future pop() calls resolve with undefined. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  get schedulingCycle(): number {
    return this._schedulingCycle;
  }

  // -- informer side

  /** A new unscheduled pod: straight to activeQ. */
  add(pod: Pod): void {
    const key = podKey(pod);
    const flying = this.inFlight.get(key);
    if (flying) {
      this.noteInFlightUpdate(flying, pod);
      return;
    }
    const info = this.newQueuedPodInfo(pod);
    this.unschedulablePods.delete(key);
    this.podBackoffQ.delete(key);
    this.addToActiveQ(info);
  }

  /** An unscheduled pod changed. */
  update(oldPod: Pod | undefined, newPod: Pod): void {
    const key = podKey(newPod);
    const flying = this.inFlight.get(key);
    if (flying) {
      this.noteInFlightUpdate(flying, newPod, oldPod);
      return;
    }
    const active = this.activeQ.get(key);
    if (active) {
      active.pod = newPod;
      this.activeQ.addOrUpdate(active);
      return;
    }
    const backoff = this.podBackoffQ.get(key);
    if (backoff) {
      backoff.pod = newPod;
      this.podBackoffQ.addOrUpdate(backoff);
      return;
    }
    const unsched = this.unschedulablePods.get(key);
    if (unsched) {
      const changed = isPodUpdated(oldPod ?? unsched.pod, newPod);
      unsched.pod = newPod;
      if (changed) {
        // The update may have made it schedulable.
        this.unschedulablePods.delete(key);
        if (this.isPodBackingOff(unsched)) this.podBackoffQ.addOrUpdate(unsched);
        else this.addToActiveQ(unsched);
      }
      return;
    }
    this.addToActiveQ(this.newQueuedPodInfo(newPod));
  }

  /** The pod was deleted, or was bound / assigned elsewhere: it leaves the queue. */
  delete(pod: Pod | string): void {
    const key = typeof pod === 'string' ? pod : podKey(pod);
    this.activeQ.delete(key);
    this.podBackoffQ.delete(key);
    this.unschedulablePods.delete(key);
    const flying = this.inFlight.get(key);
    if (flying) flying.deleted = true;
  }

  private noteInFlightUpdate(flying: InFlight, pod: Pod, oldPod?: Pod): void {
    if (isPodUpdated(oldPod ?? flying.info.pod, pod)) flying.updated = true;
    flying.info.pod = pod;
  }

  // -- scheduler side

  /**
   * The next pod to schedule; waits while activeQ is empty. Increments the
   * pod's attempts and the scheduling cycle, and clears its unschedulable
   * plugins. Resolves undefined once the queue is closed.
   */
  pop(): Promise<QueuedPodInfo | undefined> {
    if (this.activeQ.size > 0) return Promise.resolve(this.popNow());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private popNow(): QueuedPodInfo {
    const info = this.activeQ.pop()!;
    info.attempts++;
    info.initialAttemptTimestamp ??= this.now();
    info.unschedulablePlugins = new Set();
    this._schedulingCycle++;
    this.inFlight.set(info.key, { info, deleted: false, updated: false });
    return info;
  }

  /** The attempt is over (bound, or put back): forget the in-flight record. */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  /**
   * A failed attempt: back to unschedulablePods, or to podBackoffQ when a move
   * request came in since the attempt started (podSchedulingCycle, default:
   * the current cycle), when the failure was an error rather than "no node
   * fits" (`error`), or when the pod changed meanwhile. Deleted pods are dropped.
   */
  addUnschedulableIfNotPresent(info: QueuedPodInfo, podSchedulingCycle = this._schedulingCycle, opts: { error?: boolean } = {}): void {
    const flying = this.inFlight.get(info.key);
    this.inFlight.delete(info.key);
    if (flying?.deleted) return;
    if (this.unschedulablePods.has(info.key) || this.activeQ.has(info.key) || this.podBackoffQ.has(info.key)) return;
    info.timestamp = this.now();
    info.seq = ++this.seq;
    if (opts.error || flying?.updated || this.moveRequestCycle >= podSchedulingCycle) {
      this.podBackoffQ.addOrUpdate(info);
    } else {
      this.unschedulablePods.set(info.key, info);
    }
  }

  /**
   * A cluster event: unschedulable pods it may help (by the plugins that
   * rejected them, and `preCheck` when given) go to activeQ, or podBackoffQ
   * while backing off.
   */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, preCheck?: (pod: Pod) => boolean): void {
    const list: QueuedPodInfo[] = [];
    for (const info of this.unschedulablePods.values()) if (!preCheck || preCheck(info.pod)) list.push(info);
    this.movePodsToActiveOrBackoffQueue(list, event);
  }

  private movePodsToActiveOrBackoffQueue(list: QueuedPodInfo[], event: ClusterEvent): void {
    for (const info of list) {
      if (info.unschedulablePlugins.size !== 0 && !this.podMatchesEvent(info, event)) continue;
      this.unschedulablePods.delete(info.key);
      if (this.isPodBackingOff(info)) this.podBackoffQ.addOrUpdate(info);
      else this.addToActiveQ(info);
    }
    this.moveRequestCycle = this._schedulingCycle;
  }

  private podMatchesEvent(info: QueuedPodInfo, event: ClusterEvent): boolean {
    if (isWildCardEvent(event)) return true;
    if (!this.pluginEvents) return true;
    for (const plugin of info.unschedulablePlugins) {
      for (const registered of this.pluginEvents.get(plugin) ?? []) if (matchClusterEvents(registered, event)) return true;
    }
    return false;
  }

  /** Moves pods whose backoff has ended to activeQ (every second when running). */
  flushBackoffQCompleted(): void {
    for (;;) {
      const head = this.podBackoffQ.peek();
      if (!head || this.isPodBackingOff(head)) break;
      this.podBackoffQ.pop();
      this.addToActiveQ(head);
    }
  }

  /** Moves pods unschedulable for longer than 5 minutes (every 30 s when running). */
  flushUnschedulablePodsLeftover(): void {
    const now = this.now();
    const list: QueuedPodInfo[] = [];
    for (const info of this.unschedulablePods.values()) if (now - info.timestamp > this.maxInUnschedulable) list.push(info);
    if (list.length) this.movePodsToActiveOrBackoffQueue(list, ClusterEvents.UnschedulableTimeout);
  }

  // -- backoff

  /** calculateBackoffDuration: initial * 2^(attempts-1), capped at the maximum. */
  backoffDuration(info: QueuedPodInfo): number {
    let d = this.initialBackoff;
    for (let i = 1; i < info.attempts; i++) {
      if (d > this.maxBackoff - d) return this.maxBackoff;
      d += d;
    }
    return d;
  }

  backoffTime(info: QueuedPodInfo): number {
    return info.timestamp + this.backoffDuration(info);
  }

  isPodBackingOff(info: QueuedPodInfo): boolean {
    return this.backoffTime(info) > this.now();
  }

  // -- inspection

  /** The pods in each queue (PendingPods). */
  pendingPods(): { active: Pod[]; backoff: Pod[]; unschedulable: Pod[] } {
    return {
      active: this.activeQ.list().map((i) => i.pod),
      backoff: this.podBackoffQ.list().map((i) => i.pod),
      unschedulable: [...this.unschedulablePods.values()].map((i) => i.pod),
    };
  }

  /** kube's summary: "activeQ:1; backoffQ:0; unschedulablePods:2". */
  summary(): string {
    return `activeQ:${this.activeQ.size}; backoffQ:${this.podBackoffQ.size}; unschedulablePods:${this.unschedulablePods.size}`;
  }

  get size(): number {
    return this.activeQ.size + this.podBackoffQ.size + this.unschedulablePods.size;
  }

  /** Which queue holds the pod ('active' | 'backoff' | 'unschedulable' | 'inFlight'), if any. */
  where(pod: Pod | string): 'active' | 'backoff' | 'unschedulable' | 'inFlight' | undefined {
    const key = typeof pod === 'string' ? pod : podKey(pod);
    if (this.activeQ.has(key)) return 'active';
    if (this.podBackoffQ.has(key)) return 'backoff';
    if (this.unschedulablePods.has(key)) return 'unschedulable';
    if (this.inFlight.has(key)) return 'inFlight';
    return undefined;
  }

  private newQueuedPodInfo(pod: Pod): QueuedPodInfo {
    return { pod, key: podKey(pod), timestamp: this.now(), attempts: 0, unschedulablePlugins: new Set(), seq: ++this.seq };
  }

  private addToActiveQ(info: QueuedPodInfo): void {
    this.activeQ.addOrUpdate(info);
    this.wake();
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.activeQ.size > 0) {
      const w = this.waiters.shift()!;
      w(this.popNow());
    }
  }
}

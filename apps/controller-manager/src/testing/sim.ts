// A simulated cluster for driving the controllers through time in tests: an
// in-memory API (resourceVersions and 409 Conflicts, generations, graceful pod
// deletion), one shared informer cache that sees every write after a
// configurable lag, the ReplicaSet and Deployment controllers (work queues
// with back-off and delayed requeues, the real reconcile + execute code), and
// a kubelet/scheduler stand-in that binds pods, runs them and makes them Ready
// after a delay. Time is virtual: `advance`/`runUntil` jump from timer to timer.
import { alreadyExists, applyMergePatch, conflict, NAME_SUFFIX_ALPHABET, notFound, OPTIMISTIC_LOCK_MESSAGE, StatusError } from '@kubets/api-machinery';
import { executeDeploymentPlan, type DeploymentApi } from '../deployment/execute';
import { reconcileDeployment, type PlannedEvent } from '../deployment/reconcile';
import { UIDTrackingControllerExpectations } from '../util/expectations';
import { clone, controllerRefOf, keyOf, labelsOf, nameOf, namespaceOf, semanticEqual, timeString, type KObject } from '../util/k8s';
import { onPodAdded, onPodDeleted, onPodUpdated, replicaSetsSelectingPod, type EnqueueRequests, type ReplicaSetLookup } from '../replicaset/events';
import { executeReplicaSetPlan, type RecordedEvent, type ReplicaSetApi } from '../replicaset/execute';
import { reconcileReplicaSet } from '../replicaset/reconcile';
import { selectorFromLabelSelector } from '@kubets/api-machinery';

export type Kind = 'pods' | 'replicasets' | 'deployments';
export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface SimOptions {
  /** Virtual start time (ms). */
  start?: number;
  /** Delay between an API write and the informer seeing it. Default 10 ms. */
  informerLagMs?: number;
  /** Pod created -> bound to a node and Running. Default 100 ms. */
  scheduleDelayMs?: number;
  /** Running -> Ready; undefined from the function means never. Default 1 s. */
  readyDelayMs?: number | ((pod: KObject) => number | undefined);
  /** Graceful deletion of a bound pod takes this long. Default 500 ms. */
  terminationMs?: number;
  nodes?: string[];
  /** Run the ReplicaSet controller. Default true. */
  replicaSetController?: boolean;
  /** Run the Deployment controller. Default true. */
  deploymentController?: boolean;
  /** Make pod creation fail (e.g. a quota): return the error to throw. */
  createPodError?: (pod: KObject) => Error | undefined;
}

export interface SimEvent extends PlannedEvent {
  at: number;
  object: string;
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A FIFO work queue that dedupes keys, with delayed adds and per-key back-off. */
class WorkQueue {
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  readonly failures = new Map<string, number>();

  constructor(private readonly sim: SimCluster) {}

  add(key: string): void {
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
  }

  addAfter(key: string, ms: number): void {
    if (ms <= 0) this.add(key);
    else this.sim.at(this.sim.now + ms, () => this.add(key));
  }

  addRateLimited(key: string): void {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    this.addAfter(key, Math.min(5 * 2 ** (n - 1), 10_000));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  take(): string | undefined {
    const k = this.ready.shift();
    if (k !== undefined) this.queued.delete(k);
    return k;
  }

  get length(): number {
    return this.ready.length;
  }
}

function suffix(n: number): string {
  let s = '';
  let x = n;
  for (let i = 0; i < 5; i++) {
    s = NAME_SUFFIX_ALPHABET[x % NAME_SUFFIX_ALPHABET.length] + s;
    x = Math.floor(x / NAME_SUFFIX_ALPHABET.length);
  }
  return s;
}

const GROUP: Record<Kind, string> = { pods: '', replicasets: 'apps', deployments: 'apps' };

export class SimCluster {
  now: number;
  readonly opts: Required<Omit<SimOptions, 'readyDelayMs' | 'createPodError'>> & Pick<SimOptions, 'createPodError'> & { readyDelayMs: number | ((pod: KObject) => number | undefined) };
  /** The API's objects (the truth). */
  private readonly store: Record<Kind, Map<string, KObject>> = { pods: new Map(), replicasets: new Map(), deployments: new Map() };
  /** What the controllers' informers have seen. */
  readonly cache: Record<Kind, Map<string, KObject>> = { pods: new Map(), replicasets: new Map(), deployments: new Map() };
  private rv = 1;
  private uidSeq = 0;
  private nameSeq = 0;
  private timerSeq = 0;
  private nodeSeq = 0;
  private timers: Timer[] = [];
  readonly rsQueue = new WorkQueue(this);
  readonly dQueue = new WorkQueue(this);
  readonly expectations: UIDTrackingControllerExpectations;
  readonly events: SimEvent[] = [];
  /** Called after every API write with the kind and event type. */
  private readonly writeHooks: ((kind: Kind, type: WatchType, obj: KObject) => void)[] = [];
  /** Counters for tests. */
  readonly stats = { podCreates: 0, podDeletes: 0, rsSyncs: 0, dSyncs: 0, conflicts: 0 };
  /** Pause informer delivery (events queue up until resumed). */
  private informerPaused = false;
  private readonly heldEvents: (() => void)[] = [];

  constructor(opts: SimOptions = {}) {
    this.now = opts.start ?? Date.UTC(2025, 0, 1, 0, 0, 0);
    this.opts = {
      start: this.now,
      informerLagMs: opts.informerLagMs ?? 10,
      scheduleDelayMs: opts.scheduleDelayMs ?? 100,
      readyDelayMs: opts.readyDelayMs ?? 1000,
      terminationMs: opts.terminationMs ?? 500,
      nodes: opts.nodes ?? ['node-1', 'node-2', 'node-3', 'node-4', 'node-5'],
      replicaSetController: opts.replicaSetController ?? true,
      deploymentController: opts.deploymentController ?? true,
      createPodError: opts.createPodError,
    };
    this.expectations = new UIDTrackingControllerExpectations({ now: () => this.now });
  }

  // ------------------------------------------------------------------- timers

  at(when: number, fn: () => void): void {
    this.timers.push({ at: Math.max(when, this.now), seq: this.timerSeq++, fn });
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const t of this.timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best;
  }

  onWrite(fn: (kind: Kind, type: WatchType, obj: KObject) => void): void {
    this.writeHooks.push(fn);
  }

  // ---------------------------------------------------------------------- API

  private k(ns: string, name: string): string {
    return `${ns}/${name}`;
  }

  get(kind: Kind, ns: string, name: string): KObject | undefined {
    return clone(this.store[kind].get(this.k(ns, name)));
  }

  list(kind: Kind, ns?: string): KObject[] {
    return [...this.store[kind].values()].filter((o) => ns === undefined || namespaceOf(o) === ns).map(clone);
  }

  private emit(kind: Kind, type: WatchType, obj: KObject): void {
    const snapshot = clone(obj);
    for (const h of this.writeHooks) h(kind, type, snapshot);
    const deliver = () => this.deliver(kind, type, snapshot);
    this.at(this.now + this.opts.informerLagMs, () => {
      if (this.informerPaused) this.heldEvents.push(deliver);
      else deliver();
    });
  }

  /** Stop delivering watch events to the informers (they queue up). */
  pauseInformers(): void {
    this.informerPaused = true;
  }

  resumeInformers(): void {
    this.informerPaused = false;
    for (const d of this.heldEvents.splice(0)) d();
  }

  /** Drop the watch events held while paused (as if the watch lost them). */
  dropHeldEvents(): void {
    this.heldEvents.splice(0);
  }

  private specPart(o: KObject): unknown {
    const { metadata: _m, status: _s, ...rest } = o;
    return rest;
  }

  create(kind: Kind, obj: KObject): KObject {
    const o = clone(obj);
    o.metadata ??= {};
    const ns = o.metadata.namespace ?? 'default';
    o.metadata.namespace = ns;
    if (!o.metadata.name) {
      if (!o.metadata.generateName) throw new StatusError(422, 'Invalid', 'name or generateName is required');
      o.metadata.name = o.metadata.generateName + suffix(++this.nameSeq);
    }
    if (this.store[kind].has(this.k(ns, o.metadata.name))) throw alreadyExists(GROUP[kind], kind, o.metadata.name);
    o.metadata.uid = `uid-${++this.uidSeq}`;
    o.metadata.resourceVersion = String(++this.rv);
    o.metadata.creationTimestamp = timeString(this.now);
    if (kind !== 'pods') o.metadata.generation = 1;
    if (kind === 'pods') o.status = { phase: 'Pending', ...(o.status ?? {}) };
    if (kind === 'replicasets') {
      o.status = { replicas: 0 };
      o.spec.replicas ??= 1;
    }
    if (kind === 'deployments') {
      o.status ??= {};
      o.spec.replicas ??= 1;
      o.spec.strategy ??= { type: 'RollingUpdate' };
      if (o.spec.strategy.type === 'RollingUpdate') o.spec.strategy.rollingUpdate ??= {};
      if (o.spec.strategy.type === 'RollingUpdate') {
        o.spec.strategy.rollingUpdate.maxSurge ??= '25%';
        o.spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
      }
      o.spec.revisionHistoryLimit ??= 10;
      o.spec.progressDeadlineSeconds ??= 600;
    }
    this.store[kind].set(this.k(ns, o.metadata.name), o);
    if (kind === 'pods') {
      this.stats.podCreates++;
      this.kubeletAdopt(o);
    }
    this.emit(kind, 'ADDED', o);
    return clone(o);
  }

  private checkRv(kind: Kind, cur: KObject, obj: KObject): void {
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && rv !== cur.metadata.resourceVersion) {
      this.stats.conflicts++;
      throw conflict(GROUP[kind], kind, nameOf(cur), OPTIMISTIC_LOCK_MESSAGE);
    }
  }

  private stored(kind: Kind, ns: string, name: string): KObject {
    const cur = this.store[kind].get(this.k(ns, name));
    if (!cur) throw notFound(GROUP[kind], kind, name);
    return cur;
  }

  /** PUT (main resource): spec and metadata; status kept; generation bumped on spec changes. */
  update(kind: Kind, obj: KObject): KObject {
    const ns = obj.metadata?.namespace ?? 'default';
    const cur = this.stored(kind, ns, nameOf(obj));
    this.checkRv(kind, cur, obj);
    const o = clone(obj);
    o.metadata = { ...o.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp, namespace: ns };
    if (cur.metadata.deletionTimestamp) o.metadata.deletionTimestamp = cur.metadata.deletionTimestamp;
    o.status = clone(cur.status);
    if (kind !== 'pods') {
      const gen = Number(cur.metadata.generation ?? 1);
      o.metadata.generation = semanticEqual(this.specPart(o), this.specPart(cur)) ? gen : gen + 1;
    }
    if (semanticEqual(o, { ...cur, metadata: { ...cur.metadata, resourceVersion: o.metadata.resourceVersion } })) {
      return clone(cur);
    }
    o.metadata.resourceVersion = String(++this.rv);
    this.store[kind].set(this.k(ns, nameOf(o)), o);
    this.emit(kind, 'MODIFIED', o);
    return clone(o);
  }

  /** PUT .../status: only the status. */
  updateStatus(kind: Kind, obj: KObject): KObject {
    const ns = obj.metadata?.namespace ?? 'default';
    const cur = this.stored(kind, ns, nameOf(obj));
    this.checkRv(kind, cur, obj);
    const o = clone(cur);
    o.status = clone(obj.status);
    if (semanticEqual(o.status, cur.status)) return clone(cur);
    o.metadata.resourceVersion = String(++this.rv);
    this.store[kind].set(this.k(ns, nameOf(o)), o);
    this.emit(kind, 'MODIFIED', o);
    return clone(o);
  }

  /** A strategic merge patch of metadata.ownerReferences (adopt/release) with the uid precondition. */
  patchOwnerRefs(kind: Kind, ns: string, name: string, patch: KObject): KObject {
    const cur = this.stored(kind, ns, name);
    if (patch.metadata?.uid !== undefined && patch.metadata.uid !== cur.metadata.uid) {
      throw new StatusError(409, 'Conflict', `Precondition failed: UID in precondition: ${patch.metadata.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    const o = clone(cur);
    let refs: KObject[] = [...(o.metadata.ownerReferences ?? [])];
    for (const r of patch.metadata?.ownerReferences ?? []) {
      if (r.$patch === 'delete') refs = refs.filter((x) => x.uid !== r.uid);
      else {
        refs = refs.filter((x) => x.uid !== r.uid);
        refs.push({ ...r });
      }
    }
    if (refs.length) o.metadata.ownerReferences = refs;
    else delete o.metadata.ownerReferences;
    o.metadata.resourceVersion = String(++this.rv);
    this.store[kind].set(this.k(ns, name), o);
    this.emit(kind, 'MODIFIED', o);
    return clone(o);
  }

  /** A JSON merge patch (e.g. labels, annotations, spec.replicas, spec.template). */
  mergePatch(kind: Kind, ns: string, name: string, patch: KObject): KObject {
    const cur = this.stored(kind, ns, name);
    const next = applyMergePatch<KObject>(clone(cur), patch);
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    return this.update(kind, next);
  }

  /** DELETE: bound pods terminate gracefully; everything else goes at once. */
  delete(kind: Kind, ns: string, name: string): void {
    const cur = this.stored(kind, ns, name);
    if (kind === 'pods') {
      if (cur.metadata.deletionTimestamp) return;
      this.stats.podDeletes++;
      if (cur.spec?.nodeName && this.opts.terminationMs > 0) {
        const o = clone(cur);
        o.metadata.deletionTimestamp = timeString(this.now + this.opts.terminationMs);
        o.metadata.deletionGracePeriodSeconds = Math.ceil(this.opts.terminationMs / 1000);
        o.metadata.resourceVersion = String(++this.rv);
        this.store.pods.set(this.k(ns, name), o);
        this.emit('pods', 'MODIFIED', o);
        this.at(this.now + this.opts.terminationMs, () => this.remove('pods', ns, name));
        return;
      }
    }
    this.remove(kind, ns, name);
  }

  private remove(kind: Kind, ns: string, name: string): void {
    const cur = this.store[kind].get(this.k(ns, name));
    if (!cur) return;
    this.store[kind].delete(this.k(ns, name));
    const o = clone(cur);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit(kind, 'DELETED', o);
  }

  // ------------------------------------------------------------------ kubelet

  private readyDelay(pod: KObject): number | undefined {
    const r = this.opts.readyDelayMs;
    return typeof r === 'function' ? r(pod) : r;
  }

  /** Scheduler + kubelet stand-in: bind, run, and (maybe) make the pod Ready. */
  private kubeletAdopt(pod: KObject): void {
    const ns = namespaceOf(pod);
    const name = nameOf(pod);
    const uid = pod.metadata.uid;
    this.at(this.now + this.opts.scheduleDelayMs, () => {
      const cur = this.store.pods.get(this.k(ns, name));
      if (!cur || cur.metadata.uid !== uid || cur.metadata.deletionTimestamp) return;
      const o = clone(cur);
      o.spec.nodeName = this.opts.nodes[this.nodeSeq++ % this.opts.nodes.length];
      o.status = {
        phase: 'Running',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: timeString(this.now) },
          { type: 'Ready', status: 'False', lastTransitionTime: timeString(this.now) },
        ],
        containerStatuses: [{ name: 'c', ready: false, restartCount: 0 }],
      };
      o.metadata.resourceVersion = String(++this.rv);
      this.store.pods.set(this.k(ns, name), o);
      this.emit('pods', 'MODIFIED', o);
      const delay = this.readyDelay(o);
      if (delay === undefined) return;
      this.at(this.now + delay, () => this.setReady(ns, name, uid, true));
    });
  }

  /** Flip a pod's Ready condition (as the kubelet's probes would). */
  setReady(ns: string, name: string, uid: string | undefined, ready: boolean): void {
    const cur = this.store.pods.get(this.k(ns, name));
    if (!cur || (uid && cur.metadata.uid !== uid) || cur.metadata.deletionTimestamp) return;
    const o = clone(cur);
    o.status.conditions = (o.status.conditions ?? []).filter((c: KObject) => c.type !== 'Ready');
    o.status.conditions.push({ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: timeString(this.now) });
    o.status.containerStatuses = [{ name: 'c', ready, restartCount: 0 }];
    o.metadata.resourceVersion = String(++this.rv);
    this.store.pods.set(this.k(ns, name), o);
    this.emit('pods', 'MODIFIED', o);
  }

  // ---------------------------------------------------------------- informers

  private readonly rsLookup: ReplicaSetLookup = {
    get: (ns, name) => this.cache.replicasets.get(`${ns}/${name}`),
    list: (ns) => [...this.cache.replicasets.values()].filter((r) => namespaceOf(r) === ns),
  };

  private enqueueRS(r: EnqueueRequests): void {
    if (!this.opts.replicaSetController) return;
    for (const k of r.keys) this.rsQueue.add(k);
    for (const a of r.after) this.rsQueue.addAfter(a.key, a.delayMs);
  }

  private deploymentForRS(rs: KObject): KObject | undefined {
    const ref = controllerRefOf(rs);
    if (!ref || ref.kind !== 'Deployment') return undefined;
    const d = this.cache.deployments.get(`${namespaceOf(rs)}/${ref.name}`);
    return d && d.metadata.uid === ref.uid ? d : undefined;
  }

  private deploymentsSelecting(rs: KObject): KObject[] {
    return [...this.cache.deployments.values()].filter((d) => {
      if (namespaceOf(d) !== namespaceOf(rs)) return false;
      try {
        const sel = selectorFromLabelSelector(d.spec?.selector);
        return !sel.empty() && sel.matches(labelsOf(rs));
      } catch {
        return false;
      }
    });
  }

  private deliver(kind: Kind, type: WatchType, obj: KObject): void {
    const key = keyOf(obj);
    const old = this.cache[kind].get(key);
    if (type === 'DELETED') this.cache[kind].delete(key);
    else this.cache[kind].set(key, obj);
    const dctl = this.opts.deploymentController;
    switch (kind) {
      case 'pods':
        if (type === 'ADDED') this.enqueueRS(onPodAdded(obj, this.rsLookup, this.expectations));
        else if (type === 'MODIFIED') this.enqueueRS(onPodUpdated(old ?? obj, obj, this.rsLookup, this.expectations));
        else {
          this.enqueueRS(onPodDeleted(obj, this.rsLookup, this.expectations));
          // The Deployment controller's deletePod: Recreate waits for old pods to go.
          const ref = controllerRefOf(obj);
          const rs = ref ? this.rsLookup.get(namespaceOf(obj), ref.name) : undefined;
          const d = rs ? this.deploymentForRS(rs) : undefined;
          if (dctl && d && d.spec?.strategy?.type === 'Recreate') this.dQueue.add(keyOf(d));
        }
        break;
      case 'replicasets': {
        if (type === 'DELETED') this.expectations.deleteExpectations(key);
        if (this.opts.replicaSetController && type !== 'DELETED') this.rsQueue.add(key);
        if (!dctl) break;
        if (type === 'MODIFIED' && old) {
          const oldRef = controllerRefOf(old);
          const curRef = controllerRefOf(obj);
          if (oldRef && !semanticEqual(oldRef, curRef ?? null)) {
            const od = this.deploymentForRS(old);
            if (od) this.dQueue.add(keyOf(od));
          }
        }
        const d = this.deploymentForRS(obj);
        if (d) this.dQueue.add(keyOf(d));
        else if (!controllerRefOf(obj) && type !== 'DELETED') for (const x of this.deploymentsSelecting(obj)) this.dQueue.add(keyOf(x));
        break;
      }
      case 'deployments':
        if (dctl && type !== 'DELETED') this.dQueue.add(key);
        break;
    }
  }

  /** Wake a ReplicaSet's controller (e.g. a periodic resync). */
  resyncReplicaSet(ns: string, name: string): void {
    this.rsQueue.add(`${ns}/${name}`);
  }

  // -------------------------------------------------------------- controllers

  private readonly rsApi: ReplicaSetApi = {
    createPod: async (ns, pod) => {
      const err = this.opts.createPodError?.(pod);
      if (err) throw err;
      return this.create('pods', { ...pod, metadata: { ...pod.metadata, namespace: ns } });
    },
    deletePod: async (ns, name) => this.delete('pods', ns, name),
    patchPod: async (ns, name, patch) => void this.patchOwnerRefs('pods', ns, name, patch),
    updateReplicaSetStatus: async (rs) => this.updateStatus('replicasets', rs),
  };

  private readonly dApi: DeploymentApi = {
    createReplicaSet: async (ns, rs) => this.create('replicasets', { ...rs, metadata: { ...rs.metadata, namespace: ns } }),
    updateReplicaSet: async (_ns, rs) => this.update('replicasets', rs),
    deleteReplicaSet: async (ns, name) => this.delete('replicasets', ns, name),
    patchReplicaSet: async (ns, name, patch) => this.patchOwnerRefs('replicasets', ns, name, patch),
    updateDeploymentStatus: async (_ns, d) => this.updateStatus('deployments', d),
    patchDeployment: async (ns, name, patch) => void this.mergePatch('deployments', ns, name, patch),
  };

  private recordRS = (e: RecordedEvent) => this.events.push({ at: this.now, object: `ReplicaSet/${nameOf(e.object)}`, type: e.type, reason: e.reason, message: e.message });
  private recordD = (d: KObject, e: PlannedEvent) => this.events.push({ at: this.now, object: `Deployment/${nameOf(d)}`, ...e });

  private async syncReplicaSet(key: string): Promise<void> {
    this.stats.rsSyncs++;
    const rs = this.cache.replicasets.get(key);
    if (!rs) {
      this.expectations.deleteExpectations(key);
      return;
    }
    const pods = [...this.cache.pods.values()].filter((p) => namespaceOf(p) === namespaceOf(rs));
    const plan = reconcileReplicaSet(rs, pods, this.expectations, { now: this.now, replicaSets: this.rsLookup.list(namespaceOf(rs)) });
    const res = await executeReplicaSetPlan(rs, plan, this.rsApi, this.expectations, this.recordRS, () => this.now);
    if (res.error !== undefined) this.rsQueue.addRateLimited(key);
    else {
      this.rsQueue.forget(key);
      if (res.requeueAfterMs !== undefined) this.rsQueue.addAfter(key, res.requeueAfterMs);
    }
  }

  private async syncDeployment(key: string): Promise<void> {
    this.stats.dSyncs++;
    const d = this.cache.deployments.get(key);
    if (!d) return;
    const ns = namespaceOf(d);
    const plan = reconcileDeployment(d, this.rsLookup.list(ns), { now: this.now, pods: [...this.cache.pods.values()].filter((p) => namespaceOf(p) === ns) });
    const res = await executeDeploymentPlan(d, plan, this.dApi, this.recordD, () => this.now);
    if (res.error !== undefined) this.dQueue.addRateLimited(key);
    else {
      // kube: enqueueRateLimited inside the sync, then Forget after it succeeded.
      if (res.requeueRateLimited) this.dQueue.addRateLimited(key);
      this.dQueue.forget(key);
      if (res.requeueAfterMs !== undefined) this.dQueue.addAfter(key, res.requeueAfterMs);
    }
  }

  /** Process every queued key at the current time until the queues are empty. */
  async drain(): Promise<void> {
    for (let guard = 0; guard < 100_000; guard++) {
      const rsKey = this.rsQueue.take();
      if (rsKey !== undefined) {
        await this.syncReplicaSet(rsKey);
        continue;
      }
      const dKey = this.dQueue.take();
      if (dKey !== undefined) {
        await this.syncDeployment(dKey);
        continue;
      }
      return;
    }
    throw new Error('controllers did not settle');
  }

  /** Run timers and controllers until `until` (virtual ms). */
  async advanceTo(until: number): Promise<void> {
    await this.drain();
    for (;;) {
      const t = this.nextTimer();
      if (!t || t.at > until) break;
      this.now = t.at;
      const due = this.timers.filter((x) => x.at === t.at).sort((a, b) => a.seq - b.seq);
      this.timers = this.timers.filter((x) => x.at !== t.at);
      for (const x of due) x.fn();
      await this.drain();
    }
    this.now = Math.max(this.now, until);
  }

  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.now + ms);
  }

  /** Advance until `pred` holds (checked after every step) or `maxMs` passed; returns whether it held. */
  async runUntil(pred: () => boolean, maxMs = 600_000): Promise<boolean> {
    const end = this.now + maxMs;
    await this.drain();
    if (pred()) return true;
    for (;;) {
      const t = this.nextTimer();
      if (!t || t.at > end) {
        this.now = end;
        return pred();
      }
      this.now = t.at;
      const due = this.timers.filter((x) => x.at === t.at).sort((a, b) => a.seq - b.seq);
      this.timers = this.timers.filter((x) => x.at !== t.at);
      for (const x of due) x.fn();
      await this.drain();
      if (pred()) return true;
    }
  }

  // ------------------------------------------------------------ observations

  /** Pods of a namespace that are ready and not terminating (what a Service would route to). */
  availablePods(ns: string, selector?: Record<string, string>): KObject[] {
    return this.list('pods', ns).filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        (p.status?.conditions ?? []).some((c: KObject) => c.type === 'Ready' && c.status === 'True') &&
        (!selector || Object.entries(selector).every(([k, v]) => labelsOf(p)[k] === v)),
    );
  }

  /** Live (not terminating) pods controlled by the named ReplicaSet. */
  podsOf(ns: string, rsName: string): KObject[] {
    return this.list('pods', ns).filter((p) => !p.metadata.deletionTimestamp && controllerRefOf(p)?.name === rsName);
  }

  replicaSetsOf(ns: string, deploymentName: string): KObject[] {
    return this.list('replicasets', ns).filter((r) => controllerRefOf(r)?.name === deploymentName);
  }

  /** ReplicaSets selecting a pod (diagnostics). */
  selectingPod(pod: KObject): KObject[] {
    return replicaSetsSelectingPod(pod, this.rsLookup);
  }
}

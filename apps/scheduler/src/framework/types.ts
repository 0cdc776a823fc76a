/**
 * The scheduling framework's data types, after kube-scheduler's
 * pkg/scheduler/framework: Status, PodInfo, NodeInfo, the Snapshot the
 * algorithm reads, CycleState, cluster events and the plugin interfaces.
 */
import { selectorFromLabelSelector, type Selector } from '@kubets/api-machinery';
import {
  controllerOf,
  podKey,
  podPriority,
  type Node,
  type Pod,
  type ReplicaSet,
  type ReplicationController,
  type Service,
  type StatefulSet,
  type Taint,
  type LabelSelector,
} from './api-types';
import { allocatableOf, cloneResource, emptyResource, podNonZeroRequests, podRequests, type Resource } from './resources';

// ---------------------------------------------------------------------------
// Status

/** fwk.Code. */
export enum Code {
  Success = 0,
  Error = 1,
  /** The pod does not fit now; preemption might help. */
  Unschedulable = 2,
  /** The pod does not fit and preemption would not help (wrong node name, selector, taint...). */
  UnschedulableAndUnresolvable = 3,
  Wait = 4,
  /** A PreFilter / PreScore plugin has nothing to do for this pod: its Filter / Score is skipped. */
  Skip = 5,
  Pending = 6,
}

/** fwk.Status: a code, the reasons (shown in FailedScheduling events) and the plugin that returned it. */
export class Status {
  constructor(
    readonly code: Code,
    readonly reasons: readonly string[] = [],
    public plugin?: string,
  ) {}

  static unschedulable(...reasons: string[]): Status {
    return new Status(Code.Unschedulable, reasons);
  }

  static unresolvable(...reasons: string[]): Status {
    return new Status(Code.UnschedulableAndUnresolvable, reasons);
  }

  static skip(): Status {
    return new Status(Code.Skip);
  }

  static error(message: string): Status {
    return new Status(Code.Error, [message]);
  }

  /** Status.Message(): the reasons joined with ", ". */
  message(): string {
    return this.reasons.join(', ');
  }

  isSuccess(): boolean {
    return this.code === Code.Success;
  }

  isSkip(): boolean {
    return this.code === Code.Skip;
  }

  /** Unschedulable, UnschedulableAndUnresolvable or Pending. */
  isRejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable || this.code === Code.Pending;
  }

  withPlugin(plugin: string): this {
    this.plugin = plugin;
    return this;
  }
}

/** A plugin result: null (Go's nil *Status) means success. */
export type MaybeStatus = Status | null | undefined;

export function isSuccess(s: MaybeStatus): boolean {
  return !s || s.code === Code.Success;
}

/** MaxNodeScore: scores are 0..100 after normalization. */
export const MAX_NODE_SCORE = 100;
export const MIN_NODE_SCORE = 0;

// ---------------------------------------------------------------------------
// PodInfo and NodeInfo

/** A pod with what the scheduler derives from it, computed once. */
export class PodInfo {
  readonly key: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** Requests as fit counts them (resource.PodRequests). */
  readonly requests: Resource;
  /** Requests with container defaults (100m, 200Mi) for containers without one, for scoring. */
  readonly nonZero: { milliCPU: number; memory: number };
  readonly priority: number;
  /** uid of the controlling owner (ReplicaSet, StatefulSet, ...), if any. */
  readonly controllerUid: string | undefined;
  /** deletionTimestamp is set: the pod is going away (still counted for resources, not for spreading). */
  readonly terminating: boolean;

  constructor(readonly pod: Pod) {
    this.key = podKey(pod);
    this.namespace = pod.metadata?.namespace ?? '';
    this.labels = pod.metadata?.labels ?? {};
    this.requests = podRequests(pod);
    this.nonZero = podNonZeroRequests(pod);
    this.priority = podPriority(pod);
    this.controllerUid = controllerOf(pod.metadata)?.uid;
    this.terminating = !!pod.metadata?.deletionTimestamp;
  }
}

let generationCounter = 0;
function nextGeneration(): number {
  return ++generationCounter;
}

/**
 * NodeInfo: a node with the pods on it and their summed requests.
 * `requested` is what fit checks against `allocatable`; `nonZeroRequested`
 * (containers without requests count 100m / 200Mi) is what scoring uses.
 */
export class NodeInfo {
  private _node!: Node;
  private _name = '';
  private _labels: Record<string, string> = {};
  private _taints: readonly Taint[] = [];
  readonly pods: PodInfo[] = [];
  private readonly index = new Map<string, number>();
  requested: Resource = emptyResource();
  nonZeroRequested = { milliCPU: 0, memory: 0 };
  allocatable: Resource & { allowedPodNumber: number } = { ...emptyResource(), allowedPodNumber: 0 };
  /** Bumped on every change. */
  generation = nextGeneration();

  constructor(node: Node, pods: Iterable<Pod | PodInfo> = []) {
    this.setNode(node);
    for (const p of pods) this.addPod(p);
  }

  get node(): Node {
    return this._node;
  }

  get name(): string {
    return this._name;
  }

  get labels(): Record<string, string> {
    return this._labels;
  }

  get taints(): readonly Taint[] {
    return this._taints;
  }

  get unschedulable(): boolean {
    return this._node.spec?.unschedulable === true;
  }

  /** Requested cpu of the pods on the node, in millicores. */
  get requestedMilliCPU(): number {
    return this.requested.milliCPU;
  }

  /** Requested memory of the pods on the node, in bytes. */
  get requestedMemory(): number {
    return this.requested.memory;
  }

  get podCount(): number {
    return this.pods.length;
  }

  setNode(node: Node): void {
    this._node = node;
    this._name = node.metadata?.name ?? '';
    this._labels = node.metadata?.labels ?? {};
    this._taints = node.spec?.taints ?? [];
    this.allocatable = allocatableOf(node.status?.allocatable);
    this.generation = nextGeneration();
  }

  hasPod(key: string): boolean {
    return this.index.has(key);
  }

  addPod(pod: Pod | PodInfo): PodInfo {
    const info = pod instanceof PodInfo ? pod : new PodInfo(pod);
    const existing = this.index.get(info.key);
    if (existing !== undefined) this.removePod(info.key);
    this.index.set(info.key, this.pods.length);
    this.pods.push(info);
    this.update(info, 1);
    return info;
  }

  /** Removes a pod by key; false if it was not here. */
  removePod(key: string): boolean {
    const i = this.index.get(key);
    if (i === undefined) return false;
    const info = this.pods[i]!;
    const last = this.pods.pop()!;
    if (last !== info) {
      this.pods[i] = last;
      this.index.set(last.key, i);
    }
    this.index.delete(key);
    this.update(info, -1);
    return true;
  }

  private update(info: PodInfo, sign: 1 | -1): void {
    const r = info.requests;
    this.requested.milliCPU += sign * r.milliCPU;
    this.requested.memory += sign * r.memory;
    this.requested.ephemeralStorage += sign * r.ephemeralStorage;
    if (r.scalar) {
      for (const [k, v] of r.scalar) {
        this.requested.scalar ??= new Map();
        this.requested.scalar.set(k, (this.requested.scalar.get(k) ?? 0) + sign * v);
      }
    }
    this.nonZeroRequested.milliCPU += sign * info.nonZero.milliCPU;
    this.nonZeroRequested.memory += sign * info.nonZero.memory;
    this.generation = nextGeneration();
  }

  /** A copy that can be changed without touching this one (preemption's what-if). */
  clone(): NodeInfo {
    const c = Object.create(NodeInfo.prototype) as NodeInfo;
    Object.assign(c, {
      _node: this._node,
      _name: this._name,
      _labels: this._labels,
      _taints: this._taints,
      pods: [...this.pods],
      index: new Map(this.index),
      requested: cloneResource(this.requested),
      nonZeroRequested: { ...this.nonZeroRequested },
      allocatable: this.allocatable,
      generation: this.generation,
    });
    return c;
  }
}

// ---------------------------------------------------------------------------
// Snapshot

export type WorkloadKind = 'Service' | 'ReplicationController' | 'ReplicaSet' | 'StatefulSet';

/** Pods that no longer hold node resources. */
export function isTerminalPod(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

export interface SnapshotInput {
  nodes: Iterable<Node>;
  /** All pods; those with spec.nodeName (and not Succeeded/Failed) count against their node. */
  pods?: Iterable<Pod>;
  /** For default spreading: the services, RCs, ReplicaSets and StatefulSets that select a pod define "the same workload". */
  services?: Iterable<Service>;
  replicationControllers?: Iterable<ReplicationController>;
  replicaSets?: Iterable<ReplicaSet>;
  statefulSets?: Iterable<StatefulSet>;
}

function nsName(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ''}/${name ?? ''}`;
}

/**
 * What one scheduling cycle sees: the nodes (in a stable order, for the
 * round-robin start index), the pods bound or assumed on each, and the
 * workload objects default spreading looks up. It is also the scheduler
 * cache: the wiring keeps it current from informer events (add/update/remove
 * of nodes and pods) and assumes each pod onto its chosen node before the
 * binding is confirmed. It must not change while scheduleOne() runs.
 */
export class Snapshot {
  private readonly list: NodeInfo[] = [];
  private readonly byName = new Map<string, NodeInfo>();
  /** Bound pods whose node is not known (yet): node name -> pods. */
  private readonly orphans = new Map<string, Map<string, Pod>>();
  /** pod key -> node name, for every pod counted somewhere. */
  private readonly podNode = new Map<string, string>();
  private readonly servicesByNs = new Map<string, Map<string, Service>>();
  private readonly workloads = new Map<WorkloadKind, Map<string, ReplicaSet | ReplicationController>>();
  /** Bumped on every change. */
  generation = 0;

  static fromObjects(input: SnapshotInput): Snapshot {
    const s = new Snapshot();
    for (const n of input.nodes) s.addNode(n);
    for (const p of input.pods ?? []) s.addPod(p);
    for (const o of input.services ?? []) s.setWorkload('Service', o);
    for (const o of input.replicationControllers ?? []) s.setWorkload('ReplicationController', o);
    for (const o of input.replicaSets ?? []) s.setWorkload('ReplicaSet', o);
    for (const o of input.statefulSets ?? []) s.setWorkload('StatefulSet', o);
    return s;
  }

  /** The nodes in their stable order. */
  get nodeInfos(): readonly NodeInfo[] {
    return this.list;
  }

  get numNodes(): number {
    return this.list.length;
  }

  get(name: string): NodeInfo | undefined {
    return this.byName.get(name);
  }

  /** The node a pod is counted on, if any. */
  nodeOf(pod: Pod | string): string | undefined {
    return this.podNode.get(typeof pod === 'string' ? pod : podKey(pod));
  }

  // -- nodes

  addNode(node: Node): NodeInfo {
    const name = node.metadata?.name ?? '';
    const existing = this.byName.get(name);
    if (existing) {
      existing.setNode(node);
      this.generation++;
      return existing;
    }
    const info = new NodeInfo(node);
    this.list.push(info);
    this.byName.set(name, info);
    const waiting = this.orphans.get(name);
    if (waiting) {
      this.orphans.delete(name);
      for (const p of waiting.values()) info.addPod(p);
    }
    this.generation++;
    return info;
  }

  updateNode(node: Node): NodeInfo {
    return this.addNode(node);
  }

  /** Removes a node; its pods wait (uncounted) until they are deleted or the node comes back, as in kube's cache. */
  removeNode(name: string): void {
    const info = this.byName.get(name);
    if (!info) return;
    this.byName.delete(name);
    const i = this.list.indexOf(info);
    if (i >= 0) this.list.splice(i, 1);
    if (info.pods.length) {
      const waiting = new Map<string, Pod>();
      for (const p of info.pods) waiting.set(p.key, p.pod);
      this.orphans.set(name, waiting);
    }
    this.generation++;
  }

  // -- pods

  /** Counts a pod against spec.nodeName (ignored when unbound or Succeeded/Failed). */
  addPod(pod: Pod): void {
    const key = podKey(pod);
    const nodeName = pod.spec?.nodeName;
    this.removePodByKey(key);
    if (!nodeName || isTerminalPod(pod)) return;
    const info = this.byName.get(nodeName);
    if (info) info.addPod(pod);
    else {
      let waiting = this.orphans.get(nodeName);
      if (!waiting) this.orphans.set(nodeName, (waiting = new Map()));
      waiting.set(key, pod);
    }
    this.podNode.set(key, nodeName);
    this.generation++;
  }

  updatePod(pod: Pod): void {
    this.addPod(pod);
  }

  removePod(pod: Pod | string): void {
    this.removePodByKey(typeof pod === 'string' ? pod : podKey(pod));
  }

  private removePodByKey(key: string): void {
    const nodeName = this.podNode.get(key);
    if (nodeName === undefined) return;
    this.podNode.delete(key);
    const info = this.byName.get(nodeName);
    if (info) info.removePod(key);
    else this.orphans.get(nodeName)?.delete(key);
    this.generation++;
  }

  /**
   * Assume: count the pod on `nodeName` before the binding is confirmed, so
   * the next cycle sees its resources (kube's Cache.AssumePod). Returns the
   * assumed copy (spec.nodeName set).
   */
  assumePod(pod: Pod, nodeName: string): Pod {
    const assumed: Pod = { ...pod, spec: { ...(pod.spec ?? {}), nodeName } };
    this.addPod(assumed);
    return assumed;
  }

  /** Undo an assume (binding failed). */
  forgetPod(pod: Pod | string): void {
    this.removePod(pod);
  }

  // -- workloads (for default spreading)

  setWorkload(kind: WorkloadKind, obj: Service | ReplicaSet | ReplicationController): void {
    const key = nsName(obj.metadata?.namespace, obj.metadata?.name);
    if (kind === 'Service') {
      const ns = obj.metadata?.namespace ?? '';
      let m = this.servicesByNs.get(ns);
      if (!m) this.servicesByNs.set(ns, (m = new Map()));
      m.set(obj.metadata?.name ?? '', obj as Service);
    } else {
      let m = this.workloads.get(kind);
      if (!m) this.workloads.set(kind, (m = new Map()));
      m.set(key, obj as ReplicaSet);
    }
    this.generation++;
  }

  deleteWorkload(kind: WorkloadKind, obj: { metadata?: { namespace?: string; name?: string } }): void {
    if (kind === 'Service') this.servicesByNs.get(obj.metadata?.namespace ?? '')?.delete(obj.metadata?.name ?? '');
    else this.workloads.get(kind)?.delete(nsName(obj.metadata?.namespace, obj.metadata?.name));
    this.generation++;
  }

  servicesIn(namespace: string): Iterable<Service> {
    return this.servicesByNs.get(namespace)?.values() ?? [];
  }

  workload(kind: Exclude<WorkloadKind, 'Service'>, namespace: string, name: string): ReplicaSet | ReplicationController | undefined {
    return this.workloads.get(kind)?.get(nsName(namespace, name));
  }

  /** Whether any workload objects were given at all (else spreading falls back to the controller uid). */
  get hasWorkloadObjects(): boolean {
    if (this.servicesByNs.size) return true;
    for (const m of this.workloads.values()) if (m.size) return true;
    return false;
  }
}

/** metav1.LabelSelectorAsSelector that never throws: an invalid selector selects nothing. */
export function safeSelector(ls: LabelSelector | null | undefined): Selector | undefined {
  try {
    return selectorFromLabelSelector(ls as Parameters<typeof selectorFromLabelSelector>[0]);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// CycleState

/** Per-cycle scratch space plugins share (PreFilter writes, Filter reads...). */
export class CycleState {
  private readonly data = new Map<string, unknown>();
  /** Plugins whose PreFilter returned Skip: their Filter does not run. */
  readonly skipFilterPlugins = new Set<string>();
  /** Plugins whose PreScore returned Skip: their Score does not run. */
  readonly skipScorePlugins = new Set<string>();

  constructor(readonly snapshot: Snapshot) {}

  read<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  /** Clone for what-if evaluation (preemption); values are shared, as kube's StateData.Clone of immutable data. */
  clone(): CycleState {
    const c = new CycleState(this.snapshot);
    for (const [k, v] of this.data) c.data.set(k, v);
    for (const p of this.skipFilterPlugins) c.skipFilterPlugins.add(p);
    for (const p of this.skipScorePlugins) c.skipScorePlugins.add(p);
    return c;
  }
}

// ---------------------------------------------------------------------------
// Cluster events (what may make an unschedulable pod schedulable)

/** fwk.EventResource. AssignedPod / UnschedulablePod are the two halves of Pod. */
export type EventResource = 'Pod' | 'AssignedPod' | 'UnschedulablePod' | 'Node' | '*';

/** fwk.ActionType bits. */
export const ActionType = {
  Add: 1 << 0,
  Delete: 1 << 1,
  UpdateNodeAllocatable: 1 << 2,
  UpdateNodeLabel: 1 << 3,
  UpdateNodeTaint: 1 << 4,
  UpdateNodeCondition: 1 << 5,
  UpdateNodeAnnotation: 1 << 6,
  UpdatePodLabel: 1 << 7,
  UpdatePodScaleDown: 1 << 8,
  UpdatePodToleration: 1 << 9,
  UpdatePodSchedulingGatesEliminated: 1 << 10,
  UpdatePodGeneratedResourceClaim: 1 << 11,
  /** Any update. */
  Update: (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11),
  All: (1 << 12) - 1,
} as const;

export interface ClusterEvent {
  resource: EventResource;
  actionType: number;
  /** For logs and metrics, e.g. "NodeAdd", "AssignedPodDelete", "UnschedulableTimeout". */
  label?: string;
}

export function isWildCardEvent(e: ClusterEvent): boolean {
  return e.resource === '*' && e.actionType === ActionType.All;
}

function matchEventResources(registered: EventResource, incoming: EventResource): boolean {
  return registered === '*' || registered === incoming || (registered === 'Pod' && (incoming === 'AssignedPod' || incoming === 'UnschedulablePod'));
}

/** framework.MatchClusterEvents: the incoming event is the same as, or more specific than, the registered one. */
export function matchClusterEvents(registered: ClusterEvent, incoming: ClusterEvent): boolean {
  return (
    isWildCardEvent(registered) ||
    (matchEventResources(registered.resource, incoming.resource) &&
      (registered.actionType & incoming.actionType) !== 0 &&
      incoming.actionType <= registered.actionType)
  );
}

// ---------------------------------------------------------------------------
// Plugins

export interface NodeScore {
  name: string;
  score: number;
}

/** PreFilterResult: when set, only these nodes are worth filtering (undefined: all nodes). */
export interface PreFilterResult {
  nodeNames?: ReadonlySet<string>;
}

export interface Plugin {
  readonly name: string;
}

export interface PreFilterPlugin extends Plugin {
  /** Runs once per cycle; Skip turns this plugin's Filter off for the cycle. */
  preFilter(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): { result?: PreFilterResult; status?: MaybeStatus };
}

export interface FilterPlugin extends Plugin {
  /** null: the node fits; else Unschedulable / UnschedulableAndUnresolvable with reasons. */
  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus;
}

export interface PreScorePlugin extends Plugin {
  /** Runs once per cycle with the feasible nodes; Skip turns this plugin's Score off for the cycle. */
  preScore(state: CycleState, pod: Pod, nodes: readonly NodeInfo[]): MaybeStatus;
}

export interface ScorePlugin extends Plugin {
  /** A raw score for one node. After normalizeScore (if any), scores must be in 0..100. */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number;
  /** Rewrites the raw scores of all feasible nodes in place into 0..100. */
  normalizeScore?(state: CycleState, pod: Pod, scores: NodeScore[]): void;
}

export interface PostFilterResult {
  /** Nodes where preemption could make room (victims are not evicted by this core). */
  candidates?: string[];
}

export interface PostFilterPlugin extends Plugin {
  /** Runs when no node fits; the returned status' message is appended to the FailedScheduling message. */
  postFilter(state: CycleState, pod: Pod, nodeToStatus: NodeToStatusReader): { result?: PostFilterResult; status: Status };
}

/** EnqueueExtensions: the cluster events that may make a pod this plugin rejected schedulable. */
export interface EnqueueExtensions {
  eventsToRegister(): ClusterEvent[];
}

export function isPreFilterPlugin(p: Plugin): p is PreFilterPlugin {
  return typeof (p as PreFilterPlugin).preFilter === 'function';
}
export function isFilterPlugin(p: Plugin): p is FilterPlugin {
  return typeof (p as FilterPlugin).filter === 'function';
}
export function isPreScorePlugin(p: Plugin): p is PreScorePlugin {
  return typeof (p as PreScorePlugin).preScore === 'function';
}
export function isScorePlugin(p: Plugin): p is ScorePlugin {
  return typeof (p as ScorePlugin).score === 'function';
}
export function isPostFilterPlugin(p: Plugin): p is PostFilterPlugin {
  return typeof (p as PostFilterPlugin).postFilter === 'function';
}
export function hasEnqueueExtensions(p: Plugin): p is Plugin & EnqueueExtensions {
  return typeof (p as Plugin & EnqueueExtensions).eventsToRegister === 'function';
}

/** Read access to the per-node statuses of a failed cycle (framework.NodeToStatusReader). */
export interface NodeToStatusReader {
  /** The status of a node: its explicit one, or the status of absent nodes. */
  get(nodeName: string): Status;
}

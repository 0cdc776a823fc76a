/**
 * The fields of Kubernetes objects the scheduler reads. Objects arrive as
 * Kubernetes JSON; every field is optional where Kubernetes lets it be absent.
 * The shapes are structural subsets, so the richer types of @kubets/client
 * (Pod, Node, ...) are assignable to them.
 */

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean | null;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string | null;
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
  ownerReferences?: OwnerReference[] | null;
}

/** A quantity as it appears in JSON: "500m", "128Mi", or (from careless clients) a number. */
export type ResourceList = Record<string, string | number>;

export interface Toleration {
  key?: string;
  /** "Exists" or "Equal" (the default when empty). */
  operator?: string;
  value?: string;
  /** "NoSchedule", "PreferNoSchedule", "NoExecute", or empty for all effects. */
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string | null;
}

export interface Container {
  name?: string;
  resources?: { requests?: ResourceList | null; limits?: ResourceList | null } | null;
  /** "Always" on an init container makes it a sidecar (restartable init container). */
  restartPolicy?: string | null;
}

export interface NodeSelectorRequirement {
  key: string;
  /** In, NotIn, Exists, DoesNotExist, Gt, Lt. */
  operator: string;
  values?: string[] | null;
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[] | null;
  matchFields?: NodeSelectorRequirement[] | null;
}

export interface NodeSelector {
  nodeSelectorTerms?: NodeSelectorTerm[] | null;
}

export interface PreferredSchedulingTerm {
  weight: number;
  preference: NodeSelectorTerm;
}

/** core/v1 NodeAffinity (named so to leave NodeAffinity to the plugin). */
export interface NodeAffinitySpec {
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector | null;
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[] | null;
}

export interface Affinity {
  nodeAffinity?: NodeAffinitySpec | null;
  podAffinity?: unknown;
  podAntiAffinity?: unknown;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[] | null;
}

export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: LabelSelectorRequirement[] | null;
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  /** "DoNotSchedule" or "ScheduleAnyway". */
  whenUnsatisfiable: string;
  labelSelector?: LabelSelector | null;
  matchLabelKeys?: string[] | null;
  minDomains?: number | null;
  /** "Honor" (default) or "Ignore". */
  nodeAffinityPolicy?: string | null;
  /** "Honor" or "Ignore" (default). */
  nodeTaintsPolicy?: string | null;
}

export interface PodSpec {
  nodeName?: string;
  nodeSelector?: Record<string, string> | null;
  affinity?: Affinity | null;
  tolerations?: Toleration[] | null;
  containers?: Container[] | null;
  initContainers?: Container[] | null;
  overhead?: ResourceList | null;
  priority?: number | null;
  priorityClassName?: string;
  /** "PreemptLowerPriority" (default) or "Never". */
  preemptionPolicy?: string | null;
  schedulerName?: string;
  topologySpreadConstraints?: TopologySpreadConstraint[] | null;
}

export interface PodStatus {
  phase?: string;
  nominatedNodeName?: string;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: PodSpec;
  status?: PodStatus;
}

export interface NodeSpec {
  unschedulable?: boolean | null;
  taints?: Taint[] | null;
}

export interface NodeStatus {
  capacity?: ResourceList | null;
  allocatable?: ResourceList | null;
  conditions?: Array<{ type: string; status: string; lastHeartbeatTime?: string | null; [k: string]: unknown }> | null;
}

export interface Node {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: NodeSpec;
  status?: NodeStatus;
}

/** Services, ReplicationControllers (map selectors) and ReplicaSets, StatefulSets (LabelSelector) select pods for default spreading. */
export interface Service {
  metadata?: ObjectMeta;
  spec?: { selector?: Record<string, string> | null } | null;
}

export interface ReplicationController {
  metadata?: ObjectMeta;
  spec?: { selector?: Record<string, string> | null } | null;
}

export interface ReplicaSet {
  metadata?: ObjectMeta;
  spec?: { selector?: LabelSelector | null } | null;
}

export type StatefulSet = ReplicaSet;

/** Well-known labels and taints. */
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** A pod's key in the scheduler: its uid, or namespace/name for objects without one (tests). */
export function podKey(pod: Pod): string {
  const m = pod.metadata ?? {};
  return m.uid || `${m.namespace ?? ''}/${m.name ?? ''}`;
}

export function podPriority(pod: Pod): number {
  const p = pod.spec?.priority;
  return typeof p === 'number' && Number.isFinite(p) ? p : 0;
}

/** The controlling owner reference (metav1.GetControllerOf). */
export function controllerOf(meta: ObjectMeta | undefined): OwnerReference | undefined {
  for (const ref of meta?.ownerReferences ?? []) if (ref && ref.controller === true) return ref;
  return undefined;
}

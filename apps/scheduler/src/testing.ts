/**
 * Object builders for tests and benchmarks (kube's st.MakeNode / st.MakePod
 * in spirit). Exported so bench/scheduler can build clusters the same way.
 */
import type { Affinity, Container, Node, OwnerReference, Pod, ResourceList, Taint, Toleration, TopologySpreadConstraint } from './framework/api-types';
import { LABEL_HOSTNAME } from './framework/api-types';

export interface NodeOptions {
  cpu?: string;
  memory?: string;
  pods?: string | number;
  ephemeralStorage?: string;
  /** More allocatable entries (extended resources). */
  allocatable?: ResourceList;
  labels?: Record<string, string>;
  taints?: Taint[];
  unschedulable?: boolean;
  /** Leave out the kubernetes.io/hostname label the kubelet sets. */
  noHostnameLabel?: boolean;
}

export function makeNode(name: string, opts: NodeOptions = {}): Node {
  const allocatable: ResourceList = {
    cpu: opts.cpu ?? '4',
    memory: opts.memory ?? '8Gi',
    pods: opts.pods ?? '110',
    ...(opts.ephemeralStorage ? { 'ephemeral-storage': opts.ephemeralStorage } : {}),
    ...(opts.allocatable ?? {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `node-uid-${name}`,
      labels: { ...(opts.noHostnameLabel ? {} : { [LABEL_HOSTNAME]: name }), ...(opts.labels ?? {}) },
    },
    spec: { unschedulable: opts.unschedulable, taints: opts.taints },
    status: { capacity: { ...allocatable }, allocatable },
  };
}

export interface PodOptions {
  namespace?: string;
  uid?: string;
  /** Requests of a single container; use `containers` for more. */
  cpu?: string;
  memory?: string;
  requests?: ResourceList;
  containers?: Container[];
  initContainers?: Container[];
  overhead?: ResourceList;
  nodeName?: string;
  labels?: Record<string, string>;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  priority?: number;
  preemptionPolicy?: 'Never' | 'PreemptLowerPriority';
  /** The controlling owner. */
  owner?: Partial<OwnerReference> & { kind: string; name: string };
  phase?: string;
  deletionTimestamp?: string;
  topologySpreadConstraints?: TopologySpreadConstraint[];
  creationTimestamp?: string;
}

export function makePod(name: string, opts: PodOptions = {}): Pod {
  const namespace = opts.namespace ?? 'default';
  const requests: ResourceList = { ...(opts.cpu ? { cpu: opts.cpu } : {}), ...(opts.memory ? { memory: opts.memory } : {}), ...(opts.requests ?? {}) };
  const containers: Container[] = opts.containers ?? [{ name: 'app', resources: Object.keys(requests).length ? { requests } : {} }];
  const owner = opts.owner
    ? [
        {
          apiVersion: opts.owner.apiVersion ?? (opts.owner.kind === 'ReplicationController' ? 'v1' : 'apps/v1'),
          kind: opts.owner.kind,
          name: opts.owner.name,
          uid: opts.owner.uid ?? `uid-${opts.owner.kind}-${opts.owner.name}`,
          controller: opts.owner.controller ?? true,
        },
      ]
    : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid: opts.uid ?? `uid-${namespace}-${name}`,
      labels: opts.labels,
      ownerReferences: owner,
      deletionTimestamp: opts.deletionTimestamp,
      creationTimestamp: opts.creationTimestamp,
    },
    spec: {
      nodeName: opts.nodeName,
      nodeSelector: opts.nodeSelector,
      affinity: opts.affinity,
      tolerations: opts.tolerations,
      containers,
      initContainers: opts.initContainers,
      overhead: opts.overhead,
      priority: opts.priority,
      preemptionPolicy: opts.preemptionPolicy,
      topologySpreadConstraints: opts.topologySpreadConstraints,
      schedulerName: 'default-scheduler',
    },
    status: { phase: opts.phase ?? 'Pending' },
  };
}

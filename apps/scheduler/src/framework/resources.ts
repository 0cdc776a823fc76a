/**
 * Pod resource requests as the scheduler counts them (component-helpers'
 * resource.PodRequests and the scheduler's Resource type):
 *
 * - regular containers run together: their requests add up;
 * - init containers run one after another: the pod needs the largest of them,
 *   where a restartable init container (sidecar, restartPolicy Always) keeps
 *   running, so it adds to every later init container and to the regular
 *   containers;
 * - the pod overhead (RuntimeClass) is added on top.
 *
 * cpu is counted in millicores, memory and ephemeral-storage in bytes;
 * extended resources (example.com/gpu) and hugepages-* as whole units.
 */
import type { Pod, ResourceList } from './api-types';
import { milliValueOf, valueOf } from './quantity';

/** schedutil.DefaultMilliCPURequest: 0.1 core for containers without a cpu request (scoring only). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** schedutil.DefaultMemoryRequest: 200 MiB for containers without a memory request (scoring only). */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

export interface Resource {
  milliCPU: number;
  memory: number;
  ephemeralStorage: number;
  /** Extended and hugepages resources, whole units; absent when none. */
  scalar?: Map<string, number>;
}

export function emptyResource(): Resource {
  return { milliCPU: 0, memory: 0, ephemeralStorage: 0 };
}

export function cloneResource(r: Resource): Resource {
  const c: Resource = { milliCPU: r.milliCPU, memory: r.memory, ephemeralStorage: r.ephemeralStorage };
  if (r.scalar && r.scalar.size) c.scalar = new Map(r.scalar);
  return c;
}

/** v1helper.IsExtendedResourceName: a domain-qualified name outside kubernetes.io, not "requests.*". */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes('/') || name.includes('kubernetes.io/')) return false; // native resource
  if (name.startsWith('requests.')) return false;
  return /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

/** schedutil.IsScalarResourceName: extended, hugepages-*, or attachable-volumes-*. */
export function isScalarResourceName(name: string): boolean {
  return isExtendedResourceName(name) || name.startsWith('hugepages-') || name.startsWith('attachable-volumes-');
}

/** framework.Resource.Add(ResourceList): cpu, memory, ephemeral-storage and scalars (pods is handled by the caller). */
export function addResourceList(into: Resource, list: ResourceList | null | undefined): void {
  if (!list) return;
  for (const name of Object.keys(list)) {
    const q = list[name];
    switch (name) {
      case 'cpu':
        into.milliCPU += milliValueOf(q);
        break;
      case 'memory':
        into.memory += valueOf(q);
        break;
      case 'ephemeral-storage':
        into.ephemeralStorage += valueOf(q);
        break;
      case 'pods':
        break;
      default:
        if (isScalarResourceName(name)) {
          into.scalar ??= new Map();
          into.scalar.set(name, (into.scalar.get(name) ?? 0) + valueOf(q));
        }
    }
  }
}

function addResource(into: Resource, r: Resource): void {
  into.milliCPU += r.milliCPU;
  into.memory += r.memory;
  into.ephemeralStorage += r.ephemeralStorage;
  if (r.scalar) {
    for (const [k, v] of r.scalar) {
      into.scalar ??= new Map();
      into.scalar.set(k, (into.scalar.get(k) ?? 0) + v);
    }
  }
}

/** maxResourceList: each resource of `into` becomes the larger of the two. */
function maxResource(into: Resource, r: Resource): void {
  into.milliCPU = Math.max(into.milliCPU, r.milliCPU);
  into.memory = Math.max(into.memory, r.memory);
  into.ephemeralStorage = Math.max(into.ephemeralStorage, r.ephemeralStorage);
  if (r.scalar) {
    for (const [k, v] of r.scalar) {
      into.scalar ??= new Map();
      into.scalar.set(k, Math.max(into.scalar.get(k) ?? 0, v));
    }
  }
}

export interface PodRequestOptions {
  /**
   * NonMissingContainerRequests: a container without a cpu (memory) request
   * counts as requesting this much. Used for the "non-zero" requests that
   * scoring spreads by, so best-effort pods do not all pile onto one node.
   */
  nonMissing?: { milliCPU: number; memory: number };
}

function containerRequests(requests: ResourceList | null | undefined, opts: PodRequestOptions): Resource {
  const r = emptyResource();
  addResourceList(r, requests);
  if (opts.nonMissing) {
    if (!requests || !Object.prototype.hasOwnProperty.call(requests, 'cpu')) r.milliCPU = opts.nonMissing.milliCPU;
    if (!requests || !Object.prototype.hasOwnProperty.call(requests, 'memory')) r.memory = opts.nonMissing.memory;
  }
  return r;
}

/** resource.PodRequests: what the pod asks of a node (see the module comment). */
export function podRequests(pod: Pod, opts: PodRequestOptions = {}): Resource {
  const spec = pod.spec ?? {};
  const reqs = emptyResource();
  for (const c of spec.containers ?? []) addResource(reqs, containerRequests(c?.resources?.requests, opts));

  const restartable = emptyResource();
  const initMax = emptyResource();
  for (const c of spec.initContainers ?? []) {
    let use = containerRequests(c?.resources?.requests, opts);
    if (c?.restartPolicy === 'Always') {
      // A sidecar keeps running next to the regular containers and every later init container.
      addResource(reqs, use);
      addResource(restartable, use);
      use = restartable;
    } else {
      const tmp = emptyResource();
      addResource(tmp, use);
      addResource(tmp, restartable);
      use = tmp;
    }
    maxResource(initMax, use);
  }
  maxResource(reqs, initMax);
  addResourceList(reqs, spec.overhead);
  return reqs;
}

/** The default non-zero requests the scheduler scores with (PodInfo.CalculateResource's Non0CPU / Non0Mem). */
export function podNonZeroRequests(pod: Pod): { milliCPU: number; memory: number } {
  const r = podRequests(pod, { nonMissing: { milliCPU: DEFAULT_MILLI_CPU_REQUEST, memory: DEFAULT_MEMORY_REQUEST } });
  return { milliCPU: r.milliCPU, memory: r.memory };
}

/** Node allocatable as the scheduler reads it (framework.NewResource(node.status.allocatable)). */
export function allocatableOf(list: ResourceList | null | undefined): Resource & { allowedPodNumber: number } {
  const r = emptyResource();
  addResourceList(r, list);
  return { ...r, allowedPodNumber: list && list.pods !== undefined ? valueOf(list.pods) : 0 };
}

/** True when nothing is requested (a best-effort pod as far as fit is concerned). */
export function isZeroResource(r: Resource): boolean {
  if (r.milliCPU !== 0 || r.memory !== 0 || r.ephemeralStorage !== 0) return false;
  return !r.scalar || r.scalar.size === 0;
}

/**
 * NodeResourcesFit: the pod's requests (containers summed, init containers by
 * the max rule, sidecars, overhead) must fit in the node's allocatable minus
 * what its pods already request, and the node must have room for one more pod.
 * Scores with the LeastAllocated strategy (the default): the more room left,
 * the higher, computed with non-zero requests (100m / 200Mi per container
 * without a request) so best-effort pods spread too.
 */
import type { Pod } from '../api-types';
import { DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, isZeroResource, podRequests, type Resource } from '../resources';
import {
  ActionType,
  Code,
  MAX_NODE_SCORE,
  Status,
  type ClusterEvent,
  type CycleState,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type NodeInfo,
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type ScorePlugin,
} from '../types';
import { PluginNames } from './names';

export const REASON_TOO_MANY_PODS = 'Too many pods';
export const REASON_INSUFFICIENT_CPU = 'Insufficient cpu';
export const REASON_INSUFFICIENT_MEMORY = 'Insufficient memory';
export const REASON_INSUFFICIENT_EPHEMERAL_STORAGE = 'Insufficient ephemeral-storage';

const { trunc } = Math;

const PRE_FILTER_KEY = 'PreFilter' + PluginNames.NodeResourcesFit;
const PRE_SCORE_KEY = 'PreScore' + PluginNames.NodeResourcesFit;

/** A resource scoring looks at, with its weight (config.ResourceSpec). */
export interface ResourceSpec {
  name: string;
  weight: number;
}

/** The default resources for scoring: cpu and memory, weight 1 each. */
export const DEFAULT_SCORING_RESOURCES: readonly ResourceSpec[] = [
  { name: 'cpu', weight: 1 },
  { name: 'memory', weight: 1 },
];

export interface InsufficientResource {
  resourceName: string;
  reason: string;
  requested: number;
  used: number;
  capacity: number;
  /** The request exceeds the node's whole allocatable: preemption cannot help. */
  unresolvable: boolean;
}

/** Whether the request fits (the allocation-free check fitsRequest makes). */
export function fits(req: Resource, nodeInfo: NodeInfo): boolean {
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) return false;
  if (req.milliCPU > 0 && req.milliCPU > alloc.milliCPU - used.milliCPU) return false;
  if (req.memory > 0 && req.memory > alloc.memory - used.memory) return false;
  if (req.ephemeralStorage > 0 && req.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) return false;
  if (req.scalar) {
    for (const [name, q] of req.scalar) {
      if (q !== 0 && q > (alloc.scalar?.get(name) ?? 0) - (used.scalar?.get(name) ?? 0)) return false;
    }
  }
  return true;
}

/** fitsRequest: everything the node lacks for this request, in kube's order (pods, cpu, memory, ephemeral-storage, scalars). */
export function fitsRequest(req: Resource, nodeInfo: NodeInfo): InsufficientResource[] {
  const out: InsufficientResource[] = [];
  const alloc = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > alloc.allowedPodNumber) {
    out.push({
      resourceName: 'pods',
      reason: REASON_TOO_MANY_PODS,
      requested: 1,
      used: nodeInfo.pods.length,
      capacity: alloc.allowedPodNumber,
      unresolvable: false,
    });
  }
  if (isZeroResource(req)) return out;
  if (req.milliCPU > 0 && req.milliCPU > alloc.milliCPU - used.milliCPU) {
    out.push({
      resourceName: 'cpu',
      reason: REASON_INSUFFICIENT_CPU,
      requested: req.milliCPU,
      used: used.milliCPU,
      capacity: alloc.milliCPU,
      unresolvable: req.milliCPU > alloc.milliCPU,
    });
  }
  if (req.memory > 0 && req.memory > alloc.memory - used.memory) {
    out.push({
      resourceName: 'memory',
      reason: REASON_INSUFFICIENT_MEMORY,
      requested: req.memory,
      used: used.memory,
      capacity: alloc.memory,
      unresolvable: req.memory > alloc.memory,
    });
  }
  if (req.ephemeralStorage > 0 && req.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage) {
    out.push({
      resourceName: 'ephemeral-storage',
      reason: REASON_INSUFFICIENT_EPHEMERAL_STORAGE,
      requested: req.ephemeralStorage,
      used: used.ephemeralStorage,
      capacity: alloc.ephemeralStorage,
      unresolvable: req.ephemeralStorage > alloc.ephemeralStorage,
    });
  }
  if (req.scalar) {
    for (const [name, q] of req.scalar) {
      if (q === 0) continue;
      const have = alloc.scalar?.get(name) ?? 0;
      const inUse = used.scalar?.get(name) ?? 0;
      if (q > have - inUse) {
        out.push({ resourceName: name, reason: `Insufficient ${name}`, requested: q, used: inUse, capacity: have, unresolvable: q > have });
      }
    }
  }
  return out;
}

/** leastRequestedScore: (capacity - requested) * 100 / capacity, 0 when over capacity. */
export function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  if (requested > capacity) return 0;
  return trunc(((capacity - requested) * MAX_NODE_SCORE) / capacity);
}

/** A pod's requests for the scoring resources: non-zero defaults unless `useRequested`. */
export function scoringRequests(pod: Pod, resources: readonly ResourceSpec[], useRequested: boolean): number[] {
  const r = useRequested
    ? podRequests(pod)
    : podRequests(pod, { nonMissing: { milliCPU: DEFAULT_MILLI_CPU_REQUEST, memory: DEFAULT_MEMORY_REQUEST } });
  return resources.map((spec) => resourceAmount(r, spec.name));
}

function resourceAmount(r: Resource, name: string): number {
  switch (name) {
    case 'cpu':
      return r.milliCPU;
    case 'memory':
      return r.memory;
    case 'ephemeral-storage':
      return r.ephemeralStorage;
    default:
      return r.scalar?.get(name) ?? 0;
  }
}

/**
 * resourceAllocationScorer.calculateResourceAllocatableRequest: [allocatable,
 * requested on the node + the pod's request]. cpu and memory use the node's
 * non-zero requests unless `useRequested`; a scalar resource the pod does not
 * request is left out (0, 0).
 */
export function allocatableAndRequested(nodeInfo: NodeInfo, name: string, podRequest: number, useRequested: boolean): [number, number] {
  const requested = nodeInfo.requested;
  switch (name) {
    case 'cpu':
      return [nodeInfo.allocatable.milliCPU, (useRequested ? requested.milliCPU : nodeInfo.nonZeroRequested.milliCPU) + podRequest];
    case 'memory':
      return [nodeInfo.allocatable.memory, (useRequested ? requested.memory : nodeInfo.nonZeroRequested.memory) + podRequest];
    case 'ephemeral-storage':
      return [nodeInfo.allocatable.ephemeralStorage, requested.ephemeralStorage + podRequest];
    default: {
      if (podRequest === 0) return [0, 0];
      const alloc = nodeInfo.allocatable.scalar?.get(name);
      if (alloc === undefined) return [0, 0];
      return [alloc, (requested.scalar?.get(name) ?? 0) + podRequest];
    }
  }
}

/** Reusable vectors for scoreResourceAllocation (scoring is synchronous, so one pair per plugin suffices). */
export interface ScoreScratch {
  requested: number[];
  allocatable: number[];
}

export function newScoreScratch(n: number): ScoreScratch {
  return { requested: new Array<number>(n).fill(0), allocatable: new Array<number>(n).fill(0) };
}

/** Builds the per-resource vectors and hands them to `scorer` (resourceAllocationScorer.score). */
export function scoreResourceAllocation(
  nodeInfo: NodeInfo,
  resources: readonly ResourceSpec[],
  podRequestList: readonly number[],
  useRequested: boolean,
  scorer: (requested: number[], allocatable: number[]) => number,
  scratch: ScoreScratch = newScoreScratch(resources.length),
): number {
  const { requested, allocatable } = scratch;
  for (let i = 0; i < resources.length; i++) {
    requested[i] = 0;
    allocatable[i] = 0;
    const name = resources[i]!.name;
    const podRequest = podRequestList[i]!;
    // cpu and memory inline (the hot path); the rest through allocatableAndRequested.
    if (name === 'cpu') {
      allocatable[i] = nodeInfo.allocatable.milliCPU;
      requested[i] = (useRequested ? nodeInfo.requested.milliCPU : nodeInfo.nonZeroRequested.milliCPU) + podRequest;
    } else if (name === 'memory') {
      allocatable[i] = nodeInfo.allocatable.memory;
      requested[i] = (useRequested ? nodeInfo.requested.memory : nodeInfo.nonZeroRequested.memory) + podRequest;
    } else {
      const [alloc, req] = allocatableAndRequested(nodeInfo, name, podRequest, useRequested);
      allocatable[i] = alloc;
      requested[i] = req;
    }
    if (allocatable[i] === 0) requested[i] = 0;
  }
  return scorer(requested, allocatable);
}

/** leastResourceScorer: the weighted mean of leastRequestedScore over the resources the node has. */
export function leastAllocatedScorer(resources: readonly ResourceSpec[]): (requested: number[], allocatable: number[]) => number {
  return (requested, allocatable) => {
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < requested.length; i++) {
      if (allocatable[i] === 0) continue;
      const weight = resources[i]!.weight;
      nodeScore += leastRequestedScore(requested[i]!, allocatable[i]!) * weight;
      weightSum += weight;
    }
    if (weightSum === 0) return 0;
    return trunc(nodeScore / weightSum);
  };
}

export interface FitOptions {
  /** Resources and weights for scoring (default cpu:1, memory:1). */
  scoringResources?: readonly ResourceSpec[];
}

export class NodeResourcesFit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = PluginNames.NodeResourcesFit;
  private readonly resources: readonly ResourceSpec[];
  private readonly scorer: (requested: number[], allocatable: number[]) => number;
  private readonly scratch: ScoreScratch;

  constructor(opts: FitOptions = {}) {
    this.resources = opts.scoringResources ?? DEFAULT_SCORING_RESOURCES;
    this.scorer = leastAllocatedScorer(this.resources);
    this.scratch = newScoreScratch(this.resources.length);
  }

  preFilter(state: CycleState, pod: Pod): { result?: PreFilterResult; status?: MaybeStatus } {
    state.write(PRE_FILTER_KEY, podRequests(pod));
    return {};
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus {
    const req = state.read<Resource>(PRE_FILTER_KEY) ?? podRequests(pod);
    if (fits(req, nodeInfo)) return null;
    const insufficient = fitsRequest(req, nodeInfo);
    let code = Code.Unschedulable;
    const reasons: string[] = [];
    for (const r of insufficient) {
      reasons.push(r.reason);
      if (r.unresolvable) code = Code.UnschedulableAndUnresolvable;
    }
    return new Status(code, reasons);
  }

  preScore(state: CycleState, pod: Pod): MaybeStatus {
    state.write(PRE_SCORE_KEY, scoringRequests(pod, this.resources, false));
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const podReqs = state.read<number[]>(PRE_SCORE_KEY) ?? scoringRequests(pod, this.resources, false);
    return scoreResourceAllocation(nodeInfo, this.resources, podReqs, false, this.scorer, this.scratch);
  }

  eventsToRegister(): ClusterEvent[] {
    return [
      { resource: 'Pod', actionType: ActionType.Delete | ActionType.UpdatePodScaleDown },
      {
        resource: 'Node',
        actionType: ActionType.Add | ActionType.UpdateNodeAllocatable | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel,
      },
    ];
  }
}

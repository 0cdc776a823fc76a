/**
 * NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be
 * used in similar fractions after placing the pod: score = (1 - std) * 100,
 * std being the standard deviation of the requested/allocatable fractions
 * (|f1 - f2| / 2 for two resources). Uses actual requests (no non-zero
 * defaults) and skips best-effort pods.
 */
import type { Pod } from '../api-types';
import { MAX_NODE_SCORE, Status, type CycleState, type MaybeStatus, type NodeInfo, type PreScorePlugin, type ScorePlugin } from '../types';
import { DEFAULT_SCORING_RESOURCES, newScoreScratch, scoreResourceAllocation, scoringRequests, type ResourceSpec, type ScoreScratch } from './node-resources-fit';
import { PluginNames } from './names';

const { abs, sqrt, trunc } = Math;

const PRE_SCORE_KEY = 'PreScore' + PluginNames.NodeResourcesBalancedAllocation;

/** balancedResourceScorer. */
export function balancedResourceScorer(requested: number[], allocatable: number[]): number {
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    let f = requested[i]! / allocatable[i]!;
    if (f > 1) f = 1;
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) {
    std = abs((fractions[0]! - fractions[1]!) / 2);
  } else if (fractions.length > 2) {
    const mean = total / fractions.length;
    let sum = 0;
    for (const f of fractions) sum += (f - mean) * (f - mean);
    std = sqrt(sum / fractions.length);
  }
  return trunc((1 - std) * MAX_NODE_SCORE);
}

export class NodeResourcesBalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = PluginNames.NodeResourcesBalancedAllocation;

  private readonly scratch: ScoreScratch;

  constructor(private readonly resources: readonly ResourceSpec[] = DEFAULT_SCORING_RESOURCES) {
    this.scratch = newScoreScratch(resources.length);
  }

  preScore(state: CycleState, pod: Pod): MaybeStatus {
    const reqs = scoringRequests(pod, this.resources, true);
    if (reqs.every((r) => r === 0)) return Status.skip();
    state.write(PRE_SCORE_KEY, reqs);
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const reqs = state.read<number[]>(PRE_SCORE_KEY) ?? scoringRequests(pod, this.resources, true);
    return scoreResourceAllocation(nodeInfo, this.resources, reqs, true, balancedResourceScorer, this.scratch);
  }
}

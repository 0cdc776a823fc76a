/**
 * TaintToleration: NoSchedule and NoExecute taints the pod does not tolerate
 * rule a node out; untolerated PreferNoSchedule taints lower its score.
 */
import type { Pod, Taint, Toleration } from '../api-types';
import { defaultNormalizeScore, doNotScheduleTaint, findMatchingUntoleratedTaint, tolerationsTolerateTaint } from '../helpers';
import {
  ActionType,
  MAX_NODE_SCORE,
  Status,
  type ClusterEvent,
  type CycleState,
  type EnqueueExtensions,
  type FilterPlugin,
  type MaybeStatus,
  type NodeInfo,
  type NodeScore,
  type PreScorePlugin,
  type ScorePlugin,
} from '../types';
import { PluginNames } from './names';

/** The Filter reason, naming the first untolerated taint (kube 1.27 - 1.34 wording). */
export function untoleratedTaintReason(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ''}}`;
}

const PRE_SCORE_KEY = 'PreScore' + PluginNames.TaintToleration;

/** Tolerations with effect PreferNoSchedule or no effect (which means all effects). */
function tolerationsPreferNoSchedule(tolerations: readonly Toleration[] | null | undefined): Toleration[] {
  return (tolerations ?? []).filter((t) => t && (!t.effect || t.effect === 'PreferNoSchedule'));
}

function countIntolerableTaintsPreferNoSchedule(taints: readonly Taint[], tolerations: readonly Toleration[]): number {
  let n = 0;
  for (const taint of taints) {
    if (taint?.effect !== 'PreferNoSchedule') continue;
    if (!tolerationsTolerateTaint(tolerations, taint)) n++;
  }
  return n;
}

export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = PluginNames.TaintToleration;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus {
    const taint = findMatchingUntoleratedTaint(nodeInfo.taints, pod.spec?.tolerations, doNotScheduleTaint);
    if (!taint) return null;
    return Status.unresolvable(untoleratedTaintReason(taint));
  }

  preScore(state: CycleState, pod: Pod): MaybeStatus {
    state.write(PRE_SCORE_KEY, tolerationsPreferNoSchedule(pod.spec?.tolerations));
    return null;
  }

  /** Raw score: the number of untolerated PreferNoSchedule taints (fewer is better). */
  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const tolerations = state.read<Toleration[]>(PRE_SCORE_KEY) ?? tolerationsPreferNoSchedule(pod.spec?.tolerations);
    return countIntolerableTaintsPreferNoSchedule(nodeInfo.taints, tolerations);
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): void {
    defaultNormalizeScore(MAX_NODE_SCORE, true, scores);
  }

  eventsToRegister(): ClusterEvent[] {
    return [{ resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel }];
  }
}

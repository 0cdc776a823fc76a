/**
 * NodeAffinity: spec.nodeSelector and
 * spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
 * (matchExpressions with In, NotIn, Exists, DoesNotExist, Gt, Lt on node
 * labels; matchFields on metadata.name) filter nodes; the preferred terms
 * score them (sum of matching weights, normalized to 0..100).
 */
import type { Pod } from '../api-types';
import { defaultNormalizeScore, PreferredSchedulingTerms, RequiredNodeAffinity } from '../helpers';
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
  type PreFilterPlugin,
  type PreFilterResult,
  type PreScorePlugin,
  type ScorePlugin,
} from '../types';
import { PluginNames } from './names';

/** ErrReasonPod. */
export const ERR_REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
/** errReasonConflict: the terms' metadata.name In lists have nothing in common. */
export const ERR_REASON_AFFINITY_CONFLICT = 'pod affinity terms conflict';

const PRE_FILTER_KEY = 'PreFilter' + PluginNames.NodeAffinity;
const PRE_SCORE_KEY = 'PreScore' + PluginNames.NodeAffinity;

export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = PluginNames.NodeAffinity;

  preFilter(state: CycleState, pod: Pod): { result?: PreFilterResult; status?: MaybeStatus } {
    const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    const noNodeAffinity = !required;
    if (noNodeAffinity && !pod.spec?.nodeSelector) return { status: Status.skip() };
    state.write(PRE_FILTER_KEY, new RequiredNodeAffinity(pod));
    const terms = required?.nodeSelectorTerms ?? [];
    if (noNodeAffinity || terms.length === 0) return {};

    // Affinity to specific node names (matchFields metadata.name In [...]) narrows the nodes to filter.
    let nodeNames: Set<string> | undefined;
    for (const t of terms) {
      let termNames: Set<string> | undefined;
      for (const r of t?.matchFields ?? []) {
        if (r?.key === 'metadata.name' && r.operator === 'In') {
          const s = new Set((r.values ?? []).map(String));
          termNames = termNames === undefined ? s : new Set([...termNames].filter((n) => s.has(n)));
        }
      }
      // A term without a node-name field: every node is eligible, since terms are ORed.
      if (termNames === undefined) return {};
      nodeNames = nodeNames === undefined ? new Set(termNames) : new Set([...nodeNames, ...termNames]);
    }
    if (nodeNames !== undefined && nodeNames.size === 0) return { status: Status.unresolvable(ERR_REASON_AFFINITY_CONFLICT) };
    if (nodeNames && nodeNames.size > 0) return { result: { nodeNames } };
    return {};
  }

  filter(state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus {
    const req = state.read<RequiredNodeAffinity>(PRE_FILTER_KEY) ?? new RequiredNodeAffinity(pod);
    if (!req.match(nodeInfo.node)) return Status.unresolvable(ERR_REASON_NODE_AFFINITY);
    return null;
  }

  preScore(state: CycleState, pod: Pod): MaybeStatus {
    const preferred = pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution;
    if (!preferred) return Status.skip();
    state.write(PRE_SCORE_KEY, new PreferredSchedulingTerms(preferred));
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const terms =
      state.read<PreferredSchedulingTerms>(PRE_SCORE_KEY) ??
      new PreferredSchedulingTerms(pod.spec?.affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    return terms.score(nodeInfo.node);
  }

  normalizeScore(_state: CycleState, _pod: Pod, scores: NodeScore[]): void {
    defaultNormalizeScore(MAX_NODE_SCORE, false, scores);
  }

  eventsToRegister(): ClusterEvent[] {
    return [{ resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint }];
  }
}

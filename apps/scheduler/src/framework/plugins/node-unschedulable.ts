/** NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods tolerating node.kubernetes.io/unschedulable:NoSchedule. */
import { TAINT_NODE_UNSCHEDULABLE, type Pod } from '../api-types';
import { tolerationsTolerateTaint } from '../helpers';
import { ActionType, Status, type ClusterEvent, type CycleState, type EnqueueExtensions, type FilterPlugin, type MaybeStatus, type NodeInfo } from '../types';
import { PluginNames } from './names';

/** ErrReasonUnschedulable. */
export const ERR_REASON_UNSCHEDULABLE = 'node(s) were unschedulable';

const UNSCHEDULABLE_TAINT = { key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' };

export class NodeUnschedulable implements FilterPlugin, EnqueueExtensions {
  readonly name = PluginNames.NodeUnschedulable;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus {
    if (!nodeInfo.unschedulable) return null;
    // A pod tolerating the unschedulable taint also tolerates spec.unschedulable.
    if (tolerationsTolerateTaint(pod.spec?.tolerations, UNSCHEDULABLE_TAINT)) return null;
    return Status.unresolvable(ERR_REASON_UNSCHEDULABLE);
  }

  eventsToRegister(): ClusterEvent[] {
    return [{ resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel }];
  }
}

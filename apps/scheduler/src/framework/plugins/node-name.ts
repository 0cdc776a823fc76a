/** NodeName: a pod with spec.nodeName set fits only that node. */
import type { Pod } from '../api-types';
import { ActionType, Status, type ClusterEvent, type CycleState, type EnqueueExtensions, type FilterPlugin, type MaybeStatus, type NodeInfo } from '../types';
import { PluginNames } from './names';

/** ErrReason. */
export const ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name";

export class NodeName implements FilterPlugin, EnqueueExtensions {
  readonly name = PluginNames.NodeName;

  filter(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): MaybeStatus {
    const want = pod.spec?.nodeName;
    if (!want || want === nodeInfo.name) return null;
    return Status.unresolvable(ERR_REASON_NODE_NAME);
  }

  eventsToRegister(): ClusterEvent[] {
    return [{ resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint }];
  }
}

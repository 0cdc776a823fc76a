/**
 * DefaultPreemption, as a PostFilter that only diagnoses: when no node fits,
 * it works out where evicting lower-priority pods would make room, the way
 * kube's preemption dry run does, and words the outcome like kube:
 *
 *   preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.
 *   preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.
 *   preemption: not eligible due to preemptionPolicy=Never.
 *
 * Nodes rejected as UnschedulableAndUnresolvable (wrong selector, taint,
 * request larger than the whole node...) are "not helpful"; on the others,
 * all pods of lower priority are potential victims; none -> "No preemption
 * victims found for incoming pod"; still no fit without them -> the filter's
 * reasons. When some node would fit, the status is Success with those
 * candidate nodes (kube would now evict victims and nominate the node; this
 * core does not evict: that is left to the wiring).
 */
import { podPriority, type Pod } from '../api-types';
import { fitErrorMessage, NodeToStatus } from '../fit-error';
import { Code, isSuccess, Status, type CycleState, type NodeInfo, type NodeToStatusReader, type PostFilterPlugin, type PostFilterResult } from '../types';
import { PluginNames } from './names';

export const MSG_NOT_ELIGIBLE_NEVER = 'not eligible due to preemptionPolicy=Never.';
export const MSG_NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const MSG_NO_VICTIMS = 'No preemption victims found for incoming pod';

/** What preemption needs from the framework: run the filters on a what-if node. */
export interface FilterRunner {
  runFilterPlugins(state: CycleState, pod: Pod, nodeInfo: NodeInfo): Status | null;
}

export class DefaultPreemption implements PostFilterPlugin {
  readonly name = PluginNames.DefaultPreemption;
  private runner: FilterRunner | undefined;

  /** Called by the Framework that registers this plugin. */
  setFramework(runner: FilterRunner): void {
    this.runner = runner;
  }

  postFilter(state: CycleState, pod: Pod, m: NodeToStatusReader): { result?: PostFilterResult; status: Status } {
    const out = this.preempt(state, pod, m);
    const msg = out.status.message();
    if (msg.length > 0) return { result: out.result, status: new Status(out.status.code, [`preemption: ${msg}`]) };
    return out;
  }

  private preempt(state: CycleState, pod: Pod, m: NodeToStatusReader): { result?: PostFilterResult; status: Status } {
    // PodEligibleToPreemptOthers.
    if (pod.spec?.preemptionPolicy === 'Never') return { status: Status.unschedulable(MSG_NOT_ELIGIBLE_NEVER) };
    const allNodes = state.snapshot.nodeInfos;
    if (allNodes.length === 0) return { status: Status.error('no nodes available') };

    // nodesWherePreemptionMightHelp.
    const statuses = new NodeToStatus();
    const potential: NodeInfo[] = [];
    for (const ni of allNodes) {
      if (m.get(ni.name).code === Code.UnschedulableAndUnresolvable) statuses.set(ni.name, Status.unresolvable(MSG_NOT_HELPFUL));
      else potential.push(ni);
    }

    // dryRunPreemption / SelectVictimsOnNode, without choosing the minimal victim set.
    const candidates: string[] = [];
    const prio = podPriority(pod);
    for (const ni of potential) {
      const victims = ni.pods.filter((p) => p.priority < prio);
      if (victims.length === 0) {
        statuses.set(ni.name, Status.unresolvable(MSG_NO_VICTIMS));
        continue;
      }
      const whatIf = ni.clone();
      for (const v of victims) whatIf.removePod(v.key);
      const st = this.runner ? this.runner.runFilterPlugins(state.clone(), pod, whatIf) : null;
      if (isSuccess(st)) candidates.push(ni.name);
      else statuses.set(ni.name, st!);
    }
    if (candidates.length > 0) return { result: { candidates }, status: new Status(Code.Success) };

    statuses.setAbsentNodesStatus(Status.unresolvable(MSG_NOT_HELPFUL));
    const message = fitErrorMessage(allNodes.length, { nodeToStatus: statuses, unschedulablePlugins: new Set() });
    return { status: Status.unschedulable(message) };
  }
}

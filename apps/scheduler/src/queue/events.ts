/**
 * The cluster events the scheduling queue reacts to (framework/events.go and
 * eventhandlers.go): the predefined ones, the specific update events derived
 * from an old and a new Node, and the pre-enqueue check that keeps pods that
 * cannot fit a new node in the unschedulable pool.
 */
import type { Node, Pod } from '../framework/api-types';
import { findMatchingUntoleratedTaint, RequiredNodeAffinity } from '../framework/helpers';
import { fitsRequest } from '../framework/plugins/node-resources-fit';
import { podRequests } from '../framework/resources';
import { ActionType, type ClusterEvent, type NodeInfo } from '../framework/types';

export const ClusterEvents = {
  NodeAdd: { resource: 'Node', actionType: ActionType.Add, label: 'NodeAdd' },
  AssignedPodAdd: { resource: 'AssignedPod', actionType: ActionType.Add, label: 'AssignedPodAdd' },
  AssignedPodUpdate: { resource: 'AssignedPod', actionType: ActionType.Update, label: 'AssignedPodUpdate' },
  AssignedPodDelete: { resource: 'AssignedPod', actionType: ActionType.Delete, label: 'AssignedPodDelete' },
  /** Pods that stayed unschedulable longer than podMaxInUnschedulablePodsDuration. */
  UnschedulableTimeout: { resource: '*', actionType: ActionType.All, label: 'UnschedulableTimeout' },
  /** Moves every pod regardless of what rejected it. */
  ForceActivate: { resource: '*', actionType: ActionType.All, label: 'ForceActivate' },
} as const satisfies Record<string, ClusterEvent>;

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function sortedEntries(m: Record<string, unknown> | null | undefined): Array<[string, unknown]> {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function conditionStatuses(n: Node): Array<[string, string]> {
  return (n.status?.conditions ?? []).map((c) => [c.type, c.status] as [string, string]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * NodeSchedulingPropertiesChange: one Node update event per kind of change
 * that can matter for scheduling (none when only heartbeats moved).
 */
export function nodeUpdateEvents(oldNode: Node, newNode: Node): ClusterEvent[] {
  const out: ClusterEvent[] = [];
  const push = (actionType: number, label: string) => out.push({ resource: 'Node', actionType, label });
  // A node becoming schedulable again counts as a taint change.
  if (!!newNode.spec?.unschedulable !== !!oldNode.spec?.unschedulable && !newNode.spec?.unschedulable) {
    push(ActionType.UpdateNodeTaint, 'NodeSpecUnschedulableChange');
  }
  if (!sameJson(sortedEntries(newNode.status?.allocatable), sortedEntries(oldNode.status?.allocatable))) {
    push(ActionType.UpdateNodeAllocatable, 'NodeAllocatableChange');
  }
  if (!sameJson(sortedEntries(newNode.metadata?.labels), sortedEntries(oldNode.metadata?.labels))) {
    push(ActionType.UpdateNodeLabel, 'NodeLabelChange');
  }
  if (!sameJson(newNode.spec?.taints ?? [], oldNode.spec?.taints ?? [])) push(ActionType.UpdateNodeTaint, 'NodeTaintChange');
  if (!sameJson(conditionStatuses(newNode), conditionStatuses(oldNode))) push(ActionType.UpdateNodeCondition, 'NodeConditionChange');
  if (!sameJson(sortedEntries(newNode.metadata?.annotations), sortedEntries(oldNode.metadata?.annotations))) {
    push(ActionType.UpdateNodeAnnotation, 'NodeAnnotationChange');
  }
  return out;
}

/**
 * preCheckForNode: whether a pod could fit a node that was just added or
 * changed (resources, node name, node selector / required affinity, NoSchedule
 * taints), so that a node event does not stir up pods it cannot help.
 */
export function preCheckForNode(nodeInfo: NodeInfo): (pod: Pod) => boolean {
  return (pod: Pod) => {
    if (fitsRequest(podRequests(pod), nodeInfo).length > 0) return false;
    const wantNode = pod.spec?.nodeName;
    if (wantNode && wantNode !== nodeInfo.name) return false;
    if (!new RequiredNodeAffinity(pod).match(nodeInfo.node)) return false;
    const noSchedule = findMatchingUntoleratedTaint(nodeInfo.taints, pod.spec?.tolerations, (t) => t.effect === 'NoSchedule');
    return !noSchedule;
  };
}

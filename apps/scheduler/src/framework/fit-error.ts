/**
 * Why a pod fits nowhere, worded exactly like kube-scheduler's FitError
 * (pkg/scheduler/framework/types.go), the text of FailedScheduling events and
 * of the pod's PodScheduled=False condition:
 *
 *   0/3 nodes are available: 3 Insufficient cpu.
 *   0/5 nodes are available: 2 Insufficient memory, 3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.
 *   0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.
 *
 * Each reason of each node's status is counted, rendered "<count> <reason>",
 * sorted as strings (Go's sort.Strings: byte order, so "10 x" sorts before
 * "2 y") and joined with ", ".
 */
import { Code, Status, type NodeToStatusReader } from './types';

/** NoNodeAvailableMsg. */
export const NO_NODE_AVAILABLE_MSG = (n: number) => `0/${n} nodes are available`;

/** ErrNoNodesAvailable: the cluster has no nodes at all. */
export const ERR_NO_NODES_AVAILABLE = 'no nodes available to schedule pods';

/** framework.NodeToStatus: explicit statuses of rejected nodes, and one status for all nodes not listed. */
export class NodeToStatus implements NodeToStatusReader {
  private readonly map = new Map<string, Status>();
  /** NewDefaultNodeToStatus: absent nodes are UnschedulableAndUnresolvable without a reason. */
  private absent: Status = new Status(Code.UnschedulableAndUnresolvable);

  set(nodeName: string, status: Status): void {
    this.map.set(nodeName, status);
  }

  get(nodeName: string): Status {
    return this.map.get(nodeName) ?? this.absent;
  }

  /** Number of nodes with an explicit status. */
  get size(): number {
    return this.map.size;
  }

  setAbsentNodesStatus(status: Status): void {
    this.absent = status;
  }

  absentNodesStatus(): Status {
    return this.absent;
  }

  forEachExplicitNode(fn: (nodeName: string, status: Status) => void): void {
    for (const [k, v] of this.map) fn(k, v);
  }
}

/** framework.Diagnosis. */
export interface Diagnosis {
  nodeToStatus: NodeToStatus;
  /** Plugins that rejected the pod: the queue retries it on events these plugins registered. */
  unschedulablePlugins: Set<string>;
  preFilterMsg?: string;
  postFilterMsg?: string;
}

export function newDiagnosis(): Diagnosis {
  return { nodeToStatus: new NodeToStatus(), unschedulablePlugins: new Set() };
}

/** Diagnosis.AddPluginStatus. */
export function addPluginStatus(d: Diagnosis, s: Status): void {
  if (!s.plugin) return;
  if (s.isRejected()) d.unschedulablePlugins.add(s.plugin);
}

/** Go's sort.Strings order (bytes), not the locale's. */
function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The "N reason, M reason" part: reasons counted over all nodes and sorted. */
export function reasonsHistogram(numAllNodes: number, nodeToStatus: NodeToStatus): string[] {
  const reasons = new Map<string, number>();
  nodeToStatus.forEachExplicitNode((_node, status) => {
    for (const r of status.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  });
  if (nodeToStatus.size < numAllNodes) {
    for (const r of nodeToStatus.absentNodesStatus().reasons) {
      reasons.set(r, (reasons.get(r) ?? 0) + numAllNodes - nodeToStatus.size);
    }
  }
  const out: string[] = [];
  for (const [reason, count] of reasons) out.push(`${count} ${reason}`);
  return out.sort(compareBytes);
}

/**
 * FitError.Error(): "0/X nodes are available: <PreFilterMsg>. <FilterMsg>. <PostFilterMsg>"
 * (the pre-filter message replaces the per-node reasons when PreFilter rejected the pod).
 */
export function fitErrorMessage(numAllNodes: number, diagnosis: Diagnosis): string {
  let msg = NO_NODE_AVAILABLE_MSG(numAllNodes) + ':';
  const pre = diagnosis.preFilterMsg ?? '';
  if (pre !== '') {
    msg += ` ${pre}.`;
  } else {
    const sorted = reasonsHistogram(numAllNodes, diagnosis.nodeToStatus);
    if (sorted.length) msg += ` ${sorted.join(', ')}.`;
  }
  const post = diagnosis.postFilterMsg ?? '';
  if (post !== '') msg += ` ${post}`;
  return msg;
}

/** validation.NoteLengthLimit: event notes longer than this are cut (truncateMessage in schedule_one.go). */
export const NOTE_LENGTH_LIMIT = 1024;

/** Cuts by bytes, as Go's len() counts them. */
export function truncateMessage(message: string): string {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.length <= NOTE_LENGTH_LIMIT) return message;
  const suffix = ' ...';
  return bytes.subarray(0, NOTE_LENGTH_LIMIT - suffix.length).toString('utf8') + suffix;
}

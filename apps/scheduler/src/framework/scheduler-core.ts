/**
 * One scheduling attempt (schedule_one.go's schedulePod): PreFilter, Filter
 * over the nodes in chunks starting where the last attempt stopped, stopping
 * once enough feasible nodes are found (percentageOfNodesToScore), PreScore
 * and Score on those, and the best node with ties broken at random. When no
 * node fits, the FailedScheduling message kube would write, with the
 * preemption diagnosis appended.
 */
import type { Pod } from './api-types';
import {
  addPluginStatus,
  ERR_NO_NODES_AVAILABLE,
  fitErrorMessage,
  newDiagnosis,
  truncateMessage,
  type Diagnosis,
} from './fit-error';
import { defaultFramework, type Framework, type NodePluginScores } from './framework';
import { mathRandomRng, seededRng, type Rng } from './rng';
import { Code, CycleState, Status, type NodeInfo, type Snapshot } from './types';

/** minFeasibleNodesToFind: below this many nodes, all are checked. */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
/** minFeasibleNodesPercentageToFind. */
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;

/**
 * numFeasibleNodesToFind: how many feasible nodes to find before scoring.
 * percentage 0 (or undefined) is adaptive: 50 - nodes/125, at least 5%;
 * never fewer than 100 nodes (or all of them when there are fewer).
 */
export function numFeasibleNodesToFind(percentageOfNodesToScore: number | undefined, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let percentage = Math.trunc(percentageOfNodesToScore ?? 0);
  if (percentage === 0) {
    percentage = 50 - Math.trunc(numAllNodes / 125);
    if (percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND) percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  const numNodes = Math.trunc((numAllNodes * percentage) / 100);
  if (numNodes < MIN_FEASIBLE_NODES_TO_FIND) return MIN_FEASIBLE_NODES_TO_FIND;
  return numNodes;
}

/** What persists from one attempt to the next: the round-robin start index and the tie-break RNG. */
export class SchedulingState {
  /** Where the next attempt starts filtering, so every node gets its turn. */
  nextStartNodeIndex = 0;
  /** Attempts made (for logs). */
  cycles = 0;

  constructor(public rng: Rng = mathRandomRng) {}

  static seeded(seed: number): SchedulingState {
    return new SchedulingState(seededRng(seed));
  }
}

export interface ScheduleOptions {
  /** The profile; default: defaultFramework() (built once and shared). */
  framework?: Framework;
  /** Overrides the framework's percentageOfNodesToScore (0: adaptive). */
  percentageOfNodesToScore?: number;
  /** Round-robin index and RNG carried between attempts; default: one shared state. */
  state?: SchedulingState;
  /** Shorthand for a fresh seeded state when `state` is not given. */
  seed?: number;
  /** Return each plugin's score per node in ScheduleSuccess.scores (for debugging; costs allocations). */
  recordScores?: boolean;
}

export interface ScheduleSuccess {
  unschedulable?: undefined;
  /** The chosen node. */
  node: string;
  /** Nodes looked at (feasible + rejected). */
  evaluatedNodes: number;
  feasibleNodes: number;
  /** Per-node total scores (absent when only one node was feasible); with recordScores, each plugin's too. */
  scores?: NodePluginScores[];
}

export interface ScheduleFailure {
  unschedulable: true;
  node?: undefined;
  /** The FailedScheduling message and PodScheduled=False condition message, e.g. "0/3 nodes are available: 3 Insufficient cpu." */
  message: string;
  /** The same, cut to 1024 bytes as kube does for the event. */
  eventMessage: string;
  /** Plugins that rejected the pod: the queue moves it back on events they registered. */
  unschedulablePlugins: Set<string>;
  diagnosis: Diagnosis;
  /** The cluster has no nodes ("no nodes available to schedule pods"). */
  noNodes?: boolean;
  /** Nodes where evicting lower-priority pods would make room (preemption not performed). */
  preemptionCandidates?: string[];
}

export type ScheduleResult = ScheduleSuccess | ScheduleFailure;

let sharedFramework: Framework | undefined;
const sharedState = new SchedulingState();

/**
 * selectHost: the highest total score; among equal ones each is picked with
 * equal probability (reservoir sampling, as kube's selectHost).
 */
export function selectHost(scores: readonly NodePluginScores[], rng: Rng): string {
  if (scores.length === 0) throw new Error('empty priorityList');
  let maxScore = scores[0]!.totalScore;
  let selected = scores[0]!.name;
  let cntOfMaxScore = 1;
  for (let i = 1; i < scores.length; i++) {
    const ns = scores[i]!;
    if (ns.totalScore > maxScore) {
      maxScore = ns.totalScore;
      selected = ns.name;
      cntOfMaxScore = 1;
    } else if (ns.totalScore === maxScore) {
      cntOfMaxScore++;
      if (rng.intn(cntOfMaxScore) === 0) selected = ns.name;
    }
  }
  return selected;
}

function failure(pod: Pod, fw: Framework, cycle: CycleState, numAllNodes: number, diagnosis: Diagnosis): ScheduleFailure {
  let preemptionCandidates: string[] | undefined;
  if (fw.hasPostFilterPlugins()) {
    const { result, status } = fw.runPostFilterPlugins(cycle, pod, diagnosis.nodeToStatus);
    diagnosis.postFilterMsg = status.message();
    if (result?.candidates?.length) preemptionCandidates = result.candidates;
  }
  const message = fitErrorMessage(numAllNodes, diagnosis);
  return {
    unschedulable: true,
    message,
    eventMessage: truncateMessage(message),
    unschedulablePlugins: diagnosis.unschedulablePlugins,
    diagnosis,
    preemptionCandidates,
  };
}

/**
 * Schedules one pod against the snapshot: { node } or { unschedulable, message }.
 * Does not change the snapshot: call snapshot.assumePod(pod, node) with the
 * result before the next attempt. Throws SchedulingError when a plugin fails
 * (kube's Error status: the pod goes to the backoff queue).
 */
export async function scheduleOne(pod: Pod, snapshot: Snapshot, opts: ScheduleOptions = {}): Promise<ScheduleResult> {
  const fw = opts.framework ?? (sharedFramework ??= defaultFramework());
  const st = opts.state ?? (opts.seed !== undefined ? SchedulingState.seeded(opts.seed) : sharedState);
  const percentage = opts.percentageOfNodesToScore ?? fw.percentageOfNodesToScore;
  st.cycles++;

  const allNodes = snapshot.nodeInfos;
  if (allNodes.length === 0) {
    const diagnosis = newDiagnosis();
    return {
      unschedulable: true,
      message: ERR_NO_NODES_AVAILABLE,
      eventMessage: ERR_NO_NODES_AVAILABLE,
      unschedulablePlugins: diagnosis.unschedulablePlugins,
      diagnosis,
      noNodes: true,
    };
  }

  const cycle = new CycleState(snapshot);
  const diagnosis = newDiagnosis();

  // PreFilter.
  const pre = fw.runPreFilterPlugins(cycle, pod, allNodes);
  diagnosis.unschedulablePlugins = new Set(pre.pluginsWithNodes);
  if (pre.status && pre.status.isRejected()) {
    diagnosis.nodeToStatus.setAbsentNodesStatus(pre.status);
    diagnosis.preFilterMsg = pre.status.message();
    addPluginStatus(diagnosis, pre.status);
    return failure(pod, fw, cycle, allNodes.length, diagnosis);
  }

  let nodes: readonly NodeInfo[] = allNodes;
  if (pre.nodeNames) {
    const picked: NodeInfo[] = [];
    for (const name of pre.nodeNames) {
      const ni = snapshot.get(name);
      if (ni) picked.push(ni);
    }
    nodes = picked;
    diagnosis.nodeToStatus.setAbsentNodesStatus(
      new Status(Code.UnschedulableAndUnresolvable, [`node(s) didn't satisfy plugin(s) [${[...pre.pluginsWithNodes].sort().join(' ')}]`]),
    );
  }

  // Filter.
  const feasible = await findNodesThatPassFilters(fw, cycle, pod, diagnosis, nodes, st, percentage);
  const processed = feasible.length + diagnosis.nodeToStatus.size;
  st.nextStartNodeIndex = (st.nextStartNodeIndex + processed) % allNodes.length;

  if (feasible.length === 0) return failure(pod, fw, cycle, allNodes.length, diagnosis);
  if (feasible.length === 1) {
    return { node: feasible[0]!.name, evaluatedNodes: 1 + diagnosis.nodeToStatus.size, feasibleNodes: 1 };
  }

  // Score.
  const scores = await prioritizeNodes(fw, cycle, pod, feasible, opts.recordScores ?? false);
  return {
    node: selectHost(scores, st.rng),
    evaluatedNodes: feasible.length + diagnosis.nodeToStatus.size,
    feasibleNodes: feasible.length,
    scores,
  };
}

async function findNodesThatPassFilters(
  fw: Framework,
  cycle: CycleState,
  pod: Pod,
  diagnosis: Diagnosis,
  nodes: readonly NodeInfo[],
  st: SchedulingState,
  percentage: number | undefined,
): Promise<NodeInfo[]> {
  const numAll = nodes.length;
  if (numAll === 0) return [];
  let numToFind = numFeasibleNodesToFind(percentage, numAll);
  if (!fw.hasScorePlugins()) numToFind = 1;
  const start = st.nextStartNodeIndex;
  if (!fw.hasFilterPlugins()) {
    const out: NodeInfo[] = [];
    for (let i = 0; i < numToFind; i++) out.push(nodes[(start + i) % numAll]!);
    return out;
  }
  const feasible: NodeInfo[] = [];
  await fw.parallelizer.until(
    numAll,
    (i) => {
      // Start where the previous attempt left off, so every node gets the same chance.
      const ni = nodes[(start + i) % numAll]!;
      const status = fw.runFilterPlugins(cycle, pod, ni);
      if (!status) {
        feasible.push(ni);
      } else {
        diagnosis.nodeToStatus.set(ni.name, status);
        addPluginStatus(diagnosis, status);
      }
    },
    () => feasible.length >= numToFind,
  );
  return feasible;
}

async function prioritizeNodes(fw: Framework, cycle: CycleState, pod: Pod, nodes: NodeInfo[], detail: boolean): Promise<NodePluginScores[]> {
  if (!fw.hasScorePlugins()) return nodes.map((n) => ({ name: n.name, totalScore: 1 }));
  fw.runPreScorePlugins(cycle, pod, nodes);
  return fw.runScorePlugins(cycle, pod, nodes, detail);
}

/**
 * PodTopologySpread, scoring half: spread the pods of one workload across
 * topology domains. A pod's own ScheduleAnyway constraints are used when it
 * has any; otherwise kube's system defaults:
 *
 *   kubernetes.io/hostname       maxSkew 3, ScheduleAnyway
 *   topology.kubernetes.io/zone  maxSkew 5, ScheduleAnyway
 *
 * with the selector of the workload the pod belongs to (helper.DefaultSelector:
 * the Services, ReplicationController, ReplicaSet or StatefulSet selecting
 * it). A node's raw score is, per constraint, count(matching pods in the
 * node's domain) * log(domains + 2) + (maxSkew - 1), and normalization
 * turns fewer matching pods into a higher score. This is what replaced the
 * old SelectorSpread plugin in kube 1.24+.
 *
 * kubets extension: when the pod's controller is a ReplicaSet, StatefulSet or
 * ReplicationController that the snapshot does not hold, pods with the same
 * controller uid count as the workload (so spreading works before the
 * scheduler watches workloads). Set `fallbackToController: false` for
 * kube's exact behaviour (no spreading without the owner object).
 *
 * The DoNotSchedule (filter) half of PodTopologySpread is not implemented.
 */
import { selectorFromSet, type Selector } from '@kubets/api-machinery';
import { controllerOf, LABEL_HOSTNAME, LABEL_TOPOLOGY_ZONE, type LabelSelector, type Node, type Pod, type TopologySpreadConstraint } from '../api-types';
import { doNotScheduleTaint, findMatchingUntoleratedTaint, RequiredNodeAffinity } from '../helpers';
import {
  MAX_NODE_SCORE,
  safeSelector,
  Status,
  type CycleState,
  type MaybeStatus,
  type NodeInfo,
  type NodeScore,
  type PodInfo,
  type PreScorePlugin,
  type ScorePlugin,
  type Snapshot,
} from '../types';
import { PluginNames } from './names';

/** The system default constraints (systemDefaultConstraints). */
export const SYSTEM_DEFAULT_CONSTRAINTS: readonly TopologySpreadConstraint[] = [
  { topologyKey: LABEL_HOSTNAME, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 },
  { topologyKey: LABEL_TOPOLOGY_ZONE, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 5 },
];

const { log, round, trunc } = Math;
const hasOwn = Object.prototype.hasOwnProperty;

const PRE_SCORE_KEY = 'PreScore' + PluginNames.PodTopologySpread;

/** Which pods count as "the same workload". */
export interface PodMatcher {
  /** An empty matcher counts nothing (countPodsMatchSelector returns 0 for an empty selector). */
  empty(): boolean;
  matches(p: PodInfo): boolean;
}

class SelectorMatcher implements PodMatcher {
  constructor(
    readonly selector: Selector,
    readonly controllerUid?: string,
  ) {}

  empty(): boolean {
    return this.selector.empty() && !this.controllerUid;
  }

  matches(p: PodInfo): boolean {
    if (this.controllerUid !== undefined && p.controllerUid !== this.controllerUid) return false;
    return this.selector.matches(p.labels);
  }
}

const NOTHING: PodMatcher = { empty: () => false, matches: () => false };

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  matcher: PodMatcher;
  nodeAffinityHonor: boolean;
  nodeTaintsHonor: boolean;
}

interface PreScoreState {
  constraints: Constraint[];
  ignoredNodes: Set<string>;
  /** Per constraint (non-hostname ones): topology value -> matching pods. */
  topologyValueToPodCounts: Array<Map<string, number>>;
  topologyNormalizingWeight: number[];
}

/** The Services, RC, ReplicaSet, StatefulSet selecting the pod, ANDed (helper.DefaultSelector), plus the kubets fallback. */
export function defaultSelector(pod: Pod, snapshot: Snapshot, fallbackToController = true): PodMatcher {
  const ns = pod.metadata?.namespace ?? '';
  const podLabels = pod.metadata?.labels ?? {};
  const labelSet: Record<string, string> = {};
  for (const svc of snapshot.servicesIn(ns)) {
    const sel = svc.spec?.selector;
    if (!sel) continue; // a nil selector matches nothing
    if (selectorFromSet(sel).matches(podLabels)) Object.assign(labelSet, sel);
  }
  let selector = selectorFromSet(labelSet);
  const owner = controllerOf(pod.metadata);
  if (!owner) return new SelectorMatcher(selector);
  const group = owner.apiVersion?.includes('/') ? owner.apiVersion.split('/')[0] : '';
  const version = owner.apiVersion?.includes('/') ? owner.apiVersion.split('/')[1] : owner.apiVersion;
  let kind: 'ReplicationController' | 'ReplicaSet' | 'StatefulSet' | undefined;
  if (group === '' && version === 'v1' && owner.kind === 'ReplicationController') kind = 'ReplicationController';
  else if (group === 'apps' && version === 'v1' && owner.kind === 'ReplicaSet') kind = 'ReplicaSet';
  else if (group === 'apps' && version === 'v1' && owner.kind === 'StatefulSet') kind = 'StatefulSet';
  if (!kind) return new SelectorMatcher(selector);
  const obj = snapshot.workload(kind, ns, owner.name);
  if (!obj) return fallbackToController ? new SelectorMatcher(selector, owner.uid) : new SelectorMatcher(selector);
  if (kind === 'ReplicationController') {
    const sel = (obj.spec?.selector ?? {}) as Record<string, string>;
    selector = selectorFromSet({ ...labelSet, ...sel });
  } else {
    const other = safeSelector((obj.spec as { selector?: LabelSelector | null } | null | undefined)?.selector ?? null);
    if (other && !other.matchesNothing()) selector = selector.add(...other.requirements);
  }
  return new SelectorMatcher(selector);
}

/** countPodsMatchSelector: pods of the namespace, not terminating, matching. */
function countPodsMatchSelector(pods: readonly PodInfo[], matcher: PodMatcher, namespace: string): number {
  if (matcher.empty()) return 0;
  let n = 0;
  for (const p of pods) {
    if (p.terminating || p.namespace !== namespace) continue;
    if (matcher.matches(p)) n++;
  }
  return n;
}

function nodeLabelsMatchSpreadConstraints(labels: Record<string, string>, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (!hasOwn.call(labels, c.topologyKey)) return false;
  return true;
}

function matchNodeInclusionPolicies(c: Constraint, pod: Pod, node: Node, required: RequiredNodeAffinity): boolean {
  if (c.nodeAffinityHonor && !required.match(node)) return false;
  if (c.nodeTaintsHonor && findMatchingUntoleratedTaint(node.spec?.taints, pod.spec?.tolerations, doNotScheduleTaint)) return false;
  return true;
}

/** topologyNormalizingWeight: log(size + 2). */
export function topologyNormalizingWeight(size: number): number {
  return log(size + 2);
}

/** scoreForCount: cnt * weight + (maxSkew - 1). */
export function scoreForCount(cnt: number, maxSkew: number, tpWeight: number): number {
  return cnt * tpWeight + (maxSkew - 1);
}

/** Go's math.Round: half away from zero. */
function goRound(x: number): number {
  return x < 0 ? -round(-x) : round(x);
}

export interface PodTopologySpreadOptions {
  /** Cluster-level default constraints; default SYSTEM_DEFAULT_CONSTRAINTS ("systemDefaulted"). */
  defaultConstraints?: readonly TopologySpreadConstraint[];
  /** See the module comment. Default true. */
  fallbackToController?: boolean;
}

export class PodTopologySpread implements PreScorePlugin, ScorePlugin {
  readonly name = PluginNames.PodTopologySpread;
  private readonly defaultConstraints: readonly TopologySpreadConstraint[];
  private readonly systemDefaulted: boolean;
  private readonly fallbackToController: boolean;

  constructor(opts: PodTopologySpreadOptions = {}) {
    this.defaultConstraints = opts.defaultConstraints ?? SYSTEM_DEFAULT_CONSTRAINTS;
    this.systemDefaulted = opts.defaultConstraints === undefined;
    this.fallbackToController = opts.fallbackToController ?? true;
  }

  /** filterTopologySpreadConstraints for ScheduleAnyway, with the pod's labelSelector and matchLabelKeys. */
  private podConstraints(pod: Pod, constraints: readonly TopologySpreadConstraint[], matcher?: PodMatcher): Constraint[] {
    const out: Constraint[] = [];
    const podLabels = pod.metadata?.labels ?? {};
    for (const c of constraints) {
      if (!c || c.whenUnsatisfiable !== 'ScheduleAnyway') continue;
      let m = matcher;
      if (!m) {
        let sel = safeSelector(c.labelSelector ?? null);
        if (sel && !sel.matchesNothing() && c.matchLabelKeys?.length) {
          const extra: Record<string, string> = {};
          for (const k of c.matchLabelKeys) if (Object.prototype.hasOwnProperty.call(podLabels, k)) extra[k] = podLabels[k]!;
          if (Object.keys(extra).length) sel = sel.add(...selectorFromSet(extra).requirements);
        }
        m = sel && !sel.matchesNothing() ? new SelectorMatcher(sel) : NOTHING;
      }
      out.push({
        maxSkew: c.maxSkew,
        topologyKey: c.topologyKey,
        matcher: m,
        nodeAffinityHonor: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
        nodeTaintsHonor: (c.nodeTaintsPolicy ?? 'Ignore') === 'Honor',
      });
    }
    return out;
  }

  private buildConstraints(pod: Pod, snapshot: Snapshot): Constraint[] {
    const own = pod.spec?.topologySpreadConstraints;
    if (own && own.length > 0) return this.podConstraints(pod, own);
    if (!this.defaultConstraints.some((c) => c.whenUnsatisfiable === 'ScheduleAnyway')) return [];
    const matcher = defaultSelector(pod, snapshot, this.fallbackToController);
    if (matcher.empty()) return [];
    return this.podConstraints(pod, this.defaultConstraints, matcher);
  }

  preScore(state: CycleState, pod: Pod, filteredNodes: readonly NodeInfo[]): MaybeStatus {
    const allNodes = state.snapshot.nodeInfos;
    if (allNodes.length === 0) return Status.skip();
    const constraints = this.buildConstraints(pod, state.snapshot);
    if (constraints.length === 0) return Status.skip();

    // Only require every topology label with the pod's own (or non-system) constraints:
    // nodes without a zone label still get hostname spreading.
    const requireAllTopologies = (pod.spec?.topologySpreadConstraints?.length ?? 0) > 0 || !this.systemDefaulted;
    const s: PreScoreState = {
      constraints,
      ignoredNodes: new Set(),
      topologyValueToPodCounts: constraints.map(() => new Map<string, number>()),
      topologyNormalizingWeight: [],
    };
    const topoSize = constraints.map(() => 0);
    for (const ni of filteredNodes) {
      if (requireAllTopologies && !nodeLabelsMatchSpreadConstraints(ni.labels, constraints)) {
        s.ignoredNodes.add(ni.name);
        continue;
      }
      constraints.forEach((c, i) => {
        if (c.topologyKey === LABEL_HOSTNAME) return; // per-node counts are taken in Score
        const value = ni.labels[c.topologyKey] ?? '';
        const counts = s.topologyValueToPodCounts[i]!;
        if (!counts.has(value)) {
          counts.set(value, 0);
          topoSize[i]!++;
        }
      });
    }
    s.topologyNormalizingWeight = constraints.map((c, i) =>
      topologyNormalizingWeight(c.topologyKey === LABEL_HOSTNAME ? filteredNodes.length - s.ignoredNodes.size : topoSize[i]!),
    );

    // Count the matching pods per domain over all nodes (not only the feasible ones).
    const needsDomains = constraints.some((c) => c.topologyKey !== LABEL_HOSTNAME);
    if (needsDomains) {
      const required = new RequiredNodeAffinity(pod);
      const ns = pod.metadata?.namespace ?? '';
      for (const ni of allNodes) {
        if (requireAllTopologies && !nodeLabelsMatchSpreadConstraints(ni.labels, constraints)) continue;
        constraints.forEach((c, i) => {
          if (c.topologyKey === LABEL_HOSTNAME) return;
          if (!matchNodeInclusionPolicies(c, pod, ni.node, required)) return;
          const value = ni.labels[c.topologyKey] ?? '';
          const counts = s.topologyValueToPodCounts[i]!;
          const cur = counts.get(value);
          if (cur === undefined) return;
          counts.set(value, cur + countPodsMatchSelector(ni.pods, c.matcher, ns));
        });
      }
    }
    state.write(PRE_SCORE_KEY, s);
    return null;
  }

  score(state: CycleState, pod: Pod, nodeInfo: NodeInfo): number {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s || s.ignoredNodes.has(nodeInfo.name)) return 0;
    const ns = pod.metadata?.namespace ?? '';
    let score = 0;
    s.constraints.forEach((c, i) => {
      const labels = nodeInfo.labels;
      if (!hasOwn.call(labels, c.topologyKey)) return;
      const cnt =
        c.topologyKey === LABEL_HOSTNAME
          ? countPodsMatchSelector(nodeInfo.pods, c.matcher, ns)
          : (s.topologyValueToPodCounts[i]!.get(labels[c.topologyKey]!) ?? 0);
      score += scoreForCount(cnt, c.maxSkew, s.topologyNormalizingWeight[i]!);
    });
    return goRound(score);
  }

  /** Fewer matching pods -> higher score: 100 * (max + min - s) / max; ignored nodes get 0. */
  normalizeScore(state: CycleState, _pod: Pod, scores: NodeScore[]): void {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return;
    let minScore = Number.MAX_SAFE_INTEGER;
    let maxScore = 0;
    const invalid = new Set<number>();
    scores.forEach((sc, i) => {
      if (s.ignoredNodes.has(sc.name)) {
        invalid.add(i);
        return;
      }
      if (sc.score < minScore) minScore = sc.score;
      if (sc.score > maxScore) maxScore = sc.score;
    });
    scores.forEach((sc, i) => {
      if (invalid.has(i)) {
        sc.score = 0;
        return;
      }
      if (maxScore === 0) {
        sc.score = MAX_NODE_SCORE;
        return;
      }
      sc.score = trunc((MAX_NODE_SCORE * (maxScore + minScore - sc.score)) / maxScore);
    });
  }
}

// Which pods a ReplicaSet deletes first (controller.ActivePodsWithRanks and
// replicaset.getPodsToDelete). Earlier in the order = deleted first:
//
//  1. unassigned (no spec.nodeName) before assigned
//  2. Pending before Unknown before Running
//  3. not ready before ready
//  4. lower controller.kubernetes.io/pod-deletion-cost before higher
//  5. higher rank (more active related pods on the same node) before lower
//  6. both ready: ready for a shorter time before longer
//  7. more container restarts before fewer
//  8. created more recently before older (no timestamp first)
//
// Rules 6 and 8 compare times on a log2 scale of their age relative to `now`
// (LogarithmicScaleDown, on by default since 1.22, GA in 1.31), so pods of
// about the same age tie and are ordered by uid: this spreads deletions
// across equivalent pods instead of always taking the very newest.
import { isPodActive, isPodReady, maxContainerRestarts, nodeNameOf, parseTime, podReadyTime, podPhase, uidOf, type KObject } from '../util/k8s';

export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function phaseOrdinal(pod: KObject): number {
  return PHASE_ORDINAL[podPhase(pod)] ?? 0;
}

/** helper.GetDeletionCostFromPodAnnotations: an int32, 0 when absent or invalid. */
export function podDeletionCost(pod: KObject): number {
  const v = pod?.metadata?.annotations?.[POD_DELETION_COST_ANNOTATION];
  if (typeof v !== 'string' || !/^[+-]?\d+$/.test(v.trim())) return 0;
  const n = Number(v.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : 0;
}

/** afterOrZero: t1 after t2, a zero (undefined) time counting as after any other. */
function afterOrZero(t1: number | undefined, t2: number | undefined): boolean {
  if (t1 === undefined || t2 === undefined) return t1 === undefined;
  return t1 > t2;
}

/** logarithmicRankDiff: floor(log2(age in ns)) of t1 minus that of t2. */
function logarithmicRankDiff(t1: number, t2: number, now: number): number {
  const d1 = (now - t1) * 1e6;
  const d2 = (now - t2) * 1e6;
  const r1 = d1 > 0 ? Math.floor(Math.log2(d1)) : -1;
  const r2 = d2 > 0 ? Math.floor(Math.log2(d2)) : -1;
  return r1 - r2;
}

export interface RankedPod {
  pod: KObject;
  /** Active related pods on the same node. */
  rank: number;
}

export interface RankOptions {
  /** Reference time for the logarithmic comparisons; undefined compares times exactly. */
  now?: number;
  /** Default true (kube's default). */
  logarithmicScaleDown?: boolean;
}

/** ActivePodsWithRanks.Less: true when `a` should be deleted before `b`. */
export function deletePreferred(a: RankedPod, b: RankedPod, opts: RankOptions = {}): boolean {
  const pa = a.pod;
  const pb = b.pod;
  const na = nodeNameOf(pa);
  const nb = nodeNameOf(pb);
  // 1. Unassigned < assigned.
  if (na !== nb && (na === '' || nb === '')) return na === '';
  // 2. Pending < Unknown < Running.
  if (phaseOrdinal(pa) !== phaseOrdinal(pb)) return phaseOrdinal(pa) < phaseOrdinal(pb);
  // 3. Not ready < ready.
  const ra = isPodReady(pa);
  const rb = isPodReady(pb);
  if (ra !== rb) return !ra;
  // 4. Lower pod-deletion-cost < higher.
  const ca = podDeletionCost(pa);
  const cb = podDeletionCost(pb);
  if (ca !== cb) return ca < cb;
  // 5. Doubled up (more colocated related pods) < not doubled up.
  if (a.rank !== b.rank) return a.rank > b.rank;
  const logScale = opts.logarithmicScaleDown !== false && opts.now !== undefined;
  // 6. Ready for a shorter time < longer.
  if (ra && rb) {
    const ta = podReadyTime(pa);
    const tb = podReadyTime(pb);
    if (ta !== tb) {
      if (!logScale || ta === undefined || tb === undefined) return afterOrZero(ta, tb);
      const diff = logarithmicRankDiff(ta, tb, opts.now!);
      if (diff === 0) return uidOf(pa) < uidOf(pb);
      return diff < 0;
    }
  }
  // 7. More restarts < fewer.
  const xa = maxContainerRestarts(pa);
  const xb = maxContainerRestarts(pb);
  if (xa !== xb) return xa > xb;
  // 8. Newer (or no creation time) < older.
  const ka = parseTime(pa?.metadata?.creationTimestamp);
  const kb = parseTime(pb?.metadata?.creationTimestamp);
  if (ka !== kb) {
    if (!logScale || ka === undefined || kb === undefined) return afterOrZero(ka, kb);
    const diff = logarithmicRankDiff(ka, kb, opts.now!);
    if (diff === 0) return uidOf(pa) < uidOf(pb);
    return diff < 0;
  }
  return false;
}

/** Sort pods so the ones to delete first come first (a stable sort with kube's Less). */
export function sortPodsForDeletion(pods: readonly RankedPod[], opts: RankOptions = {}): RankedPod[] {
  return [...pods].sort((a, b) => (deletePreferred(a, b, opts) ? -1 : deletePreferred(b, a, opts) ? 1 : 0));
}

/**
 * getPodsRankedByRelatedPodsOnSameNode: each pod's rank is the number of
 * active pods among `relatedPods` on its node.
 */
export function rankByRelatedPodsOnSameNode(pods: readonly KObject[], relatedPods: readonly KObject[]): RankedPod[] {
  const onNode = new Map<string, number>();
  for (const p of relatedPods) {
    if (isPodActive(p)) onNode.set(nodeNameOf(p), (onNode.get(nodeNameOf(p)) ?? 0) + 1);
  }
  return pods.map((pod) => ({ pod, rank: onNode.get(nodeNameOf(pod)) ?? 0 }));
}

/**
 * getPodsToDelete: the `diff` pods to delete out of `pods`. All of them when
 * diff covers the list; otherwise ranked as above, with ranks from the pods
 * of every ReplicaSet sharing this one's owner (`relatedPods`).
 */
export function getPodsToDelete(pods: readonly KObject[], relatedPods: readonly KObject[], diff: number, opts: RankOptions = {}): KObject[] {
  if (diff >= pods.length) return pods.slice(0, diff);
  return sortPodsForDeletion(rankByRelatedPodsOnSameNode(pods, relatedPods), opts)
    .slice(0, diff)
    .map((r) => r.pod);
}

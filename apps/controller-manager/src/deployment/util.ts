// pkg/controller/deployment/util (deployment_util.go) over JSON objects:
// revisions and annotations, maxSurge/maxUnavailable, new/old ReplicaSets,
// proportions for scaling, progress and completeness, conditions.
import { semanticEqual, int32Field, parseTime, nameOf, annotationsOf, goRound, timeString, clone, type KObject } from '../util/k8s';

// Annotations.
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const LAST_APPLIED_CONFIG_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
export const DEPRECATED_ROLLBACK_TO_ANNOTATION = 'deprecated.deployment.rollback.to';
/** apps.DefaultDeploymentUniqueLabelKey. */
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

// Condition types.
export const DEPLOYMENT_AVAILABLE = 'Available';
export const DEPLOYMENT_PROGRESSING = 'Progressing';
export const DEPLOYMENT_REPLICA_FAILURE = 'ReplicaFailure';

// Condition reasons.
export const REPLICA_SET_UPDATED_REASON = 'ReplicaSetUpdated';
export const FAILED_RS_CREATE_REASON = 'ReplicaSetCreateError';
export const NEW_REPLICA_SET_REASON = 'NewReplicaSetCreated';
export const FOUND_NEW_RS_REASON = 'FoundNewReplicaSet';
export const NEW_RS_AVAILABLE_REASON = 'NewReplicaSetAvailable';
export const TIMED_OUT_REASON = 'ProgressDeadlineExceeded';
export const PAUSED_DEPLOY_REASON = 'DeploymentPaused';
export const RESUMED_DEPLOY_REASON = 'DeploymentResumed';
export const MINIMUM_REPLICAS_AVAILABLE = 'MinimumReplicasAvailable';
export const MINIMUM_REPLICAS_UNAVAILABLE = 'MinimumReplicasUnavailable';

/** Event reason of every scale of a ReplicaSet. */
export const SCALING_REPLICA_SET_REASON = 'ScalingReplicaSet';

/** math.MaxInt32: "unlimited" for progressDeadlineSeconds and revisionHistoryLimit. */
export const MAX_INT32 = 2147483647;
/** maxRevHistoryLengthInChars (sync.go). */
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

// ---------------------------------------------------------------------------
// Spec accessors (with apps/v1 defaults, which the API server normally fills)

export function deploymentReplicas(d: KObject): number {
  return int32Field(d?.spec?.replicas, 1);
}

export function rsReplicas(rs: KObject | undefined | null): number {
  return rs ? int32Field(rs.spec?.replicas, 1) : 0;
}

export function strategyType(d: KObject): string {
  return String(d?.spec?.strategy?.type ?? 'RollingUpdate');
}

export function isRollingUpdate(d: KObject): boolean {
  return strategyType(d) === 'RollingUpdate';
}

export function progressDeadlineSeconds(d: KObject): number | undefined {
  const v = d?.spec?.progressDeadlineSeconds;
  if (v === undefined) return 600; // apps/v1 default
  return v === null ? undefined : Number(v);
}

/** HasProgressDeadline: set and not MaxInt32. */
export function hasProgressDeadline(d: KObject): boolean {
  const v = progressDeadlineSeconds(d);
  return v !== undefined && v !== MAX_INT32;
}

export function revisionHistoryLimit(d: KObject): number | undefined {
  const v = d?.spec?.revisionHistoryLimit;
  if (v === undefined) return 10; // apps/v1 default
  return v === null ? undefined : Number(v);
}

/** HasRevisionHistoryLimit: set and not MaxInt32. */
export function hasRevisionHistoryLimit(d: KObject): boolean {
  const v = revisionHistoryLimit(d);
  return v !== undefined && v !== MAX_INT32;
}

export function minReadySeconds(o: KObject): number {
  return int32Field(o?.spec?.minReadySeconds, 0);
}

// ---------------------------------------------------------------------------
// maxSurge / maxUnavailable

/**
 * intstr.GetScaledValueFromIntOrPercent: an int as is; "N%" of total,
 * rounded up or down. A string that is not a percentage is an error.
 */
export function scaledValueFromIntOrPercent(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string') {
    if (!v.endsWith('%')) throw new Error('invalid type: string is not a percentage');
    const s = v.slice(0, -1);
    if (!/^[+-]?\d+$/.test(s)) throw new Error(`invalid value "${v}": strconv.Atoi: parsing "${s}": invalid syntax`);
    const n = Number(s);
    return roundUp ? Math.ceil((n * total) / 100) : Math.floor((n * total) / 100);
  }
  throw new Error(`invalid value for IntOrString: ${JSON.stringify(v)}`);
}

function rollingParams(d: KObject): { maxSurge: unknown; maxUnavailable: unknown } {
  // apps/v1 defaults each missing value to 25% (the API server fills them in).
  const ru = d?.spec?.strategy?.rollingUpdate ?? {};
  return { maxSurge: ru.maxSurge ?? '25%', maxUnavailable: ru.maxUnavailable ?? '25%' };
}

/**
 * ResolveFenceposts: maxSurge rounds up, maxUnavailable down; when both come
 * out 0 (validation forbids it literally, but 1% of 2 rounds to 0), maxUnavailable
 * becomes 1 so the rollout can proceed.
 */
export function resolveFenceposts(maxSurge: unknown, maxUnavailable: unknown, desired: number): { surge: number; unavailable: number } {
  const surge = scaledValueFromIntOrPercent(maxSurge ?? 0, desired, true);
  let unavailable = scaledValueFromIntOrPercent(maxUnavailable ?? 0, desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { surge, unavailable };
}

/** MaxSurge: 0 unless RollingUpdate. */
export function maxSurge(d: KObject): number {
  if (!isRollingUpdate(d)) return 0;
  const p = rollingParams(d);
  return resolveFenceposts(p.maxSurge, p.maxUnavailable, deploymentReplicas(d)).surge;
}

/** MaxUnavailable: 0 unless RollingUpdate with replicas > 0; at most replicas. */
export function maxUnavailable(d: KObject): number {
  const replicas = deploymentReplicas(d);
  if (!isRollingUpdate(d) || replicas === 0) return 0;
  const p = rollingParams(d);
  const u = resolveFenceposts(p.maxSurge, p.maxUnavailable, replicas).unavailable;
  return Math.min(u, replicas);
}

/** MinAvailable: replicas - maxUnavailable for RollingUpdate, else 0. */
export function minAvailable(d: KObject): number {
  if (!isRollingUpdate(d)) return 0;
  return deploymentReplicas(d) - maxUnavailable(d);
}

// ---------------------------------------------------------------------------
// Revisions and annotations

/** Revision: the revision annotation as an integer, 0 when absent; NaN when unparsable. */
export function revisionOf(o: KObject): number {
  const v = annotationsOf(o)[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  return /^[+-]?\d+$/.test(v) ? Number(v) : Number.NaN;
}

/** MaxRevision over ReplicaSets (unparsable ones skipped). */
export function maxRevision(rss: readonly KObject[]): number {
  let max = 0;
  for (const rs of rss) {
    const v = revisionOf(rs);
    if (!Number.isNaN(v) && v > max) max = v;
  }
  return max;
}

/** LastRevision: the second highest revision. */
export function lastRevision(rss: readonly KObject[]): number {
  let max = 0;
  let sec = 0;
  for (const rs of rss) {
    const v = revisionOf(rs);
    if (Number.isNaN(v)) continue;
    if (v >= max) {
      sec = max;
      max = v;
    } else if (v > sec) sec = v;
  }
  return sec;
}

const ANNOTATIONS_TO_SKIP = new Set([
  LAST_APPLIED_CONFIG_ANNOTATION,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  DEPRECATED_ROLLBACK_TO_ANNOTATION,
]);

/** skipCopyAnnotation: annotations the Deployment never copies to its ReplicaSets. */
export function skipCopyAnnotation(key: string): boolean {
  return ANNOTATIONS_TO_SKIP.has(key);
}

function ensureAnnotations(o: KObject): Record<string, string> {
  o.metadata ??= {};
  o.metadata.annotations ??= {};
  return o.metadata.annotations;
}

/** copyDeploymentAnnotationsToReplicaSet: returns true when the ReplicaSet changed. */
export function copyDeploymentAnnotationsToReplicaSet(d: KObject, rs: KObject): boolean {
  let changed = false;
  const a = ensureAnnotations(rs);
  for (const [k, v] of Object.entries(annotationsOf(d))) {
    if (skipCopyAnnotation(k) || (k in a && a[k] === v)) continue;
    a[k] = v;
    changed = true;
  }
  return changed;
}

/** SetReplicasAnnotations: desired-replicas and max-replicas; true when changed. */
export function setReplicasAnnotations(rs: KObject, desired: number, max: number): boolean {
  const a = ensureAnnotations(rs);
  let updated = false;
  if (a[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    a[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    updated = true;
  }
  if (a[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    a[MAX_REPLICAS_ANNOTATION] = String(max);
    updated = true;
  }
  return updated;
}

/** ReplicasAnnotationsNeedUpdate. */
export function replicasAnnotationsNeedUpdate(rs: KObject, desired: number, max: number): boolean {
  const a = annotationsOf(rs);
  return a[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || a[MAX_REPLICAS_ANNOTATION] !== String(max);
}

function intAnnotation(rs: KObject, key: string): number | undefined {
  const v = annotationsOf(rs)[key];
  if (v === undefined || !/^[+-]?\d+$/.test(v)) return undefined;
  return Number(v);
}

export function desiredReplicasAnnotation(rs: KObject): number | undefined {
  return intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
}

export function maxReplicasAnnotation(rs: KObject): number | undefined {
  return intAnnotation(rs, MAX_REPLICAS_ANNOTATION);
}

/**
 * SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the
 * revision to newRevision when lower (recording the old one in
 * revision-history, capped at revHistoryLimitInChars), and for a ReplicaSet
 * about to be created, the desired/max replicas. True when changed.
 */
export function setNewReplicaSetAnnotations(
  d: KObject,
  rs: KObject,
  newRevision: string,
  exists: boolean,
  revHistoryLimitInChars = MAX_REV_HISTORY_LENGTH_IN_CHARS,
): boolean {
  let changed = copyDeploymentAnnotationsToReplicaSet(d, rs);
  const a = ensureAnnotations(rs);
  const had = REVISION_ANNOTATION in a;
  const oldRevision = a[REVISION_ANNOTATION] ?? '';
  let oldRevisionInt = 0;
  if (oldRevision !== '') {
    if (!/^[+-]?\d+$/.test(oldRevision)) return false;
    oldRevisionInt = Number(oldRevision);
  }
  if (!/^[+-]?\d+$/.test(newRevision)) return false;
  const newRevisionInt = Number(newRevision);
  if (oldRevisionInt < newRevisionInt) {
    a[REVISION_ANNOTATION] = newRevision;
    changed = true;
  }
  if (had && oldRevisionInt < newRevisionInt) {
    const history = a[REVISION_HISTORY_ANNOTATION] ?? '';
    const old = history.split(',');
    if (old[0].length === 0) {
      a[REVISION_HISTORY_ANNOTATION] = oldRevision;
    } else {
      let totalLen = history.length + oldRevision.length + 1;
      let start = 0;
      while (totalLen > revHistoryLimitInChars && start < old.length) {
        totalLen = totalLen - old[start].length - 1;
        start++;
      }
      if (totalLen <= revHistoryLimitInChars) a[REVISION_HISTORY_ANNOTATION] = [...old.slice(start), oldRevision].join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, deploymentReplicas(d), deploymentReplicas(d) + maxSurge(d))) changed = true;
  return changed;
}

/** SetDeploymentRevision: true when the Deployment's revision annotation changes. */
export function setDeploymentRevision(d: KObject, revision: string): boolean {
  const a = ensureAnnotations(d);
  if (a[REVISION_ANNOTATION] !== revision) {
    a[REVISION_ANNOTATION] = revision;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Sorting and filtering ReplicaSets

function creationTime(o: KObject): number {
  // The zero time sorts first, as Go's zero metav1.Time.
  return parseTime(o?.metadata?.creationTimestamp) ?? Number.NEGATIVE_INFINITY;
}

/** ReplicaSetsByCreationTimestamp.Less: older first, name as tie breaker. */
export function byCreationTimestamp(a: KObject, b: KObject): number {
  const ta = creationTime(a);
  const tb = creationTime(b);
  if (ta === tb) return nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0;
  return ta < tb ? -1 : 1;
}

/** ReplicaSetsBySizeOlder: larger first; equal sizes older first. */
export function bySizeOlder(a: KObject, b: KObject): number {
  if (rsReplicas(a) === rsReplicas(b)) return byCreationTimestamp(a, b);
  return rsReplicas(a) > rsReplicas(b) ? -1 : 1;
}

/** ReplicaSetsBySizeNewer: larger first; equal sizes newer first. */
export function bySizeNewer(a: KObject, b: KObject): number {
  if (rsReplicas(a) === rsReplicas(b)) return byCreationTimestamp(b, a);
  return rsReplicas(a) > rsReplicas(b) ? -1 : 1;
}

/** ReplicaSetsByRevision: lower revision first; creation time when equal or unparsable. */
export function byRevision(a: KObject, b: KObject): number {
  const ra = revisionOf(a);
  const rb = revisionOf(b);
  if (Number.isNaN(ra) || Number.isNaN(rb) || ra === rb) return byCreationTimestamp(a, b);
  return ra - rb;
}

/** FilterActiveReplicaSets: spec.replicas > 0. */
export function filterActiveReplicaSets(rss: readonly (KObject | undefined | null)[]): KObject[] {
  return rss.filter((rs): rs is KObject => !!rs && rsReplicas(rs) > 0);
}

// ---------------------------------------------------------------------------
// New and old ReplicaSets

function templateWithoutHash(t: KObject | undefined): KObject {
  const c: KObject = clone(t ?? {});
  if (c.metadata?.labels) {
    delete c.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  }
  return c;
}

/** EqualIgnoreHash: templates semantically equal apart from the pod-template-hash label. */
export function equalIgnoreHash(t1: KObject | undefined, t2: KObject | undefined): boolean {
  return semanticEqual(templateWithoutHash(t1), templateWithoutHash(t2));
}

/** FindNewReplicaSet: the oldest ReplicaSet whose template equals the Deployment's. */
export function findNewReplicaSet(d: KObject, rss: readonly KObject[]): KObject | undefined {
  return [...rss].sort(byCreationTimestamp).find((rs) => equalIgnoreHash(rs?.spec?.template, d?.spec?.template));
}

/** FindOldReplicaSets: [old ReplicaSets with replicas, all old ReplicaSets]. */
export function findOldReplicaSets(d: KObject, rss: readonly KObject[]): { required: KObject[]; all: KObject[] } {
  const newRS = findNewReplicaSet(d, rss);
  const required: KObject[] = [];
  const all: KObject[] = [];
  for (const rs of rss) {
    if (newRS && rs.metadata?.uid === newRS.metadata?.uid && nameOf(rs) === nameOf(newRS)) continue;
    all.push(rs);
    if (rsReplicas(rs) !== 0) required.push(rs);
  }
  return { required, all };
}

/** FindActiveOrLatest: the only active ReplicaSet, the newest if none is active, undefined if several are. */
export function findActiveOrLatest(newRS: KObject | undefined, oldRSs: readonly KObject[]): KObject | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const sortedOld = [...oldRSs].sort((a, b) => byCreationTimestamp(b, a));
  const active = filterActiveReplicaSets([...sortedOld, newRS]);
  if (active.length === 0) return newRS ?? sortedOld[0];
  if (active.length === 1) return active[0];
  return undefined;
}

// ---------------------------------------------------------------------------
// Counts

export function replicaCount(rss: readonly (KObject | undefined | null)[]): number {
  return rss.reduce((n, rs) => n + (rs ? rsReplicas(rs) : 0), 0);
}

function statusCount(rss: readonly (KObject | undefined | null)[], field: string): number {
  return rss.reduce((n, rs) => n + (rs ? Number(rs.status?.[field] ?? 0) : 0), 0);
}

/** GetActualReplicaCountForReplicaSets: sum of status.replicas. */
export function actualReplicaCount(rss: readonly (KObject | undefined | null)[]): number {
  return statusCount(rss, 'replicas');
}

export function readyReplicaCount(rss: readonly (KObject | undefined | null)[]): number {
  return statusCount(rss, 'readyReplicas');
}

export function availableReplicaCount(rss: readonly (KObject | undefined | null)[]): number {
  return statusCount(rss, 'availableReplicas');
}

// ---------------------------------------------------------------------------
// Scaling arithmetic

/**
 * NewRSNewReplicas: the size the new ReplicaSet may have now. RollingUpdate:
 * up to replicas + maxSurge pods in total, never more than replicas in the
 * new ReplicaSet. Recreate: replicas.
 */
export function newRSNewReplicas(d: KObject, allRSs: readonly (KObject | undefined)[], newRS: KObject): number {
  const replicas = deploymentReplicas(d);
  switch (strategyType(d)) {
    case 'RollingUpdate': {
      const p = rollingParams(d);
      const surge = scaledValueFromIntOrPercent(p.maxSurge, replicas, true);
      const current = replicaCount(allRSs);
      const maxTotal = replicas + surge;
      if (current >= maxTotal) return rsReplicas(newRS);
      const scaleUp = Math.min(maxTotal - current, replicas - rsReplicas(newRS));
      return rsReplicas(newRS) + scaleUp;
    }
    case 'Recreate':
      return replicas;
    default:
      throw new Error(`deployment type ${strategyType(d)} isn't supported`);
  }
}

/** IsSaturated: the new ReplicaSet has all desired replicas, annotated so, all available. */
export function isSaturated(d: KObject, rs: KObject | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  if (desired === undefined) return false;
  const replicas = deploymentReplicas(d);
  return rsReplicas(rs) === replicas && desired === replicas && Number(rs.status?.availableReplicas ?? 0) === replicas;
}

/** getReplicaSetFraction: this ReplicaSet's share of a scaling event (negative when scaling down). */
export function replicaSetFraction(rs: KObject, d: KObject): number {
  const replicas = deploymentReplicas(d);
  if (replicas === 0) return -rsReplicas(rs);
  const deploymentTotal = replicas + maxSurge(d);
  let annotated = maxReplicasAnnotation(rs);
  if (annotated === undefined) annotated = Number(d?.status?.replicas ?? 0);
  const newSize = (rsReplicas(rs) * deploymentTotal) / annotated;
  return goRound(newSize) - rsReplicas(rs);
}

/** GetProportion: the replicas to add to (or remove from) rs, bounded by what is left to distribute. */
export function getProportion(rs: KObject | undefined, d: KObject, toAdd: number, added: number): number {
  if (!rs || rsReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

// ---------------------------------------------------------------------------
// Progress

/** The status subset the progress checks read. */
export interface DeploymentStatusLike {
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: KObject[];
}

const n = (v: unknown): number => Number(v ?? 0);

/** DeploymentComplete: every desired replica updated and available, nothing old left, generation observed. */
export function deploymentComplete(d: KObject, status: DeploymentStatusLike): boolean {
  const replicas = deploymentReplicas(d);
  return (
    n(status.updatedReplicas) === replicas &&
    n(status.replicas) === replicas &&
    n(status.availableReplicas) === replicas &&
    n(status.observedGeneration) >= n(d?.metadata?.generation)
  );
}

/** DeploymentProgressing: more updated, fewer old, more ready or more available pods than before. */
export function deploymentProgressing(d: KObject, newStatus: DeploymentStatusLike): boolean {
  const old: DeploymentStatusLike = d?.status ?? {};
  const oldOld = n(old.replicas) - n(old.updatedReplicas);
  const newOld = n(newStatus.replicas) - n(newStatus.updatedReplicas);
  return (
    n(newStatus.updatedReplicas) > n(old.updatedReplicas) ||
    newOld < oldOld ||
    n(newStatus.readyReplicas) > n(old.readyReplicas) ||
    n(newStatus.availableReplicas) > n(old.availableReplicas)
  );
}

/**
 * DeploymentTimedOut: the Progressing condition's lastUpdateTime is older
 * than progressDeadlineSeconds (or it already says ProgressDeadlineExceeded);
 * never after a completed rollout (NewReplicaSetAvailable).
 */
export function deploymentTimedOut(d: KObject, newStatus: DeploymentStatusLike, now: number): boolean {
  if (!hasProgressDeadline(d)) return false;
  const cond = getCondition(newStatus, DEPLOYMENT_PROGRESSING);
  if (!cond) return false;
  if (cond.reason === NEW_RS_AVAILABLE_REASON) return false;
  if (cond.reason === TIMED_OUT_REASON) return true;
  const from = parseTime(cond.lastUpdateTime) ?? Number.NEGATIVE_INFINITY;
  return from + (progressDeadlineSeconds(d) ?? 0) * 1000 < now;
}

// ---------------------------------------------------------------------------
// Conditions

export function newDeploymentCondition(type: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string, now: number): KObject {
  const t = timeString(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

export function getCondition(status: DeploymentStatusLike | KObject | undefined, type: string): KObject | undefined {
  const conds = status?.conditions;
  return Array.isArray(conds) ? conds.find((c: KObject) => c?.type === type) : undefined;
}

/**
 * SetDeploymentCondition: no change when a condition of that type with the
 * same status and reason exists; keeps lastTransitionTime when only the
 * reason changes; the condition moves to the end of the list.
 */
export function setCondition(status: DeploymentStatusLike | KObject, condition: KObject): void {
  const cur = getCondition(status, condition.type);
  if (cur && cur.status === condition.status && cur.reason === condition.reason) return;
  const c = { ...condition };
  if (cur && cur.status === c.status) c.lastTransitionTime = cur.lastTransitionTime;
  const others = (Array.isArray(status.conditions) ? status.conditions : []).filter((x: KObject) => x?.type !== c.type);
  status.conditions = [...others, c];
}

export function removeCondition(status: DeploymentStatusLike | KObject, type: string): void {
  if (!Array.isArray(status.conditions)) return;
  const rest = status.conditions.filter((x: KObject) => x?.type !== type);
  if (rest.length) status.conditions = rest;
  else delete status.conditions;
}

/** ReplicaSetToDeploymentCondition. */
export function replicaSetToDeploymentCondition(c: KObject): KObject {
  return {
    type: c.type,
    status: c.status,
    lastUpdateTime: c.lastTransitionTime,
    lastTransitionTime: c.lastTransitionTime,
    reason: c.reason,
    message: c.message,
  };
}

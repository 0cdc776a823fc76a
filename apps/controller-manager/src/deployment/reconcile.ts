// The Deployment controller's sync (pkg/controller/deployment: deployment_controller.go
// syncDeployment, sync.go, rolling.go, recreate.go, progress.go) as a planner:
// it walks kube's decision procedure over in-memory copies and records every
// API call kube would make as an action, applying each to its copies so the
// later steps see what kube's later steps see. The actions are then carried
// out in order by executeDeploymentPlan (execute.ts); the first failure ends
// the sync and the key is retried, as when kube's sync returns an error.
import { selectorFromLabelSelector, type Selector } from '@kubets/api-machinery';
import { claimBySelector } from '../util/controller-ref';
import { computeHash } from '../util/hash';
import {
  clone,
  controllerRefOf,
  errorMessage,
  isBeingDeleted,
  isControlledBy,
  keyOf,
  labelsOf,
  nameOf,
  namespaceOf,
  newControllerRef,
  parseTime,
  podPhase,
  semanticEqual,
  timeString,
  uidOf,
  type KObject,
} from '../util/k8s';
import {
  actualReplicaCount,
  availableReplicaCount,
  byCreationTimestamp,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  DEPLOYMENT_AVAILABLE,
  DEPLOYMENT_PROGRESSING,
  DEPLOYMENT_REPLICA_FAILURE,
  deploymentComplete,
  deploymentProgressing,
  deploymentReplicas,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  FAILED_RS_CREATE_REASON,
  filterActiveReplicaSets,
  findActiveOrLatest,
  findNewReplicaSet,
  findOldReplicaSets,
  FOUND_NEW_RS_REASON,
  getCondition,
  getProportion,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  maxUnavailable,
  minReadySeconds,
  MINIMUM_REPLICAS_AVAILABLE,
  MINIMUM_REPLICAS_UNAVAILABLE,
  NEW_REPLICA_SET_REASON,
  NEW_RS_AVAILABLE_REASON,
  newDeploymentCondition,
  newRSNewReplicas,
  PAUSED_DEPLOY_REASON,
  POD_TEMPLATE_HASH_LABEL,
  progressDeadlineSeconds,
  readyReplicaCount,
  removeCondition,
  REPLICA_SET_UPDATED_REASON,
  replicaCount,
  replicasAnnotationsNeedUpdate,
  replicaSetToDeploymentCondition,
  RESUMED_DEPLOY_REASON,
  REVISION_ANNOTATION,
  revisionHistoryLimit,
  rsReplicas,
  SCALING_REPLICA_SET_REASON,
  setCondition,
  setDeploymentRevision,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  strategyType,
  TIMED_OUT_REASON,
  type DeploymentStatusLike,
} from './util';

export const DEPLOYMENT_KIND = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

/** An event to record on the Deployment once its action succeeded. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type DeploymentAction =
  /** Strategic merge patch adding the Deployment as controller of an orphan ReplicaSet. */
  | { type: 'adoptReplicaSet'; replicaSet: KObject; patch: KObject }
  /** Strategic merge patch removing the Deployment's reference from a ReplicaSet it no longer selects. */
  | { type: 'releaseReplicaSet'; replicaSet: KObject; patch: KObject }
  /** POST the new ReplicaSet (deterministic name `<deployment>-<pod-template-hash>`). */
  | { type: 'createReplicaSet'; replicaSet: KObject; event?: PlannedEvent }
  /** PUT a ReplicaSet (replicas and/or annotations, minReadySeconds); carries the cached resourceVersion. */
  | { type: 'updateReplicaSet'; replicaSet: KObject; event?: PlannedEvent }
  /** DELETE an old ReplicaSet beyond revisionHistoryLimit. */
  | { type: 'deleteReplicaSet'; replicaSet: KObject }
  /** PUT deployments/<name>/status. */
  | { type: 'updateDeploymentStatus'; deployment: KObject }
  /**
   * JSON merge patch of the Deployment's metadata (the revision annotation).
   * Kube writes it with the status update (its status strategy keeps
   * annotations); kubets' status endpoint takes only .status, so it is a
   * patch of its own, sent after the status.
   */
  | { type: 'patchDeployment'; patch: KObject };

export interface DeploymentPlan {
  /** `namespace/name`. */
  key: string;
  actions: DeploymentAction[];
  /** Events to record at once (not tied to an action). */
  events: PlannedEvent[];
  /** Sync again after this long (progress deadline checks). */
  requeueAfterMs?: number;
  /** Sync again soon through the rate limiter (the progress deadline is less than a second away). */
  requeueRateLimited?: boolean;
  /** Why the sync stops early with a retry (e.g. a hash collision); the key should be requeued with back-off. */
  error?: string;
  /** The new ReplicaSet's name, if there is one. */
  newReplicaSet?: string;
}

export interface DeploymentReconcileOptions {
  /** Now in ms (condition times, progress deadline). Default Date.now(). */
  now?: number;
  /**
   * Pods of the namespace (informer cache). Only Recreate reads them: no new
   * pod starts while an old one (even terminating) still exists.
   */
  pods?: readonly KObject[];
}

class AbortSync extends Error {}

interface Scaled {
  scaled: boolean;
  rs: KObject;
}

/** The deployment status as kube serialises it (zero counts omitted). */
export function normalizeDeploymentStatus(s: KObject | undefined): KObject {
  const out: KObject = {};
  for (const [k, v] of Object.entries(s ?? {})) {
    if (v === undefined || v === null) continue;
    if (['observedGeneration', 'replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'unavailableReplicas'].includes(k) && Number(v) === 0) continue;
    if (k === 'conditions' && Array.isArray(v) && v.length === 0) continue;
    out[k] = v;
  }
  return out;
}

function statusEqual(a: KObject | undefined, b: KObject | undefined): boolean {
  return semanticEqual(normalizeDeploymentStatus(a), normalizeDeploymentStatus(b));
}

/** One sync of one Deployment, in kube's order. */
class DeploymentSync {
  readonly d: KObject;
  readonly plan: DeploymentPlan;
  private rsList: KObject[] = [];
  private podMap = new Map<string, KObject[]>();
  private revisionPatched = false;

  constructor(
    private readonly orig: KObject,
    private readonly namespaceRSs: readonly KObject[],
    private readonly pods: readonly KObject[],
    private readonly now: number,
  ) {
    this.d = clone(orig);
    this.d.status ??= {};
    this.plan = { key: keyOf(orig), actions: [], events: [] };
  }

  /** For tests and tools: run one step of the sync over the given ReplicaSets. */
  step(fn: (self: DeploymentSync) => void, rss: KObject[]): void {
    this.rsList = rss.map(clone);
    fn(this);
  }

  scaleStep(newRS: KObject | undefined, oldRSs: KObject[]): void {
    const { newRS: n, oldRSs: o } = this.current(newRS, oldRSs);
    this.scale(n, o);
  }

  cleanupStep(oldRSs: KObject[]): void {
    this.cleanupDeployment(this.current(undefined, oldRSs).oldRSs);
  }

  // ----------------------------------------------------------------- helpers

  private replace(rs: KObject): void {
    const i = this.rsList.findIndex((r) => nameOf(r) === nameOf(rs));
    if (i >= 0) this.rsList[i] = rs;
    else this.rsList.push(rs);
  }

  private dReplicas(): number {
    return deploymentReplicas(this.d);
  }

  private updateRS(rs: KObject, specChanged: boolean, event?: PlannedEvent): KObject {
    this.plan.actions.push({ type: 'updateReplicaSet', replicaSet: clone(rs), ...(event ? { event } : {}) });
    // The stored object gets a new generation when its spec changes.
    if (specChanged) rs.metadata.generation = Number(rs.metadata.generation ?? 1) + 1;
    this.replace(rs);
    return rs;
  }

  private recordRevision(revision: string): void {
    if (setDeploymentRevision(this.d, revision)) this.revisionPatched = true;
  }

  // -------------------------------------------------- getReplicaSetsForDeployment

  /** Claim the namespace's ReplicaSets: adopt matching orphans, release non-matching owned ones. */
  private claimReplicaSets(selector: Selector): void {
    const claim = claimBySelector(this.d, newControllerRef(this.d, DEPLOYMENT_KIND.apiVersion, DEPLOYMENT_KIND.kind), this.namespaceRSs.filter((rs) => namespaceOf(rs) === namespaceOf(this.d)), selector);
    for (const a of claim.adopt) this.plan.actions.push({ type: 'adoptReplicaSet', replicaSet: a.object, patch: a.patch });
    for (const r of claim.release) this.plan.actions.push({ type: 'releaseReplicaSet', replicaSet: r.object, patch: r.patch });
    this.rsList = claim.claimed.map((rs) => {
      const c = clone(rs);
      if (!controllerRefOf(c)) {
        // Adopted in this sync: it is ours from now on.
        c.metadata.ownerReferences = [...(c.metadata.ownerReferences ?? []), newControllerRef(this.d, DEPLOYMENT_KIND.apiVersion, DEPLOYMENT_KIND.kind)];
      }
      return c;
    });
  }

  /** getPodMapForDeployment: pods (active or not) by the uid of their controlling ReplicaSet. */
  private buildPodMap(selector: Selector): void {
    for (const rs of this.rsList) this.podMap.set(uidOf(rs), []);
    for (const p of this.pods) {
      if (namespaceOf(p) !== namespaceOf(this.d) || !selector.matches(labelsOf(p))) continue;
      const ref = controllerRefOf(p);
      if (!ref) continue;
      this.podMap.get(ref.uid)?.push(p);
    }
  }

  // ----------------------------------------------------------- syncDeployment

  run(): void {
    const d = this.d;
    const sel = d.spec?.selector;
    if (sel && typeof sel === 'object' && semanticEqual(sel, {})) {
      this.plan.events.push({ type: 'Warning', reason: 'SelectingAll', message: 'This deployment is selecting all pods. A non-empty selector is required.' });
      if (Number(d.status.observedGeneration ?? 0) < Number(d.metadata?.generation ?? 0)) d.status.observedGeneration = Number(d.metadata.generation);
      return;
    }
    let selector: Selector;
    try {
      selector = selectorFromLabelSelector(sel);
    } catch (e) {
      throw new AbortSync(`deployment ${keyOf(d)} has invalid label selector: ${errorMessage(e)}`);
    }
    this.claimReplicaSets(selector);
    this.buildPodMap(selector);

    if (isBeingDeleted(d)) return this.syncStatusOnly();

    this.checkPausedConditions();
    if (d.spec?.paused) return this.sync();
    // apps/v1 has no rollbackTo; `kubectl rollout undo` patches the template instead.
    if (this.isScalingEvent()) return this.sync();

    switch (strategyType(d)) {
      case 'Recreate':
        return this.rolloutRecreate();
      case 'RollingUpdate':
        return this.rolloutRolling();
    }
    throw new AbortSync(`unexpected deployment strategy type: ${strategyType(d)}`);
  }

  // ------------------------------------------------------------------ sync.go

  private syncStatusOnly(): void {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(false);
    this.syncDeploymentStatus([...oldRSs, newRS], newRS);
  }

  /** Scaling events and paused deployments. */
  private sync(): void {
    let { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(false);
    this.scale(newRS, oldRSs);
    ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    if (this.d.spec?.paused) {
      this.cleanupDeployment(oldRSs);
      ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    }
    this.syncDeploymentStatus([...oldRSs, newRS], newRS);
  }

  /** The working copies of the given ReplicaSets (after updates made in this sync). */
  private current(newRS: KObject | undefined, oldRSs: KObject[]): { newRS: KObject | undefined; oldRSs: KObject[] } {
    const byName = new Map(this.rsList.map((r) => [nameOf(r), r]));
    return {
      newRS: newRS ? byName.get(nameOf(newRS)) ?? newRS : undefined,
      oldRSs: oldRSs.map((r) => byName.get(nameOf(r))).filter((r): r is KObject => !!r),
    };
  }

  private checkPausedConditions(): void {
    const d = this.d;
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, DEPLOYMENT_PROGRESSING);
    if (cond && cond.reason === TIMED_OUT_REASON) return;
    const pausedCondExists = cond !== undefined && cond.reason === PAUSED_DEPLOY_REASON;
    if (d.spec?.paused && !pausedCondExists) {
      setCondition(d.status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'Unknown', PAUSED_DEPLOY_REASON, 'Deployment is paused', this.now));
    } else if (!d.spec?.paused && pausedCondExists) {
      setCondition(d.status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'Unknown', RESUMED_DEPLOY_REASON, 'Deployment is resumed', this.now));
    }
  }

  private getAllReplicaSetsAndSyncRevision(createIfNotExisted: boolean): { newRS: KObject | undefined; oldRSs: KObject[] } {
    const oldRSs = findOldReplicaSets(this.d, this.rsList).all;
    const newRS = this.getNewReplicaSet(oldRSs, createIfNotExisted);
    if (newRS) this.plan.newReplicaSet = nameOf(newRS);
    return { newRS, oldRSs: findOldReplicaSets(this.d, this.rsList).all };
  }

  /**
   * getNewReplicaSet: the ReplicaSet with the Deployment's template, its
   * revision raised to max(old revisions)+1 (which is how a rollback to an
   * old template re-uses that ReplicaSet with a new revision), or a new one.
   */
  private getNewReplicaSet(oldRSs: KObject[], createIfNotExisted: boolean): KObject | undefined {
    const d = this.d;
    const existing = findNewReplicaSet(d, this.rsList);
    const newRevision = String(maxRevision(oldRSs) + 1);

    if (existing) {
      const rsCopy = clone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      const minReadyNeedsUpdate = minReadySeconds(rsCopy) !== minReadySeconds(d);
      if (annotationsUpdated || minReadyNeedsUpdate) {
        rsCopy.spec ??= {};
        rsCopy.spec.minReadySeconds = minReadySeconds(d);
        return this.updateRS(rsCopy, minReadyNeedsUpdate);
      }
      this.recordRevision(rsCopy.metadata?.annotations?.[REVISION_ANNOTATION] ?? '');
      const cond = getCondition(d.status, DEPLOYMENT_PROGRESSING);
      if (hasProgressDeadline(d) && !cond) {
        setCondition(d.status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'True', FOUND_NEW_RS_REASON, `Found new replica set "${nameOf(rsCopy)}"`, this.now));
      }
      return rsCopy;
    }

    if (!createIfNotExisted) return undefined;

    const newTemplate = clone(d.spec?.template ?? {});
    const hash = computeHash(newTemplate, d.status?.collisionCount);
    newTemplate.metadata ??= {};
    newTemplate.metadata.labels = { ...(d.spec?.template?.metadata?.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = clone(d.spec?.selector ?? {});
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const name = `${nameOf(d)}-${hash}`;
    const meta: KObject = { name, ownerReferences: [newControllerRef(d, DEPLOYMENT_KIND.apiVersion, DEPLOYMENT_KIND.kind)], labels: { ...newTemplate.metadata.labels } };
    if (namespaceOf(d)) meta.namespace = namespaceOf(d);
    const newRS: KObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: meta,
      spec: { replicas: 0, minReadySeconds: minReadySeconds(d), selector, template: newTemplate },
    };

    // A ReplicaSet by that name that is not this template's: a hash collision
    // (kube learns it from AlreadyExists). Bump collisionCount and retry.
    const clash = this.namespaceRSs.find((rs) => namespaceOf(rs) === namespaceOf(d) && nameOf(rs) === name);
    if (clash) {
      if (isControlledBy(clash, d) && equalIgnoreHash(d.spec?.template, clash.spec?.template)) {
        const c = clone(clash);
        this.replace(c);
        return c;
      }
      d.status.collisionCount = Number(d.status.collisionCount ?? 0) + 1;
      throw new AbortSync(`replicasets.apps "${name}" already exists: hash collision, collisionCount raised to ${d.status.collisionCount}`);
    }

    newRS.spec.replicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    setNewReplicaSetAnnotations(d, newRS, newRevision, false);
    const count = newRS.spec.replicas;
    this.plan.actions.push({
      type: 'createReplicaSet',
      replicaSet: clone(newRS),
      ...(count > 0 ? { event: { type: 'Normal' as const, reason: SCALING_REPLICA_SET_REASON, message: `Scaled up replica set ${name} from 0 to ${count}` } } : {}),
    });
    // The created object: the server stamps it now (it is the newest) with generation 1.
    newRS.metadata.creationTimestamp = timeString(this.now);
    newRS.metadata.generation = 1;
    newRS.status = { replicas: 0 };
    this.replace(newRS);

    this.recordRevision(newRevision);
    if (hasProgressDeadline(d)) {
      setCondition(d.status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'True', NEW_REPLICA_SET_REASON, `Created new replica set "${name}"`, this.now));
    }
    return newRS;
  }

  /**
   * scale: during a rollout or while paused, distribute a change of
   * spec.replicas over the active ReplicaSets in proportion to their sizes
   * (recorded in the max-replicas annotation), larger ones first, the
   * rounding leftover going to the first.
   */
  private scale(newRS: KObject | undefined, oldRSs: KObject[]): void {
    const d = this.d;
    const activeOrLatest = findActiveOrLatest(newRS, oldRSs);
    if (activeOrLatest) {
      if (rsReplicas(activeOrLatest) === this.dReplicas()) return;
      this.scaleReplicaSetAndRecordEvent(activeOrLatest, this.dReplicas());
      return;
    }
    if (isSaturated(d, newRS)) {
      for (const old of filterActiveReplicaSets(oldRSs)) this.scaleReplicaSetAndRecordEvent(old, 0);
      return;
    }
    if (!isRollingUpdate(d)) return;
    let allRSs = filterActiveReplicaSets([...oldRSs, newRS]);
    const allRSsReplicas = replicaCount(allRSs);
    const allowedSize = this.dReplicas() > 0 ? this.dReplicas() + maxSurge(d) : 0;
    const toAdd = allowedSize - allRSsReplicas;
    let op = '';
    if (toAdd > 0) {
      allRSs = [...allRSs].sort(bySizeNewer);
      op = 'up';
    } else if (toAdd < 0) {
      allRSs = [...allRSs].sort(bySizeOlder);
      op = 'down';
    }
    let added = 0;
    const sizes = new Map<string, number>();
    for (const rs of allRSs) {
      if (toAdd !== 0) {
        const p = getProportion(rs, d, toAdd, added);
        sizes.set(nameOf(rs), rsReplicas(rs) + p);
        added += p;
      } else {
        sizes.set(nameOf(rs), rsReplicas(rs));
      }
    }
    allRSs.forEach((rs, i) => {
      if (i === 0 && toAdd !== 0) {
        const leftover = toAdd - added;
        sizes.set(nameOf(rs), Math.max(0, sizes.get(nameOf(rs))! + leftover));
      }
      this.scaleReplicaSet(rs, sizes.get(nameOf(rs))!, op);
    });
  }

  private scaleReplicaSetAndRecordEvent(rs: KObject, newScale: number): Scaled {
    if (rsReplicas(rs) === newScale) return { scaled: false, rs };
    return this.scaleReplicaSet(rs, newScale, rsReplicas(rs) < newScale ? 'up' : 'down');
  }

  /** scaleReplicaSet: new size and desired/max-replicas annotations; the event when the size changed. */
  private scaleReplicaSet(rs: KObject, newScale: number, op: string): Scaled {
    const d = this.d;
    const sizeNeedsUpdate = rsReplicas(rs) !== newScale;
    const max = this.dReplicas() + maxSurge(d);
    const annotationsNeedUpdate = replicasAnnotationsNeedUpdate(rs, this.dReplicas(), max);
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return { scaled: false, rs };
    const oldScale = rsReplicas(rs);
    const c = clone(rs);
    c.spec ??= {};
    c.spec.replicas = newScale;
    setReplicasAnnotations(c, this.dReplicas(), max);
    const event = sizeNeedsUpdate
      ? { type: 'Normal' as const, reason: SCALING_REPLICA_SET_REASON, message: `Scaled ${op} replica set ${nameOf(c)} from ${oldScale} to ${newScale}` }
      : undefined;
    return { scaled: sizeNeedsUpdate, rs: this.updateRS(c, sizeNeedsUpdate, event) };
  }

  /** cleanupDeployment: delete old, empty ReplicaSets beyond revisionHistoryLimit, oldest revision first. */
  private cleanupDeployment(oldRSs: KObject[]): void {
    const d = this.d;
    if (!hasRevisionHistoryLimit(d)) return;
    const cleanable = oldRSs.filter((rs) => rs && !isBeingDeleted(rs));
    const diff = cleanable.length - (revisionHistoryLimit(d) ?? 0);
    if (diff <= 0) return;
    cleanable.sort(byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i];
      if (Number(rs.status?.replicas ?? 0) !== 0 || rsReplicas(rs) !== 0 || Number(rs.metadata?.generation ?? 0) > Number(rs.status?.observedGeneration ?? 0) || isBeingDeleted(rs)) {
        continue;
      }
      this.plan.actions.push({ type: 'deleteReplicaSet', replicaSet: rs });
      this.rsList = this.rsList.filter((r) => nameOf(r) !== nameOf(rs));
    }
  }

  private syncDeploymentStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined): void {
    const s = this.calculateStatus(allRSs, newRS);
    if (!statusEqual(this.d.status, s)) this.d.status = s;
  }

  /** calculateStatus: counts from the ReplicaSets' statuses, the Available condition. */
  private calculateStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined): KObject {
    const d = this.d;
    const available = availableReplicaCount(allRSs);
    const total = replicaCount(allRSs);
    const status: KObject = {
      observedGeneration: Number(d.metadata?.generation ?? 0),
      replicas: actualReplicaCount(allRSs),
      updatedReplicas: actualReplicaCount([newRS]),
      readyReplicas: readyReplicaCount(allRSs),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
    };
    if (d.status?.collisionCount !== undefined && d.status.collisionCount !== null) status.collisionCount = d.status.collisionCount;
    if (Array.isArray(d.status?.conditions)) status.conditions = d.status.conditions.map((c: KObject) => ({ ...c }));
    if (available >= this.dReplicas() - maxUnavailable(d)) {
      setCondition(status, newDeploymentCondition(DEPLOYMENT_AVAILABLE, 'True', MINIMUM_REPLICAS_AVAILABLE, 'Deployment has minimum availability.', this.now));
    } else {
      setCondition(status, newDeploymentCondition(DEPLOYMENT_AVAILABLE, 'False', MINIMUM_REPLICAS_UNAVAILABLE, 'Deployment does not have minimum availability.', this.now));
    }
    return normalizeDeploymentStatus(status);
  }

  // ---------------------------------------------------------------- rolling.go

  private rolloutRolling(): void {
    let { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(true);
    const rs = newRS!;
    if (this.reconcileNewReplicaSet([...oldRSs, rs], rs)) {
      ({ newRS, oldRSs } = this.current(newRS, oldRSs));
      return this.syncRolloutStatus([...oldRSs, newRS], newRS);
    }
    ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    if (this.reconcileOldReplicaSets([...oldRSs, newRS!], filterActiveReplicaSets(oldRSs), newRS!)) {
      ({ newRS, oldRSs } = this.current(newRS, oldRSs));
      return this.syncRolloutStatus([...oldRSs, newRS], newRS);
    }
    if (deploymentComplete(this.d, this.d.status)) {
      this.cleanupDeployment(oldRSs);
      ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    }
    this.syncRolloutStatus([...oldRSs, newRS], newRS);
  }

  /** reconcileNewReplicaSet: scale the new ReplicaSet up as far as maxSurge allows (or down to replicas). */
  private reconcileNewReplicaSet(allRSs: KObject[], newRS: KObject): boolean {
    if (rsReplicas(newRS) === this.dReplicas()) return false;
    if (rsReplicas(newRS) > this.dReplicas()) return this.scaleReplicaSetAndRecordEvent(newRS, this.dReplicas()).scaled;
    return this.scaleReplicaSetAndRecordEvent(newRS, newRSNewReplicas(this.d, allRSs, newRS)).scaled;
  }

  /**
   * reconcileOldReplicaSets: scale old ReplicaSets down without going under
   * replicas - maxUnavailable available pods, counting the new ReplicaSet's
   * unavailable pods against the budget; unhealthy old pods go first.
   */
  private reconcileOldReplicaSets(allRSs: KObject[], oldRSs: KObject[], newRS: KObject): boolean {
    const d = this.d;
    if (replicaCount(oldRSs) === 0) return false;
    const allPodsCount = replicaCount(allRSs);
    const minAvail = this.dReplicas() - maxUnavailable(d);
    const newRSUnavailable = rsReplicas(newRS) - Number(newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allPodsCount - minAvail - newRSUnavailable;
    if (maxScaledDown <= 0) return false;

    const cleaned = this.cleanupUnhealthyReplicas(oldRSs, maxScaledDown);
    if (!cleaned) return false;
    const scaledDown = this.scaleDownOldReplicaSetsForRollingUpdate([...cleaned.oldRSs, newRS], cleaned.oldRSs);
    if (scaledDown === undefined) return false;
    return cleaned.count + scaledDown > 0;
  }

  private cleanupUnhealthyReplicas(oldRSs: KObject[], maxCleanupCount: number): { oldRSs: KObject[]; count: number } | undefined {
    const rss = [...oldRSs].sort(byCreationTimestamp);
    let total = 0;
    for (let i = 0; i < rss.length; i++) {
      if (total >= maxCleanupCount) break;
      const target = rss[i];
      const replicas = rsReplicas(target);
      if (replicas === 0) continue;
      const available = Number(target.status?.availableReplicas ?? 0);
      if (replicas === available) continue;
      const count = Math.min(maxCleanupCount - total, replicas - available);
      const newCount = replicas - count;
      if (newCount > replicas) return undefined; // kube: "invalid request to scale down", sync goes on without scaling
      rss[i] = this.scaleReplicaSetAndRecordEvent(target, newCount).rs;
      total += count;
    }
    return { oldRSs: rss, count: total };
  }

  private scaleDownOldReplicaSetsForRollingUpdate(allRSs: KObject[], oldRSs: KObject[]): number | undefined {
    const minAvail = this.dReplicas() - maxUnavailable(this.d);
    const available = availableReplicaCount(allRSs);
    if (available <= minAvail) return 0;
    const rss = [...oldRSs].sort(byCreationTimestamp);
    let total = 0;
    const totalScaleDown = available - minAvail;
    for (const target of rss) {
      if (total >= totalScaleDown) break;
      const replicas = rsReplicas(target);
      if (replicas === 0) continue;
      const count = Math.min(replicas, totalScaleDown - total);
      const newCount = replicas - count;
      if (newCount > replicas) return undefined;
      this.scaleReplicaSetAndRecordEvent(target, newCount);
      total += count;
    }
    return total;
  }

  // --------------------------------------------------------------- recreate.go

  private rolloutRecreate(): void {
    let { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(false);
    let scaledDown = false;
    for (const rs of filterActiveReplicaSets(oldRSs)) {
      if (this.scaleReplicaSetAndRecordEvent(rs, 0).scaled) scaledDown = true;
    }
    ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    if (scaledDown) return this.syncRolloutStatus([...oldRSs, newRS], newRS);
    if (this.oldPodsRunning(newRS, oldRSs)) return this.syncRolloutStatus([...oldRSs, newRS], newRS);
    if (!newRS) ({ newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(true));
    this.scaleReplicaSetAndRecordEvent(newRS!, this.dReplicas());
    ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    if (deploymentComplete(this.d, this.d.status)) {
      this.cleanupDeployment(oldRSs);
      ({ newRS, oldRSs } = this.current(newRS, oldRSs));
    }
    this.syncRolloutStatus([...oldRSs, newRS], newRS);
  }

  /** oldPodsRunning: an old ReplicaSet reports pods, or a non-terminal pod of an old ReplicaSet exists. */
  private oldPodsRunning(newRS: KObject | undefined, oldRSs: KObject[]): boolean {
    if (actualReplicaCount(oldRSs) > 0) return true;
    for (const [uid, pods] of this.podMap) {
      if (newRS && uidOf(newRS) === uid) continue;
      for (const p of pods) {
        const phase = podPhase(p);
        if (phase === 'Failed' || phase === 'Succeeded') continue;
        return true;
      }
    }
    return false;
  }

  // --------------------------------------------------------------- progress.go

  /** isScalingEvent: an active ReplicaSet's desired-replicas annotation differs from spec.replicas. */
  private isScalingEvent(): boolean {
    const { newRS, oldRSs } = this.getAllReplicaSetsAndSyncRevision(false);
    for (const rs of filterActiveReplicaSets([...oldRSs, newRS])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired === undefined) continue;
      if (desired !== this.dReplicas()) return true;
    }
    return false;
  }

  /** syncRolloutStatus: status plus the Progressing condition (complete, progressing, or timed out). */
  private syncRolloutStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined): void {
    const d = this.d;
    const newStatus = this.calculateStatus(allRSs, newRS);
    if (!hasProgressDeadline(d)) removeCondition(newStatus, DEPLOYMENT_PROGRESSING);

    const currentCond = getCondition(d.status, DEPLOYMENT_PROGRESSING);
    const isCompleteDeployment =
      Number(newStatus.replicas ?? 0) === Number(newStatus.updatedReplicas ?? 0) && currentCond !== undefined && currentCond.reason === NEW_RS_AVAILABLE_REASON;
    if (hasProgressDeadline(d) && !isCompleteDeployment) {
      if (deploymentComplete(d, newStatus)) {
        const msg = newRS ? `ReplicaSet "${nameOf(newRS)}" has successfully progressed.` : `Deployment "${nameOf(d)}" has successfully progressed.`;
        setCondition(newStatus, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'True', NEW_RS_AVAILABLE_REASON, msg, this.now));
      } else if (deploymentProgressing(d, newStatus)) {
        const msg = newRS ? `ReplicaSet "${nameOf(newRS)}" is progressing.` : `Deployment "${nameOf(d)}" is progressing.`;
        const condition = newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'True', REPLICA_SET_UPDATED_REASON, msg, this.now);
        // Unlike other conditions, lastUpdateTime moves on every progress with the same reason.
        if (currentCond) {
          if (currentCond.status === 'True') condition.lastTransitionTime = currentCond.lastTransitionTime;
          removeCondition(newStatus, DEPLOYMENT_PROGRESSING);
        }
        setCondition(newStatus, condition);
      } else if (deploymentTimedOut(d, newStatus, this.now)) {
        const msg = newRS ? `ReplicaSet "${nameOf(newRS)}" has timed out progressing.` : `Deployment "${nameOf(d)}" has timed out progressing.`;
        setCondition(newStatus, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'False', TIMED_OUT_REASON, msg, this.now));
      }
    }

    const failures = this.getReplicaFailures(allRSs, newRS);
    if (failures.length > 0) setCondition(newStatus, failures[0]);
    else removeCondition(newStatus, DEPLOYMENT_REPLICA_FAILURE);

    if (statusEqual(d.status, newStatus)) {
      this.requeueStuckDeployment(newStatus);
      return;
    }
    d.status = normalizeDeploymentStatus(newStatus);
  }

  private getReplicaFailures(allRSs: (KObject | undefined)[], newRS: KObject | undefined): KObject[] {
    const fromRS = (rs: KObject | undefined) =>
      (Array.isArray(rs?.status?.conditions) ? rs!.status.conditions : []).filter((c: KObject) => c?.type === 'ReplicaFailure').map(replicaSetToDeploymentCondition);
    const own = fromRS(newRS);
    if (own.length) return own;
    return allRSs.flatMap(fromRS);
  }

  /** requeueStuckDeployment: check again when the progress deadline would pass. */
  private requeueStuckDeployment(newStatus: DeploymentStatusLike): void {
    const d = this.d;
    const cond = getCondition(d.status, DEPLOYMENT_PROGRESSING);
    if (!hasProgressDeadline(d) || !cond) return;
    if (deploymentComplete(d, newStatus) || cond.reason === TIMED_OUT_REASON) return;
    const last = parseTime(cond.lastUpdateTime) ?? this.now;
    const after = last + (progressDeadlineSeconds(d) ?? 0) * 1000 - this.now;
    // Less than a second left: again soon (rate limited); else a second late to avoid skew.
    if (after < 1000) this.plan.requeueRateLimited = true;
    else this.plan.requeueAfterMs = after + 1000;
  }

  // ------------------------------------------------------------------ finish

  finish(): DeploymentPlan {
    const d = this.d;
    if (!statusEqual(this.orig.status, d.status)) {
      const out = clone(this.orig);
      out.status = normalizeDeploymentStatus(d.status);
      this.plan.actions.push({ type: 'updateDeploymentStatus', deployment: out });
    }
    if (this.revisionPatched) {
      this.plan.actions.push({ type: 'patchDeployment', patch: { metadata: { annotations: { [REVISION_ANNOTATION]: d.metadata.annotations[REVISION_ANNOTATION] } } } });
    }
    return this.plan;
  }
}

/**
 * One sync of a Deployment.
 *
 * - `replicaSets`: every ReplicaSet of the Deployment's namespace (informer
 *   cache); the Deployment claims those its selector matches (adopting
 *   orphans) and releases owned ones it no longer matches.
 * - `opts.pods`: the namespace's pods (Recreate waits until no old pod is left).
 *
 * The plan's actions are kube's API calls in kube's order; they assume the
 * ones before them succeeded. Events attached to an action are recorded once
 * it succeeded.
 */
export function reconcileDeployment(deployment: KObject, replicaSets: readonly KObject[], opts: DeploymentReconcileOptions = {}): DeploymentPlan {
  const sync = new DeploymentSync(deployment, replicaSets, opts.pods ?? [], opts.now ?? Date.now());
  try {
    sync.run();
  } catch (e) {
    if (!(e instanceof AbortSync)) throw e;
    sync.plan.error = e.message;
  }
  return sync.finish();
}

/** The ReplicaSet updates of kube's scale() (proportional scaling) for these ReplicaSets. */
export function planScale(deployment: KObject, newRS: KObject | undefined, oldRSs: KObject[], now = Date.now()): DeploymentAction[] {
  const sync = new DeploymentSync(deployment, [], [], now);
  sync.step((s) => s.scaleStep(newRS, oldRSs), [...(newRS ? [newRS] : []), ...oldRSs]);
  return sync.plan.actions;
}

/** The deletions of kube's cleanupDeployment (revisionHistoryLimit) for these old ReplicaSets. */
export function planCleanup(deployment: KObject, oldRSs: KObject[], now = Date.now()): DeploymentAction[] {
  const sync = new DeploymentSync(deployment, [], [], now);
  sync.step((s) => s.cleanupStep(oldRSs), oldRSs);
  return sync.plan.actions;
}

/**
 * What kube does when creating the new ReplicaSet fails (not AlreadyExists):
 * a Progressing=False ReplicaSetCreateError condition (with a progress
 * deadline) and a Warning event, both saying
 * `Failed to create new replica set "<name>": <error>`.
 */
export function replicaSetCreateFailure(deployment: KObject, rsName: string, error: unknown, now: number): { deployment?: KObject; event: PlannedEvent } {
  const msg = `Failed to create new replica set "${rsName}": ${errorMessage(error)}`;
  const event: PlannedEvent = { type: 'Warning', reason: FAILED_RS_CREATE_REASON, message: msg };
  if (!hasProgressDeadline(deployment)) return { event };
  const d = clone(deployment);
  d.status ??= {};
  setCondition(d.status, newDeploymentCondition(DEPLOYMENT_PROGRESSING, 'False', FAILED_RS_CREATE_REASON, msg, now));
  return { deployment: d, event };
}

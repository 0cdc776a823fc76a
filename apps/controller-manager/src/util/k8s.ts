// Small helpers over Kubernetes objects in their JSON form (what the API
// server returns): metadata accessors, owner references, pod readiness and
// availability (k8s.io/kubernetes/pkg/api/v1/pod), times, semantic equality.
import { isDeepStrictEqual } from 'node:util';
import { rfc3339 } from '@kubets/api-machinery';

/** A Kubernetes object as JSON. */
export type KObject = Record<string, any>;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Clock in milliseconds since the epoch; the controllers never read Date.now() themselves. */
export type Clock = () => number;

export function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

export function nameOf(o: KObject | undefined | null): string {
  return String(o?.metadata?.name ?? '');
}

export function namespaceOf(o: KObject | undefined | null): string {
  return String(o?.metadata?.namespace ?? '');
}

export function uidOf(o: KObject | undefined | null): string {
  return String(o?.metadata?.uid ?? '');
}

/** `<namespace>/<name>` (cache.MetaNamespaceKeyFunc); just `<name>` for cluster-scoped objects. */
export function keyOf(o: KObject): string {
  const ns = namespaceOf(o);
  return ns ? `${ns}/${nameOf(o)}` : nameOf(o);
}

export function labelsOf(o: KObject | undefined | null): Record<string, string> {
  const l = o?.metadata?.labels;
  return l && typeof l === 'object' ? l : {};
}

export function annotationsOf(o: KObject | undefined | null): Record<string, string> {
  const a = o?.metadata?.annotations;
  return a && typeof a === 'object' ? a : {};
}

export function isBeingDeleted(o: KObject | undefined | null): boolean {
  return o?.metadata?.deletionTimestamp !== undefined && o?.metadata?.deletionTimestamp !== null;
}

/** metav1.GetControllerOf: the owner reference with controller=true, if any. */
export function controllerRefOf(o: KObject | undefined | null): OwnerReference | undefined {
  const refs = o?.metadata?.ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  return refs.find((r) => r && r.controller === true);
}

/** metav1.IsControlledBy. */
export function isControlledBy(o: KObject, owner: KObject): boolean {
  const ref = controllerRefOf(o);
  return ref !== undefined && ref.uid === uidOf(owner);
}

/** metav1.NewControllerRef: controller and blockOwnerDeletion set. */
export function newControllerRef(owner: KObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: nameOf(owner), uid: uidOf(owner), controller: true, blockOwnerDeletion: true };
}

// ---------------------------------------------------------------------------
// Time

/** metav1.Time's wire form: RFC 3339 with second precision, UTC. */
export function timeString(ms: number): string {
  return rfc3339(ms);
}

/** Milliseconds since the epoch of an RFC 3339 time, or undefined (the zero time). */
export function parseTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || s === '') return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

// ---------------------------------------------------------------------------
// Pods (pkg/api/v1/pod and pkg/controller)

function podReadyCondition(pod: KObject): KObject | undefined {
  const conds = pod?.status?.conditions;
  if (!Array.isArray(conds)) return undefined;
  return conds.find((c) => c?.type === 'Ready');
}

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

/** When the pod became ready (the Ready condition's lastTransitionTime), if it is ready. */
export function podReadyTime(pod: KObject): number | undefined {
  const c = podReadyCondition(pod);
  return c?.status === 'True' ? parseTime(c.lastTransitionTime) : undefined;
}

/**
 * podutil.IsPodAvailable: ready, and ready for at least minReadySeconds
 * (strictly longer, as kube compares with Before).
 */
export function isPodAvailable(pod: KObject, minReadySeconds: number, now: number): boolean {
  if (!isPodReady(pod)) return false;
  if (!minReadySeconds) return true;
  const t = parseTime(podReadyCondition(pod)?.lastTransitionTime);
  return t !== undefined && t + minReadySeconds * 1000 < now;
}

export function podPhase(pod: KObject): string {
  return String(pod?.status?.phase ?? '');
}

/** controller.IsPodActive: not Succeeded, not Failed, not being deleted. */
export function isPodActive(pod: KObject): boolean {
  const phase = podPhase(pod);
  return phase !== 'Succeeded' && phase !== 'Failed' && !isBeingDeleted(pod);
}

/** The highest restartCount among the pod's containers. */
export function maxContainerRestarts(pod: KObject): number {
  let max = 0;
  const statuses = pod?.status?.containerStatuses;
  if (Array.isArray(statuses)) for (const s of statuses) max = Math.max(max, Number(s?.restartCount ?? 0));
  return max;
}

export function nodeNameOf(pod: KObject): string {
  return String(pod?.spec?.nodeName ?? '');
}

/** `<namespace>/<name>` of a pod (controller.PodKey). */
export function podKey(pod: KObject): string {
  return `${namespaceOf(pod)}/${nameOf(pod)}`;
}

// ---------------------------------------------------------------------------
// Numbers

/** Go's math.Round (halves away from zero), as integer.RoundToInt32. */
export function goRound(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/** A non-negative int32 field with a default (spec.replicas and friends). */
export function int32Field(v: unknown, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : dflt;
}

// ---------------------------------------------------------------------------
// Semantic equality

/**
 * Drops what Go's JSON decoding makes indistinguishable from absent for
 * apiequality.Semantic.DeepEqual: nulls, and empty arrays and maps (the
 * forked DeepEqual treats nil and empty slices/maps as equal).
 */
export function normalizeForEquality(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalizeForEquality);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = normalizeForEquality((v as Record<string, unknown>)[k]);
      if (x === null || x === undefined) continue;
      if (Array.isArray(x) && x.length === 0) continue;
      if (typeof x === 'object' && !Array.isArray(x) && Object.keys(x as object).length === 0) continue;
      out[k] = x;
    }
    return out;
  }
  return v;
}

/** apiequality.Semantic.DeepEqual over JSON (nil == empty). */
export function semanticEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalizeForEquality(a), normalizeForEquality(b));
}

/** Go's `%v` of an error value (the message). */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

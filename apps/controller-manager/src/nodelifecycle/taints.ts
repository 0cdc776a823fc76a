// Pure helpers of the node lifecycle controller (pkg/controller/nodelifecycle,
// pkg/controller/tainteviction, k8s.io/api/core/v1 toleration matching).
import type { KObject } from '../util/k8s';

export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const NODE_STATUS_UNKNOWN_REASON = 'NodeStatusUnknown';
export const NODE_STATUS_UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';
export const NODE_STATUS_NEVER_UPDATED_REASON = 'NodeStatusNeverUpdated';
export const NODE_STATUS_NEVER_UPDATED_MESSAGE = 'Kubelet never posted node status.';
/** The conditions the controller turns Unknown when the kubelet goes silent (kube's list). */
export const MONITORED_CONDITIONS = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'] as const;

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal' | string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export function readyStatus(node: KObject): 'True' | 'False' | 'Unknown' | undefined {
  const c = (node?.status?.conditions ?? []).find((x: KObject) => x.type === 'Ready');
  return c?.status;
}

/** The node.kubernetes.io/{unreachable,not-ready} taints a node's Ready status calls for. */
export function wantedHealthTaints(ready: string | undefined): Taint[] {
  if (ready === 'Unknown' || ready === undefined)
    return [
      { key: TAINT_UNREACHABLE, effect: 'NoExecute' },
      { key: TAINT_UNREACHABLE, effect: 'NoSchedule' },
    ];
  if (ready === 'False')
    return [
      { key: TAINT_NOT_READY, effect: 'NoExecute' },
      { key: TAINT_NOT_READY, effect: 'NoSchedule' },
    ];
  return [];
}

const isHealthTaint = (t: Taint) => t.key === TAINT_UNREACHABLE || t.key === TAINT_NOT_READY;

/** The node's taints with the health taints swapped for `wanted` (existing ones keep their timeAdded); undefined when nothing changes. */
export function reconcileTaints(current: Taint[], wanted: Taint[], now: string): Taint[] | undefined {
  const others = current.filter((t) => !isHealthTaint(t));
  const health = wanted.map((w) => {
    const had = current.find((t) => t.key === w.key && t.effect === w.effect);
    if (had) return had;
    return w.effect === 'NoExecute' ? { ...w, timeAdded: now } : { ...w };
  });
  const next = [...others, ...health];
  const same = next.length === current.length && next.every((t) => current.some((c) => c.key === t.key && c.effect === t.effect && (c.value ?? '') === (t.value ?? '')));
  return same ? undefined : next;
}

/** v1.Toleration.ToleratesTaint. */
export function tolerates(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (tol.key && tol.key !== taint.key) return false;
  const op = tol.operator || 'Equal';
  if (op === 'Exists') return true;
  if (op === 'Equal') return (tol.value ?? '') === (taint.value ?? '');
  return false;
}

export type EvictionDecision = { evict: 'now' } | { evict: 'at'; atMs: number } | { evict: 'never' };

/**
 * The taint eviction manager's decision for one pod against the node's
 * NoExecute taints: a taint no toleration matches evicts at once; otherwise
 * the smallest tolerationSeconds among the matching tolerations counts from
 * the taint's timeAdded (no tolerationSeconds: tolerated forever).
 */
export function evictionDecision(pod: KObject, taints: Taint[], nowMs: number): EvictionDecision {
  const noExec = taints.filter((t) => t.effect === 'NoExecute');
  if (noExec.length === 0) return { evict: 'never' };
  const tols: Toleration[] = pod?.spec?.tolerations ?? [];
  let at = Infinity;
  for (const t of noExec) {
    const used = tols.filter((x) => tolerates(x, t));
    if (used.length === 0) return { evict: 'now' };
    const added = t.timeAdded ? Date.parse(t.timeAdded) : nowMs;
    for (const u of used) {
      if (u.tolerationSeconds === undefined || u.tolerationSeconds === null) continue;
      const secs = Math.max(0, Number(u.tolerationSeconds));
      at = Math.min(at, (Number.isFinite(added) ? added : nowMs) + secs * 1000);
    }
  }
  if (at === Infinity) return { evict: 'never' };
  return at <= nowMs ? { evict: 'now' } : { evict: 'at', atMs: at };
}

/** The node's conditions turned Unknown (kube's tryUpdateNodeHealth); undefined when already so. */
export function unknownConditions(node: KObject, now: string): KObject[] | undefined {
  const conds: KObject[] = [...(node?.status?.conditions ?? [])].map((c) => ({ ...c }));
  let changed = false;
  for (const type of MONITORED_CONDITIONS) {
    const c = conds.find((x) => x.type === type);
    if (!c) {
      conds.push({ type, status: 'Unknown', reason: NODE_STATUS_NEVER_UPDATED_REASON, message: NODE_STATUS_NEVER_UPDATED_MESSAGE, lastHeartbeatTime: now, lastTransitionTime: now });
      changed = true;
    } else if (c.status !== 'Unknown') {
      c.status = 'Unknown';
      c.reason = NODE_STATUS_UNKNOWN_REASON;
      c.message = NODE_STATUS_UNKNOWN_MESSAGE;
      c.lastTransitionTime = now;
      changed = true;
    }
  }
  return changed ? conds : undefined;
}

// The DaemonSet controller's planning (pkg/controller/daemon): which nodes
// should run a daemon pod (NodeShouldRunDaemonPod: node name, required node
// affinity / nodeSelector, taints against the pod's tolerations including the
// ones kube adds to every daemon pod), what to create and delete
// (podsShouldBeOnNode + the RollingUpdate strategy with maxUnavailable) and
// the status. Pure: objects in, decisions out.
//
// Simplification: kube keeps ControllerRevisions and labels pods with the
// revision's hash; here the hash of the pod template (computeHash, collision
// count included) is written straight to the `controller-revision-hash` label
// and no ControllerRevision objects are stored (so `kubectl rollout undo ds`
// has no history to go back to).
import { selectorFromLabelSelector, type Selector } from '@kubets/api-machinery';
import { tolerates, type Taint, type Toleration } from '../nodelifecycle/taints';
import { computeHash } from '../util/hash';
import { clone, isBeingDeleted, isPodAvailable, isPodReady, labelsOf, nameOf, newControllerRef, parseTime, uidOf, type KObject } from '../util/k8s';

export const DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY = 'controller-revision-hash';
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

/** util.AddOrUpdateDaemonPodTolerations (Kubernetes 1.32). */
export function daemonPodTolerations(spec: KObject): Toleration[] {
  const out: Toleration[] = [...((spec?.tolerations as Toleration[] | undefined) ?? [])];
  const add = (t: Toleration) => {
    const i = out.findIndex((x) => (x.key ?? '') === (t.key ?? '') && (x.effect ?? '') === (t.effect ?? ''));
    if (i >= 0) out[i] = t;
    else out.push(t);
  };
  add({ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' });
  add({ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' });
  add({ key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' });
  add({ key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' });
  add({ key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' });
  add({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' });
  if (spec?.hostNetwork) add({ key: 'node.kubernetes.io/network-unavailable', operator: 'Exists', effect: 'NoSchedule' });
  return out;
}

/** The template hash (the stand-in for the ControllerRevision hash). */
export function templateHash(ds: KObject): string {
  return computeHash(ds?.spec?.template ?? {}, ds?.status?.collisionCount);
}

// ---------------------------------------------------------------------------
// Node selection (component-helpers nodeaffinity + TaintToleration)

interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

function matchRequirement(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const vals = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && vals.includes(value);
    case 'NotIn':
      return value === undefined || !vals.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      if (value === undefined || vals.length !== 1) return false;
      const a = Number.parseInt(value, 10);
      const b = Number.parseInt(vals[0]!, 10);
      if (Number.isNaN(a) || Number.isNaN(b)) return false;
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

function matchTerm(term: KObject, node: KObject): boolean {
  const exprs: NodeSelectorRequirement[] = term?.matchExpressions ?? [];
  const fields: NodeSelectorRequirement[] = term?.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false; // an empty term matches nothing
  const labels = labelsOf(node);
  if (!exprs.every((r) => matchRequirement(r, Object.prototype.hasOwnProperty.call(labels, r.key) ? labels[r.key] : undefined))) return false;
  return fields.every((r) => r.key === 'metadata.name' && matchRequirement(r, nameOf(node)));
}

/** nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): nodeSelector and required node affinity. */
export function podMatchesNodeSelectorAndAffinity(podSpec: KObject, node: KObject): boolean {
  const sel: Record<string, string> = podSpec?.nodeSelector ?? {};
  const labels = labelsOf(node);
  for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) return false;
  const terms: KObject[] | undefined = podSpec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms === undefined || terms === null) return true;
  return terms.some((t) => matchTerm(t, node));
}

function untolerated(taints: Taint[], tolerations: Toleration[], effects: string[]): Taint | undefined {
  return taints.find((t) => effects.includes(t.effect) && !tolerations.some((tol) => tolerates(tol, t)));
}

export interface NodeDecision {
  shouldRun: boolean;
  shouldContinueRunning: boolean;
}

/**
 * NodeShouldRunDaemonPod: a pod built from the template (with the daemon
 * tolerations) must fit the node's name, selector/affinity and NoSchedule +
 * NoExecute taints to run there; an existing pod keeps running unless the
 * node has an untolerated NoExecute taint (or no longer matches).
 */
export function nodeShouldRunDaemonPod(node: KObject, ds: KObject): NodeDecision {
  const spec = ds?.spec?.template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== nameOf(node)) return { shouldRun: false, shouldContinueRunning: false };
  if (!podMatchesNodeSelectorAndAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const taints: Taint[] = node?.spec?.taints ?? [];
  const tols = daemonPodTolerations(spec);
  const fits = untolerated(taints, tols, ['NoSchedule', 'NoExecute']) === undefined;
  const keepsRunning = untolerated(taints, tols, ['NoExecute']) === undefined;
  return { shouldRun: fits, shouldContinueRunning: keepsRunning };
}

/** util.GetTargetNodeName: spec.nodeName, or the node of the matchFields metadata.name affinity. */
export function targetNodeName(pod: KObject): string | undefined {
  if (pod?.spec?.nodeName) return String(pod.spec.nodeName);
  const terms: KObject[] = pod?.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t?.matchFields ?? []) {
      if (f?.key === 'metadata.name' && f?.operator === 'In' && Array.isArray(f.values) && f.values.length === 1) return String(f.values[0]);
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The pod a DaemonSet creates

/** util.ReplaceDaemonSetPodNodeNameNodeAffinity: the required terms become one matchFields term on the node's name. */
export function withNodeNameAffinity(affinity: KObject | undefined, nodeName: string): KObject {
  const a = clone(affinity ?? {});
  const na = (a.nodeAffinity ??= {});
  na.requiredDuringSchedulingIgnoredDuringExecution = { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] }] };
  return a;
}

/** controller.GetPodFromTemplate + the daemon additions (labels, tolerations, node affinity). */
export function newDaemonPod(ds: KObject, nodeName: string, hash: string): KObject {
  const tpl = ds?.spec?.template ?? {};
  const spec = clone(tpl.spec ?? {});
  spec.tolerations = daemonPodTolerations(spec);
  spec.affinity = withNodeNameAffinity(spec.affinity, nodeName);
  const labels: Record<string, string> = { ...(tpl.metadata?.labels ?? {}), [DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY]: hash };
  if (ds?.metadata?.generation !== undefined) labels[POD_TEMPLATE_GENERATION_LABEL] = String(ds.metadata.generation);
  const metadata: KObject = { generateName: `${nameOf(ds)}-`, labels, ownerReferences: [newControllerRef(ds, 'apps/v1', 'DaemonSet')] };
  if (tpl.metadata?.annotations) metadata.annotations = clone(tpl.metadata.annotations);
  if (tpl.metadata?.finalizers) metadata.finalizers = clone(tpl.metadata.finalizers);
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec };
}

// ---------------------------------------------------------------------------
// The plan

export interface DaemonSetPlan {
  /** Node names to create a daemon pod on. */
  create: string[];
  /** Pod names to delete (with the reason, for events/logs). */
  delete: { name: string; reason: string }[];
  /** The status to write when it differs from the current one. */
  status: KObject;
  statusChanged: boolean;
  hash: string;
  /** Recheck after this long (minReadySeconds becoming available). */
  requeueAfterMs?: number;
}

export function dsSelector(ds: KObject): Selector {
  return selectorFromLabelSelector(ds?.spec?.selector);
}

function intOrPercent(v: unknown, total: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number') return v;
  const s = String(v);
  if (s.endsWith('%')) return Math.ceil((Number.parseInt(s, 10) * total) / 100); // roundUp, as kube does for maxUnavailable
  const n = Number.parseInt(s, 10);
  return Number.isNaN(n) ? dflt : n;
}

/** The pods this DaemonSet owns (by controllerRef uid), active or being deleted. */
export function ownedPods(ds: KObject, pods: readonly KObject[]): KObject[] {
  const uid = uidOf(ds);
  return pods.filter((p) => (p?.metadata?.ownerReferences ?? []).some((r: KObject) => r?.controller === true && r?.uid === uid));
}

const created = (p: KObject) => parseTime(p?.metadata?.creationTimestamp) ?? 0;

/**
 * manage + rollingUpdate + updateDaemonSetStatus, over the DaemonSet's own
 * pods (already claimed) and every node.
 */
export function reconcileDaemonSet(ds: KObject, pods: readonly KObject[], nodes: readonly KObject[], now: number): DaemonSetPlan {
  const hash = templateHash(ds);
  const minReady = Number(ds?.spec?.minReadySeconds ?? 0) || 0;
  const byNode = new Map<string, KObject[]>();
  for (const p of pods) {
    const n = targetNodeName(p);
    if (n === undefined) continue;
    let l = byNode.get(n);
    if (!l) byNode.set(n, (l = []));
    l.push(p);
  }
  const create: string[] = [];
  const del: { name: string; reason: string }[] = [];
  const nodeNames = new Set(nodes.map(nameOf));
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let available = 0;
  let updated = 0;
  let requeueAfterMs: number | undefined;
  // Nodes that should run a pod, with the pod kept there (for the rolling update).
  const kept: { node: string; pod: KObject }[] = [];
  for (const node of nodes) {
    const name = nameOf(node);
    const d = nodeShouldRunDaemonPod(node, ds);
    const all = byNode.get(name) ?? [];
    const live = all.filter((p) => !isBeingDeleted(p));
    if (d.shouldRun) desired++;
    if (live.length > 0 && d.shouldRun) current++;
    if (live.length > 0 && !d.shouldRun) misscheduled++;
    if (d.shouldRun) {
      // podsShouldBeOnNode: failed pods are deleted (and replaced on a later sync), duplicates trimmed to the oldest.
      const running: KObject[] = [];
      for (const p of live) {
        if (p?.status?.phase === 'Failed') del.push({ name: nameOf(p), reason: `found failed daemon pod on node ${name}, will try to kill it` });
        else running.push(p);
      }
      if (running.length === 0) {
        // A failed pod just deleted or one still terminating blocks the replacement until it is gone.
        if (all.length === 0) create.push(name);
      } else {
        running.sort((a, b) => created(a) - created(b) || nameOf(a).localeCompare(nameOf(b)));
        for (const extra of running.slice(1)) del.push({ name: nameOf(extra), reason: `excess daemon pod on node ${name}` });
        kept.push({ node: name, pod: running[0]! });
      }
    } else if (!d.shouldContinueRunning) {
      for (const p of live) del.push({ name: nameOf(p), reason: `node ${name} no longer runs this daemon` });
    }
  }
  // Pods on nodes that no longer exist.
  for (const [n, ps] of byNode) {
    if (nodeNames.has(n)) continue;
    for (const p of ps) if (!isBeingDeleted(p)) del.push({ name: nameOf(p), reason: `node ${n} no longer exists` });
  }
  for (const { pod } of kept) {
    if (isPodReady(pod)) ready++;
    if (isPodAvailable(pod, minReady, now)) available++;
    else if (isPodReady(pod) && minReady > 0) {
      const t = parseTime(pod.status?.conditions?.find((c: KObject) => c.type === 'Ready')?.lastTransitionTime) ?? now;
      const left = t + minReady * 1000 - now + 1000;
      requeueAfterMs = requeueAfterMs === undefined ? left : Math.min(requeueAfterMs, left);
    }
    if (labelsOf(pod)[DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY] === hash) updated++;
  }

  // rollingUpdate (maxSurge 0): old pods that are unavailable go at once; old
  // available pods go while the unavailable count stays within maxUnavailable.
  const strategy = ds?.spec?.updateStrategy ?? {};
  if ((strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
    const maxUnavailable = Math.max(intOrPercent(strategy.rollingUpdate?.maxUnavailable, desired, 1), 0) || (intOrPercent(strategy.rollingUpdate?.maxSurge, desired, 0) > 0 ? 0 : 1);
    let unavailable = desired - kept.filter(({ pod }) => isPodAvailable(pod, minReady, now)).length;
    const deleting = new Set(del.map((d) => d.name));
    const oldAvailable: KObject[] = [];
    for (const { node, pod } of kept) {
      if (labelsOf(pod)[DEFAULT_DAEMONSET_UNIQUE_LABEL_KEY] === hash || deleting.has(nameOf(pod))) continue;
      if (!isPodAvailable(pod, minReady, now)) del.push({ name: nameOf(pod), reason: `rolling update: old unavailable pod on node ${node}` });
      else oldAvailable.push(pod);
    }
    for (const pod of oldAvailable) {
      if (unavailable >= maxUnavailable) break;
      del.push({ name: nameOf(pod), reason: 'rolling update: replacing an old available pod' });
      unavailable++;
    }
  }

  const old = ds?.status ?? {};
  const status: KObject = {
    ...clone(old),
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    desiredNumberScheduled: desired,
    numberReady: ready,
    updatedNumberScheduled: updated,
    numberAvailable: available,
    numberUnavailable: desired - available,
    observedGeneration: ds?.metadata?.generation,
  };
  if (status.numberUnavailable === 0) delete status.numberUnavailable;
  if (status.numberAvailable === 0) delete status.numberAvailable;
  if (status.updatedNumberScheduled === 0) delete status.updatedNumberScheduled;
  if (status.observedGeneration === undefined) delete status.observedGeneration;
  const keys = ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'observedGeneration'];
  const statusChanged = keys.some((k) => (old[k] ?? 0) !== (status[k] ?? 0));
  return { create, delete: del, status, statusChanged, hash, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}

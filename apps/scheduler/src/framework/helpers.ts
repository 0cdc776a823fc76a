/**
 * Helpers shared by plugins: taints and tolerations
 * (component-helpers/scheduling/corev1), node selectors and required node
 * affinity (component-helpers/scheduling/corev1/nodeaffinity), and
 * DefaultNormalizeScore (framework/plugins/helper).
 */
import { newRequirement, type Operator, type Requirement, selectorFromSet, type Selector } from '@kubets/api-machinery';
import type { Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PreferredSchedulingTerm, Taint, Toleration } from './api-types';
import type { NodeScore } from './types';

const { trunc } = Math;
const hasOwn = Object.prototype.hasOwnProperty;

// ---------------------------------------------------------------------------
// Taints and tolerations

/** Toleration.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

/** TolerationsTolerateTaint. */
export function tolerationsTolerateTaint(tolerations: readonly Toleration[] | null | undefined, taint: Taint): boolean {
  if (!tolerations) return false;
  for (const t of tolerations) if (t && toleratesTaint(t, taint)) return true;
  return false;
}

/** helper.DoNotScheduleTaintsFilterFunc: the taints the Filter checks. */
export function doNotScheduleTaint(taint: Taint): boolean {
  return taint.effect === 'NoSchedule' || taint.effect === 'NoExecute';
}

/** FindMatchingUntoleratedTaint: the first taint passing `filter` that no toleration tolerates. */
export function findMatchingUntoleratedTaint(
  taints: readonly Taint[] | null | undefined,
  tolerations: readonly Toleration[] | null | undefined,
  filter: (t: Taint) => boolean,
): Taint | undefined {
  if (!taints) return undefined;
  for (const taint of taints) {
    if (!taint || !filter(taint)) continue;
    if (!tolerationsTolerateTaint(tolerations, taint)) return taint;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Node selectors

const NODE_SELECTOR_OPS: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!', Gt: 'gt', Lt: 'lt' };

interface FieldTerm {
  key: string;
  equal: boolean;
  value: string;
}

interface CompiledTerm {
  /** undefined: no matchExpressions. */
  labels?: Requirement[];
  /** undefined: no matchFields. */
  fields?: FieldTerm[];
  /** A requirement that does not parse: the term never matches (kube logs the error and moves on). */
  invalid: boolean;
}

function isEmptyTerm(t: NodeSelectorTerm | null | undefined): boolean {
  return !t || ((t.matchExpressions?.length ?? 0) === 0 && (t.matchFields?.length ?? 0) === 0);
}

function compileLabelRequirements(exprs: readonly NodeSelectorRequirement[]): Requirement[] | undefined {
  const out: Requirement[] = [];
  for (const e of exprs) {
    const op = e && Object.prototype.hasOwnProperty.call(NODE_SELECTOR_OPS, e.operator) ? NODE_SELECTOR_OPS[e.operator] : undefined;
    if (!op) return undefined;
    try {
      out.push(newRequirement(String(e.key), op, (e.values ?? []).map(String)));
    } catch {
      return undefined;
    }
  }
  return out;
}

/** nodeSelectorRequirementsAsFieldSelector: only In / NotIn with exactly one value. */
function compileFieldRequirements(exprs: readonly NodeSelectorRequirement[]): FieldTerm[] | undefined {
  const out: FieldTerm[] = [];
  for (const e of exprs) {
    if (!e || (e.operator !== 'In' && e.operator !== 'NotIn')) return undefined;
    if ((e.values ?? []).length !== 1) return undefined;
    out.push({ key: String(e.key), equal: e.operator === 'In', value: String(e.values![0]) });
  }
  return out;
}

function compileTerm(t: NodeSelectorTerm): CompiledTerm {
  const term: CompiledTerm = { invalid: false };
  if (t.matchExpressions && t.matchExpressions.length) {
    term.labels = compileLabelRequirements(t.matchExpressions);
    if (!term.labels) term.invalid = true;
  }
  if (t.matchFields && t.matchFields.length) {
    term.fields = compileFieldRequirements(t.matchFields);
    if (!term.fields) term.invalid = true;
  }
  return term;
}

function labelsMatch(reqs: readonly Requirement[], labels: Record<string, string>): boolean {
  // Selector.matches without allocating a Selector per call.
  for (const r of reqs) {
    const has = hasOwn.call(labels, r.key);
    const val = has ? labels[r.key] : undefined;
    switch (r.operator) {
      case 'in':
        if (val === undefined || !r.values.includes(val)) return false;
        break;
      case 'notin':
        if (val !== undefined && r.values.includes(val)) return false;
        break;
      case 'exists':
        if (val === undefined) return false;
        break;
      case '!':
        if (val !== undefined) return false;
        break;
      case 'gt':
      case 'lt': {
        if (val === undefined || !/^[+-]?[0-9]+$/.test(val)) return false;
        const have = BigInt(val.startsWith('+') ? val.slice(1) : val);
        const w = r.values[0]!;
        const want = BigInt(w.startsWith('+') ? w.slice(1) : w);
        if (r.operator === 'gt' ? !(have > want) : !(have < want)) return false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

function termMatches(term: CompiledTerm, node: Node): boolean {
  if (term.invalid) return false;
  if (term.labels && !labelsMatch(term.labels, node.metadata?.labels ?? {})) return false;
  if (term.fields) {
    const name = node.metadata?.name ?? '';
    // extractNodeFields: only metadata.name; with no name there are no fields and matchFields is not checked.
    if (name) {
      for (const f of term.fields) {
        const have = f.key === 'metadata.name' ? name : '';
        if (f.equal ? have !== f.value : have === f.value) return false;
      }
    }
  }
  return true;
}

/** nodeaffinity.NodeSelector (lazy-error flavour): terms are ORed, an empty term matches nothing. */
export class CompiledNodeSelector {
  private readonly terms: CompiledTerm[];

  constructor(ns: NodeSelector | null | undefined) {
    this.terms = [];
    for (const t of ns?.nodeSelectorTerms ?? []) {
      if (isEmptyTerm(t)) continue;
      this.terms.push(compileTerm(t));
    }
  }

  match(node: Node): boolean {
    for (const t of this.terms) if (termMatches(t, node)) return true;
    return false;
  }
}

/** nodeaffinity.RequiredNodeAffinity: spec.nodeSelector AND spec.affinity.nodeAffinity.required. */
export class RequiredNodeAffinity {
  private readonly labelSelector: Selector | undefined;
  private readonly nodeSelector: CompiledNodeSelector | undefined;

  constructor(pod: Pod) {
    const sel = pod.spec?.nodeSelector;
    this.labelSelector = sel && Object.keys(sel).length > 0 ? selectorFromSet(sel) : undefined;
    const req = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    this.nodeSelector = req ? new CompiledNodeSelector(req) : undefined;
  }

  /** Whether the pod has no node selector and no required node affinity. */
  get isEmpty(): boolean {
    return !this.labelSelector && !this.nodeSelector;
  }

  match(node: Node): boolean {
    if (this.labelSelector && !this.labelSelector.matches(node.metadata?.labels ?? {})) return false;
    if (this.nodeSelector) return this.nodeSelector.match(node);
    return true;
  }
}

/** nodeaffinity.PreferredSchedulingTerms: the sum of the weights of the matching terms. */
export class PreferredSchedulingTerms {
  private readonly terms: Array<{ weight: number; term: CompiledTerm }> = [];

  constructor(terms: readonly PreferredSchedulingTerm[] | null | undefined) {
    for (const t of terms ?? []) {
      if (!t || !t.weight || isEmptyTerm(t.preference)) continue;
      this.terms.push({ weight: t.weight, term: compileTerm(t.preference) });
    }
  }

  get length(): number {
    return this.terms.length;
  }

  score(node: Node): number {
    let s = 0;
    for (const t of this.terms) if (termMatches(t.term, node)) s += t.weight;
    return s;
  }
}

// ---------------------------------------------------------------------------
// Scores

/**
 * helper.DefaultNormalizeScore: scale to 0..maxPriority by the highest score
 * (integer division); `reverse` turns high raw scores into low final ones.
 */
export function defaultNormalizeScore(maxPriority: number, reverse: boolean, scores: NodeScore[]): void {
  let maxCount = 0;
  for (const s of scores) if (s.score > maxCount) maxCount = s.score;
  if (maxCount === 0) {
    if (reverse) for (const s of scores) s.score = maxPriority;
    return;
  }
  for (const s of scores) {
    let score = trunc((maxPriority * s.score) / maxCount);
    if (reverse) score = maxPriority - score;
    s.score = score;
  }
}

// Helpers shared by the resource definitions: field paths, Go-style value
// rendering for error messages, quantities, label formatting, ages.
import { humanDuration, invalidValue } from './machinery';
import type { FieldCause, KObject } from './types';

export type Causes = FieldCause[];

export const child = (path: string, name: string): string => (path ? `${path}.${name}` : name);
export const index = (path: string, i: number): string => `${path}[${i}]`;
export const key = (path: string, k: string): string => `${path}[${k}]`;

export const isObject = (v: unknown): v is KObject => v !== null && typeof v === 'object' && !Array.isArray(v);
export const asArray = <T = KObject>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);
export const asObject = (v: unknown): KObject => (isObject(v) ? v : {});
export const isSet = (v: unknown): boolean => v !== undefined && v !== null;

// ------------------------------------------------------------ Go-style values

/** A value already rendered the way Go's %#v prints it. */
export class GoValue {
  constructor(readonly text: string) {}
}

const q = (s: string): string => JSON.stringify(s);

export function goStringMap(m: unknown): GoValue {
  if (!isObject(m)) return new GoValue('map[string]string(nil)');
  const keys = Object.keys(m).sort();
  return new GoValue(`map[string]string{${keys.map((k) => `${q(k)}:${q(String(m[k]))}`).join(', ')}}`);
}

export function goStringSlice(a: unknown): GoValue {
  if (!Array.isArray(a)) return new GoValue('[]string(nil)');
  return new GoValue(`[]string{${a.map((s) => q(String(s))).join(', ')}}`);
}

export function goLabelSelector(sel: unknown): GoValue {
  const s = asObject(sel);
  const exprs = Array.isArray(s.matchExpressions)
    ? `[]v1.LabelSelectorRequirement{${s.matchExpressions
        .map((e: KObject) => `v1.LabelSelectorRequirement{Key:${q(String(e?.key ?? ''))}, Operator:${q(String(e?.operator ?? ''))}, Values:${goStringSlice(e?.values).text}}`)
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return new GoValue(`v1.LabelSelector{MatchLabels:${goStringMap(s.matchLabels).text}, MatchExpressions:${exprs}}`);
}

/** Invalid value, rendering GoValue instances verbatim. */
export function invalid(field: string, value: unknown, detail: string): FieldCause {
  if (value instanceof GoValue) {
    return { reason: 'FieldValueInvalid', field, message: `Invalid value: ${value.text}${detail ? `: ${detail}` : ''}` };
  }
  return invalidValue(field, value, detail);
}

// ----------------------------------------------------------------- quantities

export { QUANTITY_PATTERN as QUANTITY_REGEX } from './machinery';
const SUFFIXES: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** resource.Quantity as a number (approximate for huge values), undefined when unparsable. */
export function parseQuantity(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2]!;
  if (suffix in SUFFIXES) return n * SUFFIXES[suffix]!;
  const e = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  if (e) return n * 10 ** Number(e[1]);
  return undefined;
}

export function quantityString(v: unknown): string {
  return typeof v === 'number' ? String(v) : String(v ?? '');
}

// --------------------------------------------------------------------- labels

/** labels.FormatLabels: sorted k=v pairs, "<none>" when empty. */
export function formatLabels(m: unknown): string {
  if (!isObject(m)) return '<none>';
  const keys = Object.keys(m).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${m[k]}`).join(',');
}

/** labels.Selector.String() for a metav1.LabelSelector (empty string when it selects everything or nothing). */
export function selectorString(sel: unknown): string {
  if (!isObject(sel)) return '';
  const reqs: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(asObject(sel.matchLabels))) reqs.push({ key: k, text: `${k}=${v}` });
  for (const e of asArray(sel.matchExpressions)) {
    const k = String(e?.key ?? '');
    const vals = [...asArray<string>(e?.values)].map(String).sort();
    switch (e?.operator) {
      case 'In':
        reqs.push({ key: k, text: `${k} in (${vals.join(',')})` });
        break;
      case 'NotIn':
        reqs.push({ key: k, text: `${k} notin (${vals.join(',')})` });
        break;
      case 'Exists':
        reqs.push({ key: k, text: k });
        break;
      case 'DoesNotExist':
        reqs.push({ key: k, text: `!${k}` });
        break;
      default:
        return '<error>';
    }
  }
  reqs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return reqs.map((r) => r.text).join(',');
}

/** metav1.FormatLabelSelector */
export function formatLabelSelector(sel: unknown): string {
  const s = selectorString(sel);
  return s === '' ? '<none>' : s;
}

/** Whether a metav1.LabelSelector matches a label set. */
export function selectorMatches(sel: unknown, labels: unknown): boolean {
  if (!isObject(sel)) return false;
  const l = asObject(labels);
  for (const [k, v] of Object.entries(asObject(sel.matchLabels))) if (l[k] !== v) return false;
  for (const e of asArray(sel.matchExpressions)) {
    const k = String(e?.key ?? '');
    const has = Object.prototype.hasOwnProperty.call(l, k);
    const vals = asArray<string>(e?.values);
    switch (e?.operator) {
      case 'In':
        if (!has || !vals.includes(l[k])) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(l[k])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// ----------------------------------------------------------------------- time

export function timestampMs(v: unknown): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** translateTimestampSince: human duration since the timestamp, "<unknown>" without one. */
export function since(v: unknown, now: number): string {
  const t = timestampMs(v);
  return t === undefined ? '<unknown>' : humanDuration(now - t);
}

export function age(obj: KObject, now: number): string {
  return since(obj.metadata?.creationTimestamp, now);
}

/**
 * apimachinery's Semantic.DeepEqual as seen through JSON: empty and missing
 * lists and maps are equal, quantities compare by value.
 */
export function semanticEqual(a: unknown, b: unknown): boolean {
  const empty = (v: unknown): boolean =>
    v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).every((k) => (v as KObject)[k] === undefined));
  if (empty(a) && empty(b)) return true;
  if (a === b) return true;
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    if (Array.isArray(a)) {
      const bb = b as unknown[];
      return a.length === bb.length && a.every((x, i) => semanticEqual(x, bb[i]));
    }
    const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
    for (const k of keys) if (!semanticEqual((a as KObject)[k], (b as KObject)[k])) return false;
    return true;
  }
  return false;
}

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/**
 * Label selectors, after k8s.io/apimachinery/pkg/labels: the string syntax of
 * `?labelSelector=` (`a=b,c!=d,e in (x,y),!f`) and metav1.LabelSelector
 * (matchLabels / matchExpressions), with kube's parser error messages.
 */
import { badRequest } from './status';
import { goQuote } from './internal/go-format';
import { isObject } from './internal/json';
import {
  aggregateCauses,
  fieldForbidden,
  invalidValue,
  isQualifiedName,
  isValidLabelValue,
  notSupported,
  required,
  validateLabelName,
  validateLabels,
  type Cause,
} from './validation';

/** selection.Operator */
export type Operator = '=' | '==' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: Operator;
  /** Sorted and de-duplicated when parsed from a string; as given otherwise. */
  values: string[];
}

const BINARY_OPERATORS: Operator[] = ['in', 'notin', '=', '==', '!=', 'gt', 'lt'];
const VALID_OPERATORS: Operator[] = [...BINARY_OPERATORS, 'exists', '!'];

/** Labels of an object (metadata.labels). */
export type Labels = Record<string, string> | undefined | null;

function lookup(labels: Labels, key: string): string | undefined {
  if (!labels || !Object.prototype.hasOwnProperty.call(labels, key)) return undefined;
  const v = labels[key];
  return typeof v === 'string' ? v : v == null ? undefined : String(v);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** strconv.ParseInt(s, 10, 64), or undefined. */
function parseInt64(s: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s.startsWith('+') ? s.slice(1) : s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** Whether one requirement holds for a set of labels. */
export function requirementMatches(r: Requirement, labels: Labels): boolean {
  const val = lookup(labels, r.key);
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return val !== undefined && r.values.includes(val);
    case 'notin':
    case '!=':
      return val === undefined || !r.values.includes(val);
    case 'exists':
      return val !== undefined;
    case '!':
      return val === undefined;
    case 'gt':
    case 'lt': {
      if (val === undefined || r.values.length !== 1) return false;
      const have = parseInt64(val);
      const want = parseInt64(r.values[0]);
      if (have === undefined || want === undefined) return false;
      return r.operator === 'gt' ? have > want : have < want;
    }
    default:
      return false;
  }
}

/** Requirement.String(): `a=b`, `a in (x,y)`, `!a`, `a>5`. */
export function requirementToString(r: Requirement): string {
  let s = r.operator === '!' ? '!' + r.key : r.key;
  switch (r.operator) {
    case '=':
    case '==':
    case '!=':
      s += r.operator;
      break;
    case 'in':
      s += ' in ';
      break;
    case 'notin':
      s += ' notin ';
      break;
    case 'gt':
      s += '>';
      break;
    case 'lt':
      s += '<';
      break;
    case 'exists':
    case '!':
      return s;
  }
  const vals = r.values.length === 1 ? r.values[0] : [...r.values].sort(compareStrings).join(',');
  return r.operator === 'in' || r.operator === 'notin' ? `${s}(${vals})` : s + vals;
}

/** Byte-wise string order, as Go's sort.Strings. */
function compareStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function sortByKey(reqs: Requirement[]): Requirement[] {
  // Array.prototype.sort is stable, so equal keys keep their order.
  return reqs.sort((a, b) => compareStrings(a.key, b.key));
}

/** A label selector: requirements that must all hold, or the selector that matches nothing. */
export class Selector {
  readonly requirements: readonly Requirement[];
  private readonly nothing: boolean;

  constructor(requirements: readonly Requirement[] = [], nothing = false) {
    this.requirements = requirements;
    this.nothing = nothing;
  }

  /** Matches every object (the empty selector). */
  static everything(): Selector {
    return EVERYTHING;
  }

  /** Matches no object (what a null metav1.LabelSelector means). */
  static nothing(): Selector {
    return NOTHING;
  }

  matches(labels: Labels): boolean {
    if (this.nothing) return false;
    for (const r of this.requirements) if (!requirementMatches(r, labels)) return false;
    return true;
  }

  /** True when the selector has no requirements (matches everything). The nothing selector is not empty. */
  empty(): boolean {
    return !this.nothing && this.requirements.length === 0;
  }

  /** True for the selector that matches nothing. */
  matchesNothing(): boolean {
    return this.nothing;
  }

  /** The canonical string form, requirements sorted by key: `app=web,tier in (a,b)`. */
  toString(): string {
    if (this.nothing) return '';
    return this.requirements.map(requirementToString).join(',');
  }

  /** The one value `key` must have (=, == or a single-valued in), if the selector pins it. */
  requiresExactMatch(key: string): string | undefined {
    if (this.nothing) return undefined;
    for (const r of this.requirements) {
      if (r.key !== key) continue;
      if ((r.operator === '=' || r.operator === '==' || r.operator === 'in') && r.values.length === 1) return r.values[0];
      return undefined;
    }
    return undefined;
  }

  /** A new selector with more requirements (sorted by key). */
  add(...reqs: Requirement[]): Selector {
    if (this.nothing) return this;
    return new Selector(sortByKey([...this.requirements, ...reqs]));
  }
}

const EVERYTHING = new Selector([]);
const NOTHING = new Selector([], true);

export function everything(): Selector {
  return EVERYTHING;
}

export function nothing(): Selector {
  return NOTHING;
}

// ---------------------------------------------------------------------------
// Requirement construction (labels.NewRequirement)

function keyCause(key: string, path: string): Cause | undefined {
  const errs = isQualifiedName(key);
  return errs.length ? invalidValue(path, key, errs.join('; ')) : undefined;
}

/**
 * Checks a requirement as labels.NewRequirement does and returns the problems
 * (field paths `key`, `values`, `values[0][key]`, `operator`).
 */
function requirementCauses(key: string, op: string, values: string[], valuesBadValue: unknown): Cause[] {
  const causes: Cause[] = [];
  const kc = keyCause(key, 'key');
  if (kc) causes.push(kc);
  switch (op) {
    case 'in':
    case 'notin':
      if (values.length === 0) causes.push(invalidValue('values', valuesBadValue, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) causes.push(invalidValue('values', valuesBadValue, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) causes.push(invalidValue('values', valuesBadValue, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) causes.push(invalidValue('values', valuesBadValue, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (parseInt64(v) === undefined) {
          causes.push(invalidValue(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      });
      break;
    default:
      causes.push(notSupported('operator', op, VALID_OPERATORS));
  }
  values.forEach((v, i) => {
    const errs = isValidLabelValue(v);
    if (errs.length) causes.push(invalidValue(`values[${i}][${key}]`, v, errs.join('; ')));
  });
  return causes;
}

/** labels.NewRequirement: a checked requirement, or a 400 BadRequest describing what is wrong. */
export function newRequirement(key: string, operator: Operator, values: string[] = []): Requirement {
  const causes = requirementCauses(key, operator, values, values);
  if (causes.length) throw badRequest(aggregateCauses(causes));
  return { key, operator, values: [...values] };
}

// ---------------------------------------------------------------------------
// The string syntax

enum Tok {
  Error,
  EndOfString,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar,
}

const STRING_TO_TOKEN: Record<string, Tok> = {
  ')': Tok.ClosedPar,
  ',': Tok.Comma,
  '!': Tok.DoesNotExist,
  '==': Tok.DoubleEquals,
  '=': Tok.Equals,
  '>': Tok.GreaterThan,
  in: Tok.In,
  '<': Tok.LessThan,
  '!=': Tok.NotEquals,
  notin: Tok.NotIn,
  '(': Tok.OpenPar,
};

function tokenFor(s: string): Tok | undefined {
  return Object.prototype.hasOwnProperty.call(STRING_TO_TOKEN, s) ? STRING_TO_TOKEN[s] : undefined;
}

interface Item {
  tok: Tok;
  lit: string;
}

const isWhitespace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
const isSpecial = (ch: string) => '=!(),><'.includes(ch) && ch !== '';

function lex(s: string): Item[] {
  let pos = 0;
  // The Go lexer reads bytes and treats NUL as the end of input.
  const read = (): string => (pos < s.length ? s[pos++] : '\0');
  const unread = () => {
    pos--;
  };
  const items: Item[] = [];
  for (;;) {
    let ch = read();
    while (isWhitespace(ch)) ch = read();
    if (ch === '\0') {
      items.push({ tok: Tok.EndOfString, lit: '' });
      return items;
    }
    unread();
    if (isSpecial(ch)) {
      let buffer = '';
      let last: Item | undefined;
      for (;;) {
        const c = read();
        if (c === '\0') break;
        if (isSpecial(c)) {
          buffer += c;
          const t = tokenFor(buffer);
          if (t !== undefined) {
            last = { tok: t, lit: buffer };
          } else if (last) {
            unread();
            break;
          }
        } else {
          unread();
          break;
        }
      }
      items.push(last ?? { tok: Tok.Error, lit: `error expected: keyword found '${buffer}'` });
    } else {
      let buffer = '';
      for (;;) {
        const c = read();
        if (c === '\0') break;
        if (isSpecial(c) || isWhitespace(c)) {
          unread();
          break;
        }
        buffer += c;
      }
      items.push({ tok: tokenFor(buffer) ?? Tok.Identifier, lit: buffer });
    }
  }
}

class ParseError extends Error {}

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  private peek(values: boolean): Item {
    const it = this.items[Math.min(this.pos, this.items.length - 1)];
    if (values && (it.tok === Tok.In || it.tok === Tok.NotIn)) return { tok: Tok.Identifier, lit: it.lit };
    return it;
  }

  private next(values: boolean): Item {
    const it = this.peek(values);
    if (this.pos < this.items.length - 1) this.pos++;
    return it;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek(true);
      if (tok === Tok.Identifier || tok === Tok.DoesNotExist) {
        let r: Requirement;
        try {
          r = this.parseRequirement();
        } catch (e) {
          throw new ParseError(`unable to parse requirement: ${(e as Error).message}`);
        }
        reqs.push(r);
        const t = this.next(true);
        if (t.tok === Tok.EndOfString) return reqs;
        if (t.tok === Tok.Comma) {
          const t2 = this.peek(true);
          if (t2.tok !== Tok.Identifier && t2.tok !== Tok.DoesNotExist) {
            throw new ParseError(`found '${t2.lit}', expected: identifier after ','`);
          }
        } else {
          throw new ParseError(`found '${t.lit}', expected: ',' or 'end of string'`);
        }
      } else if (tok === Tok.EndOfString) {
        return reqs;
      } else {
        throw new ParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
      }
    }
  }

  private parseRequirement(): Requirement {
    let op: Operator | undefined;
    let t = this.next(true);
    if (t.tok === Tok.DoesNotExist) {
      op = '!';
      t = this.next(true);
    }
    if (t.tok !== Tok.Identifier) throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const kc = keyCause(key, '<nil>');
    if (kc) throw new Error(`${kc.field}: ${kc.message}`);
    const la = this.peek(true).tok;
    if (la === Tok.EndOfString || la === Tok.Comma) {
      if (op !== '!') op = 'exists';
    }
    if (op === 'exists' || op === '!') return checked(key, op, []);

    const o = this.next(false);
    switch (o.tok) {
      case Tok.In:
        op = 'in';
        break;
      case Tok.Equals:
        op = '=';
        break;
      case Tok.DoubleEquals:
        op = '==';
        break;
      case Tok.GreaterThan:
        op = 'gt';
        break;
      case Tok.LessThan:
        op = 'lt';
        break;
      case Tok.NotIn:
        op = 'notin';
        break;
      case Tok.NotEquals:
        op = '!=';
        break;
      default:
        throw new Error(`found '${o.lit}', expected: ${BINARY_OPERATORS.join(', ')}`);
    }
    const values = op === 'in' || op === 'notin' ? this.parseValues() : this.parseExactValue();
    return checked(key, op, [...values].sort(compareStrings));
  }

  private parseValues(): Set<string> {
    const t = this.next(true);
    if (t.tok !== Tok.OpenPar) throw new Error(`found '${t.lit}' expected: '('`);
    const la = this.peek(true);
    switch (la.tok) {
      case Tok.Identifier:
      case Tok.Comma: {
        const s = this.parseIdentifiersList();
        if (this.next(true).tok !== Tok.ClosedPar) throw new Error(`found '${la.lit}', expected: ')'`);
        return s;
      }
      case Tok.ClosedPar:
        this.next(true);
        return new Set(['']);
      default:
        throw new Error(`found '${la.lit}', expected: ',', ')' or identifier`);
    }
  }

  private parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const t = this.next(true);
      if (t.tok === Tok.Identifier) {
        s.add(t.lit);
        const t2 = this.peek(true);
        if (t2.tok === Tok.Comma) continue;
        if (t2.tok === Tok.ClosedPar) return s;
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (t.tok === Tok.Comma) {
        if (s.size === 0) s.add('');
        const t2 = this.peek(true);
        if (t2.tok === Tok.ClosedPar) {
          s.add('');
          return s;
        }
        if (t2.tok === Tok.Comma) s.add('');
      } else {
        throw new Error(`found '${t.lit}', expected: ',', or identifier`);
      }
    }
  }

  private parseExactValue(): Set<string> {
    const la = this.peek(true);
    if (la.tok === Tok.EndOfString || la.tok === Tok.Comma) return new Set(['']);
    const t = this.next(true);
    if (t.tok === Tok.Identifier) return new Set([t.lit]);
    throw new Error(`found '${t.lit}', expected: identifier`);
  }
}

function checked(key: string, op: Operator, values: string[]): Requirement {
  const causes = requirementCauses(key, op, values, values);
  if (causes.length) throw new Error(aggregateCauses(causes));
  return { key, operator: op, values };
}

/**
 * Parses the string form of a label selector (labels.Parse). Throws a 400
 * BadRequest StatusError with kube's parser message on bad syntax, e.g.
 * `unable to parse requirement: found '', expected: in, notin, =, ==, !=, gt, lt`.
 */
export function parseSelector(s: string | undefined | null): Selector {
  if (s === undefined || s === null) return EVERYTHING;
  try {
    return new Selector(sortByKey(new Parser(lex(s)).parse()));
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
}

/** A selector requiring each label of the set (labels.SelectorFromSet), without validation. */
export function selectorFromSet(set: Record<string, string> | undefined | null): Selector {
  if (!set) return EVERYTHING;
  const keys = Object.keys(set);
  if (keys.length === 0) return EVERYTHING;
  return new Selector(sortByKey(keys.map((k) => ({ key: k, operator: '=' as Operator, values: [set[k]] }))));
}

// ---------------------------------------------------------------------------
// metav1.LabelSelector

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LabelSelectorOptions {
  /**
   * What an absent (null/undefined) selector selects. Kubernetes'
   * LabelSelectorAsSelector says 'nothing' (the default); some callers (e.g.
   * a PodDisruptionBudget or NetworkPolicy peer) treat it as everything.
   */
  nullSelects?: 'nothing' | 'everything';
}

const OPERATOR_MAP: Record<string, Operator> = { In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!' };

/**
 * metav1.LabelSelectorAsSelector: an empty selector matches everything, a
 * null one nothing (see `nullSelects`). Invalid selectors raise a 400
 * BadRequest (validate first with `validateLabelSelector` to report 422s).
 */
export function selectorFromLabelSelector(
  ls: LabelSelector | null | undefined,
  opts: LabelSelectorOptions = {},
): Selector {
  if (ls === null || ls === undefined) return opts.nullSelects === 'everything' ? EVERYTHING : NOTHING;
  const matchLabels = isObject(ls.matchLabels) ? (ls.matchLabels as Record<string, string>) : {};
  const exprs = Array.isArray(ls.matchExpressions) ? ls.matchExpressions : [];
  const labelKeys = Object.keys(matchLabels);
  if (labelKeys.length + exprs.length === 0) return EVERYTHING;
  const reqs: Requirement[] = [];
  for (const k of labelKeys) {
    const v = String(matchLabels[k]);
    const causes = requirementCauses(k, '=', [v], [v]);
    if (causes.length) throw badRequest(aggregateCauses(causes));
    reqs.push({ key: k, operator: '=', values: [v] });
  }
  for (const e of exprs) {
    const op = Object.prototype.hasOwnProperty.call(OPERATOR_MAP, e?.operator) ? OPERATOR_MAP[e.operator] : undefined;
    if (!op) throw badRequest(`${goQuote(String(e?.operator ?? ''))} is not a valid label selector operator`);
    const values = Array.isArray(e.values) ? e.values.map(String) : [];
    // Go copies the values with append([]string(nil), ...): an empty list becomes null.
    const causes = requirementCauses(String(e.key ?? ''), op, values, values.length ? values : null);
    if (causes.length) throw badRequest(aggregateCauses(causes));
    reqs.push({ key: String(e.key), operator: op, values });
  }
  return new Selector(sortByKey(reqs));
}

/**
 * metav1validation.ValidateLabelSelector: the 422 causes of a
 * metav1.LabelSelector at `path` (e.g. `spec.selector`).
 */
export function validateLabelSelector(ls: unknown, path: string): Cause[] {
  const causes: Cause[] = [];
  if (ls === null || ls === undefined || !isObject(ls)) return causes;
  causes.push(...validateLabels(ls.matchLabels, `${path}.matchLabels`));
  const exprs = Array.isArray(ls.matchExpressions) ? ls.matchExpressions : [];
  exprs.forEach((raw, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const e = isObject(raw) ? raw : {};
    const values = Array.isArray(e.values) ? e.values : [];
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) causes.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          causes.push(fieldForbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
        }
        break;
      default:
        causes.push(invalidValue(`${p}.operator`, e.operator ?? '', 'not a valid selector operator'));
    }
    causes.push(...validateLabelName(typeof e.key === 'string' ? e.key : '', `${p}.key`));
    values.forEach((v, vi) => {
      if (typeof v !== 'string') return;
      for (const m of isValidLabelValue(v)) causes.push(invalidValue(`${p}.values[${vi}]`, v, m));
    });
  });
  return causes;
}

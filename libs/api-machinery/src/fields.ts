/**
 * Field selectors, after k8s.io/apimachinery/pkg/fields: `?fieldSelector=`
 * terms `field=value`, `field==value`, `field!=value`, comma-separated, with
 * `\,` `\=` `\\` escapes in values. Matching a field an object does not have
 * compares against the empty string, as kube does.
 */
import { badRequest } from './status';

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** The values of an object's selectable fields, e.g. {"metadata.name": "x", "spec.nodeName": "n1"}. */
export type Fields = Record<string, string | undefined>;

/** fields.EscapeValue: `\` `,` `=` escaped with a backslash. */
export function escapeFieldValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/=/g, '\\=');
}

/** fields.UnescapeValue, with kube's error messages. */
export function unescapeFieldValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw badRequest(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') {
      // Go prints the rune with %v: its code point number.
      throw badRequest(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    } else out += c;
  }
  if (inSlash) throw badRequest('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** A field selector: terms that must all hold. */
export class FieldSelector {
  readonly requirements: readonly FieldRequirement[];

  constructor(requirements: readonly FieldRequirement[] = []) {
    this.requirements = requirements;
  }

  static everything(): FieldSelector {
    return new FieldSelector([]);
  }

  matches(fields: Fields | undefined | null): boolean {
    for (const r of this.requirements) {
      const have = fields?.[r.field] ?? '';
      if (r.op === '=' ? have !== r.value : have === r.value) return false;
    }
    return true;
  }

  /** True when the selector has no terms (matches everything). */
  empty(): boolean {
    return this.requirements.length === 0;
  }

  /** The field names the selector uses, in order, without repeats. */
  fieldsIn(): string[] {
    return [...new Set(this.requirements.map((r) => r.field))];
  }

  /**
   * Throws kube's 400 `field label not supported: <field>` for the first term
   * on a field outside `supported`.
   */
  checkSupported(supported: Iterable<string>): void {
    const set = supported instanceof Set ? (supported as Set<string>) : new Set(supported);
    for (const f of this.fieldsIn()) if (!set.has(f)) throw badRequest(`field label not supported: ${f}`);
  }

  /** The value `field` must equal, when a `=` term pins it. */
  requiresExactMatch(field: string): string | undefined {
    for (const r of this.requirements) if (r.field === field && r.op === '=') return r.value;
    return undefined;
  }

  /** The canonical string form: terms sorted as parsed, values escaped. */
  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.op}${escapeFieldValue(r.value)}`).join(',');
  }
}

/** Splits on commas that are not escaped (the backslash stays in the term). */
function splitTerms(s: string): string[] {
  if (s.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

/** The first operator in the term splits it; `!=` and `==` win over `=`. */
function splitTerm(term: string): [string, string, string] | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of ['!=', '==', '=']) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** Byte-wise order, as Go's sort.Strings. */
function compareStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Parses a field selector (fields.ParseSelector). Throws a 400 BadRequest
 * StatusError with kube's message, e.g. `invalid selector: 'foo'; can't
 * understand 'foo'`.
 */
export function parseFieldSelector(s: string | undefined | null): FieldSelector {
  if (s === undefined || s === null) return new FieldSelector([]);
  const parts = splitTerms(s).sort(compareStrings);
  const reqs: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const split = splitTerm(part);
    if (!split) throw badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const [lhs, op, rhs] = split;
    const value = unescapeFieldValue(rhs);
    reqs.push({ field: lhs, op: op === '!=' ? '!=' : '=', value });
  }
  return new FieldSelector(reqs);
}

/** A selector with one `field=value` term. */
export function oneTermEqualSelector(field: string, value: string): FieldSelector {
  return new FieldSelector([{ field, op: '=', value }]);
}

/**
 * NATS subject naming for kubets (see docs/ARCHITECTURE.md, "Subjects").
 *
 *   kubets.<component>.<actor>[.<instance>...].<method>
 *
 * - Every subject starts with the `kubets` root token.
 * - Fixed tokens (component, actor kind, method) are lower-case [a-z0-9_-].
 * - Variable tokens (node names, namespaces, object names, uids) go through
 *   `token()`, which escapes what NATS does not allow inside a token
 *   ('.', '*', '>', whitespace) and the escape character itself, so any
 *   Kubernetes name maps to exactly one token and back.
 * - An actor listens on `<base>.*` and the last token names the method.
 */

export const ROOT = 'kubets';

const FIXED_TOKEN = /^[a-z0-9][a-z0-9_-]*$/;
const NEEDS_ESCAPE = /[.*>~\s\u0000-\u001f\u007f]/g;

/** Escape an arbitrary string into a single NATS subject token. */
export function token(value: string): string {
  if (value.length === 0) return '~';
  return value.replace(NEEDS_ESCAPE, (c) => {
    const code = c.charCodeAt(0);
    return code < 256 ? `~${code.toString(16).padStart(2, '0')}` : `~u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Undo `token()`. */
export function untoken(value: string): string {
  if (value === '~') return '';
  return value.replace(/~u([0-9a-f]{4})|~([0-9a-f]{2})/g, (_m, u: string | undefined, b: string | undefined) =>
    String.fromCharCode(parseInt((u ?? b) as string, 16)),
  );
}

/** Check a fixed token (component, actor kind, method name). */
export function assertFixedToken(value: string, what: string): void {
  if (!FIXED_TOKEN.test(value)) {
    throw new Error(`${what} "${value}" is not a valid subject token (lower-case [a-z0-9_-], starting alphanumeric)`);
  }
}

/**
 * Build an actor's base subject: `kubets.<component>.<actor>[.<instance>...]`.
 * `component` and `actor` are fixed tokens; instance parts are escaped.
 */
export function actorSubject(component: string, actor: string, ...instance: string[]): string {
  assertFixedToken(component, 'component');
  assertFixedToken(actor, 'actor');
  const parts = [ROOT, component, actor];
  for (const part of instance) parts.push(token(part));
  return parts.join('.');
}

/** Check that a full subject is publishable (no wildcards, no empty tokens). */
export function assertSubject(subject: string): void {
  if (subject.length === 0 || /\s/.test(subject)) throw new Error(`invalid subject "${subject}"`);
  for (const t of subject.split('.')) {
    if (t.length === 0 || t === '*' || t === '>') throw new Error(`invalid subject "${subject}"`);
  }
}

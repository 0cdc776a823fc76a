/** Small helpers over decoded JSON values. */

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * How deeply nested a document may be before the patch and schema functions
 * give up with an error instead of recursing further (Go's encoding/json has
 * the same limit).
 */
export const MAX_NESTING_DEPTH = 10000;

export class NestingTooDeepError extends Error {
  constructor() {
    super(`exceeded max depth of ${MAX_NESTING_DEPTH}`);
    this.name = 'NestingTooDeepError';
  }
}

export function checkDepth(depth: number): void {
  if (depth > MAX_NESTING_DEPTH) throw new NestingTooDeepError();
}

/** True for the RangeError V8 throws when the call stack overflows. */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** A deep copy of a JSON value (objects, arrays and scalars only). */
export function deepClone<T>(v: T, depth = 0): T {
  if (v === null || typeof v !== 'object') return v;
  checkDepth(depth);
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = deepClone(v[i], depth + 1);
    return out as T;
  }
  const out: JsonObject = {};
  for (const k of Object.keys(v as object)) {
    const child = (v as JsonObject)[k];
    if (child === undefined) continue;
    setKey(out, k, deepClone(child, depth + 1));
  }
  return out as T;
}

/** Structural equality of two JSON values (object key order ignored). */
export function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  checkDepth(depth);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i], depth + 1)) return false;
    return true;
  }
  const ak = Object.keys(a as object).filter((k) => (a as JsonObject)[k] !== undefined);
  const bk = Object.keys(b as object).filter((k) => (b as JsonObject)[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as JsonObject)[k], (b as JsonObject)[k], depth + 1)) return false;
  }
  return true;
}

/** Own-property check that ignores the prototype (keys like "constructor"). */
export function hasKey(o: JsonObject, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

/**
 * Sets an own property, also for the key "__proto__" (which JSON.parse
 * creates as an ordinary key but plain assignment would treat as the
 * prototype).
 */
export function setKey(o: JsonObject, k: string, v: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else {
    o[k] = v;
  }
}

/**
 * JSON patch (RFC 6902), the `application/json-patch+json` PATCH, with the
 * error messages of the evanphx/json-patch library kube-apiserver uses.
 *
 * Status codes, as kube-apiserver answers:
 * - the patch is not a list of operation objects: 400 BadRequest;
 * - more than 10000 operations: 413 RequestEntityTooLarge;
 * - an operation that cannot be applied (missing path, bad index, failed
 *   test, unknown op): 422 Invalid. (kube replaces the message of this 422
 *   with a generic "the server rejected our request due to an error in our
 *   request"; we keep the specific one, e.g. `testing value /spec/replicas
 *   failed: test failed`.)
 *
 * Like kube: negative array indexes count from the end, a missing `value`
 * means null. Unlike kube's library (and as the RFC says): `replace` of an
 * object member that does not exist fails instead of adding it, and paths
 * must start with `/`.
 */
import { badRequest, requestEntityTooLarge, type StatusError } from '../status';
import { goQuote } from '../internal/go-format';
import { deepClone, deepEqual, isObject, setKey, type JsonObject } from '../internal/json';
import { guardDepth, unprocessable } from './errors';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** The most operations one JSON patch may have (kube's maxJSONPatchOperations). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** RFC 6901 escaping of one reference token: `~` -> `~0`, `/` -> `~1`. */
export function escapeJsonPointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapeJsonPointerToken(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

type Container = JsonObject | unknown[];

class OpError extends Error {}

const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';

/** strconv.Atoi with Go's errors. */
function atoi(key: string): number {
  if (!/^[+-]?[0-9]+$/.test(key)) throw new OpError(`strconv.Atoi: parsing ${goQuote(key)}: invalid syntax`);
  const n = Number(key);
  if (!Number.isSafeInteger(n)) throw new OpError(`strconv.Atoi: parsing ${goQuote(key)}: value out of range`);
  return n;
}

function invalidIndex(idx: number): OpError {
  return new OpError(`Unable to access invalid index: ${idx}: ${INVALID_INDEX}`);
}

function get(c: Container, key: string): unknown {
  if (Array.isArray(c)) {
    let idx = atoi(key);
    if (idx < 0) {
      if (idx < -c.length) throw invalidIndex(idx);
      idx += c.length;
    }
    if (idx >= c.length) throw invalidIndex(idx);
    return c[idx];
  }
  return Object.prototype.hasOwnProperty.call(c, key) ? c[key] : undefined;
}

function has(c: Container, key: string): boolean {
  if (Array.isArray(c)) {
    try {
      get(c, key);
      return true;
    } catch {
      return false;
    }
  }
  return Object.prototype.hasOwnProperty.call(c, key);
}

function add(c: Container, key: string, v: unknown): void {
  if (Array.isArray(c)) {
    if (key === '-') {
      c.push(v);
      return;
    }
    let idx: number;
    try {
      idx = atoi(key);
    } catch (e) {
      throw new OpError(`value was not a proper array index: '${key}': ${(e as Error).message}`);
    }
    const size = c.length + 1;
    if (idx >= size) throw invalidIndex(idx);
    if (idx < 0) {
      if (idx < -size) throw invalidIndex(idx);
      idx += size;
    }
    c.splice(idx, 0, v);
    return;
  }
  setKey(c, key, v);
}

function remove(c: Container, key: string): void {
  if (Array.isArray(c)) {
    let idx = atoi(key);
    if (idx >= c.length) throw invalidIndex(idx);
    if (idx < 0) {
      if (idx < -c.length) throw invalidIndex(idx);
      idx += c.length;
    }
    c.splice(idx, 1);
    return;
  }
  if (!Object.prototype.hasOwnProperty.call(c, key)) throw new OpError(`Unable to remove nonexistent key: ${key}: ${MISSING}`);
  delete c[key];
}

function set(c: Container, key: string, v: unknown): void {
  if (Array.isArray(c)) {
    let idx = atoi(key);
    if (idx < 0) {
      if (idx < -c.length) throw invalidIndex(idx);
      idx += c.length;
    }
    c[idx] = v;
    return;
  }
  setKey(c, key, v);
}

const isContainer = (v: unknown): v is Container => Array.isArray(v) || isObject(v);

/** The container holding the last token of `path`, and that token; undefined when a parent is missing. */
function findObject(root: Container, path: string): [Container, string] | undefined {
  if (!path.startsWith('/')) return undefined;
  const split = path.split('/');
  const parts = split.slice(1, -1);
  const key = unescapeJsonPointerToken(split[split.length - 1]);
  let doc: Container = root;
  for (const part of parts) {
    let next: unknown;
    try {
      next = get(doc, unescapeJsonPointerToken(part));
    } catch {
      return undefined;
    }
    if (!isContainer(next)) return undefined;
    doc = next;
  }
  return [doc, key];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function valueOf(op: JsonObject): unknown {
  return op.value === undefined ? null : deepClone(op.value);
}

/**
 * Applies an RFC 6902 JSON patch and returns the patched document; the
 * inputs are not modified. Throws StatusError (400, 413 or 422, see above).
 */
export function applyJsonPatch<T = unknown>(doc: unknown, ops: unknown): T {
  if (!Array.isArray(ops)) {
    const what = ops === null ? 'null' : isObject(ops) ? 'object' : typeof ops;
    throw badRequest(`json: cannot unmarshal ${what} into Go value of type jsonpatch.Patch`);
  }
  for (const op of ops) {
    if (!isObject(op) && op !== null) {
      const what = Array.isArray(op) ? 'array' : typeof op;
      throw badRequest(`json: cannot unmarshal ${what} into Go value of type jsonpatch.Operation`);
    }
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw requestEntityTooLarge(
      `The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  }
  return guardDepth(() => {
    let root = deepClone(doc) as unknown;
    for (const raw of ops) {
      const op: JsonObject = isObject(raw) ? raw : {};
      try {
        root = applyOne(root, op);
      } catch (e) {
        if (e instanceof OpError) throw unprocessable(e.message) as StatusError;
        throw e;
      }
    }
    return root as T;
  });
}

function applyOne(root: unknown, op: JsonObject): unknown {
  const kind = str(op.op) ?? 'unknown';
  const path = str(op.path);
  const from = str(op.from);
  if (!isContainer(root)) {
    // kube decodes the document as an object or array; anything else has no paths.
    if (kind === 'replace' && path === '') return replaceRoot(op);
    if (kind === 'test' && path === '') return testRoot(root, op);
    throw new OpError(`${kind} operation does not apply: doc is missing path: ${path === undefined ? '' : path}: ${MISSING}`);
  }
  switch (kind) {
    case 'add': {
      if (path === undefined) throw new OpError(`add operation failed to decode path: ${MISSING}`);
      const found = findObject(root, path);
      if (!found) throw new OpError(`add operation does not apply: doc is missing path: "${path}": ${MISSING}`);
      try {
        add(found[0], found[1], valueOf(op));
      } catch (e) {
        throw new OpError(`error in add for path: '${path}': ${(e as Error).message}`);
      }
      return root;
    }
    case 'remove': {
      if (path === undefined) throw new OpError(`remove operation failed to decode path: ${MISSING}`);
      const found = findObject(root, path);
      if (!found) throw new OpError(`remove operation does not apply: doc is missing path: "${path}": ${MISSING}`);
      try {
        remove(found[0], found[1]);
      } catch (e) {
        throw new OpError(`error in remove for path: '${path}': ${(e as Error).message}`);
      }
      return root;
    }
    case 'replace': {
      if (path === undefined) throw new OpError(`replace operation failed to decode path: operation missing path field: ${MISSING}`);
      if (path === '') return replaceRoot(op);
      const found = findObject(root, path);
      if (!found) throw new OpError(`replace operation does not apply: doc is missing path: ${path}: ${MISSING}`);
      if (!has(found[0], found[1])) throw new OpError(`replace operation does not apply: doc is missing key: ${path}: ${MISSING}`);
      set(found[0], found[1], valueOf(op));
      return root;
    }
    case 'move': {
      if (from === undefined) throw new OpError(`move operation failed to decode from: operation, missing from field: ${MISSING}`);
      const src = findObject(root, from);
      if (!src) throw new OpError(`move operation does not apply: doc is missing from path: ${from}: ${MISSING}`);
      let val: unknown;
      try {
        val = get(src[0], src[1]);
        remove(src[0], src[1]);
      } catch (e) {
        throw new OpError(`error in move for path: '${src[1]}': ${(e as Error).message}`);
      }
      if (path === undefined) throw new OpError(`move operation failed to decode path: operation missing path field: ${MISSING}`);
      const dst = findObject(root, path);
      if (!dst) throw new OpError(`move operation does not apply: doc is missing destination path: ${path}: ${MISSING}`);
      try {
        add(dst[0], dst[1], val);
      } catch (e) {
        throw new OpError(`error in move for path: '${path}': ${(e as Error).message}`);
      }
      return root;
    }
    case 'copy': {
      if (from === undefined) throw new OpError(`copy operation failed to decode from: operation, missing from field: ${MISSING}`);
      const src = findObject(root, from);
      if (!src || (!Array.isArray(src[0]) && !has(src[0], src[1]))) {
        throw new OpError(`copy operation does not apply: doc is missing from path: ${from}: ${MISSING}`);
      }
      let val: unknown;
      try {
        val = get(src[0], src[1]);
      } catch (e) {
        throw new OpError(`error in copy for from: '${from}': ${(e as Error).message}`);
      }
      if (path === undefined) throw new OpError(`copy operation failed to decode path: ${MISSING}`);
      const dst = findObject(root, path);
      if (!dst) throw new OpError(`copy operation does not apply: doc is missing destination path: ${path}: ${MISSING}`);
      try {
        add(dst[0], dst[1], deepClone(val));
      } catch (e) {
        throw new OpError(`error while adding value during copy: ${(e as Error).message}`);
      }
      return root;
    }
    case 'test': {
      if (path === undefined) throw new OpError(`test operation failed to decode path: operation missing path field: ${MISSING}`);
      if (path === '') return testRoot(root, op);
      const found = findObject(root, path);
      if (!found) throw new OpError(`test operation does not apply: is missing path: ${path}: ${MISSING}`);
      let val: unknown;
      try {
        val = get(found[0], found[1]);
      } catch (e) {
        throw new OpError(`error in test for path: '${path}': ${(e as Error).message}`);
      }
      const want = op.value === undefined ? null : op.value;
      if (!deepEqual(val === undefined ? null : val, want)) throw new OpError(`testing value ${path} failed: test failed`);
      return root;
    }
    default:
      throw new OpError(`Unexpected kind: ${kind}`);
  }
}

function replaceRoot(op: JsonObject): unknown {
  const v = op.value;
  if (!isContainer(v)) throw new OpError('replace operation value must be object or array');
  return deepClone(v);
}

function testRoot(root: unknown, op: JsonObject): unknown {
  if (!deepEqual(root, op.value === undefined ? null : op.value)) throw new OpError('testing value  failed: test failed');
  return root;
}

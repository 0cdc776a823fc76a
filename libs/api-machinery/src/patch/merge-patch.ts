/**
 * JSON merge patch (RFC 7386), the `application/merge-patch+json` PATCH.
 */
import { badRequest } from '../status';
import { checkDepth, deepClone, isObject, setKey, type JsonObject } from '../internal/json';
import { guardDepth } from './errors';

/**
 * Applies a JSON merge patch and returns the result; neither input is
 * modified. An object patch merges key by key (null deletes a key, objects
 * merge recursively, anything else replaces); a patch that is not an object
 * replaces the target. A `null` patch is refused with 400 `Invalid JSON
 * Patch`, as kube-apiserver does (RFC 7386 would yield null).
 */
export function applyMergePatch<T = unknown>(target: unknown, patch: unknown): T {
  if (patch === null || patch === undefined) throw badRequest('Invalid JSON Patch');
  return guardDepth(() => merge(target, patch, 0)) as T;
}

function merge(target: unknown, patch: unknown, depth: number): unknown {
  checkDepth(depth);
  if (!isObject(patch)) return deepClone(patch, depth);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === undefined) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    setKey(out, k, merge(Object.prototype.hasOwnProperty.call(out, k) ? out[k] : undefined, v, depth + 1));
  }
  // Untouched values are shared with the target so far: copy them too.
  for (const k of Object.keys(out)) {
    if (!Object.prototype.hasOwnProperty.call(patch, k) && isObject(target) && out[k] === target[k]) {
      setKey(out, k, deepClone(out[k], depth + 1));
    }
  }
  return out;
}

/**
 * Strategic merge patch, the `application/strategic-merge-patch+json` PATCH
 * and what client-side `kubectl apply` sends, after
 * k8s.io/apimachinery/pkg/util/strategicpatch (StrategicMergeMapPatch, the
 * server side: parallel lists merged, unmatched nulls ignored).
 *
 * The `Schema` says how lists merge (ArraySchema.patchStrategy/mergeKey);
 * fields it does not describe merge as in a JSON merge patch (maps merge,
 * lists are replaced).
 *
 * Directives:
 * - `null` deletes a key;
 * - `{"$patch": "replace"}` in a map replaces the map; `"delete"` empties it;
 *   `"merge"` merges (the default);
 * - in a merge list, `{"$patch": "delete", <mergeKey>: v}` deletes the item,
 *   a `{"$patch": "replace"}` item replaces the list with the other items,
 *   a `{"$patch": "merge"}` item merges (also a list whose schema says replace);
 * - `$setElementOrder/<list>`: the order of a merge list after patching;
 * - `$retainKeys`: the only keys the map keeps;
 * - `$deleteFromPrimitiveList/<list>`: values removed from a merge list of scalars.
 *
 * Differences from kube (on purpose): `$patch: merge` is accepted instead of
 * refused; values that are new to the object have their directives applied
 * (kube copies them as sent, or drops maps carrying `$patch`);
 * `$setElementOrder` on a list that is not a merge list is ignored.
 *
 * Errors are StatusErrors: 400 BadRequest for malformed patches (kube's
 * messages, e.g. `map: map[image:nginx] does not contain declared merge key:
 * name`; kube answers some of these with a 500), 422 for lists of lists.
 */
import type { ArraySchema, Schema } from '../schema';
import { StatusError, badRequest } from '../status';
import { goTypeName, goValue } from '../internal/go-format';
import { checkDepth, deepClone, hasKey, isObject, setKey, type JsonObject } from '../internal/json';
import { guardDepth } from './errors';

const DIRECTIVE = '$patch';
const DELETE = 'delete';
const REPLACE = 'replace';
const MERGE = 'merge';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';

class SmpError extends Error {
  constructor(
    message: string,
    readonly code: 400 | 422 = 400,
  ) {
    super(message);
  }
}

const errNoListOfLists = () => new SmpError('lists of lists are not supported', 422);
const errBadPatchFormatForPrimitiveList = () => new SmpError('invalid patch format of primitive list');
const errBadPatchFormatForRetainKeys = () => new SmpError('invalid patch format of retainKeys');
const errBadPatchFormatForSetElementOrderList = () => new SmpError('invalid patch format of setElementOrder list');
const errNoMergeKey = (m: unknown, k: string) =>
  new SmpError(`map: ${goValue(m)} does not contain declared merge key: ${k}`);
const errBadArgType = (expected: 'map' | 'slice', actual: unknown) =>
  new SmpError(
    `expected a ${expected === 'map' ? 'map[string]interface {}' : '[]interface {}'}, but received a ${goTypeName(actual)}`,
  );
const errBadPatchType = (t: unknown, m: unknown) => new SmpError(`unknown patch type: ${goValue(t)} in map: ${goValue(m)}`);

interface ListMeta {
  strategy: string; // 'merge' or '' (replace)
  mergeKey: string;
  schema?: ArraySchema;
}

function childSchema(schema: Schema | undefined, key: string): Schema | undefined {
  if (!schema) return undefined;
  if (schema.type === 'object') return hasKey(schema.properties as JsonObject, key) ? schema.properties[key] : undefined;
  if (schema.type === 'map') return schema.values;
  return undefined;
}

function listMeta(schema: Schema | undefined, key: string): ListMeta {
  const s = childSchema(schema, key);
  if (!s || s.type !== 'array') return { strategy: '', mergeKey: '' };
  const strategies = (s.patchStrategy ?? '').split(',').filter((x) => x && x !== 'retainKeys');
  return { strategy: strategies.includes(MERGE) ? MERGE : '', mergeKey: s.mergeKey ?? '', schema: s };
}

type Kind = 'map' | 'slice' | 'string' | 'number' | 'boolean' | 'null';

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'slice';
  if (typeof v === 'object') return 'map';
  return typeof v as 'string' | 'number' | 'boolean';
}

/**
 * Applies a strategic merge patch to `original` under `schema` and returns
 * the result; neither input is modified.
 */
export function applyStrategicMergePatch<T = unknown>(original: unknown, patch: unknown, schema: Schema): T {
  if (!isObject(patch)) {
    const what = patch === null ? 'null' : Array.isArray(patch) ? 'array' : typeof patch;
    if (patch === null) return deepClone(original ?? {}) as T;
    throw badRequest(`json: cannot unmarshal ${what} into Go value of type map[string]interface {}`);
  }
  if (original !== null && original !== undefined && !isObject(original)) throw badRequest('invalid JSON document');
  try {
    return guardDepth(() => {
      const o = original ? deepClone(original as JsonObject) : {};
      const p = deepClone(patch);
      return mergeMap(o, p, schema, 0) as T;
    });
  } catch (e) {
    if (e instanceof SmpError) throw new StatusError(e.code, e.code === 422 ? 'Invalid' : 'BadRequest', e.message);
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Maps

function mergeMap(original: JsonObject, patch: JsonObject, schema: Schema | undefined, depth: number): JsonObject {
  checkDepth(depth);
  if (hasKey(patch, DIRECTIVE)) {
    const d = patch[DIRECTIVE];
    if (d === REPLACE) {
      delete patch[DIRECTIVE];
      return cleanValue(patch, schema, depth) as JsonObject;
    }
    if (d === DELETE) return {};
    if (d !== MERGE) throw errBadPatchType(d, patch);
    delete patch[DIRECTIVE];
  }

  applyRetainKeysDirective(original, patch);
  mergeSetElementOrder(original, patch, schema, depth);

  const keys = Object.keys(patch);
  const ordered = [
    ...keys.filter((k) => !k.startsWith(DELETE_FROM_PRIMITIVE_LIST)),
    ...keys.filter((k) => k.startsWith(DELETE_FROM_PRIMITIVE_LIST)),
  ];
  for (const k of ordered) {
    const patchV = patch[k];
    let key = k;
    let isDeleteList = false;
    if (k.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      key = extractKey(k, DELETE_FROM_PRIMITIVE_LIST);
      isDeleteList = true;
    }
    if (patchV === null || patchV === undefined) {
      delete original[key];
      continue;
    }
    if (!hasKey(original, key) || kindOf(original[key]) !== kindOf(patchV)) {
      if (!isDeleteList) {
        const v = newValue(patchV, schema, key, depth + 1);
        if (v === undefined) delete original[key];
        else setKey(original, key, v);
      }
      continue;
    }
    const origV = original[key];
    switch (kindOf(origV)) {
      case 'map':
        setKey(original, key, mergeMap(origV as JsonObject, patchV as JsonObject, childSchema(schema, key), depth + 1));
        break;
      case 'slice':
        setKey(
          original,
          key,
          mergeSliceHandler(origV as unknown[], patchV as unknown[], listMeta(schema, key), isDeleteList, key, depth + 1),
        );
        break;
      default:
        setKey(original, key, patchV);
    }
  }
  return original;
}

/** A patch value for a key the original lacks (or holds with another type). */
function newValue(v: unknown, parent: Schema | undefined, key: string, depth: number): unknown {
  if (Array.isArray(v)) {
    const meta = listMeta(parent, key);
    return mergeSliceHandler([], v, meta, false, key, depth);
  }
  return cleanValue(v, childSchema(parent, key), depth);
}

/**
 * A value as it will be stored when nothing in the original meets it: nulls
 * in maps dropped, directives applied (`$patch: delete` maps and list items
 * vanish, other directive keys are removed).
 */
function cleanValue(v: unknown, schema: Schema | undefined, depth: number): unknown {
  checkDepth(depth);
  if (Array.isArray(v)) {
    const items = schema && schema.type === 'array' ? schema.items : undefined;
    const out: unknown[] = [];
    for (const item of v) {
      const c = cleanValue(item, items, depth + 1);
      if (c === undefined) continue;
      if (isObject(item) && hasKey(item, DIRECTIVE) && isObject(c) && Object.keys(c).length === 0) continue;
      out.push(c);
    }
    return out;
  }
  if (isObject(v)) {
    if (hasKey(v, DIRECTIVE)) {
      const d = v[DIRECTIVE];
      if (d === DELETE) return undefined;
      if (d !== REPLACE && d !== MERGE) throw errBadPatchType(d, v);
    }
    if (hasKey(v, RETAIN_KEYS)) {
      // Check the directive as applyRetainKeysDirective would; there is nothing to clear.
      const copy = { ...v };
      delete copy[DIRECTIVE];
      applyRetainKeysDirective({}, copy);
    }
    const out: JsonObject = {};
    for (const k of Object.keys(v)) {
      if (k === DIRECTIVE || k === RETAIN_KEYS) continue;
      if (k.startsWith(SET_ELEMENT_ORDER + '/') || k.startsWith(DELETE_FROM_PRIMITIVE_LIST + '/')) continue;
      const child = v[k];
      if (child === null || child === undefined) continue;
      const c = cleanValue(child, childSchema(schema, k), depth + 1);
      if (c !== undefined) setKey(out, k, c);
    }
    return out;
  }
  return v;
}

function extractKey(s: string, prefix: string): string {
  const slash = s.indexOf('/');
  if (slash < 0 || s.slice(0, slash) !== prefix) {
    if (prefix === DELETE_FROM_PRIMITIVE_LIST) throw errBadPatchFormatForPrimitiveList();
    throw errBadPatchFormatForSetElementOrderList();
  }
  return s.slice(slash + 1);
}

function applyRetainKeysDirective(original: JsonObject, patch: JsonObject): void {
  if (!hasKey(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw errBadPatchFormatForRetainKeys();
  const keep = new Set(list);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!keep.has(k)) throw errBadPatchFormatForRetainKeys();
  }
  for (const k of Object.keys(original)) if (!keep.has(k)) delete original[k];
}

// ---------------------------------------------------------------------------
// $setElementOrder

function mergeSetElementOrder(original: JsonObject, patch: JsonObject, schema: Schema | undefined, depth: number): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw errBadArgType('slice', order);
    const listKey = extractKey(key, SET_ELEMENT_ORDER);
    const meta = listMeta(schema, listKey);
    if (meta.strategy !== MERGE) continue;

    const foundOriginal = hasKey(original, listKey);
    const foundPatch = hasKey(patch, listKey);
    const origList = original[listKey];
    const patchList = patch[listKey];
    if (foundOriginal && !Array.isArray(origList)) throw errBadArgType('slice', origList);
    if (foundPatch && !Array.isArray(patchList)) throw errBadArgType('slice', patchList);
    const origItems = (foundOriginal ? origList : []) as unknown[];
    const patchItems = (foundPatch ? patchList : []) as unknown[];
    validatePatchWithSetOrderList(patchItems, order, meta.mergeKey);

    // Go merges the lists in place: deleted items shift the live list left and
    // added items fill the freed slots, and the live order used below sees
    // that. `serverOrder` reproduces it, so items land where kube puts them.
    const serverOrder = [...origItems];
    let merged: unknown[];
    if (foundOriginal && !foundPatch) merged = origItems;
    else if (!foundOriginal && foundPatch) merged = cleanValue(patchItems, meta.schema, depth + 1) as unknown[];
    else if (foundOriginal && foundPatch) {
      merged = mergeSliceHandler(origItems, patchItems, meta, false, listKey, depth + 1, serverOrder);
    } else continue;

    const [inOrder, serverOnly] = meta.mergeKey
      ? partitionMapsByPresentInList(merged, order, meta.mergeKey)
      : partitionPrimitivesByPresentInList(merged, order);
    const kind = sliceElementKind(origItems, patchItems.filter((x) => !isMergeMarker(x)), true);
    setKey(
      original,
      listKey,
      kind === undefined ? merged : normalizeElementOrder(inOrder, serverOnly, order, serverOrder, meta.mergeKey, kind),
    );
    delete patch[listKey];
  }
}

function validatePatchWithSetOrderList(patchList: unknown[], order: unknown[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(patchList)[0] : patchList;
  let pi = 0;
  let si = 0;
  while (pi < nonDelete.length && si < order.length) {
    if (isObject(nonDelete[pi]) && hasKey(nonDelete[pi] as JsonObject, DIRECTIVE)) {
      pi++;
      continue;
    }
    if (mergeKeyValueEqual(nonDelete[pi], order[si], mergeKey)) pi++;
    si++;
  }
  if (pi < nonDelete.length && si >= order.length) {
    throw new SmpError(
      `The order in patch list:\n${goValue(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goValue(order)}\n`,
    );
  }
}

function mergeKeyValueEqual(left: unknown, right: unknown, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isObject(left)) throw errBadArgType('map', left);
  if (!isObject(right)) throw errBadArgType('map', right);
  if (!hasKey(left, mergeKey)) throw errNoMergeKey(left, mergeKey);
  if (!hasKey(right, mergeKey)) throw errNoMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

// ---------------------------------------------------------------------------
// Lists

function isMergeMarker(v: unknown): boolean {
  return isObject(v) && v[DIRECTIVE] === MERGE && Object.keys(v).length === 1;
}

function mergeSliceHandler(
  original: unknown[],
  patch: unknown[],
  meta: ListMeta,
  isDeleteList: boolean,
  name: string,
  depth: number,
  inPlace?: unknown[],
): unknown[] {
  checkDepth(depth);
  if (meta.strategy === MERGE || isDeleteList || patch.some(isMergeMarker)) {
    return mergeSlice(original, patch.filter((x) => !isMergeMarker(x)), meta, isDeleteList, name, depth, inPlace);
  }
  return cleanValue(patch, meta.schema, depth) as unknown[];
}

type ElementKind = 'map' | 'scalar';

/** The common kind of the elements of the lists (sliceElementType). */
function sliceElementKind(a: unknown[], b: unknown[], lenient = false): ElementKind | undefined {
  let prev: Kind | undefined;
  for (const list of [a, b]) {
    for (const v of list) {
      const k = kindOf(v);
      if (prev === undefined) {
        prev = k;
        if (k === 'slice') throw errNoListOfLists();
      } else if (prev !== k) {
        throw new SmpError(`list element types are not identical: ${goValue([a, b])}`);
      }
    }
  }
  if (prev === undefined) {
    if (lenient) return undefined;
    throw new SmpError('no elements in any of the given slices');
  }
  return prev === 'map' ? 'map' : 'scalar';
}

function mergeSlice(
  original: unknown[],
  patch: unknown[],
  meta: ListMeta,
  isDeleteList: boolean,
  name: string,
  depth: number,
  inPlace: unknown[] = [...original],
): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementKind(original, patch)!;
  const mergeKey = meta.mergeKey;
  let merged: unknown[];
  if (kind !== 'map') {
    if (isDeleteList) return original.filter((v) => !patch.includes(v));
    merged = dedupeScalars([...original, ...patch]);
  } else {
    if (!mergeKey) throw new SmpError(`cannot merge lists without merge key for ${name}`);
    let replaced: boolean;
    [original, patch, replaced] = mergeSliceWithSpecialElements(inPlace, patch, mergeKey);
    merged = mergeSliceWithoutSpecialElements(original, patch, mergeKey, meta.schema?.items, depth);
    if (!replaced) {
      // Appended items take the slots deletions freed in the live list.
      for (let i = original.length, j = original.length; j < merged.length && i < inPlace.length; i++, j++) {
        inPlace[i] = merged[j];
      }
    }
  }
  const [patchItems, serverOnly] =
    kind === 'map' ? partitionMapsByPresentInList(merged, patch, mergeKey) : partitionPrimitivesByPresentInList(merged, patch);
  return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
}

function dedupeScalars(list: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const v of list) if (!out.includes(v)) out.push(v);
  return out;
}

/**
 * Applies the `$patch` items of a merge list. Deletions happen in place in
 * `live` (items shift left, the tail keeps stale copies), as Go's
 * append-based deletion does; the list left is `live` up to the returned
 * length.
 */
function mergeSliceWithSpecialElements(live: unknown[], patch: unknown[], mergeKey: string): [unknown[], unknown[], boolean] {
  const plain: unknown[] = [];
  let replace = false;
  let n = live.length;
  for (const v of patch) {
    const m = v as JsonObject;
    if (!hasKey(m, DIRECTIVE)) {
      plain.push(v);
      continue;
    }
    const d = m[DIRECTIVE];
    if (d === DELETE) {
      if (!hasKey(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
      const val = m[mergeKey];
      for (;;) {
        const idx = findByMergeKey(live.slice(0, n), mergeKey, val);
        if (idx < 0) break;
        for (let j = idx; j < n - 1; j++) live[j] = live[j + 1];
        n--;
      }
    } else if (d === REPLACE) {
      replace = true;
    } else if (d === MERGE) {
      // An item with its own content and `$patch: merge` merges like any item.
      const rest = { ...m };
      delete rest[DIRECTIVE];
      if (Object.keys(rest).length > 0) plain.push(rest);
    } else {
      throw errBadPatchType(d, m);
    }
  }
  if (replace) return [plain, [], true];
  return [live.slice(0, n), plain, false];
}

function findByMergeKey(list: unknown[], mergeKey: string, value: unknown): number {
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    if (!isObject(item)) throw new SmpError(`value for key ${i} is not a map`);
    if (hasKey(item, mergeKey) && item[mergeKey] === value) return i;
  }
  return -1;
}

function mergeSliceWithoutSpecialElements(
  original: unknown[],
  patch: unknown[],
  mergeKey: string,
  itemSchema: Schema | undefined,
  depth: number,
): unknown[] {
  const out = [...original];
  for (const v of patch) {
    const m = v as JsonObject;
    if (!hasKey(m, mergeKey)) throw errNoMergeKey(m, mergeKey);
    const idx = findByMergeKey(out, mergeKey, m[mergeKey]);
    if (idx >= 0) out[idx] = mergeMap(out[idx] as JsonObject, m, itemSchema, depth + 1);
    else {
      const c = cleanValue(m, itemSchema, depth + 1);
      if (c !== undefined) out.push(c);
    }
  }
  return out;
}

function partitionPrimitivesByPresentInList(list: unknown[], by: unknown[]): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const rest: unknown[] = [];
  for (const v of list) (by.includes(v) ? inBy : rest).push(v);
  return [inBy, rest];
}

function partitionMapsByPresentInList(list: unknown[], by: unknown[], mergeKey: string): [unknown[], unknown[]] {
  const inBy: unknown[] = [];
  const rest: unknown[] = [];
  for (const v of list) {
    if (!isObject(v)) throw errBadArgType('map', v);
    if (!hasKey(v, mergeKey)) throw errNoMergeKey(v, mergeKey);
    (findByMergeKey(by, mergeKey, v[mergeKey]) >= 0 ? inBy : rest).push(v);
  }
  return [inBy, rest];
}

// ---------------------------------------------------------------------------
// Ordering

function orderIndex(list: unknown[], v: unknown, mergeKey: string, kind: ElementKind): number {
  const val = kind === 'map' ? (isObject(v) ? v[mergeKey] : undefined) : v;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const iv = kind === 'map' ? (isObject(item) ? item[mergeKey] : undefined) : item;
    if (iv === val) return i;
  }
  return -1;
}

function extractToDeleteItems(list: unknown[]): [unknown[], unknown[]] {
  const keep: unknown[] = [];
  const del: unknown[] = [];
  for (const v of list) {
    if (!isObject(v)) throw errBadArgType('map', v);
    (v[DIRECTIVE] === DELETE ? del : keep).push(v);
  }
  return [keep, del];
}

function validateMergeKeyInLists(mergeKey: string, ...lists: unknown[][]): void {
  for (const list of lists) {
    for (const item of list) {
      if (!isObject(item)) throw errBadArgType('map', item);
      if (!hasKey(item, mergeKey)) throw errNoMergeKey(item, mergeKey);
    }
  }
}

/** Sorts `toSort` by the positions of its items in `order` (items not in `order` last, in their order). */
function normalizeSliceOrder(toSort: unknown[], order: unknown[], mergeKey: string, kind: ElementKind): unknown[] {
  let toDelete: unknown[] = [];
  if (kind === 'map') {
    validateMergeKeyInLists(mergeKey, toSort, order);
    [toSort, toDelete] = extractToDeleteItems(toSort);
  }
  const keyed = toSort.map((v, i) => ({ v, i, at: orderIndex(order, v, mergeKey, kind) }));
  keyed.sort((a, b) => {
    if (a.at >= 0 && b.at >= 0) return a.at - b.at || a.i - b.i;
    if (a.at >= 0) return -1;
    if (b.at >= 0) return 1;
    return a.i - b.i;
  });
  return [...keyed.map((x) => x.v), ...toDelete];
}

/**
 * Orders the patched list: patch items in `patchOrder`, server-only items in
 * their live order, the two interleaved by their live positions.
 */
function normalizeElementOrder(
  patch: unknown[],
  serverOnly: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  mergeKey: string,
  kind: ElementKind,
): unknown[] {
  const right = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const left = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++]);
    else if (j >= right.length) out.push(left[i++]);
    else {
      const li = orderIndex(serverOrder, left[i], mergeKey, kind);
      const ri = orderIndex(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

// Small constructors for Schema values, so the resource schemas read like the
// Kubernetes OpenAPI they mirror.
import type { ArraySchema, MapSchema, ObjectSchema, ScalarSchema, Schema } from '@kubets/api-machinery';

export const str = (description?: string, enumValues?: string[]): ScalarSchema =>
  enumValues ? { type: 'string', description, enum: enumValues } : { type: 'string', description };
export const int = (description?: string): ScalarSchema => ({ type: 'integer', description });
export const num = (description?: string): ScalarSchema => ({ type: 'number', description });
export const bool = (description?: string): ScalarSchema => ({ type: 'boolean', description });
export const time = (description?: string): ScalarSchema => ({ type: 'date-time', description });
export const intOrString = (description?: string): ScalarSchema => ({ type: 'int-or-string', description });
export const quantity = (description?: string): ScalarSchema => ({ type: 'quantity', description });
export const any = (description?: string): ScalarSchema => ({ type: 'any', description });

export function obj(
  properties: Record<string, Schema>,
  opts: { required?: string[]; description?: string; preserveUnknownFields?: boolean; retainKeys?: boolean } = {},
): ObjectSchema {
  const s: ObjectSchema = { type: 'object', properties };
  if (opts.description) s.description = opts.description;
  if (opts.required && opts.required.length) s.required = opts.required;
  if (opts.preserveUnknownFields) s.preserveUnknownFields = true;
  if (opts.retainKeys) s.patchStrategy = 'retainKeys';
  return s;
}

/** An object whose content is not described (x-kubernetes-preserve-unknown-fields). */
export function freeform(description?: string): ObjectSchema {
  return { type: 'object', properties: {}, preserveUnknownFields: true, description };
}

/** A list replaced whole by strategic merge patch (atomic). */
export function list(items: Schema, description?: string): ArraySchema {
  return { type: 'array', items, description, listType: 'atomic' };
}

/** A list of scalars treated as a set. */
export function set(items: Schema, description?: string): ArraySchema {
  return { type: 'array', items, description, listType: 'set' };
}

/** A list of objects merged item by item on `key` (patchStrategy merge, patchMergeKey key). */
export function mergeList(
  items: Schema,
  key: string,
  opts: { description?: string; retainKeys?: boolean; listMapKeys?: string[]; listType?: 'map' | 'atomic' } = {},
): ArraySchema {
  return {
    type: 'array',
    items,
    description: opts.description,
    patchStrategy: opts.retainKeys ? 'merge,retainKeys' : 'merge',
    mergeKey: key,
    listType: opts.listType ?? 'map',
    listMapKeys: opts.listMapKeys ?? [key],
  };
}

/** A list-type=map list that strategic merge patch still replaces (no patch strategy in the Go struct tags). */
export function mapList(items: Schema, keys: string[], description?: string): ArraySchema {
  return { type: 'array', items, description, listType: 'map', listMapKeys: keys };
}

export function map(values: Schema, description?: string): MapSchema {
  return { type: 'map', values, description };
}

export const stringMap = (description?: string): MapSchema => map(str(), description);
export const quantityMap = (description?: string): MapSchema => map(quantity(), description);

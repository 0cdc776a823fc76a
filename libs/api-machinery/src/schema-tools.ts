/**
 * What the API server does with a `Schema`: strict field validation (unknown
 * fields, as `?fieldValidation=Strict` reports them), basic type checks with
 * the OpenAPI validator's messages, and the OpenAPI v3 form for /openapi/v3.
 */
import type { Schema } from './schema';
import { goQuote, jsonTypeName } from './internal/go-format';
import { NestingTooDeepError, checkDepth, hasKey, isObject, isStackOverflow } from './internal/json';
import { badRequest } from './status';
import { invalidValue, notSupported, required, typeInvalid, type Cause } from './validation';

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof NestingTooDeepError) throw badRequest(e.message);
    if (isStackOverflow(e)) throw badRequest(new NestingTooDeepError().message);
    throw e;
  }
}

/**
 * The fields of `obj` the schema does not know, as kube's strict decoding
 * reports them: `unknown field "spec.template.spec.containers[0].imagee"`.
 * Objects with preserveUnknownFields and `any` values accept everything.
 * Values of the wrong type are left to `checkTypes`.
 */
export function findUnknownFields(obj: unknown, schema: Schema, path = ''): string[] {
  const out: string[] = [];
  guard(() => walkUnknown(obj, schema, path, out, 0));
  return out;
}

function walkUnknown(v: unknown, s: Schema, path: string, out: string[], depth: number): void {
  checkDepth(depth);
  switch (s.type) {
    case 'object': {
      if (!isObject(v)) return;
      for (const k of Object.keys(v)) {
        if (hasKey(s.properties as Record<string, unknown>, k)) walkUnknown(v[k], s.properties[k], join(path, k), out, depth + 1);
        else if (!s.preserveUnknownFields) out.push(`unknown field ${goQuote(join(path, k))}`);
      }
      return;
    }
    case 'map':
      if (!isObject(v)) return;
      for (const k of Object.keys(v)) walkUnknown(v[k], s.values, join(path, k), out, depth + 1);
      return;
    case 'array':
      if (!Array.isArray(v)) return;
      v.forEach((item, i) => walkUnknown(item, s.items, `${path}[${i}]`, out, depth + 1));
      return;
    default:
      return;
  }
}

/** The pattern resource.Quantity strings must match. */
export const QUANTITY_PATTERN = '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$';
const quantityRe = new RegExp(QUANTITY_PATTERN);
const rfc3339Re = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Type checks against the schema, with the messages of kube's OpenAPI
 * validation: `spec.replicas: Invalid value: "string": spec.replicas in body
 * must be of type integer: "string"` (reason FieldValueTypeInvalid); also
 * required fields (`Required value`), enums (`Unsupported value`),
 * quantities and date-times. null counts as absent.
 */
export function checkTypes(obj: unknown, schema: Schema, path = ''): Cause[] {
  const out: Cause[] = [];
  guard(() => walkTypes(obj, schema, path, out, 0));
  return out;
}

function typeError(path: string, v: unknown, expected: string): Cause {
  const actual = jsonTypeName(v);
  const name = path || 'body';
  return typeInvalid(path, actual, `${name} in body must be of type ${expected}: ${goQuote(actual)}`);
}

function walkTypes(v: unknown, s: Schema, path: string, out: Cause[], depth: number): void {
  checkDepth(depth);
  if (v === null || v === undefined) return;
  switch (s.type) {
    case 'object':
      if (!isObject(v)) {
        out.push(typeError(path, v, 'object'));
        return;
      }
      for (const r of s.required ?? []) {
        if (!hasKey(v, r) || v[r] === null || v[r] === undefined) out.push(required(join(path, r)));
      }
      for (const k of Object.keys(v)) {
        if (hasKey(s.properties as Record<string, unknown>, k)) walkTypes(v[k], s.properties[k], join(path, k), out, depth + 1);
      }
      return;
    case 'map':
      if (!isObject(v)) {
        out.push(typeError(path, v, 'object'));
        return;
      }
      for (const k of Object.keys(v)) walkTypes(v[k], s.values, `${path}[${k}]`, out, depth + 1);
      return;
    case 'array':
      if (!Array.isArray(v)) {
        out.push(typeError(path, v, 'array'));
        return;
      }
      v.forEach((item, i) => walkTypes(item, s.items, `${path}[${i}]`, out, depth + 1));
      return;
    case 'string':
      if (typeof v !== 'string') out.push(typeError(path, v, 'string'));
      else if (s.enum && !s.enum.includes(v)) out.push(notSupported(path, v, s.enum));
      return;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) out.push(typeError(path, v, 'integer'));
      return;
    case 'number':
      if (typeof v !== 'number') out.push(typeError(path, v, 'number'));
      return;
    case 'boolean':
      if (typeof v !== 'boolean') out.push(typeError(path, v, 'boolean'));
      return;
    case 'int-or-string':
      if (!(typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)))) {
        out.push(typeError(path, v, 'integer,string'));
      }
      return;
    case 'quantity':
      if (typeof v === 'number') return;
      if (typeof v !== 'string') out.push(typeError(path, v, 'integer,string'));
      else if (!quantityRe.test(v)) {
        out.push(invalidValue(path, v, `quantities must match the regular expression '${QUANTITY_PATTERN}'`));
      }
      return;
    case 'date-time':
      if (typeof v !== 'string') out.push(typeError(path, v, 'string'));
      else if (!rfc3339Re.test(v) || Number.isNaN(Date.parse(v))) {
        out.push(invalidValue(path, v, `${path || 'body'} in body must be of type date-time: ${goQuote(v)}`));
      }
      return;
    case 'any':
      return;
  }
}

/**
 * The OpenAPI v3 schema of a `Schema`: objects with properties, maps as
 * additionalProperties, arrays with x-kubernetes-list-type /
 * x-kubernetes-patch-strategy / x-kubernetes-patch-merge-key, int-or-string
 * and quantity as x-kubernetes-int-or-string, free-form values as
 * x-kubernetes-preserve-unknown-fields.
 */
export function toOpenApiV3(schema: Schema): Record<string, unknown> {
  return convert(schema, 0);
}

function convert(s: Schema, depth: number): Record<string, unknown> {
  checkDepth(depth);
  const out: Record<string, unknown> = {};
  if (s.description) out.description = s.description;
  switch (s.type) {
    case 'object': {
      out.type = 'object';
      const props: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties)) props[k] = convert(v, depth + 1);
      out.properties = props;
      if (s.required && s.required.length) out.required = [...s.required];
      if (s.preserveUnknownFields) out['x-kubernetes-preserve-unknown-fields'] = true;
      if (s.patchStrategy) out['x-kubernetes-patch-strategy'] = s.patchStrategy;
      break;
    }
    case 'map':
      out.type = 'object';
      out.additionalProperties = convert(s.values, depth + 1);
      break;
    case 'array':
      out.type = 'array';
      out.items = convert(s.items, depth + 1);
      if (s.listType) out['x-kubernetes-list-type'] = s.listType;
      if (s.listMapKeys && s.listMapKeys.length) out['x-kubernetes-list-map-keys'] = [...s.listMapKeys];
      if (s.mergeKey) out['x-kubernetes-patch-merge-key'] = s.mergeKey;
      if (s.patchStrategy) out['x-kubernetes-patch-strategy'] = s.patchStrategy;
      break;
    case 'string':
      out.type = 'string';
      if (s.enum) out.enum = [...s.enum];
      break;
    case 'integer':
    case 'number':
    case 'boolean':
      out.type = s.type;
      break;
    case 'int-or-string':
      out['x-kubernetes-int-or-string'] = true;
      break;
    case 'quantity':
      out['x-kubernetes-int-or-string'] = true;
      out.format = 'quantity';
      break;
    case 'date-time':
      out.type = 'string';
      out.format = 'date-time';
      break;
    case 'any':
      out['x-kubernetes-preserve-unknown-fields'] = true;
      break;
  }
  return out;
}

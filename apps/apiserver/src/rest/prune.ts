import type { Schema } from '@kubets/api-machinery';

/**
 * Drop the fields the schema does not know, as Kubernetes' typed decoding
 * does, and report them in the strict-decoding form (`unknown field "spec.foo"`).
 */
export function pruneUnknownFields(obj: unknown, schema: Schema, path = '', out: string[] = [], depth = 0): string[] {
  if (depth > 200 || obj === null || typeof obj !== 'object') return out;
  switch (schema.type) {
    case 'object': {
      if (Array.isArray(obj) || schema.preserveUnknownFields) return out;
      const o = obj as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const sub = schema.properties[k];
        const p = path ? `${path}.${k}` : k;
        if (!sub) {
          out.push(`unknown field "${p}"`);
          delete o[k];
        } else {
          pruneUnknownFields(o[k], sub, p, out, depth + 1);
        }
      }
      return out;
    }
    case 'map': {
      if (Array.isArray(obj)) return out;
      const o = obj as Record<string, unknown>;
      for (const k of Object.keys(o)) pruneUnknownFields(o[k], schema.values, path ? `${path}.${k}` : k, out, depth + 1);
      return out;
    }
    case 'array': {
      if (!Array.isArray(obj)) return out;
      obj.forEach((v, i) => pruneUnknownFields(v, schema.items, `${path}[${i}]`, out, depth + 1));
      return out;
    }
    default:
      return out;
  }
}

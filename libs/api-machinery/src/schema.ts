/**
 * A small structural schema for Kubernetes objects, in the spirit of the
 * OpenAPI v3 schemas kube-apiserver publishes. One description serves four
 * jobs: strict field validation (unknown fields), strategic merge patch
 * (list merge keys and strategies), type checks, and the /openapi/v3 document.
 */
export type Schema =
  | ObjectSchema
  | ArraySchema
  | MapSchema
  | ScalarSchema;

export interface SchemaCommon {
  description?: string;
}

/** An object with a fixed set of known fields. */
export interface ObjectSchema extends SchemaCommon {
  type: 'object';
  properties: Record<string, Schema>;
  /** Fields that must be present (validation reports "Required value"). */
  required?: string[];
  /** x-kubernetes-preserve-unknown-fields: accept any extra field. */
  preserveUnknownFields?: boolean;
  /** Strategic merge patch: "retainKeys" for union types such as volume sources and deployment strategy. */
  patchStrategy?: 'retainKeys';
}

/** A map with arbitrary string keys (labels, annotations, data, nodeSelector, resources.limits). */
export interface MapSchema extends SchemaCommon {
  type: 'map';
  values: Schema;
}

export interface ArraySchema extends SchemaCommon {
  type: 'array';
  items: Schema;
  /**
   * Strategic merge patch: "merge" lists of objects merge item by item on
   * `mergeKey` (containers by name, ports by containerPort); lists without a
   * strategy are replaced whole. "merge" on a list of scalars is a set union.
   */
  patchStrategy?: 'merge' | 'replace' | 'merge,retainKeys';
  mergeKey?: string;
  /** x-kubernetes-list-type */
  listType?: 'atomic' | 'set' | 'map';
  listMapKeys?: string[];
}

export interface ScalarSchema extends SchemaCommon {
  /**
   * int-or-string: intstr.IntOrString (ports, maxSurge).
   * quantity: resource.Quantity (a string or a number).
   * any: anything (RawExtension, free-form JSON).
   */
  type: 'string' | 'integer' | 'number' | 'boolean' | 'int-or-string' | 'quantity' | 'date-time' | 'any';
  enum?: string[];
}

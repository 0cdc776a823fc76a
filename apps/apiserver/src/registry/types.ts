import type { ObjectSchema } from '@kubets/api-machinery';

/** A Kubernetes object as JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObject = Record<string, any>;

/** A metav1.StatusCause in a 422 Invalid (reason is the cause type, e.g. FieldValueRequired). */
export interface FieldCause {
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueTypeInvalid' | 'FieldValueNotFound';
  /** Kubernetes' message for the cause, e.g. `Required value` or `Invalid value: "x": ...`. */
  message: string;
  /** The field path, e.g. `spec.containers[0].image` or `metadata.name`. */
  field: string;
}

/** One column of a meta.k8s.io/v1 Table, as kube-apiserver defines it for the resource. */
export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format?: string;
  description: string;
  /** 0: always shown; 1: shown with -o wide. */
  priority: number;
}

export interface SubresourceDef {
  /** "status", "scale", "binding", "log", "exec", "portforward", ... */
  name: string;
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

/** Everything the API server needs to know about one resource type. */
export interface ResourceDef {
  group: string; // "" for core
  version: string;
  kind: string;
  listKind: string;
  resource: string; // plural: "pods"
  singular: string; // "pod"
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: string[]; // create delete deletecollection get list patch update watch
  subresources: SubresourceDef[];
  /** The whole object's schema (apiVersion, kind, metadata, spec, status, data, ...). */
  schema: ObjectSchema;
  /** True when status is a subresource: the main endpoint ignores status changes and /status ignores everything else. */
  hasStatus: boolean;
  /** True when metadata.generation is bumped on changes outside metadata and status (spec, template, ...). */
  tracksGeneration: boolean;
  /** Fill in Kubernetes' defaults, in place. Called on create and update, before validation. */
  defaults(obj: KObject): void;
  /**
   * Validate the object (name rules, required fields, value ranges). `old` is
   * the stored object on update (immutable fields). Metadata name/namespace/labels
   * checks are shared and done by the caller; this covers the type's own fields.
   */
  validate(obj: KObject, old?: KObject): FieldCause[];
  /** Values for field selectors beyond metadata.name and metadata.namespace (e.g. spec.nodeName, status.phase). */
  selectableFields(obj: KObject): Record<string, string>;
  /** Table printing, the columns kube-apiserver prints for this type. */
  table: {
    columns: TableColumn[];
    /** One row's cells; `now` is ms since epoch, for AGE. */
    row(obj: KObject, now: number): unknown[];
  };
}

import { DEFAULT_TABLE } from '../printers';
import type { ResourceDef, SubresourceDef } from '../types';

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
export const STATUS_VERBS = ['get', 'patch', 'update'];

type Spec = Pick<ResourceDef, 'group' | 'version' | 'kind' | 'resource' | 'namespaced' | 'schema'> & Partial<ResourceDef>;

/** A ResourceDef with Kubernetes' usual values for everything not given. */
export function define(spec: Spec): ResourceDef {
  return {
    listKind: `${spec.kind}List`,
    singular: spec.kind.toLowerCase(),
    shortNames: [],
    categories: [],
    verbs: ALL_VERBS,
    subresources: [],
    hasStatus: false,
    tracksGeneration: false,
    defaults: () => {},
    validate: () => [],
    selectableFields: () => ({}),
    table: DEFAULT_TABLE,
    ...spec,
  };
}

/** The status subresource: same group, version and kind as the resource. */
export function statusSubresource(group: string, version: string, kind: string): SubresourceDef {
  return { name: 'status', group, version, kind, verbs: STATUS_VERBS };
}

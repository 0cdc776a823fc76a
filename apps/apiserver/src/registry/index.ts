// The resource registry: what kubets-apiserver knows about each Kubernetes
// resource type (schema, defaults, validation, field selectors, tables).
import type { ObjectSchema } from '@kubets/api-machinery';
import { deployments, daemonsets, replicasets } from './resources/apps';
import { configmaps, endpoints, events, namespaces, nodes, secrets, serviceaccounts } from './resources/core-small';
import { endpointslices, leases } from './resources/others';
import { pods } from './resources/pods';
import { services } from './resources/services';
import { SCALE } from './schemas/apps';
import { BINDING, EVICTION, POD_ATTACH_OPTIONS, POD_EXEC_OPTIONS, POD_PORT_FORWARD_OPTIONS, POD_TEMPLATE } from './schemas/core';
import type { ResourceDef } from './types';

export type { FieldCause, KObject, ResourceDef, SubresourceDef, TableColumn } from './types';
export { DEFAULT_TABLE, podStatusCells } from './printers';
export { imageTag } from './defaults';
export { POD_EVICTION_SUBRESOURCE } from './resources/pods';

/** Every resource the API server serves, in discovery order within each group version. */
export const ALL_RESOURCES: ResourceDef[] = [
  namespaces,
  pods,
  services,
  endpoints,
  nodes,
  configmaps,
  secrets,
  events,
  serviceaccounts,
  deployments,
  replicasets,
  daemonsets,
  leases,
  endpointslices,
];

const byResource = new Map<string, ResourceDef>();
const byGroupKind = new Map<string, ResourceDef>();
for (const def of ALL_RESOURCES) {
  byResource.set(`${def.group}/${def.version}/${def.resource}`, def);
  byGroupKind.set(`${def.group}/${def.kind}`, def);
}

/** The resource served at /api/v1/<resource> (group "") or /apis/<group>/<version>/<resource>. */
export function lookup(group: string, version: string, resource: string): ResourceDef | undefined {
  return byResource.get(`${group}/${version}/${resource}`);
}

/** The resource of a kind (e.g. "apps", "Deployment"), whatever its version. */
export function byKind(group: string, kind: string): ResourceDef | undefined {
  return byGroupKind.get(`${group}/${kind}`);
}

/** The group versions served, e.g. [{group: "", version: "v1"}, {group: "apps", version: "v1"}]. */
export function groupVersions(): { group: string; version: string }[] {
  const seen = new Map<string, { group: string; version: string }>();
  for (const d of ALL_RESOURCES) seen.set(`${d.group}/${d.version}`, { group: d.group, version: d.version });
  return [...seen.values()];
}

/**
 * Schemas of the kinds that are not stored resources but appear in requests
 * and responses (subresources and options), for /openapi and decoding.
 */
export const EXTRA_KINDS: { group: string; version: string; kind: string; schema: ObjectSchema }[] = [
  { group: '', version: 'v1', kind: 'Binding', schema: BINDING },
  { group: '', version: 'v1', kind: 'PodAttachOptions', schema: POD_ATTACH_OPTIONS },
  { group: '', version: 'v1', kind: 'PodExecOptions', schema: POD_EXEC_OPTIONS },
  { group: '', version: 'v1', kind: 'PodPortForwardOptions', schema: POD_PORT_FORWARD_OPTIONS },
  { group: '', version: 'v1', kind: 'PodTemplate', schema: POD_TEMPLATE },
  { group: 'autoscaling', version: 'v1', kind: 'Scale', schema: SCALE },
  { group: 'policy', version: 'v1', kind: 'Eviction', schema: EVICTION },
];

/** The schema of any kind the registry describes (resources and EXTRA_KINDS). */
export function schemaFor(group: string, version: string, kind: string): ObjectSchema | undefined {
  const def = byKind(group, kind);
  if (def && def.version === version) return def.schema;
  return EXTRA_KINDS.find((k) => k.group === group && k.version === version && k.kind === kind)?.schema;
}

export { SCALE as SCALE_SCHEMA, BINDING as BINDING_SCHEMA };

import type { GroupVersionResource } from './types';

/** What the client knows about a built-in resource type. */
export interface ResourceInfo extends GroupVersionResource {
  kind: string;
  namespaced: boolean;
}

const r = (group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceInfo => ({ group, version, resource, kind, namespaced });

export const PODS = r('', 'v1', 'pods', 'Pod', true);
export const NODES = r('', 'v1', 'nodes', 'Node', false);
export const SERVICES = r('', 'v1', 'services', 'Service', true);
export const ENDPOINTS = r('', 'v1', 'endpoints', 'Endpoints', true);
export const NAMESPACES = r('', 'v1', 'namespaces', 'Namespace', false);
export const CONFIG_MAPS = r('', 'v1', 'configmaps', 'ConfigMap', true);
export const SECRETS = r('', 'v1', 'secrets', 'Secret', true);
export const SERVICE_ACCOUNTS = r('', 'v1', 'serviceaccounts', 'ServiceAccount', true);
export const EVENTS = r('', 'v1', 'events', 'Event', true);
export const DEPLOYMENTS = r('apps', 'v1', 'deployments', 'Deployment', true);
export const REPLICA_SETS = r('apps', 'v1', 'replicasets', 'ReplicaSet', true);
export const DAEMON_SETS = r('apps', 'v1', 'daemonsets', 'DaemonSet', true);
export const LEASES = r('coordination.k8s.io', 'v1', 'leases', 'Lease', true);
export const ENDPOINT_SLICES = r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true);

/** The built-in resource types the API server serves. */
export const BUILTIN_RESOURCES: readonly ResourceInfo[] = [
  PODS,
  NODES,
  SERVICES,
  ENDPOINTS,
  NAMESPACES,
  CONFIG_MAPS,
  SECRETS,
  SERVICE_ACCOUNTS,
  EVENTS,
  DEPLOYMENTS,
  REPLICA_SETS,
  DAEMON_SETS,
  LEASES,
  ENDPOINT_SLICES,
];

/** The built-in resource of a group and resource name (any version), if known. */
export function resourceInfo(group: string, resource: string): ResourceInfo | undefined {
  return BUILTIN_RESOURCES.find((x) => x.group === group && x.resource === resource);
}

/** The built-in resource of an apiVersion and kind ("apps/v1", "Deployment"), if known. */
export function resourceForKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  const i = apiVersion.indexOf('/');
  const group = i < 0 ? '' : apiVersion.slice(0, i);
  return BUILTIN_RESOURCES.find((x) => x.group === group && x.kind === kind);
}

/** "v1" for core, "apps/v1" otherwise. */
export function apiVersionOf(gvr: GroupVersionResource): string {
  return gvr.group ? `${gvr.group}/${gvr.version}` : gvr.version;
}

/** A stable string for a resource type: "pods", "deployments.apps" (with the version: "v1/pods", "apps/v1/deployments"). */
export function gvrString(gvr: GroupVersionResource): string {
  return gvr.group ? `${gvr.group}/${gvr.version}/${gvr.resource}` : `${gvr.version}/${gvr.resource}`;
}

import { createHash } from 'node:crypto';
import { toOpenApiV3 } from '@kubets/api-machinery';
import type { KObject, ResourceDef } from '../registry/types';

export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0' };

export function versionInfo(): KObject {
  return {
    major: KUBE_VERSION.major,
    minor: KUBE_VERSION.minor,
    gitVersion: KUBE_VERSION.gitVersion,
    gitCommit: 'kubets',
    gitTreeState: 'clean',
    buildDate: '2026-11-24T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'kubets',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export function wantsAggregated(accept: string | undefined): boolean {
  return !!accept && /g=apidiscovery\.k8s\.io;\s*v=v2;\s*as=APIGroupDiscoveryList/.test(accept);
}

interface GroupVersion {
  group: string;
  version: string;
  resources: ResourceDef[];
}

export class Discovery {
  readonly groupVersions: GroupVersion[];
  private readonly openapiCache = new Map<string, { body: string; hash: string }>();

  constructor(
    resources: ResourceDef[],
    public serverAddress: string,
  ) {
    const byGv = new Map<string, GroupVersion>();
    for (const r of resources) {
      const k = `${r.group}/${r.version}`;
      let gv = byGv.get(k);
      if (!gv) byGv.set(k, (gv = { group: r.group, version: r.version, resources: [] }));
      gv.resources.push(r);
    }
    this.groupVersions = [...byGv.values()];
  }

  private gvPath(gv: { group: string; version: string }): string {
    return gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`;
  }

  apiVersions(): KObject {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress }] };
  }

  private apiGroup(name: string): KObject {
    const versions = this.groupVersions.filter((g) => g.group === name).map((g) => ({ groupVersion: `${name}/${g.version}`, version: g.version }));
    return { name, versions, preferredVersion: versions[0] };
  }

  groupNames(): string[] {
    return [...new Set(this.groupVersions.map((g) => g.group).filter((g) => g !== ''))];
  }

  apiGroupList(): KObject {
    return { kind: 'APIGroupList', apiVersion: 'v1', groups: this.groupNames().map((g) => this.apiGroup(g)) };
  }

  apiGroupDoc(name: string): KObject | undefined {
    if (!this.groupNames().includes(name)) return undefined;
    return { kind: 'APIGroup', apiVersion: 'v1', ...this.apiGroup(name) };
  }

  resourceList(group: string, version: string): KObject | undefined {
    const gv = this.groupVersions.find((g) => g.group === group && g.version === version);
    if (!gv) return undefined;
    const resources: KObject[] = [];
    for (const r of gv.resources) {
      resources.push({
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: r.verbs,
        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
        ...(r.categories.length ? { categories: r.categories } : {}),
        storageVersionHash: createHash('sha256').update(`${r.group}/${r.version}/${r.kind}`).digest('base64').slice(0, 11),
      });
      for (const s of r.subresources) {
        resources.push({
          name: `${r.resource}/${s.name}`,
          singularName: '',
          namespaced: r.namespaced,
          ...(s.group !== r.group || s.version !== r.version ? { group: s.group, version: s.version } : {}),
          kind: s.kind,
          verbs: s.verbs,
        });
      }
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  /** apidiscovery.k8s.io/v2 for /api (legacy core) or /apis (named groups). */
  aggregated(core: boolean): KObject {
    const groups = core ? [''] : this.groupNames();
    return {
      kind: 'APIGroupDiscoveryList',
      apiVersion: 'apidiscovery.k8s.io/v2',
      metadata: {},
      items: groups.map((g) => ({
        metadata: { name: g, creationTimestamp: null },
        versions: this.groupVersions
          .filter((gv) => gv.group === g)
          .map((gv) => ({
            version: gv.version,
            freshness: 'Current',
            resources: gv.resources.map((r) => ({
              resource: r.resource,
              responseKind: { group: r.group, version: r.version, kind: r.kind },
              scope: r.namespaced ? 'Namespaced' : 'Cluster',
              singularResource: r.singular,
              verbs: r.verbs,
              ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
              ...(r.categories.length ? { categories: r.categories } : {}),
              ...(r.subresources.length
                ? {
                    subresources: r.subresources.map((s) => ({
                      subresource: s.name,
                      responseKind: { group: s.group, version: s.version, kind: s.kind },
                      verbs: s.verbs,
                    })),
                  }
                : {}),
            })),
          })),
      })),
    };
  }

  // ------------------------------------------------------------ OpenAPI v3

  openapiRoot(): KObject {
    const paths: KObject = {};
    for (const gv of this.groupVersions) {
      const p = this.gvPath(gv);
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${this.openapiDoc(p)!.hash}` };
    }
    return { paths };
  }

  /** The OpenAPI v3 document of one group-version ("api/v1", "apis/apps/v1"). */
  openapiDoc(path: string): { body: string; hash: string } | undefined {
    const cached = this.openapiCache.get(path);
    if (cached) return cached;
    const gv = this.groupVersions.find((g) => this.gvPath(g) === path);
    if (!gv) return undefined;
    const schemas: KObject = {};
    const paths: KObject = {};
    const gvkOf = (r: ResourceDef) => ({ group: r.group, version: r.version, kind: r.kind });
    const params = (names: string[]) => names.map((n) => ({ name: n, in: 'query', schema: { type: n === 'dryRun' || n === 'fieldManager' || n === 'fieldValidation' ? 'string' : 'string' }, uniqueItems: true }));
    for (const r of gv.resources) {
      const schemaName = `io.k8s.api.${r.group ? r.group.split('.')[0] : 'core'}.${r.version}.${r.kind}`;
      schemas[schemaName] = { ...toOpenApiV3(r.schema), 'x-kubernetes-group-version-kind': [gvkOf(r)] };
      const ref = { $ref: `#/components/schemas/${schemaName}` };
      const base = `/${path}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}`;
      const op = (action: string, extra: string[] = []) => ({
        operationId: `${action}${r.kind}`,
        parameters: params(['dryRun', 'fieldManager', 'fieldValidation', ...extra]),
        responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } },
        'x-kubernetes-action': action,
        'x-kubernetes-group-version-kind': gvkOf(r),
      });
      paths[base] = {
        get: { operationId: `list${r.kind}`, responses: { '200': { description: 'OK' } }, 'x-kubernetes-action': 'list', 'x-kubernetes-group-version-kind': gvkOf(r) },
        post: { ...op('post'), requestBody: { content: { '*/*': { schema: ref } }, required: true } },
      };
      paths[`${base}/{name}`] = {
        get: { operationId: `read${r.kind}`, responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } }, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvkOf(r) },
        put: { ...op('put'), requestBody: { content: { '*/*': { schema: ref } }, required: true } },
        patch: { ...op('patch', ['force']), requestBody: { content: { 'application/json-patch+json': { schema: { type: 'object' } }, 'application/merge-patch+json': { schema: { type: 'object' } }, 'application/strategic-merge-patch+json': { schema: { type: 'object' } } }, required: true } },
        delete: { operationId: `delete${r.kind}`, responses: { '200': { description: 'OK' } }, 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvkOf(r) },
      };
    }
    const doc = { openapi: '3.0.0', info: { title: 'Kubernetes', version: KUBE_VERSION.gitVersion }, paths, components: { schemas } };
    const body = JSON.stringify(doc);
    const out = { body, hash: createHash('sha512').update(body).digest('hex').slice(0, 128).toUpperCase() };
    this.openapiCache.set(path, out);
    return out;
  }
}

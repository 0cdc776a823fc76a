import os from 'node:os';
import type { Client, KObject } from '@kubets/client';
import { CONFIG_MAPS, SECRETS, isNotFound } from '@kubets/client';
import { bytes, milliCpu } from './quantity';

/** A container's config cannot be built yet (kubelet's CreateContainerConfigError). */
export class ConfigError extends Error {}

type AnyObj = Record<string, any>;

/** Reads ConfigMaps and Secrets through the API server, once per sync. */
export class ObjectCache {
  private readonly cache = new Map<string, Promise<KObject | undefined>>();
  constructor(private readonly client: Client) {}

  private get(kind: 'configmap' | 'secret', ns: string, name: string): Promise<KObject | undefined> {
    const key = `${kind}/${ns}/${name}`;
    let p = this.cache.get(key);
    if (!p) {
      const res = this.client.resource(kind === 'configmap' ? CONFIG_MAPS : SECRETS);
      p = res.get(ns, name).catch((e) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
      this.cache.set(key, p);
    }
    return p;
  }

  /** The ConfigMap's data (plain strings), or undefined when it does not exist. */
  async configMap(ns: string, name: string): Promise<Record<string, string> | undefined> {
    const cm = await this.get('configmap', ns, name);
    if (!cm) return undefined;
    const out: Record<string, string> = { ...((cm as AnyObj).data ?? {}) };
    for (const [k, v] of Object.entries(((cm as AnyObj).binaryData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64').toString('latin1');
    return out;
  }

  /** The Secret's data decoded to Buffers, or undefined when it does not exist. */
  async secret(ns: string, name: string): Promise<Record<string, Buffer> | undefined> {
    const s = await this.get('secret', ns, name);
    if (!s) return undefined;
    const out: Record<string, Buffer> = {};
    for (const [k, v] of Object.entries(((s as AnyObj).data ?? {}) as Record<string, string>)) out[k] = Buffer.from(v, 'base64');
    for (const [k, v] of Object.entries(((s as AnyObj).stringData ?? {}) as Record<string, string>)) out[k] = Buffer.from(v);
    return out;
  }
}

/** The value of a downward-API fieldPath for this pod (kubelet's podFieldSelectorRuntimeValue). */
export function fieldValue(pod: AnyObj, fieldPath: string, podIP: string, hostIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath) ?? /^metadata\.(labels|annotations)\["(.*)"\]$/.exec(fieldPath);
  if (m) return String(pod.metadata?.[m[1]!]?.[m[2]!] ?? '');
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.podIP':
      return podIP;
    case 'status.podIPs':
      return podIP;
    case 'status.hostIP':
    case 'status.hostIPs':
      return hostIP;
    default:
      throw new ConfigError(`unsupported fieldPath "${fieldPath}"`);
  }
}

function resourceValue(container: AnyObj, ref: AnyObj): string {
  const [kind, res] = String(ref.resource).split('.') as [string, string];
  const q = container.resources?.[kind]?.[res];
  if (q === undefined) return res === 'cpu' ? String(os.cpus().length) : String(os.totalmem());
  const divisor = ref.divisor ?? '1';
  if (res === 'cpu') return String(Math.ceil(milliCpu(q) / milliCpu(divisor)));
  return String(Math.ceil(bytes(q) / bytes(divisor)));
}

/** Expands $(VAR) references as Kubernetes does ($$ escapes; unknown references stay). */
export function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return vars.has(name!) ? vars.get(name!)! : whole;
  });
}

/** The container's environment (envFrom, then env), in order, as the kubelet builds it. */
export async function containerEnv(pod: AnyObj, c: AnyObj, objects: ObjectCache, podIP: string, hostIP: string): Promise<Array<{ key: string; value: string }>> {
  const ns = pod.metadata.namespace as string;
  const vars = new Map<string, string>();
  for (const src of (c.envFrom ?? []) as AnyObj[]) {
    const prefix = src.prefix ?? '';
    if (src.configMapRef) {
      const data = await objects.configMap(ns, src.configMapRef.name);
      if (!data) {
        if (src.configMapRef.optional) continue;
        throw new ConfigError(`configmap "${src.configMapRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(data)) vars.set(prefix + k, v);
    } else if (src.secretRef) {
      const data = await objects.secret(ns, src.secretRef.name);
      if (!data) {
        if (src.secretRef.optional) continue;
        throw new ConfigError(`secret "${src.secretRef.name}" not found`);
      }
      for (const [k, v] of Object.entries(data)) vars.set(prefix + k, v.toString('utf8'));
    }
  }
  for (const e of (c.env ?? []) as AnyObj[]) {
    if (e.valueFrom === undefined || e.valueFrom === null) {
      vars.set(e.name, expand(String(e.value ?? ''), vars));
      continue;
    }
    const vf = e.valueFrom as AnyObj;
    if (vf.fieldRef) vars.set(e.name, fieldValue(pod, vf.fieldRef.fieldPath, podIP, hostIP));
    else if (vf.resourceFieldRef) vars.set(e.name, resourceValue(c, vf.resourceFieldRef));
    else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const data = await objects.configMap(ns, ref.name);
      if (!data) {
        if (ref.optional) continue;
        throw new ConfigError(`configmap "${ref.name}" not found`);
      }
      if (!(ref.key in data)) {
        if (ref.optional) continue;
        throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
      }
      vars.set(e.name, data[ref.key]!);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const data = await objects.secret(ns, ref.name);
      if (!data) {
        if (ref.optional) continue;
        throw new ConfigError(`secret "${ref.name}" not found`);
      }
      if (!(ref.key in data)) {
        if (ref.optional) continue;
        throw new ConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      }
      vars.set(e.name, data[ref.key]!.toString('utf8'));
    }
  }
  return [...vars].map(([key, value]) => ({ key, value }));
}

// The proxy's view of the cluster: one entry per (Service, port) with its
// ready endpoints, built from Services and EndpointSlices the way kube-proxy's
// ServicePortMap and EndpointsMap are. Pure functions, no I/O.
import type { EndpointSlice, Service } from '@kubets/client';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface Endpoint {
  ip: string;
  port: number;
}

/** One port of one Service, with what kube-proxy needs to program it. */
export interface ServicePortEntry {
  /** "namespace/name/protocol/portname" (kube-proxy's ServicePortName, lower-case protocol) */
  id: string;
  namespace: string;
  name: string;
  portName: string;
  protocol: Protocol;
  clusterIP: string;
  port: number;
  /** set for NodePort and LoadBalancer services */
  nodePort?: number;
  /** sessionAffinity ClientIP: seconds a client sticks to its endpoint */
  affinityTimeoutSeconds?: number;
  /** ready endpoints, sorted, without duplicates */
  endpoints: Endpoint[];
}

/** kube's default sessionAffinityConfig.clientIP.timeoutSeconds (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function compareIp(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return compareIp(a.ip, b.ip) || a.port - b.port;
}

export function isIPv4(s: string | undefined): s is string {
  return typeof s === 'string' && /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s) && s.split('.').every((p) => Number(p) <= 255);
}

/**
 * The service ports to program: IPv4 ClusterIP (and NodePort/LoadBalancer)
 * services with a cluster IP (headless and ExternalName services are skipped,
 * as kube-proxy does), each with the ready endpoints of its EndpointSlices
 * (label kubernetes.io/service-name, same namespace; the slice port matched by
 * name and protocol; an endpoint counts when conditions.ready is not false).
 */
export function buildServicePorts(services: readonly Service[], slices: readonly EndpointSlice[]): ServicePortEntry[] {
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    if (s.addressType !== 'IPv4') continue;
    const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.metadata?.namespace ?? ''}/${svc}`;
    let list = slicesBySvc.get(key);
    if (!list) slicesBySvc.set(key, (list = []));
    list.push(s);
  }
  const out: ServicePortEntry[] = [];
  for (const svc of services) {
    const spec = svc.spec ?? {};
    const clusterIP = spec.clusterIP;
    if (spec.type === 'ExternalName' || !isIPv4(clusterIP)) continue; // headless ("None"), IPv6, or not allocated
    const namespace = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const affinity = spec.sessionAffinity === 'ClientIP' ? Number(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS) : undefined;
    const svcSlices = slicesBySvc.get(`${namespace}/${name}`) ?? [];
    for (const p of spec.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toLowerCase() as Protocol;
      const portName = p.name ?? '';
      const seen = new Set<string>();
      const endpoints: Endpoint[] = [];
      for (const slice of svcSlices) {
        const sp = (slice.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP').toLowerCase() === protocol);
        if (!sp || typeof sp.port !== 'number') continue;
        for (const ep of slice.endpoints ?? []) {
          if (ep.conditions?.ready === false) continue;
          const ip = ep.addresses?.[0];
          if (!isIPv4(ip)) continue;
          const k = `${ip}:${sp.port}`;
          if (seen.has(k)) continue;
          seen.add(k);
          endpoints.push({ ip, port: sp.port });
        }
      }
      endpoints.sort(compareEndpoints);
      const nodePort = (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && p.nodePort ? p.nodePort : undefined;
      out.push({
        id: `${namespace}/${name}/${protocol}/${portName}`,
        namespace,
        name,
        portName,
        protocol,
        clusterIP,
        port: p.port,
        ...(nodePort ? { nodePort } : {}),
        ...(affinity !== undefined ? { affinityTimeoutSeconds: affinity } : {}),
        endpoints,
      });
    }
  }
  out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return out;
}

/** Number of ready endpoints over all service ports (a metric). */
export function countEndpoints(ports: readonly ServicePortEntry[]): number {
  return ports.reduce((n, p) => n + p.endpoints.length, 0);
}

// The Endpoints and EndpointSlice controllers' planning
// (pkg/controller/endpoint, pkg/controller/endpointslice and
// staging/src/k8s.io/endpointslice): from a Service with a selector and the
// pods of its namespace, the desired Endpoints subsets and EndpointSlices.
// Pure: objects in, objects out.
import { selectorFromSet } from '@kubets/api-machinery';
import { isBeingDeleted, isPodReady, labelsOf, nameOf, namespaceOf, uidOf, type KObject } from '../util/k8s';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
/** --max-endpoints-per-slice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** The Service's selector, or undefined when it has none (such Services are left alone). */
export function serviceSelects(svc: KObject, pod: KObject): boolean {
  const sel = svc?.spec?.selector;
  if (!sel || Object.keys(sel).length === 0) return false;
  return namespaceOf(svc) === namespaceOf(pod) && selectorFromSet(sel).matches(labelsOf(pod));
}

export function hasSelector(svc: KObject): boolean {
  const sel = svc?.spec?.selector;
  return !!sel && Object.keys(sel).length > 0;
}

/**
 * endpointsliceutil.ShouldPodBeInEndpoints: a pod with an IP, not terminal,
 * and (unless terminating pods are wanted) not being deleted.
 */
export function shouldPodBeInEndpoints(pod: KObject, includeTerminating: boolean): boolean {
  const phase = pod?.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  if (!pod?.status?.podIP) return false;
  if (!includeTerminating && isBeingDeleted(pod)) return false;
  return true;
}

/** podutil.FindPort: the container port a service port's targetPort names, or the number itself. */
export function findPort(pod: KObject, svcPort: KObject): number | undefined {
  const tp = svcPort?.targetPort ?? svcPort?.port;
  const proto = svcPort?.protocol ?? 'TCP';
  if (typeof tp === 'number') return tp;
  const asNum = /^\d+$/.test(String(tp)) ? Number(tp) : undefined;
  if (asNum !== undefined) return asNum;
  for (const c of [...(pod?.spec?.containers ?? []), ...(pod?.spec?.initContainers ?? []).filter((ic: KObject) => ic?.restartPolicy === 'Always')]) {
    for (const p of c?.ports ?? []) if (p?.name === tp && (p?.protocol ?? 'TCP') === proto) return Number(p.containerPort);
  }
  return undefined;
}

interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

function podPorts(svc: KObject, pod: KObject): EndpointPort[] {
  const out: EndpointPort[] = [];
  for (const sp of svc?.spec?.ports ?? []) {
    const port = findPort(pod, sp);
    if (port === undefined || port <= 0) continue; // kube logs and skips the port for this pod
    const ep: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
    if (sp.name) ep.name = sp.name;
    if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
    out.push(ep);
  }
  return out;
}

const portsKey = (ports: EndpointPort[]) =>
  JSON.stringify([...ports].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port || a.protocol.localeCompare(b.protocol)));

const targetRef = (pod: KObject) => ({ kind: 'Pod', namespace: namespaceOf(pod), name: nameOf(pod), uid: uidOf(pod) });

function hostnameFor(svc: KObject, pod: KObject): string | undefined {
  const h = pod?.spec?.hostname;
  return h && pod?.spec?.subdomain === nameOf(svc) && namespaceOf(svc) === namespaceOf(pod) ? String(h) : undefined;
}

const ipCompare = (a: KObject, b: KObject) => String(a.ip).localeCompare(String(b.ip), 'en', { numeric: true });

/**
 * The Endpoints subsets (endpoints_controller.go syncService +
 * endpoints.RepackSubsets): ready pods in `addresses`, others in
 * `notReadyAddresses` (all ready with publishNotReadyAddresses), grouped by
 * identical port sets, addresses sorted.
 */
export function desiredSubsets(svc: KObject, pods: readonly KObject[]): KObject[] {
  const publishNotReady = svc?.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, { ports: EndpointPort[]; addresses: KObject[]; notReady: KObject[] }>();
  for (const pod of pods) {
    if (!serviceSelects(svc, pod) || !shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const ports = podPorts(svc, pod);
    if ((svc?.spec?.ports ?? []).length > 0 && ports.length === 0) continue;
    const addr: KObject = { ip: String(pod.status.podIP) };
    const host = hostnameFor(svc, pod);
    if (host) addr.hostname = host;
    if (pod?.spec?.nodeName) addr.nodeName = String(pod.spec.nodeName);
    addr.targetRef = targetRef(pod);
    const k = portsKey(ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports: JSON.parse(k), addresses: [], notReady: [] }));
    if (publishNotReady || isPodReady(pod)) g.addresses.push(addr);
    else g.notReady.push(addr);
  }
  const subsets: KObject[] = [];
  for (const k of [...groups.keys()].sort()) {
    const g = groups.get(k)!;
    const s: KObject = {};
    if (g.addresses.length) s.addresses = g.addresses.sort(ipCompare);
    if (g.notReady.length) s.notReadyAddresses = g.notReady.sort(ipCompare);
    if (g.ports.length) s.ports = g.ports;
    subsets.push(s);
  }
  return subsets;
}

/** The labels the Endpoints object carries: the Service's, plus headless and skip-mirror. */
export function endpointsLabels(svc: KObject): Record<string, string> {
  const l: Record<string, string> = { ...labelsOf(svc), [LABEL_SKIP_MIRROR]: 'true' };
  if (svc?.spec?.clusterIP === 'None') l[LABEL_HEADLESS] = '';
  else delete l[LABEL_HEADLESS];
  return l;
}

/** The desired Endpoints object (kube's controller sets no ownerReferences on Endpoints). */
export function desiredEndpoints(svc: KObject, pods: readonly KObject[], existing?: KObject): KObject {
  const metadata: KObject = existing ? structuredClone(existing.metadata) : { name: nameOf(svc), namespace: namespaceOf(svc) };
  metadata.labels = endpointsLabels(svc);
  const ep: KObject = { apiVersion: 'v1', kind: 'Endpoints', metadata };
  const subsets = desiredSubsets(svc, pods);
  if (subsets.length) ep.subsets = subsets;
  return ep;
}

export function endpointsChanged(existing: KObject, desired: KObject): boolean {
  return JSON.stringify(existing?.subsets ?? []) !== JSON.stringify(desired?.subsets ?? []) || JSON.stringify(labelsOf(existing)) !== JSON.stringify(labelsOf(desired));
}

// ---------------------------------------------------------------------------
// EndpointSlices

export interface DesiredSlice {
  addressType: 'IPv4' | 'IPv6';
  ports: EndpointPort[];
  endpoints: KObject[];
}

/**
 * The EndpointSlice endpoints (endpointslice utils podToEndpoint): ready =
 * ready and not terminating, serving = ready, terminating = being deleted;
 * terminating pods are listed. Grouped by address type and port set, at most
 * MAX_ENDPOINTS_PER_SLICE per slice.
 */
export function desiredSlices(svc: KObject, pods: readonly KObject[], maxPerSlice = MAX_ENDPOINTS_PER_SLICE): DesiredSlice[] {
  const publishNotReady = svc?.spec?.publishNotReadyAddresses === true;
  const groups = new Map<string, DesiredSlice>();
  for (const pod of pods) {
    if (!serviceSelects(svc, pod) || !shouldPodBeInEndpoints(pod, true)) continue;
    const ports = podPorts(svc, pod);
    const ip = String(pod.status.podIP);
    const addressType = ip.includes(':') ? 'IPv6' : 'IPv4';
    const terminating = isBeingDeleted(pod);
    const serving = publishNotReady || isPodReady(pod);
    const ep: KObject = { addresses: [ip], conditions: { ready: serving && !terminating, serving, terminating } };
    const host = hostnameFor(svc, pod);
    if (host) ep.hostname = host;
    ep.targetRef = targetRef(pod);
    if (pod?.spec?.nodeName) ep.nodeName = String(pod.spec.nodeName);
    const k = `${addressType}|${portsKey(ports)}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { addressType, ports: JSON.parse(portsKey(ports)), endpoints: [] }));
    g.endpoints.push(ep);
  }
  const out: DesiredSlice[] = [];
  for (const k of [...groups.keys()].sort()) {
    const g = groups.get(k)!;
    g.endpoints.sort((a, b) => String(a.addresses[0]).localeCompare(String(b.addresses[0]), 'en', { numeric: true }));
    for (let i = 0; i < g.endpoints.length; i += maxPerSlice) out.push({ addressType: g.addressType, ports: g.ports, endpoints: g.endpoints.slice(i, i + maxPerSlice) });
  }
  return out;
}

export function sliceLabels(svc: KObject): Record<string, string> {
  const l: Record<string, string> = { ...labelsOf(svc), [LABEL_SERVICE_NAME]: nameOf(svc), [LABEL_MANAGED_BY]: ENDPOINTSLICE_CONTROLLER_NAME };
  if (svc?.spec?.clusterIP === 'None') l[LABEL_HEADLESS] = '';
  else delete l[LABEL_HEADLESS];
  return l;
}

export function serviceOwnerRef(svc: KObject): KObject {
  return { apiVersion: 'v1', kind: 'Service', name: nameOf(svc), uid: uidOf(svc), controller: true, blockOwnerDeletion: true };
}

/** The EndpointSlice object for a desired slice (a new one has generateName `<service>-`). */
export function sliceObject(svc: KObject, d: DesiredSlice, existing?: KObject): KObject {
  const metadata: KObject = existing ? structuredClone(existing.metadata) : { generateName: `${nameOf(svc)}-`, namespace: namespaceOf(svc) };
  metadata.labels = sliceLabels(svc);
  metadata.ownerReferences = [serviceOwnerRef(svc)];
  return { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata, addressType: d.addressType, endpoints: d.endpoints, ports: d.ports };
}

export function sliceChanged(existing: KObject, desired: KObject): boolean {
  return (
    JSON.stringify(existing?.endpoints ?? []) !== JSON.stringify(desired.endpoints ?? []) ||
    JSON.stringify(existing?.ports ?? []) !== JSON.stringify(desired.ports ?? []) ||
    JSON.stringify(labelsOf(existing)) !== JSON.stringify(labelsOf(desired)) ||
    JSON.stringify(existing?.metadata?.ownerReferences ?? []) !== JSON.stringify(desired.metadata.ownerReferences)
  );
}

export interface SlicePlan {
  create: KObject[];
  update: KObject[];
  delete: string[];
}

/**
 * Reconciles the existing slices of a Service with the desired ones: an
 * existing slice with the same address type and ports is reused (updated
 * only when its content changed), extra slices are deleted, missing ones
 * created. With no endpoints one empty placeholder slice is kept, as kube does.
 */
export function planSlices(svc: KObject, existing: readonly KObject[], desired: DesiredSlice[]): SlicePlan {
  const want = desired.length > 0 ? desired : [{ addressType: 'IPv4' as const, ports: [], endpoints: [] }];
  const pool = [...existing].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  const plan: SlicePlan = { create: [], update: [], delete: [] };
  const unmatched: DesiredSlice[] = [];
  for (const d of want) {
    const i = pool.findIndex((s) => s.addressType === d.addressType && portsKey(s.ports ?? []) === portsKey(d.ports));
    if (i < 0) {
      unmatched.push(d);
      continue;
    }
    const [s] = pool.splice(i, 1);
    const obj = sliceObject(svc, d, s);
    if (sliceChanged(s!, obj)) plan.update.push(obj);
  }
  for (const d of unmatched) {
    // Reuse a leftover slice of the same address type before creating one.
    const i = pool.findIndex((s) => s.addressType === d.addressType);
    if (i >= 0) {
      const [s] = pool.splice(i, 1);
      plan.update.push(sliceObject(svc, d, s));
    } else plan.create.push(sliceObject(svc, d));
  }
  plan.delete = pool.map(nameOf);
  return plan;
}

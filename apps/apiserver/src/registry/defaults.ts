// Kubernetes' defaulting (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go,
// pkg/apis/discovery/v1/defaults.go) plus the mutations of the admission
// plugins every cluster runs (ServiceAccount, Priority, DefaultTolerationSeconds)
// and the create-time strategy defaults (namespace finalizer, status phase).
import type { KObject } from './types';
import { asArray, isObject, isSet } from './util';

/** The tag parsers.ParseImageName reports: "latest" without tag and digest, "" with only a digest. */
export function imageTag(image: string): string {
  let ref = image;
  const at = ref.indexOf('@');
  const hasDigest = at >= 0;
  if (hasDigest) ref = ref.slice(0, at);
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return ref.slice(colon + 1);
  return hasDigest ? '' : 'latest';
}

function defaultHandler(h: unknown): void {
  if (!isObject(h)) return;
  if (isObject(h.httpGet)) {
    if (!h.httpGet.path) h.httpGet.path = '/';
    if (!h.httpGet.scheme) h.httpGet.scheme = 'HTTP';
  }
  if (isObject(h.grpc) && !isSet(h.grpc.service)) h.grpc.service = '';
}

export function defaultProbe(p: unknown): void {
  if (!isObject(p)) return;
  defaultHandler(p);
  if (!p.timeoutSeconds) p.timeoutSeconds = 1;
  if (!p.periodSeconds) p.periodSeconds = 10;
  if (!p.successThreshold) p.successThreshold = 1;
  if (!p.failureThreshold) p.failureThreshold = 3;
}

function defaultFieldRef(ref: unknown): void {
  if (isObject(ref) && !ref.apiVersion) ref.apiVersion = 'v1';
}

function defaultResourceFieldRef(ref: unknown): void {
  // A zero resource.Quantity serializes as "0".
  if (isObject(ref) && !isSet(ref.divisor)) ref.divisor = '0';
}

export function defaultContainer(c: unknown): void {
  if (!isObject(c)) return;
  if (!c.imagePullPolicy) c.imagePullPolicy = imageTag(String(c.image ?? '')) === 'latest' ? 'Always' : 'IfNotPresent';
  if (!c.terminationMessagePath) c.terminationMessagePath = '/dev/termination-log';
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = 'File';
  // ResourceRequirements is a struct, not a pointer: Go always prints it.
  if (!isObject(c.resources)) c.resources = {};
  for (const p of asArray(c.ports)) if (isObject(p) && !p.protocol) p.protocol = 'TCP';
  for (const e of asArray(c.env)) {
    if (!isObject(e) || !isObject(e.valueFrom)) continue;
    defaultFieldRef(e.valueFrom.fieldRef);
    defaultResourceFieldRef(e.valueFrom.resourceFieldRef);
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObject(c.lifecycle)) {
    defaultHandler(c.lifecycle.postStart);
    defaultHandler(c.lifecycle.preStop);
  }
}

const VOLUME_SOURCE_KEYS = [
  'emptyDir', 'hostPath', 'configMap', 'secret', 'persistentVolumeClaim', 'projected', 'downwardAPI', 'nfs', 'csi', 'ephemeral', 'image',
  'gcePersistentDisk', 'awsElasticBlockStore', 'gitRepo', 'iscsi', 'glusterfs', 'rbd', 'flexVolume', 'cinder', 'cephfs', 'flocker', 'fc',
  'azureFile', 'azureDisk', 'vsphereVolume', 'quobyte', 'photonPersistentDisk', 'portworxVolume', 'scaleIO', 'storageos',
];
export const volumeSourceKeys = (): readonly string[] => VOLUME_SOURCE_KEYS;

export function defaultVolume(v: unknown): void {
  if (!isObject(v)) return;
  if (!VOLUME_SOURCE_KEYS.some((k) => isSet(v[k]))) v.emptyDir = {};
  if (isObject(v.secret) && !isSet(v.secret.defaultMode)) v.secret.defaultMode = 0o644;
  if (isObject(v.configMap) && !isSet(v.configMap.defaultMode)) v.configMap.defaultMode = 0o644;
  if (isObject(v.downwardAPI)) {
    if (!isSet(v.downwardAPI.defaultMode)) v.downwardAPI.defaultMode = 0o644;
    for (const item of asArray(v.downwardAPI.items)) {
      defaultFieldRef(item?.fieldRef);
      defaultResourceFieldRef(item?.resourceFieldRef);
    }
  }
  if (isObject(v.projected)) {
    if (!isSet(v.projected.defaultMode)) v.projected.defaultMode = 0o644;
    for (const s of asArray(v.projected.sources)) {
      if (!isObject(s)) continue;
      if (isObject(s.serviceAccountToken) && !isSet(s.serviceAccountToken.expirationSeconds)) s.serviceAccountToken.expirationSeconds = 3600;
      if (isObject(s.downwardAPI)) {
        for (const item of asArray(s.downwardAPI.items)) {
          defaultFieldRef(item?.fieldRef);
          defaultResourceFieldRef(item?.resourceFieldRef);
        }
      }
    }
  }
  if (isObject(v.hostPath) && !isSet(v.hostPath.type)) v.hostPath.type = '';
  if (isObject(v.iscsi) && !v.iscsi.iscsiInterface) v.iscsi.iscsiInterface = 'default';
}

/** SetDefaults_PodSpec and everything below it: used for pods and pod templates. */
export function defaultPodSpec(spec: unknown): void {
  if (!isObject(spec)) return;
  if (!spec.dnsPolicy) spec.dnsPolicy = 'ClusterFirst';
  if (!spec.restartPolicy) spec.restartPolicy = 'Always';
  if (!isObject(spec.securityContext)) spec.securityContext = {};
  if (!isSet(spec.terminationGracePeriodSeconds)) spec.terminationGracePeriodSeconds = 30;
  if (!spec.schedulerName) spec.schedulerName = 'default-scheduler';
  for (const c of asArray(spec.containers)) defaultContainer(c);
  for (const c of asArray(spec.initContainers)) defaultContainer(c);
  for (const c of asArray(spec.ephemeralContainers)) defaultContainer(c);
  for (const v of asArray(spec.volumes)) defaultVolume(v);
  // The deprecated serviceAccount field mirrors serviceAccountName (conversion).
  if (!spec.serviceAccountName && spec.serviceAccount) spec.serviceAccountName = spec.serviceAccount;
  if (spec.serviceAccountName) spec.serviceAccount = spec.serviceAccountName;
}

export function defaultPodTemplate(tpl: unknown): void {
  if (!isObject(tpl)) return;
  defaultPodSpec(tpl.spec);
}

const SYSTEM_PRIORITY_CLASSES: Record<string, number> = {
  'system-node-critical': 2000001000,
  'system-cluster-critical': 2000000000,
};

const DEFAULT_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
];

/** SetDefaults_Pod plus the ServiceAccount, Priority and DefaultTolerationSeconds admission plugins. */
export function defaultPod(pod: KObject): void {
  if (!isObject(pod.spec)) return;
  const spec = pod.spec;
  defaultPodSpec(spec);
  // Requests default to limits (only for Pods, not templates).
  for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) {
    if (!isObject(c) || !isObject(c.resources) || !isObject(c.resources.limits)) continue;
    const requests = isObject(c.resources.requests) ? c.resources.requests : (c.resources.requests = {});
    for (const [k, v] of Object.entries(c.resources.limits)) if (!isSet(requests[k])) requests[k] = v;
  }
  if (!isSet(spec.enableServiceLinks)) spec.enableServiceLinks = true;
  if (spec.hostNetwork === true) {
    for (const c of [...asArray(spec.containers), ...asArray(spec.initContainers)]) {
      for (const p of asArray(c?.ports)) if (isObject(p) && !p.hostPort) p.hostPort = p.containerPort;
    }
  }
  // ServiceAccount admission.
  if (!spec.serviceAccountName) spec.serviceAccountName = 'default';
  spec.serviceAccount = spec.serviceAccountName;
  // Priority admission.
  if (!isSet(spec.priority)) {
    spec.priority = SYSTEM_PRIORITY_CLASSES[String(spec.priorityClassName ?? '')] ?? 0;
  }
  if (!spec.preemptionPolicy) spec.preemptionPolicy = 'PreemptLowerPriority';
  // DefaultTolerationSeconds admission.
  const tolerations: KObject[] = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const toAdd: KObject[] = [];
  for (const d of DEFAULT_TOLERATIONS) {
    const covered = tolerations.some(
      (t) => isObject(t) && ((t.operator === 'Exists' && !t.key) || t.key === d.key) && (!t.effect || t.effect === 'NoExecute'),
    );
    if (!covered) toAdd.push({ ...d });
  }
  if (toAdd.length > 0) spec.tolerations = [...tolerations, ...toAdd];
}

// ------------------------------------------------------------------------ apps

export function defaultDeployment(d: KObject): void {
  const spec = isObject(d.spec) ? d.spec : (d.spec = {});
  if (!isSet(spec.replicas)) spec.replicas = 1;
  const strategy = isObject(spec.strategy) ? spec.strategy : (spec.strategy = {});
  if (!strategy.type) strategy.type = 'RollingUpdate';
  if (strategy.type === 'RollingUpdate') {
    const ru = isObject(strategy.rollingUpdate) ? strategy.rollingUpdate : (strategy.rollingUpdate = {});
    if (!isSet(ru.maxUnavailable)) ru.maxUnavailable = '25%';
    if (!isSet(ru.maxSurge)) ru.maxSurge = '25%';
  }
  if (!isSet(spec.revisionHistoryLimit)) spec.revisionHistoryLimit = 10;
  if (!isSet(spec.progressDeadlineSeconds)) spec.progressDeadlineSeconds = 600;
  defaultPodTemplate(spec.template);
}

export function defaultReplicaSet(rs: KObject): void {
  const spec = isObject(rs.spec) ? rs.spec : (rs.spec = {});
  if (!isSet(spec.replicas)) spec.replicas = 1;
  defaultPodTemplate(spec.template);
}

export function defaultDaemonSet(ds: KObject): void {
  const spec = isObject(ds.spec) ? ds.spec : (ds.spec = {});
  const us = isObject(spec.updateStrategy) ? spec.updateStrategy : (spec.updateStrategy = {});
  if (!us.type) us.type = 'RollingUpdate';
  if (us.type === 'RollingUpdate') {
    const ru = isObject(us.rollingUpdate) ? us.rollingUpdate : (us.rollingUpdate = {});
    if (!isSet(ru.maxUnavailable)) ru.maxUnavailable = 1;
    if (!isSet(ru.maxSurge)) ru.maxSurge = 0;
  }
  if (!isSet(spec.revisionHistoryLimit)) spec.revisionHistoryLimit = 10;
  defaultPodTemplate(spec.template);
}

// ------------------------------------------------------------------- services

function externallyAccessible(spec: KObject): boolean {
  return spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && asArray(spec.externalIPs).length > 0);
}

export function defaultService(svc: KObject): void {
  const spec = isObject(svc.spec) ? svc.spec : (svc.spec = {});
  if (!spec.sessionAffinity) spec.sessionAffinity = 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = spec.sessionAffinityConfig;
    if (!isObject(cfg) || !isObject(cfg.clientIP) || !isSet(cfg.clientIP.timeoutSeconds)) {
      spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    }
  }
  if (!spec.type) spec.type = 'ClusterIP';
  for (const p of asArray(spec.ports)) {
    if (!isObject(p)) continue;
    if (!p.protocol) p.protocol = 'TCP';
    if (!isSet(p.targetPort) || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
  }
  if (externallyAccessible(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if (!spec.internalTrafficPolicy && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) spec.internalTrafficPolicy = 'Cluster';
  if (spec.type === 'LoadBalancer' && !isSet(spec.allocateLoadBalancerNodePorts)) spec.allocateLoadBalancerNodePorts = true;
  // IP families (done by the service REST storage on a single-stack IPv4 cluster).
  if (spec.type !== 'ExternalName') {
    if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = 'SingleStack';
    if (!Array.isArray(spec.ipFamilies) || spec.ipFamilies.length === 0) spec.ipFamilies = ['IPv4'];
  } else {
    // ExternalName services carry no IP family fields, no cluster IP and no traffic policy.
    delete spec.ipFamilyPolicy;
    delete spec.ipFamilies;
  }
  // ServiceStatus.LoadBalancer is a struct: Go prints "loadBalancer: {}".
  if (isObject(svc.status) && !isObject(svc.status.loadBalancer)) svc.status.loadBalancer = {};
  if (!isSet(svc.status)) svc.status = { loadBalancer: {} };
}

// ---------------------------------------------------------------- small kinds

export function defaultNamespace(ns: KObject): void {
  const meta = isObject(ns.metadata) ? ns.metadata : (ns.metadata = {});
  if (meta.name) {
    if (!isObject(meta.labels)) meta.labels = {};
    meta.labels['kubernetes.io/metadata.name'] = meta.name;
  }
  // Create: the strategy adds the "kubernetes" finalizer and sets the phase.
  // A stored namespace always has a phase, so this runs once.
  const status = isObject(ns.status) ? ns.status : (ns.status = {});
  if (!status.phase) {
    status.phase = 'Active';
    const spec = isObject(ns.spec) ? ns.spec : (ns.spec = {});
    const fins: string[] = Array.isArray(spec.finalizers) ? spec.finalizers : [];
    if (!fins.includes('kubernetes')) spec.finalizers = [...fins, 'kubernetes'];
  }
}

export function defaultNode(node: KObject): void {
  const status = node.status;
  if (isObject(status) && isObject(status.capacity) && !isObject(status.allocatable)) {
    status.allocatable = { ...status.capacity };
  }
}

export function defaultSecret(secret: KObject): void {
  if (!secret.type) secret.type = 'Opaque';
  // Conversion folds the write-only stringData into data.
  if (isObject(secret.stringData)) {
    const data = isObject(secret.data) ? secret.data : (secret.data = {});
    for (const [k, v] of Object.entries(secret.stringData)) data[k] = Buffer.from(String(v ?? ''), 'utf8').toString('base64');
  }
  delete secret.stringData;
}

export function defaultEndpoints(ep: KObject): void {
  for (const s of asArray(ep.subsets)) for (const p of asArray(s?.ports)) if (isObject(p) && !p.protocol) p.protocol = 'TCP';
}

export function defaultEndpointSlice(es: KObject): void {
  for (const p of asArray(es.ports)) {
    if (!isObject(p)) continue;
    if (!isSet(p.name)) p.name = '';
    if (!isSet(p.protocol)) p.protocol = 'TCP';
  }
}

// core/v1 services.
import { defaultService } from '../defaults';
import { duplicate, forbidden, invalidValue, isDNS1123Subdomain, isQualifiedName, isValidIP, isValidPortNum, notSupported, required } from '../machinery';
import { SERVICE_TABLE } from '../printers';
import { SERVICE } from '../schemas/core';
import type { FieldCause, KObject } from '../types';
import { asArray, asObject, goStringSlice, GoValue, invalid, isObject, isSet, type Causes } from '../util';
import { goIntOrString, validateDNS1123Label, validateLabels, validatePortNumOrName } from '../validation';
import { define, statusSubresource } from './define';

const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const SESSION_AFFINITIES = ['ClientIP', 'None'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const IP_FAMILIES = ['IPv4', 'IPv6'];
const IP_FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const KUBELET_PORT = 10250;

const isHeadless = (spec: KObject): boolean => spec.clusterIP === 'None';
const externallyAccessible = (spec: KObject): boolean =>
  spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && asArray(spec.externalIPs).length > 0);
const needsHealthCheck = (spec: KObject): boolean => spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
const needsClusterIP = (spec: KObject): boolean => spec.type !== 'ExternalName';

function goServicePortKey(protocol: unknown, port: unknown): GoValue {
  return new GoValue(
    `core.ServicePort{Name:"", Protocol:${JSON.stringify(String(protocol ?? ''))}, AppProtocol:(*string)(nil), Port:${Number(port ?? 0)}, TargetPort:${goIntOrString(0).text}, NodePort:0}`,
  );
}

/**
 * The cluster IPs the service will have after the REST layer normalizes
 * clusterIP/clusterIPs (normalizeClusterIPs, patchAllocatedValues).
 */
function effectiveClusterIPs(spec: KObject, oldSpec: KObject | undefined): { clusterIP: string; clusterIPs: string[] } {
  let clusterIP = String(spec.clusterIP ?? '');
  let clusterIPs = asArray<string>(spec.clusterIPs).map(String);
  if (!oldSpec) {
    if (clusterIP && clusterIPs.length === 0) clusterIPs = [clusterIP];
    return { clusterIP, clusterIPs };
  }
  const oldIP = String(oldSpec.clusterIP ?? '');
  const oldIPs = asArray<string>(oldSpec.clusterIPs).map(String);
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  if (oldIPs.length > 0 && clusterIPs.length === 0 && oldIP === clusterIP) clusterIPs = oldIPs;
  if (oldIP !== clusterIP) {
    if (oldIP && !clusterIP && same(oldIPs, clusterIPs)) clusterIPs = [];
    if (clusterIP && same(oldIPs, clusterIPs)) clusterIPs = [clusterIP];
  }
  if (needsClusterIP(oldSpec) && needsClusterIP(spec)) {
    if (!clusterIP) clusterIP = oldIP;
    if (clusterIPs.length === 0 && oldIPs.length > 0) clusterIPs = oldIPs;
  }
  return { clusterIP, clusterIPs };
}

export function validateService(svc: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(svc.spec);
  const oldSpec = old ? asObject(old.spec) : undefined;
  const ports = asArray(spec.ports);
  const { clusterIP, clusterIPs } = effectiveClusterIPs(spec, oldSpec);

  if (ports.length === 0 && !isHeadless(spec) && spec.type !== 'ExternalName') errs.push(required('spec.ports', ''));

  switch (spec.type) {
    case 'LoadBalancer':
      if (isHeadless(spec)) errs.push(invalidValue('spec.clusterIPs[0]', 'None', "may not be set to 'None' for LoadBalancer services"));
      ports.forEach((p, i) => {
        if (Number(p?.port) === KUBELET_PORT) errs.push(invalidValue(`spec.ports[${i}]`, KUBELET_PORT, `may not expose port ${KUBELET_PORT} externally since it is used by kubelet`));
      });
      if (isHeadless(spec)) errs.push(invalidValue('spec.clusterIP', 'None', "may not be set to 'None' for LoadBalancer services"));
      break;
    case 'NodePort':
      if (isHeadless(spec)) errs.push(invalidValue('spec.clusterIPs[0]', 'None', "may not be set to 'None' for NodePort services"));
      break;
    case 'ExternalName': {
      // Switching a service to ExternalName drops the cluster IPs it had (dropTypeDependentFields).
      const keptFromOld = !!oldSpec && oldSpec.type !== 'ExternalName' && String(spec.clusterIP ?? '') === String(oldSpec.clusterIP ?? '');
      if ((asArray(spec.clusterIPs).length > 0 || spec.clusterIP) && !keptFromOld) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
      if (asArray(spec.ipFamilies).length > 0) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
      if (isSet(spec.ipFamilyPolicy)) errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      const cname = String(spec.externalName ?? '').replace(/\.$/, '');
      if (cname) for (const m of isDNS1123Subdomain(cname)) errs.push(invalidValue('spec.externalName', cname, m));
      else errs.push(required('spec.externalName', ''));
      break;
    }
    default:
      break;
  }

  const names = new Set<string>();
  ports.forEach((p, i) => {
    const pp = `spec.ports[${i}]`;
    const name = String(p?.name ?? '');
    if (ports.length > 1 && !name) errs.push(required(`${pp}.name`, ''));
    else if (name) {
      validateDNS1123Label(name, `${pp}.name`, errs);
      if (names.has(name)) errs.push(duplicate(`${pp}.name`, name));
      else names.add(name);
    }
    for (const m of isValidPortNum(Number(p?.port ?? 0))) errs.push(invalidValue(`${pp}.port`, Number(p?.port ?? 0), m));
    if (!p?.protocol) errs.push(required(`${pp}.protocol`, ''));
    else if (!PROTOCOLS.includes(p.protocol)) errs.push(notSupported(`${pp}.protocol`, String(p.protocol), PROTOCOLS));
    validatePortNumOrName(p?.targetPort, `${pp}.targetPort`, errs);
    if (isSet(p?.appProtocol)) for (const m of isQualifiedName(String(p.appProtocol))) errs.push(invalidValue(`${pp}.appProtocol`, String(p.appProtocol), m));
  });

  if (isObject(spec.selector)) validateLabels(spec.selector, 'spec.selector', errs);

  if (!spec.sessionAffinity) errs.push(required('spec.sessionAffinity', ''));
  else if (!SESSION_AFFINITIES.includes(spec.sessionAffinity)) errs.push(notSupported('spec.sessionAffinity', String(spec.sessionAffinity), SESSION_AFFINITIES));
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (!isSet(t)) errs.push(required('spec.sessionAffinityConfig.clientIP.timeoutSeconds', ''));
    else if (Number(t) <= 0 || Number(t) > 86400) errs.push(invalidValue('spec.sessionAffinityConfig.clientIP.timeoutSeconds', Number(t), 'must be greater than 0 and less than 86400'));
  } else if (spec.sessionAffinity === 'None' && isSet(spec.sessionAffinityConfig)) {
    errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }

  // Cluster IPs and IP families.
  if (spec.type !== 'ExternalName') {
    if (clusterIP) {
      if (clusterIPs.length === 0) errs.push(required('spec.clusterIPs', ''));
      else if (clusterIPs[0] !== clusterIP) errs.push(invalid('spec.clusterIPs', goStringSlice(clusterIPs), 'first value must match `clusterIP`'));
    } else if (clusterIPs.length > 0) {
      errs.push(invalid('spec.clusterIPs', goStringSlice(clusterIPs), 'must be empty when `clusterIP` is not specified'));
    }
    const seen = new Set<string>();
    asArray<string>(spec.ipFamilies).forEach((f, i) => {
      if (!IP_FAMILIES.includes(f)) errs.push(notSupported(`spec.ipFamilies[${i}]`, String(f), IP_FAMILIES));
      if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, String(f)));
      seen.add(f);
    });
    if (isSet(spec.ipFamilyPolicy) && !IP_FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) {
      errs.push(notSupported('spec.ipFamilyPolicy', String(spec.ipFamilyPolicy), IP_FAMILY_POLICIES));
    }
    clusterIPs.forEach((ip, i) => {
      if (i === 0 && ip === 'None') {
        if (clusterIPs.length > 1) errs.push(invalid('spec.clusterIPs', goStringSlice(clusterIPs), "'None' must be the first and only value"));
        return;
      }
      for (const m of isValidIP(ip)) errs.push(invalidValue(`spec.clusterIPs[${i}]`, ip, m));
    });
    if (clusterIPs.length > 2) errs.push(invalid('spec.clusterIPs', goStringSlice(clusterIPs), 'may only hold up to 2 values'));
    if (spec.ipFamilyPolicy === 'SingleStack' && clusterIPs.length > 1) {
      errs.push(invalid('spec.clusterIPs', goStringSlice(clusterIPs), 'must have at most 1 value when `ipFamilyPolicy` is SingleStack'));
    }
  }

  asArray<string>(spec.externalIPs).forEach((ip, i) => {
    for (const m of isValidIP(String(ip))) errs.push(invalidValue(`spec.externalIPs[${i}]`, String(ip), m));
  });

  if (!spec.type) errs.push(required('spec.type', ''));
  else if (!SERVICE_TYPES.includes(spec.type)) errs.push(notSupported('spec.type', String(spec.type), SERVICE_TYPES));

  // The REST layer drops node ports and traffic policy that belonged to the old type.
  const oldPorts = asArray(oldSpec?.ports);
  const keptNodePort = (p: KObject): boolean => oldPorts.some((o) => o?.nodePort && o.nodePort === p?.nodePort && o.port === p?.port);
  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p?.nodePort && !(oldSpec && oldSpec.type !== 'ClusterIP' && keptNodePort(p))) {
        errs.push(forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
      }
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p?.nodePort) return;
    for (const m of isValidPortNum(Number(p.nodePort))) errs.push(invalidValue(`spec.ports[${i}].nodePort`, Number(p.nodePort), m));
    const k = `${p.protocol}/${p.nodePort}`;
    if (nodePorts.has(k)) errs.push(duplicate(`spec.ports[${i}].nodePort`, Number(p.nodePort)));
    nodePorts.add(k);
  });
  const portKeys = new Set<string>();
  ports.forEach((p, i) => {
    const k = `${p?.protocol}/${p?.port}`;
    if (portKeys.has(k)) errs.push({ reason: 'FieldValueDuplicate', field: `spec.ports[${i}]`, message: `Duplicate value: ${goServicePortKey(p?.protocol, p?.port).text}` });
    portKeys.add(k);
  });

  if (spec.type === 'LoadBalancer' && !isSet(spec.allocateLoadBalancerNodePorts)) errs.push(required('spec.allocateLoadBalancerNodePorts', ''));

  if (!externallyAccessible(spec)) {
    const inherited = oldSpec && externallyAccessible(oldSpec) && oldSpec.externalTrafficPolicy === spec.externalTrafficPolicy;
    if (spec.externalTrafficPolicy && !inherited) {
      errs.push(invalidValue('spec.externalTrafficPolicy', String(spec.externalTrafficPolicy), 'may only be set for externally-accessible services'));
    }
  } else if (!spec.externalTrafficPolicy) {
    errs.push(required('spec.externalTrafficPolicy', ''));
  } else if (!TRAFFIC_POLICIES.includes(spec.externalTrafficPolicy)) {
    errs.push(notSupported('spec.externalTrafficPolicy', String(spec.externalTrafficPolicy), TRAFFIC_POLICIES));
  }
  if (!needsHealthCheck(spec) && spec.healthCheckNodePort && !(oldSpec && oldSpec.healthCheckNodePort === spec.healthCheckNodePort)) {
    errs.push(invalidValue('spec.healthCheckNodePort', Number(spec.healthCheckNodePort), "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  }

  if (spec.type !== 'ExternalName') {
    if (!isSet(spec.internalTrafficPolicy) && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) errs.push(required('spec.internalTrafficPolicy', ''));
    if (isSet(spec.internalTrafficPolicy) && !TRAFFIC_POLICIES.includes(spec.internalTrafficPolicy)) {
      errs.push(notSupported('spec.internalTrafficPolicy', String(spec.internalTrafficPolicy), TRAFFIC_POLICIES));
    }
  }

  // Update: cluster IPs may not change once set (unless switching to/from ExternalName or both headless).
  if (oldSpec && spec.type !== 'ExternalName' && oldSpec.type !== 'ExternalName' && !(isHeadless(oldSpec) && isHeadless(spec))) {
    const oldIPs = asArray<string>(oldSpec.clusterIPs).map(String);
    if (oldIPs.length === clusterIPs.length) {
      oldIPs.forEach((ip, i) => {
        if (ip !== clusterIPs[i]) errs.push(invalid(`spec.clusterIPs[${i}]`, goStringSlice(clusterIPs), 'may not change once set'));
      });
    } else if (oldIPs.length > clusterIPs.length) {
      if (clusterIPs.length === 0) errs.push(invalid('spec.clusterIPs[0]', goStringSlice(clusterIPs), 'primary clusterIP can not be unset'));
      else if (oldIPs[0] !== clusterIPs[0]) errs.push(invalid('spec.clusterIPs[0]', goStringSlice(clusterIPs), 'may not change once set'));
    } else if (oldIPs.length > 0 && oldIPs[0] !== clusterIPs[0]) {
      errs.push(invalid('spec.clusterIPs[0]', goStringSlice(clusterIPs), 'may not change once set'));
    }
  }
  return errs;
}

export const services = define({
  group: '',
  version: 'v1',
  kind: 'Service',
  resource: 'services',
  singular: 'service',
  namespaced: true,
  shortNames: ['svc'],
  categories: ['all'],
  schema: SERVICE,
  hasStatus: true,
  subresources: [{ name: 'proxy', group: '', version: 'v1', kind: 'ServiceProxyOptions', verbs: ['create', 'delete', 'get', 'patch', 'update'] }, statusSubresource('', 'v1', 'Service')],
  defaults: defaultService,
  validate: validateService,
  table: SERVICE_TABLE,
});

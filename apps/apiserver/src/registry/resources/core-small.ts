// core/v1 namespaces, nodes, configmaps, secrets, endpoints, events, serviceaccounts.
import { defaultEndpoints, defaultNamespace, defaultNode, defaultSecret } from '../defaults';
import {
  forbidden,
  invalidValue,
  isConfigMapKey,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPortNum,
  notSupported,
  required,
  tooLong,
} from '../machinery';
import {
  CONFIG_MAP_TABLE,
  ENDPOINTS_TABLE,
  EVENT_TABLE,
  NAMESPACE_TABLE,
  NODE_TABLE,
  SECRET_TABLE,
  SERVICE_ACCOUNT_TABLE,
} from '../printers';
import { CONFIG_MAP, ENDPOINTS, EVENT, NAMESPACE, NODE, SECRET, SERVICE_ACCOUNT } from '../schemas/core';
import type { FieldCause, KObject } from '../types';
import { asArray, asObject, goStringSlice, GoValue, invalid, isObject, isSet, parseQuantity, QUANTITY_REGEX, semanticEqual, type Causes } from '../util';
import { validateDNS1123Label, validateLabelName, validateTaintEffect } from '../validation';
import { ALL_VERBS, define, statusSubresource } from './define';

const MAX_SECRET_SIZE = 1024 * 1024;
const STANDARD_FINALIZERS = ['kubernetes', 'orphan', 'foregroundDeletion'];

// ------------------------------------------------------------------ namespaces

export const namespaces = define({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  resource: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  schema: NAMESPACE,
  hasStatus: true,
  subresources: [
    { name: 'finalize', group: '', version: 'v1', kind: 'Namespace', verbs: ['update'] },
    statusSubresource('', 'v1', 'Namespace'),
  ],
  defaults: defaultNamespace,
  validate(ns) {
    const errs: Causes = [];
    for (const f of asArray<string>(ns.spec?.finalizers)) {
      const name = String(f);
      for (const m of isQualifiedName(name)) errs.push(invalidValue('spec.finalizers', name, m));
      if (!name.includes('/') && !STANDARD_FINALIZERS.includes(name)) {
        errs.push(invalidValue('spec.finalizers', name, 'name is neither a standard finalizer name nor is it fully qualified'));
      }
    }
    const phase = ns.status?.phase;
    if (isSet(phase) && phase !== 'Active' && phase !== 'Terminating') {
      errs.push(notSupported('status.phase', String(phase), ['Active', 'Terminating']));
    }
    return errs;
  },
  selectableFields: (ns) => ({ 'status.phase': String(ns.status?.phase ?? '') }),
  table: NAMESPACE_TABLE,
});

// ----------------------------------------------------------------------- nodes

function goTaint(t: KObject): GoValue {
  const time = t.timeAdded ? `time.Date(${JSON.stringify(String(t.timeAdded))})` : '<nil>';
  return new GoValue(`core.Taint{Key:${JSON.stringify(String(t.key ?? ''))}, Value:${JSON.stringify(String(t.value ?? ''))}, Effect:${JSON.stringify(String(t.effect ?? ''))}, TimeAdded:${time}}`);
}

export function validateNode(node: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const spec = asObject(node.spec);
  const cidrs = asArray<string>(spec.podCIDRs).map(String);
  cidrs.forEach((c, i) => {
    for (const m of isValidCIDR(c)) errs.push(invalidValue(`spec.podCIDRs[${i}]`, c, m));
  });
  if (cidrs.length > 2 || (cidrs.length === 2 && cidrs[0]!.includes(':') === cidrs[1]!.includes(':'))) {
    errs.push(invalid('spec.podCIDRs', goStringSlice(cidrs), 'may specify no more than one CIDR for each IP family'));
  }
  const unique = new Map<string, Set<string>>();
  asArray(spec.taints).forEach((t, i) => {
    const p = `spec.taints[${i}]`;
    validateLabelName(String(t?.key ?? ''), `${p}.key`, errs);
    const vmsgs = isValidLabelValue(String(t?.value ?? ''));
    if (vmsgs.length) errs.push(invalidValue(`${p}.value`, String(t?.value ?? ''), vmsgs.join(';')));
    validateTaintEffect(t?.effect, false, `${p}.effect`, errs);
    const effect = String(t?.effect ?? '');
    const keys = unique.get(effect) ?? new Set<string>();
    if (keys.has(String(t?.key ?? ''))) {
      errs.push({ reason: 'FieldValueDuplicate', field: p, message: `Duplicate value: ${goTaint(asObject(t)).text}: taints must be unique by key and effect pair` });
      return;
    }
    keys.add(String(t?.key ?? ''));
    unique.set(effect, keys);
  });
  for (const f of ['capacity', 'allocatable']) {
    for (const [k, v] of Object.entries(asObject(node.status?.[f]))) {
      for (const m of isQualifiedName(k)) errs.push(invalidValue(`status.${f}[${k}]`, k, m));
      const q = parseQuantity(v);
      if (q === undefined) errs.push(invalidValue(`status.${f}[${k}]`, String(v), `quantities must match the regular expression '${QUANTITY_REGEX}'`));
      else if (q < 0) errs.push(invalidValue(`status.${f}[${k}]`, String(v), 'must be greater than or equal to 0'));
    }
  }
  if (old) {
    const seen = new Set<string>();
    asArray(node.status?.addresses).forEach((a, i) => {
      const k = `${a?.type}/${a?.address}`;
      if (seen.has(k)) {
        errs.push({ reason: 'FieldValueDuplicate', field: `status.addresses[${i}]`, message: `Duplicate value: core.NodeAddress{Type:${JSON.stringify(String(a?.type ?? ''))}, Address:${JSON.stringify(String(a?.address ?? ''))}}` });
      }
      seen.add(k);
    });
    const oldCidrs = asArray<string>(old.spec?.podCIDRs).map(String);
    if (oldCidrs.length > 0) {
      const msg = 'node updates may not change podCIDR except from "" to valid';
      if (oldCidrs.length !== cidrs.length) errs.push(forbidden('spec.podCIDRs', msg));
      else oldCidrs.forEach((c, i) => c !== cidrs[i] && errs.push(forbidden('spec.podCIDRs', msg)));
    }
    const oldProvider = String(old.spec?.providerID ?? '');
    if (oldProvider && oldProvider !== String(spec.providerID ?? '')) {
      errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
    }
  }
  return errs;
}

export const nodes = define({
  group: '',
  version: 'v1',
  kind: 'Node',
  resource: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  schema: NODE,
  hasStatus: true,
  subresources: [statusSubresource('', 'v1', 'Node')],
  defaults(node) {
    defaultNode(node);
    // podCIDR and podCIDRs mirror each other (conversion).
    const spec = node.spec;
    if (isObject(spec)) {
      if (spec.podCIDR && asArray(spec.podCIDRs).length === 0) spec.podCIDRs = [spec.podCIDR];
      else if (asArray(spec.podCIDRs).length > 0) spec.podCIDR = spec.podCIDRs[0];
    }
  },
  validate: validateNode,
  selectableFields: (node) => ({ 'spec.unschedulable': node.spec?.unschedulable === true ? 'true' : 'false' }),
  table: NODE_TABLE,
});

// ------------------------------------------------------------------ configmaps

function validateImmutableData(obj: KObject, old: KObject | undefined, fields: string[], errs: Causes): void {
  if (old?.immutable !== true) return;
  if (obj.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const f of fields) if (!semanticEqual(obj[f], old[f])) errs.push(forbidden(f, 'field is immutable when `immutable` is set'));
}

export function validateConfigMap(cm: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const data = asObject(cm.data);
  const binary = asObject(cm.binaryData);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalidValue(`data[${k}]`, k, m));
    if (k in binary) errs.push(invalidValue(`data[${k}]`, k, 'duplicate of key present in binaryData'));
    total += Buffer.byteLength(String(v ?? ''));
  }
  for (const [k, v] of Object.entries(binary)) {
    for (const m of isConfigMapKey(k)) errs.push(invalidValue(`binaryData[${k}]`, k, m));
    if (k in data) errs.push(invalidValue(`binaryData[${k}]`, k, 'duplicate of key present in data'));
    total += Buffer.from(String(v ?? ''), 'base64').length;
  }
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('', MAX_SECRET_SIZE));
  validateImmutableData(cm, old, ['data', 'binaryData'], errs);
  return errs;
}

export const configmaps = define({
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  resource: 'configmaps',
  singular: 'configmap',
  namespaced: true,
  shortNames: ['cm'],
  schema: CONFIG_MAP,
  validate: validateConfigMap,
  table: CONFIG_MAP_TABLE,
});

// --------------------------------------------------------------------- secrets

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function validateSecret(secret: KObject, old?: KObject): FieldCause[] {
  const errs: Causes = [];
  const data = asObject(secret.data);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalidValue(`data[${k}]`, k, m));
    const text = String(v ?? '');
    if (!BASE64.test(text)) errs.push(invalidValue(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
    total += Buffer.from(text, 'base64').length;
  }
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('data', MAX_SECRET_SIZE));
  const has = (k: string) => Object.prototype.hasOwnProperty.call(data, k);
  const decoded = (k: string) => Buffer.from(String(data[k] ?? ''), 'base64').toString('utf8');
  const jsonError = (k: string): string | undefined => {
    try {
      const v = JSON.parse(decoded(k));
      return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'json: cannot unmarshal into Go value of type map[string]interface {}';
    } catch (e) {
      return (e as Error).message;
    }
  };
  switch (secret.type ?? '') {
    case 'kubernetes.io/service-account-token':
      if (!secret.metadata?.annotations?.['kubernetes.io/service-account.name']) {
        errs.push(required('metadata.annotations[kubernetes.io/service-account.name]', ''));
      }
      break;
    case 'kubernetes.io/dockercfg':
      if (!has('.dockercfg')) errs.push(required('data[.dockercfg]', ''));
      else {
        const e = jsonError('.dockercfg');
        if (e) errs.push(invalidValue('data[.dockercfg]', '<secret contents redacted>', e));
      }
      break;
    case 'kubernetes.io/dockerconfigjson':
      if (!has('.dockerconfigjson')) errs.push(required('data[.dockerconfigjson]', ''));
      else {
        const e = jsonError('.dockerconfigjson');
        if (e) errs.push(invalidValue('data[.dockerconfigjson]', '<secret contents redacted>', e));
      }
      break;
    case 'kubernetes.io/basic-auth':
      if (!has('username') && !has('password')) {
        errs.push(required('data[username]', ''));
        errs.push(required('data[password]', ''));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if (!data['ssh-privatekey']) errs.push(required('data[ssh-privatekey]', ''));
      break;
    case 'kubernetes.io/tls':
      if (!has('tls.crt')) errs.push(required('data[tls.crt]', ''));
      if (!has('tls.key')) errs.push(required('data[tls.key]', ''));
      break;
    default:
      break;
  }
  if (old) {
    if ((secret.type ?? '') !== (old.type ?? '')) errs.push(invalidValue('type', String(secret.type ?? ''), 'field is immutable'));
    validateImmutableData(secret, old, ['data'], errs);
  }
  return errs;
}

export const secrets = define({
  group: '',
  version: 'v1',
  kind: 'Secret',
  resource: 'secrets',
  singular: 'secret',
  namespaced: true,
  schema: SECRET,
  defaults: defaultSecret,
  validate: validateSecret,
  selectableFields: (s) => ({ type: String(s.type ?? '') }),
  table: SECRET_TABLE,
});

// ------------------------------------------------------------------- endpoints

function endpointIPErrors(ip: string): string[] {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (m) {
    const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (ip === '0.0.0.0') return ['may not be unspecified (0.0.0.0)'];
    if (a === 127) return ['may not be in the loopback range (127.0.0.0/8, ::1/128)'];
    if (a === 169 && b === 254) return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)'];
    if (a === 224 && b === 0 && c === 0) return ['may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'];
    return [];
  }
  const low = ip.toLowerCase();
  if (low === '::') return ['may not be unspecified (::)'];
  if (low === '::1') return ['may not be in the loopback range (127.0.0.0/8, ::1/128)'];
  if (/^fe[89ab]/.test(low)) return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)'];
  if (low.startsWith('ff02:')) return ['may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'];
  return [];
}

export function validateEndpointAddressIP(ip: string, path: string, errs: Causes): void {
  const msgs = isValidIP(ip);
  for (const m of msgs) errs.push(invalidValue(path, ip, m));
  if (msgs.length === 0) for (const m of endpointIPErrors(ip)) errs.push(invalidValue(path, ip, m));
}

export function validateEndpoints(ep: KObject): FieldCause[] {
  const errs: Causes = [];
  asArray(ep.subsets).forEach((ss, i) => {
    const p = `subsets[${i}]`;
    if (asArray(ss?.addresses).length === 0 && asArray(ss?.notReadyAddresses).length === 0) {
      errs.push(required(p, 'must specify `addresses` or `notReadyAddresses`'));
    }
    for (const list of ['addresses', 'notReadyAddresses']) {
      asArray(ss?.[list]).forEach((a, j) => {
        const ap = `${p}.${list}[${j}]`;
        validateEndpointAddressIP(String(a?.ip ?? ''), `${ap}.ip`, errs);
        if (a?.hostname) validateDNS1123Label(String(a.hostname), `${ap}.hostname`, errs);
        if (isSet(a?.nodeName)) for (const m of isDNS1123Subdomain(String(a.nodeName))) errs.push(invalidValue(`${ap}.nodeName`, String(a.nodeName), m));
      });
    }
    const ports = asArray(ss?.ports);
    ports.forEach((port, j) => {
      const pp = `${p}.ports[${j}]`;
      const name = String(port?.name ?? '');
      if (ports.length > 1 && !name) errs.push(required(`${pp}.name`, ''));
      else if (name) validateDNS1123Label(name, `${pp}.name`, errs);
      for (const m of isValidPortNum(Number(port?.port ?? 0))) errs.push(invalidValue(`${pp}.port`, Number(port?.port ?? 0), m));
      if (!port?.protocol) errs.push(required(`${pp}.protocol`, ''));
      else if (!['SCTP', 'TCP', 'UDP'].includes(port.protocol)) errs.push(notSupported(`${pp}.protocol`, String(port.protocol), ['SCTP', 'TCP', 'UDP']));
      if (isSet(port?.appProtocol)) for (const m of isQualifiedName(String(port.appProtocol))) errs.push(invalidValue(`${pp}.appProtocol`, String(port.appProtocol), m));
    });
  });
  return errs;
}

export const endpoints = define({
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  listKind: 'EndpointsList',
  resource: 'endpoints',
  singular: 'endpoints',
  namespaced: true,
  shortNames: ['ep'],
  schema: ENDPOINTS,
  defaults: defaultEndpoints,
  validate: validateEndpoints,
  table: ENDPOINTS_TABLE,
});

// ---------------------------------------------------------------------- events

export function validateEvent(ev: KObject): FieldCause[] {
  const errs: Causes = [];
  const ns = String(ev.metadata?.namespace ?? '');
  const io = asObject(ev.involvedObject);
  const ioNs = String(io.namespace ?? '');
  if (!ev.eventTime) {
    if (!ioNs) {
      if (ns !== '' && ns !== 'default') errs.push(invalidValue('involvedObject.namespace', ioNs, 'does not match event.namespace'));
    } else if (ns !== ioNs) {
      errs.push(invalidValue('involvedObject.namespace', ioNs, 'does not match event.namespace'));
    }
  } else {
    if (!ioNs && ns !== 'default' && ns !== 'kube-system') errs.push(invalidValue('involvedObject.namespace', ioNs, 'does not match event.namespace'));
    const rc = String(ev.reportingComponent ?? '');
    if (!rc) errs.push(required('reportingComponent', ''));
    for (const m of isQualifiedName(rc)) errs.push(invalidValue('reportingComponent', rc, m));
    const ri = String(ev.reportingInstance ?? '');
    if (!ri) errs.push(required('reportingInstance', ''));
    if (ri.length > 128) errs.push(invalidValue('reportingInstance', '', 'can have at most 128 characters'));
    const action = String(ev.action ?? '');
    if (!action) errs.push(required('action', ''));
    if (action.length > 128) errs.push(invalidValue('action', '', 'can have at most 128 characters'));
    const reason = String(ev.reason ?? '');
    if (!reason) errs.push(required('reason', ''));
    if (reason.length > 128) errs.push(invalidValue('reason', '', 'can have at most 128 characters'));
    if (String(ev.message ?? '').length > 1024) errs.push(invalidValue('message', '', 'can have at most 1024 characters'));
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(invalidValue('namespace', ns, m));
  return errs;
}

export const events = define({
  group: '',
  version: 'v1',
  kind: 'Event',
  resource: 'events',
  singular: 'event',
  namespaced: true,
  shortNames: ['ev'],
  schema: EVENT,
  validate: validateEvent,
  selectableFields(ev) {
    const io = asObject(ev.involvedObject);
    const s = (v: unknown) => String(v ?? '');
    return {
      'involvedObject.kind': s(io.kind),
      'involvedObject.namespace': s(io.namespace),
      'involvedObject.name': s(io.name),
      'involvedObject.uid': s(io.uid),
      'involvedObject.apiVersion': s(io.apiVersion),
      'involvedObject.resourceVersion': s(io.resourceVersion),
      'involvedObject.fieldPath': s(io.fieldPath),
      reason: s(ev.reason),
      reportingComponent: s(ev.reportingComponent),
      source: s(ev.source?.component) || s(ev.reportingComponent),
      type: s(ev.type),
    };
  },
  table: EVENT_TABLE,
});

// ------------------------------------------------------------- serviceaccounts

export const serviceaccounts = define({
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  resource: 'serviceaccounts',
  singular: 'serviceaccount',
  namespaced: true,
  shortNames: ['sa'],
  verbs: ALL_VERBS,
  schema: SERVICE_ACCOUNT,
  table: SERVICE_ACCOUNT_TABLE,
});

// Field validation with Kubernetes' field paths and messages
// (pkg/apis/core/validation, pkg/apis/apps/validation, apimachinery's
// metav1 validation). Metadata of top-level objects is validated by the caller.
import {
  amValidateAnnotations,
  amValidateLabelName,
  amValidateLabels,
  amValidateLabelSelector,
  duplicate,
  forbidden,
  invalidValue,
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  notFound,
  notSupported,
  QUANTITY_PATTERN,
  required,
} from './machinery';
import { volumeSourceKeys } from './defaults';
import type { KObject } from './types';
import {
  asArray,
  asObject,
  child,
  goLabelSelector,
  goStringMap,
  GoValue,
  index,
  invalid,
  isObject,
  isSet,
  key,
  parseQuantity,
  quantityString,
  selectorMatches,
  semanticEqual,
  type Causes,
} from './util';

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

// ------------------------------------------------------------------ primitives

export function validateNonnegative(value: unknown, path: string, errs: Causes): void {
  if (isSet(value) && num(value) < 0) errs.push(invalidValue(path, num(value), 'must be greater than or equal to 0'));
}

export function validateDNS1123Label(value: string, path: string, errs: Causes): void {
  for (const m of isDNS1123Label(value)) errs.push(invalidValue(path, value, m));
}

export function validateDNS1123Subdomain(value: string, path: string, errs: Causes): void {
  for (const m of isDNS1123Subdomain(value)) errs.push(invalidValue(path, value, m));
}

export function validateLabelName(name: string, path: string, errs: Causes): void {
  errs.push(...amValidateLabelName(name, path));
}

/** metav1validation.ValidateLabels */
export function validateLabels(labels: unknown, path: string, errs: Causes): void {
  errs.push(...amValidateLabels(labels, path));
}

/** apimachinery ValidateAnnotations (for pod template metadata). */
export function validateAnnotations(annotations: unknown, path: string, errs: Causes): void {
  errs.push(...amValidateAnnotations(annotations, path));
}

/** metav1validation.ValidateLabelSelector */
export function validateLabelSelector(sel: unknown, path: string, errs: Causes): void {
  errs.push(...amValidateLabelSelector(sel, path));
}

export const selectorIsEmpty = (sel: unknown): boolean =>
  Object.keys(asObject(asObject(sel).matchLabels)).length + asArray(asObject(sel).matchExpressions).length === 0;

/** intstr.IntOrString rendered by %#v, the way Kubernetes prints it in messages. */
export function goIntOrString(v: unknown): GoValue {
  if (typeof v === 'string') return new GoValue(`intstr.IntOrString{Type:1, IntVal:0, StrVal:${JSON.stringify(v)}}`);
  return new GoValue(`intstr.IntOrString{Type:0, IntVal:${num(v)}, StrVal:""}`);
}

function percentValue(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^([0-9]+)%$/.exec(v);
  return m ? Number(m[1]) : undefined;
}

function intOrPercentValue(v: unknown): number {
  if (typeof v === 'string') return percentValue(v) ?? 0;
  return num(v);
}

/** apps ValidatePositiveIntOrPercent */
export function validatePositiveIntOrPercent(v: unknown, path: string, errs: Causes): void {
  if (!isSet(v)) return;
  if (typeof v === 'string') {
    if (!/^[0-9]+%$/.test(v)) {
      errs.push(invalid(path, goIntOrString(v), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    }
  } else if (num(v) < 0) {
    errs.push(invalidValue(path, num(v), 'must be greater than or equal to 0'));
  }
}

export function isNotMoreThan100Percent(v: unknown, path: string, errs: Causes): void {
  const p = percentValue(v);
  if (p !== undefined && p > 100) errs.push(invalid(path, goIntOrString(v), 'must not be greater than 100%'));
}

export { intOrPercentValue };

// ----------------------------------------------------------------- resources

const STANDARD_CONTAINER_RESOURCES = new Set(['cpu', 'memory', 'ephemeral-storage']);

function isHugePages(name: string): boolean {
  return name.startsWith('hugepages-');
}
function isNative(name: string): boolean {
  return !name.includes('/') || name.includes('kubernetes.io/');
}
function overcommitAllowed(name: string): boolean {
  return isNative(name) && !isHugePages(name);
}

function validateResourceName(name: string, path: string, errs: Causes): void {
  for (const m of isQualifiedName(name)) errs.push(invalidValue(path, name, m));
  if (!name.includes('/')) {
    if (!STANDARD_CONTAINER_RESOURCES.has(name) && !isHugePages(name)) {
      errs.push(invalidValue(path, name, 'must be a standard resource for containers'));
    }
  } else if (!isNative(name) && name.startsWith('requests.')) {
    errs.push(invalidValue(path, name, "doesn't follow extended resource name standard"));
  }
}

function validateQuantity(name: string, value: unknown, path: string, errs: Causes): number | undefined {
  const n = parseQuantity(value);
  if (n === undefined) {
    errs.push(invalidValue(path, quantityString(value), `quantities must match the regular expression '${QUANTITY_PATTERN}'`));
    return undefined;
  }
  if (n < 0) errs.push(invalidValue(path, quantityString(value), 'must be greater than or equal to 0'));
  else if (!overcommitAllowed(name) && !isHugePages(name) && !Number.isInteger(n)) errs.push(invalidValue(path, quantityString(value), 'must be an integer'));
  return n;
}

export function validateResourceRequirements(res: unknown, path: string, errs: Causes): void {
  if (!isObject(res)) return;
  const limPath = child(path, 'limits');
  const reqPath = child(path, 'requests');
  const limits = asObject(res.limits);
  const requests = asObject(res.requests);
  const limitValues: Record<string, number | undefined> = {};
  for (const [name, q] of Object.entries(limits)) {
    const p = key(limPath, name);
    validateResourceName(name, p, errs);
    limitValues[name] = validateQuantity(name, q, p, errs);
  }
  for (const [name, q] of Object.entries(requests)) {
    const p = key(reqPath, name);
    validateResourceName(name, p, errs);
    const n = validateQuantity(name, q, p, errs);
    if (name in limits) {
      const l = limitValues[name];
      if (n === undefined || l === undefined) continue;
      if (n !== l && !overcommitAllowed(name)) {
        errs.push(invalidValue(reqPath, quantityString(q), `must be equal to ${name} limit of ${quantityString(limits[name])}`));
      } else if (n > l) {
        errs.push(invalidValue(reqPath, quantityString(q), `must be less than or equal to ${name} limit of ${quantityString(limits[name])}`));
      }
    } else if (!overcommitAllowed(name)) {
      errs.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
  }
}

// ------------------------------------------------------------------ containers

const PORT_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const HTTP_SCHEMES = ['HTTP', 'HTTPS'];
const ENV_FIELD_PATHS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName', 'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs'];
const VOLUME_FIELD_PATHS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
const RESOURCE_FIELD_RESOURCES = ['limits.cpu', 'limits.ephemeral-storage', 'limits.memory', 'requests.cpu', 'requests.ephemeral-storage', 'requests.memory'];

export function validatePortNumOrName(port: unknown, path: string, errs: Causes): void {
  if (typeof port === 'string') {
    for (const m of isValidPortName(port)) errs.push(invalidValue(path, port, m));
  } else {
    for (const m of isValidPortNum(num(port))) errs.push(invalidValue(path, num(port), m));
  }
}

function validateContainerPorts(ports: unknown, path: string, errs: Causes): void {
  const names = new Set<string>();
  asArray(ports).forEach((p, i) => {
    const pp = index(path, i);
    const name = str(p?.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) for (const m of msgs) errs.push(invalidValue(child(pp, 'name'), name, m));
      else if (names.has(name)) errs.push(duplicate(child(pp, 'name'), name));
      else names.add(name);
    }
    if (!p?.containerPort) errs.push(required(child(pp, 'containerPort'), ''));
    else for (const m of isValidPortNum(num(p.containerPort))) errs.push(invalidValue(child(pp, 'containerPort'), num(p.containerPort), m));
    if (p?.hostPort) for (const m of isValidPortNum(num(p.hostPort))) errs.push(invalidValue(child(pp, 'hostPort'), num(p.hostPort), m));
    if (!p?.protocol) errs.push(required(child(pp, 'protocol'), ''));
    else if (!PORT_PROTOCOLS.includes(p.protocol)) errs.push(notSupported(child(pp, 'protocol'), str(p.protocol), PORT_PROTOCOLS));
  });
}

const RELAXED_ENV_NAME = "a valid environment variable name must consist only of printable ASCII characters other than '='";

function validateFieldRef(ref: KObject, allowed: string[], path: string, errs: Causes): void {
  if (!ref.apiVersion) errs.push(required(child(path, 'apiVersion'), ''));
  const fp = str(ref.fieldPath);
  if (!fp) {
    errs.push(required(child(path, 'fieldPath'), ''));
    return;
  }
  const subscript = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fp);
  if (subscript) {
    if (subscript[1] === 'labels') for (const m of isQualifiedName(subscript[2]!)) errs.push(invalidValue(child(path, 'fieldPath'), subscript[2]!, m));
    else for (const m of isQualifiedName(subscript[2]!.toLowerCase())) errs.push(invalidValue(child(path, 'fieldPath'), subscript[2]!, m));
    return;
  }
  if (!allowed.includes(fp)) errs.push(notSupported(child(path, 'fieldPath'), fp, allowed));
}

function validateResourceFieldRef(ref: KObject, path: string, errs: Causes, volume: boolean): void {
  if (volume && !ref.containerName) errs.push(required(child(path, 'containerName'), ''));
  const r = str(ref.resource);
  if (!r) errs.push(required(child(path, 'resource'), ''));
  else if (!RESOURCE_FIELD_RESOURCES.includes(r) && !/^(limits|requests)\.hugepages-/.test(r)) errs.push(notSupported(child(path, 'resource'), r, RESOURCE_FIELD_RESOURCES));
}

function validateKeySelector(sel: KObject, path: string, errs: Causes): void {
  for (const m of isDNS1123Subdomain(str(sel.name))) errs.push(invalidValue(child(path, 'name'), str(sel.name), m));
  if (!sel.key) errs.push(required(child(path, 'key'), ''));
  else for (const m of isConfigMapKey(str(sel.key))) errs.push(invalidValue(child(path, 'key'), str(sel.key), m));
}

export function validateEnv(env: unknown, path: string, errs: Causes): void {
  asArray(env).forEach((e, i) => {
    const p = index(path, i);
    const name = str(e?.name);
    if (!name) errs.push(required(child(p, 'name'), ''));
    // RelaxedEnvironmentVariableValidation (on by default since 1.32).
    // eslint-disable-next-line no-control-regex
    else if (/[^\x20-\x7e]|=/.test(name)) errs.push(invalidValue(child(p, 'name'), name, RELAXED_ENV_NAME));
    const vf = e?.valueFrom;
    if (!isObject(vf)) return;
    const vp = child(p, 'valueFrom');
    let sources = 0;
    if (isObject(vf.fieldRef)) {
      sources++;
      validateFieldRef(vf.fieldRef, ENV_FIELD_PATHS, child(vp, 'fieldRef'), errs);
    }
    if (isObject(vf.resourceFieldRef)) {
      sources++;
      validateResourceFieldRef(vf.resourceFieldRef, child(vp, 'resourceFieldRef'), errs, false);
    }
    if (isObject(vf.configMapKeyRef)) {
      sources++;
      validateKeySelector(vf.configMapKeyRef, child(vp, 'configMapKeyRef'), errs);
    }
    if (isObject(vf.secretKeyRef)) {
      sources++;
      validateKeySelector(vf.secretKeyRef, child(vp, 'secretKeyRef'), errs);
    }
    if (isObject(vf.fileKeyRef)) sources++;
    if (sources === 0) errs.push(invalidValue(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
    else if (str(e?.value) !== '') errs.push(invalidValue(vp, '', 'may not be specified when `value` is not empty'));
    else if (sources > 1) errs.push(invalidValue(vp, '', 'may not have more than one field specified at a time'));
  });
}

function validateEnvFrom(envFrom: unknown, path: string, errs: Causes): void {
  asArray(envFrom).forEach((e, i) => {
    const p = index(path, i);
    if (e?.prefix) {
      // eslint-disable-next-line no-control-regex
      if (/[^\x20-\x7e]|=/.test(str(e.prefix))) errs.push(invalidValue(child(p, 'prefix'), str(e.prefix), RELAXED_ENV_NAME));
    }
    let n = 0;
    if (isObject(e?.configMapRef)) {
      n++;
      for (const m of isDNS1123Subdomain(str(e.configMapRef.name))) errs.push(invalidValue(child(child(p, 'configMapRef'), 'name'), str(e.configMapRef.name), m));
    }
    if (isObject(e?.secretRef)) {
      n++;
      for (const m of isDNS1123Subdomain(str(e.secretRef.name))) errs.push(invalidValue(child(child(p, 'secretRef'), 'name'), str(e.secretRef.name), m));
    }
    if (n === 0) errs.push(invalidValue(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) errs.push(invalidValue(p, '', 'may not have more than one field specified at a time'));
  });
}

function validateVolumeMounts(mounts: unknown, volumes: Set<string>, path: string, errs: Causes): void {
  const mountPoints = new Set<string>();
  asArray(mounts).forEach((m, i) => {
    const p = index(path, i);
    const name = str(m?.name);
    if (!name) errs.push(required(child(p, 'name'), ''));
    if (!volumes.has(name)) errs.push(notFound(child(p, 'name'), name));
    const mp = str(m?.mountPath);
    if (!mp) errs.push(required(child(p, 'mountPath'), ''));
    if (mountPoints.has(mp)) errs.push(invalidValue(child(p, 'mountPath'), mp, 'must be unique'));
    mountPoints.add(mp);
    const sub = str(m?.subPath);
    if (sub) {
      if (sub.startsWith('/')) errs.push(invalidValue(child(p, 'subPath'), sub, 'must be a relative path'));
      if (sub.split('/').includes('..')) errs.push(invalidValue(child(p, 'subPath'), sub, "must not contain '..'"));
    }
    if (isSet(m?.mountPropagation) && !['None', 'HostToContainer', 'Bidirectional'].includes(m.mountPropagation)) {
      errs.push(notSupported(child(p, 'mountPropagation'), str(m.mountPropagation), ['Bidirectional', 'HostToContainer', 'None']));
    }
  });
}

function validateHandler(h: KObject, path: string, errs: Causes, allowSleep: boolean): void {
  let n = 0;
  const one = (k: string): boolean => {
    if (!isObject(h[k])) return false;
    if (n > 0) {
      errs.push(forbidden(child(path, k), 'may not specify more than 1 handler type'));
      return false;
    }
    n++;
    return true;
  };
  if (one('exec') && asArray(h.exec.command).length === 0) errs.push(required(child(child(path, 'exec'), 'command'), ''));
  if (one('httpGet')) {
    const hp = child(path, 'httpGet');
    if (!h.httpGet.path) errs.push(required(child(hp, 'path'), ''));
    validatePortNumOrName(h.httpGet.port, child(hp, 'port'), errs);
    if (h.httpGet.scheme && !HTTP_SCHEMES.includes(h.httpGet.scheme)) errs.push(notSupported(child(hp, 'scheme'), str(h.httpGet.scheme), HTTP_SCHEMES));
    asArray(h.httpGet.httpHeaders).forEach((hh, i) => {
      if (!hh?.name) errs.push(required(child(index(child(hp, 'httpHeaders'), i), 'name'), ''));
    });
  }
  if (one('tcpSocket')) validatePortNumOrName(h.tcpSocket.port, child(child(path, 'tcpSocket'), 'port'), errs);
  if (one('grpc')) {
    for (const m of isValidPortNum(num(h.grpc.port))) errs.push(invalidValue(child(child(path, 'grpc'), 'port'), num(h.grpc.port), m));
  }
  if (allowSleep && one('sleep')) {
    const s = num(h.sleep.seconds);
    if (s < 0) errs.push(invalidValue(child(child(path, 'sleep'), 'seconds'), s, 'must be non-negative'));
  }
  if (n === 0) errs.push(required(path, 'must specify a handler type'));
}

function validateProbe(probe: unknown, path: string, errs: Causes, kind: 'liveness' | 'readiness' | 'startup'): void {
  if (!isObject(probe)) return;
  validateHandler(probe, path, errs, false);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    validateNonnegative(probe[f], child(path, f), errs);
  }
  if (isSet(probe.terminationGracePeriodSeconds) && num(probe.terminationGracePeriodSeconds) <= 0) {
    errs.push(invalidValue(child(path, 'terminationGracePeriodSeconds'), num(probe.terminationGracePeriodSeconds), 'must be greater than 0'));
  }
  if (kind !== 'readiness' && isSet(probe.successThreshold) && num(probe.successThreshold) !== 1) {
    errs.push(invalidValue(child(path, 'successThreshold'), num(probe.successThreshold), 'must be 1'));
  }
  if (kind === 'readiness' && isSet(probe.terminationGracePeriodSeconds)) {
    errs.push(invalidValue(child(path, 'terminationGracePeriodSeconds'), num(probe.terminationGracePeriodSeconds), 'must not be set for readinessProbes'));
  }
}

function validateContainerCommon(c: KObject, volumes: Set<string>, path: string, errs: Causes): void {
  const name = str(c.name);
  if (!name) errs.push(required(child(path, 'name'), ''));
  else validateDNS1123Label(name, child(path, 'name'), errs);
  if (!c.image) errs.push(required(child(path, 'image'), ''));
  validateContainerPorts(c.ports, child(path, 'ports'), errs);
  validateEnv(c.env, child(path, 'env'), errs);
  validateEnvFrom(c.envFrom, child(path, 'envFrom'), errs);
  validateVolumeMounts(c.volumeMounts, volumes, child(path, 'volumeMounts'), errs);
  if (!c.imagePullPolicy) errs.push(required(child(path, 'imagePullPolicy'), ''));
  else if (!PULL_POLICIES.includes(c.imagePullPolicy)) errs.push(notSupported(child(path, 'imagePullPolicy'), str(c.imagePullPolicy), PULL_POLICIES));
  validateResourceRequirements(c.resources, child(path, 'resources'), errs);
  switch (c.terminationMessagePolicy) {
    case 'File':
    case 'FallbackToLogsOnError':
      break;
    case undefined:
    case '':
      errs.push(required(child(path, 'terminationMessagePolicy'), "must be 'File' or 'FallbackToLogsOnError'"));
      break;
    default:
      errs.push(invalidValue(child(path, 'terminationMessagePolicy'), str(c.terminationMessagePolicy), "must be 'File' or 'FallbackToLogsOnError'"));
  }
  if (isObject(c.lifecycle)) {
    if (isObject(c.lifecycle.postStart)) validateHandler(c.lifecycle.postStart, child(child(path, 'lifecycle'), 'postStart'), errs, true);
    if (isObject(c.lifecycle.preStop)) validateHandler(c.lifecycle.preStop, child(child(path, 'lifecycle'), 'preStop'), errs, true);
  }
  if (isObject(c.securityContext)) {
    const sc = c.securityContext;
    const sp = child(path, 'securityContext');
    for (const f of ['runAsUser', 'runAsGroup']) {
      if (isSet(sc[f]) && (num(sc[f]) < 0 || num(sc[f]) > 2147483647)) errs.push(invalidValue(child(sp, f), num(sc[f]), 'must be between 0 and 2147483647, inclusive'));
    }
    if (sc.allowPrivilegeEscalation === false && sc.privileged === true) {
      errs.push(invalid(sp, new GoValue('core.SecurityContext{...}'), 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
    }
  }
  if (c.stdinOnce && !c.stdin) errs.push(invalidValue(child(path, 'stdinOnce'), true, 'stdin must be true if stdinOnce is true'));
}

function checkHostPortConflicts(containers: KObject[], path: string, errs: Causes): void {
  const seen = new Set<string>();
  containers.forEach((c, ci) => {
    asArray(c?.ports).forEach((p, pi) => {
      if (!p?.hostPort) return;
      const k = `${str(p.hostIP)}/${p.hostPort}/${str(p.protocol)}`;
      if (seen.has(k)) errs.push(duplicate(child(index(child(index(path, ci), 'ports'), pi), 'hostPort'), `${p.hostIP ? `${p.hostIP}/` : ''}${p.hostPort}/${str(p.protocol)}`));
      seen.add(k);
    });
  });
}

function validateContainers(containers: unknown, volumes: Set<string>, path: string, errs: Causes): Set<string> {
  const list = asArray(containers);
  const names = new Set<string>();
  if (list.length === 0) errs.push(required(path, ''));
  list.forEach((c, i) => {
    const p = index(path, i);
    if (!isObject(c)) return;
    validateContainerCommon(c, volumes, p, errs);
    const name = str(c.name);
    if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
    else names.add(name);
    validateProbe(c.livenessProbe, child(p, 'livenessProbe'), errs, 'liveness');
    validateProbe(c.readinessProbe, child(p, 'readinessProbe'), errs, 'readiness');
    validateProbe(c.startupProbe, child(p, 'startupProbe'), errs, 'startup');
    if (isSet(c.restartPolicy)) errs.push(forbidden(child(p, 'restartPolicy'), 'may not be set for non-init containers'));
  });
  checkHostPortConflicts(list, path, errs);
  return names;
}

function validateInitContainers(containers: unknown, otherNames: Set<string>, volumes: Set<string>, path: string, errs: Causes): void {
  const names = new Set(otherNames);
  asArray(containers).forEach((c, i) => {
    const p = index(path, i);
    if (!isObject(c)) return;
    validateContainerCommon(c, volumes, p, errs);
    const name = str(c.name);
    if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
    else names.add(name);
    if (isSet(c.restartPolicy) && c.restartPolicy !== 'Always') {
      errs.push(notSupported(child(p, 'restartPolicy'), str(c.restartPolicy), ['Always']));
    }
    if (c.restartPolicy === 'Always') {
      validateProbe(c.livenessProbe, child(p, 'livenessProbe'), errs, 'liveness');
      validateProbe(c.readinessProbe, child(p, 'readinessProbe'), errs, 'readiness');
      validateProbe(c.startupProbe, child(p, 'startupProbe'), errs, 'startup');
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (isSet(c[f])) errs.push(forbidden(child(p, f), 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  checkHostPortConflicts(asArray(containers), path, errs);
}

// --------------------------------------------------------------------- volumes

const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];

function validateMode(mode: unknown, path: string, errs: Causes): void {
  if (isSet(mode) && (num(mode) > 0o777 || num(mode) < 0)) errs.push(invalidValue(path, num(mode), 'must be a number between 0 and 0777 (octal), both inclusive'));
}

function validateKeyToPaths(items: unknown, path: string, errs: Causes): void {
  asArray(items).forEach((it, i) => {
    const p = index(path, i);
    if (!it?.key) errs.push(required(child(p, 'key'), ''));
    validateLocalNonReservedPath(str(it?.path), child(p, 'path'), errs);
    validateMode(it?.mode, child(p, 'mode'), errs);
  });
}

function validateLocalNonReservedPath(v: string, path: string, errs: Causes): void {
  if (!v) {
    errs.push(required(path, ''));
    return;
  }
  if (v.startsWith('/')) errs.push(invalidValue(path, v, 'must be a relative path'));
  if (v.split('/').includes('..')) errs.push(invalidValue(path, v, "must not contain '..'"));
  if (v.startsWith('..')) errs.push(invalidValue(path, v, "must not start with '..'"));
}

function validateVolumeSource(v: KObject, path: string, errs: Causes): void {
  let n = 0;
  for (const k of volumeSourceKeys()) {
    if (!isSet(v[k])) continue;
    if (n > 0) {
      errs.push(forbidden(child(path, k), 'may not specify more than 1 volume type'));
      continue;
    }
    n++;
    const s = asObject(v[k]);
    const sp = child(path, k);
    switch (k) {
      case 'hostPath':
        if (!s.path) errs.push(required(child(sp, 'path'), ''));
        if (isSet(s.type) && !HOST_PATH_TYPES.includes(s.type)) errs.push(notSupported(child(sp, 'type'), str(s.type), HOST_PATH_TYPES));
        break;
      case 'emptyDir':
        if (isSet(s.sizeLimit)) {
          const q = parseQuantity(s.sizeLimit);
          if (q === undefined || q < 0) errs.push(forbidden(child(sp, 'sizeLimit'), 'SizeLimit field must be a valid resource quantity'));
        }
        if (isSet(s.medium) && !['', 'Memory', 'HugePages'].includes(s.medium) && !str(s.medium).startsWith('HugePages-')) {
          errs.push(notSupported(child(sp, 'medium'), str(s.medium), ['', 'HugePages', 'Memory']));
        }
        break;
      case 'secret':
        if (!s.secretName) errs.push(required(child(sp, 'secretName'), ''));
        validateMode(s.defaultMode, child(sp, 'defaultMode'), errs);
        validateKeyToPaths(s.items, child(sp, 'items'), errs);
        break;
      case 'configMap':
        if (!s.name) errs.push(required(child(sp, 'name'), ''));
        validateMode(s.defaultMode, child(sp, 'defaultMode'), errs);
        validateKeyToPaths(s.items, child(sp, 'items'), errs);
        break;
      case 'persistentVolumeClaim':
        if (!s.claimName) errs.push(required(child(sp, 'claimName'), ''));
        break;
      case 'downwardAPI':
        validateMode(s.defaultMode, child(sp, 'defaultMode'), errs);
        validateDownwardAPIItems(s.items, child(sp, 'items'), errs);
        break;
      case 'projected':
        validateMode(s.defaultMode, child(sp, 'defaultMode'), errs);
        asArray(s.sources).forEach((src, i) => {
          const pp = index(child(sp, 'sources'), i);
          const kinds = ['secret', 'configMap', 'downwardAPI', 'serviceAccountToken', 'clusterTrustBundle', 'podCertificate'].filter((x) => isSet(src?.[x]));
          if (kinds.length === 0) errs.push(required(pp, 'must specify exactly 1 of: `secret`, `configMap`, `downwardAPI`, `serviceAccountToken`, `clusterTrustBundle`'));
          for (const extra of kinds.slice(1)) errs.push(forbidden(child(pp, extra), 'may not specify more than 1 volume type per source'));
          if (isObject(src?.serviceAccountToken)) {
            const t = src.serviceAccountToken;
            if (isSet(t.expirationSeconds) && num(t.expirationSeconds) < 600) errs.push(invalidValue(child(child(pp, 'serviceAccountToken'), 'expirationSeconds'), num(t.expirationSeconds), 'may not specify a duration less than 10 minutes'));
            if (!t.path) errs.push(required(child(child(pp, 'serviceAccountToken'), 'path'), ''));
          }
          if (isObject(src?.secret)) validateKeyToPaths(src.secret.items, child(child(pp, 'secret'), 'items'), errs);
          if (isObject(src?.configMap)) validateKeyToPaths(src.configMap.items, child(child(pp, 'configMap'), 'items'), errs);
          if (isObject(src?.downwardAPI)) validateDownwardAPIItems(src.downwardAPI.items, child(child(pp, 'downwardAPI'), 'items'), errs);
        });
        break;
      case 'nfs':
        if (!s.server) errs.push(required(child(sp, 'server'), ''));
        if (!s.path) errs.push(required(child(sp, 'path'), ''));
        else if (!str(s.path).startsWith('/')) errs.push(invalidValue(child(sp, 'path'), str(s.path), 'must be an absolute path'));
        break;
      case 'csi':
        if (!s.driver) errs.push(required(child(sp, 'driver'), ''));
        break;
      default:
        break;
    }
  }
  if (n === 0) errs.push(required(path, 'must specify a volume type'));
}

function validateDownwardAPIItems(items: unknown, path: string, errs: Causes): void {
  asArray(items).forEach((it, i) => {
    const p = index(path, i);
    validateLocalNonReservedPath(str(it?.path), child(p, 'path'), errs);
    validateMode(it?.mode, child(p, 'mode'), errs);
    if (isObject(it?.fieldRef)) {
      validateFieldRef(it.fieldRef, VOLUME_FIELD_PATHS, child(p, 'fieldRef'), errs);
      if (isObject(it.resourceFieldRef)) errs.push(invalidValue(p, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
    } else if (isObject(it?.resourceFieldRef)) {
      validateResourceFieldRef(it.resourceFieldRef, child(p, 'resourceFieldRef'), errs, true);
    } else {
      errs.push(required(p, 'one of fieldRef and resourceFieldRef is required'));
    }
  });
}

function validateVolumes(volumes: unknown, path: string, errs: Causes): Set<string> {
  const names = new Set<string>();
  asArray(volumes).forEach((v, i) => {
    const p = index(path, i);
    if (!isObject(v)) return;
    validateVolumeSource(v, p, errs);
    const name = str(v.name);
    if (!name) errs.push(required(child(p, 'name'), ''));
    else validateDNS1123Label(name, child(p, 'name'), errs);
    if (names.has(name)) errs.push(duplicate(child(p, 'name'), name));
    else names.add(name);
  });
  return names;
}

// ------------------------------------------------------------------- pod spec

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function validateTaintEffect(effect: unknown, allowEmpty: boolean, path: string, errs: Causes): void {
  const e = str(effect);
  if (!e) {
    if (!allowEmpty) errs.push(required(path, ''));
    return;
  }
  if (!TAINT_EFFECTS.includes(e)) errs.push(notSupported(path, e, TAINT_EFFECTS));
}

function goToleration(t: KObject): GoValue {
  const secs = isSet(t.tolerationSeconds) ? `(*int64)(${num(t.tolerationSeconds)})` : '(*int64)(nil)';
  return new GoValue(
    `core.Toleration{Key:${JSON.stringify(str(t.key))}, Operator:${JSON.stringify(str(t.operator))}, Value:${JSON.stringify(str(t.value))}, Effect:${JSON.stringify(str(t.effect))}, TolerationSeconds:${secs}}`,
  );
}

export function validateTolerations(tolerations: unknown, path: string, errs: Causes): void {
  asArray(tolerations).forEach((t, i) => {
    const p = index(path, i);
    if (!isObject(t)) return;
    const k = str(t.key);
    if (k) validateLabelName(k, child(p, 'key'), errs);
    if (!k && t.operator !== 'Exists') {
      errs.push(invalidValue(child(p, 'operator'), str(t.operator), 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (isSet(t.tolerationSeconds) && t.effect !== 'NoExecute') {
      errs.push(invalidValue(child(p, 'effect'), str(t.effect), "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    switch (t.operator ?? '') {
      case 'Equal':
      case '': {
        const msgs = isValidLabelValue(str(t.value));
        if (msgs.length) errs.push(invalidValue(child(p, 'operator'), str(t.value), msgs.join(';')));
        break;
      }
      case 'Exists':
        if (str(t.value)) errs.push(invalid(child(p, 'operator'), goToleration(t), "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(notSupported(child(p, 'operator'), str(t.operator), ['Equal', 'Exists']));
    }
    if (t.effect) validateTaintEffect(t.effect, true, child(p, 'effect'), errs);
  });
}

export interface PodSpecOptions {
  /** A pod template (Deployment, ReplicaSet, DaemonSet): ephemeral containers are forbidden. */
  template?: boolean;
}

export function validatePodSpec(spec: unknown, path: string, errs: Causes, opts: PodSpecOptions = {}): void {
  if (!isObject(spec)) {
    errs.push(required(child(path, 'containers'), ''));
    return;
  }
  const volumes = validateVolumes(spec.volumes, child(path, 'volumes'), errs);
  const names = validateContainers(spec.containers, volumes, child(path, 'containers'), errs);
  validateInitContainers(spec.initContainers, names, volumes, child(path, 'initContainers'), errs);
  if (opts.template && asArray(spec.ephemeralContainers).length > 0) {
    errs.push(forbidden(child(path, 'ephemeralContainers'), 'ephemeral containers not allowed in pod template'));
  }

  if (spec.hostNetwork === true) {
    asArray(spec.containers).forEach((c, i) => {
      asArray(c?.ports).forEach((p, j) => {
        // Pods get hostPort defaulted to containerPort; templates may leave it unset.
        if (p?.hostPort && num(p.hostPort) !== num(p.containerPort)) {
          errs.push(invalidValue(child(index(child(index(child(path, 'containers'), i), 'ports'), j), 'hostPort'), num(p.hostPort), 'must match `containerPort` when `hostNetwork` is true'));
        }
      });
    });
  }

  const rp = str(spec.restartPolicy);
  if (!rp) errs.push(required(child(path, 'restartPolicy'), ''));
  else if (!RESTART_POLICIES.includes(rp)) errs.push(notSupported(child(path, 'restartPolicy'), rp, RESTART_POLICIES));

  const dp = str(spec.dnsPolicy);
  if (!dp) errs.push(required(child(path, 'dnsPolicy'), ''));
  else if (!DNS_POLICIES.includes(dp)) errs.push(notSupported(child(path, 'dnsPolicy'), dp, DNS_POLICIES));
  if (dp === 'None' && (!isObject(spec.dnsConfig) || asArray(spec.dnsConfig.nameservers).length === 0)) {
    errs.push(required(child(child(path, 'dnsConfig'), 'nameservers'), 'must provide at least one DNS nameserver when dnsPolicy is None'));
  }

  validateLabels(spec.nodeSelector, child(path, 'nodeSelector'), errs);

  asArray(spec.imagePullSecrets).forEach((s, i) => {
    if (!s?.name) errs.push(required(child(index(child(path, 'imagePullSecrets'), i), 'name'), ''));
  });

  asArray(spec.readinessGates).forEach((g, i) => {
    for (const m of isQualifiedName(str(g?.conditionType))) errs.push(invalidValue(child(index(child(path, 'readinessGates'), i), 'conditionType'), str(g?.conditionType), m));
  });

  asArray(spec.topologySpreadConstraints).forEach((c, i) => {
    const p = index(child(path, 'topologySpreadConstraints'), i);
    if (!(num(c?.maxSkew) > 0)) errs.push(invalidValue(child(p, 'maxSkew'), num(c?.maxSkew), 'must be greater than zero'));
    if (!c?.topologyKey) errs.push(required(child(p, 'topologyKey'), 'can not be empty'));
    else validateLabelName(str(c.topologyKey), child(p, 'topologyKey'), errs);
    if (!['DoNotSchedule', 'ScheduleAnyway'].includes(c?.whenUnsatisfiable)) {
      errs.push(notSupported(child(p, 'whenUnsatisfiable'), str(c?.whenUnsatisfiable), ['DoNotSchedule', 'ScheduleAnyway']));
    }
    validateLabelSelector(c?.labelSelector, child(p, 'labelSelector'), errs);
  });

  if (spec.serviceAccountName) {
    for (const m of isDNS1123Subdomain(str(spec.serviceAccountName))) errs.push(invalidValue(child(path, 'serviceAccountName'), str(spec.serviceAccountName), m));
  }
  if (spec.nodeName) {
    for (const m of isDNS1123Subdomain(str(spec.nodeName))) errs.push(invalidValue(child(path, 'nodeName'), str(spec.nodeName), m));
  }
  if (isSet(spec.activeDeadlineSeconds)) {
    const v = num(spec.activeDeadlineSeconds);
    if (v < 1 || v > 2147483647) errs.push(invalidValue(child(path, 'activeDeadlineSeconds'), v, 'must be between 1 and 2147483647, inclusive'));
  }
  if (spec.hostname) validateDNS1123Label(str(spec.hostname), child(path, 'hostname'), errs);
  if (spec.subdomain) validateDNS1123Label(str(spec.subdomain), child(path, 'subdomain'), errs);
  validateTolerations(spec.tolerations, child(path, 'tolerations'), errs);
  asArray(spec.hostAliases).forEach((h, i) => {
    const p = index(child(path, 'hostAliases'), i);
    for (const m of isValidIP(str(h?.ip))) errs.push(invalidValue(child(p, 'ip'), str(h?.ip), m));
    asArray<string>(h?.hostnames).forEach((hn, j) => {
      for (const m of isDNS1123Subdomain(str(hn))) errs.push(invalidValue(index(child(p, 'hostnames'), j), str(hn), m));
    });
  });
  if (spec.priorityClassName) {
    for (const m of isDNS1123Subdomain(str(spec.priorityClassName))) errs.push(invalidValue(child(path, 'priorityClassName'), str(spec.priorityClassName), m));
  }
  if (isSet(spec.preemptionPolicy) && !['Never', 'PreemptLowerPriority'].includes(spec.preemptionPolicy)) {
    errs.push(notSupported(child(path, 'preemptionPolicy'), str(spec.preemptionPolicy), ['Never', 'PreemptLowerPriority']));
  }
  if (isObject(spec.os) && !['linux', 'windows'].includes(spec.os.name)) {
    errs.push(notSupported(child(child(path, 'os'), 'name'), str(spec.os.name), ['linux', 'windows']));
  }
  if (isObject(spec.securityContext)) {
    const sc = spec.securityContext;
    const sp = child(path, 'securityContext');
    for (const f of ['runAsUser', 'runAsGroup', 'fsGroup']) {
      if (isSet(sc[f]) && (num(sc[f]) < 0 || num(sc[f]) > 2147483647)) errs.push(invalidValue(child(sp, f), num(sc[f]), 'must be between 0 and 2147483647, inclusive'));
    }
    if (isSet(sc.fsGroupChangePolicy) && !['OnRootMismatch', 'Always'].includes(sc.fsGroupChangePolicy)) {
      errs.push(notSupported(child(sp, 'fsGroupChangePolicy'), str(sc.fsGroupChangePolicy), ['OnRootMismatch', 'Always']));
    }
  }
  if (isSet(spec.terminationGracePeriodSeconds) && !Number.isInteger(num(spec.terminationGracePeriodSeconds))) {
    errs.push(invalidValue(child(path, 'terminationGracePeriodSeconds'), spec.terminationGracePeriodSeconds, 'must be an integer'));
  }
}

/** ValidatePodTemplateSpec: template labels/annotations and the pod spec. */
export function validatePodTemplateSpec(tpl: unknown, path: string, errs: Causes): void {
  if (!isObject(tpl)) {
    errs.push(required(path, ''));
    return;
  }
  const meta = asObject(tpl.metadata);
  validateLabels(meta.labels, child(child(path, 'metadata'), 'labels'), errs);
  validateAnnotations(meta.annotations, child(child(path, 'metadata'), 'annotations'), errs);
  validatePodSpec(tpl.spec, child(path, 'spec'), errs, { template: true });
}

/** ValidatePodTemplateSpecForReplicaSet (ReplicaSet, Deployment). */
export function validateTemplateForReplicaSet(tpl: unknown, selector: unknown, path: string, errs: Causes): void {
  if (!isObject(tpl)) {
    errs.push(required(path, ''));
    return;
  }
  const labels = asObject(tpl.metadata).labels;
  if (isObject(selector) && !selectorIsEmpty(selector) && !selectorMatches(selector, labels)) {
    errs.push(invalid(child(child(path, 'metadata'), 'labels'), goStringMap(labels), '`selector` does not match template `labels`'));
  }
  validatePodTemplateSpec(tpl, path, errs);
  const spec = asObject(tpl.spec);
  if (spec.restartPolicy !== 'Always') errs.push(notSupported(child(child(path, 'spec'), 'restartPolicy'), str(spec.restartPolicy), ['Always']));
  if (isSet(spec.activeDeadlineSeconds)) errs.push(forbidden(child(child(path, 'spec'), 'activeDeadlineSeconds'), 'activeDeadlineSeconds in ReplicaSet is not Supported'));
}

export function immutableSelector(obj: KObject, old: KObject | undefined, errs: Causes): void {
  if (!old) return;
  if (!semanticEqual(obj.spec?.selector, old.spec?.selector)) {
    errs.push(invalid('spec.selector', goLabelSelector(obj.spec?.selector), 'field is immutable'));
  }
}


// The kubeadm init configuration file (kubeadm.k8s.io/v1beta3 and v1beta4):
// a multi-document YAML with InitConfiguration and ClusterConfiguration.
//
// Decoding is strict like kubeadm's: an unknown kind, an unknown field or a
// value of the wrong type is an error naming the document and the field.
// Fields kubeadm knows but `kubets init` has no use for (image settings,
// taints, extraVolumes, ...) are accepted and reported as warnings, so an existing
// kubeadm file works unchanged.
import os from 'node:os';
import { parseKeyAlgorithm, parseIP, type KeyAlgorithm } from '@kubets/pki';
import YAML from 'yaml';
import { cidrsOverlap, hostBits, ipFamily, nthAddress, parseCidr, type Cidr } from './net';
import { BOOTSTRAP_GROUP_PATTERN, BOOTSTRAP_TOKEN_PATTERN, DEFAULT_BOOTSTRAP_GROUP } from './tokens';

export const KUBEADM_V1BETA3 = 'kubeadm.k8s.io/v1beta3';
export const KUBEADM_V1BETA4 = 'kubeadm.k8s.io/v1beta4';
const KUBEADM_VERSIONS = [KUBEADM_V1BETA3, KUBEADM_V1BETA4];

export const DEFAULTS = {
  bindPort: 6443,
  serviceSubnet: '10.96.0.0/12',
  dnsDomain: 'cluster.local',
  clusterName: 'kubernetes',
  /** kubets default (kubeadm's is RSA-2048). */
  encryptionAlgorithm: 'ecdsa-p256' as KeyAlgorithm,
  certificateValidityDays: 365,
  caCertificateValidityDays: 3650,
  etcdDataDir: '/var/lib/etcd',
  bootstrapTokenTTL: '24h0m0s',
} as const;

/** A bad configuration: the message names the file, document and field. */
export class InitConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitConfigError';
  }
}

export interface BootstrapToken {
  token: string;
  /** The 6-character token id (the user is system:bootstrap:<id>). */
  id: string;
  description?: string;
  /** As written (Go duration); informational, the static token file cannot expire tokens. */
  ttl?: string;
  usages: string[];
  /** Extra groups besides system:bootstrappers. */
  groups: string[];
}

export interface HostPort {
  host: string;
  port: number;
  /** host:port, with an IPv6 host in brackets. */
  text: string;
}

/** The resolved configuration `kubets init` works from (defaults applied, validated). */
export interface InitConfiguration {
  /** Where it came from: a file path, "flags" or "text". */
  source: string;
  apiVersion: string;
  clusterName: string;
  kubernetesVersion?: string;
  nodeName: string;
  advertiseAddress: string;
  bindPort: number;
  controlPlaneEndpoint: HostPort;
  serviceSubnet: string;
  serviceSubnets: Cidr[];
  podSubnet?: string;
  podSubnets: Cidr[];
  dnsDomain: string;
  /** The first address of the primary service subnet: the kubernetes Service's ClusterIP. */
  kubernetesServiceIP: string;
  /** The tenth address of the primary service subnet (kubeadm's cluster DNS IP). */
  clusterDNSIP: string;
  certSANs: string[];
  etcd: { external: { endpoints: string[]; caFile?: string; certFile?: string; keyFile?: string } } | { local: { dataDir: string } };
  bootstrapTokens: BootstrapToken[];
  encryptionAlgorithm: KeyAlgorithm;
  certificateValidityDays: number;
  caCertificateValidityDays: number;
  /** kubeadm's extraArgs per component: flags added to (or replacing) the ones its static pod gets. */
  extraArgs: ExtraArgs;
  /** Accepted but unused fields and documents, for the user to see. */
  warnings: string[];
}

/** One extra flag: `--name=value` (kubeadm's Arg). */
export interface ExtraArg {
  name: string;
  value: string;
}

/** The components whose static pods take kubeadm's extraArgs. */
export const EXTRA_ARGS_COMPONENTS = ['apiServer', 'controllerManager', 'scheduler', 'etcd'] as const;
export type ExtraArgs = Record<(typeof EXTRA_ARGS_COMPONENTS)[number], ExtraArg[]>;

// ---------------------------------------------------------------------------
// Schema: the fields of each kind, as kubeadm's Go types declare them.

type Leaf = 'string' | 'int' | 'bool' | 'strings' | 'duration' | 'extraArgs' | 'any';
interface FieldSpec {
  type: Leaf | 'object' | 'objects';
  fields?: Record<string, FieldSpec>;
  /** Accepted for compatibility, not used: reported as a warning when set. */
  ignored?: boolean;
  /** Only in this apiVersion. */
  only?: string;
}

const leaf = (type: Leaf, extra: Partial<FieldSpec> = {}): FieldSpec => ({ type, ...extra });
const ignored = (extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: 'any', ignored: true, ...extra });
const obj = (fields: Record<string, FieldSpec>, extra: Partial<FieldSpec> = {}): FieldSpec => ({ type: 'object', fields, ...extra });
const v4only = { only: KUBEADM_V1BETA4 };
const v3only = { only: KUBEADM_V1BETA3 };

const META = { apiVersion: leaf('string'), kind: leaf('string') };

const controlPlaneComponent = obj({ extraArgs: leaf('extraArgs'), extraVolumes: ignored(), extraEnvs: ignored(v4only) });

const INIT_SCHEMA: Record<string, FieldSpec> = {
  ...META,
  bootstrapTokens: {
    type: 'objects',
    fields: {
      token: leaf('string'),
      description: leaf('string'),
      ttl: leaf('duration'),
      expires: ignored(),
      usages: leaf('strings'),
      groups: leaf('strings'),
    },
  },
  nodeRegistration: obj({
    name: leaf('string'),
    criSocket: ignored(),
    taints: ignored(),
    kubeletExtraArgs: ignored(),
    ignorePreflightErrors: ignored(),
    imagePullPolicy: ignored(),
    imagePullSerial: ignored(v4only),
  }),
  localAPIEndpoint: obj({ advertiseAddress: leaf('string'), bindPort: leaf('int') }),
  certificateKey: ignored(),
  skipPhases: ignored(),
  patches: ignored(),
  dryRun: ignored(v4only),
  timeouts: ignored(v4only),
};

const CLUSTER_SCHEMA: Record<string, FieldSpec> = {
  ...META,
  etcd: obj({
    local: obj({
      imageRepository: ignored(),
      imageTag: ignored(),
      dataDir: leaf('string'),
      extraArgs: leaf('extraArgs'),
      extraEnvs: ignored(v4only),
      serverCertSANs: ignored(),
      peerCertSANs: ignored(),
    }),
    external: obj({ endpoints: leaf('strings'), caFile: leaf('string'), certFile: leaf('string'), keyFile: leaf('string') }),
  }),
  networking: obj({ serviceSubnet: leaf('string'), podSubnet: leaf('string'), dnsDomain: leaf('string') }),
  kubernetesVersion: leaf('string'),
  controlPlaneEndpoint: leaf('string'),
  apiServer: obj({
    certSANs: leaf('strings'),
    extraArgs: leaf('extraArgs'),
    extraVolumes: ignored(),
    extraEnvs: ignored(v4only),
    timeoutForControlPlane: ignored(v3only),
  }),
  controllerManager: controlPlaneComponent,
  scheduler: controlPlaneComponent,
  dns: obj({ imageRepository: ignored(), imageTag: ignored(), disabled: ignored(v4only) }),
  proxy: obj({ disabled: ignored() }, v4only),
  certificatesDir: ignored(),
  imageRepository: ignored(),
  featureGates: ignored(),
  clusterName: leaf('string'),
  encryptionAlgorithm: leaf('string', v4only),
  certificateValidityPeriod: leaf('duration', v4only),
  caCertificateValidityPeriod: leaf('duration', v4only),
};

/** Documents kubeadm accepts in the same file that `kubets init` skips (with a warning). */
const SKIPPED_KINDS: Record<string, string> = {
  KubeletConfiguration: 'the kubelet reads its own configuration',
  KubeProxyConfiguration: 'kube-proxy reads its own configuration',
  JoinConfiguration: 'it is for `kubets join`',
  ResetConfiguration: 'it is for `kubets reset`',
  UpgradeConfiguration: 'it is for `kubets upgrade`',
};

// ---------------------------------------------------------------------------

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function suggestion(name: string, known: string[]): string {
  const best = known.map((k) => ({ k, d: levenshtein(name, k) })).sort((x, y) => x.d - y.d)[0];
  if (best && best.d <= Math.max(2, Math.floor(name.length / 4))) return ` (did you mean "${best.k}"?)`;
  const lower = name.toLowerCase();
  const prefix = lower.length >= 4 ? known.find((k) => k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())) : undefined;
  return prefix ? ` (did you mean "${prefix}"?)` : '';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

/** Go duration ("24h0m0s", "90m", "1.5h") in milliseconds. */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * units[m[2]!]!;
    pos = re.lastIndex;
  }
  if (trimmed === '' || pos !== trimmed.length) throw new Error(`"${text}" is not a duration (want e.g. 24h0m0s, 90m, 8760h)`);
  return total;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

interface Doc {
  kind: string;
  apiVersion: string;
  where: string;
  value: Record<string, unknown>;
}

class Checker {
  readonly warnings: string[] = [];
  constructor(private readonly doc: Doc) {}

  fail(path: string, message: string): never {
    throw new InitConfigError(`${this.doc.where}: ${path ? `${path}: ` : ''}${message}`);
  }

  /** Check `value` against `fields` (recursively); returns it typed loosely. */
  check(value: unknown, fields: Record<string, FieldSpec>, path: string): Record<string, unknown> {
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(path, `expected a mapping, found ${typeName(value)}`);
    const record = value as Record<string, unknown>;
    for (const [key, v] of Object.entries(record)) {
      const full = path ? `${path}.${key}` : key;
      const spec = fields[key];
      if (!spec) this.fail('', `unknown field "${full}"${suggestion(key, Object.keys(fields))}`);
      if (spec.only && spec.only !== this.doc.apiVersion) {
        this.fail('', `field "${full}" needs apiVersion ${spec.only} (this document is ${this.doc.apiVersion})`);
      }
      if (spec.ignored) {
        if (v !== null && v !== undefined) this.warnings.push(`${this.doc.kind}.${full} is accepted for kubeadm compatibility but not used by kubets init`);
        continue;
      }
      this.checkValue(v, spec, full);
    }
    return record;
  }

  private checkExtraArgs(v: unknown, path: string): void {
    const names: string[] = [];
    if (this.doc.apiVersion === KUBEADM_V1BETA3) {
      if (typeof v !== 'object' || Array.isArray(v) || v === null) this.fail(path, `expected a mapping of flag names to values (kubeadm.k8s.io/v1beta3), found ${typeName(v)}`);
      for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
        if (typeof value !== 'string') this.fail(`${path}.${name}`, `expected a string, found ${typeName(value)}`);
        names.push(name);
      }
    } else {
      if (!Array.isArray(v)) this.fail(path, `expected a list of {name, value} (kubeadm.k8s.io/v1beta4), found ${typeName(v)}`);
      v.forEach((item, i) => {
        const a = this.check(item, { name: leaf('string'), value: leaf('string') }, `${path}[${i}]`);
        if (typeof a.name !== 'string' || a.name === '') this.fail(`${path}[${i}].name`, 'is required');
        names.push(a.name);
      });
    }
    for (const name of names) {
      if (!FLAG_NAME.test(name)) this.fail(path, `"${name}" is not a flag name (without the leading dashes, e.g. node-monitor-grace-period)`);
    }
  }

  private checkValue(v: unknown, spec: FieldSpec, path: string): void {
    if (v === null || v === undefined) return;
    switch (spec.type) {
      case 'string':
      case 'duration':
        if (typeof v !== 'string') this.fail(path, `expected a string, found ${typeName(v)}`);
        if (spec.type === 'duration') {
          try {
            parseGoDuration(v);
          } catch (err) {
            this.fail(path, (err as Error).message);
          }
        }
        return;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(path, `expected an integer, found ${typeName(v)}`);
        return;
      case 'bool':
        if (typeof v !== 'boolean') this.fail(path, `expected true or false, found ${typeName(v)}`);
        return;
      case 'strings':
        if (!Array.isArray(v)) this.fail(path, `expected a list of strings, found ${typeName(v)}`);
        v.forEach((item, i) => {
          if (typeof item !== 'string') this.fail(`${path}[${i}]`, `expected a string, found ${typeName(item)}`);
        });
        return;
      case 'extraArgs':
        this.checkExtraArgs(v, path);
        return;
      case 'object':
        this.check(v, spec.fields!, path);
        return;
      case 'objects':
        if (!Array.isArray(v)) this.fail(path, `expected a list, found ${typeName(v)}`);
        v.forEach((item, i) => this.check(item, spec.fields!, `${path}[${i}]`));
        return;
      case 'any':
        return;
    }
  }
}

const FLAG_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * kubeadm's two shapes of extraArgs: v1beta3 a mapping of flag name to value,
 * v1beta4 a list of {name, value} (where a name may repeat). Returns them as a
 * list; the caller has checked the shape.
 */
function extraArgsOf(v: unknown): ExtraArg[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.map((a: Record<string, unknown>) => ({ name: String(a.name), value: a.value === undefined || a.value === null ? '' : String(a.value) }));
  return Object.entries(v as Record<string, unknown>).map(([name, value]) => ({ name, value: String(value) }));
}

function get(record: Record<string, unknown> | undefined, path: string): unknown {
  let cur: unknown = record;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur ?? undefined;
}

function str(record: Record<string, unknown> | undefined, path: string): string | undefined {
  const v = get(record, path);
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/** Parse "host:port", "host", "[v6]:port", "[v6]" or a bare IPv6 address. */
export function parseEndpoint(text: string, defaultPort: number): HostPort {
  const t = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
    if (ipFamily(host) !== 6) throw new Error(`"${text}": only an IPv6 address may be written in brackets`);
  } else if (ipFamily(t) === 6) {
    host = t;
  } else {
    const idx = t.lastIndexOf(':');
    if (idx >= 0) {
      host = t.slice(0, idx);
      portText = t.slice(idx + 1);
    } else host = t;
  }
  const port = portText === undefined ? defaultPort : /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${text}" has an invalid port (want host:port, e.g. 10.0.0.1:6443)`);
  const lower = host.toLowerCase();
  if (!ipFamily(lower) && !isDnsSubdomain(lower)) throw new Error(`"${text}": "${host}" is neither an IP address nor a DNS name`);
  return { host: ipFamily(lower) ? host : lower, port, text: `${ipFamily(host) === 6 ? `[${host}]` : lower}:${port}` };
}

function parseCidrList(text: string, path: string, fail: (path: string, message: string) => never): Cidr[] {
  const parts = text.split(',').map((p) => p.trim());
  const cidrs = parts.map((p) => {
    try {
      return parseCidr(p);
    } catch (err) {
      return fail(path, (err as Error).message);
    }
  });
  if (cidrs.length > 2) fail(path, `at most two subnets (one IPv4, one IPv6) may be given, found ${cidrs.length}`);
  if (cidrs.length === 2 && cidrs[0]!.family === cidrs[1]!.family) fail(path, `a dual-stack value needs one IPv4 and one IPv6 subnet, found two IPv${cidrs[0]!.family}`);
  return cidrs;
}

/** The first non-internal IPv4 address of this host (kubeadm's advertise address detection), or 127.0.0.1. */
export function detectAdvertiseAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

export interface ParseOptions {
  /** Shown in errors; default "config". */
  source?: string;
  /** Node name when nodeRegistration.name is not set (default os.hostname()). */
  hostname?: string;
  /** Advertise address when localAPIEndpoint.advertiseAddress is not set (default: detected). */
  detectAddress?: () => string;
}

/** Parse and validate a kubeadm init configuration (multi-document YAML text). */
export function parseInitConfiguration(text: string, options: ParseOptions = {}): InitConfiguration {
  const source = options.source ?? 'config';
  const docs: Doc[] = [];
  const warnings: string[] = [];
  const parsed = YAML.parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  list.forEach((d, i) => {
    const where = `${source} (document ${i + 1})`;
    if (d.errors.length > 0) throw new InitConfigError(`${where}: invalid YAML: ${d.errors[0]!.message}`);
    const value: unknown = d.toJS();
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) throw new InitConfigError(`${where}: expected a mapping with apiVersion and kind, found ${typeName(value)}`);
    const record = value as Record<string, unknown>;
    const kind = record.kind;
    const apiVersion = record.apiVersion;
    if (typeof kind !== 'string' || kind === '') throw new InitConfigError(`${where}: missing "kind"`);
    if (typeof apiVersion !== 'string' || apiVersion === '') throw new InitConfigError(`${where}: ${kind}: missing "apiVersion"`);
    if (kind in SKIPPED_KINDS) {
      warnings.push(`ignored the ${kind} document (${apiVersion}): ${SKIPPED_KINDS[kind]}`);
      return;
    }
    if (kind !== 'InitConfiguration' && kind !== 'ClusterConfiguration') {
      throw new InitConfigError(`${where}: unknown kind "${kind}" (want InitConfiguration and/or ClusterConfiguration)${suggestion(kind, ['InitConfiguration', 'ClusterConfiguration'])}`);
    }
    if (!KUBEADM_VERSIONS.includes(apiVersion)) {
      throw new InitConfigError(`${where}: ${kind}: apiVersion "${apiVersion}" is not supported (use ${KUBEADM_VERSIONS.join(' or ')})`);
    }
    if (docs.some((o) => o.kind === kind)) throw new InitConfigError(`${where}: a second ${kind} document (only one is allowed)`);
    docs.push({ kind, apiVersion, where: `${where}: ${kind}`, value: record });
  });
  const initDoc = docs.find((d) => d.kind === 'InitConfiguration');
  const clusterDoc = docs.find((d) => d.kind === 'ClusterConfiguration');
  if (!initDoc && !clusterDoc) throw new InitConfigError(`${source}: no InitConfiguration or ClusterConfiguration document found`);

  const initCheck = initDoc ? new Checker(initDoc) : undefined;
  const clusterCheck = clusterDoc ? new Checker(clusterDoc) : undefined;
  const init = initDoc ? initCheck!.check(initDoc.value, INIT_SCHEMA, '') : undefined;
  const cluster = clusterDoc ? clusterCheck!.check(clusterDoc.value, CLUSTER_SCHEMA, '') : undefined;
  warnings.push(...(initCheck?.warnings ?? []), ...(clusterCheck?.warnings ?? []));
  const failInit: (path: string, message: string) => never = (path, message) => {
    if (initCheck) initCheck.fail(path, message);
    throw new InitConfigError(`${source}: InitConfiguration: ${path}: ${message}`);
  };
  const failCluster: (path: string, message: string) => never = (path, message) => {
    if (clusterCheck) clusterCheck.fail(path, message);
    throw new InitConfigError(`${source}: ClusterConfiguration: ${path}: ${message}`);
  };

  // localAPIEndpoint
  const bindPort = (get(init, 'localAPIEndpoint.bindPort') as number | undefined) ?? DEFAULTS.bindPort;
  if (bindPort < 1 || bindPort > 65535) failInit('localAPIEndpoint.bindPort', `${bindPort} is not a port (1-65535)`);
  let advertiseAddress = str(init, 'localAPIEndpoint.advertiseAddress');
  if (advertiseAddress !== undefined) {
    const bytes = parseIP(advertiseAddress);
    if (!bytes) failInit('localAPIEndpoint.advertiseAddress', `"${advertiseAddress}" is not an IP address`);
    if (bytes.every((b) => b === 0)) advertiseAddress = undefined; // 0.0.0.0 / :: mean "detect", as in kubeadm
  }
  if (advertiseAddress === undefined) {
    advertiseAddress = (options.detectAddress ?? detectAdvertiseAddress)();
    warnings.push(`localAPIEndpoint.advertiseAddress is not set: using ${advertiseAddress}`);
  }

  // nodeRegistration
  const nodeName = str(init, 'nodeRegistration.name') ?? (options.hostname ?? os.hostname()).toLowerCase();
  if (!isDnsSubdomain(nodeName)) failInit('nodeRegistration.name', `"${nodeName}" is not a valid node name (a lower-case DNS subdomain)`);

  // bootstrapTokens
  const bootstrapTokens: BootstrapToken[] = ((get(init, 'bootstrapTokens') as Record<string, unknown>[] | undefined) ?? []).map((t, i) => {
    const path = `bootstrapTokens[${i}]`;
    const token = str(t, 'token');
    if (token === undefined) failInit(`${path}.token`, 'is required in a bootstrap token entry (omit the whole entry to have one generated)');
    const m = BOOTSTRAP_TOKEN_PATTERN.exec(token);
    if (!m) failInit(`${path}.token`, `"${token}" does not match [a-z0-9]{6}.[a-z0-9]{16}`);
    const usages = (get(t, 'usages') as string[] | undefined) ?? ['signing', 'authentication'];
    for (const u of usages) if (u !== 'signing' && u !== 'authentication') failInit(`${path}.usages`, `"${u}" is not a usage (signing, authentication)`);
    const groups = (get(t, 'groups') as string[] | undefined) ?? [DEFAULT_BOOTSTRAP_GROUP];
    for (const g of groups) if (!BOOTSTRAP_GROUP_PATTERN.test(g)) failInit(`${path}.groups`, `"${g}" does not match ${BOOTSTRAP_GROUP_PATTERN.source}`);
    return { token, id: m[1]!, description: str(t, 'description'), ttl: str(t, 'ttl') ?? DEFAULTS.bootstrapTokenTTL, usages, groups };
  });
  const ids = new Set<string>();
  for (const t of bootstrapTokens) {
    if (ids.has(t.id)) failInit('bootstrapTokens', `the token id "${t.id}" is used twice`);
    ids.add(t.id);
  }

  // networking
  const serviceSubnet = str(cluster, 'networking.serviceSubnet') ?? DEFAULTS.serviceSubnet;
  const serviceSubnets = parseCidrList(serviceSubnet, 'networking.serviceSubnet', failCluster);
  for (const c of serviceSubnets) {
    const max = 20;
    if (hostBits(c) > max) failCluster('networking.serviceSubnet', `${c.text} is too large: at most ${max} host bits (/${c.family === 4 ? 12 : 108}) are allowed`);
    if (hostBits(c) < 2) failCluster('networking.serviceSubnet', `${c.text} is too small for Services`);
  }
  const podSubnet = str(cluster, 'networking.podSubnet');
  const podSubnets = podSubnet ? parseCidrList(podSubnet, 'networking.podSubnet', failCluster) : [];
  for (const p of podSubnets) {
    for (const s of serviceSubnets) if (cidrsOverlap(p, s)) failCluster('networking.podSubnet', `${p.text} overlaps the service subnet ${s.text}`);
  }
  if (podSubnets.length > 0 && podSubnets.length !== serviceSubnets.length) {
    warnings.push(`networking: the pod subnet (${podSubnet}) and the service subnet (${serviceSubnet}) are not both dual-stack`);
  }
  const dnsDomain = str(cluster, 'networking.dnsDomain') ?? DEFAULTS.dnsDomain;
  if (!isDnsSubdomain(dnsDomain)) failCluster('networking.dnsDomain', `"${dnsDomain}" is not a valid DNS domain`);

  // controlPlaneEndpoint
  let controlPlaneEndpoint: HostPort;
  const cpe = str(cluster, 'controlPlaneEndpoint');
  try {
    controlPlaneEndpoint = parseEndpoint(cpe ?? (ipFamily(advertiseAddress) === 6 ? `[${advertiseAddress}]` : advertiseAddress), bindPort);
  } catch (err) {
    failCluster('controlPlaneEndpoint', (err as Error).message);
  }

  const clusterName = str(cluster, 'clusterName') ?? DEFAULTS.clusterName;
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(clusterName)) failCluster('clusterName', `"${clusterName}" is not a valid cluster name`);

  // apiServer.certSANs
  const certSANs = ((get(cluster, 'apiServer.certSANs') as string[] | undefined) ?? []).map((s, i) => {
    const v = s.trim();
    const dns = v.toLowerCase();
    if (ipFamily(v)) return v;
    if (isDnsSubdomain(dns) || (dns.startsWith('*.') && isDnsSubdomain(dns.slice(2)))) return dns;
    return failCluster(`apiServer.certSANs[${i}]`, `"${s}" is neither an IP address nor a DNS name`);
  });

  // etcd
  const external = get(cluster, 'etcd.external') as Record<string, unknown> | undefined;
  const local = get(cluster, 'etcd.local') as Record<string, unknown> | undefined;
  let etcd: InitConfiguration['etcd'];
  if (external && local) failCluster('etcd', '"local" and "external" are mutually exclusive');
  if (external) {
    const endpoints = (get(external, 'endpoints') as string[] | undefined) ?? [];
    if (endpoints.length === 0) failCluster('etcd.external.endpoints', 'at least one endpoint is required');
    const caFile = str(external, 'caFile');
    const certFile = str(external, 'certFile');
    const keyFile = str(external, 'keyFile');
    if (Boolean(certFile) !== Boolean(keyFile)) failCluster('etcd.external', 'certFile and keyFile must be given together');
    const tls = Boolean(caFile || certFile);
    const normalized = endpoints.map((e, i) => {
      const path = `etcd.external.endpoints[${i}]`;
      const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`;
      let url: URL;
      try {
        url = new URL(withScheme);
      } catch {
        return failCluster(path, `"${e}" is not a URL or host:port`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') failCluster(path, `"${e}": the scheme must be http or https`);
      if (!url.port) failCluster(path, `"${e}" has no port (etcd clients listen on 2379)`);
      if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) failCluster(path, `"${e}" must not have a path`);
      try {
        parseEndpoint(url.host, 2379);
      } catch (err) {
        failCluster(path, (err as Error).message);
      }
      return `${url.protocol}//${url.host}`;
    });
    etcd = { external: { endpoints: normalized, caFile, certFile, keyFile } };
  } else {
    etcd = { local: { dataDir: str(local, 'dataDir') ?? DEFAULTS.etcdDataDir } };
  }

  // v1beta4 certificate settings
  let encryptionAlgorithm: KeyAlgorithm = DEFAULTS.encryptionAlgorithm;
  const alg = str(cluster, 'encryptionAlgorithm');
  if (alg) {
    try {
      encryptionAlgorithm = parseKeyAlgorithm(alg);
    } catch (err) {
      failCluster('encryptionAlgorithm', (err as Error).message);
    }
  }
  const days = (path: string, fallback: number): number => {
    const v = str(cluster, path);
    if (v === undefined) return fallback;
    const d = parseGoDuration(v) / 86_400_000;
    if (!(d > 0)) failCluster(path, `"${v}" must be positive`);
    return d;
  };
  const certificateValidityDays = days('certificateValidityPeriod', DEFAULTS.certificateValidityDays);
  const caCertificateValidityDays = days('caCertificateValidityPeriod', DEFAULTS.caCertificateValidityDays);
  if (certificateValidityDays > caCertificateValidityDays) {
    warnings.push(`certificateValidityPeriod is longer than caCertificateValidityPeriod: certificates outlive their CA`);
  }

  return {
    source,
    apiVersion: initDoc?.apiVersion ?? clusterDoc!.apiVersion,
    clusterName,
    kubernetesVersion: str(cluster, 'kubernetesVersion'),
    nodeName,
    advertiseAddress,
    bindPort,
    controlPlaneEndpoint: controlPlaneEndpoint!,
    serviceSubnet,
    serviceSubnets,
    podSubnet,
    podSubnets,
    dnsDomain,
    kubernetesServiceIP: nthAddress(serviceSubnets[0]!, 1),
    clusterDNSIP: nthAddress(serviceSubnets[0]!, 10),
    certSANs,
    etcd,
    bootstrapTokens,
    encryptionAlgorithm,
    certificateValidityDays,
    caCertificateValidityDays,
    extraArgs: {
      apiServer: extraArgsOf(get(cluster, 'apiServer.extraArgs')),
      controllerManager: extraArgsOf(get(cluster, 'controllerManager.extraArgs')),
      scheduler: extraArgsOf(get(cluster, 'scheduler.extraArgs')),
      etcd: extraArgsOf(get(cluster, 'etcd.local.extraArgs')),
    },
    warnings,
  };
}

/** kubeadm-style flags, for `kubets init` without --config. */
export interface InitFlags {
  advertiseAddress?: string;
  bindPort?: number;
  controlPlaneEndpoint?: string;
  serviceCidr?: string;
  podNetworkCidr?: string;
  serviceDnsDomain?: string;
  certSans?: string[];
  token?: string;
  nodeName?: string;
  etcdServers?: string[];
  /** kubeadm's extraArgs (no kubeadm flag sets them; `kubets join --control-plane` copies the cluster's). */
  extraArgs?: Partial<ExtraArgs>;
}

/** Build the configuration documents from flags (the same validation then applies). */
export function configFromFlags(flags: InitFlags): string {
  const init: Record<string, unknown> = { apiVersion: KUBEADM_V1BETA4, kind: 'InitConfiguration' };
  const cluster: Record<string, unknown> = { apiVersion: KUBEADM_V1BETA4, kind: 'ClusterConfiguration' };
  if (flags.advertiseAddress !== undefined || flags.bindPort !== undefined) {
    init.localAPIEndpoint = { advertiseAddress: flags.advertiseAddress, bindPort: flags.bindPort };
  }
  if (flags.nodeName) init.nodeRegistration = { name: flags.nodeName };
  if (flags.token) init.bootstrapTokens = [{ token: flags.token }];
  if (flags.controlPlaneEndpoint) cluster.controlPlaneEndpoint = flags.controlPlaneEndpoint;
  const networking: Record<string, unknown> = {};
  if (flags.serviceCidr) networking.serviceSubnet = flags.serviceCidr;
  if (flags.podNetworkCidr) networking.podSubnet = flags.podNetworkCidr;
  if (flags.serviceDnsDomain) networking.dnsDomain = flags.serviceDnsDomain;
  if (Object.keys(networking).length > 0) cluster.networking = networking;
  if (flags.certSans && flags.certSans.length > 0) cluster.apiServer = { certSANs: flags.certSans };
  if (flags.etcdServers && flags.etcdServers.length > 0) cluster.etcd = { external: { endpoints: flags.etcdServers } };
  const { apiServer, controllerManager, scheduler, etcd } = flags.extraArgs ?? {};
  if (apiServer?.length) cluster.apiServer = { ...(cluster.apiServer as object | undefined), extraArgs: apiServer };
  if (controllerManager?.length) cluster.controllerManager = { extraArgs: controllerManager };
  if (scheduler?.length) cluster.scheduler = { extraArgs: scheduler };
  if (etcd?.length && !cluster.etcd) cluster.etcd = { local: { extraArgs: etcd } };
  return `${YAML.stringify(init)}---\n${YAML.stringify(cluster)}`;
}

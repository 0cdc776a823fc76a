// `kubets join`: a worker node joins the cluster the kubeadm way, with
// bootstrap-token discovery. The node trusts nothing at first: it reads the
// cluster CA from kube-public/cluster-info (anonymously, over TLS it cannot
// verify yet), accepts that CA only if its public key matches the hash from
// `kubets init`'s output, and from then on talks to the API server over
// verified TLS with the bootstrap token.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { publicKeyPin, writeFileAtomic } from '@kubets/pki';
import type { FlagSpecs } from '@kubets/service-kit';
import YAML from 'yaml';
import { DEFAULTS, parseEndpoint, type ExtraArg, type ExtraArgs, type HostPort } from './config';
import { DEFAULT_OUT_DIR } from './init';
import { buildKubeconfig } from './kubeconfig';
import { ANNOTATIONS, CONTROL_PLANE_PORTS, kubeletFlagsEnv } from './manifests';
import { BOOTSTRAP_TOKEN_PATTERN } from './tokens';

export const JOIN_FLAGS = {
  token: { type: 'string', secret: true, description: 'The bootstrap token, [a-z0-9]{6}.[a-z0-9]{16} (kubets init prints it)' },
  'discovery-token-ca-cert-hash': {
    type: 'list',
    description: 'For token-based discovery, validate that the root CA public key matches this hash (format: "sha256:<hex>"; kubets init prints it)',
  },
  'discovery-token-unsafe-skip-ca-verification': {
    type: 'boolean',
    description: 'For token-based discovery, allow joining without --discovery-token-ca-cert-hash pinning (trusts whatever answers at the endpoint)',
  },
  'node-name': { type: 'string', description: 'The node name (default: the host name)' },
  'out-dir': { type: 'string', default: DEFAULT_OUT_DIR, description: 'Where to write pki/ca.crt, kubelet.kubeconfig and kubelet-flags.env' },
  'nats-url': { type: 'string', description: "The control plane's NATS URL(s) the kubelet uses (default: every control-plane node's, from the NATS pods; else nats://<endpoint host>:4222)" },
  'control-plane': { type: 'boolean', description: 'Create a new control plane instance on this node (a KV member, NATS, an API server, a controller manager and a scheduler)' },
  'apiserver-advertise-address': { type: 'string', description: "With --control-plane: the IP address this node's API server, KV member and NATS advertise (default: this host's address towards the endpoint)" },
  'apiserver-bind-port': { type: 'number', integer: true, min: 1, max: 65535, default: 6443, description: "With --control-plane: the port of this node's API server" },
  image: { type: 'string', description: "With --control-plane: the kubets image of the static pods (default: the one the cluster's API server runs)" },
  force: { type: 'boolean', description: 'Replace an existing pki/ca.crt of another cluster, and a kubelet.kubeconfig or kubelet-flags.env that differs' },
} as const satisfies FlagSpecs;

/** A failure the user can act on: printed without a stack, exit code 1. */
export class JoinError extends Error {}

/** kubeadm's name for the bootstrap token user in bootstrap-kubelet.conf. */
export const BOOTSTRAP_USER = 'tls-bootstrap-token-user';
const CLUSTER_INFO_PATH = '/api/v1/namespaces/kube-public/configmaps/cluster-info';
const REQUEST_TIMEOUT_MS = 10_000;

export interface JoinOptions {
  endpoint: string;
  token: string;
  caCertHashes: string[];
  unsafeSkipCAVerification: boolean;
  nodeName?: string;
  outDir: string;
  natsUrl?: string;
  force: boolean;
  log: (line: string) => void;
}

export interface JoinResult {
  endpoint: HostPort;
  server: string;
  caPin: string;
  nodeName: string;
  nodeIP: string;
  files: Array<{ path: string; action: 'created' | 'replaced' | 'unchanged' }>;
}

/** The API server endpoint: host:port, [v6]:port or https://host:port (port default 6443). */
export function parseJoinEndpoint(text: string): HostPort {
  const bare = text.trim().replace(/^https:\/\//i, '').replace(/\/$/, '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(bare)) throw new JoinError(`"${text}": the API server endpoint is https (want host:port)`);
  try {
    return parseEndpoint(bare, DEFAULTS.bindPort);
  } catch (e) {
    throw new JoinError(`invalid API server endpoint ${(e as Error).message}`);
  }
}

/** kubeadm's check and message for --token. */
export function checkBootstrapToken(token: string): string {
  if (!BOOTSTRAP_TOKEN_PATTERN.test(token)) throw new JoinError(`the bootstrap token "${token}" was not of the form "[a-z0-9]{6}.[a-z0-9]{16}"`);
  return token;
}

/** Normalizes "sha256:<64 hex>" (kubeadm's only supported format) to lower case. */
export function parseCaCertHash(text: string): string {
  const t = text.trim();
  const i = t.indexOf(':');
  if (i < 0) throw new JoinError(`invalid hash "${t}": unsupported hash format; got "${t}", expected "<type>:<value>"`);
  const [type, value] = [t.slice(0, i).toLowerCase(), t.slice(i + 1).toLowerCase()];
  if (type !== 'sha256') throw new JoinError(`invalid hash "${t}": unknown hash type ${t.slice(0, i)}`);
  if (!/^[0-9a-f]{64}$/.test(value)) throw new JoinError(`invalid hash "${t}": expected a 32 byte SHA-256 hash, found ${value.length / 2} bytes`);
  return `sha256:${value}`;
}

/** The certificates of a PEM bundle, each as its own PEM block. */
function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}

/**
 * The pin of the CA certificate (of a bundle, the first) that matches one of
 * `hashes`; kubeadm's error otherwise. Every certificate of a bundle counts,
 * as in kubeadm (a CA being rotated).
 */
export function checkCaPin(caPem: string, hashes: string[]): string {
  const certs = pemCertificates(caPem);
  if (certs.length === 0) throw new JoinError('cluster CA found in cluster-info ConfigMap is invalid: no certificate in certificate-authority-data');
  const pins = certs.map((c) => {
    try {
      return publicKeyPin(c);
    } catch (e) {
      throw new JoinError(`cluster CA found in cluster-info ConfigMap is invalid: ${(e as Error).message}`);
    }
  });
  const match = pins.find((p) => hashes.includes(p));
  if (!match) throw new JoinError(`cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${pins.join(',')}" are pinned`);
  return match;
}

/** The CA PEM (and server) of cluster-info's data.kubeconfig. */
export function parseClusterInfo(body: string): { caPem: string; server?: string } {
  let kubeconfig: unknown;
  try {
    kubeconfig = (JSON.parse(body) as { data?: Record<string, unknown> }).data?.kubeconfig;
  } catch {
    throw new JoinError('the cluster-info ConfigMap is not JSON');
  }
  if (typeof kubeconfig !== 'string') throw new JoinError('the cluster-info ConfigMap has no data.kubeconfig');
  let cluster: Record<string, unknown> | undefined;
  try {
    cluster = (YAML.parse(kubeconfig) as { clusters?: Array<{ cluster?: Record<string, unknown> }> } | null)?.clusters?.[0]?.cluster;
  } catch (e) {
    throw new JoinError(`the kubeconfig in cluster-info does not parse: ${(e as Error).message}`);
  }
  const ca = cluster?.['certificate-authority-data'];
  if (typeof ca !== 'string' || !ca) throw new JoinError('the kubeconfig in cluster-info has no certificate-authority-data');
  return { caPem: Buffer.from(ca, 'base64').toString('utf8'), server: typeof cluster?.server === 'string' ? cluster.server : undefined };
}

/** nats://<host>:4222 for the endpoint's host (the control plane's NATS port). */
export function defaultNatsUrl(endpoint: HostPort): string {
  return `nats://${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${CONTROL_PLANE_PORTS.nats}`;
}

/**
 * This host's address on the route to `host`: the local address of a UDP
 * socket connected there (connect on UDP sends nothing, it only picks the
 * route and source address). The address the control plane can reach the
 * node's kubelet at, as --node-ip.
 */
export async function localAddressTowards(host: string, port: number): Promise<string> {
  const { address, family } = await dns.lookup(host);
  const sock = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(port, address, () => resolve());
    });
    return sock.address().address;
  } finally {
    sock.close();
  }
}

export interface Reply {
  status: number;
  body: string;
}

function get(endpoint: HostPort, urlPath: string, tls: { ca?: string; token?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: endpoint.host,
        port: endpoint.port,
        path: urlPath,
        method: 'GET',
        // Without a CA the server is not verified: only for reading
        // cluster-info, whose CA is then checked against the pinned hash.
        ...(tls.ca ? { ca: tls.ca } : { rejectUnauthorized: false }),
        headers: { Accept: 'application/json', ...(tls.token ? { Authorization: `Bearer ${tls.token}` } : {}) },
        timeout: REQUEST_TIMEOUT_MS,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The message of a Status body, or the start of the body. */
export function statusMessage(r: Reply): string {
  try {
    const s = JSON.parse(r.body) as { message?: unknown };
    if (typeof s.message === 'string') return s.message;
  } catch {
    // not a Status
  }
  return r.body.slice(0, 200);
}

export function plannedFile(file: string, text: string, force: boolean, conflict: string): { path: string; text: string; action: 'created' | 'replaced' | 'unchanged' } {
  if (!fs.existsSync(file)) return { path: file, text, action: 'created' };
  if (fs.readFileSync(file, 'utf8') === text) return { path: file, text, action: 'unchanged' };
  if (!force) throw new JoinError(`${file} already exists and differs (${conflict}); --force replaces it`);
  return { path: file, text, action: 'replaced' };
}

/** What discovery established: the cluster CA, verified, and a server that accepts the bootstrap token. */
export interface Discovery {
  endpoint: HostPort;
  server: string;
  token: string;
  caPem: string;
  caPin: string;
}

/**
 * kubeadm's bootstrap-token discovery: cluster-info read anonymously, its CA
 * accepted only when its key is pinned, then the server verified with that CA
 * and the bootstrap token accepted.
 */
export async function discover(o: Pick<JoinOptions, 'endpoint' | 'token' | 'caCertHashes' | 'unsafeSkipCAVerification' | 'log'>): Promise<Discovery> {
  const endpoint = parseJoinEndpoint(o.endpoint);
  const token = checkBootstrapToken(o.token);
  const hashes = o.caCertHashes.map(parseCaCertHash);
  if (hashes.length === 0 && !o.unsafeSkipCAVerification) {
    throw new JoinError(
      'using token-based discovery without --discovery-token-ca-cert-hash can be unsafe. Pass --discovery-token-ca-cert-hash (kubets init prints it) or --discovery-token-unsafe-skip-ca-verification to continue',
    );
  }
  const server = `https://${endpoint.text}`;

  // (a) cluster-info, anonymously and unverified: nothing is trusted yet.
  let info: Reply;
  try {
    info = await get(endpoint, CLUSTER_INFO_PATH, {});
  } catch (e) {
    throw new JoinError(`could not fetch cluster-info from ${server}: ${(e as Error).message}`);
  }
  if (info.status !== 200) throw new JoinError(`could not fetch cluster-info from ${server}: HTTP ${info.status}: ${statusMessage(info)}`);
  const { caPem } = parseClusterInfo(info.body);
  o.log(`[discovery] Fetched the cluster-info ConfigMap from ${server} (anonymously)`);

  // (b) the CA is the cluster's only if its key is the pinned one. kubeadm also
  // checks a JWS signature of cluster-info made with the token; kubets has no
  // bootstrap signer yet, so the pin is the protection (and with the unsafe
  // flag there is none: trust on first use).
  let caPin: string;
  if (hashes.length > 0) {
    caPin = checkCaPin(caPem, hashes);
    o.log(`[discovery] Cluster CA public key ${caPin} matches --discovery-token-ca-cert-hash`);
  } else {
    caPin = checkCaPin(caPem, pemCertificates(caPem).slice(0, 1).map((c) => publicKeyPin(c)));
    o.log(`[discovery] WARNING: not verifying the cluster CA (--discovery-token-unsafe-skip-ca-verification); it is ${caPin}`);
  }

  // (c) from here on the server is verified with that CA, and the bootstrap
  // token must authenticate (a request that needs credentials).
  const check = await apiGet({ endpoint, server, token, caPem, caPin }, '/api/v1/nodes?limit=1');
  if (check.status === 401) throw new JoinError(`the API server at ${server} refused the bootstrap token (401 Unauthorized): check --token against the one kubets init printed`);
  if (check.status !== 200) throw new JoinError(`the API server at ${server} answered HTTP ${check.status} with the bootstrap token: ${statusMessage(check)}`);
  o.log(`[discovery] The API server at ${server} is verified with the cluster CA and accepts the bootstrap token`);
  return { endpoint, server, token, caPem, caPin };
}

/** GET from the discovered API server, verified with the cluster CA, with the bootstrap token. */
export async function apiGet(d: Discovery, urlPath: string): Promise<Reply> {
  try {
    return await get(d.endpoint, urlPath, { ca: d.caPem, token: d.token });
  } catch (e) {
    throw new JoinError(`GET ${d.server}${urlPath} (verified with the cluster CA) failed: ${(e as Error).message}`);
  }
}

/**
 * Where the control plane runs, from the mirror pods of its static pods
 * (their annotations, as kubeadm finds its etcd members): the KV members'
 * client URLs, the NATS servers, the cluster's service and pod subnets and
 * the kubets image. `exceptNode`'s own pods are left out (a re-run).
 */
export interface ControlPlaneInfo {
  kvClientURLs: string[];
  natsClientURLs: string[];
  natsClusterURLs: string[];
  /** The API server's --etcd-servers when no kubets-kv runs in the cluster (an external etcd). */
  externalEtcd: string[];
  serviceSubnet?: string;
  podSubnet?: string;
  image?: string;
  /** The components' kubeadm extraArgs (from their pods' annotation), for a joining control plane to run with the same. */
  extraArgs: ExtraArgs;
}

export function parseControlPlanePods(body: string, exceptNode?: string): ControlPlaneInfo {
  type Pod = { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: { nodeName?: string; containers?: Array<{ image?: string; command?: string[] }> } };
  let items: Pod[];
  try {
    items = (JSON.parse(body) as { items?: Pod[] }).items ?? [];
  } catch {
    throw new JoinError('the list of kube-system pods is not JSON');
  }
  const pods = items.filter((p) => p.spec?.nodeName !== exceptNode);
  const of = (component: string) => pods.filter((p) => p.metadata?.labels?.component === component);
  const annotation = (component: string, key: string) => [...new Set(of(component).map((p) => p.metadata?.annotations?.[key]).filter((v): v is string => !!v))].sort();
  const flag = (component: string, name: string) => {
    for (const p of of(component)) {
      const arg = p.spec?.containers?.[0]?.command?.find((a) => a.startsWith(`--${name}=`));
      if (arg) return arg.slice(name.length + 3);
    }
    return undefined;
  };
  const extraArgsOf = (component: string): ExtraArg[] => {
    const text = of(component)[0]?.metadata?.annotations?.[ANNOTATIONS.extraArgs];
    if (!text) return [];
    try {
      const list = JSON.parse(text) as Array<{ name?: unknown; value?: unknown }>;
      if (Array.isArray(list) && list.every((a) => a && typeof a.name === 'string')) return list.map((a) => ({ name: String(a.name), value: String(a.value ?? '') }));
    } catch {
      // reported below
    }
    throw new JoinError(`the ${component} pod's ${ANNOTATIONS.extraArgs} annotation is not a JSON list of {name, value}`);
  };
  const kvClientURLs = annotation('kubets-kv', ANNOTATIONS.kvClientURLs).flatMap((v) => v.split(','));
  const etcdServers = flag('kube-apiserver', 'etcd-servers');
  return {
    kvClientURLs,
    natsClientURLs: annotation('nats', ANNOTATIONS.natsClientURL),
    natsClusterURLs: annotation('nats', ANNOTATIONS.natsClusterURL),
    externalEtcd: kvClientURLs.length === 0 && etcdServers && !/\/\/(127\.|localhost|\[::1\])/.test(etcdServers) ? etcdServers.split(',') : [],
    serviceSubnet: flag('kube-apiserver', 'service-cluster-ip-range'),
    podSubnet: flag('kube-controller-manager', 'cluster-cidr'),
    image: of('kube-apiserver')[0]?.spec?.containers?.[0]?.image,
    extraArgs: {
      apiServer: extraArgsOf('kube-apiserver'),
      controllerManager: extraArgsOf('kube-controller-manager'),
      scheduler: extraArgsOf('kube-scheduler'),
      etcd: extraArgsOf('kubets-kv'),
    },
  };
}

/** The control plane's pods, read with the bootstrap token. */
export async function controlPlaneInfo(d: Discovery, exceptNode?: string): Promise<ControlPlaneInfo> {
  const r = await apiGet(d, '/api/v1/namespaces/kube-system/pods?labelSelector=tier%3Dcontrol-plane');
  if (r.status !== 200) throw new JoinError(`could not list the control plane's pods: HTTP ${r.status}: ${statusMessage(r)}`);
  return parseControlPlanePods(r.body, exceptNode);
}

export async function runJoin(o: JoinOptions): Promise<JoinResult> {
  const d = await discover(o);
  const { endpoint, server, token, caPem, caPin } = d;
  const nodeName = (o.nodeName ?? os.hostname()).toLowerCase();
  // Every control-plane node's NATS, so the kubelet is not tied to one (it learns later ones from the servers).
  const natsUrl = o.natsUrl ?? ((await controlPlaneInfo(d, nodeName)).natsClientURLs.join(',') || defaultNatsUrl(endpoint));

  // (d) plan every file before writing any, so a conflict writes nothing.
  let nodeIP: string;
  try {
    nodeIP = await localAddressTowards(endpoint.host, endpoint.port);
  } catch (e) {
    throw new JoinError(`could not find this host's address towards ${endpoint.host}: ${(e as Error).message}`);
  }
  const outDir = path.resolve(o.outDir);
  const caFile = path.join(outDir, 'pki', 'ca.crt');
  const kubeconfigFile = path.join(outDir, 'kubelet.kubeconfig');
  const flagsFile = path.join(outDir, 'kubelet-flags.env');
  // The kubelet authenticates with the bootstrap token itself: there is no
  // CertificateSigningRequest API to get a node client certificate from yet
  // (a later issue replaces this with kubelet TLS bootstrapping).
  const kubeconfig = buildKubeconfig({ clusterName: DEFAULTS.clusterName, server, caCertPem: caPem, users: [{ name: BOOTSTRAP_USER, token }] });
  const flags = kubeletFlagsEnv({ outDir, nodeName, nodeIP, natsUrl, controlPlane: false });
  const plan = [
    plannedFile(caFile, caPem, o.force, 'the CA of another cluster'),
    plannedFile(kubeconfigFile, kubeconfig, o.force, 'this host joined before, or runs a control plane'),
    plannedFile(flagsFile, flags, o.force, 'this host joined before, or runs a control plane'),
  ];
  for (const f of plan) if (f.action !== 'unchanged') writeFileAtomic(f.path, f.text, f.path === kubeconfigFile ? 0o600 : 0o644);
  return { endpoint, server, caPin, nodeName, nodeIP, files: plan.map(({ path: p, action }) => ({ path: p, action })) };
}

export function joinReport(r: JoinResult): string {
  const lines = ['', `This node (${r.nodeName}, ${r.nodeIP}) is set up to join the cluster at ${r.server}:`, ''];
  for (const f of r.files) lines.push(`  ${f.action.padEnd(9)} ${f.path}`);
  lines.push(
    '',
    'kubelet.kubeconfig authenticates with the bootstrap token itself: kubets has no',
    'CertificateSigningRequest API yet, so the kubelet gets no client certificate of its',
    'own (TLS bootstrapping replaces this later). Keep the file private (mode 0600).',
    '',
    "Next: (re)start the node's kubelet service; it reads KUBELET_ARGS from",
    `${r.files.find((f) => f.path.endsWith('kubelet-flags.env'))!.path}. Then, on the control plane:`,
    '',
    '  kubectl get nodes',
    '',
  );
  return lines.join('\n');
}

export const JOIN_USAGE_TEXT = `Set up this host as a worker node of a kubets cluster (kubeadm join, bootstrap-token discovery).

Reads the cluster CA from kube-public/cluster-info at ENDPOINT (anonymously), checks it
against --discovery-token-ca-cert-hash, verifies the API server with it and the bootstrap
token, then writes, under --out-dir (default ${DEFAULT_OUT_DIR}):
  pki/ca.crt            the cluster CA
  kubelet.kubeconfig    the kubelet's credentials (the bootstrap token, for now)
  kubelet-flags.env     KUBELET_ARGS for the node's kubelet service

Nothing is written when any check fails. An existing pki/ca.crt of another cluster, or a
kubelet.kubeconfig or kubelet-flags.env that differs, is replaced only with --force.

With --control-plane the node becomes one more control-plane node (kubeadm's manual
certificate distribution): first copy pki/ca.crt, pki/ca.key, pki/sa.key, pki/sa.pub and
tokens.csv from a control-plane node into --out-dir. The node then issues its own API
server certificate and kubeconfigs, adds itself to the KV cluster (MemberAdd), and writes
the static pods of a KV member, a NATS server routed to the others, an API server, a
controller manager and a scheduler. Put a load balancer (kubets lb) in front of the API
servers and use its address as the endpoint, so that the cluster outlives any one node.

Usage:
  kubets join ENDPOINT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH [flags]
  kubets join ENDPOINT --control-plane --token TOKEN --discovery-token-ca-cert-hash sha256:HASH [flags]
`;

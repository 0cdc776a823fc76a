// The kubeadm-style bring-up of a multi-node kubets cluster on nodes that
// already run (kind-style node containers, or machines): the operator's
// steps from the README, in order, with a deadline on every wait.
//
//   1. (optional) `kubets-kv restore` of a snapshot into the first
//      control-plane node's KV data dir;
//   2. `kubets init` on the first control-plane node, then its API server's
//      /readyz through the control-plane endpoint;
//   3. each further control-plane node in turn: the shared certificates and
//      keys copied in, `kubets join --control-plane`, its API server ready
//      (a KV member that was added but does not run would count against the
//      quorum of the next addition);
//   4. `kubets join` on the workers, every node Ready with a podCIDR, and
//      every node's kubelet routing the other nodes' podCIDRs.
//
// How commands run on a node and how files get there is the caller's
// (`NodeRuntime`): the docker CLI for `kubets cluster create`, testcontainers
// for libs/testkit's DockerCluster.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

export type NodeRole = 'control-plane' | 'worker';

export interface BootstrapNode {
  name: string;
  role: NodeRole;
  /** The node's address (its InternalIP, the KV peer and API server address of a control plane). */
  ip: string;
  /** Filled in once the node is Ready. */
  podCIDR?: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** How to reach the nodes. */
export interface NodeRuntime {
  exec(node: string, cmd: string[], timeoutMs?: number): Promise<ExecResult>;
  /** Write files into a node (content, absolute path, mode). */
  writeFiles(node: string, files: Array<{ content: string; path: string; mode: number }>): Promise<void>;
  /** Copy a file of this host into a node (a path not under a tmpfs mount). */
  copyFile(node: string, source: string, target: string): Promise<void>;
}

export interface BootstrapOptions {
  /** host:port of the API server every node uses: a load balancer's, or the only control plane's. */
  endpoint: string;
  /** The cluster's pod network (kubets init --pod-network-cidr). */
  podSubnet: string;
  /** The port each control-plane node's API server listens on (default 6443). */
  apiServerPort?: number;
  /** A KV snapshot on this host to start the first control plane's KV from. */
  restoreSnapshot?: string;
  /** Deadline of each wait for an API server, and for every node to be Ready; default 180 s. */
  readyTimeoutMs?: number;
  /** Called once `kubets init` wrote the admin kubeconfig (before the waits: a failed bring-up can still be inspected). */
  onInit?: (adminKubeconfig: string) => void;
  /** Runs each step, e.g. to time it; default: just runs it. */
  phase?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  /**
   * kubeadm's ClusterConfiguration extraArgs per component (flag name without
   * dashes -> value), e.g. { controllerManager: { 'node-monitor-grace-period': '20s' } }:
   * `kubets init` then runs from a kubeadm config file; joining control planes copy them.
   */
  extraArgs?: Partial<Record<'apiServer' | 'controllerManager' | 'scheduler' | 'etcd', Record<string, string>>>;
}

/** Where `kubets init --config` reads the bring-up's kubeadm configuration on the first control-plane node. */
const INIT_CONFIG_IN_NODE = '/etc/kubernetes/kubeadm-init.yaml';

/**
 * `kubets init`'s kubeadm configuration (kubeadm.k8s.io/v1beta4; JSON is
 * YAML) with the same settings as the bring-up's init flags, plus extraArgs.
 */
export function initConfiguration(cp: BootstrapNode, o: Pick<BootstrapOptions, 'endpoint' | 'podSubnet' | 'extraArgs'>): string {
  const args = (m: Record<string, string> | undefined) => (m ? Object.entries(m).map(([name, value]) => ({ name, value })) : undefined);
  const e = o.extraArgs ?? {};
  const init = { apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration', localAPIEndpoint: { advertiseAddress: cp.ip }, nodeRegistration: { name: cp.name } };
  const cluster = {
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'ClusterConfiguration',
    controlPlaneEndpoint: o.endpoint,
    networking: { podSubnet: o.podSubnet },
    ...(e.apiServer ? { apiServer: { extraArgs: args(e.apiServer) } } : {}),
    ...(e.controllerManager ? { controllerManager: { extraArgs: args(e.controllerManager) } } : {}),
    ...(e.scheduler ? { scheduler: { extraArgs: args(e.scheduler) } } : {}),
    ...(e.etcd ? { etcd: { local: { extraArgs: args(e.etcd) } } } : {}),
  };
  return `${JSON.stringify(init, null, 2)}\n---\n${JSON.stringify(cluster, null, 2)}\n`;
}

export interface BootstrapResult {
  /** admin.kubeconfig of the first control plane (server: the endpoint). */
  adminKubeconfig: string;
  caPem: string;
  adminToken: string;
}

/** Where the shared certificates and keys are (kubets join --control-plane's list), relative to /etc/kubernetes. */
export const SHARED_FILES = ['pki/ca.crt', 'pki/ca.key', 'pki/sa.key', 'pki/sa.pub', 'tokens.csv'];
const API_PORT = 6443;
const KV_DATA_DIR = '/var/lib/etcd';
/** Not under /tmp or /run: tmpfs mounts in node containers, which a copy into a container does not reach. */
const SNAPSHOT_IN_NODE = '/root/kv-restore.db';

/** Wait until `cond` holds (checked every intervalMs), or fail at the deadline with `what`. */
export async function until(what: string, timeoutMs: number, intervalMs: number, cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** GET https://host:port/path verified with `ca`: status and body; status 0 when nothing answered. */
export function httpsGet(endpoint: string, urlPath: string, ca: string, token?: string): Promise<{ status: number; body: string }> {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i).replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const req = https.get(
      { host, port: Number(endpoint.slice(i + 1)), path: urlPath, ca, timeout: 5_000, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

async function execOk(rt: NodeRuntime, node: string, cmd: string[], timeoutMs = 60_000): Promise<string> {
  const r = await rt.exec(node, cmd, timeoutMs);
  if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')} in ${node} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface InitSummary {
  controlPlaneEndpoint: string;
  caCertHash: string;
  adminToken: string;
  bootstrapTokens: Array<{ token: string }>;
}

/** Whether every node is Ready with a podCIDR (and record the podCIDRs). */
async function nodesReady(endpoint: string, ca: string, token: string, nodes: BootstrapNode[]): Promise<boolean> {
  const r = await httpsGet(endpoint, '/api/v1/nodes', ca, token);
  if (r.status !== 200) return false;
  type Item = { metadata: { name: string }; spec?: { podCIDR?: string }; status?: { conditions?: Array<{ type: string; status: string }> } };
  const items = (JSON.parse(r.body) as { items: Item[] }).items;
  for (const n of nodes) {
    const item = items.find((i) => i.metadata.name === n.name);
    if (!item?.spec?.podCIDR || !item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return false;
    n.podCIDR = item.spec.podCIDR;
  }
  return true;
}

/**
 * Every node reaches every other node's podCIDR through that node: the
 * kubelets route them themselves (--configure-pod-routes, written by kubets
 * init/join); wait until every node has its routes.
 */
export async function waitForPodRoutes(rt: NodeRuntime, nodes: BootstrapNode[], timeoutMs = 60_000): Promise<void> {
  await Promise.all(
    nodes.map((n) =>
      until(`${n.name}'s kubelet to route the other nodes' podCIDRs`, timeoutMs, 500, async () => {
        const table = await execOk(rt, n.name, ['ip', '-4', 'route', 'show']);
        return nodes.filter((o) => o !== n && o.podCIDR).every((o) => table.includes(`${o.podCIDR} via ${o.ip}`));
      }),
    ),
  );
}

/** Bring the cluster up on `nodes` (control planes first, the first one runs `kubets init`). */
export async function bootstrapCluster(rt: NodeRuntime, nodes: BootstrapNode[], o: BootstrapOptions): Promise<BootstrapResult> {
  const phase = o.phase ?? (<T>(_: string, fn: () => Promise<T>) => fn());
  const readyTimeoutMs = o.readyTimeoutMs ?? 180_000;
  const cps = nodes.filter((n) => n.role === 'control-plane');
  const workers = nodes.filter((n) => n.role === 'worker');
  const cp = cps[0];
  if (!cp) throw new Error('a cluster needs a control-plane node');

  if (o.restoreSnapshot) {
    const snapshot = o.restoreSnapshot;
    await phase('kubets-kv restore of the snapshot on the first control-plane node', async () => {
      await rt.copyFile(cp.name, snapshot, SNAPSHOT_IN_NODE);
      const peer = `http://${cp.ip}:2380`;
      await execOk(rt, cp.name, ['kubets-entrypoint', 'kv', 'restore', SNAPSHOT_IN_NODE, `--name=${cp.name}`, `--initial-cluster=${cp.name}=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--data-dir=${KV_DATA_DIR}`]);
    });
  }

  await phase('kubets init', async () => {
    if (!o.extraArgs) {
      return execOk(rt, cp.name, ['kubets', 'init', `--apiserver-advertise-address=${cp.ip}`, `--control-plane-endpoint=${o.endpoint}`, `--node-name=${cp.name}`, `--pod-network-cidr=${o.podSubnet}`]);
    }
    // extraArgs have no kubeadm flag: the same settings as a configuration file.
    await rt.writeFiles(cp.name, [{ path: INIT_CONFIG_IN_NODE, content: initConfiguration(cp, o), mode: 0o644 }]);
    return execOk(rt, cp.name, ['kubets', 'init', `--config=${INIT_CONFIG_IN_NODE}`]);
  });
  const caPem = await execOk(rt, cp.name, ['cat', '/etc/kubernetes/pki/ca.crt']);
  const adminKubeconfig = await execOk(rt, cp.name, ['cat', '/etc/kubernetes/admin.kubeconfig']);
  o.onInit?.(adminKubeconfig);
  await phase('API server /readyz through the endpoint', () =>
    until(`https://${o.endpoint}/readyz to answer 200`, readyTimeoutMs, 500, async () => (await httpsGet(o.endpoint, '/readyz', caPem)).status === 200),
  );

  const summary = JSON.parse(await execOk(rt, cp.name, ['cat', '/etc/kubernetes/kubets-init.json'])) as InitSummary;
  const token = summary.bootstrapTokens[0]?.token;
  if (!token) throw new Error('kubets-init.json has no bootstrap token');
  const discovery = [`--token=${token}`, `--discovery-token-ca-cert-hash=${summary.caCertHash}`];

  if (cps.length > 1) {
    const shared = await Promise.all(SHARED_FILES.map(async (f) => ({ f, content: await execOk(rt, cp.name, ['cat', `/etc/kubernetes/${f}`]) })));
    for (const n of cps.slice(1)) {
      await phase(`kubets join --control-plane ${n.name}`, async () => {
        await rt.writeFiles(n.name, shared.map(({ f, content }) => ({ content, path: `/etc/kubernetes/${f}`, mode: f.endsWith('.key') || f === 'tokens.csv' ? 0o600 : 0o644 })));
        await execOk(rt, n.name, ['kubets', 'join', o.endpoint, '--control-plane', `--apiserver-advertise-address=${n.ip}`, `--node-name=${n.name}`, ...discovery], 180_000);
        const own = `${n.ip.includes(':') ? `[${n.ip}]` : n.ip}:${o.apiServerPort ?? API_PORT}`;
        await until(`${n.name}'s API server (https://${own}/readyz) to answer 200`, readyTimeoutMs, 500, async () => (await httpsGet(own, '/readyz', caPem)).status === 200);
      });
    }
  }

  await phase(`kubets join (${workers.length} workers)`, () => Promise.all(workers.map((n) => execOk(rt, n.name, ['kubets', 'join', o.endpoint, `--node-name=${n.name}`, ...discovery]))));
  await phase('every node Ready with a podCIDR', () =>
    until(`${nodes.length} nodes Ready with a podCIDR`, readyTimeoutMs, 1_000, () => nodesReady(o.endpoint, caPem, summary.adminToken, nodes)),
  );
  await phase('pod routes between nodes', () => waitForPodRoutes(rt, nodes));
  return { adminKubeconfig, caPem, adminToken: summary.adminToken };
}

/**
 * Removes what is left of a node container's kubelet cgroups: its
 * --cgroup-root is /kubets/<node> in the host's hierarchy (node containers
 * share /sys/fs/cgroup), under every controller of cgroup v1 or the one tree
 * of v2, deepest first. Returns the folders that could not be removed (still
 * in use).
 */
export function removeNodeCgroups(node: string, root = '/sys/fs/cgroup'): string[] {
  if (!fs.existsSync(root)) return [];
  const tops = [path.join(root, 'kubets', node), ...fs.readdirSync(root).map((c) => path.join(root, c, 'kubets', node))];
  const left: string[] = [];
  for (const top of tops) {
    if (!fs.existsSync(top) || !fs.statSync(top).isDirectory()) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
      dirs.push(d);
    };
    walk(top);
    for (const d of dirs) {
      try {
        fs.rmdirSync(d);
      } catch {
        left.push(d);
      }
    }
  }
  return left;
}

/**
 * The nodes of a cluster of node containers on a /24 of its own, kind's
 * names and fixed addresses: <name>-control-plane, -control-plane2, ... on
 * .10, .11, ...; <name>-worker, -worker2, ... on .20, .21, ... (the load
 * balancer, when there is one, on .2: `loadBalancerAddress`).
 */
export function clusterNodes(name: string, subnet: string, controlPlanes: number, workers: number): BootstrapNode[] {
  const nodes: BootstrapNode[] = [];
  for (let i = 1; i <= controlPlanes; i++) nodes.push({ name: `${name}-control-plane${i === 1 ? '' : i}`, role: 'control-plane', ip: hostOf(subnet, 9 + i) });
  for (let i = 1; i <= workers; i++) nodes.push({ name: `${name}-worker${i === 1 ? '' : i}`, role: 'worker', ip: hostOf(subnet, 19 + i) });
  return nodes;
}

export function loadBalancerAddress(subnet: string): string {
  return hostOf(subnet, 2);
}

function hostOf(subnet: string, i: number): string {
  return subnet.replace(/0\/24$/, String(i));
}

/**
 * `docker network create` of a bridge with a /24 of its own (fixed node
 * addresses need one): `want`, or 192.168.N.0/24 for a free N. `docker`
 * runs the docker CLI. Returns the subnet.
 */
export async function createClusterNetwork(
  name: string,
  labels: Record<string, string>,
  want: string | undefined,
  docker: (args: string[]) => Promise<{ code: number; stderr: string }>,
): Promise<string> {
  if (want !== undefined && !/^\d+\.\d+\.\d+\.0\/24$/.test(want)) throw new Error(`subnet ${want}: want a /24 (a.b.c.0/24)`);
  const tried: string[] = [];
  for (let attempt = 0; attempt < (want ? 1 : 20); attempt++) {
    const subnet = want ?? `192.168.${100 + Math.floor(Math.random() * 150)}.0/24`;
    const r = await docker(['network', 'create', '--driver', 'bridge', '--subnet', subnet, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), name]);
    if (r.code === 0) return subnet;
    if (/already exists/.test(r.stderr)) throw new Error(`a Docker network "${name}" exists already`);
    if (!/overlap|in use/i.test(r.stderr)) throw new Error(`docker network create ${name}: ${r.stderr.trim()}`);
    tried.push(subnet);
  }
  throw new Error(`docker network create ${name}: every subnet tried overlaps another network (${tried.join(', ')})`);
}

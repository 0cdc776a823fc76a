// `kubets cluster create|delete` and `kubets image load --cluster`: kind's
// commands for kubets. Every node is a kubets/node container (docker/node)
// on a Docker network of the cluster's own, with a fixed address; with more
// than one control plane a kubets/kubets container running `kubets lb` is the
// control-plane endpoint (kind's external load balancer). The bring-up is
// @kubets/cluster-bootstrap's (kubets init, join --control-plane, join), run
// through the docker CLI. libs/testkit's DockerCluster runs the same steps
// through testcontainers, for tests.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import https from 'node:https';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrapCluster, clusterNodes, createClusterNetwork, loadBalancerAddress, removeNodeCgroups, until, type BootstrapNode, type NodeRuntime } from '@kubets/cluster-bootstrap';
import { writeFileAtomic } from '@kubets/pki';
import type { FlagSpecs } from '@kubets/service-kit';
import YAML from 'yaml';

/** infra/kube-proxy.yaml of this checkout (the CLI runs from apps/cli/dist). */
const DEFAULT_KUBE_PROXY_MANIFEST = path.resolve(__dirname, '..', '..', '..', 'infra', 'kube-proxy.yaml');

/** The label of every container and network of a cluster (value: the cluster name). */
export const CLUSTER_LABEL = 'io.kubets.docker-cluster';
const API_PORT = 6443;

export const CLUSTER_CREATE_FLAGS = {
  name: { type: 'string', default: 'kubets', description: 'The cluster name: the prefix of its containers and node names, and its Docker network' },
  'control-planes': { type: 'number', integer: true, min: 1, max: 9, default: 1, description: 'Control-plane nodes (more than one: a kubets lb container in front of their API servers)' },
  workers: { type: 'number', integer: true, min: 0, max: 50, default: 0, description: 'Worker nodes' },
  image: { type: 'string', description: 'The node image (default kubets/node:<version>, built by docker/build.sh)' },
  'lb-image': { type: 'string', description: 'The load balancer image (default kubets/kubets:<version>)' },
  'pod-network-cidr': { type: 'string', default: '10.244.0.0/16', description: 'The cluster pod network (each node gets a /24 of it)' },
  subnet: { type: 'string', description: "The Docker network's /24 (default a free 192.168.N.0/24): .2 the load balancer, .10+ control planes, .20+ workers" },
  kubeconfig: { type: 'string', description: 'Where to write the admin kubeconfig (default $HOME/.kube/kubets-<name>.config)' },
  'kube-proxy-manifest': { type: 'string', default: DEFAULT_KUBE_PROXY_MANIFEST, description: "kube-proxy's ConfigMap and DaemonSet, applied once the nodes are Ready (its nats-url set to the control planes' NATS)" },
  'skip-kube-proxy': { type: 'boolean', description: 'Do not install kube-proxy (Services then have no load balancing)' },
} as const satisfies FlagSpecs;

export const CLUSTER_DELETE_FLAGS = {
  name: { type: 'string', default: 'kubets', description: 'The cluster to delete' },
  kubeconfig: { type: 'string', description: 'The kubeconfig create wrote, removed too (default $HOME/.kube/kubets-<name>.config)' },
} as const satisfies FlagSpecs;

/** A failure the user can act on: printed without a stack, exit code 1. */
export class ClusterError extends Error {}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI (stdin from `input`), bounded by timeoutMs. */
export function docker(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal} (timeout)` : stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(o.input ?? '');
  });
}

async function dockerOk(args: string[], o: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await docker(args, o);
  if (r.code !== 0) throw new ClusterError(`docker ${args.slice(0, 3).join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export function defaultKubeconfig(name: string): string {
  return path.join(os.homedir(), '.kube', `kubets-${name}.config`);
}

/** The docker run flags of a kubets/node container (docker/README.md, PLATFORM.md: no --privileged here). */
export function nodeRunArgs(cluster: string, network: string, node: BootstrapNode, image: string): string[] {
  return [
    'run', '-d',
    '--name', node.name,
    '--hostname', node.name,
    '--network', network,
    '--ip', node.ip,
    '--label', `${CLUSTER_LABEL}=${cluster}`,
    '--label', `${CLUSTER_LABEL}.role=${node.role}`,
    '--cap-add', 'ALL',
    '--cap-drop', 'SYS_RESOURCE',
    '--security-opt', 'seccomp=unconfined',
    '--security-opt', 'apparmor=unconfined',
    '--security-opt', 'systempaths=unconfined',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw',
    '--tmpfs', '/run',
    '--tmpfs', '/tmp',
    // /var/lib/containerd is the image's VOLUME: an anonymous volume (not overlay on overlay); `docker rm -v` removes it.
    image,
  ];
}

/** The nodes as @kubets/cluster-bootstrap reaches them: docker exec and docker cp. */
export function dockerRuntime(): NodeRuntime {
  return {
    exec: async (node, cmd, timeoutMs) => {
      const r = await docker(['exec', node, ...cmd], { timeoutMs: timeoutMs ?? 60_000 });
      return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    writeFiles: async (node, files) => {
      for (const f of files) {
        const dir = path.posix.dirname(f.path);
        await dockerOk(['exec', '-i', node, 'sh', '-c', `mkdir -p '${dir}' && cat > '${f.path}' && chmod ${f.mode.toString(8)} '${f.path}'`], { input: f.content });
      }
    },
    copyFile: async (node, source, target) => {
      await dockerOk(['cp', source, `${node}:${target}`], { timeoutMs: 300_000 });
    },
  };
}

async function waitForLog(container: string, line: string, timeoutMs: number): Promise<void> {
  await until(`${container} to log "${line}"`, timeoutMs, 500, async () => (await docker(['logs', container])).stdout.includes(line)).catch(async (e: Error) => {
    const logs = await docker(['logs', '--tail', '20', container]);
    throw new ClusterError(`${e.message}; its last lines:\n${logs.stdout}${logs.stderr}`);
  });
}

export interface CreateOptions {
  name: string;
  controlPlanes: number;
  workers: number;
  image: string;
  lbImage: string;
  podSubnet: string;
  subnet?: string;
  kubeconfig: string;
  /** kube-proxy's manifest (ConfigMap + DaemonSet); undefined: not installed. */
  kubeProxyManifest?: string;
  log: (line: string) => void;
}

export async function createCluster(o: CreateOptions): Promise<{ nodes: BootstrapNode[]; endpoint: string; seconds: number }> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.name)) throw new ClusterError(`cluster name "${o.name}" is not a DNS-1123 label`);
  if ((await docker(['version', '--format', '{{.Server.Version}}'])).code !== 0) throw new ClusterError('docker does not answer: start dockerd (bash infra/setup does)');
  for (const image of [o.image, ...(o.controlPlanes > 1 ? [o.lbImage] : [])]) {
    if ((await docker(['image', 'inspect', image])).code !== 0) throw new ClusterError(`image ${image} is not in the local docker engine: build it with bash docker/build.sh`);
  }
  if (o.kubeProxyManifest && !fs.existsSync(o.kubeProxyManifest)) throw new ClusterError(`no kube-proxy manifest at ${o.kubeProxyManifest} (--kube-proxy-manifest FILE, or --skip-kube-proxy)`);
  if ((await docker(['ps', '-aq', '--filter', `label=${CLUSTER_LABEL}=${o.name}`])).stdout.trim()) {
    throw new ClusterError(`cluster "${o.name}" exists already: \`kubets cluster delete --name ${o.name}\` first, or another --name`);
  }
  const started = Date.now();
  const phase = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const r = await fn();
    o.log(`[${what}] ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  };
  let subnet: string;
  try {
    subnet = await createClusterNetwork(o.name, { [CLUSTER_LABEL]: o.name }, o.subnet, (args) => docker(args));
  } catch (e) {
    throw new ClusterError(`${(e as Error).message} (\`kubets cluster delete --name ${o.name}\`, another --name or --subnet)`);
  }
  o.log(`[network] ${o.name} ${subnet}`);
  const nodes = clusterNodes(o.name, subnet, o.controlPlanes, o.workers);
  try {
    await phase(`start ${nodes.length} node containers`, async () => {
      await Promise.all(nodes.map((n) => dockerOk(nodeRunArgs(o.name, o.name, n, o.image))));
      await Promise.all(nodes.map((n) => waitForLog(n.name, 'kubets-node-init: images ready', 180_000)));
    });
    let endpoint = `${nodes[0]!.ip}:${API_PORT}`;
    if (o.controlPlanes > 1) {
      const lb = `${o.name}-external-load-balancer`;
      const lbIp = loadBalancerAddress(subnet);
      const backends = nodes.filter((n) => n.role === 'control-plane').flatMap((n) => ['--backend', `${n.ip}:${API_PORT}`]);
      await phase('load balancer', async () => {
        await dockerOk(['run', '-d', '--name', lb, '--network', o.name, '--ip', lbIp, '--label', `${CLUSTER_LABEL}=${o.name}`, o.lbImage, 'kubets', 'lb', '--port', String(API_PORT), ...backends]);
        await waitForLog(lb, 'load balancer started', 30_000);
      });
      endpoint = `${lbIp}:${API_PORT}`;
    }
    const up = await bootstrapCluster(dockerRuntime(), nodes, {
      endpoint,
      podSubnet: o.podSubnet,
      phase,
      onInit: (kubeconfig) => {
        fs.mkdirSync(path.dirname(o.kubeconfig), { recursive: true });
        writeFileAtomic(o.kubeconfig, kubeconfig, 0o600);
      },
    });
    if (o.kubeProxyManifest) {
      const manifest = o.kubeProxyManifest;
      const natsUrl = nodes.filter((n) => n.role === 'control-plane').map((n) => `nats://${n.ip}:4222`).join(',');
      await phase('kube-proxy DaemonSet', () => installKubeProxy(manifest, endpoint, up.caPem, up.adminToken, natsUrl));
    }
    return { nodes, endpoint, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    o.log(`creating cluster ${o.name} failed; the containers stay for inspection (docker logs ${nodes[0]!.name}); \`kubets cluster delete --name ${o.name}\` removes them`);
    throw err;
  }
}

/** POST an object to the API server (verified with the cluster CA); AlreadyExists is fine (a re-run). */
function create(endpoint: string, ca: string, token: string, urlPath: string, obj: unknown): Promise<void> {
  const i = endpoint.lastIndexOf(':');
  const body = JSON.stringify(obj);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)), path: urlPath, method: 'POST', ca, agent: false, timeout: 30_000, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.statusCode === 201 || res.statusCode === 409 ? resolve() : reject(new ClusterError(`POST ${urlPath}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`))));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (e) => reject(new ClusterError(`POST ${urlPath}: ${e.message}`)));
    req.end(body);
  });
}

/**
 * kubeadm's kube-proxy addon (kind clusters have it too): the ConfigMap and
 * DaemonSet of `manifest` (infra/kube-proxy.yaml), with the ConfigMap's
 * nats-url set to every control-plane node's NATS.
 */
export async function installKubeProxy(manifest: string, endpoint: string, ca: string, token: string, natsUrl: string): Promise<void> {
  let docs: Array<{ kind?: string; metadata?: { namespace?: string }; data?: Record<string, string> }>;
  try {
    docs = YAML.parseAllDocuments(fs.readFileSync(manifest, 'utf8')).map((d) => d.toJS() as (typeof docs)[number]).filter(Boolean);
  } catch (e) {
    throw new ClusterError(`kube-proxy manifest ${manifest}: ${(e as Error).message} (--kube-proxy-manifest, or --skip-kube-proxy)`);
  }
  const where: Record<string, string> = { ConfigMap: '/api/v1/namespaces/%s/configmaps', DaemonSet: '/apis/apps/v1/namespaces/%s/daemonsets' };
  for (const doc of docs) {
    const collection = doc.kind && where[doc.kind];
    if (!collection) throw new ClusterError(`kube-proxy manifest ${manifest}: a ${doc.kind ?? 'document without kind'} (only a ConfigMap and a DaemonSet are expected)`);
    if (doc.kind === 'ConfigMap' && doc.data && 'nats-url' in doc.data) doc.data['nats-url'] = natsUrl;
    await create(endpoint, ca, token, collection.replace('%s', doc.metadata?.namespace ?? 'kube-system'), doc);
  }
}

/** Removes the cluster's containers (and their volumes), network, cgroups and kubeconfig; what it removed. */
export async function deleteCluster(name: string, kubeconfig: string): Promise<string[]> {
  const removed: string[] = [];
  const ids = (await dockerOk(['ps', '-a', '--filter', `label=${CLUSTER_LABEL}=${name}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  if (ids.length > 0) {
    await dockerOk(['rm', '-f', '-v', ...ids], { timeoutMs: 300_000 });
    removed.push(...ids.map((c) => `container ${c}`));
  }
  const nets = (await dockerOk(['network', 'ls', '--filter', `label=${CLUSTER_LABEL}=${name}`, '--format', '{{.Name}}'])).split('\n').filter(Boolean);
  for (const n of nets) {
    await dockerOk(['network', 'rm', n]);
    removed.push(`network ${n}`);
  }
  // The kubelets' cgroups (--cgroup-root /kubets/<node>) live in the host's hierarchy, shared by the nodes.
  for (const node of ids) removeNodeCgroups(node);
  if (fs.existsSync(kubeconfig)) {
    fs.rmSync(kubeconfig);
    removed.push(`kubeconfig ${kubeconfig}`);
  }
  return removed;
}

/** The node containers of a cluster (or the one named), for `kubets image load --cluster`. */
export async function clusterNodeContainers(name: string, node?: string): Promise<string[]> {
  const all = (await dockerOk(['ps', '--filter', `label=${CLUSTER_LABEL}.role`, '--filter', `label=${CLUSTER_LABEL}=${name}`, '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
  if (all.length === 0) throw new ClusterError(`no running node containers of cluster "${name}" (kubets cluster create --name ${name})`);
  if (node === undefined) return all;
  if (!all.includes(node)) throw new ClusterError(`cluster "${name}" has no node "${node}" (its nodes: ${all.join(', ')})`);
  return [node];
}

/** Imports image archives (files on this host) into each node's containerd (namespace k8s.io). */
export async function loadArchives(nodes: string[], archives: string[], log: (line: string) => void): Promise<void> {
  for (const node of nodes) {
    for (const file of archives) {
      const inNode = `/root/kubets-image-${crypto.randomBytes(4).toString('hex')}.tar`;
      await dockerOk(['cp', file, `${node}:${inNode}`], { timeoutMs: 300_000 });
      try {
        const out = await dockerOk(['exec', node, 'ctr', '-n', 'k8s.io', 'images', 'import', inNode], { timeoutMs: 300_000 });
        log(`${node}: ${out.trim().split('\n').join('; ') || path.basename(file)}`);
      } finally {
        await docker(['exec', node, 'rm', '-f', inNode]);
      }
    }
  }
}

export const CLUSTER_USAGE = `Create and delete kubets clusters of Docker containers, one per node (like kind).

Usage:
  kubets cluster create [--name NAME] [--control-planes N] [--workers N] [flags]
  kubets cluster delete [--name NAME]

create starts the node containers (kubets/node, built by docker/build.sh) on a
Docker network of the cluster's own with fixed addresses, puts a kubets lb
container in front of the API servers when there is more than one control
plane, runs kubets init on the first control-plane node, kubets join
--control-plane on the others one at a time and kubets join on the workers,
waits until every node is Ready, and writes the admin kubeconfig:

  kubets cluster create --control-planes 3 --workers 2
  export KUBECONFIG=$HOME/.kube/kubets-kubets.config
  kubectl get nodes

kube-proxy is installed as a DaemonSet (infra/kube-proxy.yaml, its nats-url
set to the control-plane nodes' NATS), as kubeadm's addon phase does.
\`kubets image load IMAGE --cluster NAME\` loads images into the nodes. delete removes the containers, their
volumes, the network, the nodes' cgroups and the kubeconfig.
`;

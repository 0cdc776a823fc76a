// A kubets cluster of kind-style Docker node containers (kubets/node, see
// docker/README.md), brought up the way a user would: `kubets init` on the
// first control-plane node and `kubets join` on the workers, driven through
// testcontainers (network, containers, exec).
//
// What this machine needs (/work/shared/PLATFORM.md): no registry (the node
// image is built locally by docker/build.sh), no --privileged (the node
// containers get every capability but SYS_RESOURCE, unconfined seccomp,
// AppArmor and system paths, the host's cgroup hierarchy, tmpfs /run and /tmp,
// and a bind-mounted, not overlay, /var/lib/containerd), no Ryuk reaper image
// (delete() cleans up), and nothing may leave the machine: every node routes
// the service CIDR and the whole cluster pod CIDR into a local sink device
// before any client runs; the pod CIDRs of the other nodes are routed to those
// nodes (more specific routes win over the sink).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { bootstrapCluster, clusterNodes, createClusterNetwork, loadBalancerAddress, removeNodeCgroups, waitForPodRoutes, type BootstrapOptions, type NodeRuntime } from '@kubets/cluster-bootstrap';
import { run } from './containerd';
import { runKubectl, type KubectlResult } from './control-plane';
import { TEST_LOG_DIR } from './process';
import { waitFor } from './wait';

/** The service CIDR `kubets init` uses by default (kubeadm's). */
export const DOCKER_CLUSTER_SERVICE_CIDR = '10.96.0.0/12';
const API_PORT = 6443;
/** The sink device of every node (PLATFORM.md: this kernel has no `dummy`, `ifb` works). */
const SINK = 'ksink';

export interface DockerClusterOptions {
  /**
   * Control-plane nodes (default 1): the first runs `kubets init`, the others
   * `kubets join --control-plane` one after the other (a KV member and a NATS
   * server each). With more than one, a load balancer container (`kubets lb`)
   * in front of their API servers is the control-plane endpoint, as kind does.
   */
  controlPlanes?: number;
  workers?: number;
  /** Prefix of the containers, the network and the node names (lower case, DNS-1123); default kubets-<random>. */
  name?: string;
  /** Default kubets/node:<root package.json version>. */
  image?: string;
  /** The cluster pod CIDR (a /16); default a random 10.N.0.0/16 clear of the service CIDR and of 10.244.200-254 (other tests' bridges). */
  podSubnet?: string;
  /** Route the pod CIDR on the host via the first worker (only for tests that reach pods from the host); removed by delete(). */
  hostPodRoute?: boolean;
  /** Progress lines (phases and their durations); default none. */
  log?: (line: string) => void;
  /** Deadline for the node containers to boot containerd and import their images; default 180 s. */
  bootTimeoutMs?: number;
  /** Deadline for the API server, and then for every node to be Ready; default 180 s each. */
  readyTimeoutMs?: number;
  /**
   * A KV snapshot on the host (etcdctl snapshot save): the first control-plane
   * node's KV starts from it (`kubets-kv restore` into its data dir before
   * `kubets init`), as an operator restores a cluster from a backup.
   */
  restoreSnapshot?: string;
  /** kubeadm's ClusterConfiguration extraArgs per component (`kubets init` then runs from a config file); see libs/cluster-bootstrap. */
  extraArgs?: BootstrapOptions['extraArgs'];
  /**
   * The Docker network's /24 (default a free 192.168.N.0/24). The addresses
   * follow from it: .2 the load balancer, .10 on the control-plane nodes,
   * .20 on the workers; a cluster created again on the same subnet gets the
   * same node addresses (a restore onto the same machines).
   */
  subnet?: string;
}

export type { NodeRole } from '@kubets/cluster-bootstrap';
import type { NodeRole } from '@kubets/cluster-bootstrap';

export interface DockerClusterNode {
  name: string;
  role: NodeRole;
  /** The address on the cluster's Docker network (also the node's InternalIP). */
  ip: string;
  /** The node's spec.podCIDR once the controller manager allocated it. */
  podCIDR?: string;
  container: StartedTestContainer;
  /** The host folder bind-mounted at /var/lib/containerd. */
  containerdDir: string;
}

export interface NodeExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const LB_PORT = API_PORT;

const LABEL = 'io.kubets.docker-cluster';
const OWNER_LABEL = 'io.kubets.docker-cluster.owner';

/**
 * Remove the containers and networks of Docker clusters whose owner process
 * (on this host) is gone: a test run killed before its delete() ran (there is
 * no Ryuk reaper here). Those of live processes, and of other hosts, stay.
 * Returns what was removed.
 */
export async function reapLeftovers(): Promise<string[]> {
  const alive = (owner: string | undefined) => {
    const [host, pid] = (owner ?? '').split('/');
    if (host !== os.hostname() || !pid) return true;
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
  };
  const removed: string[] = [];
  const list = async (kind: 'container' | 'network') => {
    const r = await run('docker', [kind === 'container' ? 'ps' : 'network', ...(kind === 'container' ? ['-a'] : ['ls']), '--filter', `label=${LABEL}`, '--format', `{{.Names}}\t{{.Label "${OWNER_LABEL}"}}`]);
    return r.code === 0 ? r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string | undefined]) : [];
  };
  for (const [name, owner] of await list('container')) {
    if (alive(owner)) continue;
    if ((await run('docker', ['rm', '-f', '-v', name])).code === 0) removed.push(`container ${name}`);
    removeNodeCgroups(name); // what stays (still in use) a later delete() reports
  }
  for (const [name, owner] of await list('network')) {
    if (alive(owner)) continue;
    if ((await run('docker', ['network', 'rm', name])).code === 0) removed.push(`network ${name}`);
  }
  return removed;
}


type Testcontainers = typeof import('testcontainers');

const ROOT = path.resolve(__dirname, '..', '..', '..');

function rootVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** 10.N.0.0/16 with N in 112..243: above the service CIDR 10.96.0.0/12 (10.96-111) and below 10.244 (other tests' bridges use 10.244.200-254). */
export function randomPodSubnet(): string {
  return `10.${112 + crypto.randomInt(0, 132)}.0.0/16`;
}

function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}


/**
 * testcontainers' GenericContainer plus `docker run --security-opt
 * systempaths=unconfined`, which is a docker CLI option, not an Engine API
 * one (the Engine refuses it: "invalid --security-opt 2"): the CLI sends it as
 * empty HostConfig.MaskedPaths and ReadonlyPaths, and so does this (through
 * the protected hostConfig; testcontainers 11 has no setter for them). Nested
 * runc containers need an unmasked /proc (runc mounts a fresh procfs).
 */
function nodeContainerClass(tc: Testcontainers) {
  return class NodeContainer extends tc.GenericContainer {
    withUnconfinedSystemPaths(): this {
      this.hostConfig.MaskedPaths = [];
      this.hostConfig.ReadonlyPaths = [];
      return this;
    }

    /** docker run --network NET --ip IP (testcontainers 11 has no setter for the endpoint's IPAM config). */
    withStaticAddress(network: string, ip: string): this {
      this.withNetworkMode(network);
      this.createOpts.NetworkingConfig = { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ip } } } };
      return this;
    }
  };
}

export class DockerCluster {
  readonly nodes: DockerClusterNode[] = [];
  /** The API servers' load balancer (more than one control plane): its container and address. */
  loadBalancer: { name: string; ip: string; container: StartedTestContainer } | undefined;
  /** host:port of the API server every node and the host's kubectl use (the load balancer, or the only control plane). */
  endpoint = '';
  /** Seconds each bring-up phase took, in order. */
  readonly timings: Array<{ phase: string; seconds: number }> = [];
  /** Where the host's kubectl reads the admin kubeconfig (a copy of the control plane's admin.kubeconfig). */
  readonly kubeconfig: string;
  private network: { name: string; subnet: string } | undefined;
  private hostRoute: string | undefined;
  private readonly home: string;

  private constructor(
    private readonly tc: Testcontainers,
    readonly name: string,
    readonly podSubnet: string,
    /** Host folder of the kubeconfig, kubectl's HOME and the containerd folders. */
    readonly dir: string,
    private readonly log: (line: string) => void,
  ) {
    this.kubeconfig = path.join(dir, 'admin.kubeconfig');
    this.home = path.join(dir, 'home');
    fs.mkdirSync(this.home, { recursive: true });
  }

  /**
   * Start the node containers, `kubets init` the first, `kubets join` the
   * workers, wait until every node is Ready with a podCIDR and route the pod
   * CIDRs between nodes. On failure the logs go to
   * <TEST_LOG_DIR>/<name>-create-failed (named in the error) and everything
   * created is removed.
   */
  static async create(options: DockerClusterOptions = {}): Promise<DockerCluster> {
    // Before testcontainers reads its configuration: no Ryuk image can be
    // pulled here, and this machine has /.dockerenv (so testcontainers would
    // look for the Docker host on a gateway instead of localhost).
    process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
    // Loaded here, not at the top: every test importing @kubets/testkit would
    // otherwise load testcontainers and its Docker client.
    const tc = await import('testcontainers');
    const name = options.name ?? `kubets-${crypto.randomBytes(3).toString('hex')}`;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new Error(`cluster name "${name}" is not a DNS-1123 label`);
    if (!Number.isInteger(options.controlPlanes ?? 1) || (options.controlPlanes ?? 1) < 1) throw new Error('DockerCluster: controlPlanes must be a positive integer');
    const reaped = await reapLeftovers();
    if (reaped.length) (options.log ?? (() => undefined))(`removed what killed test runs left: ${reaped.join(', ')}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
    const cluster = new DockerCluster(tc, name, options.podSubnet ?? randomPodSubnet(), dir, options.log ?? (() => undefined));
    try {
      await cluster.bringUp(options);
    } catch (err) {
      // Outside cluster.dir, which delete() removes.
      const logs = path.join(TEST_LOG_DIR, `${name}-create-failed`);
      await cluster.collectLogs(logs).catch(() => undefined);
      await cluster.delete().catch((e: Error) => cluster.log(e.message));
      (err as Error).message += `\n(node logs in ${logs})`;
      throw err;
    }
    return cluster;
  }

  private async phase<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await fn();
    const seconds = (Date.now() - started) / 1000;
    this.timings.push({ phase, seconds });
    this.log(`[${this.name}] ${phase}: ${seconds.toFixed(1)} s`);
    return result;
  }

  private async bringUp(o: DockerClusterOptions): Promise<void> {
    const image = o.image ?? `kubets/node:${rootVersion()}`;
    const readyTimeoutMs = o.readyTimeoutMs ?? 180_000;
    const cps = o.controlPlanes ?? 1;
    // Fixed addresses: a control-plane node that is killed or partitioned
    // must come back on its address (its KV peer URL and certificate name it).
    const subnet = await this.phase('network', () => createClusterNetwork(this.name, this.labels(), o.subnet, (args) => run('docker', args)));
    this.network = { name: this.name, subnet };
    const planned = clusterNodes(this.name, subnet, cps, o.workers ?? 0);
    await this.phase(`start ${planned.length} node containers (containerd up, images imported)`, () =>
      Promise.all(planned.map((n) => this.startNode(n.name, n.role, image, n.ip, o.bootTimeoutMs ?? 180_000))),
    );
    // Before any client (kubelet, pod) runs: nothing to the service or pod CIDRs may leave the machine.
    await this.phase('sinks for the service and pod CIDRs', () => Promise.all(this.nodes.map((n) => this.addSinks(n))));

    const cpNodes = this.controlPlanes;
    if (cps > 1) {
      const lbIp = loadBalancerAddress(subnet);
      await this.phase('API server load balancer (kubets lb)', () => this.startLoadBalancer(lbIp, cpNodes.map((n) => `${n.ip}:${API_PORT}`)));
      this.endpoint = `${lbIp}:${LB_PORT}`;
    } else {
      this.endpoint = `${cpNodes[0]!.ip}:${API_PORT}`;
    }

    // The operator's steps (init, join --control-plane one at a time, join), through testcontainers.
    await bootstrapCluster(this.runtime(), this.nodes, {
      endpoint: this.endpoint,
      podSubnet: this.podSubnet,
      restoreSnapshot: o.restoreSnapshot,
      extraArgs: o.extraArgs,
      readyTimeoutMs,
      phase: (name, fn) => this.phase(name, fn),
      onInit: (kubeconfig) => fs.writeFileSync(this.kubeconfig, kubeconfig, { mode: 0o600 }),
    });
    if (o.hostPodRoute) {
      const via = this.nodes.find((n) => n.role === 'worker') ?? cpNodes[0]!;
      const r = await run('ip', ['route', 'replace', this.podSubnet, 'via', via.ip]);
      if (r.code !== 0) throw new Error(`ip route replace ${this.podSubnet} via ${via.ip} on the host: ${r.stderr}`);
      this.hostRoute = this.podSubnet;
    }
  }

  /** The nodes as @kubets/cluster-bootstrap reaches them: testcontainers' exec and copy. */
  private runtime(): NodeRuntime {
    return {
      exec: (node, cmd, timeoutMs) => this.exec(node, cmd, timeoutMs),
      writeFiles: (node, files) => this.node(node).container.copyContentToContainer(files.map((f) => ({ content: f.content, target: f.path, mode: f.mode }))),
      copyFile: (node, source, target) => this.node(node).container.copyFilesToContainer([{ source, target }]),
    };
  }

  /** What every container and the network carry: the cluster, and the process that owns it (for reapLeftovers). */
  private labels(): Record<string, string> {
    return { [LABEL]: this.name, [OWNER_LABEL]: `${os.hostname()}/${process.pid}` };
  }

  /** `kubets lb` in a kubets/kubets container: the control-plane endpoint of an HA cluster (kind's external load balancer). */
  private async startLoadBalancer(ip: string, backends: string[]): Promise<void> {
    const name = `${this.name}-external-load-balancer`;
    const container = await new (nodeContainerClass(this.tc))(`kubets/kubets:${rootVersion()}`)
      .withStaticAddress(this.network!.name, ip)
      .withName(name)
      .withLabels(this.labels())
      .withCommand(['kubets', 'lb', '--port', String(LB_PORT), '--health-interval', '1s', ...backends.flatMap((b) => ['--backend', b])])
      .withWaitStrategy(this.tc.Wait.forLogMessage(/load balancer started/))
      .withStartupTimeout(30_000)
      .start();
    this.loadBalancer = { name, ip, container };
  }

  private async startNode(name: string, role: NodeRole, image: string, ip: string, bootTimeoutMs: number): Promise<void> {
    const containerdDir = path.join(this.dir, name, 'containerd');
    fs.mkdirSync(containerdDir, { recursive: true });
    const container = await new (nodeContainerClass(this.tc))(image)
      .withUnconfinedSystemPaths()
      .withName(name)
      .withHostname(name)
      // No network aliases: with aliases testcontainers creates the container
      // on Docker's default bridge and then connects it to the network (a
      // second interface, on a bridge other tests share). On a user network
      // Docker's DNS resolves the container name, which is the node name.
      .withStaticAddress(this.network!.name, ip)
      .withLabels(this.labels())
      // --privileged fails here ("unable to apply caps"); this is what works (PLATFORM.md).
      .withAddedCapabilities('ALL')
      .withDroppedCapabilities('SYS_RESOURCE')
      .withSecurityOpt('seccomp=unconfined', 'apparmor=unconfined')
      .withTmpFs({ '/run': '', '/tmp': '' })
      .withBindMounts([
        { source: '/sys/fs/cgroup', target: '/sys/fs/cgroup', mode: 'rw' },
        // Not the image's VOLUME: a host folder that delete() removes, and
        // containerd's overlayfs snapshots must not sit on the container's overlay.
        { source: containerdDir, target: '/var/lib/containerd', mode: 'rw' },
      ])
      .withWaitStrategy(this.tc.Wait.forLogMessage('kubets-node-init: images ready'))
      .withStartupTimeout(bootTimeoutMs)
      .start();
    // Kept in the order of `names` (the control plane first) whatever order they start in.
    this.nodes.push({ name, role, ip, container, containerdDir });
    this.nodes.sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name, 'en', { numeric: true }) : a.role === 'control-plane' ? -1 : 1));
  }

  private async addSinks(n: DockerClusterNode): Promise<void> {
    // The node image's `ip` is busybox's; it creates ifb links. Idempotent (start() re-runs it).
    await this.execOk(n.name, [
      'sh', '-c',
      `ip link show ${SINK} >/dev/null 2>&1 || ip link add ${SINK} type ifb; ip link set ${SINK} up && ` +
        `ip route replace ${DOCKER_CLUSTER_SERVICE_CIDR} dev ${SINK} && ip route replace ${this.podSubnet} dev ${SINK}`,
    ]);
  }

  /** Wait until every node's kubelet routes the other nodes' podCIDRs. */
  private routePods(): Promise<void> {
    return waitForPodRoutes(this.runtime(), this.nodes);
  }

  node(name: string): DockerClusterNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in cluster ${this.name} (nodes: ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** The first control-plane node (the one `kubets init` ran on). */
  get controlPlane(): DockerClusterNode {
    return this.nodes[0]!;
  }

  /** The Docker network's /24 (create() again with it for the same addresses). */
  get subnet(): string {
    if (!this.network) throw new Error(`cluster ${this.name} has no network`);
    return this.network.subnet;
  }

  get controlPlanes(): DockerClusterNode[] {
    return this.nodes.filter((n) => n.role === 'control-plane');
  }

  get workers(): DockerClusterNode[] {
    return this.nodes.filter((n) => n.role === 'worker');
  }

  /** The host's stock kubectl with the cluster's admin kubeconfig. */
  kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return runKubectl(this.kubeconfig, this.home, args, opts);
  }

  /** Run `cmd` in a node container (bounded by timeoutMs, default 60 s). */
  async exec(node: string, cmd: string[], timeoutMs = 60_000): Promise<NodeExecResult> {
    const r = await withTimeout(`exec ${cmd.join(' ')} in ${node}`, timeoutMs, this.node(node).container.exec(cmd));
    return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** exec, failing with the output when the command exits non-zero; its stdout. */
  async execOk(node: string, cmd: string[], timeoutMs = 60_000): Promise<string> {
    const r = await this.exec(node, cmd, timeoutMs);
    if (r.exitCode !== 0) throw new Error(`${cmd.join(' ')} in ${node} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /**
   * `docker stop` the node container (its init stops the kubelet and
   * containerd on SIGTERM); the container and its containerd folder stay.
   * Through testcontainers' Docker client (dockerode): testcontainers' own
   * stop() removes the container.
   */
  async stop(node: string): Promise<void> {
    const client = await this.tc.getContainerRuntimeClient();
    await client.container.stop(client.container.getById(this.node(node).container.getId()), { timeout: 20_000 }); // ms
  }

  /** `docker kill` the node container (SIGKILL to its init: nothing stops cleanly, as a machine losing power). */
  async kill(node: string): Promise<void> {
    const r = await run('docker', ['kill', this.node(node).name]);
    if (r.code !== 0) throw new Error(`docker kill ${node}: ${r.stderr.trim()}`);
  }

  /** Partition a node from every other node and the host: `docker network disconnect` (its address goes with it). */
  async disconnect(node: string): Promise<void> {
    const r = await run('docker', ['network', 'disconnect', this.network!.name, this.node(node).name]);
    if (r.code !== 0) throw new Error(`docker network disconnect ${node}: ${r.stderr.trim()}`);
  }

  /**
   * Heal a partition: `docker network connect --ip` with the node's address.
   * The interface is new, so the routes through it (the default route is
   * Docker's; the pod routes the kubelet's) come back; wait for them.
   */
  async connect(node: string): Promise<void> {
    const n = this.node(node);
    const r = await run('docker', ['network', 'connect', '--ip', n.ip, this.network!.name, n.name]);
    if (r.code !== 0) throw new Error(`docker network connect ${node}: ${r.stderr.trim()}`);
    await this.routePods();
  }

  /**
   * `docker start` a stopped node and wait until it imported its images.
   * Its network namespace is new (its address is the same, fixed): the
   * sinks are set up again, and its kubelet routes the other nodes' pods again.
   */
  async start(node: string, timeoutMs = 180_000): Promise<void> {
    const n = this.node(node);
    const client = await this.tc.getContainerRuntimeClient();
    const container = client.container.getById(n.container.getId());
    const since = Math.floor(Date.now() / 1000);
    await client.container.start(container);
    await waitFor(async () => (await run('docker', ['logs', '--since', String(since), node])).stdout.includes('kubets-node-init: images ready'), {
      timeoutMs,
      intervalMs: 500,
      description: `${node} to boot again`,
    });
    await this.addSinks(n);
    await this.routePods();
  }

  /**
   * Write what helps to debug a failure into `dir`: per node, docker logs
   * (kubets-node-init and the kubelet), containerd's log, the static and
   * API pods' container logs and the node's addresses, routes and NAT rules;
   * plus the cluster's nodes, pods and events. Never throws for a missing part.
   */
  async collectLogs(dir: string): Promise<string> {
    fs.mkdirSync(dir, { recursive: true });
    const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, file), text);
    await Promise.all(
      this.nodes.map(async (n) => {
        // docker's CLI: testcontainers' logs() follows the stream, a snapshot is wanted here.
        const logs = await run('docker', ['logs', '--timestamps', n.name], 60_000);
        write(`${n.name}.docker.log`, logs.stdout + logs.stderr);
        const inNode = async (file: string, script: string) => {
          const r = await this.exec(n.name, ['sh', '-c', script]).catch((e: Error) => ({ exitCode: -1, stdout: '', stderr: e.message }));
          write(`${n.name}.${file}`, r.stdout + r.stderr);
        };
        await inNode('containerd.log', 'cat /var/log/containerd.log');
        await inNode('pods.log', 'for f in $(find /var/lib/kubets-kubelet/pods -path "*/logs/*" -name "*.log" 2>/dev/null | sort); do echo "==> $f"; cat "$f"; done');
        await inNode('network.txt', 'ip addr; echo; ip route; echo; iptables-save 2>&1; echo; ls -l /etc/cni/net.d; cat /etc/cni/net.d/* 2>&1');
      }),
    );
    if (this.loadBalancer) {
      const logs = await run('docker', ['logs', '--timestamps', this.loadBalancer.name], 60_000);
      write(`${this.loadBalancer.name}.docker.log`, logs.stdout + logs.stderr);
    }
    if (fs.existsSync(this.kubeconfig)) {
      const r = await this.kubectl(['get', 'nodes,pods,deployments,replicasets', '-A', '-o', 'wide'], { timeoutMs: 20_000 });
      const events = await this.kubectl(['get', 'events', '-A'], { timeoutMs: 20_000 });
      write('cluster.txt', `${r.stdout}${r.stderr}\n${events.stdout}${events.stderr}`);
    }
    return dir;
  }

  /**
   * The part of collected logs (collectLogs' folder) worth printing where the
   * folder does not survive (CI): per log file its last `perFile` warnings and
   * errors (pino levels warn, error, fatal; Go-style "level=error"; "error:"
   * lines of the node's init), then cluster.txt.
   */
  static logDigest(dir: string, perFile = 12): string {
    const out: string[] = [];
    const interesting = /"level":"(warn|error|fatal)"|level=(warn|error|fatal)|\berror\b|panic|Error:/i;
    for (const file of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
      if (!file.endsWith('.log')) continue;
      const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter((l) => interesting.test(l));
      if (lines.length === 0) continue;
      out.push(`==> ${file} (${lines.length} warnings/errors, the last ${Math.min(perFile, lines.length)}):`, ...lines.slice(-perFile).map((l) => `  ${l.slice(0, 400)}`));
    }
    const cluster = path.join(dir, 'cluster.txt');
    if (fs.existsSync(cluster)) out.push('==> cluster.txt:', fs.readFileSync(cluster, 'utf8'));
    return out.join('\n');
  }

  /**
   * Remove everything: the host route (if any), the node containers (and
   * their anonymous volumes), the network, the nodes' cgroups (the kubelet's
   * --cgroup-root is /kubets/<node> in the host's hierarchy, which the nodes
   * share) and the host folder with the containerd folders and the kubeconfig.
   * Safe to call twice, and after a failed create().
   */
  async delete(): Promise<void> {
    const problems: string[] = [];
    if (this.hostRoute) {
      const r = await run('ip', ['route', 'del', this.hostRoute]);
      if (r.code !== 0) problems.push(`ip route del ${this.hostRoute}: ${r.stderr.trim()}`);
      this.hostRoute = undefined;
    }
    await Promise.all(
      this.nodes.map((n) =>
        n.container.stop({ timeout: 20_000, remove: true, removeVolumes: true }).catch(async (err: Error) => {
          // Already stopped by stop(): testcontainers may refuse; docker rm -f does not.
          const r = await run('docker', ['rm', '-f', '-v', n.name]);
          if (r.code !== 0 && !/No such container/.test(r.stderr)) problems.push(`remove ${n.name}: ${err.message}; ${r.stderr.trim()}`);
        }),
      ),
    );
    if (this.loadBalancer) {
      const r = await run('docker', ['rm', '-f', '-v', this.loadBalancer.name]);
      if (r.code !== 0 && !/No such container/.test(r.stderr)) problems.push(`remove ${this.loadBalancer.name}: ${r.stderr.trim()}`);
      this.loadBalancer = undefined;
    }
    if (this.network) {
      const r = await run('docker', ['network', 'rm', this.network.name]);
      if (r.code !== 0 && !/not found/.test(r.stderr)) problems.push(`remove network ${this.network.name}: ${r.stderr.trim()}`);
      this.network = undefined;
    }
    for (const n of this.nodes) problems.push(...removeNodeCgroups(n.name).map((cg) => `rmdir ${cg}: still in use`));
    this.nodes.length = 0;
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (problems.length) throw new Error(`DockerCluster ${this.name}: could not remove everything:\n${problems.join('\n')}`);
  }
}

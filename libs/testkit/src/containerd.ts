import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  ListPodSandboxResponse,
  RuntimeServiceClient,
  StatusResponse,
  type ListPodSandboxRequest,
} from '@kubets/proto/cri/runtime/v1/api';
import { ManagedProcess, requireExecutable } from './process';
import { waitFor } from './wait';

/** The test images infra/images/build.sh makes (busybox-static, no registry). */
export const TEST_IMAGES = ['pause', 'busybox-httpd', 'crasher', 'probe-target'] as const;
export type TestImageName = (typeof TEST_IMAGES)[number];

/** The name containerd gives an imported test image, e.g. docker.io/kubets/pause:1.0. */
export function testImageRef(name: TestImageName): string {
  return `docker.io/kubets/${name}:1.0`;
}

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const IMAGES_SCRIPT = path.join(REPO_ROOT, 'infra', 'images', 'build.sh');

/**
 * Build the test image archives when missing or stale (infra/images/build.sh
 * --if-missing) and return the folder that holds `<name>.tar`.
 */
export function ensureTestImages(): string {
  const dir = process.env.KUBETS_IMAGES_DIR ?? path.join(REPO_ROOT, 'infra', 'images', '.images');
  execFileSync('bash', [IMAGES_SCRIPT, '--if-missing'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, KUBETS_IMAGES_DIR: dir },
  });
  return dir;
}

export interface ContainerdOptions {
  /** Test images to import into namespace k8s.io. Default: all of TEST_IMAGES (pause is always imported). */
  images?: readonly TestImageName[];
  /** Deadline for containerd to boot and its CRI to report RuntimeReady and NetworkReady. Default 30 s. */
  readyTimeoutMs?: number;
  /** containerd's log level. Default "info". */
  logLevel?: string;
  /**
   * Write the CNI config (bridge + host-local on the harness's subnet).
   * Default true. False: cniConfDir stays empty for a kubelet that writes
   * it (--cni-conf-dir); boot then waits for RuntimeReady only.
   */
  cniConfig?: boolean;
  /** Pod subnets are 10.<a>.<b>.0/24 with b picked from this range. Default 10.244.[200..254]. */
  subnetRange?: { a: number; from: number; to: number };
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Registries whose pulls the harness sends to a closed loopback port. */
const REDIRECTED_REGISTRIES = ['docker.io', 'registry.k8s.io', 'k8s.gcr.io', 'gcr.io', 'quay.io', 'ghcr.io'];

/** Where harnesses claim their subnet slot (one directory per slot, holding the owner's pid). */
const SLOT_DIR = '/run/kubets-containerd-slots';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Run a command; never throws (a failure, or a timeout, is in `code`). */
export function run(file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code !== 0 ? err.message : '') });
    });
  });
}

/** Mount points (from /proc/self/mountinfo) at or under any of `dirs`, deepest first. */
export function mountsUnder(dirs: readonly string[]): string[] {
  const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    const mountPoint = fields[4].replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (dirs.some((d) => mountPoint === d || mountPoint.startsWith(`${d}/`))) points.push(mountPoint);
  }
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Pids of processes whose command line contains `needle` (e.g. the shims of one containerd socket). */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Every descendant of `pid` (children first found through /proc/<pid>/stat). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

/** The folders of cgroup `parent` (and below it) in every hierarchy, deepest first. */
export function cgroupDirsOf(parent: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    out.push(dir);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const hierarchy of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', hierarchy, parent);
    try {
      if (fs.statSync(dir).isDirectory()) walk(dir);
    } catch {
      // not in this hierarchy
    }
  }
  return out.sort((x, y) => y.length - x.length);
}

/**
 * Remove what a harness left on the host once its containerd is stopped (or
 * its owner died): processes naming `dir` (containerd, shims) and everything
 * under them, mounts under `dir`, its cgroups, its bridge, then `dir`.
 * Returns what could not be removed.
 */
async function cleanupHost(dir: string, bridge: string | undefined, cgroups: () => string[]): Promise<string[]> {
  const problems: string[] = [];
  // Shims outlive containerd: their command lines name our socket (and
  // containerd's names our config), so all match `dir`.
  for (const owner of processesMatching(dir)) {
    for (const pid of [...descendants(owner), owner]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  await waitFor(() => processesMatching(dir).length === 0, {
    timeoutMs: 10_000,
    description: `no process of ${dir} left`,
  }).catch((err: Error) => problems.push(err.message));
  for (const mountPoint of mountsUnder([dir])) {
    const r = await run('umount', [mountPoint]);
    if (r.code !== 0) {
      const lazy = await run('umount', ['-l', mountPoint]);
      if (lazy.code !== 0) problems.push(`umount ${mountPoint}: ${r.stderr.trim()}`);
    }
  }
  for (const cg of cgroups()) {
    try {
      fs.rmdirSync(cg);
    } catch (err) {
      problems.push(`rmdir ${cg}: ${(err as Error).message}`);
    }
  }
  if (bridge && linkExists(bridge)) {
    const r = await run('ip', ['link', 'del', bridge]);
    if (r.code !== 0) problems.push(`ip link del ${bridge}: ${r.stderr.trim()}`);
  }
  if (mountsUnder([dir]).length === 0) fs.rmSync(dir, { recursive: true, force: true });
  else problems.push(`mounts left under ${dir}: ${mountsUnder([dir]).join(', ')}`);
  return problems;
}

/**
 * Clean up after harnesses whose owning process died without dispose() (a
 * killed test run): their containerd and shims, mounts, cgroups, bridge,
 * folder and subnet claim. Containerd.start() calls it first.
 */
export async function reapStaleContainerds(): Promise<string[]> {
  if (!fs.existsSync(SLOT_DIR)) return [];
  const problems: string[] = [];
  for (const slot of fs.readdirSync(SLOT_DIR)) {
    const slotPath = path.join(SLOT_DIR, slot);
    let owner: number;
    let dir: string;
    try {
      owner = Number(fs.readFileSync(path.join(slotPath, 'pid'), 'utf8'));
      dir = fs.readFileSync(path.join(slotPath, 'dir'), 'utf8');
    } catch {
      continue; // being claimed right now, or from an older layout
    }
    if (!Number.isFinite(owner) || pidAlive(owner) || !dir.startsWith(os.tmpdir())) continue;
    const b = slot.split('.')[2];
    problems.push(...(await cleanupHost(dir, `kts-cd${b}`, () => cgroupDirsOf(`/kubets-containerd-${b}`))));
    fs.rmSync(slotPath, { recursive: true, force: true });
  }
  return problems;
}

/**
 * A real containerd 1.6 (Debian package containerd) with the CRI plugin, of
 * its own: private root, state, socket, config.toml and CNI config (bridge +
 * host-local + portmap from /usr/lib/cni, on a /24 and a bridge name no other
 * harness uses), with the test images imported into namespace k8s.io.
 * Needs root. `dispose()` stops and removes every pod sandbox, stops
 * containerd and its shims, unmounts what is left under its folders and
 * deletes the bridge and the folders.
 */
export class Containerd {
  readonly dir: string;
  readonly root: string;
  readonly state: string;
  /** The containerd socket path. */
  readonly socket: string;
  /** `unix://<socket>`, the kubelet's --container-runtime-endpoint form. */
  readonly endpoint: string;
  readonly configFile: string;
  readonly cniConfDir: string;
  /** Host folder where pod logs can go (a test's log_directory lives under it). */
  readonly podLogDir: string;
  readonly sandboxImage = testImageRef('pause');
  /** The image names containerd reported for each imported archive. */
  readonly importedImages = new Map<TestImageName, string[]>();
  private proc: ManagedProcess | undefined;
  private slotValue: number | undefined;
  private slotPath: string | undefined;
  private disposed = false;
  private readonly containerdBin: string;
  private readonly ctrBin: string;
  private readonly options: ContainerdOptions;

  private constructor(options: ContainerdOptions) {
    this.options = options;
    this.containerdBin = requireExecutable('containerd', 'containerd');
    this.ctrBin = requireExecutable('ctr', 'containerd');
    requireExecutable('runc', 'runc');
    requireExecutable('containerd-shim-runc-v2', 'containerd');
    if (!fs.existsSync('/usr/lib/cni/bridge')) {
      throw new Error('/usr/lib/cni/bridge missing: run `bash infra/setup` (installs containernetworking-plugins)');
    }
    if (process.getuid?.() !== 0) throw new Error('Containerd needs root (it creates namespaces, mounts and a bridge)');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-containerd-'));
    this.root = path.join(this.dir, 'root');
    this.state = path.join(this.dir, 'state');
    this.socket = path.join(this.state, 'containerd.sock');
    this.endpoint = `unix://${this.socket}`;
    this.configFile = path.join(this.dir, 'config.toml');
    this.cniConfDir = path.join(this.dir, 'cni');
    this.podLogDir = path.join(this.dir, 'pod-logs');
  }

  /** Start a containerd and import the test images (building them when missing). */
  static async start(options: ContainerdOptions = {}): Promise<Containerd> {
    const c = new Containerd(options);
    try {
      await c.boot();
    } catch (err) {
      await c.dispose().catch(() => undefined);
      throw err;
    }
    return c;
  }

  /** b in the pod subnet 10.a.b.0/24 this harness owns. */
  get slot(): number {
    if (this.slotValue === undefined) throw new Error('containerd has not started');
    return this.slotValue;
  }

  get subnet(): string {
    const { a } = this.range();
    return `10.${a}.${this.slot}.0/24`;
  }

  /** The bridge's address: the pods' gateway, and the host's address on the pod network. */
  get gateway(): string {
    const { a } = this.range();
    return `10.${a}.${this.slot}.1`;
  }

  get bridge(): string {
    return `kts-cd${this.slot}`;
  }

  /**
   * A cgroup parent for this harness's pods (PodSandboxConfig.linux.cgroup_parent,
   * cgroupfs driver): dispose() removes it (and what is under it) from every hierarchy.
   */
  get cgroupParent(): string {
    return `/kubets-containerd-${this.slot}`;
  }

  /** The cgroup folders of cgroupParent that exist, deepest first. */
  cgroupDirs(): string[] {
    return this.slotValue === undefined ? [] : cgroupDirsOf(this.cgroupParent);
  }

  get networkName(): string {
    return `kubets-test-${this.slot}`;
  }

  get process(): ManagedProcess | undefined {
    return this.proc;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Run `ctr -a <socket> -n k8s.io ARGS`. */
  ctr(args: string[], timeoutMs = 60_000): Promise<ExecResult> {
    return run(this.ctrBin, ['-a', this.socket, '-n', 'k8s.io', ...args], timeoutMs);
  }

  /** Import an OCI/Docker archive into namespace k8s.io; returns the image names ctr reported. */
  async importImage(archive: string): Promise<string[]> {
    const r = await this.ctr(['images', 'import', archive]);
    if (r.code !== 0) throw new Error(`ctr images import ${archive} failed (${r.code}): ${r.stderr}${r.stdout}`);
    return [...`${r.stdout}\n${r.stderr}`.matchAll(/unpacking (\S+) \(sha256:/g)].map((m) => m[1]);
  }

  /** What of this harness is still on the machine: processes (containerd, shims), mounts, bridge, folder, cgroups. */
  leftovers(): { processes: number[]; mounts: string[]; bridge: boolean; dir: boolean; cgroups: string[] } {
    return {
      processes: processesMatching(this.dir),
      mounts: mountsUnder([this.dir]),
      bridge: this.slotValue !== undefined && linkExists(this.bridge),
      dir: fs.existsSync(this.dir),
      cgroups: this.cgroupDirs(),
    };
  }

  private range(): { a: number; from: number; to: number } {
    return this.options.subnetRange ?? { a: 244, from: 200, to: 254 };
  }

  /** Claim a subnet slot nobody else uses: no route into it, no such bridge, no live owner. */
  private claimSlot(): void {
    const { a, from, to } = this.range();
    fs.mkdirSync(SLOT_DIR, { recursive: true });
    const routes = execFileSync(requireExecutable('ip', 'iproute2'), ['-4', 'route', 'show', 'table', 'all'], {
      encoding: 'utf8',
    });
    const span = to - from + 1;
    const start = process.pid % span;
    for (let i = 0; i < span; i++) {
      const b = from + ((start + i) % span);
      if (routes.includes(`10.${a}.${b}.`) || linkExists(`kts-cd${b}`)) continue;
      const slotPath = path.join(SLOT_DIR, `10.${a}.${b}`);
      try {
        fs.mkdirSync(slotPath);
      } catch {
        // Taken: reclaim it only when its owner is gone.
        let owner = NaN;
        try {
          owner = Number(fs.readFileSync(path.join(slotPath, 'pid'), 'utf8'));
        } catch {
          // an owner between mkdir and writing its pid, or a broken slot: skip
        }
        if (!Number.isFinite(owner) || pidAlive(owner)) continue;
        fs.rmSync(slotPath, { recursive: true, force: true });
        try {
          fs.mkdirSync(slotPath);
        } catch {
          continue;
        }
      }
      fs.writeFileSync(path.join(slotPath, 'dir'), this.dir);
      fs.writeFileSync(path.join(slotPath, 'pid'), String(process.pid));
      this.slotValue = b;
      this.slotPath = slotPath;
      return;
    }
    throw new Error(`no free pod subnet 10.${a}.${from}-${to}.0/24 for a test containerd`);
  }

  private writeConfig(): void {
    fs.mkdirSync(this.root, { recursive: true });
    fs.mkdirSync(this.state, { recursive: true });
    fs.mkdirSync(this.cniConfDir, { recursive: true });
    fs.mkdirSync(this.podLogDir, { recursive: true });
    const certsDir = path.join(this.dir, 'certs.d');
    // No registry is reachable, and tests may only talk to loopback: a pull
    // from docker.io (or another common registry) goes to a closed loopback
    // port and fails fast, with no DNS lookup. (containerd 1.6 rejects a
    // hosts.toml without a [host] table, and has no catch-all _default.)
    for (const registry of REDIRECTED_REGISTRIES) {
      fs.mkdirSync(path.join(certsDir, registry), { recursive: true });
      fs.writeFileSync(
        path.join(certsDir, registry, 'hosts.toml'),
        'server = "http://127.0.0.1:1"\n\n[host."http://127.0.0.1:1"]\n  capabilities = ["pull", "resolve"]\n',
      );
    }
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const toml = `# Written by @kubets/testkit Containerd: a private containerd for tests.
version = 2
root = ${JSON.stringify(this.root)}
state = ${JSON.stringify(this.state)}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${JSON.stringify(this.socket)}

[ttrpc]
  address = ${JSON.stringify(`${this.socket}.ttrpc`)}

[debug]
  level = ${JSON.stringify(this.options.logLevel ?? 'info')}

[plugins."io.containerd.internal.v1.opt"]
  path = ${JSON.stringify(path.join(this.root, 'opt'))}

[${cri}]
  sandbox_image = ${JSON.stringify(this.sandboxImage)}
  # Required on this machine: no CAP_SYS_RESOURCE, so a negative oom_score_adj
  # makes every RunPodSandbox fail; no AppArmor.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${JSON.stringify(path.join(this.state, 'runc'))}

[${cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = ${JSON.stringify(this.cniConfDir)}
  max_conf_num = 1

[${cri}.registry]
  config_path = ${JSON.stringify(certsDir)}
`;
    fs.writeFileSync(this.configFile, toml);
    if (this.options.cniConfig === false) return;
    const conflist = {
      cniVersion: '1.0.0',
      name: this.networkName,
      plugins: [
        {
          type: 'bridge',
          bridge: this.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: this.subnet, gateway: this.gateway }]],
            dataDir: path.join(this.dir, 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    };
    fs.writeFileSync(path.join(this.cniConfDir, '10-kubets-test.conflist'), `${JSON.stringify(conflist, null, 2)}\n`);
  }

  private runtimeClient(): RuntimeServiceClient {
    return new RuntimeServiceClient(this.endpoint, credentials.createInsecure());
  }

  private static unary<Req, Res>(
    client: RuntimeServiceClient,
    method: 'status' | 'listPodSandbox' | 'stopPodSandbox' | 'removePodSandbox',
    request: Req,
    timeoutMs: number,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method].bind(client);
      fn(request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err: ServiceError | null, res: Res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  private async boot(): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? 30_000;
    const imagesDir = ensureTestImages();
    await reapStaleContainerds();
    this.claimSlot();
    this.writeConfig();
    this.proc = new ManagedProcess({
      name: `containerd-${this.slot}`,
      command: this.containerdBin,
      args: ['--config', this.configFile],
    }).start();
    const proc = this.proc;
    await Promise.race([
      proc.waitForLog(/containerd successfully booted/, timeoutMs),
      proc.exited().then((code) => {
        throw new Error(`containerd exited with code ${code} before it booted\n${proc.tail()}`);
      }),
    ]);
    const client = this.runtimeClient();
    try {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`containerd exited\n${proc.tail()}`);
          const res = await Containerd.unary<object, StatusResponse>(client, 'status', {}, 2_000);
          const conditions = res.status?.conditions ?? [];
          const ready = (type: string) => conditions.some((c) => c.type === type && c.status);
          if (!ready('RuntimeReady') || (this.options.cniConfig !== false && !ready('NetworkReady'))) {
            throw new Error(`CRI not ready: ${JSON.stringify(conditions)}`);
          }
          return true;
        },
        { timeoutMs, description: 'containerd CRI RuntimeReady and NetworkReady', context: () => proc.tail() },
      );
    } finally {
      client.close();
    }
    const wanted = new Set<TestImageName>(['pause', ...(this.options.images ?? TEST_IMAGES)]);
    for (const name of wanted) {
      const archive = path.join(imagesDir, `${name}.tar`);
      this.importedImages.set(name, await this.importImage(archive));
    }
  }

  /**
   * Stop and remove every pod sandbox, stop containerd (then any shim of its
   * socket still running, and the processes under it), unmount what is left
   * under its folder, delete the bridge, the folder and the subnet claim.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const problems: string[] = [];
    if (this.proc?.running) {
      const client = this.runtimeClient();
      try {
        const list = await Containerd.unary<ListPodSandboxRequest, ListPodSandboxResponse>(
          client,
          'listPodSandbox',
          { filter: undefined },
          10_000,
        );
        for (const sandbox of list.items) {
          try {
            await Containerd.unary(client, 'stopPodSandbox', { podSandboxId: sandbox.id }, 30_000);
            await Containerd.unary(client, 'removePodSandbox', { podSandboxId: sandbox.id }, 30_000);
          } catch (err) {
            problems.push(`sandbox ${sandbox.id}: ${(err as Error).message}`);
          }
        }
      } catch (err) {
        problems.push(`ListPodSandbox: ${(err as Error).message}`);
      } finally {
        client.close();
      }
      await this.proc.stop(10_000);
    }
    const bridge = this.slotValue === undefined ? undefined : this.bridge;
    problems.push(...(await cleanupHost(this.dir, bridge, () => this.cgroupDirs())));
    if (this.slotPath) fs.rmSync(this.slotPath, { recursive: true, force: true });
    if (problems.length > 0) {
      throw new Error(`Containerd.dispose left things behind:\n${problems.join('\n')}\n${this.proc?.tail() ?? ''}`);
    }
  }
}

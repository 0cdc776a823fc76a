// The local cluster's real node: a containerd of its own (config, root,
// state and socket under DIR/containerd), the test images imported into it,
// and the command line of the CRI kubelet that drives it. Also what
// `kubets down` needs to leave the host as it was: the pod sandboxes removed
// through the CRI, the shims stopped, the mounts under DIR undone, the bridge
// and the pod cgroups deleted.
//
// Only one real node per host: several real kubelets would fight over the
// same iptables rules and bridges, so further nodes of `kubets up` are hollow.
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CriClient } from '@kubets/cri-client';
import { REPO_ROOT, UpError, type Command } from './components';
import { DEFAULT_PORTS, type Ports } from './ports';
import { sleep } from './probes';

/** The real node's name (kind names its nodes <cluster>-worker). */
export const REAL_NODE_NAME = 'kubets-worker';
/** The hollow nodes next to it: kubets-hollow, or kubets-hollow-0..N-1. */
export const HOLLOW_NODE_BASE = 'kubets-hollow';
export const SANDBOX_IMAGE = 'docker.io/kubets/pause:1.0';
/** infra/images/build.sh's images, imported into every real node. */
export const TEST_IMAGE_NAMES = ['pause', 'busybox-httpd', 'crasher', 'probe-target'] as const;
const CNI_BIN_DIR = '/usr/lib/cni';

/** Where everything of the real node lives, recorded in DIR/node.json for `kubets down` and `kubets image load`. */
export interface NodeLayout {
  name: string;
  /** DIR/containerd: config.toml, root/, state/ (everything containerd mounts is under it). */
  containerdDir: string;
  configFile: string;
  root: string;
  state: string;
  socket: string;
  /** The kubelet writes its CNI config here once the node has a podCIDR; containerd reads it. */
  cniConfDir: string;
  kubeletRoot: string;
  /** The CNI bridge of the node's pods. */
  bridge: string;
  /** cgroupfs parent of every pod cgroup (kubelet --cgroup-root). */
  cgroupRoot: string;
}

export const nodeJsonPath = (dir: string) => path.join(dir, 'node.json');

/**
 * The node's layout in DIR. The default cluster's bridge is kubets0; a
 * cluster on other ports (--port-base) gets kubets<apiserver port>, so two
 * clusters on one host never share a bridge.
 */
export function nodeLayout(dir: string, ports: Ports): NodeLayout {
  const containerdDir = path.join(dir, 'containerd');
  const bridge = ports.apiserver === DEFAULT_PORTS.apiserver ? 'kubets0' : `kubets${ports.apiserver}`;
  let socket = path.join(containerdDir, 'containerd.sock');
  // A unix socket path holds at most 107 bytes; a deep DIR gets one under /run.
  if (Buffer.byteLength(socket) > 100) socket = `/run/kubets-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}.sock`;
  return {
    name: REAL_NODE_NAME,
    containerdDir,
    configFile: path.join(containerdDir, 'config.toml'),
    root: path.join(containerdDir, 'root'),
    state: path.join(containerdDir, 'state'),
    socket,
    cniConfDir: path.join(dir, 'cni'),
    kubeletRoot: path.join(dir, 'kubelet'),
    bridge,
    cgroupRoot: `/kubets/${bridge}`,
  };
}

export function readNodeLayout(dir: string): NodeLayout | undefined {
  try {
    return JSON.parse(fs.readFileSync(nodeJsonPath(dir), 'utf8')) as NodeLayout;
  } catch {
    return undefined;
  }
}

/** An executable on PATH (or in /usr/sbin and /sbin, which a non-login root shell may lack). */
export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) {
    const file = path.join(d, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Fails with what is missing for a real node (and how to get it) before anything starts. */
export function checkNodePrerequisites(): void {
  const missing: string[] = [];
  for (const bin of ['containerd', 'ctr', 'containerd-shim-runc-v2']) if (!which(bin)) missing.push(`${bin} (Debian package containerd)`);
  if (!which('runc')) missing.push('runc (Debian package runc)');
  if (!which('ip')) missing.push('ip (Debian package iproute2)');
  for (const plugin of ['bridge', 'host-local', 'portmap', 'loopback']) {
    if (!fs.existsSync(path.join(CNI_BIN_DIR, plugin))) missing.push(`${CNI_BIN_DIR}/${plugin} (Debian package containernetworking-plugins)`);
  }
  const problems: string[] = [];
  if (missing.length) problems.push(`missing: ${missing.join(', ')}; \`bash infra/setup\` installs them`);
  if (process.getuid?.() !== 0) problems.push('a real node needs root (it creates network namespaces, mounts and a bridge)');
  if (problems.length) {
    throw new UpError(`cannot run a real node: ${problems.join('; ')}.\nWith --hollow every node is hollow (no containers, no root, none of these tools).`);
  }
}

/** containerd's config.toml: the CRI settings this kind of machine needs (docs: shared PLATFORM notes, testkit's harness). */
export function containerdConfig(l: NodeLayout, logLevel = 'info'): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  const q = JSON.stringify;
  return `# Written by \`kubets up\`: the containerd of the local cluster's real node (${l.name}).
version = 2
root = ${q(l.root)}
state = ${q(l.state)}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${q(l.socket)}

[ttrpc]
  address = ${q(`${l.socket}.ttrpc`)}

[debug]
  level = ${q(logLevel)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(path.join(l.root, 'opt'))}

[${cri}]
  sandbox_image = ${q(SANDBOX_IMAGE)}
  # Without CAP_SYS_RESOURCE a negative oom_score_adj makes every
  # RunPodSandbox fail (runc: "can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  # Network namespaces under DIR/containerd, so kubets down finds every mount.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  # cgroupfs: the kubelet's --cgroup-root is a cgroupfs path.
  SystemdCgroup = false
  Root = ${q(path.join(l.state, 'runc'))}

[${cri}.cni]
  bin_dir = ${q(CNI_BIN_DIR)}
  conf_dir = ${q(l.cniConfDir)}
  max_conf_num = 1

[${cri}.registry]
  # Registry mirrors and credentials: <host>/hosts.toml files here.
  config_path = ${q(path.join(l.containerdDir, 'certs.d'))}
`;
}

/** Writes config.toml and makes the folders (containerd watches the CNI folder only if it exists at start). */
export function prepareNode(dir: string, l: NodeLayout): void {
  for (const d of [l.containerdDir, l.root, l.state, path.join(l.containerdDir, 'certs.d'), l.cniConfDir, l.kubeletRoot]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(l.configFile, containerdConfig(l));
  fs.writeFileSync(nodeJsonPath(dir), `${JSON.stringify(l, null, 2)}\n`);
}

export function containerdCommand(l: NodeLayout): Command {
  // match: the config path, which only this cluster's containerd has on its command line.
  return { name: 'containerd', command: which('containerd') ?? 'containerd', args: ['--config', l.configFile], match: l.configFile };
}

/** True once containerd's CRI answers Status with RuntimeReady (NetworkReady waits for the kubelet's CNI config). */
export async function criRuntimeReady(l: NodeLayout): Promise<boolean> {
  if (!fs.existsSync(l.socket)) return false;
  const cri = new CriClient(`unix://${l.socket}`, { timeoutMs: 2000 });
  try {
    const res = await cri.status({});
    return (res.status?.conditions ?? []).some((c) => c.type === 'RuntimeReady' && c.status);
  } finally {
    cri.close();
  }
}

interface Exec {
  code: number;
  out: string;
}

function exec(file: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = process.env): Promise<Exec> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${String(stdout)}${String(stderr)}`.trim() || (err?.message ?? '') });
    });
  });
}

/**
 * Builds the test image archives when missing or stale
 * (infra/images/build.sh --if-missing) and returns their paths.
 */
export async function ensureTestImages(): Promise<string[]> {
  const imagesDir = process.env.KUBETS_IMAGES_DIR ?? path.join(REPO_ROOT, 'infra', 'images', '.images');
  const r = await exec('bash', [path.join(REPO_ROOT, 'infra', 'images', 'build.sh'), '--if-missing'], 300_000, { ...process.env, KUBETS_IMAGES_DIR: imagesDir });
  if (r.code !== 0) throw new UpError(`infra/images/build.sh failed (${r.code}):\n${r.out}`);
  return TEST_IMAGE_NAMES.map((n) => path.join(imagesDir, `${n}.tar`));
}

/** `ctr -n k8s.io images import ARCHIVE` into the node's containerd; returns the image names it unpacked. */
export async function importImage(l: NodeLayout, archive: string): Promise<string[]> {
  const r = await exec(which('ctr') ?? 'ctr', ['-a', l.socket, '-n', 'k8s.io', 'images', 'import', archive]);
  if (r.code !== 0) throw new UpError(`ctr images import ${archive} failed (${r.code}): ${r.out}`);
  return [...r.out.matchAll(/unpacking (\S+) \(sha256:/g)].map((m) => m[1]!);
}

/** Stops and removes every pod sandbox (the CNI plugins then release the IPs and rules); call with the kubelet stopped. Returns problems. */
export async function removeSandboxes(l: NodeLayout): Promise<string[]> {
  if (!fs.existsSync(l.socket)) return [];
  const cri = new CriClient(`unix://${l.socket}`, { timeoutMs: 30_000 });
  const problems: string[] = [];
  try {
    await cri.waitForReady(2000);
    const list = await cri.listPodSandbox({});
    await Promise.all(
      list.items.map(async (s) => {
        try {
          await cri.stopPodSandbox({ podSandboxId: s.id });
          await cri.removePodSandbox({ podSandboxId: s.id });
        } catch (e) {
          problems.push(`pod sandbox ${s.metadata?.name ?? s.id}: ${(e as Error).message}`);
        }
      }),
    );
  } catch (e) {
    problems.push(`containerd at ${l.socket} did not answer (${(e as Error).message}); its shims are killed instead`);
  } finally {
    cri.close();
  }
  return problems;
}

/** Pids of processes whose command line contains `needle` (containerd's shims name its socket). */
export function processesMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)) pids.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points at or under any of `dirs`, deepest first. */
export function mountsUnder(dirs: readonly string[]): string[] {
  const points = new Set<string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp && dirs.some((d) => mp === d || mp.startsWith(`${d}/`))) points.add(mp);
  }
  return [...points].sort((a, b) => b.length - a.length);
}

/** The folders of the pod cgroup parent in every hierarchy, deepest first. */
function cgroupDirs(parent: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    out.push(d);
    for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
  };
  let hierarchies: string[] = [];
  try {
    hierarchies = fs.readdirSync('/sys/fs/cgroup');
  } catch {
    return [];
  }
  // cgroup v2 at /sys/fs/cgroup itself, or v1 (and the hybrid's unified) one level down.
  for (const base of ['/sys/fs/cgroup', ...hierarchies.map((h) => path.join('/sys/fs/cgroup', h))]) {
    const d = path.join(base, parent);
    try {
      if (fs.statSync(d).isDirectory()) walk(d);
    } catch {
      // not in this hierarchy
    }
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

/** The podCIDR of the CNI config the kubelet wrote (undefined before it did). */
function nodePodCIDR(l: NodeLayout): string | undefined {
  try {
    for (const f of fs.readdirSync(l.cniConfDir).filter((x) => x.endsWith('.conflist'))) {
      const m = /"subnet":\s*"([\d.]+\/\d+)"/.exec(fs.readFileSync(path.join(l.cniConfDir, f), 'utf8'));
      if (m) return m[1];
    }
  } catch {
    // no CNI folder
  }
  return undefined;
}

function inCidr(ip: string, cidr: string): boolean {
  const num = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  return Math.floor(num(ip) / size) === Math.floor(num(base!) / size);
}

/**
 * The NAT rules the bridge (ipMasq) and portmap plugins added for pods of
 * this node whose sandboxes were never removed (containerd killed): a
 * POSTROUTING rule per pod IP and its CNI-<hash> chain, and the hostPort
 * rules of the same sandboxes. After a clean removal there are none.
 */
async function removeCniRules(l: NodeLayout): Promise<string[]> {
  const cidr = nodePodCIDR(l);
  if (!cidr || !which('iptables-save')) return [];
  const saved = await exec('iptables-save', ['-t', 'nat'], 10_000);
  if (saved.code !== 0) return [`iptables-save: ${saved.out}`];
  const lines = saved.out.split('\n');
  const ids = new Set<string>();
  const script: string[] = [];
  const chains = new Set<string>();
  for (const line of lines) {
    const m = /^-A POSTROUTING -s ([\d.]+)\/32 .*id: \\"([0-9a-f]+)\\"" -j (CNI-[\w-]+)$/.exec(line);
    if (m && inCidr(m[1]!, cidr)) {
      ids.add(m[2]!);
      script.push(line.replace(/^-A /, '-D '));
      chains.add(m[3]!);
    }
  }
  for (const line of lines) {
    const m = /^-A (CNI-HOSTPORT-\w+) .*id: \\"([0-9a-f]+)\\"".* -j (CNI-[\w-]+)$/.exec(line);
    if (m && ids.has(m[2]!)) {
      script.push(line.replace(/^-A /, '-D '));
      if (m[3]!.startsWith('CNI-DN-')) chains.add(m[3]!);
    }
  }
  if (script.length === 0) return [];
  for (const c of chains) script.push(`-F ${c}`, `-X ${c}`);
  const file = path.join(l.containerdDir, 'cni-cleanup.rules');
  fs.writeFileSync(file, `*nat\n${script.join('\n')}\nCOMMIT\n`);
  const r = await exec('iptables-restore', ['--noflush', file], 10_000);
  fs.rmSync(file, { force: true });
  return r.code === 0 ? [] : [`iptables-restore (CNI rules of ${cidr}): ${r.out}`];
}

/** The pids in the pod cgroups (every hierarchy). */
function cgroupProcs(parent: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(parent)) {
    try {
      for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
    } catch {
      // removed meanwhile
    }
  }
  pids.delete(process.pid);
  return [...pids];
}

/**
 * What the node leaves on the host once its kubelet and containerd are
 * stopped (or died): shims and whatever runs under them, mounts under
 * DIR/containerd and the kubelet's root, the pod cgroups, the bridge, and
 * containerd's state folder. Returns what could not be removed.
 */
export async function cleanupNodeHost(l: NodeLayout): Promise<string[]> {
  const problems: string[] = [];
  // Shims outlive containerd (their command lines name its socket), and the
  // pods' processes outlive a killed shim (they are in the pod cgroups).
  const leftover = () => [...new Set([...processesMatching(l.socket), ...processesMatching(l.configFile), ...cgroupProcs(l.cgroupRoot)])];
  for (const pid of leftover()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (leftover().length > 0) {
    if (Date.now() > deadline) {
      problems.push(`processes of ${l.name} still running: ${leftover().join(', ')}`);
      break;
    }
    await sleep(50);
  }
  for (const mp of mountsUnder([l.containerdDir, l.kubeletRoot])) {
    const r = await exec('umount', [mp], 10_000);
    if (r.code !== 0 && (await exec('umount', ['-l', mp], 10_000)).code !== 0) problems.push(`umount ${mp}: ${r.out}`);
  }
  for (const d of cgroupDirs(l.cgroupRoot)) {
    try {
      fs.rmdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`rmdir ${d}: ${(e as Error).message}`);
    }
  }
  // The shared parent /kubets goes once no cluster uses it (rmdir of a non-empty cgroup fails).
  for (const d of cgroupDirs(path.dirname(l.cgroupRoot)).filter((x) => x.endsWith(path.dirname(l.cgroupRoot)))) {
    try {
      fs.rmdirSync(d);
    } catch {
      // another cluster's pods are under it
    }
  }
  problems.push(...(await removeCniRules(l)));
  if (fs.existsSync(`/sys/class/net/${l.bridge}`)) {
    const r = await exec('ip', ['link', 'del', l.bridge], 10_000);
    if (r.code !== 0) problems.push(`ip link del ${l.bridge}: ${r.out}`);
  }
  // The state (sockets, netns files, task bundles) is per run; root keeps the images for the next `kubets up`.
  if (mountsUnder([l.state]).length === 0) fs.rmSync(l.state, { recursive: true, force: true });
  fs.rmSync(l.socket, { force: true });
  fs.rmSync(`${l.socket}.ttrpc`, { force: true });
  return problems;
}

/** True when docker's CLI can reach a daemon. */
export function dockerAvailable(): boolean {
  if (!which('docker')) return false;
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** `docker save IMAGE -o FILE`: an image of the local docker engine as an archive ctr imports. */
export async function dockerSave(image: string, file: string): Promise<void> {
  const r = await exec('docker', ['save', image, '-o', file], 300_000);
  if (r.code !== 0) throw new UpError(`docker save ${image} failed (${r.code}): ${r.out}`);
}

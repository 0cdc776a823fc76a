// `kubets up` / `kubets down` as a user runs them: the built CLI starts the
// whole local cluster (nats-server, 3 kubets-kv, apiserver, controller
// manager, scheduler, and a real node on a containerd of its own plus hollow
// nodes, or hollow nodes only) as detached processes on free ports, stock
// kubectl sees Ready nodes and a Deployment's pods Running (answering HTTP
// from the host on the real node), `kubets image load` makes a new image
// usable, and `kubets down` leaves no process, mount or bridge behind.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '@kubets/testkit';
import { alive, portInUse, type PidsFile } from '../src/up/procs';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'apps', 'cli', 'dist', 'main.js');

let dir: string;
let home: string;
let pids: PidsFile | undefined;

function run(command: string, args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: { ...process.env, HOME: home, KUBECONFIG: '' }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const kubets = (args: string[], timeoutMs?: number) => run(process.execPath, [cli, ...args], timeoutMs);
const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', path.join(dir, 'admin.kubeconfig'), ...args], 30_000);

/**
 * A base with 16 consecutive free loopback ports, below the ephemeral range
 * (where outgoing connections take their ports) and below other tests'
 * freePort() ports, away from the defaults a running local cluster holds.
 */
async function freePortBase(): Promise<number> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    /* not Linux */
  }
  // 15000-19999: below the ephemeral range and below testkit's freePort() range (20000-29999).
  const low = 15_000;
  const high = Math.min(20_000, ephemeralLow) - 16;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    const used = await Promise.all(Array.from({ length: 16 }, (_, i) => portInUse(base + i)));
    if (!used.some(Boolean)) return base;
  }
  throw new Error('no 16 consecutive free ports found');
}

/**
 * A pod network 10.243.<b>.0/23 (two node blocks) with no route into it yet:
 * away from the local cluster's default 10.244.0.0/16 and from the test
 * containerd harnesses' 10.244.200-254.x, so tests and clusters running at
 * the same time never share a subnet.
 */
function freePodNetwork(): string {
  const routes = execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (let attempt = 0; attempt < 100; attempt++) {
    const b = 2 * Math.floor(Math.random() * 127);
    if (!routes.includes(`10.243.${b}.`) && !routes.includes(`10.243.${b + 1}.`)) return `10.243.${b}.0/23`;
  }
  throw new Error('no free 10.243.x.0/23 pod network');
}

/** What a real node in `d` left on the host: processes naming d, mounts under d, its bridge, its pod cgroups. */
function hostLeftovers(d: string, bridge: string): { processes: string[]; mounts: string[]; bridge: boolean; cgroups: string[] } {
  const processes = fs
    .readdirSync('/proc')
    .filter((f) => /^\d+$/.test(f) && Number(f) !== process.pid)
    .map((pid) => {
      try {
        return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')}`;
      } catch {
        return '';
      }
    })
    .filter((line) => line.includes(d));
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(d));
  const cgroups = fs.readdirSync('/sys/fs/cgroup').filter((h) => fs.existsSync(path.join('/sys/fs/cgroup', h, 'kubets', bridge)));
  return { processes, mounts, bridge: fs.existsSync(`/sys/class/net/${bridge}`), cgroups };
}

const logs = () =>
  fs.existsSync(path.join(dir, 'logs'))
    ? fs
        .readdirSync(path.join(dir, 'logs'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(dir, 'logs', f), 'utf8').split('\n').slice(-15).join('\n')}`)
        .join('\n')
    : '';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-up-'));
  home = path.join(dir, 'home');
  fs.mkdirSync(home);
});

afterAll(async () => {
  // Whatever happened, leave nothing running.
  await kubets(['down', '--dir', dir, '--grace-period=3s']).catch(() => undefined);
  for (const r of pids?.processes ?? []) {
    if (alive(r)) {
      try {
        process.kill(-r.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('kubets up / down', () => {
  it('brings up a cluster with 2 hollow nodes (--hollow) that runs a Deployment, and down stops every process', async () => {
    const base = await freePortBase();
    const upRes = await kubets(['up', '--hollow', '--nodes', '2', '--dir', dir, '--port-base', String(base)], 90_000);
    if (fs.existsSync(path.join(dir, 'pids.json'))) pids = JSON.parse(fs.readFileSync(path.join(dir, 'pids.json'), 'utf8')) as PidsFile;
    if (upRes.code !== 0) throw new Error(`kubets up failed (${upRes.code}):\n${upRes.stdout}\n${upRes.stderr}\n${logs()}`);
    for (const c of ['nats-server', 'kubets-kv', 'kubets-apiserver', 'kubets-controller-manager', 'kubets-scheduler', 'kubets-kubelet', 'nodes Ready']) {
      expect(upRes.stdout).toContain(c);
    }
    expect(upRes.stdout).toContain(`export KUBECONFIG=${path.join(dir, 'admin.kubeconfig')}`);
    expect(fs.existsSync(path.join(dir, 'kubeadm-init.yaml'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'kubeadm-init.yaml'), 'utf8')).toContain(`controlPlaneEndpoint: 127.0.0.1:${base + 10}`);
    expect(pids!.processes.map((p) => p.name)).toEqual([
      'nats-server',
      'kubets-kv-infra1',
      'kubets-kv-infra2',
      'kubets-kv-infra3',
      'kubets-apiserver',
      'kubets-controller-manager',
      'kubets-scheduler',
      'kubets-kubelet',
    ]);
    expect(pids!.processes.every(alive)).toBe(true);

    // Stock kubectl: 2 Ready nodes.
    const nodes = await kubectl(['get', 'nodes', '--no-headers']);
    expect(nodes.code).toBe(0);
    const lines = nodes.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.split(/\s+/)[1]).toBe('Ready');

    // A second `up` says it is already up.
    const again = await kubets(['up', '--hollow', '--nodes', '2', '--dir', dir, '--port-base', String(base)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already up');

    // Controller manager + scheduler + hollow nodes: a Deployment's pods run.
    const created = await kubectl(['create', 'deployment', 'web', '--image=nginx', '--replicas=2']);
    expect(created.code).toBe(0);
    await waitFor(
      async () => {
        const r = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{"\\n"}{end}']);
        const rows = r.stdout.trim().split('\n').filter(Boolean);
        return rows.length === 2 && rows.every((row) => /^Running node-[01]$/.test(row));
      },
      { timeoutMs: 30_000, intervalMs: 250, description: '2 Running web pods', context: logs },
    );

    // down: nothing recorded is left, pids.json is gone; a second down is a no-op.
    const downRes = await kubets(['down', '--dir', dir]);
    expect(downRes.code).toBe(0);
    expect(pids!.processes.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(dir, 'pids.json'))).toBe(false);
    const downAgain = await kubets(['down', '--dir', dir]);
    expect(downAgain.code).toBe(0);
    expect(downAgain.stdout).toContain('nothing to stop');
  }, 90_000);

  it('the default: a real node on its own containerd runs a Deployment of a test image (HTTP from the host), image load adds an image, down leaves nothing behind', async () => {
    const base = await freePortBase();
    const podNetwork = freePodNetwork();
    const bridge = `kubets${base + 10}`;
    const rdir = fs.mkdtempSync(path.join(dir, 'real-'));
    const kc = ['--kubeconfig', path.join(rdir, 'admin.kubeconfig')];
    const rlogs = () =>
      fs
        .readdirSync(path.join(rdir, 'logs'))
        .map((f) => `--- ${f}\n${fs.readFileSync(path.join(rdir, 'logs', f), 'utf8').split('\n').slice(-15).join('\n')}`)
        .join('\n');
    let t = Date.now();
    const upRes = await kubets(['up', '--nodes', '2', '--dir', rdir, '--port-base', String(base), '--pod-network-cidr', podNetwork], 120_000);
    const upSeconds = (Date.now() - t) / 1000;
    const rpids = fs.existsSync(path.join(rdir, 'pids.json')) ? (JSON.parse(fs.readFileSync(path.join(rdir, 'pids.json'), 'utf8')) as PidsFile) : undefined;
    try {
      if (upRes.code !== 0) throw new Error(`kubets up failed (${upRes.code}):\n${upRes.stdout}\n${upRes.stderr}\n${rlogs()}`);
      for (const c of ['containerd', 'test images', 'kubets-kubelet', 'kubets-worker Ready', 'kubets-kubelet-hollow', 'nodes Ready']) expect(upRes.stdout).toContain(c);
      expect(rpids!.processes.map((p) => p.name).slice(-3)).toEqual(['containerd', 'kubets-kubelet', 'kubets-kubelet-hollow']);

      // One real node with a pod CIDR of the cluster's network and the test images in status.images; one hollow node.
      const nodes = JSON.parse((await run('kubectl', [...kc, 'get', 'nodes', '-o', 'json'])).stdout) as {
        items: Array<{ metadata: { name: string }; spec: { podCIDR?: string; taints?: Array<{ key: string; effect: string }> }; status: { nodeInfo: { containerRuntimeVersion: string }; images?: Array<{ names: string[] }> } }>;
      };
      expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['kubets-hollow', 'kubets-worker']);
      expect(nodes.items.find((n) => n.metadata.name === 'kubets-hollow')!.spec.taints).toEqual([expect.objectContaining({ key: 'kubets.io/hollow', effect: 'NoSchedule' })]);
      const worker = nodes.items.find((n) => n.metadata.name === 'kubets-worker')!;
      expect(worker.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
      const podCIDR = worker.spec.podCIDR!;
      expect(podCIDR.split('.').slice(0, 2)).toEqual(podNetwork.split('.').slice(0, 2));
      const prefix = podCIDR.split('.').slice(0, 3).join('.');

      // A Deployment of busybox-httpd on the real node: Running with pod IPs, answering HTTP from the host.
      const manifest = path.join(rdir, 'web.yaml');
      fs.writeFileSync(
        manifest,
        JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web' },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: 'web' } },
            template: {
              metadata: { labels: { app: 'web' } },
              spec: {
                // No node selector: the hollow node's taint keeps the pods off it.
                containers: [{ name: 'httpd', image: 'docker.io/kubets/busybox-httpd:1.0', ports: [{ containerPort: 8080 }] }],
              },
            },
          },
        }),
      );
      t = Date.now();
      expect((await run('kubectl', [...kc, 'apply', '-f', manifest])).code).toBe(0);
      const pods = await waitFor(
        async () => {
          const r = await run('kubectl', [...kc, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.podIP}{"\\n"}{end}']);
          const rows = r.stdout.trim().split('\n').filter(Boolean).map((row) => row.split(' '));
          return rows.length === 2 && rows.every(([, phase, ip]) => phase === 'Running' && ip?.startsWith(`${prefix}.`)) ? rows : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, description: '2 Running web pods with IPs on kubets-worker', context: rlogs },
      );
      const podSeconds = (Date.now() - t) / 1000;
      for (const [name, , ip] of pods) {
        const res = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(5000) });
        expect(await res.text()).toBe(`hello from ${name}\n`);
      }
      const images = worker.status.images?.flatMap((i) => i.names) ?? [];
      expect(images).toContain('docker.io/kubets/busybox-httpd:1.0');

      // kubets image load: a new image (the busybox-httpd archive renamed) runs in a pod.
      const layout = path.join(rdir, 'oci');
      fs.mkdirSync(layout);
      execFileSync('tar', ['-C', layout, '-xf', path.join(root, 'infra', 'images', '.images', 'busybox-httpd.tar')]);
      const indexFile = path.join(layout, 'index.json');
      fs.writeFileSync(indexFile, fs.readFileSync(indexFile, 'utf8').replace('docker.io/kubets/busybox-httpd:1.0', 'docker.io/kubets/loaded:2.0'));
      const archive = path.join(rdir, 'loaded.tar');
      execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
      const loaded = await kubets(['image', 'load', archive, '--dir', rdir, '--node', 'kubets-worker']);
      expect(loaded.stderr).toBe('');
      expect(loaded.code).toBe(0);
      expect(loaded.stdout).toContain('docker.io/kubets/loaded:2.0');
      const hollow = await kubets(['image', 'load', archive, '--dir', rdir, '--node', 'kubets-hollow']);
      expect(hollow.code).toBe(1);
      expect(hollow.stderr).toContain('only kubets-worker is real');
      expect((await run('kubectl', [...kc, 'run', 'loaded', '--image=docker.io/kubets/loaded:2.0'])).code).toBe(0);
      const ip = await waitFor(
        async () => {
          const r = await run('kubectl', [...kc, 'get', 'pod', 'loaded', '-o', 'jsonpath={.status.phase} {.status.podIP}']);
          const [phase, podIP] = r.stdout.split(' ');
          return phase === 'Running' && podIP ? podIP : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, description: 'the pod of the loaded image Running', context: rlogs },
      );
      expect(await (await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(5000) })).text()).toBe('hello from loaded\n');
      process.stdout.write(`kubets up (real node + 1 hollow): ${upSeconds.toFixed(1)}s; 2 pods Running after ${podSeconds.toFixed(1)}s\n`);
    } finally {
      // down: the kubelets, the sandboxes, containerd and its shims, mounts, pod cgroups and the bridge are gone.
      t = Date.now();
      const downRes = await kubets(['down', '--dir', rdir], 120_000);
      expect(downRes.stderr).toBe('');
      expect(downRes.code).toBe(0);
      process.stdout.write(`kubets down: ${((Date.now() - t) / 1000).toFixed(1)}s\n`);
    }
    expect(rpids!.processes.filter(alive)).toEqual([]);
    expect(hostLeftovers(rdir, bridge)).toEqual({ processes: [], mounts: [], bridge: false, cgroups: [] });
  }, 180_000);

  it('refuses clearly when a port is taken, starting nothing', async () => {
    const base = await freePortBase();
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(base + 10, '127.0.0.1', () => r()));
    try {
      const other = fs.mkdtempSync(path.join(dir, 'busy-'));
      const r = await kubets(['up', '--hollow', '--dir', other, '--port-base', String(base)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ports in use: 127.0.0.1:${base + 10} (kubets-apiserver)`);
      expect(fs.existsSync(path.join(other, 'pids.json'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('kubets serve: each component in the foreground (the nx serve targets), started in any order, makes a working cluster; SIGTERM stops each', async () => {
    const base = await freePortBase();
    const sdir = fs.mkdtempSync(path.join(dir, 'serve-'));
    const components = ['kubelet', 'scheduler', 'controller-manager', 'apiserver', 'kv', 'nats'];
    const podNetwork = freePodNetwork();
    const procs = new Map<string, { child: ChildProcess; out: string[] }>();
    const outputs = () => [...procs].map(([c, p]) => `--- ${c}\n${p.out.join('').split('\n').slice(-12).join('\n')}`).join('\n');
    // Started backwards: everything must wait for what it needs.
    for (const c of components) {
      const args = ['serve', c, '--dir', sdir, '--port-base', String(base), '--nodes', '2', '--pod-network-cidr', podNetwork];
      const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, HOME: home } });
      const out: string[] = [];
      child.stdout!.on('data', (d: Buffer) => out.push(d.toString()));
      child.stderr!.on('data', (d: Buffer) => out.push(d.toString()));
      procs.set(c, { child, out });
    }
    const exits = new Map([...procs].map(([c, p]) => [c, new Promise<number | null>((r) => p.child.on('exit', (code) => r(code)))]));
    try {
      await waitFor(
        async () => {
          const r = await run('kubectl', ['--kubeconfig', path.join(sdir, 'admin.kubeconfig'), 'get', 'nodes', '--no-headers'], 15_000);
          const lines = r.stdout.trim().split('\n').filter(Boolean);
          return r.code === 0 && lines.length === 2 && lines.every((l) => l.split(/\s+/)[1] === 'Ready');
        },
        { timeoutMs: 120_000, intervalMs: 500, description: '2 Ready nodes through kubets serve', context: outputs },
      );
      for (const c of ['kv', 'apiserver', 'kubelet']) expect(procs.get(c)!.out.join('')).toMatch(/still waiting for|starting/);
      // The real node and a hollow one, as kubets up runs them.
      const kc = ['--kubeconfig', path.join(sdir, 'admin.kubeconfig')];
      expect((await run('kubectl', [...kc, 'get', 'nodes', '-o', 'name'])).stdout.split('\n').sort()).toEqual(['', 'node/kubets-hollow', 'node/kubets-worker']);
      // A Deployment runs: controller manager and scheduler serve too.
      expect((await run('kubectl', [...kc, 'create', 'deployment', 'served', '--image=docker.io/kubets/busybox-httpd:1.0', '--replicas=2'])).code).toBe(0);
      await waitFor(
        async () => {
          const r = await run('kubectl', [...kc, 'get', 'pods', '-l', 'app=served', '-o', 'jsonpath={range .items[*]}{.status.phase}{"\\n"}{end}']);
          const rows = r.stdout.trim().split('\n').filter(Boolean);
          return rows.length === 2 && rows.every((x) => x === 'Running');
        },
        { timeoutMs: 60_000, intervalMs: 250, description: '2 Running pods through kubets serve', context: outputs },
      );
    } finally {
      for (const p of procs.values()) p.child.kill('SIGTERM');
    }
    // Each serve stops its component(s) and exits; no child survives.
    const codes = await Promise.all([...exits.values()]);
    expect(codes.every((c) => c !== null)).toBe(true);
    // The real node's containerd, shims, mounts, bridge and pod cgroups are gone too.
    expect(hostLeftovers(sdir, `kubets${base + 10}`)).toEqual({ processes: [], mounts: [], bridge: false, cgroups: [] });
  }, 200_000);

  it('every app has an nx serve target that runs its component through kubets serve', () => {
    const want: Record<string, string> = { cli: 'nats', kv: 'kv', apiserver: 'apiserver', 'controller-manager': 'controller-manager', scheduler: 'scheduler', kubelet: 'kubelet' };
    for (const [app, component] of Object.entries(want)) {
      const pkg = JSON.parse(fs.readFileSync(path.join(root, 'apps', app, 'package.json'), 'utf8')) as { scripts: Record<string, string>; nx?: { targets?: Record<string, { continuous?: boolean }> } };
      expect(pkg.scripts.serve).toBe(`node ../cli/dist/main.js serve ${component} --dir ../../.local-cluster`);
      expect(pkg.nx?.targets?.serve?.continuous).toBe(true);
    }
  });
});

// `kubets up` / `kubets down` as a user runs them: the built CLI starts the
// whole local cluster (nats-server, 3 kubets-kv, apiserver, controller
// manager, scheduler, hollow nodes) as detached processes on free ports,
// stock kubectl sees Ready nodes and a Deployment's pods Running, and
// `kubets down` leaves none of the recorded processes alive.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
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
 * A base with 15 consecutive free loopback ports, below the ephemeral range
 * (where other tests' freePort() ports and outgoing connections come from)
 * and away from the defaults a running local cluster holds.
 */
async function freePortBase(): Promise<number> {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    /* not Linux */
  }
  const low = 15_000;
  const high = Math.max(low + 1000, ephemeralLow - 16);
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    const used = await Promise.all(Array.from({ length: 15 }, (_, i) => portInUse(base + i)));
    if (!used.some(Boolean)) return base;
  }
  throw new Error('no 15 consecutive free ports found');
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
  it('brings up a cluster with 2 hollow nodes that runs a Deployment, and down stops every process', async () => {
    const base = await freePortBase();
    const upRes = await kubets(['up', '--nodes', '2', '--dir', dir, '--port-base', String(base)], 90_000);
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
    const again = await kubets(['up', '--nodes', '2', '--dir', dir, '--port-base', String(base)]);
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

  it('refuses clearly when a port is taken, starting nothing', async () => {
    const base = await freePortBase();
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(base + 10, '127.0.0.1', () => r()));
    try {
      const other = fs.mkdtempSync(path.join(dir, 'busy-'));
      const r = await kubets(['up', '--dir', other, '--port-base', String(base)]);
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
    const procs = new Map<string, { child: ChildProcess; out: string[] }>();
    const outputs = () => [...procs].map(([c, p]) => `--- ${c}\n${p.out.join('').split('\n').slice(-12).join('\n')}`).join('\n');
    // Started backwards: everything must wait for what it needs.
    for (const c of components) {
      const child = spawn(process.execPath, [cli, 'serve', c, '--dir', sdir, '--port-base', String(base), '--nodes', '2'], { cwd: root, env: { ...process.env, HOME: home } });
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
      // A Deployment runs: controller manager and scheduler serve too.
      const kc = ['--kubeconfig', path.join(sdir, 'admin.kubeconfig')];
      expect((await run('kubectl', [...kc, 'create', 'deployment', 'served', '--image=nginx', '--replicas=2'])).code).toBe(0);
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
    const leftovers = fs
      .readdirSync('/proc')
      .filter((f) => /^\d+$/.test(f))
      .filter((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(sdir);
        } catch {
          return false;
        }
      });
    expect(leftovers).toEqual([]);
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

// `kubets serve COMPONENT`: one component of the local cluster in the
// foreground, with the same command line `kubets up` gives it. Each app's nx
// `serve` target runs one, so `npx nx run-many -t serve` brings up the whole
// local cluster with every component's log on the terminal, and Ctrl-C stops
// it. `kubets serve nats` (the cli app's target) also runs `kubets init` into
// DIR; the others wait until it has, then for the components they need.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseFlags, type FlagSpecs } from '@kubets/service-kit';
import { runInit, SUMMARY_FILE, type InitSummary } from '../init';
import {
  apiserverCommand,
  controllerManagerCommand,
  hollowKubeletCommand,
  kubeadmConfig,
  kvCommands,
  kvHealthUrl,
  natsCommand,
  schedulerCommand,
  UpError,
  type Command,
} from './components';
import { portsFrom, type Ports } from './ports';
import { apiGet, httpOk, sleep } from './probes';
import { alive } from './procs';

export const SERVE_FLAGS = {
  dir: { type: 'string', default: '.local-cluster', description: 'State directory shared by the serve commands (PKI, kubeconfigs, data)' },
  'port-base': { type: 'number', integer: true, min: 1024, max: 65535 - 15, description: 'Ports as in kubets up --port-base' },
  nodes: { type: 'number', integer: true, min: 1, default: 3, description: 'Hollow nodes (kubelet only)' },
  timeout: { type: 'duration', default: '300s', description: 'How long to wait for what this component needs' },
} as const satisfies FlagSpecs;

export const SERVE_COMPONENTS = ['nats', 'kv', 'apiserver', 'controller-manager', 'scheduler', 'kubelet'] as const;
type Component = (typeof SERVE_COMPONENTS)[number];

export const SERVE_USAGE = `Run one component of the local cluster in the foreground, configured as
\`kubets up\` would (what each app's \`npx nx serve\` target runs; \`npx nx
run-many -t serve\` runs them all). Ctrl-C stops it.

Usage:
  kubets serve (${SERVE_COMPONENTS.join('|')}) [--dir DIR] [--port-base PORT]

  nats               kubets init into DIR, then nats-server (start this one first or together)
  kv                 the three kubets-kv members
  apiserver          kubets-apiserver, once the KV has a leader
  controller-manager, scheduler, kubelet (hollow nodes)
                     once the API server is ready

Flags:
  --dir string        ${SERVE_FLAGS.dir.description} (default ".local-cluster")
  --port-base int     ${SERVE_FLAGS['port-base'].description}
  --nodes int         ${SERVE_FLAGS.nodes.description} (default 3)
  --timeout duration  ${SERVE_FLAGS.timeout.description} (default "300s")
`;

/** Written by `kubets serve nats` once DIR is initialised; the others wait for it (and for its pid to be alive). */
const MARKER = 'serve.json';

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, say: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nextNote = Date.now() + 10_000;
  for (;;) {
    if (await (async () => check())().catch(() => false)) return;
    if (Date.now() > deadline) throw new UpError(`gave up waiting for ${what} after ${timeoutMs / 1000}s`);
    if (Date.now() > nextNote) {
      say(`still waiting for ${what}`);
      nextNote = Date.now() + 10_000;
    }
    await sleep(200);
  }
}

/** The API server's /readyz, as the cluster admin. */
function apiserverReady(dir: string, ports: Ports, token: string) {
  const ca = fs.readFileSync(path.join(dir, 'pki/ca.crt'), 'utf8');
  return async () => (await apiGet(ports.apiserver, ca, token, '/readyz')).status === 200;
}

/** Runs the commands as children with the terminal's stdio until one exits or we are told to stop. */
function runForeground(commands: Command[], say: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const children: ChildProcess[] = [];
    let stopping = false;
    let result = 0;
    let running = commands.length;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill(sig);
    };
    process.on('SIGINT', () => stop('SIGTERM'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    for (const c of commands) {
      say(`starting ${c.name}`);
      const ch = spawn(c.command, c.args, { stdio: 'inherit', env: process.env });
      children.push(ch);
      ch.on('error', (e) => say(`${c.name} failed to start: ${e.message}`));
      ch.on('exit', (code, sig) => {
        if (!stopping) {
          say(`${c.name} ${sig ? `was killed by ${sig}` : `exited with code ${code}`}; stopping the rest`);
          result = code ?? 1;
          stop('SIGTERM');
        }
        if (--running === 0) resolve(result);
      });
    }
  });
}

export async function serve(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const [component, ...rest] = argv;
  if (!component || component === '-h' || component === '--help') {
    out.write(SERVE_USAGE);
    return component ? 0 : 2;
  }
  if (!(SERVE_COMPONENTS as readonly string[]).includes(component)) {
    process.stderr.write(`error: unknown component "${component}" for "kubets serve"; one of ${SERVE_COMPONENTS.join(', ')}\n`);
    return 2;
  }
  let cfg: { dir: string; portBase?: number; nodes: number; timeout: number };
  try {
    cfg = parseFlags(SERVE_FLAGS, { argv: rest, env: {}, configFlag: 'kubets-flags-file' }).config as typeof cfg;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const dir = path.resolve(cfg.dir);
  const ports = portsFrom(cfg.portBase);
  const say = (line: string) => out.write(`kubets serve ${component}: ${line}\n`);
  try {
    const commands = await prepare(component as Component, dir, ports, cfg, say);
    return await runForeground(commands, say);
  } catch (err) {
    if (!(err instanceof UpError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
}

async function prepare(component: Component, dir: string, ports: Ports, cfg: { nodes: number; timeout: number }, say: (line: string) => void): Promise<Command[]> {
  const marker = path.join(dir, MARKER);
  if (component === 'nats') {
    for (const sub of ['nats', 'kv']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const cfgPath = path.join(dir, 'kubeadm-init.yaml');
    fs.writeFileSync(cfgPath, kubeadmConfig(ports));
    const init = runInit({ configFile: cfgPath, outDir: dir });
    fs.writeFileSync(marker, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
    say(`initialised ${dir}${init.reusedCA ? ' (existing CA reused)' : ''}; kubectl: export KUBECONFIG=${path.join(dir, 'admin.kubeconfig')}`);
    return [natsCommand(dir, ports)];
  }
  await waitFor(
    `\`kubets serve nats\` (npx nx serve @kubets/cli) to initialise ${dir}`,
    () => {
      const m = JSON.parse(fs.readFileSync(marker, 'utf8')) as { pid: number };
      return alive({ pid: m.pid, match: 'serve' }) && fs.existsSync(path.join(dir, SUMMARY_FILE));
    },
    cfg.timeout,
    say,
  );
  const summary = JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as InitSummary;
  switch (component) {
    case 'kv':
      return kvCommands(dir, ports);
    case 'apiserver': {
      const anyHealthy = async () => {
        for (let i = 0; i < 3; i++) if (await httpOk(kvHealthUrl(ports, i))().catch(() => false)) return true;
        return false;
      };
      await waitFor('a kubets-kv leader (npx nx serve @kubets/kv)', anyHealthy, cfg.timeout, say);
      return [apiserverCommand(dir, ports, summary)];
    }
    default: {
      await waitFor('the API server (npx nx serve @kubets/apiserver)', apiserverReady(dir, ports, summary.adminToken), cfg.timeout, say);
      if (component === 'controller-manager') return [controllerManagerCommand(dir, ports, summary)];
      if (component === 'scheduler') return [schedulerCommand(dir, ports)];
      return [hollowKubeletCommand(dir, ports, cfg.nodes)];
    }
  }
}

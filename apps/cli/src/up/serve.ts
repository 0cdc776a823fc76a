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
  DEFAULT_POD_SUBNET,
  kubeadmConfig,
  kvCommands,
  kvHealthUrl,
  natsCommand,
  realKubeletCommand,
  schedulerCommand,
  UpError,
  type Command,
} from './components';
import { PORT_COUNT, portsFrom, type Ports } from './ports';
import { apiGet, httpOk, sleep } from './probes';
import {
  checkNodePrerequisites,
  cleanupNodeHost,
  containerdCommand,
  criRuntimeReady,
  ensureTestImages,
  importImage,
  nodeLayout,
  prepareNode,
  removeSandboxes,
} from './node';
import { alive } from './procs';

export const SERVE_FLAGS = {
  dir: { type: 'string', default: '.local-cluster', description: 'State directory shared by the serve commands (PKI, kubeconfigs, data)' },
  'port-base': { type: 'number', integer: true, min: 1024, max: 65535 - PORT_COUNT, description: 'Ports as in kubets up --port-base' },
  nodes: { type: 'number', integer: true, min: 1, default: 3, description: 'Nodes (kubelet only): one real node and the rest hollow, as kubets up' },
  hollow: { type: 'boolean', description: 'Every node hollow: no containerd (kubelet only)' },
  'pod-network-cidr': { type: 'string', default: DEFAULT_POD_SUBNET, description: 'The pod network (nats only: it runs kubets init)' },
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
  controller-manager, scheduler
                     once the API server is ready
  kubelet            the real node (containerd of its own with the test images,
                     the CRI kubelet; needs root) and --nodes - 1 hollow nodes,
                     or only hollow nodes with --hollow; once the API server is ready

Flags:
  --dir string               ${SERVE_FLAGS.dir.description} (default ".local-cluster")
  --port-base int            ${SERVE_FLAGS['port-base'].description}
  --nodes int                ${SERVE_FLAGS.nodes.description} (default 3)
  --hollow                   ${SERVE_FLAGS.hollow.description}
  --pod-network-cidr string  ${SERVE_FLAGS['pod-network-cidr'].description} (default "${DEFAULT_POD_SUBNET}")
  --timeout duration         ${SERVE_FLAGS.timeout.description} (default "300s")
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

/** Processes started together; stages start in order and stop in reverse order. */
interface Stage {
  commands: Command[];
  /** Each in its own process group: the terminal's Ctrl-C must not reach containerd before the kubelet and the pod sandboxes are gone. */
  detached?: boolean;
  /** After the stage's processes started: the next stage starts once it resolves (rejecting stops everything). */
  ready?: () => Promise<void>;
  /** Once the later stages stopped, before this one's processes are told to. */
  beforeStop?: () => Promise<void>;
  /** Once this stage's processes exited. */
  afterStop?: () => Promise<void>;
}

/** How long a component has after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 15_000;

/**
 * Runs the stages' commands as children with the terminal's stdio until one
 * exits or we are told to stop; then stops the stages from the last one
 * back, each with its hooks.
 */
async function runStages(stages: Stage[], say: (line: string) => void): Promise<number> {
  let stopping = false;
  let result = 0;
  let wake!: () => void;
  const stopRequested = new Promise<void>((r) => (wake = r));
  const requestStop = (code: number) => {
    if (stopping) return;
    stopping = true;
    result = code;
    wake();
  };
  process.on('SIGINT', () => requestStop(0));
  process.on('SIGTERM', () => requestStop(0));
  const started: Array<{ stage: Stage; children: Array<{ ch: ChildProcess; exited: Promise<void> }> }> = [];
  for (const stage of stages) {
    if (stopping) break;
    const children = stage.commands.map((c) => {
      say(`starting ${c.name}`);
      const ch = spawn(c.command, c.args, { stdio: 'inherit', env: process.env, detached: stage.detached });
      const exited = new Promise<void>((resolve) => {
        ch.on('error', (e) => {
          say(`${c.name} failed to start: ${e.message}`);
          requestStop(1);
          resolve();
        });
        ch.on('exit', (code, sig) => {
          if (!stopping) {
            say(`${c.name} ${sig ? `was killed by ${sig}` : `exited with code ${code}`}; stopping the rest`);
            requestStop(code ?? 1);
          }
          resolve();
        });
      });
      return { ch, exited };
    });
    started.push({ stage, children });
    if (stage.ready) {
      await Promise.race([
        stage.ready().catch((e: Error) => {
          say(e.message);
          requestStop(1);
        }),
        stopRequested,
      ]);
    }
  }
  await stopRequested;
  for (const { stage, children } of started.reverse()) {
    await stage.beforeStop?.().catch((e: Error) => say(e.message));
    const live = children.filter(({ ch }) => ch.exitCode === null && ch.signalCode === null);
    for (const { ch } of live) ch.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const { ch } of live) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(children.map((c) => c.exited));
    clearTimeout(timer);
    await stage.afterStop?.().catch((e: Error) => say(e.message));
  }
  return result;
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
  let cfg: ServeConfig;
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
    const stages = await prepare(component as Component, dir, ports, cfg, say);
    return await runStages(stages, say);
  } catch (err) {
    if (!(err instanceof UpError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
}

interface ServeConfig {
  dir: string;
  portBase?: number;
  nodes: number;
  hollow?: boolean;
  podNetworkCidr: string;
  timeout: number;
}

async function prepare(component: Component, dir: string, ports: Ports, cfg: ServeConfig, say: (line: string) => void): Promise<Stage[]> {
  const marker = path.join(dir, MARKER);
  if (component === 'nats') {
    for (const sub of ['nats', 'kv']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const cfgPath = path.join(dir, 'kubeadm-init.yaml');
    fs.writeFileSync(cfgPath, kubeadmConfig(ports, cfg.podNetworkCidr));
    const init = runInit({ configFile: cfgPath, outDir: dir });
    fs.writeFileSync(marker, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
    say(`initialised ${dir}${init.reusedCA ? ' (existing CA reused)' : ''}; kubectl: export KUBECONFIG=${path.join(dir, 'admin.kubeconfig')}`);
    return [{ commands: [natsCommand(dir, ports)] }];
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
      return [{ commands: kvCommands(dir, ports) }];
    case 'apiserver': {
      const anyHealthy = async () => {
        for (let i = 0; i < 3; i++) if (await httpOk(kvHealthUrl(ports, i))().catch(() => false)) return true;
        return false;
      };
      await waitFor('a kubets-kv leader (npx nx serve @kubets/kv)', anyHealthy, cfg.timeout, say);
      return [{ commands: [apiserverCommand(dir, ports, summary)] }];
    }
    default: {
      // A real node's prerequisites fail now, not after minutes of waiting.
      if (component === 'kubelet' && !cfg.hollow) checkNodePrerequisites();
      await waitFor('the API server (npx nx serve @kubets/apiserver)', apiserverReady(dir, ports, summary.adminToken), cfg.timeout, say);
      if (component === 'controller-manager') return [{ commands: [controllerManagerCommand(dir, ports, summary)] }];
      if (component === 'scheduler') return [{ commands: [schedulerCommand(dir, ports)] }];
      if (cfg.hollow) return [{ commands: [hollowKubeletCommand(dir, ports, cfg.nodes)] }];
      return realNodeStages(dir, ports, cfg, say);
    }
  }
}

/**
 * `kubets serve kubelet` without --hollow: the real node as kubets up runs
 * it (containerd, the test images, the CRI kubelet) plus nodes-1 hollow
 * nodes; on the way down the kubelets stop first, then the pod sandboxes are
 * removed, then containerd, then what it leaves on the host.
 */
function realNodeStages(dir: string, ports: Ports, cfg: ServeConfig, say: (line: string) => void): Stage[] {
  const layout = nodeLayout(dir, ports);
  prepareNode(dir, layout);
  const containerd = containerdCommand(layout);
  const kubelets = [realKubeletCommand(dir, ports, layout), ...(cfg.nodes > 1 ? [hollowKubeletCommand(dir, ports, cfg.nodes - 1, true)] : [])];
  return [
    {
      commands: [containerd],
      detached: true,
      ready: async () => {
        await waitFor(`containerd's CRI on ${layout.socket}`, () => criRuntimeReady(layout), cfg.timeout, say);
        const archives = await ensureTestImages();
        const names = (await Promise.all(archives.map((a) => importImage(layout, a)))).flat();
        say(`imported ${names.join(', ')}`);
      },
      beforeStop: async () => {
        const problems = await removeSandboxes(layout);
        if (problems.length) say(`removing the pod sandboxes: ${problems.join('; ')}`);
      },
      afterStop: async () => {
        const problems = await cleanupNodeHost(layout);
        if (problems.length) say(`left behind: ${problems.join('; ')}`);
      },
    },
    { commands: kubelets },
  ];
}

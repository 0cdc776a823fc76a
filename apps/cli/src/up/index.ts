// `kubets up` / `kubets down`: a one-command local cluster. Every component
// runs as a separate detached process (its own process group), logging to
// D/logs/<name>.log; the pids are recorded in D/pids.json so `kubets down`
// (a later, separate command) can stop exactly what `up` started.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, parseFlags, type FlagSpecs } from '@kubets/service-kit';
import { runInit, SUMMARY_FILE, type InitSummary } from '../init';
import {
  apiserverCommand,
  builtApp,
  controllerManagerCommand,
  grpcAddress,
  DEFAULT_POD_SUBNET,
  HOLLOW_TAINT,
  hollowKubeletCommand,
  kubeadmConfig,
  kvCommands,
  kvEndpoints,
  kvHealthUrl,
  natsCommand,
  natsUrl as natsUrlOf,
  realKubeletCommand,
  schedulerCommand,
  UpError,
  type Command,
} from './components';
import {
  checkNodePrerequisites,
  cleanupNodeHost,
  containerdCommand,
  criRuntimeReady,
  ensureTestImages,
  importImage,
  nodeLayout,
  prepareNode,
  readNodeLayout,
  removeSandboxes,
} from './node';
import { PORT_COUNT, portsFrom, type Ports } from './ports';
import { apiGet, httpOk, sleep } from './probes';
import { alive, pidsPath, portInUse, readPids, startDetached, stopAll, tail, writePids, type ProcRecord, type Started } from './procs';

export const UP_FLAGS = {
  nodes: { type: 'number', integer: true, min: 0, default: 3, description: 'Nodes to run: one real node, the others hollow (0: control plane only)' },
  hollow: { type: 'boolean', description: 'Every node hollow (no containerd, no containers; no root needed)' },
  dir: { type: 'string', default: '.kubets', description: 'State directory: PKI, kubeconfigs, data, logs, pids.json' },
  'port-base': {
    type: 'number',
    integer: true,
    min: 1024,
    max: 65535 - PORT_COUNT,
    description:
      'Use 16 consecutive ports from here instead of the defaults: nats +0, kv clients +1..3, kv peers +4..6, kv metrics +7..9, apiserver +10, apiserver gRPC +11, scheduler +12, controller manager +13, kubelet +14, hollow kubelet +15',
  },
  'pod-network-cidr': {
    type: 'string',
    default: DEFAULT_POD_SUBNET,
    description: 'The pod network (kubeadm networking.podSubnet): each node gets a /24 of it; a second cluster on this host needs another one',
  },
  timeout: { type: 'duration', default: '120s', description: 'How long to wait for each component, and for the nodes to be Ready' },
} as const satisfies FlagSpecs;

export const DOWN_FLAGS = {
  dir: { type: 'string', default: '.kubets', description: 'State directory given to kubets up' },
  'grace-period': { type: 'duration', default: '10s', description: 'How long to wait after SIGTERM before SIGKILL' },
} as const satisfies FlagSpecs;

export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}


export function usage(specs: FlagSpecs): string {
  return Object.entries(specs)
    .map(([f, s]) => {
      const arg = s.type === 'boolean' ? '' : s.type === 'number' ? ' int' : s.type === 'duration' ? ' duration' : ' string';
      const def = s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : '';
      return `  --${`${f}${arg}`.padEnd(24)} ${s.description}${def}`;
    })
    .join('\n');
}

export const UP_USAGE = `Start a local kubets cluster: nats-server, a 3-member kubets-kv, kubets-apiserver,
kubets-controller-manager, kubets-scheduler and the nodes, each a separate
background process (logs in DIR/logs, pids in DIR/pids.json). The PKI and
kubeconfigs come from \`kubets init\` into DIR (an existing CA is reused).

The first node, kubets-worker, is real: a containerd of its own (config,
root, state and socket in DIR/containerd) with the test images of
infra/images/build.sh imported (docker.io/kubets/{pause,busybox-httpd,
crasher,probe-target}:1.0), and a kubets-kubelet that runs pods on it (pod
network from the node's podCIDR on bridge kubets0, or kubets<API server port>
with --port-base). Further nodes are hollow (kubets-hollow-N, one process),
tainted kubets.io/hollow=true:NoSchedule so that only pods tolerating it go
there: several real kubelets on one host would fight over the same network
rules. A real node needs root and containerd, runc and the CNI plugins (bash
infra/setup); --hollow makes every node hollow and needs none of them. Load
more images with \`kubets image load\`.

Usage:
  kubets up [--nodes N] [--hollow] [--dir DIR] [--port-base PORT] [--pod-network-cidr CIDR]

Flags:
${usage(UP_FLAGS)}
  -h, --help                 help for this command

Default ports: nats 4222; kubets-kv clients 2379, 22379, 32379 (peers 12380,
22380, 32380; metrics 12381, 22381, 32381); API server 6443 (gRPC 6444);
scheduler 10259, controller manager 10257, kubelet 10248 (/readyz, /metrics),
hollow kubelet 10255 (with a real node). Stop everything with
\`kubets down --dir DIR\`.
`;

export const DOWN_USAGE = `Stop the local cluster \`kubets up\` started (everything recorded in DIR/pids.json):
SIGTERM to each process group, SIGKILL after the grace period; the kubelets
first, then the real node's pod sandboxes are removed through containerd's
CRI, then containerd and the control plane; last, the node's shims, mounts,
pod cgroups and bridge. Data, PKI, images and logs stay in DIR (delete it for
a fresh cluster). Safe to run twice.

Usage:
  kubets down [--dir DIR]

Flags:
${usage(DOWN_FLAGS)}
  -h, --help                 help for this command
`;

/** Poll `check` until it returns true; fail early when the process exits. */
async function waitReady(s: Started, check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  let exited: string | undefined;
  void s.exited.then((why) => (exited = why));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new UpError(`${s.rec.name} ${exited} while starting`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new UpError(`${s.rec.name} was not ready (${what}) within ${timeoutMs / 1000}s`);
    await sleep(100);
  }
}

const logHas = (file: string, re: RegExp) => async () => {
  try {
    return re.test(fs.readFileSync(file, 'utf8'));
  } catch {
    return false;
  }
};

interface NodeList {
  items: Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string }> } }>;
}

/** How many nodes (of `names`, default all) report Ready=True (0 when the API server cannot say). */
export async function readyNodes(ports: Ports, ca: string, token: string, names?: string[]): Promise<number> {
  const r = await apiGet(ports.apiserver, ca, token, '/api/v1/nodes');
  if (r.status !== 200) return 0;
  const list = JSON.parse(r.body) as NodeList;
  return list.items.filter((n) => (!names || names.includes(n.metadata.name)) && n.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True')).length;
}

export function parse<S extends FlagSpecs>(specs: S, argv: string[], command: string, positionals = false) {
  try {
    const p = parseFlags(specs, { argv, env: {}, configFlag: 'kubets-flags-file' });
    if (!positionals && p.positionals.length > 0) throw new ConfigError(`unexpected argument "${p.positionals[0]}"`);
    return p;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Error: ${err.message}\nRun 'kubets ${command} --help' for usage.\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** A kubelet process (stopped before the node's sandboxes are removed). */
const isKubelet = (r: ProcRecord) => r.name.startsWith('kubets-kubelet');

/**
 * Stops what `kubets up` started, in the order the real node needs: the
 * kubelets (so none recreates a pod), the pod sandboxes through the CRI (the
 * CNI plugins release addresses and rules), then containerd and the control
 * plane tier by tier, then what the node leaves on the host. Returns the
 * names that needed SIGKILL and what could not be cleaned up.
 */
async function stopCluster(dir: string, records: ProcRecord[], graceMs: number, log?: (line: string) => void): Promise<{ killed: string[]; problems: string[] }> {
  const killed = await stopAll(records.filter(isKubelet), graceMs, log);
  const problems: string[] = [];
  const layout = records.some((r) => r.name === 'containerd') ? readNodeLayout(dir) : undefined;
  const containerd = records.find((r) => r.name === 'containerd');
  if (layout && containerd && alive(containerd)) {
    log?.(`removing the pod sandboxes of ${layout.name}`);
    problems.push(...(await removeSandboxes(layout)));
  }
  killed.push(...(await stopAll(records.filter((r) => !isKubelet(r)), graceMs, log)));
  if (layout) {
    log?.(`cleaning up ${layout.name}: shims, mounts, pod cgroups, bridge ${layout.bridge}`);
    problems.push(...(await cleanupNodeHost(layout)));
  }
  return { killed, problems };
}

export async function up(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const parsed = parse(UP_FLAGS, argv, 'up');
  if (parsed.help) {
    out.write(UP_USAGE);
    return 0;
  }
  const c = parsed.config;
  const dir = path.resolve(c.dir);
  const ports = portsFrom(c.portBase);
  const timeoutMs = c.timeout;
  const say = (line: string) => out.write(`${line}\n`);
  const realNode = !c.hollow && c.nodes > 0;
  const hollowNodes = realNode ? c.nodes - 1 : c.nodes;

  // Already up?
  const existing = readPids(dir);
  if (existing) {
    const live = existing.processes.filter(alive);
    if (live.length === existing.processes.length && live.length > 0) {
      say(`kubets: the cluster in ${dir} is already up (${live.map((r) => r.name).join(', ')}).`);
      say(`  export KUBECONFIG=${shellQuote(path.join(dir, 'admin.kubeconfig'))}; kubectl get nodes`);
      say(`Stop it with: kubets down --dir ${shellQuote(c.dir)}`);
      return 0;
    }
    if (live.length > 0) {
      process.stderr.write(
        `error: the cluster in ${dir} is partly running (${live.map((r) => `${r.name} pid ${r.pid}`).join(', ')}; stopped: ${existing.processes
          .filter((r) => !live.includes(r))
          .map((r) => r.name)
          .join(', ')}).\nRun 'kubets down --dir ${shellQuote(c.dir)}' first.\n`,
      );
      return 1;
    }
    // Stale: nothing of it runs, but a killed real node may have left shims, mounts or its bridge.
    const stale = readNodeLayout(dir);
    if (stale && existing.processes.some((r) => r.name === 'containerd')) {
      const problems = await cleanupNodeHost(stale);
      if (problems.length) process.stderr.write(`warning: leftovers of the last real node in ${dir}:\n  ${problems.join('\n  ')}\n`);
    }
    fs.rmSync(pidsPath(dir), { force: true });
  }

  // A real node's tools and root, before anything starts.
  if (realNode) {
    try {
      checkNodePrerequisites();
    } catch (err) {
      if (!(err instanceof UpError)) throw err;
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
  }

  // Every port must be free before anything starts.
  const wanted: Array<[string, number]> = [
    ['nats-server', ports.nats],
    ...ports.kvClient.map((p, i): [string, number] => [`kubets-kv infra${i + 1} (client)`, p]),
    ...ports.kvPeer.map((p, i): [string, number] => [`kubets-kv infra${i + 1} (peer)`, p]),
    ...ports.kvMetrics.map((p, i): [string, number] => [`kubets-kv infra${i + 1} (metrics)`, p]),
    ['kubets-apiserver', ports.apiserver],
    ['kubets-apiserver (gRPC)', ports.grpc],
    ['kubets-scheduler', ports.scheduler],
    ['kubets-controller-manager', ports.controllerManager],
    ...(c.nodes > 0 ? [['kubets-kubelet', ports.kubelet] as [string, number]] : []),
    ...(realNode && hollowNodes > 0 ? [['kubets-kubelet-hollow', ports.hollowKubelet] as [string, number]] : []),
  ];
  const taken: string[] = [];
  for (const [what, port] of wanted) if (await portInUse(port)) taken.push(`127.0.0.1:${port} (${what})`);
  if (taken.length) {
    process.stderr.write(
      `error: ports in use: ${taken.join(', ')}.\nAnother cluster (bash infra/local-cluster, or kubets up with another --dir) may be running; stop it, or pick other ports with --port-base.\n`,
    );
    return 1;
  }

  // Every app must be built (builtApp throws otherwise) before anything starts.
  for (const app of ['kv', 'apiserver', 'controller-manager', 'scheduler', 'kubelet']) builtApp(app);
  for (const sub of ['logs', 'nats', 'kv']) fs.mkdirSync(path.join(dir, sub), { recursive: true });

  // PKI, kubeconfigs and tokens (an existing CA is reused).
  const cfgPath = path.join(dir, 'kubeadm-init.yaml');
  fs.writeFileSync(cfgPath, kubeadmConfig(ports, c.podNetworkCidr));
  const t0 = Date.now();
  const init = runInit({ configFile: cfgPath, outDir: dir });
  const summary = JSON.parse(fs.readFileSync(path.join(dir, SUMMARY_FILE), 'utf8')) as InitSummary;
  const ca = fs.readFileSync(path.join(dir, 'pki/ca.crt'), 'utf8');
  say(`kubets up: cluster state in ${dir}`);
  const step = (name: string, detail: string, since: number) => say(`  ✓ ${name.padEnd(28)} ${detail.padEnd(48)} ${((Date.now() - since) / 1000).toFixed(1)}s`);
  step('kubets init', init.reusedCA ? 'certificates (existing CA reused)' : 'certificates, kubeconfigs, tokens', t0);

  const records: ProcRecord[] = [];
  const started: Started[] = [];
  const start = (c: Command): Started => {
    const s = startDetached(c.name, c.command, c.args, path.join(dir, 'logs', `${c.name}.log`), c.match, dir);
    started.push(s);
    if (s.rec.pid > 0) {
      records.push(s.rec);
      writePids(dir, records);
    }
    return s;
  };
  const natsUrl = natsUrlOf(ports);
  const grpc = grpcAddress(ports);
  let current: Started | undefined;
  const nodesReady = async (s: Started, want: number, t: number, names?: string[]) => {
    let ready = 0;
    await waitReady(
      s,
      async () => {
        ready = await readyNodes(ports, ca, summary.adminToken, names);
        return ready >= want;
      },
      timeoutMs,
      `${want} Ready node(s)${names ? ` (${names.join(', ')})` : ''}, ${ready} so far`,
    );
    step(names ? `${names.join(', ')} Ready` : 'nodes Ready', names ? 'pod network from its podCIDR' : `${ready}/${c.nodes}`, t);
  };

  try {
    // nats-server
    let t = Date.now();
    current = start(natsCommand(dir, ports));
    await waitReady(current, logHas(current.rec.log, /Server is ready/), timeoutMs, 'log "Server is ready"');
    step('nats-server', natsUrl, t);

    // kubets-kv, 3 members
    t = Date.now();
    const members = kvCommands(dir, ports).map(start);
    for (const m of members) {
      current = m;
      await waitReady(m, logHas(m.rec.log, /kubets-kv member started/), timeoutMs, 'log "kubets-kv member started"');
    }
    current = members[0];
    await waitReady(members[0]!, httpOk(kvHealthUrl(ports)), timeoutMs, 'a leader (/health)');
    step('kubets-kv (3 members)', ports.kvClient.map((p) => `127.0.0.1:${p}`).join(','), t);

    // kubets-apiserver
    t = Date.now();
    current = start(apiserverCommand(dir, ports, summary));
    const api = current;
    await waitReady(api, async () => (await apiGet(ports.apiserver, ca, summary.adminToken, '/readyz')).status === 200, timeoutMs, '/readyz');
    step('kubets-apiserver', `https://127.0.0.1:${ports.apiserver} (gRPC ${grpc})`, t);

    // controller manager and scheduler (started together, each polled on /readyz)
    t = Date.now();
    const cm = start(controllerManagerCommand(dir, ports, summary));
    const sched = start(schedulerCommand(dir, ports));
    current = cm;
    await waitReady(cm, httpOk(`http://127.0.0.1:${ports.controllerManager}/readyz`), timeoutMs, '/readyz');
    step('kubets-controller-manager', `http://127.0.0.1:${ports.controllerManager}/readyz (pod CIDRs from ${summary.podSubnet ?? 'none'})`, t);
    current = sched;
    await waitReady(sched, httpOk(`http://127.0.0.1:${ports.scheduler}/readyz`), timeoutMs, '/readyz');
    step('kubets-scheduler', `http://127.0.0.1:${ports.scheduler}/readyz`, t);

    // The real node: containerd, the test images, its kubelet; Ready once its CNI config is in place.
    if (realNode) {
      const layout = nodeLayout(dir, ports);
      prepareNode(dir, layout);
      t = Date.now();
      current = start(containerdCommand(layout));
      await waitReady(current, () => criRuntimeReady(layout), timeoutMs, `CRI RuntimeReady on ${layout.socket}`);
      step('containerd', layout.socket, t);
      t = Date.now();
      const archives = await ensureTestImages();
      const names = (await Promise.all(archives.map((a) => importImage(layout, a)))).flat();
      step('test images', `${names.length} imported (${names.map((n) => n.replace(/^docker\.io\/kubets\//, '')).join(', ')})`, t);
      t = Date.now();
      current = start(realKubeletCommand(dir, ports, layout));
      await waitReady(current, httpOk(`http://127.0.0.1:${ports.kubelet}/readyz`), timeoutMs, '/readyz');
      step('kubets-kubelet', `node ${layout.name} on containerd, bridge ${layout.bridge}`, t);
      await nodesReady(current, 1, t, [layout.name]);
    }

    // hollow nodes, one process
    if (hollowNodes > 0) {
      t = Date.now();
      current = start(hollowKubeletCommand(dir, ports, hollowNodes, realNode));
      const kubelet = current;
      await waitReady(kubelet, httpOk(`http://127.0.0.1:${realNode ? ports.hollowKubelet : ports.kubelet}/readyz`), timeoutMs, '/readyz');
      step(realNode ? 'kubets-kubelet-hollow' : 'kubets-kubelet (hollow)', `${hollowNodes} hollow node(s) registered${realNode ? `, tainted ${HOLLOW_TAINT}` : ''}`, t);
      await nodesReady(kubelet, c.nodes, t);
    }
    current = undefined;
  } catch (err) {
    const failed = current?.rec;
    process.stderr.write(`\nerror: ${(err as Error).message}\n`);
    if (failed) process.stderr.write(`--- last lines of ${failed.log}:\n${tail(failed.log, 30)}\n---\n`);
    process.stderr.write(`stopping what was started...\n`);
    try {
      const { problems } = await stopCluster(dir, records, 5000);
      if (problems.length) process.stderr.write(`left behind:\n  ${problems.join('\n  ')}\n`);
    } catch (e) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
    }
    // They are still our children here: reap them before exiting (no zombies left behind).
    await Promise.race([Promise.all(started.map((s) => s.exited)), sleep(2000)]);
    fs.rmSync(pidsPath(dir), { force: true });
    return 1;
  }

  const kubeconfig = shellQuote(path.join(dir, 'admin.kubeconfig'));
  say('');
  say(`Your kubets cluster is up (${((Date.now() - t0) / 1000).toFixed(1)}s). Use it with kubectl:`);
  say('');
  say(`  export KUBECONFIG=${kubeconfig}`);
  say('  kubectl get nodes');
  if (realNode) {
    say('  kubectl create deployment web --image=docker.io/kubets/busybox-httpd:1.0 --replicas=3 && kubectl get pods -o wide');
    say('  curl http://<pod IP>:8080/');
    say('');
    say(`Images without a registry: kubets image load IMAGE|ARCHIVE --dir ${shellQuote(c.dir)}`);
  } else {
    say('  kubectl create deployment web --image=nginx --replicas=3 && kubectl get pods -o wide');
  }
  say('');
  say(`etcdctl: ETCDCTL_API=3 etcdctl --endpoints ${kvEndpoints(ports).join(',')} endpoint status -w table`);
  say(`Logs: ${path.join(dir, 'logs')}/   Stop: kubets down --dir ${shellQuote(c.dir)}`);
  return 0;
}

export async function down(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const parsed = parse(DOWN_FLAGS, argv, 'down');
  if (parsed.help) {
    out.write(DOWN_USAGE);
    return 0;
  }
  const dir = path.resolve(parsed.config.dir);
  const pids = readPids(dir);
  if (!pids) {
    // A down that could not clean up everything (or a killed up) may have left the real node's leftovers: try again.
    const layout = readNodeLayout(dir);
    const problems = layout ? await cleanupNodeHost(layout) : [];
    out.write(`kubets down: nothing to stop (no ${pidsPath(dir)})\n`);
    if (problems.length) {
      process.stderr.write(`kubets down: could not clean up:\n  ${problems.join('\n  ')}\n`);
      return 1;
    }
    return 0;
  }
  const live = pids.processes.filter(alive);
  const { killed, problems } = await stopCluster(dir, pids.processes, parsed.config.gracePeriod, (line) => out.write(`  ${line}\n`));
  fs.rmSync(pidsPath(dir), { force: true });
  out.write(
    `kubets down: stopped ${live.length} process(es)${killed.length ? ` (${killed.join(', ')} needed SIGKILL)` : ''}; data, PKI and logs remain in ${dir}\n`,
  );
  if (problems.length) {
    process.stderr.write(`kubets down: could not clean up:\n  ${problems.join('\n  ')}\n`);
    return 1;
  }
  return 0;
}

// bench/scheduler: kubets-scheduler the way kube-scheduler's scheduler_perf
// measures SchedulingBasic, on this machine, with every component a real process.
//
//   npx nx run @kubets/bench-scheduler:bench                  100 nodes, 1,000 pods, then a 1,000-replica Deployment
//   node bench/scheduler/dist/main.js --nodes 5000 --pods 10000 --replicas 0 --node-lease-seconds 600
//   node bench/scheduler/dist/main.js --smoke                 the test target (20 nodes, 100 pods, 50 replicas)
//
// Flags: --nodes N (hollow nodes), --pods M (plain pods, 0: skip), --replicas R
// (the Deployment, 0: skip), --nodes-per-kubelet K (hollow nodes per kubelet
// process; default all in one), --clients C (concurrent creates, default 64),
// --backlog (also: create M more pods while no scheduler runs, then start one and
// time the drain: the scheduler alone, without the creates in the way),
// --idle-seconds S (window for the hollow kubelet's idle CPU), --cpu-prof-dir DIR
// (V8 CPU profiles of the scheduler and the API server), --timeout-seconds T,
// --node-lease-seconds L (the hollow nodes' Lease duration, renewed every L/4;
// default 40 as the kubelet's).
//
// Setup: ControlPlane from @kubets/testkit (kubets init PKI, a 3-member
// kubets-kv with fsync on, nats-server, one kubets-apiserver), N hollow nodes
// (kubets-kubelet --hollow --hollow-nodes=N: 4 CPUs, 32Gi, 110 pods each, as
// scheduler_perf's node-default.yaml), one kubets-scheduler (leader election
// on, as deployed). Pods are scheduler_perf's pod-default.yaml: one container,
// requests cpu 100m, memory 500Mi. They are created through the API server's
// gRPC API (libs/client) by C concurrent callers; a gRPC watch on the pods
// sees each one bound (spec.nodeName set) and Running (the hollow kubelet's
// status). Throughput = pods / (last bound - first create started); steady
// = the rate between the 10% and the 90% bind; and the median of the
// per-second bind counts (as scheduler_perf's throughput collector samples).
// Anchor: scheduler_perf's threshold for SchedulingBasic 5000Nodes_10000Pods is
// 680 pods/s (kube-scheduler on the CI machines, Go, many cores).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, isAlreadyExists, isRetryable, type KObject, type Pod } from '@kubets/client';
import { Snapshot, SchedulingState, defaultFramework, scheduleOne } from '@kubets/scheduler';
import { makeNode, makePod } from '@kubets/scheduler/testing';
import { ControlPlane, builtApp, freePort, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}
function num(name: string, dflt: number): number {
  const v = flag(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${v}`);
  return n;
}

const smoke = process.argv.includes('--smoke');
const NODES = num('nodes', smoke ? 20 : 100);
const PODS = num('pods', smoke ? 100 : 1000);
const REPLICAS = num('replicas', smoke ? 50 : 1000);
const PER_KUBELET = num('nodes-per-kubelet', NODES) || NODES;
const CLIENTS = num('clients', 64);
const BACKLOG = process.argv.includes('--backlog');
const IDLE_SECONDS = num('idle-seconds', smoke ? 1 : 10);
const TIMEOUT_MS = num('timeout-seconds', smoke ? 45 : 1800) * 1000;
const PROF_DIR = flag('cpu-prof-dir');
const LEASE_SECONDS = num('node-lease-seconds', 40);
const ANCHOR = 680;

const out: string[] = [];
function say(line = ''): void {
  out.push(line);
  // eslint-disable-next-line no-console
  console.log(line);
}
function progress(line: string): void {
  if (!smoke) process.stderr.write(`[bench-scheduler ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

// ---- process accounting from /proc -------------------------------------------------
const TICK = 100; // USER_HZ
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
  } catch {
    return 0;
  }
}
function rssMiB(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** CPU seconds of each named process group, between mark() and now. */
class CpuMeter {
  private start = new Map<string, number>();
  private t0 = 0;
  constructor(private readonly groups: () => Record<string, Array<number | undefined>>) {}
  private sample(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [g, pids] of Object.entries(this.groups())) m.set(g, pids.reduce<number>((a, p) => a + cpuSeconds(p), 0));
    return m;
  }
  mark(): void {
    this.start = this.sample();
    this.t0 = performance.now();
  }
  /** "name 1.23 cores" for each group over the window since mark() */
  report(): string {
    const secs = (performance.now() - this.t0) / 1000;
    const now = this.sample();
    return [...now]
      .map(([g, c]) => `${g} ${((c - (this.start.get(g) ?? 0)) / secs).toFixed(2)}`)
      .join(', ');
  }
}

// ---- the cluster ----------------------------------------------------------------
interface Cluster {
  env: ControlPlane;
  client: Client;
  kubelets: ManagedProcess[];
  scheduler?: ManagedProcess;
  cm?: ManagedProcess;
  procs: ManagedProcess[];
}

function common(env: ControlPlane): string[] {
  return [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
}

function nodeArgs(): string[] {
  return PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [];
}

async function startControlPlane(): Promise<ControlPlane> {
  if (!PROF_DIR) return ControlPlane.start({ kv: 'kubets', nats: true });
  fs.mkdirSync(PROF_DIR, { recursive: true });
  // Start the API server ourselves so that only it (not the KV) runs with --cpu-prof.
  const env = await ControlPlane.start({ kv: 'kubets', nats: true, replicas: 0 });
  try {
    await startProfiledApiServer(env);
  } catch (e) {
    await env.dispose();
    throw e;
  }
  return env;
}

async function startProfiledApiServer(env: ControlPlane): Promise<void> {
  const port = Number(env.init.summary.controlPlaneEndpoint.split(':').pop());
  const grpcPort = await freePort();
  // The same flags as ControlPlane.startApiServer, plus --cpu-prof (not allowed in NODE_OPTIONS).
  const proc = spawnProcess({
    name: 'bench-apiserver',
    command: process.execPath,
    args: [
      ...nodeArgs(),
      builtApp('apiserver'),
      `--etcd-servers=${env.etcdEndpoints.join(',')}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--tls-cert-file=${path.join(env.dir, 'pki/apiserver.crt')}`,
      `--tls-private-key-file=${path.join(env.dir, 'pki/apiserver.key')}`,
      `--client-ca-file=${path.join(env.dir, 'pki/ca.crt')}`,
      `--token-auth-file=${path.join(env.dir, 'tokens.csv')}`,
      `--grpc-bind-address=127.0.0.1:${grpcPort}`,
      '--event-publisher-lease-seconds=2',
      `--nats-url=${env.nats!.url}`,
    ],
  });
  env.apiservers.push({ proc, port, grpcPort, url: `https://127.0.0.1:${port}` });
  await readyOrExit(proc, /kubets-apiserver ready on/, 30_000);
}

/** Waits for `pattern` in the process' log; fails at once if the process exits first. */
async function readyOrExit(p: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const exited = p.exited().then((code) => {
    throw new Error(`${p.options.name} exited (${code}) before it was ready\n${p.tail(30)}`);
  });
  await Promise.race([
    p.waitForLog(pattern, timeoutMs).catch((e) => {
      throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
    }),
    exited,
  ]);
  exited.catch(() => undefined);
}

async function startKubelets(c: Cluster): Promise<{ seconds: number }> {
  const t0 = performance.now();
  const starts: Array<Promise<unknown>> = [];
  for (let first = 0, k = 0; first < NODES; first += PER_KUBELET, k++) {
    const n = Math.min(PER_KUBELET, NODES - first);
    const p = spawnProcess({
      name: `bench-hollow-kubelet-${k}`,
      command: process.execPath,
      args: [
        '--max-old-space-size=4096',
        builtApp('kubelet'),
        ...common(c.env),
        '--hollow',
        `--hollow-nodes=${n}`,
        `--hostname-override=hollow-${k}`,
        '--hollow-cpu=4',
        '--hollow-memory=32Gi',
        '--max-pods=110',
        `--node-lease-duration-seconds=${LEASE_SECONDS}`,
        '--healthz-bind-address=127.0.0.1:0',
      ],
    });
    c.kubelets.push(p);
    c.procs.push(p);
    starts.push(readyOrExit(p, /hollow node\(s\) running/, TIMEOUT_MS));
  }
  await Promise.all(starts);
  return { seconds: (performance.now() - t0) / 1000 };
}

async function startScheduler(c: Cluster): Promise<void> {
  const p = spawnProcess({
    name: 'bench-scheduler',
    command: process.execPath,
    args: [...nodeArgs(), builtApp('scheduler'), ...common(c.env), '--bind-address=127.0.0.1', '--secure-port=0'],
  });
  c.scheduler = p;
  c.procs.push(p);
  await readyOrExit(p, /leading as .*scheduling/, 120_000);
}

async function startControllerManager(c: Cluster): Promise<void> {
  const p = spawnProcess({
    name: 'bench-controller-manager',
    command: process.execPath,
    args: [builtApp('controller-manager'), ...common(c.env), '--bind-address=127.0.0.1', '--secure-port=0'],
  });
  c.cm = p;
  c.procs.push(p);
  await readyOrExit(p, /controllers running/, 120_000);
}

// ---- pod tracking through a watch ------------------------------------------------
interface Tracker {
  bound: Map<string, number>;
  running: Map<string, number>;
  nodes: Map<string, string>;
  stop: () => void;
  closed: () => string | undefined;
}

async function track(client: Client, namespace: string): Promise<Tracker> {
  const { resourceVersion } = await client.pods.list({ namespace, limit: 1 });
  const t: Tracker = { bound: new Map(), running: new Map(), nodes: new Map(), stop: () => {}, closed: () => undefined };
  let closed: string | undefined;
  t.stop = client.pods.watch({ namespace, resourceVersion }, (ev) => {
    if (ev.type === 'CLOSED') {
      closed = `watch closed: ${ev.error?.message ?? 'end of stream'}`;
      return;
    }
    if (ev.type === 'ERROR') {
      closed = `watch error: ${ev.error.message}`;
      return;
    }
    if (ev.type === 'BOOKMARK' || ev.type === 'DELETED') return;
    const pod = ev.object as Pod;
    const name = pod.metadata.name!;
    const now = performance.now();
    const node = (pod.spec as KObject | undefined)?.nodeName as string | undefined;
    if (node && !t.bound.has(name)) {
      t.bound.set(name, now);
      t.nodes.set(name, node);
    }
    if ((pod.status as KObject | undefined)?.phase === 'Running' && !t.running.has(name)) t.running.set(name, now);
  });
  t.closed = () => closed;
  return t;
}

function podObject(ns: string, name: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'sched-bench' } },
    spec: { containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
  };
}

let retries = 0;

/** Creates `n` pods with CLIENTS concurrent callers; returns [first create started, last create acknowledged]. */
async function createPods(client: Client, ns: string, prefix: string, n: number): Promise<[number, number]> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(CLIENTS, n) }, async () => {
      for (let i = next++; i < n; i = next++) {
        // As client-go would: retry a timeout or overload; a retried create that had landed is AlreadyExists.
        for (let attempt = 1; ; attempt++) {
          try {
            await client.pods.create(ns, podObject(ns, `${prefix}-${i}`));
            break;
          } catch (e) {
            if (attempt > 1 && isAlreadyExists(e)) break;
            if (!isRetryable(e) || attempt >= 10) throw e;
            retries++;
          }
        }
      }
    }),
  );
  return [t0, performance.now()];
}

interface Rates {
  overall: number;
  steady: number;
  p50Window: number;
  seconds: number;
}

/** Overall pods/s from `t0`, and the median of per-second counts over the full seconds between the first and the last event. */
function rates(times: number[], t0: number): Rates {
  const s = [...times].sort((a, b) => a - b);
  const last = s[s.length - 1]!;
  const first = s[0]!;
  const seconds = (last - t0) / 1000;
  const buckets: number[] = [];
  for (let w = first; w + 1000 <= last; w += 1000) {
    let c = 0;
    for (const x of s) if (x >= w && x < w + 1000) c++;
    buckets.push(c);
  }
  buckets.sort((a, b) => a - b);
  const p50Window = buckets.length ? buckets[Math.floor(buckets.length / 2)]! : s.length / Math.max(seconds, 1e-3);
  // 10% -> 90% of the events: the rate once started and before the tail
  const a = s[Math.floor(s.length * 0.1)]!;
  const b = s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!;
  const steady = b > a ? (Math.floor(s.length * 0.9) - Math.floor(s.length * 0.1)) / ((b - a) / 1000) : s.length / Math.max(seconds, 1e-3);
  return { overall: s.length / seconds, steady, p50Window, seconds };
}

async function waitAll(what: string, tr: Tracker, map: 'bound' | 'running', n: number, c: Cluster): Promise<void> {
  await waitFor(
    () => {
      const err = tr.closed();
      if (err) throw new Error(err);
      return tr[map].size >= n;
    },
    {
      timeoutMs: TIMEOUT_MS,
      intervalMs: 50,
      description: `${what}: ${n} pods ${map}`,
      context: () => `have ${tr.bound.size} bound, ${tr.running.size} running\n${c.procs.map((p) => `--- ${p.options.name}\n${p.tail(8)}`).join('\n')}`,
    },
  );
}

function spread(tr: Tracker, names?: Set<string>): string {
  const per = new Map<string, number>();
  for (const [pod, node] of tr.nodes) if (!names || names.has(pod)) per.set(node, (per.get(node) ?? 0) + 1);
  const counts = [...per.values()];
  return `${per.size} nodes used, ${Math.min(...counts)}-${Math.max(...counts)} pods per node`;
}

/**
 * The scheduling cycle alone, in this process: kubets-scheduler's framework
 * (default plugins, adaptive percentageOfNodesToScore) on a Snapshot of `nodes`
 * nodes, scheduleOne + assume for `pods` pods, no API server, no binding.
 * The ceiling the scheduler process could reach if everything else were free.
 */
async function algorithmOnly(nodes: number, pods: number): Promise<{ perSec: number; msPerPod: number }> {
  const snapshot = new Snapshot();
  for (let i = 0; i < nodes; i++) snapshot.addNode(makeNode(`n-${i}`, { cpu: '4', memory: '32Gi', pods: 110 }));
  const framework = defaultFramework();
  const state = new SchedulingState();
  const t0 = performance.now();
  for (let i = 0; i < pods; i++) {
    const pod = makePod(`p-${i}`, { cpu: '100m', memory: '500Mi' });
    const r = await scheduleOne(pod, snapshot, { framework, state });
    if (r.unschedulable) throw new Error(`in-process scheduling: pod ${i} unschedulable: ${r.message}`);
    snapshot.assumePod(pod, r.node);
  }
  const ms = performance.now() - t0;
  return { perSec: pods / (ms / 1000), msPerPod: ms / pods };
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = load();
  progress(`start: ${NODES} nodes, ${PODS} pods, ${REPLICAS} replicas; load ${loadStart}`);
  const env = await startControlPlane();
  const client = await Client.fromKubeconfig(env.kubeconfig, { grpcAddress: `127.0.0.1:${env.apiservers[0]!.grpcPort}`, timeoutMs: 120_000 });
  const c: Cluster = { env, client, kubelets: [], procs: [] };
  const meter = new CpuMeter(() => ({
    scheduler: [c.scheduler?.pid],
    apiserver: [env.apiservers[0]?.proc.pid],
    kv: env.kvCluster!.members.map((m) => m.process.pid),
    nats: [env.nats?.process?.pid],
    kubelet: c.kubelets.map((k) => k.pid),
    'controller-manager': [c.cm?.pid],
  }));
  const failures: string[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      client.close();
      // Stop in reverse order, gracefully (so --cpu-prof profiles get written).
      for (const p of [...c.procs].reverse()) await p.stop(20_000).catch(() => {});
      await env.dispose();
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`bench-scheduler: ${sig}, stopping the cluster\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    // 1. Hollow nodes: registration time, then memory and idle CPU of their process(es).
    const reg = await startKubelets(c);
    progress(`${NODES} hollow nodes registered in ${f1(reg.seconds)} s`);
    const nodeList = await client.nodes.list({});
    if (nodeList.items.length !== NODES) failures.push(`expected ${NODES} nodes, the API server lists ${nodeList.items.length}`);
    const kubeletPids = c.kubelets.map((k) => k.pid);
    const idleCpu0 = kubeletPids.reduce<number>((a, p) => a + cpuSeconds(p), 0);
    const api0 = cpuSeconds(env.apiservers[0]!.proc.pid);
    const idleT0 = performance.now();
    // A measurement window (not synchronisation): the nodes' steady work (Lease renewals every 10 s).
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const idleSecs = (performance.now() - idleT0) / 1000;
    const idleCores = (kubeletPids.reduce<number>((a, p) => a + cpuSeconds(p), 0) - idleCpu0) / idleSecs;
    const apiIdleCores = (cpuSeconds(env.apiservers[0]!.proc.pid) - api0) / idleSecs;
    const rss = kubeletPids.reduce<number>((a, p) => a + rssMiB(p), 0);
    const regCpu = kubeletPids.reduce<number>((a, p) => a + cpuSeconds(p), 0);
    say(`kubets-scheduler bench (${os.cpus().length} cores, Node ${process.versions.node}, ${startedAt.toISOString()}${smoke ? ', SMOKE run: numbers are meaningless' : ''})`);
    say(`load average at start: ${loadStart}`);
    say();
    say(`hollow nodes' Lease: ${LEASE_SECONDS} s, renewed every ${LEASE_SECONDS / 4} s (${f0(NODES / (LEASE_SECONDS / 4))} lease writes/s)`);
    say('| hollow nodes | kubelet processes | register all | kubelet CPU to register | kubelet RSS | kubelet idle CPU | apiserver idle CPU |');
    say('|---|---|---|---|---|---|---|');
    say(
      `| ${NODES} | ${c.kubelets.length} | ${f1(reg.seconds)} s | ${f1(regCpu)} s | ${f0(rss)} MiB (${f2((rss * 1024) / NODES)} KiB/node) | ${f2(idleCores)} cores (${IDLE_SECONDS} s window) | ${f2(apiIdleCores)} cores |`,
    );
    say();

    await startScheduler(c);
    progress('scheduler leading');

    // 2. SchedulingBasic: M plain pods created fast; time to the last bind.
    const rows: string[] = [];
    if (PODS > 0) {
      const ns = 'sched-basic';
      await client.namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const tr = await track(client, ns);
      meter.mark();
      const [t0, tCreated] = await createPods(client, ns, 'pod', PODS);
      progress(`${PODS} pods created in ${f1((tCreated - t0) / 1000)} s; ${tr.bound.size} bound so far`);
      await waitAll('SchedulingBasic', tr, 'bound', PODS, c);
      const cpu = meter.report();
      await waitAll('SchedulingBasic', tr, 'running', PODS, c);
      const r = rates([...tr.bound.values()], t0);
      const tRun = Math.max(...tr.running.values());
      rows.push(
        `| SchedulingBasic ${NODES} nodes, ${PODS} pods | ${f0(PODS / ((tCreated - t0) / 1000))}/s | **${f0(r.overall)} pods/s** (${f2(r.seconds)} s) | ${f0(r.steady)}/s | ${f0(r.p50Window)}/s | ${f2((tRun - t0) / 1000)} s | ${spread(tr)} | ${cpu} |`,
      );
      tr.stop();
      progress(`SchedulingBasic: ${f0(r.overall)} pods/s`);

      if (BACKLOG) {
        // The same pods again, created while no scheduler runs; then a fresh scheduler drains them.
        await c.scheduler!.stop();
        const nsb = 'sched-backlog';
        await client.namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsb } });
        const trb = await track(client, nsb);
        await createPods(client, nsb, 'pod', PODS);
        // The old scheduler released its lease on shutdown, so the new one leads at once.
        const ts = performance.now();
        meter.mark();
        await startScheduler(c);
        const tLead = performance.now();
        await waitAll('backlog', trb, 'bound', PODS, c);
        const cpu2 = meter.report();
        const rb = rates([...trb.bound.values()], Math.min(...trb.bound.values()));
        rows.push(
          `| backlog: ${PODS} pods already pending, ${NODES} nodes | - | **${f0(rb.overall)} pods/s** (first to last bind, ${f2(rb.seconds)} s; scheduler start to leading ${f1((tLead - ts) / 1000)} s) | ${f0(rb.steady)}/s | ${f0(rb.p50Window)}/s | - | ${spread(trb)} | ${cpu2} |`,
        );
        trb.stop();
      }
    }

    // 3. A Deployment end to end: apply to all replicas Running.
    if (REPLICAS > 0) {
      await startControllerManager(c);
      progress('controller manager running');
      const ns = 'sched-deploy';
      await client.namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      const tr = await track(client, ns);
      meter.mark();
      const t0 = performance.now();
      await client.deployments.create(ns, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'bench', namespace: ns },
        spec: {
          replicas: REPLICAS,
          selector: { matchLabels: { app: 'deploy-bench' } },
          template: {
            metadata: { labels: { app: 'deploy-bench' } },
            spec: { containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10', resources: { requests: { cpu: '100m', memory: '500Mi' } } }] },
          },
        },
      });
      await waitAll('Deployment', tr, 'running', REPLICAS, c);
      const cpu = meter.report();
      const tRun = Math.max(...tr.running.values());
      const r = rates([...tr.bound.values()], t0);
      // and the Deployment's own status agrees
      await waitFor(
        async () => {
          const d = await client.deployments.get(ns, 'bench');
          return (d.status as KObject | undefined)?.availableReplicas === REPLICAS ? d : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, description: `deployment availableReplicas=${REPLICAS}` },
      );
      rows.push(
        `| Deployment, ${REPLICAS} replicas, ${NODES} nodes (with kubets-controller-manager) | - | ${f0(r.overall)} pods/s bound | ${f0(r.steady)}/s | ${f0(r.p50Window)}/s | **${f2((tRun - t0) / 1000)} s** apply to all Running | ${spread(tr)} | ${cpu} |`,
      );
      tr.stop();
      progress(`Deployment: all Running in ${f2((tRun - t0) / 1000)} s`);
    }

    if (PODS > 0) {
      const a = await algorithmOnly(NODES, PODS);
      rows.push(`| scheduling cycle only, in process (no API server, no binding), ${NODES} nodes, ${PODS} pods | - | ${f0(a.perSec)} pods/s (${a.msPerPod.toFixed(2)} ms/pod) | - | - | - | - | this process, 1 thread |`);
    }
    if (rows.length) {
      say('| scenario | creates | bound: first create to last bind | steady (10%-90%) | median 1-s window | to all Running | spread | CPU in cores during the run |');
      say('|---|---|---|---|---|---|---|---|');
      for (const r of rows) say(r);
      say();
      say(`published anchor: scheduler_perf's threshold for SchedulingBasic 5000Nodes_10000Pods is ${ANCHOR} pods/s`);
    }
    if (retries) say(`pod creates retried after a timeout or overload: ${retries}`);
    say(`load average at end: ${load()}`);
    if (c.scheduler && !c.scheduler.running) failures.push(`the scheduler exited (${c.scheduler.exitCode})\n${c.scheduler.tail(20)}`);
  } finally {
    await cleanup();
  }
  if (failures.length) throw new Error(failures.join('\n'));
  if (PROF_DIR) say(`CPU profiles in ${PROF_DIR}`);
}

main().catch((e) => {
  // eslint-disable-next-line no-console
  console.error(e);
  process.exit(1);
});

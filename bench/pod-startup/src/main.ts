// bench/pod-startup: pod startup latency on one real node, the way Kubernetes'
// pod startup SLI measures it (creation to Running, observed through a watch).
//
//   npx nx run @kubets/bench-pod-startup:bench           100 pods: 10 at a time, then all 100 at once
//   node bench/pod-startup/dist/main.js --pods 100 --batch 10 --image busybox-httpd
//   node bench/pod-startup/dist/main.js --smoke          the test target (10 pods: 5 at a time, then 10 at once)
//
// Flags: --pods N (default 100), --batch B (pods per step of the first
// scenario, default 10), --image pause|busybox-httpd (default pause),
// --timeout-seconds T (per scenario).
//
// Setup (needs root, as the CRI tests): ControlPlane from @kubets/testkit
// (kubets init PKI, kubets-kv, nats-server, one kubets-apiserver), a real
// containerd (testkit's Containerd: own socket, bridge, pod subnet, cgroup
// parent; test images imported, so no image is pulled), and the built CRI
// kubets-kubelet on it with cri.test.ts's flags and --max-pods=150.
// Pods are created through the API server's gRPC API (libs/client) with
// spec.nodeName set to the node: the scheduler is not involved. One
// container, requests cpu 10m, memory 16Mi. A gRPC watch on the pods sees each
// one Running (phase Running and every container state.running); the latency
// of a pod is from the start of its create call to the first watch event that
// shows it Running (both on this process' monotonic clock).
// Between scenarios every pod is deleted and the bench waits until the
// watch reported each deletion and containerd lists no pod sandbox.
// Anchor: Kubernetes' pod startup SLO is p99 <= 5 s (stateless pods, image
// pulls excluded); the goal here is p99 under 1.5 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, isNotFound, type KObject, type Pod } from '@kubets/client';
import { CriClient } from '@kubets/cri-client';
import { Containerd, ControlPlane, builtApp, processesMatching, freePort, spawnProcess, testImageRef, waitFor, type ManagedProcess } from '@kubets/testkit';

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
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: not a positive integer: ${v}`);
  return n;
}

const smoke = process.argv.includes('--smoke');
const PODS = num('pods', smoke ? 10 : 100);
const BATCH = num('batch', smoke ? 5 : 10);
const IMAGE_NAME = (flag('image') ?? 'pause') as 'pause' | 'busybox-httpd';
if (IMAGE_NAME !== 'pause' && IMAGE_NAME !== 'busybox-httpd') throw new Error(`--image: pause or busybox-httpd, not ${IMAGE_NAME}`);
const IMAGE = testImageRef(IMAGE_NAME);
const TIMEOUT_MS = num('timeout-seconds', smoke ? 40 : 300) * 1000;
const NODE = 'startup-node';
const NS = 'default';
const GOAL_P99_MS = 1500;
const SLO_P99_MS = 5000;

function say(line = ''): void {
  // eslint-disable-next-line no-console
  console.log(line);
}
function progress(line: string): void {
  process.stderr.write(`[bench-pod-startup ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Nearest-rank percentile of sorted values. */
function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}
const ms = (n: number) => (Number.isFinite(n) ? `${Math.round(n)} ms` : '-');
const secs = (n: number) => `${(n / 1000).toFixed(2)} s`;
function stats(values: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...values].sort((a, b) => a - b);
  return { p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), max: s[s.length - 1] ?? NaN };
}

// ---- CPU accounting from /proc ----------------------------------------------------
const TICK = 100; // USER_HZ
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime
  } catch {
    return 0;
  }
}
/** Busy CPU seconds of the whole machine (every core), from /proc/stat. */
function machineBusySeconds(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return (f.reduce((a, b) => a + b, 0) - idle) / TICK;
}
type CpuGroups = () => Record<string, Array<number | undefined>>;
function cpuSample(groups: CpuGroups): Map<string, number> {
  const m = new Map<string, number>([['machine', machineBusySeconds()]]);
  for (const [g, pids] of Object.entries(groups())) m.set(g, pids.reduce<number>((a, p) => a + cpuSeconds(p), 0));
  return m;
}
/** "machine 1.9, kubelet 0.3, ..." cores over the window */
function cpuReport(a: Map<string, number>, b: Map<string, number>, seconds: number): string {
  return [...b].map(([g, v]) => `${g} ${((v - (a.get(g) ?? 0)) / seconds).toFixed(2)}`).join(', ');
}

// ---- pod tracking through a watch ------------------------------------------------
function isRunning(pod: Pod): boolean {
  const st = pod.status as KObject | undefined;
  const spec = pod.spec as KObject | undefined;
  if (st?.phase !== 'Running') return false;
  const want = ((spec?.containers as unknown[]) ?? []).length;
  const cs = (st.containerStatuses as Array<{ state?: { running?: unknown } }> | undefined) ?? [];
  return cs.length === want && cs.every((c) => !!c.state?.running);
}

class Tracker {
  /** name -> performance.now() of the first watch event showing it Running */
  readonly running = new Map<string, number>();
  /** names whose DELETED event the watch delivered */
  readonly deleted = new Set<string>();
  readonly uids = new Map<string, string>();
  private closed: string | undefined;
  private stopFn: () => void = () => {};

  static async start(client: Client): Promise<Tracker> {
    const t = new Tracker();
    const { resourceVersion } = await client.pods.list({ namespace: NS, limit: 1 });
    t.stopFn = client.pods.watch({ namespace: NS, resourceVersion }, (ev) => {
      if (ev.type === 'CLOSED') {
        t.closed = `watch closed: ${ev.error?.message ?? 'end of stream'}`;
        return;
      }
      if (ev.type === 'ERROR') {
        t.closed = `watch error: ${ev.error.message}`;
        return;
      }
      if (ev.type === 'BOOKMARK') return;
      const now = performance.now();
      const pod = ev.object as Pod;
      const name = pod.metadata.name!;
      if (ev.type === 'DELETED') {
        t.deleted.add(name);
        return;
      }
      if (pod.metadata.uid) t.uids.set(name, pod.metadata.uid);
      if (!t.running.has(name) && isRunning(pod)) t.running.set(name, now);
    });
    return t;
  }
  check(): void {
    if (this.closed) throw new Error(this.closed);
  }
  stop(): void {
    this.stopFn();
  }
}

function podObject(name: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: 'pod-startup-bench' } },
    spec: {
      nodeName: NODE,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', image: IMAGE, imagePullPolicy: 'IfNotPresent', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
    },
  };
}

// ---- the kubelet's own view: per pod phases from its log ---------------------------
interface KubeletTimes {
  /** wall clock (ms) when RunPodSandbox returned (with PodSandboxStatus), and its duration */
  sandboxDone?: number;
  sandboxMs?: number;
  containerStarted?: number;
  runningReported?: number;
}
function kubeletTimes(logFile: string, names: Set<string>): Map<string, KubeletTimes> {
  const out = new Map<string, KubeletTimes>();
  const text = fs.readFileSync(logFile, 'utf8');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let j: { pod?: string; msg?: string; time?: string; ms?: number };
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    const name = j.pod?.startsWith(`${NS}/`) ? j.pod.slice(NS.length + 1) : undefined;
    if (!name || !names.has(name) || !j.time) continue;
    const t = Date.parse(j.time);
    const e = out.get(name) ?? {};
    if (j.msg === 'pod sandbox started' && e.sandboxDone === undefined) {
      e.sandboxDone = t;
      e.sandboxMs = j.ms;
    } else if (j.msg === 'container started' && e.containerStarted === undefined) e.containerStarted = t;
    else if (j.msg === 'pod running and ready' && e.runningReported === undefined) e.runningReported = t;
    out.set(name, e);
  }
  return out;
}

// ---- one scenario ---------------------------------------------------------------
interface Result {
  name: string;
  latencies: number[];
  totalMs: number;
  createMs: number[];
  /** create start -> RunPodSandbox call started (kubelet saw the pod, admitted it, queued on its worker) */
  toSandboxCall: number[];
  sandbox: number[];
  /** RunPodSandbox returned -> container started (CreateContainer + StartContainer) */
  sandboxToContainer: number[];
  /** container started -> the watch shows Running (status write + watch delivery) */
  containerToWatch: number[];
  sandboxesGoneMs: number;
  /** cores used between the first create and the last Running */
  cpu: string;
}

async function scenario(
  label: string,
  prefix: string,
  batch: number,
  client: Client,
  cri: CriClient,
  kubelet: ManagedProcess,
  groups: CpuGroups,
): Promise<Result> {
  const tr = await Tracker.start(client);
  const names = Array.from({ length: PODS }, (_, i) => `${prefix}-${i}`);
  const createStart = new Map<string, number>();
  const createWall = new Map<string, number>();
  const createMs: number[] = [];
  const context = () => `${tr.running.size}/${PODS} Running\n${kubelet.tail(20)}`;
  try {
    const cpu0 = cpuSample(groups);
    const t0 = performance.now();
    for (let first = 0; first < PODS; first += batch) {
      const step = names.slice(first, first + batch);
      await Promise.all(
        step.map(async (name) => {
          const s = performance.now();
          createStart.set(name, s);
          createWall.set(name, Date.now());
          await client.pods.create(NS, podObject(name));
          createMs.push(performance.now() - s);
        }),
      );
      await waitFor(
        () => {
          tr.check();
          if (!kubelet.running) throw new Error(`the kubelet exited (${kubelet.exitCode})`);
          return step.every((n) => tr.running.has(n));
        },
        { timeoutMs: TIMEOUT_MS, intervalMs: 10, description: `${label}: pods ${step[0]}..${step[step.length - 1]} Running`, context },
      );
    }
    const cpu = cpuReport(cpu0, cpuSample(groups), (performance.now() - t0) / 1000);
    const last = Math.max(...names.map((n) => tr.running.get(n)!));
    const latencies = names.map((n) => tr.running.get(n)! - createStart.get(n)!);
    const totalMs = last - t0;

    // The kubelet's phases for each pod (its log, wall clock; same machine clock as createWall).
    const kt = kubeletTimes(kubelet.logFile, new Set(names));
    const r: Result = { name: label, latencies, totalMs, createMs, toSandboxCall: [], sandbox: [], sandboxToContainer: [], containerToWatch: [], sandboxesGoneMs: 0, cpu };
    const wallOffset = Date.now() - performance.now();
    for (const n of names) {
      const k = kt.get(n);
      if (!k || k.sandboxDone === undefined || k.sandboxMs === undefined) continue;
      r.sandbox.push(k.sandboxMs);
      r.toSandboxCall.push(k.sandboxDone - k.sandboxMs - createWall.get(n)!);
      if (k.containerStarted !== undefined) {
        r.sandboxToContainer.push(k.containerStarted - k.sandboxDone);
        r.containerToWatch.push(tr.running.get(n)! + wallOffset - k.containerStarted);
      }
    }

    // Delete them all; wait for every DELETED event and for containerd to list no sandbox.
    const d0 = performance.now();
    await Promise.all(
      names.map((n) =>
        client.pods.delete(NS, n).catch((e) => {
          if (!isNotFound(e)) throw e;
        }),
      ),
    );
    await waitFor(
      async () => {
        tr.check();
        if (!names.every((n) => tr.deleted.has(n))) return false;
        return (await cri.listPodSandbox({})).items.length === 0;
      },
      { timeoutMs: TIMEOUT_MS, intervalMs: 100, description: `${label}: pods deleted and sandboxes gone`, context: () => `${tr.deleted.size}/${PODS} deleted\n${kubelet.tail(20)}` },
    );
    r.sandboxesGoneMs = performance.now() - d0;
    return r;
  } finally {
    tr.stop();
  }
}

// ---- main -----------------------------------------------------------------------
async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = load();
  progress(`start: ${PODS} pods of ${IMAGE}, batch ${BATCH}; load ${loadStart}`);
  let env: ControlPlane | undefined;
  let cd: Containerd | undefined;
  let cri: CriClient | undefined;
  let client: Client | undefined;
  let kubelet: ManagedProcess | undefined;
  let rootDir: string | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      client?.close();
      await kubelet?.stop(20_000).catch(() => undefined);
      cri?.close();
      // dispose() stops and removes any sandbox left, then containerd, its bridge and folders.
      const errs: string[] = [];
      await cd?.dispose().catch((e) => errs.push((e as Error).message));
      await env?.dispose().catch((e) => errs.push((e as Error).message));
      if (rootDir) fs.rmSync(rootDir, { recursive: true, force: true });
      if (errs.length) throw new Error(errs.join('\n'));
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      process.stderr.write(`bench-pod-startup: ${sig}, stopping the kubelet, containerd and the control plane\n`);
      void cleanup()
        .catch((e) => process.stderr.write(`${(e as Error).message}\n`))
        .finally(() => process.exit(130));
    });
  }
  const failures: string[] = [];
  try {
    const tBoot = performance.now();
    // Start both even when one fails, so that both are known to cleanup().
    const [a, b] = await Promise.allSettled([ControlPlane.start({ kv: 'kubets', nats: true }), Containerd.start({ images: [IMAGE_NAME] })]);
    if (a.status === 'fulfilled') env = a.value;
    if (b.status === 'fulfilled') cd = b.value;
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    const e = env!;
    const c = cd!;
    cri = new CriClient(c.endpoint, { timeoutMs: 60_000 });
    rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-bench-pod-startup-'));
    const k = spawnProcess({
      name: 'bench-pod-startup-kubelet',
      command: process.execPath,
      keepLines: 200,
      args: [
        builtApp('kubelet'),
        `--kubeconfig=${e.kubeconfig}`,
        `--grpc-address=127.0.0.1:${e.apiservers[0]!.grpcPort}`,
        `--nats-url=${e.nats!.url}`,
        `--healthz-bind-address=127.0.0.1:${await freePort()}`,
        `--container-runtime-endpoint=${c.endpoint}`,
        `--hostname-override=${NODE}`,
        '--node-ip=127.0.0.1',
        `--root-dir=${rootDir}`,
        `--cgroup-root=${c.cgroupParent}`,
        '--max-pods=150',
        '--node-lease-duration-seconds=8',
        '--housekeeping-interval=5s',
        '--cluster-dns=10.96.0.10',
        `--client-ca-file=${path.join(e.dir, 'pki/ca.crt')}`,
        '--address=127.0.0.1',
        '--port=0',
      ],
    });
    kubelet = k;
    await k.waitForLog(/running pods on/, 90_000);
    client = await Client.fromKubeconfig(e.kubeconfig, { grpcAddress: `127.0.0.1:${e.apiservers[0]!.grpcPort}`, timeoutMs: 60_000 });
    const cl = client;
    await waitFor(
      async () => {
        const n = await cl.nodes.get(undefined, NODE).catch(() => undefined);
        const conds = ((n?.status as KObject | undefined)?.conditions as Array<{ type: string; status: string }> | undefined) ?? [];
        return conds.some((x) => x.type === 'Ready' && x.status === 'True');
      },
      { timeoutMs: 60_000, intervalMs: 100, description: `node ${NODE} Ready`, context: () => k.tail(20) },
    );
    progress(`cluster, containerd and kubelet up in ${secs(performance.now() - tBoot)}`);

    // containerd's own process (its shims and runc are children of it or of init: counted in "machine" only)
    const containerdPids = () => processesMatching(c.socket).filter((p) => p !== process.pid && p !== k.pid);
    const groups: CpuGroups = () => ({
      kubelet: [k.pid],
      'containerd+shims': containerdPids(),
      apiserver: e.apiservers.map((x) => x.proc.pid),
      kv: (e.kvCluster?.members ?? []).map((m) => m.process.pid),
      nats: [e.nats?.process?.pid],
      bench: [process.pid],
    });
    const results: Result[] = [];
    for (const [label, prefix, batch] of [
      [`${BATCH} at a time`, `b${BATCH}`, BATCH],
      [`all ${PODS} at once`, 'all', PODS],
    ] as const) {
      progress(`scenario: ${label}`);
      const r = await scenario(label, prefix, batch, cl, cri, k, groups);
      progress(`${label}: p99 ${ms(stats(r.latencies).p99)}, total ${secs(r.totalMs)}; deleted, sandboxes gone in ${secs(r.sandboxesGoneMs)}`);
      results.push(r);
    }
    const loadEnd = load();

    say(`kubets pod startup bench (${os.cpus().length} cores, Node ${process.versions.node}, ${startedAt.toISOString()}${smoke ? ', SMOKE run: numbers are not the benchmark' : ''})`);
    say(`one real node: kubets-kubelet (CRI) on containerd, ${PODS} pods of ${IMAGE}, nodeName set (no scheduler)`);
    say(`load average at start: ${loadStart}; at end: ${loadEnd}`);
    say();
    say('creation (create call start) to Running seen by the watch:');
    say('| scenario | pods | p50 | p90 | p99 | max | total (first create to last Running) | create call p50 | sandboxes gone after delete |');
    say('|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      const s = stats(r.latencies);
      say(`| ${r.name} | ${r.latencies.length} | ${ms(s.p50)} | ${ms(s.p90)} | **${ms(s.p99)}** | ${ms(s.max)} | ${secs(r.totalMs)} | ${ms(stats(r.createMs).p50)} | ${secs(r.sandboxesGoneMs)} |`);
    }
    say();
    say('where the time goes, p50 / p99 per pod (kubelet log, wall clock):');
    say('| scenario | create to RunPodSandbox call | RunPodSandbox (+ status) | sandbox to container started | container started to watch Running |');
    say('|---|---|---|---|---|');
    for (const r of results) {
      const f = (v: number[]) => {
        const s = stats(v);
        return `${ms(s.p50)} / ${ms(s.p99)}`;
      };
      say(`| ${r.name} | ${f(r.toSandboxCall)} | ${f(r.sandbox)} | ${f(r.sandboxToContainer)} | ${f(r.containerToWatch)} |`);
    }
    say();
    say('CPU in cores from the first create to the last Running (machine: all busy time of the 2 cores, including runc, CNI plugins, other jobs):');
    for (const r of results) say(`- ${r.name}: ${r.cpu}`);
    say();
    for (const r of results) {
      const p99 = stats(r.latencies).p99;
      say(`${r.name}: p99 ${ms(p99)}: goal (< ${GOAL_P99_MS} ms) ${p99 < GOAL_P99_MS ? 'MET' : 'NOT met'}; Kubernetes SLO (<= ${SLO_P99_MS} ms) ${p99 <= SLO_P99_MS ? 'met' : 'NOT met'}`);
      if (r.latencies.length !== PODS) failures.push(`${r.name}: ${r.latencies.length}/${PODS} pods Running`);
    }
    if (!k.running) failures.push(`the kubelet exited (${k.exitCode})\n${k.tail(20)}`);
    say(`kubelet log: ${k.logFile}`);
  } finally {
    await cleanup();
  }
  if (failures.length) throw new Error(failures.join('\n'));
}

main().catch((e) => {
  // eslint-disable-next-line no-console
  console.error(e);
  process.exit(1);
});

import fs from 'node:fs';
import path from 'node:path';
import type { Client, EventRecorder, Pod } from '@kubets/client';
import { PODS, isNotFound, isConflict } from '@kubets/client';
import { ContainerState, PodSandboxState, Protocol, type ContainerConfig, type ContainerStatus, type CriClient, type PodSandboxConfig, type Container as CriContainer, type DeepPartial } from '@kubets/cri-client';
import type { Logger } from 'pino';
import { ConfigError, ObjectCache, containerEnv, expand } from './env';
import * as L from './labels';
import { ProbeState, runProbe } from './probes';
import { bytes, milliCpu } from './quantity';
import { containerMounts, podDir, prepareVolumes } from './volumes';

type AnyObj = Record<string, any>;

export interface PodWorkerConfig {
  nodeName: string;
  nodeIP: string;
  rootDir: string;
  /** cgroup parent of pod cgroups (cgroupfs): pods go to <cgroupRoot>/pod<uid>. Empty: the runtime's default. */
  cgroupRoot: string;
  clusterDNS: string[];
  clusterDomain: string;
  /** CrashLoopBackOff and image pull back-off: first delay, doubling to the max. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface PodWorkerDeps {
  cri: CriClient;
  client: Client;
  recorder: EventRecorder;
  config: PodWorkerConfig;
  log: Logger;
}

interface Backoff {
  delayMs: number;
  /** No restart before this time (ms). */
  until: number;
}

interface Waiting {
  reason: string;
  message: string;
}

interface ContainerProbes {
  id: string;
  liveness: ProbeState;
  readiness: ProbeState;
  startup: ProbeState;
}

const MAX_BACKOFF_RESET_MS = 10 * 60_000;

function nanosToIso(n: bigint): string | undefined {
  if (!n || n <= 0n) return undefined;
  return new Date(Number(n / 1_000_000n)).toISOString().replace(/\.\d+Z$/, 'Z');
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Kubernetes' default pull policy: Always for :latest or untagged images, else IfNotPresent. */
export function pullPolicy(c: AnyObj): string {
  if (c.imagePullPolicy) return c.imagePullPolicy;
  const image = String(c.image);
  if (image.includes('@')) return 'IfNotPresent';
  const last = image.slice(image.lastIndexOf('/') + 1);
  const tag = last.includes(':') ? last.slice(last.indexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function restartCountOf(c: { annotations: Record<string, string> } | undefined): number {
  return c ? Number(c.annotations[L.RESTART_COUNT] ?? 0) || 0 : 0;
}

/**
 * Everything the kubelet does for one pod (kuberuntime's SyncPod and
 * KillPod, the prober and the status manager for that pod), driven by its
 * actor: one call at a time. All state that matters survives in CRI (labels,
 * annotations, attempts), so a new worker, after a crash or a kubelet restart,
 * re-adopts the running sandbox and containers instead of restarting them.
 */
export class PodWorker {
  pod: Pod;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  private sandboxId: string | undefined;
  private sandboxConfig: DeepPartial<PodSandboxConfig> | undefined;
  private podIP = '';
  private readonly statusCache = new Map<string, ContainerStatus>();
  private readonly backoff = new Map<string, Backoff>();
  private readonly waiting = new Map<string, Waiting>();
  private readonly probes = new Map<string, ContainerProbes>();
  private readonly conditionTimes = new Map<string, { status: string; at: string }>();
  private lastStatus = '';
  private startTime: string | undefined;
  /** Set once the pod was killed for good (deleted): later syncs do nothing. */
  finished = false;
  private readonly log: Logger;

  constructor(
    pod: Pod,
    private readonly d: PodWorkerDeps,
  ) {
    this.pod = pod;
    this.uid = String(pod.metadata.uid);
    this.namespace = String(pod.metadata.namespace);
    this.name = String(pod.metadata.name);
    this.startTime = (pod.status as AnyObj | undefined)?.startTime;
    this.log = d.log;
  }

  private get spec(): AnyObj {
    return this.pod.spec as AnyObj;
  }

  private event(type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    const ref = { kind: 'Pod', namespace: this.namespace, name: this.name, uid: this.uid, apiVersion: 'v1', ...(fieldPath ? { fieldPath } : {}) };
    void this.d.recorder.event(ref, type, reason, message);
  }

  private fieldPath(c: AnyObj, init: boolean): string {
    return `spec.${init ? 'initContainers' : 'containers'}{${c.name}}`;
  }

  // ---------------------------------------------------------------- sandbox

  buildSandboxConfig(attempt: number): DeepPartial<PodSandboxConfig> {
    const pod = this.pod as AnyObj;
    const spec = this.spec;
    const portMappings: AnyObj[] = [];
    for (const c of (spec.containers ?? []) as AnyObj[]) {
      for (const p of (c.ports ?? []) as AnyObj[]) {
        if (!p.hostPort) continue;
        portMappings.push({ protocol: p.protocol === 'UDP' ? Protocol.UDP : p.protocol === 'SCTP' ? Protocol.SCTP : Protocol.TCP, containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIP ?? '' });
      }
    }
    const dnsPolicy = spec.dnsPolicy ?? 'ClusterFirst';
    let dnsConfig: AnyObj | undefined;
    if ((dnsPolicy === 'ClusterFirst' || dnsPolicy === 'ClusterFirstWithHostNet') && this.d.config.clusterDNS.length) {
      const dom = this.d.config.clusterDomain;
      dnsConfig = { servers: this.d.config.clusterDNS, searches: [`${this.namespace}.svc.${dom}`, `svc.${dom}`, dom], options: ['ndots:5'] };
    } else if (dnsPolicy === 'None') {
      dnsConfig = { servers: [], searches: [], options: [] };
    }
    if (spec.dnsConfig) {
      dnsConfig ??= { servers: [], searches: [], options: [] };
      dnsConfig.servers = [...dnsConfig.servers, ...(spec.dnsConfig.nameservers ?? [])];
      dnsConfig.searches = [...dnsConfig.searches, ...(spec.dnsConfig.searches ?? [])];
      dnsConfig.options = [...dnsConfig.options, ...((spec.dnsConfig.options ?? []) as AnyObj[]).map((o) => (o.value !== undefined ? `${o.name}:${o.value}` : o.name))];
    }
    const hostNetwork = Boolean(spec.hostNetwork);
    const cgroupRoot = this.d.config.cgroupRoot;
    return {
      metadata: { name: this.name, namespace: this.namespace, uid: this.uid, attempt },
      hostname: hostNetwork ? '' : (spec.hostname ?? this.name),
      logDirectory: path.join(podDir(this.d.config.rootDir, this.uid), 'logs'),
      dnsConfig,
      portMappings,
      labels: { ...(pod.metadata.labels ?? {}), [L.POD_NAME]: this.name, [L.POD_NAMESPACE]: this.namespace, [L.POD_UID]: this.uid, [L.KUBELET_MANAGED]: 'true' },
      annotations: { ...(pod.metadata.annotations ?? {}) },
      linux: {
        cgroupParent: cgroupRoot ? `${cgroupRoot.replace(/\/$/, '')}/pod${this.uid}` : '',
        securityContext: { namespaceOptions: { network: hostNetwork ? 2 : 0, pid: spec.shareProcessNamespace ? 0 : 1, ipc: spec.hostIPC ? 2 : 0 } },
      },
    };
  }

  /** The pod's ready sandbox: re-adopted when one exists, else (re)created. Returns false when it could not be made. */
  private async ensureSandbox(): Promise<boolean> {
    const list = await this.d.cri.listPodSandbox({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
    const sorted = [...list.items].sort((a, b) => Number(b.createdAt - a.createdAt));
    const ready = sorted.find((s) => s.state === PodSandboxState.SANDBOX_READY);
    if (ready) {
      if (this.sandboxId !== ready.id) {
        if (this.sandboxId === undefined) {
          this.log.info({ sandbox: ready.id }, 'adopted the running pod sandbox');
          this.reportedRunning = true;
        }
        this.sandboxId = ready.id;
        this.sandboxConfig = this.buildSandboxConfig(ready.metadata?.attempt ?? 0);
        const st = await this.d.cri.podSandboxStatus({ podSandboxId: ready.id });
        this.podIP = this.sandboxIP(st.status?.network?.ip);
      }
      // Sandboxes left behind by earlier attempts go.
      for (const s of sorted) if (s.id !== ready.id) await this.removeSandbox(s.id);
      return true;
    }
    // None ready: the old ones (and their containers) go, a new attempt starts.
    const attempt = sorted.length ? (sorted[0]!.metadata?.attempt ?? 0) + 1 : 0;
    if (sorted.length) {
      this.event('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      const old = await this.d.cri.listContainers({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
      for (const c of old.containers) {
        const name = c.labels[L.CONTAINER_NAME] ?? '';
        // Exited init containers ran to completion before: they run again in the new sandbox.
        this.restartBase.set(name, Math.max(this.restartBase.get(name) ?? -1, restartCountOf(c)));
      }
    }
    for (const s of sorted) await this.removeSandbox(s.id);
    this.sandboxId = undefined;
    this.statusCache.clear();
    const config = this.buildSandboxConfig(attempt);
    fs.mkdirSync(config.logDirectory!, { recursive: true });
    const t0 = Date.now();
    try {
      const res = await this.d.cri.runPodSandbox({ config });
      this.sandboxId = res.podSandboxId;
      this.sandboxConfig = config;
      const st = await this.d.cri.podSandboxStatus({ podSandboxId: res.podSandboxId });
      this.podIP = this.sandboxIP(st.status?.network?.ip);
      this.log.info({ sandbox: res.podSandboxId, podIP: this.podIP, ms: Date.now() - t0 }, 'pod sandbox started');
      return true;
    } catch (e) {
      this.event('Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
      this.log.warn({ err: (e as Error).message }, 'RunPodSandbox failed');
      return false;
    }
  }

  private async removeSandbox(id: string): Promise<void> {
    try {
      await this.d.cri.stopPodSandbox({ podSandboxId: id });
      await this.d.cri.removePodSandbox({ podSandboxId: id });
    } catch (e) {
      this.log.warn({ sandbox: id, err: (e as Error).message }, 'could not remove a pod sandbox');
    }
  }

  // ---------------------------------------------------------------- images

  private inBackoff(key: string, t: number): Backoff | undefined {
    const b = this.backoff.get(key);
    return b && t < b.until ? b : undefined;
  }

  /** Next back-off delay of `key` (base doubling to max), counted from `from`. */
  private nextBackoff(key: string, from: number): Backoff {
    const prev = this.backoff.get(key);
    const delayMs = prev ? Math.min(prev.delayMs * 2, this.d.config.backoffMaxMs) : this.d.config.backoffBaseMs;
    const b = { delayMs, until: from + delayMs };
    this.backoff.set(key, b);
    return b;
  }

  /** The image ref to run, or undefined after recording ErrImagePull / ImagePullBackOff. */
  private async ensureImage(c: AnyObj, init: boolean): Promise<string | undefined> {
    const image = String(c.image);
    const policy = pullPolicy(c);
    const fp = this.fieldPath(c, init);
    const present = await this.d.cri.imageStatus({ image: { image } });
    if (present.image && policy !== 'Always') {
      if (!this.waiting.has(c.name) || this.waiting.get(c.name)!.reason !== 'ContainerCreating') {
        this.event('Normal', 'Pulled', `Container image "${image}" already present on machine`, fp);
      }
      return present.image.id;
    }
    if (policy === 'Never') {
      const msg = `Container image "${image}" is not present with pull policy of Never`;
      this.waiting.set(c.name, { reason: 'ErrImageNeverPull', message: msg });
      this.event('Warning', 'ErrImageNeverPull', msg, fp);
      return undefined;
    }
    const key = `pull/${image}`;
    const t = Date.now();
    const b = this.inBackoff(key, t);
    if (b) {
      // As the kubelet shows it: ErrImagePull for a while after the failed pull, then ImagePullBackOff.
      if (this.waiting.get(c.name)?.reason === 'ErrImagePull' && t < b.until - b.delayMs + Math.min(b.delayMs / 2, 5_000)) return undefined;
      const msg = `Back-off pulling image "${image}"`;
      if (this.waiting.get(c.name)?.reason !== 'ImagePullBackOff') this.event('Normal', 'BackOff', msg, fp);
      this.waiting.set(c.name, { reason: 'ImagePullBackOff', message: msg });
      return undefined;
    }
    this.event('Normal', 'Pulling', `Pulling image "${image}"`, fp);
    try {
      const res = await this.d.cri.pullImage({ image: { image }, sandboxConfig: this.sandboxConfig });
      this.backoff.delete(key);
      this.event('Normal', 'Pulled', `Successfully pulled image "${image}" in ${Date.now() - t}ms`, fp);
      return res.imageRef;
    } catch (e) {
      const msg = `Failed to pull image "${image}": ${(e as Error).message}`;
      this.nextBackoff(key, Date.now());
      this.waiting.set(c.name, { reason: 'ErrImagePull', message: msg });
      this.event('Warning', 'Failed', msg, fp);
      this.event('Warning', 'Failed', 'Error: ErrImagePull', fp);
      return undefined;
    }
  }

  // ---------------------------------------------------------------- containers

  private resources(c: AnyObj): AnyObj {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    const cpuReq = req.cpu ?? lim.cpu;
    const out: AnyObj = { cpuShares: BigInt(cpuReq !== undefined ? Math.max(2, Math.floor((milliCpu(cpuReq) * 1024) / 1000)) : 2) };
    if (lim.cpu !== undefined) {
      out.cpuPeriod = 100_000n;
      out.cpuQuota = BigInt(Math.max(1000, Math.floor((milliCpu(lim.cpu) * 100_000) / 1000)));
    }
    if (lim.memory !== undefined) out.memoryLimitInBytes = BigInt(bytes(lim.memory));
    return out;
  }

  private async startContainer(c: AnyObj, init: boolean, restartCount: number, objects: ObjectCache): Promise<void> {
    const fp = this.fieldPath(c, init);
    const imageRef = await this.ensureImage(c, init);
    if (!imageRef) return;
    let config: DeepPartial<ContainerConfig>;
    try {
      const volumes = await prepareVolumes(this.pod, this.d.config.rootDir, objects, this.podIP, this.d.config.nodeIP);
      const envs = await containerEnv(this.pod, c, objects, this.podIP, this.d.config.nodeIP);
      const vars = new Map(envs.map((e) => [e.key, e.value]));
      const sc = { ...(this.spec.securityContext ?? {}), ...(c.securityContext ?? {}) } as AnyObj;
      config = {
        metadata: { name: c.name, attempt: restartCount },
        image: { image: String(c.image) },
        command: ((c.command ?? []) as string[]).map((s) => expand(s, vars)),
        args: ((c.args ?? []) as string[]).map((s) => expand(s, vars)),
        workingDir: c.workingDir ?? '',
        envs,
        mounts: containerMounts(c, volumes),
        labels: { [L.POD_NAME]: this.name, [L.POD_NAMESPACE]: this.namespace, [L.POD_UID]: this.uid, [L.CONTAINER_NAME]: c.name, [L.CONTAINER_TYPE]: init ? 'init' : 'regular', [L.KUBELET_MANAGED]: 'true' },
        annotations: {
          [L.RESTART_COUNT]: String(restartCount),
          [L.CONTAINER_HASH]: containerHash(c),
          [L.TERMINATION_GRACE]: String(this.spec.terminationGracePeriodSeconds ?? 30),
          [L.TERMINATION_MESSAGE_PATH]: c.terminationMessagePath ?? '/dev/termination-log',
        },
        logPath: path.join(c.name, `${restartCount}.log`),
        stdin: Boolean(c.stdin),
        stdinOnce: Boolean(c.stdinOnce),
        tty: Boolean(c.tty),
        linux: {
          resources: this.resources(c),
          securityContext: {
            ...(sc.runAsUser !== undefined ? { runAsUser: { value: BigInt(sc.runAsUser) } } : {}),
            ...(sc.runAsGroup !== undefined ? { runAsGroup: { value: BigInt(sc.runAsGroup) } } : {}),
            privileged: Boolean(sc.privileged),
            // Names as Kubernetes takes them (NET_ADMIN); the runtime adds CAP_.
            ...(sc.capabilities ? { capabilities: { addCapabilities: ((sc.capabilities.add ?? []) as unknown[]).map(String), dropCapabilities: ((sc.capabilities.drop ?? []) as unknown[]).map(String) } } : {}),
            readonlyRootfs: Boolean(sc.readOnlyRootFilesystem),
            namespaceOptions: this.sandboxConfig?.linux?.securityContext?.namespaceOptions,
          },
        },
      };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.waiting.set(c.name, { reason: 'CreateContainerConfigError', message: e.message });
      this.event('Warning', 'Failed', `Error: ${e.message}`, fp);
      return;
    }
    let id: string | undefined;
    try {
      const res = await this.d.cri.createContainer({ podSandboxId: this.sandboxId!, config, sandboxConfig: this.sandboxConfig });
      id = res.containerId;
      this.event('Normal', 'Created', `Created container ${c.name}`, fp);
    } catch (e) {
      this.waiting.set(c.name, { reason: 'CreateContainerError', message: (e as CriError).details ?? (e as Error).message });
      this.event('Warning', 'Failed', `Error: ${(e as Error).message}`, fp);
      return;
    }
    try {
      await this.d.cri.startContainer({ containerId: id });
      this.waiting.delete(c.name);
      this.event('Normal', 'Started', `Started container ${c.name}`, fp);
      this.log.info({ container: c.name, id, restartCount }, 'container started');
    } catch (e) {
      this.waiting.set(c.name, { reason: 'RunContainerError', message: (e as Error).message });
      this.event('Warning', 'Failed', `Error: failed to start container "${c.name}": ${(e as Error).message}`, fp);
    }
  }

  /** A pod's IP: the sandbox's, or the node's for a hostNetwork pod (its sandbox has none), as the kubelet reports it. */
  private sandboxIP(ip: string | undefined): string {
    return this.spec.hostNetwork ? this.d.config.nodeIP : (ip ?? '');
  }

  /** The CRI containers of this pod, by container name, newest attempt first. */
  private async listContainers(): Promise<Map<string, CriContainer[]>> {
    const res = await this.d.cri.listContainers({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
    const by = new Map<string, CriContainer[]>();
    for (const c of res.containers) {
      if (this.sandboxId && c.podSandboxId !== this.sandboxId) continue;
      const name = c.labels[L.CONTAINER_NAME] ?? c.metadata?.name ?? '';
      (by.get(name) ?? by.set(name, []).get(name)!).push(c);
    }
    for (const list of by.values()) list.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || Number(b.createdAt - a.createdAt));
    return by;
  }

  private async containerStatus(c: CriContainer): Promise<ContainerStatus | undefined> {
    const cached = this.statusCache.get(c.id);
    if (cached && cached.state === c.state) return cached;
    try {
      const res = await this.d.cri.containerStatus({ containerId: c.id });
      if (res.status) this.statusCache.set(c.id, res.status);
      return res.status;
    } catch (e) {
      this.log.debug({ id: c.id, err: (e as Error).message }, 'ContainerStatus failed');
      return undefined;
    }
  }

  /** What to do with an exited container under the pod's restartPolicy. */
  private shouldRestart(st: ContainerStatus, init: boolean): boolean {
    const policy = this.spec.restartPolicy ?? 'Always';
    if (init) return policy !== 'Never' && st.exitCode !== 0;
    if (policy === 'Always') return true;
    if (policy === 'OnFailure') return st.exitCode !== 0;
    return false;
  }

  /**
   * Restarts an exited container unless it is in CrashLoopBackOff. Returns
   * true when it was (re)started.
   */
  private async maybeRestart(c: AnyObj, latest: CriContainer, st: ContainerStatus, init: boolean, objects: ObjectCache): Promise<boolean> {
    const key = `${init ? 'init' : 'c'}/${c.name}`;
    const t = Date.now();
    const finished = Number(st.finishedAt / 1_000_000n) || t;
    const started = Number(st.startedAt / 1_000_000n) || finished;
    if (finished - started > MAX_BACKOFF_RESET_MS) this.backoff.delete(key);
    const b = this.backoff.get(key);
    if (b && b.until === 0) b.until = finished + b.delayMs;
    if (b && t < b.until) {
      const msg = `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${c.name} pod=${this.name}_${this.namespace}(${this.uid})`;
      if (this.waiting.get(c.name)?.message !== msg) this.event('Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${this.name}_${this.namespace}(${this.uid})`, this.fieldPath(c, init));
      this.waiting.set(c.name, { reason: 'CrashLoopBackOff', message: msg });
      return false;
    }
    // Next crash waits for the next delay, counted from that crash's end (until 0: set when it exits).
    const prev = this.backoff.get(key);
    this.backoff.set(key, { delayMs: prev ? Math.min(prev.delayMs * 2, this.d.config.backoffMaxMs) : this.d.config.backoffBaseMs, until: 0 });
    await this.startContainer(c, init, restartCountOf(latest) + 1, objects);
    return true;
  }

  /** Drops the probe state of containers that are gone, and old dead containers (the newest two per name stay). */
  private async collectGarbage(by: Map<string, CriContainer[]>): Promise<void> {
    const live = new Set<string>();
    for (const [, list] of by) {
      for (const old of list.slice(2)) {
        if (old.state === ContainerState.CONTAINER_RUNNING) continue;
        await this.d.cri.removeContainer({ containerId: old.id }).catch(() => undefined);
        this.statusCache.delete(old.id);
      }
      for (const c of list.slice(0, 2)) live.add(c.id);
    }
    for (const id of this.statusCache.keys()) if (!live.has(id)) this.statusCache.delete(id);
  }

  private firstRestartCount(name: string): number {
    const base = this.restartBase.get(name);
    return base === undefined ? 0 : base + 1;
  }

  // ---------------------------------------------------------------- probes

  private async runProbes(c: AnyObj, cc: CriContainer, st: ContainerStatus): Promise<void> {
    let p = this.probes.get(c.name);
    if (!p || p.id !== cc.id) {
      p = { id: cc.id, liveness: new ProbeState(true), readiness: new ProbeState(false), startup: new ProbeState(false) };
      this.probes.set(c.name, p);
    }
    const t = Date.now();
    const startedAt = Number(st.startedAt / 1_000_000n) || t;
    const fp = this.fieldPath(c, false);
    if (c.startupProbe && !p.startup.result) {
      if (!p.startup.due(c.startupProbe, startedAt, t)) return;
      const r = await runProbe(this.d.cri, c.startupProbe, c, cc.id, this.podIP);
      p.startup.record(c.startupProbe, r.ok, t);
      if (!r.ok) {
        this.event('Warning', 'Unhealthy', `Startup probe failed: ${r.output}`, fp);
        if (p.startup.failures >= Number(c.startupProbe.failureThreshold ?? 3)) await this.killForProbe(c, cc, 'startup');
      }
      return;
    }
    if (c.livenessProbe && p.liveness.due(c.livenessProbe, startedAt, t)) {
      const r = await runProbe(this.d.cri, c.livenessProbe, c, cc.id, this.podIP);
      p.liveness.record(c.livenessProbe, r.ok, t);
      if (!r.ok) {
        this.event('Warning', 'Unhealthy', `Liveness probe failed: ${r.output}`, fp);
        if (!p.liveness.result) {
          await this.killForProbe(c, cc, 'liveness');
          return;
        }
      }
    }
    if (c.readinessProbe && p.readiness.due(c.readinessProbe, startedAt, t)) {
      const r = await runProbe(this.d.cri, c.readinessProbe, c, cc.id, this.podIP);
      p.readiness.record(c.readinessProbe, r.ok, t);
      if (!r.ok) this.event('Warning', 'Unhealthy', `Readiness probe failed: ${r.output}`, fp);
    }
  }

  private async killForProbe(c: AnyObj, cc: CriContainer, which: string): Promise<void> {
    this.event('Normal', 'Killing', `Container ${c.name} failed ${which} probe, will be restarted`, this.fieldPath(c, false));
    const grace = Number(c[`${which}Probe`]?.terminationGracePeriodSeconds ?? this.spec.terminationGracePeriodSeconds ?? 30);
    await this.d.cri.stopContainer({ containerId: cc.id, timeout: BigInt(grace) }, { timeoutMs: grace * 1000 + 30_000 }).catch((e) => this.log.warn({ err: (e as Error).message }, 'StopContainer failed'));
    this.probes.delete(c.name);
  }

  private isReady(c: AnyObj, cc: CriContainer | undefined): boolean {
    if (!cc || cc.state !== ContainerState.CONTAINER_RUNNING) return false;
    const p = this.probes.get(c.name);
    if (c.startupProbe && !(p?.id === cc.id && p.startup.result)) return false;
    if (!c.readinessProbe) return true;
    return p?.id === cc.id && p.readiness.result;
  }

  private isStarted(c: AnyObj, cc: CriContainer | undefined): boolean {
    if (!cc || cc.state !== ContainerState.CONTAINER_RUNNING) return false;
    if (!c.startupProbe) return true;
    const p = this.probes.get(c.name);
    return p?.id === cc.id && p.startup.result;
  }

  // ---------------------------------------------------------------- sync

  /** One pass of kubelet's SyncPod: sandbox, init containers in order, containers, probes, status. */
  async sync(): Promise<void> {
    if (this.finished) return;
    const meta = this.pod.metadata as AnyObj;
    if (meta.deletionTimestamp) {
      await this.terminate(Number(meta.deletionGracePeriodSeconds ?? this.spec.terminationGracePeriodSeconds ?? 30), true);
      return;
    }
    this.startTime ??= now();
    const phaseBefore = (this.pod.status as AnyObj | undefined)?.phase;
    if (phaseBefore === 'Succeeded' || phaseBefore === 'Failed') {
      // A finished pod is never started again (also after a kubelet restart);
      // as the kubelet, its sandbox is stopped (frees the IP) but kept until the pod is deleted.
      if (!this.sandboxStopped) {
        const list = await this.d.cri.listPodSandbox({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
        for (const sb of list.items) if (sb.state === PodSandboxState.SANDBOX_READY) await this.d.cri.stopPodSandbox({ podSandboxId: sb.id });
        this.sandboxStopped = true;
        this.log.info({ phase: phaseBefore }, 'pod finished: sandbox stopped');
      }
      return;
    }
    if (!(await this.ensureSandbox())) {
      await this.postStatus(new Map());
      return;
    }
    const objects = new ObjectCache(this.d.client);
    let by = await this.listContainers();
    let changed = false;
    const statuses = async () => {
      const m = new Map<string, ContainerStatus>();
      for (const list of by.values()) for (const c of list.slice(0, 2)) {
        const st = await this.containerStatus(c);
        if (st) m.set(c.id, st);
      }
      return m;
    };
    let sts = await statuses();
    // Init containers, in order: each must exit 0 before the next starts.
    let initialized = true;
    for (const c of (this.spec.initContainers ?? []) as AnyObj[]) {
      const latest = by.get(c.name)?.[0];
      const st = latest && sts.get(latest.id);
      if (!latest) {
        await this.startContainer(c, true, this.firstRestartCount(c.name), objects);
        changed = true;
        initialized = false;
        break;
      }
      if (latest.state === ContainerState.CONTAINER_CREATED) {
        await this.d.cri.startContainer({ containerId: latest.id }).catch(() => undefined);
        changed = true;
        initialized = false;
        break;
      }
      if (latest.state === ContainerState.CONTAINER_EXITED && st && st.exitCode === 0) continue;
      initialized = false;
      if (latest.state === ContainerState.CONTAINER_EXITED && st && this.shouldRestart(st, true)) changed = (await this.maybeRestart(c, latest, st, true, objects)) || changed;
      break;
    }
    if (initialized) {
      for (const c of (this.spec.containers ?? []) as AnyObj[]) {
        const latest = by.get(c.name)?.[0];
        const st = latest && sts.get(latest.id);
        if (!latest) {
          await this.startContainer(c, false, this.firstRestartCount(c.name), objects);
          changed = true;
        } else if (latest.state === ContainerState.CONTAINER_CREATED) {
          await this.d.cri.startContainer({ containerId: latest.id }).catch(() => undefined);
          changed = true;
        } else if (latest.state === ContainerState.CONTAINER_RUNNING && st && latest.annotations[L.CONTAINER_HASH] && latest.annotations[L.CONTAINER_HASH] !== containerHash(c)) {
          // The spec changed (a new image): kill it; the next pass starts the new one at once.
          this.event('Normal', 'Killing', `Container ${c.name} definition changed, will be restarted`, this.fieldPath(c, false));
          const grace = Number(this.spec.terminationGracePeriodSeconds ?? 30);
          await this.d.cri.stopContainer({ containerId: latest.id, timeout: BigInt(grace) }, { timeoutMs: grace * 1000 + 30_000 });
          await this.startContainer(c, false, restartCountOf(latest) + 1, objects);
          changed = true;
        } else if (latest.state === ContainerState.CONTAINER_RUNNING && st) {
          await this.runProbes(c, latest, st);
        } else if (latest.state === ContainerState.CONTAINER_EXITED && st) {
          if (this.shouldRestart(st, false)) changed = (await this.maybeRestart(c, latest, st, false, objects)) || changed;
          else this.waiting.delete(c.name);
        }
      }
    }
    if (changed) {
      by = await this.listContainers();
      sts = await statuses();
    }
    await this.collectGarbage(by);
    await this.postStatus(by, sts, initialized);
  }

  // ---------------------------------------------------------------- status

  private cond(type: string, ok: boolean, reason?: string): AnyObj {
    const status = ok ? 'True' : 'False';
    const prev = this.conditionTimes.get(type);
    if (!prev || prev.status !== status) this.conditionTimes.set(type, { status, at: now() });
    return { type, status, lastProbeTime: null, lastTransitionTime: this.conditionTimes.get(type)!.at, ...(!ok && reason ? { reason } : {}) };
  }

  private containerStatusOf(c: AnyObj, init: boolean, list: CriContainer[] | undefined, sts: Map<string, ContainerStatus>): AnyObj {
    const latest = list?.[0];
    const prev = list?.[1];
    const st = latest && sts.get(latest.id);
    const terminated = (s: ContainerStatus, cc: CriContainer) => ({
      terminated: {
        exitCode: s.exitCode,
        reason: s.reason || (s.exitCode === 0 ? 'Completed' : 'Error'),
        ...(s.message ? { message: s.message } : {}),
        startedAt: nanosToIso(s.startedAt) ?? null,
        finishedAt: nanosToIso(s.finishedAt) ?? null,
        containerID: `containerd://${cc.id}`,
      },
    });
    const out: AnyObj = {
      name: c.name,
      state: {},
      lastState: {},
      ready: false,
      restartCount: restartCountOf(latest),
      image: st?.image?.image || c.image,
      imageID: st?.imageRef ?? latest?.imageRef ?? '',
      ...(latest ? { containerID: `containerd://${latest.id}` } : {}),
      started: init ? false : this.isStarted(c, latest),
    };
    const w = this.waiting.get(c.name);
    if (!latest || !st) {
      out.state = { waiting: { reason: w?.reason ?? 'ContainerCreating', ...(w?.message ? { message: w.message } : {}) } };
      return out;
    }
    if (latest.state === ContainerState.CONTAINER_RUNNING) {
      out.state = { running: { startedAt: nanosToIso(st.startedAt) ?? now() } };
      out.ready = init ? false : this.isReady(c, latest);
      const pst = prev && sts.get(prev.id);
      if (prev && pst && prev.state === ContainerState.CONTAINER_EXITED) out.lastState = terminated(pst, prev);
    } else if (latest.state === ContainerState.CONTAINER_EXITED) {
      if (w && (w.reason === 'CrashLoopBackOff' || w.reason.endsWith('Error') || w.reason.startsWith('ErrImage') || w.reason === 'ImagePullBackOff')) {
        out.state = { waiting: { reason: w.reason, message: w.message } };
        out.lastState = terminated(st, latest);
      } else {
        out.state = terminated(st, latest);
        const pst = prev && sts.get(prev.id);
        if (prev && pst) out.lastState = terminated(pst, prev);
      }
    } else {
      out.state = { waiting: { reason: w?.reason ?? 'ContainerCreating' } };
    }
    return out;
  }

  /** kubelet's getPhase. */
  private phase(init: AnyObj[], regular: AnyObj[], initialized: boolean): string {
    const policy = this.spec.restartPolicy ?? 'Always';
    if (!initialized) {
      const failed = init.some((s) => s.state.terminated && s.state.terminated.exitCode !== 0);
      return failed && policy === 'Never' ? 'Failed' : 'Pending';
    }
    let running = 0;
    let waiting = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const s of regular) {
      if (s.state.running) running++;
      else if (s.state.terminated) {
        stopped++;
        if (s.state.terminated.exitCode === 0) succeeded++;
      } else if (s.state.waiting) {
        if (s.lastState.terminated) stopped++;
        else waiting++;
      }
    }
    if (waiting > 0) return 'Pending';
    if (running > 0) return 'Running';
    if (stopped > 0) {
      if (policy === 'Always') return 'Running';
      if (stopped === succeeded) return 'Succeeded';
      if (policy === 'Never') return 'Failed';
      return 'Running';
    }
    return 'Pending';
  }

  private async postStatus(by: Map<string, CriContainer[]>, sts: Map<string, ContainerStatus> = new Map(), initialized = false): Promise<void> {
    const initSpecs = (this.spec.initContainers ?? []) as AnyObj[];
    const specs = (this.spec.containers ?? []) as AnyObj[];
    const initStatuses = initSpecs.map((c) => this.containerStatusOf(c, true, by.get(c.name), sts));
    const statuses = specs.map((c) => this.containerStatusOf(c, false, by.get(c.name), sts));
    const allReady = statuses.length > 0 && statuses.every((s) => s.ready);
    const phase = this.phase(initStatuses, statuses, initialized || initSpecs.length === 0);
    const ip = this.podIP;
    const status: AnyObj = {
      phase,
      conditions: [
        this.cond('PodReadyToStartContainers', Boolean(this.sandboxId)),
        this.cond('Initialized', initialized || initSpecs.length === 0, 'ContainersNotInitialized'),
        this.cond('Ready', allReady, 'ContainersNotReady'),
        this.cond('ContainersReady', allReady, 'ContainersNotReady'),
        this.cond('PodScheduled', true),
      ],
      hostIP: this.d.config.nodeIP,
      hostIPs: [{ ip: this.d.config.nodeIP }],
      podIP: ip || null,
      podIPs: ip ? [{ ip }] : null,
      startTime: this.startTime,
      containerStatuses: statuses,
      ...(initSpecs.length ? { initContainerStatuses: initStatuses } : {}),
    };
    for (const c of status.conditions as AnyObj[]) {
      if (c.status === 'False' && c.type !== 'PodReadyToStartContainers') {
        const names = (c.type === 'Initialized' ? initStatuses.filter((s) => !s.state.terminated || s.state.terminated.exitCode !== 0) : statuses.filter((s) => !s.ready)).map((s) => s.name);
        c.message = c.type === 'Initialized' ? `containers with incomplete status: [${names.join(' ')}]` : `containers with unready status: [${names.join(' ')}]`;
      }
    }
    if (this.mirrorUid === null) return; // a static pod without a mirror pod (yet): nothing to write to
    const json = `${JSON.stringify(status)}|${this.mirrorUid ?? ''}`;
    if (json === this.lastStatus) return;
    try {
      const updated = await this.d.client.resource(PODS).patchStatus(this.namespace, this.name, 'merge', { status });
      if ((updated.metadata as AnyObj).uid === this.uid) this.pod = updated as unknown as Pod;
      this.lastStatus = json;
      if (phase === 'Running' && allReady && !this.reportedRunning) {
        this.reportedRunning = true;
        const created = Date.parse(String((this.pod.metadata as AnyObj).creationTimestamp));
        this.log.info({ phase, podIP: ip, sinceCreationMs: Number.isFinite(created) ? Date.now() - created : undefined }, 'pod running and ready');
      }
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }
  private reportedRunning = false;
  private sandboxStopped = false;
  /** Static pods only: the UID of the mirror pod that gets the status (null: none yet). Undefined for API pods. */
  mirrorUid: string | null | undefined;
  /** restartCount of each container in the sandbox that was replaced, so counts keep growing across sandboxes. */
  private readonly restartBase = new Map<string, number>();

  // ---------------------------------------------------------------- termination

  /**
   * kubelet's KillPod: StopContainer on every running container with the
   * grace period (SIGTERM, then SIGKILL after it), then StopPodSandbox and
   * RemovePodSandbox, then the pod's folder. When `finalize`, the pod object
   * is then deleted for good (gracePeriodSeconds=0), as the kubelet's status
   * manager does once the pod is terminated.
   */
  /**
   * kubelet's preStop hook (exec through ExecSync, httpGet, or sleep), bounded
   * by the grace period; a failing hook is a FailedPreStopHook event and the
   * container is stopped anyway. Returns the milliseconds it took.
   */
  private async runPreStop(c: AnyObj, containerId: string, graceSeconds: number): Promise<number> {
    const t0 = Date.now();
    const h = c.lifecycle.preStop as AnyObj;
    const fp = `spec.containers{${c.name}}`;
    try {
      if (h.sleep) {
        const ms = Math.min(Number(h.sleep.seconds ?? 0), graceSeconds) * 1000;
        await new Promise((r) => setTimeout(r, ms));
      } else {
        const r = await runProbe(this.d.cri, { ...h, timeoutSeconds: graceSeconds }, c, containerId, this.podIP);
        if (!r.ok) this.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${r.output}`, fp);
      }
    } catch (e) {
      this.event('Warning', 'FailedPreStopHook', `PreStopHook failed: ${(e as Error).message}`, fp);
    }
    return Date.now() - t0;
  }

  async terminate(gracePeriodSeconds: number, finalize: boolean): Promise<void> {
    if (this.finished) return;
    const t0 = Date.now();
    const res = await this.d.cri.listContainers({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
    const grace = Math.max(0, gracePeriodSeconds);
    await Promise.all(
      res.containers
        .filter((c) => c.state === ContainerState.CONTAINER_RUNNING || c.state === ContainerState.CONTAINER_CREATED)
        .map(async (c) => {
          const name = c.labels[L.CONTAINER_NAME] ?? '';
          const init = c.labels[L.CONTAINER_TYPE] === 'init';
          if (finalize) this.event('Normal', 'Killing', `Stopping container ${name}`, `spec.${init ? 'initContainers' : 'containers'}{${name}}`);
          // The preStop hook runs first, within the grace period; SIGTERM gets what is left of it (at least 2 s, as the kubelet).
          let left = grace;
          const spec = init ? undefined : ((this.spec.containers ?? []) as AnyObj[]).find((x) => x.name === name);
          if (spec?.lifecycle?.preStop && c.state === ContainerState.CONTAINER_RUNNING && grace > 0) {
            const used = await this.runPreStop(spec, c.id, grace);
            left = Math.max(2, grace - Math.ceil(used / 1000));
          }
          await this.d.cri.stopContainer({ containerId: c.id, timeout: BigInt(left) }, { timeoutMs: left * 1000 + 30_000 }).catch((e) => this.log.warn({ id: c.id, err: (e as Error).message }, 'StopContainer failed'));
        }),
    );
    const sandboxes = await this.d.cri.listPodSandbox({ filter: { labelSelector: { [L.POD_UID]: this.uid } } });
    for (const s of sandboxes.items) await this.removeSandbox(s.id);
    fs.rmSync(podDir(this.d.config.rootDir, this.uid), { recursive: true, force: true });
    this.finished = true;
    this.log.info({ containers: res.containers.length, sandboxes: sandboxes.items.length, ms: Date.now() - t0, grace }, 'pod killed');
    if (!finalize) return;
    try {
      await this.d.client.resource(PODS).delete(this.namespace, this.name, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
    } catch (e) {
      if (!isNotFound(e) && !isConflict(e)) throw e;
    }
  }
}

type CriError = { details?: string };

/** Stable JSON (sorted keys), so the hash does not depend on the order the API server wrote fields in. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as AnyObj)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** kubelet's container hash: a changed container spec (in a pod only the image may change) restarts the container. */
export function containerHash(c: AnyObj): string {
  return hash(canonical(c));
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16);
}

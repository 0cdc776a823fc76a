import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, KObject } from '@kubets/client';
import { LEASES, NODES, isAlreadyExists, isNotFound, isRetryable, isStatusError } from '@kubets/client';
import type { CriClient } from '@kubets/cri-client';
import type { Logger } from 'pino';
import { writeCniConfig } from './cni-config';
import { crossed, observe, pressureConditions, type Threshold } from './pressure';

export const KUBELET_VERSION = 'v1.32.0-kubets';

export interface NodeAgentOptions {
  name: string;
  nodeIP: string;
  maxPods: number;
  labels: Record<string, string>;
  taints: KObject[];
  leaseDurationSeconds: number;
  /** How often the Lease is renewed (kubelet: a quarter of its duration). */
  leaseRenewMs: number;
  /** How often the runtime's health is checked and the Node status posted when it changed (kubelet's nodeStatusUpdateFrequency: 10 s). */
  statusUpdateMs: number;
  /** How often the status is posted even when nothing changed (nodeStatusReportFrequency: 5 min). */
  statusReportMs: number;
  rootDir: string;
  /** The port of the kubelet's HTTPS server (status.daemonEndpoints); default 10250. */
  kubeletPort?: number;
  /** Hard eviction thresholds: crossing one reports the matching pressure condition. */
  evictionHard: Threshold[];
  /** Where the kubelet writes the CNI config for the node's podCIDR; unset: the CNI config is not the kubelet's. */
  cniConfDir?: string;
  /** The bridge of that CNI config. */
  cniBridge: string;
}

/** kubelet's nodeStatusMaxImages: the largest images reported in status.images. */
const MAX_IMAGES = 50;

/** The labels every kubelet puts on its Node (kubelet's well-known labels, with the beta ones), then the --node-labels. */
export function nodeLabels(name: string, arch: string, extra: Record<string, string>): Record<string, string> {
  return {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'beta.kubernetes.io/arch': arch,
    ...extra,
  };
}

/** GOARCH of this machine, as Kubernetes labels it. */
export function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

function readTrim(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

function osImage(): string {
  const text = readTrim('/etc/os-release', '');
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m?.[1] ?? 'Linux';
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function microNow(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}000Z`);
}

/**
 * The node side of a real kubelet: registers the Node (capacity and
 * allocatable from this machine, labels, taints, addresses, nodeInfo),
 * renews its Lease in kube-node-lease and posts the Ready condition from the
 * container runtime's Status (RuntimeReady and NetworkReady), as the kubelet's
 * node status manager does. One piece of work at a time (its own mailbox).
 */
export class NodeAgent {
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private mailbox: Promise<void> = Promise.resolve();
  private stopped = false;
  private readyStatus = { ready: false, message: 'container runtime status check may not have completed yet' };
  private lastPosted = '';
  private lastPostedAt = 0;
  private readonly transitions = new Map<string, { status: string; at: string }>();
  private runtimeVersion = 'containerd://unknown';
  private images: Array<{ names: string[]; sizeBytes: number }> = [];
  private imageFsDir: string | undefined;
  private pressure = pressureConditions([]);
  private podCIDR: string | undefined;
  private cniTimer: NodeJS.Timeout | undefined;
  private registration: Promise<void> | undefined;
  readonly stats = { leaseRenewals: 0, statusPosts: 0, errors: 0 };

  constructor(
    private readonly client: Client,
    private readonly cri: CriClient,
    private readonly o: NodeAgentOptions,
    private readonly log: Logger,
  ) {}

  /** The port the kubelet's HTTPS server got (reported in status.daemonEndpoints). */
  setKubeletPort(port: number): void {
    this.o.kubeletPort = port;
  }

  get ready(): boolean {
    return this.readyStatus.ready;
  }

  private enqueue(what: string, fn: () => Promise<void>): void {
    this.mailbox = this.mailbox.then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (e) {
        this.stats.errors++;
        this.log.warn({ what, err: (e as Error).message }, 'node agent: work failed');
      }
    });
  }

  private capacity(): Record<string, string> {
    let storage = '0';
    try {
      const st = fs.statfsSync(this.o.rootDir);
      storage = `${Math.floor((st.blocks * st.bsize) / 1024)}Ki`;
    } catch {
      // root dir not there yet
    }
    return {
      cpu: String(os.cpus().length),
      memory: `${Math.floor(os.totalmem() / 1024)}Ki`,
      pods: String(this.o.maxPods),
      'ephemeral-storage': storage,
    };
  }

  private condition(type: string, status: string, reason: string, message: string, t: string): KObject {
    const prev = this.transitions.get(type);
    if (!prev || prev.status !== status) this.transitions.set(type, { status, at: t });
    return { type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: this.transitions.get(type)!.at };
  }

  nodeObject(): KObject {
    const { name } = this.o;
    const resources = this.capacity();
    const t = now();
    const arch = goArch();
    const ready = this.readyStatus;
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: nodeLabels(name, arch, this.o.labels),
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
      },
      spec: this.o.taints.length ? { taints: this.o.taints } : {},
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          ...this.pressure.map((c) => this.condition(c.type, c.status, c.reason, c.message, t)),
          ready.ready
            ? this.condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', t)
            : this.condition('Ready', 'False', 'KubeletNotReady', ready.message, t),
        ],
        addresses: [
          { type: 'InternalIP', address: this.o.nodeIP },
          { type: 'Hostname', address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: this.o.kubeletPort ?? 10250 } },
        images: this.images,
        nodeInfo: {
          machineID: readTrim('/etc/machine-id', ''),
          systemUUID: readTrim('/sys/class/dmi/id/product_uuid', ''),
          bootID: readTrim('/proc/sys/kernel/random/boot_id', ''),
          kernelVersion: os.release(),
          osImage: osImage(),
          containerRuntimeVersion: this.runtimeVersion,
          kubeletVersion: KUBELET_VERSION,
          kubeProxyVersion: KUBELET_VERSION,
          operatingSystem: 'linux',
          architecture: arch,
        },
      },
    };
  }

  /** Reads the runtime's Status: Ready needs RuntimeReady and NetworkReady. */
  private async checkRuntime(): Promise<void> {
    try {
      const res = await this.cri.status({}, { timeoutMs: 10_000 });
      const conds = res.status?.conditions ?? [];
      const bad = ['RuntimeReady', 'NetworkReady'].filter((t) => !conds.some((c) => c.type === t && c.status));
      this.readyStatus = bad.length
        ? { ready: false, message: `container runtime not ready: ${bad.map((t) => { const c = conds.find((x) => x.type === t); return `${t}=false reason:${c?.reason ?? ''} message:${c?.message ?? ''}`; }).join(', ')}` }
        : { ready: true, message: '' };
    } catch (e) {
      this.readyStatus = { ready: false, message: `container runtime is down: ${(e as Error).message}` };
    }
    await this.checkImages();
    this.pressure = pressureConditions(crossed(this.o.evictionHard, observe(this.o.rootDir, this.imageFsDir)));
  }

  /** status.images as the kubelet reports them: every name (tags, then digests) and the size, largest first. */
  private async checkImages(): Promise<void> {
    try {
      const res = await this.cri.listImages({}, { timeoutMs: 10_000 });
      this.images = res.images
        .map((i) => ({ names: [...i.repoTags, ...i.repoDigests], sizeBytes: Number(i.size) }))
        .filter((i) => i.names.length > 0)
        .sort((a, b) => b.sizeBytes - a.sizeBytes || a.names[0]!.localeCompare(b.names[0]!))
        .slice(0, MAX_IMAGES);
      if (this.imageFsDir === undefined) {
        const fsInfo = await this.cri.imageFsInfo({ timeoutMs: 10_000 });
        this.imageFsDir = fsInfo.imageFilesystems[0]?.fsId?.mountpoint || '';
      }
    } catch {
      // the runtime is down: Ready says so; the last list stays
    }
  }

  async start(): Promise<void> {
    try {
      const v = await this.cri.version({}, { timeoutMs: 10_000 });
      this.runtimeVersion = `${v.runtimeName}://${v.runtimeVersion}`;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not read the container runtime version');
    }
    await this.checkRuntime();
    // As the kubelet: the node keeps running its (static) pods while the API
    // server is unreachable, and registers once it answers.
    this.registration = (async () => {
      await this.retrying('register', () => this.register());
      await this.retrying('lease', () => this.renewLease());
      if (this.stopped) return;
      this.leaseTimer = setInterval(() => this.enqueue('lease', () => this.renewLease()), this.o.leaseRenewMs);
      this.leaseTimer.unref();
      this.statusTimer = setInterval(() => this.enqueue('status', () => this.updateStatus()), this.o.statusUpdateMs);
      this.statusTimer.unref();
      if (this.o.cniConfDir) {
        // The podCIDR comes from the node IPAM controller shortly after registration; it never changes after.
        this.cniTimer = setInterval(() => this.enqueue('cni', () => this.syncCni()), 1_000);
        this.cniTimer.unref();
        this.enqueue('cni', () => this.syncCni());
      }
    })().catch((e: Error) => {
      if (!this.stopped) this.log.error({ err: e.message }, 'node registration failed for good');
    });
  }

  /** Resolves once the node is registered and its Lease exists (never rejects). */
  registered(): Promise<void> {
    return this.registration ?? Promise.resolve();
  }

  /** The node's podCIDR, once the node IPAM controller gave it one. */
  get nodePodCIDR(): string | undefined {
    return this.podCIDR;
  }

  private async syncCni(): Promise<void> {
    if (!this.o.cniConfDir || this.podCIDR) return;
    const node = await this.client.resource(NODES).get(undefined, this.o.name);
    const cidr = (node.spec as { podCIDR?: string } | undefined)?.podCIDR;
    if (!cidr) return;
    if (writeCniConfig(this.o.cniConfDir, cidr, this.o.cniBridge, path.join(this.o.rootDir, 'cni-ipam'))) this.log.info({ podCIDR: cidr, dir: this.o.cniConfDir, bridge: this.o.cniBridge }, 'wrote the CNI config for the node podCIDR');
    this.podCIDR = cidr;
    if (this.cniTimer) clearInterval(this.cniTimer);
    // NetworkReady turns true once containerd loaded the config: post Ready soon, not in 10 s.
    this.enqueue('status', () => this.updateStatus());
  }

  /** Retries `fn` (any error: the API server may not be up yet) with back-off until it succeeds or the agent stops. */
  private async retrying(what: string, fn: () => Promise<void>): Promise<void> {
    for (let delay = 200; ; delay = Math.min(delay * 2, 2_000)) {
      if (this.stopped) throw new Error('node agent stopped');
      try {
        return await fn();
      } catch (e) {
        if (this.stopped) throw e;
        this.stats.errors++;
        // Unreachable and 5xx are expected while the control plane starts; anything else is worth an error line.
        this.log[isRetryable(e) || !isStatusError(e) || e.code >= 500 ? 'warn' : 'error']({ what, err: (e as Error).message, retryInMs: delay }, 'node agent: retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async register(): Promise<void> {
    const nodes = this.client.resource(NODES);
    const obj = this.nodeObject();
    try {
      await nodes.create(undefined, obj);
      this.log.info({ node: this.o.name, ready: this.readyStatus.ready }, 'node registered');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      // As the kubelet: labels it owns are reconciled, the status posted.
      await nodes.patch(undefined, this.o.name, 'merge', { metadata: { labels: obj.metadata.labels } });
      await this.postStatus(obj);
      this.log.info({ node: this.o.name }, 'node already registered: labels and status updated');
    }
    this.lastPosted = this.fingerprint(obj);
    this.lastPostedAt = Date.now();
  }

  private fingerprint(obj: KObject): string {
    const st = obj.status as { conditions: Array<{ type: string; status: string; message: string }>; capacity: unknown };
    return JSON.stringify([st.conditions.map((c) => [c.type, c.status, c.message]), st.capacity, this.runtimeVersion, this.images]);
  }

  private async updateStatus(): Promise<void> {
    await this.checkRuntime();
    const obj = this.nodeObject();
    const fp = this.fingerprint(obj);
    if (fp === this.lastPosted && Date.now() - this.lastPostedAt < this.o.statusReportMs) return;
    await this.postStatus(obj);
    if (fp !== this.lastPosted) this.log.info({ ready: this.readyStatus.ready, message: this.readyStatus.message }, 'node status changed');
    this.lastPosted = fp;
    this.lastPostedAt = Date.now();
  }

  private async postStatus(obj: KObject): Promise<void> {
    await this.client.resource(NODES).patchStatus(undefined, this.o.name, 'merge', { status: obj.status });
    this.stats.statusPosts++;
  }

  private async renewLease(): Promise<void> {
    const leases = this.client.resource(LEASES);
    const spec = { holderIdentity: this.o.name, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: microNow() };
    try {
      await leases.patch('kube-node-lease', this.o.name, 'merge', { spec });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const node = await this.client.resource(NODES).get(undefined, this.o.name);
      await leases.create('kube-node-lease', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: this.o.name,
          namespace: 'kube-node-lease',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.o.name, uid: node.metadata.uid }],
        },
        spec: { ...spec, acquireTime: spec.renewTime },
      });
    }
    this.stats.leaseRenewals++;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.cniTimer) clearInterval(this.cniTimer);
    await this.mailbox;
  }
}

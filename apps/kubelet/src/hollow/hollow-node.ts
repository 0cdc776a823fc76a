import type { Client, InformerFactory, KObject, Pod } from '@kubets/client';
import { LEASES, NODES, PODS, isAlreadyExists, isNotFound, isRetryable } from '@kubets/client';
import type { Logger } from 'pino';
import { nodeLabels } from '../node/node-agent';

export interface HollowNodeOptions {
  name: string;
  /** index of this node in its process: picks its fake pod IP range (10.<200+i/256>.<i%256>.x) */
  index: number;
  cpu: string;
  memory: string;
  maxPods: number;
  labels: Record<string, string>;
  taints: KObject[];
  leaseDurationSeconds: number;
  /** how often the Lease is renewed (kubelet: 10 s, a quarter of the lease duration) */
  leaseRenewMs: number;
  /** how often the Node status is re-posted when nothing changed (kubelet's nodeStatusReportFrequency: 5 min) */
  statusReportMs: number;
  nodeIP: string;
}

const KUBELET_VERSION = 'v1.32.0-kubets-hollow';

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function microNow(): string {
  const d = new Date();
  return d.toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}000Z`);
}

/**
 * One hollow node, as kubemark's hollow kubelet: it registers a Node with
 * capacity, renews its Lease in kube-node-lease, follows the pods bound to it
 * (its own NATS subject) and reports them Running and Ready without running
 * anything; a pod being deleted is removed at once (there is nothing to stop).
 * Work is done one item at a time (its mailbox), so a pod's updates never race.
 */
export class HollowNode {
  private leaseTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private mailbox: Promise<void> = Promise.resolve();
  private stopped = false;
  private nextIp = 2;
  private readonly ips = new Map<string, string>();
  readonly stats = { podsStarted: 0, podsDeleted: 0, leaseRenewals: 0, errors: 0 };

  constructor(
    private readonly client: Client,
    private readonly factory: InformerFactory,
    private readonly o: HollowNodeOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Runs `fn` after the work queued before it. With `retryMs`, a retryable or
   * 5xx failure (an overloaded API server) runs it again after that long,
   * doubling up to 10 s, as the kubelet's pod workers retry a failed sync.
   */
  private enqueue(what: string, fn: () => Promise<void>, retryMs?: number): void {
    this.mailbox = this.mailbox.then(async () => {
      if (this.stopped) return;
      try {
        await fn();
      } catch (e) {
        this.stats.errors++;
        const retry = retryMs !== undefined && (isRetryable(e) || (e as { code?: number }).code! >= 500);
        this.log.warn({ node: this.o.name, what, err: (e as Error).message, ...(retry ? { retryInMs: retryMs } : {}) }, 'hollow node: work failed');
        if (retry) {
          const t = setTimeout(() => this.enqueue(what, fn, Math.min(retryMs * 2, 10_000)), retryMs);
          t.unref();
        }
      }
    });
  }

  nodeObject(): KObject {
    const { name, cpu, memory, maxPods } = this.o;
    const resources = { cpu, memory, pods: String(maxPods), 'ephemeral-storage': '100Gi' };
    const t = now();
    const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t });
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        // Hollow nodes say amd64 wherever they run: scale tests expect one arch.
        labels: nodeLabels(name, 'amd64', { 'kubets.io/hollow': 'true', ...this.o.labels }),
        annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
      },
      spec: this.o.taints.length ? { taints: this.o.taints } : {},
      status: {
        capacity: resources,
        allocatable: resources,
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
          cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
        ],
        addresses: [
          { type: 'InternalIP', address: this.o.nodeIP },
          { type: 'Hostname', address: name },
        ],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: {
          machineID: `hollow-${name}`,
          systemUUID: `hollow-${name}`,
          bootID: `hollow-${name}`,
          kernelVersion: 'hollow',
          osImage: 'kubets hollow node',
          containerRuntimeVersion: 'hollow://0.1.0',
          kubeletVersion: KUBELET_VERSION,
          kubeProxyVersion: KUBELET_VERSION,
          operatingSystem: 'linux',
          architecture: 'amd64',
        },
      },
    };
  }

  async start(): Promise<void> {
    // As the kubelet: an overloaded API server (timeouts, 429, 5xx) delays
    // registration, it does not end the process.
    await this.retrying('register', () => this.register());
    await this.retrying('lease', () => this.renewLease());
    this.leaseTimer = setInterval(() => this.enqueue('lease', () => this.renewLease()), this.o.leaseRenewMs);
    this.leaseTimer.unref();
    this.statusTimer = setInterval(() => this.enqueue('status', () => this.postStatus()), this.o.statusReportMs);
    this.statusTimer.unref();
    const pods = this.factory.podsOnNode(this.o.name);
    pods.onAdd((p) => this.enqueue('pod', () => this.syncPod(p), 500));
    pods.onUpdate((_old, p) => this.enqueue('pod', () => this.syncPod(p), 500));
    pods.onDelete((p) => {
      this.ips.delete(p.metadata.uid ?? '');
    });
  }

  /** Runs `fn` until it succeeds, retrying retryable and 5xx errors with backoff (200 ms doubling to 5 s); other errors are thrown. */
  private async retrying(what: string, fn: () => Promise<void>): Promise<void> {
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await fn();
      } catch (e) {
        // 5xx too: an API server whose KV connection broke answers 500 for a while.
        if (this.stopped || !(isRetryable(e) || (e as { code?: number }).code! >= 500)) throw e;
        this.stats.errors++;
        this.log.warn({ node: this.o.name, what, err: (e as Error).message, retryInMs: delay }, 'hollow node: retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async register(): Promise<void> {
    const nodes = this.client.resource(NODES);
    try {
      await nodes.create(undefined, this.nodeObject());
      this.log.info({ node: this.o.name }, 'hollow node registered');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      await this.postStatus();
      this.log.info({ node: this.o.name }, 'hollow node already registered: status updated');
    }
  }

  private async postStatus(): Promise<void> {
    const want = this.nodeObject();
    await this.client.resource(NODES).patchStatus(undefined, this.o.name, 'merge', { status: want.status });
  }

  private async renewLease(): Promise<void> {
    const leases = this.client.resource(LEASES);
    const spec = { holderIdentity: this.o.name, leaseDurationSeconds: this.o.leaseDurationSeconds, renewTime: microNow() };
    try {
      await leases.patch('kube-node-lease', this.o.name, 'merge', { spec });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await leases.create('kube-node-lease', {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: 'kube-node-lease', ownerReferences: [] },
        spec: { ...spec, acquireTime: spec.renewTime },
      });
    }
    this.stats.leaseRenewals++;
  }

  private podIp(uid: string): string {
    let ip = this.ips.get(uid);
    if (!ip) {
      const i = this.o.index;
      ip = `10.${200 + Math.floor(i / 256)}.${i % 256}.${this.nextIp}`;
      this.nextIp = this.nextIp >= 254 ? 2 : this.nextIp + 1;
      this.ips.set(uid, ip);
    }
    return ip;
  }

  private async syncPod(pod: Pod): Promise<void> {
    const meta = pod.metadata;
    const pods = this.client.resource(PODS);
    if (meta.deletionTimestamp) {
      // Nothing runs, so termination is immediate: finish the graceful delete.
      try {
        await pods.delete(meta.namespace, meta.name!, { gracePeriodSeconds: 0, preconditions: { uid: meta.uid } });
        this.stats.podsDeleted++;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Running' || phase === 'Succeeded' || phase === 'Failed') return;
    const t = now();
    const ip = this.podIp(meta.uid ?? meta.name ?? '');
    const cond = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: t });
    const containers: KObject[] = pod.spec?.containers ?? [];
    const status = {
      phase: 'Running',
      conditions: [cond('PodReadyToStartContainers'), cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
      hostIP: this.o.nodeIP,
      hostIPs: [{ ip: this.o.nodeIP }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: t,
      qosClass: pod.status?.qosClass,
      containerStatuses: containers.map((c) => ({
        name: c.name,
        ready: true,
        started: true,
        restartCount: 0,
        image: c.image,
        imageID: `hollow://${c.image}`,
        containerID: `hollow://${meta.uid}/${c.name}`,
        state: { running: { startedAt: t } },
        lastState: {},
      })),
    };
    try {
      await pods.patchStatus(meta.namespace, meta.name!, 'merge', { status });
      this.stats.podsStarted++;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.statusTimer) clearInterval(this.statusTimer);
    await this.mailbox;
  }
}

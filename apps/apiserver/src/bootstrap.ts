import * as am from '@kubets/api-machinery';
import type { EtcdClient } from '@kubets/etcd-client';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { CLUSTER_INFO } from './auth';
import type { ResourceDef } from './registry/types';
import type { RestHandler } from './rest/handler';

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const LEASE_PREFIX = '/kubets/apiserver-endpoints/';

interface ReplicaAddress {
  ip: string;
  port: number;
}

function urlOf(a: ReplicaAddress): string {
  return `https://${a.ip.includes(':') ? `[${a.ip}]` : a.ip}:${a.port}`;
}

/**
 * cluster-info's data.kubeconfig as kubeadm writes it: the cluster only (no
 * user, no context), under an empty name.
 */
export function clusterInfoKubeconfig(server: string, caPem: string): string {
  return YAML.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: '', cluster: { server, 'certificate-authority-data': Buffer.from(caPem, 'utf8').toString('base64') } }],
      contexts: null,
      'current-context': '',
      preferences: {},
      users: null,
    },
    { lineWidth: 0 },
  );
}

/** server and CA of a cluster-info kubeconfig; undefined when it does not parse. */
export function readClusterInfo(text: unknown): { server?: string; caPem?: string } | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const c = (YAML.parse(text) as { clusters?: Array<{ cluster?: Record<string, unknown> }> } | null)?.clusters?.[0]?.cluster;
    const ca = c?.['certificate-authority-data'];
    return { server: typeof c?.server === 'string' ? c.server : undefined, caPem: typeof ca === 'string' ? Buffer.from(ca, 'base64').toString('utf8') : undefined };
  } catch {
    return undefined;
  }
}

/**
 * What kube-apiserver keeps in place on its own: the system namespaces, and
 * the `kubernetes` Service in default with endpoints listing every live
 * API server replica (each replica holds a KV lease for its address).
 * Also kube-public/cluster-info (kubeadm's bootstrap-token discovery, which
 * kubeadm init writes once; kubets' API server keeps it right instead, as
 * the CA comes from its own --client-ca-file).
 */
export class Bootstrapper {
  private timer: NodeJS.Timeout | undefined;
  private leaseId = 0n;
  private stopped = false;

  constructor(
    private readonly rest: RestHandler,
    private readonly kv: EtcdClient,
    private readonly lookup: (group: string, version: string, resource: string) => ResourceDef | undefined,
    private readonly self: { ip: string; port: number; serviceIp: string },
    private readonly leaseSeconds: number,
    private readonly log: Logger,
    /** The CA cluster-info publishes (--client-ca-file); unset: no cluster-info. */
    private readonly clusterCaPem?: string,
  ) {}

  private def(group: string, resource: string): ResourceDef {
    const d = this.lookup(group, 'v1', resource);
    if (!d) throw new Error(`no resource ${resource}`);
    return d;
  }

  private async ensure(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (am.isStatusError(e) && e.reason === 'AlreadyExists') return;
      throw e;
    }
  }

  async run(): Promise<void> {
    for (const ns of SYSTEM_NAMESPACES) {
      await this.ensure(() => this.rest.create({ def: this.def('', 'namespaces') }, { metadata: { name: ns } }));
    }
    const svcDef = this.def('', 'services');
    const exists = () => this.rest.get({ def: svcDef, namespace: 'default', name: 'kubernetes' }).then(() => true, () => false);
    if (!(await exists())) {
      try {
        await this.rest.create(
          { def: svcDef, namespace: 'default' },
          {
            metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
            spec: { type: 'ClusterIP', clusterIP: this.self.serviceIp, ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: this.self.port }], sessionAffinity: 'None' },
          },
        );
      } catch (e) {
        // Another replica created it (or is creating it) at the same time.
        if (!(await exists())) throw e;
      }
    }
    await this.renewLease();
    await this.reconcileEndpoints();
    await this.reconcileClusterInfo();
    this.timer = setInterval(() => {
      void (async () => {
        try {
          await this.renewLease();
          await this.reconcileEndpoints();
          await this.reconcileClusterInfo();
        } catch (e) {
          if (!this.stopped) this.log.warn({ err: (e as Error).message }, 'reconcile of the kubernetes endpoints or cluster-info failed');
        }
      })();
    }, Math.max(1000, (this.leaseSeconds * 1000) / 3));
    this.timer.unref();
  }

  private get myKey(): string {
    return `${LEASE_PREFIX}${this.self.ip}:${this.self.port}`;
  }

  private async renewLease(): Promise<void> {
    if (this.leaseId !== 0n) {
      try {
        const r = await this.kv.leaseKeepAliveOnce(this.leaseId);
        if (r.TTL > 0n) return;
      } catch {
        // fall through: grant a new lease
      }
    }
    const g = await this.kv.leaseGrant(this.leaseSeconds);
    this.leaseId = g.ID;
    await this.kv.put(this.myKey, JSON.stringify(this.self), { lease: g.ID });
  }

  /** The live replicas' addresses (their endpoint leases). */
  private async replicas(): Promise<ReplicaAddress[]> {
    const r = await this.kv.get(LEASE_PREFIX, { prefix: true });
    return r.kvs.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as ReplicaAddress);
  }

  async reconcileEndpoints(): Promise<void> {
    const addrs = (await this.replicas())
      .sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
    // Kubernetes' Endpoints have one port list per subset: group by port.
    const byPort = new Map<number, string[]>();
    for (const a of addrs) byPort.set(a.port, [...(byPort.get(a.port) ?? []), a.ip]);
    const subsets = [...byPort].map(([port, ips]) => ({ addresses: [...new Set(ips)].map((ip) => ({ ip })), ports: [{ name: 'https', port, protocol: 'TCP' }] }));
    const epDef = this.def('', 'endpoints');
    const want = { metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, subsets };
    await this.upsert(epDef, 'default', 'kubernetes', want, (cur) => JSON.stringify(cur.subsets ?? []) === JSON.stringify(subsets));
    const sliceDef = this.lookup('discovery.k8s.io', 'v1', 'endpointslices');
    if (sliceDef) {
      const first = [...byPort][0];
      const slice = {
        metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'kube-apiserver' } },
        addressType: 'IPv4',
        endpoints: [...new Set(addrs.map((a) => a.ip))].map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
        ports: first ? [{ name: 'https', port: first[0], protocol: 'TCP' }] : [],
      };
      await this.upsert(sliceDef, 'default', 'kubernetes', slice, (cur) => JSON.stringify([cur.endpoints, cur.ports]) === JSON.stringify([slice.endpoints, slice.ports]));
    }
  }

  /**
   * kube-public/cluster-info with this cluster's CA and a server URL. Any live
   * replica's URL is right: each replica would otherwise rewrite it to its
   * own address in turn. A stale one (a replica that left) or a wrong CA is
   * replaced by this replica's URL. Joining nodes use the endpoint they are
   * given for the API server anyway; they take the CA from here.
   */
  async reconcileClusterInfo(): Promise<void> {
    const caPem = this.clusterCaPem;
    if (!caPem) return;
    const own = urlOf(this.self);
    const live = new Set([own, ...(await this.replicas()).map(urlOf)]);
    const want = { metadata: { name: CLUSTER_INFO.name, namespace: CLUSTER_INFO.namespace }, data: { kubeconfig: clusterInfoKubeconfig(own, caPem) } };
    await this.upsert(this.def('', 'configmaps'), CLUSTER_INFO.namespace, CLUSTER_INFO.name, want, (cur) => {
      const have = readClusterInfo(cur.data?.kubeconfig);
      return have?.caPem === caPem && !!have.server && live.has(have.server);
    });
  }

  private async upsert(def: ResourceDef, namespace: string, name: string, want: Record<string, any>, same: (cur: Record<string, any>) => boolean): Promise<void> {
    const t = { def, namespace, name };
    try {
      const cur = await this.rest.get(t);
      if (same(cur)) return;
      await this.rest.update(t, { ...cur, ...want, metadata: { ...cur.metadata, labels: want.metadata.labels } }, { system: true });
    } catch (e) {
      if (am.isStatusError(e) && e.code === 404) {
        await this.ensure(() => this.rest.create({ def, namespace }, want, { system: true }));
        return;
      }
      if (am.isStatusError(e) && e.code === 409) return; // another replica won; next round
      throw e;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.leaseId !== 0n) {
      // Leave the endpoints at once on a clean shutdown.
      await this.kv.leaseRevoke(this.leaseId).catch(() => {});
    }
  }
}

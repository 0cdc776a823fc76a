import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Client } from './client';
import { Informer, type InformerScope } from './informer';
import { silentLogger, type Logger } from './logger';
import * as R from './resources';
import type { IndexFunc } from './store';
import type { ConfigMap, DaemonSet, Deployment, EndpointSlice, Endpoints, GroupVersionResource, KObject, Lease, Namespace, Node, Pod, ReplicaSet, Service } from './types';

export interface InformerFactoryOptions {
  client: Client;
  /**
   * The change events: a NATS connection to share (left open on shutdown),
   * or server URL(s) to connect to (the factory's own connection, closed on
   * shutdown). Absent: every informer follows the gRPC Watch stream instead.
   */
  nats?: NatsConnection | string | string[];
  /** default resync period of the informers (0: none) */
  resyncPeriodMs?: number;
  log?: Logger;
}

function isConnection(n: unknown): n is NatsConnection {
  return typeof n === 'object' && n !== null && !Array.isArray(n) && typeof (n as NatsConnection).subscribe === 'function';
}

/**
 * Shared informers (client-go's SharedInformerFactory): one informer per
 * (resource, scope), however many controllers ask for it, all on one NATS
 * connection. Ask for informers and register handlers, then `start()` and
 * `waitForCacheSync()`; informers asked for after `start()` start at once.
 */
export class InformerFactory {
  private readonly informers = new Map<string, Informer<KObject>>();
  private nc: NatsConnection | undefined;
  private ownsConnection = false;
  private started = false;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly o: InformerFactoryOptions) {
    this.log = o.log ?? o.client.log ?? silentLogger;
    if (isConnection(o.nats)) this.nc = o.nats;
  }

  /** The shared NATS connection (once started, when the factory uses NATS). */
  get natsConnection(): NatsConnection | undefined {
    return this.nc;
  }

  /**
   * The shared informer of a resource and scope, created on first use.
   * `indexers` are added to it; an index name already defined (by an earlier
   * caller) keeps its first definition.
   */
  informer<T extends KObject = KObject>(resource: GroupVersionResource, scope: InformerScope & { indexers?: Record<string, IndexFunc<T>> } = {}): Informer<T> {
    const key = JSON.stringify([resource.group, resource.version, resource.resource, scope.namespace ?? '', scope.node ?? null, scope.labelSelector ?? '', scope.fieldSelector ?? '']);
    let inf = this.informers.get(key) as Informer<T> | undefined;
    if (!inf) {
      inf = new Informer<T>({
        client: this.o.client,
        resource,
        namespace: scope.namespace,
        node: scope.node,
        labelSelector: scope.labelSelector,
        fieldSelector: scope.fieldSelector,
        nats: () => this.nc,
        resyncPeriodMs: this.o.resyncPeriodMs,
        log: this.log,
      });
      this.informers.set(key, inf as unknown as Informer<KObject>);
      if (this.started && !this.stopped) inf.start();
    }
    if (scope.indexers) {
      // Shared informer: the first controller to name an index defines it.
      const fresh = Object.entries(scope.indexers).filter(([name]) => !inf!.store.hasIndex(name));
      if (fresh.length > 0) inf.addIndexers(Object.fromEntries(fresh));
    }
    return inf;
  }

  pods(namespace?: string): Informer<Pod> {
    return this.informer<Pod>(R.PODS, { namespace });
  }
  /** The pods bound to one node (the node's own NATS subject). */
  podsOnNode(node: string): Informer<Pod> {
    return this.informer<Pod>(R.PODS, { node });
  }
  nodes(): Informer<Node> {
    return this.informer<Node>(R.NODES);
  }
  services(namespace?: string): Informer<Service> {
    return this.informer<Service>(R.SERVICES, { namespace });
  }
  endpoints(namespace?: string): Informer<Endpoints> {
    return this.informer<Endpoints>(R.ENDPOINTS, { namespace });
  }
  endpointSlices(namespace?: string): Informer<EndpointSlice> {
    return this.informer<EndpointSlice>(R.ENDPOINT_SLICES, { namespace });
  }
  deployments(namespace?: string): Informer<Deployment> {
    return this.informer<Deployment>(R.DEPLOYMENTS, { namespace });
  }
  replicaSets(namespace?: string): Informer<ReplicaSet> {
    return this.informer<ReplicaSet>(R.REPLICA_SETS, { namespace });
  }
  daemonSets(namespace?: string): Informer<DaemonSet> {
    return this.informer<DaemonSet>(R.DAEMON_SETS, { namespace });
  }
  leases(namespace?: string): Informer<Lease> {
    return this.informer<Lease>(R.LEASES, { namespace });
  }
  namespaces(): Informer<Namespace> {
    return this.informer<Namespace>(R.NAMESPACES);
  }
  configMaps(namespace?: string): Informer<ConfigMap> {
    return this.informer<ConfigMap>(R.CONFIG_MAPS, { namespace });
  }

  /** Every informer created so far. */
  all(): Informer<KObject>[] {
    return [...this.informers.values()];
  }

  /** Connects to NATS (when given URLs) and starts every informer; later informers start when created. */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    if (this.o.nats !== undefined && !this.nc) {
      // "nats://a:4222,nats://b:4222" (a --nats-url flag) is several servers; nats.js would take it as one URL.
      const given = this.o.nats as string | string[];
      const servers = typeof given === 'string' ? given.split(',').map((u) => u.trim()).filter(Boolean) : given;
      // A server that is down costs the connect timeout (nats.js: 20 s) before the next one is tried.
      this.nc = await connect({ servers, timeout: 3_000, reconnectTimeWait: 250, maxReconnectAttempts: -1, waitOnFirstConnect: true, pingInterval: 5_000, name: `${this.o.client.component}-informers` });
      this.ownsConnection = true;
      this.log.info({ servers }, 'informer factory connected to NATS');
    }
    this.started = true;
    if (this.stopped) return;
    for (const inf of this.informers.values()) inf.start();
  }

  /** Resolves when every informer created so far has synced. */
  async waitForCacheSync(timeoutMs?: number): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(timeoutMs)));
  }

  /** Stops every informer (and closes the NATS connection if the factory opened it). */
  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const inf of this.informers.values()) inf.stop();
    if (this.ownsConnection && this.nc) await this.nc.close().catch(() => {});
  }
}

// Registration of the garbage collector, namespace and node lifecycle
// controllers on the shared informer factory (called from ../main.ts).
import {
  CONFIG_MAPS,
  DAEMON_SETS,
  DEPLOYMENTS,
  ENDPOINTS,
  ENDPOINT_SLICES,
  PODS,
  REPLICA_SETS,
  SECRETS,
  SERVICES,
  SERVICE_ACCOUNTS,
  type Client,
  type InformerFactory,
  type Logger,
  type WorkQueueMetrics,
} from '@kubets/client';
import { GarbageCollectorController } from './gc-controller';
import { NamespaceController } from './namespace-controller';
import { NodeIpamController } from './nodeipam-controller';
import { NODE_LEASE_NAMESPACE, NodeLifecycleController } from './nodelifecycle-controller';
import type { QueueController } from './queue-controller';

export const LIFECYCLE_CONTROLLERS = ['garbagecollector', 'namespace', 'nodelifecycle', 'nodeipam'] as const;

/** The resources whose ownerReferences the garbage collector follows. */
export const GC_MONITORED_RESOURCES = [PODS, REPLICA_SETS, DEPLOYMENTS, DAEMON_SETS, SERVICES, ENDPOINTS, ENDPOINT_SLICES, CONFIG_MAPS, SECRETS, SERVICE_ACCOUNTS] as const;

export interface LifecycleConfig {
  concurrentGcSyncs: number;
  concurrentNamespaceSyncs: number;
  nodeMonitorPeriod: number;
  nodeMonitorGracePeriod: number;
  allocateNodeCidrs: boolean;
  clusterCidr?: string;
  nodeCidrMaskSize: number;
}

export function lifecycleControllers(enabled: Set<string>, factory: InformerFactory, client: Client, cfg: LifecycleConfig, log: Logger & { child(bindings: Record<string, unknown>): Logger }, metrics?: WorkQueueMetrics): QueueController[] {
  const out: QueueController[] = [];
  if (enabled.has('garbagecollector')) {
    const resources = GC_MONITORED_RESOURCES.map((info) => ({ info, informer: factory.informer(info) }));
    out.push(new GarbageCollectorController({ client, resources, workers: cfg.concurrentGcSyncs, log: log.child({ controller: 'garbagecollector' }), metrics }));
  }
  if (enabled.has('namespace')) {
    out.push(new NamespaceController({ client, namespaces: factory.namespaces(), workers: cfg.concurrentNamespaceSyncs, log: log.child({ controller: 'namespace' }), metrics }));
  }
  if (enabled.has('nodelifecycle')) {
    out.push(
      new NodeLifecycleController({
        client,
        nodes: factory.nodes(),
        leases: factory.leases(NODE_LEASE_NAMESPACE),
        pods: factory.pods(),
        recorder: client.eventRecorder('node-controller'),
        monitorPeriodMs: cfg.nodeMonitorPeriod,
        gracePeriodMs: cfg.nodeMonitorGracePeriod,
        log: log.child({ controller: 'nodelifecycle' }),
        metrics,
      }),
    );
  }
  if (enabled.has('nodeipam')) {
    // As in kube: the controller runs only with --allocate-node-cidrs, and then needs --cluster-cidr.
    if (cfg.allocateNodeCidrs) {
      if (!cfg.clusterCidr) throw new Error('--allocate-node-cidrs needs --cluster-cidr');
      out.push(
        new NodeIpamController({
          client,
          nodes: factory.nodes(),
          clusterCidr: cfg.clusterCidr,
          nodeCidrMaskSize: cfg.nodeCidrMaskSize,
          recorder: client.eventRecorder('node-controller'),
          log: log.child({ controller: 'nodeipam' }),
          metrics,
        }),
      );
    } else {
      log.info({ controller: 'nodeipam' }, 'not running the nodeipam controller: --allocate-node-cidrs is off');
    }
  }
  return out;
}

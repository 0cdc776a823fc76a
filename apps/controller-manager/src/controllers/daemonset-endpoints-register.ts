// Registration of the DaemonSet, Endpoints and EndpointSlice controllers on
// the shared informer factory (called from ../main.ts).
import type { Client, InformerFactory, Logger, WorkQueueMetrics } from '@kubets/client';
import { DaemonSetController } from './daemonset-controller';
import { EndpointController, EndpointSliceController } from './endpoint-controller';
import type { QueueController } from './queue-controller';

export const DAEMONSET_ENDPOINT_CONTROLLERS = ['daemonset', 'endpoint', 'endpointslice'] as const;

export interface DaemonSetEndpointsConfig {
  concurrentDaemonsetSyncs: number;
  concurrentEndpointSyncs: number;
  concurrentServiceEndpointSyncs: number;
}

export function daemonSetEndpointsControllers(
  enabled: Set<string>,
  factory: InformerFactory,
  client: Client,
  cfg: DaemonSetEndpointsConfig,
  log: Logger & { child(bindings: Record<string, unknown>): Logger },
  metrics?: WorkQueueMetrics,
): QueueController[] {
  const out: QueueController[] = [];
  if (enabled.has('daemonset')) {
    out.push(
      new DaemonSetController({
        client,
        pods: factory.pods(),
        nodes: factory.nodes(),
        daemonSets: factory.daemonSets(),
        recorder: client.eventRecorder('daemonset-controller'),
        workers: cfg.concurrentDaemonsetSyncs,
        log: log.child({ controller: 'daemonset' }),
        metrics,
      }),
    );
  }
  if (enabled.has('endpoint')) {
    out.push(new EndpointController({ client, services: factory.services(), pods: factory.pods(), endpoints: factory.endpoints(), workers: cfg.concurrentEndpointSyncs, log: log.child({ controller: 'endpoint' }), metrics }));
  }
  if (enabled.has('endpointslice')) {
    out.push(
      new EndpointSliceController({ client, services: factory.services(), pods: factory.pods(), endpointSlices: factory.endpointSlices(), workers: cfg.concurrentServiceEndpointSyncs, log: log.child({ controller: 'endpointslice' }), metrics }),
    );
  }
  return out;
}

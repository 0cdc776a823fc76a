#!/usr/bin/env node
// kubets-controller-manager: kube-controller-manager's counterpart. Shared
// informers (pods, ReplicaSets, Deployments) over the API server's gRPC API
// and change events on NATS; one actor per controller (./controllers/actor.ts)
// running while this replica holds the kube-system/kube-controller-manager
// Lease.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Client, InformerFactory, LeaderElector, prometheusWorkQueueMetrics } from '@kubets/client';
import { Service } from '@kubets/service-kit';
import { controllerActor } from './controllers/actor';
import { DeploymentController } from './controllers/deployment-controller';
import type { QueueController } from './controllers/queue-controller';
import { ReplicaSetController } from './controllers/replicaset-controller';
// Garbage collector, namespace and node lifecycle controllers.
import { LIFECYCLE_CONTROLLERS, lifecycleControllers } from './controllers/gc-lifecycle-register';
// DaemonSet, Endpoints and EndpointSlice controllers.
import { DAEMONSET_ENDPOINT_CONTROLLERS, daemonSetEndpointsControllers } from './controllers/daemonset-endpoints-register';
import { CONTROLLER_MANAGER_FLAGS, KNOWN_CONTROLLERS } from './flags';

const VERSION = '0.1.0';
/** The controllers this version implements. */
export const IMPLEMENTED_CONTROLLERS = ['replicaset', 'deployment', ...LIFECYCLE_CONTROLLERS, ...DAEMONSET_ENDPOINT_CONTROLLERS] as const;

/** kube's --controllers: '*' turns on every default controller, 'foo' one, '-foo' disables one. */
export function enabledControllers(list: readonly string[]): Set<string> {
  const on = new Set<string>();
  const star = list.includes('*');
  for (const c of KNOWN_CONTROLLERS) if (star) on.add(c);
  for (const item of list) {
    if (item === '*') continue;
    const name = item.startsWith('-') ? item.slice(1) : item;
    if (!(KNOWN_CONTROLLERS as readonly string[]).includes(name)) throw new Error(`--controllers: unknown controller "${name}"`);
    if (item.startsWith('-')) on.delete(name);
    else on.add(name);
  }
  return on;
}

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-controller-manager',
    summary: "kubets-controller-manager: the Deployment, ReplicaSet and other controllers (kube-controller-manager's counterpart).",
    version: VERSION,
    flags: CONTROLLER_MANAGER_FLAGS,
    envPrefix: 'KUBETS_CONTROLLER_MANAGER',
  });
  const cfg = svc.config;
  const log = svc.log;
  if (!cfg.kubeconfig) throw new Error('--kubeconfig is required');
  const enabled = enabledControllers(cfg.controllers);
  const skipped = [...enabled].filter((c) => !(IMPLEMENTED_CONTROLLERS as readonly string[]).includes(c));
  if (skipped.length > 0) log.warn({ controllers: skipped }, 'controllers not implemented yet: skipped');
  svc.handleSignals();
  const client = await Client.fromKubeconfig(cfg.kubeconfig, { grpcAddress: cfg.grpcAddress, component: 'kube-controller-manager', log });
  const actors = await svc.connectNats(cfg.natsUrl);
  const factory = new InformerFactory({ client, nats: cfg.natsUrl, log });
  svc.onShutdown('informers', () => factory.shutdown());
  const metrics = prometheusWorkQueueMetrics(svc.registry);

  const controllers: QueueController[] = [];
  const pods = factory.pods();
  const replicaSets = factory.replicaSets();
  if (enabled.has('replicaset')) {
    controllers.push(
      new ReplicaSetController({ client, pods, replicaSets, recorder: client.eventRecorder('replicaset-controller'), workers: cfg.concurrentReplicasetSyncs, log: log.child({ controller: 'replicaset' }), metrics }),
    );
  }
  if (enabled.has('deployment')) {
    const deployments = factory.deployments();
    controllers.push(
      new DeploymentController({
        client,
        pods,
        replicaSets,
        deployments,
        recorder: client.eventRecorder('deployment-controller'),
        workers: cfg.concurrentDeploymentSyncs,
        log: log.child({ controller: 'deployment' }),
        metrics,
      }),
    );
  }

  // Garbage collector, namespace and node lifecycle controllers.
  controllers.push(...lifecycleControllers(enabled, factory, client, cfg, log, metrics));

  // DaemonSet, Endpoints and EndpointSlice controllers.
  controllers.push(...daemonSetEndpointsControllers(enabled, factory, client, cfg, log, metrics));

  const runControllers = async (signal?: AbortSignal): Promise<void> => {
    await factory.start();
    await factory.waitForCacheSync();
    if (signal?.aborted) return;
    for (const c of controllers) await actors.spawn(controllerActor(c));
    log.info({ controllers: controllers.map((c) => c.name) }, 'controllers running');
    process.stderr.write(`kubets-controller-manager: controllers running: ${controllers.map((c) => c.name).join(', ')}\n`);
    if (!signal) return;
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await Promise.all(controllers.map((c) => actors.stopActor(c.name).catch(() => {})));
  };

  const port = await svc.serveHttp(`${cfg.bindAddress.includes(':') ? `[${cfg.bindAddress}]` : cfg.bindAddress}:${cfg.securePort}`);
  log.info({ port }, 'serving /healthz, /readyz and /metrics');
  svc.markReady();

  if (cfg.leaderElect) {
    const identity = `${hostname()}_${randomUUID()}`;
    const elector = new LeaderElector({
      client,
      namespace: cfg.leaderElectResourceNamespace,
      name: cfg.leaderElectResourceName,
      identity,
      leaseDurationMs: cfg.leaderElectLeaseDuration,
      renewDeadlineMs: cfg.leaderElectRenewDeadline,
      retryPeriodMs: cfg.leaderElectRetryPeriod,
      log,
      onStartedLeading: (signal) => {
        log.info({ identity }, 'became leader');
        return runControllers(signal).catch((e: unknown) => {
          log.error({ err: (e as Error)?.message }, 'starting the controllers failed');
          void svc.shutdown('controllers failed to start', 1);
        });
      },
      onStoppedLeading: () => {
        if (svc.shuttingDown) return;
        // kube-controller-manager exits when it loses the lease; its supervisor restarts it as a standby.
        log.error({ identity }, 'leaderelection lost');
        void svc.shutdown('leader election lost', 1);
      },
      onNewLeader: (id) => {
        if (id !== identity) log.info({ leader: id }, 'new leader elected');
      },
    });
    elector.start();
    svc.onShutdown('leader election', () => elector.stop());
    process.stderr.write(`kubets-controller-manager: waiting for the ${cfg.leaderElectResourceNamespace}/${cfg.leaderElectResourceName} lease (identity ${identity})\n`);
  } else {
    await runControllers();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`kubets-controller-manager: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});

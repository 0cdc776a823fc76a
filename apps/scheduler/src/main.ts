#!/usr/bin/env node
// kubets-scheduler: binds pending pods to nodes (kube-scheduler's framework and
// default plugins). Informers (list over gRPC, then change events on NATS)
// keep the scheduler cache and queue current; only the leader of the Lease
// kube-system/kube-scheduler runs the scheduling loop. Losing leadership ends
// the process with exit code 0, as kube-scheduler does.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Client, InformerFactory, LeaderElector } from '@kubets/client';
import { Service } from '@kubets/service-kit';
import { DEFAULT_SCHEDULER_NAME } from './framework/api-types';
import { ClusterScheduler } from './scheduler';

export const SCHEDULER_FLAGS = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig file with the authorization and API server location' },
  'grpc-address': { type: 'string', description: "host:port of the API server's internal gRPC API (default: the kubeconfig server's host, port 6444)" },
  'nats-url': { type: 'string', description: 'NATS server URL(s) carrying the API server change events (without it, informers follow the gRPC Watch stream)' },
  'scheduler-name': { type: 'string', default: DEFAULT_SCHEDULER_NAME, description: 'Schedule the pods whose spec.schedulerName is this' },
  'leader-elect': {
    type: 'boolean',
    default: true,
    description: 'Start a leader election client and gain leadership before executing the main loop (for running replicated schedulers)',
  },
  'leader-elect-lease-duration': {
    type: 'duration',
    default: '15s',
    description: 'How long non-leader candidates wait after observing a renewal before trying to acquire leadership',
  },
  'leader-elect-renew-deadline': {
    type: 'duration',
    default: '10s',
    description: 'How long the leader keeps trying to renew its lease before it stops leading; must be less than the lease duration',
  },
  'leader-elect-retry-period': {
    type: 'duration',
    default: '2s',
    description: 'How long clients wait between attempts to acquire and renew leadership',
  },
  'leader-elect-resource-name': { type: 'string', default: 'kube-scheduler', description: 'Name of the Lease object used for leader election' },
  'leader-elect-resource-namespace': { type: 'string', default: 'kube-system', description: 'Namespace of the Lease object used for leader election' },
  'bind-address': { type: 'string', default: '0.0.0.0', description: 'Address to serve /healthz, /readyz, /livez and /metrics on' },
  'secure-port': { type: 'number', integer: true, min: 0, max: 65535, default: 10259, description: 'Port to serve /healthz, /readyz, /livez and /metrics on (0: pick one)' },
} as const;

export interface MainOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  exit?: (code: number) => void;
  out?: { write(text: string): unknown };
  err?: { write(text: string): unknown };
  logDestination?: Parameters<typeof Service.create>[0]['logDestination'];
}

/** Parses the flags (kube-scheduler's names). Returns the Service, or an exit code for bad flags. */
export function configure(opts: MainOptions = {}): ReturnType<typeof createService> | number {
  const err = opts.err ?? process.stderr;
  const svc = createService(opts);
  const cfg = svc.config;
  if (cfg.leaderElect && cfg.leaderElectRenewDeadline >= cfg.leaderElectLeaseDuration) {
    err.write('Error: --leader-elect-renew-deadline must be less than --leader-elect-lease-duration\n');
    return 2;
  }
  if (cfg.leaderElect && cfg.leaderElectRetryPeriod >= cfg.leaderElectRenewDeadline) {
    err.write('Error: --leader-elect-retry-period must be less than --leader-elect-renew-deadline\n');
    return 2;
  }
  if (!cfg.kubeconfig) {
    err.write('Error: --kubeconfig is required\n');
    return 2;
  }
  return svc;
}

function createService(opts: MainOptions) {
  return Service.create({
    name: 'kubets-scheduler',
    summary: "kubets-scheduler: binds pending pods to nodes (kube-scheduler's framework and default plugins).",
    version: '0.1.0',
    flags: SCHEDULER_FLAGS,
    envPrefix: 'KUBETS_SCHEDULER',
    argv: opts.argv,
    env: opts.env,
    exit: opts.exit,
    out: opts.out,
    err: opts.err,
    logDestination: opts.logDestination,
  });
}

/** Runs the scheduler until a signal (or lost leadership). Resolves with a non-zero code for bad flags. */
export async function main(opts: MainOptions = {}): Promise<number> {
  const svc = configure(opts);
  if (typeof svc === 'number') return svc;
  const cfg = svc.config;
  const log = svc.log;
  svc.handleSignals();
  const client = await Client.fromKubeconfig(cfg.kubeconfig!, { grpcAddress: cfg.grpcAddress, component: DEFAULT_SCHEDULER_NAME, log });
  const factory = new InformerFactory({ client, nats: cfg.natsUrl, log });
  const scheduler = new ClusterScheduler({ client, factory, schedulerName: cfg.schedulerName, log: log.child({ actor: 'scheduler' }) });
  scheduler.register();
  svc.onShutdown('informers', () => factory.shutdown());
  svc.onShutdown('scheduling loop', () => scheduler.stop());
  await svc.serveHttp(`${cfg.bindAddress}:${cfg.securePort}`);
  await factory.start();
  await factory.waitForCacheSync(60_000);
  svc.markReady();

  if (!cfg.leaderElect) {
    log.info({}, 'kubets-scheduler: scheduling (leader election disabled)');
    void scheduler.run();
    return 0;
  }
  const identity = `${hostname()}_${randomBytes(8).toString('hex')}`;
  const elector = new LeaderElector({
    client,
    namespace: cfg.leaderElectResourceNamespace,
    name: cfg.leaderElectResourceName,
    identity,
    leaseDurationMs: cfg.leaderElectLeaseDuration,
    renewDeadlineMs: cfg.leaderElectRenewDeadline,
    retryPeriodMs: cfg.leaderElectRetryPeriod,
    log,
    onStartedLeading: async (signal) => {
      log.info({ identity }, `kubets-scheduler: leading as ${identity}, scheduling`);
      signal.addEventListener('abort', () => void scheduler.stop());
      await scheduler.run();
    },
    onStoppedLeading: () => {
      if (svc.shuttingDown) return;
      log.info({ identity }, 'kubets-scheduler: leaderelection lost');
      void svc.shutdown('leaderelection lost', 0);
    },
    onNewLeader: (leader) => {
      if (leader !== identity) log.info({ leader }, 'new leader elected');
    },
  });
  svc.onShutdown('leader election', () => elector.stop({ release: true }));
  log.info({ identity, lease: `${cfg.leaderElectResourceNamespace}/${cfg.leaderElectResourceName}` }, `kubets-scheduler: ready, waiting for the leader lease as ${identity}`);
  elector.start();
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      if (code !== 0) process.exit(code);
    },
    (e) => {
      // Before (or without) a logger: the reason on stderr, as a CLI would.
      process.stderr.write(`kubets-scheduler: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}

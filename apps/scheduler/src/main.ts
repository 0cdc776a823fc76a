#!/usr/bin/env node
// kubets-scheduler: binds pending pods to nodes. The scheduling core
// (framework, plugins, queue) is in place; the wiring to the cluster
// (informers, pods/binding, FailedScheduling events, leader election through
// @kubets/client) is not yet, so this parses kube-scheduler's flags and exits.
import { Service } from '@kubets/service-kit';

export const SCHEDULER_FLAGS = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig file with the authorization and API server location' },
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
  'secure-port': { type: 'number', integer: true, min: 0, max: 65535, default: 10259, description: 'Port to serve /healthz, /readyz, /livez and /metrics on' },
} as const;

export const NOT_WIRED_MESSAGE =
  'kubets-scheduler: not wired to the cluster yet: the scheduling core (queue, filter and score plugins) is built, ' +
  'but watching pods and nodes, binding and leader election wait for @kubets/client.';

export interface MainOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  exit?: (code: number) => void;
  out?: { write(text: string): unknown };
  err?: { write(text: string): unknown };
  logDestination?: Parameters<typeof Service.create>[0]['logDestination'];
}

/** Parses the flags (kube-scheduler's names) and reports that the scheduler cannot run yet. Returns the exit code. */
export function main(opts: MainOptions = {}): number {
  const err = opts.err ?? process.stderr;
  const svc = Service.create({
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
  const cfg = svc.config;
  if (cfg.leaderElect && cfg.leaderElectRenewDeadline >= cfg.leaderElectLeaseDuration) {
    err.write('Error: --leader-elect-renew-deadline must be less than --leader-elect-lease-duration\n');
    return 2;
  }
  svc.log.error({ kubeconfig: cfg.kubeconfig, securePort: cfg.securePort }, NOT_WIRED_MESSAGE);
  err.write(`${NOT_WIRED_MESSAGE}\n`);
  return 1;
}

if (require.main === module) process.exitCode = main();

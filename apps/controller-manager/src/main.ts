#!/usr/bin/env node
// kubets-controller-manager: a placeholder until libs/client (typed client,
// informers, work queue, leader election) exists. It parses
// kube-controller-manager's flags (so --help documents them) and exits: the
// controllers' reconcile logic lives in ./replicaset and ./deployment.
import { Service } from '@kubets/service-kit';
import { CONTROLLER_MANAGER_FLAGS } from './flags';

const VERSION = '0.1.0';

function main(): void {
  const svc = Service.create({
    name: 'kubets-controller-manager',
    summary: "kubets-controller-manager: the Deployment, ReplicaSet and other controllers (kube-controller-manager's counterpart).",
    version: VERSION,
    flags: CONTROLLER_MANAGER_FLAGS,
    envPrefix: 'KUBETS_CONTROLLER_MANAGER',
  });
  const msg = 'kubets-controller-manager: not wired to the cluster yet (the controllers need libs/client: informers, work queues, leader election)';
  svc.log.fatal(msg);
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

main();

// @kubets/scheduler: kube-scheduler's scheduling core in TypeScript. The
// algorithm works on a Snapshot of nodes and pods; ClusterScheduler
// (scheduler.ts) wires it to the API server (informers, binding, events) and
// main.ts adds leader election.
export * from './framework/api-types';
export * from './framework/quantity';
export * from './framework/resources';
export * from './framework/types';
export * from './framework/helpers';
export * from './framework/fit-error';
export * from './framework/framework';
export * from './framework/parallelize';
export * from './framework/rng';
export * from './framework/scheduler-core';
export * from './framework/plugins/names';
export * from './framework/plugins/node-unschedulable';
export * from './framework/plugins/node-name';
export * from './framework/plugins/node-affinity';
export * from './framework/plugins/taint-toleration';
export * from './framework/plugins/node-resources-fit';
export * from './framework/plugins/balanced-allocation';
export * from './framework/plugins/pod-topology-spread';
export * from './framework/plugins/default-preemption';
export * from './queue/heap';
export * from './queue/events';
export * from './queue/scheduling-queue';
export * from './scheduler';

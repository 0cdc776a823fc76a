// @kubets/controller-manager: the controllers' reconcile logic over
// Kubernetes JSON objects (pure planning) and the executors that carry the
// plans out against an API.
export * from './util/k8s';
export * from './util/hash';
export * from './util/expectations';
export * from './util/controller-ref';
export * from './replicaset/reconcile';
export * from './replicaset/ranking';
export * from './replicaset/execute';
export * from './replicaset/events';
export * from './deployment/util';
export * from './deployment/reconcile';
export * from './deployment/execute';
export { CONTROLLER_MANAGER_FLAGS, KNOWN_CONTROLLERS } from './flags';
// The wiring to the cluster (informers, work queues, actors).
export * from './controllers/queue-controller';
export * from './controllers/replicaset-controller';
export * from './controllers/deployment-controller';
export * from './controllers/actor';
// Garbage collector, namespace and node lifecycle controllers.
export * from './nodelifecycle/taints';
export * from './controllers/gc-controller';
export * from './controllers/namespace-controller';
export * from './controllers/nodelifecycle-controller';
export * from './controllers/gc-lifecycle-register';
// DaemonSet, Endpoints and EndpointSlice controllers.
export * from './daemonset/daemonset';
export * from './endpoints/endpoints';
export * from './controllers/daemonset-controller';
export * from './controllers/endpoint-controller';
export * from './controllers/daemonset-endpoints-register';

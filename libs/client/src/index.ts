export { Client, ResourceClient, DEFAULT_GRPC_PORT } from './client';
export type {
  ConnectOptions,
  KubeconfigClientOptions,
  ListOptions,
  ListResult,
  WatchOptions,
  WatchEvent,
  WriteOptions,
  PatchType,
  DeleteOptions,
  DeleteResult,
} from './client';
export { toStatusError, grpcCodeOf, isRetryable, STATUS_TRAILER } from './errors';
export { EventRecorder, objectReference } from './events';
export type { EventType, EventSource } from './events';
export { parseKubeconfig, loadKubeconfig } from './kubeconfig';
export type { KubeconfigCredentials } from './kubeconfig';
export { silentLogger } from './logger';
export type { Logger } from './logger';
export * from './resources';
export { Store, NAMESPACE_INDEX, LABEL_INDEX, NODE_INDEX, namespaceIndexFunc, labelIndexFunc, nodeIndexFunc } from './store';
export type { IndexFunc, StoreQuery, SelectorQuery } from './store';
export { Informer } from './informer';
export type { EventHandler, InformerOptions, InformerScope, InformerStats } from './informer';
export { InformerFactory } from './factory';
export type { InformerFactoryOptions } from './factory';
export {
  WorkQueue,
  ItemExponentialFailureRateLimiter,
  BucketRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
  prometheusWorkQueueMetrics,
} from './workqueue';
export type { RateLimiter, WorkQueueMetrics, WorkQueueOptions, RunOptions } from './workqueue';
export { LeaderElector, JITTER_FACTOR } from './leader-election';
export type { LeaderElectorOptions, LeaderCallbacks, LeaseLock } from './leader-election';
export { objectKey, splitKey, controllerOf } from './types';
export type * from './types';
// Status errors, as the client raises them.
export { StatusError, isStatusError, isNotFound, isConflict, isAlreadyExists, isInvalid, isExpired, isBadRequest, isForbidden } from '@kubets/api-machinery';

export { waitFor, eventually, waitForEvent, deferred } from './wait';
export type { WaitOptions } from './wait';
export {
  ManagedProcess,
  spawnProcess,
  freePort,
  waitForPort,
  findExecutable,
  requireExecutable,
  builtApp,
  TEST_LOG_DIR,
} from './process';
export type { SpawnOptions } from './process';
export { NatsServer, startNatsServer } from './nats';
export type { NatsServerOptions } from './nats';
export { seededRandom, testSeed, withSeed } from './seed';
export { listServices, fileContainingSymbol, describeService, healthCheck } from './grpc';
export type { ReflectionVersion, HealthStatus, FileDescriptorProto } from './grpc';
export { KvCluster } from './kv-cluster';
export { TcpProxy } from './tcp-proxy';
export { ControlPlane, runKubectl } from './control-plane';
export type { InitSummary, KubectlResult, ApiServerProc, EnvOptions as ControlPlaneOptions } from './control-plane';
export type { KvMember, KvClusterOptions, EtcdctlResult } from './kv-cluster';
export { RealEtcd, RealEtcdCluster } from './real-etcd';
export { Containerd, TEST_IMAGES, testImageRef, ensureTestImages, reapStaleContainerds, mountsUnder, processesMatching, type ContainerdOptions, type TestImageName, type ExecResult as ContainerdExecResult } from './containerd';
// DockerCluster is '@kubets/testkit/docker-cluster': it loads testcontainers (about 1 s), which no other test should pay for.

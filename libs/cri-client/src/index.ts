// @kubets/cri-client: a promise-based client of the Container Runtime
// Interface (k8s.io/cri-api runtime.v1), as kubets-kubelet uses it to drive
// containerd over its unix socket.
export { CriClient, CriError, isCriError, grpcTarget } from './client';
export type { CallOptions, CriClientOptions, DeepPartial } from './client';
export { parseCriLogLine, parseCriLog } from './logs';
export type { CriLogLine } from './logs';
// The CRI messages and enums (ContainerState, PodSandboxState, NamespaceMode, ...).
export * from '@kubets/proto/cri/runtime/v1/api';

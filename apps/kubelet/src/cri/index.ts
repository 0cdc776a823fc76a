// The real kubelet's pod side (containerd over CRI). For the kubelet's HTTPS
// server (logs, exec): CriKubelet implements ContainerLocator, which maps a
// pod's namespace/name and container to its CRI container id and log file.
export { CriKubelet, KubeletProtocol, kubeletSubject } from './kubelet';
export type { ContainerLocation, ContainerLocator, CriKubeletOptions } from './kubelet';
export { PodWorker, pullPolicy } from './pod-worker';
export type { PodWorkerConfig } from './pod-worker';
export * as criLabels from './labels';

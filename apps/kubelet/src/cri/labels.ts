// The labels and annotations the real kubelet (kuberuntime) puts on CRI
// sandboxes and containers; restart safety reads them back.
export const POD_NAME = 'io.kubernetes.pod.name';
export const POD_NAMESPACE = 'io.kubernetes.pod.namespace';
export const POD_UID = 'io.kubernetes.pod.uid';
export const CONTAINER_NAME = 'io.kubernetes.container.name';
export const CONTAINER_TYPE = 'io.kubernetes.container.type'; // kubets: "init" or "regular"
export const KUBELET_MANAGED = 'io.kubets.kubelet.managed';
export const RESTART_COUNT = 'io.kubernetes.container.restartCount';
export const CONTAINER_HASH = 'io.kubernetes.container.hash';
export const TERMINATION_GRACE = 'io.kubernetes.pod.terminationGracePeriod';
export const TERMINATION_MESSAGE_PATH = 'io.kubernetes.container.terminationMessagePath';

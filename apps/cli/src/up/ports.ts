// The local cluster's ports: the defaults (the components' standard ports) or
// 16 consecutive ones from --port-base.

export interface Ports {
  nats: number;
  kvClient: [number, number, number];
  kvPeer: [number, number, number];
  kvMetrics: [number, number, number];
  apiserver: number;
  grpc: number;
  scheduler: number;
  controllerManager: number;
  kubelet: number;
  /** /readyz of the hollow kubelet next to the real node. */
  hollowKubelet: number;
}

export const DEFAULT_PORTS: Ports = {
  nats: 4222,
  kvClient: [2379, 22379, 32379],
  kvPeer: [12380, 22380, 32380],
  kvMetrics: [12381, 22381, 32381],
  apiserver: 6443,
  grpc: 6444,
  scheduler: 10259,
  controllerManager: 10257,
  kubelet: 10248,
  // The kubelet's deprecated read-only port: free on kubets nodes.
  hollowKubelet: 10255,
};

/** How many consecutive ports --port-base takes. */
export const PORT_COUNT = 16;

export function portsFrom(base: number | undefined): Ports {
  if (base === undefined) return DEFAULT_PORTS;
  const b = (i: number) => base + i;
  return {
    nats: b(0),
    kvClient: [b(1), b(2), b(3)],
    kvPeer: [b(4), b(5), b(6)],
    kvMetrics: [b(7), b(8), b(9)],
    apiserver: b(10),
    grpc: b(11),
    scheduler: b(12),
    controllerManager: b(13),
    kubelet: b(14),
    hollowKubelet: b(15),
  };
}

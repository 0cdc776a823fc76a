// kube-controller-manager's flags (the subset kubets implements or will),
// plus the NATS URL every kubets component takes.
import type { FlagSpecs } from '@kubets/service-kit';

/** Controllers this binary runs (kube's names); `--controllers` selects among them. */
export const KNOWN_CONTROLLERS = ['deployment', 'replicaset', 'daemonset', 'endpoint', 'endpointslice', 'nodelifecycle', 'garbagecollector', 'namespace', 'nodeipam'] as const;

export const CONTROLLER_MANAGER_FLAGS = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig file with the API server address and credentials' },
  'grpc-address': { type: 'string', description: "host:port of the API server's internal gRPC API (default: the kubeconfig server's host, port 6444)" },
  'nats-url': { type: 'string', default: 'nats://127.0.0.1:4222', description: 'NATS server URL (change events and actors)' },
  controllers: {
    type: 'list',
    default: ['*'],
    description: `Controllers to enable: '*' for all, 'foo' to enable foo, '-foo' to disable foo. All: ${KNOWN_CONTROLLERS.join(', ')}`,
  },
  'leader-elect': { type: 'boolean', default: true, description: 'Take a coordination.k8s.io Lease before running the controllers (for replicated controller managers)' },
  'leader-elect-lease-duration': { type: 'duration', default: '15s', description: 'How long a standby waits after the last renewal before taking over' },
  'leader-elect-renew-deadline': { type: 'duration', default: '10s', description: 'How long the leader keeps trying to renew before giving up leadership' },
  'leader-elect-retry-period': { type: 'duration', default: '2s', description: 'Interval between attempts to acquire or renew the lease' },
  'leader-elect-resource-name': { type: 'string', default: 'kube-controller-manager', description: 'Name of the Lease object used for leader election' },
  'leader-elect-resource-namespace': { type: 'string', default: 'kube-system', description: 'Namespace of the Lease object used for leader election' },
  'concurrent-deployment-syncs': { type: 'number', integer: true, min: 1, default: 5, description: 'Deployments synced concurrently' },
  'concurrent-replicaset-syncs': { type: 'number', integer: true, min: 1, default: 5, description: 'ReplicaSets synced concurrently' },
  'concurrent-daemonset-syncs': { type: 'number', integer: true, min: 1, default: 2, description: 'DaemonSets synced concurrently' },
  'concurrent-endpoint-syncs': { type: 'number', integer: true, min: 1, default: 5, description: 'Endpoints synced concurrently' },
  'concurrent-service-endpoint-syncs': { type: 'number', integer: true, min: 1, default: 5, description: 'EndpointSlices synced concurrently' },
  'concurrent-gc-syncs': { type: 'number', integer: true, min: 1, default: 20, description: 'Garbage collector workers' },
  'concurrent-namespace-syncs': { type: 'number', integer: true, min: 1, default: 10, description: 'Namespaces synced concurrently' },
  'allocate-node-cidrs': { type: 'boolean', default: false, description: 'Give every node a pod CIDR (spec.podCIDR) from --cluster-cidr (the nodeipam controller)' },
  'cluster-cidr': { type: 'string', description: 'CIDR range of the pods in the cluster (kubeadm: networking.podSubnet)' },
  'node-cidr-mask-size': { type: 'number', integer: true, min: 1, max: 32, default: 24, description: 'Prefix length of each node\'s pod CIDR' },
  'node-monitor-period': { type: 'duration', default: '5s', description: 'How often node health is checked' },
  'node-monitor-grace-period': { type: 'duration', default: '40s', description: 'How long a node may go without a heartbeat before it is marked NotReady/Unknown' },
  'default-not-ready-toleration-seconds': {
    type: 'number',
    integer: true,
    min: 0,
    default: 300,
    description: 'tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration given to pods without one (kube-apiserver flag in Kubernetes)',
  },
  'default-unreachable-toleration-seconds': {
    type: 'number',
    integer: true,
    min: 0,
    default: 300,
    description: 'tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration given to pods without one (kube-apiserver flag in Kubernetes)',
  },
  'bind-address': { type: 'string', default: '0.0.0.0', description: 'Address of the /healthz and /metrics endpoint' },
  'secure-port': { type: 'number', integer: true, min: 0, max: 65535, default: 10257, description: 'Port of the /healthz and /metrics endpoint' },
} as const satisfies FlagSpecs;

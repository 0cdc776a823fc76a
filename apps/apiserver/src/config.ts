import type { FlagSpecs } from '@kubets/service-kit';

/** kube-apiserver's flag names where they apply, plus kubets' own (NATS, internal gRPC). */
export const APISERVER_FLAGS = {
  'etcd-servers': { type: 'list', default: ['http://127.0.0.1:2379'], description: 'List of etcd servers to connect with (scheme://ip:port), comma separated: kubets-kv members or etcd 3.4' },
  'bind-address': { type: 'string', default: '0.0.0.0', description: 'The IP address on which to listen for the --secure-port port' },
  'secure-port': { type: 'number', integer: true, min: 0, max: 65535, default: 6443, description: 'The port on which to serve HTTPS with authentication and authorization (0: pick a free port)' },
  'tls-cert-file': { type: 'string', description: 'File containing the default x509 certificate for HTTPS (CA cert, if any, concatenated after server cert)' },
  'tls-private-key-file': { type: 'string', description: 'File containing the default x509 private key matching --tls-cert-file' },
  'client-ca-file': { type: 'string', description: 'Any request presenting a client certificate signed by one of the authorities in this file is authenticated with the CommonName as user and Organizations as groups' },
  'token-auth-file': { type: 'string', description: 'If set, the file that will be used to secure the secure port of the API server via token authentication (CSV: token,user,uid,"group1,group2")' },
  'service-cluster-ip-range': { type: 'string', default: '10.96.0.0/12', description: 'A CIDR notation IP range from which to assign service cluster IPs' },
  'service-node-port-range': { type: 'string', default: '30000-32767', description: 'A port range to reserve for services with NodePort visibility' },
  'advertise-address': { type: 'string', description: 'The IP address on which to advertise the apiserver to members of the cluster (the kubernetes Service endpoints); default: --bind-address, or 127.0.0.1 when that is 0.0.0.0' },
  'etcd-compaction-interval': { type: 'duration', default: '5m', description: 'The interval of compaction requests. If 0, the compaction request from apiserver is disabled' },
  'default-watch-cache-size': { type: 'number', integer: true, min: 100, default: 20000, description: 'How many recent changes the watch cache keeps (kubets: one cache for all resources); a watch from an older resourceVersion gets 410 Expired' },
  'kubelet-client-certificate': { type: 'string', description: 'Path to a client cert file for TLS to kubelets (pods/log, pods/exec); kubets init writes pki/apiserver-kubelet-client.crt' },
  'kubelet-client-key': { type: 'string', description: 'Path to a client key file for TLS to kubelets' },
  'kubelet-certificate-authority': { type: 'string', description: "Path to a cert file for the certificate authority of the kubelets' serving certificates; unset: not verified" },
  'kubelet-preferred-address-types': { type: 'list', default: ['InternalIP', 'Hostname', 'InternalDNS', 'ExternalDNS', 'ExternalIP'], description: 'List of the preferred NodeAddressTypes to use for kubelet connections' },
  'kubelet-timeout': { type: 'duration', default: '5s', description: 'Timeout for connecting to a kubelet and getting the head of its answer' },
  'nats-url': { type: 'string', description: 'NATS server URL(s) for change events (kubets); unset: no events are published' },
  'grpc-bind-address': { type: 'string', description: 'Address of the internal gRPC API (kubets), host:port; default <bind-address>:6444; port 0 picks a free port' },
  'event-publisher-lease-seconds': { type: 'number', integer: true, min: 1, default: 5, description: 'TTL of the lease the API server replica that publishes change events on NATS holds (kubets)' },
  'apiserver-count-lease-seconds': { type: 'number', integer: true, min: 1, default: 15, description: 'TTL of each replica\'s endpoint lease for the kubernetes Service (kubets; kube-apiserver uses 15 s too)' },
} as const satisfies FlagSpecs;

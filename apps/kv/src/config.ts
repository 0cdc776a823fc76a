import type { FlagSpecs } from '@kubets/service-kit';

/**
 * kubets-kv takes etcd's flags (and ETCD_* environment variables).
 *
 * Defaults: a member named "default" is a single-member cluster on
 * 127.0.0.1:2379 (client) and :2380 (peer), as etcd. A member named infra1,
 * infra2 or infra3 without URL flags gets etcd's Procfile layout, so three
 * processes started with just `--name infraN` form a local 3-member cluster:
 * clients on 2379, 22379, 32379; peers on 12380, 22380, 32380; metrics on
 * 12381, 22381, 32381.
 */
export const KV_FLAGS = {
  name: { type: 'string', default: 'default', description: 'Human-readable name for this member' },
  'data-dir': { type: 'string', description: 'Path to the data directory (default "${name}.etcd")' },
  'listen-client-urls': { type: 'list', description: 'URLs to listen on for client (gRPC) traffic' },
  'advertise-client-urls': { type: 'list', description: 'Client URLs to advertise to the rest of the cluster' },
  'listen-peer-urls': { type: 'list', description: 'URLs to listen on for peer (Raft) traffic' },
  'initial-advertise-peer-urls': { type: 'list', description: "This member's peer URLs to advertise to the rest of the cluster" },
  'initial-cluster': { type: 'string', description: 'Initial cluster configuration for bootstrapping: name=peerURL,...' },
  'initial-cluster-state': {
    type: 'string',
    default: 'new',
    choices: ['new', 'existing'],
    description: "Initial cluster state ('new' or 'existing')",
  },
  'initial-cluster-token': { type: 'string', default: 'etcd-cluster', description: 'Initial cluster token for the cluster during bootstrap' },
  'snapshot-count': { type: 'number', integer: true, min: 1, default: 100000, description: 'Number of committed transactions to trigger a snapshot to disk' },
  'heartbeat-interval': { type: 'number', integer: true, min: 1, default: 100, description: 'Time (in milliseconds) of a heartbeat interval' },
  'election-timeout': { type: 'number', integer: true, min: 1, default: 1000, description: 'Time (in milliseconds) for an election to timeout' },
  'quota-backend-bytes': { type: 'number', integer: true, min: 0, default: 2 * 1024 * 1024 * 1024, description: 'Raise alarms when backend size exceeds the given quota (0 defaults to low space quota)' },
  'max-request-bytes': { type: 'number', integer: true, min: 1, default: 1.5 * 1024 * 1024, description: 'Maximum client request size in bytes the server will accept' },
  'max-txn-ops': { type: 'number', integer: true, min: 1, default: 128, description: 'Maximum number of operations permitted in a transaction' },
  'listen-metrics-urls': { type: 'list', description: 'URLs to serve /metrics and /health (and /healthz, /readyz, /livez) on' },
  'skip-hash-check': { type: 'boolean', description: 'restore: accept a snapshot without the trailing sha256 (e.g. a copied db file)' },
  'experimental-watch-progress-notify-interval': {
    type: 'duration',
    default: '10m',
    description: 'Duration of periodic watch progress notifications',
  },
} as const satisfies FlagSpecs;

const PROCFILE: Record<string, { client: number; peer: number; metrics: number }> = {
  infra1: { client: 2379, peer: 12380, metrics: 12381 },
  infra2: { client: 22379, peer: 22380, metrics: 22381 },
  infra3: { client: 32379, peer: 32380, metrics: 32381 },
};

export interface ResolvedKvConfig {
  name: string;
  dataDir: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  listenMetricsUrls: string[];
}

/** Fill in etcd-style defaults that depend on the member name. */
export function resolveDefaults(cfg: {
  name: string;
  dataDir?: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster?: string;
  initialClusterState: string;
  initialClusterToken: string;
  listenMetricsUrls: string[];
}): ResolvedKvConfig {
  const proc = PROCFILE[cfg.name];
  const ports = proc ?? { client: 2379, peer: 2380, metrics: 2381 };
  const url = (port: number) => `http://127.0.0.1:${port}`;
  const listenClientUrls = cfg.listenClientUrls.length ? cfg.listenClientUrls : [url(ports.client)];
  const listenPeerUrls = cfg.listenPeerUrls.length ? cfg.listenPeerUrls : [url(ports.peer)];
  const initialAdvertisePeerUrls = cfg.initialAdvertisePeerUrls.length ? cfg.initialAdvertisePeerUrls : listenPeerUrls;
  let initialCluster = cfg.initialCluster;
  if (!initialCluster) {
    initialCluster = proc
      ? Object.entries(PROCFILE)
          .map(([n, p]) => `${n}=${url(p.peer)}`)
          .join(',')
      : `${cfg.name}=${initialAdvertisePeerUrls.join(`,${cfg.name}=`)}`;
  }
  return {
    name: cfg.name,
    dataDir: cfg.dataDir ?? `${cfg.name}.etcd`,
    listenClientUrls,
    advertiseClientUrls: cfg.advertiseClientUrls.length ? cfg.advertiseClientUrls : listenClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: cfg.initialClusterState === 'existing' ? 'existing' : 'new',
    initialClusterToken: cfg.initialClusterToken,
    listenMetricsUrls: cfg.listenMetricsUrls.length ? cfg.listenMetricsUrls : [url(ports.metrics)],
  };
}

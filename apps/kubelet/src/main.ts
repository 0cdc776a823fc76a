#!/usr/bin/env node
// kubets-kubelet: the node agent. Without --hollow it runs the pods bound to
// its node on containerd over CRI (src/cri: one actor per pod; src/node: Node
// registration, Lease, Ready from the runtime). With --hollow it runs hollow
// nodes (kubemark's hollow kubelet): they register, heartbeat, and report the
// pods bound to them Running without starting containers.
import fs from 'node:fs';
import path from 'node:path';
import { Client, InformerFactory } from '@kubets/client';
import { CriClient } from '@kubets/cri-client';
import { createCertificate } from '@kubets/pki';
import { Service, type FlagSpecs } from '@kubets/service-kit';
import { Gauge } from 'prom-client';
import { CriKubelet } from './cri';
import { HollowNode } from './hollow/hollow-node';
import { DEFAULT_EVICTION_HARD, parseEvictionHard } from './node/pressure';
import { NodeAgent } from './node/node-agent';
import { PodRoutes } from './node/pod-routes';
import { StaticPodSource } from './static/static-pods';
import { KubeletServer } from './server';

const FLAGS = {
  kubeconfig: { type: 'string', required: true, description: 'Path to a kubeconfig file, specifying how to connect to the API server' },
  'grpc-address': { type: 'string', description: "host:port of the API server's internal gRPC API (default: the kubeconfig server's host, port 6444)" },
  'nats-url': { type: 'string', required: true, description: 'NATS server URL(s) carrying the API server change events (the pods bound to this node)' },
  'hostname-override': { type: 'string', description: 'If non-empty, use this string as the node name instead of the hostname' },
  'node-ip': { type: 'string', default: '127.0.0.1', description: 'IP address of the node' },
  'node-labels': { type: 'list', description: 'Labels to add when registering the node (key=value,...)' },
  'register-with-taints': { type: 'list', description: 'Register the node with the given taints (key=value:Effect,...)' },
  'max-pods': { type: 'number', integer: true, min: 1, default: 110, description: 'Number of Pods that can run on this node' },
  'node-lease-duration-seconds': { type: 'number', integer: true, min: 1, default: 40, description: 'Duration of the node Lease; renewed every quarter of it' },
  'node-status-report-frequency': { type: 'duration', default: '5m', description: 'How often the node status is posted when nothing changed' },
  'healthz-bind-address': { type: 'string', default: '127.0.0.1:10248', description: 'host:port of /healthz, /readyz, /livez and /metrics (port 0: pick one)' },
  address: { type: 'string', default: '0.0.0.0', description: 'IP address of the kubelet HTTPS server (logs, exec) on --port' },
  port: { type: 'number', integer: true, min: 0, max: 65535, default: 10250, description: 'Port of the kubelet HTTPS server (0: pick one)' },
  'tls-cert-file': { type: 'string', description: 'Serving certificate of the kubelet HTTPS server; unset: a self-signed one in <root-dir>/pki' },
  'tls-private-key-file': { type: 'string', description: 'Private key of --tls-cert-file' },
  'client-ca-file': { type: 'string', description: 'Client certificates signed by this CA authenticate to the HTTPS server (the API server\'s kubelet client); unset: logs and exec are not served' },
  'container-runtime-endpoint': { type: 'string', default: 'unix:///run/containerd/containerd.sock', description: 'The endpoint of the CRI container runtime (unix:///path)' },
  'image-service-endpoint': { type: 'string', description: 'The endpoint of the CRI image service (default: --container-runtime-endpoint)' },
  'runtime-request-timeout': { type: 'duration', default: '2m', description: 'Timeout of every CRI request except long-running ones' },
  'root-dir': { type: 'string', default: '/var/lib/kubets-kubelet', description: 'Directory for the kubelet files: pods/<uid>/volumes and pods/<uid>/logs' },
  'cgroup-root': { type: 'string', default: '', description: 'Cgroup parent of pod cgroups (cgroupfs driver): pods go to <cgroup-root>/pod<uid>. Empty: the runtime decides' },
  'cluster-dns': { type: 'list', description: 'DNS server IPs for pods with dnsPolicy ClusterFirst' },
  'cluster-domain': { type: 'string', default: 'cluster.local', description: 'The cluster domain: pods search <ns>.svc.<domain>' },
  'pod-manifest-path': { type: 'string', description: 'Directory of static pod manifests (one Pod per file): run without an API server, shown there as mirror pods' },
  'file-check-frequency': { type: 'duration', default: '20s', description: 'How often --pod-manifest-path is re-read in full (changes are also picked up at once through inotify)' },
  'eviction-hard': { type: 'list', default: DEFAULT_EVICTION_HARD, description: 'Hard eviction thresholds (signal<quantity or percent): crossing one reports MemoryPressure, DiskPressure or PIDPressure' },
  'cni-conf-dir': { type: 'string', description: "Where the kubelet writes the CNI config (10-kubets.conflist: bridge + host-local on the Node's podCIDR) for the runtime; unset: the CNI config is managed by someone else" },
  'cni-bridge': { type: 'string', default: 'kubets0', description: 'The bridge of the CNI config written to --cni-conf-dir' },
  'configure-pod-routes': { type: 'boolean', description: "Route every other node's podCIDR via its InternalIP (host-gw: nodes on one L2 network, e.g. kubets's Docker nodes)" },
  'node-status-update-frequency': { type: 'duration', default: '10s', description: 'How often the runtime status is checked and the node status posted when it changed' },
  'pod-sync-period': { type: 'duration', default: '1s', description: 'How often every pod is re-synced with the runtime (kubelet: the PLEG relist period)' },
  'housekeeping-interval': { type: 'duration', default: '30s', description: 'How often sandboxes of pods that no longer exist are removed' },
  'container-backoff-initial': { type: 'duration', default: '10s', description: 'First CrashLoopBackOff / image pull back-off delay, doubling up to --container-backoff-max' },
  'container-backoff-max': { type: 'duration', default: '5m', description: 'Longest CrashLoopBackOff / image pull back-off delay' },
  hollow: { type: 'boolean', description: 'Run hollow nodes (no containers; for scale tests and a control plane without containerd)' },
  'hollow-nodes': { type: 'number', integer: true, min: 1, default: 1, description: 'How many hollow nodes this process runs (names <hostname-override>-0..N-1 when N > 1)' },
  'hollow-cpu': { type: 'string', default: '4', description: 'CPU capacity of each hollow node' },
  'hollow-memory': { type: 'string', default: '16Gi', description: 'Memory capacity of each hollow node' },
} as const satisfies FlagSpecs;

function parseLabels(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new Error(`--node-labels: "${item}" is not key=value`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function parseTaints(list: readonly string[] | undefined): Array<Record<string, string>> {
  return (list ?? []).map((item) => {
    const m = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(item);
    if (!m) throw new Error(`--register-with-taints: "${item}" is not key[=value]:Effect`);
    return { key: m[1]!, ...(m[2] ? { value: m[2] } : {}), effect: m[3]! };
  });
}

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-kubelet',
    summary: 'kubets-kubelet: the node agent; runs pods on containerd over CRI, or hollow nodes (--hollow).',
    version: '0.1.0',
    flags: FLAGS,
    envPrefix: 'KUBETS_KUBELET',
  });
  const cfg = svc.config;
  const log = svc.log;
  if (!cfg.hollow) return runCri(svc);
  svc.handleSignals();
  const client = await Client.fromKubeconfig(cfg.kubeconfig, { grpcAddress: cfg.grpcAddress, component: 'kubelet', log });
  const factory = new InformerFactory({ client, nats: cfg.natsUrl, log });
  svc.onShutdown('informers', () => factory.shutdown());
  const base = cfg.hostnameOverride ?? (await import('node:os')).hostname().toLowerCase();
  const names = cfg.hollowNodes === 1 ? [base] : Array.from({ length: cfg.hollowNodes }, (_, i) => `${base}-${i}`);
  const labels = parseLabels(cfg.nodeLabels);
  const taints = parseTaints(cfg.registerWithTaints);
  const nodes = names.map(
    (name, index) =>
      new HollowNode(
        client,
        factory,
        {
          name,
          index,
          cpu: cfg.hollowCpu,
          memory: cfg.hollowMemory,
          maxPods: cfg.maxPods,
          labels,
          taints,
          leaseDurationSeconds: cfg.nodeLeaseDurationSeconds,
          leaseRenewMs: (cfg.nodeLeaseDurationSeconds * 1000) / 4,
          statusReportMs: cfg.nodeStatusReportFrequency,
          nodeIP: cfg.nodeIp,
        },
        log.child({ actor: 'hollow-node', node: name }),
      ),
  );
  svc.onShutdown('hollow nodes', async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  new Gauge({ name: 'kubelet_hollow_nodes', help: 'Hollow nodes run by this process.', registers: [svc.registry], collect() { this.set(nodes.length); } });
  new Gauge({ name: 'kubelet_hollow_pods_started_total', help: 'Pods reported Running by this process.', registers: [svc.registry], collect() { this.set(nodes.reduce((n, x) => n + x.stats.podsStarted, 0)); } });
  // Register in batches so hundreds of nodes do not hit the API server at once.
  for (let i = 0; i < nodes.length; i += 20) await Promise.all(nodes.slice(i, i + 20).map((n) => n.start()));
  await factory.start();
  await factory.waitForCacheSync(60_000);
  await svc.serveHttp(cfg.healthzBindAddress);
  svc.markReady();
  log.info({ nodes: names.length }, `kubets-kubelet: ${names.length} hollow node(s) running`);
}

/** The real kubelet: pods on a CRI runtime (containerd). */
async function runCri(svc: Service<typeof FLAGS>): Promise<void> {
  const cfg = svc.config;
  const log = svc.log;
  svc.handleSignals();
  const name = (cfg.hostnameOverride ?? (await import('node:os')).hostname()).toLowerCase();
  const cri = new CriClient(cfg.containerRuntimeEndpoint, { timeoutMs: cfg.runtimeRequestTimeout, imageEndpoint: cfg.imageServiceEndpoint });
  svc.onShutdown('cri client', () => cri.close());
  // As the kubelet: a runtime that is not up yet does not stop the node from
  // registering; it is reported NotReady until the runtime answers.
  await cri.waitForReady(10_000).catch((e: Error) => log.warn({ endpoint: cfg.containerRuntimeEndpoint, err: e.message }, 'container runtime not reachable yet'));
  const evictionHard = parseEvictionHard(cfg.evictionHard);
  const rootDir = path.resolve(cfg.rootDir);
  const statics = cfg.podManifestPath ? new StaticPodSource(path.resolve(cfg.podManifestPath), name, cfg.fileCheckFrequency, log.child({ actor: 'static-pods', node: name })) : undefined;
  const client = await Client.fromKubeconfig(cfg.kubeconfig, { grpcAddress: cfg.grpcAddress, component: 'kubelet', log });
  // Nothing below waits for NATS or the API server: the static pods (which
  // may be the control plane itself) must run first.
  const system = await svc.connectNats(cfg.natsUrl, { waitForConnection: false });
  const factory = new InformerFactory({ client, nats: cfg.natsUrl, log });
  svc.onShutdown('informers', () => factory.shutdown());
  const node = new NodeAgent(
    client,
    cri,
    {
      name,
      nodeIP: cfg.nodeIp,
      maxPods: cfg.maxPods,
      labels: parseLabels(cfg.nodeLabels),
      taints: parseTaints(cfg.registerWithTaints),
      leaseDurationSeconds: cfg.nodeLeaseDurationSeconds,
      leaseRenewMs: (cfg.nodeLeaseDurationSeconds * 1000) / 4,
      statusUpdateMs: cfg.nodeStatusUpdateFrequency,
      statusReportMs: cfg.nodeStatusReportFrequency,
      rootDir,
      evictionHard,
      ...(cfg.cniConfDir ? { cniConfDir: path.resolve(cfg.cniConfDir) } : {}),
      cniBridge: cfg.cniBridge,
    },
    log.child({ actor: 'node', node: name }),
  );
  const kubelet = new CriKubelet(
    cri,
    client,
    client.eventRecorder({ component: 'kubelet', host: name }),
    {
      nodeName: name,
      nodeIP: cfg.nodeIp,
      rootDir,
      cgroupRoot: cfg.cgroupRoot,
      clusterDNS: [...(cfg.clusterDns ?? [])],
      clusterDomain: cfg.clusterDomain,
      backoffBaseMs: cfg.containerBackoffInitial,
      backoffMaxMs: cfg.containerBackoffMax,
      syncPeriodMs: cfg.podSyncPeriod,
      housekeepingMs: cfg.housekeepingInterval,
    },
    log.child({ node: name }),
    statics,
  );
  svc.onShutdown('kubelet', async () => {
    kubelet.stop();
    await node.stop();
  });
  // The HTTPS server (logs, exec) first: the node reports its port.
  const server = await startKubeletServer(svc, cri, kubelet, name, rootDir);
  if (server) node.setKubeletPort(server.port);
  await node.start();
  await kubelet.start(system, factory);
  await svc.serveHttp(cfg.healthzBindAddress);
  svc.markReady();
  log.info({ node: name, runtime: cfg.containerRuntimeEndpoint, rootDir, staticPods: statics?.list().length ?? 0 }, `kubets-kubelet: node ${name} running pods on ${cfg.containerRuntimeEndpoint}`);
  const routes = cfg.configurePodRoutes ? new PodRoutes(factory.nodes(), name, path.join(rootDir, 'pod-routes.json'), log.child({ actor: 'pod-routes', node: name })) : undefined;
  if (routes) svc.onShutdown('pod routes', () => routes.stop());
  // The API side, whenever the control plane answers: the pods bound to this
  // node, then housekeeping (only once the list is complete, or it would
  // remove the sandboxes of pods it has not heard of yet) and mirror pods.
  try {
    await factory.start();
    await factory.waitForCacheSync();
  } catch (e) {
    if (svc.shuttingDown) return; // shut down before the control plane answered
    throw e;
  }
  kubelet.startHousekeeping();
  routes?.start();
  log.info({ node: name }, 'pods bound to this node listed: housekeeping and mirror pods started');
}

/**
 * kubelet's HTTPS server on --address:--port: container logs and exec for the
 * API server, authenticated by client certificates from --client-ca-file.
 * Without --tls-cert-file the kubelet makes itself a self-signed certificate
 * in <root-dir>/pki, as Kubernetes' kubelet does.
 */
async function startKubeletServer(svc: Service<typeof FLAGS>, cri: CriClient, kubelet: CriKubelet, name: string, rootDir: string): Promise<KubeletServer | undefined> {
  const cfg = svc.config;
  if (!cfg.clientCaFile) {
    svc.log.warn({}, 'no --client-ca-file: the HTTPS server (kubectl logs, exec) is not started');
    return undefined;
  }
  let cert: string;
  let key: string;
  if (cfg.tlsCertFile) {
    if (!cfg.tlsPrivateKeyFile) throw new Error('--tls-cert-file needs --tls-private-key-file');
    cert = fs.readFileSync(cfg.tlsCertFile, 'utf8');
    key = fs.readFileSync(cfg.tlsPrivateKeyFile, 'utf8');
  } else {
    const dir = path.join(rootDir, 'pki');
    const certFile = path.join(dir, 'kubelet.crt');
    const keyFile = path.join(dir, 'kubelet.key');
    if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
      const self = createCertificate({ subject: { commonName: `${name}@${Math.floor(Date.now() / 1000)}` }, isCA: true, extKeyUsage: ['serverAuth'], dnsNames: [name], ipAddresses: [cfg.nodeIp], validityDays: 365 });
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(keyFile, self.keyPem, { mode: 0o600 });
      fs.writeFileSync(certFile, self.certPem);
      svc.log.info({ cert: certFile }, 'wrote a self-signed serving certificate');
    }
    cert = fs.readFileSync(certFile, 'utf8');
    key = fs.readFileSync(keyFile, 'utf8');
  }
  const server = new KubeletServer({
    cri,
    resolve: (ns, pod, container) => kubelet.resolveContainer(ns, pod, container),
    tls: { cert, key, clientCa: fs.readFileSync(cfg.clientCaFile, 'utf8') },
    address: `${cfg.address.includes(':') ? `[${cfg.address}]` : cfg.address}:${cfg.port}`,
    log: svc.log.child({ actor: 'kubelet-server' }),
  });
  const port = await server.listen();
  svc.onShutdown('kubelet server', () => server.close());
  svc.log.info({ address: cfg.address, port }, 'serving logs and exec over HTTPS');
  return server;
}

main().catch((e) => {
  // Before (or without) a logger: the reason on stderr, as a CLI would.
  process.stderr.write(`kubets-kubelet: ${(e as Error).message}\n`);
  process.exit(1);
});

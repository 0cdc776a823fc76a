#!/usr/bin/env node
// kubets-proxy: kube-proxy's counterpart. Informers for Services and
// EndpointSlices (gRPC list + NATS change events) feed a sync loop actor that
// programs the kernel: nftables (table `ip kubets`), or IPVS through
// ipvsadm-restore where the kernel has IP_VS. /healthz (default :10256)
// reports the last successful sync as kube-proxy's does; /metrics (default
// 127.0.0.1:10249). SIGTERM leaves the rules in place; --cleanup removes them.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { Client, InformerFactory } from '@kubets/client';
import { Service, parseHostPort } from '@kubets/service-kit';
import { IpvsBackend, NftablesBackend, IPVS_DEVICE, type Backend, type BackendOptions } from './backends';
import { proxierActor } from './actor';
import { Proxier } from './proxier';

const VERSION = '0.1.0';

export const PROXY_FLAGS = {
  kubeconfig: { type: 'string', description: 'Path to a kubeconfig file with the authorization and API server location' },
  'grpc-address': { type: 'string', description: "host:port of the API server's internal gRPC API (default: the kubeconfig server's host, port 6444)" },
  'nats-url': { type: 'string', description: 'NATS server URL(s) carrying the API server change events (without it, informers follow the gRPC Watch stream)' },
  'hostname-override': { type: 'string', description: "The name of this node (default: the host's name)" },
  'proxy-mode': { type: 'string', default: '', description: 'Which proxy mode to use: ipvs or nftables (default: ipvs when the kernel has IP_VS, i.e. /proc/net/ip_vs exists, else nftables)' },
  'cluster-cidr': { type: 'string', description: 'The CIDR range of the pods in the cluster; traffic to a ClusterIP from outside it is masqueraded' },
  'nodeport-addresses': { type: 'list', description: 'CIDRs of the node addresses NodePorts answer on (default: every non-loopback IPv4 address of the node)' },
  'ipvs-scheduler': { type: 'string', default: 'rr', description: 'The IPVS scheduler (rr, wrr, lc, wlc, sh, ...)' },
  'ipvs-sync-period': { type: 'duration', default: '30s', description: 'The maximum interval between full rule resyncs (both modes)' },
  'ipvs-min-sync-period': { type: 'duration', default: '0s', description: 'The minimum interval between rule syncs: changes arriving faster are coalesced (both modes)' },
  cleanup: { type: 'boolean', default: false, description: 'Remove every rule, table, virtual server and device kubets-proxy creates, then exit' },
  'healthz-bind-address': { type: 'string', default: '0.0.0.0:10256', description: 'host:port of the health check server (/healthz, /livez)' },
  'metrics-bind-address': { type: 'string', default: '127.0.0.1:10249', description: 'host:port of the metrics server (/metrics, plus /readyz)' },
  nft: { type: 'string', default: 'nft', description: 'The nft binary' },
} as const;

/** IPv4 CIDR membership. */
function inCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText ?? 32);
  const n = (s: string) => s.split('.').reduce((a, p) => (a << 8) + Number(p), 0) >>> 0;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((n(ip) & mask) >>> 0) === ((n(base!) & mask) >>> 0);
}

/** The node's IPv4 addresses NodePorts answer on. */
export function nodeAddresses(cidrs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const [dev, addrs] of Object.entries(os.networkInterfaces())) {
    if (dev === IPVS_DEVICE) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      if (cidrs.length > 0 && !cidrs.some((c) => inCidr(a.address, c))) continue;
      out.add(a.address);
    }
  }
  return [...out].sort();
}

function hostPortString(address: string): { host: string; port: number } {
  return parseHostPort(address, '0.0.0.0');
}

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-proxy',
    summary: "kubets-proxy: Service load balancing on every node (kube-proxy's counterpart): nftables, or IPVS where the kernel has IP_VS.",
    version: VERSION,
    flags: PROXY_FLAGS,
    envPrefix: 'KUBETS_PROXY',
  });
  const cfg = svc.config;
  const log = svc.log;
  const hasIpvs = fs.existsSync('/proc/net/ip_vs');
  let mode: 'ipvs' | 'nftables';
  if (cfg.proxyMode === 'ipvs' || cfg.proxyMode === 'nftables') {
    mode = cfg.proxyMode;
    log.info({ mode, kernelHasIpvs: hasIpvs }, `using proxy mode ${mode} (--proxy-mode)`);
    if (mode === 'ipvs' && !hasIpvs) log.warn({}, 'proxy mode ipvs requested but /proc/net/ip_vs is absent: the kernel has no IP_VS, syncs will fail');
  } else if (cfg.proxyMode === '') {
    mode = hasIpvs ? 'ipvs' : 'nftables';
    log.info({ mode, kernelHasIpvs: hasIpvs }, hasIpvs ? 'using proxy mode ipvs: the kernel has IP_VS (/proc/net/ip_vs exists)' : 'using proxy mode nftables: the kernel has no IP_VS (/proc/net/ip_vs is absent)');
  } else {
    throw new Error(`--proxy-mode must be ipvs or nftables, not "${cfg.proxyMode}"`);
  }
  let nodeIPs = nodeAddresses(cfg.nodeportAddresses ?? []);
  // Re-read at every sync: an address added or removed later (DHCP, a new
  // interface) gets or loses its NodePorts at the next sync.
  const currentNodeIPs = () => {
    const now = nodeAddresses(cfg.nodeportAddresses ?? []);
    if (now.join() !== nodeIPs.join()) log.info({ before: nodeIPs, now }, 'node addresses changed: NodePorts follow');
    nodeIPs = now;
    return now;
  };
  const bopts: BackendOptions = { clusterCIDR: cfg.clusterCidr, nodeIPs: currentNodeIPs, scheduler: cfg.ipvsScheduler, log, nft: cfg.nft };

  if (cfg.cleanup) {
    // Everything either mode creates, whichever mode ran before.
    await new NftablesBackend(bopts).cleanup();
    await new IpvsBackend(bopts).cleanup();
    log.info({}, 'cleanup done: table ip kubets, IPVS services and kube-ipvs0 removed');
    await svc.shutdown('cleanup done', 0);
    return;
  }
  if (!cfg.kubeconfig) throw new Error('--kubeconfig is required');
  const nodeName = cfg.hostnameOverride || os.hostname();
  svc.handleSignals();
  const backend: Backend = mode === 'ipvs' ? new IpvsBackend(bopts) : new NftablesBackend(bopts);
  const client = await Client.fromKubeconfig(cfg.kubeconfig, { grpcAddress: cfg.grpcAddress, component: 'kube-proxy', log });
  const factory = new InformerFactory({ client, nats: cfg.natsUrl, log });
  const services = factory.services();
  const slices = factory.endpointSlices();
  const proxier = new Proxier({
    backend,
    services: () => services.list(),
    endpointSlices: () => slices.list(),
    minSyncPeriodMs: cfg.ipvsMinSyncPeriod,
    syncPeriodMs: cfg.ipvsSyncPeriod,
    log: log.child({ actor: 'proxier' }),
    registry: svc.registry,
  });
  const changed = (what: 'service' | 'endpoints') => ({
    onAdd: () => proxier.tell({ kind: 'changed', what }),
    onUpdate: (a: { metadata?: { resourceVersion?: string } }, b: { metadata?: { resourceVersion?: string } }) => {
      if (a.metadata?.resourceVersion !== b.metadata?.resourceVersion) proxier.tell({ kind: 'changed', what });
    },
    onDelete: () => proxier.tell({ kind: 'changed', what }),
  });
  services.addEventHandler(changed('service'));
  slices.addEventHandler(changed('endpoints'));
  svc.onShutdown('informers', () => factory.shutdown());
  // Registered after the informers: runs first. The rules stay in the kernel.
  svc.onShutdown('sync loop (rules left in place)', () => proxier.stop());

  // kube-proxy's healthz: 200 while syncs keep up, 503 when the last successful
  // sync is too old or a change has waited too long (2 x the sync period).
  const healthTimeoutMs = 2 * cfg.ipvsSyncPeriod;
  const healthz = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/healthz' && url.pathname !== '/livez') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    const now = Date.now();
    const last = proxier.lastSyncSuccessMs;
    const healthy = last > 0 && now - last < healthTimeoutMs && (proxier.pendingSinceMs === 0 || now - proxier.pendingSinceMs < healthTimeoutMs) && !svc.shuttingDown;
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' });
    res.end(JSON.stringify({ lastUpdated: last ? new Date(last).toISOString() : '', currentTime: new Date(now).toISOString(), nodeName, mode, syncs: proxier.syncs }));
  });
  const hz = hostPortString(cfg.healthzBindAddress);
  await new Promise<void>((resolve, reject) => {
    healthz.once('error', reject);
    healthz.listen(hz.port, hz.host, () => resolve());
  });
  const hzPort = (healthz.address() as { port: number }).port;
  log.info({ address: `${hz.host}:${hzPort}` }, 'serving /healthz');
  svc.onShutdown('healthz', () => new Promise<void>((r) => healthz.close(() => r())));
  await svc.serveHttp(cfg.metricsBindAddress);

  // The sync loop's actor (status, resync, crash on kubets.proxy.proxier.<node>), supervised.
  const actors = cfg.natsUrl ? await svc.connectNats(cfg.natsUrl) : undefined;
  if (!actors) log.warn({}, 'no --nats-url: the sync loop runs without its actor (no status or supervision on NATS)');

  await factory.start();
  await factory.waitForCacheSync(60_000);
  // Only now: a sync before the caches are complete would remove live services' rules.
  if (actors) await actors.spawn(proxierActor(proxier, nodeName));
  else proxier.start();
  svc.markReady();
  log.info({ mode, nodeName, nodeIPs, clusterCIDR: cfg.clusterCidr, healthzPort: hzPort }, `kubets-proxy running in ${mode} mode`);
}

main().catch((e: unknown) => {
  process.stderr.write(`kubets-proxy: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});

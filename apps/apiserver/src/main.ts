#!/usr/bin/env node
// kubets-apiserver: the Kubernetes REST API for stock kubectl, stored in
// kubets-kv (or a real etcd 3.4), with an internal gRPC API for the
// components and every committed change published on NATS.
import fs from 'node:fs';
import { EtcdClient } from '@kubets/etcd-client';
import { formatReport, parseHostPort, Service } from '@kubets/service-kit';
import { Gauge } from 'prom-client';
import { Authenticator } from './auth';
import { Bootstrapper } from './bootstrap';
import { APISERVER_FLAGS } from './config';
import { startInternalGrpc } from './grpc/service';
import { Discovery } from './http/discovery';
import { KubeletProxy } from './http/kubelet-proxy';
import { NetworkProxy } from './http/network-proxy';
import { HttpApi } from './http/server';
import { EventPublisher } from './publish/publisher';
import { ALL_RESOURCES, byKind, lookup } from './registry';
import { Allocators, firstServiceIp, parseCidr } from './rest/allocators';
import { RestHandler } from './rest/handler';
import { Store } from './storage/store';
import { Compactor } from './storage/compactor';
import { WatchCache } from './storage/watch-cache';

const VERSION = '0.1.0';

function readFile(flag: string, path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--${flag}: ${(e as Error).message}`);
  }
}

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-apiserver',
    summary:
      'kubets-apiserver: the Kubernetes REST API (HTTPS, stock kubectl) on kubets-kv or etcd 3.4,\n' +
      'with an internal gRPC API and change events on NATS.',
    version: VERSION,
    flags: APISERVER_FLAGS,
    envPrefix: 'KUBETS_APISERVER',
  });
  const cfg = svc.config;
  const log = svc.log;
  svc.handleSignals();

  const cert = readFile('tls-cert-file', cfg.tlsCertFile);
  const key = readFile('tls-private-key-file', cfg.tlsPrivateKeyFile);
  if (!cert || !key) throw new Error('--tls-cert-file and --tls-private-key-file are required (kubets init writes them to pki/apiserver.crt and pki/apiserver.key)');
  const clientCa = readFile('client-ca-file', cfg.clientCaFile);
  const auth = new Authenticator(cfg.tokenAuthFile);
  if (!clientCa && auth.tokenCount === 0) log.warn('neither --client-ca-file nor --token-auth-file is set: every request will be refused with 401');
  const serviceRange = parseCidr(cfg.serviceClusterIpRange);
  const [minPort, maxPort] = cfg.serviceNodePortRange.split('-').map(Number);
  if (!Number.isInteger(minPort) || !Number.isInteger(maxPort) || minPort! > maxPort!) throw new Error(`--service-node-port-range: invalid range ${cfg.serviceNodePortRange}`);

  const kv = new EtcdClient({ endpoints: cfg.etcdServers.map((u) => u.replace(/^https?:\/\//, '')) });
  svc.onShutdown('etcd client', () => kv.close());
  const store = new Store(kv);
  const cache = new WatchCache(kv, log.child({ actor: 'watch-cache' }), cfg.defaultWatchCacheSize);
  svc.onShutdown('watch cache', () => cache.stop());
  await cache.start();
  const compactor = new Compactor(kv, cfg.etcdCompactionInterval, log.child({ actor: 'compactor' }));
  compactor.start();
  svc.onShutdown('compactor', () => compactor.stop());
  const allocators = new Allocators(store, serviceRange, { min: minPort!, max: maxPort! });
  const rest = new RestHandler(store, cache, allocators, byKind, log.child({ actor: 'rest' }));
  await rest.startNamespaceCache();

  const advertise = cfg.advertiseAddress ?? (cfg.bindAddress === '0.0.0.0' || cfg.bindAddress === '::' ? '127.0.0.1' : cfg.bindAddress);
  new Gauge({ name: 'apiserver_watch_cache_watchers', help: 'Watchers fed by the watch cache.', registers: [svc.registry], collect() { this.set(cache.watchers); } });
  new Gauge({ name: 'apiserver_watch_cache_revision', help: 'The KV revision the watch cache has seen up to.', registers: [svc.registry], collect() { this.set(cache.revision); } });

  svc.health.addReadiness('etcd', async () => {
    await kv.status();
  });
  const kubeletCert = readFile('kubelet-client-certificate', cfg.kubeletClientCertificate);
  const kubeletKey = readFile('kubelet-client-key', cfg.kubeletClientKey);
  if (!!kubeletCert !== !!kubeletKey) throw new Error('--kubelet-client-certificate and --kubelet-client-key go together');
  const kubelet = new KubeletProxy(
    rest,
    lookup,
    {
      cert: kubeletCert,
      key: kubeletKey,
      ca: readFile('kubelet-certificate-authority', cfg.kubeletCertificateAuthority),
      preferredAddressTypes: cfg.kubeletPreferredAddressTypes,
      timeoutMs: cfg.kubeletTimeout,
    },
    log.child({ actor: 'kubelet-proxy' }),
  );
  const network = new NetworkProxy(rest, lookup, log.child({ actor: 'network-proxy' }));
  const discovery = new Discovery(ALL_RESOURCES, `${advertise}:${cfg.securePort}`);
  const http = new HttpApi({
    handler: rest,
    discovery,
    auth,
    lookup,
    log: log.child({ actor: 'http' }),
    registry: svc.registry,
    health: async (probe, verbose) => formatReport(probe, await svc.health.run(probe), verbose),
    tls: { cert, key, clientCa },
    kubelet,
    network,
  });
  const port = await http.listen(cfg.bindAddress, cfg.securePort);
  discovery.serverAddress = `${advertise}:${port}`;
  svc.onShutdown('https', () => http.close());
  log.info({ address: cfg.bindAddress, port, etcd: cfg.etcdServers }, 'serving the Kubernetes API over HTTPS');

  const boot = new Bootstrapper(rest, kv, lookup, { ip: advertise, port, serviceIp: firstServiceIp(serviceRange) }, cfg.apiserverCountLeaseSeconds, log.child({ actor: 'bootstrap' }), clientCa);
  svc.onShutdown('endpoints lease', () => boot.stop());
  await boot.run();

  const grpcAddress = cfg.grpcBindAddress ?? `${cfg.bindAddress}:6444`;
  const { host: gh, port: gp } = parseHostPort(grpcAddress);
  const grpcPort = await startInternalGrpc(svc, rest, lookup, auth, { host: gh, port: gp, cert, key, clientCa });
  log.info({ port: grpcPort }, 'serving the internal gRPC API');

  if (cfg.natsUrl) {
    const actors = await svc.connectNats(cfg.natsUrl);
    const publisher = new EventPublisher(actors.nats, kv, cache, {
      identity: `${advertise}:${port}`,
      leaseSeconds: cfg.eventPublisherLeaseSeconds,
      log: log.child({ actor: 'event-publisher' }),
      registry: svc.registry,
    });
    svc.onShutdown('event publisher', () => publisher.stop());
    await publisher.start();
  }
  svc.markReady();
  log.info({ url: `https://${advertise}:${port}` }, `kubets-apiserver ready on https://${advertise}:${port}`);
}

main().catch((e) => {
  // Before (or without) a logger: the reason on stderr, as a CLI would.
  process.stderr.write(`kubets-apiserver: ${(e as Error).message}\n`);
  process.exit(1);
});

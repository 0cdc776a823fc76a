#!/usr/bin/env node
// kubets-kv: a member of a Raft-replicated key-value store that serves etcd's
// v3 gRPC API (KV, Watch, Lease, Cluster, Maintenance) to stock clients.
import fs from 'node:fs';
import path from 'node:path';
import {
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import * as grpc from '@grpc/grpc-js';
import { GrpcServer, parseHostPort, Service } from '@kubets/service-kit';
import { Gauge } from 'prom-client';
import { clusterService, kvService, leaseService, maintenanceService, peerHandlers, watchService, type ApiContext } from './api/services';
import { KV_FLAGS, resolveDefaults } from './config';
import { fetchMembers, PeerTransport, RaftPeerService, type RaftBatch } from './peer/transport';
import { restore } from './restore';
import { KvServer } from './server/kv-server';
import { clusterId as deriveClusterId, memberId as deriveMemberId, parseInitialCluster, type MemberRecord } from './server/members';

const VERSION = '0.1.0';
const GRPC_OVERHEAD_BYTES = 512 * 1024;

function hostPortOf(url: string): string {
  const { host, port } = parseHostPort(url);
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function main(): Promise<void> {
  const svc = Service.create({
    name: 'kubets-kv',
    summary:
      "kubets-kv: a Raft-replicated key-value store serving etcd's v3 gRPC API.\n\n" +
      '  kubets-kv [flags]                 run a member\n' +
      '  kubets-kv restore FILE [flags]    make --data-dir a member of a new cluster from a snapshot\n' +
      '                                    (etcdctl snapshot save output, from kubets-kv or etcd 3.4)',
    version: VERSION,
    flags: KV_FLAGS,
    envPrefix: 'ETCD',
    configFlag: 'config-file',
  });
  const cfg = resolveDefaults(svc.config);
  const log = svc.log;
  if (svc.positionals[0] === 'restore') {
    const file = svc.positionals[1];
    if (!file || svc.positionals.length > 2) throw new Error('usage: kubets-kv restore FILE --name NAME --initial-cluster ... --data-dir DIR');
    const r = restore({
      snapshotFile: file,
      name: cfg.name,
      dataDir: cfg.dataDir,
      initialCluster: cfg.initialCluster,
      initialClusterToken: cfg.initialClusterToken,
      initialAdvertisePeerUrls: cfg.initialAdvertisePeerUrls,
      skipHashCheck: svc.config.skipHashCheck,
    });
    log.info(
      { dataDir: cfg.dataDir, memberId: r.memberId.toString(16), clusterId: r.clusterId.toString(16), revision: r.revision },
      'restored snapshot',
    );
    return;
  }
  if (svc.positionals.length > 0) throw new Error(`unknown command "${svc.positionals[0]}" (the only command is "restore")`);
  svc.handleSignals();

  // Identity: every member derives the same ids from --initial-cluster and the token.
  const initial = parseInitialCluster(cfg.initialCluster);
  const members: MemberRecord[] = [...initial].map(([name, peerUrls]) => ({
    id: deriveMemberId(peerUrls, cfg.initialClusterToken),
    name: '',
    peerUrls,
    clientUrls: [],
    isLearner: false,
  }));
  const mine = initial.get(cfg.name);
  if (!mine) throw new Error(`--initial-cluster has no member named "${cfg.name}"`);
  // On a restart the membership comes from the data dir (peer URLs may have
  // changed since with etcdctl member update): the flags only matter the first time.
  const firstStart = !fs.existsSync(identityFile(cfg.dataDir));
  if (firstStart && [...mine].sort().join(',') !== [...cfg.initialAdvertisePeerUrls].sort().join(',')) {
    throw new Error(
      `--initial-cluster has ${cfg.name}=${mine.join(',')} but --initial-advertise-peer-urls is ${cfg.initialAdvertisePeerUrls.join(',')}`,
    );
  }
  const identity = await resolveIdentity(cfg, members, log);
  const { memberId, clusterId } = identity;

  let server: KvServer;
  const peers = new PeerTransport({
    memberId,
    clusterId: () => server.clusterId,
    log: log.child({ actor: 'peer-transport' }),
    peerUrls: (id) => server.membership.get(id)?.peerUrls ?? identity.members.find((m) => m.id === id)?.peerUrls,
    reportUnreachable: (id) => server.node.reportUnreachable(id),
    reportSnapshot: (id, status) => server.node.reportSnapshot(id, status),
  });
  server = new KvServer({
    name: cfg.name,
    dataDir: path.resolve(cfg.dataDir),
    memberId,
    clusterId,
    initialMembers: identity.members,
    newCluster: cfg.initialClusterState === 'new',
    clientUrls: cfg.advertiseClientUrls,
    heartbeatMs: svc.config.heartbeatInterval,
    electionMs: svc.config.electionTimeout,
    snapshotCount: svc.config.snapshotCount,
    maxRequestBytes: svc.config.maxRequestBytes,
    quotaBackendBytes: svc.config.quotaBackendBytes,
    progressNotifyMs: svc.config.experimentalWatchProgressNotifyInterval,
    log,
    send: (messages) => peers.send(messages),
  });

  const ctx: ApiContext = { server, peers, log, maxTxnOps: svc.config.maxTxnOps, clusterToken: cfg.initialClusterToken };

  // Peer port: Raft traffic (a client stream per peer) and calls forwarded to the leader.
  const peerGrpc = new GrpcServer({ log: log.child({ actor: 'peer-server' }), registry: svc.registry, maxReceiveMessageLength: -1 });
  const forwarded = peerHandlers(ctx);
  peerGrpc.addService(RaftPeerService, {
    stream: (call: grpc.ServerReadableStream<RaftBatch, unknown>, callback: (err: null, v: object) => void) => {
      call.on('data', (batch: RaftBatch) => {
        if (batch.clusterId !== BigInt(server.clusterId)) {
          log.warn({ from: batch.from.toString(16), cluster: batch.clusterId.toString(16) }, 'refused Raft messages from another cluster');
          return;
        }
        for (const m of batch.messages) server.step(m);
      });
      call.on('end', () => callback(null, {}));
      call.on('error', () => undefined);
    },
    leaseRenew: forwarded.leaseRenew,
    leaseTimeToLive: forwarded.leaseTimeToLive,
    members: async () => ({ header: server.header(), members: server.membership.toProto() }),
    memberPromote: forwarded.memberPromote,
  });
  for (const url of cfg.listenPeerUrls) await peerGrpc.listen(hostPortOf(url));
  svc.onShutdown('peer-server', () => peerGrpc.shutdown(2_000));
  svc.onShutdown('peer-transport', () => peers.close());
  log.info({ urls: cfg.listenPeerUrls }, 'serving peer traffic');

  // Client port: the etcd v3 API.
  const grpcServer = svc.grpc({ maxReceiveMessageLength: svc.config.maxRequestBytes + GRPC_OVERHEAD_BYTES });
  grpcServer.addService(KVService, kvService(ctx));
  grpcServer.addService(WatchService, watchService(ctx));
  const lease = leaseService(ctx);
  grpcServer.addService(LeaseService, {
    leaseGrant: lease.leaseGrant,
    leaseRevoke: lease.leaseRevoke,
    leaseKeepAlive: lease.leaseKeepAlive,
    leaseTimeToLive: lease.leaseTimeToLive,
    leaseLeases: lease.leaseLeases,
  });
  grpcServer.addService(ClusterService, clusterService(ctx));
  grpcServer.addService(MaintenanceService, maintenanceService(ctx));
  for (const url of cfg.listenClientUrls) await svc.serveGrpc(hostPortOf(url));

  // Metrics and health (etcd's /health JSON too, for probes written for etcd).
  const hasLeader = new Gauge({ name: 'etcd_server_has_leader', help: '1 if a leader exists', registers: [svc.registry] });
  const isLeader = new Gauge({ name: 'etcd_server_is_leader', help: '1 if this member is the leader', registers: [svc.registry] });
  const revision = new Gauge({ name: 'etcd_debugging_mvcc_current_revision', help: 'The current revision of the store', registers: [svc.registry] });
  const dbSize = new Gauge({ name: 'etcd_mvcc_db_total_size_in_bytes', help: 'Size of the last snapshot of the store', registers: [svc.registry] });
  const applied = new Gauge({ name: 'etcd_server_proposals_applied_total', help: 'Applied Raft index', registers: [svc.registry] });
  const refresh = setInterval(() => {
    hasLeader.set(server.leader !== 0 ? 1 : 0);
    isLeader.set(server.isLeader ? 1 : 0);
    revision.set(server.store.currentRev);
    dbSize.set(server.dbSize());
    applied.set(server.appliedIndex);
  }, 1_000);
  refresh.unref();
  svc.health.addReadiness('raft-leader', () => (server.leader !== 0 ? true : 'no Raft leader'));
  await svc.serveHttp(hostPortOf(cfg.listenMetricsUrls[0]!), {
    '/health': (_req, res) => {
      const ok = server.leader !== 0 && server.activeAlarms.length === 0;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ health: String(ok), reason: ok ? '' : server.leader === 0 ? 'RAFT NO LEADER' : 'ALARM ACTIVE' }));
    },
    '/version': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ etcdserver: '3.4.0', etcdcluster: '3.4.0', kubets: VERSION }));
    },
  });

  server.on('removed', () => {
    log.warn('this member was removed from the cluster: shutting down');
    void svc.shutdown('removed from the cluster', 0);
  });
  server.start();
  svc.onShutdown('kv-server', () => server.stop());
  log.info(
    {
      memberId: memberId.toString(16),
      clusterId: clusterId.toString(16),
      clientUrls: cfg.listenClientUrls,
      peerUrls: cfg.listenPeerUrls,
      dataDir: cfg.dataDir,
    },
    'kubets-kv member started',
  );
  svc.markReady();
}

interface Identity {
  memberId: number;
  clusterId: number;
  /** Who to talk to until the replicated membership is known. */
  members: MemberRecord[];
}

function identityFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'identity.json');
}

/**
 * A member's id and cluster id, and the membership it started with. Kept in
 * <data-dir>/identity.json from the first start on, so a restart never
 * re-derives them from flags that may have changed since (the membership
 * seeds the state machine until the first snapshot; conf changes in the log
 * apply on top of it). New cluster: derived from
 * --initial-cluster and the token, like etcd. Joining an existing cluster
 * (--initial-cluster-state existing, after `etcdctl member add`): asked from
 * the members listed in --initial-cluster over the peer port, finding this
 * member by its peer URLs.
 */
async function resolveIdentity(cfg: ReturnType<typeof resolveDefaults>, members: MemberRecord[], log: import('pino').Logger): Promise<Identity> {
  const file = identityFile(cfg.dataDir);
  if (fs.existsSync(file)) {
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { memberId: number; clusterId: number; members?: MemberRecord[] };
    // Older files have no members: the flags' membership, as before.
    return { memberId: saved.memberId, clusterId: saved.clusterId, members: saved.members ?? members };
  }
  let identity: Identity;
  if (cfg.initialClusterState === 'existing') {
    const mineSorted = [...cfg.initialAdvertisePeerUrls].sort().join(',');
    const others = members.filter((m) => [...m.peerUrls].sort().join(',') !== mineSorted).flatMap((m) => m.peerUrls);
    let list: Awaited<ReturnType<typeof fetchMembers>> | undefined;
    for (const url of others) {
      try {
        list = await fetchMembers(url);
        break;
      } catch (err) {
        log.warn({ peer: url, err: (err as Error).message }, 'could not get the membership from this peer');
      }
    }
    if (!list) throw new Error(`--initial-cluster-state existing: no member of the cluster answered at ${others.join(', ')}`);
    const me = list.members.find((m) => [...m.peerURLs].sort().join(',') === mineSorted);
    if (!me) {
      throw new Error(
        `this member (${cfg.initialAdvertisePeerUrls.join(',')}) is not in the cluster: add it first with ` +
          `"etcdctl member add ${cfg.name} --peer-urls=${cfg.initialAdvertisePeerUrls.join(',')}"`,
      );
    }
    identity = {
      memberId: Number(me.ID),
      clusterId: Number(list.header!.clusterId),
      members: list.members.map((m) => ({ id: Number(m.ID), name: m.name, peerUrls: m.peerURLs, clientUrls: [], isLearner: m.isLearner })),
    };
    log.info({ memberId: identity.memberId.toString(16) }, 'joining an existing cluster');
  } else {
    const mine = parseInitialCluster(cfg.initialCluster).get(cfg.name)!;
    identity = {
      memberId: deriveMemberId(mine, cfg.initialClusterToken),
      clusterId: deriveClusterId(members.map((m) => m.id)),
      members,
    };
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ memberId: identity.memberId, clusterId: identity.clusterId, members: identity.members }));
  return identity;
}

main().catch((err: unknown) => {
  process.stderr.write(`kubets-kv: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});

import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  AlarmRequest_AlarmAction,
  type AlarmRequest,
  type AlarmResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVRequest,
  type HashKVResponse,
  type HashResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveRequest,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeRequest,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberRemoveRequest,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderRequest,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import { GrpcStatusError } from '@kubets/service-kit';
import type { Logger } from 'pino';
import { ConfChangeType } from 'raft-consensus-ts';
import { isTxnReadOnly, mvccToApply } from '../apply/applier';
import { checkDelete, checkPut, checkRange, checkTxn } from '../apply/validate';
import { ApplyError, Errors } from '../errors';
import { MAX_LEASE_TTL } from '../lease/lessor';
import type { PeerTransport } from '../peer/transport';
import { memberId as deriveMemberId } from '../server/members';
import { KV_VERSION, type KvServer } from '../server/kv-server';
import { encodeSnapshotFile } from '../snapshot/state';

export interface ApiContext {
  server: KvServer;
  peers: PeerTransport;
  log: Logger;
  maxTxnOps: number;
  clusterToken: string;
}

function fail(err: GrpcStatusError | undefined): void {
  if (err) throw err;
}

/** Reads run on the local state machine; ApplyErrors become their gRPC status. */
function local<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ApplyError) throw err.grpc;
    throw err;
  }
}

export function kvService(ctx: ApiContext) {
  const { server } = ctx;
  return {
    range: async (req: RangeRequest): Promise<RangeResponse> => {
      fail(checkRange(req));
      if (!req.serializable) await server.linearizableRead();
      const resp = local(() => server.applier.range(req));
      resp.header = server.header(Number(resp.header!.revision));
      return resp;
    },
    put: (req: PutRequest): Promise<PutResponse> => {
      fail(checkPut(req));
      return server.propose<PutResponse>({ $case: 'put', value: req });
    },
    deleteRange: (req: DeleteRangeRequest): Promise<DeleteRangeResponse> => {
      fail(checkDelete(req));
      return server.propose<DeleteRangeResponse>({ $case: 'deleteRange', value: req });
    },
    txn: async (req: TxnRequest): Promise<TxnResponse> => {
      fail(checkTxn(req, ctx.maxTxnOps));
      if (isTxnReadOnly(req)) {
        await server.linearizableRead();
        const resp = local(() => server.applier.readOnlyTxn(req));
        resp.header = server.header(Number(resp.header!.revision));
        return resp;
      }
      return server.propose<TxnResponse>({ $case: 'txn', value: req });
    },
    compact: (req: CompactionRequest): Promise<CompactionResponse> =>
      server.propose<CompactionResponse>({ $case: 'compaction', value: req }),
  };
}

/** Watch: one bidirectional stream per client, served from this member's state. */
export function watchService(ctx: ApiContext) {
  return {
    watch: (call: grpc.ServerDuplexStream<WatchRequest, WatchResponse>) => {
      const stream = ctx.server.hub.open({ send: (r) => call.write(r) });
      call.on('data', (req: WatchRequest) => {
        const r = req.requestUnion;
        switch (r?.$case) {
          case 'createRequest':
            stream.create(r.value);
            break;
          case 'cancelRequest':
            stream.cancel(r.value.watchId);
            break;
          case 'progressRequest':
            stream.progress();
            break;
          default:
            break; // etcd ignores what it does not understand
        }
      });
      call.on('drain', () => stream.drained());
      const close = () => stream.close();
      call.on('end', () => {
        close();
        call.end();
      });
      call.on('cancelled', close);
      call.on('error', close);
      call.on('close', close);
    },
  };
}

export function leaseService(ctx: ApiContext) {
  const { server, peers } = ctx;

  /** Keep-alives are answered by the leader, which alone tracks expiry. */
  async function renew(id: bigint): Promise<LeaseKeepAliveResponse> {
    if (server.isLeader) {
      const ttl = server.lessor.renew(id);
      return { header: server.header(), ID: id, TTL: BigInt(ttl ?? 0) };
    }
    if (server.leader === 0) throw Errors.noLeader();
    const resp = await peers.call<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(server.leader, 'leaseRenew', { ID: id }, 5_000);
    return { ...resp, header: server.header() };
  }

  async function timeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    if (!server.isLeader) {
      if (server.leader === 0) throw Errors.noLeader();
      const resp = await peers.call<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse>(server.leader, 'leaseTimeToLive', req, 5_000);
      return { ...resp, header: server.header() };
    }
    const info = server.lessor.lookup(req.ID);
    if (!info) return { header: server.header(), ID: req.ID, TTL: -1n, grantedTTL: 0n, keys: [] };
    return {
      header: server.header(),
      ID: req.ID,
      TTL: BigInt(server.lessor.remaining(req.ID) ?? -1),
      grantedTTL: BigInt(info.ttl),
      keys: req.keys ? [...info.keys].sort().map((k) => Buffer.from(k, 'latin1')) : [],
    };
  }

  return {
    renew,
    timeToLive,
    leaseGrant: (req: LeaseGrantRequest): Promise<LeaseGrantResponse> => {
      if (req.TTL > BigInt(MAX_LEASE_TTL)) throw Errors.leaseTTLTooLarge();
      const ID = req.ID !== 0n ? req.ID : server.newLeaseId();
      return server.propose<LeaseGrantResponse>({ $case: 'leaseGrant', value: { ID, TTL: req.TTL } });
    },
    leaseRevoke: (req: LeaseRevokeRequest): Promise<LeaseRevokeResponse> =>
      server.propose<LeaseRevokeResponse>({ $case: 'leaseRevoke', value: { ID: req.ID } }),
    leaseKeepAlive: (call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>) => {
      let chain = Promise.resolve();
      call.on('data', (req: LeaseKeepAliveRequest) => {
        // Answer in order, one renewal at a time.
        chain = chain.then(async () => {
          try {
            call.write(await renew(req.ID));
          } catch (err) {
            const e = err as GrpcStatusError;
            call.destroy(Object.assign(new Error(e.message), { code: e.code ?? grpc.status.UNAVAILABLE, details: e.message }));
          }
        });
      });
      call.on('end', () => void chain.then(() => call.end()));
      call.on('error', () => undefined);
    },
    leaseTimeToLive: (req: LeaseTimeToLiveRequest) => timeToLive(req),
    leaseLeases: async (): Promise<LeaseLeasesResponse> => {
      await server.linearizableRead();
      return { header: server.header(), leases: server.lessor.ids().map((ID) => ({ ID })) };
    },
  };
}

/** The peer-side handlers for calls a follower forwards to the leader (registered on the peer server). */
export function peerHandlers(ctx: ApiContext) {
  const lease = leaseService(ctx);
  const cluster = clusterService(ctx);
  return {
    memberPromote: async (req: MemberPromoteRequest) => {
      if (!ctx.server.isLeader) throw Errors.notLeader();
      return cluster.memberPromote(req);
    },
    leaseRenew: async (req: LeaseKeepAliveRequest) => {
      if (!ctx.server.isLeader) throw Errors.notLeader();
      return lease.renew(req.ID);
    },
    leaseTimeToLive: async (req: LeaseTimeToLiveRequest) => {
      if (!ctx.server.isLeader) throw Errors.notLeader();
      return lease.timeToLive(req);
    },
  };
}

/** etcd's readyPercent: how much of the leader's log a learner must hold to be promoted. */
const LEARNER_READY_FRACTION = 0.9;

export function clusterService(ctx: ApiContext) {
  const { server } = ctx;
  const members = () => server.membership.toProto();

  const waitApplied = (check: () => boolean) => server.waitUntil(check);

  /**
   * On the leader: has the learner replicated at least 90% of the leader's
   * log (etcd's readiness rule for promotion)? One that never answered has
   * matched nothing.
   */
  function learnerInSync(id: number): boolean {
    const progress = server.node.status().progress;
    const leaderMatch = progress?.get(server.memberId)?.match ?? 0;
    const learnerMatch = progress?.get(id)?.match ?? 0;
    return learnerMatch >= leaderMatch * LEARNER_READY_FRACTION;
  }

  function validUrls(urls: string[]): boolean {
    return (
      urls.length > 0 &&
      urls.every((u) => {
        try {
          const url = new URL(u);
          return (url.protocol === 'http:' || url.protocol === 'https:') && url.port !== '';
        } catch {
          return false;
        }
      })
    );
  }

  return {
    memberList: async (): Promise<MemberListResponse> => ({ header: server.header(), members: members() }),
    memberAdd: async (req: MemberAddRequest): Promise<MemberAddResponse> => {
      if (!validUrls(req.peerURLs)) throw Errors.memberBadURLs();
      const taken = new Set(server.membership.all().flatMap((m) => m.peerUrls));
      if (req.peerURLs.some((u) => taken.has(u))) throw Errors.peerURLExist();
      const id = deriveMemberId(req.peerURLs, `${ctx.clusterToken}/${Date.now()}/${crypto.randomUUID()}`);
      if (server.membership.get(id)) throw Errors.memberExist();
      const context = Buffer.from(JSON.stringify({ peerUrls: req.peerURLs, isLearner: req.isLearner, name: '', clientUrls: [] }));
      await server.node.proposeConfChange({
        transition: 0,
        changes: [{ type: req.isLearner ? ConfChangeType.ConfChangeAddLearnerNode : ConfChangeType.ConfChangeAddNode, nodeId: id }],
        context,
      });
      await waitApplied(() => server.membership.get(id) !== undefined);
      const added = members().find((m) => m.ID === BigInt(id))!;
      return { header: server.header(), member: added, members: members() };
    },
    memberRemove: async (req: MemberRemoveRequest): Promise<MemberRemoveResponse> => {
      const id = Number(req.ID);
      if (!server.membership.get(id)) throw Errors.memberNotFound();
      await server.node.proposeConfChange({
        transition: 0,
        changes: [{ type: ConfChangeType.ConfChangeRemoveNode, nodeId: id }],
        context: new Uint8Array(),
      });
      await waitApplied(() => server.membership.get(id) === undefined);
      return { header: server.header(), members: members() };
    },
    memberUpdate: async (req: MemberUpdateRequest): Promise<MemberUpdateResponse> => {
      const id = Number(req.ID);
      if (!server.membership.get(id)) throw Errors.memberNotFound();
      if (!validUrls(req.peerURLs)) throw Errors.memberBadURLs();
      const taken = new Set(server.membership.all().filter((m) => m.id !== id).flatMap((m) => m.peerUrls));
      if (req.peerURLs.some((u) => taken.has(u))) throw Errors.peerURLExist();
      const want = [...req.peerURLs];
      // Replicated like MemberAdd: a conf change (UpdateNode leaves Raft's
      // configuration as it is) that every member applies to its membership.
      await server.node.proposeConfChange({
        transition: 0,
        changes: [{ type: ConfChangeType.ConfChangeUpdateNode, nodeId: id }],
        context: Buffer.from(JSON.stringify({ peerUrls: want })),
      });
      await waitApplied(() => server.membership.get(id)?.peerUrls.join(',') === want.join(','));
      return { header: server.header(), members: members() };
    },
    memberPromote: async (req: MemberPromoteRequest): Promise<MemberPromoteResponse> => {
      const id = Number(req.ID);
      const m = server.membership.get(id);
      if (!m) throw Errors.memberNotFound();
      if (!m.isLearner) throw Errors.memberNotLearner();
      // Only the leader tracks how far the learner has replicated: a follower asks it.
      if (!server.isLeader) {
        if (server.leader === 0) throw Errors.noLeader();
        const resp = await ctx.peers.call<MemberPromoteRequest, MemberPromoteResponse>(server.leader, 'memberPromote', req, 10_000);
        await waitApplied(() => server.membership.get(id)?.isLearner === false);
        return { ...resp, header: server.header(), members: members() };
      }
      if (!learnerInSync(id)) throw Errors.learnerNotReady();
      await server.node.proposeConfChange({
        transition: 0,
        changes: [{ type: ConfChangeType.ConfChangeAddNode, nodeId: id }],
        context: new Uint8Array(),
      });
      await waitApplied(() => server.membership.get(id)?.isLearner === false);
      return { header: server.header(), members: members() };
    },
  };
}

export function maintenanceService(ctx: ApiContext) {
  const { server } = ctx;
  return {
    status: async (): Promise<StatusResponse> => {
      const st = server.raftStatus();
      const size = server.dbSize();
      return {
        header: server.header(),
        version: KV_VERSION,
        dbSize: BigInt(size),
        leader: BigInt(st.leader),
        raftIndex: BigInt(st.commit),
        raftTerm: BigInt(st.term),
        raftAppliedIndex: BigInt(st.applied),
        errors: server.activeAlarms.map((a) => (a === 1 ? 'memberID:' + server.memberId.toString(16) + ' alarm:NOSPACE' : `alarm:${a}`)),
        dbSizeInUse: BigInt(size),
        isLearner: server.membership.get(server.memberId)?.isLearner ?? false,
      };
    },
    alarm: async (req: AlarmRequest): Promise<AlarmResponse> => {
      if (req.action === AlarmRequest_AlarmAction.GET) {
        return { header: server.header(), alarms: server.activeAlarms.map((alarm) => ({ memberID: BigInt(server.memberId), alarm })) };
      }
      return server.propose<AlarmResponse>({ $case: 'alarm', value: req });
    },
    defragment: async (): Promise<DefragmentResponse> => ({ header: server.header() }),
    hash: async (): Promise<HashResponse> => {
      const h = server.store.hashKV(0);
      return { header: server.header(), hash: h.hash };
    },
    hashKv: async (req: HashKVRequest): Promise<HashKVResponse> => {
      const h = local(() => {
        try {
          return server.store.hashKV(Number(req.revision));
        } catch (err) {
          return mvccToApply(err);
        }
      });
      return { header: server.header(h.rev), hash: h.hash, compactRevision: BigInt(h.compactRev) };
    },
    snapshot: (call: grpc.ServerWritableStream<unknown, SnapshotResponse>) => {
      let file: Buffer;
      try {
        file = encodeSnapshotFile(server.exportState());
      } catch (err) {
        ctx.log.error({ err }, 'snapshot failed');
        call.destroy(Object.assign(new Error('etcdserver: snapshot failed'), { code: grpc.status.INTERNAL }));
        return;
      }
      const chunk = 32 * 1024;
      let offset = 0;
      const header = server.header();
      const pump = () => {
        while (offset < file.length) {
          const blob = file.subarray(offset, Math.min(file.length, offset + chunk));
          offset += blob.length;
          const more = call.write({ header, remainingBytes: BigInt(file.length - offset), blob });
          if (!more) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
      };
      pump();
    },
    moveLeader: async (req: MoveLeaderRequest): Promise<MoveLeaderResponse> => {
      if (!server.isLeader) throw Errors.notLeader();
      const target = Number(req.targetID);
      const m = server.membership.get(target);
      if (!m || m.isLearner) throw Errors.badLeaderTransferee();
      server.node.transferLeadership(target);
      await server.waitUntil(() => server.leader === target);
      return { header: server.header() };
    },
  };
}

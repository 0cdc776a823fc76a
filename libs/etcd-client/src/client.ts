import * as grpc from '@grpc/grpc-js';
import {
  ClusterClient,
  KVClient,
  LeaseClient,
  MaintenanceClient,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  WatchClient,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseTimeToLiveResponse,
  type MemberAddRequest,
  type MemberPromoteRequest,
  type MemberPromoteResponse,
  type MemberAddResponse,
  type MemberListResponse,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
  type WatchRequest,
  type WatchResponse,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import type { Event, KeyValue } from '@kubets/proto/etcd/mvccpb/kv';
import { rangeRequest } from './ops';

/**
 * A small etcd v3 client (the parts kubets needs), for kubets-kv and for a
 * real etcd 3.4 alike: KV, Txn, Watch with transparent resumption, Lease and
 * Maintenance/Cluster calls, spread over several endpoints with failover.
 *
 * Retries: reads (Range, read-only calls) move to the next endpoint and retry
 * when an endpoint is unreachable or has no leader. Writes are retried only
 * when the request surely did not reach a server (the connection could not be
 * made); otherwise the error is returned and the outcome is unknown, as with
 * clientv3.
 */

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of one call on one endpoint. Default 5 s. */
  callTimeoutMs?: number;
  /** Overall deadline of an operation including retries. Default 15 s. */
  operationTimeoutMs?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions;
}

export class EtcdError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly endpoint: string,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** The range end that makes `key` a prefix query (etcd's rule). */
export function prefixEnd(key: Uint8Array | string): Buffer {
  const k = Buffer.from(key);
  for (let i = k.length - 1; i >= 0; i--) {
    if (k[i]! < 0xff) {
      const end = Buffer.from(k.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  return Buffer.from([0]); // every byte is 0xff: all keys from key on
}

function bytes(v: Uint8Array | string | undefined): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(v) ? v : Buffer.from(v);
}

export interface GetOptions {
  prefix?: boolean;
  rangeEnd?: Uint8Array | string;
  revision?: number;
  limit?: number;
  keysOnly?: boolean;
  countOnly?: boolean;
  serializable?: boolean;
  sort?: { target: 'key' | 'version' | 'create' | 'mod' | 'value'; order: 'ascend' | 'descend' };
}

const SORT_TARGETS = {
  key: RangeRequest_SortTarget.KEY,
  version: RangeRequest_SortTarget.VERSION,
  create: RangeRequest_SortTarget.CREATE,
  mod: RangeRequest_SortTarget.MOD,
  value: RangeRequest_SortTarget.VALUE,
};

/** Errors that mean "this endpoint could not serve; another may". */
function isRetryable(err: grpc.ServiceError): boolean {
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) return true;
  return /etcdserver: (no leader|leader changed|request timed out|server stopped)/.test(err.details ?? '');
}

/**
 * The connection could not be made: the request never reached a server, so a
 * write may go to another member. A connection that dropped or was reset
 * after the call started is not such a case: the member may have proposed
 * (and the cluster applied) the write, so repeating it elsewhere could apply
 * it twice; the caller gets the error, an outcome it has to treat as unknown,
 * as with etcd's own client.
 */
function surelyNotSent(err: { code?: number; details?: string }): boolean {
  return err.code === grpc.status.UNAVAILABLE && /(ECONNREFUSED|No connection established|failed to connect)/i.test(err.details ?? '');
}

interface Channel {
  endpoint: string;
  kv: KVClient;
  watch: WatchClient;
  lease: LeaseClient;
  cluster: ClusterClient;
  maintenance: MaintenanceClient;
}

type Unary<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

export class EtcdClient {
  private readonly channels: Channel[];
  private current = 0;
  private closed = false;
  private readonly watchers = new Set<Watcher>();
  readonly callTimeoutMs: number;
  readonly operationTimeoutMs: number;

  constructor(readonly options: EtcdClientOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdClient needs at least one endpoint');
    this.callTimeoutMs = options.callTimeoutMs ?? 5_000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? 15_000;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      'grpc.keepalive_time_ms': 10_000,
      ...options.channelOptions,
    };
    this.channels = options.endpoints.map((ep) => {
      const target = ep.replace(/^https?:\/\//, '');
      const creds = grpc.credentials.createInsecure();
      return {
        endpoint: target,
        kv: new KVClient(target, creds, channelOptions),
        watch: new WatchClient(target, creds, channelOptions),
        lease: new LeaseClient(target, creds, channelOptions),
        cluster: new ClusterClient(target, creds, channelOptions),
        maintenance: new MaintenanceClient(target, creds, channelOptions),
      };
    });
  }

  get endpoints(): string[] {
    return this.channels.map((c) => c.endpoint);
  }

  /** Call on the current endpoint, moving on to the next one on retryable errors. */
  private async call<Req, Res>(pick: (c: Channel) => Unary<Req, Res>, req: Req, write: boolean): Promise<Res> {
    if (this.closed) throw new Error('client is closed');
    const deadline = Date.now() + this.operationTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const channel = this.channels[this.current % this.channels.length]!;
      try {
        return await new Promise<Res>((resolve, reject) => {
          pick(channel)(req, new grpc.Metadata(), { deadline: Math.min(deadline, Date.now() + this.callTimeoutMs) }, (err, res) =>
            err ? reject(err) : resolve(res),
          );
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        const retry = write ? surelyNotSent(err) : isRetryable(err);
        if (!retry || Date.now() >= deadline || this.closed) {
          throw new EtcdError(err.code ?? grpc.status.UNKNOWN, err.details || err.message, channel.endpoint);
        }
        this.current++;
        if (attempt >= this.channels.length - 1) await new Promise((r) => setTimeout(r, Math.min(200, 20 * attempt)));
      }
    }
  }

  // ------------------------------------------------------------------- KV

  range(req: Partial<RangeRequest> & { key: Uint8Array }): Promise<RangeResponse> {
    const full = rangeRequest(req);
    return this.call((c) => c.kv.range.bind(c.kv) as Unary<RangeRequest, RangeResponse>, full, false);
  }

  get(key: Uint8Array | string, opts: GetOptions = {}): Promise<RangeResponse> {
    const k = bytes(key);
    return this.range({
      key: k,
      rangeEnd: opts.prefix ? prefixEnd(k) : bytes(opts.rangeEnd),
      revision: BigInt(opts.revision ?? 0),
      limit: BigInt(opts.limit ?? 0),
      keysOnly: opts.keysOnly ?? false,
      countOnly: opts.countOnly ?? false,
      serializable: opts.serializable ?? false,
      sortOrder: opts.sort ? (opts.sort.order === 'ascend' ? RangeRequest_SortOrder.ASCEND : RangeRequest_SortOrder.DESCEND) : 0,
      sortTarget: opts.sort ? SORT_TARGETS[opts.sort.target] : 0,
    });
  }

  put(key: Uint8Array | string, value: Uint8Array | string, opts: { lease?: bigint; prevKv?: boolean } = {}): Promise<PutResponse> {
    return this.call(
      (c) => c.kv.put.bind(c.kv) as Unary<unknown, PutResponse>,
      { key: bytes(key), value: bytes(value), lease: opts.lease ?? 0n, prevKv: opts.prevKv ?? false, ignoreValue: false, ignoreLease: false },
      true,
    );
  }

  delete(key: Uint8Array | string, opts: { prefix?: boolean; prevKv?: boolean } = {}): Promise<DeleteRangeResponse> {
    const k = bytes(key);
    return this.call(
      (c) => c.kv.deleteRange.bind(c.kv) as Unary<unknown, DeleteRangeResponse>,
      { key: k, rangeEnd: opts.prefix ? prefixEnd(k) : Buffer.alloc(0), prevKv: opts.prevKv ?? false },
      true,
    );
  }

  txn(req: TxnRequest): Promise<TxnResponse> {
    const readOnly = [...req.success, ...req.failure].every((op) => op.request?.$case === 'requestRange');
    return this.call((c) => c.kv.txn.bind(c.kv) as Unary<TxnRequest, TxnResponse>, req, !readOnly);
  }

  compact(revision: number, physical = false): Promise<unknown> {
    return this.call((c) => c.kv.compact.bind(c.kv) as Unary<unknown, unknown>, { revision: BigInt(revision), physical }, true);
  }

  // ---------------------------------------------------------------- lease

  leaseGrant(ttlSeconds: number, id = 0n): Promise<LeaseGrantResponse> {
    return this.call((c) => c.lease.leaseGrant.bind(c.lease) as Unary<unknown, LeaseGrantResponse>, { TTL: BigInt(ttlSeconds), ID: id }, true);
  }

  leaseRevoke(id: bigint): Promise<unknown> {
    return this.call((c) => c.lease.leaseRevoke.bind(c.lease) as Unary<unknown, unknown>, { ID: id }, true);
  }

  leaseTimeToLive(id: bigint, keys = false): Promise<LeaseTimeToLiveResponse> {
    return this.call((c) => c.lease.leaseTimeToLive.bind(c.lease) as Unary<unknown, LeaseTimeToLiveResponse>, { ID: id, keys }, false);
  }

  /** One keep-alive round trip on a fresh stream; resolves with the TTL granted (<= 0: expired). */
  async leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse> {
    const deadline = Date.now() + this.operationTimeoutMs;
    for (;;) {
      const channel = this.channels[this.current % this.channels.length]!;
      try {
        return await new Promise<LeaseKeepAliveResponse>((resolve, reject) => {
          const stream = channel.lease.leaseKeepAlive({ deadline: Date.now() + this.callTimeoutMs });
          stream.on('data', (r: LeaseKeepAliveResponse) => {
            resolve(r);
            stream.cancel();
          });
          stream.on('error', (e: grpc.ServiceError) => {
            if (e.code !== grpc.status.CANCELLED) reject(e);
          });
          stream.write({ ID: id });
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        if (!isRetryable(err) || Date.now() >= deadline) throw new EtcdError(err.code, err.details || err.message, channel.endpoint);
        this.current++;
      }
    }
  }

  // ------------------------------------------------------- maintenance

  status(endpointIndex?: number): Promise<StatusResponse> {
    if (endpointIndex === undefined) {
      return this.call((c) => c.maintenance.status.bind(c.maintenance) as Unary<unknown, StatusResponse>, {}, false);
    }
    const c = this.channels[endpointIndex]!;
    return new Promise((resolve, reject) =>
      c.maintenance.status({}, new grpc.Metadata(), { deadline: Date.now() + this.callTimeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
    );
  }

  memberList(): Promise<MemberListResponse> {
    return this.call((c) => c.cluster.memberList.bind(c.cluster) as Unary<unknown, MemberListResponse>, {}, false);
  }

  /** etcdctl member add: a voting member (or a learner) with these peer URLs; the member starts later with --initial-cluster-state existing. */
  memberAdd(peerURLs: string[], isLearner = false): Promise<MemberAddResponse> {
    const req: MemberAddRequest = { peerURLs, isLearner };
    return this.call((c) => c.cluster.memberAdd.bind(c.cluster) as Unary<MemberAddRequest, MemberAddResponse>, req, true);
  }

  /** etcdctl member promote: a learner becomes a voter (refused until it is in sync with the leader). */
  memberPromote(id: bigint): Promise<MemberPromoteResponse> {
    const req: MemberPromoteRequest = { ID: id };
    return this.call((c) => c.cluster.memberPromote.bind(c.cluster) as Unary<MemberPromoteRequest, MemberPromoteResponse>, req, true);
  }

  // ---------------------------------------------------------------- watch

  /**
   * Watch a key or prefix from a revision (0: from now). Events arrive in
   * order through `onEvents`; if the stream breaks (member died), the watch
   * resumes on another endpoint from the revision after the last event seen,
   * so the handler sees every event exactly once. A compacted start revision
   * ends the watch with `onError`.
   */
  watch(
    key: Uint8Array | string,
    opts: { prefix?: boolean; startRevision?: number; prevKv?: boolean; progressNotify?: boolean },
    onEvents: (events: Event[], header: WatchResponse['header']) => void,
    onError?: (err: Error) => void,
  ): Watcher {
    const w = new Watcher(this, bytes(key), opts, onEvents, onError);
    this.watchers.add(w);
    w.open();
    return w;
  }

  /** @internal */
  nextWatchChannel(): WatchClient {
    return this.channels[this.current++ % this.channels.length]!.watch;
  }

  /** @internal */
  forget(w: Watcher): void {
    this.watchers.delete(w);
  }

  close(): void {
    this.closed = true;
    for (const w of [...this.watchers]) w.cancel();
    for (const c of this.channels) {
      for (const client of [c.kv, c.watch, c.lease, c.cluster, c.maintenance]) client.close();
    }
  }
}

export class Watcher {
  private stream: grpc.ClientDuplexStream<WatchRequest, WatchResponse> | undefined;
  private nextRev: number;
  private cancelled = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: EtcdClient,
    private readonly key: Buffer,
    private readonly opts: { prefix?: boolean; startRevision?: number; prevKv?: boolean; progressNotify?: boolean },
    private readonly onEvents: (events: Event[], header: WatchResponse['header']) => void,
    private readonly onError?: (err: Error) => void,
  ) {
    this.nextRev = opts.startRevision ?? 0;
  }

  /** The revision the watch resumes from after a reconnect. */
  get resumeRevision(): number {
    return this.nextRev;
  }

  open(): void {
    if (this.cancelled) return;
    const stream = this.client.nextWatchChannel().watch();
    this.stream = stream;
    let created = false;
    stream.on('data', (r: WatchResponse) => {
      if (r.created && !created) {
        created = true;
        // A watch from "now" resumes after the revision it was created at.
        if (this.nextRev === 0 && r.header) this.nextRev = Number(r.header.revision) + 1;
      }
      if (r.canceled) {
        this.cancel();
        const reason = r.compactRevision > 0n ? `etcdserver: mvcc: required revision has been compacted (compact revision ${r.compactRevision})` : r.cancelReason || 'watch canceled';
        this.onError?.(new Error(reason));
        return;
      }
      if (r.events.length > 0) {
        this.nextRev = Number(r.events[r.events.length - 1]!.kv!.modRevision) + 1;
        this.onEvents(r.events, r.header);
      } else if (r.header && created && !r.created) {
        this.onEvents([], r.header);
      }
    });
    const reopen = () => {
      if (this.cancelled || this.stream !== stream) return;
      this.stream = undefined;
      this.retryTimer = setTimeout(() => this.open(), 100);
    };
    stream.on('error', reopen);
    stream.on('end', reopen);
    stream.write({
      requestUnion: {
        $case: 'createRequest',
        value: {
          key: this.key,
          rangeEnd: this.opts.prefix ? prefixEnd(this.key) : Buffer.alloc(0),
          startRevision: BigInt(this.nextRev),
          progressNotify: this.opts.progressNotify ?? false,
          filters: [],
          prevKv: this.opts.prevKv ?? false,
          watchId: 0n,
          fragment: false,
        },
      },
    });
  }

  /**
   * Ask the server for a progress notification (etcd's WatchProgressRequest):
   * it answers with the current revision once every event up to it has been
   * sent on this stream; it arrives as onEvents([], header).
   */
  requestProgress(): boolean {
    if (!this.stream || this.cancelled) return false;
    this.stream.write({ requestUnion: { $case: 'progressRequest', value: {} } });
    return true;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stream?.cancel();
    this.stream = undefined;
    this.client.forget(this);
  }
}

export type { KeyValue, Event };

import * as grpc from '@grpc/grpc-js';
import {
  LeaseKeepAliveRequest,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  MemberListRequest,
  MemberListResponse,
  MemberPromoteRequest,
  MemberPromoteResponse,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import { GrpcStatusError } from '@kubets/service-kit';
import type { Logger } from 'pino';
import { codec, MessageType, SnapshotStatus, type Message } from 'raft-consensus-ts';

/**
 * Raft traffic between members over gRPC (service kubets.kv.v1.RaftPeer).
 *
 * Each member keeps one client stream open to every peer and writes one
 * RaftBatch per Ready; the stream preserves order. Batches are encoded by
 * hand: cluster_id and from as varints, each message as field 3 in raftpb
 * encoding produced by raft-consensus-ts's codec, which is exactly what
 * peer.proto describes (so reflection shows the real schema) without an
 * extra conversion step.
 *
 * A peer that cannot be reached is reported to Raft as unreachable; its
 * stream is re-created on the next send, at most every `retryMs`.
 */

export interface RaftBatch {
  clusterId: bigint;
  from: bigint;
  messages: Message[];
}

function writeVarint(out: number[], value: bigint): void {
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
  throw new Error('varint too long');
}

export function encodeBatch(batch: RaftBatch): Buffer {
  const head: number[] = [];
  head.push(0x08);
  writeVarint(head, batch.clusterId);
  head.push(0x10);
  writeVarint(head, batch.from);
  const parts: Uint8Array[] = [Uint8Array.from(head)];
  for (const m of batch.messages) {
    const body = codec.encodeMessage(m);
    const prefix: number[] = [0x1a];
    writeVarint(prefix, BigInt(body.length));
    parts.push(Uint8Array.from(prefix), body);
  }
  return Buffer.concat(parts);
}

export function decodeBatch(buf: Uint8Array): RaftBatch {
  const batch: RaftBatch = { clusterId: 0n, from: 0n, messages: [] };
  let pos = 0;
  while (pos < buf.length) {
    const [tag, next] = readVarint(buf, pos);
    pos = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [v, after] = readVarint(buf, pos);
      pos = after;
      if (field === 1) batch.clusterId = v;
      else if (field === 2) batch.from = v;
    } else if (wire === 2) {
      const [len, after] = readVarint(buf, pos);
      const end = after + Number(len);
      if (end > buf.length) throw new Error('truncated message');
      if (field === 3) batch.messages.push(codec.decodeMessage(buf.subarray(after, end)));
      pos = end;
    } else {
      throw new Error(`unexpected wire type ${wire}`);
    }
  }
  return batch;
}

const EMPTY = Buffer.alloc(0);

interface ProtoCodec<T> {
  encode(v: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

/** A unary method of kubets.kv.v1.RaftPeer with ts-proto codecs. */
function unary<Req, Res>(method: string, req: ProtoCodec<Req>, res: ProtoCodec<Res>) {
  return {
    path: `/kubets.kv.v1.RaftPeer/${method}`,
    requestStream: false as const,
    responseStream: false as const,
    requestSerialize: (v: Req) => Buffer.from(req.encode(v).finish()),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (v: Res) => Buffer.from(res.encode(v).finish()),
    responseDeserialize: (b: Buffer) => res.decode(b),
  };
}

/** The grpc-js definition of kubets.kv.v1.RaftPeer with the hand-written batch codec. */
export const RaftPeerService = {
  stream: {
    path: '/kubets.kv.v1.RaftPeer/Stream',
    requestStream: true,
    responseStream: false,
    requestSerialize: (b: RaftBatch) => encodeBatch(b),
    requestDeserialize: (b: Buffer) => decodeBatch(b),
    responseSerialize: () => EMPTY,
    responseDeserialize: () => ({}),
  },
  leaseRenew: unary('LeaseRenew', LeaseKeepAliveRequest, LeaseKeepAliveResponse),
  leaseTimeToLive: unary('LeaseTimeToLive', LeaseTimeToLiveRequest, LeaseTimeToLiveResponse),
  members: unary('Members', MemberListRequest, MemberListResponse),
  memberPromote: unary('MemberPromote', MemberPromoteRequest, MemberPromoteResponse),
} satisfies grpc.ServiceDefinition;

/** Ask a member, on its peer URL, for the cluster's membership (used by a joining member). */
export function fetchMembers(peerUrl: string, timeoutMs = 5_000): Promise<MemberListResponse> {
  const client = new grpc.Client(grpcTarget(peerUrl), grpc.credentials.createInsecure());
  const d = RaftPeerService.members;
  return new Promise<MemberListResponse>((resolve, reject) => {
    client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, {}, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(err) : resolve(res as MemberListResponse),
    );
  }).finally(() => client.close());
}

/** host:port for a peer URL such as http://127.0.0.1:2380. */
export function grpcTarget(url: string): string {
  const u = new URL(url);
  const host = u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname;
  return `${host}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_send_message_length': -1,
  'grpc.max_receive_message_length': -1,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
};

interface PeerConn {
  url: string;
  client: grpc.Client;
  stream: grpc.ClientWritableStream<RaftBatch> | undefined;
  lastFailure: number;
}

export interface PeerTransportOptions {
  memberId: number;
  clusterId: () => number;
  log: Logger;
  /** Where each peer listens (member id -> peer URLs). */
  peerUrls: (id: number) => string[] | undefined;
  reportUnreachable(id: number): void;
  reportSnapshot(id: number, status: SnapshotStatus): void;
  retryMs?: number;
}

export class PeerTransport {
  private readonly peers = new Map<number, PeerConn>();
  private closed = false;

  constructor(private readonly opts: PeerTransportOptions) {}

  /** Group messages by destination and write one batch per peer. Never throws. */
  send(messages: Message[]): void {
    if (this.closed) return;
    const byPeer = new Map<number, Message[]>();
    for (const m of messages) {
      let list = byPeer.get(m.to);
      if (!list) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, list] of byPeer) this.sendTo(to, list);
  }

  private conn(to: number): PeerConn | undefined {
    const urls = this.opts.peerUrls(to);
    if (!urls || urls.length === 0) return undefined;
    let conn = this.peers.get(to);
    if (conn && conn.url !== urls[0]) {
      conn.stream?.end();
      conn.client.close();
      conn = undefined;
    }
    if (!conn) {
      conn = {
        url: urls[0]!,
        client: new grpc.Client(grpcTarget(urls[0]!), grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
        stream: undefined,
        lastFailure: 0,
      };
      this.peers.set(to, conn);
    }
    return conn;
  }

  private sendTo(to: number, messages: Message[]): void {
    const conn = this.conn(to);
    const snaps = messages.filter((m) => m.type === MessageType.MsgSnap);
    if (!conn) {
      this.opts.reportUnreachable(to);
      for (const _ of snaps) this.opts.reportSnapshot(to, SnapshotStatus.SnapshotFailure);
      return;
    }
    if (!conn.stream) {
      if (Date.now() - conn.lastFailure < (this.opts.retryMs ?? 100)) {
        this.opts.reportUnreachable(to);
        for (const _ of snaps) this.opts.reportSnapshot(to, SnapshotStatus.SnapshotFailure);
        return;
      }
      conn.stream = this.openStream(to, conn);
    }
    const stream = conn.stream;
    // A stream that is far behind is as good as unreachable: drop rather than buffer without bound.
    if (stream.writableLength > 64 * 1024 * 1024) {
      this.opts.reportUnreachable(to);
      for (const _ of snaps) this.opts.reportSnapshot(to, SnapshotStatus.SnapshotFailure);
      return;
    }
    const batch: RaftBatch = { clusterId: BigInt(this.opts.clusterId()), from: BigInt(this.opts.memberId), messages };
    stream.write(batch, (err: Error | null | undefined) => {
      for (const _ of snaps) this.opts.reportSnapshot(to, err ? SnapshotStatus.SnapshotFailure : SnapshotStatus.SnapshotFinish);
    });
  }

  private openStream(to: number, conn: PeerConn): grpc.ClientWritableStream<RaftBatch> {
    const d = RaftPeerService.stream;
    const stream = conn.client.makeClientStreamRequest<RaftBatch, Record<string, never>>(
      d.path,
      d.requestSerialize,
      d.responseDeserialize as (b: Buffer) => Record<string, never>,
      (err) => {
        if (err && !this.closed) {
          if (conn.stream === stream) conn.stream = undefined;
          conn.lastFailure = Date.now();
          this.opts.log.debug({ peer: to.toString(16), err: err.message }, 'peer stream closed');
          this.opts.reportUnreachable(to);
        }
      },
    );
    stream.on('error', () => {
      // Reported through the callback above.
    });
    return stream;
  }

  /** Unary call to a peer (lease forwarding). */
  call<Req, Res>(to: number, method: 'leaseRenew' | 'leaseTimeToLive' | 'memberPromote', request: Req, timeoutMs: number): Promise<Res> {
    const conn = this.conn(to);
    if (!conn) return Promise.reject(new Error(`no address for member ${to.toString(16)}`));
    const d = RaftPeerService[method] as unknown as grpc.MethodDefinition<Req, Res>;
    return new Promise((resolve, reject) => {
      conn.client.makeUnaryRequest(
        d.path,
        d.requestSerialize,
        d.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        // The leader's answer reaches the client as it is (etcd's code and message).
        (err, res) => (err ? reject(new GrpcStatusError(err.code, err.details || err.message)) : resolve(res as Res)),
      );
    });
  }

  close(): void {
    this.closed = true;
    for (const conn of this.peers.values()) {
      conn.stream?.end();
      conn.client.close();
    }
    this.peers.clear();
  }
}

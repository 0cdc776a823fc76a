import {
  appendSnapshotHash,
  decodeEtcdSnapshot,
  encodeEtcdSnapshot,
  splitSnapshotHash,
  type EtcdSnapshot,
} from '@kubets/bbolt';
import type { KeyValue } from '@kubets/proto/etcd/mvccpb/kv';
import type { SnapshotRevision } from '../mvcc/store';
import type { MemberRecord } from '../server/members';

/**
 * kubets-kv's snapshots are etcd 3.4 databases (bbolt files): the state
 * machine is written in etcd's layout (buckets key, meta, lease, members,
 * members_removed, cluster, alarm, auth*), plus one bucket `kubets` with what
 * etcd keeps elsewhere (cluster id, current revision, Raft term). The same
 * bytes serve as the Raft snapshot, as the Maintenance.Snapshot stream (with
 * the sha256 etcdctl checks appended) and as the input of `kubets-kv restore`
 * and etcd's own `etcdctl snapshot restore`.
 */

export interface KvState {
  revisions: SnapshotRevision[];
  compactRev: number;
  currentRev: number;
  /** The Raft index the state includes (etcd's consistent_index). */
  consistentIndex: number;
  term: number;
  leases: Array<{ id: bigint; ttl: number }>;
  members: MemberRecord[];
  removed: number[];
  clusterId: number;
  alarms: number[];
}

const KUBETS_BUCKET = 'kubets';

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function encodeState(state: KvState): Buffer {
  return encodeEtcdSnapshot({
    revisions: state.revisions.map((r) => ({
      main: r.main,
      sub: r.sub,
      tombstone: r.tombstone,
      kv: {
        key: r.kv.key,
        createRevision: r.kv.createRevision,
        modRevision: r.kv.modRevision,
        version: r.kv.version,
        value: r.kv.value,
        lease: r.kv.lease,
      },
    })),
    consistentIndex: state.consistentIndex,
    compactRevision: state.compactRev > 0 ? state.compactRev : undefined,
    leases: state.leases.map((l) => ({ id: l.id, ttl: l.ttl })),
    members: state.members.map((m) => ({
      id: m.id,
      peerURLs: m.peerUrls,
      isLearner: m.isLearner,
      name: m.name,
      clientURLs: m.clientUrls,
    })),
    removedMembers: state.removed,
    clusterVersion: '3.4.0',
    alarms: state.alarms.map((alarm) => ({ memberId: 0, alarm })),
    extraBuckets: [
      {
        name: KUBETS_BUCKET,
        entries: [
          [Buffer.from('cluster_id'), u64(state.clusterId)],
          [Buffer.from('current_rev'), u64(state.currentRev)],
          [Buffer.from('term'), u64(state.term)],
        ],
      },
    ],
  });
}

function toKeyValue(kv: EtcdSnapshot['revisions'][number]['kv']): KeyValue {
  return {
    key: kv.key,
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    value: kv.value,
    lease: kv.lease,
  };
}

/** Decode a snapshot written by kubets-kv or by etcd (with or without the trailing sha256). */
export function decodeState(bytes: Uint8Array): KvState {
  const { db } = splitSnapshotHash(bytes);
  const snap = decodeEtcdSnapshot(db);
  const extra = new Map<string, bigint>();
  const bucket = snap.extraBuckets?.find((b) => Buffer.from(b.name).toString() === KUBETS_BUCKET);
  for (const [k, v] of bucket?.entries ?? []) {
    if (v.length === 8) extra.set(Buffer.from(k).toString(), Buffer.from(v).readBigUInt64BE());
  }
  const revisions: SnapshotRevision[] = snap.revisions.map((r) => ({ main: r.main, sub: r.sub, tombstone: r.tombstone, kv: toKeyValue(r.kv) }));
  const maxMain = revisions.reduce((m, r) => Math.max(m, r.main), 1);
  return {
    revisions,
    compactRev: snap.compactRevision ?? -1,
    currentRev: Number(extra.get('current_rev') ?? BigInt(Math.max(maxMain, snap.compactRevision ?? 0))),
    consistentIndex: Number(snap.consistentIndex),
    term: Number(extra.get('term') ?? 0n),
    leases: snap.leases.map((l) => ({ id: l.id, ttl: l.ttl })),
    members: snap.members.map((m) => ({
      id: Number(m.id),
      name: m.name,
      peerUrls: m.peerURLs,
      clientUrls: m.clientURLs,
      isLearner: m.isLearner,
    })),
    removed: snap.removedMembers.map((id) => Number(id)),
    clusterId: Number(extra.get('cluster_id') ?? 0n),
    alarms: snap.alarms.map((a) => a.alarm),
  };
}

/** What Maintenance.Snapshot streams: the database followed by its sha256. */
export function encodeSnapshotFile(state: KvState): Buffer {
  return appendSnapshotHash(encodeState(state));
}

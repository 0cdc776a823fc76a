import fs from 'node:fs';
import path from 'node:path';
import { splitSnapshotHash } from '@kubets/bbolt';
import { WalStorage } from 'raft-consensus-ts';
import { clusterId as deriveClusterId, memberId as deriveMemberId, parseInitialCluster } from './server/members';
import { decodeState, encodeState } from './snapshot/state';

export interface RestoreOptions {
  snapshotFile: string;
  name: string;
  dataDir: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string[];
  skipHashCheck: boolean;
}

/**
 * `kubets-kv restore FILE`: turn a snapshot (from `etcdctl snapshot save`
 * against kubets-kv or against etcd 3.4) into the data directory of a member
 * of a NEW cluster, like `etcdctl snapshot restore`. Run it once per member
 * with the same file, --initial-cluster and --initial-cluster-token, then
 * start the members on their data directories.
 *
 * The keyspace, revisions, compaction and leases come from the snapshot; the
 * membership is replaced by --initial-cluster, and the Raft log starts from
 * a snapshot at index = number of members, term 1, which every member
 * therefore holds identically.
 */
export function restore(opts: RestoreOptions): { memberId: number; clusterId: number; revision: number } {
  const file = fs.readFileSync(opts.snapshotFile);
  const hasHash = file.length % 512 === 32;
  if (!hasHash && !opts.skipHashCheck) {
    throw new Error(`snapshot ${opts.snapshotFile} has no trailing sha256 (size % 512 != 32); pass --skip-hash-check to restore it anyway (e.g. a copied db file)`);
  }
  // Verifies the hash when present (throws on mismatch).
  splitSnapshotHash(file);
  if (fs.existsSync(opts.dataDir) && fs.readdirSync(opts.dataDir).length > 0) {
    throw new Error(`data-dir "${opts.dataDir}" exists and is not empty`);
  }
  const members = [...parseInitialCluster(opts.initialCluster)].map(([name, peerUrls]) => ({
    name,
    id: deriveMemberId(peerUrls, opts.initialClusterToken),
    peerUrls,
  }));
  const me = members.find((m) => m.name === opts.name);
  if (!me) throw new Error(`--initial-cluster has no member named "${opts.name}"`);
  if ([...me.peerUrls].sort().join(',') !== [...opts.initialAdvertisePeerUrls].sort().join(',')) {
    throw new Error(`--initial-cluster has ${opts.name}=${me.peerUrls.join(',')} but --initial-advertise-peer-urls is ${opts.initialAdvertisePeerUrls.join(',')}`);
  }
  const clusterId = deriveClusterId(members.map((m) => m.id));
  const state = decodeState(file);
  const index = members.length;
  state.members = members.map((m) => ({ id: m.id, name: '', peerUrls: m.peerUrls, clientUrls: [], isLearner: false }));
  state.removed = [];
  state.clusterId = clusterId;
  state.consistentIndex = index;
  state.term = 1;
  state.alarms = [];

  const walDir = path.join(opts.dataDir, 'member');
  fs.mkdirSync(walDir, { recursive: true });
  const storage = WalStorage.open(walDir);
  try {
    const confState = { voters: members.map((m) => m.id), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    storage.save(
      { term: 1, vote: 0, commit: index },
      [],
      { data: encodeState(state), metadata: { index, term: 1, confState } },
      true,
    );
  } finally {
    storage.close();
  }
  fs.writeFileSync(path.join(opts.dataDir, 'identity.json'), JSON.stringify({ memberId: me.id, clusterId }));
  return { memberId: me.id, clusterId, revision: state.currentRev };
}

/**
 * @kubets/bbolt: read and write bbolt (go.etcd.io/bbolt) database files in
 * pure TypeScript, and the etcd v3.4 backend snapshot that is such a file.
 *
 * - writeBolt(buckets) builds a compact, fully packed bbolt file;
 *   readBolt(file) reads it all back; openBolt(file) reads lazily
 *   (bucket(name).get(key), forEach) and checks the file like bbolt's Tx.Check.
 * - encodeEtcdSnapshot / decodeEtcdSnapshot map etcd 3.4's buckets (key,
 *   meta, lease, members, ...) to plain data; appendSnapshotHash adds the
 *   sha256 that `etcdctl snapshot save/restore` expect; etcdSnapshotStatus
 *   computes what `etcdctl snapshot status` prints.
 */
export { writeBolt } from './writer';
export { readBolt, openBolt, BoltDB, BoltBucketReader } from './reader';
export type { BoltValue } from './reader';
export type { BoltBucket, BoltEntry, BoltMeta, ReadBucket, WriteBoltOptions } from './types';
export { BoltCorruptionError, BoltWriteError, EtcdSnapshotError } from './errors';
export { DEFAULT_PAGE_SIZE, MAX_KEY_SIZE, MAX_VALUE_SIZE, fnv1a64 } from './format';
export { crc32c, Crc32c } from './crc32c';
export {
  ETCD_BUCKETS,
  ETCD_META_KEYS,
  REVISION_KEY_LENGTH,
  ALARM_NOSPACE,
  ALARM_CORRUPT,
  encodeEtcdSnapshot,
  decodeEtcdSnapshot,
  appendSnapshotHash,
  splitSnapshotHash,
  etcdSnapshotStatus,
  encodeRevisionKey,
  decodeRevisionKey,
  encodeKeyValue,
  decodeKeyValue,
  encodeLease,
  decodeLease,
  encodeMember,
  decodeMember,
} from './etcd';
export type {
  EtcdSnapshot,
  EtcdSnapshotInput,
  EtcdSnapshotStatus,
  EtcdRevision,
  EtcdRevisionInput,
  EtcdKeyValue,
  EtcdKeyValueInput,
  EtcdLease,
  EtcdLeaseInput,
  EtcdMember,
  EtcdMemberInput,
  EtcdAlarm,
} from './etcd';

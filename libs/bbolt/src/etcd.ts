/**
 * etcd v3.4 backend snapshots: the bbolt database etcd keeps in
 * member/snap/db, which `etcdctl snapshot save` streams (with a sha256 of it
 * appended) and `etcdctl snapshot restore` loads.
 *
 * The buckets etcd 3.4 keeps, and what they hold:
 * - `key`: one entry per MVCC revision. The key is the revision: 8-byte
 *   big-endian main revision, '_', 8-byte big-endian sub revision, and a
 *   trailing 't' for a deletion (tombstone). The value is an
 *   mvccpb.KeyValue {1 key, 2 create_revision, 3 mod_revision, 4 version,
 *   5 value, 6 lease}; a tombstone's value carries only the key.
 * - `meta`: `consistent_index` (8-byte big-endian raft index of the last
 *   applied write), `finishedCompactRev` and `scheduledCompactRev` (17-byte
 *   revisions, sub 0) once the keyspace has been compacted.
 * - `lease`: 8-byte big-endian lease ID → leasepb.Lease {1 ID, 2 TTL, 3 RemainingTTL}.
 * - `members`: hex member ID → the member as JSON; `members_removed`: hex ID → "removed".
 * - `cluster`: `clusterVersion` → e.g. "3.4.0".
 * - `alarm`: etcdserverpb.AlarmMember {1 memberID, 2 alarm} as key, empty value.
 * - `auth`: `authRevision` (8-byte big-endian), `authEnabled` (1 byte, once
 *   auth has been enabled or disabled); `authUsers`, `authRoles`: name →
 *   authpb.User / authpb.Role (carried here as raw bytes).
 */
import { createHash } from 'node:crypto';
import { Crc32c } from './crc32c';
import { EtcdSnapshotError } from './errors';
import { asBuffer, nameBytes } from './format';
import { asInt64, asUint64, decodeMessage, ProtoCursor, toUint64, varintSize, writeVarint, WIRE_BYTES, WIRE_VARINT } from './protobuf';
import { openBolt, readBolt } from './reader';
import type { BoltBucket, BoltEntry, WriteBoltOptions } from './types';
import { writeBolt } from './writer';

export const ETCD_BUCKETS = {
  key: 'key',
  meta: 'meta',
  lease: 'lease',
  members: 'members',
  membersRemoved: 'members_removed',
  cluster: 'cluster',
  alarm: 'alarm',
  auth: 'auth',
  authUsers: 'authUsers',
  authRoles: 'authRoles',
} as const;

export const ETCD_META_KEYS = {
  consistentIndex: 'consistent_index',
  finishedCompactRev: 'finishedCompactRev',
  scheduledCompactRev: 'scheduledCompactRev',
} as const;

const CLUSTER_VERSION_KEY = 'clusterVersion';
const AUTH_REVISION_KEY = 'authRevision';
const AUTH_ENABLED_KEY = 'authEnabled';
const REMOVED_VALUE = Buffer.from('removed');

/** Length of a revision key; a tombstone's key has one more byte, 't'. */
export const REVISION_KEY_LENGTH = 17;
const TOMBSTONE_MARK = 0x74; // 't'
const SHA256_SIZE = 32;

export const ALARM_NOSPACE = 1;
export const ALARM_CORRUPT = 2;

/** mvccpb.KeyValue as decoded: every field present (0 / empty when the message left it out). */
export interface EtcdKeyValue {
  key: Buffer;
  createRevision: number;
  modRevision: number;
  version: number;
  value: Buffer;
  /** Lease ID (int64), 0n when none. */
  lease: bigint;
}

/** mvccpb.KeyValue to encode: strings are UTF-8; missing fields are 0 / empty. */
export interface EtcdKeyValueInput {
  key: Uint8Array | string;
  createRevision?: number | bigint;
  modRevision?: number | bigint;
  version?: number | bigint;
  value?: Uint8Array | string;
  lease?: bigint | number;
}

/** One entry of the `key` bucket: the revision that wrote it and what it wrote. */
export interface EtcdRevision {
  main: number;
  sub: number;
  tombstone: boolean;
  kv: EtcdKeyValue;
}

export interface EtcdRevisionInput {
  main: number | bigint;
  /** Default 0. */
  sub?: number;
  /** A deletion: the key gets the trailing 't' and kv should carry only the key. */
  tombstone?: boolean;
  kv: EtcdKeyValueInput;
}

export interface EtcdLease {
  id: bigint;
  ttl: number;
  /** Remaining TTL saved by lease checkpointing; 0 when never checkpointed. */
  remainingTtl: number;
}

export interface EtcdLeaseInput {
  id: bigint | number;
  ttl: number | bigint;
  remainingTtl?: number | bigint;
}

/** A cluster member as etcd 3.4 stores it (JSON in the `members` bucket). */
export interface EtcdMember {
  id: bigint;
  peerURLs: string[];
  isLearner: boolean;
  /** Empty until the member has published its name. */
  name: string;
  clientURLs: string[];
}

export interface EtcdMemberInput {
  id: bigint | number;
  peerURLs: string[];
  isLearner?: boolean;
  name?: string;
  clientURLs?: string[];
}

export interface EtcdAlarm {
  memberId: bigint;
  /** ALARM_NOSPACE (1) or ALARM_CORRUPT (2). */
  alarm: number;
}

/** What an etcd 3.4 snapshot holds, as `decodeEtcdSnapshot` returns it. */
export interface EtcdSnapshot {
  /** Every entry of the `key` bucket, in revision order. */
  revisions: EtcdRevision[];
  /** meta/consistent_index; 0n when absent. */
  consistentIndex: bigint;
  /** meta/finishedCompactRev: the revision the keyspace was last compacted at. */
  compactRevision?: number;
  /** meta/scheduledCompactRev: a compaction that was scheduled (etcd resumes it on start when above compactRevision). */
  scheduledCompactRevision?: number;
  leases: EtcdLease[];
  members: EtcdMember[];
  removedMembers: bigint[];
  /** cluster/clusterVersion, e.g. "3.4.0". */
  clusterVersion?: string;
  alarms: EtcdAlarm[];
  /** auth/authRevision (etcd sets 1 on a fresh cluster). */
  authRevision?: number;
  /** auth/authEnabled, when etcd has stored it. */
  authEnabled?: boolean;
  /** authUsers and authRoles, raw (authpb.User / authpb.Role values). */
  authUsers: BoltEntry[];
  authRoles: BoltEntry[];
  /**
   * Anything else: buckets etcd 3.4 does not define, and keys of the known
   * buckets this module does not interpret (under a bucket of the same name).
   * Encoding merges them back, so decode → encode keeps everything.
   */
  extraBuckets: BoltBucket[];
}

/** Input of `encodeEtcdSnapshot`: like EtcdSnapshot, with defaults and looser number types. */
export interface EtcdSnapshotInput {
  revisions: EtcdRevisionInput[];
  consistentIndex: bigint | number;
  compactRevision?: number | bigint;
  scheduledCompactRevision?: number | bigint;
  leases?: EtcdLeaseInput[];
  members?: EtcdMemberInput[];
  removedMembers?: Array<bigint | number>;
  clusterVersion?: string;
  alarms?: Array<{ memberId: bigint | number; alarm: number }>;
  /** Default 1, what a fresh etcd 3.4 stores. */
  authRevision?: number | bigint;
  authEnabled?: boolean;
  authUsers?: BoltEntry[];
  authRoles?: BoltEntry[];
  extraBuckets?: BoltBucket[];
}

/** What `etcdctl snapshot status` prints, computed the same way. */
export interface EtcdSnapshotStatus {
  /** CRC-32C of every bucket name, key and value, in file order. */
  hash: number;
  /** Main revision of the last entry of the `key` bucket (0 when empty). */
  revision: number;
  /** Entries (and nested bucket names) in all buckets. */
  totalKey: number;
  /** Bytes of the database in use (high-water mark × page size). */
  totalSize: number;
}

// ---------------------------------------------------------------------------
// numbers
//
// int64 and uint64 values travel as `Int`: a number when it is a safe
// integer (the fast, usual case), a bigint otherwise.

type Int = number | bigint;
const TWO_32 = 2 ** 32;
const TWO_64 = 1n << 64n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function compactInt(v: bigint): Int {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Check an int64 input; `what` is only called to build an error message. */
function int64(value: number | bigint | undefined, what: () => string): Int {
  if (value === undefined) return 0;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    throw new EtcdSnapshotError(`${what()} ${value} is not a safe integer (use a bigint)`);
  }
  if (typeof value !== 'bigint' || value < INT64_MIN || value > INT64_MAX) {
    throw new EtcdSnapshotError(`${what()} ${String(value)} is outside int64`);
  }
  return compactInt(value);
}

function uint64(value: number | bigint, what: string): bigint {
  try {
    return toUint64(value, what, false);
  } catch (err) {
    throw new EtcdSnapshotError((err as Error).message);
  }
}

/** The unsigned pattern a varint carries for an int64. */
function unsigned(v: Int): Int {
  if (typeof v === 'number') return v >= 0 ? v : BigInt(v) + TWO_64;
  return v >= 0n ? v : v + TWO_64;
}

/** An int64 that must be a safe non-negative number (revisions, versions). */
function revisionNumber(value: number | bigint, what: string): number {
  const v = int64(value, () => what);
  if (typeof v !== 'number' || v < 0) throw new EtcdSnapshotError(`${what} ${v} is outside [0, 2^53)`);
  return v;
}

/** An int64 varint as a number (throws when outside the safe range). */
function varintToNumber(v: bigint | number, what: string): number {
  if (typeof v === 'number') return v;
  const s = asInt64(v);
  if (s < BigInt(Number.MIN_SAFE_INTEGER) || s > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new EtcdSnapshotError(`${what} ${s} does not fit a JavaScript number`);
  }
  return Number(s);
}

function be64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

function readBe64(b: Uint8Array, what: string): bigint {
  if (b.length !== 8) throw new EtcdSnapshotError(`${what} is ${b.length} bytes, expected 8`);
  return asBuffer(b).readBigUInt64BE(0);
}

function bytesOf(v: Uint8Array | string | undefined): Uint8Array {
  if (v === undefined) return EMPTY;
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

const EMPTY = Buffer.alloc(0);

// ---------------------------------------------------------------------------
// revision keys

/** The `key` bucket key of a revision: main '_' sub, plus 't' for a tombstone. */
export function encodeRevisionKey(main: number | bigint, sub: number | bigint = 0, tombstone = false): Buffer {
  const out = Buffer.alloc(REVISION_KEY_LENGTH + (tombstone ? 1 : 0));
  writeRevisionKey(out, 0, int64(main, () => 'main revision'), int64(sub, () => 'sub revision'), tombstone);
  return out;
}

function writeBe64(out: Buffer, off: number, v: Int): void {
  if (typeof v === 'number' && v >= 0) {
    out.writeUInt32BE(Math.floor(v / TWO_32), off);
    out.writeUInt32BE(v >>> 0, off + 4);
  } else {
    out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)), off);
  }
}

function writeRevisionKey(out: Buffer, off: number, main: Int, sub: Int, tombstone: boolean): number {
  writeBe64(out, off, main);
  out[off + 8] = 0x5f; // '_'
  writeBe64(out, off + 9, sub);
  if (tombstone) out[off + REVISION_KEY_LENGTH] = TOMBSTONE_MARK;
  return off + REVISION_KEY_LENGTH + (tombstone ? 1 : 0);
}

/** Parse a `key` bucket key (17 bytes, or 18 ending in 't'). */
export function decodeRevisionKey(key: Uint8Array): { main: number; sub: number; tombstone: boolean } {
  const b = asBuffer(key);
  const tombstone = b.length === REVISION_KEY_LENGTH + 1 && b[REVISION_KEY_LENGTH] === TOMBSTONE_MARK;
  if (!(b.length === REVISION_KEY_LENGTH || tombstone) || b[8] !== 0x5f) {
    throw new EtcdSnapshotError(`key bucket key ${b.toString('hex')} is not a revision (8 bytes, '_', 8 bytes, optional 't')`);
  }
  const mainHi = b.readUInt32BE(0);
  const subHi = b.readUInt32BE(9);
  // Safe integers only: the high word below 2^21.
  if (mainHi >= 0x200000 || subHi >= 0x200000) {
    throw new EtcdSnapshotError(`revision key ${b.toString('hex')}: revision ${b.readBigInt64BE(0)}_${b.readBigInt64BE(9)} is out of range`);
  }
  return { main: mainHi * TWO_32 + b.readUInt32BE(4), sub: subHi * TWO_32 + b.readUInt32BE(13), tombstone };
}

// ---------------------------------------------------------------------------
// mvccpb.KeyValue

interface KvFields {
  key: Uint8Array;
  createRevision: Int;
  modRevision: Int;
  version: Int;
  value: Uint8Array;
  lease: Int;
}

function kvFields(kv: EtcdKeyValueInput, what: () => string): KvFields {
  if (kv === null || typeof kv !== 'object') throw new EtcdSnapshotError(`${what()}: kv must be an object`);
  return {
    key: bytesOf(kv.key),
    createRevision: int64(kv.createRevision, () => `${what()} create_revision`),
    modRevision: int64(kv.modRevision, () => `${what()} mod_revision`),
    version: int64(kv.version, () => `${what()} version`),
    value: bytesOf(kv.value),
    lease: int64(kv.lease, () => `${what()} lease`),
  };
}

/** Size of a varint field (tag below 16, so one byte) of an int64; 0 for 0, which proto3 leaves out. */
function varintFieldSize(v: Int): number {
  return v === 0 || v === 0n ? 0 : 1 + varintSize(unsigned(v));
}

function bytesFieldSize(b: Uint8Array): number {
  return b.length === 0 ? 0 : 1 + varintSize(b.length) + b.length;
}

function writeVarintField(out: Uint8Array, off: number, field: number, v: Int): number {
  if (v === 0 || v === 0n) return off;
  out[off++] = (field << 3) | WIRE_VARINT;
  return writeVarint(out, off, unsigned(v));
}

function writeBytesField(out: Uint8Array, off: number, field: number, b: Uint8Array): number {
  if (b.length === 0) return off;
  out[off++] = (field << 3) | WIRE_BYTES;
  off = writeVarint(out, off, b.length);
  out.set(b, off);
  return off + b.length;
}

function kvSize(f: KvFields): number {
  return (
    bytesFieldSize(f.key) +
    varintFieldSize(f.createRevision) +
    varintFieldSize(f.modRevision) +
    varintFieldSize(f.version) +
    bytesFieldSize(f.value) +
    varintFieldSize(f.lease)
  );
}

function writeKv(out: Uint8Array, off: number, f: KvFields): number {
  off = writeBytesField(out, off, 1, f.key);
  off = writeVarintField(out, off, 2, f.createRevision);
  off = writeVarintField(out, off, 3, f.modRevision);
  off = writeVarintField(out, off, 4, f.version);
  off = writeBytesField(out, off, 5, f.value);
  return writeVarintField(out, off, 6, f.lease);
}

/** Encode an mvccpb.KeyValue as etcd (gogoproto) does: fields in order, zero values left out. */
export function encodeKeyValue(kv: EtcdKeyValueInput): Buffer {
  const f = kvFields(kv, () => 'KeyValue');
  const out = Buffer.alloc(kvSize(f));
  writeKv(out, 0, f);
  return out;
}

/** Decode an mvccpb.KeyValue; key and value are views into `bytes`. Unknown fields are skipped. */
export function decodeKeyValue(bytes: Uint8Array): EtcdKeyValue {
  const kv: EtcdKeyValue = { key: EMPTY, createRevision: 0, modRevision: 0, version: 0, value: EMPTY, lease: 0n };
  const c = new ProtoCursor(bytes, 'mvccpb.KeyValue');
  try {
    while (c.next()) {
      const field = c.field;
      if (field === 1 || field === 5) {
        if (c.wire !== WIRE_BYTES) throw new Error(`mvccpb.KeyValue: field ${field} has wire type ${c.wire}, expected bytes`);
        if (field === 1) kv.key = c.bytes();
        else kv.value = c.bytes();
      } else if (field === 2 || field === 3 || field === 4 || field === 6) {
        if (c.wire !== WIRE_VARINT) throw new Error(`mvccpb.KeyValue: field ${field} has wire type ${c.wire}, expected varint`);
        const v = c.varint();
        if (field === 6) kv.lease = typeof v === 'number' ? BigInt(v) : asInt64(v);
        else {
          const name = field === 2 ? 'createRevision' : field === 3 ? 'modRevision' : 'version';
          kv[name] = varintToNumber(v, `mvccpb.KeyValue ${name}`);
        }
      } else {
        c.skip();
      }
    }
  } catch (err) {
    if (err instanceof EtcdSnapshotError) throw err;
    throw new EtcdSnapshotError((err as Error).message);
  }
  return kv;
}

// ---------------------------------------------------------------------------
// leasepb.Lease

/** Encode a leasepb.Lease {ID, TTL, RemainingTTL}. */
export function encodeLease(lease: EtcdLeaseInput): Buffer {
  const id = int64(lease.id, () => 'lease ID');
  const ttl = int64(lease.ttl, () => 'lease TTL');
  const remaining = int64(lease.remainingTtl, () => 'lease RemainingTTL');
  const out = Buffer.alloc(varintFieldSize(id) + varintFieldSize(ttl) + varintFieldSize(remaining));
  let off = writeVarintField(out, 0, 1, id);
  off = writeVarintField(out, off, 2, ttl);
  writeVarintField(out, off, 3, remaining);
  return out;
}

export function decodeLease(bytes: Uint8Array): EtcdLease {
  const lease: EtcdLease = { id: 0n, ttl: 0, remainingTtl: 0 };
  let fields;
  try {
    fields = decodeMessage(bytes, 'leasepb.Lease');
  } catch (err) {
    throw new EtcdSnapshotError((err as Error).message);
  }
  for (const f of fields) {
    if (f.field < 1 || f.field > 3) continue;
    if (f.wire !== WIRE_VARINT) throw new EtcdSnapshotError(`leasepb.Lease: field ${f.field} has wire type ${f.wire}, expected varint`);
    if (f.field === 1) lease.id = asInt64(f.varint);
    else if (f.field === 2) lease.ttl = varintToNumber(f.varint, 'lease TTL');
    else lease.remainingTtl = varintToNumber(f.varint, 'lease RemainingTTL');
  }
  return lease;
}

// ---------------------------------------------------------------------------
// etcdserverpb.AlarmMember

function encodeAlarm(alarm: { memberId: bigint | number; alarm: number }): Buffer {
  const id = uint64(alarm.memberId, 'alarm member ID');
  const type = int64(alarm.alarm, () => 'alarm type');
  const out = Buffer.alloc(varintFieldSize(id) + varintFieldSize(type));
  writeVarintField(out, writeVarintField(out, 0, 1, id), 2, type);
  return out;
}

function decodeAlarm(bytes: Uint8Array): EtcdAlarm {
  const alarm: EtcdAlarm = { memberId: 0n, alarm: 0 };
  let fields;
  try {
    fields = decodeMessage(bytes, 'etcdserverpb.AlarmMember');
  } catch (err) {
    throw new EtcdSnapshotError((err as Error).message);
  }
  for (const f of fields) {
    if (f.field !== 1 && f.field !== 2) continue;
    if (f.wire !== WIRE_VARINT) throw new EtcdSnapshotError(`etcdserverpb.AlarmMember: field ${f.field} has wire type ${f.wire}, expected varint`);
    if (f.field === 1) alarm.memberId = asUint64(f.varint);
    else alarm.alarm = varintToNumber(f.varint, 'alarm type');
  }
  return alarm;
}

// ---------------------------------------------------------------------------
// members (JSON, as Go's encoding/json writes it)

function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

function goJsonStrings(list: string[]): string {
  return `[${list.map(goJsonString).join(',')}]`;
}

/** The JSON etcd 3.4 stores for a member: {"id":N,"peerURLs":[...],"isLearner":true?,"name":"..."?,"clientURLs":[...]?}. */
export function encodeMember(m: EtcdMemberInput): Buffer {
  const id = uint64(m.id, 'member ID');
  let json = `{"id":${id},"peerURLs":${goJsonStrings(m.peerURLs ?? [])}`;
  if (m.isLearner) json += ',"isLearner":true';
  if (m.name) json += `,"name":${goJsonString(m.name)}`;
  if (m.clientURLs && m.clientURLs.length > 0) json += `,"clientURLs":${goJsonStrings(m.clientURLs)}`;
  return Buffer.from(`${json}}`, 'utf8');
}

export function decodeMember(key: Uint8Array, value: Uint8Array): EtcdMember {
  const text = asBuffer(value).toString('utf8');
  let parsed: { peerURLs?: unknown; isLearner?: unknown; name?: unknown; clientURLs?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    throw new EtcdSnapshotError(`member ${asBuffer(key).toString('latin1')}: bad JSON: ${(err as Error).message}`);
  }
  // JSON.parse would round a 64-bit id; take its digits from the text.
  const idMatch = /"id"\s*:\s*(\d+)/.exec(text);
  const id = idMatch ? BigInt(idMatch[1]) : BigInt(`0x${asBuffer(key).toString('latin1')}`);
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  return {
    id,
    peerURLs: strings(parsed.peerURLs),
    isLearner: parsed.isLearner === true,
    name: typeof parsed.name === 'string' ? parsed.name : '',
    clientURLs: strings(parsed.clientURLs),
  };
}

// ---------------------------------------------------------------------------
// the snapshot hash

/** The database followed by its sha256, as etcd's Snapshot RPC streams it and `etcdctl snapshot save` stores it. */
export function appendSnapshotHash(db: Uint8Array): Buffer {
  if (db.length % 512 !== 0) {
    throw new EtcdSnapshotError(`database is ${db.length} bytes, not a multiple of 512: etcdctl would not recognise the appended hash`);
  }
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

/**
 * Split a snapshot into the database and its trailing sha256 when it has one
 * (etcd's rule: size % 512 == 32), verifying the hash.
 */
export function splitSnapshotHash(buf: Uint8Array): { db: Buffer; sha256: Buffer | undefined } {
  const b = asBuffer(buf);
  if (b.length % 512 !== SHA256_SIZE) return { db: b, sha256: undefined };
  const db = b.subarray(0, b.length - SHA256_SIZE);
  const sha256 = b.subarray(b.length - SHA256_SIZE);
  const actual = createHash('sha256').update(db).digest();
  if (!actual.equals(sha256)) {
    throw new EtcdSnapshotError(`sha256 mismatch: the snapshot ends with ${sha256.toString('hex')}, its database hashes to ${actual.toString('hex')}`);
  }
  return { db, sha256 };
}

// ---------------------------------------------------------------------------
// encode

/**
 * Build the bbolt database of an etcd 3.4 snapshot (without the trailing
 * hash: see appendSnapshotHash). Creates every bucket etcd 3.4 creates, empty
 * where there is nothing to put.
 */
export function encodeEtcdSnapshot(state: EtcdSnapshotInput, options: WriteBoltOptions = {}): Buffer {
  if (state === null || typeof state !== 'object' || !Array.isArray(state.revisions)) {
    throw new EtcdSnapshotError('state.revisions must be an array');
  }
  const revisions = state.revisions;
  const n = revisions.length;

  // Revision keys and KeyValue messages go into two slabs; entries are views.
  const fields = new Array<KvFields>(n);
  const mains = new Array<Int>(n);
  const subs = new Array<Int>(n);
  let keyBytes = 0;
  let valueBytes = 0;
  for (let i = 0; i < n; i++) {
    const r = revisions[i];
    const what = () => `revision ${i}`;
    if (r === null || typeof r !== 'object') throw new EtcdSnapshotError(`${what()} must be an object`);
    const main = (mains[i] = int64(r.main, () => `${what()} main`));
    const sub = (subs[i] = int64(r.sub, () => `${what()} sub`));
    if (main < 0 || sub < 0) throw new EtcdSnapshotError(`${what()}: revision ${main}_${sub} is negative`);
    fields[i] = kvFields(r.kv, what);
    keyBytes += REVISION_KEY_LENGTH + (r.tombstone ? 1 : 0);
    valueBytes += kvSize(fields[i]);
  }
  const keySlab = Buffer.alloc(keyBytes);
  const valueSlab = Buffer.alloc(valueBytes);
  const keyEntries = new Array<BoltEntry>(n);
  let ko = 0;
  let vo = 0;
  for (let i = 0; i < n; i++) {
    const kEnd = writeRevisionKey(keySlab, ko, mains[i], subs[i], revisions[i].tombstone === true);
    const vEnd = writeKv(valueSlab, vo, fields[i]);
    keyEntries[i] = [keySlab.subarray(ko, kEnd), valueSlab.subarray(vo, vEnd)];
    ko = kEnd;
    vo = vEnd;
  }

  const meta: BoltEntry[] = [[Buffer.from(ETCD_META_KEYS.consistentIndex), be64(uint64(state.consistentIndex, 'consistent index'))]];
  if (state.compactRevision !== undefined) {
    meta.push([Buffer.from(ETCD_META_KEYS.finishedCompactRev), encodeRevisionKey(revisionNumber(state.compactRevision, 'compact revision'))]);
  }
  if (state.scheduledCompactRevision !== undefined) {
    meta.push([
      Buffer.from(ETCD_META_KEYS.scheduledCompactRev),
      encodeRevisionKey(revisionNumber(state.scheduledCompactRevision, 'scheduled compact revision')),
    ]);
  }

  const leases: BoltEntry[] = (state.leases ?? []).map((l) => [be64(BigInt.asUintN(64, BigInt(int64(l.id, () => 'lease ID')))), encodeLease(l)]);
  const members: BoltEntry[] = (state.members ?? []).map((m) => [Buffer.from(uint64(m.id, 'member ID').toString(16)), encodeMember(m)]);
  const removed: BoltEntry[] = (state.removedMembers ?? []).map((id) => [Buffer.from(uint64(id, 'removed member ID').toString(16)), REMOVED_VALUE]);
  const cluster: BoltEntry[] = state.clusterVersion === undefined ? [] : [[Buffer.from(CLUSTER_VERSION_KEY), Buffer.from(state.clusterVersion)]];
  const alarms: BoltEntry[] = (state.alarms ?? []).map((a) => [encodeAlarm(a), EMPTY]);
  const auth: BoltEntry[] = [[Buffer.from(AUTH_REVISION_KEY), be64(uint64(state.authRevision ?? 1, 'auth revision'))]];
  if (state.authEnabled !== undefined) auth.push([Buffer.from(AUTH_ENABLED_KEY), Buffer.from([state.authEnabled ? 1 : 0])]);

  const buckets: BoltBucket[] = [
    { name: ETCD_BUCKETS.alarm, entries: alarms },
    { name: ETCD_BUCKETS.auth, entries: auth },
    { name: ETCD_BUCKETS.authRoles, entries: [...(state.authRoles ?? [])] },
    { name: ETCD_BUCKETS.authUsers, entries: [...(state.authUsers ?? [])] },
    { name: ETCD_BUCKETS.cluster, entries: cluster },
    { name: ETCD_BUCKETS.key, entries: keyEntries },
    { name: ETCD_BUCKETS.lease, entries: leases },
    { name: ETCD_BUCKETS.members, entries: members },
    { name: ETCD_BUCKETS.membersRemoved, entries: removed },
    { name: ETCD_BUCKETS.meta, entries: meta },
  ];
  for (const extra of state.extraBuckets ?? []) {
    const name = nameBytes(extra.name);
    const known = buckets.find((b) => nameBytes(b.name).equals(name));
    if (known) {
      for (const entry of extra.entries) known.entries.push(entry);
      if (extra.buckets?.length) known.buckets = [...(known.buckets ?? []), ...extra.buckets];
      if (extra.sequence !== undefined) known.sequence = extra.sequence;
    } else {
      buckets.push(extra);
    }
  }
  return writeBolt(buckets, options);
}

// ---------------------------------------------------------------------------
// decode

/**
 * Decode an etcd 3.4 snapshot: a bbolt database, with or without the sha256
 * etcd appends (verified when present). Keys and values are views into `buf`.
 */
export function decodeEtcdSnapshot(buf: Uint8Array): EtcdSnapshot {
  const { db } = splitSnapshotHash(buf);
  const state: EtcdSnapshot = {
    revisions: [],
    consistentIndex: 0n,
    leases: [],
    members: [],
    removedMembers: [],
    alarms: [],
    authUsers: [],
    authRoles: [],
    extraBuckets: [],
  };
  const extra = (bucket: BoltBucket, entries: BoltEntry[]) => {
    if (entries.length === 0 && !bucket.buckets?.length && bucket.sequence === undefined) return;
    const e: BoltBucket = { name: bucket.name, entries };
    if (bucket.buckets?.length) e.buckets = bucket.buckets;
    if (bucket.sequence !== undefined) e.sequence = bucket.sequence;
    state.extraBuckets.push(e);
  };
  for (const bucket of readBolt(db)) {
    const name = asBuffer(bucket.name as Uint8Array).toString('latin1');
    const unknown: BoltEntry[] = [];
    switch (name) {
      case ETCD_BUCKETS.key:
        state.revisions = bucket.entries.map(([k, v]) => {
          const rev = decodeRevisionKey(k);
          let kv: EtcdKeyValue;
          try {
            kv = decodeKeyValue(v);
          } catch (err) {
            throw new EtcdSnapshotError(`revision ${rev.main}_${rev.sub}: ${(err as Error).message}`);
          }
          return { main: rev.main, sub: rev.sub, tombstone: rev.tombstone, kv };
        });
        break;
      case ETCD_BUCKETS.meta:
        for (const [k, v] of bucket.entries) {
          const key = asBuffer(k).toString('latin1');
          if (key === ETCD_META_KEYS.consistentIndex) state.consistentIndex = readBe64(v, 'meta/consistent_index');
          else if (key === ETCD_META_KEYS.finishedCompactRev) state.compactRevision = decodeRevisionKey(v).main;
          else if (key === ETCD_META_KEYS.scheduledCompactRev) state.scheduledCompactRevision = decodeRevisionKey(v).main;
          else unknown.push([k, v]);
        }
        break;
      case ETCD_BUCKETS.lease:
        state.leases = bucket.entries.map(([k, v]) => {
          const lease = decodeLease(v);
          const keyId = BigInt.asIntN(64, readBe64(k, 'lease key'));
          if (keyId !== lease.id) throw new EtcdSnapshotError(`lease key ${keyId} holds a lease with ID ${lease.id}`);
          return lease;
        });
        break;
      case ETCD_BUCKETS.members:
        state.members = bucket.entries.map(([k, v]) => decodeMember(k, v));
        break;
      case ETCD_BUCKETS.membersRemoved:
        for (const [k, v] of bucket.entries) {
          const hex = asBuffer(k).toString('latin1');
          if (!/^[0-9a-f]{1,16}$/.test(hex) || !asBuffer(v).equals(REMOVED_VALUE)) unknown.push([k, v]);
          else state.removedMembers.push(BigInt(`0x${hex}`));
        }
        break;
      case ETCD_BUCKETS.cluster:
        for (const [k, v] of bucket.entries) {
          if (asBuffer(k).toString('latin1') === CLUSTER_VERSION_KEY) state.clusterVersion = asBuffer(v).toString('utf8');
          else unknown.push([k, v]);
        }
        break;
      case ETCD_BUCKETS.alarm:
        for (const [k, v] of bucket.entries) {
          if (v.length === 0) state.alarms.push(decodeAlarm(k));
          else unknown.push([k, v]);
        }
        break;
      case ETCD_BUCKETS.auth:
        for (const [k, v] of bucket.entries) {
          const key = asBuffer(k).toString('latin1');
          if (key === AUTH_REVISION_KEY && v.length === 8) state.authRevision = Number(readBe64(v, 'auth/authRevision'));
          else if (key === AUTH_ENABLED_KEY && v.length === 1 && v[0] <= 1) state.authEnabled = v[0] === 1;
          else unknown.push([k, v]);
        }
        break;
      case ETCD_BUCKETS.authUsers:
        state.authUsers = bucket.entries;
        break;
      case ETCD_BUCKETS.authRoles:
        state.authRoles = bucket.entries;
        break;
      default:
        extra(bucket, bucket.entries);
        continue;
    }
    extra(bucket, unknown);
  }
  return state;
}

// ---------------------------------------------------------------------------
// status

/**
 * What `etcdctl snapshot status` reports, computed the same way: checks the
 * file like bbolt's Tx.Check (throws when it finds problems), then hashes
 * every bucket name, key and value with CRC-32C. Accepts a snapshot with or
 * without its trailing sha256.
 */
export function etcdSnapshotStatus(buf: Uint8Array): EtcdSnapshotStatus {
  const { db: bytes } = splitSnapshotHash(buf);
  const db = openBolt(bytes);
  const problems = db.check();
  if (problems.length > 0) {
    throw new EtcdSnapshotError(`integrity check failed, ${problems.length} problems: ${problems.slice(0, 10).join('; ')}`);
  }
  const h = new Crc32c();
  let revision = 0;
  let totalKey = 0;
  for (const name of db.bucketNames()) {
    const bucket = db.bucket(name)!;
    h.update(name);
    const isKey = name.toString('latin1') === ETCD_BUCKETS.key;
    bucket.forEach((k, v) => {
      h.update(k);
      if (!v.bucket) h.update(v.value);
      if (isKey && k.length >= 8) revision = Number(k.readBigInt64BE(0));
      totalKey++;
    });
  }
  return { hash: h.digest(), revision, totalKey, totalSize: db.size };
}

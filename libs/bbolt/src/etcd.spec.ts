import { createHash } from 'node:crypto';
import { crc32c } from './crc32c';
import { EtcdSnapshotError } from './errors';
import {
  appendSnapshotHash,
  decodeEtcdSnapshot,
  decodeKeyValue,
  decodeLease,
  decodeMember,
  decodeRevisionKey,
  encodeEtcdSnapshot,
  encodeKeyValue,
  encodeLease,
  encodeMember,
  encodeRevisionKey,
  etcdSnapshotStatus,
  splitSnapshotHash,
  type EtcdSnapshot,
  type EtcdSnapshotInput,
} from './etcd';
import { writeVarint } from './protobuf';
import { openBolt, readBolt } from './reader';
import { writeBolt } from './writer';

const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
const b = (s: string) => Buffer.from(s);

// Bytes taken from a snapshot saved from a real etcd 3.4.23 (put foo bar,
// put foo baz, del foo, lease grant 600, put lk v --lease, compaction 3).
const REAL = {
  fooBaz: '0a03666f6f1002180320022a0362617a', // key foo, create 2, mod 3, version 2, value baz
  fooTombstone: '0a03666f6f',
  lkWithLease: '0a026c6b1005180520012a01763088c886acbbc1e88639', // lk=v, rev 5, lease 0x390da20bb581a408
  lease: '0888c886acbbc1e8863910d804', // ID 0x390da20bb581a408, TTL 600
  leaseKey: '390da20bb581a408',
  member: '{"id":13668033151171901709,"peerURLs":["http://127.0.0.1:23801"],"name":"m1","clientURLs":["http://127.0.0.1:23791"]}',
  memberKey: 'bdae9bbc11dd390d',
  compactRev3: '00000000000000035f0000000000000000',
};

describe('revision keys', () => {
  it('8-byte big-endian main, "_", 8-byte big-endian sub, "t" for a tombstone', () => {
    expect(hex(encodeRevisionKey(3))).toBe(REAL.compactRev3);
    expect(hex(encodeRevisionKey(4, 0, true))).toBe('00000000000000045f000000000000000074');
    expect(hex(encodeRevisionKey(0x0102030405n, 7))).toBe('00000001020304055f0000000000000007');
    expect(decodeRevisionKey(Buffer.from('00000000000000045f000000000000000074', 'hex'))).toEqual({ main: 4, sub: 0, tombstone: true });
    expect(decodeRevisionKey(encodeRevisionKey(2 ** 40, 3))).toEqual({ main: 2 ** 40, sub: 3, tombstone: false });
  });

  it.each([
    ['too short', '00000000000000045f00000000000000'],
    ['no underscore', '00000000000000042d0000000000000000'],
    ['a mark other than t', '00000000000000045f000000000000000075'],
    ['a negative revision', 'ff000000000000045f0000000000000000'],
  ])('rejects a key %s', (_, key) => {
    expect(() => decodeRevisionKey(Buffer.from(key, 'hex'))).toThrow(EtcdSnapshotError);
  });
});

describe('mvccpb.KeyValue', () => {
  it('encodes byte for byte as etcd does', () => {
    expect(hex(encodeKeyValue({ key: 'foo', createRevision: 2, modRevision: 3, version: 2, value: 'baz' }))).toBe(REAL.fooBaz);
    expect(hex(encodeKeyValue({ key: 'foo' }))).toBe(REAL.fooTombstone);
    expect(
      hex(encodeKeyValue({ key: 'lk', createRevision: 5, modRevision: 5, version: 1, value: 'v', lease: 0x390da20bb581a408n })),
    ).toBe(REAL.lkWithLease);
  });

  it('decodes etcd bytes, every field present', () => {
    const kv = decodeKeyValue(Buffer.from(REAL.lkWithLease, 'hex'));
    expect({ ...kv, key: kv.key.toString(), value: kv.value.toString() }).toEqual({
      key: 'lk',
      createRevision: 5,
      modRevision: 5,
      version: 1,
      value: 'v',
      lease: 0x390da20bb581a408n,
    });
    const tomb = decodeKeyValue(Buffer.from(REAL.fooTombstone, 'hex'));
    expect([tomb.key.toString(), tomb.createRevision, tomb.modRevision, tomb.version, tomb.value.length, tomb.lease]).toEqual(['foo', 0, 0, 0, 0, 0n]);
  });

  it('round trips negative and large int64s, binary and large values', () => {
    const value = Buffer.alloc(70_000, 0xee);
    const kv = { key: Buffer.from([0, 1, 255]), createRevision: 2 ** 53 - 1, modRevision: 1, version: 3, value, lease: -2n };
    const back = decodeKeyValue(encodeKeyValue(kv));
    expect(back.key.equals(kv.key)).toBe(true);
    expect(back.value.equals(value)).toBe(true);
    expect([back.createRevision, back.modRevision, back.version, back.lease]).toEqual([2 ** 53 - 1, 1, 3, -2n]);
  });

  it('skips unknown fields and rejects malformed messages', () => {
    const withUnknown = Buffer.concat([Buffer.from(REAL.fooBaz, 'hex'), Buffer.from('3a0178' + '4001', 'hex')]);
    expect(decodeKeyValue(withUnknown).value.toString()).toBe('baz');
    expect(() => decodeKeyValue(Buffer.from('0a05666f', 'hex'))).toThrow(/mvccpb.KeyValue: field 1 runs past the end/);
    expect(() => decodeKeyValue(Buffer.from('1203666f6f', 'hex'))).toThrow(/field 2 has wire type 2, expected varint/);
    expect(() => decodeKeyValue(Buffer.from('0801', 'hex'))).toThrow(/field 1 has wire type 0, expected bytes/);
    expect(() => encodeKeyValue({ key: 'k', createRevision: 2 ** 60 })).toThrow(/not a safe integer/);
  });
});

describe('leasepb.Lease', () => {
  it('encodes and decodes as etcd does', () => {
    expect(hex(encodeLease({ id: 0x390da20bb581a408n, ttl: 600 }))).toBe(REAL.lease);
    expect(decodeLease(Buffer.from(REAL.lease, 'hex'))).toEqual({ id: 0x390da20bb581a408n, ttl: 600, remainingTtl: 0 });
    expect(decodeLease(encodeLease({ id: 7n, ttl: 30n, remainingTtl: 12 }))).toEqual({ id: 7n, ttl: 30, remainingTtl: 12 });
    expect(decodeLease(encodeLease({ id: (1n << 63n) - 1n, ttl: 1 })).id).toBe((1n << 63n) - 1n);
  });
});

describe('members', () => {
  it('JSON as etcd 3.4 stores it, ids beyond 2^53 intact', () => {
    const m = { id: 13668033151171901709n, peerURLs: ['http://127.0.0.1:23801'], name: 'm1', clientURLs: ['http://127.0.0.1:23791'] };
    expect(encodeMember(m).toString()).toBe(REAL.member);
    expect(decodeMember(b(REAL.memberKey), b(REAL.member))).toEqual({ ...m, isLearner: false });
    expect(BigInt(`0x${REAL.memberKey}`)).toBe(m.id);
  });

  it("a learner without a name yet; Go's escaping", () => {
    expect(encodeMember({ id: 1n, peerURLs: ['http://a<b>&"c"'], isLearner: true }).toString()).toBe(
      '{"id":1,"peerURLs":["http://a\\u003cb\\u003e\\u0026\\"c\\""],"isLearner":true}',
    );
    expect(decodeMember(b('1'), encodeMember({ id: 1n, peerURLs: ['http://a<b>&"c"'], isLearner: true, name: 'n\u2028\b' }))).toEqual({
      id: 1n,
      peerURLs: ['http://a<b>&"c"'],
      isLearner: true,
      name: 'n\u2028\b',
      clientURLs: [],
    });
  });
});

describe('the snapshot hash', () => {
  const db = writeBolt([{ name: 'x', entries: [[b('k'), b('v')]] }]);

  it('appends sha256: size % 512 == 32', () => {
    const snap = appendSnapshotHash(db);
    expect(snap.length).toBe(db.length + 32);
    expect(snap.length % 512).toBe(32);
    expect(snap.subarray(db.length).equals(createHash('sha256').update(db).digest())).toBe(true);
    const split = splitSnapshotHash(snap);
    expect(split.db.equals(db)).toBe(true);
    expect(split.sha256!.length).toBe(32);
    expect(splitSnapshotHash(db)).toEqual({ db, sha256: undefined });
  });

  it('a hash that does not match, or a database that is not a multiple of 512', () => {
    const snap = appendSnapshotHash(db);
    snap[100] ^= 1;
    expect(() => splitSnapshotHash(snap)).toThrow(/sha256 mismatch/);
    expect(() => decodeEtcdSnapshot(snap)).toThrow(EtcdSnapshotError);
    expect(() => appendSnapshotHash(Buffer.alloc(1000))).toThrow(/not a multiple of 512/);
  });
});

describe('CRC-32C', () => {
  it('reference vectors', () => {
    expect(crc32c(b('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });
});

const LEASE = 0x694d77aa9e1b2e0cn; // above 2^53

/** A small history: puts, an update, a delete, a two-op transaction, a lease. */
function sampleState(): EtcdSnapshotInput {
  return {
    revisions: [
      { main: 2, kv: { key: 'foo', createRevision: 2, modRevision: 2, version: 1, value: 'v1' } },
      { main: 3, kv: { key: 'bar', createRevision: 3, modRevision: 3, version: 1, value: Buffer.from([0, 1, 2]) } },
      { main: 4, kv: { key: 'foo', createRevision: 2, modRevision: 4, version: 2, value: 'v2' } },
      { main: 5, tombstone: true, kv: { key: 'bar' } },
      { main: 6, sub: 0, kv: { key: 'baz', createRevision: 6, modRevision: 6, version: 1, value: 'z' } },
      { main: 6, sub: 1, kv: { key: 'qux', createRevision: 6, modRevision: 6, version: 1, value: 'q', lease: LEASE } },
    ],
    consistentIndex: 42,
    compactRevision: 3,
    leases: [{ id: LEASE, ttl: 3600 }],
    members: [{ id: 0xbdae9bbc11dd390dn, peerURLs: ['http://127.0.0.1:2380'], name: 'm1', clientURLs: ['http://127.0.0.1:2379'] }],
    removedMembers: [0x1234n],
    clusterVersion: '3.4.0',
    alarms: [{ memberId: 0xbdae9bbc11dd390dn, alarm: 1 }],
    authEnabled: false,
    authUsers: [[b('root'), b('\x0a\x04root')]],
  };
}

describe('encodeEtcdSnapshot / decodeEtcdSnapshot', () => {
  it('creates the buckets etcd 3.4 has, with its meta and auth keys', () => {
    const db = encodeEtcdSnapshot({ revisions: [], consistentIndex: 1 });
    const buckets = readBolt(db);
    expect(buckets.map((x) => x.name.toString())).toEqual([
      'alarm',
      'auth',
      'authRoles',
      'authUsers',
      'cluster',
      'key',
      'lease',
      'members',
      'members_removed',
      'meta',
    ]);
    const get = (name: string) => buckets.find((x) => x.name.toString() === name)!.entries.map(([k, v]) => [k.toString(), hex(v)]);
    expect(get('meta')).toEqual([['consistent_index', '0000000000000001']]);
    expect(get('auth')).toEqual([['authRevision', '0000000000000001']]);
    for (const empty of ['alarm', 'authRoles', 'authUsers', 'cluster', 'key', 'lease', 'members', 'members_removed']) expect(get(empty)).toEqual([]);
  });

  it('stores each piece where etcd does', () => {
    const db = openBolt(encodeEtcdSnapshot(sampleState()));
    const key = db.bucket('key')!;
    expect(key.entries().map(([k]) => hex(k))).toEqual([
      '00000000000000025f0000000000000000',
      '00000000000000035f0000000000000000',
      '00000000000000045f0000000000000000',
      '00000000000000055f000000000000000074',
      '00000000000000065f0000000000000000',
      '00000000000000065f0000000000000001',
    ]);
    expect(hex(key.get(Buffer.from('00000000000000055f000000000000000074', 'hex'))!)).toBe('0a03626172');
    expect(hex(db.bucket('meta')!.get('finishedCompactRev')!)).toBe(REAL.compactRev3);
    expect(hex(db.bucket('meta')!.get('consistent_index')!)).toBe('000000000000002a');
    expect(db.bucket('meta')!.get('scheduledCompactRev')).toBeUndefined();
    expect(hex(db.bucket('lease')!.entries()[0][0])).toBe('694d77aa9e1b2e0c');
    expect(db.bucket('members')!.get(REAL.memberKey)!.toString()).toBe(
      '{"id":13668033151171901709,"peerURLs":["http://127.0.0.1:2380"],"name":"m1","clientURLs":["http://127.0.0.1:2379"]}',
    );
    expect(db.bucket('members_removed')!.get('1234')!.toString()).toBe('removed');
    expect(db.bucket('cluster')!.get('clusterVersion')!.toString()).toBe('3.4.0');
    // etcdserverpb.AlarmMember {memberID: 1 varint, alarm: 2 varint} as the key, an empty value.
    const [alarmKey, alarmValue] = db.bucket('alarm')!.entries()[0];
    const id = Buffer.alloc(10);
    expect(hex(alarmKey)).toBe(`08${hex(id.subarray(0, writeVarint(id, 0, 0xbdae9bbc11dd390dn)))}1001`);
    expect(alarmValue.length).toBe(0);
    expect(hex(db.bucket('auth')!.get('authEnabled')!)).toBe('00');
    expect(db.check()).toEqual([]);
  });

  it('decodes what it encodes', () => {
    const file = appendSnapshotHash(encodeEtcdSnapshot(sampleState()));
    const s = decodeEtcdSnapshot(file);
    const kv = (key: string, value: string | Buffer, create: number, mod: number, version: number, lease = 0n) => ({
      key: b(key),
      value: typeof value === 'string' ? b(value) : value,
      createRevision: create,
      modRevision: mod,
      version,
      lease,
    });
    const expected: EtcdSnapshot = {
      revisions: [
        { main: 2, sub: 0, tombstone: false, kv: kv('foo', 'v1', 2, 2, 1) },
        { main: 3, sub: 0, tombstone: false, kv: kv('bar', Buffer.from([0, 1, 2]), 3, 3, 1) },
        { main: 4, sub: 0, tombstone: false, kv: kv('foo', 'v2', 2, 4, 2) },
        { main: 5, sub: 0, tombstone: true, kv: kv('bar', '', 0, 0, 0) },
        { main: 6, sub: 0, tombstone: false, kv: kv('baz', 'z', 6, 6, 1) },
        { main: 6, sub: 1, tombstone: false, kv: kv('qux', 'q', 6, 6, 1, LEASE) },
      ],
      consistentIndex: 42n,
      compactRevision: 3,
      leases: [{ id: LEASE, ttl: 3600, remainingTtl: 0 }],
      members: [{ id: 0xbdae9bbc11dd390dn, peerURLs: ['http://127.0.0.1:2380'], isLearner: false, name: 'm1', clientURLs: ['http://127.0.0.1:2379'] }],
      removedMembers: [0x1234n],
      clusterVersion: '3.4.0',
      alarms: [{ memberId: 0xbdae9bbc11dd390dn, alarm: 1 }],
      authRevision: 1,
      authEnabled: false,
      authUsers: [[b('root'), b('\x0a\x04root')]],
      authRoles: [],
      extraBuckets: [],
    };
    expect(s).toEqual(expected);
    // And the same without the trailing hash.
    expect(decodeEtcdSnapshot(encodeEtcdSnapshot(sampleState()))).toEqual(expected);
  });

  it('keeps what it does not interpret, so decode then encode loses nothing', () => {
    const state: EtcdSnapshotInput = {
      ...sampleState(),
      scheduledCompactRevision: 5,
      extraBuckets: [
        { name: 'meta', entries: [[b('term'), Buffer.from('0000000000000002', 'hex')]] },
        { name: 'kubets', entries: [[b('a'), b('b')]], buckets: [{ name: 'inner', entries: [] }] },
      ],
    };
    const first = encodeEtcdSnapshot(state);
    const decoded = decodeEtcdSnapshot(first);
    expect(decoded.scheduledCompactRevision).toBe(5);
    expect(decoded.extraBuckets.map((x) => [x.name.toString(), x.entries.map(([k]) => k.toString()), (x.buckets ?? []).length])).toEqual([
      ['kubets', ['a'], 1],
      ['meta', ['term'], 0],
    ]);
    const second = encodeEtcdSnapshot(decoded);
    expect(second.equals(first)).toBe(true);
    expect(etcdSnapshotStatus(second)).toEqual(etcdSnapshotStatus(first));
  });

  it('rejects bad input clearly', () => {
    expect(() => encodeEtcdSnapshot({ revisions: [{ main: -1, kv: { key: 'a' } }], consistentIndex: 0 })).toThrow(/negative/);
    expect(() => encodeEtcdSnapshot({ revisions: [{ main: 2, kv: { key: 'a' } }, { main: 2, kv: { key: 'b' } }], consistentIndex: 0 })).toThrow(
      /duplicate key 0x00000000000000025f0000000000000000/,
    );
    expect(() => encodeEtcdSnapshot({ revisions: [], consistentIndex: -1 })).toThrow(/consistent index -1 is outside uint64/);
    const badKey = writeBolt([{ name: 'key', entries: [[b('not-a-revision'), b('')]] }]);
    expect(() => decodeEtcdSnapshot(badKey)).toThrow(/key bucket key 6e6f742d612d7265766973696f6e is not a revision/);
    const badValue = writeBolt([{ name: 'key', entries: [[encodeRevisionKey(2), Buffer.from('0a09', 'hex')]] }]);
    expect(() => decodeEtcdSnapshot(badValue)).toThrow(/revision 2_0: .*field 1 runs past the end/);
  });

  it('100k revisions encode and decode quickly', () => {
    const N = 100_000;
    const value = Buffer.alloc(256, 1);
    const revisions = Array.from({ length: N }, (_, i) => ({
      main: i + 2,
      kv: { key: b(`/registry/pods/default/pod-${i}`), createRevision: i + 2, modRevision: i + 2, version: 1, value },
    }));
    let t = performance.now();
    const db = encodeEtcdSnapshot({ revisions, consistentIndex: N + 10 });
    const encodeMs = performance.now() - t;
    t = performance.now();
    const s = decodeEtcdSnapshot(db);
    const decodeMs = performance.now() - t;
    expect(s.revisions).toHaveLength(N);
    expect(s.revisions[N - 1].main).toBe(N + 1);
    expect(s.revisions[12345].kv.key.toString()).toBe('/registry/pods/default/pod-12345');
    expect(etcdSnapshotStatus(db)).toMatchObject({ revision: N + 1, totalKey: N + 2 });
    // Generous bounds for a loaded CI machine; both take a few hundred ms.
    expect(encodeMs).toBeLessThan(4000);
    expect(decodeMs).toBeLessThan(4000);
  });
});

describe('etcdSnapshotStatus', () => {
  it('what etcdctl snapshot status computes', () => {
    const db = encodeEtcdSnapshot(sampleState());
    const status = etcdSnapshotStatus(appendSnapshotHash(db));
    // CRC-32C over each bucket's name, then its keys and values, in file order.
    const h: Buffer[] = [];
    let total = 0;
    for (const bucket of readBolt(db)) {
      h.push(bucket.name as Buffer);
      for (const [k, v] of bucket.entries) {
        h.push(k as Buffer, v as Buffer);
        total++;
      }
    }
    expect(status).toEqual({ hash: crc32c(Buffer.concat(h)), revision: 6, totalKey: total, totalSize: db.length });
    expect(total).toBe(6 + 2 + 1 + 1 + 1 + 1 + 1 + 2 + 1); // key, meta, lease, members, removed, cluster, alarm, auth, authUsers
  });

  it('refuses a file that fails the integrity check', () => {
    const db = encodeEtcdSnapshot(sampleState());
    // Mark the freelist as holding page 3, which is in use.
    db.writeUInt16LE(1, 2 * 4096 + 10);
    db.writeBigUInt64LE(3n, 2 * 4096 + 16);
    expect(() => etcdSnapshotStatus(db)).toThrow(/integrity check failed, 1 problems: page 3: reachable from bucket .* but free/);
  });
});

// Interoperability with the real etcd 3.4 and etcdctl (Debian packages
// etcd-server and etcd-client): files this library writes are read, checked
// and restored by the stock tools and served by a real etcd; files a real etcd
// saves are decoded exactly.
import fs from 'node:fs';
import path from 'node:path';
import {
  appendSnapshotHash,
  decodeEtcdSnapshot,
  encodeEtcdSnapshot,
  etcdSnapshotStatus,
  readBolt,
  splitSnapshotHash,
  writeBolt,
  type BoltBucket,
  type BoltEntry,
  type EtcdRevision,
  type EtcdSnapshotInput,
} from '../src';
import { Etcd, etcdctl, parseJsonBig, run, etcdctlPath, tempDir } from './etcd-helpers';

const b = (s: string) => Buffer.from(s);
const b64 = (s: string | Buffer) => (typeof s === 'string' ? b(s) : s).toString('base64');

interface JsonKv {
  key: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  value?: string;
  lease?: string | number;
}
interface JsonRange {
  header: { revision: number };
  kvs?: JsonKv[];
  count?: number;
}
interface JsonStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

async function snapshotStatus(file: string): Promise<JsonStatus> {
  return JSON.parse(await etcdctl(['snapshot', 'status', file, '-w', 'json'])) as JsonStatus;
}

const dirs: string[] = [];
const running: Etcd[] = [];

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const e of running) await e.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('a snapshot written by encodeEtcdSnapshot, in stock etcdctl and etcd', () => {
  const LEASE = 0x694d77aa9e1b2e0cn; // above 2^53
  const BIG = Buffer.alloc(200_000);
  for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919) & 0xff;
  const MANY = 2000;
  const LAST = 7 + MANY; // /many/k keys take revisions 8..2007

  function state(): EtcdSnapshotInput {
    const revisions: EtcdSnapshotInput['revisions'] = [
      { main: 2, kv: { key: 'foo', createRevision: 2, modRevision: 2, version: 1, value: 'v1' } },
      { main: 3, kv: { key: 'bar', createRevision: 3, modRevision: 3, version: 1, value: Buffer.from([0, 1, 2, 255]) } },
      { main: 4, kv: { key: 'foo', createRevision: 2, modRevision: 4, version: 2, value: 'v2' } },
      { main: 5, tombstone: true, kv: { key: 'bar' } },
      { main: 6, sub: 0, kv: { key: 'baz', createRevision: 6, modRevision: 6, version: 1, value: 'z' } },
      { main: 6, sub: 1, kv: { key: 'qux', createRevision: 6, modRevision: 6, version: 1, value: 'q', lease: LEASE } },
      { main: 7, kv: { key: '/big', createRevision: 7, modRevision: 7, version: 1, value: BIG } },
    ];
    for (let i = 0; i < MANY; i++) {
      const rev = 8 + i;
      revisions.push({ main: rev, kv: { key: `/many/k${String(i).padStart(4, '0')}`, createRevision: rev, modRevision: rev, version: 1, value: `value ${i}` } });
    }
    return {
      revisions,
      consistentIndex: 5000,
      compactRevision: 3,
      leases: [{ id: LEASE, ttl: 3600 }],
      members: [{ id: 0x8e9e05c52164694dn, peerURLs: ['http://127.0.0.1:2380'], name: 'old', clientURLs: ['http://127.0.0.1:2379'] }],
      clusterVersion: '3.4.0',
    };
  }

  let file: string;
  let etcd: Etcd;

  beforeAll(async () => {
    const d = dir('enc');
    file = path.join(d, 'kubets.snapshot.db');
    fs.writeFileSync(file, appendSnapshotHash(encodeEtcdSnapshot(state())));
  });

  it('etcdctl snapshot status: revision, key count and hash as computed here', async () => {
    const status = await snapshotStatus(file);
    const ours = etcdSnapshotStatus(fs.readFileSync(file));
    expect(status).toEqual(ours);
    expect(status.revision).toBe(LAST);
    // key bucket + meta (consistent_index, finishedCompactRev) + lease + members + cluster + auth (authRevision)
    expect(status.totalKey).toBe(state().revisions.length + 2 + 1 + 1 + 1 + 1);
    expect(status.totalSize).toBe(fs.statSync(file).size - 32);
  });

  it('etcdctl snapshot restore, then a real etcd serves the keys, their history and the lease', async () => {
    const d = dir('restore');
    const dataDir = path.join(d, 'data');
    const peerPort = await Etcd.peerPort();
    const peer = `http://127.0.0.1:${peerPort}`;
    const restore = await run(etcdctlPath(), [
      'snapshot', 'restore', file,
      '--data-dir', dataDir,
      '--name', 'm1',
      '--initial-cluster', `m1=${peer}`,
      '--initial-advertise-peer-urls', peer,
    ]);
    expect({ code: restore.code, stderr: restore.code === 0 ? '' : restore.stderr }).toEqual({ code: 0, stderr: '' });
    expect(fs.existsSync(path.join(dataDir, 'member', 'snap', 'db'))).toBe(true);

    etcd = await Etcd.start(dataDir, { name: 'm1', peerPort });
    running.push(etcd);

    const all = parseJsonBig<JsonRange>(await etcd.ctl(['get', '--prefix', '', '--keys-only', '-w', 'json']));
    expect(all.header.revision).toBe(LAST);
    expect(all.count).toBe(4 + MANY); // foo, baz, qux, /big and /many/*: bar was deleted

    const foo = parseJsonBig<JsonRange>(await etcd.ctl(['get', 'foo', '-w', 'json']));
    expect(foo.kvs).toEqual([{ key: b64('foo'), create_revision: 2, mod_revision: 4, version: 2, value: b64('v2') }]);
    const qux = parseJsonBig<JsonRange>(await etcd.ctl(['get', 'qux', '-w', 'json']));
    expect(qux.kvs).toEqual([{ key: b64('qux'), create_revision: 6, mod_revision: 6, version: 1, value: b64('q'), lease: LEASE.toString() }]);
    const big = parseJsonBig<JsonRange>(await etcd.ctl(['get', '/big', '-w', 'json']));
    expect(Buffer.from(big.kvs![0].value!, 'base64').equals(BIG)).toBe(true);
    const many = parseJsonBig<JsonRange>(await etcd.ctl(['get', '/many/k1234', '-w', 'json']));
    expect(many.kvs).toEqual([{ key: b64('/many/k1234'), create_revision: 8 + 1234, mod_revision: 8 + 1234, version: 1, value: b64('value 1234') }]);
    expect((await etcd.ctl(['get', 'bar'])).trim()).toBe('');

    // History above the compaction revision...
    expect((await etcd.ctl(['get', 'foo', '--rev', '3', '--print-value-only'])).trim()).toBe('v1');
    const barAt4 = parseJsonBig<JsonRange>(await etcd.ctl(['get', 'bar', '--rev', '4', '-w', 'json']));
    expect(barAt4.kvs).toEqual([{ key: b64('bar'), create_revision: 3, mod_revision: 3, version: 1, value: b64(Buffer.from([0, 1, 2, 255])) }]);
    expect((await etcd.ctl(['get', 'bar', '--rev', '5'])).trim()).toBe('');
    // ...and none below it.
    const compacted = await etcd.ctlResult(['get', 'foo', '--rev', '2']);
    expect(compacted.code).not.toBe(0);
    expect(compacted.stderr).toMatch(/required revision has been compacted/);

    // The lease came back with its key attached.
    expect(await etcd.ctl(['lease', 'list'])).toContain(LEASE.toString(16));
    const ttl = parseJsonBig<{ id: string; ttl: number; 'granted-ttl': number; keys: string[] }>(
      await etcd.ctl(['lease', 'timetolive', LEASE.toString(16), '--keys', '-w', 'json']),
    );
    expect(ttl['granted-ttl']).toBe(3600);
    expect(ttl.ttl).toBeGreaterThan(3000);
    expect(ttl.keys).toEqual([b64('qux')]);

    // etcd writes into the restored file: the next revision follows ours.
    const put = parseJsonBig<JsonRange>(await etcd.ctl(['put', 'after', 'restore', '-w', 'json']));
    expect(put.header.revision).toBe(LAST + 1);
  });

  it('and a snapshot saved back from that etcd decodes to our revisions plus its new one', async () => {
    const saved = path.join(dir('resave'), 'back.db');
    await etcd.ctl(['snapshot', 'save', saved]);
    const back = decodeEtcdSnapshot(fs.readFileSync(saved));
    const ours = decodeEtcdSnapshot(encodeEtcdSnapshot(state()));
    expect(back.revisions.slice(0, -1)).toEqual(ours.revisions);
    expect(back.revisions[back.revisions.length - 1]).toEqual({
      main: LAST + 1,
      sub: 0,
      tombstone: false,
      kv: { key: b('after'), createRevision: LAST + 1, modRevision: LAST + 1, version: 1, value: b('restore'), lease: 0n },
    });
    expect(back.leases).toEqual([{ id: LEASE, ttl: 3600, remainingTtl: 0 }]);
    expect(back.compactRevision).toBe(3);
    expect(back.clusterVersion).toBe('3.4.0');
    expect(back.members.map((m) => m.name)).toContain('m1');
  });
});

describe('a snapshot saved from a real etcd, decoded here', () => {
  let etcd: Etcd;
  let saved: Buffer;
  let appliedIndex: number;
  let leaseId: bigint;

  beforeAll(async () => {
    etcd = await Etcd.start(path.join(dir('real'), 'data'));
    running.push(etcd);
    await etcd.ctl(['put', 'a', '1']); // 2
    await etcd.ctl(['put', 'b', '2']); // 3
    await etcd.ctl(['put', 'a', '3']); // 4
    // One transaction, two puts: revision 5, sub revisions 0 and 1.
    const txn = await etcd.ctl(['txn'], '\nput t1 x\nput t2 y\n\n\n');
    expect(txn).toMatch(/SUCCESS/);
    await etcd.ctl(['del', 'b']); // 6
    const grant = await etcd.ctl(['lease', 'grant', '600']);
    leaseId = BigInt(`0x${/lease ([0-9a-f]+) granted/.exec(grant)![1]}`);
    await etcd.ctl(['put', 'l', Buffer.from([1, 2, 3]).toString('latin1'), `--lease=${leaseId.toString(16)}`]); // 7
    await etcd.ctl(['compaction', '4', '--physical']);
    await etcd.ctl(['put', 'z', 'last']); // 8
    const status = parseJsonBig<Array<{ Status: { raftAppliedIndex: number; header: { revision: number } } }>>(
      await etcd.ctl(['endpoint', 'status', '-w', 'json']),
    );
    expect(status[0].Status.header.revision).toBe(8);
    appliedIndex = status[0].Status.raftAppliedIndex;
    const file = path.join(dir('saved'), 'etcd.snapshot.db');
    await etcd.ctl(['snapshot', 'save', file]);
    saved = fs.readFileSync(file);
  });

  it('has etcd’s hash: size % 512 == 32, and a verified sha256', () => {
    expect(saved.length % 512).toBe(32);
    expect(splitSnapshotHash(saved).sha256).toBeDefined();
  });

  it('decodeEtcdSnapshot returns exactly the revisions, tombstones, leases and consistent index', () => {
    const s = decodeEtcdSnapshot(saved);
    const rev = (main: number, sub: number, key: string, value: string | Buffer, create: number, version: number, lease = 0n): EtcdRevision => ({
      main,
      sub,
      tombstone: false,
      kv: { key: b(key), createRevision: create, modRevision: main, version, value: typeof value === 'string' ? b(value) : value, lease },
    });
    // Compaction at 4 dropped revision 2 (a=1, superseded by revision 4).
    expect(s.revisions).toEqual([
      rev(3, 0, 'b', '2', 3, 1),
      rev(4, 0, 'a', '3', 2, 2),
      rev(5, 0, 't1', 'x', 5, 1),
      rev(5, 1, 't2', 'y', 5, 1),
      { main: 6, sub: 0, tombstone: true, kv: { key: b('b'), createRevision: 0, modRevision: 0, version: 0, value: b(''), lease: 0n } },
      rev(7, 0, 'l', Buffer.from([1, 2, 3]), 7, 1, leaseId),
      rev(8, 0, 'z', 'last', 8, 1),
    ]);
    expect(s.leases).toEqual([{ id: leaseId, ttl: 600, remainingTtl: 0 }]);
    expect(s.consistentIndex).toBe(BigInt(appliedIndex));
    expect(s.compactRevision).toBe(4);
    expect(s.scheduledCompactRevision).toBe(4);
    expect(s.members).toEqual([
      { id: s.members[0].id, name: 'm1', peerURLs: [etcd.peerUrl], clientURLs: [etcd.clientUrl], isLearner: false },
    ]);
    expect(s.clusterVersion).toBe('3.4.0');
    expect(s.authRevision).toBe(1);
    expect(s.removedMembers).toEqual([]);
    expect(s.alarms).toEqual([]);
    expect(s.extraBuckets).toEqual([]);
  });

  it('etcdSnapshotStatus agrees with etcdctl snapshot status on the real file', async () => {
    const dirPath = dir('status');
    const file = path.join(dirPath, 'real.db');
    fs.writeFileSync(file, saved);
    expect(etcdSnapshotStatus(saved)).toEqual(await snapshotStatus(file));
  });

  it('readBolt → writeBolt and decode → encode keep every key and value (same etcdctl hash)', async () => {
    const original = await snapshotStatus(await write('orig.db', saved));
    const { db } = splitSnapshotHash(saved);
    const rewritten = await snapshotStatus(await write('rewritten.db', appendSnapshotHash(writeBolt(readBolt(db)))));
    const reencoded = await snapshotStatus(await write('reencoded.db', appendSnapshotHash(encodeEtcdSnapshot(decodeEtcdSnapshot(saved)))));
    for (const status of [rewritten, reencoded]) {
      expect({ hash: status.hash, revision: status.revision, totalKey: status.totalKey }).toEqual({
        hash: original.hash,
        revision: original.revision,
        totalKey: original.totalKey,
      });
    }
  });

  async function write(name: string, bytes: Buffer): Promise<string> {
    const file = path.join(dir('files'), name);
    fs.writeFileSync(file, bytes);
    return file;
  }
});

describe('writeBolt files pass bbolt’s own integrity check (etcdctl snapshot status)', () => {
  function revKey(i: number): Buffer {
    const k = Buffer.alloc(17);
    k.writeBigUInt64BE(BigInt(i));
    k[8] = 0x5f;
    return k;
  }

  function buckets(): BoltBucket[] {
    const value = Buffer.alloc(256, 0x5a);
    const key: BoltEntry[] = Array.from({ length: 100_000 }, (_, i) => [revKey(i + 1), value]);
    const binary: BoltEntry[] = Array.from({ length: 256 }, (_, i) => [Buffer.from([i, 255 - i]), Buffer.from([i])]);
    return [
      { name: 'key', entries: key },
      { name: 'binary', entries: binary },
      { name: 'empty', entries: [] },
      {
        name: 'large',
        entries: [
          [b('a'), Buffer.alloc(5000, 1)],
          [b('b'), Buffer.alloc(1_500_000, 2)],
          [b('c'), b('small')],
          [Buffer.alloc(20_000, 0x63), b('a 20 KB key')],
        ],
      },
      {
        name: 'nested',
        sequence: 9n,
        entries: [[b('plain'), b('value')]],
        buckets: [
          { name: 'inline', entries: [[b('x'), b('y')]] },
          { name: 'paged', entries: Array.from({ length: 1000 }, (_, i): BoltEntry => [b(`p${i}`), Buffer.alloc(50, i)]), buckets: [{ name: 'deeper', entries: [] }] },
        ],
      },
    ];
  }

  it.each([
    ['4 KiB pages, packed full', { pageSize: 4096 }],
    ['16 KiB pages, half full', { pageSize: 16384, fillPercent: 0.5 }],
    ['1 KiB pages', { pageSize: 1024 }],
  ])('%s', async (_, options) => {
    const bytes = writeBolt(buckets(), options);
    const file = path.join(dir('bolt'), 'bolt.db');
    fs.writeFileSync(file, bytes);
    const status = await snapshotStatus(file);
    expect(status).toEqual(etcdSnapshotStatus(bytes));
    expect(status.revision).toBe(100_000);
    // every entry plus the names of nested buckets: 100000 + 256 + 4 + (1 + 2)
    expect(status.totalKey).toBe(100_000 + 256 + 4 + 3);
    expect(status.totalSize).toBe(bytes.length);
  });
});

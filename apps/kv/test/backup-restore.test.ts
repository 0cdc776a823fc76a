// Disaster recovery with stock tools: `etcdctl snapshot save` against
// kubets-kv, then restore into a new kubets-kv cluster (`kubets-kv restore`)
// or into a real etcd 3.4 (`etcdctl snapshot restore`); and an etcd 3.4
// snapshot restored into kubets-kv.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '@kubets/etcd-client';
import { freePort, KvCluster, ManagedProcess, RealEtcd, requireExecutable, waitFor } from '@kubets/testkit';
import { encodeSnapshotFile } from '../src/snapshot/state';

const s = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString();
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-backup-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

function etcdctl(args: string[], endpoints?: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const bin = requireExecutable('etcdctl', 'etcd-client');
  const all = endpoints ? ['--endpoints', endpoints.join(','), ...args] : args;
  return new Promise((resolve) =>
    execFile(bin, all, { env: { ...process.env, ETCDCTL_API: '3' } }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
}

/** Write a recognisable dataset: several revisions of a key, a delete, a lease with a key. */
async function seed(client: EtcdClient): Promise<{ rev: number; lease: bigint }> {
  await client.put('/data/a', 'a1');
  await client.put('/data/a', 'a2');
  await client.put('/data/b', 'b1');
  await client.put('/data/gone', 'x');
  await client.delete('/data/gone');
  const lease = await client.leaseGrant(3600);
  const r = await client.put('/data/leased', 'L', { lease: lease.ID });
  return { rev: Number(r.header!.revision), lease: lease.ID };
}

async function expectDataset(client: EtcdClient, rev: number, lease: bigint): Promise<void> {
  const all = await client.get('/data/', { prefix: true });
  expect(all.kvs.map((kv) => `${s(kv.key)}=${s(kv.value)} v${kv.version}`)).toEqual(['/data/a=a2 v2', '/data/b=b1 v1', '/data/leased=L v1']);
  expect(Number(all.header!.revision)).toBeGreaterThanOrEqual(rev);
  const a = all.kvs[0]!;
  expect(Number(a.modRevision)).toBeLessThan(rev);
  const old = await client.get('/data/a', { revision: Number(a.createRevision) });
  expect(s(old.kvs[0]!.value)).toBe('a1');
  const ttl = await client.leaseTimeToLive(lease, true);
  expect(ttl.grantedTTL).toBe(3600n);
  expect(ttl.keys.map(s)).toEqual(['/data/leased']);
}

describe('backup and restore', () => {
  it('kubets-kv snapshot -> kubets-kv restore into a new 3-member cluster, and into a real etcd with etcdctl snapshot restore', async () => {
    const file = path.join(work, 'kubets.db');
    const source = await KvCluster.start({ size: 3 });
    let rev: number;
    let lease: bigint;
    try {
      const client = new EtcdClient({ endpoints: source.endpoints });
      ({ rev, lease } = await seed(client));
      client.close();
      const saved = await source.etcdctl(['snapshot', 'save', file], [0]); // etcdctl wants exactly one endpoint
      expect(saved.code).toBe(0);
    } finally {
      await source.dispose();
    }

    // Into a new kubets-kv cluster.
    const restored = await KvCluster.start({ size: 3, restoreFrom: file, token: 'restored-cluster' });
    try {
      const client = new EtcdClient({ endpoints: restored.endpoints });
      await expectDataset(client, rev, lease);
      await client.put('/data/new', 'works'); // the new cluster takes writes
      const members = await client.memberList();
      expect(members.members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
      client.close();
    } finally {
      await restored.dispose();
    }

    // Into a real etcd 3.4 with etcdctl snapshot restore.
    const [client, peer] = [await freePort(), await freePort()];
    const dataDir = path.join(work, 'etcd-restored');
    const r = await etcdctl([
      'snapshot',
      'restore',
      file,
      '--name',
      'e1',
      '--data-dir',
      dataDir,
      '--initial-cluster',
      `e1=http://127.0.0.1:${peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${peer}`,
    ]);
    expect(r.code).toBe(0);
    const etcd = new ManagedProcess({
      name: 'etcd-restored',
      command: requireExecutable('etcd', 'etcd-server'),
      args: [
        '--name', 'e1', '--data-dir', dataDir,
        '--listen-client-urls', `http://127.0.0.1:${client}`, '--advertise-client-urls', `http://127.0.0.1:${client}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
        '--initial-cluster', `e1=http://127.0.0.1:${peer}`,
      ],
    }).start();
    try {
      await etcd.waitForLog(/ready to serve client requests/, 20_000);
      const c = new EtcdClient({ endpoints: [`127.0.0.1:${client}`] });
      await waitFor(() => c.get('/data/a').then(() => true, () => false), { description: 'restored etcd to answer' });
      await expectDataset(c, rev, lease);
      c.close();
    } finally {
      await etcd.kill();
    }
  }, 120_000);

  it('a real etcd 3.4 snapshot -> kubets-kv restore', async () => {
    const file = path.join(work, 'etcd.db');
    const etcd = await RealEtcd.start();
    let rev: number;
    let lease: bigint;
    try {
      const client = new EtcdClient({ endpoints: [etcd.endpoint] });
      ({ rev, lease } = await seed(client));
      client.close();
      const saved = await etcdctl(['snapshot', 'save', file], [etcd.endpoint]);
      expect(saved.code).toBe(0);
    } finally {
      await etcd.dispose();
    }
    const cluster = await KvCluster.start({ size: 3, restoreFrom: file, token: 'from-etcd' });
    try {
      const client = new EtcdClient({ endpoints: cluster.endpoints });
      await expectDataset(client, rev, lease);
      client.close();
    } finally {
      await cluster.dispose();
    }
  }, 120_000);

  it('refuses a corrupted snapshot and a non-empty data dir', async () => {
    const bin = path.resolve(__dirname, '..', 'dist', 'main.js');
    const file = path.join(work, 'corrupt.db');
    fs.writeFileSync(file, Buffer.alloc(512 * 8 + 32, 7));
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(process.execPath, [bin, 'restore', ...args], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr })),
      );
    const corrupt = await run([file, '--data-dir', path.join(work, 'x1')]);
    expect(corrupt.code).toBe(1);
    expect(corrupt.out).toMatch(/sha256 mismatch/);
    const busy = path.join(work, 'busy');
    fs.mkdirSync(busy);
    fs.writeFileSync(path.join(busy, 'something'), 'x');
    const valid = path.join(work, 'valid.db');
    fs.writeFileSync(
      valid,
      encodeSnapshotFile({ revisions: [], compactRev: -1, currentRev: 1, consistentIndex: 1, term: 1, leases: [], members: [], removed: [], clusterId: 1, alarms: [] }),
    );
    const nonEmpty = await run([valid, '--data-dir', busy]);
    expect(nonEmpty.code).toBe(1);
    expect(nonEmpty.out).toContain('exists and is not empty');
  });
});

// Stock etcdctl 3.4 (Debian etcd-client) against a 3-member kubets-kv
// cluster of separate processes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KvCluster, listServices, requireExecutable, waitFor } from '@kubets/testkit';

let cluster: KvCluster;

beforeAll(async () => {
  cluster = await KvCluster.start({ size: 3 });
}, 60_000);

afterAll(async () => {
  await cluster?.dispose();
});

async function ok(args: string[], members?: number[], input?: string): Promise<string> {
  const r = await cluster.etcdctl(args, members, input);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${cluster.logs(10)}`);
  return r.stdout;
}

const unb64 = (s: string) => Buffer.from(s, 'base64').toString();

describe('etcdctl against kubets-kv', () => {
  it('put and get, through different members', async () => {
    expect(await ok(['put', 'greeting', 'hello'], [0])).toBe('OK\n');
    expect(await ok(['get', 'greeting'], [1])).toBe('greeting\nhello\n');
    expect(await ok(['get', 'greeting', '--print-value-only'], [2])).toBe('hello\n');
  });

  it('get --prefix, --limit, --keys-only, -w json, --rev', async () => {
    for (const [k, v] of [
      ['/app/a', '1'],
      ['/app/b', '2'],
      ['/app/c', '3'],
      ['/other', 'x'],
    ]) {
      await ok(['put', k!, v!]);
    }
    expect(await ok(['get', '/app/', '--prefix'])).toBe('/app/a\n1\n/app/b\n2\n/app/c\n3\n');
    expect(await ok(['get', '/app/', '--prefix', '--limit', '2'])).toBe('/app/a\n1\n/app/b\n2\n');
    expect(await ok(['get', '/app/', '--prefix', '--keys-only'])).toBe('/app/a\n\n/app/b\n\n/app/c\n\n');
    const json = JSON.parse(await ok(['get', '/app/', '--prefix', '--limit', '1', '-w', 'json']));
    expect(json.count).toBe(3);
    expect(json.more).toBe(true);
    expect(json.kvs).toHaveLength(1);
    expect(unb64(json.kvs[0].key)).toBe('/app/a');
    expect(json.header.cluster_id).toBeGreaterThan(0);
    expect(json.header.member_id).toBeGreaterThan(0);
    expect(json.header.raft_term).toBeGreaterThan(0);
    const first = JSON.parse(await ok(['get', '/app/a', '-w', 'json'])).kvs[0];
    await ok(['put', '/app/a', 'changed']);
    expect(await ok(['get', '/app/a', '--rev', String(first.mod_revision), '--print-value-only'])).toBe('1\n');
    const after = JSON.parse(await ok(['get', '/app/a', '-w', 'json'])).kvs[0];
    expect(after.version).toBe(2);
    expect(after.create_revision).toBe(first.create_revision);
    expect(after.mod_revision).toBeGreaterThan(first.mod_revision);
  });

  it('del (single, --prefix, --prev-kv)', async () => {
    await ok(['put', 'del/1', 'a']);
    await ok(['put', 'del/2', 'b']);
    await ok(['put', 'del/3', 'c']);
    expect(await ok(['del', 'del/1'])).toBe('1\n');
    expect(await ok(['del', 'del/', '--prefix', '--prev-kv'])).toBe('2\ndel/2\nb\ndel/3\nc\n');
    expect(await ok(['get', 'del/', '--prefix'])).toBe('');
    expect(await ok(['del', 'nothing-here'])).toBe('0\n');
  });

  it('txn (interactive on stdin): success and failure branches', async () => {
    await ok(['put', 'txn/key', 'v1']);
    const yes = await ok(['txn'], undefined, 'value("txn/key") = "v1"\n\nput txn/key v2\nput txn/other o\n\nput txn/key fail\n\n');
    expect(yes).toBe('SUCCESS\n\nOK\n\nOK\n');
    const no = await ok(['txn'], undefined, 'value("txn/key") = "v1"\n\nput txn/key v3\n\nget txn/key\n\n');
    expect(no).toBe('FAILURE\n\ntxn/key\nv2\n');
    expect(await ok(['get', 'txn/other', '--print-value-only'])).toBe('o\n');
  });

  it('watch --prefix, --rev (history) and --prev-kv', async () => {
    const bin = requireExecutable('etcdctl', 'etcd-client');
    const start = JSON.parse(await ok(['get', 'nothing', '-w', 'json'])).header.revision + 1;
    await ok(['put', 'w/1', 'a']);
    const watcher = spawn(bin, ['--endpoints', cluster.endpoints[1]!, 'watch', 'w/', '--prefix', '--rev', String(start), '--prev-kv'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    watcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('w/1\na\n'), { description: 'history event', context: () => out });
      await ok(['put', 'w/1', 'b'], [2]);
      await ok(['del', 'w/1'], [0]);
      await ok(['put', 'x/not-watched', 'z']);
      await waitFor(() => out.split('DELETE').length === 2, { description: 'live events', context: () => out });
      // PUT a (history, no prev), PUT b with prev a, DELETE with prev b.
      expect(out).toBe('PUT\nw/1\na\nPUT\nw/1\na\nw/1\nb\nDELETE\nw/1\nb\nw/1\n\n');
    } finally {
      watcher.kill();
    }
  });

  it('leases: grant, put --lease, timetolive --keys, list, keep-alive, revoke', async () => {
    const granted = await ok(['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(granted)![1]!;
    await ok(['put', 'leased', 'v', `--lease=${id}`], [1]);
    expect(await ok(['lease', 'timetolive', id, '--keys'], [2])).toMatch(
      new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[leased\\]\\)`),
    );
    expect(await ok(['lease', 'list'])).toContain(id);
    expect(await ok(['lease', 'keep-alive', '--once', id], [2])).toBe(`lease ${id} keepalived with TTL(60)\n`);
    expect(await ok(['lease', 'revoke', id])).toBe(`lease ${id} revoked\n`);
    expect(await ok(['get', 'leased'])).toBe('');
    expect(await ok(['lease', 'timetolive', id])).toBe(`lease ${id} already expired\n`);
    const bad = await cluster.etcdctl(['put', 'k', 'v', '--lease=1234abcd']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('etcdserver: requested lease not found');
  });

  it('an expired lease deletes its keys', async () => {
    const id = /lease ([0-9a-f]+) granted/.exec(await ok(['lease', 'grant', '2']))![1]!;
    await ok(['put', 'ephemeral', 'v', `--lease=${id}`]);
    expect(await ok(['get', 'ephemeral', '--print-value-only'])).toBe('v\n');
    await waitFor(async () => (await ok(['get', 'ephemeral'])) === '', { timeoutMs: 10_000, description: 'the leased key to expire' });
    expect(await ok(['lease', 'timetolive', id])).toBe(`lease ${id} already expired\n`);
  });

  it('compaction: old revisions become unreadable, with etcd errors', async () => {
    await ok(['put', 'c', '1']);
    const r1 = JSON.parse(await ok(['get', 'c', '-w', 'json'])).header.revision;
    await ok(['put', 'c', '2']);
    const r2 = JSON.parse(await ok(['get', 'c', '-w', 'json'])).header.revision;
    expect(await ok(['compact', String(r2)])).toBe(`compacted revision ${r2}\n`);
    const old = await cluster.etcdctl(['get', 'c', '--rev', String(r1)]);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('etcdserver: mvcc: required revision has been compacted');
    const future = await cluster.etcdctl(['get', 'c', '--rev', String(r2 + 1000)]);
    expect(future.stderr).toContain('etcdserver: mvcc: required revision is a future revision');
    const again = await cluster.etcdctl(['compact', String(r1)]);
    expect(again.stderr).toContain('etcdserver: mvcc: required revision has been compacted');
  });

  it('member list, endpoint status --cluster (one leader), endpoint health', async () => {
    const list = await ok(['member', 'list', '-w', 'json']);
    const members = JSON.parse(list).members as Array<{ name: string; peerURLs: string[]; clientURLs: string[] }>;
    expect(members.map((m) => m.name).sort()).toEqual(['m1', 'm2', 'm3']);
    expect(members.every((m) => m.clientURLs.length === 1 && m.peerURLs.length === 1)).toBe(true);
    expect(members.map((m) => m.clientURLs[0]).sort()).toEqual([...cluster.endpoints].sort());
    const status = JSON.parse(await ok(['endpoint', 'status', '--cluster', '-w', 'json'], [0]));
    expect(status).toHaveLength(3);
    const leaders = status.filter((s: { Status: { leader: number; header: { member_id: number } } }) => s.Status.leader === s.Status.header.member_id);
    expect(leaders).toHaveLength(1);
    const health = await cluster.etcdctl(['endpoint', 'health', '--cluster'], [0]);
    expect(health.code).toBe(0);
    expect((health.stdout + health.stderr).match(/is healthy/g)).toHaveLength(3);
  });

  it('snapshot save writes an etcd snapshot that etcdctl snapshot status reads', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-snap-'));
    const file = path.join(dir, 'backup.db');
    try {
      await ok(['put', 'snap/a', '1']);
      const rev = JSON.parse(await ok(['get', 'snap/a', '-w', 'json'])).header.revision;
      const saved = await ok(['snapshot', 'save', file], [1]);
      expect(saved).toContain(`Snapshot saved at ${file}`);
      expect(fs.statSync(file).size % 512).toBe(32); // the database, then its sha256 (etcdctl checks it on restore)
      const status = JSON.parse(await ok(['snapshot', 'status', file, '-w', 'json']));
      expect(status.revision).toBe(rev);
      expect(status.totalKey).toBeGreaterThan(5);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad input gets etcd errors and no member crashes', async () => {
    const empty = await cluster.etcdctl(['put', '', 'v']);
    expect(empty.stderr).toContain('etcdserver: key is not provided');
    const big = await cluster.etcdctl(['put', 'big'], undefined, 'x'.repeat(2 * 1024 * 1024)); // value on stdin
    expect(big.code).not.toBe(0);
    expect(big.stderr).toMatch(/etcdserver: request is too large|trying to send message larger than max|larger than max/);
    const ttl = await cluster.etcdctl(['lease', 'grant', '9000000001']);
    expect(ttl.stderr).toContain('etcdserver: too large lease TTL');
    expect(cluster.members.every((m) => m.process.running)).toBe(true);
    expect(await ok(['put', 'still', 'alive'])).toBe('OK\n');
  });

  it('serves gRPC reflection for the etcd v3 services and health', async () => {
    const services = await listServices(cluster.endpoints[0]!);
    for (const s of [
      'etcdserverpb.KV',
      'etcdserverpb.Watch',
      'etcdserverpb.Lease',
      'etcdserverpb.Cluster',
      'etcdserverpb.Maintenance',
      'grpc.health.v1.Health',
    ]) {
      expect(services).toContain(s);
    }
  });
});


// Membership changes with stock etcdctl: add a member and start it with
// --initial-cluster-state existing; remove a member, which then shuts down.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '@kubets/etcd-client';
import { builtApp, freePort, KvCluster, ManagedProcess, waitFor } from '@kubets/testkit';

describe('kubets-kv membership', () => {
  let cluster: KvCluster;
  let extra: ManagedProcess | undefined;
  let extraEndpoint = '';
  let dataDir: string;

  beforeAll(async () => {
    cluster = await KvCluster.start({ size: 3 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-member-m4-'));
  }, 60_000);

  let learner: ManagedProcess | undefined;
  let learnerDir: string | undefined;

  afterAll(async () => {
    await extra?.kill();
    await learner?.kill();
    await cluster?.dispose();
    fs.rmSync(dataDir, { recursive: true, force: true });
    if (learnerDir) fs.rmSync(learnerDir, { recursive: true, force: true });
  });

  /** etcdctl member list -w json, from the given members of `cluster`. */
  async function memberList(members: number[]): Promise<Array<{ ID: number; name: string; peerURLs: string[]; isLearner?: boolean }>> {
    const r = await cluster.etcdctl(['member', 'list', '-w', 'json'], members);
    return (JSON.parse(r.stdout) as { members: Array<{ ID: number; name: string; peerURLs: string[]; isLearner?: boolean }> }).members;
  }

  // etcdctl prints ids in hex; JSON numbers lose precision above 2^53 but kubets ids stay below it.
  const hex = (id: number) => BigInt(id).toString(16);

  it('etcdctl member add, then the new member joins with --initial-cluster-state existing and catches up', async () => {
    const client = new EtcdClient({ endpoints: cluster.endpoints });
    for (let i = 0; i < 20; i++) await client.put(`before/${i}`, `v${i}`);
    const [clientPort, peerPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const added = await cluster.etcdctl(['member', 'add', 'm4', `--peer-urls=${peerUrl}`]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/Member\s+[0-9a-f]+ added to cluster\s+[0-9a-f]+/); // etcdctl pads ids (%16x)
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)![1]!;
    expect(initialCluster).toContain(`m4=${peerUrl}`);
    expect(added.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');

    extra = new ManagedProcess({
      name: 'kubets-kv-m4',
      command: process.execPath,
      args: [
        builtApp('kv'),
        '--name', 'm4',
        '--data-dir', dataDir,
        '--listen-client-urls', `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'existing',
        '--initial-cluster-token', 'kubets-test',
        '--listen-metrics-urls', `http://127.0.0.1:${metricsPort}`,
      ],
    }).start();
    extraEndpoint = `127.0.0.1:${clientPort}`;
    const m4 = new EtcdClient({ endpoints: [extraEndpoint] });
    await waitFor(
      async () => {
        const r = await m4.get('before/', { prefix: true, countOnly: true, serializable: true }).catch(() => undefined);
        return r?.count === 20n;
      },
      { timeoutMs: 30_000, description: 'the new member to catch up', context: () => extra!.tail(20) },
    );
    await waitFor(async () => (await cluster.etcdctl(['member', 'list'])).stdout.includes(', started, m4,'), {
      timeoutMs: 15_000,
      description: 'm4 to publish its name',
    });
    await client.put('after', 'x');
    await waitFor(async () => (await m4.get('after', { serializable: true }).catch(() => undefined))?.kvs.length === 1, {
      description: 'a new write to reach m4',
    });
    m4.close();
    client.close();
  }, 90_000);

  it('etcdctl member remove: the cluster keeps serving and the removed member shuts down', async () => {
    const list = JSON.parse((await cluster.etcdctl(['member', 'list', '-w', 'json'])).stdout) as {
      members: Array<{ ID: number; name: string }>;
    };
    const victim = list.members.find((m) => m.name === 'm1')!;
    // etcdctl prints ids in hex; JSON numbers lose precision above 2^53 but kubets ids stay below it.
    const hexId = BigInt(victim.ID).toString(16);
    const removed = await cluster.etcdctl(['member', 'remove', hexId], [1, 2]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(new RegExp(`Member\\s+${hexId} removed from cluster`));
    await cluster.members[0]!.process.waitForExit(20_000);
    expect(cluster.members[0]!.process.logs()).toContain('this member was removed from the cluster');
    const after = await cluster.etcdctl(['member', 'list'], [1, 2]);
    expect(after.stdout).not.toContain(', m1,');
    expect((await cluster.etcdctl(['put', 'still', 'here'], [1, 2])).stdout).toBe('OK\n');
  }, 60_000);
  it('etcdctl member update: the new peer URL is replicated, and the member restarted on it catches up', async () => {
    const m3 = cluster.members[2]!;
    const before = await memberList([1, 2]);
    const id = hex(before.find((m) => m.name === 'm3')!.ID);
    const newPeerUrl = `http://127.0.0.1:${await freePort()}`;
    // A URL another member has is refused.
    const clash = await cluster.etcdctl(['member', 'update', id, `--peer-urls=${cluster.members[1]!.peerUrl}`], [1, 2]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain('Peer URLs already exists');

    const updated = await cluster.etcdctl(['member', 'update', id, `--peer-urls=${newPeerUrl}`], [1, 2]);
    expect(updated.code).toBe(0);
    expect(updated.stdout).toMatch(new RegExp(`Member\\s+${id} updated in cluster\\s+[0-9a-f]+`));
    // Every member applied it (m4 included).
    for (const endpoint of [cluster.members[1]!.endpoint, m3.endpoint, extraEndpoint]) {
      await waitFor(async () => {
        const c = new EtcdClient({ endpoints: [endpoint] });
        try {
          const list = await c.memberList();
          return list.members.find((m) => hex(Number(m.ID)) === id)?.peerURLs.join(',') === newPeerUrl;
        } finally {
          c.close();
        }
      }, { description: `${endpoint} to apply the update` });
    }

    // Restart m3 on its new peer URL. Its flags still name the old URL in
    // --initial-cluster: after the first start the data dir has the say.
    await m3.process.stop();
    const args = m3.process.options.args!.slice();
    const set = (flag: string, value: string) => (args[args.indexOf(flag) + 1] = value);
    set('--listen-peer-urls', newPeerUrl);
    set('--initial-advertise-peer-urls', newPeerUrl);
    m3.process = new ManagedProcess({ name: 'kubets-kv-m3-moved', command: process.execPath, args }).start();
    await m3.process.waitForLog(/kubets-kv member started/, 20_000);
    const client = new EtcdClient({ endpoints: [cluster.members[1]!.endpoint] });
    for (let i = 0; i < 10; i++) await client.put(`moved/${i}`, `v${i}`);
    client.close();
    const onM3 = new EtcdClient({ endpoints: [m3.endpoint] });
    await waitFor(
      async () => (await onM3.get('moved/', { prefix: true, countOnly: true, serializable: true }).catch(() => undefined))?.count === 10n,
      { timeoutMs: 20_000, description: 'm3 to catch up on its new peer URL', context: () => m3.process.tail(20) },
    );
    onM3.close();
    expect((await memberList([1, 2])).find((m) => hex(m.ID) === id)!.peerURLs).toEqual([newPeerUrl]);
  }, 90_000);

  it('etcdctl member add --learner: the learner catches up, then member promote makes it a voter', async () => {
    learnerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-member-m5-'));
    const [clientPort, peerPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const added = await cluster.etcdctl(['member', 'add', 'm5', '--learner', `--peer-urls=${peerUrl}`], [1, 2]);
    expect(added.code).toBe(0);
    const id = /Member\s+([0-9a-f]+) added to cluster/.exec(added.stdout)![1]!;
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)![1]!;
    expect((await memberList([1, 2])).find((m) => hex(m.ID) === id)).toMatchObject({ isLearner: true });
    // Not running yet, so not in sync: etcd refuses the promotion, whichever member is asked
    // (a follower forwards it to the leader, which alone knows the learner's progress).
    for (const member of [1, 2]) {
      const early = await cluster.etcdctl(['member', 'promote', id], [member]);
      expect(early.code).not.toBe(0);
      expect(early.stderr).toContain('etcdserver: can only promote a learner member which is in sync with leader');
    }
    expect((await memberList([1, 2])).find((m) => hex(m.ID) === id)).toMatchObject({ isLearner: true });

    learner = new ManagedProcess({
      name: 'kubets-kv-m5',
      command: process.execPath,
      args: [
        builtApp('kv'),
        '--name', 'm5',
        '--data-dir', learnerDir,
        '--listen-client-urls', `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'existing',
        '--initial-cluster-token', 'kubets-test',
        '--listen-metrics-urls', `http://127.0.0.1:${metricsPort}`,
      ],
    }).start();
    const m5 = new EtcdClient({ endpoints: [`127.0.0.1:${clientPort}`] });
    await waitFor(
      async () => (await m5.get('moved/', { prefix: true, countOnly: true, serializable: true }).catch(() => undefined))?.count === 10n,
      { timeoutMs: 30_000, description: 'the learner to catch up', context: () => learner!.tail(20) },
    );
    // Its Status says it is a learner.
    expect((await m5.status(0)).isLearner).toBe(true);

    // Caught up: promoted, here through a follower.
    const via = (await cluster.leader([1, 2])) === 1 ? 2 : 1; // a follower
    const promoted = await cluster.etcdctl(['member', 'promote', id], [via]);
    expect(promoted.code).toBe(0);
    expect(promoted.stdout).toMatch(new RegExp(`Member\\s+${id} promoted in cluster\\s+[0-9a-f]+`));
    await waitFor(async () => (await m5.status(0).catch(() => undefined))?.isLearner === false, { description: 'm5 to apply its promotion' });
    expect((await memberList([1, 2])).find((m) => hex(m.ID) === id)!.isLearner ?? false).toBe(false);
    // Promoting a voter is refused.
    const again = await cluster.etcdctl(['member', 'promote', id], [1, 2]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('can only promote a learner member');
    // The cluster (four voters now) keeps serving, m5 included.
    expect((await cluster.etcdctl(['put', 'after-promote', 'ok'], [1, 2])).stdout).toBe('OK\n');
    await waitFor(async () => (await m5.get('after-promote', { serializable: true }).catch(() => undefined))?.kvs.length === 1, {
      description: 'a write to reach the promoted member',
    });
    m5.close();
  }, 90_000);
});

describe('kubets-kv with one member', () => {
  it('the only voter becomes leader at once, not after an election timeout (etcd fast-forwards its ticks)', async () => {
    const started = Date.now();
    // A 10 s election timeout: waiting it out would take 10-20 s.
    const single = await KvCluster.start({ size: 1, electionMs: 10_000 });
    try {
      const client = new EtcdClient({ endpoints: single.endpoints });
      await waitFor(async () => (await client.status()).leader !== 0n, { timeoutMs: 8_000, description: 'a leader' });
      await client.put('one', '1');
      client.close();
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      await single.dispose();
    }
  }, 30_000);
});

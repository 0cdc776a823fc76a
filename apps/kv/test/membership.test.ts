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
  let dataDir: string;

  beforeAll(async () => {
    cluster = await KvCluster.start({ size: 3 });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kv-member-m4-'));
  }, 60_000);

  afterAll(async () => {
    await extra?.kill();
    await cluster?.dispose();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

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
    const m4 = new EtcdClient({ endpoints: [`127.0.0.1:${clientPort}`] });
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
});

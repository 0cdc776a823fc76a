// The KV step of `kubets join --control-plane`: the joining member is added
// as a learner and promoted once the leader finds it in sync (kubeadm's etcd
// learner mode), against a real 3-member kubets-kv and a real learner process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '@kubets/etcd-client';
import { KvCluster, ManagedProcess, builtApp, freePort } from '@kubets/testkit';
import { JoinError } from '../src/join';
import { promoteWhenInSync } from '../src/join-control-plane';

jest.setTimeout(90_000);

describe('KV learner promotion for a joining control-plane node', () => {
  let cluster: KvCluster;
  let client: EtcdClient;
  let learner: ManagedProcess | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    cluster = await KvCluster.start({ size: 3 });
    client = new EtcdClient({ endpoints: cluster.endpoints });
    for (let i = 0; i < 50; i++) await client.put(`before/${i}`, 'x'.repeat(100));
  });
  afterAll(async () => {
    client?.close();
    await learner?.kill();
    await cluster?.dispose();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('waits while the learner is not running, promotes it once it has caught up', async () => {
    const peerUrl = `http://127.0.0.1:${await freePort()}`;
    const clientUrl = `http://127.0.0.1:${await freePort()}`;
    const added = await client.memberAdd([peerUrl], true);
    const id = added.member!.ID;
    const lines: string[] = [];
    // Asked before the member runs: refused (not in sync) and asked again.
    const promoting = promoteWhenInSync(cluster.endpoints, id, 60_000, (l) => lines.push(l));
    let settled = false;
    void promoting.finally(() => (settled = true)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(settled).toBe(false);
    expect((await client.memberList()).members.find((m) => m.ID === id)?.isLearner).toBe(true);

    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-learner-'));
    dirs.push(dataDir);
    const initialCluster = [...added.members.filter((m) => m.name).map((m) => `${m.name}=${m.peerURLs[0]}`), `learner=${peerUrl}`].join(',');
    learner = new ManagedProcess({
      name: 'kubets-kv-learner',
      command: process.execPath,
      args: [
        builtApp('kv'),
        '--name', 'learner',
        '--data-dir', dataDir,
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'existing',
        '--initial-cluster-token', 'kubets-test',
        '--listen-metrics-urls', `http://127.0.0.1:${await freePort()}`,
      ],
    }).start();
    await promoting;
    expect(lines.join('\n')).toMatch(new RegExp(`Promoted ${id.toString(16)} to a voting member`));
    expect((await client.memberList()).members.find((m) => m.ID === id)?.isLearner ?? false).toBe(false);
    // A promotion asked again (its answer lost, say) finds a voter and is done.
    await expect(promoteWhenInSync(cluster.endpoints, id, 5_000, () => undefined)).resolves.toBeUndefined();
  });

  it('gives up after its timeout with the command that finishes the job', async () => {
    const added = await client.memberAdd([`http://127.0.0.1:${await freePort()}`], true);
    const id = added.member!.ID.toString(16);
    const err = await promoteWhenInSync(cluster.endpoints, added.member!.ID, 2_000, () => undefined).catch((e: Error) => e);
    expect(err).toBeInstanceOf(JoinError);
    expect((err as Error).message).toContain('can only promote a learner member which is in sync with leader');
    expect((err as Error).message).toContain(`member promote ${id}`);
  });
});

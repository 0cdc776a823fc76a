// kubets-kv under failures, with real member processes: kill -9 the leader
// under load, kill every member, and bring back a member that fell far behind.
import { EtcdClient } from '@kubets/etcd-client';
import type { Event } from '@kubets/proto/etcd/mvccpb/kv';
import { KvCluster, waitFor } from '@kubets/testkit';

const s = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString();

/** Which member (index) is leader, asking the given members directly. */
async function leaderAmong(cluster: KvCluster, client: EtcdClient, among: number[]): Promise<number | undefined> {
  for (const i of among) {
    try {
      const st = await client.status(i);
      if (st.leader !== 0n) {
        const idx = cluster.members.findIndex((_, j) => among.includes(j) && j === i && st.leader === st.header!.memberId);
        if (idx >= 0) return idx;
        // Ask the others which one it is.
        for (const j of among) {
          const sj = await client.status(j).catch(() => undefined);
          if (sj && sj.header!.memberId === st.leader) return j;
        }
      }
    } catch {
      // member down or busy
    }
  }
  return undefined;
}

describe('kubets-kv failover', () => {
  let cluster: KvCluster;
  let client: EtcdClient;

  beforeEach(async () => {
    cluster = await KvCluster.start({ size: 3 });
    client = new EtcdClient({ endpoints: cluster.endpoints, callTimeoutMs: 2_000, operationTimeoutMs: 10_000 });
  }, 60_000);

  afterEach(async () => {
    client?.close();
    await cluster?.dispose();
  });

  it('kill -9 of the leader during writes: new leader within 2 s, no acknowledged write lost, watches resume without gaps or duplicates', async () => {
    const start = Number((await client.put('ready', 'x')).header!.revision) + 1;
    const watcherClient = new EtcdClient({ endpoints: cluster.endpoints, callTimeoutMs: 2_000 });
    const events: Event[] = [];
    const watch = watcherClient.watch('load/', { prefix: true, startRevision: start }, (evs) => events.push(...evs));
    const acked = new Map<string, { value: string; revision: number }>();
    let failures = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `load/${w}/${i}`;
        const value = `v${w}-${i}`;
        try {
          const r = await client.put(key, value);
          acked.set(key, { value, revision: Number(r.header!.revision) });
        } catch {
          failures++; // outcome unknown: may or may not have been applied
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    try {
      await waitFor(() => acked.size >= 200, { timeoutMs: 20_000, description: '200 acknowledged writes' });
      const leader = await cluster.waitForLeader();
      const survivors = [0, 1, 2].filter((i) => i !== leader);
      const killedAt = Date.now();
      await cluster.kill(leader);
      const newLeader = await waitFor(async () => {
        const l = await leaderAmong(cluster, client, survivors);
        return l === undefined ? undefined : { l };
      }, { timeoutMs: 10_000, intervalMs: 20, description: 'a new leader', context: () => cluster.logs() });
      expect(survivors).toContain(newLeader.l);
      // When the new leader took over, by its own log (the poller's latency does not count).
      const becameLeader = cluster.members[newLeader.l]!.process
        .logs()
        .split('\n')
        .filter((l) => l.includes('"msg":"became leader"'))
        .map((l) => Date.parse((JSON.parse(l) as { time: string }).time))
        .filter((t) => t >= killedAt);
      expect(becameLeader.length).toBeGreaterThan(0);
      const electionMs = becameLeader[0]! - killedAt;
      expect(electionMs).toBeLessThan(2_000);
      const ackedAtKill = acked.size;
      await waitFor(() => acked.size >= ackedAtKill + 200, { timeoutMs: 20_000, description: '200 more writes after the failover' });
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    // Every acknowledged write is there, with the revision it was acknowledged at.
    const all = await client.get('load/', { prefix: true });
    const stored = new Map(all.kvs.map((kv) => [s(kv.key), { value: s(kv.value), revision: Number(kv.modRevision) }]));
    for (const [key, want] of acked) expect(stored.get(key)).toEqual(want);
    // The watch saw every stored write exactly once, in revision order, across the failover.
    await waitFor(() => events.length >= stored.size, { timeoutMs: 10_000, description: 'the watch to catch up' });
    watch.cancel();
    watcherClient.close();
    const revs = events.map((e) => Number(e.kv!.modRevision));
    expect(new Set(revs).size).toBe(revs.length);
    expect(revs).toEqual([...revs].sort((a, b) => a - b));
    expect(new Set(events.map((e) => s(e.kv!.key)))).toEqual(new Set(stored.keys()));
    expect(failures).toBeLessThan(50);
  });

  it('every member killed with -9 and restarted: data, revisions, compaction and leases are intact', async () => {
    for (let i = 0; i < 50; i++) await client.put(`keep/${i}`, `v${i}`);
    const compactAt = Number((await client.put('keep/0', 'rewritten')).header!.revision);
    await client.compact(compactAt - 5);
    const lease = await client.leaseGrant(600);
    await client.put('keep/leased', 'x', { lease: lease.ID });
    const before = await client.get('keep/', { prefix: true });
    for (let i = 0; i < 3; i++) await cluster.kill(i);
    for (let i = 0; i < 3; i++) cluster.restart(i);
    await cluster.waitForLeader(20_000);
    const after = await client.get('keep/', { prefix: true });
    expect(after.header!.revision).toBe(before.header!.revision);
    expect(after.kvs).toEqual(before.kvs);
    const ttl = await client.leaseTimeToLive(lease.ID, true);
    expect(ttl.TTL).toBeGreaterThan(500n);
    expect(ttl.keys.map(s)).toEqual(['keep/leased']);
    await expect(client.get('keep/1', { revision: compactAt - 10 })).rejects.toMatchObject({
      message: 'etcdserver: mvcc: required revision has been compacted',
    });
    // Every member holds the same history.
    const hashes = await Promise.all([0, 1, 2].map((i) => cluster.etcdctl(['endpoint', 'hashkv', '-w', 'json'], [i])));
    const values = hashes.map((h) => JSON.parse(h.stdout)[0].HashKV.hash);
    expect(new Set(values).size).toBe(1);
  });
});

describe('kubets-kv graceful stop', () => {
  it('a leader stopped with SIGTERM hands leadership over first: a new leader long before an election timeout', async () => {
    // A 5 s election timeout: without the handover the others would wait that long.
    const cluster = await KvCluster.start({ size: 3, electionMs: 5_000 });
    const client = new EtcdClient({ endpoints: cluster.endpoints, callTimeoutMs: 2_000 });
    try {
      await client.put('before', 'x');
      const leader = await cluster.waitForLeader();
      const survivors = [0, 1, 2].filter((i) => i !== leader);
      const started = Date.now();
      await cluster.stop(leader);
      const next = await waitFor(() => leaderAmong(cluster, client, survivors).then((l) => (l === undefined ? undefined : l + 1)), {
        timeoutMs: 4_000,
        intervalMs: 20,
        description: 'a new leader without an election timeout',
        context: () => cluster.logs(),
      });
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(cluster.members[leader]!.process.logs()).toContain('handing leadership over');
      const live = new EtcdClient({ endpoints: survivors.map((i) => cluster.members[i]!.endpoint) });
      await live.put('after', 'y');
      expect((await live.get('before')).kvs.map((kv) => s(kv.value))).toEqual(['x']);
      live.close();
      expect(survivors).toContain(next - 1);
    } finally {
      client.close();
      await cluster.dispose();
    }
  }, 60_000);
});

describe('kubets-kv snapshots', () => {
  it('a member that fell far behind catches up from a snapshot; restarts recover from snapshot plus log', async () => {
    const cluster = await KvCluster.start({ size: 3, args: ['--snapshot-count', '100'] });
    const client = new EtcdClient({ endpoints: cluster.endpoints });
    try {
      const leader = await cluster.waitForLeader();
      const lagging = [0, 1, 2].find((i) => i !== leader)!;
      await cluster.stop(lagging);
      const live = new EtcdClient({ endpoints: cluster.members.filter((_, i) => i !== lagging).map((m) => m.endpoint) });
      // Far more than the snapshot count plus the entries kept for slow followers (5,000).
      const batch = 100;
      for (let i = 0; i < 6_000; i += batch) {
        await Promise.all(Array.from({ length: batch }, (_, j) => live.put(`snap/${i + j}`, `v${i + j}`)));
      }
      const want = await live.get('snap/', { prefix: true, countOnly: true });
      live.close();
      cluster.restart(lagging);
      const lagClient = new EtcdClient({ endpoints: [cluster.members[lagging]!.endpoint] });
      await waitFor(async () => {
        const r = await lagClient.get('snap/', { prefix: true, countOnly: true, serializable: true }).catch(() => undefined);
        return r && r.count === want.count;
      }, { timeoutMs: 30_000, description: 'the lagging member to catch up', context: () => cluster.members[lagging]!.process.tail(20) });
      expect(cluster.members[lagging]!.process.logs()).toContain('installed snapshot from leader');
      lagClient.close();
      // Restart everyone: state comes back from the snapshot plus the log tail.
      for (let i = 0; i < 3; i++) await cluster.kill(i);
      for (let i = 0; i < 3; i++) cluster.restart(i);
      await cluster.waitForLeader(20_000);
      const after = await client.get('snap/', { prefix: true, countOnly: true });
      expect(after.count).toBe(want.count);
      expect(cluster.members.some((m) => m.process.logs().includes('restored state from snapshot'))).toBe(true);
    } finally {
      client.close();
      await cluster.dispose();
    }
  }, 120_000);
});

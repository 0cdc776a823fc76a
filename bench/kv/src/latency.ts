// bench/kv latency: one client's sequential puts, kubets-kv and etcd 3.4 side
// by side, interleaved put by put, so both see the same machine load.
//
//   node bench/kv/dist/latency.js [--puts N] [--members 1|3] [--op put|get]
//                                 [--kv-bin NAME=PATH ...] [--no-etcd]
//
// Starts a 3-member kubets-kv cluster (apps/kv/dist, plus one per --kv-bin,
// e.g. a build of another commit) and a 3-member etcd cluster, all running
// at once. Each cluster gets one gRPC connection to its leader and one to a
// follower. Then, N times: one put to each cluster's leader, then one to each
// cluster's follower (the order of clusters alternates). Prints p50, p90,
// p99 and mean latency per cluster and target, and the CPU time each member
// used per put (from /proc/<pid>/task/*/schedstat, all threads).
//
// --members 1 runs one-member clusters (no replication: the floor of a put is
// one gRPC round trip, one fsync and the apply); --op get replaces the puts
// with serializable gets of one key (no disk, no Raft: a gRPC round trip to
// the member and a read of its store), the floor of any request.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '@kubets/etcd-client';
import { freePort, KvCluster, ManagedProcess, RealEtcdCluster } from '@kubets/testkit';

function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === name && process.argv[i + 1]) out.push(process.argv[i + 1]!);
  });
  return out;
}

const PUTS = Number(args('--puts')[0] ?? '2000');
const MEMBERS = Number(args('--members')[0] ?? '3');
const OP = args('--op')[0] ?? 'put';
if (MEMBERS !== 1 && MEMBERS !== 3) throw new Error('--members must be 1 or 3');
if (OP !== 'put' && OP !== 'get') throw new Error('--op must be put or get');
const VALUE = crypto.randomBytes(256);

function key(i: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(0x6b657973, 0);
  b.writeUInt32BE(i % 10_000, 4);
  return b;
}

/** CPU time (ms) a process has used so far, all threads. */
function cpuMs(pid: number): number {
  let ns = 0;
  try {
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // exited
  }
  return ns / 1e6;
}

interface Cluster {
  endpoints: string[];
  pids: number[];
  dispose(): Promise<void>;
}

/** A kubets-kv cluster (--members) from any build of apps/kv (KvCluster always runs this checkout's). */
async function startKvBinary(binary: string): Promise<Cluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-kv-latency-'));
  const members: Array<{ name: string; client: number; peer: number; metrics: number; proc?: ManagedProcess }> = [];
  for (let i = 1; i <= MEMBERS; i++) members.push({ name: `m${i}`, client: await freePort(), peer: await freePort(), metrics: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  for (const m of members) {
    const url = (p: number) => `http://127.0.0.1:${p}`;
    m.proc = new ManagedProcess({
      name: `bench-kv-${m.name}`,
      command: process.execPath,
      args: [
        binary,
        ...['--name', m.name, '--data-dir', path.join(root, m.name)],
        ...['--listen-client-urls', url(m.client), '--advertise-client-urls', url(m.client)],
        ...['--listen-peer-urls', url(m.peer), '--initial-advertise-peer-urls', url(m.peer)],
        ...['--initial-cluster', initial, '--initial-cluster-token', 'bench', '--listen-metrics-urls', url(m.metrics)],
      ],
    }).start();
  }
  await Promise.all(members.map((m) => m.proc!.waitForLog(/kubets-kv member started/, 30_000)));
  return {
    endpoints: members.map((m) => `127.0.0.1:${m.client}`),
    pids: members.map((m) => m.proc!.pid!),
    dispose: async () => {
      await Promise.all(members.map((m) => m.proc!.kill()));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

async function leaderIndex(endpoints: string[]): Promise<number> {
  const probe = new EtcdClient({ endpoints });
  try {
    for (let tries = 0; tries < 300; tries++) {
      for (let i = 0; i < endpoints.length; i++) {
        const st = await probe.status(i).catch(() => undefined);
        if (st && st.leader !== 0n && st.leader === st.header?.memberId) return i;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    probe.close();
  }
  throw new Error(`no leader among ${endpoints.join(', ')}`);
}

interface Target {
  name: string;
  cluster: Cluster;
  leader: number;
  conns: { L: EtcdClient; F: EtcdClient };
  lat: { L: number[]; F: number[] };
}

function pct(sorted: number[], q: number): string {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!.toFixed(2);
}

async function main(): Promise<void> {
  const specs: Array<{ name: string; start: () => Promise<Cluster> }> = [
    {
      name: 'kubets-kv',
      start: async () => {
        const kv = await KvCluster.start({ size: MEMBERS });
        return { endpoints: kv.endpoints, pids: kv.members.map((m) => m.process.pid!), dispose: () => kv.dispose() };
      },
    },
    ...args('--kv-bin').map((spec) => {
      const [name, bin] = spec.includes('=') ? (spec.split('=', 2) as [string, string]) : [spec, spec];
      return { name, start: () => startKvBinary(path.resolve(bin)) };
    }),
  ];
  if (!process.argv.includes('--no-etcd')) {
    specs.push({
      name: 'etcd 3.4',
      start: async () => {
        const etcd = await RealEtcdCluster.start(MEMBERS);
        return { endpoints: etcd.endpoints, pids: etcd.members.map((m) => m.process.pid!), dispose: () => etcd.dispose() };
      },
    });
  }
  const targets: Target[] = [];
  const clusters: Cluster[] = [];
  try {
    for (const s of specs) {
      const cluster = await s.start();
      clusters.push(cluster);
      const leader = await leaderIndex(cluster.endpoints);
      const conn = (i: number) => new EtcdClient({ endpoints: [cluster.endpoints[i]!], operationTimeoutMs: 60_000 });
      targets.push({ name: s.name, cluster, leader, conns: { L: conn(leader), F: conn((leader + 1) % MEMBERS) }, lat: { L: [], F: [] } });
    }
    for (const t of targets) for (let i = 0; i < 300; i++) await Promise.all([t.conns.L.put(key(i), VALUE), t.conns.F.put(key(i), VALUE)]);
    const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const cpu0 = targets.map((t) => t.cluster.pids.map(cpuMs));
    const whom = MEMBERS === 1 ? (['L'] as const) : (['L', 'F'] as const);
    for (let i = 0; i < PUTS; i++) {
      const order = i % 2 === 0 ? targets : [...targets].reverse();
      for (const which of whom) {
        for (const t of order) {
          const start = process.hrtime.bigint();
          if (OP === 'put') await t.conns[which].put(key(i), VALUE);
          else await t.conns[which].get(key(i % 300), { serializable: true });
          t.lat[which].push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
    }
    const cpu1 = targets.map((t) => t.cluster.pids.map(cpuMs));
    const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const what = OP === 'put' ? 'puts' : 'serializable gets';
    const to = MEMBERS === 1 ? 'to the only member' : `to the leader and ${PUTS} to a follower`;
    const lines = [`bench/kv latency: ${MEMBERS}-member clusters, ${PUTS} sequential ${what} ${to} per cluster, interleaved; load average ${load0} -> ${load1}`, ''];
    lines.push('| cluster | to | p50 ms | p90 ms | p99 ms | mean ms | CPU ms per request (leader; followers) |', '|---|---|---|---|---|---|---|');
    targets.forEach((t, k) => {
      const perPut = t.cluster.pids.map((_, j) => (cpu1[k]![j]! - cpu0[k]![j]!) / (whom.length * PUTS));
      const cpu = `${perPut[t.leader]!.toFixed(2)}; ${perPut.filter((_, j) => j !== t.leader).map((x) => x.toFixed(2)).join(', ')} (sum ${perPut.reduce((a, b) => a + b, 0).toFixed(2)})`;
      for (const which of whom) {
        const s = [...t.lat[which]].sort((a, b) => a - b);
        const mean = s.reduce((a, b) => a + b, 0) / s.length;
        lines.push(`| ${t.name} | ${which === 'L' ? 'leader' : 'follower'} | ${pct(s, 0.5)} | ${pct(s, 0.9)} | ${pct(s, 0.99)} | ${mean.toFixed(2)} | ${which === 'L' ? cpu : ''} |`);
      }
    });
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    for (const t of targets) {
      t.conns.L.close();
      t.conns.F.close();
    }
    for (const c of clusters) await c.dispose();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/kv latency failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

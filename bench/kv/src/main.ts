// bench/kv: kubets-kv side by side with a real etcd 3.4, same machine, same
// load generator, same durability (both fsync their WAL on every commit).
//
//   npx nx run @kubets/bench-kv:bench          full run (a few minutes)
//   node bench/kv/dist/main.js --smoke         tiny run (the test target)
//
// Both clusters have 3 members on loopback. Keys are 8 bytes, values 256
// bytes. Scenarios: put with 1 client (sequential), put with 100 concurrent
// clients, and linearizable and serializable gets with 100 concurrent
// clients. Clients spread over 10 gRPC connections to the 3 members (like
// etcd's own benchmark tool with --conns 10 --clients 100).
import crypto from 'node:crypto';
import { EtcdClient } from '@kubets/etcd-client';
import { KvCluster, RealEtcdCluster } from '@kubets/testkit';

const smoke = process.argv.includes('--smoke');
const KEYSPACE = smoke ? 100 : 10_000;
const SEQ_PUTS = smoke ? 100 : 2_000;
const CONC_PUTS = smoke ? 500 : 30_000;
const CONC_GETS = smoke ? 500 : 30_000;
const CLIENTS = 100;
const CONNS = 10;

interface Result {
  ops: number;
  seconds: number;
  p50: number;
  p99: number;
}

function key(i: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(0x6b657973, 0); // "keys"
  b.writeUInt32BE(i, 4);
  return b;
}

const VALUE = crypto.randomBytes(256);

async function run(clients: EtcdClient[], total: number, concurrency: number, op: (c: EtcdClient, i: number) => Promise<unknown>): Promise<Result> {
  const lat = new Float64Array(total);
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (w: number) => {
    const c = clients[w % clients.length]!;
    for (let i = next++; i < total; i = next++) {
      const t0 = process.hrtime.bigint();
      await op(c, i);
      lat[i] = Number(process.hrtime.bigint() - t0) / 1e6;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  lat.sort();
  return { ops: total / seconds, seconds, p50: lat[Math.floor(total * 0.5)]!, p99: lat[Math.floor(total * 0.99)]! };
}

async function scenarios(endpoints: string[]): Promise<Record<string, Result>> {
  const conns = Array.from({ length: CONNS }, (_, i) => new EtcdClient({ endpoints: [endpoints[i % endpoints.length]!], operationTimeoutMs: 60_000 }));
  try {
    // Preload the keyspace so gets find values.
    await run(conns, KEYSPACE, CLIENTS, (c, i) => c.put(key(i), VALUE));
    const out: Record<string, Result> = {};
    out['put, 1 client'] = await run(conns, SEQ_PUTS, 1, (c, i) => c.put(key(i % KEYSPACE), VALUE));
    out[`put, ${CLIENTS} clients`] = await run(conns, CONC_PUTS, CLIENTS, (c, i) => c.put(key(i % KEYSPACE), VALUE));
    out[`get linearizable, ${CLIENTS} clients`] = await run(conns, CONC_GETS, CLIENTS, (c, i) => c.get(key(i % KEYSPACE)));
    out[`get serializable, ${CLIENTS} clients`] = await run(conns, CONC_GETS, CLIENTS, (c, i) => c.get(key(i % KEYSPACE), { serializable: true }));
    return out;
  } finally {
    for (const c of conns) c.close();
  }
}

function fmt(r: Result | undefined): string {
  if (!r) return '-';
  return `${Math.round(r.ops)} ops/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`;
}

async function once(system: 'kubets' | 'etcd'): Promise<Record<string, Result>> {
  if (system === 'kubets') {
    const kv = await KvCluster.start({ size: 3 });
    try {
      return await scenarios(kv.endpoints);
    } finally {
      await kv.dispose();
    }
  }
  const etcd = await RealEtcdCluster.start(3);
  try {
    return await scenarios(etcd.endpoints);
  } finally {
    await etcd.dispose();
  }
}

/** Mean of several rounds, scenario by scenario. */
function mean(rounds: Array<Record<string, Result>>): Record<string, Result> {
  const out: Record<string, Result> = {};
  for (const k of Object.keys(rounds[0]!)) {
    const rs = rounds.map((r) => r[k]!);
    const avg = (f: (r: Result) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    out[k] = { ops: avg((r) => r.ops), seconds: avg((r) => r.seconds), p50: avg((r) => r.p50), p99: avg((r) => r.p99) };
  }
  return out;
}

async function main(): Promise<void> {
  // ABBA order (kubets, etcd, etcd, kubets) so drift in the machine's load
  // favours neither side; the table shows the mean of each system's rounds.
  const order: Array<'kubets' | 'etcd'> = smoke ? ['kubets', 'etcd'] : ['kubets', 'etcd', 'etcd', 'kubets'];
  const rounds: Record<'kubets' | 'etcd', Array<Record<string, Result>>> = { kubets: [], etcd: [] };
  for (const system of order) rounds[system].push(await once(system));
  const results: Record<string, Record<string, Result>> = { kubets: mean(rounds.kubets), etcd: mean(rounds.etcd) };
  const rows = Object.keys(results.kubets!);
  const lines = [
    `bench/kv: 3-member clusters on 127.0.0.1, 8-byte keys, 256-byte values, keyspace ${KEYSPACE}; ${CONNS} gRPC connections; fsync on (both); ${order.join(', ')} (mean of rounds)`,
    '',
    '| scenario | kubets-kv | etcd 3.4.23 | kubets / etcd |',
    '|---|---|---|---|',
    ...rows.map((r) => {
      const a = results.kubets![r];
      const b = results.etcd![r];
      const ratio = a && b ? `${(a.ops / b.ops).toFixed(2)}x throughput, p99 ${(a.p99 / b.p99).toFixed(2)}x` : '-';
      return `| ${r} | ${fmt(a)} | ${fmt(b)} | ${ratio} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/kv failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

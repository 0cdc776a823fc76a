// Jepsen-style: concurrent clients put/get/cas a few keys on a real 3-member
// kubets-kv cluster while members are killed, restarted and paused; the
// recorded history must be linearizable. A deliberately broken cluster
// (linearizable reads served locally) must be caught by the same checker.
import { EtcdClient } from '@kubets/etcd-client';
import { checkOperations, describeFailure, kvModel, UNKNOWN, type KvInput, type KvOperation, type KvOutput } from '@kubets/linearizability';
import { Compare_CompareResult, Compare_CompareTarget, type Compare } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { KvCluster, seededRandom, testSeed } from '@kubets/testkit';

const KEYS = ['x', 'y', 'z'];

async function execute(client: EtcdClient, input: KvInput): Promise<KvOutput> {
  switch (input.op) {
    case 'put':
      await client.put(input.key, input.value);
      return { ok: true };
    case 'get': {
      const r = await client.get(input.key);
      return { value: r.kvs.length ? Buffer.from(r.kvs[0]!.value).toString() : null };
    }
    case 'delete': {
      const r = await client.delete(input.key);
      return { deleted: Number(r.deleted) };
    }
    case 'cas': {
      const compare: Compare =
        input.expect === null
          ? { key: Buffer.from(input.key), target: Compare_CompareTarget.CREATE, result: Compare_CompareResult.EQUAL, targetUnion: { $case: 'createRevision', value: 0n }, rangeEnd: Buffer.alloc(0) }
          : { key: Buffer.from(input.key), target: Compare_CompareTarget.VALUE, result: Compare_CompareResult.EQUAL, targetUnion: { $case: 'value', value: Buffer.from(input.expect) }, rangeEnd: Buffer.alloc(0) };
      const r = await client.txn({
        compare: [compare],
        success: [{ request: { $case: 'requestPut', value: { key: Buffer.from(input.key), value: Buffer.from(input.value), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } } }],
        failure: [],
      });
      return { succeeded: r.succeeded };
    }
  }
}

interface RunOptions {
  cluster: KvCluster;
  clients: Array<{ members: number[] }>;
  durationMs: number;
  seed: number;
  ops?: (random: () => number, c: number, i: number) => KvInput;
  /** Pause before each operation of client c, in ms (default none). */
  thinkMs?: (random: () => number, c: number) => number;
  nemesis?: (stop: () => boolean) => Promise<void>;
}

/** Run clients concurrently and record every operation with its call and return time. */
async function record(opts: RunOptions): Promise<KvOperation[]> {
  const history: KvOperation[] = [];
  const random = seededRandom(opts.seed);
  const deadline = Date.now() + opts.durationMs;
  let stopped = false;
  let nextClientId = 0;
  const defaultOps = (r: () => number, c: number, i: number): KvInput => {
    const key = KEYS[Math.floor(r() * KEYS.length)]!;
    const x = r();
    if (x < 0.45) return { op: 'get', key };
    if (x < 0.8) return { op: 'put', key, value: `c${c}-${i}` };
    return { op: 'cas', key, expect: r() < 0.5 ? null : `c${Math.floor(r() * opts.clients.length)}-${Math.floor(r() * i + 1)}`, value: `c${c}-${i}-cas` };
  };
  const gen = opts.ops ?? defaultOps;
  const run = async (c: number) => {
    const endpoints = opts.clients[c]!.members.map((m) => opts.cluster.members[m]!.endpoint);
    // Reads may retry elsewhere; a write only when it never left (EtcdClient: otherwise its outcome is unknown).
    const client = new EtcdClient({ endpoints, callTimeoutMs: 1_500, operationTimeoutMs: 3_000 });
    let clientId = nextClientId++;
    try {
      for (let i = 0; Date.now() < deadline; i++) {
        const think = opts.thinkMs?.(random, c) ?? 0;
        if (think > 0) await new Promise((r) => setTimeout(r, think));
        const input = gen(random, c, i);
        const call = performance.now();
        try {
          const output = await execute(client, input);
          history.push({ clientId, input, call, output, return: performance.now() });
        } catch {
          // Unknown outcome: it may still take effect later. This client carries on as a new process.
          history.push({ clientId, input, call, output: UNKNOWN, return: Infinity });
          clientId = nextClientId++;
        }
      }
    } finally {
      client.close();
    }
  };
  const nemesis = opts.nemesis ? opts.nemesis(() => stopped || Date.now() >= deadline) : Promise.resolve();
  await Promise.all(opts.clients.map((_, c) => run(c)));
  stopped = true;
  await nemesis;
  return history;
}

describe('kubets-kv linearizability', () => {
  it('is linearizable under concurrent clients while members are killed, restarted and paused', async () => {
    const seed = testSeed();
    const cluster = await KvCluster.start({ size: 3 });
    try {
      const random = seededRandom(seed ^ 0x5eed);
      const nemesisLog: string[] = [];
      const history = await record({
        cluster,
        seed,
        durationMs: 12_000,
        clients: [{ members: [0, 1, 2] }, { members: [1, 2, 0] }, { members: [2, 0, 1] }, { members: [0, 1, 2] }, { members: [1, 2, 0] }],
        nemesis: async (stop) => {
          while (!stop()) {
            await new Promise((r) => setTimeout(r, 1_000 + random() * 1_000));
            if (stop()) break;
            const victim = Math.floor(random() * 3);
            if (random() < 0.6) {
              nemesisLog.push(`kill -9 m${victim + 1}`);
              await cluster.kill(victim);
              await new Promise((r) => setTimeout(r, 500 + random() * 1_000));
              cluster.restart(victim);
            } else {
              nemesisLog.push(`pause m${victim + 1}`);
              cluster.pause(victim);
              await new Promise((r) => setTimeout(r, 300 + random() * 1_500));
              cluster.resume(victim);
            }
          }
        },
      });
      const completed = history.filter((h) => h.output !== UNKNOWN).length;
      expect(completed).toBeGreaterThan(300);
      expect(nemesisLog.length).toBeGreaterThan(2);
      const result = checkOperations(kvModel, history, { timeoutMs: 60_000 });
      if (!result.ok) {
        throw new Error(
          `seed ${seed} (replay with KUBETS_SEED=${seed}): ${result.verdict}\nnemesis: ${nemesisLog.join(', ')}\n${describeFailure(result)}`,
        );
      }
      expect(result.verdict).toBe('ok');
    } finally {
      await cluster.dispose();
    }
  }, 120_000);

  it('the checker catches a cluster that serves linearizable reads locally (negative control)', async () => {
    const seed = testSeed();
    const cluster = await KvCluster.start({ size: 3, env: { KUBETS_KV_UNSAFE_LOCAL_READS: '1' } });
    try {
      const leader = await cluster.waitForLeader();
      const follower = [0, 1, 2].find((i) => i !== leader)!;
      // Writers talk to the leader, readers to a follower, on one key: a read
      // that starts after a write was acknowledged may still see the old value,
      // because the follower has not applied the write yet. Followers learn
      // commits about as fast as clients learn acknowledgements, so the
      // follower is also paused now and then: readers that start a read
      // while it is paused (they pause between reads) are answered, when it
      // resumes, before it has caught up with the writes acknowledged meanwhile.
      const history = await record({
        cluster,
        seed,
        durationMs: 5_000,
        clients: [{ members: [leader] }, { members: [follower] }, { members: [follower] }],
        ops: (_r, c, i) => (c === 0 ? { op: 'put', key: 'x', value: `v${i}` } : { op: 'get', key: 'x' }),
        thinkMs: (r, c) => (c === 0 ? 0 : r() * 30),
        nemesis: async (stop) => {
          while (!stop()) {
            await new Promise((r) => setTimeout(r, 700));
            if (stop()) break;
            cluster.pause(follower);
            await new Promise((r) => setTimeout(r, 300));
            cluster.resume(follower);
          }
        },
      });
      const result = checkOperations(kvModel, history, { timeoutMs: 60_000 });
      expect(result.verdict).toBe('illegal');
    } finally {
      await cluster.dispose();
    }
  }, 60_000);
});

// raft-consensus-ts benchmark: a 3-node cluster in one process.
//
// Each node is a `Node` driver (tick timer, Ready loop, proposal batching).
// The transport encodes every message with the raftpb codec and delivers it
// with setImmediate, like a real network hop minus the syscalls. Clients
// propose 128-byte payloads to the leader in a closed loop (each client keeps
// one proposal outstanding); latency is measured from propose() to the moment
// the leader applies the entry (commit + apply).
//
// Scenarios: in-memory storage (no I/O), and WalStorage in a temp dir with
// fsync on (every Ready that appends entries fdatasyncs), at several client
// concurrencies to show batching.
//
//   npm run bench -w @kubets/bench-raft              full run (~1 min)
//   npm run bench -w @kubets/bench-raft -- --json    machine-readable
//   npm test -w @kubets/bench-raft                   smoke run (seconds)

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Entry,
  Message,
  MemoryStorage,
  MessageType,
  Node,
  PersistentStorage,
  SnapshotStatus,
  WalStorage,
  codec,
} from 'raft-consensus-ts';

interface ScenarioResult {
  storage: 'memory' | 'wal+fsync';
  clients: number;
  proposals: number;
  seconds: number;
  proposalsPerSec: number;
  p50ms: number;
  p99ms: number;
  fsyncs?: number;
  entriesPerFsync?: number;
}

const PAYLOAD = 128;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function runScenario(kind: 'memory' | 'wal+fsync', clients: number, durationMs: number): Promise<ScenarioResult> {
  const ids = [1, 2, 3];
  const nodes = new Map<number, Node>();
  const waiters = new Map<number, () => void>();
  let tmp: string | undefined;
  const storages: PersistentStorage[] = ids.map((id) => {
    if (kind === 'memory') return new MemoryStorage();
    tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'raft-bench-'));
    return WalStorage.open(path.join(tmp, `n${id}`), { fsync: true });
  });

  for (const id of ids) {
    const node = new Node({
      raft: { id, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true, maxInflightMsgs: 256, maxSizePerMsg: 1024 * 1024 },
      storage: storages[id - 1],
      tickMs: 10,
      bootstrapPeers: ids,
      transport: {
        send(msgs: Message[]) {
          for (const m of msgs) {
            const bytes = codec.encodeMessage(m);
            setImmediate(() => {
              const target = nodes.get(m.to);
              if (!target) return;
              target.step(codec.decodeMessage(bytes, { copy: false }));
              if (m.type === MessageType.MsgSnap) nodes.get(id)?.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish);
            });
          }
        },
      },
      onApply(ents: Entry[]) {
        if (!node.isLeader) return;
        for (const e of ents) {
          if (e.data.length !== PAYLOAD) continue;
          const key = new DataView(e.data.buffer, e.data.byteOffset, 8).getFloat64(0);
          const w = waiters.get(key);
          if (w) {
            waiters.delete(key);
            w();
          }
        }
      },
    });
    nodes.set(id, node);
  }
  for (const n of nodes.values()) n.start();
  // Node 1 campaigns as soon as it applied the bootstrap entries, so the run
  // does not wait for an election timeout.
  await nodes.get(1)!.waitForApplied(ids.length);
  nodes.get(1)!.campaign();
  const deadline = Date.now() + 5000;
  let leader: Node | undefined;
  while (!(leader = [...nodes.values()].find((n) => n.isLeader))) {
    if (Date.now() > deadline) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 5));
  }

  let seq = 0;
  const latencies: number[] = [];
  let done = 0;
  let stop = false;
  const client = async () => {
    while (!stop) {
      const key = ++seq;
      const data = new Uint8Array(PAYLOAD);
      new DataView(data.buffer).setFloat64(0, key);
      const t0 = process.hrtime.bigint();
      const applied = new Promise<void>((resolve) => waiters.set(key, resolve));
      await leader.propose(data);
      await applied;
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      done++;
    }
  };
  const started = process.hrtime.bigint();
  const fsyncsBefore = storages.reduce((a, s) => a + (s instanceof WalStorage ? s.stats.fsyncs : 0), 0);
  const runners = Array.from({ length: clients }, () => client());
  await new Promise((r) => setTimeout(r, durationMs));
  stop = true;
  await Promise.all(runners);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const fsyncs = storages.reduce((a, s) => a + (s instanceof WalStorage ? s.stats.fsyncs : 0), 0) - fsyncsBefore;

  for (const n of nodes.values()) await n.stop();
  for (const s of storages) if (s instanceof WalStorage) s.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  const res: ScenarioResult = {
    storage: kind,
    clients,
    proposals: done,
    seconds: Math.round(seconds * 100) / 100,
    proposalsPerSec: Math.round(done / seconds),
    p50ms: Math.round(percentile(latencies, 50) * 100) / 100,
    p99ms: Math.round(percentile(latencies, 99) * 100) / 100,
  };
  if (kind === 'wal+fsync') {
    res.fsyncs = fsyncs;
    res.entriesPerFsync = Math.round((done * 3 * 10) / Math.max(1, fsyncs)) / 10;
  }
  return res;
}

async function main(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  const json = process.argv.includes('--json');
  const durationMs = smoke ? 300 : 5000;
  const concurrencies = smoke ? [1, 32] : [1, 16, 256];
  const results: ScenarioResult[] = [];
  for (const kind of ['memory', 'wal+fsync'] as const) {
    for (const c of concurrencies) {
      const r = await runScenario(kind, c, durationMs);
      results.push(r);
      if (!json) {
        const extra = r.fsyncs !== undefined ? `  fsyncs=${r.fsyncs} (${r.entriesPerFsync} entries/fsync, all nodes)` : '';
        console.log(
          `${r.storage.padEnd(9)} clients=${String(r.clients).padStart(3)}  ${String(r.proposalsPerSec).padStart(7)} proposals/s  p50=${r.p50ms.toFixed(2)}ms  p99=${r.p99ms.toFixed(2)}ms  (${r.proposals} in ${r.seconds}s)${extra}`,
        );
      }
    }
  }
  if (json) console.log(JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version }, results }, null, 2));
  if (smoke) {
    const bad = results.filter((r) => !(r.proposals > 0 && r.proposalsPerSec > 0 && Number.isFinite(r.p99ms)));
    if (bad.length > 0) {
      console.error(`smoke: ${bad.length} scenario(s) committed nothing`);
      process.exit(1);
    }
    console.log(`smoke: ${results.length} passed, 0 failed`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// The Node driver: real timers, an in-process transport that goes through
// the wire codec, memory and WAL storage.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeMessage, encodeMessage } from '../src/codec';
import { ErrProposalDropped, ErrStopped } from '../src/errors';
import { Node, Transport } from '../src/node';
import { MemoryStorage, PersistentStorage } from '../src/storage';
import { WalStorage } from '../src/wal/wal-storage';
import {
  ConfChangeType,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  Snapshot,
  SnapshotStatus,
  StateType,
} from '../src/types';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** In-process network: delivers asynchronously, encoded and decoded like a real wire. */
class LocalNet {
  readonly nodes = new Map<number, Node>();
  readonly down = new Set<number>();
  delivered = 0;

  transport(from: number): Transport {
    return {
      send: (msgs: Message[]) => {
        for (const m of msgs) {
          const bytes = encodeMessage(m);
          setImmediate(() => {
            const target = this.nodes.get(m.to);
            const sender = this.nodes.get(from);
            if (!target || this.down.has(m.to) || this.down.has(from)) {
              if (m.type === MessageType.MsgSnap) sender?.reportSnapshot(m.to, SnapshotStatus.SnapshotFailure);
              return;
            }
            this.delivered++;
            target.step(decodeMessage(bytes));
            if (m.type === MessageType.MsgSnap) sender?.reportSnapshot(m.to, SnapshotStatus.SnapshotFinish);
          });
        }
      },
    };
  }
}

interface Member {
  node: Node;
  storage: PersistentStorage;
  /** the state machine: applied normal entries' data, in order */
  log: string[];
}

function makeMember(
  net: LocalNet,
  id: number,
  storage: PersistentStorage,
  peers: number[] | undefined,
  beforeApply?: (ents: Entry[]) => void,
  syncWrites?: boolean,
): Member {
  const log: string[] = [];
  const snap = storage.snapshot();
  if (snap.data.length > 0) log.push(...(JSON.parse(dec.decode(snap.data)) as string[]));
  const node = new Node({
    raft: { id, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true },
    storage,
    transport: net.transport(id),
    tickMs: 5,
    bootstrapPeers: peers,
    syncWrites,
    onApply: (ents: Entry[]) => {
      beforeApply?.(ents);
      for (const e of ents) if (e.type === EntryType.EntryNormal && e.data.length > 0) log.push(dec.decode(e.data));
    },
    onSnapshot: (s: Snapshot) => {
      log.length = 0;
      log.push(...(JSON.parse(dec.decode(s.data)) as string[]));
    },
  });
  net.nodes.set(id, node);
  return { node, storage, log };
}

async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function leaderOf(members: Member[]): Member | undefined {
  return members.find((m) => m.node.isLeader);
}

async function proposeAndWait(members: Member[], data: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const leader = leaderOf(members);
    if (leader) {
      try {
        await leader.node.propose(enc.encode(data));
        await until(() => leader.log.includes(data), 3000, `commit of ${data}`);
        return;
      } catch (err) {
        if (!(err instanceof ErrProposalDropped)) throw err;
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not commit ${data}`);
}

const running: Member[] = [];
afterEach(async () => {
  for (const m of running.splice(0)) await m.node.stop();
});

function cluster(n: number, storages?: PersistentStorage[], syncWrites?: boolean): { net: LocalNet; members: Member[] } {
  const net = new LocalNet();
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const members = ids.map((id, i) => makeMember(net, id, storages?.[i] ?? new MemoryStorage(), ids, undefined, syncWrites));
  for (const m of members) {
    running.push(m);
    m.node.start();
  }
  return { net, members };
}

test('a 3-node cluster elects a leader and every node applies the same entries in order', async () => {
  const { members } = cluster(3);
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  for (let i = 0; i < 20; i++) await proposeAndWait(members, `v${i}`);
  // batch of concurrent proposals through one node
  const leader = leaderOf(members)!;
  await Promise.all(Array.from({ length: 50 }, (_, i) => leader.node.propose(enc.encode(`c${i}`))));
  await until(() => members.every((m) => m.log.length === 70), 5000, 'all applied');
  for (const m of members) expect(m.log).toEqual(members[0].log);
  expect(members[0].log.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
  const lead = leaderOf(members)!;
  const st = lead.node.status();
  expect(st.softState.raftState).toBe(StateType.Leader);
  expect(st.progress!.size).toBe(3);
});

test('the Ready loop persists before a follower sends (a leader may replicate while it persists), and sends before applying', async () => {
  const violations: string[] = [];
  const events: string[] = [];
  const net = new LocalNet();
  const ids = [1, 2, 3];
  const members: Member[] = [];
  for (const id of ids) {
    const storage = new MemoryStorage();
    const saved = storage.save.bind(storage);
    storage.save = (hs: HardState | undefined, ents: Entry[], snap: Snapshot | undefined, sync: boolean) => {
      events.push(`${id}:save`);
      saved(hs, ents, snap, sync);
    };
    const m = makeMember(net, id, storage, ids, (ents: Entry[]) => {
      events.push(`${id}:apply`);
      for (const e of ents) {
        if (e.index > storage.lastIndex() || storage.term(e.index) !== e.term) violations.push(`${id} applied ${e.index} before persisting it`);
      }
    });
    const t = net.transport(id);
    (m.node as unknown as { opts: { transport: Transport } }).opts.transport = {
      send: (msgs: Message[]) => {
        events.push(`${id}:send`);
        const hs = storage.initialState().hardState;
        for (const msg of msgs) {
          // A follower acknowledges only what it has persisted.
          if (msg.type === MessageType.MsgAppResp && !msg.reject && msg.index > storage.lastIndex()) {
            violations.push(`${id} acknowledged entry ${msg.index} before persisting it`);
          }
          if ((msg.type === MessageType.MsgVoteResp && !msg.reject) && hs.vote !== msg.to) violations.push(`${id} granted a vote before persisting it`);
          if (msg.type === MessageType.MsgVote && (hs.vote !== id || hs.term !== msg.term)) violations.push(`${id} requested votes before persisting its own`);
        }
        t.send(msgs);
      },
    };
    members.push(m);
    running.push(m);
  }
  for (const m of members) m.node.start();
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  for (let i = 0; i < 10; i++) await proposeAndWait(members, `x${i}`);
  expect(violations).toEqual([]);
  // within a Ready, save precedes send (except on the leader) and send precedes apply
  const leader = leaderOf(members)!;
  for (const id of ids) {
    if (id === leader.node.id) continue;
    const mine = events.filter((e) => e.startsWith(`${id}:`)).map((e) => e.slice(2));
    for (let i = 1; i < mine.length; i++) {
      if (mine[i] === 'send') expect(mine[i - 1]).toBe('save');
      // (a Ready's committed entries may take several onApply calls: they end at conf changes)
      if (mine[i] === 'apply') expect(['save', 'send', 'apply']).toContain(mine[i - 1]);
    }
  }
});

test('readIndex gives a linearizable read point, from the leader and from a follower', async () => {
  const { members } = cluster(3);
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  await proposeAndWait(members, 'w1');
  const leader = leaderOf(members)!;
  const follower = members.find((m) => m !== leader)!;
  const idx = await leader.node.readIndex();
  expect(idx).toBeGreaterThanOrEqual(leader.node.appliedIndex);
  const fidx = await follower.node.readIndex();
  expect(fidx).toBeGreaterThanOrEqual(idx);
  await follower.node.waitForApplied(fidx);
  expect(follower.log).toContain('w1');
});

test('a readIndex asked before there is a leader is asked again and answered once one is elected, not at its timeout', async () => {
  const { members } = cluster(3);
  expect(leaderOf(members)).toBeUndefined();
  const started = Date.now();
  // raft drops a read request while there is no leader; the node retries it (etcd's readIndexRetryTime).
  const idx = await members[0]!.node.readIndex();
  expect(idx).toBeGreaterThan(0);
  expect(Date.now() - started).toBeLessThan(2500); // the timeout is 5000 ms
});

test('the cluster survives the loss of its leader and keeps committing', async () => {
  const { net, members } = cluster(3);
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  await proposeAndWait(members, 'before');
  const old = leaderOf(members)!;
  net.down.add(old.node.id);
  await until(() => members.some((m) => m !== old && m.node.isLeader), 5000, 'a new leader');
  const rest = members.filter((m) => m !== old);
  await proposeAndWait(rest, 'after');
  // with CheckQuorum the old leader stepped down
  await until(() => !old.node.isLeader, 3000, 'old leader to step down');
  net.down.delete(old.node.id);
  await until(() => old.log.includes('after'), 5000, 'old leader to catch up');
  expect(old.log).toEqual(rest[0].log);
});

test('proposals fail fast when there is no leader; a stopped node rejects everything', async () => {
  const net = new LocalNet();
  const m = makeMember(net, 1, new MemoryStorage(), [1, 2, 3]);
  running.push(m);
  m.node.start();
  await expect(m.node.propose(enc.encode('x'))).rejects.toBeInstanceOf(ErrProposalDropped);
  const pendingRead = m.node.readIndex();
  const pendingApply = m.node.waitForApplied(1000);
  await m.node.stop();
  await expect(pendingRead).rejects.toBeInstanceOf(ErrStopped);
  await expect(pendingApply).rejects.toBeInstanceOf(ErrStopped);
  await expect(m.node.propose(enc.encode('x'))).rejects.toBeInstanceOf(ErrStopped);
});

test('a follower that was down catches up through a snapshot after the leader compacted its log', async () => {
  const { net, members } = cluster(3);
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  await proposeAndWait(members, 'first');
  const leader = leaderOf(members)!;
  const lagger = members.find((m) => m !== leader)!;
  net.down.add(lagger.node.id);
  for (let i = 0; i < 10; i++) await proposeAndWait(members, `while-down-${i}`);
  const snap = leader.node.snapshot(enc.encode(JSON.stringify(leader.log)), 0)!;
  expect(leader.storage.firstIndex()).toBe(snap.metadata.index + 1);
  net.down.delete(lagger.node.id);
  await until(() => lagger.log.includes('while-down-9'), 5000, 'the lagger to install the snapshot');
  expect(lagger.storage.snapshot().metadata.index).toBe(snap.metadata.index);
  await proposeAndWait(members, 'after');
  await until(() => lagger.log.includes('after'), 3000, 'the lagger to replicate again');
  expect(lagger.log).toEqual(leader.log);
});

test('a new member joins with an empty log through a conf change', async () => {
  const { net, members } = cluster(3);
  await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
  await proposeAndWait(members, 'a');
  const joiner = makeMember(net, 4, new MemoryStorage(), undefined);
  running.push(joiner);
  joiner.node.start();
  const leader = leaderOf(members)!;
  await leader.node.proposeConfChange({ id: 1, type: ConfChangeType.ConfChangeAddNode, nodeId: 4 });
  await until(() => joiner.node.currentConfState.voters.includes(4), 5000, 'the joiner to apply its own addition');
  await proposeAndWait([...members, joiner], 'b');
  await until(() => joiner.log.includes('b'), 3000, 'the joiner to replicate');
  expect(joiner.log).toEqual(['a', 'b']);
  expect(leader.node.currentConfState.voters).toEqual([1, 2, 3, 4]);
});

test('a snapshot requested inside onApply is taken at the end of that call, with its conf change applied', async () => {
  const net = new LocalNet();
  const storage = new MemoryStorage();
  const taken: { index: number; learners: number[]; data: string[] }[] = [];
  const create = storage.createSnapshot.bind(storage);
  storage.createSnapshot = (index, cs, data) => {
    taken.push({ index, learners: cs?.learners ?? [], data: JSON.parse(dec.decode(data)) as string[] });
    return create(index, cs, data);
  };
  const applied: string[] = [];
  const calls: string[][] = [];
  const node: Node = new Node({
    raft: { id: 1, electionTick: 10, heartbeatTick: 1 },
    storage,
    transport: net.transport(1),
    tickMs: 0,
    bootstrapPeers: [1],
    onApply: (ents: Entry[]) => {
      calls.push(ents.map((e) => (e.type === EntryType.EntryNormal ? dec.decode(e.data) : `cc@${e.index}`)));
      for (const e of ents) if (e.type === EntryType.EntryNormal && e.data.length > 0) applied.push(dec.decode(e.data));
      if (applied.length > 0) expect(node.snapshot(enc.encode(JSON.stringify(applied)), 0)).toBeUndefined();
    },
  });
  running.push({ node, storage, log: applied });
  node.start();
  await node.waitForApplied(1);
  node.campaign();
  await until(() => node.isLeader, 2000, 'leader');
  const proposals = [node.propose(enc.encode('a')), node.proposeConfChange({ id: 1, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 2 }), node.propose(enc.encode('b'))];
  await Promise.all(proposals);
  await until(() => applied.includes('b'), 2000, 'b applied');
  // one Ready carried a, the conf change and b: onApply got [a, cc] then [b]
  const ccCall = calls.findIndex((c) => c.includes('a'));
  expect(calls[ccCall]).toHaveLength(2);
  expect(calls[ccCall][calls[ccCall].length - 1]).toMatch(/^cc@/);
  const ccIndex = Number(calls[ccCall][calls[ccCall].length - 1].slice(3));
  expect(taken).toEqual([
    { index: ccIndex, learners: [2], data: ['a'] },
    { index: ccIndex + 1, learners: [2], data: ['a', 'b'] },
  ]);
  expect(storage.snapshot().metadata.index).toBe(node.appliedIndex);
  expect(storage.firstIndex()).toBe(node.appliedIndex + 1);
});

describe('with durable WAL storage', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    dirs = [];
  });

  test.each([
    ['fsync off the loop (saveAsync)', false],
    ['syncWrites', true],
  ])('a node restarted from its WAL recovers its log and rejoins: %s', async (_name, syncWrites) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-node-'));
    dirs.push(base);
    const dir = (id: number) => path.join(base, `n${id}`);
    const storages = [1, 2, 3].map((id) => WalStorage.open(dir(id)));
    const syncs = storages.map((st) => {
      const calls = { save: 0, saveAsync: 0 };
      const save = st.save.bind(st);
      const saveAsync = st.saveAsync.bind(st);
      st.save = (...a: Parameters<typeof save>) => (calls.save++, save(...a));
      st.saveAsync = (...a: Parameters<typeof saveAsync>) => (calls.saveAsync++, saveAsync(...a));
      return calls;
    });
    const { net, members } = cluster(3, storages, syncWrites);
    await until(() => leaderOf(members) !== undefined, 5000, 'a leader');
    for (let i = 0; i < 5; i++) await proposeAndWait(members, `d${i}`);
    const victim = members.find((m) => !m.node.isLeader)!;
    const id = victim.node.id;
    await until(() => victim.log.length === 5, 3000, 'victim to apply');
    net.down.add(id);
    await victim.node.stop();
    (victim.storage as WalStorage).close();
    net.nodes.delete(id);
    const others = members.filter((m) => m !== victim);
    await proposeAndWait(others, 'while-away');

    // The Node used the write path it was asked for.
    for (const c of syncs) expect(syncWrites ? [c.save > 0, c.saveAsync] : [c.save, c.saveAsync > 0]).toEqual(syncWrites ? [true, 0] : [0, true]);
    const reopened = WalStorage.open(dir(id));
    expect(reopened.lastIndex()).toBeGreaterThanOrEqual(5);
    const back = makeMember(net, id, reopened, [1, 2, 3], undefined, syncWrites);
    running.push(back);
    net.down.delete(id);
    back.node.start();
    await until(() => back.log.includes('while-away'), 5000, 'restarted node to catch up');
    expect(back.log).toEqual(others[0].log);
    for (const m of [...others, back]) {
      await m.node.stop();
      (m.storage as WalStorage).close();
    }
  });
});

// Shared helpers for the raft-level tests: building a raft with a memory
// storage, draining its messages, and a tiny synchronous network that
// delivers messages between Raft instances (etcd's test "network").

import { Config, Raft } from '../src/raft';
import { MemoryStorage, newMemoryStorageWithPeers } from '../src/storage';
import { seededRandom } from '../src/random';
import { Entry, EntryType, Message, MessageType, newEntry, newMessage } from '../src/types';
import { asV2 } from '../src/confchange';
import { decodeConfChange, decodeConfChangeV2 } from '../src/codec';

export function storageWithPeers(...ids: number[]): MemoryStorage {
  return newMemoryStorageWithPeers(ids);
}

/** A raft on empty storage bootstrapped with the peers (config carried in the log), already persisted and applied. */
export function bootstrappedRaft(id: number, peers: number[], extra: Partial<Config> = {}): Raft {
  const s = new MemoryStorage();
  const r = newTestRaft(id, 10, 1, s, extra);
  r.bootstrap(peers);
  persistAndApply(r, s);
  return r;
}

export function idsBySize(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

export function newTestRaft(
  id: number,
  election: number,
  heartbeat: number,
  storage: MemoryStorage,
  extra: Partial<Config> = {},
): Raft {
  return new Raft({
    id,
    electionTick: election,
    heartbeatTick: heartbeat,
    storage,
    maxSizePerMsg: Infinity,
    maxInflightMsgs: 256,
    random: seededRandom(id * 7919 + 13),
    ...extra,
  });
}

export function readMessages(r: Raft): Message[] {
  const m = r.msgs;
  r.msgs = [];
  return m;
}

/** Sorts by (to, type, from) like etcd's messageSlice. */
export function sortMessages(msgs: Message[]): Message[] {
  return msgs.slice().sort((a, b) => a.to - b.to || a.type - b.type || a.from - b.from);
}

/** Entries with consecutive indexes starting at `from` and the given terms. */
export function entsWithTerms(from: number, ...terms: number[]): Entry[] {
  return terms.map((term, i) => newEntry({ index: from + i, term }));
}

export function propose(r: Raft, data = 'some data'): void {
  r.step(newMessage({ type: MessageType.MsgProp, from: r.id, to: r.id, entries: [newEntry({ data: bytes(data) })] }));
}

export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function str(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/**
 * Persists the unstable log (and snapshot) to storage, then applies committed
 * entries: conf changes are applied to raft, and raft is told they were
 * applied (which may trigger leaving a joint config). Returns them.
 */
export function persistAndApply(r: Raft, s: MemoryStorage, applyConf = true): Entry[] {
  const snap = r.raftLog.unstable.snapshot;
  if (snap) {
    s.applySnapshot(snap);
    r.raftLog.stableSnapTo(snap.metadata.index);
    r.raftLog.appliedTo(snap.metadata.index);
  }
  const ents = r.raftLog.nextUnstableEnts();
  if (ents.length > 0) {
    s.append(ents);
    const last = ents[ents.length - 1];
    r.raftLog.stableTo(last.index, last.term);
  }
  const hs = r.hardState();
  s.setHardState(hs);
  const committed = r.raftLog.nextCommittedEnts();
  if (committed.length > 0) {
    if (applyConf) applyConfChanges(r, committed);
    r.advance(committed, undefined, undefined);
  }
  return committed;
}

/** Applies the conf changes among committed entries (what an application does). */
export function applyConfChanges(r: Raft, committed: Entry[]): void {
  for (const e of committed) {
    if (e.type === EntryType.EntryConfChange) r.applyConfChange(asV2(decodeConfChange(e.data)));
    else if (e.type === EntryType.EntryConfChangeV2) r.applyConfChange(decodeConfChangeV2(e.data));
  }
}

export function acceptAndReply(m: Message): Message {
  if (m.type !== MessageType.MsgApp) throw new Error('type should be MsgApp');
  return newMessage({ type: MessageType.MsgAppResp, from: m.to, to: m.from, term: m.term, index: m.index + m.entries.length });
}

/** Leader helper: commits the empty entry of its term with all followers. */
export function commitNoopEntry(r: Raft, s: MemoryStorage): void {
  r.bcastAppend();
  for (const m of readMessages(r)) {
    if (m.type !== MessageType.MsgApp || m.entries.length !== 1 || m.entries[0].data.length !== 0) {
      throw new Error('not a message to append noop entry');
    }
    r.step(acceptAndReply(m));
  }
  readMessages(r);
  persistAndApply(r, s);
}

type Peer = { raft: Raft; storage: MemoryStorage } | 'blackhole';

/**
 * A synchronous in-memory network: send() steps messages into their
 * destination and keeps delivering the resulting messages until quiet.
 */
export class Network {
  readonly peers = new Map<number, Peer>();
  private dropm = new Map<string, number>();
  private ignorem = new Set<MessageType>();
  private random = seededRandom(42);
  /** Adds a peer after construction (e.g. a node joining the cluster). */
  addPeer(id: number, raft: Raft): void {
    this.peers.set(id, { raft, storage: raft.raftLog.storage as MemoryStorage });
  }

  /** Ticks a node `times` times, delivering what it sends each time. */
  tick(id: number, times = 1): void {
    const r = this.raft(id);
    for (let i = 0; i < times; i++) {
      r.tick();
      persistAndApply(r, this.storage(id));
      this.send(...this.filter(readMessages(r)));
    }
  }

  /** Optional extra drop rule. */
  dropIf?: (m: Message) => boolean;

  /** Optional hook to inspect every delivered message. */
  onDeliver?: (m: Message) => void;

  constructor(peers: (Raft | null | 'blackhole')[], configure?: (id: number) => Partial<Config>) {
    const ids = idsBySize(peers.length);
    peers.forEach((p, i) => {
      const id = ids[i];
      if (p === null) {
        const storage = storageWithPeers(...ids);
        const raft = newTestRaft(id, 10, 1, storage, configure?.(id));
        this.peers.set(id, { raft, storage });
      } else if (p === 'blackhole') {
        this.peers.set(id, 'blackhole');
      } else {
        const storage = p.raftLog.storage as MemoryStorage;
        this.peers.set(id, { raft: p, storage });
      }
    });
  }

  raft(id: number): Raft {
    const p = this.peers.get(id);
    if (!p || p === 'blackhole') throw new Error(`no raft ${id}`);
    return p.raft;
  }

  storage(id: number): MemoryStorage {
    const p = this.peers.get(id);
    if (!p || p === 'blackhole') throw new Error(`no raft ${id}`);
    return p.storage;
  }

  send(...msgs: Message[]): void {
    const queue = msgs.slice();
    while (queue.length > 0) {
      const m = queue.shift()!;
      const p = this.peers.get(m.to);
      if (!p || p === 'blackhole') continue;
      this.onDeliver?.(m);
      try {
        p.raft.step(m);
      } catch (err) {
        if (!(err instanceof Error && err.name === 'ErrProposalDropped')) throw err;
      }
      persistAndApply(p.raft, p.storage);
      for (const out of this.filter(readMessages(p.raft))) queue.push(out);
    }
  }

  drop(from: number, to: number, perc: number): void {
    this.dropm.set(`${from}-${to}`, perc);
  }

  cut(a: number, b: number): void {
    this.drop(a, b, 2);
    this.drop(b, a, 2);
  }

  isolate(id: number): void {
    for (const other of this.peers.keys()) {
      if (other !== id) this.cut(id, other);
    }
  }

  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  recover(): void {
    this.dropm.clear();
    this.ignorem.clear();
    this.dropIf = undefined;
  }

  private filter(msgs: Message[]): Message[] {
    return msgs.filter((m) => {
      if (this.ignorem.has(m.type)) return false;
      if (this.dropIf?.(m)) return false;
      if (m.type === MessageType.MsgHup) throw new Error('unexpected msgHup');
      const perc = this.dropm.get(`${m.from}-${m.to}`) ?? 0;
      return !(perc > 0 && this.random() < perc);
    });
  }
}

export function hup(n: Network, id: number): void {
  n.send(newMessage({ type: MessageType.MsgHup, from: id, to: id }));
}

export function proposeVia(n: Network, id: number, data = 'somedata'): void {
  n.send(newMessage({ type: MessageType.MsgProp, from: id, to: id, entries: [newEntry({ data: bytes(data) })] }));
}

/** A compact description of a log, for comparing two nodes' logs. */
export function logString(r: Raft): string {
  const ents = r.raftLog.allEntries();
  return `committed:${r.raftLog.committed} first:${r.raftLog.firstIndex()} ` + ents.map((e) => `${e.index}/${e.term}:${str(e.data)}`).join(',');
}

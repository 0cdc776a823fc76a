import { RawNode } from './rawnode';
import { MemoryStorage, newMemoryStorageWithPeers } from './storage';
import { MessageType, StateType, newEntry, newMessage } from './types';

const enc = new TextEncoder();

function persist(s: MemoryStorage, rn: RawNode) {
  const rd = rn.ready();
  s.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
  return rd;
}

describe('RawNode', () => {
  test('entries appended between ready() and advance() are not marked stable', () => {
    const s = newMemoryStorageWithPeers([1, 2]);
    const rn = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s });
    const app = (index: number, n: number) =>
      newMessage({
        type: MessageType.MsgApp,
        from: 1,
        to: 2,
        term: 1,
        index,
        logTerm: index === 0 ? 0 : 1,
        entries: Array.from({ length: n }, (_, i) => newEntry({ term: 1, index: index + 1 + i, data: enc.encode(`e${index + 1 + i}`) })),
      });
    rn.step(app(0, 2));
    const rd = persist(s, rn);
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    // more entries arrive while the application is still applying rd
    rn.step(app(2, 2));
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2]);
    rn.advance(rd);
    // the new entries were never persisted: the next Ready must carry them
    const rd2 = persist(s, rn);
    expect(rd2.entries.map((e) => e.index)).toEqual([3, 4]);
    rn.advance(rd2);
    expect(s.lastIndex()).toBe(4);
  });

  test('ready() twice without advance() is refused', () => {
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: newMemoryStorageWithPeers([1]) });
    rn.campaign();
    rn.ready();
    expect(() => rn.ready()).toThrow('ready() called again before advance()');
  });

  test('soft state, hard state and mustSync are reported once per change', () => {
    const s = newMemoryStorageWithPeers([1]);
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: s });
    expect(rn.hasReady()).toBe(false);
    rn.campaign();
    const rd = persist(s, rn);
    expect(rd.softState).toEqual({ lead: 1, raftState: StateType.Leader });
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 1 });
    expect(rd.mustSync).toBe(true);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    rn.advance(rd);
    expect(rn.hasReady()).toBe(false);
    rn.propose(enc.encode('x'));
    const rd2 = persist(s, rn);
    expect(rd2.softState).toBeUndefined();
    expect(rd2.hardState).toEqual({ term: 1, vote: 1, commit: 2 });
    expect(rd2.entries).toHaveLength(1);
    expect(rd2.mustSync).toBe(true);
    rn.advance(rd2);
    expect(rn.status().applied).toBe(2);
  });

  test('a commit-only change does not need an fsync', () => {
    const s = newMemoryStorageWithPeers([1, 2]);
    const rn = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s });
    rn.step(newMessage({ type: MessageType.MsgApp, from: 1, to: 2, term: 1, entries: [newEntry({ term: 1, index: 1 })] }));
    rn.advance(persist(s, rn));
    rn.step(newMessage({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 1 }));
    const rd = persist(s, rn);
    expect(rd.hardState).toEqual({ term: 1, vote: 0, commit: 1 });
    expect(rd.mustSync).toBe(false);
  });

  test('local message types and responses from unknown peers are refused from the network', () => {
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: newMemoryStorageWithPeers([1, 2]) });
    expect(() => rn.step(newMessage({ type: MessageType.MsgHup, from: 2, to: 1 }))).toThrow('raft: cannot step raft local message');
    expect(() => rn.step(newMessage({ type: MessageType.MsgAppResp, from: 9, to: 1, term: 1 }))).toThrow('raft: cannot step as peer not found');
  });
});

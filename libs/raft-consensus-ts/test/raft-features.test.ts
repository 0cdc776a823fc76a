// Behaviour beyond the basic paper algorithm: PreVote, CheckQuorum,
// leadership transfer, ReadIndex, snapshots, membership changes, flow
// control, proposal forwarding and proposal back-pressure.

import { encodeConfChange, encodeConfChangeV2 } from '../src/codec';
import { Changer } from '../src/confchange';
import { ErrProposalDropped } from '../src/errors';
import { Raft } from '../src/raft';
import { RawNode } from '../src/rawnode';
import { Simulator } from './sim/simulator';
import { MemoryStorage } from '../src/storage';
import { ProgressStateType } from '../src/tracker';
import {
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  Message,
  MessageType,
  ReadOnlyOption,
  StateType,
  newEntry,
  newMessage,
} from '../src/types';
import {
  Network,
  bootstrappedRaft,
  bytes,
  hup,
  logString,
  newTestRaft,
  propose,
  proposeVia,
  readMessages,
  storageWithPeers,
  str,
} from './helpers';

const msg = (m: Partial<Message> & { type: MessageType }): Message => newMessage(m);

function confChangeEntry(type: ConfChangeType, nodeId: number) {
  return newEntry({ type: EntryType.EntryConfChange, data: encodeConfChange({ id: 0, type, nodeId }) });
}

function proposeConf(n: Network, leader: number, type: ConfChangeType, nodeId: number): void {
  n.send(msg({ type: MessageType.MsgProp, from: leader, to: leader, entries: [confChangeEntry(type, nodeId)] }));
}

describe('PreVote', () => {
  test('a partitioned node does not bump its term while cut off, and does not disrupt the leader on rejoining', () => {
    const n = new Network([null, null, null], () => ({ preVote: true }));
    hup(n, 1);
    n.isolate(3);
    proposeVia(n, 1, 'while 3 was away');
    n.tick(3, 100);
    expect(n.raft(3).term).toBe(1);
    expect(n.raft(3).state).toBe(StateType.PreCandidate);
    n.recover();
    // 3 starts a pre-election: its log is behind, so nobody grants it.
    hup(n, 3);
    expect(n.raft(1).state).toBe(StateType.Leader);
    expect(n.raft(1).term).toBe(1);
    expect(n.raft(3).term).toBe(1);
    // the leader brings 3 up to date and it follows again
    proposeVia(n, 1, 'after');
    expect(n.raft(3).state).toBe(StateType.Follower);
    expect(logString(n.raft(3))).toBe(logString(n.raft(1)));
  });

  test('control: without PreVote the same rejoin deposes the leader', () => {
    const n = new Network([null, null, null], () => ({ preVote: false }));
    hup(n, 1);
    n.isolate(3);
    proposeVia(n, 1, 'while 3 was away');
    n.tick(3, 100);
    expect(n.raft(3).term).toBeGreaterThan(1);
    n.recover();
    hup(n, 3);
    // 1 saw a higher term and stepped down (3 itself cannot win: its log is behind)
    expect(n.raft(1).term).toBeGreaterThan(1);
    expect(n.raft(3).state).not.toBe(StateType.Leader);
  });

  test('a pre-candidate wins a pre-election, then campaigns for real with term+1', () => {
    const n = new Network([null, null, null], () => ({ preVote: true }));
    const seen: MessageType[] = [];
    n.onDeliver = (m) => seen.push(m.type);
    hup(n, 1);
    expect(n.raft(1).state).toBe(StateType.Leader);
    expect(n.raft(1).term).toBe(1);
    expect(seen.indexOf(MessageType.MsgPreVote)).toBeLessThan(seen.indexOf(MessageType.MsgVote));
    expect(seen).toContain(MessageType.MsgPreVoteResp);
  });

  test('with PreVote and CheckQuorum, a node whose log is just as long still cannot disrupt a healthy leader', () => {
    const n = new Network([null, null, null], () => ({ preVote: true, checkQuorum: true }));
    hup(n, 1);
    expect(n.raft(1).state).toBe(StateType.Leader);
    n.isolate(3);
    n.tick(3, 50);
    n.recover();
    hup(n, 3);
    // 1 and 2 heard from the leader within the election timeout: the pre-vote is ignored.
    expect(n.raft(1).state).toBe(StateType.Leader);
    expect(n.raft(1).term).toBe(1);
    expect(n.raft(3).term).toBe(1);
  });
});

describe('CheckQuorum', () => {
  test('a leader that cannot hear from a quorum steps down within two election timeouts', () => {
    const n = new Network([null, null, null], () => ({ checkQuorum: true }));
    hup(n, 1);
    const r = n.raft(1);
    expect(r.state).toBe(StateType.Leader);
    n.isolate(1);
    for (let i = 0; i < 2 * r.electionTimeout + 1; i++) n.tick(1);
    expect(r.state).toBe(StateType.Follower);
    expect(r.lead).toBe(0);
  });

  test('control: a connected leader keeps leading', () => {
    const n = new Network([null, null, null], () => ({ checkQuorum: true }));
    hup(n, 1);
    const r = n.raft(1);
    for (let i = 0; i < 5 * r.electionTimeout; i++) n.tick(1);
    expect(r.state).toBe(StateType.Leader);
  });

  test('without CheckQuorum an isolated leader stays leader (so the step-down above is the feature)', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.isolate(1);
    n.tick(1, 5 * n.raft(1).electionTimeout);
    expect(n.raft(1).state).toBe(StateType.Leader);
  });

  test('a follower within its leader lease ignores vote requests', () => {
    const n = new Network([null, null, null], () => ({ checkQuorum: true }));
    hup(n, 1);
    const r2 = n.raft(2);
    // 3 campaigns (with a longer log) although 2 still hears from 1.
    r2.step(msg({ type: MessageType.MsgVote, from: 3, to: 2, term: 2, index: 10, logTerm: 10 }));
    expect(readMessages(r2)).toEqual([]);
    expect(r2.term).toBe(1);
    expect(r2.vote).toBe(1);
    // once the lease has expired (no word from the leader for an election timeout), it votes
    r2.electionElapsed = r2.electionTimeout;
    r2.step(msg({ type: MessageType.MsgVote, from: 3, to: 2, term: 2, index: 10, logTerm: 10 }));
    expect(readMessages(r2).map((m) => [m.type, m.reject])).toEqual([[MessageType.MsgVoteResp, false]]);
  });
});

describe('leadership transfer', () => {
  test('to an up-to-date follower: it is told to campaign at once and becomes leader', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    const seen: MessageType[] = [];
    n.onDeliver = (m) => seen.push(m.type);
    n.send(msg({ type: MessageType.MsgTransferLeader, from: 2, to: 1 }));
    expect(seen).toContain(MessageType.MsgTimeoutNow);
    expect(n.raft(2).state).toBe(StateType.Leader);
    expect(n.raft(1).state).toBe(StateType.Follower);
    expect(n.raft(1).lead).toBe(2);
    expect(n.raft(2).term).toBe(2);
  });

  test('to a lagging follower: the leader first catches it up, then hands over', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.isolate(3);
    for (let i = 0; i < 5; i++) proposeVia(n, 1, `v${i}`);
    n.recover();
    expect(n.raft(3).raftLog.lastIndex()).toBeLessThan(n.raft(1).raftLog.lastIndex());
    n.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(n.raft(3).state).toBe(StateType.Leader);
    expect(n.raft(3).raftLog.lastIndex()).toBe(n.raft(1).raftLog.lastIndex());
  });

  test('works with PreVote and CheckQuorum on: the transfer campaign bypasses the lease', () => {
    const n = new Network([null, null, null], () => ({ preVote: true, checkQuorum: true }));
    hup(n, 1);
    n.send(msg({ type: MessageType.MsgTransferLeader, from: 2, to: 1 }));
    expect(n.raft(2).state).toBe(StateType.Leader);
  });

  test('a request through a follower is forwarded to the leader', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 2 }));
    expect(n.raft(3).state).toBe(StateType.Leader);
  });

  test('proposals are dropped while a transfer is pending, and the transfer is abandoned after an election timeout', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    const lead = n.raft(1);
    n.isolate(3);
    proposeVia(n, 1, 'x'); // 3 now lags, so the transfer waits for it
    n.send(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(lead.leadTransferee).toBe(3);
    expect(() => propose(lead)).toThrow(ErrProposalDropped);
    n.tick(1, lead.electionTimeout);
    expect(lead.leadTransferee).toBe(0);
    expect(lead.state).toBe(StateType.Leader);
    expect(() => propose(lead)).not.toThrow();
  });

  test('transfers to self or to a learner are ignored', () => {
    const s = storageWithPeers(1, 2);
    s.setHardState({ term: 0, vote: 0, commit: 0 });
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    r.step(msg({ type: MessageType.MsgTransferLeader, from: 1, to: 1 }));
    expect(r.leadTransferee).toBe(0);
    r.applyConfChange({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [{ type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 3 }] });
    r.step(msg({ type: MessageType.MsgTransferLeader, from: 3, to: 1 }));
    expect(r.leadTransferee).toBe(0);
  });
});

describe('ReadIndex (linearizable reads)', () => {
  const ctx = (s: string) => [newEntry({ data: bytes(s) })];

  test('safe mode: the leader answers after a heartbeat round confirms it still leads', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    proposeVia(n, 1, 'a');
    const lead = n.raft(1);
    const types: MessageType[] = [];
    n.onDeliver = (m) => types.push(m.type);
    n.send(msg({ type: MessageType.MsgReadIndex, from: 1, to: 1, entries: ctx('req1') }));
    expect(types).toContain(MessageType.MsgHeartbeat);
    expect(lead.readStates).toEqual([{ index: lead.raftLog.committed, requestCtx: bytes('req1') }]);
  });

  test('safe mode: a read on a follower is forwarded and answered with the leader commit index', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    proposeVia(n, 1, 'a');
    n.send(msg({ type: MessageType.MsgReadIndex, from: 2, to: 2, entries: ctx('r2') }));
    expect(n.raft(2).readStates).toEqual([{ index: n.raft(1).raftLog.committed, requestCtx: bytes('r2') }]);
  });

  test('safe mode: a leader cut off from the quorum never answers (it may have been deposed)', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.isolate(1);
    n.send(msg({ type: MessageType.MsgReadIndex, from: 1, to: 1, entries: ctx('stale') }));
    n.tick(1, 3);
    expect(n.raft(1).readStates).toEqual([]);
    // once reconnected, the next heartbeat round confirms the pending read
    n.recover();
    n.tick(1, 1);
    expect(n.raft(1).readStates.map((rs) => str(rs.requestCtx))).toEqual(['stale']);
  });

  test('reads wait until the new leader has committed an entry of its own term', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step(msg({ type: MessageType.MsgReadIndex, from: 1, to: 1, entries: ctx('early') }));
    expect(readMessages(r)).toEqual([]);
    expect(r.pendingReadIndexMessages).toHaveLength(1);
    // the empty entry of term 1 commits
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 1 }));
    expect(r.raftLog.committed).toBe(1);
    const hb = readMessages(r).filter((m) => m.type === MessageType.MsgHeartbeat);
    expect(hb.length).toBe(2);
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: 1, context: hb[0].context }));
    expect(r.readStates).toEqual([{ index: 1, requestCtx: bytes('early') }]);
  });

  test('lease-based mode answers without a heartbeat round (requires CheckQuorum)', () => {
    expect(() =>
      newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3), { readOnlyOption: ReadOnlyOption.LeaseBased }),
    ).toThrow('CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased');
    const n = new Network([null, null, null], () => ({ checkQuorum: true, readOnlyOption: ReadOnlyOption.LeaseBased }));
    hup(n, 1);
    const types: MessageType[] = [];
    n.onDeliver = (m) => types.push(m.type);
    n.send(msg({ type: MessageType.MsgReadIndex, from: 1, to: 1, entries: ctx('lease') }));
    expect(types.filter((t) => t === MessageType.MsgHeartbeat)).toEqual([]);
    expect(n.raft(1).readStates).toEqual([{ index: n.raft(1).raftLog.committed, requestCtx: bytes('lease') }]);
  });

  test('several pending reads are confirmed together, in order', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.cut(1, 2);
    n.cut(1, 3);
    for (const c of ['a', 'b', 'c']) n.send(msg({ type: MessageType.MsgReadIndex, from: 1, to: 1, entries: ctx(c) }));
    expect(n.raft(1).readStates).toEqual([]);
    n.recover();
    n.tick(1, 1);
    expect(n.raft(1).readStates.map((rs) => str(rs.requestCtx))).toEqual(['a', 'b', 'c']);
  });
});

describe('snapshots', () => {
  test('a lagging follower whose next entry was compacted away receives and installs a snapshot', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    n.isolate(3);
    for (let i = 0; i < 10; i++) proposeVia(n, 1, `v${i}`);
    const lead = n.raft(1);
    const ls = n.storage(1);
    const applied = lead.raftLog.applied;
    ls.createSnapshot(applied, lead.trk.confState(), bytes('state@' + applied));
    ls.compact(applied);
    expect(lead.raftLog.firstIndex()).toBe(applied + 1);
    n.recover();
    const sent: MessageType[] = [];
    n.onDeliver = (m) => sent.push(m.type);
    n.tick(1, 1); // heartbeat -> response -> leader finds 3's next entry compacted
    expect(sent).toContain(MessageType.MsgSnap);
    const s3 = n.storage(3);
    expect(s3.snapshot().metadata.index).toBe(applied);
    expect(str(s3.snapshot().data)).toBe('state@' + applied);
    expect(n.raft(3).raftLog.committed).toBe(lead.raftLog.committed);
    // the follower is back to normal replication
    proposeVia(n, 1, 'after');
    expect(n.raft(3).raftLog.lastIndex()).toBe(lead.raftLog.lastIndex());
    expect(lead.trk.progress.get(3)!.state).toBe(ProgressStateType.Replicate);
  });

  test('a snapshot older than the follower commit index is ignored', () => {
    const s = storageWithPeers(1, 2);
    s.append([newEntry({ index: 1, term: 1 }), newEntry({ index: 2, term: 1 }), newEntry({ index: 3, term: 1 })]);
    const r = newTestRaft(2, 10, 1, s);
    r.loadState({ term: 1, vote: 0, commit: 3 });
    r.becomeFollower(1, 1);
    r.step(
      msg({
        type: MessageType.MsgSnap,
        from: 1,
        to: 2,
        term: 1,
        snapshot: { data: bytes('x'), metadata: { index: 2, term: 1, confState: r.trk.confState() } },
      }),
    );
    expect(r.raftLog.unstable.snapshot).toBeUndefined();
    expect(readMessages(r)).toEqual([msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: 1, index: 3 })]);
  });

  test('a failed snapshot send (reported by the transport) makes the leader retry', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2));
    r.becomeCandidate();
    r.becomeLeader();
    const pr = r.trk.progress.get(2)!;
    pr.becomeSnapshot(11);
    r.step(msg({ type: MessageType.MsgSnapStatus, from: 2, to: 1, reject: true }));
    expect(pr.state).toBe(ProgressStateType.Probe);
    expect(pr.pendingSnapshot).toBe(0);
    expect(pr.isPaused()).toBe(true); // waits for the next heartbeat response
  });
});

describe('membership changes', () => {
  test('adding a voter: the new node catches up and becomes part of the quorum', () => {
    const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3])));
    hup(n, 1);
    const s4 = new MemoryStorage();
    const r4 = newTestRaft(4, 10, 1, s4);
    n.addPeer(4, r4);
    proposeConf(n, 1, ConfChangeType.ConfChangeAddNode, 4);
    expect(n.raft(1).trk.voterNodes()).toEqual([1, 2, 3, 4]);
    proposeVia(n, 1, 'hello 4');
    expect(r4.trk.voterNodes()).toEqual([1, 2, 3, 4]);
    expect(logString(r4)).toBe(logString(n.raft(1)));
    // With 4 voters the quorum is 3: the leader and one follower are not enough.
    n.isolate(3);
    n.isolate(4);
    const before = n.raft(1).raftLog.committed;
    proposeVia(n, 1, 'needs 3 of 4');
    expect(n.raft(1).raftLog.committed).toBe(before);
  });

  test('removing a voter shrinks the quorum', () => {
    const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3])));
    hup(n, 1);
    proposeConf(n, 1, ConfChangeType.ConfChangeRemoveNode, 3);
    expect(n.raft(1).trk.voterNodes()).toEqual([1, 2]);
    expect(n.raft(1).trk.progress.has(3)).toBe(false);
    n.isolate(3);
    const before = n.raft(1).raftLog.committed;
    proposeVia(n, 1, 'two of two');
    expect(n.raft(1).raftLog.committed).toBe(before + 1);
  });

  test('a learner receives the log but neither votes nor counts towards commitment', () => {
    const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3])));
    hup(n, 1);
    const r4 = newTestRaft(4, 10, 1, new MemoryStorage());
    n.addPeer(4, r4);
    proposeConf(n, 1, ConfChangeType.ConfChangeAddLearnerNode, 4);
    proposeVia(n, 1, 'to learner');
    expect(r4.trk.learnerNodes()).toEqual([4]);
    expect(r4.isLearner).toBe(true);
    expect(logString(r4)).toBe(logString(n.raft(1)));
    // learner never campaigns
    for (let i = 0; i < 50; i++) r4.tick();
    expect(readMessages(r4)).toEqual([]);
    // leader + learner is not a quorum of {1,2,3}
    n.isolate(2);
    n.isolate(3);
    const before = n.raft(1).raftLog.committed;
    proposeVia(n, 1, 'x');
    expect(n.raft(1).raftLog.committed).toBe(before);
  });

  test('promoting a learner to voter', () => {
    const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3])));
    hup(n, 1);
    n.addPeer(4, newTestRaft(4, 10, 1, new MemoryStorage()));
    proposeConf(n, 1, ConfChangeType.ConfChangeAddLearnerNode, 4);
    proposeConf(n, 1, ConfChangeType.ConfChangeAddNode, 4);
    expect(n.raft(1).trk.voterNodes()).toEqual([1, 2, 3, 4]);
    expect(n.raft(1).trk.learnerNodes()).toEqual([]);
    expect(n.raft(4).isLearner).toBe(false);
  });

  test('only one conf change may be pending: a second one becomes an empty entry', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.becomeCandidate();
    r.becomeLeader();
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [confChangeEntry(ConfChangeType.ConfChangeAddNode, 4)] }));
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [confChangeEntry(ConfChangeType.ConfChangeAddNode, 5)] }));
    const ents = r.raftLog.allEntries();
    expect(ents.map((e) => e.type)).toEqual([EntryType.EntryNormal, EntryType.EntryConfChange, EntryType.EntryNormal]);
    expect(ents[2].data.length).toBe(0);
  });

  test('a new leader does not accept a conf change until everything up to its election is applied', () => {
    const s = storageWithPeers(1, 2, 3);
    s.append([newEntry({ index: 1, term: 1, type: EntryType.EntryConfChange, data: encodeConfChange({ id: 0, type: ConfChangeType.ConfChangeAddNode, nodeId: 4 }) })]);
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    expect(r.pendingConfIndex).toBe(1);
    r.step(msg({ type: MessageType.MsgProp, from: 1, to: 1, entries: [confChangeEntry(ConfChangeType.ConfChangeAddNode, 5)] }));
    expect(r.raftLog.allEntries()[2].type).toBe(EntryType.EntryNormal);
  });

  test('joint consensus: replacing a voter enters a joint config and leaves it automatically', () => {
    const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3])));
    hup(n, 1);
    n.addPeer(4, newTestRaft(4, 10, 1, new MemoryStorage()));
    const changes: ConfChangeSingle[] = [
      { type: ConfChangeType.ConfChangeRemoveNode, nodeId: 3 },
      { type: ConfChangeType.ConfChangeAddNode, nodeId: 4 },
    ];
    const seen: string[] = [];
    n.onDeliver = () => {
      const cfg = n.raft(1).trk.config;
      const d = `${[...cfg.voters[0]].sort().join('')}|${[...cfg.voters[1]].sort().join('')}`;
      if (seen[seen.length - 1] !== d) seen.push(d);
    };
    n.send(
      msg({
        type: MessageType.MsgProp,
        from: 1,
        to: 1,
        entries: [newEntry({ type: EntryType.EntryConfChangeV2, data: encodeConfChangeV2({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes }) })],
      }),
    );
    // went through the joint config (1,2,4)&&(1,2,3) and left it
    expect(seen).toContain('124|123');
    expect(n.raft(1).trk.config.voters[1].size).toBe(0);
    expect(n.raft(1).trk.voterNodes()).toEqual([1, 2, 4]);
    expect(n.raft(4).trk.voterNodes()).toEqual([1, 2, 4]);
    expect(n.raft(2).trk.confState()).toEqual({ voters: [1, 2, 4], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
  });

  test('a simple change of two voters at once is refused; leaving a non-joint config is refused', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    const add = (id: number): ConfChangeSingle => ({ type: ConfChangeType.ConfChangeAddNode, nodeId: id });
    expect(() => new Changer(r.trk, 0).simple([add(4), add(5)])).toThrow('more than one voter changed without entering joint config');
    expect(() => new Changer(r.trk, 0).simple([add(4)])).not.toThrow();
    expect(() => r.applyConfChange({ transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [] })).toThrow("can't leave a non-joint config");
  });

  test('a leader removed from the config steps down only with stepDownOnRemoval', () => {
    for (const stepDownOnRemoval of [false, true]) {
      const n = new Network([1, 2, 3].map((id) => bootstrappedRaft(id, [1, 2, 3], { stepDownOnRemoval })));
      hup(n, 1);
      proposeConf(n, 1, ConfChangeType.ConfChangeRemoveNode, 1);
      expect(n.raft(2).trk.voterNodes()).toEqual([2, 3]);
      expect(n.raft(1).state).toBe(stepDownOnRemoval ? StateType.Follower : StateType.Leader);
      if (!stepDownOnRemoval) expect(() => propose(n.raft(1))).toThrow(ErrProposalDropped);
    }
  });
});

describe('flow control', () => {
  function leaderWithReplicatingFollower(extra: object = {}): Raft {
    const r = newTestRaft(1, 5, 1, storageWithPeers(1, 2), { maxInflightMsgs: 3, ...extra });
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.trk.progress.get(2)!.becomeReplicate();
    return r;
  }

  test('in replicate state at most MaxInflightMsgs appends are in flight; acks free the window', () => {
    const r = leaderWithReplicatingFollower();
    const pr2 = r.trk.progress.get(2)!;
    for (let i = 0; i < 3; i++) {
      propose(r);
      const ms = readMessages(r);
      expect(ms.map((m) => m.type)).toEqual([MessageType.MsgApp]);
    }
    expect(pr2.inflights.full()).toBe(true);
    for (let i = 0; i < 5; i++) {
      propose(r);
      expect(readMessages(r)).toEqual([]);
    }
    // ack the first in-flight append (index 2): one slot frees, one message goes out
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 2 }));
    const ms = readMessages(r).filter((m) => m.type === MessageType.MsgApp && m.entries.length > 0);
    expect(ms.length).toBeGreaterThanOrEqual(1);
    expect(pr2.inflights.full()).toBe(true);
  });

  test('a heartbeat response unpauses a full window with an (empty) probe', () => {
    const r = leaderWithReplicatingFollower();
    for (let i = 0; i < 4; i++) propose(r);
    readMessages(r);
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: r.term }));
    const ms = readMessages(r);
    expect(ms).toHaveLength(1);
    expect(ms[0].type).toBe(MessageType.MsgApp);
    expect(ms[0].entries).toHaveLength(0);
  });

  test('in probe state a single append is sent per heartbeat interval', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers(1, 2));
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    const pr2 = r.trk.progress.get(2)!;
    expect(pr2.state).toBe(ProgressStateType.Probe);
    propose(r);
    expect(readMessages(r)).toHaveLength(1);
    propose(r);
    propose(r);
    expect(readMessages(r)).toEqual([]);
    expect(pr2.isPaused()).toBe(true);
    r.step(msg({ type: MessageType.MsgHeartbeatResp, from: 2, to: 1, term: r.term }));
    expect(readMessages(r).filter((m) => m.type === MessageType.MsgApp)).toHaveLength(1);
  });

  test('MaxSizePerMsg bounds the entries per MsgApp when catching a follower up', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers(1, 2), { maxSizePerMsg: 250, maxInflightMsgs: 100 });
    r.becomeCandidate();
    r.becomeLeader();
    for (let i = 0; i < 10; i++) propose(r, 'x'.repeat(100));
    readMessages(r);
    // follower acknowledges the empty entry; leader streams the rest
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 1 }));
    const apps = readMessages(r).filter((m) => m.type === MessageType.MsgApp && m.entries.length > 0);
    expect(apps.length).toBe(5);
    for (const m of apps) expect(m.entries.length).toBe(2);
  });

  test('MaxInflightBytes bounds the payload bytes in flight', () => {
    const r = newTestRaft(1, 5, 1, storageWithPeers(1, 2), { maxInflightMsgs: 100, maxSizePerMsg: 100, maxInflightBytes: 250 });
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    // the follower already has the leader's empty entry
    r.trk.progress.get(2)!.match = 1;
    r.trk.progress.get(2)!.becomeReplicate();
    const sent: number[] = [];
    for (let i = 0; i < 6; i++) {
      propose(r, 'y'.repeat(100));
      sent.push(readMessages(r).filter((m) => m.type === MessageType.MsgApp).length);
    }
    // 100 + 100 + 100 bytes reach the 250 limit at the third message
    expect(sent).toEqual([1, 1, 1, 0, 0, 0]);
    expect(r.trk.progress.get(2)!.inflights.bytes()).toBe(300);
  });

  test('a rejection moves a replicating follower back to probing from its match', () => {
    const r = leaderWithReplicatingFollower();
    const pr2 = r.trk.progress.get(2)!;
    propose(r);
    propose(r);
    readMessages(r);
    r.step(msg({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: 2, reject: true, rejectHint: 0 }));
    expect(pr2.state).toBe(ProgressStateType.Probe);
    expect(pr2.next).toBe(pr2.match + 1);
  });
});

describe('proposal forwarding', () => {
  test('a follower forwards proposals to the leader', () => {
    const n = new Network([null, null, null]);
    hup(n, 1);
    proposeVia(n, 2, 'via follower');
    const ents = n.raft(1).raftLog.allEntries();
    expect(str(ents[ents.length - 1].data)).toBe('via follower');
    expect(n.raft(3).raftLog.committed).toBe(ents[ents.length - 1].index);
  });

  test('with DisableProposalForwarding a follower drops proposals', () => {
    const n = new Network([null, null, null], () => ({ disableProposalForwarding: true }));
    hup(n, 1);
    expect(() => propose(n.raft(2))).toThrow(ErrProposalDropped);
  });

  test('a follower without a leader drops proposals; so does a candidate', () => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    expect(() => propose(r)).toThrow(ErrProposalDropped);
    r.becomeCandidate();
    expect(() => propose(r)).toThrow(new ErrProposalDropped().message);
  });
});

describe('MaxUncommittedEntriesSize back-pressure', () => {
  test('the leader drops proposals past the limit until entries commit and are applied', () => {
    const s = storageWithPeers(1);
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: s, maxUncommittedEntriesSize: 1000 });
    rn.campaign();
    expect(rn.raft.state).toBe(StateType.Leader);
    const data = new Uint8Array(100);
    for (let i = 0; i < 10; i++) rn.propose(data);
    expect(() => rn.propose(data)).toThrow(ErrProposalDropped);
    // empty proposals always pass
    expect(() => rn.propose(new Uint8Array(0))).not.toThrow();
    // persist, apply and advance: the uncommitted size goes back to zero
    const rd = rn.ready();
    s.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    expect(rd.committedEntries.filter((e) => e.data.length === 100)).toHaveLength(10);
    rn.advance(rd);
    expect(rn.raft.uncommittedSize).toBe(0);
    expect(() => rn.propose(data)).not.toThrow();
  });

  test('a single entry larger than the limit is accepted when nothing else is pending', () => {
    const rn = new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: storageWithPeers(1, 2), maxUncommittedEntriesSize: 10 });
    rn.raft.becomeCandidate();
    rn.raft.becomeLeader();
    expect(() => rn.propose(new Uint8Array(50))).not.toThrow();
    expect(() => rn.propose(new Uint8Array(1))).toThrow(ErrProposalDropped);
  });
});

describe('deliberate differences from etcd-io/raft (each found by the simulator)', () => {
  const snapMsg = (index: number, voters: number[], to: number) =>
    msg({
      type: MessageType.MsgSnap,
      from: 1,
      to,
      term: 2,
      snapshot: { data: bytes('s'), metadata: { index, term: 2, confState: { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } } },
    });

  test('a node that joined after the leader took its snapshot installs it, though it is not in its config yet', () => {
    const r = newTestRaft(4, 10, 1, new MemoryStorage());
    r.step(snapMsg(20, [1, 2, 3], 4));
    expect(r.raftLog.unstable.snapshot?.metadata.index).toBe(20);
    expect(r.raftLog.committed).toBe(20);
    expect(readMessages(r)).toEqual([msg({ type: MessageType.MsgAppResp, from: 4, to: 1, term: 2, index: 20 })]);
  });

  test('a learner with a higher term answers a stale leader (even without PreVote/CheckQuorum); a voter does not', () => {
    const s = storageWithPeers(1, 2);
    s.setInitialConfState({ voters: [1, 2], learners: [3], votersOutgoing: [], learnersNext: [], autoLeave: false });
    const learner = newTestRaft(3, 10, 1, s);
    learner.becomeFollower(5, 0);
    learner.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 3, term: 3 }));
    expect(readMessages(learner)).toEqual([msg({ type: MessageType.MsgAppResp, from: 3, to: 1, term: 5 })]);
    const voter = newTestRaft(2, 10, 1, storageWithPeers(1, 2));
    voter.becomeFollower(5, 0);
    voter.step(msg({ type: MessageType.MsgHeartbeat, from: 1, to: 2, term: 3 }));
    expect(readMessages(voter)).toEqual([]);
  });

  test('a snapshot is ignored while committed entries of an earlier Ready are being applied, and accepted after', () => {
    const s = storageWithPeers(1, 2);
    const rn = new RawNode({ id: 2, electionTick: 10, heartbeatTick: 1, storage: s });
    rn.step(msg({ type: MessageType.MsgApp, from: 1, to: 2, term: 2, commit: 2, entries: [newEntry({ index: 1, term: 2 }), newEntry({ index: 2, term: 2 })] }));
    const rd = rn.ready();
    s.save(rd.hardState, rd.entries, rd.snapshot, rd.mustSync);
    expect(rd.committedEntries).toHaveLength(2);
    // the application is applying entries 1..2 when a snapshot arrives
    rn.step(snapMsg(10, [1, 2], 2));
    expect(rn.raft.raftLog.unstable.snapshot).toBeUndefined();
    rn.advance(rd);
    rn.step(snapMsg(10, [1, 2], 2));
    expect(rn.raft.raftLog.unstable.snapshot?.metadata.index).toBe(10);
  });
});

describe('configuration and determinism', () => {
  test('invalid configurations are refused with etcd-like messages', () => {
    const base = { id: 1, electionTick: 10, heartbeatTick: 1, storage: storageWithPeers(1) };
    const bad: [object, string][] = [
      [{ id: 0 }, 'cannot use none as id'],
      [{ heartbeatTick: 0 }, 'heartbeat tick must be greater than 0'],
      [{ electionTick: 1 }, 'election tick must be greater than heartbeat tick'],
      [{ maxInflightMsgs: 0 }, 'max inflight messages must be greater than 0'],
      [{ maxSizePerMsg: 1000, maxInflightBytes: 10 }, 'max inflight bytes must be >= max message size'],
      [{ readOnlyOption: ReadOnlyOption.LeaseBased }, 'CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased'],
    ];
    for (const [patch, message] of bad) expect(() => new RawNode({ ...base, ...patch })).toThrow(message);
    expect(() => new RawNode({ ...base, readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: true })).not.toThrow();
  });

  test('the core uses neither Math.random nor clocks, and a seeded run replays exactly', () => {
    const spies = [
      jest.spyOn(Math, 'random').mockImplementation(() => {
        throw new Error('Math.random used');
      }),
      jest.spyOn(Date, 'now').mockImplementation(() => {
        throw new Error('Date.now used');
      }),
      jest.spyOn(performance, 'now').mockImplementation(() => {
        throw new Error('performance.now used');
      }),
    ];
    try {
      const run = (seed: number) => new Simulator({ seed, nodes: 3, membership: true }).run();
      const a = run(77);
      const b = run(77);
      expect(b).toEqual(a);
      expect(run(78)).not.toEqual(a);
      // the default randomness is seeded from the node id
      const t = (id: number) => {
        const r = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage: storageWithPeers(1, 2, 3) }).raft;
        const out: number[] = [];
        for (let i = 0; i < 20; i++) {
          r.resetRandomizedElectionTimeout();
          out.push(r.randomizedElectionTimeout);
        }
        return out;
      };
      expect(t(2)).toEqual(t(2));
      expect(t(2)).not.toEqual(t(3));
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });
});

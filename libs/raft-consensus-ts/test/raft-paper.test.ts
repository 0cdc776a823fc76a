// Behaviour from the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm"), section by section: the same
// behaviours etcd-io/raft checks in raft_paper_test.go, written afresh.

import { Raft } from '../src/raft';
import { Message, MessageType, None, StateType, newEntry, newMessage } from '../src/types';
import {
  Network,
  acceptAndReply,
  bytes,
  commitNoopEntry,
  entsWithTerms,
  hup,
  idsBySize,
  newTestRaft,
  propose,
  readMessages,
  sortMessages,
  storageWithPeers,
} from './helpers';

const app = (m: Partial<Message>): Message => newMessage({ type: MessageType.MsgApp, ...m });

describe('§5.1 terms: a server updates its term from any message with a larger term', () => {
  const cases: [string, (r: Raft) => void][] = [
    ['follower', (r) => r.becomeFollower(1, 2)],
    ['candidate', (r) => r.becomeCandidate()],
    [
      'leader',
      (r) => {
        r.becomeCandidate();
        r.becomeLeader();
      },
    ],
  ];
  for (const [name, setup] of cases) {
    test(`${name} adopts the larger term and reverts to follower`, () => {
      const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
      setup(r);
      r.step(app({ term: 2 }));
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.Follower);
    });
  }
});

test('§5.1 terms: a request with a stale term is rejected (never reaches the state handler)', () => {
  let called = false;
  const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
  r.stepFn = () => {
    called = true;
  };
  r.loadState({ term: 2, vote: 0, commit: 0 });
  r.step(app({ term: r.term - 1 }));
  expect(called).toBe(false);
  // Control: a message of the current term does reach the handler.
  r.step(app({ term: r.term }));
  expect(called).toBe(true);
});

test('§5.2 election: servers start up as followers', () => {
  const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
  expect(r.state).toBe(StateType.Follower);
});

test('§5.2 election: a leader sends heartbeats (empty AppendEntries) to all followers every heartbeat interval', () => {
  const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
  r.becomeCandidate();
  r.becomeLeader();
  for (let i = 0; i < 10; i++) r.appendEntry([newEntry({ index: i + 1 })]);
  readMessages(r);
  r.tick();
  expect(sortMessages(readMessages(r))).toEqual([
    newMessage({ from: 1, to: 2, term: 1, type: MessageType.MsgHeartbeat, commit: 0 }),
    newMessage({ from: 1, to: 3, term: 1, type: MessageType.MsgHeartbeat, commit: 0 }),
  ]);
});

describe('§5.2 election: on election timeout a follower or candidate starts a new election', () => {
  for (const state of [StateType.Follower, StateType.Candidate]) {
    test(`${StateType[state]} increments its term, votes for itself and requests votes in parallel`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, storageWithPeers(1, 2, 3));
      if (state === StateType.Follower) r.becomeFollower(1, 2);
      else r.becomeCandidate();
      for (let i = 1; i < 2 * et; i++) r.tick();
      expect(r.term).toBe(2);
      expect(r.state).toBe(StateType.Candidate);
      expect(r.trk.votes.get(r.id)).toBe(true);
      expect(r.vote).toBe(1);
      expect(sortMessages(readMessages(r))).toEqual([
        newMessage({ from: 1, to: 2, term: 2, type: MessageType.MsgVote, index: 0, logTerm: 0 }),
        newMessage({ from: 1, to: 3, term: 2, type: MessageType.MsgVote, index: 0, logTerm: 0 }),
      ]);
    });
  }
});

test('§5.2 election: one round of RequestVote wins, loses or stays undecided', () => {
  const cases: [number, Map<number, boolean>, StateType][] = [
    // win with a majority
    [1, new Map(), StateType.Leader],
    [3, new Map([[2, true], [3, true]]), StateType.Leader],
    [3, new Map([[2, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true], [4, true], [5, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true], [4, true]]), StateType.Leader],
    [5, new Map([[2, true], [3, true]]), StateType.Leader],
    // a majority rejected: back to follower
    [3, new Map([[2, false], [3, false]]), StateType.Follower],
    [5, new Map([[2, false], [3, false], [4, false], [5, false]]), StateType.Follower],
    [5, new Map([[2, true], [3, false], [4, false], [5, false]]), StateType.Follower],
    // not enough answers: still a candidate
    [3, new Map(), StateType.Candidate],
    [5, new Map([[2, true]]), StateType.Candidate],
    [5, new Map([[2, false], [3, false]]), StateType.Candidate],
    [5, new Map(), StateType.Candidate],
  ];
  cases.forEach(([size, votes, want], i) => {
    const r = newTestRaft(1, 10, 1, storageWithPeers(...idsBySize(size)));
    r.step(newMessage({ type: MessageType.MsgHup, from: 1, to: 1 }));
    for (const [id, vote] of votes) {
      r.step(newMessage({ type: MessageType.MsgVoteResp, from: id, to: 1, term: r.term, reject: !vote }));
    }
    expect({ i, state: r.state, term: r.term }).toEqual({ i, state: want, term: 1 });
  });
});

test('§5.2 election: a server votes for at most one candidate per term, first come first served', () => {
  const cases: [number, number, boolean][] = [
    [None, 2, false],
    [None, 3, false],
    [2, 2, false],
    [3, 3, false],
    [2, 3, true],
    [3, 2, true],
  ];
  for (const [vote, nvote, wreject] of cases) {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.loadState({ term: 1, vote, commit: 0 });
    r.step(newMessage({ type: MessageType.MsgVote, from: nvote, to: 1, term: 1 }));
    expect(readMessages(r)).toEqual([
      newMessage({ from: 1, to: nvote, term: 1, type: MessageType.MsgVoteResp, reject: wreject }),
    ]);
  }
});

test('§5.2 election: a candidate receiving AppendEntries from a leader of at least its term becomes follower', () => {
  for (const term of [1, 2]) {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.step(newMessage({ type: MessageType.MsgHup, from: 1, to: 1 }));
    expect(r.state).toBe(StateType.Candidate);
    r.step(app({ from: 2, to: 1, term }));
    expect(r.state).toBe(StateType.Follower);
    expect(r.term).toBe(term);
    expect(r.lead).toBe(2);
  }
});

describe('§5.2 election: election timeouts are randomised in [et, 2et)', () => {
  for (const state of [StateType.Follower, StateType.Candidate]) {
    test(`${StateType[state]} uses every timeout in range, and none outside`, () => {
      const et = 10;
      const r = newTestRaft(1, et, 1, storageWithPeers(1, 2, 3));
      const timeouts = new Set<number>();
      for (let round = 0; round < 50 * et; round++) {
        if (state === StateType.Follower) r.becomeFollower(r.term + 1, 2);
        else r.becomeCandidate();
        let time = 0;
        while (readMessages(r).length === 0) {
          r.tick();
          time++;
        }
        timeouts.add(time);
      }
      for (let d = et; d < 2 * et; d++) expect(timeouts.has(d)).toBe(true);
      for (const t of timeouts) expect(t >= et && t < 2 * et).toBe(true);
    });
  }
});

describe('§5.2 election: randomised timeouts make split votes rare (followers/candidates rarely time out together)', () => {
  for (const state of [StateType.Follower, StateType.Candidate]) {
    test(`${StateType[state]}s conflict in at most 30% of rounds`, () => {
      const et = 10;
      const size = 5;
      const ids = idsBySize(size);
      const rs = ids.map((id) => newTestRaft(id, et, 1, storageWithPeers(...ids)));
      let conflicts = 0;
      for (let round = 0; round < 1000; round++) {
        for (const r of rs) {
          if (state === StateType.Follower) r.becomeFollower(r.term + 1, None);
          else r.becomeCandidate();
        }
        let timeoutNum = 0;
        while (timeoutNum === 0) {
          for (const r of rs) {
            r.tick();
            if (readMessages(r).length > 0) timeoutNum++;
          }
        }
        if (timeoutNum > 1) conflicts++;
      }
      expect(conflicts / 1000).toBeLessThanOrEqual(0.3);
    });
  }
});

test('§5.3 replication: the leader appends a proposal to its log and sends AppendEntries in parallel', () => {
  const s = storageWithPeers(1, 2, 3);
  const r = newTestRaft(1, 10, 1, s);
  r.becomeCandidate();
  r.becomeLeader();
  commitNoopEntry(r, s);
  const li = r.raftLog.lastIndex();
  propose(r);
  expect(r.raftLog.lastIndex()).toBe(li + 1);
  expect(r.raftLog.committed).toBe(li);
  const wents = [newEntry({ index: li + 1, term: 1, data: bytes('some data') })];
  expect(sortMessages(readMessages(r))).toEqual([
    app({ from: 1, to: 2, term: 1, index: li, logTerm: 1, entries: wents, commit: li }),
    app({ from: 1, to: 3, term: 1, index: li, logTerm: 1, entries: wents, commit: li }),
  ]);
  expect(r.raftLog.nextUnstableEnts()).toEqual(wents);
});

test('§5.3 replication: an entry replicated on a majority is committed and followers learn the commit index', () => {
  const s = storageWithPeers(1, 2, 3);
  const r = newTestRaft(1, 10, 1, s);
  r.becomeCandidate();
  r.becomeLeader();
  commitNoopEntry(r, s);
  const li = r.raftLog.lastIndex();
  propose(r);
  for (const m of readMessages(r)) r.step(acceptAndReply(m));
  expect(r.raftLog.committed).toBe(li + 1);
  expect(r.raftLog.nextCommittedEnts()).toEqual([newEntry({ index: li + 1, term: 1, data: bytes('some data') })]);
  const msgs = sortMessages(readMessages(r));
  expect(msgs.map((m) => [m.to, m.type, m.commit])).toEqual([
    [2, MessageType.MsgApp, li + 1],
    [3, MessageType.MsgApp, li + 1],
  ]);
});

test('§5.3 replication: the leader acknowledges a commit once a majority (including itself) has the entry', () => {
  const cases: [number, number[], boolean][] = [
    [1, [], true],
    [3, [], false],
    [3, [2], true],
    [3, [2, 3], true],
    [5, [], false],
    [5, [2], false],
    [5, [2, 3], true],
    [5, [2, 3, 4], true],
    [5, [2, 3, 4, 5], true],
  ];
  for (const [size, acceptors, wack] of cases) {
    const s = storageWithPeers(...idsBySize(size));
    const r = newTestRaft(1, 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    propose(r);
    for (const m of readMessages(r)) if (acceptors.includes(m.to)) r.step(acceptAndReply(m));
    expect({ size, acceptors, acked: r.raftLog.committed > li }).toEqual({ size, acceptors, acked: wack });
  }
});

test('§5.3 replication: committing an entry also commits all preceding entries, including earlier terms', () => {
  const cases = [[], entsWithTerms(1, 2), entsWithTerms(1, 1, 2), entsWithTerms(1, 1)];
  for (const tt of cases) {
    const storage = storageWithPeers(1, 2, 3);
    storage.append(tt);
    const r = newTestRaft(1, 10, 1, storage);
    r.loadState({ term: 2, vote: 0, commit: 0 });
    r.becomeCandidate();
    r.becomeLeader();
    propose(r);
    for (const m of readMessages(r)) r.step(acceptAndReply(m));
    const li = tt.length;
    expect(r.raftLog.nextCommittedEnts()).toEqual([
      ...tt,
      newEntry({ term: 3, index: li + 1 }),
      newEntry({ term: 3, index: li + 2, data: bytes('some data') }),
    ]);
  }
});

test('§5.3 replication: a follower commits entries up to the leader commit index it learns', () => {
  const e = (index: number, data: string) => newEntry({ term: 1, index, data: bytes(data) });
  const cases: [ReturnType<typeof e>[], number][] = [
    [[e(1, 'some data')], 1],
    [[e(1, 'some data'), e(2, 'some data2')], 2],
    [[e(1, 'some data2'), e(2, 'some data')], 2],
    [[e(1, 'some data'), e(2, 'some data2')], 1],
  ];
  for (const [ents, commit] of cases) {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.becomeFollower(1, 2);
    r.step(app({ from: 2, to: 1, term: 1, entries: ents, commit }));
    expect(r.raftLog.committed).toBe(commit);
    expect(r.raftLog.nextCommittedEnts()).toEqual(ents.slice(0, commit));
  }
});

test('§5.3 replication: a follower refuses AppendEntries whose previous entry it lacks (consistency check)', () => {
  const ents = [newEntry({ term: 1, index: 1 }), newEntry({ term: 2, index: 2 })];
  const cases: { term: number; index: number; windex: number; wreject: boolean; hint: number; wlogterm: number }[] = [
    // match with committed entries
    { term: 0, index: 0, windex: 1, wreject: false, hint: 0, wlogterm: 0 },
    { term: 1, index: 1, windex: 1, wreject: false, hint: 0, wlogterm: 0 },
    // match with uncommitted entries
    { term: 2, index: 2, windex: 2, wreject: false, hint: 0, wlogterm: 0 },
    // unmatch with existing entry
    { term: 1, index: 2, windex: 2, wreject: true, hint: 1, wlogterm: 1 },
    // unexisting entry
    { term: 3, index: 3, windex: 3, wreject: true, hint: 2, wlogterm: 2 },
  ];
  for (const tt of cases) {
    const storage = storageWithPeers(1, 2, 3);
    storage.append(ents);
    const r = newTestRaft(1, 10, 1, storage);
    r.loadState({ term: 0, vote: 0, commit: 1 });
    r.becomeFollower(2, 2);
    r.step(app({ from: 2, to: 1, term: 2, logTerm: tt.term, index: tt.index }));
    expect(readMessages(r)).toEqual([
      newMessage({
        from: 1,
        to: 2,
        type: MessageType.MsgAppResp,
        term: 2,
        index: tt.windex,
        reject: tt.wreject,
        rejectHint: tt.hint,
        logTerm: tt.wlogterm,
      }),
    ]);
  }
});

test('§5.3 replication: a follower deletes a conflicting entry and all that follow, then appends', () => {
  const cases = [
    { index: 2, term: 2, ents: entsWithTerms(3, 3), wents: entsWithTerms(1, 1, 2, 3), wunstable: entsWithTerms(3, 3) },
    { index: 1, term: 1, ents: entsWithTerms(2, 3, 4), wents: entsWithTerms(1, 1, 3, 4), wunstable: entsWithTerms(2, 3, 4) },
    { index: 0, term: 0, ents: entsWithTerms(1, 1), wents: entsWithTerms(1, 1, 2), wunstable: [] },
    { index: 0, term: 0, ents: entsWithTerms(1, 3), wents: entsWithTerms(1, 3), wunstable: entsWithTerms(1, 3) },
  ];
  for (const tt of cases) {
    const storage = storageWithPeers(1, 2, 3);
    storage.append(entsWithTerms(1, 1, 2));
    const r = newTestRaft(1, 10, 1, storage);
    r.becomeFollower(2, 2);
    r.step(app({ from: 2, to: 1, term: 2, logTerm: tt.term, index: tt.index, entries: tt.ents }));
    expect(r.raftLog.allEntries()).toEqual(tt.wents);
    expect(r.raftLog.nextUnstableEnts()).toEqual(tt.wunstable);
  }
});

test('§5.3 replication: a leader brings divergent follower logs into agreement with its own (Figure 7)', () => {
  // The leader's log from Figure 7 (terms of entries 1..10), and followers (a)-(f).
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers = [
    [1, 1, 1, 4, 4, 5, 5, 6, 6], // (a) missing an entry
    [1, 1, 1, 4], // (b) missing many
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], // (c) an extra uncommitted entry
    [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) extra entries of a later term
    [1, 1, 1, 4, 4, 4, 4], // (e) missing entries and extra of term 4
    [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], // (f) many extra entries of terms 2 and 3
  ];
  const term = 8;
  for (const ft of followers) {
    const leadStorage = storageWithPeers(1, 2, 3);
    leadStorage.append(entsWithTerms(1, ...leaderTerms));
    const lead = newTestRaft(1, 10, 1, leadStorage);
    lead.loadState({ commit: lead.raftLog.lastIndex(), term, vote: 0 });
    const followerStorage = storageWithPeers(1, 2, 3);
    followerStorage.append(entsWithTerms(1, ...ft));
    const follower = newTestRaft(2, 10, 1, followerStorage);
    follower.loadState({ term: term - 1, vote: 0, commit: 0 });
    // Node 3 is a black hole: it never answers.
    const n = new Network([lead, follower, 'blackhole']);
    n.send(newMessage({ type: MessageType.MsgHup, from: 1, to: 1 }));
    // The third vote that makes 1 leader.
    n.send(newMessage({ type: MessageType.MsgVoteResp, from: 3, to: 1, term: term + 1 }));
    n.send(newMessage({ type: MessageType.MsgProp, from: 1, to: 1, entries: [newEntry()] }));
    expect(lead.state).toBe(StateType.Leader);
    const describe = (r: Raft) => ({
      committed: r.raftLog.committed,
      entries: r.raftLog.allEntries().map((e) => `${e.index}/${e.term}`),
    });
    expect(describe(follower)).toEqual(describe(lead));
    // Entries of the leader's term were added, and the follower's extras are gone.
    expect(follower.raftLog.lastIndex()).toBe(12);
  }
});

test('§5.4.1 election restriction: a RequestVote carries the candidate last log index and term', () => {
  const cases = [
    { ents: entsWithTerms(1, 1), wterm: 2 },
    { ents: entsWithTerms(1, 1, 2), wterm: 3 },
  ];
  for (const tt of cases) {
    const r = newTestRaft(1, 10, 1, storageWithPeers(1, 2, 3));
    r.step(app({ from: 2, to: 1, term: tt.wterm - 1, logTerm: 0, index: 0, entries: tt.ents }));
    readMessages(r);
    for (let i = 1; i < r.electionTimeout * 2; i++) r.tickElection();
    const msgs = sortMessages(readMessages(r));
    expect(msgs).toHaveLength(2);
    const last = tt.ents[tt.ents.length - 1];
    msgs.forEach((m, i) => {
      expect(m.type).toBe(MessageType.MsgVote);
      expect(m.to).toBe(i + 2);
      expect(m.term).toBe(tt.wterm);
      expect(m.index).toBe(last.index);
      expect(m.logTerm).toBe(last.term);
    });
  }
});

test('§5.4.1 election restriction: a voter denies its vote to a candidate whose log is less up to date', () => {
  const cases: { ents: ReturnType<typeof entsWithTerms>; logterm: number; index: number; wreject: boolean }[] = [
    // same logterm
    { ents: entsWithTerms(1, 1), logterm: 1, index: 1, wreject: false },
    { ents: entsWithTerms(1, 1), logterm: 1, index: 2, wreject: false },
    { ents: entsWithTerms(1, 1, 1), logterm: 1, index: 1, wreject: true },
    // candidate higher logterm
    { ents: entsWithTerms(1, 1), logterm: 2, index: 1, wreject: false },
    { ents: entsWithTerms(1, 1), logterm: 2, index: 2, wreject: false },
    { ents: entsWithTerms(1, 1, 1), logterm: 2, index: 1, wreject: false },
    // voter higher logterm
    { ents: entsWithTerms(1, 2), logterm: 1, index: 1, wreject: true },
    { ents: entsWithTerms(1, 2), logterm: 1, index: 2, wreject: true },
    { ents: entsWithTerms(1, 2, 2), logterm: 1, index: 1, wreject: true },
    { ents: entsWithTerms(1, 1, 1), logterm: 1, index: 1, wreject: true },
  ];
  for (const tt of cases) {
    const storage = storageWithPeers(1, 2);
    storage.append(tt.ents);
    const r = newTestRaft(1, 10, 1, storage);
    r.step(newMessage({ type: MessageType.MsgVote, from: 2, to: 1, term: 3, logTerm: tt.logterm, index: tt.index }));
    const msgs = readMessages(r);
    expect(msgs).toHaveLength(1);
    expect(msgs[0].type).toBe(MessageType.MsgVoteResp);
    expect({ tt: [tt.logterm, tt.index], reject: msgs[0].reject }).toEqual({ tt: [tt.logterm, tt.index], reject: tt.wreject });
  }
});

test('§5.4.2 committing entries from previous terms: a leader only commits current-term entries by counting replicas', () => {
  const cases = [
    { index: 1, wcommit: 0 },
    { index: 2, wcommit: 0 },
    { index: 3, wcommit: 3 },
  ];
  for (const tt of cases) {
    const storage = storageWithPeers(1, 2);
    storage.append(entsWithTerms(1, 1, 2));
    const r = newTestRaft(1, 10, 1, storage);
    r.loadState({ term: 2, vote: 0, commit: 0 });
    // becomes leader at term 3, appending an empty entry at index 3
    r.becomeCandidate();
    r.becomeLeader();
    readMessages(r);
    r.step(newMessage({ type: MessageType.MsgProp, from: 1, to: 1, entries: [newEntry()] }));
    r.step(newMessage({ type: MessageType.MsgAppResp, from: 2, to: 1, term: r.term, index: tt.index }));
    expect({ index: tt.index, committed: r.raftLog.committed }).toEqual({ index: tt.index, committed: tt.wcommit });
  }
});

test('§5.4.2 Figure 8: an entry from an earlier term stored on a majority is not committed by counting, and may be overwritten', () => {
  // One entry per MsgApp so the old entry can reach a majority without the new leader's entry.
  const n = new Network([null, null, null, null, null], () => ({ maxSizePerMsg: 0 }));
  const r = (id: number) => n.raft(id);
  // (a) S1 leads term 1 and replicates entry 2 only to S2.
  hup(n, 1);
  n.cut(1, 3);
  n.cut(1, 4);
  n.cut(1, 5);
  n.send(newMessage({ type: MessageType.MsgProp, from: 1, to: 1, entries: [newEntry({ data: bytes('old') })] }));
  expect(r(2).raftLog.lastIndex()).toBe(2);
  expect(r(3).raftLog.lastIndex()).toBe(1);
  // (b) S1 is gone; S5 wins term 2 with S3, S4 and appends entry 2 of term 2 locally only.
  n.recover();
  n.isolate(1);
  n.ignore(MessageType.MsgApp);
  hup(n, 5);
  expect(r(5).state).toBe(StateType.Leader);
  expect(r(5).raftLog.termOrUndefined(2)).toBe(2);
  // (c) S5 is gone; S1 comes back and wins term 3 with S3 and S4 (S2 cut off). Its old
  // entry 2 (term 1) reaches S3 and S4, a majority; its own entry 3 (term 3) does not.
  n.recover();
  n.isolate(5);
  n.isolate(2);
  const probed = new Set<number>();
  n.dropIf = (m) => {
    if (m.type !== MessageType.MsgApp || !m.entries.some((e) => e.index === 3)) return false;
    if (!probed.has(m.to)) {
      probed.add(m.to); // let the first probe through: it is rejected, which makes S1 back up
      return false;
    }
    return true;
  };
  r(1).becomeFollower(r(1).term, None); // S1 restarts: same log and hard state
  hup(n, 1); // term 2: S3 and S4 already voted for S5
  hup(n, 1); // term 3
  expect(r(1).state).toBe(StateType.Leader);
  expect(r(1).term).toBe(3);
  expect([r(3).raftLog.termOrUndefined(2), r(4).raftLog.termOrUndefined(2)]).toEqual([1, 1]);
  expect(r(3).raftLog.lastIndex()).toBe(2);
  // The old-term entry is on 3 of 5 nodes, yet S1 must not count it as committed.
  expect(r(1).raftLog.committed).toBe(1);
  const s1Committed = r(1).raftLog.committed;
  const s1Terms = Array.from({ length: s1Committed }, (_, i) => r(1).raftLog.term(i + 1));
  // (d) S1 is gone again; S5 wins term 4 (its last term 2 beats their 1) and overwrites entry 2.
  n.recover();
  n.isolate(1);
  r(5).becomeFollower(r(5).term, None); // S5 restarts
  hup(n, 5); // term 3: S3 and S4 already voted for S1
  hup(n, 5); // term 4
  expect(r(5).state).toBe(StateType.Leader);
  n.send(newMessage({ type: MessageType.MsgProp, from: 5, to: 5, entries: [newEntry({ data: bytes('new') })] }));
  for (const id of [2, 3, 4]) expect(r(id).raftLog.termOrUndefined(2)).toBe(2);
  expect(r(5).raftLog.committed).toBeGreaterThanOrEqual(3);
  // Whatever S1 had reported committed is still what the cluster committed.
  s1Terms.forEach((t, i) => expect(r(5).raftLog.term(i + 1)).toBe(t));
});

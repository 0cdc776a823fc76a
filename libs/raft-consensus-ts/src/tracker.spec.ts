import { Inflights, Progress, ProgressStateType, VoteResult, jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult } from './tracker';

const acked = (m: Record<number, number>) => (id: number) => m[id];

describe('quorum', () => {
  test('majority committed index is the highest index acknowledged by a majority', () => {
    expect(majorityCommittedIndex(new Set(), acked({}))).toBe(Infinity);
    expect(majorityCommittedIndex(new Set([1]), acked({ 1: 5 }))).toBe(5);
    expect(majorityCommittedIndex(new Set([1, 2, 3]), acked({ 1: 5, 2: 3, 3: 9 }))).toBe(5);
    expect(majorityCommittedIndex(new Set([1, 2, 3]), acked({ 1: 5 }))).toBe(0);
    expect(majorityCommittedIndex(new Set([1, 2, 3, 4]), acked({ 1: 5, 2: 4, 3: 3, 4: 2 }))).toBe(3);
  });

  test('joint committed index is the minimum of both halves', () => {
    const c: [Set<number>, Set<number>] = [new Set([1, 2, 3]), new Set([3, 4, 5])];
    expect(jointCommittedIndex(c, acked({ 1: 9, 2: 9, 3: 2, 4: 2, 5: 1 }))).toBe(2);
    expect(jointCommittedIndex([new Set([1, 2, 3]), new Set()], acked({ 1: 9, 2: 9, 3: 2 }))).toBe(9);
  });

  test('vote results', () => {
    const v = (m: Record<number, boolean>) => new Map(Object.entries(m).map(([k, b]) => [Number(k), b]));
    const three = new Set([1, 2, 3]);
    expect(majorityVoteResult(new Set(), v({}))).toBe(VoteResult.VoteWon);
    expect(majorityVoteResult(three, v({ 1: true, 2: true }))).toBe(VoteResult.VoteWon);
    expect(majorityVoteResult(three, v({ 1: true }))).toBe(VoteResult.VotePending);
    expect(majorityVoteResult(three, v({ 1: true, 2: false, 3: false }))).toBe(VoteResult.VoteLost);
    // joint: must win both
    expect(jointVoteResult([three, new Set([3, 4, 5])], v({ 1: true, 2: true, 3: false, 4: false }))).toBe(VoteResult.VoteLost);
    expect(jointVoteResult([three, new Set([3, 4, 5])], v({ 1: true, 2: true, 4: true }))).toBe(VoteResult.VotePending);
    expect(jointVoteResult([three, new Set([3, 4, 5])], v({ 1: true, 2: true, 4: true, 5: true }))).toBe(VoteResult.VoteWon);
  });
});

describe('Inflights', () => {
  test('bounded by count, freed up to an index, wraps around', () => {
    const in1 = new Inflights(4);
    for (let i = 1; i <= 4; i++) in1.add(i * 10, 1);
    expect(in1.full()).toBe(true);
    expect(() => in1.add(50, 1)).toThrow();
    in1.freeLE(25);
    expect(in1.count()).toBe(2);
    in1.add(50, 1);
    in1.add(60, 1);
    expect(in1.full()).toBe(true);
    in1.freeLE(55);
    expect(in1.count()).toBe(1);
    in1.freeLE(5); // nothing below the first
    expect(in1.count()).toBe(1);
    in1.freeLE(100);
    expect(in1.count()).toBe(0);
  });

  test('bounded by bytes', () => {
    const in1 = new Inflights(100, 1000);
    in1.add(1, 600);
    expect(in1.full()).toBe(false);
    in1.add(2, 400);
    expect(in1.full()).toBe(true);
    in1.freeLE(1);
    expect(in1.bytes()).toBe(400);
    expect(in1.full()).toBe(false);
  });
});

describe('Progress', () => {
  const mk = () => new Progress(5, new Inflights(2), false);

  test('probe pauses after one append until acknowledged', () => {
    const p = mk();
    expect(p.isPaused()).toBe(false);
    p.sentEntries(1, 10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(5)).toBe(true);
    expect(p.isPaused()).toBe(false);
    expect(p.maybeUpdate(4)).toBe(false); // stale
  });

  test('maybeDecrTo: stale rejections are ignored; probe jumps to the hint', () => {
    const p = mk();
    p.match = 2;
    p.next = 9;
    expect(p.maybeDecrTo(7, 3)).toBe(false); // not the last sent index
    expect(p.maybeDecrTo(8, 3)).toBe(true);
    expect(p.next).toBe(4);
    p.becomeReplicate();
    p.next = 9;
    expect(p.maybeDecrTo(2, 0)).toBe(false); // already matched
    expect(p.maybeDecrTo(6, 0)).toBe(true);
    expect(p.next).toBe(3);
  });

  test('snapshot state pauses; becoming probe resumes after the snapshot', () => {
    const p = mk();
    p.becomeSnapshot(20);
    expect(p.state).toBe(ProgressStateType.Snapshot);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(21);
  });
});

import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors';
import { MemoryStorage } from './storage';
import { Entry, emptyConfState, newEntry } from './types';

function ents(...idTerm: [number, number][]): Entry[] {
  return idTerm.map(([index, term]) => newEntry({ index, term }));
}

/** storage holding entries 4..6 (4 is the compaction placeholder) */
function storage345(): MemoryStorage {
  const s = new MemoryStorage();
  s.append(ents([1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6]));
  s.createSnapshot(3, emptyConfState(), new Uint8Array());
  s.compact(3);
  return s;
}

describe('MemoryStorage', () => {
  test('term, firstIndex, lastIndex around the compaction point', () => {
    const s = storage345();
    expect(s.firstIndex()).toBe(4);
    expect(s.lastIndex()).toBe(6);
    expect(s.term(3)).toBe(3);
    expect(s.term(6)).toBe(6);
    expect(() => s.term(2)).toThrow(ErrCompacted);
    expect(() => s.term(7)).toThrow(ErrUnavailable);
  });

  test('entries honours bounds and the size limit (always at least one entry)', () => {
    const s = storage345();
    expect(() => s.entries(3, 5, Infinity)).toThrow(ErrCompacted);
    expect(s.entries(4, 7, Infinity).map((e) => e.index)).toEqual([4, 5, 6]);
    expect(s.entries(4, 7, 0).map((e) => e.index)).toEqual([4]);
    expect(s.entries(4, 7, 12).map((e) => e.index)).toEqual([4, 5]);
    expect(() => s.entries(4, 8, Infinity)).toThrow(RangeError);
  });

  test('append truncates a conflicting tail, ignores compacted entries, refuses gaps', () => {
    const s = storage345();
    s.append(ents([5, 9]));
    expect(s.lastIndex()).toBe(5);
    expect(s.term(5)).toBe(9);
    s.append(ents([2, 2], [3, 3], [4, 4], [5, 9], [6, 9]));
    expect(s.lastIndex()).toBe(6);
    expect(s.term(4)).toBe(4);
    expect(() => s.append(ents([8, 9]))).toThrow(/missing log entry/);
  });

  test('compact and createSnapshot refuse stale indexes', () => {
    const s = storage345();
    expect(() => s.compact(3)).toThrow(ErrCompacted);
    expect(() => s.createSnapshot(3, undefined, new Uint8Array())).toThrow(ErrSnapOutOfDate);
    const snap = s.createSnapshot(5, { ...emptyConfState(), voters: [1] }, new Uint8Array([1]));
    expect(snap.metadata).toEqual({ index: 5, term: 5, confState: { ...emptyConfState(), voters: [1] } });
    s.compact(5);
    expect(s.firstIndex()).toBe(6);
    expect(() => s.compact(7)).toThrow(RangeError);
  });

  test('applySnapshot replaces the log; an older snapshot is refused', () => {
    const s = storage345();
    s.applySnapshot({ data: new Uint8Array([7]), metadata: { index: 10, term: 4, confState: emptyConfState() } });
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(4);
    expect(() => s.applySnapshot({ data: new Uint8Array(), metadata: { index: 9, term: 4, confState: emptyConfState() } })).toThrow(ErrSnapOutOfDate);
  });

  test('save() = snapshot, then entries, then hard state; clone() is independent', () => {
    const s = new MemoryStorage();
    s.save({ term: 2, vote: 1, commit: 2 }, ents([1, 1], [2, 2]), undefined, true);
    const c = s.clone();
    s.save({ term: 3, vote: 0, commit: 3 }, ents([3, 3]), undefined, true);
    expect(c.lastIndex()).toBe(2);
    expect(c.initialState().hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    expect(s.initialState().hardState).toEqual({ term: 3, vote: 0, commit: 3 });
  });
});

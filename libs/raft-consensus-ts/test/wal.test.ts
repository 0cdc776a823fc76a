// Durable storage: recovery after crashes mid-write, corruption detection,
// snapshots and log truncation.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrCorruptLog } from '../src/errors';
import { WalStorage } from '../src/wal/wal-storage';
import { Entry, HardState, emptyConfState, newEntry } from '../src/types';

const enc = new TextEncoder();
let dirs: string[] = [];

function tmpdir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'raft-wal-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function ents(from: number, n: number, term: number, tag = 'v'): Entry[] {
  return Array.from({ length: n }, (_, i) => newEntry({ index: from + i, term, data: enc.encode(`${tag}${from + i}`) }));
}

/** Everything observable about a storage, for comparisons. */
function state(s: WalStorage) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  return {
    hs: s.initialState().hardState,
    first,
    last,
    snap: { ...s.snapshot().metadata, data: Buffer.from(s.snapshot().data).toString() },
    entries: last >= first ? s.entries(first, last + 1, Infinity).map((e) => `${e.index}/${e.term}:${Buffer.from(e.data).toString()}`) : [],
  };
}

function lastSegment(s: WalStorage): string {
  const files = s.segmentFiles();
  return files[files.length - 1];
}

test('recovers entries and hard state after a restart', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir);
  s.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1), undefined, true);
  s.save({ term: 1, vote: 1, commit: 3 }, [], undefined, false);
  s.save({ term: 2, vote: 2, commit: 3 }, ents(4, 2, 2), undefined, true);
  const want = state(s);
  s.close();
  const r = WalStorage.open(dir);
  expect(state(r)).toEqual(want);
  expect(want.last).toBe(5);
  expect(want.hs).toEqual({ term: 2, vote: 2, commit: 3 });
  r.close();
});

test('a conflicting append replaces the tail, also after recovery', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir);
  s.save({ term: 1, vote: 1, commit: 2 }, ents(1, 10, 1), undefined, true);
  s.save({ term: 3, vote: 0, commit: 2 }, ents(5, 3, 3, 'w'), undefined, true);
  expect(s.lastIndex()).toBe(7);
  const want = state(s);
  s.close();
  const r = WalStorage.open(dir);
  expect(state(r)).toEqual(want);
  expect(r.term(5)).toBe(3);
  expect(r.term(4)).toBe(1);
  r.close();
});

test('fsync happens exactly when the Ready says mustSync', () => {
  const s = WalStorage.open(tmpdir());
  const before = s.stats.fsyncs;
  s.save({ term: 1, vote: 0, commit: 1 }, [], undefined, false);
  expect(s.stats.fsyncs).toBe(before);
  s.save(undefined, ents(1, 1, 1), undefined, true);
  expect(s.stats.fsyncs).toBe(before + 1);
  s.close();
});

test('a hard state that only moves the commit index is written with the next record, not on its own', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir);
  s.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1), undefined, true);
  const writes = s.stats.writes;
  s.save({ term: 1, vote: 1, commit: 3 }, [], undefined, false);
  expect(s.stats.writes).toBe(writes); // nothing written...
  expect(s.initialState().hardState.commit).toBe(3); // ...but raft reads it back
  // A crash now (the WAL as another process would find it) loses only the commit index.
  let crashed = WalStorage.open(dir, { fsync: false });
  expect(crashed.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 0 });
  expect(crashed.lastIndex()).toBe(3);
  crashed.close();
  // The next entries carry it to disk, even without a hard state of their own.
  s.save(undefined, ents(4, 1, 1), undefined, true);
  expect(s.stats.writes).toBe(writes + 1);
  crashed = WalStorage.open(dir, { fsync: false });
  expect(crashed.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 3 });
  crashed.close();
  // A new term or vote is written at once, commit index and all.
  s.save({ term: 1, vote: 1, commit: 4 }, [], undefined, false);
  s.save({ term: 2, vote: 0, commit: 4 }, [], undefined, true);
  expect(s.stats.writes).toBe(writes + 2);
  crashed = WalStorage.open(dir, { fsync: false });
  expect(crashed.initialState().hardState).toEqual({ term: 2, vote: 0, commit: 4 });
  crashed.close();
  // close() writes a pending commit index.
  s.save({ term: 2, vote: 0, commit: 4 }, ents(5, 1, 2), undefined, true);
  s.save({ term: 2, vote: 0, commit: 5 }, [], undefined, false);
  s.close();
  const r = WalStorage.open(dir);
  expect(r.initialState().hardState).toEqual({ term: 2, vote: 0, commit: 5 });
  expect(r.lastIndex()).toBe(5);
  r.close();
});

test('a rotated segment starts with the hard state already on disk, never a commit index beyond its entries', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { segmentSize: 64, fsync: false });
  s.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1), undefined, true);
  // The segment is full: this write rotates first. Its entries and commit
  // index go to the new segment after the header, which names commit 0.
  s.save({ term: 1, vote: 1, commit: 6 }, ents(4, 3, 1), undefined, true);
  expect(s.stats.rotations).toBe(1);
  const files = s.segmentFiles();
  s.close();
  // Crash right after the rotation: the new segment holds only its header.
  const last = files[files.length - 1];
  const headerOnly = fs.readFileSync(last).subarray(0, 8 + 1 + 6);
  fs.writeFileSync(last, headerOnly);
  const r = WalStorage.open(dir, { fsync: false });
  expect(r.initialState().hardState).toEqual({ term: 1, vote: 1, commit: 0 });
  expect(r.lastIndex()).toBe(3);
  r.close();
});

test('saveAsync writes the same records, syncs only when asked, and they survive a restart', async () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir);
  const before = s.stats.fsyncs;
  await s.saveAsync({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1), undefined, true);
  expect(s.stats.fsyncs).toBe(before + 1);
  await s.saveAsync({ term: 1, vote: 1, commit: 3 }, [], undefined, false);
  expect(s.stats.fsyncs).toBe(before + 1);
  s.save({ term: 2, vote: 2, commit: 3 }, ents(4, 2, 2), undefined, true); // sync and async writes mix
  const want = state(s);
  s.close();
  const r = WalStorage.open(dir);
  expect(state(r)).toEqual(want);
  expect(want.last).toBe(5);
  r.close();
});

test('kill during a write: a torn last record is truncated at every byte offset, and the log stays usable', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  s.save({ term: 1, vote: 1, commit: 0 }, ents(1, 5, 1), undefined, true);
  s.save({ term: 1, vote: 1, commit: 5 }, ents(6, 2, 1), undefined, true);
  const before = state(s);
  const seg = lastSegment(s);
  const lastStart = fs.statSync(seg).size;
  // the write that gets torn: entries + hard state in one write
  s.save({ term: 2, vote: 3, commit: 7 }, ents(8, 3, 2, 'torn'), undefined, true);
  const after = state(s);
  s.close();
  const full = fs.readFileSync(seg);
  expect(full.length).toBeGreaterThan(lastStart + 30);

  for (let cut = lastStart; cut < full.length; cut++) {
    fs.writeFileSync(seg, full.subarray(0, cut));
    const r = WalStorage.open(dir, { fsync: false });
    const st = state(r);
    // Either the whole torn write is gone, or (cut after the entries record,
    // inside the hard state record) just the hard state is lost.
    if (st.last === before.last) {
      expect(st).toEqual(before);
    } else {
      expect(st.entries).toEqual(after.entries);
      expect(st.hs).toEqual(before.hs);
    }
    // the file was cut back to a record boundary
    const size = fs.statSync(seg).size;
    expect(size).toBeLessThanOrEqual(cut);
    // and the storage keeps working: append, restart, read back
    r.save({ term: 5, vote: 0, commit: st.hs.commit }, ents(st.last + 1, 1, 5, 'new'), undefined, true);
    r.close();
    const again = WalStorage.open(dir, { fsync: false });
    expect(again.lastIndex()).toBe(st.last + 1);
    expect(Buffer.from(again.entries(st.last + 1, st.last + 2, Infinity)[0].data).toString()).toBe(`new${st.last + 1}`);
    again.close();
  }
  // the untouched file recovers everything
  fs.writeFileSync(seg, full);
  const r = WalStorage.open(dir, { fsync: false });
  expect(state(r)).toEqual(after);
  r.close();
});

test('zeroed bytes after the last record (pre-allocated tail) count as a torn tail', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  s.save({ term: 1, vote: 1, commit: 2 }, ents(1, 2, 1), undefined, true);
  const want = state(s);
  const seg = lastSegment(s);
  s.close();
  fs.appendFileSync(seg, Buffer.alloc(100));
  const r = WalStorage.open(dir, { fsync: false });
  expect(state(r)).toEqual(want);
  r.close();
});

test('a corrupted byte in a middle record is refused with the file and offset, whichever byte it is', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  const seg = lastSegment(s);
  s.save({ term: 1, vote: 1, commit: 0 }, ents(1, 3, 1), undefined, true);
  const midStart = fs.statSync(seg).size;
  s.save(undefined, ents(4, 3, 1, 'middle'), undefined, true);
  const midEnd = fs.statSync(seg).size;
  s.save({ term: 1, vote: 1, commit: 6 }, ents(7, 2, 1), undefined, true);
  s.close();
  const full = fs.readFileSync(seg);
  for (let pos = midStart; pos < midEnd; pos++) {
    const bad = Buffer.from(full);
    bad[pos] ^= 0x5a;
    fs.writeFileSync(seg, bad);
    let err: unknown;
    try {
      WalStorage.open(dir, { fsync: false }).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ErrCorruptLog);
    const ce = err as ErrCorruptLog;
    expect(ce.file).toBe(seg);
    expect(ce.offset).toBe(midStart);
    expect(ce.message).toContain(`${seg} at offset ${midStart}`);
    // nothing was truncated
    expect(fs.readFileSync(seg).length).toBe(full.length);
  }
});

test('a corrupted last record is a torn tail: dropped, earlier records kept', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  const seg = lastSegment(s);
  s.save({ term: 1, vote: 1, commit: 2 }, ents(1, 2, 1), undefined, true);
  const want = state(s);
  const start = fs.statSync(seg).size;
  s.save(undefined, ents(3, 1, 1), undefined, true);
  s.close();
  const bad = fs.readFileSync(seg);
  bad[start + 12] ^= 0xff;
  fs.writeFileSync(seg, bad);
  const r = WalStorage.open(dir, { fsync: false });
  expect(state(r)).toEqual(want);
  r.close();
});

test('damage at the end of a segment that is not the last one is corruption, not a torn write', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false, segmentSize: 200 });
  for (let i = 1; i <= 40; i++) s.save({ term: 1, vote: 1, commit: i - 1 }, ents(i, 1, 1), undefined, true);
  const files = s.segmentFiles();
  expect(files.length).toBeGreaterThan(3);
  s.close();
  const first = fs.readFileSync(files[0]);
  fs.writeFileSync(files[0], first.subarray(0, first.length - 3));
  expect(() => WalStorage.open(dir, { fsync: false })).toThrow(ErrCorruptLog);
  expect(() => WalStorage.open(dir, { fsync: false })).toThrow(files[0]);
});

test('segments rotate at the configured size and recovery reads them all in order', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { segmentSize: 256, fsync: false });
  let hs: HardState = { term: 1, vote: 1, commit: 0 };
  for (let i = 1; i <= 50; i++) {
    hs = { term: 1 + Math.floor(i / 20), vote: 1, commit: i - 1 };
    s.save(hs, ents(i, 1, hs.term), undefined, true);
  }
  expect(s.stats.rotations).toBeGreaterThan(5);
  const want = state(s);
  s.close();
  const r = WalStorage.open(dir, { fsync: false });
  expect(state(r)).toEqual(want);
  r.close();
});

test('snapshot + compaction deletes obsolete segments and old snapshots; recovery starts from the snapshot', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { segmentSize: 300 });
  for (let i = 1; i <= 60; i++) s.save({ term: 2, vote: 1, commit: i }, ents(i, 1, 2), undefined, i % 10 === 0);
  const segsBefore = s.segmentFiles().length;
  s.createSnapshot(20, { ...emptyConfState(), voters: [1, 2, 3] }, enc.encode('state@20'));
  s.compact(20);
  s.createSnapshot(45, { ...emptyConfState(), voters: [1, 2, 3] }, enc.encode('state@45'));
  s.compact(40);
  const segsAfter = s.segmentFiles();
  expect(segsAfter.length).toBeLessThan(segsBefore);
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.wal'))) expect(segsAfter).toContain(path.join(dir, f));
  const snaps = fs.readdirSync(dir).filter((n) => n.endsWith('.snap'));
  expect(snaps).toEqual([`${(45).toString(16).padStart(16, '0')}-${(2).toString(16).padStart(16, '0')}.snap`]);
  expect(s.firstIndex()).toBe(41);
  s.save({ term: 3, vote: 2, commit: 60 }, ents(61, 2, 3), undefined, true);
  s.close();

  const r = WalStorage.open(dir);
  // after a restart the log starts right after the snapshot file
  expect(r.snapshot().metadata.index).toBe(45);
  expect(Buffer.from(r.snapshot().data).toString()).toBe('state@45');
  expect(r.snapshot().metadata.confState.voters).toEqual([1, 2, 3]);
  expect(r.firstIndex()).toBe(46);
  expect(r.lastIndex()).toBe(62);
  expect(r.entries(46, 63, Infinity).map((e) => e.index)).toEqual(Array.from({ length: 17 }, (_, i) => 46 + i));
  expect(r.initialState().hardState).toEqual({ term: 3, vote: 2, commit: 60 });
  r.close();
});

test('a snapshot received from the leader replaces the log and survives a restart', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir);
  s.save({ term: 1, vote: 1, commit: 3 }, ents(1, 5, 1), undefined, true);
  const snap = { data: enc.encode('leader state'), metadata: { index: 100, term: 4, confState: { ...emptyConfState(), voters: [1, 2, 3] } } };
  s.save({ term: 4, vote: 0, commit: 100 }, [], snap, false);
  s.save({ term: 4, vote: 0, commit: 101 }, ents(101, 2, 4), undefined, true);
  expect(s.firstIndex()).toBe(101);
  s.close();
  const r = WalStorage.open(dir);
  expect(r.snapshot().metadata.index).toBe(100);
  expect(Buffer.from(r.snapshot().data).toString()).toBe('leader state');
  expect(r.firstIndex()).toBe(101);
  expect(r.lastIndex()).toBe(102);
  expect(r.term(100)).toBe(4);
  expect(r.initialState().hardState.commit).toBe(101);
  r.close();
});

test('a corrupted snapshot file is refused; an interrupted snapshot write (.tmp) is ignored', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  s.save({ term: 1, vote: 1, commit: 5 }, ents(1, 5, 1), undefined, true);
  s.createSnapshot(3, emptyConfState(), enc.encode('snap'));
  s.close();
  fs.writeFileSync(path.join(dir, 'ffffffffffffffff-0000000000000001.snap.tmp'), 'partial');
  const ok = WalStorage.open(dir, { fsync: false });
  expect(ok.snapshot().metadata.index).toBe(3);
  ok.close();
  expect(fs.readdirSync(dir).some((n) => n.endsWith('.tmp'))).toBe(false);
  const snapFile = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.snap'))!);
  const b = fs.readFileSync(snapFile);
  b[b.length - 1] ^= 1;
  fs.writeFileSync(snapFile, b);
  expect(() => WalStorage.open(dir, { fsync: false })).toThrow(/snapshot file .* fails its checksum/);
});

test('works as raft Storage: terms and entries around the snapshot boundary', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { fsync: false });
  s.save({ term: 2, vote: 1, commit: 10 }, ents(1, 10, 2), undefined, true);
  s.createSnapshot(6, emptyConfState(), enc.encode('x'));
  s.compact(6);
  expect(s.term(6)).toBe(2);
  expect(() => s.term(5)).toThrow('requested index is unavailable due to compaction');
  expect(() => s.entries(6, 8, Infinity)).toThrow('requested index is unavailable due to compaction');
  expect(s.entries(7, 11, Infinity)).toHaveLength(4);
  s.close();
});

test('a torn header of a freshly rotated segment is rewritten, so purging older segments keeps term and vote', () => {
  const dir = tmpdir();
  const s = WalStorage.open(dir, { segmentSize: 150, fsync: false });
  for (let i = 1; i <= 12; i++) s.save({ term: 7, vote: 3, commit: i - 1 }, ents(i, 1, 7), undefined, true);
  const files = s.segmentFiles();
  expect(files.length).toBeGreaterThan(2);
  const want = state(s);
  s.close();
  // crash while writing the last segment's header record
  const last = files[files.length - 1];
  const lastBytes = fs.readFileSync(last);
  const otherEntries = want.entries.length;
  fs.writeFileSync(last, lastBytes.subarray(0, 4));
  const r = WalStorage.open(dir, { segmentSize: 150, fsync: false });
  expect(r.initialState().hardState.term).toBe(7);
  expect(r.initialState().hardState.vote).toBe(3);
  // snapshot and compact everything: only the (repaired) last segment remains
  const lastIndex = r.lastIndex();
  expect(lastIndex).toBeLessThanOrEqual(otherEntries);
  r.createSnapshot(lastIndex, emptyConfState(), enc.encode('s'));
  r.compact(lastIndex);
  expect(r.segmentFiles()).toEqual([last]);
  r.close();
  const again = WalStorage.open(dir, { fsync: false });
  expect(again.initialState().hardState.term).toBe(7);
  expect(again.initialState().hardState.vote).toBe(3);
  again.close();
});

import { ErrCompacted, ErrSnapOutOfDate, ErrUnavailable } from './errors';
import {
  ConfState,
  Entry,
  HardState,
  Snapshot,
  emptyConfState,
  emptyHardState,
  emptySnapshot,
  entrySize,
  isEmptyHardState,
  isEmptySnap,
  newEntry,
} from './types';

/**
 * Read access to the stable (persisted) part of the raft log, as raft sees it.
 * Methods throw ErrCompacted / ErrUnavailable as documented; any other error
 * is treated as fatal by raft.
 */
export interface Storage {
  /** The saved HardState and ConfState, read once when raft starts. */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries in [lo, hi), limited to maxSize bytes in total but always at
   * least one entry if any are in range.
   * @throws ErrCompacted if lo is at or before the snapshot index.
   */
  entries(lo: number, hi: number, maxSize: number): Entry[];
  /**
   * Term of entry i, for i in [firstIndex()-1, lastIndex()] (the term of the
   * snapshot's last entry is kept).
   */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  /** The most recent snapshot. Throws ErrSnapshotTemporarilyUnavailable if not ready yet. */
  snapshot(): Snapshot;
}

/**
 * Storage that the Node driver writes Ready contents into. Both MemoryStorage
 * and the durable WalStorage implement it.
 */
export interface PersistentStorage extends Storage {
  /**
   * Persists, in this order, a snapshot received from the leader, the new
   * entries (replacing any conflicting tail) and the hard state; it must be
   * durable on return when mustSync is true.
   */
  save(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, mustSync: boolean): void;
  /**
   * Optional: the same as save, resolving once durable, without blocking the
   * event loop while the disk syncs. The Node driver prefers it when present.
   */
  saveAsync?(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, mustSync: boolean): Promise<void>;
  /** Records an application snapshot at index (<= applied) and returns it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot;
  /** Drops log entries up to and including index (which must be <= applied). */
  compact(index: number): void;
}

/**
 * An in-memory Storage. ents[0] is a placeholder holding the index and term of
 * the last compacted entry (or of the snapshot).
 */
export class MemoryStorage implements PersistentStorage {
  private hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  private ents: Entry[] = [newEntry()];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: { ...this.hardState }, confState: this.snap.metadata.confState };
  }

  setHardState(hs: HardState): void {
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /**
   * Sets the configuration of a brand-new, empty storage (how a new cluster is
   * bootstrapped: every member starts with the same voter list).
   */
  setInitialConfState(cs: ConfState): void {
    if (this.lastIndex() !== 0 || this.snap.metadata.index !== 0) {
      throw new Error('setInitialConfState: storage is not empty');
    }
    this.snap = { data: this.snap.data, metadata: { index: 0, term: 0, confState: cs } };
  }

  getHardState(): HardState {
    return { ...this.hardState };
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new ErrCompacted();
    if (hi > this.lastIndex() + 1) {
      throw new RangeError(`entries' hi(${hi}) is out of bound lastindex(${this.lastIndex()})`);
    }
    if (this.ents.length === 1) throw new ErrUnavailable();
    const start = lo - offset;
    const end = hi - offset;
    if (maxSize === Infinity) return this.ents.slice(start, end);
    let size = 0;
    let i = start;
    for (; i < end; i++) {
      size += entrySize(this.ents[i]);
      if (size > maxSize && i > start) break;
    }
    return this.ents.slice(start, i);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new ErrCompacted();
    if (i - offset >= this.ents.length) throw new ErrUnavailable();
    return this.ents[i - offset].term;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the contents of this storage with the snapshot. */
  applySnapshot(snap: Snapshot): void {
    const idx = this.snap.metadata.index;
    if (idx >= snap.metadata.index) throw new ErrSnapOutOfDate();
    this.snap = snap;
    this.ents = [newEntry({ term: snap.metadata.term, index: snap.metadata.index })];
  }

  /**
   * Records a snapshot at index i (which must be within the log) and returns
   * it. Entries are not discarded; call compact() for that.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) throw new ErrSnapOutOfDate();
    const offset = this.ents[0].index;
    if (i > this.lastIndex()) {
      throw new RangeError(`snapshot ${i} is out of bound lastindex(${this.lastIndex()})`);
    }
    this.snap = {
      data,
      metadata: { index: i, term: this.ents[i - offset].term, confState: cs ?? this.snap.metadata.confState },
    };
    return this.snap;
  }

  /** Discards all entries up to and including compactIndex. */
  compact(compactIndex: number): void {
    const offset = this.ents[0].index;
    if (compactIndex <= offset) throw new ErrCompacted();
    if (compactIndex > this.lastIndex()) {
      throw new RangeError(`compact ${compactIndex} is out of bound lastindex(${this.lastIndex()})`);
    }
    const i = compactIndex - offset;
    const head = newEntry({ index: this.ents[i].index, term: this.ents[i].term });
    this.ents = [head, ...this.ents.slice(i + 1)];
  }

  /**
   * Appends entries, which must be contiguous; entries before the first index
   * are ignored and a conflicting tail is replaced.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = entries[0].index + entries.length - 1;
    if (last < first) return;
    if (first > entries[0].index) entries = entries.slice(first - entries[0].index);
    const offset = entries[0].index - this.ents[0].index;
    if (offset > this.ents.length) {
      throw new RangeError(`missing log entry [last: ${this.lastIndex()}, append at: ${entries[0].index}]`);
    }
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of entries) this.ents.push(e);
  }

  save(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, _mustSync: boolean): void {
    if (snapshot && !isEmptySnap(snapshot)) this.applySnapshot(snapshot);
    this.append(entries);
    if (hardState && !isEmptyHardState(hardState)) this.setHardState(hardState);
  }

  /** A deep-enough copy, for modelling "what was persisted" at a point in time. */
  clone(): MemoryStorage {
    const c = new MemoryStorage();
    c.hardState = { ...this.hardState };
    c.snap = this.snap;
    c.ents = this.ents.slice();
    return c;
  }
}

/** Builds a MemoryStorage whose initial ConfState has the given voters (for bootstrapping). */
export function newMemoryStorageWithPeers(voters: number[], learners: number[] = []): MemoryStorage {
  const s = new MemoryStorage();
  const cs = emptyConfState();
  cs.voters = voters.slice();
  cs.learners = learners.slice();
  s.setInitialConfState(cs);
  return s;
}

// The raft log: a stable prefix held by Storage plus an unstable suffix (and
// possibly an incoming snapshot) that the application has not persisted yet.

import { ErrCompacted, ErrUnavailable } from './errors';
import { Logger } from './logger';
import { Storage } from './storage';
import { Entry, Snapshot, entriesSize, limitSize } from './types';

/** Entries (and a snapshot) not yet written to Storage. */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of entries[0]. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot ? this.snapshot.metadata.index + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot) return this.snapshot.metadata.index;
    return undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const k = i - this.offset;
    if (k >= this.entries.length) {
      if (this.entries.length === 0 && this.snapshot && this.snapshot.metadata.index === i) {
        return this.snapshot.metadata.term;
      }
      return undefined;
    }
    return this.entries[k].term;
  }

  /** Entries up to (i, t) were persisted; drop them unless they were replaced meanwhile. */
  stableTo(i: number, t: number): void {
    if (i < this.offset) return;
    const k = i - this.offset;
    if (k >= this.entries.length || this.entries[k].term !== t) return;
    this.entries = this.entries.slice(k + 1);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.metadata.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: Entry[]): void {
    const from = ents[0].index;
    if (from === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (from <= this.offset) {
      // Replace the unstable entries entirely (the stable log gets truncated on save).
      this.offset = from;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, from - this.offset);
      for (const e of ents) this.entries.push(e);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    if (lo < this.offset || hi > this.offset + this.entries.length) {
      throw new RangeError(`unstable.slice[${lo},${hi}) out of bound [${this.offset},${this.offset + this.entries.length}]`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known to be committed by a quorum. */
  committed: number;
  /** Highest index handed to the application in a Ready (not yet acknowledged by advance). */
  applying: number;
  /** Highest index the application has applied. */
  applied: number;

  constructor(
    readonly storage: Storage,
    readonly logger: Logger,
    /** Cap on the byte size of committed entries handed out in one Ready. */
    readonly maxNextCommittedSize: number = Infinity,
  ) {
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1);
    this.committed = firstIndex - 1;
    this.applying = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.entries)=${this.unstable.entries.length}`;
  }

  /**
   * Appends entries after (prevIndex, prevTerm) if that entry matches, deleting
   * a conflicting suffix. Returns the index of the last new entry, or
   * undefined when the previous entry does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, committed: number, ents: Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        throw new Error(`entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      }
      const offset = prevIndex + 1;
      this.append(ci - offset === 0 ? ents : ents.slice(ci - offset));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = ents[0].index - 1;
    if (after < this.committed) {
      throw new Error(`after(${after}) is out of range [committed(${this.committed})]`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * First index among ents whose term differs from ours (or which we lack);
   * 0 if every entry is already present with the same term.
   */
  findConflict(ents: Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) {
        if (e.index <= this.lastIndex()) {
          this.logger.info(
            `found conflict at index ${e.index} [existing term: ${this.zeroTermOnOutOfBounds(e.index)}, conflicting term: ${e.term}]`,
          );
        }
        return e.index;
      }
    }
    return 0;
  }

  /**
   * Largest index <= index whose term is <= term (or which is compacted), with
   * its term. Lets the leader skip over a whole term of conflicting entries.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    for (; index > 0; index--) {
      const t = this.termOrUndefined(index);
      if (t === undefined) return [index, 0];
      if (t <= term) return [index, t];
    }
    return [0, 0];
  }

  /** Unstable entries to persist. */
  nextUnstableEnts(): Entry[] {
    return this.unstable.entries;
  }

  hasNextUnstableEnts(): boolean {
    return this.unstable.entries.length > 0;
  }

  hasNextUnstableSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  /** Committed entries not yet handed to the application. */
  nextCommittedEnts(): Entry[] {
    if (this.unstable.snapshot) return [];
    const lo = this.applying + 1;
    const hi = this.committed + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxNextCommittedSize);
  }

  hasNextCommittedEnts(): boolean {
    if (this.unstable.snapshot) return false;
    return this.applying < this.committed;
  }

  snapshot(): Snapshot {
    if (this.unstable.snapshot) return this.unstable.snapshot;
    return this.storage.snapshot();
  }

  firstIndex(): number {
    const i = this.unstable.maybeFirstIndex();
    return i !== undefined ? i : this.storage.firstIndex();
  }

  lastIndex(): number {
    const i = this.unstable.maybeLastIndex();
    return i !== undefined ? i : this.storage.lastIndex();
  }

  commitTo(toCommit: number): void {
    if (this.committed < toCommit) {
      if (this.lastIndex() < toCommit) {
        throw new Error(
          `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`,
        );
      }
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (this.committed < i || i < this.applied) {
      throw new Error(`applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    }
    this.applied = i;
    if (this.applying < i) this.applying = i;
  }

  acceptApplying(i: number): void {
    this.applying = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const t = this.termOrUndefined(this.lastIndex());
    if (t === undefined) throw new Error(`unexpected error when getting the last term at ${this.lastIndex()}`);
    return t;
  }

  /** Term of entry i, or undefined if it is compacted or beyond the last index. */
  termOrUndefined(i: number): number | undefined {
    const ut = this.unstable.maybeTerm(i);
    if (ut !== undefined) return ut;
    // The valid range is [dummy index, last index].
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    try {
      return this.storage.term(i);
    } catch (err) {
      if (err instanceof ErrCompacted || err instanceof ErrUnavailable) return undefined;
      throw err;
    }
  }

  /** Term of entry i; throws ErrCompacted or ErrUnavailable when out of range. */
  term(i: number): number {
    const t = this.termOrUndefined(i);
    if (t !== undefined) return t;
    if (i < this.firstIndex() - 1) throw new ErrCompacted();
    throw new ErrUnavailable();
  }

  zeroTermOnOutOfBounds(i: number): number {
    return this.termOrUndefined(i) ?? 0;
  }

  /** Entries from i to the end, limited to maxSize bytes. Throws ErrCompacted. */
  entries(i: number, maxSize: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSize);
  }

  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Infinity);
  }

  /** Whether a candidate with last entry (lasti, term) is at least as up to date as us. */
  isUpToDate(lasti: number, term: number): boolean {
    const lt = this.lastTerm();
    return term > lt || (term === lt && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  /** Commits maxIndex if the entry there has the given (current) term. */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.zeroTermOnOutOfBounds(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.logger.info(`log [${this.toString()}] starts to restore snapshot [index: ${s.metadata.index}, term: ${s.metadata.term}]`);
    this.committed = s.metadata.index;
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi) limited to maxSize bytes (at least one). Throws ErrCompacted. */
  slice(lo: number, hi: number, maxSize: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    const uoff = this.unstable.offset;
    if (lo >= uoff) {
      return limitSize(this.unstable.slice(lo, hi), maxSize);
    }
    const cut = Math.min(hi, uoff);
    let ents: Entry[];
    try {
      ents = this.storage.entries(lo, cut, maxSize);
    } catch (err) {
      if (err instanceof ErrCompacted) throw err;
      if (err instanceof ErrUnavailable) throw new Error(`entries[${lo}:${cut}) is unavailable from storage`);
      throw err;
    }
    if (hi <= uoff) return ents;
    // Storage returned fewer entries than asked: the size limit was reached.
    if (ents.length < cut - lo) return ents;
    const size = entriesSize(ents);
    if (size >= maxSize) return ents;
    const rest = limitSize(this.unstable.slice(uoff, hi), maxSize - size);
    if (rest.length === 1 && size + entriesSize(rest) > maxSize) return ents;
    return ents.concat(rest);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (lo > hi) throw new Error(`invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new ErrCompacted();
    const li = this.lastIndex();
    if (hi > li + 1) throw new Error(`slice[${lo},${hi}) out of bound [${fi},${li}]`);
  }
}

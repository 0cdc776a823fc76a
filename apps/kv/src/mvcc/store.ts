import zlib from 'node:zlib';
import type { KeyValue } from '@kubets/proto/etcd/mvccpb/kv';
import BTree from 'sorted-btree';
import { CompactedError, FutureRevisionError } from './errors';

/**
 * The multi-version key-value store behind kubets-kv, with etcd's semantics:
 *
 * - One global revision: every write transaction that changes something
 *   increments the main revision by one; the changes inside it are numbered
 *   by sub-revision 0, 1, ...
 * - Per key: create_revision, mod_revision and version (writes since the key
 *   was created; a delete ends the key's generation).
 * - History is kept until compaction: reads at a past revision, and watch
 *   events from a past revision, are served from it.
 *
 * Keys are byte strings; internally they are "latin1" JS strings (one char per
 * byte), whose natural order is bytewise order. Stored values are immutable
 * mvccpb.KeyValue objects, shared by reads, events and snapshots.
 *
 * The store is a deterministic state machine: it is only changed by applying
 * Raft-committed entries, so every member holds the same history.
 */

/** A range of keys: one key (end null), [key, end), or every key >= key (end ''). */
export interface KeyRange {
  key: string;
  end: string | null;
}

const EMPTY = Buffer.alloc(0);
/** Greater than every key: keys are latin1 strings (chars <= 0xff). */
const AFTER_ALL_KEYS = '\u0100';

export function keyString(bytes: Uint8Array): string {
  return Buffer.isBuffer(bytes) ? bytes.toString('latin1') : Buffer.from(bytes).toString('latin1');
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/**
 * etcd's range convention: an empty range_end is one key; "\0" means every
 * key >= key (and key "\0" with it means every key).
 */
export function toKeyRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  const k = keyString(key);
  if (!rangeEnd || rangeEnd.length === 0) return { key: k, end: null };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { key: k, end: '' };
  return { key: k, end: keyString(rangeEnd) };
}

export function inRange(range: KeyRange, key: string): boolean {
  if (range.end === null) return key === range.key;
  return key >= range.key && (range.end === '' || key < range.end);
}

/** One kept revision of a key: a put (kv) or a tombstone (kv null). */
interface KeyRevision {
  main: number;
  sub: number;
  kv: KeyValue | null;
}

/** Every kept revision of one key, oldest first. */
class KeyIndex {
  readonly revisions: KeyRevision[] = [];

  /** The live value at `rev`, or undefined if absent or deleted then. */
  at(rev: number): KeyValue | undefined {
    const revs = this.revisions;
    // Fast path: reads at the current revision look at the newest entry.
    const last = revs[revs.length - 1];
    if (last !== undefined && last.main <= rev) return last.kv ?? undefined;
    let lo = 0;
    let hi = revs.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (revs[mid]!.main <= rev) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? undefined : (revs[found]!.kv ?? undefined);
  }

  latest(): KeyValue | undefined {
    const last = this.revisions[this.revisions.length - 1];
    return last?.kv ?? undefined;
  }
}

/** A change, as watchers see it. */
export interface MvccEvent {
  type: 'put' | 'delete';
  /** For a delete: key and modRevision only (etcd's tombstone shape). */
  kv: KeyValue;
  /** The value before this change, if the key was live. */
  prevKv: KeyValue | undefined;
  main: number;
  sub: number;
}

export interface RangeOptions {
  /** Read at this revision; <= 0 means the current one. */
  rev?: number;
  /** Stop collecting after this many (count still covers the whole range). */
  limit?: number;
  /** Count only: collect nothing. */
  countOnly?: boolean;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** Live keys in the range at the revision. */
  count: number;
  /** The revision the range was read at. */
  rev: number;
}

/** One revision as stored in a snapshot. */
export interface SnapshotRevision {
  main: number;
  sub: number;
  tombstone: boolean;
  kv: KeyValue;
}

export type CommitListener = (events: MvccEvent[], rev: number) => void;

export class MvccStore {
  private readonly index = new BTree<string, KeyIndex>();
  private currentRevValue = 1;
  private compactRevValue = -1;
  /** Changes in revision order since the last compaction, for watchers. */
  private log: MvccEvent[] = [];
  private logStart = 0;
  private readonly listeners = new Set<CommitListener>();
  private bytes = 0;

  /** Approximate bytes held by kept revisions (keys, values, per-revision overhead): the space quota's measure. */
  get approxBytes(): number {
    return this.bytes;
  }

  /** The current (last committed) revision. A new store is at revision 1, like etcd. */
  get currentRev(): number {
    return this.currentRevValue;
  }

  /** The last compaction revision, or -1 if never compacted. */
  get compactRev(): number {
    return this.compactRevValue;
  }

  /** Number of keys with kept history (live or with tombstones not yet compacted). */
  get indexedKeys(): number {
    return this.index.size;
  }

  /** Called after every write transaction that changed something. */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private checkRev(rev: number | undefined): number {
    if (rev === undefined || rev <= 0) return this.currentRevValue;
    if (rev > this.currentRevValue) throw new FutureRevisionError();
    if (rev < this.compactRevValue) throw new CompactedError();
    return rev;
  }

  /** Live keys in `range` at a revision, in key order. */
  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    const rev = this.checkRev(options.rev);
    return this.rangeAt(range, rev, options, undefined);
  }

  /** `pending` overlays a write transaction's uncommitted changes. */
  rangeAt(range: KeyRange, rev: number, options: RangeOptions, pending: Map<string, KeyValue | null> | undefined): RangeResult {
    const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
    const kvs: KeyValue[] = [];
    let count = 0;
    const visit = (key: string, ki: KeyIndex | undefined) => {
      let kv: KeyValue | undefined;
      if (pending?.has(key)) kv = pending.get(key) ?? undefined;
      else kv = ki?.at(rev);
      if (!kv) return;
      count++;
      if (!options.countOnly && kvs.length < limit) kvs.push(kv);
    };
    if (range.end === null) {
      visit(range.key, this.index.get(range.key));
    } else if (range.end === '' || range.end > range.key) {
      const pendingKeys = pending ? [...pending.keys()].filter((k) => inRange(range, k) && !this.index.has(k)).sort() : [];
      if (pendingKeys.length === 0) {
        this.index.forRange(range.key, range.end === '' ? AFTER_ALL_KEYS : range.end, false, (key, ki) => {
          visit(key, ki);
        });
      } else {
        // Merge index keys with keys created inside the pending transaction, in order.
        const keys: string[] = [];
        this.index.forRange(range.key, range.end === '' ? AFTER_ALL_KEYS : range.end, false, (key) => {
          keys.push(key);
        });
        const merged = [...keys, ...pendingKeys].sort();
        for (const key of merged) visit(key, this.index.get(key));
      }
    }
    return { kvs, count, rev };
  }

  /** Start a write transaction. Changes become visible (and a revision is used) at end(). */
  write(): WriteTxn {
    return new WriteTxn(this);
  }

  /** Commit a transaction's changes: one new main revision if anything changed. */
  commit(changes: MvccEvent[]): number {
    if (changes.length === 0) return this.currentRevValue;
    const main = this.currentRevValue + 1;
    for (const event of changes) {
      const key = keyString(event.kv.key);
      let ki = this.index.get(key);
      if (!ki) {
        ki = new KeyIndex();
        this.index.set(key, ki);
      }
      ki.revisions.push({ main, sub: event.sub, kv: event.type === 'put' ? event.kv : null });
      this.bytes += revisionBytes(event.kv);
      this.log.push(event);
    }
    this.currentRevValue = main;
    for (const listener of this.listeners) listener(changes, main);
    return main;
  }

  /** Drop history before `rev` (reads below it fail as compacted). */
  compact(rev: number): void {
    if (rev <= this.compactRevValue) throw new CompactedError();
    if (rev > this.currentRevValue) throw new FutureRevisionError();
    const emptied: string[] = [];
    this.index.forEachPair((key, ki) => {
      const revs = ki.revisions;
      let i = -1;
      for (let j = revs.length - 1; j >= 0; j--) {
        if (revs[j]!.main <= rev) {
          i = j;
          break;
        }
      }
      if (i < 0) return;
      // Keep the newest revision <= rev when it is a live value; a tombstone ends the generation.
      const drop = revs[i]!.kv === null ? i + 1 : i;
      if (drop > 0) {
        for (const r of revs.splice(0, drop)) this.bytes -= revisionBytes(r.kv ?? undefined, key.length);
      }
      if (revs.length === 0) emptied.push(key);
    });
    for (const key of emptied) this.index.delete(key);
    // Trim the event log: events below rev are no longer served.
    let cut = this.logStart;
    while (cut < this.log.length && this.log[cut]!.main < rev) cut++;
    this.logStart = cut;
    if (this.logStart > 4096 && this.logStart > this.log.length / 2) {
      this.log = this.log.slice(this.logStart);
      this.logStart = 0;
    }
    this.compactRevValue = rev;
  }

  /**
   * Events with main revision >= `fromRev` (and <= the current revision), in
   * order, whose key `match` accepts; at most `limit`. Throws CompactedError
   * when `fromRev` is below the compaction revision.
   */
  eventsSince(fromRev: number, match: (key: string) => boolean, limit = Infinity): MvccEvent[] {
    if (fromRev < this.compactRevValue) throw new CompactedError();
    const out: MvccEvent[] = [];
    let lo = this.logStart;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid]!.main < fromRev) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.log.length && out.length < limit; i++) {
      const event = this.log[i]!;
      if (match(keyString(event.kv.key))) out.push(event);
    }
    return out;
  }

  /**
   * A hash of every kept revision <= `rev` (0: current), equal on members
   * that applied the same history.
   */
  hashKV(rev = 0): { hash: number; rev: number; compactRev: number } {
    const at = this.checkRev(rev);
    let hash = 0;
    const header = Buffer.alloc(16);
    this.index.forEachPair((key, ki) => {
      for (const r of ki.revisions) {
        if (r.main > at) break;
        header.writeUInt32BE(Math.floor(r.main / 2 ** 32), 0);
        header.writeUInt32BE(r.main >>> 0, 4);
        header.writeUInt32BE(r.sub, 8);
        header.writeUInt32BE(r.kv ? 1 : 0, 12);
        hash = zlib.crc32(header, hash);
        hash = zlib.crc32(Buffer.from(key, 'latin1'), hash);
        if (r.kv) hash = zlib.crc32(r.kv.value, hash);
      }
    });
    return { hash: hash >>> 0, rev: at, compactRev: this.compactRevValue };
  }

  /** Every kept revision in revision order, for snapshots. */
  exportRevisions(): SnapshotRevision[] {
    const out: SnapshotRevision[] = [];
    this.index.forEachPair((_key, ki) => {
      for (const r of ki.revisions) {
        out.push({
          main: r.main,
          sub: r.sub,
          tombstone: r.kv === null,
          kv: r.kv ?? tombstoneKv(keyBytes(_key), r.main),
        });
      }
    });
    out.sort((a, b) => a.main - b.main || a.sub - b.sub);
    return out;
  }

  /**
   * Replace the whole state with a snapshot's. `currentRev` defaults to the
   * newest revision (or the compaction revision when that is newer).
   */
  importRevisions(revisions: SnapshotRevision[], compactRev: number, currentRev?: number): void {
    this.index.clear();
    this.log = [];
    this.logStart = 0;
    this.bytes = 0;
    const sorted = [...revisions].sort((a, b) => a.main - b.main || a.sub - b.sub);
    let maxRev = 1;
    const last = new Map<string, KeyValue | undefined>();
    for (const r of sorted) {
      const key = keyString(r.kv.key);
      let ki = this.index.get(key);
      if (!ki) {
        ki = new KeyIndex();
        this.index.set(key, ki);
      }
      ki.revisions.push({ main: r.main, sub: r.sub, kv: r.tombstone ? null : r.kv });
      this.bytes += revisionBytes(r.tombstone ? undefined : r.kv, key.length);
      const prev = last.get(key);
      // Rebuild the watch log from what the snapshot holds (above the compaction revision).
      this.log.push({
        type: r.tombstone ? 'delete' : 'put',
        kv: r.tombstone ? tombstoneKv(r.kv.key, r.main) : r.kv,
        prevKv: prev,
        main: r.main,
        sub: r.sub,
      });
      last.set(key, r.tombstone ? undefined : r.kv);
      if (r.main > maxRev) maxRev = r.main;
    }
    this.compactRevValue = compactRev;
    this.currentRevValue = Math.max(currentRev ?? 0, maxRev, compactRev, 1);
  }
}

const REVISION_OVERHEAD = 64;

/** What one kept revision costs towards the quota (a tombstone: its key and the overhead). */
function revisionBytes(kv: KeyValue | undefined, keyLength = kv?.key.length ?? 0): number {
  return REVISION_OVERHEAD + keyLength + (kv ? kv.value.length : 0);
}

export function tombstoneKv(key: Uint8Array, main: number): KeyValue {
  return {
    key: Buffer.isBuffer(key) ? key : Buffer.from(key),
    createRevision: 0n,
    modRevision: BigInt(main),
    version: 0n,
    value: EMPTY,
    lease: 0n,
  };
}

/**
 * A write transaction: puts and deletes are staged (visible to this
 * transaction's own ranges) and committed together at end() under one new
 * revision.
 */
export class WriteTxn {
  private readonly changes: MvccEvent[] = [];
  /** Staged state per key: the new value, or null when deleted here. */
  private readonly pending = new Map<string, KeyValue | null>();
  private readonly main: number;
  private ended = false;

  constructor(private readonly store: MvccStore) {
    this.main = store.currentRev + 1;
  }

  /** The revision reads in this transaction see, and the one it will commit (if it changes anything). */
  get rev(): number {
    return this.changes.length > 0 ? this.main : this.store.currentRev;
  }

  get changed(): boolean {
    return this.changes.length > 0;
  }

  private current(key: string): KeyValue | undefined {
    if (this.pending.has(key)) return this.pending.get(key) ?? undefined;
    return this.store.range({ key, end: null }).kvs[0];
  }

  /** Reads see this transaction's own writes. Past revisions read the committed store. */
  range(range: KeyRange, options: RangeOptions = {}): RangeResult {
    if (options.rev !== undefined && options.rev > 0 && options.rev <= this.store.currentRev) {
      return this.store.range(range, options);
    }
    if (options.rev !== undefined && options.rev > this.store.currentRev) throw new FutureRevisionError();
    const result = this.store.rangeAt(range, this.store.currentRev, options, this.pending);
    return { ...result, rev: this.rev };
  }

  put(key: Buffer, value: Buffer, lease: bigint): KeyValue {
    const k = keyString(key);
    const prev = this.current(k);
    const kv: KeyValue = {
      key,
      createRevision: prev ? prev.createRevision : BigInt(this.main),
      modRevision: BigInt(this.main),
      version: prev ? prev.version + 1n : 1n,
      value,
      lease,
    };
    this.changes.push({ type: 'put', kv, prevKv: prev, main: this.main, sub: this.changes.length });
    this.pending.set(k, kv);
    return kv;
  }

  /** Delete every live key in the range; returns what was deleted. */
  deleteRange(range: KeyRange): KeyValue[] {
    const live = this.range(range).kvs;
    for (const prev of live) {
      const k = keyString(prev.key);
      this.changes.push({
        type: 'delete',
        kv: tombstoneKv(prev.key, this.main),
        prevKv: prev,
        main: this.main,
        sub: this.changes.length,
      });
      this.pending.set(k, null);
    }
    return live;
  }

  /** Commit; returns the store's revision afterwards. */
  end(): number {
    if (this.ended) throw new Error('transaction already ended');
    this.ended = true;
    return this.store.commit(this.changes);
  }

  /** The staged changes (for lease bookkeeping before commit). */
  get staged(): readonly MvccEvent[] {
    return this.changes;
  }
}

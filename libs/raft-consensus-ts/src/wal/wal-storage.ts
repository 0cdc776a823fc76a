// Durable Storage: an in-memory view of the log (a MemoryStorage) backed by a
// write-ahead log of CRC-checked records in segment files, plus snapshot files.
//
// Directory layout:
//   <16 hex seq>.wal                 WAL segments, replayed in order
//   <16 hex index>-<16 hex term>.snap   the newest snapshot (older ones are deleted)
//
// Every segment starts with a HardState record, so whole segments older than
// the newest snapshot can be deleted without losing the term and vote.
//
// Recovery: load the newest snapshot file, then replay all segments. An
// incomplete or checksum-failing record at the very end of the last segment is
// a torn write from a crash: it is truncated away. A damaged record with valid
// data after it, or in any segment but the last, is corruption: open() throws
// ErrCorruptLog naming the file and offset.
//
// Hard states that only move the commit index are not written on their own:
// raft does not need the commit index durable (a restarted member learns it
// again from the leader, and recovery accepts a commit index that lags), so
// such a hard state waits for the next record that has to be written anyway
// (entries, a snapshot, a new term or vote) or for close(). That saves every
// member one write per committed proposal.
//
// save() does its I/O synchronously; saveAsync() runs the fdatasync on
// libuv's thread pool.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeEntries, decodeHardState, decodeSnapshot, encodeEntries, encodeHardState, encodeSnapshot, DecodeError } from '../codec';
import { ErrCorruptLog, ErrSnapOutOfDate } from '../errors';
import { Logger, noopLogger } from '../logger';
import { MemoryStorage, PersistentStorage } from '../storage';
import { ConfState, Entry, HardState, Snapshot, emptyConfState, isEmptyHardState, isEmptySnap } from '../types';
import { RecordType, frameRecord, hasValidRecordAfter, parseRecord } from './record';

export interface WalStorageOptions {
  /** Rotate to a new segment once the current one reaches this size. Default 64 MiB. */
  segmentSize?: number;
  /** fsync when asked to (mustSync) and on snapshot/segment creation. Default true; false only for tests/benchmarks. */
  fsync?: boolean;
  logger?: Logger;
}

interface Segment {
  seq: number;
  file: string;
  /** Highest entry index written to this segment (0 if none). */
  maxIndex: number;
}

const SEG_RE = /^([0-9a-f]{16})\.wal$/;
const SNAP_RE = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;
const hex16 = (n: number) => n.toString(16).padStart(16, '0');

export class WalStorage implements PersistentStorage {
  private readonly mem: MemoryStorage;
  private readonly segments: Segment[];
  private fd: number;
  private size: number;
  private readonly segmentSize: number;
  private readonly fsync: boolean;
  private readonly logger: Logger;
  /** Index of the newest snapshot file (0 if none). */
  private snapFileIndex: number;
  private closed = false;
  /** The newest hard state written to the WAL (or replayed from it). */
  private diskHardState: HardState;
  /** A newer hard state that differs from diskHardState only in its commit index: written with the next record. */
  private pendingHardState: HardState | undefined;
  /** Counters, for tests and benchmarks. */
  readonly stats = { writes: 0, bytes: 0, fsyncs: 0, rotations: 0 };

  private constructor(
    readonly dir: string,
    mem: MemoryStorage,
    segments: Segment[],
    fd: number,
    size: number,
    snapFileIndex: number,
    opts: WalStorageOptions,
  ) {
    this.mem = mem;
    this.segments = segments;
    this.fd = fd;
    this.size = size;
    this.snapFileIndex = snapFileIndex;
    this.segmentSize = opts.segmentSize ?? 64 * 1024 * 1024;
    this.fsync = opts.fsync ?? true;
    this.logger = opts.logger ?? noopLogger;
    this.diskHardState = mem.getHardState();
  }

  /** Opens (creating if needed) the storage in dir and recovers its state. */
  static open(dir: string, opts: WalStorageOptions = {}): WalStorage {
    const logger = opts.logger ?? noopLogger;
    const doSync = opts.fsync ?? true;
    fs.mkdirSync(dir, { recursive: true });
    const names = fs.readdirSync(dir);
    for (const n of names) {
      // leftovers of an interrupted atomic write
      if (n.endsWith('.tmp')) fs.rmSync(path.join(dir, n), { force: true });
    }
    const mem = new MemoryStorage();

    // 1. the newest snapshot
    const snaps = names.filter((n) => SNAP_RE.test(n)).sort();
    let snapFileIndex = 0;
    if (snaps.length > 0) {
      const file = path.join(dir, snaps[snaps.length - 1]);
      const snap = readSnapshotFile(file);
      mem.applySnapshot(snap);
      snapFileIndex = snap.metadata.index;
    }

    // 2. replay the segments
    const segNames = names.filter((n) => SEG_RE.test(n)).sort();
    const segments: Segment[] = [];
    for (let i = 0; i < segNames.length; i++) {
      const file = path.join(dir, segNames[i]);
      const seq = parseInt(SEG_RE.exec(segNames[i])![1], 16);
      const isLast = i === segNames.length - 1;
      const maxIndex = replaySegment(file, isLast, mem, logger, doSync);
      segments.push({ seq, file, maxIndex });
    }

    // The commit index can never be below the snapshot (it may lag in the
    // WAL because commit-only updates are not forced to disk).
    const hs = mem.getHardState();
    const snapIndex = mem.snapshot().metadata.index;
    if (hs.commit < snapIndex) mem.setHardState({ ...hs, commit: snapIndex });
    if (hs.commit > mem.lastIndex()) {
      throw new ErrCorruptLog(`WAL in ${dir}: hard state commit ${hs.commit} is beyond the last entry ${mem.lastIndex()}`);
    }

    // 3. open the last segment for appending, or start the first one
    let fd: number;
    let size: number;
    if (segments.length === 0) {
      const seg: Segment = { seq: 1, file: path.join(dir, `${hex16(1)}.wal`), maxIndex: 0 };
      fd = fs.openSync(seg.file, 'a');
      const header = frameRecord(RecordType.HardState, encodeHardState(mem.getHardState()));
      fs.writeSync(fd, header);
      if (doSync) {
        fs.fdatasyncSync(fd);
        fsyncDir(dir);
      }
      size = header.length;
      segments.push(seg);
    } else {
      const last = segments[segments.length - 1];
      fd = fs.openSync(last.file, 'a');
      size = fs.fstatSync(fd).size;
      if (size === 0) {
        // A crash tore the header of a freshly rotated segment. Every segment
        // must start with the hard state, or deleting older segments would
        // lose term and vote.
        const header = frameRecord(RecordType.HardState, encodeHardState(mem.getHardState()));
        writeAll(fd, header);
        if (doSync) fs.fdatasyncSync(fd);
        size = header.length;
      }
    }
    logger.info(
      `wal: opened ${dir} [segments: ${segments.length}, snapshot: ${snapIndex}, first: ${mem.firstIndex()}, last: ${mem.lastIndex()}, hardstate: ${JSON.stringify(mem.getHardState())}]`,
    );
    return new WalStorage(dir, mem, segments, fd, size, snapFileIndex, opts);
  }

  // ------------------------------------------------------------ Storage

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.mem.initialState();
  }

  entries(lo: number, hi: number, maxSize: number): Entry[] {
    return this.mem.entries(lo, hi, maxSize);
  }

  term(i: number): number {
    return this.mem.term(i);
  }

  lastIndex(): number {
    return this.mem.lastIndex();
  }

  firstIndex(): number {
    return this.mem.firstIndex();
  }

  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  hardState(): HardState {
    return this.mem.getHardState();
  }

  // ------------------------------------------------------------ writing

  save(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, mustSync: boolean): void {
    if (this.write(hardState, entries, snapshot, mustSync)) {
      fs.fdatasyncSync(this.fd);
      this.stats.fsyncs++;
    }
  }

  /**
   * Like save(), but the fdatasync runs on libuv's thread pool: the event loop
   * keeps serving the network while the disk syncs. Resolves once durable.
   * The caller must not start another write before it resolves (the Node
   * driver handles one Ready at a time).
   */
  async saveAsync(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, mustSync: boolean): Promise<void> {
    if (!this.write(hardState, entries, snapshot, mustSync)) return;
    const fd = this.fd;
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    this.stats.fsyncs++;
  }

  /** Append the records; returns whether they must be synced before they count as durable. */
  private write(hardState: HardState | undefined, entries: Entry[], snapshot: Snapshot | undefined, mustSync: boolean): boolean {
    this.checkOpen();
    // Rotate before anything of this write reaches the disk: the new
    // segment's header is the hard state as of the records already written,
    // so it never names a commit index beyond them.
    if (this.size >= this.segmentSize) this.rotate();
    const chunks: Buffer[] = [];
    let maxIndex = 0;
    if (snapshot && !isEmptySnap(snapshot)) {
      // The data goes to its own file first; the WAL records that the log
      // restarts after it.
      this.writeSnapshotFile(snapshot);
      this.mem.applySnapshot(snapshot);
      chunks.push(frameRecord(RecordType.Snapshot, encodeSnapshot({ data: new Uint8Array(0), metadata: snapshot.metadata })));
      mustSync = true;
    }
    if (entries.length > 0) {
      this.mem.append(entries);
      chunks.push(frameRecord(RecordType.Entries, encodeEntries(entries)));
      maxIndex = entries[entries.length - 1].index;
    }
    let hs: HardState | undefined;
    if (hardState && !isEmptyHardState(hardState)) {
      this.mem.setHardState(hardState);
      hs = hardState;
      const disk = this.diskHardState;
      if (chunks.length === 0 && !mustSync && hs.term === disk.term && hs.vote === disk.vote) {
        // Only the commit index moved: no write of its own (see the top of the file).
        this.pendingHardState = hs;
        return false;
      }
    } else if (chunks.length > 0) {
      hs = this.pendingHardState;
    }
    if (hs) {
      chunks.push(frameRecord(RecordType.HardState, encodeHardState(hs)));
      this.diskHardState = hs;
      this.pendingHardState = undefined;
    }
    if (chunks.length === 0) return false;
    const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    writeAll(this.fd, buf);
    this.size += buf.length;
    this.stats.writes++;
    this.stats.bytes += buf.length;
    const seg = this.segments[this.segments.length - 1];
    if (maxIndex > seg.maxIndex) seg.maxIndex = maxIndex;
    return mustSync && this.fsync;
  }

  /**
   * Writes an application snapshot of the state at `index` (<= applied) to a
   * snapshot file and returns it. Entries are kept until compact().
   */
  createSnapshot(index: number, confState: ConfState | undefined, data: Uint8Array): Snapshot {
    this.checkOpen();
    if (index <= this.mem.snapshot().metadata.index) throw new ErrSnapOutOfDate();
    const snap = this.mem.createSnapshot(index, confState ?? this.mem.snapshot().metadata.confState ?? emptyConfState(), data);
    this.writeSnapshotFile(snap);
    return snap;
  }

  /**
   * Drops entries up to index from memory, and deletes WAL segments and
   * snapshot files made obsolete by the newest snapshot file.
   */
  compact(index: number): void {
    this.checkOpen();
    this.mem.compact(index);
    this.purge();
  }

  /** Closes the current segment (after writing a pending commit index, and an fsync). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pendingHardState) {
      const rec = frameRecord(RecordType.HardState, encodeHardState(this.pendingHardState));
      writeAll(this.fd, rec);
      this.size += rec.length;
      this.diskHardState = this.pendingHardState;
      this.pendingHardState = undefined;
    }
    if (this.fsync) fs.fdatasyncSync(this.fd);
    fs.closeSync(this.fd);
  }

  /** Segment files currently in use, oldest first (for tests and tools). */
  segmentFiles(): string[] {
    return this.segments.map((s) => s.file);
  }

  // ------------------------------------------------------------ internals

  private checkOpen(): void {
    if (this.closed) throw new Error('wal storage is closed');
  }

  private rotate(): void {
    if (this.fsync) fs.fdatasyncSync(this.fd);
    fs.closeSync(this.fd);
    const seq = this.segments[this.segments.length - 1].seq + 1;
    const seg: Segment = { seq, file: path.join(this.dir, `${hex16(seq)}.wal`), maxIndex: 0 };
    this.fd = fs.openSync(seg.file, 'a');
    const hs = this.mem.getHardState();
    const header = frameRecord(RecordType.HardState, encodeHardState(hs));
    writeAll(this.fd, header);
    if (this.fsync) {
      fs.fdatasyncSync(this.fd);
      fsyncDir(this.dir);
    }
    this.diskHardState = hs;
    this.pendingHardState = undefined;
    this.size = header.length;
    this.segments.push(seg);
    this.stats.rotations++;
    this.logger.debug(`wal: rotated to segment ${seg.file}`);
  }

  private writeSnapshotFile(snap: Snapshot): void {
    const name = `${hex16(snap.metadata.index)}-${hex16(snap.metadata.term)}.snap`;
    const payload = encodeSnapshot(snap);
    const header = Buffer.allocUnsafe(8);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(crc32(payload), 4);
    const tmp = path.join(this.dir, `${name}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, header);
      writeAll(fd, payload);
      if (this.fsync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path.join(this.dir, name));
    if (this.fsync) fsyncDir(this.dir);
    this.snapFileIndex = Math.max(this.snapFileIndex, snap.metadata.index);
  }

  private purge(): void {
    // Whole segments before the first one that may still hold entries after
    // the newest snapshot file. The current segment is never deleted.
    let removed = 0;
    while (this.segments.length > 1 && this.segments[0].maxIndex <= this.snapFileIndex) {
      const seg = this.segments.shift()!;
      fs.rmSync(seg.file, { force: true });
      removed++;
    }
    const snaps = fs.readdirSync(this.dir).filter((n) => SNAP_RE.test(n)).sort();
    for (const n of snaps.slice(0, -1)) fs.rmSync(path.join(this.dir, n), { force: true });
    if (removed > 0 || snaps.length > 1) {
      if (this.fsync) fsyncDir(this.dir);
      this.logger.debug(`wal: purged ${removed} segment(s) and ${Math.max(0, snaps.length - 1)} snapshot(s) up to ${this.snapFileIndex}`);
    }
  }
}

function writeAll(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readSnapshotFile(file: string): Snapshot {
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new ErrCorruptLog(`snapshot file ${file} is truncated`, file, 0);
  const len = buf.readUInt32LE(0);
  const crc = buf.readUInt32LE(4);
  if (buf.length !== 8 + len) throw new ErrCorruptLog(`snapshot file ${file} has length ${buf.length}, expected ${8 + len}`, file, 0);
  const payload = buf.subarray(8);
  if (crc32(payload) !== crc) throw new ErrCorruptLog(`snapshot file ${file} fails its checksum`, file, 0);
  try {
    return decodeSnapshot(payload);
  } catch (err) {
    throw new ErrCorruptLog(`snapshot file ${file} cannot be decoded: ${(err as Error).message}`, file, 8);
  }
}

/** Replays one segment into mem. Returns the highest entry index it holds. */
function replaySegment(file: string, isLast: boolean, mem: MemoryStorage, logger: Logger, doSync: boolean): number {
  const buf = fs.readFileSync(file);
  let off = 0;
  let maxIndex = 0;
  while (off < buf.length) {
    const res = parseRecord(buf, off);
    if (!res.ok) {
      const tornTail = isLast && !hasValidRecordAfter(buf, off + 1);
      if (!tornTail) {
        throw new ErrCorruptLog(`corrupt WAL record in ${file} at offset ${off}: ${res.reason}`, file, off);
      }
      // The last write was interrupted by a crash: it was never acknowledged
      // (it was not synced), so dropping it is safe.
      logger.warn(`wal: truncating torn record at ${file}:${off} (${res.reason}, ${buf.length - off} bytes)`);
      fs.truncateSync(file, off);
      if (doSync) {
        const fd = fs.openSync(file, 'r+');
        try {
          fs.fdatasyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
      break;
    }
    const rec = res.record;
    try {
      switch (rec.type) {
        case RecordType.Entries: {
          const ents = decodeEntries(rec.payload);
          if (ents.length > 0) {
            mem.append(ents);
            maxIndex = Math.max(maxIndex, ents[ents.length - 1].index);
          }
          break;
        }
        case RecordType.HardState:
          mem.setHardState(decodeHardState(rec.payload));
          break;
        case RecordType.Snapshot: {
          const md = decodeSnapshot(rec.payload).metadata;
          const have = mem.snapshot().metadata.index;
          if (md.index > have) {
            throw new ErrCorruptLog(`WAL ${file} at offset ${off} refers to snapshot ${md.index} but the newest snapshot file is ${have}`, file, off);
          }
          break;
        }
      }
    } catch (err) {
      if (err instanceof ErrCorruptLog) throw err;
      if (err instanceof DecodeError || err instanceof RangeError) {
        throw new ErrCorruptLog(`invalid WAL record in ${file} at offset ${off}: ${(err as Error).message}`, file, off);
      }
      throw err;
    }
    off = rec.end;
  }
  return maxIndex;
}

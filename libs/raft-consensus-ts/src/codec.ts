// Protobuf wire encoding of the raftpb messages, written by hand (no dependency).
//
// Field numbers are those of etcd-io/raft's raftpb/raft.proto (proto2), so the
// bytes interoperate with Go peers and tools. Encoding style follows the gogo
// generated code etcd v3.5 used: fields in field-number order, scalar fields
// always written (zero included), optional bytes written only when non-empty,
// repeated uint64 unpacked (proto2 default). Message.snapshot is written only
// when present (as newer etcd does). Decoders accept both packed and unpacked
// repeated scalars and skip unknown fields.
//
// Numbers are JS numbers: decoding a varint above Number.MAX_SAFE_INTEGER throws.

import {
  ConfChange,
  ConfChangeSingle,
  ConfChangeTransition,
  ConfChangeType,
  ConfChangeV2,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  Snapshot,
  SnapshotMetadata,
  emptyConfState,
} from './types';

const EMPTY = new Uint8Array(0);

export class DecodeError extends Error {
  constructor(message: string) {
    super(`raft codec: ${message}`);
    this.name = 'DecodeError';
  }
}

// ---------------------------------------------------------------- sizes

function vlen(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  v = Math.floor(v / 0x800000000);
  while (v > 0) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** key (1 byte for fields < 16) + varint */
function uvSize(v: number): number {
  return 1 + vlen(v);
}

function bytesSize(len: number): number {
  return 1 + vlen(len) + len;
}

function entryBodySize(e: Entry): number {
  let n = uvSize(e.type) + uvSize(e.term) + uvSize(e.index);
  if (e.data.length > 0) n += bytesSize(e.data.length);
  return n;
}

function confStateBodySize(cs: ConfState): number {
  let n = 2; // auto_leave
  for (const v of cs.voters) n += uvSize(v);
  for (const v of cs.learners) n += uvSize(v);
  for (const v of cs.votersOutgoing) n += uvSize(v);
  for (const v of cs.learnersNext) n += uvSize(v);
  return n;
}

function metadataBodySize(md: SnapshotMetadata): number {
  return bytesSize(confStateBodySize(md.confState)) + uvSize(md.index) + uvSize(md.term);
}

function snapshotBodySize(s: Snapshot): number {
  let n = bytesSize(metadataBodySize(s.metadata));
  if (s.data.length > 0) n += bytesSize(s.data.length);
  return n;
}

function messageBodySize(m: Message): number {
  let n =
    uvSize(m.type) +
    uvSize(m.to) +
    uvSize(m.from) +
    uvSize(m.term) +
    uvSize(m.logTerm) +
    uvSize(m.index) +
    uvSize(m.commit) +
    2 + // reject
    uvSize(m.rejectHint);
  for (const e of m.entries) n += bytesSize(entryBodySize(e));
  if (m.snapshot) n += bytesSize(snapshotBodySize(m.snapshot));
  if (m.context && m.context.length > 0) n += bytesSize(m.context.length);
  return n;
}

// ---------------------------------------------------------------- writer

class Writer {
  readonly buf: Uint8Array;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }
  varint(v: number): void {
    const buf = this.buf;
    let pos = this.pos;
    if (v < 0 || !Number.isSafeInteger(v)) throw new RangeError(`raft codec: cannot encode ${v} as uint64`);
    while (v > 0x7fffffff) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }
  uv(field: number, v: number): void {
    this.buf[this.pos++] = field << 3;
    this.varint(v);
  }
  bool(field: number, v: boolean): void {
    this.buf[this.pos++] = field << 3;
    this.buf[this.pos++] = v ? 1 : 0;
  }
  lenPrefix(field: number, len: number): void {
    this.buf[this.pos++] = (field << 3) | 2;
    this.varint(len);
  }
  bytes(field: number, b: Uint8Array): void {
    this.lenPrefix(field, b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

function writeEntry(w: Writer, e: Entry): void {
  w.uv(1, e.type);
  w.uv(2, e.term);
  w.uv(3, e.index);
  if (e.data.length > 0) w.bytes(4, e.data);
}

function writeConfState(w: Writer, cs: ConfState): void {
  for (const v of cs.voters) w.uv(1, v);
  for (const v of cs.learners) w.uv(2, v);
  for (const v of cs.votersOutgoing) w.uv(3, v);
  for (const v of cs.learnersNext) w.uv(4, v);
  w.bool(5, cs.autoLeave);
}

function writeMetadata(w: Writer, md: SnapshotMetadata): void {
  w.lenPrefix(1, confStateBodySize(md.confState));
  writeConfState(w, md.confState);
  w.uv(2, md.index);
  w.uv(3, md.term);
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  if (s.data.length > 0) w.bytes(1, s.data);
  w.lenPrefix(2, metadataBodySize(s.metadata));
  writeMetadata(w, s.metadata);
}

function writeMessage(w: Writer, m: Message): void {
  w.uv(1, m.type);
  w.uv(2, m.to);
  w.uv(3, m.from);
  w.uv(4, m.term);
  w.uv(5, m.logTerm);
  w.uv(6, m.index);
  for (const e of m.entries) {
    w.lenPrefix(7, entryBodySize(e));
    writeEntry(w, e);
  }
  w.uv(8, m.commit);
  if (m.snapshot) {
    w.lenPrefix(9, snapshotBodySize(m.snapshot));
    writeSnapshot(w, m.snapshot);
  }
  w.bool(10, m.reject);
  w.uv(11, m.rejectHint);
  if (m.context && m.context.length > 0) w.bytes(12, m.context);
}

// ---------------------------------------------------------------- reader

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new DecodeError('truncated varint');
      const b = buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) throw new DecodeError(`varint ${result} exceeds 2^53-1`);
        return result;
      }
      mul *= 128;
    }
    throw new DecodeError('varint too long');
  }
  /** Returns [fieldNumber, wireType]. */
  key(): [number, number] {
    const k = this.varint();
    return [Math.floor(k / 8), k & 7];
  }
  bytes(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.end) throw new DecodeError('truncated length-delimited field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  /** A sub-reader over a length-delimited field. */
  sub(): Reader {
    const len = this.varint();
    if (this.pos + len > this.end) throw new DecodeError('truncated embedded message');
    const r = new Reader(this.buf, this.pos, this.pos + len);
    this.pos += len;
    return r;
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const len = this.varint();
        this.pos += len;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new DecodeError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new DecodeError('truncated field');
  }
  /** Reads a repeated uint64 value, packed (wire type 2) or not (wire type 0). */
  repeated(wireType: number, out: number[]): void {
    if (wireType === 0) {
      out.push(this.varint());
    } else if (wireType === 2) {
      const r = this.sub();
      while (!r.done()) out.push(r.varint());
    } else {
      throw new DecodeError(`bad wire type ${wireType} for repeated uint64`);
    }
  }
}

function expectVarint(wt: number, field: string): void {
  if (wt !== 0) throw new DecodeError(`bad wire type ${wt} for ${field}`);
}
function expectBytes(wt: number, field: string): void {
  if (wt !== 2) throw new DecodeError(`bad wire type ${wt} for ${field}`);
}

function readEntry(r: Reader, copy: boolean): Entry {
  const e: Entry = { term: 0, index: 0, type: EntryType.EntryNormal, data: EMPTY };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        expectVarint(wt, 'Entry.Type');
        e.type = r.varint();
        break;
      case 2:
        expectVarint(wt, 'Entry.Term');
        e.term = r.varint();
        break;
      case 3:
        expectVarint(wt, 'Entry.Index');
        e.index = r.varint();
        break;
      case 4: {
        expectBytes(wt, 'Entry.Data');
        const b = r.bytes();
        e.data = copy ? b.slice() : b;
        break;
      }
      default:
        r.skip(wt);
    }
  }
  return e;
}

function readConfState(r: Reader): ConfState {
  const cs = emptyConfState();
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        r.repeated(wt, cs.voters);
        break;
      case 2:
        r.repeated(wt, cs.learners);
        break;
      case 3:
        r.repeated(wt, cs.votersOutgoing);
        break;
      case 4:
        r.repeated(wt, cs.learnersNext);
        break;
      case 5:
        expectVarint(wt, 'ConfState.auto_leave');
        cs.autoLeave = r.varint() !== 0;
        break;
      default:
        r.skip(wt);
    }
  }
  return cs;
}

function readMetadata(r: Reader): SnapshotMetadata {
  const md: SnapshotMetadata = { confState: emptyConfState(), index: 0, term: 0 };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        expectBytes(wt, 'SnapshotMetadata.conf_state');
        md.confState = readConfState(r.sub());
        break;
      case 2:
        expectVarint(wt, 'SnapshotMetadata.index');
        md.index = r.varint();
        break;
      case 3:
        expectVarint(wt, 'SnapshotMetadata.term');
        md.term = r.varint();
        break;
      default:
        r.skip(wt);
    }
  }
  return md;
}

function readSnapshot(r: Reader, copy: boolean): Snapshot {
  const s: Snapshot = { data: EMPTY, metadata: { confState: emptyConfState(), index: 0, term: 0 } };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1: {
        expectBytes(wt, 'Snapshot.data');
        const b = r.bytes();
        s.data = copy ? b.slice() : b;
        break;
      }
      case 2:
        expectBytes(wt, 'Snapshot.metadata');
        s.metadata = readMetadata(r.sub());
        break;
      default:
        r.skip(wt);
    }
  }
  return s;
}

function readMessage(r: Reader, copy: boolean): Message {
  const m: Message = {
    type: MessageType.MsgHup,
    to: 0,
    from: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: undefined,
    reject: false,
    rejectHint: 0,
    context: undefined,
  };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        expectVarint(wt, 'Message.type');
        m.type = r.varint();
        break;
      case 2:
        expectVarint(wt, 'Message.to');
        m.to = r.varint();
        break;
      case 3:
        expectVarint(wt, 'Message.from');
        m.from = r.varint();
        break;
      case 4:
        expectVarint(wt, 'Message.term');
        m.term = r.varint();
        break;
      case 5:
        expectVarint(wt, 'Message.logTerm');
        m.logTerm = r.varint();
        break;
      case 6:
        expectVarint(wt, 'Message.index');
        m.index = r.varint();
        break;
      case 7:
        expectBytes(wt, 'Message.entries');
        m.entries.push(readEntry(r.sub(), copy));
        break;
      case 8:
        expectVarint(wt, 'Message.commit');
        m.commit = r.varint();
        break;
      case 9: {
        expectBytes(wt, 'Message.snapshot');
        const s = readSnapshot(r.sub(), copy);
        // Older peers send an empty snapshot on every message; treat it as absent.
        m.snapshot = s.metadata.index === 0 && s.data.length === 0 ? undefined : s;
        break;
      }
      case 10:
        expectVarint(wt, 'Message.reject');
        m.reject = r.varint() !== 0;
        break;
      case 11:
        expectVarint(wt, 'Message.rejectHint');
        m.rejectHint = r.varint();
        break;
      case 12: {
        expectBytes(wt, 'Message.context');
        const b = r.bytes();
        m.context = copy ? b.slice() : b;
        break;
      }
      default:
        r.skip(wt);
    }
  }
  return m;
}

// ---------------------------------------------------------------- public API

/**
 * Decoders return objects whose byte fields are copies by default; pass
 * `{ copy: false }` to get views into the input buffer instead (faster, but the
 * caller must not reuse the buffer).
 */
export interface DecodeOptions {
  copy?: boolean;
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer(entryBodySize(e));
  writeEntry(w, e);
  return w.buf;
}

export function decodeEntry(b: Uint8Array, opts?: DecodeOptions): Entry {
  return readEntry(new Reader(b), opts?.copy !== false);
}

/** Length of the encoded entry, without building it. */
export function encodedEntrySize(e: Entry): number {
  return entryBodySize(e);
}

/**
 * Encodes a list of entries as one buffer of consecutive length-delimited
 * Entry messages (the same bytes as field 7 of Message, minus the key).
 */
export function encodeEntries(ents: readonly Entry[]): Uint8Array {
  let size = 0;
  for (const e of ents) {
    const n = entryBodySize(e);
    size += vlen(n) + n;
  }
  const w = new Writer(size);
  for (const e of ents) {
    w.varint(entryBodySize(e));
    writeEntry(w, e);
  }
  return w.buf;
}

export function decodeEntries(b: Uint8Array, opts?: DecodeOptions): Entry[] {
  const r = new Reader(b);
  const out: Entry[] = [];
  const copy = opts?.copy !== false;
  while (!r.done()) out.push(readEntry(r.sub(), copy));
  return out;
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new Writer(messageBodySize(m));
  writeMessage(w, m);
  return w.buf;
}

export function decodeMessage(b: Uint8Array, opts?: DecodeOptions): Message {
  return readMessage(new Reader(b), opts?.copy !== false);
}

export function encodeHardState(hs: HardState): Uint8Array {
  const w = new Writer(uvSize(hs.term) + uvSize(hs.vote) + uvSize(hs.commit));
  w.uv(1, hs.term);
  w.uv(2, hs.vote);
  w.uv(3, hs.commit);
  return w.buf;
}

export function decodeHardState(b: Uint8Array): HardState {
  const r = new Reader(b);
  const hs: HardState = { term: 0, vote: 0, commit: 0 };
  while (!r.done()) {
    const [f, wt] = r.key();
    if (f >= 1 && f <= 3) {
      expectVarint(wt, 'HardState');
      const v = r.varint();
      if (f === 1) hs.term = v;
      else if (f === 2) hs.vote = v;
      else hs.commit = v;
    } else {
      r.skip(wt);
    }
  }
  return hs;
}

export function encodeConfState(cs: ConfState): Uint8Array {
  const w = new Writer(confStateBodySize(cs));
  writeConfState(w, cs);
  return w.buf;
}

export function decodeConfState(b: Uint8Array): ConfState {
  return readConfState(new Reader(b));
}

export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer(snapshotBodySize(s));
  writeSnapshot(w, s);
  return w.buf;
}

export function decodeSnapshot(b: Uint8Array, opts?: DecodeOptions): Snapshot {
  return readSnapshot(new Reader(b), opts?.copy !== false);
}

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const ctx = cc.context && cc.context.length > 0 ? cc.context : undefined;
  const w = new Writer(uvSize(cc.id) + uvSize(cc.type) + uvSize(cc.nodeId) + (ctx ? bytesSize(ctx.length) : 0));
  w.uv(1, cc.id);
  w.uv(2, cc.type);
  w.uv(3, cc.nodeId);
  if (ctx) w.bytes(4, ctx);
  return w.buf;
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  const r = new Reader(b);
  const cc: ConfChange = { id: 0, type: ConfChangeType.ConfChangeAddNode, nodeId: 0, context: undefined };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        expectVarint(wt, 'ConfChange.id');
        cc.id = r.varint();
        break;
      case 2:
        expectVarint(wt, 'ConfChange.type');
        cc.type = r.varint();
        break;
      case 3:
        expectVarint(wt, 'ConfChange.node_id');
        cc.nodeId = r.varint();
        break;
      case 4:
        expectBytes(wt, 'ConfChange.context');
        cc.context = r.bytes().slice();
        break;
      default:
        r.skip(wt);
    }
  }
  return cc;
}

function singleSize(c: ConfChangeSingle): number {
  return uvSize(c.type) + uvSize(c.nodeId);
}

export function encodeConfChangeV2(cc: ConfChangeV2): Uint8Array {
  const ctx = cc.context && cc.context.length > 0 ? cc.context : undefined;
  let size = uvSize(cc.transition);
  for (const c of cc.changes) size += bytesSize(singleSize(c));
  if (ctx) size += bytesSize(ctx.length);
  const w = new Writer(size);
  w.uv(1, cc.transition);
  for (const c of cc.changes) {
    w.lenPrefix(2, singleSize(c));
    w.uv(1, c.type);
    w.uv(2, c.nodeId);
  }
  if (ctx) w.bytes(3, ctx);
  return w.buf;
}

export function decodeConfChangeV2(b: Uint8Array): ConfChangeV2 {
  const r = new Reader(b);
  const cc: ConfChangeV2 = { transition: ConfChangeTransition.ConfChangeTransitionAuto, changes: [], context: undefined };
  while (!r.done()) {
    const [f, wt] = r.key();
    switch (f) {
      case 1:
        expectVarint(wt, 'ConfChangeV2.transition');
        cc.transition = r.varint();
        break;
      case 2: {
        expectBytes(wt, 'ConfChangeV2.changes');
        const s = r.sub();
        const c: ConfChangeSingle = { type: ConfChangeType.ConfChangeAddNode, nodeId: 0 };
        while (!s.done()) {
          const [sf, swt] = s.key();
          if (sf === 1) {
            expectVarint(swt, 'ConfChangeSingle.type');
            c.type = s.varint();
          } else if (sf === 2) {
            expectVarint(swt, 'ConfChangeSingle.node_id');
            c.nodeId = s.varint();
          } else {
            s.skip(swt);
          }
        }
        cc.changes.push(c);
        break;
      }
      case 3:
        expectBytes(wt, 'ConfChangeV2.context');
        cc.context = r.bytes().slice();
        break;
      default:
        r.skip(wt);
    }
  }
  return cc;
}

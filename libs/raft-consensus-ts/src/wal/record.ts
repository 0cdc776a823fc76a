// WAL record framing:
//
//   [u32 LE payload length][u32 LE crc32 of (type byte + payload)][u8 type][payload]
//
// A record is valid only if it is complete and its checksum matches.

import { crc32 } from 'node:zlib';

export const HEADER_SIZE = 9;

export enum RecordType {
  /** A batch of consecutive entries (replaces any conflicting tail). */
  Entries = 1,
  /** The latest HardState. */
  HardState = 2,
  /** A snapshot from the leader was installed: the log restarts after it. */
  Snapshot = 3,
}

const VALID_TYPES = new Set<number>([RecordType.Entries, RecordType.HardState, RecordType.Snapshot]);

/** Upper bound on one record's payload (a sanity check for corrupt length fields). */
export const MAX_RECORD_SIZE = 512 * 1024 * 1024;

export function recordCrc(type: number, payload: Uint8Array): number {
  return crc32(payload, crc32(new Uint8Array([type])));
}

/** Appends the framed record to `out` (a list of chunks) and returns its size. */
export function frameRecord(type: RecordType, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  b.writeUInt32LE(payload.length, 0);
  b.writeUInt32LE(recordCrc(type, payload), 4);
  b[8] = type;
  b.set(payload, HEADER_SIZE);
  return b;
}

export interface ParsedRecord {
  type: RecordType;
  payload: Uint8Array;
  offset: number;
  end: number;
}

export type ParseResult = { ok: true; record: ParsedRecord } | { ok: false; reason: string };

/** Parses the record at `offset`. */
export function parseRecord(buf: Uint8Array, offset: number): ParseResult {
  const remaining = buf.length - offset;
  if (remaining < HEADER_SIZE) return { ok: false, reason: `incomplete header (${remaining} bytes)` };
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, HEADER_SIZE);
  const len = dv.getUint32(0, true);
  const crc = dv.getUint32(4, true);
  const type = buf[offset + 8];
  if (len > MAX_RECORD_SIZE) return { ok: false, reason: `implausible record length ${len}` };
  if (HEADER_SIZE + len > remaining) return { ok: false, reason: `incomplete record (needs ${HEADER_SIZE + len} bytes, ${remaining} left)` };
  if (!VALID_TYPES.has(type)) return { ok: false, reason: `unknown record type ${type}` };
  const payload = buf.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + len);
  if (recordCrc(type, payload) !== crc) return { ok: false, reason: 'checksum mismatch' };
  return { ok: true, record: { type, payload, offset, end: offset + HEADER_SIZE + len } };
}

/**
 * Whether any valid record starts after `from`. Used to tell a torn tail (the
 * last write was cut short: nothing valid follows) from corruption in the
 * middle of the log (valid records follow the damaged one).
 */
export function hasValidRecordAfter(buf: Uint8Array, from: number): boolean {
  for (let off = from; off + HEADER_SIZE <= buf.length; off++) {
    const type = buf[off + 8];
    if (!VALID_TYPES.has(type)) continue;
    const len = buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24);
    if (len < 0 || off + HEADER_SIZE + len > buf.length) continue;
    if (parseRecord(buf, off).ok) return true;
  }
  return false;
}

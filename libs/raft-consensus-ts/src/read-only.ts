// Pending ReadIndex requests on the leader.
//
// Each request gets a position in a queue. Heartbeats carry the position of
// the newest request queued so far (8 bytes, little endian) as their context;
// a follower echoes it back. Once a quorum of voters has acknowledged position
// p, every request up to p is confirmed: the leader was still the leader when
// they were made, so their recorded commit index is safe to read at.

import { JointConfig, jointCommittedIndex } from './tracker';
import { Message, ReadOnlyOption } from './types';

export interface ReadIndexRequest {
  req: Message;
  /** Commit index when the request arrived. */
  index: number;
}

export class ReadOnly {
  private acks = new Map<number, number>();
  private unconfirmed: ReadIndexRequest[] = [];
  private confirmed = 0;

  constructor(readonly option: ReadOnlyOption) {}

  addRequest(commitIndex: number, req: Message): void {
    this.unconfirmed.push({ req, index: commitIndex });
  }

  pendingCount(): number {
    return this.unconfirmed.length;
  }

  recvAck(from: number, ctx: Uint8Array | undefined): void {
    if (!ctx || ctx.length !== 8) return;
    const pos = decodePosition(ctx);
    const prev = this.acks.get(from) ?? 0;
    if (pos > prev) this.acks.set(from, pos);
  }

  /** Returns the requests newly confirmed by a quorum, oldest first. */
  maybeAdvance(voters: JointConfig): ReadIndexRequest[] {
    const newConfirmed = jointCommittedIndex(voters, (id) => this.acks.get(id));
    if (newConfirmed === Infinity || newConfirmed <= this.confirmed) return [];
    const n = newConfirmed - this.confirmed;
    const out = this.unconfirmed.slice(0, n);
    this.unconfirmed = this.unconfirmed.slice(n);
    this.confirmed = newConfirmed;
    return out;
  }

  /** Context to attach to heartbeats, or undefined when no read is waiting. */
  heartbeatCtx(): Uint8Array | undefined {
    if (this.unconfirmed.length === 0) return undefined;
    return encodePosition(this.confirmed + this.unconfirmed.length);
  }
}

function encodePosition(pos: number): Uint8Array {
  const b = new Uint8Array(8);
  const lo = pos % 0x100000000;
  const hi = Math.floor(pos / 0x100000000);
  new DataView(b.buffer).setUint32(0, lo, true);
  new DataView(b.buffer).setUint32(4, hi, true);
  return b;
}

function decodePosition(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, 8);
  return dv.getUint32(0, true) + dv.getUint32(4, true) * 0x100000000;
}

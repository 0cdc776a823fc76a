// Protobuf wire format for the k8s.io messages, decoded the way client-go's
// generated Unmarshal code does it: field presence is kept (a field that was
// not on the wire is absent from the Msg), wire types are checked, unknown
// fields are skipped, a message field that occurs twice is merged, the last
// value of any other field wins, and bad input fails with K8sProtobufError
// (never loops or recurses without bound). Encoding writes what client-go's
// Marshal writes for the same Msg: fields in ascending number order, map
// entries sorted by key, repeated scalars unpacked.
import { K8sProtobufError } from './errors';
import { messagePlan, type FieldPlan, type MessagePlan, type ScalarType } from './schema';

/** A decoded message: only the fields that were on the wire, by protobuf field name. */
export interface Msg {
  [field: string]: WireValue;
}
/** int32 -> number, int64 -> bigint, bytes -> Buffer; repeated -> array; map -> Map (undefined: a bytes value that was absent). */
export type WireValue = string | boolean | number | bigint | Buffer | Msg | WireValue[] | Map<string, WireValue | undefined>;

export function newMsg(): Msg {
  return Object.create(null) as Msg;
}

const MAX_DEPTH = 64;

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    readonly where: string,
  ) {}

  fail(what: string): never {
    throw new K8sProtobufError(`${this.where}: ${what} at byte ${this.pos}`);
  }

  private byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end of data');
    return this.buf[this.pos++];
  }

  /** A varint as a float: exact below 2^53, enough for lengths and zero tests. */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (i === 9 && b > 1) this.fail('varint overflows 64 bits');
        return result;
      }
      mul *= 128;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** The low 32 bits of a varint, as Go's int32(v) / uint32(v) take them. */
  low32(): number {
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      if (i < 5) lo |= (b & 0x7f) << (7 * i);
      if (b < 0x80) {
        if (i === 9 && b > 1) this.fail('varint overflows 64 bits');
        return lo;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A varint as Go's int64(v). */
  int64(): bigint {
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        if (i === 9 && b > 1) this.fail('varint overflows 64 bits');
        return BigInt.asIntN(64, result);
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A length-delimited field: [start, end) of its payload. */
  range(): [number, number] {
    const length = this.varint();
    if (length > this.end - this.pos) this.fail(`length ${length} runs past the end of the data`);
    const start = this.pos;
    this.pos += length;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    // Groups (deprecated, never used by Kubernetes) are skipped iteratively, as
    // Go's skipGenerated does: nesting depth is a counter, not recursion.
    let depth = 0;
    for (;;) {
      switch (wireType) {
        case WIRE_VARINT:
          this.varint();
          break;
        case WIRE_FIXED64:
          if (this.end - this.pos < 8) this.fail('unexpected end of data');
          this.pos += 8;
          break;
        case WIRE_BYTES:
          this.range();
          break;
        case WIRE_FIXED32:
          if (this.end - this.pos < 4) this.fail('unexpected end of data');
          this.pos += 4;
          break;
        case WIRE_START_GROUP:
          depth++;
          break;
        case WIRE_END_GROUP:
          if (depth === 0) this.fail('unexpected end group');
          depth--;
          break;
        default:
          this.fail(`illegal wire type ${wireType}`);
      }
      if (depth === 0) return;
      wireType = this.low32() & 7;
    }
  }
}

function wireTypeOf(f: FieldPlan): number {
  return f.message !== undefined || f.scalar === 'string' || f.scalar === 'bytes' ? WIRE_BYTES : WIRE_VARINT;
}

function readScalar(r: Reader, type: ScalarType): WireValue {
  switch (type) {
    case 'string': {
      const [s, e] = r.range();
      return r.buf.toString('utf8', s, e);
    }
    case 'bytes': {
      const [s, e] = r.range();
      return Buffer.from(r.buf.subarray(s, e));
    }
    case 'int32':
      return r.low32() | 0;
    case 'int64':
      return r.int64();
    case 'bool':
      return r.varint() !== 0;
  }
}

function readValue(r: Reader, f: FieldPlan, depth: number, existing: WireValue | undefined): WireValue {
  if (f.message === undefined) return readScalar(r, f.scalar!);
  const [s, e] = r.range();
  const sub = messagePlan(f.message);
  const into = existing !== undefined && !sub.custom?.replace ? (existing as Msg) : undefined;
  return decodeInto(sub, r.buf, s, e, depth + 1, into);
}

function decodeInto(plan: MessagePlan, buf: Buffer, start: number, end: number, depth: number, into?: Msg): Msg {
  if (depth > MAX_DEPTH) throw new K8sProtobufError(`${plan.name}: messages nested more than ${MAX_DEPTH} deep`);
  const r = new Reader(buf, start, end, plan.name);
  const msg = into ?? newMsg();
  while (r.pos < r.end) {
    const key = r.low32() >>> 0;
    const number = key >>> 3;
    const wireType = key & 7;
    if (number === 0) r.fail('illegal field number 0');
    const f = plan.byNumber.get(number);
    if (!f) {
      r.skip(wireType);
      continue;
    }
    const want = wireTypeOf(f);
    if (f.label === 'repeated' && wireType === WIRE_BYTES && want === WIRE_VARINT) {
      // Packed repeated scalars: accepted, as Go's decoder does.
      const [s, e] = r.range();
      const packed = new Reader(buf, s, e, `${plan.name}.${f.name}`);
      while (packed.pos < packed.end) {
        ((msg[f.name] ??= []) as WireValue[]).push(readScalar(packed, f.scalar!));
      }
      continue;
    }
    if (wireType !== want) r.fail(`field ${f.name} (${number}) has wire type ${wireType}, want ${want}`);
    if (f.label === 'map') {
      const [s, e] = r.range();
      const [k, v] = decodeMapEntry(f, buf, s, e, depth, `${plan.name}.${f.name}`);
      ((msg[f.name] ??= new Map()) as Map<string, WireValue | undefined>).set(k, v);
    } else if (f.label === 'repeated') {
      ((msg[f.name] ??= []) as WireValue[]).push(readValue(r, f, depth, undefined));
    } else {
      msg[f.name] = readValue(r, f, depth, msg[f.name]);
    }
  }
  return msg;
}

function decodeMapEntry(f: FieldPlan, buf: Buffer, start: number, end: number, depth: number, where: string): [string, WireValue | undefined] {
  const r = new Reader(buf, start, end, where);
  let key = '';
  let value: WireValue | undefined;
  const valueWire = wireTypeOf(f);
  while (r.pos < r.end) {
    const tag = r.low32() >>> 0;
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (number === 0) r.fail('illegal field number 0');
    if (number === 1) {
      if (wireType !== WIRE_BYTES) r.fail(`map key has wire type ${wireType}`);
      key = readScalar(r, 'string') as string;
    } else if (number === 2) {
      if (wireType !== valueWire) r.fail(`map value has wire type ${wireType}, want ${valueWire}`);
      value = readValue(r, f, depth, undefined);
    } else {
      r.skip(wireType);
    }
  }
  if (value === undefined) {
    // Go's zero value for the map's value type (a missing bytes value stays nil).
    if (f.message !== undefined) value = newMsg();
    else if (f.scalar === 'string') value = '';
    else if (f.scalar === 'int32') value = 0;
    else if (f.scalar === 'int64') value = 0n;
    else if (f.scalar === 'bool') value = false;
  }
  return [key, value];
}

/** Decodes one message of the given plan from buf[start, end). */
export function decodeMessage(plan: MessagePlan, buf: Buffer, start = 0, end = buf.length): Msg {
  return decodeInto(plan, buf, start, end, 0);
}

// ---- encoding -----------------------------------------------------------------

class Writer {
  private readonly chunks: Buffer[] = [];
  private scratch = Buffer.allocUnsafe(256);
  private used = 0;
  length = 0;

  private room(n: number): void {
    if (this.used + n <= this.scratch.length) return;
    this.flush();
    if (n > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(n, 256));
  }

  private flush(): void {
    if (this.used > 0) this.chunks.push(Buffer.from(this.scratch.subarray(0, this.used)));
    this.used = 0;
  }

  /** A non-negative integer below 2^53. */
  varint(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.scratch[this.used++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
      this.length++;
    }
    this.scratch[this.used++] = n;
    this.length++;
  }

  varint64(v: bigint): void {
    let n = BigInt.asUintN(64, v);
    this.room(10);
    while (n >= 0x80n) {
      this.scratch[this.used++] = Number(n & 0x7fn) | 0x80;
      n >>= 7n;
      this.length++;
    }
    this.scratch[this.used++] = Number(n);
    this.length++;
  }

  tag(number: number, wireType: number): void {
    this.varint(number * 8 + wireType);
  }

  bytes(b: Buffer): void {
    this.varint(b.length);
    this.flush();
    this.chunks.push(b);
    this.length += b.length;
  }

  finish(): Buffer {
    this.flush();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
  }
}

function writeValue(w: Writer, f: FieldPlan, number: number, v: WireValue): void {
  if (f.message !== undefined) {
    w.tag(number, WIRE_BYTES);
    w.bytes(encodeMessage(messagePlan(f.message), v as Msg));
    return;
  }
  switch (f.scalar) {
    case 'string':
      w.tag(number, WIRE_BYTES);
      w.bytes(Buffer.from(v as string, 'utf8'));
      return;
    case 'bytes':
      w.tag(number, WIRE_BYTES);
      w.bytes(v as Buffer);
      return;
    case 'int32':
      w.tag(number, WIRE_VARINT);
      // Negative int32 values are sign-extended to 64 bits, as Go writes them.
      if ((v as number) < 0) w.varint64(BigInt(v as number));
      else w.varint(v as number);
      return;
    case 'int64':
      w.tag(number, WIRE_VARINT);
      w.varint64(v as bigint);
      return;
    case 'bool':
      w.tag(number, WIRE_VARINT);
      w.varint(v ? 1 : 0);
      return;
  }
}

/** Encodes a Msg: every field present in it is written (zero values too). */
export function encodeMessage(plan: MessagePlan, msg: Msg): Buffer {
  const w = new Writer();
  for (const f of plan.wireOrder) {
    const v = msg[f.name];
    if (v === undefined) continue;
    if (f.label === 'map') {
      const entries = [...(v as Map<string, WireValue | undefined>)].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const [k, value] of entries) {
        const entry = new Writer();
        entry.tag(1, WIRE_BYTES);
        entry.bytes(Buffer.from(k, 'utf8'));
        if (value !== undefined) writeValue(entry, f, 2, value);
        w.tag(f.number, WIRE_BYTES);
        w.bytes(entry.finish());
      }
    } else if (f.label === 'repeated') {
      for (const item of v as WireValue[]) writeValue(w, f, f.number, item);
    } else {
      writeValue(w, f, f.number, v);
    }
  }
  return w.finish();
}

// A minimal DER (X.690 Distinguished Encoding Rules) encoder and reader: just
// what X.509 certificates need. Every encoder produces the canonical form
// Go's crypto/x509 insists on: minimal lengths, minimal two's-complement
// integers, BOOLEAN TRUE as 0xFF, named bit strings without trailing zero
// bits, SET OF sorted by encoding, UTCTime before 2050 and GeneralizedTime
// from 2050 on (RFC 5280 4.1.2.5).

/** Universal tags (and the constructed forms of SEQUENCE and SET). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One element: tag, minimal length, content. Tags above 30 are not needed for X.509 and not supported. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new Error(`der: unsupported tag 0x${tag.toString(16)}`);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(Tag.SEQUENCE, Buffer.concat(items));
}

/** SET OF: DER orders the elements by their encodings (X.690 11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = items.map((i) => Buffer.from(i)).sort(Buffer.compare);
  return tlv(Tag.SET, Buffer.concat(sorted));
}

/** INTEGER in the minimal two's-complement form. */
export function integer(value: bigint | number): Buffer {
  const n = BigInt(value);
  let bytes: Buffer;
  if (n >= 0n) {
    let hex = n.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    bytes = Buffer.from(hex, 'hex');
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  } else {
    let len = 1;
    while (-(1n << BigInt(8 * len - 1)) > n) len++;
    const hex = ((1n << BigInt(8 * len)) + n).toString(16).padStart(2 * len, '0');
    bytes = Buffer.from(hex, 'hex');
  }
  return tlv(Tag.INTEGER, bytes);
}

/** INTEGER from unsigned big-endian bytes (leading zeros dropped, a 0x00 added when the top bit is set). */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let body = Buffer.from(bytes.subarray(i));
  if (body.length === 0) body = Buffer.from([0]);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(Tag.INTEGER, body);
}

export function boolean(value: boolean): Buffer {
  return tlv(Tag.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return Buffer.from([Tag.NULL, 0x00]);
}

/** OBJECT IDENTIFIER from dotted text, e.g. "2.5.4.3". */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`der: invalid OID "${dotted}"`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! >= 40n)) throw new Error(`der: invalid OID "${dotted}"`);
  const values = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const v of values) {
    const group: number[] = [Number(v & 0x7fn)];
    for (let rest = v >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    out.push(...group);
  }
  return tlv(Tag.OID, Buffer.from(out));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(Tag.OCTET_STRING, bytes);
}

/** BIT STRING holding whole bytes (keys, signatures). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) throw new Error('der: invalid unused bit count');
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (KeyUsage): bit 0 is the most significant bit of the
 * first byte; DER drops trailing zero bits (X.690 11.2.2).
 */
export function namedBits(bits: Iterable<number>): Buffer {
  const set = [...new Set(bits)];
  if (set.length === 0) return bitString(Buffer.alloc(0));
  const max = Math.max(...set);
  const bytes = Buffer.alloc((max >> 3) + 1);
  for (const bit of set) {
    if (!Number.isInteger(bit) || bit < 0) throw new Error(`der: invalid bit ${bit}`);
    bytes[bit >> 3] = bytes[bit >> 3]! | (0x80 >> (bit & 7));
  }
  return bitString(bytes, 7 - (max & 7));
}

export function utf8String(text: string): Buffer {
  return tlv(Tag.UTF8_STRING, Buffer.from(text, 'utf8'));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(text: string): Buffer {
  if (!PRINTABLE.test(text)) throw new Error(`der: "${text}" is not a PrintableString`);
  return tlv(Tag.PRINTABLE_STRING, Buffer.from(text, 'ascii'));
}

export function ia5String(text: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new Error(`der: "${text}" is not an IA5String`);
  return tlv(Tag.IA5_STRING, Buffer.from(text, 'ascii'));
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

function checkDate(date: Date): void {
  if (Number.isNaN(date.getTime())) throw new Error('der: invalid date');
}

/** UTCTime YYMMDDHHMMSSZ (years 1950 to 2049), seconds precision. */
export function utcTime(date: Date): Buffer {
  checkDate(date);
  const y = date.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new Error(`der: UTCTime cannot hold the year ${y}`);
  const text = `${two(y % 100)}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return tlv(Tag.UTC_TIME, Buffer.from(text, 'ascii'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ, without fractional seconds (RFC 5280). */
export function generalizedTime(date: Date): Buffer {
  checkDate(date);
  const y = date.getUTCFullYear();
  if (y < 0 || y > 9999) throw new Error(`der: GeneralizedTime cannot hold the year ${y}`);
  const text = `${String(y).padStart(4, '0')}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(text, 'ascii'));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
export function x509Time(date: Date): Buffer {
  const y = date.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(date) : generalizedTime(date);
}

/** [n] EXPLICIT: a constructed context-specific tag around a complete element. */
export function explicit(tagNumber: number, inner: Uint8Array): Buffer {
  if (tagNumber < 0 || tagNumber > 30) throw new Error('der: context tag out of range');
  return tlv(0xa0 | tagNumber, inner);
}

/** [n] IMPLICIT for a primitive type: the content bytes under a context-specific tag. */
export function implicitPrimitive(tagNumber: number, content: Uint8Array): Buffer {
  if (tagNumber < 0 || tagNumber > 30) throw new Error('der: context tag out of range');
  return tlv(0x80 | tagNumber, content);
}

/** [n] IMPLICIT for a constructed type (SEQUENCE/SET): the content under a constructed context tag. */
export function implicitConstructed(tagNumber: number, content: Uint8Array): Buffer {
  if (tagNumber < 0 || tagNumber > 30) throw new Error('der: context tag out of range');
  return tlv(0xa0 | tagNumber, content);
}

// ---------------------------------------------------------------------------
// Reader

/** One element found in a DER buffer. `raw` is the whole encoding, `content` the value bytes. */
export interface DerElement {
  tag: number;
  /** Offset of the tag byte in the buffer that was read. */
  offset: number;
  raw: Buffer;
  content: Buffer;
}

/**
 * Read the element at `offset`. Strict: rejects indefinite lengths,
 * non-minimal lengths and elements running past the end of the buffer.
 */
export function readElement(buf: Buffer, offset = 0): DerElement {
  if (offset >= buf.length) throw new Error('der: unexpected end of data');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('der: high tag numbers are not supported');
  let pos = offset + 1;
  if (pos >= buf.length) throw new Error('der: truncated length');
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) length = first;
  else {
    const count = first & 0x7f;
    if (count === 0) throw new Error('der: indefinite length is not DER');
    if (count > 4) throw new Error('der: length too large');
    if (pos + count > buf.length) throw new Error('der: truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[pos++]!;
    if (length < 0x80 || buf[pos - count] === 0) throw new Error('der: non-minimal length');
  }
  if (pos + length > buf.length) throw new Error('der: element runs past the end of the data');
  return { tag, offset, raw: buf.subarray(offset, pos + length), content: buf.subarray(pos, pos + length) };
}

/** The elements inside a constructed element (or a whole buffer of concatenated elements). */
export function readChildren(element: DerElement | Buffer): DerElement[] {
  const content = Buffer.isBuffer(element) ? element : element.content;
  const out: DerElement[] = [];
  for (let pos = 0; pos < content.length; ) {
    const child = readElement(content, pos);
    out.push(child);
    pos += child.raw.length;
  }
  return out;
}

/** Read exactly one element spanning the whole buffer. */
export function readSingle(buf: Buffer): DerElement {
  const el = readElement(buf, 0);
  if (el.raw.length !== buf.length) throw new Error('der: trailing data after the element');
  return el;
}

export function expectTag(el: DerElement | undefined, tag: number, what: string): DerElement {
  if (!el) throw new Error(`der: missing ${what}`);
  if (el.tag !== tag) throw new Error(`der: ${what}: expected tag 0x${tag.toString(16)}, found 0x${el.tag.toString(16)}`);
  return el;
}

export function decodeOid(content: Buffer): string {
  const values: bigint[] = [];
  let v = 0n;
  for (const b of content) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      values.push(v);
      v = 0n;
    }
  }
  if (values.length === 0) throw new Error('der: empty OID');
  const first = values[0]!;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...values.slice(1)].map(String).join('.');
}

/** INTEGER content as a bigint (two's complement). */
export function decodeInteger(content: Buffer): bigint {
  if (content.length === 0) throw new Error('der: empty INTEGER');
  let n = BigInt(`0x${content.toString('hex')}`);
  if (content[0]! & 0x80) n -= 1n << BigInt(8 * content.length);
  return n;
}

/** UTCTime / GeneralizedTime content as a Date. */
export function decodeTime(el: DerElement): Date {
  const text = el.content.toString('ascii');
  let m: RegExpExecArray | null;
  if (el.tag === Tag.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (el.tag === Tag.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw new Error(`der: invalid time "${text}"`);
}

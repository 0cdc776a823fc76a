// The k8s.io types whose JSON form is not a plain struct: each one's Go
// MarshalJSON (decoding) and what its Go protobuf Marshal writes for a JSON
// value (encoding).
import { K8sProtobufError } from './errors';
import { decodeNestedObject } from './envelope';
import { newMsg, type Msg } from './wire';

export interface CustomCodec {
  /** A second occurrence on the wire replaces the first (hand-written Go Unmarshal) instead of merging. */
  readonly replace?: boolean;
  /** The Go JSON of the value; `m` undefined is Go's zero value. */
  toJson(m: Msg | undefined, where: string): unknown;
  /** Whether the Go value is zero (for `omitzero`). */
  isZero(m: Msg | undefined): boolean;
  /** For named slices only: whether `omitempty` drops the value. Structs are never empty. */
  isEmpty?(m: Msg | undefined): boolean;
  /** A JSON value (undefined or null: Go's zero value) -> what client-go's Marshal writes. */
  fromJson(v: unknown, where: string): Msg;
}

const META = 'k8s.io.apimachinery.pkg.apis.meta.v1';

function fail(where: string, what: string): never {
  throw new K8sProtobufError(`${where}: ${what}`);
}

function msg(fields: Record<string, Msg[string]>): Msg {
  return Object.assign(newMsg(), fields);
}

const isEmptyMsg = (m: Msg | undefined): boolean => m === undefined || Object.keys(m).length === 0;

// ---- time ---------------------------------------------------------------------

/** Seconds of Go's zero time.Time (January 1, year 1, UTC) since the Unix epoch. */
const GO_ZERO_UNIX = -62135596800n;
/** JavaScript's Date covers ±8.64e15 ms. */
const MAX_UNIX_SECONDS = 8_640_000_000_000n;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Go's t.UTC().Format(time.RFC3339) (or RFC3339Micro with `micros`). */
export function formatTime(seconds: bigint, nanos: number, micros: boolean, where: string): string {
  if (seconds > MAX_UNIX_SECONDS || seconds < -MAX_UNIX_SECONDS) fail(where, `time ${seconds}s is out of range`);
  const d = new Date(Number(seconds) * 1000);
  const year = d.getUTCFullYear();
  const y = (year < 0 ? '-' : '') + pad(Math.abs(year), 4);
  const frac = micros ? `.${pad(Math.floor(nanos / 1000), 6)}` : '';
  return (
    `${y}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T` +
    `${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}${frac}Z`
  );
}

const RFC3339 = /^(-?\d{4,})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** RFC 3339 -> [Unix seconds, nanoseconds], as Go's time.Parse(time.RFC3339, s). */
export function parseTime(s: string, where: string): [bigint, number] {
  const m = RFC3339.exec(s);
  if (!m) fail(where, `${JSON.stringify(s)} is not an RFC 3339 time`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    fail(where, `${JSON.stringify(s)} is not a valid time`);
  }
  const offset = m[8] ? 0 : (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11]) * 60);
  const nanos = m[7] ? Number(m[7].slice(1, 10).padEnd(9, '0')) : 0;
  return [BigInt(d.getTime() / 1000 - offset), nanos];
}

const int64Of = (v: Msg[string] | undefined): bigint => (typeof v === 'bigint' ? v : 0n);
const int32Of = (v: Msg[string] | undefined): number => (typeof v === 'number' ? v : 0);
const stringOf = (v: Msg[string] | undefined): string => (typeof v === 'string' ? v : '');

/** metav1.Time: whole seconds; an empty message is the zero time, which is JSON null. */
const timeCodec: CustomCodec = {
  replace: true,
  toJson(m, where) {
    if (this.isZero(m)) return null;
    return formatTime(int64Of(m!.seconds), 0, false, where);
  },
  isZero: (m) => isEmptyMsg(m) || int64Of(m!.seconds) === GO_ZERO_UNIX,
  fromJson(v, where) {
    if (v === undefined || v === null) return newMsg();
    if (typeof v !== 'string') fail(where, 'a time must be a string');
    const [seconds] = parseTime(v, where);
    return seconds === GO_ZERO_UNIX ? newMsg() : msg({ seconds, nanos: 0 });
  },
};

/** Go's time.Unix(sec, nsec) normalization of nsec into [0, 1e9). */
function normalize(seconds: bigint, nanos: number): [bigint, number] {
  const carry = Math.floor(nanos / 1e9);
  return [seconds + BigInt(carry), nanos - carry * 1e9];
}

/** metav1.MicroTime: microsecond precision (nanoseconds truncated). */
const microTimeCodec: CustomCodec = {
  replace: true,
  toJson(m, where) {
    if (this.isZero(m)) return null;
    const [s, n] = normalize(int64Of(m!.seconds), truncMicros(int32Of(m!.nanos)));
    return formatTime(s, n, true, where);
  },
  isZero(m) {
    if (isEmptyMsg(m)) return true;
    const [s, n] = normalize(int64Of(m!.seconds), truncMicros(int32Of(m!.nanos)));
    return s === GO_ZERO_UNIX && n === 0;
  },
  fromJson(v, where) {
    if (v === undefined || v === null) return newMsg();
    if (typeof v !== 'string') fail(where, 'a time must be a string');
    const [seconds, nanos] = parseTime(v, where);
    if (seconds === GO_ZERO_UNIX && truncMicros(nanos) === 0) return newMsg();
    return msg({ seconds, nanos: truncMicros(nanos) });
  },
};

function truncMicros(nanos: number): number {
  return nanos - (nanos % 1000);
}

// ---- duration -------------------------------------------------------------------

/** Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
export function formatDuration(d: bigint): string {
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  const frac = (v: bigint, prec: number): [string, bigint] => {
    let digits = '';
    let print = false;
    for (let i = 0; i < prec; i++) {
      const digit = v % 10n;
      print ||= digit !== 0n;
      if (print) digits = String(digit) + digits;
      v /= 10n;
    }
    return [print ? `.${digits}` : '', v];
  };
  if (u < 1_000_000_000n) {
    if (u === 0n) return '0s';
    let unit: string;
    let prec: number;
    if (u < 1000n) [unit, prec] = ['ns', 0];
    else if (u < 1_000_000n) [unit, prec] = ['µs', 3];
    else [unit, prec] = ['ms', 6];
    const [f, rest] = frac(u, prec);
    out = `${rest}${f}${unit}`;
  } else {
    const [f, secs] = frac(u, 9);
    u = secs;
    out = `${u % 60n}${f}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  'µs': 1000n,
  'μs': 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** Go's time.ParseDuration. */
export function parseDuration(s: string, where: string): bigint {
  const bad = (): never => fail(where, `${JSON.stringify(s)} is not a duration`);
  let rest = s;
  let neg = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    neg = rest[0] === '-';
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') bad();
  let total = 0n;
  const part = /^(\d*)(?:\.(\d*))?([^\d.]+)/;
  while (rest !== '') {
    const m = part.exec(rest);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) bad();
    const unit = DURATION_UNITS[m![3]];
    if (unit === undefined) bad();
    total += BigInt(m![1] || '0') * unit;
    if (m![2]) total += (BigInt(m![2]) * unit) / 10n ** BigInt(m![2].length);
    rest = rest.slice(m![0].length);
  }
  if (total > 2n ** 63n - (neg ? 0n : 1n)) bad();
  return neg ? -total : total;
}

/** metav1.Duration: Go's duration string. */
const durationCodec: CustomCodec = {
  toJson: (m) => formatDuration(int64Of(m?.duration)),
  isZero: (m) => int64Of(m?.duration) === 0n,
  fromJson(v, where) {
    if (v === undefined || v === null) return msg({ duration: 0n });
    if (typeof v !== 'string') fail(where, 'a duration must be a string');
    return msg({ duration: parseDuration(v, where) });
  },
};

// ---- quantity -------------------------------------------------------------------

// resource.ParseQuantity's grammar: a signed decimal number and an optional
// binary-SI, decimal-SI or decimal-exponent suffix.
const QUANTITY = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;
const ZERO_QUANTITY = /^[+-]?(?:0+(?:\.0*)?|\.0+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * resource.Quantity: its string. Client-go writes the canonical form, which is
 * passed through as is (this package checks the syntax but does not
 * re-canonicalize a non-canonical string from another client).
 */
const quantityCodec: CustomCodec = {
  replace: true,
  toJson(m, where) {
    if (m === undefined || m.string === undefined) return '0';
    const s = stringOf(m.string);
    if (!QUANTITY.test(s)) fail(where, `${JSON.stringify(s)} is not a quantity`);
    return s;
  },
  isZero: (m) => m === undefined || m.string === undefined || ZERO_QUANTITY.test(stringOf(m.string)),
  fromJson(v, where) {
    if (v === undefined || v === null) return msg({ string: '0' });
    const s = typeof v === 'number' ? String(v) : v;
    if (typeof s !== 'string' || !QUANTITY.test(s)) fail(where, `${JSON.stringify(v)} is not a quantity`);
    return msg({ string: s });
  },
};

// ---- int or string ----------------------------------------------------------------

/** intstr.IntOrString: a number (type 0) or a string (type 1). */
const intOrStringCodec: CustomCodec = {
  toJson(m, where) {
    const type = int64Of(m?.type);
    if (type === 0n) return int32Of(m?.intVal);
    if (type === 1n) return stringOf(m?.strVal);
    return fail(where, `impossible IntOrString type ${type}`);
  },
  isZero: (m) => int64Of(m?.type) === 0n && int32Of(m?.intVal) === 0 && stringOf(m?.strVal) === '',
  fromJson(v, where) {
    if (v === undefined || v === null) return msg({ type: 0n, intVal: 0, strVal: '' });
    if (typeof v === 'string') return msg({ type: 1n, intVal: 0, strVal: v });
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return msg({ type: 0n, intVal: v, strVal: '' });
    return fail(where, `${JSON.stringify(v)} is not an int32 or a string`);
  },
};

// ---- raw JSON ---------------------------------------------------------------------

const JSON_FIRST_BYTES = new Set([...'\t\r\n {["-0123456789ntf'].map((c) => c.charCodeAt(0)));
const K8S_MAGIC = Buffer.from('k8s\x00', 'latin1');

function parseJsonBytes(raw: Buffer, where: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return fail(where, `invalid JSON: ${(err as Error).message}`);
  }
}

/** runtime.RawExtension: raw JSON, or a nested object in the protobuf envelope. */
const rawExtensionCodec: CustomCodec = {
  toJson(m, where) {
    const raw = m?.raw;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return null;
    if (raw.subarray(0, 4).equals(K8S_MAGIC)) return decodeNestedObject(raw, where);
    if (JSON_FIRST_BYTES.has(raw[0])) return parseJsonBytes(raw, where);
    return fail(where, 'RawExtension bytes are neither JSON nor a Kubernetes protobuf object');
  },
  isZero: (m) => m?.raw === undefined,
  fromJson: (v) => (v === undefined || v === null ? newMsg() : msg({ raw: Buffer.from(JSON.stringify(v), 'utf8') })),
};

/** metav1.FieldsV1 (managedFields[].fieldsV1): raw JSON. */
const fieldsV1Codec: CustomCodec = {
  toJson(m, where) {
    const raw = m?.Raw;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return null;
    if (!JSON_FIRST_BYTES.has(raw[0])) fail(where, 'FieldsV1 is not JSON');
    return parseJsonBytes(raw, where);
  },
  isZero: (m) => m?.Raw === undefined,
  fromJson: (v) => (v === undefined || v === null ? newMsg() : msg({ Raw: Buffer.from(JSON.stringify(v), 'utf8') })),
};

// ---- small ones ---------------------------------------------------------------------

/** metav1.GroupVersion: "group/version", or "version" for the core group. */
const groupVersionCodec: CustomCodec = {
  toJson(m) {
    const group = stringOf(m?.group);
    const version = stringOf(m?.version);
    return group ? `${group}/${version}` : version;
  },
  isZero: (m) => stringOf(m?.group) === '' && stringOf(m?.version) === '',
  fromJson(v, where) {
    if (v === undefined || v === null || v === '') return msg({ group: '', version: '' });
    if (typeof v !== 'string') fail(where, 'a group version must be a string');
    const slash = v.indexOf('/');
    return slash < 0 ? msg({ group: '', version: v }) : msg({ group: v.slice(0, slash), version: v.slice(slash + 1) });
  },
};

/** metav1.Verbs ([]string, wrapped in a message with `items` on the wire). */
const verbsCodec: CustomCodec = {
  toJson: (m) => (Array.isArray(m?.items) ? m.items : null),
  isZero: (m) => !Array.isArray(m?.items),
  isEmpty: (m) => !Array.isArray(m?.items) || m.items.length === 0,
  fromJson(v, where) {
    if (v === undefined || v === null) return newMsg();
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) fail(where, 'verbs must be a list of strings');
    return v.length === 0 ? newMsg() : msg({ items: v as string[] });
  },
};

/** runtime.Unknown: only the envelope itself, which is read by its wire fields. */
const unknownCodec: CustomCodec = {
  toJson: (_m, where) => fail(where, 'a runtime.Unknown field is not supported'),
  isZero: (m) => isEmptyMsg(m),
  fromJson: (_v, where) => fail(where, 'a runtime.Unknown field is not supported'),
};

export const CUSTOM_CODECS: Readonly<Record<string, CustomCodec>> = {
  'k8s.io.apimachinery.pkg.runtime.Unknown': unknownCodec,
  [`${META}.Time`]: timeCodec,
  [`${META}.MicroTime`]: microTimeCodec,
  [`${META}.Duration`]: durationCodec,
  [`${META}.FieldsV1`]: fieldsV1Codec,
  [`${META}.GroupVersion`]: groupVersionCodec,
  [`${META}.Verbs`]: verbsCodec,
  'k8s.io.apimachinery.pkg.api.resource.Quantity': quantityCodec,
  'k8s.io.apimachinery.pkg.api.resource.QuantityValue': quantityCodec,
  'k8s.io.apimachinery.pkg.util.intstr.IntOrString': intOrStringCodec,
  'k8s.io.apimachinery.pkg.runtime.RawExtension': rawExtensionCodec,
};

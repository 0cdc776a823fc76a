// Decoded protobuf messages <-> the JSON Kubernetes' Go types give.
//
// Decoding reproduces json.Marshal of the Go struct that client-go's
// Unmarshal would fill: a field that was not on the wire holds Go's zero
// value, so a nil pointer, slice or map is left out when its json tag says
// omitempty (null otherwise), a zero scalar is left out under omitempty, and a
// struct value is always written (`{}` when empty, `null` for a zero
// metav1.Time) unless its tag says omitzero. Client-go writes every
// non-pointer scalar on the wire, zero or not, so `"generateName": ""` never
// appears where kubectl's own JSON would not have it.
//
// Encoding is the reverse: json.Unmarshal into the Go struct, then what
// client-go's Marshal writes (every non-pointer scalar and struct, non-nil
// pointers, slices and maps).
import { K8sProtobufError } from './errors';
import { messagePlan, type FieldPlan, type MessagePlan, type ScalarType } from './schema';
import { newMsg, type Msg, type WireValue } from './wire';

export type JsonObject = Record<string, unknown>;

const OMIT = Symbol('omit');

/** Sets a key that comes from data (map keys), so that "__proto__" is an ordinary key. */
function setKey(obj: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function zeroScalar(type: ScalarType): WireValue {
  switch (type) {
    case 'string':
      return '';
    case 'bool':
      return false;
    case 'int32':
      return 0;
    case 'int64':
      return 0n;
    case 'bytes':
      return Buffer.alloc(0);
  }
}

function isZeroScalar(v: WireValue): boolean {
  return v === '' || v === false || v === 0 || v === 0n || (Buffer.isBuffer(v) && v.length === 0);
}

function scalarJson(v: WireValue): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Buffer.isBuffer(v)) return v.toString('base64');
  return v;
}

function elementJson(f: FieldPlan, v: WireValue, path: string): unknown {
  if (f.message === undefined) return scalarJson(v);
  const sub = messagePlan(f.message);
  return sub.custom ? sub.custom.toJson(v as Msg, path) : toGoJson(sub, v as Msg, path);
}

function byKey<T>([a]: [string, T], [b]: [string, T]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function fieldJson(f: FieldPlan, v: WireValue | undefined, path: string): unknown {
  const omit = f.omitempty || f.omitzero;
  if (f.label === 'repeated') {
    // A Go slice: nil unless something was on the wire.
    if (v === undefined) return omit ? OMIT : null;
    return (v as WireValue[]).map((x, i) => elementJson(f, x, `${path}[${i}]`));
  }
  if (f.label === 'map') {
    if (v === undefined) return omit ? OMIT : null;
    const out: JsonObject = {};
    // encoding/json writes map keys sorted.
    for (const [k, x] of [...(v as Map<string, WireValue | undefined>)].sort(byKey)) {
      setKey(out, k, x === undefined ? null : elementJson(f, x, `${path}[${JSON.stringify(k)}]`));
    }
    return out;
  }
  if (f.pointer && v === undefined) return omit ? OMIT : null;
  if (f.message !== undefined) {
    const sub = messagePlan(f.message);
    if (!f.pointer) {
      if (f.omitzero && isGoZero(sub, v as Msg | undefined)) return OMIT;
      if (f.omitempty && sub.custom?.isEmpty?.(v as Msg | undefined)) return OMIT;
    }
    return sub.custom ? sub.custom.toJson(v as Msg | undefined, path) : toGoJson(sub, v as Msg | undefined, path);
  }
  if (f.pointer) return scalarJson(v!);
  if (f.scalar === 'bytes') {
    // A Go []byte: nil unless on the wire; omitempty drops an empty one too.
    if (v === undefined) return omit ? OMIT : null;
    if (f.omitempty && (v as Buffer).length === 0) return OMIT;
    return scalarJson(v);
  }
  const value = v === undefined ? zeroScalar(f.scalar!) : v;
  if (omit && isZeroScalar(value)) return OMIT;
  return scalarJson(value);
}

/** The Go JSON of a decoded message (`m` undefined: Go's zero value of the struct). */
export function toGoJson(plan: MessagePlan, m: Msg | undefined, path: string): JsonObject {
  const out: JsonObject = {};
  for (const f of plan.fields) {
    const v = m?.[f.name];
    if (f.inline) {
      if (f.pointer && v === undefined) continue;
      const sub = messagePlan(f.message!);
      const inner = sub.custom ? sub.custom.toJson(v as Msg | undefined, path) : toGoJson(sub, v as Msg | undefined, path);
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) {
        throw new K8sProtobufError(`${path}: inline ${f.message} is not a JSON object`);
      }
      // A field of the outer struct wins over an inline one of the same name.
      for (const [k, x] of Object.entries(inner)) if (!plan.directJsonNames.has(k) && !Object.hasOwn(out, k)) setKey(out, k, x);
      continue;
    }
    const value = fieldJson(f, v, `${path}.${f.json}`);
    if (value !== OMIT) setKey(out, f.json, value);
  }
  return out;
}

/** Go's reflect zero (or IsZero) of the struct value a decoded message gives, for omitzero. */
export function isGoZero(plan: MessagePlan, m: Msg | undefined): boolean {
  if (m === undefined) return true;
  if (plan.custom) return plan.custom.isZero(m);
  for (const f of plan.fields) {
    const v = m[f.name];
    if (v === undefined) continue;
    if (f.label !== 'optional' || f.pointer) return false;
    if (f.message !== undefined) {
      if (!isGoZero(messagePlan(f.message), v as Msg)) return false;
    } else if (f.scalar === 'bytes' || !isZeroScalar(v)) {
      return false;
    }
  }
  return true;
}

// ---- JSON -> wire -------------------------------------------------------------------

function fail(path: string, what: string): never {
  throw new K8sProtobufError(`${path}: ${what}`);
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function scalarFromJson(type: ScalarType, v: unknown, path: string): WireValue {
  switch (type) {
    case 'string':
      if (typeof v !== 'string') fail(path, `expected a string, got ${JSON.stringify(v)}`);
      return v;
    case 'bool':
      if (typeof v !== 'boolean') fail(path, `expected a boolean, got ${JSON.stringify(v)}`);
      return v;
    case 'int32':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) fail(path, `expected an int32, got ${JSON.stringify(v)}`);
      return v;
    case 'int64':
      if (typeof v === 'bigint' && BigInt.asIntN(64, v) === v) return v;
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, `expected an int64, got ${String(v)}`);
      return BigInt(v);
    case 'bytes':
      if (typeof v !== 'string' || !BASE64.test(v)) fail(path, 'expected base64 data');
      return Buffer.from(v, 'base64');
  }
}

function elementFromJson(f: FieldPlan, v: unknown, path: string): WireValue {
  if (f.message === undefined) return scalarFromJson(f.scalar!, v, path);
  return fromGoJson(messagePlan(f.message), v, path);
}

/** JSON -> the Msg client-go's Marshal would write for the Go struct json.Unmarshal fills from it. */
export function fromGoJson(plan: MessagePlan, json: unknown, path: string): Msg {
  if (plan.custom) return plan.custom.fromJson(json, path);
  if (json !== undefined && json !== null && !isObject(json)) fail(path, `expected an object, got ${JSON.stringify(json)}`);
  const obj: JsonObject = json ?? {};
  const m = newMsg();
  for (const f of plan.fields) {
    if (f.inline) {
      const sub = messagePlan(f.message!);
      if (f.pointer && !sub.fields.some((sf) => Object.hasOwn(obj, sf.json))) continue;
      m[f.name] = fromGoJson(sub, obj, path);
      continue;
    }
    const p = `${path}.${f.json}`;
    const v = Object.hasOwn(obj, f.json) ? obj[f.json] : undefined;
    if (f.label === 'repeated') {
      if (v === undefined || v === null) continue;
      if (!Array.isArray(v)) fail(p, 'expected a list');
      if (v.length > 0) m[f.name] = v.map((x, i) => elementFromJson(f, x, `${p}[${i}]`));
      continue;
    }
    if (f.label === 'map') {
      if (v === undefined || v === null) continue;
      if (!isObject(v)) fail(p, 'expected an object');
      const map = new Map<string, WireValue | undefined>();
      for (const k of Object.keys(v)) {
        const x = v[k];
        map.set(k, x === null && f.scalar === 'bytes' ? undefined : elementFromJson(f, x, `${p}[${JSON.stringify(k)}]`));
      }
      if (map.size > 0) m[f.name] = map;
      continue;
    }
    if ((f.pointer || f.scalar === 'bytes') && (v === undefined || v === null)) continue;
    if (f.message !== undefined) m[f.name] = fromGoJson(messagePlan(f.message), v, p);
    else m[f.name] = v === undefined || v === null ? zeroScalar(f.scalar!) : scalarFromJson(f.scalar!, v, p);
  }
  return m;
}

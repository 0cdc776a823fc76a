/**
 * A key-value map with etcd-like single-key operations, partitioned per key.
 *
 * Revisions are not checked: etcd's revision is a store-wide counter, so it
 * cannot be checked one key at a time; `revision` on put outputs is accepted
 * and ignored.
 */
import { UNKNOWN } from '../types';
import type { Model, Operation, Unknown } from '../types';
import { hashString, mix32 } from '../hash';

export type KvInput =
  | { op: 'put'; key: string; value: string }
  | { op: 'get'; key: string }
  | { op: 'delete'; key: string }
  /** Single-key compare-and-set txn: if value(key) === expect (null = absent) then put value. */
  | { op: 'cas'; key: string; expect: string | null; value: string };

export type KvPutOutput = { ok: true; revision?: number };
/** `null` = the key is absent. */
export type KvGetOutput = { value: string | null };
/** How many keys were deleted: 0 or 1. */
export type KvDeleteOutput = { deleted: number };
export type KvCasOutput = { succeeded: boolean };
export type KvOutput = KvPutOutput | KvGetOutput | KvDeleteOutput | KvCasOutput;

export type KvOperation = Operation<KvInput, KvOutput>;
/**
 * The present keys and their values, sorted by key; never mutated. (A small
 * array rather than a Map: with one key per partition it is much cheaper to
 * copy, and the checker copies on every write it tries.)
 */
export type KvState = readonly (readonly [key: string, value: string])[];

const EMPTY: KvState = [];

function lookup(state: KvState, key: string): string | null {
  for (const [k, v] of state) if (k === key) return v;
  return null;
}

function malformed(input: KvInput, output: unknown): never {
  throw new TypeError(`kvModel: output ${JSON.stringify(output)} does not fit ${input.op} (${JSON.stringify(input)})`);
}

function withValue(state: KvState, key: string, value: string | null): KvState {
  if (lookup(state, key) === value) return state;
  const next = state.filter(([k]) => k !== key);
  if (value !== null) {
    let at = 0;
    while (at < next.length && next[at][0] < key) at++;
    next.splice(at, 0, [key, value]);
  }
  return next;
}

function step(state: KvState, input: KvInput, output: KvOutput | Unknown): [boolean, KvState] {
  const current = lookup(state, input.key);
  switch (input.op) {
    case 'put':
      if (output !== UNKNOWN && !('ok' in output && output.ok === true)) malformed(input, output);
      return [true, withValue(state, input.key, input.value)];
    case 'get':
      if (output === UNKNOWN) return [true, state];
      if (!('value' in output)) malformed(input, output);
      return [output.value === current, state];
    case 'delete': {
      if (output === UNKNOWN) return [true, withValue(state, input.key, null)];
      if (!('deleted' in output)) malformed(input, output);
      return [output.deleted === (current === null ? 0 : 1), withValue(state, input.key, null)];
    }
    case 'cas': {
      const matches = current === input.expect;
      const after = matches ? withValue(state, input.key, input.value) : state;
      if (output === UNKNOWN) return [true, after];
      if (!('succeeded' in output)) malformed(input, output);
      return [output.succeeded === matches, after];
    }
    default:
      throw new TypeError(`kvModel: unknown operation ${JSON.stringify(input)}`);
  }
}

function equal(a: KvState, b: KvState): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) return false;
  return true;
}

function hash(state: KvState): number {
  let h = state.length;
  for (const [key, value] of state) h = mix32(h ^ hashString(key) ^ Math.imul(hashString(value), 0x27d4eb2d));
  return h;
}

function show(value: string | null): string {
  return value === null ? '<absent>' : JSON.stringify(value);
}

function describeOperation(input: KvInput, output: KvOutput | Unknown): string {
  const k = JSON.stringify(input.key);
  const call =
    input.op === 'put'
      ? `put(${k}, ${show(input.value)})`
      : input.op === 'cas'
        ? `cas(${k}, expect ${show(input.expect)}, set ${show(input.value)})`
        : `${input.op}(${k})`;
  if (output === UNKNOWN) return `${call} -> ? (no response)`;
  let result: string;
  if ('value' in output) result = show(output.value);
  else if ('deleted' in output) result = `deleted ${output.deleted}`;
  else if ('succeeded' in output) result = output.succeeded ? 'succeeded' : 'failed';
  else result = output.revision === undefined ? 'ok' : `ok (revision ${output.revision})`;
  return `${call} -> ${result}`;
}

/**
 * Split per key. Gets with an UNKNOWN output are dropped: they change nothing
 * and may read anything, so they cannot affect the verdict, and each pending
 * operation left in would enlarge the search.
 */
function partition(history: readonly KvOperation[]): KvOperation[][] {
  const byKey = new Map<string, KvOperation[]>();
  for (const op of history) {
    if (op.input.op === 'get' && op.output === UNKNOWN) continue;
    const part = byKey.get(op.input.key);
    if (part === undefined) byKey.set(op.input.key, [op]);
    else part.push(op);
  }
  return [...byKey.values()];
}

/**
 * The model for kubets-kv histories: put/get/delete and a single-key
 * compare-and-set, partitioned per key. UNKNOWN outputs (timeouts) are
 * accepted whether or not the operation took effect.
 */
export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => EMPTY,
  step,
  equal,
  hash,
  partition,
  partitionLabel: (part) => (part.length === 0 ? 'empty partition' : `key ${JSON.stringify(part[0].input.key)}`),
  describeOperation,
  describeState: (state) =>
    state.length === 0 ? '{}' : `{${state.map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`,
};

/**
 * Test support: histories of a simulated atomic KV store, mutations that
 * provably break linearizability, and an independent brute-force oracle.
 */
import { UNKNOWN } from '../../src/types';
import type { KvInput, KvOperation, KvOutput } from '../../src/models/kv';

export type Random = () => number;

export interface SimOptions {
  clients: number;
  opsPerClient: number;
  keys: readonly string[];
  /** Probability that an operation never gets a response (default 0). */
  pendingRate?: number;
  /** Relative weights of the operation kinds. */
  mix?: { put: number; get: number; delete: number; cas: number };
  /**
   * Idle time between a client's operations, in [minGap, minGap + maxGap]
   * (defaults 1 and 5). With minGap 0 a client's next call can coincide with
   * its last return, which the checker treats as overlapping.
   */
  minGap?: number;
  maxGap?: number;
  /** Max time from call to linearization point, and from there to return (default 10). */
  maxLatency?: number;
}

const int = (random: Random, max: number): number => Math.floor(random() * (max + 1));

interface Planned {
  clientId: number;
  kind: KvInput['op'];
  key: string;
  value: string;
  call: number;
  /** The hidden linearization point. */
  point: number;
  return: number;
  pending: boolean;
  /** For pending operations: whether it takes effect at `point` at all. */
  takesEffect: boolean;
  seq: number;
}

/**
 * Concurrent clients against one atomic map: each operation takes effect at a
 * hidden instant between its call and return, so the history is linearizable
 * by construction. Times are small integers, so ties happen. Put and cas
 * values are unique. Pending operations take effect later or never; the
 * client moves on after a timeout.
 */
export function simulateKv(random: Random, options: SimOptions): KvOperation[] {
  const mix = options.mix ?? { put: 3, get: 4, delete: 1, cas: 2 };
  const total = mix.put + mix.get + mix.delete + mix.cas;
  const minGap = options.minGap ?? 1;
  const maxGap = options.maxGap ?? 5;
  const maxLatency = options.maxLatency ?? 10;
  const pendingRate = options.pendingRate ?? 0;
  const planned: Planned[] = [];
  let seq = 0;
  for (let clientId = 1; clientId <= options.clients; clientId++) {
    let t = int(random, maxGap);
    for (let i = 0; i < options.opsPerClient; i++) {
      const r = random() * total;
      const kind: KvInput['op'] = r < mix.put ? 'put' : r < mix.put + mix.get ? 'get' : r < mix.put + mix.get + mix.delete ? 'delete' : 'cas';
      const key = options.keys[int(random, options.keys.length - 1)];
      const call = t + minGap + int(random, maxGap);
      const pending = random() < pendingRate;
      const point = call + int(random, pending ? 4 * maxLatency : maxLatency);
      const ret = pending ? Infinity : point + int(random, maxLatency);
      planned.push({ clientId, kind, key, value: `v${seq}`, call, point, return: ret, pending, takesEffect: !pending || random() < 0.5, seq });
      seq++;
      t = pending ? call + 2 * maxLatency : ret;
    }
  }

  const store = new Map<string, string>();
  const written: string[] = [];
  const history: KvOperation[] = [];
  for (const p of [...planned].sort((a, b) => a.point - b.point || a.seq - b.seq)) {
    const current = store.get(p.key) ?? null;
    let input: KvInput;
    let output: KvOutput;
    switch (p.kind) {
      case 'put':
        input = { op: 'put', key: p.key, value: p.value };
        output = { ok: true, revision: p.seq + 1 };
        if (p.takesEffect) store.set(p.key, p.value);
        break;
      case 'get':
        input = { op: 'get', key: p.key };
        output = { value: current };
        break;
      case 'delete':
        input = { op: 'delete', key: p.key };
        output = { deleted: current === null ? 0 : 1 };
        if (p.takesEffect) store.delete(p.key);
        break;
      case 'cas': {
        // Mostly expect the current value, so that many succeed.
        const roll = random();
        const expect = roll < 0.6 ? current : roll < 0.8 || written.length === 0 ? null : written[int(random, written.length - 1)];
        input = { op: 'cas', key: p.key, expect, value: p.value };
        output = { succeeded: current === expect };
        if (p.takesEffect && current === expect) store.set(p.key, p.value);
        break;
      }
    }
    if (p.kind === 'put' || p.kind === 'cas') written.push(p.value);
    history.push({ clientId: p.clientId, input, call: p.call, output: p.pending ? UNKNOWN : output, return: p.return });
  }
  return shuffle(random, history);
}

export function shuffle<T>(random: Random, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = int(random, i);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const known = (op: KvOperation): boolean => op.output !== UNKNOWN;

/** Does `op` certainly overwrite `key` with something other than `value` (per its recorded output)? */
function definitelyOverwrites(op: KvOperation, key: string, value: string | null): boolean {
  if (!known(op) || op.input.key !== key) return false;
  const input = op.input;
  if (input.op === 'put') return input.value !== value;
  if (input.op === 'delete') return value !== null;
  if (input.op === 'cas') return (op.output as { succeeded: boolean }).succeeded && input.value !== value;
  return false;
}

/** Could `op` have set `key` to `value`? (Initial absence is handled by the caller.) */
function mayWrite(op: KvOperation, key: string, value: string | null): boolean {
  const input = op.input;
  if (input.key !== key) return false;
  if (value === null) return input.op === 'delete';
  if (input.op === 'put') return input.value === value;
  if (input.op === 'cas') return input.value === value && (!known(op) || (op.output as { succeeded: boolean }).succeeded);
  return false;
}

/**
 * True if a completed get of `read` returning `value` cannot be linearized in
 * `history`, whatever the other outputs: every operation that could have
 * written `value` (including the initial absence) either began after the read
 * returned, or was certainly overwritten by an operation that began after it
 * returned and returned before the read began.
 */
export function provablyIllegalRead(history: readonly KvOperation[], read: KvOperation, value: string | null): boolean {
  const key = read.input.key;
  // The latest call among certain overwrites that returned before the read began.
  let latestOverwrite = -Infinity;
  for (const x of history) {
    if (x !== read && definitelyOverwrites(x, key, value) && Number(x.return) < Number(read.call)) latestOverwrite = Math.max(latestOverwrite, Number(x.call));
  }
  const overwritten = (sourceReturn: number): boolean => sourceReturn < latestOverwrite;
  if (value === null && !overwritten(-Infinity)) return false; // the initial absence
  return history.every(
    (op) =>
      op === read ||
      !mayWrite(op, key, value) ||
      Number(op.call) > Number(read.return) ||
      overwritten(op.output === UNKNOWN ? Infinity : Number(op.return)),
  );
}

export type MutationKind = 'never-written' | 'stale' | 'future' | 'swap';

export interface Mutation {
  kind: MutationKind;
  history: KvOperation[];
  /** Whether the mutated history is provably not linearizable (by `provablyIllegalRead`). */
  provable: boolean;
  note: string;
}

const isKnownGet = (op: KvOperation): boolean => op.input.op === 'get' && known(op);
const pick = <T>(random: Random, items: readonly T[]): T | undefined => (items.length === 0 ? undefined : items[int(random, items.length - 1)]);

/**
 * Change the output of one or two completed gets. Returns undefined if the
 * history offers nothing to mutate for this kind.
 */
export function mutate(random: Random, history: readonly KvOperation[], kind: MutationKind): Mutation | undefined {
  const copy = history.map((op) => ({ ...op }));
  const gets = copy.filter(isKnownGet);
  const setGet = (op: KvOperation, value: string | null): void => {
    op.output = { value };
  };
  const valueOf = (op: KvOperation): string | null => (op.output as { value: string | null }).value;
  const writtenValues = (key: string): string[] =>
    copy.filter((op) => op.input.key === key && (op.input.op === 'put' || op.input.op === 'cas')).map((op) => (op.input as { value: string }).value);

  switch (kind) {
    case 'never-written': {
      const read = pick(random, gets);
      if (!read) return undefined;
      setGet(read, 'never-written');
      return { kind, history: copy, provable: provablyIllegalRead(copy, read, 'never-written'), note: 'a get returns a value nobody wrote' };
    }
    case 'stale':
    case 'future': {
      // Sample (read, value) choices of this kind; prefer a provable one.
      const writerOf = new Map<string, KvOperation>();
      for (const op of copy) if ('value' in op.input) writerOf.set(op.input.value, op);
      let fallback: [KvOperation, string | null] | undefined;
      for (let attempt = 0; attempt < 200 && gets.length > 0; attempt++) {
        const read = pick(random, gets)!;
        const values = writtenValues(read.input.key);
        const v = random() < 0.15 || values.length === 0 ? null : values[int(random, values.length - 1)];
        if (v === valueOf(read)) continue;
        const writer = v === null ? undefined : writerOf.get(v);
        const future = writer !== undefined && Number(writer.call) > Number(read.return);
        if ((kind === 'future') !== future) continue;
        fallback = [read, v];
        if (provablyIllegalRead(copy, read, v)) break;
      }
      if (fallback === undefined) return undefined;
      const [read, v] = fallback;
      setGet(read, v);
      return {
        kind,
        history: copy,
        provable: provablyIllegalRead(copy, read, v),
        note: kind === 'stale' ? 'a get returns an overwritten value' : 'a get returns a value written only later',
      };
    }
    case 'swap': {
      // Sample pairs of sequential gets on one key with different results.
      for (let attempt = 0; attempt < 200 && gets.length > 1; attempt++) {
        const a = pick(random, gets)!;
        const b = pick(random, gets)!;
        if (a === b || a.input.key !== b.input.key || !(Number(a.return) < Number(b.call)) || valueOf(a) === valueOf(b)) continue;
        const va = valueOf(a);
        const vb = valueOf(b);
        setGet(a, vb);
        setGet(b, va);
        const provable = provablyIllegalRead(copy, a, vb) || provablyIllegalRead(copy, b, va);
        if (provable || attempt >= 150) return { kind, history: copy, provable, note: 'two sequential gets swap their results' };
        setGet(a, va);
        setGet(b, vb);
      }
      return undefined;
    }
  }
}

/**
 * Perturb the outputs of a few completed operations at random (no promise
 * about linearizability): gets read another written value or absence, deletes
 * and cas flip their result.
 */
export function perturb(random: Random, history: readonly KvOperation[], changes: number): KvOperation[] {
  const copy = history.map((op) => ({ ...op }));
  const targets = copy.filter((op) => known(op) && op.input.op !== 'put');
  for (let i = 0; i < changes && targets.length > 0; i++) {
    const op = pick(random, targets)!;
    const input = op.input;
    if (input.op === 'get') {
      const values = [null, ...copy.filter((o) => o.input.key === input.key && 'value' in o.input).map((o) => (o.input as { value: string }).value)];
      op.output = { value: pick(random, values)! };
    } else if (input.op === 'delete') {
      op.output = { deleted: 1 - (op.output as { deleted: number }).deleted };
    } else if (input.op === 'cas') {
      op.output = { succeeded: !(op.output as { succeeded: boolean }).succeeded };
    }
  }
  return copy;
}

/**
 * An independent oracle: search over orders of the whole (unpartitioned)
 * history. An operation can be placed once every completed operation that
 * returned strictly before its call is placed. Pending operations may be
 * placed (took effect) or never placed (did not). Its own KV semantics.
 * Memoises failed (placed set, state) pairs; for histories up to ~20 ops.
 */
export function bruteForceLinearizable(history: readonly KvOperation[]): boolean {
  const n = history.length;
  if (n > 30) throw new Error('bruteForceLinearizable: history too long');
  const completed = history.map(known);
  const mustFollow: number[][] = history.map((b) => history.flatMap((a, j) => (known(a) && Number(a.return) < Number(b.call) ? [j] : [])));
  let completedMask = 0;
  completed.forEach((c, i) => {
    if (c) completedMask |= 1 << i;
  });
  const failed = new Set<string>();

  const apply = (state: ReadonlyMap<string, string>, op: KvOperation): ReadonlyMap<string, string> | undefined => {
    const input = op.input;
    const had = state.get(input.key);
    const out = op.output;
    let next: Map<string, string> | undefined;
    let actual: KvOutput;
    if (input.op === 'get') actual = { value: had ?? null };
    else if (input.op === 'put') {
      next = new Map(state).set(input.key, input.value);
      actual = { ok: true };
    } else if (input.op === 'delete') {
      next = new Map(state);
      next.delete(input.key);
      actual = { deleted: had === undefined ? 0 : 1 };
    } else {
      const ok = (had ?? null) === input.expect;
      if (ok) next = new Map(state).set(input.key, input.value);
      actual = { succeeded: ok };
    }
    if (out !== UNKNOWN) {
      const same =
        ('value' in actual && 'value' in out && actual.value === out.value) ||
        ('ok' in actual && 'ok' in out) ||
        ('deleted' in actual && 'deleted' in out && actual.deleted === out.deleted) ||
        ('succeeded' in actual && 'succeeded' in out && actual.succeeded === out.succeeded);
      if (!same) return undefined;
    }
    return next ?? state;
  };

  const search = (placed: number, state: ReadonlyMap<string, string>): boolean => {
    if ((placed & completedMask) === completedMask) return true;
    const memo = `${placed}|${[...state].sort().join(';')}`;
    if (failed.has(memo)) return false;
    for (let i = 0; i < n; i++) {
      if (placed & (1 << i)) continue;
      if (!mustFollow[i].every((j) => placed & (1 << j))) continue;
      const next = apply(state, history[i]);
      if (next !== undefined && search(placed | (1 << i), next)) return true;
    }
    failed.add(memo);
    return false;
  };
  return search(0, new Map());
}

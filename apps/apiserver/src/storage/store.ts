import { EtcdClient, EtcdError, prefixEnd, txnOp } from '@kubets/etcd-client';
import type { Compare, RequestOp, TxnResponse } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { Compare_CompareResult, Compare_CompareTarget } from '@kubets/proto/etcd/etcdserverpb/rpc';
import * as errors from '@kubets/api-machinery';
import type { KObject } from '../registry/types';

/**
 * The API server's only door to the KV: Kubernetes objects as JSON values under
 * /registry/<resource>/[<namespace>/]<name>, with the KV's mod revision as the
 * object's resourceVersion (it is never stored in the value).
 *
 * Writes are single transactions guarded by the revision they were computed
 * from, so two API server replicas can never overwrite each other's changes.
 */
export const REGISTRY_PREFIX = '/registry/';

export interface Stored {
  obj: KObject;
  /** mod revision: the object's resourceVersion */
  rev: number;
}

export interface ListResult {
  items: Stored[];
  /** the KV revision the list was read at */
  rev: number;
  /** key to continue from, when a limit cut the list short */
  continueKey?: string;
  remaining?: number;
}

/** Extra keys written atomically with an object (e.g. a ClusterIP allocation). */
export interface SideEffects {
  /** keys that must not exist yet, created with the given value */
  create?: Array<{ key: string; value: string }>;
  /** keys to delete */
  delete?: string[];
}

export class CompactedError extends Error {
  constructor(readonly compactRevision: number, readonly currentRevision: number) {
    super(`compacted at ${compactRevision}`);
  }
}

const enc = (s: string) => Buffer.from(s, 'utf8');

export function decodeObject(value: Uint8Array, rev: number): KObject {
  const obj = JSON.parse(Buffer.from(value).toString('utf8')) as KObject;
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(rev);
  return obj;
}

function encodeObject(obj: KObject): Buffer {
  const meta = obj.metadata;
  const rv = meta?.resourceVersion;
  if (meta && rv !== undefined) delete meta.resourceVersion;
  try {
    return Buffer.from(JSON.stringify(obj), 'utf8');
  } finally {
    if (meta && rv !== undefined) meta.resourceVersion = rv;
  }
}

function cmp(key: string, target: 'mod' | 'create', value: number): Compare {
  return {
    key: enc(key),
    rangeEnd: Buffer.alloc(0),
    result: Compare_CompareResult.EQUAL,
    target: target === 'mod' ? Compare_CompareTarget.MOD : Compare_CompareTarget.CREATE,
    targetUnion: target === 'mod' ? { $case: 'modRevision', value: BigInt(value) } : { $case: 'createRevision', value: BigInt(value) },
  } as Compare;
}

const putOp = (key: string, value: Buffer | string): RequestOp => txnOp.put(enc(key), typeof value === 'string' ? Buffer.from(value) : value);
const delOp = (key: string): RequestOp => txnOp.delete(enc(key));
const getOp = (key: string): RequestOp => txnOp.get(enc(key));

function isCompacted(e: unknown): boolean {
  return e instanceof EtcdError && /required revision has been compacted/.test(e.message);
}

function isFutureRev(e: unknown): boolean {
  return e instanceof EtcdError && /required revision is a future revision/.test(e.message);
}

/** Turn a KV failure into the Status a Kubernetes client expects. */
export function kvError(e: unknown): Error {
  if (errors.isStatusError(e)) return e;
  if (e instanceof EtcdError) {
    if (/request timed out|no leader|leader changed|DEADLINE|unavailable/i.test(e.message) || e.code === 4 || e.code === 14) {
      return errors.timeout(`etcd: ${e.message}`);
    }
    return errors.internal(`etcd: ${e.message}`);
  }
  return e as Error;
}

export class Store {
  constructor(readonly kv: EtcdClient) {}

  async get(key: string, opts: { revision?: number } = {}): Promise<Stored | undefined> {
    try {
      const r = await this.kv.get(key, { revision: opts.revision });
      const kv = r.kvs[0];
      if (!kv) return undefined;
      const rev = Number(kv.modRevision);
      return { obj: decodeObject(kv.value, rev), rev };
    } catch (e) {
      if (isCompacted(e)) throw new CompactedError(0, 0);
      if (isFutureRev(e)) throw errors.timeout(`Too large resource version: ${opts.revision}`);
      throw kvError(e);
    }
  }

  /**
   * Objects under a prefix, in key order. `revision` reads a consistent past
   * state (paging continues at the revision of its first page); `limit` cuts
   * the page; `filter` is applied before counting so a limit counts matches.
   */
  async list(
    prefix: string,
    opts: { revision?: number; limit?: number; startKey?: string; serializable?: boolean; filter?: (o: KObject) => boolean } = {},
  ): Promise<ListResult> {
    const end = prefixEnd(prefix);
    let start = opts.startKey ?? prefix;
    let revision = opts.revision ?? 0;
    const items: Stored[] = [];
    const want = opts.limit && opts.limit > 0 ? opts.limit : 0;
    let readRev = 0;
    for (;;) {
      const batch = want > 0 ? Math.max(want - items.length, 64) + 1 : 0;
      let r;
      try {
        r = await this.kv.range({
          key: enc(start),
          rangeEnd: end,
          limit: BigInt(batch),
          revision: BigInt(revision),
          serializable: opts.serializable ?? false,
        });
      } catch (e) {
        if (isCompacted(e)) throw new CompactedError(0, 0);
        if (isFutureRev(e)) throw errors.timeout(`Too large resource version: ${revision}`);
        throw kvError(e);
      }
      readRev = Number(r.header?.revision ?? 0n);
      if (revision === 0) revision = readRev;
      let lastKey: string | undefined;
      for (const kv of r.kvs) {
        lastKey = Buffer.from(kv.key).toString('utf8');
        const rev = Number(kv.modRevision);
        const obj = decodeObject(kv.value, rev);
        if (opts.filter && !opts.filter(obj)) continue;
        items.push({ obj, rev });
        if (want > 0 && items.length === want) {
          const more = r.more || r.kvs[r.kvs.length - 1] !== kv;
          if (more) return { items, rev: revision, continueKey: lastKey + '\x00' };
          return { items, rev: revision };
        }
      }
      if (!r.more || lastKey === undefined) return { items, rev: revision };
      start = lastKey + '\x00';
    }
  }

  private async txn(compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): Promise<TxnResponse> {
    try {
      return await this.kv.txn({ compare, success, failure });
    } catch (e) {
      throw kvError(e);
    }
  }

  /** Create if absent. Returns the new revision, or undefined if the key exists (or a side-effect key does). */
  async create(key: string, obj: KObject, side: SideEffects = {}): Promise<{ rev: number } | { exists: 'object' | 'side' }> {
    const compare = [cmp(key, 'create', 0), ...(side.create ?? []).map((c) => cmp(c.key, 'create', 0))];
    const success = [putOp(key, encodeObject(obj)), ...(side.create ?? []).map((c) => putOp(c.key, c.value)), ...(side.delete ?? []).map(delOp)];
    const r = await this.txn(compare, success, [getOp(key)]);
    if (r.succeeded) return { rev: Number(r.header!.revision) };
    const got = r.responses[0]?.response;
    const exists = got?.$case === 'responseRange' && got.value.kvs.length > 0;
    return { exists: exists ? 'object' : 'side' };
  }

  /** Replace the object if it is still at `expectRev`; else return the current state (undefined if gone). */
  async update(key: string, obj: KObject, expectRev: number, side: SideEffects = {}): Promise<{ rev: number } | { current: Stored | undefined; side?: true }> {
    const compare = [cmp(key, 'mod', expectRev), ...(side.create ?? []).map((c) => cmp(c.key, 'create', 0))];
    const success = [putOp(key, encodeObject(obj)), ...(side.create ?? []).map((c) => putOp(c.key, c.value)), ...(side.delete ?? []).map(delOp)];
    const r = await this.txn(compare, success, [getOp(key)]);
    if (r.succeeded) return { rev: Number(r.header!.revision) };
    return this.failed(r);
  }

  /** Delete the object if it is still at `expectRev`. */
  async delete(key: string, expectRev: number, side: SideEffects = {}): Promise<{ rev: number } | { current: Stored | undefined; side?: true }> {
    const r = await this.txn([cmp(key, 'mod', expectRev)], [delOp(key), ...(side.delete ?? []).map(delOp)], [getOp(key)]);
    if (r.succeeded) return { rev: Number(r.header!.revision) };
    return this.failed(r);
  }

  private failed(r: TxnResponse): { current: Stored | undefined; side?: true } {
    const got = r.responses[0]?.response;
    if (got?.$case !== 'responseRange') return { current: undefined };
    const kv = got.value.kvs[0];
    if (!kv) return { current: undefined };
    const rev = Number(kv.modRevision);
    return { current: { obj: decodeObject(kv.value, rev), rev }, side: true };
  }

  /** Raw key read (allocation bitmaps and the like). */
  async keys(prefix: string): Promise<string[]> {
    try {
      const r = await this.kv.get(prefix, { prefix: true, keysOnly: true });
      return r.kvs.map((kv) => Buffer.from(kv.key).toString('utf8'));
    } catch (e) {
      throw kvError(e);
    }
  }

  async currentRevision(): Promise<number> {
    try {
      const r = await this.kv.get('/registry/\x00', { countOnly: true });
      return Number(r.header?.revision ?? 0n);
    } catch (e) {
      throw kvError(e);
    }
  }
}

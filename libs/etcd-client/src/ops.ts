// Whole etcd v3 request messages from the fields that matter, for callers
// that build Txn operations themselves (the rest take proto3 defaults).
import type { PutRequest, RangeRequest, RequestOp } from '@kubets/proto/etcd/etcdserverpb/rpc';

const EMPTY = Buffer.alloc(0);

/** A RangeRequest: `key` plus whatever else is given, every other field at its default. */
export function rangeRequest(req: Partial<RangeRequest> & { key: Uint8Array }): RangeRequest {
  return {
    rangeEnd: EMPTY,
    limit: 0n,
    revision: 0n,
    sortOrder: 0,
    sortTarget: 0,
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0n,
    maxModRevision: 0n,
    minCreateRevision: 0n,
    maxCreateRevision: 0n,
    ...req,
  };
}

/** A PutRequest of `value` at `key`, without lease or prev_kv. */
export function putRequest(key: Buffer, value: Buffer, extra: Partial<PutRequest> = {}): PutRequest {
  return { key, value, lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false, ...extra };
}

/** Txn operations on one key. */
export const txnOp = {
  get: (key: Buffer): RequestOp => ({ request: { $case: 'requestRange', value: rangeRequest({ key }) } }),
  put: (key: Buffer, value: Buffer): RequestOp => ({ request: { $case: 'requestPut', value: putRequest(key, value) } }),
  delete: (key: Buffer): RequestOp => ({ request: { $case: 'requestDeleteRange', value: { key, rangeEnd: EMPTY, prevKv: false } } }),
};

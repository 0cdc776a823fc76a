import type { KeyValue } from '@kubets/proto/etcd/mvccpb/kv';
import {
  Compare,
  Compare_CompareResult,
  Compare_CompareTarget,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type CompactionResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseRevokeResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type RequestOp,
  type ResponseHeader,
  type ResponseOp,
  type TxnRequest,
  type TxnResponse,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import { ApplyError, Errors } from '../errors';
import { Lessor, MAX_LEASE_TTL, NO_LEASE } from '../lease/lessor';
import { CompactedError, FutureRevisionError } from '../mvcc/errors';
import { keyString, toKeyRange, type MvccEvent, type MvccStore, type RangeResult, type WriteTxn, type KeyRange, type RangeOptions } from '../mvcc/store';

/** Something ranges can be read from: the committed store or a write transaction. */
interface Reader {
  range(range: KeyRange, options?: RangeOptions): RangeResult;
}

const EMPTY = Buffer.alloc(0);

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: BigInt(revision), raftTerm: 0n };
}

/** MVCC errors as etcd's client-visible errors. */
export function mvccToApply(err: unknown): never {
  if (err instanceof CompactedError) throw new ApplyError(Errors.compacted());
  if (err instanceof FutureRevisionError) throw new ApplyError(Errors.futureRev());
  throw err;
}

function isTxnReadOnly(req: TxnRequest): boolean {
  const ops = (list: RequestOp[]) =>
    list.every((op) => {
      const r = op.request;
      if (!r || r.$case === 'requestRange') return true;
      if (r.$case === 'requestTxn') return isTxnReadOnly(r.value);
      return false;
    });
  return ops(req.success) && ops(req.failure);
}

export { isTxnReadOnly };

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function cmpInt(have: bigint, want: bigint): number {
  return have === want ? 0 : have > want ? 1 : -1;
}

function compareKV(c: Compare, kv: KeyValue | undefined): boolean {
  let result: number;
  const u = c.targetUnion;
  switch (c.target) {
    case Compare_CompareTarget.VALUE: {
      const want = u?.$case === 'value' ? u.value : EMPTY;
      result = compareBytes(kv?.value ?? EMPTY, want);
      break;
    }
    case Compare_CompareTarget.CREATE:
      result = cmpInt(kv?.createRevision ?? 0n, u?.$case === 'createRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.MOD:
      result = cmpInt(kv?.modRevision ?? 0n, u?.$case === 'modRevision' ? u.value : 0n);
      break;
    case Compare_CompareTarget.VERSION:
      result = cmpInt(kv?.version ?? 0n, u?.$case === 'version' ? u.value : 0n);
      break;
    case Compare_CompareTarget.LEASE:
      result = cmpInt(kv?.lease ?? 0n, u?.$case === 'lease' ? u.value : 0n);
      break;
    default:
      result = 0;
  }
  switch (c.result) {
    case Compare_CompareResult.EQUAL:
      return result === 0;
    case Compare_CompareResult.NOT_EQUAL:
      return result !== 0;
    case Compare_CompareResult.GREATER:
      return result > 0;
    case Compare_CompareResult.LESS:
      return result < 0;
    default:
      return true;
  }
}

/** Branch choices for a txn and its nested txns, decided against the state before the txn. */
interface TxnPath {
  succeeded: boolean;
  nested: TxnPath[];
}

/**
 * The kubets-kv state machine: applies committed requests to the MVCC store
 * and the lessor, with etcd 3.4's semantics. Every member applies the same
 * entries in the same order and reaches the same state and results; errors
 * are thrown as ApplyError and are part of that deterministic result.
 */
export class Applier {
  constructor(
    readonly store: MvccStore,
    readonly lessor: Lessor,
  ) {}

  // ---- reads ----

  range(req: RangeRequest, reader: Reader = this.store): RangeResponse {
    let limit = Number(req.limit);
    const filtered =
      req.sortOrder !== RangeRequest_SortOrder.NONE ||
      req.minModRevision !== 0n ||
      req.maxModRevision !== 0n ||
      req.minCreateRevision !== 0n ||
      req.maxCreateRevision !== 0n;
    if (filtered) limit = 0;
    if (limit > 0) limit += 1; // one extra tells whether there is more
    let rr: RangeResult;
    try {
      rr = reader.range(toKeyRange(req.key, req.rangeEnd), {
        rev: Number(req.revision),
        limit,
        countOnly: req.countOnly,
      });
    } catch (err) {
      mvccToApply(err);
    }
    let kvs = rr.kvs;
    if (req.maxModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision <= req.maxModRevision);
    if (req.minModRevision !== 0n) kvs = kvs.filter((kv) => kv.modRevision >= req.minModRevision);
    if (req.maxCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision <= req.maxCreateRevision);
    if (req.minCreateRevision !== 0n) kvs = kvs.filter((kv) => kv.createRevision >= req.minCreateRevision);
    let order = req.sortOrder;
    if (req.sortTarget !== RangeRequest_SortTarget.KEY && order === RangeRequest_SortOrder.NONE) {
      order = RangeRequest_SortOrder.ASCEND; // results come in key order; other targets sort ascending by default
    }
    if (order === RangeRequest_SortOrder.ASCEND || order === RangeRequest_SortOrder.DESCEND) {
      const sign = order === RangeRequest_SortOrder.ASCEND ? 1 : -1;
      let cmp: (a: KeyValue, b: KeyValue) => number;
      switch (req.sortTarget) {
        case RangeRequest_SortTarget.VERSION:
          cmp = (a, b) => cmpInt(a.version, b.version);
          break;
        case RangeRequest_SortTarget.CREATE:
          cmp = (a, b) => cmpInt(a.createRevision, b.createRevision);
          break;
        case RangeRequest_SortTarget.MOD:
          cmp = (a, b) => cmpInt(a.modRevision, b.modRevision);
          break;
        case RangeRequest_SortTarget.VALUE:
          cmp = (a, b) => compareBytes(a.value, b.value);
          break;
        default:
          cmp = (a, b) => compareBytes(a.key, b.key);
      }
      kvs = [...kvs].sort((a, b) => sign * cmp(a, b));
    }
    let more = false;
    if (req.limit > 0n && kvs.length > Number(req.limit)) {
      kvs = kvs.slice(0, Number(req.limit));
      more = true;
    }
    if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY }));
    return { header: header(rr.rev), kvs, more, count: BigInt(rr.count) };
  }

  /** A transaction without puts or deletes, on the committed store (the read path). */
  readOnlyTxn(req: TxnRequest): TxnResponse {
    const path = this.compareToPath(req);
    this.checkRanges(req, path);
    const responses = this.runOps(req, path, this.store, undefined);
    return { header: header(this.store.currentRev), succeeded: path.succeeded, responses };
  }

  // ---- writes (apply) ----

  put(req: PutRequest): PutResponse {
    if (req.lease !== NO_LEASE && !this.lessor.lookup(req.lease)) throw new ApplyError(Errors.leaseNotFound());
    const txn = this.store.write();
    const resp = this.putIn(txn, req);
    this.finish(txn);
    resp.header = header(this.store.currentRev);
    return resp;
  }

  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    const txn = this.store.write();
    const resp = this.deleteIn(txn, req);
    this.finish(txn);
    resp.header = header(this.store.currentRev);
    return resp;
  }

  txn(req: TxnRequest): TxnResponse {
    const path = this.compareToPath(req);
    if (!isTxnReadOnly(req)) this.checkPuts(req, path);
    this.checkRanges(req, path);
    const txn = this.store.write();
    const responses = this.runOps(req, path, txn, txn);
    this.finish(txn);
    return { header: header(this.store.currentRev), succeeded: path.succeeded, responses };
  }

  compact(revision: bigint): CompactionResponse {
    try {
      this.store.compact(Number(revision));
    } catch (err) {
      mvccToApply(err);
    }
    return { header: header(this.store.currentRev) };
  }

  leaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    if (this.lessor.lookup(req.ID)) throw new ApplyError(Errors.leaseExist());
    if (req.TTL > BigInt(MAX_LEASE_TTL)) throw new ApplyError(Errors.leaseTTLTooLarge());
    const info = this.lessor.grant(req.ID, Number(req.TTL));
    return { header: header(this.store.currentRev), ID: info.id, TTL: BigInt(info.ttl), error: '' };
  }

  /** Revoke: delete every attached key (in key order, one revision), then forget the lease. */
  leaseRevoke(id: bigint): LeaseRevokeResponse {
    const info = this.lessor.lookup(id);
    if (!info) throw new ApplyError(Errors.leaseNotFound());
    const keys = [...info.keys].sort();
    const txn = this.store.write();
    for (const key of keys) txn.deleteRange({ key, end: null });
    this.finish(txn);
    this.lessor.remove(id);
    return { header: header(this.store.currentRev) };
  }

  // ---- internals ----

  /** Commit and keep lease attachments in step with the changes. */
  private finish(txn: WriteTxn): void {
    const changes = txn.staged;
    txn.end();
    this.trackLeases(changes);
  }

  private trackLeases(changes: readonly MvccEvent[]): void {
    for (const ev of changes) {
      const key = keyString(ev.kv.key);
      const before = ev.prevKv?.lease ?? NO_LEASE;
      const after = ev.type === 'put' ? ev.kv.lease : NO_LEASE;
      if (before !== after && before !== NO_LEASE) this.lessor.detach(before, key);
      if (after !== NO_LEASE) this.lessor.attach(after, key);
    }
  }

  private putIn(txn: WriteTxn, req: PutRequest): PutResponse {
    let value = req.value;
    let lease = req.lease;
    let prev: KeyValue | undefined;
    if (req.ignoreValue || req.ignoreLease || req.prevKv) {
      prev = txn.range({ key: keyString(req.key), end: null }).kvs[0];
    }
    if ((req.ignoreValue || req.ignoreLease) && !prev) throw new ApplyError(Errors.keyNotFound());
    if (req.ignoreValue) value = prev!.value;
    if (req.ignoreLease) lease = prev!.lease;
    txn.put(Buffer.isBuffer(req.key) ? req.key : Buffer.from(req.key), Buffer.isBuffer(value) ? value : Buffer.from(value), lease);
    return { header: undefined, prevKv: req.prevKv ? prev : undefined };
  }

  private deleteIn(txn: WriteTxn, req: DeleteRangeRequest): DeleteRangeResponse {
    const deleted = txn.deleteRange(toKeyRange(req.key, req.rangeEnd));
    return { header: undefined, deleted: BigInt(deleted.length), prevKvs: req.prevKv ? deleted : [] };
  }

  private compareToPath(req: TxnRequest): TxnPath {
    const succeeded = req.compare.every((c) => this.applyCompare(c));
    const ops = succeeded ? req.success : req.failure;
    const nested: TxnPath[] = [];
    for (const op of ops) if (op.request?.$case === 'requestTxn') nested.push(this.compareToPath(op.request.value));
    return { succeeded, nested };
  }

  private applyCompare(c: Compare): boolean {
    let rr: RangeResult;
    try {
      rr = this.store.range(toKeyRange(c.key, c.rangeEnd));
    } catch {
      return false;
    }
    if (rr.kvs.length === 0) {
      // A value comparison against a missing key always fails (no way to express "missing").
      if (c.target === Compare_CompareTarget.VALUE) return false;
      return compareKV(c, undefined);
    }
    return rr.kvs.every((kv) => compareKV(c, kv));
  }

  /** Puts in the chosen branches must find their key (ignore_*) and lease, before anything is applied. */
  private checkPuts(req: TxnRequest, path: TxnPath): void {
    const ops = path.succeeded ? req.success : req.failure;
    let n = 0;
    for (const op of ops) {
      const r = op.request;
      if (r?.$case === 'requestPut') {
        const p = r.value;
        if ((p.ignoreValue || p.ignoreLease) && this.store.range({ key: keyString(p.key), end: null }).kvs.length === 0) {
          throw new ApplyError(Errors.keyNotFound());
        }
        if (p.lease !== NO_LEASE && !this.lessor.lookup(p.lease)) throw new ApplyError(Errors.leaseNotFound());
      } else if (r?.$case === 'requestTxn') {
        this.checkPuts(r.value, path.nested[n++]!);
      }
    }
  }

  private checkRanges(req: TxnRequest, path: TxnPath): void {
    const ops = path.succeeded ? req.success : req.failure;
    let n = 0;
    for (const op of ops) {
      const r = op.request;
      if (r?.$case === 'requestRange') {
        const rev = Number(r.value.revision);
        if (rev === 0) continue;
        if (rev > this.store.currentRev) throw new ApplyError(Errors.futureRev());
        if (rev < this.store.compactRev) throw new ApplyError(Errors.compacted());
      } else if (r?.$case === 'requestTxn') {
        this.checkRanges(r.value, path.nested[n++]!);
      }
    }
  }

  private runOps(req: TxnRequest, path: TxnPath, reader: Reader, txn: WriteTxn | undefined): ResponseOp[] {
    const ops = path.succeeded ? req.success : req.failure;
    const out: ResponseOp[] = [];
    let n = 0;
    for (const op of ops) {
      const r = op.request;
      if (!r) continue;
      switch (r.$case) {
        case 'requestRange': {
          const resp = this.range(r.value, reader);
          resp.header = header(txn ? txn.rev : this.store.currentRev);
          out.push({ response: { $case: 'responseRange', value: resp } });
          break;
        }
        case 'requestPut': {
          const resp = this.putIn(txn!, r.value);
          resp.header = header(txn!.rev);
          out.push({ response: { $case: 'responsePut', value: resp } });
          break;
        }
        case 'requestDeleteRange': {
          const resp = this.deleteIn(txn!, r.value);
          resp.header = header(txn!.rev);
          out.push({ response: { $case: 'responseDeleteRange', value: resp } });
          break;
        }
        case 'requestTxn': {
          const nestedPath = path.nested[n++]!;
          const responses = this.runOps(r.value, nestedPath, reader, txn);
          out.push({
            response: {
              $case: 'responseTxn',
              value: { header: header(txn ? txn.rev : this.store.currentRev), succeeded: nestedPath.succeeded, responses },
            },
          });
          break;
        }
      }
    }
    return out;
  }
}

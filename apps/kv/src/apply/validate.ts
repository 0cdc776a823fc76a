import type {
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  TxnRequest,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import type { GrpcStatusError } from '@kubets/service-kit';
import { Errors } from '../errors';
import { inRange, keyString, toKeyRange, type KeyRange } from '../mvcc/store';

/**
 * Checks etcd makes before a request reaches Raft (etcdserver/api/v3rpc):
 * they fail fast with etcd's errors and never cost a log entry.
 */

export const DEFAULT_MAX_TXN_OPS = 128;

export function checkRange(r: RangeRequest): GrpcStatusError | undefined {
  if (r.key.length === 0) return Errors.emptyKey();
  return undefined;
}

export function checkPut(r: PutRequest): GrpcStatusError | undefined {
  if (r.key.length === 0) return Errors.emptyKey();
  if (r.ignoreValue && r.value.length !== 0) return Errors.valueProvided();
  if (r.ignoreLease && r.lease !== 0n) return Errors.leaseProvided();
  return undefined;
}

export function checkDelete(r: DeleteRangeRequest): GrpcStatusError | undefined {
  if (r.key.length === 0) return Errors.emptyKey();
  return undefined;
}

function checkOp(op: RequestOp, maxTxnOps: number): GrpcStatusError | undefined {
  const r = op.request;
  switch (r?.$case) {
    case 'requestRange':
      return checkRange(r.value);
    case 'requestPut':
      return checkPut(r.value);
    case 'requestDeleteRange':
      return checkDelete(r.value);
    case 'requestTxn':
      return checkTxn(r.value, maxTxnOps);
    default:
      // etcd answers an op with no request this way.
      return Errors.keyNotFound();
  }
}

export function checkTxn(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): GrpcStatusError | undefined {
  const opc = Math.max(r.compare.length, r.success.length, r.failure.length);
  if (opc > maxTxnOps) return Errors.tooManyOps();
  for (const c of r.compare) if (c.key.length === 0) return Errors.emptyKey();
  for (const op of r.success) {
    const err = checkOp(op, maxTxnOps - opc);
    if (err) return err;
  }
  for (const op of r.failure) {
    const err = checkOp(op, maxTxnOps - opc);
    if (err) return err;
  }
  try {
    checkIntervals(r.success);
    checkIntervals(r.failure);
  } catch (err) {
    return err as GrpcStatusError;
  }
  return undefined;
}

/**
 * A key may be written at most once per branch of a transaction, including
 * its nested transactions, and never both put and deleted: etcd refuses such
 * requests with "duplicate key given in txn request".
 */
function checkIntervals(ops: RequestOp[]): { puts: Set<string>; dels: KeyRange[] } {
  const dels: KeyRange[] = [];
  for (const op of ops) {
    if (op.request?.$case === 'requestDeleteRange') dels.push(toKeyRange(op.request.value.key, op.request.value.rangeEnd));
  }
  const deleted = (key: string) => dels.some((d) => inRange(d, key));
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.request?.$case !== 'requestTxn') continue;
    const then = checkIntervals(op.request.value.success);
    const otherwise = checkIntervals(op.request.value.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deleted(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw Errors.duplicateKey();
      if (deleted(k)) throw Errors.duplicateKey();
      puts.add(k);
    }
    dels.push(...then.dels, ...otherwise.dels);
  }
  for (const op of ops) {
    if (op.request?.$case !== 'requestPut') continue;
    const k = keyString(op.request.value.key);
    if (puts.has(k) || deleted(k)) throw Errors.duplicateKey();
    puts.add(k);
  }
  return { puts, dels };
}

import {
  Compare_CompareResult as R,
  Compare_CompareTarget as T,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type Compare,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type TxnRequest,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import { ApplyError } from '../errors';
import { Lessor } from '../lease/lessor';
import { MvccStore } from '../mvcc/store';
import { Applier } from './applier';
import { checkPut, checkTxn } from './validate';

const b = (s: string) => Buffer.from(s);

function setup() {
  let now = 0;
  const lessor = new Lessor(2, () => now);
  const applier = new Applier(new MvccStore(), lessor);
  return { applier, lessor, advance: (ms: number) => (now += ms) };
}

const put = (key: string, value: string, extra: Partial<PutRequest> = {}): PutRequest => ({
  key: b(key),
  value: b(value),
  lease: 0n,
  prevKv: false,
  ignoreValue: false,
  ignoreLease: false,
  ...extra,
});

const range = (key: string, extra: Partial<RangeRequest> = {}): RangeRequest => ({
  key: b(key),
  rangeEnd: Buffer.alloc(0),
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
  ...extra,
});

const prefixEnd = (p: string) => b(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1));

const cmp = (key: string, target: T, result: R, value: Compare['targetUnion']): Compare => ({
  key: b(key),
  target,
  result,
  targetUnion: value,
  rangeEnd: Buffer.alloc(0),
});

const opPut = (key: string, value: string): RequestOp => ({ request: { $case: 'requestPut', value: put(key, value) } });
const opGet = (key: string): RequestOp => ({ request: { $case: 'requestRange', value: range(key) } });
const opDel = (key: string, end?: string): RequestOp => ({
  request: { $case: 'requestDeleteRange', value: { key: b(key), rangeEnd: end ? b(end) : Buffer.alloc(0), prevKv: false } },
});
const txn = (compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): TxnRequest => ({ compare, success, failure });

function expectApplyError(fn: () => unknown, message: string) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplyError);
    expect((err as Error).message).toBe(message);
    return;
  }
  throw new Error(`expected ${message}`);
}

describe('Put', () => {
  it('returns the new revision and, on request, the previous value', () => {
    const { applier } = setup();
    expect(applier.put(put('k', 'v1')).header!.revision).toBe(2n);
    const r = applier.put(put('k', 'v2', { prevKv: true }));
    expect(r.header!.revision).toBe(3n);
    expect(r.prevKv!.value.toString()).toBe('v1');
  });

  it('ignore_value and ignore_lease need an existing key and keep its value and lease', () => {
    const { applier } = setup();
    expectApplyError(() => applier.put(put('k', '', { ignoreValue: true })), 'etcdserver: key not found');
    applier.leaseGrant({ ID: 5n, TTL: 10n });
    applier.put(put('k', 'keep', { lease: 5n }));
    applier.put(put('k', '', { ignoreValue: true, ignoreLease: true }));
    const kv = applier.range(range('k')).kvs[0]!;
    expect(kv.value.toString()).toBe('keep');
    expect(kv.lease).toBe(5n);
    expect(kv.version).toBe(2n);
  });

  it('refuses an unknown lease', () => {
    const { applier } = setup();
    expectApplyError(() => applier.put(put('k', 'v', { lease: 99n })), 'etcdserver: requested lease not found');
  });
});

describe('Range', () => {
  const { applier } = setup();
  applier.put(put('a/1', 'z')); // 2
  applier.put(put('a/2', 'y')); // 3
  applier.put(put('a/3', 'x')); // 4
  applier.put(put('a/1', 'w')); // 5

  it('limit sets more, count is the whole range', () => {
    const r = applier.range(range('a/', { rangeEnd: prefixEnd('a/'), limit: 2n }));
    expect(r.kvs.map((kv) => kv.key.toString())).toEqual(['a/1', 'a/2']);
    expect(r.more).toBe(true);
    expect(r.count).toBe(3n);
    expect(applier.range(range('a/', { rangeEnd: prefixEnd('a/'), limit: 3n })).more).toBe(false);
  });

  it('sorts by any target; a non-key target sorts ascending by default', () => {
    const byValue = applier.range(range('a/', { rangeEnd: prefixEnd('a/'), sortTarget: RangeRequest_SortTarget.VALUE }));
    expect(byValue.kvs.map((kv) => kv.value.toString())).toEqual(['w', 'x', 'y']);
    const byModDesc = applier.range(
      range('a/', { rangeEnd: prefixEnd('a/'), sortTarget: RangeRequest_SortTarget.MOD, sortOrder: RangeRequest_SortOrder.DESCEND, limit: 1n }),
    );
    expect(byModDesc.kvs.map((kv) => kv.key.toString())).toEqual(['a/1']);
    expect(byModDesc.more).toBe(true);
  });

  it('filters by mod and create revision, keys_only, count_only, past revisions', () => {
    const r = applier.range(range('a/', { rangeEnd: prefixEnd('a/'), minModRevision: 4n }));
    expect(r.kvs.map((kv) => kv.key.toString())).toEqual(['a/1', 'a/3']);
    expect(r.count).toBe(3n); // count ignores the filters, as in etcd
    const k = applier.range(range('a/1', { keysOnly: true }));
    expect(k.kvs[0]!.value.length).toBe(0);
    const c = applier.range(range('a/', { rangeEnd: prefixEnd('a/'), countOnly: true }));
    expect(c.kvs).toEqual([]);
    expect(c.count).toBe(3n);
    expect(applier.range(range('a/1', { revision: 2n })).kvs[0]!.value.toString()).toBe('z');
    expectApplyError(() => applier.range(range('a/1', { revision: 50n })), 'etcdserver: mvcc: required revision is a future revision');
  });
});

describe('Txn', () => {
  it('compares on the state before the txn and runs one branch under one revision', () => {
    const { applier } = setup();
    applier.put(put('k', 'v')); // 2
    const ok = applier.txn(
      txn([cmp('k', T.VALUE, R.EQUAL, { $case: 'value', value: b('v') })], [opPut('k', 'v2'), opPut('other', 'o'), opGet('k')], [opGet('k')]),
    );
    expect(ok.succeeded).toBe(true);
    expect(ok.header!.revision).toBe(3n);
    const got = ok.responses[2]!.response;
    expect(got?.$case === 'responseRange' && got.value.kvs[0]!.value.toString()).toBe('v2'); // sees its own write
    const no = applier.txn(txn([cmp('k', T.VERSION, R.GREATER, { $case: 'version', value: 5n })], [opPut('k', 'x')], [opGet('k')]));
    expect(no.succeeded).toBe(false);
    expect(no.header!.revision).toBe(3n); // read-only branch: no new revision
  });

  it('missing keys: version/create/mod compare as 0, value comparisons fail', () => {
    const { applier } = setup();
    const created = applier.txn(txn([cmp('new', T.CREATE, R.EQUAL, { $case: 'createRevision', value: 0n })], [opPut('new', 'x')]));
    expect(created.succeeded).toBe(true);
    const value = applier.txn(txn([cmp('absent', T.VALUE, R.NOT_EQUAL, { $case: 'value', value: b('q') })], [opPut('absent', 'x')]));
    expect(value.succeeded).toBe(false);
  });

  it('nested txns decide on the pre-txn state', () => {
    const { applier } = setup();
    applier.put(put('flag', '0'));
    const nested: RequestOp = {
      request: {
        $case: 'requestTxn',
        value: txn([cmp('flag', T.VALUE, R.EQUAL, { $case: 'value', value: b('0') })], [opPut('inner', 'saw-0')], [opPut('inner', 'saw-1')]),
      },
    };
    const r = applier.txn(txn([], [opPut('flag', '1'), nested]));
    expect(r.succeeded).toBe(true);
    expect(applier.range(range('inner')).kvs[0]!.value.toString()).toBe('saw-0');
  });

  it('a failed put check (unknown lease, missing key for ignore_value) changes nothing', () => {
    const { applier } = setup();
    const before = applier.store.currentRev;
    const bad: RequestOp = { request: { $case: 'requestPut', value: put('k', 'v', { lease: 42n }) } };
    expectApplyError(() => applier.txn(txn([], [opPut('a', '1'), bad])), 'etcdserver: requested lease not found');
    expect(applier.store.currentRev).toBe(before);
    expect(applier.range(range('a')).kvs).toEqual([]);
  });
});

describe('leases', () => {
  it('revoking deletes attached keys in one revision; re-put without lease detaches', () => {
    const { applier, lessor } = setup();
    applier.leaseGrant({ ID: 7n, TTL: 1n });
    expect(lessor.lookup(7n)!.ttl).toBe(2); // raised to the minimum TTL
    applier.put(put('x', '1', { lease: 7n }));
    applier.put(put('y', '1', { lease: 7n }));
    applier.put(put('z', '1', { lease: 7n }));
    applier.put(put('z', '2')); // detached from 7
    expect([...lessor.lookup(7n)!.keys].sort()).toEqual(['x', 'y']);
    const rev = applier.store.currentRev;
    applier.leaseRevoke(7n);
    expect(applier.store.currentRev).toBe(rev + 1);
    expect(applier.range(range('x')).kvs).toEqual([]);
    expect(applier.range(range('z')).kvs[0]!.value.toString()).toBe('2');
    expectApplyError(() => applier.leaseRevoke(7n), 'etcdserver: requested lease not found');
    applier.leaseGrant({ ID: 8n, TTL: 5n });
    expectApplyError(() => applier.leaseGrant({ ID: 8n, TTL: 5n }), 'etcdserver: lease already exists');
    expectApplyError(() => applier.leaseGrant({ ID: 9n, TTL: 9_000_000_001n }), 'etcdserver: too large lease TTL');
  });

  it('only the leader tracks expiry; promotion gives every lease a full TTL', () => {
    const { applier, lessor, advance } = setup();
    applier.leaseGrant({ ID: 1n, TTL: 10n });
    advance(60_000);
    expect(lessor.expired()).toEqual([]); // not primary: nothing expires
    lessor.promote();
    advance(9_000);
    expect(lessor.expired()).toEqual([]);
    expect(lessor.remaining(1n)).toBe(1);
    expect(lessor.renew(1n)).toBe(10);
    advance(10_001);
    expect(lessor.expired()).toEqual([1n]);
    expect(lessor.renew(1n)).toBeUndefined(); // too late to keep it alive
    lessor.demote();
    expect(lessor.expired()).toEqual([]);
  });
});

describe('validation before proposing', () => {
  it('etcd errors for bad puts and txns', () => {
    expect(checkPut(put('', 'v'))?.message).toBe('etcdserver: key is not provided');
    expect(checkPut(put('k', 'v', { ignoreValue: true }))?.message).toBe('etcdserver: value is provided');
    expect(checkPut(put('k', '', { ignoreLease: true, lease: 3n }))?.message).toBe('etcdserver: lease is provided');
    expect(checkTxn(txn([], [opPut('a', '1'), opPut('a', '2')]))?.message).toBe('etcdserver: duplicate key given in txn request');
    expect(checkTxn(txn([], [opDel('a', 'c'), opPut('b', '2')]))?.message).toBe('etcdserver: duplicate key given in txn request');
    expect(checkTxn(txn([], [opPut('a', '1')], [opPut('a', '2')]))).toBeUndefined(); // different branches are fine
    const many = Array.from({ length: 129 }, (_, i) => opPut(`k${i}`, 'v'));
    expect(checkTxn(txn([], many))?.message).toBe('etcdserver: too many operations in txn request');
    expect(checkTxn(txn([], [{ request: undefined }]))?.message).toBe('etcdserver: key not found');
  });
});

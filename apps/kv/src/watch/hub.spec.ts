import type { WatchCreateRequest, WatchResponse } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { WatchCreateRequest_FilterType } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { testSeed, waitFor, withSeed } from '@kubets/testkit';
import { MvccStore, toKeyRange } from '../mvcc/store';
import { WatchHub } from './hub';

const b = (s: string) => Buffer.from(s);

function setup(opts: { batchEvents?: number; progressIntervalMs?: number; maxResponseBytes?: number } = {}) {
  const store = new MvccStore();
  const hub = new WatchHub(store, {
    header: (rev) => ({ clusterId: 1n, memberId: 2n, revision: BigInt(rev), raftTerm: 3n }),
    ...opts,
  });
  const responses: WatchResponse[] = [];
  let accept = true;
  const stream = hub.open({
    send: (r) => {
      responses.push(r);
      return accept;
    },
  });
  const put = (k: string, v: string) => {
    const t = store.write();
    t.put(b(k), b(v), 0n);
    return t.end();
  };
  const del = (k: string) => {
    const t = store.write();
    t.deleteRange({ key: k, end: null });
    return t.end();
  };
  return {
    store,
    hub,
    stream,
    responses,
    put,
    del,
    block: (v: boolean) => {
      accept = !v;
    },
  };
}

const watch = (key: string, extra: Partial<WatchCreateRequest> = {}): WatchCreateRequest => ({
  key: b(key),
  rangeEnd: Buffer.alloc(0),
  startRevision: 0n,
  progressNotify: false,
  filters: [],
  prevKv: false,
  watchId: 0n,
  fragment: false,
  ...extra,
});

const prefix = (p: string) => ({ key: b(p), rangeEnd: b(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1)) });

function events(rs: WatchResponse[], id: bigint) {
  return rs
    .filter((r) => r.watchId === id && r.events.length > 0)
    .flatMap((r) => r.events.map((e) => `${e.type === 0 ? 'PUT' : 'DEL'} ${e.kv!.key.toString()}=${e.kv!.value.toString()}@${e.kv!.modRevision}`));
}

describe('WatchHub', () => {
  it('creates watchers with auto ids from 0 and pushes new events', () => {
    const t = setup();
    t.stream.create(watch('a'));
    t.stream.create(watch('b'));
    expect(t.responses.map((r) => [r.watchId, r.created, r.header!.revision])).toEqual([
      [0n, true, 1n],
      [1n, true, 1n],
    ]);
    t.put('a', '1');
    t.put('b', '2');
    t.put('c', '3');
    expect(events(t.responses, 0n)).toEqual(['PUT a=1@2']);
    expect(events(t.responses, 1n)).toEqual(['PUT b=2@3']);
    t.hub.close();
  });

  it('replays history from a start revision, with prefix, prev_kv and filters', async () => {
    const t = setup();
    t.put('p/1', 'a'); // 2
    t.put('x', 'no'); // 3
    t.put('p/1', 'b'); // 4
    t.del('p/1'); // 5
    t.stream.create(watch('', { ...prefix('p/'), startRevision: 2n, prevKv: true }));
    t.stream.create(watch('', { ...prefix('p/'), startRevision: 2n, filters: [WatchCreateRequest_FilterType.NOPUT], watchId: 7n }));
    await waitFor(() => events(t.responses, 0n).length === 3);
    expect(events(t.responses, 0n)).toEqual(['PUT p/1=a@2', 'PUT p/1=b@4', 'DEL p/1=@5']);
    const withPrev = t.responses.filter((r) => r.watchId === 0n).flatMap((r) => r.events.map((e) => e.prevKv?.value.toString()));
    expect(withPrev).toEqual([undefined, 'a', 'b']);
    expect(events(t.responses, 7n)).toEqual(['DEL p/1=@5']);
    t.put('p/2', 'live');
    expect(events(t.responses, 0n)).toEqual(['PUT p/1=a@2', 'PUT p/1=b@4', 'DEL p/1=@5', 'PUT p/2=live@6']);
    t.hub.close();
  });

  it('cancels with the compaction revision when the start revision is compacted', async () => {
    const t = setup();
    t.put('k', '1');
    t.put('k', '2');
    t.put('k', '3'); // 4
    t.store.compact(3);
    t.stream.create(watch('k', { startRevision: 2n }));
    await waitFor(() => t.responses.some((r) => r.canceled));
    const cancel = t.responses.find((r) => r.canceled)!;
    expect(cancel).toMatchObject({ watchId: 0n, canceled: true, compactRevision: 3n, cancelReason: 'etcdserver: mvcc: required revision has been compacted' });
    expect(t.stream.size).toBe(0);
    t.hub.close();
  });

  it('a blocked client misses nothing and gets nothing twice', async () => {
    const t = setup({ batchEvents: 3 });
    t.stream.create(watch('', prefix('k')));
    t.put('k1', 'a');
    t.block(true);
    t.put('k2', 'b'); // this send reports the buffer full
    for (let i = 0; i < 10; i++) t.put(`k${i}`, `v${i}`);
    const before = events(t.responses, 0n).length;
    t.block(false);
    t.stream.drained();
    await waitFor(() => events(t.responses, 0n).length === 12);
    const all = events(t.responses, 0n);
    expect(new Set(all).size).toBe(12);
    expect(before).toBeLessThan(12);
    const revs = t.responses.filter((r) => r.events.length).flatMap((r) => r.events.map((e) => Number(e.kv!.modRevision)));
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    t.hub.close();
  });

  it('waits for a future start revision', () => {
    const t = setup();
    t.stream.create(watch('k', { startRevision: 4n }));
    t.put('k', 'skip'); // 2
    t.put('k', 'skip'); // 3
    t.put('k', 'take'); // 4
    expect(events(t.responses, 0n)).toEqual(['PUT k=take@4']);
    t.hub.close();
  });

  it('cancel, duplicate ids, progress requests and progress notifications', async () => {
    const t = setup({ progressIntervalMs: 20 });
    t.stream.create(watch('k', { watchId: 5n, progressNotify: true }));
    t.stream.create(watch('k', { watchId: 5n }));
    expect(t.responses[1]).toMatchObject({ watchId: -1n, created: true, canceled: true });
    t.put('k', 'v');
    t.stream.progress();
    expect(t.responses[t.responses.length - 1]).toMatchObject({ watchId: -1n, events: [] });
    expect(t.responses[t.responses.length - 1]!.header!.revision).toBe(2n);
    await waitFor(() => t.responses.filter((r) => r.watchId === 5n && r.events.length === 0 && !r.created).length >= 1, { timeoutMs: 2_000 });
    t.stream.cancel(5n);
    expect(t.responses[t.responses.length - 1]).toMatchObject({ watchId: 5n, canceled: true });
    const count = t.responses.length;
    t.put('k', 'after-cancel');
    expect(t.responses.length).toBe(count);
    t.hub.close();
  });

  it('fragments large batches when asked', () => {
    const t = setup({ maxResponseBytes: 300 });
    t.stream.create(watch('', { ...prefix('f'), fragment: true }));
    const txn = t.store.write();
    for (let i = 0; i < 10; i++) txn.put(b(`f${i}`), Buffer.alloc(100, 1), 0n);
    txn.end();
    const parts = t.responses.filter((r) => r.events.length > 0);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every((r) => r.fragment)).toBe(true);
    expect(parts[parts.length - 1]!.fragment).toBe(false);
    expect(parts.flatMap((r) => r.events).length).toBe(10);
    t.hub.close();
  });

  it('random commits and backpressure: every watcher sees exactly its events, in order (seeded)', async () => {
    await withSeed(async (_seed, random) => {
      const t = setup({ batchEvents: 4 });
      const keys = ['a', 'b', 'c', 'd'];
      const watchers: Array<{ id: bigint; key: string | null; start: number }> = [];
      for (let i = 0; i < 150; i++) {
        const r = random();
        if (r < 0.6) t.put(keys[Math.floor(random() * 4)]!, String(i));
        else if (r < 0.7) t.del(keys[Math.floor(random() * 4)]!);
        else if (r < 0.8) {
          const key = random() < 0.5 ? keys[Math.floor(random() * 4)]! : null;
          const start = 1 + Math.floor(random() * t.store.currentRev + 1);
          const id = BigInt(watchers.length + 100);
          t.stream.create(
            key ? watch(key, { startRevision: BigInt(start), watchId: id }) : watch('a', { rangeEnd: b('z'), startRevision: BigInt(start), watchId: id }),
          );
          watchers.push({ id, key, start });
        } else if (r < 0.9) t.block(true);
        else {
          t.block(false);
          t.stream.drained();
        }
        if (random() < 0.2) await new Promise((res) => setImmediate(res));
      }
      t.block(false);
      t.stream.drained();
      const expected = (w: (typeof watchers)[number]) =>
        t.store
          .eventsSince(w.start, (k) => (w.key ? k === w.key : toKeyRange(b('a'), b('z')).key <= k && k < 'z'))
          .map((e) => `${e.type === 'put' ? 'PUT' : 'DEL'} ${e.kv.key.toString()}=${e.kv.value.toString()}@${e.main}`);
      await waitFor(() => watchers.every((w) => events(t.responses, w.id).length === expected(w).length), { timeoutMs: 5_000 });
      for (const w of watchers) expect(events(t.responses, w.id)).toEqual(expected(w));
      t.hub.close();
    }, testSeed());
  });
});

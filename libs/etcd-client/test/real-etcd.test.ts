// The client against a real etcd 3.4 (Debian etcd-server): what it does is
// what etcd does, so the same client can drive kubets-kv in its tests.
import * as net from 'node:net';
import { RealEtcd, waitFor } from '@kubets/testkit';
import type { Event } from '@kubets/proto/etcd/mvccpb/kv';
import { Compare_CompareResult, Compare_CompareTarget } from '@kubets/proto/etcd/etcdserverpb/rpc';
import { EtcdClient, EtcdError, prefixEnd } from '../src';

let etcd: RealEtcd;
let client: EtcdClient;

beforeAll(async () => {
  etcd = await RealEtcd.start();
  client = new EtcdClient({ endpoints: [etcd.endpoint], operationTimeoutMs: 20_000 });
}, 60_000);

afterAll(async () => {
  client?.close();
  await etcd?.dispose();
});

const s = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString();

describe('EtcdClient against real etcd 3.4', () => {
  it('prefixEnd follows etcd', () => {
    expect(prefixEnd('abc')).toEqual(Buffer.from('abd'));
    expect(prefixEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff]))).toEqual(Buffer.from([0]));
  });

  it('put, get (prefix, limit, revision), delete', async () => {
    const p1 = await client.put('/c/a', '1');
    await client.put('/c/b', '2');
    await client.put('/c/a', '3');
    const all = await client.get('/c/', { prefix: true });
    expect(all.kvs.map((kv) => `${s(kv.key)}=${s(kv.value)}`)).toEqual(['/c/a=3', '/c/b=2']);
    const limited = await client.get('/c/', { prefix: true, limit: 1 });
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(2n);
    const old = await client.get('/c/a', { revision: Number(p1.header!.revision) });
    expect(s(old.kvs[0]!.value)).toBe('1');
    const del = await client.delete('/c/', { prefix: true, prevKv: true });
    expect(del.deleted).toBe(2n);
    expect(del.prevKvs.map((kv) => s(kv.key))).toEqual(['/c/a', '/c/b']);
  });

  it('txn compare-and-set', async () => {
    await client.put('cas', 'v1');
    const cas = (expect: string, value: string) =>
      client.txn({
        compare: [{ key: Buffer.from('cas'), target: Compare_CompareTarget.VALUE, result: Compare_CompareResult.EQUAL, targetUnion: { $case: 'value', value: Buffer.from(expect) }, rangeEnd: Buffer.alloc(0) }],
        success: [{ request: { $case: 'requestPut', value: { key: Buffer.from('cas'), value: Buffer.from(value), lease: 0n, prevKv: false, ignoreValue: false, ignoreLease: false } } }],
        failure: [],
      });
    expect((await cas('v1', 'v2')).succeeded).toBe(true);
    expect((await cas('v1', 'v3')).succeeded).toBe(false);
    expect(s((await client.get('cas')).kvs[0]!.value)).toBe('v2');
  });

  it('errors carry etcd codes and messages', async () => {
    await expect(client.put('', 'x')).rejects.toMatchObject({ message: 'etcdserver: key is not provided' });
    await expect(client.put('k', 'v', { lease: 12345n })).rejects.toBeInstanceOf(EtcdError);
    await expect(client.get('k', { revision: 1_000_000 })).rejects.toMatchObject({ message: 'etcdserver: mvcc: required revision is a future revision' });
  });

  it('leases: grant, keep-alive, time-to-live, revoke', async () => {
    const g = await client.leaseGrant(30);
    await client.put('leased', 'x', { lease: g.ID });
    const ttl = await client.leaseTimeToLive(g.ID, true);
    expect(ttl.keys.map(s)).toEqual(['leased']);
    expect((await client.leaseKeepAliveOnce(g.ID)).TTL).toBe(30n);
    await client.leaseRevoke(g.ID);
    expect((await client.get('leased')).kvs).toEqual([]);
  });

  it('watch from a revision delivers history then live events, once each, and resumes after the server restarts', async () => {
    const start = Number((await client.put('w/0', 'a')).header!.revision);
    const seen: string[] = [];
    const w = client.watch('w/', { prefix: true, startRevision: start }, (events: Event[]) => {
      for (const e of events) seen.push(`${e.type === 0 ? 'PUT' : 'DEL'} ${s(e.kv!.key)}@${e.kv!.modRevision}`);
    });
    try {
      await client.put('w/1', 'b');
      await waitFor(() => seen.length === 2, { description: 'two events', context: () => seen.join('\n') });
      await etcd.kill();
      await etcd.launch();
      await client.put('w/2', 'c');
      await client.delete('w/0');
      await waitFor(() => seen.length === 4, { timeoutMs: 20_000, description: 'events after the restart', context: () => seen.join('\n') });
      const revs = seen.map((x) => Number(x.split('@')[1]));
      expect(new Set(revs).size).toBe(4);
      expect(revs).toEqual([...revs].sort((a, b) => a - b));
      expect(seen[3]).toMatch(/^DEL w\/0@/);
    } finally {
      w.cancel();
    }
  });

  it('does not repeat a write on another endpoint when the connection drops after the request went out', async () => {
    // A proxy in front of etcd that forwards the put, waits until etcd has
    // applied it, and then cuts the client's connection before the answer.
    const key = 'dropped-after-send';
    const direct = new EtcdClient({ endpoints: [etcd.endpoint] });
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((c) => {
      const up = net.connect(Number(etcd.endpoint.split(':').pop()), '127.0.0.1');
      sockets.add(c).add(up);
      let cut = false;
      c.on('data', (chunk: Buffer) => {
        up.write(chunk);
        if (!cut && chunk.includes(key)) {
          cut = true;
          void waitFor(async () => (await direct.get(key)).kvs.length === 1, { description: 'the put applied' }).then(() => {
            c.destroy();
            up.destroy();
          });
        }
      });
      up.on('data', (chunk: Buffer) => {
        if (!cut) c.write(chunk);
      });
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const viaProxy = new EtcdClient({ endpoints: [`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`, etcd.endpoint], operationTimeoutMs: 10_000 });
    try {
      const err = await viaProxy.put(key, 'once').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EtcdError);
      // Applied exactly once: a retry on the second endpoint would make version 2.
      const got = await direct.get(key);
      expect(got.kvs[0]!.version).toBe(1n);
      // A connection that cannot be made at all is still a safe retry for a write.
      const refusing = new EtcdClient({ endpoints: ['127.0.0.1:1', etcd.endpoint], operationTimeoutMs: 10_000 });
      try {
        await refusing.put('after-refused', 'x');
        expect((await direct.get('after-refused')).kvs[0]!.version).toBe(1n);
      } finally {
        refusing.close();
      }
    } finally {
      viaProxy.close();
      direct.close();
      for (const sk of sockets) sk.destroy();
      proxy.close();
    }
  });
});

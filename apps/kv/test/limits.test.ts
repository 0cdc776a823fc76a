// Limits and bad input against real kubets-kv members: the space quota with
// etcd's NOSPACE alarm, and garbage on the wire. No member may crash.
import http2 from 'node:http2';
import net from 'node:net';
import { EtcdClient } from '@kubets/etcd-client';
import { KvCluster, seededRandom, testSeed, waitFor } from '@kubets/testkit';

describe('space quota', () => {
  let cluster: KvCluster;
  beforeAll(async () => {
    cluster = await KvCluster.start({ size: 3, args: ['--quota-backend-bytes', String(64 * 1024)] });
  }, 60_000);
  afterAll(async () => cluster?.dispose());

  it('raises NOSPACE and refuses writes over the quota until compaction and disarm', async () => {
    const client = new EtcdClient({ endpoints: cluster.endpoints });
    let refused = '';
    for (let i = 0; i < 400 && !refused; i++) {
      await client.put(`q/${i}`, 'x'.repeat(300)).catch((err: Error) => (refused = err.message));
    }
    client.close();
    expect(refused).toBe('etcdserver: mvcc: database space exceeded');
    expect((await cluster.etcdctl(['put', 'one-more', 'x'])).stderr).toContain('etcdserver: mvcc: database space exceeded');
    await waitFor(async () => (await cluster.etcdctl(['alarm', 'list'])).stdout.includes('alarm:NOSPACE'), {
      description: 'the NOSPACE alarm',
    });
    // Reads and deletes still work; writes do not.
    expect((await cluster.etcdctl(['get', 'q/0', '--print-value-only'])).stdout).toBe(`${'x'.repeat(300)}\n`);
    expect((await cluster.etcdctl(['put', 'tiny', '1'])).stderr).toContain('database space exceeded');
    expect((await cluster.etcdctl(['del', 'q/', '--prefix'])).code).toBe(0);
    const rev = JSON.parse((await cluster.etcdctl(['get', 'q/', '-w', 'json'])).stdout).header.revision;
    expect((await cluster.etcdctl(['compact', String(rev)])).code).toBe(0);
    expect((await cluster.etcdctl(['alarm', 'disarm'])).code).toBe(0);
    expect((await cluster.etcdctl(['alarm', 'list'])).stdout).toBe('');
    expect((await cluster.etcdctl(['put', 'tiny', '1'])).stdout).toBe('OK\n');
  });
});

describe('garbage on the wire', () => {
  let cluster: KvCluster;
  beforeAll(async () => {
    cluster = await KvCluster.start({ size: 3 });
  }, 60_000);
  afterAll(async () => cluster?.dispose());

  /** One raw gRPC call with an arbitrary body; resolves with the grpc-status it ended with. */
  function rawCall(endpoint: string, path: string, body: Buffer): Promise<string> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${endpoint}`);
      session.on('error', () => undefined);
      const req = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status = '';
      req.on('response', (headers) => {
        if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
      });
      req.on('trailers', (trailers) => {
        status = String(trailers['grpc-status']);
      });
      req.on('close', () => {
        session.close();
        resolve(status);
      });
      req.on('error', reject);
      req.resume();
      req.end(body);
    });
  }

  function frame(payload: Buffer, claimedLength = payload.length): Buffer {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(claimedLength, 1);
    return Buffer.concat([header, payload]);
  }

  it('malformed protobuf, lying length prefixes, oversize frames and non-HTTP/2 bytes are refused; members keep serving', async () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    const endpoint = cluster.endpoints[0]!;
    const methods = ['/etcdserverpb.KV/Put', '/etcdserverpb.KV/Range', '/etcdserverpb.KV/Txn', '/etcdserverpb.Lease/LeaseGrant', '/etcdserverpb.Maintenance/Status'];
    const statuses: string[] = [];
    for (let i = 0; i < 40; i++) {
      const len = Math.floor(random() * 64) + 1;
      const garbage = Buffer.from(Array.from({ length: len }, () => Math.floor(random() * 256)));
      statuses.push(await rawCall(endpoint, methods[i % methods.length]!, frame(garbage)));
    }
    // Every call got an answer; whatever did not decode was refused with a non-OK status.
    expect(statuses.every((s) => s !== '')).toBe(true);
    // A frame claiming more bytes than it carries, then ending the stream.
    expect(await rawCall(endpoint, '/etcdserverpb.KV/Put', frame(Buffer.from([0x0a, 0x01, 0x61]), 1000))).not.toBe('0');
    // A frame above the maximum request size (1.5 MiB + gRPC overhead).
    expect(await rawCall(endpoint, '/etcdserverpb.KV/Put', frame(Buffer.alloc(3 * 1024 * 1024, 1)))).toBe('8'); // RESOURCE_EXHAUSTED
    // An unknown method.
    expect(await rawCall(endpoint, '/etcdserverpb.KV/Nope', frame(Buffer.alloc(0)))).toBe('12'); // UNIMPLEMENTED
    // Bytes that are not HTTP/2 at all, on the client and the peer port.
    for (const port of [Number(endpoint.split(':')[1]), Number(new URL(cluster.members[0]!.peerUrl).port)]) {
      await new Promise<void>((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port }, () => sock.end(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage')));
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
        sock.resume();
      });
    }
    expect(cluster.members.every((m) => m.process.running)).toBe(true);
    expect((await cluster.etcdctl(['put', 'after-garbage', 'ok'])).stdout).toBe('OK\n');
    expect((await cluster.etcdctl(['endpoint', 'health'])).code).toBe(0);
  });
});

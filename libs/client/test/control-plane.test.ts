// The client library against a real control plane: kubets init, a 3-member
// kubets-kv, nats-server and kubets-apiserver as processes; changes made with
// the stock kubectl.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import * as grpc from '@grpc/grpc-js';
import { ResourcesService } from '@kubets/proto/kubets/api/v1/api';
import { ControlPlane, TcpProxy, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';
import {
  Client,
  Informer,
  InformerFactory,
  LeaderElector,
  CONFIG_MAPS,
  PODS,
  isAlreadyExists,
  isConflict,
  isInvalid,
  isNotFound,
  objectKey,
  type ConfigMap,
  type KObject,
  type Pod,
  type WatchEvent,
} from '../src';

jest.setTimeout(90_000);

let env: ControlPlane;
let client: Client;

beforeAll(async () => {
  env = await ControlPlane.start({ kv: 'kubets', nats: true, replicas: 1 });
  client = await Client.connect({ address: `127.0.0.1:${env.apiservers[0]!.grpcPort}`, ca: env.caCert, token: env.adminToken, component: 'client-test' });
});

afterAll(async () => {
  client?.close();
  await env?.dispose();
});

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await env.kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function createNamespace(name: string): Promise<void> {
  await client.namespaces.create(undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

const cm = (ns: string, name: string, data: Record<string, string>, labels: Record<string, string> = {}): ConfigMap => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: ns, labels },
  data,
});

const podSpec = (ns: string, name: string, labels: Record<string, string> = {}): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

describe('typed client', () => {
  beforeAll(() => createNamespace('crud'));

  test('create, get, list with selectors, update, patch (merge, json, strategic), delete', async () => {
    const created = await client.configMaps.create('crud', cm('crud', 'one', { a: '1' }, { app: 'web' }));
    expect(created.metadata.uid).toBeTruthy();
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    await client.configMaps.create('crud', cm('crud', 'two', { b: '2' }, { app: 'db' }));

    const got = await client.configMaps.get('crud', 'one');
    expect(got.data).toEqual({ a: '1' });

    const all = await client.configMaps.list({ namespace: 'crud' });
    expect(all.items.map((x) => x.metadata.name)).toEqual(expect.arrayContaining(['one', 'two']));
    expect(all.items.every((x) => x.kind === 'ConfigMap' && x.apiVersion === 'v1')).toBe(true);
    expect(Number(all.resourceVersion)).toBeGreaterThan(0);
    const web = await client.configMaps.list({ namespace: 'crud', labelSelector: 'app=web' });
    expect(web.items.map((x) => x.metadata.name)).toEqual(['one']);
    const byName = await client.configMaps.list({ namespace: 'crud', fieldSelector: 'metadata.name=two' });
    expect(byName.items.map((x) => x.metadata.name)).toEqual(['two']);
    const paged = await client.configMaps.list({ namespace: 'crud', limit: 1 });
    expect(paged.items).toHaveLength(1);
    expect(paged.continue).toBeTruthy();
    const everything = await client.configMaps.listAll({ namespace: 'crud', limit: 1 });
    expect(everything.items.length).toBe(all.items.length);

    const updated = await client.configMaps.update('crud', { ...got, data: { a: '2' } });
    expect(updated.data).toEqual({ a: '2' });
    // The stale resourceVersion of `got` is a 409 Conflict.
    const stale = await client.configMaps.update('crud', { ...got, data: { a: '3' } }).catch((e) => e);
    expect(isConflict(stale)).toBe(true);
    expect(stale.code).toBe(409);
    expect(stale.message).toBe('Operation cannot be fulfilled on configmaps "one": the object has been modified; please apply your changes to the latest version and try again');

    expect((await client.configMaps.patch('crud', 'one', 'merge', { data: { m: 'x' } })).data).toEqual({ a: '2', m: 'x' });
    expect((await client.configMaps.patch('crud', 'one', 'json', [{ op: 'remove', path: '/data/a' }])).data).toEqual({ m: 'x' });
    expect((await client.configMaps.patch('crud', 'one', 'strategic', { metadata: { labels: { tier: 'fe' } } })).metadata.labels).toEqual({ app: 'web', tier: 'fe' });

    const del = await client.configMaps.delete('crud', 'one');
    expect(del.finished).toBe(true);
    const gone = await client.configMaps.get('crud', 'one').catch((e) => e);
    expect(isNotFound(gone)).toBe(true);
    expect(gone.message).toBe('configmaps "one" not found');
    expect(await client.configMaps.tryGet('crud', 'one')).toBeUndefined();
  });

  test('Status errors: AlreadyExists, Invalid with causes, Unauthorized, unknown resources', async () => {
    await client.configMaps.create('crud', cm('crud', 'dup', {}));
    const dup = await client.configMaps.create('crud', cm('crud', 'dup', {})).catch((e) => e);
    expect(isAlreadyExists(dup)).toBe(true);
    expect(dup.message).toBe('configmaps "dup" already exists');

    const bad = await client.pods.create('crud', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad' }, spec: { containers: [{ name: 'c' }] } }).catch((e) => e);
    expect(isInvalid(bad)).toBe(true);
    expect(bad.code).toBe(422);
    expect(bad.details.causes).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'spec.containers[0].image' })]));

    const anon = await Client.connect({ address: `127.0.0.1:${env.apiservers[0]!.grpcPort}`, ca: env.caCert, token: 'not-a-token' });
    const unauth = await anon.namespaces.list().catch((e) => e);
    anon.close();
    expect(unauth.code).toBe(401);
    expect(unauth.reason).toBe('Unauthorized');

    const unknown = await client.resource({ group: 'example.com', version: 'v1', resource: 'widgets' }).list().catch((e) => e);
    expect(unknown.code).toBe(400);
  });

  test('fromKubeconfig: contexts, credentials and the gRPC address', async () => {
    const grpcAddress = `127.0.0.1:${env.apiservers[0]!.grpcPort}`;
    // The admin kubeconfig's token user has its own context.
    const kc = await Client.fromKubeconfig(env.kubeconfig, { grpcAddress, context: 'admin@kubernetes' });
    try {
      const nss = await kc.namespaces.list();
      expect(nss.items.map((n) => n.metadata.name)).toEqual(expect.arrayContaining(['default', 'kube-system', 'crud']));
    } finally {
      kc.close();
    }
    // The current context (kubernetes-admin) carries a client certificate and key.
    const cert = await Client.fromKubeconfig(env.kubeconfig, { grpcAddress });
    expect(cert.options.cert).toContain('BEGIN CERTIFICATE');
    expect(cert.options.key).toContain('PRIVATE KEY');
    expect(cert.options.token).toBeUndefined();
    cert.close();
    // Without grpcAddress: the server's host with port 6444.
    const dflt = await Client.fromKubeconfig(env.kubeconfig);
    expect(dflt.options.address).toBe('127.0.0.1:6444');
    dflt.close();
  });

  test('a client certificate is presented in the TLS handshake (a gRPC server that requires one)', async () => {
    // kubets-apiserver's gRPC port does not request client certificates yet, so
    // check the client's side against a server that requires them, with the cluster's PKI.
    const pki = (f: string) => fs.readFileSync(path.join(env.dir, 'pki', f));
    const server = new grpc.Server();
    let seenCN: unknown;
    server.addService(ResourcesService, {
      list: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        seenCN = call.getAuthContext().sslPeerCertificate?.subject?.CN;
        cb(null, { list: Buffer.from(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '7' }, items: [] })), resourceVersion: '7' });
      },
    } as never);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(pki('ca.crt'), [{ private_key: pki('apiserver.key'), cert_chain: pki('apiserver.crt') }], true), (e, p) => (e ? reject(e) : resolve(p))),
    );
    try {
      const kc = await Client.fromKubeconfig(env.kubeconfig, { grpcAddress: `127.0.0.1:${port}` });
      expect(await kc.namespaces.list()).toEqual({ items: [], resourceVersion: '7' });
      kc.close();
      expect(seenCN).toBe('kubernetes-admin');
      // Without a certificate the handshake is refused.
      const none = await Client.connect({ address: `127.0.0.1:${port}`, ca: pki('ca.crt'), timeoutMs: 3000 });
      const err = await none.namespaces.list().catch((e) => e);
      none.close();
      expect(err.code).toBe(503);
    } finally {
      server.forceShutdown();
    }
  });

  test('status subresource, bind, and recordEvent aggregating repeats', async () => {
    const pod = await client.pods.create('crud', podSpec('crud', 'p1'));
    const withStatus = await client.pods.updateStatus('crud', { ...pod, status: { ...pod.status, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    expect(withStatus.status?.phase).toBe('Running');
    expect((await client.pods.patchStatus('crud', 'p1', 'merge', { status: { message: 'hi' } })).status?.message).toBe('hi');

    await client.bind('crud', 'p1', 'node-1');
    const bound = await client.pods.get('crud', 'p1');
    expect(bound.spec.nodeName).toBe('node-1');
    expect(bound.status?.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'PodScheduled', status: 'True' })]));
    const again = await client.bind('crud', 'p1', 'node-2').catch((e) => e);
    expect(isConflict(again)).toBe(true);
    expect(again.message).toContain('pod p1 is already assigned to node "node-1"');

    const ev1 = await client.recordEvent(bound, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
    expect(ev1).toMatchObject({ reason: 'FailedScheduling', type: 'Warning', count: 1, source: { component: 'client-test' }, involvedObject: { kind: 'Pod', name: 'p1', namespace: 'crud', uid: bound.metadata.uid } });
    expect(ev1!.metadata.name).toMatch(/^p1\.[0-9a-f]+$/);
    expect(ev1!.firstTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const ev2 = await client.recordEvent(bound, 'Warning', 'FailedScheduling', '0/3 nodes are available: 3 Insufficient cpu.');
    expect(ev2!.metadata.name).toBe(ev1!.metadata.name);
    expect(ev2!.count).toBe(2);
    await client.recordEvent(bound, 'Normal', 'Scheduled', 'Successfully assigned crud/p1 to node-1');
    const events = await client.events.list({ namespace: 'crud', fieldSelector: 'involvedObject.name=p1' });
    expect(events.items.map((e) => `${e.type} ${e.reason} ${e.count}`).sort()).toEqual(['Normal Scheduled 1', 'Warning FailedScheduling 2']);
    // kubectl shows them as for kube-apiserver.
    const out = await kubectl(['get', 'events', '-n', 'crud', '--field-selector', 'involvedObject.name=p1', '-o', 'custom-columns=REASON:.reason,COUNT:.count,MSG:.message', '--no-headers']);
    expect(out).toContain('FailedScheduling');
    expect(out).toContain('0/3 nodes are available: 3 Insufficient cpu.');
  });

  test('watch: events from a list revision, in order, until stopped', async () => {
    const l = await client.configMaps.list({ namespace: 'crud' });
    const events: Array<WatchEvent<ConfigMap>> = [];
    const stop = client.configMaps.watch({ namespace: 'crud', resourceVersion: l.resourceVersion }, (e) => events.push(e));
    await client.configMaps.create('crud', cm('crud', 'w1', { a: '1' }));
    await client.configMaps.patch('crud', 'w1', 'merge', { data: { a: '2' } });
    await client.configMaps.delete('crud', 'w1');
    await waitFor(() => events.filter((e) => e.type !== 'BOOKMARK').length >= 3, { description: 'three watch events' });
    stop();
    const seen = events.filter((e) => e.type === 'ADDED' || e.type === 'MODIFIED' || e.type === 'DELETED') as Array<{ type: string; object: ConfigMap; resourceVersion: string }>;
    expect(seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    expect(seen[1]!.object.data).toEqual({ a: '2' });
    expect(Number(seen[0]!.resourceVersion)).toBeGreaterThan(Number(l.resourceVersion));
    expect(events.some((e) => e.type === 'CLOSED')).toBe(false);
  });
});

function recorder() {
  const log: string[] = [];
  return {
    log,
    handler: {
      onAdd: (o: KObject, initial: boolean) => void log.push(`add ${objectKey(o)}${initial ? ' (initial)' : ''}`),
      onUpdate: (_old: KObject, o: KObject) => void log.push(`update ${objectKey(o)} ${JSON.stringify(o.data ?? {})}`),
      onDelete: (o: KObject) => void log.push(`delete ${objectKey(o)}`),
    },
  };
}

describe('informers on NATS', () => {
  let proxy: TcpProxy;
  let nc: NatsConnection;
  let factory: InformerFactory;

  beforeAll(async () => {
    await createNamespace('inf');
    await createNamespace('other');
    proxy = await TcpProxy.start(env.nats!.port);
    nc = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1, pingInterval: 1000 });
    factory = new InformerFactory({ client, nats: nc });
  });

  afterAll(async () => {
    await factory?.shutdown();
    await nc?.close().catch(() => {});
    await proxy?.close();
  });

  test('syncs, sees kubectl creates, updates and deletes, answers index queries; a failing handler does not stop the others', async () => {
    await client.configMaps.create('inf', cm('inf', 'pre', { v: '0' }, { app: 'web' }));
    await client.configMaps.create('other', cm('other', 'elsewhere', {}, { app: 'web' }));
    const inf = factory.configMaps('inf');
    expect(factory.configMaps('inf')).toBe(inf); // shared
    expect(inf.mode).toBe('nats');
    const { log, handler } = recorder();
    inf.addEventHandler(handler);
    inf.onAdd(() => {
      throw new Error('a broken handler');
    });
    await factory.start();
    await factory.waitForCacheSync(20_000);
    expect(inf.hasSynced()).toBe(true);
    expect(log).toContain('add inf/pre (initial)');
    expect(inf.get('inf/pre')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', data: { v: '0' } });
    expect(inf.get('inf/other')).toBeUndefined();
    expect(inf.keys()).not.toContain('other/elsewhere');

    await kubectl(['create', 'configmap', 'k1', '-n', 'inf', '--from-literal=v=1']);
    await kubectl(['label', 'configmap', 'k1', '-n', 'inf', 'app=web']);
    await kubectl(['patch', 'configmap', 'k1', '-n', 'inf', '--type=merge', '-p', '{"data":{"v":"2"}}']);
    await waitFor(() => inf.get('inf/k1')?.data?.v === '2', { description: 'the informer sees the patch' });
    expect(inf.get('inf/k1')).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap' });
    expect(inf.byIndex('label', 'app=web').map(objectKey).sort()).toEqual(['inf/k1', 'inf/pre']);
    expect(inf.list({ namespace: 'inf', selector: 'app=web' }).length).toBe(2);
    expect(inf.list({ selector: { app: 'db' } })).toEqual([]);
    await kubectl(['delete', 'configmap', 'k1', '-n', 'inf']);
    await waitFor(() => !inf.get('inf/k1'), { description: 'the informer sees the delete' });
    expect(log.filter((l) => l.includes('inf/k1'))).toEqual(['add inf/k1', 'update inf/k1 {"v":"1"}', 'update inf/k1 {"v":"2"}', 'delete inf/k1']);
    expect(log.some((l) => l.includes('other/'))).toBe(false);
    expect(inf.stats.handlerErrors).toBeGreaterThanOrEqual(2);
    // A handler added after the sync gets the cached objects as adds.
    const late: string[] = [];
    const off = inf.onAdd((o) => void late.push(objectKey(o)));
    expect(late).toEqual(['inf/pre']);
    off();
  });

  test('converges after its NATS connection is cut while kubectl changes things', async () => {
    const inf = factory.configMaps('inf');
    await inf.waitForSync();
    for (let i = 0; i < 5; i++) await client.configMaps.create('inf', cm('inf', `c${i}`, { v: '0' }));
    await waitFor(() => [0, 1, 2, 3, 4].every((i) => inf.get(`inf/c${i}`)), { description: 'the informer sees 5 configmaps' });
    const relists = inf.stats.relists;

    proxy.disconnect();
    await kubectl(['delete', 'configmap', 'c0', 'c1', '-n', 'inf']);
    await kubectl(['patch', 'configmap', 'c2', '-n', 'inf', '--type=merge', '-p', '{"data":{"v":"cut"}}']);
    await kubectl(['create', 'configmap', 'c9', '-n', 'inf', '--from-literal=v=new']);
    proxy.reconnect();

    const want = async () => new Map((await client.configMaps.list({ namespace: 'inf' })).items.map((o) => [objectKey(o), o.metadata.resourceVersion]));
    const truth = await want();
    await waitFor(
      async () => {
        await inf.drain();
        const have = new Map(inf.list().map((o) => [objectKey(o), o.metadata.resourceVersion]));
        return have.size === truth.size && [...truth].every(([k, rv]) => have.get(k) === rv);
      },
      { timeoutMs: 20_000, description: 'the informer converges on the API state', context: () => JSON.stringify(inf.stats) },
    );
    expect(inf.get('inf/c2')?.data).toEqual({ v: 'cut' });
    expect(inf.get('inf/c9')?.data).toEqual({ v: 'new' });
    expect(inf.get('inf/c0')).toBeUndefined();
    expect(inf.stats.relists).toBeGreaterThan(relists);
  });

  test('a node-scoped pod informer sees only the pods bound to its node', async () => {
    const inf = factory.podsOnNode('node-a.example');
    const { log, handler } = recorder();
    inf.addEventHandler(handler);
    await inf.waitForSync(20_000);
    await client.pods.create('inf', podSpec('inf', 'pa'));
    await client.pods.create('inf', podSpec('inf', 'pb'));
    await client.bind('inf', 'pa', 'node-a.example');
    await client.bind('inf', 'pb', 'node-b.example');
    await waitFor(() => inf.get('inf/pa'), { description: 'node-a sees its pod' });
    expect(inf.byIndex('node', 'node-a.example').map(objectKey)).toEqual(['inf/pa']);
    expect(inf.get('inf/pb')).toBeUndefined();
    await kubectl(['delete', 'pod', 'pa', '-n', 'inf', '--grace-period=0', '--force']);
    await waitFor(() => !inf.get('inf/pa'), { description: 'node-a sees the delete' });
    expect(log).toEqual(['add inf/pa', 'delete inf/pa']);

    // A second informer for another node syncs with the pod already bound there.
    const b = factory.podsOnNode('node-b.example');
    await b.waitForSync(20_000);
    expect(b.keys()).toEqual(['inf/pb']);
    expect(factory.all().filter((i) => i.resource === PODS).length).toBe(2);
  });

  test('periodic resync re-delivers updates for every cached object', async () => {
    const inf = new Informer<ConfigMap>({ client, resource: CONFIG_MAPS, namespace: 'inf', nats: nc, resyncPeriodMs: 200, labelSelector: 'app=web' });
    const resynced = new Set<string>();
    inf.onUpdate((old, cur) => {
      if (old === cur) resynced.add(objectKey(cur));
    });
    inf.start();
    try {
      await inf.waitForSync(20_000);
      expect(inf.keys()).toEqual(['inf/pre']);
      await waitFor(() => resynced.has('inf/pre'), { description: 'a resync' });
      // Relabelled out of the selector: gone from this informer.
      await kubectl(['label', 'configmap', 'pre', '-n', 'inf', 'app=api', '--overwrite']);
      await waitFor(() => inf.keys().length === 0, { description: 'the relabelled object leaves the informer' });
    } finally {
      inf.stop();
    }
  });
});

describe('informer without NATS (gRPC watch)', () => {
  test('syncs and follows changes over the Watch stream', async () => {
    await createNamespace('watch');
    await client.configMaps.create('watch', cm('watch', 'w0', {}));
    const factory = new InformerFactory({ client });
    const inf = factory.configMaps('watch');
    expect(inf.mode).toBe('watch');
    const { log, handler } = recorder();
    inf.addEventHandler(handler);
    await factory.start();
    try {
      await factory.waitForCacheSync(20_000);
      expect(log).toEqual(['add watch/w0 (initial)']);
      await kubectl(['create', 'configmap', 'w1', '-n', 'watch', '--from-literal=a=b']);
      await kubectl(['patch', 'configmap', 'w1', '-n', 'watch', '--type=merge', '-p', '{"data":{"a":"c"}}']);
      await kubectl(['delete', 'configmap', 'w0', '-n', 'watch']);
      await waitFor(() => inf.get('watch/w1')?.data?.a === 'c' && !inf.get('watch/w0'), { description: 'the watch informer follows' });
      expect(log).toEqual(['add watch/w0 (initial)', 'add watch/w1', 'update watch/w1 {"a":"c"}', 'delete watch/w0']);
    } finally {
      await factory.shutdown();
    }
  });
});

describe('reconnecting', () => {
  test('a client whose API server is unreachable keeps trying to connect about every second, not with gRPC\'s backoff of up to 2 minutes', async () => {
    // A listener that refuses to speak: every connection attempt is counted and cut.
    let attempts = 0;
    const refuser = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
    const port = (refuser.address() as net.AddressInfo).port;
    const c = await Client.connect({ address: `127.0.0.1:${port}`, ca: env.caCert, token: env.adminToken, timeoutMs: 500 });
    try {
      const until = Date.now() + 6_000;
      let failures = 0;
      while (Date.now() < until) {
        await c.namespaces.get(undefined, 'default').catch(() => failures++);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(failures).toBeGreaterThan(0);
      // grpc-js's defaults (1 s, x1.6, up to 120 s) make about 4 attempts in 6 s; a 1 s cap makes 6 or more.
      expect(attempts).toBeGreaterThanOrEqual(6);
    } finally {
      c.close();
      refuser.close();
    }
  });
});

describe('leader election against the API server', () => {
  test('two electors: exactly one leads at any moment; a clean stop hands over at once, a dead leader after the lease duration', async () => {
    const leading = new Set<string>();
    let overlap = 0;
    const electors = ['cand-a', 'cand-b', 'cand-c'].map(
      (id) =>
        new LeaderElector({
          client,
          namespace: 'kube-system',
          name: 'it-elector',
          identity: id,
          leaseDurationMs: 2000,
          renewDeadlineMs: 1500,
          retryPeriodMs: 250,
          onStartedLeading: (signal) => {
            leading.add(id);
            if (leading.size > 1) overlap++;
            signal.addEventListener('abort', () => leading.delete(id));
          },
          onStoppedLeading: () => leading.delete(id),
        }),
    );
    const [a, b, c] = electors as [LeaderElector, LeaderElector, LeaderElector];
    const monitor = setInterval(() => {
      if (electors.filter((e) => e.isLeader()).length > 1) overlap++;
    }, 2);
    try {
      a.start();
      await waitFor(() => a.isLeader(), { description: 'a leads' });
      b.start();
      await waitFor(() => b.getLeader() === 'cand-a', { description: 'b follows a' });
      const lease = await client.leases.get('kube-system', 'it-elector');
      expect(lease.spec).toMatchObject({ holderIdentity: 'cand-a', leaseDurationSeconds: 2, leaseTransitions: 0 });
      expect(lease.spec!.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      const shown = await kubectl(['get', 'lease', 'it-elector', '-n', 'kube-system', '-o', 'jsonpath={.spec.holderIdentity}']);
      expect(shown).toBe('cand-a');

      // Clean stop: released, b takes over within its retry period.
      let t = Date.now();
      await a.stop();
      await waitFor(() => b.isLeader(), { timeoutMs: 5000, description: 'b takes over' });
      expect(Date.now() - t).toBeLessThan(1500);
      expect((await client.leases.get('kube-system', 'it-elector')).spec).toMatchObject({ holderIdentity: 'cand-b', leaseTransitions: 1 });

      // A dead leader (no release): c takes over once the lease expired.
      c.start();
      await waitFor(() => c.getLeader() === 'cand-b', { description: 'c follows b' });
      t = Date.now();
      await b.stop({ release: false });
      await waitFor(() => c.isLeader(), { timeoutMs: 6000, description: 'c takes over' });
      const took = Date.now() - t;
      expect(took).toBeGreaterThan(2000 - 600);
      expect(took).toBeLessThan(2000 + 1500);
      expect(overlap).toBe(0);
    } finally {
      clearInterval(monitor);
      await Promise.all(electors.map((e) => e.stop()));
    }
  });

  test('kill -9 of the leader process: the standby process leads within the lease duration, never both', async () => {
    const caFile = path.join(env.dir, 'pki', 'ca.crt');
    const fixture = path.join(__dirname, 'fixtures', 'elector.ts');
    const root = path.resolve(__dirname, '..', '..', '..');
    expect(fs.existsSync(caFile)).toBe(true);
    const start = (id: string): ManagedProcess =>
      spawnProcess({
        name: `elector-${id}`,
        command: process.execPath,
        args: ['--conditions=@kubets/source', '--import', 'tsx', fixture, `127.0.0.1:${env.apiservers[0]!.grpcPort}`, caFile, env.adminToken, id, 'it-kill'],
        cwd: root,
      });
    type Line = { event: string; identity: string; t: number };
    const lines = (p: ManagedProcess): Line[] =>
      p
        .logs()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
    const p1 = start('proc-1');
    const p2 = start('proc-2');
    try {
      const first = await waitFor(() => [p1, p2].find((p) => lines(p).some((l) => l.event === 'started')), {
        timeoutMs: 30_000,
        description: 'one process leads',
        context: () => `${p1.tail(10)}\n${p2.tail(10)}`,
      });
      const other = first === p1 ? p2 : p1;
      await waitFor(() => lines(other).some((l) => l.event === 'leader'), { timeoutMs: 10_000, description: 'the standby sees the leader' });
      expect(lines(other).some((l) => l.event === 'started')).toBe(false);
      const killedAt = Date.now();
      await first.kill();
      const started = await waitFor(() => lines(other).find((l) => l.event === 'started'), { timeoutMs: 10_000, description: 'the standby leads' });
      // Within the lease duration (2 s) plus a retry period and some slack, and not before the kill.
      expect(started.t).toBeGreaterThan(killedAt);
      expect(started.t - killedAt).toBeLessThan(2000 + 1000);
      expect(lines(first).filter((l) => l.event === 'started')).toHaveLength(1);
      expect((await client.leases.get('kube-system', 'it-kill')).spec).toMatchObject({ holderIdentity: started.identity, leaseTransitions: 1 });
    } finally {
      await Promise.all([p1.stop(5000), p2.stop(5000)]);
    }
  });
});

describe('a second API server replica', () => {
  test('a watch from a revision older than its watch cache gets ERROR 410 Expired, then CLOSED', async () => {
    // A replica started now keeps changes from its start only, so revision 2 is too old for it.
    const api = await env.startApiServer();
    const second = await Client.connect({ address: `127.0.0.1:${api.grpcPort}`, ca: env.caCert, token: env.adminToken });
    try {
      const events: WatchEvent[] = [];
      second.configMaps.watch({ namespace: 'crud', resourceVersion: '2' }, (e) => events.push(e));
      await waitFor(() => events.some((e) => e.type === 'CLOSED'), { description: 'the expired watch ends' });
      expect(events.map((e) => e.type)).toEqual(['ERROR', 'CLOSED']);
      const err = (events[0] as { error: { code: number; reason: string; message: string } }).error;
      expect(err.code).toBe(410);
      expect(err.reason).toBe('Expired');
      expect(err.message).toMatch(/^too old resource version: 2 \(\d+\)$/);
      // The informer's fallback mode lists and watches against it fine.
      const inf = new Informer<ConfigMap>({ client: second, resource: CONFIG_MAPS, namespace: 'crud' }).start();
      await inf.waitForSync(10_000);
      expect(inf.get('crud/dup')).toBeDefined();
      inf.stop();
    } finally {
      second.close();
    }
  });
});

describe('informer factory given NATS URLs', () => {
  test('a comma-separated --nats-url is several servers (a live one and a dead one, in either order)', async () => {
    await createNamespace('urls');
    await client.configMaps.create('urls', cm('urls', 'u0', {}));
    // A refused port first (a lost control-plane node's NATS), then the live server.
    const dead = await TcpProxy.start(env.nats!.port);
    const deadUrl = dead.url;
    await dead.close();
    const live = `nats://127.0.0.1:${env.nats!.port}`;
    for (const urls of [`${live},${deadUrl}`, `${deadUrl},${live}`]) {
    const factory = new InformerFactory({ client, nats: urls });
    try {
      await factory.start();
      const inf = factory.configMaps('urls');
      expect(inf.mode).toBe('nats');
      await factory.waitForCacheSync(20_000);
      await kubectl(['create', 'configmap', 'u1', '-n', 'urls', '--from-literal=a=b']);
      await waitFor(() => !!factory.configMaps('urls').get('urls/u1'), { description: `the informer on ${urls} follows` });
      await kubectl(['delete', 'configmap', 'u1', '-n', 'urls']);
    } finally {
      await factory.shutdown();
    }
    }
  });
});

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventConsumer, nodePodsSubject, resourceSubject, type KObject } from '@kubets/api-events';
import { TcpProxy, waitFor } from '@kubets/testkit';
import { ApiEnv } from './harness';
import { call, ref, resourcesClient } from './grpc-client';

jest.setTimeout(180_000);

interface Recorded {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  rv: string;
}

function recorder() {
  const log: Recorded[] = [];
  const rec = (type: Recorded['type']) => (o: KObject) => {
    log.push({ type, key: `${o.metadata.namespace ?? ''}/${o.metadata.name}`, rv: o.metadata.resourceVersion });
  };
  return { log, handler: { added: rec('ADDED'), modified: rec('MODIFIED'), deleted: rec('DELETED') } };
}

function duplicates(log: Recorded[]): Recorded[] {
  const seen = new Set<string>();
  const dups: Recorded[] = [];
  for (const r of log) {
    const k = `${r.type} ${r.key} ${r.rv}`;
    if (seen.has(k)) dups.push(r);
    seen.add(k);
  }
  return dups;
}

describe('change events on NATS', () => {
  let env: ApiEnv;
  let proxy: TcpProxy;
  let nc: NatsConnection;
  const consumers: EventConsumer[] = [];

  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets', nats: true, replicas: 2 });
    proxy = await TcpProxy.start(env.nats!.port);
    nc = await connect({ servers: proxy.url, reconnectTimeWait: 100, maxReconnectAttempts: -1, pingInterval: 1000 });
  });
  afterAll(async () => {
    for (const c of consumers) c.stop();
    await nc?.close().catch(() => {});
    await proxy?.close();
    await env?.dispose();
  });

  const grpcList = (resource: string, o: { fieldSelector?: string } = {}) => async () => {
    const api = env.apiservers.find((a) => a.proc.running)!;
    const client = resourcesClient(api.grpcPort, env.caCert, env.adminToken);
    try {
      const r = await call(client.list.bind(client), { ref: ref(resource), labelSelector: '', fieldSelector: o.fieldSelector ?? '', resourceVersion: '', resourceVersionMatch: '', limit: 0n, continue: '', allowWatchBookmarks: false, timeoutSeconds: 0n });
      const l = JSON.parse(Buffer.from(r.list).toString('utf8'));
      return { items: l.items, resourceVersion: r.resourceVersion };
    } finally {
      client.close();
    }
  };

  const cm = (name: string, data: Record<string, string>) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });

  async function kvState(resource: string): Promise<Map<string, string>> {
    const l = await grpcList(resource)();
    return new Map(l.items.map((o: KObject) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.resourceVersion]));
  }

  function consumerState(c: EventConsumer): Map<string, string> {
    return new Map([...c.state.values()].map((o) => [`${o.metadata.namespace ?? ''}/${o.metadata.name}`, o.metadata.resourceVersion]));
  }

  it('a consumer disconnected while 100 changes are committed ends with the KV state, no duplicates, nothing missing', async () => {
    const { log, handler } = recorder();
    const c = new EventConsumer({ nc, subject: resourceSubject('', 'configmaps'), list: grpcList('configmaps'), handler });
    consumers.push(c);
    await c.start();
    for (let i = 0; i < 10; i++) expect((await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm(`cm-${i}`, { v: '0' }) })).status).toBe(201);
    await waitFor(() => [...c.state.keys()].filter((k) => k.startsWith('default/cm-')).length === 10, { timeoutMs: 10_000, description: 'the consumer sees 10 configmaps live' });
    const relistsBefore = c.stats.relists;
    const liveEvents = c.stats.events;
    expect(liveEvents).toBeGreaterThanOrEqual(10);

    proxy.disconnect();
    // 100 committed changes while the consumer is cut off: 40 creates, 40 updates, 20 deletes,
    // through both API server replicas.
    let changes = 0;
    for (let i = 10; i < 50; i++, changes++) expect((await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm(`cm-${i}`, { v: '0' }), server: i % 2 })).status).toBe(201);
    for (let i = 0; i < 40; i++, changes++) {
      const r = await env.request('PATCH', `/api/v1/namespaces/default/configmaps/cm-${i}`, { body: JSON.stringify({ data: { v: '1' } }), headers: { 'Content-Type': 'application/merge-patch+json' }, server: i % 2 });
      expect(r.status).toBe(200);
    }
    for (let i = 0; i < 20; i++, changes++) expect((await env.request('DELETE', `/api/v1/namespaces/default/configmaps/cm-${i}`, { server: i % 2 })).status).toBe(200);
    expect(changes).toBe(100);
    proxy.reconnect();

    const want = await kvState('configmaps');
    await waitFor(async () => {
      await c.drain();
      const have = consumerState(c);
      return have.size === want.size && [...want].every(([k, rv]) => have.get(k) === rv);
    }, { timeoutMs: 30_000, description: 'the consumer converges on the KV state', context: () => JSON.stringify(c.stats) });
    expect(c.stats.relists).toBeGreaterThan(relistsBefore);
    expect(duplicates(log)).toEqual([]);
    // Every object's last delivered version is the one in the KV; deleted ones were delivered as DELETED.
    // cm-0..9 were seen before the cut and deleted during it: DELETED; cm-10..19 were created and deleted during it: never delivered.
    for (let i = 0; i < 10; i++) expect(log.filter((r) => r.key === `default/cm-${i}`).at(-1)?.type).toBe('DELETED');
    for (let i = 10; i < 20; i++) expect(log.filter((r) => r.key === `default/cm-${i}`)).toEqual([]);
    for (const [k, rv] of want) expect(log.filter((r) => r.key === k).at(-1)?.rv).toBe(rv);
  });

  it('pods bound to a node are published on that node\'s subject only', async () => {
    const a = recorder();
    const b = recorder();
    const ca = new EventConsumer({ nc, subject: nodePodsSubject('node-a.example'), list: grpcList('pods', { fieldSelector: 'spec.nodeName=node-a.example' }), handler: a.handler });
    const cb = new EventConsumer({ nc, subject: nodePodsSubject('node-b.example'), list: grpcList('pods', { fieldSelector: 'spec.nodeName=node-b.example' }), handler: b.handler });
    consumers.push(ca, cb);
    await ca.start();
    await cb.start();
    const pod = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    expect((await env.request('POST', '/api/v1/namespaces/default/pods', { body: pod('p1') })).status).toBe(201);
    expect((await env.request('POST', '/api/v1/namespaces/default/pods', { body: pod('p2') })).status).toBe(201);
    const bind = (name: string, node: string) =>
      env.request('POST', `/api/v1/namespaces/default/pods/${name}/binding`, { body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: node } }) });
    expect((await bind('p1', 'node-a.example')).status).toBe(201);
    expect((await bind('p2', 'node-b.example')).status).toBe(201);
    await waitFor(() => ca.state.has('default/p1') && cb.state.has('default/p2'), { timeoutMs: 10_000, description: 'each node sees its pod' });
    expect(ca.state.has('default/p2')).toBe(false);
    expect(cb.state.has('default/p1')).toBe(false);
    expect(a.log.map((r) => r.type)).toEqual(['ADDED']);
    // Deleting the pod (no kubelet here: grace period 0) removes it from the node's view.
    expect((await env.request('DELETE', '/api/v1/namespaces/default/pods/p1?gracePeriodSeconds=0')).status).toBe(200);
    await waitFor(() => !ca.state.has('default/p1'), { timeoutMs: 10_000, description: 'node-a sees the delete' });
    expect(a.log.map((r) => r.type)).toEqual(['ADDED', 'DELETED']);
  });

  it('kill -9 of the publishing API server: the other takes over and consumers converge', async () => {
    const { log, handler } = recorder();
    const c = new EventConsumer({ nc, subject: resourceSubject('', 'secrets'), list: grpcList('secrets'), handler });
    consumers.push(c);
    await c.start();
    const leaderIdx = await waitFor(async () => {
      for (let i = 0; i < env.apiservers.length; i++) {
        const m = await env.request('GET', '/metrics', { server: i });
        if (/apiserver_nats_event_publisher_leader 1/.test(m.body)) return i + 1;
      }
      return 0;
    }, { timeoutMs: 15_000, description: 'a publisher is elected' }) - 1;
    const other = 1 - leaderIdx;
    const secret = (i: number) => JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `s-${i}`, namespace: 'default' }, stringData: { k: String(i) } });
    for (let i = 0; i < 5; i++) expect((await env.request('POST', '/api/v1/namespaces/default/secrets', { body: secret(i), server: other })).status).toBe(201);
    await env.apiservers[leaderIdx]!.proc.kill();
    for (let i = 5; i < 30; i++) expect((await env.request('POST', '/api/v1/namespaces/default/secrets', { body: secret(i), server: other })).status).toBe(201);
    const want = await kvState('secrets');
    await waitFor(async () => {
      await c.drain();
      const have = consumerState(c);
      return have.size === want.size && [...want].every(([k, rv]) => have.get(k) === rv);
    }, { timeoutMs: 30_000, description: 'the consumer converges after the publisher failover', context: () => JSON.stringify(c.stats) });
    expect(duplicates(log)).toEqual([]);
    await env.startApiServer(env.apiservers[leaderIdx]!.port, leaderIdx);
  });
});

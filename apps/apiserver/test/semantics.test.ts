import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { createCA, createCertificate } from '@kubets/pki';
import { ResourcesClient } from '@kubets/proto/kubets/api/v1/api';
import YAML from 'yaml';
import { listServices, waitFor } from '@kubets/testkit';
import { ApiEnv } from './harness';
import { call, ref, resourcesClient, statusOf } from './grpc-client';

jest.setTimeout(180_000);

const json = (o: unknown) => JSON.stringify(o);
const cm = (name: string, extra: Record<string, unknown> = {}) => json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', ...extra }, data: { a: '1' } });

describe('Kubernetes API semantics on kubets-kv', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    // A small watch cache, so a watch from an old revision is answered 410 Expired.
    env = await ApiEnv.start({ kv: 'kubets', extraArgs: ['--default-watch-cache-size=100'] });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('create fills uid, creationTimestamp, resourceVersion; generateName; generation bumps on spec changes only', async () => {
    const r = await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'gen-', namespace: 'default' } }) });
    expect(r.status).toBe(201);
    const o = r.json();
    expect(o.metadata.name).toMatch(/^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(o.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(o.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(o.metadata.resourceVersion)).toBeGreaterThan(0);
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'gen', namespace: 'default' },
      spec: { selector: { matchLabels: { app: 'g' } }, template: { metadata: { labels: { app: 'g' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
    };
    const d = (await env.request('POST', '/apis/apps/v1/namespaces/default/deployments', { body: json(dep) })).json();
    expect(d.metadata.generation).toBe(1);
    expect(d.spec.replicas).toBe(1);
    const labeled = (await env.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen', { body: '{"metadata":{"labels":{"x":"y"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } })).json();
    expect(labeled.metadata.generation).toBe(1);
    const scaled = (await env.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen', { body: '{"spec":{"replicas":3}}', headers: { 'Content-Type': 'application/merge-patch+json' } })).json();
    expect(scaled.metadata.generation).toBe(2);
    // status is a subresource: the main endpoint ignores it, /status takes only it.
    const st = (await env.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen', { body: '{"status":{"replicas":9}}', headers: { 'Content-Type': 'application/merge-patch+json' } })).json();
    expect(st.status.replicas).toBeUndefined();
    const st2 = (await env.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/gen/status', { body: '{"status":{"replicas":9},"spec":{"replicas":7}}', headers: { 'Content-Type': 'application/merge-patch+json' } })).json();
    expect(st2.status.replicas).toBe(9);
    expect(st2.spec.replicas).toBe(3);
    expect(st2.metadata.generation).toBe(2);
    // scale subresource
    const scale = (await env.request('GET', '/apis/apps/v1/namespaces/default/deployments/gen/scale')).json();
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 9, selector: 'app=g' } });
    const put = await env.request('PUT', '/apis/apps/v1/namespaces/default/deployments/gen/scale', { body: json({ ...scale, spec: { replicas: 4 } }) });
    expect(put.status).toBe(200);
    expect((await env.request('GET', '/apis/apps/v1/namespaces/default/deployments/gen')).json().spec.replicas).toBe(4);
  });

  it('JSON patch, strategic merge patch and dryRun', async () => {
    await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm('p') });
    const jp = await env.request('PATCH', '/api/v1/namespaces/default/configmaps/p', { body: json([{ op: 'add', path: '/data/b', value: '2' }, { op: 'remove', path: '/data/a' }]), headers: { 'Content-Type': 'application/json-patch+json' } });
    expect(jp.json().data).toEqual({ b: '2' });
    const failedTest = await env.request('PATCH', '/api/v1/namespaces/default/configmaps/p', { body: json([{ op: 'test', path: '/data/b', value: 'nope' }]), headers: { 'Content-Type': 'application/json-patch+json' } });
    expect([409, 422]).toContain(failedTest.status);
    const dry = await env.request('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: cm('dry') });
    expect(dry.status).toBe(201);
    expect((await env.request('GET', '/api/v1/namespaces/default/configmaps/dry')).status).toBe(404);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'smp', namespace: 'default' }, spec: { containers: [{ name: 'a', image: 'busybox', env: [{ name: 'X', value: '1' }] }, { name: 'b', image: 'busybox' }] } };
    expect((await env.request('POST', '/api/v1/namespaces/default/pods', { body: json(pod) })).status).toBe(201);
    const smp = await env.request('PATCH', '/api/v1/namespaces/default/pods/smp', { body: json({ spec: { containers: [{ name: 'b', image: 'busybox:1.36' }] } }), headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    expect(smp.status).toBe(200);
    expect(smp.json().spec.containers.map((c: any) => [c.name, c.image])).toEqual([['a', 'busybox'], ['b', 'busybox:1.36']]);
    expect(smp.json().spec.containers[0].env).toEqual([{ name: 'X', value: '1' }]);
    const forbidden = await env.request('PATCH', '/api/v1/namespaces/default/pods/smp', { body: json({ spec: { restartPolicy: 'Never' } }), headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    expect(forbidden.status).toBe(422);
  });

  it('list: label (equality and set-based) and field selectors, paging with continue', async () => {
    for (let i = 0; i < 7; i++) {
      await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `sel-${i}`, namespace: 'default', labels: { tier: i % 2 ? 'odd' : 'even', n: String(i) } } }) });
    }
    const names = (r: any) => r.json().items.map((o: any) => o.metadata.name);
    expect(names(await env.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dodd'))).toEqual(['sel-1', 'sel-3', 'sel-5']);
    expect(names(await env.request('GET', `/api/v1/namespaces/default/configmaps?labelSelector=${encodeURIComponent('tier=even,n notin (0,2)')}`))).toEqual(['sel-4', 'sel-6']);
    expect(names(await env.request('GET', `/api/v1/namespaces/default/configmaps?labelSelector=${encodeURIComponent('!tier')}&fieldSelector=metadata.name%3Dp`))).toEqual(['p']);
    expect(names(await env.request('GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dsel-3'))).toEqual(['sel-3']);
    const page1 = (await env.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=tier&limit=3')).json();
    expect(page1.items.map((o: any) => o.metadata.name)).toEqual(['sel-0', 'sel-1', 'sel-2']);
    expect(page1.metadata.continue).toBeTruthy();
    // A write between pages does not show up: paging reads one snapshot.
    await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: json({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sel-25', namespace: 'default', labels: { tier: 'x' } } }) });
    const page2 = (await env.request('GET', `/api/v1/namespaces/default/configmaps?labelSelector=tier&limit=3&continue=${page1.metadata.continue}`)).json();
    expect(page2.items.map((o: any) => o.metadata.name)).toEqual(['sel-3', 'sel-4', 'sel-5']);
    expect(page2.metadata.resourceVersion).toBe(page1.metadata.resourceVersion);
    const page3 = (await env.request('GET', `/api/v1/namespaces/default/configmaps?labelSelector=tier&limit=3&continue=${page2.metadata.continue}`)).json();
    expect(page3.items.map((o: any) => o.metadata.name)).toEqual(['sel-6']);
    expect(page3.metadata.continue).toBeUndefined();
    // field selectors on events (kubectl describe)
    await env.request('POST', '/api/v1/namespaces/default/events', { body: json({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'smp', namespace: 'default', uid: 'u1' }, reason: 'R', message: 'm', type: 'Normal' }) });
    await env.request('POST', '/api/v1/namespaces/default/events', { body: json({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e2', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'other', namespace: 'default', uid: 'u2' }, reason: 'R', message: 'm', type: 'Normal' }) });
    expect(names(await env.request('GET', `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent('involvedObject.name=smp,involvedObject.namespace=default,involvedObject.uid=u1')}`))).toEqual(['e1']);
  });

  it('watch: rv unset starts with ADDED for what exists, rv=N streams after N, bookmarks, 410 after compaction', async () => {
    const list = (await env.request('GET', '/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dodd')).json();
    const fromNow = env.watch('/api/v1/namespaces/default/configmaps?watch=true&labelSelector=tier%3Dodd');
    const fromRv = env.watch(`/api/v1/namespaces/default/configmaps?watch=true&labelSelector=tier%3Dodd&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`);
    try {
      await waitFor(() => fromNow.events.length >= 3, { timeoutMs: 10_000, description: 'initial ADDED events' });
      expect(fromNow.events.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'ADDED']);
      // Label change moves an object out of the selection: DELETED for that watcher.
      await env.request('PATCH', '/api/v1/namespaces/default/configmaps/sel-1', { body: '{"metadata":{"labels":{"tier":"gone"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
      await env.request('PATCH', '/api/v1/namespaces/default/configmaps/sel-2', { body: '{"metadata":{"labels":{"tier":"odd"}}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
      await waitFor(() => fromRv.events.filter((e) => e.type !== 'BOOKMARK').length >= 2, { timeoutMs: 10_000, description: 'the changes' });
      expect(fromRv.events.filter((e) => e.type !== 'BOOKMARK').map((e) => [e.type, e.object.metadata.name])).toEqual([['DELETED', 'sel-1'], ['ADDED', 'sel-2']]);
      await waitFor(() => fromRv.events.some((e) => e.type === 'BOOKMARK'), { timeoutMs: 15_000, description: 'a bookmark' });
      const bm = fromRv.events.find((e) => e.type === 'BOOKMARK');
      expect(bm.object.kind).toBe('ConfigMap');
      expect(Number(bm.object.metadata.resourceVersion)).toBeGreaterThan(0);
    } finally {
      fromNow.stop();
      fromRv.stop();
    }
    // Compact the KV past an old revision: a watch from there gets 410 Expired.
    const rv = Number((await env.request('GET', '/api/v1/namespaces/default/configmaps')).json().metadata.resourceVersion);
    const compact = await env.kvCluster!.etcdctl(['compact', String(rv)]);
    expect(compact.code).toBe(0);
    // A watch from before what the API server keeps: one ERROR event with 410 Expired, then the end.
    for (let i = 0; i < 110; i++) await env.request('PATCH', '/api/v1/namespaces/default/configmaps/sel-0', { body: json({ data: { i: String(i) } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
    const tooOld = env.watch('/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1');
    await waitFor(() => tooOld.ended() && tooOld.events.length === 1, { timeoutMs: 10_000, description: 'the 410 ERROR event' });
    expect(tooOld.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    const listOld = await env.request('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=2&resourceVersionMatch=Exact`);
    expect(listOld.status).toBe(410);
    expect(listOld.json().reason).toBe('Expired');
  });

  it('finalizers hold a delete until they are removed; Foreground adds foregroundDeletion', async () => {
    await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm('fin', { finalizers: ['example.com/hold'] }) });
    const del = await env.request('DELETE', '/api/v1/namespaces/default/configmaps/fin');
    expect(del.status).toBe(200);
    const held = (await env.request('GET', '/api/v1/namespaces/default/configmaps/fin')).json();
    expect(held.metadata.deletionTimestamp).toBeTruthy();
    const addMore = await env.request('PATCH', '/api/v1/namespaces/default/configmaps/fin', { body: '{"metadata":{"finalizers":["example.com/hold","x/y"]}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(addMore.status).toBe(403);
    await env.request('PATCH', '/api/v1/namespaces/default/configmaps/fin', { body: '{"metadata":{"finalizers":null}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect((await env.request('GET', '/api/v1/namespaces/default/configmaps/fin')).status).toBe(404);
    await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm('fg') });
    await env.request('DELETE', '/api/v1/namespaces/default/configmaps/fg', { body: '{"propagationPolicy":"Foreground"}' });
    expect((await env.request('GET', '/api/v1/namespaces/default/configmaps/fg')).json().metadata.finalizers).toEqual(['foregroundDeletion']);
  });

  it('ClusterIPs are unique, from the range, released on delete; NodePorts too', async () => {
    const svc = (name: string, extra: Record<string, unknown> = {}) => json({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }], ...extra } });
    const ips = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const s = (await env.request('POST', '/api/v1/namespaces/default/services', { body: svc(`s${i}`) })).json();
      expect(s.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
      expect(s.spec.clusterIPs).toEqual([s.spec.clusterIP]);
      ips.add(s.spec.clusterIP);
    }
    expect(ips.size).toBe(10);
    const taken = [...ips][0]!;
    const dup = await env.request('POST', '/api/v1/namespaces/default/services', { body: svc('dup', { clusterIP: taken }) });
    expect(dup.status).toBe(422);
    expect(dup.json().message).toContain('provided IP is already allocated');
    const owner = [...Array(10).keys()].find((i) => true && i >= 0);
    void owner;
    const s0 = (await env.request('GET', '/api/v1/namespaces/default/services/s0')).json();
    expect((await env.request('DELETE', '/api/v1/namespaces/default/services/s0')).status).toBe(200);
    const reuse = await env.request('POST', '/api/v1/namespaces/default/services', { body: svc('reuse', { clusterIP: s0.spec.clusterIP }) });
    expect(reuse.status).toBe(201);
    const np = (await env.request('POST', '/api/v1/namespaces/default/services', { body: svc('np', { type: 'NodePort' }) })).json();
    expect(np.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    const npDup = await env.request('POST', '/api/v1/namespaces/default/services', { body: svc('np2', { type: 'NodePort', ports: [{ port: 80, nodePort: np.spec.ports[0].nodePort }] }) });
    expect(npDup.status).toBe(422);
    const immutable = await env.request('PATCH', '/api/v1/namespaces/default/services/np', { body: '{"spec":{"clusterIP":"10.96.0.77"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(immutable.status).toBe(422);
  });

  it('discovery: legacy and aggregated v2; /version; /openapi/v3', async () => {
    const agg = await env.request('GET', '/apis', { headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } });
    expect(agg.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(agg.json().items.map((g: any) => g.metadata.name).sort()).toEqual(['apps', 'coordination.k8s.io', 'discovery.k8s.io']);
    const legacy = (await env.request('GET', '/api/v1')).json();
    expect(legacy.resources.find((r: any) => r.name === 'pods')).toMatchObject({ kind: 'Pod', namespaced: true, shortNames: ['po'] });
    expect(legacy.resources.find((r: any) => r.name === 'pods/binding')).toBeTruthy();
    const apps = (await env.request('GET', '/apis/apps/v1')).json();
    expect(apps.resources.find((r: any) => r.name === 'deployments/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect((await env.request('GET', '/version', { token: null })).json().minor).toBe('32');
    const root = (await env.request('GET', '/openapi/v3')).json();
    const url = root.paths['apis/apps/v1'].serverRelativeURL;
    const doc = (await env.request('GET', url)).json();
    const post = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments'].post;
    expect(post['x-kubernetes-group-version-kind']).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(post.parameters.map((p: any) => p.name)).toContain('fieldValidation');
  });

  it('the internal gRPC API: reflection, CRUD and watch with the same semantics and Status errors', async () => {
    const services = await listServices(`127.0.0.1:${env.apiservers[0]!.grpcPort}`, 'v1', 5000, grpc.credentials.createSsl(Buffer.from(env.caCert)));
    expect(services).toEqual(expect.arrayContaining(['kubets.api.v1.Resources', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection']));
    const c = resourcesClient(env.apiservers[0]!.grpcPort, env.caCert, env.adminToken);
    try {
      const w = { ops: { dryRun: false, fieldValidation: 'Strict', fieldManager: 'test' } };
      const created = await call(c.create.bind(c), { ref: ref('configmaps', { namespace: 'default' }), object: Buffer.from(cm('grpc')), options: w.ops });
      const obj = JSON.parse(Buffer.from(created.object).toString());
      expect(obj.metadata.uid).toBeTruthy();
      const events: any[] = [];
      const stream = c.watch({ ref: ref('configmaps', { namespace: 'default' }), labelSelector: '', fieldSelector: 'metadata.name=grpc', resourceVersion: obj.metadata.resourceVersion, resourceVersionMatch: '', limit: 0n, continue: '', allowWatchBookmarks: false, timeoutSeconds: 0n });
      stream.on('data', (e) => events.push(e));
      stream.on('error', () => {});
      await call(c.patch.bind(c), { ref: ref('configmaps', { namespace: 'default', name: 'grpc' }), patchType: 'merge', patch: Buffer.from('{"data":{"a":"2"}}'), options: w.ops });
      await waitFor(() => events.length >= 1, { timeoutMs: 10_000, description: 'a gRPC watch event' });
      expect(events[0].type).toBe('MODIFIED');
      expect(JSON.parse(Buffer.from(events[0].object).toString()).data).toEqual({ a: '2' });
      stream.cancel();
      const err = await call(c.create.bind(c), { ref: ref('configmaps', { namespace: 'default' }), object: Buffer.from(cm('grpc')), options: w.ops }).catch((e) => e);
      expect(err.code).toBe(grpc.status.ALREADY_EXISTS);
      expect(statusOf(err)).toMatchObject({ kind: 'Status', reason: 'AlreadyExists', code: 409 });
      const nf = await call(c.get.bind(c), { ref: ref('configmaps', { namespace: 'default', name: 'nope' }), resourceVersion: '' }).catch((e) => e);
      expect(nf.code).toBe(grpc.status.NOT_FOUND);
      const garbage = await call(c.create.bind(c), { ref: ref('configmaps', { namespace: 'default' }), object: Buffer.from('{"trunc'), options: w.ops }).catch((e) => e);
      expect(garbage.code).toBe(grpc.status.INVALID_ARGUMENT);
      const del = await call(c.delete.bind(c), { ref: ref('configmaps', { namespace: 'default', name: 'grpc' }), deleteOptions: Buffer.alloc(0) });
      expect(del.finished).toBe(true);
    } finally {
      c.close();
    }
    // Client certificates authenticate too (the admin kubeconfig's own user); one from another CA does not.
    const kc = YAML.parse(fs.readFileSync(env.kubeconfig, 'utf8'));
    const user = kc.users.find((u: any) => u.user['client-certificate-data']).user;
    const withCert = (cert: Buffer, key: Buffer) =>
      new ResourcesClient(`127.0.0.1:${env.apiservers[0]!.grpcPort}`, grpc.credentials.createSsl(Buffer.from(env.caCert), key, cert));
    const good = withCert(Buffer.from(user['client-certificate-data'], 'base64'), Buffer.from(user['client-key-data'], 'base64'));
    expect((await call(good.get.bind(good), { ref: ref('namespaces', { name: 'default' }), resourceVersion: '' })).object.length).toBeGreaterThan(0);
    good.close();
    const foreignCa = createCA('not-the-cluster-ca');
    const foreign = createCertificate({ subject: { commonName: 'kubernetes-admin', organizations: ['system:masters'] }, issuer: { cert: foreignCa.certPem, key: foreignCa.keyPem }, extKeyUsage: ['clientAuth'] });
    const bad = withCert(Buffer.from(foreign.certPem), Buffer.from(foreign.keyPem));
    const denied = await call(bad.get.bind(bad), { ref: ref('namespaces', { name: 'default' }), resourceVersion: '' }).catch((x) => x);
    expect(denied.code).toBe(grpc.status.UNAUTHENTICATED);
    bad.close();
    const noAuth = resourcesClient(env.apiservers[0]!.grpcPort, env.caCert, 'wrong');
    const e = await call(noAuth.get.bind(noAuth), { ref: ref('configmaps', { namespace: 'default', name: 'x' }), resourceVersion: '' }).catch((x) => x);
    expect(e.code).toBe(grpc.status.UNAUTHENTICATED);
    noAuth.close();
  });
});

import { waitFor } from '@kubets/testkit';
import { ApiEnv } from './harness';

jest.setTimeout(180_000);

const cm = (name: string) => JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data: { n: name } });

describe('two API server replicas on one kubets-kv', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets', replicas: 2 });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('writes through one are seen by watches through the other', async () => {
    const list = (await env.request('GET', '/api/v1/namespaces/default/configmaps', { server: 1 })).json();
    const w = env.watch(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${list.metadata.resourceVersion}`, { server: 1 });
    try {
      const created = (await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm('a'), server: 0 })).json();
      await env.request('PATCH', '/api/v1/namespaces/default/configmaps/a', { body: '{"data":{"n":"b"}}', headers: { 'Content-Type': 'application/merge-patch+json' }, server: 0 });
      await env.request('DELETE', '/api/v1/namespaces/default/configmaps/a', { server: 0 });
      await waitFor(() => w.events.length >= 3, { timeoutMs: 10_000, description: '3 events through the other replica' });
      expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
      expect(w.events[0].object.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
      expect(w.events[1].object.data).toEqual({ n: 'b' });
      expect(Number(w.events[2].object.metadata.resourceVersion)).toBeGreaterThan(Number(w.events[1].object.metadata.resourceVersion));
    } finally {
      w.stop();
    }
  });

  it('reads are linearizable across replicas: a write acknowledged by one is read back at once from the other', async () => {
    // The other replica serves reads from its watch cache only after it has
    // caught up with the KV's current revision; without that wait these
    // immediate reads would miss writes still in flight on its watch.
    // 20 writers in parallel keep the replicas' watch streams busy, so a read
    // served without the wait would regularly miss the write it follows.
    const stale: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async (_, w) => {
        for (let j = 0; j < 8; j++) {
          const name = `rr-${w}-${j}`;
          const created = await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm(name), server: 0 });
          expect(created.status).toBe(201);
          const got = await env.request('GET', `/api/v1/namespaces/default/configmaps/${name}`, { server: 1 });
          if (got.status !== 200 || got.json().metadata.resourceVersion !== created.json().metadata.resourceVersion) stale.push(`get ${name}: ${got.status}`);
          const patched = await env.request('PATCH', `/api/v1/namespaces/default/configmaps/${name}`, { body: '{"data":{"n":"x"}}', headers: { 'Content-Type': 'application/merge-patch+json' }, server: 1 });
          expect(patched.status).toBe(200);
          const listed = await env.request('GET', `/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3D${name}`, { server: 0 });
          if (listed.json().items[0]?.metadata.resourceVersion !== patched.json().metadata.resourceVersion) stale.push(`list ${name}`);
        }
      }),
    );
    expect(stale).toEqual([]);
  });

  it('the kubernetes Service lists both replicas as endpoints', async () => {
    await waitFor(async () => {
      const ep = (await env.request('GET', '/api/v1/namespaces/default/endpoints/kubernetes')).json();
      const ports = (ep.subsets ?? []).flatMap((s: any) => s.ports.map((p: any) => p.port)).sort();
      return JSON.stringify(ports) === JSON.stringify(env.apiservers.map((a) => a.port).sort());
    }, { timeoutMs: 15_000, description: 'both replicas in the kubernetes endpoints' });
    const svc = (await env.request('GET', '/api/v1/namespaces/default/services/kubernetes')).json();
    expect(svc.spec.clusterIP).toBe('10.96.0.1');
  });

  it('kill -9 of an API server during writes loses nothing acknowledged, and clients reconnect', async () => {
    const acked: string[] = [];
    let failures = 0;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        try {
          const r = await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: cm(`k-${i}`), server: 0, timeoutMs: 5000 });
          if (r.status === 201) acked.push(`k-${i}`);
          else failures++;
        } catch {
          failures++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();
    await waitFor(() => acked.length >= 30, { timeoutMs: 20_000, description: '30 acknowledged writes before the kill' });
    await env.apiservers[0]!.proc.kill();
    const ackedAtKill = acked.length;
    await waitFor(() => failures > 0, { timeoutMs: 10_000, description: 'the writer notices the dead server' });
    await env.startApiServer(env.apiservers[0]!.port, 0);
    await waitFor(() => acked.length >= ackedAtKill + 20, { timeoutMs: 30_000, description: 'the writer reconnects and continues' });
    stop = true;
    await writer;
    const names = new Set(((await env.request('GET', '/api/v1/namespaces/default/configmaps', { server: 1 })).json().items as any[]).map((o) => o.metadata.name));
    const lost = acked.filter((n) => !names.has(n));
    expect(lost).toEqual([]);
  });
});

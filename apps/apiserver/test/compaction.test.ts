import { waitFor } from '@kubets/testkit';
import { ApiEnv } from './harness';

jest.setTimeout(120_000);

describe('the API server compacts the KV history, like kube-apiserver', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets', replicas: 2, extraArgs: ['--etcd-compaction-interval=1s'] });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('history older than one interval is compacted; a list at that revision gets 410 Expired', async () => {
    const first = await env.request('POST', '/api/v1/namespaces/default/configmaps', { body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } }) });
    const rv = first.json().metadata.resourceVersion;
    await env.request('PATCH', '/api/v1/namespaces/default/configmaps/c', { body: '{"data":{"a":"1"}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await waitFor(async () => (await env.request('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${rv}&resourceVersionMatch=Exact`)).status === 410, {
      timeoutMs: 20_000,
      description: 'the old revision compacted',
    });
    const r = await env.request('GET', `/api/v1/namespaces/default/configmaps?resourceVersion=${rv}&resourceVersionMatch=Exact`);
    expect(r.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
    // etcdctl sees the same: the KV itself was compacted.
    const old = await env.kvCluster!.etcdctl(['get', '/registry/configmaps/default/c', `--rev=${rv}`]);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('required revision has been compacted');
    // Both replicas keep serving.
    for (let i = 0; i < 2; i++) expect((await env.request('GET', '/api/v1/namespaces/default/configmaps/c', { server: i })).status).toBe(200);
  });
});

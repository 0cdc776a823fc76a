// kube-public/cluster-info: kept by every API server replica (created when
// missing, repaired when wrong, without the replicas fighting over it), and
// the one thing a request without credentials may read.
import { waitFor } from '@kubets/testkit';
import YAML from 'yaml';
import { ApiEnv } from './harness';

jest.setTimeout(180_000);

const PATH = '/api/v1/namespaces/kube-public/configmaps/cluster-info';

function clusterOf(cm: any): { server: string; ca: string } {
  const c = YAML.parse(cm.data.kubeconfig).clusters[0].cluster;
  return { server: c.server, ca: Buffer.from(c['certificate-authority-data'], 'base64').toString('utf8') };
}

describe('cluster-info with two API server replicas', () => {
  let env: ApiEnv;
  beforeAll(async () => {
    env = await ApiEnv.start({ kv: 'kubets', replicas: 2 });
  });
  afterAll(async () => {
    await env?.dispose();
  });

  it('is there at startup with the CA and a replica URL, and stays put (no flapping between replicas)', async () => {
    const r = await env.request('GET', PATH);
    expect(r.status).toBe(200);
    const cm = r.json();
    expect(clusterOf(cm).ca).toBe(env.caCert);
    expect(env.apiservers.map((a) => a.url)).toContain(clusterOf(cm).server);
    expect(YAML.parse(cm.data.kubeconfig).users).toBeNull();
    // Two reconcile rounds of both replicas (every 5 s): nobody rewrites it.
    await new Promise((res) => setTimeout(res, 11_000));
    expect((await env.request('GET', PATH)).json().metadata.resourceVersion).toBe(cm.metadata.resourceVersion);
  });

  it('anonymous requests may GET cluster-info and nothing else', async () => {
    const anon = await env.request('GET', PATH, { token: null });
    expect(anon.status).toBe(200);
    expect(clusterOf(anon.json()).ca).toBe(env.caCert);
    expect((await env.request('GET', PATH, { token: null, headers: { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } })).status).toBe(200);
    const denied: Array<[string, string]> = [
      ['GET', '/api/v1/namespaces/kube-public/configmaps'],
      ['GET', `${PATH}?watch=true`],
      ['GET', '/api/v1/namespaces/kube-public/configmaps/other'],
      ['GET', '/api/v1/namespaces/default/configmaps/cluster-info'],
      ['GET', '/api/v1/namespaces/kube-public/configmaps/cluster%2Dinfo'],
      ['GET', `${PATH}/`],
      ['PUT', PATH],
      ['PATCH', PATH],
      ['DELETE', PATH],
      ['GET', '/api/v1/nodes'],
      ['GET', '/metrics'],
    ];
    for (const [method, p] of denied) {
      const r = await env.request(method, p, { token: null, ...(method === 'PUT' || method === 'PATCH' ? { body: '{}' } : {}) });
      expect(`${method} ${p} ${r.status}`).toBe(`${method} ${p} 401`);
      expect(r.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    }
    // Credentials that do not authenticate are refused, not treated as anonymous.
    expect((await env.request('GET', PATH, { token: 'wrong' })).status).toBe(401);
  });

  it('is recreated when deleted and repaired when changed', async () => {
    expect((await env.request('DELETE', PATH)).status).toBe(200);
    await waitFor(async () => (await env.request('GET', PATH)).status === 200, { timeoutMs: 15_000, description: 'cluster-info recreated' });
    const cm = (await env.request('GET', PATH)).json();
    const bad = { ...cm, data: { kubeconfig: YAML.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: '', cluster: { server: 'https://203.0.113.1:6443', 'certificate-authority-data': 'Zm9v' } }] }) } };
    expect((await env.request('PUT', PATH, { body: JSON.stringify(bad) })).status).toBe(200);
    await waitFor(async () => clusterOf((await env.request('GET', PATH)).json()).ca === env.caCert, { timeoutMs: 15_000, description: 'cluster-info repaired' });
    expect(env.apiservers.map((a) => a.url)).toContain(clusterOf((await env.request('GET', PATH)).json()).server);
  });
});

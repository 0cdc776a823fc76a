// pods/proxy and services/proxy: a real kubets-apiserver (testkit
// ControlPlane) forwards HTTP to a "pod" whose IP is 127.0.0.1 (an HTTP
// server of this test), directly and through a Service's Endpoints (this
// machine's own address: Endpoints may not be loopback); stock
// kubectl drives it (get --raw, create --raw, and kubectl proxy).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { ControlPlane, spawnProcess } from '@kubets/testkit';

jest.setTimeout(180_000);

describe('pods/proxy and services/proxy', () => {
  let cp: ControlPlane;
  let backend: http.Server;
  let port = 0;

  async function api(method: string, urlPath: string, body: unknown, contentType = 'application/json') {
    const r = await cp.request(method, urlPath, { body: JSON.stringify(body), headers: { 'Content-Type': contentType } });
    if (r.status >= 300) throw new Error(`${method} ${urlPath}: ${r.status} ${r.body}`);
  }

  beforeAll(async () => {
    // Echoes what reached it.
    backend = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Backend': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null, body }));
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '0.0.0.0', resolve));
    port = (backend.address() as AddressInfo).port;
    cp = await ControlPlane.start();
    await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: { nodeName: 'n1', containers: [{ name: 'app', image: 'kubets/busybox-httpd:1.0', ports: [{ name: 'http', containerPort: port }] }] },
    });
    await api('PATCH', '/api/v1/namespaces/default/pods/web/status', { status: { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } }, 'application/merge-patch+json');
    await api('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'no-ip' }, spec: { containers: [{ name: 'app', image: 'x' }] } });
    await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, targetPort: port }] } });
    // Endpoints may not name loopback addresses (as in Kubernetes): this machine's own address instead.
    const hostIp = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))?.address;
    expect(hostIp).toBeDefined();
    await api('POST', '/api/v1/namespaces/default/endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web' }, subsets: [{ addresses: [{ ip: hostIp }], ports: [{ name: 'http', port }] }] });
    await api('POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'empty' }, spec: { ports: [{ port: 80 }] } });
  });

  afterAll(async () => {
    await cp?.dispose();
    backend?.close();
  });

  it('forwards to the pod by port number or container port name, with the path and query, without the caller\'s credentials', async () => {
    const byNumber = await cp.kubectl(['get', '--raw', `/api/v1/namespaces/default/pods/web:${port}/proxy/some/path?x=1&y=two`]);
    expect(byNumber.code).toBe(0);
    expect(JSON.parse(byNumber.stdout)).toEqual({ method: 'GET', url: '/some/path?x=1&y=two', authorization: null, body: '' });
    const byName = await cp.kubectl(['get', '--raw', '/api/v1/namespaces/default/pods/http:web:http/proxy/']);
    expect(JSON.parse(byName.stdout)).toMatchObject({ method: 'GET', url: '/' });
    const post = await cp.kubectl(['create', '--raw', `/api/v1/namespaces/default/pods/web:${port}/proxy/submit`, '-f', '-'], { input: '{"hello":"world"}' });
    expect(JSON.parse(post.stdout)).toMatchObject({ method: 'POST', url: '/submit', body: '{"hello":"world"}' });
  });

  it('forwards to a ready endpoint of the Service port, named or numbered', async () => {
    const named = await cp.kubectl(['get', '--raw', '/api/v1/namespaces/default/services/web:http/proxy/from/service']);
    expect(JSON.parse(named.stdout)).toMatchObject({ method: 'GET', url: '/from/service' });
    const numbered = await cp.kubectl(['get', '--raw', '/api/v1/namespaces/default/services/web:80/proxy/n']);
    expect(JSON.parse(numbered.stdout)).toMatchObject({ url: '/n' });
    // The only port needs no name.
    const only = await cp.kubectl(['get', '--raw', '/api/v1/namespaces/default/services/web/proxy/only']);
    expect(JSON.parse(only.stdout)).toMatchObject({ url: '/only' });
  });

  it('kubectl proxy: a local port onto the API server reaches the Service', async () => {
    const proxy = spawnProcess({ name: 'kubectl-proxy', command: 'kubectl', args: ['--kubeconfig', cp.kubeconfig, 'proxy', '--port=0'], env: { ...process.env, HOME: cp.home } });
    try {
      const line = await proxy.waitForLog(/Starting to serve on 127\.0\.0\.1:\d+/, 30_000);
      const local = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
      const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: local, path: '/api/v1/namespaces/default/services/web:http/proxy/via/kubectl-proxy?q=1' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        }).on('error', reject);
      });
      expect(r.status).toBe(200);
      expect(r.headers['x-backend']).toBe('yes');
      expect(JSON.parse(r.body)).toMatchObject({ method: 'GET', url: '/via/kubectl-proxy?q=1' });
    } finally {
      await proxy.kill();
    }
  });

  it('answers a Status when there is nothing to reach', async () => {
    const noIp = await cp.request('GET', '/api/v1/namespaces/default/pods/no-ip/proxy/');
    expect(noIp.status).toBe(503);
    expect(noIp.json()).toMatchObject({ kind: 'Status', code: 503, message: expect.stringContaining('has no IP address') });
    const noEndpoints = await cp.request('GET', '/api/v1/namespaces/default/services/empty/proxy/');
    expect(noEndpoints.status).toBe(503);
    expect(noEndpoints.json()).toMatchObject({ message: 'no endpoints available for service "empty"' });
    const missing = await cp.request('GET', '/api/v1/namespaces/default/pods/nope/proxy/');
    expect(missing.status).toBe(404);
    const badPort = await cp.request('GET', '/api/v1/namespaces/default/pods/web:nope/proxy/');
    expect(badPort.status).toBe(400);
    // Nothing listens there: the connection is refused.
    const refused = await cp.request('GET', '/api/v1/namespaces/default/pods/web:1/proxy/');
    expect(refused.status).toBe(503);
    expect(refused.json()).toMatchObject({ message: expect.stringContaining('error trying to reach pod') });
    // Other subresources still have no path of their own.
    expect((await cp.request('GET', '/api/v1/namespaces/default/pods/web/status/extra')).status).toBe(404);
  });
});

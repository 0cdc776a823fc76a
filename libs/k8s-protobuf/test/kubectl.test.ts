// The request bodies real kubectl (1.32, 1.33) sends, decoded.
//
// A small HTTPS server stands in for the API server: version, legacy
// discovery, a node and a pod for `kubectl drain`, and it records every
// write. For each command the expected object is what the same kubectl
// prints with --dry-run=client -o json (the Go object's JSON, which is what
// it would send as JSON); the protobuf body it sends must decode to exactly
// that, and re-encode to the same bytes.
//
// Needs kubectl and openssl on PATH; skipped (with a note) where they are missing.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { decodeK8sProtobuf, encodeK8sProtobuf, isK8sProtobuf } from '../src';
import { OBJECTS } from './fixtures/objects';

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, cmd);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** kubectl 1.32 and 1.33 where installed side by side (Google Cloud SDK's layout), else plain kubectl. */
function findKubectls(): Array<{ name: string; path: string }> {
  const kubectl = which('kubectl');
  if (!kubectl) return [];
  const dir = path.dirname(fs.realpathSync(kubectl));
  const versioned = ['1.32', '1.33']
    .map((v) => ({ name: `kubectl ${v}`, path: path.join(dir, `kubectl.${v}`) }))
    .filter((k) => fs.existsSync(k.path));
  return versioned.length > 0 ? versioned : [{ name: 'kubectl', path: kubectl }];
}

const KUBECTLS = which('openssl') ? findKubectls() : [];
if (KUBECTLS.length === 0) console.warn('kubectl or openssl not found: skipping the real kubectl tests');

interface Recorded {
  method: string;
  url: string;
  contentType: string;
  body: Buffer;
}

const resource = (name: string, kind: string, namespaced: boolean, extra: Record<string, unknown> = {}) => ({
  name,
  singularName: '',
  namespaced,
  kind,
  verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  ...extra,
});

const DISCOVERY: Record<string, unknown> = {
  '/api/v1': {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'v1',
    resources: [
      resource('namespaces', 'Namespace', false),
      resource('configmaps', 'ConfigMap', true),
      resource('secrets', 'Secret', true),
      resource('serviceaccounts', 'ServiceAccount', true),
      resource('services', 'Service', true),
      resource('pods', 'Pod', true),
      resource('nodes', 'Node', false),
    ],
  },
  '/apis/apps/v1': {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'apps/v1',
    resources: [resource('deployments', 'Deployment', true), resource('replicasets', 'ReplicaSet', true), resource('daemonsets', 'DaemonSet', true)],
  },
};

const NODE = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', uid: 'node-uid', resourceVersion: '1' }, spec: {}, status: {} };
const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'p1',
    namespace: 'default',
    uid: 'pod-uid',
    resourceVersion: '1',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid', controller: true }],
  },
  spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
  status: {},
};

class FakeApiServer {
  readonly writes: Recorded[] = [];
  private server?: https.Server;
  port = 0;

  async start(dir: string): Promise<void> {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
      { stdio: 'ignore' },
    );
    this.server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req.method ?? '', req.url ?? '', req.headers['content-type'] ?? '', Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(method: string, url: string, contentType: string, body: Buffer, res: import('node:http').ServerResponse): void {
    const json = (code: number, object: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(object));
    };
    const notFound = (): void => json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${url} not found` });
    const p = url.split('?')[0];
    if (method === 'GET') {
      if (p === '/version') return json(200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
      if (p === '/api') return json(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.port}` }] });
      if (p === '/apis') {
        const gv = { groupVersion: 'apps/v1', version: 'v1' };
        return json(200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'apps', versions: [gv], preferredVersion: gv }] });
      }
      if (DISCOVERY[p]) return json(200, DISCOVERY[p]);
      if (p === '/api/v1/nodes/n1') return json(200, NODE);
      if (p === '/api/v1/pods') return json(200, { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '1' }, items: [POD] });
      return notFound();
    }
    this.writes.push({ method, url, contentType, body });
    if (method === 'PATCH' && p === '/api/v1/nodes/n1') return json(200, NODE);
    if (method === 'DELETE' && p === '/api/v1/namespaces/default/pods/p1') return json(200, POD);
    if (method !== 'POST') return notFound();
    let object: Record<string, unknown>;
    try {
      object = isK8sProtobuf(contentType) ? decodeK8sProtobuf(body).object : JSON.parse(body.toString('utf8'));
    } catch (err) {
      return json(400, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400, message: String(err) });
    }
    const metadata = { ...(object.metadata as object), uid: 'created-uid', resourceVersion: '2', creationTimestamp: '2024-05-06T07:08:09Z' };
    return json(201, { ...object, metadata });
  }
}

/** kubectl 1.32/1.33 print `creationTimestamp: null` (a zero metav1.Time); the Go types this package follows (1.36) omit it. */
function withoutNullCreationTimestamps(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNullCreationTimestamps);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v)
      .filter(([k, x]) => !(k === 'creationTimestamp' && x === null))
      .map(([k, x]) => [k, withoutNullCreationTimestamps(x)]),
  );
}

describe.each(KUBECTLS)('$name', ({ path: kubectlPath }) => {
  let dir: string;
  let server: FakeApiServer;
  let kubeconfig: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-protobuf-kubectl-'));
    server = new FakeApiServer();
    await server.start(dir);
    kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: `https://127.0.0.1:${server.port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token: 'fake-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake', namespace: 'default' } }],
        'current-context': 'fake',
      }),
    );
    fs.mkdirSync(path.join(dir, 'home'));
    fs.writeFileSync(path.join(dir, 'binary.dat'), Buffer.from([0, 0xff, 0xfe, 1, 2]));
  });

  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `@/` at the start of an argument's value stands for the test's temp dir. */
  function kubectl(...rawArgs: string[]): Promise<string> {
    const args = rawArgs.map((a) => a.replace(/(^|=)@\//, `$1${dir}/`));
    const env = { PATH: process.env.PATH ?? '', HOME: path.join(dir, 'home'), KUBECONFIG: kubeconfig };
    return new Promise((resolve, reject) => {
      execFile(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { env, cwd: dir, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else resolve(stdout);
      });
    });
  }

  /** The object kubectl would send, as it prints it: `--dry-run=client -o json` (before a `--`, if any). */
  async function dryRun(args: string[]): Promise<unknown> {
    const at = args.includes('--') ? args.indexOf('--') : args.length;
    const out = await kubectl(...args.slice(0, at), '--dry-run=client', '-o', 'json', ...args.slice(at));
    return withoutNullCreationTimestamps(JSON.parse(out));
  }

  /** Runs a command for real, returning the one write it made. */
  async function capture(args: string[], method = 'POST'): Promise<Recorded> {
    server.writes.length = 0;
    await kubectl(...args);
    const writes = server.writes.filter((w) => w.method === method);
    expect(writes).toHaveLength(1);
    return writes[0];
  }

  const creates: Array<[string, string[], string]> = [
    ['create namespace', ['create', 'namespace', 'demo'], '/api/v1/namespaces'],
    ['create configmap', ['create', 'configmap', 'c', '--from-literal=a=b', '--from-file=bin=@/binary.dat'], '/api/v1/namespaces/default/configmaps'],
    ['create secret generic', ['create', 'secret', 'generic', 's', '--from-literal=k=v', '--type=Opaque'], '/api/v1/namespaces/default/secrets'],
    ['create secret tls', ['create', 'secret', 'tls', 't', '--cert=@/cert.pem', '--key=@/key.pem'], '/api/v1/namespaces/default/secrets'],
    [
      'create secret docker-registry',
      ['create', 'secret', 'docker-registry', 'd', '--docker-server=registry.example', '--docker-username=u', '--docker-password=p', '--docker-email=u@example.com'],
      '/api/v1/namespaces/default/secrets',
    ],
    ['create serviceaccount', ['create', 'serviceaccount', 'sa'], '/api/v1/namespaces/default/serviceaccounts'],
    ['create deployment', ['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '--port=80'], '/apis/apps/v1/namespaces/default/deployments'],
    ['create deployment (defaults, two images)', ['create', 'deployment', 'two', '--image=nginx', '--image=busybox'], '/apis/apps/v1/namespaces/default/deployments'],
    ['create service clusterip', ['create', 'service', 'clusterip', 'svc', '--tcp=80:8080'], '/api/v1/namespaces/default/services'],
    ['create service clusterip (headless)', ['create', 'service', 'clusterip', 'headless', '--clusterip=None'], '/api/v1/namespaces/default/services'],
    ['create service nodeport', ['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080'], '/api/v1/namespaces/default/services'],
    ['create service loadbalancer', ['create', 'service', 'loadbalancer', 'lb', '--tcp=443:8443', '--tcp=80'], '/api/v1/namespaces/default/services'],
    ['create service externalname', ['create', 'service', 'externalname', 'ext', '--external-name=example.com', '--tcp=80'], '/api/v1/namespaces/default/services'],
  ];

  it.each(creates)('%s: the protobuf body decodes to the object kubectl prints', async (_name, args, urlPath) => {
    const expected = await dryRun(args);
    const write = await capture(args);
    expect(write.url.split('?')[0]).toBe(urlPath);
    expect(write.contentType).toBe('application/vnd.kubernetes.protobuf');
    const decoded = decodeK8sProtobuf(write.body);
    expect(decoded.object).toEqual(expected);
    expect(encodeK8sProtobuf(decoded.object).equals(write.body)).toBe(true);
  });

  it('create namespace: exactly {metadata: {name}, spec: {}, status: {}}', async () => {
    const write = await capture(['create', 'namespace', 'demo']);
    expect(decodeK8sProtobuf(write.body)).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' }, spec: {}, status: {} },
    });
  });

  it('create configmap: binary file content goes to binaryData', async () => {
    const write = await capture(['create', 'configmap', 'bin', '--from-file=@/binary.dat']);
    expect(decodeK8sProtobuf(write.body).object).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'bin' },
      binaryData: { 'binary.dat': Buffer.from([0, 0xff, 0xfe, 1, 2]).toString('base64') },
    });
  });

  it('drain --disable-eviction: DELETE with a protobuf DeleteOptions body', async () => {
    const write = await capture(['drain', 'n1', '--disable-eviction', '--grace-period=5', '--ignore-daemonsets', '--timeout=20s'], 'DELETE');
    expect(write.url.split('?')[0]).toBe('/api/v1/namespaces/default/pods/p1');
    expect(write.contentType).toBe('application/vnd.kubernetes.protobuf');
    expect(decodeK8sProtobuf(write.body)).toEqual({
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      object: { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 5 },
    });
    expect(encodeK8sProtobuf(decodeK8sProtobuf(write.body).object).equals(write.body)).toBe(true);
  });

  // kubectl run sends JSON (in 1.32 and 1.33); whatever it sends, its Pod
  // must survive protobuf encode -> decode unchanged.
  it.each<[string, string[]]>([
    ['run', ['run', 'p', '--image=busybox', '--restart=Never', '--labels=a=b', '--env=X=1', '--port=80', '--', 'sleep', '3600']],
    ['run --overrides (every PodSpec field kubectl knows)', ['run', 'big', '--image=nginx', `--overrides=${JSON.stringify(OBJECTS.podFromKubectlRunOverrides)}`]],
  ])('%s: the Pod kubectl sends round-trips', async (_name, args) => {
    const expected = (await dryRun(args)) as Record<string, unknown>;
    const write = await capture(args);
    expect(write.url.split('?')[0]).toBe('/api/v1/namespaces/default/pods');
    const sent = isK8sProtobuf(write.contentType) ? decodeK8sProtobuf(write.body).object : withoutNullCreationTimestamps(JSON.parse(write.body.toString('utf8')));
    expect(sent).toEqual(expected);
    expect(decodeK8sProtobuf(encodeK8sProtobuf(expected)).object).toEqual(expected);
  });
});

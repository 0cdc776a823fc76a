// `kubets init` as a user runs it: the built CLI writes a cluster's PKI into a
// temporary directory; OpenSSL verifies every certificate, Node checks the
// SANs, and the real kubectl (Go's crypto/x509 and crypto/tls) parses the
// kubeconfig and completes a mutual-TLS handshake with a server using the
// generated apiserver certificate.
import { execFile, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import YAML from 'yaml';
import type { InitSummary } from '../src';

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'apps', 'cli', 'dist', 'main.js');
const shippedConfig = path.join(root, 'infra', 'kubeadm-init.yaml');

let tmp: string;
let home: string;

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: { ...process.env, HOME: home, KUBECONFIG: '', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function kubets(...args: string[]) {
  return run(process.execPath, [cli, ...args]);
}

function requireTool(name: string, args: string[]): void {
  const r = spawnSync(name, args, { encoding: 'utf8', env: { ...process.env, HOME: home } });
  if (r.error || r.status !== 0) throw new Error(`${name} is needed by this test but \`${name} ${args.join(' ')}\` failed: ${r.error?.message ?? r.stderr}`);
}

function openssl(cwd: string, ...args: string[]): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(() => {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build it first (npx nx run @kubets/cli:build; the test target does it)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-cli-'));
  home = path.join(tmp, 'home');
  fs.mkdirSync(home);
  requireTool('openssl', ['version']);
  requireTool('kubectl', ['version', '--client']);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('kubets init --config infra/kubeadm-init.yaml', () => {
  let out: string;
  let first: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    out = path.join(tmp, 'shipped');
    first = await kubets('init', '--config', shippedConfig, '--out-dir', out);
  });

  test('exits 0 and prints what it wrote', () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('[certs] Generating "ca" certificate and key');
    expect(first.stdout).toContain(
      '[certs] apiserver serving cert is signed for DNS names [kubets-control-plane kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local localhost] and IPs [10.96.0.1 127.0.0.1]',
    );
    for (const f of ['pki/ca.crt', 'pki/ca.key', 'pki/apiserver.crt', 'pki/apiserver.key', 'pki/apiserver-kubelet-client.crt', 'pki/apiserver-kubelet-client.key', 'pki/sa.key', 'pki/sa.pub', 'admin.kubeconfig', 'controller-manager.kubeconfig', 'scheduler.kubeconfig', 'tokens.csv', 'kubets-init.json']) {
      expect(first.stdout).toContain(`created  ${path.join(out, f)}\n`);
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    }
    expect(first.stdout).toContain(`export KUBECONFIG=${path.join(out, 'admin.kubeconfig')}`);
    // kubeadm's two join commands: control-plane nodes (after copying the shared files) and workers.
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'kubets-init.json'), 'utf8')) as { controlPlaneEndpoint: string; caCertHash: string; bootstrapTokens: Array<{ token: string }> };
    const join = `kubets join ${summary.controlPlaneEndpoint}`;
    const hash = `    --discovery-token-ca-cert-hash ${summary.caCertHash}\n`;
    expect(first.stdout).toContain(`copy pki/ca.crt, pki/ca.key, pki/sa.key, pki/sa.pub and\ntokens.csv from ${out}`);
    expect(first.stdout).toContain(`  ${join} --control-plane --token ${summary.bootstrapTokens[0]!.token} \\\n${hash}`);
    expect(first.stdout).toContain(`  ${join} --token ${summary.bootstrapTokens[0]!.token} \\\n${hash}`);
  });

  test('admin.kubeconfig is a standard kubeconfig', () => {
    const kc = YAML.parse(fs.readFileSync(path.join(out, 'admin.kubeconfig'), 'utf8'));
    const ca = fs.readFileSync(path.join(out, 'pki', 'ca.crt'), 'utf8');
    expect(kc).toMatchObject({ apiVersion: 'v1', kind: 'Config', 'current-context': 'kubernetes-admin@kubernetes' });
    expect(kc.clusters).toEqual([{ name: 'kubernetes', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': Buffer.from(ca).toString('base64') } }]);
    expect(kc.contexts[0]).toEqual({ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin' } });
    const user = kc.users.find((u: { name: string }) => u.name === 'kubernetes-admin').user;
    const cert = new X509Certificate(Buffer.from(user['client-certificate-data'], 'base64'));
    expect(cert.subject).toBe('O=system:masters\nCN=kubernetes-admin');
    expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(Buffer.from(user['client-key-data'], 'base64').toString()).toMatch(/^-----BEGIN EC PRIVATE KEY-----/);
  });

  test('kubectl parses the kubeconfig', async () => {
    const kc = path.join(out, 'admin.kubeconfig');
    const ca = fs.readFileSync(path.join(out, 'pki', 'ca.crt'));
    const jsonpath = '{.current-context}|{.clusters[0].cluster.server}|{.clusters[0].cluster.certificate-authority-data}|{.users[*].name}';
    const r = await run('kubectl', ['config', 'view', '--kubeconfig', kc, '--raw', '-o', `jsonpath=${jsonpath}`]);
    expect(r.stderr).toBe('');
    // kubectl lists users sorted by name.
    expect(r.stdout.split('|')).toEqual(['kubernetes-admin@kubernetes', 'https://127.0.0.1:6443', ca.toString('base64'), 'admin kubernetes-admin']);
    const minified = await run('kubectl', ['config', 'view', '--kubeconfig', kc, '--raw', '--minify', '-o', 'jsonpath={.users[0].name}|{.users[0].user.client-certificate-data}']);
    const raw = YAML.parse(fs.readFileSync(kc, 'utf8'));
    expect(minified.stdout).toBe(`kubernetes-admin|${raw.users[0].user['client-certificate-data']}`);
    const contexts = await run('kubectl', ['config', 'get-contexts', '--kubeconfig', kc, '-o', 'name']);
    expect(contexts.stdout.split('\n').filter(Boolean).sort()).toEqual(['admin@kubernetes', 'kubernetes-admin@kubernetes']);
    for (const name of ['controller-manager', 'scheduler']) {
      const v = await run('kubectl', ['config', 'view', '--kubeconfig', path.join(out, `${name}.kubeconfig`), '--raw', '-o', 'jsonpath={.users[0].name}|{.clusters[0].cluster.server}']);
      expect(v.stdout).toBe(`system:kube-${name}|https://127.0.0.1:6443`);
    }
  });

  test('openssl verifies every certificate against the CA, for its purpose', () => {
    const pki = path.join(out, 'pki');
    const dir = path.join(tmp, 'client-certs');
    fs.mkdirSync(dir, { recursive: true });
    const clients = ['admin', 'controller-manager', 'scheduler'].map((name) => {
      const kc = YAML.parse(fs.readFileSync(path.join(out, `${name}.kubeconfig`), 'utf8'));
      const file = path.join(dir, `${name}.crt`);
      fs.writeFileSync(file, Buffer.from(kc.users[0].user['client-certificate-data'], 'base64'));
      return file;
    });
    expect(openssl(pki, 'verify', '-CAfile', 'ca.crt', 'ca.crt', 'apiserver.crt', 'apiserver-kubelet-client.crt', ...clients)).toBe(
      ['ca.crt: OK', 'apiserver.crt: OK', 'apiserver-kubelet-client.crt: OK', ...clients.map((c) => `${c}: OK`)].join('\n') + '\n',
    );
    expect(openssl(pki, 'verify', '-CAfile', 'ca.crt', '-purpose', 'sslserver', 'apiserver.crt')).toBe('apiserver.crt: OK\n');
    expect(openssl(pki, 'verify', '-CAfile', 'ca.crt', '-purpose', 'sslclient', 'apiserver-kubelet-client.crt', ...clients)).toContain('apiserver-kubelet-client.crt: OK');
    const text = openssl(pki, 'x509', '-noout', '-text', '-in', 'apiserver.crt');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toMatch(/X509v3 Key Usage: critical/);
    // The service account key pair belongs together.
    expect(openssl(pki, 'pkey', '-pubout', '-in', 'sa.key')).toBe(fs.readFileSync(path.join(pki, 'sa.pub'), 'utf8'));
  });

  test('the apiserver certificate carries every SAN', () => {
    const cert = new X509Certificate(fs.readFileSync(path.join(out, 'pki', 'apiserver.crt')));
    for (const ip of ['127.0.0.1', '10.96.0.1']) expect(cert.checkIP(ip)).toBe(ip);
    for (const host of ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'kubets-control-plane']) {
      expect(cert.checkHost(host)).toBe(host);
    }
    expect(cert.checkIP('10.96.0.2')).toBeUndefined();
    expect(cert.subject).toBe('CN=kube-apiserver');
  });

  test('tokens.csv and kubets-init.json', () => {
    const lines = fs.readFileSync(path.join(out, 'tokens.csv'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^([a-z0-9]{6})\.[a-z0-9]{16},system:bootstrap:\1,bootstrap-token-\1,"system:bootstrappers,system:bootstrappers:kubeadm:default-node-token"$/);
    expect(lines[1]).toMatch(/^[A-Za-z0-9_-]{43},admin,admin,"system:masters"$/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'kubets-init.json'), 'utf8')) as InitSummary;
    expect(summary).toMatchObject({
      kind: 'InitSummary',
      controlPlaneEndpoint: '127.0.0.1:6443',
      serviceSubnet: '10.96.0.0/12',
      podSubnet: '10.244.0.0/16',
      etcd: { external: { endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:22379', 'http://127.0.0.1:32379'] } },
      bootstrapTokens: [{ token: lines[0]!.split(',')[0] }],
      adminToken: lines[1]!.split(',')[0],
    });
    expect(summary.paths.adminKubeconfig).toBe(path.join(out, 'admin.kubeconfig'));
    expect(first.stdout).toContain(`--discovery-token-ca-cert-hash ${summary.caCertHash}`);
  });

  test('a second run reuses the CA and keeps every file', async () => {
    const ca = fs.readFileSync(path.join(out, 'pki', 'ca.crt'), 'utf8');
    const again = await kubets('init', '--config', shippedConfig, '--out-dir', out);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('[certs] Using the existing "ca" certificate and key');
    expect(again.stdout).not.toContain('created ');
    expect(fs.readFileSync(path.join(out, 'pki', 'ca.crt'), 'utf8')).toBe(ca);
  });
});

describe('errors', () => {
  test('a bad configuration exits 1 naming the field; bad flags exit 2', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, fs.readFileSync(shippedConfig, 'utf8').replace('podSubnet:', 'podSubnett:'));
    const r = await kubets('init', '--config', bad, '--out-dir', path.join(tmp, 'bad-out'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${bad} (document 2): ClusterConfiguration: unknown field "networking.podSubnett" (did you mean "podSubnet"?)\n`);
    expect(fs.existsSync(path.join(tmp, 'bad-out'))).toBe(false);
    const flags = await kubets('init', '--nope');
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain('unknown flag: --nope');
    const mixed = await kubets('init', '--config', bad, '--service-cidr', '10.0.0.0/16');
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain("can not mix '--config' with arguments [service-cidr]");
  });
});

interface Seen {
  url: string;
  CN?: unknown;
  O?: unknown;
  authorized: boolean;
  auth?: string;
}

/**
 * Stands in for the API server: serves GET /version with the generated
 * apiserver certificate. Strict: the TLS handshake requires a client
 * certificate signed by the cluster CA. Otherwise a bearer token from
 * tokens.csv is accepted too (as kube-apiserver's --token-auth-file).
 */
async function fakeApiServer(name: string, strict: boolean, encryptionAlgorithm = 'ECDSA-P256') {
  const seen: Seen[] = [];
  const out = path.join(tmp, name);
  const server = https.createServer({ requestCert: true, rejectUnauthorized: strict }, (req, res) => {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    seen.push({ url: req.url ?? '', CN: peer?.subject?.CN, O: peer?.subject?.O, authorized: socket.authorized, auth: req.headers.authorization });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const tokens = fs.readFileSync(path.join(out, 'tokens.csv'), 'utf8');
    if (!socket.authorized && !(token && tokens.split('\n').some((l) => l.startsWith(`${token},`)))) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}');
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/version')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The endpoint kubectl dials is in the configuration, so it is known before init runs.
  const config = path.join(tmp, `${name}.yaml`);
  fs.writeFileSync(
    config,
    fs
      .readFileSync(shippedConfig, 'utf8')
      .replace('controlPlaneEndpoint: 127.0.0.1:6443', `controlPlaneEndpoint: 127.0.0.1:${port}`)
      .replace('encryptionAlgorithm: ECDSA-P256', `encryptionAlgorithm: ${encryptionAlgorithm}`),
  );
  const r = await kubets('init', '--config', config, '--out-dir', out);
  if (r.code !== 0) throw new Error(`kubets init failed: ${r.stderr}`);
  const pki = path.join(out, 'pki');
  server.setSecureContext({
    cert: fs.readFileSync(path.join(pki, 'apiserver.crt')),
    key: fs.readFileSync(path.join(pki, 'apiserver.key')),
    ca: fs.readFileSync(path.join(pki, 'ca.crt')),
  });
  return { server, out, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.each(['ECDSA-P256', 'RSA-2048'])('kubectl against a server with the generated %s certificates', (algorithm) => {
  let api: Awaited<ReturnType<typeof fakeApiServer>>;

  beforeAll(async () => {
    api = await fakeApiServer(`tls-${algorithm}`, true, algorithm);
  });
  afterAll(() => api?.close());

  test('kubectl version succeeds with the admin client certificate', async () => {
    const r = await run('kubectl', ['--kubeconfig', path.join(api.out, 'admin.kubeconfig'), 'version', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).serverVersion).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    expect(api.seen.find((s) => s.url.startsWith('/version'))).toMatchObject({ CN: 'kubernetes-admin', O: 'system:masters', authorized: true });
    const key = fs.readFileSync(path.join(api.out, 'pki', 'apiserver.key'), 'utf8');
    expect(key).toMatch(algorithm.startsWith('RSA') ? /^-----BEGIN RSA PRIVATE KEY-----/ : /^-----BEGIN EC PRIVATE KEY-----/);
  });

  test('kubectl refuses a server whose certificate is not from the kubeconfig CA', async () => {
    const other = path.join(tmp, `other-${algorithm}`);
    const r0 = await kubets('init', '--config', shippedConfig, '--out-dir', other);
    expect(r0.code).toBe(0);
    const kc = YAML.parse(fs.readFileSync(path.join(api.out, 'admin.kubeconfig'), 'utf8'));
    kc.clusters[0].cluster['certificate-authority-data'] = fs.readFileSync(path.join(other, 'pki', 'ca.crt')).toString('base64');
    const wrongCA = path.join(tmp, `wrong-ca-${algorithm}.kubeconfig`);
    fs.writeFileSync(wrongCA, YAML.stringify(kc));
    const r = await run('kubectl', ['--kubeconfig', wrongCA, 'version', '-o', 'json', '--request-timeout', '5s']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/certificate signed by unknown authority/);
  });
});

describe('kubectl with the admin token user', () => {
  let api: Awaited<ReturnType<typeof fakeApiServer>>;

  beforeAll(async () => {
    api = await fakeApiServer('tls-token', false);
  });
  afterAll(() => api?.close());

  test('the admin@kubernetes context authenticates with the token from tokens.csv', async () => {
    const r = await run('kubectl', ['--kubeconfig', path.join(api.out, 'admin.kubeconfig'), '--context', 'admin@kubernetes', 'version', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(api.out, 'kubets-init.json'), 'utf8')) as InitSummary;
    expect(api.seen.find((s) => s.url.startsWith('/version'))).toMatchObject({ authorized: false, auth: `Bearer ${summary.adminToken}` });
  });
});

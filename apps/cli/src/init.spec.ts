import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspectCertificate, verifyIssuedBy } from '@kubets/pki';
import YAML from 'yaml';
import { FILES, InitError, readInitSummary, runInit, type InitOptions } from './init';
import { readKubeconfig } from './kubeconfig';
import { parseTokenFile } from './tokens';

const CONFIG = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.10
nodeRegistration:
  name: cp-1
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controlPlaneEndpoint: cp.example.com:6443
networking:
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
apiServer:
  certSANs: [203.0.113.7, api.example.com]
etcd:
  external:
    endpoints: [127.0.0.1:2379]
`;

let dir: string;
const file = (k: keyof typeof FILES) => path.join(dir, FILES[k]);
const read = (k: keyof typeof FILES) => fs.readFileSync(file(k), 'utf8');
const init = (extra: Partial<InitOptions> = {}) => runInit({ configText: CONFIG, outDir: dir, kubelet: true, ...extra });

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-init-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a fresh directory gets every file, with kubeadm modes', () => {
  const lines: string[] = [];
  const result = init({ log: (l) => lines.push(l) });
  expect(result.files.map((f) => f.action)).toEqual(new Array(14).fill('created'));
  expect(result.files.map((f) => path.relative(dir, f.path)).sort()).toEqual(Object.values(FILES).sort());
  const mode = (k: keyof typeof FILES) => fs.statSync(file(k)).mode & 0o777;
  for (const k of ['caKey', 'apiServerKey', 'apiServerKubeletClientKey', 'serviceAccountKey', 'adminKubeconfig', 'controllerManagerKubeconfig', 'schedulerKubeconfig', 'tokenAuthFile', 'summary'] as const) {
    expect([k, mode(k)]).toEqual([k, 0o600]);
  }
  for (const k of ['caCert', 'apiServerCert', 'apiServerKubeletClientCert', 'serviceAccountPublicKey'] as const) expect([k, mode(k)]).toEqual([k, 0o644]);
  expect(lines).toContain('[certs] Generating "ca" certificate and key');
  expect(lines.some((l) => l.startsWith('[bootstrap-token] Using token: '))).toBe(true);
  expect(result.reusedCA).toBe(false);
});

test('certificates: CA, SANs, subjects, usages', () => {
  init();
  const ca = new X509Certificate(read('caCert'));
  expect(ca.ca).toBe(true);
  expect(ca.subject).toBe('CN=kubernetes');
  const apiserver = new X509Certificate(read('apiServerCert'));
  expect(apiserver.verify(ca.publicKey)).toBe(true);
  expect(apiserver.subject).toBe('CN=kube-apiserver');
  const info = inspectCertificate(read('apiServerCert'));
  expect(info.dnsNames.sort()).toEqual(
    ['api.example.com', 'cp-1', 'cp.example.com', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'].sort(),
  );
  expect(info.ipAddresses.sort()).toEqual(['10.96.0.1', '127.0.0.1', '192.0.2.10', '203.0.113.7'].sort());
  expect(info.extKeyUsage).toEqual(['serverAuth']);
  const kubeletClient = new X509Certificate(read('apiServerKubeletClientCert'));
  expect(kubeletClient.subject).toBe('O=system:masters\nCN=kube-apiserver-kubelet-client');
  expect(inspectCertificate(read('apiServerKubeletClientCert')).extKeyUsage).toEqual(['clientAuth']);
  expect(read('serviceAccountKey')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  expect(read('serviceAccountPublicKey')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
});

test('kubeconfigs: servers, CA data, client certificates, the admin token user', () => {
  init();
  const admin = YAML.parse(read('adminKubeconfig'));
  expect(admin.apiVersion).toBe('v1');
  expect(admin.kind).toBe('Config');
  expect(admin['current-context']).toBe('kubernetes-admin@kubernetes');
  expect(admin.clusters).toEqual([{ name: 'kubernetes', cluster: { server: 'https://cp.example.com:6443', 'certificate-authority-data': Buffer.from(read('caCert')).toString('base64') } }]);
  const view = readKubeconfig(read('adminKubeconfig'));
  expect(new X509Certificate(view.clientCertificatePem!).subject).toBe('O=system:masters\nCN=kubernetes-admin');
  const tokens = parseTokenFile(read('tokenAuthFile'));
  expect(view.tokens.get('admin')).toBe(tokens.find((t) => t.user === 'admin')?.token);
  for (const [k, cn] of [['controllerManagerKubeconfig', 'system:kube-controller-manager'], ['schedulerKubeconfig', 'system:kube-scheduler']] as const) {
    const v = readKubeconfig(read(k));
    expect(v.server).toBe('https://192.0.2.10:6443');
    expect(new X509Certificate(v.clientCertificatePem!).subject).toBe(`CN=${cn}`);
    expect(verifyIssuedBy(v.clientCertificatePem!, read('caCert'))).toBeUndefined();
    expect(v.tokens.size).toBe(0);
  }
});

test('tokens.csv and kubets-init.json', () => {
  const result = init();
  const tokens = parseTokenFile(read('tokenAuthFile'));
  expect(tokens).toHaveLength(2);
  const [bootstrap, admin] = tokens;
  expect(bootstrap!.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  expect(bootstrap!.user).toBe(`system:bootstrap:${bootstrap!.token.slice(0, 6)}`);
  expect(bootstrap!.groups).toEqual(['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token']);
  expect(admin).toMatchObject({ user: 'admin', groups: ['system:masters'] });
  const summary = readInitSummary(dir);
  expect(summary).toEqual(result.summary);
  expect(summary).toMatchObject({
    controlPlaneEndpoint: 'cp.example.com:6443',
    apiServerURL: 'https://cp.example.com:6443',
    serviceSubnet: '10.96.0.0/12',
    podSubnet: '10.244.0.0/16',
    kubernetesServiceIP: '10.96.0.1',
    etcd: { external: { endpoints: ['http://127.0.0.1:2379'] } },
    adminToken: admin!.token,
    bootstrapTokens: [{ token: bootstrap!.token, id: bootstrap!.token.slice(0, 6) }],
  });
  expect(summary.paths.caCert).toBe(file('caCert'));
  expect(summary.caCertHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  expect(summary.apiServerFlags).toContain(`--token-auth-file=${file('tokenAuthFile')}`);
});

test('running again keeps everything, including the CA and the tokens', () => {
  init();
  const before = Object.fromEntries(Object.keys(FILES).filter((k) => k !== 'summary').map((k) => [k, read(k as keyof typeof FILES)]));
  const lines: string[] = [];
  const result = init({ log: (l) => lines.push(l) });
  expect(result.reusedCA).toBe(true);
  expect(result.files.filter((f) => f.action !== 'kept').map((f) => f.key)).toEqual(['summary']);
  for (const [k, text] of Object.entries(before)) expect([k, read(k as keyof typeof FILES)]).toEqual([k, text]);
  expect(lines).toContain('[certs] Using the existing "ca" certificate and key (not overwriting it; pass --force to replace it)');
});

test('a deleted certificate is issued again by the existing CA', () => {
  init();
  const ca = read('caCert');
  const kubeconfig = read('adminKubeconfig');
  fs.rmSync(file('apiServerCert'));
  fs.rmSync(file('apiServerKey'));
  fs.rmSync(file('schedulerKubeconfig'));
  const result = init();
  expect(result.files.filter((f) => f.action === 'created').map((f) => f.key).sort()).toEqual(['apiServerCert', 'apiServerKey', 'schedulerKubeconfig']);
  expect(read('caCert')).toBe(ca);
  expect(read('adminKubeconfig')).toBe(kubeconfig);
  expect(verifyIssuedBy(read('apiServerCert'), ca)).toBeUndefined();
});

test('an existing certificate that no longer fits the configuration is an error naming the file', () => {
  init();
  const changed = CONFIG.replace('api.example.com]', 'api.example.com, new.example.com]');
  expect(() => init({ configText: changed })).toThrow(InitError);
  expect(() => init({ configText: changed })).toThrow(
    `${file('apiServerCert')} exists but lacks the subject alternative names new.example.com.\nTo have it issued again, delete ${file('apiServerCert')} and ${file('apiServerKey')}`,
  );
  fs.rmSync(file('apiServerCert'));
  expect(() => init({ configText: changed })).toThrow(`${file('apiServerKey')} exists but ${file('apiServerCert')} is missing`);
  fs.rmSync(file('apiServerKey'));
  init({ configText: changed });
  expect(inspectCertificate(read('apiServerCert')).dnsNames).toContain('new.example.com');
});

test('a changed endpoint makes the existing admin kubeconfig an error', () => {
  init();
  expect(() => init({ configText: CONFIG.replace('cp.example.com:6443', 'cp2.example.com:6443') })).toThrow(/apiserver.crt exists but lacks the subject alternative names cp2.example.com/);
  fs.rmSync(file('apiServerCert'));
  fs.rmSync(file('apiServerKey'));
  expect(() => init({ configText: CONFIG.replace('cp.example.com:6443', 'cp2.example.com:6443') })).toThrow(
    `the kubeconfig file ${file('adminKubeconfig')} exists but has the server https://cp.example.com:6443 (want https://cp2.example.com:6443)`,
  );
});

test('certificates from another CA are refused', () => {
  init();
  fs.rmSync(file('caCert'));
  fs.rmSync(file('caKey'));
  expect(() => init()).toThrow(/apiserver.crt exists but is not valid: it was not issued by this CA/);
});

test('a CA certificate without its key (or the reverse) is refused', () => {
  init();
  fs.rmSync(file('caKey'));
  expect(() => init()).toThrow(`${file('caCert')} exists but ${file('caKey')} does not`);
  fs.writeFileSync(file('caKey'), 'not a key\n');
  expect(() => init()).toThrow(/ca.key exists but cannot be read as a private key/);
});

test('--force replaces everything, including the CA', () => {
  init();
  const before = { ca: read('caCert'), sa: read('serviceAccountKey'), tokens: read('tokenAuthFile'), admin: read('adminKubeconfig') };
  const lines: string[] = [];
  const result = init({ force: true, log: (l) => lines.push(l) });
  expect(result.reusedCA).toBe(false);
  expect(result.files.filter((f) => f.key !== 'summary').every((f) => f.action === 'replaced')).toBe(true);
  expect(read('caCert')).not.toBe(before.ca);
  expect(read('serviceAccountKey')).not.toBe(before.sa);
  expect(read('tokenAuthFile')).not.toBe(before.tokens);
  expect(read('adminKubeconfig')).not.toBe(before.admin);
  expect(verifyIssuedBy(read('apiServerCert'), read('caCert'))).toBeUndefined();
  expect(lines).toContain('[certs] --force: replacing the existing "ca" certificate and key');
});

test('tokens: configured tokens are added, hand-written lines kept, the admin token survives a lost tokens.csv', () => {
  init();
  const admin = readInitSummary(dir).adminToken;
  fs.appendFileSync(file('tokenAuthFile'), 'handmade,jane,jane-uid,"devs"\n');
  const withToken = CONFIG.replace('localAPIEndpoint:', 'bootstrapTokens:\n  - token: abcdef.0123456789abcdef\nlocalAPIEndpoint:');
  const result = init({ configText: withToken });
  expect(result.files.find((f) => f.key === 'tokenAuthFile')?.action).toBe('updated');
  const tokens = parseTokenFile(read('tokenAuthFile'));
  expect(tokens.map((t) => t.user)).toEqual(['system:bootstrap:' + tokens[0]!.token.slice(0, 6), 'admin', 'jane', 'system:bootstrap:abcdef']);
  expect(readInitSummary(dir).bootstrapTokens.map((t) => t.token)).toEqual(['abcdef.0123456789abcdef']);
  fs.rmSync(file('tokenAuthFile'));
  init({ configText: withToken });
  expect(parseTokenFile(read('tokenAuthFile')).map((t) => [t.user, t.token])).toEqual([
    ['system:bootstrap:abcdef', 'abcdef.0123456789abcdef'],
    ['admin', admin],
  ]);
});

test('encryptionAlgorithm RSA-2048 gives RSA keys everywhere', () => {
  init({ configText: CONFIG.replace('controlPlaneEndpoint:', 'encryptionAlgorithm: RSA-2048\ncontrolPlaneEndpoint:') });
  expect(read('caKey')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  expect(read('apiServerKey')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
  expect(new X509Certificate(read('apiServerCert')).publicKey.asymmetricKeyType).toBe('rsa');
});

import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCA, createCertificate, publicKeyPin } from '@kubets/pki';
import { checkSharedFiles } from './join-control-plane';
import { checkBootstrapToken, checkCaPin, defaultNatsUrl, JoinError, localAddressTowards, parseCaCertHash, parseClusterInfo, parseControlPlanePods, parseJoinEndpoint, runJoin } from './join';

const ca = createCA('kubernetes');
const other = createCA('kubernetes');
const TOKEN = 'abcdef.0123456789abcdef';

describe('parsing', () => {
  test('endpoint: host:port, default port, IPv6, an https:// prefix', () => {
    expect(parseJoinEndpoint('10.0.0.1:6443')).toMatchObject({ host: '10.0.0.1', port: 6443, text: '10.0.0.1:6443' });
    expect(parseJoinEndpoint('cp.example.com')).toMatchObject({ host: 'cp.example.com', port: 6443 });
    expect(parseJoinEndpoint('[fd00::1]:7443')).toMatchObject({ host: 'fd00::1', port: 7443, text: '[fd00::1]:7443' });
    expect(parseJoinEndpoint('https://10.0.0.1:6443/')).toMatchObject({ host: '10.0.0.1', port: 6443 });
    expect(() => parseJoinEndpoint('http://10.0.0.1:6443')).toThrow(JoinError);
    expect(() => parseJoinEndpoint('10.0.0.1:99999')).toThrow(/invalid port/);
    expect(() => parseJoinEndpoint('bad_host:1')).toThrow(/neither an IP address nor a DNS name/);
  });

  test('bootstrap token: kubeadm form and message', () => {
    expect(checkBootstrapToken(TOKEN)).toBe(TOKEN);
    expect(() => checkBootstrapToken('abcdef.short')).toThrow('the bootstrap token "abcdef.short" was not of the form "[a-z0-9]{6}.[a-z0-9]{16}"');
  });

  test('CA cert hash: sha256:<hex>, case-insensitive, else kubeadm messages', () => {
    const h = 'a'.repeat(64);
    expect(parseCaCertHash(`sha256:${h}`)).toBe(`sha256:${h}`);
    expect(parseCaCertHash(`SHA256:${h.toUpperCase()}`)).toBe(`sha256:${h}`);
    expect(() => parseCaCertHash(h)).toThrow(/unsupported hash format; got ".*", expected "<type>:<value>"/);
    expect(() => parseCaCertHash(`md5:${h}`)).toThrow(/unknown hash type md5/);
    expect(() => parseCaCertHash('sha256:abcd')).toThrow(/expected a 32 byte SHA-256 hash, found 2 bytes/);
  });

  test('nats URL default: the endpoint host on the NATS port', () => {
    expect(defaultNatsUrl(parseJoinEndpoint('10.0.0.1:6443'))).toBe('nats://10.0.0.1:4222');
    expect(defaultNatsUrl(parseJoinEndpoint('[fd00::1]:6443'))).toBe('nats://[fd00::1]:4222');
  });

  test('cluster-info: the CA of data.kubeconfig, clear errors otherwise', () => {
    const kubeconfig = `apiVersion: v1\nkind: Config\nclusters:\n- name: ""\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: ${Buffer.from(ca.certPem).toString('base64')}\n`;
    expect(parseClusterInfo(JSON.stringify({ data: { kubeconfig } }))).toEqual({ caPem: ca.certPem, server: 'https://10.0.0.1:6443' });
    expect(() => parseClusterInfo('<html>')).toThrow(/not JSON/);
    expect(() => parseClusterInfo('{"data":{}}')).toThrow(/no data.kubeconfig/);
    expect(() => parseClusterInfo(JSON.stringify({ data: { kubeconfig: 'clusters: []' } }))).toThrow(/no certificate-authority-data/);
  });
});

describe('CA pin', () => {
  test('accepts the pinned CA, any pinned one of several', () => {
    const pin = publicKeyPin(ca.certPem);
    expect(checkCaPin(ca.certPem, [pin])).toBe(pin);
    expect(checkCaPin(ca.certPem, [publicKeyPin(other.certPem), pin])).toBe(pin);
    // a bundle (CA rotation): a pin of any certificate in it matches
    expect(checkCaPin(other.certPem + ca.certPem, [pin])).toBe(pin);
  });

  test('refuses another CA with kubeadm\'s message', () => {
    expect(() => checkCaPin(other.certPem, [publicKeyPin(ca.certPem)])).toThrow(
      `cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${publicKeyPin(other.certPem)}" are pinned`,
    );
    expect(() => checkCaPin('not a certificate', [publicKeyPin(ca.certPem)])).toThrow(/no certificate/);
  });
});

test('the local address towards loopback is loopback', async () => {
  expect(await localAddressTowards('127.0.0.1', 6443)).toBe('127.0.0.1');
});

const mirror = (component: string, node: string, annotations: Record<string, string>, command: string[] = [], image = 'docker.io/kubets/kubets:0.1.0') => ({
  metadata: { name: `${component}-${node}`, labels: { component, tier: 'control-plane' }, annotations },
  spec: { nodeName: node, containers: [{ image, command }] },
});
const pods = [
  mirror('kubets-kv', 'cp-1', { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': 'http://10.0.0.1:2379' }),
  mirror('kubets-kv', 'cp-2', { 'kubeadm.kubernetes.io/etcd.advertise-client-urls': 'http://10.0.0.2:2379' }),
  mirror('nats', 'cp-1', { 'kubets.io/nats.advertise-client-url': 'nats://10.0.0.1:4222', 'kubets.io/nats.advertise-cluster-url': 'nats://10.0.0.1:6222' }),
  mirror('nats', 'cp-2', { 'kubets.io/nats.advertise-client-url': 'nats://10.0.0.2:4222', 'kubets.io/nats.advertise-cluster-url': 'nats://10.0.0.2:6222' }),
  mirror('kube-apiserver', 'cp-1', {}, ['kubets-entrypoint', 'apiserver', '--etcd-servers=http://127.0.0.1:2379', '--service-cluster-ip-range=10.96.0.0/12'], 'reg/kubets:1.2'),
  mirror('kube-controller-manager', 'cp-1', { 'kubets.io/extra-args': '[{"name":"node-monitor-grace-period","value":"20s"}]' }, ['kubets-entrypoint', 'controller-manager', '--cluster-cidr=10.244.0.0/16']),
];

describe('the control plane from its mirror pods', () => {
  test('KV client URLs, NATS servers, subnets and image; the joining node\'s own pods left out', () => {
    expect(parseControlPlanePods(JSON.stringify({ items: pods }))).toEqual({
      kvClientURLs: ['http://10.0.0.1:2379', 'http://10.0.0.2:2379'],
      natsClientURLs: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'],
      natsClusterURLs: ['nats://10.0.0.1:6222', 'nats://10.0.0.2:6222'],
      externalEtcd: [],
      serviceSubnet: '10.96.0.0/12',
      podSubnet: '10.244.0.0/16',
      image: 'reg/kubets:1.2',
      extraArgs: { apiServer: [], controllerManager: [{ name: 'node-monitor-grace-period', value: '20s' }], scheduler: [], etcd: [] },
    });
    // An annotation that is not a list of {name, value} is an error, not silently dropped.
    const bad = [mirror('kube-scheduler', 'cp-1', { 'kubets.io/extra-args': '{"v":"4"}' })];
    expect(() => parseControlPlanePods(JSON.stringify({ items: bad }))).toThrow(/kube-scheduler pod's kubets.io\/extra-args annotation is not a JSON list/);
    expect(parseControlPlanePods(JSON.stringify({ items: pods }), 'cp-2')).toMatchObject({ kvClientURLs: ['http://10.0.0.1:2379'], natsClusterURLs: ['nats://10.0.0.1:6222'] });
  });

  test('no kubets-kv pod: the API server\'s --etcd-servers is an external etcd unless it is local', () => {
    const external = [mirror('kube-apiserver', 'cp-1', {}, ['apiserver', '--etcd-servers=https://10.9.0.1:2379,https://10.9.0.2:2379'])];
    expect(parseControlPlanePods(JSON.stringify({ items: external })).externalEtcd).toEqual(['https://10.9.0.1:2379', 'https://10.9.0.2:2379']);
    expect(parseControlPlanePods(JSON.stringify({ items: pods.slice(4) })).externalEtcd).toEqual([]);
    expect(() => parseControlPlanePods('nope')).toThrow(JoinError);
  });

  test('a joining control plane needs the shared files, and the cluster\'s CA among them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-join-cp-'));
    try {
      expect(() => checkSharedFiles(dir, publicKeyPin(ca.certPem))).toThrow(/missing:\n.*pki\/ca.crt\n.*pki\/ca.key\n.*pki\/sa.key\n.*pki\/sa.pub\n.*tokens.csv\n/);
      fs.mkdirSync(path.join(dir, 'pki'));
      for (const f of ['pki/ca.key', 'pki/sa.key', 'pki/sa.pub', 'tokens.csv']) fs.writeFileSync(path.join(dir, f), 'x');
      fs.writeFileSync(path.join(dir, 'pki/ca.crt'), other.certPem);
      expect(() => checkSharedFiles(dir, publicKeyPin(ca.certPem))).toThrow(/is not the CA of the cluster at the endpoint/);
      fs.writeFileSync(path.join(dir, 'pki/ca.crt'), ca.certPem);
      expect(() => checkSharedFiles(dir, publicKeyPin(ca.certPem))).not.toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runJoin against a stub API server', () => {
  let server: https.Server;
  let endpoint: string;
  let dir: string;
  const serving = createCertificate({ subject: { commonName: 'kube-apiserver' }, issuer: { cert: ca.certPem, key: ca.keyPem }, extKeyUsage: ['serverAuth'], ipAddresses: ['127.0.0.1'] });

  beforeAll(async () => {
    const kubeconfig = `clusters:\n- name: ""\n  cluster:\n    certificate-authority-data: ${Buffer.from(ca.certPem).toString('base64')}\n`;
    server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      if (req.url === '/api/v1/namespaces/kube-public/configmaps/cluster-info' && !req.headers.authorization) res.end(JSON.stringify({ data: { kubeconfig } }));
      else if (req.url?.startsWith('/api/v1/nodes') && req.headers.authorization === `Bearer ${TOKEN}`) res.end('{"items":[]}');
      else if (req.url === '/api/v1/namespaces/kube-system/pods?labelSelector=tier%3Dcontrol-plane' && req.headers.authorization === `Bearer ${TOKEN}`) res.end(JSON.stringify({ items: pods }));
      else {
        res.statusCode = 401;
        res.end('{"kind":"Status","code":401,"message":"Unauthorized"}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-join-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const join = (o: Partial<Parameters<typeof runJoin>[0]> = {}) =>
    runJoin({ endpoint, token: TOKEN, caCertHashes: [publicKeyPin(ca.certPem)], unsafeSkipCAVerification: false, nodeName: 'Worker-1', outDir: dir, force: false, log: () => {}, ...o });

  test('writes the CA, the kubeconfig and the kubelet flags; a second run changes nothing', async () => {
    const r = await join();
    expect(r.nodeName).toBe('worker-1');
    expect(r.files.map((f) => [path.relative(dir, f.path), f.action])).toEqual([
      ['pki/ca.crt', 'created'],
      ['kubelet.kubeconfig', 'created'],
      ['kubelet-flags.env', 'created'],
    ]);
    expect(fs.readFileSync(path.join(dir, 'pki/ca.crt'), 'utf8')).toBe(ca.certPem);
    expect(fs.statSync(path.join(dir, 'kubelet.kubeconfig')).mode & 0o777).toBe(0o600);
    const flags = fs.readFileSync(path.join(dir, 'kubelet-flags.env'), 'utf8');
    expect(flags).toContain('--node-ip=127.0.0.1');
    // every control-plane node's NATS, from the nats mirror pods
    expect(flags).toContain('--nats-url=nats://10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(flags).not.toContain('control-plane');
    expect((await join()).files.map((f) => f.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
  });

  test('without a hash: refused unless the unsafe flag is given', async () => {
    await expect(join({ caCertHashes: [] })).rejects.toThrow(/without --discovery-token-ca-cert-hash can be unsafe/);
    expect((await join({ caCertHashes: [], unsafeSkipCAVerification: true })).caPin).toBe(publicKeyPin(ca.certPem));
  });

  test('another CA on disk, a wrong hash, a wrong token: errors, nothing written', async () => {
    fs.mkdirSync(path.join(dir, 'pki'));
    fs.writeFileSync(path.join(dir, 'pki/ca.crt'), other.certPem);
    await expect(join()).rejects.toThrow(/pki\/ca.crt already exists and differs \(the CA of another cluster\); --force replaces it/);
    expect(fs.existsSync(path.join(dir, 'kubelet.kubeconfig'))).toBe(false);
    await expect(join({ caCertHashes: [publicKeyPin(other.certPem)] })).rejects.toThrow(/none of the public keys/);
    await expect(join({ token: 'zzzzzz.zzzzzzzzzzzzzzzz' })).rejects.toThrow(/refused the bootstrap token \(401 Unauthorized\)/);
    expect(fs.existsSync(path.join(dir, 'kubelet.kubeconfig'))).toBe(false);
    expect((await join({ force: true })).files[0]!.action).toBe('replaced');
  });
});

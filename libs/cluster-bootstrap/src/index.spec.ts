import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCA, createCertificate } from '@kubets/pki';
import { bootstrapCluster, initConfiguration, type BootstrapNode, type ExecResult, type NodeRuntime } from './index';

// A fake cluster: the "nodes" answer exec with canned files and record what
// ran; one stub API server on 127.0.0.1 answers /readyz and the node list.
const ca = createCA('kubernetes');
const serving = createCertificate({ subject: { commonName: 'kube-apiserver' }, issuer: { cert: ca.certPem, key: ca.keyPem }, extKeyUsage: ['serverAuth'], ipAddresses: ['127.0.0.1'] });
const SUMMARY = JSON.stringify({ controlPlaneEndpoint: 'x', caCertHash: 'sha256:abc', adminToken: 'admin-token', bootstrapTokens: [{ token: 'abcdef.0123456789abcdef' }] });

let server: https.Server;
let endpoint: string;
let readyNodes: string[] = [];
beforeAll(async () => {
  server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    if (req.url === '/readyz') return void res.end('ok');
    if (req.url === '/api/v1/nodes' && req.headers.authorization === 'Bearer admin-token') {
      return void res.end(JSON.stringify({ items: readyNodes.map((name, i) => ({ metadata: { name }, spec: { podCIDR: `10.244.${i}.0/24` }, status: { conditions: [{ type: 'Ready', status: 'True' }] } })) }));
    }
    res.statusCode = 401;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function fakeRuntime(nodes: BootstrapNode[], fail?: (node: string, cmd: string[]) => boolean) {
  const log: string[] = [];
  const rt: NodeRuntime = {
    async exec(node, cmd): Promise<ExecResult> {
      log.push(`${node}: ${cmd.join(' ')}`);
      if (fail?.(node, cmd)) return { exitCode: 1, stdout: '', stderr: 'boom' };
      if (cmd[0] === 'cat') {
        const file = cmd[1]!;
        if (file.endsWith('ca.crt')) return { exitCode: 0, stdout: ca.certPem, stderr: '' };
        if (file.endsWith('kubets-init.json')) return { exitCode: 0, stdout: SUMMARY, stderr: '' };
        return { exitCode: 0, stdout: `content of ${file}`, stderr: '' };
      }
      if (cmd[0] === 'ip') {
        // Every other node's podCIDR routed through it, as the kubelets do.
        const routes = nodes.filter((o) => o.name !== node && o.podCIDR).map((o) => `${o.podCIDR} via ${o.ip} dev eth0`);
        return { exitCode: 0, stdout: routes.join('\n'), stderr: '' };
      }
      return { exitCode: 0, stdout: '', stderr: '' };
    },
    async writeFiles(node, files) {
      log.push(`${node}: write ${files.map((f) => `${f.path} ${f.mode.toString(8)}`).join(', ')}`);
    },
    async copyFile(node, source, target) {
      log.push(`${node}: copy ${source} ${target}`);
    },
  };
  return { rt, log };
}

test('one control plane and two workers: init, the workers join, every node Ready, routes', async () => {
  const nodes: BootstrapNode[] = [
    { name: 'cp', role: 'control-plane', ip: '127.0.0.1' },
    { name: 'w1', role: 'worker', ip: '10.0.0.2' },
    { name: 'w2', role: 'worker', ip: '10.0.0.3' },
  ];
  readyNodes = nodes.map((n) => n.name);
  const { rt, log } = fakeRuntime(nodes);
  let kubeconfig = '';
  const r = await bootstrapCluster(rt, nodes, { endpoint, podSubnet: '10.244.0.0/16', readyTimeoutMs: 5_000, onInit: (k) => (kubeconfig = k) });
  expect(r).toMatchObject({ caPem: ca.certPem, adminToken: 'admin-token', adminKubeconfig: 'content of /etc/kubernetes/admin.kubeconfig' });
  expect(kubeconfig).toBe(r.adminKubeconfig);
  expect(log).toContain(`cp: kubets init --apiserver-advertise-address=127.0.0.1 --control-plane-endpoint=${endpoint} --node-name=cp --pod-network-cidr=10.244.0.0/16`);
  for (const w of ['w1', 'w2']) expect(log).toContain(`${w}: kubets join ${endpoint} --node-name=${w} --token=abcdef.0123456789abcdef --discovery-token-ca-cert-hash=sha256:abc`);
  expect(log.some((l) => l.includes(' --control-plane '))).toBe(false);
  expect(nodes.map((n) => n.podCIDR)).toEqual(['10.244.0.0/24', '10.244.1.0/24', '10.244.2.0/24']);
});

test('three control planes: the shared files copied, each joins in turn after the previous one is ready; a restore first', async () => {
  const nodes: BootstrapNode[] = [
    { name: 'cp1', role: 'control-plane', ip: '127.0.0.1' },
    { name: 'cp2', role: 'control-plane', ip: '127.0.0.1' },
    { name: 'cp3', role: 'control-plane', ip: '127.0.0.1' },
  ];
  readyNodes = nodes.map((n) => n.name);
  const { rt, log } = fakeRuntime(nodes);
  const apiServerPort = Number(endpoint.split(':')[1]);
  await bootstrapCluster(rt, nodes, { endpoint, apiServerPort, podSubnet: '10.244.0.0/16', readyTimeoutMs: 5_000, restoreSnapshot: '/backups/b.db' });
  const at = (needle: string) => log.findIndex((l) => l.includes(needle));
  expect(at('cp1: copy /backups/b.db /root/kv-restore.db')).toBe(0);
  expect(log[1]).toContain('cp1: kubets-entrypoint kv restore /root/kv-restore.db --name=cp1 --initial-cluster=cp1=http://127.0.0.1:2380');
  expect(at('cp1: kubets init')).toBeGreaterThan(1);
  expect(log).toContain('cp2: write /etc/kubernetes/pki/ca.crt 644, /etc/kubernetes/pki/ca.key 600, /etc/kubernetes/pki/sa.key 600, /etc/kubernetes/pki/sa.pub 644, /etc/kubernetes/tokens.csv 600');
  expect(at('cp2: kubets join')).toBeLessThan(at('cp3: write'));
  expect(log[at('cp3: kubets join')]).toContain(`cp3: kubets join ${endpoint} --control-plane --apiserver-advertise-address=127.0.0.1 --node-name=cp3`);
});

test('a failing step names the node, the command and its output; a node that never gets Ready times out naming the wait', async () => {
  const nodes: BootstrapNode[] = [
    { name: 'cp', role: 'control-plane', ip: '127.0.0.1' },
    { name: 'w1', role: 'worker', ip: '10.0.0.2' },
  ];
  readyNodes = ['cp', 'w1'];
  const broken = fakeRuntime(nodes, (node, cmd) => node === 'w1' && cmd[1] === 'join');
  await expect(bootstrapCluster(broken.rt, nodes, { endpoint, podSubnet: '10.244.0.0/16', readyTimeoutMs: 5_000 })).rejects.toThrow(/kubets join .* in w1 exited 1:\n\nboom/);
  readyNodes = ['cp'];
  const slow = fakeRuntime(nodes);
  await expect(bootstrapCluster(slow.rt, nodes, { endpoint, podSubnet: '10.244.0.0/16', readyTimeoutMs: 1_500 })).rejects.toThrow('timed out after 1500 ms waiting for 2 nodes Ready with a podCIDR');
});

test('extraArgs: kubets init runs from a kubeadm v1beta4 configuration with the same settings plus extraArgs', async () => {
  const nodes: BootstrapNode[] = [{ name: 'cp', role: 'control-plane', ip: '127.0.0.1' }];
  readyNodes = ['cp'];
  const { rt, log } = fakeRuntime(nodes);
  const extraArgs = { controllerManager: { 'node-monitor-grace-period': '20s' }, etcd: { 'snapshot-count': '5000' } };
  await bootstrapCluster(rt, nodes, { endpoint, podSubnet: '10.244.0.0/16', readyTimeoutMs: 5_000, extraArgs });
  expect(log).toContain('cp: write /etc/kubernetes/kubeadm-init.yaml 644');
  expect(log).toContain('cp: kubets init --config=/etc/kubernetes/kubeadm-init.yaml');
  const [init, cluster] = initConfiguration(nodes[0]!, { endpoint, podSubnet: '10.244.0.0/16', extraArgs }).split('\n---\n').map((d) => JSON.parse(d));
  expect(init).toEqual({ apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration', localAPIEndpoint: { advertiseAddress: '127.0.0.1' }, nodeRegistration: { name: 'cp' } });
  expect(cluster).toEqual({
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'ClusterConfiguration',
    controlPlaneEndpoint: endpoint,
    networking: { podSubnet: '10.244.0.0/16' },
    controllerManager: { extraArgs: [{ name: 'node-monitor-grace-period', value: '20s' }] },
    etcd: { local: { extraArgs: [{ name: 'snapshot-count', value: '5000' }] } },
  });
});

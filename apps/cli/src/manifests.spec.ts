import YAML from 'yaml';
import { parseInitConfiguration } from './config';
import { controlPlaneManifests, kubeletFlagsEnv, withExtraArgs, writeControlPlane } from './manifests';

const CONFIG = `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint: { advertiseAddress: 172.18.0.2, bindPort: 6443 }
nodeRegistration: { name: cp-1 }
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
controlPlaneEndpoint: 172.18.0.2:6443
networking: { serviceSubnet: 10.96.0.0/12, podSubnet: 10.244.0.0/16 }
etcd: { local: { dataDir: /var/lib/etcd } }
`;

const cmd = (yaml: string): string[] => (YAML.parse(yaml.replace(/^#.*\n/, '')) as any).spec.containers[0].command;

describe('control-plane static pod manifests', () => {
  const config = parseInitConfiguration(CONFIG, { source: 'test' });
  const m = controlPlaneManifests(config, { image: 'docker.io/kubets/kubets:0.1.0', outDir: '/etc/kubernetes' });

  it('one static pod per component, host network, the kubets image, kube-system, kubeadm labels', () => {
    expect(Object.keys(m).sort()).toEqual(['kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml', 'kubets-kv.yaml', 'nats.yaml']);
    for (const text of Object.values(m)) {
      const pod = YAML.parse(text) as any;
      expect(pod).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'kube-system', labels: { tier: 'control-plane' } }, spec: { hostNetwork: true, priorityClassName: 'system-node-critical' } });
      expect(pod.spec.containers[0]).toMatchObject({ image: 'docker.io/kubets/kubets:0.1.0', imagePullPolicy: 'IfNotPresent' });
      expect(pod.spec.containers[0].command[0]).toBe('kubets-entrypoint');
    }
  });

  it('a new one-member KV on the advertise address, and the API server on it', () => {
    expect(cmd(m['kubets-kv.yaml']!)).toEqual(expect.arrayContaining(['kv', '--name=cp-1', '--data-dir=/var/lib/etcd', '--initial-cluster=cp-1=http://172.18.0.2:2380', '--initial-cluster-state=new', '--advertise-client-urls=http://172.18.0.2:2379']));
    expect(cmd(m['kube-apiserver.yaml']!)).toEqual(
      expect.arrayContaining(['apiserver', '--advertise-address=172.18.0.2', '--secure-port=6443', '--etcd-servers=http://127.0.0.1:2379', '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt', '--service-cluster-ip-range=10.96.0.0/12', '--nats-url=nats://127.0.0.1:4222']),
    );
    expect(cmd(m['kube-controller-manager.yaml']!)).toEqual(expect.arrayContaining(['--kubeconfig=/etc/kubernetes/controller-manager.kubeconfig', '--allocate-node-cidrs', '--cluster-cidr=10.244.0.0/16']));
    const api = YAML.parse(m['kube-apiserver.yaml']!) as any;
    expect(api.spec.volumes).toEqual([{ name: 'k8s', hostPath: { path: '/etc/kubernetes', type: 'Directory' } }]);
    expect(api.spec.containers[0].livenessProbe.httpGet).toEqual({ host: '127.0.0.1', port: 6443, path: '/livez', scheme: 'HTTPS' });
  });

  it('the first control plane\'s NATS listens for routes and advertises the node address; the pods say where the KV, NATS and API server are', () => {
    const nats = cmd(m['nats.yaml']!);
    expect(nats).toEqual(expect.arrayContaining(['--server_name', 'cp-1', '--cluster_name', 'kubets', '--cluster', 'nats://0.0.0.0:6222', '--cluster_advertise', '172.18.0.2:6222', '--client_advertise', '172.18.0.2:4222']));
    expect(nats).not.toContain('--routes');
    expect(nats).not.toContain('-js');
    const annotations = (f: string) => (YAML.parse(m[f]!) as any).metadata.annotations;
    expect(annotations('kubets-kv.yaml')).toEqual({ 'kubeadm.kubernetes.io/etcd.advertise-client-urls': 'http://172.18.0.2:2379' });
    expect(annotations('nats.yaml')).toEqual({ 'kubets.io/nats.advertise-client-url': 'nats://172.18.0.2:4222', 'kubets.io/nats.advertise-cluster-url': 'nats://172.18.0.2:6222' });
    expect(annotations('kube-apiserver.yaml')).toEqual({ 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint': '172.18.0.2:6443' });
  });

  it("kubeadm's extraArgs: each replaces the generated flag of its name or is added; the pod records them for joining nodes", () => {
    expect(withExtraArgs(['x', '--a=1', '--b', '--c=3'], [{ name: 'a', value: '2' }, { name: 'b', value: 'false' }, { name: 'd', value: '' }])).toEqual(['x', '--c=3', '--a=2', '--b=false', '--d=']);
    const withExtra = parseInitConfiguration(
      CONFIG + 'controllerManager:\n  extraArgs:\n  - {name: node-monitor-grace-period, value: 20s}\n  - {name: cluster-cidr, value: 10.250.0.0/16}\n' + 'apiServer:\n  extraArgs:\n  - {name: secure-port, value: "7443"}\n',
      { source: 'test' },
    );
    const e = controlPlaneManifests(withExtra, { image: 'i', outDir: '/etc/kubernetes' });
    const cm = cmd(e['kube-controller-manager.yaml']!);
    expect(cm).toEqual(expect.arrayContaining(['--node-monitor-grace-period=20s', '--cluster-cidr=10.250.0.0/16', '--allocate-node-cidrs']));
    expect(cm).not.toContain('--cluster-cidr=10.244.0.0/16');
    expect(cmd(e['kube-apiserver.yaml']!).filter((a) => a.startsWith('--secure-port'))).toEqual(['--secure-port=7443']);
    const annotations = (f: string) => (YAML.parse(e[f]!) as any).metadata.annotations ?? {};
    expect(JSON.parse(annotations('kube-controller-manager.yaml')['kubets.io/extra-args'])).toEqual(withExtra.extraArgs.controllerManager);
    expect(annotations('kube-scheduler.yaml')['kubets.io/extra-args']).toBeUndefined();
    expect(annotations('kubets-kv.yaml')['kubets.io/extra-args']).toBeUndefined();
  });

  it('a joining control-plane node: an existing KV cluster and NATS routes', () => {
    const j = controlPlaneManifests({ ...config, nodeName: 'cp-2', advertiseAddress: '172.18.0.3' }, { image: 'i', outDir: '/etc/kubernetes', join: { initialCluster: ['cp-1=http://172.18.0.2:2380'], natsRoutes: ['nats://172.18.0.2:6222'] } });
    expect(cmd(j['kubets-kv.yaml']!)).toEqual(expect.arrayContaining(['--initial-cluster=cp-1=http://172.18.0.2:2380,cp-2=http://172.18.0.3:2380', '--initial-cluster-state=existing']));
    expect(cmd(j['nats.yaml']!)).toEqual(expect.arrayContaining(['--server_name', 'cp-2', '--cluster_name', 'kubets', '--cluster', 'nats://0.0.0.0:6222', '--routes', 'nats://172.18.0.2:6222']));
  });

  it('an external etcd: no KV static pod, the API server on its endpoints', () => {
    const ext = parseInitConfiguration(CONFIG.replace('etcd: { local: { dataDir: /var/lib/etcd } }', 'etcd: { external: { endpoints: [http://10.0.0.5:2379] } }'), { source: 'test' });
    const e = controlPlaneManifests(ext, { image: 'i', outDir: '/etc/kubernetes' });
    expect(e['kubets-kv.yaml']).toBeUndefined();
    expect(cmd(e['kube-apiserver.yaml']!)).toContain('--etcd-servers=http://10.0.0.5:2379');
  });

  it('the kubelet flags and the phases that can be skipped', () => {
    const env = kubeletFlagsEnv({ outDir: '/etc/kubernetes', nodeName: 'cp-1', nodeIP: '172.18.0.2', natsUrl: 'nats://127.0.0.1:4222', controlPlane: true });
    expect(env).toMatch(/^KUBELET_ARGS=".*--pod-manifest-path=\/etc\/kubernetes\/manifests .*--register-with-taints=node-role.kubernetes.io\/control-plane:NoSchedule"$/m);
    const files = new Map<string, string>();
    writeControlPlane(config, { image: 'i', outDir: '/k', phases: { etcd: false, controlPlane: true, kubeletStart: false } }, (f, t) => files.set(f, t));
    expect([...files.keys()].sort()).toEqual(['/k/manifests/kube-apiserver.yaml', '/k/manifests/kube-controller-manager.yaml', '/k/manifests/kube-scheduler.yaml', '/k/manifests/nats.yaml']);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { configFromFlags, InitConfigError, parseEndpoint, parseGoDuration, parseInitConfiguration, type ParseOptions } from './config';

const opts: ParseOptions = { source: 'test.yaml', hostname: 'Node-1', detectAddress: () => '192.0.2.10' };
const parse = (text: string) => parseInitConfiguration(text, opts);

const INIT = (body = '', version = 'v1beta4') => `apiVersion: kubeadm.k8s.io/${version}\nkind: InitConfiguration\n${body}`;
const CLUSTER = (body = '', version = 'v1beta4') => `apiVersion: kubeadm.k8s.io/${version}\nkind: ClusterConfiguration\n${body}`;
const both = (init: string, cluster: string, version = 'v1beta4') => `${INIT(init, version)}\n---\n${CLUSTER(cluster, version)}`;

function error(text: string): string {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(InitConfigError);
    return (err as Error).message;
  }
  throw new Error('expected an InitConfigError');
}

describe('parseInitConfiguration: good configurations', () => {
  test('the shipped infra/kubeadm-init.yaml', () => {
    const file = path.resolve(__dirname, '..', '..', '..', 'infra', 'kubeadm-init.yaml');
    const c = parseInitConfiguration(fs.readFileSync(file, 'utf8'), { source: file });
    expect(c.controlPlaneEndpoint).toEqual({ host: '127.0.0.1', port: 6443, text: '127.0.0.1:6443' });
    expect(c.advertiseAddress).toBe('127.0.0.1');
    expect(c.bindPort).toBe(6443);
    expect(c.serviceSubnet).toBe('10.96.0.0/12');
    expect(c.podSubnet).toBe('10.244.0.0/16');
    expect(c.kubernetesServiceIP).toBe('10.96.0.1');
    expect(c.clusterDNSIP).toBe('10.96.0.10');
    expect(c.dnsDomain).toBe('cluster.local');
    expect(c.etcd).toEqual({
      external: { endpoints: ['http://127.0.0.1:2379', 'http://127.0.0.1:22379', 'http://127.0.0.1:32379'], caFile: undefined, certFile: undefined, keyFile: undefined },
    });
    expect(c.encryptionAlgorithm).toBe('ecdsa-p256');
    expect(c.certificateValidityDays).toBe(365);
    expect(c.caCertificateValidityDays).toBe(3650);
    expect(c.warnings).toEqual([]);
  });

  test('defaults: kubeadm values, node name from the host name, detected advertise address', () => {
    const c = parse(INIT());
    expect(c.nodeName).toBe('node-1');
    expect(c.advertiseAddress).toBe('192.0.2.10');
    expect(c.controlPlaneEndpoint.text).toBe('192.0.2.10:6443');
    expect(c.serviceSubnet).toBe('10.96.0.0/12');
    expect(c.podSubnet).toBeUndefined();
    expect(c.dnsDomain).toBe('cluster.local');
    expect(c.clusterName).toBe('kubernetes');
    expect(c.bootstrapTokens).toEqual([]);
    expect(c.etcd).toEqual({ local: { dataDir: '/var/lib/etcd' } });
    expect(c.warnings).toEqual(['localAPIEndpoint.advertiseAddress is not set: using 192.0.2.10']);
  });

  test('a ClusterConfiguration alone is enough; 0.0.0.0 means detect', () => {
    const c = parse(CLUSTER('controlPlaneEndpoint: cp.example.com\n'));
    expect(c.controlPlaneEndpoint).toEqual({ host: 'cp.example.com', port: 6443, text: 'cp.example.com:6443' });
    expect(parse(INIT('localAPIEndpoint: {advertiseAddress: 0.0.0.0}\n')).advertiseAddress).toBe('192.0.2.10');
  });

  test('v1beta3 with bootstrap tokens, cert SANs, bind port and a DNS endpoint', () => {
    const c = parse(
      both(
        `bootstrapTokens:
  - token: abcdef.0123456789abcdef
    description: first
    ttl: 2h
    groups: [system:bootstrappers:workers]
  - token: 123456.abcdefghijklmnop
localAPIEndpoint:
  advertiseAddress: 10.0.0.5
  bindPort: 8443
nodeRegistration:
  name: cp1
  criSocket: unix:///run/containerd/containerd.sock
`,
        `controlPlaneEndpoint: API.Example.com:443
clusterName: prod
networking:
  serviceSubnet: 10.100.0.0/16
  podSubnet: 192.168.0.0/16
  dnsDomain: corp.local
apiServer:
  certSANs: [10.0.0.100, Api.Internal, "*.apps.example.com"]
  extraArgs:
    audit-log-path: /var/log/audit.log
`,
        'v1beta3',
      ),
    );
    expect(c.apiVersion).toBe('kubeadm.k8s.io/v1beta3');
    expect(c.bindPort).toBe(8443);
    expect(c.controlPlaneEndpoint).toEqual({ host: 'api.example.com', port: 443, text: 'api.example.com:443' });
    expect(c.kubernetesServiceIP).toBe('10.100.0.1');
    expect(c.certSANs).toEqual(['10.0.0.100', 'api.internal', '*.apps.example.com']);
    expect(c.clusterName).toBe('prod');
    expect(c.bootstrapTokens).toEqual([
      { token: 'abcdef.0123456789abcdef', id: 'abcdef', description: 'first', ttl: '2h', usages: ['signing', 'authentication'], groups: ['system:bootstrappers:workers'] },
      { token: '123456.abcdefghijklmnop', id: '123456', description: undefined, ttl: '24h0m0s', usages: ['signing', 'authentication'], groups: ['system:bootstrappers:kubeadm:default-node-token'] },
    ]);
    expect(c.warnings).toEqual(['InitConfiguration.nodeRegistration.criSocket is accepted for kubeadm compatibility but not used by kubets init']);
    expect(c.extraArgs.apiServer).toEqual([{ name: 'audit-log-path', value: '/var/log/audit.log' }]);
  });

  test("extraArgs: v1beta3's mapping, v1beta4's list of {name, value} (a name may repeat), per component", () => {
    const v3 = parse(CLUSTER('controllerManager:\n  extraArgs:\n    node-monitor-grace-period: 20s\nscheduler:\n  extraArgs: {v: "4"}\n', 'v1beta3'));
    expect(v3.extraArgs).toEqual({ apiServer: [], controllerManager: [{ name: 'node-monitor-grace-period', value: '20s' }], scheduler: [{ name: 'v', value: '4' }], etcd: [] });
    const v4 = parse(
      CLUSTER(
        'apiServer:\n  extraArgs:\n  - {name: feature-gates, value: A=true}\n  - {name: feature-gates, value: B=false}\n' +
          'etcd:\n  local:\n    extraArgs:\n    - {name: snapshot-count, value: "5000"}\n',
      ),
    );
    expect(v4.extraArgs.apiServer).toEqual([{ name: 'feature-gates', value: 'A=true' }, { name: 'feature-gates', value: 'B=false' }]);
    expect(v4.extraArgs.etcd).toEqual([{ name: 'snapshot-count', value: '5000' }]);
    expect(v4.warnings.filter((w) => w.includes('extraArgs'))).toEqual([]);
    // JSON is YAML: a configuration written by a program.
    const json = parse(`{"apiVersion":"kubeadm.k8s.io/v1beta4","kind":"ClusterConfiguration","controllerManager":{"extraArgs":[{"name":"node-monitor-grace-period","value":"20s"}]}}`);
    expect(json.extraArgs.controllerManager).toEqual([{ name: 'node-monitor-grace-period', value: '20s' }]);
    // Flags (kubets join --control-plane) carry them too.
    const fromFlags = parse(configFromFlags({ advertiseAddress: '10.0.0.2', extraArgs: { controllerManager: [{ name: 'node-monitor-grace-period', value: '20s' }], etcd: [{ name: 'snapshot-count', value: '100' }] } }));
    expect(fromFlags.extraArgs).toMatchObject({ controllerManager: [{ name: 'node-monitor-grace-period', value: '20s' }], etcd: [{ name: 'snapshot-count', value: '100' }] });
  });

  test('IPv6 and dual-stack', () => {
    const c = parse(
      both(
        'localAPIEndpoint: {advertiseAddress: "fd00::5"}\n',
        'controlPlaneEndpoint: "[fd00::5]:6443"\nnetworking: {serviceSubnet: "fd00:96::/108,10.96.0.0/12", podSubnet: "fd00:244::/64,10.244.0.0/16"}\n',
      ),
    );
    expect(c.controlPlaneEndpoint).toEqual({ host: 'fd00::5', port: 6443, text: '[fd00::5]:6443' });
    expect(c.kubernetesServiceIP).toBe('fd00:96::1');
    expect(c.clusterDNSIP).toBe('fd00:96::a');
    expect(c.serviceSubnets.map((s) => s.family)).toEqual([6, 4]);
    expect(parse(INIT('localAPIEndpoint: {advertiseAddress: "fd00::5", bindPort: 7443}\n')).controlPlaneEndpoint.text).toBe('[fd00::5]:7443');
  });

  test('v1beta4 certificate settings', () => {
    const c = parse(CLUSTER('encryptionAlgorithm: RSA-3072\ncertificateValidityPeriod: 48h\ncaCertificateValidityPeriod: 87600h0m0s\n'));
    expect(c.encryptionAlgorithm).toBe('rsa-3072');
    expect(c.certificateValidityDays).toBe(2);
    expect(c.caCertificateValidityDays).toBe(3650);
  });

  test('etcd endpoints: host:port becomes a URL, https with client certificates', () => {
    const plain = parse(CLUSTER('etcd: {external: {endpoints: ["127.0.0.1:2379", "http://[::1]:2379/"]}}\n'));
    expect('external' in plain.etcd && plain.etcd.external.endpoints).toEqual(['http://127.0.0.1:2379', 'http://[::1]:2379']);
    const tls = parse(CLUSTER('etcd: {external: {endpoints: ["etcd-0:2379"], caFile: /ca.crt, certFile: /c.crt, keyFile: /c.key}}\n'));
    expect('external' in tls.etcd && tls.etcd.external).toEqual({ endpoints: ['https://etcd-0:2379'], caFile: '/ca.crt', certFile: '/c.crt', keyFile: '/c.key' });
    const local = parse(CLUSTER('etcd: {local: {dataDir: /data/etcd}}\n'));
    expect(local.etcd).toEqual({ local: { dataDir: '/data/etcd' } });
  });

  test('documents kubeadm accepts alongside are skipped with a warning; empty documents are fine', () => {
    const c = parse(`---\n${INIT()}\n---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n---\n`);
    expect(c.warnings).toContain('ignored the KubeletConfiguration document (kubelet.config.k8s.io/v1beta1): the kubelet reads its own configuration');
  });

  test('configFromFlags builds documents that parse', () => {
    const c = parse(
      configFromFlags({
        advertiseAddress: '10.1.1.1',
        bindPort: 7443,
        controlPlaneEndpoint: 'lb.example:443',
        serviceCidr: '10.20.0.0/16',
        podNetworkCidr: '10.30.0.0/16',
        serviceDnsDomain: 'k.local',
        certSans: ['1.2.3.4', 'x.example'],
        token: 'abcdef.0123456789abcdef',
        nodeName: 'n1',
      }),
    );
    expect(c.advertiseAddress).toBe('10.1.1.1');
    expect(c.bindPort).toBe(7443);
    expect(c.controlPlaneEndpoint.text).toBe('lb.example:443');
    expect(c.kubernetesServiceIP).toBe('10.20.0.1');
    expect(c.podSubnet).toBe('10.30.0.0/16');
    expect(c.dnsDomain).toBe('k.local');
    expect(c.certSANs).toEqual(['1.2.3.4', 'x.example']);
    expect(c.bootstrapTokens.map((t) => t.token)).toEqual(['abcdef.0123456789abcdef']);
    expect(c.nodeName).toBe('n1');
    expect(parse(configFromFlags({})).serviceSubnet).toBe('10.96.0.0/12');
  });
});

describe('parseInitConfiguration: bad configurations name the problem', () => {
  test('extraArgs of the wrong shape for the apiVersion, or with dashes in a name', () => {
    expect(error(CLUSTER('controllerManager:\n  extraArgs:\n    node-monitor-grace-period: 20s\n'))).toMatch(/controllerManager\.extraArgs: expected a list of \{name, value\} \(kubeadm\.k8s\.io\/v1beta4\)/);
    expect(error(CLUSTER('controllerManager:\n  extraArgs:\n  - {name: a, value: b}\n', 'v1beta3'))).toMatch(/expected a mapping of flag names to values \(kubeadm\.k8s\.io\/v1beta3\)/);
    expect(error(CLUSTER('scheduler:\n  extraArgs:\n  - {name: --v, value: "4"}\n'))).toMatch(/"--v" is not a flag name \(without the leading dashes/);
    expect(error(CLUSTER('scheduler:\n  extraArgs:\n  - {value: "4"}\n'))).toMatch(/scheduler\.extraArgs\[0\]\.name: is required/);
    expect(error(CLUSTER('scheduler:\n  extraArgs:\n  - {name: v, valu: "4"}\n'))).toMatch(/unknown field "scheduler\.extraArgs\[0\]\.valu"/);
    expect(error(CLUSTER('scheduler:\n  extraArgs:\n    v: 4\n', 'v1beta3'))).toMatch(/scheduler\.extraArgs\.v: expected a string/);
  });

  test.each([
    ['unknown kind', `apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfig\n`, 'test.yaml (document 1): unknown kind "InitConfig" (want InitConfiguration and/or ClusterConfiguration) (did you mean "InitConfiguration"?)'],
    ['unsupported apiVersion', INIT('', 'v1beta2'), 'test.yaml (document 1): InitConfiguration: apiVersion "kubeadm.k8s.io/v1beta2" is not supported (use kubeadm.k8s.io/v1beta3 or kubeadm.k8s.io/v1beta4)'],
    ['missing kind', 'apiVersion: v1\n', 'test.yaml (document 1): missing "kind"'],
    ['missing apiVersion', 'kind: InitConfiguration\n', 'test.yaml (document 1): InitConfiguration: missing "apiVersion"'],
    ['not a mapping', '- a\n- b\n', 'test.yaml (document 1): expected a mapping with apiVersion and kind, found a list'],
    ['nothing useful', 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n', 'test.yaml: no InitConfiguration or ClusterConfiguration document found'],
    ['two InitConfigurations', `${INIT()}---\n${INIT()}`, 'test.yaml (document 2): a second InitConfiguration document (only one is allowed)'],
    ['unknown top-level field', CLUSTER('controlPlaneEndpointt: 1.2.3.4:6443\n'), 'test.yaml (document 1): ClusterConfiguration: unknown field "controlPlaneEndpointt" (did you mean "controlPlaneEndpoint"?)'],
    ['unknown nested field', CLUSTER('networking:\n  podSubnett: 10.0.0.0/8\n'), 'unknown field "networking.podSubnett" (did you mean "podSubnet"?)'],
    ['unknown field in a list item', INIT('bootstrapTokens:\n  - token: abcdef.0123456789abcdef\n    tokn: x\n'), 'unknown field "bootstrapTokens[0].tokn"'],
    ['v1beta4-only field in v1beta3', CLUSTER('encryptionAlgorithm: RSA-2048\n', 'v1beta3'), 'field "encryptionAlgorithm" needs apiVersion kubeadm.k8s.io/v1beta4 (this document is kubeadm.k8s.io/v1beta3)'],
    ['wrong type', CLUSTER('networking: 10.0.0.0/8\n'), 'networking: expected a mapping, found a string'],
    ['wrong list type', CLUSTER('apiServer: {certSANs: localhost}\n'), 'apiServer.certSANs: expected a list of strings, found a string'],
    ['port as string', INIT('localAPIEndpoint: {bindPort: "6443"}\n'), 'localAPIEndpoint.bindPort: expected an integer, found a string'],
    ['port out of range', INIT('localAPIEndpoint: {bindPort: 70000}\n'), 'localAPIEndpoint.bindPort: 70000 is not a port (1-65535)'],
    ['advertise address not an IP', INIT('localAPIEndpoint: {advertiseAddress: cp.local}\n'), 'localAPIEndpoint.advertiseAddress: "cp.local" is not an IP address'],
    ['bad service CIDR', CLUSTER('networking: {serviceSubnet: 10.96.0.0}\n'), 'networking.serviceSubnet: "10.96.0.0" is not a CIDR'],
    ['service CIDR with host bits', CLUSTER('networking: {serviceSubnet: 10.96.0.1/12}\n'), 'networking.serviceSubnet: "10.96.0.1/12" has host bits set (did you mean 10.96.0.0/12?)'],
    ['service CIDR too large', CLUSTER('networking: {serviceSubnet: 10.0.0.0/8}\n'), 'networking.serviceSubnet: 10.0.0.0/8 is too large: at most 20 host bits (/12) are allowed'],
    ['prefix too long', CLUSTER('networking: {podSubnet: 10.0.0.0/33}\n'), 'networking.podSubnet: "10.0.0.0/33": prefix length 33 is longer than 32'],
    ['overlapping subnets', CLUSTER('networking: {podSubnet: 10.96.0.0/16}\n'), 'networking.podSubnet: 10.96.0.0/16 overlaps the service subnet 10.96.0.0/12'],
    ['two IPv4 subnets', CLUSTER('networking: {serviceSubnet: "10.96.0.0/12,10.112.0.0/12"}\n'), 'a dual-stack value needs one IPv4 and one IPv6 subnet, found two IPv4'],
    ['bad DNS domain', CLUSTER('networking: {dnsDomain: Cluster_Local}\n'), 'networking.dnsDomain: "Cluster_Local" is not a valid DNS domain'],
    ['endpoint without host', CLUSTER('controlPlaneEndpoint: ":6443"\n'), 'controlPlaneEndpoint: ":6443": "" is neither an IP address nor a DNS name'],
    ['endpoint with a bad port', CLUSTER('controlPlaneEndpoint: "cp:http"\n'), 'controlPlaneEndpoint: "cp:http" has an invalid port'],
    ['endpoint with port 0', CLUSTER('controlPlaneEndpoint: "cp:0"\n'), 'controlPlaneEndpoint: "cp:0" has an invalid port'],
    ['endpoint with a bad host', CLUSTER('controlPlaneEndpoint: "bad_host:6443"\n'), '"bad_host" is neither an IP address nor a DNS name'],
    ['bad cert SAN', CLUSTER('apiServer: {certSANs: [ok.example, "not valid"]}\n'), 'apiServer.certSANs[1]: "not valid" is neither an IP address nor a DNS name'],
    ['bad token', INIT('bootstrapTokens: [{token: ABCDEF.0123456789abcdef}]\n'), 'bootstrapTokens[0].token: "ABCDEF.0123456789abcdef" does not match [a-z0-9]{6}.[a-z0-9]{16}'],
    ['token entry without token', INIT('bootstrapTokens: [{ttl: 1h}]\n'), 'bootstrapTokens[0].token: is required'],
    ['bad ttl', INIT('bootstrapTokens: [{token: abcdef.0123456789abcdef, ttl: 1day}]\n'), 'bootstrapTokens[0].ttl: "1day" is not a duration'],
    ['bad token group', INIT('bootstrapTokens: [{token: abcdef.0123456789abcdef, groups: [system:masters]}]\n'), 'bootstrapTokens[0].groups: "system:masters" does not match'],
    ['duplicate token id', INIT('bootstrapTokens: [{token: abcdef.0123456789abcdef}, {token: abcdef.aaaaaaaaaaaaaaaa}]\n'), 'the token id "abcdef" is used twice'],
    ['bad node name', INIT('nodeRegistration: {name: Node_1}\n'), 'nodeRegistration.name: "Node_1" is not a valid node name'],
    ['etcd local and external', CLUSTER('etcd: {local: {}, external: {endpoints: ["127.0.0.1:2379"]}}\n'), 'etcd: "local" and "external" are mutually exclusive'],
    ['etcd without endpoints', CLUSTER('etcd: {external: {endpoints: []}}\n'), 'etcd.external.endpoints: at least one endpoint is required'],
    ['etcd endpoint without port', CLUSTER('etcd: {external: {endpoints: ["http://etcd"]}}\n'), 'etcd.external.endpoints[0]: "http://etcd" has no port'],
    ['etcd endpoint with a bad scheme', CLUSTER('etcd: {external: {endpoints: ["unix://x:1"]}}\n'), 'etcd.external.endpoints[0]: "unix://x:1": the scheme must be http or https'],
    ['etcd cert without key', CLUSTER('etcd: {external: {endpoints: ["e:2379"], certFile: /c}}\n'), 'etcd.external: certFile and keyFile must be given together'],
    ['unsupported key algorithm', CLUSTER('encryptionAlgorithm: DSA\n'), 'encryptionAlgorithm: unsupported key algorithm "DSA"'],
    ['bad validity', CLUSTER('certificateValidityPeriod: forever\n'), 'certificateValidityPeriod: "forever" is not a duration'],
    ['invalid YAML', 'kind: [\n', 'test.yaml (document 1): invalid YAML'],
    ['duplicate keys', `${CLUSTER()}clusterName: a\nclusterName: b\n`, 'invalid YAML: Map keys must be unique'],
  ])('%s', (_name, text, message) => {
    expect(error(text)).toContain(message);
  });
});

describe('helpers', () => {
  test('parseEndpoint', () => {
    expect(parseEndpoint('10.0.0.1', 6443)).toEqual({ host: '10.0.0.1', port: 6443, text: '10.0.0.1:6443' });
    expect(parseEndpoint('[::1]', 6443).text).toBe('[::1]:6443');
    expect(parseEndpoint('::1', 6443).text).toBe('[::1]:6443');
    expect(() => parseEndpoint('[cp.local]:6443', 1)).toThrow(/only an IPv6 address/);
  });

  test('parseGoDuration', () => {
    expect(parseGoDuration('24h0m0s')).toBe(86_400_000);
    expect(parseGoDuration('1h30m')).toBe(5_400_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('0')).toBe(0);
    expect(() => parseGoDuration('10')).toThrow(/not a duration/);
  });
});

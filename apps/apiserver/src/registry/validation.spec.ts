import { lookup } from './index';
import type { FieldCause, KObject } from './types';

const pods = lookup('', 'v1', 'pods')!;
const deployments = lookup('apps', 'v1', 'deployments')!;
const replicasets = lookup('apps', 'v1', 'replicasets')!;
const daemonsets = lookup('apps', 'v1', 'daemonsets')!;
const services = lookup('', 'v1', 'services')!;

/** Default, validate, and return the causes as kubectl prints them (`field: message`). */
function errorsOf(def: typeof pods, obj: KObject, old?: KObject): string[] {
  const o = structuredClone(obj);
  def.defaults(o);
  return def.validate(o, old).map((c: FieldCause) => (c.field ? `${c.field}: ${c.message}` : c.message));
}

const pod = (spec: KObject): KObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default' }, spec });
const deployment = (spec: KObject): KObject => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default' }, spec });
const tpl = (labels: KObject, containers: KObject[] = [{ name: 'web', image: 'nginx' }]) => ({ metadata: { labels }, spec: { containers } });

describe('pod validation', () => {
  it('requires containers', () => {
    expect(errorsOf(pods, pod({ containers: [] }))).toEqual(['spec.containers: Required value']);
  });

  it('checks container names, images, duplicates, ports and protocols', () => {
    const errs = errorsOf(
      pods,
      pod({
        containers: [
          { name: 'Web', image: 'nginx', ports: [{ containerPort: 70000 }, { containerPort: 80, protocol: 'HTTP' }] },
          { name: 'web', image: '' },
          { name: 'web', image: 'busybox' },
        ],
      }),
    );
    expect(errs).toEqual([
      expect.stringMatching(/^spec\.containers\[0\]\.name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'/),
      'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[1].image: Required value',
      'spec.containers[2].name: Duplicate value: "web"',
    ]);
  });

  it('checks restart policy, dns policy, pull policy, env and volume mounts', () => {
    const errs = errorsOf(
      pods,
      pod({
        restartPolicy: 'Sometimes',
        dnsPolicy: 'Google',
        containers: [
          {
            name: 'c',
            image: 'i:1',
            imagePullPolicy: 'Sometimes',
            env: [{ name: '' }, { name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'B', valueFrom: { fieldRef: { fieldPath: 'spec.foo' } } }],
            volumeMounts: [{ name: 'missing', mountPath: '/data' }],
          },
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.containers[0].env[0].name: Required value',
      'spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
      expect.stringMatching(/^spec\.containers\[0\]\.env\[2\]\.valueFrom\.fieldRef\.fieldPath: Unsupported value: "spec\.foo": supported values: "metadata\.name", /),
      'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
      'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
    ]);
  });

  it('checks probes, resources and tolerations', () => {
    const errs = errorsOf(
      pods,
      pod({
        containers: [
          {
            name: 'c',
            image: 'i:1',
            livenessProbe: { successThreshold: 2, periodSeconds: -1 },
            readinessProbe: { httpGet: { port: 'http-port-too-long' }, tcpSocket: { port: 80 } },
            resources: { limits: { cpu: '1' }, requests: { cpu: '2', memory: 'lots' } },
          },
        ],
        tolerations: [{ key: 'a', operator: 'Exists', value: 'x' }, { key: 'b', effect: 'NoSchedule', tolerationSeconds: 10 }],
      }),
    );
    expect(errs).toEqual(
      expect.arrayContaining([
        'spec.containers[0].livenessProbe: Required value: must specify a handler type',
        'spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0',
        'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
        'spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type',
        'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "http-port-too-long": must be no more than 15 characters',
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
        "spec.containers[0].resources.requests[memory]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        'spec.tolerations[0].operator: Invalid value: core.Toleration{Key:"a", Operator:"Exists", Value:"x", Effect:"", TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is \'Exists\'',
        "spec.tolerations[1].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' when `tolerationSeconds` is set",
      ]),
    );
  });

  it('checks volumes', () => {
    const errs = errorsOf(
      pods,
      pod({
        containers: [{ name: 'c', image: 'i:1' }],
        volumes: [
          { name: 'a', emptyDir: {}, hostPath: { path: '/x' } },
          { name: 'a', secret: {} },
          { name: 'Bad_Name', configMap: { name: 'c' } },
        ],
      }),
    );
    expect(errs).toEqual([
      'spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type',
      'spec.volumes[1].secret.secretName: Required value',
      'spec.volumes[1].name: Duplicate value: "a"',
      expect.stringMatching(/^spec\.volumes\[2\]\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label/),
    ]);
  });

  it('forbids changing the spec on update except images, deadlines and added tolerations', () => {
    const old = pod({ containers: [{ name: 'c', image: 'nginx:1.24' }], nodeName: 'node-1' });
    pods.defaults(old);
    const imageChange = structuredClone(old);
    imageChange.spec.containers[0].image = 'nginx:1.25';
    imageChange.spec.activeDeadlineSeconds = 60;
    imageChange.spec.tolerations.push({ key: 'x', operator: 'Exists', effect: 'NoSchedule' });
    expect(errorsOf(pods, imageChange, old)).toEqual([]);

    const envChange = structuredClone(old);
    envChange.spec.containers[0].env = [{ name: 'A', value: '1' }];
    const errs = errorsOf(pods, envChange, old);
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(
      /^spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`,`spec\.initContainers\[\*\]\.image`,`spec\.activeDeadlineSeconds`,`spec\.tolerations` \(only additions to existing tolerations\),`spec\.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)\n/,
    );

    const added = structuredClone(old);
    added.spec.containers.push({ name: 'd', image: 'x:1' });
    expect(errorsOf(pods, added, old)).toEqual(['spec.containers: Forbidden: pod updates may not add or remove containers']);

    const removedToleration = structuredClone(old);
    removedToleration.spec.tolerations = [];
    expect(errorsOf(pods, { ...removedToleration, spec: { ...removedToleration.spec, tolerations: [{ operator: 'Exists' }] } }, old)).toEqual([
      'spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds',
    ]);
  });

  it('lets the binding set spec.nodeName once', () => {
    const old = pod({ containers: [{ name: 'c', image: 'nginx:1.24' }] });
    pods.defaults(old);
    const bound = structuredClone(old);
    bound.spec.nodeName = 'node-1';
    expect(errorsOf(pods, bound, old)).toEqual([]);
  });
});

describe('deployment validation', () => {
  it('the selector must match the template labels (exact kube wording)', () => {
    const errs = errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'api', tier: 'fe' }) }));
    expect(errs).toEqual(['spec.template.metadata.labels: Invalid value: map[string]string{"app":"api", "tier":"fe"}: `selector` does not match template `labels`']);
  });

  it('requires a selector, rejects empty ones, negative replicas and bad strategies', () => {
    expect(errorsOf(deployments, deployment({ template: tpl({ app: 'web' }) }))).toEqual(['spec.selector: Required value']);
    expect(errorsOf(deployments, deployment({ selector: {}, template: tpl({ app: 'web' }) }))).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment',
    ]);
    expect(
      errorsOf(
        deployments,
        deployment({
          replicas: -1,
          selector: { matchLabels: { app: 'web' } },
          template: { ...tpl({ app: 'web' }), spec: { restartPolicy: 'Never', containers: [{ name: 'web', image: 'nginx' }] } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } },
          minReadySeconds: 10,
          progressDeadlineSeconds: 5,
        }),
      ),
    ).toEqual([
      'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"0%"}: may not be 0 when `maxSurge` is 0',
      'spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds',
    ]);
    expect(
      errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }), strategy: { type: 'Recreate', rollingUpdate: {} } })),
    ).toEqual(["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]);
    expect(errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }), strategy: { type: 'BlueGreen' } }))).toEqual([
      'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"BlueGreen", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"',
    ]);
    expect(
      errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }), strategy: { rollingUpdate: { maxUnavailable: '150%', maxSurge: 'x' } } })),
    ).toEqual([
      "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
      'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:"150%"}: must not be greater than 100%',
    ]);
  });

  it('validates the template like a pod spec', () => {
    expect(errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web' }, [{ name: 'web' }]) }))).toEqual([
      'spec.template.spec.containers[0].image: Required value',
    ]);
    expect(errorsOf(deployments, deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web', 'bad key!': 'x' }) }))).toEqual([
      expect.stringMatching(/^spec\.template\.metadata\.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters/),
    ]);
  });

  it('the selector is immutable in apps/v1', () => {
    const old = deployment({ selector: { matchLabels: { app: 'web' } }, template: tpl({ app: 'web', v: '2' }) });
    deployments.defaults(old);
    const next = structuredClone(old);
    next.spec.selector = { matchLabels: { app: 'web', v: '2' } };
    expect(errorsOf(deployments, next, old)).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
    const scaled = structuredClone(old);
    scaled.spec.replicas = 5;
    expect(errorsOf(deployments, scaled, old)).toEqual([]);
  });

  it('replica sets and daemon sets', () => {
    expect(errorsOf(replicasets, { spec: { selector: { matchLabels: { a: 'b' } }, template: tpl({ a: 'c' }) } })).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"a":"c"}: `selector` does not match template `labels`',
    ]);
    expect(errorsOf(daemonsets, { spec: { selector: { matchLabels: { a: 'b' } }, template: tpl({ a: 'b' }), updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 0 } } } })).toEqual([
      'spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0',
    ]);
    const old = { spec: { selector: { matchLabels: { a: 'b' } }, template: tpl({ a: 'b' }) } };
    daemonsets.defaults(old);
    expect(errorsOf(daemonsets, { ...old, spec: { ...old.spec, selector: { matchLabels: { a: 'b', c: 'd' } } } }, old)).toEqual([
      'spec.template.metadata.labels: Invalid value: map[string]string{"a":"b"}: `selector` does not match template `labels`',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b", "c":"d"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
  });
});

describe('service validation', () => {
  const svc = (spec: KObject): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec });

  it('requires ports except for headless and ExternalName services', () => {
    expect(errorsOf(services, svc({ selector: { app: 'web' } }))).toEqual(['spec.ports: Required value']);
    expect(errorsOf(services, svc({ clusterIP: 'None', selector: { app: 'web' } }))).toEqual([]);
    expect(errorsOf(services, svc({ type: 'ExternalName', externalName: 'db.example.com.' }))).toEqual([]);
    expect(errorsOf(services, svc({ type: 'ExternalName' }))).toEqual(['spec.externalName: Required value']);
  });

  it('checks port names, numbers, protocols and duplicates', () => {
    expect(
      errorsOf(
        services,
        svc({
          ports: [
            { name: 'http', port: 80 },
            { name: 'http', port: 0, protocol: 'ICMP' },
            { port: 80, targetPort: 'Not_A_Name' },
          ],
        }),
      ),
    ).toEqual([
      'spec.ports[1].name: Duplicate value: "http"',
      'spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      // targetPort defaults to port, here 0.
      'spec.ports[1].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.ports[2].name: Required value',
      'spec.ports[2].targetPort: Invalid value: "Not_A_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      'spec.ports[2]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ]);
  });

  it('rejects node ports on ClusterIP services and bad types', () => {
    expect(errorsOf(services, svc({ ports: [{ port: 80, nodePort: 30080 }] }))).toEqual(["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
    expect(errorsOf(services, svc({ type: 'Magic', ports: [{ port: 80 }] }))).toEqual(['spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']);
  });

  it('the cluster IP may not change once set, but may be omitted on update', () => {
    const old = svc({ ports: [{ port: 80 }], clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] });
    services.defaults(old);
    const omitted = structuredClone(old);
    delete omitted.spec.clusterIP;
    delete omitted.spec.clusterIPs;
    expect(errorsOf(services, omitted, old)).toEqual([]);
    const changed = structuredClone(old);
    changed.spec.clusterIP = '10.96.0.11';
    expect(errorsOf(services, changed, old)).toEqual(['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set']);
    const toNodePort = structuredClone(old);
    toNodePort.spec.type = 'NodePort';
    expect(errorsOf(services, toNodePort, old)).toEqual([]);
  });
});

describe('other kinds', () => {
  it('configmap keys and immutability', () => {
    const cms = lookup('', 'v1', 'configmaps')!;
    expect(errorsOf(cms, { data: { 'good.key': 'x', 'bad key': 'y' } })).toEqual([
      expect.stringMatching(/^data\[bad key\]: Invalid value: "bad key": a valid config key must consist of alphanumeric characters, '-', '_' or '\.'/),
    ]);
    const old = { data: { a: '1' }, immutable: true };
    expect(errorsOf(cms, { data: { a: '2' }, immutable: true }, old)).toEqual(['data: Forbidden: field is immutable when `immutable` is set']);
  });

  it('secret types', () => {
    const secrets = lookup('', 'v1', 'secrets')!;
    expect(errorsOf(secrets, { type: 'kubernetes.io/tls', data: {} })).toEqual(['data[tls.crt]: Required value', 'data[tls.key]: Required value']);
    expect(errorsOf(secrets, { type: 'kubernetes.io/tls', data: { 'tls.crt': 'YQ==', 'tls.key': 'YQ==' } }, { type: 'Opaque' })).toEqual([
      'type: Invalid value: "kubernetes.io/tls": field is immutable',
    ]);
  });

  it('namespace finalizers', () => {
    const ns = lookup('', 'v1', 'namespaces')!;
    expect(errorsOf(ns, { metadata: { name: 'a' }, spec: { finalizers: ['kubernetes', 'custom'] } })).toEqual([
      'spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ]);
  });

  it('nodes', () => {
    const nodes = lookup('', 'v1', 'nodes')!;
    const old = { metadata: { name: 'n' }, spec: { podCIDRs: ['10.244.0.0/24'], providerID: 'a' } };
    expect(errorsOf(nodes, { metadata: { name: 'n' }, spec: { podCIDRs: ['10.244.1.0/24'], providerID: 'b', taints: [{ key: 'k', effect: 'Sometimes' }] } }, old)).toEqual([
      'spec.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
      'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
      'spec.providerID: Forbidden: node updates may not change providerID except from "" to valid',
    ]);
  });

  it('leases', () => {
    const leases = lookup('coordination.k8s.io', 'v1', 'leases')!;
    expect(errorsOf(leases, { spec: { leaseDurationSeconds: 0, leaseTransitions: -1 } })).toEqual([
      'spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0',
      'spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });

  it('endpoint slices', () => {
    const es = lookup('discovery.k8s.io', 'v1', 'endpointslices')!;
    expect(errorsOf(es, { addressType: 'IPv5', endpoints: [{ addresses: [] }], ports: [{ name: 'http', port: 80 }, { name: 'http', protocol: 'TCP', port: 81 }] })).toEqual([
      'endpoints[0].addresses: Required value: must contain at least 1 address',
      'ports[1].name: Duplicate value: "http"',
      'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
    ]);
    expect(errorsOf(es, { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1', '127.0.0.1', 'fd00::1'] }] })).toEqual([
      'endpoints[0].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'endpoints[0].addresses[2]: Invalid value: "fd00::1": must be a valid IPv4 address',
    ]);
    expect(errorsOf(es, { addressType: 'IPv6', endpoints: [] }, { addressType: 'IPv4' })).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });

  it('events', () => {
    const events = lookup('', 'v1', 'events')!;
    expect(errorsOf(events, { metadata: { name: 'e', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'p', namespace: 'other' } })).toEqual([
      'involvedObject.namespace: Invalid value: "other": does not match event.namespace',
    ]);
  });
});

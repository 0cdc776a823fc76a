import { checkTypes, findUnknownFields } from '@kubets/api-machinery';
import { ALL_RESOURCES, EXTRA_KINDS, lookup } from './index';
import type { KObject } from './types';

const meta = (name: string, namespace?: string, extra: KObject = {}): KObject => ({
  name,
  ...(namespace ? { namespace } : {}),
  uid: '0b7c3f4e-2c1a-4f56-9d0e-6f1f7f2a9c11',
  resourceVersion: '12345',
  generation: 1,
  creationTimestamp: '2024-05-01T10:00:00Z',
  labels: { app: 'web', 'app.kubernetes.io/name': 'web' },
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
  ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6d4cf56db6', uid: '11111111-2222-3333-4444-555555555555', controller: true, blockOwnerDeletion: true }],
  finalizers: ['example.com/cleanup'],
  managedFields: [
    {
      manager: 'kubectl-client-side-apply',
      operation: 'Update',
      apiVersion: 'v1',
      time: '2024-05-01T10:00:00Z',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } },
    },
  ],
  ...extra,
});

const POD_SPEC: KObject = {
  volumes: [
    { name: 'kube-api-access-abcde', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }, { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } }], defaultMode: 420 } },
    { name: 'data', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
    { name: 'config', configMap: { name: 'web-config', defaultMode: 420, optional: true, items: [{ key: 'a', path: 'a.conf', mode: 256 }] } },
    { name: 'certs', secret: { secretName: 'web-tls', defaultMode: 420 } },
    { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
    { name: 'claim', persistentVolumeClaim: { claimName: 'web-data', readOnly: false } },
    { name: 'podinfo', downwardAPI: { items: [{ path: 'labels', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.labels' } }, { path: 'cpu', resourceFieldRef: { containerName: 'web', resource: 'limits.cpu', divisor: '1m' } }], defaultMode: 420 } },
  ],
  initContainers: [
    { name: 'init', image: 'busybox:1.36', command: ['sh', '-c', 'echo hi'], imagePullPolicy: 'IfNotPresent', resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' },
    { name: 'sidecar', image: 'envoy:v1', restartPolicy: 'Always', imagePullPolicy: 'IfNotPresent', resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' },
  ],
  containers: [
    {
      name: 'web',
      image: 'nginx:1.25',
      command: ['nginx'],
      args: ['-g', 'daemon off;'],
      workingDir: '/usr/share/nginx',
      ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 9090, hostPort: 9090, hostIP: '0.0.0.0', protocol: 'UDP' }],
      envFrom: [{ prefix: 'CFG_', configMapRef: { name: 'web-config', optional: true } }, { secretRef: { name: 'web-secret' } }],
      env: [
        { name: 'MODE', value: 'prod' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
        { name: 'CPU', valueFrom: { resourceFieldRef: { containerName: 'web', resource: 'limits.cpu', divisor: '1' } } },
        { name: 'KEY', valueFrom: { configMapKeyRef: { name: 'web-config', key: 'key', optional: false } } },
        { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'web-secret', key: 'password' } } },
      ],
      resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: 0.25, memory: '64Mi' } },
      volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true, subPath: '', mountPropagation: 'None' }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X-Probe', value: '1' }] }, initialDelaySeconds: 3, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
      readinessProbe: { tcpSocket: { port: 80 }, timeoutSeconds: 1, periodSeconds: 5, successThreshold: 1, failureThreshold: 3 },
      startupProbe: { grpc: { port: 9090, service: '' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 30 },
      lifecycle: { postStart: { exec: { command: ['true'] } }, preStop: { sleep: { seconds: 5 } } },
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'FallbackToLogsOnError',
      imagePullPolicy: 'IfNotPresent',
      securityContext: { capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, privileged: false, runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } },
      stdin: false,
      tty: false,
    },
  ],
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
  activeDeadlineSeconds: 3600,
  dnsPolicy: 'ClusterFirst',
  nodeSelector: { 'kubernetes.io/os': 'linux' },
  serviceAccountName: 'default',
  serviceAccount: 'default',
  automountServiceAccountToken: true,
  nodeName: 'node-1',
  hostNetwork: false,
  hostPID: false,
  hostIPC: false,
  securityContext: { runAsUser: 1000, fsGroup: 2000, supplementalGroups: [3000], sysctls: [{ name: 'net.ipv4.ip_forward', value: '1' }], seccompProfile: { type: 'RuntimeDefault' } },
  imagePullSecrets: [{ name: 'regcred' }],
  hostname: 'web-0',
  subdomain: 'web',
  affinity: {
    nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } },
    podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'web' } } } }] },
  },
  schedulerName: 'default-scheduler',
  tolerations: [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'dedicated', operator: 'Equal', value: 'web', effect: 'NoSchedule' },
  ],
  hostAliases: [{ ip: '127.0.0.1', hostnames: ['foo.local'] }],
  priorityClassName: 'high',
  priority: 1000,
  dnsConfig: { nameservers: ['1.1.1.1'], searches: ['svc.local'], options: [{ name: 'ndots', value: '2' }] },
  readinessGates: [{ conditionType: 'example.com/ready' }],
  runtimeClassName: 'runc',
  enableServiceLinks: true,
  preemptionPolicy: 'PreemptLowerPriority',
  overhead: { cpu: '10m' },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { app: 'web' } }, matchLabelKeys: ['pod-template-hash'] }],
  setHostnameAsFQDN: false,
  os: { name: 'linux' },
  schedulingGates: [{ name: 'example.com/gate' }],
};

const { activeDeadlineSeconds: _ads, nodeName: _nn, schedulingGates: _sg, ...TEMPLATE_SPEC } = POD_SPEC;
const TEMPLATE = { metadata: { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': '2024-05-01T10:00:00Z' } }, spec: TEMPLATE_SPEC };

export const FULL_OBJECTS: Record<string, KObject> = {
  namespaces: {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: meta('web'),
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active', conditions: [{ type: 'NamespaceDeletionDiscoveryFailure', status: 'False', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' }] },
  },
  pods: {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta('web-6d4cf56db6-x7k2p', 'default', { generateName: 'web-6d4cf56db6-' }),
    spec: POD_SPEC,
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:02Z' },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:03Z' },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:05Z' },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:05Z' },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:00Z' },
      ],
      message: '',
      reason: '',
      hostIP: '10.0.0.11',
      hostIPs: [{ ip: '10.0.0.11' }],
      podIP: '10.244.1.7',
      podIPs: [{ ip: '10.244.1.7' }],
      startTime: '2024-05-01T10:00:00Z',
      nominatedNodeName: '',
      initContainerStatuses: [
        { name: 'init', state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: '2024-05-01T10:00:01Z', finishedAt: '2024-05-01T10:00:02Z', containerID: 'containerd://aaa' } }, lastState: {}, ready: true, restartCount: 0, image: 'docker.io/library/busybox:1.36', imageID: 'docker.io/library/busybox@sha256:abc', containerID: 'containerd://aaa', started: false },
      ],
      containerStatuses: [
        {
          name: 'web',
          state: { running: { startedAt: '2024-05-01T10:00:04Z' } },
          lastState: { terminated: { exitCode: 137, signal: 9, reason: 'OOMKilled', message: '', startedAt: '2024-05-01T09:00:00Z', finishedAt: '2024-05-01T09:59:00Z', containerID: 'containerd://old' } },
          ready: true,
          restartCount: 1,
          image: 'docker.io/library/nginx:1.25',
          imageID: 'docker.io/library/nginx@sha256:def',
          containerID: 'containerd://bbb',
          started: true,
          allocatedResources: { cpu: '250m' },
          resources: { limits: { cpu: '500m' } },
          volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: false, recursiveReadOnly: 'Disabled' }],
        },
      ],
      qosClass: 'Burstable',
    },
  },
  services: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta('web', 'default'),
    spec: {
      ports: [{ name: 'http', protocol: 'TCP', appProtocol: 'http', port: 80, targetPort: 'http', nodePort: 30080 }, { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 9090, nodePort: 30090 }],
      selector: { app: 'web' },
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      type: 'LoadBalancer',
      externalIPs: ['192.0.2.10'],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } },
      loadBalancerIP: '192.0.2.20',
      loadBalancerSourceRanges: ['0.0.0.0/0'],
      externalTrafficPolicy: 'Local',
      healthCheckNodePort: 31000,
      publishNotReadyAddresses: false,
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      allocateLoadBalancerNodePorts: true,
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: { ingress: [{ ip: '192.0.2.20', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }] }, conditions: [{ type: 'LoadBalancerReady', status: 'True', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'Ready', message: '' }] },
  },
  endpoints: {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: meta('web', 'default'),
    subsets: [
      {
        addresses: [{ ip: '10.244.1.7', hostname: 'web-0', nodeName: 'node-1', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: 'u1', resourceVersion: '1' } }],
        notReadyAddresses: [{ ip: '10.244.2.8', nodeName: 'node-2', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-1', uid: 'u2' } }],
        ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }],
      },
    ],
  },
  nodes: {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: meta('node-1', undefined, { labels: { 'kubernetes.io/hostname': 'node-1', 'node-role.kubernetes.io/control-plane': '' } }),
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'], providerID: 'kubets://node-1', unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: '2024-05-01T10:00:00Z' }] },
    status: {
      capacity: { cpu: '4', memory: '8145440Ki', pods: '110', 'ephemeral-storage': '61255492Ki', 'hugepages-2Mi': '0' },
      allocatable: { cpu: '4', memory: '8043040Ki', pods: '110' },
      conditions: [
        { type: 'MemoryPressure', status: 'False', lastHeartbeatTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
        { type: 'Ready', status: 'True', lastHeartbeatTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
      ],
      addresses: [{ type: 'InternalIP', address: '10.0.0.11' }, { type: 'Hostname', address: 'node-1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1.0-18-amd64', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://1.7.13', kubeletVersion: 'v1.32.0', kubeProxyVersion: '', operatingSystem: 'linux', architecture: 'amd64', swap: { capacity: 0 } },
      images: [{ names: ['docker.io/library/nginx@sha256:def', 'docker.io/library/nginx:1.25'], sizeBytes: 70000000 }],
      volumesInUse: ['kubernetes.io/csi/x'],
      volumesAttached: [{ name: 'kubernetes.io/csi/x', devicePath: '' }],
      runtimeHandlers: [{ name: 'runc', features: { recursiveReadOnlyMounts: true, userNamespaces: false } }],
      features: { supplementalGroupsPolicy: true },
    },
  },
  configmaps: { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('web-config', 'default'), data: { key: 'value', 'app.conf': 'a=1\n' }, binaryData: { 'logo.png': 'iVBORw0KGgo=' }, immutable: false },
  secrets: { apiVersion: 'v1', kind: 'Secret', metadata: meta('web-tls', 'default'), type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' }, immutable: true },
  events: {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: meta('web-0.17c1a2b3c4d5e6f7', 'default'),
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: 'u1', apiVersion: 'v1', resourceVersion: '100', fieldPath: 'spec.containers{web}' },
    reason: 'Pulled',
    message: 'Container image "nginx:1.25" already present on machine',
    source: { component: 'kubelet', host: 'node-1' },
    firstTimestamp: '2024-05-01T10:00:00Z',
    lastTimestamp: '2024-05-01T10:05:00Z',
    count: 3,
    type: 'Normal',
    eventTime: null,
    series: { count: 3, lastObservedTime: '2024-05-01T10:05:00.123456Z' },
    action: 'Pulling',
    related: { kind: 'Node', name: 'node-1' },
    reportingComponent: 'kubelet',
    reportingInstance: 'node-1',
  },
  serviceaccounts: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('builder', 'default'), secrets: [{ name: 'builder-token' }], imagePullSecrets: [{ name: 'regcred' }], automountServiceAccountToken: false },
  deployments: {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web', 'default', { annotations: { 'deployment.kubernetes.io/revision': '2' } }),
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] },
      template: TEMPLATE,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } },
      minReadySeconds: 5,
      revisionHistoryLimit: 10,
      paused: false,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 2,
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 2,
      availableReplicas: 2,
      unavailableReplicas: 1,
      conditions: [
        { type: 'Available', status: 'False', lastUpdateTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', lastUpdateTime: '2024-05-01T10:00:00Z', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'NewReplicaSetAvailable', message: 'ReplicaSet "web-6d4cf56db6" has successfully progressed.' },
      ],
      collisionCount: 0,
    },
  },
  replicasets: {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: meta('web-6d4cf56db6', 'default'),
    spec: { replicas: 3, minReadySeconds: 0, selector: { matchLabels: { app: 'web', 'pod-template-hash': '6d4cf56db6' } }, template: { ...TEMPLATE, metadata: { labels: { app: 'web', 'pod-template-hash': '6d4cf56db6' } } } },
    status: { replicas: 3, fullyLabeledReplicas: 3, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1, conditions: [{ type: 'ReplicaFailure', status: 'False', lastTransitionTime: '2024-05-01T10:00:00Z', reason: 'x', message: 'y' }] },
  },
  daemonsets: {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta('agent', 'kube-system'),
    spec: { selector: { matchLabels: { app: 'web' } }, template: TEMPLATE, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, minReadySeconds: 0, revisionHistoryLimit: 10 },
    status: { currentNumberScheduled: 2, numberMisscheduled: 0, desiredNumberScheduled: 2, numberReady: 2, observedGeneration: 1, updatedNumberScheduled: 2, numberAvailable: 2, numberUnavailable: 0, collisionCount: 0 },
  },
  leases: {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: meta('node-1', 'kube-node-lease'),
    spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, acquireTime: '2024-05-01T10:00:00.000000Z', renewTime: '2024-05-01T10:05:00.123456Z', leaseTransitions: 0 },
  },
  endpointslices: {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta('web-abc12', 'default', { labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } }),
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['10.244.1.7'], conditions: { ready: true, serving: true, terminating: false }, hostname: 'web-0', nodeName: 'node-1', zone: 'zone-a', targetRef: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: 'u1' }, hints: { forZones: [{ name: 'zone-a' }] } },
    ],
    ports: [{ name: 'http', protocol: 'TCP', port: 80, appProtocol: 'http' }],
  },
};

describe('schemas', () => {
  it('has a full example for every resource', () => {
    expect(Object.keys(FULL_OBJECTS).sort()).toEqual(ALL_RESOURCES.map((d) => d.resource).sort());
  });

  for (const def of ALL_RESOURCES) {
    it(`${def.resource}: a full realistic ${def.kind} has no unknown fields and passes the type checks`, () => {
      const o = FULL_OBJECTS[def.resource]!;
      expect(o.kind).toBe(def.kind);
      expect(findUnknownFields(o, def.schema)).toEqual([]);
      expect(checkTypes(o, def.schema)).toEqual([]);
    });

    it(`${def.resource}: the full example passes the type's own validation`, () => {
      expect(def.validate(structuredClone(FULL_OBJECTS[def.resource]!))).toEqual([]);
    });
  }

  it('reports misspelled fields with their path', () => {
    const pod = structuredClone(FULL_OBJECTS.pods!);
    pod.spec.containers[0].imagee = 'x';
    pod.spec.containers[0].ports[0].containerport = 80;
    expect(findUnknownFields(pod, lookup('', 'v1', 'pods')!.schema).sort()).toEqual([
      'unknown field "spec.containers[0].imagee"',
      'unknown field "spec.containers[0].ports[0].containerport"',
    ]);
  });

  it('describes list merge keys and strategies the way strategic merge patch needs them', () => {
    const pod = lookup('', 'v1', 'pods')!.schema;
    const spec = pod.properties.spec as KObject;
    expect(spec.properties.containers).toMatchObject({ type: 'array', patchStrategy: 'merge', mergeKey: 'name' });
    expect(spec.properties.volumes).toMatchObject({ patchStrategy: 'merge,retainKeys', mergeKey: 'name' });
    const container = spec.properties.containers.items;
    expect(container.properties.ports).toMatchObject({ patchStrategy: 'merge', mergeKey: 'containerPort' });
    expect(container.properties.env).toMatchObject({ patchStrategy: 'merge', mergeKey: 'name' });
    expect(container.properties.volumeMounts).toMatchObject({ patchStrategy: 'merge', mergeKey: 'mountPath' });
    expect(container.properties.command).toMatchObject({ listType: 'atomic' });
    expect(container.required).toEqual(['name']);
    const status = pod.properties.status as KObject;
    expect(status.properties.conditions).toMatchObject({ patchStrategy: 'merge', mergeKey: 'type' });
    const deploy = lookup('apps', 'v1', 'deployments')!.schema.properties.spec as KObject;
    expect(deploy.properties.strategy).toMatchObject({ patchStrategy: 'retainKeys' });
    expect(deploy.required).toEqual(['selector', 'template']);
    const svc = lookup('', 'v1', 'services')!.schema.properties.spec as KObject;
    expect(svc.properties.ports).toMatchObject({ patchStrategy: 'merge', mergeKey: 'port' });
    expect(svc.properties.ports.items.properties.targetPort).toEqual(expect.objectContaining({ type: 'int-or-string' }));
    const node = lookup('', 'v1', 'nodes')!.schema.properties.status as KObject;
    expect(node.properties.addresses).toMatchObject({ patchStrategy: 'merge', mergeKey: 'type' });
    expect(node.properties.conditions).toMatchObject({ patchStrategy: 'merge', mergeKey: 'type' });
    const metaSchema = pod.properties.metadata as KObject;
    expect(metaSchema.properties.ownerReferences).toMatchObject({ patchStrategy: 'merge', mergeKey: 'uid' });
    expect(metaSchema.properties.finalizers).toMatchObject({ patchStrategy: 'merge' });
  });

  it('reports wrong types and missing required fields', () => {
    const def = lookup('apps', 'v1', 'deployments')!;
    const d = structuredClone(FULL_OBJECTS.deployments!);
    d.spec.replicas = 'three';
    delete d.spec.template.spec.containers[0].name;
    const causes = checkTypes(d, def.schema);
    expect(causes.map((c) => `${c.field}: ${c.message}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^spec\.replicas: Invalid value: "string": spec\.replicas in body must be of type integer/),
        'spec.template.spec.containers[0].name: Required value',
      ]),
    );
  });

  it('has schemas for the subresource kinds', () => {
    expect(EXTRA_KINDS.map((k) => k.kind)).toEqual(expect.arrayContaining(['Binding', 'Scale', 'Eviction', 'PodExecOptions']));
    const scale = EXTRA_KINDS.find((k) => k.kind === 'Scale')!;
    expect(findUnknownFields({ apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 5 }, status: { replicas: 3, selector: 'app=web' } }, scale.schema)).toEqual([]);
  });
});

import { imageTag } from './defaults';
import { lookup } from './index';
import type { KObject } from './types';

const def = (group: string, resource: string) => lookup(group, 'v1', resource)!;

function defaulted(group: string, resource: string, obj: KObject): KObject {
  const o = structuredClone(obj);
  def(group, resource).defaults(o);
  return o;
}

// What `kubectl get -o yaml` shows on a real cluster for the template part of
// `kubectl create deployment web --image=nginx` (containers[] and spec).
const DEFAULTED_TEMPLATE_SPEC = {
  containers: [
    {
      image: 'nginx',
      imagePullPolicy: 'Always',
      name: 'nginx',
      resources: {},
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
    },
  ],
  dnsPolicy: 'ClusterFirst',
  restartPolicy: 'Always',
  schedulerName: 'default-scheduler',
  securityContext: {},
  terminationGracePeriodSeconds: 30,
};

describe('defaults', () => {
  it('image pull policy follows the tag', () => {
    expect(imageTag('nginx')).toBe('latest');
    expect(imageTag('nginx:latest')).toBe('latest');
    expect(imageTag('nginx:1.25')).toBe('1.25');
    expect(imageTag('localhost:5000/app')).toBe('latest');
    expect(imageTag('localhost:5000/app:v2')).toBe('v2');
    expect(imageTag('nginx@sha256:0123')).toBe('');
    expect(imageTag('nginx:1.25@sha256:0123')).toBe('1.25');
    const pod = (image: string) => defaulted('', 'pods', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image }] } }).spec.containers[0].imagePullPolicy;
    expect(pod('nginx')).toBe('Always');
    expect(pod('nginx:latest')).toBe('Always');
    expect(pod('nginx:1.25')).toBe('IfNotPresent');
    expect(pod('nginx@sha256:0123')).toBe('IfNotPresent');
  });

  it('a minimal Deployment gets what kubectl get -o yaml shows', () => {
    const d = defaulted('apps', 'deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } },
      },
    });
    expect(d.spec).toEqual({
      progressDeadlineSeconds: 600,
      replicas: 1,
      revisionHistoryLimit: 10,
      selector: { matchLabels: { app: 'web' } },
      strategy: { rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' }, type: 'RollingUpdate' },
      template: { metadata: { labels: { app: 'web' } }, spec: DEFAULTED_TEMPLATE_SPEC },
    });
    // Labels are never defaulted from the template in apps/v1.
    expect(d.metadata).toEqual({ name: 'web', labels: { app: 'web' } });
    expect(def('apps', 'deployments').validate(d)).toEqual([]);
  });

  it('Recreate deployments get no rollingUpdate', () => {
    const d = defaulted('apps', 'deployments', { spec: { strategy: { type: 'Recreate' }, template: { spec: { containers: [] } } } });
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
  });

  it('a minimal Pod gets the defaults and the admission plugins\' mutations', () => {
    const p = defaulted('', 'pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nginx', labels: { run: 'nginx' } },
      spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: { limits: { cpu: '1' } } }] },
    });
    expect(p.spec).toEqual({
      containers: [
        {
          image: 'nginx',
          imagePullPolicy: 'Always',
          name: 'nginx',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          resources: { limits: { cpu: '1' }, requests: { cpu: '1' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: {},
      serviceAccount: 'default',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      tolerations: [
        { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
        { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
      ],
    });
    expect(def('', 'pods').validate(p)).toEqual([]);
  });

  it('pod defaulting is idempotent and keeps explicit values', () => {
    const p = defaulted('', 'pods', {
      metadata: { name: 'p' },
      spec: {
        serviceAccountName: 'builder',
        restartPolicy: 'Never',
        priorityClassName: 'system-node-critical',
        tolerations: [{ operator: 'Exists' }],
        containers: [
          {
            name: 'c',
            image: 'busybox:1.36',
            env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            livenessProbe: { httpGet: { port: 8080 } },
            readinessProbe: { exec: { command: ['true'] }, periodSeconds: 3 },
          },
        ],
        volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'cfg' } }, { name: 's', secret: { secretName: 's' } }],
      },
    });
    const c = p.spec.containers[0];
    expect(c.env[0].valueFrom.fieldRef).toEqual({ apiVersion: 'v1', fieldPath: 'spec.nodeName' });
    expect(c.livenessProbe).toEqual({ httpGet: { path: '/', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(c.readinessProbe).toEqual({ exec: { command: ['true'] }, timeoutSeconds: 1, periodSeconds: 3, successThreshold: 1, failureThreshold: 3 });
    expect(p.spec.volumes).toEqual([
      { name: 'scratch', emptyDir: {} },
      { name: 'cfg', configMap: { name: 'cfg', defaultMode: 420 } },
      { name: 's', secret: { secretName: 's', defaultMode: 420 } },
    ]);
    expect(p.spec.serviceAccount).toBe('builder');
    expect(p.spec.restartPolicy).toBe('Never');
    expect(p.spec.priority).toBe(2000001000);
    // A toleration that tolerates everything covers the default ones.
    expect(p.spec.tolerations).toEqual([{ operator: 'Exists' }]);
    const again = structuredClone(p);
    def('', 'pods').defaults(again);
    expect(again).toEqual(p);
  });

  it('a minimal Service gets what kubectl get -o yaml shows', () => {
    const s = defaulted('', 'services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80 }] },
    });
    expect(s.spec).toEqual({
      internalTrafficPolicy: 'Cluster',
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      selector: { app: 'web' },
      sessionAffinity: 'None',
      type: 'ClusterIP',
    });
    expect(s.status).toEqual({ loadBalancer: {} });
  });

  it('NodePort and LoadBalancer services get an external traffic policy', () => {
    const np = defaulted('', 'services', { spec: { type: 'NodePort', ports: [{ port: 80, targetPort: 'http' }] } });
    expect(np.spec.externalTrafficPolicy).toBe('Cluster');
    expect(np.spec.ports[0].targetPort).toBe('http');
    const lb = defaulted('', 'services', { spec: { type: 'LoadBalancer', ports: [{ port: 80 }], sessionAffinity: 'ClientIP' } });
    expect(lb.spec.allocateLoadBalancerNodePorts).toBe(true);
    expect(lb.spec.sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
    const en = defaulted('', 'services', { spec: { type: 'ExternalName', externalName: 'example.com' } });
    expect(en.spec).toEqual({ type: 'ExternalName', externalName: 'example.com', sessionAffinity: 'None' });
  });

  it('ReplicaSets and DaemonSets', () => {
    const rs = defaulted('apps', 'replicasets', { spec: { template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } } });
    expect(rs.spec.replicas).toBe(1);
    expect(rs.spec.template.spec.dnsPolicy).toBe('ClusterFirst');
    const ds = defaulted('apps', 'daemonsets', { spec: { template: { spec: { containers: [{ name: 'c', image: 'i:1' }] } } } });
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(ds.spec.revisionHistoryLimit).toBe(10);
    expect(ds.spec.template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });

  it('namespaces get the kubernetes finalizer, phase Active and the name label once', () => {
    const ns = defaulted('', 'namespaces', { metadata: { name: 'team-a' } });
    expect(ns).toEqual({ metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a' } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
    // Later updates (e.g. the namespace controller removing the finalizer via /finalize) keep what they set.
    const finalized = { ...ns, spec: { finalizers: [] }, status: { phase: 'Terminating' } };
    def('', 'namespaces').defaults(finalized);
    expect(finalized.spec.finalizers).toEqual([]);
  });

  it('secrets: type Opaque, stringData folded into data', () => {
    const s = defaulted('', 'secrets', { metadata: { name: 's' }, data: { a: 'eA==' }, stringData: { b: 'hello' } });
    expect(s).toEqual({ metadata: { name: 's' }, type: 'Opaque', data: { a: 'eA==', b: 'aGVsbG8=' } });
  });

  it('nodes: allocatable defaults to capacity; podCIDR mirrors podCIDRs', () => {
    const n = defaulted('', 'nodes', { metadata: { name: 'n' }, spec: { podCIDR: '10.244.0.0/24' }, status: { capacity: { cpu: '2', pods: '110' } } });
    expect(n.status.allocatable).toEqual({ cpu: '2', pods: '110' });
    expect(n.spec.podCIDRs).toEqual(['10.244.0.0/24']);
  });

  it('endpoint slices and endpoints: port name and protocol', () => {
    const es = defaulted('discovery.k8s.io', 'endpointslices', { addressType: 'IPv4', endpoints: [], ports: [{ port: 80 }] });
    expect(es.ports).toEqual([{ name: '', port: 80, protocol: 'TCP' }]);
    const ep = defaulted('', 'endpoints', { subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] });
    expect(ep.subsets[0].ports).toEqual([{ port: 80, protocol: 'TCP' }]);
  });
});

import { ALL_RESOURCES, DEFAULT_TABLE, lookup } from './index';
import type { KObject } from './types';

const NOW = Date.parse('2024-05-01T12:00:00Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();
const MIN = 60_000;
const HOUR = 60 * MIN;

const rowOf = (group: string, resource: string, obj: KObject) => lookup(group, 'v1', resource)!.table.row(obj, NOW);
const header = (group: string, resource: string) => lookup(group, 'v1', resource)!.table.columns.map((c) => `${c.name}${c.priority ? '*' : ''}`);

describe('tables', () => {
  it('every table has a name-format column and as many cells as columns', () => {
    for (const def of ALL_RESOURCES) {
      expect(def.table.columns.filter((c) => c.format === 'name')).toHaveLength(1);
      const row = def.table.row({ metadata: { name: 'x', creationTimestamp: ago(5 * MIN) } }, NOW);
      expect(row).toHaveLength(def.table.columns.length);
      for (const c of def.table.columns) expect(c.description.length).toBeGreaterThan(0);
    }
    expect(DEFAULT_TABLE.row({ metadata: { name: 'x' } }, NOW)).toEqual(['x', '<unknown>']);
  });

  describe('pods', () => {
    it('columns', () => {
      expect(header('', 'pods')).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP*', 'Node*', 'Nominated Node*', 'Readiness Gates*']);
    });

    it('CrashLoopBackOff with restarts and the last restart time', () => {
      const pod = {
        metadata: { name: 'web-1', creationTimestamp: ago(2 * HOUR) },
        spec: { nodeName: 'node-1', containers: [{ name: 'web' }] },
        status: {
          phase: 'Running',
          podIPs: [{ ip: '10.244.1.7' }],
          conditions: [{ type: 'Ready', status: 'False' }],
          containerStatuses: [
            {
              name: 'web',
              ready: false,
              restartCount: 5,
              state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 2m40s restarting failed container' } },
              lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: ago(5 * MIN) } },
            },
          ],
        },
      };
      expect(rowOf('', 'pods', pod)).toEqual(['web-1', '0/1', 'CrashLoopBackOff', '5 (5m ago)', '120m', '10.244.1.7', 'node-1', '<none>', '<none>']);
    });

    it('pending, container creating, running, completed and terminating pods', () => {
      const base = { metadata: { name: 'p', creationTimestamp: ago(30_000) }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } };
      expect(rowOf('', 'pods', { ...base, status: { phase: 'Pending' } }).slice(0, 4)).toEqual(['p', '0/2', 'Pending', '0']);
      expect(
        rowOf('', 'pods', {
          ...base,
          status: { phase: 'Pending', containerStatuses: [{ name: 'a', state: { waiting: { reason: 'ContainerCreating' } } }, { name: 'b', state: { waiting: { reason: 'ContainerCreating' } } }] },
        }).slice(0, 5),
      ).toEqual(['p', '0/2', 'ContainerCreating', '0', '30s']);
      expect(
        rowOf('', 'pods', {
          ...base,
          status: { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }, { name: 'b', ready: true, state: { running: {} } }] },
        }).slice(0, 3),
      ).toEqual(['p', '2/2', 'Running']);
      expect(
        rowOf('', 'pods', {
          ...base,
          status: { phase: 'Succeeded', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }, { name: 'b', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] },
        }).slice(0, 3),
      ).toEqual(['p', '0/2', 'Completed']);
      expect(
        rowOf('', 'pods', {
          ...base,
          metadata: { ...base.metadata, deletionTimestamp: ago(0) },
          status: { phase: 'Running', containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }, { name: 'b', ready: true, state: { running: {} } }] },
        }).slice(0, 3),
      ).toEqual(['p', '2/2', 'Terminating']);
      expect(
        rowOf('', 'pods', { ...base, status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } }).slice(0, 3),
      ).toEqual(['p', '0/2', 'Evicted']);
      expect(
        rowOf('', 'pods', { ...base, status: { phase: 'Running', containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 2 } } }, { name: 'b', ready: true, state: { running: {} } }] } }).slice(0, 3),
      ).toEqual(['p', '1/2', 'ExitCode:2']);
    });

    it('init containers and sidecars', () => {
      const pod = {
        metadata: { name: 'p', creationTimestamp: ago(MIN) },
        spec: { initContainers: [{ name: 'i1' }, { name: 'i2' }], containers: [{ name: 'a' }] },
        status: {
          phase: 'Pending',
          initContainerStatuses: [
            { name: 'i1', state: { terminated: { exitCode: 0, reason: 'Completed' } } },
            { name: 'i2', state: { running: {} } },
          ],
          containerStatuses: [{ name: 'a', state: { waiting: { reason: 'PodInitializing' } } }],
        },
      };
      expect(rowOf('', 'pods', pod).slice(0, 3)).toEqual(['p', '0/1', 'Init:1/2']);
      pod.status.initContainerStatuses[1] = { name: 'i2', state: { waiting: { reason: 'CrashLoopBackOff' } } } as never;
      expect(rowOf('', 'pods', pod)[2]).toBe('Init:CrashLoopBackOff');
      pod.status.initContainerStatuses[1] = { name: 'i2', state: { terminated: { exitCode: 3 } } } as never;
      expect(rowOf('', 'pods', pod)[2]).toBe('Init:ExitCode:3');

      const sidecar = {
        metadata: { name: 's', creationTimestamp: ago(MIN) },
        spec: { initContainers: [{ name: 'proxy', restartPolicy: 'Always' }], containers: [{ name: 'a' }], readinessGates: [{ conditionType: 'x/ready' }] },
        status: {
          phase: 'Running',
          conditions: [{ type: 'Initialized', status: 'True' }, { type: 'x/ready', status: 'True' }],
          initContainerStatuses: [{ name: 'proxy', started: true, ready: true, restartCount: 1, state: { running: {} } }],
          containerStatuses: [{ name: 'a', ready: true, restartCount: 2, state: { running: {} } }],
        },
      };
      expect(rowOf('', 'pods', sidecar)).toEqual(['s', '2/2', 'Running', '3', '60s', '<none>', '<none>', '<none>', '1/1']);
    });
  });

  it('deployments: READY 2/3', () => {
    expect(header('apps', 'deployments')).toEqual(['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers*', 'Images*', 'Selector*']);
    const d = {
      metadata: { name: 'web', creationTimestamp: ago(3 * 24 * HOUR + 4 * HOUR) },
      spec: { replicas: 3, selector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }] }, template: { spec: { containers: [{ name: 'web', image: 'nginx:1.25' }, { name: 'log', image: 'busybox' }] } } },
      status: { replicas: 3, updatedReplicas: 3, readyReplicas: 2, availableReplicas: 2 },
    };
    expect(rowOf('apps', 'deployments', d)).toEqual(['web', '2/3', 3, 2, '3d4h', 'web,log', 'nginx:1.25,busybox', 'app=web,tier in (a,b)']);
  });

  it('replicasets and daemonsets', () => {
    expect(header('apps', 'replicasets')).toEqual(['Name', 'Desired', 'Current', 'Ready', 'Age', 'Containers*', 'Images*', 'Selector*']);
    expect(
      rowOf('apps', 'replicasets', { metadata: { name: 'web-1' }, spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'nginx' }] } } }, status: { replicas: 3, readyReplicas: 1 } }),
    ).toEqual(['web-1', 3, 3, 1, '<unknown>', 'web', 'nginx', 'app=web']);
    expect(header('apps', 'daemonsets')).toEqual(['Name', 'Desired', 'Current', 'Ready', 'Up-to-date', 'Available', 'Node Selector', 'Age', 'Containers*', 'Images*', 'Selector*']);
    expect(
      rowOf('apps', 'daemonsets', {
        metadata: { name: 'agent', creationTimestamp: ago(10 * MIN) },
        spec: { selector: { matchLabels: { app: 'agent' } }, template: { spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'a', image: 'agent:1' }] } } },
        status: { desiredNumberScheduled: 3, currentNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3, numberAvailable: 2 },
      }),
    ).toEqual(['agent', 3, 3, 2, 3, 2, 'kubernetes.io/os=linux', '10m', 'a', 'agent:1', 'app=agent']);
  });

  it('services: NodePort, ClusterIP, LoadBalancer pending, ExternalName', () => {
    expect(header('', 'services')).toEqual(['Name', 'Type', 'Cluster-IP', 'External-IP', 'Port(s)', 'Age', 'Selector*']);
    const np = {
      metadata: { name: 'web', creationTimestamp: ago(45_000) },
      spec: { type: 'NodePort', clusterIP: '10.96.12.34', clusterIPs: ['10.96.12.34'], selector: { app: 'web' }, ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 53, protocol: 'UDP', nodePort: 30053 }] },
    };
    expect(rowOf('', 'services', np)).toEqual(['web', 'NodePort', '10.96.12.34', '<none>', '80:30080/TCP,53:30053/UDP', '45s', 'app=web']);
    expect(rowOf('', 'services', { metadata: { name: 'k' }, spec: { type: 'ClusterIP', clusterIPs: ['10.96.0.1'], ports: [{ port: 443, protocol: 'TCP' }] } })).toEqual([
      'k',
      'ClusterIP',
      '10.96.0.1',
      '<none>',
      '443/TCP',
      '<unknown>',
      '<none>',
    ]);
    expect(rowOf('', 'services', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', clusterIPs: ['10.96.0.2'], ports: [{ port: 80, protocol: 'TCP', nodePort: 31000 }] } })[3]).toBe('<pending>');
    expect(rowOf('', 'services', { metadata: { name: 'lb' }, spec: { type: 'LoadBalancer', ports: [] }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }, { hostname: 'lb.example.com' }] } } }).slice(2, 5)).toEqual([
      '<none>',
      '192.0.2.1,lb.example.com',
      '<none>',
    ]);
    expect(rowOf('', 'services', { metadata: { name: 'db' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } }).slice(1, 5)).toEqual(['ExternalName', '<none>', 'db.example.com', '<none>']);
  });

  it('endpoints and endpoint slices', () => {
    const ep = {
      metadata: { name: 'web' },
      subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: 'fd00::3' }, { ip: '10.0.0.4' }], ports: [{ port: 80 }] }],
    };
    expect(rowOf('', 'endpoints', ep)).toEqual(['web', '10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 1 more...', '<unknown>']);
    expect(rowOf('', 'endpoints', { metadata: { name: 'none' } })[1]).toBe('<none>');
    expect(rowOf('', 'endpoints', { metadata: { name: 'headless' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }] }] })[1]).toBe('10.0.0.1');
    expect(
      rowOf('discovery.k8s.io', 'endpointslices', { metadata: { name: 'web-abc' }, addressType: 'IPv4', ports: [{ name: 'http', port: 80 }, { name: 'x' }], endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2', '10.0.0.3', '10.0.0.4'] }] }),
    ).toEqual(['web-abc', 'IPv4', '80,x', '10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...', '<unknown>']);
    expect(rowOf('discovery.k8s.io', 'endpointslices', { metadata: { name: 'e' }, addressType: 'IPv4' }).slice(2, 4)).toEqual(['<unset>', '<unset>']);
  });

  it('nodes: NotReady,SchedulingDisabled and roles', () => {
    expect(header('', 'nodes')).toEqual(['Name', 'Status', 'Roles', 'Age', 'Version', 'Internal-IP*', 'External-IP*', 'OS-Image*', 'Kernel-Version*', 'Container-Runtime*']);
    const node = {
      metadata: { name: 'node-1', creationTimestamp: ago(9 * 24 * HOUR), labels: { 'node-role.kubernetes.io/control-plane': '', 'node-role.kubernetes.io/worker': '', 'kubernetes.io/hostname': 'node-1' } },
      spec: { unschedulable: true },
      status: {
        conditions: [{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'False' }],
        addresses: [{ type: 'InternalIP', address: '10.0.0.11' }, { type: 'Hostname', address: 'node-1' }],
        nodeInfo: { kubeletVersion: 'v1.32.0', osImage: 'Debian GNU/Linux 12 (bookworm)', kernelVersion: '6.1.0-18-amd64', containerRuntimeVersion: 'containerd://1.7.13' },
      },
    };
    expect(rowOf('', 'nodes', node)).toEqual([
      'node-1',
      'NotReady,SchedulingDisabled',
      'control-plane,worker',
      '9d',
      'v1.32.0',
      '10.0.0.11',
      '<none>',
      'Debian GNU/Linux 12 (bookworm)',
      '6.1.0-18-amd64',
      'containerd://1.7.13',
    ]);
    expect(rowOf('', 'nodes', { metadata: { name: 'n' }, status: {} }).slice(1, 3)).toEqual(['Unknown', '<none>']);
    expect(rowOf('', 'nodes', { metadata: { name: 'n' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } })[1]).toBe('Ready');
    expect(rowOf('', 'nodes', { metadata: { name: 'n' } }).slice(7)).toEqual(['<unknown>', '<unknown>', '<unknown>']);
  });

  it('events', () => {
    expect(header('', 'events')).toEqual(['Last Seen', 'Type', 'Reason', 'Object', 'Subobject*', 'Source*', 'Message', 'First Seen*', 'Count*', 'Name*']);
    const ev = {
      metadata: { name: 'web-1.17c1', namespace: 'default' },
      involvedObject: { kind: 'Pod', name: 'web-1', namespace: 'default', fieldPath: 'spec.containers{web}' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container web in pod web-1_default(uid)\n',
      source: { component: 'kubelet', host: 'node-1' },
      firstTimestamp: ago(20 * MIN),
      lastTimestamp: ago(90_000),
      count: 7,
      type: 'Warning',
    };
    expect(rowOf('', 'events', ev)).toEqual([
      '90s',
      'Warning',
      'BackOff',
      'pod/web-1',
      'spec.containers{web}',
      'kubelet, node-1',
      'Back-off restarting failed container web in pod web-1_default(uid)',
      '20m',
      7,
      'web-1.17c1',
    ]);
    // New-style events: eventTime, series, reportingComponent.
    const ev2 = {
      metadata: { name: 'e2' },
      involvedObject: { kind: 'Node' },
      eventTime: ago(3 * MIN),
      series: { count: 4, lastObservedTime: ago(MIN) },
      reportingComponent: 'kube-scheduler',
      type: 'Normal',
      reason: 'Scheduled',
      message: 'ok',
    };
    expect(rowOf('', 'events', ev2)).toEqual(['60s', 'Normal', 'Scheduled', 'node', '', 'kube-scheduler', 'ok', '3m', 4, 'e2']);
    expect(rowOf('', 'events', { metadata: { name: 'e3' }, involvedObject: { kind: 'Pod', name: 'p' }, firstTimestamp: ago(MIN) })[0]).toBe('60s');
    expect(rowOf('', 'events', { metadata: { name: 'e3' }, involvedObject: { kind: 'Pod', name: 'p' } })[8]).toBe(1);
  });

  it('namespaces, configmaps, secrets, serviceaccounts, leases', () => {
    const created = { creationTimestamp: ago(5 * 24 * HOUR) };
    expect(rowOf('', 'namespaces', { metadata: { name: 'default', ...created }, status: { phase: 'Active' } })).toEqual(['default', 'Active', '5d']);
    expect(rowOf('', 'configmaps', { metadata: { name: 'cm', ...created }, data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } })).toEqual(['cm', 3, '5d']);
    expect(header('', 'secrets')).toEqual(['Name', 'Type', 'Data', 'Age']);
    expect(rowOf('', 'secrets', { metadata: { name: 's', ...created }, type: 'Opaque', data: { a: 'YQ==' } })).toEqual(['s', 'Opaque', 1, '5d']);
    expect(rowOf('', 'serviceaccounts', { metadata: { name: 'default', ...created } })).toEqual(['default', 0, '5d']);
    expect(rowOf('coordination.k8s.io', 'leases', { metadata: { name: 'node-1', ...created }, spec: { holderIdentity: 'node-1' } })).toEqual(['node-1', 'node-1', '5d']);
  });
});

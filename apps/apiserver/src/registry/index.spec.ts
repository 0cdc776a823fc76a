import { ALL_RESOURCES, byKind, groupVersions, lookup, schemaFor } from './index';

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

describe('registry', () => {
  it('finds resources by group/version/resource and by kind', () => {
    expect(lookup('', 'v1', 'pods')?.kind).toBe('Pod');
    expect(lookup('apps', 'v1', 'deployments')?.listKind).toBe('DeploymentList');
    expect(lookup('apps', 'v1beta1', 'deployments')).toBeUndefined();
    expect(lookup('', 'v1', 'deployments')).toBeUndefined();
    expect(byKind('', 'Endpoints')?.resource).toBe('endpoints');
    expect(byKind('discovery.k8s.io', 'EndpointSlice')?.resource).toBe('endpointslices');
    expect(byKind('coordination.k8s.io', 'Lease')?.namespaced).toBe(true);
    expect(schemaFor('autoscaling', 'v1', 'Scale')).toBeDefined();
    expect(schemaFor('', 'v1', 'Pod')).toBe(lookup('', 'v1', 'pods')!.schema);
    expect(groupVersions()).toEqual([
      { group: '', version: 'v1' },
      { group: 'apps', version: 'v1' },
      { group: 'coordination.k8s.io', version: 'v1' },
      { group: 'discovery.k8s.io', version: 'v1' },
    ]);
  });

  it('reports what kube-apiserver discovery reports', () => {
    const summary = Object.fromEntries(
      ALL_RESOURCES.map((d) => [
        `${d.group}/${d.resource}`,
        { singular: d.singular, namespaced: d.namespaced, shortNames: d.shortNames, categories: d.categories, verbs: d.verbs.join(' '), subresources: d.subresources.map((s) => `${s.name}:${s.group}/${s.version}/${s.kind}:${s.verbs.join(',')}`) },
      ]),
    );
    expect(summary['/pods']).toEqual({
      singular: 'pod',
      namespaced: true,
      shortNames: ['po'],
      categories: ['all'],
      verbs: ALL.join(' '),
      subresources: [
        'attach:/v1/PodAttachOptions:create,get',
        'binding:/v1/Binding:create',
        'exec:/v1/PodExecOptions:create,get',
        'log:/v1/Pod:get',
        'portforward:/v1/PodPortForwardOptions:create,get',
        'proxy:/v1/PodProxyOptions:create,delete,get,patch,update',
        'status:/v1/Pod:get,patch,update',
      ],
    });
    expect(summary['/namespaces']).toMatchObject({ namespaced: false, shortNames: ['ns'], verbs: 'create delete get list patch update watch' });
    expect(summary['/nodes']).toMatchObject({ namespaced: false, shortNames: ['no'], subresources: ['status:/v1/Node:get,patch,update'] });
    expect(summary['/services']).toMatchObject({ shortNames: ['svc'], categories: ['all'] });
    expect(summary['/endpoints']).toMatchObject({ singular: 'endpoints', shortNames: ['ep'] });
    expect(summary['/configmaps']).toMatchObject({ shortNames: ['cm'] });
    expect(summary['/events']).toMatchObject({ shortNames: ['ev'] });
    expect(summary['/serviceaccounts']).toMatchObject({ shortNames: ['sa'] });
    expect(summary['apps/deployments']).toMatchObject({
      shortNames: ['deploy'],
      categories: ['all'],
      subresources: ['scale:autoscaling/v1/Scale:get,patch,update', 'status:apps/v1/Deployment:get,patch,update'],
    });
    expect(summary['apps/replicasets']).toMatchObject({ shortNames: ['rs'], categories: ['all'] });
    expect(summary['apps/daemonsets']).toMatchObject({ shortNames: ['ds'], categories: ['all'], subresources: ['status:apps/v1/DaemonSet:get,patch,update'] });
    for (const d of ALL_RESOURCES) {
      expect(d.subresources.every((s) => s.group !== undefined && s.version && s.kind)).toBe(true);
      expect(d.tracksGeneration).toBe(['deployments', 'replicasets', 'daemonsets', 'endpointslices'].includes(d.resource));
      expect(d.hasStatus).toBe(d.subresources.some((s) => s.name === 'status'));
    }
  });

  it('selectable fields', () => {
    const pods = lookup('', 'v1', 'pods')!;
    expect(pods.selectableFields({ spec: { nodeName: 'n1', restartPolicy: 'Always', schedulerName: 'default-scheduler', serviceAccountName: 'default' }, status: { phase: 'Running', podIPs: [{ ip: '10.0.0.1' }] } })).toEqual({
      'spec.nodeName': 'n1',
      'spec.restartPolicy': 'Always',
      'spec.schedulerName': 'default-scheduler',
      'spec.serviceAccountName': 'default',
      'spec.hostNetwork': 'false',
      'status.phase': 'Running',
      'status.podIP': '10.0.0.1',
      'status.nominatedNodeName': '',
    });
    const events = lookup('', 'v1', 'events')!;
    expect(events.selectableFields({ involvedObject: { kind: 'Pod', name: 'p', namespace: 'default', uid: 'u' }, reason: 'Pulled', type: 'Normal', reportingComponent: 'kubelet' })).toEqual({
      'involvedObject.kind': 'Pod',
      'involvedObject.namespace': 'default',
      'involvedObject.name': 'p',
      'involvedObject.uid': 'u',
      'involvedObject.apiVersion': '',
      'involvedObject.resourceVersion': '',
      'involvedObject.fieldPath': '',
      reason: 'Pulled',
      reportingComponent: 'kubelet',
      source: 'kubelet',
      type: 'Normal',
    });
    expect(lookup('', 'v1', 'nodes')!.selectableFields({ spec: { unschedulable: true } })).toEqual({ 'spec.unschedulable': 'true' });
    expect(lookup('', 'v1', 'namespaces')!.selectableFields({ status: { phase: 'Active' } })).toEqual({ 'status.phase': 'Active' });
    expect(lookup('', 'v1', 'secrets')!.selectableFields({ type: 'Opaque' })).toEqual({ type: 'Opaque' });
    expect(lookup('apps', 'v1', 'replicasets')!.selectableFields({ status: { replicas: 3 } })).toEqual({ 'status.replicas': '3' });
    expect(lookup('', 'v1', 'configmaps')!.selectableFields({})).toEqual({});
  });
});

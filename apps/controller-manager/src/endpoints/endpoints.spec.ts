import { desiredEndpoints, desiredSlices, findPort, planSlices, sliceObject } from './endpoints';

const svc = (o: Record<string, any> = {}) => ({
  metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', labels: { tier: 'fe' } },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }], ...o },
});
const pod = (name: string, ip: string | undefined, ready: boolean, o: Record<string, any> = {}) => ({
  metadata: { name, namespace: 'default', uid: `${name}-uid`, labels: { app: 'web' }, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: o.port ?? 8080 }] }] },
  status: { phase: o.phase ?? 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});

describe('Endpoints and EndpointSlice planning', () => {
  it('findPort resolves numbers and named container ports', () => {
    expect(findPort(pod('a', '10.0.0.1', true), { port: 80, targetPort: 9090 })).toBe(9090);
    expect(findPort(pod('a', '10.0.0.1', true), { port: 80, targetPort: 'http' })).toBe(8080);
    expect(findPort(pod('a', '10.0.0.1', true), { port: 80, targetPort: 'nope' })).toBeUndefined();
    expect(findPort(pod('a', '10.0.0.1', true), { port: 80 })).toBe(80);
  });

  it('Endpoints: ready and not-ready addresses, grouped by port set; no-IP, terminal and terminating pods skipped', () => {
    const pods = [pod('a', '10.0.0.2', true), pod('b', '10.0.0.1', false), pod('c', undefined, true), pod('d', '10.0.0.4', true, { phase: 'Failed' }), pod('e', '10.0.0.5', true, { deleting: true }), pod('f', '10.0.0.6', true, { port: 9000 })];
    const ep = desiredEndpoints(svc(), pods);
    expect(ep.metadata.labels).toEqual({ tier: 'fe', 'endpointslice.kubernetes.io/skip-mirror': 'true' });
    expect(ep.subsets).toEqual([
      {
        addresses: [{ ip: '10.0.0.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'a-uid' } }],
        notReadyAddresses: [{ ip: '10.0.0.1', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'b-uid' } }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      { addresses: [{ ip: '10.0.0.6', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'f', uid: 'f-uid' } }], ports: [{ name: 'http', port: 9000, protocol: 'TCP' }] },
    ]);
  });

  it('EndpointSlices: conditions ready/serving/terminating, labels, owner, placeholder and reuse', () => {
    const s = svc();
    const slices = desiredSlices(s, [pod('a', '10.0.0.2', true), pod('b', '10.0.0.1', false), pod('e', '10.0.0.5', true, { deleting: true })]);
    expect(slices).toHaveLength(1);
    expect(slices[0]!.endpoints.map((e) => [e.addresses[0], e.conditions])).toEqual([
      ['10.0.0.1', { ready: false, serving: false, terminating: false }],
      ['10.0.0.2', { ready: true, serving: true, terminating: false }],
      ['10.0.0.5', { ready: false, serving: true, terminating: true }],
    ]);
    const obj = sliceObject(s, slices[0]!);
    expect(obj.metadata).toMatchObject({
      generateName: 'web-',
      labels: { tier: 'fe', 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }],
    });
    // An existing equal slice is left alone; a changed one is updated in place; extras deleted.
    const existing = { ...obj, metadata: { ...obj.metadata, name: 'web-abcde' } };
    expect(planSlices(s, [existing], slices)).toEqual({ create: [], update: [], delete: [] });
    const fewer = desiredSlices(s, [pod('a', '10.0.0.2', true)]);
    const p = planSlices(s, [existing, { ...existing, metadata: { ...existing.metadata, name: 'web-zzzzz' } }], fewer);
    expect(p.update.map((x) => x.metadata.name)).toEqual(['web-abcde']);
    expect(p.delete).toEqual(['web-zzzzz']);
    // No endpoints: one placeholder slice.
    expect(planSlices(s, [], []).create[0]).toMatchObject({ addressType: 'IPv4', endpoints: [], ports: [] });
  });
});

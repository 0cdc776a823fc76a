// encode -> decode round trips, and a cross-check of the wire format against
// protobufjs's own reflection decoder on the same .proto schema.
import protobuf from 'protobufjs';
import { K8S_PROTOBUF_SCHEMA } from '@kubets/proto/k8s.io/schema';
import { decodeK8sProtobuf, encodeK8sProtobuf, K8sProtobufError } from '../src';
import { OBJECTS } from './fixtures/objects';

describe('round trips', () => {
  it.each(Object.keys(OBJECTS))('%s', (name) => {
    const object = OBJECTS[name];
    const body = encodeK8sProtobuf(object);
    const decoded = decodeK8sProtobuf(body);
    expect(decoded.apiVersion).toBe(object.apiVersion);
    expect(decoded.kind).toBe(object.kind);
    expect(decoded.object).toEqual(object);
    // Encoding is deterministic: decode -> encode gives the same bytes.
    expect(encodeK8sProtobuf(decoded.object).equals(body)).toBe(true);
  });

  it('fills in Go zero values when JSON leaves them out, and drops zero values of omitempty fields', () => {
    const { object } = decodeK8sProtobuf(
      encodeK8sProtobuf({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd', namespace: '', generation: 0, creationTimestamp: null, labels: {} },
        spec: { replicas: 0, template: { spec: { containers: [{ name: 'c', ports: [{}], env: [] }] } }, strategy: null },
      }),
    );
    expect(object).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      // DeploymentSpec.selector is a pointer without omitempty: nil is null.
      spec: { replicas: 0, selector: null, template: { metadata: {}, spec: { containers: [{ name: 'c', ports: [{ containerPort: 0 }], resources: {} }] } }, strategy: {} },
      status: {},
    });
  });

  it('refuses JSON that Go would refuse', () => {
    const bad = (object: Record<string, unknown>, message: RegExp): void => {
      expect(() => encodeK8sProtobuf(object)).toThrow(K8sProtobufError);
      expect(() => encodeK8sProtobuf(object)).toThrow(message);
    };
    bad({ kind: 'Pod' }, /no apiVersion/);
    bad({ apiVersion: 'v1' }, /no kind/);
    bad({ apiVersion: 'v1', kind: 'Job' }, /no protobuf schema/);
    bad({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 1 } }, /Pod\.metadata\.name: expected a string/);
    bad({ apiVersion: 'v1', kind: 'Pod', spec: { containers: {} } }, /expected a list/);
    bad({ apiVersion: 'v1', kind: 'Pod', spec: { priority: 2 ** 31 } }, /expected an int32/);
    bad({ apiVersion: 'v1', kind: 'Pod', spec: { activeDeadlineSeconds: 1.5 } }, /expected an int64/);
    bad({ apiVersion: 'v1', kind: 'Secret', data: { k: 'not base64!' } }, /base64/);
    bad({ apiVersion: 'v1', kind: 'Service', spec: { ports: [{ targetPort: true }] } }, /not an int32 or a string/);
    bad({ apiVersion: 'v1', kind: 'Node', status: { capacity: { cpu: 'lots' } } }, /not a quantity/);
    bad({ apiVersion: 'v1', kind: 'Pod', metadata: { creationTimestamp: 'yesterday' } }, /not an RFC 3339 time/);
  });
});

describe('the wire format is standard protobuf', () => {
  const root = protobuf.Root.fromJSON(K8S_PROTOBUF_SCHEMA as protobuf.INamespace);
  const Unknown = root.lookupType('k8s.io.apimachinery.pkg.runtime.Unknown');
  const Deployment = root.lookupType('k8s.io.api.apps.v1.Deployment');

  it('protobufjs decodes what this package encodes', () => {
    const body = encodeK8sProtobuf(OBJECTS.deployment);
    const unknown = Unknown.toObject(Unknown.decode(body.subarray(4)), { bytes: Buffer }) as { typeMeta: unknown; raw: Buffer };
    expect(unknown.typeMeta).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment' });
    const d = Deployment.toObject(Deployment.decode(unknown.raw), { longs: Number }) as Record<string, any>;
    expect(d.metadata.name).toBe('web');
    expect(d.metadata.generation).toBe(3);
    expect(d.metadata.creationTimestamp).toEqual({ seconds: 1714979289, nanos: 0 });
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: { type: 1, intVal: 0, strVal: '25%' }, maxSurge: { type: 0, intVal: 1, strVal: '' } });
    expect(d.spec.template.spec.containers[0].resources.requests).toEqual({ cpu: { string: '100m' } });
  });

  it('this package decodes what protobufjs encodes', () => {
    const raw = Deployment.encode(
      Deployment.fromObject({
        metadata: { name: 'pj', labels: { a: 'b' }, creationTimestamp: { seconds: 1714979289 } },
        spec: { replicas: 2, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }] }] } } },
      }),
    ).finish();
    const body = Buffer.concat([Buffer.from('k8s\x00', 'latin1'), Unknown.encode(Unknown.fromObject({ typeMeta: { apiVersion: 'apps/v1', kind: 'Deployment' }, raw })).finish()]);
    expect(decodeK8sProtobuf(body).object).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'pj', labels: { a: 'b' }, creationTimestamp: '2024-05-06T07:08:09Z' },
      spec: { replicas: 2, selector: null, template: { metadata: {}, spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }], resources: {} }] } }, strategy: {} },
      status: {},
    });
  });
});

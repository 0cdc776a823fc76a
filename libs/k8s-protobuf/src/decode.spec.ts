// Decoding hand-built envelopes: the bytes here are written by hand (not by
// this package's encoder), the way client-go lays them out.
import { decodeK8sProtobuf, encodeK8sProtobuf, isK8sProtobuf, isSupportedKind, K8sProtobufError } from './index';

// ---- a tiny protobuf writer for the tests --------------------------------------

type Bytes = number[];

function varint(n: number | bigint): Bytes {
  let v = BigInt.asUintN(64, BigInt(n));
  const out: Bytes = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number): Bytes => varint(field * 8 + wire);
const int = (field: number, v: number | bigint): Bytes => [...key(field, 0), ...varint(v)];
const bytes = (field: number, b: Bytes | Buffer): Bytes => [...key(field, 2), ...varint(b.length), ...b];
const str = (field: number, s: string): Bytes => bytes(field, Buffer.from(s, 'utf8'));
const msg = (field: number, ...parts: Bytes[]): Bytes => bytes(field, parts.flat());
const entry = (field: number, k: string, value: Bytes): Bytes => msg(field, str(1, k), value);

function envelope(apiVersion: string, kind: string, ...raw: Bytes[]): Buffer {
  return Buffer.from([0x6b, 0x38, 0x73, 0x00, ...msg(1, str(1, apiVersion), str(2, kind)), ...bytes(2, raw.flat()), ...str(3, ''), ...str(4, '')]);
}

/** What client-go writes for ObjectMeta{Name: name}: every string and int64, the zero Time as an empty message. */
const objectMeta = (name: string, ...more: Bytes[]): Bytes =>
  msg(1, str(1, name), str(2, ''), str(3, ''), str(4, ''), str(5, ''), str(6, ''), int(7, 0), msg(8), ...more);

describe('decodeK8sProtobuf', () => {
  it('decodes the namespace kubectl 1.32 sends for `create namespace demo`', () => {
    // Byte for byte the body kubectl sent (see test/kubectl.test.ts).
    const body = Buffer.from(
      '6b387300' + // k8s\0
        '0a0f' + '0a027631' + '12094e616d657370616365' + // typeMeta {apiVersion: "v1", kind: "Namespace"}
        '121c' + // raw: Namespace
        '0a14' + '0a0464656d6f' + '1200' + '1a00' + '2200' + '2a00' + '3200' + '3800' + '4200' + // metadata: name, zero strings, generation 0, empty Time
        '1200' + // spec {}
        '1a020a00' + // status {phase: ""}
        '1a00' + '2200', // contentEncoding "", contentType ""
      'hex',
    );
    expect(decodeK8sProtobuf(body)).toEqual({
      apiVersion: 'v1',
      kind: 'Namespace',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' }, spec: {}, status: {} },
    });
  });

  it('gives Go zero values for what is not on the wire: empty structs, null for slices without omitempty', () => {
    const { object } = decodeK8sProtobuf(envelope('v1', 'Pod', msg(1, str(1, 'p'))));
    // PodSpec.containers has no omitempty: a nil slice is null in Go's JSON.
    expect(object).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: null }, status: {} });
  });

  it('keeps pointer fields that are on the wire with zero values, drops zero values of omitempty fields', () => {
    const spec = msg(
      2,
      int(1, 0), // replicas: *int32 = 0
      msg(2), // selector: *LabelSelector{}
      msg(3, msg(1), msg(2, msg(2, str(1, 'c'), str(2, '')))), // template
      msg(4, str(1, '')), // strategy{type: ""}
      int(5, 0), // minReadySeconds: int32 omitempty
      int(8, 0), // paused: bool omitempty
    );
    const { object } = decodeK8sProtobuf(envelope('apps/v1', 'Deployment', objectMeta('d'), spec));
    expect(object).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: {
        replicas: 0,
        selector: {},
        template: { metadata: {}, spec: { containers: [{ name: 'c', resources: {} }] } },
        strategy: {},
      },
      status: {},
    });
  });

  it('writes zero values of fields without omitempty', () => {
    const container = msg(2, str(1, 'c'), msg(6)); // ports: [{}]
    const { object } = decodeK8sProtobuf(envelope('v1', 'Pod', msg(1, str(1, 'p')), msg(2, container)));
    expect((object.spec as { containers: unknown[] }).containers).toEqual([{ name: 'c', ports: [{ containerPort: 0 }], resources: {} }]);
  });

  it('inlines embedded structs (Volume.volumeSource, Probe.handler) and converts IntOrString', () => {
    const probe = msg(10, msg(1, msg(2, str(1, '/healthz'), msg(2, int(1, 1), int(2, 0), str(3, 'http')))), int(3, 1));
    const container = msg(2, str(1, 'c'), probe, msg(11, msg(1, msg(3, msg(1, int(1, 0), int(2, 8080), str(3, ''))))));
    const volume = msg(1, str(1, 'data'), msg(2, msg(2, str(1, 'Memory'))));
    const { object } = decodeK8sProtobuf(envelope('v1', 'Pod', msg(1, str(1, 'p')), msg(2, volume, container)));
    expect(object.spec).toEqual({
      volumes: [{ name: 'data', emptyDir: { medium: 'Memory' } }],
      containers: [
        {
          name: 'c',
          resources: {},
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, timeoutSeconds: 1 },
          readinessProbe: { tcpSocket: { port: 8080 } },
        },
      ],
    });
  });

  it('converts bytes to base64, maps to objects, Time and MicroTime to RFC 3339, Quantity to strings', () => {
    const secret = decodeK8sProtobuf(
      envelope('v1', 'Secret', msg(1, str(1, 's'), msg(8, int(1, 1700000000), int(2, 999))), entry(2, 'k', bytes(2, Buffer.from('v\x00\xff', 'latin1'))), str(3, 'Opaque')),
    ).object;
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', creationTimestamp: '2023-11-14T22:13:20Z' },
      data: { k: Buffer.from('v\x00\xff', 'latin1').toString('base64') },
      type: 'Opaque',
    });
    const event = decodeK8sProtobuf(envelope('v1', 'Event', msg(1, str(1, 'e')), msg(10, int(1, 1700000000), int(2, 123456789)))).object;
    expect(event.eventTime).toBe('2023-11-14T22:13:20.123456Z');
    const lease = decodeK8sProtobuf(envelope('coordination.k8s.io/v1', 'Lease', msg(1, str(1, 'l')), msg(2, msg(4, int(1, 0), int(2, 5000))))).object;
    expect(lease.spec).toEqual({ renewTime: '1970-01-01T00:00:00.000005Z' });
    const resources = msg(8, entry(1, 'cpu', msg(2, str(1, '500m'))), entry(2, 'memory', msg(2)));
    const pod = decodeK8sProtobuf(envelope('v1', 'Pod', msg(1, str(1, 'p')), msg(2, msg(2, str(1, 'c'), resources)))).object;
    expect((pod.spec as { containers: unknown[] }).containers[0]).toEqual({ name: 'c', resources: { limits: { cpu: '500m' }, requests: { memory: '0' } } });
  });

  it('sorts map keys and keeps "__proto__" an ordinary key', () => {
    const meta = msg(1, str(1, 'c'), entry(11, 'z', str(2, '1')), entry(11, '__proto__', str(2, 'x')), entry(11, 'a', str(2, '2')));
    const { object } = decodeK8sProtobuf(envelope('v1', 'ConfigMap', meta));
    const labels = (object.metadata as { labels: Record<string, string> }).labels;
    expect(Object.keys(labels)).toEqual(['__proto__', 'a', 'z']);
    expect(Object.getPrototypeOf(labels)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(labels))).toEqual(JSON.parse('{"__proto__":"x","a":"2","z":"1"}'));
  });

  it('reads negative int32, packed and unpacked repeated int64, and merges a message that appears twice', () => {
    const psc = [...int(4, 1), ...bytes(4, [...varint(2), ...varint(3)])]; // supplementalGroups: 1 unpacked, then 2, 3 packed
    const spec = msg(2, msg(2, str(1, 'c')), int(5, -1), msg(14, int(2, 1000)), bytes(14, psc));
    const { object } = decodeK8sProtobuf(envelope('v1', 'Pod', msg(1, str(1, 'a')), msg(1, str(3, 'ns')), spec));
    expect(object.metadata).toEqual({ name: 'a', namespace: 'ns' });
    expect(object.spec).toMatchObject({ activeDeadlineSeconds: -1, securityContext: { runAsUser: 1000, supplementalGroups: [1, 2, 3] } });
  });

  it('skips unknown fields of every wire type, groups included', () => {
    const unknown = [...int(99, 5), ...key(98, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...key(97, 5), 1, 2, 3, 4, ...str(96, 'x'), ...key(95, 3), ...int(1, 1), ...key(94, 3), ...key(94, 4), ...key(95, 4)];
    const { object } = decodeK8sProtobuf(envelope('v1', 'ServiceAccount', unknown, msg(1, str(1, 'sa'), unknown)));
    expect(object).toEqual({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa' } });
  });

  it('decodes DeleteOptions in any group version, as client-go registers it', () => {
    expect(decodeK8sProtobuf(envelope('v1', 'DeleteOptions')).object).toEqual({ apiVersion: 'v1', kind: 'DeleteOptions' });
    const opts = decodeK8sProtobuf(envelope('apps/v1', 'DeleteOptions', int(1, 0), msg(2, str(1, 'uid-1')), int(3, 1), str(4, 'Foreground'), str(5, 'All'))).object;
    expect(opts).toEqual({
      apiVersion: 'apps/v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
      preconditions: { uid: 'uid-1' },
      orphanDependents: true,
      propagationPolicy: 'Foreground',
      dryRun: ['All'],
    });
  });

  it('decodes a RawExtension holding JSON or a nested protobuf object', () => {
    const nested = envelope('v1', 'ConfigMap', msg(1, str(1, 'inner')));
    const json = decodeK8sProtobuf(envelope('apps/v1', 'ControllerRevision', msg(1, str(1, 'r')), msg(2, str(1, '{"spec":{"a":1}}')), int(3, 2))).object;
    expect(json).toEqual({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: 'r' }, data: { spec: { a: 1 } }, revision: 2 });
    const proto = decodeK8sProtobuf(envelope('apps/v1', 'ControllerRevision', msg(2, bytes(1, nested)))).object;
    expect(proto.data).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inner' } });
  });

  it('accepts Uint8Array input', () => {
    const body = envelope('v1', 'ServiceAccount', msg(1, str(1, 'sa')));
    expect(decodeK8sProtobuf(new Uint8Array(body)).object).toEqual({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa' } });
  });
});

describe('bad input', () => {
  const bad = (body: Buffer | Bytes, message: RegExp): void => {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
    expect(() => decodeK8sProtobuf(buf)).toThrow(K8sProtobufError);
    expect(() => decodeK8sProtobuf(buf)).toThrow(message);
  };
  const magic = [0x6b, 0x38, 0x73, 0x00];

  it('refuses data without the magic', () => {
    bad(Buffer.alloc(0), /does not start with/);
    bad(Buffer.from('k8s'), /does not start with/);
    bad(Buffer.from('{"apiVersion":"v1","kind":"Namespace"}'), /does not start with/);
  });

  it('refuses an envelope without kind or apiVersion, or with an encoding it cannot read', () => {
    bad(magic, /no kind/);
    bad([...magic, ...msg(1, str(2, 'Namespace'))], /no apiVersion/);
    bad([...magic, ...msg(1, str(1, 'v1'), str(2, 'Namespace')), ...str(3, 'gzip')], /content encoding "gzip"/);
    bad([...magic, ...msg(1, str(1, 'v1'), str(2, 'Namespace')), ...str(4, 'application/json')], /content type/);
  });

  it('refuses kinds it has no schema for', () => {
    bad(envelope('v1', 'Nope'), /no protobuf schema for kind "Nope" in "v1"/);
    bad(envelope('batch/v1', 'Job'), /no protobuf schema for kind "Job" in "batch\/v1"/);
    bad(envelope('v1', 'PodSpec'), /no protobuf schema/);
    bad(envelope('__proto__', 'Pod'), /no protobuf schema/);
    bad(envelope('v1', 'List'), /no protobuf schema/);
  });

  it('refuses truncated data', () => {
    const body = envelope('v1', 'ConfigMap', objectMeta('c'), entry(2, 'a', str(2, 'b')));
    bad(body.subarray(0, body.length - 5), /runs past the end|unexpected end/);
    bad([...magic, ...key(1, 2), 0x80], /unexpected end/);
    bad([...magic, ...key(1, 2), 10, 1, 2], /runs past the end/);
    const inner = envelope('v1', 'ConfigMap', objectMeta('c'), entry(2, 'a', str(2, 'b')));
    // A string inside the typed message that runs past the end of its message.
    const cut = Buffer.from([...magic, ...msg(1, str(1, 'v1'), str(2, 'ConfigMap')), ...bytes(2, [...key(1, 2), 5, ...key(1, 2), 9, 0x61])]);
    bad(cut, /runs past the end/);
    expect(() => decodeK8sProtobuf(inner)).not.toThrow();
  });

  it('refuses malformed protobuf', () => {
    bad([...magic, ...key(1, 0), ...varint(1)], /wire type 0, want 2/); // typeMeta as a varint
    bad([...magic, 0x00, 0x00], /field number 0/);
    bad([...magic, ...key(1, 2), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 10 bytes|overflows/);
    bad([...magic, ...key(1, 2), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /overflows 64 bits/);
    bad([...magic, ...key(1, 2), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], /runs past the end/);
    bad([...magic, ...key(9, 6)], /illegal wire type 6/);
    bad([...magic, ...key(9, 4)], /unexpected end group/);
    bad([...magic, ...key(9, 3)], /unexpected end of data/);
    bad(envelope('v1', 'Pod', msg(2, int(5, 1).concat(key(5, 2), [0]))), /wire type 2, want 0/);
    bad(envelope('v1', 'Service', msg(2, msg(1, msg(4, int(1, 7))))), /impossible IntOrString type 7/);
    bad(envelope('v1', 'Pod', msg(2, msg(2, msg(8, entry(1, 'cpu', msg(2, str(1, 'lots'))))))), /"lots" is not a quantity/);
    bad(envelope('apps/v1', 'ControllerRevision', msg(2, str(1, '{nope'))), /invalid JSON/);
    bad(envelope('apps/v1', 'ControllerRevision', msg(2, str(1, '\x01\x02'))), /neither JSON nor/);
  });

  it('refuses deep nesting without exhausting the stack', () => {
    // 200,000 nested groups: skipped with a counter, not recursion.
    bad([...magic, ...new Array<Bytes>(200_000).fill(key(9, 3)).flat()], /unexpected end of data/);
    // RawExtensions nesting envelopes.
    let body = envelope('v1', 'ConfigMap');
    for (let i = 0; i < 20; i++) body = envelope('apps/v1', 'ControllerRevision', msg(2, bytes(1, body)));
    bad(body, /nested more than 8 deep/);
  });
});

describe('isK8sProtobuf / isSupportedKind', () => {
  it('recognizes the media type', () => {
    expect(isK8sProtobuf('application/vnd.kubernetes.protobuf')).toBe(true);
    expect(isK8sProtobuf('Application/VND.Kubernetes.Protobuf; charset=binary')).toBe(true);
    expect(isK8sProtobuf(' application/vnd.kubernetes.protobuf ;stream=watch')).toBe(true);
    expect(isK8sProtobuf('application/json')).toBe(false);
    expect(isK8sProtobuf('application/vnd.kubernetes.protobuf+json')).toBe(false);
    expect(isK8sProtobuf(undefined)).toBe(false);
    expect(isK8sProtobuf('')).toBe(false);
  });

  it('knows the kinds the API server serves', () => {
    for (const [gv, kind] of [
      ['v1', 'Namespace'],
      ['v1', 'ConfigMap'],
      ['v1', 'Secret'],
      ['v1', 'ServiceAccount'],
      ['v1', 'Service'],
      ['v1', 'Pod'],
      ['v1', 'Endpoints'],
      ['v1', 'Node'],
      ['v1', 'Event'],
      ['v1', 'Binding'],
      ['v1', 'DeleteOptions'],
      ['apps/v1', 'Deployment'],
      ['apps/v1', 'ReplicaSet'],
      ['apps/v1', 'DaemonSet'],
      ['apps/v1', 'DeleteOptions'],
      ['coordination.k8s.io/v1', 'Lease'],
      ['discovery.k8s.io/v1', 'EndpointSlice'],
      ['autoscaling/v1', 'Scale'],
      ['policy/v1', 'Eviction'],
      ['meta.k8s.io/v1', 'DeleteOptions'],
    ]) {
      expect([gv, kind, isSupportedKind(gv, kind)]).toEqual([gv, kind, true]);
    }
    expect(isSupportedKind('apps/v1', 'Pod')).toBe(false);
    expect(isSupportedKind('v1', 'ObjectMeta')).toBe(false);
  });

  it('encodes what it decodes, byte for byte', () => {
    const body = envelope('v1', 'ConfigMap', objectMeta('c'), entry(2, 'a', str(2, 'b')));
    expect(encodeK8sProtobuf(decodeK8sProtobuf(body).object).equals(body)).toBe(true);
  });
});

// The generated Go shapes (src/gen/go-structs.ts) and the protobuf schema
// (proto/k8s.io, via @kubets/proto) must describe the same messages.
import protobuf from 'protobufjs';
import { K8S_PROTOBUF_SCHEMA } from '@kubets/proto/k8s.io/schema';
import { CUSTOM_CODECS } from './custom';
import { GO_STRUCTS, GROUP_VERSIONS } from './gen/go-structs';
import { allMessageNames, messagePlan } from './schema';

/** Go types that are plain aliases of another package's struct; no kind of the API server uses them. */
const UNSUPPORTED = new Set(['k8s.io.api.core.v1.List']);

describe('schema', () => {
  it('has a Go shape for every message and a message for every Go shape', () => {
    expect(allMessageNames()).toEqual(Object.keys(GO_STRUCTS).sort());
  });

  it('maps every Go field to a protobuf field and back', () => {
    const root = protobuf.Root.fromJSON(K8S_PROTOBUF_SCHEMA as protobuf.INamespace);
    for (const name of allMessageNames()) {
      if (UNSUPPORTED.has(name)) {
        expect(() => messagePlan(name)).toThrow(/not supported/);
        continue;
      }
      const plan = messagePlan(name);
      const type = root.lookupType(name);
      expect([name, plan.fields.map((f) => f.number).sort((a, b) => a - b)]).toEqual([name, type.fieldsArray.map((f) => f.id).sort((a, b) => a - b)]);
      for (const f of plan.fields) expect(type.fieldsById[f.number].name).toBe(f.name);
    }
  });

  it('implements every custom JSON type', () => {
    const customs = Object.entries(GO_STRUCTS)
      .filter(([name, s]) => s.custom !== undefined && !UNSUPPORTED.has(name))
      .map(([name]) => name)
      .sort();
    expect(customs).toEqual(Object.keys(CUSTOM_CODECS).sort());
  });

  it('lists kinds that are API kinds (they embed TypeMeta)', () => {
    for (const { package: pkg, kinds } of Object.values(GROUP_VERSIONS)) {
      for (const kind of kinds) expect([kind, messagePlan(`${pkg}.${kind}`).isKind]).toEqual([kind, true]);
    }
    expect(GROUP_VERSIONS['v1'].kinds).toEqual(expect.arrayContaining(['Namespace', 'Pod', 'Service', 'Binding', 'Event', 'Node', 'Endpoints']));
  });

  it('knows the JSON names that differ from the Go field names', () => {
    const pick = (name: string, number: number) => messagePlan(name).byNumber.get(number);
    expect(pick('k8s.io.api.core.v1.PodSpec', 9)).toMatchObject({ name: 'serviceAccount', json: 'serviceAccount', omitempty: true });
    expect(pick('k8s.io.api.core.v1.PodSpec', 4)).toMatchObject({ json: 'terminationGracePeriodSeconds', pointer: true });
    expect(pick('k8s.io.api.core.v1.Volume', 2)).toMatchObject({ name: 'volumeSource', inline: true });
    expect(pick('k8s.io.api.core.v1.Probe', 1)).toMatchObject({ name: 'handler', inline: true });
    expect(pick('k8s.io.api.core.v1.EphemeralContainer', 1)).toMatchObject({ name: 'ephemeralContainerCommon', inline: true });
    expect(pick('k8s.io.api.core.v1.ContainerPort', 3)).toMatchObject({ json: 'containerPort', omitempty: false });
    expect(pick('k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta', 8)).toMatchObject({ json: 'creationTimestamp', omitzero: true });
  });
});

import { QUANTITY_PATTERN, checkTypes, findUnknownFields, toOpenApiV3 } from './schema-tools';
import type { ObjectSchema, Schema } from './schema';
import type { StatusError } from './status';

const str: Schema = { type: 'string' };

const pod: ObjectSchema = {
  type: 'object',
  properties: {
    apiVersion: str,
    kind: str,
    metadata: {
      type: 'object',
      properties: {
        name: str,
        labels: { type: 'map', values: str },
        creationTimestamp: { type: 'date-time' },
      },
    },
    spec: {
      type: 'object',
      required: ['containers'],
      properties: {
        replicas: { type: 'integer' },
        ratio: { type: 'number' },
        paused: { type: 'boolean' },
        restartPolicy: { type: 'string', enum: ['Always', 'OnFailure', 'Never'] },
        maxSurge: { type: 'int-or-string' },
        containers: {
          type: 'array',
          patchStrategy: 'merge',
          mergeKey: 'name',
          items: {
            type: 'object',
            required: ['name'],
            properties: {
              name: str,
              image: str,
              resources: { type: 'object', properties: { limits: { type: 'map', values: { type: 'quantity' } } } },
            },
          },
        },
        overrides: {
          type: 'map',
          values: { type: 'object', properties: { a: str } },
        },
        extra: { type: 'object', preserveUnknownFields: true, properties: { known: { type: 'integer' } } },
        raw: { type: 'any' },
      },
    },
  },
};

describe('findUnknownFields', () => {
  it('finds nothing in a conforming object', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'x', labels: { a: 'b' } },
      spec: { containers: [{ name: 'c', image: 'i', resources: { limits: { cpu: '1' } } }], raw: { any: { thing: [1] } } },
    };
    expect(findUnknownFields(obj, pod)).toEqual([]);
  });

  it('reports unknown fields with their full path, as strict decoding does', () => {
    const obj = {
      metadata: { name: 'x', nmae: 'y' },
      spec: {
        foo: 1,
        containers: [{ name: 'a' }, { name: 'b', imagee: 'nginx', resources: { limitz: {} } }],
        overrides: { k1: { a: 'x', b: 'y' } },
        extra: { anything: { goes: true }, known: 1 },
      },
      status: {},
    };
    expect(findUnknownFields(obj, pod)).toEqual([
      'unknown field "metadata.nmae"',
      'unknown field "spec.foo"',
      'unknown field "spec.containers[1].imagee"',
      'unknown field "spec.containers[1].resources.limitz"',
      'unknown field "spec.overrides.k1.b"',
      'unknown field "status"',
    ]);
  });

  it('takes a path prefix and ignores values of the wrong type', () => {
    expect(findUnknownFields({ x: 1 }, { type: 'object', properties: {} }, 'spec.template')).toEqual(['unknown field "spec.template.x"']);
    expect(findUnknownFields({ spec: 'nope', metadata: [1] }, pod)).toEqual([]);
  });

  it('handles deep nesting and refuses absurd nesting with 400', () => {
    const node: ObjectSchema = { type: 'object', properties: {} };
    node.properties.n = node;
    let obj: Record<string, unknown> = { bad: 1 };
    for (let i = 0; i < 1000; i++) obj = { n: obj };
    expect(findUnknownFields(obj, node)).toEqual([`unknown field "${'n.'.repeat(1000)}bad"`]);
    for (let i = 0; i < 19000; i++) obj = { n: obj };
    let err: StatusError | undefined;
    try {
      findUnknownFields(obj, node);
    } catch (e) {
      err = e as StatusError;
    }
    expect(err?.code).toBe(400);
  });
});

describe('checkTypes', () => {
  it('accepts a conforming object, with nulls as absent', () => {
    expect(
      checkTypes(
        {
          metadata: { name: 'x', creationTimestamp: '2026-11-24T05:00:00Z' },
          spec: {
            replicas: 3,
            ratio: 0.5,
            paused: false,
            restartPolicy: 'Never',
            maxSurge: '25%',
            containers: [{ name: 'a', image: null, resources: { limits: { cpu: '500m', memory: 1024 } } }],
            raw: [1, 'x'],
          },
        },
        pod,
      ),
    ).toEqual([]);
    expect(checkTypes({ spec: { containers: [], maxSurge: 1 } }, pod)).toEqual([]);
  });

  it('reports type mismatches as the OpenAPI validator does', () => {
    const causes = checkTypes(
      {
        metadata: { name: 5, labels: { a: true } },
        spec: {
          replicas: 'three',
          ratio: 'x',
          paused: 'yes',
          maxSurge: 1.5,
          containers: { name: 'a' },
        },
      },
      pod,
    );
    expect(causes).toEqual([
      {
        reason: 'FieldValueTypeInvalid',
        field: 'metadata.name',
        message: 'Invalid value: "integer": metadata.name in body must be of type string: "integer"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'metadata.labels[a]',
        message: 'Invalid value: "boolean": metadata.labels[a] in body must be of type string: "boolean"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.replicas',
        message: 'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.ratio',
        message: 'Invalid value: "string": spec.ratio in body must be of type number: "string"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.paused',
        message: 'Invalid value: "string": spec.paused in body must be of type boolean: "string"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.maxSurge',
        message: 'Invalid value: "number": spec.maxSurge in body must be of type integer,string: "number"',
      },
      {
        reason: 'FieldValueTypeInvalid',
        field: 'spec.containers',
        message: 'Invalid value: "object": spec.containers in body must be of type array: "object"',
      },
    ]);
  });

  it('reports required fields, enums, quantities and date-times', () => {
    const causes = checkTypes(
      {
        metadata: { creationTimestamp: 'yesterday' },
        spec: {
          restartPolicy: 'Sometimes',
          containers: [{ image: 'x' }, { name: 'b', resources: { limits: { cpu: 'lots' } } }],
        },
      },
      pod,
    );
    expect(causes.map((c) => [c.reason, c.field, c.message])).toEqual([
      ['FieldValueInvalid', 'metadata.creationTimestamp', 'Invalid value: "yesterday": metadata.creationTimestamp in body must be of type date-time: "yesterday"'],
      ['FieldValueNotSupported', 'spec.restartPolicy', 'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'],
      ['FieldValueRequired', 'spec.containers[0].name', 'Required value'],
      [
        'FieldValueInvalid',
        'spec.containers[1].resources.limits[cpu]',
        `Invalid value: "lots": quantities must match the regular expression '${QUANTITY_PATTERN}'`,
      ],
    ]);
    expect(checkTypes({ spec: {} }, pod)).toEqual([{ reason: 'FieldValueRequired', field: 'spec.containers', message: 'Required value' }]);
    expect(checkTypes({ spec: { containers: null } }, pod)).toHaveLength(1);
  });

  it('checks the root', () => {
    expect(checkTypes([], pod)).toEqual([
      { reason: 'FieldValueTypeInvalid', field: '', message: 'Invalid value: "array": body in body must be of type object: "array"' },
    ]);
  });
});

describe('toOpenApiV3', () => {
  it('converts every kind of schema', () => {
    expect(toOpenApiV3(pod)).toEqual({
      type: 'object',
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        metadata: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            labels: { type: 'object', additionalProperties: { type: 'string' } },
            creationTimestamp: { type: 'string', format: 'date-time' },
          },
        },
        spec: {
          type: 'object',
          required: ['containers'],
          properties: {
            replicas: { type: 'integer' },
            ratio: { type: 'number' },
            paused: { type: 'boolean' },
            restartPolicy: { type: 'string', enum: ['Always', 'OnFailure', 'Never'] },
            maxSurge: { 'x-kubernetes-int-or-string': true },
            containers: {
              type: 'array',
              'x-kubernetes-patch-merge-key': 'name',
              'x-kubernetes-patch-strategy': 'merge',
              items: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string' },
                  image: { type: 'string' },
                  resources: {
                    type: 'object',
                    properties: {
                      limits: { type: 'object', additionalProperties: { 'x-kubernetes-int-or-string': true, format: 'quantity' } },
                    },
                  },
                },
              },
            },
            overrides: { type: 'object', additionalProperties: { type: 'object', properties: { a: { type: 'string' } } } },
            extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { known: { type: 'integer' } } },
            raw: { 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      },
    });
  });

  it('carries descriptions, list types and retainKeys', () => {
    expect(
      toOpenApiV3({
        type: 'object',
        description: 'A volume.',
        patchStrategy: 'retainKeys',
        properties: {
          ports: {
            type: 'array',
            description: 'Ports.',
            listType: 'map',
            listMapKeys: ['containerPort', 'protocol'],
            patchStrategy: 'merge',
            mergeKey: 'containerPort',
            items: { type: 'integer' },
          },
        },
      }),
    ).toEqual({
      description: 'A volume.',
      type: 'object',
      'x-kubernetes-patch-strategy': 'retainKeys',
      properties: {
        ports: {
          description: 'Ports.',
          type: 'array',
          items: { type: 'integer' },
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['containerPort', 'protocol'],
          'x-kubernetes-patch-merge-key': 'containerPort',
          'x-kubernetes-patch-strategy': 'merge',
        },
      },
    });
  });
});

import { applyStrategicMergePatch } from './strategic-merge';
import type { ObjectSchema, Schema } from '../schema';
import type { StatusError } from '../status';

const str: Schema = { type: 'string' };
const stringMap: Schema = { type: 'map', values: str };

const container: ObjectSchema = {
  type: 'object',
  properties: {
    name: str,
    image: str,
    args: { type: 'array', items: str, listType: 'atomic' },
    env: {
      type: 'array',
      items: { type: 'object', properties: { name: str, value: str } },
      patchStrategy: 'merge',
      mergeKey: 'name',
    },
    ports: {
      type: 'array',
      items: { type: 'object', properties: { name: str, containerPort: { type: 'integer' }, protocol: str } },
      patchStrategy: 'merge',
      mergeKey: 'containerPort',
    },
    volumeMounts: {
      type: 'array',
      items: { type: 'object', properties: { name: str, mountPath: str } },
      patchStrategy: 'merge',
      mergeKey: 'mountPath',
    },
    resources: { type: 'object', properties: { limits: { type: 'map', values: { type: 'quantity' } } } },
  },
};

const volume: ObjectSchema = {
  type: 'object',
  patchStrategy: 'retainKeys',
  properties: {
    name: str,
    emptyDir: { type: 'object', properties: { medium: str } },
    configMap: { type: 'object', properties: { name: str } },
    secret: { type: 'object', properties: { secretName: str } },
  },
};

const podSpec: ObjectSchema = {
  type: 'object',
  properties: {
    containers: { type: 'array', items: container, patchStrategy: 'merge', mergeKey: 'name' },
    volumes: { type: 'array', items: volume, patchStrategy: 'merge,retainKeys', mergeKey: 'name' },
    tolerations: { type: 'array', items: { type: 'object', properties: { key: str, operator: str } } },
    nodeSelector: stringMap,
  },
};

const metadata: ObjectSchema = {
  type: 'object',
  properties: {
    name: str,
    labels: stringMap,
    annotations: stringMap,
    finalizers: { type: 'array', items: str, patchStrategy: 'merge' },
  },
};

const deployment: ObjectSchema = {
  type: 'object',
  properties: {
    apiVersion: str,
    kind: str,
    metadata,
    spec: {
      type: 'object',
      properties: {
        replicas: { type: 'integer' },
        strategy: {
          type: 'object',
          patchStrategy: 'retainKeys',
          properties: {
            type: str,
            rollingUpdate: {
              type: 'object',
              properties: { maxSurge: { type: 'int-or-string' }, maxUnavailable: { type: 'int-or-string' } },
            },
          },
        },
        template: { type: 'object', properties: { metadata, spec: podSpec } },
      },
    },
  },
};

function deploy(podSpecValue: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: { replicas: 2, template: { metadata: { labels: { app: 'web' } }, spec: podSpecValue }, ...extra },
  };
}

function podSpecOf(d: unknown): Record<string, unknown> {
  return (d as { spec: { template: { spec: Record<string, unknown> } } }).spec.template.spec;
}

function apply(original: unknown, patch: unknown, schema: Schema = deployment) {
  return applyStrategicMergePatch<Record<string, unknown>>(original, patch, schema);
}

function fail(original: unknown, patch: unknown, schema: Schema = deployment): StatusError {
  try {
    applyStrategicMergePatch(original, patch, schema);
  } catch (e) {
    return e as StatusError;
  }
  throw new Error('expected the patch to fail');
}

describe('kubectl apply patches', () => {
  it('applies the three-way patch for a new image, an added env var and a removed port', () => {
    const live = deploy({
      containers: [
        {
          name: 'web',
          image: 'nginx:1',
          env: [{ name: 'A', value: '1' }],
          ports: [{ containerPort: 80 }, { containerPort: 8080 }],
        },
      ],
    });
    const patch = JSON.parse(
      '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],"containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"B"}],"env":[{"name":"B","value":"2"}],"image":"nginx:2","name":"web","ports":[{"$patch":"delete","containerPort":8080}]}]}}}}',
    );
    const out = apply(live, patch);
    expect(JSON.stringify(podSpecOf(out))).toBe(
      JSON.stringify({
        containers: [
          {
            name: 'web',
            image: 'nginx:2',
            env: [
              { name: 'A', value: '1' },
              { name: 'B', value: '2' },
            ],
            ports: [{ containerPort: 80 }],
          },
        ],
      }),
    );
    expect(out.metadata).toEqual(live.metadata);
    expect((out.spec as Record<string, unknown>).replicas).toBe(2);
  });

  it('puts a container that replaces a removed one where $setElementOrder says', () => {
    const live = deploy({
      containers: [
        { name: 'a', image: 'a' },
        { name: 'b', image: 'b' },
        { name: 'c', image: 'c' },
      ],
    });
    const patch = {
      spec: {
        template: {
          spec: {
            $setElementOrder: undefined,
            '$setElementOrder/containers': [{ name: 'a' }, { name: 'd' }, { name: 'c' }],
            containers: [
              { name: 'd', image: 'd' },
              { $patch: 'delete', name: 'b' },
            ],
          },
        },
      },
    };
    expect((podSpecOf(apply(live, patch)).containers as { name: string }[]).map((c) => c.name)).toEqual(['a', 'd', 'c']);
  });

  it('reorders a list with $setElementOrder alone', () => {
    const live = deploy({ containers: [{ name: 'a' }, { name: 'b' }] });
    const out = apply(live, { spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } } } });
    expect(podSpecOf(out).containers).toEqual([{ name: 'b' }, { name: 'a' }]);
  });

  it('keeps server-only items (added by others) after patch items they followed', () => {
    const live = deploy({ containers: [{ name: 'app' }, { name: 'istio-proxy' }] });
    const patch = {
      spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'app' }], containers: [{ name: 'app', image: 'v2' }] } } },
    };
    expect(podSpecOf(apply(live, patch)).containers).toEqual([{ name: 'app', image: 'v2' }, { name: 'istio-proxy' }]);
  });

  it('switches a volume source with $retainKeys', () => {
    const live = deploy({
      volumes: [
        { name: 'data', configMap: { name: 'cfg' } },
        { name: 'cache', emptyDir: {} },
      ],
    });
    const patch = {
      spec: {
        template: {
          spec: {
            '$setElementOrder/volumes': [{ name: 'data' }, { name: 'cache' }],
            volumes: [{ $retainKeys: ['emptyDir', 'name'], emptyDir: { medium: 'Memory' }, configMap: null, name: 'data' }],
          },
        },
      },
    };
    expect(podSpecOf(apply(live, patch)).volumes).toEqual([
      { name: 'data', emptyDir: { medium: 'Memory' } },
      { name: 'cache', emptyDir: {} },
    ]);
  });

  it('switches the deployment strategy with $retainKeys', () => {
    const live = deploy({}, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } });
    const out = apply(live, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } });
    expect((out.spec as Record<string, unknown>).strategy).toEqual({ type: 'Recreate' });
  });

  it('adds, removes and orders finalizers (a merge list of scalars)', () => {
    const live = { metadata: { name: 'x', finalizers: ['a', 'b', 'c'] } };
    const out = apply(live, {
      metadata: {
        '$setElementOrder/finalizers': ['c', 'd', 'a'],
        '$deleteFromPrimitiveList/finalizers': ['b'],
        finalizers: ['d'],
      },
    });
    expect(out).toEqual({ metadata: { name: 'x', finalizers: ['c', 'd', 'a'] } });
  });
});

describe('maps', () => {
  it('merges recursively and deletes keys set to null', () => {
    const live = deploy({ nodeSelector: { disk: 'ssd', zone: 'a' } });
    const out = apply(live, {
      metadata: { labels: { tier: 'fe', app: null }, annotations: { note: 'x' } },
      spec: { replicas: 3, template: { spec: { nodeSelector: { zone: 'b', disk: null } } } },
    });
    expect(out.metadata).toEqual({ name: 'web', labels: { tier: 'fe' }, annotations: { note: 'x' } });
    expect((out.spec as Record<string, unknown>).replicas).toBe(3);
    expect(podSpecOf(out).nodeSelector).toEqual({ zone: 'b' });
  });

  it('ignores nulls for keys that are absent, and in new values', () => {
    const out = apply({ metadata: { name: 'x' } }, { metadata: { labels: { a: 'b', c: null }, missing: null }, spec: { x: null } });
    expect(out).toEqual({ metadata: { name: 'x', labels: { a: 'b' } }, spec: {} });
  });

  it('$patch: replace replaces the map', () => {
    const live = deploy({ nodeSelector: { disk: 'ssd', zone: 'a' } });
    const out = apply(live, { spec: { template: { spec: { nodeSelector: { $patch: 'replace', gpu: 'yes' } } } } });
    expect(podSpecOf(out).nodeSelector).toEqual({ gpu: 'yes' });
  });

  it('$patch: delete empties the map', () => {
    const out = apply({ metadata: { name: 'x', labels: { a: 'b' } } }, { metadata: { labels: { $patch: 'delete' } } });
    expect(out).toEqual({ metadata: { name: 'x', labels: {} } });
  });

  it('$patch: merge merges', () => {
    const out = apply({ metadata: { labels: { a: 'b' } } }, { metadata: { labels: { $patch: 'merge', c: 'd' } } });
    expect(out).toEqual({ metadata: { labels: { a: 'b', c: 'd' } } });
  });

  it('a patch of the whole object can replace or delete it', () => {
    expect(apply({ a: 1, b: 2 }, { $patch: 'replace', c: 3 })).toEqual({ c: 3 });
    expect(apply({ a: 1 }, { $patch: 'delete' })).toEqual({});
  });

  it('takes the patch value when the type changes', () => {
    expect(apply({ spec: { x: 'scalar' } }, { spec: { x: { a: 1, b: null } } })).toEqual({ spec: { x: { a: 1 } } });
    expect(apply({ spec: { x: { a: 1 } } }, { spec: { x: [1] } })).toEqual({ spec: { x: [1] } });
    expect(apply({ spec: { x: [1] } }, { spec: { x: 2 } })).toEqual({ spec: { x: 2 } });
  });

  it('treats fields outside the schema as a JSON merge patch: maps merge, lists are replaced', () => {
    const live = { spec: { custom: { keep: 1, list: [{ name: 'a' }, { name: 'b' }], nested: { x: 1 } } } };
    const out = apply(live, { spec: { custom: { list: [{ name: 'c' }], nested: { y: 2 }, keep: null } } });
    expect(out).toEqual({ spec: { custom: { list: [{ name: 'c' }], nested: { x: 1, y: 2 } } } });
  });
});

describe('merge lists', () => {
  it('merges items by key, appending new ones first when no order is given', () => {
    const live = deploy({ containers: [{ name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }] }] });
    const out = apply(live, { spec: { template: { spec: { containers: [{ name: 'web', env: [{ name: 'B', value: '2' }] }] } } } });
    expect(podSpecOf(out).containers).toEqual([
      {
        name: 'web',
        image: 'nginx:1',
        env: [
          { name: 'B', value: '2' },
          { name: 'A', value: '1' },
        ],
      },
    ]);
  });

  it('merges ports by containerPort and volumeMounts by mountPath', () => {
    const live = deploy({
      containers: [
        {
          name: 'web',
          ports: [{ containerPort: 80, name: 'http' }, { containerPort: 8080 }],
          volumeMounts: [{ name: 'a', mountPath: '/a' }],
        },
      ],
    });
    const out = apply(live, {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'web',
                ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443 }],
                volumeMounts: [{ name: 'b', mountPath: '/a' }],
              },
            ],
          },
        },
      },
    });
    const c = (podSpecOf(out).containers as Record<string, unknown>[])[0];
    expect(c.ports).toEqual([{ containerPort: 80, name: 'http', protocol: 'TCP' }, { containerPort: 443 }, { containerPort: 8080 }]);
    expect(c.volumeMounts).toEqual([{ name: 'b', mountPath: '/a' }]);
  });

  it('deletes items with $patch: delete (and ignores unknown ones)', () => {
    const live = deploy({ containers: [{ name: 'a' }, { name: 'b' }] });
    const out = apply(live, {
      spec: { template: { spec: { containers: [{ $patch: 'delete', name: 'a' }, { $patch: 'delete', name: 'zzz' }] } } },
    });
    expect(podSpecOf(out).containers).toEqual([{ name: 'b' }]);
  });

  it('replaces the list with a $patch: replace item', () => {
    const live = deploy({ containers: [{ name: 'a', image: 'x' }, { name: 'b' }] });
    const out = apply(live, { spec: { template: { spec: { containers: [{ name: 'c' }, { $patch: 'replace' }, { name: 'a' }] } } } });
    expect(podSpecOf(out).containers).toEqual([{ name: 'c' }, { name: 'a' }]);
  });

  it('accepts $patch: merge items', () => {
    const live = deploy({ containers: [{ name: 'a', image: 'x' }] });
    const out = apply(live, {
      spec: { template: { spec: { containers: [{ $patch: 'merge' }, { $patch: 'merge', name: 'a', image: 'y' }] } } },
    });
    expect(podSpecOf(out).containers).toEqual([{ name: 'a', image: 'y' }]);
  });

  it('merges a list without a strategy when asked with a $patch: merge item', () => {
    const schema: Schema = {
      type: 'object',
      properties: { items: { type: 'array', mergeKey: 'id', items: { type: 'object', properties: { id: str, v: str } } } },
    };
    expect(apply({ items: [{ id: 'a', v: '1' }] }, { items: [{ id: 'b' }] }, schema)).toEqual({ items: [{ id: 'b' }] });
    expect(apply({ items: [{ id: 'a', v: '1' }] }, { items: [{ $patch: 'merge' }, { id: 'a', v: '2' }, { id: 'b' }] }, schema)).toEqual({
      items: [{ id: 'a', v: '2' }, { id: 'b' }],
    });
  });

  it('replaces lists without a merge strategy', () => {
    const live = deploy({
      tolerations: [{ key: 'a' }, { key: 'b' }],
      containers: [{ name: 'c', args: ['--x', '--y'] }],
    });
    const out = apply(live, {
      spec: { template: { spec: { tolerations: [{ key: 'c', operator: null }], containers: [{ name: 'c', args: ['--z'] }] } } },
    });
    expect(podSpecOf(out).tolerations).toEqual([{ key: 'c' }]);
    expect(podSpecOf(out).containers).toEqual([{ name: 'c', args: ['--z'] }]);
  });

  it('unions merge lists of scalars', () => {
    expect(apply({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { finalizers: ['c', 'a'] } })).toEqual({
      metadata: { finalizers: ['c', 'a', 'b'] },
    });
    expect(apply({ metadata: { finalizers: ['a', 'b'] } }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a', 'x'] } })).toEqual({
      metadata: { finalizers: ['b'] },
    });
    // A deletion list for a list that does not exist does nothing.
    expect(apply({ metadata: {} }, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } })).toEqual({ metadata: {} });
  });

  it('cleans directives out of lists that are new', () => {
    const live = deploy({});
    const out = apply(live, {
      spec: {
        template: {
          spec: {
            '$setElementOrder/volumes': [{ name: 'a' }],
            volumes: [
              { name: 'a', emptyDir: {}, $retainKeys: ['emptyDir', 'name'] },
              { $patch: 'delete', name: 'b' },
            ],
            containers: [{ name: 'web', env: [{ name: 'X', value: null }], '$setElementOrder/env': [{ name: 'X' }] }],
          },
        },
      },
    });
    expect(podSpecOf(out)).toEqual({ volumes: [{ name: 'a', emptyDir: {} }], containers: [{ name: 'web', env: [{ name: 'X' }] }] });
  });
});

describe('errors', () => {
  const live = deploy({ containers: [{ name: 'web', image: 'nginx' }] });

  it.each([
    [
      'an item without its merge key',
      { spec: { template: { spec: { containers: [{ image: 'nginx' }] } } } },
      'map: map[image:nginx] does not contain declared merge key: name',
    ],
    [
      'a delete directive without the merge key',
      { spec: { template: { spec: { containers: [{ $patch: 'delete' }] } } } },
      'map: map[$patch:delete] does not contain declared merge key: name',
    ],
    [
      'an unknown directive in a list',
      { spec: { template: { spec: { containers: [{ $patch: 'explode', name: 'x' }] } } } },
      'unknown patch type: explode in map: map[$patch:explode name:x]',
    ],
    ['an unknown directive in a map', { metadata: { $patch: 'explode' } }, 'unknown patch type: explode in map: map[$patch:explode]'],
    ['$retainKeys that is not a list', { spec: { strategy: { $retainKeys: 'type' } } }, 'invalid patch format of retainKeys'],
    ['a patch key missing from $retainKeys', { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }, 'invalid patch format of retainKeys'],
    [
      '$setElementOrder that is not a list',
      { spec: { template: { spec: { '$setElementOrder/containers': 'web' } } } },
      'expected a []interface {}, but received a string',
    ],
    ['a malformed $setElementOrder key', { metadata: { $setElementOrderX: [] } }, 'invalid patch format of setElementOrder list'],
    ['a malformed deletion list key', { metadata: { $deleteFromPrimitiveListX: [] } }, 'invalid patch format of primitive list'],
    [
      'a patch list in another order than $setElementOrder',
      {
        spec: {
          template: {
            spec: { '$setElementOrder/containers': [{ name: 'a' }, { name: 'b' }], containers: [{ name: 'b' }, { name: 'a' }] },
          },
        },
      },
      "The order in patch list:\n[map[name:b] map[name:a]]\n doesn't match $setElementOrder list:\n[map[name:a] map[name:b]]\n",
    ],
    [
      'mixed element types',
      { metadata: { finalizers: [{ name: 'x' }] } },
      'list element types are not identical: [[a] [map[name:x]]]',
    ],
    [
      'a live list item that is not a map',
      { spec: { template: { spec: { volumes: [{ name: 'x' }] } } } },
      'list element types are not identical: [[x] [map[name:x]]]',
    ],
  ])('refuses %s with 400', (_what, patch, message) => {
    const base = { ...live, metadata: { ...live.metadata, finalizers: ['a'] } };
    const withVolumes = JSON.parse(JSON.stringify(base));
    withVolumes.spec.template.spec.volumes = ['x'];
    const e = fail(withVolumes, patch);
    expect(e.code).toBe(400);
    expect(e.reason).toBe('BadRequest');
    expect(e.message).toBe(message);
  });

  it('checks $retainKeys against the patch when the map exists too', () => {
    const withStrategy = deploy({}, { strategy: { type: 'Recreate' } });
    expect(fail(withStrategy, { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: {} } } }).message).toBe(
      'invalid patch format of retainKeys',
    );
    expect(fail(withStrategy, { spec: { strategy: { $retainKeys: 5 } } }).message).toBe('invalid patch format of retainKeys');
  });

  it('refuses lists of lists with 422', () => {
    const e = fail({ metadata: { finalizers: [['a']] } }, { metadata: { finalizers: [['b']] } });
    expect(e.code).toBe(422);
    expect(e.message).toBe('lists of lists are not supported');
  });

  it('refuses a merge list of maps without a merge key', () => {
    const schema: Schema = { type: 'object', properties: { l: { type: 'array', patchStrategy: 'merge', items: { type: 'any' } } } };
    expect(fail({ l: [{ a: 1 }] }, { l: [{ b: 1 }] }, schema).message).toBe('cannot merge lists without merge key for l');
  });

  it('refuses patches and documents that are not objects', () => {
    expect(fail({}, [1]).message).toBe('json: cannot unmarshal array into Go value of type map[string]interface {}');
    expect(fail({}, 'x').code).toBe(400);
    expect(fail([1], {}).message).toBe('invalid JSON document');
    expect(apply({ a: 1 }, null)).toEqual({ a: 1 });
    expect(apply(undefined, { a: 1 })).toEqual({ a: 1 });
  });
});

describe('robustness', () => {
  it('does not modify its inputs', () => {
    const live = deploy({ containers: [{ name: 'web', image: 'nginx:1', env: [{ name: 'A', value: '1' }] }] });
    const patch = {
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'web' }],
            containers: [{ name: 'web', image: 'nginx:2', env: [{ name: 'B', value: '2' }] }],
          },
        },
      },
    };
    const before = JSON.stringify([live, patch]);
    const out = apply(live, patch);
    (podSpecOf(out).containers as Record<string, unknown[]>[])[0].env.push({ name: 'C' });
    expect(JSON.stringify([live, patch])).toBe(before);
  });

  it('handles 1000 levels of nesting', () => {
    let live: Record<string, unknown> = { v: 1 };
    let patch: Record<string, unknown> = { w: 2 };
    for (let i = 0; i < 1000; i++) {
      live = { n: live };
      patch = { n: patch };
    }
    let out: unknown = apply(live, patch);
    for (let i = 0; i < 1000; i++) out = (out as { n: unknown }).n;
    expect(out).toEqual({ v: 1, w: 2 });
  });

  it('answers 400 on absurd nesting instead of crashing', () => {
    let patch: Record<string, unknown> = {};
    for (let i = 0; i < 20000; i++) patch = { n: patch };
    const e = fail({}, patch);
    expect(e.code).toBe(400);
    expect(e.message).toBe('exceeded max depth of 10000');
  });
});

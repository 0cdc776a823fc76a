import { MAX_JSON_PATCH_OPERATIONS, applyJsonPatch, escapeJsonPointerToken, unescapeJsonPointerToken } from './json-patch';
import type { StatusError } from '../status';

function fail(doc: unknown, ops: unknown): StatusError {
  try {
    applyJsonPatch(doc, ops);
  } catch (e) {
    return e as StatusError;
  }
  throw new Error('expected the patch to fail');
}

describe('applyJsonPatch: RFC 6902 appendix A', () => {
  it('A.1 adds an object member', () => {
    expect(applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ baz: 'qux', foo: 'bar' });
  });

  it('A.2 adds an array element', () => {
    expect(applyJsonPatch({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({
      foo: ['bar', 'qux', 'baz'],
    });
  });

  it('A.3 removes an object member', () => {
    expect(applyJsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' });
  });

  it('A.4 removes an array element', () => {
    expect(applyJsonPatch({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] });
  });

  it('A.5 replaces a value', () => {
    expect(applyJsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({
      baz: 'boo',
      foo: 'bar',
    });
  });

  it('A.6 moves a value', () => {
    const doc = { foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } };
    expect(applyJsonPatch(doc, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }])).toEqual({
      foo: { bar: 'baz' },
      qux: { corge: 'grault', thud: 'fred' },
    });
  });

  it('A.7 moves an array element', () => {
    expect(applyJsonPatch({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({
      foo: ['all', 'cows', 'eat', 'grass'],
    });
  });

  it('A.8 tests values', () => {
    const doc = { baz: 'qux', foo: ['a', 2, 'c'] };
    expect(
      applyJsonPatch(doc, [
        { op: 'test', path: '/baz', value: 'qux' },
        { op: 'test', path: '/foo/1', value: 2 },
      ]),
    ).toEqual(doc);
  });

  it('A.9 fails a test', () => {
    const e = fail({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]);
    expect(e.code).toBe(422);
    expect(e.reason).toBe('Invalid');
    expect(e.message).toBe('testing value /baz failed: test failed');
  });

  it('A.10 adds a nested member object', () => {
    expect(applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }])).toEqual({
      foo: 'bar',
      child: { grandchild: {} },
    });
  });

  it('A.11 ignores unrecognised members', () => {
    expect(applyJsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }])).toEqual({ foo: 'bar', baz: 'qux' });
  });

  it('A.12 refuses to add to a nonexistent target', () => {
    expect(fail({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]).message).toBe(
      'add operation does not apply: doc is missing path: "/baz/bat": missing value',
    );
  });

  it('A.14 unescapes ~01 to ~1', () => {
    const doc = { '/': 9, '~1': 10 };
    expect(applyJsonPatch(doc, [{ op: 'test', path: '/~01', value: 10 }])).toEqual(doc);
  });

  it('A.15 compares strings and numbers strictly', () => {
    expect(fail({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]).message).toBe('testing value /~01 failed: test failed');
  });

  it('A.16 adds an array value', () => {
    expect(applyJsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }])).toEqual({
      foo: ['bar', ['abc', 'def']],
    });
  });
});

describe('applyJsonPatch on Kubernetes objects', () => {
  const deploy = {
    metadata: { name: 'web', labels: { 'app.kubernetes.io/name': 'web' } },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'web', image: 'nginx:1' }] } } },
  };

  it('edits nested fields and escaped keys', () => {
    const out = applyJsonPatch(deploy, [
      { op: 'test', path: '/spec/replicas', value: 2 },
      { op: 'replace', path: '/spec/replicas', value: 5 },
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'nginx:2' },
      { op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'side', image: 'busybox' } },
      { op: 'remove', path: '/metadata/labels/app.kubernetes.io~1name' },
      { op: 'add', path: '/metadata/labels/a~0b', value: 'x' },
      { op: 'copy', from: '/spec/template/spec/containers/0', path: '/spec/template/spec/containers/0' },
    ]);
    expect(out).toEqual({
      metadata: { name: 'web', labels: { 'a~b': 'x' } },
      spec: {
        replicas: 5,
        template: {
          spec: {
            containers: [
              { name: 'web', image: 'nginx:2' },
              { name: 'web', image: 'nginx:2' },
              { name: 'side', image: 'busybox' },
            ],
          },
        },
      },
    });
  });

  it('does not modify its inputs', () => {
    const ops = [{ op: 'add', path: '/spec/x', value: { y: [1] } }];
    const before = JSON.stringify([deploy, ops]);
    const out = applyJsonPatch<{ spec: { x: { y: number[] } } }>(deploy, ops);
    out.spec.x.y.push(2);
    expect(JSON.stringify([deploy, ops])).toBe(before);
  });

  it('copies values deeply', () => {
    const out = applyJsonPatch<{ a: { v: number[] }; b: { v: number[] } }>({ a: { v: [1] } }, [{ op: 'copy', from: '/a', path: '/b' }]);
    out.b.v.push(2);
    expect(out.a.v).toEqual([1]);
  });

  it('accepts negative indexes as kube does', () => {
    expect(applyJsonPatch({ a: [1, 2, 3] }, [{ op: 'remove', path: '/a/-1' }])).toEqual({ a: [1, 2] });
    expect(applyJsonPatch({ a: [1, 2, 3] }, [{ op: 'replace', path: '/a/-3', value: 0 }])).toEqual({ a: [0, 2, 3] });
    expect(applyJsonPatch({ a: [1, 2] }, [{ op: 'add', path: '/a/-1', value: 9 }])).toEqual({ a: [1, 2, 9] });
    expect(applyJsonPatch({ a: [1, 2] }, [{ op: 'test', path: '/a/-2', value: 1 }])).toEqual({ a: [1, 2] });
  });

  it('treats a missing value as null', () => {
    expect(applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/b' }])).toEqual({ a: 1, b: null });
    expect(applyJsonPatch({ a: null }, [{ op: 'test', path: '/a' }])).toEqual({ a: null });
    expect(applyJsonPatch({}, [{ op: 'test', path: '/missing', value: null }])).toEqual({});
  });

  it('tests structured values regardless of key order', () => {
    expect(() => applyJsonPatch({ a: { x: 1, y: [1, { z: 2 }] } }, [{ op: 'test', path: '/a', value: { y: [1, { z: 2 }], x: 1 } }])).not.toThrow();
    expect(fail({ a: { x: 1 } }, [{ op: 'test', path: '/a', value: { x: 1, y: 2 } }]).code).toBe(422);
    expect(fail({ a: [1, 2] }, [{ op: 'test', path: '/a', value: [2, 1] }]).code).toBe(422);
  });

  it('replaces and tests the whole document', () => {
    expect(applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }])).toEqual({ b: 2 });
    expect(applyJsonPatch({ a: 1 }, [{ op: 'test', path: '', value: { a: 1 } }])).toEqual({ a: 1 });
    expect(fail({ a: 1 }, [{ op: 'test', path: '', value: { a: 2 } }]).message).toBe('testing value  failed: test failed');
    expect(fail({ a: 1 }, [{ op: 'replace', path: '', value: 3 }]).message).toBe('replace operation value must be object or array');
    expect(applyJsonPatch([1, 2], [{ op: 'add', path: '/0', value: 0 }])).toEqual([0, 1, 2]);
  });

  it('applies operations in order and stops at the first failure', () => {
    const e = fail({ a: 1 }, [
      { op: 'add', path: '/b', value: 2 },
      { op: 'remove', path: '/zzz' },
      { op: 'add', path: '/c', value: 3 },
    ]);
    expect(e.message).toBe("error in remove for path: '/zzz': Unable to remove nonexistent key: zzz: missing value");
  });
});

describe('applyJsonPatch errors', () => {
  it.each([
    [{ a: 1 }, [{ op: 'replace', path: '/b', value: 1 }], 'replace operation does not apply: doc is missing key: /b: missing value'],
    [{ a: 1 }, [{ op: 'replace', path: '/x/y', value: 1 }], 'replace operation does not apply: doc is missing path: /x/y: missing value'],
    [{ a: [1] }, [{ op: 'replace', path: '/a/1', value: 1 }], 'replace operation does not apply: doc is missing key: /a/1: missing value'],
    [{ a: [1] }, [{ op: 'add', path: '/a/3', value: 1 }], "error in add for path: '/a/3': Unable to access invalid index: 3: invalid index referenced"],
    [{ a: [1] }, [{ op: 'add', path: '/a/-3', value: 1 }], "error in add for path: '/a/-3': Unable to access invalid index: -3: invalid index referenced"],
    [
      { a: [1] },
      [{ op: 'add', path: '/a/x', value: 1 }],
      "error in add for path: '/a/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
    ],
    [{ a: [1] }, [{ op: 'remove', path: '/a/1' }], "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index referenced"],
    [{ a: [1] }, [{ op: 'remove', path: '/a/-' }], "error in remove for path: '/a/-': strconv.Atoi: parsing \"-\": invalid syntax"],
    [{ a: 1 }, [{ op: 'remove', path: '/x/y' }], 'remove operation does not apply: doc is missing path: "/x/y": missing value'],
    [{ a: 1 }, [{ op: 'add', path: 'a', value: 1 }], 'add operation does not apply: doc is missing path: "a": missing value'],
    [{ a: 1 }, [{ op: 'add', path: '', value: 1 }], 'add operation does not apply: doc is missing path: "": missing value'],
    [{ a: 1 }, [{ op: 'add', value: 1 }], 'add operation failed to decode path: missing value'],
    [{ a: 1 }, [{ op: 'remove' }], 'remove operation failed to decode path: missing value'],
    [{ a: 1 }, [{ op: 'replace', value: 1 }], 'replace operation failed to decode path: operation missing path field: missing value'],
    [{ a: 1 }, [{ op: 'test', value: 1 }], 'test operation failed to decode path: operation missing path field: missing value'],
    [{ a: 1 }, [{ op: 'move', path: '/b' }], 'move operation failed to decode from: operation, missing from field: missing value'],
    [{ a: 1 }, [{ op: 'move', from: '/x/y', path: '/b' }], 'move operation does not apply: doc is missing from path: /x/y: missing value'],
    [{ a: 1 }, [{ op: 'move', from: '/x', path: '/b' }], "error in move for path: 'x': Unable to remove nonexistent key: x: missing value"],
    [{ a: 1 }, [{ op: 'move', from: '/a', path: '/x/y' }], 'move operation does not apply: doc is missing destination path: /x/y: missing value'],
    [{ a: { b: 1 } }, [{ op: 'move', from: '/a', path: '/a/b' }], 'move operation does not apply: doc is missing destination path: /a/b: missing value'],
    [{ a: 1 }, [{ op: 'copy', path: '/b' }], 'copy operation failed to decode from: operation, missing from field: missing value'],
    [{ a: 1 }, [{ op: 'copy', from: '/x', path: '/b' }], 'copy operation does not apply: doc is missing from path: /x: missing value'],
    [{ a: [1] }, [{ op: 'copy', from: '/a/5', path: '/b' }], "error in copy for from: '/a/5': Unable to access invalid index: 5: invalid index referenced"],
    [{ a: 1 }, [{ op: 'copy', from: '/a', path: '/x/y' }], 'copy operation does not apply: doc is missing destination path: /x/y: missing value'],
    [{ a: 1 }, [{ op: 'test', path: '/x/y', value: 1 }], 'test operation does not apply: is missing path: /x/y: missing value'],
    [{ a: [1] }, [{ op: 'test', path: '/a/9', value: 1 }], "error in test for path: '/a/9': Unable to access invalid index: 9: invalid index referenced"],
    [{ a: 1 }, [{ op: 'frobnicate', path: '/a' }], 'Unexpected kind: frobnicate'],
    [{ a: 1 }, [{ path: '/a' }], 'Unexpected kind: unknown'],
    [{ a: 1 }, [null], 'Unexpected kind: unknown'],
    ['scalar', [{ op: 'add', path: '/a', value: 1 }], 'add operation does not apply: doc is missing path: /a: missing value'],
  ])('%j %j -> 422 %s', (doc, ops, message) => {
    const e = fail(doc, ops);
    expect(e.code).toBe(422);
    expect(e.message).toBe(message);
  });

  it('refuses patches that are not lists of operations with 400', () => {
    expect(fail({}, { op: 'add' }).message).toBe('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    expect(fail({}, null).code).toBe(400);
    expect(fail({}, 'x').message).toBe('json: cannot unmarshal string into Go value of type jsonpatch.Patch');
    expect(fail({}, ['x']).message).toBe('json: cannot unmarshal string into Go value of type jsonpatch.Operation');
    expect(fail({}, [[1]]).message).toBe('json: cannot unmarshal array into Go value of type jsonpatch.Operation');
  });

  it('refuses more than 10000 operations with 413', () => {
    const ops = Array.from({ length: MAX_JSON_PATCH_OPERATIONS + 1 }, () => ({ op: 'test', path: '/a', value: 1 }));
    const e = fail({ a: 1 }, ops);
    expect(e.code).toBe(413);
    expect(e.message).toBe('Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001');
    expect(() => applyJsonPatch({ a: 1 }, ops.slice(1))).not.toThrow();
  });

  it('survives deep documents', () => {
    let doc: unknown = 1;
    let path = '';
    for (let i = 0; i < 1000; i++) {
      doc = { n: doc };
      path += '/n';
    }
    const out = applyJsonPatch(doc, [{ op: 'replace', path, value: 2 }]);
    let v: unknown = out;
    for (let i = 0; i < 1000; i++) v = (v as { n: unknown }).n;
    expect(v).toBe(2);
    let deeper: unknown = 1;
    for (let i = 0; i < 20000; i++) deeper = { n: deeper };
    expect(fail(deeper, []).code).toBe(400);
  });
});

describe('JSON pointer tokens', () => {
  it('escape and unescape', () => {
    expect(escapeJsonPointerToken('app.kubernetes.io/name')).toBe('app.kubernetes.io~1name');
    expect(escapeJsonPointerToken('a~/b')).toBe('a~0~1b');
    expect(unescapeJsonPointerToken('a~0~1b')).toBe('a~/b');
    expect(unescapeJsonPointerToken('~01')).toBe('~1');
  });
});

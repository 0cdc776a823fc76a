import { applyMergePatch } from './merge-patch';
import type { StatusError } from '../status';

function nest(depth: number, leaf: unknown): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

describe('applyMergePatch', () => {
  // The examples of RFC 7386, appendix A.
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [{ a: 'foo' }, 'bar', 'bar'],
  ])('%j + %j = %j', (target, patch, want) => {
    expect(applyMergePatch(target, patch)).toEqual(want);
  });

  it('merges Kubernetes objects: maps merge, lists are replaced', () => {
    const pod = {
      metadata: { name: 'web', labels: { app: 'web', tier: 'fe' } },
      spec: { containers: [{ name: 'a', image: 'nginx:1' }, { name: 'b', image: 'redis' }] },
    };
    const out = applyMergePatch(pod, {
      metadata: { labels: { tier: null, new: 'x' } },
      spec: { containers: [{ name: 'a', image: 'nginx:2' }] },
    });
    expect(out).toEqual({
      metadata: { name: 'web', labels: { app: 'web', new: 'x' } },
      spec: { containers: [{ name: 'a', image: 'nginx:2' }] },
    });
  });

  it('does not modify or share its inputs', () => {
    const target = { a: { b: 1 }, keep: { deep: [1, { x: 1 }] } };
    const patch = { a: { c: 2 }, add: { y: [1] } };
    const before = JSON.stringify([target, patch]);
    const out = applyMergePatch<Record<string, Record<string, unknown>>>(target, patch);
    expect(JSON.stringify([target, patch])).toBe(before);
    (out.keep.deep as unknown[]).push(2);
    (out.add.y as unknown[]).push(2);
    expect(JSON.stringify([target, patch])).toBe(before);
  });

  it('refuses a null patch as kube does', () => {
    expect(() => applyMergePatch({ a: 1 }, null)).toThrow('Invalid JSON Patch');
    try {
      applyMergePatch({}, null);
    } catch (e) {
      expect((e as StatusError).code).toBe(400);
    }
  });

  it('keeps "__proto__" an ordinary key', () => {
    const out = applyMergePatch<Record<string, unknown>>({}, JSON.parse('{"__proto__": {"polluted": true}}'));
    expect(Object.prototype.hasOwnProperty.call(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });

  it('handles 1000 levels of nesting', () => {
    const out = applyMergePatch(nest(1000, { a: 1 }), nest(1000, { b: 2 }));
    expect(out).toEqual(nest(1000, { a: 1, b: 2 }));
  });

  it('answers 400 instead of overflowing the stack on absurd nesting', () => {
    let err: StatusError | undefined;
    try {
      applyMergePatch({}, nest(20000, 1));
    } catch (e) {
      err = e as StatusError;
    }
    expect(err?.code).toBe(400);
    expect(err?.message).toBe('exceeded max depth of 10000');
  });
});

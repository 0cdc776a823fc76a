import { FieldSelector, escapeFieldValue, oneTermEqualSelector, parseFieldSelector, unescapeFieldValue } from './fields';
import { isStatusError, type StatusError } from './status';

function parseError(s: string): StatusError {
  try {
    parseFieldSelector(s);
  } catch (e) {
    if (isStatusError(e)) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(s)} to fail`);
}

describe('parseFieldSelector', () => {
  it('parses =, == and != terms, sorted', () => {
    const s = parseFieldSelector('status.phase!=Running,metadata.name==web,spec.nodeName=node1');
    expect(s.requirements).toEqual([
      { field: 'metadata.name', op: '=', value: 'web' },
      { field: 'spec.nodeName', op: '=', value: 'node1' },
      { field: 'status.phase', op: '!=', value: 'Running' },
    ]);
    expect(s.toString()).toBe('metadata.name=web,spec.nodeName=node1,status.phase!=Running');
  });

  it('accepts the empty selector and empty terms', () => {
    expect(parseFieldSelector(undefined).empty()).toBe(true);
    expect(parseFieldSelector('').empty()).toBe(true);
    expect(parseFieldSelector(',,').empty()).toBe(true);
    expect(parseFieldSelector('a=').requirements).toEqual([{ field: 'a', op: '=', value: '' }]);
  });

  it('unescapes values', () => {
    expect(parseFieldSelector('a=x\\,y\\=z\\\\w').requirements).toEqual([{ field: 'a', op: '=', value: 'x,y=z\\w' }]);
    expect(parseFieldSelector('a=x\\,y,b=1').requirements).toHaveLength(2);
    expect(parseFieldSelector('a=x\\,y').toString()).toBe('a=x\\,y');
  });

  it('splits at the first operator', () => {
    expect(parseFieldSelector('a=!b').requirements).toEqual([{ field: 'a', op: '=', value: '!b' }]);
    expect(parseFieldSelector('a==b').requirements).toEqual([{ field: 'a', op: '=', value: 'b' }]);
    expect(parseError('a!=b!=c').message).toBe('invalid field selector: unescaped character in value: 61');
  });

  it.each([
    ['foo', "invalid selector: 'foo'; can't understand 'foo'"],
    ['a=b,foo', "invalid selector: 'a=b,foo'; can't understand 'foo'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: 61'],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=\\q', 'invalid field selector: invalid escape sequence: \\q'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ])('rejects %j', (input, message) => {
    const e = parseError(input);
    expect(e.code).toBe(400);
    expect(e.reason).toBe('BadRequest');
    expect(e.message).toBe(message);
  });
});

describe('FieldSelector', () => {
  const fields = { 'metadata.name': 'web', 'metadata.namespace': 'default', 'spec.nodeName': '' };

  it.each([
    ['', true],
    ['metadata.name=web', true],
    ['metadata.name=db', false],
    ['metadata.name!=db', true],
    ['metadata.name!=web', false],
    ['spec.nodeName=', true],
    ['spec.nodeName!=', false],
    ['status.phase=', true],
    ['status.phase!=Running', true],
    ['metadata.name=web,metadata.namespace=default', true],
    ['metadata.name=web,metadata.namespace=kube-system', false],
  ])('%j matches: %s', (sel, want) => {
    expect(parseFieldSelector(sel).matches(fields)).toBe(want);
  });

  it('matches objects with no fields', () => {
    expect(parseFieldSelector('a=').matches(undefined)).toBe(true);
    expect(parseFieldSelector('a=b').matches(null)).toBe(false);
  });

  it('fieldsIn and checkSupported', () => {
    const s = parseFieldSelector('metadata.name=a,foo=b,metadata.name!=c');
    expect(s.fieldsIn()).toEqual(['foo', 'metadata.name']);
    expect(() => s.checkSupported(['metadata.name', 'metadata.namespace'])).toThrow('field label not supported: foo');
    try {
      s.checkSupported(new Set(['metadata.name']));
    } catch (e) {
      expect((e as StatusError).code).toBe(400);
    }
    expect(() => s.checkSupported(['metadata.name', 'foo'])).not.toThrow();
  });

  it('requiresExactMatch', () => {
    const s = parseFieldSelector('spec.nodeName=n1,status.phase!=Failed');
    expect(s.requiresExactMatch('spec.nodeName')).toBe('n1');
    expect(s.requiresExactMatch('status.phase')).toBeUndefined();
  });

  it('everything and one-term selectors', () => {
    expect(FieldSelector.everything().matches({ a: 'b' })).toBe(true);
    expect(oneTermEqualSelector('metadata.name', 'a,b').toString()).toBe('metadata.name=a\\,b');
  });

  it('escape round trip', () => {
    for (const v of ['', 'plain', 'a,b', 'a=b', 'a\\b', '\\,=']) expect(unescapeFieldValue(escapeFieldValue(v))).toBe(v);
  });
});

import { goNumber, goQuote, goTypeName, goValue, jsonTypeName } from './go-format';
import { deepClone, deepEqual } from './json';

describe('goQuote', () => {
  it.each([
    ['plain', '"plain"'],
    ['a"b\\c', '"a\\"b\\\\c"'],
    ['\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\u0000\u001f\u007f', '"\\x00\\x1f\\x7f"'],
    ['héllo wörld ✓', '"héllo wörld ✓"'],
    ['\u200b', '"\\u200b"'],
    ['\u{e0001}', '"\\U000e0001"'],
    ['😀', '"😀"'],
    ['\ud800', '"\ufffd"'],
  ])('%j -> %s', (input, want) => {
    expect(goQuote(input)).toBe(want);
  });
});

describe('goValue and friends', () => {
  it('formats like %v', () => {
    expect(goValue({ b: [1, 'x'], a: null, c: { d: true } })).toBe('map[a:<nil> b:[1 x] c:map[d:true]]');
    expect(goValue(undefined)).toBe('<nil>');
    expect(goNumber(1e21)).toBe('1e+21');
    expect(goNumber(0.00001)).toBe('1e-05');
    expect(goNumber(2.5)).toBe('2.5');
    expect(goNumber(-3)).toBe('-3');
    expect(goNumber(Infinity)).toBe('+Inf');
  });

  it('names types as Go and OpenAPI do', () => {
    expect([{}, [], 's', 1, 1.5, true, null].map(goTypeName)).toEqual([
      'map[string]interface {}',
      '[]interface {}',
      'string',
      'int64',
      'float64',
      'bool',
      '<nil>',
    ]);
    expect([{}, [], 's', 1, 1.5, true, null].map(jsonTypeName)).toEqual(['object', 'array', 'string', 'integer', 'number', 'boolean', 'null']);
  });
});

describe('json helpers', () => {
  it('deepClone copies and drops undefined members', () => {
    const src = { a: [1, { b: 2 }], u: undefined };
    const c = deepClone(src);
    expect(c).toEqual({ a: [1, { b: 2 }] });
    expect('u' in c).toBe(false);
    expect(c.a).not.toBe(src.a);
  });

  it('deepEqual ignores key order', () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
    expect(deepEqual(null, {})).toBe(false);
    expect(deepEqual(1, '1')).toBe(false);
  });
});

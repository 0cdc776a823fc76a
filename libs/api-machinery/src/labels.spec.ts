import {
  Selector,
  everything,
  newRequirement,
  nothing,
  parseSelector,
  selectorFromLabelSelector,
  selectorFromSet,
  validateLabelSelector,
} from './labels';
import { isStatusError, type StatusError } from './status';

function parseError(s: string): StatusError {
  try {
    parseSelector(s);
  } catch (e) {
    if (isStatusError(e)) return e;
    throw e;
  }
  throw new Error(`expected ${JSON.stringify(s)} to fail`);
}

const NAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

describe('parseSelector', () => {
  it.each([
    ['', ''],
    ['app=web', 'app=web'],
    ['app==web', 'app==web'],
    ['app!=web', 'app!=web'],
    ['app', 'app'],
    ['!app', '!app'],
    ['  tier in ( b , a ) , app = web ', 'app=web,tier in (a,b)'],
    ['tier notin (x)', 'tier notin (x)'],
    ['x in (b,a,b)', 'x in (a,b)'],
    ['x in ()', 'x in ()'],
    ['x in (a,,b)', 'x in (,a,b)'],
    ['x in (,a)', 'x in (,a)'],
    ['x=', 'x='],
    ['x=,y', 'x=,y'],
    ['a>5,b<10', 'a>5,b<10'],
    ['example.com/app=web', 'example.com/app=web'],
    ['in=notin', 'in=notin'],
    ['z,a,m=1', 'a,m=1,z'],
    ['a\tin\n(x)', 'a in (x)'],
  ])('%j -> %j', (input, canonical) => {
    expect(parseSelector(input).toString()).toBe(canonical);
  });

  it('treats an absent selector as everything', () => {
    expect(parseSelector(undefined).empty()).toBe(true);
    expect(parseSelector(null).matches({ a: 'b' })).toBe(true);
  });

  it('exposes requirements', () => {
    expect(parseSelector('tier in (b,a),!legacy,app=web').requirements).toEqual([
      { key: 'app', operator: '=', values: ['web'] },
      { key: 'legacy', operator: '!', values: [] },
      { key: 'tier', operator: 'in', values: ['a', 'b'] },
    ]);
    expect(parseSelector('a').requirements).toEqual([{ key: 'a', operator: 'exists', values: [] }]);
  });

  it.each([
    ['a in', "unable to parse requirement: found '' expected: '('"],
    ['a in (', "unable to parse requirement: found '', expected: ',', ')' or identifier"],
    ['a in (x', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['a in (x y)', "unable to parse requirement: found 'y', expected: ',' or ')'"],
    ['a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ['a in (x,=)', "unable to parse requirement: found '=', expected: ',', or identifier"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a=(b)', "unable to parse requirement: found '(', expected: identifier"],
    ['a,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['=a', "found '=', expected: !, identifier, or 'end of string'"],
    ['!', "unable to parse requirement: found '', expected: identifier"],
    ['!a=b', "found '=', expected: ',' or 'end of string'"],
    ['a>x', "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"],
    ['a$b', `unable to parse requirement: <nil>: Invalid value: "a$b": ${NAME_PART_MSG}`],
    ['app=a$b', `unable to parse requirement: values[0][app]: Invalid value: "a$b": ${LABEL_VALUE_MSG}`],
  ])('rejects %j', (input, message) => {
    const e = parseError(input);
    expect(e.code).toBe(400);
    expect(e.reason).toBe('BadRequest');
    expect(e.message).toBe(message);
  });

  it('treats a NUL character as the Go lexer does', () => {
    // It ends the identifier it interrupts, and ends the input where a token would start.
    expect(parseSelector('a=b\u0000,c').toString()).toBe('a=b,c');
    expect(parseSelector('a=b \u0000,c').toString()).toBe('a=b');
    expect(parseSelector('a=b,\u0000c').toString()).toBe('a=b,c');
    expect(parseError('a=b, \u0000c').message).toBe("found '', expected: identifier after ','");
  });
});

describe('matching', () => {
  const labels = { app: 'web', tier: 'frontend', replicas: '3' };

  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['app!=web', false],
    ['missing!=x', true],
    ['missing=x', false],
    ['tier in (frontend,backend)', true],
    ['tier in (backend)', false],
    ['tier notin (backend)', true],
    ['tier notin (frontend)', false],
    ['missing notin (x)', true],
    ['missing in (x)', false],
    ['app', true],
    ['missing', false],
    ['!missing', true],
    ['!app', false],
    ['replicas>2', true],
    ['replicas>3', false],
    ['replicas<4', true],
    ['app>1', false],
    ['missing<5', false],
    ['app=web,tier=frontend', true],
    ['app=web,tier=backend', false],
  ])('%j matches: %s', (sel, want) => {
    expect(parseSelector(sel).matches(labels)).toBe(want);
  });

  it('handles objects without labels', () => {
    expect(parseSelector('!a').matches(undefined)).toBe(true);
    expect(parseSelector('a').matches(null)).toBe(false);
    expect(parseSelector('').matches(undefined)).toBe(true);
    expect(parseSelector('a!=b').matches({})).toBe(true);
  });

  it('does not see inherited properties as labels', () => {
    expect(parseSelector('constructor').matches({})).toBe(false);
    expect(parseSelector('!toString').matches({})).toBe(true);
  });

  it('compares gt/lt as 64-bit integers', () => {
    expect(parseSelector('n>9007199254740993').matches({ n: '9007199254740994' })).toBe(true);
    expect(parseSelector('n<0').matches({ n: '-1' })).toBe(true);
    expect(parseSelector('n>1').matches({ n: '99999999999999999999' })).toBe(false);
  });
});

describe('Selector', () => {
  it('everything and nothing', () => {
    expect(everything().empty()).toBe(true);
    expect(everything().matches({ a: 'b' })).toBe(true);
    expect(everything().toString()).toBe('');
    expect(nothing().empty()).toBe(false);
    expect(nothing().matchesNothing()).toBe(true);
    expect(nothing().matches({})).toBe(false);
    expect(nothing().toString()).toBe('');
    expect(nothing().add({ key: 'a', operator: 'exists', values: [] })).toBe(nothing());
    expect(Selector.everything()).toBe(everything());
    expect(parseSelector('a').empty()).toBe(false);
  });

  it('requiresExactMatch', () => {
    const s = parseSelector('app=web,tier in (a),zone in (x,y),env!=prod');
    expect(s.requiresExactMatch('app')).toBe('web');
    expect(s.requiresExactMatch('tier')).toBe('a');
    expect(s.requiresExactMatch('zone')).toBeUndefined();
    expect(s.requiresExactMatch('env')).toBeUndefined();
    expect(s.requiresExactMatch('nope')).toBeUndefined();
  });

  it('add keeps requirements sorted by key', () => {
    const s = parseSelector('b=1').add(newRequirement('a', 'in', ['y', 'x']));
    expect(s.toString()).toBe('a in (x,y),b=1');
  });

  it('selectorFromSet', () => {
    expect(selectorFromSet({ b: '2', a: '1' }).toString()).toBe('a=1,b=2');
    expect(selectorFromSet({}).empty()).toBe(true);
    expect(selectorFromSet(undefined).empty()).toBe(true);
    expect(selectorFromSet({ a: '1' }).matches({ a: '1', b: '2' })).toBe(true);
  });
});

describe('newRequirement', () => {
  it('checks operator and values', () => {
    expect(() => newRequirement('a', 'in', [])).toThrow(
      "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
    );
    expect(() => newRequirement('a', '=', ['x', 'y'])).toThrow(
      'values: Invalid value: ["x","y"]: exact-match compatibility requires one single value',
    );
    expect(() => newRequirement('a', 'exists', ['x'])).toThrow(
      'values: Invalid value: ["x"]: values set must be empty for exists and does not exist',
    );
    expect(() => newRequirement('a', 'gt', ['1', '2'])).toThrow("for 'Gt', 'Lt' operators, exactly one value is required");
    expect(() => newRequirement('a', 'bogus' as never, [])).toThrow(
      'operator: Unsupported value: "bogus": supported values: "in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"',
    );
    expect(() => newRequirement('-a', 'exists')).toThrow(`key: Invalid value: "-a": ${NAME_PART_MSG}`);
    expect(newRequirement('a', 'notin', ['x'])).toEqual({ key: 'a', operator: 'notin', values: ['x'] });
  });
});

describe('selectorFromLabelSelector', () => {
  it('null selects nothing, unless told otherwise; empty selects everything', () => {
    expect(selectorFromLabelSelector(null).matchesNothing()).toBe(true);
    expect(selectorFromLabelSelector(undefined).matches({})).toBe(false);
    expect(selectorFromLabelSelector(null, { nullSelects: 'everything' }).matches({})).toBe(true);
    expect(selectorFromLabelSelector({}).empty()).toBe(true);
    expect(selectorFromLabelSelector({ matchLabels: {}, matchExpressions: [] }).matches({ a: 'b' })).toBe(true);
  });

  it('combines matchLabels and matchExpressions', () => {
    const s = selectorFromLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['frontend', 'cache'] },
        { key: 'legacy', operator: 'DoesNotExist' },
        { key: 'zone', operator: 'Exists' },
        { key: 'env', operator: 'NotIn', values: ['prod'] },
      ],
    });
    expect(s.toString()).toBe('app=web,env notin (prod),!legacy,tier in (cache,frontend),zone');
    expect(s.matches({ app: 'web', tier: 'cache', zone: 'a' })).toBe(true);
    expect(s.matches({ app: 'web', tier: 'cache', zone: 'a', legacy: 'y' })).toBe(false);
    expect(s.matches({ app: 'web', tier: 'cache', zone: 'a', env: 'prod' })).toBe(false);
    expect(s.matches({ app: 'web', tier: 'cache' })).toBe(false);
  });

  it('reports bad selectors as 400s with kube messages', () => {
    expect(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] })).toThrow(
      '"Gt" is not a valid label selector operator',
    );
    expect(() => selectorFromLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] })).toThrow(
      "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
    );
    expect(() => selectorFromLabelSelector({ matchLabels: { 'a b': 'c' } })).toThrow(`key: Invalid value: "a b": ${NAME_PART_MSG}`);
    try {
      selectorFromLabelSelector({ matchLabels: { a: 'b c' } });
    } catch (e) {
      expect((e as StatusError).code).toBe(400);
      expect((e as StatusError).message).toBe(`values[0][a]: Invalid value: "b c": ${LABEL_VALUE_MSG}`);
    }
  });
});

describe('validateLabelSelector', () => {
  it('accepts good selectors', () => {
    expect(validateLabelSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'a', operator: 'Exists' }] }, 'spec.selector')).toEqual(
      [],
    );
    expect(validateLabelSelector(null, 'spec.selector')).toEqual([]);
  });

  it('reports each problem at its path', () => {
    const causes = validateLabelSelector(
      {
        matchLabels: { 'bad key': 'v' },
        matchExpressions: [
          { key: 'a', operator: 'In', values: [] },
          { key: 'b', operator: 'Exists', values: ['x'] },
          { key: '-c', operator: 'Bogus' },
          { key: 'd', operator: 'NotIn', values: ['ok', 'not ok'] },
        ],
      },
      'spec.selector',
    );
    expect(causes.map((c) => [c.reason, c.field, c.message])).toEqual([
      ['FieldValueInvalid', 'spec.selector.matchLabels', `Invalid value: "bad key": ${NAME_PART_MSG}`],
      ['FieldValueRequired', 'spec.selector.matchExpressions[0].values', "Required value: must be specified when `operator` is 'In' or 'NotIn'"],
      [
        'FieldValueForbidden',
        'spec.selector.matchExpressions[1].values',
        "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
      ],
      ['FieldValueInvalid', 'spec.selector.matchExpressions[2].operator', 'Invalid value: "Bogus": not a valid selector operator'],
      ['FieldValueInvalid', 'spec.selector.matchExpressions[2].key', `Invalid value: "-c": ${NAME_PART_MSG}`],
      ['FieldValueInvalid', 'spec.selector.matchExpressions[3].values[1]', `Invalid value: "not ok": ${LABEL_VALUE_MSG}`],
    ]);
  });
});

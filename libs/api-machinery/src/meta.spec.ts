import {
  MAX_GENERATED_NAME_BASE_LENGTH,
  NAME_SUFFIX_ALPHABET,
  age,
  generateName,
  generateNameSuffix,
  humanDuration,
  newUid,
  rfc3339,
  rfc3339Micro,
  shortHumanDuration,
} from './meta';

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;
const y = 365 * d;

describe('humanDuration', () => {
  it.each([
    [-2 * s, '<invalid>'],
    [-1999, '0s'],
    [-1 * s, '0s'],
    [0, '0s'],
    [999, '0s'],
    [5 * s, '5s'],
    [59 * s, '59s'],
    [119 * s, '119s'],
    [2 * m, '2m'],
    [3 * m + 2 * s, '3m2s'],
    [9 * m + 59 * s, '9m59s'],
    [10 * m, '10m'],
    [10 * m + 30 * s, '10m'],
    [179 * m, '179m'],
    [3 * h, '3h'],
    [5 * h + 30 * m, '5h30m'],
    [7 * h + 59 * m, '7h59m'],
    [8 * h, '8h'],
    [47 * h + 59 * m, '47h'],
    [48 * h, '2d'],
    [2 * d + 3 * h, '2d3h'],
    [7 * d + 23 * h, '7d23h'],
    [8 * d, '8d'],
    [729 * d, '729d'],
    [2 * y, '2y'],
    [2 * y + 45 * d, '2y45d'],
    [7 * y + 364 * d, '7y364d'],
    [8 * y, '8y'],
    [50 * y + 100 * d, '50y'],
  ])('%d ms -> %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

it('refuses non-finite durations', () => {
  expect(humanDuration(NaN)).toBe('<invalid>');
  expect(shortHumanDuration(Infinity)).toBe('<invalid>');
});

describe('shortHumanDuration', () => {
  it.each([
    [-2 * s, '<invalid>'],
    [-1 * s, '0s'],
    [59 * s, '59s'],
    [60 * s, '1m'],
    [59 * m, '59m'],
    [23 * h, '23h'],
    [364 * d, '364d'],
    [3 * y, '3y'],
  ])('%d ms -> %s', (ms, want) => {
    expect(shortHumanDuration(ms)).toBe(want);
  });
});

describe('age', () => {
  it('is the human duration since a timestamp', () => {
    const now = Date.parse('2026-11-24T05:00:00Z');
    expect(age('2026-11-24T04:57:00Z', now)).toBe('3m');
    expect(age('2026-11-22T02:00:00Z', now)).toBe('2d3h');
    expect(age(undefined, now)).toBe('<unknown>');
    expect(age('garbage', now)).toBe('<unknown>');
  });
});

describe('timestamps', () => {
  it('rfc3339 has seconds precision in UTC', () => {
    expect(rfc3339(Date.UTC(2026, 10, 24, 5, 0, 0, 789))).toBe('2026-11-24T05:00:00Z');
    expect(rfc3339(new Date('2026-01-02T03:04:05.678+02:00'))).toBe('2026-01-02T01:04:05Z');
  });

  it('rfc3339Micro has microseconds', () => {
    expect(rfc3339Micro(Date.UTC(2026, 10, 24, 5, 0, 0, 789))).toBe('2026-11-24T05:00:00.789000Z');
  });
});

describe('names and uids', () => {
  it('generateNameSuffix uses kube alphabet', () => {
    expect(NAME_SUFFIX_ALPHABET).toBe('bcdfghjklmnpqrstvwxz2456789');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const suffix = generateNameSuffix();
      expect(suffix).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      seen.add(suffix);
    }
    expect(seen.size).toBeGreaterThan(190);
    expect(generateNameSuffix(10)).toHaveLength(10);
  });

  it('generateName cuts long bases to 58 characters', () => {
    expect(generateName('web-')).toMatch(/^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const long = generateName('x'.repeat(100));
    expect(long).toHaveLength(MAX_GENERATED_NAME_BASE_LENGTH + 5);
    expect(long.startsWith('x'.repeat(58))).toBe(true);
  });

  it('newUid is a random UUID', () => {
    const a = newUid();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newUid()).not.toBe(a);
  });
});

import { formatDuration, formatTime, parseDuration, parseTime } from './custom';
import { K8sProtobufError } from './errors';

describe('Go time.Duration formatting', () => {
  // The cases of Go's time.TestDurationString.
  it.each<[string, bigint]>([
    ['0s', 0n],
    ['1ns', 1n],
    ['1.1µs', 1100n],
    ['2.2ms', 2_200_000n],
    ['3.3s', 3_300_000_000n],
    ['4m5s', 245_000_000_000n],
    ['4m5.001s', 245_001_000_000n],
    ['5h6m7.001s', 18_367_001_000_000n],
    ['8m0.000000001s', 480_000_000_001n],
    ['2562047h47m16.854775807s', 9_223_372_036_854_775_807n],
    ['-2562047h47m16.854775808s', -9_223_372_036_854_775_808n],
    ['5m0s', 300_000_000_000n],
    ['1h0m0s', 3_600_000_000_000n],
    ['-1s', -1_000_000_000n],
  ])('%s', (text, ns) => {
    expect(formatDuration(ns)).toBe(text);
    expect(parseDuration(text, 'd')).toBe(ns);
  });

  it('parses what Go parses', () => {
    expect(parseDuration('1h30m', 'd')).toBe(5_400_000_000_000n);
    expect(parseDuration('1.5h', 'd')).toBe(5_400_000_000_000n);
    expect(parseDuration('-1.5s', 'd')).toBe(-1_500_000_000n);
    expect(parseDuration('+300ms', 'd')).toBe(300_000_000n);
    expect(parseDuration('1us', 'd')).toBe(1000n);
    expect(parseDuration('0', 'd')).toBe(0n);
    for (const bad of ['', '1', '1x', '.s', 's', '1h-1m', '9999999999h']) {
      expect(() => parseDuration(bad, 'd')).toThrow(K8sProtobufError);
    }
  });
});

describe('RFC 3339 times', () => {
  it('formats as Go does (UTC, seconds or microseconds)', () => {
    expect(formatTime(0n, 0, false, 't')).toBe('1970-01-01T00:00:00Z');
    expect(formatTime(1700000000n, 0, false, 't')).toBe('2023-11-14T22:13:20Z');
    expect(formatTime(1700000000n, 123456789, true, 't')).toBe('2023-11-14T22:13:20.123456Z');
    expect(formatTime(-62135596799n, 0, false, 't')).toBe('0001-01-01T00:00:01Z');
    expect(formatTime(253402300799n, 0, false, 't')).toBe('9999-12-31T23:59:59Z');
    expect(() => formatTime(2n ** 62n, 0, false, 't')).toThrow(/out of range/);
  });

  it('parses RFC 3339 with offsets and fractions', () => {
    expect(parseTime('2023-11-14T22:13:20Z', 't')).toEqual([1700000000n, 0]);
    expect(parseTime('2023-11-15T00:13:20+02:00', 't')).toEqual([1700000000n, 0]);
    expect(parseTime('2023-11-14T22:13:20.5Z', 't')).toEqual([1700000000n, 500000000]);
    expect(parseTime('0001-01-01T00:00:00Z', 't')).toEqual([-62135596800n, 0]);
    for (const bad of ['', '2023-11-14', '2023-02-30T00:00:00Z', '2023-11-14T24:00:00Z', '2023-11-14 22:13:20Z']) {
      expect(() => parseTime(bad, 't')).toThrow(K8sProtobufError);
    }
  });
});

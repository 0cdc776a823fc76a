import { cidrsOverlap, nthAddress, parseCidr } from './net';

test('parseCidr and nthAddress', () => {
  const v4 = parseCidr('10.96.0.0/12');
  expect(v4.family).toBe(4);
  expect(v4.prefix).toBe(12);
  expect(nthAddress(v4, 1)).toBe('10.96.0.1');
  expect(nthAddress(v4, 10)).toBe('10.96.0.10');
  expect(nthAddress(v4, 300)).toBe('10.96.1.44');
  expect(() => nthAddress(parseCidr('10.0.0.0/30'), 4)).toThrow(/no address number 4/);
  const v6 = parseCidr('fd00:10:96::/108');
  expect(nthAddress(v6, 1)).toBe('fd00:10:96::1');
  expect(nthAddress(v6, 10)).toBe('fd00:10:96::a');
  expect(parseCidr('0.0.0.0/0').prefix).toBe(0);
  expect(() => parseCidr('10.0.0.0')).toThrow(/not a CIDR/);
  expect(() => parseCidr('10.0.0.0/')).toThrow(/not a CIDR/);
  expect(() => parseCidr('fd00::/129')).toThrow(/longer than 128/);
  expect(() => parseCidr('10.0.0.1/8')).toThrow(/did you mean 10.0.0.0\/8/);
});

test('cidrsOverlap', () => {
  expect(cidrsOverlap(parseCidr('10.96.0.0/12'), parseCidr('10.100.0.0/16'))).toBe(true);
  expect(cidrsOverlap(parseCidr('10.96.0.0/12'), parseCidr('10.244.0.0/16'))).toBe(false);
  expect(cidrsOverlap(parseCidr('10.0.0.0/8'), parseCidr('10.96.0.0/12'))).toBe(true);
  expect(cidrsOverlap(parseCidr('fd00::/8'), parseCidr('10.0.0.0/8'))).toBe(false);
});

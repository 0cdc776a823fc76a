import { cidrContains, ipToNumber, ipToString, parseCidr } from './net';

describe('IPv4 and CIDR helpers', () => {
  it('convert addresses both ways and refuse what is not a dotted quad', () => {
    expect(ipToNumber('10.244.3.1')).toBe(0x0af40301);
    expect(ipToString(0x0af40301)).toBe('10.244.3.1');
    expect(ipToNumber('256.1.1.1')).toBeUndefined();
    expect(ipToNumber('10.1.1')).toBeUndefined();
    expect(ipToNumber('::1')).toBeUndefined();
  });

  it('parse a CIDR, clearing host bits, within the allowed prefix lengths', () => {
    const c = parseCidr('10.96.0.1/12', 8, 30);
    expect(c).toEqual({ base: 0x0a600000, bits: 12, size: 2 ** 20, text: '10.96.0.0/12' });
    expect(cidrContains(c, ipToNumber('10.111.255.255')!)).toBe(true);
    expect(cidrContains(c, ipToNumber('10.112.0.0')!)).toBe(false);
    expect(parseCidr('0.0.0.0/0').size).toBe(2 ** 32);
    expect(() => parseCidr('10.0.0.0/31', 8, 30)).toThrow(/prefix length from 8 to 30/);
    expect(() => parseCidr('10.0.0.0')).toThrow(/invalid CIDR/);
    expect(() => parseCidr('fd00::/64')).toThrow(/invalid CIDR/);
  });
});

import { CidrSet } from './allocator';

describe('CidrSet (node pod CIDRs from the cluster CIDR)', () => {
  it('hands out the lowest free block, reuses released ones, and says when it is full', () => {
    const set = new CidrSet('10.244.0.0/22', 24);
    expect(set.blocks).toBe(4);
    expect(set.occupy('10.244.1.0/24')).toBe(true);
    expect(set.allocate()).toBe('10.244.0.0/24');
    expect(set.allocate()).toBe('10.244.2.0/24');
    expect(set.allocate()).toBe('10.244.3.0/24');
    expect(set.allocate()).toBeUndefined();
    set.release('10.244.2.0/24');
    expect(set.allocate()).toBe('10.244.2.0/24');
  });

  it('knows its own blocks only', () => {
    const set = new CidrSet('10.244.0.0/16', 24);
    expect(set.indexOf('10.244.7.0/24')).toBe(7);
    expect(set.occupy('10.245.0.0/24')).toBe(false); // outside
    expect(set.occupy('10.244.7.0/25')).toBe(false); // another size
    expect(set.occupy('10.244.7.128/24')).toBe(false); // not a block boundary
    expect(set.cidrOf(255)).toBe('10.244.255.0/24');
  });

  it('refuses mask sizes that do not fit the cluster CIDR', () => {
    expect(() => new CidrSet('10.244.0.0/16', 8)).toThrow(/between the cluster CIDR's prefix length \(16\) and 32/);
    expect(() => new CidrSet('10.0.0.0/8', 28)).toThrow(/more than 65536/);
    expect(() => new CidrSet('not-a-cidr', 24)).toThrow(/invalid CIDR/);
  });
});

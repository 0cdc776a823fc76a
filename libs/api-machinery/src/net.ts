// IPv4 addresses and CIDR ranges as numbers: what the ClusterIP allocator and
// the node IPAM controller carve ranges with.

export interface Cidr {
  /** network address as uint32 */
  base: number;
  /** prefix length */
  bits: number;
  /** number of addresses */
  size: number;
  text: string;
}

/** An IPv4 address as uint32, or undefined when `ip` is not a dotted quad. */
export function ipToNumber(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function ipToString(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** An IPv4 CIDR with a prefix length in [minBits, maxBits]; host bits are cleared. Throws on anything else. */
export function parseCidr(text: string, minBits = 0, maxBits = 32): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const addr = m ? ipToNumber(m[1]!) : undefined;
  const bits = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(bits >= minBits && bits <= maxBits)) {
    throw new Error(`invalid CIDR ${JSON.stringify(text)} (an IPv4 CIDR with a prefix length from ${minBits} to ${maxBits}, such as 10.96.0.0/12, is expected)`);
  }
  const size = 2 ** (32 - bits);
  const base = size === 2 ** 32 ? 0 : (addr & ~(size - 1)) >>> 0;
  return { base, bits, size, text: `${ipToString(base)}/${bits}` };
}

/** Whether `ip` (uint32) lies in `c`. */
export function cidrContains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + c.size;
}

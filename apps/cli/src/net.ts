// IP/CIDR arithmetic for the networking section of the init configuration.
import { formatIP, parseIP } from '@kubets/pki';

export interface Cidr {
  /** As written, e.g. "10.96.0.0/12". */
  text: string;
  family: 4 | 6;
  /** The network address as an integer. */
  base: bigint;
  prefix: number;
}

function bitsOf(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function toBigint(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function fromBigint(value: bigint, family: 4 | 6): string {
  const len = family === 4 ? 4 : 16;
  return formatIP(Buffer.from(value.toString(16).padStart(len * 2, '0'), 'hex'));
}

/** An IPv4 or IPv6 address family, or undefined when `text` is not an IP. */
export function ipFamily(text: string): 4 | 6 | undefined {
  const bytes = parseIP(text);
  return bytes ? (bytes.length === 4 ? 4 : 6) : undefined;
}

/**
 * Parse "a.b.c.d/n" or "x::/n". Strict: the address must be the network
 * address (no host bits set), as kube-apiserver's --service-cluster-ip-range
 * effectively requires.
 */
export function parseCidr(text: string): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  const bytes = m ? parseIP(m[1]!) : undefined;
  if (!m || !bytes) throw new Error(`"${text}" is not a CIDR (want e.g. 10.96.0.0/12 or fd00::/108)`);
  const family = bytes.length === 4 ? 4 : 6;
  const prefix = Number(m[2]);
  const bits = bitsOf(family);
  if (prefix > bits) throw new Error(`"${text}": prefix length ${prefix} is longer than ${bits}`);
  const value = toBigint(bytes);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((value & hostMask) !== 0n) {
    throw new Error(`"${text}" has host bits set (did you mean ${fromBigint(value & ~hostMask, family)}/${prefix}?)`);
  }
  return { text: text.trim(), family, base: value, prefix };
}

/** The n-th address of the range (n = 1: the first usable one, e.g. 10.96.0.1). */
export function nthAddress(cidr: Cidr, n: number | bigint): string {
  const size = 1n << BigInt(bitsOf(cidr.family) - cidr.prefix);
  const offset = BigInt(n);
  if (offset < 0n || offset >= size) throw new Error(`${cidr.text} has no address number ${offset}`);
  return fromBigint(cidr.base + offset, cidr.family);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  const shift = BigInt(bitsOf(a.family) - prefix);
  return a.base >> shift === b.base >> shift;
}

/** Number of host bits of the range. */
export function hostBits(cidr: Cidr): number {
  return bitsOf(cidr.family) - cidr.prefix;
}

/**
 * Leases, as etcd 3.4 keeps them.
 *
 * Replicated state (changed only by applying Raft entries, identical on every
 * member and saved in snapshots): each lease's id, granted TTL and the keys
 * attached to it.
 *
 * Leader-local state (never replicated): when each lease expires. Only the
 * leader tracks expiry; keep-alives renew it there; expired leases are
 * revoked by the leader proposing LeaseRevoke through Raft, so the deletion
 * of their keys is itself replicated. A member that becomes leader gives
 * every lease a full TTL from that moment (etcd's "promote"), so a leader
 * change never expires a lease early; a member that stops leading forgets
 * expiry times.
 */

export const NO_LEASE = 0n;
/** etcd's upper bound for a TTL, in seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;

export interface LeaseInfo {
  id: bigint;
  /** Granted TTL, in seconds. */
  ttl: number;
  keys: Set<string>;
  /** Leader only: monotonic ms when it expires; Infinity elsewhere. */
  expiresAt: number;
}

export class Lessor {
  private readonly leases = new Map<bigint, LeaseInfo>();
  private primary = false;

  constructor(
    /** Leases shorter than this get this TTL (etcd: 1.5 election timeouts, rounded up to a second). */
    readonly minTtl: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get isPrimary(): boolean {
    return this.primary;
  }

  get size(): number {
    return this.leases.size;
  }

  lookup(id: bigint): LeaseInfo | undefined {
    return this.leases.get(id);
  }

  ids(): bigint[] {
    return [...this.leases.keys()];
  }

  // ---- replicated (apply) ----

  /** Apply a grant. The caller checked that the id is free and the TTL not too large. */
  grant(id: bigint, ttl: number): LeaseInfo {
    const effective = Math.max(ttl, this.minTtl);
    const info: LeaseInfo = {
      id,
      ttl: effective,
      keys: new Set(),
      expiresAt: this.primary ? this.now() + effective * 1000 : Infinity,
    };
    this.leases.set(id, info);
    return info;
  }

  /** Forget a lease (its keys were deleted by the caller in the same apply). */
  remove(id: bigint): void {
    this.leases.delete(id);
  }

  attach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.add(key);
  }

  detach(id: bigint, key: string): void {
    this.leases.get(id)?.keys.delete(key);
  }

  /** Replace all state (snapshot restore). */
  restore(leases: Array<{ id: bigint; ttl: number; keys: string[] }>): void {
    this.leases.clear();
    for (const l of leases) {
      this.leases.set(l.id, {
        id: l.id,
        ttl: l.ttl,
        keys: new Set(l.keys),
        expiresAt: this.primary ? this.now() + l.ttl * 1000 : Infinity,
      });
    }
  }

  // ---- leader-local ----

  /** This member became leader: every lease gets a full TTL from now. */
  promote(): void {
    this.primary = true;
    const now = this.now();
    for (const l of this.leases.values()) l.expiresAt = now + l.ttl * 1000;
  }

  /** This member stopped leading: expiry is the new leader's business. */
  demote(): void {
    this.primary = false;
    for (const l of this.leases.values()) l.expiresAt = Infinity;
  }

  /** Keep-alive on the leader: returns the TTL granted, or undefined if the lease is unknown or already expired. */
  renew(id: bigint): number | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    const now = this.now();
    if (l.expiresAt <= now) return undefined;
    l.expiresAt = now + l.ttl * 1000;
    return l.ttl;
  }

  /** Remaining seconds (rounded up, as etcd reports), on the leader. */
  remaining(id: bigint): number | undefined {
    const l = this.leases.get(id);
    if (!l) return undefined;
    if (!Number.isFinite(l.expiresAt)) return l.ttl;
    return Math.max(0, Math.ceil((l.expiresAt - this.now()) / 1000));
  }

  /** Leases past their expiry, oldest first (leader only). */
  expired(limit = 1000): bigint[] {
    if (!this.primary) return [];
    const now = this.now();
    const out: LeaseInfo[] = [];
    for (const l of this.leases.values()) if (l.expiresAt <= now) out.push(l);
    out.sort((a, b) => a.expiresAt - b.expiresAt);
    return out.slice(0, limit).map((l) => l.id);
  }
}

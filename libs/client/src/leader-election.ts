import { isAlreadyExists, isConflict, isNotFound, rfc3339Micro } from '@kubets/api-machinery';
import type { Client } from './client';
import { silentLogger, type Logger } from './logger';
import type { Lease, LeaseSpec } from './types';

/** The Lease calls leader election needs (a ResourceClient<Lease> has them). */
export interface LeaseLock {
  get(namespace: string, name: string): Promise<Lease>;
  create(namespace: string, lease: Lease): Promise<Lease>;
  update(namespace: string, lease: Lease): Promise<Lease>;
}

export interface LeaderCallbacks {
  /**
   * This candidate became the leader. `signal` aborts when leadership ends
   * (lost, or stop). If it returns a promise, a clean stop waits for it
   * (at most renewDeadline) before releasing the lease, so the next leader
   * does not start while this one is still winding down.
   */
  onStartedLeading?(signal: AbortSignal): void | Promise<void>;
  /** Leadership ended (only called after onStartedLeading). */
  onStoppedLeading?(): void;
  /** The observed leader changed (this candidate included); not called for an unheld lease. */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions extends LeaderCallbacks {
  /** the API client (its `leases`), or any LeaseLock */
  client?: Client;
  lock?: LeaseLock;
  /** the Lease: coordination.k8s.io/v1 leases/<namespace>/<name> */
  namespace: string;
  name: string;
  /** this candidate's holderIdentity (unique among candidates: hostname_uuid is usual) */
  identity: string;
  /** how long others wait after the last observed change before taking over (default 15 s; the Lease stores whole seconds) */
  leaseDurationMs?: number;
  /** how long the leader keeps retrying to renew before it steps down (default 10 s) */
  renewDeadlineMs?: number;
  /** how often candidates try to acquire and the leader renews (default 2 s) */
  retryPeriodMs?: number;
  /** on stop, clear holderIdentity so a standby takes over at once (default true) */
  releaseOnCancel?: boolean;
  log?: Logger;
  /** the clock (tests) */
  now?: () => number;
}

/** client-go's JitterFactor for the acquire retry period. */
export const JITTER_FACTOR = 1.2;

function sameSpec(a: LeaseSpec | undefined, b: LeaseSpec | undefined): boolean {
  const norm = (s: LeaseSpec | undefined) =>
    JSON.stringify([s?.holderIdentity ?? '', s?.leaseDurationSeconds ?? 0, s?.acquireTime ?? '', s?.renewTime ?? '', s?.leaseTransitions ?? 0, s?.preferredHolder ?? '', s?.strategy ?? '']);
  return norm(a) === norm(b);
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * leaderelection semantics:
 * - a candidate takes the lease when it is unheld (no holderIdentity) or
 *   expired: unchanged, as observed by this candidate's own clock, for the
 *   lease's leaseDurationSeconds;
 * - the leader renews every retryPeriod; if it has not renewed within
 *   renewDeadline of its last successful renewal (counted from when that
 *   request was sent) it steps down, even while a request hangs; it also
 *   steps down at once if it sees someone else holding the lease;
 * - every write is an update guarded by the Lease's resourceVersion, so of
 *   two candidates racing for an expired lease only one wins;
 * - holderIdentity, acquireTime and renewTime (MicroTime, RFC 3339 with
 *   microseconds), leaseDurationSeconds and leaseTransitions (bumped when the
 *   holder changes) are maintained as client-go does;
 * - a clean stop releases the lease (holderIdentity cleared,
 *   leaseDurationSeconds 1), so a standby takes over within its retry period.
 * Since renewDeadline < leaseDuration, a leader that loses contact stops
 * before any other candidate can take over.
 */
export class LeaderElector {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly lock: LeaseLock;
  private readonly log: Logger;
  private readonly now: () => number;
  /** the last Lease read or written */
  private lease: Lease | undefined;
  private observedSpec: LeaseSpec | undefined;
  /** when (local clock) the observed record last changed */
  private observedTime = 0;
  private reportedLeader = '';
  private leading = false;
  private abort: AbortController | undefined;
  private work: Promise<void> | undefined;
  private lastRenewSentAt = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private runPromise: Promise<void> | undefined;
  private stopRequested = false;
  private releaseOnStop: boolean;
  private wake: (() => void) | undefined;
  private stopped: Promise<false> = new Promise(() => {});
  private signalStopped: () => void = () => {};

  constructor(private readonly o: LeaderElectorOptions) {
    this.identity = o.identity;
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
    this.releaseOnStop = o.releaseOnCancel ?? true;
    if (!o.identity) throw new Error('leader election: identity must not be empty');
    if (!o.namespace || !o.name) throw new Error('leader election: the lease needs a namespace and a name');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) throw new Error('leader election: leaseDuration must be greater than renewDeadline');
    if (!(this.renewDeadlineMs > JITTER_FACTOR * this.retryPeriodMs)) throw new Error(`leader election: renewDeadline must be greater than retryPeriod*${JITTER_FACTOR}`);
    if (!(this.retryPeriodMs > 0)) throw new Error('leader election: retryPeriod must be greater than zero');
    const lock = o.lock ?? o.client?.leases;
    if (!lock) throw new Error('leader election: a client or a lock is required');
    this.lock = lock as LeaseLock;
    this.log = o.log ?? o.client?.log ?? silentLogger;
    this.now = o.now ?? Date.now;
  }

  /** True while this candidate leads. */
  isLeader(): boolean {
    return this.leading;
  }

  /** The holder this candidate last observed ('' when unheld or unknown). */
  getLeader(): string {
    return this.observedSpec?.holderIdentity ?? '';
  }

  /** The lease as last read or written. */
  get observedLease(): Lease | undefined {
    return this.lease;
  }

  /**
   * Campaigns, leads, and resolves when leadership ends (lost, or `stop()`),
   * or when stopped before it ever led. Calling it again campaigns again.
   */
  run(): Promise<void> {
    if (this.runPromise) return this.runPromise;
    this.stopRequested = false;
    this.releaseOnStop = this.o.releaseOnCancel ?? true;
    this.stopped = new Promise<false>((resolve) => (this.signalStopped = () => resolve(false)));
    this.runPromise = this.loop().finally(() => {
      this.runPromise = undefined;
    });
    return this.runPromise;
  }

  /** run() without waiting; errors are logged. */
  start(): this {
    this.run().catch((e) => this.log.error({ lease: this.leaseName, err: (e as Error).message }, 'leader election failed'));
    return this;
  }

  /**
   * Stops campaigning or leading. A leader aborts its work, waits for it
   * (see onStartedLeading) and, unless `release: false` (or
   * releaseOnCancel: false), clears holderIdentity so a standby takes over
   * at once. Without a release the others take over after the lease duration
   * (what a crash looks like).
   */
  async stop(o: { release?: boolean } = {}): Promise<void> {
    this.stopRequested = true;
    if (o.release !== undefined) this.releaseOnStop = o.release;
    this.signalStopped();
    this.wake?.();
    await this.runPromise;
  }

  private get leaseName(): string {
    return `${this.o.namespace}/${this.o.name}`;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    // Campaign.
    for (;;) {
      if (this.stopRequested) return;
      const sentAt = this.now();
      const ok = await this.attempt();
      if (ok) {
        this.lastRenewSentAt = sentAt;
        break;
      }
      if (this.stopRequested) return;
      await this.sleep(this.retryPeriodMs * (1 + Math.random() * (JITTER_FACTOR - 1)));
    }
    if (this.stopRequested) {
      // Won the lease while being stopped: hand it back.
      if (this.releaseOnStop) await this.bounded(this.release());
      return;
    }
    this.becomeLeader();
    // Lead: renew every retryPeriod until stopped or the deadline passes.
    while (this.leading && !this.stopRequested) {
      await this.sleep(this.retryPeriodMs);
      if (!this.leading || this.stopRequested) break;
      const sentAt = this.now();
      const ok = await this.attempt();
      if (!this.leading) break;
      if (ok) {
        this.lastRenewSentAt = sentAt;
        this.armDeadline();
      } else if (this.observedSpec?.holderIdentity && this.observedSpec.holderIdentity !== this.identity) {
        this.stepDown(`the lease is held by ${this.observedSpec.holderIdentity}`);
      } else if (this.now() - this.lastRenewSentAt >= this.renewDeadlineMs) {
        this.stepDown('failed to renew the lease within the renew deadline');
      }
    }
    if (this.leading) {
      // stop() while leading: end the work first, then release.
      const work = this.stepDown('stopped', false);
      if (work) await Promise.race([work.catch(() => {}), new Promise((r) => setTimeout(r, this.renewDeadlineMs).unref?.())]);
      if (this.releaseOnStop) await this.bounded(this.release());
      this.callStopped();
    }
  }

  private becomeLeader(): void {
    this.leading = true;
    this.abort = new AbortController();
    this.armDeadline();
    this.log.info({ lease: this.leaseName, identity: this.identity }, 'successfully acquired lease');
    const cb = this.o.onStartedLeading;
    if (cb) {
      try {
        const r = cb(this.abort.signal);
        this.work = r instanceof Promise ? r.catch((e) => this.log.error({ lease: this.leaseName, err: (e as Error).message }, 'onStartedLeading failed')) : undefined;
      } catch (e) {
        this.log.error({ lease: this.leaseName, err: (e as Error).message }, 'onStartedLeading failed');
      }
    }
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const left = this.lastRenewSentAt + this.renewDeadlineMs - this.now();
    this.deadlineTimer = setTimeout(() => this.stepDown('failed to renew the lease within the renew deadline'), Math.max(0, left));
    this.deadlineTimer.unref?.();
  }

  /** Ends leadership: abort the work and (unless the caller does it later) report onStoppedLeading. */
  private stepDown(reason: string, report = true): Promise<void> | undefined {
    if (!this.leading) return undefined;
    this.leading = false;
    clearTimeout(this.deadlineTimer);
    this.log.info({ lease: this.leaseName, identity: this.identity, reason }, 'leader election lost');
    this.abort?.abort(new Error(reason));
    const work = this.work;
    this.work = undefined;
    if (report) this.callStopped();
    this.wake?.();
    return work;
  }

  private callStopped(): void {
    try {
      this.o.onStoppedLeading?.();
    } catch (e) {
      this.log.error({ lease: this.leaseName, err: (e as Error).message }, 'onStoppedLeading failed');
    }
  }

  private observe(lease: Lease): void {
    this.lease = lease;
    if (!sameSpec(lease.spec, this.observedSpec)) {
      this.observedSpec = { ...(lease.spec ?? {}) };
      this.observedTime = this.now();
    }
    const holder = this.observedSpec?.holderIdentity ?? '';
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      try {
        this.o.onNewLeader?.(holder);
      } catch (e) {
        this.log.error({ lease: this.leaseName, err: (e as Error).message }, 'onNewLeader failed');
      }
    }
  }

  /**
   * One tryAcquireOrRenew, given up (as a failure) after renewDeadline or on
   * stop, so a hung request never holds the loop. A late success of a given
   * up attempt is harmless: this candidate only leads on a success it saw,
   * and others still wait for the lease to expire.
   */
  private attempt(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), this.renewDeadlineMs);
      timer.unref?.();
    });
    return Promise.race([this.tryAcquireOrRenew(), timeout, this.stopped]).finally(() => clearTimeout(timer));
  }

  /** Waits for `p` at most renewDeadline. */
  private async bounded(p: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, this.renewDeadlineMs)))]);
    clearTimeout(timer);
  }

  private leaseSeconds(): number {
    return Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
  }

  /** One attempt (client-go's tryAcquireOrRenew): true when this candidate holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const stamp = rfc3339Micro(now);
    const ns = this.o.namespace;
    // Fast path: the leader updates its own last written lease without reading it first.
    if (this.leading && this.lease && this.observedSpec?.holderIdentity === this.identity) {
      const lease = structuredClone(this.lease);
      lease.spec = { ...lease.spec, holderIdentity: this.identity, leaseDurationSeconds: this.leaseSeconds(), renewTime: stamp };
      try {
        this.observe(await this.lock.update(ns, lease));
        return true;
      } catch (e) {
        this.log.warn({ lease: this.leaseName, err: (e as Error).message }, 'failed to renew lease');
        if (!isConflict(e)) return false;
      }
    }
    let current: Lease;
    try {
      current = await this.lock.get(ns, this.o.name);
    } catch (e) {
      if (!isNotFound(e)) {
        this.log.warn({ lease: this.leaseName, err: (e as Error).message }, 'error retrieving lease');
        return false;
      }
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: ns },
        spec: { holderIdentity: this.identity, leaseDurationSeconds: this.leaseSeconds(), acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
      };
      try {
        this.observe(await this.lock.create(ns, lease));
        return true;
      } catch (err) {
        if (!isAlreadyExists(err)) this.log.warn({ lease: this.leaseName, err: (err as Error).message }, 'error creating lease');
        return false;
      }
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? this.leaseSeconds()) * 1000;
    if (holder !== '' && holder !== this.identity && this.observedTime + durationMs > this.now()) return false; // held and not expired
    const next = structuredClone(current);
    const mine = holder === this.identity;
    next.spec = {
      ...spec,
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseSeconds(),
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : stamp,
      renewTime: stamp,
      leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
    };
    try {
      this.observe(await this.lock.update(ns, next));
      return true;
    } catch (e) {
      if (!isConflict(e)) this.log.warn({ lease: this.leaseName, err: (e as Error).message }, 'failed to update lease');
      return false;
    }
  }

  /** Clears holderIdentity if this candidate still holds the lease (client-go's release). */
  private async release(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      let lease = this.lease;
      if (attempt > 0 || !lease) {
        try {
          lease = await this.lock.get(this.o.namespace, this.o.name);
          this.observe(lease);
        } catch (e) {
          this.log.warn({ lease: this.leaseName, err: (e as Error).message }, 'failed to read the lease to release it');
          return;
        }
      }
      if ((lease.spec?.holderIdentity ?? '') !== this.identity) return;
      const stamp = rfc3339Micro(this.now());
      const next = structuredClone(lease);
      const { holderIdentity: _h, ...rest } = next.spec ?? {};
      void _h;
      next.spec = { ...rest, leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: lease.spec?.leaseTransitions ?? 0 };
      try {
        this.observe(await this.lock.update(this.o.namespace, next));
        this.log.info({ lease: this.leaseName, identity: this.identity }, 'released lease');
        return;
      } catch (e) {
        if (!isConflict(e)) {
          this.log.warn({ lease: this.leaseName, err: (e as Error).message }, 'failed to release lease');
          return;
        }
      }
    }
  }
}

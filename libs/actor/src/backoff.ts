/** Supervision settings of an actor. */
export interface SupervisionOptions {
  /** First restart delay. Default 100 ms. */
  minBackoffMs?: number;
  /** Cap of the restart delay. Default 30 s. */
  maxBackoffMs?: number;
  /** Delay multiplier per consecutive failure. Default 2. */
  factor?: number;
  /** Fraction of random spread added to each delay (0..1). Default 0.2. */
  jitter?: number;
  /** After this long without a failure the delay starts from minBackoffMs again. Default 60 s. */
  resetAfterMs?: number;
  /**
   * More than this many failures within `withinMs` escalate to the parent
   * instead of restarting again. Default 10 in 60 s.
   */
  maxRestarts?: number;
  withinMs?: number;
}

export type ResolvedSupervision = Required<SupervisionOptions>;

export function resolveSupervision(opts: SupervisionOptions = {}): ResolvedSupervision {
  return {
    minBackoffMs: opts.minBackoffMs ?? 100,
    maxBackoffMs: opts.maxBackoffMs ?? 30_000,
    factor: opts.factor ?? 2,
    jitter: opts.jitter ?? 0.2,
    resetAfterMs: opts.resetAfterMs ?? 60_000,
    maxRestarts: opts.maxRestarts ?? 10,
    withinMs: opts.withinMs ?? 60_000,
  };
}

/**
 * Tracks failures of one actor and decides the next restart delay, or that
 * the failure must escalate. `random` is injectable so tests are exact.
 */
export class RestartTracker {
  private consecutive = 0;
  private lastFailureAt = -Infinity;
  private readonly recent: number[] = [];

  constructor(
    private readonly opts: ResolvedSupervision,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures counted towards the current backoff step. */
  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /** Record a failure at `now`; returns the delay before restarting, or 'escalate'. */
  onFailure(now: number): number | 'escalate' {
    if (now - this.lastFailureAt >= this.opts.resetAfterMs) this.consecutive = 0;
    this.lastFailureAt = now;
    this.consecutive++;
    this.recent.push(now);
    while (this.recent.length > 0 && now - this.recent[0]! > this.opts.withinMs) this.recent.shift();
    if (this.recent.length > this.opts.maxRestarts) return 'escalate';
    const base = Math.min(this.opts.maxBackoffMs, this.opts.minBackoffMs * this.opts.factor ** (this.consecutive - 1));
    return Math.round(Math.min(this.opts.maxBackoffMs, base * (1 + this.opts.jitter * this.random())));
  }

  reset(): void {
    this.consecutive = 0;
    this.recent.length = 0;
    this.lastFailureAt = -Infinity;
  }
}

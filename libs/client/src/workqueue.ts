import * as prom from 'prom-client';

// ---------------------------------------------------------------------------
// Rate limiters (k8s.io/client-go/util/workqueue/default_rate_limiters.go)

/** How long an item waits before it is added again (ms), per item. */
export interface RateLimiter<T = unknown> {
  /** the delay before the item's next retry; counts a failure */
  when(item: T): number;
  /** stop tracking the item (it succeeded or was given up) */
  forget(item: T): void;
  /** how many times the item has been requeued */
  numRequeues(item: T): number;
}

/** Per-item exponential back-off: base * 2^failures, capped at max (client-go: 5 ms to 1000 s). */
export class ItemExponentialFailureRateLimiter<T = unknown> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();

  constructor(
    readonly baseDelayMs = 5,
    readonly maxDelayMs = 1000_000,
  ) {}

  when(item: T): number {
    const exp = this.failures.get(item) ?? 0;
    this.failures.set(item, exp + 1);
    // 2^exp overflows to Infinity long after it passed any sane max.
    const backoff = this.baseDelayMs * Math.pow(2, exp);
    return Math.min(backoff, this.maxDelayMs);
  }

  forget(item: T): void {
    this.failures.delete(item);
  }

  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/**
 * A token bucket over all items (Go's rate.Limiter with Reserve): `qps`
 * tokens a second, at most `burst` saved up; an item that finds the bucket
 * empty waits for its token.
 */
export class BucketRateLimiter<T = unknown> implements RateLimiter<T> {
  private tokens: number;
  private last: number;

  constructor(
    readonly qps = 10,
    readonly burst = 100,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  when(_item: T): number {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last);
    this.last = t;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }

  forget(_item: T): void {}

  numRequeues(_item: T): number {
    return 0;
  }
}

/** The longest delay of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOfRateLimiter<T = unknown> implements RateLimiter<T> {
  readonly limiters: RateLimiter<T>[];

  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }

  when(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }

  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }

  numRequeues(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** client-go's DefaultControllerRateLimiter: per-item 5 ms doubling to 1000 s, and 10 qps with a burst of 100 overall. */
export function defaultControllerRateLimiter<T = unknown>(): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(new ItemExponentialFailureRateLimiter<T>(5, 1000_000), new BucketRateLimiter<T>(10, 100));
}

// ---------------------------------------------------------------------------
// Metrics hooks

/** Called as the queue works (client-go's workqueue metrics); every hook is optional. */
export interface WorkQueueMetrics {
  /** an item was added (not deduplicated away) */
  add?(name: string): void;
  /** the number of items waiting to be handed out changed */
  depth?(name: string, depth: number): void;
  /** how long an item waited in the queue before a worker got it */
  latency?(name: string, ms: number): void;
  /** how long a worker held an item (get to done) */
  workDuration?(name: string, ms: number): void;
  /** an item was requeued with addRateLimited */
  retry?(name: string): void;
}

/**
 * WorkQueueMetrics as Prometheus metrics (client-go's names):
 * workqueue_adds_total, workqueue_depth, workqueue_queue_duration_seconds,
 * workqueue_work_duration_seconds, workqueue_retries_total, labelled by name.
 */
export function prometheusWorkQueueMetrics(registry: prom.Registry = prom.register): WorkQueueMetrics {
  const get = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
  const registers = [registry];
  const buckets = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10];
  const adds = get('workqueue_adds_total', () => new prom.Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames: ['name'], registers }));
  const depth = get('workqueue_depth', () => new prom.Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames: ['name'], registers }));
  const latency = get('workqueue_queue_duration_seconds', () => new prom.Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames: ['name'], buckets, registers }));
  const work = get('workqueue_work_duration_seconds', () => new prom.Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes', labelNames: ['name'], buckets, registers }));
  const retries = get('workqueue_retries_total', () => new prom.Counter({ name: 'workqueue_retries_total', help: 'Total number of retries handled by workqueue', labelNames: ['name'], registers }));
  return {
    add: (name) => adds.inc({ name }),
    depth: (name, n) => depth.set({ name }, n),
    latency: (name, ms) => latency.observe({ name }, ms / 1000),
    workDuration: (name, ms) => work.observe({ name }, ms / 1000),
    retry: (name) => retries.inc({ name }),
  };
}

// ---------------------------------------------------------------------------
// The queue

export interface WorkQueueOptions<T> {
  /** for metrics and logs */
  name?: string;
  /** default: defaultControllerRateLimiter() */
  rateLimiter?: RateLimiter<T>;
  metrics?: WorkQueueMetrics;
}

export interface RunOptions<T> {
  /** give up on an item after this many requeues (forget it); default: retry forever */
  maxRetries?: number;
  /** told about every failure; `requeued` is false when the item was given up */
  onError?(item: T, err: unknown, requeued: boolean): void;
}

/**
 * A rate-limiting work queue with client-go's semantics:
 * - an item added while it is already queued is not queued twice (dedupe);
 * - an item is handed to one worker at a time: added again while it is being
 *   processed, it is queued again only when the worker calls `done`;
 * - `addAfter` delays an add (a second addAfter of a waiting item keeps the
 *   earlier time); `addRateLimited` delays by the rate limiter (per-item
 *   exponential back-off and an overall token bucket by default), `forget`
 *   resets the item's back-off, `numRequeues` counts its retries;
 * - `shutDown` refuses new items and, once the queue is empty, `get` resolves
 *   undefined; `shutDownWithDrain` also waits until every item handed out
 *   was `done`.
 * Items are compared as Map keys (strings like `namespace/name` are usual).
 */
export class WorkQueue<T extends NonNullable<unknown> = string> {
  readonly name: string;
  readonly rateLimiter: RateLimiter<T>;
  private readonly metrics: WorkQueueMetrics;
  private queue: T[] = [];
  private head = 0;
  private readonly dirty = new Set<T>();
  private readonly processing = new Map<T, number>();
  private readonly addedAt = new Map<T, number>();
  private readonly waiting = new Map<T, { readyAt: number; timer: NodeJS.Timeout }>();
  private getters: Array<(item: T | undefined) => void> = [];
  private drainWaiters: Array<() => void> = [];
  private shutting = false;

  constructor(o: WorkQueueOptions<T> = {}) {
    this.name = o.name ?? '';
    this.rateLimiter = o.rateLimiter ?? defaultControllerRateLimiter<T>();
    this.metrics = o.metrics ?? {};
  }

  /** Items waiting to be handed out (not counting those being processed or delayed). */
  get length(): number {
    return this.queue.length - this.head;
  }

  len(): number {
    return this.length;
  }

  /** Items handed out and not yet done. */
  get processingCount(): number {
    return this.processing.size;
  }

  /** Items waiting for an addAfter / addRateLimited delay. */
  get delayedCount(): number {
    return this.waiting.size;
  }

  get shuttingDown(): boolean {
    return this.shutting;
  }

  /** Queues an item (unless it is queued already, or the queue is shutting down). */
  add(item: T): void {
    if (this.shutting) return;
    if (this.dirty.has(item)) return;
    this.metrics.add?.(this.name);
    this.dirty.add(item);
    if (!this.addedAt.has(item)) this.addedAt.set(item, Date.now());
    if (this.processing.has(item)) return;
    this.push(item);
  }

  private push(item: T): void {
    const getter = this.getters.shift();
    if (getter) {
      getter(this.take(item));
      return;
    }
    this.queue.push(item);
    this.metrics.depth?.(this.name, this.length);
  }

  private take(item: T): T {
    this.dirty.delete(item);
    const now = Date.now();
    this.processing.set(item, now);
    const added = this.addedAt.get(item);
    this.addedAt.delete(item);
    if (added !== undefined) this.metrics.latency?.(this.name, now - added);
    return item;
  }

  private pop(): T {
    const item = this.queue[this.head]!;
    this.queue[this.head] = undefined as unknown as T;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.metrics.depth?.(this.name, this.length);
    return this.take(item);
  }

  /**
   * The next item, waiting for one if the queue is empty; undefined once the
   * queue is shut down and empty. Call `done(item)` when finished with it.
   */
  get(): Promise<T | undefined> {
    if (this.length > 0) return Promise.resolve(this.pop());
    if (this.shutting) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks an item processed; if it was added meanwhile, it is queued again now. */
  done(item: T): void {
    const started = this.processing.get(item);
    if (started === undefined) return;
    this.processing.delete(item);
    this.metrics.workDuration?.(this.name, Date.now() - started);
    if (this.dirty.has(item)) this.push(item);
    this.checkDrained();
  }

  /** Adds the item after `delayMs` (at once when <= 0). */
  addAfter(item: T, delayMs: number): void {
    if (this.shutting) return;
    if (!(delayMs > 0)) {
      this.add(item);
      return;
    }
    const readyAt = Date.now() + delayMs;
    const w = this.waiting.get(item);
    if (w) {
      if (w.readyAt <= readyAt) return;
      clearTimeout(w.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { readyAt, timer });
  }

  /** Adds the item after the rate limiter's delay for it (a retry). */
  addRateLimited(item: T): void {
    if (this.shutting) return;
    this.metrics.retry?.(this.name);
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Resets the item's back-off (call it when the item succeeded or was given up). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Refuses new items, drops delayed ones; `get` hands out what is queued, then resolves undefined. */
  shutDown(): void {
    if (this.shutting) return;
    this.shutting = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
    this.checkDrained();
  }

  /** shutDown, then resolves when every queued item was handed out and done (needs running workers). */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.drained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drained(): boolean {
    return this.length === 0 && this.processing.size === 0;
  }

  private checkDrained(): void {
    if (this.shutting && this.drainWaiters.length > 0 && this.drained()) for (const r of this.drainWaiters.splice(0)) r();
  }

  /**
   * Runs `workers` workers until the queue shuts down: each takes an item,
   * awaits `handler(item)`, forgets the item on success and requeues it rate
   * limited on failure (up to `maxRetries`), then marks it done. Resolves
   * when every worker has exited.
   */
  async run(workers: number, handler: (item: T) => void | Promise<void>, o: RunOptions<T> = {}): Promise<void> {
    const worker = async () => {
      for (;;) {
        const item = await this.get();
        if (item === undefined) return;
        try {
          await handler(item);
          this.forget(item);
        } catch (e) {
          const requeue = o.maxRetries === undefined || this.numRequeues(item) < o.maxRetries;
          if (requeue) this.addRateLimited(item);
          else this.forget(item);
          try {
            o.onError?.(item, e, requeue && !this.shutting);
          } catch {
            // a failing error hook must not kill the worker
          }
        } finally {
          this.done(item);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  }
}

// The running shape shared by the controllers: a work queue of `ns/name`
// keys (the controller's mailbox) drained by N workers, never one key by two
// workers at once (WorkQueue semantics). A sync that throws is logged and its
// key retried through the rate limiter (per-key exponential back-off); the
// other keys keep flowing. start()/stop() build and tear down one
// incarnation: the actor wrapper (./actor.ts) restarts a crashed incarnation
// with back-off, and a fresh incarnation re-enqueues every object it owns.
//
// Crashes: when the controller's own code fails on an object (the pure
// planning step throws: a malformed object the API server would have
// rejected, or a bug; kube's panic), the sync throws a ControllerCrash. The
// incarnation stops (workers take no new key) and start()'s promise rejects,
// so the actor's supervisor restarts the controller with back-off. A key
// crashes the controller at most once: the next incarnation queues it after
// a delay and, from then on, its failures are per-key errors retried through
// the rate limiter (logged at error level), so one bad object can neither
// crash-loop the controller into escalation nor hold back the other keys.
// The mark is cleared once the key syncs.
import { isConflict, WorkQueue, type Logger, type WorkQueueMetrics } from '@kubets/client';
import { errorMessage } from '../util/k8s';

/** The controller's own code failed on `key` (not an API error): the controller crashes. */
export class ControllerCrash extends Error {
  constructor(
    readonly key: string,
    override readonly cause: unknown,
  ) {
    super(`syncing ${key}: ${errorMessage(cause)}`);
    this.name = 'ControllerCrash';
  }
}

/** Delay before a fresh incarnation retries a key that crashed the previous one. */
export const CRASHED_KEY_DELAY_MS = 1_000;

export interface ControllerStatus {
  controller: string;
  running: boolean;
  workers: number;
  incarnation: number;
  queueLength: number;
  processing: number;
  delayed: number;
  syncs: number;
  syncErrors: number;
  /** syncs that failed in the controller's own code (ControllerCrash) */
  crashes: number;
  /** keys that crashed an incarnation and have not synced since */
  crashedKeys: string[];
  lastError?: string;
}

export abstract class QueueController {
  private queue: WorkQueue<string> | undefined;
  private runPromise: Promise<void> | undefined;
  private incarnation = 0;
  private syncs = 0;
  private syncErrors = 0;
  private lastError: string | undefined;
  private crashes = 0;
  /** Keys that crashed an incarnation (and have not synced since): their failures no longer crash the controller. */
  private readonly crashedKeys = new Set<string>();

  constructor(
    readonly name: string,
    readonly workers: number,
    protected readonly log: Logger,
    private readonly metrics?: WorkQueueMetrics,
  ) {}

  /** Reconcile one key; throw to retry it with back-off, throw a ControllerCrash (see plan()) to crash the controller. */
  protected abstract sync(key: string): Promise<void>;

  /** Runs the pure planning step of a sync: anything it throws is a crash of the controller. */
  protected plan<T>(key: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw e instanceof ControllerCrash ? e : new ControllerCrash(key, e);
    }
  }
  /** Every key this controller owns (enqueued when an incarnation starts). */
  protected abstract allKeys(): string[];

  get running(): boolean {
    return this.queue !== undefined && !this.queue.shuttingDown;
  }

  enqueue(key: string): void {
    if (this.running) this.queue!.add(key);
  }
  enqueueAfter(key: string, delayMs: number): void {
    if (this.running) this.queue!.addAfter(key, delayMs);
  }
  enqueueRateLimited(key: string): void {
    if (this.running) this.queue!.addRateLimited(key);
  }

  /** Starts an incarnation; the promise settles when its workers exit (rejects if they crash). */
  start(): Promise<void> {
    if (this.runPromise) throw new Error(`controller ${this.name} already running`);
    this.incarnation++;
    const queue = new WorkQueue<string>({ name: this.name, metrics: this.metrics });
    this.queue = queue;
    const keys = this.allKeys();
    // Forget crashed keys whose object is gone.
    const live = new Set(keys);
    for (const k of this.crashedKeys) if (!live.has(k)) this.crashedKeys.delete(k);
    for (const k of keys) {
      // A key that crashed the previous incarnation waits, so the others go first.
      if (this.crashedKeys.has(k)) queue.addAfter(k, CRASHED_KEY_DELAY_MS);
      else queue.add(k);
    }
    this.log.info({ workers: this.workers, incarnation: this.incarnation, keys: queue.length, crashedKeys: this.crashedKeys.size }, 'controller started');
    let crash: ControllerCrash | undefined;
    const run = queue.run(
      this.workers,
      async (key) => {
        // After a crash the incarnation is going down: the remaining keys wait for the next one.
        if (crash) return;
        this.syncs++;
        const started = Date.now();
        try {
          await this.sync(key);
        } catch (e) {
          if (!(e instanceof ControllerCrash)) throw e;
          this.crashes++;
          if (this.crashedKeys.has(key)) {
            // It already crashed the controller once: retried with back-off like any failing key.
            this.log.error({ key, err: errorMessage(e.cause), crashes: this.crashes }, 'controller code failed again on this key; retrying it with back-off without crashing');
            throw e;
          }
          this.crashedKeys.add(key);
          this.syncErrors++;
          this.lastError = `${key}: ${errorMessage(e.cause)}`;
          this.log.error({ key, err: errorMessage(e.cause), stack: (e.cause as Error)?.stack, incarnation: this.incarnation }, 'controller crashed syncing a key; stopping this incarnation');
          crash = e;
          queue.shutDown();
          return;
        }
        this.crashedKeys.delete(key);
        this.log.debug?.({ key, ms: Date.now() - started }, 'synced');
      },
      {
        onError: (key, err, requeued) => {
          this.syncErrors++;
          this.lastError = `${key}: ${errorMessage(err instanceof ControllerCrash ? err.cause : err)}`;
          if (err instanceof ControllerCrash) return; // logged above
          const fields = { key, err: errorMessage(err), requeued, retries: queue.numRequeues(key) };
          // A 409 on a stale cached object is routine (the informer catches up); anything else is worth a warning.
          if (isConflict(err)) this.log.info(fields, 'conflict syncing; retrying with back-off');
          else this.log.warn(fields, 'error syncing; retrying with back-off');
        },
      },
    );
    this.runPromise = run.then(() => {
      if (crash) throw crash;
    });
    return this.runPromise;
  }

  /** Stops the current incarnation: no new keys, in-flight syncs finish. */
  async stop(): Promise<void> {
    const q = this.queue;
    const run = this.runPromise;
    this.runPromise = undefined;
    if (!q) return;
    q.shutDown();
    await run?.catch(() => {});
    this.log.info({ incarnation: this.incarnation }, 'controller stopped');
  }

  status(): ControllerStatus {
    const q = this.queue;
    return {
      controller: this.name,
      running: this.running,
      workers: this.workers,
      incarnation: this.incarnation,
      queueLength: q?.length ?? 0,
      processing: q?.processingCount ?? 0,
      delayed: q?.delayedCount ?? 0,
      syncs: this.syncs,
      syncErrors: this.syncErrors,
      crashes: this.crashes,
      crashedKeys: [...this.crashedKeys].sort(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}

// The running shape shared by the controllers: a work queue of `ns/name`
// keys (the controller's mailbox) drained by N workers, never one key by two
// workers at once (WorkQueue semantics). A sync that throws is logged and its
// key retried through the rate limiter (per-key exponential back-off); the
// other keys keep flowing. start()/stop() build and tear down one
// incarnation: the actor wrapper (./actor.ts) restarts a crashed incarnation
// with back-off, and a fresh incarnation re-enqueues every object it owns.
import { isConflict, WorkQueue, type Logger, type WorkQueueMetrics } from '@kubets/client';
import { errorMessage } from '../util/k8s';

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
  lastError?: string;
}

export abstract class QueueController {
  private queue: WorkQueue<string> | undefined;
  private runPromise: Promise<void> | undefined;
  private incarnation = 0;
  private syncs = 0;
  private syncErrors = 0;
  private lastError: string | undefined;

  constructor(
    readonly name: string,
    readonly workers: number,
    protected readonly log: Logger,
    private readonly metrics?: WorkQueueMetrics,
  ) {}

  /** Reconcile one key; throw to retry it with back-off. */
  protected abstract sync(key: string): Promise<void>;
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
    for (const k of this.allKeys()) queue.add(k);
    this.log.info({ workers: this.workers, incarnation: this.incarnation, keys: queue.length }, 'controller started');
    this.runPromise = queue.run(
      this.workers,
      async (key) => {
        this.syncs++;
        const started = Date.now();
        await this.sync(key);
        this.log.debug?.({ key, ms: Date.now() - started }, 'synced');
      },
      {
        onError: (key, err, requeued) => {
          this.syncErrors++;
          this.lastError = `${key}: ${errorMessage(err)}`;
          const fields = { key, err: errorMessage(err), requeued, retries: queue.numRequeues(key) };
          // A 409 on a stale cached object is routine (the informer catches up); anything else is worth a warning.
          if (isConflict(err)) this.log.info(fields, 'conflict syncing; retrying with back-off');
          else this.log.warn(fields, 'error syncing; retrying with back-off');
        },
      },
    );
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
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }
}

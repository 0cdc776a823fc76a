/**
 * The scheduler's Parallelizer (framework/parallelize), for one JavaScript
 * thread: work is cut into chunks of kube's size (sqrt(n), at most
 * n/parallelism + 1), and between chunks the loop yields to the event loop
 * (setImmediate) whenever it has held the thread for `maxBlockMs`, so that
 * informer events, health checks and timers keep running during a cycle over
 * thousands of nodes. `until` stops early once `done()` says so (kube cancels
 * the context when enough feasible nodes were found).
 */

// Captured at load time, so Jest's fake timers in a test cannot stall a cycle.
const realSetImmediate: typeof setImmediate = setImmediate;
const now: () => number =
  typeof performance !== 'undefined' && typeof performance.now === 'function' ? () => performance.now() : () => Date.now();

export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve));
}

/** chunkSizeFor: sqrt(n), capped at n/parallelism + 1, at least 1. */
export function chunkSizeFor(n: number, parallelism: number): number {
  let s = Math.floor(Math.sqrt(n));
  const r = Math.floor(n / parallelism) + 1;
  if (s > r) s = r;
  if (s < 1) s = 1;
  return s;
}

export interface ParallelizerOptions {
  /** kube's default parallelism is 16; here it only shapes the chunk size. */
  parallelism?: number;
  /** Yield to the event loop after holding it this long (checked between chunks). 0: after every chunk. Default 5 ms. */
  maxBlockMs?: number;
}

export class Parallelizer {
  readonly parallelism: number;
  readonly maxBlockMs: number;
  /** How many times work yielded to the event loop (for tests and metrics). */
  yields = 0;

  constructor(opts: ParallelizerOptions = {}) {
    this.parallelism = opts.parallelism ?? 16;
    this.maxBlockMs = opts.maxBlockMs ?? 5;
  }

  /** Runs work(0..pieces-1) in chunks, stopping when done() turns true. */
  async until(pieces: number, work: (i: number) => void, done?: () => boolean): Promise<void> {
    const chunk = chunkSizeFor(pieces, this.parallelism);
    let since = now();
    for (let start = 0; start < pieces; start += chunk) {
      const end = Math.min(pieces, start + chunk);
      for (let i = start; i < end; i++) {
        if (done && done()) return;
        work(i);
      }
      if (end < pieces && now() - since >= this.maxBlockMs) {
        this.yields++;
        await yieldToEventLoop();
        since = now();
      }
    }
  }
}

/**
 * Waiting for conditions with deadlines: tests never sleep to synchronise.
 */

export interface WaitOptions {
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Poll period. Default 20 ms. */
  intervalMs?: number;
  /** What is being waited for, for the error message. */
  description?: string;
  /** Extra context appended to the timeout error (e.g. logs of the processes involved). */
  context?: () => string;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `condition` until it returns a truthy value (returned) or the deadline
 * passes (throws, naming what was awaited). Exceptions from the condition
 * count as "not yet" and the last one is reported.
 */
export async function waitFor<T>(condition: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = options.description ?? 'condition';
      let message = `timed out after ${timeoutMs} ms waiting for ${what}`;
      if (lastError) message += `; last error: ${(lastError as Error)?.message ?? String(lastError)}`;
      if (options.context) message += `\n${options.context()}`;
      throw new Error(message, { cause: lastError });
    }
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

/** Retry `assertion` until it stops throwing, or rethrow its last error at the deadline. */
export async function eventually<T>(assertion: () => T | Promise<T>, options: WaitOptions = {}): Promise<T> {
  let result: T | undefined;
  await waitFor(
    async () => {
      result = await assertion();
      return true;
    },
    options,
  );
  return result as T;
}

/** Resolve when `emitter` emits `event` with an argument accepted by `accept`, or reject at the deadline. */
export function waitForEvent<A>(
  emitter: { on(event: string, listener: (arg: A) => void): unknown; off(event: string, listener: (arg: A) => void): unknown },
  event: string,
  accept: (arg: A) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<A> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event "${event}"`));
    }, timeoutMs);
    const listener = (arg: A) => {
      if (!accept(arg)) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(arg);
    };
    emitter.on(event, listener);
  });
}

/** A promise with its resolve/reject exposed, for tests that hand-sequence events. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

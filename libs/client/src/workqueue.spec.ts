import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
  type WorkQueueMetrics,
} from './workqueue';

const noDelay = { when: () => 0, forget: () => {}, numRequeues: () => 0 };

describe('WorkQueue basics', () => {
  test('dedupes keys that are queued', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(q.length).toBe(0);
  });

  test('a key being processed is not handed out again until done, then requeued once', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.add('a');
    const item = await q.get();
    expect(item).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0); // dirty, but processing
    let second: string | undefined;
    void q.get().then((x) => (second = x));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done('a');
    await Promise.resolve();
    expect(second).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
    expect(q.processingCount).toBe(0);
  });

  test('get waits for an add; shutDown wakes waiters with undefined and refuses adds', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    const p = q.get();
    q.add('x');
    expect(await p).toBe('x');
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('y');
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
  });

  test('items queued before shutDown are still handed out, then undefined', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.add('a');
    q.add('b');
    q.shutDown();
    expect(q.shuttingDown).toBe(true);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
    expect(await q.get()).toBeUndefined();
  });

  test('an item re-added while processing before shutDown is handed out after done', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.add('a');
    await q.get();
    q.add('a');
    q.shutDown();
    q.done('a');
    expect(await q.get()).toBe('a');
    q.done('a');
    expect(await q.get()).toBeUndefined();
  });

  test('shutDownWithDrain resolves only when every handed-out item is done', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.add('a');
    q.add('b');
    const a = await q.get();
    let drained = false;
    const d = q.shutDownWithDrain().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(a!);
    await Promise.resolve();
    expect(drained).toBe(false); // b is still queued
    const b = await q.get();
    expect(b).toBe('b');
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(b!);
    await d;
    expect(drained).toBe(true);
  });

  test('several workers never hold the same key at once, and every add is processed after it was made', async () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    const holding = new Set<string>();
    const violations: string[] = [];
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    let clock = 0;
    const run = q.run(4, async (k) => {
      if (holding.has(k)) violations.push(k);
      holding.add(k);
      lastStart.set(k, ++clock);
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      holding.delete(k);
    });
    for (let i = 0; i < 300; i++) {
      const k = `k${i % 7}`;
      lastAdd.set(k, ++clock);
      q.add(k);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    await q.shutDownWithDrain();
    await run;
    expect(violations).toEqual([]);
    // Every key was processed at least once after its last add.
    for (const [k, t] of lastAdd) expect(lastStart.get(k)!).toBeGreaterThan(t);
  });
});

describe('WorkQueue delays (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  test('addAfter adds when the delay has passed; a second addAfter keeps the earlier time', () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.addAfter('a', 100);
    q.addAfter('a', 500); // later: ignored
    expect(q.delayedCount).toBe(1);
    jest.advanceTimersByTime(99);
    expect(q.length).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.length).toBe(1);
    expect(q.delayedCount).toBe(0);
    jest.advanceTimersByTime(1000);
    expect(q.length).toBe(1);

    q.addAfter('b', 1000);
    q.addAfter('b', 10); // earlier: replaces
    jest.advanceTimersByTime(10);
    expect(q.length).toBe(2);
    jest.advanceTimersByTime(2000);
    expect(q.length).toBe(2);
  });

  test('addAfter with no delay adds at once; shutDown drops delayed items', () => {
    const q = new WorkQueue({ rateLimiter: noDelay });
    q.addAfter('a', 0);
    expect(q.length).toBe(1);
    q.addAfter('b', 50);
    q.shutDown();
    jest.advanceTimersByTime(100);
    expect(q.length).toBe(1);
    expect(q.delayedCount).toBe(0);
  });

  test('addRateLimited backs off per item exponentially from 5 ms; forget resets it', async () => {
    const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000_000) });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.addRateLimited('a');
      const start = Date.now();
      let n = 0;
      while (q.length === 0) {
        jest.advanceTimersByTime(1);
        if (++n > 1000) throw new Error('never added');
      }
      delays.push(Date.now() - start);
      const item = await q.get();
      q.done(item!);
    }
    expect(delays).toEqual([5, 10, 20, 40, 80]);
    expect(q.numRequeues('a')).toBe(5);
    expect(q.numRequeues('b')).toBe(0);
    q.forget('a');
    expect(q.numRequeues('a')).toBe(0);
    q.addRateLimited('a');
    jest.advanceTimersByTime(4);
    expect(q.length).toBe(0);
    jest.advanceTimersByTime(1);
    expect(q.length).toBe(1);
  });

  test('run() retries a failing item with back-off and forgets it on success', async () => {
    const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000) });
    let calls = 0;
    const errors: boolean[] = [];
    const done = q.run(
      1,
      (k) => {
        calls++;
        if (calls < 4) throw new Error(`fail ${k}`);
      },
      { onError: (_k, _e, requeued) => errors.push(requeued) },
    );
    q.add('x');
    await jest.advanceTimersByTimeAsync(5 + 10 + 20 + 5);
    expect(calls).toBe(4);
    expect(errors).toEqual([true, true, true]);
    expect(q.numRequeues('x')).toBe(0); // forgotten after the success
    q.shutDown();
    await done;
  });

  test('run() gives up after maxRetries', async () => {
    const q = new WorkQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(5, 1000) });
    let calls = 0;
    const errors: boolean[] = [];
    const done = q.run(
      2,
      () => {
        calls++;
        throw new Error('always');
      },
      { maxRetries: 2, onError: (_k, _e, requeued) => errors.push(requeued) },
    );
    q.add('x');
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(3);
    expect(errors).toEqual([true, true, false]);
    expect(q.numRequeues('x')).toBe(0);
    q.shutDown();
    await done;
  });

  test('metrics hooks see adds, depth, queue latency, work duration and retries', async () => {
    const seen = { adds: 0, depth: [] as number[], latency: [] as number[], work: [] as number[], retries: 0 };
    const metrics: WorkQueueMetrics = {
      add: () => seen.adds++,
      depth: (_n, d) => seen.depth.push(d),
      latency: (_n, ms) => seen.latency.push(ms),
      workDuration: (_n, ms) => seen.work.push(ms),
      retry: () => seen.retries++,
    };
    const q = new WorkQueue<string>({ name: 'test', metrics, rateLimiter: noDelay });
    q.add('a');
    q.add('a');
    q.add('b');
    jest.advanceTimersByTime(30);
    const a = await q.get();
    jest.advanceTimersByTime(7);
    q.done(a!);
    q.addRateLimited('c');
    expect(seen.adds).toBe(3);
    expect(seen.depth).toEqual([1, 2, 1, 2]);
    expect(seen.latency).toEqual([30]);
    expect(seen.work).toEqual([7]);
    expect(seen.retries).toBe(1);
  });
});

describe('rate limiters', () => {
  test('per-item exponential back-off is capped (client-go default: 1000 s)', () => {
    const l = new ItemExponentialFailureRateLimiter<string>(5, 1000_000);
    const d: number[] = [];
    for (let i = 0; i < 40; i++) d.push(l.when('a'));
    expect(d.slice(0, 4)).toEqual([5, 10, 20, 40]);
    expect(d[17]).toBe(5 * 2 ** 17);
    expect(d.at(-1)).toBe(1000_000);
    expect(l.when('b')).toBe(5);
    expect(l.numRequeues('a')).toBe(40);
  });

  test('the token bucket allows a burst, then qps', () => {
    let now = 0;
    const l = new BucketRateLimiter<string>(10, 100, () => now);
    for (let i = 0; i < 100; i++) expect(l.when('x')).toBe(0);
    expect(l.when('x')).toBeCloseTo(100);
    expect(l.when('x')).toBeCloseTo(200);
    now += 1000; // 10 tokens back; 2 were owed
    for (let i = 0; i < 8; i++) expect(l.when('x')).toBe(0);
    expect(l.when('x')).toBeCloseTo(100);
  });

  test('max-of takes the longest delay: the default controller limiter', () => {
    let now = 0;
    const l = new MaxOfRateLimiter<string>(new ItemExponentialFailureRateLimiter(5, 1000_000), new BucketRateLimiter(10, 100, () => now));
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(10);
    for (let i = 0; i < 98; i++) l.when(`k${i}`);
    // The bucket is now empty: a new item waits for a token, not 5 ms.
    expect(l.when('b')).toBeCloseTo(100);
    expect(l.numRequeues('a')).toBe(2);
    l.forget('a');
    expect(l.numRequeues('a')).toBe(0);
    const d = defaultControllerRateLimiter<string>();
    expect(d.when('z')).toBe(5);
    expect(d.when('z')).toBe(10);
  });
});

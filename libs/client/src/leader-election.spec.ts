import { StatusError, alreadyExists, conflict, notFound } from '@kubets/api-machinery';
import { waitFor } from '@kubets/testkit';
import { LeaderElector, type LeaseLock } from './leader-election';
import type { Lease } from './types';

/** An in-memory Lease store with the API server's optimistic concurrency. */
class FakeLeases {
  private lease: Lease | undefined;
  private rv = 0;
  writes = 0;

  get current(): Lease | undefined {
    return this.lease ? structuredClone(this.lease) : undefined;
  }

  /** Overwrite the lease as another writer would. */
  force(spec: Lease['spec']): void {
    this.lease = { ...this.lease!, metadata: { ...this.lease!.metadata, resourceVersion: String(++this.rv) }, spec };
  }

  /** A LeaseLock for one candidate; `net.partitioned` makes its calls fail, `net.hang` never answer. */
  lock(net: { partitioned?: boolean; hang?: boolean } = {}): LeaseLock {
    const gate = async () => {
      await new Promise((r) => setTimeout(r, 1));
      if (net.hang) await new Promise(() => {});
      if (net.partitioned) throw new StatusError(503, 'ServiceUnavailable', 'partitioned');
    };
    return {
      get: async (_ns, name) => {
        await gate();
        if (!this.lease) throw notFound('coordination.k8s.io', 'leases', name);
        return structuredClone(this.lease);
      },
      create: async (_ns, lease) => {
        await gate();
        if (this.lease) throw alreadyExists('coordination.k8s.io', 'leases', lease.metadata.name!);
        this.writes++;
        this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
      update: async (_ns, lease) => {
        await gate();
        if (!this.lease) throw notFound('coordination.k8s.io', 'leases', lease.metadata.name!);
        if (lease.metadata.resourceVersion !== this.lease.metadata.resourceVersion) throw conflict('coordination.k8s.io', 'leases', lease.metadata.name!, 'the object has been modified');
        this.writes++;
        this.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
    };
  }
}

/** Who leads when: every candidate's start/stop, to check that leadership intervals never overlap. */
class Timeline {
  readonly events: Array<{ t: number; id: string; what: 'start' | 'stop' }> = [];
  readonly leaders = new Set<string>();
  maxConcurrent = 0;

  callbacks(id: string) {
    return {
      onStartedLeading: (signal: AbortSignal) => {
        this.events.push({ t: Date.now(), id, what: 'start' });
        this.leaders.add(id);
        this.maxConcurrent = Math.max(this.maxConcurrent, this.leaders.size);
        signal.addEventListener('abort', () => this.leaders.delete(id));
      },
      onStoppedLeading: () => {
        this.events.push({ t: Date.now(), id, what: 'stop' });
        this.leaders.delete(id);
      },
    };
  }

  started(id: string): number | undefined {
    return this.events.find((e) => e.id === id && e.what === 'start')?.t;
  }

  stopped(id: string): number | undefined {
    return this.events.find((e) => e.id === id && e.what === 'stop')?.t;
  }
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const timing = { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100 };
const electors: LeaderElector[] = [];

function elector(store: FakeLeases, id: string, tl: Timeline, extra: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {}, net: { partitioned?: boolean; hang?: boolean } = {}): LeaderElector {
  const e = new LeaderElector({ lock: store.lock(net), namespace: 'kube-system', name: 'test', identity: id, ...timing, ...tl.callbacks(id), ...extra });
  electors.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
});

test('options are checked as client-go checks them', () => {
  const lock = new FakeLeases().lock();
  const base = { lock, namespace: 'ns', name: 'n', identity: 'a' };
  expect(() => new LeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 1000, retryPeriodMs: 100 })).toThrow(/leaseDuration must be greater than renewDeadline/);
  expect(() => new LeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 110, retryPeriodMs: 100 })).toThrow(/renewDeadline must be greater than retryPeriod\*1.2/);
  expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(/identity/);
  expect(() => new LeaderElector({ namespace: 'ns', name: 'n', identity: 'a' })).toThrow(/client or a lock/);
});

test('a lone candidate creates the lease, leads, and renews it with MicroTime stamps', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const newLeaders: string[] = [];
  const a = elector(store, 'a', tl, { onNewLeader: (id) => newLeaders.push(id) }).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  const first = store.current!;
  expect(first.spec).toEqual({ holderIdentity: 'a', leaseDurationSeconds: 1, acquireTime: expect.stringMatching(MICRO_TIME), renewTime: expect.stringMatching(MICRO_TIME), leaseTransitions: 0 });
  await waitFor(() => store.current!.spec!.renewTime !== first.spec!.renewTime, { timeoutMs: 2000, description: 'a renewal' });
  expect(store.current!.spec!.acquireTime).toBe(first.spec!.acquireTime);
  expect(store.current!.spec!.leaseTransitions).toBe(0);
  expect(newLeaders).toEqual(['a']);
  expect(a.getLeader()).toBe('a');
});

test('two candidates: exactly one leads, the other follows it; a clean stop hands over at once', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const seenByB: string[] = [];
  const a = elector(store, 'a', tl).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  const b = elector(store, 'b', tl, { onNewLeader: (id) => seenByB.push(id) }).start();
  // b keeps observing a's renewals and never takes over.
  await waitFor(() => seenByB.includes('a'), { timeoutMs: 2000 });
  const writes = store.writes;
  await waitFor(() => store.writes >= writes + 8, { timeoutMs: 3000, description: 'a few renewals' });
  expect(b.isLeader()).toBe(false);
  expect(tl.maxConcurrent).toBe(1);

  const stoppedAt = Date.now();
  await a.stop();
  expect(a.isLeader()).toBe(false);
  expect(tl.stopped('a')).toBeDefined();
  expect(store.current!.spec!.holderIdentity).toBeUndefined();
  await waitFor(() => b.isLeader(), { timeoutMs: 2000, description: 'b takes over' });
  // Released: b did not wait for the lease to expire (1 s), only for its next retry.
  expect(tl.started('b')! - stoppedAt).toBeLessThan(600);
  expect(store.current!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  expect(seenByB).toEqual(['a', 'b']);
  expect(tl.maxConcurrent).toBe(1);
});

test('a leader that dies without releasing is replaced after the lease duration, not before', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const a = elector(store, 'a', tl).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  const b = elector(store, 'b', tl).start();
  await waitFor(() => b.getLeader() === 'a', { timeoutMs: 2000 });
  const lastRenew = Date.parse(store.current!.spec!.renewTime!);
  await a.stop({ release: false }); // what a crash looks like to the others
  await waitFor(() => b.isLeader(), { timeoutMs: 3000, description: 'b takes over' });
  const waited = tl.started('b')! - lastRenew;
  expect(waited).toBeGreaterThanOrEqual(1000 - 20);
  expect(waited).toBeLessThan(1000 + 600);
  expect(store.current!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
});

test('a partitioned leader steps down within the renew deadline, before anyone else can lead', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const net = { partitioned: false };
  const a = elector(store, 'a', tl, {}, net).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  const b = elector(store, 'b', tl).start();
  await waitFor(() => b.getLeader() === 'a', { timeoutMs: 2000 });
  net.partitioned = true;
  const cutAt = Date.now();
  await waitFor(() => b.isLeader(), { timeoutMs: 4000, description: 'b takes over' });
  const aStopped = tl.stopped('a')!;
  expect(aStopped).toBeDefined();
  expect(aStopped - cutAt).toBeLessThanOrEqual(700 + 200);
  expect(tl.started('b')!).toBeGreaterThan(aStopped);
  expect(tl.maxConcurrent).toBe(1);
  expect(a.isLeader()).toBe(false);
});

test('a leader whose renewals hang steps down at the deadline anyway', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const net = { hang: false };
  let signal: AbortSignal | undefined;
  const a = elector(store, 'a', tl, {
    onStartedLeading: (s) => {
      signal = s;
      tl.callbacks('a').onStartedLeading(s);
    },
  }, net).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  net.hang = true;
  const hungAt = Date.now();
  await waitFor(() => !a.isLeader(), { timeoutMs: 2000 });
  expect(Date.now() - hungAt).toBeLessThanOrEqual(700 + 200);
  expect(signal!.aborted).toBe(true);
  expect(tl.stopped('a')).toBeDefined();
});

test('a leader that sees another holder steps down at once', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const a = elector(store, 'a', tl).start();
  await waitFor(() => a.isLeader(), { timeoutMs: 2000 });
  store.force({ ...store.current!.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') });
  const at = Date.now();
  await waitFor(() => !a.isLeader(), { timeoutMs: 2000 });
  expect(Date.now() - at).toBeLessThan(400);
  expect(a.getLeader()).toBe('intruder');
});

test('many candidates racing for one lease: never two leaders, one takeover per stop', async () => {
  const store = new FakeLeases();
  const tl = new Timeline();
  const all = ['c1', 'c2', 'c3', 'c4'].map((id) => elector(store, id, tl).start());
  for (let round = 0; round < 3; round++) {
    const leader = await waitFor(() => all.find((e) => e.isLeader()), { timeoutMs: 3000 });
    expect(all.filter((e) => e.isLeader())).toHaveLength(1);
    await leader.stop();
  }
  await waitFor(() => all.some((e) => e.isLeader()), { timeoutMs: 3000 });
  expect(tl.maxConcurrent).toBe(1);
  expect(store.current!.spec!.leaseTransitions).toBe(3);
});

// In-process behaviour of actor cells: local children, supervision and
// escalation, mailbox limits, stop. (NATS-facing behaviour is covered by
// test/actor.nats.test.ts against a real nats-server.)
import pino from 'pino';
import { Registry } from 'prom-client';
import { ActorCell, defineActor, type ActorDefinition, type CellHost } from './actor';
import { RestartTracker, resolveSupervision } from './backoff';
import { emptyCodec, jsonCodec, protoCodec } from './codec';
import { Deque } from './deque';
import { ActorStoppedError, AskTimeoutError, DecodeError, ReplyError } from './errors';
import { actorMetrics } from './metrics';
import { defineProtocol, method, type Protocol } from './protocol';
import { actorSubject, assertSubject, token, untoken } from './subjects';

const log = pino({ level: 'silent' });
const num = jsonCodec((v) => {
  if (typeof v !== 'number') throw new Error('want a number');
  return v;
});
const Counter = defineProtocol({
  add: method(num, num),
  crash: method(emptyCodec, emptyCodec),
  fail: method(emptyCodec, emptyCodec),
  wait: method(num, num),
});

function waitUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error('condition not met in time'));
      setTimeout(poll, 5);
    };
    poll();
  });
}

function host(escalations: Array<{ path: string; error: unknown }> = [], registry?: Registry): CellHost {
  return {
    metrics: registry ? actorMetrics(registry) : undefined,
    subscribe: () => {
      throw new Error('local test actors have no subject');
    },
    escalate: (cell, error) => escalations.push({ path: cell.path, error }),
  };
}

function counter(name: string, opts: Partial<ActorDefinition<typeof Counter, { n: number }>> = {}) {
  return defineActor<typeof Counter, { n: number }>({
    name,
    protocol: Counter,
    init: () => ({ n: 0 }),
    handlers: {
      add: (x, ctx) => (ctx.state.n += x),
      crash: () => {
        throw new Error('crash requested');
      },
      fail: () => {
        throw new ReplyError('FAILED_PRECONDITION', 'not now');
      },
      wait: async (ms) => {
        await new Promise((r) => setTimeout(r, ms));
        return ms;
      },
    },
    supervision: { minBackoffMs: 5, jitter: 0, maxRestarts: 3, withinMs: 10_000 },
    ...opts,
  });
}

async function start<P extends Protocol, S>(def: ActorDefinition<P, S>, h = host()): Promise<ActorCell> {
  const cell = new ActorCell(def as ActorDefinition<Protocol, unknown>, h, log, undefined);
  await cell.start();
  return cell;
}

describe('local actors', () => {
  it('keep state across messages and answer local asks', async () => {
    const cell = await start(counter('c'));
    const ref = cell.ref<typeof Counter>();
    ref.tell('add', 2);
    expect(await ref.ask('add', 3)).toBe(5);
    await cell.stop();
  });

  it('a ReplyError is an answer, not a crash', async () => {
    const cell = await start(counter('c'));
    const ref = cell.ref<typeof Counter>();
    await ref.ask('add', 1);
    await expect(ref.ask('fail', undefined)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: 'not now' });
    expect(await ref.ask('add', 1)).toBe(2); // same state: no restart
    await cell.stop();
  });

  it('a crash answers INTERNAL and restarts with fresh state', async () => {
    const cell = await start(counter('c'));
    const ref = cell.ref<typeof Counter>();
    await ref.ask('add', 10);
    await expect(ref.ask('crash', undefined)).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await ref.ask('add', 1)).toBe(1);
    await cell.stop();
  });

  it('a failing init is retried with back-off', async () => {
    let attempts = 0;
    const cell = await start(
      counter('flaky', {
        init: () => {
          if (++attempts < 3) throw new Error('not yet');
          return { n: 100 };
        },
      }),
    );
    expect(await cell.ref<typeof Counter>().ask('add', 1)).toBe(101);
    expect(attempts).toBe(3);
    await cell.stop();
  });

  it('refuses messages beyond the mailbox capacity with RESOURCE_EXHAUSTED', async () => {
    const cell = await start(counter('small', { mailboxCapacity: 2 }));
    const ref = cell.ref<typeof Counter>();
    const first = ref.ask('wait', 50); // being handled
    const queued = [ref.ask('add', 1), ref.ask('add', 1)];
    await expect(ref.ask('add', 1)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    await Promise.all([first, ...queued]);
    await cell.stop();
  });

  it('local asks time out with AskTimeoutError', async () => {
    const cell = await start(counter('slow'));
    await expect(cell.ref<typeof Counter>().ask('wait', 200, { timeoutMs: 20 })).rejects.toBeInstanceOf(AskTimeoutError);
    await cell.stop();
  });

  it('unknown methods get NOT_FOUND; stopped actors refuse with ActorStoppedError', async () => {
    const cell = await start(counter('c'));
    const ref = cell.ref<Protocol>();
    await expect(ref.ask('nosuch', 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await cell.stop();
    await expect(ref.ask('add', 1)).rejects.toBeInstanceOf(ActorStoppedError);
    expect(cell.phase).toBe('stopped');
  });

  it('stop drains queued messages first, including through a crash', async () => {
    const cell = await start(counter('d'));
    const ref = cell.ref<typeof Counter>();
    const results = Promise.allSettled([ref.ask('wait', 10), ref.ask('crash', undefined), ref.ask('add', 5)]);
    await cell.stop();
    const settled = await results;
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseFulfilledResult<number>).value).toBe(5);
  });
});

describe('children and escalation', () => {
  const Parent = defineProtocol({
    spawn: method(jsonCodec((v) => String(v)), emptyCodec),
    children: method(emptyCodec, jsonCodec((v) => v as string[])),
  });

  function parent(inits: { count: number }) {
    return defineActor<typeof Parent, undefined>({
      name: 'parent',
      protocol: Parent,
      init: (ctx) => {
        inits.count++;
        ctx.spawn(counter('worker-0'));
        return undefined;
      },
      handlers: {
        spawn: (name, ctx) => {
          ctx.spawn(counter(name));
        },
        children: (_m, ctx) => ctx.children(),
      },
      supervision: { minBackoffMs: 5, jitter: 0, maxRestarts: 2, withinMs: 10_000 },
    });
  }

  it('children are addressable through the parent and stopped with it', async () => {
    const inits = { count: 0 };
    const cell = await start(parent(inits));
    const p = cell.ref<typeof Parent>();
    await p.ask('spawn', 'worker-1');
    expect(await p.ask('children', undefined)).toEqual(['worker-0', 'worker-1']);
    await cell.stop();
  });

  it('a child that keeps failing escalates: the parent restarts, re-creating its children', async () => {
    const escalations: Array<{ path: string; error: unknown }> = [];
    const inits = { count: 0 };
    let workerRef: ReturnType<ActorCell['ref']> | undefined;
    const def = parent(inits);
    const withGrab = defineActor<typeof Parent, undefined>({
      ...def,
      init: (ctx) => {
        const r = def.init!(ctx);
        workerRef = ctx.child('worker-0');
        return r;
      },
    });
    const cell = await start(withGrab, host(escalations));
    expect(inits.count).toBe(1);
    const firstWorker = workerRef!;
    // maxRestarts 3 for the worker: the 4th crash within the window escalates.
    for (let i = 0; i < 4; i++) {
      await expect(firstWorker.ask('crash', undefined)).rejects.toMatchObject({ code: 'INTERNAL' });
      // Asks queue during the back-off, so the next crash is handled by the next incarnation.
    }
    await waitUntil(() => inits.count === 2);
    // The old worker is gone for good; the parent's new incarnation made a new one.
    await expect(firstWorker.ask('add', 1)).rejects.toBeInstanceOf(ActorStoppedError);
    expect(await workerRef!.ask('add', 1)).toBe(1);
    expect(escalations).toEqual([]);
    await cell.stop();
  });

  it('a top-level actor that keeps failing escalates to the host and stops for good', async () => {
    const escalations: Array<{ path: string; error: unknown }> = [];
    const registry = new Registry();
    const cell = await start(counter('doomed', { supervision: { minBackoffMs: 1, jitter: 0, maxRestarts: 2 } }), host(escalations, registry));
    const ref = cell.ref<typeof Counter>();
    for (let i = 0; i < 3; i++) {
      await expect(ref.ask('crash', undefined)).rejects.toMatchObject({ code: 'INTERNAL' });
      await waitUntil(() => cell.phase !== 'restarting');
    }
    expect(escalations).toHaveLength(1);
    expect(escalations[0]!.path).toBe('doomed');
    expect(cell.phase).toBe('failed');
    await expect(ref.ask('add', 1)).rejects.toBeInstanceOf(ActorStoppedError);
    const text = await registry.metrics();
    expect(text).toContain('kubets_actor_restarts_total{actor="doomed"} 2');
    expect(text).toContain('kubets_actor_escalations_total{actor="doomed"} 1');
    expect(text).toContain('kubets_actor_messages_total{actor="doomed",method="crash",outcome="crash"} 3');
  });
});

describe('RestartTracker', () => {
  it('doubles the delay up to the cap, resets after a quiet period, escalates past maxRestarts', () => {
    const t = new RestartTracker(
      resolveSupervision({ minBackoffMs: 100, maxBackoffMs: 1_000, factor: 2, jitter: 0, resetAfterMs: 5_000, maxRestarts: 6, withinMs: 60_000 }),
    );
    expect([0, 1, 2, 3, 4].map((i) => t.onFailure(i))).toEqual([100, 200, 400, 800, 1_000]);
    expect(t.onFailure(10_000)).toBe(100); // quiet for 5 s: back to the first step
    expect(t.onFailure(10_001)).toBe('escalate'); // 7 failures within 60 s
  });

  it('adds bounded jitter from the injected random source', () => {
    const t = new RestartTracker(resolveSupervision({ minBackoffMs: 100, jitter: 0.5 }), () => 1);
    expect(t.onFailure(0)).toBe(150);
  });
});

describe('subjects', () => {
  it('escapes any name into one token and back', () => {
    for (const name of ['node-1', 'node1.example.com', 'a*b>c', 'with space', 'tilde~x', '', 'ünï.cødé']) {
      const t = token(name);
      expect(t).not.toMatch(/[.*>\s]/);
      expect(t.length).toBeGreaterThan(0);
      expect(untoken(t)).toBe(name);
    }
    expect(token('node1.example.com')).toBe('node1~2eexample~2ecom');
  });

  it('builds actor subjects and rejects bad ones', () => {
    expect(actorSubject('kubelet', 'pod', 'node-1', 'ns.name')).toBe('kubets.kubelet.pod.node-1.ns~2ename');
    expect(() => actorSubject('Kubelet', 'pod')).toThrow('not a valid subject token');
    expect(() => assertSubject('a..b')).toThrow();
    expect(() => assertSubject('a.*')).toThrow();
    expect(() => assertSubject('a.>')).toThrow();
  });
});

describe('codecs', () => {
  it('proto codec wraps decode failures in DecodeError', () => {
    const codec = protoCodec({
      encode: (m: string) => ({ finish: () => new TextEncoder().encode(m) }),
      decode: (b: Uint8Array) => {
        if (b[0] === 0xff) throw new Error('index out of range');
        return new TextDecoder().decode(b);
      },
    });
    expect(codec.decode(codec.encode('x'))).toBe('x');
    expect(() => codec.decode(new Uint8Array([0xff]))).toThrow(DecodeError);
  });

  it('empty codec accepts only empty payloads', () => {
    expect(emptyCodec.encode(undefined)).toHaveLength(0);
    expect(() => emptyCodec.decode(new Uint8Array([1]))).toThrow('expected an empty message');
  });
});

describe('Deque', () => {
  it('keeps FIFO order across growth and wrap-around', () => {
    const d = new Deque<number>(2);
    const out: number[] = [];
    for (let i = 0; i < 100; i++) {
      d.push(i);
      if (i % 3 === 0) out.push(d.shift()!);
    }
    out.push(...d.drain());
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(d.length).toBe(0);
    expect(d.shift()).toBeUndefined();
  });
});

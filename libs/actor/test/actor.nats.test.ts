// The actor runtime against a real nats-server (Debian package nats-server,
// started by the testkit on an ephemeral loopback port).
import { EchoReply, EchoRequest } from '@kubets/proto/kubets/sample/v1/echo';
import { freePort, startNatsServer, waitFor, type NatsServer } from '@kubets/testkit';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import {
  ActorSystem,
  AskTimeoutError,
  defineActor,
  defineProtocol,
  emptyCodec,
  ERROR_CODE_HEADER,
  jsonCodec,
  method,
  NoRespondersError,
  protoCodec,
  ReplyError,
  type ConnectionState,
} from '../src';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const EchoProtocol = defineProtocol({
  echo: method(protoCodec(EchoRequest), protoCodec(EchoReply)),
  ping: method(emptyCodec, emptyCodec),
});

let nats: NatsServer;
const systems: ActorSystem[] = [];
let subjectSeq = 0;

async function system(name = 'test'): Promise<ActorSystem> {
  const s = await ActorSystem.connect({ name, servers: nats.url, logger: log });
  systems.push(s);
  return s;
}

/** A unique subject per test so tests never see each other's messages. */
function freshSubject(): string {
  return `kubets.test.echo${++subjectSeq}`;
}

beforeAll(async () => {
  nats = await startNatsServer();
});

afterEach(async () => {
  await Promise.all(systems.splice(0).map((s) => s.stop(5_000)));
});

afterAll(async () => {
  await nats.dispose();
});

describe('actor runtime over NATS', () => {
  it('handles one message at a time under concurrent sends', async () => {
    const subject = freshSubject();
    const s = await system();
    let active = 0;
    let maxActive = 0;
    const order: string[] = [];
    await s.spawn(
      defineActor({
        name: 'serial',
        protocol: EchoProtocol,
        subject,
        init: () => ({ handled: 0 }),
        handlers: {
          echo: async (msg, ctx) => {
            active++;
            maxActive = Math.max(maxActive, active);
            // Yield to the event loop several times: a concurrent runtime would interleave here.
            for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
            order.push(msg.text);
            ctx.state.handled++;
            active--;
            return { text: msg.text, handled: ctx.state.handled, replica: 'serial' };
          },
          ping: () => undefined,
        },
      }),
    );
    const client = (await system('client')).remote(EchoProtocol, subject);
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client.ask('echo', { text: `m${i}`, crash: false, delayMs: 0 })),
    );
    expect(maxActive).toBe(1);
    expect(order).toHaveLength(200);
    // Each reply's counter is distinct: no two messages saw the same state.
    expect(new Set(replies.map((r) => r.handled)).size).toBe(200);
    expect(Math.max(...replies.map((r) => r.handled))).toBe(200);
  });

  it('answers asks, and fails them with typed errors on timeout and when nobody listens', async () => {
    const subject = freshSubject();
    const s = await system();
    await s.spawn(
      defineActor({
        name: 'slow',
        protocol: EchoProtocol,
        subject,
        handlers: {
          echo: async (msg) => {
            if (msg.delayMs) await new Promise((r) => setTimeout(r, msg.delayMs));
            return { text: msg.text.toUpperCase(), handled: 1, replica: 'slow' };
          },
          ping: () => undefined,
        },
      }),
    );
    const client = (await system('client')).remote(EchoProtocol, subject);
    await expect(client.ask('echo', { text: 'hi', crash: false, delayMs: 0 })).resolves.toMatchObject({ text: 'HI' });
    await expect(client.ask('ping', undefined)).resolves.toBeUndefined();

    const started = Date.now();
    const timeout = client.ask('echo', { text: 'late', crash: false, delayMs: 1_000 }, { timeoutMs: 150 });
    await expect(timeout).rejects.toBeInstanceOf(AskTimeoutError);
    await expect(timeout).rejects.toMatchObject({ subject: `${subject}.echo`, timeoutMs: 150 });
    expect(Date.now() - started).toBeLessThan(3_000); // far below: the handler would only answer after 1 s, and the ask rejected

    const nobody = client.ask('echo', { text: 'x', crash: false, delayMs: 0 });
    const ghost = (await system('ghost')).remote(EchoProtocol, 'kubets.test.nobody-listens');
    await nobody; // the real actor still answers
    const noResponders = ghost.ask('echo', { text: 'x', crash: false, delayMs: 0 }, { timeoutMs: 2_000 });
    await expect(noResponders).rejects.toBeInstanceOf(NoRespondersError);
    await expect(noResponders).rejects.toMatchObject({ subject: 'kubets.test.nobody-listens.echo' });
  });

  it('shares work across 3 replicas in a queue group', async () => {
    const subject = freshSubject();
    const counts = new Map<string, number>();
    for (const replica of ['a', 'b', 'c']) {
      const s = await system(`replica-${replica}`);
      await s.spawn(
        defineActor({
          name: 'worker',
          protocol: EchoProtocol,
          subject,
          queue: subject,
          handlers: {
            echo: (msg) => {
              counts.set(replica, (counts.get(replica) ?? 0) + 1);
              return { text: msg.text, handled: 0, replica };
            },
            ping: () => undefined,
          },
        }),
      );
    }
    const client = (await system('client')).remote(EchoProtocol, subject);
    const total = 600;
    const replies = await Promise.all(
      Array.from({ length: total }, (_, i) => client.ask('echo', { text: String(i), crash: false, delayMs: 0 })),
    );
    // Every message handled exactly once, by some replica.
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(total);
    expect(replies.map((r) => r.text)).toEqual(Array.from({ length: total }, (_, i) => String(i)));
    // NATS picks a queue member at random per message: each of 3 gets a fair share.
    for (const replica of ['a', 'b', 'c']) expect(counts.get(replica) ?? 0).toBeGreaterThan(total / 3 / 2);
  });

  it('restarts a crashed actor with exponential back-off and fresh state, logging the failure', async () => {
    const subject = freshSubject();
    const lines: Array<Record<string, unknown>> = [];
    const captured = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          lines.push(JSON.parse(line));
        },
      },
    );
    const s = await ActorSystem.connect({ name: 'crashy', servers: nats.url, logger: captured, registry: new Registry() });
    systems.push(s);
    const inits: number[] = [];
    await s.spawn(
      defineActor({
        name: 'crashy',
        protocol: EchoProtocol,
        subject,
        supervision: { minBackoffMs: 100, factor: 2, jitter: 0, maxBackoffMs: 10_000, maxRestarts: 100 },
        init: () => {
          inits.push(Date.now());
          return { handled: 0 };
        },
        handlers: {
          echo: (msg, ctx) => {
            if (msg.crash) throw new Error(`boom on ${msg.text}`);
            ctx.state.handled++;
            return { text: msg.text, handled: ctx.state.handled, replica: 'crashy' };
          },
          ping: () => undefined,
        },
      }),
    );
    const client = (await system('client')).remote(EchoProtocol, subject);
    expect((await client.ask('echo', { text: 'a', crash: false, delayMs: 0 })).handled).toBe(1);
    expect((await client.ask('echo', { text: 'b', crash: false, delayMs: 0 })).handled).toBe(2);

    // Crash three times in a row: the asker gets INTERNAL, and the delays grow 100, 200, 400 ms.
    for (let i = 0; i < 3; i++) {
      const crash = client.ask('echo', { text: `c${i}`, crash: true, delayMs: 0 });
      await expect(crash).rejects.toBeInstanceOf(ReplyError);
      await expect(crash).rejects.toMatchObject({ code: 'INTERNAL' });
      // Messages sent during the back-off wait in the mailbox; this one is answered after the restart.
      const after = await client.ask('echo', { text: `after${i}`, crash: false, delayMs: 0 }, { timeoutMs: 5_000 });
      expect(after.handled).toBe(1); // fresh state from init
    }
    expect(inits).toHaveLength(4);
    const gaps = inits.slice(1).map((t, i) => t - inits[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(395);

    const crashLogs = lines.filter((l) => l.level === 50 && String(l.msg).includes('crashed'));
    expect(crashLogs).toHaveLength(3);
    expect(crashLogs[0]).toMatchObject({ actor: 'crashy', method: 'echo', restartInMs: 100 });
    expect((crashLogs[0]!.err as { message: string }).message).toBe('boom on c0');
    expect(crashLogs.map((l) => l.restartInMs)).toEqual([100, 200, 400]);
  });

  it('answers a malformed message with INVALID_ARGUMENT and keeps serving', async () => {
    const subject = freshSubject();
    const s = await system();
    const JsonProtocol = defineProtocol({
      add: method(
        jsonCodec((v) => {
          const o = v as { a?: unknown; b?: unknown };
          if (typeof o !== 'object' || o === null || typeof o.a !== 'number' || typeof o.b !== 'number') {
            throw new Error('want {"a": number, "b": number}');
          }
          return o as { a: number; b: number };
        }),
        jsonCodec((v) => v as { sum: number }),
      ),
    });
    await s.spawn(defineActor({ name: 'json', protocol: JsonProtocol, subject: `${subject}j`, handlers: { add: (m) => ({ sum: m.a + m.b }) } }));
    await s.spawn(
      defineActor({
        name: 'proto',
        protocol: EchoProtocol,
        subject,
        handlers: { echo: (m) => ({ text: m.text, handled: 1, replica: 'p' }), ping: () => undefined },
      }),
    );
    // A raw NATS client sends garbage, as a buggy or hostile peer would.
    const raw = await connect({ servers: nats.url });
    try {
      const garbage = [
        { subject: `${subject}.echo`, data: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
        { subject: `${subject}.echo`, data: new Uint8Array([0x0a, 0x10, 0x41]) }, // truncated length-delimited field
        { subject: `${subject}.ping`, data: new Uint8Array([1, 2, 3]) }, // ping takes no payload
        { subject: `${subject}j.add`, data: new TextEncoder().encode('{"a": 1,') },
        { subject: `${subject}j.add`, data: new TextEncoder().encode('{"a": "1", "b": 2}') },
        { subject: `${subject}j.add`, data: new Uint8Array([0xc3, 0x28]) }, // invalid UTF-8
      ];
      for (const g of garbage) {
        const reply = await raw.request(g.subject, g.data, { timeout: 2_000 });
        expect([g.subject, reply.headers?.get(ERROR_CODE_HEADER)]).toEqual([g.subject, 'INVALID_ARGUMENT']);
        expect(reply.data.length).toBe(0);
      }
      const unknown = await raw.request(`${subject}.nosuchmethod`, new Uint8Array(), { timeout: 2_000 });
      expect(unknown.headers?.get(ERROR_CODE_HEADER)).toBe('NOT_FOUND');
      // A told (no reply subject) malformed message is dropped without harm.
      raw.publish(`${subject}.echo`, new Uint8Array([0xff, 0xff]));
      await raw.flush();
    } finally {
      await raw.close();
    }
    const client = (await system('client')).remote(EchoProtocol, subject);
    await expect(client.ask('echo', { text: 'still here', crash: false, delayMs: 0 })).resolves.toMatchObject({ text: 'still here' });
    const jsonClient = s.remote(JsonProtocol, `${subject}j`);
    await expect(jsonClient.ask('add', { a: 2, b: 3 })).resolves.toEqual({ sum: 5 });
    expect(s.actorPhase('proto')).toBe('running');
    expect(s.actorPhase('json')).toBe('running');
  });

  it('recovers transparently when the nats-server process is restarted', async () => {
    const subject = freshSubject();
    const server = await system('server');
    const states: ConnectionState[] = [];
    server.on('connection', (state: ConnectionState) => states.push(state));
    await server.spawn(
      defineActor({
        name: 'survivor',
        protocol: EchoProtocol,
        subject,
        init: () => ({ handled: 0 }),
        handlers: {
          echo: (m, ctx) => ({ text: m.text, handled: ++ctx.state.handled, replica: 'survivor' }),
          ping: () => undefined,
        },
      }),
    );
    const clientSystem = await system('client');
    const client = clientSystem.remote(EchoProtocol, subject);
    expect((await client.ask('echo', { text: 'before', crash: false, delayMs: 0 })).handled).toBe(1);

    await nats.kill();
    await waitFor(() => server.connectionState !== 'connected' && clientSystem.connectionState !== 'connected', {
      description: 'both systems to notice the server is gone',
    });
    await nats.start(); // same port
    await waitFor(() => server.connectionState === 'connected' && clientSystem.connectionState === 'connected', {
      timeoutMs: 15_000,
      description: 'both systems to reconnect',
    });
    // Subscriptions are restored by the runtime: the same actor (same state) answers again.
    const after = await waitFor(
      () => client.ask('echo', { text: 'after', crash: false, delayMs: 0 }, { timeoutMs: 1_000 }).catch(() => undefined),
      { timeoutMs: 10_000, description: 'the actor to answer after the restart' },
    );
    expect(after.handled).toBe(2);
    expect(states).toContain('disconnected');
    expect(states[states.length - 1]).toBe('connected');
  });

  it('drains the mailbox on graceful stop, then refuses new messages', async () => {
    const subject = freshSubject();
    const s = await system();
    const handled: string[] = [];
    let postStopped = false;
    await s.spawn(
      defineActor({
        name: 'drainer',
        protocol: EchoProtocol,
        subject,
        handlers: {
          echo: async (m) => {
            await new Promise((r) => setTimeout(r, 5));
            handled.push(m.text);
            return { text: m.text, handled: handled.length, replica: 'd' };
          },
          ping: () => undefined,
        },
        postStop: () => {
          postStopped = true;
        },
      }),
    );
    const client = (await system('client')).remote(EchoProtocol, subject);
    const asks = Array.from({ length: 50 }, (_, i) => client.ask('echo', { text: String(i), crash: false, delayMs: 0 }));
    await waitFor(() => handled.length >= 1, { description: 'the first message to be handled' });
    await s.stopActor('drainer');
    // Every message that reached the actor before the stop was handled and answered.
    const results = await Promise.allSettled(asks);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(handled).toHaveLength(50);
    expect(postStopped).toBe(true);
    await expect(client.ask('echo', { text: 'late', crash: false, delayMs: 0 }, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(
      NoRespondersError,
    );
  });

  it('a comma-separated server list (a --nats-url flag) is several servers, a refused one before or after the live one', async () => {
    const refused = `nats://127.0.0.1:${await freePort()}`;
    for (const servers of [`${nats.url},${refused}`, `${refused},${nats.url}`]) {
      const s = await ActorSystem.connect({ name: 'list', servers, logger: log });
      systems.push(s);
      await waitFor(() => s.connectionState === 'connected', { timeoutMs: 10_000, description: `connected with ${servers}` });
    }
  });

  it('start(): actors run before NATS is up; their subjects are served and asks answered once it comes', async () => {
    const port = await freePort();
    const subject = freshSubject();
    const s = ActorSystem.start({ name: 'early', servers: `nats://127.0.0.1:${port}`, logger: log });
    systems.push(s);
    expect(s.connectionState).toBe('disconnected');
    const states: ConnectionState[] = [];
    s.on('connection', (st: ConnectionState) => states.push(st));
    const ref = await s.spawn(
      defineActor({
        name: 'early-echo',
        protocol: EchoProtocol,
        subject,
        handlers: { echo: (m) => ({ text: m.text, handled: 1, replica: 'early' }), ping: () => undefined },
      }),
    );
    // Locally the actor works with no NATS at all.
    await expect(ref.ask('echo', { text: 'local', crash: false, delayMs: 0 })).resolves.toMatchObject({ text: 'local' });
    // A remote ask waits for the first connection within its timeout; without one it times out.
    await expect(s.remote(EchoProtocol, subject).ask('echo', { text: 'x', crash: false, delayMs: 0 }, { timeoutMs: 300 })).rejects.toBeInstanceOf(AskTimeoutError);
    const pending = s.remote(EchoProtocol, subject).ask('echo', { text: 'waited', crash: false, delayMs: 0 }, { timeoutMs: 20_000 });
    const late = await startNatsServer({ port });
    try {
      await expect(pending).resolves.toMatchObject({ text: 'waited', replica: 'early' });
      await waitFor(() => s.connectionState === 'connected', { description: 'the early system to report connected' });
      expect(states).toContain('connected');
      // Another process reaches the actor's subject.
      const other = await ActorSystem.connect({ name: 'other', servers: late.url, logger: log });
      systems.push(other);
      await waitFor(async () => {
        try {
          return (await other.remote(EchoProtocol, subject).ask('echo', { text: 'remote', crash: false, delayMs: 0 }, { timeoutMs: 1_000 })).text === 'remote';
        } catch {
          return false;
        }
      }, { description: 'a remote ask to the early actor' });
    } finally {
      await Promise.all(systems.splice(0).map((x) => x.stop(5_000)));
      await late.dispose();
    }
  });
});

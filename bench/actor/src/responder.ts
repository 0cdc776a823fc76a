// The serving side of the benchmark, in its own process: an echo actor
// (ask: echo, tell: note) and, on other subjects, raw NATS responders that do
// the least possible work (the ceiling).
import { ActorSystem, defineActor } from '@kubets/actor';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { ACTOR_SUBJECT, COUNT_SUBJECT, EchoProtocol, RAW_SUBJECT, RAW_TELL_SUBJECT } from './protocol';

async function main(): Promise<void> {
  const url = process.argv[2]!;
  const system = await ActorSystem.connect({ name: 'bench-responder', servers: url, logger: pino({ level: 'warn' }) });
  let notes = 0;
  await system.spawn(
    defineActor({
      name: 'echo',
      protocol: EchoProtocol,
      subject: ACTOR_SUBJECT,
      init: () => ({ handled: 0 }),
      handlers: {
        echo: (req, ctx) => ({ text: req.text, handled: ++ctx.state.handled, replica: 'bench' }),
        note: (req) => {
          notes++;
          return { text: req.text, handled: notes, replica: 'bench' };
        },
      },
    }),
  );
  const raw = await connect({ servers: url });
  let rawNotes = 0;
  raw.subscribe(RAW_SUBJECT, {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });
  raw.subscribe(RAW_TELL_SUBJECT, {
    callback: () => {
      rawNotes++;
    },
  });
  // The load generator asks how many told messages each side has handled.
  raw.subscribe(COUNT_SUBJECT, {
    callback: (_err, msg) => {
      msg.respond(new TextEncoder().encode(JSON.stringify({ notes, rawNotes })));
    },
  });
  await raw.flush();
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => {
    void Promise.all([system.stop(), raw.drain()]).then(() => process.exit(0));
  });
}

void main();

// bench/actor: what the actor layer costs over raw NATS.
//
//   npx nx run @kubets/bench-actor:bench            full run (about a minute)
//   node bench/actor/dist/main.js --smoke          tiny run (the test target)
//
// A local nats-server (Debian package) and a responder process serving both an
// echo actor and raw NATS responders; this process is the load generator.
// Raw and actor scenarios alternate, several rounds each, and the median
// round is reported.
import path from 'node:path';
import { ActorSystem } from '@kubets/actor';
import type { EchoRequest } from '@kubets/proto/kubets/sample/v1/echo';
import { EchoRequest as EchoRequestFns } from '@kubets/proto/kubets/sample/v1/echo';
import { spawnProcess, startNatsServer, waitFor } from '@kubets/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pino from 'pino';
import { ACTOR_SUBJECT, COUNT_SUBJECT, EchoProtocol, RAW_SUBJECT, RAW_TELL_SUBJECT } from './protocol';

const smoke = process.argv.includes('--smoke');
const ROUNDS = smoke ? 1 : 5;
const ASK_TOTAL = smoke ? 2_000 : 50_000;
const CONCURRENCY = 64;
const LATENCY_TOTAL = smoke ? 500 : 5_000;
const TELL_TOTAL = smoke ? 5_000 : 200_000;

const request: EchoRequest = { text: 'x'.repeat(64), crash: false, delayMs: 0 };
const requestBytes = EchoRequestFns.encode(request).finish();

type Asker = () => Promise<unknown>;

async function throughput(ask: Asker, total: number, concurrency: number): Promise<number> {
  let sent = 0;
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (sent < total) {
      sent++;
      await ask();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return total / seconds;
}

async function latency(ask: Asker, total: number): Promise<{ p50: number; p99: number }> {
  const samples = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    const t0 = process.hrtime.bigint();
    await ask();
    samples[i] = Number(process.hrtime.bigint() - t0) / 1e3; // µs
  }
  samples.sort();
  return { p50: samples[Math.floor(total * 0.5)]!, p99: samples[Math.floor(total * 0.99)]! };
}

async function counts(nc: NatsConnection): Promise<{ notes: number; rawNotes: number }> {
  const reply = await nc.request(COUNT_SUBJECT, new Uint8Array(), { timeout: 5_000 });
  return JSON.parse(new TextDecoder().decode(reply.data)) as { notes: number; rawNotes: number };
}

async function tellThroughput(nc: NatsConnection, send: () => void, which: 'notes' | 'rawNotes', total: number): Promise<number> {
  const before = (await counts(nc))[which];
  const started = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    send();
    // Let the socket drain now and then instead of buffering everything.
    if (i % 1_000 === 999) await nc.flush();
  }
  await waitFor(async () => (await counts(nc))[which] - before >= total, {
    timeoutMs: 60_000,
    intervalMs: 5,
    description: `${total} told messages to be handled`,
  });
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const responder = spawnProcess({
    name: 'bench-responder',
    command: process.execPath,
    args: [path.join(__dirname, 'responder.js'), nats.url],
  });
  try {
    await responder.waitForLog(/^ready$/, 30_000);
    const client = await ActorSystem.connect({ name: 'bench-client', servers: nats.url, logger: pino({ level: 'warn' }) });
    const raw = await connect({ servers: nats.url });
    const actor = client.remote(EchoProtocol, ACTOR_SUBJECT);
    const askActor: Asker = () => actor.ask('echo', request);
    const askRaw: Asker = () => raw.request(RAW_SUBJECT, requestBytes, { timeout: 5_000 });

    // Warm up both paths (JIT, connections).
    await throughput(askRaw, ASK_TOTAL / 5, CONCURRENCY);
    await throughput(askActor, ASK_TOTAL / 5, CONCURRENCY);

    const r = { rawAsk: [] as number[], actorAsk: [] as number[], rawTell: [] as number[], actorTell: [] as number[] };
    const lat = { raw: [] as Array<{ p50: number; p99: number }>, actor: [] as Array<{ p50: number; p99: number }> };
    for (let round = 0; round < ROUNDS; round++) {
      r.rawAsk.push(await throughput(askRaw, ASK_TOTAL, CONCURRENCY));
      r.actorAsk.push(await throughput(askActor, ASK_TOTAL, CONCURRENCY));
      lat.raw.push(await latency(askRaw, LATENCY_TOTAL));
      lat.actor.push(await latency(askActor, LATENCY_TOTAL));
      r.rawTell.push(await tellThroughput(raw, () => raw.publish(RAW_TELL_SUBJECT, requestBytes), 'rawNotes', TELL_TOTAL));
      r.actorTell.push(await tellThroughput(raw, () => actor.tell('note', request), 'notes', TELL_TOTAL));
    }
    const row = (name: string, rawV: number, actorV: number, unit: string, higherIsBetter: boolean) => {
      const cost = higherIsBetter ? (1 - actorV / rawV) * 100 : (actorV / rawV - 1) * 100;
      return `| ${name} | ${rawV.toFixed(0)} ${unit} | ${actorV.toFixed(0)} ${unit} | ${cost.toFixed(1)}% |`;
    };
    const lines = [
      `bench/actor: ${ROUNDS} round(s), median; ask ${ASK_TOTAL} msgs x ${CONCURRENCY} in flight, latency ${LATENCY_TOTAL} sequential asks, tell ${TELL_TOTAL} msgs; 64-byte text payload`,
      '',
      '| scenario | raw NATS | kubets actor | actor cost |',
      '|---|---|---|---|',
      row(`ask throughput (${CONCURRENCY} in flight)`, median(r.rawAsk), median(r.actorAsk), 'msg/s', true),
      row('ask latency p50 (sequential)', median(lat.raw.map((l) => l.p50)), median(lat.actor.map((l) => l.p50)), 'µs', false),
      row('ask latency p99 (sequential)', median(lat.raw.map((l) => l.p99)), median(lat.actor.map((l) => l.p99)), 'µs', false),
      row('tell throughput', median(r.rawTell), median(r.actorTell), 'msg/s', true),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    await client.stop();
    await raw.close();
  } finally {
    await responder.stop();
    await nats.dispose();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/actor failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});

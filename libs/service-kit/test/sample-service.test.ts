// The sample service (examples/echo-service.ts) as a real child process,
// against a real nats-server: health, reflection, metrics, SIGTERM.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { EchoServiceClient, type EchoReply } from '@kubets/proto/kubets/sample/v1/echo';
import {
  describeService,
  healthCheck,
  listServices,
  spawnProcess,
  startNatsServer,
  waitFor,
  type ManagedProcess,
  type NatsServer,
} from '@kubets/testkit';

const root = path.resolve(__dirname, '..', '..', '..');
const example = path.join(__dirname, '..', 'examples', 'echo-service.ts');

let nats: NatsServer;
let svc: ManagedProcess;
let grpcAddress: string;
let httpBase: string;

function startEcho(name: string, extra: string[] = []): ManagedProcess {
  return spawnProcess({
    name,
    command: process.execPath,
    args: [
      '--conditions=@kubets/source',
      '--import',
      'tsx',
      example,
      '--nats-url',
      nats.url,
      '--listen-address',
      '127.0.0.1:0',
      '--metrics-address',
      '127.0.0.1:0',
      ...extra,
    ],
    cwd: root,
  });
}

async function ports(p: ManagedProcess): Promise<{ grpcPort: number; httpPort: number }> {
  const line = await p.waitForLog(/"msg":"listening"/, 30_000);
  return JSON.parse(line) as { grpcPort: number; httpPort: number };
}

async function get(pathname: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`${httpBase}${pathname}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

function echo(text: string): Promise<EchoReply> {
  const client = new EchoServiceClient(grpcAddress, grpc.credentials.createInsecure());
  return new Promise<EchoReply>((resolve, reject) =>
    client.echo({ text, crash: false, delayMs: 0 }, (err, reply) => {
      client.close();
      if (err) reject(err);
      else resolve(reply);
    }),
  );
}

beforeAll(async () => {
  nats = await startNatsServer();
  svc = startEcho('echo-service');
  const p = await ports(svc);
  grpcAddress = `127.0.0.1:${p.grpcPort}`;
  httpBase = `http://127.0.0.1:${p.httpPort}`;
  await waitFor(async () => (await get('/readyz')).status === 200, { description: 'readyz', context: () => svc.tail() });
}, 60_000);

afterAll(async () => {
  await svc?.kill();
  await nats?.dispose();
});

describe('a service built on the kit', () => {
  it('answers grpc.health.v1.Health/Check for the server and each service', async () => {
    expect(await healthCheck(grpcAddress)).toBe('SERVING');
    expect(await healthCheck(grpcAddress, 'kubets.sample.v1.EchoService')).toBe('SERVING');
    await expect(healthCheck(grpcAddress, 'no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('serves reflection v1 and v1alpha like grpcurl list / describe expect', async () => {
    const expected = [
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'kubets.sample.v1.EchoService',
    ];
    expect(await listServices(grpcAddress, 'v1')).toEqual(expected);
    expect(await listServices(grpcAddress, 'v1alpha')).toEqual(expected);
    expect(await describeService(grpcAddress, 'kubets.sample.v1.EchoService')).toEqual([
      'Echo(kubets.sample.v1.EchoRequest) returns (kubets.sample.v1.EchoReply)',
    ]);
    expect(await describeService(grpcAddress, 'grpc.health.v1.Health')).toEqual([
      'Check(grpc.health.v1.HealthCheckRequest) returns (grpc.health.v1.HealthCheckResponse)',
      'Watch(grpc.health.v1.HealthCheckRequest) returns (stream grpc.health.v1.HealthCheckResponse)',
    ]);
  });

  it('handles calls through its actor', async () => {
    const reply = await echo('hello');
    expect(reply).toMatchObject({ text: 'hello', replica: 'echo-0' });
    expect(reply.handled).toBeGreaterThanOrEqual(1);
  });

  it('exposes /healthz, /livez, /readyz (verbose and per check) and Prometheus /metrics', async () => {
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok' });
    expect(await get('/livez')).toMatchObject({ status: 200, body: 'ok' });
    const verbose = await get('/readyz?verbose');
    expect(verbose.status).toBe(200);
    expect(verbose.body).toContain('[+]ping ok');
    expect(verbose.body).toContain('[+]nats ok');
    expect(verbose.body).toContain('readyz check passed');
    expect((await get('/readyz/nats')).status).toBe(200);
    expect((await get('/readyz/nosuch')).status).toBe(404);
    expect((await get('/nope')).status).toBe(404);

    await echo('count me');
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain('text/plain');
    expect(metrics.body).toMatch(/^kubets_actor_messages_total\{actor="echo",method="echo",outcome="ok"\} \d+/m);
    expect(metrics.body).toMatch(/^grpc_server_handled_total\{grpc_service="kubets.sample.v1.EchoService",grpc_method="Echo",grpc_code="OK"\} \d+/m);
    expect(metrics.body).toMatch(/^kubets_nats_connected\{client="kubets-echo"\} 1/m);
    expect(metrics.body).toContain('process_cpu_seconds_total');
  });

  it('reports not ready while NATS is down, and ready again after it returns', async () => {
    await nats.kill();
    await waitFor(async () => (await get('/readyz')).status === 500, { description: 'readyz to fail', context: () => svc.tail() });
    const report = await get('/readyz');
    expect(report.body).toMatch(/\[-\]nats failed: NATS (disconnected|reconnecting)/);
    expect((await get('/livez')).status).toBe(200); // alive, just not ready
    await nats.start();
    await waitFor(async () => (await get('/readyz')).status === 200, {
      timeoutMs: 15_000,
      description: 'readyz to pass again',
      context: () => svc.tail(),
    });
    await waitFor(() => echo('back').then(() => true, () => false), { description: 'an echo after reconnecting' });
  });

  it('logs JSON lines (name, level label, ISO time) with its effective configuration', () => {
    const lines = svc
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.name === 'kubets-echo' && typeof l.level === 'string' && typeof l.time === 'string')).toBe(true);
    expect(lines.some((l) => l.msg === 'kubets-echo starting' && typeof l.config === 'object')).toBe(true);
  });

  it('exits 0 on SIGTERM after a clean shutdown', async () => {
    const other = startEcho('echo-service-sigterm', ['--log-level', 'debug']);
    const p = await ports(other);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${p.httpPort}/readyz`)).status === 200, {
      description: 'second instance ready',
      context: () => other.tail(),
    });
    other.signal('SIGTERM');
    expect(await other.waitForExit(20_000)).toBe(0);
    expect(other.logs()).toContain('"msg":"kubets-echo stopped"');
    expect(other.logs()).toContain('"reason":"received SIGTERM"');
    // The actor logged through its own child logger, and was drained and stopped.
    expect(other.logs()).toMatch(/"actor":"echo".*"msg":"actor stopped"/);
  });
});

import https from 'node:https';
import net from 'node:net';
import { Writable } from 'node:stream';
import { createCertificate } from '@kubets/pki';
import { createLogger } from '@kubets/service-kit';
import { parseEndpoint } from './config';
import { LB_FLAGS, LbError, parseBackends, startLoadBalancer, type LoadBalancer } from './lb';

// One self-signed certificate for every fake API server: the LB does not verify it.
const cert = createCertificate({ subject: { commonName: 'kube-apiserver' }, extKeyUsage: ['serverAuth'], ipAddresses: ['127.0.0.1'] });

const BIG = 'x'.repeat(8 << 20);

/** A fake API server: /readyz answers 200 or 503 by `ready`, other paths its name. */
class FakeApiServer {
  ready = true;
  readyzHits = 0;
  port = 0;
  private server: https.Server | undefined;
  constructor(readonly name: string) {}

  async start(): Promise<void> {
    this.server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      if (req.url === '/readyz') {
        this.readyzHits++;
        res.writeHead(this.ready ? 200 : 503).end(this.ready ? 'ok' : 'not ready');
      } else if (req.url === '/big') {
        // The server closes right after a large reply: the LB must flush it all first.
        res.writeHead(200, { connection: 'close' }).end(BIG);
      } else res.writeHead(200).end(this.name);
    });
    // The same port on a restart: the LB knows backends by address.
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  get endpoint() {
    return parseEndpoint(`127.0.0.1:${this.port}`, 6443);
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET path through the LB on a fresh connection: the backend's name. */
function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { connection: 'close' } });
  return { status: res.status, body: await res.text() };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** Log lines as parsed JSON objects. */
function capturingLogger() {
  const lines: Array<{ msg: string; backend?: string; level: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: createLogger({ name: 'kubets-lb', level: 'debug', destination }), lines };
}

const a = new FakeApiServer('a');
const b = new FakeApiServer('b');
let lb: LoadBalancer | undefined;

beforeEach(async () => {
  a.ready = b.ready = true;
  await Promise.all([a.start(), b.start()]);
});
afterEach(async () => {
  await lb?.close();
  lb = undefined;
  await Promise.all([a.stop(), b.stop()]);
});

function start(opts: { healthIntervalMs?: number; healthzPort?: number; log?: ReturnType<typeof createLogger> } = {}) {
  return startLoadBalancer({
    host: '127.0.0.1',
    port: 0,
    backends: [a.endpoint, b.endpoint],
    healthPath: '/readyz',
    healthIntervalMs: opts.healthIntervalMs ?? 100,
    healthzPort: opts.healthzPort,
    log: opts.log ?? createLogger({ name: 'kubets-lb', level: 'silent' }),
  });
}

test('flags and --backend parsing', () => {
  expect(LB_FLAGS.port.default).toBe(6443);
  expect(parseBackends(['10.0.0.1', '[fd00::1]:7443']).map((h) => h.text)).toEqual(['10.0.0.1:6443', '[fd00::1]:7443']);
  expect(() => parseBackends([])).toThrow(LbError);
  expect(() => parseBackends(['10.0.0.1:6443', '10.0.0.1'])).toThrow(/given twice/);
  expect(() => parseBackends(['10.0.0.1:0'])).toThrow(/invalid --backend/);
});

test('round robin spreads connections over healthy backends', async () => {
  lb = await start();
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(await get(lb.port));
  expect(seen.filter((n) => n === 'a')).toHaveLength(3);
  expect(seen.filter((n) => n === 'b')).toHaveLength(3);
  expect((await get(lb.port, '/big')).length).toBe(BIG.length);
  await waitFor('connections closed', () => lb!.states().every((s) => s.active === 0));
});

test('a backend whose /readyz fails gets no new connections once checks notice, and returns after one good check', async () => {
  const { log, lines } = capturingLogger();
  lb = await start({ log });
  a.ready = false;
  await waitFor('a marked down', () => lb!.states().find((s) => s.backend === a.endpoint.text)?.healthy === false);
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) seen.push(await get(lb.port));
  expect(seen).toEqual(['b', 'b', 'b', 'b']);
  // Transitions are logged once, not on every failed check.
  const hits = a.readyzHits;
  await waitFor('more checks of a', () => a.readyzHits >= hits + 3);
  expect(lines.filter((l) => l.msg === 'backend is down' && l.backend === a.endpoint.text)).toHaveLength(1);

  a.ready = true;
  await waitFor('a back up', () => lb!.states().every((s) => s.healthy));
  const again = new Set<string>();
  for (let i = 0; i < 4; i++) again.add(await get(lb.port));
  expect(again).toEqual(new Set(['a', 'b']));
});

test('a stopped backend is skipped at connect time and leaves the rotation, before health checks notice', async () => {
  lb = await start({ healthIntervalMs: 60_000 }); // only the first round of checks runs
  await waitFor('first checks', () => a.readyzHits > 0 && b.readyzHits > 0);
  await b.stop();
  expect(lb.states().every((s) => s.healthy)).toBe(true);
  for (let i = 0; i < 4; i++) expect(await get(lb.port)).toBe('a');
  // The failed connect took b out of the rotation at once (passive health), before any check.
  expect(lb.states().find((s) => s.backend === b.endpoint.text)?.healthy).toBe(false);
});

test('with every backend down a client is closed; the LB serves again when one comes back', async () => {
  lb = await start();
  await Promise.all([a.stop(), b.stop()]);
  await expect(get(lb.port)).rejects.toThrow(/socket hang up|ECONNRESET|disconnected/);
  await waitFor('both marked down', () => lb!.states().every((s) => !s.healthy));
  await expect(get(lb.port)).rejects.toThrow();
  await a.start();
  // With no healthy backend every one is tried, so this works before checks notice.
  expect(await get(lb.port)).toBe('a');
  await waitFor('a marked up', () => lb!.states().find((s) => s.backend === a.endpoint.text)?.healthy === true);
});

test('/healthz and /metrics', async () => {
  lb = await start({ healthzPort: await freePort() });
  const port = lb.healthzPort!;
  expect(await httpGet(port, '/healthz')).toEqual({ status: 200, body: 'ok' });
  await get(lb.port);
  // A raw TCP connection stays open through the LB: one active connection.
  const raw = net.connect(lb.port, '127.0.0.1');
  await waitFor('an active connection', () => lb!.states().reduce((n, s) => n + s.active, 0) === 1);
  const metrics = (await httpGet(port, '/metrics')).body;
  for (const s of [a, b]) expect(metrics).toContain(`kubets_lb_backend_up{backend="${s.endpoint.text}"} 1`);
  expect(metrics).toMatch(/kubets_lb_backend_connections_total\{backend="[^"]+"\} 1\n[^]*kubets_lb_backend_connections_total\{backend="[^"]+"\} 1\n/);
  expect(metrics).toMatch(/kubets_lb_backend_active_connections\{backend="[^"]+"\} 1\n/);
  expect(metrics).toContain('# TYPE kubets_lb_backend_connect_failures_total counter');
  raw.destroy();
  await waitFor('the connection gone', () => lb!.states().every((s) => s.active === 0));

  a.ready = b.ready = false;
  await waitFor('/healthz 503', async () => (await httpGet(port, '/healthz')).status === 503);
  expect((await httpGet(port, '/healthz')).body).toMatch(/^no healthy backend: 127\.0\.0\.1:\d+ \(HTTP 503\), 127\.0\.0\.1:\d+ \(HTTP 503\)\n$/);
  expect((await httpGet(port, '/metrics')).body).toContain(`kubets_lb_backend_up{backend="${a.endpoint.text}"} 0`);
});

test('close() stops listening and checks and ends open connections, leaving no handles', async () => {
  const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'];
  const handles = () => process.getActiveResourcesInfo().filter((k) => kinds.includes(k)).length;
  const before = handles();
  const l = await start({ healthzPort: await freePort() });
  const raw = net.connect(l.port, '127.0.0.1');
  const rawClosed = new Promise((r) => raw.once('close', r));
  raw.on('error', () => {});
  await waitFor('an active connection', () => l.states().some((s) => s.active === 1));
  await l.close();
  await rawClosed;
  await expect(new Promise((resolve, reject) => net.connect(l.port, '127.0.0.1').once('connect', resolve).once('error', reject))).rejects.toThrow(/ECONNREFUSED/);
  // No socket, server or check timer of the LB is left (the backends' were there before).
  await waitFor('handles back to the baseline', () => handles() <= before);
});

test("an extra port goes to the same port of the chosen backend's host, following the main port's health", async () => {
  // A plain TCP service beside backend a on 127.0.0.1 (as the API server's gRPC port beside 6443);
  // the LB on 127.0.0.2 listens on that same port number.
  const grpc = net.createServer((s) => s.end('grpc of a\n'));
  await new Promise<void>((resolve) => grpc.listen(0, '127.0.0.1', resolve));
  const grpcPort = (grpc.address() as net.AddressInfo).port;
  try {
    lb = await startLoadBalancer({
      host: '127.0.0.2',
      port: 0,
      backends: [a.endpoint],
      extraPorts: [grpcPort],
      healthPath: '/readyz',
      healthIntervalMs: 100,
      log: createLogger({ name: 'kubets-lb', level: 'silent' }),
    });
    expect(lb.extraPorts).toEqual([grpcPort]);
    const read = () =>
      new Promise<string>((resolve, reject) => {
        let out = '';
        net.connect(grpcPort, '127.0.0.2').on('data', (d) => (out += d.toString())).on('end', () => resolve(out)).on('error', reject);
      });
    expect(await read()).toBe('grpc of a\n');
    // A second LB cannot take the same extra port: a clear error, nothing left listening.
    await expect(startLoadBalancer({ host: '127.0.0.2', port: 0, backends: [a.endpoint], extraPorts: [grpcPort], healthPath: '/readyz', healthIntervalMs: 100, log: createLogger({ name: 'kubets-lb', level: 'silent' }) })).rejects.toThrow(LbError);
  } finally {
    await new Promise((r) => grpc.close(r));
  }
});

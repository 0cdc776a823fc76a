// `kubets lb`: a TCP load balancer in front of the API servers of a cluster
// with several control-plane nodes (kind's haproxy container). It forwards
// raw TCP, so TLS stays end to end between client and API server and the LB
// needs no certificate; it only decides where a connection goes.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { HealthChecks, HttpEndpoint, type createLogger, type FlagSpecs } from '@kubets/service-kit';
import { Counter, Gauge, Registry } from 'prom-client';
import { DEFAULTS, parseEndpoint, type HostPort } from './config';

export const LB_FLAGS = {
  'bind-address': { type: 'string', default: '0.0.0.0', description: 'The address to accept client connections on' },
  port: { type: 'number', integer: true, min: 0, max: 65535, default: DEFAULTS.bindPort, description: 'The port to accept client connections on (0: any free port)' },
  backend: {
    type: 'list',
    description: 'An API server, host:port or [v6]:port (port default 6443); repeat or comma-separate for several (at least one)',
  },
  'extra-port': {
    type: 'list',
    default: ['6444'],
    description:
      "Also forward these ports to the same port of each backend's host, following the backend's health (kubets' API servers serve their internal gRPC API, which kubelets and controllers use, on 6444); empty: none",
  },
  'health-path': { type: 'string', default: '/readyz', description: 'The HTTPS path that answers 200 when a backend should get connections' },
  'health-interval': { type: 'duration', default: '1s', description: 'How often each backend is checked (e.g. 500ms, 1s, 5s)' },
  'healthz-port': {
    type: 'number',
    integer: true,
    min: 0,
    max: 65535,
    default: 8404,
    description: 'Serve /healthz and /metrics over HTTP on --bind-address at this port (haproxy\'s usual stats port; 0: off)',
  },
} as const satisfies FlagSpecs;

/** A failure the user can act on: printed without a stack, exit code 1. */
export class LbError extends Error {}

/** The pino logger of service-kit's createLogger (or a child of it): the LB runs like a component. */
export type LbLogger = ReturnType<typeof createLogger>;

export interface LoadBalancerOptions {
  host: string;
  /** 0 picks a free port; the handle reports the real one. */
  port: number;
  backends: HostPort[];
  /**
   * Further ports forwarded to the same port of each backend's host (no
   * checks of their own: a backend's health is its main port's).
   */
  extraPorts?: number[];
  healthPath: string;
  healthIntervalMs: number;
  /** Serve /healthz and /metrics at this port; 0 or undefined: off. */
  healthzPort?: number;
  /** The address of /healthz and /metrics (default 127.0.0.1). */
  healthzHost?: string;
  log: LbLogger;
}

export interface BackendState {
  backend: string;
  healthy: boolean;
  active: number;
}

export interface LoadBalancer {
  port: number;
  /** The bound extra ports, in the order given. */
  extraPorts: number[];
  /** The bound /healthz and /metrics port, when served. */
  healthzPort?: number;
  close(): Promise<void>;
  states(): BackendState[];
}

/** Longest a connect to a backend may take before the next one is tried. */
export const CONNECT_TIMEOUT_MS = 3_000;
const MAX_CHECK_TIMEOUT_MS = 3_000;
/** Consecutive failed checks that take a backend that was up out of rotation. */
const FALL = 2;

/** --backend values as endpoints; at least one, no duplicates. */
export function parseBackends(list: readonly string[]): HostPort[] {
  if (list.length === 0) throw new LbError('at least one --backend is required (host:port of an API server)');
  const out: HostPort[] = [];
  for (const text of list) {
    let hp: HostPort;
    try {
      hp = parseEndpoint(text, DEFAULTS.bindPort);
    } catch (e) {
      throw new LbError(`invalid --backend ${(e as Error).message}`);
    }
    if (out.some((b) => b.text === hp.text)) throw new LbError(`--backend ${hp.text} is given twice`);
    out.push(hp);
  }
  return out;
}

interface Backend {
  hp: HostPort;
  /** undefined until the first check: treated as healthy, since checks lag behind a fresh start. */
  up: boolean | undefined;
  failures: number;
  lastError?: string;
  active: number;
  timer?: NodeJS.Timeout;
}

const healthy = (b: Backend): boolean => b.up !== false;

export async function startLoadBalancer(o: LoadBalancerOptions): Promise<LoadBalancer> {
  if (o.backends.length === 0) throw new LbError('no backends');
  if (!(o.healthIntervalMs > 0)) throw new LbError(`the health check interval must be positive (got ${o.healthIntervalMs}ms)`);
  const log = o.log;
  const backends: Backend[] = o.backends.map((hp) => ({ hp, up: undefined, failures: 0, active: 0 }));
  const checkTimeoutMs = Math.min(o.healthIntervalMs * 2, MAX_CHECK_TIMEOUT_MS);
  // Every socket and in-flight check, so close() can end them all.
  const sockets = new Set<net.Socket>();
  const checks = new Set<http.ClientRequest>();
  let closed = false;
  let rr = 0;

  const registry = new Registry();
  const registers = [registry];
  const labelNames = ['backend'] as const;
  new Gauge({
    name: 'kubets_lb_backend_up',
    help: 'Whether the backend gets new connections (1) or not (0), by its health checks',
    labelNames,
    registers,
    collect() {
      for (const b of backends) this.set({ backend: b.hp.text }, healthy(b) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kubets_lb_backend_active_connections',
    help: 'Client connections currently forwarded to the backend',
    labelNames,
    registers,
    collect() {
      for (const b of backends) this.set({ backend: b.hp.text }, b.active);
    },
  });
  const total = new Counter({ name: 'kubets_lb_backend_connections_total', help: 'Client connections forwarded to the backend', labelNames, registers });
  const failed = new Counter({ name: 'kubets_lb_backend_connect_failures_total', help: 'Connects to the backend that failed (refused, timed out)', labelNames, registers });
  for (const b of backends) {
    // Zero samples from the start, so rate() works from the first scrape.
    total.inc({ backend: b.hp.text }, 0);
    failed.inc({ backend: b.hp.text }, 0);
  }

  /** Healthy backends in round-robin order; every backend in order when none is (checks may lag). */
  function candidates(): Backend[] {
    const up = backends.filter(healthy);
    if (up.length === 0) return backends;
    const start = rr++ % up.length;
    return [...up.slice(start), ...up.slice(0, start)];
  }

  function dial(b: Backend, port: number): Promise<net.Socket | undefined> {
    return new Promise((resolve) => {
      const s = net.connect({ host: b.hp.host, port, allowHalfOpen: true });
      sockets.add(s);
      const timer = setTimeout(() => s.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        sockets.delete(s);
        s.destroy();
        failed.inc({ backend: b.hp.text });
        log.debug({ backend: b.hp.text, err: err.message }, 'connect to backend failed');
        // Passive health: a backend that refuses or does not answer a connect
        // leaves the rotation at once (not only after its next checks), so
        // the next clients do not each wait for it; a good check brings it back.
        if (b.up !== false) {
          b.up = false;
          b.lastError = err.message;
          log.warn({ backend: b.hp.text, reason: err.message }, 'backend is down (connect failed)');
        }
        resolve(undefined);
      });
    });
  }

  async function forward(client: net.Socket, port?: number): Promise<void> {
    sockets.add(client);
    // Until piped, a client error (reset while we dial) just ends it.
    client.on('error', () => client.destroy());
    client.once('close', () => sockets.delete(client));
    const peer = `${client.remoteAddress}:${client.remotePort}`;
    for (const b of candidates()) {
      const upstream = await dial(b, port ?? b.hp.port);
      if (!upstream) continue;
      if (client.destroyed || closed) {
        upstream.destroy();
        return;
      }
      b.active++;
      total.inc({ backend: b.hp.text });
      let counted = true;
      const both: Array<[net.Socket, net.Socket]> = [
        [client, upstream],
        [upstream, client],
      ];
      for (const [s, other] of both) {
        // An error on either side ends both at once.
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        // A clean close lets the other side flush what it was sent before it
        // goes (destroying it at once would cut off the end of a reply); a
        // half close (FIN) alone is passed on by pipe, so a reply after it
        // still arrives.
        s.once('close', (hadError) => {
          sockets.delete(s);
          if (hadError) other.destroy();
          else if (!other.destroyed) other.end(() => other.destroy());
          if (counted && client.destroyed && upstream.destroyed) {
            counted = false;
            b.active--;
          }
        });
      }
      upstream.pipe(client);
      client.pipe(upstream); // resumes the client paused since accept
      log.debug({ client: peer, backend: b.hp.text }, 'forwarding');
      return;
    }
    log.warn({ client: peer, backends: backends.map((b) => b.hp.text) }, 'no backend accepted the connection; closing it');
    client.destroy();
  }

  function checkOnce(b: Backend): Promise<string | undefined> {
    return new Promise((resolve) => {
      const req = https.request(
        {
          host: b.hp.host,
          port: b.hp.port,
          path: o.healthPath,
          method: 'GET',
          // The LB holds no cluster CA (kind's haproxy does the same): a check
          // only asks whether the server is ready, it trusts nothing it says.
          rejectUnauthorized: false,
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`);
          req.destroy();
        },
      );
      checks.add(req);
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${checkTimeoutMs}ms`)), checkTimeoutMs);
      req.once('close', () => {
        clearTimeout(timer);
        checks.delete(req);
      });
      req.on('error', (err) => resolve(err.message));
      req.end();
    });
  }

  async function checkLoop(b: Backend): Promise<void> {
    const error = await checkOnce(b);
    if (closed) return;
    if (error === undefined) {
      b.failures = 0;
      if (b.up !== true) log.info({ backend: b.hp.text }, 'backend is up');
      b.up = true;
    } else {
      b.failures++;
      b.lastError = error;
      // A backend never seen up is down on its first failure; one that was
      // up gets FALL tries, so a single slow answer does not move clients.
      if (b.up !== false && (b.up === undefined || b.failures >= FALL)) {
        b.up = false;
        log.warn({ backend: b.hp.text, reason: error }, 'backend is down');
      }
    }
    b.timer = setTimeout(() => void checkLoop(b), o.healthIntervalMs);
  }

  /** A listener forwarding to the backends' main port (`port` undefined) or to `port` of their hosts. */
  async function listen(listenPort: number, port?: number): Promise<net.Server> {
    const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
      forward(client, port).catch((err: unknown) => {
        log.error({ err }, 'forwarding failed');
        client.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(listenPort, o.host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (err) => log.error({ err }, 'listener failed'));
    return srv;
  }
  const servers = [await listen(o.port)];
  try {
    for (const p of o.extraPorts ?? []) servers.push(await listen(p, p));
  } catch (err) {
    await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
    throw new LbError(`cannot listen on ${o.host}: ${(err as Error).message}`);
  }
  const server = servers[0]!;

  let endpoint: HttpEndpoint | undefined;
  let healthzPort: number | undefined;
  const unhealthyReason = (): string | undefined =>
    backends.some(healthy) ? undefined : `no healthy backend: ${backends.map((b) => `${b.hp.text} (${b.lastError ?? 'unknown'})`).join(', ')}`;

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const b of backends) clearTimeout(b.timer);
    for (const req of checks) req.destroy();
    const stopped = Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    for (const s of sockets) s.destroy();
    endpoint?.server.closeAllConnections();
    await Promise.all([stopped, endpoint?.close()]);
  }

  if (o.healthzPort) {
    const health = new HealthChecks();
    health.addReadiness('backends', unhealthyReason);
    endpoint = new HttpEndpoint({
      registry,
      health,
      log,
      routes: {
        // 503 rather than the endpoint's 500: the LB works, it has nowhere to send clients.
        '/healthz': (_req, res) => {
          const reason = unhealthyReason();
          res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(reason ? `${reason}\n` : 'ok');
        },
      },
    });
    try {
      healthzPort = await endpoint.listen(o.healthzPort, o.healthzHost ?? '127.0.0.1');
    } catch (err) {
      await close();
      throw new LbError(`cannot serve /healthz on ${o.healthzHost ?? '127.0.0.1'}:${o.healthzPort}: ${(err as Error).message}`);
    }
  }

  for (const b of backends) void checkLoop(b);
  const port = (server.address() as net.AddressInfo).port;
  const extraPorts = servers.slice(1).map((srv) => (srv.address() as net.AddressInfo).port);
  log.info({ address: `${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`, extraPorts, backends: backends.map((b) => b.hp.text), healthzPort }, 'load balancer started');
  return {
    port,
    extraPorts,
    healthzPort,
    close,
    states: () => backends.map((b) => ({ backend: b.hp.text, healthy: healthy(b), active: b.active })),
  };
}

export const LB_USAGE_TEXT = `Forward TCP connections to the API servers of a cluster with several control-plane
nodes (what kind's haproxy container does): point --control-plane-endpoint at it.

Each connection goes to the next healthy --backend in turn (round robin). A backend is
checked every --health-interval with an HTTPS GET of --health-path (the certificate is not
verified: the LB holds no CA, and TLS goes end to end through it). It leaves the rotation
after 2 failed checks in a row (after the first when it was never up) and returns after 1
good one. A backend that refuses a connection or does not accept it within 3s is skipped
for the next one; with no healthy backend, every backend is tried in order. Connections
already open to a backend that goes down are left alone.

--healthz-port (default 8404, on --bind-address) serves /healthz (503 when no backend is
healthy) and Prometheus /metrics; 0 turns it off.

Usage:
  kubets lb --backend HOST:PORT [--backend HOST:PORT ...] [flags]
`;

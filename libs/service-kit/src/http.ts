import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatReport, type HealthChecks, type Probe } from './health';

export interface HttpEndpointOptions {
  registry: Registry;
  health: HealthChecks;
  log: Logger;
  /** Extra handlers by exact path, tried before the built-in endpoints. */
  routes?: Record<string, http.RequestListener>;
}

/**
 * The operational HTTP endpoint of a component: /healthz (same as /livez),
 * /livez, /readyz (and /readyz/<check>), with ?verbose, and Prometheus
 * /metrics.
 */
export class HttpEndpoint {
  readonly server: http.Server;

  constructor(private readonly options: HttpEndpointOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        options.log.error({ err, url: req.url }, 'http endpoint failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  /** Listen on host:port (port 0 picks a free one); resolves with the bound port. */
  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const custom = this.options.routes?.[url.pathname];
    if (custom) return custom(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    if (url.pathname === '/metrics') {
      const body = await this.options.registry.metrics();
      res.writeHead(200, { 'content-type': this.options.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const match = /^\/(healthz|livez|readyz)(?:\/([^/]+))?$/.exec(url.pathname);
    if (match) {
      const probe: Probe = match[1] === 'readyz' ? 'readyz' : 'livez';
      const only = match[2];
      const results = await this.options.health.run(probe, only);
      if (only !== undefined && results.length === 0) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`no such check: ${only}\n`);
        return;
      }
      const report = formatReport(match[1]!, results, url.searchParams.has('verbose'));
      res.writeHead(report.ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : report.body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  }
}

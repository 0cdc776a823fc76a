// pods/proxy and services/proxy: the API server forwards an HTTP request to a
// pod's IP, or to one ready endpoint of a Service, and streams the answer back
// (what `kubectl proxy` and `kubectl get --raw .../proxy/...` use). The name
// may carry a port and a scheme, as in Kubernetes: `name`, `name:port`,
// `https:name:port`; a Service port is named or numbered, a pod port is a
// number or a named container port. The API server must reach pod IPs (on
// kubets nodes it does: control-plane nodes route every podCIDR).
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import * as am from '@kubets/api-machinery';
import type { Logger } from 'pino';
import type { ResourceDef } from '../registry';
import type { RestHandler } from '../rest/handler';

type AnyObj = Record<string, any>;

/** Headers that belong to one connection, not to the proxied request (RFC 9110 7.6.1), plus the caller's credentials. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'authorization', 'proxy-authorization']);

export interface ProxyTarget {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

/** Splits `[scheme:]name[:port]`. */
export function parseProxyName(raw: string): { scheme: 'http' | 'https' | undefined; name: string; port: string } {
  const parts = raw.split(':');
  let scheme: 'http' | 'https' | undefined;
  if (parts.length === 3) {
    if (parts[0] !== 'http' && parts[0] !== 'https') throw am.badRequest(`invalid scheme "${parts[0]}" in "${raw}"`);
    scheme = parts.shift() as 'http' | 'https';
  }
  if (parts.length > 2) throw am.badRequest(`invalid proxy name "${raw}"`);
  return { scheme, name: parts[0]!, port: parts[1] ?? '' };
}

/** The pod's IP and port (a number, or a named container port; empty: 80). */
export function podTarget(pod: AnyObj, port: string, scheme: 'http' | 'https' | undefined): ProxyTarget {
  const ip = pod.status?.podIP as string | undefined;
  if (!ip) throw am.serviceUnavailable(`pod ${pod.metadata?.name} has no IP address yet`);
  let n = port === '' ? 80 : Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    const named = ((pod.spec?.containers ?? []) as AnyObj[]).flatMap((c) => (c.ports ?? []) as AnyObj[]).find((p) => p.name === port);
    if (!named) throw am.badRequest(`pod ${pod.metadata?.name} has no port named "${port}"`);
    n = Number(named.containerPort);
  }
  return { scheme: scheme ?? 'http', host: ip, port: n };
}

/** One ready endpoint of the Service's port (named or numbered; empty: its only port). */
export function serviceTarget(svc: AnyObj, endpoints: AnyObj | undefined, port: string, scheme: 'http' | 'https' | undefined): ProxyTarget {
  const ports = (svc.spec?.ports ?? []) as AnyObj[];
  const sp = port === '' ? (ports.length === 1 ? ports[0] : undefined) : ports.find((p) => p.name === port || String(p.port) === port);
  if (!sp) throw am.serviceUnavailable(`no service port ${JSON.stringify(port)} found for service "${svc.metadata?.name}"`);
  const candidates: ProxyTarget[] = [];
  for (const subset of (endpoints?.subsets ?? []) as AnyObj[]) {
    const ep = ((subset.ports ?? []) as AnyObj[]).find((p) => (p.name ?? '') === (sp.name ?? ''));
    if (!ep) continue;
    for (const a of (subset.addresses ?? []) as AnyObj[]) if (a.ip) candidates.push({ scheme: scheme ?? 'http', host: a.ip, port: Number(ep.port) });
  }
  if (candidates.length === 0) throw am.serviceUnavailable(`no endpoints available for service "${svc.metadata?.name}"`);
  return candidates[Math.floor(Math.random() * candidates.length)]!;
}

export class NetworkProxy {
  constructor(
    private readonly handler: RestHandler,
    private readonly lookup: (group: string, version: string, resource: string) => ResourceDef | undefined,
    private readonly log: Logger,
    private readonly timeoutMs = 30_000,
  ) {}

  /** Resolves `resource`/`rawName` in `namespace` and forwards `req` to it with `path` (and the query). */
  async serve(resource: 'pods' | 'services', namespace: string, rawName: string, path: string, search: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { scheme, name, port } = parseProxyName(rawName);
    const get = (r: string) => this.handler.get({ def: this.lookup('', 'v1', r)!, namespace, name });
    let target: ProxyTarget;
    if (resource === 'pods') target = podTarget(await get('pods'), port, scheme);
    else {
      const svc = await get('services');
      const eps = await get('endpoints').catch((e: unknown) => {
        if (am.isStatusError(e) && e.code === 404) return undefined;
        throw e;
      });
      target = serviceTarget(svc, eps, port, scheme);
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k) && v !== undefined) headers[k] = v;
    headers.host = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    const lib = target.scheme === 'https' ? https : http;
    await new Promise<void>((resolve, reject) => {
      const up = lib.request(
        { host: target.host, port: target.port, method: req.method, path: `${path}${search}`, headers, timeout: this.timeoutMs, rejectUnauthorized: false },
        (answer) => {
          const out: OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(answer.headers)) if (!DROP.has(k) && v !== undefined) out[k] = v;
          res.writeHead(answer.statusCode ?? 502, out);
          answer.pipe(res);
          answer.on('end', () => resolve());
          answer.on('error', () => resolve());
        },
      );
      up.on('timeout', () => up.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      up.on('error', (e) => {
        this.log.debug({ err: e.message, target: `${target.host}:${target.port}` }, `${resource}/proxy failed`);
        if (!res.headersSent) reject(am.serviceUnavailable(`error trying to reach ${resource === 'pods' ? 'pod' : 'service'}: ${e.message}`));
        else {
          res.destroy();
          resolve();
        }
      });
      res.on('close', () => up.destroy());
      req.pipe(up);
    });
  }
}

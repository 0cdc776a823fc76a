import { type IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import * as am from '@kubets/api-machinery';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { decodeK8sProtobuf, isK8sProtobuf } from '@kubets/k8s-protobuf';
import YAML from 'yaml';
import { ANONYMOUS, anonymousMayAccess, type Authenticator, type UserInfo } from '../auth';
import type { KObject, ResourceDef } from '../registry/types';
import type { DeleteOptions, ListOptions, PatchType, RestHandler, Target, WriteOptions } from '../rest/handler';
import { AGGREGATED_V2, type Discovery, versionInfo, wantsAggregated } from './discovery';
import type { KubeletProxy } from './kubelet-proxy';
import type { NetworkProxy } from './network-proxy';
import { toTable, type IncludeObject } from './table';

export const MAX_BODY_BYTES = 3 * 1024 * 1024;
const MAX_JSON_DEPTH = 100;

export interface HttpApiOptions {
  handler: RestHandler;
  discovery: Discovery;
  auth: Authenticator;
  lookup: (group: string, version: string, resource: string) => ResourceDef | undefined;
  log: Logger;
  registry: Registry;
  health: (probe: 'livez' | 'readyz', verbose: boolean) => Promise<{ ok: boolean; body: string }>;
  tls: { cert: string | Buffer; key: string | Buffer; clientCa?: string | Buffer };
  /** Serves pods/log, pods/exec, pods/attach and pods/portforward through the pod's kubelet; unset: 503. */
  kubelet?: KubeletProxy;
  /** Serves pods/proxy and services/proxy (HTTP to a pod's IP or a Service endpoint); unset: 503. */
  network?: NetworkProxy;
}

/** An upgrade request's raw connection (WebSocket or SPDY: pods/exec, pods/attach, pods/portforward). */
interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

class HttpError {
  constructor(readonly status: am.StatusError) {}
}

const PATCH_TYPES: Record<string, PatchType> = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
};

function depthOf(v: unknown, limit: number): number {
  // Iterative, so a hostile body cannot overflow the stack.
  const stack: Array<[unknown, number]> = [[v, 1]];
  let max = 0;
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max;
    if (x && typeof x === 'object') for (const c of Object.values(x)) if (c && typeof c === 'object') stack.push([c, d + 1]);
  }
  return max;
}

function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

export class HttpApi {
  private server: https.Server | undefined;
  private readonly requests: Counter<string>;
  private readonly latency: Histogram<string>;
  private readonly watches = new Set<() => void>();
  private closing = false;

  constructor(private readonly o: HttpApiOptions) {
    this.requests = new Counter({ name: 'apiserver_request_total', help: 'Requests by verb, resource and HTTP code.', labelNames: ['verb', 'group', 'resource', 'subresource', 'code'], registers: [o.registry] });
    this.latency = new Histogram({
      name: 'apiserver_request_duration_seconds',
      help: 'Request latency by verb and resource (watches excluded).',
      labelNames: ['verb', 'group', 'resource'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [o.registry],
    });
  }

  async listen(host: string, port: number): Promise<number> {
    const { tls } = this.o;
    this.server = https.createServer(
      {
        cert: tls.cert,
        key: tls.key,
        ca: tls.clientCa,
        requestCert: !!tls.clientCa,
        rejectUnauthorized: false, // token users have no client certificate; unauthorized certs simply do not authenticate
        minVersion: 'TLSv1.2',
      },
      (req, res) => void this.serve(req, res),
    );
    this.server.keepAliveTimeout = 120_000;
    this.server.headersTimeout = 60_000;
    this.server.requestTimeout = 0; // watches are long
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Served like any request (authentication, errors as Status, metrics) on a
      // response bound to the raw socket; pods/exec takes the socket over.
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.on('finish', () => socket.end());
      socket.on('error', () => socket.destroy());
      void this.serve(req, res, { socket, head });
    });
    this.server.on('tlsClientError', () => {}); // handshake garbage: nothing to answer
    this.server.on('clientError', (err, socket) => {
      this.o.log.debug({ err: err.message }, 'HTTP client error');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const stop of [...this.watches]) stop();
    const s = this.server;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeIdleConnections();
      setTimeout(() => {
        s.closeAllConnections();
        resolve();
      }, 2000).unref();
    });
  }

  private send(res: ServerResponse, code: number, body: unknown, contentType = 'application/json', warnings: string[] = []): void {
    if (res.headersSent) return;
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string | string[]> = {
      'Content-Type': contentType,
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-cache, private',
      'X-Content-Type-Options': 'nosniff',
    };
    if (warnings.length) headers.Warning = warnings.slice(0, 50).map((w) => `299 - ${JSON.stringify(w.slice(0, 256)).replace(/[^\x20-\x7e]/g, '?')}`);
    res.writeHead(code, headers);
    res.end(text);
  }

  private sendStatus(res: ServerResponse, e: am.StatusError): void {
    this.send(res, e.code, e.toStatus());
  }

  private async serve(req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): Promise<void> {
    const started = process.hrtime.bigint();
    let labels = { verb: req.method ?? '', group: '', resource: '', subresource: '' };
    let watching = false;
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const path = url.pathname;
      if (path === '/healthz' || path === '/livez' || path === '/readyz' || path.startsWith('/healthz/') || path.startsWith('/livez/') || path.startsWith('/readyz/')) {
        const h = await this.o.health(path.startsWith('/livez') ? 'livez' : 'readyz', url.searchParams.has('verbose'));
        this.send(res, h.ok ? 200 : 500, h.body, 'text/plain; charset=utf-8');
        return;
      }
      if (path === '/version' || path === '/version/') {
        this.send(res, 200, versionInfo());
        return;
      }
      // Credentials that do not authenticate are 401 even where anonymous
      // access is allowed (as in Kubernetes): only a request without any is anonymous.
      const user = this.o.auth.authenticate(req) ?? (!req.headers.authorization && anonymousMayAccess(req.method, path, url.searchParams) ? ANONYMOUS : undefined);
      if (!user) throw new HttpError(am.unauthorized());
      if (path === '/metrics') {
        this.send(res, 200, await this.o.registry.metrics(), this.o.registry.contentType);
        return;
      }
      const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
      const r = await this.route(req, res, url, parts, user, (l) => (labels = { ...labels, ...l }), upgrade);
      watching = r === 'watch';
    } catch (e) {
      const err = e instanceof HttpError ? e.status : am.isStatusError(e) ? e : this.internalError(e, req);
      this.sendStatus(res, err);
    } finally {
      const code = String(res.statusCode);
      this.requests.inc({ ...labels, code });
      if (!watching) this.latency.observe({ verb: labels.verb, group: labels.group, resource: labels.resource }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private internalError(e: unknown, req: IncomingMessage): am.StatusError {
    this.o.log.error({ err: e instanceof Error ? { message: e.message, stack: e.stack } : String(e), method: req.method, url: req.url }, 'request failed');
    return am.internal(e instanceof Error ? e.message : String(e));
  }

  /** Returns 'watch' for a watch that keeps the response open. */
  private async route(req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], user: UserInfo, label: (l: Partial<Record<string, string>>) => void, upgrade?: Upgrade): Promise<'done' | 'watch'> {
    const accept = req.headers.accept;
    const d = this.o.discovery;
    // ---- discovery and OpenAPI
    if (parts.length === 0) {
      this.send(res, 200, { paths: ['/api', '/api/v1', '/apis', ...d.groupVersions.filter((g) => g.group).map((g) => `/apis/${g.group}/${g.version}`), '/healthz', '/livez', '/metrics', '/openapi/v3', '/readyz', '/version'] });
      return 'done';
    }
    if (parts[0] === 'openapi') {
      if (parts[1] === 'v3' && parts.length === 2) {
        this.send(res, 200, d.openapiRoot());
        return 'done';
      }
      if (parts[1] === 'v3') {
        const doc = d.openapiDoc(parts.slice(2).join('/'));
        if (doc) {
          this.send(res, 200, doc.body);
          return 'done';
        }
      }
      throw new HttpError(notFoundPath());
    }
    if (parts[0] === 'api' && parts.length === 1) {
      if (wantsAggregated(accept)) this.send(res, 200, d.aggregated(true), AGGREGATED_V2);
      else this.send(res, 200, d.apiVersions());
      return 'done';
    }
    if (parts[0] === 'apis' && parts.length === 1) {
      if (wantsAggregated(accept)) this.send(res, 200, d.aggregated(false), AGGREGATED_V2);
      else this.send(res, 200, d.apiGroupList());
      return 'done';
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = d.apiGroupDoc(parts[1]!);
      if (!g) throw new HttpError(notFoundPath());
      this.send(res, 200, g);
      return 'done';
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api') {
      group = '';
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis') {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else throw new HttpError(notFoundPath());
    if (rest.length === 0) {
      const l = d.resourceList(group, version);
      if (!l) throw new HttpError(notFoundPath());
      this.send(res, 200, l);
      return 'done';
    }
    // ---- resources
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && this.o.lookup(group, version, rest[2]!)?.namespaced) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name, subresource, ...extra] = rest as [string, string | undefined, string | undefined, ...string[]];
    const def = this.o.lookup(group, version, resource);
    // Only a proxy has a path of its own after the subresource.
    if (!def || (extra.length > 0 && subresource !== 'proxy')) throw new HttpError(notFoundPath());
    if (subresource && !def.subresources.some((s) => s.name === subresource) && !(def.resource === 'namespaces' && subresource === 'finalize')) throw new HttpError(notFoundPath());
    if (!def.namespaced && namespace) throw new HttpError(notFoundPath());
    if (namespace !== undefined) this.checkName(namespace, 'namespace');
    if (name !== undefined && name === '') throw new HttpError(notFoundPath());
    const target: Target = { def, namespace: def.namespaced ? namespace : undefined, name, subresource };
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const verb = this.verbOf(method, name, q);
    label({ verb, group, resource, subresource: subresource ?? '' });
    if (this.o.kubelet && def.resource === 'pods' && name && namespace && (subresource === 'log' || subresource === 'exec' || subresource === 'attach' || subresource === 'portforward')) {
      if (subresource === 'log') {
        if (method !== 'GET') throw new HttpError(am.methodNotAllowed('the server does not allow this method on the requested resource'));
        await this.o.kubelet.logs(namespace, name, q, res);
        return 'watch'; // long-running when following: not a latency sample
      }
      if (method !== 'GET' && method !== 'POST') throw new HttpError(am.methodNotAllowed('the server does not allow this method on the requested resource'));
      if (!upgrade) throw new HttpError(am.badRequest('Upgrade request required'));
      res.detachSocket(upgrade.socket as Socket);
      res.removeAllListeners('finish');
      try {
        await this.o.kubelet.upgrade(subresource, namespace, name, q, req, upgrade.socket, upgrade.head);
      } catch (e) {
        // Nothing was written yet: answer on the raw socket.
        const err = am.isStatusError(e) ? e : this.internalError(e, req);
        const body = JSON.stringify(err.toStatus());
        upgrade.socket.end(`HTTP/1.1 ${err.code} ${err.reason || 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        res.statusCode = err.code;
      }
      return 'watch';
    }
    if (this.o.network && group === '' && (def.resource === 'pods' || def.resource === 'services') && subresource === 'proxy' && name && namespace) {
      // The path after .../proxy as the client sent it (still percent-encoded), trailing slash included.
      const raw = url.pathname.split('/').filter(Boolean).slice(parts.length - extra.length);
      const rest = raw.length === 0 ? '/' : `/${raw.join('/')}${url.pathname.endsWith('/') ? '/' : ''}`;
      await this.o.network.serve(def.resource, namespace, name, rest, url.search, req, res);
      return 'watch'; // as long as the backend takes: not a latency sample
    }
    if (subresource === 'log' || subresource === 'exec' || subresource === 'portforward' || subresource === 'attach' || subresource === 'proxy' || subresource === 'eviction') {
      throw new HttpError(am.serviceUnavailable(`${resource}/${subresource} is served by the kubelet, which this cluster does not run yet`));
    }
    const write: WriteOptions = {
      dryRun: this.dryRun(q),
      fieldValidation: this.fieldValidation(q),
      fieldManager: q.get('fieldManager') ?? undefined,
    };
    void user;
    switch (method) {
      case 'GET': {
        if (verb === 'watch') return this.watch(req, res, target, this.listOptions(q), accept);
        if (verb === 'list') {
          const list = await this.o.handler.list(target, this.listOptions(q));
          if (wantsTable(accept)) {
            this.send(res, 200, toTable(def, list.items, { resourceVersion: list.metadata.resourceVersion, continue: list.metadata.continue, include: this.includeObject(q) }));
          } else this.send(res, 200, list);
          return 'done';
        }
        const obj = await this.o.handler.get(target, { resourceVersion: q.get('resourceVersion') ?? undefined });
        if (wantsTable(accept) && !subresource) this.send(res, 200, toTable(def, [obj], { resourceVersion: obj.metadata?.resourceVersion, include: this.includeObject(q) }));
        else this.send(res, 200, obj);
        return 'done';
      }
      case 'POST': {
        if (name && subresource !== 'binding') throw new HttpError(am.methodNotAllowed('the server does not allow this method on the requested resource'));
        const body = await this.readObject(req);
        const t = subresource === 'binding' ? target : { ...target, name: undefined };
        const r = await this.o.handler.create(t, body, write);
        this.send(res, 201, r.obj, 'application/json', r.warnings);
        return 'done';
      }
      case 'PUT': {
        const body = await this.readObject(req);
        const r = await this.o.handler.update(target, body, write);
        this.send(res, 200, r.obj, 'application/json', r.warnings);
        return 'done';
      }
      case 'PATCH': {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (ct === 'application/apply-patch+yaml') {
          throw new HttpError(am.unsupportedMediaType(ct));
        }
        const type = PATCH_TYPES[ct];
        if (!type) throw new HttpError(am.unsupportedMediaType(ct || '(none)'));
        const patch = await this.readJson(req, ['application/json']);
        const r = await this.o.handler.patch(target, type, patch, write);
        this.send(res, 200, r.obj, 'application/json', r.warnings);
        return 'done';
      }
      case 'DELETE': {
        const body = await this.readBody(req);
        let opts: DeleteOptions = {};
        if (body.length > 0) {
          const parsed = this.parse(body, req.headers['content-type']);
          if (parsed && typeof parsed === 'object') opts = parsed as DeleteOptions;
        }
        const pp = q.get('propagationPolicy');
        if (pp) opts.propagationPolicy = pp as DeleteOptions['propagationPolicy'];
        const gp = q.get('gracePeriodSeconds');
        if (gp !== null) opts.gracePeriodSeconds = Number(gp);
        if (write.dryRun) opts.dryRun = true;
        if (opts.propagationPolicy && !['Background', 'Foreground', 'Orphan'].includes(opts.propagationPolicy)) {
          throw new HttpError(am.invalid('meta.k8s.io', 'DeleteOptions', '', [{ reason: 'FieldValueNotSupported', field: 'propagationPolicy', message: `Unsupported value: ${JSON.stringify(opts.propagationPolicy)}: supported values: "Foreground", "Background", "Orphan", "nil"` }]));
        }
        if (!name) {
          const l = await this.o.handler.deleteCollection(target, this.listOptions(q), opts);
          this.send(res, 200, l);
          return 'done';
        }
        const r = await this.o.handler.delete(target, opts);
        this.send(res, 200, r.obj);
        return 'done';
      }
      default:
        throw new HttpError(am.methodNotAllowed(`the server does not allow this method on the requested resource`));
    }
  }

  private verbOf(method: string, name: string | undefined, q: URLSearchParams): string {
    const watch = q.get('watch');
    if (method === 'GET') {
      if (watch === 'true' || watch === '1') return 'watch';
      return name ? 'get' : 'list';
    }
    return ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: name ? 'delete' : 'deletecollection' } as Record<string, string>)[method] ?? method.toLowerCase();
  }

  private checkName(v: string, what: string): void {
    if (v.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) throw new HttpError(am.badRequest(`invalid ${what} ${JSON.stringify(v.slice(0, 64))}`));
  }

  private dryRun(q: URLSearchParams): boolean {
    const v = q.getAll('dryRun');
    if (v.length === 0) return false;
    for (const x of v) if (x !== 'All') throw new HttpError(am.badRequest(`Invalid dry run value: ${JSON.stringify(x)}: supported values: "All"`));
    return true;
  }

  private fieldValidation(q: URLSearchParams): WriteOptions['fieldValidation'] {
    const v = q.get('fieldValidation');
    if (v === null || v === '') return 'Warn';
    if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
    throw new HttpError(am.badRequest(`fieldValidation must be one of "Ignore", "Warn" or "Strict", got ${JSON.stringify(v)}`));
  }

  private includeObject(q: URLSearchParams): IncludeObject {
    const v = q.get('includeObject');
    return v === 'Object' || v === 'None' ? v : 'Metadata';
  }

  private listOptions(q: URLSearchParams): ListOptions {
    const num = (k: string): number | undefined => {
      const v = q.get(k);
      if (v === null || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new HttpError(am.badRequest(`invalid ${k}: ${JSON.stringify(v)}`));
      return n;
    };
    return {
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
      resourceVersion: q.get('resourceVersion') ?? undefined,
      resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
      limit: num('limit'),
      continue: q.get('continue') ?? undefined,
      timeoutSeconds: num('timeoutSeconds'),
      allowWatchBookmarks: q.get('allowWatchBookmarks') === 'true',
    };
  }

  private async watch(req: IncomingMessage, res: ServerResponse, t: Target, opts: ListOptions, accept: string | undefined): Promise<'watch'> {
    const table = wantsTable(accept);
    let headerSent = false;
    let open = true;
    const kind = t.def.kind;
    const apiVersion = t.def.group ? `${t.def.group}/${t.def.version}` : t.def.version;
    const begin = () => {
      if (headerSent) return;
      headerSent = true;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
      res.flushHeaders();
    };
    const write = (type: string, obj: KObject, json?: string) => {
      if (!open) return;
      begin();
      let payload: string;
      if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
        payload = JSON.stringify(toTable(t.def, [obj], { resourceVersion: obj.metadata?.resourceVersion }));
      } else payload = json ?? JSON.stringify(obj);
      res.write(`{"type":"${type}","object":${payload}}\n`);
    };
    let cancel: () => void = () => {};
    const finish = () => {
      if (!open) return;
      open = false;
      cancel();
      this.watches.delete(finish);
      clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    const seconds = opts.timeoutSeconds ?? 1800 + Math.floor(Math.random() * 1800);
    const timer = setTimeout(finish, seconds * 1000);
    timer.unref();
    res.on('close', finish);
    this.watches.add(finish);
    if (this.closing) {
      finish();
      return 'watch';
    }
    cancel = await this.o.handler.watch(t, opts, {
      event: (type, obj, ev) => {
        if (ev && !table) {
          if (ev.type === type) ev.json ??= JSON.stringify(ev.obj);
          write(type, obj, ev.type === type ? ev.json : undefined);
        } else write(type, obj);
      },
      bookmark: (rv) => write('BOOKMARK', { kind, apiVersion, metadata: { resourceVersion: rv } }),
      error: (status) => {
        write('ERROR', status.toStatus());
        finish();
      },
    });
    if (!open) cancel();
    begin();
    void req;
    return 'watch';
  }

  // ---- bodies

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      return Promise.reject(new HttpError(am.requestEntityTooLarge(`limit is ${MAX_BODY_BYTES}`)));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          failed = true;
          reject(new HttpError(am.requestEntityTooLarge(`limit is ${MAX_BODY_BYTES}`)));
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => {
        if (!failed) resolve(Buffer.concat(chunks));
      });
      req.on('error', (e) => {
        if (!failed) reject(new HttpError(am.badRequest(`reading the request body: ${e.message}`)));
      });
    });
  }

  private parse(body: Buffer, contentType: string | undefined, allowed = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'application/vnd.kubernetes.protobuf']): unknown {
    const ct = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
    if (allowed.includes(ct) && isK8sProtobuf(ct)) {
      // kubectl 1.32+ sends typed objects (kubectl create namespace/configmap/...) in Kubernetes' protobuf.
      try {
        return decodeK8sProtobuf(body).object;
      } catch (e) {
        throw new HttpError(am.badRequest(`the body of the request could not be decoded as Kubernetes protobuf: ${(e as Error).message}`));
      }
    }
    if (!allowed.includes(ct) && ct !== '*/*' && ct !== '') {
      throw new HttpError(am.unsupportedMediaType(ct));
    }
    const text = body.toString('utf8');
    let v: unknown;
    if (ct.includes('yaml')) {
      try {
        const docs = YAML.parseAllDocuments(text);
        if (docs.length !== 1) throw new Error(docs.length === 0 ? 'empty document' : 'expected exactly one YAML document');
        const doc = Array.isArray(docs) ? docs[0]! : (docs as unknown as YAML.Document);
        if (doc.errors.length) throw new Error(doc.errors[0]!.message);
        v = doc.toJS({ maxAliasCount: 100 });
      } catch (e) {
        throw new HttpError(am.badRequest(`error converting YAML to JSON: ${(e as Error).message}`));
      }
    } else {
      try {
        v = JSON.parse(text);
      } catch (e) {
        throw new HttpError(am.badRequest(`the body of the request could not be decoded as JSON: ${(e as Error).message}`));
      }
    }
    if (depthOf(v, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw new HttpError(am.badRequest(`the body of the request is nested more than ${MAX_JSON_DEPTH} levels deep`));
    return v;
  }

  private async readJson(req: IncomingMessage, allowed: string[]): Promise<unknown> {
    const body = await this.readBody(req);
    if (body.length === 0) throw new HttpError(am.badRequest('the request body is empty'));
    const ct = req.headers['content-type'];
    return this.parse(body, allowed.includes('application/json') && ct && PATCH_TYPES[ct.split(';')[0]!.trim()] ? 'application/json' : ct, allowed);
  }

  private async readObject(req: IncomingMessage): Promise<KObject> {
    const body = await this.readBody(req);
    if (body.length === 0) throw new HttpError(am.badRequest('the request body is empty'));
    const v = this.parse(body, req.headers['content-type']);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(am.badRequest('the body of the request must be an object'));
    return v as KObject;
  }
}

function notFoundPath(): am.StatusError {
  const e = am.notFound('', '', '');
  return new am.StatusError(404, 'NotFound', 'the server could not find the requested resource', e.details);
}

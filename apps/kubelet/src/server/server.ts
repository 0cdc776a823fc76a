// The kubelet's HTTPS server (port 10250): /containerLogs, /exec, /attach and
// /portForward for the API server's pods/log, pods/exec, pods/attach and
// pods/portforward, authenticated by x509 client
// certificates signed by the cluster CA (the API server presents kubeadm's
// apiserver-kubelet-client certificate).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { ContainerState, PodSandboxState, type CriClient } from '@kubets/cri-client';
import pino, { type Logger } from 'pino';
import { POD_NAME as POD_NAME_LABEL, POD_NAMESPACE as POD_NAMESPACE_LABEL } from '../cri/labels';
import { isUpgrade, parseAttachParams, parseExecParams, proxyToStreamingServer } from './exec';
import { parseLogOptions, streamLogs, type LogSink } from './logs';
import { KubeletHttpError } from './status';

/** Where a container's logs are and which CRI container it is. */
export interface ResolvedContainer {
  containerId: string;
  /** The CRI log file of the current instance (PodSandboxConfig.log_directory + ContainerConfig.log_path). */
  logPath: string;
  /** The log file of the instance before it (after a restart), for ?previous=true. */
  previousLogPath?: string;
}

/**
 * Find a pod's container; undefined when the pod or container is not on this
 * node. Without containerName: the pod's only (or first) container.
 */
export type ContainerResolver = (namespace: string, podName: string, containerName?: string) => Promise<ResolvedContainer | undefined>;

export interface KubeletUser {
  name: string;
  groups: string[];
}

/** What a request wants, for authorization (the kubelet's nodes/proxy, nodes/log attributes). */
export interface KubeletRequestAttributes {
  verb: 'get' | 'create';
  resource: 'nodes';
  subresource: 'proxy' | 'log';
  path: string;
}

export interface KubeletServerOptions {
  cri: CriClient;
  resolve: ContainerResolver;
  tls: {
    cert: string | Buffer;
    key: string | Buffer;
    /** Client certificates signed by this CA authenticate (CN = user, O = groups); others get 401. */
    clientCa: string | Buffer;
  };
  /** host:port, e.g. "0.0.0.0:10250"; port 0 picks a free port. */
  address: string;
  /**
   * Decides whether an authenticated user may do this (else 403). Default:
   * the API server's kubelet client (CN kube-apiserver-kubelet-client) and
   * members of system:masters.
   */
  authorize?: (user: KubeletUser, attributes: KubeletRequestAttributes) => boolean;
  log?: Logger;
  /** How often a followed log checks whether its container still runs. Default 1 s. */
  followPollMs?: number;
}

export function defaultKubeletAuthorizer(user: KubeletUser): boolean {
  return user.name === 'kube-apiserver-kubelet-client' || user.groups.includes('system:masters');
}

function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(address)}: expected host:port`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port: Number(m[3]) };
}

interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

export class KubeletServer {
  private server: https.Server | undefined;
  private readonly log: Logger;
  private readonly open = new Set<Duplex>();
  private boundPort = 0;

  constructor(private readonly o: KubeletServerOptions) {
    this.log = o.log ?? pino({ level: 'silent' });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Start listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const { host, port } = splitHostPort(this.o.address);
    const server = https.createServer(
      {
        cert: this.o.tls.cert,
        key: this.o.tls.key,
        ca: this.o.tls.clientCa,
        requestCert: true,
        rejectUnauthorized: false, // answered with a 401 Status instead of a failed handshake
        minVersion: 'TLSv1.2',
      },
      (req, res) => void this.serve(req, res),
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Answer through a ServerResponse on the raw socket, so errors are Status
      // bodies like any other; a successful exec takes the socket over.
      const res = new http.ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket as Socket);
      res.on('finish', () => socket.end());
      void this.serve(req, res, { socket, head });
    });
    server.on('connection', (s: Duplex) => {
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
    });
    server.on('tlsClientError', () => undefined);
    server.on('clientError', (err, socket) => {
      this.log.debug({ err: err.message }, 'kubelet server: client error');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    server.requestTimeout = 0; // follows and exec sessions are long
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info({ host, port: this.boundPort }, 'kubelet server listening (HTTPS, x509 client authentication)');
    return this.boundPort;
  }

  /** Stop listening and end every open connection (follows, exec sessions). */
  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      for (const sock of this.open) sock.destroy();
    });
  }

  private authenticate(req: IncomingMessage): KubeletUser | undefined {
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate !== 'function' || !sock.authorized) return undefined;
    const cert = sock.getPeerCertificate();
    const cn = cert?.subject?.CN;
    if (!cn) return undefined;
    const o = cert.subject.O;
    return { name: Array.isArray(cn) ? cn[0]! : cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'] };
  }

  private sendStatus(res: ServerResponse, err: KubeletHttpError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify(err.toStatus());
    res.writeHead(err.code, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  private async serve(req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const user = this.authenticate(req);
      if (!user) throw new KubeletHttpError(401, 'Unauthorized');
      const kind = parts[0];
      if (kind !== 'containerLogs' && kind !== 'exec' && kind !== 'attach' && kind !== 'portForward') throw new KubeletHttpError(404, `the server could not find the requested resource (${url.pathname})`);
      const attrs: KubeletRequestAttributes = {
        verb: req.method === 'GET' || req.method === 'HEAD' ? 'get' : 'create',
        resource: 'nodes',
        subresource: 'proxy',
        path: url.pathname,
      };
      if (!(this.o.authorize ?? defaultKubeletAuthorizer)(user, attrs)) {
        throw new KubeletHttpError(403, `Forbidden (user=${user.name}, verb=${attrs.verb}, resource=nodes, subresource=proxy)`);
      }
      if (kind === 'containerLogs') {
        if (parts.length !== 4) throw new KubeletHttpError(404, `the server could not find the requested resource (${url.pathname})`);
        if (req.method !== 'GET') throw new KubeletHttpError(405, `method ${req.method} not allowed on /containerLogs`);
        await this.containerLogs(parts[1]!, parts[2]!, parts[3]!, url.searchParams, res);
        return;
      }
      if (kind === 'portForward') {
        // /portForward/{namespace}/{pod} or /portForward/{namespace}/{pod}/{uid}
        if (parts.length !== 3 && parts.length !== 4) throw new KubeletHttpError(404, `the server could not find the requested resource (${url.pathname})`);
        if (req.method !== 'GET' && req.method !== 'POST') throw new KubeletHttpError(405, `method ${req.method} not allowed on /portForward`);
        await this.portForward(parts[1]!, parts[2]!, req, res, upgrade);
        return;
      }
      // /{exec,attach}/{namespace}/{pod}/{container} or /{exec,attach}/{namespace}/{pod}/{uid}/{container}
      if (parts.length !== 4 && parts.length !== 5) throw new KubeletHttpError(404, `the server could not find the requested resource (${url.pathname})`);
      if (req.method !== 'GET' && req.method !== 'POST') throw new KubeletHttpError(405, `method ${req.method} not allowed on /${kind}`);
      await this.stream(kind, parts[1]!, parts[2]!, parts[parts.length - 1]!, url.searchParams, req, res, upgrade);
    } catch (err) {
      if (err instanceof KubeletHttpError) this.sendStatus(res, err);
      else {
        this.log.error({ err: (err as Error).message, method: req.method, path: req.url?.split('?')[0] }, 'kubelet server: request failed');
        this.sendStatus(res, new KubeletHttpError(500, (err as Error).message));
      }
    }
  }

  private async container(namespace: string, pod: string, container: string): Promise<ResolvedContainer> {
    const c = await this.o.resolve(namespace, pod, container);
    if (!c) throw new KubeletHttpError(404, `container "${container}" in pod "${pod}" (namespace "${namespace}") is not found on this node`);
    return c;
  }

  private async containerLogs(namespace: string, pod: string, container: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    const opts = parseLogOptions(q);
    const c = await this.container(namespace, pod, container);
    let path = c.logPath;
    if (opts.previous) {
      if (!c.previousLogPath) throw new KubeletHttpError(400, `previous terminated container "${container}" in pod "${pod}" not found`);
      path = c.previousLogPath;
    }
    let closed = false;
    const closers: Array<() => void> = [];
    res.on('close', () => {
      closed = true;
      for (const fn of closers) fn();
    });
    let started = false;
    const sink: LogSink = {
      write: (chunk) => {
        if (closed) return false;
        if (!started) begin();
        res.write(chunk);
        return true;
      },
      end: () => {
        if (!started) begin();
        res.end();
      },
      get closed() {
        return closed;
      },
      onClose: (fn) => {
        if (closed) fn();
        else closers.push(fn);
      },
    };
    const begin = () => {
      started = true;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
      if (opts.follow) res.flushHeaders();
    };
    const isRunning = opts.previous
      ? async () => false
      : async () => {
          try {
            const st = await this.o.cri.containerStatus({ containerId: c.containerId }, { timeoutMs: 10_000 });
            return st.status?.state === ContainerState.CONTAINER_RUNNING || st.status?.state === ContainerState.CONTAINER_CREATED;
          } catch {
            return false;
          }
        };
    // A follow answers its headers as soon as the file is open, even with nothing to say yet.
    const onOpen = opts.follow ? () => begin() : undefined;
    await streamLogs({ ...opts, path, sink, isRunning, pollMs: this.o.followPollMs, onOpen });
  }

  /**
   * Port forwarding into the pod's network namespace (CRI PortForward on its
   * sandbox): SPDY/3.1 with portforward.k8s.io streams, joined to the
   * runtime's streaming server. kubectl 1.31+ first offers SPDY tunnelled in
   * a WebSocket, which containerd 1.6 does not speak: that offer is refused
   * with 400, and kubectl falls back to plain SPDY.
   */
  private async portForward(namespace: string, pod: string, req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): Promise<void> {
    if (!upgrade || !isUpgrade(req)) throw new KubeletHttpError(400, 'Upgrade request required');
    if (String(req.headers.upgrade ?? '').toLowerCase() === 'websocket') {
      throw new KubeletHttpError(400, 'port forwarding over WebSocket is not supported by this kubelet: use SPDY/3.1');
    }
    const { items } = await this.o.cri.listPodSandbox({ filter: { state: { state: PodSandboxState.SANDBOX_READY }, labelSelector: { [POD_NAME_LABEL]: pod, [POD_NAMESPACE_LABEL]: namespace } } }, { timeoutMs: 10_000 });
    const sandbox = items[0];
    if (!sandbox) throw new KubeletHttpError(404, `pod "${pod}" (namespace "${namespace}") has no running sandbox on this node`);
    let url: string;
    try {
      ({ url } = await this.o.cri.portForward({ podSandboxId: sandbox.id }, { timeoutMs: 30_000 }));
    } catch (err) {
      throw new KubeletHttpError(500, `port forward to pod "${pod}" failed: ${(err as { details?: string }).details ?? (err as Error).message}`);
    }
    await this.join(url, req, res, upgrade);
  }

  /** exec (a new process) or attach (the container's own stdio): the runtime's streaming server, joined to the client. */
  private async stream(kind: 'exec' | 'attach', namespace: string, pod: string, container: string, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, upgrade?: Upgrade): Promise<void> {
    const params = kind === 'exec' ? parseExecParams(q) : { command: [], ...parseAttachParams(q) };
    if (!upgrade || !isUpgrade(req)) throw new KubeletHttpError(400, 'Upgrade request required');
    const c = await this.container(namespace, pod, container);
    const streams = { containerId: c.containerId, tty: params.tty, stdin: params.stdin, stdout: params.stdout, stderr: params.stderr };
    let url: string;
    try {
      ({ url } = kind === 'exec' ? await this.o.cri.exec({ ...streams, cmd: params.command }, { timeoutMs: 30_000 }) : await this.o.cri.attach(streams, { timeoutMs: 30_000 }));
    } catch (err) {
      throw new KubeletHttpError(500, `${kind === 'exec' ? 'exec in' : 'attach to'} container "${container}" failed: ${(err as { details?: string }).details ?? (err as Error).message}`);
    }
    await this.join(url, req, res, upgrade);
  }

  /** Hands the client's connection to the runtime's streaming server at `url`. */
  private async join(url: string, req: IncomingMessage, res: ServerResponse, upgrade: Upgrade): Promise<void> {
    res.detachSocket(upgrade.socket as Socket);
    res.removeAllListeners('finish');
    try {
      await proxyToStreamingServer(req, upgrade.socket, upgrade.head, url, this.log);
    } catch (err) {
      // Nothing was written to the client yet: answer with a Status on the raw socket.
      const status = err instanceof KubeletHttpError ? err : new KubeletHttpError(500, (err as Error).message);
      const body = JSON.stringify(status.toStatus());
      upgrade.socket.end(`HTTP/1.1 ${status.code} ${http.STATUS_CODES[status.code] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
  }
}

// pods/log and pods/exec (and attach): the API server finds the pod's node and
// forwards the request to that node's kubelet (status.addresses, port
// status.daemonEndpoints.kubeletEndpoint.Port, default 10250) over HTTPS with
// its kubelet client certificate (--kubelet-client-certificate/-key; the
// kubelet's serving certificate is checked against --kubelet-certificate-authority
// when given, else not checked, as kube-apiserver does). Log bodies are
// streamed through; an exec's upgrade (WebSocket v5.channel.k8s.io, or SPDY/3.1)
// is passed on byte for byte once the kubelet answers 101.
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import * as am from '@kubets/api-machinery';
import type { Logger } from 'pino';
import type { KObject, ResourceDef } from '../registry/types';
import type { RestHandler } from '../rest/handler';

export interface KubeletClientConfig {
  cert?: string;
  key?: string;
  /** CA of the kubelets' serving certificates; unset: not verified. */
  ca?: string;
  /** Node address types to try, in order. */
  preferredAddressTypes: string[];
  /** Deadline to connect to a kubelet and get its answer's head. */
  timeoutMs: number;
}

interface Location {
  host: string;
  port: number;
  container: string;
  pod: KObject;
}

const LOG_PARAMS = ['follow', 'previous', 'timestamps', 'tailLines', 'sinceSeconds', 'sinceTime', 'limitBytes', 'insecureSkipTLSVerifyBackend'];
const EXEC_PARAMS = ['command', 'stdin', 'stdout', 'stderr', 'tty', 'input', 'output'];

type Spec = { containers?: Array<{ name?: string }>; initContainers?: Array<{ name?: string }>; ephemeralContainers?: Array<{ name?: string }>; nodeName?: string };

export class KubeletProxy {
  constructor(
    private readonly handler: RestHandler,
    private readonly lookup: (group: string, version: string, resource: string) => ResourceDef | undefined,
    private readonly cfg: KubeletClientConfig,
    private readonly log: Logger,
  ) {}

  /** The kubelet that runs the pod's container (validations as kube-apiserver's pod strategy). */
  async locate(namespace: string, name: string, containerParam: string | null): Promise<Location> {
    const pod = await this.pod(namespace, name);
    const spec = (pod.spec ?? {}) as Spec;
    const names = (l?: Array<{ name?: string }>) => (l ?? []).map((c) => c.name ?? '');
    let container = containerParam ?? '';
    if (!container) {
      const defaulted = (pod.metadata?.annotations as Record<string, string> | undefined)?.['kubectl.kubernetes.io/default-container'];
      const main = names(spec.containers);
      if (defaulted && main.includes(defaulted)) container = defaulted;
      else if (main.length === 1) container = main[0]!;
      else {
        const init = names(spec.initContainers);
        throw am.badRequest(`a container name must be specified for pod ${name}, choose one of: [${main.join(' ')}]${init.length ? ` or one of the init containers: [${init.join(' ')}]` : ''}`);
      }
    }
    if (![...names(spec.containers), ...names(spec.initContainers), ...names(spec.ephemeralContainers)].includes(container)) {
      throw am.badRequest(`container ${container} is not valid for pod ${name}`);
    }
    return { ...(await this.kubeletOf(pod)), container, pod };
  }

  private pod(namespace: string, name: string): Promise<KObject> {
    return this.handler.get({ def: this.lookup('', 'v1', 'pods')!, namespace, name });
  }

  /** The address and port of the kubelet on the pod's node. */
  private async kubeletOf(pod: KObject): Promise<{ host: string; port: number }> {
    const spec = (pod.spec ?? {}) as Spec;
    if (!spec.nodeName) throw am.badRequest(`pod ${pod.metadata?.name} does not have a host assigned`);
    const nodes = this.lookup('', 'v1', 'nodes')!;
    const node = await this.handler.get({ def: nodes, name: spec.nodeName });
    const status = (node.status ?? {}) as { addresses?: Array<{ type?: string; address?: string }>; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
    let host: string | undefined;
    for (const type of this.cfg.preferredAddressTypes) {
      host = status.addresses?.find((a) => a.type === type && a.address)?.address;
      if (host) break;
    }
    if (!host) throw am.internal(`no preferred addresses found; known addresses: [${(status.addresses ?? []).map((a) => `{${a.type} ${a.address}}`).join(' ')}]`);
    const port = status.daemonEndpoints?.kubeletEndpoint?.Port || 10250;
    return { host, port };
  }

  private tlsOptions(host: string): tls.ConnectionOptions {
    return {
      host,
      cert: this.cfg.cert,
      key: this.cfg.key,
      ca: this.cfg.ca,
      rejectUnauthorized: !!this.cfg.ca,
      servername: isIP(host) ? undefined : host,
    };
  }

  private static query(q: URLSearchParams, keep: string[]): string {
    const out = new URLSearchParams();
    for (const [k, v] of q) if (keep.includes(k)) out.append(k, v);
    const s = out.toString();
    return s ? `?${s}` : '';
  }

  /** GET pods/log: the kubelet's /containerLogs, streamed to `res` until it ends or the client goes away. */
  async logs(namespace: string, name: string, q: URLSearchParams, res: ServerResponse): Promise<void> {
    for (const k of ['tailLines', 'sinceSeconds', 'limitBytes']) {
      const v = q.get(k);
      if (v !== null && v !== '' && (!Number.isInteger(Number(v)) || Number(v) < (k === 'tailLines' ? 0 : 1))) {
        throw am.invalid('', 'PodLogOptions', '', [{ reason: 'FieldValueInvalid', field: k, message: `Invalid value: ${v}: must be ${k === 'tailLines' ? 'greater than or equal to 0' : 'greater than 0'}` }]);
      }
    }
    if (q.get('sinceSeconds') && q.get('sinceTime')) throw am.badRequest('at most one of `sinceTime` or `sinceSeconds` may be specified');
    const loc = await this.locate(namespace, name, q.get('container'));
    const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(loc.container)}${KubeletProxy.query(q, LOG_PARAMS)}`;
    const target = `https://${loc.host.includes(':') ? `[${loc.host}]` : loc.host}:${loc.port}${path}`;
    await new Promise<void>((resolve, reject) => {
      let answered = false;
      const req = https.request({ ...this.tlsOptions(loc.host), port: loc.port, method: 'GET', path, agent: false, timeout: this.cfg.timeoutMs }, (up) => {
        answered = true;
        req.setTimeout(0);
        const headers: Record<string, string> = { 'Content-Type': String(up.headers['content-type'] ?? 'text/plain'), 'Cache-Control': 'no-cache, private' };
        if (up.headers['content-length']) headers['Content-Length'] = String(up.headers['content-length']);
        res.writeHead(up.statusCode ?? 500, headers);
        res.flushHeaders();
        up.pipe(res);
        up.on('end', resolve);
        up.on('error', () => {
          res.destroy();
          resolve();
        });
      });
      res.on('close', () => {
        req.destroy();
        resolve();
      });
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.cfg.timeoutMs} ms`)));
      req.on('error', (e) => {
        if (answered || res.headersSent) {
          res.destroy();
          resolve();
          return;
        }
        this.log.warn({ err: e.message, node: (loc.pod.spec as Spec).nodeName, target }, 'kubelet request failed');
        reject(am.internal(`Get "${target}": ${e.message}`));
      });
      req.end();
    });
  }

  /**
   * pods/exec, pods/attach or pods/portforward with an upgrade: forward the request head to the
   * kubelet and, from its answer on, join the two connections. Rejects (with a
   * Status) only before anything was written to `client`.
   */
  async upgrade(kind: 'exec' | 'attach' | 'portforward', namespace: string, name: string, q: URLSearchParams, req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const pod = `${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
    // Port forwarding is into the pod's network, not a container: the ports travel in the streams' headers.
    let loc: { host: string; port: number; container?: string };
    let path: string;
    if (kind === 'portforward') {
      loc = await this.kubeletOf(await this.pod(namespace, name));
      path = `/portForward/${pod}${KubeletProxy.query(q, ['ports'])}`;
    } else {
      const located = await this.locate(namespace, name, q.get('container'));
      loc = located;
      path = `/${kind}/${pod}/${encodeURIComponent(located.container)}${KubeletProxy.query(q, EXEC_PARAMS)}`;
    }
    const target = `https://${loc.host}:${loc.port}${path.split('?')[0]}`;
    const upstream = tls.connect({ ...this.tlsOptions(loc.host), port: loc.port });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${this.cfg.timeoutMs} ms`)), this.cfg.timeoutMs);
        upstream.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        upstream.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
    } catch (e) {
      upstream.destroy();
      this.log.warn({ err: (e as Error).message, target }, 'kubelet connection failed');
      throw am.internal(`error dialing backend: ${(e as Error).message}`);
    }
    const lines = [`${req.method ?? 'GET'} ${path} HTTP/1.1`, `Host: ${loc.host.includes(':') ? `[${loc.host}]` : loc.host}:${loc.port}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const h = req.rawHeaders[i]!.toLowerCase();
      if (h === 'host' || h === 'authorization' || h === 'content-length' || h === 'transfer-encoding' || h.startsWith('impersonate-')) continue;
      lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    const close = () => {
      upstream.destroy();
      client.destroy();
    };
    upstream.on('error', close);
    client.on('error', close);
    client.on('close', () => upstream.destroy());
    upstream.pipe(client);
    client.pipe(upstream);
    this.log.debug({ target, pod: `${namespace}/${name}`, container: loc.container }, `${kind}: joined the client to the kubelet`);
  }
}

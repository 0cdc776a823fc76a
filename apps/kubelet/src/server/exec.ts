// exec and attach through CRI: Exec / Attach return a URL on the runtime's
// streaming server (containerd's, e.g. http://127.0.0.1:PORT/exec/TOKEN); the kubelet forwards
// the client's upgrade request (WebSocket or SPDY/3.1) to it and then copies
// bytes both ways.
//
// containerd 1.6's streaming server speaks the WebSocket channel protocols up
// to v4.channel.k8s.io; kubectl 1.30+ offers only v5.channel.k8s.io. The two
// frame streams are the same except that v5 clients may send a CLOSE signal
// (channel 255) to end stdin, which a v4 server ignores as an unknown channel.
// So a v5 offer is passed upstream as v4 and the answer is rewritten back to
// v5. What this loses: stdin EOF (v5's CLOSE) does not reach the process.
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { KubeletHttpError } from './status';

export const V5_PROTOCOL = 'v5.channel.k8s.io';
export const V4_PROTOCOL = 'v4.channel.k8s.io';

export interface ExecParams {
  command: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

export type AttachParams = Omit<ExecParams, 'command'>;

/** The streams of /attach (PodAttachOptions: stdin, stdout, stderr, tty). */
export function parseAttachParams(q: URLSearchParams): AttachParams {
  const p: AttachParams = { stdin: flag(q, 'stdin'), stdout: flag(q, 'stdout'), stderr: flag(q, 'stderr'), tty: flag(q, 'tty') };
  // Old clients spell it `input`/`output`.
  if (!q.has('stdin') && q.has('input')) p.stdin = flag(q, 'input');
  if (!q.has('stdout') && q.has('output')) p.stdout = flag(q, 'output');
  if (!p.stdin && !p.stdout && !p.stderr) throw new KubeletHttpError(400, 'you must specify at least 1 of stdin, stdout, stderr');
  if (p.tty && p.stderr) p.stderr = false; // a terminal merges stderr into stdout, as the kubelet does
  return p;
}

/** The query of /exec (PodExecOptions' names: command repeated, stdin, stdout, stderr, tty). */
export function parseExecParams(q: URLSearchParams): ExecParams {
  const command = q.getAll('command');
  if (command.length === 0) throw new KubeletHttpError(400, 'you must specify at least 1 command');
  return { command, ...parseAttachParams(q) };
}

export function isUpgrade(req: IncomingMessage): boolean {
  return /\bupgrade\b/i.test(String(req.headers.connection ?? '')) && !!req.headers.upgrade;
}

function offeredProtocols(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]!.toLowerCase() === 'sec-websocket-protocol') out.push(...req.rawHeaders[i + 1]!.split(',').map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

const HOP_HEADERS = new Set(['host', 'authorization', 'sec-websocket-protocol', 'content-length', 'transfer-encoding', 'proxy-connection', 'keep-alive']);

/** Read an HTTP response head off `sock`: the head text and the bytes after it. */
function readHead(sock: net.Socket, timeoutMs: number): Promise<{ head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no response from the streaming server within ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) done(undefined, { head: buf.toString('latin1', 0, end), rest: buf.subarray(end + 4) });
      else if (buf.length > 64 * 1024) done(new Error('response head too large'));
    };
    const onEnd = () => done(new Error('the streaming server closed the connection before answering'));
    const onError = (e: Error) => done(e);
    function done(err?: Error, v?: { head: string; rest: Buffer }) {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      sock.pause();
      if (err) reject(err);
      else resolve(v!);
    }
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
  });
}

/**
 * Forward the upgrade request `req` (whose socket is `client`, with `head`
 * bytes already read) to the runtime's streaming `url`; on a 101 answer the
 * two sockets are joined. Resolves once the connection is joined (or the
 * runtime's refusal was passed on); rejects before anything was written to
 * the client.
 */
export async function proxyToStreamingServer(req: IncomingMessage, client: Duplex, head: Buffer, url: string, log: Logger, timeoutMs = 10_000): Promise<void> {
  const u = new URL(url);
  if (u.protocol !== 'http:') throw new KubeletHttpError(500, `unsupported streaming URL scheme ${u.protocol}`);
  const upstream = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connecting to the streaming server ${u.host} timed out`)), timeoutMs);
      upstream.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      upstream.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } catch (err) {
    upstream.destroy();
    throw new KubeletHttpError(500, `exec: ${(err as Error).message}`);
  }
  const websocket = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  const offered = offeredProtocols(req);
  const mapped = websocket ? [...new Set(offered.map((p) => (p === V5_PROTOCOL ? V4_PROTOCOL : p)))] : [];
  const lines = [`${req.method ?? 'GET'} ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!HOP_HEADERS.has(req.rawHeaders[i]!.toLowerCase())) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  }
  if (mapped.length) lines.push(`Sec-WebSocket-Protocol: ${mapped.join(', ')}`);
  upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
  let answer: { head: string; rest: Buffer };
  try {
    answer = await readHead(upstream, timeoutMs);
  } catch (err) {
    upstream.destroy();
    throw new KubeletHttpError(500, `exec: ${(err as Error).message}`);
  }
  let headText = answer.head;
  const code = Number(/^HTTP\/1\.[01] (\d{3})/.exec(headText)?.[1] ?? 0);
  if (code === 101 && websocket && offered.includes(V5_PROTOCOL) && !offered.includes(V4_PROTOCOL)) {
    headText = headText.replace(/^(sec-websocket-protocol:[ \t]*)v4\.channel\.k8s\.io[ \t]*$/im, `$1${V5_PROTOCOL}`);
  }
  log.debug({ url: `${u.protocol}//${u.host}${u.pathname.replace(/[^/]+$/, '…')}`, code }, 'exec: streaming server answered');
  client.write(`${headText}\r\n\r\n`);
  if (answer.rest.length) client.write(answer.rest);
  if (code !== 101) {
    // A refusal (with its body, if any): pass on what comes, then close.
    upstream.pipe(client);
    upstream.resume();
    return;
  }
  if (head.length) upstream.write(head);
  const close = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on('error', close);
  client.on('error', close);
  upstream.on('close', () => client.end());
  client.on('close', () => upstream.destroy());
  upstream.pipe(client);
  client.pipe(upstream);
  upstream.resume();
}

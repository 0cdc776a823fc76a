// A small client of the Kubernetes WebSocket channel protocols
// (v5.channel.k8s.io, v4.channel.k8s.io) for exec: what kubectl 1.30+ does,
// for tests and tools. Each binary message starts with its channel byte:
// 0 stdin, 1 stdout, 2 stderr, 3 error (the final Status), 4 resize, and in
// v5 255 CLOSE (`[255, channel]` ends that stream, e.g. stdin EOF).
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import type { Duplex } from 'node:stream';

export interface WebSocketExecOptions {
  /** Full URL of the exec endpoint including its query, e.g. https://127.0.0.1:10250/exec/ns/pod/c?command=sh&stdout=true */
  url: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  headers?: Record<string, string>;
  /** Subprotocols offered, best first. Default [v5.channel.k8s.io]. */
  protocols?: string[];
  /** Sent on stdin, followed by a v5 CLOSE of stdin. */
  stdin?: string | Buffer;
  timeoutMs?: number;
}

export interface WebSocketExecResult {
  protocol: string;
  stdout: string;
  stderr: string;
  /** The Status JSON sent on channel 3 (undefined when none came). */
  status?: { status?: string; reason?: string; message?: string; details?: { causes?: Array<{ reason?: string; message?: string }> } };
  /** 0 for Success, the ExitCode cause for NonZeroExitCode, undefined without a Status. */
  exitCode?: number;
}

function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const len = payload.length;
  const header = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]) : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([header, mask, body]);
}

/** Parses server frames; calls onMessage with whole (reassembled) messages. */
class FrameReader {
  private buf = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;

  constructor(private readonly onFrame: (opcode: number, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const maskKey = masked ? this.buf.subarray(off, off + 4) : undefined;
      if (masked) off += 4;
      if (this.buf.length < off + len) return;
      const payload = Buffer.from(this.buf.subarray(off, off + len));
      if (maskKey) for (let i = 0; i < payload.length; i++) payload[i]! ^= maskKey[i % 4]!;
      this.buf = this.buf.subarray(off + len);
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      if (opcode >= 8) this.onFrame(opcode, payload);
      else if (opcode === 0) {
        this.fragments.push(payload);
        if (fin) {
          this.onFrame(this.fragmentOpcode, Buffer.concat(this.fragments));
          this.fragments = [];
        }
      } else if (!fin) {
        this.fragmentOpcode = opcode;
        this.fragments = [payload];
      } else this.onFrame(opcode, payload);
    }
  }
}

/** Run an exec over WebSocket and collect its output and final Status. */
export function execOverWebSocket(o: WebSocketExecOptions): Promise<WebSocketExecResult> {
  const protocols = o.protocols ?? ['v5.channel.k8s.io'];
  const key = randomBytes(16).toString('base64');
  const u = new URL(o.url);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error(`exec over WebSocket did not finish within ${o.timeoutMs ?? 30_000} ms`)), o.timeoutMs ?? 30_000);
    const req = https.request({
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port: Number(u.port || 443),
      path: `${u.pathname}${u.search}`,
      method: 'GET',
      ca: o.ca,
      cert: o.cert,
      key: o.key,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Protocol': protocols.join(', '),
        ...o.headers,
      },
    });
    req.on('error', fail);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => fail(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}: ${body}`), { statusCode: res.statusCode, body })));
    });
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) return fail(new Error('bad Sec-WebSocket-Accept'));
      const protocol = String(res.headers['sec-websocket-protocol'] ?? '');
      if (!protocols.includes(protocol)) return fail(new Error(`server chose subprotocol ${JSON.stringify(protocol)}`));
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let statusText = '';
      const reader = new FrameReader((opcode, payload) => {
        if (opcode === 0x9) socket.write(frame(0xa, payload));
        else if (opcode === 0x8) {
          socket.write(frame(0x8, payload.subarray(0, 2)));
          socket.end();
        } else if ((opcode === 0x2 || opcode === 0x1) && payload.length > 0) {
          const ch = payload[0]!;
          const data = payload.subarray(1);
          if (ch === 1) stdout.push(data);
          else if (ch === 2) stderr.push(data);
          else if (ch === 3) statusText += data.toString('utf8');
        }
      });
      socket.on('data', (c: Buffer) => reader.push(c));
      socket.on('error', fail);
      socket.on('close', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const result: WebSocketExecResult = { protocol, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8') };
        if (statusText) {
          result.status = JSON.parse(statusText) as WebSocketExecResult['status'];
          if (result.status?.status === 'Success') result.exitCode = 0;
          else {
            const cause = result.status?.details?.causes?.find((c) => c.reason === 'ExitCode');
            if (cause) result.exitCode = Number(cause.message);
          }
        }
        resolve(result);
      });
      if (head.length) reader.push(head);
      if (o.stdin !== undefined) {
        socket.write(frame(0x2, Buffer.concat([Buffer.from([0]), Buffer.from(o.stdin)])));
        if (protocol === 'v5.channel.k8s.io') socket.write(frame(0x2, Buffer.from([255, 0])));
      }
    });
    req.end();
  });
}

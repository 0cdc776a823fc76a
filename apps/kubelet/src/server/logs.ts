// Container logs from CRI log files (`<RFC3339Nano> <stdout|stderr> <P|F> <text>`),
// as the kubelet's /containerLogs serves them: partial records joined into
// lines, tailLines, sinceSeconds/sinceTime, timestamps, limitBytes, and follow
// (the file is watched until the container stops or the client goes away).
import fs from 'node:fs';
import { parseCriLogLine } from '@kubets/cri-client';
import { KubeletHttpError } from './status';

export interface LogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  sinceSeconds?: number;
  /** RFC3339 time; only lines at or after it. */
  sinceTime?: string;
  limitBytes?: number;
}

export interface LogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  content: string;
}

function flag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function int(q: URLSearchParams, name: string, min: number): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new KubeletHttpError(400, `invalid ${name} ${JSON.stringify(v)}: must be an integer >= ${min}`);
  return n;
}

/** The query of /containerLogs (PodLogOptions' names). */
export function parseLogOptions(q: URLSearchParams): LogOptions {
  const sinceTime = q.get('sinceTime') || undefined;
  if (sinceTime !== undefined && Number.isNaN(Date.parse(sinceTime))) throw new KubeletHttpError(400, `invalid sinceTime ${JSON.stringify(sinceTime)}`);
  const o: LogOptions = {
    follow: flag(q, 'follow'),
    previous: flag(q, 'previous'),
    timestamps: flag(q, 'timestamps'),
    tailLines: int(q, 'tailLines', 0),
    sinceSeconds: int(q, 'sinceSeconds', 1),
    sinceTime,
    limitBytes: int(q, 'limitBytes', 1),
  };
  if (o.sinceSeconds !== undefined && o.sinceTime !== undefined) throw new KubeletHttpError(400, 'at most one of sinceTime or sinceSeconds may be specified');
  return o;
}

/** RFC3339Nano with exactly nine fraction digits, as the kubelet prints timestamps. */
export function fixedNano(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!m) return time;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}${m[3]}`;
}

/** Milliseconds since the epoch of a CRI time (sub-millisecond digits dropped). */
export function timeMs(time: string): number {
  return Date.parse(time.replace(/(\.\d{3})\d+/, '$1'));
}

/**
 * Turns the bytes of a CRI log file, fed in arbitrary chunks, into full lines:
 * records split across chunks are kept until their newline arrives, and
 * partial records (P) are joined with what follows on the same stream.
 */
export class CriLogAssembler {
  private rest = Buffer.alloc(0);
  private pending: Partial<Record<'stdout' | 'stderr', LogLine>> = {};

  feed(chunk: Buffer): LogLine[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: LogLine[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      const text = buf.toString('utf8', start, nl);
      start = nl + 1;
      const rec = parseCriLogLine(text);
      if (!rec) continue; // not CRI format: the kubelet skips it too
      const prev = this.pending[rec.stream];
      const line: LogLine = prev ? { time: prev.time, stream: rec.stream, content: prev.content + rec.content } : { time: rec.time, stream: rec.stream, content: rec.content };
      if (rec.full) {
        this.pending[rec.stream] = undefined;
        out.push(line);
      } else this.pending[rec.stream] = line;
    }
    this.rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** Partial lines still waiting for their end (a container that stopped mid-line). */
  flush(): LogLine[] {
    const out = Object.values(this.pending).filter((l): l is LogLine => !!l);
    this.pending = {};
    return out.sort((a, b) => timeMs(a.time) - timeMs(b.time));
  }
}

export interface LogSink {
  /** Write one chunk; false once the client went away or limitBytes is reached. */
  write(chunk: string): boolean;
  end(): void;
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export interface StreamLogsOptions extends LogOptions {
  path: string;
  sink: LogSink;
  /** For follow: whether the container still runs (checked every `pollMs`). */
  isRunning?: () => Promise<boolean>;
  pollMs?: number;
  now?: () => number;
  /** Called once the file is open (before anything is written): a follow answers its headers here. */
  onOpen?: () => void;
}

/** Stream a CRI log file to `sink` with the kubelet's options; resolves when the stream ends. */
export async function streamLogs(o: StreamLogsOptions): Promise<void> {
  const { sink } = o;
  const since = o.sinceSeconds !== undefined ? (o.now ?? Date.now)() - o.sinceSeconds * 1000 : o.sinceTime !== undefined ? Date.parse(o.sinceTime) : undefined;
  let budget = o.limitBytes ?? Infinity;
  let done = false;
  const emit = (lines: LogLine[]): void => {
    for (const l of lines) {
      if (done) return;
      if (since !== undefined && timeMs(l.time) < since) continue;
      let text = `${o.timestamps ? `${fixedNano(l.time)} ` : ''}${l.content}\n`;
      if (Buffer.byteLength(text) > budget) text = Buffer.from(text).subarray(0, budget).toString('utf8');
      budget -= Buffer.byteLength(text);
      if (!sink.write(text) || budget <= 0) done = true;
    }
  };

  const asm = new CriLogAssembler();
  let fd: fs.promises.FileHandle;
  try {
    fd = await fs.promises.open(o.path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new KubeletHttpError(404, `log file ${o.path} does not exist`);
    throw err;
  }
  o.onOpen?.();
  let offset = 0;
  const readMore = async (): Promise<LogLine[]> => {
    const lines: LogLine[] = [];
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await fd.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) return lines;
      offset += bytesRead;
      lines.push(...asm.feed(chunk.subarray(0, bytesRead)));
    }
  };
  try {
    let first = await readMore();
    if (o.tailLines !== undefined) {
      if (!o.follow) first.push(...asm.flush());
      first = o.tailLines === 0 ? [] : first.slice(-o.tailLines);
    }
    emit(first);
    if (!o.follow || done) {
      emit(asm.flush());
      return;
    }
    await new Promise<void>((resolve) => {
      let busy: Promise<void> = Promise.resolve();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        watcher?.close();
        clearInterval(timer);
        resolve();
      };
      const step = (checkRunning: boolean) => {
        busy = busy.then(async () => {
          if (finished) return;
          if (sink.closed || done) return finish();
          try {
            const st = await fd.stat();
            if (st.size < offset) offset = 0; // truncated: start over
            emit(await readMore());
            if (checkRunning && o.isRunning && !(await o.isRunning())) {
              emit(await readMore());
              emit(asm.flush());
              return finish();
            }
          } catch {
            return finish();
          }
          if (sink.closed || done) finish();
        });
      };
      let watcher: fs.FSWatcher | undefined;
      try {
        watcher = fs.watch(o.path, () => step(false));
        watcher.on('error', () => undefined);
      } catch {
        watcher = undefined; // polling below still follows the file
      }
      const timer = setInterval(() => step(true), o.pollMs ?? 1000);
      sink.onClose(finish);
      step(true);
    });
  } finally {
    await fd.close().catch(() => undefined);
    if (!sink.closed) sink.end();
  }
}

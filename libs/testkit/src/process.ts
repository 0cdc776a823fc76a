import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './wait';

/** Directory where every process started by a test writes its log file. */
export const TEST_LOG_DIR = process.env.KUBETS_TEST_LOG_DIR ?? path.join(os.tmpdir(), 'kubets-test-logs');

export interface SpawnOptions {
  /** Shown in errors and used for the log file name. */
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Keep this many log lines in memory. Default 2,000. */
  keepLines?: number;
}

/**
 * A child process whose stdout and stderr are captured line by line, kept in
 * memory (last N lines) and written to a file under TEST_LOG_DIR.
 */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private readonly lines: string[] = [];
  private readonly keepLines: number;
  private exitPromise: Promise<number | null> | undefined;
  private exitCodeValue: number | null | undefined;
  private exitSignalValue: NodeJS.Signals | null = null;
  readonly logFile: string;
  private readonly listeners = new Set<(line: string) => void>();

  constructor(readonly options: SpawnOptions) {
    this.keepLines = options.keepLines ?? 2_000;
    fs.mkdirSync(TEST_LOG_DIR, { recursive: true });
    this.logFile = path.join(TEST_LOG_DIR, `${options.name.replace(/[^\w.-]+/g, '_')}-${process.pid}-${Date.now()}.log`);
  }

  /** Start (or start again after exit) the process. */
  start(): this {
    if (this.child && this.exitCodeValue === undefined) throw new Error(`${this.options.name} is already running`);
    this.exitCodeValue = undefined;
    this.exitSignalValue = null;
    const out = fs.createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(this.options.command, this.options.args ?? [], {
      cwd: this.options.cwd,
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const onData = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        out.write(chunk);
        partial += chunk;
        let nl: number;
        while ((nl = partial.indexOf('\n')) >= 0) {
          this.addLine(partial.slice(0, nl));
          partial = partial.slice(nl + 1);
        }
      });
      stream.on('end', () => {
        if (partial) this.addLine(partial);
        partial = '';
      });
    };
    onData(child.stdout!);
    onData(child.stderr!);
    this.exitPromise = new Promise((resolve) => {
      child.on('error', (err) => {
        this.addLine(`[testkit] failed to start ${this.options.command}: ${err.message}`);
        this.exitCodeValue = null;
        out.end();
        resolve(null);
      });
      child.on('exit', (code, signal) => {
        this.exitCodeValue = code;
        this.exitSignalValue = signal;
        // Let the pipes flush their last lines before reporting the exit.
        setImmediate(() => {
          out.end();
          resolve(code);
        });
      });
    });
    return this;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitCodeValue === undefined;
  }

  /** Exit code once exited (null when killed by a signal), undefined while running. */
  get exitCode(): number | null | undefined {
    return this.exitCodeValue;
  }

  get exitSignal(): NodeJS.Signals | null {
    return this.exitSignalValue;
  }

  /** Every captured line still in memory, joined. */
  logs(): string {
    return this.lines.join('\n');
  }

  /** The last `n` captured lines, prefixed with the process name. */
  tail(n = 40): string {
    return `--- last ${Math.min(n, this.lines.length)} lines of ${this.options.name} (full log: ${this.logFile}) ---\n${this.lines
      .slice(-n)
      .join('\n')}`;
  }

  /** Wait for a log line matching `pattern`, among lines already seen or yet to come. */
  waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: Error | undefined, line?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.listeners.delete(listener);
        if (err) reject(err);
        else resolve(line!);
      };
      const timer = setTimeout(() => finish(new Error(`${this.options.name}: no log line matching ${pattern} within ${timeoutMs} ms\n${this.tail()}`)), timeoutMs);
      const listener = (line: string) => {
        if (pattern.test(line)) finish(undefined, line);
      };
      this.listeners.add(listener);
      // A process that exits without printing it never will: say so now, not at the deadline.
      void this.exitPromise?.then((code) => {
        const last = this.lines.find((l) => pattern.test(l));
        if (last !== undefined) finish(undefined, last);
        else finish(new Error(`${this.options.name}: exited (${code ?? this.exitSignalValue}) without a log line matching ${pattern}\n${this.tail()}`));
      });
    });
  }

  /** Resolves with the exit code whenever the process exits (no deadline). */
  exited(): Promise<number | null> {
    if (!this.exitPromise) throw new Error(`${this.options.name} was never started`);
    return this.exitPromise;
  }

  /** Resolve with the exit code when the process exits, or reject at the deadline. */
  async waitForExit(timeoutMs = 10_000): Promise<number | null> {
    if (!this.exitPromise) throw new Error(`${this.options.name} was never started`);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exitPromise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.options.name} did not exit within ${timeoutMs} ms\n${this.tail()}`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<number | null | undefined> {
    if (!this.running) return this.exitCodeValue;
    this.signal('SIGTERM');
    try {
      return await this.waitForExit(graceMs);
    } catch {
      return this.kill();
    }
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<number | null | undefined> {
    if (!this.running) return this.exitCodeValue;
    this.signal('SIGKILL');
    return this.waitForExit(10_000);
  }

  private addLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keepLines) this.lines.splice(0, this.lines.length - this.keepLines);
    for (const listener of this.listeners) listener(line);
  }
}

/** Start a process with captured logs. */
export function spawnProcess(options: SpawnOptions): ManagedProcess {
  return new ManagedProcess(options).start();
}

/**
 * Ports handed out come from below the kernel's ephemeral range: a port from
 * inside it (what listen(0) gives) can be taken, between the check and the
 * server's own bind, as the local port of any outgoing connection, and a
 * client that keeps reconnecting to a stopped server on such a port can even
 * connect to itself on it (TCP simultaneous open), so the server cannot come
 * back there (EADDRINUSE). 20000-29999: clear of well-known ports, the
 * kubelet's and the control plane's, and the NodePort range.
 */
const PORT_RANGE = { low: 20_000, high: 29_999 } as const;
const handedOut = new Set<number>();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free TCP port on 127.0.0.1, below the ephemeral range (checked by binding it, then released; prefer letting servers pick when they can). */
export async function freePort(): Promise<number> {
  const span = PORT_RANGE.high - PORT_RANGE.low + 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.low + Math.floor(Math.random() * span);
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${PORT_RANGE.low}-${PORT_RANGE.high} after 200 tries`);
}

/** Resolve once something accepts TCP connections on host:port. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect({ port, host });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      }),
    { timeoutMs, description: `a listener on ${host}:${port}` },
  );
}

/** Find an executable on PATH (or in the usual sbin folders, which a non-root PATH may lack). */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Like findExecutable, but fails with the setup command to run when missing. */
export function requireExecutable(name: string, debianPackage: string): string {
  const found = findExecutable(name);
  if (!found) {
    throw new Error(
      `${name} not found on PATH: run \`bash infra/setup\` from the repository root (it installs the Debian package ${debianPackage})`,
    );
  }
  return found;
}

/** Path of a built app entry point (apps/<app>/dist/main.js), failing clearly when it is not built. */
export function builtApp(app: string, entry = 'main.js'): string {
  const root = path.resolve(__dirname, '..', '..', '..');
  const file = path.join(root, 'apps', app, 'dist', entry);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: build it first (npx nx run @kubets/${app}:build, or npm test which builds)`);
  }
  return file;
}

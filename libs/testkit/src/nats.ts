import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ManagedProcess, requireExecutable } from './process';

export interface NatsServerOptions {
  /** Enable JetStream with a private store directory. */
  jetstream?: boolean;
  /** Fixed port; by default the server picks a free one. */
  port?: number;
  /** Extra nats-server arguments. */
  args?: string[];
  /** How long to wait for "Server is ready". Default 10 s. */
  readyTimeoutMs?: number;
  /**
   * The address to listen on, and the one `url` names. Default 127.0.0.1; a
   * test whose clients run in other network namespaces passes an address of a
   * bridge it created.
   */
  host?: string;
}

/**
 * A real nats-server (Debian package nats-server) on 127.0.0.1 (or `host`), on a port it
 * picks itself. `restart()` brings it back on the same port, which is what a
 * client sees when the server process is restarted.
 */
export class NatsServer {
  private proc: ManagedProcess | undefined;
  private portValue: number | undefined;
  private readonly storeDir: string | undefined;
  private readonly binary: string;

  constructor(private readonly options: NatsServerOptions = {}) {
    this.binary = requireExecutable('nats-server', 'nats-server');
    this.portValue = options.port;
    if (options.jetstream) this.storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-nats-js-'));
  }

  get port(): number {
    if (this.portValue === undefined) throw new Error('nats-server has not started yet');
    return this.portValue;
  }

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get process(): ManagedProcess | undefined {
    return this.proc;
  }

  async start(): Promise<this> {
    const args = ['-a', this.host, '-p', String(this.portValue ?? -1)];
    if (this.storeDir) args.push('-js', '-sd', this.storeDir);
    args.push(...(this.options.args ?? []));
    this.proc = new ManagedProcess({ name: `nats-server`, command: this.binary, args }).start();
    const timeout = this.options.readyTimeoutMs ?? 10_000;
    const listening = await Promise.race([
      this.proc.waitForLog(/Listening for client connections on [^:]+:(\d+)/, timeout),
      this.proc.waitForExit(timeout).then((code) => {
        throw new Error(`nats-server exited with code ${code} before it was ready\n${this.proc?.tail()}`);
      }),
    ]);
    this.portValue = Number(/:(\d+)\s*$/.exec(listening)?.[1]);
    await this.proc.waitForLog(/Server is ready/, timeout);
    return this;
  }

  /** Graceful stop (SIGTERM). */
  async stop(): Promise<void> {
    await this.proc?.stop();
  }

  /** SIGKILL: the server disappears without closing connections cleanly. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  /** Stop (if running) and start again on the same port. */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.start();
  }

  /** Stop and remove the JetStream store. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.storeDir) fs.rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** Start a nats-server for one test file: call in beforeAll, dispose in afterAll. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  return new NatsServer(options).start();
}

import { ActorSystem, type ConnectionState, type EscalationEvent } from '@kubets/actor';
import type { DestinationStream, Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { ConfigError, parseFlags, redactConfig, usage, type ConfigOf, type FlagSpecs } from './flags';
import { GrpcServer, type GrpcServerOptions } from './grpc';
import { HealthChecks } from './health';
import { HttpEndpoint } from './http';
import { createLogger, LOG_LEVELS } from './logger';

/** Flags every component has. */
export const COMMON_FLAGS = {
  'log-level': {
    type: 'string',
    default: 'info',
    choices: LOG_LEVELS,
    description: 'Log level: trace, debug, info, warn, error, fatal or silent',
  },
} as const satisfies FlagSpecs;

export interface ServiceOptions<S extends FlagSpecs> {
  /** Program name, e.g. "kubets-kv": logger name, usage, NATS client name. */
  name: string;
  /** One line shown by --help. */
  summary: string;
  version?: string;
  flags: S;
  /** Environment variable prefix for flags, e.g. "ETCD" or "KUBETS_SCHEDULER". */
  envPrefix?: string;
  /** Name of the config-file flag. Default "config". */
  configFlag?: string;
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Longest a graceful shutdown may take before the process exits 1. Default 20 s. */
  shutdownTimeoutMs?: number;
  /** Log destination (tests); default stdout. */
  logDestination?: DestinationStream;
  /** How the process ends. Default process.exit. */
  exit?: (code: number) => void;
  /** Write usage and errors here. Default process.stderr / process.stdout. */
  out?: { write(text: string): unknown };
  err?: { write(text: string): unknown };
}

type Hook = { name: string; run: () => void | Promise<void> };

export function parseHostPort(address: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  let text = address.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme) {
    const url = new URL(text);
    return { host: url.hostname.replace(/^\[|\]$/g, '') || defaultHost, port: Number(url.port) };
  }
  const idx = text.lastIndexOf(':');
  if (idx < 0) throw new ConfigError(`address "${address}" has no port (want host:port)`);
  const host = text.slice(0, idx).replace(/^\[|\]$/g, '') || defaultHost;
  const port = Number(text.slice(idx + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`address "${address}" has an invalid port`);
  text = host;
  return { host: text, port };
}

/**
 * The bootstrap every kubets component uses: configuration, logger, metrics,
 * health checks, optional NATS actor system, gRPC server with health and
 * reflection, HTTP endpoint, and an orderly shutdown on SIGTERM/SIGINT.
 *
 * Shutdown order: readiness fails and gRPC health turns NOT_SERVING; the gRPC
 * server stops taking calls and lets running ones finish; shutdown hooks run
 * (last registered first); actors drain their mailboxes and the NATS
 * connection is drained; the HTTP endpoint closes; the process exits 0.
 */
export class Service<S extends FlagSpecs> {
  readonly config: ConfigOf<S & typeof COMMON_FLAGS>;
  readonly log: Logger;
  readonly registry = new Registry();
  readonly health = new HealthChecks();
  private actorSystem: ActorSystem | undefined;
  private grpcServer: GrpcServer | undefined;
  private http: HttpEndpoint | undefined;
  private readonly hooks: Hook[] = [];
  private readyFlag = false;
  private shutdownPromise: Promise<void> | undefined;
  private readonly exit: (code: number) => void;

  private constructor(
    readonly options: ServiceOptions<S>,
    config: ConfigOf<S & typeof COMMON_FLAGS>,
    readonly positionals: string[],
  ) {
    this.config = config;
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.log = createLogger({
      name: options.name,
      level: (config as { logLevel: string }).logLevel,
      destination: options.logDestination,
    });
    collectDefaultMetrics({ register: this.registry });
    this.health.addLiveness('ping', () => true);
    this.health.addReadiness('shutdown', () => (this.shutdownPromise ? 'shutting down' : true));
    this.health.addReadiness('started', () => (this.readyFlag ? true : 'not started yet'));
  }

  /**
   * Parse flags, env and config file. --help prints usage and exits 0,
   * --version prints the version and exits 0; a bad flag prints the error
   * and exits 2, like cobra-based Kubernetes and etcd binaries.
   */
  static create<S extends FlagSpecs>(options: ServiceOptions<S>): Service<S> {
    const specs = { ...COMMON_FLAGS, ...options.flags } as S & typeof COMMON_FLAGS;
    const out = options.out ?? process.stdout;
    const err = options.err ?? process.stderr;
    const exit = options.exit ?? ((code: number) => process.exit(code));
    const text = usage(options.name, options.summary, specs, options);
    let parsed;
    try {
      parsed = parseFlags(specs, {
        argv: options.argv,
        env: options.env,
        envPrefix: options.envPrefix,
        configFlag: options.configFlag,
      });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      err.write(`Error: ${e.message}\nRun '${options.name} --help' for usage.\n`);
      exit(2);
      throw e; // only reached when exit does not end the process (tests)
    }
    if (parsed.help) {
      out.write(text);
      exit(0);
    } else if (parsed.version) {
      out.write(`${options.name} version ${options.version ?? '0.0.0'}\n`);
      exit(0);
    }
    const service = new Service(options, parsed.config, parsed.positionals);
    service.log.info({ version: options.version, config: redactConfig(specs, parsed.config) }, `${options.name} starting`);
    return service;
  }

  /** The actor system, once connectNats() was called. */
  get actors(): ActorSystem {
    if (!this.actorSystem) throw new Error('connectNats() was not called');
    return this.actorSystem;
  }

  /**
   * Connect to NATS. Readiness requires the connection to be up; an actor
   * that fails for good (escalates to the top) shuts the process down with
   * exit code 1 so its supervisor (kubelet, systemd) restarts it.
   */
  async connectNats(servers: string | string[], options: { waitForConnection?: boolean } = {}): Promise<ActorSystem> {
    const systemOptions = { name: this.options.name, servers, logger: this.log, registry: this.registry };
    // waitForConnection false: the actors start now and reach the bus once it
    // is up (a kubelet runs its static pods with no control plane at all).
    const system = options.waitForConnection === false ? ActorSystem.start(systemOptions) : await ActorSystem.connect(systemOptions);
    this.actorSystem = system;
    this.health.addReadiness('nats', () => (system.connectionState === 'connected' ? true : `NATS ${system.connectionState}`));
    system.on('escalation', (event: EscalationEvent) => {
      this.log.fatal({ actor: event.path, err: event.error }, 'an actor failed for good: shutting down');
      void this.shutdown(`actor ${event.path} failed`, 1);
    });
    system.on('connection', (state: ConnectionState) => {
      if (state === 'closed' && !this.shutdownPromise) {
        this.log.fatal('NATS connection closed for good: shutting down');
        void this.shutdown('NATS connection closed', 1);
      }
    });
    return system;
  }

  /** The gRPC server (created on first use). */
  grpc(options: Omit<GrpcServerOptions, 'log' | 'registry'> = {}): GrpcServer {
    this.grpcServer ??= new GrpcServer({ ...options, log: this.log, registry: this.registry });
    return this.grpcServer;
  }

  /** Serve /healthz, /livez, /readyz and /metrics on host:port. Resolves with the bound port. */
  async serveHttp(address: string, routes?: ConstructorParameters<typeof HttpEndpoint>[0]['routes']): Promise<number> {
    const { host, port } = parseHostPort(address);
    this.http = new HttpEndpoint({ registry: this.registry, health: this.health, log: this.log, routes });
    const bound = await this.http.listen(port, host);
    this.log.info({ address: `${host}:${bound}` }, 'serving /healthz, /livez, /readyz and /metrics');
    return bound;
  }

  /** Start the gRPC server on host:port (health and reflection included). Resolves with the bound port. */
  async serveGrpc(address: string): Promise<number> {
    const { host, port } = parseHostPort(address);
    const server = this.grpc();
    const bound = await server.listen(`${host.includes(':') ? `[${host}]` : host}:${port}`);
    this.log.info({ address: `${host}:${bound}`, services: server.services }, 'serving gRPC');
    return bound;
  }

  /** Run `run` during shutdown, after gRPC stopped and before NATS is closed. Last added runs first. */
  onShutdown(name: string, run: () => void | Promise<void>): void {
    this.hooks.push({ name, run });
  }

  /** The component finished starting: readiness passes (if its checks do) and gRPC health is SERVING. */
  markReady(): void {
    this.readyFlag = true;
    this.grpcServer?.setServing(true);
    this.log.info(`${this.options.name} is ready`);
  }

  get shuttingDown(): boolean {
    return this.shutdownPromise !== undefined;
  }

  /**
   * Handle SIGTERM and SIGINT with a graceful shutdown (exit 0); a second
   * signal exits 1 at once. Unhandled errors are logged and end the process
   * with exit 1 after a graceful shutdown.
   */
  handleSignals(): void {
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.shutdownPromise) {
        this.log.warn({ signal }, 'second signal: exiting now');
        this.exit(1);
        return;
      }
      void this.shutdown(`received ${signal}`, 0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('uncaughtException', (err) => {
      this.log.fatal({ err }, 'uncaught exception');
      void this.shutdown('uncaught exception', 1);
    });
    process.on('unhandledRejection', (reason) => {
      this.log.fatal({ err: reason }, 'unhandled promise rejection');
      void this.shutdown('unhandled promise rejection', 1);
    });
  }

  /** Graceful shutdown, then exit with `code`. Idempotent. */
  shutdown(reason: string, code = 0): Promise<void> {
    if (this.shutdownPromise) return this.shutdownPromise;
    this.shutdownPromise = this.runShutdown(reason, code);
    return this.shutdownPromise;
  }

  private async runShutdown(reason: string, code: number): Promise<void> {
    const timeoutMs = this.options.shutdownTimeoutMs ?? 20_000;
    this.log.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      this.log.error({ timeoutMs }, 'graceful shutdown took too long: exiting');
      this.exit(1);
    }, timeoutMs);
    deadline.unref();
    let exitCode = code;
    const step = async (name: string, run: () => void | Promise<void>) => {
      try {
        await run();
      } catch (err) {
        exitCode = exitCode || 1;
        this.log.error({ err, step: name }, 'shutdown step failed');
      }
    };
    this.grpcServer?.setServing(false);
    if (this.grpcServer) await step('grpc', () => this.grpcServer!.shutdown(Math.min(5_000, timeoutMs / 2)));
    for (const hook of [...this.hooks].reverse()) await step(hook.name, hook.run);
    if (this.actorSystem) await step('nats', () => this.actorSystem!.stop(Math.min(10_000, timeoutMs / 2)));
    if (this.http) await step('http', () => this.http!.close());
    clearTimeout(deadline);
    this.log.info({ exitCode }, `${this.options.name} stopped`);
    this.exit(exitCode);
  }
}

import { EventEmitter } from 'node:events';
import {
  connect,
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  ActorCell,
  DEFAULT_ASK_TIMEOUT_MS,
  type ActorDefinition,
  type ActorRef,
  type AskOptions,
  type CellHost,
  type Responder,
  type Subscription,
} from './actor';
import type { Codec } from './codec';
import {
  AskTimeoutError,
  ConnectionClosedError,
  DecodeError,
  isErrorCode,
  NoRespondersError,
  ReplyError,
} from './errors';
import { actorMetrics, type ActorMetrics } from './metrics';
import type { Protocol } from './protocol';
import { assertSubject } from './subjects';

/** Header names of an error reply (the body is empty). */
export const ERROR_CODE_HEADER = 'Kubets-Error';
export const ERROR_MESSAGE_HEADER = 'Kubets-Error-Message';

export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export interface ActorSystemOptions {
  /** Client name shown by the NATS server (`nats-server` connz), e.g. "kubets-scheduler". */
  name: string;
  /** NATS server URL(s). */
  servers: string | string[];
  logger?: Logger;
  /** Where actor and connection metrics go. */
  registry?: Registry;
  /** Extra NATS connection options (they override the defaults below). */
  connectOptions?: Partial<NodeConnectionOptions>;
}

export interface EscalationEvent {
  path: string;
  error: unknown;
}

const EMPTY = new Uint8Array(0);

/** Header values cannot hold line breaks; keep error messages to one line. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 2048);
}

class NatsResponder implements Responder {
  constructor(
    private readonly msg: Msg,
    private readonly codec: Codec<unknown> | undefined,
    private readonly log: Logger,
  ) {}

  ok(value: unknown): void {
    const body = this.codec ? this.codec.encode(value) : EMPTY;
    this.send(body, undefined);
  }

  fail(error: ReplyError): void {
    const h = natsHeaders();
    h.set(ERROR_CODE_HEADER, error.code);
    h.set(ERROR_MESSAGE_HEADER, oneLine(error.message));
    this.send(EMPTY, h);
  }

  private send(body: Uint8Array, h: ReturnType<typeof natsHeaders> | undefined): void {
    try {
      this.msg.respond(body, h ? { headers: h } : undefined);
    } catch (err) {
      // The connection is closed or draining: the asker will time out.
      this.log.debug({ err, subject: this.msg.subject }, 'could not send reply');
    }
  }
}

/**
 * Hosts actors in one process and connects them to NATS. Top-level actors
 * with a subject are reachable from any process on the bus; `remote()` gives
 * a typed reference to an actor anywhere.
 *
 * Events: 'connection' (state: ConnectionState), 'escalation' (EscalationEvent).
 */
export class ActorSystem extends EventEmitter {
  readonly log: Logger;
  readonly metrics: ActorMetrics | undefined;
  private readonly cells = new Map<string, ActorCell>();
  private state: ConnectionState = 'connected';
  private stopping: Promise<void> | undefined;
  private readonly host: CellHost;
  private nc: NatsConnection | undefined;
  private readonly ncReady: Promise<NatsConnection>;

  private constructor(
    readonly name: string,
    nats: NatsConnection | Promise<NatsConnection>,
    logger: Logger,
    registry: Registry | undefined,
  ) {
    super();
    this.log = logger;
    this.metrics = registry ? actorMetrics(registry) : undefined;
    this.host = {
      metrics: this.metrics,
      subscribe: (cell, subject, queue) => this.subscribeCell(cell, subject, queue),
      escalate: (cell, error) => this.onEscalation(cell, error),
    };
    this.ncReady = Promise.resolve(nats);
    if (nats instanceof Promise) {
      this.state = 'disconnected';
      this.metrics?.connected.labels(this.name).set(0);
      nats.then(
        (nc) => this.attach(nc),
        (err: unknown) => {
          this.log.error({ err }, 'could not connect to NATS');
          this.setState('closed');
        },
      );
    } else {
      this.metrics?.connected.labels(this.name).set(1);
      this.attach(nats);
    }
  }

  /** The NATS connection; throws before the first connection of a system made by start(). */
  get nats(): NatsConnection {
    if (!this.nc) throw new ConnectionClosedError(`actor system ${this.name}: not connected to NATS yet`);
    return this.nc;
  }

  private attach(nc: NatsConnection): void {
    if (this.stopping) {
      void nc.close().catch(() => undefined);
      return;
    }
    this.nc = nc;
    void this.watchStatus(nc);
    void nc.closed().then((err) => {
      if (err) this.log.error({ err }, 'NATS connection closed with an error');
      this.setState('closed');
    });
    if (this.state !== 'connected') {
      this.log.info({ server: nc.getServer() }, 'connected to NATS');
      this.setState('connected');
    }
  }

  /**
   * Connect to NATS and return a system. By default the connection never
   * gives up: it waits for the first server and reconnects forever, and
   * subscriptions are restored after every reconnect.
   */
  static async connect(options: ActorSystemOptions): Promise<ActorSystem> {
    const logger = options.logger ?? pino({ name: options.name, level: process.env.LOG_LEVEL ?? 'info' });
    const nc = await ActorSystem.dial(options);
    logger.info({ server: nc.getServer() }, 'connected to NATS');
    return new ActorSystem(options.name, nc, logger, options.registry);
  }

  /**
   * A system that works before NATS is reachable (a kubelet running static
   * pods while the control plane is down): actors start at once; their
   * subjects are subscribed, and remote tells and asks sent, once the first
   * connection is up (asks wait for it within their timeout).
   */
  static start(options: ActorSystemOptions): ActorSystem {
    const logger = options.logger ?? pino({ name: options.name, level: process.env.LOG_LEVEL ?? 'info' });
    return new ActorSystem(options.name, ActorSystem.dial(options), logger, options.registry);
  }

  private static dial(options: ActorSystemOptions): Promise<NatsConnection> {
    return connect({
      // "nats://a:4222,nats://b:4222" (a --nats-url flag) is several servers, as in the nats CLI.
      servers: typeof options.servers === 'string' ? options.servers.split(',').map((u) => u.trim()).filter(Boolean) : options.servers,
      // A listed server that is down (a lost control-plane node) costs this before the next is tried (nats.js default 20 s).
      timeout: 3_000,
      name: options.name,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      waitOnFirstConnect: true,
      pingInterval: 10_000,
      maxPingOut: 3,
      ...options.connectOptions,
    });
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /**
   * Start a top-level actor. Resolves once its subscription (if any) is
   * registered with the NATS server, so asks sent afterwards find it.
   */
  async spawn<P extends Protocol, S>(definition: ActorDefinition<P, S>): Promise<ActorRef<P>> {
    if (this.stopping) throw new Error(`actor system ${this.name} is stopping`);
    if (this.cells.has(definition.name)) throw new Error(`an actor named "${definition.name}" already runs here`);
    const cell = new ActorCell(definition as ActorDefinition<Protocol, unknown>, this.host, this.log, undefined);
    this.cells.set(definition.name, cell);
    await cell.start();
    if (definition.subject !== undefined && this.nc) await this.nc.flush();
    return cell.ref<P>();
  }

  /** Stop one top-level actor gracefully. */
  async stopActor(name: string, timeoutMs?: number): Promise<void> {
    const cell = this.cells.get(name);
    if (!cell) return;
    await cell.stop(timeoutMs);
    this.cells.delete(name);
  }

  /** The phase of a top-level actor, for health checks and tests. */
  actorPhase(name: string): ActorCell['phase'] | undefined {
    return this.cells.get(name)?.phase;
  }

  /** A typed reference to an actor served at `subject` by any process on the bus. */
  remote<P extends Protocol>(protocol: P, subject: string): ActorRef<P> {
    assertSubject(subject);
    return new RemoteRef(() => this.nc ?? this.ncReady, protocol, subject) as unknown as ActorRef<P>;
  }

  /**
   * Graceful shutdown: every actor drains its mailbox, then the NATS
   * connection is drained and closed.
   */
  stop(timeoutMs = 30_000): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.cells.values()].map((cell) => cell.stop(timeoutMs)));
      this.cells.clear();
      if (this.nc && !this.nc.isClosed()) {
        await this.nc.drain().catch((err: unknown) => this.log.warn({ err }, 'NATS drain failed'));
      }
      this.setState('closed');
    })();
    return this.stopping;
  }

  private subscribeCell(cell: ActorCell, subject: string, queue: string | undefined): Subscription {
    if (this.nc) return this.subscribeNow(this.nc, cell, subject, queue);
    // Not connected yet (start()): subscribe on the first connection, unless the actor stopped before.
    let sub: Subscription | undefined;
    let cancelled = false;
    this.ncReady.then(
      (nc) => {
        if (!cancelled && !this.stopping) sub = this.subscribeNow(nc, cell, subject, queue);
      },
      () => undefined,
    );
    return {
      drain: async () => {
        cancelled = true;
        await sub?.drain();
      },
      unsubscribe: () => {
        cancelled = true;
        sub?.unsubscribe();
      },
    };
  }

  private subscribeNow(nc: NatsConnection, cell: ActorCell, subject: string, queue: string | undefined): Subscription {
    const protocol = cell.definition.protocol;
    const prefixLength = subject.length - 1; // subject is "<base>.*"
    const log = cell.log;
    const sub = nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) {
          log.error({ err }, 'subscription error');
          return;
        }
        const methodName = msg.subject.slice(prefixLength);
        const method = protocol[methodName];
        const respond = msg.reply ? new NatsResponder(msg, method?.reply, log) : undefined;
        if (!method) {
          cell.enqueue(methodName, undefined, respond); // answered with NOT_FOUND
          return;
        }
        let payload: unknown;
        try {
          payload = method.request.decode(msg.data);
        } catch (error) {
          const decodeError =
            error instanceof DecodeError ? error : new DecodeError(`malformed message: ${(error as Error).message}`);
          cell.rejectMalformed(methodName, decodeError, respond);
          return;
        }
        cell.enqueue(methodName, payload, respond);
      },
    });
    return {
      drain: () => sub.drain(),
      unsubscribe: () => sub.unsubscribe(),
    };
  }

  private onEscalation(cell: ActorCell, error: unknown): void {
    const event: EscalationEvent = { path: cell.path, error };
    if (this.listenerCount('escalation') === 0) {
      this.log.fatal({ err: error, actor: cell.path }, 'top-level actor failed for good and nobody handles escalations');
    }
    this.emit('escalation', event);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          this.setState('disconnected');
          break;
        case 'reconnecting':
          this.setState('reconnecting');
          break;
        case 'reconnect':
          this.setState('connected');
          break;
        case 'error':
          this.log.warn({ err: status.error }, 'NATS server reported an error');
          break;
        default:
          break;
      }
    }
  }

  private setState(state: ConnectionState): void {
    if (this.state === state || this.state === 'closed') return;
    const previous = this.state;
    this.state = state;
    this.metrics?.connected.labels(this.name).set(state === 'connected' ? 1 : 0);
    this.metrics?.connectionChanges.labels(this.name, state).inc();
    const level = state === 'connected' || state === 'closed' ? 'info' : 'warn';
    this.log[level]({ from: previous, to: state, server: this.nc?.getServer() }, `NATS connection ${state}`);
    this.emit('connection', state);
  }
}

function mapRequestError(err: unknown, subject: string, timeoutMs: number): Error {
  const error = err as Error & { isNoResponders?: () => boolean; cause?: unknown };
  if (typeof error.isNoResponders === 'function' && error.isNoResponders()) {
    return new NoRespondersError(subject, { cause: err });
  }
  const name = error?.name ?? '';
  const causeName = (error?.cause as Error | undefined)?.name ?? '';
  if (name === 'NoRespondersError' || causeName === 'NoRespondersError') return new NoRespondersError(subject, { cause: err });
  if (name === 'TimeoutError' || causeName === 'TimeoutError') return new AskTimeoutError(subject, timeoutMs, { cause: err });
  if (name === 'ClosedConnectionError' || name === 'DrainingConnectionError') {
    return new ConnectionClosedError(`ask ${subject}: NATS connection is closed`, { cause: err });
  }
  return error instanceof Error ? error : new Error(String(err));
}

/** A reference to an actor that may live in another process: messages go over NATS. */
class RemoteRef implements ActorRef<Protocol> {
  constructor(
    /** The connection, or the promise of the first one (a system made by start()). */
    private readonly conn: () => NatsConnection | Promise<NatsConnection>,
    private readonly protocol: Protocol,
    readonly address: string,
  ) {}

  tell(methodName: string, message: unknown): void {
    const method = this.method(methodName);
    const data = method.request.encode(message);
    const c = this.conn();
    if (c instanceof Promise) c.then((nc) => nc.publish(`${this.address}.${methodName}`, data), () => undefined);
    else c.publish(`${this.address}.${methodName}`, data);
  }

  async ask(methodName: string, message: unknown, options?: AskOptions): Promise<any> {
    const method = this.method(methodName);
    const subject = `${this.address}.${methodName}`;
    const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    const started = Date.now();
    let reply: Msg;
    try {
      let c = this.conn();
      if (c instanceof Promise) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AskTimeoutError(subject, timeoutMs)), timeoutMs);
        });
        try {
          c = await Promise.race([c, deadline]);
        } finally {
          clearTimeout(timer);
        }
      }
      reply = await c.request(subject, method.request.encode(message), { timeout: Math.max(1, timeoutMs - (Date.now() - started)) });
    } catch (err) {
      if (err instanceof AskTimeoutError) throw err;
      throw mapRequestError(err, subject, timeoutMs);
    }
    const h = reply.headers;
    if (h) {
      const code = h.get(ERROR_CODE_HEADER);
      if (code) throw new ReplyError(isErrorCode(code) ? code : 'UNKNOWN', h.get(ERROR_MESSAGE_HEADER) || code);
    }
    return method.reply.decode(reply.data);
  }

  private method(name: string) {
    const method = this.protocol[name];
    if (!method) throw new Error(`protocol of ${this.address} has no method "${name}"`);
    return method;
  }
}

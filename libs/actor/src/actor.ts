import type { Logger } from 'pino';
import { resolveSupervision, RestartTracker, type SupervisionOptions } from './backoff';
import { Deque } from './deque';
import { ActorStoppedError, AskTimeoutError, DecodeError, ReplyError } from './errors';
import type { ActorMetrics } from './metrics';
import type { Protocol, ReplyOf, RequestOf } from './protocol';
import { assertSubject } from './subjects';

/** What a handler sees besides the message. */
export interface ActorContext<S> {
  /** Path of the actor: its name, prefixed by its parents' paths ("kubelet/pod-1234"). */
  readonly path: string;
  /** The NATS base subject the actor serves, if any. */
  readonly subject: string | undefined;
  /** Child logger with { actor: path }. */
  readonly log: Logger;
  /** The actor's state, as returned by init; handlers may replace or mutate it. */
  state: S;
  /** A reference to this actor, e.g. to send itself a message later. */
  readonly self: ActorRef<Protocol>;
  /** Start a local child actor (an in-process mailbox), supervised by this actor. */
  spawn<P extends Protocol, CS>(definition: ActorDefinition<P, CS>): ActorRef<P>;
  /** A running child by name. */
  child(name: string): ActorRef<Protocol> | undefined;
  /** Names of the running children. */
  children(): string[];
  /** Stop a child gracefully (its mailbox is drained first). */
  stopChild(name: string): Promise<void>;
}

export type Handlers<P extends Protocol, S> = {
  [K in keyof P]: (message: RequestOf<P[K]>, ctx: ActorContext<S>) => ReplyOf<P[K]> | Promise<ReplyOf<P[K]>>;
};

export interface ActorDefinition<P extends Protocol, S = undefined> {
  /** Unique among siblings; becomes the last segment of the actor's path. */
  readonly name: string;
  readonly protocol: P;
  /**
   * NATS base subject: the actor serves `<subject>.<method>` for every method
   * of its protocol. Without it the actor is only reachable through its ref.
   */
  readonly subject?: string;
  /** NATS queue group: replicas with the same subject and queue share the messages. */
  readonly queue?: string;
  /** Builds the state of a new incarnation (at start and after every restart). */
  readonly init?: (ctx: ActorContext<S>) => S | Promise<S>;
  readonly handlers: Handlers<P, S>;
  /** Runs once, after the mailbox is drained and children are stopped. */
  readonly postStop?: (ctx: ActorContext<S>) => void | Promise<void>;
  /** Messages beyond this are refused with RESOURCE_EXHAUSTED. Default 10,000. */
  readonly mailboxCapacity?: number;
  readonly supervision?: SupervisionOptions;
}

/** Declare an actor; checks the definition early so mistakes fail at start-up. */
export function defineActor<P extends Protocol, S = undefined>(definition: ActorDefinition<P, S>): ActorDefinition<P, S> {
  if (!definition.name || definition.name.includes('/')) {
    throw new Error(`actor name "${definition.name}" must be non-empty and contain no "/"`);
  }
  if (definition.subject !== undefined) assertSubject(definition.subject);
  for (const name of Object.keys(definition.protocol)) {
    if (typeof (definition.handlers as Record<string, unknown>)[name] !== 'function') {
      throw new Error(`actor ${definition.name}: no handler for method "${name}"`);
    }
  }
  return definition;
}

export interface AskOptions {
  /** Deadline for the reply. Default 5,000 ms. */
  timeoutMs?: number;
}

/** How to reach an actor, locally or over NATS. */
export interface ActorRef<P extends Protocol> {
  /** The actor path (local refs) or base subject (remote refs). */
  readonly address: string;
  /** Fire and forget. */
  tell<K extends keyof P & string>(method: K, message: RequestOf<P[K]>): void;
  /** Request and reply, with a deadline. */
  ask<K extends keyof P & string>(method: K, message: RequestOf<P[K]>, options?: AskOptions): Promise<ReplyOf<P[K]>>;
}

export const DEFAULT_ASK_TIMEOUT_MS = 5_000;

/** Where a reply goes. Remote replies are encoded; local ones settle a promise. */
export interface Responder {
  ok(value: unknown): void;
  fail(error: ReplyError): void;
}

interface Envelope {
  method: string;
  payload: unknown;
  respond: Responder | undefined;
}

/** What a cell needs from the system that hosts it. */
export interface CellHost {
  readonly metrics: ActorMetrics | undefined;
  subscribe(cell: ActorCell, subject: string, queue: string | undefined): Subscription;
  escalate(cell: ActorCell, error: unknown): void;
}

export interface Subscription {
  /** Stop new deliveries; resolves when every message already received was handed to the cell. */
  drain(): Promise<void>;
  unsubscribe(): void;
}

export type Phase = 'starting' | 'running' | 'restarting' | 'stopped' | 'failed';

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The running incarnation of an actor definition: mailbox, state, children
 * and supervision. One message is handled at a time: the next one starts only
 * after the previous handler returned (or its promise settled).
 */
export class ActorCell {
  readonly path: string;
  readonly log: Logger;
  private readonly mailbox = new Deque<Envelope>();
  private readonly capacity: number;
  private readonly tracker: RestartTracker;
  private readonly childCells = new Map<string, ActorCell>();
  private readonly ctx: ActorContext<any>;
  private readonly self: ActorRef<Protocol>;
  private phaseValue: Phase = 'starting';
  private busy = false;
  private sub: Subscription | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopRequested = false;
  private stopped: Promise<void> | undefined;
  private resolveDrained: (() => void) | undefined;
  private currentMethod: string | undefined;
  private readonly outcomeCounters = new Map<string, { inc(): void }>();

  constructor(
    readonly definition: ActorDefinition<Protocol, any>,
    private readonly host: CellHost,
    parentLog: Logger,
    readonly parent: ActorCell | undefined,
  ) {
    this.path = parent ? `${parent.path}/${definition.name}` : definition.name;
    this.log = parentLog.child({ actor: this.path });
    this.capacity = definition.mailboxCapacity ?? 10_000;
    this.tracker = new RestartTracker(resolveSupervision(definition.supervision));
    this.self = new LocalRef(this);
    const cell = this;
    this.ctx = {
      path: this.path,
      subject: definition.subject,
      log: this.log,
      state: undefined,
      self: this.self,
      spawn: (def) => cell.spawnChild(def),
      child: (name) => cell.childCells.get(name)?.ref(),
      children: () => [...cell.childCells.keys()],
      stopChild: (name) => cell.stopChildByName(name),
    };
  }

  get phase(): Phase {
    return this.phaseValue;
  }

  get mailboxDepth(): number {
    return this.mailbox.length;
  }

  ref<P extends Protocol>(): ActorRef<P> {
    return this.self as unknown as ActorRef<P>;
  }

  /** Subscribe (if the actor has a subject) and start the first incarnation. */
  async start(): Promise<void> {
    if (this.definition.subject !== undefined) {
      this.sub = this.host.subscribe(this, `${this.definition.subject}.*`, this.definition.queue);
    }
    this.log.debug({ subject: this.definition.subject, queue: this.definition.queue }, 'actor starting');
    await this.startIncarnation();
  }

  /**
   * Put a message in the mailbox. Decoding happened before (remote) or is not
   * needed (local). Refuses when stopped or full.
   */
  enqueue(method: string, payload: unknown, respond: Responder | undefined): void {
    if (this.phaseValue === 'stopped' || this.phaseValue === 'failed') {
      this.count(method, 'rejected');
      respond?.fail(new ActorStoppedError(`actor ${this.path} is ${this.phaseValue}`));
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(this.definition.handlers, method)) {
      this.count(method, 'malformed');
      respond?.fail(new ReplyError('NOT_FOUND', `actor ${this.path} has no method "${method}"`));
      return;
    }
    if (this.mailbox.length >= this.capacity) {
      this.count(method, 'rejected');
      if (!respond) this.log.warn({ method }, 'mailbox full: dropping a told message');
      respond?.fail(new ReplyError('RESOURCE_EXHAUSTED', `actor ${this.path}: mailbox full (${this.capacity})`));
      return;
    }
    this.mailbox.push({ method, payload, respond });
    this.pump();
  }

  /** A message that could not be decoded: answer it, never let it reach a handler. */
  rejectMalformed(method: string, error: DecodeError, respond: Responder | undefined): void {
    this.count(method, 'malformed');
    this.log.warn({ method, err: error.message }, 'malformed message rejected');
    respond?.fail(error);
  }

  /** Graceful stop: no new messages, drain the mailbox, stop children, run postStop. */
  stop(timeoutMs = 30_000): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopRequested = true;
    this.stopped = this.doStop(timeoutMs);
    return this.stopped;
  }

  private async doStop(timeoutMs: number): Promise<void> {
    if (this.phaseValue === 'stopped' || this.phaseValue === 'failed') return;
    if (this.sub) {
      const sub = this.sub;
      this.sub = undefined;
      await sub.drain().catch((err: unknown) => this.log.warn({ err }, 'subscription drain failed'));
    }
    if (this.phaseValue === 'restarting' && this.restartTimer) {
      // Restart now, without back-off, so the queued messages can be handled.
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      void this.restart();
    }
    const drained = new Promise<void>((resolve) => {
      this.resolveDrained = resolve;
    });
    this.checkDrained();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.log.warn({ pending: this.mailbox.length }, 'stop deadline passed: refusing the rest of the mailbox');
    }
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.phase !== 'failed') this.phaseValue = 'stopped';
    this.refuseAll('stopped');
    await this.stopChildren();
    if (this.definition.postStop) {
      try {
        await this.definition.postStop(this.ctx);
      } catch (err) {
        this.log.error({ err }, 'postStop failed');
      }
    }
    this.updateMailboxGauge();
    this.log.debug('actor stopped');
  }

  private checkDrained(): void {
    if (!this.resolveDrained) return;
    if (this.mailbox.length > 0 || this.busy) return;
    if (this.phaseValue === 'restarting' || this.phaseValue === 'starting') return;
    const resolve = this.resolveDrained;
    this.resolveDrained = undefined;
    resolve();
  }

  private async startIncarnation(): Promise<void> {
    this.phaseValue = 'starting';
    try {
      this.ctx.state = this.definition.init ? await this.definition.init(this.ctx) : undefined;
    } catch (err) {
      this.onCrash(err, undefined);
      return;
    }
    // A stop that timed out may have finished while init was running.
    if (this.phaseValue !== 'starting') return;
    this.phaseValue = 'running';
    this.pump();
    this.checkDrained();
  }

  /** Handle messages until the mailbox is empty or a handler is pending. */
  private pump(): void {
    if (this.busy) return;
    this.busy = true;
    while (this.phaseValue === 'running') {
      const envelope = this.mailbox.shift();
      if (envelope === undefined) break;
      const pending = this.handle(envelope);
      if (pending) {
        this.updateMailboxGauge();
        pending.then(() => {
          this.busy = false;
          this.pump();
        });
        return;
      }
    }
    this.busy = false;
    this.updateMailboxGauge();
    this.checkDrained();
  }

  /** Run one handler. Returns a promise only when the handler is asynchronous. */
  private handle(envelope: Envelope): Promise<void> | undefined {
    const handler = this.definition.handlers[envelope.method] as (m: unknown, c: ActorContext<unknown>) => unknown;
    const metrics = this.host.metrics;
    const started = metrics ? performance.now() : 0;
    this.currentMethod = envelope.method;
    let result: unknown;
    try {
      result = handler(envelope.payload, this.ctx);
    } catch (err) {
      this.afterHandle(envelope, started, err, undefined, true);
      return undefined;
    }
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then(
        (value) => this.afterHandle(envelope, started, undefined, value, false),
        (err: unknown) => this.afterHandle(envelope, started, err, undefined, true),
      );
    }
    this.afterHandle(envelope, started, undefined, result, false);
    return undefined;
  }

  private afterHandle(envelope: Envelope, started: number, error: unknown, value: unknown, failed: boolean): void {
    this.currentMethod = undefined;
    const metrics = this.host.metrics;
    if (metrics) metrics.duration.labels(this.path).observe((performance.now() - started) / 1000);
    if (!failed) {
      this.count(envelope.method, 'ok');
      if (envelope.respond) {
        try {
          envelope.respond.ok(value);
        } catch (err) {
          // The handler returned something its reply codec cannot encode: a bug in the handler.
          this.count(envelope.method, 'crash');
          envelope.respond.fail(new ReplyError('INTERNAL', `actor ${this.path}: cannot encode reply: ${(err as Error).message}`));
          this.onCrash(err, envelope.method);
        }
      }
      return;
    }
    if (error instanceof ReplyError) {
      // A deliberate error reply (not found, conflict...): not a crash.
      this.count(envelope.method, 'error');
      if (envelope.respond) envelope.respond.fail(error);
      else this.log.warn({ method: envelope.method, code: error.code, err: error.message }, 'told message failed');
      return;
    }
    this.count(envelope.method, 'crash');
    envelope.respond?.fail(new ReplyError('INTERNAL', `actor ${this.path} failed: ${(error as Error)?.message ?? String(error)}`));
    this.onCrash(error, envelope.method);
  }

  /** A handler or init threw: restart with back-off, or escalate when it keeps failing. */
  private onCrash(error: unknown, method: string | undefined): void {
    if (this.phaseValue === 'stopped' || this.phaseValue === 'failed') return;
    const decision = this.tracker.onFailure(Date.now());
    if (decision === 'escalate') {
      this.host.metrics?.escalations.labels(this.path).inc();
      this.log.error(
        { err: error, method, failures: this.tracker.consecutiveFailures },
        'actor keeps failing: escalating to its parent',
      );
      this.fail('failed');
      if (this.parent) this.parent.onChildEscalated(this, error);
      else this.host.escalate(this, error);
      return;
    }
    const delay = this.stopRequested ? 0 : decision;
    this.phaseValue = 'restarting';
    this.host.metrics?.restarts.labels(this.path).inc();
    this.log.error(
      { err: error, method, failures: this.tracker.consecutiveFailures, restartInMs: delay },
      method ? `actor crashed handling "${method}": restarting` : 'actor failed to initialise: restarting',
    );
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    await this.stopChildren();
    if (this.phaseValue !== 'restarting') return;
    await this.startIncarnation();
  }

  /** A child escalated: this actor fails in turn (its children stop, it restarts). */
  private onChildEscalated(child: ActorCell, error: unknown): void {
    this.childCells.delete(child.definition.name);
    this.onCrash(new Error(`child ${child.path} escalated: ${(error as Error)?.message ?? String(error)}`, { cause: error }), this.currentMethod);
  }

  /** Terminal failure: refuse everything, stop children, stop listening. */
  private fail(phase: 'failed'): void {
    this.phaseValue = phase;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.sub?.unsubscribe();
    this.sub = undefined;
    this.refuseAll('failed');
    void this.stopChildren();
    this.resolveDrained?.();
  }

  private refuseAll(why: string): void {
    for (const envelope of this.mailbox.drain()) {
      this.count(envelope.method, 'rejected');
      envelope.respond?.fail(new ActorStoppedError(`actor ${this.path} is ${why}`));
    }
  }

  private spawnChild<P extends Protocol, CS>(definition: ActorDefinition<P, CS>): ActorRef<P> {
    if (this.childCells.has(definition.name)) {
      throw new Error(`actor ${this.path} already has a child named "${definition.name}"`);
    }
    const child = new ActorCell(definition as ActorDefinition<Protocol, unknown>, this.host, this.log, this);
    this.childCells.set(definition.name, child);
    void child.start();
    return child.ref<P>();
  }

  private async stopChildByName(name: string): Promise<void> {
    const child = this.childCells.get(name);
    if (!child) return;
    this.childCells.delete(name);
    await child.stop();
  }

  private async stopChildren(): Promise<void> {
    const children = [...this.childCells.values()];
    this.childCells.clear();
    await Promise.all(children.map((c) => c.stop()));
  }

  private count(method: string, outcome: string): void {
    const metrics = this.host.metrics;
    if (!metrics) return;
    const key = `${method}\u0000${outcome}`;
    let counter = this.outcomeCounters.get(key);
    if (!counter) {
      counter = metrics.messages.labels(this.path, method, outcome);
      this.outcomeCounters.set(key, counter);
    }
    counter.inc();
  }

  private updateMailboxGauge(): void {
    this.host.metrics?.mailbox.labels(this.path).set(this.mailbox.length);
  }
}

/** A reference to an actor in this process: messages skip NATS and codecs. */
class LocalRef implements ActorRef<Protocol> {
  constructor(private readonly cell: ActorCell) {}

  get address(): string {
    return this.cell.path;
  }

  tell(method: string, message: unknown): void {
    this.cell.enqueue(method, message, undefined);
  }

  ask(method: string, message: unknown, options?: AskOptions): Promise<any> {
    const timeoutMs = options?.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new AskTimeoutError(`${this.cell.path}.${method}`, timeoutMs));
      }, timeoutMs);
      this.cell.enqueue(method, message, {
        ok: (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        fail: (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}

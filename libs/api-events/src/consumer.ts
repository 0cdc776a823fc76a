import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeEvent, type ChainEvent } from './codec';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KObject = Record<string, any>;

export interface ConsumerHandler {
  added(obj: KObject): void | Promise<void>;
  modified(obj: KObject, old: KObject): void | Promise<void>;
  deleted(obj: KObject): void | Promise<void>;
}

export interface EventConsumerOptions {
  nc: NatsConnection;
  /** one chain subject (resourceSubject() or nodePodsSubject()) */
  subject: string;
  /** a consistent list of what the subject covers, e.g. through the API server's gRPC List */
  list(): Promise<{ items: KObject[]; resourceVersion: string }>;
  handler: ConsumerHandler;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

export interface ConsumerStats {
  events: number;
  duplicates: number;
  gaps: number;
  relists: number;
  reconnects: number;
}

type Work = { kind: 'event'; ev: ChainEvent } | { kind: 'relist'; reason: string };

function keyOf(o: KObject): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
}

/**
 * Follows one event chain on NATS and keeps a local copy of the objects it
 * covers, calling the handler once per change: never twice for the same
 * change, never skipping one.
 *
 * - It subscribes first, then lists; events at or below the list's revision
 *   are already reflected and are dropped.
 * - Every event says which revision the previous event on its subject had
 *   (prevRevision). If that is newer than everything this consumer has
 *   applied, an event was missed (slow consumer, disconnect, publisher
 *   failover): it relists, and the difference between its copy and the new
 *   list becomes the handler calls (ADDED, MODIFIED, DELETED).
 * - Periodic BOOKMARKs carry the chain's latest revision, so a lost last
 *   event is noticed within a heartbeat even if nothing else changes.
 * - A NATS reconnect also relists.
 * Work is done one item at a time (a mailbox), so the handler is never
 * called concurrently.
 */
export class EventConsumer {
  readonly state = new Map<string, KObject>();
  readonly stats: ConsumerStats = { events: 0, duplicates: 0, gaps: 0, relists: 0, reconnects: 0 };
  /** every change up to this revision is reflected in `state` */
  private watermark = 0;
  /** keys already applied at exactly `watermark` (several keys can change in one revision) */
  private atWatermark = new Set<string>();
  private readonly queue: Work[] = [];
  private running = false;
  private sub: Subscription | undefined;
  private stopped = false;
  private listed = false;
  private readonly idle: Array<() => void> = [];

  constructor(private readonly o: EventConsumerOptions) {}

  get revision(): number {
    return this.watermark;
  }

  async start(): Promise<void> {
    this.sub = this.o.nc.subscribe(this.o.subject, {
      callback: (err, msg) => {
        if (err || this.stopped) return;
        let ev: ChainEvent;
        try {
          ev = decodeEvent(msg.data);
        } catch (e) {
          this.o.log?.warn({ subject: this.o.subject, err: (e as Error).message }, 'undecodable event: relisting');
          this.enqueue({ kind: 'relist', reason: 'undecodable event' });
          return;
        }
        this.enqueue({ kind: 'event', ev });
      },
    });
    void (async () => {
      for await (const s of this.o.nc.status()) {
        if (this.stopped) break;
        if (s.type === 'reconnect') {
          this.stats.reconnects++;
          this.enqueue({ kind: 'relist', reason: 'NATS reconnect' });
        }
      }
    })().catch(() => {});
    // The subscription must be active on the server before the list, or an
    // event between the list and the subscription would be lost unnoticed.
    await this.o.nc.flush();
    this.queue.unshift({ kind: 'relist', reason: 'initial list' });
    await this.drain();
  }

  stop(): void {
    this.stopped = true;
    this.sub?.unsubscribe();
  }

  /** Resolves when every queued item has been handled. */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    if (!this.running) void this.run();
    return new Promise((r) => this.idle.push(r));
  }

  private enqueue(w: Work): void {
    this.queue.push(w);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.stopped) {
        const w = this.queue.shift()!;
        try {
          if (w.kind === 'relist') await this.relist(w.reason);
          else if (this.listed) await this.apply(w.ev);
        } catch (e) {
          this.o.log?.warn({ subject: this.o.subject, err: (e as Error).message }, 'event consumer: work failed, relisting');
          await new Promise((r) => setTimeout(r, 200));
          this.queue.unshift({ kind: 'relist', reason: 'after a failure' });
        }
      }
    } finally {
      this.running = false;
      if (this.queue.length === 0) for (const r of this.idle.splice(0)) r();
    }
  }

  private async apply(ev: ChainEvent): Promise<void> {
    if (ev.type === 'BOOKMARK') {
      if (ev.prevRevision > this.watermark) return this.gap(ev);
      if (ev.revision > this.watermark) {
        this.watermark = ev.revision;
        this.atWatermark.clear();
      }
      return;
    }
    const key = ev.namespace ? `${ev.namespace}/${ev.name}` : ev.name;
    if (ev.revision < this.watermark || (ev.revision === this.watermark && this.atWatermark.has(key))) {
      this.stats.duplicates++;
      return;
    }
    if (ev.prevRevision > this.watermark || ev.object.length === 0) return this.gap(ev);
    const obj = JSON.parse(Buffer.from(ev.object).toString('utf8')) as KObject;
    if (ev.revision > this.watermark) {
      this.watermark = ev.revision;
      this.atWatermark.clear();
    }
    this.atWatermark.add(key);
    this.stats.events++;
    const old = this.state.get(key);
    if (ev.type === 'DELETED') {
      if (!old) return;
      this.state.delete(key);
      await this.o.handler.deleted(obj);
    } else if (old) {
      this.state.set(key, obj);
      await this.o.handler.modified(obj, old);
    } else {
      this.state.set(key, obj);
      await this.o.handler.added(obj);
    }
  }

  private async gap(ev: ChainEvent): Promise<void> {
    this.stats.gaps++;
    this.o.log?.info({ subject: this.o.subject, prevRevision: ev.prevRevision, have: this.watermark, revision: ev.revision }, 'gap in the event chain: relisting');
    await this.relist('gap');
    // The event that revealed the gap may be newer than the list: apply it on its own terms.
    if (ev.type !== 'BOOKMARK' && ev.revision > this.watermark && ev.object.length > 0 && ev.prevRevision <= this.watermark) await this.apply(ev);
  }

  private async relist(reason: string): Promise<void> {
    this.stats.relists++;
    const l = await this.o.list();
    const rev = Number(l.resourceVersion);
    const fresh = new Map<string, KObject>();
    for (const item of l.items) fresh.set(keyOf(item), item);
    // The difference between what we had and what is there now is what we missed.
    for (const [k, old] of [...this.state]) {
      if (!fresh.has(k)) {
        this.state.delete(k);
        await this.o.handler.deleted(old);
      }
    }
    for (const [k, obj] of fresh) {
      const old = this.state.get(k);
      if (!old) {
        this.state.set(k, obj);
        await this.o.handler.added(obj);
      } else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.state.set(k, obj);
        await this.o.handler.modified(obj, old);
      }
    }
    this.watermark = rev;
    this.atWatermark.clear();
    this.listed = true;
    if (reason !== 'initial list') this.o.log?.info({ subject: this.o.subject, revision: rev, reason }, 'relisted');
  }
}

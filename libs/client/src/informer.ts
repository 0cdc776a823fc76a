import type { NatsConnection } from '@nats-io/transport-node';
import { EventConsumer, nodePodsSubject, resourceSubject } from '@kubets/api-events';
import { parseFieldSelector, parseSelector, type FieldSelector, type Selector } from '@kubets/api-machinery';
import type { Client, ListResult, ResourceClient } from './client';
import { silentLogger, type Logger } from './logger';
import { apiVersionOf, gvrString, resourceInfo } from './resources';
import { Store, type IndexFunc, type StoreQuery } from './store';
import { objectKey, type GroupVersionResource, type KObject } from './types';

/** Add/update/delete callbacks (client-go's ResourceEventHandler). Keep them quick: enqueue a key, return. */
export interface EventHandler<T extends KObject = KObject> {
  /** `initialList` is true for objects delivered while the informer syncs (its first list) */
  onAdd?(obj: T, initialList: boolean): void | Promise<void>;
  /** also called on every resync with the same object twice */
  onUpdate?(oldObj: T, newObj: T): void | Promise<void>;
  /** the object's last state (from the delete, or the last one seen when a relist found it gone) */
  onDelete?(obj: T): void | Promise<void>;
}

/** Which objects of a resource an informer covers. */
export interface InformerScope {
  /** one namespace (default: all) */
  namespace?: string;
  /** pods bound to one node: the node's NATS subject and the list fieldSelector spec.nodeName=<node> */
  node?: string;
  labelSelector?: string;
  /** passed to the list (and the gRPC watch) and evaluated on the cached objects by dotted path */
  fieldSelector?: string;
}

export interface InformerOptions extends InformerScope {
  client: Client;
  resource: GroupVersionResource;
  /**
   * The NATS connection to follow the change events on (or a function giving
   * it at start). Without one the informer watches through the gRPC Watch
   * stream instead (list, then watch from the list's resourceVersion; relist
   * on 410 Expired).
   */
  nats?: NatsConnection | (() => NatsConnection | undefined);
  /** re-deliver onUpdate(obj, obj) for every cached object this often (0 or absent: never) */
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc>;
  log?: Logger;
}

export interface InformerStats {
  adds: number;
  updates: number;
  deletes: number;
  relists: number;
  handlerErrors: number;
}

function dotted(o: KObject, path: string): string {
  let v: unknown = o;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return '';
    v = (v as Record<string, unknown>)[p];
  }
  return v === undefined || v === null ? '' : String(v);
}

class StoppedError extends Error {
  constructor(what: string) {
    super(`informer ${what} was stopped`);
    this.name = 'StoppedError';
  }
}

/**
 * A shared informer (client-go's SharedIndexInformer) for one resource type,
 * optionally one namespace, or the pods of one node: it lists through the
 * gRPC API, then follows the API server's change events on NATS with
 * `EventConsumer` (which detects gaps in the event chain and relists, and
 * relists after a NATS reconnect), keeping an indexed local cache and calling
 * the registered handlers once per change, in order.
 *
 * Without a NATS connection it follows the gRPC Watch stream instead (from
 * the list's resourceVersion; a 410 Expired or a broken stream makes it
 * watch again, relisting when needed).
 */
export class Informer<T extends KObject = KObject> {
  readonly store: Store<T>;
  readonly stats: InformerStats = { adds: 0, updates: 0, deletes: 0, relists: 0, handlerErrors: 0 };
  readonly name: string;
  private readonly rc: ResourceClient<T>;
  private readonly handlers = new Set<EventHandler<T>>();
  private readonly log: Logger;
  private readonly labelSel: Selector | undefined;
  private readonly fieldSel: FieldSelector | undefined;
  private consumer: EventConsumer | undefined;
  private started = false;
  private stopped = false;
  private synced = false;
  private syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private cancelWatch: (() => void) | undefined;
  private wakeWatchLoop: (() => void) | undefined;
  private rv = '';
  private readonly kind: string | undefined;

  constructor(private readonly o: InformerOptions) {
    this.rc = o.client.resource<T>(o.resource);
    this.store = new Store<T>((o.indexers ?? {}) as Record<string, IndexFunc<T>>);
    this.log = o.log ?? o.client.log ?? silentLogger;
    this.kind = resourceInfo(o.resource.group, o.resource.resource)?.kind;
    this.labelSel = o.labelSelector ? parseSelector(o.labelSelector) : undefined;
    this.fieldSel = o.fieldSelector ? parseFieldSelector(o.fieldSelector) : undefined;
    if (o.node !== undefined && !(o.resource.group === '' && o.resource.resource === 'pods')) throw new Error('a node-scoped informer is for pods only');
    this.name = [gvrString(o.resource), o.namespace ? `ns=${o.namespace}` : '', o.node ? `node=${o.node}` : '', o.labelSelector ? `labels=${o.labelSelector}` : '', o.fieldSelector ? `fields=${o.fieldSelector}` : ''].filter(Boolean).join(' ');
  }

  get resource(): GroupVersionResource {
    return this.o.resource;
  }

  /** How this informer follows changes: NATS events or the gRPC watch stream. */
  get mode(): 'nats' | 'watch' {
    return this.natsConnection() ? 'nats' : 'watch';
  }

  /** The revision every change up to which is reflected in the cache. */
  get lastSyncResourceVersion(): string {
    return this.consumer ? String(this.consumer.revision) : this.rv;
  }

  private natsConnection(): NatsConnection | undefined {
    const n = this.o.nats;
    return typeof n === 'function' ? n() : n;
  }

  // ------------------------------------------------------------------ handlers

  /**
   * Registers handlers. Several may be registered; one that throws (or
   * rejects) is logged and does not stop the others. A handler registered
   * after the informer synced first gets an onAdd for every cached object.
   * Returns the function that unregisters it.
   */
  addEventHandler(h: EventHandler<T>): () => void {
    this.handlers.add(h);
    if (this.synced && h.onAdd) for (const obj of this.store.list()) this.invoke(h, 'onAdd', () => h.onAdd!(obj, false));
    return () => void this.handlers.delete(h);
  }

  onAdd(fn: (obj: T, initialList: boolean) => void | Promise<void>): () => void {
    return this.addEventHandler({ onAdd: fn });
  }

  onUpdate(fn: (oldObj: T, newObj: T) => void | Promise<void>): () => void {
    return this.addEventHandler({ onUpdate: fn });
  }

  onDelete(fn: (obj: T) => void | Promise<void>): () => void {
    return this.addEventHandler({ onDelete: fn });
  }

  private invoke(h: EventHandler<T>, what: string, fn: () => void | Promise<void>): void {
    const fail = (e: unknown) => {
      this.stats.handlerErrors++;
      this.log.error({ informer: this.name, handler: what, err: (e as Error)?.message ?? String(e) }, 'informer event handler failed');
    };
    try {
      const r = fn();
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(fail);
    } catch (e) {
      fail(e);
    }
    void h;
  }

  private fireAdd(obj: T): void {
    this.stats.adds++;
    const initial = !this.synced;
    for (const h of [...this.handlers]) if (h.onAdd) this.invoke(h, 'onAdd', () => h.onAdd!(obj, initial));
  }

  private fireUpdate(old: T, obj: T): void {
    this.stats.updates++;
    for (const h of [...this.handlers]) if (h.onUpdate) this.invoke(h, 'onUpdate', () => h.onUpdate!(old, obj));
  }

  private fireDelete(obj: T): void {
    this.stats.deletes++;
    for (const h of [...this.handlers]) if (h.onDelete) this.invoke(h, 'onDelete', () => h.onDelete!(obj));
  }

  // ------------------------------------------------------------------ cache

  /** True when the object belongs to this informer's scope (events on a shared subject are filtered with it). */
  inScope(obj: KObject): boolean {
    const m = obj.metadata ?? {};
    if (this.o.namespace !== undefined && this.o.namespace !== '' && m.namespace !== this.o.namespace) return false;
    if (this.o.node !== undefined && obj.spec?.nodeName !== this.o.node) return false;
    if (this.labelSel && !this.labelSel.matches(m.labels)) return false;
    if (this.fieldSel && !this.fieldSel.empty()) {
      const fields: Record<string, string> = {};
      for (const f of this.fieldSel.fieldsIn()) fields[f] = dotted(obj, f);
      if (!this.fieldSel.matches(fields)) return false;
    }
    return true;
  }

  private upsert(obj: T): void {
    const o = obj as KObject;
    if (o.kind === undefined && this.kind) {
      o.kind = this.kind;
      o.apiVersion ??= apiVersionOf(this.o.resource);
    }
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (!this.inScope(obj)) {
      // It left the scope (e.g. relabelled, moved to another node): gone for this informer.
      if (old) {
        this.store.delete(key);
        this.fireDelete(old);
      }
      return;
    }
    this.store.set(obj, key);
    if (old) this.fireUpdate(old, obj);
    else this.fireAdd(obj);
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    if (!this.store.delete(key)) return;
    this.fireDelete(obj);
  }

  /** Makes the cache equal to a fresh list, delivering the differences (a relist). */
  private replace(l: ListResult<T>): void {
    this.stats.relists++;
    const fresh = new Map<string, T>();
    for (const item of l.items) if (this.inScope(item)) fresh.set(objectKey(item), item);
    for (const key of this.store.keys()) {
      if (fresh.has(key)) continue;
      const old = this.store.delete(key)!;
      this.fireDelete(old);
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      if (!old) {
        this.store.set(obj, key);
        this.fireAdd(obj);
      } else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) {
        this.store.set(obj, key);
        this.fireUpdate(old, obj);
      }
    }
    this.rv = l.resourceVersion;
  }

  // ------------------------------------------------------------------ queries

  /** The cached object with key `namespace/name` (or `name` for cluster-scoped objects). */
  get(key: string): T | undefined {
    return this.store.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.store.getByName(namespace, name);
  }

  /** Cached objects, optionally of one namespace, matching a label selector and a filter. */
  list(q: StoreQuery<T> = {}): T[] {
    return this.store.list(q);
  }

  /** Cached objects by an index value: byIndex('label', 'app=web'), byIndex('node', 'n1'), byIndex('namespace', 'default'). */
  byIndex(index: string, value: string): T[] {
    return this.store.byIndex(index, value);
  }

  keys(): string[] {
    return this.store.keys();
  }

  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    this.store.addIndexers(indexers);
  }

  // ------------------------------------------------------------------ lifecycle

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when the first list is in the cache (rejects at the deadline or when the informer stops first). */
  waitForSync(timeoutMs?: number): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.stopped) return Promise.reject(new StoppedError(this.name));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const w = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((x) => x !== w);
          reject(new Error(`informer ${this.name} did not sync within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.syncWaiters.push(w);
    });
  }

  private markSynced(): void {
    if (this.synced || this.stopped) return;
    this.synced = true;
    this.log.debug?.({ informer: this.name, objects: this.store.size, revision: this.lastSyncResourceVersion, mode: this.mode }, 'informer synced');
    for (const w of this.syncWaiters.splice(0)) w.resolve();
    if (this.o.resyncPeriodMs && this.o.resyncPeriodMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.o.resyncPeriodMs);
      this.resyncTimer.unref?.();
    }
  }

  /** Re-delivers onUpdate(obj, obj) for every cached object (what the periodic resync does). */
  resync(): void {
    if (!this.synced || this.stopped) return;
    for (const obj of this.store.list()) this.fireUpdate(obj, obj);
  }

  /** Starts listing and following changes (once; later calls do nothing). Use waitForSync to wait for the cache. */
  start(): this {
    if (this.started || this.stopped) return this;
    this.started = true;
    const nc = this.natsConnection();
    if (nc) this.startNats(nc);
    else void this.watchLoop();
    return this;
  }

  private listScope(): Promise<ListResult<T>> {
    const fields = [this.o.fieldSelector, this.o.node !== undefined ? `spec.nodeName=${this.o.node}` : ''].filter(Boolean).join(',');
    return this.rc.list({ namespace: this.o.namespace || undefined, labelSelector: this.o.labelSelector, fieldSelector: fields || undefined });
  }

  private startNats(nc: NatsConnection): void {
    const subject = this.o.node !== undefined ? nodePodsSubject(this.o.node) : resourceSubject(this.o.resource.group, this.o.resource.resource);
    this.consumer = new EventConsumer({
      nc,
      subject,
      list: async () => {
        this.stats.relists++;
        return this.listScope();
      },
      handler: {
        added: (obj) => this.upsert(obj as T),
        modified: (obj) => this.upsert(obj as T),
        deleted: (obj) => this.remove(obj as T),
      },
      log: { info: (o, m) => this.log.info({ informer: this.name, ...o }, m), warn: (o, m) => this.log.warn({ informer: this.name, ...o }, m) },
    });
    const consumer = this.consumer;
    consumer.start().then(
      () => this.markSynced(),
      (e) => {
        // e.g. the subscription could not be flushed to a disconnected server: start over.
        this.log.warn({ informer: this.name, err: (e as Error).message }, 'informer could not start following events; retrying');
        consumer.stop();
        const t = setTimeout(() => {
          if (!this.stopped && this.consumer === consumer) this.startNats(nc);
        }, 1_000);
        t.unref?.();
      },
    );
  }

  private async watchLoop(): Promise<void> {
    let needList = true;
    let backoffMs = 100;
    const sleep = (ms: number) =>
      new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        this.wakeWatchLoop = () => {
          clearTimeout(t);
          r();
        };
      });
    while (!this.stopped) {
      if (needList) {
        try {
          const l = await this.listScope();
          if (this.stopped) return;
          this.replace(l);
          this.markSynced();
          needList = false;
          backoffMs = 100;
        } catch (e) {
          this.log.warn({ informer: this.name, err: (e as Error).message, retryMs: backoffMs }, 'informer list failed');
          await sleep(backoffMs);
          backoffMs = Math.min(backoffMs * 2, 10_000);
          continue;
        }
      }
      const outcome = await new Promise<'expired' | 'closed' | 'failed'>((resolve) => {
        let expired = false;
        let progressed = false;
        this.wakeWatchLoop = () => resolve('closed');
        this.cancelWatch = this.rc.watch(
          {
            namespace: this.o.namespace || undefined,
            labelSelector: this.o.labelSelector,
            fieldSelector: [this.o.fieldSelector, this.o.node !== undefined ? `spec.nodeName=${this.o.node}` : ''].filter(Boolean).join(',') || undefined,
            resourceVersion: this.rv,
            allowWatchBookmarks: true,
            timeoutSeconds: 300 + Math.floor(Math.random() * 300),
          },
          (ev) => {
            switch (ev.type) {
              case 'ADDED':
              case 'MODIFIED':
                progressed = true;
                this.upsert(ev.object);
                this.rv = ev.resourceVersion;
                break;
              case 'DELETED':
                progressed = true;
                this.remove(ev.object);
                this.rv = ev.resourceVersion;
                break;
              case 'BOOKMARK':
                progressed = true;
                this.rv = ev.resourceVersion;
                break;
              case 'ERROR':
                if (ev.error.code === 410) expired = true;
                else this.log.warn({ informer: this.name, err: ev.error.message }, 'watch error');
                break;
              case 'CLOSED':
                if (expired) resolve('expired');
                else if (ev.error) {
                  this.log.warn({ informer: this.name, err: ev.error.message, code: ev.error.code }, 'watch stream failed');
                  resolve(ev.error.code === 410 ? 'expired' : 'failed');
                } else resolve(progressed ? 'closed' : 'failed');
                break;
            }
          },
        );
      });
      this.cancelWatch?.();
      this.cancelWatch = undefined;
      if (this.stopped) return;
      if (outcome === 'expired') {
        this.log.info({ informer: this.name, resourceVersion: this.rv }, 'watch expired (410): relisting');
        needList = true;
      } else if (outcome === 'failed') {
        await sleep(backoffMs);
        backoffMs = Math.min(backoffMs * 2, 10_000);
      } else backoffMs = 100;
    }
  }

  /** Stops following changes; the cache keeps its last state. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.consumer?.stop();
    this.cancelWatch?.();
    this.wakeWatchLoop?.();
    for (const w of this.syncWaiters.splice(0)) w.reject(new StoppedError(this.name));
  }

  /** Resolves when every change received so far has been applied (NATS mode; at once in watch mode). */
  async drain(): Promise<void> {
    await this.consumer?.drain();
  }
}

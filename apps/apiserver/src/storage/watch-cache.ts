import type { EtcdClient, Event as KvEvent } from '@kubets/etcd-client';
import { Watcher, prefixEnd } from '@kubets/etcd-client';
import BTree from 'sorted-btree';
import type { Logger } from 'pino';
import type { KObject } from '../registry/types';
import { decodeObject, REGISTRY_PREFIX, type Stored } from './store';

/** One committed change, decoded once and shared by every watcher. */
export interface ChangeEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  /** the revision of the change (a DELETED object carries it as its resourceVersion) */
  rev: number;
  obj: KObject;
  /** the object before the change (MODIFIED and DELETED) */
  prev?: KObject;
  /** the object's JSON, made on first use */
  json?: string;
}

export type Listener = (events: ChangeEvent[]) => void;

export class TooOldError extends Error {
  constructor(readonly requested: number, readonly oldest: number) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

interface Sub {
  prefix: string;
  from: number; // deliver events with rev > from
  listener: Listener;
  onReset: (err: TooOldError) => void;
}

/**
 * One KV watch over /registry/ per API server, fanned out to every HTTP, gRPC
 * and NATS watcher (kube-apiserver's watch cache, without the object cache).
 * It keeps the most recent events so a watch from a recent resourceVersion
 * replays what it missed; older ones get 410 Expired, as in Kubernetes.
 */
export class WatchCache {
  private readonly buffer: ChangeEvent[] = [];
  private head = 0; // index of the oldest retained event in buffer
  /** every event with rev > floor is in the buffer */
  private floor = 0;
  /** every event with rev <= progress has been seen */
  private progressRev = 0;
  private readonly subs = new Set<Sub>();
  /** every object under /registry/ as of `progressRev`, by key */
  private objects = new BTree<string, Stored>();
  private synced = false;
  private watcher: Watcher | undefined;
  private revFetch: Promise<number> | undefined;
  private revFetchNext: Promise<number> | undefined;
  private readonly waiters: Array<{ rev: number; resolve: () => void }> = [];
  readonly ready: Promise<void>;
  private markReady!: () => void;
  private stopped = false;

  constructor(
    private readonly kv: EtcdClient,
    private readonly log: Logger,
    private readonly capacity = 20000,
  ) {
    this.ready = new Promise((r) => (this.markReady = r));
  }

  get revision(): number {
    return this.progressRev;
  }

  get oldest(): number {
    return this.floor;
  }

  async start(): Promise<void> {
    for (;;) {
      try {
        // The whole state at one revision, then every change after it.
        const objects = new BTree<string, Stored>();
        let rev = 0;
        let start = Buffer.from(REGISTRY_PREFIX);
        const end = prefixEnd(REGISTRY_PREFIX);
        for (;;) {
          const r = await this.kv.range({ key: start, rangeEnd: end, limit: 1000n, revision: BigInt(rev) });
          if (rev === 0) rev = Number(r.header?.revision ?? 0n);
          for (const kv of r.kvs) {
            const key = Buffer.from(kv.key).toString('utf8');
            try {
              objects.set(key, { obj: decodeObject(kv.value, Number(kv.modRevision)), rev: Number(kv.modRevision) });
            } catch {
              this.log.warn({ key }, 'watch cache: undecodable value skipped');
            }
          }
          if (!r.more || r.kvs.length === 0) break;
          start = Buffer.concat([Buffer.from(r.kvs[r.kvs.length - 1]!.key), Buffer.from([0])]);
        }
        this.objects = objects;
        this.synced = true;
        this.open(rev);
        return;
      } catch (e) {
        if (this.stopped) return;
        this.log.warn({ err: (e as Error).message }, 'watch cache: KV not reachable yet, retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private open(fromRev: number): void {
    this.floor = fromRev;
    this.progressRev = fromRev;
    this.buffer.length = 0;
    this.head = 0;
    this.watcher = new Watcher(
      this.kv,
      Buffer.from(REGISTRY_PREFIX),
      { prefix: true, startRevision: fromRev + 1, prevKv: true, progressNotify: true },
      (events, header) => this.onKvEvents(events, Number(header?.revision ?? 0n)),
      (err) => this.onKvError(err),
    );
    this.watcher.open();
    this.markReady();
  }

  private onKvError(err: Error): void {
    if (this.stopped) return;
    // Our own watch fell behind a compaction: start over from now; every
    // watcher must relist (410), exactly what Kubernetes clients do.
    this.log.error({ err: err.message }, 'watch cache: KV watch failed, resetting');
    this.synced = false;
    for (const s of [...this.subs]) {
      this.subs.delete(s);
      s.onReset(new TooOldError(s.from, this.floor));
    }
    void this.start();
  }

  private onKvEvents(kvEvents: KvEvent[], headerRev: number): void {
    if (kvEvents.length === 0) {
      if (headerRev > this.progressRev) this.advance(headerRev);
      return;
    }
    const out: ChangeEvent[] = [];
    for (const e of kvEvents) {
      const kv = e.kv!;
      const key = Buffer.from(kv.key).toString('utf8');
      const rev = Number(kv.modRevision);
      try {
        if (e.type === 1 /* DELETE */) {
          const pkv = e.prevKv;
          if (!pkv) continue;
          const prev = decodeObject(pkv.value, Number(pkv.modRevision));
          const obj = decodeObject(pkv.value, rev);
          out.push({ type: 'DELETED', key, rev, obj, prev });
        } else {
          const obj = decodeObject(kv.value, rev);
          const prev = e.prevKv ? decodeObject(e.prevKv.value, Number(e.prevKv.modRevision)) : undefined;
          out.push({ type: Number(kv.version) === 1 ? 'ADDED' : 'MODIFIED', key, rev, obj, prev });
        }
      } catch (err) {
        // Not a JSON object (someone wrote raw bytes with etcdctl): skip it, loudly.
        this.log.warn({ key, rev, err: (err as Error).message }, 'watch cache: undecodable value skipped');
      }
    }
    for (const ev of out) {
      this.push(ev);
      if (ev.type === 'DELETED') this.objects.delete(ev.key);
      else this.objects.set(ev.key, { obj: ev.obj, rev: ev.rev });
    }
    const last = Number(kvEvents[kvEvents.length - 1]!.kv!.modRevision);
    for (const s of this.subs) {
      const mine = out.filter((ev) => ev.rev > s.from && ev.key.startsWith(s.prefix));
      if (mine.length > 0) {
        s.from = mine[mine.length - 1]!.rev;
        s.listener(mine);
      }
    }
    this.advance(Math.max(last, headerRev));
  }

  private push(ev: ChangeEvent): void {
    this.buffer.push(ev);
    if (this.buffer.length - this.head > this.capacity) {
      this.floor = this.buffer[this.head]!.rev;
      this.head++;
      if (this.head > 4096 && this.head * 2 > this.buffer.length) {
        this.buffer.splice(0, this.head);
        this.head = 0;
      }
    }
  }

  private advance(rev: number): void {
    if (rev <= this.progressRev) return;
    this.progressRev = rev;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.rev <= rev) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves once every change up to `rev` has been seen (or after `timeoutMs`: false). */
  waitFor(rev: number, timeoutMs: number): Promise<boolean> {
    if (rev <= this.progressRev) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = { rev, resolve: () => { clearTimeout(t); resolve(true); } };
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /**
   * Deliver every change under `prefix` with revision > `fromRev`: first the
   * buffered ones (synchronously, before this returns), then live ones.
   * Throws TooOldError when changes after `fromRev` are no longer buffered.
   */
  subscribe(prefix: string, fromRev: number, listener: Listener, onReset: (err: TooOldError) => void): () => void {
    if (fromRev < this.floor) throw new TooOldError(fromRev, this.floor);
    const sub: Sub = { prefix, from: fromRev, listener, onReset };
    const backlog: ChangeEvent[] = [];
    for (let i = this.head; i < this.buffer.length; i++) {
      const ev = this.buffer[i]!;
      if (ev.rev > fromRev && ev.key.startsWith(prefix)) backlog.push(ev);
    }
    if (backlog.length > 0) {
      sub.from = backlog[backlog.length - 1]!.rev;
      listener(backlog);
    }
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
    };
  }

  /**
   * The KV's current revision, read linearizably. Concurrent callers share
   * one KV read, but never one that started before they asked (that could
   * miss a write they have already seen acknowledged): they join the next.
   */
  currentRevision(): Promise<number> {
    if (!this.revFetch) {
      this.revFetch = this.fetchRevision().finally(() => (this.revFetch = undefined));
      return this.revFetch;
    }
    if (!this.revFetchNext) {
      const after = this.revFetch;
      this.revFetchNext = after
        .catch(() => 0)
        .then(() => {
          this.revFetchNext = undefined;
          return this.currentRevision();
        });
    }
    return this.revFetchNext;
  }

  private async fetchRevision(): Promise<number> {
    const r = await this.kv.get('/registry/\x00', { countOnly: true });
    return Number(r.header?.revision ?? 0n);
  }

  /**
   * Wait until the cache has seen every change up to `rev`; asks the KV for
   * progress when no event is coming (the revision may be from a write outside
   * /registry/). False if that takes longer than `timeoutMs`.
   */
  async waitUntil(rev: number, timeoutMs = 3000): Promise<boolean> {
    if (rev <= this.progressRev && this.synced) return true;
    const deadline = Date.now() + timeoutMs;
    let wait = 5;
    while (Date.now() < deadline) {
      if (await this.waitFor(rev, Math.min(wait, deadline - Date.now()))) return this.synced;
      this.watcher?.requestProgress();
      wait = Math.min(wait * 2, 200);
    }
    return false;
  }

  /** A consistent (linearizable) snapshot point: the cache is at least at the KV's current revision. */
  async consistent(timeoutMs = 3000): Promise<boolean> {
    if (!this.synced) return false;
    const rev = await this.currentRevision();
    return this.waitUntil(rev, timeoutMs);
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /** The cached object at `key` (as of `revision`). */
  peek(key: string): Stored | undefined {
    return this.synced ? this.objects.get(key) : undefined;
  }

  /** Cached objects under a prefix, in key order, from `startKey`, at most `limit` matching ones. */
  scan(prefix: string, opts: { startKey?: string; limit?: number; filter?: (o: KObject) => boolean } = {}): { items: Stored[]; rev: number; continueKey?: string } {
    const items: Stored[] = [];
    const rev = this.progressRev;
    const end = prefixEnd(prefix).toString('latin1');
    let continueKey: string | undefined;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    this.objects.forRange(opts.startKey ?? prefix, end, false, (key, s) => {
      if (items.length >= limit) {
        continueKey ??= key;
        return { break: true };
      }
      if (!opts.filter || opts.filter(s.obj)) items.push(s);
      return undefined;
    });
    return { items, rev, continueKey };
  }

  get watchers(): number {
    return this.subs.size;
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.cancel();
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}

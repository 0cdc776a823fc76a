import type { Event, KeyValue } from '@kubets/proto/etcd/mvccpb/kv';
import { Event_EventType } from '@kubets/proto/etcd/mvccpb/kv';
import {
  WatchCreateRequest_FilterType,
  WatchResponse,
  type ResponseHeader,
  type WatchCreateRequest,
} from '@kubets/proto/etcd/etcdserverpb/rpc';
import { CompactedError } from '../mvcc/errors';
import { inRange, keyString, toKeyRange, type KeyRange, type MvccEvent, type MvccStore } from '../mvcc/store';

/**
 * Watches, as etcd serves them. A watch stream (one gRPC Watch call) holds
 * watchers; each watcher wants the events of a key range from a start
 * revision on, in revision order, without gaps or duplicates.
 *
 * A watcher is either synced (it has seen every committed revision; new
 * commits are pushed to it as they happen) or catching up (it reads the
 * store's event history from its next revision, a batch at a time, until it
 * is synced). A stream whose client reads slowly (the gRPC write buffer is
 * full) stops receiving; its watchers fall back to catching up from where
 * they were once the buffer drains. A watcher whose next revision has been
 * compacted away is cancelled with the compaction revision, like etcd.
 */

export const INVALID_WATCH_ID = -1n;
const COMPACTED_REASON = 'etcdserver: mvcc: required revision has been compacted';
const DUPLICATE_ID_REASON = 'mvcc: duplicate watch ID provided on the WatchStream';

/** Where a stream's responses go (the gRPC call, or a test). */
export interface WatchSink {
  /** Returns false when the client is not keeping up (buffer full). */
  send(response: WatchResponse): boolean;
}

export interface WatchHubOptions {
  /** Builds response headers for a revision (cluster id, member id, term). */
  header: (revision: number) => ResponseHeader;
  /** Period of progress notifications to watchers that asked for them. etcd: 10 min. */
  progressIntervalMs?: number;
  /** Most events read from history per catch-up batch. */
  batchEvents?: number;
  /** Responses above this size are split when the watcher asked for fragments (etcd: max request bytes). */
  maxResponseBytes?: number;
}

interface Watcher {
  id: bigint;
  range: KeyRange;
  /** The next revision this watcher has not seen. */
  nextRev: number;
  prevKv: boolean;
  noPut: boolean;
  noDelete: boolean;
  progressNotify: boolean;
  fragment: boolean;
  /** Events were sent since the last progress notification. */
  sentSinceProgress: boolean;
}

export class WatchStream {
  private readonly watchers = new Map<bigint, Watcher>();
  private nextAutoId = 0n;
  private blocked = false;
  private catchUpScheduled = false;
  private closed = false;

  constructor(
    private readonly hub: WatchHub,
    private readonly sink: WatchSink,
  ) {}

  get size(): number {
    return this.watchers.size;
  }

  /** Handle a create request; replies `created` (or created + canceled on error). */
  create(req: WatchCreateRequest): void {
    const store = this.hub.store;
    const wsrev = store.currentRev;
    let id = req.watchId;
    if (id === 0n) {
      while (this.watchers.has(this.nextAutoId)) this.nextAutoId++;
      id = this.nextAutoId++;
    } else if (this.watchers.has(id)) {
      this.send({ ...this.base(wsrev, INVALID_WATCH_ID), created: true, canceled: true, cancelReason: DUPLICATE_ID_REASON });
      return;
    }
    const start = req.startRevision > 0n ? Number(req.startRevision) : wsrev + 1;
    const watcher: Watcher = {
      id,
      range: toKeyRange(req.key, req.rangeEnd),
      nextRev: start,
      prevKv: req.prevKv,
      noPut: req.filters.includes(WatchCreateRequest_FilterType.NOPUT),
      noDelete: req.filters.includes(WatchCreateRequest_FilterType.NODELETE),
      progressNotify: req.progressNotify,
      fragment: req.fragment,
      sentSinceProgress: false,
    };
    this.watchers.set(id, watcher);
    this.send({ ...this.base(wsrev, id), created: true });
    if (watcher.nextRev <= store.currentRev) this.scheduleCatchUp();
  }

  cancel(id: bigint): void {
    if (!this.watchers.delete(id)) return;
    this.send({ ...this.base(this.hub.store.currentRev, id), canceled: true });
  }

  /** A client's progress request: the current revision, if every watcher is synced. */
  progress(): void {
    const rev = this.hub.store.currentRev;
    for (const w of this.watchers.values()) if (w.nextRev <= rev) return; // not synced yet: etcd stays silent too
    this.send(this.base(rev, INVALID_WATCH_ID));
  }

  /** The client drained its buffer: resume. */
  drained(): void {
    this.blocked = false;
    this.scheduleCatchUp();
  }

  close(): void {
    this.closed = true;
    this.watchers.clear();
    this.hub.detach(this);
  }

  /** New commit: push to synced watchers whose range it touches. */
  onCommit(events: MvccEvent[], rev: number): void {
    if (this.closed) return;
    for (const w of this.watchers.values()) {
      if (w.nextRev !== rev) {
        // Either waiting for a future start revision, or behind (catching up).
        if (w.nextRev < rev) this.scheduleCatchUp();
        continue;
      }
      if (this.blocked) {
        this.scheduleCatchUp();
        continue;
      }
      const matching = events.filter((e) => this.accepts(w, e));
      w.nextRev = rev + 1;
      if (matching.length > 0) this.deliver(w, matching, rev);
    }
  }

  /** Periodic progress notification for watchers that asked for it and are idle. */
  progressTick(): void {
    const rev = this.hub.store.currentRev;
    for (const w of this.watchers.values()) {
      if (!w.progressNotify) continue;
      if (w.nextRev <= rev) continue; // not synced
      if (w.sentSinceProgress) {
        w.sentSinceProgress = false;
        continue;
      }
      this.send(this.base(rev, w.id));
    }
  }

  private accepts(w: Watcher, e: MvccEvent): boolean {
    if (e.type === 'put' ? w.noPut : w.noDelete) return false;
    return inRange(w.range, keyString(e.kv.key));
  }

  private scheduleCatchUp(): void {
    if (this.catchUpScheduled || this.closed) return;
    this.catchUpScheduled = true;
    setImmediate(() => {
      this.catchUpScheduled = false;
      this.catchUp();
    });
  }

  /** Bring lagging watchers forward from history, a batch per turn of the event loop. */
  private catchUp(): void {
    if (this.closed || this.blocked) return;
    const store = this.hub.store;
    let more = false;
    for (const w of [...this.watchers.values()]) {
      if (this.blocked) {
        more = true;
        break;
      }
      const current = store.currentRev;
      if (w.nextRev > current) continue;
      let events: MvccEvent[];
      try {
        events = store.eventsSince(w.nextRev, (key) => inRange(w.range, key), this.hub.batchEvents + 1);
      } catch (err) {
        if (!(err instanceof CompactedError)) throw err;
        this.watchers.delete(w.id);
        this.send({
          ...this.base(current, w.id),
          canceled: true,
          compactRevision: BigInt(store.compactRev),
          cancelReason: COMPACTED_REASON,
        });
        continue;
      }
      // Deliver whole revisions only; the header revision never runs ahead of what was delivered.
      let upTo = current;
      const max = this.hub.batchEvents;
      if (events.length > max) {
        const cutRev = events[max]!.main;
        const before = events.filter((e) => e.main < cutRev);
        if (before.length > 0) {
          events = before;
          upTo = cutRev - 1;
        } else {
          // One revision holds more than a batch: send that whole revision.
          events = store.eventsSince(cutRev, (key) => inRange(w.range, key)).filter((e) => e.main === cutRev);
          upTo = cutRev;
        }
        more = true;
      }
      const matching = events.filter((e) => !(e.type === 'put' ? w.noPut : w.noDelete));
      w.nextRev = upTo + 1;
      if (matching.length > 0) this.deliver(w, matching, upTo);
    }
    if (more) this.scheduleCatchUp();
  }

  private deliver(w: Watcher, events: MvccEvent[], rev: number): void {
    const pb: Event[] = events.map((e) => ({
      type: e.type === 'put' ? Event_EventType.PUT : Event_EventType.DELETE,
      kv: e.kv,
      prevKv: w.prevKv ? e.prevKv : undefined,
    }));
    w.sentSinceProgress = true;
    const response: WatchResponse = { ...this.base(rev, w.id), events: pb };
    const limit = this.hub.maxResponseBytes;
    if (!w.fragment || pb.length < 2 || WatchResponse.encode(response).len < limit) {
      this.send(response);
      return;
    }
    // Split into fragments, each under the limit (at least one event each).
    let batch: Event[] = [];
    const flush = (last: boolean) => {
      this.send({ ...this.base(rev, w.id), events: batch, fragment: !last });
      batch = [];
    };
    for (const ev of pb) {
      batch.push(ev);
      if (batch.length > 1 && WatchResponse.encode({ ...this.base(rev, w.id), events: batch }).len >= limit) {
        batch.pop();
        flush(false);
        batch.push(ev);
      }
    }
    flush(true);
  }

  private base(rev: number, id: bigint): WatchResponse {
    return {
      header: this.hub.header(rev),
      watchId: id,
      created: false,
      canceled: false,
      compactRevision: 0n,
      cancelReason: '',
      fragment: false,
      events: [],
    };
  }

  private send(response: WatchResponse): void {
    if (this.closed) return;
    if (!this.sink.send(response)) this.blocked = true;
  }
}

/** All watch streams of a member, fed by the MVCC store's commits. */
export class WatchHub {
  readonly header: (revision: number) => ResponseHeader;
  readonly batchEvents: number;
  readonly maxResponseBytes: number;
  private readonly streams = new Set<WatchStream>();
  private readonly progressTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;

  constructor(
    readonly store: MvccStore,
    options: WatchHubOptions,
  ) {
    this.header = options.header;
    this.batchEvents = options.batchEvents ?? 1000;
    this.maxResponseBytes = options.maxResponseBytes ?? 1.5 * 1024 * 1024;
    this.unsubscribe = store.onCommit((events, rev) => {
      for (const s of this.streams) s.onCommit(events, rev);
    });
    this.progressTimer = setInterval(() => {
      for (const s of this.streams) s.progressTick();
    }, options.progressIntervalMs ?? 10 * 60_000);
    this.progressTimer.unref();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  get watcherCount(): number {
    let n = 0;
    for (const s of this.streams) n += s.size;
    return n;
  }

  open(sink: WatchSink): WatchStream {
    const stream = new WatchStream(this, sink);
    this.streams.add(stream);
    return stream;
  }

  detach(stream: WatchStream): void {
    this.streams.delete(stream);
  }

  close(): void {
    clearInterval(this.progressTimer);
    this.unsubscribe();
    for (const s of [...this.streams]) s.close();
  }
}

export type { KeyValue };

import { encodeEvent, nodePodsSubject, resourceSubject, type ChainEvent } from '@kubets/api-events';
import type { EtcdClient } from '@kubets/etcd-client';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { KObject } from '../registry/types';
import type { ChangeEvent, WatchCache } from '../storage/watch-cache';
import { Compare_CompareResult, Compare_CompareTarget } from '@kubets/proto/etcd/etcdserverpb/rpc';

const LEADER_KEY = '/kubets/event-publisher';
/** Events older than this are not re-sent by a new publisher (a consumer that missed them relists). */
const REPLAY_WINDOW_MS = 30_000;
const HEARTBEAT_MS = 1000;

interface Outgoing {
  subject: string;
  ev: ChainEvent;
  at: number;
}

/** Split "/registry/<resource>/[<ns>/]<name>" (group comes from the resource name). */
function parseKey(key: string): { resource: string; namespace: string; name: string } | undefined {
  const parts = key.split('/');
  if (parts.length === 4) return { resource: parts[2]!, namespace: '', name: parts[3]! };
  if (parts.length === 5) return { resource: parts[2]!, namespace: parts[3]!, name: parts[4]! };
  return undefined;
}

/**
 * Publishes every committed change on NATS, one chain per subject (see
 * @kubets/api-events). Every replica follows the watch cache and keeps the
 * chains; one replica at a time (the holder of a KV lease) publishes. A new
 * holder re-sends the recent events it saw (consumers drop duplicates), and
 * chains it has not seen start with an upper bound (the revision it started
 * from), so a consumer that might have missed something relists.
 */
export class EventPublisher {
  private readonly chains = new Map<string, number>();
  /** The events of the replay window: recent[recentHead..] (the head moves instead of shifting the array). */
  private recent: Outgoing[] = [];
  private recentHead = 0;
  private leader = false;
  private leaseId = 0n;
  private startRev = 0;
  private lastRev = 0;
  private unsubscribe: (() => void) | undefined;
  private leaderTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly published: Counter<string>;
  private readonly isLeader: Gauge<string>;
  private readonly maxPayload: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: EtcdClient,
    private readonly cache: WatchCache,
    private readonly o: { identity: string; leaseSeconds: number; log: Logger; registry: Registry },
  ) {
    this.published = new Counter({ name: 'apiserver_nats_events_published_total', help: 'Change events published on NATS.', labelNames: ['type'], registers: [o.registry] });
    this.isLeader = new Gauge({ name: 'apiserver_nats_event_publisher_leader', help: '1 when this replica publishes the change events.', registers: [o.registry] });
    this.maxPayload = Math.max(64 * 1024, (nc.info?.max_payload ?? 1024 * 1024) - 4096);
  }

  async start(): Promise<void> {
    await this.cache.ready;
    this.startRev = this.cache.revision;
    this.lastRev = this.startRev;
    this.unsubscribe = this.cache.subscribe('/registry/', this.startRev, (events) => this.onEvents(events), () => {
      // The cache reset: every chain restarts with an upper bound.
      this.chains.clear();
      this.startRev = this.cache.revision;
      this.o.log.warn({ revision: this.startRev }, 'watch cache reset: chains restart');
      this.unsubscribe = undefined;
      if (!this.stopped) void this.start();
    });
    await this.tryLead();
    this.leaderTimer = setInterval(() => void this.tryLead(), Math.max(500, (this.o.leaseSeconds * 1000) / 3));
    this.leaderTimer.unref();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.heartbeatTimer.unref();
  }

  private prevOf(subject: string, rev: number): number {
    const prev = this.chains.get(subject) ?? this.startRev;
    this.chains.set(subject, rev);
    return prev;
  }

  private onEvents(events: ChangeEvent[]): void {
    const now = Date.now();
    for (const e of events) {
      const k = parseKey(e.key);
      if (!k) continue;
      const group = this.groupOf(e.obj);
      e.json ??= JSON.stringify(e.obj);
      let object: Uint8Array = Buffer.from(e.json);
      if (object.length > this.maxPayload) object = Buffer.alloc(0); // consumers relist
      const base = { object, revision: e.rev, group, resource: k.resource, namespace: k.namespace, name: k.name };
      const out: Outgoing[] = [];
      const subj = resourceSubject(group, k.resource);
      out.push({ subject: subj, ev: { ...base, type: e.type, prevRevision: this.prevOf(subj, e.rev) }, at: now });
      if (k.resource === 'pods' && group === '') {
        const nowNode: string | undefined = e.type === 'DELETED' ? undefined : e.obj.spec?.nodeName;
        const prevNode: string | undefined = e.prev?.spec?.nodeName;
        if (prevNode && prevNode !== nowNode) {
          const s = nodePodsSubject(prevNode);
          out.push({ subject: s, ev: { ...base, type: 'DELETED', prevRevision: this.prevOf(s, e.rev) }, at: now });
        }
        if (nowNode) {
          const s = nodePodsSubject(nowNode);
          const type = prevNode === nowNode ? e.type : 'ADDED';
          out.push({ subject: s, ev: { ...base, type, prevRevision: this.prevOf(s, e.rev) }, at: now });
        } else if (e.type === 'DELETED' && prevNode) {
          const s = nodePodsSubject(prevNode);
          out.push({ subject: s, ev: { ...base, type: 'DELETED', prevRevision: this.prevOf(s, e.rev) }, at: now });
        }
      }
      for (const m of out) {
        this.recent.push(m);
        if (this.leader) this.send(m);
      }
      this.lastRev = Math.max(this.lastRev, e.rev);
    }
    const recent = this.recent;
    while (this.recentHead < recent.length && (recent[this.recentHead]!.at < now - REPLAY_WINDOW_MS || recent.length - this.recentHead > 50_000)) this.recentHead++;
    // Drop the expired prefix once it is at least half the array (amortised O(1) per event).
    if (this.recentHead > 1024 && this.recentHead * 2 >= recent.length) {
      this.recent = recent.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  private groupOf(obj: KObject): string {
    const av: string = obj.apiVersion ?? 'v1';
    const i = av.indexOf('/');
    return i < 0 ? '' : av.slice(0, i);
  }

  private send(m: Outgoing): void {
    try {
      this.nc.publish(m.subject, encodeEvent(m.ev));
      this.published.inc({ type: m.ev.type });
    } catch (e) {
      // Disconnected: consumers will see the gap (or reconnect) and relist.
      this.o.log.warn({ subject: m.subject, err: (e as Error).message }, 'publish failed');
    }
  }

  private heartbeat(): void {
    if (!this.leader || this.stopped) return;
    const rev = Math.max(this.lastRev, this.cache.revision);
    for (const [subject, prev] of this.chains) {
      this.send({ subject, ev: { type: 'BOOKMARK', object: Buffer.alloc(0), revision: rev, prevRevision: prev, group: '', resource: '', namespace: '', name: '' }, at: 0 });
    }
  }

  /** Hold (or try to take) the publisher lease. */
  private async tryLead(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.leader) {
        const r = await this.kv.leaseKeepAliveOnce(this.leaseId);
        if (r.TTL > 0n) return;
        this.setLeader(false, 'lease expired');
      }
      const g = await this.kv.leaseGrant(this.o.leaseSeconds);
      const key = Buffer.from(LEADER_KEY);
      const r = await this.kv.txn({
        compare: [{ key, rangeEnd: Buffer.alloc(0), result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, targetUnion: { $case: 'createRevision', value: 0n } }],
        success: [{ request: { $case: 'requestPut', value: { key, value: Buffer.from(this.o.identity), lease: g.ID, prevKv: false, ignoreValue: false, ignoreLease: false } } }],
        failure: [],
      });
      if (r.succeeded) {
        this.leaseId = g.ID;
        this.setLeader(true, 'acquired the publisher lease');
      } else {
        await this.kv.leaseRevoke(g.ID).catch(() => {});
      }
    } catch (e) {
      if (this.leader) this.setLeader(false, `lease renewal failed: ${(e as Error).message}`);
    }
  }

  private setLeader(leader: boolean, why: string): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.isLeader.set(leader ? 1 : 0);
    this.o.log.info({ leader, why }, leader ? 'publishing change events' : 'stopped publishing change events');
    if (leader) {
      // Re-send what a previous publisher may not have sent before it died.
      for (let i = this.recentHead; i < this.recent.length; i++) this.send(this.recent[i]!);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.leaderTimer) clearInterval(this.leaderTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.unsubscribe?.();
    if (this.leader) {
      this.leader = false;
      await this.kv.leaseRevoke(this.leaseId).catch(() => {});
    }
  }
}

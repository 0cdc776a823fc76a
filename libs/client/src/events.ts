import { format } from 'node:util';
import { isNotFound, rfc3339 } from '@kubets/api-machinery';
import type { Client } from './client';
import type { Event, KObject, ObjectReference } from './types';

export type EventType = 'Normal' | 'Warning';

/** core/v1 EventSource: who reports. */
export interface EventSource {
  component: string;
  host?: string;
}

/** The involvedObject reference of an object (or the reference itself). */
export function objectReference(o: KObject | ObjectReference): ObjectReference {
  const m = (o as KObject).metadata;
  if (!m) return { ...(o as ObjectReference) };
  const ref: ObjectReference = {};
  if (o.kind) ref.kind = String(o.kind);
  if (m.namespace) ref.namespace = String(m.namespace);
  if (m.name) ref.name = String(m.name);
  if (m.uid) ref.uid = String(m.uid);
  if (o.apiVersion) ref.apiVersion = String(o.apiVersion);
  if (m.resourceVersion) ref.resourceVersion = String(m.resourceVersion);
  return ref;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

const MAX_CACHE = 4096;

/**
 * Records core/v1 Events as client-go's EventRecorder does: the event is
 * named `<object name>.<hex unix nanoseconds>` in the object's namespace
 * (`default` for cluster-scoped objects), with reason, message, type,
 * involvedObject, source, count and first/lastTimestamp. A repeat of an
 * identical event (same source, object, type, reason and message) within the
 * recorder's memory (the last 4096 distinct events) bumps the existing
 * event's count and lastTimestamp with a patch instead of creating a new one,
 * like client-go's EventCorrelator. Recording never throws: a failure is
 * logged and resolves to undefined.
 */
export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private seq = 0;

  constructor(
    private readonly client: Client,
    readonly source: EventSource,
  ) {}

  /** Records an event; resolves to the Event as stored (undefined when it could not be written). */
  event(object: KObject | ObjectReference, type: EventType, reason: string, message: string): Promise<Event | undefined> {
    const ref = objectReference(object);
    const key = JSON.stringify([this.source.component, this.source.host ?? '', ref.kind, ref.namespace, ref.name, ref.uid, ref.apiVersion, type, reason, message]);
    // One write per key at a time, so a quick repeat patches the event the first one created.
    const prev = this.inflight.get(key) ?? Promise.resolve();
    const p = prev.then(() => this.write(key, ref, type, reason, message));
    this.inflight.set(key, p);
    void p.finally(() => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
    });
    return p;
  }

  /** Records an event with a printf-style message (`%s`, `%d`, `%v`, `%q` as util.format reads them). */
  eventf(object: KObject | ObjectReference, type: EventType, reason: string, fmt: string, ...args: unknown[]): Promise<Event | undefined> {
    return this.event(object, type, reason, format(fmt.replace(/%v/g, '%s').replace(/%q/g, '"%s"'), ...args));
  }

  private async write(key: string, ref: ObjectReference, type: EventType, reason: string, message: string): Promise<Event | undefined> {
    const now = rfc3339(Date.now());
    const seen = this.seen.get(key);
    try {
      if (seen) {
        try {
          const ev = await this.client.events.patch(seen.namespace, seen.name, 'merge', { count: seen.count + 1, lastTimestamp: now });
          seen.count = Number(ev.count ?? seen.count + 1);
          this.touch(key, seen);
          return ev;
        } catch (e) {
          if (!isNotFound(e)) throw e;
          this.seen.delete(key); // the event expired or was deleted: start a new one
        }
      }
      const namespace = ref.namespace || 'default';
      const nanos = BigInt(Date.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
      const ev: Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${ref.name ?? 'unknown'}.${nanos.toString(16)}`, namespace },
        involvedObject: ref,
        reason,
        message,
        source: { component: this.source.component, ...(this.source.host ? { host: this.source.host } : {}) },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        type,
        reportingComponent: this.source.component,
        reportingInstance: this.source.host ?? '',
      };
      const created = await this.client.events.create(namespace, ev);
      this.touch(key, { name: String(created.metadata.name), namespace, count: Number(created.count ?? 1) });
      return created;
    } catch (e) {
      this.client.log.warn({ err: (e as Error).message, reason, object: `${ref.kind}/${ref.namespace ?? ''}/${ref.name}` }, 'could not record event');
      return undefined;
    }
  }

  private touch(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    while (this.seen.size > MAX_CACHE) this.seen.delete(this.seen.keys().next().value!);
  }
}

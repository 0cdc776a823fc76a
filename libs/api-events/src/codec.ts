import { WatchEvent } from '@kubets/proto/kubets/api/v1/api';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface ChainEvent {
  type: EventType;
  /** the object's JSON (empty for BOOKMARK, or when it was too large for one NATS message) */
  object: Uint8Array;
  revision: number;
  prevRevision: number;
  group: string;
  resource: string;
  namespace: string;
  name: string;
}

export function encodeEvent(e: ChainEvent): Uint8Array {
  return WatchEvent.encode({
    type: e.type,
    object: Buffer.isBuffer(e.object) ? e.object : Buffer.from(e.object),
    revision: BigInt(e.revision),
    prevRevision: BigInt(e.prevRevision),
    group: e.group,
    resource: e.resource,
    namespace: e.namespace,
    name: e.name,
  }).finish();
}

export function decodeEvent(data: Uint8Array): ChainEvent {
  const w = WatchEvent.decode(data);
  if (!['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK'].includes(w.type)) throw new Error(`unknown event type ${JSON.stringify(w.type)}`);
  return {
    type: w.type as EventType,
    object: w.object,
    revision: Number(w.revision),
    prevRevision: Number(w.prevRevision),
    group: w.group,
    resource: w.resource,
    namespace: w.namespace,
    name: w.name,
  };
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the actor runtime, registered once per registry. */
export interface ActorMetrics {
  messages: Counter<'actor' | 'method' | 'outcome'>;
  duration: Histogram<'actor'>;
  mailbox: Gauge<'actor'>;
  restarts: Counter<'actor'>;
  escalations: Counter<'actor'>;
  connected: Gauge<'client'>;
  connectionChanges: Counter<'client' | 'state'>;
}

const byRegistry = new WeakMap<Registry, ActorMetrics>();

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function actorMetrics(registry: Registry): ActorMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: ActorMetrics = {
    messages: getOrCreate(
      registry,
      'kubets_actor_messages_total',
      () =>
        new Counter({
          name: 'kubets_actor_messages_total',
          help: 'Messages handled by actors, by outcome (ok, error, crash, rejected, malformed).',
          labelNames: ['actor', 'method', 'outcome'],
          registers,
        }),
    ),
    duration: getOrCreate(
      registry,
      'kubets_actor_message_duration_seconds',
      () =>
        new Histogram({
          name: 'kubets_actor_message_duration_seconds',
          help: 'Time an actor spent handling one message.',
          labelNames: ['actor'],
          buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          registers,
        }),
    ),
    mailbox: getOrCreate(
      registry,
      'kubets_actor_mailbox_depth',
      () =>
        new Gauge({
          name: 'kubets_actor_mailbox_depth',
          help: 'Messages waiting in an actor mailbox.',
          labelNames: ['actor'],
          registers,
        }),
    ),
    restarts: getOrCreate(
      registry,
      'kubets_actor_restarts_total',
      () =>
        new Counter({
          name: 'kubets_actor_restarts_total',
          help: 'Actor restarts by the supervisor after a crash.',
          labelNames: ['actor'],
          registers,
        }),
    ),
    escalations: getOrCreate(
      registry,
      'kubets_actor_escalations_total',
      () =>
        new Counter({
          name: 'kubets_actor_escalations_total',
          help: 'Actors that failed too often and escalated to their parent.',
          labelNames: ['actor'],
          registers,
        }),
    ),
    connected: getOrCreate(
      registry,
      'kubets_nats_connected',
      () =>
        new Gauge({
          name: 'kubets_nats_connected',
          help: '1 while the NATS connection is up, else 0.',
          labelNames: ['client'],
          registers,
        }),
    ),
    connectionChanges: getOrCreate(
      registry,
      'kubets_nats_connection_changes_total',
      () =>
        new Counter({
          name: 'kubets_nats_connection_changes_total',
          help: 'NATS connection state changes.',
          labelNames: ['client', 'state'],
          registers,
        }),
    ),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}

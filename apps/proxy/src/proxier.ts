// The sync loop: an actor (one message at a time, its own state) that turns
// "something changed" notifications from the Service and EndpointSlice
// informers into kernel updates. Changes are coalesced: a sync starts at most
// once per min-sync-period, and whatever arrives during a sync is handled by
// the next one. A periodic full resync rewrites everything. Failures are
// retried with back-off; the backend rebuilds from scratch after one.
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Backend } from './backends';
import { buildServicePorts, countEndpoints, type ServicePortEntry } from './rules';
import type { EndpointSlice, Service } from '@kubets/client';

export interface ProxierOptions {
  backend: Backend;
  services: () => Service[];
  endpointSlices: () => EndpointSlice[];
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  log: Logger;
  registry: Registry;
}

export interface ProxierStatus {
  mode: string;
  running: boolean;
  syncs: number;
  failures: number;
  lastSyncSuccess: string;
  pendingSince: string;
}

export type Message = { kind: 'changed'; what: 'service' | 'endpoints' } | { kind: 'resync' };

export class Proxier {
  /** epoch ms of the last successful sync (0: none yet) */
  lastSyncSuccessMs = 0;
  /** epoch ms since which a change waits for a sync (0: nothing pending) */
  pendingSinceMs = 0;
  syncs = 0;
  private mailbox: Message[] = [];
  private draining = false;
  private dirty = false;
  private fullPending = true;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private lastStartMs = 0;
  private failures = 0;
  private stopped = false;
  /** no sync before start(): until every informer has synced, a sync would drop live services' rules */
  private started = false;
  private idleWaiters: Array<() => void> = [];
  private readonly m: {
    duration: Histogram;
    last: Gauge;
    endpointChanges: Counter;
    serviceChanges: Counter;
    errors: Counter;
    rules: Gauge;
    endpoints: Gauge;
  };

  constructor(private readonly o: ProxierOptions) {
    const registers = [o.registry];
    this.m = {
      duration: new Histogram({ name: 'kubeproxy_sync_proxy_rules_duration_seconds', help: 'SyncProxyRules latency in seconds', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], labelNames: ['full'], registers }),
      last: new Gauge({ name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds', help: 'The last time proxy rules were successfully synced', registers }),
      endpointChanges: new Counter({ name: 'kubeproxy_sync_proxy_rules_endpoint_changes_total', help: 'Cumulative EndpointSlice changes seen', registers }),
      serviceChanges: new Counter({ name: 'kubeproxy_sync_proxy_rules_service_changes_total', help: 'Cumulative Service changes seen', registers }),
      errors: new Counter({ name: 'kubets_proxy_sync_errors_total', help: 'Syncs that failed to program the kernel', registers }),
      rules: new Gauge({ name: 'kubets_proxy_rules', help: 'What the last sync programmed, by kind (chains, rules, elements, virtual_servers, real_servers, addresses)', labelNames: ['kind'], registers }),
      endpoints: new Gauge({ name: 'kubets_proxy_service_ports', help: 'Service ports and ready endpoints programmed', labelNames: ['kind'], registers }),
    };
  }

  /** Tell the actor something changed. */
  tell(msg: Message): void {
    if (this.stopped) return;
    this.mailbox.push(msg);
    if (!this.draining) void this.drain();
  }

  /** Call once every informer has synced: the first sync (a full one) runs now. Again after halt(): a fresh full sync. */
  start(): void {
    if (this.stopped) return;
    this.started = true;
    clearInterval(this.resyncTimer);
    this.resyncTimer = setInterval(() => this.tell({ kind: 'resync' }), this.o.syncPeriodMs);
    this.tell({ kind: 'resync' });
  }

  /** Pause syncing until start() (a crash of the actor that owns this loop); rules stay in the kernel. */
  async halt(): Promise<void> {
    this.started = false;
    clearInterval(this.resyncTimer);
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  status(): ProxierStatus {
    return {
      mode: this.o.backend.mode,
      running: this.started && !this.stopped,
      syncs: this.syncs,
      failures: this.failures,
      lastSyncSuccess: this.lastSyncSuccessMs ? new Date(this.lastSyncSuccessMs).toISOString() : '',
      pendingSince: this.pendingSinceMs ? new Date(this.pendingSinceMs).toISOString() : '',
    };
  }

  /** Stop syncing (rules stay in the kernel); waits for a running sync. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.halt();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.mailbox.length > 0) {
      const msg = this.mailbox.shift()!;
      if (msg.kind === 'changed') {
        (msg.what === 'service' ? this.m.serviceChanges : this.m.endpointChanges).inc();
        this.dirty = true;
      } else {
        this.fullPending = true;
        this.dirty = true;
      }
      if (this.pendingSinceMs === 0) this.pendingSinceMs = Date.now();
      this.schedule();
    }
    this.draining = false;
  }

  /** Arrange one sync: at once, or when min-sync-period since the last start has passed. */
  private schedule(): void {
    if (!this.started || this.running || this.timer || this.stopped || !this.dirty) return;
    const backoff = this.failures > 0 ? Math.min(30_000, 250 * 2 ** (this.failures - 1)) : 0;
    const wait = Math.max(0, this.lastStartMs + this.o.minSyncPeriodMs - Date.now(), backoff);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.syncNow();
    }, wait);
  }

  private async syncNow(): Promise<void> {
    if (this.stopped) return;
    this.running = true;
    this.dirty = false;
    const full = this.fullPending;
    this.fullPending = false;
    const pendingSince = this.pendingSinceMs;
    this.pendingSinceMs = 0;
    this.lastStartMs = Date.now();
    const t0 = performance.now();
    try {
      const ports: ServicePortEntry[] = buildServicePorts(this.o.services(), this.o.endpointSlices());
      const res = await this.o.backend.sync(ports, full);
      const secs = (performance.now() - t0) / 1000;
      this.m.duration.observe({ full: String(full) }, secs);
      this.lastSyncSuccessMs = Date.now();
      this.m.last.set(this.lastSyncSuccessMs / 1000);
      for (const [k, v] of Object.entries(res.counts)) this.m.rules.set({ kind: k }, v);
      this.m.endpoints.set({ kind: 'service_ports' }, ports.length);
      this.m.endpoints.set({ kind: 'endpoints' }, countEndpoints(ports));
      this.failures = 0;
      this.syncs++;
      this.o.log.info(
        { mode: this.o.backend.mode, full, servicePorts: ports.length, endpoints: countEndpoints(ports), scriptBytes: res.scriptBytes, durationMs: Math.round(secs * 1000), latencyMs: pendingSince ? Date.now() - pendingSince : undefined, ...res.counts },
        'synced proxy rules',
      );
    } catch (err) {
      this.failures++;
      this.m.errors.inc();
      this.dirty = true;
      this.fullPending = this.fullPending || full;
      if (this.pendingSinceMs === 0) this.pendingSinceMs = pendingSince || Date.now();
      this.o.log.error({ err: (err as Error).message, failures: this.failures }, 'syncing proxy rules failed: retrying');
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
      this.schedule();
    }
  }
}

// The namespace controller (pkg/controller/namespace, NamespacedResourcesDeleter):
// a namespace with a deletionTimestamp (phase Terminating) has every
// namespaced object of every resource the API server serves deleted; while
// some remain the namespace's status conditions say so and the key is
// requeued; once the namespace is empty the `kubernetes` finalizer is removed
// through the `finalize` subresource and the API server deletes the namespace.
import { BUILTIN_RESOURCES, isConflict, isNotFound, type Client, type Informer, type Logger, type ResourceInfo, type WorkQueueMetrics } from '@kubets/client';
import { errorMessage, type KObject } from '../util/k8s';
import { QueueController } from './queue-controller';

export const FINALIZER_KUBERNETES = 'kubernetes';

export interface NamespaceControllerOptions {
  client: Client;
  namespaces: Informer<any>;
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
  /** the namespaced resources to empty (default: every namespaced built-in resource) */
  resources?: readonly ResourceInfo[];
  /** how long to wait before checking again while content remains (kube estimates from grace periods) */
  recheckMs?: number;
}

const resourceName = (r: ResourceInfo) => (r.group ? `${r.resource}.${r.group}` : r.resource);

export class NamespaceController extends QueueController {
  private readonly resources: readonly ResourceInfo[];

  constructor(private readonly o: NamespaceControllerOptions) {
    super('namespace', o.workers, o.log, o.metrics);
    // Workload owners first, so their controllers stop replacing the pods being deleted.
    const first = ['deployments', 'daemonsets', 'replicasets'];
    const rank = (r: ResourceInfo) => (first.includes(r.resource) ? first.indexOf(r.resource) : first.length);
    this.resources = [...(o.resources ?? BUILTIN_RESOURCES.filter((r) => r.namespaced))].sort((a, b) => rank(a) - rank(b));
    const maybe = (ns: KObject) => {
      if (ns?.metadata?.deletionTimestamp) this.enqueue(String(ns.metadata.name));
    };
    o.namespaces.addEventHandler({ onAdd: maybe, onUpdate: (_o, n) => maybe(n) });
  }

  protected allKeys(): string[] {
    return this.o.namespaces.list().filter((n: KObject) => n.metadata?.deletionTimestamp).map((n: KObject) => String(n.metadata.name));
  }

  protected async sync(name: string): Promise<void> {
    const api = this.o.client.namespaces;
    let ns: KObject;
    try {
      ns = await api.get(undefined, name);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (!ns.metadata?.deletionTimestamp) return;
    const remaining: Record<string, number> = {};
    const finalizersRemaining: Record<string, number> = {};
    const failures: string[] = [];
    for (const r of this.resources) {
      const client = this.o.client.resource(r);
      let items: KObject[];
      try {
        items = (await client.list({ namespace: name })).items;
      } catch (e) {
        failures.push(`${resourceName(r)}: ${errorMessage(e)}`);
        continue;
      }
      if (items.length === 0) continue;
      remaining[resourceName(r)] = items.length;
      for (const it of items) {
        for (const f of it.metadata?.finalizers ?? []) finalizersRemaining[f] = (finalizersRemaining[f] ?? 0) + 1;
        if (it.metadata?.deletionTimestamp) continue;
        try {
          await client.delete(name, String(it.metadata.name), { propagationPolicy: 'Background', preconditions: { uid: it.metadata.uid } });
        } catch (e) {
          if (!isNotFound(e) && !isConflict(e)) failures.push(`${resourceName(r)} "${it.metadata.name}": ${errorMessage(e)}`);
        }
      }
    }
    const done = Object.keys(remaining).length === 0 && failures.length === 0;
    await this.updateConditions(ns, remaining, finalizersRemaining, failures).catch((e: unknown) => this.log.info({ ns: name, err: errorMessage(e) }, 'updating namespace conditions failed'));
    if (!done) {
      // Deletions in progress (graceful pods, finalizers): look again soon.
      this.enqueueAfter(name, this.o.recheckMs ?? 1000);
      if (failures.length > 0) throw new Error(`namespace ${name}: ${failures.join('; ')}`);
      return;
    }
    // Every object is gone: drop the `kubernetes` finalizer through /finalize.
    const fresh = await api.get(undefined, name).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (!fresh) return;
    const fins: string[] = fresh.spec?.finalizers ?? [];
    if (fins.includes(FINALIZER_KUBERNETES)) {
      await api.update(undefined, { ...fresh, spec: { ...(fresh.spec ?? {}), finalizers: fins.filter((f) => f !== FINALIZER_KUBERNETES) } }, { subresource: 'finalize' });
      this.log.info({ ns: name }, 'namespace emptied; finalized');
    }
  }

  /** kube's namespace deletion conditions (NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining). */
  private async updateConditions(ns: KObject, remaining: Record<string, number>, fins: Record<string, number>, failures: string[]): Promise<void> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const cond = (type: string, isTrue: boolean, reasonTrue: string, reasonFalse: string, messageTrue: string, messageFalse: string) => ({
      type,
      status: isTrue ? 'True' : 'False',
      reason: isTrue ? reasonTrue : reasonFalse,
      message: isTrue ? messageTrue : messageFalse,
    });
    const want = [
      cond('NamespaceDeletionDiscoveryFailure', false, 'DiscoveryFailed', 'ResourcesDiscovered', '', 'All resources successfully discovered'),
      cond('NamespaceDeletionGroupVersionParsingFailure', false, 'GroupVersionParsingFailed', 'ParsedGroupVersions', '', 'All legacy kube types successfully parsed'),
      cond('NamespaceDeletionContentFailure', failures.length > 0, 'ContentDeletionFailed', 'ContentDeleted', `Failed to delete all resource types, ${failures.length} remaining: ${failures.join(', ')}`, 'All content successfully deleted, may be waiting on finalization'),
      cond(
        'NamespaceContentRemaining',
        Object.keys(remaining).length > 0,
        'SomeResourcesRemain',
        'ContentRemoved',
        `Some resources are remaining: ${Object.entries(remaining)
          .map(([r, n]) => `${r} has ${n} resource instances`)
          .join(', ')}`,
        'All content successfully removed',
      ),
      cond(
        'NamespaceFinalizersRemaining',
        Object.keys(fins).length > 0,
        'SomeFinalizersRemain',
        'ContentHasNoFinalizers',
        `Some content in the namespace has finalizers remaining: ${Object.entries(fins)
          .map(([f, n]) => `${f} in ${n} resource instances`)
          .join(', ')}`,
        'All content-preserving finalizers finished',
      ),
    ];
    const old: KObject[] = ns.status?.conditions ?? [];
    const same = want.every((w) => old.some((c) => c.type === w.type && c.status === w.status && c.reason === w.reason && c.message === w.message));
    if (same) return;
    const conditions = want.map((w) => {
      const prev = old.find((c) => c.type === w.type);
      return { ...w, lastTransitionTime: prev && prev.status === w.status ? prev.lastTransitionTime : now };
    });
    await this.o.client.namespaces.patchStatus(undefined, String(ns.metadata.name), 'merge', { status: { conditions } });
  }
}

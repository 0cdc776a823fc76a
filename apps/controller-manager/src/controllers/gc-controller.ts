// The garbage collector (pkg/controller/garbagecollector), wired to the
// cluster: an ownerReferences graph (uid -> object, owner uid -> dependent
// uids) built from the shared informers of the kinds the API server serves,
// and one work queue of object uids (kube's attemptToDelete and
// attemptToOrphan queues folded into one). A sync of a uid:
//   - owner side: an object being deleted with the `orphan` finalizer gets
//     the ownerReferences to it removed from its dependents, then the
//     finalizer removed; with `foregroundDeletion` its dependents are deleted
//     (Foreground where they have dependents themselves, else Background) and,
//     once no dependent with blockOwnerDeletion is left, the finalizer is
//     removed (the API server then deletes the owner);
//   - dependent side: each owner is checked by uid (graph first, then a live
//     GET: a recreated object with the same name is a different owner).
//     Owners all gone -> the object is deleted (Background, or Foreground when
//     an owner waits in foregroundDeletion and the object has dependents);
//     some gone -> the dangling references are removed.
import { isNotFound, resourceForKind, type Client, type Informer, type Logger, type ResourceInfo, type WorkQueueMetrics } from '@kubets/client';
import type { KObject, OwnerReference } from '../util/k8s';
import { QueueController } from './queue-controller';

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

export interface MonitoredResource {
  info: ResourceInfo;
  informer: Informer<any>;
}

export interface GarbageCollectorOptions {
  client: Client;
  resources: MonitoredResource[];
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
}

interface GraphNode {
  uid: string;
  info: ResourceInfo;
  namespace: string;
  name: string;
  owners: OwnerReference[];
  deleting: boolean;
  finalizers: string[];
}

const ownersOf = (o: KObject): OwnerReference[] => (Array.isArray(o?.metadata?.ownerReferences) ? o.metadata.ownerReferences : []);

export class GarbageCollectorController extends QueueController {
  private readonly nodes = new Map<string, GraphNode>();
  /** owner uid -> dependent uids (also for owners not (yet) in the graph) */
  private readonly dependents = new Map<string, Set<string>>();

  constructor(private readonly o: GarbageCollectorOptions) {
    super('garbagecollector', o.workers, o.log, o.metrics);
    for (const r of o.resources) {
      r.informer.addEventHandler({
        onAdd: (obj) => this.observe(r.info, obj),
        onUpdate: (_old, obj) => this.observe(r.info, obj),
        onDelete: (obj) => this.forget(obj),
      });
    }
  }

  /** Graph size (for status and tests). */
  get graphSize(): number {
    return this.nodes.size;
  }

  private observe(info: ResourceInfo, obj: KObject): void {
    const uid = String(obj?.metadata?.uid ?? '');
    if (!uid) return;
    const prev = this.nodes.get(uid);
    const owners = ownersOf(obj);
    if (prev) for (const ref of prev.owners) if (!owners.some((x) => x.uid === ref.uid)) this.unlink(ref.uid, uid);
    for (const ref of owners) {
      let s = this.dependents.get(ref.uid);
      if (!s) this.dependents.set(ref.uid, (s = new Set()));
      s.add(uid);
    }
    const node: GraphNode = {
      uid,
      info,
      namespace: String(obj.metadata.namespace ?? ''),
      name: String(obj.metadata.name ?? ''),
      owners,
      deleting: !!obj.metadata.deletionTimestamp,
      finalizers: Array.isArray(obj.metadata.finalizers) ? obj.metadata.finalizers : [],
    };
    this.nodes.set(uid, node);
    // Like kube's processGraphChanges: a new object, changed references or a change in its deletion state.
    const changed =
      !prev ||
      prev.deleting !== node.deleting ||
      prev.finalizers.join() !== node.finalizers.join() ||
      prev.owners.map((r) => r.uid).join() !== owners.map((r) => r.uid).join();
    if (changed && this.interesting(node)) this.enqueue(uid);
    // An owner that was removed from this object's references may wait on it (Foreground).
    if (prev) for (const ref of prev.owners) if (!owners.some((x) => x.uid === ref.uid)) this.enqueue(ref.uid);
    // Dependents of an owner that started a cascading deletion, or that just appeared in the graph.
    if (!prev || (node.deleting && !prev.deleting) || node.finalizers.length !== prev.finalizers.length) for (const d of this.dependents.get(uid) ?? []) this.enqueue(d);
  }

  private unlink(owner: string, dep: string): void {
    const s = this.dependents.get(owner);
    if (!s) return;
    s.delete(dep);
    if (s.size === 0 && !this.nodes.has(owner)) this.dependents.delete(owner);
  }

  private forget(obj: KObject): void {
    const uid = String(obj?.metadata?.uid ?? '');
    const node = this.nodes.get(uid);
    if (!node) return;
    this.nodes.delete(uid);
    for (const ref of node.owners) {
      this.unlink(ref.uid, uid);
      // An owner in foregroundDeletion may be waiting for this one.
      if (this.nodes.has(ref.uid)) this.enqueue(ref.uid);
    }
    // Its dependents lost an owner.
    const deps = this.dependents.get(uid);
    if (deps) {
      for (const d of deps) this.enqueue(d);
      if (deps.size === 0) this.dependents.delete(uid);
    }
  }

  private interesting(n: GraphNode): boolean {
    return n.owners.length > 0 || (n.deleting && (n.finalizers.includes(FINALIZER_ORPHAN) || n.finalizers.includes(FINALIZER_FOREGROUND)));
  }

  protected allKeys(): string[] {
    return [...this.nodes.values()].filter((n) => this.interesting(n)).map((n) => n.uid);
  }

  private api(info: ResourceInfo) {
    return this.o.client.resource(info);
  }

  private dependentNodes(uid: string): GraphNode[] {
    return [...(this.dependents.get(uid) ?? [])].map((d) => this.nodes.get(d)).filter((n): n is GraphNode => n !== undefined);
  }

  protected async sync(uid: string): Promise<void> {
    const node = this.nodes.get(uid);
    if (!node) return;
    if (node.deleting && node.finalizers.includes(FINALIZER_ORPHAN)) await this.orphanDependents(node);
    else if (node.deleting && node.finalizers.includes(FINALIZER_FOREGROUND)) await this.deleteDependentsInForeground(node);
    if (node.owners.length > 0) await this.attemptToDelete(node);
  }

  /** attemptToOrphan: drop the references to the owner from its dependents, then its orphan finalizer. */
  private async orphanDependents(owner: GraphNode): Promise<void> {
    for (const dep of this.dependentNodes(owner.uid)) {
      await this.removeOwnerRefs(dep, [owner.uid]);
    }
    await this.removeFinalizer(owner, FINALIZER_ORPHAN);
    this.log.info({ owner: `${owner.info.resource}/${owner.namespace}/${owner.name}` }, 'orphaned dependents; orphan finalizer removed');
  }

  /** Foreground: delete the dependents, wait for the blocking ones, then drop foregroundDeletion. */
  private async deleteDependentsInForeground(owner: GraphNode): Promise<void> {
    const deps = this.dependentNodes(owner.uid);
    let blocking = 0;
    for (const dep of deps) {
      const ref = dep.owners.find((r) => r.uid === owner.uid);
      if (ref?.blockOwnerDeletion) blocking++;
      if (dep.deleting) continue;
      const hasDeps = this.dependentNodes(dep.uid).length > 0;
      await this.deleteObject(dep, hasDeps ? 'Foreground' : 'Background');
    }
    if (blocking > 0) {
      this.log.debug?.({ owner: owner.name, blocking }, 'waiting for blocking dependents');
      return; // their deletions re-enqueue the owner
    }
    await this.removeFinalizer(owner, FINALIZER_FOREGROUND);
    this.log.info({ owner: `${owner.info.resource}/${owner.namespace}/${owner.name}` }, 'dependents gone; foregroundDeletion finalizer removed');
  }

  /** attemptToDeleteItem: classify the owners as solid, dangling or waiting for dependents' deletion. */
  private async attemptToDelete(node: GraphNode): Promise<void> {
    if (node.deleting && !node.finalizers.includes(FINALIZER_FOREGROUND)) return;
    const dangling: string[] = [];
    const solid: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const ref of node.owners) {
      const state = await this.ownerState(node, ref);
      if (state === 'absent') dangling.push(ref.uid);
      else if (state === 'waiting') waiting.push(ref);
      else solid.push(ref);
    }
    if (dangling.length === 0 && waiting.length === 0) return;
    if (solid.length > 0) {
      // Other owners still hold it: only drop the references to the gone owners.
      if (dangling.length > 0) await this.removeOwnerRefs(node, dangling);
      return;
    }
    if (node.deleting) return;
    const policy = waiting.length > 0 && this.dependentNodes(node.uid).length > 0 ? 'Foreground' : 'Background';
    await this.deleteObject(node, policy);
  }

  private async ownerState(node: GraphNode, ref: OwnerReference): Promise<'absent' | 'solid' | 'waiting'> {
    let owner: { deleting: boolean; finalizers: string[] } | undefined;
    const cached = this.nodes.get(ref.uid);
    if (cached) owner = cached;
    else {
      const info = resourceForKind(ref.apiVersion, ref.kind);
      if (!info) return 'solid'; // a kind we cannot look up: never delete on its account
      try {
        const live = await this.api(info).get(info.namespaced ? node.namespace : undefined, ref.name);
        if (String(live.metadata?.uid) !== ref.uid) return 'absent';
        owner = { deleting: !!live.metadata?.deletionTimestamp, finalizers: live.metadata?.finalizers ?? [] };
      } catch (e) {
        if (isNotFound(e)) return 'absent';
        throw e;
      }
    }
    if (owner.deleting && owner.finalizers.includes(FINALIZER_FOREGROUND)) return 'waiting';
    return 'solid';
  }

  private async deleteObject(n: GraphNode, policy: 'Background' | 'Foreground'): Promise<void> {
    try {
      await this.api(n.info).delete(n.namespace || undefined, n.name, { propagationPolicy: policy, preconditions: { uid: n.uid } });
      this.log.info({ object: `${n.info.resource}/${n.namespace}/${n.name}`, policy }, 'garbage collected');
    } catch (e) {
      if (isNotFound(e) || (e as { code?: number }).code === 409) return;
      throw e;
    }
  }

  private async removeOwnerRefs(n: GraphNode, uids: string[]): Promise<void> {
    const api = this.api(n.info);
    for (let attempt = 0; attempt < 5; attempt++) {
      let live: KObject;
      try {
        live = await api.get(n.namespace || undefined, n.name);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (String(live.metadata?.uid) !== n.uid) return;
      const refs = ownersOf(live);
      const keep = refs.filter((r) => !uids.includes(r.uid));
      if (keep.length === refs.length) return;
      try {
        await api.patch(n.namespace || undefined, n.name, 'merge', { metadata: { resourceVersion: live.metadata.resourceVersion, ownerReferences: keep.length > 0 ? keep : null } });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if ((e as { code?: number }).code !== 409) throw e;
      }
    }
    throw new Error(`removing ownerReferences from ${n.info.resource}/${n.name}: conflicts`);
  }

  private async removeFinalizer(n: GraphNode, finalizer: string): Promise<void> {
    const api = this.api(n.info);
    for (let attempt = 0; attempt < 5; attempt++) {
      let live: KObject;
      try {
        live = await api.get(n.namespace || undefined, n.name);
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (String(live.metadata?.uid) !== n.uid) return;
      const fins: string[] = live.metadata?.finalizers ?? [];
      if (!fins.includes(finalizer)) return;
      try {
        await api.patch(n.namespace || undefined, n.name, 'merge', { metadata: { resourceVersion: live.metadata.resourceVersion, finalizers: fins.filter((f) => f !== finalizer) } });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if ((e as { code?: number }).code !== 409) throw e;
      }
    }
    throw new Error(`removing finalizer ${finalizer} from ${n.info.resource}/${n.name}: conflicts`);
  }
}

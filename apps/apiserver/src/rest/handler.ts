import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import * as am from '@kubets/api-machinery';
import type { Logger } from 'pino';
import type { FieldCause, KObject, ResourceDef } from '../registry/types';
import { CompactedError, type SideEffects, type Store, type Stored } from '../storage/store';
import { TooOldError, type ChangeEvent, type WatchCache } from '../storage/watch-cache';
import type { Allocators } from './allocators';
import { pruneUnknownFields } from './prune';

/**
 * The Kubernetes REST semantics, independent of transport: the HTTPS API and
 * the internal gRPC API both call this. Errors are thrown as StatusError.
 */

export interface Target {
  def: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  limit?: number;
  continue?: string;
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
}

export interface WriteOptions {
  /** The API server's own writes (the kubernetes Endpoints on loopback): skip the type's validation. Never set from a request. */
  system?: boolean;
  dryRun?: boolean;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  fieldManager?: string;
}

export interface WriteResult {
  obj: KObject;
  created?: boolean;
  warnings: string[];
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface DeleteOptions {
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface WatchSink {
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: KObject, ev?: ChangeEvent): void;
  bookmark(rv: string): void;
  /** an ERROR event (410 Expired); the watch is over */
  error(status: am.StatusError): void;
}

const MAX_UPDATE_RETRIES = 16;

export function apiVersionOf(def: { group: string; version: string }): string {
  return def.group ? `${def.group}/${def.version}` : def.version;
}

export function qualifiedResource(def: ResourceDef): string {
  return def.group ? `${def.resource}.${def.group}` : def.resource;
}

export function storageKey(def: ResourceDef, namespace: string | undefined, name: string): string {
  return def.namespaced ? `/registry/${def.resource}/${namespace}/${name}` : `/registry/${def.resource}/${name}`;
}

export function storagePrefix(def: ResourceDef, namespace?: string): string {
  return def.namespaced && namespace ? `/registry/${def.resource}/${namespace}/` : `/registry/${def.resource}/`;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Everything outside metadata and status: what a generation counts. */
function specPart(obj: KObject): KObject {
  const { metadata: _m, status: _s, ...rest } = obj;
  return rest;
}

function podQosClass(pod: KObject): string {
  const containers: KObject[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  let anySet = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) anySet = true;
    for (const r of ['cpu', 'memory']) {
      if (lim[r] === undefined) guaranteed = false;
      else if (req[r] !== undefined && String(req[r]) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!anySet) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Write-time conversions Kubernetes does for some types. */
function normalize(def: ResourceDef, obj: KObject): void {
  if (def.resource === 'secrets' && obj.stringData && typeof obj.stringData === 'object') {
    // stringData is write-only: merged into data, base64-encoded.
    obj.data = { ...(obj.data ?? {}) };
    for (const [k, v] of Object.entries(obj.stringData as Record<string, unknown>)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    delete obj.stringData;
  }
}

export class RestHandler {
  constructor(
    private readonly store: Store,
    private readonly cache: WatchCache,
    private readonly allocators: Allocators,
    private readonly lookupKind: (group: string, kind: string) => ResourceDef | undefined,
    private readonly log: Logger,
  ) {}

  // ---------------------------------------------------------------- reads

  async get(t: Target, opts: { resourceVersion?: string } = {}): Promise<KObject> {
    const name = this.requireName(t);
    const rv = opts.resourceVersion;
    const key = storageKey(t.def, t.namespace, name);
    const s = await this.readOne(key, rv);
    if (!s) throw am.notFound(t.def.group, t.def.resource, name);
    return this.present(t, s.obj);
  }

  /**
   * One object, with Kubernetes' resourceVersion semantics: unset is a
   * consistent read, "0" any cached state, N at least as new as N. Served from
   * the watch cache when it can (a consistent read costs one shared KV
   * revision read), else from the KV.
   */
  private async readOne(key: string, rv: string | undefined): Promise<Stored | undefined> {
    if (rv === '0' && this.cache.isSynced) return this.cache.peek(key);
    if (rv) {
      const n = this.parseRv(rv);
      if (await this.cache.waitUntil(n)) return this.cache.peek(key);
      const cur = await this.store.currentRevision();
      if (n > cur) throw am.timeout(`Too large resource version: ${n}, current: ${cur}`);
      return this.store.get(key);
    }
    if (await this.cache.consistent()) return this.cache.peek(key);
    return this.store.get(key);
  }

  /** A mutable copy of the current object, from the cache when possible (verified by the write's guard). */
  private async current(key: string): Promise<{ s: Stored | undefined; fromCache: boolean }> {
    const c = this.cache.peek(key);
    if (c) return { s: { obj: clone(c.obj), rev: c.rev }, fromCache: true };
    return { s: await this.store.get(key), fromCache: false };
  }

  private present(t: Target, obj: KObject): KObject {
    if (t.subresource === 'scale') return this.toScale(t.def, obj);
    return obj;
  }

  async list(t: Target, opts: ListOptions = {}): Promise<KObject> {
    const filter = this.predicate(t, opts);
    let revision: number | undefined;
    let startKey: string | undefined;
    if (opts.continue) {
      const c = this.parseContinue(opts.continue, t);
      revision = c.rev;
      startKey = c.key;
    } else if (opts.resourceVersion && opts.resourceVersion !== '0') {
      const rv = this.parseRv(opts.resourceVersion);
      if (opts.resourceVersionMatch === 'Exact') revision = rv;
      else {
        // NotOlderThan: the latest state is at least that new, unless rv is from the future.
        const cur = await this.store.currentRevision();
        if (rv > cur) throw am.timeout(`Too large resource version: ${rv}, current: ${cur}`);
      }
    }
    let res: { items: Stored[]; rev: number; continueKey?: string } | undefined;
    if (!opts.continue && opts.resourceVersionMatch !== 'Exact') {
      const rv = opts.resourceVersion;
      const usable = rv === '0' ? this.cache.isSynced : rv ? await this.cache.waitUntil(this.parseRv(rv)) : await this.cache.consistent();
      if (usable) res = this.cache.scan(storagePrefix(t.def, t.namespace), { limit: opts.limit, filter });
    }
    if (!res) {
      try {
        res = await this.store.list(storagePrefix(t.def, t.namespace), {
          revision,
          startKey,
          limit: opts.limit,
          filter,
          serializable: opts.resourceVersion === '0',
        });
      } catch (e) {
        throw this.mapCompacted(e, revision);
      }
    }
    const metadata: KObject = { resourceVersion: String(res.rev) };
    if (res.continueKey) metadata.continue = Buffer.from(JSON.stringify({ v: 'kubets/v1', rv: res.rev, start: res.continueKey })).toString('base64url');
    return {
      kind: t.def.listKind,
      apiVersion: apiVersionOf(t.def),
      metadata,
      items: res.items.map((s) => s.obj),
    };
  }

  private parseContinue(token: string, t: Target): { rev: number; key: string } {
    try {
      const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v: string; rv: number; start: string };
      if (c.v !== 'kubets/v1' || typeof c.rv !== 'number' || typeof c.start !== 'string' || !c.start.startsWith(storagePrefix(t.def, t.namespace))) {
        throw new Error('bad');
      }
      return { rev: c.rv, key: c.start };
    } catch {
      throw am.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
    }
  }

  private parseRv(rv: string): number {
    if (!/^\d{1,18}$/.test(rv)) throw am.badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
    return Number(rv);
  }

  private mapCompacted(e: unknown, rev?: number): unknown {
    if (e instanceof CompactedError) return am.resourceExpired(String(rev ?? 0), String(this.cache.revision));
    return e;
  }

  /** The object filter for label and field selectors. */
  predicate(t: Target, opts: { labelSelector?: string; fieldSelector?: string }): ((o: KObject) => boolean) | undefined {
    const ls = opts.labelSelector ? am.parseSelector(opts.labelSelector) : undefined;
    const fs = opts.fieldSelector ? am.parseFieldSelector(opts.fieldSelector) : undefined;
    if (fs) {
      for (const f of fs.requirements.map((r) => r.field)) {
        if (f === 'metadata.name' || f === 'metadata.namespace') continue;
        if (!this.fieldSupported(t.def, f)) throw am.badRequest(`field label not supported: ${f}`);
      }
    }
    if ((!ls || ls.empty()) && !fs) return undefined;
    return (o: KObject) => {
      if (ls && !ls.matches(o.metadata?.labels ?? {})) return false;
      if (fs) {
        const fields = { 'metadata.name': o.metadata?.name ?? '', 'metadata.namespace': o.metadata?.namespace ?? '', ...t.def.selectableFields(o) };
        if (!fs.matches(fields)) return false;
      }
      return true;
    };
  }

  private fieldSupported(def: ResourceDef, field: string): boolean {
    const probe = def.selectableFields({ metadata: {}, spec: {}, status: {}, involvedObject: {}, source: {} });
    return Object.prototype.hasOwnProperty.call(probe, field);
  }

  // ---------------------------------------------------------------- watch

  /**
   * Kubernetes watch semantics: resourceVersion unset or "0" starts with an
   * ADDED event per current object; N delivers every change after N; a
   * version older than the history kept gets an ERROR event with 410 Expired.
   */
  async watch(t: Target, opts: ListOptions, sink: WatchSink): Promise<() => void> {
    const filter = this.predicate(t, opts);
    const prefix = t.name ? storageKey(t.def, t.namespace, t.name) : storagePrefix(t.def, t.namespace);
    const exactKey = t.name ? prefix : undefined;
    let from: number;
    if (!opts.resourceVersion || opts.resourceVersion === '0') {
      const f = (o: KObject) => (!exactKey || o.metadata?.name === t.name) && (!filter || filter(o));
      const usable = opts.resourceVersion === '0' ? this.cache.isSynced : await this.cache.consistent();
      const list = usable ? this.cache.scan(storagePrefix(t.def, t.namespace), { filter: f }) : await this.store.list(storagePrefix(t.def, t.namespace), { filter: f });
      for (const s of list.items) sink.event('ADDED', s.obj);
      from = list.rev;
    } else {
      from = this.parseRv(opts.resourceVersion);
    }
    const deliver = (events: ChangeEvent[]) => {
      for (const ev of events) {
        if (exactKey && ev.key !== exactKey) continue;
        if (!filter) {
          sink.event(ev.type, ev.obj, ev);
          continue;
        }
        const now = ev.type !== 'DELETED' && filter(ev.obj);
        const before = ev.prev !== undefined && filter(ev.prev);
        if (ev.type === 'DELETED') {
          if (before) sink.event('DELETED', ev.obj, ev);
        } else if (now && before) sink.event('MODIFIED', ev.obj, ev);
        else if (now) sink.event('ADDED', ev.obj, ev);
        else if (before) {
          const gone = clone(ev.prev!);
          gone.metadata.resourceVersion = String(ev.rev);
          sink.event('DELETED', gone);
        }
      }
    };
    let cancel: () => void;
    try {
      cancel = this.cache.subscribe(prefix, from, deliver, (err) => sink.error(am.resourceExpired(String(err.requested), String(err.oldest))));
    } catch (e) {
      if (e instanceof TooOldError) {
        sink.error(am.resourceExpired(String(e.requested), String(e.oldest)));
        return () => {};
      }
      throw e;
    }
    let bookmarkTimer: NodeJS.Timeout | undefined;
    if (opts.allowWatchBookmarks) {
      bookmarkTimer = setInterval(() => sink.bookmark(String(this.cache.revision)), 10_000);
      bookmarkTimer.unref();
    }
    return () => {
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      cancel();
    };
  }

  // ---------------------------------------------------------------- writes

  async create(t: Target, body: KObject, opts: WriteOptions = {}): Promise<WriteResult> {
    const def = t.def;
    if (t.subresource === 'binding' && def.resource === 'pods') return this.bind(t, body, opts);
    if (t.subresource) throw am.methodNotAllowed(`the server does not allow this method on the requested resource`);
    const obj = this.decodeBody(def, body, opts);
    const meta = obj.metadata as KObject;
    if (def.namespaced) {
      if (meta.namespace && t.namespace && meta.namespace !== t.namespace) {
        throw am.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = t.namespace ?? meta.namespace ?? 'default';
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${am.generateNameSuffix()}`;
    if (t.name && meta.name && meta.name !== t.name) throw am.badRequest('the name of the object does not match the name on the URL');
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRfc3339();
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    delete meta.selfLink;
    if (def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    normalize(def, obj);
    def.defaults(obj);
    this.prepareStatusOnCreate(def, obj);
    this.validate(def, obj, undefined, opts.system);
    if (def.namespaced) await this.checkNamespace(meta.namespace, def, meta.name);
    for (let attempt = 0; ; attempt++) {
      const side: SideEffects = await this.allocators.forCreate(def, obj);
      const warnings: string[] = obj.__warnings ?? [];
      if (opts.dryRun) return { obj, created: true, warnings };
      const r = await this.store.create(storageKey(def, meta.namespace, meta.name), obj, side);
      if ('rev' in r) {
        meta.resourceVersion = String(r.rev);
        return { obj, created: true, warnings };
      }
      if (r.exists === 'object') throw am.alreadyExists(def.group, def.resource, meta.name);
      if (attempt >= MAX_UPDATE_RETRIES) throw am.internal('could not allocate: too much contention');
      this.allocators.invalidate();
    }
  }

  private prepareStatusOnCreate(def: ResourceDef, obj: KObject): void {
    if (!def.hasStatus) return;
    switch (def.resource) {
      case 'pods':
        obj.status = { phase: 'Pending', qosClass: podQosClass(obj) };
        break;
      case 'nodes':
      case 'namespaces':
        break; // the kubelet registers a node with its status; namespaces default their phase
      default:
        obj.status = {};
    }
  }

  private decodeBody(def: ResourceDef, body: KObject, opts: WriteOptions, expectKind?: { group: string; version: string; kind: string }): KObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw am.badRequest('the body of the request must be a JSON or YAML object');
    const want = expectKind ?? def;
    const apiVersion = apiVersionOf(want);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
      throw am.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== want.kind) {
      throw am.badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${want.kind})`);
    }
    const obj = clone(body);
    obj.apiVersion = apiVersion;
    obj.kind = want.kind;
    if (obj.metadata === undefined || obj.metadata === null) obj.metadata = {};
    if (typeof obj.metadata !== 'object' || Array.isArray(obj.metadata)) throw am.badRequest('metadata must be an object');
    if (!expectKind) {
      const unknown = pruneUnknownFields(obj, def.schema);
      if (unknown.length > 0) {
        if (opts.fieldValidation === 'Strict') throw am.badRequest(`strict decoding error: ${unknown.join(', ')}`);
        if (opts.fieldValidation !== 'Ignore') Object.defineProperty(obj, '__warnings', { value: unknown, enumerable: false });
      }
      const typeCauses = am.checkTypes(obj, def.schema);
      if (typeCauses.length > 0) throw am.invalid(def.group, def.kind, String(obj.metadata?.name ?? ''), typeCauses);
    }
    return obj;
  }

  private validate(def: ResourceDef, obj: KObject, old?: KObject, system = false): void {
    const causes: FieldCause[] = [
      ...(am.validateObjectMetaCommon(obj.metadata, { namespaced: def.namespaced, nameValidator: this.nameValidator(def) }) as FieldCause[]),
      ...(system ? [] : def.validate(obj, old)),
    ];
    if (old) {
      for (const f of ['name', 'namespace', 'uid', 'creationTimestamp'] as const) {
        if (obj.metadata[f] !== old.metadata[f]) causes.push({ reason: 'FieldValueInvalid', field: `metadata.${f}`, message: `Invalid value: ${JSON.stringify(obj.metadata[f] ?? '')}: field is immutable` });
      }
    }
    if (causes.length > 0) throw am.invalid(def.group, def.kind, String(obj.metadata?.name ?? ''), causes);
  }

  private nameValidator(def: ResourceDef): ((name: string) => string[]) | undefined {
    switch (def.resource) {
      case 'namespaces':
      case 'services':
        return def.resource === 'services' ? am.isDNS1035Label : am.isDNS1123Label;
      default:
        return undefined;
    }
  }

  /**
   * Namespaces known from the watch cache (kube-apiserver's NamespaceLifecycle
   * admission uses an informer the same way): most creates need no extra KV read.
   */
  private namespaces: Map<string, boolean> | undefined;

  async startNamespaceCache(): Promise<void> {
    const l = await this.store.list('/registry/namespaces/');
    const m = new Map<string, boolean>();
    for (const s of l.items) m.set(s.obj.metadata.name, !!(s.obj.metadata.deletionTimestamp || s.obj.status?.phase === 'Terminating'));
    const follow = (from: number) => {
      try {
        this.cache.subscribe('/registry/namespaces/', from, (events) => {
          for (const ev of events) {
            if (ev.type === 'DELETED') m.delete(ev.obj.metadata.name);
            else m.set(ev.obj.metadata.name, !!(ev.obj.metadata.deletionTimestamp || ev.obj.status?.phase === 'Terminating'));
          }
        }, () => {
          this.namespaces = undefined;
          void this.startNamespaceCache().catch(() => {});
        });
        this.namespaces = m;
      } catch {
        this.namespaces = undefined;
      }
    };
    follow(l.rev);
  }

  private async checkNamespace(ns: string, def: ResourceDef, name: string): Promise<void> {
    const known = this.namespaces?.get(ns);
    if (known === false) return;
    const s = await this.store.get(`/registry/namespaces/${ns}`);
    if (!s) throw am.notFound('', 'namespaces', ns);
    if (s.obj.metadata?.deletionTimestamp || s.obj.status?.phase === 'Terminating') {
      throw am.forbidden(def.group, def.resource, name, `unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }

  async update(t: Target, body: KObject, opts: WriteOptions = {}): Promise<WriteResult> {
    const name = this.requireName(t);
    const def = t.def;
    if (t.subresource === 'scale') return this.updateScale(t, () => body, opts);
    if (t.subresource && t.subresource !== 'status' && !(def.resource === 'namespaces' && t.subresource === 'finalize')) {
      throw am.methodNotAllowed('the server does not allow this method on the requested resource');
    }
    const obj = this.decodeBody(def, body, opts);
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      throw am.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    const precondition = obj.metadata.resourceVersion ? this.parseRv(String(obj.metadata.resourceVersion)) : undefined;
    return this.guaranteedUpdate(t, precondition, () => obj, opts);
  }

  async patch(t: Target, type: PatchType, patch: unknown, opts: WriteOptions = {}): Promise<WriteResult> {
    const def = t.def;
    const apply = (current: KObject): KObject => {
      let next: unknown;
      switch (type) {
        case 'merge':
          next = am.applyMergePatch(current, patch);
          break;
        case 'json':
          if (!Array.isArray(patch)) throw am.badRequest('json patch must be a JSON array of operations');
          next = am.applyJsonPatch(current, patch);
          break;
        case 'strategic':
          next = am.applyStrategicMergePatch(current, patch, t.subresource === 'scale' ? SCALE_SCHEMA : def.schema);
          break;
      }
      if (next === null || typeof next !== 'object' || Array.isArray(next)) throw am.badRequest('the patch did not produce an object');
      return next as KObject;
    };
    if (t.subresource === 'scale') return this.updateScale(t, apply, opts);
    const precondition = (() => {
      const rv = (patch as KObject | null)?.metadata?.resourceVersion;
      return typeof rv === 'string' && rv ? this.parseRv(rv) : undefined;
    })();
    return this.guaranteedUpdate(t, precondition, (cur) => this.decodeBody(def, apply(cur), opts), opts);
  }

  /**
   * Read, compute, write guarded by the revision read; on a lost race retry
   * with the fresh object, unless the client sent a resourceVersion, which
   * then no longer matches: 409 Conflict.
   */
  private async guaranteedUpdate(t: Target, precondition: number | undefined, compute: (current: KObject) => KObject, opts: WriteOptions): Promise<WriteResult> {
    const def = t.def;
    const name = this.requireName(t);
    const key = storageKey(def, t.namespace, name);
    let { s: cur, fromCache } = await this.current(key);
    for (let attempt = 0; ; attempt++) {
      if (fromCache && (!cur || (precondition !== undefined && precondition !== cur.rev))) {
        // The cache may lag: decide on the KV's word.
        cur = await this.store.get(key);
        fromCache = false;
      }
      if (!cur) throw am.notFound(def.group, def.resource, name);
      if (precondition !== undefined && precondition !== cur.rev) {
        throw am.conflict(def.group, def.resource, name, am.OPTIMISTIC_LOCK_MESSAGE);
      }
      const old = cur.obj;
      const incoming = compute(clone(old));
      const obj = this.prepareUpdate(t, old, incoming);
      normalize(def, obj);
      def.defaults(obj);
      this.validate(def, obj, old, opts.system);
      const finalizing = obj.metadata.deletionTimestamp && (obj.metadata.finalizers ?? []).length === 0;
      const side = finalizing ? this.allocators.forDelete(def, old) : await this.allocators.forUpdate(def, obj, old);
      if (opts.dryRun) return { obj, warnings: [] };
      if (isDeepStrictEqual(obj, old)) {
        if (fromCache) {
          // A no-op against a possibly stale copy: check with the KV.
          cur = await this.store.get(key);
          fromCache = false;
          continue;
        }
        return { obj: old, warnings: [] };
      }
      const r = finalizing ? await this.store.delete(key, cur.rev, side) : await this.store.update(key, obj, cur.rev, side);
      if ('rev' in r) {
        obj.metadata.resourceVersion = String(r.rev);
        return { obj, warnings: incoming.__warnings ?? [] };
      }
      if (attempt >= MAX_UPDATE_RETRIES) throw am.conflict(def.group, def.resource, name, am.OPTIMISTIC_LOCK_MESSAGE);
      if (r.side) this.allocators.invalidate();
      cur = r.current;
      fromCache = false;
    }
  }

  /** What an update may change, per endpoint (main resource, /status, /finalize). */
  private prepareUpdate(t: Target, old: KObject, incoming: KObject): KObject {
    const def = t.def;
    let obj: KObject;
    if (t.subresource === 'status') {
      obj = clone(old);
      obj.status = incoming.status;
    } else if (t.subresource === 'binding') {
      // pods/binding: the scheduler's write, spec.nodeName and the PodScheduled condition only.
      obj = clone(old);
      obj.spec = { ...old.spec, nodeName: incoming.spec?.nodeName };
      obj.status = incoming.status;
    } else if (t.subresource === 'finalize') {
      obj = clone(old);
      obj.spec = { ...(old.spec ?? {}), finalizers: incoming.spec?.finalizers ?? [] };
    } else {
      obj = incoming;
      if (def.hasStatus) {
        if (old.status === undefined) delete obj.status;
        else obj.status = clone(old.status);
      }
    }
    const meta = obj.metadata;
    const oldMeta = old.metadata;
    if (t.subresource === undefined) {
      // Server-owned metadata.
      for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds'] as const) {
        if (meta[f] === undefined || f === 'deletionTimestamp' || f === 'deletionGracePeriodSeconds') {
          if (oldMeta[f] === undefined) delete meta[f];
          else meta[f] = oldMeta[f];
        }
      }
      if (meta.namespace === undefined && oldMeta.namespace !== undefined) meta.namespace = oldMeta.namespace;
      if (meta.name === undefined) meta.name = oldMeta.name;
      delete meta.managedFields;
      if (oldMeta.deletionTimestamp) {
        const added = (meta.finalizers ?? []).filter((f: string) => !(oldMeta.finalizers ?? []).includes(f));
        if (added.length > 0) {
          throw am.forbidden(def.group, def.resource, oldMeta.name, `no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`);
        }
      }
    }
    delete meta.resourceVersion;
    if (def.tracksGeneration) {
      const gen = Number(oldMeta.generation ?? 1);
      meta.generation = t.subresource === undefined && !isDeepStrictEqual(specPart(obj), specPart(old)) ? gen + 1 : gen;
    } else {
      delete meta.generation;
    }
    return obj;
  }

  async delete(t: Target, opts: DeleteOptions = {}): Promise<{ obj: KObject; finished: boolean }> {
    const def = t.def;
    const name = this.requireName(t);
    if (t.subresource) throw am.methodNotAllowed('the server does not allow this method on the requested resource');
    const key = storageKey(def, t.namespace, name);
    let { s: cur, fromCache } = await this.current(key);
    for (let attempt = 0; ; attempt++) {
      const pre = opts.preconditions;
      if (fromCache && (!cur || (pre?.resourceVersion && pre.resourceVersion !== String(cur.rev)) || (pre?.uid && pre.uid !== cur.obj.metadata.uid))) {
        cur = await this.store.get(key);
        fromCache = false;
      }
      if (!cur) throw am.notFound(def.group, def.resource, name);
      if (pre?.uid && pre.uid !== cur.obj.metadata.uid) {
        throw am.conflict(def.group, def.resource, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.obj.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== String(cur.rev)) {
        throw am.conflict(def.group, def.resource, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${cur.rev}`);
      }
      const old = cur.obj;
      const graceful = this.gracefulDelete(def, old, opts);
      if (graceful) {
        if (opts.dryRun) return { obj: graceful, finished: false };
        if (isDeepStrictEqual(graceful, old)) {
          if (fromCache) {
            cur = await this.store.get(key);
            fromCache = false;
            continue;
          }
          return { obj: old, finished: false };
        }
        const r = await this.store.update(key, graceful, cur.rev);
        if ('rev' in r) {
          graceful.metadata.resourceVersion = String(r.rev);
          return { obj: graceful, finished: false };
        }
        cur = r.current;
        fromCache = false;
      } else {
        if (opts.dryRun) return { obj: old, finished: true };
        const r = await this.store.delete(key, cur.rev, this.allocators.forDelete(def, old));
        if ('rev' in r) {
          old.metadata.resourceVersion = String(r.rev);
          return { obj: old, finished: true };
        }
        cur = r.current;
        fromCache = false;
      }
      if (attempt >= MAX_UPDATE_RETRIES) throw am.conflict(def.group, def.resource, name, am.OPTIMISTIC_LOCK_MESSAGE);
    }
  }

  /**
   * The object after a delete request when it cannot go at once (finalizers,
   * Foreground/Orphan propagation, a pod on a node with a grace period), or
   * undefined to delete it now.
   */
  private gracefulDelete(def: ResourceDef, old: KObject, opts: DeleteOptions): KObject | undefined {
    const obj = clone(old);
    const meta = obj.metadata;
    const finalizers: string[] = [...(meta.finalizers ?? [])];
    const policy = opts.propagationPolicy;
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (policy === 'Background') {
      const i = finalizers.indexOf('orphan');
      if (i >= 0 && !old.metadata.deletionTimestamp) finalizers.splice(i, 1);
    }
    let grace = 0;
    if (def.resource === 'pods' && old.spec?.nodeName && old.status?.phase !== 'Succeeded' && old.status?.phase !== 'Failed') {
      grace = opts.gracePeriodSeconds ?? Number(old.spec?.terminationGracePeriodSeconds ?? 30);
      if (grace < 0) grace = 0;
    }
    const namespaceFinalizers = def.resource === 'namespaces' ? (old.spec?.finalizers ?? []) : [];
    if (finalizers.length === 0 && grace === 0 && namespaceFinalizers.length === 0) return undefined;
    if (finalizers.length > 0) meta.finalizers = finalizers;
    if (!meta.deletionTimestamp) {
      meta.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      meta.deletionGracePeriodSeconds = grace;
    } else if (grace < Number(meta.deletionGracePeriodSeconds ?? Infinity)) {
      meta.deletionGracePeriodSeconds = grace;
    }
    if (def.resource === 'namespaces') obj.status = { ...(obj.status ?? {}), phase: 'Terminating' };
    return obj;
  }

  async deleteCollection(t: Target, list: ListOptions, opts: DeleteOptions): Promise<KObject> {
    const l = await this.list(t, list);
    for (const item of l.items as KObject[]) {
      try {
        await this.delete({ ...t, namespace: item.metadata.namespace, name: item.metadata.name }, opts);
      } catch (e) {
        if (!(am.isStatusError(e) && e.code === 404)) throw e;
      }
    }
    return l;
  }

  // ---------------------------------------------------------------- subresources

  private async bind(t: Target, body: KObject, opts: WriteOptions): Promise<WriteResult> {
    const podName = body?.metadata?.name ?? t.name;
    const node = body?.target?.name;
    if (!podName) throw am.badRequest('binding must name the pod');
    if (body?.target?.kind && body.target.kind !== 'Node') throw am.invalid('', 'Binding', podName, [{ reason: 'FieldValueNotSupported', field: 'target.kind', message: `Unsupported value: ${JSON.stringify(body.target.kind)}: supported values: "Node"` }]);
    if (!node) throw am.invalid('', 'Binding', podName, [{ reason: 'FieldValueRequired', field: 'target.name', message: 'Required value' }]);
    const r = await this.guaranteedUpdate({ def: t.def, namespace: t.namespace, name: podName, subresource: 'binding' }, undefined, (pod) => {
      if (pod.metadata.deletionTimestamp) throw am.conflict('', 'pods', podName, 'pod is being deleted, cannot be assigned to a host');
      if (pod.spec?.nodeName) throw am.conflict('', 'pods', podName, `pod ${podName} is already assigned to node "${pod.spec.nodeName}"`);
      pod.spec.nodeName = node;
      const conditions: KObject[] = (pod.status.conditions ??= []);
      const now = nowRfc3339();
      const i = conditions.findIndex((c) => c.type === 'PodScheduled');
      const cond = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
      if (i >= 0) conditions[i] = cond;
      else conditions.push(cond);
      return pod;
    }, opts);
    void r;
    return { obj: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }, created: true, warnings: [] };
  }

  private toScale(def: ResourceDef, obj: KObject): KObject {
    const sel = obj.spec?.selector ? am.selectorFromLabelSelector(obj.spec.selector).toString() : '';
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: obj.spec?.replicas ?? 0 },
      status: { replicas: obj.status?.replicas ?? 0, selector: sel },
    };
  }

  private async updateScale(t: Target, compute: (scale: KObject) => KObject, opts: WriteOptions): Promise<WriteResult> {
    const def = t.def;
    const name = this.requireName(t);
    let precondition: number | undefined;
    const r = await this.guaranteedUpdate({ ...t, subresource: undefined }, undefined, (cur) => {
      const scale = compute(this.toScale(def, cur));
      if (scale.kind !== undefined && scale.kind !== 'Scale') throw am.badRequest(`the kind in the data (${scale.kind}) does not match the expected kind (Scale)`);
      const rv = scale.metadata?.resourceVersion;
      if (rv && rv !== cur.metadata.resourceVersion) {
        precondition = Number(rv);
        throw am.conflict(def.group, def.resource, name, am.OPTIMISTIC_LOCK_MESSAGE);
      }
      const replicas = scale.spec?.replicas;
      if (!Number.isInteger(replicas) || replicas < 0) {
        throw am.invalid('autoscaling', 'Scale', name, [{ reason: 'FieldValueInvalid', field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
      }
      cur.spec = { ...cur.spec, replicas };
      return cur;
    }, opts);
    void precondition;
    return { obj: this.toScale(def, r.obj), warnings: r.warnings };
  }

  private requireName(t: Target): string {
    if (!t.name) throw am.methodNotAllowed('the server does not allow this method on the requested resource');
    return t.name;
  }

  get kindLookup(): (group: string, kind: string) => ResourceDef | undefined {
    return this.lookupKind;
  }

  get logger(): Logger {
    return this.log;
  }
}

/** autoscaling/v1 Scale, for strategic merge patches of /scale. */
const SCALE_SCHEMA: am.Schema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', properties: {}, preserveUnknownFields: true },
    spec: { type: 'object', properties: { replicas: { type: 'integer' } } },
    status: { type: 'object', properties: { replicas: { type: 'integer' }, selector: { type: 'string' } } },
  },
};

import { parseSelector, selectorFromSet, Selector } from '@kubets/api-machinery';
import { objectKey, type KObject } from './types';

/** The index values of an object (client-go's IndexFunc): e.g. its namespace, each `key=value` label. */
export type IndexFunc<T extends KObject = KObject> = (obj: T) => string[];

export const NAMESPACE_INDEX = 'namespace';
export const LABEL_INDEX = 'label';
export const NODE_INDEX = 'node';

/** metadata.namespace ('' for cluster-scoped objects). */
export const namespaceIndexFunc: IndexFunc = (o) => [String(o.metadata?.namespace ?? '')];
/** One `key=value` per label. */
export const labelIndexFunc: IndexFunc = (o) => Object.entries((o.metadata?.labels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`);
/** spec.nodeName (pods), when set. */
export const nodeIndexFunc: IndexFunc = (o) => (typeof o.spec?.nodeName === 'string' && o.spec.nodeName ? [o.spec.nodeName] : []);

export type SelectorQuery = string | Selector | Record<string, string>;

export interface StoreQuery<T extends KObject = KObject> {
  namespace?: string;
  /** a label selector: its string form (`app=web,tier!=db`), a parsed Selector, or a set of labels to match */
  selector?: SelectorQuery;
  filter?: (obj: T) => boolean;
}

function toSelector(s: SelectorQuery): Selector {
  if (typeof s === 'string') return parseSelector(s);
  if (s instanceof Selector) return s;
  return selectorFromSet(s);
}

/**
 * An informer's local cache (client-go's thread-safe store plus indexer):
 * objects by `namespace/name` key (`name` for cluster-scoped objects), with
 * indexes kept up to date on every change. Built-in indexes: `namespace`,
 * `label` (values `key=value`) and `node` (spec.nodeName); add your own with
 * `addIndexers`. Objects handed out are the cached ones: do not mutate them
 * (copy with structuredClone before changing).
 */
export class Store<T extends KObject = KObject> {
  private readonly items = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  private readonly indices = new Map<string, Map<string, Set<string>>>();
  /** index values of each object, per index, as last indexed */
  private readonly indexed = new Map<string, Map<string, string[]>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndexers({ [NAMESPACE_INDEX]: namespaceIndexFunc, [LABEL_INDEX]: labelIndexFunc, [NODE_INDEX]: nodeIndexFunc, ...indexers } as Record<string, IndexFunc<T>>);
  }

  /** Adds indexes (built over the objects already cached). Replacing an existing index is refused. */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      if (this.indexers.has(name)) {
        if (this.indexers.get(name) === fn) continue;
        throw new Error(`indexer ${JSON.stringify(name)} already exists`);
      }
      this.indexers.set(name, fn);
      this.indices.set(name, new Map());
      for (const [key, obj] of this.items) this.indexOne(name, fn, key, obj);
    }
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  get size(): number {
    return this.items.size;
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  /** Every object, or those matching a namespace, a label selector and a filter. */
  list(q: StoreQuery<T> = {}): T[] {
    let keys: Iterable<string> | undefined;
    if (q.namespace !== undefined) keys = this.indices.get(NAMESPACE_INDEX)!.get(q.namespace) ?? [];
    const sel = q.selector !== undefined ? toSelector(q.selector) : undefined;
    if (sel?.matchesNothing()) return [];
    if (sel) {
      // Narrow through the label index on one exactly-required label.
      for (const r of sel.requirements) {
        const v = sel.requiresExactMatch(r.key);
        if (v === undefined) continue;
        const byLabel = this.indices.get(LABEL_INDEX)!.get(`${r.key}=${v}`) ?? new Set<string>();
        if (keys === undefined) keys = byLabel;
        else {
          const ns = keys instanceof Set ? keys : new Set(keys);
          keys = [...byLabel].filter((k) => ns.has(k));
        }
        break;
      }
    }
    const out: T[] = [];
    const source: Iterable<string> = keys ?? this.items.keys();
    for (const k of source) {
      const o = this.items.get(k);
      if (!o) continue;
      if (q.namespace !== undefined && String(o.metadata?.namespace ?? '') !== q.namespace) continue;
      if (sel && !sel.empty() && !sel.matches(o.metadata?.labels)) continue;
      if (q.filter && !q.filter(o)) continue;
      out.push(o);
    }
    return out;
  }

  /** The objects whose index `index` has the value `value` (client-go's ByIndex). */
  byIndex(index: string, value: string): T[] {
    return this.indexKeys(index, value).map((k) => this.items.get(k)!);
  }

  /** The keys of the objects whose index `index` has the value `value`. */
  indexKeys(index: string, value: string): string[] {
    const idx = this.indices.get(index);
    if (!idx) throw new Error(`index ${JSON.stringify(index)} does not exist`);
    return [...(idx.get(value) ?? [])];
  }

  /** Every value index `index` has (client-go's ListIndexFuncValues). */
  indexValues(index: string): string[] {
    const idx = this.indices.get(index);
    if (!idx) throw new Error(`index ${JSON.stringify(index)} does not exist`);
    return [...idx.keys()];
  }

  /** @internal */
  set(obj: T, key = objectKey(obj)): void {
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) this.indexOne(name, fn, key, obj);
  }

  /** @internal */
  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.items.delete(key);
    const mine = this.indexed.get(key);
    if (mine) {
      for (const [name, values] of mine) this.unindex(name, key, values);
      this.indexed.delete(key);
    }
    return old;
  }

  private indexOne(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    let values: string[];
    try {
      values = [...new Set(fn(obj) ?? [])];
    } catch {
      values = [];
    }
    let mine = this.indexed.get(key);
    if (!mine) this.indexed.set(key, (mine = new Map()));
    const before = mine.get(name);
    if (before) this.unindex(name, key, before);
    const idx = this.indices.get(name)!;
    for (const v of values) {
      let set = idx.get(v);
      if (!set) idx.set(v, (set = new Set()));
      set.add(key);
    }
    mine.set(name, values);
  }

  private unindex(name: string, key: string, values: string[]): void {
    const idx = this.indices.get(name)!;
    for (const v of values) {
      const set = idx.get(v);
      if (!set) continue;
      set.delete(key);
      if (set.size === 0) idx.delete(v);
    }
  }
}

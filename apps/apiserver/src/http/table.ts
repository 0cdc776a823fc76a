import { humanDuration } from '@kubets/api-machinery';
import type { KObject, ResourceDef, TableColumn } from '../registry/types';

export type IncludeObject = 'None' | 'Metadata' | 'Object';

const DEFAULT_COLUMNS: TableColumn[] = [
  { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
  { name: 'Created At', type: 'date', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 },
];

function rowObject(obj: KObject, include: IncludeObject): KObject | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

function cellsFor(def: ResourceDef | undefined, obj: KObject, now: number): unknown[] {
  if (def?.table) return def.table.row(obj, now);
  const ts = obj.metadata?.creationTimestamp;
  return [obj.metadata?.name ?? '', ts ?? '<unknown>'];
}

export function columnsFor(def: ResourceDef | undefined): TableColumn[] {
  return def?.table?.columns ?? DEFAULT_COLUMNS;
}

/** A meta.k8s.io/v1 Table of the given objects, as kube-apiserver answers `kubectl get`. */
export function toTable(def: ResourceDef | undefined, objs: KObject[], opts: { resourceVersion?: string; continue?: string; include?: IncludeObject; noHeaders?: boolean } = {}): KObject {
  const now = Date.now();
  const include = opts.include ?? 'Metadata';
  const metadata: KObject = {};
  if (opts.resourceVersion) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue) metadata.continue = opts.continue;
  const table: KObject = {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: opts.noHeaders ? null : columnsFor(def),
    rows: objs.map((o) => {
      const row: KObject = { cells: cellsFor(def, o, now) };
      const ro = rowObject(o, include);
      if (ro) row.object = ro;
      return row;
    }),
  };
  return table;
}

export { humanDuration };

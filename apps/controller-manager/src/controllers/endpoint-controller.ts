// The Endpoints controller (pkg/controller/endpoint) and the EndpointSlice
// controller (pkg/controller/endpointslice) wired to the cluster. Both queue
// Service keys (`ns/name`): Service add/update/delete, pod add/update/delete
// mapped to every Service in the namespace selecting the pod (old and new
// labels), and deletions of the objects they manage. Services without a
// selector are left alone (the API server manages `default/kubernetes`).
import { isNotFound, type Client, type Informer, type Logger, type WorkQueueMetrics } from '@kubets/client';
import { desiredEndpoints, desiredSlices, endpointsChanged, ENDPOINTSLICE_CONTROLLER_NAME, hasSelector, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, planSlices, serviceSelects } from '../endpoints/endpoints';
import { keyOf, nameOf, namespaceOf, type KObject } from '../util/k8s';
import { QueueController } from './queue-controller';

export interface EndpointControllerOptions {
  client: Client;
  services: Informer<any>;
  pods: Informer<any>;
  workers: number;
  log: Logger;
  metrics?: WorkQueueMetrics;
}

/** Service keys a pod change concerns (getPodServiceMemberships for the old and new pod). */
function registerServiceHandlers(c: QueueController & { enqueue(k: string): void }, services: Informer<any>, pods: Informer<any>): void {
  services.addEventHandler({
    onAdd: (s) => c.enqueue(keyOf(s)),
    onUpdate: (_o, s) => c.enqueue(keyOf(s)),
    onDelete: (s) => c.enqueue(keyOf(s)),
  });
  const forPod = (pod: KObject | undefined, keys: Set<string>) => {
    if (!pod) return;
    for (const svc of services.list({ namespace: namespaceOf(pod) }) as KObject[]) if (serviceSelects(svc, pod)) keys.add(keyOf(svc));
  };
  const onPod = (old: KObject | undefined, cur: KObject | undefined) => {
    const keys = new Set<string>();
    forPod(old, keys);
    forPod(cur, keys);
    for (const k of keys) c.enqueue(k);
  };
  pods.addEventHandler({
    onAdd: (p) => onPod(undefined, p),
    onUpdate: (o, p) => {
      // Resyncs and status-only noise: only what the endpoints depend on matters.
      const sig = (x: KObject) =>
        JSON.stringify([x?.metadata?.labels, x?.status?.podIP, x?.status?.phase, x?.spec?.nodeName, x?.metadata?.deletionTimestamp, (x?.status?.conditions ?? []).find((c: KObject) => c?.type === 'Ready')?.status, x?.spec?.hostname, x?.spec?.subdomain]);
      if (sig(o) !== sig(p)) onPod(o, p);
    },
    onDelete: (p) => onPod(p, undefined),
  });
}

export class EndpointController extends QueueController {
  constructor(
    private readonly o: EndpointControllerOptions & { endpoints: Informer<any> },
  ) {
    super('endpoint', o.workers, o.log, o.metrics);
    registerServiceHandlers(this, o.services, o.pods);
    // An Endpoints object deleted behind our back is recreated.
    o.endpoints.addEventHandler({ onDelete: (ep) => (o.services.get(keyOf(ep)) ? this.enqueue(keyOf(ep)) : undefined) });
  }

  protected allKeys(): string[] {
    return this.o.services.keys();
  }

  protected async sync(key: string): Promise<void> {
    const svc = this.o.services.get(key) as KObject | undefined;
    const [ns, name] = key.includes('/') ? key.split('/', 2) as [string, string] : ['', key];
    const existing = this.o.endpoints.get(key) as KObject | undefined;
    if (!svc) {
      // The Service is gone: delete its Endpoints (kube's controller deletes them; they carry no ownerReferences).
      if (existing && existing.metadata?.labels?.['endpointslice.kubernetes.io/skip-mirror'] === 'true') {
        await this.o.client.endpoints.delete(ns, name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
      }
      return;
    }
    if (!hasSelector(svc) || svc.metadata?.deletionTimestamp) return;
    const pods = this.o.pods.list({ namespace: ns }) as KObject[];
    const desired = desiredEndpoints(svc, pods, existing);
    if (existing && !endpointsChanged(existing, desired)) return;
    if (existing) {
      await this.o.client.endpoints.update(ns, desired);
      return;
    }
    // AlreadyExists (the informer lags) is thrown: retried with back-off against the stored object.
    await this.o.client.endpoints.create(ns, desired);
  }
}

export class EndpointSliceController extends QueueController {
  constructor(
    private readonly o: EndpointControllerOptions & { endpointSlices: Informer<any> },
  ) {
    super('endpointslice', o.workers, o.log, o.metrics);
    registerServiceHandlers(this, o.services, o.pods);
    o.endpointSlices.addEventHandler({
      onDelete: (s) => {
        const svcName = s?.metadata?.labels?.[LABEL_SERVICE_NAME];
        if (svcName && s?.metadata?.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME) this.enqueue(`${namespaceOf(s)}/${svcName}`);
      },
    });
  }

  protected allKeys(): string[] {
    return this.o.services.keys();
  }

  private slicesOf(ns: string, svcName: string): KObject[] {
    return (this.o.endpointSlices.list({ namespace: ns }) as KObject[]).filter(
      (s) => s?.metadata?.labels?.[LABEL_SERVICE_NAME] === svcName && s?.metadata?.labels?.[LABEL_MANAGED_BY] === ENDPOINTSLICE_CONTROLLER_NAME && !s?.metadata?.deletionTimestamp,
    );
  }

  protected async sync(key: string): Promise<void> {
    const svc = this.o.services.get(key) as KObject | undefined;
    const [ns, name] = key.includes('/') ? key.split('/', 2) as [string, string] : ['', key];
    const existing = this.slicesOf(ns, name);
    const slices = this.o.client.endpointSlices;
    const del = (n: string) => slices.delete(ns, n).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (!svc || svc.metadata?.deletionTimestamp) {
      // The garbage collector would follow the ownerReferences too; the controller does not wait for it.
      await Promise.all(existing.map((s) => del(nameOf(s))));
      return;
    }
    if (!hasSelector(svc)) return;
    const pods = this.o.pods.list({ namespace: ns }) as KObject[];
    const plan = planSlices(svc, existing.filter((s) => (s.metadata?.ownerReferences ?? []).every((r: KObject) => r.uid === svc.metadata?.uid)), desiredSlices(svc, pods));
    // Slices of an earlier Service with the same name (another uid) go.
    const stale = existing.filter((s) => (s.metadata?.ownerReferences ?? []).some((r: KObject) => r.uid !== svc.metadata?.uid)).map(nameOf);
    for (const s of plan.create) await slices.create(ns, s);
    // A 404/409 (the cache lags) is thrown: the key is retried with back-off.
    for (const s of plan.update) await slices.update(ns, s);
    await Promise.all([...plan.delete, ...stale].map(del));
  }
}

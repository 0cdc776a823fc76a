import * as grpc from '@grpc/grpc-js';
import {
  ResourcesClient,
  type ListRequest,
  type ObjectResponse,
  type ResourceRef,
  type WatchEvent as WireWatchEvent,
  type WriteOptions as WireWriteOptions,
} from '@kubets/proto/kubets/api/v1/api';
import { StatusError, statusErrorFromStatus } from '@kubets/api-machinery';
import { toStatusError } from './errors';
import { EventRecorder, type EventSource, type EventType } from './events';
import { loadKubeconfig, type KubeconfigCredentials } from './kubeconfig';
import { silentLogger, type Logger } from './logger';
import * as R from './resources';
import type {
  ConfigMap,
  DaemonSet,
  Deployment,
  EndpointSlice,
  Endpoints,
  Event,
  GroupVersionResource,
  KObject,
  Lease,
  Namespace,
  Node,
  ObjectReference,
  Pod,
  ReplicaSet,
  Service,
} from './types';

/** The default port of the API server's internal gRPC API (`--grpc-bind-address`). */
export const DEFAULT_GRPC_PORT = 6444;

export interface ConnectOptions {
  /** host:port of the API server's gRPC API (`[v6addr]:port` for IPv6) */
  address: string;
  /** PEM of the cluster CA that signed the API server's certificate */
  ca: string | Buffer;
  /** a bearer token (sent as `authorization: Bearer <token>`) */
  token?: string;
  /** a client certificate (PEM) signed by the cluster CA, with `key` */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** the name to verify the server certificate against (default: the address' host) */
  serverName?: string;
  /** deadline of each unary call; default 30 s */
  timeoutMs?: number;
  /** the component name used as the source of recorded Events; default "kubets-client" */
  component?: string;
  log?: Logger;
  /** extra gRPC channel options */
  channelOptions?: grpc.ChannelOptions;
}

export interface KubeconfigClientOptions extends Partial<Omit<ConnectOptions, 'ca' | 'address'>> {
  /** host:port of the gRPC API; default the kubeconfig server's host with port 6444 */
  grpcAddress?: string;
  /** the context to use; default the current context */
  context?: string;
}

export interface ListOptions {
  /** a namespace; all namespaces (or a cluster-scoped resource) when absent */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** "" (consistent, the default), "0" (any cached state) or a revision */
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan' | '';
  limit?: number;
  continue?: string;
}

export interface ListResult<T extends KObject = KObject> {
  items: T[];
  resourceVersion: string;
  /** the token for the next page, when `limit` cut the list */
  continue?: string;
}

export interface WatchOptions {
  namespace?: string;
  /** watch one object */
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** "" or "0": start with an ADDED per existing object; "N": every change after revision N */
  resourceVersion?: string;
  /** ask for BOOKMARK events (every 10 s) */
  allowWatchBookmarks?: boolean;
  /** the server ends the stream after this long */
  timeoutSeconds?: number;
}

/**
 * One watch event. ERROR carries the Status (e.g. 410 Expired: the
 * resourceVersion is too old, relist); CLOSED is reported once when the stream
 * ends (with the error when it failed), unless the watch was stopped.
 */
export type WatchEvent<T extends KObject = KObject> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: T; resourceVersion: string }
  | { type: 'BOOKMARK'; resourceVersion: string }
  | { type: 'ERROR'; error: StatusError; object: KObject }
  | { type: 'CLOSED'; error?: StatusError };

export interface WriteOptions {
  dryRun?: boolean;
  /** Strict, Warn (default) or Ignore */
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  fieldManager?: string;
  /** "status", "scale", "binding", ... */
  subresource?: string;
  /** receives the server's warnings */
  onWarning?: (warning: string) => void;
}

export type PatchType = 'merge' | 'json' | 'strategic';

/** meta/v1 DeleteOptions. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
  [field: string]: unknown;
}

export interface DeleteResult {
  /** the deleted object, or the object being deleted gracefully (or a Status) */
  object: KObject;
  /** true when the object is gone; false while it is being deleted gracefully (finalizers, grace period) */
  finished: boolean;
}

function writeOptions(o: WriteOptions | undefined): WireWriteOptions {
  return { dryRun: o?.dryRun ?? false, fieldValidation: o?.fieldValidation ?? '', fieldManager: o?.fieldManager ?? '' };
}

function parse(b: Uint8Array): KObject {
  return JSON.parse(Buffer.from(b).toString('utf8')) as KObject;
}

/**
 * The calls for one resource type. Objects are Kubernetes JSON; errors are
 * StatusErrors (isNotFound, isConflict, isAlreadyExists, ... from
 * @kubets/api-machinery work on them). `ns` is ignored for cluster-scoped
 * resources (pass '' or undefined).
 */
export class ResourceClient<T extends KObject = KObject> {
  readonly info: GroupVersionResource & { kind?: string; namespaced?: boolean };

  constructor(
    private readonly client: Client,
    gvr: GroupVersionResource,
  ) {
    const known = R.resourceInfo(gvr.group, gvr.resource);
    this.info = { ...gvr, version: gvr.version || known?.version || 'v1', kind: known?.kind, namespaced: known?.namespaced };
  }

  private ref(ns: string | undefined, name = '', subresource = ''): ResourceRef {
    return {
      group: this.info.group,
      version: this.info.version,
      resource: this.info.resource,
      namespace: this.info.namespaced === false ? '' : (ns ?? ''),
      name,
      subresource,
    };
  }

  private done(r: ObjectResponse, o?: WriteOptions): T {
    if (o?.onWarning) for (const w of r.warnings) o.onWarning(w);
    return parse(r.object) as T;
  }

  /** Fills in apiVersion and kind where a list item leaves them out. */
  private typed(obj: KObject, apiVersion: string | undefined, kind: string | undefined): T {
    if (apiVersion && obj.apiVersion === undefined) obj.apiVersion = apiVersion;
    if (kind && obj.kind === undefined) obj.kind = kind;
    return obj as T;
  }

  async get(ns: string | undefined, name: string, o: { resourceVersion?: string; subresource?: string } = {}): Promise<T> {
    const r = await this.client.call<ObjectResponse>('get', { ref: this.ref(ns, name, o.subresource), resourceVersion: o.resourceVersion ?? '' });
    return parse(r.object) as T;
  }

  /** Like get, but undefined instead of a NotFound error. */
  async tryGet(ns: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.get(ns, name);
    } catch (e) {
      if ((e as StatusError).code === 404) return undefined;
      throw e;
    }
  }

  async list(o: ListOptions = {}): Promise<ListResult<T>> {
    const r = await this.client.call<{ list: Buffer; resourceVersion: string }>('list', this.listRequest(o));
    const l = parse(r.list);
    const kind = typeof l.kind === 'string' && l.kind.endsWith('List') ? l.kind.slice(0, -4) : this.info.kind;
    const items = ((l.items ?? []) as KObject[]).map((x) => this.typed(x, l.apiVersion, kind));
    const out: ListResult<T> = { items, resourceVersion: r.resourceVersion || String(l.metadata?.resourceVersion ?? '') };
    if (l.metadata?.continue) out.continue = l.metadata.continue;
    return out;
  }

  /** Every page of a list (with `limit` per page), at one revision. */
  async listAll(o: ListOptions & { limit: number }): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.list({ ...o, continue: cont });
      items.push(...page.items);
      rv = page.resourceVersion;
      cont = page.continue;
    } while (cont);
    return { items, resourceVersion: rv };
  }

  async create(ns: string | undefined, obj: KObject, o?: WriteOptions): Promise<T> {
    const name = o?.subresource ? String(obj.metadata?.name ?? '') : '';
    const r = await this.client.call<ObjectResponse>('create', { ref: this.ref(ns ?? obj.metadata?.namespace, name, o?.subresource), object: Buffer.from(JSON.stringify(obj)), options: writeOptions(o) });
    return this.done(r, o);
  }

  /** Replaces the object (optimistic concurrency: a stale metadata.resourceVersion gets 409 Conflict). */
  async update(ns: string | undefined, obj: KObject, o?: WriteOptions): Promise<T> {
    const name = String(obj.metadata?.name ?? '');
    const r = await this.client.call<ObjectResponse>('update', { ref: this.ref(ns ?? obj.metadata?.namespace, name, o?.subresource), object: Buffer.from(JSON.stringify(obj)), options: writeOptions(o) });
    return this.done(r, o);
  }

  /** Replaces the status subresource. */
  updateStatus(ns: string | undefined, obj: KObject, o?: Omit<WriteOptions, 'subresource'>): Promise<T> {
    return this.update(ns, obj, { ...o, subresource: 'status' });
  }

  async patch(ns: string | undefined, name: string, type: PatchType, patch: unknown, o?: WriteOptions): Promise<T> {
    const r = await this.client.call<ObjectResponse>('patch', { ref: this.ref(ns, name, o?.subresource), patchType: type, patch: Buffer.from(JSON.stringify(patch)), options: writeOptions(o) });
    return this.done(r, o);
  }

  /** Patches the status subresource. */
  patchStatus(ns: string | undefined, name: string, type: PatchType, patch: unknown, o?: Omit<WriteOptions, 'subresource'>): Promise<T> {
    return this.patch(ns, name, type, patch, { ...o, subresource: 'status' });
  }

  async delete(ns: string | undefined, name: string, options?: DeleteOptions): Promise<DeleteResult> {
    const r = await this.client.call<ObjectResponse>('delete', { ref: this.ref(ns, name), deleteOptions: options ? Buffer.from(JSON.stringify(options)) : Buffer.alloc(0) });
    return { object: parse(r.object), finished: r.finished };
  }

  private listRequest(o: ListOptions & WatchOptions): ListRequest {
    return {
      ref: this.ref(o.namespace, o.name),
      labelSelector: o.labelSelector ?? '',
      fieldSelector: o.fieldSelector ?? '',
      resourceVersion: o.resourceVersion ?? '',
      resourceVersionMatch: o.resourceVersionMatch ?? '',
      limit: BigInt(o.limit ?? 0),
      continue: o.continue ?? '',
      allowWatchBookmarks: o.allowWatchBookmarks ?? false,
      timeoutSeconds: BigInt(o.timeoutSeconds ?? 0),
    };
  }

  /**
   * Opens a watch stream (gRPC) and reports its events in order. A 410
   * Expired (the resourceVersion is older than the server keeps) arrives as
   * an ERROR event whose `error.code` is 410, followed by CLOSED: list again
   * and watch from the list's resourceVersion. Returns the function that
   * stops the watch (no CLOSED is reported after it).
   */
  watch(o: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): () => void {
    let stopped = false;
    let closed = false;
    const deliver = (ev: WatchEvent<T>) => {
      if (stopped || closed) return;
      try {
        onEvent(ev);
      } catch (e) {
        this.client.log.error({ err: (e as Error).message, resource: this.info.resource }, 'watch event handler threw');
      }
    };
    const close = (error?: StatusError) => {
      if (stopped || closed) return;
      deliver({ type: 'CLOSED', ...(error ? { error } : {}) });
      closed = true;
    };
    const stream = this.client.grpc.watch(this.listRequest(o), this.client.callMetadata());
    stream.on('data', (ev: WireWatchEvent) => {
      if (stopped || closed) return;
      if (ev.type === 'BOOKMARK') {
        deliver({ type: 'BOOKMARK', resourceVersion: ev.revision.toString() });
        return;
      }
      let obj: KObject;
      try {
        obj = parse(ev.object);
      } catch (e) {
        close(new StatusError(500, 'InternalError', `undecodable watch event: ${(e as Error).message}`));
        stream.cancel();
        return;
      }
      if (ev.type === 'ERROR') {
        deliver({ type: 'ERROR', error: statusErrorFromStatus(obj), object: obj });
        return;
      }
      if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED') {
        deliver({ type: ev.type, object: this.typed(obj, R.apiVersionOf(this.info), this.info.kind), resourceVersion: ev.revision.toString() });
      }
    });
    stream.on('error', (err: grpc.ServiceError) => close(toStatusError(err)));
    stream.on('end', () => close());
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) close();
    });
    return () => {
      if (stopped) return;
      stopped = true;
      stream.cancel();
    };
  }
}

/**
 * A client of the API server's internal gRPC API (kubets.api.v1.Resources),
 * as client-go's clientset: `client.resource(gvr)` for any resource, typed
 * shortcuts for the built-in ones, `bind` for the scheduler and
 * `recordEvent` for Events.
 */
export class Client {
  readonly grpc: ResourcesClient;
  readonly log: Logger;
  readonly component: string;
  private readonly timeoutMs: number;
  private readonly resources = new Map<string, ResourceClient<KObject>>();
  private recorder: EventRecorder | undefined;
  private closed = false;

  private constructor(readonly options: ConnectOptions) {
    const buf = (v: string | Buffer | undefined) => (v === undefined ? null : Buffer.isBuffer(v) ? v : Buffer.from(v));
    if ((options.cert === undefined) !== (options.key === undefined)) throw new Error('a client certificate needs both cert and key');
    let creds = grpc.credentials.createSsl(buf(options.ca), buf(options.key), buf(options.cert));
    if (options.token) {
      const header = `Bearer ${options.token}`;
      creds = grpc.credentials.combineChannelCredentials(
        creds,
        grpc.credentials.createFromMetadataGenerator((_p, cb) => {
          const md = new grpc.Metadata();
          md.set('authorization', header);
          cb(null, md);
        }),
      );
    }
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      // grpc-js backs off reconnects up to 120 s by default and fails calls
      // fast meanwhile: a component started before its API server would
      // wait for the channel long after the server is up (kubelets, the
      // controller manager and the scheduler start together with it).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      ...options.channelOptions,
    };
    if (options.serverName) channelOptions['grpc.ssl_target_name_override'] = options.serverName;
    this.grpc = new ResourcesClient(options.address, creds, channelOptions);
    this.log = options.log ?? silentLogger;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.component = options.component ?? 'kubets-client';
  }

  /** A client of the gRPC API at `address` (connects lazily; calls fail with 503 while the server is unreachable). */
  static async connect(options: ConnectOptions): Promise<Client> {
    return new Client(options);
  }

  /**
   * A client from a kubeconfig file: the CA (certificate-authority-data or
   * certificate-authority), the current context's credentials (token,
   * tokenFile, client-certificate[-data] and client-key[-data]), and the gRPC
   * address: `grpcAddress`, else the server's host with port 6444.
   */
  static async fromKubeconfig(path: string, o: KubeconfigClientOptions = {}): Promise<Client> {
    const kc: KubeconfigCredentials = loadKubeconfig(path, { context: o.context });
    const { grpcAddress, context: _context, ...rest } = o;
    void _context;
    const address = grpcAddress ?? `${kc.host}:${DEFAULT_GRPC_PORT}`;
    const auth = rest.token !== undefined || rest.cert !== undefined ? {} : { token: kc.token, cert: kc.cert, key: kc.key };
    const opts: ConnectOptions = { ...rest, ...auth, address, ca: kc.ca };
    if (opts.token === undefined) delete opts.token;
    if (opts.cert === undefined) delete opts.cert;
    if (opts.key === undefined) delete opts.key;
    if (kc.tlsServerName && !opts.serverName) opts.serverName = kc.tlsServerName;
    return new Client(opts);
  }

  /** Resolves when the channel is connected (or rejects at the deadline). */
  waitForReady(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => this.grpc.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(toStatusError(err)) : resolve())));
  }

  /** @internal metadata for streaming calls */
  callMetadata(): grpc.Metadata {
    return new grpc.Metadata();
  }

  /** @internal one unary call, its failure as a StatusError */
  call<Res>(method: 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete', req: unknown): Promise<Res> {
    if (this.closed) return Promise.reject(new StatusError(503, 'ServiceUnavailable', 'the client is closed'));
    return new Promise((resolve, reject) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const fn = (this.grpc as any)[method] as (req: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Res) => void) => void;
      fn.call(this.grpc, req, new grpc.Metadata(), { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(toStatusError(err)) : resolve(res)));
    });
  }

  /** The calls for any resource type (one ResourceClient per type, cached). */
  resource<T extends KObject = KObject>(gvr: GroupVersionResource): ResourceClient<T> {
    const k = `${gvr.group}/${gvr.version}/${gvr.resource}`;
    let r = this.resources.get(k);
    if (!r) {
      r = new ResourceClient<KObject>(this, gvr);
      this.resources.set(k, r);
    }
    return r as unknown as ResourceClient<T>;
  }

  get pods(): ResourceClient<Pod> {
    return this.resource<Pod>(R.PODS);
  }
  get nodes(): ResourceClient<Node> {
    return this.resource<Node>(R.NODES);
  }
  get services(): ResourceClient<Service> {
    return this.resource<Service>(R.SERVICES);
  }
  get endpoints(): ResourceClient<Endpoints> {
    return this.resource<Endpoints>(R.ENDPOINTS);
  }
  get endpointSlices(): ResourceClient<EndpointSlice> {
    return this.resource<EndpointSlice>(R.ENDPOINT_SLICES);
  }
  get deployments(): ResourceClient<Deployment> {
    return this.resource<Deployment>(R.DEPLOYMENTS);
  }
  get replicaSets(): ResourceClient<ReplicaSet> {
    return this.resource<ReplicaSet>(R.REPLICA_SETS);
  }
  get daemonSets(): ResourceClient<DaemonSet> {
    return this.resource<DaemonSet>(R.DAEMON_SETS);
  }
  get leases(): ResourceClient<Lease> {
    return this.resource<Lease>(R.LEASES);
  }
  get events(): ResourceClient<Event> {
    return this.resource<Event>(R.EVENTS);
  }
  get namespaces(): ResourceClient<Namespace> {
    return this.resource<Namespace>(R.NAMESPACES);
  }
  get configMaps(): ResourceClient<ConfigMap> {
    return this.resource<ConfigMap>(R.CONFIG_MAPS);
  }
  get secrets(): ResourceClient<KObject> {
    return this.resource(R.SECRETS);
  }

  /**
   * Binds a pod to a node (POST pods/<name>/binding, the scheduler's write):
   * sets spec.nodeName and the PodScheduled condition. 409 Conflict when the
   * pod is already bound or being deleted.
   */
  async bind(ns: string, podName: string, nodeName: string, o: { uid?: string; dryRun?: boolean } = {}): Promise<void> {
    const binding: KObject = { apiVersion: 'v1', kind: 'Binding', metadata: { name: podName, namespace: ns, ...(o.uid ? { uid: o.uid } : {}) }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } };
    await this.pods.create(ns, binding, { subresource: 'binding', dryRun: o.dryRun });
  }

  /** The EventRecorder for a component (source.component), sharing this client. */
  eventRecorder(source: EventSource | string): EventRecorder {
    return new EventRecorder(this, typeof source === 'string' ? { component: source } : source);
  }

  /**
   * Records a core/v1 Event about `object`, worded like Kubernetes
   * (`recordEvent(pod, 'Warning', 'FailedScheduling', '0/3 nodes are available: ...')`);
   * a repeat of the same event is aggregated (count bumped). Never throws:
   * failures are logged and resolve to undefined.
   */
  recordEvent(object: KObject | ObjectReference, type: EventType, reason: string, message: string): Promise<Event | undefined> {
    this.recorder ??= new EventRecorder(this, { component: this.component });
    return this.recorder.event(object, type, reason, message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.grpc.close();
  }
}

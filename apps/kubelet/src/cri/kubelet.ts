import fs from 'node:fs';
import { ReplyError, actorSubject, defineActor, defineProtocol, jsonCodec, method, type ActorContext, type ActorRef, type ActorSystem } from '@kubets/actor';
import { NODES, PODS, isAlreadyExists, isConflict, isNotFound, type Client, type EventRecorder, type Informer, type InformerFactory, type KObject, type Pod } from '@kubets/client';
import { ContainerState, type CriClient } from '@kubets/cri-client';
import type { Logger } from 'pino';
import * as L from './labels';
import { CONFIG_MIRROR, isMirrorPod, type StaticPodSource } from '../static/static-pods';
import { PodWorker, type PodWorkerConfig } from './pod-worker';
import { podDir } from './volumes';

type AnyObj = Record<string, any>;
const anyObject = (v: unknown): AnyObj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as AnyObj) : {});

/** Where a container's process and log are: what the kubelet's server (logs, exec) needs. */
export interface ContainerLocation {
  podUid: string;
  containerId: string;
  /** Absolute path of the CRI log file of that container instance. */
  logPath: string;
  running: boolean;
}

/** Looks containers up by pod namespace/name and container name (for the kubelet's HTTPS server). */
export interface ContainerLocator {
  /**
   * The container of a pod bound to this node: the current instance, or the
   * one before it with `previous` (kubectl logs --previous). The container
   * defaults to the pod's first container. Undefined when there is none.
   */
  findContainer(namespace: string, name: string, container?: string, options?: { previous?: boolean }): Promise<ContainerLocation | undefined>;
}

/** The top-level kubelet actor: one child actor per pod. */
/** The NATS subject of a node's kubelet actor. */
export function kubeletSubject(node: string): string {
  return actorSubject('kubelet', 'node', node);
}

export const KubeletProtocol = defineProtocol({
  /** A pod changed (or went away): { uid, key, gone? }. */
  pod: method(jsonCodec((v) => anyObject(v) as { uid: string; key: string; gone?: boolean }), jsonCodec(anyObject)),
  /** A pod actor finished killing its pod. */
  done: method(jsonCodec((v) => anyObject(v) as { uid: string }), jsonCodec(anyObject)),
  /** Debug: the pods with an actor. */
  status: method(jsonCodec(anyObject), jsonCodec(anyObject)),
  /** Where a pod's container runs and logs: { namespace, name, container?, previous? } -> ContainerLocation (NOT_FOUND when none). */
  container: method(
    jsonCodec((v) => anyObject(v) as { namespace: string; name: string; container?: string; previous?: boolean }),
    jsonCodec((v) => anyObject(v) as unknown as ContainerLocation),
  ),
  /** Removes sandboxes of pods that no longer exist. */
  housekeeping: method(jsonCodec(anyObject), jsonCodec(anyObject)),
});

/** The NATS subject of a node's mirror pod actor. */
export function mirrorSubject(node: string): string {
  return actorSubject('kubelet', 'mirror', node);
}

export const MirrorProtocol = defineProtocol({
  /** Make the mirror pods match the static pods now. */
  sync: method(jsonCodec(anyObject), jsonCodec(anyObject)),
  /** Debug: static pods and their mirrors. */
  status: method(jsonCodec(anyObject), jsonCodec(anyObject)),
});

const PodProtocol = defineProtocol({
  sync: method(jsonCodec(anyObject), jsonCodec(anyObject)),
  tick: method(jsonCodec(anyObject), jsonCodec(anyObject)),
  gone: method(jsonCodec(anyObject), jsonCodec(anyObject)),
});

export interface CriKubeletOptions extends PodWorkerConfig {
  /** How often every pod actor re-syncs (kubelet's PLEG relist period: 1 s). */
  syncPeriodMs: number;
  housekeepingMs: number;
}

/**
 * The real kubelet's pod side: follows the pods bound to its node (NATS
 * subject of the node) and runs one supervised actor per pod
 * (kubets.kubelet.<node>, children pod-<uid>) that drives containerd over CRI.
 * On start, after the informer synced, sandboxes of pods that no longer
 * exist are removed; the others are re-adopted by their pod actors.
 */
export class CriKubelet implements ContainerLocator {
  private informer!: Informer<Pod>;
  private ref: ActorRef<typeof KubeletProtocol> | undefined;
  private mirrorRef: ActorRef<typeof MirrorProtocol> | undefined;
  private housekeepingTimer: NodeJS.Timeout | undefined;
  private mirrorTimer: NodeJS.Timeout | undefined;
  private synced = false;

  constructor(
    private readonly cri: CriClient,
    private readonly client: Client,
    private readonly recorder: EventRecorder,
    private readonly o: CriKubeletOptions,
    private readonly log: Logger,
    /** Static pods (--pod-manifest-path): they run with no API server and get mirror pods once it answers. */
    private readonly statics?: StaticPodSource,
  ) {}

  /**
   * Starts the pod actors: static pods at once (no API server or NATS
   * needed); the pods bound to this node as the informer (created here on
   * `factory`, started by the caller) reports them.
   */
  async start(system: ActorSystem, factory: InformerFactory): Promise<void> {
    fs.mkdirSync(this.o.rootDir, { recursive: true });
    this.informer = factory.podsOnNode(this.o.nodeName);
    this.ref = await system.spawn(this.kubeletActor());
    const key = (p: Pod) => `${p.metadata.namespace}/${p.metadata.name}`;
    // Mirror pods are the API's view of static pods: they never get an actor of their own.
    const tell = (p: Pod, gone?: boolean) => {
      if (isMirrorPod(p)) this.mirrorRef?.tell('sync', {});
      else this.ref!.tell('pod', { uid: String(p.metadata.uid), key: key(p), ...(gone ? { gone: true } : {}) });
    };
    this.informer.onAdd((p) => tell(p));
    this.informer.onUpdate((old, p) => {
      if (old.metadata.uid !== p.metadata.uid) tell(old, true);
      tell(p);
    });
    this.informer.onDelete((p) => tell(p, true));
    if (this.statics) {
      this.mirrorRef = await system.spawn(this.mirrorActor());
      this.statics.start({
        add: (p) => {
          this.ref!.tell('pod', { uid: String(p.metadata.uid), key: key(p) });
          this.mirrorRef!.tell('sync', {});
        },
        delete: (p) => {
          this.ref!.tell('pod', { uid: String(p.metadata.uid), key: key(p), gone: true });
          this.mirrorRef!.tell('sync', {});
        },
      });
      this.mirrorTimer = setInterval(() => this.mirrorRef?.tell('sync', {}), 10_000);
      this.mirrorTimer.unref();
    }
  }

  /** After the informer synced: remove what belongs to pods that no longer exist, then every housekeepingMs; mirror pods from now on. */
  startHousekeeping(): void {
    this.synced = true;
    this.ref!.tell('housekeeping', {});
    this.mirrorRef?.tell('sync', {});
    this.housekeepingTimer = setInterval(() => this.ref?.tell('housekeeping', {}), this.o.housekeepingMs);
    this.housekeepingTimer.unref();
  }

  stop(): void {
    if (this.housekeepingTimer) clearInterval(this.housekeepingTimer);
    if (this.mirrorTimer) clearInterval(this.mirrorTimer);
    this.statics?.stop();
    this.log.debug('kubelet pod side stopped');
  }

  private podByUid(uid: string, key: string): Pod | undefined {
    const s = this.statics?.byUid(uid);
    if (s) return s;
    const p = this.informer.get(key);
    return p && p.metadata.uid === uid && !isMirrorPod(p) ? p : undefined;
  }

  /** All pods this kubelet should run: static ones and those the API binds to this node. */
  private desiredPods(): Pod[] {
    return [...(this.statics?.list() ?? []), ...this.informer.list().filter((p) => !isMirrorPod(p))];
  }

  /**
   * The mirror pod actor (kubelet's mirror client): for every static pod a
   * pod in the API with the same name, annotated kubernetes.io/config.mirror
   * with the static pod's hash and owned by the Node; a mirror that is
   * deleted, stale (another hash) or left from a removed manifest is
   * deleted and, where a static pod remains, created again.
   */
  private mirrorActor() {
    const self = this;
    let nodeUid: string | undefined;
    return defineActor<typeof MirrorProtocol, { created: number; deleted: number }>({
      name: 'mirror-pods',
      protocol: MirrorProtocol,
      subject: mirrorSubject(this.o.nodeName),
      init: () => ({ created: 0, deleted: 0 }),
      handlers: {
        sync: async (_m, ctx) => {
          if (!self.synced || !self.statics) return { synced: false };
          const pods = self.client.resource(PODS);
          const del = async (p: Pod, why: string) => {
            try {
              await pods.delete(String(p.metadata.namespace), String(p.metadata.name), { gracePeriodSeconds: 0, preconditions: { uid: String(p.metadata.uid) } });
              ctx.state.deleted++;
              ctx.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, why }, 'deleted a mirror pod');
            } catch (e) {
              if (!isNotFound(e) && !isConflict(e)) throw e;
            }
          };
          try {
            for (const s of self.statics.list()) {
              const ns = String(s.metadata.namespace);
              const name = String(s.metadata.name);
              const m = self.informer.getByName(ns, name);
              if (m && isMirrorPod(m) && m.metadata.annotations?.[CONFIG_MIRROR] === s.metadata.uid && !m.metadata.deletionTimestamp) continue;
              if (m && !isMirrorPod(m)) {
                ctx.log.warn({ pod: `${ns}/${name}` }, 'a pod that is not a mirror has the name of a static pod: no mirror pod');
                continue;
              }
              if (m) await del(m, m.metadata.deletionTimestamp ? 'deleted through the API' : 'the static pod changed');
              nodeUid ??= String((await self.client.resource(NODES).get(undefined, self.o.nodeName)).metadata.uid);
              const meta = s.metadata as KObject['metadata'];
              const mirror: KObject = {
                apiVersion: 'v1',
                kind: 'Pod',
                metadata: {
                  name,
                  namespace: ns,
                  ...(meta.labels ? { labels: meta.labels } : {}),
                  annotations: { ...(meta.annotations ?? {}), [CONFIG_MIRROR]: String(s.metadata.uid) },
                  ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: self.o.nodeName, uid: nodeUid, controller: true }],
                },
                spec: s.spec as KObject['spec'],
              };
              try {
                await pods.create(ns, mirror);
                ctx.state.created++;
                ctx.log.info({ pod: `${ns}/${name}` }, 'created a mirror pod');
              } catch (e) {
                if (!isAlreadyExists(e)) throw e;
              }
            }
            for (const p of self.informer.list()) {
              if (isMirrorPod(p) && !self.statics.getByName(String(p.metadata.namespace), String(p.metadata.name))) await del(p, 'its static pod is gone');
            }
          } catch (e) {
            // The API server may be down (static pods run on): the next sync retries.
            ctx.log.warn({ err: (e as Error).message }, 'mirror pod sync failed: retrying');
            return { synced: false };
          }
          return { synced: true };
        },
        status: (_m, ctx) => ({ static: self.statics?.list().map((p) => `${p.metadata.namespace}/${p.metadata.name}`) ?? [], ...ctx.state }),
      },
    });
  }

  private kubeletActor() {
    const self = this;
    return defineActor<typeof KubeletProtocol, { gone: Set<string> }>({
      name: 'kubelet',
      protocol: KubeletProtocol,
      subject: kubeletSubject(this.o.nodeName),
      init: (ctx) => {
        // A new incarnation (start or restart after a crash) re-creates the pod actors.
        for (const p of self.desiredPods()) {
          ctx.self.tell('pod', { uid: String(p.metadata.uid), key: `${p.metadata.namespace}/${p.metadata.name}` });
        }
        return { gone: new Set() };
      },
      handlers: {
        pod: (m, ctx) => {
          const name = `pod-${m.uid}`;
          let child = ctx.child(name);
          if (!child) {
            if (ctx.state.gone.has(m.uid)) return {};
            child = ctx.spawn(self.podActor(m.uid, m.key, ctx));
          }
          if (m.gone) {
            ctx.state.gone.add(m.uid);
            child.tell('gone', {});
          } else child.tell('sync', {});
          return {};
        },
        done: async (m, ctx) => {
          await ctx.stopChild(`pod-${m.uid}`);
          return {};
        },
        status: (_m, ctx) => ({ node: self.o.nodeName, pods: ctx.children() }),
        container: async (m) => {
          const loc = await self.findContainer(m.namespace, m.name, m.container, { previous: m.previous });
          if (!loc) throw new ReplyError('NOT_FOUND', `container ${m.container ?? '(default)'} of pod ${m.namespace}/${m.name} not found on node ${self.o.nodeName}`);
          return loc;
        },
        housekeeping: async (_m, ctx) => {
          const known = new Set(self.desiredPods().map((p) => String(p.metadata.uid)));
          let res;
          try {
            res = await self.cri.listPodSandbox({ filter: { labelSelector: { [L.KUBELET_MANAGED]: 'true' } } });
          } catch (e) {
            ctx.log.warn({ err: (e as Error).message }, 'housekeeping: the runtime does not answer');
            return { removed: 0 };
          }
          const orphans = new Set(res.items.map((s) => s.labels[L.POD_UID] ?? '').filter((uid) => uid && !known.has(uid) && !ctx.child(`pod-${uid}`)));
          for (const uid of orphans) {
            ctx.log.info({ uid }, 'removing the sandboxes of a pod that no longer exists');
            const containers = await self.cri.listContainers({ filter: { labelSelector: { [L.POD_UID]: uid } } });
            await Promise.all(containers.containers.filter((c) => c.state === ContainerState.CONTAINER_RUNNING).map((c) => self.cri.stopContainer({ containerId: c.id, timeout: BigInt(Number(c.annotations[L.TERMINATION_GRACE] ?? 30)) }, { timeoutMs: 120_000 }).catch(() => undefined)));
            for (const s of res.items.filter((x) => x.labels[L.POD_UID] === uid)) {
              await self.cri.stopPodSandbox({ podSandboxId: s.id }).catch(() => undefined);
              await self.cri.removePodSandbox({ podSandboxId: s.id }).catch((e) => ctx.log.warn({ err: (e as Error).message }, 'RemovePodSandbox failed'));
            }
            fs.rmSync(podDir(self.o.rootDir, uid), { recursive: true, force: true });
          }
          return { removed: orphans.size };
        },
      },
    });
  }

  private podActor(uid: string, key: string, parent: ActorContext<{ gone: Set<string> }>) {
    const self = this;
    let timer: NodeJS.Timeout | undefined;
    let tickQueued = false;
    let syncQueued = false;
    let busy = false;
    /** One sync; the relist timer skips its tick while one runs. */
    const syncMarkingBusy = async (ctx: ActorContext<{ worker: PodWorker | undefined }>) => {
      busy = true;
      try {
        await self.syncOnce(ctx, uid, key);
      } finally {
        busy = false;
      }
    };
    return defineActor<typeof PodProtocol, { worker: PodWorker | undefined }>({
      name: `pod-${uid}`,
      protocol: PodProtocol,
      init: (ctx) => {
        if (timer) clearInterval(timer);
        timer = setInterval(() => {
          // A relist every period, counted from the end of the last one (no pile-up behind a slow sync).
          if (tickQueued || busy) return;
          tickQueued = true;
          ctx.self.tell('tick', {});
        }, self.o.syncPeriodMs);
        timer.unref();
        const pod = self.podByUid(uid, key);
        const log = ctx.log.child({ pod: key, uid });
        const worker = pod ? new PodWorker(pod, { cri: self.cri, client: self.client, recorder: self.recorder, config: self.o, log }) : undefined;
        return { worker };
      },
      handlers: {
        sync: async (_m, ctx) => {
          syncQueued = false;
          await syncMarkingBusy(ctx);
          return {};
        },
        tick: async (_m, ctx) => {
          tickQueued = false;
          if (!syncQueued) await syncMarkingBusy(ctx);
          return {};
        },
        gone: async (_m, ctx) => {
          // Deleted from the API (or replaced by a pod of another uid): kill what runs, no API update.
          const w = ctx.state.worker;
          try {
            if (w) await w.terminate(Number((w.pod.spec as AnyObj).terminationGracePeriodSeconds ?? 30), false);
            else await self.killByUid(uid);
          } catch (e) {
            // Housekeeping removes what is left once the runtime answers again.
            ctx.log.warn({ err: (e as Error).message }, 'could not kill a deleted pod: housekeeping will retry');
          }
          self.lastErrors.delete(uid);
          if (timer) clearInterval(timer);
          parent.self.tell('done', { uid });
          return {};
        },
      },
      postStop: () => {
        if (timer) clearInterval(timer);
      },
    });
  }

  private async syncOnce(ctx: ActorContext<{ worker: PodWorker | undefined }>, uid: string, key: string): Promise<void> {
    const pod = this.podByUid(uid, key);
    if (!pod) return;
    if (!ctx.state.worker) ctx.state.worker = new PodWorker(pod, { cri: this.cri, client: this.client, recorder: this.recorder, config: this.o, log: ctx.log.child({ pod: key, uid }) });
    const w = ctx.state.worker;
    if (w.finished) return;
    // Our own status writes come back through the informer: keep the newest spec/metadata.
    w.pod = pod;
    // A static pod's status goes to its mirror pod, once there is one.
    if (this.statics?.byUid(uid)) {
      const m = this.informer.getByName(String(pod.metadata.namespace), String(pod.metadata.name));
      w.mirrorUid = m && isMirrorPod(m) && m.metadata.annotations?.[CONFIG_MIRROR] === uid ? String(m.metadata.uid) : null;
    }
    try {
      await w.sync();
      this.lastErrors.delete(uid);
    } catch (e) {
      // A runtime or API server outage is retried on the next tick; it must not
      // crash the actor over and over (that would escalate and end the process).
      const msg = (e as Error).message;
      if (this.lastErrors.get(uid) !== msg) ctx.log.warn({ err: msg }, 'pod sync failed: retrying');
      this.lastErrors.set(uid, msg);
    }
  }
  private readonly lastErrors = new Map<string, string>();

  private async killByUid(uid: string): Promise<void> {
    const res = await this.cri.listPodSandbox({ filter: { labelSelector: { [L.POD_UID]: uid } } });
    for (const s of res.items) {
      await this.cri.stopPodSandbox({ podSandboxId: s.id }).catch(() => undefined);
      await this.cri.removePodSandbox({ podSandboxId: s.id }).catch(() => undefined);
    }
    fs.rmSync(podDir(this.o.rootDir, uid), { recursive: true, force: true });
  }

  /**
   * The shape src/server's ContainerResolver takes: the current instance's id
   * and log file, and the log file of the instance before it (--previous).
   * Usage: new KubeletServer({ resolve: (ns, pod, c) => kubelet.resolveContainer(ns, pod, c), ... }).
   */
  async resolveContainer(namespace: string, name: string, container?: string): Promise<{ containerId: string; logPath: string; previousLogPath?: string } | undefined> {
    const current = await this.findContainer(namespace, name, container);
    if (!current) return undefined;
    const previous = await this.findContainer(namespace, name, container, { previous: true });
    return { containerId: current.containerId, logPath: current.logPath, ...(previous ? { previousLogPath: previous.logPath } : {}) };
  }

  async findContainer(namespace: string, name: string, container?: string, options: { previous?: boolean } = {}): Promise<ContainerLocation | undefined> {
    const pod = this.statics?.getByName(namespace, name) ?? this.informer.getByName(namespace, name);
    if (!pod || isMirrorPod(pod)) return undefined;
    const uid = String(pod.metadata.uid);
    const cname = container ?? ((pod.spec as AnyObj).containers?.[0]?.name as string | undefined);
    if (!cname) return undefined;
    const res = await this.cri.listContainers({ filter: { labelSelector: { [L.POD_UID]: uid, [L.CONTAINER_NAME]: cname } } });
    const list = [...res.containers].sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0));
    const c = list[options.previous ? 1 : 0];
    if (!c) return undefined;
    const st = await this.cri.containerStatus({ containerId: c.id });
    return { podUid: uid, containerId: c.id, logPath: st.status?.logPath ?? '', running: c.state === ContainerState.CONTAINER_RUNNING };
  }
}

// Static pods: Pod manifests in --pod-manifest-path that the kubelet runs on
// its own, with no API server (how the control plane runs on a control-plane
// node). As the kubelet's file source: one Pod per file (YAML or JSON), the
// pod named <name>-<node>, its UID a hash of the manifest, the file and the
// node (so a kubelet restart finds the same pod, and an edited manifest is a
// new pod that replaces the old one), annotated kubernetes.io/config.hash,
// config.source=file and config.seen.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Pod } from '@kubets/client';
import type { Logger } from 'pino';
import YAML from 'yaml';
import { canonical } from '../cri/pod-worker';

export const CONFIG_SOURCE = 'kubernetes.io/config.source';
export const CONFIG_HASH = 'kubernetes.io/config.hash';
export const CONFIG_MIRROR = 'kubernetes.io/config.mirror';
export const CONFIG_SEEN = 'kubernetes.io/config.seen';

type AnyObj = Record<string, any>;

/** Whether a pod object from the API server is the mirror of a static pod. */
export function isMirrorPod(p: { metadata?: AnyObj }): boolean {
  return Boolean(p.metadata?.annotations?.[CONFIG_MIRROR]);
}

/**
 * The static pod of one manifest: throws with the reason when the file does
 * not hold exactly one valid v1 Pod.
 */
export function staticPodFromManifest(text: string, file: string, nodeName: string): Pod {
  const docs = YAML.parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1) throw new Error(`expected one Pod, found ${docs.length} documents`);
  const doc = docs[0]!;
  if (doc.errors.length) throw new Error(doc.errors[0]!.message);
  const obj = doc.toJSON() as AnyObj;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('not an object');
  if (obj.kind !== 'Pod' || (obj.apiVersion ?? 'v1') !== 'v1') throw new Error(`kind ${obj.apiVersion ?? ''}/${obj.kind ?? ''} is not v1/Pod`);
  const meta = (obj.metadata ?? {}) as AnyObj;
  const name = String(meta.name ?? '');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length + nodeName.length + 1 > 253) throw new Error(`metadata.name "${name}" is not a valid pod name`);
  const spec = obj.spec as AnyObj | undefined;
  if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) throw new Error('spec.containers must name at least one container');
  for (const c of spec.containers as AnyObj[]) if (!c?.name || !c?.image) throw new Error('every container needs a name and an image');
  const hash = createHash('sha256').update(canonical(obj)).update('\0').update(file).update('\0').update(nodeName).digest('hex').slice(0, 32);
  const annotations: Record<string, string> = { ...(meta.annotations ?? {}), [CONFIG_HASH]: hash, [CONFIG_SOURCE]: 'file', [CONFIG_SEEN]: new Date().toISOString() };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...meta,
      name: `${name}-${nodeName}`,
      namespace: String(meta.namespace ?? 'default'),
      uid: hash,
      annotations,
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
    spec: { ...spec, nodeName },
    status: { phase: 'Pending' },
  } as unknown as Pod;
}

export interface StaticPodHandlers {
  add(p: Pod): void;
  delete(p: Pod): void;
}

/**
 * Watches --pod-manifest-path (inotify through fs.watch, and a full scan every
 * checkMs as the kubelet's --file-check-frequency) and reports static pods
 * appearing and going away; a changed manifest is the old pod going and a new
 * one (another UID) appearing.
 */
export class StaticPodSource {
  private readonly pods = new Map<string, Pod>();
  private readonly badFiles = new Map<string, string>();
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private handlers: StaticPodHandlers | undefined;

  constructor(
    private readonly dir: string,
    private readonly nodeName: string,
    private readonly checkMs: number,
    private readonly log: Logger,
  ) {}

  /** Reads the folder now (the first pods are reported before this returns), then follows it. */
  start(handlers: StaticPodHandlers): void {
    this.handlers = handlers;
    fs.mkdirSync(this.dir, { recursive: true });
    this.scan();
    try {
      this.watcher = fs.watch(this.dir, () => {
        // Editors write a file in several steps: read once they are done.
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => this.scan(), 100);
      });
      this.watcher.on('error', (e) => this.log.warn({ err: e.message }, 'watching the static pod folder failed: scanning every period only'));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot watch the static pod folder: scanning every period only');
    }
    this.timer = setInterval(() => this.scan(), this.checkMs);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  list(): Pod[] {
    return [...this.pods.values()];
  }

  getByName(namespace: string, name: string): Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  byUid(uid: string): Pod | undefined {
    for (const p of this.pods.values()) if (p.metadata.uid === uid) return p;
    return undefined;
  }

  /** Reads every manifest and reports the differences. */
  scan(): void {
    let files: string[];
    try {
      files = fs.readdirSync(this.dir).filter((f) => !f.startsWith('.')).sort();
    } catch (e) {
      this.log.warn({ dir: this.dir, err: (e as Error).message }, 'cannot read the static pod folder');
      return;
    }
    const next = new Map<string, Pod>();
    for (const f of files) {
      const file = path.join(this.dir, f);
      let text: string;
      try {
        if (!fs.statSync(file).isFile()) continue;
        text = fs.readFileSync(file, 'utf8');
      } catch {
        continue; // removed meanwhile
      }
      let pod: Pod;
      try {
        pod = staticPodFromManifest(text, file, this.nodeName);
      } catch (e) {
        const msg = (e as Error).message;
        if (this.badFiles.get(file) !== msg) this.log.warn({ file, err: msg }, 'ignoring a static pod manifest');
        this.badFiles.set(file, msg);
        continue;
      }
      this.badFiles.delete(file);
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      if (next.has(key)) {
        this.log.warn({ file, pod: key }, 'ignoring a static pod manifest: another file already defines this pod');
        continue;
      }
      const prev = this.pods.get(key);
      // An unchanged manifest keeps its pod object (and config.seen).
      next.set(key, prev && prev.metadata.uid === pod.metadata.uid ? prev : pod);
    }
    const removed = [...this.pods].filter(([k, p]) => next.get(k)?.metadata.uid !== p.metadata.uid).map(([, p]) => p);
    const added = [...next].filter(([k, p]) => this.pods.get(k)?.metadata.uid !== p.metadata.uid).map(([, p]) => p);
    this.pods.clear();
    for (const [k, p] of next) this.pods.set(k, p);
    for (const p of removed) {
      this.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, uid: p.metadata.uid }, 'static pod removed');
      this.handlers?.delete(p);
    }
    for (const p of added) {
      this.log.info({ pod: `${p.metadata.namespace}/${p.metadata.name}`, uid: p.metadata.uid }, 'static pod found');
      this.handlers?.add(p);
    }
  }
}

// Pod networking between nodes, host-gw style (--configure-pod-routes): a
// route to every other node's spec.podCIDR via that node's InternalIP, for
// nodes on one L2 network (kind-style node containers, a flat LAN). Kubernetes
// leaves this to a network plugin or a cloud route controller; kubets nodes
// do it themselves. Routes this kubelet added are remembered in a state file,
// so a node that goes away loses its route, and routes of anybody else are
// never touched.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Informer, Node } from '@kubets/client';
import type { Logger } from 'pino';

type AnyObj = Record<string, any>;

/** cidr -> gateway (the other node's InternalIP). */
export type RouteTable = Map<string, string>;

/** The routes this node needs: every other node with a podCIDR and an InternalIP. */
export function desiredRoutes(nodes: readonly Node[], self: string): RouteTable {
  const out: RouteTable = new Map();
  for (const n of nodes) {
    if (n.metadata.name === self) continue;
    const cidr = (n.spec as AnyObj | undefined)?.podCIDR as string | undefined;
    const ip = ((n.status as AnyObj | undefined)?.addresses as AnyObj[] | undefined)?.find((a) => a.type === 'InternalIP')?.address as string | undefined;
    if (cidr && ip && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr) && /^\d+\.\d+\.\d+\.\d+$/.test(ip)) out.set(cidr, ip);
  }
  return out;
}

function ip(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: 10_000 }, (err, _out, stderr) => (err ? reject(new Error(`${bin} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve())),
  );
}

/**
 * Keeps the routes in line with the Node objects: on every Node change (one
 * pass at a time, coalesced) and every `resyncMs` (routes someone flushed come
 * back).
 */
export class PodRoutes {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly nodes: Informer<Node>,
    private readonly self: string,
    private readonly stateFile: string,
    private readonly log: Logger,
    private readonly resyncMs = 30_000,
    private readonly ipBin = 'ip',
  ) {}

  /** Call once the Node informer has synced: before, an empty list would remove every route. */
  start(): void {
    const kick = () => this.kick();
    this.nodes.onAdd(kick);
    this.nodes.onUpdate(kick);
    this.nodes.onDelete(kick);
    this.timer = setInterval(kick, this.resyncMs);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Runs a pass now, or right after the one running. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.reconcile()
      .catch((e: Error) => this.log.warn({ err: e.message }, 'pod routes: pass failed, retrying at the next change or resync'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private readState(): RouteTable {
    try {
      return new Map(Object.entries(JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as Record<string, string>));
    } catch {
      return new Map();
    }
  }

  private async reconcile(): Promise<void> {
    const want = desiredRoutes(this.nodes.list(), this.self);
    const had = this.readState();
    const done: RouteTable = new Map();
    let failed: Error | undefined;
    for (const [cidr, via] of want) {
      try {
        await ip(this.ipBin, ['route', 'replace', cidr, 'via', via]);
        done.set(cidr, via);
        if (had.get(cidr) !== via) this.log.info({ cidr, via }, 'route to a node\'s pods added');
      } catch (e) {
        failed ??= e as Error;
        if (had.has(cidr)) done.set(cidr, had.get(cidr)!); // still ours: removed later if its node goes
      }
    }
    for (const [cidr, via] of had) {
      if (want.has(cidr)) continue;
      await ip(this.ipBin, ['route', 'del', cidr, 'via', via]).catch(() => undefined); // already gone is fine
      this.log.info({ cidr, via }, 'route to a node that is gone removed');
    }
    fs.writeFileSync(`${this.stateFile}.tmp`, JSON.stringify(Object.fromEntries(done)));
    fs.renameSync(`${this.stateFile}.tmp`, this.stateFile);
    if (failed) throw failed;
  }
}

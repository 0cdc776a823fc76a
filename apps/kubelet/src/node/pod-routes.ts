// Pod networking between nodes, host-gw style (--configure-pod-routes): a
// route to every other node's spec.podCIDR via that node's InternalIP, for
// nodes on one L2 network (kind-style node containers, a flat LAN). Kubernetes
// leaves this to a network plugin or a cloud route controller; kubets nodes
// do it themselves. Routes this kubelet added are remembered in a state file,
// so a node that goes away loses its route, and routes of anybody else are
// never touched.
//
// The CNI bridge masquerades what its pods send outside their own podCIDR, so
// that pods reach the node's networks; traffic to other nodes' pods is exempt
// (the Kubernetes network model: a pod reaches every pod, on any node, with
// its own address, no NAT). The exemption is one nat chain, first in
// POSTROUTING, rewritten whole with iptables-restore on every pass.
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

/** This node's spec.podCIDR, if it has one. */
export function ownPodCIDR(nodes: readonly Node[], self: string): string | undefined {
  const cidr = (nodes.find((n) => n.metadata.name === self)?.spec as AnyObj | undefined)?.podCIDR as string | undefined;
  return cidr && /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr) ? cidr : undefined;
}

/** The nat chain that keeps pod-to-pod traffic between nodes un-NATed. */
export const NO_MASQ_CHAIN = 'KUBETS-POD-NOMASQ';
const NO_MASQ_COMMENT = 'kubets: pods reach pods on other nodes with their own address';

/**
 * `iptables-restore --noflush` input: declares the chain (created, or emptied
 * if it exists) and fills it in one commit, so it is never half written.
 */
export function noMasqueradeRules(own: string | undefined, others: Iterable<string>): string {
  const lines = ['*nat', `:${NO_MASQ_CHAIN} - [0:0]`];
  if (own) for (const cidr of others) lines.push(`-A ${NO_MASQ_CHAIN} -s ${own} -d ${cidr} -j ACCEPT`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** Runs bin with args (and input on its stdin); rejects with its stderr. */
function run(bin: string, args: string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 10_000 }, (err, _out, stderr) => (err ? reject(new Error(`${bin} ${args.join(' ')}: ${String(stderr).trim() || err.message}`)) : resolve()));
    // A program that exits without reading its input must not fail the write (EPIPE): its exit status tells.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

/**
 * Keeps the routes (and the masquerade exemption) in line with the Node objects: on every Node change (one
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
    private readonly iptablesBin = 'iptables',
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
        await run(this.ipBin, ['route', 'replace', cidr, 'via', via]);
        done.set(cidr, via);
        if (had.get(cidr) !== via) this.log.info({ cidr, via }, 'route to a node\'s pods added');
      } catch (e) {
        failed ??= e as Error;
        if (had.has(cidr)) done.set(cidr, had.get(cidr)!); // still ours: removed later if its node goes
      }
    }
    for (const [cidr, via] of had) {
      if (want.has(cidr)) continue;
      await run(this.ipBin, ['route', 'del', cidr, 'via', via]).catch(() => undefined); // already gone is fine
      this.log.info({ cidr, via }, 'route to a node that is gone removed');
    }
    fs.writeFileSync(`${this.stateFile}.tmp`, JSON.stringify(Object.fromEntries(done)));
    fs.renameSync(`${this.stateFile}.tmp`, this.stateFile);
    await this.exemptFromMasquerade(ownPodCIDR(this.nodes.list(), this.self), want.keys());
    if (failed) throw failed;
  }

  private async exemptFromMasquerade(own: string | undefined, others: Iterable<string>): Promise<void> {
    // -w: the CNI plugins change the same tables while pods start; wait for the lock.
    await run(`${this.iptablesBin}-restore`, ['-w', '--noflush'], noMasqueradeRules(own, others));
    const rule = ['-m', 'comment', '--comment', NO_MASQ_COMMENT, '-j', NO_MASQ_CHAIN];
    const present = await run(this.iptablesBin, ['-w', '-t', 'nat', '-C', 'POSTROUTING', ...rule]).then(
      () => true,
      () => false,
    );
    if (present) return;
    await run(this.iptablesBin, ['-w', '-t', 'nat', '-I', 'POSTROUTING', '1', ...rule]);
    this.log.info({ chain: NO_MASQ_CHAIN }, 'traffic from this node\'s pods to other nodes\' pods is no longer masqueraded');
  }
}

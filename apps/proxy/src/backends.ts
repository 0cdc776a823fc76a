// The two ways of programming the kernel. Each backend keeps what it applied
// last and sends only the difference; after a failure (or at start) it
// rebuilds from scratch (nftables) or from the kernel's own table (IPVS).
import fs from 'node:fs';
import type { Logger } from 'pino';
import { run } from './exec';
import {
  buildIpvsModel,
  buildNftModel,
  countNftRules,
  parseIpvsSave,
  renderIpvsDiff,
  renderNftCleanup,
  renderNftDiff,
  renderNftFull,
  MASQUERADE_MARK,
  TABLE_NAME,
  type IpvsModel,
  type NftModel,
  type ServicePortEntry,
} from './rules';

export interface SyncResult {
  /** bytes of script sent to the kernel (0: nothing changed) */
  scriptBytes: number;
  /** gauges by kind: chains, rules, elements, virtual_servers, real_servers */
  counts: Record<string, number>;
}

export interface Backend {
  readonly mode: 'nftables' | 'ipvs';
  /** Program these service ports. `full`: rewrite everything (periodic resync). */
  sync(ports: readonly ServicePortEntry[], full: boolean): Promise<SyncResult>;
  /** Remove everything this mode creates (--cleanup). */
  cleanup(): Promise<void>;
}

export interface BackendOptions {
  clusterCIDR?: string;
  /** The node addresses NodePorts answer on, read at every sync (addresses may come and go). */
  nodeIPs: () => readonly string[];
  scheduler: string;
  log: Logger;
  nft?: string;
}

export class NftablesBackend implements Backend {
  readonly mode = 'nftables' as const;
  private applied: NftModel | undefined;
  constructor(private readonly o: BackendOptions) {}

  async sync(ports: readonly ServicePortEntry[], full: boolean): Promise<SyncResult> {
    const model = buildNftModel(ports, { clusterCIDR: this.o.clusterCIDR, nodeIPs: this.o.nodeIPs() });
    // First sync (or after a failure): replace the whole table in one transaction.
    const script = this.applied ? renderNftDiff(this.applied, model, full).script : renderNftFull(model);
    if (script) {
      try {
        await run(this.o.nft ?? 'nft', ['-f', '-'], script);
      } catch (e) {
        this.applied = undefined;
        throw e;
      }
    }
    this.applied = model;
    const c = countNftRules(model);
    return { scriptBytes: script.length, counts: { chains: c.chains, rules: c.rules, elements: c.elements } };
  }

  async cleanup(): Promise<void> {
    await run(this.o.nft ?? 'nft', ['-f', '-'], renderNftCleanup());
    this.applied = undefined;
  }
}

export const IPVS_DEVICE = 'kube-ipvs0';

/**
 * IPVS: ClusterIPs on kube-ipvs0 (a dummy device, left down), virtual and
 * real servers through ipvsadm-restore (diffed against `ipvsadm-save -n`
 * after a start or failure), and a constant-size nftables table for
 * masquerading (traffic from outside the cluster CIDR and hairpin), with
 * the endpoint pairs in a set.
 */
export class IpvsBackend implements Backend {
  readonly mode = 'ipvs' as const;
  private applied: IpvsModel | undefined;
  private addresses = new Set<string>();
  private lastNft = '';
  constructor(private readonly o: BackendOptions) {}

  private async ensureDevice(): Promise<void> {
    if (fs.existsSync(`/sys/class/net/${IPVS_DEVICE}`)) return;
    await run('ip', ['link', 'add', IPVS_DEVICE, 'type', 'dummy']);
    const out = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', IPVS_DEVICE]);
    this.addresses = new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]!));
  }

  async sync(ports: readonly ServicePortEntry[], full: boolean): Promise<SyncResult> {
    await this.ensureDevice();
    const model = buildIpvsModel(ports, { scheduler: this.o.scheduler, nodeIPs: this.o.nodeIPs() });
    if (!this.applied || full) {
      this.applied = parseIpvsSave(await run('ipvsadm-save', ['-n']));
      const out = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', IPVS_DEVICE]);
      this.addresses = new Set([...out.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/32/g)].map((m) => m[1]!));
    }
    const want = new Set(model.addresses);
    const batch = [
      ...model.addresses.filter((a) => !this.addresses.has(a)).map((a) => `address add ${a}/32 dev ${IPVS_DEVICE}`),
      ...[...this.addresses].filter((a) => !want.has(a)).map((a) => `address del ${a}/32 dev ${IPVS_DEVICE}`),
    ];
    let bytes = 0;
    try {
      if (batch.length > 0) await run('ip', ['-batch', '-'], `${batch.join('\n')}\n`);
      this.addresses = want;
      const script = renderIpvsDiff(this.applied, model);
      // `ipvsadm -R`, not Debian's ipvsadm-restore: that wrapper runs `ipvsadm -C`
      // first, so an incremental script would wipe every other virtual server
      // (and its -d/-a lines then fail). A full script starts with -C itself.
      if (script) await run('ipvsadm', ['-R'], script);
      bytes += script.length;
      const nft = this.renderNft(ports);
      if (full || nft !== this.lastNft) {
        await run(this.o.nft ?? 'nft', ['-f', '-'], nft);
        bytes += nft.length;
        this.lastNft = nft;
      }
    } catch (e) {
      this.applied = undefined;
      this.lastNft = '';
      throw e;
    }
    this.applied = model;
    let real = 0;
    for (const v of model.virtualServers.values()) real += v.realServers.length;
    return { scriptBytes: bytes, counts: { virtual_servers: model.virtualServers.size, real_servers: real, addresses: model.addresses.length } };
  }

  /** The masquerade table of IPVS mode: a fixed set of rules, sets filled per sync. */
  private renderNft(ports: readonly ServicePortEntry[]): string {
    const vips = [...new Set(ports.map((p) => p.clusterIP))].sort();
    const loops = [...new Set(ports.flatMap((p) => p.endpoints.map((e) => `${e.ip} . ${e.ip}`)))].sort();
    const el = (xs: string[]) => (xs.length > 0 ? `\n\t\telements = { ${xs.join(', ')} }` : '');
    const masqFromOutside = this.o.clusterCIDR ? `\n\t\tip daddr @cluster-ips ip saddr != ${this.o.clusterCIDR} meta mark set meta mark | ${MASQUERADE_MARK}` : '';
    return `add table ip ${TABLE_NAME}
delete table ip ${TABLE_NAME}
table ip ${TABLE_NAME} {
\tset cluster-ips {
\t\ttype ipv4_addr${el(vips)}
\t}
\tset hairpin-endpoints {
\t\ttype ipv4_addr . ipv4_addr${el(loops)}
\t}
\tchain nat-prerouting {
\t\ttype nat hook prerouting priority -100; policy accept;${masqFromOutside}
\t}
\tchain nat-output {
\t\ttype nat hook output priority -100; policy accept;${masqFromOutside}
\t}
\tchain nat-postrouting {
\t\ttype nat hook postrouting priority 100; policy accept;
\t\tip saddr . ip daddr @hairpin-endpoints masquerade
\t\tmeta mark & ${MASQUERADE_MARK} == 0 return
\t\tmeta mark set meta mark ^ ${MASQUERADE_MARK}
\t\tmasquerade fully-random
\t}
}
`;
  }

  async cleanup(): Promise<void> {
    if (fs.existsSync('/proc/net/ip_vs')) await run('ipvsadm', ['-C']);
    if (fs.existsSync(`/sys/class/net/${IPVS_DEVICE}`)) await run('ip', ['link', 'del', IPVS_DEVICE]);
    await run(this.o.nft ?? 'nft', ['-f', '-'], renderNftCleanup());
    this.applied = undefined;
  }
}

// IPVS mode: one virtual server per service port (ClusterIP:port and, for
// NodePorts, every node IP:nodePort) with the configured scheduler and, for
// sessionAffinity ClientIP, persistence with its timeout; one masquerading
// real server per ready endpoint. Rendered as `ipvsadm-restore` input (a full
// table, or the commands between two tables) plus the addresses kube-ipvs0
// must hold. Pure functions.
import type { ServicePortEntry } from './model';

export interface IpvsOptions {
  /** --ipvs-scheduler (rr, wrr, lc, ...) */
  scheduler?: string;
  nodeIPs?: readonly string[];
}

export interface VirtualServer {
  /** "-t 10.96.0.10:80" */
  service: string;
  scheduler: string;
  persistenceSeconds?: number;
  /** "10.244.1.5:8080", sorted */
  realServers: string[];
}

export interface IpvsModel {
  /** by service key ("-t VIP:port"), sorted */
  virtualServers: Map<string, VirtualServer>;
  /** ClusterIPs to bind on kube-ipvs0 (sorted, unique) */
  addresses: string[];
}

const FLAG = { tcp: '-t', udp: '-u', sctp: '--sctp-service' } as const;

export function buildIpvsModel(ports: readonly ServicePortEntry[], opts: IpvsOptions = {}): IpvsModel {
  const scheduler = opts.scheduler ?? 'rr';
  const vs = new Map<string, VirtualServer>();
  const addresses = new Set<string>();
  for (const sp of ports) {
    const real = sp.endpoints.map((e) => `${e.ip}:${e.port}`);
    const fronts = [`${sp.clusterIP}:${sp.port}`];
    addresses.add(sp.clusterIP);
    if (sp.nodePort) for (const ip of opts.nodeIPs ?? []) fronts.push(`${ip}:${sp.nodePort}`);
    for (const f of fronts) {
      const service = `${FLAG[sp.protocol]} ${f}`;
      vs.set(service, { service, scheduler, ...(sp.affinityTimeoutSeconds !== undefined ? { persistenceSeconds: sp.affinityTimeoutSeconds } : {}), realServers: real });
    }
  }
  const sorted = new Map([...vs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { virtualServers: sorted, addresses: [...addresses].sort() };
}

function addVs(v: VirtualServer, edit = false): string {
  return `${edit ? '-E' : '-A'} ${v.service} -s ${v.scheduler}${v.persistenceSeconds !== undefined ? ` -p ${v.persistenceSeconds}` : ''}`;
}

function addRs(v: VirtualServer, rs: string): string {
  return `-a ${v.service} -r ${rs} -m -w 1`;
}

/** The whole IPVS table as `ipvsadm-restore` input: clear (-C), then every virtual and real server. */
export function renderIpvsFull(model: IpvsModel): string {
  const lines = ['-C'];
  for (const v of model.virtualServers.values()) {
    lines.push(addVs(v));
    for (const rs of v.realServers) lines.push(addRs(v, rs));
  }
  return `${lines.join('\n')}\n`;
}

/** `ipvsadm-restore` input that turns `prev` into `next`: stale servers deleted, new ones added, changed ones edited. */
export function renderIpvsDiff(prev: IpvsModel, next: IpvsModel): string {
  const lines: string[] = [];
  for (const [k, old] of prev.virtualServers) if (!next.virtualServers.has(k)) lines.push(`-D ${old.service}`);
  for (const [k, v] of next.virtualServers) {
    const old = prev.virtualServers.get(k);
    if (!old) {
      lines.push(addVs(v));
      for (const rs of v.realServers) lines.push(addRs(v, rs));
      continue;
    }
    if (old.scheduler !== v.scheduler || old.persistenceSeconds !== v.persistenceSeconds) lines.push(addVs(v, true));
    for (const rs of old.realServers) if (!v.realServers.includes(rs)) lines.push(`-d ${v.service} -r ${rs}`);
    for (const rs of v.realServers) if (!old.realServers.includes(rs)) lines.push(addRs(v, rs));
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** The addresses file of a golden test: what kube-ipvs0 holds, one /32 a line. */
export function renderIpvsAddresses(model: IpvsModel): string {
  return model.addresses.map((a) => `${a}/32`).join('\n') + (model.addresses.length > 0 ? '\n' : '');
}

/** Parses `ipvsadm-save -n` output (the kernel's table) into a model, to diff against after a restart. */
export function parseIpvsSave(text: string): IpvsModel {
  const vs = new Map<string, VirtualServer>();
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] === '-A') {
      const service = `${t[1]} ${t[2]}`;
      const s = t.indexOf('-s');
      const p = t.indexOf('-p');
      vs.set(service, { service, scheduler: s > 0 ? t[s + 1]! : 'wlc', ...(p > 0 ? { persistenceSeconds: Number(t[p + 1]) } : {}), realServers: [] });
    } else if (t[0] === '-a') {
      const r = t.indexOf('-r');
      vs.get(`${t[1]} ${t[2]}`)?.realServers.push(t[r + 1]!);
    }
  }
  return { virtualServers: vs, addresses: [] };
}

// nftables mode: the rules of one table, `ip kubets`, in the design of
// kube-proxy's nftables proxier: verdict maps from ClusterIP . protocol . port
// (and protocol . nodePort) to a chain per service port, which picks an
// endpoint chain with `numgen random mod N`, which DNATs. Service ports
// without ready endpoints are rejected in filter chains at priority -110
// (before DNAT). Pure functions: a model of the table, its full text (an
// `nft -f` script that atomically replaces the table) and the incremental
// script between two models.
import { createHash } from 'node:crypto';
import type { ServicePortEntry } from './model';

export const TABLE_FAMILY = 'ip';
export const TABLE_NAME = 'kubets';
/** kube-proxy's masquerade mark bit. */
export const MASQUERADE_MARK = '0x00004000';

export interface NftOptions {
  /** the cluster's pod CIDR: traffic to a ClusterIP from outside it is masqueraded (kube-proxy's --cluster-cidr) */
  clusterCIDR?: string;
  /** this node's addresses, on which NodePorts answer */
  nodeIPs?: readonly string[];
}

export interface NftSet {
  name: string;
  /** declaration lines inside the braces, e.g. "type ipv4_addr", "flags dynamic,timeout" */
  decl: string[];
  /** key -> element text (for maps "key : value"); a dynamic set has none */
  elements: Map<string, string>;
  /** sets the kernel fills at run time (affinity): never flushed */
  dynamic?: boolean;
  kind: 'set' | 'map';
}

export interface NftChain {
  name: string;
  /** "type nat hook prerouting priority -100; policy accept;" for a base chain */
  base?: string;
  rules: string[];
}

/** Everything in the table: ordered maps (insertion order is the rendering order). */
export interface NftModel {
  sets: Map<string, NftSet>;
  chains: Map<string, NftChain>;
}

/** kube-proxy's hash prefix: the first 8 characters of base32(sha256(name)). */
export function hashPrefix(name: string): string {
  const digest = createHash('sha256').update(name).digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of digest) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 8) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 8) break;
  }
  return out;
}

/** "ns/name/tcp/portname" (or ".../p<port>" for an unnamed port): valid in nft identifiers. */
function baseName(sp: ServicePortEntry): string {
  return `${sp.namespace}/${sp.name}/${sp.protocol}/${sp.portName || `p${sp.port}`}`;
}

export function serviceChainName(sp: ServicePortEntry): string {
  const b = baseName(sp);
  return `service-${hashPrefix(b)}-${b}`;
}

export function externalChainName(sp: ServicePortEntry): string {
  const b = baseName(sp);
  return `external-${hashPrefix(b)}-${b}`;
}

export function endpointChainName(sp: ServicePortEntry, ep: { ip: string; port: number }): string {
  const b = `${baseName(sp)}__${ep.ip}/${ep.port}`;
  return `endpoint-${hashPrefix(b)}-${b}`;
}

export function affinitySetName(sp: ServicePortEntry, ep: { ip: string; port: number }): string {
  const b = `${baseName(sp)}__${ep.ip}/${ep.port}`;
  return `affinity-${hashPrefix(b)}-${b}`;
}

function set(name: string, kind: 'set' | 'map', decl: string[], dynamic = false): NftSet {
  return { name, kind, decl, elements: new Map(), ...(dynamic ? { dynamic } : {}) };
}

/** The model of table `ip kubets` for these service ports. */
export function buildNftModel(ports: readonly ServicePortEntry[], opts: NftOptions = {}): NftModel {
  const sets = new Map<string, NftSet>();
  const chains = new Map<string, NftChain>();
  const addSet = (s: NftSet) => (sets.set(s.name, s), s);
  const addChain = (c: NftChain) => (chains.set(c.name, c), c);

  const nodeIPs = addSet(set('nodeport-ips', 'set', ['type ipv4_addr', 'comment "IPs that accept NodePort traffic"']));
  for (const ip of opts.nodeIPs ?? []) nodeIPs.elements.set(ip, ip);
  const serviceIPs = addSet(set('service-ips', 'map', ['type ipv4_addr . inet_proto . inet_service : verdict', 'comment "ClusterIP, protocol and port to service chain"']));
  const serviceNodePorts = addSet(set('service-nodeports', 'map', ['type inet_proto . inet_service : verdict', 'comment "NodePort to external chain"']));
  const noEndpointServices = addSet(set('no-endpoint-services', 'map', ['type ipv4_addr . inet_proto . inet_service : verdict', 'comment "service ports with no ready endpoints"']));
  const noEndpointNodePorts = addSet(set('no-endpoint-nodeports', 'map', ['type inet_proto . inet_service : verdict', 'comment "NodePorts with no ready endpoints"']));

  // Base chains: filter before DNAT (reject service ports without endpoints), nat hooks.
  addChain({ name: 'filter-input', base: 'type filter hook input priority -110; policy accept;', rules: ['ct state new jump nodeport-endpoints-check', 'ct state new jump service-endpoints-check'] });
  addChain({ name: 'filter-forward', base: 'type filter hook forward priority -110; policy accept;', rules: ['ct state new jump service-endpoints-check'] });
  addChain({ name: 'filter-output', base: 'type filter hook output priority -110; policy accept;', rules: ['ct state new jump service-endpoints-check', 'ct state new jump nodeport-endpoints-check'] });
  addChain({ name: 'nat-prerouting', base: 'type nat hook prerouting priority -100; policy accept;', rules: ['jump services'] });
  addChain({ name: 'nat-output', base: 'type nat hook output priority -100; policy accept;', rules: ['jump services'] });
  addChain({ name: 'nat-postrouting', base: 'type nat hook postrouting priority 100; policy accept;', rules: ['jump masquerading'] });
  // Regular chains shared by every service.
  addChain({ name: 'service-endpoints-check', rules: ['ip daddr . meta l4proto . th dport vmap @no-endpoint-services'] });
  addChain({ name: 'nodeport-endpoints-check', rules: ['ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports'] });
  addChain({ name: 'reject-chain', rules: ['meta l4proto tcp reject with tcp reset', 'reject'] });
  addChain({ name: 'mark-for-masquerade', rules: [`meta mark set meta mark | ${MASQUERADE_MARK}`] });
  addChain({
    name: 'masquerading',
    rules: [`meta mark & ${MASQUERADE_MARK} == 0 return`, `meta mark set meta mark ^ ${MASQUERADE_MARK}`, 'masquerade fully-random'],
  });
  addChain({ name: 'services', rules: ['ip daddr . meta l4proto . th dport vmap @service-ips', 'ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports'] });

  for (const sp of ports) {
    const key = `${sp.clusterIP} . ${sp.protocol} . ${sp.port}`;
    const npKey = sp.nodePort ? `${sp.protocol} . ${sp.nodePort}` : undefined;
    if (sp.endpoints.length === 0) {
      noEndpointServices.elements.set(key, `${key} : goto reject-chain`);
      if (npKey) noEndpointNodePorts.elements.set(npKey, `${npKey} : goto reject-chain`);
      continue;
    }
    const svcChain = serviceChainName(sp);
    serviceIPs.elements.set(key, `${key} : goto ${svcChain}`);
    const rules: string[] = [];
    if (opts.clusterCIDR) rules.push(`ip daddr ${sp.clusterIP} ${sp.protocol} dport ${sp.port} ip saddr != ${opts.clusterCIDR} jump mark-for-masquerade`);
    const epChains = sp.endpoints.map((ep) => endpointChainName(sp, ep));
    if (sp.affinityTimeoutSeconds !== undefined) {
      sp.endpoints.forEach((ep, i) => rules.push(`ip saddr @${affinitySetName(sp, ep)} goto ${epChains[i]}`));
    }
    rules.push(`numgen random mod ${sp.endpoints.length} vmap { ${epChains.map((c, i) => `${i} : goto ${c}`).join(', ')} }`);
    addChain({ name: svcChain, rules });
    sp.endpoints.forEach((ep, i) => {
      const epRules = [`ip saddr ${ep.ip} jump mark-for-masquerade`];
      if (sp.affinityTimeoutSeconds !== undefined) {
        const aff = affinitySetName(sp, ep);
        addSet(set(aff, 'set', ['type ipv4_addr', 'flags dynamic,timeout', `timeout ${sp.affinityTimeoutSeconds}s`], true));
        epRules.push(`update @${aff} { ip saddr }`);
      }
      epRules.push(`meta l4proto ${sp.protocol} dnat to ${ep.ip}:${ep.port}`);
      addChain({ name: epChains[i]!, rules: epRules });
    });
    if (npKey) {
      const ext = externalChainName(sp);
      serviceNodePorts.elements.set(npKey, `${npKey} : goto ${ext}`);
      addChain({ name: ext, rules: ['jump mark-for-masquerade', `goto ${svcChain}`] });
    }
  }
  return { sets, chains };
}

const T = `${TABLE_FAMILY} ${TABLE_NAME}`;

function renderSetBody(s: NftSet, indent: string): string[] {
  const lines = s.decl.map((d) => `${indent}${d}`);
  if (s.elements.size > 0) lines.push(`${indent}elements = { ${[...s.elements.values()].join(`,\n${indent}             `)} }`);
  return lines;
}

/**
 * The whole table as an `nft -f` script that replaces it atomically: the
 * table is added (so the delete cannot fail), deleted and defined again in one
 * transaction; traffic never sees a missing table.
 */
export function renderNftFull(model: NftModel): string {
  const out: string[] = [`add table ${T}`, `delete table ${T}`, `table ${T} {`, '\tcomment "kubets-proxy: Service load balancing"'];
  for (const s of model.sets.values()) {
    out.push(`\t${s.kind} ${s.name} {`, ...renderSetBody(s, '\t\t'), '\t}');
  }
  for (const c of model.chains.values()) {
    out.push(`\tchain ${c.name} {`);
    if (c.base) out.push(`\t\t${c.base}`);
    for (const r of c.rules) out.push(`\t\t${r}`);
    out.push('\t}');
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

function sameRules(a: NftChain | undefined, b: NftChain): boolean {
  return !!a && a.base === b.base && a.rules.length === b.rules.length && a.rules.every((r, i) => r === b.rules[i]);
}

export interface NftDiff {
  script: string;
  /** chains added, rewritten, deleted; map/set elements added and deleted */
  stats: { chainsAdded: number; chainsChanged: number; chainsDeleted: number; elementsAdded: number; elementsDeleted: number };
}

/**
 * The script that turns table `prev` (as applied) into `next`, touching only
 * what changed: new chains and sets are added, changed chains flushed and
 * refilled, map elements added and deleted one by one, stale chains and sets
 * deleted (after everything that referenced them). `full` rewrites every chain
 * and map (the periodic resync) without touching the affinity sets' contents.
 * An empty script means nothing changed.
 */
export function renderNftDiff(prev: NftModel, next: NftModel, full = false): NftDiff {
  const stats = { chainsAdded: 0, chainsChanged: 0, chainsDeleted: 0, elementsAdded: 0, elementsDeleted: 0 };
  const adds: string[] = [];
  const fills: string[] = [];
  const elemDeletes: string[] = [];
  const elemAdds: string[] = [];
  const deletes: string[] = [];
  for (const s of next.sets.values()) {
    const old = prev.sets.get(s.name);
    if (!old) adds.push(`add ${s.kind} ${T} ${s.name} { ${s.decl.join('; ')}; }`);
    if (s.dynamic) continue;
    if (full && old) {
      elemDeletes.push(`flush ${s.kind} ${T} ${s.name}`);
      if (s.elements.size > 0) elemAdds.push(`add element ${T} ${s.name} { ${[...s.elements.values()].join(', ')} }`);
      stats.elementsAdded += s.elements.size;
      continue;
    }
    const removed = old ? [...old.elements.entries()].filter(([k, v]) => s.elements.get(k) !== v).map(([k]) => k) : [];
    const added = [...s.elements.entries()].filter(([k, v]) => old?.elements.get(k) !== v).map(([, v]) => v);
    if (removed.length > 0) elemDeletes.push(`delete element ${T} ${s.name} { ${removed.join(', ')} }`);
    if (added.length > 0) elemAdds.push(`add element ${T} ${s.name} { ${added.join(', ')} }`);
    stats.elementsAdded += added.length;
    stats.elementsDeleted += removed.length;
  }
  for (const c of next.chains.values()) {
    const old = prev.chains.get(c.name);
    if (!old) {
      adds.push(c.base ? `add chain ${T} ${c.name} { ${c.base} }` : `add chain ${T} ${c.name}`);
      stats.chainsAdded++;
    } else if (!full && sameRules(old, c)) continue;
    else {
      fills.push(`flush chain ${T} ${c.name}`);
      stats.chainsChanged++;
    }
    for (const r of c.rules) fills.push(`add rule ${T} ${c.name} ${r}`);
  }
  // Stale chains: referrers first (service chains reference endpoint chains).
  const order = (n: string) => (n.startsWith('external-') ? 0 : n.startsWith('service-') ? 1 : 2);
  const stale = [...prev.chains.keys()].filter((n) => !next.chains.has(n)).sort((a, b) => order(a) - order(b));
  for (const n of stale) {
    deletes.push(`delete chain ${T} ${n}`);
    stats.chainsDeleted++;
  }
  for (const s of prev.sets.values()) if (!next.sets.has(s.name)) deletes.push(`delete ${s.kind} ${T} ${s.name}`);
  const lines = [...adds, ...fills, ...elemDeletes, ...elemAdds, ...deletes];
  return { script: lines.length > 0 ? `${lines.join('\n')}\n` : '', stats };
}

/** The script that removes the table (--cleanup); `add` first so it succeeds when the table is absent. */
export function renderNftCleanup(): string {
  return `add table ${T}\ndelete table ${T}\n`;
}

/** Rule count of a model (a metric): rules in chains plus map/set elements. */
export function countNftRules(model: NftModel): { chains: number; rules: number; elements: number } {
  let rules = 0;
  let elements = 0;
  for (const c of model.chains.values()) rules += c.rules.length;
  for (const s of model.sets.values()) elements += s.elements.size;
  return { chains: model.chains.size, rules, elements };
}

import * as am from '@kubets/api-machinery';
import type { KObject, ResourceDef } from '../registry/types';
import type { SideEffects, Store } from '../storage/store';

/**
 * ClusterIP and NodePort allocation. Every allocated IP or port is a key of
 * its own in the KV, created in the same transaction as the Service that
 * holds it and deleted with it, so two API servers can never hand out the
 * same address (the transaction of the second fails and it picks another).
 */
const IP_PREFIX = '/kubets/allocations/clusterip/';
const PORT_PREFIX = '/kubets/allocations/nodeport/';

export type Cidr = am.Cidr;
const { ipToString, ipToNumber } = am;

/** A Service IP range: IPv4, from /8 to /30. */
export function parseCidr(text: string): Cidr {
  return am.parseCidr(text, 8, 30);
}

/** The first usable address of the range: the `kubernetes` Service's ClusterIP. */
export function firstServiceIp(c: Cidr): string {
  return ipToString(c.base + 1);
}

function needsClusterIp(svc: KObject): boolean {
  const type = svc.spec?.type ?? 'ClusterIP';
  return type !== 'ExternalName' && svc.spec?.clusterIP !== 'None';
}

function needsNodePorts(svc: KObject): boolean {
  const type = svc.spec?.type;
  return type === 'NodePort' || type === 'LoadBalancer';
}

export class Allocators {
  private usedIps: Set<string> | undefined;
  private usedPorts: Set<number> | undefined;

  constructor(
    private readonly store: Store,
    readonly serviceRange: Cidr,
    readonly nodePortRange: { min: number; max: number } = { min: 30000, max: 32767 },
  ) {}

  invalidate(): void {
    this.usedIps = undefined;
    this.usedPorts = undefined;
  }

  private async ips(): Promise<Set<string>> {
    this.usedIps ??= new Set((await this.store.keys(IP_PREFIX)).map((k) => k.slice(IP_PREFIX.length)));
    return this.usedIps;
  }

  private async ports(): Promise<Set<number>> {
    this.usedPorts ??= new Set((await this.store.keys(PORT_PREFIX)).map((k) => Number(k.slice(PORT_PREFIX.length))));
    return this.usedPorts;
  }

  private invalid(svc: KObject, field: string, value: unknown, detail: string): am.StatusError {
    return am.invalid('', 'Service', String(svc.metadata?.name ?? ''), [
      { reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` },
    ]);
  }

  async forCreate(def: ResourceDef, obj: KObject): Promise<SideEffects> {
    if (def.resource !== 'services') return {};
    return this.allocate(obj, undefined);
  }

  async forUpdate(def: ResourceDef, obj: KObject, old: KObject): Promise<SideEffects> {
    if (def.resource !== 'services') return {};
    return this.allocate(obj, old);
  }

  forDelete(def: ResourceDef, old: KObject): SideEffects {
    if (def.resource !== 'services') return {};
    const del: string[] = [];
    for (const ip of old.spec?.clusterIPs ?? (old.spec?.clusterIP ? [old.spec.clusterIP] : [])) {
      if (ipToNumber(ip) !== undefined) del.push(IP_PREFIX + ip);
    }
    for (const p of old.spec?.ports ?? []) if (p.nodePort) del.push(PORT_PREFIX + p.nodePort);
    return { delete: del };
  }

  private async allocate(svc: KObject, old: KObject | undefined): Promise<SideEffects> {
    const side: Required<SideEffects> = { create: [], delete: [] };
    const owner = `${svc.metadata.namespace}/${svc.metadata.name}`;
    svc.spec ??= {};
    // ClusterIP
    if (needsClusterIp(svc)) {
      const had = old?.spec?.clusterIP && old.spec.clusterIP !== 'None' ? old.spec.clusterIP : undefined;
      let ip: string | undefined = svc.spec.clusterIP || undefined;
      if (had && (!ip || ip === had)) ip = had;
      else if (ip) {
        const n = ipToNumber(ip);
        if (n === undefined) throw this.invalid(svc, 'spec.clusterIPs[0]', ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)');
        if (n < this.serviceRange.base || n >= this.serviceRange.base + this.serviceRange.size) {
          throw this.invalid(svc, 'spec.clusterIPs[0]', ip, `failed to allocate IP ${ip}: the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.serviceRange.text}`);
        }
        this.usedIps = undefined;
        if ((await this.ips()).has(ip)) throw this.invalid(svc, 'spec.clusterIPs[0]', ip, `failed to allocate IP ${ip}: provided IP is already allocated`);
        side.create.push({ key: IP_PREFIX + ip, value: owner });
      } else {
        ip = await this.pickIp();
        side.create.push({ key: IP_PREFIX + ip, value: owner });
      }
      svc.spec.clusterIP = ip;
      svc.spec.clusterIPs = [ip];
    } else if (svc.spec.clusterIP === 'None') {
      svc.spec.clusterIPs = ['None'];
    }
    if (old?.spec?.clusterIP && old.spec.clusterIP !== 'None' && old.spec.clusterIP !== svc.spec.clusterIP) side.delete.push(IP_PREFIX + old.spec.clusterIP);
    // NodePorts
    const oldPorts = new Set<number>((old?.spec?.ports ?? []).map((p: KObject) => p.nodePort).filter(Boolean));
    const keep = new Set<number>();
    if (needsNodePorts(svc)) {
      if ((svc.spec.ports ?? []).some((p: KObject) => p.nodePort)) this.usedPorts = undefined;
      const used = await this.ports();
      for (const [i, p] of (svc.spec.ports ?? []).entries()) {
        if (p.nodePort) {
          const n = Number(p.nodePort);
          if (!Number.isInteger(n) || n < this.nodePortRange.min || n > this.nodePortRange.max) {
            throw this.invalid(svc, `spec.ports[${i}].nodePort`, p.nodePort, `provided port is not in the valid range. The range of valid ports is ${this.nodePortRange.min}-${this.nodePortRange.max}`);
          }
          if (!oldPorts.has(n)) {
            if (used.has(n) || keep.has(n)) throw this.invalid(svc, `spec.ports[${i}].nodePort`, n, 'provided port is already allocated');
            side.create.push({ key: PORT_PREFIX + n, value: owner });
          }
          keep.add(n);
        } else {
          const n = this.pickPort(used, keep);
          p.nodePort = n;
          keep.add(n);
          side.create.push({ key: PORT_PREFIX + n, value: owner });
        }
      }
    } else {
      for (const p of svc.spec.ports ?? []) delete p.nodePort;
    }
    for (const n of oldPorts) if (!keep.has(n)) side.delete.push(PORT_PREFIX + n);
    return side;
  }

  private async pickIp(): Promise<string> {
    const used = await this.ips();
    const { base, size } = this.serviceRange;
    // Skip the network address, the kubernetes Service's .1 and the broadcast address.
    const usable = size - 3;
    if (used.size >= usable) throw am.internal(`failed to allocate a serviceIP: range is full`);
    const start = Math.floor(Math.random() * usable);
    for (let i = 0; i < usable; i++) {
      const ip = ipToString(base + 2 + ((start + i) % usable));
      if (!used.has(ip)) {
        used.add(ip);
        return ip;
      }
    }
    throw am.internal('failed to allocate a serviceIP: range is full');
  }

  private pickPort(used: Set<number>, taken: Set<number>): number {
    const { min, max } = this.nodePortRange;
    const n = max - min + 1;
    const start = Math.floor(Math.random() * n);
    for (let i = 0; i < n; i++) {
      const p = min + ((start + i) % n);
      if (!used.has(p) && !taken.has(p)) return p;
    }
    throw am.internal('failed to allocate a nodePort: range is full');
  }

  /** Reserve a specific IP for a system Service (the kubernetes Service's first IP). */
  reserveIp(ip: string, owner: string): SideEffects {
    return { create: [{ key: IP_PREFIX + ip, value: owner }] };
  }
}

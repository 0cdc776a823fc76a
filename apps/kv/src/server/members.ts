import crypto from 'node:crypto';
import type { Member } from '@kubets/proto/etcd/etcdserverpb/rpc';

/**
 * Cluster membership. Member ids are derived like etcd's (a hash of the
 * member's peer URLs and the cluster token), so every member computes the
 * same ids from the same --initial-cluster. They are kept below 2^53 because
 * they double as Raft node ids (JS numbers).
 */

const ID_MASK = (1n << 53n) - 1n;

function hashToId(parts: string[]): number {
  const digest = crypto.createHash('sha1').update(parts.join('\n')).digest();
  const id = Number(digest.readBigUInt64BE(0) & ID_MASK);
  return id === 0 ? 1 : id;
}

export function memberId(peerUrls: readonly string[], clusterToken: string): number {
  return hashToId([...peerUrls].sort().concat(clusterToken));
}

export function clusterId(memberIds: readonly number[]): number {
  return hashToId([...memberIds].sort((a, b) => a - b).map(String));
}

export interface MemberRecord {
  id: number;
  /** Empty until the member has started and published its attributes. */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** Parse etcd's --initial-cluster: "name1=http://a:2380,name2=http://b:2380" (a name may repeat for several URLs). */
export function parseInitialCluster(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`--initial-cluster: "${part}" is not name=peerURL`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    try {
      new URL(url);
    } catch {
      throw new Error(`--initial-cluster: "${url}" is not a URL`);
    }
    out.set(name, [...(out.get(name) ?? []), url]);
  }
  if (out.size === 0) throw new Error('--initial-cluster is empty');
  return out;
}

export function dialableClientUrl(url: string): string {
  return url.startsWith('http://') ? url.slice('http://'.length).replace(/\/$/, '') : url;
}

/** The membership every member keeps (replicated through Raft conf changes and attribute entries). */
export class Membership {
  private readonly members = new Map<number, MemberRecord>();
  readonly removed = new Set<number>();

  constructor(public clusterId: number) {}

  get ids(): number[] {
    return [...this.members.keys()];
  }

  get(id: number): MemberRecord | undefined {
    return this.members.get(id);
  }

  all(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => a.id - b.id);
  }

  add(record: MemberRecord): void {
    this.members.set(record.id, record);
  }

  remove(id: number): void {
    this.members.delete(id);
    this.removed.add(id);
  }

  setAttributes(id: number, name: string, clientUrls: string[]): void {
    const m = this.members.get(id);
    if (m) {
      m.name = name;
      m.clientUrls = clientUrls;
    }
  }

  /** New peer URLs for a member (etcdctl member update). */
  setPeerUrls(id: number, peerUrls: string[]): void {
    const m = this.members.get(id);
    if (m) m.peerUrls = [...peerUrls];
  }

  promote(id: number): void {
    const m = this.members.get(id);
    if (m) m.isLearner = false;
  }

  /**
   * Members as MemberList reports them. Plain-HTTP client URLs are given as
   * host:port: clientv3 3.4 dials a member URL with the whole URL as the
   * HTTP/2 :authority ("http://host:port"), which grpc-go accepts but Node's
   * HTTP/2 stack refuses (PROTOCOL_ERROR); host:port endpoints dial the same
   * server without that problem (etcdctl endpoint status --cluster).
   */
  toProto(): Member[] {
    return this.all().map((m) => ({
      ID: BigInt(m.id),
      name: m.name,
      peerURLs: m.peerUrls,
      clientURLs: m.clientUrls.map(dialableClientUrl),
      isLearner: m.isLearner,
    }));
  }

  restore(records: MemberRecord[], removed: number[]): void {
    this.members.clear();
    for (const r of records) this.members.set(r.id, { ...r });
    this.removed.clear();
    for (const id of removed) this.removed.add(id);
  }
}

import fs from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
}

/**
 * kube-apiserver's --token-auth-file: CSV lines `token,user,uid[,"group1,group2"]`.
 */
export function parseTokenFile(text: string): Map<string, UserInfo> {
  const users = new Map<string, UserInfo>();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const fields = splitCsv(trimmed);
    if (fields.length < 3) throw new Error(`token file line ${i + 1}: expected token,user,uid[,"groups"], got ${fields.length} fields`);
    const [token, name, uid, groups] = fields as [string, string, string, string | undefined];
    if (!token || !name) throw new Error(`token file line ${i + 1}: empty token or user`);
    users.set(token, { name, uid, groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [] });
  });
  return users;
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export class Authenticator {
  private tokens = new Map<string, UserInfo>();

  constructor(tokenFile?: string) {
    if (tokenFile) this.tokens = parseTokenFile(fs.readFileSync(tokenFile, 'utf8'));
  }

  get tokenCount(): number {
    return this.tokens.size;
  }

  /** The user a request authenticates as, or undefined (401). */
  authenticate(req: IncomingMessage): UserInfo | undefined {
    const h = req.headers.authorization;
    if (h) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      if (!m) return undefined;
      return this.byToken(m[1]!);
    }
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate === 'function' && sock.authorized) {
      const cert = sock.getPeerCertificate();
      const cn = cert?.subject?.CN;
      if (cn) {
        const o = cert.subject.O;
        const groups = Array.isArray(o) ? o : o ? [o] : [];
        return { name: Array.isArray(cn) ? cn[0]! : cn, groups: [...groups, 'system:authenticated'] };
      }
    }
    return undefined;
  }

  byToken(token: string): UserInfo | undefined {
    // Compare in constant time per candidate so timing does not reveal a token prefix.
    const want = Buffer.from(token);
    for (const [t, u] of this.tokens) {
      const have = Buffer.from(t);
      if (have.length === want.length && timingSafeEqual(have, want)) return { ...u, groups: [...u.groups, 'system:authenticated'] };
    }
    return undefined;
  }
}

/** Who a request without credentials is (Kubernetes' anonymous user). */
export const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

/** The ConfigMap joining nodes discover the cluster from (kubeadm's bootstrap-token discovery). */
export const CLUSTER_INFO = { namespace: 'kube-public', name: 'cluster-info' } as const;
const CLUSTER_INFO_PATH = `/api/v1/namespaces/${CLUSTER_INFO.namespace}/configmaps/${CLUSTER_INFO.name}`;

/**
 * The one thing an anonymous request may do: GET kube-public/cluster-info, as
 * the Role kubeadm binds to system:anonymous (kubeadm:bootstrap-signer-clusterinfo)
 * allows. A node that is joining has no credentials the server accepts yet and
 * must not trust the server yet either: it checks what it reads against the CA
 * hash it was given. There is no RBAC yet, so the rule lives here; everything
 * else stays 401 (not 403) for anonymous requests, as before.
 *
 * Exact path match on purpose: no list, no watch, no other spelling of the name.
 */
export function anonymousMayAccess(method: string | undefined, pathname: string, query: URLSearchParams): boolean {
  if (method !== 'GET' || pathname !== CLUSTER_INFO_PATH) return false;
  const watch = query.get('watch');
  return watch !== 'true' && watch !== '1';
}

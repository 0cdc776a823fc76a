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

// Bootstrap tokens and kube-apiserver's static token file (--token-auth-file).
import crypto from 'node:crypto';

/** kubeadm's bootstrap token format: a 6-character id, a dot, a 16-character secret. */
export const BOOTSTRAP_TOKEN_PATTERN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
/** The group every bootstrap token user is in. */
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
/** kubeadm's default extra group for node bootstrap tokens. */
export const DEFAULT_BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
/** Groups a bootstrap token may carry (kubeadm's validation). */
export const BOOTSTRAP_GROUP_PATTERN = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomString(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[crypto.randomInt(ALPHABET.length)];
  return out;
}

/** A fresh bootstrap token, e.g. "abcdef.0123456789abcdef". */
export function generateBootstrapToken(): string {
  return `${randomString(6)}.${randomString(16)}`;
}

/** A fresh bearer token for a static token user: 256 random bits, base64url (no commas or quotes). */
export function generateBearerToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** The user name a bootstrap token authenticates as: system:bootstrap:<token id>. */
export function bootstrapUser(token: string): string {
  const m = BOOTSTRAP_TOKEN_PATTERN.exec(token);
  if (!m) throw new Error(`"${token}" is not a bootstrap token (want [a-z0-9]{6}.[a-z0-9]{16})`);
  return `system:bootstrap:${m[1]}`;
}

/** One line of a --token-auth-file: token,user,uid,"group1,group2". */
export interface TokenEntry {
  token: string;
  user: string;
  uid: string;
  groups: string[];
}

function csvField(value: string): string {
  return /[",\s]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The token file text. Groups always go in one quoted field, as kube-apiserver documents. */
export function formatTokenFile(entries: readonly TokenEntry[]): string {
  return entries
    .map((e) => {
      for (const [what, v] of [['token', e.token], ['user', e.user], ['uid', e.uid]] as const) {
        if (v === '' || /[",\n\r]/.test(v)) throw new Error(`token file ${what} "${v}" is empty or holds a comma, quote or newline`);
      }
      const line = [csvField(e.token), csvField(e.user), csvField(e.uid)];
      if (e.groups.length > 0) line.push(`"${e.groups.join(',').replace(/"/g, '""')}"`);
      return `${line.join(',')}\n`;
    })
    .join('');
}

function parseCsvLine(line: string, lineNo: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let value = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`line ${lineNo}: unterminated quoted field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error(`line ${lineNo}: text after a quoted field`);
    } else {
      const end = line.indexOf(',', i);
      value = end < 0 ? line.slice(i) : line.slice(i, end);
      i = end < 0 ? line.length : end;
    }
    fields.push(value);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/** Parse a --token-auth-file (as kube-apiserver reads it: 3+ columns, groups in the 4th). Blank lines and # comments are skipped. */
export function parseTokenFile(text: string): TokenEntry[] {
  const out: TokenEntry[] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = parseCsvLine(line, idx + 1);
    if (fields.length < 3) throw new Error(`line ${idx + 1}: want at least 3 columns (token,user,uid)`);
    const [token, user, uid, groups] = fields as [string, string, string, string | undefined];
    out.push({
      token,
      user,
      uid,
      groups: (groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter((g) => g !== ''),
    });
  });
  return out;
}

import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

/** What a client needs from a kubeconfig's context. */
export interface KubeconfigCredentials {
  /** the cluster's server URL */
  server: string;
  /** the server URL's host (IPv6 in brackets), for the default gRPC address */
  host: string;
  /** PEM of the cluster CA */
  ca: string;
  token?: string;
  cert?: string;
  key?: string;
  tlsServerName?: string;
}

type Obj = Record<string, unknown>;

function named(doc: Obj, list: string, name: unknown, what: string): Obj {
  const items = Array.isArray(doc[list]) ? (doc[list] as Obj[]) : [];
  const hit = items.find((x) => x?.name === name);
  if (!hit) throw new Error(`kubeconfig: ${what} ${JSON.stringify(name)} not found`);
  return (hit[what] ?? {}) as Obj;
}

/**
 * Reads the parts of a kubeconfig (clientcmd v1 Config) a client uses, for
 * the current context (or `context`): file paths in it are relative to the
 * kubeconfig's directory, *-data fields are base64.
 */
export function parseKubeconfig(text: string, o: { context?: string; dir?: string } = {}): KubeconfigCredentials {
  const doc = YAML.parse(text) as Obj | null;
  if (!doc || typeof doc !== 'object') throw new Error('kubeconfig: not a YAML mapping');
  const ctxName = o.context ?? doc['current-context'];
  if (!ctxName) throw new Error('kubeconfig: no current-context');
  const ctx = named(doc, 'contexts', ctxName, 'context');
  const cluster = named(doc, 'clusters', ctx.cluster, 'cluster');
  const user = ctx.user !== undefined ? named(doc, 'users', ctx.user, 'user') : {};
  const dir = o.dir ?? process.cwd();
  const file = (p: unknown) => fs.readFileSync(path.resolve(dir, String(p)), 'utf8');
  const b64 = (v: unknown) => Buffer.from(String(v), 'base64').toString('utf8');
  const pick = (data: unknown, filePath: unknown): string | undefined => (typeof data === 'string' && data ? b64(data) : typeof filePath === 'string' && filePath ? file(filePath) : undefined);

  const server = String(cluster.server ?? '');
  if (!server) throw new Error('kubeconfig: the cluster has no server');
  const url = new URL(server);
  const ca = pick(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (!ca) throw new Error('kubeconfig: the cluster has no certificate-authority(-data); the gRPC API needs the cluster CA');
  const out: KubeconfigCredentials = { server, host: url.hostname, ca };
  const token = typeof user.token === 'string' && user.token ? user.token : typeof user.tokenFile === 'string' ? file(user.tokenFile).trim() : undefined;
  if (token) out.token = token;
  const cert = pick(user['client-certificate-data'], user['client-certificate']);
  const key = pick(user['client-key-data'], user['client-key']);
  if (cert && key) {
    out.cert = cert;
    out.key = key;
  }
  if (typeof cluster['tls-server-name'] === 'string') out.tlsServerName = cluster['tls-server-name'];
  return out;
}

export function loadKubeconfig(file: string, o: { context?: string } = {}): KubeconfigCredentials {
  return parseKubeconfig(fs.readFileSync(file, 'utf8'), { context: o.context, dir: path.dirname(path.resolve(file)) });
}

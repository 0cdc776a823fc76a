// Standard kubeconfig files (clientcmd v1 Config), as kubeadm writes them:
// one cluster with the CA embedded, one user per credential, contexts named
// <user>@<cluster>.
import YAML from 'yaml';

export interface KubeconfigUser {
  name: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  token?: string;
}

export interface KubeconfigOptions {
  clusterName: string;
  server: string;
  caCertPem: string;
  /** The first user is the current context's. */
  users: KubeconfigUser[];
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export function contextName(user: string, cluster: string): string {
  return `${user}@${cluster}`;
}

export function buildKubeconfig(options: KubeconfigOptions): string {
  if (options.users.length === 0) throw new Error('a kubeconfig needs at least one user');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: options.clusterName, cluster: { server: options.server, 'certificate-authority-data': b64(options.caCertPem) } }],
    contexts: options.users.map((u) => ({ name: contextName(u.name, options.clusterName), context: { cluster: options.clusterName, user: u.name } })),
    'current-context': contextName(options.users[0]!.name, options.clusterName),
    preferences: {},
    users: options.users.map((u) => {
      const user: Record<string, string> = {};
      if (u.clientCertificatePem) user['client-certificate-data'] = b64(u.clientCertificatePem);
      if (u.clientKeyPem) user['client-key-data'] = b64(u.clientKeyPem);
      if (u.token) user.token = u.token;
      return { name: u.name, user };
    }),
  };
  return YAML.stringify(config, { lineWidth: 0 });
}

/** What a kubeconfig says about its current context (for checking an existing file). */
export interface KubeconfigView {
  server?: string;
  caCertPem?: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  token?: string;
  /** token of every user, by name. */
  tokens: Map<string, string>;
}

export function readKubeconfig(text: string): KubeconfigView {
  const doc = YAML.parse(text) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object') throw new Error('not a kubeconfig (no mapping)');
  const list = (key: string) => (Array.isArray(doc[key]) ? (doc[key] as Array<Record<string, unknown>>) : []);
  const current = doc['current-context'];
  const ctx = list('contexts').find((c) => c?.name === current)?.context as Record<string, unknown> | undefined;
  const cluster = list('clusters').find((c) => c?.name === ctx?.cluster)?.cluster as Record<string, unknown> | undefined;
  const user = list('users').find((u) => u?.name === ctx?.user)?.user as Record<string, unknown> | undefined;
  const unb64 = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : undefined);
  const tokens = new Map<string, string>();
  for (const u of list('users')) {
    const t = (u?.user as Record<string, unknown> | undefined)?.token;
    if (typeof u?.name === 'string' && typeof t === 'string') tokens.set(u.name, t);
  }
  return {
    server: typeof cluster?.server === 'string' ? cluster.server : undefined,
    caCertPem: unb64(cluster?.['certificate-authority-data']),
    clientCertificatePem: unb64(user?.['client-certificate-data']),
    clientKeyPem: unb64(user?.['client-key-data']),
    token: typeof user?.token === 'string' ? user.token : undefined,
    tokens,
  };
}

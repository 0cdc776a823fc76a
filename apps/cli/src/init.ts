// `kubets init`: the control plane's PKI, kubeconfigs and tokens, in kubeadm's
// layout (kubeadm init phases certs, kubeconfig and bootstrap-token).
//
// Re-running is safe. Without --force nothing that exists is replaced:
//   - an existing CA (pki/ca.crt + pki/ca.key) is reused, never overwritten;
//   - every other certificate, key and kubeconfig is issued only when it is
//     missing; one that exists is checked (signed by the CA, not expired, the
//     expected subject, usages and SANs, key matching) and kept, and a failed
//     check is an error telling which file to delete (or to use --force);
//   - tokens.csv keeps its lines; a bootstrap token from the configuration is
//     added (or replaces the line with the same token id), a bootstrap token
//     is generated only when there is none, the admin token only when missing;
//   - kubets-init.json is always rewritten.
// With --force everything is generated afresh: a new CA, new keys and
// certificates, new kubeconfigs, a new tokens.csv (tokens from the
// configuration are kept, generated ones are new) and a new sa key pair.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  certificateMatchesKey,
  createCA,
  createCertificate,
  formatIP,
  generateKeyPair,
  inspectCertificate,
  keyPairOf,
  parseIP,
  publicKeyPin,
  verifyIssuedBy,
  writeCertFile,
  writeFileAtomic,
  writeKeyFile,
  type ExtKeyUsage,
  type KeyAlgorithm,
  type Subject,
} from '@kubets/pki';
import { parseInitConfiguration, type InitConfiguration, type ParseOptions } from './config';
import { buildKubeconfig, readKubeconfig, type KubeconfigUser } from './kubeconfig';
import { ipFamily } from './net';
import {
  BOOTSTRAPPERS_GROUP,
  DEFAULT_BOOTSTRAP_GROUP,
  bootstrapUser,
  formatTokenFile,
  generateBearerToken,
  generateBootstrapToken,
  parseTokenFile,
  type TokenEntry,
} from './tokens';

/** kubeadm's default output directory. */
export const DEFAULT_OUT_DIR = '/etc/kubernetes';
export const SUMMARY_FILE = 'kubets-init.json';
export const SUMMARY_KIND = 'InitSummary';
export const SUMMARY_API_VERSION = 'kubets.io/v1alpha1';
/** The static-token user `kubets init` creates (group system:masters). */
export const ADMIN_TOKEN_USER = 'admin';

/** Paths relative to the output directory. */
export const FILES = {
  caCert: 'pki/ca.crt',
  caKey: 'pki/ca.key',
  apiServerCert: 'pki/apiserver.crt',
  apiServerKey: 'pki/apiserver.key',
  apiServerKubeletClientCert: 'pki/apiserver-kubelet-client.crt',
  apiServerKubeletClientKey: 'pki/apiserver-kubelet-client.key',
  serviceAccountKey: 'pki/sa.key',
  serviceAccountPublicKey: 'pki/sa.pub',
  adminKubeconfig: 'admin.kubeconfig',
  controllerManagerKubeconfig: 'controller-manager.kubeconfig',
  schedulerKubeconfig: 'scheduler.kubeconfig',
  kubeletKubeconfig: 'kubelet.kubeconfig',
  tokenAuthFile: 'tokens.csv',
  summary: SUMMARY_FILE,
} as const;
export type FileKey = keyof typeof FILES;

export interface InitOptions {
  /** A kubeadm init configuration file. */
  configFile?: string;
  /** Or its text. */
  configText?: string;
  /** Where configText came from, for messages (default "config"). */
  configSource?: string;
  /** Or an already parsed configuration. */
  configuration?: InitConfiguration;
  /** Default /etc/kubernetes. */
  outDir?: string;
  /** Replace everything, including an existing CA. */
  force?: boolean;
  /** Progress lines (kubeadm-style "[certs] ..."); default none. */
  log?: (line: string) => void;
  /** Defaults used while parsing (node name, address detection). */
  parse?: Omit<ParseOptions, 'source'>;
  /** Also the kubelet's kubeconfig (kubelet.kubeconfig, user system:node:<node>), for kubeadm's kubelet-start phase. */
  kubelet?: boolean;
}

export type FileAction = 'created' | 'kept' | 'updated' | 'replaced';

export interface InitFile {
  key: FileKey;
  path: string;
  action: FileAction;
}

/** kubets-init.json: what later commands (join, local cluster scripts, tests) read. */
export interface InitSummary {
  apiVersion: typeof SUMMARY_API_VERSION;
  kind: typeof SUMMARY_KIND;
  generatedAt: string;
  configFile: string | null;
  clusterName: string;
  kubernetesVersion: string | null;
  nodeName: string;
  /** host:port */
  controlPlaneEndpoint: string;
  /** https://<controlPlaneEndpoint> */
  apiServerURL: string;
  advertiseAddress: string;
  bindPort: number;
  /** https://<advertiseAddress>:<bindPort>: what controller-manager and scheduler use. */
  localAPIServerURL: string;
  serviceSubnet: string;
  podSubnet: string | null;
  dnsDomain: string;
  kubernetesServiceIP: string;
  clusterDNSIP: string;
  etcd: { external: { endpoints: string[]; caFile?: string; certFile?: string; keyFile?: string } } | { local: { dataDir: string } };
  keyAlgorithm: KeyAlgorithm;
  /** kubeadm's --discovery-token-ca-cert-hash: sha256 of the CA's SubjectPublicKeyInfo. */
  caCertHash: string;
  apiServerCertSANs: { dnsNames: string[]; ipAddresses: string[] };
  bootstrapTokens: Array<{ token: string; id: string; user: string; groups: string[]; ttl?: string; description?: string }>;
  adminToken: string;
  /** Absolute paths. */
  paths: Record<FileKey, string> & { outDir: string; pkiDir: string };
  /** Flags a kube-apiserver would be started with for this cluster. */
  apiServerFlags: string[];
  reusedCA: boolean;
}

export interface InitResult {
  config: InitConfiguration;
  outDir: string;
  summary: InitSummary;
  files: InitFile[];
  reusedCA: boolean;
  warnings: string[];
}

/** A refusal or failed check: the message says what to do. */
export class InitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InitError';
  }
}

interface LeafSpec {
  name: string;
  certKey: FileKey;
  keyKey: FileKey;
  subject: Subject;
  extKeyUsage: ExtKeyUsage[];
  dnsNames?: string[];
  ipAddresses?: string[];
}

interface KubeconfigSpec {
  key: FileKey;
  server: string;
  userName: string;
  subject: Subject;
  token?: { user: string; token: string };
}

function hostPortURL(host: string, port: number): string {
  return `https://${ipFamily(host) === 6 ? `[${host}]` : host}:${port}`;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

/** The apiserver serving certificate's SANs (kubeadm's list plus localhost and 127.0.0.1). */
export function apiServerAltNames(config: InitConfiguration): { dnsNames: string[]; ipAddresses: string[] } {
  const dns = new Set<string>([
    config.nodeName,
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${config.dnsDomain}`,
    'localhost',
  ]);
  // IPs in canonical text (as read back from a certificate), so re-runs compare equal.
  const ip = (text: string) => formatIP(parseIP(text)!);
  const ips = new Set<string>([ip(config.kubernetesServiceIP), ip(config.advertiseAddress), '127.0.0.1']);
  const cpe = config.controlPlaneEndpoint.host;
  if (ipFamily(cpe)) ips.add(ip(cpe));
  else dns.add(cpe);
  for (const san of config.certSANs) {
    if (ipFamily(san)) ips.add(ip(san));
    else dns.add(san);
  }
  return { dnsNames: [...dns], ipAddresses: [...ips] };
}

function loadConfig(options: InitOptions): InitConfiguration {
  if (options.configuration) return options.configuration;
  if (options.configText !== undefined) return parseInitConfiguration(options.configText, { ...options.parse, source: options.configSource ?? 'config' });
  if (options.configFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(options.configFile, 'utf8');
    } catch (err) {
      throw new InitError(`cannot read the configuration file: ${(err as Error).message}`);
    }
    return parseInitConfiguration(text, { ...options.parse, source: options.configFile });
  }
  return parseInitConfiguration('apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n', { ...options.parse, source: 'defaults' });
}

/**
 * Generate (or complete) a cluster's PKI, kubeconfigs, token file and
 * kubets-init.json under `outDir`. See the file comment for what happens to
 * existing files.
 */
export function runInit(options: InitOptions): InitResult {
  const log = options.log ?? (() => undefined);
  const config = loadConfig(options);
  const outDir = path.resolve(options.outDir ?? DEFAULT_OUT_DIR);
  const force = options.force ?? false;
  const p = Object.fromEntries(Object.entries(FILES).map(([k, rel]) => [k, path.join(outDir, rel)])) as Record<FileKey, string>;
  const rel = (k: FileKey) => FILES[k];
  const files: InitFile[] = [];
  const exists = (k: FileKey) => fs.existsSync(p[k]);
  const record = (key: FileKey, existed: boolean, action?: FileAction) =>
    files.push({ key, path: p[key], action: action ?? (existed ? (force ? 'replaced' : 'updated') : 'created') });
  const refuse: (what: string, reason: string, deleteKeys: FileKey[]) => never = (what, reason, deleteKeys) => {
    throw new InitError(
      `${what} exists but ${reason}.\n` +
        `To have it issued again, delete ${deleteKeys.map((k) => p[k]).join(' and ')}, ` +
        `or run \`kubets init --force\` to replace every certificate, key and kubeconfig (including the CA) in ${outDir}.`,
    );
  };

  for (const w of config.warnings) log(`[config] WARNING: ${w}`);
  log(`[init] Using configuration from ${config.source}`);
  log(`[certs] Using certificateDir folder "${path.join(outDir, 'pki')}"`);
  fs.mkdirSync(path.join(outDir, 'pki'), { recursive: true, mode: 0o755 });

  // --- CA ---------------------------------------------------------------
  let caCertPem: string;
  let caKeyPem: string;
  const caExists = exists('caCert');
  const caKeyExists = exists('caKey');
  let reusedCA = false;
  if (!force && (caExists || caKeyExists)) {
    if (!caExists || !caKeyExists) {
      throw new InitError(
        `${caExists ? p.caCert : p.caKey} exists but ${caExists ? p.caKey : p.caCert} does not: kubets init needs both to reuse the CA ` +
          `(an external CA without its key is not supported). Restore the missing file, or run \`kubets init --force\` to create a new CA.`,
      );
    }
    caCertPem = fs.readFileSync(p.caCert, 'utf8');
    caKeyPem = fs.readFileSync(p.caKey, 'utf8');
    let info;
    try {
      info = inspectCertificate(caCertPem);
    } catch (err) {
      throw new InitError(`${p.caCert} is not a certificate: ${(err as Error).message}`);
    }
    if (!info.isCA) refuse(p.caCert, 'is not a CA certificate', ['caCert', 'caKey']);
    let matches = false;
    try {
      matches = certificateMatchesKey(caCertPem, caKeyPem);
    } catch (err) {
      refuse(p.caKey, `cannot be read as a private key (${(err as Error).message})`, ['caCert', 'caKey']);
    }
    if (!matches) refuse(p.caKey, `does not belong to ${p.caCert}`, ['caCert', 'caKey']);
    if (info.notAfter.getTime() < Date.now()) refuse(p.caCert, `expired at ${info.notAfter.toISOString()}`, ['caCert', 'caKey']);
    reusedCA = true;
    log(`[certs] Using the existing "ca" certificate and key (not overwriting it; pass --force to replace it)`);
    files.push({ key: 'caCert', path: p.caCert, action: 'kept' }, { key: 'caKey', path: p.caKey, action: 'kept' });
  } else {
    if (force && caExists) log(`[certs] --force: replacing the existing "ca" certificate and key`);
    log(`[certs] Generating "ca" certificate and key`);
    const ca = createCA('kubernetes', {
      validityDays: config.caCertificateValidityDays,
      keyAlgorithm: config.encryptionAlgorithm,
    });
    caCertPem = ca.certPem;
    caKeyPem = ca.keyPem;
    writeKeyFile(p.caKey, caKeyPem);
    writeCertFile(p.caCert, caCertPem);
    record('caKey', caKeyExists);
    record('caCert', caExists);
  }
  const issuer = { cert: caCertPem, key: caKeyPem };

  // --- leaf certificates -------------------------------------------------
  const altNames = apiServerAltNames(config);
  const leaves: LeafSpec[] = [
    {
      name: 'apiserver',
      certKey: 'apiServerCert',
      keyKey: 'apiServerKey',
      subject: { commonName: 'kube-apiserver' },
      extKeyUsage: ['serverAuth'],
      ...altNames,
    },
    {
      name: 'apiserver-kubelet-client',
      certKey: 'apiServerKubeletClientCert',
      keyKey: 'apiServerKubeletClientKey',
      subject: { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] },
      extKeyUsage: ['clientAuth'],
    },
  ];
  const checkClientCert = (certPem: string, keyPem: string, spec: { subject: Subject; extKeyUsage: ExtKeyUsage[]; dnsNames?: string[]; ipAddresses?: string[] }): string | undefined => {
    let info;
    try {
      info = inspectCertificate(certPem);
    } catch (err) {
      return `is not a certificate (${(err as Error).message})`;
    }
    const issued = verifyIssuedBy(certPem, caCertPem);
    if (issued) return `is not valid: ${issued}`;
    try {
      if (!certificateMatchesKey(certPem, keyPem)) return 'does not match its private key';
    } catch (err) {
      return `has an unreadable private key (${(err as Error).message})`;
    }
    if (info.subject.commonName !== spec.subject.commonName) return `has the subject CN "${info.subject.commonName}" (want "${spec.subject.commonName}")`;
    if (!sameSet(info.subject.organizations ?? [], spec.subject.organizations ?? [])) {
      return `has the organizations [${(info.subject.organizations ?? []).join(', ')}] (want [${(spec.subject.organizations ?? []).join(', ')}])`;
    }
    const missingUsage = spec.extKeyUsage.filter((u) => !info.extKeyUsage.includes(u));
    if (missingUsage.length > 0) return `lacks the extended key usage ${missingUsage.join(', ')}`;
    const missingDns = (spec.dnsNames ?? []).filter((n) => !info.dnsNames.includes(n));
    const missingIps = (spec.ipAddresses ?? []).filter((ip) => !info.ipAddresses.includes(ip));
    if (missingDns.length + missingIps.length > 0) return `lacks the subject alternative names ${[...missingDns, ...missingIps].join(', ')}`;
    return undefined;
  };

  for (const spec of leaves) {
    const certExists = exists(spec.certKey);
    const keyExists = exists(spec.keyKey);
    if (!force && (certExists || keyExists)) {
      if (!certExists || !keyExists) refuse(p[certExists ? spec.certKey : spec.keyKey], `${p[certExists ? spec.keyKey : spec.certKey]} is missing`, [spec.certKey, spec.keyKey]);
      const reason = checkClientCert(fs.readFileSync(p[spec.certKey], 'utf8'), fs.readFileSync(p[spec.keyKey], 'utf8'), spec);
      if (reason) refuse(p[spec.certKey], reason, [spec.certKey, spec.keyKey]);
      log(`[certs] Using the existing "${spec.name}" certificate and key`);
      files.push({ key: spec.keyKey, path: p[spec.keyKey], action: 'kept' }, { key: spec.certKey, path: p[spec.certKey], action: 'kept' });
      continue;
    }
    log(`[certs] Generating "${spec.name}" certificate and key`);
    if (spec.dnsNames || spec.ipAddresses) {
      log(`[certs] ${spec.name} serving cert is signed for DNS names [${(spec.dnsNames ?? []).join(' ')}] and IPs [${(spec.ipAddresses ?? []).join(' ')}]`);
    }
    const leaf = createCertificate({
      subject: spec.subject,
      issuer,
      extKeyUsage: spec.extKeyUsage,
      dnsNames: spec.dnsNames,
      ipAddresses: spec.ipAddresses,
      validityDays: config.certificateValidityDays,
      keyAlgorithm: config.encryptionAlgorithm,
    });
    writeKeyFile(p[spec.keyKey], leaf.keyPem);
    writeCertFile(p[spec.certKey], leaf.certPem);
    record(spec.keyKey, keyExists);
    record(spec.certKey, certExists);
  }

  // --- service account key pair -----------------------------------------
  // RSA (RS256 service account tokens, as kubeadm), ECDSA keys only by explicit choice of an RSA size.
  const saAlgorithm: KeyAlgorithm = config.encryptionAlgorithm.startsWith('rsa') ? config.encryptionAlgorithm : 'rsa-2048';
  const saKeyExists = exists('serviceAccountKey');
  const saPubExists = exists('serviceAccountPublicKey');
  if (!force && saKeyExists) {
    let pair: ReturnType<typeof keyPairOf> | undefined;
    try {
      pair = keyPairOf(fs.readFileSync(p.serviceAccountKey, 'utf8'));
    } catch (err) {
      refuse(p.serviceAccountKey, `cannot be read as a private key (${(err as Error).message})`, ['serviceAccountKey', 'serviceAccountPublicKey']);
    }
    if (!pair) throw new InitError(`${p.serviceAccountKey} cannot be read`);
    if (saPubExists) {
      let pub: crypto.KeyObject | undefined;
      try {
        pub = crypto.createPublicKey(fs.readFileSync(p.serviceAccountPublicKey, 'utf8'));
      } catch {
        pub = undefined;
      }
      if (!pub || !pub.export({ type: 'spki', format: 'der' }).equals(pair.publicKey.export({ type: 'spki', format: 'der' }))) {
        refuse(p.serviceAccountPublicKey, `is not the public key of ${p.serviceAccountKey}`, ['serviceAccountKey', 'serviceAccountPublicKey']);
      }
      log(`[certs] Using the existing "sa" key`);
      files.push({ key: 'serviceAccountKey', path: p.serviceAccountKey, action: 'kept' }, { key: 'serviceAccountPublicKey', path: p.serviceAccountPublicKey, action: 'kept' });
    } else {
      log(`[certs] Using the existing "sa" key; writing its missing public key`);
      writeCertFile(p.serviceAccountPublicKey, pair.publicKeyPem);
      files.push({ key: 'serviceAccountKey', path: p.serviceAccountKey, action: 'kept' });
      record('serviceAccountPublicKey', false);
    }
  } else {
    if (!force && saPubExists) {
      refuse(p.serviceAccountPublicKey, `${p.serviceAccountKey} is missing`, ['serviceAccountPublicKey']);
    }
    log(`[certs] Generating "sa" key and public key`);
    const pair = generateKeyPair(saAlgorithm);
    writeKeyFile(p.serviceAccountKey, pair.privateKeyPem);
    writeCertFile(p.serviceAccountPublicKey, pair.publicKeyPem);
    record('serviceAccountKey', saKeyExists);
    record('serviceAccountPublicKey', saPubExists);
  }

  // --- tokens ------------------------------------------------------------
  const tokensExisted = exists('tokenAuthFile');
  let entries: TokenEntry[] = [];
  const existingTokenText = tokensExisted ? fs.readFileSync(p.tokenAuthFile, 'utf8') : undefined;
  if (!force && existingTokenText !== undefined) {
    try {
      entries = parseTokenFile(existingTokenText);
    } catch (err) {
      refuse(p.tokenAuthFile, `cannot be parsed (${(err as Error).message})`, ['tokenAuthFile']);
    }
  }
  const bootstrapEntry = (token: string, groups: string[]): TokenEntry => ({
    token,
    user: bootstrapUser(token),
    uid: `bootstrap-token-${token.slice(0, 6)}`,
    groups: [BOOTSTRAPPERS_GROUP, ...groups.filter((g) => g !== BOOTSTRAPPERS_GROUP)],
  });
  const summaryTokens: InitSummary['bootstrapTokens'] = [];
  if (config.bootstrapTokens.length > 0) {
    for (const t of config.bootstrapTokens) {
      const entry = bootstrapEntry(t.token, t.groups);
      entries = entries.filter((e) => e.user !== entry.user && e.token !== entry.token);
      entries.push(entry);
      summaryTokens.push({ token: t.token, id: t.id, user: entry.user, groups: entry.groups, ttl: t.ttl, description: t.description });
      log(`[bootstrap-token] Using token: ${t.token}`);
    }
  } else {
    const existing = entries.filter((e) => e.user.startsWith('system:bootstrap:'));
    for (const e of existing) {
      summaryTokens.push({ token: e.token, id: e.user.slice('system:bootstrap:'.length), user: e.user, groups: e.groups });
      log(`[bootstrap-token] Using the existing token: ${e.token}`);
    }
    if (existing.length === 0) {
      const token = generateBootstrapToken();
      const entry = bootstrapEntry(token, [DEFAULT_BOOTSTRAP_GROUP]);
      entries.push(entry);
      summaryTokens.push({ token, id: token.slice(0, 6), user: entry.user, groups: entry.groups, ttl: '24h0m0s' });
      log(`[bootstrap-token] Using token: ${token}`);
    }
  }
  let adminToken = entries.find((e) => e.user === ADMIN_TOKEN_USER)?.token;
  if (adminToken === undefined && !force && exists('adminKubeconfig')) {
    try {
      adminToken = readKubeconfig(fs.readFileSync(p.adminKubeconfig, 'utf8')).tokens.get(ADMIN_TOKEN_USER);
    } catch {
      adminToken = undefined; // checked again below
    }
  }
  if (adminToken === undefined || !entries.some((e) => e.user === ADMIN_TOKEN_USER)) {
    adminToken ??= generateBearerToken();
    entries.push({ token: adminToken, user: ADMIN_TOKEN_USER, uid: ADMIN_TOKEN_USER, groups: ['system:masters'] });
  }
  const tokenText = formatTokenFile(entries);
  if (tokenText !== existingTokenText) {
    log(`[tokens] Writing the token file "${p.tokenAuthFile}" (kube-apiserver --token-auth-file)`);
    writeFileAtomic(p.tokenAuthFile, tokenText, 0o600);
    record('tokenAuthFile', tokensExisted);
  } else {
    log(`[tokens] Using the existing token file "${p.tokenAuthFile}"`);
    files.push({ key: 'tokenAuthFile', path: p.tokenAuthFile, action: 'kept' });
  }

  // --- kubeconfigs -------------------------------------------------------
  const apiServerURL = hostPortURL(config.controlPlaneEndpoint.host, config.controlPlaneEndpoint.port);
  const localAPIServerURL = hostPortURL(config.advertiseAddress, config.bindPort);
  const kubeconfigs: KubeconfigSpec[] = [
    {
      key: 'adminKubeconfig',
      server: apiServerURL,
      userName: 'kubernetes-admin',
      subject: { commonName: 'kubernetes-admin', organizations: ['system:masters'] },
      token: { user: ADMIN_TOKEN_USER, token: adminToken },
    },
    { key: 'controllerManagerKubeconfig', server: localAPIServerURL, userName: 'system:kube-controller-manager', subject: { commonName: 'system:kube-controller-manager' } },
    { key: 'schedulerKubeconfig', server: localAPIServerURL, userName: 'system:kube-scheduler', subject: { commonName: 'system:kube-scheduler' } },
    ...(options.kubelet
      ? [{ key: 'kubeletKubeconfig' as const, server: apiServerURL, userName: `system:node:${config.nodeName}`, subject: { commonName: `system:node:${config.nodeName}`, organizations: ['system:nodes'] } }]
      : []),
  ];
  for (const spec of kubeconfigs) {
    const existed = exists(spec.key);
    if (!force && existed) {
      let reason: string | undefined;
      try {
        const view = readKubeconfig(fs.readFileSync(p[spec.key], 'utf8'));
        if (view.server !== spec.server) reason = `has the server ${view.server ?? '(none)'} (want ${spec.server})`;
        else if (view.caCertPem?.trim() !== caCertPem.trim()) reason = 'has got the wrong CA certificate';
        else if (!view.clientCertificatePem || !view.clientKeyPem) reason = 'has no client certificate and key';
        else {
          const r = checkClientCert(view.clientCertificatePem, view.clientKeyPem, { subject: spec.subject, extKeyUsage: ['clientAuth'] });
          if (r) reason = `has a client certificate that ${r}`;
          else if (spec.token && view.tokens.get(spec.token.user) !== spec.token.token) reason = `has a "${spec.token.user}" token that is not the one in ${p.tokenAuthFile}`;
        }
      } catch (err) {
        reason = `cannot be read (${(err as Error).message})`;
      }
      if (reason) refuse(`the kubeconfig file ${p[spec.key]}`, reason, [spec.key]);
      log(`[kubeconfig] Using the existing "${rel(spec.key)}" kubeconfig file`);
      files.push({ key: spec.key, path: p[spec.key], action: 'kept' });
      continue;
    }
    const client = createCertificate({
      subject: spec.subject,
      issuer,
      extKeyUsage: ['clientAuth'],
      validityDays: config.certificateValidityDays,
      keyAlgorithm: config.encryptionAlgorithm,
    });
    const users: KubeconfigUser[] = [{ name: spec.userName, clientCertificatePem: client.certPem, clientKeyPem: client.keyPem }];
    if (spec.token) users.push({ name: spec.token.user, token: spec.token.token });
    log(`[kubeconfig] Writing "${rel(spec.key)}" kubeconfig file`);
    writeFileAtomic(p[spec.key], buildKubeconfig({ clusterName: config.clusterName, server: spec.server, caCertPem, users }), 0o600);
    record(spec.key, existed);
  }

  // --- summary -----------------------------------------------------------
  const etcdFlags =
    'external' in config.etcd
      ? [
          `--etcd-servers=${config.etcd.external.endpoints.join(',')}`,
          ...(config.etcd.external.caFile ? [`--etcd-cafile=${config.etcd.external.caFile}`] : []),
          ...(config.etcd.external.certFile ? [`--etcd-certfile=${config.etcd.external.certFile}`, `--etcd-keyfile=${config.etcd.external.keyFile}`] : []),
        ]
      : ['--etcd-servers=http://127.0.0.1:2379'];
  const summary: InitSummary = {
    apiVersion: SUMMARY_API_VERSION,
    kind: SUMMARY_KIND,
    generatedAt: new Date().toISOString(),
    configFile: options.configFile ? path.resolve(options.configFile) : null,
    clusterName: config.clusterName,
    kubernetesVersion: config.kubernetesVersion ?? null,
    nodeName: config.nodeName,
    controlPlaneEndpoint: config.controlPlaneEndpoint.text,
    apiServerURL,
    advertiseAddress: config.advertiseAddress,
    bindPort: config.bindPort,
    localAPIServerURL,
    serviceSubnet: config.serviceSubnet,
    podSubnet: config.podSubnet ?? null,
    dnsDomain: config.dnsDomain,
    kubernetesServiceIP: config.kubernetesServiceIP,
    clusterDNSIP: config.clusterDNSIP,
    etcd: config.etcd,
    keyAlgorithm: config.encryptionAlgorithm,
    caCertHash: publicKeyPin(caCertPem),
    apiServerCertSANs: pickSANs(fs.readFileSync(p.apiServerCert, 'utf8')),
    bootstrapTokens: summaryTokens,
    adminToken,
    paths: { outDir, pkiDir: path.join(outDir, 'pki'), ...p },
    apiServerFlags: [
      `--advertise-address=${config.advertiseAddress}`,
      `--secure-port=${config.bindPort}`,
      `--client-ca-file=${p.caCert}`,
      `--tls-cert-file=${p.apiServerCert}`,
      `--tls-private-key-file=${p.apiServerKey}`,
      `--kubelet-client-certificate=${p.apiServerKubeletClientCert}`,
      `--kubelet-client-key=${p.apiServerKubeletClientKey}`,
      `--service-account-key-file=${p.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${p.serviceAccountKey}`,
      `--service-account-issuer=https://kubernetes.default.svc.${config.dnsDomain}`,
      `--service-cluster-ip-range=${config.serviceSubnet}`,
      `--token-auth-file=${p.tokenAuthFile}`,
      ...etcdFlags,
    ],
    reusedCA,
  };
  const summaryExisted = exists('summary');
  writeFileAtomic(p.summary, `${JSON.stringify(summary, null, 2)}\n`, 0o600);
  log(`[init] Writing the summary "${p.summary}"`);
  record('summary', summaryExisted, summaryExisted ? 'updated' : 'created');

  return { config, outDir, summary, files, reusedCA, warnings: config.warnings };
}

function pickSANs(certPem: string): { dnsNames: string[]; ipAddresses: string[] } {
  const info = inspectCertificate(certPem);
  return { dnsNames: info.dnsNames, ipAddresses: info.ipAddresses };
}

/** Read kubets-init.json from an init output directory. */
export function readInitSummary(outDir: string = DEFAULT_OUT_DIR): InitSummary {
  const file = path.join(outDir, SUMMARY_FILE);
  const summary = JSON.parse(fs.readFileSync(file, 'utf8')) as InitSummary;
  if (summary.kind !== SUMMARY_KIND || summary.apiVersion !== SUMMARY_API_VERSION) {
    throw new Error(`${file} is not a ${SUMMARY_API_VERSION} ${SUMMARY_KIND}`);
  }
  return summary;
}

#!/usr/bin/env node
// kubets: the cluster CLI (kubeadm's counterpart). Commands: init, join, up, down, serve, image.
import path from 'node:path';
import { ConfigError, createLogger, parseFlags, type FlagSpecs, type ParseResult } from '@kubets/service-kit';
import { configFromFlags, InitConfigError, type InitFlags } from './config';
import { DEFAULT_OUT_DIR, InitError, runInit, type InitResult } from './init';
import { JOIN_FLAGS, JOIN_USAGE_TEXT, joinReport, runJoin } from './join';
import { joinControlPlaneReport, runJoinControlPlane } from './join-control-plane';
import { LB_FLAGS, LB_USAGE_TEXT, parseBackends, startLoadBalancer } from './lb';
import { CLUSTER_CREATE_FLAGS, CLUSTER_DELETE_FLAGS, CLUSTER_USAGE, ClusterError, createCluster, defaultKubeconfig, deleteCluster } from './cluster';
import { DEFAULT_IMAGE_REPOSITORY, writeControlPlane } from './manifests';
import { writeFileAtomic } from '@kubets/pki';
import { down, DOWN_USAGE, up, UP_USAGE } from './up';
import { image, IMAGE_USAGE } from './up/image';
import { serve, SERVE_USAGE } from './up/serve';

const VERSION = '0.1.0';
const PROGRAM = 'kubets';
/** kubeadm init's phases kubets writes files for, beyond certs, kubeconfig and bootstrap-token. */
const SKIPPABLE_PHASES = ['etcd', 'control-plane', 'kubelet-start'] as const;

const INIT_FLAGS = {
  config: {
    type: 'string',
    description: 'Path to a kubeadm configuration file (InitConfiguration and ClusterConfiguration, kubeadm.k8s.io/v1beta3 or v1beta4)',
  },
  'out-dir': {
    type: 'string',
    default: DEFAULT_OUT_DIR,
    description: 'Where to write pki/, the kubeconfigs, tokens.csv and kubets-init.json',
  },
  force: {
    type: 'boolean',
    description: 'Replace everything in --out-dir, including an existing CA (default: reuse the CA and only issue what is missing)',
  },
  'apiserver-advertise-address': { type: 'string', description: 'The IP address the API server advertises (without --config)' },
  'apiserver-bind-port': { type: 'number', integer: true, min: 1, max: 65535, description: 'The API server port (without --config; default 6443)' },
  'control-plane-endpoint': { type: 'string', description: 'A stable host:port for the control plane (without --config)' },
  'service-cidr': { type: 'string', description: 'Range of Service IPs (without --config; default 10.96.0.0/12)' },
  'pod-network-cidr': { type: 'string', description: 'Range of pod IPs (without --config)' },
  'service-dns-domain': { type: 'string', description: 'Cluster DNS domain (without --config; default cluster.local)' },
  'apiserver-cert-extra-sans': { type: 'list', description: 'Extra subject alternative names for the API server certificate (without --config)' },
  token: { type: 'string', secret: true, description: 'The bootstrap token, [a-z0-9]{6}.[a-z0-9]{16} (without --config; default generated)' },
  'node-name': { type: 'string', description: 'The node name (without --config; default the host name)' },
  'skip-phases': { type: 'list', description: `Phases to skip (kubeadm's names): ${SKIPPABLE_PHASES.join(', ')}` },
  image: { type: 'string', default: `${DEFAULT_IMAGE_REPOSITORY}:${VERSION}`, description: 'The kubets image the control-plane static pods run' },
} as const satisfies FlagSpecs;

const CONFIG_ONLY_FLAGS = Object.keys(INIT_FLAGS).filter((f) => !['config', 'out-dir', 'force', 'skip-phases', 'image'].includes(f));

function flagUsage(specs: FlagSpecs): string {
  const rows: Array<[string, string]> = Object.entries(specs).map(([flag, spec]): [string, string] => {
    const arg = spec.type === 'boolean' ? '' : spec.type === 'list' ? ' strings' : ` ${spec.type === 'number' ? 'int' : 'string'}`;
    const def = spec.default !== undefined ? ` (default ${JSON.stringify(spec.default)})` : '';
    return [`--${flag}${arg}`, `${spec.description}${def}`];
  });
  rows.push(['-h, --help', 'help for this command']);
  const width = Math.max(...rows.map(([f]) => f.length)) + 3;
  return rows.map(([f, t]) => `  ${f.padEnd(width)}${t}`).join('\n');
}

const ROOT_USAGE = `kubets: set up and manage a kubets cluster (the kubeadm of kubets).

Usage:
  ${PROGRAM} <command> [flags]

Commands:
  init        Generate the control plane's CA, certificates, kubeconfigs and tokens
  join        Set up this host as a worker (or, with --control-plane, a control-plane) node of a cluster
  cluster     Create or delete a cluster of Docker node containers (like kind)
  lb          Load-balance TCP connections over several control-plane nodes' API servers
  up          Start a local cluster (every component a background process)
  down        Stop the local cluster 'up' started
  serve       Run one component of the local cluster in the foreground (nx serve targets)
  image       Load images into the local cluster's real node without a registry (image load)
  version     Print the version
  help        Help about a command

Run '${PROGRAM} <command> --help' for a command's flags.
`;

const INIT_USAGE = `Generate a control plane's certificates, kubeconfigs and tokens in kubeadm's layout.

Writes, under --out-dir (default ${DEFAULT_OUT_DIR}):
  pki/ca.crt, pki/ca.key                                   the cluster CA
  pki/apiserver.crt, .key                                  API server serving certificate
  pki/apiserver-kubelet-client.crt, .key                   API server -> kubelet client certificate
  pki/sa.key, pki/sa.pub                                   service account token signing key pair
  admin.kubeconfig                                         kubernetes-admin (system:masters), plus the "admin" token user
  controller-manager.kubeconfig, scheduler.kubeconfig      the control plane components' credentials
  tokens.csv                                               kube-apiserver --token-auth-file (bootstrap + admin tokens)
  kubets-init.json                                         summary for later commands (join, scripts, tests)

An existing CA is reused, never overwritten, and only missing files are issued
(existing ones are checked); --force replaces everything.

Usage:
  ${PROGRAM} init --config FILE [--out-dir DIR] [--force]
  ${PROGRAM} init [kubeadm-style flags] [--out-dir DIR]

Flags:
${flagUsage(INIT_FLAGS)}
`;

const LB_USAGE = `${LB_USAGE_TEXT}
Flags:
${flagUsage(LB_FLAGS)}
`;

const JOIN_USAGE = `${JOIN_USAGE_TEXT}
Flags:
${flagUsage(JOIN_FLAGS)}
`;

function usageError(message: string, command?: string): never {
  process.stderr.write(`Error: ${message}\nRun '${PROGRAM}${command ? ` ${command}` : ''} --help' for usage.\n`);
  process.exit(2);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function report(result: InitResult, out: NodeJS.WritableStream): void {
  const s = result.summary;
  const lines: string[] = [];
  lines.push('', `Your kubets control plane's certificates, kubeconfigs and tokens are ready in ${result.outDir}${result.reusedCA ? ' (existing CA reused)' : ''}:`, '');
  for (const f of result.files) lines.push(`  ${f.action.padEnd(8)} ${f.path}`);
  lines.push(
    '',
    'To use the cluster with kubectl once the API server runs:',
    '',
    `  export KUBECONFIG=${shellQuote(s.paths.adminKubeconfig)}`,
    '',
    'The API server takes these flags (kube-apiserver names):',
    '',
    ...s.apiServerFlags.map((f, i) => `  ${f}${i < s.apiServerFlags.length - 1 ? ' \\' : ''}`),
  );
  const token = s.bootstrapTokens[0];
  if (token) {
    lines.push(
      '',
      'Further control-plane nodes: copy pki/ca.crt, pki/ca.key, pki/sa.key, pki/sa.pub and',
      `tokens.csv from ${result.outDir} to the same paths on the node, then, one node at a time:`,
      '',
      `  kubets join ${s.controlPlaneEndpoint} --control-plane --token ${token.token} \\`,
      `    --discovery-token-ca-cert-hash ${s.caCertHash}`,
      '',
      'Worker nodes join with the bootstrap token:',
      '',
      `  kubets join ${s.controlPlaneEndpoint} --token ${token.token} \\`,
      `    --discovery-token-ca-cert-hash ${s.caCertHash}`,
    );
  }
  lines.push('');
  out.write(`${lines.join('\n')}\n`);
}

/** A command's flags; undefined once --help has printed its usage. */
function commandFlags<S extends FlagSpecs>(specs: S, argv: string[], command: string, usage: string): ParseResult<S> | undefined {
  let parsed;
  try {
    parsed = parseFlags(specs, { argv, env: {}, configFlag: 'kubets-flags-file' });
  } catch (err) {
    if (err instanceof ConfigError) usageError(err.message, command);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(usage);
    return undefined;
  }
  return parsed;
}

function init(argv: string[]): void {
  const parsed = commandFlags(INIT_FLAGS, argv, 'init', INIT_USAGE);
  if (!parsed) return;
  if (parsed.positionals.length > 0) usageError(`unexpected argument "${parsed.positionals[0]}"`, 'init');
  const c = parsed.config;
  const given = CONFIG_ONLY_FLAGS.filter((f) => argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)));
  let configText: string | undefined;
  if (c.config !== undefined) {
    if (given.length > 0) usageError(`can not mix '--config' with arguments [${given.join(' ')}]`, 'init');
  } else {
    const flags: InitFlags = {
      advertiseAddress: c.apiserverAdvertiseAddress,
      bindPort: c.apiserverBindPort,
      controlPlaneEndpoint: c.controlPlaneEndpoint,
      serviceCidr: c.serviceCidr,
      podNetworkCidr: c.podNetworkCidr,
      serviceDnsDomain: c.serviceDnsDomain,
      certSans: c.apiserverCertExtraSans,
      token: c.token,
      nodeName: c.nodeName,
    };
    configText = configFromFlags(flags);
  }
  const skip = new Set(c.skipPhases ?? []);
  for (const phase of skip) if (!(SKIPPABLE_PHASES as readonly string[]).includes(phase)) usageError(`unknown phase "${phase}" in --skip-phases (known: ${SKIPPABLE_PHASES.join(', ')})`, 'init');
  const phases = { etcd: !skip.has('etcd'), controlPlane: !skip.has('control-plane'), kubeletStart: !skip.has('kubelet-start') };
  const result = runInit({
    configFile: c.config,
    configText,
    configSource: 'command-line flags',
    outDir: path.resolve(c.outDir),
    force: c.force,
    kubelet: phases.kubeletStart,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  for (const file of writeControlPlane(result.config, { image: c.image, outDir: result.outDir, phases }, (f, text) => writeFileAtomic(f, text, 0o644))) {
    process.stdout.write(`[control-plane] Wrote "${file}"\n`);
  }
  report(result, process.stdout);
}

async function join(argv: string[]): Promise<number> {
  const parsed = commandFlags(JOIN_FLAGS, argv, 'join', JOIN_USAGE);
  if (!parsed) return 0;
  const [endpoint, ...extra] = parsed.positionals;
  if (endpoint === undefined) usageError('the API server endpoint is required (kubets join ENDPOINT --token ...)', 'join');
  if (extra.length > 0) usageError(`unexpected argument "${extra[0]}"`, 'join');
  const c = parsed.config;
  if (c.token === undefined) usageError('--token is required (kubets init prints the join command)', 'join');
  const common = {
    endpoint,
    token: c.token,
    caCertHashes: c.discoveryTokenCaCertHash ?? [],
    unsafeSkipCAVerification: c.discoveryTokenUnsafeSkipCaVerification ?? false,
    nodeName: c.nodeName,
    outDir: c.outDir,
    natsUrl: c.natsUrl,
    force: c.force ?? false,
    log: (line: string) => process.stdout.write(`${line}\n`),
  };
  // A JoinError ends up as `error: <message>` and exit code 1 like any other failure.
  if (c.controlPlane) {
    const r = await runJoinControlPlane({ ...common, advertiseAddress: c.apiserverAdvertiseAddress, bindPort: c.apiserverBindPort, image: c.image, defaultImage: `${DEFAULT_IMAGE_REPOSITORY}:${VERSION}` });
    process.stdout.write(joinControlPlaneReport(r));
    return 0;
  }
  const cpOnly = ['apiserver-advertise-address', 'image'].filter((f) => argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`)));
  if (cpOnly.length > 0) usageError(`--${cpOnly[0]} needs --control-plane`, 'join');
  process.stdout.write(joinReport(await runJoin(common)));
  return 0;
}

const CLUSTER_FULL_USAGE = `${CLUSTER_USAGE}
Flags of create:
${flagUsage(CLUSTER_CREATE_FLAGS)}

Flags of delete:
${flagUsage(CLUSTER_DELETE_FLAGS)}
`;

/** `kubets cluster create|delete`: clusters of node containers (kind's commands). */
async function cluster(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    process.stdout.write(CLUSTER_FULL_USAGE);
    return sub ? 0 : 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  try {
    if (sub === 'create') {
      const parsed = commandFlags(CLUSTER_CREATE_FLAGS, rest, 'cluster create', CLUSTER_FULL_USAGE);
      if (!parsed) return 0;
      if (parsed.positionals.length > 0) usageError(`unexpected argument "${parsed.positionals[0]}"`, 'cluster create');
      const c = parsed.config;
      const kubeconfig = path.resolve(c.kubeconfig ?? defaultKubeconfig(c.name));
      const r = await createCluster({
        name: c.name,
        controlPlanes: c.controlPlanes,
        workers: c.workers,
        image: c.image ?? `kubets/node:${VERSION}`,
        lbImage: c.lbImage ?? `kubets/kubets:${VERSION}`,
        podSubnet: c.podNetworkCidr,
        subnet: c.subnet,
        kubeconfig,
        kubeProxyManifest: c.skipKubeProxy ? undefined : path.resolve(c.kubeProxyManifest),
        log,
      });
      log(`\nCluster "${c.name}" is up in ${r.seconds.toFixed(1)} s: ${r.nodes.map((n) => `${n.name} (${n.role}, ${n.ip})`).join(', ')}; API server https://${r.endpoint}\n`);
      log(`  export KUBECONFIG=${kubeconfig}\n  kubectl get nodes\n`);
      return 0;
    }
    if (sub === 'delete') {
      const parsed = commandFlags(CLUSTER_DELETE_FLAGS, rest, 'cluster delete', CLUSTER_FULL_USAGE);
      if (!parsed) return 0;
      const removed = await deleteCluster(parsed.config.name, path.resolve(parsed.config.kubeconfig ?? defaultKubeconfig(parsed.config.name)));
      log(removed.length ? `Deleted cluster "${parsed.config.name}": ${removed.join(', ')}` : `No cluster "${parsed.config.name}"`);
      return 0;
    }
  } catch (err) {
    if (!(err instanceof ClusterError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 1;
  }
  usageError(`unknown command "${sub}" for "kubets cluster"`, 'cluster');
}

/** `kubets lb`: the API servers' load balancer, in the foreground until SIGTERM/SIGINT. */
async function lb(argv: string[]): Promise<number> {
  const parsed = commandFlags(LB_FLAGS, argv, 'lb', LB_USAGE);
  if (!parsed) return 0;
  if (parsed.positionals.length > 0) usageError(`unexpected argument "${parsed.positionals[0]}"`, 'lb');
  const c = parsed.config;
  let backends;
  try {
    backends = parseBackends(c.backend ?? []);
  } catch (e) {
    usageError((e as Error).message, 'lb');
  }
  const log = createLogger({ name: 'kubets-lb' });
  const extraPorts = (c.extraPort ?? []).map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1 || n > 65535) usageError(`invalid --extra-port "${p}": want a port number`, 'lb');
    return n;
  });
  const balancer = await startLoadBalancer({ host: c.bindAddress, port: c.port, backends, extraPorts, healthPath: c.healthPath, healthIntervalMs: c.healthInterval, healthzPort: c.healthzPort || undefined, healthzHost: c.bindAddress, log });
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      void balancer.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function main(): void {
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'init':
        init(rest);
        return;
      case 'join':
      case 'cluster':
      case 'lb':
      case 'up':
      case 'down':
      case 'serve':
      case 'image':
        (command === 'join' ? join(rest) : command === 'cluster' ? cluster(rest) : command === 'lb' ? lb(rest) : command === 'up' ? up(rest) : command === 'down' ? down(rest) : command === 'image' ? image(rest) : serve(rest)).then(
          (code) => process.exit(code),
          (err: unknown) => {
            process.stderr.write(`error: ${process.env.KUBETS_DEBUG ? ((err as Error).stack ?? String(err)) : ((err as Error).message ?? String(err))}\n`);
            process.exit(1);
          },
        );
        return;
      case 'version':
      case '--version':
        process.stdout.write(`${PROGRAM} version ${VERSION}\n`);
        return;
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        if (command === 'help' && rest[0] === 'init') process.stdout.write(INIT_USAGE);
        else if (command === 'help' && rest[0] === 'join') process.stdout.write(JOIN_USAGE);
        else if (command === 'help' && rest[0] === 'lb') process.stdout.write(LB_USAGE);
        else if (command === 'help' && rest[0] === 'cluster') process.stdout.write(CLUSTER_FULL_USAGE);
        else if (command === 'help' && rest[0] === 'up') process.stdout.write(UP_USAGE);
        else if (command === 'help' && rest[0] === 'down') process.stdout.write(DOWN_USAGE);
        else if (command === 'help' && rest[0] === 'serve') process.stdout.write(SERVE_USAGE);
        else if (command === 'help' && rest[0] === 'image') process.stdout.write(IMAGE_USAGE);
        else process.stdout.write(ROOT_USAGE);
        return;
      default:
        usageError(`unknown command "${command}" for "${PROGRAM}"`);
    }
  } catch (err) {
    if (err instanceof InitConfigError || err instanceof InitError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(1);
    }
    // File system and other unexpected errors: the message, and the stack with KUBETS_DEBUG=1.
    process.stderr.write(`error: ${process.env.KUBETS_DEBUG ? ((err as Error).stack ?? String(err)) : ((err as Error).message ?? String(err))}\n`);
    process.exit(1);
  }
}

main();

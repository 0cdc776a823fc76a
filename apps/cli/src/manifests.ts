// `kubets init`'s control-plane phases, as kubeadm's: static pod manifests in
// <out-dir>/manifests for the kubelet's --pod-manifest-path (the KV member,
// NATS, the API server, the controller manager, the scheduler), and the
// kubelet's flags (kubeadm's kubeadm-flags.env). Every component runs from the
// one kubets image (docker/kubets) on the host network, with <out-dir> (PKI,
// kubeconfigs, tokens) mounted read-only at the same path.
import path from 'node:path';
import YAML from 'yaml';
import type { ExtraArg, InitConfiguration } from './config';

/** The kubets image every control-plane static pod runs (docker/kubets). */
export const DEFAULT_IMAGE_REPOSITORY = 'docker.io/kubets/kubets';

/** The ports of the control plane on each control-plane node (etcd's, kube-apiserver's, NATS's own defaults). */
export const CONTROL_PLANE_PORTS = { kvClient: 2379, kvPeer: 2380, kvMetrics: 2381, nats: 4222, natsCluster: 6222, natsMonitor: 8222, controllerManager: 10257, scheduler: 10259, apiserverGrpc: 6444 } as const;

/** What the manifests need from the configuration. */
export type ManifestConfig = Pick<InitConfiguration, 'nodeName' | 'advertiseAddress' | 'bindPort' | 'serviceSubnet' | 'podSubnet' | 'etcd' | 'controlPlaneEndpoint'> &
  Partial<Pick<InitConfiguration, 'extraArgs'>>;

export interface ManifestOptions {
  /** The kubets image, e.g. docker.io/kubets/kubets:0.1.0. */
  image: string;
  /** kubets init's --out-dir (PKI, kubeconfigs, tokens): mounted at the same path. */
  outDir: string;
  /** The KV's data folder on the node (etcd.local.dataDir, default /var/lib/etcd as kubeadm). */
  kvDataDir?: string;
  /**
   * For a control-plane node that joins: the KV members already there
   * ("name=peerURL") and the NATS routes of the other control-plane nodes.
   * Without: a new one-member KV and a NATS cluster of one.
   */
  join?: { initialCluster: string[]; natsRoutes: string[] };
}

const url = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

interface Volume {
  name: string;
  hostPath: string;
  mountPath: string;
  readOnly: boolean;
  type: 'Directory' | 'DirectoryOrCreate';
}

/**
 * Annotations of the control-plane static pods (so of their mirror pods) that
 * tell a joining control-plane node where the others are, as kubeadm's do.
 */
export const ANNOTATIONS = {
  kvClientURLs: 'kubeadm.kubernetes.io/etcd.advertise-client-urls',
  apiserverEndpoint: 'kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint',
  natsClientURL: 'kubets.io/nats.advertise-client-url',
  natsClusterURL: 'kubets.io/nats.advertise-cluster-url',
  /** The component's kubeadm extraArgs (JSON list of {name, value}), for control-plane nodes that join. */
  extraArgs: 'kubets.io/extra-args',
} as const;

/**
 * kubeadm's rule for extraArgs: each replaces the generated flag of the same
 * name (all of its occurrences) and is added as --name=value.
 */
export function withExtraArgs(command: string[], extra: ExtraArg[] | undefined): string[] {
  if (!extra || extra.length === 0) return command;
  const names = new Set(extra.map((a) => a.name));
  const kept = command.filter((arg) => {
    const m = /^--([^=]+)/.exec(arg);
    return !m || !names.has(m[1]!);
  });
  return [...kept, ...extra.map((a) => `--${a.name}=${a.value}`)];
}

/** The annotation that records a component's extraArgs (none when there are none). */
function extraArgsAnnotation(extra: ExtraArg[] | undefined): Record<string, string> | undefined {
  return extra && extra.length > 0 ? { [ANNOTATIONS.extraArgs]: JSON.stringify(extra) } : undefined;
}

function staticPod(
  name: string,
  image: string,
  command: string[],
  volumes: Volume[],
  probe?: { port: number; path: string; scheme: 'HTTP' | 'HTTPS'; host: string },
  annotations?: Record<string, string>,
): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'kube-system', labels: { component: name, tier: 'control-plane' }, ...(annotations ? { annotations } : {}) },
    spec: {
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      // The control plane restarts with its node; it never waits on a registry.
      containers: [
        {
          name,
          image,
          imagePullPolicy: 'IfNotPresent',
          command,
          ...(probe
            ? {
                // As kubeadm: restart a component that stops answering; generous start-up (the KV and the API server need their peers).
                livenessProbe: { httpGet: { host: probe.host, port: probe.port, path: probe.path, scheme: probe.scheme }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15, failureThreshold: 8 },
                startupProbe: { httpGet: { host: probe.host, port: probe.port, path: probe.path, scheme: probe.scheme }, initialDelaySeconds: 10, periodSeconds: 10, timeoutSeconds: 15, failureThreshold: 24 },
              }
            : {}),
          volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: v.mountPath, readOnly: v.readOnly })),
        },
      ],
      volumes: volumes.map((v) => ({ name: v.name, hostPath: { path: v.hostPath, type: v.type } })),
    },
  };
  return `# Written by kubets init: a static pod the kubelet runs from --pod-manifest-path.\n${YAML.stringify(pod)}`;
}

/**
 * The static pod manifests (file name -> YAML) of one control-plane node.
 * The KV member only with etcd.local (an external etcd is the operator's).
 */
export function controlPlaneManifests(c: ManifestConfig, o: ManifestOptions): Record<string, string> {
  const P = CONTROL_PLANE_PORTS;
  const adv = c.advertiseAddress;
  const k8s: Volume = { name: 'k8s', hostPath: o.outDir, mountPath: o.outDir, readOnly: true, type: 'Directory' };
  const f = (rel: string) => path.join(o.outDir, rel);
  const natsUrl = `nats://127.0.0.1:${P.nats}`;
  const out: Record<string, string> = {};

  if ('local' in c.etcd) {
    const dataDir = o.kvDataDir ?? c.etcd.local.dataDir;
    out['kubets-kv.yaml'] = staticPod(
      'kubets-kv',
      o.image,
      withExtraArgs([
        'kubets-entrypoint',
        'kv',
        `--name=${c.nodeName}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${url(adv, P.kvClient)},${url('127.0.0.1', P.kvClient)}`,
        `--advertise-client-urls=${url(adv, P.kvClient)}`,
        `--listen-peer-urls=${url(adv, P.kvPeer)}`,
        `--initial-advertise-peer-urls=${url(adv, P.kvPeer)}`,
        `--initial-cluster=${(o.join?.initialCluster ?? []).concat(`${c.nodeName}=${url(adv, P.kvPeer)}`).join(',')}`,
        `--initial-cluster-state=${o.join ? 'existing' : 'new'}`,
        `--listen-metrics-urls=${url('127.0.0.1', P.kvMetrics)}`,
      ], c.extraArgs?.etcd),
      [{ name: 'kv-data', hostPath: dataDir, mountPath: dataDir, readOnly: false, type: 'DirectoryOrCreate' }],
      { host: '127.0.0.1', port: P.kvMetrics, path: '/health', scheme: 'HTTP' },
      { [ANNOTATIONS.kvClientURLs]: url(adv, P.kvClient), ...extraArgsAnnotation(c.extraArgs?.etcd) },
    );
  }

  const natsHost = adv.includes(':') ? `[${adv}]` : adv;
  out['nats.yaml'] = staticPod(
    'nats',
    o.image,
    [
      'kubets-entrypoint',
      'nats-server',
      '-a',
      '0.0.0.0',
      '-p',
      String(P.nats),
      '-m',
      String(P.natsMonitor),
      '--server_name',
      c.nodeName,
      // Every control-plane node's NATS is a member of one cluster: the first
      // listens for routes, each joining one solicits routes to those already
      // there (the servers then gossip the full mesh, and clients learn every
      // server). Core NATS only: nothing uses JetStream, whose cluster mode
      // would need a quorum of its own. The advertised URLs are the node's
      // address, not every interface's (the CNI bridge's would be gossiped too).
      '--cluster_name',
      'kubets',
      '--cluster',
      `nats://0.0.0.0:${P.natsCluster}`,
      '--cluster_advertise',
      `${natsHost}:${P.natsCluster}`,
      '--client_advertise',
      `${natsHost}:${P.nats}`,
      ...(o.join?.natsRoutes.length ? ['--routes', o.join.natsRoutes.join(',')] : []),
    ],
    [],
    { host: '127.0.0.1', port: P.natsMonitor, path: '/healthz', scheme: 'HTTP' },
    { [ANNOTATIONS.natsClientURL]: `nats://${natsHost}:${P.nats}`, [ANNOTATIONS.natsClusterURL]: `nats://${natsHost}:${P.natsCluster}` },
  );

  const etcdServers = 'external' in c.etcd ? c.etcd.external.endpoints.join(',') : url('127.0.0.1', P.kvClient);
  out['kube-apiserver.yaml'] = staticPod(
    'kube-apiserver',
    o.image,
    withExtraArgs([
      'kubets-entrypoint',
      'apiserver',
      `--advertise-address=${adv}`,
      '--bind-address=0.0.0.0',
      `--secure-port=${c.bindPort}`,
      `--grpc-bind-address=0.0.0.0:${P.apiserverGrpc}`,
      `--etcd-servers=${etcdServers}`,
      ...('external' in c.etcd && c.etcd.external.caFile ? [`--etcd-cafile=${c.etcd.external.caFile}`] : []),
      ...('external' in c.etcd && c.etcd.external.certFile ? [`--etcd-certfile=${c.etcd.external.certFile}`, `--etcd-keyfile=${c.etcd.external.keyFile}`] : []),
      `--tls-cert-file=${f('pki/apiserver.crt')}`,
      `--tls-private-key-file=${f('pki/apiserver.key')}`,
      `--client-ca-file=${f('pki/ca.crt')}`,
      `--token-auth-file=${f('tokens.csv')}`,
      `--service-cluster-ip-range=${c.serviceSubnet}`,
      `--kubelet-client-certificate=${f('pki/apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${f('pki/apiserver-kubelet-client.key')}`,
      `--nats-url=${natsUrl}`,
    ], c.extraArgs?.apiServer),
    [k8s],
    { host: '127.0.0.1', port: c.bindPort, path: '/livez', scheme: 'HTTPS' },
    { [ANNOTATIONS.apiserverEndpoint]: `${natsHost}:${c.bindPort}`, ...extraArgsAnnotation(c.extraArgs?.apiServer) },
  );

  const client = (name: string, app: string, kubeconfig: string, port: number, extraArgs: ExtraArg[] | undefined, extra: string[] = []) =>
    staticPod(
      name,
      o.image,
      withExtraArgs(['kubets-entrypoint', app, `--kubeconfig=${f(kubeconfig)}`, `--nats-url=${natsUrl}`, '--bind-address=127.0.0.1', `--secure-port=${port}`, ...extra], extraArgs),
      [k8s],
      { host: '127.0.0.1', port, path: '/healthz', scheme: 'HTTP' },
      extraArgsAnnotation(extraArgs),
    );
  out['kube-controller-manager.yaml'] = client(
    'kube-controller-manager',
    'controller-manager',
    'controller-manager.kubeconfig',
    P.controllerManager,
    c.extraArgs?.controllerManager,
    c.podSubnet ? ['--allocate-node-cidrs', `--cluster-cidr=${c.podSubnet}`] : [],
  );
  out['kube-scheduler.yaml'] = client('kube-scheduler', 'scheduler', 'scheduler.kubeconfig', P.scheduler, c.extraArgs?.scheduler);
  return out;
}

export interface KubeletFlagsOptions {
  outDir: string;
  nodeName: string;
  nodeIP: string;
  /** The NATS URL(s) of the control plane. */
  natsUrl: string;
  controlPlane: boolean;
}

/**
 * kubeadm's /var/lib/kubelet/kubeadm-flags.env: KUBELET_ARGS for the node's
 * kubelet service (the node image's init reads it). A control-plane node is
 * labelled and tainted as kubeadm does.
 */
export function kubeletFlagsEnv(o: KubeletFlagsOptions): string {
  const args = [
    `--kubeconfig=${path.join(o.outDir, 'kubelet.kubeconfig')}`,
    `--nats-url=${o.natsUrl}`,
    `--hostname-override=${o.nodeName}`,
    `--node-ip=${o.nodeIP}`,
    `--pod-manifest-path=${path.join(o.outDir, 'manifests')}`,
    '--container-runtime-endpoint=unix:///run/containerd/containerd.sock',
    '--root-dir=/var/lib/kubets-kubelet',
    '--cni-conf-dir=/etc/cni/net.d',
    `--client-ca-file=${path.join(o.outDir, 'pki/ca.crt')}`,
    // Nodes of one network reach each other's pods through each other (host-gw).
    '--configure-pod-routes',
    ...(o.controlPlane ? ['--node-labels=node-role.kubernetes.io/control-plane=', '--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule'] : []),
  ];
  return `# Written by kubets init/join: the kubelet's flags (kubeadm-flags.env).\nKUBELET_ARGS="${args.join(' ')}"\n`;
}

/** Writes the manifests into <out-dir>/manifests and the kubelet's flags into <out-dir>/kubelet-flags.env; returns the paths written. */
export function writeControlPlane(c: ManifestConfig, o: ManifestOptions & { phases: { etcd: boolean; controlPlane: boolean; kubeletStart: boolean } }, write: (file: string, text: string) => void): string[] {
  const written: string[] = [];
  const dir = path.join(o.outDir, 'manifests');
  if (o.phases.etcd || o.phases.controlPlane) {
    for (const [name, text] of Object.entries(controlPlaneManifests(c, o))) {
      if (name === 'kubets-kv.yaml' ? !o.phases.etcd : !o.phases.controlPlane) continue;
      write(path.join(dir, name), text);
      written.push(path.join(dir, name));
    }
  }
  if (o.phases.kubeletStart) {
    const file = path.join(o.outDir, 'kubelet-flags.env');
    write(file, kubeletFlagsEnv({ outDir: o.outDir, nodeName: c.nodeName, nodeIP: c.advertiseAddress, natsUrl: `nats://127.0.0.1:${CONTROL_PLANE_PORTS.nats}`, controlPlane: true }));
    written.push(file);
  }
  return written;
}

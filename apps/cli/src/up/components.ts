// The local cluster's components: the command line each one runs with, in
// one place for `kubets up` (every component a detached process) and
// `kubets serve COMPONENT` (one component in the foreground, what each app's
// nx `serve` target runs).
import fs from 'node:fs';
import path from 'node:path';
import type { InitSummary } from '../init';
import type { NodeLayout } from './node';
import type { Ports } from './ports';

/** The repository root, from apps/cli/{src,dist}/up. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export class UpError extends Error {}

export function builtApp(app: string): string {
  const file = path.join(REPO_ROOT, 'apps', app, 'dist', 'main.js');
  if (!fs.existsSync(file)) throw new UpError(`${file} is missing: build first (npx nx run-many -t build)`);
  return file;
}

export interface Command {
  /** Process name, also the log file's name under D/logs. */
  name: string;
  command: string;
  args: string[];
  /** A string in the command line that identifies the process (for kubets down). */
  match: string;
}

const url = (p: number) => `http://127.0.0.1:${p}`;
const node = (name: string, app: string, args: string[]): Command => {
  const file = builtApp(app);
  return { name, command: process.execPath, args: [file, ...args], match: file };
};

export const natsUrl = (ports: Ports) => `nats://127.0.0.1:${ports.nats}`;
export const grpcAddress = (ports: Ports) => `127.0.0.1:${ports.grpc}`;
export const kvEndpoints = (ports: Ports) => ports.kvClient.map(url);
export const kvHealthUrl = (ports: Ports, i = 0) => `${url(ports.kvMetrics[i]!)}/health`;

export function natsCommand(dir: string, ports: Ports): Command {
  return { name: 'nats-server', command: 'nats-server', args: ['-a', '127.0.0.1', '-p', String(ports.nats), '-js', '-sd', path.join(dir, 'nats')], match: 'nats-server' };
}

/** The three kubets-kv members, infra1..infra3. */
export function kvCommands(dir: string, ports: Ports): Command[] {
  const initialCluster = ports.kvPeer.map((p, i) => `infra${i + 1}=${url(p)}`).join(',');
  return [0, 1, 2].map((i) => {
    const name = `infra${i + 1}`;
    return node(`kubets-kv-${name}`, 'kv', [
      `--name=${name}`,
      `--data-dir=${path.join(dir, 'kv', name)}`,
      `--listen-client-urls=${url(ports.kvClient[i]!)}`,
      `--advertise-client-urls=${url(ports.kvClient[i]!)}`,
      `--listen-peer-urls=${url(ports.kvPeer[i]!)}`,
      `--initial-advertise-peer-urls=${url(ports.kvPeer[i]!)}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-token=kubets-local',
      `--listen-metrics-urls=${url(ports.kvMetrics[i]!)}`,
    ]);
  });
}

export function apiserverCommand(dir: string, ports: Ports, summary: InitSummary): Command {
  return node('kubets-apiserver', 'apiserver', [
    `--etcd-servers=${kvEndpoints(ports).join(',')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.apiserver}`,
    `--grpc-bind-address=${grpcAddress(ports)}`,
    `--tls-cert-file=${path.join(dir, 'pki/apiserver.crt')}`,
    `--tls-private-key-file=${path.join(dir, 'pki/apiserver.key')}`,
    `--client-ca-file=${path.join(dir, 'pki/ca.crt')}`,
    `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
    `--service-cluster-ip-range=${summary.serviceSubnet}`,
    // pods/log and pods/exec go to the kubelets with kubeadm's client certificate.
    `--kubelet-client-certificate=${path.join(dir, 'pki/apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${path.join(dir, 'pki/apiserver-kubelet-client.key')}`,
    `--nats-url=${natsUrl(ports)}`,
  ]);
}

/** A control-plane client (controller manager, scheduler): its kubeconfig from kubets init, the API server's gRPC, NATS, /readyz on its port. */
function controlPlaneClient(name: string, app: string, kubeconfig: string, dir: string, ports: Ports, port: number, extra: string[] = []): Command {
  return node(name, app, [
    `--kubeconfig=${path.join(dir, kubeconfig)}`,
    `--grpc-address=${grpcAddress(ports)}`,
    `--nats-url=${natsUrl(ports)}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    ...extra,
  ]);
}

/** The controller manager; with a pod subnet (kubeadm's networking.podSubnet) it gives every node a pod CIDR from it, as kubeadm sets it up. */
export const controllerManagerCommand = (dir: string, ports: Ports, summary: InitSummary): Command =>
  controlPlaneClient(
    'kubets-controller-manager',
    'controller-manager',
    'controller-manager.kubeconfig',
    dir,
    ports,
    ports.controllerManager,
    summary.podSubnet ? ['--allocate-node-cidrs', `--cluster-cidr=${summary.podSubnet}`] : [],
  );

export const schedulerCommand = (dir: string, ports: Ports): Command =>
  controlPlaneClient('kubets-scheduler', 'scheduler', 'scheduler.kubeconfig', dir, ports, ports.scheduler);

/** The kubelets' credentials: kubelet.kubeconfig when kubets init wrote one, else the admin's. */
function kubeletKubeconfig(dir: string): string {
  return fs.existsSync(path.join(dir, 'kubelet.kubeconfig')) ? path.join(dir, 'kubelet.kubeconfig') : path.join(dir, 'admin.kubeconfig');
}

/**
 * The real node's kubelet: pods on the node's containerd, the CNI config
 * written for the node's podCIDR (--cni-conf-dir, read by containerd), pod
 * cgroups under one parent that kubets down removes, logs and exec for the
 * API server's client certificate (signed by the cluster CA) on a free port.
 */
export function realKubeletCommand(dir: string, ports: Ports, l: NodeLayout): Command {
  return node('kubets-kubelet', 'kubelet', [
    `--hostname-override=${l.name}`,
    '--node-ip=127.0.0.1',
    `--kubeconfig=${kubeletKubeconfig(dir)}`,
    `--grpc-address=${grpcAddress(ports)}`,
    `--nats-url=${natsUrl(ports)}`,
    `--healthz-bind-address=127.0.0.1:${ports.kubelet}`,
    `--container-runtime-endpoint=unix://${l.socket}`,
    `--root-dir=${l.kubeletRoot}`,
    `--cni-conf-dir=${l.cniConfDir}`,
    `--cni-bridge=${l.bridge}`,
    `--cgroup-root=${l.cgroupRoot}`,
    '--address=127.0.0.1',
    '--port=0',
    `--client-ca-file=${path.join(dir, 'pki/ca.crt')}`,
  ]);
}

/** The taint of the hollow nodes beside the real node (tolerate it to schedule onto them, e.g. in scale tests). */
export const HOLLOW_TAINT = 'kubets.io/hollow=true:NoSchedule';

/**
 * One kubelet process running `nodes` hollow nodes. Alone (kubets up
 * --hollow) it is "kubets-kubelet" with nodes node / node-0..N-1 and /readyz
 * on the kubelet port; next to the real node it is "kubets-kubelet-hollow"
 * with nodes kubets-hollow / kubets-hollow-0..N-1 on the hollow kubelet port,
 * tainted HOLLOW_TAINT.
 */
export function hollowKubeletCommand(dir: string, ports: Ports, nodes: number, besideRealNode = false): Command {
  return node(besideRealNode ? 'kubets-kubelet-hollow' : 'kubets-kubelet', 'kubelet', [
    '--hollow',
    `--hollow-nodes=${nodes}`,
    `--hostname-override=${besideRealNode ? 'kubets-hollow' : 'node'}`,
    `--kubeconfig=${kubeletKubeconfig(dir)}`,
    `--grpc-address=${grpcAddress(ports)}`,
    `--nats-url=${natsUrl(ports)}`,
    `--healthz-bind-address=127.0.0.1:${besideRealNode ? ports.hollowKubelet : ports.kubelet}`,
    // Beside the real node, hollow nodes take only pods that tolerate it, so
    // `kubectl create deployment` runs real containers, not pretend ones.
    ...(besideRealNode ? [`--register-with-taints=${HOLLOW_TAINT}`] : []),
  ]);
}

/** kubeadm's default pod network of the local cluster (kubets up --pod-network-cidr). */
export const DEFAULT_POD_SUBNET = '10.244.0.0/16';

/** The kubeadm configuration `kubets up` and `kubets serve` give `kubets init`. */
export function kubeadmConfig(ports: Ports, podSubnet = DEFAULT_POD_SUBNET): string {
  return [
    '# Written by `kubets up`: the local cluster on loopback.',
    'apiVersion: kubeadm.k8s.io/v1beta3',
    'kind: InitConfiguration',
    'localAPIEndpoint:',
    '  advertiseAddress: 127.0.0.1',
    `  bindPort: ${ports.apiserver}`,
    'nodeRegistration:',
    '  name: kubets-control-plane',
    '---',
    'apiVersion: kubeadm.k8s.io/v1beta3',
    'kind: ClusterConfiguration',
    `controlPlaneEndpoint: 127.0.0.1:${ports.apiserver}`,
    'networking:',
    '  serviceSubnet: 10.96.0.0/12',
    `  podSubnet: ${podSubnet}`,
    '',
  ].join('\n');
}

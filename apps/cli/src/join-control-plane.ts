// `kubets join --control-plane`: one more control-plane node, the kubeadm way
// with manual certificate distribution. The operator copies the files every
// control plane shares (the CA and its key, the service account key pair and
// the token file) from an existing control-plane node; this node then
//   1. discovers and verifies the cluster as a worker does (cluster-info, the
//      pinned CA, the bootstrap token), and checks the copied CA is that CA;
//   2. reads where the control plane runs from its mirror pods (KV client
//      URLs, NATS cluster URLs, subnets, image);
//   3. issues its own serving certificate and kubeconfigs with the shared CA
//      (`kubets init`'s code, which keeps what exists);
//   4. adds itself to the KV cluster as a learner (etcd's MemberAdd) and
//      writes the static pods: a KV member that joins the existing cluster, a
//      NATS server with routes to the others, an API server, a controller
//      manager and a scheduler (the last two elect a leader among the nodes);
//   5. promotes its KV learner to a voter once the leader finds it in sync.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EtcdClient } from '@kubets/etcd-client';
import { publicKeyPin, writeFileAtomic } from '@kubets/pki';
import { configFromFlags } from './config';
import { FILES, runInit, type InitResult } from './init';
import { controlPlaneInfo, discover, JoinError, localAddressTowards, type ControlPlaneInfo, type JoinOptions } from './join';
import { CONTROL_PLANE_PORTS, writeControlPlane } from './manifests';

/** What every control-plane node must have the same copy of (kubeadm's list, for kubets' files). */
export const SHARED_FILES = [FILES.caCert, FILES.caKey, FILES.serviceAccountKey, FILES.serviceAccountPublicKey, FILES.tokenAuthFile] as const;

export interface JoinControlPlaneOptions extends JoinOptions {
  advertiseAddress?: string;
  bindPort: number;
  image?: string;
  /** The image when the cluster's API server pod names none (default docker.io/kubets/kubets:<version>). */
  defaultImage: string;
  /** How long to wait for the control plane's mirror pods (default 2 min). */
  mirrorPodTimeoutMs?: number;
  /** How long to wait for this node's KV learner to catch up and be promoted (default 2 min). */
  learnerTimeoutMs?: number;
}

export interface JoinControlPlaneResult {
  server: string;
  nodeName: string;
  advertiseAddress: string;
  init: InitResult;
  /** The KV cluster this member joins, etcd's --initial-cluster form. */
  initialCluster: string[];
  natsRoutes: string[];
  /** True when this node's peer URL was already a member (a re-run). */
  memberExisted: boolean;
  written: string[];
}

const url = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

/** The missing shared files, and whether the copied CA is the discovered one. */
export function checkSharedFiles(outDir: string, caPin: string): void {
  const missing = SHARED_FILES.map((f) => path.join(outDir, f)).filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new JoinError(
      'one or more conditions for hosting a new control plane instance is not satisfied: the certificates and keys every control plane shares are missing:\n' +
        missing.map((f) => `  ${f}\n`).join('') +
        `Copy them from an existing control-plane node (same paths under its --out-dir): ${SHARED_FILES.join(', ')}.`,
    );
  }
  const local = fs.readFileSync(path.join(outDir, FILES.caCert), 'utf8');
  let pin: string;
  try {
    pin = publicKeyPin(local);
  } catch (e) {
    throw new JoinError(`${path.join(outDir, FILES.caCert)} is not a certificate: ${(e as Error).message}`);
  }
  if (pin !== caPin) throw new JoinError(`${path.join(outDir, FILES.caCert)} (${pin}) is not the CA of the cluster at the endpoint (${caPin}): copy the shared files from one of its control-plane nodes`);
}

export async function runJoinControlPlane(o: JoinControlPlaneOptions): Promise<JoinControlPlaneResult> {
  const outDir = path.resolve(o.outDir);
  const d = await discover(o);
  checkSharedFiles(outDir, d.caPin);
  o.log(`[preflight] The shared certificates and keys in ${outDir} are the cluster's`);

  const nodeName = (o.nodeName ?? os.hostname()).toLowerCase();
  // The mirror pods appear a little after the API server answers (the first
  // node's kubelet registers the node, then mirrors its static pods): wait.
  const deadline = Date.now() + (o.mirrorPodTimeoutMs ?? 120_000);
  let info: ControlPlaneInfo;
  for (let waited = false; ; waited = true) {
    info = await controlPlaneInfo(d, nodeName);
    const missing = [
      !info.serviceSubnet && 'a kube-apiserver mirror pod with --service-cluster-ip-range',
      info.kvClientURLs.length === 0 && info.externalEtcd.length === 0 && 'a kubets-kv mirror pod (or an API server on an external etcd)',
      info.natsClusterURLs.length === 0 && 'a nats mirror pod',
    ].filter((m): m is string => !!m);
    if (missing.length === 0) break;
    if (Date.now() > deadline) throw new JoinError(`could not find the control plane: kube-system has no ${missing.join(', no ')}`);
    if (!waited) o.log(`[preflight] Waiting for the control plane's mirror pods in kube-system (${missing.join('; ')})`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  o.log(`[preflight] The control plane: KV ${info.kvClientURLs.join(',') || `external ${info.externalEtcd.join(',')}`}, NATS routes ${info.natsClusterURLs.join(',')}, services ${info.serviceSubnet}, pods ${info.podSubnet ?? '(none)'}`);

  let advertiseAddress = o.advertiseAddress;
  if (!advertiseAddress) {
    try {
      advertiseAddress = await localAddressTowards(d.endpoint.host, d.endpoint.port);
    } catch (e) {
      throw new JoinError(`could not find this host's address towards ${d.endpoint.host}: ${(e as Error).message} (pass --apiserver-advertise-address)`);
    }
  }

  // The serving certificate (this node's SANs plus the endpoint's), the
  // kubeconfigs and the kubelet's, all from the shared CA; tokens.csv as copied.
  const configText = configFromFlags({
    advertiseAddress,
    bindPort: o.bindPort,
    controlPlaneEndpoint: d.endpoint.text,
    serviceCidr: info.serviceSubnet,
    podNetworkCidr: info.podSubnet,
    nodeName,
    etcdServers: info.externalEtcd.length > 0 ? info.externalEtcd : undefined,
    // The components run with the cluster's extraArgs (kubeadm reads them from its ClusterConfiguration).
    extraArgs: info.extraArgs,
  });
  const init = runInit({ configText, configSource: 'the cluster (kubets join --control-plane)', outDir, kubelet: true, log: o.log });

  // The KV: add this member as a learner (unless a previous run did), as
  // kubeadm's etcd learner mode does: it replicates without voting, so the
  // cluster's quorum does not depend on it until it has caught up and is
  // promoted (below, once the kubelet runs it).
  let initialCluster: string[] = [];
  let memberExisted = false;
  let learner: bigint | undefined;
  if (info.kvClientURLs.length > 0) {
    const peerURL = url(advertiseAddress, CONTROL_PLANE_PORTS.kvPeer);
    const kv = new EtcdClient({ endpoints: info.kvClientURLs, operationTimeoutMs: 30_000 });
    try {
      let members = (await kv.memberList()).members;
      const existing = members.find((m) => m.peerURLs.includes(peerURL));
      memberExisted = existing !== undefined;
      if (!existing) {
        const added = await kv.memberAdd([peerURL], true);
        members = added.members;
        learner = added.member?.ID;
        o.log(`[kv] Added learner member ${added.member?.ID.toString(16)} (${peerURL}) to the KV cluster`);
      } else {
        if (existing.isLearner) learner = existing.ID;
        o.log(`[kv] ${peerURL} is already a ${existing.isLearner ? 'learner' : 'voting'} member of the KV cluster`);
      }
      const unstarted = members.filter((m) => !m.name && !m.peerURLs.includes(peerURL));
      if (unstarted.length > 0) {
        throw new JoinError(`the KV cluster has members that never started (${unstarted.flatMap((m) => m.peerURLs).join(', ')}): start or remove them (etcdctl member remove) before adding another`);
      }
      initialCluster = members.filter((m) => !m.peerURLs.includes(peerURL)).flatMap((m) => m.peerURLs.map((u) => `${m.name}=${u}`));
    } catch (e) {
      if (e instanceof JoinError) throw e;
      throw new JoinError(`the KV at ${info.kvClientURLs.join(',')}: ${(e as Error).message}`);
    } finally {
      kv.close();
    }
  }

  const image = o.image ?? info.image ?? o.defaultImage;
  const written = writeControlPlane(
    init.config,
    { image, outDir, join: { initialCluster, natsRoutes: info.natsClusterURLs }, phases: { etcd: info.kvClientURLs.length > 0, controlPlane: true, kubeletStart: true } },
    (f, text) => writeFileAtomic(f, text, 0o644),
  );
  if (learner !== undefined) await promoteWhenInSync(info.kvClientURLs, learner, o.learnerTimeoutMs ?? 120_000, o.log);
  return { server: d.server, nodeName, advertiseAddress, init, initialCluster, natsRoutes: info.natsClusterURLs, memberExisted, written };
}

/**
 * Promotes the KV learner `id` to a voter once the leader finds it in sync
 * (the kubelet starts its static pod meanwhile), asking every second, as
 * kubeadm does for its etcd learner.
 */
export async function promoteWhenInSync(endpoints: string[], id: bigint, timeoutMs: number, log: (line: string) => void): Promise<void> {
  const kv = new EtcdClient({ endpoints, operationTimeoutMs: 10_000 });
  const hex = id.toString(16);
  const deadline = Date.now() + timeoutMs;
  try {
    log(`[kv] Waiting for learner ${hex} to catch up with the leader, then promoting it (the node's kubelet service must run: it starts the member from its static pod)`);
    for (let last = ''; ; ) {
      try {
        await kv.memberPromote(id);
        log(`[kv] Promoted ${hex} to a voting member`);
        return;
      } catch (e) {
        const msg = (e as Error).message;
        // A promotion whose answer was lost: it is a voter already.
        if (/can only promote a learner member$/.test(msg)) return;
        last = msg;
      }
      if (Date.now() > deadline) {
        throw new JoinError(
          `KV learner ${hex} was not promoted within ${Math.round(timeoutMs / 1000)} s (last answer: ${last}). ` +
            `Check that the kubelet runs its static pod, then promote it: etcdctl --endpoints ${endpoints[0]} member promote ${hex}`,
        );
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    kv.close();
  }
}

export function joinControlPlaneReport(r: JoinControlPlaneResult): string {
  const lines = ['', `This node (${r.nodeName}, ${r.advertiseAddress}) is set up as a control-plane node of the cluster at ${r.server}:`, ''];
  for (const f of r.init.files) lines.push(`  ${f.action.padEnd(8)} ${f.path}`);
  for (const f of r.written) lines.push(`  written  ${f}`);
  lines.push(
    '',
    r.initialCluster.length > 0
      ? `Its KV member joined ${r.initialCluster.join(',')}${r.memberExisted ? ' (it was a member already)' : ''} as a learner and was promoted to a voter once in sync.`
      : 'The API server uses the external etcd.',
    `Its NATS server routes to ${r.natsRoutes.join(',')}.`,
    '',
    "The node's kubelet service runs the static pods in manifests/ (restart it if it was started before this join). Then:",
    '',
    `  export KUBECONFIG=${r.init.summary.paths.adminKubeconfig}`,
    '  kubectl get nodes',
    '',
  );
  return lines.join('\n');
}

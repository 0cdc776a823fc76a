// kubets-proxy in nftables mode across two nodes, for real on this machine
// (root). Each node is a network namespace joined by a veth to a test bridge
// in the host's namespace (the "node network", 10.251.R.0/24, the host at .1);
// inside each node: a pod bridge with the node's pod CIDR (10.252.R.0/25 on A,
// 10.252.R.128/25 on B), pods as network namespaces on it, a route to the
// other node's pod CIDR via that node, and one kubets-proxy programming the
// node's own `ip kubets` table. The control plane (nats-server, kubets-kv,
// kubets-apiserver) runs in the host's namespace and listens on the host's
// node-network address, since inside a node 127.0.0.1 is the node's loopback.
//
// Traffic stays on this machine (PLATFORM.md): clients only run inside the
// namespaces this test creates, or send from the host to node addresses on its
// bridge. Each node routes the service CIDR into an ifb sink before any client
// runs, and has no default route, so a packet no rule rewrites dies inside the
// node; the host also sinks the cluster pod CIDR, which it never sends to.
// Nothing here touches the host's own `ip kubets` table (nftables.test.ts may
// be using it at the same time).
import { ControlPlane, ManagedProcess, builtApp, spawnProcess, testSeed, waitFor, withSeed } from '@kubets/testkit';
import { endpointChainName, serviceChainName, type ServicePortEntry } from '../src/rules';
import { IP, NFT, addPod, connectFrom, connectMany, connectOnce, errors, ipIn, kubectlApply, serviceDoc, sh, sliceDoc, startServer, tryRun, who, type PodNet } from './netns';

jest.setTimeout(240_000);

// The seed picks this run's subnets, names and ports; KUBETS_SEED=<seed> replays them.
const SEED = testSeed();
const R = 10 + (SEED % 240);
const ID = `${process.pid % 1000}${R}`;
const HOST_IP = `10.251.${R}.1`;
const NODE_NET = `10.251.${R}.0/24`;
const CLUSTER_CIDR = `10.252.${R}.0/24`;
const SERVICE_CIDR = '10.96.0.0/12';
const HOST_BRIDGE = `k2br${ID}`;
const HOST_SINK = `k2ks${ID}`;
/** Inside a node's namespace: no other run's names to collide with. */
const POD_BRIDGE = 'cbr0';
const NODE_SINK = 'ksink';
const HEALTHZ_PORT = 10256;
const METRICS_PORT = 10249;

interface NodeNet {
  name: string;
  ns: string;
  /** the host end of the node's veth */
  veth: string;
  ip: string;
  podCIDR: string;
  /** the pod bridge's address: the pods' gateway */
  gateway: string;
}
const NODES: NodeNet[] = [
  { name: 'node-a', ns: `k2${ID}-na`, veth: `k2v${ID}a`, ip: `10.251.${R}.2`, podCIDR: `10.252.${R}.0/25`, gateway: `10.252.${R}.1` },
  { name: 'node-b', ns: `k2${ID}-nb`, veth: `k2v${ID}b`, ip: `10.251.${R}.3`, podCIDR: `10.252.${R}.128/25`, gateway: `10.252.${R}.129` },
];
const [A, B] = NODES as [NodeNet, NodeNet];
type Pod = PodNet & { node: NodeNet };
// pod-a and pod-b serve; client (on A) is not an endpoint of anything.
const POD_A: Pod = { name: 'pod-a', ns: `k2${ID}-pa`, veth: 'vpa', ip: `10.252.${R}.2`, node: A };
const POD_B: Pod = { name: 'pod-b', ns: `k2${ID}-pb`, veth: 'vpb', ip: `10.252.${R}.130`, node: B };
const CLIENT: Pod = { name: 'client', ns: `k2${ID}-pc`, veth: 'vpc', ip: `10.252.${R}.3`, node: A };
const SERVERS = [POD_A, POD_B];
const VIP = `10.100.${R}.10`;
const VIP_STICKY = `10.100.${R}.11`;
const VIP_EMPTY = `10.100.${R}.12`;
const VIP_NODEPORT = `10.100.${R}.13`;
const NODE_PORT = 30_000 + R * 10;

const created: { netns: string[]; links: string[]; hostRoute: boolean } = { netns: [], links: [], hostRoute: false };
const procs: ManagedProcess[] = [];
const proxies = new Map<string, ManagedProcess>();
let cp: ControlPlane | undefined;

/** Every failure names the seed (and so the subnets) it ran with. */
const seeded = (fn: () => unknown) => () => withSeed(async () => void (await fn()), SEED);
const apply = (doc: string) => kubectlApply(cp!, doc);
const inNode = (node: NodeNet, cmd: string, args: string[]) => sh(IP, ['netns', 'exec', node.ns, cmd, ...args]);
const nftTable = (node: NodeNet) => inNode(node, NFT, ['list', 'table', 'ip', 'kubets']);
function nftChain(node: NodeNet, chain: string): string {
  return inNode(node, NFT, ['list', 'chain', 'ip', 'kubets', chain]);
}
const allContext = () => [...proxies.values()].map((p) => p.tail(20)).join('\n');

function startProxy(node: NodeNet): ManagedProcess {
  const p = spawnProcess({
    name: `kubets-proxy-${node.name}`,
    command: IP,
    // `ip netns exec` execs node: the process we signal is kubets-proxy itself.
    args: [
      'netns',
      'exec',
      node.ns,
      process.execPath,
      builtApp('proxy'),
      `--kubeconfig=${cp!.kubeconfig}`,
      `--grpc-address=${HOST_IP}:${cp!.apiservers[0]!.grpcPort}`,
      `--nats-url=${cp!.nats!.url}`,
      '--proxy-mode=nftables',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      // NodePorts answer on the node-network address only, not on the pod bridge's.
      `--nodeport-addresses=${NODE_NET}`,
      `--hostname-override=${node.name}`,
      '--ipvs-min-sync-period=0s',
      '--ipvs-sync-period=10s',
      // On the node's address, so this test (in the host's namespace) can read them.
      `--healthz-bind-address=${node.ip}:${HEALTHZ_PORT}`,
      `--metrics-bind-address=${node.ip}:${METRICS_PORT}`,
    ],
  });
  procs.push(p);
  proxies.set(node.name, p);
  return p;
}
async function healthzOk(node: NodeNet): Promise<boolean> {
  const res = await fetch(`http://${node.ip}:${HEALTHZ_PORT}/healthz`, { signal: AbortSignal.timeout(2000) });
  return res.status === 200;
}

function setUpNode(node: NodeNet, other: NodeNet): void {
  sh(IP, ['netns', 'add', node.ns]);
  created.netns.push(node.ns);
  created.links.push(node.veth);
  sh(IP, ['link', 'add', node.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.ns]);
  sh(IP, ['link', 'set', node.veth, 'master', HOST_BRIDGE]);
  sh(IP, ['link', 'set', node.veth, 'up']);
  ipIn(node.ns, ['link', 'set', 'lo', 'up']);
  ipIn(node.ns, ['addr', 'add', `${node.ip}/24`, 'dev', 'eth0']);
  ipIn(node.ns, ['link', 'set', 'eth0', 'up']);
  // The sink first: from here on a ClusterIP packet no rule rewrites dies in the node.
  ipIn(node.ns, ['link', 'add', NODE_SINK, 'type', 'ifb']);
  ipIn(node.ns, ['link', 'set', NODE_SINK, 'up']);
  ipIn(node.ns, ['route', 'add', SERVICE_CIDR, 'dev', NODE_SINK]);
  ipIn(node.ns, ['link', 'add', POD_BRIDGE, 'type', 'bridge']);
  ipIn(node.ns, ['addr', 'add', `${node.gateway}/25`, 'dev', POD_BRIDGE]);
  ipIn(node.ns, ['link', 'set', POD_BRIDGE, 'up']);
  // The other node's pods, through that node (what a CNI's host-gw mode does).
  ipIn(node.ns, ['route', 'add', other.podCIDR, 'via', other.ip]);
  inNode(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

/** Links, namespaces and routes of this run still present in the host's namespace. */
function leftovers(): string[] {
  const out: string[] = [];
  const links = sh(IP, ['-br', 'link']);
  for (const l of [HOST_BRIDGE, HOST_SINK, ...NODES.map((n) => n.veth)]) if (links.split('\n').some((line) => line.split(/[\s@]/)[0] === l)) out.push(`link ${l}`);
  const nss = sh(IP, ['netns', 'list']);
  for (const ns of [...NODES, ...SERVERS, CLIENT].map((x) => x.ns)) if (nss.split('\n').some((line) => line.split(' ')[0] === ns)) out.push(`netns ${ns}`);
  const routes = sh(IP, ['-4', 'route', 'show']);
  for (const r of [`10.251.${R}.`, `10.252.${R}.`]) if (routes.includes(r)) out.push(`route ${r}*`);
  return out;
}

beforeAll(
  seeded(async () => {
    process.stderr.write(`two-node test: seed ${SEED} (KUBETS_SEED=${SEED} replays), node network ${NODE_NET}, cluster CIDR ${CLUSTER_CIDR}\n`);
    // Refuse to run over somebody else's addresses.
    expect(leftovers()).toEqual([]);
    // 1. The node network: a bridge in the host's namespace, the host at .1.
    created.links.push(HOST_BRIDGE);
    sh(IP, ['link', 'add', HOST_BRIDGE, 'type', 'bridge']);
    sh(IP, ['addr', 'add', `${HOST_IP}/24`, 'dev', HOST_BRIDGE]);
    sh(IP, ['link', 'set', HOST_BRIDGE, 'up']);
    // The host never sends to a pod; if it did by mistake, the packet dies here.
    created.links.push(HOST_SINK);
    sh(IP, ['link', 'add', HOST_SINK, 'type', 'ifb']);
    sh(IP, ['link', 'set', HOST_SINK, 'up']);
    sh(IP, ['route', 'add', CLUSTER_CIDR, 'dev', HOST_SINK]);
    created.hostRoute = true;
    // 2. Two nodes, three pods.
    setUpNode(A, B);
    setUpNode(B, A);
    for (const pod of [...SERVERS, CLIENT]) {
      created.netns.push(pod.ns);
      addPod(pod, { bridge: POD_BRIDGE, bridgeNs: pod.node.ns, prefix: 25, gateway: pod.node.gateway });
    }
    for (const pod of SERVERS) procs.push(await startServer(pod, 'two-node'));
    // 3. The control plane on the node network, the Node objects and the Services.
    cp = await ControlPlane.start({ nats: true, address: HOST_IP });
    for (const node of NODES) {
      await apply(JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } } }));
      // Addresses are status: written through the status subresource, as a kubelet does.
      const r = await cp.request('PATCH', `/api/v1/nodes/${node.name}/status`, {
        body: JSON.stringify({ status: { addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }] } }),
        headers: { 'Content-Type': 'application/merge-patch+json' },
      });
      expect(r.status).toBe(200);
    }
    await apply(serviceDoc('echo', VIP));
    await apply(sliceDoc('echo', SERVERS, {}));
    await apply(serviceDoc('echo-sticky', VIP_STICKY, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } } }));
    await apply(sliceDoc('echo-sticky', SERVERS, {}));
    await apply(serviceDoc('echo-empty', VIP_EMPTY));
    await apply(serviceDoc('echo-np', VIP_NODEPORT, { type: 'NodePort' }, NODE_PORT));
    await apply(sliceDoc('echo-np', SERVERS, {}));
    // 4. One kubets-proxy per node; clients target ClusterIPs only once both have synced.
    const t0 = Date.now();
    for (const node of NODES) startProxy(node);
    for (const node of NODES) {
      await waitFor(async () => (await healthzOk(node)) && nftTable(node).includes(VIP_NODEPORT), {
        timeoutMs: 60_000,
        description: `kubets-proxy on ${node.name} synced`,
        context: () => proxies.get(node.name)!.tail(30),
      });
    }
    process.stderr.write(`two kubets-proxies start to first sync: ${Date.now() - t0} ms\n`);
  }),
);

afterAll(async () => {
  for (const p of procs.reverse()) await p.kill().catch(() => {});
  await cp?.dispose().catch(() => {});
  // Pods first (their veths' other ends are in the nodes), then the nodes (their
  // veths, pod bridges, sinks and tables go with them), then the host's links.
  for (const ns of created.netns.reverse()) tryRun(IP, ['netns', 'del', ns]);
  if (created.hostRoute) tryRun(IP, ['route', 'del', CLUSTER_CIDR, 'dev', HOST_SINK]);
  for (const l of created.links.reverse()) tryRun(IP, ['link', 'del', l]);
  // A node's veth disappears with its namespace, which the kernel frees asynchronously.
  const left = await waitFor(() => leftovers().length === 0, { timeoutMs: 10_000, description: 'no leftovers' }).then(
    () => [],
    () => leftovers(),
  );
  if (left.length > 0) throw new Error(`[seed ${SEED}] left behind after cleanup: ${left.join(', ')}`);
});

test(
  'a client pod on node A reaches a ClusterIP whose pods are on A and B: spread across both, source kept',
  seeded(() => {
    const replies = connectFrom(CLIENT.ns, VIP, 80, 40);
    expect(errors(replies)).toEqual([]);
    expect(who(replies)).toEqual(new Set(['pod-a', 'pod-b']));
    // Pod to pod, across nodes too: no masquerading, both see the client's own address.
    expect(replies.every((r) => r.endsWith(` ${CLIENT.ip}`))).toBe(true);
  }),
);

test(
  'from the nodes themselves: node A and node B reach the ClusterIP, spread across both pods',
  seeded(() => {
    for (const node of NODES) {
      const replies = connectFrom(node.ns, VIP, 80, 30);
      expect({ node: node.name, errors: errors(replies) }).toEqual({ node: node.name, errors: [] });
      expect(who(replies)).toEqual(new Set(['pod-a', 'pod-b']));
    }
  }),
);

test(
  'hairpin: a pod reaching its own Service gets itself (masqueraded) as well as the pod on the other node',
  seeded(() => {
    for (const pod of SERVERS) {
      const replies = connectFrom(pod.ns, VIP, 80, 30);
      expect(errors(replies)).toEqual([]);
      expect(who(replies)).toEqual(new Set(['pod-a', 'pod-b']));
      const other = SERVERS.find((p) => p !== pod)!;
      // The other pod sees this pod's address; this pod sees itself through its node's bridge address.
      expect(replies.filter((r) => r.startsWith(other.name)).every((r) => r.endsWith(` ${pod.ip}`))).toBe(true);
      expect(replies.filter((r) => r.startsWith(pod.name)).every((r) => r.endsWith(` ${pod.node.gateway}`))).toBe(true);
    }
  }),
);

const port = (name: string): ServicePortEntry => ({ id: '', namespace: 'default', name, portName: 'http', protocol: 'tcp', clusterIP: '', port: 80, endpoints: [] });

/** The proxy's "synced proxy rules" log lines: when each sync finished, and how many endpoints it programmed. */
function syncs(node: NodeNet): Array<{ at: number; endpoints: number }> {
  return proxies
    .get(node.name)!
    .logs()
    .split('\n')
    .filter((l) => l.includes('"synced proxy rules"'))
    .map((l) => JSON.parse(l) as { time: string | number; endpoints: number })
    // pino writes epoch ms unless the logger formats the time (kubets's does, as ISO text).
    .map((l) => ({ at: typeof l.time === 'number' ? l.time : Date.parse(l.time), endpoints: l.endpoints }));
}
const programmedEndpoints = (node: NodeNet) => syncs(node).at(-1)!.endpoints;

/**
 * Write the echo slice with one API request and wait until every node's rules
 * pass `check`. The latency per node is from just before the write to the end
 * of the first sync that programmed the new endpoint count (kubets-proxy logs
 * it when `nft -f` has returned): polling nft from here would add its own
 * process start-ups to the number.
 */
async function changeAndMeasure(ready: Record<string, boolean>, endpoints: number, check: (node: NodeNet) => boolean): Promise<Record<string, number>> {
  const t0 = Date.now();
  const r = await cp!.request('PUT', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/echo-1', { body: sliceDoc('echo', SERVERS, ready) });
  expect(r.status).toBe(200);
  const ms: Record<string, number> = {};
  for (const node of NODES) {
    const applied = await waitFor(() => syncs(node).find((x) => x.at >= t0 && x.endpoints === endpoints), {
      timeoutMs: 10_000,
      description: `a sync of ${endpoints} endpoints on ${node.name}`,
      context: allContext,
    });
    ms[node.name] = applied.at - t0;
    await waitFor(() => check(node), { timeoutMs: 10_000, description: `the endpoint change in ${node.name}'s rules`, context: allContext });
  }
  return ms;
}

test(
  'an endpoint turning not ready takes effect within 1 s on both nodes; ready again restores it',
  seeded(async () => {
    const svcChain = serviceChainName(port('echo'));
    const bChain = endpointChainName(port('echo'), { ip: POD_B.ip, port: 8080 });
    for (const node of NODES) expect(nftChain(node, svcChain)).toContain(bChain);
    const before = programmedEndpoints(A);
    expect(programmedEndpoints(B)).toBe(before);

    const gone = await changeAndMeasure({ 'pod-b': false }, before - 1, (node) => !nftChain(node, svcChain).includes(bChain));
    process.stderr.write(`endpoint not ready -> rules synced (from the API write): ${JSON.stringify(gone)} ms\n`);
    for (const node of NODES) expect({ node: node.name, ms: gone[node.name]! < 1000 }).toEqual({ node: node.name, ms: true });
    expect(who(connectFrom(CLIENT.ns, VIP, 80, 20))).toEqual(new Set(['pod-a']));
    expect(who(connectFrom(B.ns, VIP, 80, 20))).toEqual(new Set(['pod-a']));

    const back = await changeAndMeasure({}, before, (node) => nftChain(node, svcChain).includes(bChain));
    process.stderr.write(`endpoint ready again -> rules synced (from the API write): ${JSON.stringify(back)} ms\n`);
    for (const node of NODES) expect({ node: node.name, ms: back[node.name]! < 1000 }).toEqual({ node: node.name, ms: true });
    expect(who(connectFrom(CLIENT.ns, VIP, 80, 30))).toEqual(new Set(['pod-a', 'pod-b']));
    expect(who(connectFrom(B.ns, VIP, 80, 30))).toEqual(new Set(['pod-a', 'pod-b']));
  }),
);

test(
  'no ready endpoints: connection refused, from a pod and from a node',
  seeded(() => {
    expect(connectFrom(CLIENT.ns, VIP_EMPTY, 80, 3)).toEqual(['ERR ECONNREFUSED', 'ERR ECONNREFUSED', 'ERR ECONNREFUSED']);
    expect(connectFrom(B.ns, VIP_EMPTY, 80, 2)).toEqual(['ERR ECONNREFUSED', 'ERR ECONNREFUSED']);
    expect(connectFrom(POD_B.ns, VIP_EMPTY, 80, 2)).toEqual(['ERR ECONNREFUSED', 'ERR ECONNREFUSED']);
  }),
);

test(
  'sessionAffinity ClientIP sticks, from a pod on A and from node B',
  seeded(() => {
    for (const ns of [CLIENT.ns, B.ns]) {
      const replies = connectFrom(ns, VIP_STICKY, 80, 20);
      expect(errors(replies)).toEqual([]);
      // Two endpoints: 20 random picks all landing on one is a 2^-19 chance.
      expect(who(replies).size).toBe(1);
    }
  }),
);

test(
  "NodePort: reachable on every node's InternalIP, from the host over the node network and from a pod",
  seeded(async () => {
    const nodes = (await cp!.kubectl(['get', 'nodes', '-o', 'json'])).stdout;
    const ips = (JSON.parse(nodes) as { items: Array<{ status?: { addresses?: Array<{ type: string; address: string }> } }> }).items
      .map((n) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address)
      .sort();
    expect(ips).toEqual(NODES.map((n) => n.ip).sort());
    for (const ip of ips as string[]) {
      await waitFor(async () => !(await connectOnce(ip, NODE_PORT)).startsWith('ERR'), { timeoutMs: 10_000, description: `${ip}:${NODE_PORT} answering`, context: allContext });
      const fromHost = await connectMany(ip, NODE_PORT, 30);
      expect({ ip, errors: errors(fromHost) }).toEqual({ ip, errors: [] });
      expect(who(fromHost)).toEqual(new Set(['pod-a', 'pod-b']));
      const fromPod = connectFrom(CLIENT.ns, ip, NODE_PORT, 20);
      expect({ ip, errors: errors(fromPod) }).toEqual({ ip, errors: [] });
      expect(who(fromPod)).toEqual(new Set(['pod-a', 'pod-b']));
    }
  }),
);

test(
  'a node address added while kubets-proxy runs gets the NodePort at the next periodic sync',
  seeded(async () => {
    const extra = `10.251.${R}.12`;
    ipIn(A.ns, ['addr', 'add', `${extra}/24`, 'dev', 'eth0']);
    try {
      // --ipvs-sync-period=10s: the next full sync re-reads the node's addresses.
      await waitFor(async () => !(await connectOnce(extra, NODE_PORT)).startsWith('ERR'), { timeoutMs: 25_000, intervalMs: 250, description: `NodePort on the new address ${extra}`, context: allContext });
      expect(who(await connectMany(extra, NODE_PORT, 10)).size).toBeGreaterThan(0);
    } finally {
      ipIn(A.ns, ['addr', 'del', `${extra}/24`, 'dev', 'eth0']);
    }
    await waitFor(async () => proxies.get(A.name)!.logs().includes('node addresses changed'), { timeoutMs: 5_000, description: 'the proxy logging the address change' });
  }),
);

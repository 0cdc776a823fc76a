// kubets-proxy in nftables mode, for real on this machine (root): a control
// plane (nats-server, kubets-kv, kubets-apiserver), the built kubets-proxy on
// the host, and two "pods" (network namespaces on a test bridge, each running a
// TCP server that answers with its name). Traffic only goes to loopback and to
// addresses inside the namespaces and bridge this test creates; the service
// CIDR is routed into an ifb sink first (PLATFORM.md), so a ClusterIP packet
// no rule rewrites dies on this machine.
import { randomInt } from 'node:crypto';
import { ActorSystem } from '@kubets/actor';
import { ProxierProtocol, proxierSubject } from '../src/actor';
import { ControlPlane, ManagedProcess, builtApp, freePort, spawnProcess, waitFor } from '@kubets/testkit';
import { endpointChainName, serviceChainName, type ServicePortEntry } from '../src/rules';
import { IP, NFT, addPod, connectFrom, connectMany, connectOnce, kubectlApply as apply, serviceDoc, sh, sliceDoc, startServer, tryRun, who } from './netns';

jest.setTimeout(240_000);

const R = randomInt(10, 250); // this run's subnet 10.250.R.0/24, names and ClusterIPs
const ID = `${process.pid % 1000}${R}`;
const SUBNET = `10.250.${R}.0/24`;
const GW = `10.250.${R}.1`;
const BRIDGE = `kpbr${ID}`;
const SINK = `kpks${ID}`;
const SERVICE_CIDR = '10.96.0.0/12';
const SINK_METRIC = String(3000 + R);
const PODS = [
  { name: 'pod-a', ns: `kp${ID}-a`, veth: `kpv${ID}a`, ip: `10.250.${R}.2` },
  { name: 'pod-b', ns: `kp${ID}-b`, veth: `kpv${ID}b`, ip: `10.250.${R}.3` },
];
const VIP = `10.100.${R}.10`;
const VIP_STICKY = `10.100.${R}.11`;
const VIP_EMPTY = `10.100.${R}.12`;

const created: { netns: string[]; links: string[]; route: boolean; table: boolean } = { netns: [], links: [], route: false, table: false };
const procs: ManagedProcess[] = [];
let cp: ControlPlane | undefined;
let proxy: ManagedProcess | undefined;
let healthzPort = 0;
let metricsPort = 0;

function nftTable(): string {
  return sh(NFT, ['list', 'table', 'ip', 'kubets']);
}
function tableExists(): boolean {
  try {
    nftTable();
    return true;
  } catch {
    return false;
  }
}

const fromHost = (host: string, n: number) => connectMany(host, 80, n);
function fromPod(pod: (typeof PODS)[number], host: string, portOrN: number, n?: number): string[] {
  const [port, count] = n === undefined ? [80, portOrN] : [portOrN, n];
  return connectFrom(pod.ns, host, port, count);
}
const sliceYaml = (service: string, ready: Record<string, boolean>) => sliceDoc(service, PODS, ready);
const kubectlApply = (doc: string) => apply(cp!, doc);

function startProxy(): ManagedProcess {
  const p = spawnProcess({
    name: 'kubets-proxy',
    command: process.execPath,
    args: [
      builtApp('proxy'),
      `--kubeconfig=${cp!.kubeconfig}`,
      `--grpc-address=127.0.0.1:${cp!.apiservers[0]!.grpcPort}`,
      `--nats-url=${cp!.nats!.url}`,
      `--cluster-cidr=${SUBNET}`,
      `--nodeport-addresses=${SUBNET}`,
      '--hostname-override=proxy-test-node',
      '--ipvs-min-sync-period=0s',
      '--ipvs-sync-period=10s',
      `--healthz-bind-address=127.0.0.1:${healthzPort}`,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    ],
  });
  procs.push(p);
  return p;
}
async function healthz(): Promise<{ status: number; body: { lastUpdated: string; syncs: number } }> {
  const res = await fetch(`http://127.0.0.1:${healthzPort}/healthz`);
  return { status: res.status, body: (await res.json()) as { lastUpdated: string; syncs: number } };
}
async function waitSynced(p: ManagedProcess, what: string): Promise<void> {
  await waitFor(async () => (await healthz()).status === 200 && tableExists() && nftTable().includes(VIP), {
    timeoutMs: 60_000,
    description: `kubets-proxy synced (${what})`,
    context: () => p.tail(30),
  });
}

const port = (ip: string, portName = 'http'): ServicePortEntry => ({ id: '', namespace: 'default', name: ip, portName, protocol: 'tcp', clusterIP: '', port: 80, endpoints: [] });
/** The rules of every chain of the listing, by chain name (for comparing and finding duplicates). */
function chainsOf(listing: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    const m = /^chain (\S+) \{$/.exec(line);
    if (m) out.set(m[1]!, (cur = []));
    else if (line === '}') cur = undefined;
    else if (cur && line) cur.push(line);
  }
  return out;
}

beforeAll(async () => {
  // Refuse to run over somebody else's addresses.
  expect(sh(IP, ['-4', 'route', 'show']).includes(`10.250.${R}.`)).toBe(false);
  expect(tableExists()).toBe(false);
  // 1. The sink for the service CIDR, before any client runs.
  sh(IP, ['link', 'add', SINK, 'type', 'ifb']);
  created.links.push(SINK);
  sh(IP, ['link', 'set', SINK, 'up']);
  sh(IP, ['route', 'add', SERVICE_CIDR, 'dev', SINK, 'metric', SINK_METRIC]);
  created.route = true;
  // 2. The bridge and two pods.
  sh(IP, ['link', 'add', BRIDGE, 'type', 'bridge']);
  created.links.push(BRIDGE);
  sh(IP, ['addr', 'add', `${GW}/24`, 'dev', BRIDGE]);
  sh(IP, ['link', 'set', BRIDGE, 'up']);
  for (const pod of PODS) {
    created.netns.push(pod.ns);
    created.links.push(pod.veth);
    addPod(pod, { bridge: BRIDGE, prefix: 24, gateway: GW });
    procs.push(await startServer(pod, 'proxy-test'));
  }
  // 3. The control plane and the API objects.
  cp = await ControlPlane.start({ nats: true });
  await kubectlApply(serviceDoc('echo', VIP));
  await kubectlApply(sliceYaml('echo', {}));
  await kubectlApply(serviceDoc('echo-sticky', VIP_STICKY, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } } }));
  await kubectlApply(sliceYaml('echo-sticky', {}));
  await kubectlApply(serviceDoc('echo-empty', VIP_EMPTY));
  // 4. kubets-proxy.
  healthzPort = await freePort();
  metricsPort = await freePort();
  const t0 = Date.now();
  created.table = true;
  proxy = startProxy();
  await proxy.waitForLog(/using proxy mode nftables: the kernel has no IP_VS/, 30_000);
  await waitSynced(proxy, 'first start');
  process.stderr.write(`kubets-proxy start to first sync: ${Date.now() - t0} ms\n`);
});

afterAll(async () => {
  for (const p of procs.reverse()) await p.kill().catch(() => {});
  await cp?.dispose().catch(() => {});
  if (created.table) tryRun(NFT, ['delete', 'table', 'ip', 'kubets']);
  for (const ns of created.netns) tryRun(IP, ['netns', 'del', ns]);
  for (const l of created.links.reverse()) tryRun(IP, ['link', 'del', l]);
  if (created.route) tryRun(IP, ['route', 'del', SERVICE_CIDR, 'dev', SINK, 'metric', SINK_METRIC]);
});

test('host to ClusterIP: connections spread across both pods', async () => {
  const replies = await fromHost(VIP, 40);
  expect(replies.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(replies)).toEqual(new Set(['pod-a', 'pod-b']));
  // From outside the cluster CIDR: masqueraded to the bridge address.
  expect(replies.every((r) => r.endsWith(GW))).toBe(true);
});

test('pod to ClusterIP, and hairpin (a pod reaching itself through its Service)', () => {
  const replies = fromPod(PODS[0]!, VIP, 30);
  expect(replies.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(replies)).toEqual(new Set(['pod-a', 'pod-b']));
  // pod-b sees pod-a's own address; pod-a sees itself masqueraded (hairpin).
  expect(replies.filter((r) => r.startsWith('pod-b')).every((r) => r.endsWith(PODS[0]!.ip))).toBe(true);
  expect(replies.filter((r) => r.startsWith('pod-a')).every((r) => r.endsWith(GW))).toBe(true);
});

test('no ready endpoints: connection refused', async () => {
  expect(await fromHost(VIP_EMPTY, 3)).toEqual(['ERR ECONNREFUSED', 'ERR ECONNREFUSED', 'ERR ECONNREFUSED']);
  expect(fromPod(PODS[1]!, VIP_EMPTY, 2)).toEqual(['ERR ECONNREFUSED', 'ERR ECONNREFUSED']);
});

test('sessionAffinity ClientIP sticks', async () => {
  const replies = await fromHost(VIP_STICKY, 20);
  expect(replies.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(replies).size).toBe(1);
  const podReplies = fromPod(PODS[1]!, VIP_STICKY, 15);
  expect(who(podReplies).size).toBe(1);
});

test('an endpoint turning not ready takes effect within 1 s; ready again restores it', async () => {
  const svcChain = serviceChainName({ ...port(VIP), name: 'echo' });
  const bChain = endpointChainName({ ...port(VIP), name: 'echo' }, { ip: PODS[1]!.ip, port: 8080 });
  expect(sh(NFT, ['list', 'chain', 'ip', 'kubets', svcChain])).toContain(bChain);
  await kubectlApply(sliceYaml('echo', { 'pod-b': false }));
  const t0 = Date.now();
  await waitFor(() => !sh(NFT, ['list', 'chain', 'ip', 'kubets', svcChain]).includes(bChain), { timeoutMs: 10_000, intervalMs: 10, description: 'pod-b removed from the service chain' });
  const ms = Date.now() - t0;
  process.stderr.write(`endpoint not-ready -> rules updated: ${ms} ms after kubectl apply returned\n`);
  expect(ms).toBeLessThan(1000);
  const replies = await fromHost(VIP, 20);
  expect(who(replies)).toEqual(new Set(['pod-a']));

  await kubectlApply(sliceYaml('echo', {}));
  const t1 = Date.now();
  await waitFor(() => sh(NFT, ['list', 'chain', 'ip', 'kubets', svcChain]).includes(bChain), { timeoutMs: 10_000, intervalMs: 10, description: 'pod-b back in the service chain' });
  process.stderr.write(`endpoint ready again -> rules updated: ${Date.now() - t1} ms\n`);
  expect(who(await fromHost(VIP, 30))).toEqual(new Set(['pod-a', 'pod-b']));
});

test('NodePort: the service answers on the node address and port, from the host and from a pod', async () => {
  const nodePort = 30_000 + R * 10;
  await kubectlApply(serviceDoc('echo-np', `10.100.${R}.13`, { type: 'NodePort' }, nodePort));
  await kubectlApply(sliceYaml('echo-np', {}));
  await waitFor(async () => !(await connectOnce(GW, nodePort)).startsWith('ERR'), { timeoutMs: 10_000, description: `${GW}:${nodePort} answering` });
  const fromTheHost: string[] = [];
  for (let i = 0; i < 30; i++) fromTheHost.push(await connectOnce(GW, nodePort));
  expect(fromTheHost.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(fromTheHost)).toEqual(new Set(['pod-a', 'pod-b']));
  const fromAPod = fromPod(PODS[0]!, GW, nodePort, 20);
  expect(fromAPod.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(fromAPod)).toEqual(new Set(['pod-a', 'pod-b']));
});

test('metrics: sync duration, rule counts, endpoint changes', async () => {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(text).toMatch(/kubeproxy_sync_proxy_rules_duration_seconds_count\{full="true"\} [1-9]/);
  expect(text).toMatch(/kubeproxy_sync_proxy_rules_endpoint_changes_total [1-9]/);
  expect(text).toMatch(/kubets_proxy_rules\{kind="chains"\} [1-9]/);
  const hz = await healthz();
  expect(hz.status).toBe(200);
  expect(Date.now() - Date.parse(hz.body.lastUpdated)).toBeLessThan(30_000);
});

test('the sync loop is an actor on NATS: status, and a crash restarts it with a full resync while traffic keeps flowing', async () => {
  const sys = await ActorSystem.connect({ name: 'proxy-test', servers: cp!.nats!.url });
  try {
    const loop = sys.remote(ProxierProtocol, proxierSubject('proxy-test-node'));
    const before = await loop.ask('status', {});
    expect(before).toMatchObject({ mode: 'nftables', running: true, failures: 0 });
    expect(before.syncs).toBeGreaterThan(0);
    await expect(loop.ask('crash', { reason: 'test' })).rejects.toThrow();
    // Restarted by its supervisor: running again, with a fresh full sync.
    await waitFor(async () => {
      const st = await loop.ask('status', {}).catch(() => undefined);
      return !!st && st.running && st.syncs > before.syncs;
    }, { timeoutMs: 15_000, description: 'the proxier actor restarted and synced' });
    expect(who(await fromHost(VIP, 20))).toEqual(new Set(['pod-a', 'pod-b']));
  } finally {
    await sys.stop();
  }
});

test('kill -9 and restart: traffic keeps flowing, no duplicate or stale rules afterwards', async () => {
  const before = chainsOf(nftTable());
  await proxy!.kill();
  let stop = false;
  const during: string[] = [];
  const loop = (async () => {
    // Bounded: at most 2,000 connections.
    for (let i = 0; i < 2000 && !stop; i++) during.push(await connectOnce(VIP, 80));
  })();
  proxy = startProxy();
  await proxy.waitForLog(/kubets-proxy running in nftables mode/, 60_000);
  await waitFor(async () => (await healthz()).body.syncs >= 1, { timeoutMs: 60_000, description: 'a sync by the restarted kubets-proxy', context: () => proxy!.tail(30) });
  const afterRestart = during.length;
  await waitFor(() => during.length >= afterRestart + 10, { timeoutMs: 30_000, description: 'connections after the restart' });
  stop = true;
  await loop;
  process.stderr.write(`connections during the kill -9 and restart: ${during.length}, failures: ${during.filter((r) => r.startsWith('ERR')).length}\n`);
  expect(during.filter((r) => r.startsWith('ERR'))).toEqual([]);
  expect(who(during)).toEqual(new Set(['pod-a', 'pod-b']));
  const after = chainsOf(nftTable());
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [name, rules] of after) {
    expect({ name, rules }).toEqual({ name, rules: before.get(name) });
    expect(new Set(rules).size).toBe(rules.length);
  }
});

test('SIGTERM leaves the rules in place; --cleanup removes the table', async () => {
  expect(await proxy!.stop(20_000)).toBe(0);
  expect(tableExists()).toBe(true);
  expect(who(await fromHost(VIP, 10)).size).toBeGreaterThan(0);
  const cleanup = spawnProcess({ name: 'kubets-proxy-cleanup', command: process.execPath, args: [builtApp('proxy'), '--cleanup', '--proxy-mode=nftables'] });
  procs.push(cleanup);
  expect(await cleanup.waitForExit(30_000)).toBe(0);
  expect(tableExists()).toBe(false);
  created.table = false;
  // Without rules the ClusterIP is dead (the packet dies in the sink), not answered.
  expect(await connectOnce(VIP, 80)).toMatch(/^ERR/);
});

// Issue 9's end-to-end suite: a cluster of kubets/node containers brought up
// as a user would: `kubets init` on the first control-plane node, `kubets
// join --control-plane` on two more (a 3-member KV, a 3-server NATS cluster,
// three API servers behind a `kubets lb` container), `kubets join` on two
// workers (libs/testkit's DockerCluster, on testcontainers); then checked from
// the host with the stock kubectl and etcdctl:
// - five Ready nodes, every control-plane node's five mirror pods Running;
// - a Deployment of 6 busybox-httpd pods lands on both workers (the control
//   planes are tainted NoSchedule), and every pod answers HTTP from nodes
//   other than its own, and from a pod on the other worker;
// - kube-proxy as a DaemonSet, a ClusterIP answering from every node;
// - a zero-downtime rolling update; a stopped worker's pods rescheduled;
// - the node of the KV leader killed: kubectl keeps working, the member
//   catches up when it is back; the KV leader's node partitioned and healed:
//   one leader, no acknowledged write lost, the minority's write not applied;
// - etcdctl snapshot save from the host, the cluster destroyed and a new one
//   restored from the snapshot: the Deployment and Service come back.
// Nothing leaves the machine: the host talks only to the containers on the
// network this test created; inside the nodes the service CIDR and the cluster
// pod CIDR go to a sink device except the routes to real nodes' pods.
// On failure the nodes' logs are collected and their folder printed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_LOG_DIR } from '@kubets/testkit';
import { DockerCluster } from '@kubets/testkit/docker-cluster';

jest.setTimeout(10 * 60_000);

const WEB_REPLICAS = 6;
const CONTROL_PLANES = 3;
/** The controller manager's --node-monitor-grace-period in the e2e cluster (kubeadm extraArgs). */
const NODE_MONITOR_GRACE_S = 20;
const WEB_PORT = 8080;
const WEB = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: ${WEB_REPLICAS}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: docker.io/kubets/busybox-httpd:1.0
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: ${WEB_PORT}}]
`;

interface PodJson {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

let cluster: DockerCluster | undefined;
let failed = false;
const started = Date.now();

/** A test that marks the run failed (for afterAll's log collection) when it throws. */
function step(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    const t0 = Date.now();
    try {
      await fn();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      console.log(`${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  });
}

function c(): DockerCluster {
  if (!cluster) throw new Error('the cluster did not come up (see beforeAll)');
  return cluster;
}

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await c().kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Retry until it holds, then return its value; its last error at the deadline. */
async function eventually<T>(what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** The host's stock etcdctl 3.4 against the KV members of `nodes`. */
function etcdctl(nodes: Array<{ ip: string }>, args: string[], timeoutMs = 20_000): string {
  // host:port, not http://host:port: etcdctl's endpoint status dials the endpoint as written and sends
  // it as the HTTP/2 :authority, which Node's HTTP/2 stack refuses (docs/ARCHITECTURE.md, kubets-kv).
  const r = spawnSync('etcdctl', [`--endpoints=${nodes.map((n) => `${n.ip}:2379`).join(',')}`, '--dial-timeout=3s', '--command-timeout=10s', ...args], { encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ETCDCTL_API: '3' } });
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return r.stdout;
}

interface EndpointStatus {
  Endpoint: string;
  Status: { header: { member_id: number; revision: number; raft_term: number }; leader: number; raftIndex: number };
}

/** etcdctl endpoint status of each node's member (only those that answer; the others' errors in `errors`). */
function endpointStatus(nodes: Array<{ ip: string; name: string }>, errors: string[] = []): Array<EndpointStatus & { node: string }> {
  const out: Array<EndpointStatus & { node: string }> = [];
  for (const n of nodes) {
    try {
      const [s] = JSON.parse(etcdctl([n], ['endpoint', 'status', '-w', 'json'], 8_000)) as EndpointStatus[];
      if (s) out.push({ ...s, node: n.name });
    } catch (e) {
      errors.push(`${n.name}: ${(e as Error).message.trim()}`);
    }
  }
  return out;
}

/** The node whose KV member leads, as every answering member reports it. */
function kvLeaderNode(): string {
  const errors: string[] = [];
  const status = endpointStatus(c().controlPlanes, errors);
  const leaders = new Set(status.map((s) => s.Status.leader));
  if (leaders.size !== 1) throw new Error(`members disagree on the leader: ${JSON.stringify(status.map((s) => [s.node, s.Status.leader]))}; ${errors.join('; ')}`);
  const leader = status.find((s) => s.Status.header.member_id === [...leaders][0]);
  if (!leader) throw new Error(`the leader ${[...leaders][0]} did not answer`);
  return leader.node;
}

/**
 * GET http://ip:port/ from a node container with Node.js (busybox wget
 * segfaults on a refused connection): "<status> <body>", or "ERR <reason>".
 */
async function httpFromNode(node: string, ip: string, port: number): Promise<string> {
  return (await httpGetsFromNode(node, [{ ip, port }]))[0]!;
}

/**
 * GET / of each target in turn, from inside `node`, with one `docker exec`
 * (an exec costs ~0.3 s: a loop of them dominated this suite). A new
 * connection per request; each answer is "<status> <body>" or "ERR <why>".
 */
async function httpGetsFromNode(node: string, targets: Array<{ ip: string; port: number }>): Promise<string[]> {
  const script = `const http=require("http");const t=JSON.parse(process.argv[1]);const out=[];
    const get=(x)=>new Promise((res)=>{http.get({host:x.ip,port:x.port,path:"/",timeout:5000,agent:false},(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>res(r.statusCode+" "+b.trim()))}).on("timeout",function(){this.destroy(new Error("timeout"))}).on("error",(e)=>res("ERR "+e.message))});
    (async()=>{for(const x of t)out.push(await get(x));console.log(JSON.stringify(out))})()`;
  const r = await c().exec(node, ['node', '-e', script, JSON.stringify(targets)], 20_000 + 6_000 * targets.length);
  try {
    const answers = JSON.parse(r.stdout.trim()) as string[];
    if (answers.length === targets.length) return answers;
  } catch {
    // reported below
  }
  return targets.map(() => `ERR exit ${r.exitCode}: ${r.stdout.trim()} ${r.stderr.trim()}`);
}

beforeAll(async () => {
  // The images as the apps are now (docker/build.sh reuses what did not
  // change: about 4 s; it takes a lock, so a concurrent images.test.ts waits).
  const build = spawnSync('bash', [path.resolve(__dirname, '..', 'build.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (build.status !== 0) throw new Error(`docker/build.sh exited ${build.status ?? build.signal}:\n${build.stdout}\n${build.stderr}`);
  console.log(`docker/build.sh: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // kubeadm's extraArgs (through a kubets init config file; joining control planes copy them):
  // half of Kubernetes' 40 s --node-monitor-grace-period, so the lost-node scenario takes less time.
  cluster = await DockerCluster.create({
    controlPlanes: CONTROL_PLANES,
    workers: 2,
    extraArgs: { controllerManager: { 'node-monitor-grace-period': `${NODE_MONITOR_GRACE_S}s` } },
    log: (l) => console.log(l),
  });
  console.log(
    [`cluster ${cluster.name} (${CONTROL_PLANES} control-plane nodes, 2 workers) up in ${cluster.timings.reduce((sum, t) => sum + t.seconds, 0).toFixed(1)} s (pod CIDR ${cluster.podSubnet}):`,
      ...cluster.timings.map((t) => `  ${t.phase}: ${t.seconds.toFixed(1)} s`),
      ...cluster.nodes.map((n) => `  ${n.name} ${n.role} ${n.ip} podCIDR ${n.podCIDR}`)].join('\n'),
  );
}, 25 * 60_000);

afterAll(async () => {
  if (!cluster) return;
  if (failed) {
    const dir = await cluster.collectLogs(path.join(TEST_LOG_DIR, `${cluster.name}-failed`)).catch((e: Error) => `(log collection failed: ${e.message})`);
    // What led to it: the random choices (create() again with them to replay on the same addresses) and the component logs.
    console.log(`cluster ${cluster.name} (subnet ${cluster.subnet}, pod CIDR ${cluster.podSubnet}): a test failed; node logs in ${dir}\n${DockerCluster.logDigest(dir)}`);
  }
  const t0 = Date.now();
  await cluster.delete();
  console.log(`cluster ${cluster.name} deleted in ${((Date.now() - t0) / 1000).toFixed(1)} s; whole run ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 5 * 60_000);

step(`kubectl get nodes from the host: ${CONTROL_PLANES + 2} nodes, all Ready`, async () => {
  const out = await kubectlOk(['get', 'nodes', '-o', 'wide']);
  console.log(out);
  const rows = out.trim().split('\n').slice(1).map((l) => l.split(/\s+/));
  expect(rows.map((r) => r[0]).sort()).toEqual(c().nodes.map((n) => n.name).sort());
  for (const r of rows) expect(r[1]).toBe('Ready');
  for (const cp of c().controlPlanes) expect(rows.find((r) => r[0] === cp.name)![2]).toBe('control-plane');
  for (const w of c().workers) expect(rows.find((r) => r[0] === w.name)![2]).toBe('<none>');
  // The InternalIP is the node's address on the test network.
  for (const n of c().nodes) expect(rows.find((r) => r[0] === n.name)![5]).toBe(n.ip);
});

step("every control-plane node's mirror pods are Running in kube-system; the KV has a voting member on each, NATS a server on each", async () => {
  const want = c().controlPlanes.flatMap((cp) => ['kube-apiserver', 'kubets-kv', 'nats', 'kube-controller-manager', 'kube-scheduler'].map((p) => `${p}-${cp.name}`));
  const out = await eventually('mirror pods Running', 60_000, async () => {
    const text = await kubectlOk(['get', 'pods', '-n', 'kube-system', '-o', 'wide']);
    for (const pod of want) expect(text).toMatch(new RegExp(`^${pod}\\s+1/1\\s+Running\\s`, 'm'));
    return text;
  });
  console.log(out);
  const members = JSON.parse(etcdctl(c().controlPlanes, ['member', 'list', '-w', 'json'])) as { members: Array<{ name: string; clientURLs?: string[]; isLearner?: boolean }> };
  expect(members.members.map((m) => m.name).sort()).toEqual(c().controlPlanes.map((n) => n.name).sort());
  // The joined members came in as learners and were promoted by their join: all vote now.
  expect(members.members.filter((m) => m.isLearner)).toEqual([]);
  // Every controller manager runs with the cluster's extraArgs, the joined ones too (copied by their join).
  const cms = (JSON.parse(await kubectlOk(['get', 'pods', '-n', 'kube-system', '-l', 'component=kube-controller-manager', '-o', 'json'])) as { items: Array<{ spec: { nodeName: string; containers: Array<{ command: string[] }> } }> }).items;
  expect(cms.map((p) => p.spec.nodeName).sort()).toEqual(c().controlPlanes.map((n) => n.name).sort());
  for (const p of cms) expect(p.spec.containers[0]!.command).toContain(`--node-monitor-grace-period=${NODE_MONITOR_GRACE_S}s`);
  // The NATS servers form one cluster: each has routes to the two others (monitoring endpoint on 8222).
  for (const cp of c().controlPlanes) {
    await eventually(`${cp.name}'s NATS routes`, 30_000, async () => {
      const routez = JSON.parse(await c().execOk(cp.name, ['node', '-e', 'require("http").get("http://127.0.0.1:8222/routez",(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>console.log(b))})'])) as { num_routes: number };
      expect(routez.num_routes).toBeGreaterThanOrEqual(CONTROL_PLANES - 1);
    });
  }
});

step(`a Deployment of ${WEB_REPLICAS} busybox-httpd pods lands on both workers and every pod answers HTTP from other nodes`, async () => {
  await kubectlOk(['apply', '-f', '-'], WEB);
  const t0 = Date.now();
  const pods = await eventually(`${WEB_REPLICAS} web pods Ready`, 120_000, async () => {
    const items = (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: PodJson[] }).items;
    const ready = items.filter((p) => p.status.phase === 'Running' && p.status.podIP && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    expect(ready).toHaveLength(WEB_REPLICAS);
    return ready;
  });
  console.log(`${WEB_REPLICAS} web pods Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after apply:\n${await kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'wide'])}`);

  // Both workers, never the tainted control plane.
  const workers = c().workers.map((w) => w.name).sort();
  expect([...new Set(pods.map((p) => p.spec.nodeName))].sort()).toEqual(workers);
  // Pod IPs in their node's podCIDR (a /24 of the cluster's /16).
  const prefix = (cidr: string) => cidr.split('.').slice(0, cidr.endsWith('/16') ? 2 : 3).join('.') + '.';
  for (const p of pods) {
    expect(p.status.podIP!.startsWith(prefix(c().podSubnet))).toBe(true);
    expect(p.status.podIP!.startsWith(prefix(c().node(p.spec.nodeName!).podCIDR!))).toBe(true);
  }

  // From every node other than the pod's own (the control plane and the other worker).
  const results = await Promise.all(
    c().nodes.map(async (from) => {
      const targets = pods.filter((p) => p.spec.nodeName !== from.name);
      const answers = await httpGetsFromNode(from.name, targets.map((p) => ({ ip: p.status.podIP!, port: WEB_PORT })));
      return targets.map((p, i) => ({ p, line: `${from.name} -> ${p.metadata.name} (${p.status.podIP} on ${p.spec.nodeName}): ${answers[i]}`, answer: answers[i] }));
    }),
  );
  console.log(results.flat().map((x) => x.line).join('\n'));
  for (const { p, answer } of results.flat()) expect(answer).toBe(`200 hello from ${p.metadata.name}`);

  // Pod to pod across the workers: kubectl exec (API server -> kubelet) and
  // busybox wget, which works when the connection succeeds.
  const a = pods.find((p) => p.spec.nodeName === workers[0])!;
  const b = pods.find((p) => p.spec.nodeName === workers[1])!;
  const r = await c().kubectl(['exec', a.metadata.name, '--', 'wget', '-qO-', `http://${b.status.podIP}:${WEB_PORT}/`], { timeoutMs: 30_000 });
  console.log(`pod ${a.metadata.name} (${a.spec.nodeName}) -> pod ${b.metadata.name} (${b.spec.nodeName}): exit ${r.code} ${r.stdout.trim()} ${r.stderr.trim()}`);
  expect(r.stdout.trim()).toBe(`hello from ${b.metadata.name}`);
  // Without NAT (the Kubernetes network model): b saw the request come from
  // a's own address, not from a's node (busybox httpd -v logs each client).
  const from = new RegExp(`^\\[?(::ffff:)?${a.status.podIP!.replace(/\./g, '\\.')}\\]?:\\d+: `, 'm');
  await eventually(`pod ${b.metadata.name} logged ${a.status.podIP} as the client`, 15_000, async () => {
    expect(await kubectlOk(['logs', b.metadata.name])).toMatch(from);
  });
});

step('kube-proxy from infra/kube-proxy.yaml runs on every node, and a ClusterIP Service answers from every node, spread across the pods on both workers', async () => {
  // The operator's manifest, with the control plane's NATS address in its ConfigMap.
  const natsUrl = c().controlPlanes.map((n) => `nats://${n.ip}:4222`).join(',');
  const manifest = fs.readFileSync(path.resolve(__dirname, '..', '..', 'infra', 'kube-proxy.yaml'), 'utf8').replace(/nats-url: .*/, `nats-url: ${natsUrl}`);
  await kubectlOk(['apply', '-f', '-'], manifest);
  const t0 = Date.now();
  await eventually('kube-proxy on every node', 180_000, async () => {
    const items = (JSON.parse(await kubectlOk(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'json'])) as { items: PodJson[] }).items;
    const ready = items.filter((p) => p.status.phase === 'Running' && p.status.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'));
    expect(ready.map((p) => p.spec.nodeName).sort()).toEqual(c().nodes.map((n) => n.name).sort());
  });
  console.log(`kube-proxy Ready on ${c().nodes.length} nodes ${((Date.now() - t0) / 1000).toFixed(1)} s after apply:\n${await kubectlOk(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'wide'])}`);

  await kubectlOk(['expose', 'deployment', 'web', '--port=80', `--target-port=${WEB_PORT}`]);
  const svc = JSON.parse(await kubectlOk(['get', 'svc', 'web', '-o', 'json'])) as { spec: { clusterIP: string } };
  const vip = svc.spec.clusterIP;
  const items = (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'json'])) as { items: PodJson[] }).items;
  const podNodes = new Map(items.map((p) => [p.metadata.name, p.spec.nodeName]));
  const spread = await Promise.all(
    c().nodes.map(async (n) => {
      // Until the node's proxy programmed the Service, the ClusterIP goes to the sink (a timeout): wait for the first answer.
      await eventually(`${n.name} -> ${vip}:80`, 60_000, async () => expect(await httpFromNode(n.name, vip, 80)).toMatch(/^200 hello from /));
      return { n, answers: await httpGetsFromNode(n.name, Array.from({ length: 24 }, () => ({ ip: vip, port: 80 }))) };
    }),
  );
  for (const { n, answers } of spread) {
    for (const answer of answers) expect(answer).toMatch(/^200 hello from /);
    const seen = new Set(answers.map((a) => a.replace('200 hello from ', '')));
    console.log(`${n.name} -> ClusterIP ${vip}: answered by ${[...seen].sort().join(', ')}`);
    // Spread across the pods of both workers (random per connection: 24 tries never reaching one worker's two pods is < 2^-23).
    expect(new Set([...seen].map((name) => podNodes.get(name))).size).toBe(2);
  }
});

step('a rolling update of a Deployment behind a ClusterIP Service has zero downtime for a client polling every 100 ms', async () => {
  // The usual zero-downtime recipe: a readiness probe (new pods get traffic only
  // when they answer), maxUnavailable 0, and a preStop pause so an old pod keeps
  // serving until every node's proxy has dropped it.
  const roll = (version: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'roll', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'roll' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { app: 'roll' } },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [{
            name: 'httpd',
            image: 'docker.io/kubets/busybox-httpd:1.0',
            env: [{ name: 'VERSION', value: version }],
            ports: [{ containerPort: WEB_PORT }],
            readinessProbe: { httpGet: { path: '/', port: WEB_PORT }, periodSeconds: 1, failureThreshold: 1 },
            lifecycle: { preStop: { sleep: { seconds: 3 } } },
          }],
        },
      },
    },
  });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(roll('1')));
  expect(await kubectlOk(['rollout', 'status', 'deploy/roll', '--timeout=120s'])).toMatch(/successfully rolled out/);
  await kubectlOk(['expose', 'deployment', 'roll', '--port=80', `--target-port=${WEB_PORT}`]);
  const vip = (JSON.parse(await kubectlOk(['get', 'svc', 'roll', '-o', 'json'])) as { spec: { clusterIP: string } }).spec.clusterIP;
  const client = c().controlPlane.name;
  await eventually(`${client} -> ${vip}:80`, 60_000, async () => expect(await httpFromNode(client, vip, 80)).toMatch(/^200 hello from roll-/));

  // The poller: one GET every 100 ms from the control-plane node until /tmp/stop-poll appears (at most 3 min).
  const poller = `const http=require("http"),fs=require("fs");let ok=0,bad=[];const t0=Date.now();
const tick=()=>{if(fs.existsSync("/tmp/stop-poll")||Date.now()-t0>180000){console.log(JSON.stringify({ok,bad}));return;}
const s=Date.now();http.get({host:process.argv[1],port:80,path:"/",timeout:2000,agent:false},(r)=>{r.resume();r.on("end",()=>{if(r.statusCode===200)ok++;else bad.push(Date.now()-t0+"ms status "+r.statusCode);setTimeout(tick,Math.max(0,100-(Date.now()-s)));});}).on("timeout",function(){this.destroy(new Error("timeout"))}).on("error",(e)=>{bad.push(Date.now()-t0+"ms "+e.message);setTimeout(tick,Math.max(0,100-(Date.now()-s)));});};tick();`;
  await c().execOk(client, ['rm', '-f', '/tmp/stop-poll']);
  const polling = c().exec(client, ['node', '-e', poller, vip], 240_000);
  const t0 = Date.now();
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(roll('2')));
  expect(await kubectlOk(['rollout', 'status', 'deploy/roll', '--timeout=180s'])).toMatch(/successfully rolled out/);
  const rolloutS = (Date.now() - t0) / 1000;
  // Old pods are still in their preStop pause: keep polling until they are gone.
  await eventually('the old pods gone', 60_000, async () => {
    const items = (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=roll', '-o', 'json'])) as { items: Array<{ spec: { containers: Array<{ env?: Array<{ value: string }> }> } }> }).items;
    expect(items.map((p) => p.spec.containers[0]!.env?.[0]?.value)).toEqual(['2', '2', '2']);
  });
  await c().execOk(client, ['touch', '/tmp/stop-poll']);
  const result = JSON.parse((await polling).stdout.trim().split('\n').pop()!) as { ok: number; bad: string[] };
  console.log(`rolling update of 3 pods: rolled out in ${rolloutS.toFixed(1)} s; ${result.ok} requests answered, ${result.bad.length} failed${result.bad.length ? `: ${result.bad.join('; ')}` : ''}`);
  expect(result.ok).toBeGreaterThan(50);
  expect(result.bad).toEqual([]);
});

step("a stopped worker's pods are rescheduled to the other worker within the timeouts; started again, it rejoins Ready", async () => {
  const [w1, w2] = c().workers.map((w) => w.name) as [string, string];
  // Kubernetes' timeouts: the node is Unknown after --node-monitor-grace-period (20 s here, set through kubeadm's extraArgs), then its
  // pods go after their toleration of node.kubernetes.io/unreachable (here 5 s instead of the default 300 s).
  const tolerations = ['node.kubernetes.io/unreachable', 'node.kubernetes.io/not-ready'].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 5 }));
  const deploy = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'resched', namespace: 'default' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'resched' } },
      template: {
        metadata: { labels: { app: 'resched' } },
        spec: { tolerations, terminationGracePeriodSeconds: 2, affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'resched' } } } }] } }, containers: [{ name: 'httpd', image: 'docker.io/kubets/busybox-httpd:1.0' }] },
      },
    },
  };
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(deploy));
  expect(await kubectlOk(['rollout', 'status', 'deploy/resched', '--timeout=120s'])).toMatch(/successfully rolled out/);
  const podsOn = async () =>
    (JSON.parse(await kubectlOk(['get', 'pods', '-l', 'app=resched', '-o', 'json'])) as { items: Array<PodJson & { metadata: { deletionTimestamp?: string } }> }).items.filter((p) => !p.metadata.deletionTimestamp);
  const before = await podsOn();
  console.log(`resched pods before: ${before.map((p) => `${p.metadata.name}@${p.spec.nodeName}`).join(', ')}`);
  expect(before.some((p) => p.spec.nodeName === w2)).toBe(true);

  const t0 = Date.now();
  await c().stop(w2);
  const nodeStatus = async (n: string) => (JSON.parse(await kubectlOk(['get', 'node', n, '-o', 'json'])) as { status: { conditions: Array<{ type: string; status: string }> } }).status.conditions.find((x) => x.type === 'Ready')?.status;
  await eventually(`${w2} not Ready`, 90_000, async () => expect(await nodeStatus(w2)).not.toBe('True'));
  const notReadyS = (Date.now() - t0) / 1000;
  await eventually(`both resched pods Running on ${w1}`, 90_000, async () => {
    const pods = await podsOn();
    expect(pods.filter((p) => p.status.phase === 'Running').map((p) => p.spec.nodeName)).toEqual([w1, w1]);
  });
  const rescheduledS = (Date.now() - t0) / 1000;

  const t1 = Date.now();
  await c().start(w2);
  await eventually(`${w2} Ready again`, 120_000, async () => expect(await nodeStatus(w2)).toBe('True'));
  console.log(`worker ${w2} stopped: NotReady after ${notReadyS.toFixed(1)} s, its pods Running on ${w1} after ${rescheduledS.toFixed(1)} s; started again: Ready after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  expect(notReadyS).toBeLessThan(NODE_MONITOR_GRACE_S + 15); // the grace period + the 5 s monitor period + the last renewal's age
  expect(rescheduledS).toBeLessThan(NODE_MONITOR_GRACE_S + 5 + 40); // grace period + toleration + the monitor period, eviction and start-up
});

/** kubectl create configmap NAME: true when the API server acknowledged it (bounded by timeoutMs). */
async function createConfigMap(name: string, timeoutMs = 15_000): Promise<boolean> {
  const r = await c().kubectl(['create', 'configmap', name, `--from-literal=k=${name}`, `--request-timeout=${Math.floor(timeoutMs / 1000)}s`], { timeoutMs: timeoutMs + 5_000 });
  return r.code === 0;
}

step('the node of the KV leader killed: kubectl keeps working within seconds; back, its KV member catches up', async () => {
  const leader = kvLeaderNode();
  const others = c().controlPlanes.filter((n) => n.name !== leader);
  console.log(`KV leader on ${leader}; killing it`);
  const t0 = Date.now();
  await c().kill(leader);
  // Reads and writes through the load balancer, served by the two others.
  let attempt = 0;
  await eventually('a write through kubectl', 30_000, async () => expect(await createConfigMap(`after-kill-${attempt++}`, 5_000)).toBe(true));
  const writeS = (Date.now() - t0) / 1000;
  await kubectlOk(['get', 'nodes']);
  const newLeader = await eventually('a new KV leader', 10_000, async () => {
    const status = endpointStatus(others);
    expect(status).toHaveLength(2);
    expect(new Set(status.map((s) => s.Status.leader)).size).toBe(1);
    return status.find((s) => s.Status.header.member_id === s.Status.leader)!.node;
  });
  // The load balancer took the dead API server out of rotation (its /metrics on 8404).
  const lb = c().loadBalancer!;
  await eventually('the load balancer marks the killed API server down', 15_000, async () => {
    const metrics = await (await fetch(`http://${lb.ip}:8404/metrics`)).text();
    expect(metrics).toContain(`kubets_lb_backend_up{backend="${c().node(leader).ip}:6443"} 0`);
  });
  console.log(`${leader} killed: kubectl write acknowledged after ${writeS.toFixed(1)} s, new KV leader on ${newLeader}`);
  expect(writeS).toBeLessThan(15);

  const t1 = Date.now();
  await c().start(leader);
  expect(await createConfigMap('after-restart')).toBe(true);
  const want = Math.max(...endpointStatus(others).map((s) => s.Status.header.revision));
  await eventually(`${leader}'s KV member at revision ${want}`, 120_000, async () => {
    const [s] = endpointStatus([c().node(leader)]);
    expect(s?.Status.header.revision).toBeGreaterThanOrEqual(want);
  });
  const caughtUpS = (Date.now() - t1) / 1000;
  const nodeReady = async () => (JSON.parse(await kubectlOk(['get', 'node', leader, '-o', 'json'])) as { status: { conditions: Array<{ type: string; status: string }> } }).status.conditions.find((x) => x.type === 'Ready')?.status;
  await eventually(`${leader} Ready again`, 120_000, async () => expect(await nodeReady()).toBe('True'));
  console.log(`${leader} started again: its KV member caught up after ${caughtUpS.toFixed(1)} s, node Ready after ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  expect(kvLeaderNode()).toBeDefined();
});

step('the KV leader partitioned from the other nodes and healed: one leader, no acknowledged write lost, the minority wrote nothing', async () => {
  const isolated = kvLeaderNode();
  const majority = c().controlPlanes.filter((n) => n.name !== isolated);
  console.log(`partitioning ${isolated} (KV leader)`);
  const acked: string[] = [];
  await c().disconnect(isolated);
  try {
    // The minority: its API server (reached from inside the node) cannot have a write committed.
    const admin = /token: (\S+)/.exec(await c().execOk(isolated, ['cat', '/etc/kubernetes/admin.kubeconfig']))![1]!;
    const minorityWrite = c().exec(isolated, ['node', '-e', `
      const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'minority-write' }, data: { k: 'v' } });
      const req = require('https').request({ host: '127.0.0.1', port: 6443, method: 'POST', path: '/api/v1/namespaces/default/configmaps?timeout=10s', rejectUnauthorized: false, timeout: 15000,
        headers: { authorization: 'Bearer ${admin}', 'content-type': 'application/json' } }, (r) => { r.resume(); r.on('end', () => console.log('status ' + r.statusCode)); });
      req.on('timeout', () => req.destroy(new Error('timeout'))); req.on('error', (e) => console.log('error ' + e.message)); req.end(body);`], 30_000);

    // The majority elects a leader and keeps acknowledging writes (through the load balancer).
    // A write that fails meanwhile (the election) has an unknown outcome: only acknowledged ones are checked.
    const t0 = Date.now();
    for (let i = 0; i < 10 || acked.length < 5; i++) {
      if (Date.now() - t0 > 60_000) throw new Error(`only ${acked.length} writes acknowledged in 60 s of partition`);
      if (await createConfigMap(`partition-${i}`, 5_000)) acked.push(`partition-${i}`);
    }
    const status = endpointStatus(majority);
    expect(status).toHaveLength(2);
    expect(new Set(status.map((s) => s.Status.leader)).size).toBe(1);
    const majorityLeader = status.find((s) => s.Status.header.member_id === s.Status.leader)?.node;
    expect(majority.map((n) => n.name)).toContain(majorityLeader);
    const minority = (await minorityWrite).stdout.trim();
    console.log(`during the partition: ${acked.length} writes acknowledged by the majority (leader ${majorityLeader}); the isolated API server answered the write with: ${minority}`);
    expect(minority).not.toBe('status 201');
  } finally {
    await c().connect(isolated);
  }

  // Healed: one leader for all three, the isolated member caught up, every acknowledged write there, the minority's absent.
  // (The cluster keeps writing — leases, node status — so indexes are compared with the majority's at the heal.)
  const healedAt = Math.max(...endpointStatus(majority).map((s) => s.Status.raftIndex));
  await eventually(`one leader for all three, ${isolated}'s member at raft index ${healedAt} or later`, 60_000, async () => {
    const status = endpointStatus(c().controlPlanes);
    expect(status).toHaveLength(CONTROL_PLANES);
    expect(new Set(status.map((s) => s.Status.leader)).size).toBe(1);
    expect(status.find((s) => s.node === isolated)!.Status.raftIndex).toBeGreaterThanOrEqual(healedAt);
  });
  const keys = etcdctl([c().node(isolated)], ['get', '/registry/configmaps/default/', '--prefix', '--keys-only', '--consistency=s']);
  expect(acked.length).toBeGreaterThanOrEqual(5);
  for (const name of acked) expect(keys).toContain(`/registry/configmaps/default/${name}`);
  expect(keys).not.toContain('minority-write');
  const r = await c().kubectl(['get', 'configmap', 'minority-write']);
  expect(r.stderr).toMatch(/NotFound|not found/);
  console.log(`healed: leader ${kvLeaderNode()}, ${isolated}'s member has every acknowledged write`);
});

step('etcdctl snapshot save from the host; the cluster destroyed; a new one restored from the snapshot: the Deployment and Service come back', async () => {
  const old = c();
  const snapshot = path.join(TEST_LOG_DIR, `${old.name}-backup.db`);
  fs.mkdirSync(TEST_LOG_DIR, { recursive: true });
  console.log(etcdctl([old.controlPlane], ['snapshot', 'save', snapshot], 60_000).trim());
  console.log(spawnSync('etcdctl', ['snapshot', 'status', snapshot, '-w', 'table'], { encoding: 'utf8' }).stdout);
  const svcBefore = (JSON.parse(await kubectlOk(['get', 'svc', 'web', '-o', 'json'])) as { spec: { clusterIP: string } }).spec.clusterIP;
  const { name, subnet, podSubnet } = old;

  const t0 = Date.now();
  await old.delete();
  cluster = undefined;
  // The same machines (node names and addresses), one control plane, started from the backup.
  cluster = await DockerCluster.create({ name, subnet, podSubnet, controlPlanes: 1, workers: 2, restoreSnapshot: snapshot, log: (l) => console.log(l) });
  fs.rmSync(snapshot, { force: true });
  const upS = (Date.now() - t0) / 1000;

  const svc = JSON.parse(await kubectlOk(['get', 'svc', 'web', '-o', 'json'])) as { spec: { clusterIP: string } };
  expect(svc.spec.clusterIP).toBe(svcBefore);
  await eventually(`deployment web with ${WEB_REPLICAS} available replicas`, 180_000, async () => {
    const d = JSON.parse(await kubectlOk(['get', 'deployment', 'web', '-o', 'json'])) as { status: { availableReplicas?: number } };
    expect(d.status.availableReplicas).toBe(WEB_REPLICAS);
  });
  const from = c().workers[0]!.name;
  await eventually(`${from} -> restored Service ${svcBefore}`, 120_000, async () => expect(await httpFromNode(from, svcBefore, 80)).toMatch(/^200 hello from web-/));
  console.log(`restored: cluster up ${upS.toFixed(1)} s after the old one was destroyed; web ${WEB_REPLICAS}/${WEB_REPLICAS} and its Service answering ${((Date.now() - t0) / 1000).toFixed(1)} s after\n${await kubectlOk(['get', 'deploy,svc,pods', '-o', 'wide'])}`);
});

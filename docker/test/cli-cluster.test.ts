// The user's Docker cluster commands (kind's, for kubets), run as a user runs
// them: `kubets cluster create` (1 control plane + 1 worker here; the 3
// control-plane bring-up, which shares @kubets/cluster-bootstrap, is
// cluster.test.ts's), kubectl from the host with the kubeconfig it wrote,
// `kubets image load --cluster` of an image that exists only in the local
// docker engine and a pod running it, kube-proxy installed with the cluster
// (a ClusterIP answering), create refused for an existing cluster, and
// `kubets cluster delete` leaving nothing behind.
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually } from '@kubets/testkit';

jest.setTimeout(10 * 60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'apps', 'cli', 'dist', 'main.js');
const NAME = `kt-cli-${crypto.randomBytes(2).toString('hex')}`;
const IMAGE = `kubets-e2e/hello-${crypto.randomBytes(2).toString('hex')}:1.0`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${NAME}-`));
const kubeconfig = path.join(dir, 'kubeconfig');
let created = false;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], timeoutMs = 300_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, HOME: dir } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

const kubets = (args: string[]) => run('node', [CLI, ...args]);
const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, ...args], 60_000);


beforeAll(() => {
  const build = spawnSync('bash', [path.join(ROOT, 'docker', 'build.sh')], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (build.status !== 0) throw new Error(`docker/build.sh exited ${build.status ?? build.signal}:\n${build.stdout}\n${build.stderr}`);
  // An image only the local docker engine has: busybox (static) from this host, serving HTTP.
  const ctx = path.join(dir, 'image');
  fs.mkdirSync(ctx);
  fs.copyFileSync(spawnSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).stdout.trim(), path.join(ctx, 'busybox'));
  fs.writeFileSync(path.join(ctx, 'index.html'), 'hello from an image loaded with kubets image load\n');
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nCOPY index.html /www/index.html\nCMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]\n');
  const img = spawnSync('docker', ['build', '-q', '-t', IMAGE, ctx], { encoding: 'utf8', timeout: 120_000 });
  if (img.status !== 0) throw new Error(`docker build ${IMAGE}: ${img.stderr}`);
}, 20 * 60_000);

afterAll(async () => {
  if (created) {
    const r = await kubets(['cluster', 'delete', '--name', NAME, '--kubeconfig', kubeconfig]);
    if (r.code !== 0) console.log(`cleanup: kubets cluster delete: ${r.stdout}${r.stderr}`);
  }
  spawnSync('docker', ['rmi', '-f', IMAGE]);
  fs.rmSync(dir, { recursive: true, force: true });
}, 5 * 60_000);

test('kubets cluster create: a control plane and a worker, Ready, kubectl from the host with the kubeconfig it wrote', async () => {
  const t0 = Date.now();
  const r = await kubets(['cluster', 'create', '--name', NAME, '--workers', '1', '--pod-network-cidr', '10.247.0.0/16', '--kubeconfig', kubeconfig]);
  created = true;
  console.log(`kubets cluster create (${((Date.now() - t0) / 1000).toFixed(1)} s):\n${r.stdout}${r.stderr}`);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(`export KUBECONFIG=${kubeconfig}`);
  const nodes = await kubectl(['get', 'nodes', '--no-headers']);
  expect(nodes.code).toBe(0);
  const rows = nodes.stdout.trim().split('\n').map((l) => l.split(/\s+/));
  expect(rows.map((x) => [x[0], x[1], x[2]])).toEqual([
    [`${NAME}-control-plane`, 'Ready', 'control-plane'],
    [`${NAME}-worker`, 'Ready', '<none>'],
  ]);
  // The same name again: refused, the running cluster untouched.
  const again = await kubets(['cluster', 'create', '--name', NAME, '--kubeconfig', path.join(dir, 'other')]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain(`cluster "${NAME}" exists already`);
  expect((await kubectl(['get', 'nodes'])).code).toBe(0);
});

test('kubets image load --cluster: an image of the local docker engine runs in a pod with imagePullPolicy Never', async () => {
  const r = await kubets(['image', 'load', IMAGE, '--cluster', NAME]);
  console.log(r.stdout + r.stderr);
  expect(r.code).toBe(0);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello', namespace: 'default' },
    spec: { containers: [{ name: 'hello', image: IMAGE, imagePullPolicy: 'Never' }] },
  };
  const apply = await run('sh', ['-c', `kubectl --kubeconfig ${kubeconfig} apply -f - <<'EOF'\n${JSON.stringify(pod)}\nEOF`]);
  expect(apply.code).toBe(0);
  const ip = await eventually(async () => {
    const p = JSON.parse((await kubectl(['get', 'pod', 'hello', '-o', 'json'])).stdout) as { spec: { nodeName?: string }; status: { phase?: string; podIP?: string } };
    expect(p.status.phase).toBe('Running');
    expect(p.spec.nodeName).toBe(`${NAME}-worker`);
    return p.status.podIP!;
  }, { timeoutMs: 90_000, intervalMs: 1_000, description: 'pod hello Running' });
  // From the control-plane node (a route to the worker's podCIDR), with Node.js (busybox wget segfaults on a refused connection).
  const script = `require("http").get("http://${ip}:8080/",(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>console.log(b.trim()))}).on("error",(e)=>console.log("ERR "+e.message))`;
  await eventually(async () => {
    const res = await run('docker', ['exec', `${NAME}-control-plane`, 'node', '-e', script], 20_000);
    expect(res.stdout.trim()).toBe('hello from an image loaded with kubets image load');
  }, { timeoutMs: 30_000, intervalMs: 1_000, description: 'the pod answers' });
  // Only the cluster's nodes: an unknown node is an error.
  const bad = await kubets(['image', 'load', IMAGE, '--cluster', NAME, '--node', 'nope']);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain(`cluster "${NAME}" has no node "nope"`);
});

test('kube-proxy came with the cluster: a ClusterIP Service of the pod answers from the control-plane node', async () => {
  await eventually(async () => {
    const ds = JSON.parse((await kubectl(['get', 'daemonset', 'kube-proxy', '-n', 'kube-system', '-o', 'json'])).stdout) as { status: { numberReady?: number; desiredNumberScheduled?: number } };
    expect(ds.status.desiredNumberScheduled).toBe(2);
    expect(ds.status.numberReady).toBe(2);
  }, { timeoutMs: 120_000, intervalMs: 1_000, description: 'kube-proxy Ready on both nodes' });
  expect((await kubectl(['label', 'pod', 'hello', 'app=hello'])).code).toBe(0);
  expect((await kubectl(['expose', 'pod', 'hello', '--port=80', '--target-port=8080'])).code).toBe(0);
  const vip = (JSON.parse((await kubectl(['get', 'svc', 'hello', '-o', 'json'])).stdout) as { spec: { clusterIP: string } }).spec.clusterIP;
  const node = `${NAME}-control-plane`;
  // Only once the node's proxy has programmed the Service: before that the
  // ClusterIP would follow the default route off the machine (these nodes have no sink).
  await eventually(async () => {
    expect((await run('docker', ['exec', node, 'nft', 'list', 'ruleset'], 20_000)).stdout).toContain(vip);
  }, { timeoutMs: 60_000, intervalMs: 500, description: `${node}'s kube-proxy to program ${vip}` });
  const script = `require("http").get("http://${vip}/",(r)=>{let b="";r.on("data",(d)=>b+=d);r.on("end",()=>console.log(b.trim()))}).on("error",(e)=>console.log("ERR "+e.message))`;
  await eventually(async () => {
    const res = await run('docker', ['exec', node, 'node', '-e', script], 20_000);
    expect(res.stdout.trim()).toBe('hello from an image loaded with kubets image load');
  }, { timeoutMs: 30_000, intervalMs: 1_000, description: `${vip} answers` });
});

test('kubets cluster delete: no container, network or kubeconfig left; deleting again is harmless', async () => {
  const r = await kubets(['cluster', 'delete', '--name', NAME, '--kubeconfig', kubeconfig]);
  console.log(r.stdout + r.stderr);
  expect(r.code).toBe(0);
  created = false;
  expect((await run('docker', ['ps', '-aq', '--filter', `label=io.kubets.docker-cluster=${NAME}`])).stdout.trim()).toBe('');
  expect((await run('docker', ['network', 'ls', '-q', '--filter', `name=^${NAME}$`])).stdout.trim()).toBe('');
  expect(fs.existsSync(kubeconfig)).toBe(false);
  expect(fs.existsSync(`/sys/fs/cgroup/kubets/${NAME}-worker`)).toBe(false);
  const again = await kubets(['cluster', 'delete', '--name', NAME, '--kubeconfig', kubeconfig]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`No cluster "${NAME}"`);
});

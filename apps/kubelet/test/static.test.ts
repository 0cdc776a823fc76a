// Static pods and the node's own networking, for real: the kubelet on a real
// containerd (testkit's Containerd, started WITHOUT a CNI config: the kubelet
// writes it from the Node's podCIDR) against a real control plane that the
// test stops and brings back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContainerState, CriClient } from '@kubets/cri-client';
import { Containerd, ControlPlane, builtApp, freePort, spawnProcess, testImageRef, waitFor, type ManagedProcess } from '@kubets/testkit';
import { httpGet, httpReady, startCriKubelet } from './helpers';

jest.setTimeout(600_000);

const NODE = 'static-node';
const HTTPD = testImageRef('busybox-httpd');
const MIRROR = 'kubernetes.io/config.mirror';

describe('kubets-kubelet: static pods, the CNI config from the podCIDR, node status', () => {
  let env: ControlPlane;
  let cd: Containerd;
  let cri: CriClient;
  let kubelet: ManagedProcess | undefined;
  let rootDir: string;
  let manifests: string;
  let hostPort: number;
  let apiPort: number;
  let grpcPort: number;

  const manifest = (extraEnv = '') => `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: kube-system
  labels: { tier: control-plane }
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
  - name: httpd
    image: ${HTTPD}
    env:
    - { name: PORT, value: "${hostPort}" }${extraEnv ? `\n    - { name: EXTRA, value: "${extraEnv}" }` : ''}
`;

  const startKubelet = (extra: string[] = []) =>
    startCriKubelet({
      env,
      cd,
      node: NODE,
      rootDir,
      grpcPort,
      name: 'kubelet-static',
      args: [`--pod-manifest-path=${manifests}`, '--file-check-frequency=2s', `--cni-conf-dir=${cd.cniConfDir}`, `--cni-bridge=${cd.bridge}`, '--node-status-update-frequency=1s', '--housekeeping-interval=5s', ...extra],
    });

  const get = async (urlPath: string): Promise<any> => {
    const r = await env.request('GET', urlPath);
    return r.status === 200 ? r.json() : undefined;
  };
  const waitObj = (urlPath: string, what: string, pred: (o: any) => boolean, timeoutMs = 120_000) =>
    waitFor(
      async () => {
        const o = await get(urlPath);
        return o && pred(o) ? o : undefined;
      },
      { timeoutMs, intervalMs: 200, description: what, context: () => kubelet?.tail(30) ?? '' },
    );
  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- kubelet:\n${kubelet?.tail(30)}`);
    return r.stdout;
  };
  /** The running CRI containers of a pod (by the pod name label). */
  const running = async (podName: string) =>
    (await cri.listContainers({ filter: { labelSelector: { 'io.kubernetes.pod.name': podName } } })).containers.filter((c) => c.state === ContainerState.CONTAINER_RUNNING);
  const MIRROR_PATH = `/api/v1/namespaces/kube-system/pods/web-${NODE}`;

  beforeAll(async () => {
    [env, cd] = await Promise.all([ControlPlane.start({ kv: 'kubets', nats: true }), Containerd.start({ cniConfig: false, images: ['busybox-httpd'] })]);
    cri = new CriClient(cd.endpoint, { timeoutMs: 60_000 });
    rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-kubelet-static-'));
    manifests = path.join(rootDir, 'manifests');
    fs.mkdirSync(manifests);
    hostPort = await freePort();
    apiPort = env.apiservers[0]!.port;
    grpcPort = env.apiservers[0]!.grpcPort;
  });
  afterAll(async () => {
    await kubelet?.stop(20_000).catch(() => undefined);
    cri?.close();
    await cd?.dispose();
    await env?.dispose();
    if (rootDir) fs.rmSync(rootDir, { recursive: true, force: true });
  });

  it('a static pod runs with the API server and NATS down, and shows up as a mirror pod when they come back', async () => {
    fs.writeFileSync(path.join(manifests, 'web.yaml'), manifest());
    await env.apiservers[0]!.proc.stop();
    await env.nats!.stop();
    kubelet = await startKubelet();
    // Nothing of the control plane runs, yet the pod serves (hostNetwork: no CNI needed).
    const res = await httpReady('127.0.0.1', hostPort);
    expect(res.body).toMatch(/^hello from /);
    const [c] = await running(`web-${NODE}`);
    expect(c).toBeDefined();
    expect(await get(MIRROR_PATH).catch(() => undefined)).toBeUndefined();

    await env.nats!.restart();
    await env.startApiServer(apiPort, 0, grpcPort);
    const mirror = await waitObj(MIRROR_PATH, 'the mirror pod Running with the static container', (p) =>
      Boolean(p.metadata.annotations?.[MIRROR]) && p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.containerID === `containerd://${c!.id}`,
    );
    expect(mirror.metadata.annotations[MIRROR]).toBe(mirror.metadata.annotations['kubernetes.io/config.hash']);
    expect(mirror.metadata.annotations['kubernetes.io/config.source']).toBe('file');
    expect(mirror.metadata.labels).toEqual({ tier: 'control-plane' });
    expect(mirror.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Node', name: NODE, controller: true })]);
    expect(mirror.spec.nodeName).toBe(NODE);
    expect(mirror.status.podIP).toBe('127.0.0.1');
    expect(mirror.status.conditions.find((x: any) => x.type === 'Ready').status).toBe('True');
    // Still the first container: nothing restarted when the control plane came back.
    expect((await running(`web-${NODE}`)).map((x) => x.id)).toEqual([c!.id]);
    expect(await kubectl(['get', 'pods', '-n', 'kube-system', '-o', 'wide'])).toMatch(new RegExp(`web-${NODE}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+127\\.0\\.0\\.1\\s+${NODE}`));
    // kubectl logs of a static pod goes through the API server to this kubelet.
    expect(await kubectl(['logs', '-n', 'kube-system', `web-${NODE}`])).toContain(`busybox-httpd: serving :${hostPort}`);
  });

  it('deleting the mirror pod brings it back without restarting the pod; an edited manifest replaces it; a removed one stops it', async () => {
    const before = await get(MIRROR_PATH);
    const [c] = await running(`web-${NODE}`);
    await kubectl(['delete', 'pod', '-n', 'kube-system', `web-${NODE}`, '--wait=false']);
    await waitObj(MIRROR_PATH, 'a new mirror pod', (p) => p.metadata.uid !== before.metadata.uid && !p.metadata.deletionTimestamp && p.status?.phase === 'Running');
    expect((await running(`web-${NODE}`)).map((x) => x.id)).toEqual([c!.id]);

    // An edit is a new pod (another hash): the old container goes, a new one serves, the mirror follows.
    fs.writeFileSync(path.join(manifests, 'web.yaml'), manifest('v2'));
    const replaced = await waitObj(MIRROR_PATH, 'the mirror pod of the edited manifest, Running', (p) =>
      p.metadata.annotations?.[MIRROR] !== before.metadata.annotations[MIRROR] && p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.containerID !== `containerd://${c!.id}`,
    );
    expect(replaced.spec.containers[0].env).toContainEqual({ name: 'EXTRA', value: 'v2' });
    const [c2] = await running(`web-${NODE}`);
    expect(c2!.id).not.toBe(c!.id);
    expect((await running(`web-${NODE}`)).length).toBe(1);
    await httpReady('127.0.0.1', hostPort);

    fs.rmSync(path.join(manifests, 'web.yaml'));
    await waitFor(async () => (await running(`web-${NODE}`)).length === 0 && (await env.request('GET', MIRROR_PATH)).status === 404, {
      timeoutMs: 60_000,
      description: 'the removed static pod stopped and its mirror pod deleted',
      context: () => kubelet?.tail(30) ?? '',
    });
    await expect(httpGet('127.0.0.1', hostPort)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('the node is NotReady until it has a podCIDR; then the kubelet writes the CNI config, the node turns Ready and pods get IPs from it', async () => {
    const NODE_PATH = `/api/v1/nodes/${NODE}`;
    const notReady = await waitObj(NODE_PATH, 'the node registered NotReady', (n) => n.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'False'));
    expect(notReady.status.conditions.find((x: any) => x.type === 'Ready').message).toMatch(/NetworkReady=false/);
    expect(fs.readdirSync(cd.cniConfDir)).toEqual([]);
    // What the node IPAM controller does (tested in the controller manager): give the node its podCIDR.
    await kubectl(['patch', 'node', NODE, '-p', JSON.stringify({ spec: { podCIDR: cd.subnet, podCIDRs: [cd.subnet] } })]);
    const node = await waitObj(NODE_PATH, 'the node Ready', (n) => n.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'), 60_000);
    const conf = JSON.parse(fs.readFileSync(path.join(cd.cniConfDir, '10-kubets.conflist'), 'utf8'));
    expect(conf.plugins[0]).toMatchObject({ type: 'bridge', bridge: cd.bridge, ipam: { type: 'host-local', ranges: [[{ subnet: cd.subnet }]] } });
    // The pressure conditions as the kubelet reports them (thresholds not crossed here).
    const cond = (n: any, t: string) => n.status.conditions.find((x: any) => x.type === t);
    expect(cond(node, 'MemoryPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasSufficientMemory' });
    expect(cond(node, 'DiskPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasNoDiskPressure' });
    expect(cond(node, 'PIDPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasSufficientPID' });
    // status.images: the runtime's images, every name, with sizes.
    const images = node.status.images as Array<{ names: string[]; sizeBytes: number }>;
    const httpd = images.find((i) => i.names.includes(HTTPD));
    expect(httpd?.sizeBytes).toBeGreaterThan(100_000);
    expect(images.some((i) => i.names.includes(testImageRef('pause')))).toBe(true);

    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'net', namespace: 'default' }, spec: { nodeName: NODE, terminationGracePeriodSeconds: 1, containers: [{ name: 'httpd', image: HTTPD }] } }));
    const p = await waitObj('/api/v1/namespaces/default/pods/net', 'pod net Running with an IP', (x) => x.status?.phase === 'Running' && Boolean(x.status.podIP));
    const prefix = cd.subnet.replace(/\.0\/24$/, '.');
    expect(p.status.podIP.startsWith(prefix)).toBe(true);
    expect((await httpReady(p.status.podIP)).body).toBe('hello from net\n');
  });

  it('a pod with runAsUser, a hostPath volume and a hostPort: the user, the host file and the port mapping work', async () => {
    const hostDir = path.join(rootDir, 'host-data');
    fs.mkdirSync(hostDir, { recursive: true });
    fs.writeFileSync(path.join(hostDir, 'hello.txt'), 'from the host\n');
    const port = await freePort();
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'opts', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        securityContext: { runAsUser: 1000, runAsGroup: 3000 },
        volumes: [{ name: 'host', hostPath: { path: hostDir, type: 'Directory' } }],
        containers: [
          // The container's securityContext wins over the pod's: httpd writes its page as root.
          { name: 'httpd', image: HTTPD, securityContext: { runAsUser: 0 }, ports: [{ containerPort: 8080, hostPort: port }] },
          {
            name: 'user',
            image: HTTPD,
            command: ['sh', '-c', 'exec sleep 3600'],
            securityContext: { capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } },
            volumeMounts: [{ name: 'host', mountPath: '/host', readOnly: true }],
          },
        ],
      },
    }));
    const p = await waitObj('/api/v1/namespaces/default/pods/opts', 'pod opts Running', (x) => x.status?.phase === 'Running' && x.status.containerStatuses?.length === 2);
    const idOf = (name: string) => String(p.status.containerStatuses.find((c: any) => c.name === name).containerID).replace('containerd://', '');
    const id = idOf('user');
    const exec = async (cmd: string[], containerId = id) => {
      const r = await cri.execSync({ containerId, cmd, timeout: 10n });
      return Buffer.from(r.stdout).toString('utf8').trim();
    };
    expect(await exec(['id', '-u'])).toBe('1000');
    expect(await exec(['id', '-g'])).toBe('3000');
    expect(await exec(['id', '-u'], idOf('httpd'))).toBe('0');
    expect(await exec(['cat', '/host/hello.txt'])).toBe('from the host');
    // capabilities: drop ALL, add NET_ADMIN (bit 12) leaves exactly that in the bounding set.
    expect(await exec(['sh', '-c', "grep CapBnd /proc/self/status | tr -d '\\t' | cut -d: -f2"])).toBe('0000000000001000');
    // The hostPort through CNI portmap: the node's address on the pod bridge (locally generated traffic is DNATed in OUTPUT).
    expect((await httpReady(cd.gateway, port)).body).toBe('hello from opts\n');
    // A hostPath of the wrong type keeps the pod from starting, with the reason.
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'badpath', namespace: 'default' },
      spec: { nodeName: NODE, volumes: [{ name: 'h', hostPath: { path: path.join(hostDir, 'hello.txt'), type: 'Directory' } }], containers: [{ name: 'c', image: HTTPD, volumeMounts: [{ name: 'h', mountPath: '/h' }] }] },
    }));
    const bad = await waitObj('/api/v1/namespaces/default/pods/badpath', 'pod badpath waiting with a reason', (x) => Boolean(x.status?.containerStatuses?.[0]?.state?.waiting?.message));
    expect(bad.status.containerStatuses[0].state.waiting).toMatchObject({ reason: 'CreateContainerConfigError', message: expect.stringMatching(/is not a directory/) });
    await kubectl(['delete', 'pod', 'opts', 'badpath', '--wait=false']);
  });

  it('kubectl delete runs the preStop hook before SIGTERM, within the grace period', async () => {
    const hostDir = path.join(rootDir, 'prestop');
    fs.mkdirSync(hostDir, { recursive: true });
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'hooked', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 10,
        volumes: [{ name: 'out', hostPath: { path: hostDir, type: 'Directory' } }],
        containers: [{
          name: 'c',
          image: HTTPD,
          volumeMounts: [{ name: 'out', mountPath: '/out' }],
          // The hook leaves a file and takes 2 s; the container must still be running while it does.
          lifecycle: { preStop: { exec: { command: ['sh', '-c', 'date +%s%N > /out/prestop-started; sleep 2; echo done > /out/prestop-done'] } } },
        }],
      },
    }));
    await waitObj('/api/v1/namespaces/default/pods/hooked', 'pod hooked Running', (x) => x.status?.phase === 'Running');
    const t0 = Date.now();
    await kubectl(['delete', 'pod', 'hooked', '--wait=false']);
    await waitFor(async () => (await env.request('GET', '/api/v1/namespaces/default/pods/hooked')).status === 404, { timeoutMs: 60_000, description: 'pod hooked gone', context: () => kubelet?.tail(20) ?? '' });
    const took = Date.now() - t0;
    expect(fs.readFileSync(path.join(hostDir, 'prestop-done'), 'utf8').trim()).toBe('done');
    // The hook's 2 s happened before the pod went away, and well inside the 10 s grace period (httpd exits on SIGTERM at once).
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(10_000);
  });

  it('a kubelet restarted with a crossed eviction threshold reports MemoryPressure, and restarts nothing', async () => {
    const before = await get('/api/v1/namespaces/default/pods/net');
    await kubelet!.stop(20_000);
    kubelet = await startKubelet(['--eviction-hard=memory.available<1Pi']);
    const node = await waitObj(`/api/v1/nodes/${NODE}`, 'MemoryPressure True', (n) => n.status?.conditions?.some((x: any) => x.type === 'MemoryPressure' && x.status === 'True'), 60_000);
    expect(node.status.conditions.find((x: any) => x.type === 'MemoryPressure')).toMatchObject({ reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' });
    const after = await get('/api/v1/namespaces/default/pods/net');
    expect(after.status.containerStatuses[0].containerID).toBe(before.status.containerStatuses[0].containerID);
    expect(after.status.containerStatuses[0].restartCount).toBe(0);
    await expect(startKubeletBadFlag()).resolves.toMatch(/unknown signal "cpu.available"/);
  });

  /** A malformed --eviction-hard is refused at start with the reason. */
  const startKubeletBadFlag = async () => {
    const p = spawnProcess({ name: 'kubelet-bad-flag', command: process.execPath, args: [builtApp('kubelet'), `--kubeconfig=${env.kubeconfig}`, '--nats-url=nats://127.0.0.1:1', '--eviction-hard=cpu.available<1', `--container-runtime-endpoint=${cd.endpoint}`, `--root-dir=${rootDir}/bad`, '--healthz-bind-address=127.0.0.1:0', '--port=0'] });
    const code = await p.waitForExit(30_000);
    expect(code).not.toBe(0);
    return p.logs();
  };
});

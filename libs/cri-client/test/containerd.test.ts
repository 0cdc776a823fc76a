// The CRI client against a real containerd 1.6 (Debian package) started by
// @kubets/testkit's Containerd: its own root, socket, CNI bridge and the test
// images from infra/images. Needs root and the packages infra/setup installs.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { Containerd, ensureTestImages, testImageRef, waitFor } from '@kubets/testkit';
import {
  ContainerState,
  CriClient,
  CriError,
  NamespaceMode,
  parseCriLog,
  PodSandboxState,
  type PodSandboxConfig,
  type DeepPartial,
} from '../src';

function httpGet(host: string, port: number, urlPath: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${urlPath} timed out`)));
    req.on('error', reject);
  });
}

function ipv4InSubnet(ip: string, subnet: string): boolean {
  const [net, bits] = subnet.split('/');
  const toInt = (a: string) => a.split('.').reduce((acc, o) => (acc << 8) + Number(o), 0) >>> 0;
  const mask = bits === '0' ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) === (toInt(net) & mask);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

describe('CriClient against a real containerd', () => {
  let containerd: Containerd;
  let cri: CriClient;
  let disposed = false;
  const timings: Record<string, number> = {};

  const uid = 'c0ffee00-0000-4000-8000-000000000001';
  let logDirectory: string;
  let sandboxConfig: DeepPartial<PodSandboxConfig>;
  let sandboxId = '';
  let podIP = '';
  let httpdId = '';
  let crasherId = '';

  beforeAll(async () => {
    const [c, ms] = await timed(() => Containerd.start());
    containerd = c;
    timings['Containerd.start (boot + 4 image imports)'] = ms;
    cri = new CriClient(containerd.endpoint, { timeoutMs: 30_000 });
    logDirectory = path.join(containerd.podLogDir, `default_web-0_${uid}`);
    sandboxConfig = {
      metadata: { name: 'web-0', namespace: 'default', uid, attempt: 0 },
      hostname: 'web-0',
      logDirectory,
      dnsConfig: { servers: ['10.96.0.10'], searches: ['default.svc.cluster.local'], options: ['ndots:5'] },
      labels: { 'io.kubernetes.pod.name': 'web-0', app: 'web' },
      annotations: { 'kubets.io/test': 'cri-client' },
      linux: {
        cgroupParent: containerd.cgroupParent,
        securityContext: {
          namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD },
        },
      },
    };
  }, 180_000);

  afterAll(async () => {
    cri?.close();
    if (!disposed) await containerd?.dispose();
    // eslint-disable-next-line no-console
    console.log(
      `CRI timings (ms):\n${Object.entries(timings)
        .map(([k, v]) => `  ${k}: ${v.toFixed(1)}`)
        .join('\n')}`,
    );
  }, 120_000);

  it('answers Version and Status', async () => {
    const version = await cri.version({ version: 'v1' });
    expect(version.runtimeName).toBe('containerd');
    expect(version.runtimeApiVersion).toBe('v1');
    expect(version.runtimeVersion).toMatch(/^1\.6\./);
    const st = await cri.status({ verbose: false });
    const conditions = Object.fromEntries((st.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conditions).toEqual({ RuntimeReady: true, NetworkReady: true });
  });

  it('names the imported images as infra/images says, and ImageStatus finds them', async () => {
    expect(containerd.importedImages.get('busybox-httpd')).toEqual(['docker.io/kubets/busybox-httpd:1.0']);
    expect(containerd.importedImages.get('pause')).toEqual(['docker.io/kubets/pause:1.0']);
    const built = JSON.parse(fs.readFileSync(path.join(ensureTestImages(), 'images.json'), 'utf8')) as Array<{
      name: string;
      imageId: string;
    }>;
    const httpdBuilt = built.find((i) => i.name === 'busybox-httpd')!;

    const full = await cri.imageStatus({ image: { image: testImageRef('busybox-httpd') } });
    expect(full.image?.repoTags).toContain('docker.io/kubets/busybox-httpd:1.0');
    expect(full.image?.id).toBe(httpdBuilt.imageId);
    expect(Number(full.image?.size ?? 0)).toBeGreaterThan(500_000);
    // The short form a pod spec uses resolves to the same image.
    const short = await cri.imageStatus({ image: { image: 'kubets/busybox-httpd:1.0' } });
    expect(short.image?.id).toBe(httpdBuilt.imageId);
    // Absent images: no error, no image.
    expect((await cri.imageStatus({ image: { image: 'docker.io/kubets/nope:1.0' } })).image).toBeUndefined();

    const list = await cri.listImages();
    const tags = list.images.flatMap((i) => i.repoTags);
    expect(tags).toEqual(expect.arrayContaining(['docker.io/kubets/pause:1.0', 'docker.io/kubets/crasher:1.0']));
    const fsInfo = await cri.imageFsInfo();
    expect(fsInfo.imageFilesystems[0]?.fsId?.mountpoint).toContain(containerd.root);
  });

  it('fails PullImage of a missing image with the runtime error', async () => {
    // docker.io is redirected to a closed loopback port by the harness: no traffic leaves the machine.
    const err = await cri.pullImage({ image: { image: 'docker.io/kubets/missing:9.9' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CriError);
    const e = err as CriError;
    expect(e.method).toBe('/runtime.v1.ImageService/PullImage');
    expect(e.code).toBe(status.UNKNOWN);
    expect(e.details).toMatch(/failed to pull and unpack image "docker.io\/kubets\/missing:9.9"/);
    expect(e.details).toMatch(/127\.0\.0\.1:1.*connection refused/);
  });

  it('fails a call at its deadline with DEADLINE_EXCEEDED', async () => {
    const err = await cri.version({}, { timeoutMs: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CriError);
    expect((err as CriError).code).toBe(status.DEADLINE_EXCEEDED);
  });

  it('runs a pod sandbox that gets an IP on the harness bridge', async () => {
    fs.mkdirSync(logDirectory, { recursive: true });
    const [res, ms] = await timed(() => cri.runPodSandbox({ config: sandboxConfig }));
    timings.RunPodSandbox = ms;
    sandboxId = res.podSandboxId;
    expect(sandboxId).toMatch(/^[0-9a-f]{64}$/);

    const st = await cri.podSandboxStatus({ podSandboxId: sandboxId });
    expect(st.status?.state).toBe(PodSandboxState.SANDBOX_READY);
    expect(st.status?.metadata).toEqual({ name: 'web-0', namespace: 'default', uid, attempt: 0 });
    expect(st.status?.labels.app).toBe('web');
    expect(st.status?.annotations['kubets.io/test']).toBe('cri-client');
    podIP = st.status?.network?.ip ?? '';
    expect(ipv4InSubnet(podIP, containerd.subnet)).toBe(true);
    expect(podIP).not.toBe(containerd.gateway);
    expect(st.status?.network?.additionalIps).toEqual([]);
    expect(st.status?.linux?.namespaces?.options?.pid).toBe(NamespaceMode.CONTAINER);

    const list = await cri.listPodSandbox({ filter: { labelSelector: { app: 'web' } } });
    expect(list.items.map((s) => s.id)).toEqual([sandboxId]);
  });

  it('creates and starts busybox-httpd, reachable from the host, answering with the pod hostname', async () => {
    const [created, createMs] = await timed(() =>
      cri.createContainer({
        podSandboxId: sandboxId,
        sandboxConfig,
        config: {
          metadata: { name: 'httpd', attempt: 0 },
          image: { image: testImageRef('busybox-httpd') },
          envs: [{ key: 'GREETING', value: 'hi' }],
          labels: { 'io.kubernetes.container.name': 'httpd' },
          logPath: 'httpd/0.log',
          linux: {
            resources: { cpuPeriod: 100_000n, cpuQuota: 50_000n, cpuShares: 512n, memoryLimitInBytes: 64n * 1024n * 1024n },
          },
        },
      }),
    );
    httpdId = created.containerId;
    const [, startMs] = await timed(() => cri.startContainer({ containerId: httpdId }));
    timings.CreateContainer = createMs;
    timings.StartContainer = startMs;
    timings['CreateContainer + StartContainer'] = createMs + startMs;

    const st = await cri.containerStatus({ containerId: httpdId });
    expect(st.status?.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect(st.status?.metadata?.name).toBe('httpd');
    expect(st.status?.image?.image).toBe(testImageRef('busybox-httpd'));
    expect(st.status?.imageRef).toMatch(/^(docker\.io\/kubets\/busybox-httpd@)?sha256:[0-9a-f]{64}$/);
    expect(st.status?.logPath).toBe(path.join(logDirectory, 'httpd/0.log'));
    expect(st.status?.startedAt).toBeGreaterThan(0n);
    expect(st.status?.finishedAt).toBe(0n);

    const running = await cri.listContainers({
      filter: { podSandboxId: sandboxId, state: { state: ContainerState.CONTAINER_RUNNING } },
    });
    expect(running.containers.map((c) => c.id)).toEqual([httpdId]);

    // httpd binds a moment after the start returns.
    const [res, httpMs] = await timed(() =>
      waitFor(() => httpGet(podIP, 8080, '/').catch(() => undefined), {
        timeoutMs: 10_000,
        description: `http://${podIP}:8080/`,
      }),
    );
    timings['first HTTP answer after start'] = httpMs;
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello from web-0\n');
  });

  it('runs ExecSync with stdout and exit code', async () => {
    const [res, ms] = await timed(() =>
      cri.execSync({ containerId: httpdId, cmd: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'], timeout: 10n }),
    );
    timings.ExecSync = ms;
    expect(Buffer.from(res.stdout).toString()).toBe('hi\n');
    expect(Buffer.from(res.stderr).toString()).toBe('oops\n');
    expect(res.exitCode).toBe(3);
    // The pod's hostname, DNS config and resources made it into the container.
    const inside = await cri.execSync({
      containerId: httpdId,
      cmd: ['sh', '-c', 'hostname; cat /etc/resolv.conf; echo "GREETING=$GREETING"'],
      timeout: 10n,
    });
    const out = Buffer.from(inside.stdout).toString();
    expect(out).toContain('web-0\n');
    expect(out).toContain('nameserver 10.96.0.10');
    expect(out).toContain('search default.svc.cluster.local');
    expect(out).toContain('GREETING=hi');
  });

  it('writes the container log in CRI format under the sandbox log directory', async () => {
    const logFile = path.join(logDirectory, 'httpd/0.log');
    const lines = await waitFor(
      () => {
        const parsed = parseCriLog(fs.readFileSync(logFile, 'utf8'));
        const started = parsed.some((l) => l.stream === 'stdout' && l.content.includes('serving :8080 on web-0'));
        return started ? parsed : undefined;
      },
      { timeoutMs: 10_000, description: `the httpd start line in ${logFile}` },
    );
    const first = lines.find((l) => l.stream === 'stdout')!;
    expect(first.full).toBe(true);
    expect(Date.parse(first.time)).toBeGreaterThan(Date.now() - 5 * 60_000);
    for (const raw of fs.readFileSync(logFile, 'utf8').trim().split('\n')) {
      expect(raw).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+(Z|[+-]\d{2}:\d{2}) (stdout|stderr) [PF] /);
    }
  });

  it('reports a crashing container as exited with its code', async () => {
    const created = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: {
        metadata: { name: 'crasher', attempt: 0 },
        image: { image: testImageRef('crasher') },
        envs: [{ key: 'CRASH_AFTER', value: '0' }],
        logPath: 'crasher/0.log',
      },
    });
    crasherId = created.containerId;
    await cri.startContainer({ containerId: crasherId });
    const st = await waitFor(
      async () => {
        const s = (await cri.containerStatus({ containerId: crasherId })).status;
        return s?.state === ContainerState.CONTAINER_EXITED ? s : undefined;
      },
      { timeoutMs: 15_000, description: 'the crasher to exit' },
    );
    expect(st.exitCode).toBe(1);
    expect(st.reason).toBe('Error');
    // containerd stamps startedAt when the start call returns; a process that
    // exits at once can have finished a few ms before that (seen in CI).
    expect(st.startedAt).toBeGreaterThan(0n);
    expect(st.finishedAt).toBeGreaterThan(st.startedAt - 1_000_000_000n);
    await cri.removeContainer({ containerId: crasherId });
  });

  it('runs probe-target, whose /healthz follows the file /www/healthz', async () => {
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: {
        metadata: { name: 'probe', attempt: 0 },
        image: { image: testImageRef('probe-target') },
        // Same network namespace as httpd: another port.
        envs: [{ key: 'PORT', value: '8081' }],
        logPath: 'probe/0.log',
      },
    });
    await cri.startContainer({ containerId });
    const healthz = () => httpGet(podIP, 8081, '/healthz').then((r) => r.status);
    await waitFor(async () => (await healthz().catch(() => 0)) === 200, { timeoutMs: 10_000, description: '/healthz 200' });
    const rm = await cri.execSync({ containerId, cmd: ['rm', '/www/healthz'], timeout: 10n });
    expect(rm.exitCode).toBe(0);
    expect(await healthz()).toBe(404);
    await cri.execSync({ containerId, cmd: ['sh', '-c', 'echo ok > /www/healthz'], timeout: 10n });
    expect(await healthz()).toBe(200);
    await cri.stopContainer({ containerId, timeout: 10n });
    expect((await cri.containerStatus({ containerId })).status?.exitCode).toBe(0);
    await cri.removeContainer({ containerId });
  });

  it('applies and updates container resources in the container cgroup', async () => {
    // cgroupfs driver: <hierarchy>/<cgroup_parent>/<container id>.
    const cpuDir = path.join('/sys/fs/cgroup/cpu', containerd.cgroupParent, httpdId);
    const read = (file: string) => fs.readFileSync(path.join(cpuDir, file), 'utf8').trim();
    expect(read('cpu.cfs_quota_us')).toBe('50000');
    expect(read('cpu.shares')).toBe('512');
    await cri.updateContainerResources({
      containerId: httpdId,
      linux: { cpuPeriod: 100_000n, cpuQuota: 20_000n, cpuShares: 256n, memoryLimitInBytes: 32n * 1024n * 1024n },
    });
    expect(read('cpu.cfs_quota_us')).toBe('20000');
    expect(read('cpu.shares')).toBe('256');
  });

  it('stops and removes the container and the sandbox', async () => {
    const [, stopMs] = await timed(() => cri.stopContainer({ containerId: httpdId, timeout: 10n }));
    timings['StopContainer (SIGTERM handled)'] = stopMs;
    const st = await cri.containerStatus({ containerId: httpdId });
    expect(st.status?.state).toBe(ContainerState.CONTAINER_EXITED);
    // The entry script traps SIGTERM and exits 0: not killed at the grace deadline.
    expect(st.status?.exitCode).toBe(0);
    await cri.removeContainer({ containerId: httpdId });
    const gone = await cri.containerStatus({ containerId: httpdId }).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(CriError);
    expect((gone as CriError).code).toBe(status.NOT_FOUND);

    const [, stopSandboxMs] = await timed(() => cri.stopPodSandbox({ podSandboxId: sandboxId }));
    timings.StopPodSandbox = stopSandboxMs;
    expect((await cri.podSandboxStatus({ podSandboxId: sandboxId })).status?.state).toBe(PodSandboxState.SANDBOX_NOTREADY);
    await cri.removePodSandbox({ podSandboxId: sandboxId });
    expect((await cri.listPodSandbox()).items).toEqual([]);
    expect((await cri.listContainers()).containers).toEqual([]);
  });

  it('leaves no process, mount, bridge or folder behind after dispose', async () => {
    // A second sandbox left running on purpose: dispose must stop it too.
    const left = await cri.runPodSandbox({
      config: { ...sandboxConfig, metadata: { name: 'left', namespace: 'default', uid: 'u2' } },
    });
    expect(left.podSandboxId).not.toBe('');
    const pid = containerd.pid!;
    const before = containerd.leftovers();
    expect(before.bridge).toBe(true);
    expect(before.processes).toEqual(expect.arrayContaining([pid])); // containerd
    expect(before.processes.length).toBeGreaterThan(1); // and the shim of the sandbox
    expect(before.mounts.length).toBeGreaterThan(0);

    cri.close();
    const [, ms] = await timed(() => containerd.dispose());
    disposed = true;
    timings['Containerd.dispose (one sandbox left running)'] = ms;
    expect(containerd.leftovers()).toEqual({ processes: [], mounts: [], bridge: false, dir: false, cgroups: [] });
    expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);
});

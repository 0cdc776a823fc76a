import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ActorSystem } from '@kubets/actor';
import { ContainerState, CriClient } from '@kubets/cri-client';
import pino from 'pino';
import { KubeletProtocol, kubeletSubject } from '../src/cri';
import { httpReady, startCriKubelet } from './helpers';
import { Containerd, ControlPlane, builtApp, freePort, spawnProcess, testImageRef, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(600_000);

const NODE = 'cri-node';
const HTTPD = testImageRef('busybox-httpd');
const CRASHER = testImageRef('crasher');
const PROBE = testImageRef('probe-target');

const pod = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { test: 'cri', ...labels } },
  spec: { nodeName: NODE, terminationGracePeriodSeconds: 5, ...spec },
});

/**
 * The real kubelet on a real containerd (testkit's Containerd: its own
 * socket, bridge, subnet and cgroup parent) against a real control plane
 * (kubets-kv, nats-server, kubets-apiserver), checked with stock kubectl.
 */
describe('kubets-kubelet on containerd (CRI)', () => {
  let env: ControlPlane;
  let cd: Containerd;
  let cri: CriClient;
  let kubelet: ManagedProcess;
  let rootDir: string;
  const procs: ManagedProcess[] = [];

  const startKubelet = () =>
    startCriKubelet({
      env,
      cd,
      node: NODE,
      rootDir,
      name: 'cri-kubelet',
      args: [
        '--max-pods=50',
        '--node-labels=zone=z1',
        '--node-lease-duration-seconds=8',
        '--container-backoff-initial=2s',
        '--housekeeping-interval=5s',
        // Written into pods' resolv.conf only (nothing in the tests resolves names).
        '--cluster-dns=10.96.0.10',
      ],
    });

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- kubelet:\n${kubelet?.tail(30)}`);
    return r.stdout;
  };
  const getPod = async (name: string): Promise<any> => {
    const r = await env.request('GET', `/api/v1/namespaces/default/pods/${name}`);
    return r.status === 200 ? r.json() : undefined;
  };
  // Generous: on this 2-core machine under other jobs' load a RunPodSandbox was seen taking 97 s (waiting in containerd).
  const waitPod = (name: string, what: string, pred: (p: any) => boolean, timeoutMs = 180_000) =>
    waitFor(
      async () => {
        const p = await getPod(name);
        return p && pred(p) ? p : undefined;
      },
      { timeoutMs, intervalMs: 200, description: `pod ${name}: ${what}`, context: () => kubelet.tail(30) },
    );
  const running = (p: any) => p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c: any) => c.state?.running);
  const ready = (p: any) => running(p) && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
  const cid = (p: any, i = 0) => String(p.status.containerStatuses[i].containerID).replace('containerd://', '');
  const exec = async (containerId: string, cmd: string[]) => {
    const r = await cri.execSync({ containerId, cmd, timeout: 10n });
    return { code: r.exitCode, out: Buffer.from(r.stdout).toString('utf8'), err: Buffer.from(r.stderr).toString('utf8') };
  };
  const sandboxesOf = async (uid: string) => (await cri.listPodSandbox({ filter: { labelSelector: { 'io.kubernetes.pod.uid': uid } } })).items;
  const events = async (name: string) => JSON.parse(await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name}`, '-o', 'json'])).items as any[];

  beforeAll(async () => {
    [env, cd] = await Promise.all([ControlPlane.start({ kv: 'kubets', nats: true }), Containerd.start()]);
    cri = new CriClient(cd.endpoint, { timeoutMs: 60_000 });
    rootDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-kubelet-root-'));
    kubelet = await startKubelet();
    procs.push(kubelet);
  });
  afterAll(async () => {
    await kubelet?.stop(20_000).catch(() => undefined);
    for (const p of procs) await p.stop().catch(() => undefined);
    cri?.close();
    await cd?.dispose();
    await env?.dispose();
    if (rootDir) fs.rmSync(rootDir, { recursive: true, force: true });
  });

  it('registers a Ready node with the machine capacity, labels, addresses and a renewed Lease', async () => {
    const node = await waitFor(
      async () => {
        const n = JSON.parse(await kubectl(['get', 'node', NODE, '-o', 'json']));
        return n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
      },
      { timeoutMs: 30_000, description: 'node Ready' },
    );
    expect(node.status.capacity).toMatchObject({ cpu: String(os.cpus().length), pods: '50' });
    expect(node.status.capacity.memory).toBe(`${Math.floor(os.totalmem() / 1024)}Ki`);
    expect(node.status.allocatable.pods).toBe('50');
    expect(node.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': NODE, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', zone: 'z1' });
    expect(node.status.addresses).toEqual(expect.arrayContaining([{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: NODE }]));
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\./);
    const leaseTime = async () => JSON.parse(await kubectl(['get', 'lease', NODE, '-n', 'kube-node-lease', '-o', 'json'])).spec.renewTime;
    const first = await leaseTime();
    await waitFor(async () => (await leaseTime()) !== first, { timeoutMs: 15_000, description: 'the lease is renewed' });
  });

  let webIP = '';
  let webContainer = '';
  it('runs a busybox-httpd pod: Running with an IP, answers HTTP from the host, events and status like Kubernetes', async () => {
    const t0 = Date.now();
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('web', { containers: [{ name: 'httpd', image: HTTPD, ports: [{ containerPort: 8080 }] }] })));
    const p = await waitPod('web', 'Running and Ready', ready);
    const ms = Date.now() - t0;
    process.stdout.write(`web: kubectl apply -> Running and Ready observed in ${ms} ms\n`);
    webIP = p.status.podIP;
    webContainer = cid(p);
    expect(webIP.startsWith(cd.subnet.split('.').slice(0, 3).join('.'))).toBe(true);
    expect(p.status.podIPs).toEqual([{ ip: webIP }]);
    expect(p.status.hostIP).toBe('127.0.0.1');
    expect(p.status.startTime).toMatch(/Z$/);
    expect(p.status.conditions.map((c: any) => c.type)).toEqual(expect.arrayContaining(['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']));
    expect(p.status.containerStatuses[0]).toMatchObject({ name: 'httpd', ready: true, started: true, restartCount: 0, image: HTTPD });
    expect(p.status.containerStatuses[0].containerID).toMatch(/^containerd:\/\/[0-9a-f]{64}$/);
    expect(p.status.containerStatuses[0].imageID).toMatch(/sha256:/);
    // The sandbox's hostname is the pod's name.
    const res = await httpReady(webIP);
    expect(res).toEqual({ status: 200, body: 'hello from web\n' });
    const wide = await kubectl(['get', 'pods', 'web', '-o', 'wide']);
    expect(wide).toMatch(new RegExp(`^web\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${webIP.replace(/\./g, '\\.')}\\s+${NODE}\\s`, 'm'));
    const reasons = (await events('web')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['Pulled', 'Created', 'Started']));
    // CRI labels as the real kubelet sets them; the log under --root-dir/pods/<uid>.
    const st = await cri.containerStatus({ containerId: webContainer });
    expect(st.status!.labels).toMatchObject({ 'io.kubernetes.pod.name': 'web', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': p.metadata.uid, 'io.kubernetes.container.name': 'httpd' });
    expect(st.status!.logPath).toBe(path.join(rootDir, 'pods', p.metadata.uid, 'logs', 'httpd', '0.log'));
    await waitFor(() => fs.existsSync(st.status!.logPath) && fs.readFileSync(st.status!.logPath, 'utf8').includes('busybox-httpd: serving'), { timeoutMs: 10_000, description: 'the CRI log file' });
    // The kubelet actor answers on NATS where a container is (what the logs/exec server resolves).
    const system = await ActorSystem.connect({ name: 'cri-test', servers: env.nats!.url, logger: pino({ level: 'silent' }) });
    try {
      const ref = system.remote(KubeletProtocol, kubeletSubject(NODE));
      expect(await ref.ask('container', { namespace: 'default', name: 'web' }, { timeoutMs: 15_000 })).toEqual({ podUid: p.metadata.uid, containerId: webContainer, logPath: st.status!.logPath, running: true });
      await expect(ref.ask('container', { namespace: 'default', name: 'web', previous: true }, { timeoutMs: 15_000 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await ref.ask('status', {}, { timeoutMs: 15_000 })).pods).toContain(`pod-${p.metadata.uid}`);
    } finally {
      await system.stop();
    }
  });

  it('kubectl logs (--tail, -f), exec (exit code), run -i (attach) and port-forward through the API server to this kubelet', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('talker', { containers: [{ name: 'talk', image: HTTPD, command: ['sh', '-c', 'i=0; while true; do echo "line $i"; i=$((i+1)); sleep 0.2; done'] }] })));
    await waitPod('talker', 'Running', running);
    const node = JSON.parse(await kubectl(['get', 'node', NODE, '-o', 'json']));
    expect(node.status.daemonEndpoints.kubeletEndpoint.Port).toBeGreaterThan(0);
    await waitFor(async () => /^line \d+$/m.test((await env.kubectl(['logs', 'talker', '--tail=2'])).stdout), { timeoutMs: 20_000, description: 'kubectl logs shows the lines' });
    const tail = (await kubectl(['logs', 'talker', '--tail=1'])).trim().split('\n');
    expect(tail).toHaveLength(1);
    expect(tail[0]).toMatch(/^line \d+$/);
    // -f: new lines keep arriving; stopped by the timeout.
    const follow = await env.kubectl(['logs', '-f', 'talker', '--tail=1'], { timeoutMs: 3_000 });
    expect(follow.stdout.trim().split('\n').length).toBeGreaterThan(2);
    const ex = await env.kubectl(['exec', 'talker', '--', 'sh', '-c', 'echo hi; exit 3']);
    expect(ex.stdout).toBe('hi\n');
    expect(ex.code).toBe(3);
    await kubectl(['delete', 'pod', 'talker', '--grace-period=1']);

    // kubectl run -i: a container started with its stdin open (spec stdin,
    // stdinOnce), attached to once it runs (pods/attach -> kubelet -> CRI Attach).
    const run = await env.kubectl(
      ['run', 'asker', '-i', '--restart=Never', `--image=${HTTPD}`, '--image-pull-policy=IfNotPresent', `--overrides={"spec":{"nodeName":"${NODE}"}}`, '--command', '--', 'sh', '-c', 'read line; echo "got $line"'],
      { input: 'hello\n', timeoutMs: 60_000 },
    );
    expect(run.stdout).toContain('got hello');
    expect(run.code).toBe(0);
    const asker = JSON.parse(await kubectl(['get', 'pod', 'asker', '-o', 'json']));
    expect(asker.spec.containers[0]).toMatchObject({ stdin: true, stdinOnce: true });
    await kubectl(['delete', 'pod', 'asker', '--grace-period=1']);

    // kubectl port-forward into a pod's network (pods/portforward -> kubelet -> CRI PortForward on its sandbox).
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('forwarded', { containers: [{ name: 'httpd', image: HTTPD }] })));
    await waitPod('forwarded', 'Running', running);
    const pf = spawnProcess({ name: 'port-forward', command: 'kubectl', args: ['--kubeconfig', env.kubeconfig, 'port-forward', 'pod/forwarded', ':8080'], env: { ...process.env, HOME: env.home } });
    try {
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(await pf.waitForLog(/Forwarding from 127\.0\.0\.1:\d+ -> 8080/, 30_000))![1]);
      expect(await httpReady('127.0.0.1', port)).toEqual({ status: 200, body: 'hello from forwarded\n' });
    } finally {
      await pf.kill();
    }
    await kubectl(['delete', 'pod', 'forwarded', '--grace-period=1']);
  });

  it('a killed container process is restarted and restartCount increments', async () => {
    await exec(webContainer, ['kill', '1']);
    const p = await waitPod('web', 'restarted', (x) => ready(x) && x.status.containerStatuses[0].restartCount === 1);
    expect(cid(p)).not.toBe(webContainer);
    expect(p.status.containerStatuses[0].lastState.terminated).toMatchObject({ exitCode: 0, containerID: `containerd://${webContainer}` });
    const system = await ActorSystem.connect({ name: 'cri-test', servers: env.nats!.url, logger: pino({ level: 'silent' }) });
    try {
      const previous = await system.remote(KubeletProtocol, kubeletSubject(NODE)).ask('container', { namespace: 'default', name: 'web', container: 'httpd', previous: true }, { timeoutMs: 15_000 });
      expect(previous).toMatchObject({ containerId: webContainer, running: false });
      expect(previous.logPath).toMatch(/\/httpd\/0\.log$/);
    } finally {
      await system.stop();
    }
    webContainer = cid(p);
    expect((await httpReady(p.status.podIP)).status).toBe(200);
  });

  it('a crashing container shows CrashLoopBackOff with growing delays', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('crash', { containers: [{ name: 'crasher', image: CRASHER, env: [{ name: 'CRASH_AFTER', value: '2' }] }] })));
    // restartCount -> (finishedAt of the previous run, startedAt of this run): the gap is the back-off.
    const gaps = new Map<number, number>();
    let sawBackOff = '';
    await waitFor(
      async () => {
        const p = await getPod('crash');
        const cs = p?.status?.containerStatuses?.[0];
        if (!cs) return false;
        if (cs.state.waiting?.reason === 'CrashLoopBackOff') sawBackOff = cs.state.waiting.message;
        if (cs.state.running && cs.lastState.terminated && !gaps.has(cs.restartCount)) {
          gaps.set(cs.restartCount, Date.parse(cs.state.running.startedAt) - Date.parse(cs.lastState.terminated.finishedAt));
        }
        return cs.restartCount >= 4 && gaps.has(4);
      },
      { timeoutMs: 180_000, intervalMs: 200, description: 'crasher restarted 4 times', context: () => kubelet.tail(20) },
    );
    expect(sawBackOff).toMatch(/^back-off \d+s restarting failed container=crasher pod=crash_default\(/);
    // Back-off 2 s doubling: about 0, 2, 4, 8 s before restarts 1..4 (timestamps have 1 s resolution).
    expect(gaps.get(4)!).toBeGreaterThanOrEqual(6_000);
    expect(gaps.get(4)!).toBeGreaterThan(gaps.get(3) ?? gaps.get(2) ?? 0);
    expect((await getPod('crash')).status.phase).toBe('Running');
    expect((await events('crash')).map((e) => e.reason)).toContain('BackOff');
    await kubectl(['delete', 'pod', 'crash', '--wait=false']);
  });

  it('a failing liveness probe restarts the container; a failing readiness probe makes the pod NotReady, recovery Ready', async () => {
    // The startup probe holds liveness back until httpd listens (else a first liveness check could fail at once).
    const probe = (p: string) => ({ httpGet: { path: p, port: 8080 }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 1 });
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('probed', { containers: [{ name: 'app', image: PROBE, startupProbe: { ...probe('/healthz'), failureThreshold: 30 }, livenessProbe: probe('/healthz'), readinessProbe: probe('/ready') }] })));
    let p = await waitPod('probed', 'Ready', ready);
    const first = cid(p);
    // Readiness: /ready answers 404 once the file is gone.
    expect((await exec(first, ['rm', '/www/ready'])).code).toBe(0);
    p = await waitPod('probed', 'NotReady', (x) => running(x) && x.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'False'), 30_000);
    expect(p.status.containerStatuses[0]).toMatchObject({ ready: false, restartCount: 0 });
    expect(cid(p)).toBe(first);
    expect((await exec(first, ['sh', '-c', 'echo ok > /www/ready'])).code).toBe(0);
    await waitPod('probed', 'Ready again', ready, 30_000);
    // Liveness: /healthz answers 404 once the file is gone -> killed and restarted (the new one writes it again).
    expect((await exec(first, ['rm', '/www/healthz'])).code).toBe(0);
    p = await waitPod('probed', 'restarted by liveness', (x) => ready(x) && x.status.containerStatuses[0].restartCount === 1, 60_000);
    expect(cid(p)).not.toBe(first);
    const ev = await events('probed');
    expect(ev.some((e) => e.reason === 'Unhealthy' && /Liveness probe failed: HTTP probe failed with statuscode: 404/.test(e.message))).toBe(true);
    expect(ev.some((e) => e.reason === 'Unhealthy' && /Readiness probe failed/.test(e.message))).toBe(true);
    expect(ev.some((e) => e.reason === 'Killing' && /failed liveness probe/.test(e.message))).toBe(true);
    await kubectl(['delete', 'pod', 'probed', '--wait=false']);
  });

  it('memory limit in the cgroup, env from a ConfigMap and fieldRef, a Secret volume and an emptyDir inside the container', async () => {
    await kubectl(['create', 'configmap', 'app-config', '--from-literal=greeting=hello-config']);
    await kubectl(['create', 'secret', 'generic', 'app-secret', '--from-literal=password=s3cr3t']);
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(
        pod('cfg', {
          volumes: [
            { name: 'secret', secret: { secretName: 'app-secret' } },
            { name: 'scratch', emptyDir: {} },
          ],
          containers: [
            {
              name: 'app',
              image: HTTPD,
              workingDir: '/tmp',
              resources: { limits: { memory: '64Mi', cpu: '250m' }, requests: { memory: '32Mi', cpu: '100m' } },
              env: [
                { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
                { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'MSG', value: '$(GREETING) from $(POD_NAME)' },
              ],
              volumeMounts: [
                { name: 'secret', mountPath: '/etc/secret', readOnly: true },
                { name: 'scratch', mountPath: '/scratch' },
              ],
            },
          ],
        }),
      ),
    );
    const p = await waitPod('cfg', 'Running', ready);
    const id = cid(p);
    const env = (await exec(id, ['env'])).out;
    expect(env).toContain('GREETING=hello-config\n');
    expect(env).toContain('PASSWORD=s3cr3t\n');
    expect(env).toContain('MSG=hello-config from cfg\n');
    expect((await exec(id, ['cat', '/etc/secret/password'])).out).toBe('s3cr3t');
    expect((await exec(id, ['pwd'])).out.trim()).toBe('/tmp');
    const resolv = (await exec(id, ['cat', '/etc/resolv.conf'])).out;
    expect(resolv).toMatch(/^nameserver 10\.96\.0\.10$/m);
    expect(resolv).toMatch(/^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local$/m);
    expect(resolv).toMatch(/^options ndots:5$/m);
    expect((await exec(id, ['hostname'])).out.trim()).toBe('cfg');
    expect((await exec(id, ['sh', '-c', 'echo x > /scratch/f && cat /scratch/f'])).out).toBe('x\n');
    // The container's memory cgroup (v1 hierarchy) has the limit; CPU quota from the limit.
    const info = JSON.parse((await cri.containerStatus({ containerId: id, verbose: true })).info.info!);
    const cgroups = fs.readFileSync(`/proc/${info.pid}/cgroup`, 'utf8');
    const memPath = /^\d+:[^:]*\bmemory\b[^:]*:(.*)$/m.exec(cgroups)?.[1];
    const cpuPath = /^\d+:[^:]*\bcpu\b[^:]*:(.*)$/m.exec(cgroups)?.[1];
    expect(memPath).toContain(`pod${p.metadata.uid}`);
    const cgRoot = '/sys/fs/cgroup';
    const memDir = fs.readdirSync(cgRoot).find((d) => d.split(',').includes('memory'))!;
    const cpuDir = fs.readdirSync(cgRoot).find((d) => d.split(',').includes('cpu'))!;
    expect(fs.readFileSync(path.join(cgRoot, memDir, memPath!, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 * 1024 * 1024));
    expect(fs.readFileSync(path.join(cgRoot, cpuDir, cpuPath!, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('25000');
    expect(fs.readFileSync(path.join(cgRoot, cpuDir, cpuPath!, 'cpu.shares'), 'utf8').trim()).toBe('102');
  });

  it('a pod with a missing image reports ErrImagePull, then ImagePullBackOff', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('noimage', { containers: [{ name: 'c', image: 'docker.io/kubets/missing:1.0' }] })));
    const seen = new Set<string>();
    await waitPod('noimage', 'ErrImagePull then ImagePullBackOff', (x) => {
      const r = x.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      if (r) seen.add(r);
      return seen.has('ErrImagePull') && seen.has('ImagePullBackOff');
    }, 60_000).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nseen: ${[...seen].join(', ')}\nstatus: ${JSON.stringify((await getPod('noimage'))?.status)}`);
    });
    expect((await getPod('noimage')).status.phase).toBe('Pending');
    await kubectl(['delete', 'pod', 'noimage', '--wait=false']);
  });

  it('init containers run in order before the containers; exec and tcpSocket probes; restartPolicy Never and OnFailure', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify(
        pod('init', {
          volumes: [{ name: 'work', emptyDir: {} }],
          initContainers: [
            { name: 'first', image: HTTPD, command: ['sh', '-c', 'echo one > /work/order'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
            { name: 'second', image: HTTPD, command: ['sh', '-c', 'echo two >> /work/order; echo ok > /work/ready'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
          ],
          containers: [
            {
              name: 'main',
              image: HTTPD,
              volumeMounts: [{ name: 'work', mountPath: '/work' }],
              readinessProbe: { exec: { command: ['cat', '/work/ready'] }, periodSeconds: 1, failureThreshold: 1 },
              livenessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              startupProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        }),
      ),
    );
    const p = await waitPod('init', 'Ready', ready);
    expect(p.status.initContainerStatuses.map((s: any) => [s.name, s.state.terminated?.exitCode, s.state.terminated?.reason])).toEqual([
      ['first', 0, 'Completed'],
      ['second', 0, 'Completed'],
    ]);
    expect((await exec(cid(p), ['cat', '/work/order'])).out).toBe('one\ntwo\n');
    expect(p.status.containerStatuses[0]).toMatchObject({ started: true, ready: true });
    expect((await exec(cid(p), ['rm', '/work/ready'])).code).toBe(0);
    await waitPod('init', 'NotReady by the exec probe', (x) => x.status.containerStatuses[0].ready === false && running(x), 30_000);
    await kubectl(['delete', 'pod', 'init', '--wait=false']);

    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('never', { restartPolicy: 'Never', containers: [{ name: 'c', image: CRASHER }] })));
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('onfailure', { restartPolicy: 'OnFailure', containers: [{ name: 'c', image: HTTPD, command: ['sh', '-c', 'echo done'] }] })));
    const never = await waitPod('never', 'Failed', (x) => x.status?.phase === 'Failed');
    expect(never.status.containerStatuses[0]).toMatchObject({ restartCount: 0, ready: false, state: { terminated: { exitCode: 1, reason: 'Error' } } });
    const done = await waitPod('onfailure', 'Succeeded', (x) => x.status?.phase === 'Succeeded');
    expect(done.status.containerStatuses[0]).toMatchObject({ restartCount: 0, state: { terminated: { exitCode: 0, reason: 'Completed' } } });
    // A finished pod's sandbox is stopped (not restarted, not removed until the pod is deleted).
    await waitFor(async () => (await sandboxesOf(done.metadata.uid)).every((x) => x.state === 1), { timeoutMs: 30_000, description: 'the finished pod sandbox stopped' });
    expect(await sandboxesOf(never.metadata.uid)).toHaveLength(1);
    await kubectl(['delete', 'pod', 'never', 'onfailure', '--wait=false']);
  });

  it('a Deployment (scheduler and controller manager as processes): pods Running with IPs on the node, each answering HTTP', async () => {
    const common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`, '--bind-address=127.0.0.1', '--secure-port=0'];
    for (const [app, ready] of [['scheduler', /leading as .*scheduling/], ['controller-manager', /controllers running/]] as const) {
      const p = spawnProcess({ name: app, command: process.execPath, args: [builtApp(app), ...common] });
      procs.push(p);
      await p.waitForLog(ready, 90_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
      });
    }
    const deploy = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'hello', namespace: 'default' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'hello' } },
        template: { metadata: { labels: { app: 'hello' } }, spec: { terminationGracePeriodSeconds: 5, containers: [{ name: 'httpd', image: HTTPD, ports: [{ containerPort: 8080 }] }] } },
      },
    };
    const t0 = Date.now();
    await kubectl(['apply', '-f', '-'], JSON.stringify(deploy));
    expect(await kubectl(['rollout', 'status', 'deploy/hello', '--timeout=120s'])).toContain('successfully rolled out');
    process.stdout.write(`deployment hello (3 replicas): apply -> rolled out in ${Date.now() - t0} ms\n`);
    const pods = JSON.parse(await kubectl(['get', 'pods', '-l', 'app=hello', '-o', 'json'])).items as any[];
    expect(pods).toHaveLength(3);
    const wide = await kubectl(['get', 'pods', '-l', 'app=hello', '-o', 'wide']);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe(NODE);
      expect(p.status.phase).toBe('Running');
      expect(wide).toMatch(new RegExp(`^${p.metadata.name}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${p.status.podIP.replace(/\./g, '\\.')}\\s+${NODE}\\s`, 'm'));
      expect(await httpReady(p.status.podIP)).toEqual({ status: 200, body: `hello from ${p.metadata.name}\n` });
    }
    await kubectl(['delete', 'deploy', 'hello', '--wait=false']);
  });

  it("a failing readiness probe takes the pod out of its Service's endpoints; recovery puts it back (controller manager running)", async () => {
    const probe = (p: string) => ({ httpGet: { path: p, port: 8080 }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 1 });
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('ready-ep', { containers: [{ name: 'app', image: PROBE, readinessProbe: probe('/ready') }] }, { app: 'ready-ep' })));
    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ready-ep', namespace: 'default' }, spec: { selector: { app: 'ready-ep' }, ports: [{ port: 80, targetPort: 8080 }] } }));
    const p = await waitPod('ready-ep', 'Ready', ready);
    /** The Service's endpoint for the pod's IP: its ready condition, or undefined when it is not listed. */
    const endpointReady = async (): Promise<boolean | undefined> => {
      const r = await env.request('GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dready-ep');
      const eps = ((await r.json()).items as any[]).flatMap((sl) => sl.endpoints ?? []);
      const e = eps.find((x: any) => x.addresses?.includes(p.status.podIP));
      return e ? e.conditions?.ready === true : undefined;
    };
    const endpointIs = (want: boolean, what: string) =>
      waitFor(async () => (await endpointReady()) === want, { timeoutMs: 30_000, intervalMs: 200, description: what, context: () => kubelet.tail(20) });
    await endpointIs(true, 'the pod a ready endpoint of the Service');
    expect((await exec(cid(p), ['rm', '/www/ready'])).code).toBe(0);
    await endpointIs(false, 'the endpoint not ready after the readiness probe fails');
    expect((await getPod('ready-ep')).status.containerStatuses[0].restartCount).toBe(0);
    expect((await exec(cid(p), ['sh', '-c', 'echo ok > /www/ready'])).code).toBe(0);
    await endpointIs(true, 'the endpoint ready again after the probe recovers');
    await kubectl(['delete', 'svc', 'ready-ep']);
    await kubectl(['delete', 'pod', 'ready-ep', '--wait=false']);
  });

  it('a changed image restarts the container; a dead sandbox is replaced and restartCount keeps counting', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('swap', { containers: [{ name: 'c', image: HTTPD }] })));
    let p = await waitPod('swap', 'Running', ready);
    const first = cid(p);
    await kubectl(['set', 'image', 'pod/swap', `c=${PROBE}`]);
    p = await waitPod('swap', 'restarted with the new image', (x) => ready(x) && x.status.containerStatuses[0].restartCount === 1);
    expect(cid(p)).not.toBe(first);
    expect(p.status.containerStatuses[0].image).toBe(PROBE);
    expect((await exec(cid(p), ['cat', '/www/healthz'])).out).toBe('ok\n');
    expect((await events('swap')).some((e) => e.reason === 'Killing' && /definition changed/.test(e.message))).toBe(true);
    // Kill the sandbox's pause process: the kubelet makes a new sandbox (new IP possible) and restarts the container in it.
    const [sandbox] = await sandboxesOf(p.metadata.uid);
    const pid = JSON.parse((await cri.podSandboxStatus({ podSandboxId: sandbox!.id, verbose: true })).info.info!).pid as number;
    process.kill(pid, 'SIGKILL');
    p = await waitPod('swap', 'running in a new sandbox', (x) => ready(x) && x.status.containerStatuses[0].restartCount === 2, 60_000);
    const now = await sandboxesOf(p.metadata.uid);
    expect(now.map((x) => x.id)).not.toContain(sandbox!.id);
    expect(now).toHaveLength(1);
    expect((await httpReady(p.status.podIP)).status).toBe(200);
    expect((await events('swap')).map((e) => e.reason)).toContain('SandboxChanged');
    await kubectl(['delete', 'pod', 'swap', '--wait=false']);
  });

  it('kubectl delete pod stops the container within its grace period; a container ignoring SIGTERM is killed after it', async () => {
    // busybox-httpd exits on SIGTERM at once.
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('quick', { terminationGracePeriodSeconds: 20, containers: [{ name: 'c', image: HTTPD }] })));
    let p = await waitPod('quick', 'Running', ready);
    let uid = p.metadata.uid;
    let t0 = Date.now();
    await kubectl(['delete', 'pod', 'quick', '--timeout=60s']);
    const quickMs = Date.now() - t0;
    process.stdout.write(`quick: kubectl delete took ${quickMs} ms (grace 20 s)\n`);
    expect(quickMs).toBeLessThan(15_000);
    expect(await sandboxesOf(uid)).toEqual([]);
    expect((await events('quick')).some((e) => e.reason === 'Killing' && e.message === 'Stopping container c')).toBe(true);
    // sh as pid 1 with TERM ignored: only SIGKILL after the grace period ends it.
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('stubborn', { terminationGracePeriodSeconds: 3, containers: [{ name: 'c', image: HTTPD, command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"] }] })));
    p = await waitPod('stubborn', 'Running', ready);
    uid = p.metadata.uid;
    t0 = Date.now();
    await kubectl(['delete', 'pod', 'stubborn', '--timeout=60s']);
    const slowMs = Date.now() - t0;
    process.stdout.write(`stubborn: kubectl delete took ${slowMs} ms (grace 3 s)\n`);
    expect(slowMs).toBeGreaterThanOrEqual(2_900);
    expect(slowMs).toBeLessThan(20_000);
    expect(await sandboxesOf(uid)).toEqual([]);
  });

  it('a kubelet restart re-adopts running containers without restarting them; pods deleted while it was down are cleaned up', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('doomed', { containers: [{ name: 'c', image: HTTPD }] })));
    await kubectl(['apply', '-f', '-'], JSON.stringify(pod('forced', { containers: [{ name: 'c', image: HTTPD }] })));
    const doomed = await waitPod('doomed', 'Running', ready);
    const forced = await waitPod('forced', 'Running', ready);
    const before = await getPod('web');
    const cfgBefore = await getPod('cfg');
    // SIGKILL: no chance to clean anything up.
    await kubelet.kill();
    // While it is down: a graceful delete (left terminating) and a forced one (gone from the API at once).
    await kubectl(['delete', 'pod', 'doomed', '--wait=false']);
    await kubectl(['delete', 'pod', 'forced', '--grace-period=0', '--force']);
    expect(await sandboxesOf(forced.metadata.uid)).toHaveLength(1);
    kubelet = await startKubelet();
    procs.push(kubelet);
    await waitFor(async () => (await sandboxesOf(doomed.metadata.uid)).length === 0 && (await getPod('doomed')) === undefined, { timeoutMs: 60_000, description: 'the terminating pod finished and removed', context: () => kubelet.tail(20) });
    await waitFor(async () => (await sandboxesOf(forced.metadata.uid)).length === 0, { timeoutMs: 60_000, description: 'the sandbox of the force-deleted pod removed', context: () => kubelet.tail(20) });
    // The running pods were adopted as they were.
    const after = await getPod('web');
    expect(cid(after)).toBe(cid(before));
    expect(after.status.containerStatuses[0].restartCount).toBe(before.status.containerStatuses[0].restartCount);
    expect(cid(await getPod('cfg'))).toBe(cid(cfgBefore));
    const st = await cri.containerStatus({ containerId: cid(after) });
    expect(st.status!.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect((await httpReady(after.status.podIP)).status).toBe(200);
    // And it keeps managing them: a kill is still restarted.
    await exec(cid(after), ['kill', '1']);
    await waitPod('web', 'restarted after the kubelet restart', (x) => ready(x) && x.status.containerStatuses[0].restartCount === before.status.containerStatuses[0].restartCount + 1);
  });

  it('a kubelet whose runtime is not reachable registers its node NotReady with the reason', async () => {
    const dead = spawnProcess({
      name: 'cri-kubelet-no-runtime',
      command: process.execPath,
      args: [
        builtApp('kubelet'),
        `--kubeconfig=${env.kubeconfig}`,
        `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`,
        `--nats-url=${env.nats!.url}`,
        `--healthz-bind-address=127.0.0.1:${await freePort()}`,
        `--container-runtime-endpoint=unix://${path.join(rootDir, 'no-such.sock')}`,
        '--hostname-override=no-runtime',
        `--root-dir=${path.join(rootDir, 'no-runtime')}`,
      ],
    });
    procs.push(dead);
    await dead.waitForLog(/running pods on/, 90_000);
    const node = JSON.parse(await kubectl(['get', 'node', 'no-runtime', '-o', 'json']));
    const readyCond = node.status.conditions.find((c: any) => c.type === 'Ready');
    expect(readyCond).toMatchObject({ status: 'False', reason: 'KubeletNotReady' });
    expect(readyCond.message).toMatch(/container runtime is down/);
    await dead.stop();
  });
});

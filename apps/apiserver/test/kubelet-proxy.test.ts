// pods/log, pods/exec and pods/attach through the API server to a kubelet server: a real
// kubets-apiserver (ControlPlane, PKI from `kubets init`, started with
// kubeadm's apiserver-kubelet-client certificate), a real containerd
// (testkit Containerd) and the kubelet's HTTPS server in process, registered as
// a Node whose InternalIP and kubelet port point at it; stock kubectl.
// Needs root and the packages infra/setup installs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { CriClient, NamespaceMode, type DeepPartial, type PodSandboxConfig } from '@kubets/cri-client';
import { createCertificate } from '@kubets/pki';
import { ControlPlane, Containerd, freePort, ManagedProcess, testImageRef, waitFor } from '@kubets/testkit';
import pino from 'pino';
// The kubelet app exports no package entry: its server is used from source.
import { KubeletServer, type ResolvedContainer } from '../../kubelet/src/server';

describe('pods/log, pods/exec and pods/attach through the API server to the kubelet', () => {
  let cp: ControlPlane;
  let containerd: Containerd;
  let cri: CriClient;
  let kubelet: KubeletServer;
  const containers = new Map<string, ResolvedContainer>();
  const uid = 'c0ffee00-0000-4000-8000-00000000b001';
  let sandboxId = '';
  let logDirectory = '';
  let sandboxConfig: DeepPartial<PodSandboxConfig>;
  const SAY_LOOP = 'while true; do if [ -f /tmp/say ]; then cat /tmp/say; rm -f /tmp/say; fi; sleep 0.1; done';
  const say = (containerId: string, text: string) =>
    cri.execSync({ containerId, cmd: ['sh', '-c', `echo ${text} > /tmp/say.new && mv /tmp/say.new /tmp/say`], timeout: 10n });

  async function runContainer(name: string, attempt: number, script: string): Promise<string> {
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: { metadata: { name, attempt }, image: { image: testImageRef('busybox-httpd') }, command: ['sh', '-c', script], logPath: `${name}/${attempt}.log` },
    });
    await cri.startContainer({ containerId });
    return containerId;
  }

  async function api(method: string, urlPath: string, body?: unknown, contentType = 'application/json') {
    const r = await cp.request(method, urlPath, { body: body === undefined ? undefined : JSON.stringify(body), headers: body === undefined ? {} : { 'Content-Type': contentType } });
    if (r.status >= 300) throw new Error(`${method} ${urlPath}: ${r.status} ${r.body}`);
    return r.json();
  }

  beforeAll(async () => {
    cp = await ControlPlane.start();
    const pki = path.join(cp.dir, 'pki');
    // kube-apiserver's kubelet client flags, with the certificate `kubets init` wrote.
    const first = cp.apiservers[0]!;
    await first.proc.stop();
    cp.options.extraArgs = [
      `--kubelet-client-certificate=${path.join(pki, 'apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${path.join(pki, 'apiserver-kubelet-client.key')}`,
      `--kubelet-certificate-authority=${path.join(pki, 'ca.crt')}`,
      '--kubelet-preferred-address-types=InternalIP',
    ];
    await cp.startApiServer(first.port, 0);
    await cp.waitHealthy();

    containerd = await Containerd.start({ images: ['busybox-httpd'] });
    cri = new CriClient(containerd.endpoint, { timeoutMs: 60_000 });
    logDirectory = path.join(containerd.podLogDir, `default_web-0_${uid}`);
    fs.mkdirSync(logDirectory, { recursive: true });
    sandboxConfig = {
      metadata: { name: 'web-0', namespace: 'default', uid, attempt: 0 },
      // The kubelet finds a pod's sandbox by these (port forwarding), as for the sandboxes it makes.
      labels: { 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
      hostname: 'web-0',
      logDirectory,
      linux: { cgroupParent: containerd.cgroupParent, securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
    };
    sandboxId = (await cri.runPodSandbox({ config: sandboxConfig })).podSandboxId;
    const appId = await runContainer('app', 0, `echo first; echo second; ${SAY_LOOP}`);
    containers.set('default/web-0/app', { containerId: appId, logPath: path.join(logDirectory, 'app/0.log') });

    // The kubelet's serving certificate from the cluster CA, for 127.0.0.1.
    const ca = { cert: fs.readFileSync(path.join(pki, 'ca.crt'), 'utf8'), key: fs.readFileSync(path.join(pki, 'ca.key'), 'utf8') };
    const serving = createCertificate({ subject: { commonName: 'kp-node' }, issuer: ca, extKeyUsage: ['serverAuth'], ipAddresses: ['127.0.0.1'], dnsNames: ['kp-node'] });
    kubelet = new KubeletServer({
      cri,
      resolve: async (ns, pod, container) => containers.get(`${ns}/${pod}/${container}`),
      tls: { cert: serving.certPem, key: serving.keyPem, clientCa: ca.cert },
      address: '127.0.0.1:0',
      followPollMs: 200,
      log: pino({ level: 'warn' }, pino.destination(2)),
    });
    const port = await kubelet.listen();

    await api('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'kp-node' } });
    await api('PATCH', '/api/v1/nodes/kp-node/status', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: 'kp-node' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } } }, 'application/merge-patch+json');
    await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-0' },
      spec: { nodeName: 'kp-node', containers: [{ name: 'app', image: 'kubets/busybox-httpd:1.0' }] },
    });
    await api('PATCH', '/api/v1/namespaces/default/pods/web-0/status', {
      status: { phase: 'Running', hostIP: '127.0.0.1', containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'kubets/busybox-httpd:1.0', imageID: '', containerID: `containerd://${appId}`, started: true, state: { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } } }] },
    }, 'application/merge-patch+json');
    await api('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'unscheduled' }, spec: { containers: [{ name: 'app', image: 'kubets/busybox-httpd:1.0' }] } });
    await waitFor(() => /second\n/.test(fs.readFileSync(path.join(logDirectory, 'app/0.log'), 'utf8')), { timeoutMs: 30_000, description: 'the container logged its first lines' });
  }, 300_000);

  afterAll(async () => {
    await kubelet?.close();
    cri?.close();
    await containerd?.dispose();
    await cp?.dispose();
  }, 120_000);

  it('kubectl logs reads the container log through the kubelet', async () => {
    const r = await cp.kubectl(['logs', 'web-0']);
    expect(r).toMatchObject({ code: 0, stdout: 'first\nsecond\n' });
    const tail = await cp.kubectl(['logs', 'web-0', '-c', 'app', '--tail=1', '--timestamps']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z second\n$/);
  });

  it('kubectl logs -f gets a line the container writes later', async () => {
    const f = cp.kubectlStream(['logs', '-f', 'web-0']);
    try {
      await waitFor(() => f.lines.includes('second'), { timeoutMs: 30_000, description: 'kubectl logs -f printed the existing lines', context: () => f.proc.tail() });
      expect((await say(containers.get('default/web-0/app')!.containerId, 'followed-line')).exitCode).toBe(0);
      await waitFor(() => f.lines.includes('followed-line'), { timeoutMs: 30_000, description: 'kubectl logs -f printed the new line', context: () => f.proc.tail() });
      expect(f.proc.running).toBe(true);
    } finally {
      f.stop();
    }
    await f.proc.exited();
  });

  it('kubectl exec propagates output and exit code (WebSocket v5.channel.k8s.io)', async () => {
    const r = await cp.kubectl(['exec', 'web-0', '-v=7', '--', 'sh', '-c', 'echo hi; exit 3'], { timeoutMs: 60_000 });
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(3);
    // kubectl (-v=7) offered only v5.channel.k8s.io over WebSocket and got it: no SPDY fallback.
    expect(r.stderr).toMatch(/Sec-Websocket-Protocol: v5\.channel\.k8s\.io/);
    expect(r.stderr).toMatch(/Response Status: 101 Switching Protocols/);
    expect(r.stderr).toMatch(/The subprotocol is v5\.channel\.k8s\.io/);
    expect(r.stderr).not.toMatch(/[Ff]allback|SPDY/);
    const ok = await cp.kubectl(['exec', 'web-0', '-c', 'app', '--', 'hostname'], { timeoutMs: 60_000 });
    expect(ok).toMatchObject({ code: 0, stdout: 'web-0\n' });
    const stdin = await cp.kubectl(['exec', '-i', 'web-0', '--', 'head', '-n1'], { input: 'from-stdin\nmore\n', timeoutMs: 60_000 });
    expect(stdin).toMatchObject({ code: 0, stdout: 'from-stdin\n' });
  });

  it("kubectl attach -i joins a running container's own stdin and stdout", async () => {
    // A container started with its stdin open (spec.containers[].stdin): a shell reading commands from it.
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: { metadata: { name: 'shell', attempt: 0 }, image: { image: testImageRef('busybox-httpd') }, command: ['sh'], stdin: true, stdinOnce: true, logPath: 'shell/0.log' },
    });
    await cri.startContainer({ containerId });
    containers.set('default/shell-0/shell', { containerId, logPath: path.join(logDirectory, 'shell/0.log') });
    await api('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'shell-0' },
      spec: { nodeName: 'kp-node', containers: [{ name: 'shell', image: 'kubets/busybox-httpd:1.0', command: ['sh'], stdin: true, stdinOnce: true }] },
    });
    await api('PATCH', '/api/v1/namespaces/default/pods/shell-0/status', {
      status: { phase: 'Running', hostIP: '127.0.0.1', containerStatuses: [{ name: 'shell', ready: true, restartCount: 0, image: 'kubets/busybox-httpd:1.0', imageID: '', containerID: `containerd://${containerId}`, started: true, state: { running: { startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } } }] },
    }, 'application/merge-patch+json');
    const r = await cp.kubectl(['attach', '-i', 'shell-0', '-c', 'shell'], { input: 'echo attached-$((6*7)); exit 0\n', timeoutMs: 60_000 });
    expect(r).toMatchObject({ code: 0, stdout: 'attached-42\n' });
    // Nothing to attach to: a Status from the API server, not a hang.
    const missing = await cp.kubectl(['attach', '-i', 'shell-0', '-c', 'nope'], { input: '', timeoutMs: 60_000 });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/container nope is not valid for pod shell-0|not found|not valid/);
  });

  it('kubectl port-forward reaches a port inside the pod (kubectl 1.32, falling back from WebSocket to SPDY, and 1.29)', async () => {
    // An HTTP server in web-0's network namespace (the image's own command: "hello from <hostname>" on 8080).
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: { metadata: { name: 'httpd', attempt: 0 }, image: { image: testImageRef('busybox-httpd') }, logPath: 'httpd/0.log' },
    });
    await cri.startContainer({ containerId });
    const get = (port: number) =>
      new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        }).on('error', reject);
      });
    for (const [name, binary] of [['kubectl', 'kubectl'], ['kubectl-1.29', '/usr/lib/google-cloud-sdk/bin/kubectl.1.29']] as const) {
      const pf = new ManagedProcess({ name: `port-forward-${name}`, command: binary, args: ['--kubeconfig', cp.kubeconfig, 'port-forward', 'pod/web-0', ':8080'], env: { ...process.env, HOME: cp.home } }).start();
      try {
        const line = await pf.waitForLog(/Forwarding from 127\.0\.0\.1:\d+ -> 8080/, 30_000);
        const port = Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
        // Twice: each connection is its own pair of streams.
        await waitFor(async () => (await get(port).catch(() => '')) === '200 hello from web-0\n', { timeoutMs: 20_000, description: `${name} port-forward answers` });
        expect(await get(port)).toBe('200 hello from web-0\n');
      } finally {
        await pf.kill();
      }
    }
  });

  it('kubectl 1.29 (SPDY/3.1, no WebSocket executor) execs too, with the exit code', async () => {
    const kubectl129 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.29';
    expect(fs.existsSync(kubectl129)).toBe(true);
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(kubectl129, ['--kubeconfig', cp.kubeconfig, 'exec', 'web-0', '-v=7', '--', 'sh', '-c', 'echo hi; exit 3'], { env: { ...process.env, HOME: cp.home }, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
    expect(r.stdout).toBe('hi\n');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/X-Stream-Protocol-Version: v4\.channel\.k8s\.io/);
    expect(r.stderr).toMatch(/Response Status: 101 Switching Protocols/);
  });

  it('kubectl logs --previous reads the instance before a restart', async () => {
    const old = containers.get('default/web-0/app')!;
    expect((await say(old.containerId, 'last-words')).exitCode).toBe(0);
    await waitFor(() => fs.readFileSync(old.logPath, 'utf8').includes('last-words'), { timeoutMs: 15_000, description: 'last words logged' });
    await cri.stopContainer({ containerId: old.containerId, timeout: 0n });
    const fresh = await runContainer('app', 1, `echo reborn; ${SAY_LOOP}`);
    containers.set('default/web-0/app', { containerId: fresh, logPath: path.join(logDirectory, 'app/1.log'), previousLogPath: old.logPath });
    await waitFor(async () => (await cp.kubectl(['logs', 'web-0'])).stdout === 'reborn\n', { timeoutMs: 30_000, description: 'the new instance logged' });
    const prev = await cp.kubectl(['logs', 'web-0', '--previous']);
    expect(prev).toMatchObject({ code: 0, stdout: 'first\nsecond\nfollowed-line\nlast-words\n' });
  });

  it('answers errors as Kubernetes Status', async () => {
    const missing = await cp.kubectl(['logs', 'nope']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('pods "nope" not found');
    const badContainer = await cp.request('GET', '/api/v1/namespaces/default/pods/web-0/log?container=nope');
    expect(badContainer.status).toBe(400);
    expect(badContainer.json()).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: 'container nope is not valid for pod web-0' });
    const viaKubectl = await cp.kubectl(['logs', 'web-0', '-c', 'nope']);
    expect(viaKubectl.stderr).toContain('container nope is not valid for pod web-0');
    const unscheduled = await cp.request('GET', '/api/v1/namespaces/default/pods/unscheduled/log');
    expect(unscheduled.status).toBe(400);
    expect(unscheduled.json().message).toBe('pod unscheduled does not have a host assigned');
    const notFound = await cp.request('GET', '/api/v1/namespaces/default/pods/nope/log');
    expect(notFound.status).toBe(404);
    expect(notFound.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', details: { name: 'nope', kind: 'pods' } });
    const noUpgrade = await cp.request('POST', '/api/v1/namespaces/default/pods/web-0/exec?command=true&stdout=true');
    expect(noUpgrade.status).toBe(400);
    expect(noUpgrade.json().message).toBe('Upgrade request required');
    const execBad = await cp.kubectl(['exec', 'web-0', '-c', 'nope', '--', 'true']);
    expect(execBad.code).not.toBe(0);
    expect(execBad.stderr).toContain('container nope is not valid for pod web-0');
    const anonymous = await cp.request('GET', '/api/v1/namespaces/default/pods/web-0/log', { token: null });
    expect(anonymous.status).toBe(401);
    const anonymousExec = await cp.request('GET', '/api/v1/namespaces/default/pods/web-0/exec?command=true&stdout=true', { token: null, headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'v5.channel.k8s.io' } });
    expect(anonymousExec.status).toBe(401);
  });

  it("answers a Status when the node's kubelet does not answer", async () => {
    const closedPort = await freePort(); // nothing listens there (loopback only)
    await api('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'dead-node' } });
    await api('PATCH', '/api/v1/nodes/dead-node/status', { status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: closedPort } } } }, 'application/merge-patch+json');
    await api('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'on-dead-node' }, spec: { nodeName: 'dead-node', containers: [{ name: 'app', image: 'kubets/busybox-httpd:1.0' }] } });
    const logs = await cp.request('GET', '/api/v1/namespaces/default/pods/on-dead-node/log');
    expect(logs.status).toBe(500);
    expect(logs.json()).toMatchObject({ kind: 'Status', reason: 'InternalError' });
    expect(logs.json().message).toContain('ECONNREFUSED');
    const exec = await cp.kubectl(['exec', 'on-dead-node', '--', 'true'], { timeoutMs: 60_000 });
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toContain('ECONNREFUSED');
  });
});

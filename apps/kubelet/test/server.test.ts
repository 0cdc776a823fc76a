// The kubelet's HTTPS server against a real containerd (testkit Containerd):
// container logs from CRI log files and exec through CRI's streaming server,
// with x509 client authentication. Needs root and the packages infra/setup installs.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { ContainerState, CriClient, NamespaceMode, type DeepPartial, type PodSandboxConfig } from '@kubets/cri-client';
import { createCA, createCertificate, type CertificateAndKey } from '@kubets/pki';
import { Containerd, testImageRef, waitFor } from '@kubets/testkit';
import { execOverWebSocket, KubeletServer, type ResolvedContainer } from '../src/server';

interface Client {
  cert?: string;
  key?: string;
}

function get(port: number, urlPath: string, ca: string, client: Client, timeoutMs = 15_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, cert: client.cert, key: client.key, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath} timed out`)));
    req.on('error', reject);
  });
}

/** A streaming GET: collects the body as it arrives until stop() or the end. */
function stream(port: number, urlPath: string, ca: string, client: Client): { text: () => string; ended: () => boolean; status: () => number; stop: () => void } {
  let text = '';
  let ended = false;
  let status = 0;
  const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, cert: client.cert, key: client.key }, (res) => {
    status = res.statusCode ?? 0;
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => (ended = true));
    res.on('error', () => (ended = true));
  });
  req.on('error', () => (ended = true));
  return { text: () => text, ended: () => ended, status: () => status, stop: () => req.destroy() };
}

describe('KubeletServer (real containerd)', () => {
  let containerd: Containerd;
  let cri: CriClient;
  let server: KubeletServer;
  let port = 0;
  let ca: CertificateAndKey;
  let apiserverClient: CertificateAndKey;
  let nodeClient: CertificateAndKey;
  let strangerClient: CertificateAndKey;
  const admin = (): Client => ({ cert: apiserverClient.certPem, key: apiserverClient.keyPem });
  const containers = new Map<string, ResolvedContainer>();

  const uid = 'c0ffee00-0000-4000-8000-00000000a001';
  let logDirectory: string;
  let sandboxConfig: DeepPartial<PodSandboxConfig>;
  let sandboxId = '';
  // The container prints what a test puts into /tmp/say (through an exec), so a line appears in its log later.
  const SAY_LOOP = 'while true; do if [ -f /tmp/say ]; then cat /tmp/say; rm -f /tmp/say; fi; sleep 0.1; done';
  const say = (containerId: string, text: string) =>
    cri.execSync({ containerId, cmd: ['sh', '-c', `echo ${text} > /tmp/say.new && mv /tmp/say.new /tmp/say`], timeout: 10n });
  const LONG = 20_000; // longer than containerd's 16 KiB line buffer: written as partial (P) records

  async function runContainer(name: string, attempt: number, script: string): Promise<string> {
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: {
        metadata: { name, attempt },
        image: { image: testImageRef('busybox-httpd') },
        command: ['sh', '-c', script],
        logPath: `${name}/${attempt}.log`,
      },
    });
    await cri.startContainer({ containerId });
    return containerId;
  }

  async function lines(p: string): Promise<string[]> {
    const r = await get(port, p, ca.certPem, admin());
    expect(r.status).toBe(200);
    return r.body.split('\n').filter(Boolean);
  }

  beforeAll(async () => {
    containerd = await Containerd.start({ images: ['busybox-httpd'] });
    cri = new CriClient(containerd.endpoint, { timeoutMs: 60_000 });
    ca = createCA('kubernetes');
    const serving = createCertificate({ subject: { commonName: 'test-node' }, issuer: { cert: ca.certPem, key: ca.keyPem }, extKeyUsage: ['serverAuth'], ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
    apiserverClient = createCertificate({ subject: { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] }, issuer: { cert: ca.certPem, key: ca.keyPem }, extKeyUsage: ['clientAuth'] });
    nodeClient = createCertificate({ subject: { commonName: 'system:node:other', organizations: ['system:nodes'] }, issuer: { cert: ca.certPem, key: ca.keyPem }, extKeyUsage: ['clientAuth'] });
    const otherCa = createCA('someone-else');
    strangerClient = createCertificate({ subject: { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] }, issuer: { cert: otherCa.certPem, key: otherCa.keyPem }, extKeyUsage: ['clientAuth'] });

    logDirectory = path.join(containerd.podLogDir, `default_logs-0_${uid}`);
    fs.mkdirSync(logDirectory, { recursive: true });
    sandboxConfig = {
      metadata: { name: 'logs-0', namespace: 'default', uid, attempt: 0 },
      hostname: 'logs-0',
      logDirectory,
      linux: { cgroupParent: containerd.cgroupParent, securityContext: { namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD } } },
    };
    sandboxId = (await cri.runPodSandbox({ config: sandboxConfig })).podSandboxId;
    const script = `echo one; echo two; echo three; head -c ${LONG} /dev/zero | tr '\\0' a; echo; ${SAY_LOOP}`;
    const appId = await runContainer('app', 0, script);
    containers.set('default/logs-0/app', { containerId: appId, logPath: path.join(logDirectory, 'app/0.log') });

    server = new KubeletServer({
      cri,
      resolve: async (ns, pod, container) => containers.get(`${ns}/${pod}/${container ?? 'app'}`),
      tls: { cert: serving.certPem, key: serving.keyPem, clientCa: ca.certPem },
      address: '127.0.0.1:0',
      followPollMs: 200,
    });
    port = await server.listen();
    // The container has written its first lines (the long one last).
    await waitFor(() => fs.existsSync(path.join(logDirectory, 'app/0.log')) && / stdout F a+\n/.test(fs.readFileSync(path.join(logDirectory, 'app/0.log'), 'utf8')), {
      timeoutMs: 30_000,
      description: 'the app container logged its first lines',
    });
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    cri?.close();
    await containerd?.dispose();
  }, 120_000);

  it('serves a container log with partial records joined into lines', async () => {
    const all = await lines('/containerLogs/default/logs-0/app');
    expect(all.slice(0, 3)).toEqual(['one', 'two', 'three']);
    expect(all[3] === 'a'.repeat(LONG)).toBe(true);
    expect(all).toHaveLength(4);
    // The file itself holds the long line as partial records.
    expect(fs.readFileSync(path.join(logDirectory, 'app/0.log'), 'utf8')).toMatch(/ stdout P a+\n/);
  });

  it('honours tailLines, timestamps, limitBytes and sinceSeconds', async () => {
    const two = await lines('/containerLogs/default/logs-0/app?tailLines=2');
    expect(two.map((l) => (l.length > 100 ? `${l[0]} x ${l.length}` : l))).toEqual(['three', `a x ${LONG}`]);
    expect(await lines('/containerLogs/default/logs-0/app?tailLines=0')).toEqual([]);
    const stamped = await lines('/containerLogs/default/logs-0/app?timestamps=true&tailLines=4');
    expect(stamped).toHaveLength(4);
    expect(stamped.find((l) => l.endsWith(' one'))).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}(Z|[+-]\d{2}:\d{2}) one$/);
    expect(stamped.find((l) => l.endsWith(' two'))).toMatch(/^\S+ two$/);
    const limited = await get(port, '/containerLogs/default/logs-0/app?tailLines=1&limitBytes=6', ca.certPem, admin());
    expect(limited.body).toBe('aaaaaa');
    expect(await lines('/containerLogs/default/logs-0/app?sinceSeconds=3600')).toHaveLength(4);
  });

  it('follows a log: a line the container writes later arrives while the stream stays open', async () => {
    const f = stream(port, '/containerLogs/default/logs-0/app?follow=true&tailLines=1', ca.certPem, admin());
    await waitFor(() => f.text() === `${'a'.repeat(LONG)}\n`, { timeoutMs: 15_000, description: 'the tail line' });
    const { containerId } = containers.get('default/logs-0/app')!;
    const r = await say(containerId, 'written-later');
    expect(r.exitCode).toBe(0);
    await waitFor(() => f.text().endsWith('written-later\n'), { timeoutMs: 15_000, description: 'the new line through the follow', context: () => f.text().slice(-200) });
    expect(f.ended()).toBe(false);
    f.stop();
  });

  it('ends a follow when its container exits', async () => {
    const id = await runContainer('short', 0, 'echo started; echo to-stderr >&2; exec sleep 100000');
    containers.set('default/logs-0/short', { containerId: id, logPath: path.join(logDirectory, 'short/0.log') });
    // stdout and stderr are separate pipes: their relative order in the log is the runtime's.
    const both = (text: string) => text.split('\n').filter(Boolean).sort().join() === 'started,to-stderr';
    await waitFor(async () => both((await get(port, '/containerLogs/default/logs-0/short', ca.certPem, admin())).body), { timeoutMs: 15_000, description: 'short logged on stdout and stderr' });
    const f = stream(port, '/containerLogs/default/logs-0/short?follow=true', ca.certPem, admin());
    await waitFor(() => both(f.text()), { timeoutMs: 15_000, description: 'follow started' });
    await cri.stopContainer({ containerId: id, timeout: 0n });
    await waitFor(() => f.ended(), { timeoutMs: 15_000, description: 'the follow ended after the container stopped' });
    expect(f.status()).toBe(200);
  });

  it('serves the previous instance after a restart (previous=true)', async () => {
    const old = containers.get('default/logs-0/app')!;
    const r = await say(old.containerId, 'last-words');
    expect(r.exitCode).toBe(0);
    await waitFor(() => fs.readFileSync(old.logPath, 'utf8').includes('last-words'), { timeoutMs: 10_000, description: 'last words logged' });
    await cri.stopContainer({ containerId: old.containerId, timeout: 0n });
    expect((await cri.containerStatus({ containerId: old.containerId })).status?.state).toBe(ContainerState.CONTAINER_EXITED);
    const fresh = await runContainer('app', 1, 'echo second-life; exec sleep 100000');
    containers.set('default/logs-0/app', { containerId: fresh, logPath: path.join(logDirectory, 'app/1.log'), previousLogPath: old.logPath });
    await waitFor(async () => (await lines('/containerLogs/default/logs-0/app')).join() === 'second-life', { timeoutMs: 15_000, description: 'the new instance logged' });
    const prev = await lines('/containerLogs/default/logs-0/app?previous=true&tailLines=2');
    expect(prev).toEqual(['written-later', 'last-words']);
  });

  it('execs through CRI streaming over WebSocket v5.channel.k8s.io and reports the exit code', async () => {
    const url = `https://127.0.0.1:${port}/exec/default/logs-0/app?command=sh&command=-c&command=${encodeURIComponent('echo hi; echo oops >&2; exit 3')}&stdout=true&stderr=true`;
    const r = await execOverWebSocket({ url, ca: ca.certPem, cert: apiserverClient.certPem, key: apiserverClient.keyPem, timeoutMs: 30_000 });
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toBe('oops\n');
    expect(r.exitCode).toBe(3);
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });

    const ok = await execOverWebSocket({ url: `https://127.0.0.1:${port}/exec/default/logs-0/app?command=hostname&stdout=true`, ca: ca.certPem, cert: apiserverClient.certPem, key: apiserverClient.keyPem });
    expect(ok).toMatchObject({ stdout: 'logs-0\n', exitCode: 0, status: { status: 'Success' } });

    // stdin reaches the process (head exits after one line; v4 upstream cannot pass stdin EOF on).
    const withStdin = await execOverWebSocket({
      url: `https://127.0.0.1:${port}/exec/default/logs-0/app?command=head&command=-n1&stdin=true&stdout=true`,
      ca: ca.certPem,
      cert: apiserverClient.certPem,
      key: apiserverClient.keyPem,
      stdin: 'from-stdin\nsecond\n',
    });
    expect(withStdin).toMatchObject({ stdout: 'from-stdin\n', exitCode: 0 });
  });

  it("attaches to a container's own stdin, stdout and stderr through CRI streaming (kubectl attach, kubectl run -i)", async () => {
    // A shell reading its commands from the stdin it was started with.
    const { containerId } = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: { metadata: { name: 'shell', attempt: 0 }, image: { image: testImageRef('busybox-httpd') }, command: ['sh'], stdin: true, stdinOnce: true, logPath: 'shell/0.log' },
    });
    await cri.startContainer({ containerId });
    containers.set('default/logs-0/shell', { containerId, logPath: path.join(logDirectory, 'shell/0.log') });
    const tls = { ca: ca.certPem, cert: apiserverClient.certPem, key: apiserverClient.keyPem };
    const none = await execOverWebSocket({ url: `https://127.0.0.1:${port}/attach/default/logs-0/shell`, ...tls }).catch((e: unknown) => e as { statusCode?: number; body?: string });
    expect(none).toMatchObject({ statusCode: 400 });
    expect(String((none as { body?: string }).body)).toContain('you must specify at least 1 of stdin, stdout, stderr');
    const r = await execOverWebSocket({
      url: `https://127.0.0.1:${port}/attach/default/logs-0/shell?stdin=true&stdout=true&stderr=true`,
      ...tls,
      stdin: 'echo attached-$((6*7)); echo to-stderr >&2; exit 0\n',
      timeoutMs: 30_000,
    });
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.stdout).toBe('attached-42\n');
    expect(r.stderr).toBe('to-stderr\n');
  });

  it('refuses exec without an upgrade, and unknown containers', async () => {
    const plain = await get(port, '/exec/default/logs-0/app?command=true&stdout=true', ca.certPem, admin());
    expect(plain.status).toBe(400);
    expect(JSON.parse(plain.body)).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: 'Upgrade request required' });
    const missing = await execOverWebSocket({ url: `https://127.0.0.1:${port}/exec/default/logs-0/nope?command=true&stdout=true`, ca: ca.certPem, cert: apiserverClient.certPem, key: apiserverClient.keyPem }).catch((e: unknown) => e as Error & { statusCode?: number; body?: string });
    expect(missing).toBeInstanceOf(Error);
    expect((missing as { statusCode?: number }).statusCode).toBe(404);
    containers.set('default/logs-0/ghost', { containerId: 'gone', logPath: path.join(logDirectory, 'ghost/0.log') });
    const ghost = await get(port, '/containerLogs/default/logs-0/ghost?follow=true', ca.certPem, admin());
    expect(ghost.status).toBe(404);
    expect(JSON.parse(ghost.body)).toMatchObject({ kind: 'Status', code: 404 });
    const logs = await get(port, '/containerLogs/default/logs-0/nope', ca.certPem, admin());
    expect(logs.status).toBe(404);
    expect(JSON.parse(logs.body)).toMatchObject({ kind: 'Status', code: 404, reason: 'NotFound' });
  });

  it('answers 401 without a client certificate from the cluster CA and 403 to users it does not authorize', async () => {
    const none = await get(port, '/containerLogs/default/logs-0/app', ca.certPem, {});
    expect(none.status).toBe(401);
    expect(JSON.parse(none.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
    const stranger = await get(port, '/containerLogs/default/logs-0/app', ca.certPem, { cert: strangerClient.certPem, key: strangerClient.keyPem });
    expect(stranger.status).toBe(401);
    const node = await get(port, '/containerLogs/default/logs-0/app', ca.certPem, { cert: nodeClient.certPem, key: nodeClient.keyPem });
    expect(node.status).toBe(403);
    expect(JSON.parse(node.body)).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    const wsNone = await execOverWebSocket({ url: `https://127.0.0.1:${port}/exec/default/logs-0/app?command=true&stdout=true`, ca: ca.certPem }).catch((e: unknown) => e as { statusCode?: number });
    expect((wsNone as { statusCode?: number }).statusCode).toBe(401);
  });
});

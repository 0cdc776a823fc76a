// `kubets join` as a worker node runs it: the built CLI against a control
// plane from testkit (PKI and tokens from `kubets init`, a kubets-kv, NATS,
// the API server). Success writes the CA, a kubelet.kubeconfig the stock
// kubectl works with, and the kubelet's flags; a wrong hash, a wrong token and
// an unreachable endpoint each fail with exit code 1 and write nothing.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlPlane, freePort } from '@kubets/testkit';
import YAML from 'yaml';

jest.setTimeout(180_000);

const root = path.resolve(__dirname, '..', '..', '..');
const cli = path.join(root, 'apps', 'cli', 'dist', 'main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe('kubets join against a control plane', () => {
  let cp: ControlPlane;
  let tmp: string;
  let token: string;
  let hash: string;
  let endpoint: string;

  const kubets = (...args: string[]) => run(process.execPath, [cli, ...args]);
  const join = (outDir: string, ...args: string[]) => kubets('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', hash, '--node-name', 'worker-1', '--out-dir', outDir, ...args);
  const outDir = (name: string) => path.join(tmp, name);
  const written = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).sort() : []);

  beforeAll(async () => {
    if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: build it first (npx nx run @kubets/cli:build; the test target does it)`);
    cp = await ControlPlane.start({ kv: 'kubets', nats: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-join-'));
    const summary = JSON.parse(fs.readFileSync(path.join(cp.dir, 'kubets-init.json'), 'utf8')) as { caCertHash: string };
    token = cp.init.summary.bootstrapTokens[0]!.token;
    hash = summary.caCertHash;
    endpoint = cp.init.summary.controlPlaneEndpoint;
  });
  afterAll(async () => {
    await cp?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('joins: writes the CA, the kubelet kubeconfig and flags; kubectl works with that kubeconfig', async () => {
    const out = outDir('ok');
    const r = await join(out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[discovery] Fetched the cluster-info ConfigMap');
    expect(r.stdout).toContain(`Cluster CA public key ${hash} matches --discovery-token-ca-cert-hash`);
    expect(r.stdout).toContain('accepts the bootstrap token');
    expect(r.stdout).toMatch(/created +.*kubelet\.kubeconfig/);
    expect(r.stdout).toContain('no client certificate');
    expect(r.stdout).toMatch(/Next: \(re\)start the node's kubelet service/);
    expect(written(out)).toEqual(['kubelet-flags.env', 'kubelet.kubeconfig', 'pki', 'pki/ca.crt']);
    expect(fs.readFileSync(path.join(out, 'pki/ca.crt'), 'utf8')).toBe(cp.caCert);

    const kc = YAML.parse(fs.readFileSync(path.join(out, 'kubelet.kubeconfig'), 'utf8'));
    expect(kc.clusters[0].cluster.server).toBe(`https://${endpoint}`);
    expect(kc.users[0].user).toEqual({ token });
    const flags = fs.readFileSync(path.join(out, 'kubelet-flags.env'), 'utf8');
    expect(flags).toContain(`--kubeconfig=${path.join(out, 'kubelet.kubeconfig')}`);
    expect(flags).toContain('--hostname-override=worker-1');
    expect(flags).toContain(`--node-ip=${cp.address}`);
    expect(flags).toContain(`--nats-url=nats://${cp.address}:4222`);
    expect(flags).not.toContain('node-role.kubernetes.io/control-plane');

    // The stock kubectl (Go's TLS and clientcmd) accepts the written kubeconfig.
    const home = path.join(tmp, 'home');
    fs.mkdirSync(home, { recursive: true });
    const k = await run('kubectl', ['--kubeconfig', path.join(out, 'kubelet.kubeconfig'), 'get', 'nodes'], { HOME: home, KUBECONFIG: '' });
    expect(k.stderr).toMatch(/^(No resources found.*\n)?$/);
    expect(k.code).toBe(0);

    // Running it again changes nothing; --nats-url is taken as given.
    const again = await join(out);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/unchanged +.*pki\/ca\.crt/);
    const nats = await join(outDir('nats'), '--nats-url', cp.nats!.url);
    expect(nats.code).toBe(0);
    expect(fs.readFileSync(path.join(outDir('nats'), 'kubelet-flags.env'), 'utf8')).toContain(`--nats-url=${cp.nats!.url}`);
  });

  it('a wrong CA hash: refused with kubeadm\'s message, nothing written', async () => {
    const out = outDir('bad-hash');
    const r = await kubets('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', `sha256:${'0'.repeat(64)}`, '--out-dir', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "${hash}" are pinned\n`);
    expect(written(out)).toEqual([]);
  });

  it('a wrong token: refused by the API server (401), nothing written', async () => {
    const out = outDir('bad-token');
    const r = await kubets('join', endpoint, '--token', 'abcdef.0000000000000000', '--discovery-token-ca-cert-hash', hash, '--out-dir', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the API server at https:\/\/.* refused the bootstrap token \(401 Unauthorized\): check --token/);
    expect(written(out)).toEqual([]);
  });

  it('an unreachable endpoint: a clear error, nothing written', async () => {
    const out = outDir('unreachable');
    const r = await kubets('join', `127.0.0.1:${await freePort()}`, '--token', token, '--discovery-token-ca-cert-hash', hash, '--out-dir', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: could not fetch cluster-info from https:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    expect(written(out)).toEqual([]);
  });

  it('usage errors: no endpoint, no token, no hash without the unsafe flag', async () => {
    expect((await kubets('join', '--token', token)).code).toBe(2);
    expect((await kubets('join', endpoint)).code).toBe(2);
    const r = await kubets('join', endpoint, '--token', token, '--out-dir', outDir('no-hash'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/without --discovery-token-ca-cert-hash can be unsafe/);
    expect((await kubets('join', '--help')).stdout).toContain('kubets join ENDPOINT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH');
  });
});

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { KvCluster } from './kv-cluster';
import { NatsServer, startNatsServer } from './nats';
import { ManagedProcess, builtApp, freePort, spawnProcess } from './process';
import { RealEtcd } from './real-etcd';
import { waitFor } from './wait';

/** What `kubets init` wrote (kubets-init.json), the parts tests use. */
export interface InitSummary {
  controlPlaneEndpoint: string;
  apiServerURL: string;
  adminToken: string;
  serviceSubnet: string;
  podSubnet: string | null;
  bootstrapTokens: Array<{ token: string; id: string; user: string; groups: string[] }>;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ApiServerProc {
  proc: ManagedProcess;
  port: number;
  grpcPort: number;
  url: string;
}

export interface EnvOptions {
  /** 'kubets' (a 3-member kubets-kv) or 'etcd' (a real etcd 3.4) */
  kv?: 'kubets' | 'etcd';
  replicas?: number;
  nats?: boolean;
  extraArgs?: string[];
  /**
   * The address the API servers and the nats-server listen on, and the one the
   * kubeconfig, `request` and `watch` use (it is in the serving certificate).
   * Default 127.0.0.1. A test whose clients run in network namespaces it
   * created (nodes) passes the host's address on a bridge it created: inside a
   * namespace, 127.0.0.1 is that namespace's own loopback.
   */
  address?: string;
}

/**
 * Run the stock kubectl with `kubeconfig` and HOME=`home` (a fresh HOME per
 * cluster, so no discovery cached for another cluster's server); never throws,
 * a non-zero exit or a timeout is in `code`.
 */
export function runKubectl(kubeconfig: string, home: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      'kubectl',
      ['--kubeconfig', kubeconfig, ...args],
      { env: { ...process.env, HOME: home, KUBECONFIG: kubeconfig }, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * A control plane for tests: PKI from `kubets init` (the built CLI), a KV
 * (a 3-member kubets-kv or a real etcd 3.4), optionally a nats-server, and N
 * kubets-apiserver processes on loopback (or on `address`); plus the stock kubectl with the
 * generated admin.kubeconfig (and a fresh HOME, so no cached discovery).
 */
export class ControlPlane {
  readonly apiservers: ApiServerProc[] = [];
  kvCluster: KvCluster | undefined;
  etcd: RealEtcd | undefined;
  nats: NatsServer | undefined;
  init!: { summary: InitSummary };
  readonly dir: string;
  readonly home: string;

  private constructor(readonly options: EnvOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-api-'));
    this.home = path.join(this.dir, 'home');
    fs.mkdirSync(this.home);
  }

  static async start(options: EnvOptions = {}): Promise<ControlPlane> {
    const env = new ControlPlane(options);
    try {
      await env.boot();
    } catch (e) {
      await env.dispose();
      throw e;
    }
    return env;
  }

  /** Where the API servers and the nats-server listen. */
  get address(): string {
    return this.options.address ?? '127.0.0.1';
  }

  get kubeconfig(): string {
    return path.join(this.dir, 'admin.kubeconfig');
  }

  get etcdEndpoints(): string[] {
    return this.kvCluster ? this.kvCluster.endpoints : [this.etcd!.endpoint];
  }

  get adminToken(): string {
    return this.init.summary.adminToken;
  }

  get caCert(): string {
    return fs.readFileSync(path.join(this.dir, 'pki/ca.crt'), 'utf8');
  }

  private async boot(): Promise<void> {
    const port = await freePort();
    const config = path.join(this.dir, 'kubeadm-init.yaml');
    fs.writeFileSync(
      config,
      [
        'apiVersion: kubeadm.k8s.io/v1beta3',
        'kind: InitConfiguration',
        'localAPIEndpoint:',
        `  advertiseAddress: ${this.address}`,
        `  bindPort: ${port}`,
        'nodeRegistration:',
        '  name: test-control-plane',
        '---',
        'apiVersion: kubeadm.k8s.io/v1beta3',
        'kind: ClusterConfiguration',
        `controlPlaneEndpoint: ${this.address}:${port}`,
        'networking:',
        '  serviceSubnet: 10.96.0.0/12',
        '  podSubnet: 10.244.0.0/16',
      ].join('\n'),
    );
    execFileSync(process.execPath, [builtApp('cli'), 'init', '--config', config, '--out-dir', this.dir], { stdio: 'pipe' });
    this.init = { summary: JSON.parse(fs.readFileSync(path.join(this.dir, 'kubets-init.json'), 'utf8')) as InitSummary };
    if ((this.options.kv ?? 'kubets') === 'kubets') this.kvCluster = await KvCluster.start();
    else {
      this.etcd = await RealEtcd.start();
    }
    if (this.options.nats) this.nats = await startNatsServer({ host: this.address });
    for (let i = 0; i < (this.options.replicas ?? 1); i++) await this.startApiServer(i === 0 ? port : undefined);
  }

  /** Starts (or, with the index of a stopped one and its ports, restarts) an API server. */
  async startApiServer(port?: number, index = this.apiservers.length, grpcPort?: number): Promise<ApiServerProc> {
    port ??= await freePort();
    grpcPort ??= await freePort();
    const proc = spawnProcess({
      name: `apiserver-${index}`,
      command: process.execPath,
      args: [
        builtApp('apiserver'),
        `--etcd-servers=${this.etcdEndpoints.join(',')}`,
        `--bind-address=${this.address}`,
        `--secure-port=${port}`,
        `--tls-cert-file=${path.join(this.dir, 'pki/apiserver.crt')}`,
        `--tls-private-key-file=${path.join(this.dir, 'pki/apiserver.key')}`,
        `--client-ca-file=${path.join(this.dir, 'pki/ca.crt')}`,
        `--token-auth-file=${path.join(this.dir, 'tokens.csv')}`,
        `--grpc-bind-address=${this.address}:${grpcPort}`,
        '--event-publisher-lease-seconds=2',
        // pods/log and pods/exec go to kubelets with kubeadm's client certificate.
        ...(fs.existsSync(path.join(this.dir, 'pki/apiserver-kubelet-client.crt'))
          ? [`--kubelet-client-certificate=${path.join(this.dir, 'pki/apiserver-kubelet-client.crt')}`, `--kubelet-client-key=${path.join(this.dir, 'pki/apiserver-kubelet-client.key')}`]
          : []),
        ...(this.nats ? [`--nats-url=${this.nats.url}`] : []),
        ...(this.options.extraArgs ?? []),
      ],
    });
    await proc.waitForLog(/kubets-apiserver ready on/, 30_000).catch((e) => {
      throw new Error(`apiserver did not start: ${(e as Error).message}\n${proc.tail(40)}`);
    });
    const a = { proc, port, grpcPort, url: `https://${this.address}:${port}` };
    if (index < this.apiservers.length) this.apiservers[index] = a;
    else this.apiservers.push(a);
    return a;
  }

  /** Run the stock kubectl with the admin kubeconfig (and a fresh HOME, so no cached discovery). */
  kubectl(args: string[], opts: { input?: string; timeoutMs?: number; server?: number } = {}): Promise<KubectlResult> {
    const extra = opts.server !== undefined ? [`--server=${this.apiservers[opts.server]!.url}`] : [];
    return runKubectl(this.kubeconfig, this.home, [...extra, ...args], opts);
  }

  /** Start a long-running kubectl (get -w) and collect its output lines. */
  kubectlStream(args: string[]): { lines: string[]; stop: () => void; proc: ManagedProcess } {
    const proc = spawnProcess({
      name: 'kubectl-watch',
      command: 'kubectl',
      args: ['--kubeconfig', this.kubeconfig, ...args],
      env: { ...process.env, HOME: this.home, KUBECONFIG: this.kubeconfig },
    });
    return {
      proc,
      get lines() {
        return proc.logs().split('\n').filter(Boolean);
      },
      stop: () => void proc.kill(),
    } as { lines: string[]; stop: () => void; proc: ManagedProcess };
  }

  /** A raw HTTPS request with the admin token (or `token`, or none). */
  request(
    method: string,
    urlPath: string,
    opts: { body?: string | Buffer; headers?: Record<string, string>; token?: string | null; server?: number; timeoutMs?: number } = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; json: () => any }> {
    const a = this.apiservers[opts.server ?? 0]!;
    const token = opts.token === undefined ? this.adminToken : opts.token;
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.address,
          port: a.port,
          method,
          path: urlPath,
          ca: this.caCert,
          headers: {
            ...(token ? { Authorization: `Bearer ${token}` } : {}),
            ...(opts.body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}),
            ...opts.headers,
          },
          timeout: opts.timeoutMs ?? 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      if (opts.body !== undefined) req.end(opts.body);
      else req.end();
    });
  }

  /** Open a watch (?watch=true) and collect its events until stop(). */
  watch(urlPath: string, opts: { server?: number; headers?: Record<string, string> } = {}): { events: any[]; ended: () => boolean; stop: () => void; status: () => number } {
    const a = this.apiservers[opts.server ?? 0]!;
    const events: any[] = [];
    let ended = false;
    let status = 0;
    let buf = '';
    const req = https.request(
      { host: this.address, port: a.port, method: 'GET', path: urlPath, ca: this.caCert, headers: { Authorization: `Bearer ${this.adminToken}`, ...opts.headers } },
      (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) events.push(JSON.parse(line));
          }
        });
        res.on('end', () => (ended = true));
        res.on('error', () => (ended = true));
      },
    );
    req.on('error', () => (ended = true));
    req.end();
    return { events, ended: () => ended, stop: () => req.destroy(), status: () => status };
  }

  async waitHealthy(i = 0): Promise<void> {
    await waitFor(async () => (await this.request('GET', '/readyz', { server: i }).catch(() => ({ status: 0 }))).status === 200, { timeoutMs: 20_000, description: `apiserver ${i} ready` });
  }

  async dispose(): Promise<void> {
    for (const a of this.apiservers) await a.proc.stop().catch(() => {});
    await this.nats?.dispose().catch(() => {});
    await this.kvCluster?.dispose().catch(() => {});
    await this.etcd?.dispose().catch(() => {});
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

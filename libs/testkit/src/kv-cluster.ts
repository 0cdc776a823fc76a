import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtApp, freePort, ManagedProcess, requireExecutable } from './process';
import { waitFor } from './wait';

/**
 * A real kubets-kv cluster for tests: N member processes of the built
 * apps/kv on ephemeral loopback ports, each with its own data directory.
 * Members can be killed (SIGKILL), stopped, restarted with their data, or
 * paused (SIGSTOP) to act as a partitioned or slow node.
 */

export interface KvMember {
  name: string;
  clientUrl: string;
  /** host:port for gRPC clients and etcdctl --endpoints. */
  endpoint: string;
  peerUrl: string;
  metricsUrl: string;
  dataDir: string;
  process: ManagedProcess;
}

export interface KvClusterOptions {
  size?: number;
  /** Extra flags for every member. */
  args?: string[];
  heartbeatMs?: number;
  electionMs?: number;
  /** Extra environment for members. */
  env?: NodeJS.ProcessEnv;
  /** Seed every member's data directory from this snapshot with `kubets-kv restore` before starting. */
  restoreFrom?: string;
  /** --initial-cluster-token (default kubets-test). */
  token?: string;
}

export interface EtcdctlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class KvCluster {
  readonly members: KvMember[] = [];
  private readonly root: string;
  private readonly binary: string;

  private constructor(private readonly options: KvClusterOptions) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-kv-cluster-'));
    this.binary = builtApp('kv');
  }

  /**
   * Start a cluster. Ports come from freePort(), which another process can
   * take before a member binds it; a member that fails to bind makes the whole
   * cluster start again on fresh ports (up to 3 tries).
   */
  static async start(options: KvClusterOptions = {}): Promise<KvCluster> {
    for (let attempt = 1; ; attempt++) {
      const cluster = new KvCluster(options);
      try {
        await cluster.init();
        return cluster;
      } catch (err) {
        const portTaken = cluster.members.some((m) => /EADDRINUSE/.test(m.process?.logs() ?? ''));
        await cluster.dispose();
        if (!portTaken || attempt >= 3) throw err;
      }
    }
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  private async init(): Promise<void> {
    const size = this.options.size ?? 3;
    for (let i = 0; i < size; i++) {
      const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
      const name = `m${i + 1}`;
      const dataDir = path.join(this.root, name);
      const member: KvMember = {
        name,
        clientUrl: `http://127.0.0.1:${client}`,
        endpoint: `127.0.0.1:${client}`,
        peerUrl: `http://127.0.0.1:${peer}`,
        metricsUrl: `http://127.0.0.1:${metrics}`,
        dataDir,
        process: undefined as unknown as ManagedProcess,
      };
      this.members.push(member);
    }
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
    for (const m of this.members) {
      m.process = new ManagedProcess({
        name: `kubets-kv-${m.name}`,
        command: process.execPath,
        args: [
          this.binary,
          '--name',
          m.name,
          '--data-dir',
          m.dataDir,
          '--listen-client-urls',
          m.clientUrl,
          '--advertise-client-urls',
          m.clientUrl,
          '--listen-peer-urls',
          m.peerUrl,
          '--initial-advertise-peer-urls',
          m.peerUrl,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-token',
          this.options.token ?? 'kubets-test',
          '--listen-metrics-urls',
          m.metricsUrl,
          '--heartbeat-interval',
          String(this.options.heartbeatMs ?? 100),
          '--election-timeout',
          String(this.options.electionMs ?? 1000),
          ...(this.options.args ?? []),
        ],
        env: this.options.env,
      });
    }
    if (this.options.restoreFrom) {
      for (const m of this.members) {
        const r = await new Promise<{ code: number; out: string }>((resolve) =>
          execFile(
            process.execPath,
            [
              this.binary,
              'restore',
              this.options.restoreFrom!,
              '--name',
              m.name,
              '--data-dir',
              m.dataDir,
              '--initial-cluster',
              initialCluster,
              '--initial-cluster-token',
              this.options.token ?? 'kubets-test',
              '--initial-advertise-peer-urls',
              m.peerUrl,
            ],
            (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }),
          ),
        );
        if (r.code !== 0) throw new Error(`kubets-kv restore failed for ${m.name}: ${r.out}`);
      }
    }
    for (const m of this.members) m.process.start();
    // Every member must come up (a port taken by another process makes one exit at once).
    await Promise.all(
      this.members.map((m) =>
        Promise.race([
          m.process.waitForLog(/kubets-kv member started/, 30_000),
          m.process.exited().then((code) => {
            throw new Error(`kubets-kv ${m.name} exited with code ${code} while starting\n${m.process.tail(10)}`);
          }),
        ]),
      ),
    );
    await this.waitForLeader();
  }

  /** Logs of every member (tail), for failure messages. */
  logs(lines = 30): string {
    return this.members.map((m) => m.process.tail(lines)).join('\n');
  }

  /** GET /health on a member's metrics URL. */
  async health(i: number): Promise<{ health: string; reason?: string } | undefined> {
    try {
      const res = await fetch(`${this.members[i]!.metricsUrl}/health`);
      return (await res.json()) as { health: string };
    } catch {
      return undefined;
    }
  }

  /** Index of the member that is leader, per `etcdctl endpoint status`. */
  async leader(among: number[] = this.members.map((_, i) => i)): Promise<number | undefined> {
    const live = among.filter((i) => this.members[i]!.process.running);
    if (live.length === 0) return undefined;
    const r = await this.etcdctl(['endpoint', 'status', '-w', 'json'], live);
    if (r.code !== 0 && !r.stdout) return undefined;
    let statuses: Array<{ Endpoint: string; Status: { header: { member_id: number }; leader: number } }>;
    try {
      statuses = JSON.parse(r.stdout);
    } catch {
      return undefined;
    }
    const withLeader = statuses.find((s) => s.Status.leader && s.Status.leader === s.Status.header.member_id);
    if (!withLeader) return undefined;
    return this.members.findIndex((m) => m.endpoint === withLeader.Endpoint);
  }

  async waitForLeader(timeoutMs = 30_000, among?: number[]): Promise<number> {
    return waitFor(async () => {
      const l = await this.leader(among);
      return l === undefined || l < 0 ? undefined : l + 1;
    }, { timeoutMs, description: 'a kubets-kv leader', context: () => this.logs() }).then((n) => n - 1);
  }

  /** Run stock etcdctl (ETCDCTL_API=3) against the given members (default all live ones). */
  etcdctl(args: string[], members?: number[], input?: string, timeoutMs = 15_000): Promise<EtcdctlResult> {
    const bin = requireExecutable('etcdctl', 'etcd-client');
    const endpoints = (members ?? this.members.map((_, i) => i).filter((i) => this.members[i]!.process.running)).map(
      (i) => this.members[i]!.endpoint,
    );
    return new Promise((resolve) => {
      const child = execFile(
        bin,
        ['--endpoints', endpoints.join(','), '--dial-timeout', '3s', '--command-timeout', '10s', ...args],
        { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code = err ? ((err as { code?: number }).code ?? 1) : 0;
          resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  async kill(i: number): Promise<void> {
    await this.members[i]!.process.kill();
  }

  async stop(i: number): Promise<void> {
    await this.members[i]!.process.stop();
  }

  /** Start a stopped or killed member again, with its data directory. */
  restart(i: number): void {
    this.members[i]!.process.start();
  }

  pause(i: number): void {
    this.members[i]!.process.signal('SIGSTOP');
  }

  resume(i: number): void {
    this.members[i]!.process.signal('SIGCONT');
  }

  async dispose(): Promise<void> {
    for (const m of this.members) m.process.signal('SIGCONT');
    await Promise.all(this.members.map((m) => m.process.kill()));
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

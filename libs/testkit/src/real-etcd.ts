import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ManagedProcess, requireExecutable } from './process';
import { waitFor } from './wait';

/**
 * A real single-member etcd 3.4 (Debian package etcd-server) on loopback
 * ephemeral ports, for compatibility tests and side-by-side comparisons.
 * RealEtcdCluster (below) starts several members.
 */
export class RealEtcd {
  private proc: ManagedProcess | undefined;
  readonly dataDir: string;

  private constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    private readonly extraArgs: string[],
  ) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-real-etcd-'));
  }

  static async start(args: string[] = []): Promise<RealEtcd> {
    const etcd = new RealEtcd(await freePort(), await freePort(), args);
    await etcd.launch();
    return etcd;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get process(): ManagedProcess | undefined {
    return this.proc;
  }

  async launch(): Promise<void> {
    const bin = requireExecutable('etcd', 'etcd-server');
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.proc = new ManagedProcess({
      name: 'etcd',
      command: bin,
      args: [
        '--name',
        'e1',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `e1=${peer}`,
        ...this.extraArgs,
      ],
      env: { ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
    }).start();
    await this.proc.waitForLog(/ready to serve client requests/, 20_000);
    await waitFor(() => this.proc!.logs().includes('became leader'), { description: 'etcd to elect itself', timeoutMs: 10_000 });
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async dispose(): Promise<void> {
    await this.proc?.kill();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A real N-member etcd 3.4 cluster on loopback (for side-by-side benchmarks). */
export class RealEtcdCluster {
  readonly members: Array<{ name: string; clientPort: number; peerPort: number; dataDir: string; process: ManagedProcess }> = [];

  static async start(size = 3, args: string[] = []): Promise<RealEtcdCluster> {
    const c = new RealEtcdCluster();
    const bin = requireExecutable('etcd', 'etcd-server');
    for (let i = 0; i < size; i++) {
      c.members.push({
        name: `e${i + 1}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        dataDir: fs.mkdtempSync(path.join(os.tmpdir(), `kubets-real-etcd-e${i + 1}-`)),
        process: undefined as unknown as ManagedProcess,
      });
    }
    const initial = c.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
    for (const m of c.members) {
      m.process = new ManagedProcess({
        name: `etcd-${m.name}`,
        command: bin,
        args: [
          '--name', m.name,
          '--data-dir', m.dataDir,
          '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
          '--advertise-client-urls', `http://127.0.0.1:${m.clientPort}`,
          '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
          '--initial-cluster', initial,
          '--initial-cluster-token', 'kubets-bench',
          ...args,
        ],
      }).start();
    }
    await Promise.all(c.members.map((m) => m.process.waitForLog(/ready to serve client requests/, 30_000)));
    await waitFor(() => c.members.some((m) => m.process.logs().includes('became leader')), { description: 'an etcd leader', timeoutMs: 15_000 });
    return c;
  }

  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.members.map((m) => m.process.kill()));
    for (const m of this.members) fs.rmSync(m.dataDir, { recursive: true, force: true });
  }
}

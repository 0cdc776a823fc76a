/**
 * A real etcd 3.4 (Debian package etcd-server) and etcdctl for the interop
 * tests: loopback only, ephemeral ports, a temporary data directory.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, ManagedProcess, requireExecutable, spawnProcess, waitFor } from '@kubets/testkit';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (bounded by timeoutMs), optionally feeding stdin. */
export function run(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ETCDCTL_API: '3' },
      // stdin only when there is input: writing to a child that has already
      // exited (or never reads) would fail with EPIPE.
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) {
      child.stdin!.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${command} ${args.join(' ')}: writing its input failed: ${err.message}\n${stdout}\n${stderr}`));
      });
      child.stdin!.end(options.input);
    }
  });
}

export function etcdctlPath(): string {
  return requireExecutable('etcdctl', 'etcd-client');
}

/** etcdctl with the given arguments; rejects with its output unless it exits 0. */
export async function etcdctl(args: string[], input?: string): Promise<string> {
  const result = await run(etcdctlPath(), args, { input });
  if (result.code !== 0) throw new Error(`etcdctl ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** JSON.parse that keeps integers of 16 digits or more (IDs, leases) exact, as strings. */
export function parseJsonBig<T = unknown>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"')) as T;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kubets-bbolt-${prefix}-`));
}

/** One etcd member on 127.0.0.1. */
export class Etcd {
  private constructor(
    readonly proc: ManagedProcess,
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
  ) {}

  static async peerPort(): Promise<number> {
    return freePort();
  }

  /**
   * Start etcd on dataDir (a fresh one bootstraps a one-member cluster; a
   * restored one carries its own membership, so peerPort must be the port it
   * was restored with). Resolves once it answers `endpoint health`.
   */
  static async start(dataDir: string, options: { name?: string; peerPort?: number } = {}): Promise<Etcd> {
    const binary = requireExecutable('etcd', 'etcd-server');
    const name = options.name ?? 'm1';
    const clientUrl = `http://127.0.0.1:${await freePort()}`;
    const peerUrl = `http://127.0.0.1:${options.peerPort ?? (await freePort())}`;
    const proc = spawnProcess({
      name: `etcd-${name}`,
      command: binary,
      args: [
        '--name', name,
        '--data-dir', dataDir,
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `${name}=${peerUrl}`,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
      ],
    });
    const etcd = new Etcd(proc, name, clientUrl, peerUrl, dataDir);
    try {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`etcd exited with code ${proc.exitCode}`);
          return (await run(etcdctlPath(), ['--endpoints', clientUrl, '--command-timeout=2s', 'endpoint', 'health'], { timeoutMs: 5_000 })).code === 0;
        },
        { timeoutMs: 20_000, intervalMs: 100, description: `etcd on ${clientUrl} to be healthy`, context: () => proc.tail() },
      );
    } catch (err) {
      await proc.kill();
      throw err;
    }
    return etcd;
  }

  /** etcdctl against this member. */
  ctl(args: string[], input?: string): Promise<string> {
    return etcdctl(['--endpoints', this.clientUrl, '--command-timeout=10s', ...args], input);
  }

  /** etcdctl against this member, without failing on a non-zero exit. */
  ctlResult(args: string[]): Promise<RunResult> {
    return run(etcdctlPath(), ['--endpoints', this.clientUrl, '--command-timeout=10s', ...args]);
  }

  async stop(): Promise<void> {
    await this.proc.stop(5_000);
  }
}

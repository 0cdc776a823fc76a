// Detached component processes for `kubets up` / `kubets down`: spawn with
// their own process group, logs in D/logs/<name>.log, pids in D/pids.json.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface ProcRecord {
  name: string;
  pid: number;
  /** What must appear in /proc/<pid>/cmdline for the pid to still be ours (guards against pid reuse). */
  match: string;
  log: string;
  startedAt: string;
}

export interface PidsFile {
  dir: string;
  processes: ProcRecord[];
}

export const pidsPath = (dir: string): string => path.join(dir, 'pids.json');

export function readPids(dir: string): PidsFile | undefined {
  try {
    return JSON.parse(fs.readFileSync(pidsPath(dir), 'utf8')) as PidsFile;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${pidsPath(dir)} is unreadable (${(e as Error).message}); remove it after checking no kubets process runs`);
  }
}

export function writePids(dir: string, processes: ProcRecord[]): void {
  const tmp = `${pidsPath(dir)}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ dir, processes } satisfies PidsFile, null, 2)}\n`);
  fs.renameSync(tmp, pidsPath(dir));
}

/** True while the pid runs (not a zombie) and still is the process we started. */
export function alive(rec: Pick<ProcRecord, 'pid' | 'match'>): boolean {
  try {
    process.kill(rec.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${rec.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = fs.readFileSync(`/proc/${rec.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(rec.match);
  } catch {
    // No /proc (not Linux): trust kill(0).
    return true;
  }
}

function signal(rec: ProcRecord, sig: NodeJS.Signals): void {
  // The process group first (the component and anything it started), then the pid.
  try {
    process.kill(-rec.pid, sig);
    return;
  } catch {
    /* not a group leader, or gone */
  }
  try {
    process.kill(rec.pid, sig);
  } catch {
    /* gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Components stopped together: the kv members, and the controller manager with the scheduler. */
function tierOf(name: string): string {
  if (name.startsWith('kubets-kv')) return 'kubets-kv';
  if (name === 'kubets-scheduler' || name === 'kubets-controller-manager') return 'controllers';
  return name;
}

/**
 * Stops the processes tier by tier in reverse start order (nodes, then the
 * controllers, the API server, the kv members, nats-server last, so no
 * component hangs on a dependency that is already gone): SIGTERM to each
 * process group, SIGKILL after graceMs, and waits until none is left.
 * Returns the names that had to be killed.
 */
export async function stopAll(records: ProcRecord[], graceMs = 10_000, log?: (line: string) => void): Promise<string[]> {
  const tiers: ProcRecord[][] = [];
  for (const r of [...records].reverse()) {
    const last = tiers[tiers.length - 1];
    if (last && tierOf(last[0]!.name) === tierOf(r.name)) last.push(r);
    else tiers.push([r]);
  }
  const killed: string[] = [];
  for (const tier of tiers) killed.push(...(await stopTier(tier, graceMs, log)));
  return killed;
}

async function stopTier(records: ProcRecord[], graceMs: number, log?: (line: string) => void): Promise<string[]> {
  const live = records.filter(alive);
  for (const r of live) {
    log?.(`stopping ${r.name} (pid ${r.pid})`);
    signal(r, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(alive)) await sleep(50);
  const killed = live.filter(alive);
  for (const r of killed) {
    log?.(`${r.name} (pid ${r.pid}) did not stop within ${graceMs / 1000}s: SIGKILL`);
    signal(r, 'SIGKILL');
  }
  const hard = Date.now() + 10_000;
  while (killed.some(alive)) {
    if (Date.now() > hard) throw new Error(`processes still running after SIGKILL: ${killed.filter(alive).map((r) => `${r.name} (${r.pid})`).join(', ')}`);
    await sleep(50);
  }
  return killed.map((r) => r.name);
}

export interface Started {
  rec: ProcRecord;
  /** Resolves with the exit code (or signal) if the process ends while `kubets up` runs. */
  exited: Promise<string>;
}

/** Spawns a detached component (its own process group), stdout and stderr to logPath. */
export function startDetached(name: string, command: string, args: string[], logPath: string, match: string, cwd: string): Started {
  fs.mkdirSync(path.dirname(logPath), { recursive: true });
  const fd = fs.openSync(logPath, 'a');
  fs.writeSync(fd, `--- ${new Date().toISOString()} kubets up: ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], cwd, env: process.env });
  fs.closeSync(fd);
  const exited = new Promise<string>((resolve) => {
    child.on('error', (e) => resolve(`failed to start: ${e.message}`));
    child.on('exit', (code, sig) => resolve(sig ? `killed by ${sig}` : `exited with code ${code}`));
  });
  child.unref();
  if (child.pid === undefined) {
    // spawn failed (e.g. ENOENT); 'error' follows.
    return { rec: { name, pid: -1, match, log: logPath, startedAt: new Date().toISOString() }, exited };
  }
  return { rec: { name, pid: child.pid, match, log: logPath, startedAt: new Date().toISOString() }, exited };
}

export function tail(file: string, lines = 30): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves true if something on 127.0.0.1 holds the port (a listen attempt fails). */
export function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(true));
    s.listen(port, host, () => s.close(() => resolve(false)));
  });
}

// Running the tools that program the kernel (nft, ipvsadm-restore, ip), with
// the script on stdin: one process per batch, never one per rule.
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${code}): ${stderr.trim().split('\n').slice(0, 5).join(' | ')}`);
    this.name = 'CommandError';
  }
}

/** Run `command args` with `input` on stdin; resolves with stdout, rejects with CommandError. */
export function run(command: string, args: readonly string[], input = '', timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(command, null, e.message));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new CommandError([command, ...args].join(' '), code, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => {}); // reported through close
    child.stdin.end(input);
  });
}

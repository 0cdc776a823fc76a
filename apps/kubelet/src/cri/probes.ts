import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CriClient } from '@kubets/cri-client';

type AnyObj = Record<string, any>;

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, as the kubelet words it in Unhealthy events. */
  output: string;
}

function resolvePort(port: number | string, container: AnyObj): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const p = ((container.ports ?? []) as AnyObj[]).find((x) => x.name === port);
  if (!p) throw new Error(`port "${port}" not found in container "${container.name}"`);
  return Number(p.containerPort);
}

/** Runs one probe (exec through ExecSync, httpGet, tcpSocket) against a running container, as kubelet's prober does. */
export async function runProbe(cri: CriClient, probe: AnyObj, container: AnyObj, containerId: string, podIP: string): Promise<ProbeResult> {
  const timeoutS = Math.max(1, Number(probe.timeoutSeconds ?? 1));
  try {
    if (probe.exec) {
      const res = await cri.execSync({ containerId, cmd: probe.exec.command ?? [], timeout: BigInt(timeoutS) }, { timeoutMs: timeoutS * 1000 + 5_000 });
      const out = Buffer.concat([Buffer.from(res.stdout), Buffer.from(res.stderr)]).toString('utf8').trim();
      return res.exitCode === 0 ? { ok: true, output: out } : { ok: false, output: out || `command ${JSON.stringify(probe.exec.command)} exited with ${res.exitCode}` };
    }
    if (probe.httpGet) {
      const g = probe.httpGet as AnyObj;
      const port = resolvePort(g.port, container);
      const host = g.host || podIP;
      const scheme = String(g.scheme ?? 'HTTP').toUpperCase();
      const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.32', Accept: '*/*' };
      for (const h of (g.httpHeaders ?? []) as AnyObj[]) headers[h.name] = h.value;
      const status = await new Promise<number>((resolve, reject) => {
        const mod = scheme === 'HTTPS' ? https : http;
        const req = mod.request({ host, port, path: g.path ?? '/', method: 'GET', headers, timeout: timeoutS * 1000, rejectUnauthorized: false, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error(`Get "${scheme.toLowerCase()}://${host}:${port}${g.path ?? '/'}": context deadline exceeded`)));
        req.on('error', reject);
        req.end();
      });
      return status >= 200 && status < 400 ? { ok: true, output: '' } : { ok: false, output: `HTTP probe failed with statuscode: ${status}` };
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, container);
      const host = probe.tcpSocket.host || podIP;
      await new Promise<void>((resolve, reject) => {
        const s = net.connect({ host, port, timeout: timeoutS * 1000 });
        s.once('connect', () => {
          s.destroy();
          resolve();
        });
        s.once('timeout', () => {
          s.destroy();
          reject(new Error(`dial tcp ${host}:${port}: i/o timeout`));
        });
        s.once('error', reject);
      });
      return { ok: true, output: '' };
    }
    return { ok: true, output: '' };
  } catch (e) {
    return { ok: false, output: (e as Error).message };
  }
}

/** One probe's running state for one container instance. */
export class ProbeState {
  successes = 0;
  failures = 0;
  lastRunAt = 0;
  /** The current result (kubelet: liveness starts as success, readiness and startup as failure). */
  result: boolean;
  constructor(initial: boolean) {
    this.result = initial;
  }

  /** Whether the probe should run now: after initialDelaySeconds from the container's start, every periodSeconds. */
  due(probe: AnyObj, startedAtMs: number, now: number): boolean {
    if (now - startedAtMs < Number(probe.initialDelaySeconds ?? 0) * 1000) return false;
    return now - this.lastRunAt >= Number(probe.periodSeconds ?? 10) * 1000;
  }

  /** Records a result; returns true when the probe's overall result changed. */
  record(probe: AnyObj, ok: boolean, now: number): boolean {
    this.lastRunAt = now;
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const before = this.result;
    if (ok && this.successes >= Number(probe.successThreshold ?? 1)) this.result = true;
    if (!ok && this.failures >= Number(probe.failureThreshold ?? 3)) this.result = false;
    return before !== this.result;
  }
}

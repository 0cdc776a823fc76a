/**
 * Named health checks, reported the way Kubernetes components report them on
 * /healthz, /livez and /readyz: "ok", or one "[+]name ok" / "[-]name failed:
 * reason" line per check with ?verbose or on failure.
 */

export type Check = () => boolean | string | void | Promise<boolean | string | void>;

export type Probe = 'livez' | 'readyz';

export interface CheckResult {
  name: string;
  ok: boolean;
  reason?: string;
}

export class HealthChecks {
  private readonly checks = new Map<Probe, Map<string, Check>>([
    ['livez', new Map()],
    ['readyz', new Map()],
  ]);

  /**
   * Add a check. It passes when it returns true or undefined, and fails when
   * it returns false, returns a string (the reason) or throws.
   */
  add(probe: Probe, name: string, check: Check): void {
    this.checks.get(probe)!.set(name, check);
  }

  /** A liveness check is also a readiness check: a dead process is not ready. */
  addLiveness(name: string, check: Check): void {
    this.add('livez', name, check);
  }

  addReadiness(name: string, check: Check): void {
    this.add('readyz', name, check);
  }

  remove(probe: Probe, name: string): void {
    this.checks.get(probe)!.delete(name);
  }

  names(probe: Probe): string[] {
    const names = [...this.checks.get('livez')!.keys()];
    if (probe === 'readyz') names.push(...this.checks.get('readyz')!.keys());
    return names;
  }

  /** Run the checks of a probe (readyz includes livez), or only `only`. */
  async run(probe: Probe, only?: string): Promise<CheckResult[]> {
    const entries: Array<[string, Check]> = [...this.checks.get('livez')!];
    if (probe === 'readyz') entries.push(...this.checks.get('readyz')!);
    const selected = only === undefined ? entries : entries.filter(([name]) => name === only);
    return Promise.all(
      selected.map(async ([name, check]) => {
        try {
          const result = await check();
          if (result === undefined || result === true) return { name, ok: true };
          return { name, ok: false, reason: typeof result === 'string' ? result : 'check failed' };
        } catch (err) {
          return { name, ok: false, reason: (err as Error)?.message ?? String(err) };
        }
      }),
    );
  }
}

/** Kubernetes' plain-text report: "ok" when all pass and not verbose. */
export function formatReport(probe: string, results: CheckResult[], verbose: boolean): { ok: boolean; body: string } {
  const ok = results.every((r) => r.ok);
  if (ok && !verbose) return { ok, body: 'ok' };
  const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.reason ?? 'reason withheld'}`));
  lines.push(ok ? `${probe} check passed` : `${probe} check failed`);
  return { ok, body: `${lines.join('\n')}\n` };
}

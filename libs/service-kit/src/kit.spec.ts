import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { formatReport, HealthChecks } from './health';
import { parseHostPort, Service } from './service';

function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger', () => {
  it('writes JSON with name, level label and ISO time, and redacts secrets at any depth', async () => {
    const { lines, stream } = capture();
    const log = createLogger({ name: 'kubets-test', destination: stream });
    const child = log.child({ actor: 'scheduler/queue' });
    child.info(
      { token: 'abc', password: 'pw', req: { headers: { authorization: 'Bearer xyz' } }, user: { token: 't2', name: 'ok' } },
      'hello',
    );
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({ name: 'kubets-test', level: 'info', actor: 'scheduler/queue', msg: 'hello' });
    expect(typeof line.time).toBe('string');
    expect(new Date(line.time as string).toISOString()).toBe(line.time);
    const text = JSON.stringify(line);
    for (const secret of ['abc', '"pw"', 'Bearer xyz', 't2']) expect(text).not.toContain(secret);
    expect((line.user as Record<string, unknown>).name).toBe('ok');
  });
});

describe('health checks', () => {
  it('report ok, or each check with the reason, the way Kubernetes does', async () => {
    const checks = new HealthChecks();
    checks.addLiveness('ping', () => true);
    checks.addReadiness('nats', () => 'NATS reconnecting');
    checks.addReadiness('store', () => {
      throw new Error('disk full');
    });
    const live = await checks.run('livez');
    expect(formatReport('livez', live, false)).toEqual({ ok: true, body: 'ok' });
    const ready = await checks.run('readyz');
    expect(formatReport('readyz', ready, false)).toEqual({
      ok: false,
      body: '[+]ping ok\n[-]nats failed: NATS reconnecting\n[-]store failed: disk full\nreadyz check failed\n',
    });
    expect(await checks.run('readyz', 'ping')).toEqual([{ name: 'ping', ok: true }]);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:6443', { host: '127.0.0.1', port: 6443 }],
    [':2379', { host: '127.0.0.1', port: 2379 }],
    ['[::1]:80', { host: '::1', port: 80 }],
    ['http://0.0.0.0:2379', { host: '0.0.0.0', port: 2379 }],
  ])('%s', (text, expected) => expect(parseHostPort(text)).toEqual(expected));

  it('rejects addresses without a valid port', () => {
    expect(() => parseHostPort('localhost')).toThrow('has no port');
    expect(() => parseHostPort('localhost:99999')).toThrow('invalid port');
  });
});

describe('Service.create', () => {
  function run(argv: string[]) {
    let out = '';
    let err = '';
    let code: number | undefined;
    const { stream } = capture();
    try {
      Service.create({
        name: 'kubets-x',
        summary: 'X does things.',
        version: '1.2.3',
        flags: { port: { type: 'number', default: 1, description: 'port' } },
        argv,
        env: {},
        logDestination: stream,
        exit: (c) => {
          code = c;
        },
        out: { write: (t: string) => (out += t) },
        err: { write: (t: string) => (err += t) },
      });
    } catch {
      // a ConfigError is rethrown after exit() in tests
    }
    return { out, err, code };
  }

  it('--help prints usage and exits 0', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage:\n  kubets-x [flags]');
    expect(r.out).toContain('--log-level string');
  });

  it('--version prints the version and exits 0', () => {
    expect(run(['--version'])).toMatchObject({ code: 0, out: 'kubets-x version 1.2.3\n' });
  });

  it('a bad flag prints the error and exits 2', () => {
    const r = run(['--port', 'eighty']);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`Error: flag: --port: "eighty" is not a number\nRun 'kubets-x --help' for usage.\n`);
  });
});

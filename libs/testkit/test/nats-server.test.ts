import net from 'node:net';
import { NatsServer, requireExecutable, spawnProcess, startNatsServer, waitForPort } from '../src';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('NatsServer', () => {
  it('starts on an ephemeral port, survives kill + start on the same port', async () => {
    const server = await startNatsServer({ jetstream: true });
    try {
      const port = server.port;
      expect(port).toBeGreaterThan(0);
      expect(server.url).toBe(`nats://127.0.0.1:${port}`);
      await waitForPort(port);
      await server.kill();
      expect(await canConnect(port)).toBe(false);
      await server.start();
      expect(server.port).toBe(port);
      expect(await canConnect(port)).toBe(true);
    } finally {
      await server.dispose();
    }
  });

  it('two servers get different ports', async () => {
    const [a, b] = await Promise.all([startNatsServer(), startNatsServer()]);
    try {
      expect(a.port).not.toBe(b.port);
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });

  it('names the setup command when an executable is missing', () => {
    expect(() => requireExecutable('no-such-binary-kubets', 'kubets-imaginary')).toThrow(
      /no-such-binary-kubets not found on PATH: run `bash infra\/setup`.*kubets-imaginary/,
    );
    // NatsServer uses the same check.
    expect(() => new NatsServer()).not.toThrow();
  });
});

describe('ManagedProcess', () => {
  it('captures output lines and the exit code', async () => {
    const p = spawnProcess({ name: 'echoer', command: 'sh', args: ['-c', 'echo one; echo two >&2; exit 3'] });
    expect(await p.waitForExit()).toBe(3);
    expect(p.logs().split('\n').sort()).toEqual(['one', 'two']);
    expect(p.tail()).toContain('echoer');
  });

  it('waits for a log line, and stops with SIGTERM', async () => {
    const p = spawnProcess({ name: 'sleeper', command: 'sh', args: ['-c', 'echo ready; exec sleep 30'] });
    await p.waitForLog(/ready/);
    expect(p.running).toBe(true);
    await p.stop(5_000);
    expect(p.running).toBe(false);
    expect(p.exitSignal).toBe('SIGTERM');
  });
});

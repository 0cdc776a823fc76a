import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DockerCluster } from './docker-cluster';

test('logDigest: the last warnings and errors of each log file, then cluster.txt', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digest-'));
  try {
    const lines = Array.from({ length: 20 }, (_, i) => `{"level":"${i % 2 ? 'warn' : 'info'}","msg":"m${i}"}`);
    fs.writeFileSync(path.join(dir, 'cp.docker.log'), `${lines.join('\n')}\nkubets-node-init: error: kubelet exited\n`);
    fs.writeFileSync(path.join(dir, 'w.pods.log'), '{"level":"info","msg":"fine"}\n');
    fs.writeFileSync(path.join(dir, 'cluster.txt'), 'NAME STATUS\nw NotReady\n');
    const digest = DockerCluster.logDigest(dir, 3).split('\n');
    expect(digest[0]).toBe('==> cp.docker.log (11 warnings/errors, the last 3):');
    expect(digest.slice(1, 4)).toEqual(['  {"level":"warn","msg":"m17"}', '  {"level":"warn","msg":"m19"}', '  kubets-node-init: error: kubelet exited']);
    expect(digest).not.toContain('==> w.pods.log');
    expect(digest.slice(4)).toEqual(['==> cluster.txt:', 'NAME STATUS', 'w NotReady', '']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

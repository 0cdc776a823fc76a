// A test run killed before dispose() (jest timeout, SIGKILL) must not leave a
// containerd, its shims and pods, mounts or a bridge behind for ever: the next
// Containerd.start() reaps harnesses whose owning process is gone.
import fs from 'node:fs';
import path from 'node:path';
import { ManagedProcess, mountsUnder, processesMatching, reapStaleContainerds } from '@kubets/testkit';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

describe('Containerd harness whose owner was killed', () => {
  it('is reaped: containerd, shims, pod processes, mounts, cgroups, bridge and folder', async () => {
    const owner = new ManagedProcess({
      name: 'orphan-harness',
      command: process.execPath,
      args: ['--conditions=@kubets/source', '--import', 'tsx', path.join(__dirname, 'fixtures', 'orphan-harness.ts')],
      cwd: REPO_ROOT,
    }).start();
    let line: string;
    try {
      line = await Promise.race([
        owner.waitForLog(/^HARNESS /, 90_000),
        owner.exited().then((code) => {
          throw new Error(`orphan harness exited with ${code}\n${owner.tail()}`);
        }),
      ]);
    } catch (err) {
      await owner.kill();
      throw err;
    }
    const info = JSON.parse(line.slice('HARNESS '.length)) as { dir: string; bridge: string; cgroupParent: string };
    await owner.kill(); // SIGKILL: no dispose()

    expect(processesMatching(info.dir).length).toBeGreaterThanOrEqual(2); // containerd and a shim survive their owner
    expect(mountsUnder([info.dir]).length).toBeGreaterThan(0);
    expect(fs.existsSync(`/sys/class/net/${info.bridge}`)).toBe(true);

    expect(await reapStaleContainerds()).toEqual([]);
    expect(processesMatching(info.dir)).toEqual([]);
    expect(mountsUnder([info.dir])).toEqual([]);
    expect(fs.existsSync(`/sys/class/net/${info.bridge}`)).toBe(false);
    expect(fs.existsSync(info.dir)).toBe(false);
    expect(fs.existsSync(path.join('/sys/fs/cgroup/cpu', info.cgroupParent))).toBe(false);
  }, 120_000);
});

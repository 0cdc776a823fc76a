// The images of docker/: builds them with docker/build.sh (no registry; an
// image whose staged inputs did not change is reused, so a warm run costs
// seconds) and checks what a user and `kubets init`/`join` rely on:
// - kubets/kubets runs every component through its entrypoint, has nats-server
//   and a working nft;
// - a kubets/node container started with the kind-style flags of
//   /work/shared/PLATFORM.md boots containerd with its CRI plugin, has the test
//   images and kubets/kubets imported into namespace k8s.io, runs a nested
//   container, waits for /etc/kubernetes/kubelet.conf without crashing, starts
//   the kubelet with KUBELET_ARGS from kubelet-flags.env and restarts it with
//   back-off, and stops at once on SIGTERM.
// Nothing here leaves the machine: the node container's kubelet gets a
// kubeconfig it cannot parse, so it never connects anywhere.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeNodeCgroups } from '@kubets/cluster-bootstrap';

const ROOT = path.resolve(__dirname, '..', '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const KUBETS_IMAGE = `kubets/kubets:${VERSION}`;
const NODE_IMAGE = `kubets/node:${VERSION}`;
const TEST_IMAGES = ['pause', 'busybox-httpd', 'crasher', 'probe-target'].map((n) => `docker.io/kubets/${n}:1.0`);
/** The flags a kind-style node container needs here (PLATFORM.md: --privileged fails). */
const NODE_FLAGS = [
  '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
  '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
  '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/tmp',
];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

async function docker(...args: string[]): Promise<Result> {
  return run('docker', args);
}

/** docker ARGS, failing the test with its output when it exits non-zero. */
async function dockerOk(...args: string[]): Promise<string> {
  const r = await docker(...args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const sizeMb = async (image: string) => Math.round(Number((await dockerOk('image', 'inspect', '-f', '{{.Size}}', image)).trim()) / 1e6);

beforeAll(async () => {
  const started = Date.now();
  const r = await run('bash', [path.join(ROOT, 'docker', 'build.sh')], 15 * 60_000);
  if (r.code !== 0) throw new Error(`docker/build.sh exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  // Build times and sizes, for the record in the test log.
  const lines = r.stderr.split('\n').filter((l) => /^docker\/.*(built|up to date|exists|staged)/.test(l));
  console.log(
    [`docker/build.sh took ${((Date.now() - started) / 1000).toFixed(1)} s`, ...lines,
      `${KUBETS_IMAGE}: ${await sizeMb(KUBETS_IMAGE)} MB, ${NODE_IMAGE}: ${await sizeMb(NODE_IMAGE)} MB`].join('\n'),
  );
}, 16 * 60_000);

describe('kubets/kubets', () => {
  test('docker run IMAGE kv --version', async () => {
    expect(await dockerOk('run', '--rm', KUBETS_IMAGE, 'kv', '--version')).toContain(`kubets-kv version ${VERSION}`);
  });

  test('kubets-entrypoint COMPONENT --version works for every component', async () => {
    // One container for all (starting one takes seconds here); the same entrypoint as above.
    const components = ['kv', 'apiserver', 'controller-manager', 'scheduler', 'kubelet', 'proxy', 'kubets', 'cli'];
    const out = await dockerOk('run', '--rm', KUBETS_IMAGE, 'sh', '-c', `for c in ${components.join(' ')}; do echo "$c: $(kubets-entrypoint $c --version)"; done; kubets --version`);
    for (const [component, binary] of [
      ['kv', 'kubets-kv'], ['apiserver', 'kubets-apiserver'], ['controller-manager', 'kubets-controller-manager'], ['scheduler', 'kubets-scheduler'],
      ['kubelet', 'kubets-kubelet'], ['proxy', 'kubets-proxy'], ['kubets', 'kubets'], ['cli', 'kubets'],
    ]) {
      expect(out).toContain(`${component}: ${binary} version ${VERSION}`);
    }
    // Installed as `kubets` too: the CLI.
    expect(out.trim().split('\n').pop()).toBe(`kubets version ${VERSION}`);
  });

  test('nats-server --version', async () => {
    expect(await dockerOk('run', '--rm', KUBETS_IMAGE, 'nats-server', '--version')).toMatch(/^nats-server: v2\./);
  });

  test('with no arguments it prints the components', async () => {
    const out = await dockerOk('run', '--rm', KUBETS_IMAGE);
    for (const c of ['kv', 'apiserver', 'controller-manager', 'scheduler', 'kubelet', 'proxy', 'nats-server']) expect(out).toContain(`  ${c} `);
  });

  test('nft programs rules (kube-proxy nftables mode) in a container with NET_ADMIN', async () => {
    const out = await dockerOk('run', '--rm', '--cap-add', 'NET_ADMIN', '--network', 'none', KUBETS_IMAGE,
      'sh', '-c', 'nft add table inet kubets_test && nft add chain inet kubets_test c && nft list tables');
    expect(out).toContain('table inet kubets_test');
  });
});

describe('kubets/node', () => {
  const name = `kubets-test-node-${process.pid}`;
  const exec = (...args: string[]) => dockerOk('exec', name, ...args);
  const logs = async () => {
    const r = await docker('logs', name);
    return r.stdout + r.stderr;
  };

  beforeAll(async () => {
    const started = Date.now();
    await dockerOk('run', '-d', '--name', name, '--hostname', name, ...NODE_FLAGS, NODE_IMAGE);
    await waitFor('the node to wait for its kubelet config', async () => (await logs()).includes('waiting for /etc/kubernetes/kubelet.conf'), 120_000);
    console.log(`node container ${name}: containerd up and images imported in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 150_000);

  afterAll(async () => {
    await docker('rm', '-f', '-v', name);
    // The kubelet's --cgroup-root is /kubets/<node> in the host's hierarchy (the node shares /sys/fs/cgroup).
    removeNodeCgroups(name);
  }, 60_000);

  test('containerd answers, with its CRI plugin', async () => {
    expect(await exec('ctr', 'version')).toMatch(/Server:\s+Version:\s+\S+/);
    expect(await exec('ctr', 'plugins', 'ls')).toMatch(/io\.containerd\.grpc\.v1\s+cri\s+.*ok/);
  });

  test('the test images and kubets/kubets are imported into k8s.io', async () => {
    const images = (await exec('ctr', '-n', 'k8s.io', 'images', 'ls', '-q')).split('\n');
    for (const image of [...TEST_IMAGES, `docker.io/${KUBETS_IMAGE}`]) expect(images).toContain(image);
  });

  test('runs a nested container from an imported image', async () => {
    // --cgroup "": no cgroup for this one container, so nothing is left on the host.
    const out = await exec('ctr', '-n', 'k8s.io', 'run', '--rm', '--cgroup', '', `docker.io/${KUBETS_IMAGE}`, 'nested-kubets', 'kubets-entrypoint', 'kv', '--version');
    expect(out).toContain(`kubets-kv version ${VERSION}`);
  });

  test('iptables (nf_tables) and the CNI plugins are there', async () => {
    expect(await exec('iptables', '-t', 'nat', '-S')).toContain('-P POSTROUTING ACCEPT');
    expect((await exec('ls', '/usr/lib/cni')).split('\n')).toEqual(expect.arrayContaining(['bridge', 'host-local', 'loopback', 'portmap']));
  });

  test('waits for its kubelet config without crashing', async () => {
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await dockerOk('inspect', '-f', '{{.State.Running}}', name)).trim()).toBe('true');
    expect(await logs()).not.toContain('starting kubelet');
  });

  test('runs the kubelet with KUBELET_ARGS once the kubeconfig they name exists, and restarts it with back-off', async () => {
    // What kubets init/join write: KUBELET_ARGS naming the kubeconfig, then the kubeconfig.
    await exec('sh', '-c', 'echo \'KUBELET_ARGS="--kubeconfig=/etc/kubernetes/kubelet.kubeconfig --nats-url=nats://127.0.0.1:4222 --node-labels=kubets.io/test=yes"\' > /etc/kubernetes/kubelet-flags.env');
    await waitFor('the node to wait for the kubeconfig of KUBELET_ARGS', async () => (await logs()).includes('waiting for /etc/kubernetes/kubelet.kubeconfig'), 10_000);
    // A kubeconfig the kubelet cannot use: it exits at once, and nothing leaves the container.
    await exec('sh', '-c', 'echo "not a kubeconfig" > /etc/kubernetes/kubelet.kubeconfig');
    await waitFor('two kubelet restarts', async () => /restarting in 2s/.test(await logs()), 30_000);
    const out = await logs();
    expect(out).toContain('starting kubelet: --kubeconfig=/etc/kubernetes/kubelet.kubeconfig --nats-url=nats://127.0.0.1:4222 --node-labels=kubets.io/test=yes');
    expect(out).toMatch(/kubelet exited \(1\); restarting in 1s/);
    expect((await dockerOk('inspect', '-f', '{{.State.Running}}', name)).trim()).toBe('true');
  });

  test('stops on SIGTERM at once', async () => {
    const started = Date.now();
    await dockerOk('stop', '-t', '20', name);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await dockerOk('inspect', '-f', '{{.State.ExitCode}}', name)).trim()).toBe('0');
  });
});

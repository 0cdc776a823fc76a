import { ControlPlane, builtApp, freePort, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(300_000);

const deployment = (image: string, replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'big', namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'big' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 0 } },
    template: { metadata: { labels: { app: 'big' } }, spec: { containers: [{ name: 'web', image, resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
  },
});

/**
 * The Deployment acceptance with every component as a real process:
 * kubets-kv, nats-server, kubets-apiserver, kubets-scheduler,
 * kubets-controller-manager and 5 hollow nodes, driven by stock kubectl.
 */
describe('Deployments end to end (scheduler + controller manager + 5 hollow nodes)', () => {
  let env: ControlPlane;
  const procs: ManagedProcess[] = [];

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 150_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- last logs:\n${procs.map((p) => p.tail(8)).join('\n')}`);
    return r.stdout;
  };
  const json = async (args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json']));

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    const common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
    const start = async (name: string, app: string, args: string[], ready: RegExp) => {
      const p = spawnProcess({ name, command: process.execPath, args: [builtApp(app), ...common, ...args] });
      procs.push(p);
      await p.waitForLog(ready, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
      });
    };
    await start('hollow-kubelet', 'kubelet', ['--hollow', '--hollow-nodes=5', '--hostname-override=node', `--healthz-bind-address=127.0.0.1:${await freePort()}`], /hollow node\(s\) running/);
    await start('scheduler', 'scheduler', ['--bind-address=127.0.0.1', '--secure-port=0'], /leading as .*scheduling/);
    await start('controller-manager', 'controller-manager', ['--bind-address=127.0.0.1', '--secure-port=0'], /controllers running/);
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await env?.dispose();
  });

  it('30 replicas on 5 nodes: rollout status completes and pods are spread', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(deployment('nginx:1.25', 30)));
    expect(await kubectl(['rollout', 'status', 'deploy/big', '--timeout=150s'])).toContain('successfully rolled out');
    const pods = (await json(['get', 'pods', '-l', 'app=big'])).items as any[];
    expect(pods.filter((p) => p.status.phase === 'Running')).toHaveLength(30);
    const perNode = new Map<string, number>();
    for (const p of pods) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    expect(perNode.size).toBe(5);
    for (const n of perNode.values()) expect(n).toBeGreaterThanOrEqual(4);
  });

  it('a rolling update with maxUnavailable 0 never drops below 30 available; undo restores the template with revision 3', async () => {
    const d = await json(['get', 'deploy', 'big']);
    const w = env.watch(`/apis/apps/v1/namespaces/default/deployments?watch=true&fieldSelector=metadata.name%3Dbig&resourceVersion=${d.metadata.resourceVersion}`);
    try {
      await kubectl(['set', 'image', 'deploy/big', 'web=nginx:1.26']);
      expect(await kubectl(['rollout', 'status', 'deploy/big', '--timeout=150s'])).toContain('successfully rolled out');
      const seen = w.events.filter((e) => e.type === 'MODIFIED').map((e) => e.object.status.availableReplicas ?? 0);
      expect(seen.length).toBeGreaterThan(0);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(30);
    } finally {
      w.stop();
    }
    const after = await json(['get', 'deploy', 'big']);
    expect(after.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
    await kubectl(['rollout', 'undo', 'deploy/big']);
    expect(await kubectl(['rollout', 'status', 'deploy/big', '--timeout=150s'])).toContain('successfully rolled out');
    const undone = await json(['get', 'deploy', 'big']);
    expect(undone.spec.template.spec.containers[0].image).toBe('nginx:1.25');
    expect(undone.metadata.annotations['deployment.kubernetes.io/revision']).toBe('3');
  });

  it('scale 30 -> 5 -> 12: exact counts at rest, no overshoot on the watch', async () => {
    const livePods = async () => ((await json(['get', 'pods', '-l', 'app=big'])).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
    await kubectl(['scale', 'deploy/big', '--replicas=5']);
    await waitFor(async () => (await livePods()).length === 5, { timeoutMs: 60_000, description: '5 pods at rest' });
    const list = await json(['get', 'pods', '-l', 'app=big']);
    const w = env.watch(`/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dbig&resourceVersion=${list.metadata.resourceVersion}`);
    const live = new Set<string>((list.items as any[]).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name));
    let max = live.size;
    let seen = 0;
    const follow = () => {
      for (; seen < w.events.length; seen++) {
        const e = w.events[seen];
        const name = e.object.metadata.name;
        if (e.type === 'DELETED' || e.object.metadata.deletionTimestamp) live.delete(name);
        else live.add(name);
        max = Math.max(max, live.size);
      }
    };
    try {
      await kubectl(['scale', 'deploy/big', '--replicas=12']);
      await waitFor(async () => {
        follow();
        return (await livePods()).length === 12 && (await json(['get', 'deploy', 'big'])).status.availableReplicas === 12;
      }, { timeoutMs: 90_000, description: '12 pods available' });
      follow();
      expect(max).toBe(12);
    } finally {
      w.stop();
    }
  });
});

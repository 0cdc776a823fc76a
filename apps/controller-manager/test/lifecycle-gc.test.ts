import { ControlPlane, builtApp, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(180_000);

const deployment = (name: string, replicas: number, ns = 'default') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: ns },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [{ name: 'web', image: 'nginx:1.25', resources: { requests: { cpu: '10m', memory: '16Mi' } } }],
        // A short unreachable toleration so the node-loss test is fast (the API server adds 300 s otherwise).
        tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 3 }],
      },
    },
  },
});

/**
 * The garbage collector, namespace and node lifecycle controllers with every
 * component a real process: kubets-kv, nats-server, kubets-apiserver,
 * kubets-scheduler, kubets-controller-manager and two hollow kubelet
 * processes (2 nodes each), driven by stock kubectl.
 */
describe('garbage collector, namespace and node lifecycle controllers', () => {
  let env: ControlPlane;
  const procs: ManagedProcess[] = [];
  let groupA: ManagedProcess;

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- last logs:\n${procs.map((p) => p.tail(10)).join('\n')}`);
    return r.stdout;
  };
  const json = async (args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json']));
  const items = async (args: string[]) => (await json(args)).items as any[];
  const exists = async (args: string[]) => (await env.kubectl(['get', ...args, '-o', 'name'])).code === 0;

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    const common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
    const start = async (name: string, app: string, args: string[], ready: RegExp) => {
      const p = spawnProcess({ name, command: process.execPath, args: [builtApp(app), ...common, ...args] });
      procs.push(p);
      await p.waitForLog(ready, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
      });
      return p;
    };
    const hollow = (prefix: string) => ['--hollow', '--hollow-nodes=2', `--hostname-override=${prefix}`, '--node-lease-duration-seconds=4', '--healthz-bind-address=127.0.0.1:0'];
    groupA = await start('hollow-a', 'kubelet', hollow('ga'), /hollow node\(s\) running/);
    await start('hollow-b', 'kubelet', hollow('gb'), /hollow node\(s\) running/);
    await start('scheduler', 'scheduler', ['--bind-address=127.0.0.1', '--secure-port=0'], /leading as .*scheduling/);
    await start(
      'controller-manager',
      'controller-manager',
      ['--bind-address=127.0.0.1', '--secure-port=0', '--node-monitor-period=500ms', '--node-monitor-grace-period=5s', '--default-unreachable-toleration-seconds=3'],
      /controllers running/,
    );
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await env?.dispose();
  });

  const rollout = async (name: string, replicas: number, ns = 'default') => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(deployment(name, replicas, ns)));
    await kubectl(['rollout', 'status', `deploy/${name}`, '-n', ns, '--timeout=60s']);
    expect(await items(['get', 'rs', '-n', ns, '-l', `app=${name}`])).toHaveLength(1);
    expect(await items(['get', 'pods', '-n', ns, '-l', `app=${name}`])).toHaveLength(replicas);
  };

  it('Background: deleting a Deployment garbage-collects its ReplicaSet and pods', async () => {
    await rollout('bg', 3);
    await kubectl(['delete', 'deploy', 'bg', '--cascade=background']);
    await waitFor(async () => (await items(['get', 'rs', '-l', 'app=bg'])).length === 0, { timeoutMs: 30_000, description: 'ReplicaSet collected' });
    await waitFor(async () => (await items(['get', 'pods', '-l', 'app=bg'])).length === 0, { timeoutMs: 30_000, description: 'pods collected' });
  });

  it('Foreground: the ReplicaSet and pods go first, then the Deployment', async () => {
    await rollout('fg', 3);
    const d = await json(['get', 'deploy', 'fg']);
    const rsName = (await items(['get', 'rs', '-l', 'app=fg']))[0].metadata.name;
    const wd = env.watch(`/apis/apps/v1/namespaces/default/deployments?watch=true&fieldSelector=metadata.name%3Dfg&resourceVersion=${d.metadata.resourceVersion}`);
    const wr = env.watch(`/apis/apps/v1/namespaces/default/replicasets?watch=true&fieldSelector=metadata.name%3D${rsName}&resourceVersion=${d.metadata.resourceVersion}`);
    try {
      // kubectl waits for the Deployment to disappear (after its dependents).
      await kubectl(['delete', 'deploy', 'fg', '--cascade=foreground', '--timeout=60s']);
      expect(await exists(['deploy', 'fg'])).toBe(false);
      expect(await items(['get', 'rs', '-l', 'app=fg'])).toHaveLength(0);
      await waitFor(async () => (await items(['get', 'pods', '-l', 'app=fg'])).length === 0, { timeoutMs: 30_000, description: 'pods gone' });
      await waitFor(() => wd.events.some((e) => e.type === 'DELETED') && wr.events.some((e) => e.type === 'DELETED'), { timeoutMs: 10_000, description: 'DELETED events' });
      // The Deployment carried foregroundDeletion while its ReplicaSet was deleted, and went last.
      expect(wd.events.some((e) => e.type === 'MODIFIED' && (e.object.metadata.finalizers ?? []).includes('foregroundDeletion'))).toBe(true);
      const rv = (w: { events: any[] }) => Number(w.events.find((e) => e.type === 'DELETED').object.metadata.resourceVersion);
      expect(rv(wr)).toBeLessThan(rv(wd));
    } finally {
      wd.stop();
      wr.stop();
    }
  });

  it('Orphan: the ReplicaSet and pods stay, without the ownerReference', async () => {
    await rollout('orph', 2);
    const d = await json(['get', 'deploy', 'orph']);
    await kubectl(['delete', 'deploy', 'orph', '--cascade=orphan', '--timeout=60s']);
    expect(await exists(['deploy', 'orph'])).toBe(false);
    const rss = await items(['get', 'rs', '-l', 'app=orph']);
    expect(rss).toHaveLength(1);
    expect((rss[0].metadata.ownerReferences ?? []).some((r: any) => r.uid === d.metadata.uid)).toBe(false);
    const pods = await items(['get', 'pods', '-l', 'app=orph']);
    expect(pods).toHaveLength(2);
    expect(pods.every((p) => !p.metadata.deletionTimestamp && p.metadata.ownerReferences?.[0]?.uid === rss[0].metadata.uid)).toBe(true);
    // Deleting the orphaned ReplicaSet itself (Background) then collects its pods.
    await kubectl(['delete', 'rs', rss[0].metadata.name]);
    await waitFor(async () => (await items(['get', 'pods', '-l', 'app=orph'])).length === 0, { timeoutMs: 30_000, description: 'pods of the orphaned RS collected once it is deleted' });
  });

  it('deleting a namespace deletes everything in it, then the namespace', async () => {
    await kubectl(['create', 'namespace', 'doomed']);
    await rollout('app', 2, 'doomed');
    await kubectl(['create', 'configmap', 'cfg', '-n', 'doomed', '--from-literal=a=b']);
    await kubectl(['create', 'service', 'clusterip', 'svc', '-n', 'doomed', '--tcp=80:80']);
    await kubectl(['delete', 'namespace', 'doomed', '--timeout=60s']);
    expect(await exists(['namespace', 'doomed'])).toBe(false);
    for (const kind of ['deploy', 'rs', 'pods', 'configmaps', 'services']) expect(await items(['get', kind, '-n', 'doomed'])).toHaveLength(0);
  });

  it('a lost node group: its nodes go Unknown with the unreachable taint and their pods are recreated on the other nodes', async () => {
    await rollout('lost', 6);
    const onA = (pods: any[]) => pods.filter((p) => String(p.spec.nodeName).startsWith('ga-'));
    expect(onA(await items(['get', 'pods', '-l', 'app=lost'])).length).toBeGreaterThan(0);
    await groupA.kill();
    const nodesA = async () => (await items(['get', 'nodes'])).filter((n) => n.metadata.name.startsWith('ga-'));
    await waitFor(
      async () =>
        (await nodesA()).every((n) => {
          const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
          const taints = (n.spec.taints ?? []).map((t: any) => `${t.key}:${t.effect}`);
          return ready.status === 'Unknown' && ready.reason === 'NodeStatusUnknown' && taints.includes('node.kubernetes.io/unreachable:NoExecute') && taints.includes('node.kubernetes.io/unreachable:NoSchedule');
        }),
      { timeoutMs: 20_000, description: 'group A nodes Unknown and tainted unreachable' },
    );
    expect((await nodesA())[0].status.conditions.find((c: any) => c.type === 'Ready').message).toBe('Kubelet stopped posting node status.');
    expect(await kubectl(['get', 'nodes'])).toMatch(/ga-0\s+NotReady/);
    await waitFor(
      async () => {
        const pods = await items(['get', 'pods', '-l', 'app=lost']);
        return pods.length === 6 && onA(pods).length === 0 && pods.every((p) => p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
      },
      { timeoutMs: 40_000, description: '6 Running pods, none on group A' },
    );
    await kubectl(['rollout', 'status', 'deploy/lost', '--timeout=30s']);
  });
});

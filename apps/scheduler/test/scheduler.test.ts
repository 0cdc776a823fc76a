import { ControlPlane, builtApp, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(120_000);

/**
 * kubets-scheduler against a real control plane (kubets-kv, nats-server,
 * kubets-apiserver) and hollow nodes, driven with stock kubectl. Two scheduler
 * replicas run throughout; one is the leader.
 */
describe('kubets-scheduler', () => {
  let env: ControlPlane;
  const kubelets: ManagedProcess[] = [];
  const schedulers: ManagedProcess[] = [];

  const startKubelet = async (args: string[]) => {
    const p = spawnProcess({
      name: 'hollow-kubelet',
      command: process.execPath,
      args: [
        builtApp('kubelet'),
        '--hollow',
        `--kubeconfig=${env.kubeconfig}`,
        `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`,
        `--nats-url=${env.nats!.url}`,
        '--healthz-bind-address=127.0.0.1:0',
        ...args,
      ],
    });
    kubelets.push(p);
    await p.waitForLog(/hollow node\(s\) running/, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
    });
    return p;
  };

  const startScheduler = (name: string) => {
    const p = spawnProcess({
      name,
      command: process.execPath,
      args: [
        builtApp('scheduler'),
        `--kubeconfig=${env.kubeconfig}`,
        `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`,
        `--nats-url=${env.nats!.url}`,
        '--bind-address=127.0.0.1',
        '--secure-port=0',
        '--leader-elect-lease-duration=4s',
        '--leader-elect-renew-deadline=3s',
        '--leader-elect-retry-period=500ms',
      ],
    });
    schedulers.push(p);
    return p;
  };

  const kubectlJson = async (args: string[]) => {
    const r = await env.kubectl([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };

  const createPods = async (prefix: string, n: number, cpu: string, extra: Record<string, unknown> = {}) => {
    const items = Array.from({ length: n }, (_, i) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${prefix}-${i}`, namespace: 'default', labels: { app: prefix }, ...extra },
      spec: { containers: [{ name: 'c', image: 'nginx:1.25', resources: { requests: { cpu, memory: '64Mi' } } }] },
    }));
    const r = await env.kubectl(['create', '--validate=false', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  };

  const runningPods = async (app: string) => {
    const list = await kubectlJson(['get', 'pods', '-l', `app=${app}`]);
    return (list.items as any[]).filter((p) => p.status?.phase === 'Running');
  };

  const leader = async () => {
    await waitFor(() => schedulers.some((s) => s.running && s.logs().includes('leading as')), { timeoutMs: 20_000, description: 'a scheduler leads' });
    return schedulers.find((s) => s.running && s.logs().includes('leading as'))!;
  };

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    await startKubelet(['--hostname-override=hollow', '--hollow-nodes=5', '--hollow-cpu=4', '--hollow-memory=16Gi']);
    const a = startScheduler('scheduler-a');
    const b = startScheduler('scheduler-b');
    for (const s of [a, b]) {
      await s.waitForLog(/waiting for the leader lease/, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${s.tail(30)}`);
      });
    }
  });

  afterAll(async () => {
    await Promise.all(schedulers.map((s) => s.stop()));
    await Promise.all(kubelets.map((k) => k.stop()));
    await env?.dispose();
  });

  it('schedules 30 pods of a ReplicaSet onto 5 hollow nodes, 6 per node, with Scheduled events', async () => {
    await leader();
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 30, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } } },
    };
    expect((await env.kubectl(['create', '-f', '-'], { input: JSON.stringify(rs) })).code).toBe(0);
    const uid = (await kubectlJson(['get', 'rs', 'web'])).metadata.uid;
    await createPods('web', 30, '100m', { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid, controller: true, blockOwnerDeletion: true }] });
    await waitFor(async () => (await runningPods('web')).length === 30, { timeoutMs: 30_000, intervalMs: 300, description: '30 pods Running' });
    const perNode = new Map<string, number>();
    for (const p of await runningPods('web')) perNode.set(p.spec.nodeName, (perNode.get(p.spec.nodeName) ?? 0) + 1);
    expect([...perNode.keys()].sort()).toEqual(['hollow-0', 'hollow-1', 'hollow-2', 'hollow-3', 'hollow-4']);
    expect([...perNode.values()]).toEqual([6, 6, 6, 6, 6]);
    const ev = await kubectlJson(['get', 'events', '--field-selector', 'involvedObject.name=web-7,reason=Scheduled']);
    expect(ev.items).toHaveLength(1);
    expect(ev.items[0]).toMatchObject({ type: 'Normal', source: { component: 'default-scheduler' } });
    expect(ev.items[0].message).toMatch(/^Successfully assigned default\/web-7 to hollow-[0-4]$/);
  });

  it('keeps a pod that fits nowhere Pending with FailedScheduling, and schedules it when a big node joins', async () => {
    await createPods('huge', 1, '100');
    const events = async () => (await kubectlJson(['get', 'events', '--field-selector', 'involvedObject.name=huge-0,reason=FailedScheduling'])).items as any[];
    const failed = await waitFor(async () => (await events())[0], { timeoutMs: 15_000, intervalMs: 300, description: 'a FailedScheduling event' });
    expect(failed).toMatchObject({ type: 'Warning', source: { component: 'default-scheduler' } });
    expect(failed.message).toMatch(/^0\/5 nodes are available: 5 Insufficient cpu\./);
    const pod = await waitFor(
      async () => {
        const p = await kubectlJson(['get', 'pod', 'huge-0']);
        return (p.status?.conditions ?? []).some((c: any) => c.type === 'PodScheduled') ? p : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 300, description: 'the PodScheduled condition' },
    );
    expect(pod.status.phase).toBe('Pending');
    expect(pod.spec.nodeName).toBeUndefined();
    expect(pod.status.conditions.find((c: any) => c.type === 'PodScheduled')).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(pod.status.conditions.find((c: any) => c.type === 'PodScheduled').message).toMatch(/^0\/5 nodes are available: 5 Insufficient cpu\./);

    await startKubelet(['--hostname-override=big', '--hollow-nodes=1', '--hollow-cpu=200', '--hollow-memory=64Gi']);
    await waitFor(async () => (await runningPods('huge')).length === 1, { timeoutMs: 20_000, intervalMs: 300, description: 'the big pod Running' });
    expect((await kubectlJson(['get', 'pod', 'huge-0'])).spec.nodeName).toBe('big');
  });

  it('a standby takes over within the lease duration when the leader is killed; no pod is bound twice', async () => {
    await leader();
    // The leader now is the Lease's holder (under heavy load leadership may
    // have moved before: a lease not renewed in time is lost, as it should be).
    const holder = String((await kubectlJson(['get', 'lease', '-n', 'kube-system', 'kube-scheduler'])).spec.holderIdentity);
    const first = schedulers.find((s) => s.running && s.logs().includes(`leading as ${holder}`))!;
    expect(first).toBeDefined();
    const standby = schedulers.find((s) => s !== first)!;
    const timesLed = (s: ManagedProcess) => s.logs().split('leading as').length - 1;
    const before = timesLed(standby);
    await first.kill();
    const t0 = Date.now();
    await waitFor(() => timesLed(standby) > before, { timeoutMs: 10_000, intervalMs: 100, description: 'the standby to take the lease', context: () => standby.tail(20) });
    // lease 4 s, plus a retry period and the jitter
    expect(Date.now() - t0).toBeLessThan(8_000);
    await createPods('after', 5, '100m');
    await waitFor(async () => (await runningPods('after')).length === 5, { timeoutMs: 20_000, intervalMs: 300, description: '5 more pods Running' });

    const scheduled = (await kubectlJson(['get', 'events', '--field-selector', 'reason=Scheduled'])).items as any[];
    const perPod = new Map<string, number>();
    for (const e of scheduled) perPod.set(e.involvedObject.name, (perPod.get(e.involvedObject.name) ?? 0) + Number(e.count ?? 1));
    expect(perPod.size).toBe(36);
    for (const [name, n] of perPod) expect([name, n]).toEqual([name, 1]);
  });
});

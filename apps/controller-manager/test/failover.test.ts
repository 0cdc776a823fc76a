import { ControlPlane, builtApp, freePort, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(300_000);

const LEASE_MS = 4_000;
const RENEW_MS = 3_000;
const RETRY_MS = 1_000;

const deployment = (replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'fo', namespace: 'default' },
  spec: {
    replicas,
    selector: { matchLabels: { app: 'fo' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 0 } },
    template: { metadata: { labels: { app: 'fo' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25', resources: { requests: { cpu: '10m', memory: '16Mi' } } }] } },
  },
});

/**
 * The failover acceptance with real processes: two
 * kubets-controller-manager replicas (lease 4 s, renew deadline 3 s, retry
 * 1 s) on kubets-kv, nats-server, kubets-apiserver, kubets-scheduler and 3
 * hollow nodes. The leader is killed with SIGKILL in the middle of a scale-up;
 * the standby must take the kube-system/kube-controller-manager Lease within
 * the lease duration (plus its retry period and a margin for this loaded
 * machine) and finish the scale-up without creating any pod twice.
 */
describe('controller-manager failover (2 replicas, kill -9 the leader)', () => {
  let env: ControlPlane;
  const procs: ManagedProcess[] = [];
  const cms: ManagedProcess[] = [];

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- last logs:\n${procs.map((p) => p.tail(15)).join('\n')}`);
    return r.stdout;
  };
  const json = async (args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json']));
  const identityOf = async (p: ManagedProcess) => (await p.waitForLog(/waiting for the kube-system\/kube-controller-manager lease \(identity /, 60_000)).match(/\(identity ([^)]+)\)/)![1]!;

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    const common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
    const start = (name: string, app: string, args: string[]) => {
      const p = spawnProcess({ name, command: process.execPath, args: [builtApp(app), ...common, ...args] });
      procs.push(p);
      return p;
    };
    const ready = async (p: ManagedProcess, re: RegExp) =>
      p.waitForLog(re, 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
      });
    const kubelet = start('hollow-kubelet', 'kubelet', ['--hollow', '--hollow-nodes=3', '--hostname-override=fo', `--healthz-bind-address=127.0.0.1:${await freePort()}`]);
    const scheduler = start('scheduler', 'scheduler', ['--bind-address=127.0.0.1', '--secure-port=0']);
    const le = [`--leader-elect-lease-duration=${LEASE_MS}ms`, `--leader-elect-renew-deadline=${RENEW_MS}ms`, `--leader-elect-retry-period=${RETRY_MS}ms`];
    for (const i of [0, 1]) cms.push(start(`controller-manager-${i}`, 'controller-manager', ['--bind-address=127.0.0.1', '--secure-port=0', ...le]));
    await ready(kubelet, /hollow node\(s\) running/);
    await ready(scheduler, /leading as .*scheduling/);
    // Exactly one replica leads; the other waits.
    await waitFor(async () => cms.some((p) => /controllers running/.test(p.logs())), { timeoutMs: 60_000, description: 'a controller manager leading' });
    for (const p of cms) await identityOf(p);
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await env?.dispose();
  });

  it('the standby takes over within the lease duration and the scale-up ends with exactly 20 pods, none created twice', async () => {
    // Who leads, from the Lease and from the logs.
    const lease = await json(['get', 'lease', '-n', 'kube-system', 'kube-controller-manager']);
    const holder = lease.spec.holderIdentity as string;
    expect(lease.spec.leaseDurationSeconds).toBe(LEASE_MS / 1000);
    const ids = await Promise.all(cms.map(identityOf));
    const li = ids.indexOf(holder);
    expect(li).toBeGreaterThanOrEqual(0);
    const leader = cms[li]!;
    const standby = cms[1 - li]!;
    expect(leader.logs()).toMatch(/controllers running/);
    expect(standby.logs()).not.toMatch(/controllers running/);
    expect(standby.logs()).not.toMatch(/"msg":"became leader"/);

    // Every write of the Lease from here on.
    const leaseWatch = env.watch(
      `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?watch=true&fieldSelector=metadata.name%3Dkube-controller-manager&resourceVersion=${lease.metadata.resourceVersion}`,
    );
    await waitFor(() => leaseWatch.status() === 200, { timeoutMs: 10_000, description: 'lease watch open' });

    await kubectl(['apply', '-f', '-'], JSON.stringify(deployment(10)));
    expect(await kubectl(['rollout', 'status', 'deploy/fo', '--timeout=90s'])).toContain('successfully rolled out');

    // Follow every pod of the Deployment from here on: the number of live pods
    // (not being deleted) must never exceed the desired count, and every pod
    // name seen is one creation.
    const list = await json(['get', 'pods', '-l', 'app=fo']);
    const live = new Set<string>((list.items as any[]).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name));
    expect(live.size).toBe(10);
    const created = new Set<string>(live);
    const w = env.watch(`/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dfo&resourceVersion=${list.metadata.resourceVersion}`);
    let max = live.size;
    let seen = 0;
    const follow = () => {
      for (; seen < w.events.length; seen++) {
        const e = w.events[seen];
        if (e.type === 'ERROR') throw new Error(`pod watch failed: ${JSON.stringify(e.object)}`);
        const name = e.object.metadata.name as string;
        created.add(name);
        if (e.type === 'DELETED' || e.object.metadata.deletionTimestamp) live.delete(name);
        else live.add(name);
        max = Math.max(max, live.size);
      }
    };
    try {
      await waitFor(() => w.status() === 200, { timeoutMs: 10_000, description: 'pod watch open' });
      // Scale up and kill the leader as soon as it has started creating pods:
      // it dies in the middle of the scale-up.
      await kubectl(['scale', 'deploy/fo', '--replicas=16']);
      await waitFor(
        () => {
          follow();
          return live.size > 10;
        },
        { timeoutMs: 30_000, intervalMs: 5, description: 'the leader creating pods' },
      );
      const killedAt = Date.now();
      leader.signal('SIGKILL');
      // More work for the standby, while nobody leads.
      await kubectl(['scale', 'deploy/fo', '--replicas=20']);
      await leader.waitForExit(10_000);
      expect(leader.exitSignal).toBe('SIGKILL');

      await standby.waitForLog(/"msg":"became leader"/, LEASE_MS + 20_000).catch((e) => {
        throw new Error(`${(e as Error).message}\n${standby.tail(30)}`);
      });
      const tookOverMs = Date.now() - killedAt;
      // Within the lease duration, plus the standby's retry period (x1.2
      // jitter) and a margin for a loaded 2-core machine.
      expect(tookOverMs).toBeLessThan(LEASE_MS + 1.2 * RETRY_MS + 5_000);
      const after = await json(['get', 'lease', '-n', 'kube-system', 'kube-controller-manager']);
      expect(after.spec.holderIdentity).toBe(ids[1 - li]);
      expect(Number(after.spec.leaseTransitions ?? 0)).toBe(Number(lease.spec.leaseTransitions ?? 0) + 1);
      // And not before the lease expired: on the Lease's own record, the
      // standby acquired it at least a lease duration after the dead leader's
      // last renewal (one holder at a time), and only once.
      await waitFor(() => leaseWatch.events.some((e) => e.object.spec.holderIdentity === ids[1 - li]), { timeoutMs: 10_000, description: 'the takeover on the lease watch' });
      const writes = leaseWatch.events.filter((e) => e.type === 'MODIFIED').map((e) => e.object.spec);
      const firstNew = writes.findIndex((sp) => sp.holderIdentity === ids[1 - li]);
      const lastOld = writes.slice(0, firstNew).filter((sp) => sp.holderIdentity === holder).pop() ?? lease.spec;
      expect(writes.slice(firstNew).every((sp) => sp.holderIdentity === ids[1 - li])).toBe(true);
      const gapMs = Date.parse(writes[firstNew].acquireTime) - Date.parse(lastOld.renewTime);
      expect(gapMs).toBeGreaterThanOrEqual(LEASE_MS);
      expect(gapMs).toBeLessThan(LEASE_MS + 2.2 * RETRY_MS + 5_000);
      leaseWatch.stop();
      await standby.waitForLog(/controllers running/, 30_000);

      expect(await kubectl(['rollout', 'status', 'deploy/fo', '--timeout=120s'])).toContain('successfully rolled out');
      await waitFor(
        async () => {
          follow();
          const d = await json(['get', 'deploy', 'fo']);
          return live.size === 20 && d.status.replicas === 20 && d.status.availableReplicas === 20 && d.status.observedGeneration === d.metadata.generation;
        },
        { timeoutMs: 60_000, description: 'deployment at 20 available pods' },
      );
      follow();
      expect(w.ended()).toBe(false);
      expect(max).toBe(20);
      // 10 before, 10 created by the two replicas together: none twice.
      expect(created.size).toBe(20);
      const pods = ((await json(['get', 'pods', '-l', 'app=fo'])).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
      expect(pods).toHaveLength(20);
      expect(new Set(pods.map((p) => p.metadata.name))).toEqual(created);
      expect(pods.every((p) => p.status?.phase === 'Running')).toBe(true);
      // One ReplicaSet for the one template, owning all of them.
      const rss = (await json(['get', 'rs', '-l', 'app=fo'])).items as any[];
      expect(rss).toHaveLength(1);
      expect(rss[0].spec.replicas).toBe(20);
      for (const p of pods) expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', name: rss[0].metadata.name, uid: rss[0].metadata.uid, controller: true });
      // The survivor still leads (it renews) and the dead one did not come back.
      expect((await json(['get', 'lease', '-n', 'kube-system', 'kube-controller-manager'])).spec.holderIdentity).toBe(ids[1 - li]);
      expect(standby.exitCode).toBeUndefined();
    } finally {
      w.stop();
      leaseWatch.stop();
    }
  });
});

import { ControlPlane, builtApp, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(180_000);

/**
 * The DaemonSet, Endpoints and EndpointSlice controllers with every component
 * a real process: kubets-kv, nats-server, kubets-apiserver, kubets-scheduler
 * (binds the daemon pods), kubets-controller-manager and hollow kubelets,
 * driven by stock kubectl.
 */
describe('DaemonSet, Endpoints, EndpointSlice and node IPAM controllers', () => {
  let env: ControlPlane;
  const procs: ManagedProcess[] = [];

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- last logs:\n${procs.map((p) => p.tail(10)).join('\n')}`);
    return r.stdout;
  };
  const json = async (args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json']));
  const items = async (args: string[]) => (await json(args)).items as any[];

  let common: string[];
  const start = async (name: string, app: string, args: string[], ready: RegExp) => {
    const p = spawnProcess({ name, command: process.execPath, args: [builtApp(app), ...common, ...args] });
    procs.push(p);
    await p.waitForLog(ready, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
    });
    return p;
  };
  const hollow = (prefix: string, n: number) => ['--hollow', `--hollow-nodes=${n}`, `--hostname-override=${prefix}`, '--healthz-bind-address=127.0.0.1:0'];

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
    await start('hollow-a', 'kubelet', hollow('da', 3), /hollow node\(s\) running/);
    await start('scheduler', 'scheduler', ['--bind-address=127.0.0.1', '--secure-port=0'], /leading as .*scheduling/);
    await start('controller-manager', 'controller-manager', ['--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false', '--allocate-node-cidrs', '--cluster-cidr=10.244.0.0/16'], /controllers running/);
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    await env?.dispose();
  });

  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'default' },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: {
        metadata: { labels: { app: 'agent' } },
        spec: { containers: [{ name: 'agent', image: 'busybox:1.36', resources: { requests: { cpu: '10m', memory: '8Mi' } } }] },
      },
    },
  };

  const daemonPods = async () => (await items(['get', 'pods', '-l', 'app=agent'])).filter((p) => !p.metadata.deletionTimestamp);
  const onePerNode = async (n: number) => {
    const pods = await daemonPods();
    const running = pods.filter((p) => p.status?.phase === 'Running' && p.spec.nodeName);
    return pods.length === n && running.length === n && new Set(running.map((p) => p.spec.nodeName)).size === n;
  };

  it('a DaemonSet runs exactly one pod per node, including on a node added later', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(daemonSet));
    await waitFor(() => onePerNode(3), { timeoutMs: 30_000, description: 'one Running daemon pod on each of the 3 nodes' });
    const pods = await daemonPods();
    const p = pods[0];
    // Pinned to its node by required node affinity on metadata.name, with the daemon tolerations.
    const term = p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0];
    expect(term.matchFields).toEqual([{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }]);
    expect(p.spec.tolerations.map((t: any) => t.key)).toEqual(
      expect.arrayContaining(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable', 'node.kubernetes.io/disk-pressure', 'node.kubernetes.io/unschedulable']),
    );
    expect(p.metadata.labels['controller-revision-hash']).toBeTruthy();
    expect(p.metadata.ownerReferences[0]).toMatchObject({ kind: 'DaemonSet', name: 'agent', controller: true });
    await waitFor(
      async () => {
        const s = (await json(['get', 'ds', 'agent'])).status ?? {};
        return s.desiredNumberScheduled === 3 && s.currentNumberScheduled === 3 && s.numberReady === 3 && s.numberAvailable === 3 && s.updatedNumberScheduled === 3 && s.numberMisscheduled === 0 && s.observedGeneration === 1;
      },
      { timeoutMs: 20_000, description: 'DaemonSet status 3/3' },
    );

    // One more hollow node in a second kubelet process (named `db`: a single hollow node takes the name as is).
    await start('hollow-b', 'kubelet', hollow('db', 1), /hollow node\(s\) running/);
    await waitFor(() => onePerNode(4), { timeoutMs: 30_000, description: 'a 4th daemon pod on the new node' });
    expect((await daemonPods()).some((x) => x.spec.nodeName === 'db')).toBe(true);
    await waitFor(async () => (await json(['get', 'ds', 'agent'])).status?.numberReady === 4, { timeoutMs: 20_000, description: 'numberReady 4' });

    // A node that becomes ineligible (untolerated NoExecute taint) loses its pod; removing the taint brings it back.
    await kubectl(['taint', 'nodes', 'db', 'dedicated=db:NoExecute']);
    await waitFor(async () => !(await daemonPods()).some((x) => x.spec.nodeName === 'db') && (await json(['get', 'ds', 'agent'])).status?.desiredNumberScheduled === 3, {
      timeoutMs: 20_000,
      description: 'the daemon pod leaves the tainted node',
    });
    await kubectl(['taint', 'nodes', 'db', 'dedicated=db:NoExecute-']);
    await waitFor(() => onePerNode(4), { timeoutMs: 30_000, description: 'the daemon pod is back on the untainted node' });
  });

  it('node IPAM: every node, the one added later too, has its own /24 pod CIDR from --cluster-cidr', async () => {
    const cidrs = async () => (await items(['get', 'nodes'])).map((n) => [n.metadata.name, n.spec?.podCIDR, n.spec?.podCIDRs] as [string, string?, string[]?]);
    await waitFor(async () => (await cidrs()).length === 4 && (await cidrs()).every(([, c]) => !!c), { timeoutMs: 20_000, description: 'a podCIDR on all 4 nodes', context: () => procs.map((p) => p.tail(5)).join('\n') });
    const got = await cidrs();
    for (const [, c, cs] of got) {
      expect(c).toMatch(/^10\.244\.\d{1,3}\.0\/24$/);
      expect(cs).toEqual([c]);
    }
    expect(new Set(got.map(([, c]) => c)).size).toBe(4);
  });

  it('a DaemonSet rolling update replaces every pod (maxUnavailable 1)', async () => {
    const before = new Set((await daemonPods()).map((p) => p.metadata.labels['controller-revision-hash']));
    expect(before.size).toBe(1);
    await kubectl(['set', 'image', 'ds/agent', 'agent=busybox:1.37']);
    await kubectl(['rollout', 'status', 'ds/agent', '--timeout=60s']);
    await waitFor(
      async () => {
        const pods = await daemonPods();
        return (await onePerNode(4)) && pods.every((p) => p.spec.containers[0].image === 'busybox:1.37' && !before.has(p.metadata.labels['controller-revision-hash']));
      },
      { timeoutMs: 30_000, description: 'every daemon pod on the new template' },
    );
    const s = (await json(['get', 'ds', 'agent'])).status;
    expect(s).toMatchObject({ desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4, observedGeneration: 2 });
  });

  it("a Service's Endpoints and EndpointSlice list exactly the ready pods it selects", async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'web', image: 'nginx:1.25', ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: { cpu: '10m', memory: '16Mi' } } }] },
        },
      },
    };
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(deployment));
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=60s']);
    await kubectl(['apply', '-f', '-'], JSON.stringify(service));

    const podIPs = async () => (await items(['get', 'pods', '-l', 'app=web'])).filter((p) => !p.metadata.deletionTimestamp && p.status?.podIP).map((p) => p.status.podIP as string).sort();
    const endpointIPs = async () => {
      const ep = await json(['get', 'endpoints', 'web']);
      return ((ep.subsets ?? []) as any[]).flatMap((s) => (s.addresses ?? []).map((a: any) => a.ip as string)).sort();
    };
    const slices = async () => items(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
    const sliceIPs = async () =>
      (await slices())
        .flatMap((s) => (s.endpoints ?? []) as any[])
        .filter((e) => e.conditions?.ready)
        .map((e) => e.addresses[0] as string)
        .sort();
    const converged = async (n: number) => {
      const ips = await podIPs();
      if (ips.length !== n) return false;
      const [a, b] = [await endpointIPs().catch(() => []), await sliceIPs()];
      return JSON.stringify(a) === JSON.stringify(ips) && JSON.stringify(b) === JSON.stringify(ips) && (await slices()).flatMap((s) => s.endpoints ?? []).length === n;
    };
    await waitFor(() => converged(3), { timeoutMs: 30_000, description: 'Endpoints and EndpointSlice list the 3 ready pods' });

    const ep = await json(['get', 'endpoints', 'web']);
    expect(ep.subsets).toHaveLength(1);
    expect(ep.subsets[0].ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    expect(ep.subsets[0].notReadyAddresses).toBeUndefined();
    for (const a of ep.subsets[0].addresses) {
      expect(a.nodeName).toBeTruthy();
      expect(a.targetRef).toMatchObject({ kind: 'Pod', namespace: 'default' });
    }
    const svc = await json(['get', 'service', 'web']);
    const [slice] = await slices();
    expect(slice.metadata.name).toMatch(/^web-[a-z0-9]+$/);
    expect(slice.metadata.labels['endpointslice.kubernetes.io/managed-by']).toBe('endpointslice-controller.k8s.io');
    expect(slice.metadata.ownerReferences[0]).toMatchObject({ kind: 'Service', name: 'web', uid: svc.metadata.uid, controller: true });
    expect(slice.addressType).toBe('IPv4');
    expect(slice.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    for (const e of slice.endpoints) {
      expect(e.conditions).toEqual({ ready: true, serving: true, terminating: false });
      expect(e.nodeName).toBeTruthy();
      expect(e.targetRef).toMatchObject({ kind: 'Pod', namespace: 'default' });
    }
    // The API server's own `kubernetes` Service (no selector) is left alone: no slice from this controller.
    expect(await items(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=kubernetes,endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io'])).toHaveLength(0);

    await kubectl(['scale', 'deploy/web', '--replicas=1']);
    await waitFor(() => converged(1), { timeoutMs: 30_000, description: 'Endpoints and EndpointSlice shrink to the 1 remaining pod' });

    await kubectl(['delete', 'service', 'web']);
    await waitFor(async () => (await env.kubectl(['get', 'endpoints', 'web', '-o', 'name'])).code !== 0 && (await slices()).length === 0, {
      timeoutMs: 20_000,
      description: 'Endpoints and EndpointSlice removed with the Service',
    });
  });
});

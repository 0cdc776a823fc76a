import { ControlPlane, builtApp, freePort, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(180_000);

/** Hollow nodes against a real control plane (kubets-kv, nats-server, kubets-apiserver), checked with stock kubectl. */
describe('kubets-kubelet --hollow', () => {
  let env: ControlPlane;
  let kubelet: ManagedProcess;

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
        `--healthz-bind-address=127.0.0.1:${await freePort()}`,
        '--node-lease-duration-seconds=8',
        ...args,
      ],
    });
    await p.waitForLog(/hollow node\(s\) running/, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
    });
    return p;
  };

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    kubelet = await startKubelet(['--hostname-override=hollow', '--hollow-nodes=3', '--hollow-cpu=2', '--hollow-memory=4Gi', '--node-labels=zone=a', '--register-with-taints=dedicated=test:PreferNoSchedule']);
  });
  afterAll(async () => {
    await kubelet?.stop();
    await env?.dispose();
  });

  it('registers Ready nodes with capacity, labels and taints, and renews their Leases', async () => {
    const r = await env.kubectl(['get', 'nodes', '-o', 'wide']);
    expect(r.code).toBe(0);
    for (const n of ['hollow-0', 'hollow-1', 'hollow-2']) expect(r.stdout).toMatch(new RegExp(`^${n}\\s+Ready\\s+<none>\\s+\\S+\\s+v1\\.32\\.0-kubets-hollow\\s+127\\.0\\.0\\.1`, 'm'));
    const node = JSON.parse((await env.kubectl(['get', 'node', 'hollow-1', '-o', 'json'])).stdout);
    expect(node.status.capacity).toMatchObject({ cpu: '2', memory: '4Gi', pods: '110' });
    expect(node.metadata.labels).toMatchObject({ 'kubernetes.io/hostname': 'hollow-1', zone: 'a' });
    expect(node.spec.taints).toEqual([{ key: 'dedicated', value: 'test', effect: 'PreferNoSchedule' }]);
    const lease = JSON.parse((await env.kubectl(['get', 'lease', 'hollow-1', '-n', 'kube-node-lease', '-o', 'json'])).stdout);
    expect(lease.spec).toMatchObject({ holderIdentity: 'hollow-1', leaseDurationSeconds: 8 });
    const first = lease.spec.renewTime;
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    await waitFor(async () => JSON.parse((await env.kubectl(['get', 'lease', 'hollow-1', '-n', 'kube-node-lease', '-o', 'json'])).stdout).spec.renewTime !== first, {
      timeoutMs: 15_000,
      description: 'the lease is renewed',
    });
  });

  it('reports a pod bound to it Running and Ready, and finishes its graceful deletion', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] } };
    expect((await env.kubectl(['create', '-f', '-'], { input: JSON.stringify(pod) })).code).toBe(0);
    const bind = await env.request('POST', '/api/v1/namespaces/default/pods/web/binding', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'web' }, target: { kind: 'Node', name: 'hollow-2' } }) });
    expect(bind.status).toBe(201);
    const wait = await env.kubectl(['wait', '--for=condition=Ready', 'pod/web', '--timeout=20s']);
    expect(wait.code).toBe(0);
    const wide = (await env.kubectl(['get', 'pod', 'web', '-o', 'wide'])).stdout;
    expect(wide).toMatch(/^web\s+1\/1\s+Running\s+0\s+\S+\s+10\.200\.2\.\d+\s+hollow-2\s/m);
    const p = JSON.parse((await env.kubectl(['get', 'pod', 'web', '-o', 'json'])).stdout);
    expect(p.status.containerStatuses[0]).toMatchObject({ name: 'c', ready: true, started: true, restartCount: 0, image: 'nginx:1.25' });
    expect(p.status.conditions.map((c: any) => c.type)).toEqual(expect.arrayContaining(['Initialized', 'Ready', 'ContainersReady', 'PodScheduled']));
    // kubectl delete waits for the pod to be gone: the API server marks it terminating, the hollow node removes it.
    const del = await env.kubectl(['delete', 'pod', 'web', '--timeout=20s']);
    expect(del.code).toBe(0);
    expect((await env.kubectl(['get', 'pod', 'web'])).code).not.toBe(0);
  });

  it('a killed hollow kubelet stops renewing; a new one takes the nodes over', async () => {
    await kubelet.kill();
    const leaseTime = async () => JSON.parse((await env.kubectl(['get', 'lease', 'hollow-0', '-n', 'kube-node-lease', '-o', 'json'])).stdout).spec.renewTime;
    const before = await leaseTime();
    // Longer than a renew period (8 s / 4): no renewal from a dead process.
    await waitFor(() => new Promise((r) => setTimeout(() => r(true), 3000)), { timeoutMs: 5000 });
    expect(await leaseTime()).toBe(before);
    kubelet = await startKubelet(['--hostname-override=hollow', '--hollow-nodes=3']);
    await waitFor(async () => (await leaseTime()) !== before, { timeoutMs: 15_000, description: 'the new process renews' });
  });
});

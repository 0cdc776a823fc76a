import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ActorSystem } from '@kubets/actor';
import { Client } from '@kubets/client';
import { ControlPlane, builtApp, freePort, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';
import { ControllerProtocol, controllerSubject } from '../src/controllers/actor';

jest.setTimeout(180_000);

const deployment = (image: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: {
    replicas: 6,
    selector: { matchLabels: { app: 'web' } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 1 } },
    template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
  },
});

/**
 * kubets-controller-manager (ReplicaSet and Deployment controllers) against a
 * real control plane (kubets-kv, nats-server, kubets-apiserver) and a hollow
 * kubelet with 3 nodes, driven by stock kubectl.
 */
describe('kubets-controller-manager', () => {
  let env: ControlPlane;
  let kubelet: ManagedProcess;
  let cm: ManagedProcess;
  let client: Client;
  let binding = true;
  let binder: Promise<void> | undefined;

  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n--- controller manager:\n${cm?.tail(30)}`);
    return r.stdout;
  };
  const getJson = async (args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json']));
  const webPods = async () => (await getJson(['get', 'pods', '-l', 'app=web'])).items as any[];
  const webRS = async () => ((await getJson(['get', 'rs', '-l', 'app=web'])).items as any[]).sort((a, b) => Number(a.metadata.annotations['deployment.kubernetes.io/revision']) - Number(b.metadata.annotations['deployment.kubernetes.io/revision']));

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    const grpc = `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`;
    kubelet = spawnProcess({
      name: 'hollow-kubelet',
      command: process.execPath,
      args: [builtApp('kubelet'), '--hollow', '--hollow-nodes=3', '--hostname-override=hollow', `--kubeconfig=${env.kubeconfig}`, grpc, `--nats-url=${env.nats!.url}`, `--healthz-bind-address=127.0.0.1:${await freePort()}`],
    });
    cm = spawnProcess({
      name: 'controller-manager',
      command: process.execPath,
      args: [builtApp('controller-manager'), `--kubeconfig=${env.kubeconfig}`, grpc, `--nats-url=${env.nats!.url}`, '--bind-address=127.0.0.1', '--secure-port=0'],
    });
    await kubelet.waitForLog(/hollow node\(s\) running/, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${kubelet.tail(30)}`);
    });
    await cm.waitForLog(/controllers running/, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${cm.tail(30)}`);
    });
    // There is no scheduler process yet: this loop stands in for it and binds
    // every pending pod to the hollow nodes round-robin through pods/binding.
    client = await Client.fromKubeconfig(env.kubeconfig, { grpcAddress: `127.0.0.1:${env.apiservers[0]!.grpcPort}` });
    let next = 0;
    binder = (async () => {
      while (binding) {
        try {
          const { items } = await client.pods.list({ namespace: 'default', fieldSelector: 'spec.nodeName=' });
          for (const p of items as any[]) {
            if (p.metadata.deletionTimestamp) continue;
            await client.bind('default', p.metadata.name, `hollow-${next++ % 3}`, { uid: p.metadata.uid }).catch(() => {});
          }
        } catch {
          // the next round retries
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  });

  afterAll(async () => {
    binding = false;
    await binder;
    client?.close();
    await cm?.stop();
    await kubelet?.stop();
    await env?.dispose();
  });

  it('rolls out a 6-replica Deployment: a pod-template-hash ReplicaSet, 6 pods, rollout status succeeds', async () => {
    await kubectl(['apply', '-f', '-'], JSON.stringify(deployment('nginx:1.25')));
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=60s']);
    const rss = await webRS();
    expect(rss).toHaveLength(1);
    const hash = rss[0].metadata.labels['pod-template-hash'];
    expect(hash).toMatch(/^[a-z0-9]+$/);
    expect(rss[0].metadata.name).toBe(`web-${hash}`);
    expect(rss[0].metadata.annotations['deployment.kubernetes.io/revision']).toBe('1');
    const pods = await webPods();
    expect(pods).toHaveLength(6);
    for (const p of pods) {
      expect(p.metadata.labels['pod-template-hash']).toBe(hash);
      expect(p.metadata.ownerReferences[0]).toMatchObject({ kind: 'ReplicaSet', name: rss[0].metadata.name, controller: true });
      expect(p.status.phase).toBe('Running');
    }
    const d = await getJson(['get', 'deploy', 'web']);
    expect(d.status).toMatchObject({ replicas: 6, updatedReplicas: 6, readyReplicas: 6, availableReplicas: 6, observedGeneration: d.metadata.generation });
    const events = await kubectl(['get', 'events', '--field-selector', 'reason=ScalingReplicaSet']);
    expect(events).toContain(`Scaled up replica set ${rss[0].metadata.name} from 0 to 6`);
  });

  it('kubectl set image rolls out a second ReplicaSet (revision 2); the old one ends at 0', async () => {
    await kubectl(['set', 'image', 'deploy/web', 'web=nginx:1.26']);
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=60s']);
    const rss = await webRS();
    expect(rss).toHaveLength(2);
    expect(rss.map((r) => r.metadata.annotations['deployment.kubernetes.io/revision'])).toEqual(['1', '2']);
    expect(rss[1].spec.template.spec.containers[0].image).toBe('nginx:1.26');
    expect(rss[1].spec.replicas).toBe(6);
    await waitFor(async () => (await webRS())[0].status.replicas === undefined || (await webRS())[0].status.replicas === 0, { timeoutMs: 30_000, description: 'old RS scaled to 0' });
    expect((await webRS())[0].spec.replicas).toBe(0);
    await waitFor(async () => (await webPods()).length === 6, { timeoutMs: 30_000, description: '6 pods at rest' });
    const images = (await webPods()).map((p) => p.spec.containers[0].image);
    expect(new Set(images)).toEqual(new Set(['nginx:1.26']));
    expect((await getJson(['get', 'deploy', 'web'])).metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
  });

  it('kubectl rollout undo goes back to the first template as revision 3', async () => {
    await kubectl(['rollout', 'undo', 'deploy/web']);
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=60s']);
    const rss = await webRS();
    expect(rss).toHaveLength(2);
    const current = rss[rss.length - 1];
    expect(current.metadata.annotations['deployment.kubernetes.io/revision']).toBe('3');
    expect(current.spec.template.spec.containers[0].image).toBe('nginx:1.25');
    expect(current.spec.replicas).toBe(6);
    const d = await getJson(['get', 'deploy', 'web']);
    expect(d.spec.template.spec.containers[0].image).toBe('nginx:1.25');
    await waitFor(async () => (await getJson(['get', 'deploy', 'web'])).metadata.annotations['deployment.kubernetes.io/revision'] === '3', { timeoutMs: 20_000, description: 'deployment revision 3' });
  });

  it('kubectl scale --replicas=2 leaves exactly 2 pods', async () => {
    await kubectl(['scale', 'deploy/web', '--replicas=2']);
    await kubectl(['rollout', 'status', 'deploy/web', '--timeout=60s']);
    await waitFor(async () => (await webPods()).length === 2, { timeoutMs: 30_000, description: 'exactly 2 pods' });
    const d = await getJson(['get', 'deploy', 'web']);
    expect(d.status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    expect((await webPods()).every((p) => !p.metadata.deletionTimestamp)).toBe(true);
  });

  it("replaces a ReplicaSet's pod deleted with kubectl", async () => {
    const before = (await webPods()).map((p) => p.metadata.name);
    expect(before).toHaveLength(2);
    await kubectl(['delete', 'pod', before[0]!, '--timeout=30s']);
    await waitFor(
      async () => {
        const pods = await webPods();
        return pods.length === 2 && !pods.some((p) => p.metadata.name === before[0]) && pods.every((p) => p.status?.phase === 'Running');
      },
      { timeoutMs: 30_000, description: 'a replacement pod Running' },
    );
    const rs = (await webRS()).pop()!;
    await waitFor(async () => (await getJson(['get', 'rs', rs.metadata.name])).status.readyReplicas === 2, { timeoutMs: 20_000, description: 'RS ready 2' });
    const events = await kubectl(['get', 'events', '--field-selector', `involvedObject.name=${rs.metadata.name},reason=SuccessfulCreate`]);
    expect(events).toMatch(/Created pod: web-/);
  });

  it('each controller is an actor on NATS: status, and a crash restarts it (the other keeps working)', async () => {
    const sys = await ActorSystem.connect({ name: 'controllers-test', servers: env.nats!.url });
    try {
      const rs = sys.remote(ControllerProtocol, controllerSubject('replicaset'));
      const dep = sys.remote(ControllerProtocol, controllerSubject('deployment'));
      expect(await rs.ask('status', {})).toMatchObject({ controller: 'replicaset', running: true, workers: 5, incarnation: 1 });
      expect(await dep.ask('status', {})).toMatchObject({ controller: 'deployment', running: true, workers: 5, incarnation: 1 });
      await expect(rs.ask('crash', { reason: 'test' })).rejects.toThrow();
      await waitFor(async () => (await rs.ask('status', {}).catch(() => undefined))?.incarnation === 2, { timeoutMs: 15_000, description: 'replicaset controller restarted' });
      expect(await dep.ask('status', {})).toMatchObject({ running: true, incarnation: 1 });
      // The restarted incarnation still reconciles: a deleted pod is replaced.
      const victim = (await webPods())[0]!.metadata.name;
      await kubectl(['delete', 'pod', victim, '--timeout=30s']);
      await waitFor(
        async () => {
          const pods = await webPods();
          return pods.length === 2 && !pods.some((p) => p.metadata.name === victim) && pods.every((p) => p.status?.phase === 'Running');
        },
        { timeoutMs: 30_000, description: 'a replacement pod Running after the restart' },
      );
    } finally {
      await sys.stop();
    }
  });

  it('a Deployment malformed in the KV crashes the deployment controller once: its supervisor restarts it, the bad key is retried with back-off and blocks nothing', async () => {
    const etcdctl = (args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('etcdctl', [`--endpoints=${env.etcdEndpoints.join(',')}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`etcdctl ${args[0]} failed: ${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
    const named = (name: string, replicas: number, maxSurge: unknown) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'default' },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable: 0 } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image: 'nginx:1.25' }] } },
      },
    });
    // maxSurge "abc%" is not an int-or-percent: the API server refuses it...
    const refused = await env.kubectl(['create', '-f', '-'], { input: JSON.stringify(named('bad', 2, 'abc%')) });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/maxSurge/);
    const sys = await ActorSystem.connect({ name: 'controllers-test-malformed', servers: env.nats!.url });
    try {
      const dep = sys.remote(ControllerProtocol, controllerSubject('deployment'));
      const rs = sys.remote(ControllerProtocol, controllerSubject('replicaset'));
      const ep = sys.remote(ControllerProtocol, controllerSubject('endpoint'));
      const depStatus = () => dep.ask('status', {}).catch(() => undefined);
      expect(await dep.ask('status', {})).toMatchObject({ running: true, incarnation: 1, crashes: 0, crashedKeys: [] });
      const rsIncarnation = (await rs.ask('status', {})).incarnation;
      const epIncarnation = (await ep.ask('status', {})).incarnation;

      // ...so it goes straight into the KV, stored the way the API server stores objects (JSON, no resourceVersion).
      const bad = named('bad', 2, 'abc%');
      const stored = { ...bad, metadata: { ...bad.metadata, uid: randomUUID(), generation: 1, creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } };
      await etcdctl(['put', '/registry/deployments/default/bad', JSON.stringify(stored)]);
      expect((await getJson(['get', 'deploy', 'bad'])).spec.strategy.rollingUpdate.maxSurge).toBe('abc%');

      // The deployment controller's code throws on it: the incarnation crashes and the actor's supervisor restarts it with back-off.
      await cm.waitForLog(/^(?=.*controller crashed syncing a key)(?=.*default\/bad)(?=.*abc%)/, 30_000);
      await cm.waitForLog(/^(?=.*actor crashed handling \\"crash\\": restarting)(?=.*restartInMs)(?=.*syncing default\/bad)/, 30_000);
      await waitFor(async () => (await depStatus())?.incarnation === 2, { timeoutMs: 30_000, description: 'deployment controller restarted' });

      // A valid Deployment created afterwards rolls out; the ReplicaSet and endpoint controllers keep working.
      await kubectl(['apply', '-f', '-'], JSON.stringify(named('good', 3, 1)));
      await kubectl(['rollout', 'status', 'deploy/good', '--timeout=60s']);
      await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'good', namespace: 'default' }, spec: { selector: { app: 'good' }, ports: [{ port: 80 }] } }));
      await waitFor(async () => ((await getJson(['get', 'endpoints', 'good'])).subsets?.[0]?.addresses?.length ?? 0) === 3, { timeoutMs: 30_000, description: 'endpoints of good list 3 pods' });
      const victim = ((await getJson(['get', 'pods', '-l', 'app=good'])).items as any[])[0].metadata.name as string;
      await kubectl(['delete', 'pod', victim, '--timeout=30s']);
      await waitFor(
        async () => {
          const pods = (await getJson(['get', 'pods', '-l', 'app=good'])).items as any[];
          return pods.length === 3 && !pods.some((p) => p.metadata.name === victim) && pods.every((p) => p.status?.phase === 'Running');
        },
        { timeoutMs: 30_000, description: 'the deleted pod of good replaced' },
      );

      // Meanwhile the bad key is retried with back-off: it keeps failing, but it no longer crashes the controller.
      await waitFor(
        async () => {
          const st = await depStatus();
          return st !== undefined && st.crashes >= 3;
        },
        { timeoutMs: 30_000, description: 'the bad key retried twice more' },
      );
      expect(await dep.ask('status', {})).toMatchObject({ running: true, incarnation: 2, crashedKeys: ['default/bad'] });
      expect(cm.logs()).toMatch(/^(?=.*controller code failed again on this key)(?=.*default\/bad)/m);
      expect(await rs.ask('status', {})).toMatchObject({ running: true, incarnation: rsIncarnation });
      expect(await ep.ask('status', {})).toMatchObject({ running: true, incarnation: epIncarnation });
      expect((await getJson(['get', 'rs', '-l', 'app=bad'])).items).toHaveLength(0);

      // Once the object is repaired through the API, the same key syncs and the Deployment rolls out.
      await kubectl(['patch', 'deploy', 'bad', '--type=merge', '-p', JSON.stringify({ spec: { strategy: { rollingUpdate: { maxSurge: 1 } } } })]);
      await kubectl(['rollout', 'status', 'deploy/bad', '--timeout=60s']);
      await waitFor(async () => (await depStatus())?.crashedKeys.length === 0, { timeoutMs: 30_000, description: 'the repaired key synced' });
      expect(await dep.ask('status', {})).toMatchObject({ running: true, incarnation: 2 });
      expect(cm.exitCode).toBeUndefined();
    } finally {
      await sys.stop();
    }
  });
});

// infra/kube-proxy.yaml, the way operators deploy kubets-proxy: applied with
// stock kubectl to a control plane (kubets-kv, nats-server, kubets-apiserver,
// scheduler, controller manager as processes) with hollow nodes, one of them a
// tainted control-plane node. The DaemonSet must put one proxy pod on every
// node with what the proxy needs to program a node: host network, NET_ADMIN,
// the node name and NATS URL in its flags. (Running the pods for real is the
// Docker cluster's job: docker/test.)
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ControlPlane, builtApp, spawnProcess, waitFor, type ManagedProcess } from '@kubets/testkit';

jest.setTimeout(180_000);

const MANIFEST = path.resolve(__dirname, '..', '..', '..', 'infra', 'kube-proxy.yaml');

describe('infra/kube-proxy.yaml', () => {
  let env: ControlPlane;
  const procs: ManagedProcess[] = [];
  let common: string[];
  const start = async (name: string, app: string, args: string[], ready: RegExp) => {
    const p = spawnProcess({ name, command: process.execPath, args: [builtApp(app), ...common, ...args] });
    procs.push(p);
    await p.waitForLog(ready, 60_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${p.tail(30)}`);
    });
  };
  const kubectl = async (args: string[], input?: string) => {
    const r = await env.kubectl(args, { input, timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}\n${procs.map((p) => p.tail(10)).join('\n')}`);
    return r.stdout;
  };

  beforeAll(async () => {
    env = await ControlPlane.start({ kv: 'kubets', nats: true });
    common = [`--kubeconfig=${env.kubeconfig}`, `--grpc-address=127.0.0.1:${env.apiservers[0]!.grpcPort}`, `--nats-url=${env.nats!.url}`];
    const hollow = (prefix: string, n: number, extra: string[] = []) => ['--hollow', `--hollow-nodes=${n}`, `--hostname-override=${prefix}`, '--healthz-bind-address=127.0.0.1:0', ...extra];
    await start('workers', 'kubelet', hollow('worker', 2), /hollow node\(s\) running/);
    await start('control-plane', 'kubelet', hollow('cp', 1, ['--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule']), /hollow node\(s\) running/);
    await start('scheduler', 'scheduler', ['--bind-address=127.0.0.1', '--secure-port=0'], /leading as .*scheduling/);
    await start('controller-manager', 'controller-manager', ['--bind-address=127.0.0.1', '--secure-port=0', '--leader-elect=false'], /controllers running/);
  });
  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    await env?.dispose();
  });

  it('is valid for the API server (server-side dry run) and its documents are what the proxy needs', async () => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(MANIFEST, 'utf8')).map((d) => d.toJSON());
    expect(docs.map((d) => `${d.kind}/${d.metadata.namespace}/${d.metadata.name}`)).toEqual(['ConfigMap/kube-system/kube-proxy', 'DaemonSet/kube-system/kube-proxy']);
    expect(await kubectl(['apply', '--dry-run=server', '-f', MANIFEST])).toMatch(/daemonset.apps\/kube-proxy created \(server dry run\)/);
  });

  it('puts one kube-proxy pod on every node, the tainted control-plane node included, with host network and NET_ADMIN', async () => {
    await kubectl(['apply', '-f', MANIFEST]);
    expect(await kubectl(['rollout', 'status', '-n', 'kube-system', 'ds/kube-proxy', '--timeout=90s'])).toMatch(/successfully rolled out/);
    const pods = await waitFor(
      async () => {
        const items = JSON.parse(await kubectl(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'json'])).items as any[];
        return items.length === 3 && items.every((p) => p.status?.phase === 'Running') ? items : undefined;
      },
      { timeoutMs: 60_000, description: 'three Running kube-proxy pods' },
    );
    expect(pods.map((p) => p.spec.nodeName).sort()).toEqual(['cp', 'worker-0', 'worker-1']);
    for (const p of pods) {
      expect(p.spec.hostNetwork).toBe(true);
      const c = p.spec.containers[0];
      expect(c.image).toBe('docker.io/kubets/kubets:0.1.0');
      expect(c.command.slice(0, 2)).toEqual(['kubets-entrypoint', 'proxy']);
      expect(c.command).toEqual(expect.arrayContaining(['--hostname-override=$(NODE_NAME)', '--nats-url=$(NATS_URL)']));
      expect(c.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
      expect(c.env.find((e: any) => e.name === 'NODE_NAME').valueFrom.fieldRef.fieldPath).toBe('spec.nodeName');
    }
  });
});

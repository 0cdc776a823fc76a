import YAML from 'yaml';
import { waitFor } from '@kubets/testkit';
import type { ApiEnv } from './harness';

export const DEPLOYMENT_V1 = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - name: A
          value: "1"
        ports:
        - containerPort: 80
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
`;

export const DEPLOYMENT_V2 = DEPLOYMENT_V1.replace('image: nginx:1.25', 'image: nginx:1.26')
  .replace('          value: "1"\n', '          value: "1"\n        - name: B\n          value: "2"\n')
  .replace('        - containerPort: 8080\n', '');

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** The kubectl scenario, against whatever KV the env runs on. */
export async function kubectlScenario(env: ApiEnv): Promise<void> {
  const k = (args: string[], input?: string) => env.kubectl(args, { input });

  // The dispatcher picks kubectl 1.32 from our /version.
  const version = JSON.parse(ok(await k(['version', '-o', 'json']), 'version'));
  expect(version.serverVersion.minor).toBe('32');

  // kubectl 1.32 sends this typed create in Kubernetes' protobuf.
  expect(ok(await k(['create', 'namespace', 'demo']), 'create ns')).toContain('namespace/demo created');
  // The other typed creates (protobuf bodies too).
  expect(ok(await k(['create', 'configmap', 'c1', '-n', 'demo', '--from-literal=a=b']), 'create cm')).toContain('configmap/c1 created');
  expect(ok(await k(['create', 'secret', 'generic', 's1', '-n', 'demo', '--from-literal=k=v']), 'create secret')).toContain('secret/s1 created');
  expect(ok(await k(['create', 'deployment', 'd1', '-n', 'demo', '--image=nginx:1.25', '--replicas=2', '--port=80']), 'create deploy')).toContain('deployment.apps/d1 created');
  expect(ok(await k(['create', 'service', 'clusterip', 'svc1', '-n', 'demo', '--tcp=80:8080']), 'create svc')).toContain('service/svc1 created');
  expect(ok(await k(['get', 'cm', 'c1', '-n', 'demo', '-o', 'jsonpath={.data.a}']), 'get cm')).toBe('b');
  expect(ok(await k(['get', 'secret', 's1', '-n', 'demo', '-o', 'jsonpath={.data.k}']), 'get secret')).toBe(Buffer.from('v').toString('base64'));
  expect(ok(await k(['get', 'deploy', 'd1', '-n', 'demo', '-o', 'jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.strategy.type}']), 'get d1')).toBe('2 nginx:1.25 RollingUpdate');
  expect(ok(await k(['get', 'svc', 'svc1', '-n', 'demo', '-o', 'jsonpath={.spec.clusterIP} {.spec.ports[0].targetPort}']), 'get svc1')).toMatch(/^10\.\d+\.\d+\.\d+ 8080$/);
  ok(await k(['delete', 'deploy', 'd1', '-n', 'demo']), 'delete d1');

  const applied = ok(await k(['apply', '-f', '-'], DEPLOYMENT_V1), 'apply v1');
  expect(applied).toContain('deployment.apps/web created');
  expect(applied).toContain('service/web created');

  // Tables with Kubernetes' columns, wide too.
  const wide = ok(await k(['get', 'deploy,rs,pods,svc', '-n', 'demo', '-o', 'wide']), 'get -o wide');
  expect(wide).toMatch(/NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR/);
  expect(wide).toMatch(/deployment\.apps\/web\s+0\/3\s+0\s+0\s+\S+\s+web\s+nginx:1\.25\s+app=web/);
  expect(wide).toMatch(/NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR/);
  expect(wide).toMatch(/service\/web\s+ClusterIP\s+10\.(9[6-9]|1[01]\d)\.\d+\.\d+\s+<none>\s+80\/TCP\s+\S+\s+app=web/);
  const plain = ok(await k(['get', 'deploy', '-n', 'demo']), 'get deploy');
  expect(plain.split('\n')[0]).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/);

  // -o yaml round-trips through replace, with Kubernetes' defaults filled in.
  const yamlText = ok(await k(['get', 'deploy', 'web', '-n', 'demo', '-o', 'yaml']), 'get -o yaml');
  const d = YAML.parse(yamlText);
  expect(d.kind).toBe('Deployment');
  expect(d.apiVersion).toBe('apps/v1');
  expect(d.metadata.generation).toBe(1);
  expect(d.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
  expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } });
  expect(d.spec.revisionHistoryLimit).toBe(10);
  expect(d.spec.progressDeadlineSeconds).toBe(600);
  expect(d.spec.template.spec.restartPolicy).toBe('Always');
  expect(d.spec.template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  expect(ok(await k(['replace', '-f', '-'], yamlText), 'replace')).toContain('deployment.apps/web replaced');
  const again = YAML.parse(ok(await k(['get', 'deploy', 'web', '-n', 'demo', '-o', 'yaml']), 'get -o yaml'));
  expect(again.spec).toEqual(d.spec);
  expect(again.metadata.generation).toBe(1);

  // Strategic merge through client-side apply: change the image, add an env var, remove a port.
  expect(ok(await k(['apply', '-f', '-'], DEPLOYMENT_V2), 'apply v2')).toContain('deployment.apps/web configured');
  const d2 = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', 'demo', '-o', 'json']), 'get -o json'));
  const c = d2.spec.template.spec.containers[0];
  expect(c.image).toBe('nginx:1.26');
  expect(c.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '2' }]);
  expect(c.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
  expect(d2.metadata.generation).toBe(2);

  // scale, label, annotate
  expect(ok(await k(['scale', 'deploy', 'web', '-n', 'demo', '--replicas=5']), 'scale')).toContain('deployment.apps/web scaled');
  expect(ok(await k(['label', 'deploy', 'web', '-n', 'demo', 'tier=frontend']), 'label')).toContain('deployment.apps/web labeled');
  expect(ok(await k(['annotate', 'deploy', 'web', '-n', 'demo', 'note=hello']), 'annotate')).toContain('deployment.apps/web annotated');
  const d3 = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', 'demo', '-o', 'json']), 'get'));
  expect(d3.spec.replicas).toBe(5);
  expect(d3.metadata.labels).toEqual({ app: 'web', tier: 'frontend' });
  expect(d3.metadata.annotations.note).toBe('hello');
  expect(ok(await k(['get', 'deploy', '-n', 'demo', '-l', 'tier=frontend', '--show-labels']), 'get -l')).toMatch(/web\s+0\/5.*app=web,tier=frontend/);
  expect(ok(await k(['get', 'deploy', '-n', 'demo', '-l', 'tier in (backend)']), 'get -l in').trim() + (await k(['get', 'deploy', '-n', 'demo', '-l', 'tier in (backend)'])).stderr).toContain('No resources found in demo namespace.');

  // get -w prints changes as they happen.
  const watch = env.kubectlStream(['get', 'deploy', '-n', 'demo', '-w']);
  try {
    await waitFor(() => watch.lines.some((l) => /^web\s+0\/5/.test(l)), { timeoutMs: 20_000, description: 'the watch lists web', context: () => watch.proc.tail(20) });
    ok(await k(['scale', 'deploy', 'web', '-n', 'demo', '--replicas=2']), 'scale to 2');
    await waitFor(() => watch.lines.some((l) => /^web\s+0\/2/.test(l)), { timeoutMs: 20_000, description: 'the watch shows the scale to 2', context: () => watch.proc.tail(20) });
  } finally {
    watch.stop();
  }

  // describe shows events about the object.
  const uid = d3.metadata.uid;
  ok(
    await k(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'web.1', namespace: 'demo' },
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'demo', uid },
      reason: 'ScalingReplicaSet',
      message: 'Scaled up replica set web-abc to 5',
      type: 'Normal',
      source: { component: 'deployment-controller' },
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z/, 'Z'),
      lastTimestamp: new Date().toISOString().replace(/\.\d+Z/, 'Z'),
      count: 1,
    })),
    'create event',
  );
  const described = ok(await k(['describe', 'deploy', 'web', '-n', 'demo']), 'describe');
  expect(described).toMatch(/Name:\s+web/);
  expect(described).toMatch(/Replicas:\s+2 desired/);
  expect(described).toMatch(/Events:[\s\S]*ScalingReplicaSet[\s\S]*Scaled up replica set web-abc to 5/);
  expect(ok(await k(['get', 'events', '-n', 'demo']), 'get events')).toMatch(/LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE[\s\S]*Normal\s+ScalingReplicaSet\s+deployment\/web/);

  // api-resources lists every resource.
  const apiResources = ok(await k(['api-resources']), 'api-resources');
  for (const r of ['namespaces', 'pods', 'services', 'endpoints', 'nodes', 'configmaps', 'secrets', 'events', 'serviceaccounts', 'deployments', 'replicasets', 'daemonsets', 'leases', 'endpointslices']) {
    expect(apiResources).toMatch(new RegExp(`^${r}\\s`, 'm'));
  }
  expect(apiResources).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment/m);

  // Errors, in kubectl's words.
  const dup = await k(['create', '-f', '-'], DEPLOYMENT_V1.split('---')[0]!);
  expect(dup.code).not.toBe(0);
  expect(dup.stderr).toContain('Error from server (AlreadyExists)');
  expect(dup.stderr).toContain('deployments.apps "web" already exists');
  const bad = await k(['create', 'configmap', 'Bad_Name', '-n', 'demo', '--from-literal=a=b']);
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain');
  const stale = JSON.parse(ok(await k(['get', 'deploy', 'web', '-n', 'demo', '-o', 'json']), 'get'));
  ok(await k(['label', 'deploy', 'web', '-n', 'demo', 'moved=on']), 'label again');
  stale.spec.replicas = 7;
  const conflict = await k(['replace', '-f', '-'], JSON.stringify(stale));
  expect(conflict.code).not.toBe(0);
  expect(conflict.stderr).toContain('Error from server (Conflict)');
  expect(conflict.stderr).toContain('the object has been modified; please apply your changes to the latest version and try again');
  const unknown = await k(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'strict', namespace: 'demo' }, dataa: { a: 'b' } }));
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toMatch(/unknown field "dataa"/);

  // delete waits until the object is gone.
  expect(ok(await k(['delete', 'deploy', 'web', '-n', 'demo', '--wait=true']), 'delete')).toContain('deployment.apps "web" deleted');
  const gone = await k(['get', 'deploy', 'web', '-n', 'demo']);
  expect(gone.code).not.toBe(0);
  expect(gone.stderr).toContain('Error from server (NotFound): deployments.apps "web" not found');
  expect(ok(await k(['delete', 'svc', 'web', '-n', 'demo']), 'delete svc')).toContain('service "web" deleted');

  // A wrong token is refused.
  const unauth = await env.kubectl(['--token=not-a-token', 'get', 'pods', '-n', 'demo']);
  expect(unauth.code).not.toBe(0);
  expect(unauth.stderr).toMatch(/You must be logged in to the server|Unauthorized/);
}

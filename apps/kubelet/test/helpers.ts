// Shared by the kubelet tests: the kubelet process, and HTTP from the host to
// pods (IPs on the test's own bridge, or loopback for hostNetwork pods: the
// only traffic the kubelet tests send).
import http from 'node:http';
import path from 'node:path';
import { builtApp, freePort, spawnProcess, waitFor, type Containerd, type ControlPlane, type ManagedProcess } from '@kubets/testkit';

/** GET http://<ip>:<port><path>. */
export function httpGet(ip: string, port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port, path: urlPath, timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Without a readiness probe a container is ready once it runs, maybe before httpd listens: retry until it answers. */
export function httpReady(ip: string, port = 8080): Promise<{ status: number; body: string }> {
  return waitFor(() => httpGet(ip, port).then((r) => (r.status === 200 ? r : undefined)), { timeoutMs: 20_000, intervalMs: 100, description: `HTTP 200 from ${ip}:${port}` });
}

/**
 * The built CRI kubelet against a testkit control plane and containerd:
 * node NODE on 127.0.0.1 with its HTTPS server (logs, exec) on a free port,
 * authenticating the API server's kubelet client certificate. Resolves once
 * it runs pods.
 */
export async function startCriKubelet(o: { env: ControlPlane; cd: Containerd; node: string; rootDir: string; grpcPort?: number; name?: string; args?: string[] }): Promise<ManagedProcess> {
  const { env, cd } = o;
  const p = spawnProcess({
    name: o.name ?? `kubelet-${o.node}`,
    command: process.execPath,
    args: [
      builtApp('kubelet'),
      `--kubeconfig=${env.kubeconfig}`,
      `--grpc-address=127.0.0.1:${o.grpcPort ?? env.apiservers[0]!.grpcPort}`,
      `--nats-url=${env.nats!.url}`,
      `--healthz-bind-address=127.0.0.1:${await freePort()}`,
      `--container-runtime-endpoint=${cd.endpoint}`,
      `--hostname-override=${o.node}`,
      '--node-ip=127.0.0.1',
      `--root-dir=${o.rootDir}`,
      `--cgroup-root=${cd.cgroupParent}`,
      `--client-ca-file=${path.join(env.dir, 'pki/ca.crt')}`,
      '--address=127.0.0.1',
      '--port=0',
      ...(o.args ?? []),
    ],
  });
  await p.waitForLog(/running pods on/, 90_000).catch((e) => {
    throw new Error(`${(e as Error).message}\n${p.tail(40)}`);
  });
  return p;
}

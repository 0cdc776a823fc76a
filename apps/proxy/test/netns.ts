// Helpers shared by the kubets-proxy tests that run for real on this machine
// (nftables.test.ts: one node, the host; two-node.test.ts: two node network
// namespaces): commands, "pods" as network namespaces with a TCP server that
// answers with its name, a client that reports replies or error codes, and the
// API objects (Services, EndpointSlices) the tests apply with kubectl.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { requireExecutable, spawnProcess, type ControlPlane, type ManagedProcess } from '@kubets/testkit';

export const NFT = requireExecutable('nft', 'nftables');
export const IP = requireExecutable('ip', 'iproute2');

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
}
export function tryRun(cmd: string, args: string[]): void {
  try {
    sh(cmd, args);
  } catch {
    // cleanup: best effort, everything is attempted
  }
}
/** `ip` in network namespace `ns` (the host's when undefined). */
export function ipIn(ns: string | undefined, args: string[]): string {
  return sh(IP, ns ? ['-n', ns, ...args] : args);
}

const SERVER = `
const net = require('net');
const name = process.env.POD_NAME;
net.createServer((s) => { s.on('error', () => {}); s.end(name + ' ' + s.remoteAddress + '\\n'); })
  .listen(8080, '0.0.0.0', () => process.stdout.write('listening ' + name + '\\n'));
`;
// N sequential connections; prints one JSON array of replies ("pod-a 10.x" or "ERR code").
const CLIENT = `
const net = require('net');
const [host, port, n] = process.argv.slice(1);
(async () => {
  const out = [];
  for (let i = 0; i < Number(n); i++) {
    out.push(await new Promise((resolve) => {
      const s = net.connect({ host, port: Number(port) });
      let data = '';
      s.setTimeout(3000, () => { s.destroy(); resolve('ERR ETIMEDOUT'); });
      s.on('data', (d) => (data += d));
      s.on('end', () => resolve(data.trim()));
      s.on('error', (e) => resolve('ERR ' + e.code));
    }));
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

export interface PodNet {
  name: string;
  /** the pod's network namespace */
  ns: string;
  /** the host end of its veth (in `bridgeNs`) */
  veth: string;
  ip: string;
}

/**
 * A "pod": network namespace `pod.ns` with eth0 (a veth whose other end is a
 * port of `bridge`, hairpin on, in namespace `bridgeNs`, the host's when
 * undefined), address `pod.ip/prefix` and a default route via `gateway`.
 * The caller records pod.ns and pod.veth for cleanup before calling.
 */
export function addPod(pod: PodNet, o: { bridge: string; bridgeNs?: string; prefix: number; gateway: string }): void {
  sh(IP, ['netns', 'add', pod.ns]);
  ipIn(o.bridgeNs, ['link', 'add', pod.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
  ipIn(o.bridgeNs, ['link', 'set', pod.veth, 'master', o.bridge]);
  // A pod reaching itself through its Service leaves and re-enters by the same port.
  ipIn(o.bridgeNs, ['link', 'set', pod.veth, 'type', 'bridge_slave', 'hairpin', 'on']);
  ipIn(o.bridgeNs, ['link', 'set', pod.veth, 'up']);
  ipIn(pod.ns, ['addr', 'add', `${pod.ip}/${o.prefix}`, 'dev', 'eth0']);
  ipIn(pod.ns, ['link', 'set', 'eth0', 'up']);
  ipIn(pod.ns, ['link', 'set', 'lo', 'up']);
  ipIn(pod.ns, ['route', 'add', 'default', 'via', o.gateway]);
}

/** The pod's TCP server on :8080, answering "<name> <client address>"; resolves once it listens. */
export async function startServer(pod: PodNet, namePrefix: string): Promise<ManagedProcess> {
  const server = spawnProcess({ name: `${namePrefix}-${pod.name}`, command: IP, args: ['netns', 'exec', pod.ns, process.execPath, '-e', SERVER], env: { POD_NAME: pod.name } });
  await server.waitForLog(/listening/, 30_000);
  return server;
}

/** N sequential connections from inside network namespace `ns`: the replies ("pod-a 10.x") or "ERR <code>". */
export function connectFrom(ns: string, host: string, port: number, n: number): string[] {
  return JSON.parse(sh(IP, ['netns', 'exec', ns, process.execPath, '-e', CLIENT, host, String(port), String(n)])) as string[];
}

/** One connection from this process (the host's namespace): the reply line, or "ERR <code>". */
export function connectOnce(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    let data = '';
    s.setTimeout(3000, () => {
      s.destroy();
      resolve('ERR ETIMEDOUT');
    });
    s.on('data', (d) => (data += d));
    s.on('end', () => resolve(data.trim()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(`ERR ${e.code}`));
  });
}
export async function connectMany(host: string, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await connectOnce(host, port));
  return out;
}
/** Which pods answered. */
export const who = (replies: string[]) => new Set(replies.map((r) => r.split(' ')[0]));
export const errors = (replies: string[]) => replies.filter((r) => r.startsWith('ERR'));

/** EndpointSlice `<service>-1` with one endpoint per pod on :8080, ready unless `ready[pod] === false`. */
export function sliceDoc(service: string, pods: readonly PodNet[], ready: Record<string, boolean>): string {
  return JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: pods.map((p) => ({ addresses: [p.ip], conditions: { ready: ready[p.name] ?? true, serving: true, terminating: false }, targetRef: { kind: 'Pod', namespace: 'default', name: p.name } })),
  });
}
/** Service `name` (port 80 -> 8080); `extra` is merged into the spec (type, sessionAffinity, ...). */
export function serviceDoc(name: string, clusterIP: string, extra: Record<string, unknown> = {}, nodePort?: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', clusterIP, selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', ...(nodePort ? { nodePort } : {}) }], ...extra },
  });
}
export async function kubectlApply(cp: ControlPlane, doc: string): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], { input: doc });
  if (r.code !== 0) throw new Error(`kubectl apply failed: ${r.stderr}`);
}

// kubets-proxy's IPVS mode, for real: this machine's kernel has no IP_VS, so
// the test boots Debian's stock kernel (which has it) in a VM under software
// emulation (qemu-system-x86_64, no KVM) with an initramfs holding busybox,
// ipvsadm, iproute2's ip, the IPVS modules and the rules kubets-proxy's
// generator writes for a model of two Services (test/vm/build.sh and
// test/vm/init.sh). Inside the VM, /init puts the ClusterIPs on a dummy
// kube-ipvs0 (left down, as kube-proxy does), starts two backends in network
// namespaces joined by veth (busybox httpd answering its name), applies the
// rules with ipvsadm-restore, prints `ipvsadm -Ln`, `ipvsadm-save -n` and the
// replies to connections to the ClusterIPs; then applies the incremental
// script of one endpoint change the way IpvsBackend does (`ipvsadm -R`),
// lists and probes again, and powers off. The test asserts on the
// captured serial console. All traffic stays inside the VM.
//
// The kernel package (about 70 MB, apt-get download of the package
// linux-image-amd64 depends on; never installed) is unpacked into
// test/vm/.cache (gitignored; KUBETS_VM_CACHE overrides), so reruns do not
// download. Budget: build 180 s (with the download), VM 120 s.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EndpointSlice, Service } from '@kubets/client';
import { requireExecutable } from '@kubets/testkit';
import { buildIpvsModel, buildServicePorts, parseIpvsSave, renderIpvsAddresses, renderIpvsDiff, renderIpvsFull, type IpvsModel } from '../src/rules';

const BUILD_DEADLINE_MS = 180_000;
const VM_DEADLINE_MS = Number(process.env.KUBETS_VM_DEADLINE_MS ?? 120_000); // override only to check the kill path
jest.setTimeout(BUILD_DEADLINE_MS + VM_DEADLINE_MS + 10_000);

const QEMU = requireExecutable('qemu-system-x86_64', 'qemu-system-x86');
requireExecutable('busybox', 'busybox-static');
requireExecutable('ipvsadm', 'ipvsadm');
requireExecutable('ipvsadm-restore', 'ipvsadm');
requireExecutable('ip', 'iproute2');
requireExecutable('apt-get', 'apt');
requireExecutable('dpkg', 'dpkg');

const VM_DIR = path.join(__dirname, 'vm');
const CACHE = process.env.KUBETS_VM_CACHE ?? path.join(VM_DIR, '.cache');

// Two Services on the same two pods (addresses exist only inside the VM);
// then web's pod-b is replaced by pod-c (one endpoint change).
const PODS = [
  { name: 'pod-a', ip: '10.244.1.2', gw: '10.244.1.1' },
  { name: 'pod-b', ip: '10.244.2.2', gw: '10.244.2.1' },
];
const POD_C = { name: 'pod-c', ip: '10.244.3.2', gw: '10.244.3.1' };
const WEB_VIP = '10.96.0.10';
const STICKY_VIP = '10.96.0.11';
const AFFINITY_SECONDS = 600;
const WEB_PROBES = 6;
const STICKY_PROBES = 4;

function service(name: string, clusterIP: string, extra: Partial<Service['spec']> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: 'default', name },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }], ...extra },
  } as Service;
}

function slice(svc: string, pods = PODS): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: `${svc}-x1`, labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: pods.map((p) => ({ addresses: [p.ip], conditions: { ready: true, serving: true, terminating: false } })),
  } as EndpointSlice;
}

const services = [
  service('web', WEB_VIP),
  service('sticky', STICKY_VIP, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: AFFINITY_SECONDS } } }),
];
const model: IpvsModel = buildIpvsModel(buildServicePorts(services, [slice('web'), slice('sticky')]), { scheduler: 'rr' });
const changed: IpvsModel = buildIpvsModel(buildServicePorts(services, [slice('web', [PODS[0]!, POD_C]), slice('sticky')]), { scheduler: 'rr' });
const diff = renderIpvsDiff(model, changed);

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
  ms: number;
}

const running = new Set<ChildProcess>();

/** Runs a command in its own process group; on the deadline the whole group is killed. */
function runWithDeadline(cmd: string, args: string[], deadlineMs: number): Promise<Ran> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let output = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, deadlineMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      running.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, output, timedOut, ms: Date.now() - start });
    });
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

let work = '';
let consoleText = '';
let kvm: string[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kubets-ipvs-vm-'));
  fs.writeFileSync(path.join(work, 'ipvs-rules'), renderIpvsFull(model));
  fs.writeFileSync(path.join(work, 'ipvs-addrs'), renderIpvsAddresses(model));
  fs.writeFileSync(path.join(work, 'backends'), [...PODS, POD_C].map((p) => `${p.name} ${p.ip} ${p.gw} 8080\n`).join(''));
  fs.writeFileSync(path.join(work, 'probes'), `${WEB_VIP} 80 ${WEB_PROBES}\n${STICKY_VIP} 80 ${STICKY_PROBES}\n`);
  fs.writeFileSync(path.join(work, 'ipvs-diff'), diff);
  fs.writeFileSync(path.join(work, 'probes-diff'), `${WEB_VIP} 80 ${WEB_PROBES}\n${STICKY_VIP} 80 ${STICKY_PROBES}\n`);

  const build = await runWithDeadline('bash', [path.join(VM_DIR, 'build.sh'), CACHE, work], BUILD_DEADLINE_MS);
  if (build.timedOut || build.code !== 0) {
    throw new Error(`test/vm/build.sh ${build.timedOut ? `did not finish within ${BUILD_DEADLINE_MS} ms` : `exited ${build.code}`}:\n${build.output}`);
  }
  const kernel = /^kernel=(.+)$/m.exec(build.output)?.[1];
  const initrd = /^initrd=(.+)$/m.exec(build.output)?.[1];
  if (!kernel || !initrd) throw new Error(`test/vm/build.sh printed no kernel/initrd:\n${build.output}`);
  process.stdout.write(`ipvs-vm: build ${build.ms} ms\n`);

  const vm = await runWithDeadline(
    QEMU,
    ['-m', '512', '-nographic', '-no-reboot', '-nic', 'none', '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1'],
    VM_DEADLINE_MS,
  );
  consoleText = vm.output.replace(/\r/g, '');
  process.stdout.write(`ipvs-vm: VM ${vm.ms} ms\n`);
  if (vm.timedOut) throw new Error(`the VM did not power off within ${VM_DEADLINE_MS} ms (killed); console:\n${consoleText}`);
  kvm = consoleText.split('\n');
  if (!kvm.includes('KVM: DONE')) throw new Error(`the VM's /init did not finish (qemu exit ${vm.code}); console:\n${consoleText}`);
});

afterAll(() => {
  for (const c of running) killGroup(c);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function section(name: string): string[] {
  const b = kvm.indexOf(`KVM: BEGIN ${name}`);
  const e = kvm.indexOf(`KVM: END ${name}`);
  if (b < 0 || e < b) throw new Error(`no "${name}" in the console:\n${consoleText}`);
  return kvm.slice(b + 1, e);
}

function replies(stage: 'full' | 'diff', vip: string): string[] {
  const prefix = `KVM: REPLY ${stage} ${vip}:80 `;
  return kvm.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

/** What `ipvsadm -Ln` must list for a model. */
function expectedList(m: IpvsModel): ListedVs[] {
  return [...m.virtualServers.values()]
    .map((v) => ({
      service: `${{ '-t': 'TCP', '-u': 'UDP', '--sctp-service': 'SCTP' }[v.service.split(' ')[0]!]} ${v.service.split(' ')[1]}`,
      scheduler: v.scheduler,
      ...(v.persistenceSeconds !== undefined ? { persistence: v.persistenceSeconds } : {}),
      reals: v.realServers.map((server) => ({ server, forward: 'Masq', weight: 1 })).sort((a, b) => (a.server < b.server ? -1 : 1)),
    }))
    .sort((a, b) => (a.service < b.service ? -1 : 1));
}

/** Rounds robin: only these pods answered, each of them did, consecutive connections alternate. */
function expectRoundRobin(got: string[], pods: string[]): void {
  expect(got).toHaveLength(WEB_PROBES);
  for (const r of got) expect(pods).toContain(r);
  for (const p of pods) expect(got).toContain(p);
  for (let i = 1; i < got.length; i++) expect(got[i]).not.toBe(got[i - 1]);
}

interface ListedVs {
  service: string;
  scheduler: string;
  persistence?: number;
  reals: Array<{ server: string; forward: string; weight: number }>;
}

/** `ipvsadm -Ln` as a list of virtual servers with their real servers. */
function parseIpvsList(lines: string[]): ListedVs[] {
  const out: ListedVs[] = [];
  for (const line of lines) {
    const v = /^(TCP|UDP|SCTP)\s+(\S+)\s+(\S+)(?:\s+persistent\s+(\d+))?/.exec(line);
    if (v) {
      out.push({ service: `${v[1]} ${v[2]}`, scheduler: v[3]!, ...(v[4] ? { persistence: Number(v[4]) } : {}), reals: [] });
      continue;
    }
    const r = /^\s+->\s+(\S+)\s+(\S+)\s+(\d+)/.exec(line);
    if (r && out.length > 0) out[out.length - 1]!.reals.push({ server: r[1]!, forward: r[2]!, weight: Number(r[3]) });
  }
  for (const v of out) v.reals.sort((a, b) => (a.server < b.server ? -1 : 1));
  return out.sort((a, b) => (a.service < b.service ? -1 : 1));
}

describe('IPVS mode in a VM with Debian stock kernel', () => {
  it('the generated rules describe both services (sanity of the input)', () => {
    expect(model.addresses).toEqual([WEB_VIP, STICKY_VIP]);
    expect([...model.virtualServers.keys()]).toEqual([`-t ${WEB_VIP}:80`, `-t ${STICKY_VIP}:80`]);
  });

  it('loads the modules and applies the rules with ipvsadm-restore', () => {
    expect(kvm.filter((l) => l.startsWith('KVM: ERROR'))).toEqual([]);
    expect(kvm).toContain('KVM: restore-exit 0');
  });

  it('ipvsadm -Ln shows exactly the virtual and real servers of the model', () => {
    const listed = parseIpvsList(section('ipvsadm -Ln'));
    expect(listed).toEqual(expectedList(model));
    // spelled out, independent of the model
    expect(listed.find((v) => v.service === `TCP ${WEB_VIP}:80`)).toEqual({
      service: `TCP ${WEB_VIP}:80`,
      scheduler: 'rr',
      reals: PODS.map((p) => ({ server: `${p.ip}:8080`, forward: 'Masq', weight: 1 })),
    });
    expect(listed.find((v) => v.service === `TCP ${STICKY_VIP}:80`)?.persistence).toBe(AFFINITY_SECONDS);
  });

  it('connections to the ClusterIP reach both backends in round robin', () => {
    expectRoundRobin(replies('full', WEB_VIP), ['pod-a', 'pod-b']);
    const conns = section('ipvsadm -Lnc').filter((l) => l.includes(` ${WEB_VIP}:80 `));
    for (const p of PODS) expect(conns.some((l) => l.trim().endsWith(`${p.ip}:8080`))).toBe(true);
  });

  it('sessionAffinity ClientIP (persistence) keeps one client on one backend', () => {
    const got = replies('full', STICKY_VIP);
    expect(got).toHaveLength(STICKY_PROBES);
    expect(['pod-a', 'pod-b']).toContain(got[0]);
    expect(new Set(got).size).toBe(1);
  });

  it('ipvsadm-save -n reads back as the model (what kubets-proxy diffs against after a restart)', () => {
    const saved = parseIpvsSave(section('ipvsadm-save -n').join('\n'));
    const norm = (m: IpvsModel) => [...m.virtualServers.values()].map((v) => ({ ...v, realServers: [...v.realServers].sort() })).sort((a, b) => (a.service < b.service ? -1 : 1));
    expect(norm(saved)).toEqual(norm(model));
    expect(renderIpvsDiff(saved, model)).toBe('');
  });

  it('one endpoint change, applied incrementally with ipvsadm -R, leaves exactly the new table', () => {
    expect(diff).toBe(`-d -t ${WEB_VIP}:80 -r ${PODS[1]!.ip}:8080\n-a -t ${WEB_VIP}:80 -r ${POD_C.ip}:8080 -m -w 1\n`);
    expect(kvm).toContain('KVM: diff-exit 0');
    expect(parseIpvsList(section('ipvsadm -Ln after diff'))).toEqual(expectedList(changed));
    expectRoundRobin(replies('diff', WEB_VIP), ['pod-a', 'pod-c']);
    // the untouched service kept its persistence and its client's backend
    const sticky = replies('diff', STICKY_VIP);
    expect(new Set(sticky)).toEqual(new Set([replies('full', STICKY_VIP)[0]]));
  });
});

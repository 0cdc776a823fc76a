// bench/proxy: how long kubets-proxy takes to program Services, on this machine.
//
//   npx nx run @kubets/bench-proxy:bench           1,000 and 10,000 services (several minutes: nft is slow at 10,000)
//   node bench/proxy/dist/main.js --sizes 1000     other sizes
//   node bench/proxy/dist/main.js --smoke          100 services (the test target)
//
// For N services with 5 ready endpoints each (one EndpointSlice per
// service), both modes' rule generation as kubets-proxy's sync does it, from
// Service and EndpointSlice objects to the script text:
//   - from scratch: buildServicePorts + buildNftModel + renderNftFull (an
//     `nft -f` script that replaces the table), and buildServicePorts +
//     buildIpvsModel + renderIpvsFull + renderIpvsAddresses (ipvsadm-restore
//     input and kube-ipvs0's addresses);
//   - one endpoint change (one pod of one service replaced): the same model
//     rebuilt, then renderNftDiff / renderIpvsDiff against the previous model
//     (the incremental script the backends send).
// Generation is the median of 3 runs (1 in --smoke). Then the nftables
// scripts are applied for real with `nft -f -` (one run each; IPVS cannot be
// applied on this kernel, see apps/proxy/test/ipvs-vm.test.ts): into a
// throwaway table name inside a throwaway network namespace, so the bench's
// nat hooks never see this machine's traffic; both are removed at the end.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import type { EndpointSlice, Service } from '@kubets/client';
import {
  buildIpvsModel,
  buildNftModel,
  buildServicePorts,
  endpointChainName,
  renderIpvsAddresses,
  renderIpvsDiff,
  renderIpvsFull,
  renderNftDiff,
  renderNftFull,
  TABLE_FAMILY,
  TABLE_NAME,
  type ServicePortEntry,
} from '@kubets/proxy';

const smoke = process.argv.includes('--smoke');
const sizesIdx = process.argv.indexOf('--sizes');
const SIZES = sizesIdx > 0 ? process.argv[sizesIdx + 1]!.split(',').map(Number) : smoke ? [100] : [1000, 10_000];
const ENDPOINTS = 5;
const REPS = smoke ? 1 : 3;
const NFT_OPTS = { clusterCIDR: '10.244.0.0/16', nodeIPs: ['192.168.1.10'] };
const IPVS_OPTS = { scheduler: 'rr', nodeIPs: ['192.168.1.10'] };
const APPLY_DEADLINE_MS = 900_000;
const NETNS = `kbench-proxy-${process.pid}`;
const TABLE = `kubets_bench_${process.pid}`;

function ip(i: number, base: [number, number]): string {
  return `${base[0]}.${base[1] + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
}

function cluster(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    const clusterIP = ip(i + 1, [10, 96]);
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'default', name },
      spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] },
    } as Service);
    slices.push(slice(name, Array.from({ length: ENDPOINTS }, (_, k) => ip(i * ENDPOINTS + k + 1, [10, 244]))));
  }
  return { services, slices };
}

function slice(service: string, ips: string[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: `${service}-abcde`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: ips.map((a) => ({ addresses: [a], conditions: { ready: true, serving: true, terminating: false } })),
  } as EndpointSlice;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall time (ms) of fn over REPS runs, and its last result. */
function time<T>(fn: () => T): { ms: number; value: T } {
  const times: number[] = [];
  let value!: T;
  for (let r = 0; r < REPS; r++) {
    const t = process.hrtime.bigint();
    value = fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { ms: median(times), value };
}

function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: APPLY_DEADLINE_MS, maxBuffer: 1 << 30 });
}

/** The script with kubets-proxy's table name replaced by the bench's throwaway one. */
function retable(script: string): string {
  return script.replace(new RegExp(`\\b${TABLE_FAMILY} ${TABLE_NAME}\\b`, 'g'), `${TABLE_FAMILY} ${TABLE}`);
}

function nftInNs(args: string[], input?: string): { ms: number; out: string } {
  const t = process.hrtime.bigint();
  const out = sh('ip', ['netns', 'exec', NETNS, 'nft', ...args], input);
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, out };
}

let nsCreated = false;
function cleanup(): void {
  if (!nsCreated) return;
  try {
    sh('ip', ['netns', 'exec', NETNS, 'nft', 'delete', 'table', TABLE_FAMILY, TABLE]);
  } catch {
    // absent: nothing to remove
  }
  try {
    sh('ip', ['netns', 'del', NETNS]);
  } catch (e) {
    process.stderr.write(`bench/proxy: could not delete netns ${NETNS}: ${(e as Error).message}\n`);
  }
  nsCreated = false;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

function fail(msg: string): never {
  throw new Error(`bench/proxy: ${msg}`);
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const kb = (s: string) => (s.length >= 1 << 20 ? `${(s.length / (1 << 20)).toFixed(1)} MiB` : `${(s.length / 1024).toFixed(1)} KiB`);

interface Row {
  n: number;
  gen: Record<'nft' | 'ipvs', { full: number; fullSize: string; change: number; changeSize: string }>;
  apply?: { full: number; change: number };
}

function main(): void {
  const load0 = os.loadavg();
  process.stdout.write(
    `bench/proxy: ${SIZES.join(', ')} services x ${ENDPOINTS} endpoints, ${os.cpus().length} cores, Node ${process.versions.node}, load ${load0.map((l) => l.toFixed(2)).join(' ')}${smoke ? ' (SMOKE run: numbers are meaningless)' : ''}\n`,
  );
  const rows: Row[] = [];
  sh('ip', ['netns', 'add', NETNS]);
  nsCreated = true;
  try {
    for (const n of SIZES) {
      const { services, slices } = cluster(n);
      // one endpoint change: the first pod of the middle service is replaced
      const victim = Math.floor(n / 2);
      const changedSlices = slices.slice();
      const newIPs = (slices[victim]!.endpoints ?? []).map((e) => e.addresses[0]!);
      newIPs[0] = ip(victim + 1, [10, 245]);
      changedSlices[victim] = slice(`svc-${victim}`, newIPs);

      const nftFull = time(() => {
        const model = buildNftModel(buildServicePorts(services, slices), NFT_OPTS);
        return { model, script: renderNftFull(model) };
      });
      let nextPorts: ServicePortEntry[] = [];
      const nftChange = time(() => {
        nextPorts = buildServicePorts(services, changedSlices);
        return renderNftDiff(nftFull.value.model, buildNftModel(nextPorts, NFT_OPTS)).script;
      });
      const ipvsFull = time(() => {
        const model = buildIpvsModel(buildServicePorts(services, slices), IPVS_OPTS);
        return { model, script: renderIpvsFull(model), addrs: renderIpvsAddresses(model) };
      });
      const ipvsChange = time(() => renderIpvsDiff(ipvsFull.value.model, buildIpvsModel(buildServicePorts(services, changedSlices), IPVS_OPTS)));

      if (!nftFull.value.script.includes('dnat to')) fail(`empty nftables script for ${n} services`);
      if (!nftChange.value) fail('empty nftables change script');
      if (ipvsFull.value.model.virtualServers.size !== n || (ipvsFull.value.script.match(/^-a /gm)?.length ?? 0) !== n * ENDPOINTS) {
        fail(`ipvsadm-restore script for ${n} services has ${ipvsFull.value.model.virtualServers.size} virtual servers`);
      }
      if (ipvsFull.value.addrs.split('\n').filter(Boolean).length !== n) fail('kube-ipvs0 address list has the wrong size');
      if (!/^-d .*\n-a /m.test(ipvsChange.value)) fail(`unexpected ipvsadm-restore change script: ${JSON.stringify(ipvsChange.value)}`);

      const row: Row = {
        n,
        gen: {
          nft: { full: nftFull.ms, fullSize: kb(nftFull.value.script), change: nftChange.ms, changeSize: kb(nftChange.value) },
          ipvs: { full: ipvsFull.ms, fullSize: kb(ipvsFull.value.script), change: ipvsChange.ms, changeSize: kb(ipvsChange.value) },
        },
      };
      process.stdout.write(`  ${n}: generated (nft ${fmt(nftFull.ms)}, ipvs ${fmt(ipvsFull.ms)}); applying with nft...\n`);

      const applyFull = nftInNs(['-f', '-'], retable(nftFull.value.script));
      const applyChange = nftInNs(['-f', '-'], retable(nftChange.value));
      row.apply = { full: applyFull.ms, change: applyChange.ms };
      if (smoke) {
        // the change really landed: the new endpoint's chain exists, the old one is gone
        const sp = nextPorts.find((p) => p.name === `svc-${victim}`)!;
        const chains = nftInNs(['list', 'chains', TABLE_FAMILY]).out;
        const newChain = endpointChainName(sp, sp.endpoints.find((e) => e.ip === newIPs[0])!);
        const oldChain = endpointChainName(sp, { ip: (slices[victim]!.endpoints ?? [])[0]!.addresses[0]!, port: 8080 });
        if (!chains.includes(`chain ${TABLE_FAMILY} ${TABLE} ${newChain}`) && !chains.includes(newChain)) fail(`new endpoint chain ${newChain} missing after the change`);
        if (chains.includes(oldChain)) fail(`stale endpoint chain ${oldChain} after the change`);
        const count = (chains.match(/\bchain /g) ?? []).length;
        if (count < n * (ENDPOINTS + 1)) fail(`table has ${count} chains, expected at least ${n * (ENDPOINTS + 1)}`);
      }
      // drop the table before the next size (not timed)
      nftInNs(['delete', 'table', TABLE_FAMILY, TABLE]);
      process.stdout.write(`  ${n}: nft -f from scratch ${fmt(applyFull.ms)}, one endpoint change ${fmt(applyChange.ms)}\n`);
      rows.push(row);
    }
  } finally {
    cleanup();
  }
  const load1 = os.loadavg();
  const out: string[] = [
    '',
    `Rule generation (median of ${REPS}), from Service/EndpointSlice objects to script text:`,
    '',
    '| services | mode | from scratch | script | one endpoint change | change script |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    out.push(`| ${r.n.toLocaleString('en-US')} | nftables | ${fmt(r.gen.nft.full)} | ${r.gen.nft.fullSize} | ${fmt(r.gen.nft.change)} | ${r.gen.nft.changeSize} |`);
    out.push(`| ${r.n.toLocaleString('en-US')} | ipvs (ipvsadm -R script) | ${fmt(r.gen.ipvs.full)} | ${r.gen.ipvs.fullSize} | ${fmt(r.gen.ipvs.change)} | ${r.gen.ipvs.changeSize} |`);
  }
  out.push('', 'nftables apply (`nft -f -` in a scratch network namespace, one run):', '', '| services | from scratch | one endpoint change |', '|---|---|---|');
  for (const r of rows) out.push(`| ${r.n.toLocaleString('en-US')} | ${fmt(r.apply!.full)} | ${fmt(r.apply!.change)} |`);
  out.push('', `load average: start ${load0.map((l) => l.toFixed(2)).join(' ')}, end ${load1.map((l) => l.toFixed(2)).join(' ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (smoke) process.stdout.write('bench/proxy: smoke OK\n');
}

try {
  main();
} catch (e) {
  cleanup();
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
}

// Golden tests of rule generation for both modes. Every case builds the rules
// from Services and EndpointSlices and compares them with
// test/golden/<case>.nft and .ipvs (and .ipvs-addrs) exactly. Regenerate after
// an intended change with:
//   UPDATE_GOLDEN=1 npx jest test/golden.test.ts     (in apps/proxy)
// then review the diff. The nftables scripts are also checked by the real nft
// (`nft -c -f`: parsed and validated by the kernel, never committed).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { EndpointSlice, Service } from '@kubets/client';
import { requireExecutable } from '@kubets/testkit';
import {
  buildIpvsModel,
  buildNftModel,
  buildServicePorts,
  renderIpvsAddresses,
  renderIpvsDiff,
  renderIpvsFull,
  renderNftDiff,
  renderNftFull,
  type ServicePortEntry,
} from '../src/rules';

const GOLDEN = path.join(__dirname, 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const NFT_OPTS = { clusterCIDR: '10.244.0.0/16', nodeIPs: ['192.168.1.10'] };
const IPVS_OPTS = { scheduler: 'rr', nodeIPs: ['192.168.1.10'] };

function svc(name: string, clusterIP: string, ports: Service['spec']['ports'], extra: Partial<Service['spec']> = {}): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name }, spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ports, ...extra } } as Service;
}

function slice(service: string, suffix: string, ports: EndpointSlice['ports'], endpoints: Array<[string, boolean]>): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: `${service}-${suffix}`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports,
    endpoints: endpoints.map(([ip, ready]) => ({ addresses: [ip], conditions: { ready, serving: ready, terminating: false } })),
  } as EndpointSlice;
}

const CASES: Record<string, { services: Service[]; slices: EndpointSlice[] }> = {
  'clusterip-3-endpoints': {
    services: [svc('web', '10.96.0.20', [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }])],
    slices: [slice('web', 'abc12', [{ name: 'http', protocol: 'TCP', port: 8080 }], [['10.244.1.3', true], ['10.244.1.2', true], ['10.244.2.7', true]])],
  },
  'two-ports-tcp-udp': {
    services: [
      svc('dns', '10.96.0.10', [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
      ]),
    ],
    slices: [
      slice(
        'dns',
        'x1',
        [
          { name: 'dns', protocol: 'UDP', port: 53 },
          { name: 'dns-tcp', protocol: 'TCP', port: 53 },
        ],
        [['10.244.1.10', true], ['10.244.2.10', true]],
      ),
    ],
  },
  'no-endpoints': {
    services: [
      svc('empty', '10.96.0.30', [{ name: 'http', protocol: 'TCP', port: 80 }]),
      svc('empty-np', '10.96.0.31', [{ protocol: 'UDP', port: 9000, nodePort: 30900 }], { type: 'NodePort' }),
    ],
    slices: [slice('empty', 'e1', [{ name: 'http', protocol: 'TCP', port: 8080 }], [])],
  },
  nodeport: {
    services: [svc('np', '10.96.0.40', [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }], { type: 'NodePort' })],
    slices: [slice('np', 'n1', [{ name: 'http', protocol: 'TCP', port: 8080 }], [['10.244.1.4', true], ['10.244.2.4', true]])],
  },
  'session-affinity': {
    services: [
      svc('sticky', '10.96.0.50', [{ name: 'http', protocol: 'TCP', port: 80 }], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } } }),
    ],
    slices: [slice('sticky', 's1', [{ name: 'http', protocol: 'TCP', port: 8080 }], [['10.244.1.5', true], ['10.244.2.5', true]])],
  },
  'not-ready-excluded': {
    services: [svc('partly', '10.96.0.60', [{ name: 'http', protocol: 'TCP', port: 80 }])],
    slices: [
      slice('partly', 'p1', [{ name: 'http', protocol: 'TCP', port: 8080 }], [['10.244.1.6', true], ['10.244.1.7', false]]),
      slice('partly', 'p2', [{ name: 'http', protocol: 'TCP', port: 8080 }], [['10.244.2.6', false], ['10.244.2.8', true]]),
    ],
  },
};

function golden(file: string, actual: string): void {
  const p = path.join(GOLDEN, file);
  if (UPDATE) fs.writeFileSync(p, actual);
  if (!fs.existsSync(p)) throw new Error(`${p} is missing: run UPDATE_GOLDEN=1 npx jest test/golden.test.ts in apps/proxy`);
  expect(actual).toBe(fs.readFileSync(p, 'utf8'));
}

const nft = requireExecutable('nft', 'nftables');
function nftCheck(script: string): void {
  // -c: the kernel validates the whole transaction and aborts it; nothing is applied.
  execFileSync(nft, ['-c', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('rule generation (golden)', () => {
  for (const [name, c] of Object.entries(CASES)) {
    test(`${name}: nftables and ipvs`, () => {
      const ports = buildServicePorts(c.services, c.slices);
      const script = renderNftFull(buildNftModel(ports, NFT_OPTS));
      golden(`${name}.nft`, script);
      nftCheck(script);
      const ipvs = buildIpvsModel(ports, IPVS_OPTS);
      golden(`${name}.ipvs`, renderIpvsFull(ipvs));
      golden(`${name}.ipvs-addrs`, renderIpvsAddresses(ipvs));
    });
  }

  test('not-ready endpoints are excluded, endpoints sorted and unique', () => {
    const ports = buildServicePorts(CASES['not-ready-excluded']!.services, CASES['not-ready-excluded']!.slices);
    expect(ports.map((p) => p.endpoints)).toEqual([
      [
        { ip: '10.244.1.6', port: 8080 },
        { ip: '10.244.2.8', port: 8080 },
      ],
    ]);
  });

  test('headless and ExternalName services are skipped', () => {
    const ports = buildServicePorts(
      [svc('headless', 'None', [{ port: 80 }]), svc('ext', '', [{ port: 80 }], { type: 'ExternalName', externalName: 'example.com' })],
      [],
    );
    expect(ports).toEqual([]);
  });
});

describe('incremental updates', () => {
  const all = Object.values(CASES);
  const services = all.flatMap((c) => c.services);
  const slices = all.flatMap((c) => c.slices);
  const before = buildServicePorts(services, slices);
  // One endpoint of "web" becomes not ready; "empty" gets an endpoint; "sticky" is deleted.
  const slices2 = slices.map((s) =>
    s.metadata.name === 'web-abc12'
      ? slice('web', 'abc12', s.ports, [['10.244.1.3', true], ['10.244.1.2', false], ['10.244.2.7', true]])
      : s.metadata.name === 'empty-e1'
        ? slice('empty', 'e1', s.ports, [['10.244.3.3', true]])
        : s,
  );
  const after = buildServicePorts(
    services.filter((s) => s.metadata.name !== 'sticky'),
    slices2,
  );

  test('the nftables diff touches only what changed and is valid after the full script', () => {
    const m1 = buildNftModel(before, NFT_OPTS);
    const m2 = buildNftModel(after, NFT_OPTS);
    const diff = renderNftDiff(m1, m2);
    expect(diff.stats).toEqual({ chainsAdded: 2, chainsChanged: 1, chainsDeleted: 4, elementsAdded: 1, elementsDeleted: 2 });
    expect(diff.script).toContain('delete element ip kubets no-endpoint-services { 10.96.0.30 . tcp . 80 }');
    expect(diff.script).toMatch(/delete set ip kubets affinity-\w+-default\/sticky\/tcp\/http__10\.244\.1\.5\/8080/);
    expect(renderNftDiff(m2, m2).script).toBe('');
    nftCheck(renderNftFull(m1) + diff.script);
    // The periodic full resync is valid too and leaves the affinity sets' contents alone.
    const full = renderNftDiff(m2, m2, true).script;
    expect(full).not.toMatch(/flush set ip kubets affinity-/);
    nftCheck(renderNftFull(m2) + full);
  });

  test('the ipvs diff deletes stale servers and adds new ones', () => {
    const diff = renderIpvsDiff(buildIpvsModel(before, IPVS_OPTS), buildIpvsModel(after, IPVS_OPTS));
    expect(diff.split('\n').filter(Boolean).sort()).toEqual(
      ['-D -t 10.96.0.50:80', '-d -t 10.96.0.20:80 -r 10.244.1.2:8080', '-a -t 10.96.0.30:80 -r 10.244.3.3:8080 -m -w 1'].sort(),
    );
  });

  test('a service of 5 endpoints per port scales: 1,000 services generate quickly', () => {
    const many: Service[] = [];
    const manySlices: EndpointSlice[] = [];
    for (let i = 0; i < 1000; i++) {
      const ip = `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
      many.push(svc(`s${i}`, ip, [{ name: 'http', protocol: 'TCP', port: 80 }]));
      manySlices.push(slice(`s${i}`, 'x', [{ name: 'http', protocol: 'TCP', port: 8080 }], [0, 1, 2, 3, 4].map((k) => [`10.244.${k}.${(i % 250) + 1}`, true] as [string, boolean])));
    }
    const t0 = performance.now();
    const ports: ServicePortEntry[] = buildServicePorts(many, manySlices);
    const script = renderNftFull(buildNftModel(ports, NFT_OPTS));
    const ms = performance.now() - t0;
    expect(ports).toHaveLength(1000);
    expect(script.length).toBeGreaterThan(100_000);
    process.stderr.write(`generate 1,000 services x 5 endpoints (nftables): ${ms.toFixed(1)} ms, ${script.length} bytes\n`);
    nftCheck(script);
  });
});

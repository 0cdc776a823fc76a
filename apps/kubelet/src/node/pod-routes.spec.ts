import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Informer, Node } from '@kubets/client';
import { NO_MASQ_CHAIN, PodRoutes, desiredRoutes, noMasqueradeRules, ownPodCIDR } from './pod-routes';

const node = (name: string, podCIDR?: string, ip?: string): Node =>
  ({ metadata: { name }, spec: podCIDR ? { podCIDR } : {}, status: ip ? { addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }] } : {} }) as unknown as Node;

/** Retries `check` until it passes (5 s). */
async function eventually(check: () => void): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((res) => setTimeout(res, 25));
    }
  }
}

describe('pod routes between nodes (host-gw)', () => {
  it('wants a route to every other node that has a podCIDR and an InternalIP', () => {
    const want = desiredRoutes([node('me', '10.1.0.0/24', '172.18.0.2'), node('b', '10.1.1.0/24', '172.18.0.3'), node('c', undefined, '172.18.0.4'), node('d', '10.1.3.0/24')], 'me');
    expect([...want]).toEqual([['10.1.1.0/24', '172.18.0.3']]);
  });

  it('exempts traffic from its own podCIDR to the other nodes\' podCIDRs from masquerade', () => {
    const nodes = [node('me', '10.1.0.0/24', '172.18.0.2'), node('b', '10.1.1.0/24', '172.18.0.3'), node('c', '10.1.2.0/24', '172.18.0.4')];
    expect(ownPodCIDR(nodes, 'me')).toBe('10.1.0.0/24');
    expect(ownPodCIDR([node('me')], 'me')).toBeUndefined();
    expect(noMasqueradeRules('10.1.0.0/24', desiredRoutes(nodes, 'me').keys()).split('\n')).toEqual([
      '*nat',
      `:${NO_MASQ_CHAIN} - [0:0]`,
      `-A ${NO_MASQ_CHAIN} -s 10.1.0.0/24 -d 10.1.1.0/24 -j ACCEPT`,
      `-A ${NO_MASQ_CHAIN} -s 10.1.0.0/24 -d 10.1.2.0/24 -j ACCEPT`,
      'COMMIT',
      '',
    ]);
    // No podCIDR yet: the chain exists, empty.
    expect(noMasqueradeRules(undefined, ['10.1.1.0/24'])).toBe(`*nat\n:${NO_MASQ_CHAIN} - [0:0]\nCOMMIT\n`);
  });

  it('adds routes with `ip route replace`, removes the ones it added for nodes that went away, and only those; keeps the masquerade exemption in line (real iptables, in a network namespace)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-routes-'));
    const calls = path.join(dir, 'calls');
    const fakeIp = path.join(dir, 'ip');
    fs.writeFileSync(fakeIp, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 });
    // iptables and iptables-restore of this machine, run inside a namespace of their own.
    const ns = `kubelet-routes-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    fs.writeFileSync(path.join(dir, 'iptables'), `#!/bin/sh\nexec ip netns exec ${ns} iptables "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'iptables-restore'), `#!/bin/sh\nexec ip netns exec ${ns} iptables-restore "$@"\n`, { mode: 0o755 });
    const nat = () => execFileSync('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S'], { encoding: 'utf8' }).trim().split('\n').filter((l) => !l.startsWith('-P '));
    const jump = `-A POSTROUTING -m comment --comment "kubets: pods reach pods on other nodes with their own address" -j ${NO_MASQ_CHAIN}`;
    let nodes = [node('me', '10.1.0.0/24', '172.18.0.2'), node('b', '10.1.1.0/24', '172.18.0.3'), node('c', '10.1.2.0/24', '172.18.0.4')];
    const handlers: Array<() => void> = [];
    const informer = { list: () => nodes, onAdd: (f: () => void) => handlers.push(f), onUpdate: (f: () => void) => handlers.push(f), onDelete: (f: () => void) => handlers.push(f) } as unknown as Informer<Node>;
    const r = new PodRoutes(informer, 'me', path.join(dir, 'state.json'), pino({ level: 'silent' }), 60_000, fakeIp, path.join(dir, 'iptables'));
    const lines = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : []);
    const settle = async (n: number) => {
      for (let i = 0; i < 100 && lines().length < n; i++) await new Promise((res) => setTimeout(res, 20));
      await new Promise((res) => setTimeout(res, 50));
    };
    try {
      r.start();
      await settle(2);
      expect(lines()).toEqual(['route replace 10.1.1.0/24 via 172.18.0.3', 'route replace 10.1.2.0/24 via 172.18.0.4']);
      await eventually(() => expect(nat()).toEqual([`-N ${NO_MASQ_CHAIN}`, jump, `-A ${NO_MASQ_CHAIN} -s 10.1.0.0/24 -d 10.1.1.0/24 -j ACCEPT`, `-A ${NO_MASQ_CHAIN} -s 10.1.0.0/24 -d 10.1.2.0/24 -j ACCEPT`]));
      fs.writeFileSync(calls, '');
      nodes = nodes.filter((n) => n.metadata.name !== 'c');
      handlers[2]!();
      await settle(2);
      expect(lines().filter(Boolean)).toEqual(['route replace 10.1.1.0/24 via 172.18.0.3', 'route del 10.1.2.0/24 via 172.18.0.4']);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'))).toEqual({ '10.1.1.0/24': '172.18.0.3' });
      // The chain follows; the jump to it stays first in POSTROUTING, once.
      await eventually(() => expect(nat()).toEqual([`-N ${NO_MASQ_CHAIN}`, jump, `-A ${NO_MASQ_CHAIN} -s 10.1.0.0/24 -d 10.1.1.0/24 -j ACCEPT`]));
    } finally {
      r.stop();
      execFileSync('ip', ['netns', 'del', ns]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Informer, Node } from '@kubets/client';
import { PodRoutes, desiredRoutes } from './pod-routes';

const node = (name: string, podCIDR?: string, ip?: string): Node =>
  ({ metadata: { name }, spec: podCIDR ? { podCIDR } : {}, status: ip ? { addresses: [{ type: 'Hostname', address: name }, { type: 'InternalIP', address: ip }] } : {} }) as unknown as Node;

describe('pod routes between nodes (host-gw)', () => {
  it('wants a route to every other node that has a podCIDR and an InternalIP', () => {
    const want = desiredRoutes([node('me', '10.1.0.0/24', '172.18.0.2'), node('b', '10.1.1.0/24', '172.18.0.3'), node('c', undefined, '172.18.0.4'), node('d', '10.1.3.0/24')], 'me');
    expect([...want]).toEqual([['10.1.1.0/24', '172.18.0.3']]);
  });

  it('adds routes with `ip route replace`, removes the ones it added for nodes that went away, and only those', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-routes-'));
    const calls = path.join(dir, 'calls');
    const fakeIp = path.join(dir, 'ip');
    fs.writeFileSync(fakeIp, `#!/bin/sh\necho "$*" >> ${calls}\n`, { mode: 0o755 });
    let nodes = [node('me', '10.1.0.0/24', '172.18.0.2'), node('b', '10.1.1.0/24', '172.18.0.3'), node('c', '10.1.2.0/24', '172.18.0.4')];
    const handlers: Array<() => void> = [];
    const informer = { list: () => nodes, onAdd: (f: () => void) => handlers.push(f), onUpdate: (f: () => void) => handlers.push(f), onDelete: (f: () => void) => handlers.push(f) } as unknown as Informer<Node>;
    const r = new PodRoutes(informer, 'me', path.join(dir, 'state.json'), pino({ level: 'silent' }), 60_000, fakeIp);
    const lines = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : []);
    const settle = async (n: number) => {
      for (let i = 0; i < 100 && lines().length < n; i++) await new Promise((res) => setTimeout(res, 20));
      await new Promise((res) => setTimeout(res, 50));
    };
    try {
      r.start();
      await settle(2);
      expect(lines()).toEqual(['route replace 10.1.1.0/24 via 172.18.0.3', 'route replace 10.1.2.0/24 via 172.18.0.4']);
      fs.writeFileSync(calls, '');
      nodes = nodes.filter((n) => n.metadata.name !== 'c');
      handlers[2]!();
      await settle(2);
      expect(lines().filter(Boolean)).toEqual(['route replace 10.1.1.0/24 via 172.18.0.3', 'route del 10.1.2.0/24 via 172.18.0.4']);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8'))).toEqual({ '10.1.1.0/24': '172.18.0.3' });
    } finally {
      r.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

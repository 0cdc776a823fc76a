import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CNI_CONF_FILE, cniConfList, writeCniConfig } from './cni-config';

describe('the CNI config for the node podCIDR', () => {
  it('is a bridge with host-local IPAM on the podCIDR, gateway the first address, plus portmap', () => {
    const c = cniConfList('10.244.3.0/24', 'kubets0', '/var/lib/k/cni-ipam') as any;
    expect(c.plugins.map((p: any) => p.type)).toEqual(['bridge', 'portmap']);
    expect(c.plugins[0]).toMatchObject({ bridge: 'kubets0', isGateway: true, hairpinMode: true });
    expect(c.plugins[0].ipam).toMatchObject({ type: 'host-local', ranges: [[{ subnet: '10.244.3.0/24', gateway: '10.244.3.1' }]], dataDir: '/var/lib/k/cni-ipam' });
    expect((cniConfList('10.1.255.0/23', 'b', '/x') as any).plugins[0].ipam.ranges[0][0].gateway).toBe('10.1.255.1');
    expect(() => cniConfList('fd00::/64', 'b', '/x')).toThrow(/not an IPv4 CIDR/);
    expect(() => cniConfList('10.0.0.0/31', 'b', '/x')).toThrow(/room for pods/);
  });

  it('is written once, atomically, and rewritten only when it differs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-cni-'));
    try {
      expect(writeCniConfig(dir, '10.244.3.0/24', 'kubets0', '/x')).toBe(true);
      expect(writeCniConfig(dir, '10.244.3.0/24', 'kubets0', '/x')).toBe(false);
      expect(fs.readdirSync(dir)).toEqual([CNI_CONF_FILE]);
      expect(JSON.parse(fs.readFileSync(path.join(dir, CNI_CONF_FILE), 'utf8')).plugins[0].ipam.ranges[0][0].subnet).toBe('10.244.3.0/24');
      expect(writeCniConfig(dir, '10.244.4.0/24', 'kubets0', '/x')).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The CNI configuration the kubelet manages (--cni-conf-dir): a bridge with
// host-local IPAM on the Node's spec.podCIDR (given by the controller
// manager's node IPAM controller) plus portmap for hostPort. containerd
// watches its CNI conf_dir and reports NetworkReady once a config is there,
// so the node turns Ready only when its pods can get addresses.
import fs from 'node:fs';
import path from 'node:path';

export const CNI_CONF_FILE = '10-kubets.conflist';

/**
 * The conflist for pods on `podCIDR`, gateway the first address, bridge
 * `bridge`, host-local's address reservations in `ipamDir` (under the
 * kubelet's root dir: not shared with any other CNI network on the host).
 */
export function cniConfList(podCIDR: string, bridge: string, ipamDir: string): Record<string, unknown> {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(podCIDR);
  if (!m || Number(m[5]) > 30) throw new Error(`podCIDR "${podCIDR}" is not an IPv4 CIDR with room for pods`);
  const base = m.slice(1, 5).reduce((n, o) => n * 256 + Number(o), 0);
  const gw = base + 1;
  const gateway = [24, 16, 8, 0].map((s) => (gw / 2 ** s) & 255).join('.');
  return {
    cniVersion: '1.0.0',
    name: 'kubets',
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        // The bridge masquerades pod traffic to anything outside the pod CIDR
        // so pods reach the node's networks; with --configure-pod-routes the
        // kubelet exempts traffic to other nodes' pods (pod-routes.ts).
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR, gateway }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/**
 * Writes DIR/10-kubets.conflist for `podCIDR` when it is missing or differs
 * (atomically: a rename, so containerd never reads half a file). Returns
 * true when it wrote.
 */
export function writeCniConfig(dir: string, podCIDR: string, bridge: string, ipamDir: string): boolean {
  const file = path.join(dir, CNI_CONF_FILE);
  const text = `${JSON.stringify(cniConfList(podCIDR, bridge, ipamDir), null, 2)}\n`;
  try {
    if (fs.readFileSync(file, 'utf8') === text) return false;
  } catch {
    // not there yet
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${CNI_CONF_FILE}.tmp`);
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
  return true;
}

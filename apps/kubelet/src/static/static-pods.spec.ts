import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Pod } from '@kubets/client';
import { CONFIG_HASH, CONFIG_SOURCE, StaticPodSource, isMirrorPod, staticPodFromManifest } from './static-pods';

const manifest = (name: string, image = 'docker.io/kubets/busybox-httpd:1.0') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: kube-system
  labels: { tier: control-plane }
spec:
  hostNetwork: true
  containers:
  - name: main
    image: ${image}
`;

describe('static pod manifests', () => {
  it('makes the pod <name>-<node> with a hash UID and the kubelet annotations', () => {
    const p = staticPodFromManifest(manifest('etcd'), '/etc/kubernetes/manifests/etcd.yaml', 'cp-1') as any;
    expect(p.metadata).toMatchObject({ name: 'etcd-cp-1', namespace: 'kube-system', labels: { tier: 'control-plane' } });
    expect(p.metadata.uid).toMatch(/^[0-9a-f]{32}$/);
    expect(p.metadata.annotations[CONFIG_HASH]).toBe(p.metadata.uid);
    expect(p.metadata.annotations[CONFIG_SOURCE]).toBe('file');
    expect(p.spec.nodeName).toBe('cp-1');
    // The same manifest, file and node: the same UID (a restarted kubelet re-adopts); anything else differs.
    const again = staticPodFromManifest(manifest('etcd'), '/etc/kubernetes/manifests/etcd.yaml', 'cp-1') as any;
    expect(again.metadata.uid).toBe(p.metadata.uid);
    expect((staticPodFromManifest(manifest('etcd'), '/etc/kubernetes/manifests/etcd.yaml', 'cp-2') as any).metadata.uid).not.toBe(p.metadata.uid);
    expect((staticPodFromManifest(manifest('etcd', 'x:2'), '/etc/kubernetes/manifests/etcd.yaml', 'cp-1') as any).metadata.uid).not.toBe(p.metadata.uid);
    // JSON works too; key order does not matter.
    const json = JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { namespace: 'kube-system', name: 'etcd', labels: { tier: 'control-plane' } }, spec: { containers: [{ image: 'docker.io/kubets/busybox-httpd:1.0', name: 'main' }], hostNetwork: true } });
    expect((staticPodFromManifest(json, '/etc/kubernetes/manifests/etcd.yaml', 'cp-1') as any).metadata.uid).toBe(p.metadata.uid);
  });

  it('rejects what is not exactly one valid Pod', () => {
    const f = '/m/x.yaml';
    expect(() => staticPodFromManifest('kind: Service\napiVersion: v1\nmetadata: {name: a}\n', f, 'n')).toThrow(/is not v1\/Pod/);
    expect(() => staticPodFromManifest(`${manifest('a')}---\n${manifest('b')}`, f, 'n')).toThrow(/expected one Pod, found 2/);
    expect(() => staticPodFromManifest(manifest('Bad_Name'), f, 'n')).toThrow(/not a valid pod name/);
    expect(() => staticPodFromManifest('kind: Pod\napiVersion: v1\nmetadata: {name: a}\nspec: {containers: []}\n', f, 'n')).toThrow(/at least one container/);
    expect(() => staticPodFromManifest('kind: Pod\n  bad: [', f, 'n')).toThrow();
    expect(isMirrorPod({ metadata: { annotations: { 'kubernetes.io/config.mirror': 'abc' } } })).toBe(true);
    expect(isMirrorPod({ metadata: {} })).toBe(false);
  });

  it('follows the folder: added, edited (old pod gone, new one added), removed; bad files ignored', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubelet-static-'));
    const src = new StaticPodSource(dir, 'n1', 60_000, pino({ level: 'silent' }));
    const events: string[] = [];
    const name = (p: Pod) => `${p.metadata.name}@${String(p.metadata.uid).slice(0, 6)}`;
    try {
      fs.writeFileSync(path.join(dir, 'a.yaml'), manifest('a'));
      fs.writeFileSync(path.join(dir, 'broken.yaml'), 'kind: Pod\n  : [');
      fs.writeFileSync(path.join(dir, '.hidden.yaml'), manifest('hidden'));
      src.start({ add: (p) => events.push(`+${name(p)}`), delete: (p) => events.push(`-${name(p)}`) });
      expect(src.list().map((p) => p.metadata.name)).toEqual(['a-n1']);
      const uidA = String(src.getByName('kube-system', 'a-n1')!.metadata.uid);
      expect(src.byUid(uidA)?.metadata.name).toBe('a-n1');
      src.scan(); // nothing changed: nothing reported
      expect(events).toEqual([`+a-n1@${uidA.slice(0, 6)}`]);
      fs.writeFileSync(path.join(dir, 'a.yaml'), manifest('a', 'docker.io/kubets/busybox-httpd:2.0'));
      src.scan();
      const uidA2 = String(src.getByName('kube-system', 'a-n1')!.metadata.uid);
      expect(uidA2).not.toBe(uidA);
      expect(events.slice(1)).toEqual([`-a-n1@${uidA.slice(0, 6)}`, `+a-n1@${uidA2.slice(0, 6)}`]);
      fs.rmSync(path.join(dir, 'a.yaml'));
      src.scan();
      expect(src.list()).toEqual([]);
      expect(events.at(-1)).toBe(`-a-n1@${uidA2.slice(0, 6)}`);
    } finally {
      src.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

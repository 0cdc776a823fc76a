import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type ObjectCache, fieldValue } from './env';

type AnyObj = Record<string, any>;

/** Host folder of a pod under --root-dir (kubelet's /var/lib/kubelet/pods/<uid>). */
export function podDir(rootDir: string, uid: string): string {
  return path.join(rootDir, 'pods', uid);
}

/** Writes `files` into `dir` atomically enough for tests: a fresh folder whose content replaces the old one. */
function writeFiles(dir: string, files: Array<{ path: string; data: Buffer | string; mode: number }>): void {
  fs.mkdirSync(dir, { recursive: true });
  const keep = new Set<string>();
  for (const f of files) {
    const target = path.join(dir, f.path);
    if (!target.startsWith(dir + path.sep)) throw new ConfigError(`volume item path "${f.path}" escapes the volume`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, f.data, { mode: f.mode });
    fs.chmodSync(tmp, f.mode);
    fs.renameSync(tmp, target);
    keep.add(f.path.split('/')[0]!);
  }
  for (const e of fs.readdirSync(dir)) if (!keep.has(e)) fs.rmSync(path.join(dir, e), { recursive: true, force: true });
}

function items<T>(data: Record<string, T>, list: AnyObj[] | undefined, defaultMode: number): Array<{ path: string; data: T; mode: number; key: string }> {
  if (list && list.length) {
    return list.filter((i) => i.key in data).map((i) => ({ key: i.key, path: i.path, data: data[i.key]!, mode: i.mode ?? defaultMode }));
  }
  return Object.keys(data).map((k) => ({ key: k, path: k, data: data[k]!, mode: defaultMode }));
}

/**
 * Makes every volume of the pod exist on the host (kubelet's volume manager,
 * for the plugins kubets has): emptyDir folders, configMap / secret /
 * downwardAPI / projected files written under --root-dir/pods/<uid>/volumes,
 * hostPath folders or files created per their type. Returns the host path of
 * each volume by name.
 */
export async function prepareVolumes(pod: AnyObj, rootDir: string, objects: ObjectCache, podIP: string, hostIP: string): Promise<Map<string, string>> {
  const ns = pod.metadata.namespace as string;
  const base = path.join(podDir(rootDir, pod.metadata.uid), 'volumes');
  const out = new Map<string, string>();
  for (const v of (pod.spec.volumes ?? []) as AnyObj[]) {
    if (v.emptyDir !== undefined && v.emptyDir !== null) {
      const dir = path.join(base, 'kubernetes.io~empty-dir', v.name);
      fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
      fs.chmodSync(dir, 0o777);
      out.set(v.name, dir);
    } else if (v.hostPath) {
      const p = v.hostPath.path as string;
      const type = v.hostPath.type ?? '';
      if (type === 'DirectoryOrCreate') fs.mkdirSync(p, { recursive: true, mode: 0o755 });
      else if (type === 'FileOrCreate') {
        fs.mkdirSync(path.dirname(p), { recursive: true });
        if (!fs.existsSync(p)) fs.writeFileSync(p, '', { mode: 0o644 });
      } else if (type === 'Directory' && !fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
        throw new ConfigError(`hostPath type check failed: ${p} is not a directory`);
      } else if (type === 'File' && !fs.statSync(p, { throwIfNoEntry: false })?.isFile()) {
        throw new ConfigError(`hostPath type check failed: ${p} is not a file`);
      }
      out.set(v.name, p);
    } else if (v.configMap) {
      const dir = path.join(base, 'kubernetes.io~configmap', v.name);
      const data = await objects.configMap(ns, v.configMap.name);
      if (!data && !v.configMap.optional) throw new ConfigError(`configmap "${v.configMap.name}" not found`);
      writeFiles(dir, items(data ?? {}, v.configMap.items, v.configMap.defaultMode ?? 0o644));
      out.set(v.name, dir);
    } else if (v.secret) {
      const dir = path.join(base, 'kubernetes.io~secret', v.name);
      const data = await objects.secret(ns, v.secret.secretName);
      if (!data && !v.secret.optional) throw new ConfigError(`secret "${v.secret.secretName}" not found`);
      writeFiles(dir, items(data ?? {}, v.secret.items, v.secret.defaultMode ?? 0o644));
      out.set(v.name, dir);
    } else if (v.downwardAPI || v.projected) {
      const dir = path.join(base, v.projected ? 'kubernetes.io~projected' : 'kubernetes.io~downward-api', v.name);
      const files: Array<{ path: string; data: Buffer | string; mode: number }> = [];
      const mode = (v.projected ?? v.downwardAPI).defaultMode ?? 0o644;
      const downward = (list: AnyObj[]) => {
        for (const i of list ?? []) if (i.fieldRef) files.push({ path: i.path, data: fieldValue(pod, i.fieldRef.fieldPath, podIP, hostIP), mode: i.mode ?? mode });
      };
      if (v.downwardAPI) downward(v.downwardAPI.items);
      for (const src of (v.projected?.sources ?? []) as AnyObj[]) {
        if (src.downwardAPI) downward(src.downwardAPI.items);
        if (src.configMap) {
          const data = await objects.configMap(ns, src.configMap.name);
          if (!data && !src.configMap.optional) throw new ConfigError(`configmap "${src.configMap.name}" not found`);
          files.push(...items(data ?? {}, src.configMap.items, mode));
        }
        if (src.secret) {
          const data = await objects.secret(ns, src.secret.name);
          if (!data && !src.secret.optional) throw new ConfigError(`secret "${src.secret.name}" not found`);
          files.push(...items(data ?? {}, src.secret.items, mode));
        }
        // serviceAccountToken sources need the TokenRequest API (not in kubets yet): skipped.
      }
      writeFiles(dir, files);
      out.set(v.name, dir);
    }
    // Other volume types are not supported by kubets: their mounts fail below.
  }
  return out;
}

/** CRI mounts of a container from its volumeMounts. */
export function containerMounts(c: AnyObj, volumes: Map<string, string>): Array<{ containerPath: string; hostPath: string; readonly: boolean }> {
  const mounts: Array<{ containerPath: string; hostPath: string; readonly: boolean }> = [];
  for (const m of (c.volumeMounts ?? []) as AnyObj[]) {
    const host = volumes.get(m.name);
    if (!host) throw new ConfigError(`cannot find volume "${m.name}" to mount into container "${c.name}"`);
    let hostPath = host;
    if (m.subPath) {
      hostPath = path.join(host, m.subPath);
      if (!hostPath.startsWith(host)) throw new ConfigError(`subPath "${m.subPath}" escapes the volume`);
      if (!fs.existsSync(hostPath)) fs.mkdirSync(hostPath, { recursive: true });
    }
    mounts.push({ containerPath: m.mountPath, hostPath, readonly: Boolean(m.readOnly) });
  }
  return mounts;
}

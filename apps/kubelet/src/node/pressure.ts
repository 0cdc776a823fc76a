// The node's pressure conditions (MemoryPressure, DiskPressure, PIDPressure)
// from kubelet's hard eviction thresholds (--eviction-hard), measured from
// /proc and statfs as the kubelet's eviction manager does. The kubelet also
// evicts pods under pressure; kubets only reports the conditions (the
// scheduler and the DaemonSet controller read them).
import fs from 'node:fs';
import { parseQuantity } from '../cri/quantity';

export type Signal = 'memory.available' | 'nodefs.available' | 'nodefs.inodesFree' | 'imagefs.available' | 'pid.available';
const SIGNALS: readonly Signal[] = ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'pid.available'];

/** One threshold: the signal is under pressure when its available amount is below `quantity`, or below `percentage` of the capacity. */
export interface Threshold {
  signal: Signal;
  quantity?: number;
  percentage?: number;
}

/** kubelet's default --eviction-hard (Linux). */
export const DEFAULT_EVICTION_HARD = ['memory.available<100Mi', 'nodefs.available<10%', 'nodefs.inodesFree<5%', 'imagefs.available<15%'];

/** Parses kubelet's `signal<quantity|percent%` list (e.g. memory.available<100Mi,nodefs.available<10%). Throws on malformed items. */
export function parseEvictionHard(items: readonly string[]): Threshold[] {
  return items.map((item) => {
    const m = /^([a-zA-Z.]+)<(.+)$/.exec(item.trim());
    if (!m) throw new Error(`--eviction-hard: "${item}" is not signal<quantity (e.g. memory.available<100Mi)`);
    const signal = m[1] as Signal;
    if (!SIGNALS.includes(signal)) throw new Error(`--eviction-hard: unknown signal "${m[1]}" (known: ${SIGNALS.join(', ')})`);
    const v = m[2]!.trim();
    if (v.endsWith('%')) {
      const percentage = Number(v.slice(0, -1));
      if (!Number.isFinite(percentage) || percentage < 0 || percentage > 100) throw new Error(`--eviction-hard: "${item}": percentage out of range`);
      return { signal, percentage };
    }
    const quantity = parseQuantity(v);
    if (quantity < 0) throw new Error(`--eviction-hard: "${item}": negative quantity`);
    return { signal, quantity };
  });
}

/** What a signal measured: the available amount and the capacity it is a part of. */
export interface Observation {
  available: number;
  capacity: number;
}

export type Observations = Partial<Record<Signal, Observation>>;

/** Thresholds crossed by the observations (signals not observed never count). */
export function crossed(thresholds: readonly Threshold[], obs: Observations): Threshold[] {
  return thresholds.filter((t) => {
    const o = obs[t.signal];
    if (!o) return false;
    const limit = t.percentage !== undefined ? (o.capacity * t.percentage) / 100 : (t.quantity ?? 0);
    return o.available < limit;
  });
}

function statfsObservation(dir: string, kind: 'bytes' | 'inodes'): Observation | undefined {
  try {
    const st = fs.statfsSync(dir);
    return kind === 'bytes' ? { available: st.bavail * st.bsize, capacity: st.blocks * st.bsize } : { available: st.ffree, capacity: st.files };
  } catch {
    return undefined;
  }
}

/** Reads the signals from this machine: /proc/meminfo, statfs of the kubelet's root dir and of the runtime's image filesystem, /proc/loadavg. */
export function observe(rootDir: string, imageFsDir: string | undefined): Observations {
  const obs: Observations = {};
  try {
    const mem = fs.readFileSync('/proc/meminfo', 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(mem)?.[1] ?? NaN) * 1024;
    const total = kib('MemTotal');
    const available = kib('MemAvailable');
    if (Number.isFinite(total) && Number.isFinite(available)) obs['memory.available'] = { available, capacity: total };
  } catch {
    // no /proc: the signal is not observed
  }
  const nodefs = statfsObservation(rootDir, 'bytes');
  if (nodefs) obs['nodefs.available'] = nodefs;
  const inodes = statfsObservation(rootDir, 'inodes');
  if (inodes && inodes.capacity > 0) obs['nodefs.inodesFree'] = inodes;
  const imagefs = imageFsDir ? statfsObservation(imageFsDir, 'bytes') : undefined;
  if (imagefs) obs['imagefs.available'] = imagefs;
  try {
    // Like the kubelet: the kernel's task count (4th field of /proc/loadavg, "running/total") against pid_max.
    const total = Number(/\d+\/(\d+)/.exec(fs.readFileSync('/proc/loadavg', 'utf8'))?.[1]);
    const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    if (Number.isFinite(total) && Number.isFinite(max)) obs['pid.available'] = { available: max - total, capacity: max };
  } catch {
    // not observed
  }
  return obs;
}

export interface PressureCondition {
  type: 'MemoryPressure' | 'DiskPressure' | 'PIDPressure';
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** The three conditions as the kubelet reports them, from the thresholds crossed now. */
export function pressureConditions(hits: readonly Threshold[]): PressureCondition[] {
  const has = (...s: Signal[]) => hits.some((h) => s.includes(h.signal));
  return [
    has('memory.available')
      ? { type: 'MemoryPressure', status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available' }
      : { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    has('nodefs.available', 'nodefs.inodesFree', 'imagefs.available')
      ? { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' }
      : { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    has('pid.available')
      ? { type: 'PIDPressure', status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' }
      : { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
  ];
}

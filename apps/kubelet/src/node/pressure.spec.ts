import { DEFAULT_EVICTION_HARD, crossed, observe, parseEvictionHard, pressureConditions } from './pressure';

describe('eviction thresholds and pressure conditions', () => {
  it('parses kubelet defaults and rejects malformed items', () => {
    expect(parseEvictionHard(DEFAULT_EVICTION_HARD)).toEqual([
      { signal: 'memory.available', quantity: 100 * 2 ** 20 },
      { signal: 'nodefs.available', percentage: 10 },
      { signal: 'nodefs.inodesFree', percentage: 5 },
      { signal: 'imagefs.available', percentage: 15 },
    ]);
    expect(() => parseEvictionHard(['memory.available>1Gi'])).toThrow(/not signal<quantity/);
    expect(() => parseEvictionHard(['cpu.available<1'])).toThrow(/unknown signal "cpu.available"/);
    expect(() => parseEvictionHard(['nodefs.available<120%'])).toThrow(/out of range/);
    expect(() => parseEvictionHard(['memory.available<lots'])).toThrow(/invalid quantity/);
  });

  it('a threshold is crossed below a quantity or a percentage of capacity; unobserved signals never are', () => {
    const t = parseEvictionHard(['memory.available<1Gi', 'nodefs.available<10%', 'pid.available<100']);
    expect(crossed(t, { 'memory.available': { available: 2 ** 30, capacity: 2 ** 34 } })).toEqual([]);
    expect(crossed(t, { 'memory.available': { available: 2 ** 30 - 1, capacity: 2 ** 34 } }).map((h) => h.signal)).toEqual(['memory.available']);
    expect(crossed(t, { 'nodefs.available': { available: 9, capacity: 100 } }).map((h) => h.signal)).toEqual(['nodefs.available']);
    expect(crossed(t, { 'nodefs.available': { available: 10, capacity: 100 } })).toEqual([]);
    expect(crossed(t, {})).toEqual([]);
  });

  it('maps crossed signals to the conditions and reasons the kubelet reports', () => {
    const none = pressureConditions([]);
    expect(none.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual([
      'MemoryPressure=False:KubeletHasSufficientMemory',
      'DiskPressure=False:KubeletHasNoDiskPressure',
      'PIDPressure=False:KubeletHasSufficientPID',
    ]);
    const all = pressureConditions(parseEvictionHard(['memory.available<1', 'imagefs.available<1', 'pid.available<1']));
    expect(all.map((c) => `${c.type}=${c.status}:${c.reason}`)).toEqual([
      'MemoryPressure=True:KubeletHasInsufficientMemory',
      'DiskPressure=True:KubeletHasDiskPressure',
      'PIDPressure=True:KubeletHasInsufficientPID',
    ]);
  });

  it('observes memory, the root dir filesystem and pids on this machine', () => {
    const obs = observe('/tmp', '/tmp');
    for (const s of ['memory.available', 'nodefs.available', 'imagefs.available', 'pid.available'] as const) {
      expect(obs[s]!.capacity).toBeGreaterThan(0);
      expect(obs[s]!.available).toBeGreaterThan(0);
      expect(obs[s]!.available).toBeLessThanOrEqual(obs[s]!.capacity);
    }
  });
});

import { evictionDecision, reconcileTaints, tolerates, unknownConditions, wantedHealthTaints, TAINT_UNREACHABLE } from './taints';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const unreachable = { key: TAINT_UNREACHABLE, effect: 'NoExecute', timeAdded: '2026-01-01T00:00:00Z' };

describe('node lifecycle helpers', () => {
  it('toleration matching follows v1.Toleration.ToleratesTaint', () => {
    expect(tolerates({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' }, unreachable)).toBe(true);
    expect(tolerates({ operator: 'Exists' }, unreachable)).toBe(true);
    expect(tolerates({ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoSchedule' }, unreachable)).toBe(false);
    expect(tolerates({ key: 'x', operator: 'Equal', value: 'a' }, { key: 'x', value: 'a', effect: 'NoExecute' })).toBe(true);
    expect(tolerates({ key: 'x', value: 'b' }, { key: 'x', value: 'a', effect: 'NoExecute' })).toBe(false);
  });

  it('evicts at once without a toleration, after tolerationSeconds with one, never without a limit', () => {
    expect(evictionDecision({ spec: {} }, [unreachable], T0)).toEqual({ evict: 'now' });
    const tol = (s?: number) => ({ spec: { tolerations: [{ key: TAINT_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', ...(s === undefined ? {} : { tolerationSeconds: s }) }] } });
    expect(evictionDecision(tol(300), [unreachable], T0 + 1000)).toEqual({ evict: 'at', atMs: T0 + 300_000 });
    expect(evictionDecision(tol(3), [unreachable], T0 + 3000)).toEqual({ evict: 'now' });
    expect(evictionDecision(tol(), [unreachable], T0 + 3000)).toEqual({ evict: 'never' });
    expect(evictionDecision({ spec: {} }, [{ key: TAINT_UNREACHABLE, effect: 'NoSchedule' }], T0)).toEqual({ evict: 'never' });
  });

  it('health taints follow the Ready status and keep timeAdded', () => {
    const now = '2026-01-01T00:01:00Z';
    const next = reconcileTaints([{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }], wantedHealthTaints('Unknown'), now)!;
    expect(next.map((t) => `${t.key}:${t.effect}`)).toEqual(['dedicated:NoSchedule', `${TAINT_UNREACHABLE}:NoExecute`, `${TAINT_UNREACHABLE}:NoSchedule`]);
    expect(next[1]!.timeAdded).toBe(now);
    expect(reconcileTaints(next, wantedHealthTaints('Unknown'), '2026-01-01T00:02:00Z')).toBeUndefined();
    expect(reconcileTaints(next, wantedHealthTaints('True'), now)).toEqual([{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }]);
    expect(reconcileTaints(next, wantedHealthTaints('False'), now)!.map((t) => t.key)).toEqual(['dedicated', 'node.kubernetes.io/not-ready', 'node.kubernetes.io/not-ready']);
  });

  it('turns the monitored conditions Unknown with kube reason and message', () => {
    const node = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: 'hb' }, { type: 'MemoryPressure', status: 'False' }] } };
    const c = unknownConditions(node, 'now')!;
    expect(c.find((x) => x.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: 'hb', lastTransitionTime: 'now' });
    expect(c.map((x) => x.type).sort()).toEqual(['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready']);
    expect(unknownConditions({ status: { conditions: c } }, 'later')).toBeUndefined();
  });
});

import { makeNode, makePod } from '../testing';
import { CycleState, NodeInfo, Snapshot, Status, Code, matchClusterEvents, ActionType } from './types';

const Mi = 1024 * 1024;

describe('NodeInfo', () => {
  it('reads allocatable with quantity parsing and sums requests of its pods', () => {
    const ni = new NodeInfo(makeNode('n1', { cpu: '3500m', memory: '7.5Gi', pods: '20' }), [
      makePod('a', { cpu: '500m', memory: '128Mi' }),
      makePod('b', { cpu: '1', memory: '1G' }),
      makePod('c'),
    ]);
    expect(ni.allocatable).toMatchObject({ milliCPU: 3500, memory: 7.5 * 1024 * Mi, allowedPodNumber: 20 });
    expect(ni.requestedMilliCPU).toBe(1500);
    expect(ni.requestedMemory).toBe(128 * Mi + 1e9);
    expect(ni.podCount).toBe(3);
    // Scoring's non-zero view: the pod without requests counts 100m / 200Mi.
    expect(ni.nonZeroRequested).toEqual({ milliCPU: 1600, memory: 128 * Mi + 1e9 + 200 * Mi });
  });

  it('removes pods and keeps the sums right', () => {
    const ni = new NodeInfo(makeNode('n1'), [makePod('a', { cpu: '1' }), makePod('b', { cpu: '2' }), makePod('c', { cpu: '4' })]);
    expect(ni.removePod('uid-default-a')).toBe(true);
    expect(ni.removePod('uid-default-a')).toBe(false);
    expect(ni.requestedMilliCPU).toBe(6000);
    expect(ni.pods.map((p) => p.pod.metadata?.name).sort()).toEqual(['b', 'c']);
    const c = ni.clone();
    c.removePod('uid-default-b');
    expect(c.requestedMilliCPU).toBe(4000);
    expect(ni.requestedMilliCPU).toBe(6000);
  });

  it('treats a node without allocatable as having nothing', () => {
    const ni = new NodeInfo({ metadata: { name: 'bare' } });
    expect(ni.allocatable).toMatchObject({ milliCPU: 0, memory: 0, allowedPodNumber: 0 });
  });
});

describe('Snapshot', () => {
  it('counts bound pods against their node, not pending or terminal ones', () => {
    const s = Snapshot.fromObjects({
      nodes: [makeNode('n1'), makeNode('n2')],
      pods: [
        makePod('bound', { nodeName: 'n1', cpu: '1' }),
        makePod('pending', { cpu: '1' }),
        makePod('done', { nodeName: 'n1', cpu: '1', phase: 'Succeeded' }),
        makePod('failed', { nodeName: 'n2', cpu: '1', phase: 'Failed' }),
        makePod('running', { nodeName: 'n2', cpu: '2', phase: 'Running' }),
      ],
    });
    expect(s.numNodes).toBe(2);
    expect(s.get('n1')!.requestedMilliCPU).toBe(1000);
    expect(s.get('n1')!.podCount).toBe(1);
    expect(s.get('n2')!.requestedMilliCPU).toBe(2000);
  });

  it('stops counting a pod that turns terminal and moves a pod that changes node', () => {
    const s = Snapshot.fromObjects({ nodes: [makeNode('n1'), makeNode('n2')] });
    const p = makePod('p', { nodeName: 'n1', cpu: '1' });
    s.addPod(p);
    expect(s.nodeOf(p)).toBe('n1');
    s.updatePod({ ...p, status: { phase: 'Succeeded' } });
    expect(s.get('n1')!.podCount).toBe(0);
    expect(s.nodeOf(p)).toBeUndefined();
    s.updatePod(makePod('p', { nodeName: 'n2', cpu: '1' }));
    expect(s.get('n2')!.podCount).toBe(1);
  });

  it('assumes and forgets pods', () => {
    const s = Snapshot.fromObjects({ nodes: [makeNode('n1')] });
    const p = makePod('p', { cpu: '1' });
    const assumed = s.assumePod(p, 'n1');
    expect(assumed.spec?.nodeName).toBe('n1');
    expect(p.spec?.nodeName).toBeUndefined();
    expect(s.get('n1')!.requestedMilliCPU).toBe(1000);
    s.forgetPod(p);
    expect(s.get('n1')!.requestedMilliCPU).toBe(0);
  });

  it('keeps pods of unknown nodes until the node shows up, and again after it goes', () => {
    const s = new Snapshot();
    s.addPod(makePod('early', { nodeName: 'late', cpu: '1' }));
    const ni = s.addNode(makeNode('late'));
    expect(ni.requestedMilliCPU).toBe(1000);
    s.removeNode('late');
    expect(s.numNodes).toBe(0);
    expect(s.addNode(makeNode('late')).requestedMilliCPU).toBe(1000);
  });

  it('updates a node in place, keeping its pods and its position', () => {
    const s = Snapshot.fromObjects({ nodes: [makeNode('a'), makeNode('b')], pods: [makePod('p', { nodeName: 'a', cpu: '1' })] });
    s.updateNode(makeNode('a', { cpu: '8' }));
    expect(s.nodeInfos.map((n) => n.name)).toEqual(['a', 'b']);
    expect(s.get('a')!.allocatable.milliCPU).toBe(8000);
    expect(s.get('a')!.podCount).toBe(1);
  });
});

describe('Status and CycleState', () => {
  it('joins reasons for the message', () => {
    const st = Status.unschedulable('Insufficient cpu', 'Insufficient memory');
    expect(st.message()).toBe('Insufficient cpu, Insufficient memory');
    expect(st.isRejected()).toBe(true);
    expect(new Status(Code.Skip).isRejected()).toBe(false);
  });

  it('clones data', () => {
    const c = new CycleState(new Snapshot());
    c.write('k', 1);
    c.skipFilterPlugins.add('X');
    const d = c.clone();
    expect(d.read('k')).toBe(1);
    expect(d.skipFilterPlugins.has('X')).toBe(true);
  });
});

describe('matchClusterEvents', () => {
  it('matches Pod registrations with AssignedPod events and more specific actions', () => {
    const reg = { resource: 'Pod' as const, actionType: ActionType.Delete };
    expect(matchClusterEvents(reg, { resource: 'AssignedPod', actionType: ActionType.Delete })).toBe(true);
    expect(matchClusterEvents(reg, { resource: 'AssignedPod', actionType: ActionType.Add })).toBe(false);
    const node = { resource: 'Node' as const, actionType: ActionType.Add | ActionType.UpdateNodeLabel };
    expect(matchClusterEvents(node, { resource: 'Node', actionType: ActionType.UpdateNodeLabel })).toBe(true);
    expect(matchClusterEvents(node, { resource: 'Node', actionType: ActionType.UpdateNodeTaint })).toBe(false);
    expect(matchClusterEvents({ resource: '*', actionType: ActionType.All }, { resource: 'Node', actionType: ActionType.Add })).toBe(true);
  });
});

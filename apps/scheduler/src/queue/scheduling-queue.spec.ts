import { defaultFramework } from '../framework/framework';
import { NodeInfo } from '../framework/types';
import { makeNode, makePod } from '../testing';
import { ClusterEvents, nodeUpdateEvents, preCheckForNode } from './events';
import { KeyedHeap } from './heap';
import { SchedulingQueue, type QueuedPodInfo } from './scheduling-queue';

const pluginEvents = defaultFramework().eventsToRegister();

function names(pods: Array<{ metadata?: { name?: string } }>): string[] {
  return pods.map((p) => p.metadata?.name ?? '').sort();
}

/** Pops the next pod and records why it failed, as the scheduler would. */
async function popAndFail(q: SchedulingQueue, plugins: string[], opts: { error?: boolean } = {}): Promise<QueuedPodInfo> {
  const info = (await q.pop())!;
  info.unschedulablePlugins = new Set(plugins);
  q.addUnschedulableIfNotPresent(info, q.schedulingCycle, opts);
  return info;
}

describe('KeyedHeap', () => {
  it('orders, updates and deletes by key', () => {
    const h = new KeyedHeap<{ k: string; v: number }>(
      (x) => x.k,
      (a, b) => a.v < b.v,
    );
    for (const [k, v] of [
      ['a', 5],
      ['b', 1],
      ['c', 3],
      ['d', 4],
    ] as const)
      h.addOrUpdate({ k, v });
    h.addOrUpdate({ k: 'a', v: 0 });
    h.delete('c');
    expect([h.pop()!.k, h.pop()!.k, h.pop()!.k, h.pop()]).toEqual(['a', 'b', 'd', undefined]);
  });
});

describe('SchedulingQueue', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: new Date('2024-01-01T00:00:00Z') });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('pops by priority, then by the time the pod was queued', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('low-early', { priority: 0 }));
    jest.advanceTimersByTime(10);
    q.add(makePod('high', { priority: 1000 }));
    jest.advanceTimersByTime(10);
    q.add(makePod('low-late', { priority: 0 }));
    q.add(makePod('low-same-ms', { priority: 0 }));
    q.add(makePod('negative', { priority: -5 }));
    const order: string[] = [];
    for (let i = 0; i < 5; i++) order.push((await q.pop())!.pod.metadata!.name!);
    expect(order).toEqual(['high', 'low-early', 'low-late', 'low-same-ms', 'negative']);
    expect(q.schedulingCycle).toBe(5);
  });

  it('pop waits for a pod, counts attempts, and resolves undefined once closed', async () => {
    const q = new SchedulingQueue();
    const waiting = q.pop();
    q.add(makePod('p'));
    const info = (await waiting)!;
    expect(info.pod.metadata!.name).toBe('p');
    expect(info.attempts).toBe(1);
    expect(info.initialAttemptTimestamp).toBe(Date.now());
    const pending = q.pop();
    q.close();
    expect(await pending).toBeUndefined();
    expect(await q.pop()).toBeUndefined();
  });

  it('backs off 1 s, doubling per attempt up to 10 s', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('p'));
    const durations: number[] = [];
    let info = (await q.pop())!;
    for (let attempt = 1; attempt <= 6; attempt++) {
      expect(info.attempts).toBe(attempt);
      durations.push(q.backoffDuration(info));
      // Failed by an error: straight to the backoff queue.
      q.addUnschedulableIfNotPresent(info, q.schedulingCycle, { error: true });
      expect(q.where(info.key)).toBe('backoff');
      jest.advanceTimersByTime(durations[attempt - 1]! - 1);
      q.flushBackoffQCompleted();
      expect(q.where(info.key)).toBe('backoff');
      jest.advanceTimersByTime(1);
      q.flushBackoffQCompleted();
      expect(q.where(info.key)).toBe('active');
      info = (await q.pop())!;
    }
    expect(durations).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });

  it('the backoff flush runs every second once started', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.run();
    q.add(makePod('p'));
    await popAndFail(q, [], { error: true });
    jest.advanceTimersByTime(999);
    expect(q.where('uid-default-p')).toBe('backoff');
    jest.advanceTimersByTime(1000);
    expect(q.where('uid-default-p')).toBe('active');
    q.close();
  });

  it('orders the backoff queue by when the backoff ends', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('a'));
    q.add(makePod('b'));
    const a = (await q.pop())!;
    a.attempts = 3; // 4 s
    q.addUnschedulableIfNotPresent(a, q.schedulingCycle, { error: true });
    await popAndFail(q, [], { error: true }); // b: 1 s
    jest.advanceTimersByTime(1000);
    q.flushBackoffQCompleted();
    expect(q.where('uid-default-b')).toBe('active');
    expect(q.where('uid-default-a')).toBe('backoff');
  });

  it('keeps unschedulable pods until an event one of their plugins registered', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('needs-cpu', { cpu: '2' }));
    q.add(makePod('tainted-out'));
    await popAndFail(q, ['NodeResourcesFit']);
    await popAndFail(q, ['TaintToleration']);
    expect(q.pendingPods().unschedulable).toHaveLength(2);

    // A node's annotations changed: nobody registered for that.
    q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: nodeUpdateEvents(makeNode('n'), { ...makeNode('n'), metadata: { ...makeNode('n').metadata, annotations: { a: 'b' } } })[0]!.actionType });
    expect(q.pendingPods().unschedulable).toHaveLength(2);

    // An assigned pod went away: only NodeResourcesFit cares (after its backoff ends).
    jest.advanceTimersByTime(1000);
    q.moveAllToActiveOrBackoffQueue(ClusterEvents.AssignedPodDelete);
    expect(names(q.pendingPods().active)).toEqual(['needs-cpu']);
    expect(names(q.pendingPods().unschedulable)).toEqual(['tainted-out']);

    // A node was added: TaintToleration registered Node/Add.
    q.moveAllToActiveOrBackoffQueue(ClusterEvents.NodeAdd);
    expect(names(q.pendingPods().active)).toEqual(['needs-cpu', 'tainted-out']);
  });

  it('moves a pod still backing off to the backoff queue, not activeQ', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('p'));
    await popAndFail(q, ['NodeResourcesFit']);
    jest.advanceTimersByTime(500);
    q.moveAllToActiveOrBackoffQueue(ClusterEvents.NodeAdd);
    expect(q.where('uid-default-p')).toBe('backoff');
    jest.advanceTimersByTime(500);
    q.flushBackoffQCompleted();
    expect(q.where('uid-default-p')).toBe('active');
  });

  it('pods without unschedulable plugins move on any event', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('p'));
    await popAndFail(q, []);
    jest.advanceTimersByTime(1000);
    q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: 64 /* annotation */ });
    expect(q.where('uid-default-p')).toBe('active');
  });

  it('a move request during the attempt sends the failed pod to backoff instead of unschedulable', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('p'));
    const info = (await q.pop())!;
    const cycle = q.schedulingCycle;
    q.moveAllToActiveOrBackoffQueue(ClusterEvents.NodeAdd); // a node appeared while we were filtering
    info.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(info, cycle);
    expect(q.where(info.key)).toBe('backoff');
  });

  it('flushes pods unschedulable for more than 5 minutes (checked every 30 s)', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.run();
    q.add(makePod('p'));
    await popAndFail(q, ['TaintToleration']);
    jest.advanceTimersByTime(5 * 60_000);
    expect(q.where('uid-default-p')).toBe('unschedulable');
    jest.advanceTimersByTime(30_000);
    expect(q.where('uid-default-p')).toBe('active');
    q.close();
  });

  it('an update to an unschedulable pod may make it schedulable; a status-only update does not', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    const pod = makePod('p', { nodeSelector: { disk: 'ssd' } });
    q.add(pod);
    await popAndFail(q, ['NodeAffinity']);
    q.update(pod, { ...pod, metadata: { ...pod.metadata, resourceVersion: '7' }, status: { phase: 'Pending', nominatedNodeName: '' } });
    expect(q.where(pod)).toBe('unschedulable');
    const fixed = { ...pod, spec: { ...pod.spec, nodeSelector: {} } };
    jest.advanceTimersByTime(1000);
    q.update(pod, fixed);
    expect(q.where(pod)).toBe('active');
    expect((await q.pop())!.pod).toBe(fixed);
  });

  it('updates pods in place in activeQ, and adds unknown ones', () => {
    const q = new SchedulingQueue();
    const pod = makePod('p', { priority: 1 });
    q.add(pod);
    q.update(pod, makePod('p', { priority: 5 }));
    expect(q.size).toBe(1);
    q.update(undefined, makePod('new'));
    expect(q.where('uid-default-new')).toBe('active');
  });

  it('delete removes the pod everywhere, also while it is being scheduled', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('a'));
    q.add(makePod('b'));
    q.delete(makePod('a'));
    expect(q.size).toBe(1);
    const info = (await q.pop())!;
    expect(q.where(info.key)).toBe('inFlight');
    q.delete(info.pod);
    info.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(info);
    expect(q.where(info.key)).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('a pod updated while being scheduled goes to backoff if the attempt fails', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('p'));
    const info = (await q.pop())!;
    q.update(info.pod, makePod('p', { tolerations: [{ operator: 'Exists' }] }));
    info.unschedulablePlugins = new Set(['TaintToleration']);
    q.addUnschedulableIfNotPresent(info);
    expect(q.where(info.key)).toBe('backoff');
    expect(info.pod.spec?.tolerations).toHaveLength(1);
  });

  it('done forgets a bound pod', async () => {
    const q = new SchedulingQueue();
    q.add(makePod('p'));
    const info = (await q.pop())!;
    q.done(info.key);
    expect(q.where(info.key)).toBeUndefined();
    expect(q.summary()).toBe('activeQ:0; backoffQ:0; unschedulablePods:0');
  });

  it('a preCheck keeps pods that cannot fit the new node where they are', async () => {
    const q = new SchedulingQueue({ pluginEvents });
    q.add(makePod('big', { cpu: '16' }));
    q.add(makePod('small', { cpu: '1' }));
    await popAndFail(q, ['NodeResourcesFit']);
    await popAndFail(q, ['NodeResourcesFit']);
    jest.advanceTimersByTime(1000);
    q.moveAllToActiveOrBackoffQueue(ClusterEvents.NodeAdd, preCheckForNode(new NodeInfo(makeNode('n', { cpu: '4' }))));
    expect(names(q.pendingPods().active)).toEqual(['small']);
    expect(names(q.pendingPods().unschedulable)).toEqual(['big']);
  });
});

describe('nodeUpdateEvents', () => {
  it('derives the specific Node update events', () => {
    const old = makeNode('n', { unschedulable: true });
    const labels = nodeUpdateEvents(old, makeNode('n', { unschedulable: false, labels: { zone: 'a' }, cpu: '8' })).map((e) => e.label);
    expect(labels).toEqual(['NodeSpecUnschedulableChange', 'NodeAllocatableChange', 'NodeLabelChange']);
    expect(nodeUpdateEvents(makeNode('n'), makeNode('n'))).toEqual([]);
    expect(nodeUpdateEvents(makeNode('n'), makeNode('n', { taints: [{ key: 'k', effect: 'NoSchedule' }] })).map((e) => e.label)).toEqual(['NodeTaintChange']);
    // Cordoning is not an event that can help a pod.
    expect(nodeUpdateEvents(makeNode('n'), makeNode('n', { unschedulable: true }))).toEqual([]);
  });
});

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, waitFor, type NatsServer } from '@kubets/testkit';
import { EventConsumer, encodeEvent, resourceSubject, type ChainEvent, type KObject } from '../src';

jest.setTimeout(60_000);

/**
 * The consumer's chain logic against a real nats-server, with events
 * published by the test: the "truth" (what a list returns) is a map the test
 * controls, so gaps, duplicates and lost last events can be staged exactly.
 */
describe('EventConsumer', () => {
  let nats: NatsServer;
  let pub: NatsConnection;
  let sub: NatsConnection;
  const subject = resourceSubject('', 'configmaps');

  beforeAll(async () => {
    nats = await startNatsServer();
    pub = await connect({ servers: nats.url });
    sub = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await pub?.close();
    await sub?.close();
    await nats?.dispose();
  });

  function world() {
    const truth = new Map<string, KObject>();
    let rev = 100;
    const calls: string[] = [];
    const obj = (name: string, r: number) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: String(r) } });
    const consumer = new EventConsumer({
      nc: sub,
      subject,
      list: async () => ({ items: [...truth.values()], resourceVersion: String(rev) }),
      handler: {
        added: (o) => void calls.push(`ADDED ${o.metadata.name}@${o.metadata.resourceVersion}`),
        modified: (o) => void calls.push(`MODIFIED ${o.metadata.name}@${o.metadata.resourceVersion}`),
        deleted: (o) => void calls.push(`DELETED ${o.metadata.name}@${o.metadata.resourceVersion}`),
      },
    });
    let last = 100;
    /** Commit a change to the truth and return its event (not yet published). */
    const change = (type: 'ADDED' | 'MODIFIED' | 'DELETED', name: string): ChainEvent => {
      rev++;
      const o = obj(name, rev);
      if (type === 'DELETED') truth.delete(name);
      else truth.set(name, o);
      const ev: ChainEvent = { type, object: Buffer.from(JSON.stringify(o)), revision: rev, prevRevision: last, group: '', resource: 'configmaps', namespace: 'ns', name };
      last = rev;
      return ev;
    };
    const send = async (ev: ChainEvent) => {
      pub.publish(subject, encodeEvent(ev));
      await pub.flush();
    };
    const bookmark = () => send({ type: 'BOOKMARK', object: Buffer.alloc(0), revision: rev, prevRevision: last, group: '', resource: '', namespace: '', name: '' });
    return { truth, consumer, calls, change, send, bookmark, rev: () => rev };
  }

  it('applies events in order and drops duplicates', async () => {
    const w = world();
    await w.consumer.start();
    const a = w.change('ADDED', 'a');
    await w.send(a);
    await w.send(a); // duplicate (a second publisher, a re-send after failover)
    const b = w.change('MODIFIED', 'a');
    await w.send(b);
    await waitFor(() => w.consumer.revision === w.rev(), { description: 'consumer caught up' });
    await w.consumer.drain();
    expect(w.calls).toEqual(['ADDED a@101', 'MODIFIED a@102']);
    expect(w.consumer.stats.duplicates).toBe(1);
    expect(w.consumer.stats.gaps).toBe(0);
    w.consumer.stop();
  });

  it('a missed event is detected from the next one, and the relist delivers the difference once', async () => {
    const w = world();
    await w.consumer.start();
    await w.send(w.change('ADDED', 'a'));
    w.change('ADDED', 'b'); // never published: lost
    w.change('DELETED', 'a'); // lost too
    await w.send(w.change('ADDED', 'c'));
    await waitFor(() => w.consumer.stats.gaps === 1 && w.consumer.state.has('ns/c'), { description: 'gap detected and repaired' });
    await w.consumer.drain();
    expect(w.calls).toEqual(['ADDED a@101', 'DELETED a@101', 'ADDED b@102', 'ADDED c@104']);
    expect([...w.consumer.state.keys()].sort()).toEqual(['ns/b', 'ns/c']);
    w.consumer.stop();
  });

  it('a lost LAST event is noticed by the next bookmark', async () => {
    const w = world();
    await w.consumer.start();
    await w.send(w.change('ADDED', 'a'));
    w.change('MODIFIED', 'a'); // lost, and nothing else changes
    await w.bookmark();
    await waitFor(() => w.calls.includes('MODIFIED a@102'), { description: 'the bookmark revealed the gap' });
    expect(w.consumer.stats.gaps).toBe(1);
    w.consumer.stop();
  });

  it('without gap detection the lost event would stay lost (the check is what repairs it)', async () => {
    const w = world();
    await w.consumer.start();
    await w.send(w.change('ADDED', 'a'));
    const lost = w.change('MODIFIED', 'a');
    const next = w.change('ADDED', 'z');
    // Rewrite the chain as a broken publisher would (prev pointing at what the consumer has): no gap visible.
    await w.send({ ...next, prevRevision: lost.prevRevision });
    await waitFor(() => w.consumer.state.has('ns/z'), { description: 'z applied' });
    await w.consumer.drain();
    expect(w.consumer.state.get('ns/a')!.metadata.resourceVersion).toBe('101'); // stale: the chain is what carries the guarantee
    w.consumer.stop();
  });
});

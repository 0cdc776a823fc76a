import { seededRandom, testSeed, withSeed } from '@kubets/testkit';
import { CompactedError, FutureRevisionError } from './errors';
import { keyString, MvccStore, toKeyRange, type KeyRange } from './store';

const b = (s: string) => Buffer.from(s);
const one = (k: string): KeyRange => ({ key: k, end: null });
const prefix = (p: string): KeyRange => toKeyRange(b(p), Buffer.from(p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1)));

function put(s: MvccStore, key: string, value: string, lease = 0n): number {
  const t = s.write();
  t.put(b(key), b(value), lease);
  return t.end();
}

function del(s: MvccStore, range: KeyRange): number {
  const t = s.write();
  t.deleteRange(range);
  return t.end();
}

function view(s: MvccStore, range: KeyRange, rev?: number) {
  return s.range(range, { rev }).kvs.map((kv) => ({
    key: kv.key.toString(),
    value: kv.value.toString(),
    create: Number(kv.createRevision),
    mod: Number(kv.modRevision),
    version: Number(kv.version),
  }));
}

describe('MvccStore revisions', () => {
  it('starts at revision 1 and bumps once per changing transaction', () => {
    const s = new MvccStore();
    expect(s.currentRev).toBe(1);
    expect(put(s, 'a', '1')).toBe(2);
    expect(put(s, 'a', '2')).toBe(3);
    const t = s.write();
    t.put(b('b'), b('x'), 0n);
    t.put(b('c'), b('y'), 0n);
    expect(t.end()).toBe(4);
    expect(s.write().end()).toBe(4); // nothing changed: no new revision
    expect(view(s, one('a'))).toEqual([{ key: 'a', value: '2', create: 2, mod: 3, version: 2 }]);
    expect(view(s, one('c'))).toEqual([{ key: 'c', value: 'y', create: 4, mod: 4, version: 1 }]);
  });

  it('a delete ends the generation: the next put recreates with version 1', () => {
    const s = new MvccStore();
    put(s, 'k', 'v1'); // 2
    put(s, 'k', 'v2'); // 3
    expect(del(s, one('k'))).toBe(4);
    expect(del(s, one('k'))).toBe(4); // deleting nothing changes nothing
    expect(view(s, one('k'))).toEqual([]);
    put(s, 'k', 'v3'); // 5
    expect(view(s, one('k'))).toEqual([{ key: 'k', value: 'v3', create: 5, mod: 5, version: 1 }]);
    // History
    expect(view(s, one('k'), 3)).toEqual([{ key: 'k', value: 'v2', create: 2, mod: 3, version: 2 }]);
    expect(view(s, one('k'), 4)).toEqual([]);
  });

  it('rejects future and compacted revisions', () => {
    const s = new MvccStore();
    put(s, 'a', '1');
    put(s, 'a', '2');
    expect(() => s.range(one('a'), { rev: 4 })).toThrow(FutureRevisionError);
    expect(() => s.range(one('a'), { rev: 4 })).toThrow('mvcc: required revision is a future revision');
    s.compact(3);
    expect(() => s.range(one('a'), { rev: 2 })).toThrow(CompactedError);
    expect(() => s.range(one('a'), { rev: 2 })).toThrow('mvcc: required revision has been compacted');
    expect(view(s, one('a'), 3)).toHaveLength(1); // the compaction revision itself is readable
    expect(() => s.compact(3)).toThrow(CompactedError);
    expect(() => s.compact(9)).toThrow(FutureRevisionError);
  });
});

describe('MvccStore ranges', () => {
  const s = new MvccStore();
  for (const k of ['a', 'foo', 'foo/1', 'foo/2', 'foo0', 'fop', 'z']) put(s, k, k.toUpperCase());

  it('one key, a prefix, [key, end), every key >= key, everything', () => {
    expect(view(s, one('foo')).map((x) => x.key)).toEqual(['foo']);
    expect(view(s, prefix('foo/')).map((x) => x.key)).toEqual(['foo/1', 'foo/2']);
    expect(view(s, prefix('foo')).map((x) => x.key)).toEqual(['foo', 'foo/1', 'foo/2', 'foo0']);
    expect(view(s, toKeyRange(b('foo/'), b('fop'))).map((x) => x.key)).toEqual(['foo/1', 'foo/2', 'foo0']);
    expect(view(s, toKeyRange(b('foo0'), Buffer.from([0]))).map((x) => x.key)).toEqual(['foo0', 'fop', 'z']);
    expect(view(s, toKeyRange(Buffer.from([0]), Buffer.from([0]))).map((x) => x.key)).toEqual([
      'a',
      'foo',
      'foo/1',
      'foo/2',
      'foo0',
      'fop',
      'z',
    ]);
    expect(view(s, toKeyRange(b('z'), b('a')))).toEqual([]); // end before key: empty
  });

  it('limit keeps counting the whole range', () => {
    const r = s.range(prefix('foo'), { limit: 2 });
    expect(r.kvs.map((kv) => kv.key.toString())).toEqual(['foo', 'foo/1']);
    expect(r.count).toBe(4);
    const c = s.range(prefix('foo'), { countOnly: true });
    expect(c.kvs).toEqual([]);
    expect(c.count).toBe(4);
  });

  it('binary keys order bytewise', () => {
    const t = new MvccStore();
    const keys = [Buffer.from([0xff]), Buffer.from([0x00, 0x01]), Buffer.from([0x7f]), Buffer.from([0x80])];
    for (const k of keys) {
      const w = t.write();
      w.put(k, b('v'), 0n);
      w.end();
    }
    const all = t.range(toKeyRange(Buffer.from([0]), Buffer.from([0]))).kvs.map((kv) => [...kv.key]);
    expect(all).toEqual([[0x00, 0x01], [0x7f], [0x80], [0xff]]);
  });
});

describe('MvccStore transactions', () => {
  it('reads inside a transaction see its own writes; other readers do not until commit', () => {
    const s = new MvccStore();
    put(s, 'a', 'old');
    const t = s.write();
    t.put(b('a'), b('new'), 0n);
    t.put(b('b'), b('born'), 0n);
    expect(t.range(prefix('a')).kvs.map((kv) => kv.value.toString())).toEqual(['new']);
    expect(t.range(toKeyRange(b('a'), b('c'))).kvs.map((kv) => kv.key.toString())).toEqual(['a', 'b']);
    expect(t.rev).toBe(3);
    expect(view(s, one('a'))[0]!.value).toBe('old');
    t.deleteRange(one('b'));
    expect(t.range(one('b')).kvs).toEqual([]);
    expect(t.end()).toBe(3);
    expect(view(s, one('b'))).toEqual([]);
    const events = s.eventsSince(3, () => true);
    expect(events.map((e) => [e.type, e.kv.key.toString(), e.sub])).toEqual([
      ['put', 'a', 0],
      ['put', 'b', 1],
      ['delete', 'b', 2],
    ]);
  });
});

describe('MvccStore events and compaction', () => {
  it('serves events from a revision with prev values, and refuses compacted ones', () => {
    const s = new MvccStore();
    put(s, 'k', '1'); // 2
    put(s, 'k', '2'); // 3
    put(s, 'other', 'x'); // 4
    del(s, one('k')); // 5
    const ev = s.eventsSince(3, (k) => k === 'k');
    expect(ev.map((e) => [e.type, e.main, e.kv.value.toString(), e.prevKv?.value.toString()])).toEqual([
      ['put', 3, '2', '1'],
      ['delete', 5, '', '2'],
    ]);
    s.compact(4);
    expect(() => s.eventsSince(3, () => true)).toThrow(CompactedError);
    expect(s.eventsSince(4, () => true).map((e) => e.main)).toEqual([4, 5]);
  });

  it('compaction keeps the newest value at the compaction revision and drops dead keys', () => {
    const s = new MvccStore();
    put(s, 'live', '1'); // 2
    put(s, 'live', '2'); // 3
    put(s, 'dead', 'x'); // 4
    del(s, one('dead')); // 5
    put(s, 'live', '3'); // 6
    s.compact(5);
    expect(view(s, one('live'), 5)).toEqual([{ key: 'live', value: '2', create: 2, mod: 3, version: 2 }]);
    expect(view(s, one('live'))[0]!.version).toBe(3);
    expect(s.indexedKeys).toBe(1); // 'dead' is gone from the index
  });
});

describe('MvccStore hash, snapshot export and import', () => {
  it('equal histories hash equal; import(export) is the same store', () => {
    const build = () => {
      const s = new MvccStore();
      put(s, 'a', '1');
      put(s, 'b', '2', 7n);
      del(s, one('a'));
      put(s, 'a', '3');
      return s;
    };
    const s1 = build();
    const s2 = build();
    expect(s1.hashKV().hash).toBe(s2.hashKV().hash);
    put(s2, 'c', 'x');
    expect(s1.hashKV().hash).not.toBe(s2.hashKV().hash);
    expect(s2.hashKV(s1.currentRev).hash).toBe(s1.hashKV().hash);

    const copy = new MvccStore();
    copy.importRevisions(s1.exportRevisions(), s1.compactRev);
    expect(copy.currentRev).toBe(s1.currentRev);
    expect(copy.hashKV().hash).toBe(s1.hashKV().hash);
    expect(view(copy, one('a'), 3)).toEqual(view(s1, one('a'), 3));
    expect(copy.range(one('b')).kvs[0]!.lease).toBe(7n);
    expect(copy.eventsSince(2, () => true).length).toBe(s1.eventsSince(2, () => true).length);
  });
});

describe('MvccStore against a naive model (seeded)', () => {
  it('matches a model that keeps every full state, for random operations', async () => {
    await withSeed(async (seed, random) => {
      const s = new MvccStore();
      // model: revision -> Map(key -> {value, create, mod, version})
      type V = { value: string; create: number; mod: number; version: number };
      const states = new Map<number, Map<string, V>>([[1, new Map()]]);
      let rev = 1;
      let compacted = -1;
      const keys = ['a', 'b', 'c', 'd', 'e'];
      for (let step = 0; step < 600; step++) {
        const r = random();
        const cur = states.get(rev)!;
        if (r < 0.5) {
          const k = keys[Math.floor(random() * keys.length)]!;
          const v = String(Math.floor(random() * 1000));
          put(s, k, v);
          rev++;
          const next = new Map(cur);
          const prev = cur.get(k);
          next.set(k, { value: v, create: prev ? prev.create : rev, mod: rev, version: prev ? prev.version + 1 : 1 });
          states.set(rev, next);
        } else if (r < 0.7) {
          const lo = keys[Math.floor(random() * keys.length)]!;
          const range = random() < 0.5 ? one(lo) : toKeyRange(b(lo), b('d'));
          const doomed = [...cur.keys()].filter((k) => (range.end === null ? k === lo : k >= lo && k < 'd'));
          del(s, range);
          if (doomed.length > 0) {
            rev++;
            const next = new Map(cur);
            for (const k of doomed) next.delete(k);
            states.set(rev, next);
          }
        } else if (r < 0.75 && rev > 2) {
          const target = compacted + 1 + Math.floor(random() * Math.max(1, rev - compacted - 1));
          if (target > compacted && target <= rev) {
            s.compact(target);
            compacted = target;
          }
        } else {
          const at = Math.max(compacted, 1) + Math.floor(random() * (rev - Math.max(compacted, 1) + 1));
          const expected = [...(states.get(at) ?? new Map()).entries()]
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([key, v]) => ({ key, ...v }));
          const got = s.range(toKeyRange(Buffer.from([0]), Buffer.from([0])), { rev: at }).kvs.map((kv) => ({
            key: keyString(kv.key),
            value: kv.value.toString(),
            create: Number(kv.createRevision),
            mod: Number(kv.modRevision),
            version: Number(kv.version),
          }));
          if (JSON.stringify(got) !== JSON.stringify(expected)) {
            throw new Error(`step ${step}: read at ${at} (current ${rev}, compacted ${compacted}) got ${JSON.stringify(got)} want ${JSON.stringify(expected)}`);
          }
        }
        expect(s.currentRev).toBe(rev);
      }
    }, testSeed());
  });

  it('is deterministic for a fixed seed (replayable)', () => {
    const a = seededRandom(99);
    const c = seededRandom(99);
    expect([a(), a()]).toEqual([c(), c()]);
  });
});

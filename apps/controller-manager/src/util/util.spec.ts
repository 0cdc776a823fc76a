import { pod, replicaSet } from '../testing/fixtures';
import { claimObjects } from './controller-ref';
import { ControllerExpectations, EXPECTATIONS_TIMEOUT_MS, UIDTrackingControllerExpectations } from './expectations';
import { computeHash, Fnv32a, safeEncodeString } from './hash';
import { goRound, isPodAvailable, newControllerRef, semanticEqual, timeString } from './k8s';

describe('hash', () => {
  it('is FNV-1a 32', () => {
    expect(new Fnv32a().sum32()).toBe(0x811c9dc5);
    expect(new Fnv32a().write(Buffer.from('a')).sum32()).toBe(0xe40c292c);
    expect(new Fnv32a().write(Buffer.from('foobar')).sum32()).toBe(0xbf9cf968);
  });

  it('SafeEncodeString maps digits like kube (no vowels)', () => {
    expect(safeEncodeString('0123456789')).toBe('456789bcdf');
  });

  it('computeHash is stable, ignores key order and empty fields, and changes with collisionCount', () => {
    const t1 = { metadata: { labels: { app: 'web', tier: 'fe' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
    const t2 = { spec: { containers: [{ image: 'nginx', name: 'c', env: [] }] }, metadata: { annotations: {}, labels: { tier: 'fe', app: 'web' } } };
    const h = computeHash(t1);
    expect(h).toMatch(/^[456789bcdf]+$/);
    expect(computeHash(t2)).toBe(h);
    expect(computeHash(t1, 0)).not.toBe(h);
    expect(computeHash(t1, 1)).not.toBe(computeHash(t1, 0));
    expect(computeHash({ ...t1, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } })).not.toBe(h);
  });
});

describe('ControllerExpectations', () => {
  it('is satisfied when nothing is expected, when all is observed, or after 5 minutes', () => {
    let now = 0;
    const e = new ControllerExpectations({ now: () => now });
    expect(e.satisfiedExpectations('ns/rs')).toBe(true);
    e.expectCreations('ns/rs', 2);
    expect(e.satisfiedExpectations('ns/rs')).toBe(false);
    e.creationObserved('ns/rs');
    expect(e.satisfiedExpectations('ns/rs')).toBe(false);
    e.creationObserved('ns/rs');
    expect(e.satisfiedExpectations('ns/rs')).toBe(true);
    e.expectCreations('ns/rs', 1);
    now = EXPECTATIONS_TIMEOUT_MS;
    expect(e.satisfiedExpectations('ns/rs')).toBe(false);
    now = EXPECTATIONS_TIMEOUT_MS + 1;
    expect(e.satisfiedExpectations('ns/rs')).toBe(true);
  });

  it('counts each expected deletion once (graceful deletion is seen twice)', () => {
    const e = new UIDTrackingControllerExpectations({ now: () => 0 });
    e.expectDeletions('ns/rs', ['ns/a', 'ns/b']);
    e.deletionObserved('ns/rs', 'ns/a'); // deletionTimestamp set
    e.deletionObserved('ns/rs', 'ns/a'); // DELETED
    e.deletionObserved('ns/rs', 'ns/other');
    expect(e.satisfiedExpectations('ns/rs')).toBe(false);
    e.deletionObserved('ns/rs', 'ns/b');
    expect(e.satisfiedExpectations('ns/rs')).toBe(true);
    e.deleteExpectations('ns/rs');
    expect(e.getExpectations('ns/rs')).toBeUndefined();
  });
});

describe('claimObjects', () => {
  const rs = replicaSet('web-1', 3);
  const ref = newControllerRef(rs, 'apps/v1', 'ReplicaSet');
  const other = replicaSet('other', 1, { uid: 'uid-other' });

  it('adopts matching orphans, releases owned non-matching, ignores others', () => {
    const owned = pod('owned', { owner: rs });
    const orphan = pod('orphan');
    const orphanDeleting = pod('orphan-deleting', { deleting: true });
    const orphanNoMatch = pod('orphan-nomatch', { labels: { app: 'db' } });
    const ownedNoMatch = pod('owned-nomatch', { owner: rs, labels: { app: 'db' } });
    const foreign = pod('foreign', { owner: other });
    const match = (o: any) => o.metadata.labels.app === 'web';
    const r = claimObjects(rs, ref, [owned, orphan, orphanDeleting, orphanNoMatch, ownedNoMatch, foreign], match);
    expect(r.claimed.map((p) => p.metadata.name)).toEqual(['owned', 'orphan']);
    expect(r.adopt).toEqual([
      {
        object: orphan,
        patch: {
          metadata: {
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-1', uid: 'uid-web-1', controller: true, blockOwnerDeletion: true }],
            uid: 'uid-orphan',
          },
        },
      },
    ]);
    expect(r.release).toEqual([{ object: ownedNoMatch, patch: { metadata: { ownerReferences: [{ $patch: 'delete', uid: 'uid-web-1' }], uid: 'uid-owned-nomatch' } } }]);
  });

  it('a controller being deleted neither adopts nor releases', () => {
    const dying = { ...rs, metadata: { ...rs.metadata, deletionTimestamp: timeString(0) } };
    const r = claimObjects(dying, ref, [pod('orphan'), pod('owned-nomatch', { owner: rs, labels: { app: 'db' } })], (o) => o.metadata.labels.app === 'web');
    expect(r).toEqual({ claimed: [], adopt: [], release: [] });
  });
});

describe('k8s helpers', () => {
  it('goRound rounds halves away from zero', () => {
    expect([goRound(2.5), goRound(-2.5), goRound(2.4), goRound(-0.4)]).toEqual([3, -3, 2, -0]);
  });

  it('isPodAvailable needs Ready for more than minReadySeconds', () => {
    const p = pod('p', { ready: true, readySince: 1_000_000 });
    expect(isPodAvailable(p, 0, 1_000_000)).toBe(true);
    expect(isPodAvailable(p, 10, 1_010_000)).toBe(false);
    expect(isPodAvailable(p, 10, 1_010_001)).toBe(true);
    expect(isPodAvailable(pod('q', { ready: false }), 0, 0)).toBe(false);
  });

  it('semanticEqual treats nil and empty alike', () => {
    expect(semanticEqual({ a: [], b: {}, c: null, d: 1 }, { d: 1 })).toBe(true);
    expect(semanticEqual({ a: [1] }, { a: [] })).toBe(false);
  });
});

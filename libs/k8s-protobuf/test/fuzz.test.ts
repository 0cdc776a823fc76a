// Hostile bytes: every prefix and thousands of random mutations of real
// bodies either decode to plain JSON or fail with K8sProtobufError, quickly.
import { decodeK8sProtobuf, encodeK8sProtobuf, K8sProtobufError } from '../src';
import { OBJECTS } from './fixtures/objects';

/** Deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Decodes; the result, if any, must be plain JSON data. */
function attempt(body: Buffer): 'ok' | 'refused' {
  let object: Record<string, unknown>;
  try {
    object = decodeK8sProtobuf(body).object;
  } catch (err) {
    if (err instanceof K8sProtobufError) return 'refused';
    throw new Error(`${(err as Error).name}: ${(err as Error).message} for ${body.toString('hex')}`);
  }
  expect(JSON.parse(JSON.stringify(object))).toEqual(object);
  return 'ok';
}

const bodies = Object.values(OBJECTS).map((o) => encodeK8sProtobuf(o));

describe('hostile input', () => {
  it('every prefix of every body decodes or is refused', () => {
    let refused = 0;
    for (const body of bodies) {
      for (let n = 0; n < body.length; n++) if (attempt(body.subarray(0, n)) === 'refused') refused++;
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('random mutations decode or are refused, quickly', () => {
    const random = prng(20240506);
    const pick = (n: number): number => Math.floor(random() * n);
    const start = Date.now();
    const outcomes = { ok: 0, refused: 0 };
    for (let i = 0; i < 20_000; i++) {
      const body = Buffer.from(bodies[pick(bodies.length)]);
      let mutated: Buffer = body;
      const edits = 1 + pick(4);
      for (let e = 0; e < edits; e++) {
        const at = 4 + pick(Math.max(1, mutated.length - 4));
        switch (pick(5)) {
          case 0:
            mutated[at] ^= 1 << pick(8);
            break;
          case 1:
            mutated[at] = pick(256);
            break;
          case 2:
            mutated = Buffer.concat([mutated.subarray(0, at), Buffer.from([pick(256)]), mutated.subarray(at)]);
            break;
          case 3:
            mutated = Buffer.concat([mutated.subarray(0, at), mutated.subarray(at + 1 + pick(8))]);
            break;
          default:
            mutated = Buffer.concat([mutated.subarray(0, at), Buffer.from(Array.from({ length: 1 + pick(16) }, () => pick(256)))]);
        }
      }
      outcomes[attempt(mutated)]++;
    }
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
    expect(Date.now() - start).toBeLessThan(30_000);
  });

  it('random bytes after the magic are refused or decode', () => {
    const random = prng(7);
    for (let i = 0; i < 5_000; i++) {
      const tail = Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
      attempt(Buffer.concat([Buffer.from('k8s\x00', 'latin1'), tail]));
    }
  });

  it('a large body of many small fields decodes in bounded time', () => {
    const labels = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, `v${i}`]));
    const body = encodeK8sProtobuf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big', labels } });
    const start = Date.now();
    const { object } = decodeK8sProtobuf(body);
    expect(Object.keys((object.metadata as { labels: object }).labels)).toHaveLength(50_000);
    expect(Date.now() - start).toBeLessThan(5_000);
  });
});

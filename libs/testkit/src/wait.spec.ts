import { eventually, waitFor } from './wait';
import { seededRandom, withSeed } from './seed';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? n : 0), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('fails at the deadline, naming what it waited for and the last error', async () => {
    const started = Date.now();
    await expect(
      waitFor(
        () => {
          throw new Error('not yet');
        },
        { timeoutMs: 100, description: 'the moon', context: () => 'extra context' },
      ),
    ).rejects.toThrow(/timed out after 100 ms waiting for the moon; last error: not yet\nextra context/);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('eventually retries assertions until they pass', async () => {
    let n = 0;
    await eventually(() => expect(++n).toBeGreaterThan(2), { intervalMs: 1 });
    expect(n).toBe(3);
  });
});

describe('seeds', () => {
  it('the same seed gives the same sequence', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(seededRandom(43)()).not.toBe(xs[0]);
  });

  it('a failure names its seed and how to replay it', async () => {
    await expect(
      withSeed(() => {
        throw new Error('broken');
      }, 7),
    ).rejects.toThrow('[seed 7; replay with KUBETS_SEED=7] broken');
  });
});

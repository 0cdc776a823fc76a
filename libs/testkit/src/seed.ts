/**
 * Seeds for randomised tests: every randomised test takes a seed, prints it
 * when it fails, and can be replayed with KUBETS_SEED=<seed>.
 */

/** A small, fast, seedable PRNG (mulberry32). Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from KUBETS_SEED, or a fresh one. */
export function testSeed(): number {
  const fromEnv = process.env.KUBETS_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) throw new Error(`KUBETS_SEED must be an integer, got "${fromEnv}"`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** Run `body` with a seed; if it throws, the error names the seed and how to replay it. */
export async function withSeed<T>(body: (seed: number, random: () => number) => T | Promise<T>, seed = testSeed()): Promise<T> {
  try {
    return await body(seed, seededRandom(seed));
  } catch (err) {
    const error = err as Error;
    error.message = `[seed ${seed}; replay with KUBETS_SEED=${seed}] ${error.message}`;
    throw error;
  }
}

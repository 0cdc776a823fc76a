/** A small seedable PRNG (mulberry32) for tie-breaking, so tests and benchmarks are reproducible. */
// Math's functions held locally: global lookups are slow inside Jest's vm contexts.
const { imul, floor, random } = Math;

export interface Rng {
  /** An integer in [0, n). */
  intn(n: number): number;
}

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { intn: (n: number) => floor(next() * n) };
}

/** Math.random, unseeded. */
export const mathRandomRng: Rng = { intn: (n: number) => floor(random() * n) };

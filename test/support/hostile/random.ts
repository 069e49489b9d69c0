// A small seeded PRNG (mulberry32): every random case can be replayed from its seed.
export type Rand = () => number;

export function prng(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export const below = (rand: Rand, n: number) => Math.floor(rand() * n);

export function randomBytes(rand: Rand, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = below(rand, 256);
  return out;
}

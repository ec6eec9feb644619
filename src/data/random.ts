// Seeded randomness for the input pipeline (shuffles, augmentation). JS-side, so choosing an
// order or a shift costs no tensor and no device round trip, and a seed gives the same
// sequence on every machine and backend.

/** A seed as users give it: a number, or a string as tf.data's shuffle takes. */
export type Seed = number | string;

/** Folds a seed (and optional extra integers) into a 32-bit state with FNV-1a. */
export function hashSeed(seed: Seed, ...extra: number[]): number {
  let h = 0x811c9dc5;
  const mix = (byte: number) => {
    h ^= byte & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  const text = typeof seed === 'number' ? `n${seed}` : `s${seed}`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    mix(c);
    mix(c >>> 8);
  }
  for (const x of extra) for (let s = 0; s < 32; s += 8) mix(x >>> s);
  return h >>> 0;
}

/** A uniform generator in [0, 1): Mulberry32, small and fast, plenty for shuffling. */
export type Random = () => number;

export function seededRandom(seed: Seed): Random {
  let a = hashSeed(seed);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random seed for when the user gives none. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** Integer in [lo, hi] inclusive. */
export function randomInt(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

// Seeded augmentation follows TF2's eager op seeds: the same seed gives a reproducible
// *sequence* (the n-th call with seed s is the same in every run), not the same draw on every
// call, which would give every image of a dataset the same "random" shift.
const callCounts = new Map<string, number>();

/** The generator for the next call of `op` with `seed`. */
export function nextSeededRandom(op: string, seed: Seed): Random {
  const key = `${op}\u0000${typeof seed}\u0000${seed}`;
  const n = callCounts.get(key) ?? 0;
  callCounts.set(key, n + 1);
  return seededRandom(hashSeed(seed, hashSeed(op), n));
}

/**
 * Forgets how often each seeded augmentation has run, so the next calls repeat the draws of a
 * fresh process (e.g. before re-running a notebook cell that builds an augmented dataset).
 */
export function resetSeeds(): void {
  callCounts.clear();
}

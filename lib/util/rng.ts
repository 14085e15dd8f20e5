// Seeded pseudo-random numbers. Every stochastic step of the workbench takes an Rng so that the same seed gives the
// same numbers (developers' guide: reproducibility).

/** The seed every experiment config, baseline and section starts from (runs with it keep the plain result names). */
export const DEFAULT_SEED = 42;

/** mulberry32: small, fast, good enough for sampling and shuffling; state is one uint32. */
export interface Rng {
  /** uniform in [0, 1) */
  next(): number;
  /** integer in [0, n) */
  int(n: number): number;
  /** standard normal (Box-Muller) */
  normal(): number;
  /** current state, to checkpoint and resume */
  state(): number;
}

export function makeRng(seed: number, state?: number): Rng {
  let s = (state ?? hashSeed(seed)) >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    state: () => s,
  };
}

/** Mix a user seed (and optional stream names) into a well-spread uint32, so seeds 1 and 2 give unrelated streams. */
export function hashSeed(seed: number, ...streams: (string | number)[]): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  const mix = (x: number) => {
    h = Math.imul(h ^ x, 0x01000193) >>> 0;
    h ^= h >>> 13;
  };
  mix(Math.floor(seed / 4294967296));
  for (const st of streams) {
    const str = String(st);
    for (let i = 0; i < str.length; i++) mix(str.charCodeAt(i));
    mix(0xff);
  }
  return h >>> 0;
}

export function shuffleInPlace<T>(arr: T[], rng: Rng): T[] {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

// The evaluated samples: a seeded subset of a split (0 = all), sorted, the same for every method and stage of an
// experiment (the backbone stage selects its checkpoint on the same valid subset as the methods).
import { hashSeed, makeRng, shuffleInPlace } from '../util/rng';

export function evalSubset(n: number, want: number, seed: number, split: string): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (want <= 0 || want >= n) return all;
  return shuffleInPlace(all, makeRng(hashSeed(seed, 'eval-subset', split))).slice(0, want).sort((a, b) => a - b);
}

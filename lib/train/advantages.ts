// Group-relative advantages (spec §4 step 3) and the best-trajectory mask (step 4).
import { ConfigError } from '../util/errors';

export type AdvantageKind = 'grpo' | 'rloo';

/**
 * rewards laid out [u0g0..u0g(G−1), u1g0, ...]. Within each group of G:
 *  - GRPO: A = (R − mean)/(std + ε), std unbiased (N−1), ε = 1e-8 as in the code;
 *  - RLOO: A = R − mean of the other G−1 rewards (the textbook leave-one-out; the code divides by G, spec §4.3).
 * A group whose rewards are all equal gets zero advantages (never NaN).
 */
export function groupAdvantages(rewards: ArrayLike<number>, G: number, kind: AdvantageKind, eps = 1e-8): Float64Array {
  if (!Number.isInteger(G) || G < 2) throw new ConfigError('groupSize', `group advantages need G ≥ 2, got ${G}`);
  if (rewards.length % G !== 0) throw new ConfigError('groupSize', `${rewards.length} rewards are not a multiple of G=${G}`);
  const out = new Float64Array(rewards.length);
  for (let g0 = 0; g0 < rewards.length; g0 += G) {
    let sum = 0;
    let allEqual = true;
    for (let i = 0; i < G; i++) {
      sum += rewards[g0 + i];
      if (rewards[g0 + i] !== rewards[g0]) allEqual = false;
    }
    if (allEqual) continue; // zeros
    const mean = sum / G;
    if (kind === 'grpo') {
      let ss = 0;
      for (let i = 0; i < G; i++) ss += (rewards[g0 + i] - mean) ** 2;
      const std = Math.sqrt(ss / (G - 1));
      for (let i = 0; i < G; i++) out[g0 + i] = (rewards[g0 + i] - mean) / (std + eps);
    } else {
      for (let i = 0; i < G; i++) out[g0 + i] = rewards[g0 + i] - (sum - rewards[g0 + i]) / (G - 1);
    }
  }
  return out;
}

/**
 * M_i = 1 for the top-`k` advantages of each group (ties broken by the lower index, deterministically), else 0.
 * A group with all-zero advantages gets no best trajectory (its item term would carry zero weight anyway).
 */
export function bestTrajectoryMask(advantages: ArrayLike<number>, G: number, k: number): Uint8Array {
  const out = new Uint8Array(advantages.length);
  for (let g0 = 0; g0 < advantages.length; g0 += G) {
    const idx = Array.from({ length: G }, (_, i) => g0 + i);
    if (idx.every((i) => advantages[i] === 0)) continue;
    idx.sort((a, b) => advantages[b] - advantages[a] || a - b);
    for (let j = 0; j < Math.min(k, G); j++) out[idx[j]] = 1;
  }
  return out;
}

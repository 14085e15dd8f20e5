// The fused reward of RecPO (spec §4 step 2): R = β·R_c + (1−β)·R_d, computed against the cached item table with
// the sample's history items masked (and the pad row, which is never a recommendation here; spec §7.8).
//   R_d = NDCG@k of the target in the full ranking: 1/log2(rank+1) if rank ≤ k, else 0 (k = 1000 capped at N).
//   R_c = softmax(scores over the unmasked catalog)[target].
import { rankOfTarget, ndcgAt } from '../eval/metrics';
import { ConfigError } from '../util/errors';

export interface RewardConfig {
  /** weight of the similarity term R_c; 0.05 in the paper and code */
  beta: number;
  /** NDCG cut-off of the ranking term (capped at the catalog size) */
  ndcgK: number;
  /** ablations: drop a term (w/o R_d → R = R_c; w/o R_c → R = R_d) */
  useRd: boolean;
  useRc: boolean;
}

export const DEFAULT_REWARD: RewardConfig = { beta: 0.05, ndcgK: 1000, useRd: true, useRc: true };

export function validateReward(c: RewardConfig, numItems: number, prefix = 'reward'): void {
  if (!(c.beta >= 0 && c.beta <= 1)) throw new ConfigError(`${prefix}.beta`, `must be in [0, 1], got ${c.beta}`);
  if (!Number.isInteger(c.ndcgK) || c.ndcgK < 1) throw new ConfigError(`${prefix}.ndcgK`, `must be an integer ≥ 1, got ${c.ndcgK}`);
  if (!c.useRd && !c.useRc) throw new ConfigError(`${prefix}.useRd`, 'at least one of useRd / useRc must be true');
  void numItems;
}

export interface RewardParts {
  rank: number;
  rd: number;
  rc: number;
  reward: number;
}

/** Softmax probability of the target over ids 1..N minus `masked` (0 if the target itself is masked). */
export function targetProbability(scores: ArrayLike<number>, target: number, masked: ReadonlySet<number>): number {
  if (masked.has(target)) return 0;
  let max = -Infinity;
  for (let j = 1; j < scores.length; j++) if (!masked.has(j) && scores[j] > max) max = scores[j];
  let z = 0;
  for (let j = 1; j < scores.length; j++) if (!masked.has(j)) z += Math.exp(scores[j] - max);
  return Math.exp(scores[target] - max) / z;
}

/** Reward of one trajectory from its scores over the catalog (length N+1, index = item id). */
export function fusedReward(
  scores: ArrayLike<number>,
  target: number,
  history: readonly number[],
  cfg: RewardConfig,
): RewardParts {
  const masked = new Set(history);
  const rank = rankOfTarget(scores, target, masked);
  const k = Math.min(cfg.ndcgK, scores.length - 1);
  const rd = ndcgAt(rank, k);
  const rc = targetProbability(scores, target, masked);
  let reward: number;
  if (cfg.useRd && cfg.useRc) reward = cfg.beta * rc + (1 - cfg.beta) * rd;
  else reward = cfg.useRd ? rd : rc;
  return { rank, rd, rc, reward };
}

// RecPO settings (method spec §3–§5): the type, its defaults and its validation, side by side (as nanoGPT keeps its
// defaults at the top of train.py). The defaults are the `full` profile, the closest to the paper this hardware
// allows; lib/experiment/profiles.ts lists what `quick` and `smoke` change, each with its reason.
import { DEFAULT_REC_HEAD, validateRecHead, type RecHeadConfig } from '../../model/rec-head';
import { validateSampling, type SamplingConfig } from '../../model/generate';
import { validatePooling, type Pooling } from '../../model/readout';
import { DEFAULT_REWARD, validateReward, type RewardConfig } from '../rewards';
import { validateAdamW, type AdamWConfig } from '../optimizer';
import { validateSchedule, type LrSchedule } from '../schedule';
import type { AdvantageKind } from '../advantages';
import { PROMPT_FORMATS, type PromptFormat } from '../../text/prompts';
import { NEXT_TITLES, type NextTitles } from '../../text/constraints';
import type { SequenceConfig } from '../../text/sequences';
import { DEFAULT_SEED } from '../../util/rng';
import { ConfigError } from '../../util/errors';

export type RecVariant = 'r2ec' | 'no-reasoning' | 'cls-head';
export const REC_VARIANTS: RecVariant[] = ['r2ec', 'no-reasoning', 'cls-head'];
export type ItemGradient = 'targets' | 'columns' | 'none';
export const ITEM_GRADIENTS: ItemGradient[] = ['targets', 'columns', 'none'];

export interface RecPOConfig {
  variant: RecVariant;
  head: RecHeadConfig;
  pooling: Pooling;
  groupSize: number;
  /** rollout sampling (temperature, top-k, top-p, max new tokens) */
  rollout: SamplingConfig;
  /**
   * what the reasoning's closing "Next:" may say, by constrained decoding (lib/text/constraints.ts) in rollouts and at
   * evaluation: 'free' text (the paper), one 'catalog' title, or the title of one of the 'history' items the prompt
   * shows. The small decoder cannot spell a title alone while its read-out follows a named one (+.031 valid NDCG@10
   * for the target's; results/recpo-budget/ fourth section)
   */
  nextTitles: NextTitles;
  /** users (samples) per optimizer step, over all ranks */
  usersPerStep: number;
  /** w/o reasoning: users per forward/backward chunk (gradients add up over chunks; bounds memory) */
  usersPerChunk: number;
  reward: RewardConfig;
  advantage: AdvantageKind;
  relabelTopK: number;
  /** gradient passes per rollout batch; > 1 makes the PPO clip matter */
  updateEpochs: number;
  clipLow: number;
  clipHigh: number;
  /** KL penalty to the frozen starting model (k3 estimator per token); 0 = none, as in the paper */
  klCoef: number;
  objective: 'eq8' | 'reference-code';
  /**
   * weight of the item term against the token term (Eq. 8 adds them: 1). 0 = the token term only: the read-out then
   * moves only through the weights it shares with the reasoning. Measured from the shipped ml-100k backbone (lr 1e-4,
   * KL 0.1, 200 steps; scripts/probes/reasoning-or-readout.ts): the new texts were worth +.0071 to the new read-out while
   * the new read-out lost .0064 on the old texts — results/recpo-budget/README.md
   */
  itemWeight: number;
  /** mask duplicate in-batch items of the target in the item term (the code does not, spec §7.7) */
  dedupeInBatch: boolean;
  /**
   * uniform catalog items added to the in-batch columns of the item term (and of w/o reasoning's loss), encoded fresh
   * each step like the targets, with the log-q correction for the mixed sampling and the user's history masked;
   * 0 = the paper's in-batch targets only. Measured on ml-100k quick: with 8 users a step the in-batch term alone
   * (7 negatives, popularity-sampled) pulled valid NDCG@10 from .072 to .054 in 40 steps (w/o reasoning .077 → .048)
   */
  sampledItems: number;
  /**
   * where the item term's gradient reaches the (shared) item encoding: 'targets' = this rank's batch targets, re-encoded
   * with gradient per group (spec 4(b), the reference code); 'columns' = every column (all ranks' targets and the
   * sampled items) by GradCache, one encoding pass with gradient after the groups (as the backbone stage); 'none' =
   * item vectors are constants
   */
  itemGradient: ItemGradient;
  optimizer: AdamWConfig;
  schedule: LrSchedule;
  steps: number;
  /** evaluate on valid (and save) every n steps, and at step 0 */
  evalEvery: number;
  /** stop after this many evaluations without improvement of valid NDCG@10 (0 = never) */
  patience: number;
  /** extra full item-table refresh every n steps (0 = only at evaluations, as the code) */
  refreshEvery: number;
  /** user/item prompt wording: 'spec' (§2 verbatim) or 'compact' (small models; lib/text/prompts.ts) */
  promptFormat: PromptFormat;
  /** history lines shown in the user prompt (spec: 20) */
  promptHistory: number;
  maxPromptTokens: number;
  maxItemTokens: number;
  /** samples per generation/encoding batch at evaluation */
  evalBatch: number;
  seed: number;
}

export const RECPO_DEFAULTS: RecPOConfig = {
  variant: 'r2ec',
  head: { ...DEFAULT_REC_HEAD },
  pooling: 'last',
  groupSize: 4,
  rollout: { temperature: 1.5, topK: 200, topP: 1, maxNewTokens: 64 },
  nextTitles: 'free',
  usersPerStep: 8,
  usersPerChunk: 8,
  reward: { ...DEFAULT_REWARD },
  advantage: 'grpo',
  relabelTopK: 1,
  updateEpochs: 1,
  clipLow: 0.2,
  clipHigh: 0.28,
  klCoef: 0,
  objective: 'eq8',
  itemWeight: 1,
  dedupeInBatch: true,
  sampledItems: 256,
  // 'columns': measured from the ml-100k quick backbone (8 users a step, 40 steps, lr 1e-5, valid NDCG@10 from .0768):
  // 'targets' .0758 → .0717, 'columns' .0787 → .0777 — the shared encoder trained through the targets alone drifts
  itemGradient: 'columns',
  // lr 1e-5 as the spec (§3.6). Measured from the ml-100k quick backbone (8 users a step, 40 steps, valid NDCG@10 from
  // .0719): lr 1e-4 → .0528, lr 1e-5 → .0688; w/o reasoning .0772 → .0580 (1e-4) and → .0726 (1e-5)
  optimizer: { lr: 1e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 },
  schedule: { kind: 'constant', warmupSteps: 8, minRatio: 1 },
  steps: 200,
  evalEvery: 25,
  patience: 4,
  refreshEvery: 0,
  promptFormat: 'spec',
  promptHistory: 20,
  maxPromptTokens: 640,
  maxItemTokens: 256,
  evalBatch: 32,
  seed: DEFAULT_SEED,
};

const int = (v: unknown, field: string, min: number) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
};

/**
 * Check a RecPO config; errors name the field as `${prefix}.<key>`. `maxSeqLen` = the model's context (prompt +
 * reasoning must fit); `numItems` = catalog size when known (caps the reward's NDCG cut-off, spec §4).
 */
export function validateRecPOConfig(r: RecPOConfig, limits: { maxSeqLen: number; numItems?: number }, prefix = 'recpo'): void {
  if (!REC_VARIANTS.includes(r.variant)) throw new ConfigError(`${prefix}.variant`, `must be one of ${REC_VARIANTS.join(', ')}, got ${JSON.stringify(r.variant)}`);
  int(r.groupSize, `${prefix}.groupSize`, 2);
  if (!['grpo', 'rloo'].includes(r.advantage)) throw new ConfigError(`${prefix}.advantage`, `must be "grpo" or "rloo", got ${JSON.stringify(r.advantage)}`);
  if (!['eq8', 'reference-code'].includes(r.objective)) throw new ConfigError(`${prefix}.objective`, `must be "eq8" or "reference-code", got ${JSON.stringify(r.objective)}`);
  if (typeof r.itemWeight !== 'number' || !(r.itemWeight >= 0)) throw new ConfigError(`${prefix}.itemWeight`, `must be a number ≥ 0, got ${JSON.stringify(r.itemWeight)}`);
  validateRecHead(r.head, `${prefix}.head`);
  validatePooling(r.pooling, `${prefix}.pooling`);
  validateSampling(r.rollout, `${prefix}.rollout`);
  validateReward(r.reward, limits.numItems ?? Infinity, `${prefix}.reward`);
  int(r.usersPerStep, `${prefix}.usersPerStep`, 1);
  int(r.sampledItems, `${prefix}.sampledItems`, 0);
  if (!ITEM_GRADIENTS.includes(r.itemGradient)) throw new ConfigError(`${prefix}.itemGradient`, `must be one of ${ITEM_GRADIENTS.join(', ')}, got ${JSON.stringify(r.itemGradient)}`);
  int(r.usersPerChunk, `${prefix}.usersPerChunk`, 1);
  int(r.relabelTopK, `${prefix}.relabelTopK`, 1);
  if (r.relabelTopK > r.groupSize) throw new ConfigError(`${prefix}.relabelTopK`, `must be ≤ groupSize (${r.groupSize}), got ${r.relabelTopK}`);
  int(r.updateEpochs, `${prefix}.updateEpochs`, 1);
  int(r.steps, `${prefix}.steps`, 0);
  int(r.evalEvery, `${prefix}.evalEvery`, 1);
  int(r.patience, `${prefix}.patience`, 0);
  int(r.refreshEvery, `${prefix}.refreshEvery`, 0);
  if (!PROMPT_FORMATS.includes(r.promptFormat)) throw new ConfigError(`${prefix}.promptFormat`, `must be one of ${PROMPT_FORMATS.join(', ')}, got ${JSON.stringify(r.promptFormat)}`);
  int(r.promptHistory, `${prefix}.promptHistory`, 1);
  int(r.maxPromptTokens, `${prefix}.maxPromptTokens`, 16);
  int(r.maxItemTokens, `${prefix}.maxItemTokens`, 16);
  int(r.evalBatch, `${prefix}.evalBatch`, 1);
  int(r.seed, `${prefix}.seed`, 0);
  for (const k of ['clipLow', 'clipHigh'] as const) if (!(r[k] > 0 && r[k] < 1)) throw new ConfigError(`${prefix}.${k}`, `must be in (0, 1), got ${r[k]}`);
  if (!(r.klCoef >= 0)) throw new ConfigError(`${prefix}.klCoef`, `must be ≥ 0, got ${r.klCoef}`);
  if (!NEXT_TITLES.includes(r.nextTitles)) throw new ConfigError(`${prefix}.nextTitles`, `must be one of ${NEXT_TITLES.join(', ')}, got ${JSON.stringify(r.nextTitles)}`);
  if (typeof r.dedupeInBatch !== 'boolean') throw new ConfigError(`${prefix}.dedupeInBatch`, `must be true or false, got ${JSON.stringify(r.dedupeInBatch)}`);
  validateAdamW(r.optimizer, `${prefix}.optimizer`);
  validateSchedule(r.schedule, `${prefix}.schedule`);
  if (r.maxPromptTokens + r.rollout.maxNewTokens + 2 > limits.maxSeqLen) {
    throw new ConfigError(`${prefix}.maxPromptTokens`, `prompt (${r.maxPromptTokens}) + reasoning (${r.rollout.maxNewTokens}) tokens exceed model.maxSeqLen (${limits.maxSeqLen})`);
  }
  if (r.maxItemTokens > limits.maxSeqLen) throw new ConfigError(`${prefix}.maxItemTokens`, `exceeds model.maxSeqLen (${limits.maxSeqLen})`);
}

/** The sequence settings (lib/text/sequences.ts) of a RecPO config: prompts, caps and the read-out token. */
export function sequenceConfig(r: RecPOConfig): SequenceConfig {
  return {
    format: r.promptFormat,
    history: r.promptHistory,
    maxPromptTokens: r.maxPromptTokens,
    maxItemTokens: r.maxItemTokens,
    readoutToken: r.pooling === 'token',
  };
}

// Profiles: what `quick` and `smoke` change in the defaults, one dotted key per line with its reason (as nanoGPT's
// config/*.py files list only what they change). The defaults themselves — the `full` profile, the closest to the
// paper this hardware allows — live beside each type (lib/experiment/config.ts, lib/train/recpo/config.ts).
// Every value here follows a measurement or a budget: change a value, change its reason.

export type Profile = 'smoke' | 'quick' | 'full';
export const PROFILES: Profile[] = ['smoke', 'quick', 'full'];

/** dotted key → [value, one-line reason] */
export type ProfileTable = Record<string, readonly [value: unknown, reason: string]>;

/** The same setting for the three neural baselines (sasrec.*, gru4rec.*, caser.*). */
function baselines(values: Record<string, unknown>, reason: string): ProfileTable {
  const out: Record<string, readonly [unknown, string]> = {};
  for (const b of ['sasrec', 'gru4rec', 'caser']) for (const [k, v] of Object.entries(values)) out[`${b}.${k}`] = [v, reason];
  return out;
}

/** Minutes per dataset on two cores; the `npm start` default. */
const QUICK: ProfileTable = {
  'model.vocabSize': [4000, 'compact prompts are mostly titles: a 4k BPE keeps titles to a few distinctive tokens (1.25M parameters)'],
  'model.maxSeqLen': [384, 'fits the quick prompt (320 tokens) + reasoning (32) + markers'],
  'tokenizer.maxChars': [2_000_000, 'BPE training text capped so the tokenizer trains in seconds'],
  'warmup.steps': [0, 'the backbone stage trains the reasoning text itself (its LM term), so no separate warm-up'],
  'warmup.seqLen': [256, 'shorter windows: more documents per second at this model size'],
  'warmup.evalEvery': [80, 'two perplexity checks over 160 steps'],
  'warmup.maxDocs': [8000, 'bounds corpus building and tokenisation time'],
  'recpo.promptFormat': ['compact', 'a from-scratch 1M-parameter LM cannot read instructions; 3× fewer tokens per sample (lib/text/prompts.ts)'],
  'recpo.steps': [40, 'minutes per LM method on two cores'],
  'recpo.evalEvery': [20, 'valid checks at steps 0, 20 and 40'],
  'recpo.patience': [0, 'three evaluations are too few to stop early on'],
  'recpo.rollout.maxNewTokens': [48, "the backbone's brief reasoning is ~30 tokens; generation dominates a RecPO step"],
  'recpo.promptHistory': [10, 'half the history window keeps prompts short'],
  'recpo.maxPromptTokens': [320, 'fits 10 history lines'],
  'recpo.maxItemTokens': [128, 'item prompts keep their title and main attributes'],
  ...baselines({ epochs: 10, patience: 2 }, 'SASRec reached valid NDCG@10 ≈ 0.10 on ml-100k within 10 epochs (lib/baselines/common.ts)'),
  'eval.validSamples': [500, 'LM evaluation generates a reasoning per sample: a seeded subset, the same for every method and the backbone stage'],
  'eval.latencyRequests': [10, "ten timed batch-1 requests per method instead of the paper's 100"],
  'eval.keepTexts': [100, 'enough reasoning texts for the behaviour study (notebook 05) at this size'],
};

/** CI: a tiny model, seconds to a minute per experiment; checks that every code path runs, not what it learns. */
const SMOKE: ProfileTable = {
  'model.preset': ['tiny', 'seconds per step on one core'],
  'model.vocabSize': [400, 'a tiny vocabulary for the tiny model'],
  'model.maxSeqLen': [320, 'fits the smoke prompt (192) + reasoning (6) and item prompts (160)'],
  'tokenizer.maxChars': [200_000, 'BPE training in about a second'],
  'warmup.steps': [6, 'runs the warm-up path, learns nothing'],
  'warmup.batchSize': [4, 'small batches for the tiny model'],
  'warmup.seqLen': [96, 'short windows'],
  'warmup.evalEvery': [0, 'one perplexity check, at the end'],
  'warmup.evalWindows': [4, 'a few windows suffice to run the evaluation'],
  'warmup.checkpointEvery': [0, 'one checkpoint, at the end'],
  'warmup.maxDocs': [300, 'a small corpus'],
  'warmup.schedule.warmupSteps': [2, 'a third of the 6 steps'],
  'backbone.steps': [2, 'runs the alignment path, learns nothing'],
  'backbone.usersPerStep': [4, 'two users per rank'],
  'backbone.negatives': [8, 'a few sampled items'],
  'backbone.chunk': [4, 'small chunks for the tiny model'],
  'backbone.evalEvery': [2, 'one valid check after the steps (and one at step 0)'],
  'backbone.schedule.warmupSteps': [0, 'no learning-rate warm-up in two steps'],
  'recpo.groupSize': [2, 'the smallest group GRPO allows'],
  'recpo.usersPerStep': [2, 'one user per rank with two ranks'],
  'recpo.steps': [2, 'runs a step on each code path'],
  'recpo.evalEvery': [2, 'one valid check after the steps (and one at step 0)'],
  'recpo.patience': [0, 'no early stopping in two steps'],
  'recpo.rollout.maxNewTokens': [6, 'short reasoning: generation dominates a step'],
  'recpo.promptHistory': [5, 'short prompts'],
  'recpo.maxPromptTokens': [192, 'fits 5 history lines'],
  'recpo.maxItemTokens': [160, 'item prompts of the synthetic catalog fit'],
  'recpo.evalBatch': [16, 'smaller evaluation batches for the small subsets'],
  'recpo.schedule.warmupSteps': [0, 'no learning-rate warm-up in two steps'],
  ...baselines({ epochs: 1, patience: 1, dim: 16 }, 'one epoch of a small model runs the training path'),
  'eval.validSamples': [24, 'a few seconds of LM evaluation'],
  'eval.testSamples': [48, 'a few seconds of LM evaluation'],
  'eval.latencyRequests': [2, 'runs the latency path'],
  'eval.keepTexts': [16, 'runs the text-keeping path'],
};

/**
 * What `quick` changes for one dataset, on top of its table: the backbone's budget is counted in optimizer steps and
 * samples, and datasets differ 20× in size (goodreads 4k train samples, ml-100k 79k), so one epoch of a small one is
 * too few steps for the read-outs to rank.
 */
const QUICK_DATASETS: Record<string, ProfileTable> = {
  'ml-100k': {
    'backbone.init': ['shipped:ml-100k-epoch1', 'a second epoch on from the first (backbones/ml-100k-epoch1): whole-test zero-shot NDCG@10 .0643 → .0769'],
    'backbone.steps': [1239, 'one more epoch (79k train samples / 64 users), on a fresh cosine schedule from lr 1e-3'],
  },
  synthetic: {
    'backbone.epochs': [8, '7.8k train samples: one epoch is 122 steps, where the read-outs still rank below Popularity'],
    'backbone.evalEvery': [61, 'twice an epoch: 16 evaluations in all'],
  },
  cds: {
    'backbone.steps': [1239, '18k train samples, 284 steps an epoch: the 1,239 steps of one ml-100k epoch (4.4 epochs)'],
    'backbone.evalEvery': [155, "8 evaluations (and resumable checkpoints) over the run, as ml-100k's epoch"],
  },
  goodreads: {
    'backbone.steps': [1239, '4k train samples, 63 steps an epoch: the 1,239 steps of one ml-100k epoch (~20 epochs)'],
    'backbone.evalEvery': [155, '8 evaluations and checkpoints over the run, as cds'],
  },
};

/** Overrides per profile; `full` = the defaults unchanged. */
export const PROFILE_OVERRIDES: Record<Profile, ProfileTable> = { full: {}, quick: QUICK, smoke: SMOKE };

/** Overrides per profile and dataset, applied after the profile's table. */
export const DATASET_OVERRIDES: Record<Profile, Record<string, ProfileTable>> = { full: {}, quick: QUICK_DATASETS, smoke: {} };

/** A profile's overrides (and those for the dataset, when given) as a plain dotted-key object (what applyOverrides takes). */
export function profileOverrides(p: Profile, dataset?: string): Record<string, unknown> {
  const table = { ...PROFILE_OVERRIDES[p], ...(dataset ? DATASET_OVERRIDES[p][dataset] : undefined) };
  return Object.fromEntries(Object.entries(table).map(([k, [v]]) => [k, v]));
}

// Experiment configuration: one typed object, three profiles (smoke: CI, seconds to a minute; quick: minutes on
// two cores, the `npm start` default; full: the closest to the paper this hardware allows), every field overridable
// by dotted key (`--set recpo.groupSize=8`). Unknown keys and out-of-range values fail before anything trains.
import type { RecPOConfig, RecVariant } from '../train/recpo';
import type { LMTrainConfig } from '../train/lm';
import { WARMUP_ANSWERS, type WarmupAnswer } from '../text/corpus';
import { DEFAULT_REC_HEAD, validateRecHead } from '../model/recHead';
import { DEFAULT_REWARD, validateReward } from '../train/rewards';
import { DEFAULT_ADAMW } from '../train/optimizer';
import { validateSampling } from '../model/generate';
import { validatePooling } from '../model/readout';
import { PRESETS } from '../model/config';
import type { SASRecConfig } from '../baselines/sasrec';
import type { NeuralConfig } from '../baselines/common';
import { ConfigError } from '../util/errors';

export type Profile = 'smoke' | 'quick' | 'full';
export const PROFILES: Profile[] = ['smoke', 'quick', 'full'];

export type MethodKind = RecVariant | 'zero-shot' | 'sasrec' | 'gru4rec' | 'caser' | 'popularity';
export const METHOD_KINDS: MethodKind[] = ['r2ec', 'no-reasoning', 'cls-head', 'zero-shot', 'sasrec', 'gru4rec', 'caser', 'popularity'];

/** A method row of a results table: a kind plus overrides of the shared settings (for ablations and sweeps). */
export interface MethodSpec {
  /** the row label, e.g. "R²ec", "w/o R_d", "β=0.5" */
  name: string;
  kind: MethodKind;
  /** dotted-key overrides applied to this method's copy of the config, e.g. {"recpo.reward.useRd": false} */
  set?: Record<string, unknown>;
}

export interface ExperimentConfig {
  /** names the results folder: results/<experiment>/<dataset>/ */
  experiment: string;
  dataset: string;
  /** reader options (window, kCore, seed for synthetic, ...) */
  datasetOptions: Record<string, unknown>;
  profile: Profile;
  seed: number;
  methods: MethodSpec[];
  model: { preset: string; vocabSize: number; maxSeqLen: number };
  tokenizer: { maxChars: number };
  /** LM warm-up; `answer` = what follows `<answer>` in its documents (see lib/text/corpus.ts WarmupOptions) */
  warmup: LMTrainConfig & { maxDocs: number; answer: WarmupAnswer };
  recpo: RecPOConfig;
  sasrec: Partial<SASRecConfig>;
  gru4rec: Partial<NeuralConfig>;
  caser: Partial<NeuralConfig>;
  eval: {
    /** HR@K / NDCG@K cut-offs */
    ks: number[];
    /** exclude history items from the ranking (spec §5; repeat purchases then count as misses) */
    maskHistory: boolean;
    /** valid / test samples to evaluate (0 = the whole split); a seeded subset, the same for every method */
    validSamples: number;
    testSamples: number;
    /** test requests timed at batch 1 per LM method (0 = none) */
    latencyRequests: number;
    /** reasoning texts kept per method (for the behaviour study) */
    keepTexts: number;
  };
  /** data-parallel ranks for LM training (default: R2EC_WORKERS or min(2, cores)) */
  world: number;
  /** root for results/<experiment>/<dataset> (default R2EC_RESULTS_DIR or ./results) */
  resultsDir: string;
  /** reuse finished methods and resume interrupted ones in the run folder */
  resume: boolean;
}

export const MAIN_METHODS: MethodSpec[] = [
  { name: 'R²ec', kind: 'r2ec' },
  { name: 'w/o reasoning', kind: 'no-reasoning' },
  { name: 'zero-shot', kind: 'zero-shot' },
  { name: 'SASRec', kind: 'sasrec' },
  { name: 'GRU4Rec', kind: 'gru4rec' },
  { name: 'Popularity', kind: 'popularity' },
];

function recpoDefaults(p: Profile, seed: number): RecPOConfig {
  const common: RecPOConfig = {
    variant: 'r2ec',
    head: { ...DEFAULT_REC_HEAD },
    pooling: 'last',
    groupSize: 4,
    rollout: { temperature: 1.5, topK: 200, topP: 1, maxNewTokens: 64 },
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
    dedupeInBatch: true,
    // 1e-4: at 1e-3 the policy collapsed within 40 steps (greedy reasoning " the the the ..." on ml-100k quick)
    optimizer: { ...DEFAULT_ADAMW, lr: 1e-4, weightDecay: 0, clipNorm: 1 },
    schedule: { kind: 'constant', warmupSteps: 8, minRatio: 1 },
    steps: 200,
    evalEvery: 25,
    patience: 4,
    refreshEvery: 0,
    promptHistory: 20,
    maxPromptTokens: 640,
    maxItemTokens: 256,
    evalBatch: 32,
    seed,
  };
  if (p === 'smoke') {
    return {
      ...common, groupSize: 2, usersPerStep: 2, steps: 2, evalEvery: 2, patience: 0,
      rollout: { ...common.rollout, maxNewTokens: 6 }, promptHistory: 5, maxPromptTokens: 192, maxItemTokens: 160,
      evalBatch: 16, schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
    };
  }
  if (p === 'quick') {
    return {
      ...common, steps: 40, evalEvery: 20, usersPerStep: 8, rollout: { ...common.rollout, maxNewTokens: 32 },
      promptHistory: 10, maxPromptTokens: 320, maxItemTokens: 128, patience: 0,
    };
  }
  return common;
}

function warmupDefaults(p: Profile, seed: number): ExperimentConfig['warmup'] {
  const base = {
    optimizer: { ...DEFAULT_ADAMW, lr: 2e-3, weightDecay: 0.01, clipNorm: 1 },
    schedule: { kind: 'cosine' as const, warmupSteps: 20, minRatio: 0.1 },
    evalWindows: 32,
    checkpointEvery: 100,
    seed,
    // 'target': the warm-up includes next-item fine-tuning on train samples (a from-scratch LM lacks the item
    // knowledge a pretrained LLM brings; measured on synthetic quick: zero-shot valid NDCG@10 0.007 → 0.023,
    // R²ec test 0.011 → 0.031). 'profile' = a warm-up without any recommendation signal.
    answer: 'target' as const,
  };
  if (p === 'smoke') return { ...base, steps: 6, batchSize: 4, seqLen: 96, evalEvery: 0, evalWindows: 4, checkpointEvery: 0, maxDocs: 300, schedule: { ...base.schedule, warmupSteps: 2 } };
  if (p === 'quick') return { ...base, steps: 160, batchSize: 16, seqLen: 256, evalEvery: 80, maxDocs: 8000 };
  return { ...base, steps: 3000, batchSize: 16, seqLen: 512, evalEvery: 250, maxDocs: 0 };
}

/** The default configuration of a profile (before overrides). */
export function defaultConfig(profile: Profile, dataset: string, experiment = 'main'): ExperimentConfig {
  if (!PROFILES.includes(profile)) throw new ConfigError('profile', `"${profile}" is not one of ${PROFILES.join(', ')}`);
  const seed = 42;
  const smoke = profile === 'smoke';
  const baseNeural = smoke ? { epochs: 1, patience: 1, dim: 16 } : profile === 'quick' ? { epochs: 10, patience: 2 } : { epochs: 200, patience: 3 };
  return {
    experiment,
    dataset,
    datasetOptions: {},
    profile,
    seed,
    methods: MAIN_METHODS.map((m) => ({ ...m })),
    model: smoke
      ? { preset: 'tiny', vocabSize: 400, maxSeqLen: 320 }
      : { preset: 'small', vocabSize: profile === 'quick' ? 2000 : 4000, maxSeqLen: profile === 'quick' ? 384 : 768 },
    tokenizer: { maxChars: smoke ? 200_000 : profile === 'quick' ? 2_000_000 : 6_000_000 },
    warmup: warmupDefaults(profile, seed),
    recpo: recpoDefaults(profile, seed),
    sasrec: { ...baseNeural, seed },
    gru4rec: { ...baseNeural, seed },
    caser: { ...baseNeural, seed },
    eval: smoke
      ? { ks: [5, 10, 20], maskHistory: true, validSamples: 24, testSamples: 48, latencyRequests: 2, keepTexts: 16 }
      : profile === 'quick'
        ? { ks: [5, 10, 20], maskHistory: true, validSamples: 200, testSamples: 500, latencyRequests: 10, keepTexts: 100 }
        : { ks: [5, 10, 20], maskHistory: true, validSamples: 0, testSamples: 0, latencyRequests: 100, keepTexts: 200 },
    world: 0,
    resultsDir: process.env.R2EC_RESULTS_DIR ?? 'results',
    resume: true,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Overrides

/** Parse a command-line value: JSON when it parses (numbers, booleans, arrays, objects), else the raw string. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Set a dotted key on a config object. The key must exist (a typo is an error naming it) and the new value must have
 * the same JSON type as the old one (numbers stay numbers, ...); `datasetOptions.*`, `sasrec.*`, `gru4rec.*` and
 * `caser.*` accept new keys (they are validated by their readers/trainers).
 */
export function setKey(cfg: object, key: string, value: unknown): void {
  const parts = key.split('.');
  let obj = cfg as Record<string, unknown>;
  const open = ['datasetOptions', 'sasrec', 'gru4rec', 'caser'].includes(parts[0]);
  for (let i = 0; i < parts.length - 1; i++) {
    const next = obj[parts[i]];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) {
      throw new ConfigError(key, `"${parts.slice(0, i + 1).join('.')}" is not a section of the config`);
    }
    obj = next as Record<string, unknown>;
  }
  const last = parts[parts.length - 1];
  if (!(last in obj) && !open) throw new ConfigError(key, `unknown key (known here: ${Object.keys(obj).join(', ')})`);
  const old = obj[last];
  if (old !== undefined && old !== null && typeof old !== typeof value) {
    throw new ConfigError(key, `expects a ${typeof old}, got ${JSON.stringify(value)}`);
  }
  obj[last] = value;
}

export function applyOverrides<T extends object>(cfg: T, overrides: Record<string, unknown>): T {
  const out = structuredClone(cfg);
  for (const [k, v] of Object.entries(overrides)) setKey(out, k, v);
  return out;
}

/** `key=value` strings (CLI --set) → an overrides object. */
export function parseSets(sets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError(s, 'expected key=value');
    out[s.slice(0, eq)] = parseValue(s.slice(eq + 1));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

const int = (v: unknown, field: string, min: number) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
};

/** Validate everything that can be checked before training (numItems: catalog size, when known). */
export function validateExperimentConfig(c: ExperimentConfig, numItems?: number): void {
  if (!PROFILES.includes(c.profile)) throw new ConfigError('profile', `"${c.profile}" is not one of ${PROFILES.join(', ')}`);
  if (!/^[\w.-]+$/.test(c.experiment)) throw new ConfigError('experiment', `"${c.experiment}" must be a simple folder name`);
  int(c.seed, 'seed', 0);
  if (!PRESETS[c.model.preset]) throw new ConfigError('model.preset', `unknown preset "${c.model.preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  int(c.model.vocabSize, 'model.vocabSize', 300);
  int(c.model.maxSeqLen, 'model.maxSeqLen', 16);
  if (!Array.isArray(c.methods) || c.methods.length === 0) throw new ConfigError('methods', 'needs at least one method');
  const names = new Set<string>();
  c.methods.forEach((m, i) => {
    if (!METHOD_KINDS.includes(m.kind)) throw new ConfigError(`methods[${i}].kind`, `"${m.kind}" is not one of ${METHOD_KINDS.join(', ')}`);
    if (!m.name) throw new ConfigError(`methods[${i}].name`, 'is empty');
    if (names.has(m.name)) throw new ConfigError(`methods[${i}].name`, `duplicate method name "${m.name}"`);
    names.add(m.name);
  });
  const r = c.recpo;
  const needsG = c.methods.some((m) => m.kind === 'r2ec' || m.kind === 'cls-head');
  if (needsG && r.advantage === 'grpo') int(r.groupSize, 'recpo.groupSize', 2);
  else int(r.groupSize, 'recpo.groupSize', 2);
  if (!['grpo', 'rloo'].includes(r.advantage)) throw new ConfigError('recpo.advantage', `must be "grpo" or "rloo", got ${JSON.stringify(r.advantage)}`);
  if (!['eq8', 'reference-code'].includes(r.objective)) throw new ConfigError('recpo.objective', `must be "eq8" or "reference-code", got ${JSON.stringify(r.objective)}`);
  validateRecHead(r.head, 'recpo.head');
  validatePooling(r.pooling, 'recpo.pooling');
  validateSampling(r.rollout, 'recpo.rollout');
  validateReward(r.reward, numItems ?? Infinity, 'recpo.reward');
  // reward.ndcgK is capped at the catalog size (spec §4: NDCG@1000 "capped at the catalog"); evaluation cut-offs are not
  if (!Array.isArray(c.eval.ks) || c.eval.ks.length === 0) throw new ConfigError('eval.ks', 'needs at least one cut-off');
  c.eval.ks.forEach((k, i) => {
    int(k, `eval.ks[${i}]`, 1);
    if (numItems !== undefined && k > numItems) throw new ConfigError(`eval.ks[${i}]`, `K=${k} is larger than the catalog (${numItems} items)`);
  });
  int(r.usersPerStep, 'recpo.usersPerStep', 1);
  int(r.usersPerChunk, 'recpo.usersPerChunk', 1);
  int(r.relabelTopK, 'recpo.relabelTopK', 1);
  if (r.relabelTopK > r.groupSize) throw new ConfigError('recpo.relabelTopK', `must be ≤ groupSize (${r.groupSize}), got ${r.relabelTopK}`);
  int(r.updateEpochs, 'recpo.updateEpochs', 1);
  int(r.steps, 'recpo.steps', 0);
  int(r.evalEvery, 'recpo.evalEvery', 1);
  int(r.patience, 'recpo.patience', 0);
  int(r.refreshEvery, 'recpo.refreshEvery', 0);
  int(r.promptHistory, 'recpo.promptHistory', 1);
  int(r.maxPromptTokens, 'recpo.maxPromptTokens', 16);
  int(r.maxItemTokens, 'recpo.maxItemTokens', 16);
  int(r.evalBatch, 'recpo.evalBatch', 1);
  for (const k of ['clipLow', 'clipHigh'] as const) if (!(r[k] > 0 && r[k] < 1)) throw new ConfigError(`recpo.${k}`, `must be in (0, 1), got ${r[k]}`);
  if (!(r.klCoef >= 0)) throw new ConfigError('recpo.klCoef', `must be ≥ 0, got ${r.klCoef}`);
  if (!(r.optimizer.lr > 0)) throw new ConfigError('recpo.optimizer.lr', `must be > 0, got ${r.optimizer.lr}`);
  if (r.maxPromptTokens + r.rollout.maxNewTokens + 2 > c.model.maxSeqLen) {
    throw new ConfigError('recpo.maxPromptTokens', `prompt (${r.maxPromptTokens}) + reasoning (${r.rollout.maxNewTokens}) tokens exceed model.maxSeqLen (${c.model.maxSeqLen})`);
  }
  if (r.maxItemTokens > c.model.maxSeqLen) throw new ConfigError('recpo.maxItemTokens', `exceeds model.maxSeqLen (${c.model.maxSeqLen})`);
  const w = c.warmup;
  int(w.steps, 'warmup.steps', 0);
  int(w.batchSize, 'warmup.batchSize', 1);
  int(w.seqLen, 'warmup.seqLen', 8);
  int(w.maxDocs, 'warmup.maxDocs', 0);
  if (!WARMUP_ANSWERS.includes(w.answer)) throw new ConfigError('warmup.answer', `must be one of ${WARMUP_ANSWERS.join(', ')}, got ${JSON.stringify(w.answer)}`);
  if (w.seqLen > c.model.maxSeqLen) throw new ConfigError('warmup.seqLen', `exceeds model.maxSeqLen (${c.model.maxSeqLen})`);
  int(c.eval.validSamples, 'eval.validSamples', 0);
  int(c.eval.testSamples, 'eval.testSamples', 0);
  int(c.eval.latencyRequests, 'eval.latencyRequests', 0);
  int(c.eval.keepTexts, 'eval.keepTexts', 0);
  int(c.world, 'world', 0);
  int(c.tokenizer.maxChars, 'tokenizer.maxChars', 1000);
}

/** Build a validated config: profile defaults + overrides. */
export function makeConfig(opts: { profile?: Profile; dataset: string; experiment?: string; set?: Record<string, unknown> }): ExperimentConfig {
  const cfg = applyOverrides(defaultConfig(opts.profile ?? 'quick', opts.dataset, opts.experiment), opts.set ?? {});
  validateExperimentConfig(cfg);
  return cfg;
}

/** The RecPO config of one method (its kind and overrides applied). */
export function methodRecConfig(cfg: ExperimentConfig, m: MethodSpec): RecPOConfig {
  const local = applyOverrides(cfg, m.set ?? {});
  const r = structuredClone(local.recpo);
  if (m.kind === 'zero-shot') return { ...r, variant: 'r2ec', steps: 0 };
  // w/o reasoning trains on as many sequences per step as R²ec's G rollouts per user (its steps are cheap)
  if (m.kind === 'no-reasoning') return { ...r, variant: m.kind, usersPerStep: r.usersPerStep * r.groupSize };
  if (m.kind === 'r2ec' || m.kind === 'cls-head') return { ...r, variant: m.kind };
  throw new ConfigError(`methods.${m.name}`, `${m.kind} is not a language-model method`);
}

export const isLMMethod = (k: MethodKind) => ['r2ec', 'no-reasoning', 'cls-head', 'zero-shot'].includes(k);

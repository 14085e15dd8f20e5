// Experiment configuration: one typed object whose sections each have their defaults beside their type (this file
// for the experiment's own sections, lib/train/recpo/config.ts for RecPO, lib/baselines/* for the baselines), the
// profiles as small override tables (lib/experiment/profiles.ts), every field overridable by dotted key
// (`--set recpo.groupSize=8`), and one validation pass (validateExperimentConfig) that covers every section, every
// method's overrides and the baselines, so unknown keys and out-of-range values fail before anything trains.
import fs from 'node:fs';
import path from 'node:path';
import { RECPO_DEFAULTS, validateRecPOConfig, type RecPOConfig, type RecVariant } from '../train/recpo/config';
import { validateLMTrainConfig, type LMTrainConfig } from '../train/lm';
import { BACKBONE_DEFAULTS, validateBackboneConfig, type BackboneConfig } from '../train/backbone';
import { WARMUP_ANSWERS, type WarmupAnswer } from '../text/corpus';
import { PRESETS } from '../model/config';
import { DEFAULT_KS } from '../eval/metrics';
import { BASELINES } from '../baselines/index';
import type { SASRecConfig } from '../baselines/sasrec';
import type { NeuralConfig } from '../baselines/common';
import { DEFAULT_SEED } from '../util/rng';
import { envChoice, envValue, resultsRoot } from '../util/env';
import { ConfigError } from '../util/errors';
import { PROFILES, profileOverrides, type Profile } from './profiles';

export { PROFILES, type Profile } from './profiles';

export type MethodKind = RecVariant | 'zero-shot' | 'sasrec' | 'gru4rec' | 'caser' | 'popularity';
export const METHOD_KINDS: MethodKind[] = ['r2ec', 'no-reasoning', 'cls-head', 'zero-shot', 'sasrec', 'gru4rec', 'caser', 'popularity'];
/** Kinds trained by a baseline trainer of lib/baselines (the BASELINES registry). */
export const BASELINE_KINDS = ['sasrec', 'gru4rec', 'caser', 'popularity'] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];

/** A method row of a results table: a kind plus overrides of the shared settings (for ablations and sweeps). */
export interface MethodSpec {
  /** the row label, e.g. "R²ec", "w/o R_d", "β=0.5" */
  name: string;
  kind: MethodKind;
  /** dotted-key overrides applied to this method's copy of the config, e.g. {"recpo.reward.useRd": false} */
  set?: Record<string, unknown>;
}

/** LM warm-up; `answer` = what follows `<answer>` in its documents (see lib/text/corpus.ts WarmupOptions). */
export type WarmupConfig = LMTrainConfig & { maxDocs: number; answer: WarmupAnswer };

/** Evaluation protocol (spec §5), the same for every method of an experiment. */
export interface EvalConfig {
  /** HR@K / NDCG@K cut-offs */
  ks: number[];
  /** exclude history items from the ranking (spec §5; repeat purchases then count as misses) */
  maskHistory: boolean;
  /**
   * valid / test samples to evaluate (0 = the whole split); a seeded subset, the same for every method. Every method
   * selects its checkpoint / early-stopping epoch on this valid subset.
   */
  validSamples: number;
  testSamples: number;
  /** test requests timed at batch 1 per method (0 = none) */
  latencyRequests: number;
  /** reasoning texts kept per method (for the behaviour study) */
  keepTexts: number;
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
  /**
   * The small decoder (preset, BPE vocabulary size, context), or a Hugging Face checkpoint folder as `backbone`
   * (lib/model/hf/: Llama, Qwen2, Gemma-2; a PEFT LoRA adapter folder whose base is a local folder works too). With
   * a backbone, its own tokenizer and chat template are used, there is no BPE training and no warm-up (the pretrained
   * model is the starting point, as in the paper), and maxSeqLen caps its context.
   */
  model: { preset: string; vocabSize: number; maxSeqLen: number; backbone: string };
  tokenizer: { maxChars: number };
  warmup: WarmupConfig;
  /** the backbone stage: retrieval alignment after the warm-up, the start of every LM method (lib/train/backbone.ts) */
  backbone: BackboneConfig;
  recpo: RecPOConfig;
  /** baseline settings: overrides of each trainer's own defaults (lib/baselines/*_DEFAULTS), checked by its validator */
  sasrec: Partial<SASRecConfig>;
  gru4rec: Partial<NeuralConfig>;
  caser: Partial<NeuralConfig>;
  eval: EvalConfig;
  /** data-parallel ranks for LM training (0 = R2EC_WORKERS or min(2, cores)) */
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

// ---------------------------------------------------------------------------------------------------------------
// Defaults (= the `full` profile)

export const MODEL_DEFAULTS: ExperimentConfig['model'] = { preset: 'small', vocabSize: 4000, maxSeqLen: 768, backbone: '' };

export const TOKENIZER_DEFAULTS: ExperimentConfig['tokenizer'] = { maxChars: 6_000_000 };

export const WARMUP_DEFAULTS: WarmupConfig = {
  steps: 3000,
  batchSize: 16,
  seqLen: 512,
  optimizer: { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 1 },
  schedule: { kind: 'cosine', warmupSteps: 20, minRatio: 0.1 },
  evalEvery: 250,
  evalWindows: 32,
  checkpointEvery: 100,
  seed: DEFAULT_SEED,
  maxDocs: 0,
  // 'target': the warm-up includes next-item fine-tuning on train samples (a from-scratch LM lacks the item
  // knowledge a pretrained LLM brings; measured on synthetic quick: zero-shot valid NDCG@10 0.007 → 0.023,
  // R²ec test 0.011 → 0.031). 'profile' = a warm-up without any recommendation signal.
  answer: 'target',
};

/** Neural baselines (sasrec, gru4rec, caser): what the experiment changes in their own defaults. */
export const BASELINE_DEFAULTS: Partial<NeuralConfig> = { epochs: 200, patience: 3, seed: DEFAULT_SEED };

export const EVAL_DEFAULTS: EvalConfig = {
  ks: [...DEFAULT_KS],
  maskHistory: true,
  validSamples: 0,
  testSamples: 0,
  latencyRequests: 100,
  keepTexts: 200,
};

/** The defaults (the `full` profile) for a dataset. */
export function baseConfig(dataset: string, experiment = 'main'): ExperimentConfig {
  // one clone per section: structuredClone keeps shared references shared (the three baselines must not alias)
  const clone = structuredClone;
  return {
    experiment,
    dataset,
    datasetOptions: {},
    profile: 'full',
    seed: DEFAULT_SEED,
    methods: clone(MAIN_METHODS),
    model: { ...clone(MODEL_DEFAULTS), backbone: envValue('R2EC_BACKBONE') ?? MODEL_DEFAULTS.backbone },
    tokenizer: clone(TOKENIZER_DEFAULTS),
    warmup: clone(WARMUP_DEFAULTS),
    backbone: clone(BACKBONE_DEFAULTS),
    recpo: clone(RECPO_DEFAULTS),
    sasrec: clone(BASELINE_DEFAULTS),
    gru4rec: clone(BASELINE_DEFAULTS),
    caser: clone(BASELINE_DEFAULTS),
    eval: clone(EVAL_DEFAULTS),
    world: 0,
    resultsDir: resultsRoot(),
    resume: true,
  };
}

/** The default configuration of a profile (before overrides): the defaults + the profile's table + its dataset's. */
export function defaultConfig(profile: Profile, dataset: string, experiment = 'main'): ExperimentConfig {
  if (!PROFILES.includes(profile)) throw new ConfigError('profile', `"${profile}" is not one of ${PROFILES.join(', ')}`);
  const cfg = applyOverrides(baseConfig(dataset, experiment), profileOverrides(profile, dataset));
  cfg.profile = profile;
  return cfg;
}

/** R2EC_PROFILE (default 'quick'), checked. */
export function profileFromEnv(env: Record<string, string | undefined> = process.env): Profile {
  try {
    return envChoice('R2EC_PROFILE', PROFILES, env) ?? 'quick';
  } catch {
    throw new ConfigError('R2EC_PROFILE', `"${env.R2EC_PROFILE?.trim()}" is not one of ${PROFILES.join(', ')}`);
  }
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

/** Sections whose keys are checked by their own validators (readers, baseline trainers) rather than by setKey. */
const OPEN_SECTIONS = ['datasetOptions', 'sasrec', 'gru4rec', 'caser'];

/**
 * Set a dotted key on a config object. The key must exist (a typo is an error naming it) and the new value must have
 * the same JSON type as the old one (numbers stay numbers, ...); `datasetOptions.*`, `sasrec.*`, `gru4rec.*` and
 * `caser.*` accept new keys (they are validated by their readers/trainers).
 */
export function setKey(cfg: object, key: string, value: unknown): void {
  const parts = key.split('.');
  let obj = cfg as Record<string, unknown>;
  const open = OPEN_SECTIONS.includes(parts[0]);
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

/** model.backbone: a folder with config.json (a Hugging Face checkpoint) or adapter_config.json (a LoRA adapter). */
function validateBackbone(c: ExperimentConfig): void {
  const b = c.model.backbone;
  if (typeof b !== 'string') throw new ConfigError('model.backbone', `must be a folder path or "", got ${JSON.stringify(b)}`);
  if (b === '') return;
  if (!fs.existsSync(path.join(b, 'config.json')) && !fs.existsSync(path.join(b, 'adapter_config.json'))) {
    throw new ConfigError('model.backbone', `"${b}" is not a Hugging Face checkpoint folder (no config.json or adapter_config.json)`);
  }
}

/** The sections one method trains with (everything but the method list), checked against the catalog when known. */
function validateSections(c: ExperimentConfig, numItems: number | undefined): void {
  if (!PROFILES.includes(c.profile)) throw new ConfigError('profile', `"${c.profile}" is not one of ${PROFILES.join(', ')}`);
  if (!/^[\w.-]+$/.test(c.experiment)) throw new ConfigError('experiment', `"${c.experiment}" must be a simple folder name`);
  int(c.seed, 'seed', 0);
  if (!PRESETS[c.model.preset]) throw new ConfigError('model.preset', `unknown preset "${c.model.preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  int(c.model.vocabSize, 'model.vocabSize', 300);
  int(c.model.maxSeqLen, 'model.maxSeqLen', 16);
  validateBackbone(c);
  int(c.tokenizer.maxChars, 'tokenizer.maxChars', 1000);
  validateRecPOConfig(c.recpo, { maxSeqLen: c.model.maxSeqLen, numItems }, 'recpo');
  validateBackboneConfig(c.backbone, 'backbone');
  const w = c.warmup;
  validateLMTrainConfig(w, 'warmup');
  int(w.seqLen, 'warmup.seqLen', 8);
  int(w.seed, 'warmup.seed', 0);
  int(w.maxDocs, 'warmup.maxDocs', 0);
  if (!WARMUP_ANSWERS.includes(w.answer)) throw new ConfigError('warmup.answer', `must be one of ${WARMUP_ANSWERS.join(', ')}, got ${JSON.stringify(w.answer)}`);
  if (w.seqLen > c.model.maxSeqLen) throw new ConfigError('warmup.seqLen', `exceeds model.maxSeqLen (${c.model.maxSeqLen})`);
  // baselines: each trainer's validator fills its defaults and names unknown keys (before any LM method trains)
  for (const b of ['sasrec', 'gru4rec', 'caser'] as const) BASELINES[b].validate(c[b] as Record<string, unknown>);
  const e = c.eval;
  // reward.ndcgK is capped at the catalog size (spec §4: NDCG@1000 "capped at the catalog"); evaluation cut-offs are not
  if (!Array.isArray(e.ks) || e.ks.length === 0) throw new ConfigError('eval.ks', 'needs at least one cut-off');
  e.ks.forEach((k, i) => {
    int(k, `eval.ks[${i}]`, 1);
    if (numItems !== undefined && k > numItems) throw new ConfigError(`eval.ks[${i}]`, `K=${k} is larger than the catalog (${numItems} items)`);
  });
  if (!e.ks.includes(10)) throw new ConfigError('eval.ks', `must include 10: checkpoints and early stopping select on valid NDCG@10, got ${JSON.stringify(e.ks)}`);
  if (typeof e.maskHistory !== 'boolean') throw new ConfigError('eval.maskHistory', `must be true or false, got ${JSON.stringify(e.maskHistory)}`);
  int(e.validSamples, 'eval.validSamples', 0);
  int(e.testSamples, 'eval.testSamples', 0);
  int(e.latencyRequests, 'eval.latencyRequests', 0);
  int(e.keepTexts, 'eval.keepTexts', 0);
  int(c.world, 'world', 0);
}

/**
 * The one validation pass: every section (RecPO, warm-up, baselines, evaluation), the method list, and each method's
 * overrides applied. `numItems` = catalog size, when known (runExperiment passes it once the data is loaded).
 */
export function validateExperimentConfig(c: ExperimentConfig, numItems?: number): void {
  validateSections(c, numItems);
  if (!Array.isArray(c.methods) || c.methods.length === 0) throw new ConfigError('methods', 'needs at least one method');
  const names = new Set<string>();
  c.methods.forEach((m, i) => {
    if (!METHOD_KINDS.includes(m.kind)) throw new ConfigError(`methods[${i}].kind`, `"${m.kind}" is not one of ${METHOD_KINDS.join(', ')}`);
    if (!m.name) throw new ConfigError(`methods[${i}].name`, 'is empty');
    if (names.has(m.name)) throw new ConfigError(`methods[${i}].name`, `duplicate method name "${m.name}"`);
    names.add(m.name);
    if (!m.set) return;
    try {
      validateSections(applyOverrides(c, m.set), numItems);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(e.field, `${e.problem} (in the overrides of method "${m.name}")`);
      throw e;
    }
  });
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
export const isBaseline = (k: MethodKind): k is BaselineKind => (BASELINE_KINDS as readonly string[]).includes(k);

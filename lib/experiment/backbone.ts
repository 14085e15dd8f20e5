// The backbone every LM method starts from (README "The backbone stage"): the tokenizer + warmed-up LM of
// language-model.ts, then the retrieval alignment of lib/train/backbone.ts. Zero-shot evaluates it as it is;
// w/o reasoning and R²ec train from it. Resolved in this order:
//   1. an imported Hugging Face checkpoint (model.backbone): the pretrained model itself, no alignment (as the paper);
//   2. a shipped backbone, backbones/<dataset>/ in the repository, when its recorded key equals this config's key;
//   3. the cache, .cache/backbone/<dataset>-<key>/ (R2EC_BACKBONE_CACHE), finished or resumed from its last checkpoint.
// The key hashes the data (provenance key: reader, version, file digests), every config section that shapes the
// backbone, the version of its objective (BACKBONE_OBJECTIVE_VERSION, guarded by a test on what one step computes)
// and a fingerprint of what it trains on (the tokenizer, every item sequence, and user sequences with and without
// reasoning), so that a change to the data, the config, the objective, the prompts or the tokenizer changes the
// key, while a refactoring that changes none of them does not. A backbone whose recorded key no longer matches is never used: it is rebuilt (a shipped one is
// reported as stale).
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/types';
import { parameterCount } from '../model/config';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import { sequenceConfig } from '../train/recpo/config';
import { BACKBONE_OBJECTIVE_VERSION, backboneSchedule, trainBackbone, trainingReasoning, type BackboneConfig, type BackboneCurves, type BackboneHooks } from '../train/backbone';
import { tokenizerFromJSON } from '../text/bpe';
import { directIds, itemSequences, scoringIds, userPromptIds } from '../text/sequences';
import { sha256, stableStringify } from '../util/hash';
import { hashSeed } from '../util/rng';
import { gitInfo } from '../util/manifest';
import { backboneCacheRoot, shippedBackboneRoot } from '../util/env';
import { R2ecError } from '../util/errors';
import { evalSubset } from '../eval/subsets';
import type { ExperimentConfig } from './config';
import { prepareLanguageModel, type PreparedLM } from './language-model';

/** Bump when the backbone's meaning changes in a way the hashed sources would not show. */
export const BACKBONE_VERSION = 1;


export interface PreparedBackbone extends PreparedLM {
  /** where the backbone came from */
  source: 'hf-import' | 'warm-up only' | 'given' | 'shipped' | 'cache' | 'trained';
  /** alignment curves (valid NDCG@10 and read-out cosines per evaluation), when the stage ran */
  alignment?: { curves: BackboneCurves; bestStep: number; samplesPerSec?: number; manifest: BackboneManifest };
}

export interface BackboneManifest {
  kind: 'r2ec-backbone';
  key: string;
  dataset: string;
  dataKey: string;
  /** the config sections the key covers */
  config: Record<string, unknown>;
  objectiveVersion: number;
  commit: string;
  dirty: boolean;
  command: string;
  createdAt: string;
  bestStep: number;
  steps: number;
  samplesSeen: number;
  world: number;
  seconds: number;
}

export { backboneCacheRoot, shippedBackboneRoot };

/**
 * Digest of what the backbone trains on: the tokenizer, every item sequence, and the first 64 train users'
 * sequences without and with their templated reasoning (lib/train/backbone.ts builds them the same way).
 */
export function trainingDataFingerprint(ds: Dataset, cfg: ExperimentConfig, tokenizer: unknown, maxSeqLen: number): string {
  const tok = tokenizerFromJSON(tokenizer);
  const sc = sequenceConfig(cfg.recpo);
  const parts: string[] = [stableStringify(tokenizer)];
  for (const seq of itemSequences(tok, ds, sc)) parts.push(seq.join(','));
  for (const s of ds.samples.train.slice(0, 64)) {
    const p = userPromptIds(tok, ds, s, sc);
    parts.push(directIds(tok, p, sc).join(','));
    const text = trainingReasoning(ds, cfg.backbone, s, sc.history, hashSeed(cfg.backbone.seed, 'fingerprint', s.index));
    parts.push(scoringIds(tok, p, text, sc, maxSeqLen).join(','));
  }
  return sha256(parts.join('\n')).slice(0, 16);
}

/**
 * The backbone section as keyed: fields added after backbones were shipped are hashed only when they differ from
 * the behaviour those backbones had (so their keys stay valid; a changed value still changes the key).
 */
function keyedBackboneConfig(b: BackboneConfig): Record<string, unknown> {
  // validSamples is keyed as the effective selection size (backboneShapingConfig's top-level validSamples)
  const { reasoningAim, hindsightShare, nextNames, init, validSamples: _selection, ...rest } = b;
  return {
    ...rest,
    ...(nextNames === 'attributes' ? {} : { nextNames }),
    ...(reasoningAim === 'history' ? {} : { reasoningAim }),
    ...(hindsightShare === 1 ? {} : { hindsightShare }),
    ...(init ? { init: checkpointKey(init, 'backbone.init') } : {}),
  };
}

/**
 * The folder a `backbone.init` / `backbone.from` value names: `shipped:<name>` is backbones/<name>/ of the repository
 * (R2EC_BACKBONES_DIR), so that a profile can name a shipped checkpoint wherever the command runs; anything else is a
 * path, as given.
 */
export function checkpointDir(ref: string): string {
  return ref.startsWith('shipped:') ? path.join(shippedBackboneRoot(), ref.slice('shipped:'.length)) : ref;
}

/**
 * The key of a backbone checkpoint given as `field`: its own manifest's; for a run's `best/`, the run's; for any other
 * checkpoint of a run (`latest/`, whose weights are not the ones the run's key names) the run's key plus a digest of
 * its weights; else the digest alone. Method results are cached by this key, so two checkpoints never share one.
 */
export function checkpointKey(ref: string, field: 'backbone.init' | 'backbone.from'): string {
  const dir = checkpointDir(ref);
  if (!hasCheckpoint(dir)) throw new R2ecError(`${field}: no checkpoint in ${dir}`);
  const own = readManifest(dir);
  if (own) return own.key;
  const run = readManifest(path.dirname(dir));
  if (run && path.basename(dir) === 'best') return run.key;
  const weights = sha256(fs.readFileSync(path.join(dir, 'model.safetensors'))).slice(0, 16);
  return run ? `${run.key}-${path.basename(dir)}-${weights.slice(0, 8)}` : weights;
}

/**
 * The config sections a backbone depends on (the inputs of backboneKeyInput besides the data): methods whose overrides
 * agree on these share one backbone; a method that changes one (a read-out pooling, a prompt history, a model size)
 * starts from its own (lib/experiment/run.ts).
 */
export function backboneShapingConfig(cfg: ExperimentConfig) {
  const { validSamples: _selection, ...backbone } = cfg.backbone;
  return {
    model: cfg.model,
    tokenizer: cfg.tokenizer,
    warmup: cfg.warmup,
    backbone: { ...backbone, validSamples: 0 },
    head: cfg.recpo.head,
    pooling: cfg.recpo.pooling,
    sequences: sequenceConfig(cfg.recpo),
    validSamples: backboneSelectionSize(cfg),
    seed: cfg.seed,
  };
}

/** The valid samples the backbone stage selects on: backbone.validSamples, else the methods' eval.validSamples. */
export function backboneSelectionSize(cfg: ExperimentConfig): number {
  return cfg.backbone.validSamples > 0 ? cfg.backbone.validSamples : cfg.eval.validSamples;
}

/** Everything that shapes the backbone, as hashed into its key. */
export function backboneKeyInput(ds: Dataset, cfg: ExperimentConfig, lm: PreparedLM) {
  // the sections of backboneShapingConfig, each as keyed: the model, tokenizer and warm-up through the prepared LM
  // (its resolved model config, its key; the tokenizer through trainingData), the rest as they are (one list of what
  // shapes a backbone; the key's field order is stableStringify's, so shipped keys do not depend on it)
  const sh = backboneShapingConfig(cfg);
  return {
    v: BACKBONE_VERSION,
    data: ds.provenance.key || ds.name,
    model: lm.model,
    warmup: sh.warmup.steps > 0 ? lm.key : 'none',
    backbone: keyedBackboneConfig(sh.backbone),
    head: sh.head,
    pooling: sh.pooling,
    sequences: sh.sequences,
    validSamples: sh.validSamples,
    seed: sh.seed,
    objective: BACKBONE_OBJECTIVE_VERSION,
    trainingData: trainingDataFingerprint(ds, cfg, lm.tokenizer, lm.model.maxSeqLen),
  };
}

/**
 * The key a backbone of this dataset and config would have, without training it (the tokenizer and LM warm-up of
 * language-model.ts are prepared or reused): how a test checks that a shipped backbone still matches the code.
 */
export async function backboneKey(ds: Dataset, cfg: ExperimentConfig, world: number): Promise<string> {
  const lm = await prepareLanguageModel(ds, cfg, world, {});
  return sha256(stableStringify(backboneKeyInput(ds, cfg, lm))).slice(0, 16);
}

/** The manifest of a backbone folder (undefined when it has none). */
export function readManifest(dir: string): BackboneManifest | undefined {
  const f = path.join(dir, 'manifest.json');
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as BackboneManifest) : undefined;
}

/**
 * Copy a trained backbone (weights, config, tokenizer; no optimizer state) with its manifest into `dest`
 * (backbones/<dataset>/ to ship it with the repository).
 */
export function exportBackbone(from: string, dest: string, manifest: BackboneManifest): void {
  const ck = loadCheckpoint(from);
  saveCheckpoint(dest, { config: ck.config, params: ck.params, tokenizer: ck.tokenizer, state: { kind: 'backbone', key: manifest.key } });
  fs.writeFileSync(path.join(dest, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** The backbone of an experiment: imported, shipped, cached or trained (resumable) — see the file comment. */
export async function prepareBackbone(
  ds: Dataset,
  cfg: ExperimentConfig,
  world: number,
  hooks: BackboneHooks & { log?: (msg: string) => void; onLMStep?: (i: { step: number; steps: number; loss: number }) => void } = {},
): Promise<PreparedBackbone> {
  const log = hooks.log ?? (() => {});
  const t0 = performance.now();
  const lm = await prepareLanguageModel(ds, cfg, world, { log, onStep: hooks.onLMStep });
  if (cfg.model.backbone) {
    if (cfg.backbone.epochs > 0) log('backbone: an imported Hugging Face model is the starting point as it is (no retrieval alignment, as the paper)');
    return { ...lm, source: 'hf-import' };
  }
  if (cfg.backbone.epochs === 0) return { ...lm, source: 'warm-up only' };
  if (cfg.backbone.from) {
    // an explicit checkpoint: used as it is, keyed by its own manifest (or its weights) so results stay traceable
    const dir = checkpointDir(cfg.backbone.from);
    const key = checkpointKey(dir, 'backbone.from');
    log(`backbone: starting from ${dir} (backbone.from, key ${key})`);
    return { ...lm, checkpoint: dir, key, source: 'given', cached: true, seconds: (performance.now() - t0) / 1000 };
  }
  const keyInput = backboneKeyInput(ds, cfg, lm);
  const key = sha256(stableStringify(keyInput)).slice(0, 16);
  const done = (checkpoint: string, source: PreparedBackbone['source'], manifest: BackboneManifest, curves?: BackboneCurves, samplesPerSec?: number) => {
    const state = curves ? undefined : loadCheckpoint(path.join(path.dirname(checkpoint), 'latest')).state;
    const c = curves ?? (state?.curves as BackboneCurves);
    return {
      ...lm, checkpoint, key, source, cached: source !== 'trained', seconds: (performance.now() - t0) / 1000,
      alignment: { curves: c, bestStep: manifest.bestStep, samplesPerSec, manifest },
    } as PreparedBackbone;
  };
  // 2. shipped
  const shipped = path.join(shippedBackboneRoot(), ds.name);
  const shippedManifest = readManifest(shipped);
  if (shippedManifest && hasCheckpoint(shipped)) {
    if (shippedManifest.key === key) {
      log(`backbone: the shipped backbone ${path.relative(process.cwd(), shipped)} (key ${key}, trained ${shippedManifest.samplesSeen} samples at ${shippedManifest.commit.slice(0, 8)})`);
      const curvesFile = path.join(shipped, 'curves.json');
      const curves = fs.existsSync(curvesFile) ? (JSON.parse(fs.readFileSync(curvesFile, 'utf8')) as BackboneCurves) : undefined;
      return { ...lm, checkpoint: shipped, key, source: 'shipped', cached: true, seconds: (performance.now() - t0) / 1000, alignment: curves ? { curves, bestStep: shippedManifest.bestStep, manifest: shippedManifest } : undefined };
    }
    log(`backbone: the shipped backbone for ${ds.name} was made with other settings, data or code (key ${shippedManifest.key}, this config ${key}); not used`);
  }
  // 3. cache (finished or resumed)
  const dir = path.join(backboneCacheRoot(), `${ds.name}-${key}`);
  const best = path.join(dir, 'best');
  const cachedManifest = readManifest(dir);
  if (cachedManifest && hasCheckpoint(best)) {
    log(`backbone: reusing ${dir}`);
    return done(best, 'cache', cachedManifest);
  }
  fs.mkdirSync(dir, { recursive: true });
  // the code that trains is the code at the start (files may change while a long run goes on)
  const { commit, dirty } = gitInfo();
  const validIdx = evalSubset(ds.samples.valid.length, backboneSelectionSize(cfg), cfg.seed, 'valid');
  const b = cfg.backbone;
  const { steps } = backboneSchedule(b, ds.samples.train.length);
  log(
    `backbone: retrieval alignment of ${cfg.model.preset} (${(parameterCount(lm.model) / 1e6).toFixed(2)}M parameters), ${steps} steps × ` +
      `${b.usersPerStep} users (${((steps * b.usersPerStep) / ds.samples.train.length).toFixed(2)} epochs), ${b.negatives} sampled items, ` +
      `selected on ${validIdx.length} valid samples, ${world} rank(s) → ${dir}`,
  );
  const initDir = b.init ? checkpointDir(b.init) : '';
  if (initDir) {
    const init = loadCheckpoint(initDir);
    if (stableStringify(init.tokenizer) !== stableStringify(lm.tokenizer) || stableStringify(init.config) !== stableStringify(lm.model)) {
      throw new R2ecError(`backbone.init: ${b.init} has another tokenizer or model config than this experiment's language model (${ds.name}, ${cfg.model.preset})`);
    }
    log(`backbone: training from ${b.init} (backbone.init, key ${keyInput.backbone.init})`);
  }
  const res = await trainBackbone(
    {
      dataset: ds, tokenizer: lm.tokenizer, model: lm.model, initCheckpoint: initDir || lm.checkpoint, config: b,
      head: cfg.recpo.head, pooling: cfg.recpo.pooling, sequences: sequenceConfig(cfg.recpo), validIdx, workDir: dir,
      reasoningTokens: cfg.recpo.rollout.maxNewTokens,
    },
    world,
    hooks,
  );
  if (!hasCheckpoint(best)) throw new R2ecError(`backbone: training finished without a best checkpoint in ${best}`);
  const manifest: BackboneManifest = {
    kind: 'r2ec-backbone', key, dataset: ds.name, dataKey: ds.provenance.key, config: keyInput as unknown as Record<string, unknown>,
    objectiveVersion: keyInput.objective, commit, dirty, command: process.argv.slice(1).join(' '), createdAt: new Date().toISOString(),
    bestStep: res.bestStep, steps, samplesSeen: steps * b.usersPerStep, world: res.world, seconds: res.seconds,
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.writeFileSync(path.join(dir, 'curves.json'), JSON.stringify(res.curves));
  return done(best, 'trained', manifest, res.curves, res.samplesPerSec);
}

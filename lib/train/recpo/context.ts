// One rank's view of a RecPO run: what it receives (RecJob), the context built from it (weights, tokenizer, item
// table H_V, prompt cache) and the sequences RecPO feeds the model (spec §2): user prompts, item prompts with the
// prefilled `<answer>`, reasoning completions and the no-reasoning read-out, plus catalog scoring (spec §3).
import { tf } from '../../model/backend';
import type { ModelConfig } from '../../model/config';
import { forward, padBatch, paramNames, type Params, type TokenBatch } from '../../model/decoder';
import { encodeSequences, readOut } from '../../model/readout';
import { recScores } from '../../model/rec-head';
import { loadCheckpoint, paramsFromArrays } from '../../model/checkpoint';
import type { Dataset, Sample } from '../../data/types';
import { tokenizerFromJSON, type Tokenizer } from '../../text/bpe';
import { nextTitleRule } from '../../text/constraints';
import { directIds as directIdsOf, itemSequences, scoringIds as scoringIdsOf, userPromptIds } from '../../text/sequences';
import type { Collective } from '../parallel';
import { createItemTable, refreshAll, type ItemTable } from '../item-table';
import { hashSeed, makeRng } from '../../util/rng';
import { sequenceConfig, type RecPOConfig } from './config';

export interface RecJob {
  method: string;
  /** the experiment's dataset, handed to every rank (worker ranks get a structured clone), never reloaded by name */
  dataset: Dataset;
  tokenizer: unknown;
  model: ModelConfig;
  /** warm-up checkpoint to start from */
  initCheckpoint: string;
  config: RecPOConfig;
  /** indices into ds.samples.valid / .test to evaluate (the experiment picks them once for all methods) */
  validIdx: number[];
  testIdx: number[];
  /** run folder for checkpoints (latest/ and best/); resumed when latest/ exists */
  workDir: string;
  /** how many test requests to time at batch 1 (0 = none) */
  latencyRequests: number;
  /** keep this many test reasoning texts in the result */
  keepTexts: number;
  /** stop after this step in this call (to test resume) */
  stopAfter?: number;
  /** evaluation protocol (spec §5) */
  eval: { ks: number[]; maskHistory: boolean };
}

export interface RecContext {
  job: RecJob;
  cfg: RecPOConfig;
  mcfg: ModelConfig;
  ds: Dataset;
  tok: Tokenizer;
  params: Params;
  /** frozen starting weights for the KL penalty */
  reference?: Params;
  comm: Collective;
  /** item table H_V (row 0 = pad, zeros), identical on every rank */
  table: ItemTable;
  itemSeqs: number[][];
  promptCache: Map<Sample, number[]>;
  names: string[];
  /** constrained decoding of the reasoning (cfg.nextTitles): the allowed-token rule for rows of the given samples */
  titleRule?: (rowSample: (row: number) => Sample) => (generated: readonly number[], row: number) => readonly number[] | undefined;
}

/** Generation prompt ids of a sample (cached per sample; lib/text/sequences.ts builds them). */
export function promptIds(ctx: RecContext, s: Sample): number[] {
  let ids = ctx.promptCache.get(s);
  if (!ids) {
    ids = userPromptIds(ctx.tok, ctx.ds, s, sequenceConfig(ctx.cfg));
    ctx.promptCache.set(s, ids);
  }
  return ids;
}

/** Scoring sequence of a reasoning: prompt ids + re-tokenised `reasoning…<answer>` (spec §2 "Reasoning completion"). */
export function scoringIds(ctx: RecContext, prompt: number[], reasoningText: string): number[] {
  return scoringIdsOf(ctx.tok, prompt, reasoningText, sequenceConfig(ctx.cfg), ctx.mcfg.maxSeqLen);
}

/** User sequence of the no-reasoning variant: `<answer>` right after the prompt (spec §7.11). */
export function directIds(ctx: RecContext, prompt: number[]): number[] {
  return directIdsOf(ctx.tok, prompt, sequenceConfig(ctx.cfg));
}

// ---------------------------------------------------------------------------------------------------------------
// Item table

export function tableTensor(ctx: RecContext): tf.Tensor2D {
  return tf.tensor2d(ctx.table.rows, [ctx.table.numRows, ctx.table.d]);
}

export function refreshItemTable(ctx: RecContext): void {
  if (ctx.cfg.variant === 'cls-head') return;
  refreshAll(ctx.table, (ids) => encodeSequences(ctx.params, ctx.mcfg, ids.map((i) => ctx.itemSeqs[i]), ctx.cfg.pooling, 32), ctx.comm);
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring helpers

/** Scores over the whole catalog [B, N+1] for user vectors [B, d] (cls-head: its classifier). */
export function catalogScores(ctx: RecContext, users: tf.Tensor2D): tf.Tensor2D {
  if (ctx.cfg.variant === 'cls-head') {
    return tf.tidy(() => tf.add(tf.matMul(users, ctx.params.cls_head, false, true), ctx.params.cls_bias) as tf.Tensor2D);
  }
  return tf.tidy(() => recScores(users, tableTensor(ctx), ctx.cfg.head));
}

/** Differentiable read-out vectors for a list of token sequences (right padded). */
export function vectorsOf(ctx: RecContext, seqs: number[][]): { vecs: tf.Tensor2D; hidden: tf.Tensor3D; batch: TokenBatch } {
  const batch = padBatch(seqs, 'right');
  const hidden = forward(ctx.params, ctx.mcfg, batch);
  return { vecs: readOut(hidden, batch, ctx.cfg.pooling), hidden, batch };
}

/** Build a rank's context from its job: tokenizer, weights from the warm-up checkpoint (+ a fresh classification
 *  head for cls-head), the item sequences, and a frozen copy of the weights when the KL penalty is on. */
export function makeContext(job: RecJob, comm: Collective): RecContext {
  const cfg = job.config;
  const ds = job.dataset;
  const tok = tokenizerFromJSON(job.tokenizer);
  const ck = loadCheckpoint(job.initCheckpoint);
  const mcfg = job.model;
  const params = paramsFromArrays(ck.params, paramNames(mcfg));
  if (cfg.variant === 'cls-head') {
    const rng = makeRng(hashSeed(cfg.seed, 'cls-head'));
    const w = new Float32Array(ds.items.length * mcfg.dModel).map(() => rng.normal() * 0.02);
    params.cls_head = tf.tidy(() => tf.variable(tf.tensor2d(w, [ds.items.length, mcfg.dModel]), true));
    params.cls_bias = tf.tidy(() => tf.variable(tf.zeros([ds.items.length]), true));
  }
  const ctx: RecContext = {
    job, cfg, mcfg, ds, tok, params, comm,
    table: createItemTable(ds.items.length, mcfg.dModel),
    itemSeqs: [],
    promptCache: new Map(),
    names: Object.keys(params),
  };
  if (cfg.klCoef > 0) ctx.reference = paramsFromArrays(ck.params, paramNames(mcfg));
  ctx.itemSeqs = cfg.variant === 'cls-head' ? [] : itemSequences(tok, ds, sequenceConfig(cfg));
  if (cfg.variant !== 'no-reasoning') ctx.titleRule = nextTitleRule(tok, ds, cfg.nextTitles, cfg.promptHistory);
  return ctx;
}

/** Free the context's tensors (weights and the KL reference). */
export function disposeContext(ctx: RecContext): void {
  Object.values(ctx.params).forEach((p) => p.dispose());
  if (ctx.reference) Object.values(ctx.reference).forEach((p) => p.dispose());
}

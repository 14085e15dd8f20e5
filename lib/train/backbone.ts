// The backbone stage: a retrieval alignment of the small decoder LM that stands in for the pretrained,
// instruction-tuned LLM of the paper (README "The backbone stage"). After it, the `<answer>` read-out of a user
// sequence already ranks the catalog, so RecPO's rewards carry signal from its first step (spec §4 needs a policy
// whose rankings differ between rollouts; a from-scratch LM's read-outs are all parallel, learning-notes).
//
// One step, on B train users and C = B in-batch targets + M catalog items drawn uniformly:
//   loss = −mean_i log softmax_j(s(u_i, e_j) − log q_j)[i]  +  lmWeight · CE(reasoning tokens)
// - s = the recommendation head of RecPO (cosine/τ or dot, spec §3), read-out = the sequence's last token, the
//   same vectors RecPO and evaluation read;
// - q_j = expected draws of item j per step (B·p_train(j) + M/N): the sampled-softmax correction (Yi et al. 2019,
//   mixed negative sampling), so that neither in-batch popularity nor uniform negatives bias the scores;
// - both towers get gradients (a loss against a detached table collapsed everything, learning-notes);
// - a share of user sequences carries a templated reasoning (from the history only, lib/text/corpus.ts) between the
//   prompt and `<answer>`, and the LM loss trains those reasoning tokens, so the model writes readable reasoning and
//   its read-out after reasoning ranks too (R²ec's starting point); the others read `<answer>` right after the
//   prompt (w/o reasoning's read-out). The token after `<answer>` is never trained: the read-out is free for
//   retrieval (the tied LM head had collapsed it, learning-notes).
// - GradCache (Gao et al. 2021): vectors are computed once without gradient, the loss gradient w.r.t. the vectors is
//   taken on the small [B, C] problem, then each chunk of sequences is re-run with gradient and back-propagates
//   ⟨vector, gradient⟩. Memory stays at one chunk while the softmax sees every column (a 384-sequence batch ran
//   the 4 GiB wasm heap out in one piece). Ranks split users and columns and gather the vectors.
import path from 'node:path';
import { tf, initBackend } from '../model/backend';
import type { ModelConfig } from '../model/config';
import { forward, initParams, lmLogits, padBatch, paramNames, type Params } from '../model/decoder';
import { crossEntropy } from '../model/losses';
import { greedyTexts, GREEDY } from '../model/generate';
import { encodeSequences, readOut, type Pooling } from '../model/readout';
import { recScores, type RecHeadConfig } from '../model/rec-head';
import { assignParams, hasCheckpoint, loadCheckpoint, paramsToArrays, saveCheckpoint } from '../model/checkpoint';
import type { Dataset, Sample } from '../data/types';
import { tokenizerFromJSON, type Tokenizer } from '../text/bpe';
import { guessTitle, targetAim, targetTitle, templatedReasoning } from '../text/corpus';
import { ANSWER } from '../text/chat';
import { directIds, itemSequences, scoringIds, userPromptIds, type SequenceConfig } from '../text/sequences';
import { evaluateRanking } from '../eval/evaluate';
import { readoutCosines } from '../eval/collapse';
import { adamWStep, disposeAdamW, initAdamW, optimizerToArrays, restoreOptimizer, validateAdamW, type AdamWConfig } from './optimizer';
import { lrAt, validateSchedule, type LrSchedule } from './schedule';
import { allReduceGrads, backpropVectors, gatherAll } from './grads';
import { createItemTable, refreshAll } from './item-table';
import { runSpmd, shardRange, type Collective } from './parallel';
import { DEFAULT_SEED, hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';

/**
 * Version of the objective (loss, sampling, reasoning, GradCache): part of every backbone's key. Bump it when a
 * change alters what a step computes; test/train-backbone.test.ts fails until OBJECTIVE_FINGERPRINT (one step's
 * numbers on a tiny model) is updated with it, so a behavioural change cannot slip through without a new key.
 */
export const BACKBONE_OBJECTIVE_VERSION = 1;
export const OBJECTIVE_FINGERPRINT = '97d8b9f513a7';

export interface BackboneConfig {
  /** passes over the train samples (0 = no backbone stage: methods start from the warm-up LM) */
  epochs: number;
  /** optimizer steps; 0 = ⌈epochs · train samples / usersPerStep⌉ (so one profile fits every dataset) */
  steps: number;
  /** train users per step, over all ranks (B; also the in-batch columns) */
  usersPerStep: number;
  /** catalog items drawn uniformly per step as extra columns (M), encoded with gradient */
  negatives: number;
  /** subtract log q_j (expected draws per step) from every column's score */
  logQ: boolean;
  /** share of user sequences with a templated reasoning before `<answer>` */
  reasoningShare: number;
  /** templated reasoning style (lib/text/corpus.ts): 'brief' (~30 tokens, attributes and ratings) or 'full' */
  reasoningStyle: 'brief' | 'full';
  /**
   * What the brief reasoning's closing "Next: …" names in the training text: 'history' (the history's top
   * attributes, so reasoning restates the prompt) or 'target' (hindsight: the target's own attributes, so the LM
   * learns to guess the next item's genre/category and the read-out after it learns to use the guess — a reasoning
   * whose rollouts differ in a way the reward can tell apart); or 'target-readout' (the same hindsight text for the
   * read-out, but the LM term stops before "Next:", so the model keeps writing what its init wrote there — the
   * history's top attributes — while the read-out learns to follow what "Next:" names: a guess RecPO can improve and
   * the read-out listens to). With the target aims, the valid read-out "after a reasoning"
   * is the model's own greedy reasoning, never the template (which would show the target).
   */
  reasoningAim: ReasoningAim;
  /**
   * With the target aims, the share of reasoning texts whose "Next:" names the target (the rest name the history's
   * top attributes, as the 'history' aim does). Below 1 the read-out learns to weigh the guess by how often such a
   * guess is right instead of trusting it outright — the model's own guesses at evaluation are often wrong.
   */
  hindsightShare: number;
  /**
   * What the brief reasoning's "Next:" names: 'attributes' (genres/categories: the target's with hindsight, else the
   * history's top ones) or 'title' (an item's title: the target's with hindsight, else a popular item of the
   * history's top attribute that the history lacks, lib/text/corpus.ts guessTitle). A named title moves the read-out
   * toward that item, so rollouts that name different titles differ in reward — a guess the policy can learn.
   */
  nextNames: NextNames;
  /** weight of the LM loss on the reasoning tokens (0 = none) */
  lmWeight: number;
  /** sequences per forward/backward chunk (bounds memory, not the result) */
  chunk: number;
  optimizer: AdamWConfig;
  schedule: LrSchedule;
  /** evaluate on the valid subset, checkpoint and keep the best every n steps and at the end; 0 = 8 times an epoch
   *  (the reference code's eval_steps ≈ 1/8 epoch, spec §4.7) */
  evalEvery: number;
  seed: number;
  /** valid samples (a seeded subset) the stage selects its checkpoint on; 0 = eval.validSamples, the methods'
   *  selection set — so the methods can select on more samples without a new backbone */
  validSamples: number;
  /** start every LM method from this checkpoint folder instead (a `backbone train` result; `shipped:<name>` =
   *  backbones/<name>/; '' = resolve by key) */
  from: string;
  /** train the stage from this backbone checkpoint instead of the warm-up LM (more epochs, another reasoning aim);
   *  its key (manifest) is part of the new key, not its path; `shipped:<name>` = backbones/<name>/; '' = from the warm-up */
  init: string;
}

export type ReasoningAim = 'history' | 'target' | 'target-readout';
export type NextNames = 'attributes' | 'title';
export const REASONING_AIMS: readonly ReasoningAim[] = ['history', 'target', 'target-readout'];
const hindsight = (aim: ReasoningAim) => aim !== 'history';

export const BACKBONE_DEFAULTS: BackboneConfig = {
  epochs: 1,
  steps: 0,
  usersPerStep: 64,
  negatives: 256,
  logQ: true,
  reasoningShare: 0.5,
  reasoningStyle: 'brief',
  reasoningAim: 'history',
  hindsightShare: 1,
  nextNames: 'attributes',
  lmWeight: 0.2,
  chunk: 32,
  optimizer: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 1 },
  schedule: { kind: 'cosine', warmupSteps: 50, minRatio: 0.1 },
  evalEvery: 0,
  seed: DEFAULT_SEED,
  validSamples: 0,
  from: '',
  init: '',
};

const int = (v: unknown, field: string, min: number) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(field, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
};

export function validateBackboneConfig(c: BackboneConfig, prefix = 'backbone'): void {
  if (!(c.epochs >= 0)) throw new ConfigError(`${prefix}.epochs`, `must be ≥ 0, got ${c.epochs}`);
  int(c.steps, `${prefix}.steps`, 0);
  int(c.usersPerStep, `${prefix}.usersPerStep`, 2);
  int(c.negatives, `${prefix}.negatives`, 0);
  int(c.chunk, `${prefix}.chunk`, 1);
  int(c.evalEvery, `${prefix}.evalEvery`, 0);
  int(c.seed, `${prefix}.seed`, 0);
  int(c.validSamples, `${prefix}.validSamples`, 0);
  if (typeof c.init !== 'string') throw new ConfigError(`${prefix}.init`, `must be a checkpoint folder or "", got ${JSON.stringify(c.init)}`);
  if (typeof c.logQ !== 'boolean') throw new ConfigError(`${prefix}.logQ`, `must be true or false, got ${JSON.stringify(c.logQ)}`);
  if (!(c.reasoningShare >= 0 && c.reasoningShare <= 1)) throw new ConfigError(`${prefix}.reasoningShare`, `must be in [0, 1], got ${c.reasoningShare}`);
  if (c.reasoningStyle !== 'brief' && c.reasoningStyle !== 'full') throw new ConfigError(`${prefix}.reasoningStyle`, `must be "brief" or "full", got ${JSON.stringify(c.reasoningStyle)}`);
  if (!REASONING_AIMS.includes(c.reasoningAim)) throw new ConfigError(`${prefix}.reasoningAim`, `must be one of ${REASONING_AIMS.join(', ')}, got ${JSON.stringify(c.reasoningAim)}`);
  if (hindsight(c.reasoningAim) && c.reasoningStyle !== 'brief') throw new ConfigError(`${prefix}.reasoningAim`, `"${c.reasoningAim}" needs reasoningStyle "brief" (the full style has no "Next:" clause)`);
  if (!(c.hindsightShare >= 0 && c.hindsightShare <= 1)) throw new ConfigError(`${prefix}.hindsightShare`, `must be in [0, 1], got ${c.hindsightShare}`);
  if (c.hindsightShare !== 1 && !hindsight(c.reasoningAim)) throw new ConfigError(`${prefix}.hindsightShare`, `applies to the target aims only (reasoningAim is "${c.reasoningAim}")`);
  if (c.nextNames !== 'attributes' && c.nextNames !== 'title') throw new ConfigError(`${prefix}.nextNames`, `must be "attributes" or "title", got ${JSON.stringify(c.nextNames)}`);
  if (c.nextNames === 'title' && c.reasoningStyle !== 'brief') throw new ConfigError(`${prefix}.nextNames`, `"title" needs reasoningStyle "brief" (the full style has no "Next:" clause)`);
  if (!(c.lmWeight >= 0)) throw new ConfigError(`${prefix}.lmWeight`, `must be ≥ 0, got ${c.lmWeight}`);
  validateAdamW(c.optimizer, `${prefix}.optimizer`);
  validateSchedule(c.schedule, `${prefix}.schedule`);
}

/** What a rank needs (the dataset itself, never reloaded by name). */
export interface BackboneJob {
  dataset: Dataset;
  tokenizer: unknown;
  model: ModelConfig;
  /** start from this checkpoint (the warm-up LM); a fresh seeded init when absent */
  initCheckpoint?: string;
  config: BackboneConfig;
  head: RecHeadConfig;
  pooling: Pooling;
  sequences: SequenceConfig;
  /** valid sample indices the best checkpoint is selected on */
  validIdx: number[];
  /** greedy reasoning budget of the valid read-out after a generated reasoning (the target reasoning aims) */
  reasoningTokens?: number;
  /** run folder: latest/ (resumed when present) and best/ */
  workDir: string;
  /** stop after this step in this call (resume tests) */
  stopAfter?: number;
}

export interface BackboneCurves {
  step: number[];
  loss: number[];
  lmLoss: number[];
  gradNorm: number[];
  lr: number[];
  /** evaluations: valid NDCG@10 of the read-out right after the prompt and after a reasoning (see evaluateBackbone) */
  evalStep: number[];
  samplesSeen: number[];
  validNdcg10Direct: number[];
  validNdcg10Reasoning: number[];
  /**
   * valid NDCG@10 after the templated reasoning whose "Next:" names the target (hindsight): what a right guess is worth
   * to the read-out. Far above "after a reasoning" = the read-out listens to the guess, so RecPO has something to
   * improve; equal = it ignores it (results/recpo-budget). NaN for evaluations made before it was recorded.
   */
  validNdcg10Hindsight: number[];
  /** read-out diagnostics: mean pairwise cosine of user–user, item–item and user–item vectors (collapse → 1) */
  cosUserUser: number[];
  cosItemItem: number[];
  cosUserItem: number[];
}

export interface BackboneResult {
  curves: BackboneCurves;
  bestStep: number;
  bestMetric: number;
  stepsRun: number;
  samplesPerSec: number;
  world: number;
  seconds: number;
}

export interface BackboneHooks {
  onStep?: (info: { step: number; steps: number; loss: number; lmLoss: number; samplesPerSec: number; tensors: number }) => void;
  onEval?: (info: { step: number; direct: number; reasoning: number; hindsight: number; cos: [number, number, number] }) => void;
}

/** The stage's length for a train split of `nTrain` samples: steps (0 when epochs = 0) and the evaluation interval. */
export function backboneSchedule(c: BackboneConfig, nTrain: number): { steps: number; evalEvery: number } {
  if (c.epochs === 0) return { steps: 0, evalEvery: 1 };
  const perEpoch = Math.max(1, Math.ceil(nTrain / c.usersPerStep));
  const steps = c.steps > 0 ? c.steps : Math.ceil(c.epochs * perEpoch);
  return { steps, evalEvery: c.evalEvery > 0 ? c.evalEvery : Math.max(1, Math.ceil(perEpoch / 8)) };
}

/** Seeded epoch-wise permutation batches: global batch `step` is a pure function of (seed, step, n). */
export function epochBatch(n: number, B: number, step: number, seed: number): number[] {
  const out: number[] = [];
  let perm: number[] | undefined;
  let permEpoch = -1;
  for (let j = 0; j < B; j++) {
    const g = step * B + j;
    const epoch = Math.floor(g / n);
    if (epoch !== permEpoch) {
      perm = shuffleInPlace(Array.from({ length: n }, (_, i) => i), makeRng(hashSeed(seed, 'backbone-epoch', epoch)));
      permEpoch = epoch;
    }
    out.push(perm![g % n]);
  }
  return out;
}

/** Expected draws of each item per step: B in-batch targets ∝ train frequency + M uniform (log of it = the correction). */
export function samplingLogQ(ds: Dataset, B: number, M: number): Float64Array {
  const N = ds.items.length - 1;
  const freq = new Float64Array(N + 1);
  for (const s of ds.samples.train) freq[s.target.item]++;
  const total = ds.samples.train.length;
  return freq.map((f, id) => (id === 0 ? 0 : Math.log(B * (f / total) + M / N + 1e-12)));
}

export interface BackboneContext {
  job: BackboneJob;
  cfg: BackboneConfig;
  mcfg: ModelConfig;
  ds: Dataset;
  tok: Tokenizer;
  params: Params;
  comm: Collective;
  itemSeqs: number[][];
  promptCache: Map<Sample, number[]>;
  logQ: Float64Array;
}

function prompt(ctx: BackboneContext, s: Sample): number[] {
  let ids = ctx.promptCache.get(s);
  if (!ids) ctx.promptCache.set(s, (ids = userPromptIds(ctx.tok, ctx.ds, s, ctx.job.sequences)));
  return ids;
}

/**
 * A train sample's templated reasoning, up to and including `<answer>`: from the history the prompt shows, and with
 * reasoningAim 'target' a "Next:" that names the target's attributes (training text only; evaluation generates).
 */
function reasoningText(ctx: BackboneContext, s: Sample, rngSeed: number): string {
  return trainingReasoning(ctx.ds, ctx.cfg, s, ctx.job.sequences.history, rngSeed);
}

/**
 * The templated reasoning a train sample carries (the last `history` interactions, the configured style and aim),
 * up to and including `<answer>`. The backbone key's data fingerprint hashes the same text (lib/experiment/backbone.ts).
 */
export function trainingReasoning(ds: Dataset, cfg: BackboneConfig, s: Sample, history: number, rngSeed: number): string {
  const aimed = hindsight(cfg.reasoningAim) && (cfg.hindsightShare >= 1 || makeRng(hashSeed(rngSeed, 'hindsight')).next() < cfg.hindsightShare);
  const shown = s.history.slice(-history);
  const aim = cfg.nextNames === 'title'
    ? (aimed ? targetTitle(ds, s.target.item) : guessTitle(ds, shown, makeRng(hashSeed(rngSeed, 'guess'))))
    : aimed ? targetAim(ds, s.target.item) : undefined;
  const r = templatedReasoning(ds, shown, s.target.timestamp, makeRng(rngSeed), cfg.reasoningStyle, aim);
  return r.assistant.slice(0, r.assistant.indexOf(ANSWER) + ANSWER.length);
}

/** The user sequence of sample `s` in global batch slot (step, j), and where its LM-trained reasoning tokens are. */
function userSequence(ctx: BackboneContext, s: Sample, step: number, j: number): UserSequence {
  const p = prompt(ctx, s);
  const coin = makeRng(hashSeed(ctx.cfg.seed, 'backbone-reasoning', step, j)).next();
  if (coin >= ctx.cfg.reasoningShare) {
    const ids = directIds(ctx.tok, p, ctx.job.sequences);
    return { ids, reasoningFrom: -1, reasoningTo: ids.length };
  }
  const text = reasoningText(ctx, s, hashSeed(ctx.cfg.seed, 'backbone-text', step, j));
  const ids = scoringIds(ctx.tok, p, text, ctx.job.sequences, ctx.mcfg.maxSeqLen);
  const reasoningTo = ctx.cfg.reasoningAim === 'target-readout' ? nextClauseStart(ctx.tok, ids, p.length, text) : ids.length;
  return { ids, reasoningFrom: p.length, reasoningTo };
}

/** A user sequence: ids (last token = read-out), and the positions [reasoningFrom, reasoningTo) the LM term predicts
 *  (reasoningFrom −1 = no reasoning). */
export interface UserSequence {
  ids: number[];
  reasoningFrom: number;
  reasoningTo: number;
}

/**
 * Where the closing "Next: …" of the reasoning `text` starts in `ids` (the prompt's `from` tokens, then the reasoning's):
 * the length of the longest common prefix of the tokenised text before "Next:" and the reasoning's ids, so a merge
 * across the boundary can only shorten what the LM term trains, never reach into the hindsight clause.
 */
export function nextClauseStart(tok: Pick<Tokenizer, 'encode'>, ids: readonly number[], from: number, text: string): number {
  const at = text.lastIndexOf('Next:');
  if (at < 0) return ids.length;
  const before = tok.encode(text.slice(0, at));
  let k = 0;
  while (k < before.length && from + k < ids.length && ids[from + k] === before[k]) k++;
  return from + k;
}

function vectors(ctx: BackboneContext, seqs: number[][]): Float32Array {
  return seqs.length ? encodeSequences(ctx.params, ctx.mcfg, seqs, ctx.job.pooling, ctx.cfg.chunk) : new Float32Array(0);
}

/**
 * The sampled-softmax loss on gathered vectors and its gradient w.r.t. them (identical on every rank).
 * users [B, d], cols [C, d]; user i's positive is column i; `mask` (B×C, 0 or −1e9) hides duplicates of the
 * positive and the user's history items.
 */
export function contrastiveLossAndGrads(
  users: Float32Array,
  cols: Float32Array,
  d: number,
  logQ: Float32Array | undefined,
  mask: Float32Array,
  head: RecHeadConfig,
): { loss: number; dUsers: Float32Array; dCols: Float32Array } {
  const B = users.length / d;
  const C = cols.length / d;
  // inside tidy: the initial tensors would otherwise outlive the variables (2 leaked tensors per step)
  const u = tf.tidy(() => tf.variable(tf.tensor2d(users, [B, d]), true));
  const c = tf.tidy(() => tf.variable(tf.tensor2d(cols, [C, d]), true));
  try {
    const { value, grads } = tf.variableGrads(() => {
      let logits = recScores(u, c, head);
      if (logQ) logits = tf.sub(logits, tf.tensor2d(logQ, [1, C]));
      logits = tf.add(logits, tf.tensor2d(mask, [B, C]));
      const targets = tf.tensor1d(Array.from({ length: B }, (_, i) => i), 'int32');
      return crossEntropy(logits as tf.Tensor2D, targets);
    }, [u, c]);
    const out = {
      loss: value.dataSync()[0],
      dUsers: Float32Array.from(grads[u.name].dataSync() as Float32Array),
      dCols: Float32Array.from(grads[c.name].dataSync() as Float32Array),
    };
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    return out;
  } finally {
    u.dispose();
    c.dispose();
  }
}

/**
 * The summed (all-reduced) gradients of step `step`'s loss, by GradCache (see the file comment), with the loss and
 * the LM term. Exported for the equivalence test against one tape over the whole batch.
 */
/** What step `step` trains on (identical on every rank): users, their sequences, the columns, mask and correction. */
export interface StepBatch {
  users: Sample[];
  /** user sequences (last token = read-out) and where their reasoning starts (−1 = none) */
  sequences: UserSequence[];
  /** column item ids: the B targets (user i's positive is column i), then the sampled items */
  columns: number[];
  /** [B×C] 0 or −1e9: duplicates of a user's positive and its history items are not negatives */
  mask: Float32Array;
  /** log q per column, when backbone.logQ */
  logQ?: Float32Array;
  /** reasoning tokens over the whole batch (the LM term is their mean) */
  reasoningTokens: number;
}

export function stepBatch(ctx: BackboneContext, step: number): StepBatch {
  const { cfg, ds } = ctx;
  const train = ds.samples.train;
  const users = epochBatch(train.length, cfg.usersPerStep, step, cfg.seed).map((i) => train[i]);
  const rng = makeRng(hashSeed(cfg.seed, 'backbone-negatives', step));
  const N = ds.items.length - 1;
  const columns = users.map((s) => s.target.item);
  for (let j = 0; j < cfg.negatives; j++) columns.push(1 + rng.int(N));
  const C = columns.length;
  const sequences = users.map((s, j) => userSequence(ctx, s, step, j));
  let reasoningTokens = 0;
  for (const u of sequences) if (u.reasoningFrom >= 0) reasoningTokens += u.reasoningTo - u.reasoningFrom;
  const mask = new Float32Array(users.length * C);
  users.forEach((s, i) => {
    const hist = new Set(s.history.map((h) => h.item));
    for (let j = 0; j < C; j++) if (j !== i && (columns[j] === s.target.item || hist.has(columns[j]))) mask[i * C + j] = -1e9;
  });
  const logQ = cfg.logQ ? Float32Array.from(columns, (id) => ctx.logQ[id]) : undefined;
  return { users, sequences, columns, mask, logQ, reasoningTokens };
}

/**
 * The summed (all-reduced) gradients of step `step`'s loss, by GradCache (see the file comment), with the loss and
 * the LM term. Exported for the equivalence test against one tape over the whole batch.
 */
export function stepGradients(ctx: BackboneContext, step: number): { loss: number; lmLoss: number; grads: Record<string, tf.Tensor> } {
  const { cfg, comm } = ctx;
  const d = ctx.mcfg.dModel;
  // every rank builds the whole batch (cheap, cached prompts), so token counts are global without a message
  const sb = stepBatch(ctx, step);
  const users = sb.sequences;
  const colItems = sb.columns;
  const B = users.length;
  const C = colItems.length;
  const reasoningTokens = sb.reasoningTokens;
  const [ua, ub] = shardRange(B, comm.rank, comm.world);
  const [ca, cb] = shardRange(C, comm.rank, comm.world);
  // 1. vectors without gradient, gathered
  const U = gatherAll(comm, vectors(ctx, users.slice(ua, ub).map((u) => u.ids)));
  const I = gatherAll(comm, vectors(ctx, colItems.slice(ca, cb).map((i) => ctx.itemSeqs[i])));
  // 2. loss and its gradient w.r.t. the vectors
  const { loss, dUsers, dCols } = contrastiveLossAndGrads(U, I, d, sb.logQ, sb.mask, ctx.job.head);
  // 3. chunks with gradient: ⟨vector, ∂loss/∂vector⟩ (+ the LM loss on reasoning tokens for user chunks)
  const acc: Record<string, tf.Tensor> = {};
  let lmSum = 0;
  const backward = (seqs: number[][], grad: Float32Array, lmFrom?: number[], lmTo?: number[]) =>
    backpropVectors(ctx.params, seqs.length, cfg.chunk, grad, (c0, c1) => {
      const part = seqs.slice(c0, c1);
      const bt = padBatch(part, 'right');
      const hidden = forward(ctx.params, ctx.mcfg, bt);
      const vecs = readOut(hidden, bt, ctx.job.pooling);
      const from = lmFrom?.slice(c0, c1);
      const to = lmTo?.slice(c0, c1);
      if (!from || cfg.lmWeight <= 0 || reasoningTokens === 0) return { vecs };
      // next-token loss on the reasoning (positions from−1..to−2 predict tokens from..to−1; with to = len the final
      // `<answer>` is predicted, the token after it never is; 'target-readout' stops before "Next:")
      const rows: number[] = [];
      const next: number[] = [];
      part.forEach((q, b) => {
        if (from[b] < 0) return;
        for (let t = from[b] - 1; t < to![b] - 1; t++) {
          rows.push(b * bt.T + t);
          next.push(q[t + 1]);
        }
      });
      if (!rows.length) return { vecs };
      const h2 = tf.gather(tf.reshape(hidden, [bt.B * bt.T, d]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
      const ce = crossEntropy(lmLogits(ctx.params, h2), tf.tensor1d(next, 'int32'));
      const lm = tf.mul(ce, rows.length / reasoningTokens) as tf.Scalar; // global token mean over ranks
      lmSum += lm.dataSync()[0];
      return { vecs, extra: tf.mul(lm, cfg.lmWeight) as tf.Scalar };
    }, acc);
  const mine = users.slice(ua, ub);
  backward(mine.map((u) => u.ids), dUsers.subarray(ua * d, ub * d), mine.map((u) => u.reasoningFrom), mine.map((u) => u.reasoningTo));
  backward(colItems.slice(ca, cb).map((i) => ctx.itemSeqs[i]), dCols.subarray(ca * d, cb * d));
  const lmBuf = new Float32Array([lmSum]);
  comm.allReduceSum(lmBuf);
  return { loss, lmLoss: lmBuf[0], grads: allReduceGrads(acc, paramNames(ctx.mcfg), comm) };
}

function trainStep(ctx: BackboneContext, step: number, opt: ReturnType<typeof initAdamW>) {
  const { loss, lmLoss, grads } = stepGradients(ctx, step);
  const lr = lrAt(step, backboneSchedule(ctx.cfg, ctx.ds.samples.train.length).steps, ctx.cfg.optimizer.lr, ctx.cfg.schedule);
  const norm = adamWStep(ctx.params, grads, opt, ctx.cfg.optimizer, lr);
  Object.values(grads).forEach((g) => g.dispose());
  if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
    throw new R2ecError(`backbone: loss or gradient is not finite at step ${step} (loss ${loss}); the last checkpoint is kept`);
  }
  return { loss, lmLoss, gradNorm: norm, lr };
}

/** The model's own greedy reasoning for `samples` (as R²ec evaluates), in batches of `chunk` prompts. */
function greedyReasoning(ctx: BackboneContext, samples: Sample[]): string[] {
  const prompts = samples.map((s) => prompt(ctx, s));
  return greedyTexts(ctx.params, ctx.mcfg, ctx.tok, prompts, ctx.job.reasoningTokens ?? GREEDY.maxNewTokens, ctx.cfg.chunk).texts;
}

/**
 * The reasoning before the valid read-out of `samples` (the `offset`-th valid sample first): the history's template
 * (reasoningAim 'history'), or the model's greedy reasoning (the target aims: the template would name the target).
 */
export function validReasoningTexts(ctx: BackboneContext, samples: Sample[], offset: number): string[] {
  if (hindsight(ctx.cfg.reasoningAim)) return greedyReasoning(ctx, samples);
  return samples.map((s, j) => reasoningText(ctx, s, hashSeed(ctx.cfg.seed, 'eval-text', offset + j)));
}

/**
 * The templated reasoning of `samples` whose "Next:" names the target (the same seeds as the history aim's valid
 * texts, so with that aim only the "Next:" clause differs): the read-out's input when the guess is right.
 */
export function hindsightReasoningTexts(ctx: BackboneContext, samples: Sample[], offset: number): string[] {
  const aimed: BackboneConfig = { ...ctx.cfg, reasoningAim: 'target', hindsightShare: 1 };
  return samples.map((s, j) => trainingReasoning(ctx.ds, aimed, s, ctx.job.sequences.history, hashSeed(ctx.cfg.seed, 'eval-text', offset + j)));
}

/**
 * Valid NDCG@10 of the read-out right after the prompt, after a reasoning (the template from the history, or the
 * model's greedy reasoning with the target aims) and after the hindsight template, plus the cosines.
 */
async function evaluateBackbone(ctx: BackboneContext) {
  const { comm, ds } = ctx;
  const d = ctx.mcfg.dModel;
  const table = createItemTable(ds.items.length, d);
  refreshAll(table, (ids) => vectors(ctx, ids.map((i) => ctx.itemSeqs[i])), comm);
  const samples = ctx.job.validIdx.map((i) => ds.samples.valid[i]);
  const [a, b] = shardRange(samples.length, comm.rank, comm.world);
  const mine = samples.slice(a, b);
  const direct = gatherAll(comm, vectors(ctx, mine.map((s) => directIds(ctx.tok, prompt(ctx, s), ctx.job.sequences))));
  const texts = validReasoningTexts(ctx, mine, a);
  const withReasoning = gatherAll(comm, vectors(ctx, mine.map((s, j) => scoringIds(ctx.tok, prompt(ctx, s), texts[j], ctx.job.sequences, ctx.mcfg.maxSeqLen))));
  const hindsightTexts = hindsightReasoningTexts(ctx, mine, a);
  const withHindsight = gatherAll(comm, vectors(ctx, mine.map((s, j) => scoringIds(ctx.tok, prompt(ctx, s), hindsightTexts[j], ctx.job.sequences, ctx.mcfg.maxSeqLen))));
  const tableT = tf.tensor2d(table.rows, [table.numRows, d]);
  const ndcg = async (vecs: Float32Array) => {
    const pos = new Map(samples.map((s, i) => [s, i]));
    const r = await evaluateRanking(ds, samples, async (batch) =>
      tf.tidy(() => {
        const rows = batch.map((s) => pos.get(s)!);
        const u = tf.gather(tf.tensor2d(vecs, [samples.length, d]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
        return recScores(u, tableT, ctx.job.head);
      }), { ks: [10], batchSize: 128 });
    return r.metrics['NDCG@10'];
  };
  try {
    const c = readoutCosines(direct, table.rows.subarray(d), d); // real items only (row 0 is the pad)
    return { direct: await ndcg(direct), reasoning: await ndcg(withReasoning), hindsight: await ndcg(withHindsight), cos: [c.userUser, c.itemItem, c.userItem] as [number, number, number] };
  } finally {
    tableT.dispose();
  }
}

function save(ctx: BackboneContext, dir: string, opt: ReturnType<typeof initAdamW> | undefined, state: Record<string, unknown>): void {
  if (ctx.comm.rank !== 0) return;
  saveCheckpoint(dir, { config: ctx.mcfg, params: paramsToArrays(ctx.params), tokenizer: ctx.job.tokenizer, optimizer: opt ? optimizerToArrays(opt) : undefined, state });
}

/** A rank's context: weights (from the warm-up checkpoint, else a seeded init), tokenizer, item sequences. */
export function makeBackboneContext(job: BackboneJob, comm: Collective): BackboneContext {
  const params = initParams(job.model, job.config.seed);
  if (job.initCheckpoint) assignParams(params, loadCheckpoint(job.initCheckpoint).params);
  const tok = tokenizerFromJSON(job.tokenizer);
  return {
    job, cfg: job.config, mcfg: job.model, ds: job.dataset, tok, params, comm,
    itemSeqs: itemSequences(tok, job.dataset, job.sequences),
    promptCache: new Map(),
    logQ: samplingLogQ(job.dataset, job.config.usersPerStep, job.config.negatives),
  };
}

/** SPMD body: runs on every rank. */
export async function backboneRank(job: BackboneJob, comm: Collective, hooks?: BackboneHooks): Promise<BackboneResult> {
  await initBackend({ log: false });
  const t0 = performance.now();
  const cfg = job.config;
  const mcfg = job.model;
  const ctx = makeBackboneContext(job, comm);
  const params = ctx.params;
  const opt = initAdamW(params);
  const curves: BackboneCurves = {
    step: [], loss: [], lmLoss: [], gradNorm: [], lr: [], evalStep: [], samplesSeen: [],
    validNdcg10Direct: [], validNdcg10Reasoning: [], validNdcg10Hindsight: [], cosUserUser: [], cosItemItem: [], cosUserItem: [],
  };
  const latest = path.join(job.workDir, 'latest');
  const best = path.join(job.workDir, 'best');
  let start = 0;
  let bestMetric = -Infinity;
  let bestStep = 0;
  if (hasCheckpoint(latest)) {
    const ck = loadCheckpoint(latest);
    assignParams(params, ck.params);
    if (ck.optimizer) restoreOptimizer(opt, ck.optimizer);
    start = Number(ck.state?.step ?? 0);
    bestMetric = Number(ck.state?.bestMetric ?? -Infinity);
    bestStep = Number(ck.state?.bestStep ?? 0);
    Object.assign(curves, ck.state?.curves ?? {});
    // a run begun before the hindsight read-out was recorded: NaN for its earlier evaluations
    if (!Array.isArray(curves.validNdcg10Hindsight)) curves.validNdcg10Hindsight = curves.evalStep.map(() => NaN);
  }
  const evaluate = async (step: number) => {
    if (job.validIdx.length) {
      const e = await evaluateBackbone(ctx);
      curves.evalStep.push(step);
      curves.samplesSeen.push(step * cfg.usersPerStep);
      curves.validNdcg10Direct.push(e.direct);
      curves.validNdcg10Reasoning.push(e.reasoning);
      curves.validNdcg10Hindsight.push(e.hindsight);
      curves.cosUserUser.push(e.cos[0]);
      curves.cosItemItem.push(e.cos[1]);
      curves.cosUserItem.push(e.cos[2]);
      if (comm.rank === 0) hooks?.onEval?.({ step, ...e });
      // selected on both read-outs: R²ec starts after a reasoning, w/o reasoning right after the prompt
      const metric = (e.direct + e.reasoning) / 2;
      if (metric > bestMetric) {
        bestMetric = metric;
        bestStep = step;
        save(ctx, best, undefined, { kind: 'backbone', step, metric });
      }
    } else if (step === end) {
      bestStep = step; // nothing to select on: the last weights
      save(ctx, best, undefined, { kind: 'backbone', step });
    }
    save(ctx, latest, opt, { kind: 'backbone', step, bestMetric, bestStep, curves, train: cfg });
    comm.barrier();
  };
  const { steps, evalEvery } = backboneSchedule(cfg, job.dataset.samples.train.length);
  const end = Math.min(steps, job.stopAfter ?? steps);
  if (start === 0) await evaluate(0);
  const tTrain = performance.now();
  for (let step = start; step < end; step++) {
    const st = trainStep(ctx, step, opt);
    curves.step.push(step + 1);
    curves.loss.push(st.loss);
    curves.lmLoss.push(st.lmLoss);
    curves.gradNorm.push(st.gradNorm);
    curves.lr.push(st.lr);
    const sps = ((step + 1 - start) * cfg.usersPerStep) / ((performance.now() - tTrain) / 1000);
    if (comm.rank === 0) hooks?.onStep?.({ step: step + 1, steps, loss: st.loss, lmLoss: st.lmLoss, samplesPerSec: sps, tensors: tf.memory().numTensors });
    if ((step + 1) % evalEvery === 0 || step + 1 === steps) await evaluate(step + 1);
  }
  disposeAdamW(opt);
  Object.values(params).forEach((p) => p.dispose());
  const secs = (performance.now() - tTrain) / 1000;
  return {
    curves, bestStep, bestMetric, stepsRun: end - start, world: comm.world,
    samplesPerSec: ((end - start) * cfg.usersPerStep) / Math.max(secs, 1e-9), seconds: (performance.now() - t0) / 1000,
  };
}

/** Train (or resume) the backbone on `world` ranks; the best checkpoint is `${workDir}/best`. */
export function trainBackbone(job: BackboneJob, world: number, hooks?: BackboneHooks): Promise<BackboneResult> {
  validateBackboneConfig(job.config);
  return runSpmd<BackboneResult>({ module: path.join(__dirname, 'backbone.ts'), fn: 'backboneRank', job }, backboneRank as never, Math.min(world, job.config.usersPerStep), hooks);
}

// RecPO: reinforcement learning of R²ec (method spec §3–§5), written SPMD-style: every rank runs `recpoRank` on its
// shard of users, exactly as the reference code runs on several GPUs. Ranks exchange gradients (summed), the
// detached in-batch item and user vectors (as the code's "gather negatives across GPUs"), and item-table rows.
//
// One step (spec §4, Alg. 1):
//   1. rollouts: G reasoning texts per user, sampled until `<answer>`;
//   2. reward pass: user vector after the reasoning, scored against the cached item table (history masked),
//      R = β·R_c + (1−β)·R_d;
//   3. group advantages (GRPO or RLOO); 4. best-trajectory mask (top `relabelTopK` advantages);
//   5. Eq. 8 as the paper intends (§7.1): token-level clipped policy-gradient terms for every trajectory plus the
//      in-batch softmax item term for the best trajectory; the batch's target items are encoded with gradient and
//      their detached vectors overwrite their item-table rows. A `reference-code` objective reproduces the code's
//      broadcasting bug for comparison.
// No dropout, so the reward pass and the policy forward are the same computation: we run it once, under the tape.
import fs from 'node:fs';
import path from 'node:path';
import { tf, initBackend, backendName } from '../model/backend';
import type { ModelConfig } from '../model/config';
import { forward, lmLogits, padBatch, paramNames, type Params, type TokenBatch } from '../model/decoder';
import { tokenLogProbs } from '../model/losses';
import { generateText, GREEDY, type SamplingConfig } from '../model/generate';
import { readOut, encodeSequences, type Pooling } from '../model/readout';
import { recScores, prepareVectors, type RecHeadConfig } from '../model/recHead';
import {
  loadCheckpoint, hasCheckpoint, saveCheckpoint, paramsToArrays, paramsFromArrays, assignParams,
  optimizerToArrays, restoreOptimizer, type NamedArrays,
} from '../model/checkpoint';
import { loadDataset, type LoadOptions } from '../data/registry';
import type { Dataset, Sample } from '../data/types';
import { tokenizerFromJSON, type Tokenizer } from '../text/bpe';
import { encodeChat, completeReasoning, ASSISTANT_SPECIALS } from '../text/chat';
import { userPrompt, itemPrompt, ITEM_ASSISTANT_PREFILL } from '../text/prompts';
import { adamWStep, initAdamW, disposeAdamW, type AdamWConfig } from './optimizer';
import { lrAt, type LrSchedule } from './schedule';
import { allReduceGrads, paramGrads } from './grads';
import { runSpmd, shardRange, type Collective } from './parallel';
import { fusedReward, type RewardConfig } from './rewards';
import { groupAdvantages, bestTrajectoryMask, type AdvantageKind } from './advantages';
import { createItemTable, refreshAll, writeRows, type ItemTable } from './itemTable';
import { evaluateRanking, type EvalResult } from '../eval/evaluate';
import { hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { R2ecError } from '../util/errors';

export type RecVariant = 'r2ec' | 'no-reasoning' | 'cls-head';

export interface RecPOConfig {
  variant: RecVariant;
  head: RecHeadConfig;
  pooling: Pooling;
  groupSize: number;
  /** rollout sampling (temperature, top-k, top-p, max new tokens) */
  rollout: SamplingConfig;
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
  /** mask duplicate in-batch items of the target in the item term (the code does not, spec §7.7) */
  dedupeInBatch: boolean;
  optimizer: AdamWConfig;
  schedule: LrSchedule;
  steps: number;
  /** evaluate on valid (and save) every n steps, and at step 0 */
  evalEvery: number;
  /** stop after this many evaluations without improvement of valid NDCG@10 (0 = never) */
  patience: number;
  /** extra full item-table refresh every n steps (0 = only at evaluations, as the code) */
  refreshEvery: number;
  /** history lines shown in the user prompt (spec: 20) */
  promptHistory: number;
  maxPromptTokens: number;
  maxItemTokens: number;
  /** samples per generation/encoding batch at evaluation */
  evalBatch: number;
  seed: number;
}

export interface RecJob {
  method: string;
  dataset: { name: string; options: LoadOptions };
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

export interface RecCurves {
  step: number[];
  rewardMean: number[];
  rewardStd: number[];
  ndcgReward: number[];
  reasoningLength: number[];
  lossTok: number[];
  lossRec: number[];
  kl: number[];
  gradNorm: number[];
  lr: number[];
  evalStep: number[];
  validNdcg10: number[];
  validHr10: number[];
  /** mean fused reward of the greedy reasoning on the valid samples (spec §4 reward, against the refreshed table) */
  validReward: number[];
}

export interface RecResult {
  method: string;
  valid: EvalResult;
  test: EvalResult;
  curves: RecCurves;
  bestStep: number;
  stepsRun: number;
  /** batched test throughput: evaluated samples per second (reasoning + scoring + ranking, all ranks) */
  throughput: { samplesPerSec: number; batchSize: number };
  /** test reasoning texts (first keepTexts), with their sample index */
  texts: { sampleIndex: number; user: number; text: string; tokens: number }[];
  meanReasoningTokens: number;
  latency?: { perRequestSec: number[]; perRequestTokens: number[]; meanSec: number; medianSec: number; meanReasoningTokens: number };
  durationsSec: Record<string, number>;
  world: number;
  backend: string;
}

export interface RecHooks {
  onStep?: (info: { step: number; steps: number; reward: number; length: number; loss: number }) => void;
  onEval?: (info: { step: number; ndcg10: number; hr10: number }) => void;
  onPhase?: (phase: string) => void;
}

// ---------------------------------------------------------------------------------------------------------------
// Per-rank context

interface Ctx {
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
}

const d0 = () => performance.now();

function userContent(ctx: Ctx, s: Sample): string {
  const h = ctx.cfg.promptHistory;
  return userPrompt(ctx.ds, h > 0 && s.history.length > h ? { ...s, history: s.history.slice(-h) } : s);
}

/** Generation prompt ids of a sample (history lines dropped from the middle if it does not fit). */
function promptIds(ctx: Ctx, s: Sample): number[] {
  let ids = ctx.promptCache.get(s);
  if (!ids) {
    ids = encodeChat(ctx.tok, userContent(ctx, s), undefined, { maxLen: ctx.cfg.maxPromptTokens, truncate: 'middle' }).ids;
    ctx.promptCache.set(s, ids);
  }
  return ids;
}

/** The pooling study's 'token' read-out appends `<|emb|>` to every user and item sequence (paper Table 3). */
function withReadoutToken(ctx: { cfg: RecPOConfig; tok: Tokenizer }, ids: number[]): number[] {
  return ctx.cfg.pooling === 'token' ? ids.concat(ctx.tok.special.emb) : ids;
}

/** Item sequences: item prompt + prefilled `<answer>` (spec §2); row 0 (pad) gets an empty placeholder. */
function buildItemSeqs(ctx: { cfg: RecPOConfig; tok: Tokenizer; ds: Dataset }): number[][] {
  const seqs: number[][] = [[]];
  const maxLen = ctx.cfg.maxItemTokens - (ctx.cfg.pooling === 'token' ? 1 : 0);
  for (let id = 1; id < ctx.ds.items.length; id++) {
    let text = itemPrompt(ctx.ds, ctx.ds.items[id]);
    let ids: number[] | undefined;
    // 'middle' drops whole attribute lines; a prompt whose head (instruction + title) alone is too long is cut
    // at the end of its text, keeping the chat markers and the prefilled <answer> (the read-out token)
    while (!ids) {
      try {
        ids = encodeChat(ctx.tok, text, ITEM_ASSISTANT_PREFILL, { maxLen, truncate: 'middle' }).ids;
      } catch (e) {
        if (!(e instanceof R2ecError) || text.length < 16) throw e;
        text = text.slice(0, Math.floor(text.length * 0.8));
      }
    }
    seqs.push(withReadoutToken(ctx, ids));
  }
  return seqs;
}

/** Scoring sequence of a reasoning: prompt ids + re-tokenised `reasoning…<answer>` (spec §2 "Reasoning completion"). */
function scoringIds(ctx: Ctx, prompt: number[], reasoningText: string): number[] {
  const tail = ctx.tok.encode(completeReasoning(reasoningText), { allowSpecial: ASSISTANT_SPECIALS });
  const room = ctx.mcfg.maxSeqLen - prompt.length - (ctx.cfg.pooling === 'token' ? 1 : 0);
  // keep the read-out token: if too long, cut reasoning tokens before the final <answer>
  const body = tail.length > room ? tail.slice(0, room - 1).concat(tail[tail.length - 1]) : tail;
  return withReadoutToken(ctx, prompt.concat(body));
}

/** User sequence of the no-reasoning variant: `<answer>` right after the prompt (spec §7.11). */
function directIds(ctx: Ctx, prompt: number[]): number[] {
  return withReadoutToken(ctx, prompt.concat(ctx.tok.encode(ITEM_ASSISTANT_PREFILL, { allowSpecial: ASSISTANT_SPECIALS })));
}

// ---------------------------------------------------------------------------------------------------------------
// Item table

function tableTensor(ctx: Ctx): tf.Tensor2D {
  return tf.tensor2d(ctx.table.rows, [ctx.table.numRows, ctx.table.d]);
}

function refreshItemTable(ctx: Ctx): void {
  if (ctx.cfg.variant === 'cls-head') return;
  refreshAll(ctx.table, (ids) => encodeSequences(ctx.params, ctx.mcfg, ids.map((i) => ctx.itemSeqs[i]), ctx.cfg.pooling, 32), ctx.comm);
}

// ---------------------------------------------------------------------------------------------------------------
// Scoring helpers

/** Scores over the whole catalog [B, N+1] for user vectors [B, d] (cls-head: its classifier). */
function catalogScores(ctx: Ctx, users: tf.Tensor2D): tf.Tensor2D {
  if (ctx.cfg.variant === 'cls-head') {
    return tf.tidy(() => tf.add(tf.matMul(users, ctx.params.cls_head, false, true), ctx.params.cls_bias) as tf.Tensor2D);
  }
  return tf.tidy(() => recScores(users, tableTensor(ctx), ctx.cfg.head));
}

// ---------------------------------------------------------------------------------------------------------------
// One training step

interface StepStats {
  rewardSum: number;
  rewardSqSum: number;
  ndcgSum: number;
  lenSum: number;
  n: number;
  lossTok: number;
  lossRec: number;
  kl: number;
}

function globalBatch(ctx: Ctx, step: number): Sample[] {
  const train = ctx.ds.samples.train;
  const B = ctx.cfg.usersPerStep;
  const out: Sample[] = [];
  for (let j = 0; j < B; j++) {
    const g = step * B + j;
    const epoch = Math.floor(g / train.length);
    out.push(train[epochOrder(ctx, epoch)[g % train.length]]);
  }
  return out;
}

const orderCache = new Map<string, number[]>();
function epochOrder(ctx: Ctx, epoch: number): number[] {
  const key = `${ctx.cfg.seed}:${epoch}:${ctx.ds.samples.train.length}`;
  let o = orderCache.get(key);
  if (!o) {
    if (orderCache.size > 4) orderCache.clear();
    o = shuffleInPlace(Array.from({ length: ctx.ds.samples.train.length }, (_, i) => i), makeRng(hashSeed(ctx.cfg.seed, 'rec-epoch', epoch)));
    orderCache.set(key, o);
  }
  return o;
}

/** In-batch item term inputs: all ranks' target vectors (local ones with gradient come first in `local`). */
interface InBatch {
  localItems: number[];
  /** detached vectors of every rank's targets, rank order, and their item ids */
  allVecs: Float32Array;
  allItems: number[];
  /** offset of this rank's block in allItems */
  offset: number;
}

function exchangeTargets(ctx: Ctx, localItems: number[], localVecs: Float32Array): InBatch {
  const vecParts = ctx.comm.allGather(localVecs);
  const idParts = ctx.comm.allGather(Float32Array.from(localItems));
  const allItems: number[] = [];
  let offset = 0;
  idParts.forEach((p, r) => {
    if (r === ctx.comm.rank) offset = allItems.length;
    allItems.push(...Array.from(p));
  });
  const total = vecParts.reduce((a, p) => a + p.length, 0);
  const allVecs = new Float32Array(total);
  let o = 0;
  for (const p of vecParts) {
    allVecs.set(p, o);
    o += p.length;
  }
  return { localItems, allVecs, allItems, offset };
}

/**
 * Log-probability of each user's own target under the in-batch softmax (Eq. 7): columns = all batch targets; the
 * local block is the differentiable `localItemVecs`, other ranks' blocks are constants. Duplicates of the target
 * are masked when dedupeInBatch (spec §7.7).
 */
function inBatchLogProbs(ctx: Ctx, users: tf.Tensor2D, userTargets: number[], userCols: number[], localItemVecs: tf.Tensor2D, ib: InBatch): tf.Tensor1D {
  const d = ctx.mcfg.dModel;
  const M = ib.allItems.length;
  const before = ib.offset;
  const after = M - before - ib.localItems.length;
  const parts: tf.Tensor2D[] = [];
  if (before > 0) parts.push(tf.tensor2d(ib.allVecs.subarray(0, before * d), [before, d]));
  parts.push(localItemVecs);
  if (after > 0) parts.push(tf.tensor2d(ib.allVecs.subarray((before + ib.localItems.length) * d), [after, d]));
  const items = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D);
  let logits = recScores(users, items, ctx.cfg.head); // [n, M]
  const n = userTargets.length;
  if (ctx.cfg.dedupeInBatch) {
    const mask = new Float32Array(n * M);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < M; j++) if (j !== userCols[i] && ib.allItems[j] === userTargets[i]) mask[i * M + j] = -1e9;
    }
    logits = tf.add(logits, tf.tensor2d(mask, [n, M]));
  }
  return tokenLogProbs(logits, tf.tensor1d(userCols.map((c) => c), 'int32'));
}

/** Differentiable read-out vectors for a list of token sequences (right padded). */
function vectorsOf(ctx: Ctx, seqs: number[][]): { vecs: tf.Tensor2D; hidden: tf.Tensor3D; batch: TokenBatch } {
  const batch = padBatch(seqs, 'right');
  const hidden = forward(ctx.params, ctx.mcfg, batch);
  return { vecs: readOut(hidden, batch, ctx.cfg.pooling), hidden, batch };
}

/** PPO's clipped term min(r·A, clip(r, 1−ε_low, 1+ε_high)·A), elementwise (spec §4.5 ℓ_ε). */
export function ppoTerm(ratio: tf.Tensor, adv: tf.Tensor, lo: number, hi: number): tf.Tensor {
  return tf.minimum(tf.mul(ratio, adv), tf.mul(tf.clipByValue(ratio, 1 - lo, 1 + hi), adv));
}

/**
 * Per-trajectory weights of the item (recommendation-action) term, laid out [u0g0..u0g(G−1), u1g0, ...]:
 *  - 'eq8' (paper Eq. 8): A_i·M_i/G for the best trajectory of each group, 0 for the others;
 *  - 'reference-code' (the code's broadcasting bug, spec §4.5): mean_j(A_j·M_j)/G for every trajectory of the group.
 * Divided by the number of groups in the global batch, so the loss is a mean over users.
 */
export function itemTermWeights(adv: ArrayLike<number>, best: ArrayLike<number>, G: number, nGroups: number, objective: RecPOConfig['objective']): number[] {
  return Array.from({ length: adv.length }, (_, i) => {
    if (objective === 'eq8') return (best[i] ? adv[i] : 0) / (G * nGroups);
    const g = Math.floor(i / G);
    let m = 0;
    for (let j = 0; j < G; j++) m += best[g * G + j] ? adv[g * G + j] : 0;
    return m / G / (G * nGroups);
  });
}

/**
 * Per-token weights of the token term for tokens owned by trajectories `owner`:
 *  - 'eq8': A_i / (nGroups · tokens of the group) — a per-group token mean, as the code's 1/Σmask per chunk;
 *  - 'reference-code': mean_j(A_j) of the group instead of A_i (≈ 0 for GRPO, spec §4.5).
 */
export function tokenTermWeights(owner: readonly number[], adv: ArrayLike<number>, G: number, nGroups: number, objective: RecPOConfig['objective']): number[] {
  const tokensPerGroup = new Map<number, number>();
  owner.forEach((i) => tokensPerGroup.set(Math.floor(i / G), (tokensPerGroup.get(Math.floor(i / G)) ?? 0) + 1));
  return owner.map((i) => {
    const g = Math.floor(i / G);
    let a = adv[i];
    if (objective === 'reference-code') {
      a = 0;
      for (let j = 0; j < G; j++) a += adv[g * G + j];
      a /= G;
    }
    return a / (nGroups * tokensPerGroup.get(g)!);
  });
}

/** Sum gradient dictionaries into `acc` (in place), disposing the added ones. */
function accumulate(acc: Record<string, tf.Tensor>, grads: Record<string, tf.Tensor>): void {
  for (const [k, g] of Object.entries(grads)) {
    if (acc[k]) {
      const sum = tf.add(acc[k], g);
      acc[k].dispose();
      g.dispose();
      acc[k] = sum;
    } else acc[k] = g;
  }
}

/** All-reduce the accumulated gradients, one AdamW step, NaN guard. */
function applyUpdate(ctx: Ctx, acc: Record<string, tf.Tensor>, opt: ReturnType<typeof initAdamW>, lr: number, step: number, what: string): number {
  const summed = allReduceGrads(acc, ctx.names, ctx.comm);
  const norm = adamWStep(ctx.params, summed, opt, ctx.cfg.optimizer, lr);
  Object.values(summed).forEach((g) => g.dispose());
  if (!Number.isFinite(norm)) {
    throw new R2ecError(`${what}: loss or gradient is not finite at step ${step}; the last checkpoint is kept`);
  }
  return norm;
}

/**
 * R²ec / cls-head step on this rank's users. The trajectories are processed one group (one user's G rollouts) at a
 * time, gradients adding up over the groups before one optimizer step — the reference code's mini-batches of one
 * group (spec §4.5), which also bounds memory. Each chunk re-encodes this rank's batch targets with gradient (4(b)).
 */
function recpoStep(ctx: Ctx, step: number, opt: ReturnType<typeof initAdamW>): StepStats & { gradNorm: number; lr: number } {
  const { cfg, comm } = ctx;
  const G = cfg.groupSize;
  const batch = globalBatch(ctx, step);
  const [a, b] = shardRange(batch.length, comm.rank, comm.world);
  const mine = batch.slice(a, b);
  const nGroupsGlobal = batch.length;
  const d = ctx.mcfg.dModel;
  // 1. rollouts (left-padded generation, G per user)
  const rng = makeRng(hashSeed(cfg.seed, 'rollout', step, comm.rank));
  const prompts = mine.flatMap((s) => Array.from({ length: G }, () => promptIds(ctx, s)));
  const gen = generateText(ctx.params, ctx.mcfg, ctx.tok, prompts, cfg.rollout, rng);
  const seqs = prompts.map((p, i) => scoringIds(ctx, p, gen.texts[i]));
  const targets = mine.map((s) => s.target.item);
  const stats: StepStats = { rewardSum: 0, rewardSqSum: 0, ndcgSum: 0, lenSum: 0, n: 0, lossTok: 0, lossRec: 0, kl: 0 };
  gen.tokens.forEach((t) => (stats.lenSum += t.length));
  // In-batch items (Eq. 7): every rank's targets, detached, exchanged once. Their item-table rows are overwritten
  // after the reward pass, as in the reference code (spec §4 step 5(c)); refreshing them before the reward (the order
  // of Algorithm 1, §7.7) lets the fresh target rows stand out against the stale rest and inflates R_d.
  let ib: InBatch | undefined;
  if (cfg.variant !== 'cls-head') {
    ib = exchangeTargets(ctx, targets, encodeSequences(ctx.params, ctx.mcfg, targets.map((t) => ctx.itemSeqs[t]), cfg.pooling, 32));
  }
  const readoutExtra = cfg.pooling === 'token' ? 1 : 0; // the appended <|emb|> is not an action
  const lr = lrAt(step, cfg.steps, cfg.optimizer.lr, cfg.schedule);
  const adv = new Float64Array(seqs.length);
  const best = new Uint8Array(seqs.length);
  const oldLogp: Float32Array[] = [];
  const oldItemLogp: Float32Array[] = [];
  let lastNorm = 0;
  for (let epoch = 0; epoch < cfg.updateEpochs; epoch++) {
    const acc: Record<string, tf.Tensor> = {};
    for (let u = 0; u < mine.length; u++) {
      const s = mine[u];
      const rowsIdx = Array.from({ length: G }, (_, j) => u * G + j);
      const chunk = rowsIdx.map((i) => seqs[i]);
      const T = Math.max(...chunk.map((q) => q.length));
      // completion tokens of the chunk: predicted from position t−1
      const rows: number[] = [];
      const acts: number[] = [];
      const owner: number[] = [];
      chunk.forEach((q, j) => {
        for (let t = prompts[u * G + j].length; t < q.length - readoutExtra; t++) {
          rows.push(j * T + t - 1);
          acts.push(q[t]);
          owner.push(j);
        }
      });
      let refLogp: Float32Array | undefined;
      if (cfg.klCoef > 0 && ctx.reference) {
        const lp = tf.tidy(() => {
          const bt = padBatch(chunk, 'right', 0, T);
          const h = tf.reshape(forward(ctx.reference!, ctx.mcfg, bt), [G * T, d]) as tf.Tensor2D;
          const lg = lmLogits(ctx.reference!, tf.gather(h, tf.tensor1d(rows, 'int32')) as tf.Tensor2D);
          return tokenLogProbs(lg, tf.tensor1d(acts, 'int32'));
        });
        refLogp = Float32Array.from(lp.dataSync() as Float32Array);
        lp.dispose();
      }
      let partTok = 0;
      let partRec = 0;
      let partKl = 0;
      const { value, grads } = paramGrads(ctx.params, () => {
        const bt = padBatch(chunk, 'right', 0, T);
        const hidden = forward(ctx.params, ctx.mcfg, bt);
        const users = readOut(hidden, bt, cfg.pooling); // [G, d]
        if (epoch === 0) {
          // 2. reward pass (same forward, no dropout) against the cached table; 3–4. advantages, best trajectory
          const scores = catalogScores(ctx, users); // read as values only: no gradient path to the loss
          const sv = scores.dataSync() as Float32Array;
          scores.dispose();
          const N1 = ctx.ds.items.length;
          const rewards = new Float64Array(G);
          for (let j = 0; j < G; j++) {
            const r = fusedReward(sv.subarray(j * N1, (j + 1) * N1), s.target.item, s.history.map((h) => h.item), cfg.reward);
            rewards[j] = r.reward;
            stats.rewardSum += r.reward;
            stats.rewardSqSum += r.reward * r.reward;
            stats.ndcgSum += r.rd;
            stats.n++;
          }
          adv.set(groupAdvantages(rewards, G, cfg.advantage), u * G);
          best.set(bestTrajectoryMask(adv.subarray(u * G, (u + 1) * G), G, cfg.relabelTopK), u * G);
        }
        const gAdv = adv.subarray(u * G, (u + 1) * G);
        const gBest = best.subarray(u * G, (u + 1) * G);
        // token term: log π of completion tokens (logits only where needed); per-group token mean (tokenTermWeights)
        const h2 = tf.reshape(hidden, [G * T, d]) as tf.Tensor2D;
        const logits = lmLogits(ctx.params, tf.gather(h2, tf.tensor1d(rows, 'int32')) as tf.Tensor2D);
        const logp = tokenLogProbs(logits, tf.tensor1d(acts, 'int32'));
        if (epoch === 0) oldLogp[u] = Float32Array.from(logp.dataSync() as Float32Array);
        const ratio = tf.exp(tf.sub(logp, tf.tensor1d(oldLogp[u])));
        const tokW = tf.tensor1d(tokenTermWeights(owner, gAdv, G, nGroupsGlobal, cfg.objective));
        const lossTok = (cfg.objective === 'eq8'
          ? tf.neg(tf.sum(ppoTerm(ratio, tokW, cfg.clipLow, cfg.clipHigh))) // weights = A·(positive scale)
          : tf.neg(tf.sum(tf.mul(ratio, tokW)))) as tf.Scalar;
        let loss: tf.Scalar = lossTok;
        if (refLogp) {
          const diff = tf.sub(tf.tensor1d(refLogp), logp);
          const kl = tf.sub(tf.sub(tf.exp(diff), diff), 1); // k3 estimator, ≥ 0
          const w = tf.tensor1d(owner.map(() => 1 / (nGroupsGlobal * owner.length)));
          const klLoss = tf.mul(tf.sum(tf.mul(kl, w)), cfg.klCoef) as tf.Scalar;
          partKl = klLoss.dataSync()[0];
          loss = tf.add(loss, klLoss) as tf.Scalar;
        }
        // item term for the best trajectory (Eq. 8, δ_{i,i*}); see itemTermWeights
        let itemLogp: tf.Tensor1D;
        if (cfg.variant === 'cls-head') {
          const sc = catalogScores(ctx, users);
          const N1 = ctx.ds.items.length;
          const mask = new Float32Array(G * N1);
          for (let j = 0; j < G; j++) {
            mask[j * N1] = -1e9;
            for (const h of s.history) if (h.item !== s.target.item) mask[j * N1 + h.item] = -1e9;
          }
          itemLogp = tokenLogProbs(tf.add(sc, tf.tensor2d(mask, [G, N1])) as tf.Tensor2D, tf.tensor1d(new Array(G).fill(s.target.item), 'int32'));
        } else {
          // 4(b): this rank's targets encoded with gradient; the other ranks' columns are the exchanged constants
          const iv = vectorsOf(ctx, targets.map((t) => ctx.itemSeqs[t])).vecs;
          itemLogp = inBatchLogProbs(ctx, users, new Array(G).fill(s.target.item), new Array(G).fill(ib!.offset + u), iv, ib!);
        }
        if (epoch === 0) oldItemLogp[u] = Float32Array.from(itemLogp.dataSync() as Float32Array);
        const rho = tf.exp(tf.sub(itemLogp, tf.tensor1d(oldItemLogp[u])));
        const recW = tf.tensor1d(itemTermWeights(gAdv, gBest, G, nGroupsGlobal, cfg.objective));
        const lossRec = (cfg.objective === 'eq8'
          ? tf.neg(tf.sum(ppoTerm(rho, recW, cfg.clipLow, cfg.clipHigh)))
          : tf.neg(tf.sum(tf.mul(rho, recW)))) as tf.Scalar;
        partTok = lossTok.dataSync()[0];
        partRec = lossRec.dataSync()[0];
        return tf.add(loss, lossRec) as tf.Scalar;
      });
      value.dispose();
      if (!Number.isFinite(partTok) || !Number.isFinite(partRec)) {
        Object.values(grads).forEach((g) => g.dispose());
        Object.values(acc).forEach((g) => g.dispose());
        throw new R2ecError(`RecPO: loss is not finite at step ${step} (L_tok ${partTok}, L_rec ${partRec}); the last checkpoint is kept`);
      }
      accumulate(acc, grads);
      if (epoch === 0) {
        stats.lossTok += partTok;
        stats.lossRec += partRec;
        stats.kl += partKl;
      }
    }
    if (epoch === 0 && ib) writeRows(ctx.table, ib.allItems, ib.allVecs); // 5(c) partial refresh, after the rewards
    lastNorm = applyUpdate(ctx, acc, opt, lr, step, 'RecPO');
  }
  return { ...stats, gradNorm: lastNorm, lr };
}

/**
 * w/o reasoning (paper Table 2): in-batch contrastive loss (Eq. 1) on the read-out at `<answer>` after the prompt,
 * in chunks of `usersPerChunk` users whose gradients add up (the local targets are re-encoded per chunk).
 */
function contrastiveStep(ctx: Ctx, step: number, opt: ReturnType<typeof initAdamW>): StepStats & { gradNorm: number; lr: number } {
  const { cfg, comm } = ctx;
  const batch = globalBatch(ctx, step);
  const [a, b] = shardRange(batch.length, comm.rank, comm.world);
  const mine = batch.slice(a, b);
  const targets = mine.map((s) => s.target.item);
  const lr = lrAt(step, cfg.steps, cfg.optimizer.lr, cfg.schedule);
  const ib = exchangeTargets(ctx, targets, encodeSequences(ctx.params, ctx.mcfg, targets.map((t) => ctx.itemSeqs[t]), cfg.pooling, 32));
  writeRows(ctx.table, ib.allItems, ib.allVecs);
  const acc: Record<string, tf.Tensor> = {};
  let lossVal = 0;
  for (let c0 = 0; c0 < mine.length; c0 += cfg.usersPerChunk) {
    const idx = Array.from({ length: Math.min(cfg.usersPerChunk, mine.length - c0) }, (_, j) => c0 + j);
    const { value, grads } = paramGrads(ctx.params, () => {
      const users = vectorsOf(ctx, idx.map((i) => directIds(ctx, promptIds(ctx, mine[i])))).vecs;
      const iv = vectorsOf(ctx, targets.map((t) => ctx.itemSeqs[t])).vecs;
      const lp = inBatchLogProbs(ctx, users, idx.map((i) => targets[i]), idx.map((i) => ib.offset + i), iv, ib);
      return tf.div(tf.neg(tf.sum(lp)), batch.length) as tf.Scalar;
    });
    lossVal += value.dataSync()[0];
    value.dispose();
    if (!Number.isFinite(lossVal)) {
      Object.values(grads).forEach((g) => g.dispose());
      Object.values(acc).forEach((g) => g.dispose());
      throw new R2ecError(`contrastive: loss is not finite at step ${step}; the last checkpoint is kept`);
    }
    accumulate(acc, grads);
  }
  const norm = applyUpdate(ctx, acc, opt, lr, step, 'contrastive');
  return { rewardSum: 0, rewardSqSum: 0, ndcgSum: 0, lenSum: 0, n: 0, lossTok: 0, lossRec: lossVal, kl: 0, gradNorm: norm, lr };
}

// ---------------------------------------------------------------------------------------------------------------
// Evaluation (spec §5): greedy reasoning, user vector after it, full ranking over the refreshed table.

interface UserEncoding {
  vecs: Float32Array;
  /** generated reasoning token ids per sample (empty for no-reasoning) */
  tokens: number[][];
}

/** Greedy reasoning + read-out for `samples` on this rank. */
function encodeUsers(ctx: Ctx, samples: Sample[], greedyTokens: number): UserEncoding {
  const bs = ctx.cfg.evalBatch;
  const d = ctx.mcfg.dModel;
  const vecs = new Float32Array(samples.length * d);
  const tokens: number[][] = [];
  const sampling: SamplingConfig = { ...GREEDY, maxNewTokens: greedyTokens };
  for (let s = 0; s < samples.length; s += bs) {
    const chunk = samples.slice(s, s + bs);
    const prompts = chunk.map((x) => promptIds(ctx, x));
    let seqs: number[][];
    if (ctx.cfg.variant === 'no-reasoning') {
      seqs = prompts.map((p) => directIds(ctx, p));
      chunk.forEach(() => tokens.push([]));
    } else {
      const gen = generateText(ctx.params, ctx.mcfg, ctx.tok, prompts, sampling, makeRng(0));
      gen.tokens.forEach((t) => tokens.push(t));
      seqs = prompts.map((p, i) => scoringIds(ctx, p, gen.texts[i]));
    }
    vecs.set(encodeSequences(ctx.params, ctx.mcfg, seqs, ctx.cfg.pooling, bs), s * d);
  }
  return { vecs, tokens };
}

/** Evaluate `samples` split over ranks; every rank returns the same EvalResult (computed on each). */
async function evaluateSplit(ctx: Ctx, samples: Sample[], split: string): Promise<{ result: EvalResult; tokens: number[][]; reward: number }> {
  const [a, b] = shardRange(samples.length, ctx.comm.rank, ctx.comm.world);
  const enc = encodeUsers(ctx, samples.slice(a, b), ctx.cfg.rollout.maxNewTokens);
  const d = ctx.mcfg.dModel;
  const vecParts = ctx.comm.allGather(enc.vecs);
  const tokParts = ctx.comm.allGather(Float32Array.from(enc.tokens.flatMap((t) => [t.length, ...t])));
  const all = new Float32Array(samples.length * d);
  let o = 0;
  for (const p of vecParts) {
    all.set(p, o);
    o += p.length;
  }
  const tokens: number[][] = [];
  for (const p of tokParts) {
    for (let i = 0; i < p.length; ) {
      const n = p[i];
      tokens.push(Array.from(p.subarray(i + 1, i + 1 + n)));
      i += 1 + n;
    }
  }
  const pos = new Map(samples.map((s, i) => [s, i]));
  const N1 = ctx.ds.items.length;
  let rewardSum = 0;
  const userMatrix = tf.tensor2d(all, [samples.length, d]); // uploaded once, gathered per scoring batch
  const scorer = async (batch: Sample[]) => {
    const scores = tf.tidy(() => {
      const rows = batch.map((s) => pos.get(s)!);
      const u = tf.gather(userMatrix, tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
      return catalogScores(ctx, u);
    });
    // the training reward of the greedy reasoning, for the validation-reward curve (paper Fig. 2)
    const sv = scores.dataSync() as Float32Array;
    batch.forEach((s, i) => {
      rewardSum += fusedReward(sv.subarray(i * N1, (i + 1) * N1), s.target.item, s.history.map((h) => h.item), ctx.cfg.reward).reward;
    });
    return scores;
  };
  let result: EvalResult;
  try {
    result = await evaluateRanking(ctx.ds, samples, scorer, { batchSize: 128, ks: ctx.job.eval.ks, maskHistory: ctx.job.eval.maskHistory });
  } finally {
    userMatrix.dispose();
  }
  result.options.split = split;
  return { result, tokens, reward: rewardSum / Math.max(1, samples.length) };
}

function pick<T>(arr: T[], idx: number[]): T[] {
  return idx.map((i) => {
    if (i < 0 || i >= arr.length) throw new R2ecError(`evaluation sample index ${i} is outside the split (size ${arr.length})`);
    return arr[i];
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

function saveRun(ctx: Ctx, dir: string, opt: ReturnType<typeof initAdamW>, state: Record<string, unknown>): void {
  if (ctx.comm.rank !== 0) return;
  const params: NamedArrays = paramsToArrays(ctx.params);
  params.item_table = { shape: [ctx.table.numRows, ctx.table.d], data: ctx.table.rows };
  const extra = ['item_table', ...Object.keys(ctx.params).filter((k) => k.startsWith('cls_'))];
  saveCheckpoint(dir, { config: ctx.mcfg, params, tokenizer: ctx.job.tokenizer, optimizer: optimizerToArrays(opt), state, extraParams: extra });
}

// ---------------------------------------------------------------------------------------------------------------
// The SPMD body

export async function recpoRank(job: RecJob, comm: Collective, hooks?: RecHooks): Promise<RecResult> {
  const t0 = d0();
  const durations: Record<string, number> = {};
  await initBackend({ log: false });
  const cfg = job.config;
  const ds = await loadDataset(job.dataset.name, job.dataset.options);
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
  const ctx: Ctx = {
    job, cfg, mcfg, ds, tok, params, comm,
    table: createItemTable(ds.items.length, mcfg.dModel),
    itemSeqs: [],
    promptCache: new Map(),
    names: Object.keys(params),
  };
  if (cfg.klCoef > 0) ctx.reference = paramsFromArrays(ck.params, paramNames(mcfg));
  ctx.itemSeqs = cfg.variant === 'cls-head' ? [] : buildItemSeqs(ctx);
  const opt = initAdamW(params);
  const curves: RecCurves = {
    step: [], rewardMean: [], rewardStd: [], ndcgReward: [], reasoningLength: [], lossTok: [], lossRec: [], kl: [],
    gradNorm: [], lr: [], evalStep: [], validNdcg10: [], validHr10: [], validReward: [],
  };
  const validSamples = pick(ds.samples.valid, job.validIdx);
  const testSamples = pick(ds.samples.test, job.testIdx);
  const latestDir = path.join(job.workDir, 'latest');
  const bestDir = path.join(job.workDir, 'best');
  let start = 0;
  let bestMetric = -Infinity;
  let bestStep = 0;
  let badEvals = 0;
  durations.setup = (d0() - t0) / 1000;

  if (hasCheckpoint(latestDir)) {
    const saved = loadCheckpoint(latestDir);
    assignParams(params, saved.params);
    if (saved.optimizer) restoreOptimizer(opt, saved.optimizer);
    ctx.table.rows.set(saved.params.item_table.data);
    const st = saved.state ?? {};
    start = Number(st.step ?? 0);
    bestMetric = Number(st.bestMetric ?? -Infinity);
    bestStep = Number(st.bestStep ?? 0);
    badEvals = Number(st.badEvals ?? 0);
    Object.assign(curves, st.curves ?? {});
  }
  let bestValid: EvalResult | undefined; // the valid result of the best step, when computed in this process
  const evaluateValid = async (step: number) => {
    hooks?.onPhase?.(`valid @ step ${step}`);
    refreshItemTable(ctx);
    const { result, reward } = await evaluateSplit(ctx, validSamples, 'valid');
    const ndcg = result.metrics['NDCG@10'];
    curves.evalStep.push(step);
    curves.validReward.push(reward);
    curves.validNdcg10.push(ndcg);
    curves.validHr10.push(result.metrics['HR@10']);
    if (comm.rank === 0) hooks?.onEval?.({ step, ndcg10: ndcg, hr10: result.metrics['HR@10'] });
    if (ndcg > bestMetric) {
      bestValid = result;
      bestMetric = ndcg;
      bestStep = step;
      badEvals = 0;
      saveRun(ctx, bestDir, opt, { step, bestMetric, method: job.method });
    } else badEvals++;
    const state = { step, bestMetric, bestStep, badEvals, curves, method: job.method };
    saveRun(ctx, latestDir, opt, state);
    comm.barrier();
  };

  const tTrain = d0();
  const end = Math.min(cfg.steps, job.stopAfter ?? cfg.steps);
  if (start === 0 && cfg.steps > 0 && validSamples.length > 0) await evaluateValid(0);
  for (let step = start; step < end; step++) {
    if (cfg.patience > 0 && badEvals >= cfg.patience) break;
    const st = cfg.variant === 'no-reasoning' ? contrastiveStep(ctx, step, opt) : recpoStep(ctx, step, opt);
    const buf = new Float32Array([st.rewardSum, st.rewardSqSum, st.ndcgSum, st.lenSum, st.n, st.lossTok, st.lossRec, st.kl]);
    comm.allReduceSum(buf);
    const n = Math.max(buf[4], 1);
    const mean = buf[0] / n;
    curves.step.push(step + 1);
    curves.rewardMean.push(mean);
    curves.rewardStd.push(Math.sqrt(Math.max(0, buf[1] / n - mean * mean)));
    curves.ndcgReward.push(buf[2] / n);
    curves.reasoningLength.push(buf[3] / n);
    curves.lossTok.push(buf[5]);
    curves.lossRec.push(buf[6]);
    curves.kl.push(buf[7]);
    curves.gradNorm.push(st.gradNorm);
    curves.lr.push(st.lr);
    if (comm.rank === 0) hooks?.onStep?.({ step: step + 1, steps: cfg.steps, reward: mean, length: buf[3] / n, loss: buf[5] + buf[6] });
    if (cfg.refreshEvery > 0 && (step + 1) % cfg.refreshEvery === 0) refreshItemTable(ctx);
    if ((step + 1) % cfg.evalEvery === 0 || step + 1 === cfg.steps) await evaluateValid(step + 1);
  }
  durations.train = (d0() - tTrain) / 1000;
  const stepsRun = curves.step.length;
  if (job.stopAfter !== undefined && end < cfg.steps) {
    // a deliberate stop (resume test): return what we have without the final evaluation
    disposeAdamW(opt);
    return {
      method: job.method, valid: undefined as unknown as EvalResult, test: undefined as unknown as EvalResult, curves,
      bestStep, stepsRun, texts: [], meanReasoningTokens: 0, durationsSec: durations, world: comm.world, backend: backendName(),
      throughput: { samplesPerSec: 0, batchSize: cfg.evalBatch },
    };
  }
  // Load the best checkpoint (spec §4.7) and report valid + test.
  if (cfg.steps > 0 && hasCheckpoint(bestDir)) {
    const saved = loadCheckpoint(bestDir);
    assignParams(params, saved.params);
  }
  hooks?.onPhase?.('final evaluation');
  const tEval = d0();
  refreshItemTable(ctx);
  const valid = bestValid ?? (await evaluateSplit(ctx, validSamples, 'valid')).result;
  const tTest = d0();
  const testOut = await evaluateSplit(ctx, testSamples, 'test');
  const testSec = (d0() - tTest) / 1000;
  durations.evaluate = (d0() - tEval) / 1000;
  const texts = testOut.tokens.slice(0, job.keepTexts).map((t, i) => ({
    sampleIndex: testSamples[i].index,
    user: testSamples[i].user,
    text: tok.decode(t, { skipSpecial: true }),
    tokens: t.length,
  }));
  const meanReasoningTokens = testOut.tokens.reduce((a, t) => a + t.length, 0) / Math.max(1, testOut.tokens.length);
  let latency: RecResult['latency'];
  if (job.latencyRequests > 0 && comm.rank === 0) {
    const per: number[] = [];
    const perTokens: number[] = [];
    let toks = 0;
    const reqs = testSamples.slice(0, job.latencyRequests);
    encodeUsers(ctx, reqs.slice(0, 1), cfg.rollout.maxNewTokens); // warm-up
    for (const s of reqs) {
      const t = d0();
      const enc = encodeUsers({ ...ctx, cfg: { ...cfg, evalBatch: 1 } }, [s], cfg.rollout.maxNewTokens);
      tf.tidy(() => catalogScores(ctx, tf.tensor2d(enc.vecs, [1, mcfg.dModel])).dataSync());
      per.push((d0() - t) / 1000);
      toks += enc.tokens[0].length;
      perTokens.push(enc.tokens[0].length);
    }
    const sorted = [...per].sort((x, y) => x - y);
    latency = {
      perRequestSec: per,
      perRequestTokens: perTokens,
      meanSec: per.reduce((x, y) => x + y, 0) / per.length,
      medianSec: sorted[Math.floor(sorted.length / 2)],
      meanReasoningTokens: toks / per.length,
    };
  }
  comm.barrier();
  disposeAdamW(opt);
  Object.values(params).forEach((p) => p.dispose());
  if (ctx.reference) Object.values(ctx.reference).forEach((p) => p.dispose());
  durations.total = (d0() - t0) / 1000;
  const throughput = { samplesPerSec: testSamples.length / Math.max(testSec, 1e-9), batchSize: cfg.evalBatch };
  return { method: job.method, valid, test: testOut.result, curves, bestStep, stepsRun, texts, meanReasoningTokens, latency, throughput, durationsSec: durations, world: comm.world, backend: backendName() };
}

export function runRecPO(job: RecJob, world: number, hooks?: RecHooks): Promise<RecResult> {
  fs.mkdirSync(job.workDir, { recursive: true });
  return runSpmd<RecResult>({ module: path.join(__dirname, 'recpo.ts'), fn: 'recpoRank', job }, recpoRank as never, Math.min(world, Math.max(1, job.config.usersPerStep)), hooks);
}

export { prepareVectors };

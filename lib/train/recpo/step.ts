// One RecPO optimizer step on this rank's shard of the batch (spec §4, Alg. 1):
//   1. rollouts: G reasoning texts per user, sampled until `<answer>`;
//   2. reward pass: user vector after the reasoning, scored against the cached item table (history masked),
//      R = β·R_c + (1−β)·R_d;
//   3. group advantages (GRPO or RLOO); 4. best-trajectory mask (top `relabelTopK` advantages);
//   5. Eq. 8 as the paper intends (§7.1): token-level clipped policy-gradient terms for every trajectory plus the
//      in-batch softmax item term for the best trajectory; the batch's target items are encoded with gradient and
//      their detached vectors overwrite their item-table rows. A `reference-code` objective reproduces the code's
//      broadcasting bug for comparison.
// No dropout, so the reward pass and the policy forward are the same computation: we run it once, under the tape.
// Also the w/o-reasoning step (paper Table 2): the in-batch contrastive loss of Eq. 1 on the direct read-out.
// Ranks exchange gradients (summed) and the detached in-batch target vectors (the code's "gather negatives across GPUs").
import { tf } from '../../model/backend';
import { forward, forwardSharedPrefix, lmLogits, padBatch, type Params } from '../../model/decoder';
import { tokenLogProbs } from '../../model/losses';
import { generateText } from '../../model/generate';
import { readOut, encodeSequences } from '../../model/readout';
import { recScores } from '../../model/rec-head';
import type { Sample } from '../../data/types';
import { adamWStep, type AdamWState } from '../optimizer';
import { lrAt } from '../schedule';
import { accumulateGrads, allReduceGrads, backpropVectors, gatherAll, paramGrads } from '../grads';
import { shardRange } from '../parallel';
import { fusedReward } from '../rewards';
import { groupAdvantages, bestTrajectoryMask } from '../advantages';
import { writeRows } from '../item-table';
import { samplingLogQ } from '../backbone';
import { hashSeed, makeRng, shuffleInPlace } from '../../util/rng';
import { R2ecError } from '../../util/errors';
import { timed } from '../../util/phases';
import type { RecPOConfig } from './config';
import { catalogScores, directIds, promptIds, scoringIds, vectorsOf, type RecContext } from './context';

export interface StepStats {
  rewardSum: number;
  rewardSqSum: number;
  /** Σ over groups of the within-group reward variance (what GRPO's advantages divide by), and the groups counted */
  groupVarSum: number;
  groups: number;
  ndcgSum: number;
  lenSum: number;
  n: number;
  lossTok: number;
  lossRec: number;
  kl: number;
}

export function globalBatch(ctx: RecContext, step: number): Sample[] {
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
function epochOrder(ctx: RecContext, epoch: number): number[] {
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
export interface InBatch {
  localItems: number[];
  /** detached vectors of every rank's targets, rank order, and their item ids */
  allVecs: Float32Array;
  allItems: number[];
  /** offset of this rank's block in allItems */
  offset: number;
  /** recpo.sampledItems uniform catalog items (detached, fresh) and log q of every column (targets, then these) */
  sampledItems: number[];
  sampledVecs: Float32Array;
  logQ?: Float32Array;
}

// per dataset, for the (users a step, sampled items) it was computed for: computed once per run, not per step
const logQCache = new WeakMap<object, { B: number; M: number; logQ: Float64Array }>();

/** The step's uniform catalog items (recpo.sampledItems), the same on every rank. */
export function sampledColumns(ctx: RecContext, step: number): number[] {
  const N = ctx.ds.items.length - 1;
  const rng = makeRng(hashSeed(ctx.cfg.seed, 'rec-sampled-items', step));
  return Array.from({ length: ctx.cfg.sampledItems }, () => 1 + rng.int(N));
}

export function exchangeTargets(ctx: RecContext, localItems: number[], localVecs: Float32Array, step: number): InBatch {
  const allVecs = gatherAll(ctx.comm, localVecs);
  const idParts = ctx.comm.allGather(Float32Array.from(localItems));
  const allItems: number[] = [];
  let offset = 0;
  idParts.forEach((p, r) => {
    if (r === ctx.comm.rank) offset = allItems.length;
    allItems.push(...Array.from(p));
  });
  const sampledItems = sampledColumns(ctx, step);
  let sampledVecs: Float32Array = new Float32Array(0);
  let logQ: Float32Array | undefined;
  if (sampledItems.length > 0) {
    // each rank encodes its contiguous share, so the gathered blocks come back in column order
    const [a, b] = shardRange(sampledItems.length, ctx.comm.rank, ctx.comm.world);
    const mine = sampledItems.slice(a, b);
    const local = mine.length ? timed('item encoding', () => encodeSequences(ctx.params, ctx.mcfg, mine.map((t) => ctx.itemSeqs[t]), ctx.cfg.pooling, 32)) : new Float32Array(0);
    sampledVecs = gatherAll(ctx.comm, local);
    const B = ctx.cfg.usersPerStep;
    const M = sampledItems.length;
    let hit = logQCache.get(ctx.ds);
    if (!hit || hit.B !== B || hit.M !== M) logQCache.set(ctx.ds, (hit = { B, M, logQ: samplingLogQ(ctx.ds, B, M) }));
    const lq = hit.logQ;
    logQ = Float32Array.from([...allItems, ...sampledItems], (id) => lq[id]);
  }
  return { localItems, allVecs, allItems, offset, sampledItems, sampledVecs, logQ };
}

/**
 * The item term's columns as one [M, d] matrix: every rank's targets (this rank's block = `localItemVecs`, the others
 * the exchanged constants), then the recpo.sampledItems uniform items.
 */
export function batchColumns(ctx: RecContext, ib: InBatch, localItemVecs: tf.Tensor2D): tf.Tensor2D {
  const d = ctx.mcfg.dModel;
  const Mt = ib.allItems.length;
  const Ms = ib.sampledItems.length;
  const before = ib.offset;
  const after = Mt - before - ib.localItems.length;
  const parts: tf.Tensor2D[] = [];
  if (before > 0) parts.push(tf.tensor2d(ib.allVecs.subarray(0, before * d), [before, d]));
  parts.push(localItemVecs);
  if (after > 0) parts.push(tf.tensor2d(ib.allVecs.subarray((before + ib.localItems.length) * d), [after, d]));
  if (Ms > 0) parts.push(tf.tensor2d(ib.sampledVecs, [Ms, d]));
  return parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor2D);
}

/**
 * Log-probability of each user's own target under the in-batch softmax (Eq. 7) over the columns `items`
 * (batchColumns' layout). Duplicates of the target are masked when dedupeInBatch (spec §7.7). With
 * recpo.sampledItems the user's target and history are masked among the sampled columns, and every column's logit is
 * corrected by −log q (sampled softmax).
 */
export function inBatchLogProbs(ctx: RecContext, users: tf.Tensor2D, userTargets: number[], userCols: number[], histories: number[][], items: tf.Tensor2D, ib: InBatch): tf.Tensor1D {
  const Mt = ib.allItems.length;
  const Ms = ib.sampledItems.length;
  const M = Mt + Ms;
  let logits = recScores(users, items, ctx.cfg.head); // [n, M]
  if (ib.logQ) logits = tf.sub(logits, tf.tensor2d(ib.logQ, [1, M]));
  const n = userTargets.length;
  if (ctx.cfg.dedupeInBatch || Ms > 0) {
    const mask = new Float32Array(n * M);
    for (let i = 0; i < n; i++) {
      if (ctx.cfg.dedupeInBatch) for (let j = 0; j < Mt; j++) if (j !== userCols[i] && ib.allItems[j] === userTargets[i]) mask[i * M + j] = -1e9;
      if (Ms > 0) {
        const hide = new Set(histories[i]);
        hide.add(userTargets[i]);
        for (let j = 0; j < Ms; j++) if (hide.has(ib.sampledItems[j])) mask[i * M + Mt + j] = -1e9;
      }
    }
    logits = tf.add(logits, tf.tensor2d(mask, [n, M]));
  }
  return tokenLogProbs(logits, tf.tensor1d(userCols.map((c) => c), 'int32'));
}

/**
 * The item term's columns for one forward/backward (see RecPOConfig.itemGradient): 'targets' re-encodes this rank's
 * targets with gradient; 'columns' uses the leaf variable whose gradient GradCache carries into the encoder later.
 */
function itemColumns(ctx: RecContext, targets: number[], ib: InBatch, leaf: tf.Variable | undefined): tf.Tensor2D {
  if (leaf) return leaf as unknown as tf.Tensor2D;
  const d = ctx.mcfg.dModel;
  const local = ctx.cfg.itemGradient === 'targets'
    ? vectorsOf(ctx, targets.map((t) => ctx.itemSeqs[t])).vecs
    : tf.tensor2d(ib.allVecs.subarray(ib.offset * d, (ib.offset + targets.length) * d), [targets.length, d]);
  return batchColumns(ctx, ib, local);
}

const COLUMNS = '__itemColumns';

/** itemGradient 'columns': the detached columns as a leaf variable, so each forward/backward also returns ∂loss/∂column. */
function columnLeaf(ctx: RecContext, ib: InBatch): tf.Variable | undefined {
  if (ctx.cfg.itemGradient !== 'columns') return undefined;
  return tf.tidy(() => tf.variable(itemColumns(ctx, ib.localItems, ib, undefined), true));
}

/** Move ∂loss/∂columns out of a gradient record into the running sum `dCols`. */
function takeColumnGrad(grads: Record<string, tf.Tensor>, dCols: Float32Array | undefined): void {
  const g = grads[COLUMNS];
  if (!g) return;
  delete grads[COLUMNS];
  if (dCols) {
    const v = g.dataSync() as Float32Array;
    for (let i = 0; i < v.length; i++) dCols[i] += v[i];
  }
  g.dispose();
}

/**
 * GradCache's second half: the columns' gradient summed over ranks, then each rank encodes its contiguous share of
 * the columns with gradient and backpropagates ⟨vector, ∂loss/∂vector⟩ into `acc` (the all-reduce of the parameter
 * gradients sums the shares). The same gradient as one tape over users and columns (test/recpo-core.test.ts).
 */
function columnBackward(ctx: RecContext, ib: InBatch, dCols: Float32Array, acc: Record<string, tf.Tensor>): void {
  const d = ctx.mcfg.dModel;
  timed('all-reduce', () => ctx.comm.allReduceSum(dCols));
  const ids = [...ib.allItems, ...ib.sampledItems];
  const [a, b] = shardRange(ids.length, ctx.comm.rank, ctx.comm.world);
  const mine = ids.slice(a, b);
  timed('forward/backward', () =>
    backpropVectors(ctx.params, mine.length, 32, dCols.subarray(a * d, b * d), (c0, c1) => ({ vecs: vectorsOf(ctx, mine.slice(c0, c1).map((t) => ctx.itemSeqs[t])).vecs }), acc),
  );
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

/** All-reduce the accumulated gradients, one AdamW step, NaN guard. */
function applyUpdate(ctx: RecContext, acc: Record<string, tf.Tensor>, opt: AdamWState, lr: number, step: number, what: string): number {
  const summed = timed('all-reduce', () => allReduceGrads(acc, ctx.names, ctx.comm));
  const norm = timed('optimizer', () => adamWStep(ctx.params, summed, opt, ctx.cfg.optimizer, lr));
  Object.values(summed).forEach((g) => g.dispose());
  if (!Number.isFinite(norm)) {
    throw new R2ecError(`${what}: loss or gradient is not finite at step ${step}; the last checkpoint is kept`);
  }
  return norm;
}

/**
 * Hidden states [G, T, d] of one user's G scoring sequences (right-padded to T): they share the prompt's P tokens,
 * which run once (forwardSharedPrefix; the same values and gradients as the full batch, ~G× less prompt compute).
 */
function groupHidden(params: Params, ctx: RecContext, chunk: number[][], T: number, P: number): tf.Tensor3D {
  return chunk.length > 1 ? forwardSharedPrefix(params, ctx.mcfg, chunk, T, P) : forward(params, ctx.mcfg, padBatch(chunk, 'right', 0, T));
}

/**
 * R²ec / cls-head step on this rank's users. The trajectories are processed one group (one user's G rollouts) at a
 * time, gradients adding up over the groups before one optimizer step — the reference code's mini-batches of one
 * group (spec §4.5), which also bounds memory. Each chunk re-encodes this rank's batch targets with gradient (4(b)).
 */
export function recpoStep(ctx: RecContext, step: number, opt: AdamWState): StepStats & { gradNorm: number; lr: number } {
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
  const gen = timed('rollout generation', () => generateText(ctx.params, ctx.mcfg, ctx.tok, prompts, cfg.rollout, rng, ctx.titleRule?.((row) => mine[Math.floor(row / G)])));
  const seqs = prompts.map((p, i) => scoringIds(ctx, p, gen.texts[i]));
  const targets = mine.map((s) => s.target.item);
  const stats: StepStats = { rewardSum: 0, rewardSqSum: 0, groupVarSum: 0, groups: 0, ndcgSum: 0, lenSum: 0, n: 0, lossTok: 0, lossRec: 0, kl: 0 };
  gen.tokens.forEach((t) => (stats.lenSum += t.length));
  // In-batch items (Eq. 7): every rank's targets, detached, exchanged once. Their item-table rows are overwritten
  // after the reward pass, as in the reference code (spec §4 step 5(c)); refreshing them before the reward (the order
  // of Algorithm 1, §7.7) lets the fresh target rows stand out against the stale rest and inflates R_d.
  let ib: InBatch | undefined;
  if (cfg.variant !== 'cls-head') {
    ib = timed('all-reduce', () => exchangeTargets(ctx, targets, timed('item encoding', () => encodeSequences(ctx.params, ctx.mcfg, targets.map((t) => ctx.itemSeqs[t]), cfg.pooling, 32)), step));
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
    // itemWeight 0: no item term, so no columns to encode with gradient (the same update, without its cost)
    const itemTerm = cfg.itemWeight > 0;
    const leaf = ib && itemTerm ? columnLeaf(ctx, ib) : undefined;
    const dCols = leaf ? new Float32Array(leaf.size) : undefined;
    const vars = leaf ? { ...ctx.params, [COLUMNS]: leaf } : ctx.params;
    for (let u = 0; u < mine.length; u++) {
      const s = mine[u];
      const rowsIdx = Array.from({ length: G }, (_, j) => u * G + j);
      const chunk = rowsIdx.map((i) => seqs[i]);
      const T = Math.max(...chunk.map((q) => q.length));
      const P = prompts[u * G].length; // the group's shared prompt
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
          const h = tf.reshape(groupHidden(ctx.reference!, ctx, chunk, T, P), [G * T, d]) as tf.Tensor2D;
          const lg = lmLogits(ctx.reference!, tf.gather(h, tf.tensor1d(rows, 'int32')) as tf.Tensor2D, ctx.mcfg);
          return tokenLogProbs(lg, tf.tensor1d(acts, 'int32'));
        });
        refLogp = Float32Array.from(lp.dataSync() as Float32Array);
        lp.dispose();
      }
      let partTok = 0;
      let partRec = 0;
      let partKl = 0;
      const { value, grads } = timed('forward/backward', () => paramGrads(vars, () => {
        const bt = padBatch(chunk, 'right', 0, T);
        const hidden = groupHidden(ctx.params, ctx, chunk, T, P);
        const users = readOut(hidden, bt, cfg.pooling); // [G, d]
        if (epoch === 0) timed('reward', () => {
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
          let gm = 0;
          for (let j = 0; j < G; j++) gm += rewards[j] / G;
          for (let j = 0; j < G; j++) stats.groupVarSum += (rewards[j] - gm) ** 2 / G;
          stats.groups++;
          adv.set(groupAdvantages(rewards, G, cfg.advantage), u * G);
          best.set(bestTrajectoryMask(adv.subarray(u * G, (u + 1) * G), G, cfg.relabelTopK), u * G);
        });
        const gAdv = adv.subarray(u * G, (u + 1) * G);
        const gBest = best.subarray(u * G, (u + 1) * G);
        // token term: log π of completion tokens (logits only where needed); per-group token mean (tokenTermWeights)
        const h2 = tf.reshape(hidden, [G * T, d]) as tf.Tensor2D;
        const logits = lmLogits(ctx.params, tf.gather(h2, tf.tensor1d(rows, 'int32')) as tf.Tensor2D, ctx.mcfg);
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
        partTok = lossTok.dataSync()[0];
        if (!itemTerm) return loss;
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
          const hist = s.history.map((h) => h.item);
          const cols = itemColumns(ctx, targets, ib!, leaf);
          itemLogp = inBatchLogProbs(ctx, users, new Array(G).fill(s.target.item), new Array(G).fill(ib!.offset + u), new Array(G).fill(hist), cols, ib!);
        }
        if (epoch === 0) oldItemLogp[u] = Float32Array.from(itemLogp.dataSync() as Float32Array);
        const rho = tf.exp(tf.sub(itemLogp, tf.tensor1d(oldItemLogp[u])));
        const recW = tf.tensor1d(itemTermWeights(gAdv, gBest, G, nGroupsGlobal, cfg.objective));
        const lossRec = tf.mul(cfg.objective === 'eq8'
          ? tf.neg(tf.sum(ppoTerm(rho, recW, cfg.clipLow, cfg.clipHigh)))
          : tf.neg(tf.sum(tf.mul(rho, recW))), cfg.itemWeight) as tf.Scalar;
        partRec = lossRec.dataSync()[0];
        return tf.add(loss, lossRec) as tf.Scalar;
      }));
      value.dispose();
      takeColumnGrad(grads, dCols);
      if (!Number.isFinite(partTok) || !Number.isFinite(partRec)) {
        Object.values(grads).forEach((g) => g.dispose());
        Object.values(acc).forEach((g) => g.dispose());
        leaf?.dispose();
        throw new R2ecError(`RecPO: loss is not finite at step ${step} (L_tok ${partTok}, L_rec ${partRec}); the last checkpoint is kept`);
      }
      accumulateGrads(acc, grads);
      if (epoch === 0) {
        stats.lossTok += partTok;
        stats.lossRec += partRec;
        stats.kl += partKl;
      }
    }
    if (leaf) {
      leaf.dispose();
      columnBackward(ctx, ib!, dCols!, acc);
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
export function contrastiveStep(ctx: RecContext, step: number, opt: AdamWState): StepStats & { gradNorm: number; lr: number } {
  const lr = lrAt(step, ctx.cfg.steps, ctx.cfg.optimizer.lr, ctx.cfg.schedule);
  const { loss, grads } = contrastiveGradients(ctx, step);
  const norm = applyUpdate(ctx, grads, opt, lr, step, 'contrastive');
  return { rewardSum: 0, rewardSqSum: 0, groupVarSum: 0, groups: 0, ndcgSum: 0, lenSum: 0, n: 0, lossTok: 0, lossRec: loss, kl: 0, gradNorm: norm, lr };
}

/** This rank's gradients of the w/o-reasoning loss at `step` (before the all-reduce) and its share of the loss. */
export function contrastiveGradients(ctx: RecContext, step: number): { loss: number; grads: Record<string, tf.Tensor> } {
  const { cfg, comm } = ctx;
  const batch = globalBatch(ctx, step);
  const [a, b] = shardRange(batch.length, comm.rank, comm.world);
  const mine = batch.slice(a, b);
  const targets = mine.map((s) => s.target.item);
  const ib = timed('all-reduce', () => exchangeTargets(ctx, targets, timed('item encoding', () => encodeSequences(ctx.params, ctx.mcfg, targets.map((t) => ctx.itemSeqs[t]), cfg.pooling, 32)), step));
  writeRows(ctx.table, ib.allItems, ib.allVecs);
  const acc: Record<string, tf.Tensor> = {};
  const leaf = columnLeaf(ctx, ib);
  const dCols = leaf ? new Float32Array(leaf.size) : undefined;
  const vars = leaf ? { ...ctx.params, [COLUMNS]: leaf } : ctx.params;
  let lossVal = 0;
  for (let c0 = 0; c0 < mine.length; c0 += cfg.usersPerChunk) {
    const idx = Array.from({ length: Math.min(cfg.usersPerChunk, mine.length - c0) }, (_, j) => c0 + j);
    const { value, grads } = timed('forward/backward', () => paramGrads(vars, () => {
      const users = vectorsOf(ctx, idx.map((i) => directIds(ctx, promptIds(ctx, mine[i])))).vecs;
      const cols = itemColumns(ctx, targets, ib, leaf);
      const lp = inBatchLogProbs(ctx, users, idx.map((i) => targets[i]), idx.map((i) => ib.offset + i), idx.map((i) => mine[i].history.map((h) => h.item)), cols, ib);
      return tf.div(tf.neg(tf.sum(lp)), batch.length) as tf.Scalar;
    }));
    lossVal += value.dataSync()[0];
    value.dispose();
    takeColumnGrad(grads, dCols);
    if (!Number.isFinite(lossVal)) {
      Object.values(grads).forEach((g) => g.dispose());
      Object.values(acc).forEach((g) => g.dispose());
      leaf?.dispose();
      throw new R2ecError(`contrastive: loss is not finite at step ${step}; the last checkpoint is kept`);
    }
    accumulateGrads(acc, grads);
  }
  if (leaf) {
    leaf.dispose();
    columnBackward(ctx, ib, dCols!, acc);
  }
  return { loss: lossVal, grads: acc };
}

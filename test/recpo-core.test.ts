// RecPO building blocks with hand-computed cases: fused reward, advantages, best-trajectory mask, Eq. 8 weights and
// which trajectory the item gradient reaches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, tf } from '../lib/model/backend';
import { fusedReward, targetProbability, DEFAULT_REWARD } from '../lib/train/rewards';
import { groupAdvantages, bestTrajectoryMask } from '../lib/train/advantages';
import { itemTermWeights, tokenTermWeights, ppoTerm, inBatchLogProbs, batchColumns, sampledColumns, type InBatch } from '../lib/train/recpo/step';
import type { RecContext } from '../lib/train/recpo/context';
import { recScores } from '../lib/model/rec-head';
import { tokenLogProbs } from '../lib/model/losses';
import { ConfigError } from '../lib/util/errors';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

test('fused reward: NDCG term with history masking, softmax term over the unmasked catalog', () => {
  // ids 0..5, 0 = pad (never ranked); scores chosen so the ranks are known
  const scores = [99, 1, 3, 2, 0, 5];
  // history {5} masked: ranking of 1..4 is id2 (3) > id3 (2) > id1 (1) > id4 (0) → target 2 is rank 1
  const a = fusedReward(scores, 2, [5], DEFAULT_REWARD);
  assert.equal(a.rank, 1);
  close(a.rd, 1);
  const rc = Math.exp(3) / (Math.exp(1) + Math.exp(3) + Math.exp(2) + Math.exp(0));
  close(a.rc, rc, 1e-12);
  close(a.reward, 0.05 * rc + 0.95 * 1, 1e-12);
  // no history: id5 (5) beats the target → rank 2, NDCG = 1/log2(3)
  const b = fusedReward(scores, 2, [], DEFAULT_REWARD);
  assert.equal(b.rank, 2);
  close(b.rd, 1 / Math.log2(3));
  // NDCG cut-off 1: rank 2 earns nothing from the ranking term
  const c = fusedReward(scores, 2, [], { ...DEFAULT_REWARD, ndcgK: 1 });
  close(c.rd, 0);
  // ablations: w/o R_c → R = R_d; w/o R_d → R = R_c
  close(fusedReward(scores, 2, [5], { ...DEFAULT_REWARD, useRc: false }).reward, 1);
  close(fusedReward(scores, 2, [5], { ...DEFAULT_REWARD, useRd: false }).reward, rc, 1e-12);
  // a repeat purchase (target in the history) is unrankable: both terms are 0
  const r = fusedReward(scores, 2, [2], DEFAULT_REWARD);
  assert.equal(r.rank, Infinity);
  assert.equal(r.reward, 0);
  assert.equal(targetProbability(scores, 2, new Set([2])), 0);
});

test('GRPO advantages: (R − mean)/(unbiased std + ε); RLOO: R − mean of the other G−1', () => {
  const g = groupAdvantages([1, 0, 0, 0, 0.5, 0.5, 0.5, 0.5], 4, 'grpo');
  // mean .25, unbiased std sqrt((.5625 + 3·.0625)/3) = .5 → [1.5, −.5, −.5, −.5]
  [1.5, -0.5, -0.5, -0.5].forEach((v, i) => close(g[i], v, 1e-7));
  // an all-equal group gets zeros, not NaN
  for (let i = 4; i < 8; i++) assert.equal(g[i], 0);
  const r = groupAdvantages([1, 0, 0, 0], 4, 'rloo');
  [1, -1 / 3, -1 / 3, -1 / 3].forEach((v, i) => close(r[i], v));
  const r2 = groupAdvantages([0.2, 0.4], 2, 'rloo');
  close(r2[0], -0.2);
  close(r2[1], 0.2);
  assert.throws(() => groupAdvantages([1], 1, 'grpo'), ConfigError);
  assert.throws(() => groupAdvantages([1, 2, 3], 2, 'grpo'), ConfigError);
});

test('best-trajectory mask: top-k advantages per group, ties to the lower index, none for all-zero groups', () => {
  assert.deepEqual(Array.from(bestTrajectoryMask([0.1, 0.9, 0.9, -1, 0, 0, 0, 0], 4, 1)), [0, 1, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(bestTrajectoryMask([0.1, 0.9, 0.5, -1], 4, 2)), [0, 1, 1, 0]);
});

test('Eq. 8 weights: item term on the best trajectory only; the reference-code form spreads it and cancels tokens', () => {
  const adv = [1.5, -0.5, -0.5, -0.5];
  const best = [1, 0, 0, 0];
  assert.deepEqual(itemTermWeights(adv, best, 4, 2, 'eq8'), [1.5 / 8, 0, 0, 0]);
  const code = itemTermWeights(adv, best, 4, 2, 'reference-code');
  code.forEach((w) => close(w, 1.5 / 4 / 8));
  // tokens: trajectory 0 owns 2 tokens, 1 owns 1, 3 owns 1 → group has 4 tokens; 2 groups in the batch
  const owner = [0, 0, 1, 3];
  const tw = tokenTermWeights(owner, adv, 4, 2, 'eq8');
  [1.5 / 8, 1.5 / 8, -0.5 / 8, -0.5 / 8].forEach((v, i) => close(tw[i], v));
  // reference code: mean advantage of a GRPO group is 0 → no token gradient (spec §4.5)
  tokenTermWeights(owner, adv, 4, 2, 'reference-code').forEach((w) => close(w, 0, 1e-12));
});

test('the item-term gradient reaches the best trajectory and its target item, not the other trajectories', async () => {
  await initBackend({ log: false });
  const G = 4;
  const d = 6;
  const users = tf.variable(tf.randomNormal([G, d], 0, 1, 'float32', 1)) as unknown as tf.Variable<tf.Rank.R2>;
  const items = tf.variable(tf.randomNormal([3, d], 0, 1, 'float32', 2)) as unknown as tf.Variable<tf.Rank.R2>; // in-batch targets; this user's is column 1
  const adv = [-0.5, 1.5, -0.5, -0.5];
  const best = Array.from(bestTrajectoryMask(adv, G, 1));
  const w = tf.tensor1d(itemTermWeights(adv, best, G, 1, 'eq8'));
  const cols = tf.tensor1d([1, 1, 1, 1], 'int32');
  const f = () => {
    const logp = tokenLogProbs(recScores(users, items, { similarity: 'cosine', tau: 0.1 }), cols);
    const rho = tf.exp(tf.sub(logp, tf.tensor1d(logp.dataSync() as Float32Array))); // ρ = p/sg(p)
    return tf.neg(tf.sum(ppoTerm(rho, w, 0.2, 0.28))) as tf.Scalar;
  };
  const { grads } = tf.variableGrads(f, [users, items]);
  const gu = grads[users.name].arraySync() as number[][];
  const norms = gu.map((r) => Math.hypot(...r));
  assert.ok(norms[1] > 1e-4, `best trajectory gets a gradient (${norms[1]})`);
  for (const i of [0, 2, 3]) assert.equal(norms[i], 0, `trajectory ${i} gets no item gradient`);
  const gi = grads[items.name].arraySync() as number[][];
  assert.ok(Math.hypot(...gi[1]) > 1e-4, 'the target item is pulled');
  // descending the loss raises the best trajectory's in-batch probability of its target
  const before = tokenLogProbs(recScores(users, items, { similarity: 'cosine', tau: 0.1 }), cols).dataSync()[1];
  users.assign(tf.sub(users, tf.mul(grads[users.name], 0.05)));
  items.assign(tf.sub(items, tf.mul(grads[items.name], 0.05)));
  const after = tokenLogProbs(recScores(users, items, { similarity: 'cosine', tau: 0.1 }), cols).dataSync()[1];
  assert.ok(after > before, `log p rose: ${before} → ${after}`);
});

test('item term with sampled catalog items: −log q on every column, the target and history masked among the sampled ones', async () => {
  await initBackend({ log: false });
  const d = 4;
  const tau = 0.5;
  const rng = (i: number) => Math.sin(i * 12.9898) * 43758.5453 % 1;
  const vec = (k: number) => Array.from({ length: d }, (_, j) => rng(k * 10 + j + 1));
  const U = [vec(1), vec(2)];
  const targets = [11, 12]; // this rank's (world 1) in-batch targets: columns 0 and 1
  const sampled = [3, 12, 5]; // 12 = user 1's target (masked for user 1), 3 = in user 0's history (masked for user 0)
  const V = [vec(3), vec(4)];
  const S = [vec(5), vec(6), vec(7)];
  const logQ = [0.1, -0.2, 0.3, 0.05, -0.4];
  const ib: InBatch = {
    localItems: targets, allVecs: Float32Array.from(V.flat()), allItems: targets, offset: 0,
    sampledItems: sampled, sampledVecs: Float32Array.from(S.flat()), logQ: Float32Array.from(logQ),
  };
  const ctx = { mcfg: { dModel: d }, cfg: { head: { similarity: 'cosine', tau }, dedupeInBatch: true } } as unknown as RecContext;
  const lp = inBatchLogProbs(ctx, tf.tensor2d(U), targets, [0, 1], [[3, 9], [8]], batchColumns(ctx, ib, tf.tensor2d(V)), ib).arraySync() as number[];
  const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0) / Math.hypot(...a) / Math.hypot(...b);
  const cols = [...V, ...S];
  const hidden = [[2], [3]]; // column indices masked per user (sampled 3 → column 2; sampled 12 → column 3)
  U.forEach((u, i) => {
    const logits = cols.map((c, j) => (hidden[i].includes(j) ? -Infinity : cos(u, c) / tau - logQ[j]));
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, x) => s + Math.exp(x - m), 0));
    close(lp[i], logits[i] - lse, 1e-4);
  });
  // without sampled items and log q the same users get the plain in-batch softmax over the two targets
  const plainIb: InBatch = { ...ib, sampledItems: [], sampledVecs: new Float32Array(0), logQ: undefined };
  const plain = inBatchLogProbs(ctx, tf.tensor2d(U), targets, [0, 1], [[3, 9], [8]], batchColumns(ctx, plainIb, tf.tensor2d(V)), plainIb).arraySync() as number[];
  U.forEach((u, i) => {
    const l = V.map((c) => cos(u, c) / tau);
    close(plain[i], l[i] - Math.log(Math.exp(l[0]) + Math.exp(l[1])), 1e-4);
  });
});

test('sampled catalog items: seeded per step, within 1..N, the same on every rank', () => {
  const ds = { items: new Array(51) } as unknown as RecContext['ds'];
  const ctx = (rank: number) => ({ ds, cfg: { seed: 7, sampledItems: 64 }, comm: { rank, world: 2 } }) as unknown as RecContext;
  const a = sampledColumns(ctx(0), 3);
  assert.deepEqual(sampledColumns(ctx(1), 3), a);
  assert.notDeepEqual(sampledColumns(ctx(0), 4), a);
  assert.equal(a.length, 64);
  assert.ok(a.every((i) => Number.isInteger(i) && i >= 1 && i <= 50));
  assert.ok(new Set(a).size > 20, 'spread over the catalog');
});

// The item term's gradient through every column (recpo.itemGradient 'columns', GradCache): the w/o-reasoning step's
// gradients equal one tape that encodes the users and every column with gradient; with no sampled items on one rank,
// 'columns' and the reference code's 'targets' are the same gradient; 'none' differs (no path through the items);
// two ranks sum to one rank's gradient.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { tf, initBackend } from '../lib/model/backend';
import { loadDataset } from '../lib/data/registry';
import type { Dataset } from '../lib/data/types';
import { makeConfig, methodRecConfig } from '../lib/experiment/config';
import { prepareLanguageModel, type PreparedLM } from '../lib/experiment/language-model';
import { paramGrads } from '../lib/train/grads';
import { SOLO, runSpmd } from '../lib/train/parallel';
import { summedGradsRank } from './helpers/recpo-grads-rank';
import { makeContext, disposeContext, promptIds, directIds, vectorsOf, refreshItemTable, type RecJob } from '../lib/train/recpo/context';
import { contrastiveGradients, exchangeTargets, globalBatch, inBatchLogProbs, recpoStep } from '../lib/train/recpo/step';
import { initAdamW } from '../lib/train/optimizer';
import { loadCheckpoint, paramsToArrays } from '../lib/model/checkpoint';
import { shippedBackboneRoot } from '../lib/util/env';
import { encodeSequences } from '../lib/model/readout';
import type { ItemGradient } from '../lib/train/recpo/config';

let ds: Dataset;
let lm: PreparedLM;
let cfg: ReturnType<typeof makeConfig>;

before(async () => {
  await initBackend({ log: false });
  ds = await loadDataset('synthetic');
  cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { 'warmup.steps': 0, 'backbone.epochs': 0 } });
  lm = await prepareLanguageModel(ds, cfg, 1, {});
});

function job(itemGradient: ItemGradient, sampledItems: number): RecJob {
  const rec = { ...methodRecConfig(cfg, { name: 'w/o reasoning', kind: 'no-reasoning' }), itemGradient, sampledItems, usersPerStep: 6, usersPerChunk: 4 };
  return {
    method: 'gradcache', dataset: ds, tokenizer: lm.tokenizer, model: lm.model, initCheckpoint: lm.checkpoint, config: rec,
    validIdx: [], testIdx: [], workDir: path.join(os.tmpdir(), 'r2ec-gradcache'), latencyRequests: 0, keepTexts: 0,
    eval: { ks: cfg.eval.ks, maskHistory: true },
  };
}

function relativeDiff(a: Record<string, tf.Tensor>, b: Record<string, tf.Tensor>): number {
  let num = 0;
  let den = 0;
  for (const [k, g] of Object.entries(a)) {
    const x = g.dataSync() as Float32Array;
    const y = b[k]?.dataSync() as Float32Array | undefined;
    for (let i = 0; i < x.length; i++) {
      num += (x[i] - (y ? y[i] : 0)) ** 2;
      den += x[i] ** 2;
    }
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

const dispose = (g: Record<string, tf.Tensor>) => Object.values(g).forEach((t) => t.dispose());

test("itemGradient 'columns': GradCache equals one tape over users and every column (targets and sampled items)", () => {
  const ctx = makeContext(job('columns', 7), SOLO);
  try {
    const step = 1;
    const cache = contrastiveGradients(ctx, step);
    const batch = globalBatch(ctx, step);
    const targets = batch.map((s) => s.target.item);
    const ib = exchangeTargets(ctx, targets, encodeSequences(ctx.params, ctx.mcfg, targets.map((t) => ctx.itemSeqs[t]), ctx.cfg.pooling, 32), step);
    assert.equal(ib.sampledItems.length, 7);
    const ref = paramGrads(ctx.params, () => {
      const users = vectorsOf(ctx, batch.map((s) => directIds(ctx, promptIds(ctx, s)))).vecs;
      const cols = vectorsOf(ctx, [...targets, ...ib.sampledItems].map((t) => ctx.itemSeqs[t])).vecs;
      const lp = inBatchLogProbs(ctx, users, targets, targets.map((_, i) => i), batch.map((s) => s.history.map((h) => h.item)), cols, ib);
      return tf.div(tf.neg(tf.sum(lp)), batch.length) as tf.Scalar;
    });
    assert.ok(Math.abs(ref.value.dataSync()[0] - cache.loss) < 1e-4, `loss ${ref.value.dataSync()[0]} vs ${cache.loss}`);
    const rel = relativeDiff(ref.grads, cache.grads);
    assert.ok(rel < 1e-3, `relative gradient difference ${rel}`);
    ref.value.dispose();
    dispose(ref.grads);
    dispose(cache.grads);
  } finally {
    disposeContext(ctx);
  }
});

test("one rank, no sampled items: 'columns' = 'targets' (the reference code's gradient); 'none' and sampled columns differ", () => {
  const grads = (g: ItemGradient, m: number) => {
    const ctx = makeContext(job(g, m), SOLO);
    try {
      return contrastiveGradients(ctx, 0).grads;
    } finally {
      disposeContext(ctx);
    }
  };
  const columns = grads('columns', 0);
  const targets = grads('targets', 0);
  const none = grads('none', 0);
  const targetsSampled = grads('targets', 7);
  const columnsSampled = grads('columns', 7);
  assert.ok(relativeDiff(columns, targets) < 1e-3, `columns vs targets ${relativeDiff(columns, targets)}`);
  assert.ok(relativeDiff(columns, none) > 1e-2, `none must lose the item path (${relativeDiff(columns, none)})`);
  assert.ok(relativeDiff(columnsSampled, targetsSampled) > 1e-2, `sampled columns carry gradient too (${relativeDiff(columnsSampled, targetsSampled)})`);
  for (const g of [columns, targets, none, targetsSampled, columnsSampled]) dispose(g);
});

test("itemGradient 'columns' on 2 ranks: the summed gradient equals one rank's (each rank backpropagates its share of the columns)", async () => {
  const task = (rec: RecJob) => ({ module: path.join(__dirname, 'helpers', 'recpo-grads-rank.ts'), fn: 'summedGradsRank', job: { rec, step: 2 } });
  const rec = job('columns', 9);
  const one = await runSpmd<Awaited<ReturnType<typeof summedGradsRank>>>(task(rec), summedGradsRank as never, 1);
  const two = await runSpmd<Awaited<ReturnType<typeof summedGradsRank>>>(task(rec), summedGradsRank as never, 2);
  assert.ok(Math.abs(one.loss - two.loss) < 1e-4, `loss ${one.loss} vs ${two.loss}`);
  assert.equal(two.flat.length, one.flat.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < one.flat.length; i++) {
    num += (one.flat[i] - two.flat[i]) ** 2;
    den += one.flat[i] ** 2;
  }
  assert.ok(Math.sqrt(num / den) < 1e-3, `relative difference ${Math.sqrt(num / den)}`);
});

test('recpo.itemWeight scales the item term of a RecPO step: 0 = the token term only, 2 = twice the item loss', () => {
  // the shipped synthetic backbone: a random model's rollouts earn the same reward within a group (no advantages)
  const dir = path.join(shippedBackboneRoot(), 'synthetic');
  const ck = loadCheckpoint(dir);
  const quick = makeConfig({ profile: 'quick', dataset: 'synthetic' });
  const run = (itemWeight: number) => {
    const base = methodRecConfig(quick, { name: 'R²ec', kind: 'r2ec' });
    const rec = { ...base, itemWeight, usersPerStep: 4, groupSize: 4, sampledItems: 5, rollout: { ...base.rollout, maxNewTokens: 12 } };
    const ctx = makeContext({ ...job('columns', 5), tokenizer: ck.tokenizer, model: ck.config as RecJob['model'], initCheckpoint: dir, config: rec }, SOLO);
    try {
      refreshItemTable(ctx); // as the loop's step-0 evaluation does
      const opt = initAdamW(ctx.params);
      const st = recpoStep(ctx, 1, opt);
      return { st, weights: paramsToArrays(ctx.params) };
    } finally {
      disposeContext(ctx);
    }
  };
  const [w0, w1, w2] = [0, 1, 2].map(run);
  // the same rollouts and token term (seeded) ...
  assert.ok(Math.abs(w1.st.lossRec) > 1e-6, `the item term is zero at weight 1: ${JSON.stringify(w1.st)}`);
  for (const w of [w0, w2]) assert.ok(Math.abs(w.st.lossTok - w1.st.lossTok) < 1e-6, `token loss ${w.st.lossTok} vs ${w1.st.lossTok}`);
  // ... the item term scaled, and it reaches the update
  assert.equal(w0.st.lossRec, 0);
  assert.ok(Math.abs(w2.st.lossRec - 2 * w1.st.lossRec) < 1e-5 * Math.max(1, Math.abs(w1.st.lossRec)), `${w2.st.lossRec} vs 2 × ${w1.st.lossRec}`);
  const moved = Object.keys(w1.weights).some((k) => w1.weights[k].data.some((x, i) => x !== w0.weights[k].data[i]));
  assert.ok(moved, 'weight 0 and weight 1 give the same update');
  assert.throws(() => makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { 'recpo.itemWeight': -1 } }), /recpo\.itemWeight/);
});

// Baseline building blocks: config validation, input windows, the catalog cross-entropy (value and gradient against
// tfjs' own softmax cross-entropy), and Popularity on a hand-built dataset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { buildExamples, catalogCrossEntropy, padLeft, trainSeqModel, trainSequences, NEURAL_DEFAULTS, type SeqModel } from '../lib/baselines/common';
import { popularityCounts, trainPopularity, validatePopularityConfig } from '../lib/baselines/popularity';
import { validateSASRecConfig } from '../lib/baselines/sasrec';
import { validateGRU4RecConfig } from '../lib/baselines/gru4rec';
import { validateCaserConfig } from '../lib/baselines/caser';
import { evaluateRanking } from '../lib/eval/evaluate';
import { ConfigError } from '../lib/util/errors';
import { buildSamples, chronologicalSplit } from '../lib/data/samples';
import { padItem, type Dataset, type Interaction } from '../lib/data/types';

/** Users' sequences as (item, time) lists → a Dataset built exactly as the readers do (spec §1). */
function dataset(seqs: [number, number][][], numItems: number, window = 3): Dataset {
  const interactions: Interaction[] = [];
  seqs.forEach((seq, user) => seq.forEach(([item, timestamp]) => interactions.push({ user, item, rating: 4, timestamp })));
  const { samples } = buildSamples(interactions, window);
  return {
    name: 'hand',
    domain: { singular: 'item', plural: 'items', verb: 'buy' },
    items: [padItem(), ...Array.from({ length: numItems }, (_, i) => ({ id: i + 1, externalId: `${i + 1}`, title: `t${i + 1}` }))],
    users: seqs.map((_, u) => `u${u}`),
    interactions,
    samples: chronologicalSplit(samples),
    window,
    provenance: { source: 'synthetic', files: [], options: {}, dropped: {}, notes: [], synthetic: true, key: 'hand' },
  };
}

test('config validation names the bad field', () => {
  assert.equal(validateSASRecConfig().maxLen, 20);
  assert.equal(validateSASRecConfig({ maxLen: 7 }).maxLen, 7);
  const bad: [() => unknown, RegExp][] = [
    [() => validateSASRecConfig({ maxLen: 0 }), /"sasrec\.maxLen": must be ≥ 1, got 0/],
    [() => validateSASRecConfig({ maxLen: 2.5 }), /"sasrec\.maxLen": must be an integer/],
    [() => validateSASRecConfig({ lr: 0 }), /"sasrec\.lr": must be > 0/],
    [() => validateSASRecConfig({ dropout: 1 }), /"sasrec\.dropout": must be ≤ 0\.95/],
    [() => validateSASRecConfig({ numHeads: 3 }), /"sasrec\.numHeads": must divide dim=64/],
    [() => validateSASRecConfig({ trainOn: 'every' as never }), /"sasrec\.trainOn": must be one of allPositions \| last/],
    [() => validateSASRecConfig({ lrr: 1 } as never), /"sasrec\.lrr": unknown key/],
    [() => validateGRU4RecConfig({ numBlocks: 2 } as never), /"gru4rec\.numBlocks": unknown key/],
    [() => validateGRU4RecConfig({ verbose: 'yes' as never }), /"gru4rec\.verbose": must be true or false/],
    [() => validateCaserConfig({ maxLen: 3, verticalFilters: 0 }), /"caser\.verticalFilters": must be ≥ 1/],
    [() => validatePopularityConfig({ count: 'all' as never }), /"popularity\.count"/],
  ];
  for (const [f, re] of bad) {
    assert.throws(f, (e: unknown) => e instanceof ConfigError && re.test(e.message), String(re));
  }
});

test('padLeft keeps the most recent maxLen items, newest last', () => {
  const out = new Int32Array(8).fill(-1);
  padLeft([5, 6], 4, out, 0);
  padLeft([1, 2, 3, 4, 5, 6], 4, out, 4);
  assert.deepEqual([...out], [0, 0, 5, 6, 3, 4, 5, 6]);
});

test('training examples: allPositions labels every train target exactly once; last = one per sample', () => {
  // user 0: 1..9 at times 0..8 (7 train targets after the split below), user 1: short
  const ds = dataset(
    [
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((it, t) => [it, t] as [number, number]),
      [[9, 1], [8, 3], [7, 5]],
    ],
    9,
  );
  const seqs = trainSequences(ds);
  // the train sequence of each user = history of its first train sample + all its train targets, in time order
  for (const [u, seq] of seqs) {
    const own = ds.samples.train.filter((s) => s.user === u);
    assert.deepEqual(seq.slice(1), own.map((s) => s.target.item));
    assert.equal(seq[0], own[0].history[0].item);
  }
  // a train split whose samples do not chain is refused, not silently miscounted
  const broken = { ...ds, samples: { ...ds.samples, train: ds.samples.train.filter((_, i) => i !== 2) } };
  assert.throws(() => trainSequences(broken), /does not continue the user's previous train sample/);
  const ex = buildExamples(ds, 3, 'allPositions');
  const labels = ex.flatMap((e) => [...e.labels].filter((x) => x > 0)).sort((a, b) => a - b);
  assert.deepEqual(labels, ds.samples.train.map((s) => s.target.item).sort((a, b) => a - b));
  for (const e of ex) {
    // each label is the item right after the input at that position (next-item objective)
    for (let i = 0; i < 3; i++) {
      if (e.labels[i] === 0) continue;
      const seq = seqs.get(e.user)!;
      const at = seq.indexOf(e.labels[i]);
      assert.equal(e.ids[i], seq[at - 1]);
    }
  }
  const last = buildExamples(ds, 3, 'last');
  assert.equal(last.length, ds.samples.train.length);
  const s = ds.samples.train[ds.samples.train.length - 1];
  const e = last[last.length - 1];
  assert.deepEqual([...e.labels], [0, 0, s.target.item]);
  assert.deepEqual([...e.ids], s.history.slice(-3).map((h) => h.item));
});

test('catalogCrossEntropy equals softmax cross-entropy without the pad column, value and gradient', async () => {
  await initBackend();
  const h = tf.tensor2d([[0.3, -1, 2], [1.5, 0.2, -0.7], [0, 0.4, 0.1], [2, 2, -1]]);
  const E = tf.tensor2d([[9, 9, 9], [0.1, 0.2, 0.3], [-0.5, 1, 0], [1, -1, 0.5], [0.3, 0.3, -2]]);
  const tgt = tf.tensor1d([1, 3, 4, 2], 'int32');
  const ours = (hh: tf.Tensor, ee: tf.Tensor) => catalogCrossEntropy(hh as tf.Tensor2D, ee as tf.Tensor2D, tgt);
  // reference: logits over real items 1..4 only, tfjs' softmaxCrossEntropy with one-hot labels
  const ref = (hh: tf.Tensor, ee: tf.Tensor) => {
    const real = tf.slice(ee, [1, 0], [4, 3]);
    const logits = tf.matMul(hh as tf.Tensor2D, real as tf.Tensor2D, false, true);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.sub(tgt, tf.scalar(1, "int32")) as tf.Tensor1D, 4), logits) as tf.Scalar;
  };
  const before = tf.memory().numTensors;
  const [lo, lr] = tf.tidy(() => [ours(h, E).arraySync() as number, ref(h, E).arraySync() as number]);
  assert.ok(Math.abs(lo - lr) < 1e-5, `${lo} vs ${lr}`);
  const go = tf.grads(ours)([h, E]);
  const gr = tf.grads(ref)([h, E]);
  for (let i = 0; i < 2; i++) {
    const a = go[i].dataSync();
    const b = gr[i].dataSync();
    for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j] - b[j]) < 1e-5, `grad ${i}[${j}]: ${a[j]} vs ${b[j]}`);
  }
  assert.deepEqual(Array.from(go[1].dataSync().slice(0, 3)), [0, 0, 0]); // the pad row gets no gradient
  tf.dispose([...go, ...gr]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([h, E, tgt]);
});

test('Popularity counts each train-period interaction once and breaks ties by id', async () => {
  // 10 users so the 80/10/10 split leaves the last targets out of train
  const seqs: [number, number][][] = [];
  for (let u = 0; u < 10; u++) seqs.push([[3, u], [2, 100 + u], [5, 200 + u]]);
  const ds = dataset(seqs, 6);
  // 20 samples, sorted by target time: 10 with target 2 (t 100..109), then 10 with target 5 (t 200..209);
  // train = first 16 → users 0..9 with 3→2, users 0..5 with [3,2]→5
  const c = popularityCounts(ds);
  assert.deepEqual([...c], [0, 0, 10, 10, 0, 6, 0]);
  assert.deepEqual([...popularityCounts(ds, 'targets')], [0, 0, 10, 0, 0, 6, 0]);
  const pop = trainPopularity(ds);
  const scores = ((await pop.scorer(ds.samples.test)) as Float32Array[])[0];
  // order: 2 (10, lower id than 3), 3 (10), 5 (6), then 1, 4, 6 by id
  const order = [1, 2, 3, 4, 5, 6].sort((a, b) => scores[b] - scores[a]);
  assert.deepEqual(order, [2, 3, 5, 1, 4, 6]);
  // test samples: users 8, 9 with history [3, 2] → target 5; 2 and 3 are masked, so 5 is ranked first
  const r = await evaluateRanking(ds, 'test', pop.scorer);
  assert.deepEqual([...r.ranks], [1, 1]);
  const unmasked = await evaluateRanking(ds, 'test', pop.scorer, { maskHistory: false });
  assert.deepEqual([...unmasked.ranks], [3, 3]);
});

test('early stopping selects on the valid samples it is given (the experiment subset), not the whole valid split', async () => {
  await initBackend({ log: false });
  const seqs: [number, number][][] = [];
  for (let u = 0; u < 40; u++) seqs.push([[1 + (u % 5), u], [2 + (u % 4), 100 + u], [3 + (u % 3), 200 + u], [1 + (u % 6), 300 + u]]);
  const ds = dataset(seqs, 8);
  assert.ok(ds.samples.valid.length > 4, `valid split: ${ds.samples.valid.length}`);
  // a model without learnable effect: fixed scores, so selection only depends on which samples are evaluated
  const w = tf.variable(tf.zeros([1]));
  const model: SeqModel = {
    params: { w },
    noDecay: new Set(['w']),
    loss: () => tf.sum(tf.mul(w, 0)) as tf.Scalar,
    score: (samples) => tf.tensor2d(samples.flatMap(() => [0, 8, 7, 6, 5, 4, 3, 2, 1]), [samples.length, 9]),
  };
  const subset = ds.samples.valid.slice(1, 4);
  const cfg = { ...NEURAL_DEFAULTS, epochs: 2, patience: 1, batchSize: 64, maxLen: 3 };
  const run = await trainSeqModel('fixed', ds, cfg, model, {}, { valid: subset });
  assert.equal(run.best?.n, subset.length);
  assert.deepEqual([...run.best!.sampleIndex], subset.map((s) => s.index));
  const whole = await trainSeqModel('fixed', ds, cfg, model, {});
  assert.equal(whole.best?.n, ds.samples.valid.length);
  w.dispose();
});

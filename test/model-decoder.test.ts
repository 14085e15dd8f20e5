// Decoder invariants (lib/model/decoder.ts): causality, rotary positions are relative, left and right padding give the
// same hidden states for real tokens, grouped-query attention equals multi-head attention with each key/value head
// repeated for its consecutive group of query heads (Hugging Face `repeat_kv`), and the post-norm read-out has unit
// RMS when the final norm weights are one; a shared prefix run once gives the hidden states and gradients of the full
// batch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, forward, forwardSharedPrefix, initParams, padBatch, type Params, type TokenBatch } from '../lib/model/decoder';
import { paramGrads } from '../lib/train/grads';
import { makeRng } from '../lib/util/rng';

const CFG = modelConfig('tiny', { vocabSize: 60, maxSeqLen: 64, initStd: 0.3 }); // 4 heads, 2 kv heads
const D = CFG.dModel;
let params: Params;

before(async () => {
  await initBackend({ log: false });
  params = initParams(CFG, 31);
});
after(() => disposeParams(params));

function seq(seed: number, n: number): number[] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, () => 1 + rng.int(CFG.vocabSize - 1));
}

function hidden(p: Params, batch: TokenBatch, cfg = CFG): Float32Array {
  return tf.tidy(() => forward(p, cfg, batch).dataSync() as Float32Array);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('causal: changing token t changes positions ≥ t only', () => {
  const a = seq(1, 10);
  const b = [...a];
  b[6] = (b[6] % (CFG.vocabSize - 1)) + 1;
  const ha = hidden(params, padBatch([a], 'right'));
  const hb = hidden(params, padBatch([b], 'right'));
  assert.ok(maxDiff(ha.subarray(0, 6 * D), hb.subarray(0, 6 * D)) < 1e-6);
  for (let t = 6; t < 10; t++) assert.ok(maxDiff(ha.subarray(t * D, (t + 1) * D), hb.subarray(t * D, (t + 1) * D)) > 1e-3, `position ${t}`);
});

test('rotary positions are relative: shifting every position by a constant leaves the hidden states unchanged', () => {
  const s = seq(2, 12);
  const batch = padBatch([s], 'right');
  const shifted: TokenBatch = { ...batch, positions: batch.positions.map((p) => p + 17) };
  const h0 = hidden(params, batch);
  assert.ok(maxDiff(h0, hidden(params, shifted)) < 1e-4);
  // …while scrambling the relative positions does change them (the positions are really used)
  const scrambled: TokenBatch = { ...batch, positions: batch.positions.map((p) => (p * 5) % 12) };
  assert.ok(maxDiff(h0, hidden(params, scrambled)) > 1e-2);
});

test('left and right padding give the same hidden states for the real tokens', () => {
  const a = seq(3, 5);
  const b = seq(4, 11);
  const right = hidden(params, padBatch([a, b], 'right'));
  const left = hidden(params, padBatch([a, b], 'left'));
  const T = 11;
  // row 0: right-padded tokens 0..4 sit at positions 6..10 when left-padded
  assert.ok(maxDiff(right.subarray(0, 5 * D), left.subarray(6 * D, T * D)) < 1e-5);
  assert.ok(maxDiff(right.subarray(T * D, 2 * T * D), left.subarray(T * D, 2 * T * D)) < 1e-5);
});

test('grouped-query attention equals multi-head attention with each kv head repeated for its consecutive query heads', () => {
  const mha = modelConfig('tiny', { vocabSize: 60, maxSeqLen: 64, initStd: 0.3, nKvHeads: 4 });
  const dh = D / CFG.nHeads;
  const group = CFG.nHeads / CFG.nKvHeads;
  // copy every weight; widen wk/wv from [d, 2·dh] to [d, 4·dh] with column block h = GQA block floor(h / group)
  const wide: Params = {};
  for (const [k, v] of Object.entries(params)) {
    if (!/w[kv]$/.test(k)) {
      wide[k] = tf.variable(v.clone());
      continue;
    }
    const src = v.arraySync() as number[][];
    const rows = src.map((r) => Array.from({ length: CFG.nHeads * dh }, (_, j) => r[Math.floor(Math.floor(j / dh) / group) * dh + (j % dh)]));
    wide[k] = tf.variable(tf.tensor2d(rows));
  }
  const batch = padBatch([seq(5, 9), seq(6, 4)], 'right');
  assert.ok(maxDiff(hidden(params, batch), hidden(wide, batch, mha)) < 1e-5);
  // the interleaved mapping (h → h mod nKvHeads) is a different model: the test can tell them apart
  const interleaved: Params = {};
  for (const [k, v] of Object.entries(params)) {
    if (!/w[kv]$/.test(k)) {
      interleaved[k] = wide[k];
      continue;
    }
    const src = v.arraySync() as number[][];
    const rows = src.map((r) => Array.from({ length: CFG.nHeads * dh }, (_, j) => r[(Math.floor(j / dh) % CFG.nKvHeads) * dh + (j % dh)]));
    interleaved[k] = tf.variable(tf.tensor2d(rows));
  }
  assert.ok(maxDiff(hidden(params, batch), hidden(interleaved, batch, mha)) > 1e-3);
  disposeParams(wide);
  for (const k of Object.keys(interleaved)) if (/w[kv]$/.test(k)) interleaved[k].dispose();
});

test('the read-out hidden states are post-norm: unit RMS per token when the final norm weights are one', () => {
  const h = hidden(params, padBatch([seq(7, 8)], 'right'));
  for (let t = 0; t < 8; t++) {
    let ms = 0;
    for (let j = 0; j < D; j++) ms += h[t * D + j] ** 2 / D;
    assert.ok(Math.abs(ms - 1) < 1e-4, `token ${t}: mean square ${ms}`);
  }
});

test('a shared prefix run once gives the full batch\'s hidden states and parameter gradients', () => {
  const P = 7;
  const prompt = seq(40, P);
  // G = 4 continuations of one prompt, one of them empty (the row ends with the prompt)
  const seqs = [[...prompt, ...seq(41, 3)], [...prompt], [...prompt, ...seq(42, 5)], [...prompt, ...seq(43, 1)]];
  const T = P + 5;
  const batch = padBatch(seqs, 'right', 0, T);
  const full = hidden(params, batch);
  const shared = tf.tidy(() => forwardSharedPrefix(params, CFG, seqs, T, P).dataSync() as Float32Array);
  assert.equal(shared.length, full.length);
  const real = (h: Float32Array) => h.filter((_, i) => batch.mask[Math.floor(i / D)] === 1);
  assert.ok(maxDiff(real(shared), real(full)) < 1e-4, `hidden states differ by ${maxDiff(real(shared), real(full))}`);
  // a loss that reads every real position, with different weights per row: gradients through the copies add up
  const w = tf.tidy(() => tf.mul(tf.randomNormal([4, T, D], 0, 1, 'float32', 5), tf.tensor3d(Float32Array.from(batch.mask), [4, T, 1])));
  const loss = (h: tf.Tensor3D) => tf.sum(tf.mul(h, w)) as tf.Scalar;
  const a = paramGrads(params, () => loss(forward(params, CFG, batch)));
  const b = paramGrads(params, () => loss(forwardSharedPrefix(params, CFG, seqs, T, P)));
  assert.ok(Math.abs(a.value.dataSync()[0] - b.value.dataSync()[0]) < 1e-3);
  for (const k of Object.keys(a.grads)) {
    const ga = a.grads[k].dataSync();
    const gb = b.grads[k].dataSync();
    const scale = Math.max(...Array.from(ga, Math.abs));
    assert.ok(scale > 0, `${k}: no gradient`);
    assert.ok(maxDiff(ga, gb) < 1e-3 * scale, `${k}: gradients differ by ${maxDiff(ga, gb)} (scale ${scale})`);
  }
  tf.dispose([w, a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
  // a prefix the sequences do not share is refused
  assert.throws(() => forwardSharedPrefix(params, CFG, [seqs[0], seq(44, 9)], T, P), /differ at position/);
});

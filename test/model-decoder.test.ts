// Decoder invariants (lib/model/decoder.ts): causality, rotary positions are relative, left and right padding give the
// same hidden states for real tokens, grouped-query attention equals multi-head attention with each key/value head
// repeated for its consecutive group of query heads (Hugging Face `repeat_kv`), and the post-norm read-out has unit
// RMS when the final norm weights are one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, forward, initParams, padBatch, type Params, type TokenBatch } from '../lib/model/decoder';
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

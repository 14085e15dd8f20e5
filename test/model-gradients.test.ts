// Finite-difference gradient checks of the decoder on the default backend (wasm): the analytic gradient
// (tf.variableGrads through our custom kernels and the hand-written token-loss gradient) against central
// differences, for three scalar losses that cover what training uses: next-token cross-entropy (with pad weights),
// a policy-gradient-like Σ cᵢ·log π(aᵢ) through tokenLogProbs, and a read-out loss (cosine of two sequence vectors,
// spec §2 read-out), each checked on random entries of embed, wq, wk, w_gate, w_down and the norms.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig, type ModelConfig } from '../lib/model/config';
import { forward, initParams, lmLogits, padBatch, disposeParams, type Params } from '../lib/model/decoder';
import { crossEntropy, tokenLogProbs } from '../lib/model/losses';
import { readOut, type Pooling } from '../lib/model/readout';
import { paramGrads } from '../lib/train/grads';
import { makeRng } from '../lib/util/rng';

before(async () => {
  await initBackend({ log: false });
});

// A small *random* model: initStd 0.3 instead of 0.02, so attention is far from uniform and every layer is in its
// nonlinear regime (with 0.02 the attention/query gradients are ~1e-5, below float32 finite-difference noise).
const CFG: ModelConfig = modelConfig('tiny', { vocabSize: 50, maxSeqLen: 32, initStd: 0.3 }); // GQA: 4 heads, 2 kv
// Central differences D(ε) = (L(θ+ε) − L(θ−ε))/2ε, combined by Richardson extrapolation (4·D(ε/2) − D(ε))/3, which
// cancels the ε² truncation term: with initStd 0.3 the curvature is large enough that plain D(1e-2) is off by up to
// 25% (measured; it converges to the analytic value as ε shrinks), while the extrapolation is off by O(ε⁴).
// Tolerance: the loss is float32 (|L| ≲ 6, forward rounding ≈ 1e-6 absolute), so D(ε/2) carries ≈ 1e-6/1e-2 = 1e-4 of
// noise, and the extrapolation ≈ 1.5× that. Hence |fd − g| ≤ 3e-4 + 2%·|g|. A wrong gradient (a missing term, a
// transposed product, a dropped mask, the one-hot bug of the stock wasm OneHot kernel) is off by O(|g|), and
// every tensor checked has max |g| > 20·3e-4.
const EPS = 1e-2;
const ATOL = 3e-4;
const RTOL = 0.02;
const CHECKED = ['embed', 'layers.0.wq', 'layers.1.wk', 'layers.0.w_gate', 'layers.1.w_down', 'layers.0.attn_norm', 'layers.1.mlp_norm', 'final_norm'];

function checkGradients(name: string, params: Params, loss: () => tf.Scalar, seed: number, eps = EPS): void {
  const rng = makeRng(seed);
  const analytic = tf.tidy(() => {
    const { value, grads } = paramGrads(params, loss);
    value.dispose();
    const out: Record<string, Float32Array> = {};
    for (const k of CHECKED) out[k] = Float32Array.from(grads[k].dataSync() as Float32Array);
    return out;
  });
  const lossAt = (): number => {
    const l = tf.tidy(loss);
    const v = l.dataSync()[0];
    l.dispose();
    return v;
  };
  for (const k of CHECKED) {
    const p = params[k];
    const base = Float32Array.from(p.dataSync() as Float32Array);
    const g = analytic[k];
    let gmax = 0;
    for (const x of g) gmax = Math.max(gmax, Math.abs(x));
    // the test has power only if the gradient is well above the noise floor
    assert.ok(gmax > 20 * ATOL, `${name}: ${k} has a negligible gradient (max ${gmax})`);
    // random entries, plus the entry with the largest gradient
    const entries = [g.indexOf(g.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0)), ...Array.from({ length: 4 }, () => rng.int(base.length))];
    for (const i of entries) {
      const at = (delta: number) => {
        const v = base.slice();
        v[i] += delta;
        tf.tidy(() => p.assign(tf.tensor(v, p.shape)));
        return lossAt();
      };
      const d = (e: number) => (at(e) - at(-e)) / (2 * e);
      const fd = (4 * d(eps / 2) - d(eps)) / 3;
      tf.tidy(() => p.assign(tf.tensor(base, p.shape)));
      const err = Math.abs(fd - g[i]);
      assert.ok(err <= ATOL + RTOL * Math.abs(g[i]), `${name}: d/d${k}[${i}] analytic ${g[i]} vs finite difference ${fd}`);
    }
  }
}

/** Two right-padded sequences of different lengths: next-token targets and a pad mask as weights. */
function lmBatch(seed: number) {
  const rng = makeRng(seed);
  const seqs = [9, 6, 8].map((n) => Array.from({ length: n }, () => rng.int(CFG.vocabSize)));
  const batch = padBatch(seqs.map((s) => s.slice(0, -1)), 'right');
  const T = batch.T;
  const targets = new Int32Array(batch.B * T);
  const weights = new Float32Array(batch.B * T);
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length - 1; t++) {
      targets[b * T + t] = s[t + 1];
      weights[b * T + t] = 1;
    }
  });
  return { batch, targets, weights, rng };
}

test('cross-entropy (pad-weighted) gradient matches central differences', () => {
  const params = initParams(CFG, 1);
  const { batch, targets, weights } = lmBatch(2);
  const loss = () => {
    const h = forward(params, CFG, batch);
    const logits = lmLogits(params, tf.reshape(h, [batch.B * batch.T, CFG.dModel]) as tf.Tensor2D);
    return crossEntropy(logits, tf.tensor1d(targets, 'int32'), tf.tensor1d(weights));
  };
  checkGradients('crossEntropy', params, loss, 3);
  disposeParams(params);
});

test('Σ cᵢ·log π(aᵢ) through tokenLogProbs: gradient matches central differences', () => {
  const params = initParams(CFG, 4);
  const { batch, targets, rng } = lmBatch(5);
  const N = batch.B * batch.T;
  // signed coefficients, like advantages; pads get 0
  const coef = Float32Array.from({ length: N }, (_, i) => (batch.mask[i] ? rng.normal() : 0));
  const loss = () => {
    const h = forward(params, CFG, batch);
    const logits = lmLogits(params, tf.reshape(h, [N, CFG.dModel]) as tf.Tensor2D);
    return tf.neg(tf.sum(tf.mul(tokenLogProbs(logits, tf.tensor1d(targets, 'int32')), tf.tensor1d(coef)))) as tf.Scalar;
  };
  checkGradients('tokenLogProbs', params, loss, 6);
  disposeParams(params);
});

for (const pooling of ['last', 'mean', 'max'] as Pooling[]) {
  test(`read-out '${pooling}': gradient of cos(u, v) matches central differences`, () => {
    const params = initParams(CFG, 7);
    const rng = makeRng(8);
    // a "user" and an "item" sequence of different lengths in one right-padded batch (pads must not leak in)
    const batch = padBatch([10, 6].map((n) => Array.from({ length: n }, () => rng.int(CFG.vocabSize))), 'right');
    const loss = () => {
      const r = readOut(forward(params, CFG, batch), batch, pooling);
      const [u, v] = tf.unstack(r);
      return tf.div(tf.sum(tf.mul(u, v)), tf.mul(tf.norm(u), tf.norm(v))) as tf.Scalar;
    };
    // max pooling is only piecewise smooth (the arg-max token of a dimension may switch within ±ε): a smaller ε keeps
    // the perturbation inside one piece; |cos| ≤ 1, so the float32 noise stays ≈ 1e-7/2.5e-3 = 4e-5.
    checkGradients(`readout-${pooling}`, params, loss, 9, pooling === 'max' ? 2.5e-3 : EPS);
    disposeParams(params);
  });
}

test('multi-head attention without GQA (nKvHeads = nHeads): cross-entropy gradient matches central differences', () => {
  const cfg = modelConfig('tiny', { vocabSize: 50, maxSeqLen: 32, initStd: 0.3, nKvHeads: 4, nLayers: 2 });
  const params = initParams(cfg, 10);
  const { batch, targets, weights } = lmBatch(11);
  const loss = () => {
    const h = forward(params, cfg, batch);
    const logits = lmLogits(params, tf.reshape(h, [batch.B * batch.T, cfg.dModel]) as tf.Tensor2D);
    return crossEntropy(logits, tf.tensor1d(targets, 'int32'), tf.tensor1d(weights));
  };
  checkGradients('crossEntropy-mha', params, loss, 12);
  disposeParams(params);
});

test('tokenLogProbs: values equal log-softmax, and its gradient is onehot − softmax (hand-computed on 2×3 logits)', () => {
  const logits = [
    [1, 2, 0.5],
    [-1, 0, 3],
  ];
  const actions = [1, 2];
  const lse = logits.map((r) => Math.log(r.reduce((a, x) => a + Math.exp(x), 0)));
  const [values, grad] = tf.tidy(() => {
    const x = tf.tensor2d(logits);
    const a = tf.tensor1d(actions, 'int32');
    const v = tokenLogProbs(x, a).dataSync();
    const g = tf.grad((z: tf.Tensor) => tf.sum(tokenLogProbs(z as tf.Tensor2D, a)))(x).dataSync();
    return [Array.from(v), Array.from(g)];
  });
  actions.forEach((a, i) => assert.ok(Math.abs(values[i] - (logits[i][a] - lse[i])) < 1e-6));
  const expected = logits.flatMap((r, i) => r.map((x, j) => (j === actions[i] ? 1 : 0) - Math.exp(x - lse[i])));
  expected.forEach((e, i) => assert.ok(Math.abs(grad[i] - e) < 1e-6, `grad[${i}] ${grad[i]} vs ${e}`));
});

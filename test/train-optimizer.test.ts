// AdamW with global-norm clipping (lib/train/optimizer.ts) against a float64 reference written from the formulas,
// learning-rate schedules (lib/train/schedule.ts) at hand-computed points, and the gradient all-reduce helper.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { adamWStep, disposeAdamW, globalNorm, initAdamW, type AdamWConfig } from '../lib/train/optimizer';
import { lrAt } from '../lib/train/schedule';
import { allReduceGrads, paramGrads } from '../lib/train/grads';
import { SOLO, type Collective } from '../lib/train/parallel';

before(async () => {
  await initBackend({ log: false });
});

/** Reference AdamW (decoupled decay on matrices only, bias correction, clip by global norm). */
function referenceAdamW(
  p: Record<string, number[]>, shapes: Record<string, number[]>, gs: Record<string, number[]>[], cfg: AdamWConfig, lrs: number[],
) {
  const m: Record<string, number[]> = {};
  const v: Record<string, number[]> = {};
  for (const k of Object.keys(p)) {
    m[k] = p[k].map(() => 0);
    v[k] = p[k].map(() => 0);
  }
  const norms: number[] = [];
  gs.forEach((g, s) => {
    const norm = Math.sqrt(Object.values(g).flat().reduce((a, x) => a + x * x, 0));
    norms.push(norm);
    const scale = cfg.clipNorm > 0 && norm > cfg.clipNorm ? cfg.clipNorm / (norm + 1e-6) : 1;
    const t = s + 1;
    for (const k of Object.keys(p)) {
      p[k] = p[k].map((w, i) => {
        const gi = g[k][i] * scale;
        m[k][i] = cfg.beta1 * m[k][i] + (1 - cfg.beta1) * gi;
        v[k][i] = cfg.beta2 * v[k][i] + (1 - cfg.beta2) * gi * gi;
        const mh = m[k][i] / (1 - cfg.beta1 ** t);
        const vh = v[k][i] / (1 - cfg.beta2 ** t);
        const decay = shapes[k].length > 1 ? cfg.weightDecay * w : 0;
        return w - lrs[s] * (mh / (Math.sqrt(vh) + cfg.eps) + decay);
      });
    }
  });
  return { p, norms };
}

test('AdamW: three steps with clipping and weight decay match the float64 reference', () => {
  const cfg: AdamWConfig = { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clipNorm: 1 };
  const shapes = { w: [2, 3], norm: [3] };
  const init = { w: [0.5, -0.2, 0.1, 0.3, -0.4, 0.9], norm: [1, 1, 1] };
  // step 1 exceeds the clip norm (‖g‖ ≈ 3.2), steps 2–3 do not
  const gs = [
    { w: [1, -2, 0.5, 0.1, 0, 1.5], norm: [0.3, -1, 1] },
    { w: [0.1, 0.2, -0.1, 0.05, 0.3, -0.2], norm: [0.1, 0, -0.1] },
    { w: [-0.2, 0.1, 0.1, 0, -0.1, 0.2], norm: [0, 0.2, 0.1] },
  ];
  const lrs = [0.1, 0.05, 0.02];
  const params = { w: tf.variable(tf.tensor(init.w, shapes.w)), norm: tf.variable(tf.tensor(init.norm, shapes.norm)) };
  const state = initAdamW(params);
  const norms = gs.map((g, s) =>
    tf.tidy(() => adamWStep(params, { w: tf.tensor(g.w, shapes.w), norm: tf.tensor(g.norm, shapes.norm) }, state, cfg, lrs[s])),
  );
  const ref = referenceAdamW(structuredClone(init), shapes, gs, cfg, lrs);
  assert.equal(state.step, 3);
  norms.forEach((n, i) => assert.ok(Math.abs(n - ref.norms[i]) < 1e-5, `norm ${i}: ${n} vs ${ref.norms[i]}`));
  assert.ok(norms[0] > 1 && norms[1] < 1);
  for (const k of ['w', 'norm'] as const) {
    const got = params[k].dataSync();
    ref.p[k].forEach((x, i) => assert.ok(Math.abs(got[i] - x) < 1e-5, `${k}[${i}]: ${got[i]} vs ${x}`));
  }
  // the 1-D norm weights got no decay: with decay they would differ from the reference by ≈ lr·wd·w = 1e-2
  const before = tf.memory().numTensors;
  disposeAdamW(state);
  tf.dispose(Object.values(params));
  assert.equal(tf.memory().numTensors, before - 4 - 2);
});

test('AdamW: a non-finite gradient leaves the parameters and the step untouched', () => {
  const params = { w: tf.variable(tf.tensor([1, 2], [1, 2])) };
  const state = initAdamW(params);
  const n = tf.tidy(() => adamWStep(params, { w: tf.tensor([NaN, 1], [1, 2]) }, state, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 }));
  assert.ok(Number.isNaN(n));
  assert.equal(state.step, 0);
  assert.deepEqual(Array.from(params.w.dataSync()), [1, 2]);
  assert.equal(tf.tidy(() => globalNorm({ a: tf.tensor([3, 4]), b: tf.tensor([12]) })), 13);
  disposeAdamW(state);
  params.w.dispose();
});

test('schedules: linear warm-up, then constant or cosine to minRatio (hand-computed points)', () => {
  const cos = { kind: 'cosine' as const, warmupSteps: 4, minRatio: 0.1 };
  // warm-up: (step + 1)/4 of the peak
  assert.deepEqual([0, 1, 2, 3].map((s) => lrAt(s, 12, 1e-3, cos)), [2.5e-4, 5e-4, 7.5e-4, 1e-3]);
  // cosine over the 8 steps after warm-up: step 8 is halfway → 0.1 + 0.9·0.5 = 0.55 of the peak; step 12 → 0.1
  assert.ok(Math.abs(lrAt(4, 12, 1e-3, cos) - 1e-3) < 1e-15);
  assert.ok(Math.abs(lrAt(8, 12, 1e-3, cos) - 5.5e-4) < 1e-15);
  assert.ok(Math.abs(lrAt(12, 12, 1e-3, cos) - 1e-4) < 1e-15);
  assert.ok(Math.abs(lrAt(20, 12, 1e-3, cos) - 1e-4) < 1e-15); // clamped past the end
  const constant = { kind: 'constant' as const, warmupSteps: 0, minRatio: 1 };
  assert.deepEqual([0, 5, 100].map((s) => lrAt(s, 10, 2e-3, constant)), [2e-3, 2e-3, 2e-3]);
});

test('paramGrads keys gradients by parameter key; allReduceGrads sums flattened gradients in name order', () => {
  const params = { a: tf.variable(tf.tensor([1, 2])), b: tf.variable(tf.tensor([[3]])) };
  const { value, grads } = paramGrads(params, () => tf.add(tf.sum(tf.square(params.a)), tf.sum(tf.mul(params.b, 5))) as tf.Scalar);
  assert.equal(value.dataSync()[0], 1 + 4 + 15);
  assert.deepEqual(Object.keys(grads).sort(), ['a', 'b']);
  assert.deepEqual(Array.from(grads.a.dataSync()), [2, 4]);
  assert.deepEqual(Array.from(grads.b.dataSync()), [5]);
  // world 1 passes gradients through; a fake 2-rank collective adds the other rank's (here: 10, 20, 30)
  assert.equal(allReduceGrads(grads, ['a', 'b'], SOLO), grads);
  const fake: Collective = { ...SOLO, world: 2, allReduceSum: (buf) => buf.forEach((x, i) => (buf[i] = x + 10 * (i + 1))) };
  const summed = allReduceGrads(grads, ['a', 'b'], fake);
  assert.deepEqual(Array.from(summed.a.dataSync()), [12, 24]);
  assert.deepEqual(summed.b.shape, [1, 1]);
  assert.deepEqual(Array.from(summed.b.dataSync()), [35]);
  assert.ok(grads.a.isDisposed, 'the local gradients are released after the exchange');
  tf.dispose([value, ...Object.values(summed), params.a, params.b]);
});

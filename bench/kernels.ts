// Kernel-level timings on the current backend, for working on lib/model/wasmKernels.ts and the decoder (the
// end-to-end figures are `r2ec bench`). Shapes are those of the reference configuration (B 8, T 128, d 128,
// 4 heads, vocab 2000). With --profile, one reference training step is profiled and its kernels ranked.
//   node --import tsx bench/kernels.ts [--profile]
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { forward, initParams, lmLogits, padBatch } from '../lib/model/decoder';
import { crossEntropy } from '../lib/model/losses';
import { adamWStep, DEFAULT_ADAMW, initAdamW } from '../lib/train/optimizer';
import { paramGrads } from '../lib/train/grads';
import { makeRng } from '../lib/util/rng';

/** Median ms of `f` over n runs after 3 warm-up runs (outputs read back and disposed). */
function time(f: () => tf.Tensor | tf.Tensor[], n = 20): number {
  const once = () => {
    const t0 = performance.now();
    const r = f();
    for (const t of Array.isArray(r) ? r : [r]) {
      t.dataSync();
      t.dispose();
    }
    return performance.now() - t0;
  };
  for (let i = 0; i < 3; i++) once();
  const ms = Array.from({ length: n }, once).sort((a, b) => a - b);
  return ms[n >> 1];
}

function row(name: string, ms: number, flops?: number) {
  const gf = flops ? `${((flops / ms) * 1e-6).toFixed(1).padStart(7)} GFLOP/s` : '';
  console.log(`${name.padEnd(44)} ${ms.toFixed(3).padStart(9)} ms ${gf}`);
}

async function main() {
  const backend = await initBackend();
  const rnd = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', 1);
  console.log(`backend ${backend}, tfjs ${tf.version.tfjs}`);
  // dense layers and the tied output layer, [B·T, d] rows
  const x = rnd([1024, 128]);
  const w = rnd([128, 384]);
  const E = rnd([2000, 128]);
  const g = rnd([1024, 2000]);
  row('dense [1024,128]·[128,384]', time(() => tf.matMul(x, w)), 2 * 1024 * 128 * 384);
  row('logits h·Eᵀ [1024,128]·[2000,128]ᵀ', time(() => tf.matMul(x, E, false, true)), 2 * 1024 * 128 * 2000);
  row('dE = dlogitsᵀ·h [1024,2000]ᵀ·[1024,128]', time(() => tf.matMul(g, x, true, false)), 2 * 1024 * 128 * 2000);
  row('dh = dlogits·E [1024,2000]·[2000,128]', time(() => tf.matMul(g, E)), 2 * 1024 * 128 * 2000);
  // attention: [B, H, T, Dh] batched products
  const q = rnd([8, 4, 128, 32]);
  const k = rnd([8, 4, 128, 32]);
  const p = rnd([8, 4, 128, 128]);
  const attnFlops = 2 * 32 * 128 * 128 * 32;
  row('scores q·kᵀ [8,4,128,32]', time(() => tf.matMul(q, k, false, true)), attnFlops);
  row('context p·v [8,4,128,128]·[8,4,128,32]', time(() => tf.matMul(p, k)), attnFlops);
  row('dq-style pᵀ·v (transposeA)', time(() => tf.matMul(p, k, true, false)), attnFlops);
  row('softmax [8,4,128,128]', time(() => tf.softmax(p)));
  row('transpose [8,128,4,32] → [0,2,1,3]', time(() => tf.transpose(tf.reshape(q, [8, 128, 4, 32]), [0, 2, 1, 3])));
  row('slice contiguous [1,128,32] of [32,128,32]', time(() => tf.slice(tf.reshape(q, [32, 128, 32]), [5, 0, 0], [1, 128, 32])));
  row('slice strided [32,128,8] of [32,128,32]', time(() => tf.slice(tf.reshape(q, [32, 128, 32]), [0, 0, 8], [32, 128, 8])));
  row('oneHot [1024] → [1024,2000] float32', time(() => tf.oneHot(tf.range(0, 1024, 1, 'int32'), 2000, 1, 0, 'float32')));
  row('gather embed rows [1024] of [2000,128]', time(() => tf.gather(E, tf.range(0, 1024, 1, 'int32'))));

  if (process.argv.includes('--profile')) {
    const cfg = modelConfig('ref');
    const params = initParams(cfg, 0);
    const opt = initAdamW(params);
    const rng = makeRng(1);
    const T = cfg.maxSeqLen;
    const seqs = Array.from({ length: 8 }, () => Array.from({ length: T + 1 }, () => rng.int(cfg.vocabSize)));
    const batch = padBatch(seqs.map((s) => s.slice(0, T)), 'right');
    const targets = Int32Array.from(seqs.flatMap((s) => s.slice(1)));
    const step = () => {
      const { value, grads } = paramGrads(params, () => {
        const h = forward(params, cfg, batch);
        return crossEntropy(lmLogits(params, tf.reshape(h, [8 * T, cfg.dModel]) as tf.Tensor2D), tf.tensor1d(targets, 'int32'));
      });
      adamWStep(params, grads, opt, DEFAULT_ADAMW);
      tf.dispose([value, ...Object.values(grads)]);
    };
    for (let i = 0; i < 2; i++) step();
    const t0 = performance.now();
    step();
    console.log(`\nreference training step: ${(performance.now() - t0).toFixed(1)} ms`);
    const prof = await tf.profile(() => {
      step();
      return tf.scalar(0);
    });
    const byKernel = new Map<string, number>();
    for (const kk of prof.kernels) byKernel.set(kk.name, (byKernel.get(kk.name) ?? 0) + (kk.kernelTimeMs as number));
    for (const [name, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, 15)) row(`  ${name}`, ms);
  }
}

void main();

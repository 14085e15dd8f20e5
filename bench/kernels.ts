// Kernel-level timings on the current backend, for working on lib/model/wasm-kernels.ts and the decoder (the
// end-to-end figures are `r2ec bench`). Shapes are those of the reference configuration (B 8, T 128, d 128,
// 4 heads, vocab 2000). With --profile, a training step is profiled instead and its kernels ranked.
//   node --import tsx bench/kernels.ts [--profile [--shape ref|mid|wide|generate|recpo] [--detail]]
import { tf, initBackend, nativeStatus } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { generate, type SamplingConfig } from '../lib/model/generate';
import { TRAIN_SHAPES, shapeLabel, shapeModel, type ShapeName } from '../lib/cli/bench';
import { forward, forwardSharedPrefix, initParams, lmLogits, padBatch } from '../lib/model/decoder';
import { crossEntropy, tokenLogProbs } from '../lib/model/losses';
import { readOut } from '../lib/model/readout';
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
  console.log(`backend ${backend}, tfjs ${tf.version.tfjs}, native kernels: ${nativeStatus()?.active ? `on (${nativeStatus()?.core})` : `off (${nativeStatus()?.reason})`}`);
  if (process.argv.includes('--profile')) return profileStep(argValue('--shape') ?? 'ref');
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

}

/** Process CPU time in ms (user + system). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/**
 * Where a workload's time goes, per kernel: every kernel registered for the current backend is wrapped with a timer
 * (wasm kernels run synchronously, so the time around a kernel is its cost; tf.profile instead reads every output
 * back, which inflates small kernels). Times are process CPU time, which a busy machine distorts far less than wall
 * time. "outside kernels" is the JavaScript of tfjs's engine, tape and gradient bookkeeping, and our own code
 * between kernels.
 *   --shape ref | mid | wide   a training step at one of `r2ec bench`'s shapes (lib/cli/bench.ts TRAIN_SHAPES)
 *   --shape generate           RecPO rollouts: 16 prompts of ~300 tokens, 32 sampled tokens (quick-profile LM)
 *   --shape recpo              one RecPO forward/backward chunk (quick-profile LM)
 */
async function profileStep(shape: string) {
  let label: string;
  let work: () => void;
  if (shape === 'generate') {
    const cfg = modelConfig('small', { vocabSize: 2000, maxSeqLen: 384 });
    const params = initParams(cfg, 0);
    const rng = makeRng(1);
    // RecPO's layout on one rank: 4 users' prompts, G = 4 rollouts each (one prefill per prompt, lib/model/generate.ts)
    const users = Array.from({ length: 4 }, () => Array.from({ length: 280 + rng.int(40) }, () => 3 + rng.int(cfg.vocabSize - 3)));
    const prompts = users.flatMap((p) => [p, p, p, p]);
    const sampling: SamplingConfig = { temperature: 1.5, topK: 200, topP: 1, maxNewTokens: 32 };
    label = `generation, small (d ${cfg.dModel}, ${cfg.nLayers} layers, V ${cfg.vocabSize}), 4 prompts of ~300 tokens × 4 rollouts + 32 sampled`;
    work = () => void generate(params, cfg, prompts, sampling, makeRng(2));
  } else if (shape === 'recpo') {
    // one RecPO chunk (lib/train/recpo/step.ts): G = 4 trajectories of ~350 tokens (prompt + 32 reasoning tokens),
    // token log-probs of the 4·32 completion tokens, the read-out, and 4 target items (~110 tokens) encoded with gradient
    const cfg = modelConfig('small', { vocabSize: 2000, maxSeqLen: 384 });
    const params = initParams(cfg, 0);
    const rng = makeRng(1);
    const prompt = Array.from({ length: 310 }, () => 3 + rng.int(cfg.vocabSize - 3)); // shared by the group (forwardSharedPrefix)
    const trajs = Array.from({ length: 4 }, () => [...prompt, ...Array.from({ length: 30 + rng.int(20) }, () => 3 + rng.int(cfg.vocabSize - 3))]);
    const items = Array.from({ length: 4 }, () => Array.from({ length: 100 + rng.int(20) }, () => 3 + rng.int(cfg.vocabSize - 3)));
    const bt = padBatch(trajs, 'right');
    const bi = padBatch(items, 'right');
    const rows: number[] = [];
    const acts: number[] = [];
    trajs.forEach((q, j) => {
      for (let t = prompt.length; t < q.length; t++) {
        rows.push(j * bt.T + t - 1);
        acts.push(q[t]);
      }
    });
    label = `RecPO chunk, small (d ${cfg.dModel}, ${cfg.nLayers} layers, V ${cfg.vocabSize}): 4 × ~350 tokens (a shared 310-token prompt) + 4 items × ~110, forward + backward`;
    work = () => {
      const { value, grads } = paramGrads(params, () => {
        const h = forwardSharedPrefix(params, cfg, trajs, bt.T, prompt.length);
        const u = readOut(h, bt, 'last');
        const iv = readOut(forward(params, cfg, bi), bi, 'last');
        const logits = lmLogits(params, tf.gather(tf.reshape(h, [bt.B * bt.T, cfg.dModel]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D);
        const lp = tokenLogProbs(logits, tf.tensor1d(acts, 'int32'));
        return tf.add(tf.sum(lp), tf.sum(tf.mul(u, iv))) as tf.Scalar;
      });
      tf.dispose([value, ...Object.values(grads)]);
    };
  } else {
    const s = TRAIN_SHAPES[shape as ShapeName];
    if (!s) throw new Error(`--shape ${shape}: use ${Object.keys(TRAIN_SHAPES).join(', ')}, generate or recpo`);
    const cfg = shapeModel(s);
    const B = s.batch;
    const T = s.seq;
    const params = initParams(cfg, 0);
    const opt = initAdamW(params);
    const rng = makeRng(1);
    const seqs = Array.from({ length: B }, () => Array.from({ length: T + 1 }, () => rng.int(cfg.vocabSize)));
    const batch = padBatch(seqs.map((q) => q.slice(0, T)), 'right');
    const targets = Int32Array.from(seqs.flatMap((q) => q.slice(1)));
    label = `training step, ${shape} (${shapeLabel(s)})`;
    work = () => {
      const { value, grads } = paramGrads(params, () => {
        const h = forward(params, cfg, batch);
        return crossEntropy(lmLogits(params, tf.reshape(h, [B * T, cfg.dModel]) as tf.Tensor2D), tf.tensor1d(targets, 'int32'));
      });
      adamWStep(params, grads, opt, DEFAULT_ADAMW);
      tf.dispose([value, ...Object.values(grads)]);
    };
  }
  for (let i = 0; i < 2; i++) work();
  const totals = new Map<string, { ms: number; calls: number }>();
  const detail = process.argv.includes('--detail'); // one row per kernel and input shapes
  const backend = tf.getBackend();
  for (const k of tf.getKernelsForBackend(backend)) {
    const inner = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        const t0 = cpuMs();
        const out = inner(args);
        const key = detail ? `${k.kernelName} ${Object.values(args.inputs).map((t) => `[${t?.shape}]`).join('')}${args.attrs && 'transposeA' in args.attrs ? ` ${args.attrs.transposeA ? 'T' : 'N'}${args.attrs.transposeB ? 'T' : 'N'}` : ''}` : k.kernelName;
        const e = totals.get(key) ?? { ms: 0, calls: 0 };
        e.ms += cpuMs() - t0;
        e.calls++;
        totals.set(key, e);
        return out;
      }) as tf.KernelFunc,
    });
  }
  const n = 3;
  const t0 = cpuMs();
  const w0 = performance.now();
  for (let i = 0; i < n; i++) work();
  const stepMs = (cpuMs() - t0) / n;
  const wallMs = (performance.now() - w0) / n;
  const inKernels = [...totals.values()].reduce((a, e) => a + e.ms, 0) / n;
  console.log(`\n${label}: ${stepMs.toFixed(1)} ms CPU per run (wall ${wallMs.toFixed(1)} ms), mean of ${n}`);
  console.log(`${'kernel'.padEnd(28)} ${'ms/run'.padStart(9)} ${'share'.padStart(6)} ${'calls/run'.padStart(10)}`);
  const rows = [...totals].map(([name, e]) => [name, e.ms / n, e.calls / n] as const).sort((a, b) => b[1] - a[1]);
  for (const [name, ms, calls] of rows.slice(0, detail ? 60 : 18)) {
    console.log(`${name.padEnd(detail ? 60 : 28)} ${ms.toFixed(2).padStart(9)} ${((100 * ms) / stepMs).toFixed(1).padStart(5)}% ${calls.toFixed(0).padStart(10)}`);
  }
  console.log(`${'(outside kernels)'.padEnd(28)} ${(stepMs - inKernels).toFixed(2).padStart(9)} ${((100 * (stepMs - inKernels)) / stepMs).toFixed(1).padStart(5)}%`);
}

void main();

// The native kernels (issue 10; native/, lib/model/native-kernels.ts, lib/model/fused-kernels.ts):
//  - every replaced kernel against the kernel it replaced (the stock wasm kernel, or ./wasm-kernels' fix), on the
//    layouts a training step produces, the broadcasts it hands back, and special values (−1e9 masks, 0, ±inf, NaN);
//  - every fused op against the tfjs formulation the decoder and the optimizer use without it: values and
//    gradients, including grouped-query attention with a cache offset, a window and left-padded rows;
//  - the load contract: R2EC_NATIVE=0 never loads it, a module that cannot load falls back with one log line, and
//    R2EC_NATIVE=1 with a module that cannot load is an error (on wasm; other backends have their own kernels);
//  - the gradient checks, the kernel tests and LM training (same-seed determinism, world 2 = world 1) once more with
//    the other kernel set, in a child process, so that one `npm test` covers both.
// The kernel tests need the module: they fail when R2EC_NATIVE=1 (CI) and the module is not active, and are skipped
// with the reason otherwise.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tf, initBackend, nativeStatus } from '../lib/model/backend';
import { BLAS_CORE, broadcastKind, nativeMode, stockKernel } from '../lib/model/native-kernels';
import { fusedAdamW, fusedAttention, fusedOpsActive, fusedRmsNorm, fusedRope, fusedSumSquares, fusedSwiglu } from '../lib/model/fused-kernels';
import { makeRng, type Rng } from '../lib/util/rng';

const ROOT = path.resolve(__dirname, '..');

before(async () => {
  await initBackend({ log: false });
});

/** Skip reason when the module is not active and not required; undefined when the tests can run. */
function unavailable(): string | undefined {
  const s = nativeStatus();
  if (s?.active) return undefined;
  if (process.env.R2EC_NATIVE === '1') return undefined; // required: the tests run and fail
  return `native kernels not active here (${s?.reason}); npm ci builds them when Debian's libopenblas-dev is installed`;
}
/** A test that needs the module (skipped with the reason when it is not active and not required). */
function nativeTest(name: string, fn: () => void): void {
  test(name, (t) => {
    const why = unavailable();
    if (why) {
      t.skip(why);
      return;
    }
    fn();
  });
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
function rand(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  return tf.tensor(Float32Array.from({ length: prod(shape) }, () => rng.normal() * scale), shape);
}

/** Run a kernel function directly (no tape) and read its output(s) back. */
function runDirect(fn: tf.KernelFunc, inputs: tf.NamedTensorMap, attrs: object = {}): { shape: number[]; dtype: string; vals: Float32Array | Int32Array }[] {
  const be = tf.backend();
  const out = fn({ inputs: inputs as unknown as tf.NamedTensorInfoMap, backend: be, attrs: attrs as tf.NamedAttrMap });
  const outs = Array.isArray(out) ? out : [out];
  return outs.map((o) => {
    const vals = be.readSync(o.dataId) as Float32Array | Int32Array;
    const r = { shape: [...o.shape], dtype: o.dtype, vals: vals.slice() };
    be.disposeData(o.dataId);
    return r;
  });
}

/** |a − b| ≤ atol + rtol·|b| elementwise, with NaN = NaN and equal infinities. */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (g === w) continue;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.fail(`${label}: element ${i} is ${g}, expected ${w}`);
  }
}

/** The native kernel and the one it replaced agree on these inputs. */
function sameAsStock(name: string, inputs: tf.NamedTensorMap, attrs: object, rtol: number, atol: number, label: string): void {
  const fn = tf.getKernel(name, 'wasm')!.kernelFunc;
  const st = stockKernel(name);
  assert.ok(st, `${name} was replaced`);
  const a = runDirect(fn, inputs, attrs);
  const b = runDirect(st!, inputs, attrs);
  assert.equal(a.length, b.length);
  a.forEach((o, i) => {
    assert.deepEqual(o.shape, b[i].shape, `${label}: shape`);
    assert.equal(o.dtype, b[i].dtype, `${label}: dtype`);
    close(o.vals, b[i].vals, rtol, atol, label);
  });
}

test('R2EC_NATIVE is parsed strictly; the status names the module when active', () => {
  assert.equal(nativeMode({}), 'auto');
  assert.equal(nativeMode({ R2EC_NATIVE: '1' }), 'on');
  assert.equal(nativeMode({ R2EC_NATIVE: ' 0 ' }), 'off');
  assert.throws(() => nativeMode({ R2EC_NATIVE: 'yes' }), /R2EC_NATIVE="yes" must be 1/);
  const s = nativeStatus()!;
  if (process.env.R2EC_NATIVE === '1') assert.equal(s.active, true, `R2EC_NATIVE=1 but not active: ${s.reason}`);
  if (process.env.R2EC_NATIVE === '0') assert.deepEqual([s.active, fusedOpsActive()], [false, false]);
  if (s.active) {
    assert.match(s.blas!, /OpenBLAS/);
    assert.equal(s.threads, 1); // one BLAS thread per rank
  }
});

test('broadcastKind: trailing blocks repeat as rows, leading blocks as columns', () => {
  assert.equal(broadcastKind([], [4, 5]), 'row');
  assert.equal(broadcastKind([5], [4, 5]), 'row');
  assert.equal(broadcastKind([1, 5], [4, 5]), 'row');
  assert.equal(broadcastKind([3, 4, 5], [2, 3, 4, 5]), 'row');
  assert.equal(broadcastKind([4, 1], [4, 5]), 'col');
  assert.equal(broadcastKind([2, 3, 1, 1], [2, 3, 4, 5]), 'col');
  assert.equal(broadcastKind([3, 1], [2, 3, 4]), undefined);
  assert.equal(broadcastKind([1, 3, 1], [2, 3, 4]), undefined);
});

nativeTest('binary kernels: same shape, scalars, rows and columns on both sides equal the stock kernels', () => {
  const rng = makeRng(21);
  const layouts: [number[], number[]][] = [
    [[7, 9], [7, 9]], [[7, 9], []], [[], [7, 9]], [[7, 9], [9]], [[9], [7, 9]], [[2, 7, 9], [7, 9]],
    [[7, 9], [7, 1]], [[7, 1], [7, 9]], [[2, 3, 4, 5], [2, 3, 1, 1]], [[1], [3, 4]],
    [[3, 1, 4], [1, 5, 1]], // a general broadcast: handed to the stock kernel
    [[0, 3], [3]], // empty
  ];
  for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'Maximum', 'Minimum', 'SquaredDifference']) {
    for (const [sa, sb] of layouts) {
      tf.tidy(() => {
        const a = rand(rng, sa);
        const b = name === 'RealDiv' ? tf.add(tf.abs(rand(rng, sb)), 0.5) : rand(rng, sb);
        sameAsStock(name, { a, b }, {}, 1e-6, 1e-7, `${name} [${sa}]·[${sb}]`);
      });
    }
  }
  // int32 operands go to the stock kernel
  tf.tidy(() => sameAsStock('Add', { a: tf.tensor1d([1, 2, 3], 'int32'), b: tf.tensor1d([4, 5, 6], 'int32') }, {}, 0, 0, 'Add int32'));
});

nativeTest('unary kernels equal the stock kernels, special values included', () => {
  const rng = makeRng(22);
  const special = [0, -0, 1, -1, 1e-30, -1e9, 1e9, 88, 89, -87, -88, 100, -100, Infinity, -Infinity, NaN, 1e-40, 3.4e38];
  for (const name of ['Square', 'Sqrt', 'Rsqrt', 'Exp', 'Log', 'Neg', 'Sigmoid', 'Abs', 'Reciprocal']) {
    tf.tidy(() => {
      const x = tf.concat([tf.mul(rand(rng, [1000]), 4), tf.tensor1d(special)]);
      // exp/log/sigmoid are polynomial approximations (≤ 2 ulp); the rest are exact IEEE operations
      const rtol = ['Exp', 'Log', 'Sigmoid'].includes(name) ? 3e-7 : 1e-7;
      sameAsStock(name, { x }, {}, rtol, 1e-37, `${name}`);
      sameAsStock(name, { x: tf.reshape(rand(rng, [6 * 7]), [2, 3, 7]) }, {}, rtol, 1e-37, `${name} rank 3`);
    });
  }
});

/** Float64 reduction of x over `axes` (sum or mean), in the output order of tf.sum. */
function reduce64(x: Float32Array, shape: number[], axes: number[], mean: boolean): number[] {
  const keep = shape.map((_, i) => !axes.includes(i));
  const outShape = shape.filter((_, i) => keep[i]);
  const out = new Float64Array(prod(outShape));
  const strides = shape.map((_, d) => prod(shape.slice(d + 1)));
  const outStrides = outShape.map((_, d) => prod(outShape.slice(d + 1)));
  const R = prod(axes.map((a) => shape[a]));
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    let k = 0;
    for (let d = 0; d < shape.length; d++) {
      if (!keep[d]) continue;
      o += (Math.floor(i / strides[d]) % shape[d]) * outStrides[k++];
    }
    out[o] += x[i];
  }
  return Array.from(out, (v) => (mean ? v / R : v));
}

nativeTest('reductions over contiguous axes: sums in double (closer to the exact value than the stock float sums), max/min as the stock kernels', () => {
  const rng = makeRng(23);
  const cases: [number[], number[]][] = [
    [[6, 7], [0]], [[6, 7], [1]], [[6, 7], [0, 1]], [[2, 3, 4, 5], [1, 2]], [[2, 3, 4, 5], [3]],
    [[2, 3, 4, 5], [0]], [[1000, 3], [0]], [[3, 600], [1]], [[2, 3, 4], [0, 2]], [[5], [0]],
  ];
  for (const [shape, axes] of cases) {
    for (const keepDims of [false, true]) {
      tf.tidy(() => {
        const x = rand(rng, shape);
        const xv = x.dataSync() as Float32Array;
        for (const [name, op] of [['Sum', tf.sum], ['Mean', tf.mean]] as const) {
          const got = op(x, axes, keepDims);
          const want = reduce64(xv, shape, axes, name === 'Mean');
          // float32 rounding of the result only (the stock kernel's float sums drift by ~1e-6 over 1000 terms)
          close(got.dataSync(), want, 2e-7, 1e-7, `${name} [${shape}] axes ${axes}`);
          const stock = runDirect(stockKernel(name)!, { x }, { axis: axes, keepDims })[0];
          assert.deepEqual(got.shape, stock.shape, `${name} [${shape}] axes ${axes}: shape as the stock kernel`);
        }
        sameAsStock('Max', { x }, { reductionIndices: axes, keepDims }, 0, 0, `Max [${shape}] axes ${axes}`);
        sameAsStock('Min', { x }, { axis: axes, keepDims }, 0, 0, `Min [${shape}] axes ${axes}`);
      });
    }
  }
  tf.tidy(() => sameAsStock('Sum', { x: rand(rng, [4, 5]) }, { axis: [-1], keepDims: false }, 2e-6, 1e-6, 'Sum axis −1'));
});

nativeTest('softmax equals the stock kernel (masked −1e9 rows included), and its one-pass gradient the closed form', () => {
  const rng = makeRng(24);
  tf.tidy(() => {
    // tf.softmax hands kernels a non-negative dim (the stock kernel reads logits.shape[dim])
    const x = tf.mul(rand(rng, [3, 4, 17]), 3);
    sameAsStock('Softmax', { logits: x }, { dim: 2 }, 1e-6, 1e-9, 'Softmax'); // both within a few ulp
    const masked = tf.tensor2d([[0, -1e9, 2, -1e9], [-1e9, -1e9, -1e9, -1e9], [1, 1, 1, 1]]);
    sameAsStock('Softmax', { logits: masked }, { dim: 1 }, 1e-6, 1e-9, 'Softmax masked');
    // d/dx Σ softmax(x)·r = y ⊙ (r − Σ y·r)
    const r = rand(rng, [3, 4, 17]);
    const g = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(tf.softmax(z), r)))(x);
    const y = tf.softmax(x);
    const want = tf.mul(y, tf.sub(r, tf.sum(tf.mul(y, r), -1, true)));
    close(g.dataSync(), want.dataSync(), 1e-5, 1e-7, 'softmax gradient');
  });
});

nativeTest('transpose [0,2,1,3] (attention heads) equals the stock kernel; Identity and same-dtype Cast share memory safely', () => {
  const rng = makeRng(25);
  tf.tidy(() => {
    sameAsStock('Transpose', { x: rand(rng, [2, 5, 3, 4]) }, { perm: [0, 2, 1, 3] }, 0, 0, 'Transpose 0213');
    sameAsStock('Transpose', { x: tf.tensor(Int32Array.from({ length: 120 }, (_, i) => i), [2, 5, 3, 4], 'int32') }, { perm: [0, 2, 1, 3] }, 0, 0, 'Transpose int32');
    sameAsStock('Transpose', { x: rand(rng, [2, 5, 3]) }, { perm: [2, 0, 1] }, 0, 0, 'Transpose other perm');
  });
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a); // Identity
  const c = tf.cast(a, 'float32');
  const d = tf.cast(a, 'int32');
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  b.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3]);
  assert.deepEqual([d.dtype, Array.from(d.dataSync())], ['int32', [1, 2, 3]]);
  tf.dispose([c, d]);
});

/** The decoder's tfjs formulations, which run when the native kernels are off. */
const reference = {
  rmsNorm: (x: tf.Tensor, w: tf.Tensor, eps: number, plusOne: boolean) =>
    tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), plusOne ? tf.add(w, 1) : w),
  swiglu: (g: tf.Tensor, u: tf.Tensor) => tf.mul(tf.mul(g, tf.sigmoid(g)), u),
  rope: (x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) => {
    const dh = x.shape[1]!;
    const P = new Float32Array(dh * dh);
    for (let i = 0; i < dh / 2; i++) {
      P[(i + dh / 2) * dh + i] = -1;
      P[i * dh + i + dh / 2] = 1;
    }
    return tf.add(tf.mul(x, cos), tf.mul(tf.matMul(x as tf.Tensor2D, tf.tensor2d(P, [dh, dh])), sin));
  },
};

/** Values and gradients (for a random linear read-out of the output) of a fused op against its reference. */
function sameOp(label: string, fused: (...xs: tf.Tensor[]) => tf.Tensor, ref: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], rtol = 2e-5, atol = 2e-6): void {
  tf.tidy(() => {
    const out = fused(...inputs);
    const want = ref(...inputs);
    assert.deepEqual(out.shape, want.shape, `${label}: shape`);
    close(out.dataSync(), want.dataSync(), rtol, atol, `${label}: value`);
    const r = rand(makeRng(99), want.shape);
    const g1 = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(fused(...xs), r)))(inputs);
    const g2 = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(ref(...xs), r)))(inputs);
    g1.forEach((g, i) => close(g.dataSync(), g2[i].dataSync(), rtol, atol, `${label}: gradient of input ${i}`));
  });
}

nativeTest('fused RMSNorm, SwiGLU and rotary positions equal the tfjs formulations, values and gradients', () => {
  const rng = makeRng(26);
  for (const plusOne of [false, true]) {
    sameOp(`rmsNorm plusOne=${plusOne}`, (x, w) => fusedRmsNorm(x, w, 1e-6, plusOne)!, (x, w) => reference.rmsNorm(x, w, 1e-6, plusOne), [rand(rng, [13, 24]), rand(rng, [24], 0.5)]);
  }
  sameOp('rmsNorm rank 3', (x, w) => fusedRmsNorm(x, w, 1e-5)!, (x, w) => reference.rmsNorm(x, w, 1e-5, false), [rand(rng, [2, 5, 8]), rand(rng, [8])]);
  // diverged activations overflow as in float32 tfjs (x² = inf, so the row becomes 0): the NaN guards downstream rely on it
  tf.tidy(() => {
    const big = tf.tensor2d([[3e19, 1, -2], [1, 2, 3]]);
    const w = tf.tensor1d([1, 1, 1]);
    close(fusedRmsNorm(big, w, 1e-6)!.dataSync(), reference.rmsNorm(big, w, 1e-6, false).dataSync(), 1e-6, 1e-7, 'rmsNorm overflow');
  });
  sameOp('swiglu', (g, u) => fusedSwiglu(g, u)!, reference.swiglu, [rand(rng, [11, 30], 3), rand(rng, [11, 30])]);
  const cos = rand(rng, [20, 16]);
  const sin = rand(rng, [20, 16]);
  sameOp('rope', (x) => fusedRope(x as tf.Tensor2D, cos as tf.Tensor2D, sin as tf.Tensor2D)!, (x) => reference.rope(x, cos, sin), [rand(rng, [20, 16])]);
  tf.dispose([cos, sin]);
  // shapes the fused ops do not take are handed back (undefined), never computed wrongly
  tf.tidy(() => {
    assert.equal(fusedRmsNorm(tf.zeros([3, 4]), tf.zeros([5]), 1e-6), undefined);
    assert.equal(fusedSwiglu(tf.zeros([3, 4]), tf.zeros([4])), undefined);
    assert.equal(fusedRope(tf.zeros([3, 5]), tf.zeros([3, 5]), tf.zeros([3, 5])), undefined);
  });
});

/** The decoder's stock attention: q·kᵀ + (0 / −1e9 mask), softmax, ·v, for q [B, Hkv, G·T, dh]. */
function stockAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, keyMask: Uint8Array, T: number, pastLen: number, window: number): tf.Tensor {
  const [B, Hkv, M] = q.shape as number[];
  const Tk = k.shape[2]!;
  const bias = new Float32Array(B * Hkv * M * Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hkv; h++) {
      for (let r = 0; r < M; r++) {
        const qpos = pastLen + (r % T);
        for (let j = 0; j < Tk; j++) {
          const visible = keyMask[b * Tk + j] === 1 && j <= qpos && qpos - j < window;
          bias[((b * Hkv + h) * M + r) * Tk + j] = visible ? 0 : -1e9;
        }
      }
    }
  }
  const scores = tf.add(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true), tf.tensor4d(bias, [B, Hkv, M, Tk]));
  return tf.matMul(tf.softmax(scores), v as tf.Tensor4D);
}

nativeTest('fused attention equals the stock attention: GQA groups, cache offset, window, padded rows; values and gradients', () => {
  const rng = makeRng(27);
  const cases = [
    { B: 2, Hkv: 2, G: 1, T: 6, past: 0, dh: 4, window: Infinity, pad: 'right' },
    { B: 2, Hkv: 1, G: 4, T: 5, past: 0, dh: 8, window: Infinity, pad: 'right' },
    { B: 3, Hkv: 2, G: 2, T: 4, past: 3, dh: 4, window: 5, pad: 'left' }, // cached keys, a local window, left pads
    { B: 2, Hkv: 2, G: 2, T: 1, past: 9, dh: 4, window: Infinity, pad: 'left' }, // one decode step
  ];
  for (const c of cases) {
    const Tk = c.past + c.T;
    const keyMask = new Uint8Array(c.B * Tk).fill(1);
    // row 0: two pads (at the start when left-padded: its first queries see no key at all); row 1: one pad at the end
    if (c.pad === 'left') {
      keyMask[0] = 0;
      keyMask[1] = 0;
    } else keyMask[Tk - 1] = 0;
    keyMask[2 * Tk - 1] = 0;
    const label = `attention B${c.B} Hkv${c.Hkv} G${c.G} T${c.T} past${c.past} window ${c.window}`;
    sameOp(
      label,
      (q, k, v) => fusedAttention(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, keyMask, c.T, c.past, c.window)!,
      (q, k, v) => stockAttention(q, k, v, keyMask, c.T, c.past, c.window),
      [rand(rng, [c.B, c.Hkv, c.G * c.T, c.dh]), rand(rng, [c.B, c.Hkv, Tk, c.dh]), rand(rng, [c.B, c.Hkv, Tk, c.dh])],
      1e-5,
      1e-6,
    );
  }
});

nativeTest('fused AdamW equals the tfjs update step by step; the fused global norm equals Σ‖g‖² in float32 (overflow included)', () => {
  const rng = makeRng(28);
  tf.tidy(() => {
    const p = rand(rng, [40, 3]);
    const g = rand(rng, [40, 3]);
    const m = rand(rng, [40, 3], 0.1);
    const v = tf.abs(rand(rng, [40, 3], 0.1));
    for (const wd of [0, 0.01]) {
      const a = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: wd, gradScale: 0.4, bc1: 1 - 0.9 ** 5, bc2: 1 - 0.999 ** 5 };
      const [p2, m2, v2] = fusedAdamW(p, g, m, v, a)!;
      const gs = tf.mul(g, a.gradScale);
      const mw = tf.add(tf.mul(m, a.beta1), tf.mul(gs, 1 - a.beta1));
      const vw = tf.add(tf.mul(v, a.beta2), tf.mul(tf.square(gs), 1 - a.beta2));
      let upd = tf.div(tf.div(mw, a.bc1), tf.add(tf.sqrt(tf.div(vw, a.bc2)), a.eps));
      if (wd > 0) upd = tf.add(upd, tf.mul(p, wd));
      const pw = tf.sub(p, tf.mul(upd, a.lr));
      close(m2.dataSync(), mw.dataSync(), 1e-6, 1e-9, 'adamw m');
      close(v2.dataSync(), vw.dataSync(), 1e-6, 1e-12, 'adamw v');
      close(p2.dataSync(), pw.dataSync(), 1e-6, 1e-9, `adamw p (wd ${wd})`);
    }
    const xs = [rand(rng, [7, 5]), rand(rng, [300]), tf.zeros([0])];
    const want = xs.reduce((s, x) => s + Array.from(x.dataSync()).reduce((a, y) => a + y * y, 0), 0);
    // a float32 result (as the tfjs norm's), summed exactly enough: within float32 rounding of the exact value
    assert.ok(Math.abs(fusedSumSquares(xs)! - want) < 2e-7 * want, `${fusedSumSquares(xs)} vs ${want}`);
    // and it overflows where float32 does: the optimizer's NaN guard (a diverged run) relies on it
    assert.equal(fusedSumSquares([tf.tensor1d([2e19, 1])]), Infinity);
    assert.equal(fusedSumSquares([tf.tensor1d([1.5e19]), tf.tensor1d([1.5e19])]), Infinity);
  });
});

nativeTest('native kernels leave no tensors behind (forward and backward of every fused op)', () => {
  const before = tf.memory().numTensors;
  const rng = makeRng(29);
  const keyMask = new Uint8Array(2 * 5).fill(1);
  const q = rand(rng, [2, 1, 5, 4]);
  const k = rand(rng, [2, 1, 5, 4]);
  const x = rand(rng, [5, 4]);
  const w = rand(rng, [4]);
  tf.tidy(() => {
    tf.grads((qq: tf.Tensor, kk: tf.Tensor) => tf.sum(fusedAttention(qq as tf.Tensor4D, kk as tf.Tensor4D, kk as tf.Tensor4D, keyMask, 5, 0)!))([q, k]);
    tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(fusedRmsNorm(xx, ww, 1e-6)!))([x, w]);
    tf.grad((xx: tf.Tensor) => tf.sum(fusedSwiglu(xx, xx)!))(x);
    tf.grad((xx: tf.Tensor) => tf.sum(fusedRope(xx as tf.Tensor2D, x as tf.Tensor2D, x as tf.Tensor2D)!))(x);
    tf.sum(tf.softmax(x));
  });
  tf.dispose([q, k, x, w]);
  assert.equal(tf.memory().numTensors, before);
});

/** Run a snippet in a fresh process with `env` added; returns exit code and stderr. */
function child(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SNIPPET = `const b = require('./lib/model/backend'); b.initBackend({ log: false }).then(() => { const s = b.nativeStatus(); console.log(JSON.stringify({ active: s.active, mode: s.mode, fused: require('./lib/model/fused-kernels').fusedOpsActive() })); }, (e) => { console.error('ERROR ' + e.message); process.exit(3); });`;

test('fallback: R2EC_NATIVE=0 never loads the module and says nothing; a module that cannot load falls back with ONE log line', () => {
  const off = child(SNIPPET, { R2EC_NATIVE: '0' });
  assert.equal(off.status, 0, off.stderr);
  assert.deepEqual(JSON.parse(off.stdout), { active: false, mode: 'off', fused: false });
  assert.doesNotMatch(off.stderr, /native/);
  for (const bad of ['/nonexistent/r2ec_native.node', path.join(ROOT, 'package.json')]) {
    const r = child(SNIPPET, { R2EC_NATIVE: '', R2EC_NATIVE_MODULE: bad });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { active: false, mode: 'auto', fused: false });
    const lines = r.stderr.split('\n').filter((l) => /native kernels/.test(l));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^r2ec: backend wasm.*wasm kernels: the native kernels cannot load \(.+\); R2EC_NATIVE=0 silences this$/);
  }
});

// The library loads first in a worker thread here, as in the ranks (lib/train/parallel.ts).
const CORE_SNIPPET = `const n = require('./lib/model/native-kernels'); const { Worker } = require('node:worker_threads'); const file = n.nativeModulePath();
const w = new Worker('const m = require(' + JSON.stringify(file) + '); require("node:worker_threads").parentPort.postMessage(m.info().core);', { eval: true });
w.on('message', (core) => { console.log(JSON.stringify({ worker: core, main: require(file).info().core })); w.terminate(); });`;

nativeTest('OpenBLAS runs one core type on every CPU (BLAS_CORE), in the main thread and the ranks; OPENBLAS_CORETYPE chooses another', () => {
  const pinned = child(CORE_SNIPPET, { OPENBLAS_CORETYPE: '' });
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.deepEqual(JSON.parse(pinned.stdout), { worker: BLAS_CORE, main: BLAS_CORE });
  const chosen = child(CORE_SNIPPET, { OPENBLAS_CORETYPE: 'Sandybridge' });
  assert.equal(chosen.status, 0, chosen.stderr);
  assert.deepEqual(JSON.parse(chosen.stdout), { worker: 'Sandybridge', main: 'Sandybridge' });
});

test('R2EC_NATIVE=1 with a module that cannot load is an error naming the reason (on wasm; other backends ignore it)', () => {
  const r = child(SNIPPET, { R2EC_NATIVE: '1', R2EC_NATIVE_MODULE: '/nonexistent/r2ec_native.node' });
  assert.equal(r.status, 3);
  assert.match(r.stderr, /ERROR R2EC_NATIVE=1 but the native kernels cannot load: \/nonexistent\/r2ec_native\.node not built/);
  // other backends have kernels of their own: there R2EC_NATIVE has no effect (CI sets it for every test)
  const cpu = child(SNIPPET, { R2EC_NATIVE: '1', R2EC_BACKEND: 'cpu' });
  assert.equal(cpu.status, 0, cpu.stderr);
  assert.deepEqual(JSON.parse(cpu.stdout), { active: false, mode: 'on', fused: false });
});

test('the other kernel set passes the gradient checks, the kernel tests and LM training (determinism, world 2 = world 1)', () => {
  // This process runs one kernel set; the same test files run here with the other one.
  const other = nativeStatus()?.active ? '0' : '1';
  if (other === '1' && unavailable()) return; // no module to switch to (reported by the skipped tests above)
  const files = ['test/model-gradients.test.ts', 'test/model-kernels.test.ts', 'test/train-lm.test.ts'];
  const env: Record<string, string | undefined> = { ...process.env, R2EC_NATIVE: other };
  delete env.NODE_TEST_CONTEXT; // set by this test runner for its children: a nested runner would not print TAP
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 900_000,
  });
  const summary = `${r.stdout}`.split('\n').filter((l) => /^# (pass|fail)|^not ok/.test(l)).join('; ');
  assert.equal(r.status, 0, `R2EC_NATIVE=${other}: ${summary}\n${r.stdout.slice(-3000)}${r.stderr.slice(-2000)}`);
  assert.match(summary, /# fail 0/);
});

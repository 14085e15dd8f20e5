// The wasm kernels we replace or add (lib/model/wasm-kernels.ts, lib/model/backend.ts), checked against naive
// float64 JavaScript on random shapes: BatchMatMul (batch > 1, transposes, batch broadcast, rank 4, both the
// direct and the swapped-transpose strategy), Slice (contiguous and strided, int32 and float32, size −1), OneHot
// (float32 output: the stock wasm kernel wrote int32 bits there) and UnsortedSegmentSum (the gather gradient).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend, backendName } from '../lib/model/backend';
import { makeRng, type Rng } from '../lib/util/rng';

before(async () => {
  await initBackend({ log: false });
});

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function randArray(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** op(a)·op(b) over flattened leading batch axes, one side broadcast when its batch is 1 (float64 sums). */
function naiveMatMul(a: Float32Array, sa: number[], b: Float32Array, sb: number[], ta: boolean, tb: boolean): Float64Array {
  const ra = sa.length;
  const rb = sb.length;
  const batchA = prod(sa.slice(0, -2));
  const batchB = prod(sb.slice(0, -2));
  const M = ta ? sa[ra - 1] : sa[ra - 2];
  const K = ta ? sa[ra - 2] : sa[ra - 1];
  const N = tb ? sb[rb - 2] : sb[rb - 1];
  const batch = Math.max(batchA, batchB);
  const out = new Float64Array(batch * M * N);
  for (let i = 0; i < batch; i++) {
    const oa = (batchA === 1 ? 0 : i) * M * K;
    const ob = (batchB === 1 ? 0 : i) * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = ta ? a[oa + k * M + m] : a[oa + m * K + k];
          const bv = tb ? b[ob + n * K + k] : b[ob + k * N + n];
          s += av * bv;
        }
        out[i * M * N + m * N + n] = s;
      }
    }
  }
  return out;
}

/** Which strategy the kernel picks (mirrors its cost rule), so that the cases provably cover both. */
function strategy(sa: number[], sb: number[], ta: boolean, tb: boolean): 'direct' | 'swapped' {
  const ra = sa.length;
  const rb = sb.length;
  const batchA = prod(sa.slice(0, -2));
  const batchB = prod(sb.slice(0, -2));
  const M = ta ? sa[ra - 1] : sa[ra - 2];
  const K = ta ? sa[ra - 2] : sa[ra - 1];
  const N = tb ? sb[rb - 2] : sb[rb - 1];
  const direct = (ta ? batchA * M * K : 0) + (tb ? batchB * K * N : 0);
  const swapped = (ta ? 0 : batchA * M * K) + (tb ? 0 : batchB * K * N) + Math.max(batchA, batchB) * M * N;
  return swapped < direct ? 'swapped' : 'direct';
}

/** Right-aligned broadcast of two batch shapes (a dimension of 1 stretches). */
function broadcastBatch(x: number[], y: number[]): number[] {
  const n = Math.max(x.length, y.length);
  return Array.from({ length: n }, (_, i) => {
    const a = x[x.length - n + i] ?? 1;
    const b = y[y.length - n + i] ?? 1;
    return a === 1 ? b : a;
  });
}

function checkMatMul(sa: number[], sb: number[], ta: boolean, tb: boolean, rng: Rng): void {
  const a = randArray(rng, prod(sa));
  const b = randArray(rng, prod(sb));
  const ref = naiveMatMul(a, sa, b, sb, ta, tb);
  const out = tf.tidy(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
  const got = out.dataSync();
  const K = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const label = `[${sa}]${ta ? 'ᵀ' : ''}·[${sb}]${tb ? 'ᵀ' : ''}`;
  const M = ta ? sa[sa.length - 1] : sa[sa.length - 2];
  const N = tb ? sb[sb.length - 2] : sb[sb.length - 1];
  const expectShape = [...broadcastBatch(sa.slice(0, -2), sb.slice(0, -2)), M, N];
  assert.deepEqual(out.shape, expectShape, `${label}: shape`);
  out.dispose();
  assert.equal(got.length, ref.length, `${label}: size`);
  // float32 products summed over K terms of N(0,1)·N(0,1): rounding error ≲ K·2⁻²⁴·√K-ish; 1e-5·K is generous
  // but far below a wrong element (O(√K)).
  const tol = 1e-5 * Math.max(K, 1) + 1e-6;
  for (let i = 0; i < ref.length; i++) {
    if (Math.abs(got[i] - ref[i]) > tol) assert.fail(`${label}: element ${i} is ${got[i]}, expected ${ref[i]}`);
  }
}

test('backend is wasm by default here (the kernels below are the wasm replacements)', () => {
  assert.equal(backendName(), 'wasm');
});

test('BatchMatMul: transposes × batch × broadcast × rank, both strategies, against naive matMul', () => {
  const rng = makeRng(11);
  const cases: [number[], number[], boolean, boolean][] = [
    // rank 2, all transpose combinations
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    // tied output layer shapes: logits = h·Eᵀ (transposeB, large b → swapped) and dE = dlogitsᵀ·h (transposeA)
    [[2, 64], [100, 64], false, true],
    [[16, 50], [16, 32], true, false],
    [[100, 64], [3, 100], true, true],
    // batch > 1, all transpose combinations
    [[3, 5, 7], [3, 7, 4], false, false],
    [[3, 7, 5], [3, 7, 4], true, false],
    [[3, 5, 7], [3, 4, 7], false, true],
    [[3, 7, 5], [3, 4, 7], true, true],
    // batch broadcast (one side has batch 1, or is rank 2)
    [[1, 5, 7], [3, 7, 4], false, false],
    [[3, 5, 7], [1, 7, 4], false, false],
    [[3, 5, 7], [7, 4], false, false],
    [[3, 7, 5], [7, 4], true, false],
    [[3, 5, 7], [4, 7], false, true],
    [[1, 3, 40], [2, 50, 40], false, true],
    [[2, 40, 3], [1, 40, 50], true, false],
    [[6, 4], [2, 4, 9], false, false],
    // rank 4 (attention [B, H, T, Dh]), with and without transposes, and a broadcast [1, 1, ...] operand
    [[2, 3, 5, 8], [2, 3, 6, 8], false, true],
    [[2, 3, 5, 6], [2, 3, 6, 8], false, false],
    [[2, 3, 6, 5], [2, 3, 6, 8], true, false],
    [[2, 3, 6, 5], [2, 3, 8, 6], true, true],
    [[2, 3, 5, 6], [1, 1, 6, 8], false, false],
    [[1, 1, 40, 6], [2, 3, 40, 30], true, false],
    // degenerate sizes
    [[1, 1], [1, 1], false, false],
    [[4, 1, 9], [4, 9, 1], false, false],
  ];
  const seen = new Set<string>();
  for (const [sa, sb, ta, tb] of cases) {
    seen.add(`${strategy(sa, sb, ta, tb)}:${ta || tb}`);
    checkMatMul(sa, sb, ta, tb, rng);
  }
  // the cases exercise the plain path, the direct-transpose path and the swapped path
  assert.ok(seen.has('direct:false') && seen.has('direct:true') && seen.has('swapped:true'), [...seen].join(' '));
  // random shapes and flags
  for (let r = 0; r < 60; r++) {
    const batch = [1, 1 + rng.int(4)][rng.int(2)];
    const M = 1 + rng.int(24);
    const K = 1 + rng.int(40);
    const N = 1 + rng.int(24);
    const ta = rng.next() < 0.5;
    const tb = rng.next() < 0.5;
    const bA = rng.next() < 0.25 ? 1 : batch;
    const bB = bA === 1 ? batch : rng.next() < 0.25 ? 1 : batch;
    checkMatMul([bA, ta ? K : M, ta ? M : K], [bB, tb ? N : K, tb ? K : N], ta, tb, rng);
  }
});

test('BatchMatMul: incompatible shapes are errors, not garbage', () => {
  assert.throws(() => tf.tidy(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 5]))), /inner shapes|must match/);
  assert.throws(() => tf.tidy(() => tf.matMul(tf.zeros([2, 3, 4]), tf.zeros([3, 4, 5]))), /broadcast/);
});

test('BatchMatMul: gradients through the kernel (transposed products) match the closed form dA = G·Bᵀ, dB = Aᵀ·G', () => {
  const rng = makeRng(12);
  for (const [sa, sb] of [
    [[2, 3, 5, 4], [2, 3, 4, 6]],
    [[3, 7, 9], [3, 9, 5]],
    [[6, 8], [8, 11]],
  ] as [number[], number[]][]) {
    const a = randArray(rng, prod(sa));
    const b = randArray(rng, prod(sb));
    const M = sa[sa.length - 2];
    const K = sa[sa.length - 1];
    const N = sb[sb.length - 1];
    const outSize = prod(sa.slice(0, -2)) * M * N;
    const g = randArray(rng, outSize);
    const [da, db] = tf.tidy(() => {
      const G = tf.tensor(g, [...sa.slice(0, -2), M, N]);
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), G));
      return tf.grads(f)([tf.tensor(a, sa), tf.tensor(b, sb)]).map((t) => t.dataSync());
    });
    // closed form per batch entry (tfjs's matMul gradient does not support batch broadcast; the engine never needs it)
    const batchA = prod(sa.slice(0, -2));
    const batchB = prod(sb.slice(0, -2));
    const refA = naiveMatMul(Float32Array.from(g), [batchA, M, N], b, [batchB, K, N], false, true);
    const refBfull = naiveMatMul(a, [batchA, M, K], Float32Array.from(g), [batchA, M, N], true, false);
    const refB = refBfull;
    for (let i = 0; i < refA.length; i++) assert.ok(Math.abs(da[i] - refA[i]) < 1e-4, `dA[${i}] ${da[i]} vs ${refA[i]}`);
    for (let i = 0; i < refB.length; i++) assert.ok(Math.abs(db[i] - refB[i]) < 1e-4, `dB[${i}] ${db[i]} vs ${refB[i]}`);
  }
});

/** Naive slice of a row-major array. */
function naiveSlice(x: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, d) => prod(shape.slice(d + 1)));
  const out: number[] = [];
  const idx = new Array(shape.length).fill(0);
  const total = prod(size);
  for (let o = 0; o < total; o++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += (begin[d] + idx[d]) * strides[d];
    out.push(x[off]);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

test('Slice: contiguous and strided slices of rank 1–4, float32 and int32, size −1, against naive indexing', () => {
  const rng = makeRng(13);
  let strided = 0;
  let contiguous = 0;
  for (let r = 0; r < 120; r++) {
    const rank = 1 + rng.int(4);
    const shape = Array.from({ length: rank }, () => 1 + rng.int(6));
    const begin = shape.map((d) => rng.int(d));
    const size = shape.map((d, i) => 1 + rng.int(d - begin[i]));
    const dtype = rng.next() < 0.3 ? 'int32' : 'float32';
    const n = prod(shape);
    const data = dtype === 'int32' ? Int32Array.from({ length: n }, (_, i) => i * 7 - 50) : randArray(rng, n);
    const ref = naiveSlice(data, shape, begin, size);
    const useMinus = rng.next() < 0.2;
    const sz = useMinus ? size.map((s, i) => (i === rank - 1 ? -1 : s)) : size;
    const expectSize = useMinus ? size.map((s, i) => (i === rank - 1 ? shape[i] - begin[i] : s)) : size;
    const refAdj = useMinus ? naiveSlice(data, shape, begin, expectSize) : ref;
    const out = tf.tidy(() => tf.slice(tf.tensor(data, shape, dtype), begin, sz));
    assert.deepEqual(out.shape, expectSize);
    assert.equal(out.dtype, dtype);
    assert.deepEqual(Array.from(out.dataSync()), refAdj, `slice [${shape}] begin [${begin}] size [${sz}]`);
    out.dispose();
    const isContiguous = tf.slice_util.isSliceContinous(shape, begin, expectSize);
    if (isContiguous) contiguous++;
    else strided++;
  }
  assert.ok(strided > 20 && contiguous > 20, `coverage: ${strided} strided, ${contiguous} contiguous`);
  // the attention-shaped case: a column block of [B·H, T, Dh]
  const x = randArray(rng, 32 * 16 * 8);
  const got = tf.tidy(() => tf.slice(tf.tensor(x, [32, 16, 8]), [3, 2, 4], [5, 10, 3]).dataSync());
  assert.deepEqual(Array.from(got), naiveSlice(x, [32, 16, 8], [3, 2, 4], [5, 10, 3]));
});

test('OneHot: float32 output holds 1/0 (the stock wasm kernel wrote int32 bits), int32 too, out-of-range rows are off', () => {
  const ids = [2, 0, 4, -1, 5, 2];
  const f = tf.tidy(() => tf.oneHot(tf.tensor1d(ids, 'int32'), 5, 3, -1, 'float32'));
  assert.equal(f.dtype, 'float32');
  const expected = ids.flatMap((id) => Array.from({ length: 5 }, (_, j) => (j === id ? 3 : -1)));
  assert.deepEqual(Array.from(f.dataSync()), expected);
  const i = tf.tidy(() => tf.oneHot(tf.tensor1d(ids, 'int32'), 5));
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(Array.from(i.dataSync()), ids.flatMap((id) => Array.from({ length: 5 }, (_, j) => (j === id ? 1 : 0))));
  // rank-2 indices
  const r2 = tf.tidy(() => tf.oneHot(tf.tensor2d([[1, 0], [2, 1]], [2, 2], 'int32'), 3, 1, 0, 'float32'));
  assert.deepEqual(r2.shape, [2, 2, 3]);
  assert.deepEqual(Array.from(r2.dataSync()), [0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]);
  tf.dispose([f, i, r2]);
});

test('gather gradient (UnsortedSegmentSum on wasm) sums repeated rows', () => {
  const rng = makeRng(14);
  const E = randArray(rng, 10 * 4);
  const ids = [3, 7, 3, 0, 9, 3];
  const R = randArray(rng, ids.length * 4);
  const g = tf.tidy(() =>
    tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor1d(ids, 'int32')), tf.tensor(R, [ids.length, 4]))))(
      tf.tensor(E, [10, 4]),
    ).dataSync(),
  );
  const ref = new Float64Array(40);
  ids.forEach((id, r) => {
    for (let j = 0; j < 4; j++) ref[id * 4 + j] += R[r * 4 + j];
  });
  for (let i = 0; i < 40; i++) assert.ok(Math.abs(g[i] - ref[i]) < 1e-6, `row ${Math.floor(i / 4)}: ${g[i]} vs ${ref[i]}`);
});

test('kernels leave no tensors behind', () => {
  const before = tf.memory().numTensors;
  const rng = makeRng(15);
  for (let i = 0; i < 5; i++) checkMatMul([2, 3, 4, 5], [2, 3, 6, 5], false, true, rng);
  tf.tidy(() => tf.slice(tf.ones([4, 5, 6]), [1, 1, 1], [2, 2, 2])).dispose();
  assert.equal(tf.memory().numTensors, before);
});

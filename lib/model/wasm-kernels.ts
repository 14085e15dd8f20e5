// Faster replacements for two wasm kernels of tfjs 4.22, measured on our machines (stack notes, wasm traps):
// - Slice reads a *copy of the whole input* (backend.readSync) before copying the slice: ~270 µs per slice of a
//   128k-element tensor. We read through a heap view instead.
// - BatchMatMul with batch > 1, or with transpose flags, runs a scalar loop (~2.7 GFLOP/s); only batch == 1
//   without transposes reaches XNNPACK (~35 GFLOP/s). We materialise transposes with the (fast) Transpose kernel
//   and run each batch entry through XNNPACK on heap *views* (tensor ids registered at an offset, no copy).
import * as tf from '@tensorflow/tfjs';

interface TensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
  refCount: number;
}
interface WasmBackend {
  wasm: {
    cwrap: (name: string, ret: null, args: string[]) => (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: { get(dataId: tf.DataId): TensorData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: tf.DataId): boolean;
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const shapeBytes = (s: number[]) => new Uint8Array(new Int32Array(s).buffer);

let wasmMatMul: ((...a: unknown[]) => void) | undefined;
let wasmTranspose: ((...a: unknown[]) => void) | undefined;

function setup(be: WasmBackend) {
  if (!wasmMatMul) {
    wasmMatMul = be.wasm.cwrap('BatchMatMul', null, [
      'number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number',
    ]);
    wasmTranspose = be.wasm.cwrap('Transpose', null, ['number', 'array', 'number', 'number', 'number', 'array', 'number']);
  }
}

/** Swap the last two axes of a rank-3 [n, r, c] tensor into a new heap tensor [n, c, r]. */
function transposeLast2(be: WasmBackend, t: tf.TensorInfo, n: number, r: number, c: number): tf.TensorInfo {
  const out = be.makeOutput([n, c, r], 'float32');
  const xId = be.dataIdMap.get(t.dataId).id;
  const outId = be.dataIdMap.get(out.dataId).id;
  if (n === 1) wasmTranspose!(xId, shapeBytes([r, c]), 2, 0, outId, shapeBytes([1, 0]), 2);
  else wasmTranspose!(xId, shapeBytes([n, r, c]), 3, 0, outId, shapeBytes([0, 2, 1]), 3);
  return out;
}

function view(be: WasmBackend, base: number, offsetFloats: number, size: number): number {
  const id = be.dataIdNextNumber++;
  be.wasm.tfjs.registerTensor(id, size, base + offsetFloats * 4);
  return id;
}

function keep(temps: tf.TensorInfo[], t: tf.TensorInfo): tf.TensorInfo {
  temps.push(t);
  return t;
}

/** Write the last-two-axes transpose of [n, r, c] tensor `t` into the existing tensor `out` ([n, c, r]). */
function transposeInto(be: WasmBackend, t: tf.TensorInfo, out: tf.TensorInfo, n: number, r: number, c: number): void {
  const xId = be.dataIdMap.get(t.dataId).id;
  const outId = be.dataIdMap.get(out.dataId).id;
  if (n === 1) wasmTranspose!(xId, shapeBytes([r, c]), 2, 0, outId, shapeBytes([1, 0]), 2);
  else wasmTranspose!(xId, shapeBytes([n, r, c]), 3, 0, outId, shapeBytes([0, 2, 1]), 3);
}

/** out[i] = a[i]·b[i] for untransposed [.., M, K]·[.., K, N], batches broadcast when one side has batch 1. */
function plainBatchMatMul(
  be: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo,
  batchA: number, batchB: number, M: number, K: number, N: number,
): void {
  const batch = Math.max(batchA, batchB);
  const aData = be.dataIdMap.get(a.dataId);
  const bData = be.dataIdMap.get(b.dataId);
  const oData = be.dataIdMap.get(out.dataId);
  if (batchB === 1) {
    // [batch·M, K] × [K, N]: one XNNPACK call (a's batch folds into rows).
    wasmMatMul!(aData.id, shapeBytes([1, batch * M, K]), 3, bData.id, shapeBytes([1, K, N]), 3, false, false, oData.id);
    return;
  }
  const aShape = shapeBytes([1, M, K]);
  const bShape = shapeBytes([1, K, N]);
  const ids: number[] = [];
  for (let i = 0; i < batch; i++) {
    const ai = view(be, aData.memoryOffset, batchA === 1 ? 0 : i * M * K, M * K);
    const bi = view(be, bData.memoryOffset, i * K * N, K * N);
    const oi = view(be, oData.memoryOffset, i * M * N, M * N);
    wasmMatMul!(ai, aShape, 3, bi, bShape, 3, false, false, oi);
    ids.push(ai, bi, oi);
  }
  // Disposing the view ids also frees the XNNPACK operator cached on each b view; memory stays with the owners.
  for (const id of ids) be.wasm.tfjs.disposeData(id);
}

function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): tf.TensorInfo {
  const be = args.backend as WasmBackend;
  setup(be);
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error('BatchMatMul: float32 only');
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = prod(a.shape.slice(0, -2));
  const batchB = prod(b.shape.slice(0, -2));
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) throw new Error(`matMul: inner shapes ${K} and ${Kb} of [${a.shape}] and [${b.shape}] must match`);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    throw new Error(`matMul: batch shapes of [${a.shape}] and [${b.shape}] do not broadcast`);
  }
  const batch = Math.max(batchA, batchB);
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)), M, N];
  const out = be.makeOutput(outShape, 'float32');
  // op(a)·op(b) needs a materialised transpose of each flagged operand. The same product is also
  // (op(b)ᵀ·op(a)ᵀ)ᵀ, which transposes the *unflagged* operands and the output instead: pick the smaller volume.
  // (Gradients such as dE = dlogitsᵀ·h of a tied output layer transpose 2M elements the first way, 0.4M the second.)
  const direct = (transposeA ? batchA * M * K : 0) + (transposeB ? batchB * K * N : 0);
  const swapped = (transposeA ? 0 : batchA * M * K) + (transposeB ? 0 : batchB * K * N) + batch * M * N;
  const temps: tf.TensorInfo[] = [];
  if (swapped < direct) {
    // out = (op(b)ᵀ · op(a)ᵀ)ᵀ: op(b)ᵀ is b itself when transposeB, else transpose(b); likewise for a.
    const bT = transposeB ? b : keep(temps, transposeLast2(be, b, batchB, K, N)); // [batchB, N, K]
    const aT = transposeA ? a : keep(temps, transposeLast2(be, a, batchA, M, K)); // [batchA, K, M]
    const outT = keep(temps, be.makeOutput([batch, N, M], 'float32'));
    plainBatchMatMul(be, bT, aT, outT, batchB, batchA, N, K, M);
    transposeInto(be, outT, out, batch, N, M);
  } else {
    const aa = transposeA ? keep(temps, transposeLast2(be, a, batchA, K, M)) : a;
    const bb = transposeB ? keep(temps, transposeLast2(be, b, batchB, N, K)) : b;
    plainBatchMatMul(be, aa, bb, out, batchA, batchB, M, K, N);
  }
  for (const t of temps) be.disposeData(t.dataId);
  return out;
}

function slice(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): tf.TensorInfo {
  const be = args.backend as WasmBackend;
  const { x } = args.inputs as { x: tf.TensorInfo };
  const { begin, size } = args.attrs as { begin: number[]; size: number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
  const out = be.makeOutput(s, x.dtype);
  if (prod(s) === 0) return out;
  const xv = be.typedArrayFromHeap(x);
  const ov = be.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, b, s)) {
    const off = tf.slice_util.computeFlatOffset(b, strides);
    ov.set(xv.subarray(off, off + prod(s)));
    return out;
  }
  // General case: copy contiguous runs of the last axis.
  const inner = s[rank - 1];
  const outer = prod(s.slice(0, -1));
  const idx = new Array(rank - 1).fill(0);
  for (let o = 0; o < outer; o++) {
    let off = b[rank - 1];
    for (let d = 0; d < rank - 1; d++) off += (b[d] + idx[d]) * strides[d];
    ov.set(xv.subarray(off, off + inner), o * inner);
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < s[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * OneHot: the wasm kernel of tfjs 4.22 ignores the dtype attribute and always writes int32 values, so
 * `oneHot(ids, V, 1, 0, 'float32')` returns float32 tensors holding the bit pattern of 1 (1.4e-45). Written out here.
 */
function oneHot(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): tf.TensorInfo {
  const be = args.backend as WasmBackend;
  const { indices } = args.inputs as { indices: tf.TensorInfo };
  const { dtype, depth, onValue, offValue } = args.attrs as { dtype: tf.DataType; depth: number; onValue: number; offValue: number };
  const out = be.makeOutput([...indices.shape, depth], dtype);
  const ov = be.typedArrayFromHeap(out);
  const iv = be.typedArrayFromHeap(indices);
  ov.fill(offValue);
  for (let i = 0; i < iv.length; i++) {
    const j = iv[i];
    if (j >= 0 && j < depth) ov[i * depth + j] = onValue; // out-of-range indices give an all-off row (tf semantics)
  }
  return out;
}

/**
 * GatherV2 (batchDims 0): tfjs 4.22's wasm kernel took ~7 ms to gather 1024 embedding rows of 128 floats (a
 * contiguous copy of 0.5 MB). Copy whole inner rows instead. Other cases go to the original kernel.
 */
let originalGather: tf.KernelFunc | undefined;
function gatherV2(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): tf.TensorInfo {
  const be = args.backend as WasmBackend;
  const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  const ax = axis < 0 ? axis + x.shape.length : axis;
  if ((batchDims ?? 0) !== 0 || x.dtype === 'string' || indices.dtype !== 'int32') {
    return originalGather!(args as never) as tf.TensorInfo;
  }
  const outer = prod(x.shape.slice(0, ax));
  const dim = x.shape[ax];
  const inner = prod(x.shape.slice(ax + 1));
  const out = be.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
  const xv = be.typedArrayFromHeap(x);
  const iv = be.typedArrayFromHeap(indices);
  const ov = be.typedArrayFromHeap(out);
  const n = iv.length;
  for (let j = 0; j < n; j++) {
    if (iv[j] < 0 || iv[j] >= dim) throw new Error(`GatherV2: the index value ${iv[j]} is not in [0, ${dim - 1}]`);
  }
  for (let o = 0; o < outer; o++) {
    const src = o * dim * inner;
    const dst = o * n * inner;
    for (let j = 0; j < n; j++) {
      const from = src + iv[j] * inner;
      ov.set(xv.subarray(from, from + inner), dst + j * inner);
    }
  }
  return out;
}

export function registerWasmKernelFixes(): void {
  const gather = tf.getKernel(tf.GatherV2, 'wasm');
  if (gather) {
    originalGather = gather.kernelFunc;
    tf.unregisterKernel(tf.GatherV2, 'wasm');
    tf.registerKernel({ kernelName: tf.GatherV2, backendName: 'wasm', kernelFunc: gatherV2 as tf.KernelFunc });
  }
  tf.registerKernel({ kernelName: tf.OneHot, backendName: 'wasm', kernelFunc: oneHot as tf.KernelFunc });
  tf.registerKernel({ kernelName: tf.BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMul as tf.KernelFunc });
  tf.registerKernel({ kernelName: tf.Slice, backendName: 'wasm', kernelFunc: slice as tf.KernelFunc });
}

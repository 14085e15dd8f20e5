// Native kernels for the wasm backend (issue 10): a small N-API module (native/, built at `npm ci` against Debian's
// OpenBLAS) that computes *in place on the wasm heap*, registered as replacements for the wasm kernels that
// dominate a training step (`node --import tsx bench/kernels.ts --profile`).
//   R2EC_NATIVE unset: use the module when it loads, else today's wasm kernels (./wasm-kernels) with one log line.
//   R2EC_NATIVE=1: the module is required on the wasm backend; if it cannot load that is an error. (Other backends
//   have kernels of their own: there the variable has no effect.)
//   R2EC_NATIVE=0: never load it (the wasm kernels).
// OpenBLAS runs one thread per rank: the data-parallel ranks (lib/train/parallel.ts) are the parallelism.
import path from 'node:path';
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { R2ecError } from '../util/errors';
import { envValue } from '../util/env';

/** The module's functions (native/src/r2ec_native.cc). Offsets are bytes into the heap, strides and sizes floats. */
export interface NativeModule {
  gemm(
    heap: ArrayBuffer, transA: boolean, transB: boolean, M: number, N: number, K: number, batch: number,
    aOff: number, strideA: number, bOff: number, strideB: number, cOff: number, strideC: number, alpha: number, beta: number,
  ): void;
  binary(heap: ArrayBuffer, op: number, mode: number, aOff: number, aSize: number, bOff: number, bSize: number, outOff: number, n: number, p: number): void;
  unary(heap: ArrayBuffer, op: number, xOff: number, outOff: number, n: number): void;
  reduce(heap: ArrayBuffer, op: number, xOff: number, outOff: number, A: number, R: number, C: number): void;
  softmax(heap: ArrayBuffer, xOff: number, outOff: number, rows: number, cols: number): void;
  softmaxGrad(heap: ArrayBuffer, yOff: number, dyOff: number, outOff: number, rows: number, cols: number): void;
  transpose0213(heap: ArrayBuffer, xOff: number, outOff: number, d0: number, d1: number, d2: number, d3: number): void;
  // fused model ops (./fused-kernels)
  rmsNorm(heap: ArrayBuffer, xOff: number, wOff: number, yOff: number, rsOff: number, N: number, d: number, eps: number, plusOne: boolean): void;
  rmsNormGrad(heap: ArrayBuffer, xOff: number, wOff: number, rsOff: number, dyOff: number, dxOff: number, dwOff: number, N: number, d: number, plusOne: boolean): void;
  swiglu(heap: ArrayBuffer, gOff: number, uOff: number, yOff: number, n: number): void;
  swigluGrad(heap: ArrayBuffer, gOff: number, uOff: number, dyOff: number, dgOff: number, duOff: number, n: number): void;
  rope(heap: ArrayBuffer, xOff: number, cosOff: number, sinOff: number, yOff: number, rows: number, dh: number, transpose: boolean): void;
  attention(
    heap: ArrayBuffer, qOff: number, kOff: number, vOff: number, maskOff: number, oOff: number, pOff: number,
    B: number, Hkv: number, G: number, T: number, Tk: number, dh: number, pastLen: number, window: number,
  ): void;
  attentionGrad(
    heap: ArrayBuffer, qOff: number, kOff: number, vOff: number, pOff: number, dyOff: number, dqOff: number, dkOff: number, dvOff: number,
    B: number, Hkv: number, G: number, T: number, Tk: number, dh: number,
  ): void;
  adamw(
    heap: ArrayBuffer, pOff: number, gOff: number, mOff: number, vOff: number, pOutOff: number, mOutOff: number, vOutOff: number, n: number,
    lr: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, eps: number, weightDecay: number,
    gradScale: number, bc1: number, bc2: number,
  ): void;
  sumSquares(heap: ArrayBuffer, xOff: number, n: number): number;
  info(): { blas: string; core: string; threads: number };
  setThreads(n: number): void;
}

export type NativeMode = 'auto' | 'on' | 'off';

/** R2EC_NATIVE: unset/empty → auto, 1 → on, 0 → off; anything else is an error. */
export function nativeMode(env: Record<string, string | undefined> = process.env): NativeMode {
  const v = envValue('R2EC_NATIVE', env) ?? '';
  if (v === '') return 'auto';
  if (v === '1') return 'on';
  if (v === '0') return 'off';
  throw new R2ecError(`R2EC_NATIVE="${v}" must be 1 (require the native kernels), 0 (never use them) or unset (use them when they load)`);
}

/** Where native/build.js puts the module (R2EC_NATIVE_MODULE overrides it: tests of the fallback path). */
export function nativeModulePath(env: Record<string, string | undefined> = process.env): string {
  return envValue('R2EC_NATIVE_MODULE', env) || path.resolve(__dirname, '..', '..', 'native', 'build', 'Release', 'r2ec_native.node');
}

export interface NativeStatus {
  mode: NativeMode;
  active: boolean;
  /** why it is not active (module missing, load error, R2EC_NATIVE=0, backend not wasm) */
  reason?: string;
  /** BLAS build and kernel set, when active */
  blas?: string;
  core?: string;
  threads?: number;
}

let mod: NativeModule | undefined;
let status: NativeStatus | undefined;

/**
 * The OpenBLAS kernels every machine runs. OpenBLAS picks them by CPU model (SkylakeX on the Intel machines of this
 * kind, Cooperlake on the AMD ones) and they round differently: SASRec on ml-100k (quick, seed 42) selected epoch 6
 * and reached test NDCG@10 .0790 on the Intel machine, epoch 7 and .0808 on the AMD one, and .0789 on the AMD one with
 * these kernels. The AVX2 Haswell kernels run on every machine this module runs on (it is built with -mavx2) and
 * were as fast as Cooperlake's at our shapes (bench/kernels.ts), so the same seed gives the same numbers on both.
 * OPENBLAS_CORETYPE, when set (not empty), chooses another.
 */
export const BLAS_CORE = 'Haswell';

// OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, from the process environment: a worker thread's
// process.env is its own copy (setting it there would not reach OpenBLAS), so the main thread sets it at import,
// before any rank starts.
if (isMainThread && !process.env.OPENBLAS_CORETYPE) process.env.OPENBLAS_CORETYPE = BLAS_CORE;

/** Load the module (once per thread); the reason it cannot load otherwise. */
export function loadNative(): { mod?: NativeModule; why?: string } {
  if (mod) return { mod };
  const file = nativeModulePath();
  if (!fs.existsSync(file)) {
    const shown = path.relative(process.cwd(), file);
    return { why: `${shown && !shown.startsWith('..') ? shown : file} not built (npm ci builds it when Debian's libopenblas-dev is installed; see native/README.md)` };
  }
  // Only effective before OpenBLAS is first loaded in the process (environment variables are per process; the
  // module also sets one thread itself, this avoids starting OpenBLAS's thread pool at all).
  if (process.env.OPENBLAS_NUM_THREADS === undefined) process.env.OPENBLAS_NUM_THREADS = '1';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file) as NativeModule;
    mod.setThreads(1);
    return { mod };
  } catch (e) {
    return { why: String((e as Error).message ?? e).split('\n')[0] };
  }
}

/** What the last installNativeKernels decided (undefined before initBackend). */
export function nativeStatus(): NativeStatus | undefined {
  return status;
}

interface TensorData {
  memoryOffset: number;
}
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: tf.DataId): TensorData };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  incRef(dataId: tf.DataId): void;
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const offsetOf = (be: WasmBackend, t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;

/**
 * BatchMatMul on OpenBLAS: transposes are BLAS flags (no materialised copy), batch entries are strided views of
 * the operands (stride 0 broadcasts a batch-1 side), and a batch-1 right operand folds the batch into rows.
 */
function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown }): tf.TensorInfo {
  const be = args.backend as WasmBackend;
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
  if (batch * M * N === 0) return out;
  const heap = be.wasm.HEAPU8.buffer as ArrayBuffer; // after makeOutput: allocation may have grown the memory
  const aOff = offsetOf(be, a);
  const bOff = offsetOf(be, b);
  const oOff = offsetOf(be, out);
  if (batchB === 1 && !transposeA) {
    // [batch·M, K]·op(B): one call, a's batch entries are consecutive row blocks
    mod!.gemm(heap, false, transposeB, batch * M, N, K, 1, aOff, 0, bOff, 0, oOff, 0, 1, 0);
  } else {
    mod!.gemm(heap, transposeA, transposeB, M, N, K, batch, aOff, batchA === 1 ? 0 : M * K, bOff, batchB === 1 ? 0 : K * N, oOff, M * N, 1, 0);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Elementwise, reductions, softmax, transposes. Each handles the float32 layouts a training step produces and
// hands anything else to the stock wasm kernel (`original`).

const BINARY: Record<string, number> = { Add: 0, Sub: 1, Multiply: 2, RealDiv: 3, Maximum: 4, Minimum: 5, SquaredDifference: 6 };
const UNARY: Record<string, number> = { Square: 0, Sqrt: 1, Rsqrt: 2, Exp: 3, Log: 4, Neg: 5, Sigmoid: 6, Abs: 7, Reciprocal: 8 };
const REDUCE: Record<string, number> = { Sum: 0, Mean: 1, Max: 2, Min: 3 };

/**
 * How operand `x` (broadcast to `out`) repeats: 'row' when it is a trailing block of out's axes (x[i % size]; a
 * scalar too), 'col' when it is a leading block (x[i / (n / size)]); undefined for other broadcasts.
 */
export function broadcastKind(x: number[], out: number[]): 'row' | 'col' | undefined {
  const xs = [...new Array(Math.max(0, out.length - x.length)).fill(1), ...x];
  if (xs.length !== out.length) return undefined;
  if (prod(x) === 1) return 'row';
  const first = xs.findIndex((d) => d !== 1);
  if (xs.slice(first).every((d, i) => d === out[first + i])) return 'row';
  let last = xs.length - 1;
  while (xs[last] === 1) last--;
  if (xs.slice(0, last + 1).every((d, i) => d === out[i])) return 'col';
  return undefined;
}

function binaryKernel(op: number, original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return original(args as never) as tf.TensorInfo;
    const outShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const n = prod(outShape);
    const sa = prod(a.shape);
    const sb = prod(b.shape);
    let mode = -1;
    let p = n;
    if (sa === n && sb === n) mode = 0;
    else if (sa === n && sb === 1) [mode, p] = [2, n]; // a scalar: one "column" of length n
    else if (sb === n && sa === 1) [mode, p] = [4, n];
    else if (sa === n && sb > 0) {
      const k = broadcastKind(b.shape, outShape);
      if (k) [mode, p] = k === 'row' ? [1, sb] : [2, n / sb];
    } else if (sb === n && sa > 0) {
      const k = broadcastKind(a.shape, outShape);
      if (k) [mode, p] = k === 'row' ? [3, sa] : [4, n / sa];
    }
    if (mode < 0) return original(args as never) as tf.TensorInfo;
    const out = be.makeOutput(outShape, 'float32');
    if (n === 0) return out;
    mod!.binary(be.wasm.HEAPU8.buffer as ArrayBuffer, op, mode, offsetOf(be, a), sa, offsetOf(be, b), sb, offsetOf(be, out), n, p);
    return out;
  };
}

function unaryKernel(op: number, original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype !== 'float32') return original(args as never) as tf.TensorInfo;
    const out = be.makeOutput(x.shape, 'float32');
    const n = prod(x.shape);
    if (n > 0) mod!.unary(be.wasm.HEAPU8.buffer as ArrayBuffer, op, offsetOf(be, x), offsetOf(be, out), n);
    return out;
  };
}

function reduceKernel(op: number, original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    // Max names its axes `reductionIndices` (tfjs-core MaxAttrs); Sum, Mean and Min name them `axis`
    const { axis, reductionIndices, keepDims } = args.attrs as { axis?: number | number[]; reductionIndices?: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32') return original(args as never) as tf.TensorInfo;
    const axes = tf.util.parseAxisParam((axis ?? reductionIndices)!, x.shape).sort((p, q) => p - q);
    const k = axes[0];
    // the reduced axes must be one contiguous block [k, k + r)
    if (axes.length === 0 || axes.some((ax, i) => ax !== k + i)) return original(args as never) as tf.TensorInfo;
    const A = prod(x.shape.slice(0, k));
    const R = prod(axes.map((ax) => x.shape[ax]));
    const C = prod(x.shape.slice(k + axes.length));
    if (R === 0) return original(args as never) as tf.TensorInfo;
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const out = be.makeOutput(outShape, 'float32');
    if (A * C > 0) mod!.reduce(be.wasm.HEAPU8.buffer as ArrayBuffer, op, offsetOf(be, x), offsetOf(be, out), A, R, C);
    return out;
  };
}

function softmaxKernel(original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { logits } = args.inputs as { logits: tf.TensorInfo };
    const { dim } = args.attrs as { dim: number };
    const rank = logits.shape.length;
    if (logits.dtype !== 'float32' || rank === 0 || (dim !== -1 && dim !== rank - 1)) return original(args as never) as tf.TensorInfo;
    const cols = logits.shape[rank - 1];
    const rows = prod(logits.shape) / Math.max(cols, 1);
    const out = be.makeOutput(logits.shape, 'float32');
    if (rows * cols > 0) mod!.softmax(be.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(be, logits), offsetOf(be, out), rows, cols);
    return out;
  };
}

/** The gradient of Softmax in one pass (tfjs's is Mul, Sum, Mul, Sub over the whole [.., T, T] tensor). */
const SOFTMAX_GRAD = 'R2ecSoftmaxGrad';
function softmaxGradKernel(args: KernelArgs): tf.TensorInfo {
  const be = args.backend as WasmBackend;
  const { y, dy } = args.inputs as { y: tf.TensorInfo; dy: tf.TensorInfo };
  const cols = y.shape[y.shape.length - 1];
  const rows = prod(y.shape) / Math.max(cols, 1);
  const out = be.makeOutput(y.shape, 'float32');
  if (rows * cols > 0) mod!.softmaxGrad(be.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(be, y), offsetOf(be, dy), offsetOf(be, out), rows, cols);
  return out;
}

function transposeKernel(original: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    const is0213 = perm.length === 4 && perm[0] === 0 && perm[1] === 2 && perm[2] === 1 && perm[3] === 3;
    if (!is0213 || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original(args as never) as tf.TensorInfo;
    const [d0, d1, d2, d3] = x.shape;
    const out = be.makeOutput([d0, d2, d1, d3], x.dtype);
    if (prod(x.shape) > 0) mod!.transpose0213(be.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(be, x), offsetOf(be, out), d0, d1, d2, d3);
    return out;
  };
}

/**
 * Identity, and Cast to the same dtype, share the input's memory (reference counted, as Reshape does) instead of
 * copying it: tfjs's gradients call them ~170 times per reference step. Safe because tensors are immutable
 * (Variable.assign swaps the data id, it never writes in place).
 */
function shareKernel(original: tf.KernelFunc, isCast: boolean) {
  return (args: KernelArgs): tf.TensorInfo => {
    const be = args.backend as WasmBackend;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const dtype = isCast ? (args.attrs as { dtype: tf.DataType }).dtype : x.dtype;
    if (x.dtype === 'string' || dtype !== x.dtype) return original(args as never) as tf.TensorInfo;
    be.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

const stock = new Map<string, tf.KernelFunc>();

/** The kernel that `name` replaced (the stock wasm kernel, or ./wasm-kernels' fix): tests compare against it. */
export function stockKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name);
}

/** Replace `name` on wasm by `make(original)`. */
function replace(name: string, make: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const cfg = tf.getKernel(name, 'wasm');
  if (!cfg) return; // not a wasm kernel in this tfjs version: nothing to replace
  stock.set(name, cfg.kernelFunc);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: make(cfg.kernelFunc), setupFunc: cfg.setupFunc, disposeFunc: cfg.disposeFunc });
}

/** The kernels replaced when the module is active (reported by the bench). */
export const NATIVE_KERNELS = [
  tf.BatchMatMul, ...Object.keys(BINARY), ...Object.keys(UNARY), ...Object.keys(REDUCE), tf.Softmax, `${tf.Softmax} gradient`,
  tf.Transpose, tf.Identity, tf.Cast,
];

let installed = false;

function registerAll(): void {
  replace(tf.BatchMatMul, () => batchMatMul as tf.KernelFunc);
  for (const [name, op] of Object.entries(BINARY)) replace(name, (o) => binaryKernel(op, o) as tf.KernelFunc);
  for (const [name, op] of Object.entries(UNARY)) replace(name, (o) => unaryKernel(op, o) as tf.KernelFunc);
  for (const [name, op] of Object.entries(REDUCE)) replace(name, (o) => reduceKernel(op, o) as tf.KernelFunc);
  replace(tf.Softmax, (o) => softmaxKernel(o) as tf.KernelFunc);
  replace(tf.Transpose, (o) => transposeKernel(o) as tf.KernelFunc);
  replace(tf.Identity, (o) => shareKernel(o, false) as tf.KernelFunc);
  replace(tf.Cast, (o) => shareKernel(o, true) as tf.KernelFunc);
  tf.registerKernel({ kernelName: SOFTMAX_GRAD, backendName: 'wasm', kernelFunc: softmaxGradKernel as tf.KernelFunc });
  // Softmax's gradient as one kernel; other backends (not used with the module, but possible in one process) keep
  // the stock formula.
  const stock = tf.getGradient(tf.Softmax);
  tf.registerGradient({
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [y] = saved;
      const { dim } = attrs as unknown as { dim: number };
      if (tf.getBackend() !== 'wasm' || (dim !== -1 && dim !== y.rank - 1) || !stock) {
        return stock!.gradFunc(dy, saved, attrs);
      }
      return { logits: () => tf.engine().runKernel(SOFTMAX_GRAD, { y, dy: dy as tf.Tensor }, {}) as tf.Tensor };
    },
  });
}

/**
 * Decide and register (once per thread): called by initBackend after the wasm fixes. Throws when R2EC_NATIVE=1
 * cannot be honoured. `backend` is the backend in use.
 */
export function installNativeKernels(backend: string): NativeStatus {
  if (status) return status;
  const mode = nativeMode();
  if (mode === 'off') return (status = { mode, active: false, reason: 'R2EC_NATIVE=0' });
  if (backend !== 'wasm') return (status = { mode, active: false, reason: `backend ${backend} (the native kernels work on the wasm heap)` });
  const { mod: m, why } = loadNative();
  if (!m) {
    if (mode === 'on') throw new R2ecError(`R2EC_NATIVE=1 but the native kernels cannot load: ${why}`);
    return (status = { mode, active: false, reason: why });
  }
  if (!installed) {
    installed = true;
    registerAll();
  }
  const info = m.info();
  return (status = { mode, active: true, blas: info.blas, core: info.core, threads: info.threads });
}

// Fused model ops on the native kernels (issue 10): RMSNorm, SwiGLU, rotary positions, causal attention and the
// AdamW update each run as one native kernel forward and one backward, instead of tfjs's chains of elementwise
// kernels (each a pass over memory plus tens of microseconds of engine bookkeeping). Every function returns
// undefined when the native kernels are not active (R2EC_NATIVE=0, module missing, not the wasm backend); the caller
// then runs its own tfjs formulation, which is also the reference these ops are tested against
// (test/model-native.test.ts).
import * as tf from '@tensorflow/tfjs';
import { loadNative, nativeStatus, type NativeModule } from './native-kernels';

interface TensorData {
  memoryOffset: number;
}
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: tf.DataId): TensorData };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs: unknown };

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
const off = (be: WasmBackend, t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
const heap = (be: WasmBackend) => be.wasm.HEAPU8.buffer as ArrayBuffer;

let mod: NativeModule | undefined;
let registered = false;

/** The native module when the fused ops can run (native kernels active on wasm), registering their kernels once. */
function native(): NativeModule | undefined {
  if (!nativeStatus()?.active || tf.getBackend() !== 'wasm') return undefined;
  if (!registered) {
    mod = loadNative().mod;
    if (!mod) return undefined;
    registerFusedKernels();
    registered = true;
  }
  return mod;
}

/** True when the fused ops run natively in this thread. */
export function fusedOpsActive(): boolean {
  return native() !== undefined;
}

function float32(...ts: tf.TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

function registerFusedKernels(): void {
  const k = (kernelName: string, kernelFunc: (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]) =>
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });

  k('R2ecRmsNorm', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { x, w } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo };
    const { eps, plusOne } = attrs as { eps: number; plusOne: boolean };
    const d = x.shape[x.shape.length - 1];
    const N = prod(x.shape) / d;
    const y = be.makeOutput(x.shape, 'float32');
    const rs = be.makeOutput([N], 'float32');
    mod!.rmsNorm(heap(be), off(be, x), off(be, w), off(be, y), off(be, rs), N, d, eps, plusOne);
    return [y, rs];
  });
  k('R2ecRmsNormGrad', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { x, w, rs, dy } = inputs as Record<string, tf.TensorInfo>;
    const d = x.shape[x.shape.length - 1];
    const N = prod(x.shape) / d;
    const dx = be.makeOutput(x.shape, 'float32');
    const dw = be.makeOutput(w.shape, 'float32');
    mod!.rmsNormGrad(heap(be), off(be, x), off(be, w), off(be, rs), off(be, dy), off(be, dx), off(be, dw), N, d, (attrs as { plusOne: boolean }).plusOne);
    return [dx, dw];
  });
  k('R2ecSwiglu', ({ inputs, backend }) => {
    const be = backend as WasmBackend;
    const { g, u } = inputs as Record<string, tf.TensorInfo>;
    const y = be.makeOutput(g.shape, 'float32');
    mod!.swiglu(heap(be), off(be, g), off(be, u), off(be, y), prod(g.shape));
    return y;
  });
  k('R2ecSwigluGrad', ({ inputs, backend }) => {
    const be = backend as WasmBackend;
    const { g, u, dy } = inputs as Record<string, tf.TensorInfo>;
    const dg = be.makeOutput(g.shape, 'float32');
    const du = be.makeOutput(u.shape, 'float32');
    mod!.swigluGrad(heap(be), off(be, g), off(be, u), off(be, dy), off(be, dg), off(be, du), prod(g.shape));
    return [dg, du];
  });
  k('R2ecRope', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { x, cos, sin } = inputs as Record<string, tf.TensorInfo>;
    const dh = x.shape[x.shape.length - 1];
    const y = be.makeOutput(x.shape, 'float32');
    mod!.rope(heap(be), off(be, x), off(be, cos), off(be, sin), off(be, y), prod(x.shape) / dh, dh, (attrs as { transpose: boolean }).transpose);
    return y;
  });
  k('R2ecAttention', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { q, k: kk, v, mask } = inputs as Record<string, tf.TensorInfo>;
    const { T, pastLen, window } = attrs as { T: number; pastLen: number; window: number };
    const [B, Hkv, M, dh] = q.shape;
    const Tk = kk.shape[2];
    const o = be.makeOutput(q.shape, 'float32');
    const p = be.makeOutput([B, Hkv, M, Tk], 'float32');
    mod!.attention(heap(be), off(be, q), off(be, kk), off(be, v), off(be, mask), off(be, o), off(be, p), B, Hkv, M / T, T, Tk, dh, pastLen, window);
    return [o, p];
  });
  k('R2ecAttentionGrad', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { q, k: kk, v, p, dy } = inputs as Record<string, tf.TensorInfo>;
    const { T } = attrs as { T: number };
    const [B, Hkv, M, dh] = q.shape;
    const Tk = kk.shape[2];
    const dq = be.makeOutput(q.shape, 'float32');
    const dk = be.makeOutput(kk.shape, 'float32');
    const dv = be.makeOutput(v.shape, 'float32');
    mod!.attentionGrad(heap(be), off(be, q), off(be, kk), off(be, v), off(be, p), off(be, dy), off(be, dq), off(be, dk), off(be, dv), B, Hkv, M / T, T, Tk, dh);
    return [dq, dk, dv];
  });
  k('R2ecAdamW', ({ inputs, backend, attrs }) => {
    const be = backend as WasmBackend;
    const { p, g, m, v } = inputs as Record<string, tf.TensorInfo>;
    const a = attrs as { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; gradScale: number; bc1: number; bc2: number };
    const po = be.makeOutput(p.shape, 'float32');
    const mo = be.makeOutput(p.shape, 'float32');
    const vo = be.makeOutput(p.shape, 'float32');
    mod!.adamw(
      heap(be), off(be, p), off(be, g), off(be, m), off(be, v), off(be, po), off(be, mo), off(be, vo), prod(p.shape),
      a.lr, a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, a.eps, a.weightDecay, a.gradScale, a.bc1, a.bc2,
    );
    return [po, mo, vo];
  });
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as unknown;

/** x·rsqrt(mean(x², −1) + eps)·w (w + 1 with plusOne, Gemma) over the last axis of x. */
export function fusedRmsNorm<T extends tf.Tensor>(x: T, w: tf.Tensor, eps: number, plusOne = false): T | undefined {
  if (!native() || !float32(x, w) || w.rank !== 1 || x.shape[x.rank - 1] !== w.shape[0]) return undefined;
  const op = tf.customGrad(((xx: tf.Tensor, ww: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, rs] = run('R2ecRmsNorm', { x: xx, w: ww }, { eps, plusOne }) as tf.Tensor[];
    save([xx, ww, rs]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw, srs] = saved;
        return run('R2ecRmsNormGrad', { x: sx, w: sw, rs: srs, dy }, { plusOne }) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, w) as T;
}

/** silu(gate)·up (SwiGLU), elementwise. */
export function fusedSwiglu<T extends tf.Tensor>(gate: T, up: tf.Tensor): T | undefined {
  if (!native() || !float32(gate, up) || !tf.util.arraysEqual(gate.shape, up.shape)) return undefined;
  const op = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
    save([g, u]);
    return {
      value: run('R2ecSwiglu', { g, u }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run('R2ecSwigluGrad', { g: saved[0], u: saved[1], dy }) as tf.Tensor[],
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(gate, up) as T;
}

/**
 * Rotary positions: x·cos + rotate_half(x)·sin over rows of x [n, dh] (rotate_half(x) = [−x₂, x₁]); cos and sin are
 * constants of x's shape (no gradient reaches them).
 */
export function fusedRope(x: tf.Tensor2D, cos: tf.Tensor2D, sin: tf.Tensor2D): tf.Tensor2D | undefined {
  if (!native() || !float32(x, cos, sin) || x.shape[1] % 2 !== 0 || !tf.util.arraysEqual(x.shape, cos.shape) || !tf.util.arraysEqual(x.shape, sin.shape)) {
    return undefined;
  }
  const op = tf.customGrad(((xx: tf.Tensor, save: tf.GradSaveFunc) => {
    save([cos, sin]);
    return {
      value: run('R2ecRope', { x: xx, cos, sin }, { transpose: false }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run('R2ecRope', { x: dy, cos: saved[0], sin: saved[1] }, { transpose: true }) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor2D;
}

/**
 * Causal attention of the decoder's layout: q [B, Hkv, G·T, dh] (the G query heads of each key/value head stacked),
 * k, v [B, Hkv, Tk, dh]; query row r sits at position pastLen + r % T and sees the keys j ≤ it that keyMask [B·Tk]
 * marks real (1), fewer than `window` back. Returns softmax(q·kᵀ + mask)·v, [B, Hkv, G·T, dh]. The score scale must
 * be folded into q already (the decoder does). Probabilities are kept for the backward pass (as tfjs would).
 */
export function fusedAttention(
  q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, keyMask: Uint8Array, T: number, pastLen: number, window = Infinity,
): tf.Tensor4D | undefined {
  if (!native() || !float32(q, k, v)) return undefined;
  const [B, Hkv, M] = q.shape;
  const Tk = k.shape[2];
  if (M % T !== 0 || keyMask.length !== B * Tk || k.shape[0] !== B || k.shape[1] !== Hkv || !tf.util.arraysEqual(k.shape, v.shape)) return undefined;
  const win = Number.isFinite(window) ? window : 2 ** 30;
  const mask = tf.tensor2d(Int32Array.from(keyMask), [B, Tk], 'int32');
  const op = tf.customGrad(((qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
    const [o, p] = run('R2ecAttention', { q: qq, k: kk, v: vv, mask }, { T, pastLen, window: win }) as tf.Tensor[];
    save([qq, kk, vv, p]);
    return {
      value: o,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved;
        return run('R2ecAttentionGrad', { q: sq, k: sk, v: sv, p: sp, dy }, { T }) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const out = op(q, k, v) as tf.Tensor4D;
  mask.dispose();
  return out;
}

export interface AdamWUpdate {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** gradient multiplier (global-norm clipping) */
  gradScale: number;
  /** bias corrections 1 − β^t */
  bc1: number;
  bc2: number;
}

/** One AdamW update of one parameter: new [p, m, v] tensors (the caller assigns them), or undefined. */
export function fusedAdamW(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, a: AdamWUpdate): [tf.Tensor, tf.Tensor, tf.Tensor] | undefined {
  if (!native() || !float32(p, g, m, v) || g.size !== p.size || m.size !== p.size || v.size !== p.size) return undefined;
  return run('R2ecAdamW', { p, g, m, v }, { ...a }) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/**
 * Σ x² over the tensors (the global gradient norm without a kernel chain per tensor), or undefined. Each tensor's
 * sum is taken in double and the total is rounded to float32 like the tfjs formulation's float32 result, so that it
 * overflows to Infinity where that one does: the optimizer's NaN guard relies on a non-finite norm.
 */
export function fusedSumSquares(xs: tf.Tensor[]): number | undefined {
  const m = native();
  if (!m || !xs.every((x) => x.dtype === 'float32')) return undefined;
  const be = tf.backend() as unknown as WasmBackend;
  let s = 0;
  for (const x of xs) s = Math.fround(s + (x.size ? Math.fround(m.sumSquares(heap(be), off(be, x), x.size)) : 0));
  return s;
}

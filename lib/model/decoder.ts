// The decoder language model (Llama/Qwen style) in TensorFlow.js: token embedding tied to the output layer,
// RMSNorm, rotary positions, SwiGLU MLP, optional grouped-query attention. One network serves as the policy
// (token logits), the user encoder and the item encoder (spec §3): `forward` returns the final post-norm hidden
// states, and `lmLogits` turns them into token logits.
//
// Performance notes (wasm backend, stack notes): attention runs as rank-4 [B,H,T,Dh] batched matMuls (fast kernels
// in ./wasm-kernels), rotary positions are one small matMul with a fixed signed permutation plus two elementwise
// products, and masks are built from constants (no `where` on trained values, so gradients exist). With the native
// kernels active, RMSNorm, rotary positions, attention and SwiGLU each run as one fused kernel (./fused-kernels).
import { tf } from './backend';
import { fusedAttention, fusedRmsNorm, fusedRope, fusedSwiglu } from './fused-kernels'; // native kernels when active (issue 10)
import { headDim, type ModelConfig } from './config';
import { makeRng, hashSeed } from '../util/rng';
import { R2ecError } from '../util/errors';

export type Params = Record<string, tf.Variable>;

/** Our weight name of each LoRA target module (Hugging Face / PEFT name → layer weight). */
export const LORA_WEIGHT: Record<string, string> = {
  q_proj: 'wq', k_proj: 'wk', v_proj: 'wv', o_proj: 'wo', gate_proj: 'w_gate', up_proj: 'w_up', down_proj: 'w_down',
};

/**
 * Parameter names, in a fixed order (checkpoints and gradient exchange rely on it). The small models have exactly
 * the first list; imported backbones add biases (bq/bk/bv), Gemma-2's sandwich norms, LoRA adapters and `lm_head`.
 */
export function paramNames(cfg: ModelConfig): string[] {
  const names = ['embed'];
  for (let l = 0; l < cfg.nLayers; l++) {
    for (const n of ['attn_norm', 'wq', 'wk', 'wv', 'wo', 'mlp_norm', 'w_gate', 'w_up', 'w_down']) names.push(`layers.${l}.${n}`);
    if (cfg.attnBias) for (const n of ['bq', 'bk', 'bv']) names.push(`layers.${l}.${n}`);
    if (cfg.sandwichNorms) for (const n of ['post_attn_norm', 'post_mlp_norm']) names.push(`layers.${l}.${n}`);
    if (cfg.lora) for (const t of cfg.lora.targets) names.push(`layers.${l}.${LORA_WEIGHT[t]}.lora_a`, `layers.${l}.${LORA_WEIGHT[t]}.lora_b`);
  }
  names.push('final_norm');
  if (cfg.tieEmbeddings === false) names.push('lm_head');
  return names;
}

/** The parameters an optimizer updates: all of them, or only the LoRA adapters when LoRA is on (spec §3: base frozen). */
export function trainableParamNames(cfg: ModelConfig): string[] {
  const all = paramNames(cfg);
  return cfg.lora ? all.filter((n) => n.endsWith('.lora_a') || n.endsWith('.lora_b')) : all;
}

export function paramShapes(cfg: ModelConfig): Record<string, number[]> {
  const d = cfg.dModel;
  const q = cfg.nHeads * headDim(cfg);
  const kv = cfg.nKvHeads * headDim(cfg);
  const shapes: Record<string, number[]> = { embed: [cfg.vocabSize, d], final_norm: [d] };
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `layers.${l}.`;
    Object.assign(shapes, {
      [p + 'attn_norm']: [d], [p + 'wq']: [d, q], [p + 'wk']: [d, kv], [p + 'wv']: [d, kv], [p + 'wo']: [q, d],
      [p + 'mlp_norm']: [d], [p + 'w_gate']: [d, cfg.dFF], [p + 'w_up']: [d, cfg.dFF], [p + 'w_down']: [cfg.dFF, d],
    });
    if (cfg.attnBias) Object.assign(shapes, { [p + 'bq']: [q], [p + 'bk']: [kv], [p + 'bv']: [kv] });
    if (cfg.sandwichNorms) Object.assign(shapes, { [p + 'post_attn_norm']: [d], [p + 'post_mlp_norm']: [d] });
    if (cfg.lora) {
      for (const t of cfg.lora.targets) {
        const w = p + LORA_WEIGHT[t];
        const [rows, cols] = shapes[w];
        shapes[`${w}.lora_a`] = [rows, cfg.lora.rank];
        shapes[`${w}.lora_b`] = [cfg.lora.rank, cols];
      }
    }
  }
  if (cfg.tieEmbeddings === false) shapes.lm_head = [cfg.vocabSize, d];
  return shapes;
}

/**
 * Seeded initialisation: N(0, initStd) for matrices (output projections scaled by 1/sqrt(2·nLayers)), ones for norms
 * (zeros under normPlusOne, which scales by 1 + w), zeros for biases and for LoRA's B (so a fresh adapter changes
 * nothing, as in PEFT); LoRA's A is N(0, 1/sqrt(in)).
 */
export function initParams(cfg: ModelConfig, seed: number, only?: (name: string) => boolean): Params {
  const shapes = paramShapes(cfg);
  const params: Params = {};
  for (const name of paramNames(cfg)) {
    if (only && !only(name)) continue;
    const vals = initValues(cfg, name, shapes[name], seed);
    params[name] = tf.tidy(() => tf.variable(tf.tensor(vals, shapes[name]), true));
  }
  return params;
}

/** The initial values of one parameter (each name draws from its own seeded stream; see initParams). */
export function initValues(cfg: ModelConfig, name: string, shape: number[], seed: number): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const vals = new Float32Array(size);
  if (name.endsWith('norm')) vals.fill(cfg.normPlusOne ? 0 : 1);
  else if (/\.b[qkv]$|\.lora_b$/.test(name)) {
    // zeros
  } else if (name.endsWith('.lora_a')) {
    const rng = makeRng(hashSeed(seed, 'init', name));
    for (let i = 0; i < size; i++) vals[i] = rng.normal() / Math.sqrt(shape[0]);
  } else {
    const rng = makeRng(hashSeed(seed, 'init', name));
    const std = /wo$|w_down$/.test(name) ? cfg.initStd / Math.sqrt(2 * cfg.nLayers) : cfg.initStd;
    for (let i = 0; i < size; i++) vals[i] = rng.normal() * std;
  }
  return vals;
}

export function disposeParams(params: Params): void {
  for (const v of Object.values(params)) v.dispose();
}

/** A batch of token sequences laid out as [B, T] with a mask (1 = real token, 0 = pad). */
export interface TokenBatch {
  B: number;
  T: number;
  ids: Int32Array;
  mask: Uint8Array;
  /** rotary position of each token: its index among the real tokens of its row */
  positions: Int32Array;
  /** number of real tokens per row */
  lengths: number[];
  side: 'left' | 'right';
}

/** Pad sequences to one length: left padding for generation, right padding for scoring (spec §2). */
export function padBatch(seqs: number[][], side: 'left' | 'right', padId = 0, T?: number): TokenBatch {
  const B = seqs.length;
  const len = T ?? Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(B * len).fill(padId);
  const mask = new Uint8Array(B * len);
  const positions = new Int32Array(B * len);
  seqs.forEach((s, b) => {
    if (s.length > len) throw new R2ecError(`sequence ${b} has ${s.length} tokens, more than the batch length ${len}`);
    const off = side === 'left' ? len - s.length : 0;
    for (let t = 0; t < s.length; t++) {
      ids[b * len + off + t] = s[t];
      mask[b * len + off + t] = 1;
      positions[b * len + off + t] = t;
    }
  });
  return { B, T: len, ids, mask, positions, lengths: seqs.map((s) => s.length), side };
}

/** Key/value cache for incremental decoding: per layer [B, nKvHeads, Tpast, Dh] after rotary positions. */
export interface KVCache {
  k: tf.Tensor4D[];
  v: tf.Tensor4D[];
  /** key mask over the cached positions, [B][Tpast] flattened */
  keyMask: Uint8Array;
  len: number;
  B: number;
}

export function disposeCache(cache: KVCache): void {
  cache.k.forEach((t) => t.dispose());
  cache.v.forEach((t) => t.dispose());
  cache.k = [];
  cache.v = [];
}

const ropeCache = new Map<string, { inv: Float32Array }>();

/**
 * Inverse frequencies 1/θ^(2i/dh), with Hugging Face's `rope_scaling` applied: 'linear' divides them by the factor;
 * 'llama3' divides the low frequencies (wavelength > original context / lowFreqFactor) by the factor, keeps the high
 * ones (wavelength < original context / highFreqFactor) and blends linearly in between.
 */
export function ropeInverseFrequencies(dh: number, theta: number, scaling?: ModelConfig['ropeScaling']): Float32Array {
  const half = dh / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(theta, (2 * i) / dh);
  if (scaling?.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor: lo, highFreqFactor: hi, originalMaxPositions: ctx } = scaling as Required<typeof scaling>;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > ctx / lo) inv[i] /= factor;
      else if (wavelen >= ctx / hi) {
        const smooth = (ctx / wavelen - lo) / (hi - lo);
        inv[i] = ((1 - smooth) * inv[i]) / factor + smooth * inv[i];
      }
    }
  }
  return inv;
}

/**
 * Rotary tables as two [rows·heads, Dh] constants (cos and sin, each repeated over the two halves), times `scale`.
 * rotate_half(x) is x·P with P the signed permutation [[0, I], [−I, 0]] (applied as a tiny matMul).
 */
function ropeTables(
  positions: Int32Array,
  heads: number,
  dh: number,
  theta: number,
  scale: number,
  scaling?: ModelConfig['ropeScaling'],
) {
  const half = dh / 2;
  const key = scaling ? `${dh}:${theta}:${JSON.stringify(scaling)}` : `${dh}:${theta}`;
  let entry = ropeCache.get(key);
  if (!entry) ropeCache.set(key, (entry = { inv: ropeInverseFrequencies(dh, theta, scaling) }));
  const n = positions.length;
  const cos = new Float32Array(n * heads * dh);
  const sin = new Float32Array(n * heads * dh);
  for (let r = 0; r < n; r++) {
    const p = positions[r];
    const base = r * heads * dh;
    for (let i = 0; i < half; i++) {
      const a = p * entry.inv[i];
      const c = Math.cos(a) * scale;
      const s = Math.sin(a) * scale;
      for (let h = 0; h < heads; h++) {
        const o = base + h * dh;
        cos[o + i] = c;
        cos[o + i + half] = c;
        sin[o + i] = s;
        sin[o + i + half] = s;
      }
    }
  }
  return { cos: tf.tensor2d(cos, [n * heads, dh]), sin: tf.tensor2d(sin, [n * heads, dh]) };
}

const rotCache = new Map<number, tf.Tensor2D>();
function rotateHalfMatrix(dh: number): tf.Tensor2D {
  let m = rotCache.get(dh);
  if (!m) {
    const half = dh / 2;
    const vals = new Float32Array(dh * dh);
    for (let i = 0; i < half; i++) {
      vals[(i + half) * dh + i] = -1; // out[i] = −x[i+half]
      vals[i * dh + i + half] = 1; // out[i+half] = x[i]
    }
    m = tf.keep(tf.tensor2d(vals, [dh, dh]));
    rotCache.set(dh, m);
  }
  return m;
}

function applyRope(x2d: tf.Tensor2D, rows: number, heads: number, dh: number, cos: tf.Tensor2D, sin: tf.Tensor2D) {
  const flat = tf.reshape(x2d, [rows * heads, dh]) as tf.Tensor2D;
  const fused = fusedRope(flat, cos, sin);
  if (fused) return fused;
  const rotated = tf.add(tf.mul(flat, cos), tf.mul(tf.matMul(flat, rotateHalfMatrix(dh)), sin));
  return rotated; // [rows·heads, dh]
}

function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number, plusOne = false): tf.Tensor2D {
  const fused = fusedRmsNorm(x, w, eps, plusOne);
  if (fused) return fused;
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), plusOne ? tf.add(w, 1) : w) as tf.Tensor2D;
}

/** cap·tanh(x/cap) (Gemma-2 soft-capping of attention scores and logits). */
function softcap<T extends tf.Tensor>(x: T, cap: number): T {
  return tf.mul(tf.tanh(tf.div(x, cap)), cap) as T;
}

/** gelu with the tanh approximation (PyTorch's gelu(approximate='tanh'), Gemma's `gelu_pytorch_tanh`). */
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/**
 * Additive attention bias [B, H, Tq, Tk]: 0 where query i may see key j, −1e9 elsewhere (a constant). With a
 * window W (Gemma-2's local layers, as Hugging Face masks them) a query also sees only keys fewer than W slots back.
 */
function attentionBias(B: number, H: number, Tq: number, Tk: number, keyMask: Uint8Array, pastLen: number, window = Infinity) {
  const vals = new Float32Array(B * H * Tq * Tk);
  for (let b = 0; b < B; b++) {
    const block = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) {
      for (let j = 0; j < Tk; j++) {
        const visible = keyMask[b * Tk + j] === 1 && j <= pastLen + i && pastLen + i - j < window;
        block[i * Tk + j] = visible ? 0 : -1e9;
      }
      // a query with no visible key (a pad row) attends uniformly: harmless, its output is never read
    }
    for (let h = 0; h < H; h++) vals.set(block, (b * H + h) * Tq * Tk);
  }
  return tf.tensor4d(vals, [B, H, Tq, Tk]);
}

export interface ForwardOptions {
  /** incremental decoding: the cache is extended in place (old tensors disposed) */
  cache?: KVCache;
  /**
   * Keys/values of a prefix that every row continues (per layer [B, nKvHeads, P, Dh], every position visible): read
   * only, never disposed, and differentiable — the training-time counterpart of `cache` (forwardSharedPrefix).
   */
  prefix?: { k: tf.Tensor[]; v: tf.Tensor[]; len: number };
  /** collect this batch's keys/values per layer into these arrays (tensors of the enclosing scope, not kept) */
  kvOut?: { k: tf.Tensor4D[]; v: tf.Tensor4D[] };
}

/**
 * Final post-norm hidden states [B, T, d] of a padded batch (spec §2 read-out uses these).
 * With a cache, `batch` holds only the new tokens; their positions must continue the cached ones.
 */
export function forward(params: Params, cfg: ModelConfig, batch: TokenBatch, opts: ForwardOptions = {}): tf.Tensor3D {
  const { B, T } = batch;
  const d = cfg.dModel;
  const H = cfg.nHeads;
  const Hkv = cfg.nKvHeads;
  const dh = headDim(cfg);
  const cache = opts.cache;
  const prefix = opts.prefix;
  if (cache && prefix) throw new R2ecError('forward: a cache and a prefix cannot be combined');
  const pastLen = cache ? cache.len : prefix ? prefix.len : 0;
  if (pastLen + T > cfg.maxSeqLen) {
    throw new R2ecError(`sequence of ${pastLen + T} tokens exceeds the model context maxSeqLen=${cfg.maxSeqLen}`);
  }
  for (let i = 0; i < batch.ids.length; i++) {
    if (batch.ids[i] < 0 || batch.ids[i] >= cfg.vocabSize) {
      throw new R2ecError(`token id ${batch.ids[i]} at position ${i} is outside the vocabulary (size ${cfg.vocabSize})`);
    }
  }
  const Tk = pastLen + T;
  let keyMask = batch.mask;
  if (cache || prefix) {
    keyMask = new Uint8Array(B * Tk);
    for (let b = 0; b < B; b++) {
      if (cache) keyMask.set(cache.keyMask.subarray(b * pastLen, (b + 1) * pastLen), b * Tk);
      else keyMask.fill(1, b * Tk, b * Tk + pastLen);
      keyMask.set(batch.mask.subarray(b * T, (b + 1) * T), b * Tk + pastLen);
    }
  }
  const newK: tf.Tensor4D[] = [];
  const newV: tf.Tensor4D[] = [];
  const kvOut: tf.Tensor4D[][] = [[], []];
  const { hidden } = tf.tidy(() => {
    const ids = tf.tensor1d(batch.ids, 'int32');
    let x = tf.gather(params.embed, ids) as tf.Tensor2D; // [B·T, d]
    if (cfg.embedScale !== undefined) x = tf.mul(x, cfg.embedScale);
    const scale = cfg.attnScale ?? 1 / Math.sqrt(dh);
    const qRope = ropeTables(batch.positions, H, dh, cfg.ropeTheta, scale, cfg.ropeScaling); // the score scale folded into q
    const kRope = ropeTables(batch.positions, Hkv, dh, cfg.ropeTheta, 1, cfg.ropeScaling);
    const sw = cfg.slidingWindow;
    let bias: tf.Tensor4D | undefined; // additive masks, built only if the stock attention runs (the fused one masks natively)
    let localBias: tf.Tensor4D | undefined;
    const group = H / Hkv; // query heads per key/value head
    const plusOne = cfg.normPlusOne === true;
    const loraScale = cfg.lora ? cfg.lora.alpha / cfg.lora.rank : 0;
    for (let l = 0; l < cfg.nLayers; l++) {
      const p = (n: string) => params[`layers.${l}.${n}`];
      // x·W (+ b) (+ (x·A)·B·alpha/r when the weight has a LoRA adapter); the small models take the plain matMul
      const proj = (inp: tf.Tensor2D, w: string, b?: string): tf.Tensor2D => {
        let y = tf.matMul(inp, p(w)) as tf.Tensor2D;
        if (b !== undefined) y = tf.add(y, p(b));
        const a = cfg.lora ? p(`${w}.lora_a`) : undefined;
        if (a) y = tf.add(y, tf.mul(tf.matMul(tf.matMul(inp, a), p(`${w}.lora_b`)), loraScale));
        return y;
      };
      const h = rmsNorm(x, p('attn_norm'), cfg.normEps, plusOne);
      const bq = cfg.attnBias ? 'bq' : undefined;
      const q = applyRope(proj(h, 'wq', bq), B * T, H, dh, qRope.cos, qRope.sin);
      const k = applyRope(proj(h, 'wk', cfg.attnBias ? 'bk' : undefined), B * T, Hkv, dh, kRope.cos, kRope.sin);
      const v = proj(h, 'wv', cfg.attnBias ? 'bv' : undefined);
      // [B, T, heads, dh] -> [B, heads, T, dh]
      const q4 = tf.transpose(tf.reshape(q, [B, T, H, dh]), [0, 2, 1, 3]);
      let k4 = tf.transpose(tf.reshape(k, [B, T, Hkv, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
      let v4 = tf.transpose(tf.reshape(v, [B, T, Hkv, dh]), [0, 2, 1, 3]) as tf.Tensor4D;
      if (opts.kvOut) kvOut[0].push(k4), kvOut[1].push(v4);
      if (cache) {
        if (pastLen > 0) {
          k4 = tf.concat([cache.k[l], k4], 2);
          v4 = tf.concat([cache.v[l], v4], 2);
        }
        newK.push(tf.keep(k4));
        newV.push(tf.keep(v4));
      } else if (prefix) {
        k4 = tf.concat([prefix.k[l], k4], 2) as tf.Tensor4D;
        v4 = tf.concat([prefix.v[l], v4], 2) as tf.Tensor4D;
      }
      // Grouped-query attention without copying K/V per query head (a GatherV2 on wasm took ~90% of a decode step):
      // the query heads of kv head i are the consecutive heads i·group…, so [B, H, T, ·] is [B, Hkv, group·T, ·] by a
      // reshape, and one matMul per kv head serves its whole group.
      const qG = tf.reshape(q4, [B, Hkv, group * T, dh]) as tf.Tensor4D;
      const local = sw !== undefined && sw.layers.includes(l);
      const fused = cfg.attnSoftcap === undefined ? fusedAttention(qG, k4, v4, keyMask, T, pastLen, local ? sw.size : Infinity) : undefined;
      let ctx: tf.Tensor;
      if (fused) ctx = tf.reshape(fused, [B, H, T, dh]);
      else {
        let raw = tf.reshape(tf.matMul(qG, k4, false, true), [B, H, T, Tk]);
        if (cfg.attnSoftcap !== undefined) raw = softcap(raw, cfg.attnSoftcap);
        if (local && !localBias) localBias = attentionBias(B, H, T, Tk, keyMask, pastLen, sw.size);
        if (!local && !bias) bias = attentionBias(B, H, T, Tk, keyMask, pastLen);
        const scores = tf.add(raw, local ? localBias! : bias!); // [B, H, T, Tk]
        const probs = tf.softmax(scores);
        ctx = tf.reshape(tf.matMul(tf.reshape(probs, [B, Hkv, group * T, Tk]), v4), [B, H, T, dh]); // [B, H, T, dh]
      }
      const merged = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B * T, H * dh]) as tf.Tensor2D;
      let attnOut = proj(merged, 'wo');
      if (cfg.sandwichNorms) attnOut = rmsNorm(attnOut, p('post_attn_norm'), cfg.normEps, plusOne);
      x = tf.add(x, attnOut);
      const m = rmsNorm(x, p('mlp_norm'), cfg.normEps, plusOne);
      const gate = proj(m, 'w_gate');
      const up = proj(m, 'w_up');
      const act = (cfg.activation !== 'gelu_tanh' && fusedSwiglu(gate, up)) ||
        tf.mul(cfg.activation === 'gelu_tanh' ? geluTanh(gate) : tf.mul(gate, tf.sigmoid(gate)), up); // SwiGLU: silu(g)·u (GeGLU for Gemma)
      let mlpOut = proj(act as tf.Tensor2D, 'w_down');
      if (cfg.sandwichNorms) mlpOut = rmsNorm(mlpOut, p('post_mlp_norm'), cfg.normEps, plusOne);
      x = tf.add(x, mlpOut);
    }
    const out = tf.reshape(rmsNorm(x, params.final_norm, cfg.normEps, plusOne), [B, T, d]) as tf.Tensor3D;
    return { hidden: out, k: kvOut[0], v: kvOut[1] }; // returned, so the keys/values outlive this tidy
  }) as { hidden: tf.Tensor3D; k: tf.Tensor4D[]; v: tf.Tensor4D[] };
  if (opts.kvOut) {
    opts.kvOut.k.push(...kvOut[0]);
    opts.kvOut.v.push(...kvOut[1]);
  }
  if (cache) {
    disposeCache(cache);
    cache.k = newK;
    cache.v = newV;
    cache.keyMask = keyMask;
    cache.len = Tk;
  }
  return hidden;
}

/**
 * Hidden states [B, T, d] of right-padded sequences that all begin with the same `prefixLen` tokens: equal to
 * `forward(params, cfg, padBatch(seqs, 'right', padId, T))`, but the prefix runs once and its keys/values and hidden
 * states are copied to every row. RecPO's G rollouts of one user share their prompt, most of each sequence.
 * Differentiable (the copies' gradients add up in the prefix).
 */
export function forwardSharedPrefix(
  params: Params,
  cfg: ModelConfig,
  seqs: number[][],
  T: number,
  prefixLen: number,
  padId = 0,
): tf.Tensor3D {
  const B = seqs.length;
  const P = prefixLen;
  if (B === 0 || !(P >= 1) || seqs.some((q) => q.length < P || q.length > T)) {
    throw new R2ecError(`forwardSharedPrefix: prefix of ${P} tokens does not fit sequences of ${seqs.map((q) => q.length)} (T ${T})`);
  }
  for (const q of seqs) {
    for (let t = 0; t < P; t++) if (q[t] !== seqs[0][t]) throw new R2ecError(`forwardSharedPrefix: the sequences differ at position ${t} < ${P}`);
  }
  return tf.tidy(() => {
    const kv = { k: [] as tf.Tensor4D[], v: [] as tf.Tensor4D[] };
    const pre = forward(params, cfg, padBatch([seqs[0].slice(0, P)], 'right', padId), { kvOut: kv }); // [1, P, d]
    const copies = tf.zeros([B], 'int32') as tf.Tensor1D;
    const preRows = tf.gather(pre, copies) as tf.Tensor3D;
    const Ts = T - P;
    if (Ts === 0) return preRows;
    const ids = new Int32Array(B * Ts).fill(padId);
    const mask = new Uint8Array(B * Ts);
    const positions = new Int32Array(B * Ts);
    seqs.forEach((q, b) => {
      for (let t = P; t < q.length; t++) {
        ids[b * Ts + t - P] = q[t];
        mask[b * Ts + t - P] = 1;
        positions[b * Ts + t - P] = t; // pads keep position 0, as in padBatch
      }
    });
    const suffix: TokenBatch = { B, T: Ts, ids, mask, positions, lengths: seqs.map((q) => q.length - P), side: 'right' };
    const prefix = { k: kv.k.map((t) => tf.gather(t, copies)), v: kv.v.map((t) => tf.gather(t, copies)), len: P };
    return tf.concat([preRows, forward(params, cfg, suffix, { prefix })], 1) as tf.Tensor3D;
  });
}

export function emptyCache(B: number): KVCache {
  return { k: [], v: [], keyMask: new Uint8Array(0), len: 0, B };
}

/**
 * Token logits from hidden states: [N, d] -> [N, V]. The output layer is the embedding (tied) or `lm_head` when the
 * params have one (untied imported backbones). Pass the config to apply Gemma-2's logit soft-capping (spec §3).
 */
export function lmLogits(params: Params, hidden2d: tf.Tensor2D, cfg?: ModelConfig): tf.Tensor2D {
  const logits = tf.matMul(hidden2d, params.lm_head ?? params.embed, false, true) as tf.Tensor2D;
  return cfg?.logitSoftcap !== undefined ? softcap(logits, cfg.logitSoftcap) : logits;
}

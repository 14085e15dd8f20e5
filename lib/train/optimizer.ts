// AdamW with global-norm gradient clipping, written out so that its state is plain tensors we can checkpoint
// and restore exactly (resume-after-kill must reproduce an uninterrupted run).
import { tf } from '../model/backend';
import { fusedAdamW, fusedSumSquares } from '../model/fused-kernels'; // one native kernel per parameter when active (issue 10)
import type { Params } from '../model/decoder';
import { paramsToArrays, type NamedArrays } from '../model/checkpoint';
import { ConfigError, R2ecError } from '../util/errors';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** clip the global gradient norm to this value (0 = no clipping) */
  clipNorm: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 };

/** Check an AdamW config; errors name the field as `${prefix}.<key>`. */
export function validateAdamW(c: AdamWConfig, prefix: string): void {
  if (!(c.lr > 0)) throw new ConfigError(`${prefix}.lr`, `must be > 0, got ${c.lr}`);
  for (const k of ['beta1', 'beta2'] as const) if (!(c[k] >= 0 && c[k] < 1)) throw new ConfigError(`${prefix}.${k}`, `must be in [0, 1), got ${c[k]}`);
  if (!(c.eps > 0)) throw new ConfigError(`${prefix}.eps`, `must be > 0, got ${c.eps}`);
  if (!(c.weightDecay >= 0)) throw new ConfigError(`${prefix}.weightDecay`, `must be ≥ 0, got ${c.weightDecay}`);
  if (!(c.clipNorm >= 0)) throw new ConfigError(`${prefix}.clipNorm`, `must be ≥ 0 (0 = no clipping), got ${c.clipNorm}`);
}

export interface AdamWState {
  step: number;
  m: Record<string, tf.Variable>;
  v: Record<string, tf.Variable>;
}

export function initAdamW(params: Params): AdamWState {
  const m: Record<string, tf.Variable> = {};
  const v: Record<string, tf.Variable> = {};
  for (const [k, p] of Object.entries(params)) {
    // inside tidy: the zerosLike tensors would otherwise outlive disposeAdamW and keep the moments' memory
    m[k] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    v[k] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
  }
  return { step: 0, m, v };
}

export function disposeAdamW(state: AdamWState): void {
  Object.values(state.m).forEach((t) => t.dispose());
  Object.values(state.v).forEach((t) => t.dispose());
}

export function globalNorm(grads: Record<string, tf.Tensor>): number {
  const fused = fusedSumSquares(Object.values(grads));
  if (fused !== undefined) return Math.sqrt(fused);
  return tf.tidy(() => {
    const sq = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    return Math.sqrt(tf.addN(sq).dataSync()[0]);
  });
}

/**
 * One AdamW step (decoupled weight decay, bias-corrected moments). Norms (1-D weights) get no decay.
 * Returns the pre-clip global gradient norm. `lr` overrides cfg.lr (schedules).
 */
export function adamWStep(
  params: Params,
  grads: Record<string, tf.Tensor>,
  state: AdamWState,
  cfg: AdamWConfig,
  lr = cfg.lr,
): number {
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm)) return norm; // caller decides (NaN guard); parameters stay untouched
  const scale = cfg.clipNorm > 0 && norm > cfg.clipNorm ? cfg.clipNorm / (norm + 1e-6) : 1;
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - Math.pow(cfg.beta1, t);
  const bc2 = 1 - Math.pow(cfg.beta2, t);
  tf.tidy(() => {
    for (const [k, p] of Object.entries(params)) {
      const g0 = grads[k];
      if (!g0) continue;
      const wd = cfg.weightDecay > 0 && p.rank > 1 ? cfg.weightDecay : 0;
      const fused = fusedAdamW(p, g0, state.m[k], state.v[k], { lr, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: wd, gradScale: scale, bc1, bc2 });
      if (fused) {
        state.m[k].assign(fused[1]);
        state.v[k].assign(fused[2]);
        p.assign(fused[0]);
        continue;
      }
      const g = scale === 1 ? g0 : tf.mul(g0, scale);
      const m = tf.add(tf.mul(state.m[k], cfg.beta1), tf.mul(g, 1 - cfg.beta1));
      const v = tf.add(tf.mul(state.v[k], cfg.beta2), tf.mul(tf.square(g), 1 - cfg.beta2));
      state.m[k].assign(m);
      state.v[k].assign(v);
      let upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), cfg.eps));
      if (cfg.weightDecay > 0 && p.rank > 1) upd = tf.add(upd, tf.mul(p, cfg.weightDecay));
      p.assign(tf.sub(p, tf.mul(upd, lr)));
    }
  });
  return norm;
}

// ---------------------------------------------------------------------------------------------------------------
// State serialisation (checkpoints store it as named arrays; lib/model/checkpoint.ts writes them)

export type AdamWArrays = { step: number; m: NamedArrays; v: NamedArrays };

export function optimizerToArrays(state: AdamWState): AdamWArrays {
  return { step: state.step, m: paramsToArrays(state.m), v: paramsToArrays(state.v) };
}

export function restoreOptimizer(state: AdamWState, saved: AdamWArrays): void {
  state.step = saved.step;
  for (const k of Object.keys(state.m)) {
    if (!saved.m[k] || !saved.v[k]) throw new R2ecError(`optimizer state has no moments for "${k}"`);
    tf.tidy(() => {
      state.m[k].assign(tf.tensor(saved.m[k].data, saved.m[k].shape));
      state.v[k].assign(tf.tensor(saved.v[k].data, saved.v[k].shape));
    });
  }
}

// What every traditional baseline shares (paper Table 1 baselines, App. D: cross-entropy over the full catalog,
// AdamW, batch 256): the result type that plugs into evaluateRanking, config validation, input batching, AdamW, and
// the epoch loop with early stopping on valid NDCG@10 that keeps the best weights.
import { tf } from '../model/backend';
import type { Dataset, Sample } from '../data/types';
import { ConfigError, R2ecError } from '../util/errors';
import { DEFAULT_SEED, hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { evaluateRanking, type EvalResult, type Scorer } from '../eval/evaluate';

/** One point of a learning curve. */
export interface EpochCurve {
  epoch: number;
  /** mean training loss over the epoch's batches */
  loss: number;
  /** valid metrics (all of evaluateRanking's keys) */
  valid: Record<string, number>;
  /** seconds for training + validation of this epoch */
  sec: number;
  /** live tensors after the epoch (flat across epochs = no leak) */
  numTensors: number;
}

/** What every trained baseline returns: `scorer` plugs into evaluateRanking. */
export interface TrainedBaseline<C = unknown> {
  name: string;
  scorer: Scorer;
  curves: EpochCurve[];
  /** 1-based epoch whose weights are kept (0 for models without training epochs) */
  bestEpoch: number;
  /** the validated config actually used (defaults filled in) */
  config: C;
  trainSec: number;
  numParams: number;
  /** free the weights (tensors) */
  dispose(): void;
}

export interface TrainHooks {
  onEpoch?(c: EpochCurve): void;
  onStep?(step: number, loss: number): void;
}

/** What early stopping selects on (an experiment passes its valid subset, the one every method selects on). */
export interface TrainOptions {
  /** valid samples for early stopping (default: the whole valid split) */
  valid?: Sample[];
  /** mask history items when ranking them (default true, spec §5) */
  maskHistory?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Config validation

export type FieldRule =
  | { type: 'int'; min?: number; max?: number }
  | { type: 'number'; min?: number; max?: number; exclusiveMin?: boolean }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[] };

/**
 * Fill defaults and check every field of `cfg` against `rules`; an unknown key or a bad value is a ConfigError
 * naming the field (`${prefix}.${key}`).
 */
export function validateFields<C extends object>(
  prefix: string,
  cfg: Partial<C> | undefined,
  defaults: C,
  rules: Record<keyof C, FieldRule>,
): C {
  const out = { ...defaults } as Record<string, unknown>;
  if (cfg !== undefined && (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg))) {
    throw new ConfigError(prefix, 'must be an object');
  }
  for (const [k, v] of Object.entries(cfg ?? {})) {
    if (!(k in rules)) {
      throw new ConfigError(`${prefix}.${k}`, `unknown key; known keys: ${Object.keys(rules).join(', ')}`);
    }
    if (v !== undefined) out[k] = v;
  }
  for (const [k, rule] of Object.entries(rules) as [string, FieldRule][]) {
    const v = out[k];
    const field = `${prefix}.${k}`;
    if (rule.type === 'int' || rule.type === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(field, `must be a finite number, got ${JSON.stringify(v)}`);
      if (rule.type === 'int' && !Number.isInteger(v)) throw new ConfigError(field, `must be an integer, got ${v}`);
      if (rule.min !== undefined) {
        const excl = rule.type === 'number' && rule.exclusiveMin;
        if (excl ? v <= rule.min : v < rule.min) throw new ConfigError(field, `must be ${excl ? '>' : '≥'} ${rule.min}, got ${v}`);
      }
      if (rule.max !== undefined && v > rule.max) throw new ConfigError(field, `must be ≤ ${rule.max}, got ${v}`);
    } else if (rule.type === 'bool') {
      if (typeof v !== 'boolean') throw new ConfigError(field, `must be true or false, got ${JSON.stringify(v)}`);
    } else if (!rule.values.includes(v as string)) {
      throw new ConfigError(field, `must be one of ${rule.values.join(' | ')}, got ${JSON.stringify(v)}`);
    }
  }
  return out as C;
}

/** Fields every neural baseline has. */
export interface NeuralConfig {
  seed: number;
  /** maximum epochs */
  epochs: number;
  /** stop after this many epochs without a better valid NDCG@10 */
  patience: number;
  batchSize: number;
  lr: number;
  /** AdamW decoupled weight decay (applied to matrices and embeddings, not to biases or LayerNorm) */
  weightDecay: number;
  /** embedding / hidden size */
  dim: number;
  /** most recent history items fed to the model */
  maxLen: number;
  dropout: number;
  /**
   * 'allPositions': every position of each user's train sequence is a target once (windows of maxLen+1 cut from
   * the end of the sequence; the SASRec/GRU4Rec way, ~maxLen× fewer forward passes per epoch).
   * 'last': one example per train sample (its history → its target), the sample framing of spec §1.
   */
  trainOn: 'allPositions' | 'last';
  /** samples per scorer call during validation */
  evalBatchSize: number;
  /** print one line per epoch to stderr */
  verbose: boolean;
}

// Chosen on ml-100k VALID NDCG@10 (SASRec, d 64, 2 blocks, 12–30 epochs): App. D's lr 1e-4 is far too slow at our
// scale; with batches of 256 windows (≈ 4,800 targets per step) lr 1e-3 / 3e-3 / 6e-3 reached 0.080 / 0.098 / 0.094
// after 15 epochs, while 64 windows (≈ 1,200 targets per step, still ~4× App. D's 256 samples) with lr 2e-3 reached
// 0.100 after 10 epochs. `batchSize` counts examples: windows in 'allPositions' mode, samples in 'last' mode.
export const NEURAL_DEFAULTS: NeuralConfig = {
  seed: DEFAULT_SEED,
  epochs: 50,
  patience: 3,
  batchSize: 64,
  lr: 2e-3,
  weightDecay: 0.01, // PyTorch AdamW's default (App. D names AdamW, no decay value)
  dim: 64,
  maxLen: 20,
  dropout: 0.2,
  trainOn: 'allPositions',
  evalBatchSize: 512,
  verbose: false,
};

export const NEURAL_RULES: Record<keyof NeuralConfig, FieldRule> = {
  seed: { type: 'int', min: 0 },
  epochs: { type: 'int', min: 1 },
  patience: { type: 'int', min: 1 },
  batchSize: { type: 'int', min: 1 },
  lr: { type: 'number', min: 0, exclusiveMin: true },
  weightDecay: { type: 'number', min: 0 },
  dim: { type: 'int', min: 1 },
  maxLen: { type: 'int', min: 1 },
  dropout: { type: 'number', min: 0, max: 0.95 },
  trainOn: { type: 'enum', values: ['allPositions', 'last'] },
  evalBatchSize: { type: 'int', min: 1 },
  verbose: { type: 'bool' },
};

// ---------------------------------------------------------------------------------------------------------------
// Inputs

/** The last `maxLen` item ids of a history, left-padded with the pad id 0 (the most recent item at maxLen−1). */
export function padLeft(items: readonly number[], maxLen: number, out: Int32Array, offset: number): void {
  const take = Math.min(items.length, maxLen);
  const pad = maxLen - take;
  for (let i = 0; i < pad; i++) out[offset + i] = 0;
  for (let i = 0; i < take; i++) out[offset + pad + i] = items[items.length - take + i];
}

/** Batch of histories as ids [B, maxLen] (left-padded). */
export function historyIds(samples: readonly Sample[], maxLen: number): Int32Array {
  const out = new Int32Array(samples.length * maxLen);
  samples.forEach((s, r) => padLeft(s.history.map((h) => h.item), maxLen, out, r * maxLen));
  return out;
}

/**
 * One training example: input ids [maxLen] and the label at each position (0 = no loss there). In 'last' mode only
 * the final position has a label.
 */
export interface Example {
  ids: Int32Array;
  labels: Int32Array;
  user: number;
}

/**
 * Each user's train-period sequence, oldest first: the earliest train sample's history followed by every train
 * target in sample order. Train samples of a user are consecutive positions of the user's sequence (spec §1), so
 * every train-period interaction appears exactly once.
 */
export function trainSequences(ds: Dataset): Map<number, number[]> {
  const byUser = new Map<number, Sample[]>();
  for (const s of ds.samples.train) {
    let l = byUser.get(s.user);
    if (!l) byUser.set(s.user, (l = []));
    l.push(s);
  }
  const out = new Map<number, number[]>();
  for (const [u, list] of byUser) {
    list.sort((a, b) => a.index - b.index);
    for (let k = 1; k < list.length; k++) {
      const h = list[k].history;
      const prev = list[k - 1].target;
      if (h.length === 0 || h[h.length - 1].item !== prev.item || h[h.length - 1].timestamp !== prev.timestamp) {
        throw new R2ecError(
          `dataset "${ds.name}": train sample ${list[k].index} of user ${u} does not continue the user's previous ` +
            `train sample ${list[k - 1].index} (its history should end with that target); samples must be built as in spec §1`,
        );
      }
    }
    out.set(u, [...list[0].history.map((h) => h.item), ...list.map((s) => s.target.item)]);
  }
  return out;
}

/** Training examples for one epoch's worth of data (order fixed; the trainer shuffles). */
export function buildExamples(ds: Dataset, maxLen: number, mode: NeuralConfig['trainOn']): Example[] {
  const ex: Example[] = [];
  if (mode === 'last') {
    for (const s of ds.samples.train) {
      const ids = new Int32Array(maxLen);
      padLeft(
        s.history.map((h) => h.item),
        maxLen,
        ids,
        0,
      );
      const labels = new Int32Array(maxLen);
      labels[maxLen - 1] = s.target.item;
      ex.push({ ids, labels, user: s.user });
    }
    return ex;
  }
  for (const [user, seq] of trainSequences(ds)) {
    // windows of maxLen+1 items ending at the end of the sequence, stepping back by maxLen, so every position ≥ 1
    // is a label exactly once
    for (let end = seq.length; end > 1; end -= maxLen) {
      const start = Math.max(0, end - maxLen - 1);
      const w = seq.slice(start, end);
      const ids = new Int32Array(maxLen);
      const labels = new Int32Array(maxLen);
      padLeft(w.slice(0, -1), maxLen, ids, 0);
      padLeft(w.slice(1), maxLen, labels, 0);
      ex.push({ ids, labels, user });
    }
  }
  return ex;
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters

export type Params = Record<string, tf.Variable>;

/** Seeded normal init from our own rng (identical across backends), as a trainable variable. */
export function normalVar(rng: ReturnType<typeof makeRng>, shape: number[], std: number, name: string): tf.Variable {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * std;
  return ownedVariable(tf.tensor(v, shape), name);
}

/** tf.variable copies its initial value and leaves it alive: dispose it so a disposed model frees everything. */
function ownedVariable(init: tf.Tensor, name: string): tf.Variable {
  const v = tf.variable(init, true, `${name}_${++variableCounter}`);
  init.dispose();
  return v;
}

// tfjs variable names are global; a counter keeps them unique across models in one process
let variableCounter = 0;

/** Xavier/Glorot normal (the original SASRec initialisation). */
export function xavierVar(rng: ReturnType<typeof makeRng>, shape: [number, number], name: string): tf.Variable {
  return normalVar(rng, shape, Math.sqrt(2 / (shape[0] + shape[1])), name);
}

export function constVar(shape: number[], value: number, name: string): tf.Variable {
  return ownedVariable(tf.fill(shape, value), name);
}

export function countParams(p: Params): number {
  return Object.values(p).reduce((a, v) => a + v.size, 0);
}

/** LayerNorm over the last axis. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-8): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

/** x [.., d] · W [d, k] + b, as a 2-D matMul (batched matMul is slow on wasm, stack notes). */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  const k = w.shape[1] as number;
  let y = tf.matMul(tf.reshape(x, [-1, d]) as tf.Tensor2D, w as tf.Tensor2D) as tf.Tensor;
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), k]);
}

/**
 * logSumExp over each row with the gradient written as softmax. The built-in gradient goes through `max`, whose
 * gradient builds an `equal` mask that wasm runs very slowly at [5120, 1683] (measured 550 ms of a 750 ms step).
 */
const logSumExpRows = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  // one exp pass, reused by the gradient (exp over [M, N+1] is the second-largest cost of a step)
  const m = tf.max(x, 1, true);
  const e = tf.exp(tf.sub(x, m));
  const z = tf.sum(e, 1, true);
  const value = tf.reshape(tf.add(tf.log(z), m), [-1]);
  save([e, z]);
  return {
    value,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [es, zs] = saved;
      return tf.mul(tf.div(tf.expandDims(dy as tf.Tensor, 1), zs), es);
    },
  };
}) as (x: tf.Tensor2D) => tf.Tensor1D;

/**
 * Softmax cross-entropy over the whole catalog (App. D) for hidden states h [M, d] against item embeddings
 * E [N+1, d] (tied output layer): logits = h·Eᵀ (+ bias), the pad column excluded, mean over the M targets.
 * The target logit is taken by gathering target rows (gather has a gradient; gatherND does not, stack notes).
 */
export function catalogCrossEntropy(h: tf.Tensor2D, itemEmb: tf.Tensor2D, targets: tf.Tensor1D, bias?: tf.Tensor1D): tf.Scalar {
  const n1 = itemEmb.shape[0];
  let logits = tf.matMul(h, tf.transpose(itemEmb)) as tf.Tensor2D;
  if (bias) logits = tf.add(logits, bias);
  const padMask = tf.concat([tf.fill([1], -1e9), tf.zeros([n1 - 1])]);
  const lse = logSumExpRows(tf.add(logits, padMask) as tf.Tensor2D);
  let tgt = tf.sum(tf.mul(h, tf.gather(itemEmb, targets)), 1);
  if (bias) tgt = tf.add(tgt, tf.gather(bias, targets));
  return tf.mean(tf.sub(lse, tgt)) as tf.Scalar;
}

// ---------------------------------------------------------------------------------------------------------------
// Training loop

export interface SeqModel {
  params: Params;
  /** names of params without weight decay (biases, LayerNorm) */
  noDecay: Set<string>;
  /** mean CE loss of a batch (inside a tape; dropout seeded by `seed`) */
  loss(ids: tf.Tensor2D, labels: Int32Array, users: Int32Array, seed: number): tf.Scalar;
  /** scores [B, N+1] for evaluation (no dropout) */
  score(samples: Sample[]): tf.Tensor2D;
}

/** Positions with a label, as flat indices into [B·T], and their labels. */
export function labelledPositions(labels: Int32Array): { pos: Int32Array; tgt: Int32Array } {
  let m = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > 0) m++;
  const pos = new Int32Array(m);
  const tgt = new Int32Array(m);
  let k = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] > 0) {
      pos[k] = i;
      tgt[k++] = labels[i];
    }
  }
  return { pos, tgt };
}

/**
 * Train `model` with AdamW on seeded, shuffled batches; after every epoch evaluate valid NDCG@10 (on `opts.valid`,
 * default the whole valid split), keep the best weights, stop after `patience` epochs without improvement; the model
 * ends holding the best weights.
 */
export async function trainSeqModel(
  name: string,
  ds: Dataset,
  cfg: NeuralConfig,
  model: SeqModel,
  hooks: TrainHooks = {},
  opts: TrainOptions = {},
): Promise<{ curves: EpochCurve[]; bestEpoch: number; trainSec: number; best: EvalResult | undefined }> {
  if (ds.samples.train.length === 0) throw new R2ecError(`${name}: dataset "${ds.name}" has no train samples`);
  const validSet = opts.valid ?? ds.samples.valid;
  if (validSet.length === 0) throw new R2ecError(`${name}: dataset "${ds.name}" has no valid samples (early stopping needs them)`);
  const t0 = performance.now();
  const examples = buildExamples(ds, cfg.maxLen, cfg.trainOn);
  const rng = makeRng(hashSeed(cfg.seed, name, 'train'));
  const optimizer = tf.train.adam(cfg.lr, 0.9, 0.999, 1e-8);
  const vars = Object.entries(model.params);
  const decayed = vars.filter(([k]) => !model.noDecay.has(k)).map(([, v]) => v);
  const varList = vars.map(([, v]) => v);
  const scorer: Scorer = async (batch) => tf.tidy(() => model.score(batch));
  const curves: EpochCurve[] = [];
  let best: { ndcg: number; epoch: number; weights: tf.Tensor[]; result: EvalResult } | undefined;
  let step = 0;
  const T = cfg.maxLen;
  try {
    for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
      const te = performance.now();
      const order = shuffleInPlace(
        examples.map((_, i) => i),
        rng,
      );
      let lossSum = 0;
      let batches = 0;
      for (let s = 0; s < order.length; s += cfg.batchSize) {
        const idx = order.slice(s, s + cfg.batchSize);
        const b = idx.length;
        const ids = new Int32Array(b * T);
        const labels = new Int32Array(b * T);
        const users = new Int32Array(b);
        idx.forEach((e, r) => {
          ids.set(examples[e].ids, r * T);
          labels.set(examples[e].labels, r * T);
          users[r] = examples[e].user;
        });
        const seed = rng.int(2 ** 31);
        if (cfg.weightDecay > 0) {
          // decoupled weight decay (AdamW), applied before the Adam step as PyTorch does
          const f = 1 - cfg.lr * cfg.weightDecay;
          tf.tidy(() => decayed.forEach((v) => v.assign(tf.mul(v, f))));
        }
        const idsT = tf.tensor2d(ids, [b, T], 'int32');
        const cost = optimizer.minimize(() => model.loss(idsT, labels, users, seed), true, varList);
        idsT.dispose();
        const l = cost!.dataSync()[0];
        cost!.dispose();
        if (!Number.isFinite(l)) throw new R2ecError(`${name}: training loss became ${l} at epoch ${epoch}, step ${step}`);
        lossSum += l;
        batches++;
        hooks.onStep?.(step++, l);
      }
      const valid = await evaluateRanking(ds, validSet, scorer, { batchSize: cfg.evalBatchSize, maskHistory: opts.maskHistory });
      const ndcg = valid.metrics['NDCG@10'];
      if (!best || ndcg > best.ndcg) {
        if (best) tf.dispose(best.weights);
        best = { ndcg, epoch, weights: varList.map((v) => tf.clone(v)), result: valid };
      }
      const c: EpochCurve = {
        epoch,
        loss: lossSum / batches,
        valid: valid.metrics,
        sec: (performance.now() - te) / 1000,
        numTensors: tf.memory().numTensors,
      };
      curves.push(c);
      hooks.onEpoch?.(c);
      if (cfg.verbose) {
        process.stderr.write(
          `${name} epoch ${epoch}: loss ${c.loss.toFixed(4)} valid NDCG@10 ${ndcg.toFixed(4)} HR@10 ` +
            `${valid.metrics['HR@10'].toFixed(4)} (${c.sec.toFixed(1)}s)${best.epoch === epoch ? ' *' : ''}\n`,
        );
      }
      if (epoch - best.epoch >= cfg.patience) break;
    }
  } finally {
    optimizer.dispose();
  }
  // restore the best weights
  if (best) {
    varList.forEach((v, i) => v.assign(best!.weights[i]));
    tf.dispose(best.weights);
  }
  return { curves, bestEpoch: best?.epoch ?? 0, trainSec: (performance.now() - t0) / 1000, best: best?.result };
}

/** Wrap a trained SeqModel as a TrainedBaseline. */
export function asBaseline<C>(
  name: string,
  model: SeqModel,
  cfg: C,
  run: { curves: EpochCurve[]; bestEpoch: number; trainSec: number },
): TrainedBaseline<C> {
  return {
    name,
    scorer: async (batch) => tf.tidy(() => model.score(batch)),
    curves: run.curves,
    bestEpoch: run.bestEpoch,
    config: cfg,
    trainSec: run.trainSec,
    numParams: countParams(model.params),
    dispose: () => tf.dispose(Object.values(model.params)),
  };
}

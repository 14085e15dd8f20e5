// GRU4Rec (Hidasi et al. 2016; Table 1 baseline) with softmax cross-entropy over the full catalog (App. D): item
// embeddings → dropout → one GRU layer over the left-padded history (pad steps leave the state unchanged) → the
// state at each position · Eᵀ (tied item embeddings) → logits over ids 0..N.
// The GRU is written out (input projections for all steps in one matMul, then one small matMul per step) rather
// than taken from tf.layers, so that it is a plain function over the params object like the other models.
import { tf } from '../model/backend';
import type { Dataset, Sample } from '../data/types';
import { hashSeed, makeRng } from '../util/rng';
import {
  asBaseline,
  catalogCrossEntropy,
  constVar,
  dense,
  historyIds,
  labelledPositions,
  NEURAL_DEFAULTS,
  NEURAL_RULES,
  normalVar,
  trainSeqModel,
  validateFields,
  xavierVar,
  type FieldRule,
  type NeuralConfig,
  type Params,
  type SeqModel,
  type TrainedBaseline,
  type TrainHooks,
  type TrainOptions,
} from './common';

export type GRU4RecConfig = NeuralConfig;

export const GRU4REC_DEFAULTS: GRU4RecConfig = { ...NEURAL_DEFAULTS };

export function validateGRU4RecConfig(cfg?: Partial<GRU4RecConfig>): GRU4RecConfig {
  return validateFields('gru4rec', cfg, GRU4REC_DEFAULTS, NEURAL_RULES as Record<keyof GRU4RecConfig, FieldRule>);
}

export function initGRU4Rec(numItems: number, c: GRU4RecConfig): Params {
  const rng = makeRng(hashSeed(c.seed, 'gru4rec', 'init'));
  const d = c.dim;
  return {
    itemEmb: normalVar(rng, [numItems + 1, d], Math.sqrt(2 / (numItems + 1 + d)), 'itemEmb'),
    // gates in the order [update z | reset r | candidate n]
    wx: xavierVar(rng, [d, 3 * d], 'wx'),
    wh: xavierVar(rng, [d, 3 * d], 'wh'),
    bx: constVar([3 * d], 0, 'bx'),
    bh: constVar([3 * d], 0, 'bh'),
    wo: xavierVar(rng, [d, d], 'wo'),
    bo: constVar([d], 0, 'bo'),
  };
}

/** States [B, T, d] after each position of left-padded ids [B, T]; `seed` undefined = eval (no dropout). */
export function gru4recForward(p: Params, c: GRU4RecConfig, idsT: tf.Tensor2D, seed?: number): tf.Tensor3D {
  const [b, t] = idsT.shape;
  const d = c.dim;
  const drop = (x: tf.Tensor, k: number) => (seed === undefined || c.dropout === 0 ? x : tf.dropout(x, c.dropout, undefined, seed + k));
  const keep = tf.cast(tf.notEqual(idsT, 0), 'float32'); // [B,T]
  const x = drop(tf.gather(p.itemEmb, idsT), 1);
  const gx = tf.reshape(dense(x, p.wx, p.bx), [b, t, 3 * d]); // input projections of all steps at once
  let hPrev: tf.Tensor = tf.zeros([b, d]);
  const states: tf.Tensor[] = [];
  for (let i = 0; i < t; i++) {
    const xi = tf.reshape(gx.slice([0, i, 0], [b, 1, 3 * d]), [b, 3 * d]);
    const hi = tf.add(tf.matMul(hPrev as tf.Tensor2D, p.wh as tf.Tensor2D), p.bh);
    const z = tf.sigmoid(tf.add(xi.slice([0, 0], [b, d]), hi.slice([0, 0], [b, d])));
    const r = tf.sigmoid(tf.add(xi.slice([0, d], [b, d]), hi.slice([0, d], [b, d])));
    const n = tf.tanh(tf.add(xi.slice([0, 2 * d], [b, d]), tf.mul(r, hi.slice([0, 2 * d], [b, d]))));
    const hNew = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, hPrev));
    const m = keep.slice([0, i], [b, 1]);
    hPrev = tf.add(tf.mul(m, hNew), tf.mul(tf.sub(1, m), hPrev)); // pad steps keep the state
    states.push(hPrev);
  }
  const hs = tf.stack(states, 1); // [B,T,d]
  // a linear read-out maps the tanh-bounded state into the item-embedding space of the tied output layer
  return dense(drop(hs, 2), p.wo, p.bo) as tf.Tensor3D;
}

function gru4recModel(numItems: number, c: GRU4RecConfig): SeqModel {
  const params = initGRU4Rec(numItems, c);
  const noDecay = new Set(Object.keys(params).filter((k) => params[k].rank === 1));
  return {
    params,
    noDecay,
    loss(idsT, labels, _users, seed) {
      const { pos, tgt } = labelledPositions(labels);
      const hs = gru4recForward(params, c, idsT, seed);
      const hl = tf.gather(tf.reshape(hs, [-1, c.dim]), tf.tensor1d(pos, 'int32')) as tf.Tensor2D;
      return catalogCrossEntropy(hl, params.itemEmb as tf.Tensor2D, tf.tensor1d(tgt, 'int32'));
    },
    score(samples: Sample[]) {
      const idsT = tf.tensor2d(historyIds(samples, c.maxLen), [samples.length, c.maxLen], 'int32');
      const hs = gru4recForward(params, c, idsT);
      const last = tf.reshape(hs.slice([0, c.maxLen - 1, 0], [samples.length, 1, c.dim]), [samples.length, c.dim]);
      return tf.matMul(last, tf.transpose(params.itemEmb)) as tf.Tensor2D;
    },
  };
}

/** Train GRU4Rec on ds.samples.train with early stopping on valid NDCG@10. */
export async function trainGRU4Rec(ds: Dataset, cfg?: Partial<GRU4RecConfig>, hooks?: TrainHooks, opts?: TrainOptions): Promise<TrainedBaseline<GRU4RecConfig>> {
  const c = validateGRU4RecConfig(cfg);
  const model = gru4recModel(ds.items.length - 1, c);
  const run = await trainSeqModel('gru4rec', ds, c, model, hooks, opts);
  return asBaseline('GRU4Rec', model, c, run);
}

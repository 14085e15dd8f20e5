// SASRec (Kang & McAuley 2018) with softmax cross-entropy over the full catalog (paper App. D), nanoGPT style: a
// params object and plain functions.
//   ids [B,T] → E[ids]·√d + P[pos] → dropout → pad positions zeroed
//   → numBlocks × { x = LN(x); x = x + MHA(x_norm → q; x → k, v; causal + key-pad mask); x = LN(x); x = x + FFN(x) }
//   → final LN → h_t · Eᵀ (tied item embeddings) → logits over ids 0..N (pad column excluded from the softmax).
// Blocks follow the original implementation (pre-LN on the query, keys/values from the un-normalised input).
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
  layerNorm,
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
import { ConfigError } from '../util/errors';

export interface SASRecConfig extends NeuralConfig {
  numBlocks: number;
  numHeads: number;
  /** dropout on attention probabilities */
  attnDropout: number;
}

export const SASREC_DEFAULTS: SASRecConfig = {
  ...NEURAL_DEFAULTS,
  numBlocks: 2,
  numHeads: 1,
  attnDropout: 0.2,
};

const SASREC_RULES: Record<keyof SASRecConfig, FieldRule> = {
  ...NEURAL_RULES,
  numBlocks: { type: 'int', min: 1 },
  numHeads: { type: 'int', min: 1 },
  attnDropout: { type: 'number', min: 0, max: 0.95 },
};

export function validateSASRecConfig(cfg?: Partial<SASRecConfig>): SASRecConfig {
  const c = validateFields('sasrec', cfg, SASREC_DEFAULTS, SASREC_RULES);
  if (c.dim % c.numHeads !== 0) throw new ConfigError('sasrec.numHeads', `must divide dim=${c.dim}, got ${c.numHeads}`);
  return c;
}

export function initSASRec(numItems: number, c: SASRecConfig): Params {
  const rng = makeRng(hashSeed(c.seed, 'sasrec', 'init'));
  const d = c.dim;
  const p: Params = {
    itemEmb: normalVar(rng, [numItems + 1, d], Math.sqrt(2 / (numItems + 1 + d)), 'itemEmb'),
    posEmb: normalVar(rng, [c.maxLen, d], Math.sqrt(2 / (c.maxLen + d)), 'posEmb'),
    lnF_g: constVar([d], 1, 'lnF_g'),
    lnF_b: constVar([d], 0, 'lnF_b'),
  };
  for (let l = 0; l < c.numBlocks; l++) {
    for (const w of ['wq', 'wk', 'wv', 'wo', 'w1', 'w2']) p[`b${l}_${w}`] = xavierVar(rng, [d, d], `b${l}_${w}`);
    for (const b of ['bq', 'bk', 'bv', 'bo', 'b1', 'b2', 'ln1_b', 'ln2_b']) p[`b${l}_${b}`] = constVar([d], 0, `b${l}_${b}`);
    p[`b${l}_ln1_g`] = constVar([d], 1, `b${l}_ln1_g`);
    p[`b${l}_ln2_g`] = constVar([d], 1, `b${l}_ln2_g`);
  }
  return p;
}

/** Additive attention bias [B,1,T,T]: −1e9 where the key is in the future or is padding (built from constants). */
function attentionBias(ids: Int32Array, b: number, t: number): tf.Tensor4D {
  const bias = new Float32Array(b * t * t);
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      for (let j = 0; j < t; j++) {
        if (j > i || ids[r * t + j] === 0) bias[(r * t + i) * t + j] = -1e9;
      }
    }
  }
  return tf.tensor4d(bias, [b, 1, t, t]);
}

/** Hidden states [B, T, d] for left-padded ids [B, T]; `seed` undefined = eval (no dropout). */
export function sasrecForward(p: Params, c: SASRecConfig, idsT: tf.Tensor2D, ids: Int32Array, seed?: number): tf.Tensor3D {
  const [b, t] = idsT.shape;
  const d = c.dim;
  const h = c.numHeads;
  const dh = d / h;
  let k = 0;
  const drop = (x: tf.Tensor, rate: number) => (seed === undefined || rate === 0 ? x : tf.dropout(x, rate, undefined, seed + 7919 * ++k));
  const keep = tf.cast(tf.notEqual(idsT, 0), 'float32').reshape([b, t, 1]); // timeline mask (pad positions → 0)
  const bias = attentionBias(ids, b, t);
  const pos = p.posEmb.slice([c.maxLen - t, 0], [t, d]);
  let x: tf.Tensor = tf.add(tf.mul(tf.gather(p.itemEmb, idsT), Math.sqrt(d)), pos);
  x = tf.mul(drop(x, c.dropout), keep);
  const heads = (y: tf.Tensor) => tf.transpose(tf.reshape(y, [b, t, h, dh]), [0, 2, 1, 3]); // [B,H,T,dh]
  for (let l = 0; l < c.numBlocks; l++) {
    const w = (n: string) => p[`b${l}_${n}`];
    const q = layerNorm(x, w('ln1_g'), w('ln1_b'));
    const qh = heads(dense(q, w('wq'), w('bq')));
    const kh = heads(dense(x, w('wk'), w('bk')));
    const vh = heads(dense(x, w('wv'), w('bv')));
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(qh, tf.transpose(kh, [0, 1, 3, 2])), 1 / Math.sqrt(dh)), bias));
    const o = tf.reshape(tf.transpose(tf.matMul(drop(att, c.attnDropout), vh), [0, 2, 1, 3]), [b, t, d]);
    x = tf.add(q, drop(dense(o, w('wo'), w('bo')), c.dropout));
    const y = layerNorm(x, w('ln2_g'), w('ln2_b'));
    const f = dense(drop(tf.relu(dense(y, w('w1'), w('b1'))), c.dropout), w('w2'), w('b2'));
    x = tf.mul(tf.add(y, drop(f, c.dropout)), keep);
  }
  return layerNorm(x, p.lnF_g, p.lnF_b) as tf.Tensor3D;
}

function sasrecModel(numItems: number, c: SASRecConfig): SeqModel {
  const params = initSASRec(numItems, c);
  const noDecay = new Set(Object.keys(params).filter((k) => params[k].rank === 1));
  return {
    params,
    noDecay,
    loss(idsT, labels, _users, seed) {
      const ids = idsT.dataSync() as Int32Array;
      const { pos, tgt } = labelledPositions(labels);
      const hs = sasrecForward(params, c, idsT, ids, seed);
      const hl = tf.gather(tf.reshape(hs, [-1, c.dim]), tf.tensor1d(pos, 'int32')) as tf.Tensor2D;
      return catalogCrossEntropy(hl, params.itemEmb as tf.Tensor2D, tf.tensor1d(tgt, 'int32'));
    },
    score(samples: Sample[]) {
      const ids = historyIds(samples, c.maxLen);
      const idsT = tf.tensor2d(ids, [samples.length, c.maxLen], 'int32');
      const hs = sasrecForward(params, c, idsT, ids);
      const last = tf.reshape(hs.slice([0, c.maxLen - 1, 0], [samples.length, 1, c.dim]), [samples.length, c.dim]);
      return tf.matMul(last, tf.transpose(params.itemEmb)) as tf.Tensor2D;
    },
  };
}

/** Train SASRec on ds.samples.train with early stopping on valid NDCG@10 (spec §5 selection rule). */
export async function trainSASRec(ds: Dataset, cfg?: Partial<SASRecConfig>, hooks?: TrainHooks, opts?: TrainOptions): Promise<TrainedBaseline<SASRecConfig>> {
  const c = validateSASRecConfig(cfg);
  const model = sasrecModel(ds.items.length - 1, c);
  const run = await trainSeqModel('sasrec', ds, c, model, hooks, opts);
  return asBaseline('SASRec', model, c, run);
}

// Caser (Tang & Wang 2018; Table 1 baseline) with softmax cross-entropy over the full catalog (App. D) instead of
// the original negative-sampling BCE. The last L = maxLen items form an L×d "image":
//   horizontal convolutions (heights 1..L, `horizontalFilters` each, ReLU, max over positions)
//   + vertical convolution (`verticalFilters` weighted sums over the L rows)
//   → dropout → FC to d (ReLU) → [z; user embedding] · W2[item] + b2[item] (separate output embeddings, as Caser).
// One example per train sample (trainOn 'last'): Caser predicts from a fixed window, it has no per-position output.
// Users without train samples (cold users: most test users of a global time split) keep their initial user vector;
// `userEmbedding: false` drops that part.
import { tf } from '../model/backend';
import type { Dataset, Sample } from '../data/types';
import { hashSeed, makeRng } from '../util/rng';
import {
  asBaseline,
  catalogCrossEntropy,
  constVar,
  dense,
  historyIds,
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

export interface CaserConfig extends NeuralConfig {
  horizontalFilters: number;
  verticalFilters: number;
  userEmbedding: boolean;
}

export const CASER_DEFAULTS: CaserConfig = {
  ...NEURAL_DEFAULTS,
  // one target per example ('last'), so App. D's batch 256 is 256 targets per step
  batchSize: 256,
  lr: 1e-3,
  maxLen: 5,
  dropout: 0.5,
  trainOn: 'last',
  horizontalFilters: 16,
  verticalFilters: 4,
  userEmbedding: true,
};

const CASER_RULES: Record<keyof CaserConfig, FieldRule> = {
  ...NEURAL_RULES,
  trainOn: { type: 'enum', values: ['last'] },
  horizontalFilters: { type: 'int', min: 1 },
  verticalFilters: { type: 'int', min: 1 },
  userEmbedding: { type: 'bool' },
};

export function validateCaserConfig(cfg?: Partial<CaserConfig>): CaserConfig {
  return validateFields('caser', cfg, CASER_DEFAULTS, CASER_RULES);
}

export function initCaser(numItems: number, numUsers: number, c: CaserConfig): Params {
  const rng = makeRng(hashSeed(c.seed, 'caser', 'init'));
  const d = c.dim;
  const L = c.maxLen;
  const out = c.userEmbedding ? 2 * d : d;
  const p: Params = {
    itemEmb: normalVar(rng, [numItems + 1, d], 1 / d, 'itemEmb'),
    wv: xavierVar(rng, [L, c.verticalFilters], 'wv'),
    bv: constVar([c.verticalFilters], 0, 'bv'),
    fc: xavierVar(rng, [c.verticalFilters * d + L * c.horizontalFilters, d], 'fc'),
    fcB: constVar([d], 0, 'fcB'),
    outEmb: normalVar(rng, [numItems + 1, out], 1 / out, 'outEmb'),
    outB: constVar([numItems + 1], 0, 'outB'),
  };
  for (let h = 1; h <= L; h++) {
    p[`wh${h}`] = xavierVar(rng, [h * d, c.horizontalFilters], `wh${h}`);
    p[`bh${h}`] = constVar([c.horizontalFilters], 0, `bh${h}`);
  }
  if (c.userEmbedding) p.userEmb = normalVar(rng, [Math.max(1, numUsers), d], 1 / d, 'userEmb');
  return p;
}

/** Sequence representation [B, d or 2d] from left-padded ids [B, L]; `seed` undefined = eval (no dropout). */
export function caserForward(p: Params, c: CaserConfig, idsT: tf.Tensor2D, users: Int32Array, seed?: number): tf.Tensor2D {
  const [b, L] = idsT.shape;
  const d = c.dim;
  const keep = tf.reshape(tf.cast(tf.notEqual(idsT, 0), 'float32'), [b, L, 1]);
  const x = tf.mul(tf.gather(p.itemEmb, idsT), keep); // [B,L,d], pad rows zero
  // vertical: weighted sums over the L rows, one per filter
  const xt = tf.reshape(tf.transpose(x, [0, 2, 1]), [b * d, L]);
  const ov = tf.reshape(tf.add(tf.matMul(xt, p.wv as tf.Tensor2D), p.bv), [b, d * c.verticalFilters]);
  // horizontal: for each height h, every window of h consecutive rows → filters → ReLU → max over windows
  const oh: tf.Tensor[] = [];
  for (let h = 1; h <= L; h++) {
    const n = L - h + 1;
    const win = tf.concat(Array.from({ length: h }, (_, i) => x.slice([0, i, 0], [b, n, d])), 2); // [B,n,h·d]
    oh.push(tf.max(tf.relu(dense(win, p[`wh${h}`], p[`bh${h}`])), 1));
  }
  let o: tf.Tensor = tf.concat([ov, ...oh], 1);
  if (seed !== undefined && c.dropout > 0) o = tf.dropout(o, c.dropout, undefined, seed);
  let z: tf.Tensor = tf.relu(dense(o, p.fc, p.fcB));
  if (c.userEmbedding) z = tf.concat([z, tf.gather(p.userEmb, tf.tensor1d(users, 'int32'))], 1);
  return z as tf.Tensor2D;
}

function caserModel(numItems: number, numUsers: number, c: CaserConfig): SeqModel {
  const params = initCaser(numItems, numUsers, c);
  const noDecay = new Set(Object.keys(params).filter((k) => params[k].rank === 1));
  const L = c.maxLen;
  return {
    params,
    noDecay,
    loss(idsT, labels, users, seed) {
      const b = idsT.shape[0];
      const tgt = new Int32Array(b);
      for (let r = 0; r < b; r++) tgt[r] = labels[r * L + L - 1];
      const z = caserForward(params, c, idsT, users, seed);
      return catalogCrossEntropy(z, params.outEmb as tf.Tensor2D, tf.tensor1d(tgt, 'int32'), params.outB as tf.Tensor1D);
    },
    score(samples: Sample[]) {
      const idsT = tf.tensor2d(historyIds(samples, L), [samples.length, L], 'int32');
      const users = Int32Array.from(samples, (s) => (s.user < numUsers ? s.user : 0));
      const z = caserForward(params, c, idsT, users);
      return tf.add(tf.matMul(z, tf.transpose(params.outEmb)), params.outB) as tf.Tensor2D;
    },
  };
}

/** Train Caser on ds.samples.train with early stopping on valid NDCG@10. */
export async function trainCaser(ds: Dataset, cfg?: Partial<CaserConfig>, hooks?: TrainHooks, opts?: TrainOptions): Promise<TrainedBaseline<CaserConfig>> {
  const c = validateCaserConfig(cfg);
  const model = caserModel(ds.items.length - 1, ds.users.length, c);
  const run = await trainSeqModel('caser', ds, c, model, hooks, opts);
  return asBaseline('Caser', model, c, run);
}

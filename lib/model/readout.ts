// Read-outs: one vector per sequence from the final post-norm hidden states (spec §2 "Vector read-out").
// 'last' is the paper's choice (last non-pad token of a right-padded batch); 'mean', 'max' and 'token' (an appended
// special token, read as the last token) are the alternatives of the embedding-pooling study (paper Table 3).
import { tf } from './backend';
import type { ModelConfig } from './config';
import { forward, padBatch, type Params, type TokenBatch } from './decoder';
import { ConfigError, R2ecError } from '../util/errors';

export type Pooling = 'last' | 'mean' | 'max' | 'token';
export const POOLINGS: Pooling[] = ['last', 'mean', 'max', 'token'];

export function validatePooling(p: string, field = 'pooling'): Pooling {
  if (!POOLINGS.includes(p as Pooling)) throw new ConfigError(field, `"${p}" is not one of ${POOLINGS.join(', ')}`);
  return p as Pooling;
}

/** [B, T, d] hidden states of a right-padded batch → [B, d]. */
export function readOut(hidden: tf.Tensor3D, batch: TokenBatch, pooling: Pooling): tf.Tensor2D {
  const [B, T, d] = hidden.shape;
  const empty = batch.lengths.indexOf(0);
  // an empty sequence has no token to read (its 'last' row would be −1, its 'max' −1e9): refuse instead
  if (empty >= 0) throw new R2ecError(`read-out: sequence ${empty} of the batch is empty`);
  return tf.tidy(() => {
    if (pooling === 'last' || pooling === 'token') {
      if (batch.side !== 'right') throw new ConfigError('readOut', 'last-token read-out needs a right-padded batch');
      const rows = batch.lengths.map((len, b) => b * T + len - 1);
      return tf.gather(tf.reshape(hidden, [B * T, d]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
    }
    const mask = tf.tensor3d(Float32Array.from(batch.mask), [B, T, 1]);
    if (pooling === 'mean') {
      const lens = tf.tensor2d(batch.lengths.map((l) => Math.max(l, 1)), [B, 1]);
      return tf.div(tf.sum(tf.mul(hidden, mask), 1), lens) as tf.Tensor2D;
    }
    // max: pads pushed to −1e9 by a constant offset, so the gradient reaches the real tokens only
    return tf.max(tf.add(hidden, tf.mul(tf.sub(mask, 1), 1e9)), 1) as tf.Tensor2D;
  });
}

/**
 * Encode sequences to vectors in batches (forward + read-out). Sequences are sorted by length inside the call to
 * waste less padding; the output keeps the input order. No gradient; returns a plain Float32Array [N·d].
 */
export function encodeSequences(
  params: Params,
  cfg: ModelConfig,
  seqs: number[][],
  pooling: Pooling,
  batchSize = 32,
  padId = 0,
): Float32Array {
  const d = cfg.dModel;
  const empty = seqs.findIndex((s) => s.length === 0);
  if (empty >= 0) throw new R2ecError(`encodeSequences: sequence ${empty} is empty`);
  const out = new Float32Array(seqs.length * d);
  const order = seqs.map((s, i) => i).sort((a, b) => seqs[a].length - seqs[b].length || a - b);
  for (let s = 0; s < order.length; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const batch = padBatch(idx.map((i) => seqs[i]), 'right', padId);
    const vec = tf.tidy(() => readOut(forward(params, cfg, batch), batch, pooling));
    const vals = vec.dataSync() as Float32Array;
    vec.dispose();
    idx.forEach((i, j) => out.set(vals.subarray(j * d, (j + 1) * d), i * d));
  }
  return out;
}

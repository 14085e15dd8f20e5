// The recommendation head adds no weights (spec §3): score(u, v) = cos(h_u, e_v)/τ (the reference code's default)
// or the plain inner product h_u·e_v (the paper's formula). Items come from the item table, rows = item ids.
import { tf } from './backend';
import { ConfigError } from '../util/errors';

export interface RecHeadConfig {
  similarity: 'cosine' | 'dot';
  /** temperature τ (cosine only; the code default 0.02) */
  tau: number;
}

export const DEFAULT_REC_HEAD: RecHeadConfig = { similarity: 'cosine', tau: 0.02 };

export function validateRecHead(c: RecHeadConfig, prefix = 'head'): void {
  if (c.similarity !== 'cosine' && c.similarity !== 'dot') {
    throw new ConfigError(`${prefix}.similarity`, `must be "cosine" or "dot", got ${JSON.stringify(c.similarity)}`);
  }
  if (!(c.tau > 0)) throw new ConfigError(`${prefix}.tau`, `must be > 0, got ${c.tau}`);
}

/** L2-normalise rows (cosine similarity); identity for 'dot'. */
export function prepareVectors(x: tf.Tensor2D, c: RecHeadConfig): tf.Tensor2D {
  if (c.similarity === 'dot') return x;
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D);
}

/** Scores [B, M] of users [B, d] against items [M, d] (both raw vectors). Differentiable in both. */
export function recScores(users: tf.Tensor2D, items: tf.Tensor2D, c: RecHeadConfig): tf.Tensor2D {
  return tf.tidy(() => {
    const s = tf.matMul(prepareVectors(users, c), prepareVectors(items, c), false, true);
    return (c.similarity === 'cosine' ? tf.div(s, c.tau) : s) as tf.Tensor2D;
  });
}

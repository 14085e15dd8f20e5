// Read-out diagnostics: mean pairwise cosine of user and item vectors. Collapse (every read-out the same vector,
// learning-notes) shows as values → 1, long before the ranking metrics say why they sit at chance level.
import { tf } from '../model/backend';

/** Mean pairwise cosine of the rows of x [n, d] (diagonal excluded); of every row of x against every row of y if given. */
export function meanPairwiseCosine(x: Float32Array, d: number, y?: Float32Array): number {
  return tf.tidy(() => {
    const unit = (a: Float32Array) => {
      const t = tf.tensor2d(a, [a.length / d, d]);
      return tf.div(t, tf.maximum(tf.norm(t, 'euclidean', 1, true), 1e-12));
    };
    const a = unit(x);
    if (y) return tf.mean(tf.matMul(a, unit(y), false, true)).dataSync()[0];
    const n = x.length / d;
    if (n < 2) return NaN;
    return (tf.sum(tf.matMul(a, a, false, true)).dataSync()[0] - n) / (n * (n - 1));
  });
}

export interface ReadoutCosines {
  userUser: number;
  itemItem: number;
  userItem: number;
}

/** uu / ii / ui mean cosines over the first `max` users and items (row-major [n, d] vectors). */
export function readoutCosines(users: Float32Array, items: Float32Array, d: number, max = 400): ReadoutCosines {
  const head = (x: Float32Array) => x.subarray(0, Math.min(max, x.length / d) * d);
  const u = head(users);
  const i = head(items);
  return { userUser: meanPairwiseCosine(u, d), itemItem: meanPairwiseCosine(i, d), userItem: meanPairwiseCosine(u, d, i) };
}

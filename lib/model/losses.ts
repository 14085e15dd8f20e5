// Token-level losses with hand-written gradients. Built on the native softmax kernel: on wasm, logSoftmax is a
// chain of slow elementwise kernels (exp alone runs ~0.15 Gelem/s), and gatherND has no gradient (stack notes).
import { tf } from './backend';

/**
 * log π(a_i | ·) for each row of `logits` [N, V] and action ids [N]: returns [N].
 * Gradient: d/dlogits = (onehot(a) − softmax) · dy.
 */
export function tokenLogProbs(logits: tf.Tensor2D, actions: tf.Tensor1D): tf.Tensor1D {
  const [N, V] = logits.shape;
  const flatIdx = tf.tidy(() => tf.add(tf.mul(tf.range(0, N, 1, 'int32'), tf.scalar(V, 'int32')), actions));
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const probs = tf.softmax(x as tf.Tensor2D);
    const picked = tf.gather(tf.reshape(probs, [-1]), flatIdx);
    save([probs, actions]); // actions via save(): a closure would see it disposed by the forward tidy
    return {
      // clamp so that a probability that underflowed to 0 gives a large finite log-prob, not −Infinity
      value: tf.log(tf.maximum(picked, 1e-30)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [p, a] = saved;
        const oneHot = tf.oneHot(a as tf.Tensor1D, V, 1, 0, 'float32');
        return tf.mul(tf.sub(oneHot, p), tf.reshape(dy, [N, 1]));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const out = op(logits) as tf.Tensor1D;
  flatIdx.dispose();
  return out;
}

/** Mean next-token cross-entropy over positions with weight > 0: −Σ w_i log p(y_i) / Σ w_i. */
export function crossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy((): tf.Scalar => {
    const lp = tokenLogProbs(logits, targets);
    if (!weights) return tf.neg(tf.mean(lp)) as tf.Scalar;
    return tf.div(tf.neg(tf.sum(tf.mul(lp, weights))), tf.maximum(tf.sum(weights), 1)) as tf.Scalar;
  });
}

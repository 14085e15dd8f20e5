// Gradient exchange between data-parallel ranks: flatten in a fixed name order, all-reduce, rebuild tensors.
import { tf } from '../model/backend';
import type { Collective } from './parallel';

export function allReduceGrads(
  grads: Record<string, tf.Tensor>,
  names: string[],
  comm: Collective,
): Record<string, tf.Tensor> {
  if (comm.world === 1) return grads;
  const present = names.filter((n) => grads[n]);
  const sizes = present.map((n) => grads[n].size);
  const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  let off = 0;
  present.forEach((n, i) => {
    flat.set(grads[n].dataSync() as Float32Array, off);
    off += sizes[i];
  });
  comm.allReduceSum(flat);
  const out: Record<string, tf.Tensor> = {};
  off = 0;
  present.forEach((n, i) => {
    out[n] = tf.tensor(flat.subarray(off, off + sizes[i]), grads[n].shape);
    off += sizes[i];
    grads[n].dispose();
  });
  return out;
}

/** Loss value and gradients keyed by *parameter key* (tf.variableGrads keys by tfjs variable name). */
export function paramGrads(
  params: Record<string, tf.Variable>,
  loss: () => tf.Scalar,
): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const keys = Object.keys(params);
  const { value, grads } = tf.variableGrads(loss, keys.map((k) => params[k]));
  const out: Record<string, tf.Tensor> = {};
  for (const k of keys) {
    const g = grads[params[k].name];
    if (g) out[k] = g;
  }
  return { value, grads: out };
}

/** Sum gradient dictionaries into `acc` (in place), disposing the added ones. */
export function accumulateGrads(acc: Record<string, tf.Tensor>, grads: Record<string, tf.Tensor>): void {
  for (const [k, gr] of Object.entries(grads)) {
    if (acc[k]) {
      const sum = tf.add(acc[k], gr);
      acc[k].dispose();
      gr.dispose();
      acc[k] = sum;
    } else acc[k] = gr;
  }
}

/** Every rank's `local` block concatenated in rank order (identical on every rank). */
export function gatherAll(comm: Collective, local: Float32Array): Float32Array {
  const parts = comm.allGather(local);
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * GradCache's second pass (Gao et al. 2021): rows [0, n) are re-encoded with gradient `chunk` at a time, and each
 * chunk back-propagates ⟨vectors, dVectors⟩ — the loss gradient w.r.t. the vectors, from the first pass — plus an
 * optional scalar term of the same forward (the backbone's LM loss). Gradients are summed into `acc`; `encode`
 * returns the chunk's vectors [c1 − c0, d] and that extra term. Memory stays at one chunk.
 */
export function backpropVectors(
  params: Record<string, tf.Variable>,
  n: number,
  chunk: number,
  dVectors: Float32Array,
  encode: (c0: number, c1: number) => { vecs: tf.Tensor2D; extra?: tf.Scalar },
  acc: Record<string, tf.Tensor>,
): void {
  const d = n ? dVectors.length / n : 0;
  for (let c0 = 0; c0 < n; c0 += chunk) {
    const c1 = Math.min(n, c0 + chunk);
    const { value, grads } = paramGrads(params, () => {
      const { vecs, extra } = encode(c0, c1);
      const l = tf.sum(tf.mul(vecs, tf.tensor2d(dVectors.subarray(c0 * d, c1 * d), [c1 - c0, d]))) as tf.Scalar;
      return extra ? (tf.add(l, extra) as tf.Scalar) : l;
    });
    value.dispose();
    accumulateGrads(acc, grads);
  }
}

// Probe: one user vector or several? The model's own greedy reasoning for N seeded valid samples, and the same with
// its "Next:" pointing at each of the K most recent history items; each text gives a read-out, and the catalog
// scores of several read-outs are combined per item by their mean or their max (one vector per pointed-at interest,
// as multi-interest retrieval ranks by the best-matching interest). Paired by sample against the own reasoning.
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=2000 K=4 node --import tsx scripts/probes/multi-pointer.ts
import { initBackend, tf } from '../../lib/model/backend';
import { catalogScores, disposeContext } from '../../lib/train/recpo/context';
import { readOutAfter, reasoningOf } from '../../lib/train/recpo/evaluate';
import { evaluateRanking, type EvalResult } from '../../lib/eval/evaluate';
import { pairedComparison } from '../../lib/eval/stats';
import { targetTitle } from '../../lib/text/corpus';
import { checkpointLabel, makeProbe, withNext } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const { ds, rec, samples, open, write } = await makeProbe(Number(process.env.N ?? 2000));
  const K = Number(process.env.K ?? 4);
  const ckpt = process.env.CKPT ?? 'backbones/ml-100k';
  const ctx = open(ckpt);
  const combos: Record<string, unknown>[] = [];
  const d = ctx.mcfg.dModel;
  const own = reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const vecs: tf.Tensor2D[] = [tf.tensor2d(readOutAfter(ctx, samples, own), [samples.length, d])];
  for (let k = 1; k <= K; k++) {
    const texts = samples.map((s, i) => {
      const h = s.history[s.history.length - k];
      return h ? withNext(own[i], targetTitle(ds, h.item).title) : own[i];
    });
    vecs.push(tf.tensor2d(readOutAfter(ctx, samples, texts), [samples.length, d]));
  }
  const pos = new Map(samples.map((s, i) => [s, i]));
  const run = (which: number[], how: 'mean' | 'max') =>
    evaluateRanking(ds, samples, async (batch) =>
      tf.tidy(() => {
        const idx = tf.tensor1d(batch.map((s) => pos.get(s)!), 'int32');
        const all = tf.stack(which.map((w) => catalogScores(ctx, tf.gather(vecs[w], idx) as tf.Tensor2D)));
        return (how === 'mean' ? tf.mean(all, 0) : tf.max(all, 0)) as tf.Tensor2D;
      }), { ks: [10], batchSize: 128, maskHistory: true });
  const base = await run([0], 'mean');
  const show = async (label: string, r: EvalResult) => {
    const c = pairedComparison(r, base, 'NDCG@10');
    combos.push({ label, ndcg10: r.metrics['NDCG@10'], minusOwn: c });
    console.log(`${label.padEnd(44)} NDCG@10 ${r.metrics['NDCG@10'].toFixed(4)} (${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)}, 95% CI [${c.ci[0].toFixed(4)}, ${c.ci[1].toFixed(4)}], p = ${c.p.toPrecision(2)})`);
  };
  console.log(`own reasoning                                NDCG@10 ${base.metrics['NDCG@10'].toFixed(4)} (n = ${samples.length})`);
  const pointers = Array.from({ length: K }, (_, k) => k + 1);
  for (const how of ['mean', 'max'] as const) {
    await show(`${how} of the ${K} pointers`, await run(pointers, how));
    await show(`${how} of own + the ${K} pointers`, await run([0, ...pointers], how));
  }
  write(`multi-pointer-${checkpointLabel(ckpt)}`, { own: base.metrics['NDCG@10'], K, combos });
  vecs.forEach((v) => v.dispose());
  disposeContext(ctx);
})();

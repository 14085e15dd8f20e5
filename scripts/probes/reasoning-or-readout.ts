// Probe: does a RecPO gain come from the reasoning or from the read-out? Two checkpoints of the same model (BEFORE,
// e.g. R²ec's step 0, and AFTER, its kept checkpoint) each write their greedy reasoning for N seeded valid samples
// (the methods' selection subset), and each read-out scores each set of texts: four valid NDCG@10 values.
// writer effect = AFTER's read-out on AFTER's texts − on BEFORE's texts (what the new reasoning is worth);
// reader effect = AFTER's read-out − BEFORE's read-out, both on BEFORE's texts (what the weights alone are worth);
// paired by sample.
//   R2EC_DATA_DIR=../shared/data BEFORE=<checkpoint> AFTER=<checkpoint> N=2000 node --import tsx scripts/probes/reasoning-or-readout.ts
// Results: results/recpo-budget/README.md ("Reasoning or read-out?").
import { initBackend, tf } from '../../lib/model/backend';
import { disposeContext, type RecContext } from '../../lib/train/recpo/context';
import { reasoningOf } from '../../lib/train/recpo/evaluate';
import type { EvalResult } from '../../lib/eval/evaluate';
import { pairedComparison } from '../../lib/eval/stats';
import { makeProbe } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const before = process.env.BEFORE, after = process.env.AFTER;
  if (!before || !after) throw new Error('set BEFORE and AFTER to checkpoint folders');
  const { rec, samples, open, score } = await makeProbe(Number(process.env.N ?? 2000));
  const texts = (ctx: RecContext) => reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const b = open(before), a = open(after);
  const tb = texts(b), ta = texts(a);
  const cells = { bb: await score(b, tb), ba: await score(b, ta), ab: await score(a, tb), aa: await score(a, ta) };
  const f = (x: number) => x.toFixed(4);
  console.log(`valid NDCG@10 over ${samples.length} samples (rows: read-out, columns: reasoning)`);
  console.log(`                 BEFORE's texts  AFTER's texts`);
  console.log(`BEFORE read-out  ${f(cells.bb.metrics['NDCG@10'])}          ${f(cells.ba.metrics['NDCG@10'])}`);
  console.log(`AFTER read-out   ${f(cells.ab.metrics['NDCG@10'])}          ${f(cells.aa.metrics['NDCG@10'])}`);
  const t = (x: EvalResult, y: EvalResult, what: string) => {
    const c = pairedComparison(x, y, 'NDCG@10');
    console.log(`${what}: ${c.meanDiff >= 0 ? '+' : ''}${f(c.meanDiff)} (95% CI [${f(c.ci[0])}, ${f(c.ci[1])}], p = ${c.p.toPrecision(2)})`);
  };
  t(cells.aa, cells.bb, 'total (AFTER − BEFORE)');
  t(cells.ab, cells.bb, 'reader effect (on BEFORE\'s texts)');
  t(cells.aa, cells.ab, 'writer effect (AFTER\'s read-out)');
  t(cells.ba, cells.bb, 'writer effect (BEFORE\'s read-out)');
  const changed = ta.filter((x, i) => x !== tb[i]).length;
  console.log(`texts changed: ${changed} of ${samples.length}; e.g.\n  before: ${JSON.stringify(tb[0])}\n  after:  ${JSON.stringify(ta[0])}`);
  disposeContext(a);
  disposeContext(b);
  console.log('tensors', tf.memory().numTensors);
})();

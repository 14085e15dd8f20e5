// Probe: is a read-out after several sampled reasonings better than after one greedy reasoning, or than right after
// the prompt? For N seeded valid samples: the read-out right after the prompt (w/o reasoning's read-out), after the
// greedy reasoning, and the mean catalog scores of the read-outs after M sampled reasonings (self-consistency over
// reasoning paths). Paired by sample against the greedy reasoning.
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=2000 M=4 TEMPERATURE=1 TOPK=50 node --import tsx scripts/probes/reasoning-ensemble.ts
import { initBackend, tf } from '../../lib/model/backend';
import { generateText } from '../../lib/model/generate';
import { encodeSequences } from '../../lib/model/readout';
import { catalogScores, directIds, disposeContext, promptIds } from '../../lib/train/recpo/context';
import { readOutAfter, reasoningOf } from '../../lib/train/recpo/evaluate';
import { evaluateRanking, type EvalResult } from '../../lib/eval/evaluate';
import { pairedComparison } from '../../lib/eval/stats';
import { makeRng } from '../../lib/util/rng';
import { checkpointLabel, makeProbe } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const { rec, samples, ds, open, write } = await makeProbe(Number(process.env.N ?? 2000));
  const M = Number(process.env.M ?? 4);
  const sampling = { ...rec.rollout, temperature: Number(process.env.TEMPERATURE ?? 1), topK: Number(process.env.TOPK ?? 50) };
  const ckpt = process.env.CKPT ?? 'backbones/ml-100k';
  const ctx = open(ckpt);
  const rows: Record<string, unknown>[] = [];
  const d = ctx.mcfg.dModel;
  const n = samples.length;
  const prompts = samples.map((s) => promptIds(ctx, s));
  const direct = tf.tensor2d(encodeSequences(ctx.params, ctx.mcfg, prompts.map((p) => directIds(ctx, p)), ctx.cfg.pooling, 32), [n, d]);
  const greedy = tf.tensor2d(readOutAfter(ctx, samples, reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts), [n, d]);
  const rng = makeRng(11);
  const sampled: tf.Tensor2D[] = [];
  for (let m = 0; m < M; m++) {
    const texts: string[] = [];
    for (let s = 0; s < n; s += 32) texts.push(...generateText(ctx.params, ctx.mcfg, ctx.tok, prompts.slice(s, s + 32), sampling, rng).texts);
    sampled.push(tf.tensor2d(readOutAfter(ctx, samples, texts), [n, d]));
    if (m === 0) console.log(`a sampled reasoning: ${JSON.stringify(texts[0])}`);
  }
  const pos = new Map(samples.map((s, i) => [s, i]));
  const run = (vs: tf.Tensor2D[]) =>
    evaluateRanking(ds, samples, async (batch) =>
      tf.tidy(() => {
        const idx = tf.tensor1d(batch.map((s) => pos.get(s)!), 'int32');
        return tf.mean(tf.stack(vs.map((v) => catalogScores(ctx, tf.gather(v, idx) as tf.Tensor2D))), 0) as tf.Tensor2D;
      }), { ks: [10], batchSize: 128, maskHistory: true });
  const base = await run([greedy]);
  const show = (label: string, r: EvalResult) => {
    const c = pairedComparison(r, base, 'NDCG@10');
    rows.push({ label, ndcg10: r.metrics['NDCG@10'], minusGreedy: c });
    console.log(`${label.padEnd(40)} NDCG@10 ${r.metrics['NDCG@10'].toFixed(4)} (${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)}, 95% CI [${c.ci[0].toFixed(4)}, ${c.ci[1].toFixed(4)}], p = ${c.p.toPrecision(2)})`);
  };
  console.log(`greedy reasoning                         NDCG@10 ${base.metrics['NDCG@10'].toFixed(4)} (n = ${n}; sampling T ${sampling.temperature} / top-${sampling.topK})`);
  show('right after the prompt (no reasoning)', await run([direct]));
  show('one sampled reasoning', await run(sampled.slice(0, 1)));
  show(`mean of ${M} sampled reasonings`, await run(sampled));
  show(`mean of greedy + ${M} sampled`, await run([greedy, ...sampled]));
  show(`mean of the prompt's + greedy's`, await run([direct, greedy]));
  write(`reasoning-ensemble-${checkpointLabel(ckpt)}`, { greedy: base.metrics['NDCG@10'], M, sampling, rows });
  [direct, greedy, ...sampled].forEach((v) => v.dispose());
  disposeContext(ctx);
})();

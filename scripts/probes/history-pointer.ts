// Probe: what is a reasoning that points at one of the user's own history items worth to the read-out? The model's
// own greedy reasoning for N seeded valid samples with its "Next: …" replaced by the title of the k-th most recent
// history item (k = 1…K), scored by the read-out after it; the per-sample best k is what a policy choosing among the
// history's titles could reach at most (an oracle: it looks at the target's rank).
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=500 K=10 node --import tsx scripts/probes/history-pointer.ts
import { initBackend } from '../../lib/model/backend';
import { disposeContext } from '../../lib/train/recpo/context';
import { reasoningOf } from '../../lib/train/recpo/evaluate';
import { targetTitle } from '../../lib/text/corpus';
import { metricPerSample } from '../../lib/eval/metrics';
import { pairedTTest } from '../../lib/eval/stats';
import { checkpointLabel, makeProbe, withNext } from './probe-context';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** paired difference of two per-sample arrays: mean ± its standard error */
const pairedDiff = (a: number[], b: number[]) => {
  const t = pairedTTest(a, b);
  return { diff: t.meanDiff, se: t.sdDiff / Math.sqrt(t.n) };
};
const paired = (a: number[], b: number[]) => {
  const { diff, se } = pairedDiff(a, b);
  return `${diff >= 0 ? '+' : ''}${diff.toFixed(4)} ± ${se.toFixed(4)}`;
};

(async () => {
  await initBackend({ log: false });
  const { ds, rec, samples, open, score, write } = await makeProbe(Number(process.env.N ?? 500));
  const K = Number(process.env.K ?? 10);
  const ckpt = process.env.CKPT ?? 'backbones/ml-100k';
  const ctx = open(ckpt);
  const pointers: { k: number; ndcg10: number; diff: number; se: number }[] = [];
  const own = reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const perSample = async (texts: string[]) => Array.from(metricPerSample((await score(ctx, texts)).ranks, 'NDCG@10'));
  const base = await perSample(own);
  console.log(`own reasoning            ${mean(base).toFixed(4)}`);
  const target = await perSample(samples.map((s, i) => withNext(own[i], targetTitle(ds, s.target.item).title)));
  console.log(`Next: the target's title ${mean(target).toFixed(4)}`);
  const best = base.slice();
  const bestK = new Array<number>(samples.length).fill(0);
  for (let k = 1; k <= K; k++) {
    const v = await perSample(samples.map((s, i) => {
      const h = s.history[s.history.length - k];
      return h ? withNext(own[i], targetTitle(ds, h.item).title) : own[i];
    }));
    v.forEach((x, i) => {
      if (x > best[i]) (best[i] = x), (bestK[i] = k);
    });
    console.log(`Next: history item −${String(k).padEnd(3)} ${mean(v).toFixed(4)} (${paired(v, base)} s.e.)`);
    pointers.push({ k, ndcg10: mean(v), ...pairedDiff(v, base) });
  }
  console.log(`oracle: the best of own and the ${K} most recent (per sample) ${mean(best).toFixed(4)}; own kept for ${bestK.filter((k) => k === 0).length}/${samples.length}`);
  write(`history-pointer-${checkpointLabel(ckpt)}`, {
    own: mean(base), targetTitle: mean(target), targetTitleMinusOwn: pairedDiff(target, base), pointers,
    oracleBestOfOwnAndPointers: mean(best), ownKept: bestK.filter((k) => k === 0).length,
  });
  disposeContext(ctx);
})();

// Probe: how much does a read-out follow what the reasoning's closing "Next: …" names? The model's own greedy
// reasoning for N seeded valid samples, scored as written and with its "Next:" clause replaced by the target's
// genres (the hindsight of validNdcg10Hindsight), the target's title, or a random other item's title (a control).
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=500 node --import tsx scripts/probes/title-listening.ts
import { initBackend } from '../../lib/model/backend';
import { disposeContext } from '../../lib/train/recpo/context';
import { reasoningOf } from '../../lib/train/recpo/evaluate';
import type { EvalResult } from '../../lib/eval/evaluate';
import { pairedComparison } from '../../lib/eval/stats';
import { targetAim, targetTitle } from '../../lib/text/corpus';
import { makeRng } from '../../lib/util/rng';
import { makeProbe, withNext } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const { ds, rec, samples, open, score } = await makeProbe(Number(process.env.N ?? 500));
  const ctx = open(process.env.CKPT ?? 'backbones/ml-100k');
  const own = reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const rng = makeRng(5);
  const N1 = ds.items.length;
  const variants: Record<string, string[]> = {
    'own reasoning': own,
    'Next: target genres': samples.map((s, i) => withNext(own[i], targetAim(ds, s.target.item).join(' and '))),
    'Next: target title': samples.map((s, i) => withNext(own[i], targetTitle(ds, s.target.item).title)),
    'Next: random title': samples.map((_, i) => withNext(own[i], targetTitle(ds, 1 + rng.int(N1 - 1)).title)),
  };
  const res: Record<string, EvalResult> = {};
  for (const [k, v] of Object.entries(variants)) {
    res[k] = await score(ctx, v);
    const c = k === 'own reasoning' ? undefined : pairedComparison(res[k], res['own reasoning'], 'NDCG@10');
    console.log(`${k.padEnd(22)} NDCG@10 ${res[k].metrics['NDCG@10'].toFixed(4)} HR@10 ${res[k].metrics['HR@10'].toFixed(4)}${c ? `  vs own ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)} (p = ${c.p.toPrecision(2)})` : ''}`);
  }
  for (const i of [0, 1, 2]) console.log(`own: ${JSON.stringify(own[i])}\n  with the target's title: ${JSON.stringify(variants['Next: target title'][i])}`);
  disposeContext(ctx);
})();

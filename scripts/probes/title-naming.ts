// Probe: can the reasoning name a title, and does the read-out gain from the title it names? The model's own greedy
// reasoning for N seeded valid samples, free and with its "Next:" constrained to a title (MODE=catalog: any item's;
// MODE=history: one of the items its prompt shows; lib/text/constraints.ts), each scored by the read-out after it;
// paired by sample.
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=500 MODE=catalog node --import tsx scripts/probes/title-naming.ts
import { initBackend } from '../../lib/model/backend';
import { greedyTexts } from '../../lib/model/generate';
import { disposeContext, promptIds } from '../../lib/train/recpo/context';
import { reasoningOf } from '../../lib/train/recpo/evaluate';
import { pairedComparison } from '../../lib/eval/stats';
import { defuseAnswerTags } from '../../lib/text/corpus';
import { nextTitleRule, type NextTitles } from '../../lib/text/constraints';
import { checkpointLabel, makeProbe } from './probe-context';

(async () => {
  await initBackend({ log: false });
  const { ds, rec, samples, open, score, write } = await makeProbe(Number(process.env.N ?? 500));
  const ckpt = process.env.CKPT ?? 'backbones/ml-100k';
  const mode = (process.env.MODE ?? 'catalog') as NextTitles;
  const ctx = open(ckpt);
  const titles = ds.items.map((it) => (it ? defuseAnswerTags(it.title) : ''));
  const rule = nextTitleRule(ctx.tok, ds, mode, rec.promptHistory)!;
  const t0 = Date.now();
  const own = reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const bs = ctx.cfg.evalBatch;
  const named: string[] = [];
  for (let s = 0; s < samples.length; s += bs) {
    const part = samples.slice(s, s + bs);
    named.push(...greedyTexts(ctx.params, ctx.mcfg, ctx.tok, part.map((x) => promptIds(ctx, x)), rec.rollout.maxNewTokens, bs, rule((row) => part[row])).texts);
  }
  console.log(`generation ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const byTitle = new Map(titles.map((t, i) => [t, i]));
  let hit = 0, inHistory = 0, none = 0;
  const distinct = new Set<string>();
  const back = new Map<number, number>(); // how far back in the history the named item is (1 = the most recent)
  named.forEach((t, i) => {
    const m = /Next: (.*)\.$/.exec(t);
    const item = m ? byTitle.get(m[1]) : undefined;
    if (item === undefined) return void none++;
    distinct.add(m![1]);
    if (item === samples[i].target.item) hit++;
    const h = samples[i].history;
    const k = h.length - h.map((x) => x.item).lastIndexOf(item);
    if (k <= h.length) inHistory++, back.set(k, (back.get(k) ?? 0) + 1);
  });
  console.log(`named a title: ${samples.length - none}/${samples.length}; the target ${hit}; one of the history ${inHistory}; distinct ${distinct.size}`);
  console.log(`history items named, by how far back (1 = the most recent): ${[...back].sort((a, b) => a[0] - b[0]).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  const a = await score(ctx, own);
  const b = await score(ctx, named);
  const c = pairedComparison(b, a, 'NDCG@10');
  console.log(`own reasoning NDCG@10 ${a.metrics['NDCG@10'].toFixed(4)}; with a constrained title ${b.metrics['NDCG@10'].toFixed(4)} (${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)}, p = ${c.p.toPrecision(2)})`);
  for (const i of [0, 1, 2, 3]) console.log(`own: ${JSON.stringify(own[i])}\n  titled: ${JSON.stringify(named[i])}`);
  write(`title-naming-${mode}-${checkpointLabel(ckpt)}`, {
    own: a.metrics['NDCG@10'], constrained: b.metrics['NDCG@10'], constrainedMinusOwn: c,
    namedATitle: samples.length - none, namedTheTarget: hit, namedAHistoryItem: inHistory, distinctTitles: distinct.size,
    historyItemsByHowFarBack: Object.fromEntries([...back].sort((x, y) => x[0] - y[0])),
    examples: [0, 1, 2, 3].map((i) => ({ own: own[i], titled: named[i] })),
  });
  disposeContext(ctx);
})();

// Probe: how much does a read-out follow what the reasoning's closing "Next: …" names? The model's own greedy
// reasoning for N seeded valid samples, scored as written and with its "Next:" clause replaced by the target's
// genres (the hindsight of validNdcg10Hindsight), the target's title, or a random other item's title (a control).
//   R2EC_DATA_DIR=../shared/data CKPT=<checkpoint> N=500 node --import tsx scripts/probes/title-listening.ts
import { initBackend, tf } from '../../lib/model/backend';
import { loadDataset } from '../../lib/data';
import { defaultConfig, methodRecConfig } from '../../lib/experiment/config';
import { loadCheckpoint } from '../../lib/model/checkpoint';
import { SOLO } from '../../lib/train/parallel';
import { makeContext, refreshItemTable, catalogScores, disposeContext } from '../../lib/train/recpo/context';
import { reasoningOf, readOutAfter } from '../../lib/train/recpo/evaluate';
import { evaluateRanking, type EvalResult } from '../../lib/eval/evaluate';
import { evalSubset } from '../../lib/eval/subsets';
import { pairedComparison } from '../../lib/eval/stats';
import { targetAim } from '../../lib/text/corpus';
import { makeRng } from '../../lib/util/rng';

(async () => {
  await initBackend({ log: false });
  const dir = process.env.CKPT ?? 'backbones/ml-100k';
  const ds = await loadDataset('ml-100k');
  const cfg = defaultConfig('quick', 'ml-100k');
  const rec = methodRecConfig(cfg, { name: 'R²ec', kind: 'r2ec' } as never);
  const idx = evalSubset(ds.samples.valid.length, Number(process.env.N ?? 500), cfg.seed, 'valid');
  const samples = idx.map((i) => ds.samples.valid[i]);
  const ck = loadCheckpoint(dir);
  const ctx = makeContext({ method: 'probe', dataset: ds, tokenizer: ck.tokenizer, model: ck.config as never, initCheckpoint: dir, config: rec, validIdx: [], testIdx: [], workDir: '/tmp/r2ec-probe', latencyRequests: 0, keepTexts: 0, eval: { ks: [10], maskHistory: true } }, SOLO);
  refreshItemTable(ctx);
  const score = async (texts: string[]): Promise<EvalResult> => {
    const users = tf.tensor2d(readOutAfter(ctx, samples, texts), [samples.length, ctx.mcfg.dModel]);
    const pos = new Map(samples.map((s, i) => [s, i]));
    try {
      return await evaluateRanking(ds, samples, async (batch) =>
        tf.tidy(() => catalogScores(ctx, tf.gather(users, tf.tensor1d(batch.map((s) => pos.get(s)!), 'int32')) as tf.Tensor2D)), { ks: [10], batchSize: 128, maskHistory: true });
    } finally {
      users.dispose();
    }
  };
  const own = reasoningOf(ctx, samples, rec.rollout.maxNewTokens).texts;
  const withNext = (i: number, what: string) => {
    const t = own[i];
    const at = t.lastIndexOf('Next:');
    return `${at >= 0 ? t.slice(0, at) : `${t} `}Next: ${what}.`;
  };
  const rng = makeRng(5);
  const N1 = ds.items.length;
  const variants: Record<string, string[]> = {
    'own reasoning': own,
    'Next: target genres': samples.map((s, i) => withNext(i, targetAim(ds, s.target.item).join(' and '))),
    'Next: target title': samples.map((s, i) => withNext(i, ds.items[s.target.item].title)),
    'Next: random title': samples.map((_, i) => withNext(i, ds.items[1 + rng.int(N1 - 1)].title)),
  };
  const res: Record<string, EvalResult> = {};
  for (const [k, v] of Object.entries(variants)) {
    res[k] = await score(v);
    const c = k === 'own reasoning' ? undefined : pairedComparison(res[k], res['own reasoning'], 'NDCG@10');
    console.log(`${k.padEnd(22)} NDCG@10 ${res[k].metrics['NDCG@10'].toFixed(4)} HR@10 ${res[k].metrics['HR@10'].toFixed(4)}${c ? `  vs own ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(4)} (p = ${c.p.toPrecision(2)})` : ''}`);
  }
  for (const i of [0, 1, 2]) console.log(`own: ${JSON.stringify(own[i])}\n  with the target's title: ${JSON.stringify(variants['Next: target title'][i])}`);
  disposeContext(ctx);
})();

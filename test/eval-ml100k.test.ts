// The evaluation protocol end to end (via the registry): Popularity ranks equal an independent sort-based ranking,
// array and tensor scorers agree, segments partition the split, and the paired t-test runs on per-sample values — on
// real MovieLens-100K when present, and always on the synthetic shop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { loadDataset } from '../lib/data/registry';
import type { Dataset } from '../lib/data/types';
import { evaluateRanking } from '../lib/eval/evaluate';
import { compareResults } from '../lib/eval/stats';
import { popularityCounts, trainPopularity } from '../lib/baselines/popularity';
import { DATA_ROOT, REAL, dataTest } from './helpers/real-data';

test('synthetic: Popularity full ranking = sorted-list position, segments, tensor path, t-test', async () => {
  const ds = await loadDataset('synthetic');
  assert.equal(ds.items.length, 301); // 300 items + pad (the generator's defaults)
  await checkPopularityProtocol(ds);
});

dataTest('ml-100k: Popularity full ranking = sorted-list position, segments, tensor path, t-test', [REAL.ml100k], async () => {
  const ds = await loadDataset('ml-100k', { root: DATA_ROOT });
  assert.equal(ds.items.length, 1683); // 1,682 movies + pad
  await checkPopularityProtocol(ds);
});

async function checkPopularityProtocol(ds: Dataset): Promise<void> {
  await initBackend();
  const pop = trainPopularity(ds);
  const r = await evaluateRanking(ds, 'test', pop.scorer);
  assert.equal(r.n, ds.samples.test.length);
  // independent ranking: walk the popularity-sorted list (count desc, id asc), skipping history items
  const counts = popularityCounts(ds);
  const sorted = Array.from({ length: ds.items.length - 1 }, (_, i) => i + 1).sort((a, b) => counts[b] - counts[a] || a - b);
  let repeats = 0;
  ds.samples.test.forEach((s, i) => {
    const hist = new Set(s.history.map((h) => h.item));
    if (hist.has(s.target.item)) {
      repeats++;
      assert.equal(r.ranks[i], Infinity);
      return;
    }
    let rank = 0;
    for (const id of sorted) {
      if (hist.has(id)) continue;
      rank++;
      if (id === s.target.item) break;
    }
    assert.equal(r.ranks[i], rank, `sample ${s.index}`);
  });
  assert.equal(r.repeatTargets, repeats);
  const { coldUser, warmUser, coldItem, warmItem } = r.segments;
  assert.equal(coldUser.n + warmUser.n, r.n);
  assert.equal(coldItem.n + warmItem.n, r.n);
  const trainUsers = new Set(ds.samples.train.map((s) => s.user));
  assert.equal(coldUser.n, ds.samples.test.filter((s) => !trainUsers.has(s.user)).length);
  // the overall mean is the n-weighted mean of the segments
  const w = (coldUser.metrics['NDCG@10'] * coldUser.n + warmUser.metrics['NDCG@10'] * warmUser.n) / r.n;
  assert.ok(Math.abs(w - r.metrics['NDCG@10']) < 1e-12);

  // tensor scorer on the same scores, first 600 samples: same ranks, no leaked tensors
  const scores = ((await pop.scorer(ds.samples.test.slice(0, 1))) as Float32Array[])[0];
  const before = tf.memory().numTensors;
  const part = ds.samples.test.slice(0, 600);
  const rt = await evaluateRanking(ds, part, async (b) => tf.tidy(() => tf.tile(tf.tensor2d(scores, [1, scores.length]), [b.length, 1]) as tf.Tensor2D), {
    batchSize: 256,
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual([...rt.ranks], [...r.ranks.slice(0, 600)]);

  // Popularity by targets only vs by all events: paired test on real per-sample NDCG@10
  const rTargets = await evaluateRanking(ds, 'test', trainPopularity(ds, { count: 'targets' }).scorer);
  const t = compareResults(r, rTargets, 'NDCG@10');
  assert.equal(t.df, r.n - 1);
  assert.ok(Number.isFinite(t.t) && t.p > 0 && t.p <= 1);
  assert.ok(Math.abs(t.meanDiff - (r.metrics['NDCG@10'] - rTargets.metrics['NDCG@10'])) < 1e-12);
  assert.ok(t.ci[0] < t.meanDiff && t.meanDiff < t.ci[1]);
}

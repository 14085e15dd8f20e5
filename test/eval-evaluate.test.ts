// evaluateRanking on a hand-built dataset: ranks, masking, repeat targets, cold/warm segments, tensor hygiene.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { dotScores, evaluateRanking, trainSets, type Scorer } from '../lib/eval/evaluate';
import { compareResults } from '../lib/eval/stats';
import type { Dataset, Interaction, Sample } from '../lib/data/types';
import { padItem } from '../lib/data/types';

const ev = (user: number, item: number, timestamp: number): Interaction => ({ user, item, rating: 5, timestamp });
let idx = 0;
const sample = (user: number, hist: number[], target: number): Sample => ({
  index: idx++,
  user,
  history: hist.map((it, k) => ev(user, it, k)),
  target: ev(user, target, hist.length),
});

function handDataset(): Dataset {
  idx = 0;
  const train = [sample(0, [1], 2), sample(0, [1, 2], 3), sample(1, [2], 1)];
  const valid = [
    sample(0, [1, 2, 3], 2), // A: repeat purchase of 2
    sample(2, [4], 5), // B: cold user 2, cold item 5
    sample(1, [2, 1], 6), // C: warm user, cold item 6
  ];
  const items = [padItem(), ...[1, 2, 3, 4, 5, 6].map((id) => ({ id, externalId: `i${id}`, title: `item ${id}` }))];
  return {
    name: 'hand',
    domain: { singular: 'item', plural: 'items', verb: 'buy' },
    items,
    users: ['u0', 'u1', 'u2'],
    interactions: [],
    samples: { train, valid, test: [] },
    window: 20,
    provenance: { source: 'synthetic', files: [], options: {}, dropped: {}, notes: [], synthetic: true, key: 'hand' },
  };
}

// ids:               pad  1    2    3    4    5    6
const SCORES = [99, 0.1, 0.6, 0.5, 0.4, 0.3, 0.2];
const arrayScorer: Scorer = async (batch) => batch.map(() => Float32Array.from(SCORES));
const tensorScorer: Scorer = async (batch) => tf.tensor2d(batch.map(() => SCORES));

test('ranks, metrics, repeat targets and segments on a hand-built dataset', async () => {
  await initBackend();
  const ds = handDataset();
  const r = await evaluateRanking(ds, 'valid', arrayScorer, { ks: [1, 3, 5] });
  // A: target 2 is in its history → Infinity; B: beaten by 2 (0.6), 3 (0.5) (4 is masked) → 3;
  // C: beaten by 3, 4, 5 (2 and 1 masked) → 4
  assert.deepEqual([...r.ranks], [Infinity, 3, 4]);
  assert.deepEqual([...r.sampleIndex], [3, 4, 5]);
  assert.equal(r.n, 3);
  assert.equal(r.repeatTargets, 1);
  assert.equal(r.metrics['HR@1'], 0);
  assert.equal(r.metrics['HR@3'], 1 / 3);
  assert.equal(r.metrics['HR@5'], 2 / 3);
  assert.equal(r.metrics['NDCG@3'], 0.5 / 3);
  assert.ok(Math.abs(r.metrics['NDCG@5'] - (0.5 + 1 / Math.log2(5)) / 3) < 1e-12);
  assert.equal(r.segments.coldUser.n, 1);
  assert.equal(r.segments.coldUser.metrics['HR@3'], 1); // B
  assert.equal(r.segments.warmUser.n, 2);
  assert.equal(r.segments.warmUser.metrics['HR@5'], 0.5); // A miss, C hit
  assert.equal(r.segments.coldItem.n, 2); // B (5) and C (6)
  assert.equal(r.segments.coldItem.metrics['HR@5'], 1);
  assert.equal(r.segments.warmItem.n, 1);
  assert.equal(r.segments.warmItem.metrics['HR@5'], 0);
  assert.equal(r.timing, undefined);
});

test('maskHistory: false lets history items (and a repeat target) compete', async () => {
  const ds = handDataset();
  const r = await evaluateRanking(ds, 'valid', arrayScorer, { maskHistory: false, ks: [5] });
  // A: 2 has the top score → 1; B: beaten by 2, 3, 4 → 4; C: beaten by 2, 3, 4, 5 → 5
  assert.deepEqual([...r.ranks], [1, 4, 5]);
  assert.equal(r.repeatTargets, 1); // still counted, so the report shows how many samples masking would forbid
});

test('tensor scorer = array scorer, any batch size, and no tensor leaks', async () => {
  const ds = handDataset();
  const base = await evaluateRanking(ds, 'valid', arrayScorer);
  const before = tf.memory().numTensors;
  for (const batchSize of [1, 2, 256]) {
    for (const rankOn of ['js', 'tensor'] as const) {
      const r = await evaluateRanking(ds, ds.samples.valid, tensorScorer, { batchSize, rankOn, timing: true });
      assert.deepEqual([...r.ranks], [...base.ranks]);
      assert.deepEqual(r.metrics, base.metrics);
      assert.ok(r.timing && r.timing.totalSec >= 0 && r.timing.perSampleMs >= 0);
    }
  }
  // a scorer built on dotScores (the path the R²ec model uses)
  const table = tf.tensor2d(SCORES.map((s) => [s, 1]));
  const viaDot: Scorer = async (batch) => tf.tidy(() => dotScores(tf.tensor2d(batch.map(() => [1, 0])), table));
  const r2 = await evaluateRanking(ds, 'valid', viaDot);
  assert.deepEqual([...r2.ranks], [...base.ranks]);
  table.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('dotScores: inner product and cosine/τ', async () => {
  const u = tf.tensor2d([[3, 4]]);
  const e = tf.tensor2d([[0, 0], [1, 0], [0, 2]]);
  const ip = dotScores(u, e);
  assert.deepEqual(Array.from(ip.dataSync()), [0, 3, 8]);
  const cs = dotScores(u, e, { cosine: true, tau: 0.5 });
  const v = cs.dataSync();
  assert.ok(Math.abs(v[1] - 1.2) < 1e-6 && Math.abs(v[2] - 1.6) < 1e-6 && v[0] === 0);
  tf.dispose([u, e, ip, cs]);
});

test('bad scorer output is an error naming the problem, and the tensor is still disposed', async () => {
  const ds = handDataset();
  const before = tf.memory().numTensors;
  await assert.rejects(
    evaluateRanking(ds, 'valid', async (b) => tf.zeros([b.length, 5]) as tf.Tensor2D),
    /shape \[3,5\], expected \[3, 7\]/,
  );
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(
    evaluateRanking(ds, 'valid', async (b) => b.map(() => new Float32Array(3))),
    /sample 3 has 3 scores, expected 7/,
  );
  await assert.rejects(evaluateRanking(ds, 'valid', arrayScorer, { ks: [0] }), /ks must be/);
  await assert.rejects(evaluateRanking(ds, 'valid', arrayScorer, { batchSize: 0 }), /batchSize/);
});

test('train sets are computed once per dataset and cover histories and targets', () => {
  const ds = handDataset();
  const s = trainSets(ds);
  assert.equal(trainSets(ds), s);
  assert.deepEqual([...s.users].sort(), [0, 1]);
  assert.deepEqual([...s.items].sort(), [1, 2, 3]);
});

test('compareResults pairs samples by index even when the order differs', async () => {
  const ds = handDataset();
  const a = await evaluateRanking(ds, 'valid', arrayScorer);
  const reversed = [...ds.samples.valid].reverse();
  const b = await evaluateRanking(ds, reversed, arrayScorer);
  const t = compareResults(a, b, 'NDCG@10');
  assert.equal(t.t, 0);
  assert.equal(t.p, 1);
  // better scorer on B: put 5 on top → B rank 1 instead of 3 (C still beaten by 3, 4, 5 → rank 4, A still a miss)
  const better: Scorer = async (batch) => batch.map(() => Float32Array.from([99, 0.1, 0.6, 0.5, 0.4, 0.9, 0.2]));
  const c = await evaluateRanking(ds, reversed, better);
  const t2 = compareResults(c, a, 'NDCG@10');
  assert.ok(Math.abs(t2.meanDiff - (1 - 0.5) / 3) < 1e-12);
  assert.deepEqual([...c.ranks], [4, 1, Infinity]);
});

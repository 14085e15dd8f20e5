// Hand-computed ranks, HR and NDCG (method spec §5; tie and pad conventions of lib/eval/metrics.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import {
  hitAt,
  metricPerSample,
  ndcgAt,
  parseMetric,
  rankOfTarget,
  ranksFromFlat,
  ranksFromTensor,
  summarizeRanks,
} from '../lib/eval/metrics';
import { makeRng } from '../lib/util/rng';

// ids:            pad   1    2    3    4    5
const S = [100, 0.5, 0.9, 0.1, 0.9, 0.3];

test('rank counts strictly greater scores, never the pad row', () => {
  // target 3 (0.1): beaten by 1, 2, 4, 5 → rank 5; the pad's 100 does not count
  assert.equal(rankOfTarget(S, 3), 5);
  assert.equal(rankOfTarget(S, 1), 3); // beaten by 2 and 4
});

test('history masking removes items from the ranking; a masked target is a miss', () => {
  assert.equal(rankOfTarget(S, 3, [2]), 4);
  assert.equal(rankOfTarget(S, 3, [2, 4, 2]), 3); // duplicates in the history count once
  assert.equal(rankOfTarget(S, 3, new Set([3, 1])), Infinity); // repeat purchase
  assert.equal(rankOfTarget(S, 3, [0]), 5); // masking the pad changes nothing
});

test('ties: pessimistic by default, expected rank with "average"', () => {
  assert.equal(rankOfTarget(S, 2), 2); // tied with 4
  assert.equal(rankOfTarget(S, 4), 2);
  assert.equal(rankOfTarget(S, 2, [], 'average'), 1.5);
  assert.equal(rankOfTarget(S, 2, [4]), 1); // the tie partner masked
  const constant = new Float32Array(11).fill(0.25);
  assert.equal(rankOfTarget(constant, 7), 10); // a constant scorer gets the worst rank among 10 items
  assert.equal(rankOfTarget(constant, 7, [], 'average'), 5.5);
  assert.equal(rankOfTarget(constant, 7, [1, 2]), 8);
});

test('bad targets and NaN scores are errors, not silent misses', () => {
  assert.throws(() => rankOfTarget(S, 0), /outside the rankable ids 1\.\.5/);
  assert.throws(() => rankOfTarget(S, 6), /outside/);
  assert.throws(() => rankOfTarget([0, 1, NaN, 2], 1), /item id 2 is NaN/);
  assert.throws(() => rankOfTarget([0, NaN, 1], 1), /target id 1 is NaN/);
});

test('HR@K and NDCG@K values', () => {
  assert.equal(hitAt(1, 10), 1);
  assert.equal(hitAt(10, 10), 1);
  assert.equal(hitAt(11, 10), 0);
  assert.equal(hitAt(Infinity, 10), 0);
  assert.equal(ndcgAt(1, 10), 1);
  assert.equal(ndcgAt(3, 10), 0.5);
  assert.equal(ndcgAt(7, 10), 1 / 3);
  assert.equal(ndcgAt(11, 10), 0);
  assert.equal(ndcgAt(Infinity, 5), 0);
  const m = summarizeRanks([1, 3, 11, Infinity], [10]);
  assert.deepEqual(Object.keys(m), ['HR@10', 'NDCG@10']);
  assert.equal(m['HR@10'], 0.5);
  assert.equal(m['NDCG@10'], 1.5 / 4);
  assert.deepEqual([...metricPerSample([1, 3, 11], 'NDCG@10')], [1, 0.5, 0]);
  assert.deepEqual([...metricPerSample([1, 3, 11], 'HR@2')], [1, 0, 0]);
  assert.deepEqual(parseMetric('NDCG@20'), { kind: 'NDCG', k: 20 });
  assert.throws(() => parseMetric('MRR@10'), /not HR@K or NDCG@K/);
  assert.throws(() => parseMetric('HR@0'), /not HR@K/);
});

test('batch ranks: flat-buffer and tensor versions agree with the per-row definition, including ties', async () => {
  await initBackend();
  const rng = makeRng(3);
  const B = 17;
  const N = 40;
  const flat = new Float32Array(B * (N + 1));
  for (let i = 0; i < flat.length; i++) flat[i] = Math.floor(rng.next() * 6) / 6; // many ties
  const targets = Array.from({ length: B }, () => 1 + rng.int(N));
  const masks = Array.from({ length: B }, (_, r) => Array.from({ length: r % 5 }, () => rng.int(N + 1)));
  masks[3].push(targets[3]); // one repeat target
  for (const ties of ['pessimistic', 'average'] as const) {
    const expected = targets.map((t, r) => rankOfTarget(flat.subarray(r * (N + 1), (r + 1) * (N + 1)), t, masks[r], ties));
    assert.equal(expected[3], Infinity);
    assert.deepEqual([...ranksFromFlat(flat, N + 1, targets, masks, ties)], expected);
    const before = tf.memory().numTensors;
    const s = tf.tensor2d(flat, [B, N + 1]);
    assert.deepEqual([...ranksFromTensor(s, targets, masks, ties)], expected);
    s.dispose();
    assert.equal(tf.memory().numTensors, before);
  }
  // brute force via sorting, for the pessimistic rule: position after a sort that puts ties before the target
  for (let r = 0; r < B; r++) {
    if (r === 3) continue;
    const row = flat.subarray(r * (N + 1), (r + 1) * (N + 1));
    const ids = Array.from({ length: N }, (_, j) => j + 1).filter((j) => j === targets[r] || !masks[r].includes(j));
    ids.sort((a, b) => row[b] - row[a] || (a === targets[r] ? 1 : b === targets[r] ? -1 : 0));
    assert.equal(ids.indexOf(targets[r]) + 1, rankOfTarget(row, targets[r], masks[r]));
  }
});

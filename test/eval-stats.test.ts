// Paired t-test, Student-t CDF and mean ± std (reference values from scipy.stats 1.10, computed independently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  lnGamma,
  meanStd,
  metricsOverSeeds,
  pairedComparison,
  pairedTTest,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTTwoSidedP,
} from '../lib/eval/stats';

const close = (a: number, b: number, rel = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${a} vs ${b}`);

test('lnGamma and the regularized incomplete beta against known values', () => {
  assert.ok(Math.abs(lnGamma(1)) < 1e-14 && Math.abs(lnGamma(2)) < 1e-14);
  close(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)), 1e-13);
  close(lnGamma(10), Math.log(362880), 1e-13);
  // I_0.3(2, 5) = 1 − Σ_{j<2} C(6,j) 0.3^j 0.7^(6−j) = 0.579825 exactly
  close(regularizedIncompleteBeta(0.3, 2, 5), 0.579825, 1e-12);
  close(regularizedIncompleteBeta(0.5, 3, 3), 0.5, 1e-12);
  assert.equal(regularizedIncompleteBeta(0, 2, 3), 0);
  assert.equal(regularizedIncompleteBeta(1, 2, 3), 1);
  assert.throws(() => regularizedIncompleteBeta(1.5, 2, 3), /x=1.5/);
});

test('Student t: two-sided p-values, CDF and quantiles', () => {
  close(studentTTwoSidedP(2.0, 10), 0.07338803477074039, 1e-12);
  close(studentTTwoSidedP(1.96, 1e6), 0.04999606758526978, 1e-8);
  close(studentTTwoSidedP(0.5, 3), 0.651447964848151, 1e-12);
  close(studentTTwoSidedP(5, 2), 0.037749551350623724, 1e-12);
  close(studentTTwoSidedP(10, 50), 1.607733468833539e-13, 1e-9);
  close(studentTTwoSidedP(1, 1), 0.5, 1e-12); // Cauchy
  close(studentTTwoSidedP(3.3, 7.5), 0.011891634562261172, 1e-12); // fractional df
  assert.equal(studentTTwoSidedP(0, 5), 1);
  assert.equal(studentTTwoSidedP(Infinity, 5), 0);
  close(studentTCdf(-1.5, 4), 0.10399999999999991, 1e-12);
  close(studentTCdf(1.5, 4), 1 - 0.10399999999999991, 1e-12);
  close(studentTQuantile(0.975, 10), 2.2281388519649385, 1e-10);
  close(studentTQuantile(0.975, 1e6), 1.9599663568141066, 1e-9);
  close(studentTQuantile(0.025, 3), -3.1824463052842638, 1e-10);
});

test('paired t-test matches scipy.stats.ttest_rel', () => {
  const a = [0.5, 1, 0, 0.63, 1, 0.43, 0, 0.5];
  const b = [0, 1, 0.5, 0.43, 0, 0.43, 0, 0.39];
  const r = pairedTTest(a, b);
  close(r.t, 1.0595323502816576, 1e-12);
  close(r.p, 0.32454216175819367, 1e-10);
  assert.equal(r.df, 7);
  close(r.meanDiff, 0.16375, 1e-12);
  close(r.ci[0], -0.2017010605551632, 1e-9);
  close(r.ci[1], 0.5292010605551631, 1e-9);
  const rev = pairedTTest(b, a);
  close(rev.t, -r.t, 1e-12);
  close(rev.p, r.p, 1e-12);
});

test('paired t-test edge cases: identical inputs, constant shift, bad input', () => {
  const x = [0.1, 0.2, 0.7, 0];
  const same = pairedTTest(x, x);
  assert.equal(same.t, 0);
  assert.equal(same.p, 1);
  assert.deepEqual(same.ci, [0, 0]);
  const shifted = pairedTTest(
    x.map((v) => v + 0.5),
    x,
  );
  assert.equal(shifted.t, Infinity);
  assert.equal(shifted.p, 0);
  assert.throws(() => pairedTTest([1], [2]), /at least 2 pairs/);
  assert.throws(() => pairedTTest([1, 2], [2]), /2 values against 1/);
  assert.throws(() => pairedTTest([1, NaN], [2, 3]), /value 1 is not finite/);
});

test('mean ± std over seeds', () => {
  const m = meanStd([0.1, 0.2, 0.3]);
  close(m.mean, 0.2, 1e-12);
  close(m.std, 0.1, 1e-12);
  assert.equal(meanStd([0.4]).std, 0);
  assert.throws(() => meanStd([]), /no values/);
  const s = metricsOverSeeds([{ metrics: { 'HR@10': 0.2, 'NDCG@10': 0.1 } }, { metrics: { 'HR@10': 0.4, 'NDCG@10': 0.1 } }]);
  close(s['HR@10'].mean, 0.3, 1e-12);
  close(s['HR@10'].std, Math.SQRT2 * 0.1, 1e-12);
  assert.equal(s['NDCG@10'].std, 0);
  assert.throws(() => metricsOverSeeds([{ metrics: { a: 1 } }, { metrics: {} }]), /result 1 has no metric "a"/);
});

test('pairedComparison pairs samples by sample index, not array position; seeds are averaged per sample', () => {
  // method A: samples 10..13 at ranks 1, 2, 3, 50; method B stores the same samples in reverse order
  const a = { ranks: [1, 2, 3, 50], sampleIndex: [10, 11, 12, 13] };
  const bRanks = [2, 4, 3, null]; // samples 10..13 (null = unrankable, a miss)
  const b = { ranks: [...bRanks].reverse(), sampleIndex: [13, 12, 11, 10] };
  const hr = (r: number | null) => (r !== null && r <= 2 ? 1 : 0);
  // by index: HR@2 of A = [1, 1, 0, 0], of B = [1, 0, 0, 0]
  const want = pairedTTest([1, 1, 0, 0], bRanks.map(hr));
  const got = pairedComparison(a, b, 'HR@2');
  assert.equal(got.t, want.t);
  assert.equal(got.p, want.p);
  // pairing by position would compare against B's stored order [0, 0, 0, 1]: a different test
  assert.notEqual(pairedTTest([1, 1, 0, 0], b.ranks.map(hr)).t, got.t);
  // two seeds of A (the second stored in another order) are averaged per sample before pairing
  const a2 = { ranks: [2, 3, 1, 50], sampleIndex: [10, 12, 11, 13] }; // HR@2 by sample 10..13: [1, 1, 0, 0]
  const two = pairedComparison([a, a2], b, 'HR@2');
  assert.equal(two.meanA, 0.5);
  assert.throws(() => pairedComparison(a, { ranks: [1, 1, 1, 1], sampleIndex: [10, 11, 12, 14] }, 'HR@2'), /sample 13 is missing/);
});

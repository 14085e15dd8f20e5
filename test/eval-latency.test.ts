// Latency/throughput helpers: call counts, order statistics (timing values themselves are not asserted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measureLatency, measureThroughput, quantile } from '../lib/eval/latency';

test('quantile interpolates like numpy', () => {
  assert.equal(quantile([1, 2, 3, 4, 5], 0.95), 4.8);
  assert.equal(quantile([1, 2, 3, 4, 5, 10], 0.5), 3.5);
  assert.equal(quantile([7], 0.95), 7);
  assert.throws(() => quantile([], 0.5), /empty/);
});

test('measureLatency: warm-up calls untimed, requests × repeats timed, stats consistent', async () => {
  const calls: number[] = [];
  const r = await measureLatency((i) => void calls.push(i), { warmup: 2, requests: 4, repeats: 3 });
  assert.deepEqual(calls, [0, 1, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
  assert.equal(r.n, 12);
  assert.equal(r.samplesSec.length, 12);
  assert.ok(r.minSec <= r.medianSec && r.medianSec <= r.p95Sec && r.p95Sec <= r.maxSec);
  assert.ok(r.minSec <= r.meanSec && r.meanSec <= r.maxSec);
  await assert.rejects(measureLatency(() => 0, { requests: 0 }), /requests must be an integer ≥ 1/);
});

test('measureLatency sees an awaited delay', async () => {
  const r = await measureLatency(() => new Promise((res) => setTimeout(res, 5)), { warmup: 0, requests: 3, repeats: 1 });
  assert.ok(r.minSec >= 0.004, `min ${r.minSec}`);
});

test('measureThroughput: batches cover every item once after one warm-up batch', async () => {
  const seen: number[][] = [];
  const r = await measureThroughput((b: number[]) => void seen.push(b), [1, 2, 3, 4, 5], 2);
  assert.deepEqual(seen, [[1, 2], [1, 2], [3, 4], [5]]);
  assert.equal(r.batches, 3);
  assert.equal(r.items, 5);
  assert.ok(r.itemsPerSec > 0 && Math.abs(r.perItemSec * 5 - r.totalSec) < 1e-12);
});

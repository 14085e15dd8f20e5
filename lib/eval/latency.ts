// Inference latency and throughput (paper Table 4: batch 1, 100 queries × 3 runs, seconds per query).
import { R2ecError } from '../util/errors';

export interface LatencyOptions {
  /** untimed calls first (JIT, kernel compilation, caches); default 3 */
  warmup?: number;
  /** distinct requests per repeat; default 100 (Table 4) */
  requests?: number;
  /** repeats of the whole request list; default 3 (Table 4) */
  repeats?: number;
}

export interface LatencyResult {
  /** seconds per request */
  meanSec: number;
  medianSec: number;
  p95Sec: number;
  minSec: number;
  maxSec: number;
  /** number of timed calls (requests × repeats) */
  n: number;
  /** every timed call, in call order (seconds) */
  samplesSec: number[];
}

/** Nearest-rank-with-interpolation quantile (same as numpy's default 'linear'). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new R2ecError('quantile of an empty list');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function checkCount(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new R2ecError(`latency: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/**
 * Time `request(i)` one call at a time (batch 1): `warmup` untimed calls, then requests 0..requests−1, `repeats`
 * times. `request` receives the request number so it can pick a different input each time.
 */
export async function measureLatency(
  request: (i: number) => unknown | Promise<unknown>,
  opts: LatencyOptions = {},
): Promise<LatencyResult> {
  const warmup = checkCount('warmup', opts.warmup ?? 3, 0);
  const requests = checkCount('requests', opts.requests ?? 100, 1);
  const repeats = checkCount('repeats', opts.repeats ?? 3, 1);
  for (let i = 0; i < warmup; i++) await request(i % requests);
  const samplesSec: number[] = [];
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < requests; i++) {
      const t0 = performance.now();
      await request(i);
      samplesSec.push((performance.now() - t0) / 1000);
    }
  }
  const sorted = [...samplesSec].sort((a, b) => a - b);
  return {
    meanSec: samplesSec.reduce((a, b) => a + b, 0) / samplesSec.length,
    medianSec: quantile(sorted, 0.5),
    p95Sec: quantile(sorted, 0.95),
    minSec: sorted[0],
    maxSec: sorted[sorted.length - 1],
    n: samplesSec.length,
    samplesSec,
  };
}

export interface ThroughputResult {
  itemsPerSec: number;
  totalSec: number;
  batches: number;
  items: number;
  /** seconds per item (totalSec / items) */
  perItemSec: number;
}

/**
 * Throughput of a batched call: process `items` in batches of `batchSize` with `batchFn` (after one untimed warm-up
 * batch) and report items per second.
 */
export async function measureThroughput<T>(
  batchFn: (batch: T[]) => unknown | Promise<unknown>,
  items: readonly T[],
  batchSize: number,
  opts: { warmup?: boolean } = {},
): Promise<ThroughputResult> {
  checkCount('batchSize', batchSize, 1);
  if (items.length === 0) throw new R2ecError('throughput: no items');
  if (opts.warmup ?? true) await batchFn(items.slice(0, batchSize));
  const t0 = performance.now();
  let batches = 0;
  for (let s = 0; s < items.length; s += batchSize) {
    await batchFn(items.slice(s, s + batchSize));
    batches++;
  }
  const totalSec = (performance.now() - t0) / 1000;
  return { itemsPerSec: items.length / totalSec, totalSec, batches, items: items.length, perItemSec: totalSec / items.length };
}

/** Per-request latency of a method (what a results file keeps; paper Table 4). */
export interface RequestLatency {
  perRequestSec: number[];
  /** reasoning tokens generated per request (0 for methods without reasoning) */
  perRequestTokens: number[];
  meanSec: number;
  /** interpolated median (quantile 0.5) */
  medianSec: number;
  meanReasoningTokens: number;
}

/**
 * Time `request` on each of `items`, one at a time (batch 1), after one untimed warm-up call on the first item.
 * `request` returns the number of reasoning tokens it generated (0 when there are none).
 */
export async function timeRequests<T>(items: readonly T[], request: (item: T) => number | Promise<number>): Promise<RequestLatency> {
  if (items.length === 0) throw new R2ecError('latency: no requests to time');
  const tokens: number[] = new Array(items.length).fill(0);
  const r = await measureLatency(
    async (i) => {
      tokens[i] = await request(items[i]);
    },
    { warmup: 1, requests: items.length, repeats: 1 },
  );
  return {
    perRequestSec: r.samplesSec,
    perRequestTokens: tokens,
    meanSec: r.meanSec,
    medianSec: r.medianSec,
    meanReasoningTokens: tokens.reduce((a, b) => a + b, 0) / tokens.length,
  };
}

// Significance and spread (method spec §5: "two-sided t-test p < 0.05"): a paired two-sided t-test on per-sample
// metric values of two methods, the Student-t CDF through the regularized incomplete beta function, and mean ± std
// over seeds.
import { R2ecError } from '../util/errors';
import type { EvalResult } from './evaluate';
import { metricPerSample } from './metrics';

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~1e-15 relative). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction for I_x(a, b) (Numerical Recipes `betacf`, modified Lentz). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const FPMIN = 1e-300;
  const EPS = 1e-15;
  // Convergence takes O(sqrt(max(a, b))) terms, so allow many for huge degrees of freedom.
  const maxIter = 10000 + Math.ceil(20 * Math.sqrt(Math.max(a, b)));
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < FPMIN) d = FPMIN;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= maxIter; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = 1 + aa / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  throw new R2ecError(`incomplete beta: continued fraction did not converge (x=${x}, a=${a}, b=${b})`);
}

/** Regularized incomplete beta function I_x(a, b), a, b > 0, 0 ≤ x ≤ 1. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0) || !(b > 0)) throw new R2ecError(`incomplete beta: a=${a}, b=${b} must be > 0`);
  if (!(x >= 0 && x <= 1)) throw new R2ecError(`incomplete beta: x=${x} must be in [0, 1]`);
  if (x === 0 || x === 1) return x;
  const lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  // Use the continued fraction where it converges fast, the symmetry I_x(a,b) = 1 − I_{1−x}(b,a) elsewhere.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df > 0, may be fractional). */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new R2ecError(`Student t: df=${df} must be > 0`);
  if (Number.isNaN(t)) throw new R2ecError('Student t: t is NaN');
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5); // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

/** Two-sided p-value P(|T| ≥ |t|). */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return Math.min(1, regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5));
}

/** Quantile of Student's t: the q with P(T ≤ q) = p (bisection on the CDF, ~1e-12). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new R2ecError(`Student t quantile: p=${p} must be in (0, 1)`);
  if (p === 0.5) return 0;
  let lo = -1;
  let hi = 1;
  while (studentTCdf(lo, df) > p) lo *= 2;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export interface PairedTTest {
  n: number;
  meanA: number;
  meanB: number;
  /** mean of a − b */
  meanDiff: number;
  /** sample standard deviation of a − b */
  sdDiff: number;
  t: number;
  df: number;
  /** two-sided */
  p: number;
  /** 95% confidence interval of the mean difference (level configurable) */
  ci: [number, number];
  level: number;
}

/**
 * Paired two-sided t-test of a against b (values aligned sample by sample). Identical inputs give t = 0, p = 1
 * (not NaN); a constant non-zero difference gives t = ±Infinity, p = 0.
 */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>, level = 0.95): PairedTTest {
  const n = a.length;
  if (b.length !== n) throw new R2ecError(`paired t-test: ${n} values against ${b.length}`);
  if (n < 2) throw new R2ecError(`paired t-test: needs at least 2 pairs, got ${n}`);
  if (!(level > 0 && level < 1)) throw new R2ecError(`paired t-test: level=${level} must be in (0, 1)`);
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) {
      throw new R2ecError(`paired t-test: value ${i} is not finite (${a[i]}, ${b[i]})`);
    }
    sa += a[i];
    sb += b[i];
  }
  const meanA = sa / n;
  const meanB = sb / n;
  const meanDiff = meanA - meanB;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i] - meanDiff;
    ss += d * d;
  }
  const df = n - 1;
  const sdDiff = Math.sqrt(ss / df);
  const se = sdDiff / Math.sqrt(n);
  // Differences below float noise count as zero spread (e.g. identical inputs up to rounding of the mean).
  const zeroSpread = se <= 1e-14 * Math.max(1, Math.abs(meanDiff));
  let t: number;
  if (zeroSpread) t = Math.abs(meanDiff) <= 1e-15 ? 0 : meanDiff > 0 ? Infinity : -Infinity;
  else t = meanDiff / se;
  const p = t === 0 ? 1 : studentTTwoSidedP(t, df);
  const q = studentTQuantile(1 - (1 - level) / 2, df);
  return { n, meanA, meanB, meanDiff, sdDiff, t, df, p, ci: [meanDiff - q * se, meanDiff + q * se], level };
}

/** Per-sample ranks of one evaluation and the sample index of each: an EvalResult, or a stored copy (null = unrankable). */
export interface RankedSamples {
  ranks: ArrayLike<number | null>;
  sampleIndex: ArrayLike<number>;
}

/**
 * Per-sample values of `metric` in the sample order `order` (sample indices), averaged over several evaluations of
 * the same samples (e.g. one per seed). Samples are matched by sample index, never by array position: two runs that
 * list the samples in different orders pair up correctly. Runs on different samples are refused.
 */
export function perSampleMean(evals: readonly RankedSamples[], metric: string, order: ArrayLike<number>): Float64Array {
  if (evals.length === 0) throw new R2ecError('paired test: no evaluations');
  const out = new Float64Array(order.length);
  for (const e of evals) {
    const pos = new Map<number, number>();
    for (let i = 0; i < e.sampleIndex.length; i++) pos.set(e.sampleIndex[i], i);
    if (pos.size !== order.length) throw new R2ecError(`paired test: evaluations cover ${pos.size} and ${order.length} samples; runs must use the same test samples`);
    const ranks = Float64Array.from(e.ranks as ArrayLike<number | null>, (r) => (r === null ? Infinity : r));
    const vals = metricPerSample(ranks, metric);
    for (let i = 0; i < order.length; i++) {
      const j = pos.get(order[i]);
      if (j === undefined) throw new R2ecError(`paired test: sample ${order[i]} is missing from one of the runs; runs must use the same test samples`);
      out[i] += vals[j] / evals.length;
    }
  }
  return out;
}

/**
 * The one comparison of two methods (method spec §5, paper Table 1 †): a paired two-sided t-test on one metric over
 * test samples, paired by sample index. Each side may be several runs (seeds) of the method; their per-sample values
 * are averaged first.
 */
export function pairedComparison(
  a: RankedSamples | readonly RankedSamples[],
  b: RankedSamples | readonly RankedSamples[],
  metric = 'NDCG@10',
  level = 0.95,
): PairedTTest {
  const as = Array.isArray(a) ? (a as readonly RankedSamples[]) : [a as RankedSamples];
  const bs = Array.isArray(b) ? (b as readonly RankedSamples[]) : [b as RankedSamples];
  if (as.length === 0 || bs.length === 0) throw new R2ecError('paired test: no evaluations');
  const order = as[0].sampleIndex;
  return pairedTTest(perSampleMean(as, metric, order), perSampleMean(bs, metric, order), level);
}

/** Paired t-test of two evaluation results on one metric (e.g. 'NDCG@10'), pairing samples by sample.index. */
export function compareResults(a: EvalResult, b: EvalResult, metric = 'NDCG@10', level = 0.95): PairedTTest {
  return pairedComparison(a, b, metric, level);
}

export interface MeanStd {
  mean: number;
  /** sample standard deviation (n − 1); 0 for a single value */
  std: number;
  n: number;
}

/** Mean ± sample std over seeds (or any repeated runs). */
export function meanStd(values: ArrayLike<number>): MeanStd {
  const n = values.length;
  if (n === 0) throw new R2ecError('meanStd: no values');
  let s = 0;
  for (let i = 0; i < n; i++) s += values[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n };
}

/** Mean ± std of every metric over several runs (e.g. one EvalResult per seed): {'NDCG@10': {mean, std, n}, ...}. */
export function metricsOverSeeds(results: Pick<EvalResult, 'metrics'>[]): Record<string, MeanStd> {
  if (results.length === 0) throw new R2ecError('metricsOverSeeds: no results');
  const out: Record<string, MeanStd> = {};
  for (const k of Object.keys(results[0].metrics)) {
    out[k] = meanStd(
      results.map((r, i) => {
        if (!(k in r.metrics)) throw new R2ecError(`metricsOverSeeds: result ${i} has no metric "${k}"`);
        return r.metrics[k];
      }),
    );
  }
  return out;
}

/** "0.0412 ± 0.0013" */
export function formatMeanStd(m: MeanStd, digits = 4): string {
  return `${m.mean.toFixed(digits)} ± ${m.std.toFixed(digits)}`;
}

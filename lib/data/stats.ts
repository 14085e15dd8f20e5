// Dataset statistics: the numbers a researcher checks before trusting a dataset (paper Table 5 style, plus cold
// users/items, history lengths, time span and ratings).
//
// Cold definitions (per valid+test sample, spec §1 split):
//   - cold user: the sample's user is the user of no train sample;
//   - cold item: the sample's target item occurs in no train sample, neither as target nor in a history.
// So a user whose only earlier interaction is the first of their sequence (never a target) still counts as cold:
// train never shows a sample for them.
import type { Dataset, Sample } from './types';
import { numItems } from './types';

export interface HistogramBin {
  /** inclusive bounds */
  from: number;
  to: number;
  count: number;
}

export interface DatasetStats {
  dataset: string;
  source: string;
  synthetic: boolean;
  window: number;
  users: number;
  /** real items, excluding the pad item */
  items: number;
  interactions: number;
  samples: { train: number; valid: number; test: number; total: number };
  /** valid+test samples whose user never occurs in train */
  coldUsers: number;
  /** valid+test samples whose target item never occurs in train */
  coldItems: number;
  /** coldUsers / coldItems as a share of valid+test samples */
  coldUserShare: number;
  coldItemShare: number;
  /** distinct cold users / cold target items among valid+test samples */
  coldUsersDistinct: number;
  coldItemsDistinct: number;
  historyLength: { min: number; mean: number; median: number; max: number; histogram: HistogramBin[] };
  /** ISO dates (UTC) of the first and last interaction */
  timeSpan: { start: string; end: string; days: number };
  interactionsPerUser: { mean: number; min: number; median: number; max: number };
  interactionsPerItem: { mean: number };
  /** interactions / (users × items) */
  density: number;
  /** count of interactions per rating value, keys sorted numerically */
  ratings: Record<string, number>;
  /** rows dropped by the reader, by reason (from provenance) */
  dropped: Record<string, number>;
}

function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** Unit-width bins when the range is ≤ 25 values, else 10 equal-width integer bins. */
export function histogram(values: number[], maxBins = 25): HistogramBin[] {
  if (values.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const width = hi - lo + 1 <= maxBins ? 1 : Math.ceil((hi - lo + 1) / 10);
  const bins: HistogramBin[] = [];
  for (let from = lo; from <= hi; from += width) bins.push({ from, to: Math.min(hi, from + width - 1), count: 0 });
  for (const v of values) bins[Math.floor((v - lo) / width)].count++;
  return bins;
}

function isoDate(ts: number): string {
  return Number.isFinite(ts) ? new Date(ts * 1000).toISOString().slice(0, 10) : 'n/a';
}

export function datasetStats(ds: Dataset): DatasetStats {
  const { train, valid, test } = ds.samples;
  const trainUsers = new Set<number>();
  const trainItems = new Set<number>();
  for (const s of train) {
    trainUsers.add(s.user);
    trainItems.add(s.target.item);
    for (const h of s.history) trainItems.add(h.item);
  }
  const evalSamples: Sample[] = [...valid, ...test];
  let coldUsers = 0;
  let coldItems = 0;
  const coldUserSet = new Set<number>();
  const coldItemSet = new Set<number>();
  for (const s of evalSamples) {
    if (!trainUsers.has(s.user)) {
      coldUsers++;
      coldUserSet.add(s.user);
    }
    if (!trainItems.has(s.target.item)) {
      coldItems++;
      coldItemSet.add(s.target.item);
    }
  }
  const all = [...train, ...valid, ...test];
  const lens = all.map((s) => s.history.length).sort((a, b) => a - b);
  const perUser = new Map<number, number>();
  let tMin = Infinity;
  let tMax = -Infinity;
  const ratingCounts = new Map<number, number>();
  for (const it of ds.interactions) {
    perUser.set(it.user, (perUser.get(it.user) ?? 0) + 1);
    if (it.timestamp < tMin) tMin = it.timestamp;
    if (it.timestamp > tMax) tMax = it.timestamp;
    ratingCounts.set(it.rating, (ratingCounts.get(it.rating) ?? 0) + 1);
  }
  const userCounts = [...perUser.values()].sort((a, b) => a - b);
  const users = ds.users.length;
  const items = numItems(ds);
  const interactions = ds.interactions.length;
  const nEval = evalSamples.length;
  const ratings: Record<string, number> = {};
  for (const r of [...ratingCounts.keys()].sort((a, b) => a - b)) ratings[String(r)] = ratingCounts.get(r)!;
  return {
    dataset: ds.name,
    source: ds.provenance.source,
    synthetic: ds.provenance.synthetic,
    window: ds.window,
    users,
    items,
    interactions,
    samples: { train: train.length, valid: valid.length, test: test.length, total: all.length },
    coldUsers,
    coldItems,
    coldUserShare: nEval ? coldUsers / nEval : 0,
    coldItemShare: nEval ? coldItems / nEval : 0,
    coldUsersDistinct: coldUserSet.size,
    coldItemsDistinct: coldItemSet.size,
    historyLength: {
      min: lens.length ? lens[0] : 0,
      mean: lens.length ? lens.reduce((a, b) => a + b, 0) / lens.length : 0,
      median: lens.length ? median(lens) : 0,
      max: lens.length ? lens[lens.length - 1] : 0,
      histogram: histogram(lens),
    },
    timeSpan: {
      start: isoDate(tMin),
      end: isoDate(tMax),
      days: Number.isFinite(tMin) ? Math.round(((tMax - tMin) / 86400) * 10) / 10 : 0,
    },
    interactionsPerUser: {
      mean: users ? interactions / users : 0,
      min: userCounts.length ? userCounts[0] : 0,
      median: userCounts.length ? median(userCounts) : 0,
      max: userCounts.length ? userCounts[userCounts.length - 1] : 0,
    },
    interactionsPerItem: { mean: items ? interactions / items : 0 },
    density: users && items ? interactions / (users * items) : 0,
    ratings,
    dropped: { ...ds.provenance.dropped },
  };
}

function fmt(x: number, digits = 2): string {
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(digits);
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** A readable two-column table of the statistics (for the CLI and `start`). */
export function formatStatsTable(st: DatasetStats): string {
  const rows: [string, string][] = [
    ['dataset', `${st.dataset}${st.synthetic ? ' (synthetic)' : ''}`],
    ['source', st.source],
    ['users', fmt(st.users)],
    ['items', fmt(st.items)],
    ['interactions', fmt(st.interactions)],
    ['density', st.density.toExponential(3)],
    ['samples train/valid/test', `${fmt(st.samples.train)} / ${fmt(st.samples.valid)} / ${fmt(st.samples.test)} (total ${fmt(st.samples.total)})`],
    ['cold users (valid+test samples)', `${fmt(st.coldUsers)} (${pct(st.coldUserShare)}; ${fmt(st.coldUsersDistinct)} distinct)`],
    ['cold items (valid+test samples)', `${fmt(st.coldItems)} (${pct(st.coldItemShare)}; ${fmt(st.coldItemsDistinct)} distinct)`],
    ['window W', String(st.window)],
    ['history length min/mean/median/max', `${st.historyLength.min} / ${fmt(st.historyLength.mean)} / ${st.historyLength.median} / ${st.historyLength.max}`],
    ['time span', `${st.timeSpan.start} → ${st.timeSpan.end} (${st.timeSpan.days} days)`],
    ['interactions per user mean/min/median/max', `${fmt(st.interactionsPerUser.mean)} / ${st.interactionsPerUser.min} / ${st.interactionsPerUser.median} / ${st.interactionsPerUser.max}`],
    ['interactions per item (mean)', fmt(st.interactionsPerItem.mean)],
    ['ratings', Object.entries(st.ratings).map(([r, c]) => `${r}:${fmt(c)}`).join('  ')],
  ];
  const dropped = Object.entries(st.dropped);
  if (dropped.length) rows.push(['dropped', dropped.map(([k, v]) => `${k}: ${fmt(v)}`).join('; ')]);
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  const maxCount = Math.max(1, ...st.historyLength.histogram.map((b) => b.count));
  lines.push('history length histogram:');
  for (const b of st.historyLength.histogram) {
    const label = b.from === b.to ? String(b.from) : `${b.from}-${b.to}`;
    lines.push(`  ${label.padStart(7)}  ${fmt(b.count).padStart(8)}  ${'#'.repeat(Math.round((40 * b.count) / maxCount))}`);
  }
  return lines.join('\n');
}

// Popularity: rank every item by how often it was interacted with in the train period, the same list for everyone.
// Counted events = each user's train-period sequence (earliest train sample's history + every train target), so each
// train-period interaction counts exactly once (counting every sample's history would count one interaction up to W
// times). `count: 'targets'` counts train targets only. Ties are broken by id (lower id first), deterministically.
import type { Dataset } from '../data/types';
import { validateFields, trainSequences, type FieldRule, type TrainedBaseline } from './common';

export interface PopularityConfig {
  count: 'events' | 'targets';
}

export const POPULARITY_DEFAULTS: PopularityConfig = { count: 'events' };

const RULES: Record<keyof PopularityConfig, FieldRule> = { count: { type: 'enum', values: ['events', 'targets'] } };

export function validatePopularityConfig(cfg?: Partial<PopularityConfig>): PopularityConfig {
  return validateFields('popularity', cfg, POPULARITY_DEFAULTS, RULES);
}

/** Train-period interaction count per item id 0..N (index 0 stays 0). */
export function popularityCounts(ds: Dataset, count: PopularityConfig['count'] = 'events'): Int32Array {
  const counts = new Int32Array(ds.items.length);
  if (count === 'targets') {
    for (const s of ds.samples.train) counts[s.target.item]++;
  } else {
    for (const seq of trainSequences(ds).values()) for (const it of seq) counts[it]++;
  }
  return counts;
}

export function trainPopularity(ds: Dataset, cfg?: Partial<PopularityConfig>): TrainedBaseline<PopularityConfig> {
  const c = validatePopularityConfig(cfg);
  const t0 = performance.now();
  const counts = popularityCounts(ds, c.count);
  const n1 = ds.items.length;
  // score = N+1 − position in (count desc, id asc): integers, exact in float32, no ties
  const order = Array.from({ length: n1 - 1 }, (_, i) => i + 1).sort((a, b) => counts[b] - counts[a] || a - b);
  const scores = new Float32Array(n1);
  order.forEach((id, pos) => (scores[id] = n1 - pos));
  return {
    name: 'Popularity',
    scorer: async (batch) => batch.map(() => scores),
    curves: [],
    bestEpoch: 0,
    config: c,
    trainSec: (performance.now() - t0) / 1000,
    numParams: 0,
    dispose: () => {},
  };
}

// Section 00 (paper Table 5): statistics of every dataset under the data root, their provenance, and the
// distribution of history lengths.
import { availableDatasets, dataRoot, loadDataset, READER_OPTIONS, type DatasetEntry } from '../data/registry';
import { datasetStats, type DatasetStats } from '../data/stats';
import type { Row } from '../report/table';
import { lineChart, type Figure } from '../report/figures';
import type { SectionTable } from './section';

export interface DatasetsOverview {
  /** the data root the datasets were read from */
  root: string;
  stats: DatasetStats[];
  /** per dataset: reader, cache key, options, source files (sha256), dropped rows, notes */
  provenance: Record<string, unknown>[];
  /** seconds to load each dataset (from the cache when it is warm) */
  loadSec: Record<string, number>;
}

/** Load every dataset under the data root (history window `window` where the reader takes one) and its statistics. */
export async function datasetsOverview(window: number, opts: { entries?: DatasetEntry[]; log?: (msg: string) => void } = {}): Promise<DatasetsOverview> {
  const entries = opts.entries ?? availableDatasets();
  const out: DatasetsOverview = { root: dataRoot(), stats: [], provenance: [], loadSec: {} };
  for (const e of entries) {
    const t = Date.now();
    const ds = await loadDataset(e.name, READER_OPTIONS[e.reader].includes('window') ? { window } : {});
    out.stats.push(datasetStats(ds));
    const p = ds.provenance;
    out.provenance.push({ dataset: e.name, source: p.source, key: p.key, options: p.options, files: p.files, dropped: p.dropped, notes: p.notes });
    out.loadSec[e.name] = (Date.now() - t) / 1000;
    opts.log?.(`${e.name.padEnd(18)} ${out.loadSec[e.name].toFixed(1)} s`);
  }
  return out;
}

/** One row per dataset: users, items, interactions, samples per split, cold shares (%), history length. */
export function datasetsTable(stats: DatasetStats[], window: number): SectionTable {
  const rows: Row[] = stats.map((s) => ({
    dataset: s.dataset,
    users: s.users,
    items: s.items,
    interactions: s.interactions,
    train: s.samples.train,
    valid: s.samples.valid,
    test: s.samples.test,
    samples: s.samples.total,
    cold_users_pct: 100 * s.coldUserShare,
    cold_items_pct: 100 * s.coldItemShare,
    hist_mean: s.historyLength.mean,
    hist_median: s.historyLength.median,
    hist_max: s.historyLength.max,
  }));
  return {
    name: 'datasets',
    rows,
    options: {
      columns: [
        { key: 'dataset', label: 'Dataset' }, { key: 'users', label: '#Users' }, { key: 'items', label: '#Items' },
        { key: 'interactions', label: '#Interactions' }, { key: 'train', label: 'Train' }, { key: 'valid', label: 'Valid' },
        { key: 'test', label: 'Test' }, { key: 'samples', label: 'Samples' },
        { key: 'cold_users_pct', label: 'Cold users (%)', decimals: 1 }, { key: 'cold_items_pct', label: 'Cold items (%)', decimals: 1 },
        { key: 'hist_mean', label: 'Hist. mean', decimals: 1 }, { key: 'hist_median', label: 'Hist. median', decimals: 1 },
        { key: 'hist_max', label: 'Hist. max' },
      ],
      caption: `Dataset statistics (history window W = ${window}; cold shares over valid+test samples).`,
      label: 'tab:datasets',
      thousands: true,
    },
  };
}

/** Share of samples (%) per history length, one line per dataset, log y axis (empty bins left out). */
export function historyLengthFigure(stats: DatasetStats[]): Figure {
  return lineChart({
    series: stats.map((s) => {
      const total = s.historyLength.histogram.reduce((a, b) => a + b.count, 0);
      const bins = s.historyLength.histogram.filter((b) => b.count > 0);
      return { name: s.dataset, x: bins.map((b) => (b.from + b.to) / 2), y: bins.map((b) => (100 * b.count) / total) };
    }),
    xLabel: 'History length (items)',
    yLabel: 'Samples (%)',
    logY: true,
    layout: { yaxis: { dtick: 1 } }, // decade ticks only: 0.1, 1, 10, 100
  });
}

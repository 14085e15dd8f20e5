// Section 01 (paper Table 1; also Tables 2–3 through the same table): test metrics per method and dataset, mean
// (± std) over seeds, the reference method against the best baseline per metric (relative improvement and the paired
// t-test of lib/eval/stats.ts, paired by sample index), and the grouped bar figure.
import type { Row, ColumnSpec, Direction } from '../report/table';
import { groupedBarChart, type Figure } from '../report/figures';
import { pairedComparison, meanStd } from '../eval/stats';
import { TIES_NOTE } from '../experiment/run';
import { R2ecError } from '../util/errors';
import { datasetLabel, describeRuns, methodNames, methodOverSeeds, selectionText, testSampleCount, type DatasetRuns } from './runs';
import { fmtMeanStd, type ColumnGroup, type SectionTable } from './section';

/** Method kinds that count as baselines for the relative improvement and significance marks (paper Table 1). */
export const DEFAULT_BASELINE_KINDS = ['zero-shot', 'sasrec', 'gru4rec', 'caser', 'popularity'];

export interface ComparisonRow {
  dataset: string;
  metric: string;
  reference: string;
  referenceValue: number;
  /** the baseline with the highest mean on this metric and dataset */
  baseline: string;
  baselineValue: number;
  /** 100·(ref − base)/base; null when the baseline is 0 */
  improvementPct: number | null;
  /** paired two-sided t-test over test samples (per-sample values averaged over seeds) */
  p: number;
  t: number;
  n: number;
  /** reference better with p < alpha */
  significant: boolean;
}

export interface MetricsTableOptions {
  /** name of the table files (default 'metrics') */
  name?: string;
  metrics?: string[];
  /** the method compared with the baselines (default: the first method of kind 'r2ec') */
  reference?: string;
  /** kinds that count as baselines; null = no comparison (no improvement, no marks) */
  baselineKinds?: string[] | null;
  alpha?: number;
  decimals?: number;
  /** caption start, e.g. "Main results" (the run description is appended) */
  title?: string;
  label?: string;
}

export interface MetricsTable {
  table: SectionTable;
  /** tidy: one row per dataset × method × metric with mean, std, the per-seed values and n */
  long: Row[];
  comparison: ComparisonRow[];
  reference?: string;
}

/**
 * Test metrics per method and dataset, mean (± std when several seeds) over seeds. When baselines are given, the
 * reference method is compared per dataset and metric with the best baseline: relative improvement and a paired
 * two-sided t-test on the per-sample values (averaged over seeds); its cell gets '†' when it is better with p < alpha.
 */
export function metricsTable(data: DatasetRuns[], opts: MetricsTableOptions = {}): MetricsTable {
  if (data.length === 0) throw new R2ecError('metricsTable: no datasets');
  // default: every metric the runs computed, in their order (HR@K, NDCG@K per cut-off of eval.ks)
  const metrics = opts.metrics ?? Object.keys(data[0].seeds[0].methods[0]?.test.metrics ?? {});
  const decimals = opts.decimals ?? 4;
  const alpha = opts.alpha ?? 0.05;
  const names: string[] = [];
  for (const d of data) for (const n of methodNames(d)) if (!names.includes(n)) names.push(n);
  const kindOf = new Map<string, string>();
  for (const d of data) for (const m of d.seeds[0].methods) kindOf.set(m.name, m.kind);
  const reference = opts.reference ?? names.find((n) => kindOf.get(n) === 'r2ec');
  if (opts.reference && !kindOf.has(opts.reference)) throw new R2ecError(`metricsTable: reference "${opts.reference}" is not among ${names.join(', ')}`);
  const baselineKinds = opts.baselineKinds === undefined ? DEFAULT_BASELINE_KINDS : opts.baselineKinds;

  const rows: Row[] = names.map((n) => ({ Method: n }));
  const columns: ColumnSpec[] = [{ key: 'Method' }];
  const groups: ColumnGroup[] = [];
  const long: Row[] = [];
  const comparison: ComparisonRow[] = [];
  const better: Record<string, Direction> = {};
  const multiSeed = data.some((d) => d.seeds.length > 1);

  for (const d of data) {
    const keys = metrics.map((m) => `${d.dataset} ${m}`);
    groups.push({ label: datasetLabel(d), keys });
    metrics.forEach((metric, i) => {
      const key = keys[i];
      better[key] = 'higher';
      columns.push({ key, label: metric, format: multiSeed ? (v, row) => fmtMeanStd(decimals)(v, row, key) : undefined, decimals });
    });
    const present = new Set(methodNames(d));
    const n = testSampleCount(d);
    names.forEach((name, r) => {
      if (!present.has(name)) return; // shown as "–"
      const runs = methodOverSeeds(d, name);
      for (let i = 0; i < metrics.length; i++) {
        const values = runs.map((m) => {
          const v = m.test.metrics[metrics[i]];
          if (typeof v !== 'number') throw new R2ecError(`${d.dataset}/${name}: no test metric ${metrics[i]}`);
          return v;
        });
        const ms = meanStd(values);
        rows[r][keys[i]] = ms.mean;
        if (d.seeds.length > 1) rows[r][`_std:${keys[i]}`] = ms.std;
        long.push({
          dataset: d.dataset, method: name, kind: kindOf.get(name), metric: metrics[i], mean: ms.mean, std: ms.std,
          seeds: d.seeds.length, values: values.join(' '), n,
        });
      }
    });
    if (!reference || !present.has(reference) || baselineKinds === null) continue;
    const baselines = methodNames(d).filter((x) => x !== reference && baselineKinds.includes(kindOf.get(x) ?? ''));
    if (baselines.length === 0) continue;
    const refRuns = methodOverSeeds(d, reference);
    for (const metric of metrics) {
      const mean = (name: string) => meanStd(methodOverSeeds(d, name).map((m) => m.test.metrics[metric])).mean;
      const best = baselines.reduce((a, b) => (mean(b) > mean(a) ? b : a));
      const refVal = mean(reference);
      const baseVal = mean(best);
      // paired by sample index, per-sample values averaged over seeds (lib/eval/stats.ts)
      const tt = pairedComparison(refRuns.map((m) => m.test), methodOverSeeds(d, best).map((m) => m.test), metric);
      comparison.push({
        dataset: d.dataset, metric, reference, referenceValue: refVal, baseline: best, baselineValue: baseVal,
        improvementPct: baseVal > 0 ? (100 * (refVal - baseVal)) / baseVal : null, p: tt.p, t: tt.t, n: tt.n,
        significant: tt.p < alpha && refVal > baseVal,
      });
    }
  }

  const sig = new Set(comparison.filter((c) => c.significant).map((c) => `${c.dataset} ${c.metric}`));
  const hasComparison = comparison.length > 0;
  const caption =
    `${opts.title ?? 'Test metrics'} on ${describeRuns(data)}; ${TIES_NOTE}; ${selectionText(data)}. Best per column in bold, second underlined` +
    (hasComparison
      ? `; † ${reference} better than the best baseline (${baselineKinds!.join(', ')}) with p < ${alpha} ` +
        `(paired two-sided t-test over test samples${multiSeed ? ', per-sample values averaged over seeds' : ''}).`
      : '.');
  const table: SectionTable = {
    name: opts.name ?? 'metrics',
    rows,
    groups,
    options: {
      columns,
      better,
      decimals,
      caption,
      label: opts.label,
      marks: (row, col) => (row.Method === reference && sig.has(col) ? '†' : undefined),
    },
  };
  return { table, long, comparison, reference };
}

/** The comparison rows as a table: improvement (%) of the reference over the best baseline, with p-values. */
export function comparisonTable(m: MetricsTable, name = 'improvement', label?: string): SectionTable {
  const rows: Row[] = m.comparison.map((c) => ({
    dataset: c.dataset, metric: c.metric, reference: c.referenceValue, best_baseline: c.baseline, baseline: c.baselineValue,
    improvement_pct: c.improvementPct, p: c.p, _sig: c.significant,
  }));
  return {
    name,
    rows,
    options: {
      columns: [
        { key: 'dataset', label: 'Dataset' },
        { key: 'metric', label: 'Metric' },
        { key: 'reference', label: m.reference ?? 'reference', decimals: 4 },
        { key: 'best_baseline', label: 'Best baseline' },
        { key: 'baseline', label: 'Baseline value', decimals: 4 },
        { key: 'improvement_pct', label: 'Improv. (%)', decimals: 1 },
        { key: 'p', label: 'p', format: (v) => (typeof v !== 'number' ? '–' : v === 0 ? '0' : v < 1e-4 ? v.toExponential(1) : v.toFixed(4)) },
      ],
      caption:
        `Relative improvement of ${m.reference} over the best baseline per dataset and metric, and the p-value of a paired ` +
        `two-sided t-test over test samples paired by sample index (n = ${[...new Set(m.comparison.map((c) => `${c.n} on ${c.dataset}`))].join(', ')}); ` +
        `${TIES_NOTE}; † p < 0.05 with ${m.reference} better.`,
      label,
      marks: (row, col) => (col === 'improvement_pct' && row._sig ? '†' : undefined),
    },
  };
}

/** Grouped bars: one group per dataset, one bar per method, the mean of `metric` over seeds (± std as error bars). */
export function metricBarFigure(data: DatasetRuns[], metric = 'NDCG@10', title?: string): Figure {
  const names: string[] = [];
  for (const d of data) for (const n of methodNames(d)) if (!names.includes(n)) names.push(n);
  const series = names.map((name) => {
    const vals = data.map((d) => (methodNames(d).includes(name) ? meanStd(methodOverSeeds(d, name).map((m) => m.test.metrics[metric])) : undefined));
    const anyStd = data.some((d) => d.seeds.length > 1);
    return { name, values: vals.map((v) => (v ? v.mean : NaN)), error: anyStd ? vals.map((v) => (v ? v.std : 0)) : undefined };
  });
  return groupedBarChart({
    categories: data.map((d) => datasetLabel(d)),
    series,
    xLabel: 'Dataset',
    yLabel: `Test ${metric}`,
    title,
  });
}

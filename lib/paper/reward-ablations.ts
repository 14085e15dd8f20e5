// Section 02 (paper Table 2, Figs. 2–3): training curves (GRPO vs RLOO) and sweeps over one RecPO setting at a time;
// the ablation table itself is main-results.ts metricsTable without baselines.
import type { MethodResult } from '../experiment/run';
import type { Row, ColumnSpec, Direction } from '../report/table';
import { axisLabel, color, lineChart, type Figure, type PlotlyObject } from '../report/figures';
import { meanStd } from '../eval/stats';
import { TIES_NOTE } from '../experiment/run';
import { R2ecError } from '../util/errors';
import { datasetLabel, describeRuns, methodOverSeeds, type DatasetRuns } from './runs';
import type { ColumnGroup, SectionTable } from './section';

export type CurveKey =
  | 'rewardMean' | 'rewardGroupStd' | 'ndcgReward' | 'reasoningLength' | 'validNdcg10' | 'validHr10' | 'lossTok' | 'lossRec' | 'gradNorm'
  | 'validReasoningTokens' | 'validRepeatShare' | 'validDistinctShare' | 'validChangedShare';

const CURVE_LABELS: Record<CurveKey, string> = {
  rewardMean: 'Training reward (mean over rollouts)',
  rewardGroupStd: "Reward spread within a user's group (std)",
  ndcgReward: 'Training R_d (NDCG@1000 of the rollouts)',
  reasoningLength: axisLabel('Reasoning length', 'tokens'),
  validNdcg10: 'Validation NDCG@10',
  validHr10: 'Validation HR@10',
  lossTok: 'Token loss',
  lossRec: 'Item loss',
  gradNorm: 'Gradient norm',
  validReasoningTokens: axisLabel('Greedy valid reasoning length', 'tokens'),
  validRepeatShare: 'Repeated bigrams in the valid reasoning (share)',
  validDistinctShare: 'Distinct valid reasoning texts (share)',
  validChangedShare: 'Valid reasoning texts changed since step 0 (share)',
};

/** Trailing moving average over `window` points (window 1 = unchanged). */
export function movingAverage(y: number[], window: number): number[] {
  if (!Number.isInteger(window) || window < 1) throw new R2ecError(`movingAverage: window must be an integer ≥ 1, got ${window}`);
  const out: number[] = [];
  let s = 0;
  for (let i = 0; i < y.length; i++) {
    s += y[i];
    if (i >= window) s -= y[i - window];
    out.push(s / Math.min(i + 1, window));
  }
  return out;
}

interface CurveLike {
  step?: number[];
  evalStep?: number[];
  [k: string]: unknown;
}

/**
 * One curve per method: y = the key, averaged over seeds (cut to the shortest run when early stopping made them differ)
 * with a ± std band over seeds, then smoothed; x = training samples seen (users, step × recpo.usersPerStep of the
 * method's config; the default, so methods with other batch sizes compare at equal data) or the training step
 * (`x: 'step'`); valid* keys are at the evaluation steps.
 */
export function curvesFigure(d: DatasetRuns, methods: string[], key: CurveKey, opts: { smooth?: number; title?: string; x?: 'samples' | 'step' } = {}): Figure {
  const xKey = key.startsWith('valid') ? 'evalStep' : 'step';
  const bySamples = (opts.x ?? 'samples') === 'samples';
  const series = methods.map((name) => {
    const results = methodOverSeeds(d, name);
    const runs = results.map((m) => m.curves as CurveLike);
    const ys = runs.map((c, i) => {
      const y = c?.[key];
      if (!Array.isArray(y)) throw new R2ecError(`${d.dataset}/${name} (seed ${d.seeds[i].seed}): no training curve "${key}" (is it a language-model method, trained after the curve was recorded?)`);
      return y as number[];
    });
    const len = Math.min(...ys.map((y) => y.length));
    const usersPerStep = (results[0].config as { usersPerStep?: unknown } | undefined)?.usersPerStep;
    if (bySamples && typeof usersPerStep !== 'number') throw new R2ecError(`${d.dataset}/${name}: its result records no usersPerStep; plot it with x: 'step'`);
    const steps = ((runs[0][xKey] as number[]) ?? []).slice(0, len);
    const x = bySamples ? steps.map((s) => s * (usersPerStep as number)) : steps;
    const mean: number[] = [];
    const std: number[] = [];
    for (let i = 0; i < len; i++) {
      // a step recorded before the curve existed is null in JSON: no mean there
      const ms = meanStd(ys.map((y) => (y[i] === null ? NaN : y[i])));
      mean.push(ms.mean);
      std.push(ms.std);
    }
    const w = opts.smooth ?? 1;
    return { name, x, y: movingAverage(mean, w), std: ys.length > 1 ? movingAverage(std, w) : undefined };
  });
  const unit = bySamples ? 'Training samples seen (users)' : 'Training step';
  return lineChart({
    series,
    xLabel: xKey === 'evalStep' ? `${unit}, at evaluations` : unit,
    yLabel: CURVE_LABELS[key],
    title: opts.title,
  });
}

export interface SweepSpec {
  /** dotted config key, e.g. 'recpo.reward.beta' */
  key: string;
  /** short label used in the method names, e.g. 'β' (sweep() names rows `${label}=${JSON.stringify(value)}`) */
  label: string;
  values: unknown[];
}

/** File name of a sweep's figure: sweep-<last part of the key>, e.g. sweep-beta. */
export function sweepFigureName(s: SweepSpec): string {
  return `sweep-${s.key.split('.').pop()}`;
}

/** The row name sweep() gives a value. */
export function sweepRowName(s: SweepSpec, v: unknown): string {
  return `${s.label}=${JSON.stringify(v)}`;
}

/** Mean reasoning tokens of a method's test texts over seeds (0 for methods without reasoning). */
function reasoningTokens(runs: MethodResult[]): number {
  return meanStd(runs.map((m) => m.meanReasoningTokens ?? 0)).mean;
}

/** One row per sweep setting: per dataset the test metrics and the mean reasoning length. */
export function sweepTable(data: DatasetRuns[], sweeps: SweepSpec[], opts: { metrics?: string[]; name?: string; label?: string; decimals?: number } = {}): SectionTable {
  const metrics = opts.metrics ?? ['NDCG@10', 'HR@10'];
  const decimals = opts.decimals ?? 4;
  const rows: Row[] = [];
  for (const s of sweeps) for (const v of s.values) rows.push({ Setting: sweepRowName(s, v) });
  const columns: ColumnSpec[] = [{ key: 'Setting' }];
  const groups: ColumnGroup[] = [];
  const better: Record<string, Direction> = {};
  for (const d of data) {
    const keys = [...metrics.map((m) => `${d.dataset} ${m}`), `${d.dataset} tokens`];
    groups.push({ label: datasetLabel(d), keys });
    metrics.forEach((m, i) => {
      columns.push({ key: keys[i], label: m, decimals });
      better[keys[i]] = 'higher';
    });
    columns.push({ key: `${d.dataset} tokens`, label: 'Reasoning (tokens)', decimals: 1 });
    rows.forEach((row) => {
      const runs = methodOverSeeds(d, String(row.Setting));
      metrics.forEach((m, i) => (row[keys[i]] = meanStd(runs.map((x) => x.test.metrics[m])).mean));
      row[`${d.dataset} tokens`] = reasoningTokens(runs);
    });
  }
  return {
    name: opts.name ?? 'sweeps',
    rows,
    groups,
    options: {
      columns,
      better,
      decimals,
      label: opts.label,
      caption:
        `Sweeps (${sweeps.map((s) => `${s.label}: ${s.key}`).join('; ')}): test metrics and mean reasoning length of the greedy test ` +
        `reasoning, ${describeRuns(data)}; ${TIES_NOTE}. Each row changes one setting of R²ec. Best per metric column in bold, second underlined.`,
    },
  };
}

/** Tidy sweep results: one row per dataset × setting × metric (mean/std over seeds) with the reasoning length. */
export function sweepLong(data: DatasetRuns[], sweeps: SweepSpec[], metrics: string[] = ['NDCG@10', 'HR@10']): Row[] {
  const out: Row[] = [];
  for (const d of data) {
    for (const s of sweeps) {
      for (const v of s.values) {
        const runs = methodOverSeeds(d, sweepRowName(s, v));
        for (const m of metrics) {
          const ms = meanStd(runs.map((x) => x.test.metrics[m]));
          out.push({ dataset: d.dataset, parameter: s.key, label: s.label, value: JSON.stringify(v), metric: m, mean: ms.mean, std: ms.std, reasoningTokens: reasoningTokens(runs), seeds: runs.length, n: runs[0].test.n });
        }
      }
    }
  }
  return out;
}

/** Metric (left axis, solid) and reasoning length (right axis, dashed) per value of one sweep, a line per dataset. */
export function sweepFigure(data: DatasetRuns[], s: SweepSpec, metric = 'NDCG@10'): Figure {
  const x = s.values.map((_, i) => i);
  const series = data.flatMap((d) => {
    const runs = s.values.map((v) => methodOverSeeds(d, sweepRowName(s, v)));
    return [
      { name: `${d.dataset} ${metric}`, x, y: runs.map((r) => meanStd(r.map((m) => m.test.metrics[metric])).mean) },
      { name: `${d.dataset} reasoning`, x, y: runs.map((r) => reasoningTokens(r)), dash: 'dash' as const },
    ];
  });
  const fig = lineChart({ series, xLabel: `${s.label} (${s.key})`, yLabel: `Test ${metric}` });
  // the reasoning-length lines go on a second y axis; categorical x so uneven values are evenly spaced
  fig.data.forEach((t, i) => {
    if (i % 2 === 1) t.yaxis = 'y2';
    const c = color(Math.floor(i / 2));
    (t.line as PlotlyObject).color = c;
    (t.marker as PlotlyObject).color = c;
  });
  fig.layout.xaxis = { ...(fig.layout.xaxis as PlotlyObject), tickmode: 'array', tickvals: x, ticktext: s.values.map((v) => JSON.stringify(v)) };
  fig.layout.yaxis2 = {
    title: { text: axisLabel('Reasoning length', 'tokens') }, overlaying: 'y', side: 'right', showgrid: false, showline: true,
    linecolor: '#000', ticks: 'outside', zeroline: false, automargin: true,
  };
  return fig;
}

// Section 06 (paper Table 4): latency per request at batch 1 and throughput, pooled over seeds, and latency against
// reasoning length.
import type { ExperimentResult, MethodResult } from '../experiment/run';
import type { Row, ColumnSpec, Direction } from '../report/table';
import { axisLabel, scatterChart, type Figure } from '../report/figures';
import { meanStd } from '../eval/stats';
import { quantile } from '../eval/latency';
import { TIES_NOTE } from '../experiment/run';
import { datasetLabel, describeRuns, methodNames, methodOverSeeds, type DatasetRuns } from './runs';
import type { ColumnGroup, SectionTable } from './section';

export interface LatencyStats {
  requests: number;
  meanSec: number;
  medianSec: number;
  p95Sec: number;
  /** timed requests / their total time (batch 1) */
  throughputPerSec: number;
  meanTokens: number;
}

/** Latency statistics of one method, pooling the timed requests of every seed; undefined when none were timed. */
export function latencyStats(runs: MethodResult[]): LatencyStats | undefined {
  const per = runs.flatMap((m) => m.latency?.perRequestSec ?? []);
  if (per.length === 0) return undefined;
  const toks = runs.flatMap((m) => m.latency?.perRequestTokens ?? []);
  const sorted = [...per].sort((a, b) => a - b);
  const total = per.reduce((a, b) => a + b, 0);
  return {
    requests: per.length,
    meanSec: total / per.length,
    medianSec: quantile(sorted, 0.5),
    p95Sec: quantile(sorted, 0.95),
    throughputPerSec: per.length / total,
    meanTokens: toks.length ? toks.reduce((a, b) => a + b, 0) / toks.length : 0,
  };
}

/** Host description from an experiment manifest (for captions): "wasm backend, 2× Intel(R) Xeon(R) ..., 24 GiB". */
export function hardwareOf(result: ExperimentResult): string {
  const h = (result.manifest.host ?? {}) as { cpus?: number; cpuModel?: string; memGiB?: number; platform?: string };
  return `${String(result.manifest.backend ?? 'unknown')} backend on ${h.cpus ?? '?'}× ${h.cpuModel ?? 'unknown CPU'} (${h.memGiB ?? '?'} GiB, ${h.platform ?? '?'}), ${String(result.manifest.world ?? '?')} rank(s)`;
}

/** Latency per request at batch 1 (mean, median, p95), throughput at batch 1, reasoning tokens, and test NDCG@10. */
export function latencyTable(data: DatasetRuns[], hardware: string, opts: { name?: string; label?: string } = {}): SectionTable {
  const names: string[] = [];
  for (const d of data) for (const n of methodNames(d)) if (!names.includes(n)) names.push(n);
  const rows: Row[] = names.map((n) => ({ Method: n }));
  const columns: ColumnSpec[] = [{ key: 'Method' }];
  const groups: ColumnGroup[] = [];
  const better: Record<string, Direction> = {};
  const fields: { f: string; label: string; dir?: Direction; decimals: number }[] = [
    { f: 'latency_mean_s', label: 'Latency mean (s)', dir: 'lower', decimals: 4 },
    { f: 'latency_median_s', label: 'Median (s)', dir: 'lower', decimals: 4 },
    { f: 'latency_p95_s', label: 'p95 (s)', dir: 'lower', decimals: 4 },
    { f: 'throughput_per_s', label: 'Throughput (req/s)', dir: 'higher', decimals: 2 },
    { f: 'reasoning_tokens', label: 'Reasoning (tokens)', decimals: 1 },
    { f: 'requests', label: 'Requests', decimals: 0 },
    { f: 'ndcg10', label: 'NDCG@10', dir: 'higher', decimals: 4 },
  ];
  for (const d of data) {
    const keys = fields.map((x) => `${d.dataset} ${x.f}`);
    groups.push({ label: datasetLabel(d), keys });
    fields.forEach((x, i) => {
      columns.push({ key: keys[i], label: x.label, decimals: x.decimals });
      if (x.dir) better[keys[i]] = x.dir;
    });
    names.forEach((name, r) => {
      if (!methodNames(d).includes(name)) return;
      const runs = methodOverSeeds(d, name);
      const st = latencyStats(runs);
      const vals: (number | null)[] = [
        st?.meanSec ?? null, st?.medianSec ?? null, st?.p95Sec ?? null, st?.throughputPerSec ?? null, st ? st.meanTokens : null,
        st?.requests ?? 0, meanStd(runs.map((m) => m.test.metrics['NDCG@10'])).mean,
      ];
      keys.forEach((k, i) => (rows[r][k] = vals[i]));
    });
  }
  return {
    name: opts.name ?? 'latency',
    rows,
    groups,
    options: {
      columns,
      better,
      label: opts.label,
      caption:
        `Inference cost per request at batch 1 (reasoning generation + scoring the whole catalog for LM methods, scoring the ` +
        `catalog for SASRec), measured on ${hardware}; ${describeRuns(data)}. Throughput = timed requests / their total time ` +
        `(batch 1). Requests = timed test requests (pooled over seeds). NDCG@10 over the test samples; ${TIES_NOTE}.`,
    },
  };
}

/** Per-request latency against the number of reasoning tokens of the request, one marker series per method. */
export function latencyFigure(d: DatasetRuns): Figure {
  const series = methodNames(d)
    .map((name) => {
      const runs = methodOverSeeds(d, name);
      const x = runs.flatMap((m) => m.latency?.perRequestTokens ?? []);
      const y = runs.flatMap((m) => m.latency?.perRequestSec ?? []);
      return { name, x, y };
    })
    .filter((s) => s.x.length > 0);
  return scatterChart({
    series,
    xLabel: axisLabel('Reasoning length', 'tokens'),
    yLabel: axisLabel('Latency per request, batch 1', 's'),
    logY: true,
  });
}

// Section 03: test metrics of every method on cold and warm users and items (spec §5 segments).
import type { Row, ColumnSpec, Direction } from '../report/table';
import { groupedBarChart, type Figure } from '../report/figures';
import { meanStd } from '../eval/stats';
import { TIES_NOTE } from '../experiment/run';
import { R2ecError } from '../util/errors';
import { datasetLabel, describeRuns, methodNames, methodOverSeeds, type DatasetRuns } from './runs';
import { fmtMeanStd, type ColumnGroup, type SectionTable } from './section';

export const SEGMENTS = [
  { key: 'coldUser', label: 'cold users' },
  { key: 'warmUser', label: 'warm users' },
  { key: 'coldItem', label: 'cold items' },
  { key: 'warmItem', label: 'warm items' },
] as const;

type SegmentKey = (typeof SEGMENTS)[number]['key'];

/** Test samples per segment (the same for every method and seed; checked). */
export function segmentCounts(d: DatasetRuns): Record<SegmentKey, number> {
  const out = {} as Record<SegmentKey, number>;
  for (const s of SEGMENTS) {
    const ns = new Set(d.seeds.flatMap((r) => r.methods.map((m) => m.test.segments[s.key].n)));
    if (ns.size !== 1) throw new R2ecError(`${d.dataset}: methods disagree on the number of ${s.label} test samples (${[...ns].join(', ')})`);
    out[s.key] = [...ns][0];
  }
  return out;
}

/** Mean (± std) of one metric per method on each segment; empty segments show "–". */
export function coldStartTable(data: DatasetRuns[], metric = 'NDCG@10', opts: { name?: string; label?: string; decimals?: number } = {}): SectionTable {
  const decimals = opts.decimals ?? 4;
  const names: string[] = [];
  for (const d of data) for (const n of methodNames(d)) if (!names.includes(n)) names.push(n);
  const rows: Row[] = names.map((n) => ({ Method: n }));
  const columns: ColumnSpec[] = [{ key: 'Method' }];
  const groups: ColumnGroup[] = [];
  const better: Record<string, Direction> = {};
  const multiSeed = data.some((d) => d.seeds.length > 1);
  for (const d of data) {
    const counts = segmentCounts(d);
    const keys = SEGMENTS.map((s) => `${d.dataset} ${s.key}`);
    groups.push({ label: datasetLabel(d), keys });
    SEGMENTS.forEach((s, i) => {
      const key = keys[i];
      better[key] = 'higher';
      columns.push({ key, label: `${s.label} (n=${counts[s.key]})`, decimals, format: multiSeed ? (v, row) => fmtMeanStd(decimals)(v, row, key) : undefined });
      names.forEach((name, r) => {
        if (!methodNames(d).includes(name)) return;
        if (counts[s.key] === 0) {
          rows[r][key] = null;
          return;
        }
        const ms = meanStd(methodOverSeeds(d, name).map((m) => m.test.segments[s.key].metrics[metric]));
        rows[r][key] = ms.mean;
        if (d.seeds.length > 1) rows[r][`_std:${key}`] = ms.std;
      });
    });
  }
  return {
    name: opts.name ?? `cold-start-${metric.replace(/@/g, '').toLowerCase()}`,
    rows,
    groups,
    options: {
      columns,
      better,
      decimals,
      label: opts.label,
      caption:
        `Test ${metric} on cold and warm segments, ${describeRuns(data)}. Cold user: no train sample of the user; cold item: ` +
        `the target item occurs nowhere in train (spec §5 segments). n = test samples in the segment; ${TIES_NOTE}. Best per column in bold, second underlined.`,
    },
  };
}

/** Tidy cold-start data: dataset, segment, n, method, metric, mean, std (all metrics). */
export function coldStartLong(data: DatasetRuns[]): Row[] {
  const out: Row[] = [];
  for (const d of data) {
    const counts = segmentCounts(d);
    for (const s of SEGMENTS) {
      for (const name of methodNames(d)) {
        const runs = methodOverSeeds(d, name);
        for (const metric of Object.keys(runs[0].test.segments[s.key].metrics)) {
          const ms = meanStd(runs.map((m) => m.test.segments[s.key].metrics[metric]));
          out.push({ dataset: d.dataset, segment: s.key, n: counts[s.key], method: name, metric, mean: counts[s.key] ? ms.mean : null, std: counts[s.key] ? ms.std : null, seeds: runs.length });
        }
      }
    }
  }
  return out;
}

export function coldStartFigure(d: DatasetRuns, metric = 'NDCG@10'): Figure {
  const counts = segmentCounts(d);
  const multi = d.seeds.length > 1;
  return groupedBarChart({
    categories: SEGMENTS.map((s) => `${s.label} (n=${counts[s.key]})`),
    series: methodNames(d).map((name) => {
      const v = SEGMENTS.map((s) => (counts[s.key] ? meanStd(methodOverSeeds(d, name).map((m) => m.test.segments[s.key].metrics[metric])) : undefined));
      return { name, values: v.map((x) => (x ? x.mean : NaN)), error: multi ? v.map((x) => (x ? x.std : 0)) : undefined };
    }),
    xLabel: `Test segment (${datasetLabel(d)})`,
    yLabel: `Test ${metric}`,
  });
}

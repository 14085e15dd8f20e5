// Section-level helpers for the paper notebooks (notebooks/01-…06-*.ipynb): run an experiment over datasets × seeds,
// aggregate the per-method results into paper-style tables (mean ± std over seeds, relative improvement over the best
// baseline, significance marks from paired t-tests), build the section figures, and write one results folder per
// section (tables as CSV/Markdown/LaTeX, figures as SVG/PNG, manifest.json) plus the results/README.md index.
//
// The notebooks hold settings and calls only; every number shown comes from the MethodResults of runExperiment
// (lib/experiment/run.ts), nothing is filtered or typed in.
//
//   const runs = await runGrid({ experiment: 'main', profile, datasets, seeds, methods, resultsDir: resultsRoot() });
//   const main = metricsTable(groupRuns(runs), { baselineKinds: DEFAULT_BASELINE_KINDS });
//   showSectionTable(main.table);
//   await writeSection(sectionDir('01-main-results'), { section: '01-main-results', tables: [main.table], ... });
//   writeResultsIndex();
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeConfig, PROFILES, type MethodSpec, type Profile } from '../experiment/config';
import { runExperiment, type ExperimentResult, type MethodResult, type StoredEval } from '../experiment/run';
import { availableDatasets, dataRoot } from '../data/registry';
import type { Dataset } from '../data/types';
import { pairedTTest, meanStd } from '../eval/stats';
import { metricPerSample } from '../eval/metrics';
import { quantile } from '../eval/latency';
import { makeManifest } from '../util/manifest';
import { hashSeed, makeRng } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';
import { latexEscape, toCsv, toLatex, toMarkdown, type ColumnSpec, type Direction, type Row, type TableOptions } from './table';
import { axisLabel, color, groupedBarChart, lineChart, scatterChart, type Figure, type PlotlyObject } from './figures';
import { exportFigures } from './export';
import { showTable } from './display';
import { agreementTable, type AgreementTable } from '../behaviors/agreement';
import { readAnnotationCsv } from '../behaviors/annotation';
import { behaviorShares, examplesPerBehavior } from '../behaviors/summary';
import { BEHAVIORS, BEHAVIOR_IDS, type TagInput, type TagResult } from '../behaviors/types';

// ---------------------------------------------------------------------------------------------------------------
// Settings shared by the notebooks

/** The sections (notebook names = results folder names) and what each reproduces. */
export const SECTIONS: Record<string, string> = {
  '00-data': 'Dataset statistics (paper Table 5)',
  '01-main-results': 'Main results: R²ec vs w/o reasoning, zero-shot and the baselines (paper Table 1)',
  '02-reward-ablations': 'Reward and training ablations, GRPO vs RLOO curves, sweeps over β, G, temperature, top-k (paper Table 2, Figs. 2–3)',
  '03-cold-start': 'Cold vs warm users and items per method',
  '04-embedding-pooling': 'User and item read-out: last hidden state vs mean/max pooling vs special token (paper Table 3)',
  '05-reasoning-behaviors': 'Reasoning behaviours: seven-behaviour tagging, shares per dataset, examples, annotation agreement',
  '06-efficiency': 'Inference latency (batch 1) and throughput (paper Table 4)',
};

/** The seed every config starts from (lib/experiment/config.ts); runs with it keep the plain experiment name. */
export const DEFAULT_SEED = 42;

/** Method kinds that count as baselines for the relative improvement and significance marks (paper Table 1). */
export const DEFAULT_BASELINE_KINDS = ['zero-shot', 'sasrec', 'gru4rec', 'caser', 'popularity'];

/** R2EC_PROFILE (default 'quick'), checked. */
export function profileFromEnv(env: Record<string, string | undefined> = process.env): Profile {
  const p = (env.R2EC_PROFILE ?? 'quick').trim();
  if (!(PROFILES as string[]).includes(p)) throw new ConfigError('R2EC_PROFILE', `"${p}" is not one of ${PROFILES.join(', ')}`);
  return p as Profile;
}

/** Root of results/ (R2EC_RESULTS_DIR, default 'results'). */
export function resultsRoot(env: Record<string, string | undefined> = process.env): string {
  const r = env.R2EC_RESULTS_DIR;
  return r && r.trim() ? r.trim() : 'results';
}

export function sectionDir(section: string, root = resultsRoot()): string {
  return path.join(root, section);
}

/**
 * Datasets a section runs on by default: R2EC_DATASETS (comma-separated) when set; else under `smoke` the `smoke`
 * list (default: synthetic plus ml-100k when present, the CI budget); else every real dataset present under the data
 * root, or synthetic when there is none.
 */
/**
 * Datasets a section runs on: R2EC_DATASETS if set; smoke: synthetic (+ ml-100k); quick: the paper-like pair
 * ml-100k + cds when present (each dataset costs minutes on 2 cores; add the others in the first cell); full: every
 * real dataset under the data root. Falls back to synthetic when none is present.
 */
export function defaultDatasets(
  profile: Profile,
  opts: { smoke?: string[]; quick?: string[]; root?: string; env?: Record<string, string | undefined> } = {},
): string[] {
  const env = opts.env ?? process.env;
  const fromEnv = env.R2EC_DATASETS?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (fromEnv && fromEnv.length > 0) return fromEnv;
  const present = availableDatasets(opts.root ?? dataRoot()).map((e) => e.name);
  if (profile === 'smoke') return opts.smoke ? [...opts.smoke] : ['synthetic', ...present.filter((n) => n === 'ml-100k')];
  const real = present.filter((n) => n !== 'synthetic');
  const chosen = profile === 'quick' ? real.filter((n) => (opts.quick ?? ['ml-100k', 'cds']).includes(n)) : real;
  return chosen.length > 0 ? chosen : real.length > 0 ? real.slice(0, 1) : ['synthetic'];
}

// ---------------------------------------------------------------------------------------------------------------
// Runs over datasets × seeds

/**
 * Overrides that set every training seed (LM warm-up, RecPO, baselines). The top-level `seed` is left alone on
 * purpose: it picks the evaluated valid/test subset, so every seed is evaluated on the same samples and the runs pair
 * up sample by sample (the per-sample mean over seeds is what the significance test uses).
 */
export function seedOverrides(seed: number): Record<string, unknown> {
  if (!Number.isInteger(seed) || seed < 0) throw new ConfigError('seeds', `a seed must be an integer ≥ 0, got ${JSON.stringify(seed)}`);
  return { 'warmup.seed': seed, 'recpo.seed': seed, 'sasrec.seed': seed, 'gru4rec.seed': seed, 'caser.seed': seed };
}

/** results/<experiment>/ for the default seed (shared with `r2ec run <experiment>`), <experiment>-seed<s> otherwise. */
export function experimentName(base: string, seed: number): string {
  return seed === DEFAULT_SEED ? base : `${base}-seed${seed}`;
}

export interface GridOptions {
  /** names results/<experiment>/<dataset>/ (see experimentName for seeds) */
  experiment: string;
  profile: Profile;
  datasets: string[];
  seeds: number[];
  methods: MethodSpec[];
  /** dotted-key overrides for every method (e.g. {'recpo.steps': 100}) */
  set?: Record<string, unknown>;
  /** results root (default resultsRoot()) */
  resultsDir?: string;
  log?: (msg: string) => void;
}

export interface Run {
  dataset: string;
  seed: number;
  result: ExperimentResult;
}

/** Validate a grid before anything trains: every (dataset, seed) config is built and checked first. */
function gridConfigs(o: GridOptions) {
  if (!Array.isArray(o.datasets) || o.datasets.length === 0) throw new ConfigError('datasets', 'needs at least one dataset');
  if (!Array.isArray(o.seeds) || o.seeds.length === 0) throw new ConfigError('seeds', 'needs at least one seed');
  if (new Set(o.seeds).size !== o.seeds.length) throw new ConfigError('seeds', `duplicate seed in ${JSON.stringify(o.seeds)}`);
  if (new Set(o.datasets).size !== o.datasets.length) throw new ConfigError('datasets', `duplicate dataset in ${JSON.stringify(o.datasets)}`);
  const out: { dataset: string; seed: number; cfg: ReturnType<typeof makeConfig> }[] = [];
  for (const dataset of o.datasets) {
    for (const seed of o.seeds) {
      const cfg = makeConfig({
        profile: o.profile,
        dataset,
        experiment: experimentName(o.experiment, seed),
        set: { ...seedOverrides(seed), ...(o.set ?? {}), methods: o.methods, resultsDir: o.resultsDir ?? resultsRoot() },
      });
      out.push({ dataset, seed, cfg });
    }
  }
  return out;
}

/** runExperiment for every dataset and seed (finished methods are reused from their results folders). */
export async function runGrid(o: GridOptions): Promise<Run[]> {
  const log = o.log ?? ((m: string) => console.log(m));
  const cfgs = gridConfigs(o);
  const runs: Run[] = [];
  for (const { dataset, seed, cfg } of cfgs) {
    const t0 = Date.now();
    const result = await runExperiment(cfg, { log });
    runs.push({ dataset, seed, result });
    log(`${cfg.experiment}/${dataset} (seed ${seed}) done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return runs;
}

/** The runs of one dataset: one entry per seed, each with the same methods in the same order. */
export interface DatasetRuns {
  dataset: string;
  synthetic: boolean;
  profile: string;
  backend: string;
  seeds: { seed: number; methods: MethodResult[] }[];
  /** the loaded dataset (for the behaviour study's history titles); absent in hand-built runs */
  data?: Dataset;
}

/** Group runs by dataset (in first-appearance order), checking that every seed has the same methods. */
export function groupRuns(runs: Run[]): DatasetRuns[] {
  const out: DatasetRuns[] = [];
  for (const r of runs) {
    let d = out.find((x) => x.dataset === r.dataset);
    if (!d) {
      d = {
        dataset: r.dataset,
        synthetic: r.result.dataset.provenance.synthetic,
        profile: r.result.config.profile,
        backend: String(r.result.manifest.backend ?? 'unknown'),
        seeds: [],
        data: r.result.dataset,
      };
      out.push(d);
    }
    d.seeds.push({ seed: r.seed, methods: r.result.methods });
  }
  for (const d of out) checkRuns(d);
  return out;
}

function checkRuns(d: DatasetRuns): void {
  if (d.seeds.length === 0) throw new R2ecError(`${d.dataset}: no runs`);
  const names = d.seeds[0].methods.map((m) => m.name);
  for (const s of d.seeds) {
    const these = s.methods.map((m) => m.name);
    if (these.join('\u0000') !== names.join('\u0000')) {
      throw new R2ecError(`${d.dataset}: seed ${s.seed} has methods [${these.join(', ')}], seed ${d.seeds[0].seed} has [${names.join(', ')}]`);
    }
  }
}

export function methodNames(d: DatasetRuns): string[] {
  return d.seeds[0].methods.map((m) => m.name);
}

/** The results of one method over the seeds of a dataset (R2ecError naming what is there when absent). */
export function methodOverSeeds(d: DatasetRuns, name: string): MethodResult[] {
  return d.seeds.map((s) => {
    const m = s.methods.find((x) => x.name === name);
    if (!m) throw new R2ecError(`${d.dataset}: no method "${name}" (have ${s.methods.map((x) => x.name).join(', ')})`);
    return m;
  });
}

/** Test samples evaluated on a dataset (the same for every method and seed; checked). */
export function testSampleCount(d: DatasetRuns): number {
  const ns = new Set(d.seeds.flatMap((s) => s.methods.map((m) => m.test.n)));
  if (ns.size !== 1) throw new R2ecError(`${d.dataset}: methods were evaluated on different numbers of test samples (${[...ns].join(', ')})`);
  return [...ns][0];
}

/** The dataset's name for headers and legends, flagged when the data is synthetic and the name does not say so. */
export function datasetLabel(d: Pick<DatasetRuns, 'dataset' | 'synthetic'>): string {
  return d.synthetic && !/synthetic/i.test(d.dataset) ? `${d.dataset} (synthetic)` : d.dataset;
}

/** "ml-100k (n=1000), synthetic [synthetic data] (n=48); profile quick; backend wasm; seed 42" for captions. */
export function describeRuns(data: DatasetRuns[]): string {
  const ds = data.map((d) => `${d.dataset}${d.synthetic ? ' [synthetic data]' : ''} (n=${testSampleCount(d)} test samples)`).join(', ');
  const profiles = [...new Set(data.map((d) => d.profile))].join('/');
  const backends = [...new Set(data.map((d) => d.backend))].join('/');
  const seeds = [...new Set(data.flatMap((d) => d.seeds.map((s) => s.seed)))];
  return `${ds}; profile ${profiles}; backend ${backends}; ${seeds.length > 1 ? `mean ± std over seeds ${seeds.join(', ')}` : `seed ${seeds[0]}`}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Section tables: rows + column specs + optional column groups (datasets) over the header

export interface ColumnGroup {
  label: string;
  /** keys of consecutive columns under this label */
  keys: string[];
}

export interface SectionTable {
  /** file base name: <name>.csv|md|tex */
  name: string;
  rows: Row[];
  /** columns must be given (their keys are the CSV header) */
  options: Omit<TableOptions, 'columns'> & { columns: ColumnSpec[] };
  /** a header row over the column labels (LaTeX: \multicolumn + \cmidrule; Markdown/HTML: "group label" prefix) */
  groups?: ColumnGroup[];
}

function checkGroups(t: SectionTable): void {
  const keys = t.options.columns.map((c) => c.key);
  for (const g of t.groups ?? []) {
    const idx = g.keys.map((k) => keys.indexOf(k));
    if (idx.some((i) => i < 0)) throw new R2ecError(`table ${t.name}: group "${g.label}" names a column that is not in the table`);
    if (idx.some((v, i) => i > 0 && v !== idx[i - 1] + 1)) throw new R2ecError(`table ${t.name}: group "${g.label}" columns are not consecutive`);
  }
}

/** Column specs with the group label in front of each label (for Markdown/HTML, which have one header row). */
function flatColumns(t: SectionTable): ColumnSpec[] {
  const groupOf = new Map<string, string>();
  for (const g of t.groups ?? []) for (const k of g.keys) groupOf.set(k, g.label);
  return t.options.columns.map((c) => (groupOf.has(c.key) ? { ...c, label: `${groupOf.get(c.key)} ${c.label ?? c.key}` } : c));
}

export function sectionMarkdown(t: SectionTable): string {
  checkGroups(t);
  return toMarkdown(t.rows, { ...t.options, columns: flatColumns(t) });
}

export function sectionCsv(t: SectionTable): string {
  return toCsv(t.rows, { columns: t.options.columns });
}

/** booktabs LaTeX; with groups, a row of \multicolumn labels and \cmidrule(lr) lines is put under \toprule. */
export function sectionLatex(t: SectionTable): string {
  checkGroups(t);
  const tex = toLatex(t.rows, t.options);
  if (!t.groups || t.groups.length === 0) return tex;
  const keys = t.options.columns.map((c) => c.key);
  const cells: string[] = [];
  const rules: string[] = [];
  for (let c = 0; c < keys.length; ) {
    const g = t.groups.find((x) => x.keys[0] === keys[c]);
    if (g) {
      cells.push(g.keys.length === 1 ? latexEscape(g.label) : `\\multicolumn{${g.keys.length}}{c}{${latexEscape(g.label)}}`);
      rules.push(`\\cmidrule(lr){${c + 1}-${c + g.keys.length}}`);
      c += g.keys.length;
    } else {
      cells.push('');
      c += 1;
    }
  }
  const header = `${cells.join(' & ')} \\\\\n${rules.join(' ')}`;
  return tex.replace('\\toprule\n', `\\toprule\n${header}\n`);
}

/** Show a section table inline (HTML in the kernel, Markdown on the console). */
export function showSectionTable(t: SectionTable): void {
  checkGroups(t);
  showTable(t.rows, { ...t.options, columns: flatColumns(t), maxRows: Math.max(50, t.rows.length) });
}

export function writeSectionTable(dir: string, t: SectionTable): string[] {
  if (!/^[\w.@-]+$/.test(t.name)) throw new R2ecError(`table name "${t.name}" must be a plain file name`);
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, `${t.name}.csv`), path.join(dir, `${t.name}.md`), path.join(dir, `${t.name}.tex`)];
  writeFileSync(files[0], sectionCsv(t));
  writeFileSync(files[1], sectionMarkdown(t));
  writeFileSync(files[2], sectionLatex(t));
  return files;
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics table (paper Tables 1–3): one row per method, one column group per dataset

/** Per-sample metric values of several evaluations of the same samples, averaged, in the order of `order`. */
export function perSampleMean(evals: StoredEval[], metric: string, order: number[]): Float64Array {
  const out = new Float64Array(order.length);
  for (const e of evals) {
    const pos = new Map<number, number>();
    e.sampleIndex.forEach((s, i) => pos.set(s, i));
    if (pos.size !== order.length) throw new R2ecError(`paired test: evaluations cover ${pos.size} and ${order.length} samples; runs must use the same test samples`);
    const ranks = Float64Array.from(e.ranks, (r) => (r === null ? Infinity : r));
    const vals = metricPerSample(ranks, metric);
    order.forEach((s, i) => {
      const j = pos.get(s);
      if (j === undefined) throw new R2ecError(`paired test: sample ${s} is missing from one of the runs; runs must use the same test samples`);
      out[i] += vals[j] / evals.length;
    });
  }
  return out;
}

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

const fmtMeanStd = (decimals: number) => (v: unknown, row: Row, key: string) => {
  if (typeof v !== 'number' || Number.isNaN(v)) return '–';
  const sd = row[`_std:${key}`];
  return typeof sd === 'number' ? `${v.toFixed(decimals)} ± ${sd.toFixed(decimals)}` : v.toFixed(decimals);
};

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
    const order = [...refRuns[0].test.sampleIndex];
    for (const metric of metrics) {
      const mean = (name: string) => meanStd(methodOverSeeds(d, name).map((m) => m.test.metrics[metric])).mean;
      const best = baselines.reduce((a, b) => (mean(b) > mean(a) ? b : a));
      const refVal = mean(reference);
      const baseVal = mean(best);
      const tt = pairedTTest(
        perSampleMean(refRuns.map((m) => m.test), metric, order),
        perSampleMean(methodOverSeeds(d, best).map((m) => m.test), metric, order),
      );
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
    `${opts.title ?? 'Test metrics'} on ${describeRuns(data)}. Best per column in bold, second underlined` +
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
        `two-sided t-test over test samples; † p < 0.05 with ${m.reference} better.`,
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

// ---------------------------------------------------------------------------------------------------------------
// Cold start (segments of the test samples)

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
        `the target item occurs nowhere in train (spec §5 segments). n = test samples in the segment. Best per column in bold, second underlined.`,
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

// ---------------------------------------------------------------------------------------------------------------
// Training curves (GRPO vs RLOO, Fig. 2) and sweeps (Fig. 3)

export type CurveKey = 'rewardMean' | 'ndcgReward' | 'reasoningLength' | 'validNdcg10' | 'validHr10' | 'lossTok' | 'lossRec' | 'gradNorm';

const CURVE_LABELS: Record<CurveKey, string> = {
  rewardMean: 'Training reward (mean over rollouts)',
  ndcgReward: 'Training R_d (NDCG@1000 of the rollouts)',
  reasoningLength: axisLabel('Reasoning length', 'tokens'),
  validNdcg10: 'Validation NDCG@10',
  validHr10: 'Validation HR@10',
  lossTok: 'Token loss',
  lossRec: 'Item loss',
  gradNorm: 'Gradient norm',
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
 * One curve per method: x = training step (evaluation step for valid* keys), y = the key, averaged over seeds (cut to
 * the shortest run when early stopping made them differ) with a ± std band over seeds, then smoothed.
 */
export function curvesFigure(d: DatasetRuns, methods: string[], key: CurveKey, opts: { smooth?: number; title?: string } = {}): Figure {
  const xKey = key.startsWith('valid') ? 'evalStep' : 'step';
  const series = methods.map((name) => {
    const runs = methodOverSeeds(d, name).map((m) => m.curves as CurveLike);
    const ys = runs.map((c, i) => {
      const y = c?.[key];
      if (!Array.isArray(y)) throw new R2ecError(`${d.dataset}/${name} (seed ${d.seeds[i].seed}): no training curve "${key}" (is it a language-model method?)`);
      return y as number[];
    });
    const len = Math.min(...ys.map((y) => y.length));
    const x = ((runs[0][xKey] as number[]) ?? []).slice(0, len);
    const mean: number[] = [];
    const std: number[] = [];
    for (let i = 0; i < len; i++) {
      const ms = meanStd(ys.map((y) => y[i]));
      mean.push(ms.mean);
      std.push(ms.std);
    }
    const w = opts.smooth ?? 1;
    return { name, x, y: movingAverage(mean, w), std: ys.length > 1 ? movingAverage(std, w) : undefined };
  });
  return lineChart({
    series,
    xLabel: xKey === 'evalStep' ? 'Training step (evaluation points)' : 'Training step',
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
        `reasoning, ${describeRuns(data)}. Each row changes one setting of R²ec. Best per metric column in bold, second underlined.`,
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

// ---------------------------------------------------------------------------------------------------------------
// Efficiency (Table 4)

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
        `(batch 1). Requests = timed test requests (pooled over seeds).`,
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

// ---------------------------------------------------------------------------------------------------------------
// Reasoning behaviours (section 05)

export interface TextSample {
  dataset: string;
  method: string;
  sampleIndex: number;
  user: number;
  text: string;
  tokens: number;
}

/**
 * Up to `perDataset` test reasoning texts per dataset and method (first seed), a seeded sample of the texts the run
 * kept (eval.keepTexts), in test order. Fewer when fewer were kept (the caller reports the count).
 */
export function reasoningTexts(data: DatasetRuns[], methods: string[], perDataset: number, seed: number): TextSample[] {
  if (!Number.isInteger(perDataset) || perDataset < 1) throw new ConfigError('textsPerDataset', `must be an integer ≥ 1, got ${perDataset}`);
  const out: TextSample[] = [];
  for (const d of data) {
    for (const method of methods) {
      const m = methodOverSeeds(d, method)[0];
      const texts = m.texts ?? [];
      const idx = texts.map((_, i) => i);
      const rng = makeRng(hashSeed(seed, 'behavior-texts', d.dataset, method));
      for (let i = 0; i < Math.min(perDataset, idx.length); i++) {
        const j = i + rng.int(idx.length - i);
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      const picked = idx.slice(0, Math.min(perDataset, idx.length)).sort((a, b) => a - b);
      for (const i of picked) out.push({ dataset: d.dataset, method, ...texts[i] });
    }
  }
  return out;
}

/** Group of a text for the behaviour tables: its dataset, or "dataset · method" when texts come from several methods. */
export function behaviorGroupOf(texts: TextSample[]): (id: string) => string {
  const several = new Set(texts.map((t) => t.method)).size > 1;
  const map = new Map(texts.map((t) => [textId(t), several ? `${t.dataset} · ${t.method}` : t.dataset]));
  return (id: string) => {
    const g = map.get(id);
    if (g === undefined) throw new R2ecError(`behaviour group: unknown text id "${id}"`);
    return g;
  };
}

export function textId(t: Pick<TextSample, 'dataset' | 'method' | 'sampleIndex'>): string {
  return `${t.dataset}/${t.method}/${t.sampleIndex}`;
}

/**
 * Tagger inputs: the reasoning text plus what the prompt showed (spec §2): the last `promptHistory` history items'
 * titles, their ratings (when the dataset has ratings) and their categories/brands.
 */
export function behaviorInputs(data: DatasetRuns[], texts: TextSample[]): TagInput[] {
  return texts.map((t) => {
    const d = data.find((x) => x.dataset === t.dataset);
    if (!d) throw new R2ecError(`behaviorInputs: no runs for dataset "${t.dataset}"`);
    const input: TagInput = { id: textId(t), reasoning: t.text };
    const ds = d.data;
    if (!ds) return input;
    const sample = ds.samples.test.find((s) => s.index === t.sampleIndex);
    if (!sample) throw new R2ecError(`behaviorInputs: ${t.dataset} has no test sample with index ${t.sampleIndex}`);
    const cfg = methodOverSeeds(d, t.method)[0].config as { promptHistory?: number } | undefined;
    const h = cfg?.promptHistory ?? sample.history.length;
    const hist = h > 0 ? sample.history.slice(-h) : sample.history;
    input.historyTitles = hist.map((x) => ds.items[x.item].title);
    if (hist.every((x) => Number.isFinite(x.rating) && x.rating > 0)) input.historyRatings = hist.map((x) => x.rating);
    input.historyAttributes = hist.flatMap((x) => [...(ds.items[x.item].categories ?? []), ...(ds.items[x.item].brand ? [ds.items[x.item].brand!] : [])]);
    return input;
  });
}

export interface LabelSource {
  name: string;
  results: TagResult[];
}

/**
 * Share (%) of texts showing each behaviour, one row per behaviour, a column group per text group (dataset, or
 * dataset · method) and a column per label source. Texts a source could not label are left out of its n (counted).
 */
export function behaviorSharesTable(
  sources: LabelSource[],
  groupOf: (id: string) => string,
  opts: { name?: string; label?: string; describe?: string } = {},
): { table: SectionTable; long: Row[] } {
  if (sources.length === 0) throw new R2ecError('behaviorSharesTable: no label source');
  const groups: string[] = [];
  for (const r of sources[0].results) if (!groups.includes(groupOf(r.id))) groups.push(groupOf(r.id));
  const rows: Row[] = BEHAVIORS.map((b) => ({ behavior: b.id, Behaviour: b.label }));
  const columns: ColumnSpec[] = [{ key: 'Behaviour' }];
  const colGroups: ColumnGroup[] = [];
  const long: Row[] = [];
  const ns: string[] = [];
  for (const g of groups) {
    const keys = sources.map((s) => `${g} ${s.name}`);
    for (const s of sources) {
      const shares = behaviorShares(s.results.filter((r) => groupOf(r.id) === g));
      const n = shares[0]?.n ?? 0;
      const unl = shares[0]?.unlabeled ?? 0;
      ns.push(`${g} ${s.name}: n=${n} texts${unl ? ` (+${unl} the source could not label)` : ''}`);
      columns.push({ key: `${g} ${s.name}`, label: `${s.name} (%)`, decimals: 1 });
      for (const sh of shares) {
        const row = rows.find((r) => r.behavior === sh.behavior)!;
        row[`${g} ${s.name}`] = sh.share === null ? null : 100 * sh.share;
        long.push({ group: g, source: s.name, behavior: sh.behavior, label: sh.label, count: sh.count, n: sh.n, share: sh.share, unlabeled: sh.unlabeled });
      }
    }
    colGroups.push({ label: g, keys });
  }
  return {
    long,
    table: {
      name: opts.name ?? 'behavior-shares',
      rows,
      groups: colGroups,
      options: {
        columns,
        label: opts.label,
        caption:
          `Share of reasoning texts showing each behaviour (%)${opts.describe ? `, ${opts.describe}` : ''}; ${ns.join('; ')}. ` +
          `A text can show several behaviours.`,
      },
    },
  };
}

/** Grouped bars: behaviours along x, a bar per text group (first source, or the named one). */
export function behaviorFigure(long: Row[], source?: string): Figure {
  const src = source ?? String(long[0]?.source ?? '');
  const rows = long.filter((r) => r.source === src);
  const groups: string[] = [];
  for (const r of rows) if (!groups.includes(String(r.group))) groups.push(String(r.group));
  return groupedBarChart({
    categories: BEHAVIORS.map((b) => b.label),
    series: groups.map((g) => ({
      name: g,
      values: BEHAVIORS.map((b) => {
        const r = rows.find((x) => x.group === g && x.behavior === b.id);
        return r && typeof r.share === 'number' ? 100 * r.share : NaN;
      }),
    })),
    xLabel: 'Behaviour',
    yLabel: `Texts showing it (%, ${src})`,
    layout: { xaxis: { tickangle: -30 } },
  });
}

/** Human label sources: every annotated*.csv in `dir` (a copy of the annotation template filled in by a person). */
export function humanLabelSources(dir: string): { sources: LabelSource[]; notes: string[] } {
  if (!existsSync(dir)) return { sources: [], notes: [] };
  const sources: LabelSource[] = [];
  const notes: string[] = [];
  for (const f of readdirSync(dir).filter((x) => /^annotated.*\.csv$/i.test(x)).sort()) {
    const read = readAnnotationCsv(path.join(dir, f));
    sources.push({ name: `human:${f.replace(/\.csv$/i, '')}`, results: read.results });
    notes.push(`${f}: ${read.results.length} annotated row(s), ${read.unannotated.length} not annotated yet`);
  }
  return { sources, notes };
}

/**
 * Cohen's kappa per behaviour for every pair of label sources (joined by text id). A pair without common labelled
 * texts is reported in `problems`, not thrown. Undefined table when fewer than two sources could be compared.
 */
export function kappaTable(sources: LabelSource[], opts: { name?: string; label?: string } = {}): { table?: SectionTable; pairs: AgreementTable[]; problems: string[] } {
  const pairs: AgreementTable[] = [];
  const problems: string[] = [];
  for (let i = 0; i < sources.length; i++) {
    for (let j = i + 1; j < sources.length; j++) {
      try {
        pairs.push(agreementTable(sources[i].results, sources[j].results, { nameA: sources[i].name, nameB: sources[j].name }));
      } catch (e) {
        problems.push(`${sources[i].name} vs ${sources[j].name}: ${(e as Error).message}`);
      }
    }
  }
  if (pairs.length === 0) return { pairs, problems };
  const rows: Row[] = [...BEHAVIORS.map((b) => ({ Behaviour: b.label } as Row)), { Behaviour: 'mean' }];
  const columns: ColumnSpec[] = [{ key: 'Behaviour' }];
  for (const p of pairs) {
    const key = `${p.nameA} vs ${p.nameB}`;
    columns.push({ key, label: `${key} (n=${p.n})`, decimals: 3 });
    p.rows.forEach((r, i) => (rows[i][key] = r.kappa));
    rows[rows.length - 1][key] = p.meanKappa;
  }
  return {
    pairs,
    problems,
    table: {
      name: opts.name ?? 'kappa',
      rows,
      options: {
        columns,
        label: opts.label,
        caption:
          "Cohen's kappa between label sources per behaviour (n = texts labelled by both). " +
          pairs.map((p) => `${p.nameA} vs ${p.nameB}: ${p.skipped.onlyInA.length + p.skipped.onlyInB.length} text(s) in one source only, ${p.skipped.nullInA.length + p.skipped.nullInB.length} unlabelled`).join('; ') + '.',
      },
    },
  };
}

/** One row per text and source: ids, dataset, method, length, the seven 0/1 labels and the evidence. */
export function tagRows(texts: TextSample[], sources: LabelSource[]): Row[] {
  const out: Row[] = [];
  for (const s of sources) {
    const byId = new Map(s.results.map((r) => [r.id, r]));
    for (const t of texts) {
      const r = byId.get(textId(t));
      if (!r) continue;
      const row: Row = { id: textId(t), source: s.name, dataset: t.dataset, method: t.method, sampleIndex: t.sampleIndex, tokens: t.tokens };
      for (const b of BEHAVIOR_IDS) row[b] = r.labels ? (r.labels[b] ? 1 : 0) : null;
      row.evidence = BEHAVIOR_IDS.filter((b) => r.evidence[b]?.length).map((b) => `${b}: ${r.evidence[b]!.join(' | ')}`).join('; ');
      row.error = r.error ?? '';
      out.push(row);
    }
  }
  return out;
}

/** Markdown: k seeded example texts per behaviour with the evidence in bold (behaviours without texts say so). */
export function examplesMarkdown(results: TagResult[], inputs: TagInput[], k: number, seed: number, source = 'rules'): string {
  const ex = examplesPerBehavior(results, inputs, k, seed);
  const parts: string[] = [`# Example reasoning texts per behaviour (${source})`, ''];
  for (const b of BEHAVIORS) {
    parts.push(`## ${b.label}`, '', `_${b.definition}_`, '');
    if (ex[b.id].length === 0) parts.push('(no text shows this behaviour)', '');
    for (const e of ex[b.id]) parts.push(`**${e.id}** — evidence: ${e.evidence.length ? e.evidence.join(', ') : '–'}`, '', `> ${e.markdown.replace(/\n/g, '\n> ')}`, '');
  }
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Writing a section and the results index

export interface SectionOutput {
  /** the section id = notebook name = results folder, e.g. '01-main-results' */
  section: string;
  tables: SectionTable[];
  figures: { name: string; figure: Figure }[];
  /** extra files (tidy CSVs, Markdown) written as given */
  files?: { name: string; content: string }[];
  /** the notebook's settings (must include profile) */
  config: Record<string, unknown>;
  /** the experiment runs behind the section (for backend, data provenance and the experiment manifests) */
  runs?: Run[];
  /** anything else worth recording (e.g. tagger statistics) */
  extra?: Record<string, unknown>;
  /** Date.now() at the start of the notebook, for the wall time */
  startedAt: number;
}

/** backend, seeds, data provenance and the experiment manifests of a list of runs. */
export function runsManifest(runs: Run[]): Record<string, unknown> {
  const backends = [...new Set(runs.map((r) => String(r.result.manifest.backend ?? 'unknown')))];
  const data: Record<string, unknown> = {};
  for (const r of runs) {
    const p = r.result.dataset.provenance;
    data[r.dataset] = { synthetic: p.synthetic, source: p.source, key: p.key, options: p.options, files: p.files, dropped: p.dropped, notes: p.notes };
  }
  return {
    backend: backends.join(', '),
    seed: [...new Set(runs.map((r) => r.seed))],
    data,
    experiments: runs.map((r) => ({
      dataset: r.dataset,
      seed: r.seed,
      outDir: r.result.outDir,
      createdAt: r.result.manifest.createdAt,
      evaluation: r.result.manifest.evaluation,
      durationsSec: r.result.manifest.durationsSec,
      methods: r.result.methods.map((m) => ({ name: m.name, kind: m.kind, configHash: m.configHash, trainSec: m.trainSec, evalSec: m.evalSec })),
    })),
    host: runs[0]?.result.manifest.host,
  };
}

/** Write the section's tables (CSV/MD/TeX), figures (SVG/PNG), extra files and manifest.json; returns the files. */
export async function writeSection(dir: string, out: SectionOutput): Promise<{ written: string[]; figuresSkipped?: string; manifestFile: string }> {
  if (typeof out.config.profile !== 'string') throw new R2ecError('writeSection: config.profile is missing');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const t of out.tables) written.push(...writeSectionTable(dir, t));
  for (const f of out.files ?? []) {
    if (!/^[\w.@-]+$/.test(f.name)) throw new R2ecError(`writeSection: file name "${f.name}" must be a plain file name`);
    const file = path.join(dir, f.name);
    writeFileSync(file, f.content);
    written.push(file);
  }
  const figs = await exportFigures(out.figures, dir);
  written.push(...figs.written);
  const manifest = makeManifest({
    section: out.section,
    title: SECTIONS[out.section] ?? out.section,
    notebook: `notebooks/${out.section}.ipynb`,
    config: out.config,
    ...(out.runs ? runsManifest(out.runs) : {}),
    ...(out.extra ?? {}),
    outputs: written.map((f) => path.relative(dir, f)),
    figuresSkipped: figs.skipped,
    durationsSec: { total: (Date.now() - out.startedAt) / 1000 },
  });
  const manifestFile = path.join(dir, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  return { written, figuresSkipped: figs.skipped, manifestFile };
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * results/README.md: the latest run of every section (results/<section>/manifest.json: what, when, profile, backend,
 * datasets, commit, wall time) and of every experiment folder (results/<experiment>/<dataset>/manifest.json).
 * Unreadable manifests are listed, not skipped silently.
 */
export function writeResultsIndex(root = resultsRoot()): string {
  const sections: Row[] = [];
  const experiments: Row[] = [];
  const broken: string[] = [];
  const dirs = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
  const commitOf = (m: Record<string, unknown>) => `${String(m.commit ?? 'unknown').slice(0, 10)}${m.dirty ? ' (dirty)' : ''}`;
  for (const name of dirs) {
    const file = path.join(root, name, 'manifest.json');
    if (existsSync(file)) {
      const m = readJson(file);
      if (!m) {
        broken.push(path.relative(root, file));
        continue;
      }
      const cfg = (m.config ?? {}) as Record<string, unknown>;
      const ds = cfg.datasets ?? cfg.dataset;
      const total = (m.durationsSec as Record<string, number> | undefined)?.total;
      sections.push({
        Section: `[${name}](${name}/)`,
        What: String(m.title ?? SECTIONS[name] ?? m.notebook ?? name),
        When: String(m.createdAt ?? ''),
        Profile: String(cfg.profile ?? ''),
        Backend: String(m.backend ?? ''),
        Datasets: Array.isArray(ds) ? ds.join(', ') : String(ds ?? ''),
        Commit: commitOf(m),
        'Wall time (s)': typeof total === 'number' ? Math.round(total) : null,
      });
      continue;
    }
    for (const sub of readdirSync(path.join(root, name), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      const f = path.join(root, name, sub, 'manifest.json');
      if (!existsSync(f)) continue;
      const m = readJson(f);
      if (!m) {
        broken.push(path.relative(root, f));
        continue;
      }
      const cfg = (m.config ?? {}) as Record<string, unknown>;
      const ev = (m.evaluation ?? {}) as Record<string, unknown>;
      // wall time of the work itself: the LM and every method as trained (a rerun that reuses finished methods
      // takes ~0 s but keeps their original durations)
      const ds = (m.durationsSec ?? {}) as Record<string, number>;
      const parts = Object.entries(ds).filter(([k, v]) => k !== 'total' && typeof v === 'number');
      const total = parts.length ? parts.reduce((a, [, v]) => a + v, 0) : ds.total;
      experiments.push({
        Experiment: `[${name}/${sub}](${name}/${sub}/)`,
        Methods: Array.isArray(cfg.methods) ? (cfg.methods as { name: string }[]).map((x) => x.name).join(', ') : '',
        When: String(m.createdAt ?? ''),
        Profile: String(cfg.profile ?? ''),
        Backend: String(m.backend ?? ''),
        'Test samples': typeof ev.testSamples === 'number' ? ev.testSamples : null,
        Commit: commitOf(m),
        'Wall time (s)': typeof total === 'number' ? Math.round(total) : null,
      });
    }
  }
  const lines = [
    '# Results',
    '',
    `Generated by \`writeResultsIndex()\` (lib/report/paper.ts) at the end of every notebook, from the manifest.json files under this folder; do not edit by hand. Updated ${new Date().toISOString()}.`,
    '',
    '## Sections (notebooks)',
    '',
    sections.length ? toMarkdown(sections).trim() : '(none yet)',
    '',
    '## Experiment runs (results/<experiment>/<dataset>/)',
    '',
    experiments.length ? toMarkdown(experiments).trim() : '(none yet)',
    '',
  ];
  if (broken.length) lines.push('## Unreadable manifests', '', ...broken.map((b) => `- ${b}`), '');
  mkdirSync(root, { recursive: true });
  const file = path.join(root, 'README.md');
  writeFileSync(file, lines.join('\n'));
  return file;
}

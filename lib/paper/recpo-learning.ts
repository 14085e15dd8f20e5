// Section 07: does RecPO learn? Every RecPO budget run kept under one folder (results/recpo-budget/<run>/: the
// run's manifest.json and methods/*.json, as `npx r2ec run main -o` writes them) in one table — its start, its
// settings, valid NDCG@10 at step 0 and at the kept checkpoint with the paired test, test NDCG@10 against its start
// and against a reference (the shipped backbone as it is) paired by sample — and its valid curve against samples
// seen. Every number is computed from the stored per-sample ranks and curves, none is typed in.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MethodResult } from '../experiment/run';
import type { RecCurves } from '../train/recpo/loop';
import type { RecPOConfig } from '../train/recpo/config';
import { pairedComparison, type PairedTTest } from '../eval/stats';
import { lineChart, type Figure } from '../report/figures';
import type { ColumnSpec, Row } from '../report/table';
import { R2ecError } from '../util/errors';
import type { SectionTable } from './section';

/** One method result of a budget folder, with what the table needs from its manifest. */
export interface BudgetRun {
  /** folder name (with the method name when a folder holds several) */
  name: string;
  folder: string;
  method: MethodResult;
  /** the backbone it started from: a backbone folder's name, "shipped", or the backbone key */
  start: string;
  /** backbone key + checkpoint (best/latest) and the title mode: runs with equal ones start from the same model */
  startKey: string;
  /** RecPO steps trained (0: the start evaluated as it is) */
  steps: number;
  validSamples: number;
  /** from the run's manifest: what made it */
  made: { backend?: string; commit?: string; createdAt?: string; data?: unknown; outDir: string };
}

export interface BudgetRuns {
  runs: BudgetRun[];
  /** folders that hold neither a method result nor a backbone manifest, with why */
  skipped: string[];
}

const readJson = (file: string): unknown => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new R2ecError(`${file}: not readable JSON (${(e as Error).message})`);
  }
};

type Manifest = {
  kind?: string;
  key?: string;
  backbone?: { source?: string; key?: string; checkpoint?: string };
  evaluation?: { validSamples?: number };
  backend?: string;
  commit?: string;
  createdAt?: string;
  data?: unknown;
};

/** Load every method result under `dir` (one folder per run); backbone folders only name the starts. */
export function loadBudgetRuns(dir: string): BudgetRuns {
  if (!existsSync(dir)) throw new R2ecError(`${dir}: no such folder of RecPO budget runs`);
  const folders = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const backboneNames = new Map<string, string>();
  const skipped: string[] = [];
  const found: { folder: string; manifest: Manifest; methods: MethodResult[] }[] = [];
  for (const folder of folders) {
    const mf = path.join(dir, folder, 'manifest.json');
    if (!existsSync(mf)) {
      skipped.push(`${folder} (no manifest.json)`);
      continue;
    }
    const manifest = readJson(mf) as Manifest;
    if (manifest.kind === 'r2ec-backbone' && manifest.key) {
      backboneNames.set(manifest.key, folder);
      continue;
    }
    const mdir = path.join(dir, folder, 'methods');
    const files = existsSync(mdir) ? readdirSync(mdir).filter((f) => f.endsWith('.json')).sort() : [];
    if (files.length === 0) {
      skipped.push(`${folder} (no methods/*.json)`);
      continue;
    }
    found.push({ folder, manifest, methods: files.map((f) => readJson(path.join(mdir, f)) as MethodResult) });
  }
  const runs: BudgetRun[] = [];
  for (const { folder, manifest, methods } of found) {
    const b = manifest.backbone ?? {};
    const key = (b.key ?? '').slice(0, 16);
    const ckpt = /\/(best|latest)$/.exec(b.checkpoint ?? '')?.[1];
    const start = b.source === 'shipped' ? 'shipped' : `${backboneNames.get(key) ?? key}${ckpt ? ` ${ckpt}` : ''}`;
    for (const m of methods) {
      const rc = m.config as Partial<RecPOConfig> | undefined;
      const curves = m.curves as Partial<RecCurves> | undefined;
      const lmMethod = m.kind === 'zero-shot' || m.kind === 'r2ec' || m.kind === 'no-reasoning';
      if (!lmMethod) continue;
      const steps = m.kind === 'zero-shot' ? 0 : Math.max(0, ...(curves?.evalStep ?? [0]));
      runs.push({
        name: methods.length > 1 ? `${folder} (${m.name})` : folder,
        folder,
        method: m,
        start,
        startKey: `${key}/${ckpt ?? ''}/${m.kind === 'no-reasoning' ? 'direct' : titlesOf(rc)}`,
        steps,
        validSamples: m.valid.n,
        made: { backend: manifest.backend, commit: m.commit ?? manifest.commit, createdAt: manifest.createdAt, data: manifest.data, outDir: path.join(dir, folder) },
      });
    }
  }
  return { runs, skipped };
}

/** The title mode of a RecPO config ('free' when unset; runs made before the modes had names wrote true for 'catalog'). */
function titlesOf(r: Partial<RecPOConfig> | undefined): string {
  const t = r?.nextTitles as unknown;
  return t === true ? 'catalog' : typeof t === 'string' ? t : 'free';
}

/** The paired test of two stored evaluations when they cover the same samples, else undefined. */
function pairedIfSame(a: MethodResult['test'], b: MethodResult['test'] | undefined): PairedTTest | undefined {
  if (!b || a.n !== b.n) return undefined;
  const ia = a.sampleIndex;
  const ib = new Set(b.sampleIndex);
  if (ia.some((i) => !ib.has(i))) return undefined;
  return pairedComparison(a, b, 'NDCG@10');
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4).replace(/^0/, '')}`;
const pText = (p: number) => (p < 1e-3 ? p.toExponential(0) : p.toFixed(p < 0.01 ? 3 : 2)).replace(/^0/, '');
/** "+.0014 (p = .43)" */
export function diffText(t: PairedTTest | undefined): string {
  return t ? `${signed(t.meanDiff)} (p = ${pText(t.p)})` : '–';
}

/** The RecPO settings that tell budget runs apart, in a few words. */
export function settingsText(m: MethodResult, steps: number): string {
  const r = m.config as Partial<RecPOConfig> | undefined;
  const titles = titlesOf(r);
  const named = titles === 'free' ? '' : `, Next: ${titles} titles`;
  if (m.kind === 'zero-shot' || steps === 0) return `as it is${m.kind === 'no-reasoning' ? ', right after the prompt' : named}`;
  if (!r?.optimizer) return '–';
  const lr = r.optimizer.lr;
  const parts = [`lr ${lr < 1e-3 ? lr.toExponential().replace(/e-0*/, 'e-') : lr}`];
  if (r.klCoef) parts.push(`KL ${r.klCoef}`);
  if (r.itemWeight !== undefined && r.itemWeight !== 1) parts.push(`item term ×${r.itemWeight}`);
  if (titles !== 'free') parts.push(`Next: ${titles} titles`);
  if (m.kind === 'no-reasoning') parts.push(`${r.usersPerStep} users`);
  else {
    parts.push(`${r.usersPerStep} users × G ${r.groupSize}`);
    if (r.rollout) parts.push(`T ${r.rollout.temperature} / top-${r.rollout.topK}`);
  }
  return parts.join(', ');
}

/**
 * One row per budget run: start, settings, steps, valid NDCG@10 at step 0 and at the kept checkpoint (paired), test
 * NDCG@10 and its paired difference to the run's start (a 0-step run of the same start, title mode and test samples)
 * and to `reference` (e.g. the shipped backbone as it is on the whole test split).
 */
export function budgetRunsTable(data: BudgetRuns, reference?: { name: string; result: MethodResult }): SectionTable {
  const starts = data.runs.filter((r) => r.steps === 0);
  const rows: Row[] = data.runs.map((r) => {
    const m = r.method;
    const curves = m.curves as Partial<RecCurves> | undefined;
    const at0 = curves?.evalStep?.indexOf(0) ?? -1;
    const valid0 = at0 >= 0 ? curves!.validNdcg10![at0] : r.steps === 0 ? m.valid.metrics['NDCG@10'] : undefined;
    // the run's start: a 0-step run of the same backbone and title mode, on the same test samples
    let vsStart: PairedTTest | undefined;
    for (const s of r.steps > 0 ? starts : []) if (!vsStart && s.startKey === r.startKey) vsStart = pairedIfSame(m.test, s.method.test);
    return {
      Run: r.name,
      Start: r.start,
      Settings: settingsText(m, r.steps),
      Steps: r.steps,
      'valid n': m.valid.n,
      'valid step 0': valid0 ?? null,
      Kept: m.bestStep ?? 0,
      'valid kept': m.valid.metrics['NDCG@10'],
      'valid kept − step 0': m.validGain ? diffText(m.validGain) : '–',
      'test n': m.test.n,
      'test NDCG@10': m.test.metrics['NDCG@10'],
      'test − start': diffText(vsStart),
      [`test − ${reference?.name ?? 'reference'}`]: reference && m !== reference.result ? diffText(pairedIfSame(m.test, reference.result.test)) : '–',
    };
  });
  const keys = Object.keys(rows[0] ?? { Run: '' });
  const columns: ColumnSpec[] = keys.map((key) => ({ key, decimals: /NDCG|valid (step 0|kept)$/.test(key) ? 4 : undefined }));
  return {
    name: 'recpo-runs',
    rows,
    options: {
      columns,
      decimals: 4,
      caption:
        'RecPO budget runs: valid NDCG@10 at step 0 and at the kept checkpoint (chosen on valid; paired by sample, two-sided t-test), ' +
        'test NDCG@10 and its paired difference to the run\'s start (the same backbone and title mode evaluated as it is on the same test samples) ' +
        `${reference ? `and to ${reference.name} ` : ''}where both cover the same samples. Full ranking over the catalog, history masked, ties against the target.`,
    },
  };
}

/** Valid NDCG@10 minus its step-0 value against samples seen (steps × users per step), one line per run. */
export function validCurvesFigure(runs: BudgetRun[], opts: { title?: string } = {}): Figure {
  const series = runs
    .filter((r) => r.steps > 0)
    .map((r) => {
      const c = r.method.curves as RecCurves;
      const users = (r.method.config as RecPOConfig).usersPerStep;
      const at0 = c.evalStep.indexOf(0);
      const base = at0 >= 0 ? c.validNdcg10[at0] : c.validNdcg10[0];
      return { name: r.name, x: c.evalStep.map((s) => s * users), y: c.validNdcg10.map((v) => v - base) };
    });
  if (series.length === 0) throw new R2ecError('validCurvesFigure: no run with RecPO steps');
  return lineChart({ series, xLabel: 'Samples seen (users)', yLabel: 'Valid NDCG@10 − step 0', title: opts.title });
}

/** The provenance of the runs behind the section, for its manifest: backends, datasets (as each run recorded them), runs. */
export function budgetManifest(data: BudgetRuns): Record<string, unknown> {
  const datasets: Record<string, unknown> = {};
  for (const r of data.runs) {
    const d = r.made.data as { name?: string } | undefined;
    if (d?.name && !(d.name in datasets)) datasets[d.name] = d;
  }
  return {
    backend: [...new Set(data.runs.map((r) => r.made.backend ?? 'unknown'))].join(', '),
    data: datasets,
    budgetRuns: data.runs.map((r) => ({ name: r.name, folder: r.made.outDir, commit: r.made.commit, createdAt: r.made.createdAt, configHash: r.method.configHash })),
    skipped: data.skipped,
  };
}

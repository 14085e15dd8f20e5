// runExperiment: the one experiment API the CLI and the notebooks call. Data → language model (tokenizer + warm-up,
// shared by the LM methods) → every method trained and evaluated on the same valid/test samples → one results
// folder: metrics table (CSV/Markdown/LaTeX), per-method JSON (metrics, segments, per-sample ranks, curves, texts,
// latency), and a manifest (config, seed, backend, data provenance, commit, durations).
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../data/registry';
import type { Dataset, Sample } from '../data/types';
import { initBackend, backendName } from '../model/backend';
import { evaluateRanking, type EvalResult } from '../eval/evaluate';
import { pairedComparison } from '../eval/stats';
import { DEFAULT_KS } from '../eval/metrics';
import { timeRequests } from '../eval/latency';
import { trainBaseline } from '../baselines/index';
import { recpoWorld, runRecPO } from '../train/recpo/worker';
import type { RecCurves, RecResult } from '../train/recpo/loop';
import type { RecPOConfig } from '../train/recpo/config';
import { defaultWorld } from '../train/parallel';
import { writeTable, type Row } from '../report/table';
import { makeManifest, gitInfo } from '../util/manifest';
import { sha256, stableStringify } from '../util/hash';
import { hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { R2ecError } from '../util/errors';
import {
  applyOverrides, isBaseline, isLMMethod, methodRecConfig, validateExperimentConfig, type ExperimentConfig, type MethodSpec,
} from './config';
import { backboneShapingConfig, prepareBackbone, type PreparedBackbone } from './backbone';
import { evalSubset } from '../eval/subsets';

export const metricColumns = (ks: number[] = DEFAULT_KS) => ks.flatMap((k) => [`HR@${k}`, `NDCG@${k}`]);

/**
 * Part of every method's cache key: bump it when code changes the numbers a finished result holds (v2: baselines
 * early-stop on the experiment's valid subset, the key covers the evaluation settings, backend and ranks).
 */
export const PROTOCOL_VERSION = 2;

/** How every method of an experiment selects its checkpoint / epoch (for captions and manifests). */
export function selectionNote(validSamples: number, ofValid: number): string {
  return (
    `every method selects its checkpoint (LM methods) or early-stopping epoch (neural baselines) on valid NDCG@10 over ` +
    `the same ${validSamples === ofValid ? `${validSamples} valid samples (the whole split)` : `seeded subset of ${validSamples} of ${ofValid} valid samples`}`
  );
}

/** Ranking convention, for captions: a tie in scores counts against the target (metrics.ts 'pessimistic'). */
export const TIES_NOTE = 'ties in scores count against the target (pessimistic ranking)';

/** What is kept of an evaluation: JSON-safe (unrankable = null rank). */
export interface StoredEval {
  metrics: Record<string, number>;
  n: number;
  segments: EvalResult['segments'];
  repeatTargets: number;
  ranks: (number | null)[];
  sampleIndex: number[];
}

export interface MethodResult {
  name: string;
  kind: string;
  valid: StoredEval;
  test: StoredEval;
  trainSec: number;
  evalSec: number;
  /** RecPO curves or baseline epoch curves */
  curves: RecCurves | unknown;
  bestStep?: number;
  texts?: RecResult['texts'];
  meanReasoningTokens?: number;
  /** LM methods: the kept checkpoint against step 0 on valid NDCG@10, paired by sample (RecResult.validGain) */
  validGain?: RecResult['validGain'];
  /** LM methods: mean pairwise cosine of test user vectors, items, users × items (collapse → 1) */
  readout?: RecResult['readout'];
  latency?: RecResult['latency'];
  /** batched test evaluation: samples per second */
  throughput?: { samplesPerSec: number; batchSize: number };
  /** wall time of this method when it was trained (kept when the result is reused) */
  durationSec?: number;
  /** git commit (and dirty flag) of the code that trained it */
  commit?: string;
  configHash: string;
  config: unknown;
}

export interface ExperimentResult {
  config: ExperimentConfig;
  dataset: Dataset;
  outDir: string;
  methods: MethodResult[];
  /** table rows: one per method (test metrics, relative improvement, significance) */
  table: ResultTable;
  /** the backbone every LM method started from (tokenizer, warm-up, retrieval alignment) */
  lm?: PreparedBackbone;
  manifest: Record<string, unknown>;
}

export interface ExperimentHooks {
  log?: (msg: string) => void;
  onLMStep?: (info: { step: number; steps: number; loss: number }) => void;
  onBackboneStep?: (info: { step: number; steps: number; loss: number; lmLoss: number; samplesPerSec: number; tensors: number }) => void;
  onRecStep?: (method: string, info: { step: number; steps: number; reward: number; groupStd: number; length: number }) => void;
  onMethodDone?: (m: MethodResult) => void;
}

function store(r: EvalResult): StoredEval {
  return {
    metrics: r.metrics,
    n: r.n,
    segments: r.segments,
    repeatTargets: r.repeatTargets,
    ranks: Array.from(r.ranks, (x) => (Number.isFinite(x) ? x : null)),
    sampleIndex: Array.from(r.sampleIndex),
  };
}

export function storedRanks(e: StoredEval): Float64Array {
  return Float64Array.from(e.ranks, (x) => (x === null ? Infinity : x));
}

export { evalSubset };

/** A method's RecPO config as keyed: fields added later are hashed only when they differ from the behaviour before
 *  them, so finished results stay reusable (a changed value still changes the key). */
function keyedRecConfig(rec: RecPOConfig): Omit<RecPOConfig, 'itemWeight'> & { itemWeight?: number } {
  const { itemWeight, ...rest } = rec;
  return itemWeight === 1 ? rest : { ...rest, itemWeight };
}

export function slug(name: string): string {
  return name.normalize('NFKD').replace(/[^\w.-]+/g, '_').replace(/^_+|_+$/g, '') || 'method';
}

/**
 * Train a baseline through the BASELINES registry, early-stopping on the experiment's valid subset (the samples every
 * method selects on), then evaluate valid + test and time `eval.latencyRequests` requests at batch 1.
 */
async function runBaseline(ds: Dataset, cfg: ExperimentConfig, m: MethodSpec, valid: Sample[], test: Sample[]): Promise<MethodResult> {
  const local = applyOverrides(cfg, m.set ?? {});
  if (!isBaseline(m.kind)) throw new R2ecError(`${m.name}: ${m.kind} is not a baseline`);
  const section = m.kind === 'popularity' ? undefined : (local[m.kind] as Record<string, unknown>);
  const evalOpts = { ks: local.eval.ks, maskHistory: local.eval.maskHistory };
  const t0 = performance.now();
  const trained = await trainBaseline(m.kind, ds, section, undefined, { valid, maskHistory: evalOpts.maskHistory });
  const trainSec = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const v = await evaluateRanking(ds, valid, trained.scorer, evalOpts);
  const tTest = performance.now();
  const t = await evaluateRanking(ds, test, trained.scorer, evalOpts);
  const testSec = (performance.now() - tTest) / 1000;
  const evalSec = (performance.now() - t1) / 1000;
  // latency per request at batch 1 (score the whole catalog for one user), as for the LM methods
  const reqs = test.slice(0, local.eval.latencyRequests);
  const latency = reqs.length === 0 ? undefined : await timeRequests(reqs, async (s) => {
    const out = await trained.scorer([s]);
    if (!Array.isArray(out)) {
      out.dataSync();
      out.dispose();
    }
    return 0;
  });
  const result: MethodResult = {
    name: m.name, kind: m.kind, valid: store(v), test: store(t), trainSec, evalSec, curves: trained.curves,
    bestStep: trained.bestEpoch, configHash: '', config: trained.config, latency,
    throughput: { samplesPerSec: test.length / Math.max(testSec, 1e-9), batchSize: 256 },
  };
  trained.dispose();
  return result;
}

/** Relative improvement (%) of `a` over `b`; null when b is 0. */
const improvement = (a: number, b: number) => (b > 0 ? (100 * (a - b)) / b : null);

export interface ResultTable {
  /** one row per method: test metrics, valid NDCG@10, n */
  rows: Row[];
  /** R²ec vs the best other method per metric: relative improvement (%) and paired t-test p-value */
  comparison?: { metric: string; best: string; improvementPct: number | null; p: number }[];
  /** the method the comparison is about (the first R²ec-kind method) */
  reference?: string;
}

/**
 * Test metrics per method. For the first R²ec-kind method, each metric is compared with the best other method on
 * that metric: relative improvement and a paired two-sided t-test on the per-sample values (the paper's protocol).
 */
export function buildTable(methods: MethodResult[], ks: number[] = DEFAULT_KS): ResultTable {
  const METRIC_COLUMNS = metricColumns(ks);
  const rows: Row[] = methods.map((m) => {
    const row: Row = { Method: m.name };
    for (const k of METRIC_COLUMNS) row[k] = m.test.metrics[k];
    row['valid NDCG@10'] = m.valid.metrics['NDCG@10'];
    row.n = m.test.n;
    return row;
  });
  const ref = methods.find((m) => m.kind === 'r2ec');
  const others = methods.filter((m) => m !== ref);
  if (!ref || others.length === 0) return { rows };
  const comparison = METRIC_COLUMNS.map((metric) => {
    const best = others.reduce((a, b) => (b.test.metrics[metric] > a.test.metrics[metric] ? b : a));
    const tt = pairedComparison(ref.test, best.test, metric); // paired by sample index
    return { metric, best: best.name, improvementPct: improvement(ref.test.metrics[metric], best.test.metrics[metric]), p: tt.p };
  });
  return { rows, comparison, reference: ref.name };
}

function comparisonText(t: ResultTable): string {
  if (!t.comparison) return '';
  return (
    `${t.reference} vs the best other method per metric: ` +
    t.comparison
      .map((c) => `${c.metric} ${c.improvementPct === null ? 'n/a' : `${c.improvementPct >= 0 ? '+' : ''}${c.improvementPct.toFixed(1)}%`} vs ${c.best} (p=${c.p.toFixed(3)})`)
      .join('; ') +
    '. † on the reference row = better with p < 0.05 (paired two-sided t-test on per-sample values).'
  );
}

/** Write metrics.{csv,md,tex} with best/second marks and significance daggers on the reference row. */
export function writeResultTable(dir: string, name: string, t: ResultTable, caption: string, label: string, ks: number[] = DEFAULT_KS): void {
  const better = Object.fromEntries(metricColumns(ks).map((k) => [k, 'higher' as const]));
  const sig = new Map((t.comparison ?? []).map((c) => [c.metric, c.p < 0.05 && (c.improvementPct ?? 0) > 0]));
  writeTable(dir, name, t.rows, {
    caption,
    label,
    better: { ...better, 'valid NDCG@10': 'higher' },
    decimals: 4,
    marks: (row, col) => (row.Method === t.reference && sig.get(col) ? '†' : undefined),
    footnote: comparisonText(t),
  });
}

export async function runExperiment(cfgIn: ExperimentConfig, hooks: ExperimentHooks = {}): Promise<ExperimentResult> {
  const log = hooks.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  const tStart = performance.now();
  const cfg = structuredClone(cfgIn);
  await initBackend({ log: false });
  const ds = await loadDataset(cfg.dataset, cfg.datasetOptions as never);
  validateExperimentConfig(cfg, ds.items.length - 1); // the one pass: every section, every method's overrides, the catalog size
  const world = cfg.world > 0 ? cfg.world : defaultWorld();
  const outDir = path.join(cfg.resultsDir, cfg.experiment, cfg.dataset);
  fs.mkdirSync(path.join(outDir, 'methods'), { recursive: true });
  log(
    `experiment ${cfg.experiment} on ${cfg.dataset}${ds.provenance.synthetic ? ' (synthetic data)' : ''}, profile ${cfg.profile}, ` +
      `backend ${backendName()}, ${world} rank(s) → ${outDir}`,
  );
  const validIdx = evalSubset(ds.samples.valid.length, cfg.eval.validSamples, cfg.seed, 'valid');
  const testIdx = evalSubset(ds.samples.test.length, cfg.eval.testSamples, cfg.seed, 'test');
  const valid = validIdx.map((i) => ds.samples.valid[i]);
  const test = testIdx.map((i) => ds.samples.test[i]);
  const durations: Record<string, number> = {};
  // Every LM method starts from the backbone its own config shapes: methods that agree on backboneShapingConfig share
  // one; one that changes it (recpo.pooling in the pooling experiment, a prompt history, a model size) gets its own.
  // Prepared when a method first needs it (its key is part of the method's config hash).
  const backbones = new Map<string, PreparedBackbone>();
  const backboneFor = async (local: ExperimentConfig): Promise<PreparedBackbone> => {
    const shaping = stableStringify(backboneShapingConfig(local));
    const have = backbones.get(shaping);
    if (have) return have;
    const t0 = performance.now();
    const b = await prepareBackbone(ds, local, world, {
      log,
      onLMStep: (i) => hooks.onLMStep?.({ step: i.step, steps: i.steps, loss: i.loss }),
      onStep: (i) => hooks.onBackboneStep?.(i),
      onEval: (i) => log(`backbone: valid NDCG@10 ${i.direct.toFixed(4)} after the prompt, ${i.reasoning.toFixed(4)} after a reasoning, ${i.hindsight.toFixed(4)} after the hindsight Next: at step ${i.step}`),
    });
    durations.languageModel = (durations.languageModel ?? 0) + (performance.now() - t0) / 1000;
    backbones.set(shaping, b);
    return b;
  };
  /** each LM method's backbone key, for the manifest */
  const methodBackbones: Record<string, string> = {};
  const methods: MethodResult[] = [];
  const reused: string[] = [];
  for (const m of cfg.methods) {
    const file = path.join(outDir, 'methods', `${slug(m.name)}.json`);
    const local = applyOverrides(cfg, m.set ?? {});
    // every setting that changes a number of this method's result (its training config, the data, the evaluated
    // samples, the evaluation settings, the backend, and the ranks of an LM run), so a changed setting retrains it
    const common = { v: PROTOCOL_VERSION, validIdx, testIdx, eval: local.eval, backend: backendName() };
    const lm = isLMMethod(m.kind) ? await backboneFor(local) : undefined; // its time counts as languageModel's
    const t0 = performance.now();
    if (lm) methodBackbones[m.name] = lm.key;
    const hashInput = lm
      ? { ...common, rec: keyedRecConfig(methodRecConfig(cfg, m)), lm: lm.key, world: recpoWorld(world, methodRecConfig(cfg, m)) }
      : { ...common, kind: m.kind, config: m.kind === 'popularity' ? null : local[m.kind as 'sasrec' | 'gru4rec' | 'caser'], data: ds.provenance.key };
    const configHash = sha256(stableStringify(hashInput)).slice(0, 16);
    if (cfg.resume && fs.existsSync(file)) {
      const prev = JSON.parse(fs.readFileSync(file, 'utf8')) as MethodResult;
      if (prev.configHash === configHash) {
        log(`${m.name}: reusing finished result (${file})`);
        reused.push(m.name);
        durations[m.name] = prev.durationSec ?? 0; // the original wall time, not the ~0 s of reading it back
        methods.push(prev);
        hooks.onMethodDone?.(prev);
        continue;
      }
    }
    log(`${m.name}: training (${m.kind})`);
    let result: MethodResult;
    if (lm) {
      const rec = methodRecConfig(cfg, m);
      const workDir = path.join(outDir, 'checkpoints', `${slug(m.name)}-${configHash}`);
      const r = await runRecPO(
        {
          method: m.name,
          dataset: ds,
          tokenizer: lm.tokenizer,
          model: lm.model,
          initCheckpoint: lm.checkpoint,
          config: rec,
          validIdx,
          testIdx,
          workDir,
          latencyRequests: local.eval.latencyRequests,
          eval: { ks: local.eval.ks, maskHistory: local.eval.maskHistory },
          keepTexts: local.eval.keepTexts,
        },
        world,
        {
          onStep: (i) => hooks.onRecStep?.(m.name, i),
          onEval: (i) => {
            const t = i.texts;
            const txt = t ? ` (reasoning ${t.meanTokens.toFixed(1)} tokens, ${(100 * t.repeatShare).toFixed(0)}% repeated bigrams, ${(100 * t.distinctShare).toFixed(0)}% distinct${Number.isNaN(t.changedShare) || i.step === 0 ? '' : `, ${(100 * t.changedShare).toFixed(0)}% changed since step 0`})` : '';
            log(`${m.name}: valid NDCG@10 ${i.ndcg10.toFixed(4)} HR@10 ${i.hr10.toFixed(4)} at step ${i.step}${txt}`);
          },
        },
      );
      result = {
        name: m.name, kind: m.kind, valid: store(r.valid), test: store(r.test),
        trainSec: r.durationsSec.train ?? 0, evalSec: r.durationsSec.evaluate ?? 0, curves: r.curves, bestStep: r.bestStep,
        texts: r.texts, meanReasoningTokens: r.meanReasoningTokens, readout: r.readout, latency: r.latency, throughput: r.throughput, configHash, config: rec,
        validGain: r.validGain,
      };
      const g = r.validGain;
      if (g && r.bestStep > 0) {
        log(`${m.name}: kept step ${r.bestStep}, valid NDCG@10 ${g.meanDiff >= 0 ? '+' : ''}${g.meanDiff.toFixed(4)} over step 0 (95% CI [${g.ci[0].toFixed(4)}, ${g.ci[1].toFixed(4)}], paired p = ${g.p.toPrecision(2)}, n = ${g.n}; the best of ${r.curves.evalStep.length} evaluations)`);
      } else if (g) log(`${m.name}: kept step 0 (no evaluation beat the start on valid)`);
    } else {
      result = { ...(await runBaseline(ds, cfg, m, valid, test)), configHash };
    }
    result.durationSec = (performance.now() - t0) / 1000;
    const git = gitInfo();
    result.commit = `${git.commit}${git.dirty ? '+dirty' : ''}`;
    fs.writeFileSync(file, JSON.stringify(result));
    durations[m.name] = result.durationSec;
    log(`${m.name}: test NDCG@10 ${result.test.metrics['NDCG@10'].toFixed(4)} HR@10 ${result.test.metrics['HR@10'].toFixed(4)} (n=${result.test.n}, ${durations[m.name].toFixed(0)} s)`);
    methods.push(result);
    hooks.onMethodDone?.(result);
  }
  const table = buildTable(methods, cfg.eval.ks);
  // the manifest's backbone: the first LM method's (the one every method shares unless their configs shape others)
  const lm = backbones.values().next().value as PreparedBackbone | undefined;
  const distinct = new Set(Object.values(methodBackbones)).size;
  durations.total = (performance.now() - tStart) / 1000;
  const manifest = makeManifest({
    backend: backendName(),
    seed: cfg.seed,
    config: cfg,
    data: { name: ds.name, synthetic: ds.provenance.synthetic, provenance: ds.provenance },
    world,
    evaluation: {
      validSamples: valid.length, testSamples: test.length, ofValid: ds.samples.valid.length, ofTest: ds.samples.test.length,
      note: `seeded subsets, identical for every method; full ranking over the catalog, history ${cfg.eval.maskHistory ? 'masked' : 'not masked'}, pad never ranked, ${TIES_NOTE}`,
      selection: selectionNote(valid.length, ds.samples.valid.length),
    },
    languageModel: lm ? { key: lm.key, parameters: lm.parameters, tokens: lm.tokens, cached: lm.cached, model: lm.model } : undefined,
    backbone: lm ? { source: lm.source, key: lm.key, checkpoint: lm.checkpoint, manifest: lm.alignment?.manifest } : undefined,
    ...(distinct > 1
      ? { backbones: Object.fromEntries([...backbones.values()].map((b) => [b.key, { source: b.source, checkpoint: b.checkpoint, manifest: b.alignment?.manifest }])), methodBackbones }
      : {}),
    durationsSec: durations,
    reusedMethods: reused,
    methodCommits: Object.fromEntries(methods.map((m) => [m.name, m.commit ?? 'unknown'])),
  });
  const caption =
    `${cfg.experiment} on ${ds.name}${ds.provenance.synthetic ? ' (synthetic)' : ''}: test metrics over n = ${test.length} test samples ` +
    `(profile ${cfg.profile}, seed ${cfg.seed}, backend ${backendName()}); ${TIES_NOTE}; ${selectionNote(valid.length, ds.samples.valid.length)}. ` +
    `Best per column in bold, second underlined.`;
  writeResultTable(outDir, 'metrics', table, caption, `tab:${slug(cfg.experiment)}-${slug(cfg.dataset)}`, cfg.eval.ks);
  // a run that only read finished results back (a notebook over npm start's runs) keeps the manifest of the run that
  // trained them: its durations and commit are the ones that made these numbers
  const manifestFile = path.join(outDir, 'manifest.json');
  const allReused = reused.length === methods.length && methods.length > 0;
  if (allReused && fs.existsSync(manifestFile)) log(`every method reused: ${manifestFile} kept from the run that trained them`);
  else fs.writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
  fs.writeFileSync(
    path.join(outDir, 'curves.json'),
    JSON.stringify({
      languageModel: lm?.curves,
      backbone: lm?.alignment?.curves,
      ...(distinct > 1 ? { backbones: Object.fromEntries([...backbones.values()].map((b) => [b.key, b.alignment?.curves])) } : {}),
      methods: Object.fromEntries(methods.map((m) => [m.name, m.curves])),
    }),
  );
  log(`wrote ${outDir}/metrics.{csv,md,tex}, manifest.json, curves.json, methods/*.json (${durations.total.toFixed(0)} s)`);
  return { config: cfg, dataset: ds, outDir, methods, table, lm, manifest };
}

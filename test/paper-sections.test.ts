// lib/paper/: section tables from hand-built MethodResults (means ± std over seeds, best-baseline choice,
// improvement, significance marks, cold-start counts), LaTeX structure with dataset column groups, sweeps, latency
// statistics, behaviour-study inputs and kappa, the section writer and the results index.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { MethodResult, StoredEval } from '../lib/experiment/run';
import { sweep } from '../lib/experiment/presets';
import { summarizeRanks } from '../lib/eval/metrics';
import { pairedTTest } from '../lib/eval/stats';
import type { Dataset, Interaction, Sample } from '../lib/data/types';
import { BEHAVIOR_IDS, allFalse, type TagResult } from '../lib/behaviors/types';
import { toAnnotationCsv } from '../lib/behaviors/annotation';
import { ConfigError, R2ecError } from '../lib/util/errors';
import {
  behaviorGroupOf,
  behaviorInputs,
  behaviorSharesTable,
  coldStartTable,
  comparisonTable,
  datasetLabel,
  defaultDatasets,
  experimentName,
  groupRuns,
  humanLabelSources,
  kappaTable,
  latencyStats,
  metricsTable,
  movingAverage,
  curvesFigure,
  profileFromEnv,
  reasoningTexts,
  runGrid,
  sectionLatex,
  sectionMarkdown,
  seedOverrides,
  sweepFigure,
  sweepRowName,
  sweepTable,
  tagRows,
  writeResultsIndex,
  loadBudgetRuns,
  budgetRunsTable,
  validCurvesFigure,
  diffText,
  writeSection,
  type DatasetRuns,
  type Run,
  type SectionTable,
} from '../lib/paper/index';
import { perSampleMean } from '../lib/eval/stats';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'r2ec-paper-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const close = (a: number, b: number, msg: string, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${msg}: ${a} vs ${b}`);

/** A StoredEval from ranks (Infinity = unrankable) with segments from per-sample cold masks. */
function evalOf(ranks: number[], opts: { index?: number[]; coldUser?: boolean[]; coldItem?: boolean[] } = {}): StoredEval {
  const r = Float64Array.from(ranks);
  const seg = (mask: boolean[] | undefined, want: boolean) => {
    const sub = ranks.filter((_, i) => (mask ? mask[i] : false) === want);
    return { n: sub.length, metrics: summarizeRanks(sub) };
  };
  return {
    metrics: summarizeRanks(r),
    n: ranks.length,
    segments: {
      coldUser: seg(opts.coldUser, true),
      warmUser: seg(opts.coldUser, false),
      coldItem: seg(opts.coldItem, true),
      warmItem: seg(opts.coldItem, false),
    },
    repeatTargets: 0,
    ranks: ranks.map((x) => (Number.isFinite(x) ? x : null)),
    sampleIndex: opts.index ?? ranks.map((_, i) => 10 + i),
  };
}

function method(name: string, kind: string, test: StoredEval, extra: Partial<MethodResult> = {}): MethodResult {
  return { name, kind, valid: test, test, trainSec: 1, evalSec: 1, curves: {}, configHash: 'h', config: {}, ...extra };
}

// Dataset A, two seeds, 4 test samples (indices 10..13). Seed 2 stores its samples in a different order.
const A1 = [
  method('R²ec', 'r2ec', evalOf([1, 3, 8, 30])),
  method('w/o reasoning', 'no-reasoning', evalOf([1, 1, 1, 1])),
  method('SASRec', 'sasrec', evalOf([10, 10, 10, 10])),
  method('Popularity', 'popularity', evalOf([2, 40, 3, 40])),
];
const A2 = [
  // ranks of samples 10..13 = [2, 1, 6, 30], stored as 13, 12, 11, 10
  method('R²ec', 'r2ec', evalOf([30, 6, 1, 2], { index: [13, 12, 11, 10] })),
  method('w/o reasoning', 'no-reasoning', evalOf([1, 1, 1, 1])),
  method('SASRec', 'sasrec', evalOf([10, 10, 10, 10])),
  method('Popularity', 'popularity', evalOf([2, 40, 3, 40])),
];
// Dataset B (synthetic), one seed: R²ec always rank 1, every baseline always rank 100 → constant difference.
const B1 = [
  method('R²ec', 'r2ec', evalOf([1, 1, 1])),
  method('w/o reasoning', 'no-reasoning', evalOf([1, 1, 1])),
  method('SASRec', 'sasrec', evalOf([100, 100, 100])),
  method('Popularity', 'popularity', evalOf([100, 100, 100])),
];
const dataA: DatasetRuns = { dataset: 'A', synthetic: false, profile: 'smoke', backend: 'wasm', seeds: [{ seed: 1, methods: A1 }, { seed: 2, methods: A2 }] };
const dataB: DatasetRuns = { dataset: 'B', synthetic: true, profile: 'smoke', backend: 'wasm', seeds: [{ seed: 1, methods: B1 }] };

const ND = (r: number) => 1 / Math.log2(r + 1);

test('metricsTable: mean ± std over seeds, best baseline per metric among baseline kinds, improvement, marks', () => {
  const t = metricsTable([dataA, dataB], { name: 'main' });
  assert.deepEqual(t.table.rows.map((r) => r.Method), ['R²ec', 'w/o reasoning', 'SASRec', 'Popularity']);
  const ref = t.table.rows[0];
  // NDCG@5 of R²ec on A: seed 1 (1 + 1/2)/4, seed 2 (1/log2(3) + 1)/4
  const s1 = 1.5 / 4;
  const s2 = (ND(2) + 1) / 4;
  close(ref['A NDCG@5'] as number, (s1 + s2) / 2, 'mean');
  close(ref['_std:A NDCG@5'] as number, Math.abs(s1 - s2) / Math.SQRT2, 'sample std of two values');
  assert.equal(ref['A HR@5'], 0.5);
  assert.equal(ref['_std:A HR@5'], 0);
  assert.equal(ref['_std:B HR@5'], undefined, 'one seed: no std');
  // the caption gives n per dataset, the tie rule and the samples every method selected on
  const caption = String(t.table.options.caption);
  assert.match(caption, /A \(n=4 test samples\), B \[synthetic data\] \(n=3 test samples\)/);
  assert.match(caption, /ties in scores count against the target \(pessimistic ranking\)/);
  assert.match(caption, /selected its checkpoint or early-stopping epoch on valid NDCG@10 over the same valid samples \(A: n=4, B: n=3\)/);

  // HR@10 on A: SASRec (all rank 10 → 1.0) beats Popularity (0.5); w/o reasoning (1.0) is no baseline
  const hr10 = t.comparison.find((c) => c.dataset === 'A' && c.metric === 'HR@10')!;
  assert.equal(hr10.baseline, 'SASRec');
  close(hr10.referenceValue, 0.75, 'R²ec HR@10');
  close(hr10.improvementPct!, -25, 'improvement %');
  assert.equal(hr10.significant, false);
  // HR@5 on A: Popularity; per-sample means over seeds [1,1,0,0] vs [1,0,1,0] → mean difference 0 → p = 1
  const hr5 = t.comparison.find((c) => c.dataset === 'A' && c.metric === 'HR@5')!;
  assert.equal(hr5.baseline, 'Popularity');
  assert.equal(hr5.improvementPct, 0);
  assert.equal(hr5.p, 1);
  // NDCG@5 on A: the p-value is the paired t-test of the seed-averaged per-sample values (samples aligned by index)
  const nd5 = t.comparison.find((c) => c.dataset === 'A' && c.metric === 'NDCG@5')!;
  const refAvg = [(1 + ND(2)) / 2, (0.5 + 1) / 2, 0, 0];
  const popAvg = [ND(2), 0, 0.5, 0];
  close(nd5.p, pairedTTest(refAvg, popAvg).p, 'p');
  // B: constant difference → p = 0, significant on every metric
  const onB = t.comparison.filter((c) => c.dataset === 'B');
  assert.equal(onB.length, 6);
  assert.ok(onB.every((c) => c.significant && c.p === 0 && c.improvementPct === null), JSON.stringify(onB));

  const md = sectionMarkdown(t.table);
  const refLine = md.split('\n').find((l) => l.startsWith('| R²ec'))!;
  assert.equal(refLine.split('†').length - 1, 6, 'a dagger on each B metric of R²ec only');
  assert.match(refLine, /\| <u>0\.3914 ± 0\.0231<\/u> \|/, 'A NDCG@5 as mean ± std, second to w/o reasoning');
  assert.match(refLine, /\*\*1\.0000\*\*†/, 'B: single seed, plain mean, best in bold, marked');
  assert.match(md, /\| Method \| A HR@5 \| A NDCG@5 .* \| B \(synthetic\) HR@5 \|/, 'dataset group in the Markdown header');
  assert.match(md, /B \[synthetic data\]/, 'synthetic flagged in the caption');
  assert.match(md, /\(n=4 test samples\)/);
});

test('metricsTable: baselineKinds null → no comparison, no marks; custom metrics and reference', () => {
  const t = metricsTable([dataA], { baselineKinds: null, metrics: ['NDCG@10', 'HR@10'] });
  assert.deepEqual(t.comparison, []);
  assert.deepEqual(t.table.options.columns.map((c) => c.key), ['Method', 'A NDCG@10', 'A HR@10']);
  assert.ok(!sectionMarkdown(t.table).includes('†'));
  assert.throws(() => metricsTable([dataA], { reference: 'nope' }), /reference "nope" is not among/);
});

test('sectionLatex: booktabs, a \\multicolumn group per dataset, one row per method, marks as superscripts', () => {
  const t = metricsTable([dataA, dataB], { name: 'main', label: 'tab:main' });
  const tex = sectionLatex(t.table);
  const stack: string[] = [];
  for (const m of tex.matchAll(/\\(begin|end)\{([^}]+)\}/g)) {
    if (m[1] === 'begin') stack.push(m[2]);
    else assert.equal(stack.pop(), m[2]);
  }
  assert.deepEqual(stack, []);
  const lines = tex.split('\n');
  const top = lines.indexOf('\\toprule');
  assert.equal(lines[top + 1], ' & \\multicolumn{6}{c}{A} & \\multicolumn{6}{c}{B (synthetic)} \\\\');
  assert.equal(lines[top + 2], '\\cmidrule(lr){2-7} \\cmidrule(lr){8-13}');
  assert.equal(lines[top + 3], 'Method & HR@5 & NDCG@5 & HR@10 & NDCG@10 & HR@20 & NDCG@20 & HR@5 & NDCG@5 & HR@10 & NDCG@10 & HR@20 & NDCG@20 \\\\');
  const body = lines.slice(lines.indexOf('\\midrule') + 1, lines.indexOf('\\bottomrule'));
  assert.deepEqual(body.map((l) => l.split(' & ')[0]), ['R²ec', 'w/o reasoning', 'SASRec', 'Popularity']);
  for (const l of body) assert.equal(l.split(/(?<!\\)&/).length, 13);
  assert.equal(body[0].split('$^{\\dagger}$').length - 1, 6);
  assert.match(body[0], /\\textbf\{1\.0000\}\$\^\{\\dagger\}\$/);
  assert.match(body[2], /\\textbf\{1\.0000 ± 0\.0000\}/, 'SASRec HR@10 on A is the best value');
  // a group over non-consecutive columns is refused
  const bad: SectionTable = { ...t.table, groups: [{ label: 'x', keys: ['A HR@5', 'A HR@10'] }] };
  assert.throws(() => sectionLatex(bad), /not consecutive/);
});

test('comparisonTable: one row per dataset × metric, improvement with a dagger when significant', () => {
  const t = metricsTable([dataA, dataB]);
  const c = comparisonTable(t);
  assert.equal(c.rows.length, 12);
  const md = sectionMarkdown(c);
  // HR@10 per sample: R²ec [1,1,1,0] in both seeds, SASRec [1,1,1,1] → t = −1, df 3
  assert.equal(pairedTTest([1, 1, 1, 0], [1, 1, 1, 1]).p.toFixed(4), '0.3910');
  assert.match(md, /\| A \| HR@10 \| 0\.7500 \| SASRec \| 1\.0000 \| -25\.0 \| 0\.3910 \|/);
  // baseline 0 → no improvement (–) but significant (constant difference, p = 0)
  assert.match(md, /\| B \| NDCG@20 \| 1\.0000 \| SASRec \| 0\.0000 \| –† \| 0 \|/);
});

test('perSampleMean aligns samples by index and refuses runs on different samples', () => {
  const a = evalOf([1, 3], { index: [5, 6] });
  const b = evalOf([3, 1], { index: [6, 5] });
  assert.deepEqual([...perSampleMean([a, b], 'HR@1', [5, 6])], [1, 0]);
  assert.deepEqual([...perSampleMean([a, b], 'HR@3', [6, 5])], [1, 1]);
  assert.throws(() => perSampleMean([a, evalOf([1, 1], { index: [5, 7] })], 'HR@1', [5, 6]), /sample 6 is missing/);
});

test('groupRuns checks that every seed has the same methods', () => {
  const res = (methods: MethodResult[]) =>
    ({ config: { profile: 'smoke' }, manifest: { backend: 'wasm' }, methods, dataset: { provenance: { synthetic: false } } }) as unknown as Run['result'];
  const ok = groupRuns([{ dataset: 'A', seed: 1, result: res(A1) }, { dataset: 'A', seed: 2, result: res(A2) }]);
  assert.equal(ok.length, 1);
  assert.deepEqual(ok[0].seeds.map((s) => s.seed), [1, 2]);
  assert.throws(() => groupRuns([{ dataset: 'A', seed: 1, result: res(A1) }, { dataset: 'A', seed: 2, result: res(A2.slice(1)) }]), /seed 2 has methods/);
});

test('coldStartTable: per-segment metric, sample counts in the header, empty segments as "–"', () => {
  const cold = [true, false, false];
  const runs: DatasetRuns = {
    dataset: 'C', synthetic: false, profile: 'smoke', backend: 'wasm',
    seeds: [{ seed: 1, methods: [
      method('R²ec', 'r2ec', evalOf([1, 4, 30], { coldUser: cold })),
      method('SASRec', 'sasrec', evalOf([50, 1, 1], { coldUser: cold })),
    ] }],
  };
  const t = coldStartTable([runs], 'HR@5');
  assert.equal(t.name, 'cold-start-hr5');
  assert.deepEqual(t.options.columns.map((c) => c.label ?? c.key), ['Method', 'cold users (n=1)', 'warm users (n=2)', 'cold items (n=0)', 'warm items (n=3)']);
  assert.deepEqual(t.rows.map((r) => [r['C coldUser'], r['C warmUser'], r['C coldItem'], r['C warmItem']]), [
    [1, 0.5, null, 2 / 3],
    [0, 1, null, 2 / 3],
  ]);
  const md = sectionMarkdown(t);
  assert.match(md, /\| R²ec \| \*\*1\.0000\*\* \| <u>0\.5000<\/u> \| – \| \*\*0\.6667\*\* \|/);
  // segment counts must agree across methods
  const bad = structuredClone(runs);
  bad.seeds[0].methods[1].test.segments.coldUser.n = 2;
  assert.throws(() => coldStartTable([bad]), /disagree on the number of cold users/);
});

test('sweeps: row names match presets.sweep(), table per setting, two-axis figure', () => {
  const spec = { key: 'recpo.reward.beta', label: 'β', values: [0, 0.5] };
  assert.deepEqual(sweep(spec.key, spec.values, spec.label).map((m) => m.name), spec.values.map((v) => sweepRowName(spec, v)));
  const runs: DatasetRuns = {
    dataset: 'S', synthetic: false, profile: 'smoke', backend: 'wasm',
    seeds: [{ seed: 1, methods: [
      method('β=0', 'r2ec', evalOf([1, 20]), { meanReasoningTokens: 10 }),
      method('β=0.5', 'r2ec', evalOf([20, 20]), { meanReasoningTokens: 30 }),
    ] }],
  };
  const t = sweepTable([runs], [spec], { metrics: ['HR@10'] });
  assert.deepEqual(t.rows.map((r) => [r.Setting, r['S HR@10'], r['S tokens']]), [['β=0', 0.5, 10], ['β=0.5', 0, 30]]);
  const fig = sweepFigure([runs], spec, 'HR@10');
  assert.deepEqual(fig.data.map((d) => [d.name, d.y, d.yaxis]), [['S HR@10', [0.5, 0], undefined], ['S reasoning', [10, 30], 'y2']]);
  assert.deepEqual((fig.layout.xaxis as { ticktext: string[] }).ticktext, ['0', '0.5']);
});

test('latencyStats: pooled requests, interpolated median/p95, throughput at batch 1', () => {
  const lat = (per: number[], toks: number[]) => ({ perRequestSec: per, perRequestTokens: toks, meanSec: 0, medianSec: 0, meanReasoningTokens: 0 });
  const st = latencyStats([
    method('R²ec', 'r2ec', evalOf([1, 2]), { latency: lat([1, 3], [10, 30]) }),
    method('R²ec', 'r2ec', evalOf([1, 2]), { latency: lat([2, 6], [20, 20]) }),
  ])!;
  assert.equal(st.requests, 4);
  assert.equal(st.meanSec, 3);
  assert.equal(st.medianSec, 2.5); // sorted 1 2 3 6
  close(st.p95Sec, 3 + 0.85 * 3, 'p95 (numpy linear)');
  assert.equal(st.throughputPerSec, 4 / 12);
  assert.equal(st.meanTokens, 20);
  assert.equal(latencyStats([method('x', 'r2ec', evalOf([1, 2]))]), undefined);
});

test('curvesFigure: x = samples seen (step × usersPerStep of each method), or the step; valid curves at evaluations', () => {
  const curves = (reward: number[], evalStep: number[], valid: number[]) => ({ step: [1, 2, 3], rewardMean: reward, evalStep, validNdcg10: valid, validChangedShare: [0, 0.25] });
  const runs: DatasetRuns = {
    dataset: 'C', synthetic: false, profile: 'smoke', backend: 'wasm',
    seeds: [{ seed: 1, methods: [
      method('R²ec', 'r2ec', evalOf([1, 2]), { curves: curves([0.1, 0.2, 0.3], [0, 3], [0.5, 0.6]), config: { usersPerStep: 8 } } as never),
      method('RLOO', 'r2ec', evalOf([1, 2]), { curves: curves([0.3, 0.1, 0.2], [0, 3], [0.4, 0.7]), config: { usersPerStep: 32 } } as never),
    ] }],
  };
  const bySamples = curvesFigure(runs, ['R²ec', 'RLOO'], 'rewardMean');
  assert.deepEqual(bySamples.data.map((d) => [d.name, d.x]), [['R²ec', [8, 16, 24]], ['RLOO', [32, 64, 96]]]);
  (bySamples.data[1].y as number[]).forEach((v, i) => close(v, [0.3, 0.1, 0.2][i], `reward ${i}`, 1e-12));
  const smooth = curvesFigure(runs, ['R²ec'], 'rewardMean', { smooth: 2, x: 'step' });
  assert.deepEqual(smooth.data[0].x, [1, 2, 3]);
  (smooth.data[0].y as number[]).forEach((v, i) => close(v, [0.1, 0.15, 0.25][i], `smoothed reward ${i}`, 1e-12));
  const valid = curvesFigure(runs, ['RLOO'], 'validNdcg10');
  assert.deepEqual(valid.data[0].x, [0, 96]);
  (valid.data[0].y as number[]).forEach((v, i) => close(v, [0.4, 0.7][i], `valid ${i}`, 1e-12));
  assert.throws(() => curvesFigure(runs, ['R²ec'], 'rewardGroupStd'), /no training curve "rewardGroupStd"/);
  // reasoning health is recorded at evaluations, like the valid metrics
  const changed = curvesFigure(runs, ['R²ec'], 'validChangedShare', { x: 'step' });
  assert.deepEqual([changed.data[0].x, changed.data[0].y], [[0, 3], [0, 0.25]]);
});

test('movingAverage (trailing window)', () => {
  assert.deepEqual(movingAverage([2, 4, 6, 8], 2), [2, 3, 5, 7]);
  assert.deepEqual(movingAverage([1, 2], 1), [1, 2]);
  assert.throws(() => movingAverage([1], 0), /window/);
});

// ---- behaviour study -------------------------------------------------------------------------------------------

function toyDataset(): Dataset {
  const it = (id: number, title: string, categories: string[]) => ({ id, externalId: String(id), title, categories });
  const h = (item: number, rating: number): Interaction => ({ user: 0, item, rating, timestamp: 1000 + item });
  const samples: Sample[] = [
    { index: 100, user: 0, history: [h(1, 5), h(2, 4), h(3, 1)], target: h(4, 5) },
    { index: 101, user: 1, history: [h(2, 0), h(3, 2)], target: h(1, 5) },
  ];
  return {
    name: 'toy',
    domain: { singular: 'thing', plural: 'things', verb: 'buy' },
    items: [it(0, 'pad_title', []), it(1, 'Alpha Tent', ['camping']), it(2, 'Beta Stove', ['cooking']), it(3, 'Gamma Lamp', ['camping', 'light']), it(4, 'Delta Mat', [])],
    users: ['u0', 'u1'],
    interactions: [],
    samples: { train: [], valid: [], test: samples },
    window: 20,
    provenance: { source: 'test', files: [], options: {}, dropped: {}, notes: [], synthetic: false, key: 'k' },
  };
}

test('reasoningTexts: seeded sample per dataset and method; behaviorInputs: what the prompt showed', () => {
  const texts = Array.from({ length: 6 }, (_, i) => ({ sampleIndex: i < 1 ? 100 : 101, user: 0, text: `t${i}`, tokens: i }));
  const runs: DatasetRuns = {
    dataset: 'toy', synthetic: false, profile: 'smoke', backend: 'wasm', data: toyDataset(),
    seeds: [{ seed: 1, methods: [method('R²ec', 'r2ec', evalOf([1, 2]), { texts, config: { promptHistory: 2 } })] }],
  };
  const a = reasoningTexts([runs], ['R²ec'], 3, 7);
  const b = reasoningTexts([runs], ['R²ec'], 3, 7);
  assert.deepEqual(a, b, 'same seed, same texts');
  assert.equal(a.length, 3);
  const order = a.map((t) => Number(t.text.slice(1)));
  assert.deepEqual(order, [...order].sort((x, y) => x - y), 'kept in test order');
  assert.equal(reasoningTexts([runs], ['R²ec'], 100, 7).length, 6, 'at most what the run kept');
  assert.throws(() => reasoningTexts([runs], ['nope'], 3, 7), /no method "nope"/);

  const inputs = behaviorInputs([runs], [
    { dataset: 'toy', method: 'R²ec', sampleIndex: 100, user: 0, text: 'x', tokens: 1 },
    { dataset: 'toy', method: 'R²ec', sampleIndex: 101, user: 1, text: 'y', tokens: 1 },
  ]);
  assert.deepEqual(inputs[0], {
    id: 'toy/R²ec/100', reasoning: 'x', historyTitles: ['Beta Stove', 'Gamma Lamp'], historyRatings: [4, 1], historyAttributes: ['cooking', 'camping', 'light'],
  });
  assert.equal(inputs[1].historyRatings, undefined, 'a history with a 0 (missing) rating shows no ratings');
  assert.deepEqual(inputs[1].historyTitles, ['Beta Stove', 'Gamma Lamp']);
});

function labels(on: string[]): Record<(typeof BEHAVIOR_IDS)[number], boolean> {
  const l = allFalse();
  for (const b of on) l[b as (typeof BEHAVIOR_IDS)[number]] = true;
  return l;
}

test('behaviorSharesTable: share per behaviour and group, unlabelled texts out of n', () => {
  const texts = [
    { dataset: 'd1', method: 'R²ec', sampleIndex: 1, user: 0, text: 'a', tokens: 1 },
    { dataset: 'd1', method: 'R²ec', sampleIndex: 2, user: 0, text: 'b', tokens: 1 },
    { dataset: 'd2', method: 'R²ec', sampleIndex: 1, user: 0, text: 'c', tokens: 1 },
  ];
  const results: TagResult[] = [
    { id: 'd1/R²ec/1', labels: labels(['temporal']), evidence: { temporal: ['recently'] } },
    { id: 'd1/R²ec/2', labels: labels(['temporal', 'self_explanation']), evidence: {} },
    { id: 'd2/R²ec/1', labels: null, evidence: {}, error: 'timeout' },
  ];
  const { table, long } = behaviorSharesTable([{ name: 'rules', results }], behaviorGroupOf(texts));
  const temporal = table.rows.find((r) => r.behavior === 'temporal')!;
  assert.equal(temporal['d1 rules'], 100);
  assert.equal(table.rows.find((r) => r.behavior === 'self_explanation')!['d1 rules'], 50);
  assert.equal(temporal['d2 rules'], null, 'no labelled text in d2');
  assert.match(String(table.options.caption), /d1 rules: n=2 texts; d2 rules: n=0 texts \(\+1 the source could not label\)/);
  assert.equal(long.length, 14);
  const rows = tagRows(texts, [{ name: 'rules', results }]);
  assert.deepEqual([rows[0].temporal, rows[0].evidence, rows[2].temporal, rows[2].error], [1, 'temporal: recently', null, 'timeout']);
  // several methods → groups are "dataset · method"
  assert.equal(behaviorGroupOf([...texts, { ...texts[0], method: 'zero-shot' }])('d1/zero-shot/1'), 'd1 · zero-shot');
});

test("kappaTable: Cohen's kappa per pair of sources, human CSVs read from annotated*.csv", () => {
  const inputs = ['t1', 't2', 't3', 't4'].map((id) => ({ id, reasoning: `text ${id}` }));
  const rules: TagResult[] = [
    { id: 't1', labels: labels(['temporal']), evidence: {} },
    { id: 't2', labels: labels(['temporal']), evidence: {} },
    { id: 't3', labels: labels([]), evidence: {} },
    { id: 't4', labels: labels([]), evidence: {} },
  ];
  // the human agrees on t1, t3 and t4 and leaves t2 unannotated… then disagrees on t4
  const human: TagResult[] = [
    { id: 't1', labels: labels(['temporal']), evidence: {} },
    { id: 't3', labels: labels([]), evidence: {} },
    { id: 't4', labels: labels(['temporal']), evidence: {} },
  ];
  const dir = path.join(tmp, 'annot');
  mkdirSync(dir, { recursive: true });
  const csv = toAnnotationCsv(human, inputs.filter((i) => i.id !== 't2'));
  writeFileSync(path.join(dir, 'annotated-alice.csv'), csv);
  writeFileSync(path.join(dir, 'annotation-template.csv'), toAnnotationCsv(null, inputs)); // not a label source
  const found = humanLabelSources(dir);
  assert.deepEqual(found.sources.map((s) => s.name), ['human:annotated-alice']);
  assert.deepEqual(found.notes, ['annotated-alice.csv: 3 annotated row(s), 0 not annotated yet']);

  const k = kappaTable([{ name: 'rules', results: rules }, ...found.sources]);
  assert.equal(k.pairs.length, 1);
  // temporal over t1, t3, t4: rules [1,0,0], human [1,0,1]: p_o = 2/3, p_e = 1/3·2/3 + 2/3·1/3 = 4/9 → κ = (2/3 − 4/9)/(5/9) = 0.4
  const key = 'rules vs human:annotated-alice';
  const temporal = k.table!.rows.find((r) => r.Behaviour === 'Temporal reasoning')!;
  close(temporal[key] as number, 0.4, 'kappa');
  assert.equal(k.table!.options.columns[1].label, `${key} (n=3)`);
  assert.equal(k.table!.rows[k.table!.rows.length - 1].Behaviour, 'mean');
  close(k.table!.rows[k.table!.rows.length - 1][key] as number, (0.4 + 6) / 7, 'mean kappa (the other six: identical all-false → 1)');

  const none = kappaTable([{ name: 'a', results: rules }, { name: 'b', results: [{ id: 'zz', labels: labels([]), evidence: {} }] }]);
  assert.equal(none.table, undefined);
  assert.match(none.problems[0], /^a vs b: .*no item in common/);
  assert.equal(kappaTable([{ name: 'rules', results: rules }]).table, undefined, 'one source: nothing to compare');
});

// ---- settings, grid, writing ---------------------------------------------------------------------------------

test('settings: profile from the environment, default datasets per profile, seeds and experiment names', () => {
  assert.equal(profileFromEnv({}), 'quick');
  assert.equal(profileFromEnv({ R2EC_PROFILE: 'smoke' }), 'smoke');
  assert.throws(() => profileFromEnv({ R2EC_PROFILE: 'fast' }), ConfigError);
  const root = path.join(tmp, 'data');
  mkdirSync(path.join(root, 'ml-100k'), { recursive: true });
  writeFileSync(path.join(root, 'ml-100k', 'ml-100k.inter'), '');
  assert.deepEqual(defaultDatasets('smoke', { root, env: {} }), ['synthetic', 'ml-100k']);
  assert.deepEqual(defaultDatasets('smoke', { root, env: {}, smoke: ['synthetic'] }), ['synthetic']);
  assert.deepEqual(defaultDatasets('quick', { root, env: {} }), ['ml-100k']);
  assert.deepEqual(defaultDatasets('quick', { root: path.join(tmp, 'nothing'), env: {} }), ['synthetic']);
  assert.deepEqual(defaultDatasets('quick', { root, env: { R2EC_DATASETS: 'cds, goodreads' } }), ['cds', 'goodreads']);
  assert.deepEqual(seedOverrides(7), { 'warmup.seed': 7, 'recpo.seed': 7, 'sasrec.seed': 7, 'gru4rec.seed': 7, 'caser.seed': 7 });
  assert.equal(experimentName('main', 42), 'main');
  assert.equal(experimentName('main', 43), 'main-seed43');
  assert.equal(datasetLabel({ dataset: 'synthetic', synthetic: true }), 'synthetic');
  assert.equal(datasetLabel({ dataset: 'toy', synthetic: true }), 'toy (synthetic)');
});

test('runGrid refuses a bad grid before training anything', async () => {
  const base = { experiment: 'main', profile: 'smoke' as const, methods: [{ name: 'Popularity', kind: 'popularity' as const }], resultsDir: tmp };
  await assert.rejects(runGrid({ ...base, datasets: ['synthetic'], seeds: [1, 1] }), /duplicate seed/);
  await assert.rejects(runGrid({ ...base, datasets: [], seeds: [1] }), /needs at least one dataset/);
  await assert.rejects(runGrid({ ...base, datasets: ['synthetic'], seeds: [1], set: { 'recpo.nope': 1 } }), /recpo.nope/);
});

test('writeSection writes tables, files and a manifest; writeResultsIndex lists sections and experiment runs', async () => {
  const root = path.join(tmp, 'results');
  const t = metricsTable([dataA], { name: 'main' });
  const t0 = Date.now();
  const out = await writeSection(path.join(root, '01-main-results'), {
    section: '01-main-results',
    tables: [t.table],
    figures: [],
    files: [{ name: 'main-long.csv', content: 'a,b\n1,2\n' }],
    config: { profile: 'smoke', datasets: ['A'] },
    extra: { backend: 'wasm' },
    startedAt: t0,
  });
  assert.deepEqual(out.written.map((f) => path.basename(f)), ['main.csv', 'main.md', 'main.tex', 'main-long.csv']);
  const m = JSON.parse(readFileSync(out.manifestFile, 'utf8'));
  assert.equal(m.section, '01-main-results');
  assert.equal(m.config.profile, 'smoke');
  assert.match(m.commit, /^([0-9a-f]{40}|unknown)$/);
  assert.deepEqual(m.outputs, ['main.csv', 'main.md', 'main.tex', 'main-long.csv']);
  assert.equal(typeof m.durationsSec.total, 'number');
  assert.equal(readFileSync(path.join(root, '01-main-results', 'main.csv'), 'utf8').split('\n')[0],
    'Method,A HR@5,A NDCG@5,A HR@10,A NDCG@10,A HR@20,A NDCG@20');
  await assert.rejects(writeSection(path.join(root, 'x'), { section: 'x', tables: [], figures: [], config: {}, startedAt: t0 }), R2ecError);

  // an experiment run folder and a broken section manifest
  mkdirSync(path.join(root, 'main', 'A'), { recursive: true });
  writeFileSync(path.join(root, 'main', 'A', 'manifest.json'), JSON.stringify({
    createdAt: '2026-01-01T00:00:00Z', commit: 'abcdef0123456789', backend: 'wasm',
    config: { profile: 'quick', methods: [{ name: 'R²ec' }, { name: 'SASRec' }] }, evaluation: { testSamples: 1000 }, durationsSec: { total: 61.4 },
  }));
  mkdirSync(path.join(root, '09-broken'), { recursive: true });
  writeFileSync(path.join(root, '09-broken', 'manifest.json'), '{ not json');
  const index = readFileSync(writeResultsIndex(root), 'utf8');
  assert.match(index, /\| \[01-main-results\]\(01-main-results\/\) \| Main results: .* \| smoke \| wasm \| A \|/);
  assert.match(index, /\| \[main\/A\]\(main\/A\/\) \| R²ec, SASRec \| 2026-01-01T00:00:00Z \| quick \| wasm \| 1000 \| abcdef0123 \| 61 \|/);
  assert.match(index, /## Unreadable manifests\n\n- 09-broken\/manifest\.json/);
});

test('budget runs (section 07): starts named by backbone folder, paired differences to the start and the reference, skips reported', () => {
  const dir = path.join(tmp, 'budget');
  const write = (folder: string, manifest: unknown, methods: MethodResult[] = []) => {
    mkdirSync(path.join(dir, folder, 'methods'), { recursive: true });
    writeFileSync(path.join(dir, folder, 'manifest.json'), JSON.stringify(manifest));
    for (const m of methods) writeFileSync(path.join(dir, folder, 'methods', `${m.name}.json`), JSON.stringify(m));
  };
  const from = (key: string, ckpt: string) => ({ backbone: { source: 'given', key, checkpoint: `/x/.cache/backbone/ml-100k-${key}/${ckpt}` } });
  const rec = (titles: unknown) => ({ usersPerStep: 8, groupSize: 4, optimizer: { lr: 1e-4 }, klCoef: 0.1, itemWeight: 0, nextTitles: titles, rollout: { temperature: 1.5, topK: 200 } });
  const curves = (valid: number[]) => ({ step: [1, 2], evalStep: [0, 100, 200], validNdcg10: valid });
  const gain = { n: 4, meanA: 0.5, meanB: 0.4, meanDiff: 0.1, sdDiff: 0.1, t: 2, df: 3, p: 0.0421, ci: [0, 0.2], level: 0.95 };
  write('bb', { kind: 'r2ec-backbone', key: 'abcdef0123456789' });
  // the start as it is (0 steps) and a run from it, on the same 4 test samples; the run's test ranks are better
  write('bb-zs', from('abcdef0123456789', 'best'), [method('zero-shot', 'zero-shot', evalOf([2, 5, 20, 40]))]);
  write('bb-run', from('abcdef0123456789', 'best'), [
    method('R²ec', 'r2ec', evalOf([1, 3, 20, 9]), { curves: curves([0.4, 0.45, 0.5]), bestStep: 200, validGain: gain as never, config: rec('free') }),
  ]);
  // the same backbone with titles constrained is another start (no 0-step run of it here); true = 'catalog' (old runs)
  write('bb-titles', from('abcdef0123456789', 'best'), [method('R²ec', 'r2ec', evalOf([1, 1, 1, 1]), { curves: curves([0.3, 0.2, 0.1]), config: rec(true) })]);
  mkdirSync(path.join(dir, 'empty'), { recursive: true });
  const data = loadBudgetRuns(dir);
  assert.deepEqual(data.skipped, ['empty (no manifest.json)']);
  assert.deepEqual(data.runs.map((r) => [r.name, r.start, r.steps]), [['bb-run', 'bb best', 200], ['bb-titles', 'bb best', 200], ['bb-zs', 'bb best', 0]]);
  const reference = { name: 'ref', result: method('ref', 'zero-shot', evalOf([3, 3, 3, 3], { index: [13, 12, 11, 10] })) };
  const t = budgetRunsTable(data, reference);
  const row = t.rows.find((r) => r.Run === 'bb-run')!;
  assert.equal(row.Settings, 'lr 1e-4, KL 0.1, item term ×0, 8 users × G 4, T 1.5 / top-200');
  assert.equal(row['valid step 0'], 0.4);
  assert.equal(row['valid kept − step 0'], '+.1000 (p = .04)');
  const run = [1, 3, 20, 9].map((r) => (r <= 10 ? ND(r) : 0));
  const zs = [2, 5, 20, 40].map((r) => (r <= 10 ? ND(r) : 0));
  const diff = (a: number[], b: number[]) => pairedTTest(a, b);
  assert.equal(row['test − start'], diffText(diff(run, zs)));
  assert.equal(row['test − ref'], diffText(diff(run, run.map(() => ND(3)))));
  const titled = t.rows.find((r) => r.Run === 'bb-titles')!;
  assert.equal(titled['test − start'], '–', 'no 0-step run with catalog titles');
  assert.match(titled.Settings as string, /item term ×0, Next: catalog titles, 8 users/);
  assert.equal(t.rows.find((r) => r.Run === 'bb-zs')!.Settings, 'as it is');
  const fig = validCurvesFigure(data.runs);
  assert.deepEqual(fig.data.map((d) => [d.name, d.x]), [['bb-run', [0, 800, 1600]], ['bb-titles', [0, 800, 1600]]]);
  (fig.data[0].y as number[]).forEach((v, i) => close(v, [0, 0.05, 0.1][i], `gain ${i}`, 1e-12));
  writeFileSync(path.join(dir, 'bb-run', 'methods', 'broken.json'), '{');
  assert.throws(() => loadBudgetRuns(dir), /broken\.json: not readable JSON/);
  assert.throws(() => loadBudgetRuns(path.join(dir, 'nope')), /no such folder/);
});

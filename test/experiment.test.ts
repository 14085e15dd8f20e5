// The experiment API end to end on the smoke profile (synthetic data): config validation before training, same seed →
// identical results, RecPO resume after a stop equals an uninterrupted run, non-finite losses stop with the step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeConfig, applyOverrides, validateExperimentConfig, methodRecConfig, baseConfig, defaultConfig } from '../lib/experiment/config';
import { DATASET_OVERRIDES, PROFILES, PROFILE_OVERRIDES } from '../lib/experiment/profiles';
import { buildTable, runExperiment, type MethodResult, type StoredEval } from '../lib/experiment/run';
import { prepareLanguageModel } from '../lib/experiment/language-model';
import { runRecPO } from '../lib/train/recpo/worker';
import type { RecJob } from '../lib/train/recpo/context';
import { loadDataset } from '../lib/data/registry';
import { ConfigError, R2ecError } from '../lib/util/errors';
import { DEFAULT_KS } from '../lib/eval/metrics';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-exp-'));
process.env.R2EC_LM_CACHE = path.join(tmp, 'lm');
process.env.R2EC_BACKBONE_CACHE = path.join(tmp, 'backbone');
const quiet = { log: () => {} };

test('bad configs fail before training, naming the field', () => {
  const bad = (set: Record<string, unknown>, field: RegExp) =>
    assert.throws(() => makeConfig({ profile: 'smoke', dataset: 'synthetic', set }), (e: unknown) => e instanceof ConfigError && field.test(e.message));
  bad({ 'recpo.groupSzie': 4 }, /recpo\.groupSzie.*unknown key/);
  bad({ 'recpo.groupSize': 1 }, /recpo\.groupSize/);
  bad({ 'recpo.reward.beta': 1.5 }, /recpo\.reward\.beta/);
  bad({ 'recpo.rollout.topP': 0 }, /recpo\.rollout\.topP/);
  bad({ 'recpo.groupSize': 'four' }, /recpo\.groupSize.*number/);
  bad({ 'recpo.nextTitles': true }, /recpo\.nextTitles/);
  bad({ profile: 'huge' }, /profile/);
  bad({ 'model.preset': 'giant' }, /model\.preset/);
  const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic' });
  // evaluation cut-offs larger than the catalog are refused once the catalog size is known
  assert.throws(() => validateExperimentConfig(applyOverrides(cfg, { 'eval.ks': [5, 500] }), 300), /eval\.ks\[1\].*larger than the catalog/);
  assert.throws(() => validateExperimentConfig({ ...cfg, methods: [{ name: 'x', kind: 'magic' as never }] }), /methods\[0\]\.kind/);
  // a method's overrides are checked too
  assert.throws(() => methodRecConfig(cfg, { name: 'x', kind: 'r2ec', set: { 'recpo.nope': 1 } }), /recpo\.nope/);
  // ... by the one validation pass, which names the method
  assert.throws(
    () => makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { methods: [{ name: 'β=2', kind: 'r2ec', set: { 'recpo.reward.beta': 2 } }] } }),
    (e: unknown) => e instanceof ConfigError && /recpo\.reward\.beta.*method "β=2"/.test(e.message),
  );
  // baselines are validated at makeConfig, before any LM method trains (their trainers' validators name the key)
  bad({ 'sasrec.dimm': 32 }, /sasrec\.dimm.*unknown key/);
  bad({ 'gru4rec.dropout': 2 }, /gru4rec\.dropout/);
  bad({ 'recpo.optimizer.lr': 0 }, /recpo\.optimizer\.lr/);
  bad({ 'recpo.schedule.kind': 'linear' }, /recpo\.schedule\.kind/);
  bad({ 'warmup.evalWindows': 0 }, /warmup\.evalWindows/);
  bad({ 'eval.ks': [5, 20] }, /eval\.ks.*must include 10/);
});

test('profiles: override tables of existing keys, each with a reason; full = the defaults', () => {
  for (const p of PROFILES) {
    for (const [key, [value, reason]] of Object.entries(PROFILE_OVERRIDES[p])) {
      assert.ok(typeof reason === 'string' && reason.length >= 10, `${p} ${key}: needs a one-line reason`);
      // every key exists in the defaults (or in an open baseline section) and the value has the default's type
      assert.doesNotThrow(() => applyOverrides(baseConfig('synthetic'), { [key]: value }), `${p} ${key}`);
    }
    for (const [ds, table] of Object.entries(DATASET_OVERRIDES[p])) {
      for (const [key, [value, reason]] of Object.entries(table)) {
        assert.ok(typeof reason === 'string' && reason.length >= 10, `${p} ${ds} ${key}: needs a one-line reason`);
        assert.doesNotThrow(() => applyOverrides(baseConfig(ds), { [key]: value }), `${p} ${ds} ${key}`);
      }
    }
    const cfg = defaultConfig(p, 'synthetic');
    assert.equal(cfg.profile, p);
    validateExperimentConfig(cfg);
  }
  const { profile: _p, ...full } = defaultConfig('full', 'synthetic');
  const { profile: _b, ...base } = baseConfig('synthetic');
  assert.deepEqual(full, base);
  // hand-checked values of the tables (the lr of RecPO has one home: RECPO_DEFAULTS)
  const quick = defaultConfig('quick', 'synthetic');
  assert.equal(quick.recpo.steps, 40);
  // a dataset's table changes that dataset only: the backbone budget of synthetic, cds; ml-100k trains a second
  // epoch on from its first (shipped) one
  assert.deepEqual([quick.backbone.epochs, quick.backbone.evalEvery], [8, 61]);
  assert.deepEqual(defaultConfig('quick', 'ml-100k').backbone, { ...quick.backbone, epochs: 1, evalEvery: 0, steps: 1239, init: 'shipped:ml-100k-epoch1' });
  assert.deepEqual([defaultConfig('quick', 'cds').backbone.steps, defaultConfig('quick', 'cds').backbone.evalEvery], [1239, 155]);
  assert.equal(defaultConfig('smoke', 'synthetic').backbone.epochs, 1);
  assert.equal(quick.recpo.optimizer.lr, 1e-5);
  assert.equal(quick.eval.testSamples, 0); // the committed tables: the whole test split (issue 9)
  assert.deepEqual(quick.sasrec, { epochs: 10, patience: 2, seed: 42 });
  const smoke = defaultConfig('smoke', 'synthetic');
  assert.deepEqual(smoke.caser, { epochs: 1, patience: 1, seed: 42, dim: 16 });
  assert.equal(smoke.warmup.schedule.warmupSteps, 2);
  assert.equal(smoke.recpo.schedule.warmupSteps, 0);
  assert.equal(defaultConfig('full', 'synthetic').recpo.steps, 200);
});

test('same seed → identical metrics and curves (2 ranks)', async () => {
  const run = async (dir: string) => {
    const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { resultsDir: path.join(tmp, dir), world: 2 } });
    cfg.methods = [{ name: 'R²ec', kind: 'r2ec' }, { name: 'SASRec', kind: 'sasrec' }];
    return runExperiment(cfg, quiet);
  };
  const a = await run('a');
  const b = await run('b');
  for (let i = 0; i < a.methods.length; i++) {
    assert.deepEqual(b.methods[i].test.metrics, a.methods[i].test.metrics, a.methods[i].name);
    assert.deepEqual(b.methods[i].test.ranks, a.methods[i].test.ranks, a.methods[i].name);
  }
  assert.deepEqual(b.methods[0].curves, a.methods[0].curves);
  // the results folder has the table, the manifest and per-method files
  for (const f of ['metrics.csv', 'metrics.md', 'metrics.tex', 'manifest.json', 'curves.json', 'methods/R2ec.json', 'methods/SASRec.json']) {
    assert.ok(fs.existsSync(path.join(a.outDir, f)), f);
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(a.outDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.seed, 42);
  assert.equal(manifest.backend, 'wasm');
  assert.equal(manifest.data.synthetic, true);
  assert.ok(manifest.commit);
  assert.equal(a.methods[0].test.n, 48);
  // the caption gives n and the tie rule; caption and manifest say which valid samples every method selected on
  const md = fs.readFileSync(path.join(a.outDir, 'metrics.md'), 'utf8');
  assert.match(md, /n = 48 test samples/);
  assert.match(md, /ties in scores count against the target \(pessimistic ranking\)/);
  assert.match(md, /on valid NDCG@10 over the same seeded subset of 24 of \d+ valid samples/);
  assert.match(manifest.evaluation.selection, /same seeded subset of 24 of/);
  assert.equal(a.methods[1].valid.n, 24); // SASRec selected its epoch on the subset too
});

test('the comparison t-test pairs samples by index (a method stored in another order is the same method)', () => {
  const ev = (ranks: number[], index: number[]): StoredEval => ({
    metrics: { 'NDCG@10': 0 }, n: ranks.length, segments: {} as StoredEval['segments'], repeatTargets: 0, ranks, sampleIndex: index,
  });
  const m = (name: string, kind: string, e: StoredEval): MethodResult => ({ name, kind, valid: e, test: e, trainSec: 0, evalSec: 0, curves: {}, configHash: '', config: {} });
  const ranks = [1, 2, 4, 8, 16, 3];
  const index = [0, 1, 2, 3, 4, 5];
  // the same per-sample ranks, stored in reverse order: paired by index, the difference is zero everywhere
  const t = buildTable([m('R²ec', 'r2ec', ev(ranks, index)), m('Copy', 'sasrec', ev([...ranks].reverse(), [...index].reverse()))], [1, 10]);
  for (const c of t.comparison!) assert.equal(c.p, 1, c.metric);
});

test('a finished method is reused only when every setting that changes its numbers is unchanged', async () => {
  const logs: string[] = [];
  const run = (set: Record<string, unknown>) => {
    const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { resultsDir: path.join(tmp, 'reuse'), methods: [{ name: 'Popularity', kind: 'popularity' }], ...set } });
    return runExperiment(cfg, { log: (msg) => logs.push(msg) });
  };
  const reused = () => logs.filter((l) => /reusing finished result/.test(l)).length;
  const first = await run({});
  const manifestFile = path.join(first.outDir, 'manifest.json');
  const trained = fs.readFileSync(manifestFile, 'utf8');
  await run({});
  assert.equal(reused(), 1);
  // a run that only read results back keeps the manifest (durations, commit) of the run that trained them
  assert.equal(fs.readFileSync(manifestFile, 'utf8'), trained);
  assert.ok(logs.some((l) => /every method reused: .*manifest\.json kept/.test(l)));
  const unmasked = await run({ 'eval.maskHistory': false }); // the eval section is part of the key
  assert.equal(reused(), 1);
  assert.deepEqual(unmasked.manifest.reusedMethods, []);
  await run({ 'eval.ks': [1, 10] });
  await run({ 'eval.latencyRequests': 3 });
  await run({ 'eval.validSamples': 12 });
  assert.equal(reused(), 1);
  await run({ 'eval.validSamples': 12 });
  assert.equal(reused(), 2);
});

test('a method whose overrides shape the backbone (recpo.pooling) starts from its own; the others share one', async () => {
  const cfg = makeConfig({
    profile: 'smoke', dataset: 'synthetic',
    set: { resultsDir: path.join(tmp, 'pooling'), 'recpo.steps': 0, 'eval.testSamples': 8, 'eval.validSamples': 8 },
  });
  cfg.methods = [
    { name: 'last', kind: 'zero-shot' },
    { name: 'last, G 2', kind: 'zero-shot', set: { 'recpo.groupSize': 2 } },
    { name: 'mean', kind: 'zero-shot', set: { 'recpo.pooling': 'mean' } },
  ];
  const res = await runExperiment(cfg, quiet);
  const m = res.manifest as { backbone: { key: string }; methodBackbones: Record<string, string>; backbones: Record<string, { manifest: { config: { pooling: string } } }> };
  assert.equal(m.methodBackbones.last, m.backbone.key);
  assert.equal(m.methodBackbones['last, G 2'], m.backbone.key);
  assert.notEqual(m.methodBackbones.mean, m.backbone.key);
  assert.equal(m.backbones[m.methodBackbones.mean].manifest.config.pooling, 'mean');
  assert.equal(m.backbones[m.backbone.key].manifest.config.pooling, 'last');
});

async function recJob(extra: Partial<RecJob['config']>, workDir: string): Promise<RecJob> {
  const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic' });
  const ds = await loadDataset('synthetic');
  const lm = await prepareLanguageModel(ds, cfg, 1);
  return {
    method: 'R²ec',
    dataset: ds,
    tokenizer: lm.tokenizer,
    model: lm.model,
    initCheckpoint: lm.checkpoint,
    config: { ...methodRecConfig(cfg, { name: 'R²ec', kind: 'r2ec' }), steps: 4, evalEvery: 2, ...extra },
    validIdx: [0, 1, 2, 3, 4, 5, 6, 7],
    testIdx: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    workDir,
    latencyRequests: 0,
    keepTexts: 2,
    eval: { ks: [...DEFAULT_KS], maskHistory: true },
  };
}

test('RecPO resumed after a stop reproduces the uninterrupted run', async () => {
  const full = await runRecPO(await recJob({}, path.join(tmp, 'full')), 1);
  const dir = path.join(tmp, 'resumed');
  const first = await runRecPO({ ...(await recJob({}, dir)), stopAfter: 2 }, 1);
  assert.equal(first.stepsRun, 2);
  const second = await runRecPO(await recJob({}, dir), 1);
  assert.deepEqual(second.curves.rewardMean, full.curves.rewardMean);
  assert.deepEqual(second.curves.lossTok, full.curves.lossTok);
  assert.deepEqual(second.curves.validNdcg10, full.curves.validNdcg10);
  assert.deepEqual(second.test.metrics, full.test.metrics);
  assert.equal(full.curves.step.length, 4);
  // the spread within a user's G rollouts cannot exceed the spread over all rollouts (law of total variance), and
  // sampled rollouts of a from-scratch model differ, so the groups carry some spread
  assert.deepEqual(second.curves.rewardGroupStd, full.curves.rewardGroupStd);
  assert.equal(full.curves.rewardGroupStd.length, 4);
  full.curves.rewardGroupStd.forEach((g, i) => assert.ok(g >= 0 && g <= full.curves.rewardStd[i] + 1e-6, `step ${i + 1}: group std ${g} > std ${full.curves.rewardStd[i]}`));
  assert.ok(full.curves.rewardGroupStd.some((g) => g > 0));
  // the kept checkpoint against step 0 on valid, paired by sample: its mean difference is the curve's difference, and a
  // resumed run (step 0 evaluated by the first process) still has it
  for (const r of [full, second]) {
    const g = r.validGain;
    assert.ok(g, 'validGain missing');
    const kept = r.curves.validNdcg10[r.curves.evalStep.indexOf(r.bestStep)];
    assert.ok(Math.abs(g.meanDiff - (kept - r.curves.validNdcg10[0])) < 1e-9, `gain ${g.meanDiff} vs curve ${kept} − ${r.curves.validNdcg10[0]}`);
    assert.equal(g.n, r.valid.n);
  }
  assert.deepEqual(second.validGain, full.validGain);
  // reasoning health at each evaluation: one value per evaluation, nothing changed at step 0, the resumed run compares
  // against the first process's step-0 texts
  const c = full.curves;
  for (const k of ['validReasoningTokens', 'validRepeatShare', 'validDistinctShare', 'validChangedShare'] as const) {
    assert.equal(c[k].length, c.evalStep.length, k);
    assert.deepEqual(second.curves[k], c[k], k);
  }
  assert.equal(c.validChangedShare[0], 0);
  assert.ok(c.validReasoningTokens.every((t) => t > 0), 'R²ec evaluations generate a reasoning');
  c.validDistinctShare.forEach((x) => assert.ok(x > 0 && x <= 1));
});

test('a non-finite loss stops the run with the step number', async () => {
  const job = await recJob({ optimizer: { lr: 1e38, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 0 }, steps: 6, evalEvery: 6 }, path.join(tmp, 'nan'));
  await assert.rejects(runRecPO(job, 1), (e: unknown) => e instanceof R2ecError && /not finite at step \d+/.test(e.message));
});

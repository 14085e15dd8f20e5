// Issue 9's acceptance on the synthetic shop (planted signal: complementary next kinds, brand habits; the setting
// where SASRec and GRU4Rec reach ≥ 1.5× Popularity, test/baselines-synthetic.test.ts): R²ec, trained by RecPO from the
// shipped synthetic backbone at the quick profile, beats Popularity on test NDCG@10 over the whole test split, by a
// paired t-test (samples paired by index). The dataset is the default synthetic one, not one made easy for R²ec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeConfig } from '../lib/experiment/config';
import { runExperiment } from '../lib/experiment/run';
import { pairedComparison } from '../lib/eval/stats';
import { shippedBackboneRoot } from '../lib/util/env';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-synthetic-'));
process.env.R2EC_LM_CACHE = path.join(tmp, 'lm');

test('R²ec from the shipped synthetic backbone beats Popularity on synthetic test NDCG@10 (paired t-test, p < 0.05)', async () => {
  const cfg = makeConfig({
    profile: 'quick',
    dataset: 'synthetic',
    set: {
      resultsDir: tmp,
      methods: [{ name: 'R²ec', kind: 'r2ec' }, { name: 'Popularity', kind: 'popularity' }],
      // a short RecPO run (minutes on 2 cores): the claim is about the method as the quick profile trains it
      'recpo.steps': 10,
      'recpo.evalEvery': 10,
      'eval.testSamples': 0,
      'eval.latencyRequests': 0,
      // the shipped backbone by folder: never a silent hour of backbone training here when the key drifted
      // (test/backbones-shipped.test.ts fails then, naming the command that retrains it)
      'backbone.from': path.join(shippedBackboneRoot(), 'synthetic'),
    },
  });
  const res = await runExperiment(cfg, { log: () => {} });
  assert.equal((res.manifest.backbone as { source: string }).source, 'given');
  const r2ec = res.methods.find((m) => m.name === 'R²ec')!;
  const pop = res.methods.find((m) => m.name === 'Popularity')!;
  assert.equal(r2ec.test.n, res.dataset.samples.test.length, 'the whole test split');
  const t = pairedComparison(r2ec.test, pop.test, 'NDCG@10');
  assert.ok(
    t.meanDiff > 0 && t.p < 0.05,
    `R²ec test NDCG@10 ${r2ec.test.metrics['NDCG@10'].toFixed(4)} vs Popularity ${pop.test.metrics['NDCG@10'].toFixed(4)} (p = ${t.p.toPrecision(2)})`,
  );
});

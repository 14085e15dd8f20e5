// The backbones shipped in backbones/<dataset>/ (README "The backbone stage"): each one's recorded key must equal
// the key the quick profile computes from today's code and data, or `npm start` and the quick notebooks would
// silently retrain (prepareBackbone never uses a backbone whose key differs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeConfig } from '../lib/experiment/config';
import { backboneKey, backboneShapingConfig, checkpointDir, readManifest } from '../lib/experiment/backbone';
import { stableStringify } from '../lib/util/hash';
import { loadDataset } from '../lib/data/registry';
import { shippedBackboneRoot } from '../lib/util/env';
import { dataTest, REAL } from './helpers/real-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-shipped-'));
process.env.R2EC_LM_CACHE = path.join(tmp, 'lm');

const retrain = (ds: string) => `retrain it: npx r2ec backbone train ${ds} -p quick --ship (then commit backbones/${ds}/)`;

/** `folder` (default: the dataset's name) was made by the quick profile with `set` from today's code and data. */
async function checkShipped(name: string, folder = name, set: Record<string, unknown> = {}, redo = retrain(name)): Promise<void> {
  const dir = path.join(shippedBackboneRoot(), folder);
  const manifest = readManifest(dir);
  assert.ok(manifest, `backbones/${folder}/manifest.json is missing`);
  assert.equal(manifest.dataset, name);
  assert.ok(fs.existsSync(path.join(dir, 'model.safetensors')), `backbones/${folder}/model.safetensors is missing`);
  const cfg = makeConfig({ profile: 'quick', dataset: name, set });
  const ds = await loadDataset(name, cfg.datasetOptions as never);
  const key = await backboneKey(ds, cfg, 1);
  assert.equal(key, manifest.key, `backbones/${folder} was made with other data, settings or code (its key ${manifest.key}, today's ${key}); ${redo}`);
}

test('the shipped synthetic backbone matches the quick profile of today\'s code', () => checkShipped('synthetic'));

dataTest('the shipped ml-100k backbone matches the quick profile of today\'s code and data', [REAL.ml100k], () => checkShipped('ml-100k'));

dataTest('the shipped cds backbone matches the quick profile of today\'s code and data', [REAL.cds], () => checkShipped('cds'));

// the first epoch, from which the quick profile's ml-100k backbone trains on (backbone.init = shipped:ml-100k-epoch1)
dataTest('backbones/ml-100k-epoch1 is one epoch from the warm-up, as today\'s code and data make it', [REAL.ml100k], () =>
  checkShipped('ml-100k', 'ml-100k-epoch1', { 'backbone.init': '', 'backbone.steps': 0 },
    'retrain it: npx r2ec backbone train ml-100k -p quick --set backbone.init= --set backbone.steps=0 --ship ml-100k-epoch1 (then retrain backbones/ml-100k: its key holds this one\'s)'));

test('shipped:<name> names a folder of the shipped backbones wherever the command runs; a path stays a path', () => {
  assert.equal(checkpointDir('shipped:ml-100k-epoch1'), path.join(shippedBackboneRoot(), 'ml-100k-epoch1'));
  assert.equal(checkpointDir('backbones/ml-100k-epoch1'), 'backbones/ml-100k-epoch1');
  const cfg = makeConfig({ profile: 'quick', dataset: 'ml-100k' });
  assert.equal(checkpointDir(cfg.backbone.init), path.join(shippedBackboneRoot(), 'ml-100k-epoch1'));
  assert.ok(fs.existsSync(path.join(checkpointDir(cfg.backbone.init), 'model.safetensors')), 'the quick profile\'s ml-100k init is shipped');
});

// what shapes a backbone (backboneShapingConfig: methods that agree on it share one) and what keys it agree: a setting
// that changes one changes the other, a RecPO-only setting changes neither
test('a setting changes the backbone key exactly when it changes the backbone-shaping config', async () => {
  const ds = await loadDataset('synthetic');
  const base = makeConfig({ profile: 'smoke', dataset: 'synthetic' });
  const key0 = await backboneKey(ds, base, 1);
  const shape0 = stableStringify(backboneShapingConfig(base));
  const cases: [Record<string, unknown>, boolean][] = [
    [{ 'recpo.promptHistory': 4 }, true],
    [{ 'recpo.pooling': 'mean' }, true],
    [{ 'recpo.head.tau': 0.05 }, true],
    [{ 'eval.validSamples': 20 }, true],
    [{ 'backbone.validSamples': 20 }, true],
    // the methods select on more samples while the backbone keeps its own (smoke's 24): the same backbone
    [{ 'eval.validSamples': 40, 'backbone.validSamples': 24 }, false],
    [{ 'backbone.negatives': 4 }, true],
    [{ seed: 7 }, true],
    [{ 'recpo.optimizer.lr': 3e-5 }, false],
    [{ 'recpo.groupSize': 4 }, false],
    [{ 'eval.testSamples': 40 }, false],
  ];
  for (const [set, changes] of cases) {
    const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set });
    assert.equal(stableStringify(backboneShapingConfig(cfg)) !== shape0, changes, `shaping config, ${JSON.stringify(set)}`);
    assert.equal((await backboneKey(ds, cfg, 1)) !== key0, changes, `backbone key, ${JSON.stringify(set)}`);
  }
});

// The hand-off commands as a user runs them (child processes of bin/r2ec.js): backbone info / logits (checked against
// the PyTorch reference logits), import of a LoRA adapter on its base (merged = applied), export of a workbench
// checkpoint in the Hugging Face layout, and `export rrec`'s DatasetDict (spec §1 "Output") read back with
// apache-arrow.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { forward, initParams, lmLogits, padBatch, disposeParams, type Params } from '../lib/model/decoder';
import { paramsToArrays, saveCheckpoint } from '../lib/model/checkpoint';
import { loadHFCheckpoint } from '../lib/model/hf/checkpoint';
import { addLora, saveAdapter } from '../lib/model/hf/lora';
import { trainTokenizer } from '../lib/text/bpe';
import { loadHFTokenizer } from '../lib/text/hf-tokenizer';
import { writeDatasetDict } from '../lib/data/hf-dataset';
import { generateSynthetic } from '../lib/data/synthetic';
import { userPrompt } from '../lib/text/prompts';
import { TINY_CASES, writeTinyCheckpoint } from './fixtures/hf/tiny-checkpoints';

const ROOT = path.resolve(__dirname, '..');
const EXPECTED = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures/hf/expected-logits.json'), 'utf8'));
let tmp: string;

function r2ec(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'r2ec.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(async () => {
  await initBackend({ log: false });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-hfcli-'));
  for (const name of ['gemma2-bf16-sharded', 'qwen2-bf16-tied']) writeTinyCheckpoint(TINY_CASES.find((c) => c.name === name)!, path.join(tmp, name));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

function logitsOf(params: Params, cfg: Parameters<typeof forward>[1], ids: number[]): Float32Array {
  const b = padBatch([ids], 'right');
  return tf.tidy(() => lmLogits(params, tf.reshape(forward(params, cfg, b), [ids.length, cfg.dModel]) as tf.Tensor2D, cfg).dataSync() as Float32Array);
}

test('r2ec backbone info and logits --json (= the PyTorch reference); bad folders exit 2 naming the file', async () => {
  const dir = path.join(tmp, 'gemma2-bf16-sharded');
  const info = await r2ec(['backbone', 'info', dir, '--json']);
  assert.equal(info.code, 0, info.stderr);
  const r = JSON.parse(info.stdout);
  assert.equal(r.architecture, 'Gemma2ForCausalLM');
  assert.deepEqual([r.layers, r.hiddenSize, r.heads, r.kvHeads, r.headDim, r.vocabSize, r.tiedEmbeddings], [2, 32, 4, 1, 8, 64, true]);
  assert.deepEqual(r.dtypes, { BF16: 24 });
  assert.equal(r.float32Bytes, r.parameters * 4);
  const text = await r2ec(['backbone', 'info', dir]);
  assert.match(text.stdout, /^architecture\s+Gemma2ForCausalLM$/m);
  const exp = EXPECTED.cases['gemma2-bf16-sharded'];
  const ids: number[] = exp.ids[0];
  const lg = await r2ec(['backbone', 'logits', dir, '--ids', ids.join(','), '--json']);
  assert.equal(lg.code, 0, lg.stderr);
  const got = JSON.parse(lg.stdout).logits as number[][];
  assert.equal(got.length, ids.length);
  assert.ok(maxDiff(got.flat(), exp.logits[0].flat()) < 2e-4);
  const bad = await r2ec(['backbone', 'info', path.join(tmp, 'missing')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /missing: not a folder/);
  const ids2 = await r2ec(['backbone', 'logits', dir, '--ids', '1,x']);
  assert.equal(ids2.code, 2);
  assert.match(ids2.stderr, /--ids.*comma-separated/);
});

test('r2ec import: a LoRA adapter on its base, merged into a backbone folder, gives the applied logits', async () => {
  const base = path.join(tmp, 'qwen2-bf16-tied');
  const m = loadHFCheckpoint(base);
  const lora = addLora(m.config, m.params, { rank: 2, alpha: 16, targets: ['q_proj', 'v_proj', 'down_proj'] }, 4);
  for (const [k, v] of Object.entries(lora.params)) if (k.endsWith('.lora_b')) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.02, 'float32', 3)));
  const adapter = path.join(tmp, 'adapter');
  saveAdapter(adapter, lora.config, lora.params); // no base_model_name_or_path: --base is required
  const ids = [5, 9, 33, 2, 17, 60];
  const applied = logitsOf(lora.params, lora.config, ids);
  const noBase = await r2ec(['import', adapter]);
  assert.equal(noBase.code, 2);
  assert.match(noBase.stderr, /adapter.*--base <dir>/);
  const out = path.join(tmp, 'imported');
  const imp = await r2ec(['import', adapter, '--base', base, '--out', out, '--dtype', 'f32']);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stdout, /--set model\.backbone=/);
  const lg = await r2ec(['backbone', 'logits', out, '--ids', ids.join(','), '--json']);
  assert.ok(maxDiff(JSON.parse(lg.stdout).logits.flat(), applied) < 1e-4);
  const viaAdapter = await r2ec(['backbone', 'logits', adapter, '--base', base, '--ids', ids.join(','), '--json']);
  assert.ok(maxDiff(JSON.parse(viaAdapter.stdout).logits.flat(), applied) < 1e-4);
  for (const [k, v] of Object.entries(lora.params)) if (k.includes('lora_')) v.dispose();
  disposeParams(m.params);
});

test('r2ec export model: a workbench checkpoint (our BPE) as a Hugging Face folder with tokenizer.json', async () => {
  const ds = generateSynthetic({ users: 20, items: 30, minPerUser: 6, maxPerUser: 12, seed: 2 });
  const tok = trainTokenizer(ds.items.slice(1).map((it) => it.title).concat(ds.samples.train.slice(0, 20).map((s) => userPrompt(ds, s))), { vocabSize: 400 });
  const cfg = modelConfig('tiny', { vocabSize: tok.vocabSize, maxSeqLen: 128, initStd: 0.2 });
  const params = initParams(cfg, 9);
  const ck = path.join(tmp, 'workbench-ck');
  saveCheckpoint(ck, { config: cfg, params: paramsToArrays(params), tokenizer: tok.toJSON() });
  const out = path.join(tmp, 'exported-small');
  const r = await r2ec(['export', 'model', ck, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const back = loadHFCheckpoint(out);
  const text = userPrompt(ds, ds.samples.test[0]).split('\n').slice(3).join('\n');
  const ids = tok.encode(text).slice(0, 60);
  assert.equal(maxDiff(logitsOf(params, cfg, ids), logitsOf(back.params, back.config, ids)), 0);
  assert.deepEqual(loadHFTokenizer(out).encode(text).slice(0, 60), ids);
  disposeParams(params);
  disposeParams(back.params);
});

test('DatasetDict (spec §1 "Output"): splits + item table as Arrow streams with dataset_info/state JSON', () => {
  const ds = generateSynthetic({ users: 30, items: 40, minPerUser: 6, maxPerUser: 15, seed: 4 });
  const dir = path.join(tmp, 'dsdict');
  const rows = writeDatasetDict(ds, dir);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'dataset_dict.json'), 'utf8')), { splits: ['train', 'valid', 'test', 'item_info'] });
  assert.deepEqual(rows, { train: ds.samples.train.length, valid: ds.samples.valid.length, test: ds.samples.test.length, item_info: ds.items.length });
  for (const split of ['train', 'valid', 'test', 'item_info']) {
    const state = JSON.parse(fs.readFileSync(path.join(dir, split, 'state.json'), 'utf8'));
    assert.deepEqual(state._data_files, [{ filename: 'data-00000-of-00001.arrow' }]);
    assert.match(state._fingerprint, /^[0-9a-f]{16}$/);
  }
  const read = (split: string) => tableFromIPC(fs.readFileSync(path.join(dir, split, 'data-00000-of-00001.arrow')));
  const train = read('train');
  assert.deepEqual(
    train.schema.fields.map((f) => f.name),
    ['user_id', 'item_asins', 'item_asin', 'history_item_id', 'item_id', 'history_item_title', 'item_title', 'history_rating', 'rating', 'history_timestamp', 'timestamp', 'interaction_id'],
  );
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'train', 'dataset_info.json'), 'utf8'));
  assert.deepEqual(info.features.history_item_id, { feature: { dtype: 'int64', _type: 'Value' }, _type: 'Sequence' });
  assert.deepEqual(info.features.item_title, { dtype: 'string', _type: 'Value' });
  assert.equal(JSON.parse(train.schema.metadata.get('huggingface')!).info.features.rating._type, 'Value');
  const s = ds.samples.train[7];
  const row = train.get(7)!.toJSON() as Record<string, { toArray(): ArrayLike<unknown> } & unknown>;
  assert.equal(row.user_id, ds.users[s.user]);
  assert.equal(row.item_id, BigInt(s.target.item));
  assert.equal(row.item_title, ds.items[s.target.item].title);
  assert.deepEqual(Array.from(row.history_item_id.toArray() as BigInt64Array, Number), s.history.map((h) => h.item));
  assert.deepEqual([...(row.history_item_title as unknown as Iterable<string>)], s.history.map((h) => ds.items[h.item].title));
  assert.deepEqual(Array.from(row.history_timestamp.toArray() as BigInt64Array, Number), s.history.map((h) => Math.round(h.timestamp * 1000)));
  assert.equal(row.timestamp, BigInt(Math.round(s.target.timestamp * 1000)));
  assert.equal(row.interaction_id, BigInt(s.index));
  const items = read('item_info');
  assert.equal(items.numRows, ds.items.length);
  assert.equal(items.get(0)!.toJSON().item_id, 1n, 'row id-1 is item id');
  const pad = items.get(items.numRows - 1)!.toJSON();
  assert.equal(pad.item_id, 0n);
  assert.equal(pad.title, 'pad_title');
});

test('r2ec export rrec --no-backbone: data + experiment.json for the official code', async () => {
  const out = path.join(tmp, 'rrec');
  const r = await r2ec(['export', 'rrec', '--dataset', 'synthetic', '--profile', 'smoke', '--out', out, '--no-backbone', '--set', 'datasetOptions={"users":30,"items":40,"minPerUser":6,"maxPerUser":15,"seed":4}']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(out, 'data', 'synthetic', 'dataset_dict.json')));
  const e = JSON.parse(fs.readFileSync(path.join(out, 'experiment.json'), 'utf8'));
  assert.equal(e.workbench.dataset, 'synthetic');
  assert.equal(e.official.num_generations, e.workbench.recpo.groupSize);
  assert.equal(e.official.model_name_or_path, null);
});

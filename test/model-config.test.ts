// Model configuration and backend selection (lib/model/config.ts, backend.ts): presets, validation errors naming the
// field, hand-computed parameter counts, and R2EC_BACKEND handling (in child processes: the backend is chosen once
// per process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { modelConfig, parameterCount, PRESETS, validateModelConfig, type ModelConfig } from '../lib/model/config';
import { paramShapes } from '../lib/model/decoder';
import { initBackend, backendName } from '../lib/model/backend';
import { ConfigError, R2ecError } from '../lib/util/errors';

const ROOT = path.resolve(__dirname, '..');

function configError(field: string, message?: RegExp) {
  return (e: unknown) => e instanceof ConfigError && e.field === field && (!message || message.test(e.message));
}

test('presets: ref is the stack notes reference configuration; unknown preset names the field and the choices', () => {
  const ref = modelConfig('ref');
  assert.deepEqual(
    [ref.vocabSize, ref.dModel, ref.nHeads, ref.nLayers, ref.maxSeqLen],
    [2000, 128, 4, 2, 128],
  );
  assert.throws(() => modelConfig('huge'), configError('model.preset', /unknown preset "huge"; choose one of tiny, small, base, ref/));
  // presets without a vocabulary need one (it comes from the tokenizer)
  assert.throws(() => modelConfig('tiny'), configError('model.vocabSize', /positive integer, got 0/));
  assert.equal(modelConfig('small', { vocabSize: 4000 }).vocabSize, 4000);
  for (const name of Object.keys(PRESETS)) modelConfig(name, { vocabSize: 100 }); // every preset is valid
});

test('validation: heads must divide the width (even head size), kv heads must divide heads, unknown keys, ranges', () => {
  const v = { vocabSize: 100 };
  assert.throws(() => modelConfig('tiny', { ...v, nHeads: 5 }), configError('model.nHeads', /5 heads do not divide the width dModel=32/));
  assert.throws(() => modelConfig('tiny', { ...v, dModel: 36, nHeads: 4, nKvHeads: 4 }), configError('model.nHeads', /head size 9 must be even/));
  assert.throws(() => modelConfig('tiny', { ...v, nKvHeads: 3 }), configError('model.nKvHeads', /3 key\/value heads do not divide nHeads=4/));
  assert.throws(() => modelConfig('tiny', { ...v, nLayers: 0 }), configError('model.nLayers'));
  assert.throws(() => modelConfig('tiny', { ...v, dFF: 2.5 }), configError('model.dFF'));
  assert.throws(() => modelConfig('tiny', { ...v, normEps: 0 }), configError('model.normEps'));
  assert.throws(() => modelConfig('tiny', { ...v, ropeTheta: -1 }), configError('model.ropeTheta'));
  assert.throws(
    () => modelConfig('tiny', { ...v, dModle: 64 } as unknown as Partial<ModelConfig>),
    configError('model.dModle', /unknown key/),
  );
  // a caller-chosen prefix (e.g. the experiment file) leads the field name
  assert.throws(
    () => validateModelConfig({ ...modelConfig('tiny', v), nKvHeads: 3 }, 'exp.yaml: model'),
    configError('exp.yaml: model.nKvHeads'),
  );
});

test('parameterCount: hand-computed for tiny (GQA) and ref, and equal to the sum of the tensor shapes', () => {
  // tiny, V=100: embed 100·32 = 3200; per layer: q,o 2·32·32 = 2048, k,v 2·32·16 = 1024 (2 kv heads of 8),
  // SwiGLU 3·32·64 = 6144, norms 64 → 9280; two layers 18560; final norm 32 → 21792
  const tiny = modelConfig('tiny', { vocabSize: 100 });
  assert.equal(parameterCount(tiny), 21792);
  // ref: embed 2000·128 = 256000; per layer 4·128² = 65536 + 3·128·341 = 130944 + 256 = 196736; ×2 + 128 → 649600
  const ref = modelConfig('ref');
  assert.equal(parameterCount(ref), 649600);
  for (const cfg of [tiny, ref, modelConfig('small', { vocabSize: 4000 }), modelConfig('base', { vocabSize: 8000 })]) {
    const total = Object.values(paramShapes(cfg)).reduce((s, sh) => s + sh.reduce((a, b) => a * b, 1), 0);
    assert.equal(parameterCount(cfg), total);
  }
});

/** initBackend in a fresh process with R2EC_BACKEND set; prints "OK <name>" or the error and exits 3. */
function backendChild(value: string | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.R2EC_BACKEND;
  if (value !== undefined) env.R2EC_BACKEND = value;
  const script =
    "require('tsx/cjs'); require('./lib/model/backend.ts').initBackend().then(" +
    "(n) => console.log('OK ' + n), (e) => { console.log(e.name + ': ' + e.message); process.exit(3); });";
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { cwd: ROOT, env }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: stdout.trim(), stderr }),
    );
  });
}

function tensorflowInstalled(): boolean {
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    return true;
  } catch {
    return false;
  }
}

test('R2EC_BACKEND: bogus → error; tensorflow without the package → error, not a silent fallback; cpu/wasm honoured', async () => {
  const [bogus, tensorflow, cpu, wasm, dflt] = await Promise.all([
    backendChild('bogus'),
    backendChild('tensorflow'),
    backendChild('cpu'),
    backendChild('wasm'),
    backendChild(undefined),
  ]);
  assert.equal(bogus.code, 3);
  assert.equal(bogus.stdout, 'R2ecError: R2EC_BACKEND="bogus" is not a backend; use one of tensorflow, wasm, cpu');
  if (tensorflowInstalled()) {
    assert.equal(tensorflow.stdout, 'OK tensorflow'); // a user's CUDA machine
  } else {
    assert.equal(tensorflow.code, 3);
    assert.equal(
      tensorflow.stdout,
      'R2ecError: backend "tensorflow" was requested (R2EC_BACKEND) but cannot load: tensorflow: package not installed',
    );
  }
  assert.equal(cpu.stdout, 'OK cpu', cpu.stderr);
  assert.match(cpu.stderr, /r2ec: backend cpu/);
  assert.equal(wasm.stdout, 'OK wasm', wasm.stderr);
  // the default order falls back from tensorflow to wasm here, and says why
  assert.equal(dflt.stdout, tensorflowInstalled() ? 'OK tensorflow' : 'OK wasm');
  if (!tensorflowInstalled()) assert.match(dflt.stderr, /r2ec: backend wasm \(tensorflow: package not installed\)/);
});

test('the backend is chosen once per process: asking for another one later is an error', async () => {
  const first = await initBackend({ log: false });
  assert.equal(backendName(), first);
  assert.equal(await initBackend({ log: false }), first);
  const other = first === 'cpu' ? 'wasm' : 'cpu';
  await assert.rejects(initBackend({ backend: other, log: false }), (e: unknown) =>
    e instanceof R2ecError && new RegExp(`already initialised as "${first}"; cannot switch to "${other}"`).test(e.message),
  );
});

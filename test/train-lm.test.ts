// LM warm-up trainer (lib/train/lm.ts) with checkpoints and data parallelism (lib/train/parallel.ts, grads.ts):
// resume after stopAfter and after a real SIGKILL reproduces the uninterrupted run exactly (losses and weights);
// world = 2 matches world = 1 up to float summation order and is itself reproducible; no tensor growth across steps;
// batch order and bad configurations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, paramNames, type Params } from '../lib/model/decoder';
import { loadCheckpoint } from '../lib/model/checkpoint';
import { batchWindows, trainLM, validateLMTrainConfig, windowStarts, type LMJob, type LMResult } from '../lib/train/lm';
import { shardRange } from '../lib/train/parallel';
import { DEFAULT_ADAMW } from '../lib/train/optimizer';
import { makeRng } from '../lib/util/rng';
import { ConfigError, R2ecError } from '../lib/util/errors';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-lm-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

before(async () => {
  await initBackend({ log: false });
});

/** A token stream with structure (a noisy repeating pattern), so that losses move and differ between steps. */
function tokenStream(n: number, seed: number, vocab: number): Int32Array {
  const rng = makeRng(seed);
  return Int32Array.from({ length: n }, (_, i) => (rng.next() < 0.3 ? rng.int(vocab) : (i * 7) % vocab));
}

function job(over: Partial<LMJob> = {}, steps = 6): LMJob {
  return {
    model: modelConfig('tiny', { vocabSize: 64, maxSeqLen: 32 }),
    train: {
      steps,
      batchSize: 4,
      seqLen: 16,
      optimizer: { ...DEFAULT_ADAMW, lr: 3e-3 },
      schedule: { kind: 'cosine', warmupSteps: 2, minRatio: 0.1 },
      evalEvery: 3,
      evalWindows: 4,
      checkpointEvery: 2,
      seed: 5,
    },
    trainTokens: tokenStream(17 * 30, 1, 64),
    valTokens: tokenStream(17 * 5, 2, 64),
    ...over,
  };
}

function weights(params: Params): Buffer[] {
  return Object.keys(params).map((k) => Buffer.from((params[k].dataSync() as Float32Array).buffer.slice(0)));
}

function assertSameWeights(a: Params, b: Params) {
  assert.deepEqual(Object.keys(a), Object.keys(b));
  const wa = weights(a);
  const wb = weights(b);
  Object.keys(a).forEach((k, i) => assert.ok(wa[i].equals(wb[i]), `weights of ${k} differ`));
}

let full: LMResult;
before(async () => {
  full = await trainLM(job(), 1);
});
after(() => disposeParams(full.params));

test('the uninterrupted run learns something and logs every step', () => {
  assert.deepEqual(full.curves.step, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(full.curves.valStep, [3, 6]);
  assert.ok(full.curves.loss.every(Number.isFinite));
  // warm-up then cosine: lr rises over 2 steps, then decays to 0.1·peak
  assert.deepEqual(full.curves.lr.slice(0, 2), [1.5e-3, 3e-3]);
  assert.ok(Math.abs(full.curves.lr[5] - 3e-3 * (0.1 + 0.9 * 0.5 * (1 + Math.cos((Math.PI * 3) / 4)))) < 1e-12);
  assert.ok(full.curves.loss[5] < full.curves.loss[0], `loss ${full.curves.loss}`);
  full.curves.valLoss.forEach((v, i) => assert.ok(Math.abs(full.curves.valPerplexity[i] - Math.exp(v)) < 1e-9));
});

test('resume after stopAfter (checkpoint every 2): later losses, curves and final weights equal the uninterrupted run exactly', async () => {
  for (const k of [4, 5]) {
    const dir = path.join(tmp, `stop-${k}`);
    const part = await trainLM(job({ checkpointDir: dir, stopAfter: k }), 1);
    assert.deepEqual(part.curves.loss, full.curves.loss.slice(0, k));
    disposeParams(part.params);
    // with k = 5 the last checkpoint is at step 4: step 4 is recomputed after the resume
    assert.equal(loadCheckpoint(dir).state!.step, 4);
    const resumed = await trainLM(job({ checkpointDir: dir }), 1);
    assert.deepEqual(resumed.curves, full.curves, `k=${k}`);
    assertSameWeights(resumed.params, full.params);
    disposeParams(resumed.params);
    // the final checkpoint holds the final weights
    const ck = loadCheckpoint(dir);
    assert.equal(ck.state!.step, 6);
    for (const n of paramNames(job().model)) {
      assert.ok(Buffer.from(ck.params[n].data.buffer).equals(Buffer.from((full.params[n].dataSync() as Float32Array).buffer.slice(0))), n);
    }
  }
});

test('resume after a real SIGKILL of a training process equals the uninterrupted run', async () => {
  const dir = path.join(tmp, 'killed');
  const j = job({ checkpointDir: dir });
  const jobFile = path.join(tmp, 'job.json');
  fs.writeFileSync(jobFile, JSON.stringify({ ...j, trainTokens: Array.from(j.trainTokens), valTokens: Array.from(j.valTokens) }));
  // the child trains with a pause after every step, so that the kill lands mid-run
  const script = `
    require('tsx/cjs');
    const j = JSON.parse(require('fs').readFileSync(${JSON.stringify(jobFile)}, 'utf8'));
    j.trainTokens = Int32Array.from(j.trainTokens); j.valTokens = Int32Array.from(j.valTokens);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    require('./lib/train/lm.ts').trainLM(j, 1, { onStep: (s) => { console.log('step ' + s.step); Atomics.wait(pause, 0, 0, 300); } })
      .then(() => console.log('finished'));`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const state = path.join(dir, 'trainer_state.json');
  const t0 = Date.now();
  while (!fs.existsSync(state)) {
    if (Date.now() - t0 > 60_000 || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', `child output:\n${out}`);
  assert.ok(!out.includes('finished'), 'the child finished before the kill');
  const k = loadCheckpoint(dir).state!.step as number;
  assert.ok(k >= 2 && k < 6, `checkpoint at step ${k}`);
  // the child's logged curves up to its checkpoint already equal ours (cross-process determinism)
  assert.deepEqual((loadCheckpoint(dir).state!.curves as { loss: number[] }).loss, full.curves.loss.slice(0, k));
  const resumed = await trainLM(j, 1);
  assert.deepEqual(resumed.curves.loss, full.curves.loss);
  assert.deepEqual(resumed.curves.valLoss, full.curves.valLoss);
  assertSameWeights(resumed.params, full.params);
  disposeParams(resumed.params);
});

test('data parallel: world 2 equals world 1 up to summation order, and world 2 twice is identical', async () => {
  const a = await trainLM(job(), 2);
  const b = await trainLM(job(), 2);
  assert.equal(a.world, 2);
  assert.deepEqual(b.curves, a.curves);
  assertSameWeights(a.params, b.params);
  // gradients are summed shard by shard instead of over the whole batch: float32 rounding differences only
  a.curves.loss.forEach((l, i) => assert.ok(Math.abs(l - full.curves.loss[i]) < 1e-4 * Math.abs(l), `step ${i}: ${l} vs ${full.curves.loss[i]}`));
  a.curves.valLoss.forEach((l, i) => assert.ok(Math.abs(l - full.curves.valLoss[i]) < 1e-4 * Math.abs(l), `val ${i}`));
  // and the weights stay close after 6 AdamW steps (lr 3e-3)
  const maxDiff = Math.max(...Object.keys(a.params).map((k) => {
    const x = a.params[k].dataSync();
    const y = full.params[k].dataSync();
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
    return m;
  }));
  assert.ok(maxDiff < 1e-3, `weights drift ${maxDiff}`);
  disposeParams(a.params);
  disposeParams(b.params);
});

test('the number of live tensors does not grow across training steps', async () => {
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const r = await trainLM(job({}, 8), 1, { onStep: () => counts.push(tf.memory().numTensors) });
  assert.equal(counts.length, 8);
  assert.ok(counts.every((c) => c === counts[0]), `tensors per step: ${counts}`);
  disposeParams(r.params);
  assert.equal(tf.memory().numTensors, before);
});

test('batch order: each epoch is a seeded permutation of the windows; shards split a batch contiguously', () => {
  // windows of seqLen + 1 tokens, stepping by seqLen: 0+17 ≤ 50, 16+17 ≤ 50, 32+17 ≤ 50, 48+17 > 50
  assert.deepEqual(windowStarts(50, 16), [0, 16, 32]);
  assert.deepEqual(windowStarts(16, 16), []);
  const draws = [0, 1, 2, 3, 4].flatMap((s) => batchWindows(s, 4, 10, 7)); // 20 draws = 2 epochs of 10
  assert.deepEqual([...draws.slice(0, 10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...draws.slice(10)].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(draws.slice(0, 10), draws.slice(10));
  assert.deepEqual(batchWindows(3, 4, 10, 7), draws.slice(12, 16)); // a pure function of the step
  assert.notDeepEqual(batchWindows(0, 4, 10, 8), batchWindows(0, 4, 10, 7));
  assert.deepEqual([0, 1, 2].map((r) => shardRange(8, r, 3)), [[0, 3], [3, 6], [6, 8]]);
  assert.deepEqual([0, 1].map((r) => shardRange(1, r, 2)), [[0, 1], [1, 1]]);
});

test('bad configurations and corpora are named', async () => {
  const t = job().train;
  assert.throws(() => validateLMTrainConfig({ ...t, steps: -1 }), (e: unknown) => e instanceof ConfigError && e.field === 'warmup.steps');
  assert.throws(() => validateLMTrainConfig({ ...t, batchSize: 0 }), (e: unknown) => e instanceof ConfigError && e.field === 'warmup.batchSize');
  assert.throws(() => validateLMTrainConfig({ ...t, seqLen: 1 }), (e: unknown) => e instanceof ConfigError && e.field === 'warmup.seqLen');
  assert.throws(() => validateLMTrainConfig({ ...t, checkpointEvery: 1.5 }), (e: unknown) => e instanceof ConfigError && e.field === 'warmup.checkpointEvery');
  assert.throws(
    () => validateLMTrainConfig({ ...t, optimizer: { ...t.optimizer, lr: 0 } }),
    (e: unknown) => e instanceof ConfigError && e.field === 'warmup.optimizer.lr',
  );
  await assert.rejects(trainLM(job({ trainTokens: new Int32Array(10) }), 1), (e: unknown) =>
    e instanceof R2ecError && /10 tokens, fewer than one window of 17/.test(e.message),
  );
  // a sequence longer than the model context is refused by the model, naming maxSeqLen
  await assert.rejects(trainLM(job({ train: { ...t, seqLen: 40 } }), 1), /maxSeqLen=32/);
});

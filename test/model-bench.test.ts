// `r2ec bench --json --quick` as a user runs it (a child process of bin/r2ec.js, which runs each kernel set in a
// child of its own): the JSON report has every field with the right type and internally consistent derived values
// (timings themselves are not checked: the machine is shared), the readable table shows them, and bad flags are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { formatBench, type BenchResult } from '../lib/cli/bench';

const ROOT = path.resolve(__dirname, '..');

function r2ec(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return r2ecEnv(args, {});
}

function r2ecEnv(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'r2ec.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const positive = (x: unknown, name: string) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${name} = ${x}`);
const nonNegative = (x: unknown, name: string) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x >= 0, `${name} = ${x}`);

/** What rounding allows between a printed rate (`digits` decimals) and n·1000/ms from the printed ms (0.1 ms): the
 *  ms rounding moves n·1000/ms by up to n·1000·0.05/ms², more when the step is fast; no timing bound. */
const rounding = (n: number, ms: number, digits: number) => (n * 1000 * 0.051) / ms ** 2 + 0.51 * 10 ** -digits;

test('r2ec bench --json --quick: both kernel sets in one run, every documented field, consistent derived values', async () => {
  // the recommender benches prepare a (tiny, untrained) LM: keep it out of the checkout's cache
  const r = await r2ecEnv(['bench', '--json', '--quick'], { R2EC_LM_CACHE: path.join(os.tmpdir(), `r2ec-bench-test-${process.pid}`) });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as BenchResult; // the whole of stdout is one JSON object (progress goes to stderr)
  assert.match(r.stderr, /bench\[\w+\]: training, ref \(V 2000, d 128, 4 heads, 2 layers, T 128, B 8\), world 2/);
  assert.equal(j.quick, true);
  assert.equal(typeof j.host.cpuModel, 'string');
  assert.ok(Number.isInteger(j.host.cores) && j.host.cores >= 1);
  assert.equal(j.host.loadAvgStart.length, 3);
  // native and wasm each ran (CI builds the module), or the note says why native could not
  const kinds = j.runs.map((s) => s.kernels);
  assert.ok(kinds.includes('wasm'), kinds.join());
  if (!kinds.includes('native')) assert.match(j.notes.join(' '), /native kernels: the bench process failed/);
  if (process.env.R2EC_NATIVE === '1') assert.deepEqual(kinds, ['native', 'wasm']);
  for (const s of j.runs) {
    const tag = s.kernels;
    assert.equal(s.backend, 'wasm');
    assert.equal(s.native?.active ?? false, tag === 'native');
    // --quick: the reference shape only (the stack notes' reference configuration), 4 steps of which 1 warm-up
    assert.deepEqual(Object.keys(s.train), ['ref']);
    const t = s.train.ref!;
    assert.deepEqual([t.parameters, t.tokensPerStep, t.steps, t.warmupSteps], [649600, 1024, 4, 1]);
    assert.deepEqual(t.worlds.map((w) => w.world), [1, 2]);
    for (const w of t.worlds) {
      assert.equal(w.stepMs.length, t.steps - t.warmupSteps);
      const sorted = [...w.stepMs].sort((a, b) => a - b);
      assert.ok(w.msPerStep >= sorted[0] && w.msPerStep <= sorted[sorted.length - 1], `${tag}: median within the steps`);
      // msPerStep is printed to 0.1 ms: allow that rounding (≈ 1024000·0.05/ms² tokens/s) plus 1 for the tps rounding
      assert.ok(Math.abs(w.tokensPerSec - (1024 * 1000) / w.msPerStep) <= (1024 * 1000 * 0.051) / w.msPerStep ** 2 + 1);
    }
    assert.equal(t.bestMsPerStep, Math.min(...t.worlds.map((w) => w.msPerStep)));
    positive(s.generateTokensPerSec, `${tag} generateTokensPerSec`);
    // a difference of two timings (8 new tokens minus 1): noise can make it 0 on a busy machine, never negative
    nonNegative(s.generateLatencyMsBatch1, `${tag} generateLatencyMsBatch1`);
    assert.equal(s.generate.batch, 8);
    positive(s.generate.prefillMs, `${tag} generate.prefillMs`);
    positive(s.generate.totalMs, `${tag} generate.totalMs`); // not compared with prefillMs: tests never fail on timing
    positive(s.encodeItemsPerSec, `${tag} encodeItemsPerSec`);
    assert.ok(Math.abs(s.encodeItemsPerSec - (s.encode.items * 1000) / s.encode.ms) <= (s.encode.items * 1000 * 0.051) / s.encode.ms ** 2 + 0.051);
    positive(s.peakRssMiB, `${tag} peakRssMiB`);
    // the recommender at the smoke profile on the synthetic shop: one timed step of each kind, 4 evaluated users
    const rec = s.rec!;
    assert.equal(rec.dataset, 'synthetic');
    assert.deepEqual([rec.model.preset, rec.usersPerStep, rec.groupSize, rec.maxNewTokens, rec.steps, rec.warmupSteps], ['tiny', 2, 2, 6, 2, 1]);
    assert.ok(rec.world >= 1 && rec.world <= 2);
    assert.equal(rec.contrastive.stepMs.length, 1);
    assert.ok(Math.abs(rec.contrastive.samplesPerSec - (2 * 1000) / rec.contrastive.msPerStep) <= rounding(2, rec.contrastive.msPerStep, 2));
    assert.ok(Math.abs(rec.recpo.usersPerSec - (2 * 1000) / rec.recpo.msPerStep) <= rounding(2, rec.recpo.msPerStep, 3));
    assert.ok(rec.recpo.rolloutTokens > 0 && rec.recpo.rolloutTokens <= 6);
    // the step's phases, rank 0, plus the rest: together the step (up to rounding and the slower rank's wait)
    for (const p of ['rollout generation', 'item encoding', 'all-reduce', 'reward', 'forward/backward', 'optimizer', 'other']) {
      assert.ok(rec.recpo.phases[p] >= 0, `${tag}: phase ${p}`);
    }
    positive(rec.recpo.phases['rollout generation'], `${tag} rollout generation`);
    positive(rec.recpo.phases['forward/backward'], `${tag} forward/backward`);
    // 'other' is the step's time the named phases leave (never below 0): named + other = max(step, named) up to the
    // 0.1 ms rounding of each of the 7 figures (one timed step, so the median step is the mean); no timing bound here
    const named = Object.entries(rec.recpo.phases).filter(([k]) => k !== 'other').reduce((a, [, v]) => a + v, 0);
    const sum = named + rec.recpo.phases.other;
    assert.ok(Math.abs(sum - Math.max(rec.recpo.msPerStep, named)) <= 0.5, `phases ${sum} (named ${named}) vs step ${rec.recpo.msPerStep}`);
    assert.deepEqual([rec.evaluate.users, rec.evaluate.catalogItems], [4, 300]);
    assert.ok(Math.abs(rec.evaluate.usersPerSec - (4 * 1000) / rec.evaluate.ms) <= rounding(4, rec.evaluate.ms, 2), `evaluate ${rec.evaluate.usersPerSec} users/s vs ${rec.evaluate.ms} ms`);
    assert.ok(rec.evaluate.reasoningTokens >= 1 && rec.evaluate.reasoningTokens <= 6);
    positive(rec.wasmHeapMiB, `${tag} wasmHeapMiB`);
  }
  // --quick skips the PyTorch anchor and says so; ratios against it are empty, the issue-10 training checks n/a
  assert.equal(j.torch, null);
  assert.match(j.torchNote!, /skipped/);
  assert.deepEqual(j.ratios.trainVsTorch, {});
  assert.equal(j.acceptance.trainRefVsTorch15, null);
  assert.equal(j.acceptance.trainLargerVsTorch10, null);
  const nat = j.runs.find((s) => s.kernels === 'native');
  const wasm = j.runs.find((s) => s.kernels === 'wasm')!;
  if (nat) {
    // native / wasm from the same run
    const nv = j.ratios.nativeVsWasm!;
    assert.ok(Math.abs(nv.train.ref! - wasm.train.ref!.bestMsPerStep / nat.train.ref!.bestMsPerStep) < 0.01);
    assert.ok(Math.abs(nv.recpo! - nat.rec!.recpo.usersPerSec / wasm.rec!.recpo.usersPerSec) < 0.01);
    assert.ok(Math.abs(nv.contrastive! - nat.rec!.contrastive.samplesPerSec / wasm.rec!.contrastive.samplesPerSec) < 0.01);
    assert.equal(j.acceptance.recpo2x, nv.recpo! >= 2);
    assert.equal(j.acceptance.contrastive2x, nv.contrastive! >= 2);
  }

  // the readable table carries the same figures, one column per kernel set
  const table = formatBench(j);
  const w1 = j.runs.map((s) => `${s.train.ref!.worlds[0].msPerStep >= 100 ? s.train.ref!.worlds[0].msPerStep.toFixed(0) : s.train.ref!.worlds[0].msPerStep.toFixed(1)} ms`);
  assert.match(table, new RegExp(`world 1\\s+${w1.join('\\s+')}`));
  assert.match(table, new RegExp(`${wasm.encodeItemsPerSec.toFixed(1)} items/s`));
  assert.match(table, new RegExp(`RecPO step \\(G 2, 6 new tokens\\)\\s+.*${wasm.rec!.recpo.usersPerSec.toFixed(3)} users/s`));
  assert.match(table, /rollout generation/);
  assert.match(table, /PyTorch anchor: skipped/);
  assert.match(table, new RegExp(`host\\s+${j.host.cpuModel.replace(/[()@.]/g, '.')}`));
  // with an anchor, its figures and the ratios are printed
  const withTorch = formatBench({
    ...j,
    torch: { version: '1.13.0', script: 'x.py', shapes: { ref: { ms1Thread: 700, ms2Threads: 400, best: 400 } } },
    ratios: { ...j.ratios, trainVsTorch: { ref: { wasm: 1.5, native: 4 } } },
  });
  assert.match(withTorch, /PyTorch 1\.13\.0 1 \/ 2 threads/);
  assert.match(withTorch, /700 \/ 400/);
  assert.match(withTorch, /wasm 1\.50×/);
});

test('r2ec bench: bad flags are named', async () => {
  const steps = await r2ec(['bench', '--quick', '--steps', '2']);
  assert.equal(steps.code, 2);
  assert.match(steps.stderr, /config field "--steps": must be an integer ≥ 3/);
  const vocab = await r2ec(['bench', '--vocab', 'many']);
  assert.equal(vocab.code, 2);
  assert.match(vocab.stderr, /config field "--vocab": expected an integer, got "many"/);
  const kernels = await r2ec(['bench', '--kernels', 'gpu']);
  assert.equal(kernels.code, 2);
  assert.match(kernels.stderr, /config field "--kernels": must be both, native or wasm, got "gpu"/);
});

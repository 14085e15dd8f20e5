// `r2ec bench --json --quick` as a user runs it (a child process of bin/r2ec.js): the JSON report has every field
// with the right type and internally consistent derived values (timings themselves are not checked: the machine is
// shared), the readable table shows them, and bad flags are named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { formatBench, type BenchResult } from '../lib/cli/bench';

const ROOT = path.resolve(__dirname, '..');

function r2ec(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin', 'r2ec.js'), ...args], { cwd: ROOT, env: process.env }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const positive = (x: unknown, name: string) => assert.ok(typeof x === 'number' && Number.isFinite(x) && x > 0, `${name} = ${x}`);

test('r2ec bench --json --quick: one JSON object with the documented fields and types', async () => {
  const r = await r2ec(['bench', '--json', '--quick']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as BenchResult; // the whole of stdout is one JSON object (progress goes to stderr)
  assert.match(r.stderr, /bench: training, reference configuration, world 2/);
  assert.ok(['wasm', 'cpu', 'tensorflow'].includes(j.backend));
  assert.equal(j.quick, true);
  assert.equal(typeof j.host.cpuModel, 'string');
  assert.ok(Number.isInteger(j.host.cores) && j.host.cores >= 1);
  assert.equal(j.host.loadAvgStart.length, 3);
  positive(j.trainTokensPerSec, 'trainTokensPerSec');
  positive(j.trainMsPerStep.world1, 'trainMsPerStep.world1');
  positive(j.trainMsPerStep.world2, 'trainMsPerStep.world2');
  // the reference configuration of the stack notes
  assert.deepEqual([j.train.preset, j.train.parameters, j.train.batchSize, j.train.seqLen, j.train.tokensPerStep], ['ref', 649600, 8, 128, 1024]);
  assert.deepEqual(j.train.worlds.map((w) => w.world), [1, 2]);
  for (const w of j.train.worlds) {
    // steps after warm-up, their median, and tokens/s derived from it
    assert.equal(w.stepMs.length, j.train.steps - j.train.warmupSteps);
    const sorted = [...w.stepMs].sort((a, b) => a - b);
    assert.ok(w.msPerStep >= sorted[0] && w.msPerStep <= sorted[sorted.length - 1]);
    // msPerStep is printed to 0.1 ms: allow that rounding (≈ 1024000·0.05/ms² tokens/s) plus 1 for the tps rounding
    assert.ok(Math.abs(w.tokensPerSec - (1024 * 1000) / w.msPerStep) <= (1024 * 1000 * 0.051) / w.msPerStep ** 2 + 1);
  }
  assert.equal(j.trainTokensPerSec, Math.max(...j.train.worlds.map((w) => w.tokensPerSec)));
  positive(j.generateTokensPerSec, 'generateTokensPerSec');
  positive(j.generateLatencyMsBatch1, 'generateLatencyMsBatch1');
  assert.equal(j.generate.batch, 8);
  assert.ok(j.generate.totalMs > j.generate.prefillMs);
  positive(j.generate.decodeTokensPerSec, 'decodeTokensPerSec');
  positive(j.encodeItemsPerSec, 'encodeItemsPerSec');
  assert.ok(Math.abs(j.encodeItemsPerSec - (j.encode.items * 1000) / j.encode.ms) <= (j.encode.items * 1000 * 0.051) / j.encode.ms ** 2 + 0.051);
  assert.ok(j.encode.meanTokens >= 80 && j.encode.meanTokens <= 120);
  positive(j.peakRssMiB, 'peakRssMiB');
  // --quick skips the PyTorch anchor and says so; torch and ratio are null together
  assert.equal(j.torch, null);
  assert.equal(j.ratio, null);
  assert.match(j.torchNote!, /skipped/);

  // the readable table carries the same figures
  const table = formatBench(j);
  assert.match(table, new RegExp(`world 1\\s+${j.trainMsPerStep.world1.toFixed(1)} ms/step`));
  assert.match(table, new RegExp(`world 2\\s+${j.trainMsPerStep.world2.toFixed(1)} ms/step`));
  assert.match(table, new RegExp(`${j.encodeItemsPerSec.toFixed(1)} items/s`));
  assert.match(table, /PyTorch anchor\s+skipped/);
  // with an anchor, the ratios are printed
  const withTorch = formatBench({
    ...j,
    torch: { stepMs2Threads: 400, stepMs1Thread: 700, version: '1.13.0', script: 'x.py' },
    ratio: { world1VsTorch1Thread: 2, world2VsTorch2Threads: 1.5, world1VsTorch2Threads: 1.1 },
  });
  assert.match(withTorch, /PyTorch 1\.13\.0 anchor \(same run\)\s+400\.0 ms\/step \(2 threads\), 700\.0 ms\/step \(1 thread\)/);
  assert.match(withTorch, /world 1 vs 1 thread\s+2\.00/);
});

test('r2ec bench: bad flags are named', async () => {
  const steps = await r2ec(['bench', '--quick', '--steps', '2']);
  assert.equal(steps.code, 2);
  assert.match(steps.stderr, /config field "--steps": must be an integer ≥ 3/);
  const vocab = await r2ec(['bench', '--vocab', 'many']);
  assert.equal(vocab.code, 2);
  assert.match(vocab.stderr, /config field "--vocab": expected an integer, got "many"/);
});

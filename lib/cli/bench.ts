// `r2ec bench`: throughput of the model engine on the current backend (stack notes, "TensorFlow.js on the wasm
// backend"): (a) LM training (forward + backward + AdamW) on the reference configuration with 1 and 2 data-parallel
// ranks, (b) KV-cache generation, (c) item encoding (forward + read-out), (d) peak memory; plus, where Debian's
// python3-torch is importable, the PyTorch anchor (../shared/bench/torch_anchor.py) with 2 threads and 1 thread in
// the same run, so that the ratio compares like with like on the same (possibly busy) machine.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { tf, initBackend } from '../model/backend';
import { modelConfig, parameterCount } from '../model/config';
import { disposeParams, initParams } from '../model/decoder';
import { generate, type SamplingConfig } from '../model/generate';
import { encodeSequences } from '../model/readout';
import { trainLM } from '../train/lm';
import { DEFAULT_ADAMW } from '../train/optimizer';
import { makeRng } from '../util/rng';
import { ConfigError } from '../util/errors';
import { intOption } from './data';

export interface BenchOptions {
  /** fewer steps and smaller generation/encoding workloads (CI smoke) */
  quick: boolean;
  /** training steps per world size, warm-up steps included (default 12; quick 4) */
  steps?: number;
  /** run the PyTorch anchor (default: yes, except with quick) */
  torch?: boolean;
  /** vocabulary of the generation/encoding model (a trained tokenizer's size; default 4000 as in the experiments) */
  vocab?: number;
  /** progress lines (default: stderr) */
  log?: (line: string) => void;
}

export interface TrainBench {
  world: number;
  /** median over the steps after warm-up */
  msPerStep: number;
  tokensPerSec: number;
  /** every measured step, ms */
  stepMs: number[];
}

export interface TorchAnchor {
  stepMs2Threads: number;
  stepMs1Thread: number;
  version: string;
  script: string;
}

export interface BenchResult {
  backend: string;
  quick: boolean;
  host: { cpuModel: string; cores: number; loadAvgStart: number[]; loadAvgEnd: number[]; node: string; tfjs: string };
  /** best of the world sizes */
  trainTokensPerSec: number;
  trainMsPerStep: { world1: number; world2: number };
  train: {
    preset: string;
    parameters: number;
    batchSize: number;
    seqLen: number;
    tokensPerStep: number;
    steps: number;
    warmupSteps: number;
    worlds: TrainBench[];
  };
  /** end to end (prefill included), batch 8 */
  generateTokensPerSec: number;
  /** per new token at batch 1, prefill excluded */
  generateLatencyMsBatch1: number;
  generate: {
    preset: string;
    vocabSize: number;
    batch: number;
    promptTokens: number;
    newTokens: number;
    sampling: SamplingConfig;
    prefillMs: number;
    totalMs: number;
    decodeTokensPerSec: number;
    batch1PromptTokens: number;
    batch1NewTokens: number;
  };
  encodeItemsPerSec: number;
  encode: { preset: string; items: number; meanTokens: number; batchSize: number; ms: number };
  /** process RSS high-water mark (worker threads included; the PyTorch child process is not) */
  peakRssMiB: number;
  torch: TorchAnchor | null;
  /** why torch is null */
  torchNote?: string;
  /** torch step_ms / our step_ms: > 1 means we are faster. world 1 vs 1 torch thread, world 2 vs 2 threads */
  ratio: { world1VsTorch1Thread: number; world2VsTorch2Threads: number; world1VsTorch2Threads: number } | null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** (a) reference-configuration training step time on `world` ranks: trainLM on a random-token stream. */
async function benchTrain(world: number, steps: number, warmup: number): Promise<TrainBench> {
  const model = modelConfig('ref');
  const batchSize = 8;
  const seqLen = model.maxSeqLen;
  const rng = makeRng(1);
  const tokens = Int32Array.from({ length: (seqLen + 1) * 64 }, () => rng.int(model.vocabSize));
  const stamps: number[] = [];
  const r = await trainLM(
    {
      model,
      train: {
        steps,
        batchSize,
        seqLen,
        optimizer: DEFAULT_ADAMW,
        schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 },
        evalEvery: 0,
        evalWindows: 1,
        checkpointEvery: 0,
        seed: 1,
      },
      trainTokens: tokens,
      valTokens: tokens.subarray(0, 2 * (seqLen + 1)),
    },
    world,
    { onStep: () => stamps.push(performance.now()) },
  );
  disposeParams(r.params);
  // step i's time is the gap between the callbacks of steps i−1 and i; the first `warmup` steps are skipped
  const stepMs = stamps.slice(1).map((t, i) => t - stamps[i]).slice(Math.max(0, warmup - 1));
  const ms = median(stepMs);
  return { world: r.world, msPerStep: round(ms), tokensPerSec: round((batchSize * seqLen * 1000) / ms, 0), stepMs: stepMs.map((x) => round(x)) };
}

function randomSeqs(n: number, len: () => number, vocab: number, seed: number): number[][] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len() }, () => 3 + rng.int(vocab - 3)));
}

/** (b) generation with the KV cache: batch 8 throughput and batch 1 per-token latency. */
function benchGenerate(vocab: number, quick: boolean): { res: BenchResult['generate']; tps: number; latency: number } {
  const cfg = modelConfig('small', { vocabSize: vocab });
  const params = initParams(cfg, 1);
  const B = 8;
  const promptTokens = quick ? 64 : 256;
  const newTokens = quick ? 8 : 64;
  // the RL rollout sampler (spec: temperature and top-k sampling); no stop tokens, so every row runs to the end
  const sampling: SamplingConfig = { temperature: 1, topK: 50, topP: 1, maxNewTokens: newTokens };
  const prompts = randomSeqs(B, () => promptTokens, vocab, 2);
  generate(params, cfg, prompts.map((p) => p.slice(0, 16)), { ...sampling, maxNewTokens: 2 }, makeRng(0)); // warm-up
  const time = (ps: number[][], n: number) => {
    const t0 = performance.now();
    generate(params, cfg, ps, { ...sampling, maxNewTokens: n }, makeRng(3));
    return performance.now() - t0;
  };
  const prefillMs = time(prompts, 1);
  const totalMs = time(prompts, newTokens);
  const one = [prompts[0]];
  const oneNew = quick ? 8 : 32;
  const latency = (time(one, oneNew) - time(one, 1)) / (oneNew - 1);
  disposeParams(params);
  const decodeTokensPerSec = (B * (newTokens - 1) * 1000) / Math.max(totalMs - prefillMs, 1e-6);
  return {
    res: {
      preset: 'small',
      vocabSize: vocab,
      batch: B,
      promptTokens,
      newTokens,
      sampling,
      prefillMs: round(prefillMs),
      totalMs: round(totalMs),
      decodeTokensPerSec: round(decodeTokensPerSec, 0),
      batch1PromptTokens: promptTokens,
      batch1NewTokens: oneNew,
    },
    tps: round((B * newTokens * 1000) / totalMs, 0),
    latency: round(Math.max(latency, 0), 2),
  };
}

/** (c) item encoding: forward + last-token read-out of item-prompt-sized sequences (~100 tokens). */
function benchEncode(vocab: number, quick: boolean): { res: BenchResult['encode']; ips: number } {
  const cfg = modelConfig('small', { vocabSize: vocab });
  const params = initParams(cfg, 1);
  const rng = makeRng(4);
  const n = quick ? 32 : 256;
  const seqs = randomSeqs(n, () => 80 + rng.int(41), vocab, 5);
  encodeSequences(params, cfg, seqs.slice(0, 4), 'last'); // warm-up
  const t0 = performance.now();
  encodeSequences(params, cfg, seqs, 'last', 32);
  const ms = performance.now() - t0;
  disposeParams(params);
  const meanTokens = seqs.reduce((s, q) => s + q.length, 0) / n;
  return { res: { preset: 'small', items: n, meanTokens: round(meanTokens), batchSize: 32, ms: round(ms) }, ips: round((n * 1000) / ms) };
}

/** The PyTorch anchor script: $R2EC_TORCH_ANCHOR, else ../shared/bench/torch_anchor.py from the project root or cwd. */
export function findTorchAnchor(): string | undefined {
  const root = path.resolve(__dirname, '..', '..');
  const candidates = [
    process.env.R2EC_TORCH_ANCHOR,
    path.resolve(root, '..', 'shared', 'bench', 'torch_anchor.py'),
    path.resolve(process.cwd(), '..', 'shared', 'bench', 'torch_anchor.py'),
    path.resolve(root, 'shared', 'bench', 'torch_anchor.py'),
  ].filter((p): p is string => !!p);
  return candidates.find((p) => fs.existsSync(p));
}

const PYTHON = '/usr/bin/python3';

/** Run the anchor with 2 and 1 threads; null plus the reason when it cannot run. */
function runTorchAnchor(log: (s: string) => void): { anchor: TorchAnchor | null; note?: string } {
  const script = findTorchAnchor();
  if (!script) return { anchor: null, note: 'torch_anchor.py not found (set R2EC_TORCH_ANCHOR or put it at ../shared/bench/)' };
  if (!fs.existsSync(PYTHON)) return { anchor: null, note: `${PYTHON} not found` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
  if (probe.status !== 0) return { anchor: null, note: `${PYTHON} cannot import torch (Debian package python3-torch)` };
  const run = (threads: number) => {
    log(`bench: PyTorch anchor, ${threads} thread${threads > 1 ? 's' : ''} (${script})`);
    const r = spawnSync(PYTHON, [script, String(threads)], { encoding: 'utf8', timeout: 600_000 });
    const m = /step_ms=([\d.]+)/.exec(r.stdout ?? '');
    if (r.status !== 0 || !m) throw new Error(`torch anchor failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
    return { ms: Number(m[1]), version: /torch (\S+)/.exec(r.stdout)?.[1] ?? '?' };
  };
  try {
    const two = run(2);
    const one = run(1);
    return { anchor: { stepMs2Threads: two.ms, stepMs1Thread: one.ms, version: two.version, script } };
  } catch (e) {
    return { anchor: null, note: (e as Error).message };
  }
}

export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const warmup = opts.quick ? 1 : 2;
  const steps = opts.steps ?? (opts.quick ? 4 : 12);
  if (!Number.isInteger(steps) || steps < warmup + 2) {
    throw new ConfigError('--steps', `must be an integer ≥ ${warmup + 2} (${warmup} warm-up steps are skipped), got ${steps}`);
  }
  const vocab = opts.vocab ?? 4000;
  if (!Number.isInteger(vocab) || vocab < 16) throw new ConfigError('--vocab', `must be an integer ≥ 16, got ${vocab}`);
  const backend = await initBackend();
  const loadAvgStart = os.loadavg().map((x) => round(x, 2));
  const ref = modelConfig('ref');
  const worlds: TrainBench[] = [];
  for (const world of [1, 2]) {
    log(`bench: training, reference configuration, world ${world}, ${steps} steps`);
    worlds.push(await benchTrain(world, steps, warmup));
  }
  log('bench: generation (KV cache)');
  const gen = benchGenerate(vocab, opts.quick);
  log('bench: item encoding');
  const enc = benchEncode(vocab, opts.quick);
  const peakRssMiB = round(process.resourceUsage().maxRSS / 1024);
  const useTorch = opts.torch ?? !opts.quick;
  const torch = useTorch ? runTorchAnchor(log) : { anchor: null, note: 'skipped (--quick or --no-torch)' };
  const [w1, w2] = worlds;
  const a = torch.anchor;
  const cpus = os.cpus();
  return {
    backend,
    quick: opts.quick,
    host: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cores: os.availableParallelism?.() ?? cpus.length,
      loadAvgStart,
      loadAvgEnd: os.loadavg().map((x) => round(x, 2)),
      node: process.version,
      tfjs: tf.version.tfjs,
    },
    trainTokensPerSec: Math.max(w1.tokensPerSec, w2.tokensPerSec),
    trainMsPerStep: { world1: w1.msPerStep, world2: w2.msPerStep },
    train: {
      preset: 'ref',
      parameters: parameterCount(ref),
      batchSize: 8,
      seqLen: ref.maxSeqLen,
      tokensPerStep: 8 * ref.maxSeqLen,
      steps,
      warmupSteps: warmup,
      worlds,
    },
    generateTokensPerSec: gen.tps,
    generateLatencyMsBatch1: gen.latency,
    generate: gen.res,
    encodeItemsPerSec: enc.ips,
    encode: enc.res,
    peakRssMiB,
    torch: a,
    ...(a ? {} : { torchNote: torch.note }),
    ratio: a
      ? {
          world1VsTorch1Thread: round(a.stepMs1Thread / w1.msPerStep, 2),
          world2VsTorch2Threads: round(a.stepMs2Threads / w2.msPerStep, 2),
          world1VsTorch2Threads: round(a.stepMs2Threads / w1.msPerStep, 2),
        }
      : null,
  };
}

/** The human-readable report. */
export function formatBench(r: BenchResult): string {
  const rows: [string, string][] = [
    ['backend', `${r.backend} (tfjs ${r.host.tfjs}, Node ${r.host.node})`],
    ['host', `${r.host.cpuModel}, ${r.host.cores} cores`],
    ['load average', `${r.host.loadAvgStart.join(' ')} at start, ${r.host.loadAvgEnd.join(' ')} at end${r.host.loadAvgStart[0] > r.host.cores * 0.5 ? '  (busy machine: timings are noisy)' : ''}`],
    ['', ''],
    [`train, ref (${(r.train.parameters / 1e6).toFixed(2)}M params, B ${r.train.batchSize} × T ${r.train.seqLen}), median of ${r.train.steps - r.train.warmupSteps} steps`, ''],
  ];
  for (const w of r.train.worlds) rows.push([`  world ${w.world}`, `${w.msPerStep.toFixed(1)} ms/step   ${w.tokensPerSec.toFixed(0)} tokens/s`]);
  rows.push(['', '']);
  const g = r.generate;
  rows.push([`generate, ${g.preset} (V ${g.vocabSize}), KV cache, top-k ${g.sampling.topK}`, '']);
  rows.push([`  batch ${g.batch}, ${g.promptTokens}-token prompts, ${g.newTokens} new`, `${r.generateTokensPerSec.toFixed(0)} tokens/s end to end (prefill ${g.prefillMs.toFixed(0)} ms, total ${g.totalMs.toFixed(0)} ms)`]);
  rows.push(['  decode only', `${g.decodeTokensPerSec.toFixed(0)} tokens/s`]);
  rows.push([`  batch 1 latency`, `${r.generateLatencyMsBatch1.toFixed(2)} ms/token`]);
  rows.push(['', '']);
  rows.push([`encode items, ${r.encode.preset}, ${r.encode.items} × ~${r.encode.meanTokens.toFixed(0)} tokens, last-token read-out`, `${r.encodeItemsPerSec.toFixed(1)} items/s`]);
  rows.push(['peak RSS', `${r.peakRssMiB.toFixed(0)} MiB`]);
  rows.push(['', '']);
  if (r.torch && r.ratio) {
    rows.push([`PyTorch ${r.torch.version} anchor (same run)`, `${r.torch.stepMs2Threads.toFixed(1)} ms/step (2 threads), ${r.torch.stepMs1Thread.toFixed(1)} ms/step (1 thread)`]);
    rows.push(['  ratio torch/ours, world 1 vs 1 thread', `${r.ratio.world1VsTorch1Thread.toFixed(2)}  (> 1: we are faster)`]);
    rows.push(['  ratio torch/ours, world 2 vs 2 threads', `${r.ratio.world2VsTorch2Threads.toFixed(2)}`]);
  } else {
    rows.push(['PyTorch anchor', r.torchNote ?? 'not run']);
  }
  const w = Math.max(...rows.filter(([, v]) => v).map(([k]) => k.length));
  return rows.map(([k, v]) => (v ? `${k.padEnd(w)}  ${v}` : k)).join('\n');
}

export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('benchmark the model engine: training (1 and 2 ranks), generation, item encoding, memory; PyTorch anchor')
    .option('--json', 'print one JSON object')
    .option('--quick', 'few steps and small workloads (CI smoke test); skips the PyTorch anchor unless --torch')
    .option('--steps <n>', 'training steps per world size, warm-up included (default 12; --quick 4)', intOption('--steps'))
    .option('--vocab <n>', 'vocabulary size of the generation/encoding model (default 4000)', intOption('--vocab'))
    .option('--torch', 'run the PyTorch anchor (default unless --quick)')
    .option('--no-torch', 'skip the PyTorch anchor')
    .action(async (flags: { json?: boolean; quick?: boolean; steps?: number; vocab?: number; torch?: boolean }) => {
      const r = await runBench({ quick: !!flags.quick, steps: flags.steps, vocab: flags.vocab, torch: flags.torch });
      console.log(flags.json ? JSON.stringify(r, null, 2) : formatBench(r));
    });
}

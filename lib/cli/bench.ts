// `r2ec bench` (= `npm run bench`): throughput of the workbench on this machine, at the level of the model engine
// and of the recommender (issue 10). Each kernel set — the native kernels (lib/model/native-kernels.ts) and the wasm
// kernels — runs in a child process of its own (R2EC_NATIVE=1 / 0), one after the other, in the same run:
//   (a) LM training (forward + backward + AdamW), 1 and 2 data-parallel ranks, at the stack notes' reference shape
//       and two larger ones (TRAIN_SHAPES);
//   (b) KV-cache generation and item encoding (small preset);
//   (c) the recommender: the contrastive step (two-tower, w/o reasoning; samples/s), one RecPO step (users/s with
//       G = 4 and 32 new tokens) with where its time goes, evaluation (users/s: greedy reasoning, read-out and
//       scores against the full catalog), all through lib/train/recpo/ at the quick profile's model and settings;
//   (d) peak memory (process RSS with its worker threads; the wasm heap).
// Where Debian's python3-torch is importable, the PyTorch anchor (../shared/bench/torch_anchor.py) runs every
// training shape with 1 and 2 threads in the same run; ratios compare against the faster of the two.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { tf, initBackend, nativeStatus, type NativeStatus } from '../model/backend';
import { modelConfig, parameterCount, type ModelConfig } from '../model/config';
import { disposeParams, initParams } from '../model/decoder';
import { generate, type SamplingConfig } from '../model/generate';
import { encodeSequences } from '../model/readout';
import { trainLM } from '../train/lm';
import { DEFAULT_ADAMW } from '../train/optimizer';
import { defaultWorld, runSpmd } from '../train/parallel';
import { recpoWorld } from '../train/recpo/worker';
import { loadDataset } from '../data/registry';
import { makeConfig, methodRecConfig } from '../experiment/config';
import { prepareLanguageModel } from '../experiment/language-model';
import { evalSubset } from '../experiment/run';
import { makeRng } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';
import { intOption } from './data';
import { benchRecRank, type RecBenchJob, type RecBenchRank } from './bench-rec';
import { envValue } from '../util/env';

// ---------------------------------------------------------------------------------------------------------------
// Shapes

export interface TrainShape {
  vocab: number;
  d: number;
  heads: number;
  layers: number;
  seq: number;
  batch: number;
}
export type ShapeName = 'ref' | 'mid' | 'wide';

/**
 * ref: the stack notes' reference step. mid and wide: the larger shapes of issue 10 (one with d ≥ 256, 4 layers,
 * T ≥ 256), where the backbone and RecPO steps live. Passed to the PyTorch anchor as `threads V D H L T B`.
 */
export const TRAIN_SHAPES: Record<ShapeName, TrainShape> = {
  ref: { vocab: 2000, d: 128, heads: 4, layers: 2, seq: 128, batch: 8 },
  mid: { vocab: 4000, d: 192, heads: 6, layers: 4, seq: 384, batch: 8 },
  wide: { vocab: 4000, d: 256, heads: 8, layers: 4, seq: 256, batch: 8 },
};

/** Our decoder at a shape: plain multi-head attention, SwiGLU width 8d/3 (the anchor's 4d GELU MLP in parameters and FLOPs). */
export function shapeModel(s: TrainShape): ModelConfig {
  return modelConfig('ref', { vocabSize: s.vocab, dModel: s.d, nHeads: s.heads, nKvHeads: s.heads, nLayers: s.layers, dFF: Math.round((8 * s.d) / 3), maxSeqLen: s.seq });
}

export const shapeLabel = (s: TrainShape) => `V ${s.vocab}, d ${s.d}, ${s.heads} heads, ${s.layers} layers, T ${s.seq}, B ${s.batch}`;

// ---------------------------------------------------------------------------------------------------------------
// Result types

export interface TrainBench {
  world: number;
  /** median over the steps after warm-up */
  msPerStep: number;
  tokensPerSec: number;
  /** every measured step, ms */
  stepMs: number[];
}

export interface TrainShapeBench {
  shape: TrainShape;
  parameters: number;
  tokensPerStep: number;
  steps: number;
  warmupSteps: number;
  worlds: TrainBench[];
  /** the faster world */
  bestMsPerStep: number;
}

export interface RecBench {
  dataset: string;
  /** the quick profile's LM (a fresh, untrained one: timing does not depend on the weights) */
  model: { preset: string; parameters: number; vocabSize: number; dModel: number; nLayers: number; maxSeqLen: number };
  world: number;
  usersPerStep: number;
  groupSize: number;
  maxNewTokens: number;
  /** steps per kind; the first warmupSteps are not timed */
  steps: number;
  warmupSteps: number;
  contrastive: { msPerStep: number; samplesPerSec: number; stepMs: number[] };
  recpo: {
    msPerStep: number;
    usersPerSec: number;
    stepMs: number[];
    /** mean generated tokens per rollout (the sampler stops at `<answer>` or maxNewTokens) */
    rolloutTokens: number;
    /** rank 0, ms per step and phase (exclusive); `other` = the rest of the step (prompt building, tokenising, glue) */
    phases: Record<string, number>;
  };
  evaluate: { users: number; ms: number; usersPerSec: number; reasoningTokens: number; catalogItems: number };
  wasmHeapMiB: number;
}

export interface BenchSection {
  kernels: 'native' | 'wasm';
  backend: string;
  native: NativeStatus | null;
  train: Partial<Record<ShapeName, TrainShapeBench>>;
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
  rec: RecBench | null;
  recNote?: string;
  /** process RSS high-water mark of this kernel set's process (worker threads included) */
  peakRssMiB: number;
}

export interface TorchAnchor {
  version: string;
  script: string;
  /** ms per step with 1 and 2 threads, per shape */
  shapes: Partial<Record<ShapeName, { ms1Thread: number; ms2Threads: number; best: number }>>;
}

export interface BenchResult {
  quick: boolean;
  host: { cpuModel: string; cores: number; loadAvgStart: number[]; loadAvgEnd: number[]; node: string; tfjs: string };
  /** one per kernel set measured: native (when its module loads) and wasm */
  runs: BenchSection[];
  /** kernel sets that could not run, and why */
  notes: string[];
  torch: TorchAnchor | null;
  torchNote?: string;
  ratios: {
    /** PyTorch's faster thread count / our faster world, per shape and kernel set: > 1 means we are faster */
    trainVsTorch: Partial<Record<ShapeName, Partial<Record<'native' | 'wasm', number>>>>;
    /** native throughput / wasm throughput, same run */
    nativeVsWasm: { train: Partial<Record<ShapeName, number>>; contrastive?: number; recpo?: number; evaluate?: number; generate: number; encode: number } | null;
  };
  /** issue 10's acceptance checks on this run's figures (null where a figure is missing) */
  acceptance: { trainRefVsTorch15: boolean | null; trainLargerVsTorch10: boolean | null; recpo2x: boolean | null; contrastive2x: boolean | null };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------------------------
// (a) training

/** Step time on `world` ranks: trainLM on a random-token stream. */
async function benchTrain(model: ModelConfig, batchSize: number, world: number, steps: number, warmup: number): Promise<TrainBench> {
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

// ---------------------------------------------------------------------------------------------------------------
// (b) generation and item encoding

function randomSeqs(n: number, len: () => number, vocab: number, seed: number): number[][] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, () => Array.from({ length: len() }, () => 3 + rng.int(vocab - 3)));
}

/** KV-cache generation: batch 8 throughput and batch 1 per-token latency. */
function benchGenerate(vocab: number, quick: boolean): { res: BenchSection['generate']; tps: number; latency: number } {
  const cfg = modelConfig('small', { vocabSize: vocab });
  const params = initParams(cfg, 1);
  const B = 8;
  const promptTokens = quick ? 64 : 256;
  const newTokens = quick ? 8 : 64;
  // the RL rollout sampler (spec: temperature and top-k sampling); no stop tokens, so every row runs to the end
  const sampling: SamplingConfig = { temperature: 1, topK: 50, topP: 1, maxNewTokens: newTokens };
  const prompts = randomSeqs(B, () => promptTokens, vocab, 2);
  generate(params, cfg, prompts.map((p) => p.slice(0, 16)), { ...sampling, maxNewTokens: 2 }, makeRng(0)); // warm-up
  // median of 3: the decode figures are differences of two timings, which one slow run can invert
  const time = (ps: number[][], n: number) => {
    const ms = [0, 1, 2].map(() => {
      const t0 = performance.now();
      generate(params, cfg, ps, { ...sampling, maxNewTokens: n }, makeRng(3));
      return performance.now() - t0;
    });
    return ms.sort((a, b) => a - b)[1];
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

/** Item encoding: forward + last-token read-out of item-prompt-sized sequences (~100 tokens). */
function benchEncode(vocab: number, quick: boolean): { res: BenchSection['encode']; ips: number } {
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

// ---------------------------------------------------------------------------------------------------------------
// (c) the recommender

async function benchRec(quick: boolean, datasetOpt: string | undefined, log: (s: string) => void): Promise<RecBench> {
  let dataset = datasetOpt ?? (quick ? 'synthetic' : 'ml-100k');
  let ds;
  try {
    ds = await loadDataset(dataset);
  } catch (e) {
    if (datasetOpt) throw e;
    log(`bench: ${dataset} is not available (${(e as Error).message.split('\n')[0]}); the recommender benches use the synthetic dataset`);
    dataset = 'synthetic';
    ds = await loadDataset(dataset);
  }
  // The quick profile (the smoke profile with --quick) as the experiments run it; an untrained LM (warm-up 0 steps).
  const cfg = makeConfig({
    profile: quick ? 'smoke' : 'quick',
    dataset,
    set: quick ? { 'warmup.steps': 0 } : { 'warmup.steps': 0, 'recpo.groupSize': 4, 'recpo.rollout.maxNewTokens': 32 },
  });
  const lm = await prepareLanguageModel(ds, cfg, 1, { log });
  const rec = methodRecConfig(cfg, { name: 'R²ec', kind: 'r2ec' });
  const world = recpoWorld(defaultWorld(), rec);
  const users = quick ? 4 : 32;
  const testIdx = evalSubset(ds.samples.test.length, users, cfg.seed, 'test');
  const steps = quick ? 2 : 3;
  const warmup = 1;
  const job: RecBenchJob = {
    rec: {
      method: 'bench',
      dataset: ds,
      tokenizer: lm.tokenizer,
      model: lm.model,
      initCheckpoint: lm.checkpoint,
      config: rec,
      validIdx: [],
      testIdx,
      workDir: path.join(os.tmpdir(), 'r2ec-bench'),
      latencyRequests: 0,
      keepTexts: 0,
      eval: { ks: cfg.eval.ks, maskHistory: cfg.eval.maskHistory },
    },
    steps,
    warmup,
  };
  log(`bench: recommender on ${dataset}, ${world} rank(s): contrastive, RecPO (G ${rec.groupSize}, ${rec.rollout.maxNewTokens} new tokens), evaluation`);
  const r = await runSpmd<RecBenchRank>({ module: path.join(__dirname, 'bench-rec.ts'), fn: 'benchRecRank', job }, benchRecRank as never, world);
  const cMs = median(r.contrastiveMs);
  const rMs = median(r.recpoMs);
  const n = r.recpoMs.length;
  const phases: Record<string, number> = {};
  let sum = 0;
  for (const [k, v] of Object.entries(r.phases)) {
    phases[k] = round(v / n);
    sum += v / n;
  }
  phases.other = round(Math.max(0, r.recpoMs.reduce((a, b) => a + b, 0) / n - sum));
  const m = lm.model;
  return {
    dataset,
    model: { preset: cfg.model.preset, parameters: parameterCount(m), vocabSize: m.vocabSize, dModel: m.dModel, nLayers: m.nLayers, maxSeqLen: m.maxSeqLen },
    world: r.world,
    usersPerStep: rec.usersPerStep,
    groupSize: rec.groupSize,
    maxNewTokens: rec.rollout.maxNewTokens,
    steps,
    warmupSteps: warmup,
    contrastive: { msPerStep: round(cMs), samplesPerSec: round((rec.usersPerStep * 1000) / cMs, 2), stepMs: r.contrastiveMs.map((x) => round(x)) },
    recpo: { msPerStep: round(rMs), usersPerSec: round((rec.usersPerStep * 1000) / rMs, 3), stepMs: r.recpoMs.map((x) => round(x)), rolloutTokens: round(r.rolloutTokens), phases },
    evaluate: {
      users: r.evaluateUsers,
      ms: round(r.evaluateMs),
      usersPerSec: round((r.evaluateUsers * 1000) / r.evaluateMs, 2),
      reasoningTokens: round(r.evaluateTokens),
      catalogItems: ds.items.length - 1,
    },
    wasmHeapMiB: round(r.wasmHeapMiB),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One kernel set (runs in a child process)

export interface SectionOptions {
  quick: boolean;
  /** training steps at the reference shape (larger shapes: half, at least 4) */
  steps: number;
  shapes: ShapeName[];
  vocab: number;
  rec: boolean;
  dataset?: string;
  /** skip the training shapes and the engine benches (only the recommender): development runs */
  recOnly?: boolean;
}

export async function runBenchSection(o: SectionOptions, log: (s: string) => void): Promise<BenchSection> {
  const backend = await initBackend({ log: false });
  const ns = nativeStatus() ?? null;
  const kernels: BenchSection['kernels'] = ns?.active ? 'native' : 'wasm';
  const tag = `bench[${kernels}]`;
  const train: BenchSection['train'] = {};
  for (const name of o.recOnly ? [] : o.shapes) {
    const shape = TRAIN_SHAPES[name];
    const model = shapeModel(shape);
    const steps = name === 'ref' ? o.steps : Math.max(4, Math.round(o.steps / 2));
    const warmup = o.quick ? 1 : 2;
    const worlds: TrainBench[] = [];
    for (const world of [1, 2]) {
      log(`${tag}: training, ${name} (${shapeLabel(shape)}), world ${world}, ${steps} steps`);
      worlds.push(await benchTrain(model, shape.batch, world, steps, warmup));
    }
    train[name] = {
      shape,
      parameters: parameterCount(model),
      tokensPerStep: shape.batch * shape.seq,
      steps,
      warmupSteps: warmup,
      worlds,
      bestMsPerStep: Math.min(...worlds.map((w) => w.msPerStep)),
    };
  }
  log(`${tag}: generation (KV cache)`);
  const gen = o.recOnly ? undefined : benchGenerate(o.vocab, o.quick);
  log(`${tag}: item encoding`);
  const enc = o.recOnly ? undefined : benchEncode(o.vocab, o.quick);
  let rec: RecBench | null = null;
  let recNote: string | undefined;
  if (o.rec) rec = await benchRec(o.quick, o.dataset, (s) => log(s.replace(/^bench:/, `${tag}:`)));
  else recNote = 'skipped (--no-rec)';
  return {
    kernels,
    backend,
    native: ns,
    train,
    generateTokensPerSec: gen?.tps ?? 0,
    generateLatencyMsBatch1: gen?.latency ?? 0,
    generate: gen?.res ?? ({} as BenchSection['generate']),
    encodeItemsPerSec: enc?.ips ?? 0,
    encode: enc?.res ?? ({} as BenchSection['encode']),
    rec,
    ...(recNote ? { recNote } : {}),
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
  };
}

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'r2ec.js');

/** Run one kernel set in a child process (R2EC_NATIVE=1 or 0); progress passes through to our stderr. */
function runSectionChild(kernels: 'native' | 'wasm', o: SectionOptions): { section?: BenchSection; note?: string } {
  const r = spawnSync(process.execPath, [BIN, 'bench', '--section', JSON.stringify(o)], {
    env: { ...process.env, R2EC_NATIVE: kernels === 'native' ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0) {
    return { note: `${kernels} kernels: the bench process failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}; its error is printed above)` };
  }
  return { section: JSON.parse(r.stdout) as BenchSection };
}

// ---------------------------------------------------------------------------------------------------------------
// The PyTorch anchor

/** The PyTorch anchor script: $R2EC_TORCH_ANCHOR, else ../shared/bench/torch_anchor.py from the project root or cwd. */
export function findTorchAnchor(): string | undefined {
  const root = path.resolve(__dirname, '..', '..');
  const candidates = [
    envValue('R2EC_TORCH_ANCHOR'),
    path.resolve(root, '..', 'shared', 'bench', 'torch_anchor.py'),
    path.resolve(process.cwd(), '..', 'shared', 'bench', 'torch_anchor.py'),
    path.resolve(root, 'shared', 'bench', 'torch_anchor.py'),
  ].filter((p): p is string => !!p);
  return candidates.find((p) => fs.existsSync(p));
}

const PYTHON = '/usr/bin/python3';

/** Every shape with 1 and 2 threads (arguments `threads V D H L T B`); null plus the reason when it cannot run. */
function runTorchAnchor(shapes: ShapeName[], log: (s: string) => void): { anchor: TorchAnchor | null; note?: string } {
  const script = findTorchAnchor();
  if (!script) return { anchor: null, note: 'torch_anchor.py not found (set R2EC_TORCH_ANCHOR or put it at ../shared/bench/)' };
  if (!fs.existsSync(PYTHON)) return { anchor: null, note: `${PYTHON} not found` };
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
  if (probe.status !== 0) return { anchor: null, note: `${PYTHON} cannot import torch (Debian package python3-torch)` };
  const run = (threads: number, s: TrainShape) => {
    log(`bench: PyTorch anchor, ${threads} thread${threads > 1 ? 's' : ''}, ${shapeLabel(s)}`);
    const args = [script, String(threads), ...[s.vocab, s.d, s.heads, s.layers, s.seq, s.batch].map(String)];
    const r = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 1_200_000 });
    const m = /step_ms=([\d.]+)/.exec(r.stdout ?? '');
    if (r.status !== 0 || !m) throw new Error(`torch anchor failed (exit ${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
    return { ms: Number(m[1]), version: /torch (\S+)/.exec(r.stdout)?.[1] ?? '?' };
  };
  try {
    const out: TorchAnchor = { version: '?', script, shapes: {} };
    for (const name of shapes) {
      const one = run(1, TRAIN_SHAPES[name]);
      const two = run(2, TRAIN_SHAPES[name]);
      out.version = one.version;
      out.shapes[name] = { ms1Thread: one.ms, ms2Threads: two.ms, best: Math.min(one.ms, two.ms) };
    }
    return { anchor: out };
  } catch (e) {
    return { anchor: null, note: (e as Error).message };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The whole run

export interface BenchOptions {
  /** fewer steps, the reference shape only, small recommender workloads (CI smoke); skips the PyTorch anchor */
  quick: boolean;
  /** training steps at the reference shape, warm-up included (default 12; quick 4; larger shapes: half, ≥ 4) */
  steps?: number;
  /** run the PyTorch anchor (default: yes, except with quick) */
  torch?: boolean;
  /** vocabulary of the generation/encoding model (default 4000 as in the experiments) */
  vocab?: number;
  /** which kernel sets: both (default), native, wasm */
  kernels?: 'both' | 'native' | 'wasm';
  /** run the recommender-level benches (default yes) */
  rec?: boolean;
  /** dataset of the recommender benches (default ml-100k, else synthetic; quick: synthetic) */
  dataset?: string;
  /** only the recommender benches (development) */
  recOnly?: boolean;
  /** progress lines (default: stderr) */
  log?: (line: string) => void;
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
  const which = opts.kernels ?? 'both';
  if (!['both', 'native', 'wasm'].includes(which)) throw new ConfigError('--kernels', `must be both, native or wasm, got "${which}"`);
  const shapes: ShapeName[] = opts.quick ? ['ref'] : ['ref', 'mid', 'wide'];
  const loadAvgStart = os.loadavg().map((x) => round(x, 2));
  const section: SectionOptions = {
    quick: opts.quick, steps, shapes, vocab, rec: opts.rec ?? true, recOnly: opts.recOnly, ...(opts.dataset ? { dataset: opts.dataset } : {}),
  };
  const runs: BenchSection[] = [];
  const notes: string[] = [];
  for (const k of which === 'both' ? (['native', 'wasm'] as const) : [which]) {
    log(`bench: ${k} kernels (a process of their own, R2EC_NATIVE=${k === 'native' ? 1 : 0})`);
    const r = runSectionChild(k, section);
    if (r.section) runs.push(r.section);
    else notes.push(r.note!);
  }
  if (runs.length === 0) throw new R2ecError(`bench: no kernel set could run: ${notes.join('; ')}`);
  const useTorch = !opts.recOnly && (opts.torch ?? !opts.quick);
  const torch = useTorch ? runTorchAnchor(shapes, log) : { anchor: null, note: 'skipped (--quick or --no-torch)' };
  const a = torch.anchor;
  const nat = runs.find((r) => r.kernels === 'native');
  const wasm = runs.find((r) => r.kernels === 'wasm');
  const trainVsTorch: BenchResult['ratios']['trainVsTorch'] = {};
  if (a) {
    for (const name of shapes) {
      const t = a.shapes[name];
      if (!t) continue;
      trainVsTorch[name] = {};
      for (const r of runs) {
        const ours = r.train[name];
        if (ours) trainVsTorch[name]![r.kernels] = round(t.best / ours.bestMsPerStep, 2);
      }
    }
  }
  const speed = (x?: number, y?: number) => (x && y ? round(x / y, 2) : undefined);
  const nativeVsWasm: BenchResult['ratios']['nativeVsWasm'] =
    nat && wasm
      ? {
          train: Object.fromEntries(shapes.map((s) => [s, speed(wasm.train[s]?.bestMsPerStep, nat.train[s]?.bestMsPerStep)])),
          contrastive: speed(nat.rec?.contrastive.samplesPerSec, wasm.rec?.contrastive.samplesPerSec),
          recpo: speed(nat.rec?.recpo.usersPerSec, wasm.rec?.recpo.usersPerSec),
          evaluate: speed(nat.rec?.evaluate.usersPerSec, wasm.rec?.evaluate.usersPerSec),
          generate: speed(nat.generateTokensPerSec, wasm.generateTokensPerSec)!,
          encode: speed(nat.encodeItemsPerSec, wasm.encodeItemsPerSec)!,
        }
      : null;
  const best = nat ?? wasm!;
  const vsTorch = (s: ShapeName) => trainVsTorch[s]?.[best.kernels];
  const larger = (['mid', 'wide'] as ShapeName[]).map(vsTorch);
  const cpus = os.cpus();
  return {
    quick: opts.quick,
    host: {
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cores: os.availableParallelism?.() ?? cpus.length,
      loadAvgStart,
      loadAvgEnd: os.loadavg().map((x) => round(x, 2)),
      node: process.version,
      tfjs: tf.version.tfjs,
    },
    runs,
    notes,
    torch: a,
    ...(a ? {} : { torchNote: torch.note }),
    ratios: { trainVsTorch, nativeVsWasm },
    acceptance: {
      trainRefVsTorch15: vsTorch('ref') === undefined ? null : vsTorch('ref')! >= 1.5,
      trainLargerVsTorch10: larger.some((x) => x === undefined) ? null : larger.every((x) => x! >= 1.0),
      recpo2x: nativeVsWasm?.recpo === undefined ? null : nativeVsWasm.recpo >= 2,
      contrastive2x: nativeVsWasm?.contrastive === undefined ? null : nativeVsWasm.contrastive >= 2,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The readable report

const fmtMs = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** The human-readable report: one column per kernel set, then PyTorch and the ratios. */
export function formatBench(r: BenchResult): string {
  const cols = r.runs.map((s) => s.kernels);
  const rows: string[][] = [];
  const section = (title: string) => rows.push([title]);
  const row = (label: string, f: (s: BenchSection) => string | undefined, extra: string[] = []) =>
    rows.push([`  ${label}`, ...r.runs.map((s) => f(s) ?? '–'), ...extra]);
  const out: string[] = [];
  out.push(`host          ${r.host.cpuModel}, ${r.host.cores} cores; Node ${r.host.node}, tfjs ${r.host.tfjs}`);
  const busy = r.host.loadAvgStart[0] > r.host.cores * 0.5 ? '  (busy machine: timings are noisy)' : '';
  out.push(`load average  ${r.host.loadAvgStart.join(' ')} at start, ${r.host.loadAvgEnd.join(' ')} at end${busy}`);
  for (const s of r.runs) {
    const n = s.native;
    out.push(`${s.kernels.padEnd(13)} backend ${s.backend}${n?.active ? `, ${n.blas?.trim()} (${n.threads} BLAS thread per rank)` : n ? `, native kernels off (${n.reason})` : ''}`);
  }
  for (const note of r.notes) out.push(`note          ${note}`);
  out.push('');
  const head = ['', ...cols, ...(r.torch ? [`PyTorch ${r.torch.version} 1 / 2 threads`, 'torch best / ours'] : [])];
  rows.push(head);
  for (const name of Object.keys(TRAIN_SHAPES) as ShapeName[]) {
    const any = r.runs.find((s) => s.train[name]);
    if (!any) continue;
    const t = any.train[name]!;
    section(`train ${name} (${shapeLabel(t.shape)}; ${(t.parameters / 1e6).toFixed(2)}M params), ms/step, median of ${t.steps - t.warmupSteps}`);
    for (const world of [1, 2]) {
      const torchCell = r.torch?.shapes[name] ? [world === 1 ? `${fmtMs(r.torch.shapes[name]!.ms1Thread)} / ${fmtMs(r.torch.shapes[name]!.ms2Threads)}` : '', ''] : r.torch ? ['', ''] : [];
      if (world === 2 && r.torch) {
        const ratio = r.ratios.trainVsTorch[name];
        torchCell[1] = ratio ? cols.map((c) => `${c} ${ratio[c]?.toFixed(2) ?? '–'}×`).join(', ') : '';
      }
      row(`world ${world}`, (s) => {
        const w = s.train[name]?.worlds.find((x) => x.world === world);
        return w ? `${fmtMs(w.msPerStep)} ms` : undefined;
      }, torchCell);
    }
  }
  if (r.runs[0].generateTokensPerSec > 0) {
    section('model engine (small preset)');
    row(`generate, batch ${r.runs[0].generate.batch}, ${r.runs[0].generate.promptTokens}+${r.runs[0].generate.newTokens} tokens`, (s) => `${s.generateTokensPerSec} tok/s`);
    row('generate, batch 1 latency', (s) => `${s.generateLatencyMsBatch1.toFixed(2)} ms/tok`);
    row(`encode items, ${r.runs[0].encode.items} × ~${r.runs[0].encode.meanTokens.toFixed(0)} tokens`, (s) => `${s.encodeItemsPerSec.toFixed(1)} items/s`);
  }
  const rec = r.runs.find((s) => s.rec)?.rec;
  if (rec) {
    section(`recommender (${rec.dataset}, ${rec.model.preset} LM ${(rec.model.parameters / 1e6).toFixed(2)}M params, ${rec.world} rank(s), ${rec.usersPerStep} users/step)`);
    row('contrastive step (w/o reasoning)', (s) => (s.rec ? `${s.rec.contrastive.samplesPerSec.toFixed(2)} samples/s` : undefined));
    row(`RecPO step (G ${rec.groupSize}, ${rec.maxNewTokens} new tokens)`, (s) => (s.rec ? `${s.rec.recpo.usersPerSec.toFixed(3)} users/s` : undefined));
    row('  mean rollout length', (s) => (s.rec ? `${s.rec.recpo.rolloutTokens.toFixed(1)} tokens` : undefined));
    row(`evaluate (${rec.evaluate.users} users × ${rec.evaluate.catalogItems} items)`, (s) => (s.rec ? `${s.rec.evaluate.usersPerSec.toFixed(2)} users/s` : undefined));
    row('  mean greedy reasoning', (s) => (s.rec ? `${s.rec.evaluate.reasoningTokens.toFixed(1)} tokens` : undefined));
    section('one RecPO step, rank 0, ms (exclusive)');
    const phaseNames = [...new Set(r.runs.flatMap((s) => Object.keys(s.rec?.recpo.phases ?? {})))];
    for (const p of phaseNames) row(p, (s) => (s.rec?.recpo.phases[p] !== undefined ? `${fmtMs(s.rec.recpo.phases[p])} ms` : undefined));
    row('total', (s) => (s.rec ? `${fmtMs(s.rec.recpo.msPerStep)} ms` : undefined));
  } else {
    section(`recommender: ${r.runs[0].recNote ?? 'not run'}`);
  }
  section('memory');
  row('peak RSS (process + worker threads)', (s) => `${s.peakRssMiB.toFixed(0)} MiB`);
  row('wasm heap of a rank (recommender)', (s) => (s.rec ? `${s.rec.wasmHeapMiB.toFixed(0)} MiB` : undefined));
  const nv = r.ratios.nativeVsWasm;
  if (nv) {
    section('native / wasm, same run');
    const cell = (x?: number) => (x === undefined ? '–' : `${x.toFixed(2)}×`);
    rows.push([`  training ${Object.entries(nv.train).map(([k, v]) => `${k} ${cell(v)}`).join(', ')}`]);
    rows.push([`  contrastive ${cell(nv.contrastive)}, RecPO ${cell(nv.recpo)}, evaluate ${cell(nv.evaluate)}, generate ${cell(nv.generate)}, encode ${cell(nv.encode)}`]);
  }
  if (!r.torch) rows.push([`PyTorch anchor: ${r.torchNote ?? 'not run'}`]);
  const acc = r.acceptance;
  const yn = (b: boolean | null) => (b === null ? 'n/a' : b ? 'yes' : 'NO');
  rows.push([`issue 10 checks: train ref ≥ 1.5× torch ${yn(acc.trainRefVsTorch15)}; larger shapes ≥ 1.0× ${yn(acc.trainLargerVsTorch10)}; RecPO ≥ 2× wasm ${yn(acc.recpo2x)}; contrastive ≥ 2× wasm ${yn(acc.contrastive2x)}`]);
  // align the table part (rows with more than one cell)
  const widths: number[] = [];
  for (const rw of rows) if (rw.length > 1) rw.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  for (const rw of rows) out.push(rw.length > 1 ? rw.map((c, i) => (i === 0 ? c.padEnd(widths[0]) : c.padStart(widths[i]))).join('  ').trimEnd() : rw[0]);
  return out.join('\n');
}

export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('benchmark training (3 shapes, 1 and 2 ranks), generation, encoding, the recommender steps and memory, native vs wasm kernels; PyTorch anchor')
    .option('--json', 'print one JSON object')
    .option('--quick', 'few steps, the reference shape only, small recommender workloads (CI smoke test); skips the PyTorch anchor unless --torch')
    .option('--steps <n>', 'training steps at the reference shape, warm-up included (default 12; --quick 4); larger shapes run half', intOption('--steps'))
    .option('--vocab <n>', 'vocabulary size of the generation/encoding model (default 4000)', intOption('--vocab'))
    .option('--kernels <set>', 'both (default), native or wasm')
    .option('--dataset <name>', 'dataset of the recommender benches (default ml-100k, else synthetic)')
    .option('--no-rec', 'skip the recommender benches')
    .option('--torch', 'run the PyTorch anchor (default unless --quick)')
    .option('--no-torch', 'skip the PyTorch anchor')
    .option('--rec-only', 'only the recommender benches (no training shapes, engine benches or PyTorch)')
    .option('--section <json>', '(internal) run one kernel set and print its JSON')
    .action(async (flags: { json?: boolean; quick?: boolean; steps?: number; vocab?: number; kernels?: string; dataset?: string; rec?: boolean; torch?: boolean; recOnly?: boolean; section?: string }) => {
      if (flags.section) {
        const s = await runBenchSection(JSON.parse(flags.section) as SectionOptions, (l) => process.stderr.write(`${l}\n`));
        console.log(JSON.stringify(s));
        return;
      }
      const r = await runBench({
        quick: !!flags.quick,
        steps: flags.steps,
        vocab: flags.vocab,
        torch: flags.torch,
        kernels: flags.kernels as BenchOptions['kernels'],
        rec: flags.rec,
        dataset: flags.dataset,
        recOnly: flags.recOnly,
      });
      console.log(flags.json ? JSON.stringify(r, null, 2) : formatBench(r));
    });
}

// LM warm-up: next-token training on a corpus built from the dataset (item prompts, user prompts, templated
// reasoning), standing in for the pretraining a real LLM brings. Data-parallel over worker threads; checkpoints
// and exact resume (the batch order is a pure function of seed and step, and the optimizer state is saved).
import path from 'node:path';
import { tf, initBackend } from '../model/backend';
import type { ModelConfig } from '../model/config';
import { forward, initParams, lmLogits, padBatch, paramNames, type Params } from '../model/decoder';
import { crossEntropy } from '../model/losses';
import {
  assignParams, hasCheckpoint, loadCheckpoint, paramsToArrays, saveCheckpoint,
} from '../model/checkpoint';
import { adamWStep, initAdamW, disposeAdamW, optimizerToArrays, restoreOptimizer, validateAdamW, type AdamWConfig } from './optimizer';
import { lrAt, type LrSchedule } from './schedule';
import { allReduceGrads, paramGrads } from './grads';
import { runSpmd, shardRange, type Collective } from './parallel';
import { hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';

export interface LMTrainConfig {
  steps: number;
  batchSize: number;
  seqLen: number;
  optimizer: AdamWConfig;
  schedule: LrSchedule;
  /** validate every n steps (0 = only at the end) */
  evalEvery: number;
  /** validation windows per evaluation (at most) */
  evalWindows: number;
  /** save a checkpoint every n steps (0 = only at the end); needs checkpointDir */
  checkpointEvery: number;
  seed: number;
}

export interface LMJob {
  model: ModelConfig;
  train: LMTrainConfig;
  /** concatenated training token stream (documents joined with <eos>) */
  trainTokens: Int32Array;
  valTokens: Int32Array;
  /** where checkpoints go; an existing checkpoint there is resumed */
  checkpointDir?: string;
  /** start from these weights instead of a fresh init (ignored when resuming) */
  initFrom?: string;
  tokenizer?: unknown;
  /** stop after this many steps in this call (to test resume); undefined = run to `steps` */
  stopAfter?: number;
}

export interface LMCurves {
  step: number[];
  loss: number[];
  lr: number[];
  gradNorm: number[];
  valStep: number[];
  valLoss: number[];
  valPerplexity: number[];
}

export interface LMResult {
  curves: LMCurves;
  steps: number;
  tokensPerSec: number;
  world: number;
  /** live parameters in the caller's thread (rank 0) */
  params: Params;
}

export interface LMHooks {
  onStep?: (info: { step: number; steps: number; loss: number; lr: number; tokensPerSec: number }) => void;
  onEval?: (info: { step: number; valLoss: number; valPerplexity: number }) => void;
}

export function validateLMTrainConfig(c: LMTrainConfig, prefix = 'warmup'): void {
  const posInt = (k: keyof LMTrainConfig, min = 1) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < min) throw new ConfigError(`${prefix}.${k}`, `must be an integer ≥ ${min}, got ${v}`);
  };
  posInt('steps', 0);
  posInt('batchSize');
  posInt('seqLen', 2);
  posInt('evalEvery', 0);
  posInt('evalWindows', 1);
  posInt('checkpointEvery', 0);
  validateAdamW(c.optimizer, `${prefix}.optimizer`);
}

/** Cut a token stream into windows of seqLen+1 tokens (input = first seqLen, target = shifted by one). */
export function windowStarts(n: number, seqLen: number): number[] {
  const out: number[] = [];
  for (let s = 0; s + seqLen + 1 <= n; s += seqLen) out.push(s);
  return out;
}

/** The window indices of global batch `step`: epoch-wise seeded permutations, so step → batch is fixed. */
export function batchWindows(step: number, batchSize: number, nWindows: number, seed: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < batchSize; j++) {
    const g = step * batchSize + j;
    const epoch = Math.floor(g / nWindows);
    out.push(epochPermutation(epoch, nWindows, seed)[g % nWindows]);
  }
  return out;
}

const permCache = new Map<string, number[]>();
function epochPermutation(epoch: number, n: number, seed: number): number[] {
  const key = `${seed}:${epoch}:${n}`;
  let p = permCache.get(key);
  if (!p) {
    if (permCache.size > 4) permCache.clear();
    p = shuffleInPlace(Array.from({ length: n }, (_, i) => i), makeRng(hashSeed(seed, 'lm-epoch', epoch)));
    permCache.set(key, p);
  }
  return p;
}

/** Sum of token losses of `windows` divided by `denominator` (so shards add up to the global mean). */
function windowLoss(params: Params, cfg: ModelConfig, tokens: Int32Array, starts: number[], seqLen: number, denominator: number) {
  const B = starts.length;
  const inputs = starts.map((s) => Array.from(tokens.subarray(s, s + seqLen)));
  const targets = new Int32Array(B * seqLen);
  starts.forEach((s, b) => targets.set(tokens.subarray(s + 1, s + seqLen + 1), b * seqLen));
  const batch = padBatch(inputs, 'right');
  const h = forward(params, cfg, batch);
  const logits = lmLogits(params, tf.reshape(h, [B * seqLen, cfg.dModel]) as tf.Tensor2D);
  const mean = crossEntropy(logits, tf.tensor1d(targets, 'int32'));
  return tf.mul(mean, (B * seqLen) / denominator) as tf.Scalar;
}

function evaluate(params: Params, cfg: ModelConfig, job: LMJob, comm: Collective): number {
  const seqLen = job.train.seqLen;
  const starts = windowStarts(job.valTokens.length, seqLen).slice(0, job.train.evalWindows);
  if (starts.length === 0) return NaN;
  const [a, b] = shardRange(starts.length, comm.rank, comm.world);
  const total = starts.length * seqLen;
  let sum = 0;
  for (let i = a; i < b; i += job.train.batchSize) {
    const chunk = starts.slice(i, Math.min(b, i + job.train.batchSize));
    sum += tf.tidy(() => windowLoss(params, cfg, job.valTokens, chunk, seqLen, total).dataSync()[0]);
  }
  const buf = new Float32Array([sum]);
  comm.allReduceSum(buf);
  return buf[0];
}

/** SPMD body: runs on every rank (see runSpmd). */
export async function lmRank(job: LMJob, comm: Collective, hooks?: LMHooks): Promise<LMResult> {
  await initBackend({ log: comm.rank === 0 });
  const cfg = job.model;
  const tc = job.train;
  const names = paramNames(cfg);
  const params = initParams(cfg, tc.seed);
  const opt = initAdamW(params);
  const curves: LMCurves = { step: [], loss: [], lr: [], gradNorm: [], valStep: [], valLoss: [], valPerplexity: [] };
  let start = 0;
  if (job.checkpointDir && hasCheckpoint(job.checkpointDir)) {
    const ck = loadCheckpoint(job.checkpointDir);
    assignParams(params, ck.params);
    if (ck.optimizer) restoreOptimizer(opt, ck.optimizer);
    start = Number(ck.state?.step ?? 0);
    Object.assign(curves, ck.state?.curves ?? {});
  } else if (job.initFrom) {
    assignParams(params, loadCheckpoint(job.initFrom).params);
  }
  const starts = windowStarts(job.trainTokens.length, tc.seqLen);
  if (starts.length === 0) {
    throw new R2ecError(`warm-up corpus has ${job.trainTokens.length} tokens, fewer than one window of ${tc.seqLen + 1}`);
  }
  const save = (step: number) => {
    if (!job.checkpointDir || comm.rank !== 0) return;
    saveCheckpoint(job.checkpointDir, {
      config: cfg,
      params: paramsToArrays(params),
      tokenizer: job.tokenizer,
      optimizer: optimizerToArrays(opt),
      state: { kind: 'lm-warmup', step, curves, train: tc },
    });
  };
  const end = Math.min(tc.steps, job.stopAfter ?? tc.steps);
  const t0 = performance.now();
  let tokensDone = 0;
  for (let step = start; step < end; step++) {
    const windows = batchWindows(step, tc.batchSize, starts.length, tc.seed);
    const [a, b] = shardRange(windows.length, comm.rank, comm.world);
    const mine = windows.slice(a, b).map((w) => starts[w]);
    const denominator = windows.length * tc.seqLen;
    const { value, grads } = paramGrads(params, () =>
      mine.length ? windowLoss(params, cfg, job.trainTokens, mine, tc.seqLen, denominator) : tf.scalar(0),
    );
    const lossBuf = new Float32Array([value.dataSync()[0]]);
    value.dispose();
    const summed = allReduceGrads(grads, names, comm);
    comm.allReduceSum(lossBuf);
    const lr = lrAt(step, tc.steps, tc.optimizer.lr, tc.schedule);
    const norm = adamWStep(params, summed, opt, tc.optimizer, lr);
    Object.values(summed).forEach((g) => g.dispose());
    const loss = lossBuf[0];
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      throw new R2ecError(`warm-up: loss or gradient is not finite at step ${step} (loss ${loss}); last checkpoint kept`);
    }
    tokensDone += denominator;
    curves.step.push(step);
    curves.loss.push(loss);
    curves.lr.push(lr);
    curves.gradNorm.push(norm);
    const tps = tokensDone / ((performance.now() - t0) / 1000);
    if (comm.rank === 0) hooks?.onStep?.({ step: step + 1, steps: tc.steps, loss, lr, tokensPerSec: tps });
    const last = step + 1 === tc.steps;
    if ((tc.evalEvery > 0 && (step + 1) % tc.evalEvery === 0) || last) {
      const vl = evaluate(params, cfg, job, comm);
      curves.valStep.push(step + 1);
      curves.valLoss.push(vl);
      curves.valPerplexity.push(Math.exp(vl));
      if (comm.rank === 0) hooks?.onEval?.({ step: step + 1, valLoss: vl, valPerplexity: Math.exp(vl) });
    }
    if ((tc.checkpointEvery > 0 && (step + 1) % tc.checkpointEvery === 0) || last) save(step + 1);
  }
  if (tc.steps === 0) save(0); // an untrained model is still a checkpoint later stages can start from
  disposeAdamW(opt);
  const secs = (performance.now() - t0) / 1000;
  return { curves, steps: end, tokensPerSec: tokensDone / Math.max(secs, 1e-9), world: comm.world, params };
}

/** Train (or resume) the LM on `world` ranks. Rank 0 runs here and returns live parameters. */
export function trainLM(job: LMJob, world: number, hooks?: LMHooks): Promise<LMResult> {
  validateLMTrainConfig(job.train);
  // every rank needs at least one sequence of the batch
  return runSpmd<LMResult>({ module: path.join(__dirname, 'lm.ts'), fn: 'lmRank', job }, lmRank as never, Math.min(world, job.train.batchSize), hooks);
}

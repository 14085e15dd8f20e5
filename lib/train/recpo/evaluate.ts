// RecPO evaluation (spec §5): greedy reasoning, the user vector after it, full ranking over the refreshed item
// table, split over ranks; and the batch-1 latency of a request (paper Table 4) through lib/eval/latency.ts.
import { tf } from '../../model/backend';
import { greedyTexts } from '../../model/generate';
import { encodeSequences } from '../../model/readout';
import type { Sample } from '../../data/types';
import { readoutCosines, type ReadoutCosines } from '../../eval/collapse';
import { evaluateRanking, type EvalResult } from '../../eval/evaluate';
import { timeRequests, type RequestLatency } from '../../eval/latency';
import { shardRange } from '../parallel';
import { fusedReward } from '../rewards';
import { R2ecError } from '../../util/errors';
import { catalogScores, directIds, promptIds, scoringIds, type RecContext } from './context';

export interface UserEncoding {
  vecs: Float32Array;
  /** generated reasoning token ids per sample (empty for no-reasoning) */
  tokens: number[][];
}

/** Greedy reasoning of `samples` (none for the no-reasoning variant), `evalBatch` prompts at a time. */
export function reasoningOf(ctx: RecContext, samples: Sample[], greedyTokens: number): { texts: string[]; tokens: number[][] } {
  if (ctx.cfg.variant === 'no-reasoning') return { texts: samples.map(() => ''), tokens: samples.map(() => []) };
  const bs = ctx.cfg.evalBatch;
  const texts: string[] = [];
  const tokens: number[][] = [];
  for (let s = 0; s < samples.length; s += bs) {
    const part = samples.slice(s, s + bs);
    const gen = greedyTexts(ctx.params, ctx.mcfg, ctx.tok, part.map((x) => promptIds(ctx, x)), greedyTokens, bs, ctx.titleRule?.((row) => part[row]));
    texts.push(...gen.texts);
    tokens.push(...gen.tokens);
  }
  return { texts, tokens };
}

/**
 * User vectors [N·d] of `samples` read out after the given reasoning texts (any model's: the reasoning-or-read-out
 * probe crosses them), `evalBatch` samples at a time; the no-reasoning variant reads right after the prompt.
 */
export function readOutAfter(ctx: RecContext, samples: Sample[], texts: string[]): Float32Array {
  const bs = ctx.cfg.evalBatch;
  const d = ctx.mcfg.dModel;
  const vecs = new Float32Array(samples.length * d);
  for (let s = 0; s < samples.length; s += bs) {
    const seqs = samples.slice(s, s + bs).map((x, i) => {
      const p = promptIds(ctx, x);
      return ctx.cfg.variant === 'no-reasoning' ? directIds(ctx, p) : scoringIds(ctx, p, texts[s + i]);
    });
    vecs.set(encodeSequences(ctx.params, ctx.mcfg, seqs, ctx.cfg.pooling, bs), s * d);
  }
  return vecs;
}

/** Greedy reasoning + read-out for `samples` on this rank. */
export function encodeUsers(ctx: RecContext, samples: Sample[], greedyTokens: number): UserEncoding {
  const { texts, tokens } = reasoningOf(ctx, samples, greedyTokens);
  return { vecs: readOutAfter(ctx, samples, texts), tokens };
}

/** Evaluate `samples` split over ranks; every rank returns the same EvalResult (computed on each). */
export async function evaluateSplit(ctx: RecContext, samples: Sample[], split: string): Promise<{ result: EvalResult; tokens: number[][]; reward: number; cosines: ReadoutCosines }> {
  const [a, b] = shardRange(samples.length, ctx.comm.rank, ctx.comm.world);
  const enc = encodeUsers(ctx, samples.slice(a, b), ctx.cfg.rollout.maxNewTokens);
  const d = ctx.mcfg.dModel;
  const vecParts = ctx.comm.allGather(enc.vecs);
  const tokParts = ctx.comm.allGather(Float32Array.from(enc.tokens.flatMap((t) => [t.length, ...t])));
  const all = new Float32Array(samples.length * d);
  let o = 0;
  for (const p of vecParts) {
    all.set(p, o);
    o += p.length;
  }
  const tokens: number[][] = [];
  for (const p of tokParts) {
    for (let i = 0; i < p.length; ) {
      const n = p[i];
      tokens.push(Array.from(p.subarray(i + 1, i + 1 + n)));
      i += 1 + n;
    }
  }
  const pos = new Map(samples.map((s, i) => [s, i]));
  const N1 = ctx.ds.items.length;
  let rewardSum = 0;
  const userMatrix = tf.tensor2d(all, [samples.length, d]); // uploaded once, gathered per scoring batch
  const scorer = async (batch: Sample[]) => {
    const scores = tf.tidy(() => {
      const rows = batch.map((s) => pos.get(s)!);
      const u = tf.gather(userMatrix, tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
      return catalogScores(ctx, u);
    });
    // the training reward of the greedy reasoning, for the validation-reward curve (paper Fig. 2)
    const sv = scores.dataSync() as Float32Array;
    batch.forEach((s, i) => {
      rewardSum += fusedReward(sv.subarray(i * N1, (i + 1) * N1), s.target.item, s.history.map((h) => h.item), ctx.cfg.reward).reward;
    });
    return scores;
  };
  let result: EvalResult;
  try {
    result = await evaluateRanking(ctx.ds, samples, scorer, { batchSize: 128, ks: ctx.job.eval.ks, maskHistory: ctx.job.eval.maskHistory });
  } finally {
    userMatrix.dispose();
  }
  result.options.split = split;
  const cosines = readoutCosines(all, ctx.table.rows.subarray(d), d); // real items only (row 0 is the pad)
  return { result, tokens, reward: rewardSum / Math.max(1, samples.length), cosines };
}

export function pick<T>(arr: T[], idx: number[]): T[] {
  return idx.map((i) => {
    if (i < 0 || i >= arr.length) throw new R2ecError(`evaluation sample index ${i} is outside the split (size ${arr.length})`);
    return arr[i];
  });
}

/**
 * Latency per request at batch 1 (paper Table 4): greedy reasoning + read-out + scoring the whole catalog for one
 * user at a time, after one untimed warm-up request. Runs on this rank only.
 */
export function requestLatency(ctx: RecContext, requests: Sample[]): Promise<RequestLatency> {
  const one = { ...ctx, cfg: { ...ctx.cfg, evalBatch: 1 } };
  return timeRequests(requests, (s) => {
    const enc = encodeUsers(one, [s], ctx.cfg.rollout.maxNewTokens);
    tf.tidy(() => catalogScores(ctx, tf.tensor2d(enc.vecs, [1, ctx.mcfg.dModel])).dataSync());
    return enc.tokens[0].length;
  });
}

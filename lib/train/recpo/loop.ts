// The RecPO loop on one rank: resume from the run folder, train (RecPO or w/o-reasoning steps), evaluate on the
// experiment's valid subset every `evalEvery` steps keeping the best checkpoint (spec §4.7), then reload the best
// weights and report valid + test, reasoning texts, throughput and batch-1 latency.
import path from 'node:path';
import { backendName } from '../../model/backend';
import { assignParams, hasCheckpoint, loadCheckpoint, paramsToArrays, saveCheckpoint, type NamedArrays } from '../../model/checkpoint';
import type { EvalResult } from '../../eval/evaluate';
import type { RequestLatency } from '../../eval/latency';
import type { ReadoutCosines } from '../../eval/collapse';
import { initAdamW, disposeAdamW, optimizerToArrays, restoreOptimizer, type AdamWState } from '../optimizer';
import { refreshItemTable, type RecContext } from './context';
import { contrastiveStep, recpoStep } from './step';
import { evaluateSplit, pick, requestLatency } from './evaluate';
import { pairedComparison, type PairedTTest, type RankedSamples } from '../../eval/stats';
import { reasoningStats, type ReasoningStats } from '../../eval/reasoning';

export interface RecCurves {
  step: number[];
  rewardMean: number[];
  rewardStd: number[];
  /** root mean within-group variance of the rewards: the spread between one user's G rollouts, the signal of the group
   *  advantages (GRPO normalises it away, so a tiny spread still gives unit advantages); compare with rewardStd */
  rewardGroupStd: number[];
  ndcgReward: number[];
  reasoningLength: number[];
  lossTok: number[];
  lossRec: number[];
  kl: number[];
  gradNorm: number[];
  lr: number[];
  evalStep: number[];
  validNdcg10: number[];
  validHr10: number[];
  /** mean fused reward of the greedy reasoning on the valid samples (spec §4 reward, against the refreshed table) */
  validReward: number[];
  /** read-out diagnostics at each evaluation: mean pairwise cosine of valid user vectors, items, users × items */
  cosUserUser: number[];
  cosItemItem: number[];
  cosUserItem: number[];
  /** health of the greedy valid reasoning at each evaluation (lib/eval/reasoning.ts): mean tokens, share of repeated
   *  bigrams, distinct texts / texts, share of texts changed since step 0 — a degenerating text shows here even when
   *  NDCG rises */
  validReasoningTokens: number[];
  validRepeatShare: number[];
  validDistinctShare: number[];
  validChangedShare: number[];
}

export interface RecResult {
  method: string;
  valid: EvalResult;
  test: EvalResult;
  curves: RecCurves;
  bestStep: number;
  stepsRun: number;
  /** batched test throughput: evaluated samples per second (reasoning + scoring + ranking, all ranks) */
  throughput: { samplesPerSec: number; batchSize: number };
  /** test reasoning texts (first keepTexts), with their sample index */
  texts: { sampleIndex: number; user: number; text: string; tokens: number }[];
  meanReasoningTokens: number;
  latency?: RequestLatency;
  /** read-out diagnostics of the reported model on the test samples (see RecCurves.cosUserUser) */
  readout: ReadoutCosines;
  /**
   * the kept checkpoint against step 0 on the valid samples, paired by sample (a = kept, b = step 0; NDCG@10): whether
   * RecPO's best valid is above its start beyond the noise of one comparison (the maximum over several evaluations
   * is still selection-biased upward). Absent when step 0 was not evaluated in this run.
   */
  validGain?: PairedTTest;
  durationsSec: Record<string, number>;
  world: number;
  backend: string;
}

export interface RecHooks {
  onStep?: (info: { step: number; steps: number; reward: number; groupStd: number; length: number; loss: number }) => void;
  onEval?: (info: { step: number; ndcg10: number; hr10: number; texts?: ReasoningStats }) => void;
  onPhase?: (phase: string) => void;
}


// ---------------------------------------------------------------------------------------------------------------
// Checkpoints

function saveRun(ctx: RecContext, dir: string, opt: AdamWState, state: Record<string, unknown>): void {
  if (ctx.comm.rank !== 0) return;
  const params: NamedArrays = paramsToArrays(ctx.params);
  params.item_table = { shape: [ctx.table.numRows, ctx.table.d], data: ctx.table.rows };
  const extra = ['item_table', ...Object.keys(ctx.params).filter((k) => k.startsWith('cls_'))];
  saveCheckpoint(dir, { config: ctx.mcfg, params, tokenizer: ctx.job.tokenizer, optimizer: optimizerToArrays(opt), state, extraParams: extra });
}

// ---------------------------------------------------------------------------------------------------------------
// The loop

const d0 = () => performance.now();

/** Train and evaluate on this rank (every rank runs it; rank 0 also gets the hooks). The context's weights end at the best checkpoint. */
export async function trainRank(ctx: RecContext, hooks?: RecHooks, t0 = d0()): Promise<RecResult> {
  const { job, cfg, params, comm, ds, tok } = ctx;
  const durations: Record<string, number> = {};
  const opt = initAdamW(params);
  const curves: RecCurves = {
    step: [], rewardMean: [], rewardStd: [], rewardGroupStd: [], ndcgReward: [], reasoningLength: [], lossTok: [], lossRec: [], kl: [],
    gradNorm: [], lr: [], evalStep: [], validNdcg10: [], validHr10: [], validReward: [], cosUserUser: [], cosItemItem: [], cosUserItem: [],
    validReasoningTokens: [], validRepeatShare: [], validDistinctShare: [], validChangedShare: [],
  };
  const validSamples = pick(ds.samples.valid, job.validIdx);
  const testSamples = pick(ds.samples.test, job.testIdx);
  const latestDir = path.join(job.workDir, 'latest');
  const bestDir = path.join(job.workDir, 'best');
  let start = 0;
  // step 0's per-sample valid ranks and greedy reasoning (kept in the run state, so a resumed run still compares
  // against them: validGain, validChangedShare)
  let startValid: RankedSamples | undefined;
  let startTexts: number[][] | undefined;
  let bestMetric = -Infinity;
  let bestStep = 0;
  let badEvals = 0;
  durations.setup = (d0() - t0) / 1000;

  if (hasCheckpoint(latestDir)) {
    const saved = loadCheckpoint(latestDir);
    assignParams(params, saved.params);
    if (saved.optimizer) restoreOptimizer(opt, saved.optimizer);
    ctx.table.rows.set(saved.params.item_table.data);
    const st = saved.state ?? {};
    start = Number(st.step ?? 0);
    bestMetric = Number(st.bestMetric ?? -Infinity);
    bestStep = Number(st.bestStep ?? 0);
    badEvals = Number(st.badEvals ?? 0);
    Object.assign(curves, st.curves ?? {});
    startValid = st.startValid as RankedSamples | undefined;
    startTexts = st.startTexts as number[][] | undefined;
    // a checkpoint from before rewardGroupStd was recorded: its steps have no value (null in JSON), not a shift
    while (curves.rewardGroupStd.length < curves.step.length) curves.rewardGroupStd.unshift(NaN);
    for (const k of ['validReasoningTokens', 'validRepeatShare', 'validDistinctShare', 'validChangedShare'] as const) {
      while (curves[k].length < curves.evalStep.length) curves[k].unshift(NaN);
    }
  }
  let bestValid: EvalResult | undefined; // the valid result of the best step, when computed in this process
  const evaluateValid = async (step: number) => {
    hooks?.onPhase?.(`valid @ step ${step}`);
    refreshItemTable(ctx);
    const { result, reward, cosines, tokens } = await evaluateSplit(ctx, validSamples, 'valid');
    const ndcg = result.metrics['NDCG@10'];
    if (step === 0) {
      startValid = { ranks: Array.from(result.ranks), sampleIndex: Array.from(result.sampleIndex) }; // Infinity → null in JSON
      startTexts = tokens;
    }
    const texts = reasoningStats(tokens, startTexts);
    curves.validReasoningTokens.push(texts.meanTokens);
    curves.validRepeatShare.push(texts.repeatShare);
    curves.validDistinctShare.push(texts.distinctShare);
    curves.validChangedShare.push(texts.changedShare);
    curves.cosUserUser.push(cosines.userUser);
    curves.cosItemItem.push(cosines.itemItem);
    curves.cosUserItem.push(cosines.userItem);
    curves.evalStep.push(step);
    curves.validReward.push(reward);
    curves.validNdcg10.push(ndcg);
    curves.validHr10.push(result.metrics['HR@10']);
    if (comm.rank === 0) hooks?.onEval?.({ step, ndcg10: ndcg, hr10: result.metrics['HR@10'], texts: cfg.variant === 'no-reasoning' ? undefined : texts });
    if (ndcg > bestMetric) {
      bestValid = result;
      bestMetric = ndcg;
      bestStep = step;
      badEvals = 0;
      saveRun(ctx, bestDir, opt, { step, bestMetric, method: job.method });
    } else badEvals++;
    const state = { step, bestMetric, bestStep, badEvals, curves, method: job.method, startValid, startTexts };
    saveRun(ctx, latestDir, opt, state);
    comm.barrier();
  };

  const tTrain = d0();
  const end = Math.min(cfg.steps, job.stopAfter ?? cfg.steps);
  if (start === 0 && cfg.steps > 0 && validSamples.length > 0) await evaluateValid(0);
  for (let step = start; step < end; step++) {
    if (cfg.patience > 0 && badEvals >= cfg.patience) break;
    const st = cfg.variant === 'no-reasoning' ? contrastiveStep(ctx, step, opt) : recpoStep(ctx, step, opt);
    const buf = new Float32Array([st.rewardSum, st.rewardSqSum, st.ndcgSum, st.lenSum, st.n, st.lossTok, st.lossRec, st.kl, st.groupVarSum, st.groups]);
    comm.allReduceSum(buf);
    const n = Math.max(buf[4], 1);
    const mean = buf[0] / n;
    curves.step.push(step + 1);
    curves.rewardMean.push(mean);
    curves.rewardStd.push(Math.sqrt(Math.max(0, buf[1] / n - mean * mean)));
    curves.rewardGroupStd.push(Math.sqrt(buf[8] / Math.max(buf[9], 1)));
    curves.ndcgReward.push(buf[2] / n);
    curves.reasoningLength.push(buf[3] / n);
    curves.lossTok.push(buf[5]);
    curves.lossRec.push(buf[6]);
    curves.kl.push(buf[7]);
    curves.gradNorm.push(st.gradNorm);
    curves.lr.push(st.lr);
    if (comm.rank === 0) hooks?.onStep?.({ step: step + 1, steps: cfg.steps, reward: mean, groupStd: curves.rewardGroupStd[curves.rewardGroupStd.length - 1], length: buf[3] / n, loss: buf[5] + buf[6] });
    if (cfg.refreshEvery > 0 && (step + 1) % cfg.refreshEvery === 0) refreshItemTable(ctx);
    if ((step + 1) % cfg.evalEvery === 0 || step + 1 === cfg.steps) await evaluateValid(step + 1);
  }
  durations.train = (d0() - tTrain) / 1000;
  const stepsRun = curves.step.length;
  if (job.stopAfter !== undefined && end < cfg.steps) {
    // a deliberate stop (resume test): return what we have without the final evaluation
    disposeAdamW(opt);
    return {
      method: job.method, valid: undefined as unknown as EvalResult, test: undefined as unknown as EvalResult, curves,
      bestStep, stepsRun, texts: [], meanReasoningTokens: 0, durationsSec: durations, world: comm.world, backend: backendName(),
      throughput: { samplesPerSec: 0, batchSize: cfg.evalBatch }, readout: { userUser: NaN, itemItem: NaN, userItem: NaN },
    };
  }
  // Load the best checkpoint (spec §4.7) and report valid + test.
  if (cfg.steps > 0 && hasCheckpoint(bestDir)) {
    const saved = loadCheckpoint(bestDir);
    assignParams(params, saved.params);
  }
  hooks?.onPhase?.('final evaluation');
  const tEval = d0();
  refreshItemTable(ctx);
  const valid = bestValid ?? (await evaluateSplit(ctx, validSamples, 'valid')).result;
  const validGain = startValid && valid.n >= 2 ? pairedComparison(valid, startValid, 'NDCG@10') : undefined;
  const tTest = d0();
  const testOut = await evaluateSplit(ctx, testSamples, 'test');
  const testSec = (d0() - tTest) / 1000;
  durations.evaluate = (d0() - tEval) / 1000;
  const texts = testOut.tokens.slice(0, job.keepTexts).map((t, i) => ({
    sampleIndex: testSamples[i].index,
    user: testSamples[i].user,
    text: tok.decode(t, { skipSpecial: true }),
    tokens: t.length,
  }));
  const meanReasoningTokens = testOut.tokens.reduce((a, t) => a + t.length, 0) / Math.max(1, testOut.tokens.length);
  let latency: RecResult['latency'];
  if (job.latencyRequests > 0 && comm.rank === 0) latency = await requestLatency(ctx, testSamples.slice(0, job.latencyRequests));
  comm.barrier();
  disposeAdamW(opt);
  durations.total = (d0() - t0) / 1000;
  const throughput = { samplesPerSec: testSamples.length / Math.max(testSec, 1e-9), batchSize: cfg.evalBatch };
  return {
    method: job.method, valid, test: testOut.result, curves, bestStep, stepsRun, texts, meanReasoningTokens, latency, throughput,
    readout: testOut.cosines, validGain, durationsSec: durations, world: comm.world, backend: backendName(),
  };
}

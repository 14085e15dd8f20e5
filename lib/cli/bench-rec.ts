// `r2ec bench`, recommender level: the SPMD body that times the steps the experiments run, through the public
// functions of lib/train/recpo/ (no copies): the contrastive (two-tower, w/o reasoning) step, one RecPO step (G
// rollouts per user, then reward, forward/backward, all-reduce, AdamW) with its phase profile, and evaluation of
// users (greedy reasoning + read-out + scoring against the full catalog). Every rank runs it (lib/train/parallel.ts);
// ranks meet at a barrier around each timed call, so a time is the slowest rank's.
import { initBackend, tf } from '../model/backend';
import type { Collective } from '../train/parallel';
import { initAdamW, disposeAdamW } from '../train/optimizer';
import { makeContext, disposeContext, type RecJob } from '../train/recpo/context';
import { contrastiveStep, recpoStep } from '../train/recpo/step';
import { evaluateSplit, pick } from '../train/recpo/evaluate';
import { startPhases, stopPhases } from '../util/phases';

export interface RecBenchJob {
  rec: RecJob;
  /** steps of each kind: the first `warmup` are not timed */
  steps: number;
  warmup: number;
}

export interface RecBenchRank {
  world: number;
  /** ms per timed step */
  contrastiveMs: number[];
  recpoMs: number[];
  /** mean generated reasoning tokens per rollout in the timed RecPO steps (all ranks) */
  rolloutTokens: number;
  /** rank 0's exclusive ms per phase, summed over the timed RecPO steps */
  phases: Record<string, number>;
  evaluateMs: number;
  evaluateUsers: number;
  /** mean greedy reasoning tokens per evaluated user */
  evaluateTokens: number;
  /** rank 0's wasm heap at the end (it never shrinks: its high-water mark), MiB */
  wasmHeapMiB: number;
}

function timedStep(comm: Collective, f: () => void): number {
  comm.barrier();
  const t0 = performance.now();
  f();
  comm.barrier();
  return performance.now() - t0;
}

export async function benchRecRank(job: RecBenchJob, comm: Collective): Promise<RecBenchRank> {
  await initBackend({ log: false });
  const ctx = makeContext(job.rec, comm);
  const opt = initAdamW(ctx.params);
  try {
    const contrastiveMs: number[] = [];
    for (let s = 0; s < job.steps; s++) {
      const ms = timedStep(comm, () => contrastiveStep(ctx, s, opt));
      if (s >= job.warmup) contrastiveMs.push(ms);
    }
    const recpoMs: number[] = [];
    const tokens = new Float32Array(2);
    for (let s = 0; s < job.steps; s++) {
      if (s === job.warmup) startPhases();
      let st: ReturnType<typeof recpoStep> | undefined;
      const ms = timedStep(comm, () => {
        st = recpoStep(ctx, s, opt);
      });
      if (s >= job.warmup) {
        recpoMs.push(ms);
        tokens[0] += st!.lenSum;
        tokens[1] += st!.n; // rollouts of this rank
      }
    }
    const phases = stopPhases();
    comm.allReduceSum(tokens);
    const test = pick(ctx.ds.samples.test, job.rec.testIdx);
    comm.barrier();
    const t0 = performance.now();
    const ev = await evaluateSplit(ctx, test, 'test');
    comm.barrier();
    const evaluateMs = performance.now() - t0;
    const evalTokens = ev.tokens.reduce((a, t) => a + t.length, 0) / Math.max(1, ev.tokens.length);
    const be = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
    return {
      world: comm.world,
      contrastiveMs,
      recpoMs,
      rolloutTokens: tokens[0] / Math.max(1, tokens[1]),
      phases,
      evaluateMs,
      evaluateUsers: test.length,
      evaluateTokens: evalTokens,
      wasmHeapMiB: be.wasm ? be.wasm.HEAPU8.length / 2 ** 20 : 0,
    };
  } finally {
    disposeAdamW(opt);
    disposeContext(ctx);
  }
}

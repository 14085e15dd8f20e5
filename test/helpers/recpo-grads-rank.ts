// SPMD rank function for test/recpo-gradcache.test.ts: one rank's context, the w/o-reasoning gradients of a step,
// summed over ranks (what the optimizer sees), flattened in parameter-name order.
import { initBackend } from '../../lib/model/backend';
import { allReduceGrads } from '../../lib/train/grads';
import type { Collective } from '../../lib/train/parallel';
import { makeContext, disposeContext, type RecJob } from '../../lib/train/recpo/context';
import { contrastiveGradients } from '../../lib/train/recpo/step';

export async function summedGradsRank(job: { rec: RecJob; step: number }, comm: Collective): Promise<{ loss: number; flat: number[] }> {
  await initBackend({ log: false });
  const ctx = makeContext(job.rec, comm);
  try {
    const { loss, grads } = contrastiveGradients(ctx, job.step);
    const summed = allReduceGrads(grads, ctx.names, comm);
    const flat: number[] = [];
    for (const n of ctx.names) if (summed[n]) flat.push(...(summed[n].dataSync() as Float32Array));
    Object.values(summed).forEach((g) => g.dispose());
    const l = new Float32Array([loss]);
    comm.allReduceSum(l);
    return { loss: l[0], flat };
  } finally {
    disposeContext(ctx);
  }
}

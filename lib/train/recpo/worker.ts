// The worker entry of RecPO, SPMD-style: every rank runs `recpoRank` on its shard of users, exactly as the reference
// code runs on several GPUs; rank 0 runs in the caller's thread, the others in worker threads (lib/train/parallel.ts).
// A rank receives everything it needs in its RecJob (dataset, tokenizer, model config, warm-up checkpoint, sample
// indices): the composition happens once, in lib/experiment/run.ts.
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../model/backend';
import { runSpmd, type Collective } from '../parallel';
import { disposeContext, makeContext, type RecJob } from './context';
import { trainRank, type RecHooks, type RecResult } from './loop';

export async function recpoRank(job: RecJob, comm: Collective, hooks?: RecHooks): Promise<RecResult> {
  const t0 = performance.now();
  await initBackend({ log: false });
  const ctx = makeContext(job, comm);
  try {
    return await trainRank(ctx, hooks, t0);
  } finally {
    disposeContext(ctx);
  }
}

/** Run a RecPO job on min(world, usersPerStep) ranks; returns rank 0's result. */
export function runRecPO(job: RecJob, world: number, hooks?: RecHooks): Promise<RecResult> {
  fs.mkdirSync(job.workDir, { recursive: true });
  return runSpmd<RecResult>({ module: path.join(__dirname, 'worker.ts'), fn: 'recpoRank', job }, recpoRank as never, Math.min(world, Math.max(1, job.config.usersPerStep)), hooks);
}

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
import type { RecPOConfig } from './config';

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

/** Ranks a RecPO run uses: at most one per user of a step (the rollout seeds depend on it, so results do too). */
export function recpoWorld(world: number, cfg: Pick<RecPOConfig, 'usersPerStep'>): number {
  return Math.min(world, Math.max(1, cfg.usersPerStep));
}

/** Run a RecPO job on recpoWorld(world) ranks; returns rank 0's result. */
export function runRecPO(job: RecJob, world: number, hooks?: RecHooks): Promise<RecResult> {
  fs.mkdirSync(job.workDir, { recursive: true });
  return runSpmd<RecResult>({ module: path.join(__dirname, 'worker.ts'), fn: 'recpoRank', job }, recpoRank as never, recpoWorld(world, job.config), hooks);
}

// Data parallelism over worker threads, SPMD style (like torch.distributed): every rank runs the same function on
// its shard; ranks exchange gradients and detached vectors through shared memory. The wasm backend runs one thread
// per instance (stack notes), so a second rank uses the machine's second core. Sums are taken in rank order on
// every rank, so all replicas stay bitwise identical and a seed reproduces a run for a given world size.
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import os from 'node:os';
import { R2ecError } from '../util/errors';
import { envPositiveInt } from '../util/env';

export interface Collective {
  rank: number;
  world: number;
  /** in place: buf ← Σ_r buf_r (same order on every rank) */
  allReduceSum(buf: Float32Array): void;
  /** every rank's buffer, in rank order (lengths may differ) */
  allGather(buf: Float32Array): Float32Array[];
  barrier(): void;
}

export const SOLO: Collective = {
  rank: 0,
  world: 1,
  allReduceSum: () => {},
  allGather: (buf) => [buf],
  barrier: () => {},
};

// Control words: [0] arrivals, [1] generation, [2] error flag, [3 + r] length written by rank r.
const CTL_WORDS = 16;
const WAIT_SLICE_MS = 200;

interface SharedSpace {
  ctl: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

function makeCollective(rank: number, world: number, space: SharedSpace, timeoutMs: number): Collective {
  const ctl = new Int32Array(space.ctl);
  const slotFloats = Math.floor(space.data.byteLength / 4 / world);
  const slot = (r: number) => new Float32Array(space.data, r * slotFloats * 4, slotFloats);
  const barrier = () => {
    const gen = Atomics.load(ctl, 1);
    if (Atomics.add(ctl, 0, 1) === world - 1) {
      Atomics.store(ctl, 0, 0);
      Atomics.add(ctl, 1, 1);
      Atomics.notify(ctl, 1);
    } else {
      const start = Date.now();
      while (Atomics.load(ctl, 1) === gen) {
        if (Atomics.load(ctl, 2) !== 0) throw new R2ecError(`rank ${rank}: another rank failed; stopping`);
        if (Date.now() - start > timeoutMs) throw new R2ecError(`rank ${rank}: no progress from the other ranks in ${timeoutMs / 1000}s`);
        Atomics.wait(ctl, 1, gen, WAIT_SLICE_MS);
      }
    }
  };
  const put = (buf: Float32Array) => {
    if (buf.length > slotFloats) throw new R2ecError(`collective buffer of ${buf.length} floats exceeds the shared slot (${slotFloats})`);
    slot(rank).set(buf);
    Atomics.store(ctl, 3 + rank, buf.length);
  };
  return {
    rank,
    world,
    barrier,
    allReduceSum(buf) {
      put(buf);
      barrier();
      const n = buf.length;
      buf.set(slot(0).subarray(0, n));
      for (let r = 1; r < world; r++) {
        const s = slot(r);
        for (let i = 0; i < n; i++) buf[i] += s[i];
      }
      barrier();
    },
    allGather(buf) {
      put(buf);
      barrier();
      const out: Float32Array[] = [];
      for (let r = 0; r < world; r++) out.push(Float32Array.from(slot(r).subarray(0, Atomics.load(ctl, 3 + r))));
      barrier();
      return out;
    },
  };
}

/** Default number of ranks: R2EC_WORKERS, else the number of cores (at most 2 by default; wasm is single-threaded). */
export function defaultWorld(): number {
  const n = envPositiveInt('R2EC_WORKERS');
  if (n !== undefined) return n;
  return Math.max(1, Math.min(2, os.availableParallelism?.() ?? os.cpus().length));
}

export interface SpmdTask {
  /** absolute path of the module that exports `fn` */
  module: string;
  fn: string;
  /** structured-cloneable job description, the same for every rank */
  job: unknown;
}

/** Rank 0 runs in the caller's thread and also receives `hooks` (progress callbacks, which cannot cross threads). */
export type SpmdFn<R> = (job: never, comm: Collective, hooks?: unknown) => Promise<R> | R;

/**
 * Run `task` on `world` ranks: rank 0 in this thread, ranks 1.. in worker threads. Returns rank 0's result.
 * `sharedMiB` sizes the exchange buffer (all ranks' slots together).
 */
export async function runSpmd<R>(
  task: SpmdTask,
  /** the same function as task.module's task.fn, for rank 0 in this thread (no require by path here, so this
   *  works wherever the caller's modules were loaded from, tslab kernels included) */
  fn: SpmdFn<R>,
  world: number,
  hooks?: unknown,
  sharedMiB = 64,
  timeoutMs = 600_000,
): Promise<R> {
  if (world === 1) return fn(task.job as never, SOLO, hooks);
  const space: SharedSpace = {
    ctl: new SharedArrayBuffer(CTL_WORDS * 4),
    data: new SharedArrayBuffer(sharedMiB * 2 ** 20),
  };
  const workers: Worker[] = [];
  const exits: Promise<void>[] = [];
  for (let r = 1; r < world; r++) {
    const w = new Worker(path.join(__dirname, 'spmd-worker.js'), {
      workerData: { task, rank: r, world, space, timeoutMs },
      env: process.env,
      stderr: false,
    });
    workers.push(w);
    exits.push(
      new Promise((resolve, reject) => {
        w.on('message', (m: { error?: string }) => {
          if (m.error) reject(new R2ecError(`rank ${r}: ${m.error}`));
        });
        w.on('error', (e) => reject(new R2ecError(`rank ${r} crashed: ${e.message}`)));
        w.on('exit', () => resolve());
      }),
    );
  }
  const ctl = new Int32Array(space.ctl);
  try {
    const result = await fn(task.job as never, makeCollective(0, world, space, timeoutMs), hooks);
    await Promise.all(exits);
    return result;
  } catch (e) {
    Atomics.store(ctl, 2, 1);
    Atomics.notify(ctl, 1);
    const settled = await Promise.allSettled(exits);
    // When rank 0 only noticed that another rank failed, the other rank's own error is the informative one.
    const other = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (other && e instanceof R2ecError && /another rank failed/.test(e.message)) throw other.reason;
    throw e;
  } finally {
    for (const w of workers) void w.terminate();
  }
}

/** Worker side (called by spmd-worker.js). */
export async function workerMain(data: {
  task: SpmdTask;
  rank: number;
  world: number;
  space: SharedSpace;
  timeoutMs: number;
}): Promise<void> {
  const ctl = new Int32Array(data.space.ctl);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(data.task.module) as Record<string, SpmdFn<unknown>>;
    await mod[data.task.fn](data.task.job as never, makeCollective(data.rank, data.world, data.space, data.timeoutMs));
  } catch (e) {
    Atomics.store(ctl, 2, 1);
    Atomics.notify(ctl, 1);
    throw e;
  }
}

/** Split [0, n) into `world` contiguous shards; rank r gets shard r (sizes differ by at most one). */
export function shardRange(n: number, rank: number, world: number): [number, number] {
  const base = Math.floor(n / world);
  const rem = n % world;
  const start = rank * base + Math.min(rank, rem);
  return [start, start + base + (rank < rem ? 1 : 0)];
}

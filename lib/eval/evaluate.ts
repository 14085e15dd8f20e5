// The one evaluation loop every method goes through (method spec §5): full ranking over the catalog, HR/NDCG@K,
// per-sample ranks (for paired tests), cold/warm segments, repeat-target count, optional timing.
//
// Any model plugs in through a Scorer: given a batch of samples, return one score per item id 0..N per sample,
// either as Float32Arrays or as a tf.Tensor2D [B, N+1] (evaluateRanking takes ownership and disposes it).
import { tf } from '../model/backend';
import type { Dataset, Sample, SplitName } from '../data/types';
import { R2ecError } from '../util/errors';
import { DEFAULT_KS, ranksFromFlat, ranksFromTensor, summarizeRanks, type TieRule } from './metrics';

export type Scorer = (samples: Sample[]) => Promise<Float32Array[] | tf.Tensor2D>;

export interface EvalOptions {
  /** cut-offs for HR@K / NDCG@K (default 5, 10, 20) */
  ks?: number[];
  /** samples per scorer call (default 256) */
  batchSize?: number;
  /** exclude history items from the ranking (default true, spec §5); repeat targets are then misses */
  maskHistory?: boolean;
  ties?: TieRule;
  /** record wall time (scorer + ranking) */
  timing?: boolean;
  /** where ranks of tensor scores are counted: 'js' (default; measured ~30× faster on wasm) or 'tensor' */
  rankOn?: 'js' | 'tensor';
  /** called after each batch with (done, total) */
  onProgress?: (done: number, total: number) => void;
}

export interface SegmentResult {
  n: number;
  metrics: Record<string, number>;
}

export interface EvalResult {
  /** mean over all samples, keyed 'HR@K' / 'NDCG@K' */
  metrics: Record<string, number>;
  n: number;
  /** rank of the target per sample, in the order of the evaluated samples; Infinity = unrankable (masked repeat) */
  ranks: Float64Array;
  /** sample.index of each rank, so two methods can be paired sample by sample */
  sampleIndex: Int32Array;
  /**
   * coldUser: the sample's user has no sample in the train split; coldItem: the target item occurs nowhere in the
   * train split (neither as a target nor in a history).
   */
  segments: { coldUser: SegmentResult; warmUser: SegmentResult; coldItem: SegmentResult; warmItem: SegmentResult };
  /** samples whose target item is also in their history (unhittable when maskHistory is true) */
  repeatTargets: number;
  options: { ks: number[]; maskHistory: boolean; ties: TieRule; split: string };
  timing?: { totalSec: number; perSampleMs: number };
}

interface TrainSets {
  users: Set<number>;
  items: Set<number>;
}

// Keyed by the train array itself: computed once per dataset, dropped with it.
const trainSetCache = new WeakMap<Sample[], TrainSets>();

/** Users and items that occur in the train split (targets and history items), cached per dataset. */
export function trainSets(ds: Dataset): TrainSets {
  const train = ds.samples.train;
  let s = trainSetCache.get(train);
  if (!s) {
    s = { users: new Set(), items: new Set() };
    for (const x of train) {
      s.users.add(x.user);
      s.items.add(x.target.item);
      for (const h of x.history) s.items.add(h.item);
    }
    trainSetCache.set(train, s);
  }
  return s;
}

function checkOptions(opts: EvalOptions): { ks: number[]; batchSize: number } {
  const ks = opts.ks ?? DEFAULT_KS;
  if (!Array.isArray(ks) || ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new R2ecError(`evaluate: ks must be a non-empty list of integers ≥ 1, got ${JSON.stringify(ks)}`);
  }
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new R2ecError(`evaluate: batchSize must be an integer ≥ 1, got ${batchSize}`);
  }
  return { ks: [...ks], batchSize };
}

/** Full-ranking evaluation of `scorer` on a split (or an explicit list of samples) of `ds`. */
export async function evaluateRanking(
  ds: Dataset,
  split: SplitName | Sample[],
  scorer: Scorer,
  opts: EvalOptions = {},
): Promise<EvalResult> {
  const { ks, batchSize } = checkOptions(opts);
  const maskHistory = opts.maskHistory ?? true;
  const ties = opts.ties ?? 'pessimistic';
  const samples = typeof split === 'string' ? ds.samples[split] : split;
  if (!samples) throw new R2ecError(`evaluate: dataset "${ds.name}" has no split "${String(split)}"`);
  const numCols = ds.items.length; // ids 0..N
  const n = samples.length;
  const ranks = new Float64Array(n);
  const sampleIndex = new Int32Array(n);
  let repeatTargets = 0;
  const t0 = performance.now();

  for (let start = 0; start < n; start += batchSize) {
    const batch = samples.slice(start, start + batchSize);
    const targets: number[] = [];
    const masks: number[][] = [];
    for (const s of batch) {
      const hist = s.history.map((h) => h.item);
      if (hist.includes(s.target.item)) repeatTargets++;
      targets.push(s.target.item);
      masks.push(maskHistory ? hist : []);
    }
    const out = await scorer(batch);
    let r: Float64Array;
    if (out instanceof tf.Tensor) {
      try {
        if (out.rank !== 2 || out.shape[0] !== batch.length || out.shape[1] !== numCols) {
          throw new R2ecError(
            `evaluate: scorer returned a tensor of shape [${out.shape}], expected [${batch.length}, ${numCols}] ` +
              `(one score per item id 0..${numCols - 1})`,
          );
        }
        r =
          opts.rankOn === 'tensor'
            ? ranksFromTensor(out, targets, masks, ties)
            : ranksFromFlat(out.dataSync(), numCols, targets, masks, ties);
      } finally {
        out.dispose();
      }
    } else {
      if (!Array.isArray(out) || out.length !== batch.length) {
        throw new R2ecError(`evaluate: scorer returned ${Array.isArray(out) ? out.length : typeof out} rows for ${batch.length} samples`);
      }
      r = new Float64Array(batch.length);
      for (let i = 0; i < batch.length; i++) {
        if (out[i].length !== numCols) {
          throw new R2ecError(
            `evaluate: scorer row for sample ${batch[i].index} has ${out[i].length} scores, expected ${numCols}`,
          );
        }
        r[i] = ranksFromFlat(out[i], numCols, [targets[i]], [masks[i]], ties)[0];
      }
    }
    ranks.set(r, start);
    for (let i = 0; i < batch.length; i++) sampleIndex[start + i] = batch[i].index;
    opts.onProgress?.(Math.min(start + batchSize, n), n);
  }
  const totalSec = (performance.now() - t0) / 1000;

  const { users, items } = trainSets(ds);
  const seg = (pred: (s: Sample) => boolean): SegmentResult => {
    const sel: number[] = [];
    for (let i = 0; i < n; i++) if (pred(samples[i])) sel.push(ranks[i]);
    return { n: sel.length, metrics: summarizeRanks(sel, ks) };
  };
  const result: EvalResult = {
    metrics: summarizeRanks(ranks, ks),
    n,
    ranks,
    sampleIndex,
    segments: {
      coldUser: seg((s) => !users.has(s.user)),
      warmUser: seg((s) => users.has(s.user)),
      coldItem: seg((s) => !items.has(s.target.item)),
      warmItem: seg((s) => items.has(s.target.item)),
    },
    repeatTargets,
    options: { ks, maskHistory, ties, split: typeof split === 'string' ? split : `${n} samples` },
  };
  if (opts.timing) result.timing = { totalSec, perSampleMs: n ? (totalSec * 1000) / n : 0 };
  return result;
}

/**
 * Scores = user vectors · item table, as a Scorer output [B, N+1]. `cosine` L2-normalises both sides and divides by
 * `tau` (the reference code's cos/0.02, spec §3). Uses an explicit transpose (matMul's transpose flag is slow on
 * wasm, stack notes). Does not dispose its inputs.
 */
export function dotScores(
  userVectors: tf.Tensor2D,
  itemTable: tf.Tensor2D,
  opts: { cosine?: boolean; tau?: number } = {},
): tf.Tensor2D {
  return tf.tidy(() => {
    let u: tf.Tensor2D = userVectors;
    let e: tf.Tensor2D = itemTable;
    if (opts.cosine) {
      const norm = (x: tf.Tensor2D) => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
      u = norm(u);
      e = norm(e);
    }
    let s = tf.matMul(u, tf.transpose(e)) as tf.Tensor2D;
    if (opts.tau !== undefined) s = tf.div(s, opts.tau);
    return s;
  });
}

/** A one-line summary like "HR@10 0.0412  NDCG@10 0.0213 (n=6351)". */
export function formatMetrics(r: Pick<EvalResult, 'metrics' | 'n'>, keys?: string[]): string {
  const ks = keys ?? Object.keys(r.metrics);
  return `${ks.map((k) => `${k} ${r.metrics[k].toFixed(4)}`).join('  ')} (n=${r.n})`;
}

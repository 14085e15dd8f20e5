// Batched generation with a KV cache: greedy, temperature, top-k, top-p; stops at stop tokens (the `<answer>` that
// closes the reasoning, spec §2) or after maxNewTokens. Seeded: sampling draws from our Rng, so a seed reproduces it.
import { tf } from './backend';
import type { ModelConfig } from './config';
import { emptyCache, disposeCache, forward, lmLogits, padBatch, type KVCache, type Params, type TokenBatch } from './decoder';
import { makeRng, type Rng } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';

export interface SamplingConfig {
  /** 0 = greedy (argmax, ties to the lowest id) */
  temperature: number;
  /** keep the k most likely tokens (0 = all) */
  topK: number;
  /** nucleus: keep the smallest set with cumulative probability ≥ topP (1 = all) */
  topP: number;
  maxNewTokens: number;
}

export const GREEDY: SamplingConfig = { temperature: 0, topK: 0, topP: 1, maxNewTokens: 64 };

export function validateSampling(s: SamplingConfig, prefix = 'sampling'): void {
  if (!(s.temperature >= 0)) throw new ConfigError(`${prefix}.temperature`, `must be ≥ 0, got ${s.temperature}`);
  if (!Number.isInteger(s.topK) || s.topK < 0) throw new ConfigError(`${prefix}.topK`, `must be an integer ≥ 0, got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new ConfigError(`${prefix}.topP`, `must be in (0, 1], got ${s.topP}`);
  if (!Number.isInteger(s.maxNewTokens) || s.maxNewTokens < 1) {
    throw new ConfigError(`${prefix}.maxNewTokens`, `must be an integer ≥ 1, got ${s.maxNewTokens}`);
  }
}

/** What row `row` of the batch may emit next, given its generated ids (undefined: anything). */
export type AllowedTokens = (generated: readonly number[], row: number) => readonly number[] | undefined;

export interface GenerateResult {
  /** generated ids per row (including the stop token when one was produced) */
  tokens: number[][];
  /** log π(token) under the model at temperature 1, per generated token */
  logProbs: number[][];
  /** true when the row ended on a stop token */
  stopped: boolean[];
}

/** Draw one token from a row of logits. Returns [token, log-prob at temperature 1]. */
export function sampleToken(logits: Float32Array, s: SamplingConfig, rng: Rng): [number, number] {
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[i] - max);
  const logZ = max + Math.log(z);
  let tok = 0;
  if (s.temperature === 0) {
    for (let i = 1; i < V; i++) if (logits[i] > logits[tok]) tok = i;
    return [tok, logits[tok] - logZ];
  }
  // Candidates: the top-k ids (by logit, ties to the lower id) when top-k is set, selected without sorting the whole
  // vocabulary, then ordered by logit (ties to the lower id).
  let idx: number[];
  if (s.topK > 0 && s.topK < V) idx = topKIndices(logits, s.topK);
  else idx = Array.from({ length: V }, (_, i) => i);
  if (s.topP < 1 || s.topK > 0) idx.sort((a, b) => logits[b] - logits[a] || a - b);
  const w = idx.map((i) => Math.exp((logits[i] - max) / s.temperature));
  let total = w.reduce((a, b) => a + b, 0);
  if (s.topP < 1) {
    let cum = 0;
    let keep = idx.length;
    for (let j = 0; j < idx.length; j++) {
      cum += w[j] / total;
      if (cum >= s.topP) {
        keep = j + 1;
        break;
      }
    }
    idx = idx.slice(0, keep);
    w.length = keep;
    total = w.reduce((a, b) => a + b, 0);
  }
  let u = rng.next() * total;
  tok = idx[idx.length - 1];
  for (let j = 0; j < idx.length; j++) {
    u -= w[j];
    if (u < 0) {
      tok = idx[j];
      break;
    }
  }
  return [tok, logits[tok] - logZ];
}

let scratch = new Float32Array(0);

/**
 * Ids of the k largest logits (ties to the lower id), in id order: the k-th largest value by quickselect on a copy,
 * then one pass that keeps the ids above it and the lowest ids equal to it. Sampling is a third of a RecPO rollout's
 * time, so this avoids a heap of closures.
 */
function topKIndices(logits: Float32Array, k: number): number[] {
  const V = logits.length;
  if (scratch.length < V) scratch = new Float32Array(V);
  const a = scratch;
  a.set(logits);
  // quickselect: after it, a[k-1] is the k-th largest value (descending order)
  let lo = 0;
  let hi = V - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else break;
  }
  const kth = a[want];
  const out: number[] = [];
  let ties = k;
  for (let i = 0; i < V; i++) if (logits[i] > kth) ties--;
  for (let i = 0; i < V; i++) {
    const l = logits[i];
    if (l > kth) out.push(i);
    else if (l === kth && ties > 0) {
      out.push(i);
      ties--;
    }
  }
  return out;
}

/**
 * Generate continuations of `prompts` (token ids, no padding). Rows are left-padded together; each row stops at
 * its first stop token or after maxNewTokens.
 */
export function generate(
  params: Params,
  cfg: ModelConfig,
  prompts: number[][],
  sampling: SamplingConfig,
  rng: Rng,
  stopTokens: number[] = [],
  padId = 0,
  /** an extra stop test on a row's generated ids (stop strings of Hugging Face tokenizers, lib/text/hf-tokenizer.ts) */
  stopWhen?: (generated: readonly number[]) => boolean,
  /**
   * Constrained decoding (Hugging Face's prefix_allowed_tokens_fn): the ids a row may emit next given what it has
   * generated, or undefined for all. The others are masked before sampling, so log-probs are the constrained ones.
   */
  allowedTokens?: AllowedTokens,
): GenerateResult {
  validateSampling(sampling);
  const B = prompts.length;
  if (B === 0) return { tokens: [], logProbs: [], stopped: [] };
  const longest = Math.max(...prompts.map((p) => p.length));
  if (prompts.some((p) => p.length === 0)) throw new R2ecError('generate: empty prompt');
  if (longest + sampling.maxNewTokens > cfg.maxSeqLen) {
    throw new R2ecError(
      `generate: prompt of ${longest} tokens + maxNewTokens ${sampling.maxNewTokens} exceeds maxSeqLen ${cfg.maxSeqLen}`,
    );
  }
  const stop = new Set(stopTokens);
  const tokens: number[][] = prompts.map(() => []);
  const logProbs: number[][] = prompts.map(() => []);
  const stopped = new Array<boolean>(B).fill(false);
  const masked = new Float32Array(allowedTokens ? cfg.vocabSize : 0);
  // Identical prompts (RecPO's G rollouts of one user) share one prefill: the prompt is encoded once and its cache
  // rows are copied to every row that asked for it, so the prompt's cost is paid per user, not per rollout.
  const { unique, rowOf } = uniquePrompts(prompts);
  const cache = emptyCache(B);
  let batch: TokenBatch = padBatch(prompts, 'left', padId);
  const lengths = prompts.map((p) => p.length);
  try {
    for (let step = 0; step < sampling.maxNewTokens; step++) {
      const last =
        step === 0 && unique.length < B
          ? sharedPrefill(params, cfg, unique, rowOf, padId, cache)
          : tf.tidy(() => {
              const h = forward(params, cfg, batch, { cache });
              const lastH = tf.reshape(tf.slice(h, [0, h.shape[1] - 1, 0], [B, 1, cfg.dModel]), [B, cfg.dModel]);
              return lmLogits(params, lastH as tf.Tensor2D, cfg);
            });
      const vals = last.dataSync() as Float32Array;
      last.dispose();
      const next = new Int32Array(B);
      let active = 0;
      for (let b = 0; b < B; b++) {
        if (stopped[b] || tokens[b].length >= sampling.maxNewTokens) {
          next[b] = padId;
          continue;
        }
        let row = vals.subarray(b * cfg.vocabSize, (b + 1) * cfg.vocabSize);
        const allowed = allowedTokens?.(tokens[b], b);
        if (allowed !== undefined && allowed.length > 0) {
          masked.fill(-Infinity);
          for (const t of allowed) masked[t] = row[t];
          row = masked;
        }
        const [tok, lp] = sampleToken(row, sampling, rng);
        tokens[b].push(tok);
        logProbs[b].push(lp);
        next[b] = tok;
        if (stop.has(tok) || (stopWhen !== undefined && stopWhen(tokens[b]))) stopped[b] = true;
        else active++;
      }
      if (active === 0 || step === sampling.maxNewTokens - 1) break;
      // feed the new tokens; finished rows feed a pad that nothing reads
      const positions = new Int32Array(B);
      for (let b = 0; b < B; b++) positions[b] = lengths[b] + step;
      batch = { B, T: 1, ids: next, mask: new Uint8Array(B).fill(1), positions, lengths: new Array(B).fill(1), side: 'left' };
    }
  } finally {
    disposeCache(cache);
  }
  return { tokens, logProbs, stopped };
}

/** The distinct prompts and, for every prompt, the index of its distinct copy. */
function uniquePrompts(prompts: number[][]): { unique: number[][]; rowOf: Int32Array } {
  const seen = new Map<string, number>();
  const unique: number[][] = [];
  const rowOf = new Int32Array(prompts.length);
  prompts.forEach((p, i) => {
    const key = p.join(',');
    let u = seen.get(key);
    if (u === undefined) {
      seen.set(key, (u = unique.length));
      unique.push(p);
    }
    rowOf[i] = u;
  });
  return { unique, rowOf };
}

/**
 * Prefill of the distinct prompts, expanded to every row: fills `cache` (B rows) and returns the last position's
 * logits [B, V]. Left padding is the same as in the full batch (the longest prompt is among the distinct ones), so
 * every row's keys, values and mask are those the full prefill would compute.
 */
function sharedPrefill(
  params: Params,
  cfg: ModelConfig,
  unique: number[][],
  rowOf: Int32Array,
  padId: number,
  cache: KVCache,
): tf.Tensor2D {
  const U = unique.length;
  const B = rowOf.length;
  const uCache = emptyCache(U);
  try {
    const batch = padBatch(unique, 'left', padId);
    const logits = tf.tidy(() => {
      const h = forward(params, cfg, batch, { cache: uCache });
      const lastH = tf.reshape(tf.slice(h, [0, h.shape[1] - 1, 0], [U, 1, cfg.dModel]), [U, cfg.dModel]);
      return tf.gather(lmLogits(params, lastH as tf.Tensor2D, cfg), rowOf) as tf.Tensor2D;
    });
    const rows = tf.tensor1d(rowOf, 'int32');
    cache.k = uCache.k.map((t) => tf.gather(t, rows) as tf.Tensor4D);
    cache.v = uCache.v.map((t) => tf.gather(t, rows) as tf.Tensor4D);
    rows.dispose();
    const T = uCache.len;
    cache.keyMask = new Uint8Array(B * T);
    for (let b = 0; b < B; b++) cache.keyMask.set(uCache.keyMask.subarray(rowOf[b] * T, (rowOf[b] + 1) * T), b * T);
    cache.len = T;
    return logits;
  } finally {
    disposeCache(uCache);
  }
}

/** `generate` plus the decoded text of each continuation (special tokens such as the closing `<answer>` dropped). */
export function generateText(
  params: Params,
  cfg: ModelConfig,
  tok: {
    decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
    special: { answer: number; pad: number };
    stopWhen?: (generated: readonly number[]) => boolean;
  },
  prompts: number[][],
  sampling: SamplingConfig,
  rng: Rng,
  allowedTokens?: AllowedTokens,
): GenerateResult & { texts: string[] } {
  const stopIds = tok.special.answer >= 0 ? [tok.special.answer] : [];
  const r = generate(params, cfg, prompts, sampling, rng, stopIds, tok.special.pad, tok.stopWhen ? (g) => tok.stopWhen!(g) : undefined, allowedTokens);
  return { ...r, texts: r.tokens.map((t) => tok.decode(t, { skipSpecial: true })) };
}

/**
 * Greedy continuations of `prompts` in batches of `batch` rows, as evaluation reads a model's reasoning (R²ec's
 * evaluation, the backbone's valid read-out after its own reasoning): deterministic, so no rng is shared.
 */
export function greedyTexts(
  params: Params,
  cfg: ModelConfig,
  tok: Parameters<typeof generateText>[2],
  prompts: number[][],
  maxNewTokens: number,
  batch: number,
  allowedTokens?: AllowedTokens,
): { tokens: number[][]; texts: string[] } {
  const sampling: SamplingConfig = { ...GREEDY, maxNewTokens };
  const tokens: number[][] = [];
  const texts: string[] = [];
  for (let i = 0; i < prompts.length; i += batch) {
    const rows = allowedTokens && ((g: readonly number[], row: number) => allowedTokens(g, i + row)); // rows of `prompts`
    const r = generateText(params, cfg, tok, prompts.slice(i, i + batch), sampling, makeRng(0), rows);
    tokens.push(...r.tokens);
    texts.push(...r.texts);
  }
  return { tokens, texts };
}

// Health of generated reasoning texts, measured on token ids at each evaluation (issue: "reasoning worth reading").
// The ranking metric alone cannot see a policy that degenerates its text: measured on ml-100k, RecPO at lr 1e-4 from
// a backbone whose read-out trusts its reasoning raised valid NDCG@10 while the texts became
// "Balanceanceanceance… Next: Children's and Children's." for many users. These numbers make that visible.
import { R2ecError } from '../util/errors';

export interface ReasoningStats {
  /** mean reasoning length in tokens */
  meanTokens: number;
  /** share of token bigrams that already occurred earlier in the same text, pooled over texts (loops → 1) */
  repeatShare: number;
  /** distinct texts / texts (one text for every user → 1/n) */
  distinctShare: number;
  /** share of texts that differ from `reference` (the same samples' texts at step 0); NaN without a reference */
  changedShare: number;
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Reasoning diagnostics of `texts` (token ids per sample); `reference` = the same samples' texts to compare with. */
export function reasoningStats(texts: readonly (readonly number[])[], reference?: readonly (readonly number[])[]): ReasoningStats {
  const n = texts.length;
  if (reference && reference.length !== n) throw new R2ecError(`reasoningStats: ${n} texts against ${reference.length} reference texts`);
  let tokens = 0;
  let bigrams = 0;
  let repeats = 0;
  for (const t of texts) {
    tokens += t.length;
    const seen = new Set<string>();
    for (let i = 1; i < t.length; i++) {
      const k = `${t[i - 1]},${t[i]}`;
      bigrams++;
      if (seen.has(k)) repeats++;
      else seen.add(k);
    }
  }
  const distinct = new Set(texts.map((t) => t.join(','))).size;
  let changed = 0;
  if (reference) texts.forEach((t, i) => (changed += same(t, reference[i]) ? 0 : 1));
  return {
    meanTokens: n ? tokens / n : 0,
    repeatShare: bigrams ? repeats / bigrams : 0,
    distinctShare: n ? distinct / n : 0,
    changedShare: reference ? (n ? changed / n : 0) : NaN,
  };
}

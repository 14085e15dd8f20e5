// Sample construction and the global chronological split (method spec §1 "Samples" and "Split").
import type { Interaction, Sample, Splits } from './types';

/**
 * Group interactions by user, order each user's sequence by timestamp with a STABLE sort in input (file) order, and
 * emit one sample per position i ≥ 1 with history = positions max(0, i−W)…i−1 (oldest first) and target = position
 * i. Returns the samples in no particular order plus the ordered per-user sequences.
 *
 * Spec §1: "sort them by timestamp (a stable sort)". No other tie-break: ordering equal timestamps by item id
 * leaked the target on ml-100k (52% of test targets share their timestamp with the last history item, and with an
 * id tie-break every one of them had the larger id, so "rank ids after the last history item" scored 2× Popularity).
 * Callers must pass the interactions in source-file order.
 */
export function buildSamples(
  interactions: Interaction[],
  window: number,
): { samples: Omit<Sample, 'index'>[]; sequences: Map<number, Interaction[]> } {
  const sequences = new Map<number, Interaction[]>();
  for (const it of interactions) {
    let seq = sequences.get(it.user);
    if (!seq) sequences.set(it.user, (seq = []));
    seq.push(it);
  }
  const samples: Omit<Sample, 'index'>[] = [];
  for (const [user, seq] of sequences) {
    // Array.prototype.sort is stable, as the spec's pandas stable sort requires.
    seq.sort((a, b) => a.timestamp - b.timestamp);
    for (let i = 1; i < seq.length; i++) {
      samples.push({ user, history: seq.slice(Math.max(0, i - window), i), target: seq[i] });
    }
  }
  return { samples, sequences };
}

/**
 * Sort all samples globally by target timestamp (stable: ties keep their construction order, which we make
 * deterministic by ordering users by id) and cut 80/10/10 at int(n·0.8) and int(n·0.9) (spec §1 "Split").
 */
export function chronologicalSplit(samples: Omit<Sample, 'index'>[], fractions = [0.8, 0.1, 0.1]): Splits {
  const ordered = samples
    .map((s, k) => ({ s, k }))
    .sort((a, b) => a.s.target.timestamp - b.s.target.timestamp || a.s.user - b.s.user || a.k - b.k)
    .map(({ s }, index) => ({ ...s, index }));
  const n = ordered.length;
  const a = Math.floor(n * fractions[0]);
  const b = Math.floor(n * (fractions[0] + fractions[1]));
  return { train: ordered.slice(0, a), valid: ordered.slice(a, b), test: ordered.slice(b) };
}

// Summaries for the paper's behaviour analysis: how often each behaviour appears (per dataset or any group), and
// example texts per behaviour with the evidence highlighted.
import { R2ecError } from '../util/errors';
import { makeRng, hashSeed } from '../util/rng';
import { BEHAVIORS, BEHAVIOR_IDS, type Behavior, type CueSpan, type TagInput, type TagResult } from './types';

export interface ShareRow {
  group: string;
  behavior: Behavior;
  label: string;
  /** texts of the group labelled with this behaviour */
  count: number;
  /** texts of the group with labels (denominator) */
  n: number;
  /** count / n; null when the group has no labelled text */
  share: number | null;
  /** texts of the group with labels null (failed judgements), left out of n */
  unlabeled: number;
}

export type GroupBy = ((id: string) => string) | Map<string, string> | Record<string, string>;

function groupOf(groupBy: GroupBy | undefined, id: string): string {
  if (groupBy === undefined) return 'all';
  const g =
    typeof groupBy === 'function' ? groupBy(id) : groupBy instanceof Map ? groupBy.get(id) : Object.prototype.hasOwnProperty.call(groupBy, id) ? groupBy[id] : undefined;
  if (typeof g !== 'string') throw new R2ecError(`behaviorShares: no group for result "${id}"`);
  return g;
}

/**
 * Share of texts showing each behaviour, per group (default one group "all"), rows ordered by group (first
 * appearance) then behaviour (paper order). Results with labels null are counted in `unlabeled`, not in n.
 */
export function behaviorShares(results: TagResult[], groupBy?: GroupBy): ShareRow[] {
  const groups = new Map<string, { n: number; unlabeled: number; counts: Record<Behavior, number> }>();
  for (const r of results) {
    const g = groupOf(groupBy, r.id);
    let acc = groups.get(g);
    if (!acc) {
      const counts = {} as Record<Behavior, number>;
      for (const b of BEHAVIOR_IDS) counts[b] = 0;
      groups.set(g, (acc = { n: 0, unlabeled: 0, counts }));
    }
    if (!r.labels) {
      acc.unlabeled++;
      continue;
    }
    acc.n++;
    for (const b of BEHAVIOR_IDS) if (r.labels[b]) acc.counts[b]++;
  }
  const rows: ShareRow[] = [];
  for (const [group, acc] of groups) {
    for (const { id, label } of BEHAVIORS) {
      rows.push({ group, behavior: id, label, count: acc.counts[id], n: acc.n, share: acc.n ? acc.counts[id] / acc.n : null, unlabeled: acc.unlabeled });
    }
  }
  return rows;
}

// ---- highlighting ---------------------------------------------------------------------------------------------

function escapeMarkdown(s: string): string {
  // Escape what would change the rendering of a plain text in Jupyter markdown; "<" so that "<answer>" stays visible.
  return s.replace(/[\\*_`#[\]]/g, '\\$&').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Spans of the evidence strings found in the text (case-insensitive, on word boundaries), for sources without spans. */
export function evidenceSpans(text: string, evidence: string[]): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const lower = text.toLowerCase();
  for (const e of evidence) {
    const needle = e.toLowerCase();
    if (!needle) continue;
    for (let i = lower.indexOf(needle); i >= 0; i = lower.indexOf(needle, i + needle.length)) {
      const before = i > 0 ? lower[i - 1] : ' ';
      const after = i + needle.length < lower.length ? lower[i + needle.length] : ' ';
      const wordy = (c: string) => /[\p{L}\p{N}_]/u.test(c);
      if ((wordy(needle[0]) && wordy(before)) || (wordy(needle[needle.length - 1]) && wordy(after))) continue;
      out.push({ start: i, end: i + needle.length });
    }
  }
  return out;
}

/** The text as markdown with the given spans in **bold** (overlapping spans merged, the rest escaped). */
export function highlightMarkdown(text: string, spans: { start: number; end: number }[]): string {
  const sorted = [...spans].filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const merged: { start: number; end: number }[] = [];
  for (const s of sorted) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  let out = '';
  let pos = 0;
  for (const s of merged) {
    out += escapeMarkdown(text.slice(pos, s.start));
    // Bold must not start or end on whitespace to render; spans never do, but keep the markers tight anyway.
    out += `**${escapeMarkdown(text.slice(s.start, s.end).trim())}**`;
    pos = s.end;
  }
  return out + escapeMarkdown(text.slice(pos));
}

export interface BehaviorExample {
  id: string;
  /** the reasoning text as markdown, this behaviour's evidence in **bold** */
  markdown: string;
  evidence: string[];
}

/**
 * k example texts per behaviour among those labelled with it, chosen with a seeded RNG (same seed, same examples;
 * each behaviour has its own stream). Fewer than k when fewer texts show the behaviour.
 */
export function examplesPerBehavior(
  results: TagResult[],
  inputs: TagInput[],
  k: number,
  seed: number,
): Record<Behavior, BehaviorExample[]> {
  if (!Number.isInteger(k) || k < 0) throw new R2ecError(`examplesPerBehavior: k must be an integer ≥ 0, got ${k}`);
  const texts = new Map(inputs.map((i) => [i.id, i.reasoning]));
  const out = {} as Record<Behavior, BehaviorExample[]>;
  for (const b of BEHAVIOR_IDS) {
    const pool = results.filter((r) => r.labels?.[b]);
    const rng = makeRng(hashSeed(seed, 'examples', b));
    // partial Fisher-Yates: the first k of a seeded shuffle
    const picked: TagResult[] = [];
    const arr = [...pool];
    for (let i = 0; i < Math.min(k, arr.length); i++) {
      const j = i + rng.int(arr.length - i);
      [arr[i], arr[j]] = [arr[j], arr[i]];
      picked.push(arr[i]);
    }
    out[b] = picked.map((r) => {
      const text = texts.get(r.id);
      if (text === undefined) throw new R2ecError(`examplesPerBehavior: no input text for result "${r.id}"`);
      const evidence = r.evidence[b] ?? [];
      const spans: { start: number; end: number }[] = r.spans?.[b] ?? evidenceSpans(text, evidence);
      return { id: r.id, markdown: highlightMarkdown(text, spans as CueSpan[]), evidence };
    });
  }
  return out;
}

// Reasoning-behaviour tagging: the seven behaviours the paper's analysis tags in each reasoning text, and the one
// interface every tagger (rule-based, LLM judge, human annotation read back from CSV) implements.
// The reasoning text is what the model writes before `<answer>` about a prompt whose history lines look like
// `12d 3.5h ago: [Title] (4.0)` (spec §2).

import { R2ecError } from '../util/errors';

export const BEHAVIOR_IDS = [
  'attribute_abstraction',
  'pattern_clustering',
  'role_scenario',
  'temporal',
  'self_explanation',
  'negative_exclusion',
  'multi_objective',
] as const;

export type Behavior = (typeof BEHAVIOR_IDS)[number];

export interface BehaviorInfo {
  id: Behavior;
  /** short human label, for tables and figures */
  label: string;
  /** one-sentence definition; the LLM judge's prompt is built from these */
  definition: string;
}

/** The seven behaviours, in the paper's order, with human labels and definitions. */
export const BEHAVIORS: readonly BehaviorInfo[] = [
  {
    id: 'attribute_abstraction',
    label: 'Attribute abstraction',
    definition:
      'The reasoning lifts concrete history items to general attributes (genre, category, style, brand, theme, price level) instead of only naming or quoting the items.',
  },
  {
    id: 'pattern_clustering',
    label: 'Pattern clustering',
    definition:
      'The reasoning groups several history items together as one pattern, series, franchise or cluster of similar items.',
  },
  {
    id: 'role_scenario',
    label: 'Role/scenario reasoning',
    definition:
      'The reasoning infers who the user is or in which situation they buy (a persona such as a collector, musician, parent or beginner, or an occasion such as a gift, a party or family use).',
  },
  {
    id: 'temporal',
    label: 'Temporal reasoning',
    definition:
      'The reasoning uses the timing or order of the interactions (recency, how long ago, a shift or trend over time).',
  },
  {
    id: 'self_explanation',
    label: 'Self-explanation',
    definition:
      'The reasoning justifies its conclusions with explicit causal or inferential links (because, therefore, which suggests, this indicates).',
  },
  {
    id: 'negative_exclusion',
    label: 'Negative-preference exclusion',
    definition:
      'The reasoning identifies what the user dislikes or rated low and uses it to exclude or down-weight candidates.',
  },
  {
    id: 'multi_objective',
    label: 'Multi-objective balancing',
    definition:
      'The reasoning weighs several preferences or goals against each other and seeks a recommendation that balances or combines them (e.g. familiar and novel, quality and price, diverse interests).',
  },
];

export function behaviorInfo(id: Behavior): BehaviorInfo {
  const info = BEHAVIORS.find((b) => b.id === id);
  if (!info) throw new Error(`unknown behaviour ${id}`);
  return info;
}

export function isBehavior(s: string): s is Behavior {
  return (BEHAVIOR_IDS as readonly string[]).includes(s);
}

export interface TagInput {
  id: string;
  /** the reasoning text the model wrote before `<answer>` */
  reasoning: string;
  /** titles of the history items, oldest first, as shown in the prompt (spec §2) */
  historyTitles?: string[];
  /** ratings of the same history items (raw, out of 5) */
  historyRatings?: number[];
  /** genres, categories, brands of the history items (any order; duplicates are fine) */
  historyAttributes?: string[];
}

/** Where a cue was found in the reasoning text: [start, end) character offsets and the cue (lexicon entry) it matched. */
export interface CueSpan {
  start: number;
  end: number;
  cue: string;
}

export interface TagResult {
  id: string;
  /** one boolean per behaviour; null when the tagger failed on this text (see `error`; such items are counted) */
  labels: Record<Behavior, boolean> | null;
  /** the matched cues per behaviour, for transparency (empty for sources that give none, e.g. the LLM judge) */
  evidence: Partial<Record<Behavior, string[]>>;
  /** character spans of the evidence, when the tagger knows them (rule tagger); used to highlight examples */
  spans?: Partial<Record<Behavior, CueSpan[]>>;
  /** why labels is null */
  error?: string;
}

export interface BehaviorTagger {
  name: string;
  tag(inputs: TagInput[]): Promise<TagResult[]>;
}

export function allFalse(): Record<Behavior, boolean> {
  const o = {} as Record<Behavior, boolean>;
  for (const b of BEHAVIOR_IDS) o[b] = false;
  return o;
}

/** Inputs are joined to results by id downstream (agreement, CSV, examples), so ids must be unique and texts strings. */
export function checkInputs(inputs: TagInput[], who: string): void {
  if (!Array.isArray(inputs)) throw new R2ecError(`${who}: inputs must be an array of TagInput`);
  const seen = new Set<string>();
  inputs.forEach((inp, k) => {
    if (!inp || typeof inp.id !== 'string' || inp.id === '')
      throw new R2ecError(`${who}: input #${k} has no id (a non-empty string)`);
    if (seen.has(inp.id)) throw new R2ecError(`${who}: duplicate input id "${inp.id}" (input #${k})`);
    seen.add(inp.id);
    if (typeof inp.reasoning !== 'string')
      throw new R2ecError(`${who}: input "${inp.id}" has no reasoning text (field "reasoning" must be a string)`);
    if (inp.historyRatings && !inp.historyTitles)
      throw new R2ecError(`${who}: input "${inp.id}" has historyRatings but no historyTitles to pair them with`);
    if (inp.historyRatings && inp.historyTitles && inp.historyRatings.length !== inp.historyTitles.length)
      throw new R2ecError(
        `${who}: input "${inp.id}" has ${inp.historyTitles.length} historyTitles but ${inp.historyRatings.length} historyRatings`,
      );
  });
}

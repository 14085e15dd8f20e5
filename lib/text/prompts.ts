// R²ec prompt builders (spec §2 "User prompt", "Item prompt"), parameterised by the dataset's Domain.
import { R2ecError } from '../util/errors';
import type { Dataset, Domain, Interaction, Item, Sample } from '../data/types';
import { ANSWER, ANSWER_END } from './chat';

/** spec §2: at most 20 history lines */
export const MAX_HISTORY_LINES = 20;
/** spec §2: descriptions longer than 100 whitespace-separated words are cut and get "..." */
export const DESCRIPTION_MAX_WORDS = 100;
/** spec §2: the assistant turn of an item sequence is prefilled with exactly `<answer>` */
export const ITEM_ASSISTANT_PREFILL = ANSWER;
/** cap on the MovieLens user tags printed in an item prompt (not in the spec, which has no tags) */
export const MAX_ITEM_TAGS = 20;

/** Sources whose interactions carry no ratings / no real timestamps (see historySignals). */
const SOURCES_WITHOUT_RATINGS = new Set(['goodreads-sprec']);
const SOURCES_WITHOUT_TIMESTAMPS = new Set(['goodreads-sprec']);

/**
 * Which per-interaction signals a dataset really has. GoodReads (SPRec) has neither: its reader stores rating 0 and
 * timestamp = position. A reader can also say so explicitly with provenance.options.hasRatings / hasTimestamps =
 * false. Independently, a single interaction whose rating is not a positive finite number (0, NaN) prints no rating.
 */
export function historySignals(ds: Dataset): { ratings: boolean; timestamps: boolean } {
  const src = ds.provenance?.source ?? '';
  const o = ds.provenance?.options ?? {};
  return {
    ratings: !SOURCES_WITHOUT_RATINGS.has(src) && o.hasRatings !== false,
    timestamps: !SOURCES_WITHOUT_TIMESTAMPS.has(src) && o.hasTimestamps !== false,
  };
}

/** A float printed the way Python's str() prints it for the values we meet: 5 → "5.0", 3.5 → "3.5". */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  return String(x);
}

/**
 * Python's format(x, '.1f'): correctly rounded, ties to even. JS toFixed rounds exact ties up; with one decimal an
 * exact binary tie is x = j/4 with j odd (…​.25, …​.75), which Python rounds to …​.2 / …​.8.
 */
export function pyFixed1(x: number): string {
  const q = x * 4;
  if (Number.isInteger(q) && q % 2 !== 0) {
    const sign = x < 0 ? '-' : '';
    const a = Math.abs(x);
    const n = Math.floor(a);
    return `${sign}${n}.${a - n === 0.25 ? 2 : 8}`;
  }
  return x.toFixed(1);
}

/**
 * spec §2 time delta: days > 0 → `{d}d {h:.1f}h` (h = hours + minutes/60, minutes including seconds/60); else
 * hours > 0 → `{h}h {m:.1f}min`; else `{m:.1f}min`. Arguments are unix seconds; like Python's timedelta.seconds,
 * sub-second parts are dropped. UTC (the official code used local time). A negative delta is an error.
 */
export function formatDelta(targetTs: number, historyTs: number): string {
  const ms = Math.round(targetTs * 1000) - Math.round(historyTs * 1000);
  if (!(ms >= 0)) {
    throw new R2ecError(`history timestamp ${historyTs} is after the target timestamp ${targetTs}`);
  }
  const total = Math.floor(ms / 1000);
  const days = Math.floor(total / 86400);
  const rem = total % 86400;
  let hours = Math.floor(rem / 3600);
  const r2 = rem % 3600;
  let minutes = Math.floor(r2 / 60);
  const seconds = r2 % 60;
  minutes += seconds / 60;
  if (days > 0) {
    hours += minutes / 60;
    return `${days}d ${pyFixed1(hours)}h`;
  }
  if (hours > 0) return `${hours}h ${pyFixed1(minutes)}min`;
  return `${pyFixed1(minutes)}min`;
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

const IRREGULAR_PAST: Record<string, string> = { read: 'read', buy: 'bought', hear: 'heard', see: 'saw', make: 'made' };

/** Past tense of the domain verb ("watch" → "watched", "listen to" → "listened to", "read" → "read"). */
export function pastTense(verb: string): string {
  const [first, ...rest] = verb.split(' ');
  let p = IRREGULAR_PAST[first];
  if (!p) {
    if (first.endsWith('e')) p = first + 'd';
    else if (/[^aeiou]y$/.test(first)) p = first.slice(0, -1) + 'ied';
    else p = first + 'ed';
  }
  return [p, ...rest].join(' ');
}

/**
 * The instruction head of the user prompt (spec §2 lines 1–3). For Amazon-like domains (verb "purchase") the spec
 * text verbatim. Other verbs: line 2 shows "a {singular}" ("an" before a vowel) instead of "a product", and line 3
 * reads "Below are the {plural} I {past tense}, with my ratings (out of 5):". Without ratings the rating clause is
 * left out ("Below is my historical {plural} purchases:" / "Below are the {plural} I read:").
 */
export function userPromptHead(domain: Domain, opts: { ratings: boolean } = { ratings: true }): string {
  const { singular, plural, verb } = domain;
  const purchase = verb === 'purchase';
  const line1 = `Analyze in depth and finally recommend next ${singular} I might ${verb} inside ${ANSWER} and ${ANSWER_END}.`;
  const example = purchase ? 'a product' : `${article(singular)} ${singular}`;
  const line2 = `For example, ${ANSWER}${example}${ANSWER_END}.`;
  const line3 = purchase
    ? `Below is my historical ${plural} purchases${opts.ratings ? ' and ratings (out of 5)' : ''}:`
    : `Below are the ${plural} I ${pastTense(verb)}${opts.ratings ? ', with my ratings (out of 5)' : ''}:`;
  return `${line1}\n${line2}\n\n${line3}`;
}

/**
 * One history line, spec §2: `{delta} ago: [{title}] ({rating})`. Parts the dataset does not have are left out:
 * `[{title}] ({rating})` without timestamps, `{delta} ago: [{title}]` without a rating, `[{title}]` with neither.
 */
export function historyLine(
  ds: Dataset,
  h: Interaction,
  targetTimestamp: number,
  signals = historySignals(ds),
): string {
  const item = ds.items[h.item];
  if (!item) throw new R2ecError(`history item ${h.item} is not in the catalog of dataset "${ds.name}"`);
  let line = `[${item.title}]`;
  if (signals.timestamps) line = `${formatDelta(targetTimestamp, h.timestamp)} ago: ${line}`;
  if (signals.ratings && Number.isFinite(h.rating) && h.rating > 0) line += ` (${pyFloat(h.rating)})`;
  return line;
}

/**
 * spec §2 user prompt: head + "\n" + history lines joined by "\n" (oldest first, the last ≤ 20), no trailing
 * newline. Only the history and the target's timestamp are used, so the target item cannot leak into the prompt.
 */
export function userPrompt(
  ds: Dataset,
  sample: Sample | { history: Interaction[]; target: { timestamp: number } },
): string {
  const signals = historySignals(ds);
  const hist = sample.history.slice(-MAX_HISTORY_LINES);
  const lines = hist.map((h) => historyLine(ds, h, sample.target.timestamp, signals));
  return `${userPromptHead(ds.domain, signals)}\n${lines.join('\n')}`;
}

/** First 100 whitespace-separated words + "..." if longer (spec §2); shorter text is kept as is. */
export function capWords(text: string, max = DESCRIPTION_MAX_WORDS): string {
  const words = text.split(/\s+/).filter((w) => w.length > 0);
  return words.length > max ? words.slice(0, max).join(' ') + '...' : text;
}

/**
 * spec §2 item prompt: "Summarize key attributes of the following {singular} inside <answer> and </answer>." +
 * "\n\n" + attribute lines.
 * - Amazon 2023 (the spec's source): exactly `Title:`, `User Rating:`, `Number of Buyers:`, `Description:` (the
 *   description may be empty, as in the code; a missing rating/count line is left out rather than printed as None).
 * - Other sources: the lines the item has, in this order: Title, Year, Genres (MovieLens, GoodReads) or Categories,
 *   Brand, User Rating, Number of Buyers ("Number of Ratings" for non-purchase domains), Description (≤ 100 words),
 *   Tags (MovieLens user tags, ≤ 20 distinct). Nothing is printed for missing fields.
 */
export function itemPrompt(ds: Dataset, item: Item): string {
  const head = `Summarize key attributes of the following ${ds.domain.singular} inside ${ANSWER} and ${ANSWER_END}.`;
  const src = ds.provenance?.source ?? '';
  const lines: string[] = [`Title: ${item.title}`];
  const desc = item.description !== undefined ? capWords(item.description) : undefined;
  if (src === 'amazon2023') {
    if (item.averageRating !== undefined) lines.push(`User Rating: ${pyFloat(item.averageRating)}`);
    if (item.ratingCount !== undefined) lines.push(`Number of Buyers: ${item.ratingCount}`);
    lines.push(`Description: ${desc ?? ''}`);
    return `${head}\n\n${lines.join('\n')}`;
  }
  if (item.year !== undefined && Number.isFinite(item.year)) lines.push(`Year: ${item.year}`);
  if (item.categories && item.categories.length) {
    const label = /^(movielens|goodreads)/.test(src) ? 'Genres' : 'Categories';
    lines.push(`${label}: ${item.categories.join(', ')}`);
  }
  if (item.brand) lines.push(`Brand: ${item.brand}`);
  if (item.averageRating !== undefined && Number.isFinite(item.averageRating)) {
    lines.push(`User Rating: ${pyFloat(item.averageRating)}`);
  }
  if (item.ratingCount !== undefined && Number.isFinite(item.ratingCount)) {
    lines.push(`${ds.domain.verb === 'purchase' ? 'Number of Buyers' : 'Number of Ratings'}: ${item.ratingCount}`);
  }
  if (desc) lines.push(`Description: ${desc}`);
  if (item.tags && item.tags.length) {
    const tags = [...new Set(item.tags)].slice(0, MAX_ITEM_TAGS);
    lines.push(`Tags: ${tags.join(', ')}`);
  }
  return `${head}\n\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Compact prompts (a documented deviation for small models trained here, README "What follows the paper")
//
// The spec §2 user prompt spends most of its ~235 tokens (10 history lines, 4k BPE on ml-100k) on an instruction
// head and "12d 3.5h ago:" deltas that are identical or nearly so across users; an LM trained from scratch cannot
// follow instructions, and every token costs training time on CPU. 'compact' keeps what identifies the history
// (titles, oldest first, with ratings) and the item (title + its attribute lines), ~75 / ~18 tokens instead of
// ~235 / ~50. Pretrained backbones use 'spec'.

export type PromptFormat = 'spec' | 'compact';
export const PROMPT_FORMATS: PromptFormat[] = ['spec', 'compact'];

/** Compact user prompt: one `[{title}] ({rating})` line per history item, oldest first (≤ 20), nothing else. */
export function compactUserPrompt(ds: Dataset, sample: Sample | { history: Interaction[]; target: { timestamp: number } }): string {
  const signals = historySignals(ds);
  return sample.history
    .slice(-MAX_HISTORY_LINES)
    .map((h) => historyLine(ds, h, sample.target.timestamp, { ...signals, timestamps: false }))
    .join('\n');
}

/** Compact item prompt: the spec item prompt's attribute lines without the instruction head, description or tags. */
export function compactItemPrompt(ds: Dataset, item: Item): string {
  const lines = itemPrompt(ds, { ...item, description: undefined, tags: undefined }).split('\n\n').slice(1).join('\n\n');
  return lines
    .split('\n')
    .filter((l) => !/^(User Rating|Number of (Buyers|Ratings)|Description):/.test(l))
    .join('\n');
}

/** The user prompt in the chosen format (spec §2 or compact). */
export function userPromptAs(format: PromptFormat, ds: Dataset, sample: Sample | { history: Interaction[]; target: { timestamp: number } }): string {
  return format === 'compact' ? compactUserPrompt(ds, sample) : userPrompt(ds, sample);
}

/** The item prompt in the chosen format (spec §2 or compact). */
export function itemPromptAs(format: PromptFormat, ds: Dataset, item: Item): string {
  return format === 'compact' ? compactItemPrompt(ds, item) : itemPrompt(ds, item);
}

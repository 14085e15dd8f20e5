// The LM warm-up corpus: a stand-in for a real LLM's pretraining, so that the small decoder LM can write a
// plausible reasoning text before `<answer>` from the first RL step (spec §12: any chat decoder LM works; a
// pretrained one cannot be downloaded here).
//
// Built ONLY from train samples and item metadata:
//   item documents: [item prompt, "<answer>{key attributes}</answer>"]
//   user documents: [user prompt, "{templated reasoning from the HISTORY only}<answer>{history profile}</answer>"]
// The reasoning shows the behaviours the paper tags in RL-trained reasoning (attribute abstraction, pattern
// clustering, temporal reasoning, negative-preference exclusion, multi-objective balancing, self-explanation,
// role/scenario), with seeded variation in which appear and in wording, so that RL has something to select from.
// The text after `<answer>` (never generated: sampling stops at `<answer>`) trains the hidden state at `<answer>`
// to predict attributes — for items their own, for users those that dominate their history — so user and item
// read-outs start out comparable. No target information is used anywhere: the reasoning builder takes only the
// history and the target's timestamp (which the user prompt itself shows as "… ago").
import { ConfigError } from '../util/errors';
import { hashSeed, makeRng, shuffleInPlace, type Rng } from '../util/rng';
import type { Dataset, Interaction, Sample } from '../data/types';
import { ANSWER, ANSWER_END, renderScoringSequence } from './chat';
import { MAX_HISTORY_LINES, formatDelta, historySignals, itemPrompt, itemPromptAs, pastTense, pyFloat, userPromptAs, type PromptFormat } from './prompts';

export const REASONING_BEHAVIOURS = [
  'attribute abstraction',
  'pattern clustering',
  'temporal reasoning',
  'negative-preference exclusion',
  'multi-objective balancing',
  'self-explanation',
  'role/scenario',
] as const;
export type ReasoningBehaviour = (typeof REASONING_BEHAVIOURS)[number];

export type WarmupAnswer = 'profile' | 'target' | 'target-attributes';
export const WARMUP_ANSWERS: WarmupAnswer[] = ['profile', 'target', 'target-attributes'];

/** A chat document of the warm-up corpus. Encode with encodeChat(tok, doc.user, doc.assistant, ...). */
export interface WarmupDocument {
  kind: 'item' | 'user';
  /** user turn (item prompt or user prompt) */
  user: string;
  /** assistant turn: reasoning + `<answer>` + profile + `</answer>` (items: `<answer>` + attributes + `</answer>`) */
  assistant: string;
  /** behaviours the reasoning shows (empty for item documents) */
  behaviours: ReasoningBehaviour[];
  /** item id (item documents) or sample index (user documents) */
  source: number;
}

export interface WarmupOptions {
  seed: number;
  /** keep a seeded random subset of this many documents (default: all items + all train samples) */
  maxDocs?: number;
  /** only 'train' is allowed: user documents never come from valid/test samples */
  split?: 'train';
  /**
   * What follows `<answer>` in the documents (the hidden state there is what R²ec reads out):
   * 'profile' (default): attributes — the user's history profile, the item's own attributes (pretraining stand-in);
   * 'target': titles — the train sample's next item for users, the item's own title for items, i.e. supervised
   * next-item fine-tuning as in BIGRec/D3, so user and item read-outs start out predicting the same title tokens.
   * 'target-attributes': as 'target', but the answer is the item's key attributes (categories, brand, …) and then
   * its title, for users the target's and for items their own, so the two read-outs start out predicting the same
   * category tokens rather than only the same first title token (the brand, on most catalogs).
   * Train samples only, so no valid/test target is ever seen.
   */
  answer?: WarmupAnswer;
  /** prompt wording of the documents (default 'spec'; 'compact' for small models, lib/text/prompts.ts) */
  format?: PromptFormat;
}

/** a rating ≤ this is "low" (negative-preference exclusion), ≥ LIKED is "liked" */
const LOW_RATING = 2;
const LIKED_RATING = 4;
/** categories/tags held by more than this share of the catalog say nothing ("Music", "Books") and are ignored */
const GENERIC_SHARE = 0.5;
/** probability that an applicable behaviour appears in a reasoning text */
const BEHAVIOUR_PROB = 0.55;

/** Special-token strings inside data text would turn into special ids in the assistant turn: make them inert. */
export function defuseAnswerTags(s: string): string {
  return s.replace(/<(\/?answer>)/g, '‹$1');
}

const attrCache = new WeakMap<Dataset, string[][]>();

/**
 * Attributes used by the templates, per item id: its categories/genres that are not generic, its brand, and the
 * decade of its year ("1990s"). Empty for title-only catalogs (then the templates work from titles and ratings).
 */
export function itemAttributes(ds: Dataset): string[][] {
  const hit = attrCache.get(ds);
  if (hit) return hit;
  const n = Math.max(1, ds.items.length - 1);
  const raw = ds.items.map((it, id) => {
    if (id === 0) return [];
    const attrs: string[] = [];
    const add = (a: string | undefined) => {
      const t = a?.trim();
      if (t && !attrs.includes(t)) attrs.push(t);
    };
    for (const c of it.categories ?? []) add(c);
    add(it.brand);
    if (it.year !== undefined && Number.isFinite(it.year) && it.year > 1000) add(`${Math.floor(it.year / 10) * 10}s`);
    return attrs;
  });
  const count = new Map<string, number>();
  for (const attrs of raw) for (const a of attrs) count.set(a, (count.get(a) ?? 0) + 1);
  const out = raw.map((attrs) => attrs.filter((a) => count.get(a)! / n <= GENERIC_SHARE).map(defuseAnswerTags));
  attrCache.set(ds, out);
  return out;
}

function list(xs: string[]): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}

function pick<T>(xs: readonly T[], rng: Rng): T {
  return xs[rng.int(xs.length)];
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

interface HistView {
  title: string;
  attrs: string[];
  rating?: number;
  delta?: string;
}

/** What the reasoning templates say about a history (oldest first): computed from the history alone. */
interface HistoryFacts {
  H: HistView[];
  n: number;
  counts: Map<string, number>;
  /** attributes held by ≥ 2 history items, genres/brands before decades (≤ 3) */
  top: string[];
  /** top, or the single most frequent attribute */
  topOr1: string[];
  clusters: { a: string; m: HistView[] }[];
  recent: HistView;
  low: HistView[];
  liked: HistView[];
  anchor: HistView;
  /** dominant attribute of the earlier and the later half of the history */
  earlyLate: [string | undefined, string | undefined];
  firstAttr: (v: HistView) => string | undefined;
}

/** A decade attribute ("1990s"), derived from the item's year (itemAttributes). */
const isDecade = (a: string) => /^\d{3,4}0s$/.test(a);

/**
 * Attribute statistics over a history's items (their attribute lists): counts, and the attributes ranked genres/brands
 * before decades ("1990s" describes taste less well), count descending, then first appearance.
 */
function rankedAttributes(itemAttrs: string[][]): { counts: Map<string, number>; ranked: string[] } {
  const counts = new Map<string, number>();
  for (const attrs of itemAttrs) for (const a of attrs) counts.set(a, (counts.get(a) ?? 0) + 1);
  const ranked = [...counts.entries()]
    .sort((x, y) => Number(isDecade(x[0])) - Number(isDecade(y[0])) || y[1] - x[1])
    .map(([a]) => a);
  return { counts, ranked };
}

function historyFacts(ds: Dataset, history: Interaction[], targetTimestamp: number): HistoryFacts {
  const signals = historySignals(ds);
  const attrsOf = itemAttributes(ds);
  const H: HistView[] = history.slice(-MAX_HISTORY_LINES).map((h) => ({
    title: `[${defuseAnswerTags(ds.items[h.item]?.title ?? `item ${h.item}`)}]`,
    attrs: attrsOf[h.item] ?? [],
    rating: signals.ratings && Number.isFinite(h.rating) && h.rating > 0 ? h.rating : undefined,
    delta: signals.timestamps ? formatDelta(targetTimestamp, h.timestamp) : undefined,
  }));
  const n = H.length;
  const { counts, ranked } = rankedAttributes(H.map((v) => v.attrs));
  const top = ranked.filter((a) => counts.get(a)! >= 2).slice(0, 3);
  const topOr1 = top.length ? top : ranked.slice(0, 1);
  const membersOf = (a: string) => H.filter((v) => v.attrs.includes(a));
  const recent = H[n - 1];
  const rated = H.filter((v) => v.rating !== undefined);
  const low = rated.filter((v) => v.rating! <= LOW_RATING);
  const liked = rated.filter((v) => v.rating! >= LIKED_RATING);
  // anchor: the most recent of the highest-rated items (or the most recent item)
  let anchor = recent;
  if (rated.length) {
    const best = Math.max(...rated.map((v) => v.rating!));
    anchor = [...rated].reverse().find((v) => v.rating === best)!;
  }
  const firstAttr = (v: HistView) => (v.attrs.length ? v.attrs.find((a) => top.includes(a)) ?? v.attrs[0] : undefined);
  const dominant = (vs: HistView[]) => {
    const c = new Map<string, number>();
    for (const v of vs) for (const a of v.attrs) c.set(a, (c.get(a) ?? 0) + 1);
    return [...c.entries()].sort((x, y) => Number(isDecade(x[0])) - Number(isDecade(y[0])) || y[1] - x[1])[0]?.[0];
  };
  const clusters = top.map((a) => ({ a, m: membersOf(a) })).filter((c) => c.m.length >= 2);
  return {
    H, n, counts, top, topOr1, clusters, recent, low, liked, anchor, firstAttr,
    earlyLate: [dominant(H.slice(0, Math.ceil(n / 2))), dominant(H.slice(Math.ceil(n / 2)))],
  };
}

/**
 * Templated reasoning from a history (oldest first) and the target's timestamp only — never the target item.
 * Returns the assistant text (reasoning + `<answer>` + profile + `</answer>`) and the behaviours it shows.
 * style 'brief': the same behaviours in a few words each, built from attributes and ratings only (no titles), for
 * small models whose reasoning budget is a few dozen tokens (the backbone stage, README).
 */
export function templatedReasoning(
  ds: Dataset,
  history: Interaction[],
  targetTimestamp: number,
  rng: Rng,
  style: 'full' | 'brief' = 'full',
  /** brief style only: what "Next:" names instead of the history's top attributes — attributes (targetAim) or a
   *  title (targetTitle, guessTitle), for training text */
  nextAim?: string[] | { title: string },
): { assistant: string; behaviours: ReasoningBehaviour[] } {
  if (style === 'brief') return briefReasoning(ds, historyFacts(ds, history, targetTimestamp), rng, nextAim);
  const signals = historySignals(ds);
  const { singular, plural, verb } = ds.domain;
  const past = pastTense(verb);
  const { H, n, counts, top, topOr1, clusters, recent, low, liked, anchor, firstAttr, earlyLate } = historyFacts(ds, history, targetTimestamp);

  const say: Partial<Record<ReasoningBehaviour, () => string>> = {};
  if (topOr1.length) {
    say['attribute abstraction'] = () =>
      pick(
        [
          `Your history is mostly ${list(topOr1)}.`,
          `Most of the ${plural} you ${past} are ${topOr1[0]} (${counts.get(topOr1[0])} of ${n})${topOr1.length > 1 ? `, followed by ${list(topOr1.slice(1))}` : ''}.`,
          `Abstracting from the titles, the common attributes are ${list(topOr1)}.`,
        ],
        rng,
      );
    say['role/scenario'] = () =>
      pick(
        [
          `As someone who enjoys ${topOr1[0]} ${plural}, you would want another one that fits that taste.`,
          `Imagine ${article(topOr1[0])} ${topOr1[0]} fan looking for the next ${singular}.`,
          `Picture yourself as ${article(topOr1[0])} ${topOr1[0]} enthusiast choosing what to ${verb} next.`,
        ],
        rng,
      );
  }
  if (clusters.length) {
    say['pattern clustering'] = () => {
      const c = clusters[0];
      const titles = list(c.m.slice(-3).map((v) => v.title));
      const second = clusters[1];
      return pick(
        [
          `I see a cluster of ${c.a} ${plural}: ${titles}.`,
          `${titles} form one group: all ${c.a}.`,
          `Grouping similar ${plural}: ${c.a} (${titles})${second ? `; ${second.a} (${list(second.m.slice(-2).map((v) => v.title))})` : ''}.`,
        ],
        rng,
      );
    };
  }
  if (n >= 1) {
    say['temporal reasoning'] = () => {
      const lean = firstAttr(recent) ?? `${plural} like ${recent.title}`;
      const when = recent.delta ? ` (${recent.delta} ago)` : '';
      const options = [
        `Most recently${when} you ${past} ${recent.title}, so your current interest leans toward ${lean}.`,
        `The latest ${singular} is ${recent.title}${recent.delta ? `, ${recent.delta} ago` : ''}; the earliest was ${H[0].title}${H[0].delta ? `, ${H[0].delta} ago` : ''}.`,
      ];
      const [a0, a1] = earlyLate;
      if (a0 && a1 && a0 !== a1) options.push(`Your taste shifts over time: earlier ${a0}, lately ${a1}.`);
      return pick(options, rng);
    };
  }
  if (low.length) {
    say['negative-preference exclusion'] = () => {
      const v = low[low.length - 1];
      const what = firstAttr(v) ? `${firstAttr(v)} ${plural} like it` : `${plural} like it`;
      return pick(
        [
          `You rated ${v.title} low (${pyFloat(v.rating!)}), so avoid ${what}.`,
          `${v.title} got only ${pyFloat(v.rating!)} from you; ${plural} close to it should be excluded.`,
          `Exclude anything similar to ${v.title} (rated ${pyFloat(v.rating!)}).`,
        ],
        rng,
      );
    };
  }
  if (topOr1.length >= 2 || (topOr1.length && liked.length)) {
    say['multi-objective balancing'] = () => {
      const a = topOr1[0];
      const b = topOr1[1] ?? firstAttr(recent) ?? 'something new';
      return pick(
        [
          `Balancing your long-term taste for ${a} with your interest in ${b}, the next ${singular} should satisfy both.`,
          `A good pick should match ${a} and still be well rated, not just popular.`,
          `To keep some variety, mix ${a} with a bit of ${b}.`,
        ],
        rng,
      );
    };
  }
  if (liked.length || (!signals.ratings && clusters.length)) {
    say['self-explanation'] = () => {
      if (liked.length) {
        const v = liked[liked.length - 1];
        const a = firstAttr(v);
        return pick(
          [
            `You like ${a ?? `${plural} such as ${v.title}`} because you gave ${v.title} ${pyFloat(v.rating!)}.`,
            `This is because ${v.title} (${pyFloat(v.rating!)}) shows what you enjoy.`,
            `The reason: a high rating, ${pyFloat(v.rating!)}, went to ${v.title}.`,
          ],
          rng,
        );
      }
      const c = clusters[0];
      return `This is because ${list(c.m.slice(-2).map((v) => v.title))} share ${c.a}.`;
    };
  }

  // which behaviours appear, and in what order (role/scenario, if any, opens the text)
  const applicable = REASONING_BEHAVIOURS.filter((b) => say[b] !== undefined);
  let chosen = applicable.filter(() => rng.next() < BEHAVIOUR_PROB);
  if (!chosen.length && applicable.length) chosen = [pick(applicable, rng)];
  shuffleInPlace(chosen, rng);
  const role = chosen.indexOf('role/scenario');
  if (role > 0) chosen.unshift(...chosen.splice(role, 1));
  const sentences = chosen.map((b) => say[b]!());

  const aim = topOr1.length ? list(topOr1.slice(0, 2)) : undefined;
  const anchorTitle = anchor ? anchor.title : undefined;
  const conclusions = [
    `So the next ${singular} you might ${verb} should be ${aim ?? `one`}${anchorTitle ? `, similar to ${anchorTitle}` : ''}.`,
    `Therefore I recommend ${aim ? `${article(aim)} ${aim} ${singular}` : `a ${singular}`}${anchorTitle ? ` in the spirit of ${anchorTitle}` : ''}.`,
    `The best next ${singular}: ${aim ?? 'something'}${anchorTitle ? `, close to ${anchorTitle}` : ''}.`,
  ];
  sentences.push(pick(conclusions, rng));

  const profile = topOr1.length ? topOr1.join(', ') : anchorTitle ? anchorTitle.slice(1, -1) : singular;
  return { assistant: `${sentences.join(' ')}${ANSWER}${profile}${ANSWER_END}`, behaviours: chosen };
}

/**
 * The brief style of templatedReasoning: one short clause per chosen behaviour, from attributes and ratings only,
 * then "Next: {aim}." — e.g. "Mostly Drama, Comedy. Lately Thriller. Avoid Horror (rated 1.0). Next: Drama, Comedy."
 */
function briefReasoning(ds: Dataset, f: HistoryFacts, rng: Rng, aimed?: string[] | { title: string }): { assistant: string; behaviours: ReasoningBehaviour[] } {
  const { singular } = ds.domain;
  const say: Partial<Record<ReasoningBehaviour, () => string>> = {};
  const [a0, a1] = f.earlyLate;
  if (f.topOr1.length) {
    say['attribute abstraction'] = () => `${pick(['Mostly', 'Mainly', 'Your taste:'], rng)} ${list(f.topOr1.slice(0, 2))}.`;
    say['role/scenario'] = () => `As ${article(f.topOr1[0])} ${f.topOr1[0]} fan.`;
  }
  if (f.clusters.length) say['pattern clustering'] = () => `A cluster of ${f.clusters[0].a} (${f.clusters[0].m.length} of ${f.n}).`;
  const lean = f.firstAttr(f.recent);
  if (a0 && a1 && a0 !== a1) say['temporal reasoning'] = () => `Earlier ${a0}, lately ${a1}.`;
  else if (lean) say['temporal reasoning'] = () => `Lately ${lean}.`;
  const lowAttr = f.low.length ? f.firstAttr(f.low[f.low.length - 1]) : undefined;
  if (lowAttr) say['negative-preference exclusion'] = () => `Avoid ${lowAttr} (rated ${pyFloat(f.low[f.low.length - 1].rating!)}).`;
  if (f.topOr1.length >= 2) say['multi-objective balancing'] = () => `Balance ${f.topOr1[0]} with ${f.topOr1[1]}.`;
  const likedAttr = f.liked.length ? f.firstAttr(f.liked[f.liked.length - 1]) : undefined;
  if (likedAttr) say['self-explanation'] = () => `Because you rated ${likedAttr} ${pyFloat(f.liked[f.liked.length - 1].rating!)}.`;
  const applicable = REASONING_BEHAVIOURS.filter((b) => say[b] !== undefined);
  let chosen = applicable.filter(() => rng.next() < BEHAVIOUR_PROB);
  if (!chosen.length && applicable.length) chosen = [pick(applicable, rng)];
  chosen = chosen.slice(0, 3); // a few dozen tokens at most
  shuffleInPlace(chosen, rng);
  const role = chosen.indexOf('role/scenario');
  if (role > 0) chosen.unshift(...chosen.splice(role, 1));
  let aim = f.topOr1.length ? list(f.topOr1.slice(0, 2)) : `a ${singular}`;
  if (Array.isArray(aimed)) {
    if (aimed.length) aim = list(aimed);
  } else if (aimed) aim = aimed.title;
  const text = [...chosen.map((b) => say[b]!()), `Next: ${aim}.`].join(' ');
  const profile = f.topOr1.length ? f.topOr1.join(', ') : singular;
  return { assistant: `${text}${ANSWER}${profile}${ANSWER_END}`, behaviours: chosen };
}

/**
 * What the brief reasoning's "Next:" names when it is written with hindsight (backbone.reasoningAim = 'target'):
 * the target item's first two attributes other than decades (genres, categories, brand). Training text only — the
 * model then learns to guess them from the history, and evaluation reads what it generates. Empty when the item has
 * none (titles-only catalogs): the history's aim is used then.
 */
export function targetAim(ds: Dataset, itemId: number): string[] {
  return (itemAttributes(ds)[itemId] ?? []).filter((a) => !isDecade(a)).slice(0, 2);
}

const guessCache = new WeakMap<Dataset, Map<string, { items: number[]; cum: Float64Array }>>();

/**
 * A title "Next:" can name without hindsight (backbone.nextNames = 'title'): an item drawn in proportion to its train
 * popularity among those sharing the history's top attribute, never one of the history — a plausible guess, usually
 * wrong, as the model's own will be. Undefined when no such item exists (the caller names attributes then).
 */
export function guessTitle(ds: Dataset, history: Interaction[], rng: Rng): { title: string } | undefined {
  const attrs = itemAttributes(ds);
  const top = rankedAttributes(history.slice(-MAX_HISTORY_LINES).map((h) => attrs[h.item] ?? [])).ranked[0];
  if (top === undefined || isDecade(top)) return undefined;
  let byAttr = guessCache.get(ds);
  if (!byAttr) {
    const freq = new Float64Array(ds.items.length);
    for (const s of ds.samples.train) freq[s.target.item]++;
    byAttr = new Map();
    for (let id = 1; id < ds.items.length; id++) {
      for (const a of attrs[id] ?? []) {
        if (isDecade(a) || freq[id] === 0) continue;
        let e = byAttr.get(a);
        if (!e) byAttr.set(a, (e = { items: [], cum: new Float64Array(0) }));
        e.items.push(id);
      }
    }
    for (const e of byAttr.values()) {
      e.cum = new Float64Array(e.items.length);
      let c = 0;
      e.items.forEach((id, i) => (e!.cum[i] = c += freq[id]));
    }
    guessCache.set(ds, byAttr);
  }
  const e = byAttr.get(top);
  if (!e) return undefined;
  const seen = new Set(history.map((h) => h.item));
  const total = e.cum[e.cum.length - 1];
  for (let tries = 0; tries < 16; tries++) {
    const u = rng.next() * total;
    let lo = 0;
    let hi = e.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (e.cum[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    if (!seen.has(e.items[lo])) return { title: defuseAnswerTags(ds.items[e.items[lo]].title) };
  }
  return undefined;
}

/** The target's title as "Next:" names it with hindsight (backbone.nextNames = 'title'). */
export function targetTitle(ds: Pick<Dataset, 'items'>, itemId: number): { title: string } {
  return { title: defuseAnswerTags(ds.items[itemId].title) };
}

/** Assistant turn of an item document: `<answer>{attributes or title}</answer>`. */
export function itemSummary(ds: Dataset, itemId: number): string {
  const attrs = itemAttributes(ds)[itemId] ?? [];
  const body = attrs.length ? attrs.join(', ') : defuseAnswerTags(ds.items[itemId].title);
  return `${ANSWER}${body}${ANSWER_END}`;
}

/** What follows `<answer>` for item `id` in the 'target' modes: its title, or its attributes and then its title. */
function targetAnswer(ds: Dataset, id: number, answer: WarmupAnswer): string {
  const title = defuseAnswerTags(ds.items[id].title);
  const attrs = answer === 'target-attributes' ? (itemAttributes(ds)[id] ?? []) : [];
  return `${ANSWER}${attrs.length ? `${attrs.join(', ')}: ` : ''}${title}${ANSWER_END}`;
}

function userDocument(ds: Dataset, s: Sample, seed: number, answer: WarmupAnswer, format: PromptFormat = 'spec'): WarmupDocument {
  const rng = makeRng(hashSeed(seed, 'warmup-user', s.index));
  const r = templatedReasoning(ds, s.history, s.target.timestamp, rng);
  let assistant = r.assistant;
  if (answer !== 'profile') {
    const reasoning = assistant.slice(0, assistant.indexOf(ANSWER));
    assistant = `${reasoning}${targetAnswer(ds, s.target.item, answer)}`;
  }
  return { kind: 'user', user: userPromptAs(format, ds, s), assistant, behaviours: r.behaviours, source: s.index };
}

function itemDocument(ds: Dataset, id: number, answer: WarmupAnswer, format: PromptFormat = 'spec'): WarmupDocument {
  const assistant = answer === 'profile' ? itemSummary(ds, id) : targetAnswer(ds, id, answer);
  return { kind: 'item', user: itemPromptAs(format, ds, ds.items[id]), assistant, behaviours: [], source: id };
}

/**
 * The warm-up documents: one per real item and one per train sample, in a seeded shuffled order (a seeded subset
 * of maxDocs of them if given). Same dataset + seed → same documents.
 */
export function warmupDocuments(ds: Dataset, opts: WarmupOptions): WarmupDocument[] {
  if (opts.split !== undefined && opts.split !== 'train') {
    throw new ConfigError('split', `warm-up documents are built from train samples only, got ${JSON.stringify(opts.split)}`);
  }
  if (opts.maxDocs !== undefined && (!Number.isInteger(opts.maxDocs) || opts.maxDocs < 0)) {
    throw new ConfigError('maxDocs', `must be a non-negative integer, got ${opts.maxDocs}`);
  }
  const train = ds.samples.train;
  const refs: number[] = []; // ≥ 0: item id; < 0: −1 − train position
  for (let id = 1; id < ds.items.length; id++) refs.push(id);
  for (let k = 0; k < train.length; k++) refs.push(-1 - k);
  shuffleInPlace(refs, makeRng(hashSeed(opts.seed, 'warmup-order')));
  const chosen = opts.maxDocs !== undefined ? refs.slice(0, opts.maxDocs) : refs;
  const answer = opts.answer ?? 'profile';
  if (!WARMUP_ANSWERS.includes(answer)) throw new ConfigError('answer', `must be one of ${WARMUP_ANSWERS.join(', ')}, got ${JSON.stringify(answer)}`);
  const format = opts.format ?? 'spec';
  return chosen.map((r) => (r >= 0 ? itemDocument(ds, r, answer, format) : userDocument(ds, train[-1 - r], opts.seed, answer, format)));
}

/** The warm-up corpus as rendered chat strings (renderScoringSequence; for reading and tokenizer training). */
export function warmupCorpus(ds: Dataset, opts: WarmupOptions): string[] {
  return warmupDocuments(ds, opts).map((d) => renderScoringSequence(d.user, d.assistant));
}

/**
 * Texts to train the BPE on: every item prompt and item summary, then user prompts and templated reasoning of train
 * samples in a seeded order until maxChars (default 4M characters) is reached.
 */
export function tokenizerCorpus(ds: Dataset, opts: { seed?: number; maxChars?: number; format?: PromptFormat } = {}): string[] {
  const seed = opts.seed ?? 0;
  const maxChars = opts.maxChars ?? 4_000_000;
  const texts: string[] = [];
  let chars = 0;
  const add = (t: string) => {
    texts.push(t);
    chars += t.length;
  };
  for (let id = 1; id < ds.items.length && chars < maxChars; id++) {
    add(itemPromptAs(opts.format ?? 'spec', ds, ds.items[id]));
    add(itemSummary(ds, id));
  }
  const order = shuffleInPlace(
    ds.samples.train.map((_, k) => k),
    makeRng(hashSeed(seed, 'tokenizer-corpus')),
  );
  for (const k of order) {
    if (chars >= maxChars) break;
    const d = userDocument(ds, ds.samples.train[k], seed, 'profile', opts.format);
    add(d.user);
    add(d.assistant);
  }
  return texts;
}

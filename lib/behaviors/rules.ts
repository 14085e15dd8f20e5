// Transparent rule-based behaviour tagger: documented lexicons plus a few structural cues per behaviour. Every label
// comes with the cue strings (and their character spans) that fired it, so a reader can check each decision.
//
// Matching rules (all documented here so the notebook can print them with the lexicon):
//  * Case-insensitive, on word boundaries. A letter/digit/underscore, or a hyphen or apostrophe that joins two
//    word characters, counts as part of a word: "not" does not fire inside "notable", "so" does not fire inside
//    "so-called", "children" does not fire inside "Children's", "party" does not fire inside "third-party".
//  * Phrase syntax: words separated by spaces match any run of whitespace; "-" inside a phrase matches a hyphen, a
//    space or nothing ("trade-off" matches "trade off" and "tradeoff"); a trailing "*" matches any further letters
//    ("prefer*" matches "prefers", "preference").
//  * `exclude` phrases veto a cue match that overlaps them ("as a result" vetoes the role cue "as a").
//  * History titles are quoted, not reasoned about: text inside square brackets [...] (the prompt's title quoting,
//    spec §2; nested brackets allowed, an unclosed "[" is not a quote) is ignored by every cue, and so are verbatim
//    mentions of the input's historyTitles at least `titleMinChars` long. A title such as [Recently Played Hits]
//    therefore never counts as temporal reasoning. The titles themselves feed the structural cues (clustering,
//    low-rated item references).
//  * Sentences (for "several titles in one sentence") end at . ! ? followed by whitespace or the end, or at a newline;
//    dots inside titles do not split because titles are masked first.
import { R2ecError } from '../util/errors';
import {
  BEHAVIOR_IDS,
  allFalse,
  checkInputs,
  type Behavior,
  type BehaviorTagger,
  type CueSpan,
  type TagInput,
  type TagResult,
} from './types';

export interface CuePattern {
  /** short name shown as the cue in spans */
  name: string;
  /** JavaScript regular expression source; it is wrapped in the word-boundary guards */
  source: string;
  /** regex flags; default "iu" (g is always added) */
  flags?: string;
  description: string;
}

export interface LexiconEntry {
  /** phrases in the syntax described at the top of this file */
  phrases: readonly string[];
  /** regular-expression cues */
  patterns: readonly CuePattern[];
  /** phrases that veto overlapping cue matches of this behaviour */
  exclude: readonly string[];
  /** structural cues computed in code, described for readers (not matched as text) */
  structural: readonly string[];
}

/** Negators that, followed within two words by a preference word, mark a negative preference. */
const NEGATORS = "not|never|no longer|don't|doesn't|didn't|isn't|wasn't|aren't|weren't|won't|wouldn't|hardly|barely";
const PREFERENCE_WORDS =
  'like|likes|liked|love|loved|enjoy\\p{L}*|want\\p{L}*|interest\\p{L}*|fan|fans|prefer\\p{L}*|care|cared|appeal\\p{L}*|' +
  'satisf\\p{L}*|recommend\\p{L}*|buy|bought|purchase|purchasing|fit|fits|suit\\p{L}*|match\\p{L}*|impress\\p{L}*|worth|' +
  'resonate\\p{L}*|keen|into|happy|pleased';
/** a word (decimal points allowed) that is not a sentence end and not a masked title (\u0001) */
const WORD = "(?:[^\\s.!?\\u0001]|\\.(?=\\d))+";
/** a word or a masked title */
const WORD_OR_TITLE = `(?:${WORD}|\\u0001+)`;

export const RULE_LEXICON: Readonly<Record<Behavior, LexiconEntry>> = {
  attribute_abstraction: {
    phrases: [
      'genre*', 'subgenre*', 'style*', 'theme*', 'thematic*', 'categor*', 'type of', 'types of', 'kind of', 'kinds of',
      'mostly', 'mainly', 'primarily', 'predominantly', 'largely', 'tends to', 'tend to', 'tendency', 'prefer*',
      'drawn to', 'fan of', 'interested in', 'interest in', 'taste', 'tastes', 'aesthetic*', 'attribute*',
      'characteristic*', 'features', 'brand', 'brands', 'focus on', 'focused on', 'leans toward*', 'leaning toward*',
      'affinity', 'inclination', 'era', 'vibe*', 'tone', 'mood',
    ],
    patterns: [],
    exclude: [],
    structural: [
      'names an attribute of the history items (input.historyAttributes: genres, categories, brands; plural "s"/"es" allowed) outside quoted titles',
    ],
  },
  pattern_clustering: {
    phrases: [
      'series', 'several', 'similar to', 'similar', 'similarly', 'cluster*', 'group*', 'a number of', 'multiple',
      'many of', 'franchise*', 'sequel*', 'collection', 'collections', 'recurring', 'repeated*', 'consistent*',
      'pattern*', 'common thread', 'in common', 'all of these', 'these items', 'these purchases', 'each of',
      'majority', 'together', 'alike', 'related',
    ],
    patterns: [
      {
        name: 'the same <kind>',
        source:
          '(?:the\\s+)?same\\s+(?:artist|artists|band|brand|series|genre|author|developer|franchise|director|studio|publisher|manufacturer|label|line|composer|type|style)',
        description: '"the same artist/brand/series/genre/..." ties several items together',
      },
    ],
    exclude: [],
    structural: [
      'two or more distinct history titles (quoted [..] or verbatim) in one sentence',
      '"both X and Y" (≤ 8 words between) where a conjunct is a history title, e.g. "both [A] and [B]" (between non-titles it counts as multi-objective balancing instead)',
    ],
  },
  role_scenario: {
    phrases: [
      'someone who', 'somebody who', 'a person who', 'people who', 'kind of person', 'type of person', 'user who',
      'someone like', 'persona', 'role', 'gift*', 'present for', 'family', 'families', 'kid', 'kids', 'child', 'children',
      'for my', 'son', 'daughter', 'wife', 'husband', 'friend', 'friends', 'parent*', 'occasion*', 'scenario*',
      'situation*', 'use case*', 'collector*', 'hobbyist*', 'beginner*', 'novice*', 'amateur*', 'professional*',
      'musician*', 'guitarist*', 'bassist*', 'drummer*', 'pianist*', 'keyboardist*', 'vocalist*', 'singer*',
      'songwriter*', 'dj', 'djs', 'producer*', 'performer*', 'gamer*', 'audiophile*', 'student*', 'teacher*',
      'enthusiast*', 'aficionado*', 'cinephile*', 'movie buff', 'film buff', 'reader', 'readers', 'listener*',
      'party', 'parties', 'holiday*', 'birthday*', 'christmas', 'wedding*', 'travel*', 'commute*', 'on the go',
      'at home', 'home studio', 'live performance*', 'gig', 'gigs', 'gigging', 'rehearsal*', 'practice', 'practicing',
      'lifestyle',
    ],
    patterns: [
      {
        name: 'as a <role>',
        source: 'as\\s+an?(?=\\s)',
        description: '"as a(n) ..." introducing a role ("as a guitarist"); vetoed by "as a result", "such as a", ...',
      },
    ],
    exclude: [
      'as a result', 'as a whole', 'as a consequence', 'as a rule', 'as a matter of', 'as a bonus', 'such as a',
      'such as an', 'as well as a', 'as well as an', 'as a complement', 'as an alternative', 'as an example',
      'as a next step', 'as a recommendation', 'serve as a', 'serves as a',
    ],
    structural: [],
  },
  temporal: {
    phrases: [
      'recently', 'recent', 'lately', 'ago', 'earlier', 'later', 'over time', 'now', 'currently', 'these days',
      'nowadays', 'shift*', 'trend', 'trends', 'trending', 'previously', 'in the past', 'past few', 'since then',
      'latest', 'newest', 'most recent', 'oldest', 'initially', 'at first', 'at the beginning', 'evolv*',
      'progression', 'progressed', 'transition*', 'moved on', 'moving on', 'moved from', 'moving from', 'moved toward*',
      'moving toward*',
      'timeline', 'chronolog*', 'timing', 'time frame', 'long-term', 'short-term', 'sequence',
    ],
    patterns: [
      {
        name: 'last <period>',
        source:
          'last\\s+(?:few\\s+|couple\\s+(?:of\\s+)?|several\\s+)?(?:week|month|year|day|hour|purchase|item|interaction|order|time)s?',
        description: '"last week", "last few purchases", ...',
      },
      {
        name: '<n> <time unit>',
        source:
          '(?:\\d+(?:\\.\\d+)?|a|an|one|two|three|four|five|six|few|several|couple\\s+of)\\s+(?:minutes?|hours?|days?|weeks?|months?|years?)',
        description: 'durations in words: "12 days", "a few weeks", "two months"',
      },
      {
        name: '<n>d/<n>h/<n>min',
        source: '\\d+(?:\\.\\d+)?(?:d|h|min)',
        flags: 'u',
        description: 'the prompt\'s compact durations ("12d", "3.5h", "40.0min"), lower case only so "2D" (graphics) does not fire',
      },
    ],
    // "now" as a discourse marker ("Now, let's look at ...") is not about time
    exclude: ["now let's", "now, let's", 'now let me', 'now, let me', 'now, looking', 'now, considering'],
    structural: [],
  },
  self_explanation: {
    phrases: [
      'because', 'since', 'therefore', 'thus', 'hence', 'consequently', 'as a result', 'which suggests',
      'this suggests', 'suggests', 'suggesting', 'indicat*', 'implies', 'implying', 'this means', 'which means',
      'that means', 'meaning that', 'due to', 'given that', 'owing to', 'the reason', 'for this reason', 'explain*',
      "that's why", 'which is why', 'this is why', 'shows that', 'showing that', 'demonstrat*', 'reflect*',
      'evidenced', 'points to', 'so that',
    ],
    patterns: [
      {
        name: 'so (connective)',
        source: '(?<=(?:^|[.!?;:,]\\s*|\\n\\s*|\\band\\s+))so(?=[\\s,])(?!\\s+(?:far|much|many|on|forth|to\\s+speak|long)\\b)',
        flags: 'imu',
        description:
          '"so" as a connective: at a sentence start, after a comma/semicolon/colon or after "and"; not "so far", "so much", "and so on", "so-called"',
      },
    ],
    // "Okay, so ..." opens a text; it links nothing
    exclude: ['okay, so', 'ok, so', 'alright, so', 'well, so'],
    structural: [],
  },
  negative_exclusion: {
    phrases: [
      'avoid*', 'dislik*', 'steer clear', 'stay away', 'rule out', 'ruled out', 'exclud*', 'unlikely to', 'less likely',
      'disappoint*', 'low rating', 'low ratings', 'low-rated', 'lower rating*', 'poorly rated', 'rated poorly',
      'negative experience', 'negative review*', 'hate', 'hated', 'unsatisf*', 'underwhelm*', 'turned off',
      'less interested', 'not a fan',
    ],
    patterns: [
      {
        name: 'negated preference',
        source: `(?:${NEGATORS})\\s+(?:${WORD}\\s+){0,2}?(?:${PREFERENCE_WORDS})`,
        description:
          'a negator (not, never, didn\'t, ...) followed within two words by a preference word (like, enjoy, interested, fan, ...): "didn\'t really enjoy", "not interested"; "notable" and "not only" do not fire',
      },
      {
        name: 'rated ... low',
        source: `rated\\s+(?:${WORD_OR_TITLE}\\s+){0,3}?(?:low|lower|lowly|poorly|badly|only\\s+(?:[0-2](?:\\.\\d+)?|one|two))`,
        description: '"rated it low", "rated the album poorly", "rated only 2"',
      },
    ],
    exclude: ['not only', 'not just', 'not necessarily', 'whether or not', 'if not'],
    structural: [
      'a rating written as "(x.y)" (the prompt\'s rating format, spec §2) with x.y ≤ lowRating (default 2), e.g. "(1.0)", "(2.0)"; "(1)" enumerations do not count',
      'a rating written as "x/5", "x out of 5" or "x star(s)" with x ≤ lowRating',
      'a mention (quoted [..] or verbatim) of a history item whose rating is ≤ lowRating (needs historyTitles + historyRatings)',
    ],
  },
  multi_objective: {
    phrases: [
      'balanc*', 'while also', 'but also', 'not only', 'as well as', 'combin*', 'mix', 'mixture', 'blend', 'blending',
      'trade-off*', 'compromise', 'on the other hand', 'diverse', 'diversity', 'diversif*', 'variety', 'versatil*',
      'at the same time', 'complement*', 'middle ground', 'best of both', 'without sacrificing', 'while still',
      'whereas', 'alongside', 'eclectic',
    ],
    patterns: [],
    exclude: [],
    structural: ['"both X and Y" (≤ 8 words between) where neither conjunct is a history title ("both affordable and durable")'],
  },
};

export interface LexiconRow {
  behavior: Behavior;
  kind: 'phrase' | 'pattern' | 'exclude' | 'structural';
  cue: string;
  /** the regex source for patterns, the description for structural cues, "" otherwise */
  detail: string;
}

/** The lexicon as flat rows (one per cue), for printing as a table in the notebook. */
export function lexiconRows(lexicon: Readonly<Record<Behavior, LexiconEntry>> = RULE_LEXICON): LexiconRow[] {
  return BEHAVIOR_IDS.flatMap((behavior) => {
    const e = lexicon[behavior];
    return [
      ...e.phrases.map((cue) => ({ behavior, kind: 'phrase' as const, cue, detail: '' })),
      ...e.patterns.map((p) => ({ behavior, kind: 'pattern' as const, cue: p.name, detail: `${p.description} — /${p.source}/${p.flags ?? 'iu'}` })),
      ...e.exclude.map((cue) => ({ behavior, kind: 'exclude' as const, cue, detail: '' })),
      ...e.structural.map((d) => ({ behavior, kind: 'structural' as const, cue: d, detail: '' })),
    ];
  });
}

export interface RuleTaggerOptions {
  /** replace the lexicon of some behaviours (e.g. `{ temporal: { ...RULE_LEXICON.temporal, phrases: [...] } }`) */
  lexicon?: Partial<Record<Behavior, LexiconEntry>>;
  /** ratings ≤ this are "low" (negative-preference cues); default 2 (ratings are out of 5, spec §2) */
  lowRating?: number;
  /** verbatim (unbracketed) history titles shorter than this are not treated as title mentions; default 8 */
  titleMinChars?: number;
  /** number of distinct cues needed to set a label; default 1 for every behaviour */
  minCues?: Partial<Record<Behavior, number>>;
}

// ---- regex building -------------------------------------------------------------------------------------------

const LEFT = "(?<![\\p{L}\\p{N}_]|[\\p{L}\\p{N}][-'])";
const RIGHT = "(?![\\p{L}\\p{N}_]|[-'][\\p{L}\\p{N}])";
const MASK = '\u0001';

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Phrase syntax → regex source (no boundaries). */
export function phraseSource(phrase: string): string {
  const words = phrase.trim().split(/\s+/);
  return words
    .map((w) => {
      const star = w.endsWith('*');
      const core = star ? w.slice(0, -1) : w;
      const body = core
        .split('-')
        .map((part) => escapeRegex(part).replace(/'/g, "['’]"))
        .join('[-\\s]?');
      return star ? `${body}\\p{L}*` : body;
    })
    .join('\\s+');
}

function bounded(source: string, flags = 'iu'): RegExp {
  const f = new Set((flags + 'g').split(''));
  f.add('u');
  return new RegExp(`${LEFT}(?:${source})${RIGHT}`, [...f].join(''));
}

interface Compiled {
  cues: { cue: string; re: RegExp }[];
  exclude: RegExp[];
}

function compile(entry: LexiconEntry): Compiled {
  return {
    cues: [
      ...entry.phrases.map((p) => ({ cue: p, re: bounded(phraseSource(p)) })),
      ...entry.patterns.map((p) => ({ cue: p.name, re: bounded(p.source, p.flags) })),
    ],
    exclude: entry.exclude.map((p) => bounded(phraseSource(p))),
  };
}

function allMatches(re: RegExp, text: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    out.push({ start: m.index, end: m.index + m[0].length });
  }
  return out;
}

// ---- titles ---------------------------------------------------------------------------------------------------

export interface TitleMention {
  start: number;
  end: number;
  /** the title text (without brackets) */
  title: string;
  bracketed: boolean;
  /** indices into historyTitles this mention refers to (empty if it matches none) */
  historyIndex: number[];
}

function normTitle(s: string): string {
  return s
    .toLowerCase()
    .replace(/(\.\.\.|…)\s*$/u, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Outermost [...] spans (nested brackets allowed; an unclosed "[" or a stray "]" is ordinary text). */
export function bracketSpans(text: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let depth = 0;
  let open = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '[') {
      if (depth === 0) open = i;
      depth++;
    } else if (c === ']' && depth > 0) {
      depth--;
      if (depth === 0) spans.push({ start: open, end: i + 1 });
    }
  }
  return spans;
}

function matchHistory(title: string, normHistory: string[]): number[] {
  const t = normTitle(title);
  if (!t) return [];
  const exact = normHistory.flatMap((h, k) => (h === t ? [k] : []));
  if (exact.length) return exact;
  // A quoted title the model shortened ("Yamaha ...") or that lost a suffix still refers to the item; require 12
  // characters so that a short quote such as [Live] does not match every "Live ..." title.
  if (t.length < 12) return [];
  return normHistory.flatMap((h, k) => (h.length >= 12 && (h.startsWith(t) || t.startsWith(h)) ? [k] : []));
}

/** Quoted ([..]) and verbatim history-title mentions, sorted by position and non-overlapping. */
export function findTitleMentions(input: TagInput, titleMinChars = 8): TitleMention[] {
  const text = input.reasoning;
  const normHistory = (input.historyTitles ?? []).map(normTitle);
  const mentions: TitleMention[] = bracketSpans(text).map((s) => {
    const title = text.slice(s.start + 1, s.end - 1);
    return { ...s, title, bracketed: true, historyIndex: matchHistory(title, normHistory) };
  });
  const taken = (a: number, b: number) => mentions.some((m) => a < m.end && m.start < b);
  // Longest titles first so that "Halo 3: ODST" wins over "Halo 3".
  const titles = [...new Set((input.historyTitles ?? []).map((t) => t.trim()))]
    .filter((t) => t.length >= titleMinChars)
    .sort((a, b) => b.length - a.length);
  for (const t of titles) {
    const re = bounded(t.split(/\s+/).map(escapeRegex).join('\\s+'));
    for (const m of allMatches(re, text)) {
      if (taken(m.start, m.end)) continue;
      mentions.push({ ...m, title: text.slice(m.start, m.end), bracketed: false, historyIndex: matchHistory(t, normHistory) });
    }
  }
  return mentions.sort((a, b) => a.start - b.start);
}

// ---- tagging --------------------------------------------------------------------------------------------------

function sentenceBounds(masked: string): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  const re = /[.!?]+(?=\s|$)|\n/g;
  let start = 0;
  for (let m = re.exec(masked); m; m = re.exec(masked)) {
    const end = m.index + m[0].length;
    out.push({ start, end });
    start = end;
  }
  if (start < masked.length) out.push({ start, end: masked.length });
  return out;
}

export interface CueFindings {
  /** spans of every cue that fired, per behaviour */
  spans: Record<Behavior, CueSpan[]>;
  /** human-readable evidence per behaviour (matched text, deduplicated case-insensitively, in text order) */
  evidence: Record<Behavior, string[]>;
  titles: TitleMention[];
}

function emptyRecord<T>(make: () => T): Record<Behavior, T> {
  const o = {} as Record<Behavior, T>;
  for (const b of BEHAVIOR_IDS) o[b] = make();
  return o;
}

function buildMatcher(opts: RuleTaggerOptions) {
  const lowRating = opts.lowRating ?? 2;
  if (!Number.isFinite(lowRating)) throw new R2ecError(`ruleTagger: lowRating must be a number, got ${opts.lowRating}`);
  const titleMinChars = opts.titleMinChars ?? 8;
  const compiled = emptyRecord<Compiled>(() => ({ cues: [], exclude: [] }));
  for (const b of BEHAVIOR_IDS) compiled[b] = compile(opts.lexicon?.[b] ?? RULE_LEXICON[b]);

  return (input: TagInput): CueFindings => {
    const text = input.reasoning;
    const titles = findTitleMentions(input, titleMinChars);
    // The masked copy keeps offsets: titles become \u0001 runs, curly apostrophes become straight ones.
    const chars = text.replace(/’/g, "'").split('');
    for (const t of titles) for (let i = t.start; i < t.end; i++) chars[i] = MASK;
    const masked = chars.join('');

    const spans = emptyRecord<CueSpan[]>(() => []);
    const extra = emptyRecord<string[]>(() => []); // structural evidence that is not a plain substring

    for (const b of BEHAVIOR_IDS) {
      const { cues, exclude } = compiled[b];
      const vetoes = exclude.flatMap((re) => allMatches(re, masked));
      for (const { cue, re } of cues) {
        for (const m of allMatches(re, masked)) {
          if (vetoes.some((v) => m.start < v.end && v.start < m.end)) continue;
          spans[b].push({ ...m, cue });
        }
      }
    }

    // attribute abstraction: the history's own attributes, named outside titles
    const attrs = [...new Set((input.historyAttributes ?? []).map((a) => a.trim()).filter((a) => a.length >= 3))];
    for (const a of attrs) {
      const re = bounded(`${phraseSource(a.replace(/\*/g, ''))}(?:s|es)?`);
      for (const m of allMatches(re, masked)) spans.attribute_abstraction.push({ ...m, cue: `attribute: ${a}` });
    }

    // pattern clustering: ≥ 2 distinct titles in one sentence
    for (const s of sentenceBounds(masked)) {
      const inside = titles.filter((t) => t.start >= s.start && t.end <= s.end);
      const distinct = new Map<string, TitleMention>();
      for (const t of inside) if (!distinct.has(normTitle(t.title))) distinct.set(normTitle(t.title), t);
      if (distinct.size >= 2) {
        for (const t of distinct.values()) spans.pattern_clustering.push({ start: t.start, end: t.end, cue: '≥2 titles in one sentence' });
        extra.pattern_clustering.push(`${distinct.size} titles in one sentence: ${[...distinct.values()].map((t) => text.slice(t.start, t.end)).join(' + ')}`);
      }
    }

    // "both X and Y": clustering when X and Y are titles, multi-objective balancing otherwise
    const bothRe = bounded(`both\\s+((?:${WORD}\\s+|\\u0001+\\s*){1,8}?)and\\s+(\\u0001+|[^\\s.,;:!?()\\u0001]+)`);
    bothRe.lastIndex = 0;
    for (let m = bothRe.exec(masked); m; m = bothRe.exec(masked)) {
      const x = m[1];
      const y = m[2];
      const isTitles = x.includes(MASK) || y.startsWith(MASK);
      const end = m.index + m[0].length;
      const both = { start: m.index, end: m.index + 4 };
      const tail = m[0].slice(0, m[0].length - y.length);
      const andAt = m.index + tail.search(/and\s+$/);
      const and = { start: andAt, end: andAt + 3 };
      const b: Behavior = isTitles ? 'pattern_clustering' : 'multi_objective';
      spans[b].push({ ...both, cue: 'both ... and' }, { ...and, cue: 'both ... and' });
      extra[b].push(text.slice(m.index, end));
      bothRe.lastIndex = and.end;
    }

    // negative-preference exclusion: low ratings written in the text
    const ratingRes: [RegExp, string][] = [
      [/\(\s*(\d(?:\.\d+))\s*\)/g, 'rating (x.y) ≤ low'],
      [bounded('(?<![\\d.])(\\d(?:\\.\\d+)?)\\s*(?:\\/\\s*5|out\\s+of\\s+5|stars?)'), 'rating x/5 ≤ low'],
    ];
    for (const [re, cue] of ratingRes) {
      re.lastIndex = 0;
      for (let m = re.exec(masked); m; m = re.exec(masked)) {
        const v = Number(m[1]);
        if (v <= lowRating && v <= 5) spans.negative_exclusion.push({ start: m.index, end: m.index + m[0].length, cue });
      }
    }
    // ... and mentions of history items the user rated low
    const ratings = input.historyRatings;
    if (ratings) {
      for (const t of titles) {
        const low = t.historyIndex.filter((k) => ratings[k] <= lowRating);
        if (low.length) {
          spans.negative_exclusion.push({ start: t.start, end: t.end, cue: 'low-rated history item' });
          extra.negative_exclusion.push(`mentions low-rated history item ${text.slice(t.start, t.end)} (rating ${ratings[low[0]]})`);
        }
      }
    }

    const evidence = emptyRecord<string[]>(() => []);
    for (const b of BEHAVIOR_IDS) {
      // Overlapping phrases ("which suggests" and "suggests") are one cue: keep the longest.
      spans[b].sort((p, q) => p.start - q.start || q.end - p.end);
      spans[b] = spans[b].filter(
        (s, k, all) => !all.some((o, j) => j !== k && o.start <= s.start && s.end <= o.end && (o.end - o.start > s.end - s.start || j < k)),
      );
      const seen = new Set<string>();
      const structuralCues = new Set(['≥2 titles in one sentence', 'both ... and', 'low-rated history item']);
      for (const s of spans[b]) {
        if (structuralCues.has(s.cue)) continue; // reported through `extra`
        const str = text.slice(s.start, s.end);
        if (!seen.has(str.toLowerCase())) {
          seen.add(str.toLowerCase());
          evidence[b].push(str);
        }
      }
      evidence[b].push(...extra[b]);
    }
    return { spans, evidence, titles };
  };
}

/** Cue spans and evidence for one text (what the rule tagger bases its labels on). */
export function findCues(input: TagInput, opts: RuleTaggerOptions = {}): CueFindings {
  return buildMatcher(opts)(input);
}

/** The transparent rule-based tagger. A behaviour is present when at least `minCues[b]` (default 1) distinct evidence items fired. */
export function ruleTagger(opts: RuleTaggerOptions = {}): BehaviorTagger & { tagSync(inputs: TagInput[]): TagResult[] } {
  const match = buildMatcher(opts);
  for (const [b, n] of Object.entries(opts.minCues ?? {}))
    if (!Number.isInteger(n) || (n as number) < 1) throw new R2ecError(`ruleTagger: minCues.${b} must be an integer ≥ 1, got ${n}`);
  const tagSync = (inputs: TagInput[]): TagResult[] => {
    checkInputs(inputs, 'ruleTagger');
    return inputs.map((inp) => {
      const f = match(inp);
      const labels = allFalse();
      const evidence: Partial<Record<Behavior, string[]>> = {};
      const spans: Partial<Record<Behavior, CueSpan[]>> = {};
      for (const b of BEHAVIOR_IDS) {
        labels[b] = f.evidence[b].length >= (opts.minCues?.[b] ?? 1);
        if (f.evidence[b].length) {
          evidence[b] = f.evidence[b];
          spans[b] = f.spans[b];
        }
      }
      return { id: inp.id, labels, evidence, spans };
    });
  };
  return { name: 'rules', tag: async (inputs) => tagSync(inputs), tagSync };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BEHAVIORS,
  BEHAVIOR_IDS,
  RULE_LEXICON,
  bracketSpans,
  findCues,
  lexiconRows,
  phraseSource,
  ruleTagger,
  type Behavior,
  type TagInput,
} from '../lib/behaviors';
import { R2ecError } from '../lib/util/errors';

const tagger = ruleTagger();
const tagOne = (reasoning: string, extra: Partial<TagInput> = {}) => tagger.tagSync([{ id: 'x', reasoning, ...extra }])[0];

// Hand-written texts per behaviour: [text, cue expected in the evidence] for positives, texts for negatives.
const CASES: Record<Behavior, { pos: [string, string][]; neg: string[] }> = {
  attribute_abstraction: {
    pos: [
      ['The user mostly buys acoustic gear.', 'mostly'],
      ['Their purchases point to a strong taste for the thrash metal genre.', 'genre'],
      ['She tends to pick budget items.', 'tends to'],
      ['He prefers vintage-looking pedals.', 'prefers'],
    ],
    neg: [
      'The user bought [Metal Genre Sampler Vol. 1] (5.0) and [Fender Strings] (4.0).',
      'Next item: a capo.',
      'The generic cable arrived.', // "genre" must not fire inside "generic"
    ],
  },
  pattern_clustering: {
    pos: [
      ['Several of the purchases are guitar pedals.', 'Several'],
      ['The user keeps buying albums from the same artist.', 'the same artist'],
      ['These are similar to the pedals bought before.', 'similar to'],
      ['They finished the Halo series.', 'series'],
    ],
    neg: ['The user bought a guitar.', 'A single purchase of [Cluster Pack: Several Songs] (4.0).'],
  },
  role_scenario: {
    pos: [
      ['As a gigging guitarist, the user needs durable gear.', 'As a'],
      ['This looks like a gift for kids.', 'gift'],
      ['Someone who collects vinyl would want this reissue.', 'Someone who'],
      ['The purchases fit a home studio setup.', 'home studio'],
    ],
    neg: [
      'As a result, the next item is probably a cable.',
      'Items such as a tuner were bought.',
      'They bought [Family Guy Season 2] (4.0).',
      'The third-party controller was fine.',
    ],
  },
  temporal: {
    pos: [
      ['The user recently switched to drums.', 'recently'],
      ['12d 3.5h ago they bought strings.', '12d'],
      ['Their taste shifted over time toward jazz.', 'over time'],
      ['Last week they ordered picks.', 'Last week'],
      ['It has been a few weeks since the last order.', 'few weeks'],
    ],
    neg: [
      'They bought [Recently Played Hits] (5.0).',
      'A 2D platformer fits their collection.',
      'Knowing this, a tuner fits.', // "now" must not fire inside "knowing"
      "Now, let's look at the ratings.",
    ],
  },
  self_explanation: {
    pos: [
      ['They rated it high because the tone is warm.', 'because'],
      ['They like effects, so a delay pedal fits.', 'so'],
      ['The ratings are high, which suggests satisfaction.', 'which suggests'],
      ['They like effects. This suggests a delay.', 'This suggests'],
      ['This indicates a focus on recording.', 'indicates'],
    ],
    neg: [
      'It is a so-called boutique pedal.',
      'The pedal was so good.',
      'They bought strings, picks and so on.',
      'So far the user bought two items.',
      "Okay, so let's look at the history.",
    ],
  },
  negative_exclusion: {
    pos: [
      ["They didn't enjoy the heavy distortion pedal.", "didn't enjoy"],
      ['I would avoid more horror titles.', 'avoid'],
      ['They rated the cheap cable low.', 'rated the cheap cable low'],
      ['[Cheap Cable] (1.0) shows dissatisfaction.', '(1.0)'],
      ['The user is not interested in strings.', 'not interested'],
      ['That one got 2 stars.', '2 stars'],
      ['You rated [Cheap Patch Cables 6-Pack] (4.0) low.', 'rated [Cheap Patch Cables 6-Pack] (4.0) low'],
    ],
    neg: [
      'This notable album fits.', // "not" must not fire inside "notable"
      'They like not only rock but also jazz.',
      'Options: (1) a tuner, (2) a capo.', // enumerations are not ratings
      'They gave it 3.2/5.', // the "2/5" inside "3.2/5" is not a rating
      'They bought [Not Fade Away] (4.0).',
    ],
  },
  multi_objective: {
    pos: [
      ['The next pick should balance price and quality.', 'balance'],
      ['They want gear that is both affordable and durable.', 'both affordable and durable'],
      ['A mix of classic and modern styles would suit them.', 'mix'],
      ['It is cheap; on the other hand, it sounds great.', 'on the other hand'],
    ],
    neg: ['They bought both [Pedal A] and [Pedal B].', 'The mixer arrived.', 'They bought a tuner.'],
  },
};

for (const b of BEHAVIOR_IDS) {
  test(`rules: ${b} positives fire with the expected cue as evidence`, () => {
    for (const [text, cue] of CASES[b].pos) {
      const r = tagOne(text);
      assert.equal(r.labels![b], true, `${b} should fire on: ${text}`);
      assert.ok(
        r.evidence[b]!.some((e) => e.toLowerCase() === cue.toLowerCase()),
        `${b} evidence ${JSON.stringify(r.evidence[b])} lacks "${cue}" for: ${text}`,
      );
    }
  });
  test(`rules: ${b} negatives (including tricky ones) do not fire`, () => {
    for (const text of CASES[b].neg) {
      const r = tagOne(text);
      assert.equal(r.labels![b], false, `${b} should not fire on: ${text} (evidence ${JSON.stringify(r.evidence[b])})`);
      assert.equal(r.evidence[b], undefined);
    }
  });
}

test('rules: a neutral text gets no behaviour at all', () => {
  const r = tagOne('The user bought [Recently Added: Several Similar Genre Hits Because] (5.0). Recommend a cable.');
  assert.deepEqual(
    BEHAVIOR_IDS.filter((b) => r.labels![b]),
    [],
  );
  assert.deepEqual(r.evidence, {});
});

test('rules: cues inside nested brackets are ignored, an unclosed bracket is ordinary text', () => {
  assert.deepEqual(bracketSpans('a [b [c] d] e [f'), [{ start: 2, end: 11 }]);
  assert.equal(tagOne('They bought [Live [Recently Remastered]] (4.0).').labels!.temporal, false);
  assert.equal(tagOne('They bought [a pedal recently').labels!.temporal, true);
});

test('rules: verbatim history titles are masked like quoted ones (and short titles are not)', () => {
  const historyTitles = ['Songs I Recently Loved', 'Now'];
  assert.equal(tagOne('They played Songs I Recently Loved a lot.', { historyTitles }).labels!.temporal, false);
  // "Now" is shorter than titleMinChars (8), so it is not masked and still counts as a time word
  assert.equal(tagOne('Now they want a tuner.', { historyTitles }).labels!.temporal, true);
});

test('rules: history attributes count as attribute abstraction, outside titles only, with plurals', () => {
  const historyAttributes = ['Thriller', 'Film-Noir', 'Sci-Fi'];
  const r = tagOne('They watch thrillers and film noir, less sci fi.', { historyAttributes });
  assert.equal(r.labels!.attribute_abstraction, true);
  assert.deepEqual(r.evidence.attribute_abstraction, ['thrillers', 'film noir', 'sci fi']);
  assert.equal(tagOne('They watched [Thriller Night] (4.0).', { historyAttributes }).labels!.attribute_abstraction, false);
});

test('rules: two history titles in one sentence is clustering; one per sentence or per line is not', () => {
  const r = tagOne('They bought [Halo 3] (5.0) and [Halo: Reach] (4.0). Next [Gears of War] (3.0).');
  assert.equal(r.labels!.pattern_clustering, true);
  assert.deepEqual(r.evidence.pattern_clustering, ['2 titles in one sentence: [Halo 3] + [Halo: Reach]']);
  // titles with dots inside do not split a sentence; lines do
  assert.equal(tagOne('Bought [Vol. 1. Live] (5.0)\nthen [Vol. 2] (4.0)').labels!.pattern_clustering, false);
  assert.equal(tagOne('Bought [Vol. 1. Live] (5.0) then [Vol. 2] (4.0).').labels!.pattern_clustering, true);
  // the same title twice is one title
  assert.equal(tagOne('[Halo 3] (5.0) and again [Halo 3] (5.0).').labels!.pattern_clustering, false);
  // "both [A] and [B]" is clustering, not multi-objective balancing
  const both = tagOne('They bought both [Pedal A] and [Pedal B]');
  assert.equal(both.labels!.pattern_clustering, true);
  assert.equal(both.labels!.multi_objective, false);
});

test('rules: mentioning a history item rated ≤ lowRating is negative-preference evidence', () => {
  const inp = { historyTitles: ['Cheap Guitar Cable 10ft', 'Great Tuner'], historyRatings: [2, 5] };
  const r = tagOne('Consider [Cheap Guitar Cable 10ft] and [Great Tuner].', inp);
  assert.equal(r.labels!.negative_exclusion, true);
  assert.deepEqual(r.evidence.negative_exclusion, ['mentions low-rated history item [Cheap Guitar Cable 10ft] (rating 2)']);
  // a truncated quote of the title still refers to it (≥ 12 characters)
  assert.equal(tagOne('Consider [Cheap Guitar Cable ...] now.', inp).labels!.negative_exclusion, true);
  assert.equal(tagOne('Consider [Great Tuner] now.', inp).labels!.negative_exclusion, false);
  // the threshold is an option
  const strict = ruleTagger({ lowRating: 1 }).tagSync([{ id: 'y', reasoning: 'Consider [Cheap Guitar Cable 10ft].', ...inp }])[0];
  assert.equal(strict.labels!.negative_exclusion, false);
  assert.equal(ruleTagger({ lowRating: 1 }).tagSync([{ id: 'z', reasoning: 'got (2.0)' }])[0].labels!.negative_exclusion, false);
});

test('rules: spans point at the evidence in the original text', () => {
  const text = 'Because they recently bought [Now That\'s Music] (1.0), I’d avoid it; so a mix of genres fits as a DJ.';
  const f = findCues({ id: 'a', reasoning: text });
  for (const b of BEHAVIOR_IDS) {
    for (const s of f.spans[b]) {
      assert.ok(s.start >= 0 && s.end <= text.length && s.end > s.start);
      assert.ok(!/^\s|\s$/.test(text.slice(s.start, s.end)), `span "${text.slice(s.start, s.end)}" has outer spaces`);
    }
  }
  const at = (b: Behavior) => f.spans[b].map((s) => text.slice(s.start, s.end));
  assert.deepEqual(at('self_explanation'), ['Because', 'so']);
  // overlapping phrases are one cue, the longest
  assert.deepEqual(tagOne('This suggests a delay.').evidence.self_explanation, ['This suggests']);
  assert.deepEqual(at('temporal'), ['recently']); // not the "Now" inside the title
  assert.deepEqual(at('negative_exclusion'), ['(1.0)', 'avoid']);
  assert.deepEqual(at('multi_objective'), ['mix']);
  assert.deepEqual(at('attribute_abstraction'), ['genres']);
  assert.deepEqual(at('role_scenario'), ['as a', 'DJ']);
});

test('rules: minCues raises the bar per behaviour', () => {
  const text = 'They recently bought it, and lately more.';
  assert.equal(ruleTagger({ minCues: { temporal: 2 } }).tagSync([{ id: 'a', reasoning: text }])[0].labels!.temporal, true);
  assert.equal(ruleTagger({ minCues: { temporal: 3 } }).tagSync([{ id: 'a', reasoning: text }])[0].labels!.temporal, false);
  assert.throws(() => ruleTagger({ minCues: { temporal: 0 } }), R2ecError);
});

test('rules: the lexicon is exported as data, and a replaced lexicon is used', async () => {
  for (const b of BEHAVIORS) {
    const e = RULE_LEXICON[b.id];
    assert.ok(e.phrases.length + e.patterns.length + e.structural.length > 0, b.id);
    for (const p of e.patterns) assert.doesNotThrow(() => new RegExp(p.source, 'u'), p.name);
  }
  const rows = lexiconRows();
  const total = BEHAVIORS.reduce((n, b) => {
    const e = RULE_LEXICON[b.id];
    return n + e.phrases.length + e.patterns.length + e.exclude.length + e.structural.length;
  }, 0);
  assert.equal(rows.length, total);
  assert.ok(rows.some((r) => r.behavior === 'negative_exclusion' && r.kind === 'pattern' && r.cue === 'negated preference'));
  assert.equal(phraseSource('trade-off*'), 'trade[-\\s]?off\\p{L}*');
  const t = ruleTagger({ lexicon: { temporal: { phrases: ['yesteryear'], patterns: [], exclude: [], structural: [] } } });
  const [a, b] = await t.tag([
    { id: 'a', reasoning: 'They recently bought it.' },
    { id: 'b', reasoning: 'Songs of yesteryear.' },
  ]);
  assert.equal(a.labels!.temporal, false);
  assert.equal(b.labels!.temporal, true);
  assert.equal(t.name, 'rules');
});

test('rules: bad inputs fail with a clear error', () => {
  assert.throws(() => tagger.tagSync([{ id: 'a', reasoning: 'x' }, { id: 'a', reasoning: 'y' }]), /duplicate input id "a"/);
  assert.throws(() => tagger.tagSync([{ id: 'a', reasoning: undefined as unknown as string }]), /"a" has no reasoning text/);
  assert.throws(
    () => tagger.tagSync([{ id: 'a', reasoning: 'x', historyTitles: ['t'], historyRatings: [1, 2] }]),
    /1 historyTitles but 2 historyRatings/,
  );
});

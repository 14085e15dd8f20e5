// Reasoning-text health (lib/eval/reasoning.ts): hand-counted bigram repeats, distinct texts and changes since step 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reasoningStats } from '../lib/eval/reasoning';
import { R2ecError } from '../lib/util/errors';

test('reasoning stats: repeated bigrams within a text, distinct texts, texts changed against a reference', () => {
  // text 0: bigrams (1,2) (2,3) (3,1) (1,2) → 1 repeat of 4; text 1: (5,5) (5,5) (5,5) → 2 repeats of 3;
  // text 2: one token, no bigram; text 3 = text 0. Repeats are counted within a text, not across texts.
  const texts = [[1, 2, 3, 1, 2], [5, 5, 5, 5], [7], [1, 2, 3, 1, 2]];
  const ref = [[1, 2, 3, 1, 2], [5, 5], [7], [9]];
  const s = reasoningStats(texts, ref);
  assert.equal(s.meanTokens, (5 + 4 + 1 + 5) / 4);
  assert.equal(s.repeatShare, (1 + 2 + 0 + 1) / (4 + 3 + 0 + 4));
  assert.equal(s.distinctShare, 3 / 4);
  assert.equal(s.changedShare, 2 / 4); // texts 1 and 3 differ from their reference
  assert.ok(Number.isNaN(reasoningStats(texts).changedShare), 'no reference → NaN, not 0');
  // one text for everyone: distinct share 1/n; no reasoning at all: zeros, not NaN
  assert.equal(reasoningStats([[4, 2], [4, 2], [4, 2]]).distinctShare, 1 / 3);
  assert.deepEqual({ ...reasoningStats([[], []], [[], []]) }, { meanTokens: 0, repeatShare: 0, distinctShare: 1 / 2, changedShare: 0 });
  assert.throws(() => reasoningStats([[1]], [[1], [2]]), R2ecError);
});

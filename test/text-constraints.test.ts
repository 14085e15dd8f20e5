// Constrained decoding of the reasoning's "Next:" (lib/text/constraints.ts, recpo.nextTitles): the allowed sets walk
// a trie of titles' " {title}." tokenisations, and generation under the rule writes exactly one allowed title after
// "Next:" and then stops — whatever a random model prefers; 'history' rows may name only their own prompt's items.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, initParams } from '../lib/model/decoder';
import { generate } from '../lib/model/generate';
import { tokenizerFromJSON, trainTokenizer } from '../lib/text/bpe';
import { QWEN_TOKENIZER_DIR } from './fixtures/hf/tiny-qwen-backbone';
import { nextTitleRule, titleConstraint, titleTokens, titleTrie } from '../lib/text/constraints';
import type { Dataset, Sample } from '../lib/data/types';
import { ConfigError } from '../lib/util/errors';
import { makeRng } from '../lib/util/rng';

before(async () => {
  await initBackend({ log: false });
});

const TITLES = ['', 'Alien', 'Aliens', 'Alien 3', 'Toy Story', 'Toy Soldiers', 'Heat'];
const DS = { items: TITLES.map((title, id) => (id === 0 ? undefined : { id, title })) } as unknown as Pick<Dataset, 'items'>;
const tok = trainTokenizer(['Next: Alien. Next: Aliens. Next: Alien 3. Next: Toy Story. Next: Toy Soldiers. Next: Heat. A cluster of Drama.'.repeat(3)], { vocabSize: 320 });
const STOP = tok.special.answer;

test('the allowed ids follow the title trie after "Next:" and end with the stop token', () => {
  const tokens = titleTokens(tok, DS);
  const trie = titleTrie(tokens, [1, 2, 3, 4, 5, 6]);
  const rule = titleConstraint(tok, () => trie, [STOP]);
  assert.equal(rule(tok.encode('A cluster of Drama.'), 0), undefined, 'free before the trigger');
  const pre = tok.encode('A cluster of Drama. Next:');
  const first = new Set(TITLES.slice(1).map((t) => tok.encode(` ${t}.`)[0]));
  assert.deepEqual(new Set(rule(pre, 0)), first, 'right after "Next:": the first tokens of the titles');
  for (const [i, t] of TITLES.entries()) {
    if (i === 0) continue;
    const ids = tok.encode(` ${t}.`);
    assert.deepEqual(tokens[i], ids);
    for (let k = 0; k < ids.length; k++) assert.ok(rule([...pre, ...ids.slice(0, k)], 0)!.includes(ids[k]), `${t}: token ${k} allowed`);
    // complete: the stop token, and nothing else unless a longer title continues these very tokens
    const longer = TITLES.some((u, j) => j !== i && j > 0 && tokens[j].length > ids.length && tokens[j].slice(0, ids.length).join() === ids.join());
    const after = rule([...pre, ...ids], 0)!;
    assert.ok(after.includes(STOP));
    assert.equal(after.length === 1, !longer);
  }
  assert.equal(rule([...pre, tok.encode(' Heat.')[0], tok.encode(' Alien.')[0]], 0), undefined, 'off the trie: free');
});

test('generation under the rule names exactly one allowed title after "Next:" and stops (catalog and history)', () => {
  const cfg = modelConfig('tiny', { vocabSize: tok.vocabSize, maxSeqLen: 64, initStd: 0.3 });
  const params = initParams(cfg, 3);
  const trigger = tok.encode(' Next:');
  const hist = (items: number[]) => ({ history: items.map((item) => ({ item, rating: 5, timestamp: 0 })) }) as unknown as Sample;
  // the last 2 history items are shown: {2, 3} for the first sample, {5, 6} for the second
  const samples = [hist([6, 2, 3]), hist([1, 5, 6])];
  for (const mode of ['catalog', 'history'] as const) {
    const rule = nextTitleRule(tok, DS, mode, 2)!((row) => samples[row % 2]);
    // force the trigger first, then the title rule: a random model would rarely write "Next:" on its own
    const allowed = (g: readonly number[], row: number) => (g.length < trigger.length ? [trigger[g.length]] : rule(g, row));
    const prompts = Array.from({ length: 12 }, (_, i) => [1, 20 + i, 40 + i]);
    const named = new Set<string>();
    for (const temperature of [0, 1.5]) {
      const r = generate(params, cfg, prompts, { temperature, topK: 0, topP: 1, maxNewTokens: 30 }, makeRng(7), [STOP], 0, undefined, allowed);
      r.tokens.forEach((t, b) => {
        assert.ok(r.stopped[b], `row ${b} stopped`);
        const text = tok.decode(t, { skipSpecial: true });
        const m = /^ Next: (.*)\.$/.exec(text);
        const ok = mode === 'catalog' ? TITLES.slice(1) : samples[b % 2].history.slice(-2).map((h) => TITLES[h.item]);
        assert.ok(m && ok.includes(m[1]), `${mode} row ${b}: ${JSON.stringify(text)}`);
        named.add(m![1]);
        r.logProbs[b].forEach((lp) => assert.ok(lp <= 1e-6 && Number.isFinite(lp)));
      });
    }
    assert.ok(named.size >= 3, `${mode}: sampling names several titles (${[...named]})`);
  }
  assert.equal(nextTitleRule(tok, DS, 'free', 2), undefined);
  assert.throws(() => nextTitleRule({ encode: () => [], tokenBytes: tok.tokenBytes, special: { answer: -1 } }, DS, 'history', 2), ConfigError);
  disposeParams(params);
});

test('a pretrained vocabulary without an <answer> token: the title is closed by the tokens of the string', () => {
  const hf = tokenizerFromJSON({ format: 'hf', dir: QWEN_TOKENIZER_DIR });
  assert.ok(hf.special.answer < 0);
  const closing = hf.encode('<answer>');
  assert.ok(closing.length > 1, 'several tokens');
  const rule = nextTitleRule(hf, DS, 'catalog', 2)!(() => undefined as never);
  const pre = hf.encode('Mostly drama. Next:');
  const title = hf.encode(' Toy Soldiers.');
  assert.deepEqual(new Set(rule(pre, 0)), new Set(TITLES.slice(1).map((t) => hf.encode(` ${t}.`)[0])));
  const done = rule([...pre, ...title], 0)!;
  assert.deepEqual(done, [closing[0]]);
  for (let j = 1; j < closing.length; j++) assert.deepEqual(rule([...pre, ...title, ...closing.slice(0, j)], 0), [closing[j]]);
  assert.equal(rule([...pre, ...title, ...closing], 0), undefined, 'closed: the stop test ends the row');
  assert.ok((hf as unknown as { stopWhen(g: number[]): boolean }).stopWhen([...pre, ...title, ...closing]));
});

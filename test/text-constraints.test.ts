// Constrained decoding of the reasoning's "Next:" (lib/text/constraints.ts, recpo.nextTitles): the allowed sets walk
// a trie of the catalog's " {title}." tokenisations, and generation under the rule writes exactly one catalog title
// after "Next:" and then stops — whatever a random model prefers.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, initParams } from '../lib/model/decoder';
import { generate } from '../lib/model/generate';
import { trainTokenizer } from '../lib/text/bpe';
import { titleConstraint, titleTrie } from '../lib/text/constraints';
import { makeRng } from '../lib/util/rng';

before(async () => {
  await initBackend({ log: false });
});

const TITLES = ['', 'Alien', 'Aliens', 'Alien 3', 'Toy Story', 'Toy Soldiers', 'Heat'];
const tok = trainTokenizer(['Next: Alien. Next: Aliens. Next: Alien 3. Next: Toy Story. Next: Toy Soldiers. Next: Heat. A cluster of Drama.'.repeat(3)], { vocabSize: 320 });
const STOP = tok.special.answer;

test('the allowed ids follow the title trie after "Next:" and end with the stop token', () => {
  const trie = titleTrie(tok, TITLES);
  const rule = titleConstraint(tok, trie, STOP);
  assert.equal(rule(tok.encode('A cluster of Drama.')), undefined, 'free before the trigger');
  const pre = tok.encode('A cluster of Drama. Next:');
  const first = new Set(TITLES.slice(1).map((t) => tok.encode(` ${t}.`)[0]));
  assert.deepEqual(new Set(rule(pre)), first, 'right after "Next:": the first tokens of the titles');
  for (const [i, t] of TITLES.entries()) {
    if (i === 0) continue;
    const ids = tok.encode(` ${t}.`);
    assert.deepEqual(trie.tokens[i], ids);
    for (let k = 0; k < ids.length; k++) assert.ok(rule([...pre, ...ids.slice(0, k)])!.includes(ids[k]), `${t}: token ${k} allowed`);
    // complete: the stop token, and nothing else unless a longer title continues these very tokens
    const longer = TITLES.some((u, j) => j !== i && j > 0 && tok.encode(` ${u}.`).length > ids.length && tok.encode(` ${u}.`).slice(0, ids.length).join() === ids.join());
    const after = rule([...pre, ...ids])!;
    assert.ok(after.includes(STOP));
    assert.equal(after.length === 1, !longer);
  }
  assert.equal(rule([...pre, tok.encode(' Heat.')[0], tok.encode(' Alien.')[0]]), undefined, 'off the trie: free');
});

test('generation under the rule names exactly one catalog title after "Next:" and stops', () => {
  const cfg = modelConfig('tiny', { vocabSize: tok.vocabSize, maxSeqLen: 64, initStd: 0.3 });
  const params = initParams(cfg, 3);
  const trigger = tok.encode(' Next:');
  const rule = titleConstraint(tok, titleTrie(tok, TITLES), STOP);
  // force the trigger first, then the title rule: a random model would rarely write "Next:" on its own
  const allowed = (g: readonly number[]) => (g.length < trigger.length ? [trigger[g.length]] : rule(g));
  const prompts = Array.from({ length: 12 }, (_, i) => [1, 20 + i, 40 + i]);
  const named = new Set<string>();
  for (const temperature of [0, 1.5]) {
    const r = generate(params, cfg, prompts, { temperature, topK: 0, topP: 1, maxNewTokens: 30 }, makeRng(7), [STOP], 0, undefined, allowed);
    r.tokens.forEach((t, b) => {
      assert.ok(r.stopped[b], `row ${b} stopped`);
      const text = tok.decode(t, { skipSpecial: true });
      const m = /^ Next: (.*)\.$/.exec(text);
      assert.ok(m && TITLES.includes(m[1]), `row ${b}: ${JSON.stringify(text)}`);
      named.add(m![1]);
      r.logProbs[b].forEach((lp) => assert.ok(lp <= 1e-6 && Number.isFinite(lp)));
    });
  }
  assert.ok(named.size >= 3, `sampling names several titles (${[...named]})`);
  disposeParams(params);
});

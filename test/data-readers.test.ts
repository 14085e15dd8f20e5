// Readers of the real data sources (lib/data/{amazon2023,d3,movielens,goodreads}.ts): real files in
// shared/data where they exist, hand-built fixtures otherwise (Amazon 2023, raw GroupLens ml-100k, D3 with train).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { amazonDomain, readAmazon2023 } from '../lib/data/amazon2023';
import { cleanText, filterTitleForm, pyFloat, pyHtmlUnescape, pyLen, pySpaceSplitCount, pyStrip } from '../lib/data/clean';
import { readD3 } from '../lib/data/d3';
import { promptTitles, readGoodreads } from '../lib/data/goodreads';
import { readMovieLens, splitTitleYear } from '../lib/data/movielens';
import { jsonErrorOffset, parsePythonList } from '../lib/data/sourceFiles';
import type { Dataset, Interaction, Sample } from '../lib/data/types';
import { DATA_ROOT, REAL, dataTest } from './helpers/real-data';

// real files: dataTests, skipped with the reason and the fetch instructions when absent (CI: R2EC_REQUIRE_DATA=1 fails
// instead); the same readers run on fixtures here and in test/data-fixtures.test.ts
const DATA = DATA_ROOT;
const tmpRoot = mkdtempSync(join(tmpdir(), 'r2ec-readers-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let tmpCount = 0;
function tmpDir(): string {
  const d = join(tmpRoot, String(tmpCount++));
  mkdirSync(d, { recursive: true });
  return d;
}

/** Invariants every reader's Dataset must satisfy (types.ts contract + spec §1 sample construction). */
function checkInvariants(ds: Dataset): void {
  assert.equal(ds.items[0].id, 0);
  assert.equal(ds.items[0].title, 'pad_title');
  ds.items.forEach((it, k) => assert.equal(it.id, k));
  const all: Sample[] = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test];
  all.forEach((s, k) => assert.equal(s.index, k));
  const inter = new Set<Interaction>(ds.interactions);
  for (const s of all) {
    assert.ok(s.history.length >= 1 && s.history.length <= ds.window);
    assert.ok(inter.has(s.target), 'sample targets are the Interaction objects of ds.interactions');
    for (const h of s.history) {
      assert.ok(inter.has(h));
      assert.equal(h.user, s.user);
      assert.ok(h.timestamp <= s.target.timestamp);
    }
    assert.equal(s.target.user, s.user);
  }
  for (const it of ds.interactions) {
    assert.ok(it.item >= 1 && it.item < ds.items.length);
    assert.ok(it.user >= 0 && it.user < ds.users.length);
  }
  assert.ok(ds.provenance.notes.length > 0);
  assert.equal(ds.provenance.synthetic, false);
}

/** Per-user sequences in ds.interactions order. */
function sequences(ds: Dataset): Map<number, Interaction[]> {
  const m = new Map<number, Interaction[]>();
  for (const it of ds.interactions) {
    if (!m.has(it.user)) m.set(it.user, []);
    m.get(it.user)!.push(it);
  }
  return m;
}

describe('clean.ts reproduces Python', () => {
  test('clean_text order: unescape, strip, tags, \\n\\t, collapse, then non-ASCII → space', () => {
    // '  <b>Fender</b> & Co\n\tStraté ' → strip → tags gone → 'Fender & Co  Straté' → 'Fender & Co Straté' → é → ' '
    assert.equal(cleanText('  &lt;b&gt;Fender&lt;/b&gt; &amp; Co\n\tStrat&eacute; '), 'Fender & Co Strat ');
    assert.equal(cleanText('\u00a0Nylon\u3000Strings\u00a0'), 'Nylon Strings'); // Python strip() knows NBSP and U+3000
    assert.equal(cleanText('\ufeffx'), ' x'); // ...but not U+FEFF, which JS trim() would strip
    assert.equal(cleanText('a😀b'), 'a b'); // one code point → one space
  });
  test('html.unescape fallbacks', () => {
    assert.equal(pyHtmlUnescape('&ampx &copy2 &notit; &bogus; &#128; &#0; &#1;x &#x41; &#65'), '&x ©2 ¬it; &bogus; € \ufffd x A A');
    assert.equal(pyHtmlUnescape('&#xD800; &#99999999; &fjlig;'), '\ufffd \ufffd fj');
  });
  test('title filter form, word count and length as the Python code sees them', () => {
    assert.equal(filterTitleForm(' "Hello &quot;World&quot;" '), 'Hello "World');
    assert.equal(filterTitleForm('"  padded  "'), '  padded  '); // quotes stripped after spaces, not together
    assert.equal(pySpaceSplitCount('a  b'), 3); // "a  b".split(" ") == ['a', '', 'b']
    assert.equal(pyLen('😀'), 1);
    assert.equal(pyStrip('""x""', '"'), 'x');
  });
  test('float() acceptance', () => {
    assert.equal(pyFloat('12.5'), 12.5);
    assert.equal(pyFloat(' 3 '), 3);
    assert.equal(pyFloat('1e3'), 1000);
    assert.equal(pyFloat('inf'), Infinity);
    assert.equal(pyFloat('-Infinity'), -Infinity);
    assert.ok(Number.isNaN(pyFloat('nan')));
    assert.equal(pyFloat('1_000'), 1000);
    assert.equal(pyFloat('.5'), 0.5);
    assert.equal(pyFloat(7), 7);
    assert.equal(pyFloat(true), 1);
    for (const bad of ['None', '', '$5', '1,299', '1__0', '_1', '0x10', '1 2', null, undefined, [1]]) {
      assert.equal(pyFloat(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('parsePythonList', () => {
  test('strings with quotes, commas and escapes; numbers; empty', () => {
    assert.deepEqual(parsePythonList(`['B00', "Don't", 'a\\'b', 'x\\\\y', 'Hello, World', '\\u00e9\\x41\\n']`), [
      'B00', "Don't", "a'b", 'x\\y', 'Hello, World', 'éA\n',
    ]);
    assert.deepEqual(parsePythonList('[5.0, 4, -1e3, +.5]'), [5, 4, -1000, 0.5]);
    assert.deepEqual(parsePythonList(' [ ] '), []);
    assert.deepEqual(parsePythonList('[1, 2,]'), [1, 2]);
    assert.deepEqual(parsePythonList(`['Revolution\\'69"']`), [`Revolution'69"`]);
  });
  test('rejects what ast.literal_eval would reject or we do not support', () => {
    for (const bad of ["['a'", '[1 2]', "['a'] x", '[None]', '[[1]]', "'a'", '[,]', "['a\nb']", '[-]']) {
      assert.throws(() => parsePythonList(bad), /bad Python list literal/, bad);
    }
  });
});

test('jsonErrorOffset finds the first syntax error that JSON.parse reports without a position on Node 20', () => {
  assert.equal(jsonErrorOffset('{"a": [1, 2,]}'), 12);
  assert.equal(jsonErrorOffset('{"a": "x\\q"}'), 8);
  assert.equal(jsonErrorOffset('[1] x'), 4);
  assert.equal(jsonErrorOffset('{"a": [true, null, -0.5e3, "\\u00e9"]}'), undefined);
});

describe('Amazon 2023 (fixture)', () => {
  const ms = (iso: string) => Date.parse(iso);
  const words20 = Array.from({ length: 20 }, (_, k) => `w${k + 1}`).join(' ');
  const meta = [
    { parent_asin: 'A1', title: 'Alpha Guitar', price: 10 },
    { parent_asin: 'A2', title: null, price: 1 },
    { parent_asin: 'A3', price: 1 },
    { parent_asin: 'A4', title: 'Bad <span id="x">', price: 1 },
    { parent_asin: 'A5', title: words20 + ' w21', price: 1 },
    { parent_asin: 'A6', title: '"&quot;X&quot;"', price: 1 },
    { parent_asin: 'A7', title: 'Seven', price: 'None' },
    { parent_asin: 'A8', title: 'Eight', price: '$5' },
    { parent_asin: 'A9', title: ' &quot;Beta&quot; &amp; Gamma ', price: ' 3 ' },
    {
      parent_asin: 'A10', title: 'Delta&nbsp;Drum <b>Kit</b>\n2', price: '1e3', description: ['first', 'second', 'first'],
      store: '  Acme &amp; Sons ', categories: ['Toys', 'Drums &amp; Co'], average_rating: 4.5, rating_number: 12,
    },
    { parent_asin: 'A11', title: 'Epsilon', price: 5 },
    { parent_asin: 'A12', title: 'Zeta', price: 'inf' },
    { parent_asin: 'A13', title: words20, price: 2 },
  ];
  const u5 = ['A13', 'A1', 'A9', 'A10', 'A13', 'A1', 'A9'].map(
    (a, k) => ['u5', a, [5, 4, 3, 2, 1, 2, 3][k], ms(`2023-04-0${k + 1}T00:00:00Z`)] as const,
  );
  const reviews: (readonly [string, string, number | string, number])[] = [
    ['u1', 'A1', 5, ms('2022-10-01T00:00:00Z')], // r1: start bound, inclusive
    ['u2', 'A9', 4, ms('2022-11-05T10:00:00Z')], // r2
    ['u1', 'A10', 3, ms('2022-12-01T00:00:00Z')], // r3
    ['u1', 'A9', 4, ms('2022-12-01T00:00:00Z')], // r4: same time as r3, file order kept
    ['u3', 'A2', 5, ms('2023-01-01T00:00:00Z')], // r5: item filtered out
    ['u3', 'ZZZ', 5, ms('2023-01-01T00:00:00Z')], // r6: not in metadata
    ['u2', 'A1', 2, ms('2023-10-01T00:00:00Z')], // r7: end bound, inclusive
    ['u2', 'A12', 1, ms('2023-10-01T00:00:00.001Z')], // r8: after the end
    ['u4', 'A11', 3, ms('2021-03-01T00:00:00Z')], // r9: earliest review (year 2021)
    ['u3', 'A13', 5, ms('2023-02-01T00:00:00Z')], // r10
    ['u3', 'A1', 4, ms('2023-03-01T00:00:00Z')], // r11
    ['u4', 'A12', 2, ms('2022-08-15T00:00:00Z')], // r12: inside only after one roll-back
    ['u4', 'A9', 5, ms('2023-05-01T00:00:00Z')], // r13
    ['u1', 'A1', 'abc', ms('2023-05-01T00:00:00Z')], // r14: rating not a number
    ...u5,
  ];
  const csv = 'user_id,parent_asin,rating,timestamp\n' + reviews.map((r) => r.join(',')).join('\n') + '\n';
  const jsonl = meta.map((m) => JSON.stringify(m)).join('\n') + '\n';
  const dir = tmpDir();
  writeFileSync(join(dir, 'Toys_Test.csv'), csv);
  writeFileSync(join(dir, 'meta_Toys_Test.jsonl'), jsonl);
  const gzDir = tmpDir();
  writeFileSync(join(gzDir, 'Toys_Test.csv.gz'), gzipSync(csv));
  writeFileSync(join(gzDir, 'meta_Toys_Test.jsonl.gz'), gzipSync(jsonl));

  test('item filter, window bounds, ids, users, samples and split', async () => {
    const ds = await readAmazon2023(dir, { category: 'Toys_Test', window: 3, minItems: 1 });
    checkInvariants(ds);
    // survivors of the filter: A1 A9 A10 A11 A12 A13; in the window: A1 A9 A10 A13, numbered in metadata order
    assert.deepEqual(ds.items.map((i) => i.externalId), ['', 'A1', 'A9', 'A10', 'A13']);
    assert.equal(ds.items[2].title, 'Beta" & Gamma');
    assert.equal(ds.items[2].price, 3);
    assert.deepEqual(
      { ...ds.items[3] },
      {
        id: 3, externalId: 'A10', title: 'Delta Drum Kit 2', description: 'second first', categories: ['Toys', 'Drums &amp; Co'],
        brand: 'Acme & Sons', averageRating: 4.5, ratingCount: 12, price: 1000,
      },
    );
    assert.equal(ds.items[4].title, words20); // exactly 20 words passes
    assert.deepEqual(ds.users, ['u1', 'u2', 'u3', 'u4', 'u5']);
    assert.equal(ds.interactions.length, 15); // r1 r2 r3 r4 r7 r10 r11 r13 + 7 of u5
    assert.deepEqual(ds.provenance.dropped, {
      'item: title missing or null': 2,
      'item: title contains "<span id"': 1,
      'item: title longer than 20 words': 1,
      'item: title at most 1 character': 1,
      'item: price not parseable by float()': 2,
      'item: passed the item filter but has no review in the window': 2,
      'review: rating not a number': 1,
      'review: item removed by the item filter': 1,
      'review: item not in metadata': 1,
      'review: outside the time window': 3,
    });
    // u1: r1, r3, r4 (tie kept in file order) → two samples
    const u1 = sequences(ds).get(0)!;
    assert.deepEqual(u1.map((i) => i.item), [1, 3, 2]);
    assert.equal(u1[0].timestamp, Date.UTC(2022, 9, 1) / 1000);
    const { train, valid, test: tst } = ds.samples;
    assert.deepEqual([train.length, valid.length, tst.length], [8, 1, 1]); // 10 samples: int(8.0), int(9.0)
    const tgt = (s: Sample) => `${ds.users[s.user]}:${ds.items[s.target.item].externalId}`;
    assert.deepEqual(train.map(tgt), ['u1:A10', 'u1:A9', 'u3:A1', 'u5:A1', 'u5:A9', 'u5:A10', 'u5:A13', 'u5:A1']);
    assert.deepEqual(valid.map(tgt), ['u5:A9']);
    assert.deepEqual(tst.map(tgt), ['u2:A1']);
    // W = 3: u5's last sample sees positions 4..6 (A10, A13, A1)
    assert.deepEqual(valid[0].history.map((h) => ds.items[h.item].externalId), ['A10', 'A13', 'A1']);
    assert.deepEqual(train[1].history.map((h) => h.item), [1, 3]);
    assert.equal(ds.domain.plural, 'toys test');
    assert.equal(ds.provenance.files.length, 2);
    assert.equal(ds.provenance.files[0].sha256, createHash('sha256').update(csv).digest('hex'));
    assert.equal(ds.provenance.files[0].bytes, Buffer.byteLength(csv));
    assert.equal(ds.provenance.options.effectiveStart, '2022-10');
  });

  test('.gz files give the same dataset', async () => {
    const a = await readAmazon2023(dir, { category: 'Toys_Test', window: 3, minItems: 1 });
    const b = await readAmazon2023(gzDir, { category: 'Toys_Test', window: 3, minItems: 1 });
    assert.deepEqual(b.items, a.items);
    assert.deepEqual(b.samples, a.samples);
    assert.deepEqual(b.provenance.dropped, a.provenance.dropped);
  });

  test('roll-back: fewer than minItems items moves the start back 3 months while start year > earliest year', async () => {
    // from 2022-10 the window has 4 items < 5 and 2022 > 2021 → 2022-07, which adds A12 (r12) → 5 items, stop
    const ds = await readAmazon2023(dir, { category: 'Toys_Test', window: 3, minItems: 5 });
    assert.equal(ds.provenance.options.effectiveStart, '2022-07');
    assert.deepEqual(ds.items.map((i) => i.externalId), ['', 'A1', 'A9', 'A10', 'A12', 'A13']);
    assert.equal(ds.provenance.dropped['review: outside the time window'], 2);
    assert.equal(ds.interactions.length, 16);
    assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 11);
    assert.equal(ds.items[4].price, undefined); // float('inf') passes the filter but is not stored
    // unreachable threshold: rolls back to 2021-10 (start year 2021 == earliest year 2021) and stops there
    const far = await readAmazon2023(dir, { category: 'Toys_Test', window: 3, minItems: 1000 });
    assert.equal(far.provenance.options.effectiveStart, '2021-10');
    assert.ok(far.provenance.notes.some((n) => n.includes('already equals the earliest review year 2021')));
  });

  test('iterative K-core', async () => {
    // K=2: u4 has one review in the window (r13) → removed; every item keeps ≥ 2 → stable after one pass
    const ds = await readAmazon2023(dir, { category: 'Toys_Test', window: 3, minItems: 1, kCore: 2 });
    assert.deepEqual(ds.users, ['u1', 'u2', 'u3', 'u5']);
    assert.equal(ds.provenance.dropped['review: removed by the 2-core filter'], 1);
    assert.equal(ds.interactions.length, 14);
  });

  test('prompt words per spec §2', () => {
    assert.deepEqual(amazonDomain('Video_Games'), { singular: 'video game', plural: 'video games', verb: 'purchase' });
    assert.deepEqual(amazonDomain('CDs_and_Vinyl'), { singular: 'CD or vinyl', plural: 'CDs and vinyl', verb: 'purchase' });
    assert.deepEqual(amazonDomain('Musical_Instruments'), { singular: 'musical instrument', plural: 'musical instruments', verb: 'purchase' });
    assert.deepEqual(amazonDomain('Toys_and_Games'), { singular: 'toy or game', plural: 'toys and games', verb: 'purchase' });
    assert.equal(amazonDomain('Cell_Phones_and_Accessories').singular, 'cell phone or accessory');
  });
});

describe('D3 CDs_and_Vinyl (real files)', () => {
  const dir = join(DATA, 'amazon2018-CDs_and_Vinyl-D3');
  let loaded: Promise<{ ds: Dataset; ms: number }> | undefined;
  const load = () => (loaded ??= (async () => {
    const t0 = Date.now();
    const ds = await readD3(dir);
    return { ds, ms: Date.now() - t0 };
  })());
  dataTest('rebuilt log: 25,694 events, 2,991 users, 5,841 catalog items, split of the rebuilt samples', [REAL.cds], async (t) => {
    const { ds, ms } = await load();
    t.diagnostic(`D3 load: ${ms} ms`); // speed is reported, not asserted (tests never fail on timing)
    checkInvariants(ds);
    assert.equal(ds.interactions.length, 25694); // data/README: distinct (user, item, timestamp, rating) events
    assert.equal(ds.users.length, 2991);
    assert.equal(ds.items.length - 1, 5841);
    assert.equal(ds.window, 10);
    const n = 25694 - 2991; // every user has ≥ 2 events (a history and a target)
    assert.deepEqual(
      [ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length],
      [Math.floor(n * 0.8), Math.floor(n * 0.9) - Math.floor(n * 0.8), n - Math.floor(n * 0.9)],
    );
    // info line "Greatest Hits, Vol. 2<TAB>0" → our id 1; the 29 HTML-junk titles are kept
    assert.equal(ds.items[1].title, 'Greatest Hits, Vol. 2');
    assert.equal(ds.items.filter((i) => i.title.startsWith('<span class="a-size-medium')).length, 29);
    assert.deepEqual(ds.domain, amazonDomain('CDs_and_Vinyl'));
    assert.equal(ds.provenance.files.length, 3);
  });
  dataTest("a user's same-day events keep D3's history order", [REAL.cds], async () => {
    const { ds } = await load();
    // valid row 2 of A3KWI8FRECW7QE: history ids [5198, 3227, 1381], target 4316, all at 1504656000
    const u = ds.users.indexOf('A3KWI8FRECW7QE');
    const seq = sequences(ds).get(u)!.map((i) => i.item);
    const at = seq.indexOf(5199);
    assert.deepEqual(seq.slice(at, at + 4), [5199, 3228, 1382, 4317]);
    assert.equal(ds.items[5199].externalId, 'B000000BRY');
  });
  dataTest('window option', [REAL.cds], async () => {
    const ds = await readD3(dir, { window: 1 });
    assert.ok([...ds.samples.train, ...ds.samples.test].every((s) => s.history.length === 1));
  });
});

describe('D3 fixture with a train split', () => {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const header = 'user_id,item_asins,item_asin,history_item_id,item_id,history_item_title,item_title,history_rating,rating,history_timestamp,timestamp';
  const titles = ['Hello, "World"', "Don't", 'C', 'D', 'E', 'F'];
  const row = (user: string, hist: number[], target: number, ts: number[], tts: number) =>
    [
      user, q(`[${hist.map((h) => `'X${h}'`).join(', ')}]`), `X${target}`, q(`[${hist.join(', ')}]`), String(target),
      q(`[${hist.map((h) => JSON.stringify(titles[h])).join(', ')}]`), q(titles[target]),
      q(`[${hist.map((h) => `${1 + (h % 5)}.0`).join(', ')}]`), `${1 + (target % 5)}.0`, q(`[${ts.join(', ')}]`), String(tts),
    ].join(',');
  const dir = tmpDir();
  for (const s of ['info', 'train', 'valid', 'test']) mkdirSync(join(dir, s));
  writeFileSync(join(dir, 'info', 'Toys_and_Games_5_2016-10-2018-11.txt'), titles.map((t, k) => `${t}\t${k}\n`).join(''));
  const f = (s: string) => join(dir, s, 'Toys_and_Games_5_2016-10-2018-11.csv');
  // U1: 0,1 (same time), 2, 3; U2: 4 → 5. U1's items 0 and 1 share a timestamp; D3 put 1 before 0.
  writeFileSync(f('train'), [header, row('U1', [1], 0, [100], 100), row('U1', [1, 0], 2, [100, 100], 200)].join('\n') + '\n');
  writeFileSync(f('valid'), [header, row('U1', [1, 0, 2], 3, [100, 100, 200], 300)].join('\n') + '\n');
  writeFileSync(f('test'), [header, row('U2', [4], 5, [50], 400)].join('\n') + '\n');

  test('events deduplicated across the three splits, D3 order of ties kept, titles with quotes parsed', async () => {
    const ds = await readD3(dir);
    checkInvariants(ds);
    assert.equal(ds.interactions.length, 6);
    assert.equal(ds.provenance.dropped['event: repeat of an event already read from another row (deduplicated)'], 2 + 3);
    assert.deepEqual(ds.users, ['U1', 'U2']);
    assert.deepEqual(sequences(ds).get(0)!.map((i) => i.item), [2, 1, 3, 4]);
    assert.equal(ds.items[1].title, 'Hello, "World"');
    assert.equal(ds.items[1].externalId, 'X0');
    assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 4);
    assert.deepEqual(ds.provenance.options.splits, ['train', 'valid', 'test']);
    assert.deepEqual(ds.domain, { singular: 'toy or game', plural: 'toys and games', verb: 'purchase' });
  });
});

describe('MovieLens', () => {
  dataTest('ml-100k RecBole: counts, split sizes, ties kept in file order (no target leak), load time', [REAL.ml100k], async (t) => {
    const t0 = Date.now();
    const ds = await readMovieLens(join(DATA, 'ml-100k'));
    t.diagnostic(`ml-100k load: ${Date.now() - t0} ms`);
    checkInvariants(ds);
    assert.equal(ds.provenance.source, 'movielens-recbole');
    assert.equal(ds.users.length, 943);
    assert.equal(ds.items.length - 1, 1682);
    assert.equal(ds.interactions.length, 100000);
    assert.deepEqual([ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length], [79245, 9906, 9906]);
    assert.equal(ds.window, 20);
    assert.deepEqual(ds.domain, { singular: 'movie', plural: 'movies', verb: 'watch' });
    assert.deepEqual({ ...ds.items[1] }, { id: 1, externalId: '1', title: 'Toy Story', categories: ['Animation', "Children's", 'Comedy'], year: 1995 });
    assert.equal(ds.users[0], '1');
    // spec §1: a stable sort by timestamp in file order — equal timestamps keep the order of ml-100k.inter
    const fileLine = new Map<string, number>();
    readFileSync(join(DATA, 'ml-100k', 'ml-100k.inter'), 'utf8').split('\n').slice(1).forEach((line, k) => {
      const [u, i] = line.split('\t');
      if (u) fileLine.set(`${u}:${i}`, k);
    });
    const lineOf = (x: { user: number; item: number }) => fileLine.get(`${ds.users[x.user]}:${ds.items[x.item].externalId}`)!;
    let ties = 0;
    let idAscending = 0;
    for (const seq of sequences(ds).values()) {
      for (let i = 1; i < seq.length; i++) {
        assert.ok(seq[i - 1].timestamp <= seq[i].timestamp);
        if (seq[i - 1].timestamp === seq[i].timestamp) {
          ties++;
          assert.ok(lineOf(seq[i - 1]) < lineOf(seq[i]), 'equal timestamps in rating-file order');
          if (seq[i - 1].item < seq[i].item) idAscending++;
        }
      }
    }
    assert.ok(ties > 0);
    // an item-id tie-break would make every tied pair id-ascending (and leak the target); file order is ~random
    assert.ok(idAscending / ties > 0.4 && idAscending / ties < 0.6, `id-ascending share of tied pairs ${idAscending / ties}`);
    // the leak the issue found: test targets tied with their last history item must not all have the larger id
    const tiedTargets = ds.samples.test.filter((t) => t.history.length && t.history[t.history.length - 1].timestamp === t.target.timestamp);
    const larger = tiedTargets.filter((t) => t.target.item > t.history[t.history.length - 1].item).length;
    assert.ok(tiedTargets.length > 1000 && larger / tiedTargets.length < 0.6, `${larger} of ${tiedTargets.length} tied targets have the larger id`);
    assert.ok(ds.provenance.notes.some((n) => n.includes('75772 ratings share a (user, timestamp)')));
    // a sample's history is the previous ≤ 20 of its user's sequence
    const s = ds.samples.test[ds.samples.test.length - 1];
    const seq = sequences(ds).get(s.user)!;
    const pos = seq.indexOf(s.target);
    assert.deepEqual(s.history, seq.slice(Math.max(0, pos - 20), pos));
  });

  dataTest('ml-latest-small CSV: 671 users, 100,004 ratings, catalog = the 9,066 rated movies, titles split, tags', [REAL.mlLatest2016], async () => {
    const ds = await readMovieLens(join(DATA, 'ml-latest-small-2016'));
    checkInvariants(ds);
    assert.equal(ds.provenance.source, 'movielens-csv');
    assert.equal(ds.users.length, 671);
    assert.equal(ds.interactions.length, 100004);
    const n = 100004 - 671;
    assert.deepEqual(
      [ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length],
      [Math.floor(n * 0.8), Math.floor(n * 0.9) - Math.floor(n * 0.8), n - Math.floor(n * 0.9)],
    );
    assert.equal(ds.items.length - 1, 9066);
    assert.equal(ds.provenance.dropped['item: in the item file but never rated'], 9125 - 9066);
    const byExt = new Map(ds.items.map((i) => [i.externalId, i]));
    assert.deepEqual({ ...byExt.get('1') }, {
      id: 1, externalId: '1', title: 'Toy Story', categories: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
      year: 1995, tags: ['Pixar'],
    });
    // item-file order: ids ascend with movieId (movies.csv is sorted by movieId)
    for (let k = 2; k < ds.items.length; k++) assert.ok(Number(ds.items[k - 1].externalId) < Number(ds.items[k].externalId));
  });

  test('splitTitleYear', () => {
    assert.deepEqual(splitTitleYear('Toy Story (1995)'), { title: 'Toy Story', year: 1995 });
    assert.deepEqual(splitTitleYear('Big Bang Theory, The (2007-)'), { title: 'Big Bang Theory, The', year: 2007 });
    assert.deepEqual(splitTitleYear('Fawlty Towers (1975-1979)'), { title: 'Fawlty Towers', year: 1975 });
    assert.deepEqual(splitTitleYear('Hyena Road'), { title: 'Hyena Road' });
    assert.deepEqual(splitTitleYear('1984 (1984)'), { title: '1984', year: 1984 });
  });

  test('raw GroupLens ml-100k layout in a sub-folder (u.data, latin1 u.item, u.genre)', async () => {
    const root = tmpDir();
    const d = join(root, 'ml-100k');
    mkdirSync(d);
    const genres = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama',
      'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];
    writeFileSync(join(d, 'u.genre'), genres.map((g, k) => `${g}|${k}\n`).join('') + '\n');
    const flags = (on: number[]) => genres.map((_, k) => (on.includes(k) ? '1' : '0')).join('|');
    const uitem = [
      `1|Café Noir (1995)|01-Jan-1995||http://x|${flags([8, 10])}`,
      `2|unknown|||http://x|${flags([0])}`,
      `3|Three|01-Jan-1997||http://x|${flags([5])}`,
      `4|Never Rated (1990)|01-Jan-1990||http://x|${flags([1])}`,
    ].join('\n') + '\n';
    writeFileSync(join(d, 'u.item'), Buffer.from(uitem, 'latin1'));
    // user 10 rates 3 and 1 at the same time (file order 3, 1) → sequence 3, 1: ties keep file order (spec §1)
    writeFileSync(join(d, 'u.data'), ['10\t3\t4\t1000', '10\t1\t5\t1000', '10\t2\t3\t900', '7\t1\t2\t500', '7\t3\t1\t600'].join('\n') + '\n');
    const ds = await readMovieLens(root);
    checkInvariants(ds);
    assert.equal(ds.provenance.source, 'movielens-grouplens');
    assert.deepEqual(ds.users, ['7', '10']);
    assert.deepEqual(ds.items.slice(1).map((i) => [i.title, i.year, i.categories]), [
      ['Café Noir', 1995, ['Drama', 'Film-Noir']],
      ['unknown', undefined, ['unknown']],
      ['Three', 1997, ['Comedy']],
    ]);
    assert.equal(ds.provenance.dropped['item: in the item file but never rated'], 1);
    assert.deepEqual(sequences(ds).get(1)!.map((i) => i.item), [2, 3, 1]);
    assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 3);
  });
});

describe('GoodReads-SPRec (real files)', () => {
  const dir = join(DATA, 'goodreads-SPRec');
  dataTest('one pseudo-user and one sample per record, catalog of 4,058, the unknown title counted', [REAL.goodreads], async () => {
    const ds = await readGoodreads(dir);
    checkInvariants(ds);
    assert.equal(ds.users.length, 5000);
    assert.equal(ds.items.length - 1, 4058);
    assert.deepEqual([ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length], [4000, 500, 500]);
    // data/README: 4,028 of the 4,029 distinct titles are in name2id; the missing one ("It") occurs 10 times
    assert.deepEqual(ds.provenance.dropped, { 'history title not in name2id (title removed)': 10 });
    assert.equal(ds.interactions.length, 4999 * 11 + 6 - 10);
    const name2id = JSON.parse(readFileSync(join(dir, 'eval/name2id.json'), 'utf8'));
    const rec0 = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test].find((s) => ds.users[s.user] === 'train.json#0')!;
    assert.equal(rec0.target.item, name2id["Earth's End (Air Awakens, #3)"] + 1);
    assert.equal(rec0.history[0].item, name2id['The Wrath and the Dawn (The Wrath and the Dawn, #1)'] + 1);
    assert.deepEqual(rec0.history.map((h) => h.timestamp), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(rec0.target.timestamp, 10);
    assert.deepEqual(ds.domain, { singular: 'book', plural: 'books', verb: 'read' });
    assert.ok(ds.items[1].categories!.includes('young-adult'));
  });
  dataTest('the split is a seeded permutation of the records', [REAL.goodreads], async () => {
    const a = await readGoodreads(dir, { seed: 1 });
    const b = await readGoodreads(dir, { seed: 1 });
    const c = await readGoodreads(dir, { seed: 2 });
    const order = (ds: Dataset) => [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test].map((s) => s.user);
    assert.deepEqual(order(a), order(b));
    assert.notDeepEqual(order(a), order(c));
    assert.deepEqual([...order(a)].sort((x, y) => x - y), Array.from({ length: 5000 }, (_, k) => k));
  });
  test('promptTitles keeps quotes inside a title', () => {
    assert.deepEqual(promptTitles('before: "A Child Called "It" (Dave Pelzer #1)", "B", please'), ['A Child Called "It" (Dave Pelzer #1)', 'B']);
    assert.deepEqual(promptTitles('"Earth\'s End"\n'), ["Earth's End"]);
    assert.equal(promptTitles('no quotes'), undefined);
  });
});

// The readers of the real data layouts on small files the test writes (RecBole atomic files, GroupLens CSV with tags,
// SPRec GoodReads, D3 without a train split), through the registry and its cache, with the statistics: what the
// real-data tests check on ../shared/data, checked here without it (a fresh clone runs these; test/helpers/real-data.ts).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { availableDatasets, prepareDataset } from '../lib/data/registry';
import { datasetStats } from '../lib/data/stats';
import type { Dataset, Interaction } from '../lib/data/types';

let root: string;
before(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'r2ec-fixtures-'));
  process.env.R2EC_CACHE_DIR = path.join(root, '.cache');
  writeRecBole(path.join(root, 'ml-100k'));
  writeMovieLensCsv(path.join(root, 'ml-latest-small-2016'));
  writeD3(path.join(root, 'amazon2018-CDs_and_Vinyl-D3'));
  writeGoodreads(path.join(root, 'goodreads-SPRec'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** Each user's interactions in sequence order (train-period histories + targets), as item ids. */
function sequences(ds: Dataset): Map<number, number[]> {
  const out = new Map<number, Interaction[]>();
  for (const it of ds.interactions) {
    const l = out.get(it.user) ?? [];
    l.push(it);
    out.set(it.user, l);
  }
  return new Map([...out].map(([u, l]) => [u, l.map((i) => i.item)]));
}

/** The types.ts contract and spec §1 sample construction, for any reader's Dataset. */
function checkInvariants(ds: Dataset): void {
  assert.equal(ds.items[0].id, 0);
  ds.items.forEach((it, k) => assert.equal(it.id, k));
  const all = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test];
  for (const s of all) {
    assert.ok(s.history.length >= 1 && s.history.length <= ds.window, `sample ${s.index}: history length ${s.history.length}`);
    assert.ok(s.target.item >= 1 && s.target.item < ds.items.length);
    for (const h of s.history) assert.ok(h.timestamp <= s.target.timestamp, `sample ${s.index}: history after target`);
  }
  // sorted by target time: train before valid before test
  const t = (xs: typeof all) => xs.map((s) => s.target.timestamp);
  assert.ok(Math.max(...t(ds.samples.train)) <= Math.min(...t([...ds.samples.valid, ...ds.samples.test])));
}

// ---- RecBole atomic files (ml-100k in the shared data) ---------------------------------------------------------------

function writeRecBole(dir: string): void {
  mkdirSync(dir, { recursive: true });
  // 4 users × 3 ratings; user 1 rates items 3 and 1 at the same second, 3 first in the file
  const rows = [
    [1, 3, 4, 100], [2, 2, 5, 110], [1, 1, 3, 100], [3, 4, 2, 120], [4, 5, 4, 130], [2, 1, 1, 210],
    [3, 2, 5, 220], [4, 3, 3, 230], [1, 2, 2, 300], [2, 5, 4, 310], [3, 5, 4, 320], [4, 4, 1, 330],
  ];
  writeFileSync(
    path.join(dir, 'ml-100k.inter'),
    ['user_id:token\titem_id:token\trating:float\ttimestamp:float', ...rows.map((r) => r.join('\t'))].join('\n') + '\n',
  );
  const items = [[1, 'Toy Story', 1995, "Animation Children's Comedy"], [2, 'GoldenEye', 1995, 'Action Thriller'], [3, 'Four Rooms', 1995, 'Thriller'],
    [4, 'Get Shorty', 1995, 'Comedy Drama'], [5, 'Copycat', 1995, 'Crime Drama'], [6, 'Never Rated', 1996, 'Drama']];
  writeFileSync(
    path.join(dir, 'ml-100k.item'),
    ['item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq', ...items.map((r) => r.join('\t'))].join('\n') + '\n',
  );
}

test('RecBole atomic files: catalog, titles and genres, ties kept in file order, samples and split', async () => {
  const { dataset: ds } = await prepareDataset('ml-100k', { root });
  checkInvariants(ds);
  assert.equal(ds.provenance.source, 'movielens-recbole');
  assert.equal(ds.users.length, 4);
  assert.equal(ds.interactions.length, 12);
  // every rating after a user's first is a sample: 4 × 2 = 8, split 80/10/10 by target time → 6 / 1 / 1
  assert.deepEqual([ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length], [6, 1, 1]);
  const toy = ds.items.find((i) => i.externalId === '1')!;
  assert.equal(toy.title, 'Toy Story');
  assert.equal(toy.year, 1995);
  assert.deepEqual(toy.categories, ['Animation', "Children's", 'Comedy']);
  // user "1": items 3 and 1 share timestamp 100 and keep their file order (no tie-break by id)
  const u1 = ds.users.indexOf('1');
  const ext = (id: number) => ds.items[id].externalId;
  assert.deepEqual(sequences(ds).get(u1)!.map(ext), ['3', '1', '2']);
  const st = datasetStats(ds);
  assert.deepEqual([st.users, st.interactions, st.samples.total], [4, 12, 8]);
  assert.equal(st.historyLength.max, 2);
});

// ---- GroupLens CSV (ml-latest-small) --------------------------------------------------------------------------------

function writeMovieLensCsv(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'movies.csv'),
    'movieId,title,genres\n10,"American President, The (1995)",Comedy|Drama|Romance\n20,Heat (1995),Action|Crime\n' +
      '30,Unrated Film (2001),(no genres listed)\n40,Friends (1994-2004),Comedy\n50,No Year,Drama\n',
  );
  writeFileSync(
    path.join(dir, 'ratings.csv'),
    'userId,movieId,rating,timestamp\n1,10,4.5,1000\n1,20,3.0,1100\n1,40,2.5,1200\n2,20,5.0,1050\n2,50,0.5,1150\n2,10,4.0,1250\n',
  );
  writeFileSync(path.join(dir, 'tags.csv'), 'userId,movieId,tag,timestamp\n1,10,politics,1000\n2,10, politics ,1001\n2,20,heist,1002\n3,99,orphan,1003\n');
}

test('GroupLens CSV: catalog = rated movies, titles split from years, genres, distinct tags, orphan tag counted', async () => {
  const { dataset: ds } = await prepareDataset('ml-latest-small', { root });
  checkInvariants(ds);
  assert.equal(ds.provenance.source, 'movielens-csv');
  assert.equal(ds.users.length, 2);
  assert.equal(ds.interactions.length, 6);
  assert.equal(ds.items.length - 1, 4); // movie 30 is never rated: not in the catalog
  const byExt = new Map(ds.items.map((i) => [i.externalId, i]));
  assert.equal(byExt.get('10')!.title, 'American President, The');
  assert.equal(byExt.get('10')!.year, 1995);
  assert.deepEqual(byExt.get('10')!.tags, ['politics']);
  assert.deepEqual(byExt.get('20')!.categories, ['Action', 'Crime']);
  assert.equal(byExt.get('40')!.year, 1994);
  assert.equal(byExt.get('50')!.year, undefined);
  assert.ok(!byExt.has('30'));
  assert.equal(ds.provenance.dropped['tag: movie not in movies.csv'], 1);
  assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 4);
});

// ---- D3-processed Amazon without a train split (cds in the shared data) ----------------------------------------------

function writeD3(dir: string): void {
  const stem = 'CDs_and_Vinyl_5_2015-10-2018-11';
  for (const s of ['info', 'valid', 'test']) mkdirSync(path.join(dir, s), { recursive: true });
  const titles = ['Greatest Hits, Vol. 2', 'Kansas', 'Point of Know Return', 'Monolith', 'Leftoverture'];
  writeFileSync(path.join(dir, 'info', `${stem}.txt`), titles.map((t, k) => `${t}\t${k}\n`).join(''));
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const header = 'user_id,item_asins,item_asin,history_item_id,item_id,history_item_title,item_title,history_rating,rating,history_timestamp,timestamp';
  const row = (user: string, hist: number[], target: number, ts: number[], tts: number) =>
    [
      user, q(`[${hist.map((h) => `'A${h}'`).join(', ')}]`), `A${target}`, q(`[${hist.join(', ')}]`), String(target),
      q(`[${hist.map((h) => JSON.stringify(titles[h])).join(', ')}]`), q(titles[target]),
      q(`[${hist.map(() => '5.0').join(', ')}]`), '5.0', q(`[${ts.join(', ')}]`), String(tts), // one rating per event
    ].join(',');
  // U1: 0 → 1 → 2 → 3 (valid holds its 3rd item, test its 4th); U2: 4 → 1 (test)
  writeFileSync(path.join(dir, 'valid', `${stem}.csv`), [header, row('U1', [0, 1], 2, [10, 20], 30)].join('\n') + '\n');
  writeFileSync(path.join(dir, 'test', `${stem}.csv`), [header, row('U1', [0, 1, 2], 3, [10, 20, 30], 40), row('U2', [4], 1, [15], 45)].join('\n') + '\n');
}

test('D3 without a train split: the event log is rebuilt from the histories, samples re-made and re-split', async () => {
  const { dataset: ds } = await prepareDataset('cds', { root });
  checkInvariants(ds);
  assert.deepEqual(ds.users, ['U1', 'U2']);
  assert.equal(ds.items.length - 1, 5);
  assert.equal(ds.items[1].title, 'Greatest Hits, Vol. 2'); // D3 id 0 → our id 1
  // distinct events: U1 has 4, U2 has 2 → samples = 6 − 2 users = 4
  assert.equal(ds.interactions.length, 6);
  assert.deepEqual(sequences(ds).get(0), [1, 2, 3, 4]);
  assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 4);
});

// ---- GoodReads (SPRec prompt format) --------------------------------------------------------------------------------

function writeGoodreads(dir: string): void {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  mkdirSync(path.join(dir, 'eval'), { recursive: true });
  const titles = ['Dune', 'A Child Called "It"', 'Emma', 'Ulysses', 'Beloved'];
  writeFileSync(path.join(dir, 'eval', 'id2name.json'), JSON.stringify(Object.fromEntries(titles.map((t, k) => [String(k), t]))));
  writeFileSync(path.join(dir, 'eval', 'name2id.json'), JSON.stringify(Object.fromEntries(titles.map((t, k) => [t, k]))));
  writeFileSync(path.join(dir, 'eval', 'name2genre.json'), JSON.stringify({ Dune: ['fiction'], Emma: ['romance', 'fiction'] }));
  const rec = (hist: string[], target: string) => ({
    instruction: 'Given a list of books the user recently enjoys, please recommend a new books that the user may like',
    input: `The user has played the following books before: ${hist.map((h) => `"${h}"`).join(', ')}, please write a new books that the user may bought`,
    output: `"${target}"\n`,
  });
  const records = [
    rec(['Dune', 'Emma'], 'Ulysses'), rec(['A Child Called "It"'], 'Beloved'), rec(['Ulysses', 'Not In Catalog'], 'Dune'),
    rec(['Beloved', 'Dune', 'Emma'], 'A Child Called "It"'), rec(['Emma'], 'Dune'),
    rec(['Dune'], 'Emma'), rec(['Ulysses'], 'Beloved'), rec(['Beloved'], 'Ulysses'), rec(['Emma', 'Ulysses'], 'Beloved'), rec(['Dune'], 'Ulysses'),
  ];
  writeFileSync(path.join(dir, 'data', 'train.json'), JSON.stringify(records, null, 4));
}

test('GoodReads SPRec: one pseudo-user per record, quoted titles with quotes, unknown titles counted, seeded split', async () => {
  const { dataset: ds } = await prepareDataset('goodreads', { root });
  assert.equal(ds.users.length, 10);
  assert.equal(ds.items.length - 1, 5);
  assert.deepEqual([ds.samples.train.length, ds.samples.valid.length, ds.samples.test.length], [8, 1, 1]);
  assert.deepEqual(ds.provenance.dropped, { 'history title not in name2id (title removed)': 1 });
  const r1 = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test].find((s) => ds.users[s.user] === 'train.json#1')!;
  assert.equal(ds.items[r1.history[0].item].title, 'A Child Called "It"');
  assert.equal(ds.items[r1.target.item].title, 'Beloved');
  assert.deepEqual(ds.items[3].categories, ['romance', 'fiction']); // Emma (SPRec id 2 → our id 3)
  // the split is a seeded permutation of the records
  const order = (d: Dataset) => [...d.samples.train, ...d.samples.valid, ...d.samples.test].map((s) => s.user);
  const other = (await prepareDataset('goodreads', { root, seed: 2 })).dataset;
  assert.notDeepEqual(order(other), order(ds));
  assert.deepEqual([...order(ds)].sort((a, b) => a - b), Array.from({ length: 10 }, (_, k) => k));
});

// ---- the registry and its cache on these folders ---------------------------------------------------------------------

test('registry: every layout here is found; a second load comes from the cache and is deep-equal', async () => {
  assert.deepEqual(availableDatasets(root).map((e) => e.name), ['ml-100k', 'ml-latest-small', 'cds', 'goodreads', 'synthetic']);
  for (const name of ['ml-100k', 'ml-latest-small', 'cds', 'goodreads']) {
    const first = await prepareDataset(name, { root });
    const again = await prepareDataset(name, { root });
    assert.equal(again.cacheHit, true, name);
    assert.deepStrictEqual(again.dataset, first.dataset, name);
  }
});

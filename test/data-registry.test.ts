// Registry (names, folders, errors, options), processed-data cache (keys, reload, corruption) and dataset statistics.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cachePath, deserializeDataset, serializeDataset } from '../lib/data/cache';
import {
  availableDatasets,
  dataRoot,
  defaultDataset,
  loadDataset,
  prepareDataset,
} from '../lib/data/registry';
import { datasetStats, histogram } from '../lib/data/stats';
import { generateSynthetic } from '../lib/data/synthetic';
import { padItem, type Dataset, type Interaction, type Sample } from '../lib/data/types';
import { ConfigError, R2ecError } from '../lib/util/errors';
import { ALL_REAL, DATA_ROOT, REAL, dataTest } from './helpers/real-data';

// the shared real data (tests that read it are dataTests: skipped with a reason when it is absent, CI fails instead)
const SHARED = DATA_ROOT;
let tmp: string;

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'r2ec-registry-'));
  process.env.R2EC_CACHE_DIR = path.join(tmp, 'cache');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny raw-GroupLens ml-100k folder: 3 users, 4 items, 9 ratings. */
function writeTinyMl100k(root: string): string {
  const dir = path.join(root, 'ml-100k');
  mkdirSync(dir, { recursive: true });
  const rows = [
    [1, 1, 5, 100], [1, 2, 3, 200], [1, 3, 4, 300],
    [2, 2, 2, 150], [2, 4, 5, 250], [2, 1, 1, 350],
    [3, 3, 4, 400], [3, 4, 3, 500], [3, 2, 5, 600],
  ];
  writeFileSync(path.join(dir, 'u.data'), rows.map((r) => r.join('\t')).join('\n') + '\n');
  const g = (on: number) => Array.from({ length: 19 }, (_, k) => (k === on ? 1 : 0)).join('|');
  writeFileSync(
    path.join(dir, 'u.item'),
    ['Alpha (1990)', 'Beta (1991)', 'Gamma (1992)', 'Delta (1993)']
      .map((t, i) => `${i + 1}|${t}|01-Jan-1990||http://example.org/${i + 1}|${g(i + 1)}`)
      .join('\n') + '\n',
  );
  return dir;
}

// --- registry ----------------------------------------------------------------------------------------------------
test('dataRoot: R2EC_DATA_DIR resolved against cwd, else ./data', () => {
  const saved = process.env.R2EC_DATA_DIR;
  try {
    process.env.R2EC_DATA_DIR = 'some/where';
    assert.equal(dataRoot(), path.resolve(process.cwd(), 'some/where'));
    delete process.env.R2EC_DATA_DIR;
    assert.equal(dataRoot(), path.resolve(process.cwd(), 'data'));
  } finally {
    if (saved === undefined) delete process.env.R2EC_DATA_DIR;
    else process.env.R2EC_DATA_DIR = saved;
  }
});

dataTest('availableDatasets lists the shared data with its folders and readers, plus synthetic', ALL_REAL, () => {
  assert.deepEqual(availableDatasets(SHARED), [
    { name: 'ml-100k', dir: path.join(SHARED, 'ml-100k'), reader: 'movielens' },
    { name: 'ml-latest-small', dir: path.join(SHARED, 'ml-latest-small-2016'), reader: 'movielens' },
    { name: 'cds', dir: path.join(SHARED, 'amazon2018-CDs_and_Vinyl-D3'), reader: 'd3' },
    { name: 'goodreads', dir: path.join(SHARED, 'goodreads-SPRec'), reader: 'goodreads' },
    { name: 'synthetic', dir: '', reader: 'synthetic' },
  ]);
  assert.equal(defaultDataset(SHARED), 'ml-100k');
});

test('availableDatasets: only complete folders count; Amazon 2023 categories are discovered', () => {
  const root = path.join(tmp, 'root-list');
  writeTinyMl100k(root);
  mkdirSync(path.join(root, 'amazon2023-Foo'), { recursive: true });
  writeFileSync(path.join(root, 'amazon2023-Foo', 'Foo.csv.gz'), '');
  writeFileSync(path.join(root, 'amazon2023-Foo', 'meta_Foo.jsonl'), '');
  mkdirSync(path.join(root, 'amazon2023-Bar'));
  writeFileSync(path.join(root, 'amazon2023-Bar', 'Bar.csv.gz'), ''); // metadata missing
  mkdirSync(path.join(root, 'ml-latest-small')); // empty
  assert.deepEqual(
    availableDatasets(root).map((e) => `${e.name}:${e.reader}`),
    ['ml-100k:movielens', 'amazon2023-Foo:amazon2023', 'synthetic:synthetic'],
  );
  const empty = path.join(tmp, 'root-empty');
  mkdirSync(empty);
  assert.equal(defaultDataset(empty), 'synthetic');
  assert.equal(defaultDataset(path.join(tmp, 'does-not-exist')), 'synthetic');
});

function assertOneLineError(err: unknown, ...patterns: RegExp[]): true {
  assert.ok(err instanceof R2ecError, `not an R2ecError: ${String(err)}`);
  assert.ok(!err.message.includes('\n'), 'one line');
  for (const p of patterns) assert.match(err.message, p);
  return true;
}

test('unknown or absent datasets give one clear error listing what is available', async () => {
  const fixture = path.join(tmp, 'root-listing');
  writeTinyMl100k(fixture);
  await assert.rejects(loadDataset('ml-1m', { root: fixture }), (e) =>
    assertOneLineError(e, /unknown dataset "ml-1m"/, /available: ml-100k, synthetic;/, /R2EC_DATA_DIR/, /r2ec data download <name>/),
  );
  const empty = path.join(tmp, 'root-empty2');
  mkdirSync(empty);
  await assert.rejects(loadDataset('ml-100k', { root: empty }), (e) =>
    assertOneLineError(e, /dataset "ml-100k" not found in data root .*root-empty2 \(expected folder ml-100k\/\)/, /available: synthetic;/, /`r2ec data download ml-100k`/),
  );
  await assert.rejects(loadDataset('cds', { root: path.join(tmp, 'nope') }), (e) =>
    assertOneLineError(e, /data root .*nope does not exist/, /R2EC_DATA_DIR/),
  );
  await assert.rejects(loadDataset('amazon2023-Video_Games', { root: empty }), (e) =>
    assertOneLineError(e, /expected folder amazon2023-Video_Games\/ with Video_Games\.csv\.gz and meta_Video_Games\.jsonl\.gz/),
  );
});

test('options: unknown keys and options a reader does not take are ConfigErrors', async () => {
  const root = path.join(tmp, 'root-options');
  writeTinyMl100k(root);
  mkdirSync(path.join(root, 'goodreads-SPRec', 'data'), { recursive: true }); // present (options are checked before reading)
  writeFileSync(path.join(root, 'goodreads-SPRec', 'data', 'train.json'), '[]');
  await assert.rejects(loadDataset('synthetic', { colour: 'red' } as never), (e) => e instanceof ConfigError && /data\.colour.*unknown/.test(e.message));
  await assert.rejects(loadDataset('ml-100k', { root, kCore: 5 }), (e) => e instanceof ConfigError && /data\.kCore.*does not apply to dataset ml-100k/.test(e.message));
  await assert.rejects(loadDataset('ml-100k', { root, window: 0 }), ConfigError);
  await assert.rejects(loadDataset('goodreads', { root, window: 10 }), /goodreads reader takes: seed/);
});

test('synthetic through the registry equals the generator', async () => {
  const opts = { users: 40, items: 50, minPerUser: 5, maxPerUser: 12, seed: 3 };
  const p = await prepareDataset('synthetic', opts);
  assert.equal(p.cachePath, '');
  assert.deepStrictEqual(p.dataset, generateSynthetic(opts));
  assert.equal(p.dataset.name, 'synthetic');
});

// --- cache -------------------------------------------------------------------------------------------------------
test('cache: reload is deep-equal, histories share interactions, keys follow options and file content', async () => {
  const root = path.join(tmp, 'root-cache');
  const dir = writeTinyMl100k(root);
  const fresh = await prepareDataset('ml-100k', { root });
  assert.equal(fresh.cacheHit, false);
  assert.ok(existsSync(fresh.cachePath));
  assert.equal(fresh.cachePath, cachePath('ml-100k', fresh.dataset.provenance.key));
  assert.match(fresh.dataset.provenance.key, /^[0-9a-f]{32}$/);
  const again = await prepareDataset('ml-100k', { root });
  assert.equal(again.cacheHit, true);
  assert.deepStrictEqual(again.dataset, fresh.dataset);
  const pool = new Set<Interaction>(again.dataset.interactions);
  const all = [...again.dataset.samples.train, ...again.dataset.samples.valid, ...again.dataset.samples.test];
  assert.ok(all.every((s) => pool.has(s.target) && s.history.every((h) => pool.has(h))), 'shared Interaction objects');
  assert.equal(all.length, 9 - 3);

  // another option → another key and file
  const w1 = await prepareDataset('ml-100k', { root, window: 1 });
  assert.notEqual(w1.dataset.provenance.key, fresh.dataset.provenance.key);
  assert.notEqual(w1.cachePath, fresh.cachePath);
  assert.ok(w1.dataset.samples.train.every((s) => s.history.length === 1));

  // a touched but unchanged file keeps the key (content-addressed); changed content changes it
  utimesSync(path.join(dir, 'u.data'), new Date(), new Date(Date.now() + 5000));
  const touched = await prepareDataset('ml-100k', { root });
  assert.equal(touched.cacheHit, true);
  assert.equal(touched.dataset.provenance.key, fresh.dataset.provenance.key);
  appendFileSync(path.join(dir, 'u.data'), '3\t1\t2\t700\n');
  const changed = await prepareDataset('ml-100k', { root });
  assert.equal(changed.cacheHit, false);
  assert.notEqual(changed.dataset.provenance.key, fresh.dataset.provenance.key);
  assert.equal(changed.dataset.interactions.length, 10);

  // cache: false neither reads nor writes
  rmSync(changed.cachePath);
  const nocache = await prepareDataset('ml-100k', { root, cache: false });
  assert.equal(nocache.cacheHit, false);
  assert.ok(!existsSync(changed.cachePath));
  assert.deepStrictEqual(nocache.dataset, changed.dataset);
});

test('cache: a corrupt file is discarded with a warning and rebuilt', async () => {
  const root = path.join(tmp, 'root-corrupt');
  writeTinyMl100k(root);
  // window 3: a key of its own (the same fixture content under another root would share the first test's key)
  const fresh = await prepareDataset('ml-100k', { root, window: 3 });
  assert.equal(fresh.cacheHit, false);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    for (const damage of [
      (b: Buffer) => b.subarray(0, b.length - 7), // truncated
      (b: Buffer) => { const c = Buffer.from(b); c[c.length - 5] ^= 0xff; return c; }, // bit rot in the columns
      () => Buffer.from('not a cache file at all'),
    ]) {
      writeFileSync(fresh.cachePath, damage(readFileSync(fresh.cachePath)));
      const re = await prepareDataset('ml-100k', { root, window: 3 });
      assert.equal(re.cacheHit, false);
      assert.deepStrictEqual(re.dataset, fresh.dataset);
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(warnings.length, 3);
  assert.match(warnings[0], /discarding corrupt dataset cache .*binary part has/);
  assert.match(warnings[1], /checksum mismatch/);
  assert.match(warnings[2], /not an r2ec dataset cache file/);
  assert.equal((await prepareDataset('ml-100k', { root, window: 3 })).cacheHit, true);
});

test('serialisation keeps separately built history objects (matched by value) and history-only events', () => {
  const ev = (user: number, item: number, timestamp: number, rating = 4): Interaction => ({ user, item, rating, timestamp });
  const interactions = [ev(0, 1, 10), ev(0, 2, 20), ev(0, 3, 30), ev(1, 2, 15), ev(1, 1, 25)];
  // histories built as copies; one history holds an event that is not in `interactions`
  const s = (index: number, user: number, history: Interaction[], target: Interaction): Sample => ({ index, user, history, target });
  const ds: Dataset = {
    name: 'tiny',
    domain: { singular: 'thing', plural: 'things', verb: 'buy' },
    items: [padItem(), { id: 1, externalId: 'a', title: 'A' }, { id: 2, externalId: 'b', title: 'B', price: 2 }, { id: 3, externalId: 'c', title: 'C', tags: ['x'] }],
    users: ['u0', 'u1'],
    interactions,
    samples: {
      train: [s(0, 0, [{ ...interactions[0] }], interactions[1]), s(1, 1, [ev(1, 3, 5, 2), { ...interactions[3] }], interactions[4])],
      valid: [s(2, 0, [interactions[1], interactions[0]], interactions[2])], // not in ascending order
      test: [],
    },
    window: 20,
    provenance: { source: 'hand', files: [], options: {}, dropped: { x: 1 }, notes: ['n'], synthetic: false, key: 'k' },
  };
  const back = deserializeDataset(serializeDataset(ds));
  assert.deepStrictEqual(back, ds);
  assert.equal(back.samples.train[0].history[0], back.interactions[0], 'value-matched copy becomes the shared object');
  const syn = generateSynthetic({ users: 30, items: 40, minPerUser: 5, maxPerUser: 10 });
  assert.deepStrictEqual(deserializeDataset(serializeDataset(syn)), syn);
});

dataTest('ml-100k: reload from cache equals the fresh read', [REAL.ml100k], async () => {
  const fresh = await prepareDataset('ml-100k', { root: SHARED });
  const t0 = process.hrtime.bigint();
  const again = await prepareDataset('ml-100k', { root: SHARED });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(again.cacheHit, true);
  console.log(`# ml-100k reload from cache: ${ms.toFixed(0)} ms (${readFileSync(again.cachePath).length} bytes)`);
  assert.deepStrictEqual(again.dataset, fresh.dataset);
  const st = datasetStats(again.dataset);
  assert.equal(st.users, 943);
  assert.equal(st.items, 1682);
  assert.equal(st.interactions, 100000);
  assert.equal(st.samples.train + st.samples.valid + st.samples.test, 99057);
  assert.equal(st.samples.total, 99057);
  assert.equal(st.samples.train, Math.floor(99057 * 0.8));
  assert.deepEqual(st.ratings, { 1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201 });
  assert.deepEqual(st.timeSpan.start, '1997-09-20');
  assert.deepEqual(st.timeSpan.end, '1998-04-22');
  assert.equal(st.interactionsPerUser.min, 20);
  assert.equal(st.interactionsPerUser.max, 737);
  assert.equal(st.historyLength.histogram.find((b) => b.from === 1)!.count, 943); // every user's 2nd interaction
  assert.equal(st.historyLength.max, 20);
});

// --- statistics --------------------------------------------------------------------------------------------------
test('datasetStats on a hand-built dataset', () => {
  const D = 86400;
  const ev = (user: number, item: number, day: number, rating: number): Interaction => ({ user, item, rating, timestamp: 1_600_000_000 + day * D });
  const a = [ev(0, 1, 0, 5), ev(0, 2, 1, 4), ev(0, 3, 2, 3)];
  const b = [ev(1, 2, 0.5, 2), ev(1, 1, 1.5, 4), ev(1, 4, 10, 5)];
  const c = [ev(2, 1, 11, 1), ev(2, 3, 12, 4)];
  const d = [ev(3, 5, 13, 5), ev(3, 4, 14, 5)];
  const s = (index: number, history: Interaction[], target: Interaction): Sample => ({ index, user: target.user, history, target });
  const ds: Dataset = {
    name: 'hand',
    domain: { singular: 'x', plural: 'xs', verb: 'buy' },
    items: [padItem(), ...[1, 2, 3, 4, 5].map((id) => ({ id, externalId: String(id), title: `t${id}` }))],
    users: ['a', 'b', 'c', 'd'],
    interactions: [...a, ...b, ...c, ...d],
    samples: {
      train: [s(0, [a[0]], a[1]), s(1, [a[0], a[1]], a[2]), s(2, [b[0]], b[1])],
      // user 1 known; target item 4 never in train → cold item
      valid: [s(3, [b[0], b[1]], b[2])],
      // user 2 cold, item 3 known | user 3 cold, item 4 cold (item 5 only in a test history)
      test: [s(4, [c[0]], c[1]), s(5, [d[0]], d[1])],
    },
    window: 20,
    provenance: { source: 'hand', files: [], options: {}, dropped: { 'bad row': 2 }, notes: [], synthetic: false, key: '' },
  };
  const st = datasetStats(ds);
  assert.equal(st.users, 4);
  assert.equal(st.items, 5);
  assert.equal(st.interactions, 10);
  assert.deepEqual(st.samples, { train: 3, valid: 1, test: 2, total: 6 });
  assert.equal(st.coldUsers, 2);
  assert.equal(st.coldItems, 2);
  assert.equal(st.coldUsersDistinct, 2);
  assert.equal(st.coldItemsDistinct, 1);
  assert.equal(st.coldUserShare, 2 / 3);
  assert.equal(st.coldItemShare, 2 / 3);
  assert.deepEqual(st.historyLength, {
    min: 1, mean: 8 / 6, median: 1, max: 2,
    histogram: [{ from: 1, to: 1, count: 4 }, { from: 2, to: 2, count: 2 }],
  });
  assert.deepEqual(st.timeSpan, { start: '2020-09-13', end: '2020-09-27', days: 14 });
  assert.deepEqual(st.interactionsPerUser, { mean: 2.5, min: 2, median: 2.5, max: 3 });
  assert.deepEqual(st.interactionsPerItem, { mean: 2 });
  assert.equal(st.density, 0.5);
  assert.deepEqual(st.ratings, { 1: 1, 2: 1, 3: 1, 4: 3, 5: 4 });
  assert.deepEqual(st.dropped, { 'bad row': 2 });
});

test('histogram: unit bins for short ranges, 10 bins for long ones', () => {
  assert.deepEqual(histogram([3, 1, 3]), [{ from: 1, to: 1, count: 1 }, { from: 2, to: 2, count: 0 }, { from: 3, to: 3, count: 2 }]);
  const wide = histogram(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(wide.length, 10);
  assert.deepEqual(wide[0], { from: 1, to: 10, count: 10 });
  assert.deepEqual(wide[9], { from: 91, to: 100, count: 10 });
  assert.deepEqual(histogram([]), []);
});

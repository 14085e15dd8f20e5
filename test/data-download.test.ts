// `downloadDataset` against a local HTTP server serving small fixture archives built here: the happy paths end in
// datasets the registry loads with the right counts; every broken download is one clear error and leaves nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { strToU8, zipSync } from 'fflate';
import { downloadDataset } from '../lib/data/download';
import { loadDataset } from '../lib/data/registry';
import { R2ecError } from '../lib/util/errors';

// --- fixtures ----------------------------------------------------------------------------------------------------
// ml-100k style: 4 users, 5 items, 14 ratings (u.data: user item rating timestamp, tab-separated; u.item: 24 fields).
const U_DATA = [
  [1, 1, 5, 881250949], [1, 2, 3, 881250950], [1, 3, 4, 881250960], [1, 5, 2, 881251000],
  [2, 1, 4, 881300000], [2, 4, 5, 881300100], [2, 2, 1, 881300200],
  [3, 3, 3, 881400000], [3, 4, 4, 881400050], [3, 5, 5, 881400100], [3, 1, 2, 881400200],
  [4, 2, 4, 881500000], [4, 5, 3, 881500001], [4, 4, 5, 881500002],
].map((r) => r.join('\t')).join('\n') + '\n';
const genres = (on: number[]) => Array.from({ length: 19 }, (_, g) => (on.includes(g) ? 1 : 0)).join('|');
const U_ITEM = [
  `1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|${genres([3, 4, 5])}`,
  `2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|${genres([1, 2, 16])}`,
  `3|Four Rooms (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Four%20Rooms%20(1995)|${genres([16])}`,
  `4|Get Shorty (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Get%20Shorty%20(1995)|${genres([1, 5, 8])}`,
  `5|Copycat (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Copycat%20(1995)|${genres([7, 8, 16])}`,
].join('\n') + '\n';
const U_GENRE = ['unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama',
  'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western']
  .map((g, i) => `${g}|${i}`).join('\n') + '\n';

const ML100K_ZIP = zipSync({
  'ml-100k/u.data': strToU8(U_DATA),
  'ml-100k/u.item': strToU8(U_ITEM),
  'ml-100k/u.genre': strToU8(U_GENRE),
  'ml-100k/README': strToU8('fixture\n'),
});
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

// ml-latest-small style: 3 users, 4 movies, 9 ratings.
const RATINGS = 'userId,movieId,rating,timestamp\n' + [
  [1, 10, 4.0, 964982703], [1, 20, 3.5, 964982931], [1, 30, 5.0, 964983000],
  [2, 10, 2.5, 1445714835], [2, 40, 4.0, 1445714900], [2, 30, 3.0, 1445715000],
  [3, 20, 5.0, 1106635946], [3, 40, 1.0, 1106636000], [3, 10, 4.5, 1106636100],
].map((r) => r.join(',')).join('\n') + '\n';
const MOVIES = 'movieId,title,genres\n10,Heat (1995),Action|Crime|Thriller\n20,"American President, The (1995)",Comedy|Drama|Romance\n30,Casino (1995),Crime|Drama\n40,Sabrina (1995),Comedy|Romance\n';
const LATEST_ZIP = zipSync({
  'ml-latest-small/ratings.csv': strToU8(RATINGS),
  'ml-latest-small/movies.csv': strToU8(MOVIES),
  'ml-latest-small/README.txt': strToU8('fixture\n'),
});

// Amazon 2023 style: category Toy_Bricks, 3 users, 3 items, 8 reviews in 2023 (timestamps in ms).
const CAT = 'Toy_Bricks';
const t = (d: string) => Date.parse(`${d}T12:00:00Z`);
const AMAZON_CSV = 'user_id,parent_asin,rating,timestamp\n' + [
  ['UA', 'B001', 5, t('2023-01-05')], ['UA', 'B002', 4, t('2023-01-09')], ['UA', 'B003', 2, t('2023-02-01')],
  ['UB', 'B002', 5, t('2023-01-10')], ['UB', 'B001', 3, t('2023-03-01')],
  ['UC', 'B003', 4, t('2023-02-11')], ['UC', 'B001', 5, t('2023-02-12')], ['UC', 'B002', 1, t('2023-04-01')],
].map((r) => r.join(',')).join('\n') + '\n';
const AMAZON_META = [
  { parent_asin: 'B001', title: 'Castle Set 1200 pieces', price: 59.99, average_rating: 4.6, rating_number: 120, description: ['A big castle.'], categories: ['Toys'], store: 'Brickwell' },
  { parent_asin: 'B002', title: 'Space Shuttle Kit', price: '24.5', average_rating: 4.1, rating_number: 33, description: [], categories: ['Toys'], store: 'Orbitoy' },
  { parent_asin: 'B003', title: 'Pirate Ship Deluxe', price: 89, average_rating: 3.9, rating_number: 12, description: ['Ahoy.'], categories: ['Toys'], store: 'Brickwell' },
].map((r) => JSON.stringify(r)).join('\n') + '\n';

const AMAZON_BASE = '/mcauley_group/data/amazon_2023';
const ML = '/datasets/movielens';

// --- server ------------------------------------------------------------------------------------------------------
let routes: Map<string, Uint8Array | string>;
function defaultRoutes(): Map<string, Uint8Array | string> {
  return new Map<string, Uint8Array | string>([
    [`${ML}/ml-100k.zip`, ML100K_ZIP],
    [`${ML}/ml-100k.zip.md5`, `${md5(ML100K_ZIP)}  ml-100k.zip\n`],
    [`${ML}/ml-latest-small.zip`, LATEST_ZIP],
    [`${AMAZON_BASE}/benchmark/5core/rating_only/${CAT}.csv.gz`, gzipSync(AMAZON_CSV)],
    [`${AMAZON_BASE}/raw/meta_categories/meta_${CAT}.jsonl.gz`, gzipSync(AMAZON_META)],
  ]);
}

let server: Server;
let base: string;
let root: string;
const quiet = { log: () => {} };

before(async () => {
  server = createServer((req, res) => {
    const body = routes.get(req.url ?? '');
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    res.writeHead(200, { 'content-length': buf.length });
    res.end(buf);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.R2EC_CACHE_DIR = mkdtempSync(path.join(os.tmpdir(), 'r2ec-dl-cache-'));
});

after(() => {
  server.close();
  rmSync(process.env.R2EC_CACHE_DIR!, { recursive: true, force: true });
});

beforeEach(() => {
  routes = defaultRoutes();
  root = mkdtempSync(path.join(os.tmpdir(), 'r2ec-dl-'));
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Nothing but the given entries in the root: no temp files, no half-written folders. */
function assertRootHolds(names: string[]): void {
  assert.deepEqual(readdirSync(root).sort(), [...names].sort());
}

// --- happy paths -------------------------------------------------------------------------------------------------
test('ml-100k: download, verify md5, unpack, load with the registry', async () => {
  const r = await downloadDataset('ml-100k', { root, baseUrl: base, ...quiet });
  assert.equal(r.skipped, false);
  assert.ok(r.checks.includes('md5 ok'), r.checks.join('; '));
  assert.deepEqual(readdirSync(path.join(root, 'ml-100k')).sort(), ['README', 'u.data', 'u.genre', 'u.item']);
  assertRootHolds(['ml-100k']);
  const ds = await loadDataset('ml-100k', { root, cache: false });
  assert.equal(ds.users.length, 4);
  assert.equal(ds.items.length - 1, 5);
  assert.equal(ds.interactions.length, 14);
  const { train, valid, test: tst } = ds.samples;
  assert.equal(train.length + valid.length + tst.length, 14 - 4);
  assert.ok(ds.items.some((i) => i.title.startsWith('GoldenEye')));
  // a second download finds it complete and does nothing
  const again = await downloadDataset('ml-100k', { root, baseUrl: base, ...quiet });
  assert.equal(again.skipped, true);
});

test('ml-latest-small: no published md5 is reported, files land in ml-latest-small/', async () => {
  const r = await downloadDataset('ml-latest-small', { root, baseUrl: base, ...quiet });
  assert.ok(r.checks.includes('no md5 published'), r.checks.join('; '));
  assertRootHolds(['ml-latest-small']);
  const ds = await loadDataset('ml-latest-small', { root, cache: false });
  assert.equal(ds.users.length, 3);
  assert.equal(ds.items.length - 1, 4);
  assert.equal(ds.interactions.length, 9);
  assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 6);
});

test('amazon2023-<Category>: both files kept gzipped, loadable by the registry', async () => {
  const r = await downloadDataset(`amazon2023-${CAT}`, { root, baseUrl: base, ...quiet });
  assert.deepEqual(readdirSync(path.join(root, `amazon2023-${CAT}`)).sort(), [`${CAT}.csv.gz`, `meta_${CAT}.jsonl.gz`]);
  assert.equal(r.files.length, 2);
  const ds = await loadDataset(`amazon2023-${CAT}`, { root, cache: false });
  assert.equal(ds.name, `amazon2023-${CAT}`);
  assert.equal(ds.users.length, 3);
  assert.equal(ds.items.length - 1, 3);
  assert.equal(ds.interactions.length, 8);
  assert.equal(ds.samples.train.length + ds.samples.valid.length + ds.samples.test.length, 8 - 3);
});

// --- failures ----------------------------------------------------------------------------------------------------
async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof R2ecError, `not an R2ecError: ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), 'one line');
    return true;
  });
}

test('a wrong md5 is rejected and leaves nothing behind', async () => {
  routes.set(`${ML}/ml-100k.zip.md5`, `${'0'.repeat(32)}  ml-100k.zip\n`);
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /ml-100k\.zip is corrupt: md5 [0-9a-f]{32}, published 0{32}/);
  assertRootHolds([]);
});

test('a corrupted or truncated archive is rejected', async () => {
  // flip bytes inside the first entry's compressed data: inflate fails or the CRC-32 no longer matches
  const bad = Uint8Array.from(ML100K_ZIP);
  const dataStart = 30 + 'ml-100k/u.data'.length;
  for (let i = dataStart + 10; i < dataStart + 20; i++) bad[i] ^= 0x5a;
  routes.set(`${ML}/ml-100k.zip`, bad);
  routes.delete(`${ML}/ml-100k.zip.md5`);
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /ml-100k\.zip: corrupt zip archive/);
  assertRootHolds([]);
  // stored (uncompressed) entries are only caught by the CRC check
  const stored = Uint8Array.from(zipSync({ 'ml-100k/u.data': strToU8(U_DATA), 'ml-100k/u.item': strToU8(U_ITEM) }, { level: 0 }));
  stored[dataStart + 3] ^= 0x01;
  routes.set(`${ML}/ml-100k.zip`, stored);
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /CRC-32 mismatch in ml-100k\/u\.data/);
  routes.set(`${ML}/ml-100k.zip`, ML100K_ZIP.subarray(0, ML100K_ZIP.length - 30));
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /not a zip archive/);
  assertRootHolds([]);
});

test('an archive without the expected files is rejected', async () => {
  routes.set(`${ML}/ml-100k.zip`, zipSync({ 'ml-100k/u.data': strToU8(U_DATA) }));
  routes.delete(`${ML}/ml-100k.zip.md5`);
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /archive lacks u\.item/);
  assertRootHolds([]);
});

test('HTTP 404, an empty body and a non-gzip Amazon file are clear errors', async () => {
  routes.delete(`${ML}/ml-100k.zip`);
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /ml-100k\.zip failed: HTTP 404/);
  routes.set(`${ML}/ml-100k.zip`, new Uint8Array(0));
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /empty response body/);
  assertRootHolds([]);
  routes.set(`${AMAZON_BASE}/raw/meta_categories/meta_${CAT}.jsonl.gz`, AMAZON_META);
  await rejects(downloadDataset(`amazon2023-${CAT}`, { root, baseUrl: base, ...quiet }), /meta_Toy_Bricks\.jsonl\.gz is not a gzip file/);
  // the rating file landed, the bad metadata did not, so the registry does not list the dataset as present
  assert.deepEqual(readdirSync(path.join(root, `amazon2023-${CAT}`)), [`${CAT}.csv.gz`]);
  await assert.rejects(loadDataset(`amazon2023-${CAT}`, { root }), /not found in data root/);
});

test('a refused connection gives the offline message', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await rejects(
    downloadDataset('ml-100k', { root, baseUrl: `http://127.0.0.1:${port}`, ...quiet }),
    new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; download http://127\\.0\\.0\\.1:${port}/datasets/movielens/ml-100k\\.zip by hand and unpack it under .*, or set R2EC_DATA_DIR$`),
  );
  // R2EC_DOWNLOAD_BASE does the same as baseUrl
  process.env.R2EC_DOWNLOAD_BASE = `http://127.0.0.1:${port}`;
  try {
    await rejects(downloadDataset(`amazon2023-${CAT}`, { root, ...quiet }), /cannot reach 127\.0\.0\.1/);
  } finally {
    delete process.env.R2EC_DOWNLOAD_BASE;
  }
});

test('unknown names and foreign folders are refused', async () => {
  await rejects(downloadDataset('cds', { root, baseUrl: base, ...quiet }), /cannot download "cds"/);
  mkdirSync(path.join(root, 'ml-100k'));
  writeFileSync(path.join(root, 'ml-100k', 'ml-100k.inter'), 'user_id:token\n');
  await rejects(downloadDataset('ml-100k', { root, baseUrl: base, ...quiet }), /already exists but lacks u\.data\/u\.item; .*--force/);
  assert.ok(existsSync(path.join(root, 'ml-100k', 'ml-100k.inter')), 'left untouched');
  const r = await downloadDataset('ml-100k', { root, baseUrl: base, force: true, ...quiet });
  assert.equal(r.skipped, false);
  assert.ok(!existsSync(path.join(root, 'ml-100k', 'ml-100k.inter')));
});

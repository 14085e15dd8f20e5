// Broken input for the real-data readers: each case either throws a DataError that names file, 1-based line and
// field, or is dropped and counted in provenance.dropped (policy: top of lib/data/sourceFiles.ts). Fixtures are
// small files written into a temporary folder.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readAmazon2023 } from '../lib/data/amazon2023';
import { readD3 } from '../lib/data/d3';
import { readGoodreads } from '../lib/data/goodreads';
import { readMovieLens } from '../lib/data/movielens';
import { ConfigError, DataError } from '../lib/util/errors';

const root = mkdtempSync(join(tmpdir(), 'r2ec-broken-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
/** A fresh folder with the given files (relative path → content). */
function fixture(files: Record<string, string>): string {
  const dir = join(root, String(n++));
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Expect a DataError located at file (basename), line and field; `problem` must match the message. */
async function rejectsData(
  p: Promise<unknown>,
  where: { file: string; line?: number; field?: string; problem: RegExp },
): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(basename(err.file), where.file);
    assert.equal(err.line, where.line);
    assert.equal(err.field, where.field);
    assert.match(err.problem, where.problem);
    assert.ok(err.message.includes(where.file));
    return true;
  });
}

describe('Amazon 2023', () => {
  const meta = [
    { parent_asin: 'A1', title: 'Alpha', price: 1 },
    { parent_asin: 'A2', title: 'Beta', price: 2 },
    { parent_asin: 'A3', title: 'Gamma', price: 3 },
  ].map((m) => JSON.stringify(m));
  const t = Date.UTC(2023, 0, 1);
  const rows = ['user_id,parent_asin,rating,timestamp', `u1,A1,5,${t}`, `u1,A2,4,${t + 1000}`, `u2,A3,3,${t}`, `u2,A1,5,${t + 5}`];
  const files = (metaLines = meta, csvLines = rows) => ({
    'meta_Cat.jsonl': metaLines.join('\n') + '\n',
    'Cat.csv': csvLines.join('\n') + '\n',
  });
  const read = (dir: string) => readAmazon2023(dir, { category: 'Cat', minItems: 1 });

  test('a baseline that reads, and the row accounting that every other case perturbs', async () => {
    const ds = await read(fixture(files()));
    assert.equal(ds.interactions.length, 4);
    assert.deepEqual(ds.provenance.dropped, {});
  });
  test('unparsable JSON line → DataError at that line', async () => {
    const dir = fixture(files([meta[0], meta[1], '{"parent_asin": "A3", "title": "Gam']));
    await rejectsData(read(dir), { file: 'meta_Cat.jsonl', line: 3, problem: /not valid JSON/ });
  });
  test('a JSON line that is not an object → DataError', async () => {
    await rejectsData(read(fixture(files([meta[0], '[1, 2]']))), { file: 'meta_Cat.jsonl', line: 2, problem: /JSON object/ });
  });
  test('missing required column → DataError at line 1 naming the column', async () => {
    const csv = ['user_id,parent_asin,stars,timestamp', ...rows.slice(1)];
    await rejectsData(read(fixture(files(meta, csv))), { file: 'Cat.csv', line: 1, field: 'rating', problem: /missing/ });
  });
  test('bad CSV quoting → DataError at the line', async () => {
    const csv = [...rows.slice(0, 2), `u1,"A2"x,4,${t}`, ...rows.slice(3)];
    await rejectsData(read(fixture(files(meta, csv))), { file: 'Cat.csv', line: 3, problem: /CSV cannot be parsed/ });
  });
  test('missing files → DataError naming the file looked for', async () => {
    const dir = fixture({ 'Cat.csv': rows.join('\n') });
    await rejectsData(read(dir), { file: 'meta_Cat.jsonl', problem: /not found.*meta_Cat\.jsonl\.gz/ });
    await rejectsData(read(fixture({ 'meta_Cat.jsonl': meta.join('\n') })), { file: 'Cat.csv', problem: /not found/ });
  });
  test('non-numeric rating or timestamp, wrong field count, empty id: dropped, counted, first line noted', async () => {
    const csv = [...rows, 'u3,A1,five,1', 'u3,A1,5,yesterday', 'u3,A1,5', ',A1,5,1', `u3,A2,4,${t}`];
    const ds = await read(fixture(files(meta, csv)));
    assert.deepEqual(ds.provenance.dropped, {
      'review: rating not a number': 1,
      'review: timestamp not a number': 1,
      'review: wrong number of fields': 1,
      'review: empty user_id or parent_asin': 1,
    });
    assert.equal(ds.interactions.length, 5); // 9 data rows = 5 kept + 4 dropped
    assert.ok(ds.provenance.notes.some((x) => x.includes('"review: rating not a number" ×1; first at') && x.includes('Cat.csv:6')));
  });
  test('reviews of unknown or filtered items: dropped and counted apart', async () => {
    const m = [...meta, JSON.stringify({ parent_asin: 'A4', title: 'NoPrice', price: 'None' })];
    const csv = [...rows, `u1,A4,5,${t}`, `u1,ZZ,5,${t}`, `u1,ZZ,5,${t}`];
    const ds = await read(fixture(files(m, csv)));
    assert.equal(ds.provenance.dropped['review: item removed by the item filter'], 1);
    assert.equal(ds.provenance.dropped['review: item not in metadata'], 2);
    assert.equal(ds.provenance.dropped['item: price not parseable by float()'], 1);
  });
  test('duplicate parent_asin: later record dropped and counted; empty title dropped by the ≤1-character rule', async () => {
    const m = [...meta, JSON.stringify({ parent_asin: 'A1', title: 'Alpha again', price: 9 }), JSON.stringify({ parent_asin: 'A5', title: '', price: 1 })];
    const ds = await read(fixture(files(m)));
    assert.equal(ds.provenance.dropped['item: duplicate parent_asin (later record dropped)'], 1);
    assert.equal(ds.provenance.dropped['item: title at most 1 character'], 1);
    assert.equal(ds.items[1].title, 'Alpha');
    assert.ok(ds.provenance.notes.some((x) => x.includes('meta_Cat.jsonl:4 (first at line 1)')));
  });
  test('metadata record without parent_asin: dropped and counted', async () => {
    const ds = await read(fixture(files([...meta, JSON.stringify({ title: 'Orphan', price: 1 })])));
    assert.equal(ds.provenance.dropped['item: parent_asin missing or empty'], 1);
  });
  test('nothing left → DataError; bad options → ConfigError', async () => {
    const dir = fixture(files(meta, [rows[0], `u1,ZZ,5,${t}`]));
    await rejectsData(read(dir), { file: 'Cat.csv', problem: /no review of a surviving item/ });
    const ok = fixture(files());
    await assert.rejects(readAmazon2023(ok, { category: 'Cat', start: '2022/10' }), ConfigError);
    await assert.rejects(readAmazon2023(ok, { category: 'Cat', window: 0 }), ConfigError);
    await assert.rejects(readAmazon2023(ok, { category: 'Cat', start: '2024-01', end: '2023-10' }), ConfigError);
  });
});

describe('D3', () => {
  const header = 'user_id,item_asins,item_asin,history_item_id,item_id,history_item_title,item_title,history_rating,rating,history_timestamp,timestamp';
  const info = 'T0\t0\nT1\t1\nT2\t2\n';
  const good = [header, `U1,"['X0']",X1,[0],1,"['T0']",T1,[5.0],4.0,[10],20`, `U1,"['X0', 'X1']",X2,"[0, 1]",2,"['T0', 'T1']",T2,"[5.0, 4.0]",3.0,"[10, 20]",30`];
  const files = (over: Record<string, string> = {}) => ({
    'info/C_5_2015-10-2018-11.txt': info,
    'valid/C_5_2015-10-2018-11.csv': good.join('\n') + '\n',
    'test/C_5_2015-10-2018-11.csv': header + '\n' + `U2,"['X2']",X0,[2],0,"['T2']",T0,[1.0],2.0,[5],6` + '\n',
    ...over,
  });
  const validWith = (row: string) => ({ 'valid/C_5_2015-10-2018-11.csv': [...good, row].join('\n') + '\n' });

  test('baseline', async () => {
    const ds = await readD3(fixture(files()));
    assert.equal(ds.interactions.length, 5);
    assert.deepEqual(ds.provenance.dropped, { 'event: repeat of an event already read from another row (deduplicated)': 2 });
  });
  test('duplicate item id, empty title, id gap in info/*.txt → DataError', async () => {
    await rejectsData(readD3(fixture(files({ 'info/C_5_2015-10-2018-11.txt': info + 'Again\t1\n' }))), {
      file: 'C_5_2015-10-2018-11.txt', line: 4, field: 'item_id', problem: /duplicate item id 1 \(first at line 2\)/,
    });
    await rejectsData(readD3(fixture(files({ 'info/C_5_2015-10-2018-11.txt': 'T0\t0\n\t1\nT2\t2\n' }))), {
      file: 'C_5_2015-10-2018-11.txt', line: 2, field: 'title', problem: /empty title/,
    });
    await rejectsData(readD3(fixture(files({ 'info/C_5_2015-10-2018-11.txt': 'T0\t0\nT2\t2\n' }))), {
      file: 'C_5_2015-10-2018-11.txt', field: 'item_id', problem: /1 is missing/,
    });
  });
  test('history id not in info: event dropped and counted', async () => {
    const ds = await readD3(fixture(files(validWith(`U3,"['X9', 'X0']",X1,"[9, 0]",1,"['T9', 'T0']",T1,"[5.0, 5.0]",5.0,"[1, 2]",3`))));
    assert.equal(ds.provenance.dropped['event: item id not in info/*.txt'], 1);
    assert.ok(ds.provenance.notes.some((x) => x.includes('C_5_2015-10-2018-11.csv:4 (history_item_id[0] = 9)')));
  });
  test('unparsable list literal and list-length mismatch → DataError naming line and column', async () => {
    await rejectsData(readD3(fixture(files(validWith(`U3,"['X0', 'X1]",X2,"[0, 1]",2,"['T0', 'T1']",T2,"[5.0, 4.0]",3.0,"[10, 20]",30`)))), {
      file: 'C_5_2015-10-2018-11.csv', line: 4, field: 'item_asins', problem: /bad Python list literal/,
    });
    await rejectsData(readD3(fixture(files(validWith(`U3,"['X0', 'X1']",X2,"[0, 1]",2,"['T0', 'T1']",T2,[5.0],3.0,"[10, 20]",30`)))), {
      file: 'C_5_2015-10-2018-11.csv', line: 4, field: 'history_rating', problem: /has 1 entries but item_asins has 2/,
    });
  });
  test('an ASIN with two item ids → DataError', async () => {
    await rejectsData(readD3(fixture(files(validWith(`U3,"['X0']",X1,[2],1,"['T2']",T1,[5.0],4.0,[10],20`)))), {
      file: 'C_5_2015-10-2018-11.csv', line: 4, field: 'history_item_id[0]', problem: /ASIN X0 has item id 2 here but 0 elsewhere/,
    });
  });
  test('non-numeric target rating or wrong field count: row dropped and counted', async () => {
    const ds = await readD3(fixture(files({
      'valid/C_5_2015-10-2018-11.csv': [...good, `U3,"['X0']",X1,[0],1,"['T0']",T1,[5.0],good,[10],20`, 'U4,oops'].join('\n') + '\n',
    })));
    assert.equal(ds.provenance.dropped['row: target item_asin, item_id, rating or timestamp empty or not a number'], 1);
    assert.equal(ds.provenance.dropped['row: wrong number of fields'], 1);
    assert.deepEqual(ds.users, ['U1', 'U2']);
  });
  test('missing split, missing column, bad quoting → DataError', async () => {
    const f = files();
    delete (f as Record<string, string>)['test/C_5_2015-10-2018-11.csv'];
    await rejectsData(readD3(fixture(f)), { file: 'C_5_2015-10-2018-11.csv', problem: /test split not found/ });
    await rejectsData(readD3(fixture(files({ 'valid/C_5_2015-10-2018-11.csv': header.replace('item_asins,', 'asins,') + '\n' }))), {
      file: 'C_5_2015-10-2018-11.csv', line: 1, field: 'item_asins', problem: /missing/,
    });
    await rejectsData(readD3(fixture(files(validWith(`U3,"['X0']"x,X1,[0],1,"['T0']",T1,[5.0],4.0,[10],20`)))), {
      file: 'C_5_2015-10-2018-11.csv', line: 4, problem: /CSV cannot be parsed/,
    });
    await rejectsData(readD3(fixture({ 'valid/x.csv': header })), { file: 'info', problem: /info\/ not found/ });
  });
});

describe('MovieLens', () => {
  const movies = ['movieId,title,genres', '1,Toy Story (1995),Animation|Comedy', '2,"Heat, The (1995)",Action', '3,Nixon (1995),Drama'];
  const ratings = ['userId,movieId,rating,timestamp', '1,1,4.0,100', '1,2,3.5,200', '2,1,5.0,50', '2,3,2.0,60'];
  const csvFiles = (m = movies, r = ratings, extra: Record<string, string> = {}) => ({
    'movies.csv': m.join('\n') + '\n',
    'ratings.csv': r.join('\n') + '\n',
    ...extra,
  });

  test('baseline; a quoted title with a comma is one field', async () => {
    const ds = await readMovieLens(fixture(csvFiles()));
    assert.equal(ds.interactions.length, 4);
    assert.equal(ds.items[2].title, 'Heat, The');
    assert.deepEqual(ds.provenance.dropped, {});
  });
  test('non-numeric rating/timestamp, wrong field count, unknown movie: dropped, counted, located', async () => {
    const r = [...ratings, '3,1,four,10', '3,1,4.0,noon', '3,1,4.0', '3,99,4.0,10', '3,2,1.0,20', '3,3,1.0,30'];
    const ds = await readMovieLens(fixture(csvFiles(movies, r)));
    assert.deepEqual(ds.provenance.dropped, {
      'rating: rating not a number': 1,
      'rating: timestamp not a number': 1,
      'rating: wrong number of fields': 1,
      'rating: movie not in the item file': 1,
    });
    assert.equal(ds.interactions.length, 6); // 10 data rows = 6 kept + 4 dropped
    assert.ok(ds.provenance.notes.some((x) => x.includes('ratings.csv:6')));
    assert.ok(ds.provenance.notes.some((x) => x.includes('"rating: movie not in the item file" ×1; first at') && x.includes('ratings.csv:9')));
  });
  test('bad quoting → DataError at the line', async () => {
    await rejectsData(readMovieLens(fixture(csvFiles(movies, [...ratings.slice(0, 3), '2,"1"x,5.0,50']))), {
      file: 'ratings.csv', line: 4, problem: /CSV cannot be parsed/,
    });
  });
  test('duplicate movie id, empty title, short catalog row, missing column → DataError', async () => {
    await rejectsData(readMovieLens(fixture(csvFiles([...movies, '2,Heat again (1995),Action']))), {
      file: 'movies.csv', line: 5, field: 'movieId', problem: /duplicate item id 2 \(first at line 3\)/,
    });
    await rejectsData(readMovieLens(fixture(csvFiles([...movies, '4,,Drama']))), {
      file: 'movies.csv', line: 5, field: 'title', problem: /empty title/,
    });
    await rejectsData(readMovieLens(fixture(csvFiles([...movies, '4,Four (1999)'], ratings))), {
      file: 'movies.csv', line: 5, problem: /expected 3 fields like the header, got 2/,
    });
    await rejectsData(readMovieLens(fixture(csvFiles(movies, ['userId,movieId,rating', '1,1,4.0']))), {
      file: 'ratings.csv', line: 1, field: 'timestamp', problem: /missing/,
    });
  });
  test('no layout, missing movies.csv → DataError', async () => {
    await rejectsData(readMovieLens(fixture({ 'notes.txt': 'x' })), { file: String(n - 1), problem: /no MovieLens layout/ });
    await rejectsData(readMovieLens(fixture({ 'ratings.csv': ratings.join('\n') })), { file: 'movies.csv', problem: /not found/ });
  });
  test('RecBole: a short .inter row is dropped and counted; a missing .item is a DataError', async () => {
    const inter = ['user_id:token\titem_id:token\trating:float\ttimestamp:float', '1\t1\t4\t100', '1\t2\t3\t200', '1\t2', '1\t1\t5\tx'];
    const item = ['item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq', '1\tToy Story\t1995\tAnimation Comedy', '2\tHeat\t1995\tAction'];
    const ds = await readMovieLens(fixture({ 'ml.inter': inter.join('\n') + '\n', 'ml.item': item.join('\n') + '\n' }));
    assert.deepEqual(ds.provenance.dropped, { 'rating: wrong number of fields': 1, 'rating: timestamp not a number': 1 });
    assert.deepEqual(ds.items[1].categories, ['Animation', 'Comedy']);
    await rejectsData(readMovieLens(fixture({ 'ml.inter': inter.join('\n') })), { file: 'ml.item', problem: /RecBole item file not found/ });
  });
  test('raw ml-100k: a u.item row with the wrong number of fields → DataError', async () => {
    const flags = Array(19).fill('0').join('|');
    await rejectsData(readMovieLens(fixture({ 'u.data': '1\t1\t5\t10\n', 'u.item': `1|Toy Story (1995)|01-Jan-1995||url|${flags}\n2|Short|x\n` })), {
      file: 'u.item', line: 2, problem: /expected 24 "\|"-separated fields, got 3/,
    });
  });
});

describe('GoodReads-SPRec', () => {
  const id2name = { 0: 'Book A', 1: 'Book "B"', 2: 'Book C' };
  const name2id = { 'Book A': 0, 'Book "B"': 1, 'Book C': 2 };
  const prompt = (titles: string[]) => `The user has played the following books before: ${titles.map((t) => `"${t}"`).join(', ')}, please write`;
  const rec = (hist: string[], target: string) => ({ instruction: 'x', input: prompt(hist), output: `"${target}"\n` });
  const files = (records: unknown[], over: Record<string, string> = {}) => ({
    'data/train.json': JSON.stringify(records, null, 2),
    'eval/id2name.json': JSON.stringify(id2name),
    'eval/name2id.json': JSON.stringify(name2id),
    'eval/name2genre.json': JSON.stringify({ 'Book A': ['fiction'] }),
    ...over,
  });

  test('unknown history title removed, unknown target or empty history drops the record, missing fields dropped: all counted', async () => {
    const records = [
      rec(['Book A', 'Book "B"'], 'Book C'),
      rec(['Book A', 'Nope'], 'Book C'),
      rec(['Book A'], 'Nope'),
      rec(['Nope'], 'Book A'),
      { instruction: 'x', output: '"Book A"' },
    ];
    const ds = await readGoodreads(fixture(files(records)));
    assert.deepEqual(ds.provenance.dropped, {
      'history title not in name2id (title removed)': 2,
      'record: target title not in name2id (record dropped)': 1,
      'record: no history title in name2id (record dropped)': 1,
      'record: input or output missing or not a string': 1,
    });
    assert.deepEqual(ds.users, ['train.json#0', 'train.json#1']);
    const s1 = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test].find((s) => s.user === 1)!;
    assert.deepEqual(s1.history.map((h) => [h.item, h.timestamp]), [[1, 0]]);
    assert.deepEqual([s1.target.item, s1.target.timestamp], [3, 2]);
    assert.deepEqual(ds.items[2].categories, []);
  });
  test('broken JSON → DataError with the line', async () => {
    const text = '[\n  {"input": "x",\n   "output": }\n]';
    await rejectsData(readGoodreads(fixture(files([], { 'data/train.json': text }))), { file: 'train.json', line: 3, problem: /not valid JSON/ });
  });
  test('catalog problems → DataError', async () => {
    await rejectsData(readGoodreads(fixture(files([], { 'eval/id2name.json': JSON.stringify({ 0: 'A', 1: 'A' }) }))), {
      file: 'id2name.json', field: '1', problem: /duplicate title "A"/,
    });
    await rejectsData(readGoodreads(fixture(files([], { 'eval/id2name.json': JSON.stringify({ 0: 'A', 1: ' ' }) }))), {
      file: 'id2name.json', field: '1', problem: /empty/,
    });
    await rejectsData(readGoodreads(fixture(files([], { 'eval/name2id.json': JSON.stringify({ 'Book A': 2 }) }))), {
      file: 'name2id.json', field: 'Book A', problem: /disagrees with id2name/,
    });
    const f = files([]);
    delete (f as Record<string, string>)['eval/id2name.json'];
    await rejectsData(readGoodreads(fixture(f)), { file: 'id2name.json', problem: /not found/ });
  });
  test('no usable record → DataError', async () => {
    await rejectsData(readGoodreads(fixture(files([rec(['Book A'], 'Nope')]))), { file: 'train.json', problem: /no usable record/ });
  });
});

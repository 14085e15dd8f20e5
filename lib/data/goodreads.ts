// GoodReads as used by SPRec (shared/data/goodreads-SPRec): Alpaca-style prompt records, each "10 titles → next
// title", with no user ids, timestamps or ratings. Each record becomes one sample of its own pseudo-user.
import { join } from 'node:path';
import { ConfigError, DataError } from '../util/errors';
import { makeRng, shuffleInPlace } from '../util/rng';
import { drop, dropNotes, fileProvenance, findSourceFile, makeDropLog, parseJson, readText } from './sourceFiles';
import { padItem, type Dataset, type Interaction, type Item, type Sample } from './types';

async function readJson(path: string): Promise<unknown> {
  return parseJson(path, await readText(path));
}

function requireFile(dir: string, candidates: string[], what: string): string {
  for (const c of candidates) {
    const p = findSourceFile(dir, [c]);
    if (p) return p;
  }
  throw new DataError(join(dir, candidates[0]), undefined, undefined, `${what} not found (looked for ${candidates.join(', ')} and .gz in ${dir})`);
}

/**
 * Titles quoted in an SPRec prompt: the text between the first and the last double quote, split on '", "'.
 * (A title may itself contain quotes, e.g. 'A Child Called "It"', so a quote-to-quote regex would cut it.)
 */
export function promptTitles(text: string): string[] | undefined {
  const a = text.indexOf('"');
  const b = text.lastIndexOf('"');
  if (a < 0 || b <= a) return undefined;
  return text.slice(a + 1, b).split('", "');
}

/** Reads train.json (data/ or the folder itself) and eval/{id2name,name2id,name2genre}.json; seed orders the split. */
export async function readGoodreads(dir: string, opts: { seed?: number } = {}): Promise<Dataset> {
  const seed = opts.seed ?? 42;
  if (!Number.isInteger(seed)) throw new ConfigError('seed', `expected an integer, got ${seed}`);
  const trainFile = requireFile(dir, ['data/train.json', 'train.json'], 'SPRec train.json');
  const id2nameFile = requireFile(dir, ['eval/id2name.json', 'id2name.json'], 'SPRec id2name.json');
  const name2idFile = requireFile(dir, ['eval/name2id.json', 'name2id.json'], 'SPRec name2id.json');
  const genreFile =
    findSourceFile(dir, ['eval/name2genre.json']) ?? findSourceFile(dir, ['name2genre.json']);
  const log = makeDropLog();

  // Catalog: id2name, SPRec id k → our id k+1; name2id must agree with it (titles are the ids in the prompts).
  const id2name = await readJson(id2nameFile);
  if (typeof id2name !== 'object' || id2name === null || Array.isArray(id2name)) {
    throw new DataError(id2nameFile, 1, undefined, 'expected an object {"id": "title"}');
  }
  const titles: string[] = [];
  const byTitle = new Map<string, number>();
  for (const [k, v] of Object.entries(id2name)) {
    if (!/^\d+$/.test(k)) throw new DataError(id2nameFile, undefined, k, 'item id is not a non-negative integer');
    if (typeof v !== 'string' || v.trim() === '') throw new DataError(id2nameFile, undefined, k, 'empty or non-string title');
    if (byTitle.has(v)) throw new DataError(id2nameFile, undefined, k, `duplicate title "${v}" (also item ${byTitle.get(v)})`);
    titles[Number(k)] = v;
    byTitle.set(v, Number(k));
  }
  const n = titles.length;
  if (n === 0) throw new DataError(id2nameFile, undefined, undefined, 'empty catalog');
  for (let k = 0; k < n; k++) {
    if (titles[k] === undefined) throw new DataError(id2nameFile, undefined, String(k), `item ids must be 0..${n - 1}; ${k} is missing`);
  }
  const name2id = await readJson(name2idFile);
  if (typeof name2id !== 'object' || name2id === null || Array.isArray(name2id)) {
    throw new DataError(name2idFile, 1, undefined, 'expected an object {"title": id}');
  }
  const lookup = new Map<string, number>();
  for (const [title, id] of Object.entries(name2id)) {
    if (typeof id !== 'number' || titles[id] !== title) {
      throw new DataError(name2idFile, undefined, title, `id ${JSON.stringify(id)} disagrees with id2name.json`);
    }
    lookup.set(title, id);
  }
  let genres: Record<string, unknown> = {};
  if (genreFile) {
    const g = await readJson(genreFile);
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new DataError(genreFile, 1, undefined, 'expected an object {"title": [genres]}');
    genres = g as Record<string, unknown>;
  }
  let noGenre = 0;
  const items: Item[] = [padItem()];
  for (let k = 0; k < n; k++) {
    const g = genres[titles[k]];
    if (!Array.isArray(g)) noGenre++;
    items.push({ id: k + 1, externalId: String(k), title: titles[k], categories: Array.isArray(g) ? g.map(String) : [] });
  }

  // Records → one pseudo-user and one sample each.
  const records = await readJson(trainFile);
  if (!Array.isArray(records)) throw new DataError(trainFile, 1, undefined, 'expected a JSON list of records');
  const users: string[] = [];
  const interactions: Interaction[] = [];
  const samples: Omit<Sample, 'index'>[] = [];
  let maxHistory = 0;
  let targetInHistory = 0;
  records.forEach((rec, r) => {
    const where = `${trainFile} record ${r}`;
    const input = (rec as { input?: unknown } | null)?.input;
    const output = (rec as { output?: unknown } | null)?.output;
    if (typeof input !== 'string' || typeof output !== 'string') {
      drop(log, 'record: input or output missing or not a string', where);
      return;
    }
    const hist = promptTitles(input);
    const out = promptTitles(output);
    if (!hist || !out || out.length !== 1) {
      drop(log, 'record: input/output titles not in the SPRec "Title", "Title" quoting', where);
      return;
    }
    const target = lookup.get(out[0]);
    if (target === undefined) {
      drop(log, 'record: target title not in name2id (record dropped)', where);
      return;
    }
    const u = users.length;
    const history: Interaction[] = [];
    hist.forEach((t, pos) => {
      const id = lookup.get(t);
      if (id === undefined) drop(log, 'history title not in name2id (title removed)', `${where}: "${t}"`);
      else history.push({ user: u, item: id + 1, rating: 0, timestamp: pos });
    });
    if (history.length === 0) {
      drop(log, 'record: no history title in name2id (record dropped)', where);
      return;
    }
    users.push(`train.json#${r}`);
    const tgt: Interaction = { user: u, item: target + 1, rating: 0, timestamp: hist.length };
    if (history.some((h) => h.item === tgt.item)) targetInHistory++;
    interactions.push(...history, tgt);
    samples.push({ user: u, history, target: tgt });
    maxHistory = Math.max(maxHistory, history.length);
  });
  if (samples.length === 0) throw new DataError(trainFile, undefined, undefined, 'no usable record');

  // Split: no time exists, so a seeded shuffle of the records, cut at int(n·0.8), int(n·0.9).
  const order = shuffleInPlace(samples.map((_, k) => k), makeRng(seed));
  const ordered = order.map((k, index) => ({ ...samples[k], index }));
  const a = Math.floor(ordered.length * 0.8);
  const b = Math.floor(ordered.length * 0.9);

  const notes = [
    `Each of the ${records.length} train.json records is one sample of its own pseudo-user (users[u] = ` +
      '"train.json#<record index>"): history = the quoted titles of `input` in order, target = the quoted title of ' +
      '`output`. The source has no user ids, so one reader\'s records are not linked.',
    'No timestamps or ratings exist: timestamp = the title\'s position in the record (history 0..k−1, target k, in ' +
      'seconds; order only, so prompt time deltas are meaningless), rating = 0 meaning unknown.',
    `Split: no time to sort by, so the samples are shuffled with seed ${seed} (mulberry32 makeRng, Fisher-Yates) ` +
      'and cut at int(n·0.8), int(n·0.9); Sample.index is the position after the shuffle.',
    `Catalog: all ${n} items of id2name.json, SPRec id k → our id k+1 (item 0 = pad); categories = name2genre ` +
      `genres${noGenre ? ` (${noGenre} items have none)` : ''}. Titles are matched exactly against name2id.json.`,
    `window = ${maxHistory}, the longest history; histories are not cut.`,
    ...(targetInHistory ? [`${targetInHistory} samples have their target in their own history (repeat reads); a ` +
      'history-masked full ranking (spec §5) can never hit them.'] : []),
    ...dropNotes(log),
  ];
  const files = [await fileProvenance(trainFile, dir), await fileProvenance(id2nameFile, dir), await fileProvenance(name2idFile, dir)];
  if (genreFile) files.push(await fileProvenance(genreFile, dir));
  return {
    name: 'goodreads-sprec',
    domain: { singular: 'book', plural: 'books', verb: 'read' },
    items,
    users,
    interactions,
    samples: { train: ordered.slice(0, a), valid: ordered.slice(a, b), test: ordered.slice(b) },
    window: maxHistory,
    provenance: {
      source: 'goodreads-sprec',
      files,
      options: { seed },
      dropped: log.dropped,
      notes,
      synthetic: false,
      key: '',
    },
  };
}

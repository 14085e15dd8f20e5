// MovieLens reader for three layouts, detected from the files present:
//   recbole   — RecBole atomic files <name>.inter / <name>.item (/ .user), typed headers "field:type"
//   csv       — GroupLens ratings.csv + movies.csv (+ tags.csv), e.g. ml-latest-small
//   grouplens — raw GroupLens ml-100k: u.data + u.item (+ u.genre), latin1, as in the ml-100k.zip archive
// All three feed the same protocol (spec §1 samples and split, W = 20).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, DataError } from '../util/errors';
import { buildSamples, chronologicalSplit } from './samples';
import {
  drop, dropNotes, fileProvenance, findSourceFile, headerIndex, makeDropLog, parseFiniteNumber, readCsv, readLines,
  requireSourceFile, type DropLog,
} from './sourceFiles';
import { padItem, type Dataset, type Interaction, type Item } from './types';

export type MovieLensLayout = 'recbole' | 'csv' | 'grouplens';

interface CatalogEntry {
  ext: string;
  title: string;
  year?: number;
  genres: string[];
}

interface RawRating {
  user: string;
  item: string;
  rating: number;
  timestamp: number;
  line: number;
}

interface Source {
  layout: MovieLensLayout;
  dir: string;
  name: string;
  files: string[];
  /** the file the ratings come from, for drop locations */
  ratingFile: string;
  catalog: CatalogEntry[];
  ratings: RawRating[];
  tags?: Map<string, string[]>;
  /** tags.csv rows per movie, to count the rows of movies that leave the catalog */
  tagRows?: Map<string, number>;
  notes: string[];
}

/** The layout found in `dir` (or in its single sub-folder named like an archive, e.g. ml-100k/), or a DataError. */
export function detectMovieLensLayout(dir: string): { layout: MovieLensLayout; dir: string } {
  const probe = (d: string): MovieLensLayout | undefined => {
    if (!existsSync(d) || !statSync(d).isDirectory()) return undefined;
    const names = readdirSync(d);
    if (names.some((f) => f.endsWith('.inter') || f.endsWith('.inter.gz'))) return 'recbole';
    if (findSourceFile(d, ['ratings.csv'])) return 'csv';
    if (findSourceFile(d, ['u.data'])) return 'grouplens';
    return undefined;
  };
  const here = probe(dir);
  if (here) return { layout: here, dir };
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    const subs = readdirSync(dir).filter((f) => statSync(join(dir, f)).isDirectory());
    const found = subs.map((s) => ({ d: join(dir, s), l: probe(join(dir, s)) })).filter((x) => x.l);
    if (found.length === 1) return { layout: found[0].l!, dir: found[0].d };
  }
  throw new DataError(
    dir, undefined, undefined,
    'no MovieLens layout found: expected <name>.inter + <name>.item (RecBole), ratings.csv + movies.csv ' +
      '(GroupLens CSV) or u.data + u.item (GroupLens ml-100k), here or in one sub-folder',
  );
}

/** "Toy Story (1995)" → title "Toy Story", year 1995; "(2007-)" and "(1975-1979)" give the first year. */
export function splitTitleYear(raw: string): { title: string; year?: number } {
  const m = /^(.*?)\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$/.exec(raw.trim());
  if (!m || m[1].trim() === '') return { title: raw.trim() };
  return { title: m[1].trim(), year: Number(m[2]) };
}

function dupCheck(seen: Map<string, number>, file: string, no: number, field: string, id: string): void {
  if (seen.has(id)) throw new DataError(file, no, field, `duplicate item id ${id} (first at line ${seen.get(id)})`);
  seen.set(id, no);
}

async function readRecBole(dir: string, log: DropLog): Promise<Source> {
  const inters = readdirSync(dir).filter((f) => f.endsWith('.inter') || f.endsWith('.inter.gz'));
  if (inters.length !== 1) throw new DataError(dir, undefined, undefined, `expected one .inter file, found ${inters.join(', ')}`);
  const name = inters[0].replace(/\.inter(\.gz)?$/, '');
  const interFile = join(dir, inters[0]);
  const itemFile = requireSourceFile(dir, [`${name}.item`], 'RecBole item file');
  // RecBole atomic files are tab-separated without quoting; the header is "field:type".
  const headerOf = (line: string) => line.split('\t').map((h) => h.split(':')[0].trim());

  const catalog: CatalogEntry[] = [];
  const seen = new Map<string, number>();
  let ih: Record<string, number> | undefined;
  let nItemFields = 0;
  for await (const [line, no] of readLines(itemFile)) {
    if (!ih) {
      const header = headerOf(line);
      ih = headerIndex(itemFile, header, ['item_id', 'movie_title'], ['release_year', 'class']);
      nItemFields = header.length;
      continue;
    }
    if (line === '') continue;
    const f = line.split('\t');
    if (f.length !== nItemFields) throw new DataError(itemFile, no, undefined, `expected ${nItemFields} tab-separated fields, got ${f.length}`);
    const ext = f[ih.item_id].trim();
    if (ext === '') throw new DataError(itemFile, no, 'item_id', 'empty item id');
    dupCheck(seen, itemFile, no, 'item_id', ext);
    const title = f[ih.movie_title].trim();
    if (title === '') throw new DataError(itemFile, no, 'movie_title', `empty title for item ${ext}`);
    const yearText = ih.release_year !== undefined ? f[ih.release_year].trim() : '';
    const year = /^\d{4}$/.test(yearText) ? Number(yearText) : undefined;
    const genres = ih.class !== undefined ? f[ih.class].trim().split(/\s+/).filter(Boolean) : [];
    catalog.push({ ext, title, year, genres });
  }
  if (!ih) throw new DataError(itemFile, 1, undefined, 'file is empty: expected a header row');

  const ratings: RawRating[] = [];
  let rh: Record<string, number> | undefined;
  let nFields = 0;
  for await (const [line, no] of readLines(interFile)) {
    if (!rh) {
      const header = headerOf(line);
      rh = headerIndex(interFile, header, ['user_id', 'item_id', 'rating', 'timestamp']);
      nFields = header.length;
      continue;
    }
    if (line === '') continue;
    const r = parseRatingRow(line.split('\t'), nFields, rh, interFile, no, log);
    if (r) ratings.push(r);
  }
  if (!rh) throw new DataError(interFile, 1, undefined, 'file is empty: expected a header row');
  const files = [interFile, itemFile];
  const userFile = findSourceFile(dir, [`${name}.user`]);
  if (userFile) files.push(userFile);
  return {
    layout: 'recbole', dir, name, files, ratingFile: interFile, catalog, ratings,
    notes: [`RecBole atomic files ${name}.inter/.item: titles come without the year (RecBole moved it to release_year); ` +
      'genres = the class token_seq split on spaces.' + (userFile ? ` ${name}.user is hashed for provenance but not used.` : '')],
  };
}

function parseRatingRow(
  f: string[], nFields: number, h: Record<string, number>, file: string, line: number, log: DropLog,
  names = { user: 'user_id', item: 'item_id' },
): RawRating | undefined {
  const where = () => `${file}:${line}`;
  if (f.length !== nFields) {
    drop(log, 'rating: wrong number of fields', where());
    return undefined;
  }
  const user = f[h[names.user]].trim();
  const item = f[h[names.item]].trim();
  if (!user || !item) {
    drop(log, 'rating: empty user or item id', where());
    return undefined;
  }
  const rating = parseFiniteNumber(f[h.rating]);
  if (rating === undefined) {
    drop(log, 'rating: rating not a number', where());
    return undefined;
  }
  const timestamp = parseFiniteNumber(f[h.timestamp]);
  if (timestamp === undefined) {
    drop(log, 'rating: timestamp not a number', where());
    return undefined;
  }
  return { user, item, rating, timestamp, line };
}

async function readGroupLensCsv(dir: string, log: DropLog): Promise<Source> {
  const ratingFile = requireSourceFile(dir, ['ratings.csv'], 'MovieLens ratings.csv');
  const movieFile = requireSourceFile(dir, ['movies.csv'], 'MovieLens movies.csv');
  const tagFile = findSourceFile(dir, ['tags.csv']);

  const catalog: CatalogEntry[] = [];
  const seen = new Map<string, number>();
  let mh: Record<string, number> | undefined;
  let nMovieFields = 0;
  for await (const [rec, no] of readCsv(movieFile)) {
    if (!mh) {
      mh = headerIndex(movieFile, rec, ['movieId', 'title'], ['genres']);
      nMovieFields = rec.length;
      continue;
    }
    if (rec.length !== nMovieFields) {
      throw new DataError(movieFile, no, undefined, `expected ${nMovieFields} fields like the header, got ${rec.length}`);
    }
    const ext = rec[mh.movieId].trim();
    if (ext === '') throw new DataError(movieFile, no, 'movieId', 'empty movie id');
    dupCheck(seen, movieFile, no, 'movieId', ext);
    const { title, year } = splitTitleYear(rec[mh.title]);
    if (title === '') throw new DataError(movieFile, no, 'title', `empty title for movie ${ext}`);
    const g = mh.genres !== undefined ? (rec[mh.genres] ?? '').trim() : '';
    const genres = g === '' || g === '(no genres listed)' ? [] : g.split('|');
    catalog.push({ ext, title, year, genres });
  }
  if (!mh) throw new DataError(movieFile, 1, undefined, 'file is empty: expected a header row');

  const ratings: RawRating[] = [];
  let rh: Record<string, number> | undefined;
  let nFields = 0;
  for await (const [rec, no] of readCsv(ratingFile)) {
    if (!rh) {
      rh = headerIndex(ratingFile, rec, ['userId', 'movieId', 'rating', 'timestamp']);
      nFields = rec.length;
      continue;
    }
    const r = parseRatingRow(rec, nFields, rh, ratingFile, no, log, { user: 'userId', item: 'movieId' });
    if (r) ratings.push(r);
  }
  if (!rh) throw new DataError(ratingFile, 1, undefined, 'file is empty: expected a header row');

  let tags: Map<string, string[]> | undefined;
  const tagRows = new Map<string, number>();
  const files = [ratingFile, movieFile];
  if (tagFile) {
    files.push(tagFile);
    tags = new Map();
    let th: Record<string, number> | undefined;
    let nTagFields = 0;
    for await (const [rec, no] of readCsv(tagFile)) {
      if (!th) {
        th = headerIndex(tagFile, rec, ['movieId', 'tag']);
        nTagFields = rec.length;
        continue;
      }
      const where = `${tagFile}:${no}`;
      if (rec.length !== nTagFields) {
        drop(log, 'tag: wrong number of fields', where);
        continue;
      }
      const movie = rec[th.movieId].trim();
      const tag = rec[th.tag].trim();
      if (!movie || !tag) {
        drop(log, 'tag: empty movieId or tag', where);
        continue;
      }
      if (!seen.has(movie)) {
        drop(log, 'tag: movie not in movies.csv', where);
        continue;
      }
      tagRows.set(movie, (tagRows.get(movie) ?? 0) + 1);
      const list = tags.get(movie) ?? [];
      if (!list.includes(tag)) list.push(tag);
      tags.set(movie, list);
    }
  }
  return {
    layout: 'csv', dir, name: basename(dir), files, ratingFile, catalog, ratings, tags, tagRows,
    notes: [
      'GroupLens CSV: "Title (1995)" is split into title and year (a range like "(1975-1979)" or "(2007-)" gives ' +
        'the first year; titles without a year keep no year); genres split on "|", "(no genres listed)" → none.' +
        (tagFile ? ' tags = the distinct tags.csv tags of the movie in file order (case kept, trimmed).' : ''),
    ],
  };
}

/** The 19 genres of ml-100k's u.genre, used when u.genre is absent. */
const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
];

async function readGroupLens100k(dir: string, log: DropLog): Promise<Source> {
  const dataFile = requireSourceFile(dir, ['u.data'], 'MovieLens u.data');
  const itemFile = requireSourceFile(dir, ['u.item'], 'MovieLens u.item');
  const genreFile = findSourceFile(dir, ['u.genre']);
  const notes: string[] = [];
  let genres = ML100K_GENRES;
  if (genreFile) {
    genres = [];
    for await (const [line, no] of readLines(genreFile, 'latin1')) {
      if (line.trim() === '') continue;
      const [name, idx] = line.split('|');
      if (idx === undefined || !/^\d+$/.test(idx.trim())) throw new DataError(genreFile, no, undefined, 'expected "genre|index"');
      genres[Number(idx)] = name;
    }
  } else notes.push('u.genre is absent: the 19 standard ml-100k genre names were used.');

  const catalog: CatalogEntry[] = [];
  const seen = new Map<string, number>();
  for await (const [line, no] of readLines(itemFile, 'latin1')) {
    if (line === '') continue;
    const f = line.split('|');
    if (f.length !== 5 + genres.length) {
      throw new DataError(itemFile, no, undefined, `expected ${5 + genres.length} "|"-separated fields, got ${f.length}`);
    }
    const ext = f[0].trim();
    if (ext === '') throw new DataError(itemFile, no, 'movie id', 'empty movie id');
    dupCheck(seen, itemFile, no, 'movie id', ext);
    const split = splitTitleYear(f[1]);
    if (split.title === '') throw new DataError(itemFile, no, 'movie title', `empty title for movie ${ext}`);
    const dateYear = /(\d{4})\s*$/.exec(f[2]);
    const year = split.year ?? (dateYear ? Number(dateYear[1]) : undefined);
    const g = genres.filter((_, k) => f[5 + k].trim() === '1');
    catalog.push({ ext, title: split.title, year, genres: g });
  }

  const ratings: RawRating[] = [];
  const h = { user: 0, item: 1, rating: 2, timestamp: 3 };
  for await (const [line, no] of readLines(dataFile)) {
    if (line.trim() === '') continue;
    const r = parseRatingRow(line.split('\t'), 4, h, dataFile, no, log, { user: 'user', item: 'item' });
    if (r) ratings.push(r);
  }
  const files = [dataFile, itemFile];
  if (genreFile) files.push(genreFile);
  notes.push('GroupLens ml-100k (u.data, u.item latin1): "Title (1995)" split into title and year (year from the ' +
    'release date when the title has none); genres from the 19 u.item flags.');
  return { layout: 'grouplens', dir, name: basename(dir), files, ratingFile: dataFile, catalog, ratings, notes };
}

/** Reads MovieLens from `dir` in whichever supported layout it holds (see detectMovieLensLayout); W defaults to 20. */
export async function readMovieLens(dir: string, opts: { window?: number } = {}): Promise<Dataset> {
  const window = opts.window ?? 20;
  if (!Number.isInteger(window) || window < 1) throw new ConfigError('window', `expected an integer ≥ 1, got ${window}`);
  const found = detectMovieLensLayout(dir);
  const log = makeDropLog();
  const src =
    found.layout === 'recbole' ? await readRecBole(found.dir, log)
    : found.layout === 'csv' ? await readGroupLensCsv(found.dir, log)
    : await readGroupLens100k(found.dir, log);

  // Catalog = movies that occur in the kept ratings, numbered 1..N in catalog-file order (the R²ec protocol numbers
  // only items with interactions, spec §1); ratings of movies missing from the catalog are dropped and counted.
  const catalogIndex = new Map(src.catalog.map((c, k) => [c.ext, k]));
  const kept: { r: RawRating; c: number }[] = [];
  for (const r of src.ratings) {
    const c = catalogIndex.get(r.item);
    if (c === undefined) drop(log, 'rating: movie not in the item file', `${src.ratingFile}:${r.line}`);
    else kept.push({ r, c });
  }
  if (kept.length === 0) throw new DataError(found.dir, undefined, undefined, 'no ratings of known movies');
  const used = new Uint8Array(src.catalog.length);
  for (const k of kept) used[k.c] = 1;
  const itemId = new Int32Array(src.catalog.length);
  const items: Item[] = [padItem()];
  src.catalog.forEach((c, k) => {
    if (!used[k]) return;
    itemId[k] = items.length;
    const item: Item = { id: items.length, externalId: c.ext, title: c.title, categories: c.genres };
    if (c.year !== undefined) item.year = c.year;
    if (src.tags) item.tags = src.tags.get(c.ext) ?? [];
    items.push(item);
  });
  drop(log, 'item: in the item file but never rated', undefined, src.catalog.length - (items.length - 1));
  if (src.tagRows) {
    let unrated = 0;
    for (const [ext, n] of src.tagRows) if (!used[catalogIndex.get(ext)!]) unrated += n;
    drop(log, 'tag: movie never rated (not in the catalog)', undefined, unrated);
  }

  // Users: ascending numeric id when every id is numeric (MovieLens ids are), else first appearance.
  const extUsers = [...new Set(kept.map((k) => k.r.user))];
  if (extUsers.every((u) => /^\d+$/.test(u))) extUsers.sort((a, b) => Number(a) - Number(b));
  const userId = new Map(extUsers.map((u, k) => [u, k]));
  const interactions: Interaction[] = kept.map(({ r, c }) => ({
    user: userId.get(r.user)!, item: itemId[c], rating: r.rating, timestamp: r.timestamp,
  }));
  // Equal timestamps within a user keep rating-file order (spec §1 stable sort; see buildSamples for why not item id).
  const { samples, sequences } = buildSamples(interactions, window);
  const ordered: Interaction[] = [];
  for (let u = 0; u < extUsers.length; u++) ordered.push(...(sequences.get(u) ?? []));
  let tied = 0;
  for (const seq of sequences.values()) {
    for (let i = 0; i < seq.length; ) {
      let j = i + 1;
      while (j < seq.length && seq[j].timestamp === seq[i].timestamp) j++;
      if (j - i > 1) tied += j - i;
      i = j;
    }
  }

  const notes = [
    ...src.notes,
    `Layout "${src.layout}" detected in ${found.dir}.`,
    `Catalog: the ${items.length - 1} movies that occur in the ratings, numbered 1..N in item-file order ` +
      `(${src.catalog.length} in the item file; as the R²ec protocol, ids count only items with interactions).`,
    `Users: ${extUsers.length}, numbered 0..U−1 in ascending source id order (first appearance if ids are not numeric).`,
    `Tie-break: ${tied} ratings share a (user, timestamp) with another; within a user, equal timestamps keep the ` +
      'order of the rating file (spec §1 stable sort). Ordering them by item id would leak the target (see README).',
    `Samples: one per rating after the user's first, history = the previous ≤${window} (spec §1); split: all samples ` +
      'sorted by target timestamp (ties by user id, then position) and cut at int(n·0.8), int(n·0.9).',
    'Ratings are kept as given (no threshold): every rating is an interaction.',
    ...dropNotes(log),
  ];
  const files = [];
  for (const f of src.files) files.push(await fileProvenance(f, dir));
  return {
    name: src.name,
    domain: { singular: 'movie', plural: 'movies', verb: 'watch' },
    items,
    users: extUsers,
    interactions: ordered,
    samples: chronologicalSplit(samples),
    window,
    provenance: {
      source: src.layout === 'recbole' ? 'movielens-recbole' : src.layout === 'csv' ? 'movielens-csv' : 'movielens-grouplens',
      files,
      options: { window, layout: src.layout },
      dropped: log.dropped,
      notes,
      synthetic: false,
      key: '',
    },
  };
}

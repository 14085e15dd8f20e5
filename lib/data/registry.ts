// Dataset registry: which datasets exist under the data root, which reader builds each, and the one entry point
// `loadDataset(name, opts)` that validates options, reads (or reloads from the processed-data cache) and fills
// provenance.key. The data root is R2EC_DATA_DIR (resolved against cwd) or ./data.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, R2ecError } from '../util/errors';
import { sha256 } from '../util/hash';
import { cached, cacheKey, describeFiles, normalizeItems } from './cache';
import { generateSynthetic, SYNTHETIC_DEFAULTS, SYNTHETIC_VERSION, type SyntheticOptions } from './synthetic';
import type { Dataset } from './types';
import { envValue } from '../util/env';

export type ReaderId = 'movielens' | 'd3' | 'goodreads' | 'amazon2023' | 'synthetic';

export interface DatasetEntry {
  /** registry name: ml-100k, ml-latest-small, cds, goodreads, amazon2023-<Category>, synthetic */
  name: string;
  /** absolute folder ('' for synthetic) */
  dir: string;
  reader: ReaderId;
}

/** Options that shape a dataset (they enter the cache key). Which apply depends on the reader (READER_OPTIONS). */
export interface DatasetOptions extends Omit<SyntheticOptions, 'start'> {
  /** history window W (spec §1; default 20) */
  window?: number;
  /** Amazon 2023: iterative K-core (default 0) */
  kCore?: number;
  /** Amazon 2023: time window "YYYY-MM" (inclusive month starts); synthetic: first day "YYYY-MM-DD" */
  start?: string;
  end?: string;
  /** Amazon 2023: the 10k-items roll-back threshold */
  minItems?: number;
  /** goodreads / synthetic seed */
  seed?: number;
}

export interface LoadOptions extends DatasetOptions {
  /** data root (default dataRoot()) */
  root?: string;
  /** use the processed-data cache (default true) */
  cache?: boolean;
}

/** Bump a reader's version when its output changes in a way its source digest would not show. */
export const READER_VERSION: Record<ReaderId, number> = {
  movielens: 2, // 2: equal timestamps keep file order (was: item id)
  d3: 1,
  goodreads: 1,
  amazon2023: 1,
  synthetic: SYNTHETIC_VERSION,
};

/** Options each reader accepts; any other key is a ConfigError (never silently ignored). */
export const READER_OPTIONS: Record<ReaderId, string[]> = {
  movielens: ['window'],
  d3: ['window'],
  goodreads: ['seed'],
  amazon2023: ['window', 'kCore', 'start', 'end', 'minItems'],
  synthetic: Object.keys(SYNTHETIC_DEFAULTS),
};

const LOADER_KEYS = ['root', 'cache'];
const DEFAULT_WINDOW = 20;

/** The known dataset names (amazon2023-<Category> stands for any category). */
export const KNOWN_DATASETS = ['ml-100k', 'ml-latest-small', 'cds', 'goodreads', 'amazon2023-<Category>', 'synthetic'];
/** Names `r2ec data download` can fetch. */
export const DOWNLOADABLE = ['ml-100k', 'ml-latest-small', 'amazon2023-<Category>'];

export function isDownloadable(name: string): boolean {
  return name === 'ml-100k' || name === 'ml-latest-small' || AMAZON_NAME.test(name);
}

const AMAZON_NAME = /^amazon2023-([A-Za-z0-9_]+)$/;

export function dataRoot(): string {
  return path.resolve(envValue('R2EC_DATA_DIR') ?? './data');
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function firstExisting(dir: string, names: string[]): string | undefined {
  return names.map((n) => path.join(dir, n)).find((p) => existsSync(p));
}

/** Amazon 2023 file pair of a category folder, or undefined if incomplete. */
function amazonFiles(dir: string, category: string): string[] | undefined {
  const inter = firstExisting(dir, [`${category}.csv.gz`, `${category}.csv`]);
  const meta = firstExisting(dir, [`meta_${category}.jsonl.gz`, `meta_${category}.jsonl`]);
  return inter && meta ? [inter, meta] : undefined;
}

// Marker files that make a folder count as present (a half-downloaded folder does not).
function movielensPresent(dir: string): boolean {
  return (
    isDir(dir) &&
    readdirSync(dir).some((f) => /\.inter(\.gz)?$|^u\.data(\.gz)?$|^ratings\.csv(\.gz)?$/.test(f))
  );
}

/** Resolve one name against a root without throwing; undefined if absent or unknown. */
function findEntry(name: string, root: string): DatasetEntry | undefined {
  if (name === 'synthetic') return { name, dir: '', reader: 'synthetic' };
  if (name === 'ml-100k') {
    const dir = path.join(root, 'ml-100k');
    return movielensPresent(dir) ? { name, dir, reader: 'movielens' } : undefined;
  }
  if (name === 'ml-latest-small') {
    for (const f of ['ml-latest-small-2016', 'ml-latest-small']) {
      const dir = path.join(root, f);
      if (movielensPresent(dir)) return { name, dir, reader: 'movielens' };
    }
    return undefined;
  }
  if (name === 'cds') {
    const dir = path.join(root, 'amazon2018-CDs_and_Vinyl-D3');
    return isDir(path.join(dir, 'info')) ? { name, dir, reader: 'd3' } : undefined;
  }
  if (name === 'goodreads') {
    const dir = path.join(root, 'goodreads-SPRec');
    return isDir(dir) && readdirSync(dir).length > 0 ? { name, dir, reader: 'goodreads' } : undefined;
  }
  const m = AMAZON_NAME.exec(name);
  if (m) {
    const dir = path.join(root, name);
    return isDir(dir) && amazonFiles(dir, m[1]) ? { name, dir, reader: 'amazon2023' } : undefined;
  }
  return undefined;
}

/** Datasets present under the data root, plus `synthetic` (always available, last). */
export function availableDatasets(root = dataRoot()): DatasetEntry[] {
  const out: DatasetEntry[] = [];
  if (isDir(root)) {
    for (const n of ['ml-100k', 'ml-latest-small', 'cds', 'goodreads']) {
      const e = findEntry(n, root);
      if (e) out.push(e);
    }
    for (const f of readdirSync(root).sort()) {
      if (AMAZON_NAME.test(f)) {
        const e = findEntry(f, root);
        if (e) out.push(e);
      }
    }
  }
  out.push({ name: 'synthetic', dir: '', reader: 'synthetic' });
  return out;
}

/** 'ml-100k' when the data root holds it, else 'synthetic'. */
export function defaultDataset(root = dataRoot()): string {
  return findEntry('ml-100k', root) ? 'ml-100k' : 'synthetic';
}

/** The one clear error for a dataset we cannot serve (one line, lists what is available and how to get more). */
export function unavailableError(name: string, root: string): R2ecError {
  const avail = availableDatasets(root).map((e) => e.name);
  const known = KNOWN_DATASETS.includes(name) || AMAZON_NAME.test(name);
  const what = !known
    ? `unknown dataset "${name}" (known: ${KNOWN_DATASETS.join(', ')})`
    : !isDir(root)
      ? `dataset "${name}" not found: data root ${root} does not exist`
      : `dataset "${name}" not found in data root ${root} (expected folder ${expectedFolder(name)})`;
  const download = isDownloadable(name)
    ? `run \`r2ec data download ${name}\``
    : `run \`r2ec data download <name>\` for ${DOWNLOADABLE.join(', ')}`;
  return new R2ecError(
    `${what}; available: ${avail.join(', ')}; set R2EC_DATA_DIR to the folder that holds the dataset folders ` +
      `(e.g. R2EC_DATA_DIR=../shared/data) or ${download}`,
  );
}

function expectedFolder(name: string): string {
  if (name === 'ml-100k') return 'ml-100k/';
  if (name === 'ml-latest-small') return 'ml-latest-small-2016/ or ml-latest-small/';
  if (name === 'cds') return 'amazon2018-CDs_and_Vinyl-D3/';
  if (name === 'goodreads') return 'goodreads-SPRec/';
  const m = AMAZON_NAME.exec(name);
  if (m) return `${name}/ with ${m[1]}.csv.gz and meta_${m[1]}.jsonl.gz`;
  return `${name}/`;
}

/** Resolve a name to its entry or throw the one clear error. */
export function resolveDataset(name: string, root = dataRoot()): DatasetEntry {
  const e = findEntry(name, root);
  if (!e) throw unavailableError(name, root);
  return e;
}

/** Source files of an entry: Amazon's file pair, else every regular file under the folder (no dotfiles). */
export function sourceFiles(entry: DatasetEntry): string[] {
  if (entry.reader === 'synthetic') return [];
  const m = AMAZON_NAME.exec(entry.name);
  if (entry.reader === 'amazon2023' && m) return amazonFiles(entry.dir, m[1]) ?? [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d).sort()) {
      if (f.startsWith('.') || f.endsWith('.part') || f.endsWith('.md5')) continue;
      const p = path.join(d, f);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(entry.dir);
  return out;
}

const READER_MODULE: Record<ReaderId, string> = {
  movielens: 'movielens.ts',
  d3: 'd3.ts',
  goodreads: 'goodreads.ts',
  amazon2023: 'amazon2023.ts',
  synthetic: 'synthetic.ts',
};

/**
 * Digest of the reader's source and the lib/data modules it imports (transitively), so that editing a reader
 * invalidates its cached datasets even if nobody bumps READER_VERSION.
 */
export function readerCodeDigest(reader: ReaderId): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    let src: string;
    try {
      src = readFileSync(path.join(__dirname, file), 'utf8');
    } catch {
      return;
    }
    parts.push(`${file}:${sha256(src)}`);
    for (const m of src.matchAll(/from\s+'\.\/([A-Za-z0-9_-]+)'/g)) visit(`${m[1]}.ts`);
  };
  visit(READER_MODULE[reader]);
  return sha256(parts.sort().join('\n')).slice(0, 16);
}

/** Validate option keys against the reader; returns the options that shape the dataset (undefined dropped). */
export function datasetOptions(entry: DatasetEntry, opts: LoadOptions): Record<string, unknown> {
  const allowed = READER_OPTIONS[entry.reader];
  const all = new Set([...Object.values(READER_OPTIONS).flat(), ...LOADER_KEYS]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (!all.has(k)) throw new ConfigError(`data.${k}`, `unknown dataset option (known: ${[...all].join(', ')})`);
    if (LOADER_KEYS.includes(k) || v === undefined) continue;
    if (!allowed.includes(k))
      throw new ConfigError(`data.${k}`, `does not apply to dataset ${entry.name} (${entry.reader} reader takes: ${allowed.join(', ')})`);
    out[k] = v;
  }
  if (out.window !== undefined && !(Number.isInteger(out.window) && (out.window as number) >= 1))
    throw new ConfigError('data.window', `must be an integer ≥ 1, got ${String(out.window)}`);
  if (allowed.includes('window') && out.window === undefined) out.window = DEFAULT_WINDOW;
  return out;
}

// Readers load on first use: listing datasets or a cache hit does not pay for them, and one reader's trouble does
// not break the others.
// (require, not import(): bin/r2ec.js registers tsx for CommonJS only, and dynamic import() goes through ESM.)
async function readEntry(entry: DatasetEntry, o: Record<string, unknown>): Promise<Dataset> {
  switch (entry.reader) {
    case 'movielens': {
      const m = require('./movielens') as typeof import('./movielens');
      return m.readMovieLens(entry.dir, o as { window?: number });
    }
    case 'd3': {
      const m = require('./d3') as typeof import('./d3');
      return m.readD3(entry.dir, o as { window?: number });
    }
    case 'goodreads': {
      const m = require('./goodreads') as typeof import('./goodreads');
      return m.readGoodreads(entry.dir, o as { seed?: number });
    }
    case 'amazon2023': {
      const m = require('./amazon2023') as typeof import('./amazon2023');
      return m.readAmazon2023(entry.dir, { ...(o as object), category: AMAZON_NAME.exec(entry.name)![1] });
    }
    case 'synthetic':
      return generateSynthetic(o as SyntheticOptions);
  }
}

export interface PreparedDataset {
  dataset: Dataset;
  entry: DatasetEntry;
  /** cache file ('' for synthetic, which is generated in ~0.2 s and not cached) */
  cachePath: string;
  /** true when the dataset came from the cache */
  cacheHit: boolean;
}

/** loadDataset with where it came from (for `r2ec data prepare`). */
export async function prepareDataset(name: string, opts: LoadOptions = {}): Promise<PreparedDataset> {
  const root = opts.root ? path.resolve(opts.root) : dataRoot();
  const entry = resolveDataset(name, root);
  const o = datasetOptions(entry, opts);
  if (entry.reader === 'synthetic') {
    const ds = normalizeItems(generateSynthetic(o as SyntheticOptions));
    return { dataset: ds, entry, cachePath: '', cacheHit: false };
  }
  const files = (await describeFiles(sourceFiles(entry))).map((f) => ({ ...f, path: path.relative(entry.dir, f.path) }));
  const key = cacheKey({
    reader: entry.reader,
    readerVersion: `${READER_VERSION[entry.reader]}:${readerCodeDigest(entry.reader)}`,
    files,
    options: o,
  });
  const { dataset, path: cachePath, hit } = await cached(
    entry.name,
    key,
    async () => {
      const ds = await readEntry(entry, o);
      // results say the registry name (e.g. "cds"), whatever the reader calls it
      ds.name = entry.name;
      return ds;
    },
    { useCache: opts.cache !== false },
  );
  return { dataset, entry, cachePath, cacheHit: hit };
}

/** Load a dataset by registry name (cached; see cache.ts). Unknown option keys → ConfigError. */
export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<Dataset> {
  return (await prepareDataset(name, opts)).dataset;
}

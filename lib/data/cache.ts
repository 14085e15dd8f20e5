// Processed-dataset cache: `<project>/data/processed/<name>-<key>.r2ds` (R2EC_CACHE_DIR overrides the folder).
// The key hashes the source files (size + sha256 of content), the options and the reader version, so a changed
// file, option or reader never serves a stale dataset. The file is a compact binary: a JSON header (items as
// columns, users, provenance) followed by typed-array columns for interactions and samples. Samples are stored as
// indices into the interaction table, so after a reload every history shares the Interaction objects of
// `ds.interactions`, exactly as the readers build them.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { Dataset, Interaction, Item, Sample, SplitName } from './types';
import { sha256, sha256File, stableStringify } from '../util/hash';
import { envValue } from '../util/env';

/** Bump when the binary layout below changes: old cache files then fail the magic check and are rebuilt. */
export const CACHE_FORMAT_VERSION = 1;
const MAGIC = `R2DS${CACHE_FORMAT_VERSION}`;

export interface SourceFile {
  path: string;
  bytes: number;
  sha256: string;
}

/** The project root: the nearest folder above this file that holds package.json. */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export function cacheDir(): string {
  const env = envValue('R2EC_CACHE_DIR');
  return env ? path.resolve(env) : path.join(projectRoot(), 'data', 'processed');
}

// sha256 of big files (Amazon metadata runs to GBs) is memoised by (path, size, mtime) in the cache folder, so a
// cache hit costs a stat per file, not a full read. Content still decides the key: a touched but unchanged file
// hashes to the same value.
type HashMemo = Record<string, { bytes: number; mtimeMs: number; sha256: string }>;
const MEMO_FILE = 'file-hashes.json';

function readMemo(): HashMemo {
  try {
    return JSON.parse(readFileSync(path.join(cacheDir(), MEMO_FILE), 'utf8')) as HashMemo;
  } catch {
    return {};
  }
}

/** Size and sha256 of each file (paths resolved to absolute; recorded as given). */
export async function describeFiles(files: string[]): Promise<SourceFile[]> {
  const memo = readMemo();
  let changed = false;
  const out: SourceFile[] = [];
  for (const f of files) {
    const abs = path.resolve(f);
    const st = statSync(abs);
    const m = memo[abs];
    let hash: string;
    if (m && m.bytes === st.size && m.mtimeMs === st.mtimeMs) hash = m.sha256;
    else {
      hash = await sha256File(abs);
      memo[abs] = { bytes: st.size, mtimeMs: st.mtimeMs, sha256: hash };
      changed = true;
    }
    out.push({ path: f, bytes: st.size, sha256: hash });
  }
  if (changed) {
    try {
      mkdirSync(cacheDir(), { recursive: true });
      atomicWrite(path.join(cacheDir(), MEMO_FILE), JSON.stringify(memo));
    } catch {
      // the memo is an optimisation only
    }
  }
  return out;
}

/**
 * The cache key: sha256 over the reader id and version, the options (stable key order) and each source file's
 * path as given (callers pass paths relative to the dataset folder, so moving the data root keeps the key), size
 * and content hash. File order does not matter. 32 hex characters.
 */
export function cacheKey(parts: {
  reader: string;
  readerVersion: string | number;
  files: SourceFile[];
  options: Record<string, unknown>;
}): string {
  const files = parts.files.map((f) => ({ name: f.path.split(path.sep).join('/'), bytes: f.bytes, sha256: f.sha256 }));
  files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.sha256 < b.sha256 ? -1 : 1));
  return sha256(
    stableStringify({
      format: CACHE_FORMAT_VERSION,
      reader: parts.reader,
      readerVersion: parts.readerVersion,
      options: parts.options,
      files,
    }),
  ).slice(0, 32);
}

export function cachePath(name: string, key: string): string {
  return path.join(cacheDir(), `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${key.slice(0, 16)}.r2ds`);
}

// ---------------------------------------------------------------------------------------------------------------
// Binary layout: MAGIC (5 bytes) | u32 header length | header JSON | padding to 8 | Float64 columns | Int32 columns.
// The header records every column's length and a crc32 of the binary part, so truncation or bit rot is detected.

interface Header {
  name: string;
  domain: Dataset['domain'];
  window: number;
  provenance: Dataset['provenance'];
  users: string[];
  /** items as columns: key → values (null = key absent on that item) */
  itemColumns: Record<string, unknown[]>;
  numItems: number;
  /** interactions in ds.interactions; extra ones (referenced by samples only) follow them */
  numInteractions: number;
  numPool: number;
  splits: Record<SplitName, number>;
  flatLength: number;
  crc: number;
}

const SPLITS: SplitName[] = ['train', 'valid', 'test'];

function itemsToColumns(items: Item[]): Record<string, unknown[]> {
  const keys = new Set<string>();
  for (const it of items) for (const k of Object.keys(it)) if ((it as unknown as Record<string, unknown>)[k] !== undefined) keys.add(k);
  const cols: Record<string, unknown[]> = {};
  for (const k of keys) cols[k] = items.map((it) => (it as unknown as Record<string, unknown>)[k] ?? null);
  return cols;
}

function columnsToItems(cols: Record<string, unknown[]>, n: number): Item[] {
  const keys = Object.keys(cols);
  const items: Item[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const it: Record<string, unknown> = {};
    for (const k of keys) {
      const v = cols[k][i];
      if (v !== null) it[k] = v;
    }
    items[i] = it as unknown as Item;
  }
  return items;
}

/** Serialise a dataset (see the layout above). Interactions referenced by samples but absent from
 *  `ds.interactions` (a reader that builds history objects separately) are matched by value or kept in a pool. */
export function serializeDataset(ds: Dataset): Buffer {
  const index = new Map<Interaction, number>();
  const byValue = new Map<string, number>();
  const pool: Interaction[] = [];
  const vkey = (it: Interaction) => `${it.user}|${it.item}|${it.timestamp}|${it.rating}`;
  const add = (it: Interaction): number => {
    const at = pool.length;
    pool.push(it);
    index.set(it, at);
    const k = vkey(it);
    if (!byValue.has(k)) byValue.set(k, at);
    return at;
  };
  for (const it of ds.interactions) add(it);
  const numInteractions = pool.length;
  const idxOf = (it: Interaction): number => {
    const i = index.get(it);
    if (i !== undefined) return i;
    const j = byValue.get(vkey(it));
    if (j !== undefined) return j;
    return add(it);
  };

  const all: Sample[] = [...ds.samples.train, ...ds.samples.valid, ...ds.samples.test];
  const n = all.length;
  const sIndex = new Int32Array(n);
  const sUser = new Int32Array(n);
  const sTarget = new Int32Array(n);
  // history: a contiguous ascending run of the pool (start, len ≥ 0) or, if not, -len indices at flat[start..]
  const hStart = new Int32Array(n);
  const hLen = new Int32Array(n);
  const flat: number[] = [];
  for (let s = 0; s < n; s++) {
    const sm = all[s];
    sIndex[s] = sm.index;
    sUser[s] = sm.user;
    sTarget[s] = idxOf(sm.target);
    const h = sm.history.map(idxOf);
    let contiguous = true;
    for (let j = 1; j < h.length; j++) if (h[j] !== h[j - 1] + 1) contiguous = false;
    if (contiguous) {
      hStart[s] = h.length ? h[0] : 0;
      hLen[s] = h.length;
    } else {
      hStart[s] = flat.length;
      hLen[s] = -h.length;
      for (const x of h) flat.push(x);
    }
  }
  const m = pool.length;
  const rating = new Float64Array(m);
  const timestamp = new Float64Array(m);
  const user = new Int32Array(m);
  const item = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    rating[i] = pool[i].rating;
    timestamp[i] = pool[i].timestamp;
    user[i] = pool[i].user;
    item[i] = pool[i].item;
  }
  const binary = Buffer.concat([
    f64(rating),
    f64(timestamp),
    i32(user),
    i32(item),
    i32(sIndex),
    i32(sUser),
    i32(sTarget),
    i32(hStart),
    i32(hLen),
    i32(Int32Array.from(flat)),
  ]);
  const header: Header = {
    name: ds.name,
    domain: ds.domain,
    window: ds.window,
    provenance: ds.provenance,
    users: ds.users,
    itemColumns: itemsToColumns(ds.items),
    numItems: ds.items.length,
    numInteractions,
    numPool: m,
    splits: { train: ds.samples.train.length, valid: ds.samples.valid.length, test: ds.samples.test.length },
    flatLength: flat.length,
    crc: crc32(binary),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(MAGIC.length + 4);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length, MAGIC.length);
  const used = head.length + json.length;
  const pad = Buffer.alloc((8 - (used % 8)) % 8);
  return Buffer.concat([head, json, pad, binary]);
}

function f64(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
function i32(a: Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Inverse of serializeDataset; throws an Error describing the damage on any inconsistency. */
export function deserializeDataset(buf: Buffer): Dataset {
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC)
    throw new Error('not an r2ec dataset cache file of this format version');
  const jsonLen = buf.readUInt32LE(MAGIC.length);
  const jsonStart = MAGIC.length + 4;
  if (jsonStart + jsonLen > buf.length) throw new Error('truncated header');
  const header = JSON.parse(buf.toString('utf8', jsonStart, jsonStart + jsonLen)) as Header;
  const used = jsonStart + jsonLen;
  const binStart = used + ((8 - (used % 8)) % 8);
  const m = header.numPool;
  const nSamples = header.splits.train + header.splits.valid + header.splits.test;
  const expected = m * 8 * 2 + m * 4 * 2 + nSamples * 4 * 5 + header.flatLength * 4;
  if (buf.length - binStart !== expected)
    throw new Error(`binary part has ${buf.length - binStart} bytes, header says ${expected}`);
  // copy into a fresh, aligned ArrayBuffer: Buffer's pool offset need not be a multiple of 8
  const bin = new Uint8Array(expected);
  bin.set(buf.subarray(binStart));
  if (crc32(bin) !== header.crc) throw new Error('checksum mismatch');
  let off = 0;
  const takeF64 = (len: number) => {
    const a = new Float64Array(bin.buffer, off, len);
    off += len * 8;
    return a;
  };
  const takeI32 = (len: number) => {
    const a = new Int32Array(bin.buffer, off, len);
    off += len * 4;
    return a;
  };
  const rating = takeF64(m);
  const timestamp = takeF64(m);
  const user = takeI32(m);
  const item = takeI32(m);
  const sIndex = takeI32(nSamples);
  const sUser = takeI32(nSamples);
  const sTarget = takeI32(nSamples);
  const hStart = takeI32(nSamples);
  const hLen = takeI32(nSamples);
  const flat = takeI32(header.flatLength);

  const pool: Interaction[] = new Array(m);
  for (let i = 0; i < m; i++) pool[i] = { user: user[i], item: item[i], rating: rating[i], timestamp: timestamp[i] };
  const at = (i: number) => {
    const it = pool[i];
    if (!it) throw new Error(`sample refers to interaction ${i} of ${m}`);
    return it;
  };
  const samples: Sample[] = new Array(nSamples);
  for (let s = 0; s < nSamples; s++) {
    const len = hLen[s];
    let history: Interaction[];
    if (len >= 0) {
      if (hStart[s] + len > m) throw new Error(`history run beyond the interaction table at sample ${s}`);
      history = pool.slice(hStart[s], hStart[s] + len);
    } else {
      history = new Array(-len);
      for (let j = 0; j < -len; j++) history[j] = at(flat[hStart[s] + j]);
    }
    samples[s] = { index: sIndex[s], user: sUser[s], history, target: at(sTarget[s]) };
  }
  const { train, valid } = header.splits;
  return {
    name: header.name,
    domain: header.domain,
    items: columnsToItems(header.itemColumns, header.numItems),
    users: header.users,
    interactions: pool.slice(0, header.numInteractions),
    samples: {
      train: samples.slice(0, train),
      valid: samples.slice(train, train + valid),
      test: samples.slice(train + valid),
    },
    window: header.window,
    provenance: header.provenance,
  };
}

function atomicWrite(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/** Read a cache file; undefined when absent. A damaged file is deleted with a warning (and then rebuilt). */
export function readCache(file: string, warn: (msg: string) => void = (m) => process.emitWarning(m)): Dataset | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return deserializeDataset(readFileSync(file));
  } catch (err) {
    warn(`discarding corrupt dataset cache ${file} (${(err as Error).message}); rebuilding it`);
    try {
      unlinkSync(file);
    } catch {
      // already gone
    }
    return undefined;
  }
}

export function writeCache(file: string, ds: Dataset): void {
  mkdirSync(path.dirname(file), { recursive: true });
  atomicWrite(file, serializeDataset(ds));
}

/** Drop keys whose value is undefined, so a fresh dataset deep-equals its reload (JSON has no undefined). */
export function normalizeItems(ds: Dataset): Dataset {
  for (const it of ds.items) {
    const o = it as unknown as Record<string, unknown>;
    for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  }
  return ds;
}

/**
 * Return the cached dataset for (name, key) or build, cache and return it. `hit` says which happened.
 * The key is written into provenance.key before caching.
 */
export async function cached(
  name: string,
  key: string,
  build: () => Promise<Dataset>,
  opts: { warn?: (msg: string) => void; useCache?: boolean } = {},
): Promise<{ dataset: Dataset; path: string; hit: boolean }> {
  const file = cachePath(name, key);
  if (opts.useCache !== false) {
    const ds = readCache(file, opts.warn);
    if (ds && ds.provenance.key === key) return { dataset: ds, path: file, hit: true };
  }
  const ds = normalizeItems(await build());
  ds.provenance.key = key;
  if (opts.useCache !== false) writeCache(file, ds);
  return { dataset: ds, path: file, hit: false };
}

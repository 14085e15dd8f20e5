// Shared helpers of the real-data readers (amazon2023, d3, movielens, goodreads): finding source files (plain or
// .gz), reading them line by line or as CSV with 1-based line numbers, file provenance, and drop counting.
//
// BAD-INPUT POLICY (every reader follows it; test/data-broken.test.ts checks each case):
//  Thrown as DataError naming the file, the 1-based line where known, and the field:
//   - a required file is missing (the message lists the names tried, with and without .gz);
//   - a required column is missing from a header, or a header is missing altogether;
//   - CSV quoting that cannot be parsed (after a broken quote the rest of the file cannot be trusted);
//   - a JSON line (JSONL) or a JSON file that cannot be parsed (usually a truncated download);
//   - a catalog problem: a duplicate item id (or title, where titles are the ids), an empty title in a catalog that
//     has no title filter of its own (MovieLens, D3 info, GoodReads id2name), a catalog row with the wrong number
//     of fields, item ids that are not 0..N−1 where the reader maps source id k to our id k+1, a D3 ASIN seen with
//     two different item ids, a GoodReads name2id entry that disagrees with id2name;
//     (Amazon metadata is the exception: its item problems — no title, empty title, no parent_asin, a repeated
//     parent_asin — are dropped and counted, because the spec's own filter drops items and one odd record in a
//     multi-GB file should not stop a run);
//   - a list column whose Python literal cannot be parsed, or whose history lists differ in length (D3);
//   - nothing usable left (no interactions, no samples).
//  Dropped and counted in provenance.dropped (reason → count), with the first place it happened in provenance.notes:
//   - a data row (rating, review, D3 sample row, tag, GoodReads record) with the wrong number of fields, an empty
//     or missing required value, or a rating/timestamp that is not a finite number;
//   - an interaction whose item is not in the catalog (unknown item id or title), and, for Amazon, whose item did
//     not survive the spec's item filter;
//   - rows removed by the protocol itself (time window, K-core, Amazon item filter reasons, duplicate events);
//   - catalog items that end up without interactions, where the protocol only numbers items that occur.
//  Blank lines are not records and are skipped. Nothing else is skipped.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip, gunzipSync } from 'node:zlib';
import { parse as parseCsvStream } from 'csv-parse';
import { DataError } from '../util/errors';

export interface FileProvenance {
  path: string;
  bytes: number;
  sha256: string;
}

/** First of `names` (each tried as is and with .gz) that exists in `dir`, else undefined. */
export function findSourceFile(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    for (const candidate of [name, `${name}.gz`]) {
      const p = join(dir, candidate);
      if (existsSync(p) && statSync(p).isFile()) return p;
    }
  }
  return undefined;
}

/** Like findSourceFile, but a missing file is a DataError that lists every name tried. */
export function requireSourceFile(dir: string, names: string[], what: string): string {
  const found = findSourceFile(dir, names);
  if (found) return found;
  const tried = names.flatMap((n) => [n, `${n}.gz`]).join(', ');
  throw new DataError(join(dir, names[0]), undefined, undefined, `${what} not found (looked for ${tried} in ${dir})`);
}

/** Size and sha256 of a source file, path relative to the dataset folder (so provenance does not depend on where
 * the data root lives). */
export async function fileProvenance(path: string, baseDir: string): Promise<FileProvenance> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { path: relative(baseDir, path) || basename(path), bytes, sha256: hash.digest('hex') };
}

function openStream(path: string): Readable {
  const raw = createReadStream(path);
  if (!path.endsWith('.gz')) return raw;
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

function wrapIoError(path: string, err: unknown): never {
  if (err instanceof DataError) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  throw new DataError(path, undefined, undefined, `cannot read file: ${msg}`);
}

/** Whole file as text (gunzipped when it ends in .gz). For the small catalog and JSON files. */
export async function readText(path: string, encoding: BufferEncoding = 'utf8'): Promise<string> {
  try {
    let buf = await readFile(path);
    if (path.endsWith('.gz')) buf = gunzipSync(buf);
    let text = buf.toString(encoding);
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return text;
  } catch (err) {
    wrapIoError(path, err);
  }
}

/** Lines of a plain or .gz file with their 1-based numbers; '\r\n' endings and a leading BOM are removed. */
export async function* readLines(path: string, encoding: BufferEncoding = 'utf8'): AsyncGenerator<[string, number]> {
  const stream = openStream(path);
  stream.setEncoding(encoding);
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of rl) {
      n++;
      yield [n === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line, n];
    }
  } catch (err) {
    wrapIoError(path, err);
  } finally {
    rl.close();
    stream.destroy();
  }
}

/**
 * Records of a CSV file (plain or .gz) parsed by csv-parse, each with the 1-based line it starts on. Rows may have
 * any number of fields (the caller counts bad ones); blank lines are skipped; broken quoting is a DataError.
 */
export async function* readCsv(path: string, delimiter = ','): AsyncGenerator<[string[], number]> {
  const parser = openStream(path).pipe(
    parseCsvStream({ delimiter, bom: true, info: true, relax_column_count: true, skip_empty_lines: false }),
  );
  let prevEnd = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const start = prevEnd + 1;
      prevEnd = info.lines;
      if (record.length === 1 && record[0] === '') continue; // blank line
      yield [record, start];
    }
  } catch (err) {
    const e = err as { code?: string; lines?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('CSV_')) {
      throw new DataError(path, e.lines, undefined, `CSV cannot be parsed: ${e.message}`);
    }
    wrapIoError(path, err);
  } finally {
    parser.destroy();
  }
}

/** Column positions of `required` (and any present `optional`) in a header row; a missing one is a DataError. */
export function headerIndex(
  file: string,
  header: string[] | undefined,
  required: string[],
  optional: string[] = [],
): Record<string, number> {
  if (!header) throw new DataError(file, 1, undefined, 'file is empty: expected a header row');
  const names = header.map((h) => h.trim());
  const idx: Record<string, number> = {};
  for (const col of required) {
    const k = names.indexOf(col);
    if (k < 0) {
      throw new DataError(file, 1, col, `required column "${col}" is missing (header: ${names.join(', ')})`);
    }
    idx[col] = k;
  }
  for (const col of optional) {
    const k = names.indexOf(col);
    if (k >= 0) idx[col] = k;
  }
  return idx;
}

/** A strict number: the whole trimmed string must be a finite decimal number ("", "4 stars", "NaN" are not). */
export function parseFiniteNumber(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '' || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  const v = Number(t);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Counts dropped rows by reason for provenance.dropped and remembers where each reason first happened, so the
 * report can point at a line. One per reader call; plain object state, no hidden globals.
 */
export interface DropLog {
  dropped: Record<string, number>;
  first: Record<string, string>;
}

export function makeDropLog(): DropLog {
  return { dropped: {}, first: {} };
}

export function drop(log: DropLog, reason: string, where?: string, n = 1): void {
  if (n <= 0) return;
  log.dropped[reason] = (log.dropped[reason] ?? 0) + n;
  if (where !== undefined && log.first[reason] === undefined) log.first[reason] = where;
}

/** Notes naming the first occurrence of each row-level drop. */
export function dropNotes(log: DropLog): string[] {
  return Object.keys(log.first).map(
    (reason) => `dropped "${reason}" ×${log.dropped[reason]}; first at ${log.first[reason]}`,
  );
}

/**
 * Parse a Python list literal of strings and numbers, as written by pandas/str() into D3 CSV cells:
 * "['B00..', \"Don't\"]", "[5.0, 4.0]", "[]". Strings may be single- or double-quoted with Python escapes
 * (\\ \' \" \n \t \r \a \b \f \v \0-\777 octal, \xhh, \uXXXX, \UXXXXXXXX, backslash-newline); numbers are ints or
 * floats (with optional sign, exponent, underscores). Adjacent string literals are not concatenated; nested lists,
 * tuples, None, True/False and nan are rejected. Throws an Error with the character position on bad input.
 */
export function parsePythonList(text: string): (string | number)[] {
  const c: Cursor = { s: text, i: 0 };
  skipWs(c);
  if (text[c.i] !== '[') failAt(c, 'expected "["');
  c.i++;
  const out: (string | number)[] = [];
  skipWs(c);
  if (text[c.i] === ']') {
    c.i++;
  } else {
    for (;;) {
      skipWs(c);
      if (text[c.i] === ']' && out.length > 0) {
        c.i++; // trailing comma, as Python allows
        break;
      }
      out.push(text[c.i] === "'" || text[c.i] === '"' ? readPyString(c) : readPyNumber(c));
      skipWs(c);
      if (text[c.i] === ',') {
        c.i++;
        continue;
      }
      if (text[c.i] === ']') {
        c.i++;
        break;
      }
      failAt(c, 'expected "," or "]"');
    }
  }
  skipWs(c);
  if (c.i !== text.length) failAt(c, 'unexpected text after "]"');
  return out;
}

// parsePythonList internals: module-level functions over a cursor (no closures per call: this runs per CSV cell).
interface Cursor {
  s: string;
  i: number;
}

function failAt(c: Cursor, what: string): never {
  throw new Error(`bad Python list literal at character ${c.i + 1}: ${what} in ${JSON.stringify(c.s.slice(0, 80))}`);
}

function skipWs(c: Cursor): void {
  while (c.i < c.s.length && (c.s[c.i] === ' ' || c.s[c.i] === '\t' || c.s[c.i] === '\n' || c.s[c.i] === '\r')) c.i++;
}

const PY_SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '',
};
const PY_NUMBER = /[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;

function readPyString(c: Cursor): string {
  const s = c.s;
  const q = s[c.i++];
  let out = '';
  for (;;) {
    // copy the run up to the next quote, backslash or newline in one slice
    let j = c.i;
    while (j < s.length && s[j] !== q && s[j] !== '\\' && s[j] !== '\n') j++;
    out += s.slice(c.i, j);
    c.i = j;
    if (c.i >= s.length) failAt(c, 'unterminated string');
    const ch = s[c.i++];
    if (ch === q) return out;
    if (ch === '\n') failAt(c, 'newline inside a string');
    if (c.i >= s.length) failAt(c, 'unterminated escape');
    const e = s[c.i++];
    if (e in PY_SIMPLE_ESCAPES) out += PY_SIMPLE_ESCAPES[e];
    else if (e >= '0' && e <= '7') {
      let oct = e;
      while (oct.length < 3 && c.i < s.length && s[c.i] >= '0' && s[c.i] <= '7') oct += s[c.i++];
      out += String.fromCodePoint(parseInt(oct, 8));
    } else if (e === 'x' || e === 'u' || e === 'U') {
      const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = s.slice(c.i, c.i + len);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex) || parseInt(hex, 16) > 0x10ffff) failAt(c, `bad \\${e} escape`);
      out += String.fromCodePoint(parseInt(hex, 16));
      c.i += len;
    } else out += '\\' + e; // Python keeps unknown escapes verbatim
  }
}

function readPyNumber(c: Cursor): number {
  PY_NUMBER.lastIndex = c.i;
  const m = PY_NUMBER.exec(c.s);
  if (!m || m[0] === '') failAt(c, 'expected a string or a number');
  c.i += m[0].length;
  return Number(m[0].replace(/_/g, ''));
}

/** JSON.parse with a DataError naming the file and the 1-based line of the first syntax error. */
export function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // Node 20's JSON.parse messages carry no position, so find it with a small validator.
    const at = jsonErrorOffset(text);
    const line = at === undefined ? undefined : text.slice(0, at).split('\n').length;
    throw new DataError(path, line, undefined, `not valid JSON: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** Offset of the first JSON syntax error in `text` (RFC 8259 grammar), or undefined if there is none. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const NUM = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  class Bad {
    constructor(readonly at: number) {}
  }
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') throw new Bad(i);
        str();
        ws();
        if (text[i] !== ':') throw new Bad(i);
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else throw new Bad(i);
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else throw new Bad(i);
      }
    }
    if (c === '"') return str();
    for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, i)) return void (i += lit.length);
    NUM.lastIndex = i;
    const m = NUM.exec(text);
    if (!m) throw new Bad(i);
    i += m[0].length;
  };
  const str = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) throw new Bad(i);
      const ch = text.charCodeAt(i);
      if (ch === 34) return void i++;
      if (ch < 0x20) throw new Bad(i);
      if (ch === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Bad(i);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else throw new Bad(i);
      } else i++;
    }
  };
  try {
    value();
    ws();
    return i < text.length ? i : undefined;
  } catch (e) {
    if (e instanceof Bad) return e.at;
    throw e;
  }
}

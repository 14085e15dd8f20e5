// `r2ec data download <name>` for users with internet: MovieLens zips from GroupLens and Amazon Reviews 2023
// benchmark files from UCSD (the inputs of spec §1). Everything is verified before it lands under the data root:
// HTTP status, non-empty body, published md5 (GroupLens `<archive>.md5`), zip structure and per-entry CRC-32
// (fflate itself does not check CRCs), the expected files, the gzip header. Files are written to a temp name and
// renamed into place, so an interrupted download never looks like a dataset.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { SingleBar } from 'cli-progress';
import { unzipSync } from 'fflate';
import { R2ecError } from '../util/errors';
import { dataRoot, DOWNLOADABLE } from './registry';
import { envValue } from '../util/env';

export interface DownloadOptions {
  /** data root to download into (default dataRoot()) */
  root?: string;
  /** replaces scheme+host of every URL (tests; env R2EC_DOWNLOAD_BASE) */
  baseUrl?: string;
  /** download again even if the dataset folder is already complete */
  force?: boolean;
  /** progress lines (default: stderr) */
  log?: (line: string) => void;
}

export interface DownloadResult {
  name: string;
  dir: string;
  /** files written (absolute paths) */
  files: string[];
  /** true when everything was already there */
  skipped: boolean;
  /** what was checked, e.g. "md5 ok", "no md5 published" */
  checks: string[];
}

interface ZipSource {
  kind: 'zip';
  url: string;
  /** folder under the root */
  folder: string;
  /** files that must be in the archive (after stripping its top folder) */
  expected: string[];
}

interface GzSource {
  kind: 'gz';
  folder: string;
  files: { url: string; name: string }[];
}

const GROUPLENS = 'https://files.grouplens.org';
const UCSD = 'https://datarepo.eng.ucsd.edu';

/** Where a downloadable dataset comes from; undefined for names that cannot be downloaded. */
export function downloadSource(name: string): ZipSource | GzSource | undefined {
  if (name === 'ml-100k')
    return { kind: 'zip', url: `${GROUPLENS}/datasets/movielens/ml-100k.zip`, folder: 'ml-100k', expected: ['u.data', 'u.item'] };
  if (name === 'ml-latest-small')
    return {
      kind: 'zip',
      url: `${GROUPLENS}/datasets/movielens/ml-latest-small.zip`,
      folder: 'ml-latest-small',
      expected: ['ratings.csv', 'movies.csv'],
    };
  const m = /^amazon2023-([A-Za-z0-9_]+)$/.exec(name);
  if (m) {
    const c = m[1];
    const base = `${UCSD}/mcauley_group/data/amazon_2023`;
    return {
      kind: 'gz',
      folder: name,
      files: [
        { url: `${base}/benchmark/5core/rating_only/${c}.csv.gz`, name: `${c}.csv.gz` },
        { url: `${base}/raw/meta_categories/meta_${c}.jsonl.gz`, name: `meta_${c}.jsonl.gz` },
      ],
    };
  }
  return undefined;
}

function rebase(url: string, baseUrl: string | undefined): string {
  if (!baseUrl) return url;
  const u = new URL(url);
  return baseUrl.replace(/\/+$/, '') + u.pathname;
}

/** Network failures (DNS, refused, reset, timeout) become the one offline message. */
function offlineError(url: string, err: unknown, hint: string): R2ecError {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  const reason = cause?.message ?? cause?.code ?? (err as Error)?.message ?? String(err);
  return new R2ecError(`cannot reach ${new URL(url).host}: ${reason}; download ${url} by hand and ${hint}, or set R2EC_DATA_DIR`);
}

async function get(url: string, hint: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (err) {
    throw offlineError(url, err, hint);
  }
}

/** Stream a URL into `file` (temp name chosen by the caller); returns bytes and md5. */
async function fetchToFile(url: string, file: string, hint: string, log: (l: string) => void): Promise<{ bytes: number; md5: string }> {
  const res = await get(url, hint);
  if (!res.ok) throw new R2ecError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  if (!res.body) throw new R2ecError(`download of ${url} failed: empty response body`);
  const total = Number(res.headers.get('content-length') ?? 0);
  log(`downloading ${url}${total ? ` (${(total / 2 ** 20).toFixed(1)} MiB)` : ''}`);
  // progress bar for big files; cli-progress draws nothing when stderr is not a terminal
  const bar =
    total > 2 ** 20
      ? new SingleBar({ format: '  {bar} {percentage}% | {value}/{total} MiB | eta {eta}s', stream: process.stderr, hideCursor: true })
      : undefined;
  bar?.start(Math.round(total / 2 ** 20), 0);
  const md5 = createHash('md5');
  const out = createWriteStream(file);
  let bytes = 0;
  try {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      md5.update(value);
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      bar?.update(Math.round(bytes / 2 ** 20));
    }
  } catch (err) {
    out.destroy();
    throw new R2ecError(`download of ${url} broke off after ${bytes} bytes: ${(err as Error).message}`);
  } finally {
    bar?.stop();
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  if (bytes === 0) throw new R2ecError(`download of ${url} failed: empty response body`);
  if (total && bytes !== total) throw new R2ecError(`download of ${url} is incomplete: ${bytes} of ${total} bytes`);
  return { bytes, md5: md5.digest('hex') };
}

/** The published md5 (`<url>.md5`, md5sum or BSD format), or undefined when the server has none. */
async function publishedMd5(url: string, hint: string): Promise<string | undefined> {
  const res = await get(`${url}.md5`, hint);
  if (!res.ok) return undefined;
  const m = /\b([0-9a-fA-F]{32})\b/.exec(await res.text());
  if (!m) throw new R2ecError(`checksum file ${url}.md5 holds no md5 sum`);
  return m[1].toLowerCase();
}

/** CRC-32 of each entry from the zip's central directory (fflate's unzip does not verify them). */
function centralDirectoryCrcs(buf: Uint8Array, url: string): Map<string, number> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new R2ecError(`${url}: not a zip archive (no end-of-central-directory record; truncated or corrupt download)`);
  const count = dv.getUint16(eocd + 10, true);
  let off = dv.getUint32(eocd + 16, true);
  const crcs = new Map<string, number>();
  for (let k = 0; k < count; k++) {
    if (off + 46 > buf.length || dv.getUint32(off, true) !== 0x02014b50)
      throw new R2ecError(`${url}: corrupt zip archive (bad central directory entry ${k})`);
    const crc = dv.getUint32(off + 16, true);
    const nameLen = dv.getUint16(off + 28, true);
    const extraLen = dv.getUint16(off + 30, true);
    const commentLen = dv.getUint16(off + 32, true);
    const name = new TextDecoder().decode(buf.subarray(off + 46, off + 46 + nameLen));
    crcs.set(name, crc);
    off += 46 + nameLen + extraLen + commentLen;
  }
  return crcs;
}

/** Unzip and verify; returns files keyed by their path below the archive's top folder. */
export function unzipVerified(buf: Uint8Array, url: string): Map<string, Uint8Array> {
  const crcs = centralDirectoryCrcs(buf, url);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(buf);
  } catch (err) {
    throw new R2ecError(`${url}: corrupt zip archive (${(err as Error).message})`);
  }
  const files: [string[], Uint8Array][] = [];
  for (const [name, data] of Object.entries(entries)) {
    if (name.endsWith('/')) continue;
    const want = crcs.get(name);
    if (want === undefined) throw new R2ecError(`${url}: corrupt zip archive (entry ${name} not in the central directory)`);
    if (crc32(data) !== want) throw new R2ecError(`${url}: corrupt zip archive (CRC-32 mismatch in ${name})`);
    // no absolute or parent paths can escape the target folder
    files.push([name.split('/').filter((p) => p && p !== '.' && p !== '..'), data]);
  }
  // strip the archive's common top folder (ml-100k/u.data → u.data)
  const top = files.length && files.every(([p]) => p.length > 1 && p[0] === files[0][0][0]) ? 1 : 0;
  const out = new Map<string, Uint8Array>();
  for (const [parts, data] of files) out.set(parts.slice(top).join('/'), data);
  return out;
}

function tmpName(p: string): string {
  return path.join(path.dirname(p), `.${path.basename(p)}.part-${process.pid}`);
}

async function downloadZip(name: string, src: ZipSource, root: string, o: DownloadOptions, log: (l: string) => void): Promise<DownloadResult> {
  const dir = path.join(root, src.folder);
  if (!o.force && src.expected.every((f) => existsSync(path.join(dir, f))))
    return { name, dir, files: [], skipped: true, checks: [`already present in ${dir} (use --force to download again)`] };
  // never delete a folder we did not write (e.g. RecBole's ml-100k atomic files) unless asked to
  if (!o.force && existsSync(dir) && readdirSync(dir).length > 0)
    throw new R2ecError(`${dir} already exists but lacks ${src.expected.join('/')}; move it away or pass --force to replace it`);
  const url = rebase(src.url, o.baseUrl ?? envValue('R2EC_DOWNLOAD_BASE'));
  const hint = `unpack it under ${root} (giving ${path.join(dir, src.expected[0])})`;
  mkdirSync(root, { recursive: true });
  const zipTmp = tmpName(path.join(root, `${src.folder}.zip`));
  const dirTmp = tmpName(dir);
  const checks: string[] = [];
  try {
    const { bytes, md5 } = await fetchToFile(url, zipTmp, hint, log);
    checks.push(`${bytes} bytes`);
    const want = await publishedMd5(url, hint);
    if (want === undefined) checks.push('no md5 published');
    else if (want !== md5) throw new R2ecError(`download of ${url} is corrupt: md5 ${md5}, published ${want} (${url}.md5)`);
    else checks.push('md5 ok');
    const files = unzipVerified(readFileSync(zipTmp), url);
    checks.push(`zip CRC-32 ok (${files.size} files)`);
    const missing = src.expected.filter((f) => !files.has(f));
    if (missing.length) throw new R2ecError(`${url}: archive lacks ${missing.join(', ')} (has ${[...files.keys()].slice(0, 8).join(', ')})`);
    rmSync(dirTmp, { recursive: true, force: true });
    const written: string[] = [];
    for (const [rel, data] of files) {
      const p = path.join(dirTmp, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, data);
      written.push(path.join(dir, rel));
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(dirTmp, dir);
    log(`unpacked ${files.size} files into ${dir}`);
    return { name, dir, files: written.sort(), skipped: false, checks };
  } finally {
    rmSync(zipTmp, { force: true });
    rmSync(dirTmp, { recursive: true, force: true });
  }
}

async function downloadGz(name: string, src: GzSource, root: string, o: DownloadOptions, log: (l: string) => void): Promise<DownloadResult> {
  const dir = path.join(root, src.folder);
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const checks: string[] = [];
  for (const f of src.files) {
    const dest = path.join(dir, f.name);
    if (!o.force && existsSync(dest)) {
      checks.push(`${f.name} already present`);
      continue;
    }
    const url = rebase(f.url, o.baseUrl ?? envValue('R2EC_DOWNLOAD_BASE'));
    const tmp = tmpName(dest);
    try {
      const { bytes } = await fetchToFile(url, tmp, `put it (still gzipped) at ${dest}`, log);
      const head = readFileSync(tmp).subarray(0, 3);
      if (head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 0x08)
        throw new R2ecError(`download of ${url} is not a gzip file (starts with ${Buffer.from(head).toString('hex')})`);
      renameSync(tmp, dest);
      written.push(dest);
      checks.push(`${f.name}: ${bytes} bytes, gzip header ok (no checksum published)`);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return { name, dir, files: written, skipped: written.length === 0, checks };
}

/** Download a dataset into `<root>/<folder>` (see downloadSource for what each name fetches). */
export async function downloadDataset(name: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const src = downloadSource(name);
  if (!src) throw new R2ecError(`cannot download "${name}": downloadable datasets are ${DOWNLOADABLE.join(', ')}`);
  const root = path.resolve(opts.root ?? dataRoot());
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  return src.kind === 'zip' ? downloadZip(name, src, root, opts, log) : downloadGz(name, src, root, opts, log);
}

// `r2ec data …` as a user runs it: a child process of bin/r2ec.js.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DATA_ROOT, REAL, dataTest } from './helpers/real-data';
import { writeTinyMl100k } from './helpers/fixtures';

const ROOT = path.resolve(__dirname, '..');
const SHARED = DATA_ROOT;
const cache = mkdtempSync(path.join(os.tmpdir(), 'r2ec-cli-cache-'));
// a data root the tests write: a 3-user ml-100k (the CLI on data without the real datasets)
const FIXTURE = mkdtempSync(path.join(os.tmpdir(), 'r2ec-cli-data-'));
writeTinyMl100k(FIXTURE);
after(() => {
  rmSync(cache, { recursive: true, force: true });
  rmSync(FIXTURE, { recursive: true, force: true });
});

function r2ec(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, 'bin', 'r2ec.js'), ...args],
      { cwd: ROOT, env: { ...process.env, R2EC_DATA_DIR: SHARED, R2EC_CACHE_DIR: cache, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('r2ec data stats --json on a data root the test wrote (3 users, 4 items, 9 ratings)', async () => {
  const r = await r2ec(['data', 'stats', 'ml-100k', '--json'], { R2EC_DATA_DIR: FIXTURE });
  assert.equal(r.code, 0, r.stderr);
  const st = JSON.parse(r.stdout);
  assert.equal(st.dataset, 'ml-100k');
  assert.deepEqual([st.users, st.items, st.interactions], [3, 4, 9]);
  assert.equal(st.samples.total, 6); // every rating after a user's first is a sample
  assert.equal(st.historyLength.max, 2);
  const t = await r2ec(['data', 'stats', 'ml-100k', '--window', '1'], { R2EC_DATA_DIR: FIXTURE });
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^users\s+3$/m);
  assert.match(t.stdout, /^history length min\/mean\/median\/max\s+1 \/ 1 \/ 1 \/ 1$/m);
});

dataTest('r2ec data stats ml-100k --json', [REAL.ml100k], async () => {
  const r = await r2ec(['data', 'stats', 'ml-100k', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const st = JSON.parse(r.stdout);
  assert.equal(st.dataset, 'ml-100k');
  assert.equal(st.users, 943);
  assert.equal(st.items, 1682);
  assert.equal(st.interactions, 100000);
  assert.equal(st.samples.train + st.samples.valid + st.samples.test, 99057);
  assert.equal(typeof st.coldUsers, 'number');
  assert.equal(typeof st.coldItems, 'number');
  // the same through the readable table, with another window (fewer history slots, same sample count)
  const t = await r2ec(['data', 'stats', 'ml-100k', '--window', '5']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /^users\s+943$/m);
  assert.match(t.stdout, /^samples train\/valid\/test\s+79,245 \/ 9,906 \/ 9,906 \(total 99,057\)$/m);
  assert.match(t.stdout, /^history length min\/mean\/median\/max\s+1 \/ [\d.]+ \/ 5 \/ 5$/m);
});

test('an unknown dataset exits non-zero with one line listing the available datasets', async () => {
  const r = await r2ec(['data', 'stats', 'no-such-data', '--json'], { R2EC_DATA_DIR: FIXTURE });
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^r2ec: unknown dataset "no-such-data" .*available: ml-100k, synthetic; .*R2EC_DATA_DIR/);
  assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), 'no stack trace');
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

dataTest('r2ec data list: the shared datasets', [REAL.ml100k, REAL.mlLatest2016, REAL.cds, REAL.goodreads], async () => {
  const l = await r2ec(['data', 'list']);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, new RegExp(`^data root: ${escape(SHARED)} \\(R2EC_DATA_DIR\\)$`, 'm'));
  for (const n of ['ml-100k', 'ml-latest-small', 'cds', 'goodreads', 'synthetic']) assert.match(l.stdout, new RegExp(`^  ${n} `, 'm'));
});

test('r2ec data list and prepare (a data root the test wrote)', async () => {
  const l = await r2ec(['data', 'list'], { R2EC_DATA_DIR: FIXTURE });
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, new RegExp(`^data root: ${escape(FIXTURE)} \\(R2EC_DATA_DIR\\)$`, 'm'));
  assert.deepEqual(l.stdout.split('\n').filter((x) => x.startsWith('  ')).map((x) => x.trim().split(/\s+/)[0]), ['ml-100k', 'synthetic']);
  const p = await r2ec(['data', 'prepare', 'synthetic', '--seed', '7']);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, /^dataset synthetic \(synthetic, synthetic\) ready/m);
  assert.match(p.stdout, /"seed":7/);
  assert.match(p.stdout, /^notes:$/m);
  const bad = await r2ec(['data', 'prepare', 'ml-100k', '--seed', '7'], { R2EC_DATA_DIR: FIXTURE });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^r2ec: config field "data\.seed": does not apply to dataset ml-100k/);
});

test('r2ec start runs the main comparison on the default dataset and says which it is (synthetic without data)', async () => {
  const empty = mkdtempSync(path.join(os.tmpdir(), 'r2ec-cli-empty-'));
  const out = mkdtempSync(path.join(os.tmpdir(), 'r2ec-cli-start-'));
  try {
    const r = await r2ec(['start'], {
      R2EC_DATA_DIR: empty,
      R2EC_PROFILE: 'smoke',
      R2EC_RESULTS_DIR: out,
      R2EC_LM_CACHE: path.join(out, 'lm'),
      R2EC_BACKBONE_CACHE: path.join(out, 'backbone'),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /running on the built-in SYNTHETIC dataset/);
    // the printed table has one row per method of the main comparison, and names the dataset as synthetic
    assert.match(r.stdout, /main on synthetic \(synthetic\), profile smoke/);
    for (const m of ['R²ec', 'w/o reasoning', 'zero-shot', 'SASRec', 'GRU4Rec', 'Popularity']) {
      assert.match(r.stdout, new RegExp(`^\\| ${m.replace('/', '\\/')} \\|`, 'm'), m);
    }
    const csv = readFileSync(path.join(out, 'main', 'synthetic', 'metrics.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 7); // header + 6 methods
  } finally {
    rmSync(empty, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('r2ec data download offline: one line naming the host and the manual route', async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const root = mkdtempSync(path.join(os.tmpdir(), 'r2ec-cli-dl-'));
  try {
    const r = await r2ec(['data', 'download', 'ml-100k', '--root', root], { R2EC_DOWNLOAD_BASE: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 2);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^r2ec: cannot reach 127\\.0\\.0\\.1:${port}: .*; download .*ml-100k\\.zip by hand and unpack it under ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*, or set R2EC_DATA_DIR$`));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

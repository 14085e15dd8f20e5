#!/usr/bin/env node
// `npm test`: Jupyter setup check, type check, then every test file (test/*.test.ts, notebooks included), one at a
// time. Exit code non-zero on any failure; a short summary at the end.
//
//   npm test                       # everything
//   npm test -- test/report.test.ts test/notebooks.test.ts   # only these files (type check still runs)
//
// R2EC_DATA_DIR defaults to ../shared/data when that folder exists and the variable is unset.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
process.chdir(root);

function hhmmss(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

const steps = [];
function run(label, cmd, args, opts = {}) {
  const t0 = Date.now();
  console.log(`\n=== ${label}: ${[cmd, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env, ...opts });
  const ok = r.status === 0;
  const why = r.error ? ` (${r.error.message})` : r.signal ? ` (signal ${r.signal})` : '';
  steps.push({ label, ok, ms: Date.now() - t0, detail: ok ? '' : `exit ${r.status}${why}` });
  return ok;
}

// --- data ------------------------------------------------------------------------------------------------------------
if (!process.env.R2EC_DATA_DIR) {
  const shared = path.resolve(root, '..', 'shared', 'data');
  if (fs.existsSync(shared)) process.env.R2EC_DATA_DIR = '../shared/data';
}
console.log(
  `r2ec test: R2EC_DATA_DIR=${process.env.R2EC_DATA_DIR ?? '(unset: ./data)'}; ` +
    (/^(1|true|yes)$/i.test(process.env.R2EC_REQUIRE_DATA ?? '')
      ? 'R2EC_REQUIRE_DATA=1: a test whose real dataset is absent fails'
      : 'tests whose real dataset is absent are skipped, saying why and how to fetch it (R2EC_REQUIRE_DATA=1 makes them fail, as in CI)'),
);

// --- Jupyter setup (needed by test/notebooks.test.ts) ---------------------------------------------------------------
function jupyterReady() {
  const spec = path.join(root, '.jupyter-kernel', 'kernels', 'r2ec-tslab', 'kernel.json');
  try {
    const argv0 = JSON.parse(fs.readFileSync(spec, 'utf8')).argv[0];
    if (argv0 !== path.join(root, 'scripts', 'tslab-kernel.sh')) return `kernel spec points to ${argv0}`;
  } catch {
    return 'no kernel spec in .jupyter-kernel/';
  }
  const py = spawnSync('/usr/bin/python3', ['-c', 'import nbclient, nbformat, jupyter_client, ipykernel'], {
    stdio: 'ignore',
  });
  if (py.status !== 0) return '/usr/bin/python3 cannot import nbclient/nbformat/jupyter_client/ipykernel';
  const chromium = process.env.R2EC_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(chromium)) return `no Chromium at ${chromium}`;
  return undefined;
}
const notReady = jupyterReady();
if (notReady) {
  console.log(`r2ec test: Jupyter setup needed (${notReady})`);
  // --local-only: tests use this checkout's kernel spec and leave the per-user registry alone.
  if (!run('jupyter setup', 'bash', [path.join('scripts', 'setup-jupyter.sh'), '--local-only'])) {
    console.error('r2ec test: Jupyter setup failed; see the message above (as non-root, install the listed packages)');
  }
} else {
  console.log('r2ec test: Jupyter setup ok (kernel r2ec-tslab, nbclient, chromium)');
}

// --- type check --------------------------------------------------------------------------------------------------------
// node_modules/typescript, not `npx tsc` (that resolves to tslab's bundled TypeScript 5.0.4).
run('type check', process.execPath, [path.join('node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', '.']);

// --- tests -------------------------------------------------------------------------------------------------------------
const requested = process.argv.slice(2);
const files = requested.length
  ? requested
  : fs
      .readdirSync(path.join(root, 'test'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => path.join('test', f));
if (files.length === 0) {
  steps.push({ label: 'tests', ok: false, ms: 0, detail: 'no test files found' });
} else {
  run(`tests (${files.length} files)`, process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files]);
}

// --- summary -----------------------------------------------------------------------------------------------------------
console.log('\n=== summary');
for (const s of steps) console.log(`  ${s.ok ? 'ok  ' : 'FAIL'}  ${s.label.padEnd(22)} ${hhmmss(s.ms).padStart(8)}  ${s.detail}`);
const failed = steps.filter((s) => !s.ok);
console.log(failed.length ? `r2ec test: ${failed.length} step(s) failed` : 'r2ec test: all steps passed');
process.exit(failed.length ? 1 : 0);

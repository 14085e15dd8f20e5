// Every notebook in notebooks/*.ipynb runs headlessly (scripts/run-notebook.py, project kernel, R2EC_PROFILE=smoke)
// and writes result files that parse. Results, warmed-up LMs and executed copies go to a temporary folder
// (R2EC_RESULTS_DIR, R2EC_LM_CACHE), so a test run never overwrites a researcher's results/ or LM cache.
//
// Adding a notebook: add one entry to EXPECT below (its results folder, tables, figures, manifest config keys).
// A notebook without an entry still runs, and must still write <results>/<notebook name>/manifest.json.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { availableDatasets } from '../lib/data/registry';
import { defaultConfig } from '../lib/experiment/config';
import { experimentMethods } from '../lib/experiment/presets';
import { metricColumns } from '../lib/experiment/run';
import { defaultDatasets } from '../lib/paper/runs';
import { SEGMENTS } from '../lib/paper/cold-start';
import { loadBudgetRuns } from '../lib/paper/recpo-learning';
import { BEHAVIORS } from '../lib/behaviors/types';

const ROOT = path.resolve(__dirname, '..');
const DATA_DIR = process.env.R2EC_DATA_DIR ?? '../shared/data';

interface TableExpectation {
  /** base name: <name>.csv, <name>.md and <name>.tex */
  name: string;
  /** CSV header, exactly and in order */
  columns: string[];
  /** CSV column that names the rows, and the names expected (in order); the .tex must have one row per name */
  rowKey: string;
  rows: () => string[];
}

interface NotebookExpectation {
  /** folder under the results root */
  results: string;
  tables: TableExpectation[];
  /** figure base names: <name>.svg and <name>.png */
  figures: string[];
  /** keys the manifest's config must hold (config.profile must be 'smoke': the environment reached the kernel) */
  config: string[];
  /** MIME types the executed notebook must show at least once (inline table/figure) */
  displays: string[];
  /** per-cell timeout, seconds (default 600) */
  cellTimeoutSec?: number;
}

/** Datasets the data notebooks report: everything present under the data root (registry order). */
const datasetNames = () => availableDatasets(path.resolve(ROOT, DATA_DIR)).map((e) => e.name);

// The paper notebooks (01–06) at the smoke profile: their first cells pick these datasets and methods.
const smokeRoot = () => path.resolve(ROOT, DATA_DIR);
/** 01, 03, 05: synthetic + ml-100k when present (or R2EC_DATASETS) */
const smokeDatasets = () => defaultDatasets('smoke', { root: smokeRoot() });
/** 02, 04, 06: synthetic only (or R2EC_DATASETS); 02's sweeps and 06 use the first one */
const smokeSynthetic = () => defaultDatasets('smoke', { root: smokeRoot(), smoke: ['synthetic'] });
const smokeMetrics = () => metricColumns(defaultConfig('smoke', 'synthetic').eval.ks);
const methodNames = (experiment: string) => () => experimentMethods(experiment).map((m) => m.name);
const perDataset = (datasets: string[], keys: string[]) => datasets.flatMap((d) => keys.map((k) => `${d} ${k}`));
const PAPER_CONFIG = ['profile', 'datasets', 'seeds', 'methods'];
const PAPER_DISPLAYS = ['text/html', 'text/markdown'];

const EXPECT: Record<string, NotebookExpectation> = {
  '00-data': {
    results: '00-data',
    tables: [
      {
        name: 'datasets',
        columns: [
          'dataset', 'users', 'items', 'interactions', 'train', 'valid', 'test', 'samples',
          'cold_users_pct', 'cold_items_pct', 'hist_mean', 'hist_median', 'hist_max',
        ],
        rowKey: 'dataset',
        rows: datasetNames,
      },
    ],
    figures: ['history-length'],
    config: ['profile', 'window', 'datasets'],
    displays: ['text/html', 'image/svg+xml'],
  },
  '01-main-results': {
    results: '01-main-results',
    tables: [
      { name: 'main', columns: ['Method', ...perDataset(smokeDatasets(), smokeMetrics())], rowKey: 'Method', rows: methodNames('main') },
      {
        name: 'improvement',
        columns: ['dataset', 'metric', 'reference', 'best_baseline', 'baseline', 'improvement_pct', 'p'],
        rowKey: 'dataset',
        rows: () => smokeDatasets().flatMap((d) => smokeMetrics().map(() => d)),
      },
    ],
    figures: ['main-ndcg10'],
    config: [...PAPER_CONFIG, 'baselineKinds', 'alpha'],
    displays: PAPER_DISPLAYS,
  },
  '02-reward-ablations': {
    results: '02-reward-ablations',
    tables: [
      { name: 'ablations', columns: ['Method', ...perDataset(smokeSynthetic(), smokeMetrics())], rowKey: 'Method', rows: methodNames('ablations') },
      {
        name: 'sweeps',
        columns: ['Setting', ...perDataset(smokeSynthetic().slice(0, 1), ['NDCG@10', 'HR@10', 'tokens'])],
        rowKey: 'Setting',
        // the smoke values of the notebook's first cell: 2 per sweep
        rows: () => ['β=0.05', 'β=0.5', 'G=2', 'G=4', 'T=1', 'T=2', 'top-k=10', 'top-k=200'],
      },
    ],
    figures: [
      ...smokeSynthetic().flatMap((d) => ['reward', 'group-std', 'valid', 'length'].map((k) => `curves-${d}-${k}`)),
      'sweep-beta', 'sweep-groupSize', 'sweep-temperature', 'sweep-topK',
    ],
    config: [...PAPER_CONFIG, 'sweeps', 'curveMethods'],
    displays: PAPER_DISPLAYS,
  },
  '03-cold-start': {
    results: '03-cold-start',
    tables: ['ndcg10', 'hr10'].map((m) => ({
      name: `cold-start-${m}`,
      columns: ['Method', ...perDataset(smokeDatasets(), SEGMENTS.map((s) => s.key))],
      rowKey: 'Method',
      rows: methodNames('main'),
    })),
    figures: smokeDatasets().map((d) => `cold-start-${d}`),
    config: [...PAPER_CONFIG, 'metrics'],
    displays: PAPER_DISPLAYS,
  },
  '04-embedding-pooling': {
    results: '04-embedding-pooling',
    tables: [
      {
        name: 'pooling',
        columns: ['Method', ...perDataset(smokeSynthetic(), ['NDCG@5', 'NDCG@10', 'HR@5', 'HR@10'])],
        rowKey: 'Method',
        rows: methodNames('pooling'),
      },
    ],
    figures: ['pooling-ndcg10'],
    config: [...PAPER_CONFIG, 'metrics'],
    displays: PAPER_DISPLAYS,
  },
  '05-reasoning-behaviors': {
    results: '05-reasoning-behaviors',
    tables: [
      {
        name: 'behavior-shares',
        columns: ['Behaviour', ...perDataset(smokeDatasets(), ['rules'])],
        rowKey: 'Behaviour',
        rows: () => BEHAVIORS.map((b) => b.label),
      },
    ],
    figures: ['behavior-shares'],
    config: [...PAPER_CONFIG, 'textMethods', 'textsPerDataset', 'useLlmJudge'],
    displays: PAPER_DISPLAYS,
  },
  '06-efficiency': {
    results: '06-efficiency',
    tables: [
      {
        name: 'latency',
        columns: [
          'Method',
          ...perDataset(smokeSynthetic().slice(0, 1), [
            'latency_mean_s', 'latency_median_s', 'latency_p95_s', 'throughput_per_s', 'reasoning_tokens', 'requests', 'ndcg10',
          ]),
        ],
        rowKey: 'Method',
        rows: methodNames('efficiency'),
      },
    ],
    figures: ['latency-vs-length'],
    config: [...PAPER_CONFIG, 'latencyRequests'],
    displays: PAPER_DISPLAYS,
  },
  // reads the committed RecPO budget runs (results/recpo-budget/), trains nothing
  '07-recpo-learning': {
    results: '07-recpo-learning',
    tables: [
      {
        name: 'recpo-runs',
        columns: ['Run', 'Start', 'Settings', 'Steps', 'valid n', 'valid step 0', 'Kept', 'valid kept', 'valid kept − step 0', 'test n', 'test NDCG@10', 'test − start', 'test − the shipped backbone'],
        rowKey: 'Run',
        rows: () => loadBudgetRuns(path.join(ROOT, 'results/recpo-budget')).runs.map((r) => r.name),
      },
    ],
    figures: ['recpo-valid-curves'],
    config: ['profile', 'budgetDir', 'referenceFile', 'curveRuns', 'runs'],
    displays: PAPER_DISPLAYS,
  },
};

const tmp = mkdtempSync(path.join(os.tmpdir(), 'r2ec-notebooks-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const notebooks = readdirSync(path.join(ROOT, 'notebooks'))
  .filter((f) => f.endsWith('.ipynb'))
  .sort();

function runNotebook(nb: string, out: string, timeoutSec: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/python3',
      [path.join(ROOT, 'scripts', 'run-notebook.py'), path.resolve(ROOT, 'notebooks', nb), '--out', out, '--timeout', String(timeoutSec)],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          R2EC_PROFILE: 'smoke',
          R2EC_DATA_DIR: DATA_DIR,
          R2EC_RESULTS_DIR: path.join(tmp, 'results'),
          // warmed-up LMs of the paper notebooks: shared by the notebooks of this run, never the user's cache
          R2EC_LM_CACHE: path.join(tmp, 'lm-cache'),
          R2EC_BACKBONE_CACHE: path.join(tmp, 'backbone-cache'),
        },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 30 * 60 * 1000,
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

/** \begin{x} … \end{x} properly nested; returns the environment names in order of opening. */
function checkLatexEnvironments(tex: string, file: string): string[] {
  const stack: string[] = [];
  const opened: string[] = [];
  for (const m of tex.matchAll(/\\(begin|end)\{([^}]+)\}/g)) {
    if (m[1] === 'begin') {
      stack.push(m[2]);
      opened.push(m[2]);
    } else {
      assert.equal(stack.pop(), m[2], `${file}: \\end{${m[2]}} does not close the innermost open environment`);
    }
  }
  assert.deepEqual(stack, [], `${file}: unclosed environments`);
  return opened;
}

function checkTable(dir: string, t: TableExpectation): void {
  const csvFile = path.join(dir, `${t.name}.csv`);
  const records = parse(readFileSync(csvFile, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  const header = (parse(readFileSync(csvFile, 'utf8'), { to_line: 1 }) as string[][])[0];
  assert.deepEqual(header, t.columns, `${csvFile}: columns`);
  const expectedRows = t.rows();
  assert.deepEqual(records.map((r) => r[t.rowKey]), expectedRows, `${csvFile}: one row per ${t.rowKey}`);
  for (const r of records) {
    for (const c of t.columns) assert.notEqual(r[c], undefined, `${csvFile}: ${r[t.rowKey]} has no ${c}`);
  }

  const texFile = path.join(dir, `${t.name}.tex`);
  const tex = readFileSync(texFile, 'utf8');
  assert.ok(checkLatexEnvironments(tex, texFile).includes('tabular'), `${texFile}: no tabular`);
  for (const rule of ['\\toprule', '\\midrule', '\\bottomrule']) {
    assert.equal(tex.split(rule).length - 1, 1, `${texFile}: expected one ${rule}`);
  }
  const body = tex.slice(tex.indexOf('\\midrule') + '\\midrule'.length, tex.indexOf('\\bottomrule')).trim().split('\n');
  assert.equal(body.length, expectedRows.length, `${texFile}: one row per ${t.rowKey}`);
  body.forEach((line, i) => {
    assert.ok(line.endsWith('\\\\'), `${texFile}: row ${i + 1} does not end with \\\\`);
    // no unescaped & inside cells: exactly one separator between each pair of columns
    assert.equal(line.split(/(?<!\\)&/).length, t.columns.length, `${texFile}: row ${i + 1} column count`);
    assert.ok(line.startsWith(expectedRows[i].replace(/[_%&#$]/g, (c) => `\\${c}`)), `${texFile}: row ${i + 1} is not ${expectedRows[i]}`);
  });

  const md = readFileSync(path.join(dir, `${t.name}.md`), 'utf8');
  // header + rule + one line per row
  assert.equal(md.split('\n').filter((l) => l.startsWith('| ')).length, expectedRows.length + 2, `${t.name}.md rows`);
}

function checkFigure(dir: string, name: string): void {
  const svg = readFileSync(path.join(dir, `${name}.svg`), 'utf8');
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'), `${name}.svg is not an SVG document`);
  const png = readFileSync(path.join(dir, `${name}.png`));
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${name}.png signature`);
  assert.ok(png.readUInt32BE(16) >= 300 && png.readUInt32BE(20) >= 200, `${name}.png is implausibly small`);
}

function checkManifest(dir: string, config: string[]): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  assert.match(String(m.commit), /^([0-9a-f]{40}|unknown)$/, `${file}: commit`);
  assert.equal(typeof m.config, 'object', `${file}: config`);
  const cfg = m.config as Record<string, unknown>;
  for (const k of config) assert.ok(k in cfg, `${file}: config.${k} missing`);
  assert.equal(cfg.profile, 'smoke', `${file}: config.profile (R2EC_PROFILE did not reach the kernel)`);
  assert.ok(m.backend !== undefined || m.data !== undefined, `${file}: needs a backend or data field`);
}

function mimeTypes(executed: string): Set<string> {
  const nb = JSON.parse(readFileSync(executed, 'utf8')) as { cells: { outputs?: { data?: Record<string, unknown> }[] }[] };
  const types = new Set<string>();
  for (const c of nb.cells) for (const o of c.outputs ?? []) for (const k of Object.keys(o.data ?? {})) types.add(k);
  return types;
}

function libFiles(dir = path.join(ROOT, 'lib')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? libFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

// tslab type-checks with its own TypeScript 5.0.4 (not strict, no DOM lib, module resolution node10).
test("lib/ compiles under tslab's TypeScript 5.0.4", () => {
  const tsc = path.join(ROOT, 'node_modules', '@tslab', 'typescript-for-tslab', 'bin', 'tsc');
  const args = ['--noEmit', '--lib', 'es2022', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'node',
    '--esModuleInterop', '--resolveJsonModule', '--skipLibCheck', '--types', 'node'];
  try {
    execFileSync(process.execPath, [tsc, ...args, ...libFiles()], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    const out = `${(e as { stdout?: Buffer }).stdout ?? ''}${(e as { stderr?: Buffer }).stderr ?? ''}`;
    assert.fail(`lib/ does not compile under tslab's TypeScript:\n${out.slice(0, 4000)}`);
  }
});

test('run-notebook.py: a failing cell gives exit 1, its index and error, and the executed copy up to it', async () => {
  const nbFile = path.join(tmp, 'failing.ipynb');
  const cell = (source: string) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
  writeFileSync(
    nbFile,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'r2ec-tslab', display_name: 'TypeScript (r2ec)', language: 'typescript' } },
      cells: [
        cell("console.log('first ran', process.env.R2EC_PROFILE, process.cwd());"),
        cell("function boom(): never { throw new RangeError('no such split: \\u001b[31mtest2\\u001b[0m'); }\nboom();"),
        cell("console.log('never runs');"),
      ].map((c, i) => ({ ...c, id: `c${i}` })),
    }),
  );
  const out = path.join(tmp, 'executed', 'failing.ipynb');
  const run = await runNotebook(nbFile, out, 60);
  assert.equal(run.code, 1, run.output);
  assert.match(run.output, /FAILED in .*failing\.ipynb/);
  assert.match(run.output, /cell 1 \(code cell 2 of 3\)/);
  assert.match(run.output, /\| function boom\(\)/);
  assert.match(run.output, /error: RangeError: no such split: test2$/m); // ANSI colours stripped
  const executed = JSON.parse(readFileSync(out, 'utf8')) as { cells: { outputs: { text?: string | string[] }[] }[] };
  const text = executed.cells[0].outputs[0].text; // nbformat stores multi-line text as a list of lines
  assert.equal(Array.isArray(text) ? text.join('') : text, `first ran smoke ${ROOT}\n`);
  assert.deepEqual(executed.cells[2].outputs, []);
});

test('there are notebooks to run', () => {
  assert.ok(notebooks.includes('00-data.ipynb'), `notebooks/: ${notebooks.join(', ')}`);
});

for (const nb of notebooks) {
  const name = nb.replace(/\.ipynb$/, '');
  test(`notebook ${nb} runs (smoke profile) and writes parseable results`, async (t) => {
    const exp = EXPECT[name];
    if (!exp) t.diagnostic(`no entry for ${name} in EXPECT (test/notebooks.test.ts): only the manifest is checked`);
    const executed = path.join(tmp, 'executed', nb);
    const t0 = Date.now();
    const run = await runNotebook(nb, executed, exp?.cellTimeoutSec ?? 600);
    t.diagnostic(`${nb}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(run.code, 0, `run-notebook.py failed for ${nb}:\n${run.output}`);
    assert.ok(existsSync(executed), 'executed copy written');

    const dir = path.join(tmp, 'results', exp?.results ?? name);
    checkManifest(dir, exp?.config ?? []);
    if (!exp) return;
    for (const tab of exp.tables) checkTable(dir, tab);
    for (const fig of exp.figures) checkFigure(dir, fig);
    const shown = mimeTypes(executed);
    for (const mime of exp.displays) assert.ok(shown.has(mime), `${nb}: no ${mime} output (has ${[...shown].join(', ')})`);
  });
}

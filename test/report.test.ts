// lib/report: tables (CSV/Markdown/LaTeX with best/second marks), figure specs, static export through Chromium,
// and the console fallback of the notebook display helpers.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import * as aq from 'arquero';
import {
  barChart,
  exportFigures,
  formatNumber,
  groupedBarChart,
  histogram,
  inKernel,
  latexEscape,
  latexMark,
  lineChart,
  OKABE_ITO,
  openRenderer,
  scatterChart,
  showFigure,
  showTable,
  toCsv,
  toHtml,
  toLatex,
  toMarkdown,
  writeTable,
  ChromiumUnavailable,
  type TableOptions,
} from '../lib/report';
import { R2ecError } from '../lib/util/errors';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'r2ec-report-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Three methods; HR@10 has a tie for best; latency is lower-is-better; one dagger.
const rows = [
  { method: 'SASRec_v2', 'NDCG@10': 0.12, 'HR@10': 0.3, latency: 0.014 },
  { method: 'R²ec & co', 'NDCG@10': 0.15, 'HR@10': 0.3, latency: 1.67 },
  { method: '50% #1', 'NDCG@10': 0.13, 'HR@10': 0.25, latency: 0.0945 },
];
const opts: TableOptions = {
  better: { 'NDCG@10': 'higher', 'HR@10': 'higher', latency: 'lower' },
  marks: (row, col) => (row.method === 'R²ec & co' && col === 'NDCG@10' ? '†' : undefined),
  caption: 'Main results (test).',
  label: 'tab:main',
  footnote: '† p < 0.05',
};

test('LaTeX: booktabs, best bold / second underlined per direction, ties share the mark, escaping, marks', () => {
  const expected = [
    '\\begin{table}[t]',
    '\\centering',
    '\\caption{Main results (test).}',
    '\\label{tab:main}',
    '\\begin{tabular}{lrrr}',
    '\\toprule',
    'method & NDCG@10 & HR@10 & latency \\\\',
    '\\midrule',
    'SASRec\\_v2 & 0.1200 & \\textbf{0.3000} & \\textbf{0.0140} \\\\',
    'R²ec \\& co & \\textbf{0.1500}$^{\\dagger}$ & \\textbf{0.3000} & 1.6700 \\\\',
    '50\\% \\#1 & \\underline{0.1300} & \\underline{0.2500} & \\underline{0.0945} \\\\',
    '\\bottomrule',
    '\\end{tabular}',
    '\\par\\smallskip{\\footnotesize $^{\\dagger}$ p < 0.05}',
    '\\end{table}',
    '',
  ].join('\n');
  assert.equal(toLatex(rows, opts), expected);
});

test('Markdown: same marks as LaTeX, numbers right-aligned, pipes escaped', () => {
  const expected = [
    '**Main results (test).**',
    '',
    '| method | NDCG@10 | HR@10 | latency |',
    '| --- | ---: | ---: | ---: |',
    '| SASRec_v2 | 0.1200 | **0.3000** | **0.0140** |',
    '| R²ec & co | **0.1500**† | **0.3000** | 1.6700 |',
    '| 50% #1 | <u>0.1300</u> | <u>0.2500</u> | <u>0.0945</u> |',
    '',
    '† p < 0.05',
    '',
  ].join('\n');
  assert.equal(toMarkdown(rows, opts), expected);
  assert.equal(toMarkdown([{ a: 'x|y' }]), '| a |\n| --- |\n| x\\|y |\n');
});

test('CSV keeps raw values at full precision, quotes where needed, no marks', () => {
  assert.equal(
    toCsv(rows),
    'method,NDCG@10,HR@10,latency\nSASRec_v2,0.12,0.3,0.014\nR²ec & co,0.15,0.3,1.67\n50% #1,0.13,0.25,0.0945\n',
  );
  assert.equal(toCsv([{ a: 'x,y', b: 'say "hi"', c: [1, 2] }]), 'a,b,c\n"x,y","say ""hi""","[1,2]"\n');
});

test('ties are judged on displayed values; integer columns print as integers; missing values are never marked', () => {
  const t = [
    { m: 'a', users: 943, score: 0.12344, gap: null },
    { m: 'b', users: 671, score: 0.12341, gap: 2.5 },
    { m: 'c', users: 1000, score: 0.1, gap: 1 },
  ];
  const tex = toLatex(t, { better: { score: 'higher', users: 'lower', gap: 'higher' }, float: false, decimals: 4 });
  const body = tex.split('\n').slice(4, 7);
  assert.deepEqual(body, [
    'a & \\underline{943} & \\textbf{0.1234} & -- \\\\',
    'b & \\textbf{671} & \\textbf{0.1234} & \\textbf{2.5000} \\\\',
    'c & 1000 & \\underline{0.1000} & \\underline{1.0000} \\\\',
  ]);
  assert.ok(tex.startsWith('\\begin{tabular}{lrrr}\n\\toprule\nm & users & score & gap \\\\\n\\midrule\n'));
  // a per-column decimals override changes both the text and what counts as a tie
  const two = toMarkdown(t, { columns: ['m', { key: 'score', label: 'Score', decimals: 2 }], better: { score: 'higher' } });
  assert.equal(two, '| m | Score |\n| --- | ---: |\n| a | **0.12** |\n| b | **0.12** |\n| c | <u>0.10</u> |\n');
});

test('thousands separators for display only', () => {
  assert.equal(formatNumber(1234567.5, 2, true), '1,234,567.50');
  assert.equal(formatNumber(-29230, 0, true), '-29,230');
  assert.equal(formatNumber(999, 0, true), '999');
  assert.equal(formatNumber(1234.5, 1), '1234.5');
  const t = [{ d: 'games', users: 29230, share: 1234.5 }];
  assert.equal(toLatex(t, { thousands: true, float: false }).split('\n')[4], 'games & 29,230 & 1,234.5000 \\\\');
  assert.equal(toCsv(t), 'd,users,share\ngames,29230,1234.5\n');
});

test('arquero tables give the same output as rows', () => {
  const table = aq.from(rows);
  assert.equal(toLatex(table, opts), toLatex(rows, opts));
  assert.equal(toCsv(table), toCsv(rows));
});

test('LaTeX escaping and marks', () => {
  assert.equal(latexEscape('a_b 5% x&y #1 $3 {z} ~ ^ \\'), 'a\\_b 5\\% x\\&y \\#1 \\$3 \\{z\\} \\textasciitilde{} \\textasciicircum{} \\textbackslash{}');
  assert.equal(latexMark('†‡'), '$^{\\dagger\\ddagger}$');
  assert.equal(latexMark('*'), '$^{*}$');
  assert.equal(latexMark(''), '');
});

test('bad options are clear errors', () => {
  assert.throws(() => toLatex(rows, { better: { NDCG: 'higher' } }), (e: Error) => e instanceof R2ecError && /"NDCG"/.test(e.message));
  assert.throws(() => toLatex(rows, { better: { 'HR@10': 'up' as 'higher' } }), /must be "higher" or "lower"/);
  assert.throws(() => writeTable(tmp, '../x', rows), /plain file name/);
});

test('writeTable writes the three formats', () => {
  const out = writeTable(path.join(tmp, 'tables'), 'main', rows, opts);
  assert.equal(readFileSync(out.csv, 'utf8'), toCsv(rows));
  assert.equal(readFileSync(out.md, 'utf8'), toMarkdown(rows, opts));
  assert.equal(readFileSync(out.tex, 'utf8'), toLatex(rows, opts));
});

test('HTML table for notebooks carries the same marks and escapes', () => {
  const html = toHtml(rows, { ...opts, maxRows: 2 });
  assert.match(html, /<td style="text-align:right"><b>0\.1500<\/b><sup>†<\/sup><\/td>/);
  assert.match(html, /R²ec &amp; co/);
  assert.match(html, /… 1 more rows/);
  assert.doesNotMatch(html, /50% #1/);
});

test('figure specs: palette, print style, std band, lengths checked', () => {
  const fig = lineChart({
    series: [
      { name: 'RecPO', x: [0, 1, 2], y: [1, 2, 3], std: [0.5, 0.5, 1] },
      { name: 'GRPO', x: [0, 1, 2], y: [1, 1, 1] },
    ],
    xLabel: 'step',
    yLabel: 'reward',
  });
  assert.equal(fig.data.length, 3); // band + 2 lines
  const band = fig.data[0];
  assert.deepEqual(band.x, [0, 1, 2, 2, 1, 0]);
  assert.deepEqual(band.y, [1.5, 2.5, 4, 2, 1.5, 0.5]);
  assert.equal(band.fillcolor, 'rgba(230,159,0,0.2)');
  assert.equal((fig.data[1].line as { color: string }).color, OKABE_ITO[0]);
  assert.equal((fig.data[2].line as { color: string }).color, OKABE_ITO[1]);
  const layout = fig.layout as { font: { size: number }; plot_bgcolor: string; showlegend: boolean; xaxis: { title: { text: string } } };
  assert.equal(layout.font.size, 14);
  assert.equal(layout.plot_bgcolor, '#ffffff');
  assert.equal(layout.showlegend, true);
  assert.equal(layout.xaxis.title.text, 'step');
  assert.throws(() => lineChart({ series: [{ name: 'a', x: [1, 2], y: [1] }] }), /x has 2 values but y has 1/);

  const g = groupedBarChart({ categories: ['ml-100k', 'cds'], series: [{ name: 'A', values: [1, 2] }, { name: 'B', values: [3, 4], error: [0.1, 0.2] }] });
  assert.equal(g.layout.barmode, 'group');
  assert.deepEqual(g.data.map((d) => (d.marker as { color: string }).color), [OKABE_ITO[0], OKABE_ITO[1]]);
  assert.deepEqual((g.data[1].error_y as { array: number[] }).array, [0.1, 0.2]);
  assert.throws(() => groupedBarChart({ categories: ['a'], series: [{ name: 'A', values: [1, 2] }] }), /series "A"/);
  assert.equal(barChart({ x: ['a'], y: [1] }).layout.showlegend, false);
  // layout overrides merge into the styled axes instead of replacing them
  const over = barChart({ x: ['a'], y: [1], yLabel: 'Users', layout: { yaxis: { dtick: 1 }, bargap: 0.5 } }).layout;
  assert.deepEqual([(over.yaxis as { dtick: number }).dtick, (over.yaxis as { title: { text: string } }).title.text, over.bargap], [1, 'Users', 0.5]);
  // yellow is the last colour (poor contrast as a line on white)
  assert.equal(OKABE_ITO[OKABE_ITO.length - 1], '#F0E442');
  const h = histogram({ series: [{ name: 'a', values: [1, 2] }, { name: 'b', values: [3] }], norm: 'probability', binSize: 1 });
  assert.equal(h.layout.barmode, 'overlay');
  assert.equal(h.data[0].histnorm, 'probability');
  assert.equal((h.layout.yaxis as { title: { text: string } }).title.text, 'share');
  assert.notEqual(
    (scatterChart({ series: [{ name: 'a', x: [1], y: [1] }, { name: 'b', x: [2], y: [2] }] }).data[0].marker as { symbol: string }).symbol,
    (scatterChart({ series: [{ name: 'a', x: [1], y: [1] }, { name: 'b', x: [2], y: [2] }] }).data[1].marker as { symbol: string }).symbol,
  );
});

function pngSize(buf: Buffer): { width: number; height: number } {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(buf.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}

test('exportFigures writes SVG and PNG for a batch through headless Chromium', async () => {
  const dir = path.join(tmp, 'figs');
  const bar = barChart({ x: ['ml-100k', 'cds'], y: [943, 2991], xLabel: 'Dataset', yLabel: 'Users (count)' });
  const line = lineChart({ series: [{ name: 'RecPO', x: [0, 1, 2], y: [0.1, 0.2, 0.25], std: [0.01, 0.02, 0.02] }], xLabel: 'Training step', yLabel: 'NDCG@10', width: 500, height: 300 });
  const t0 = Date.now();
  const res = await exportFigures([{ name: 'users', figure: bar }, { name: 'curve', figure: line }], dir);
  console.log(`# export of 2 figures x 2 formats: ${Date.now() - t0} ms (one browser launch)`);
  assert.equal(res.skipped, undefined, res.skipped);
  assert.deepEqual(res.written, ['users.svg', 'users.png', 'curve.svg', 'curve.png'].map((f) => path.join(dir, f)));
  const svg = readFileSync(path.join(dir, 'users.svg'), 'utf8');
  assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.match(svg, /Users \(count\)/);
  assert.match(svg, />ml-100k</);
  assert.match(readFileSync(path.join(dir, 'curve.svg'), 'utf8'), /Training step/);
  // PNG at the default scale 2: twice the layout size in pixels
  assert.deepEqual(pngSize(readFileSync(path.join(dir, 'users.png'))), { width: 1280, height: 800 });
  assert.deepEqual(pngSize(readFileSync(path.join(dir, 'curve.png'))), { width: 1000, height: 600 });
});

test('a missing Chromium is a returned message, not an exception', async () => {
  const saved = process.env.R2EC_CHROMIUM;
  process.env.R2EC_CHROMIUM = path.join(tmp, 'no-such-chromium');
  const warn = console.warn;
  const warned: string[] = [];
  console.warn = (m: string) => void warned.push(m);
  try {
    const dir = path.join(tmp, 'nochrome');
    const res = await exportFigures([{ name: 'x', figure: barChart({ x: ['a'], y: [1] }) }], dir);
    assert.deepEqual(res.written, []);
    assert.match(res.skipped ?? '', /no Chromium at .*no-such-chromium.*R2EC_CHROMIUM/);
    assert.equal(warned.length, 1);
    assert.equal(existsSync(path.join(dir, 'x.svg')), false);
    await assert.rejects(openRenderer(), (e: Error) => e instanceof ChromiumUnavailable);
  } finally {
    console.warn = warn;
    if (saved === undefined) delete process.env.R2EC_CHROMIUM;
    else process.env.R2EC_CHROMIUM = saved;
  }
});

test('display helpers fall back to the console outside a kernel', async (t) => {
  assert.equal(inKernel(), false);
  const log = t.mock.method(console, 'log', () => undefined);
  showTable(rows, { columns: ['method', 'HR@10'], maxRows: 2 });
  await showFigure(barChart({ x: ['a'], y: [1], title: 'Users' }));
  const printed = log.mock.calls.map((c) => String(c.arguments[0]));
  assert.equal(printed[0], '| method | HR@10 |\n| --- | ---: |\n| SASRec_v2 | 0.3000 |\n| R²ec & co | 0.3000 |\n… 1 more rows\n');
  assert.equal(printed[1], '[figure "Users": 1 trace(s); shown only in a notebook]');
});

// Result tables as CSV (full precision, for machines), Markdown (for notebooks and READMEs) and LaTeX (booktabs, for
// the paper), from one list of rows or an arquero table.
//
//   writeTable('results/01-main', 'main', rows, {
//     columns: ['method', 'NDCG@10', 'HR@10'],
//     better: { 'NDCG@10': 'higher', 'HR@10': 'higher' },     // only these columns get best/second-best marks
//     marks: (row, col) => (col === 'NDCG@10' && row.significant ? '†' : undefined),
//     caption: 'Main results.', label: 'tab:main', footnote: '† p < 0.05 (paired t-test) against the best baseline.',
//   });
//
// Best/second best: per column in `better`, the best distinct *displayed* value is bold and the next distinct
// displayed value is underlined; ties share the mark (two rows tied for best are both bold, and the next value is
// underlined). Values are compared after rounding to the column's decimals, so what looks tied is marked tied.
// Missing values (null, undefined, NaN) are shown as "–" and never marked.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { R2ecError } from '../util/errors';

export type Row = Record<string, unknown>;

/** The part of an arquero table we use (duck-typed, so this file does not load arquero). */
export interface TableLike {
  objects(): object[];
  columnNames(): string[];
}

export type Direction = 'higher' | 'lower';

export interface ColumnSpec {
  key: string;
  /** header text (default: the key) */
  label?: string;
  /** decimals for this column (default: TableOptions.decimals; columns of integers print as integers) */
  decimals?: number;
  /** full control over the displayed text (Markdown/LaTeX; CSV keeps the raw value). Escaped for LaTeX. */
  format?: (value: unknown, row: Row) => string;
}

export interface TableOptions {
  /** columns in order, by key or spec (default: keys of the first row, then new keys of later rows) */
  columns?: (string | ColumnSpec)[];
  /** decimals for non-integer numbers (default 4) */
  decimals?: number;
  /** group thousands with commas in Markdown/LaTeX/HTML: 29230 → 29,230 (default false; CSV stays raw) */
  thousands?: boolean;
  /** metric columns and their direction: the best value gets \textbf / **bold**, the second \underline / <u> */
  better?: Record<string, Direction>;
  /** footnote mark appended to a cell, e.g. '†' for significance (LaTeX: $^{\dagger}$; Markdown: as is) */
  marks?: (row: Row, column: string, rowIndex: number) => string | undefined;
  caption?: string;
  label?: string;
  /** text under the table (LaTeX: in the table float, \footnotesize; Markdown: a paragraph) */
  footnote?: string;
  /** LaTeX: wrap the tabular in a table float with \centering (default true; caption/label need it) */
  float?: boolean;
  /** LaTeX column alignment, one letter per column (default: l for text columns, r for numeric ones) */
  align?: string;
}

function isTableLike(x: unknown): x is TableLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as TableLike).objects === 'function' &&
    typeof (x as TableLike).columnNames === 'function'
  );
}

function columnSpecs(rows: Row[], declared: (string | ColumnSpec)[] | undefined, names?: string[]): ColumnSpec[] {
  if (declared) return declared.map((c) => (typeof c === 'string' ? { key: c } : c));
  const keys: string[] = names ? [...names] : [];
  const seen = new Set(keys);
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  return keys.map((key) => ({ key }));
}

function toRows(input: Row[] | TableLike): { rows: Row[]; names?: string[] } {
  if (Array.isArray(input)) return { rows: input };
  if (isTableLike(input)) return { rows: input.objects() as Row[], names: input.columnNames() };
  throw new R2ecError('table: expected an array of row objects or an arquero table');
}

/** Fixed decimals, optionally with thousands separators in the integer part (1234567.5 → "1,234,567.50"). */
export function formatNumber(v: number, decimals: number, thousands = false): string {
  const s = v.toFixed(decimals);
  if (!thousands || !Number.isFinite(v)) return s;
  const [int, frac] = s.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

const isMissing = (v: unknown) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));

/** Everything the three formats share: columns, per-column decimals, displayed text and best/second marks. */
interface Layout {
  specs: ColumnSpec[];
  rows: Row[];
  /** displayed text per [row][col], before escaping */
  text: string[][];
  /** 1 = best, 2 = second best, 0 = neither */
  rank: number[][];
  mark: string[][];
  missing: boolean[][];
  numeric: boolean[];
}

function layout(input: Row[] | TableLike, opts: TableOptions): Layout {
  const { rows, names } = toRows(input);
  const specs = columnSpecs(rows, opts.columns, names);
  if (specs.length === 0) throw new R2ecError('table: no columns (empty rows and no `columns` option)');
  for (const key of Object.keys(opts.better ?? {})) {
    if (!specs.some((s) => s.key === key)) {
      throw new R2ecError(`table: \`better\` names column "${key}", which is not among ${specs.map((s) => s.key).join(', ')}`);
    }
    const dir = opts.better![key];
    if (dir !== 'higher' && dir !== 'lower') {
      throw new R2ecError(`table: \`better.${key}\` must be "higher" or "lower", got ${JSON.stringify(dir)}`);
    }
  }
  const defaultDecimals = opts.decimals ?? 4;
  const text: string[][] = rows.map(() => []);
  const rank: number[][] = rows.map(() => specs.map(() => 0));
  const mark: string[][] = rows.map((r, i) => specs.map((s) => (opts.marks?.(r, s.key, i) ?? '').toString()));
  const missing: boolean[][] = rows.map((r) => specs.map((s) => !s.format && isMissing(r[s.key])));
  const numeric: boolean[] = [];

  specs.forEach((spec, c) => {
    const values = rows.map((r) => r[spec.key]);
    const present = values.filter((v) => !isMissing(v));
    const allNumbers = present.length > 0 && present.every((v) => typeof v === 'number');
    numeric.push(allNumbers);
    // A column of integers (counts) prints as integers; any fraction switches the whole column to fixed decimals.
    const decimals = spec.decimals ?? (allNumbers && present.every((v) => Number.isInteger(v)) ? 0 : defaultDecimals);
    rows.forEach((row, r) => {
      const v = values[r];
      text[r][c] = spec.format
        ? spec.format(v, row)
        : isMissing(v)
          ? '–'
          : typeof v === 'number'
            ? formatNumber(v, decimals, opts.thousands ?? false)
            : Array.isArray(v) || (typeof v === 'object' && v !== null)
              ? JSON.stringify(v)
              : String(v);
    });

    const dir = opts.better?.[spec.key];
    if (!dir) return;
    // Rank on the displayed (rounded) value; distinct values sorted best first.
    const shown = values.map((v) => (typeof v === 'number' && !Number.isNaN(v) ? Number(v.toFixed(decimals)) : undefined));
    const distinct = [...new Set(shown.filter((v): v is number => v !== undefined))].sort((a, b) =>
      dir === 'higher' ? b - a : a - b,
    );
    shown.forEach((v, r) => {
      if (v === undefined) return;
      if (v === distinct[0]) rank[r][c] = 1;
      else if (distinct.length > 1 && v === distinct[1]) rank[r][c] = 2;
    });
  });
  return { specs, rows, text, rank, mark, missing, numeric };
}

// ---- CSV ----------------------------------------------------------------------------------------------------------

/** CSV with the raw values at full precision (no marks, no rounding); header = column keys. Uses arquero's writer. */
export function toCsv(input: Row[] | TableLike, opts: Pick<TableOptions, 'columns'> = {}): string {
  const { rows, names } = toRows(input);
  const specs = columnSpecs(rows, opts.columns, names);
  const cols: Record<string, unknown[]> = {};
  for (const s of specs) {
    cols[s.key] = rows.map((r) => {
      const v = r[s.key];
      return Array.isArray(v) || (typeof v === 'object' && v !== null) ? JSON.stringify(v) : v;
    });
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const aq = require('arquero') as typeof import('arquero');
  return aq.table(cols).toCSV();
}

// ---- Markdown -----------------------------------------------------------------------------------------------------

const mdEscape = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** GitHub/Jupyter Markdown: best **bold**, second <u>underlined</u>, marks appended, numbers right-aligned. */
export function toMarkdown(input: Row[] | TableLike, opts: TableOptions = {}): string {
  const L = layout(input, opts);
  const head = `| ${L.specs.map((s) => mdEscape(s.label ?? s.key)).join(' | ')} |`;
  const rule = `|${L.numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`;
  const body = L.rows.map(
    (_, r) =>
      `| ${L.specs
        .map((_s, c) => {
          let t = mdEscape(L.text[r][c]);
          if (L.rank[r][c] === 1) t = `**${t}**`;
          else if (L.rank[r][c] === 2) t = `<u>${t}</u>`;
          return t + mdEscape(L.mark[r][c]);
        })
        .join(' | ')} |`,
  );
  const lines = [];
  if (opts.caption) lines.push(`**${mdEscape(opts.caption)}**`, '');
  lines.push(head, rule, ...body);
  if (opts.footnote) lines.push('', opts.footnote);
  return lines.join('\n') + '\n';
}

// ---- HTML (notebooks) ---------------------------------------------------------------------------------------------

const htmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An HTML table with the same marks as toLatex (<b>, <u>, <sup>); `maxRows` cuts long tables with a note. */
export function toHtml(input: Row[] | TableLike, opts: TableOptions & { maxRows?: number } = {}): string {
  const L = layout(input, opts);
  const n = Math.min(L.rows.length, opts.maxRows ?? Infinity);
  const align = (c: number) => (L.numeric[c] ? ' style="text-align:right"' : ' style="text-align:left"');
  const head = L.specs.map((s, c) => `<th${align(c)}>${htmlEscape(s.label ?? s.key)}</th>`).join('');
  const body: string[] = [];
  for (let r = 0; r < n; r++) {
    const cells = L.specs.map((_s, c) => {
      let t = htmlEscape(L.text[r][c]);
      if (L.rank[r][c] === 1) t = `<b>${t}</b>`;
      else if (L.rank[r][c] === 2) t = `<u>${t}</u>`;
      if (L.mark[r][c]) t += `<sup>${htmlEscape(L.mark[r][c])}</sup>`;
      return `<td${align(c)}>${t}</td>`;
    });
    body.push(`<tr>${cells.join('')}</tr>`);
  }
  const more = L.rows.length > n ? `<p><i>… ${L.rows.length - n} more rows</i></p>` : '';
  const caption = opts.caption ? `<caption>${htmlEscape(opts.caption)}</caption>` : '';
  const foot = opts.footnote ? `<p style="font-size:smaller">${htmlEscape(opts.footnote)}</p>` : '';
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>${body.join('')}</tbody></table>${more}${foot}`;
}

// ---- LaTeX --------------------------------------------------------------------------------------------------------

const LATEX_SPECIALS: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
};

/** Escape text for LaTeX: \ & % $ # _ { } ~ ^ (and line breaks become spaces). */
export function latexEscape(s: string): string {
  return s.replace(/[\\&%$#_{}~^]/g, (ch) => LATEX_SPECIALS[ch]).replace(/\r?\n/g, ' ');
}

const LATEX_MARKS: Record<string, string> = { '†': '\\dagger', '‡': '\\ddagger', '*': '*', '§': '\\S', '¶': '\\P' };

/** A footnote mark as a math superscript: '†' → $^{\dagger}$, '†‡' → $^{\dagger\ddagger}$, 'a' → $^{a}$. */
export function latexMark(mark: string): string {
  if (!mark) return '';
  const inner = [...mark].map((ch) => LATEX_MARKS[ch] ?? (/[A-Za-z0-9]/.test(ch) ? ch : latexEscape(ch))).join('');
  return `$^{${inner}}$`;
}

/** booktabs LaTeX table (\toprule/\midrule/\bottomrule); needs \usepackage{booktabs} in the paper. */
export function toLatex(input: Row[] | TableLike, opts: TableOptions = {}): string {
  const L = layout(input, opts);
  const align = opts.align ?? L.numeric.map((n) => (n ? 'r' : 'l')).join('');
  const cell = (r: number, c: number) => {
    let t = L.missing[r][c] ? '--' : latexEscape(L.text[r][c]);
    if (L.rank[r][c] === 1) t = `\\textbf{${t}}`;
    else if (L.rank[r][c] === 2) t = `\\underline{${t}}`;
    return t + latexMark(L.mark[r][c]);
  };
  const tabular = [
    `\\begin{tabular}{${align}}`,
    '\\toprule',
    `${L.specs.map((s) => latexEscape(s.label ?? s.key)).join(' & ')} \\\\`,
    '\\midrule',
    ...L.rows.map((_, r) => `${L.specs.map((_s, c) => cell(r, c)).join(' & ')} \\\\`),
    '\\bottomrule',
    '\\end{tabular}',
  ];
  const float = opts.float ?? true;
  if (!float) {
    if (opts.caption || opts.label) throw new R2ecError('table: caption/label need `float: true`');
    const foot = opts.footnote ? [`\\par\\smallskip{\\footnotesize ${latexFootnote(opts.footnote)}}`] : [];
    return [...tabular, ...foot].join('\n') + '\n';
  }
  return (
    [
      '\\begin{table}[t]',
      '\\centering',
      ...(opts.caption ? [`\\caption{${latexEscape(opts.caption)}}`] : []),
      ...(opts.label ? [`\\label{${opts.label}}`] : []),
      ...tabular,
      ...(opts.footnote ? [`\\par\\smallskip{\\footnotesize ${latexFootnote(opts.footnote)}}`] : []),
      '\\end{table}',
    ].join('\n') + '\n'
  );
}

/** Footnote text: escaped, but the marks used in cells are typeset the same way as in cells. */
function latexFootnote(s: string): string {
  return [...s].map((ch) => (ch in LATEX_MARKS && ch !== '*' ? latexMark(ch) : latexEscape(ch))).join('');
}

// ---- files --------------------------------------------------------------------------------------------------------

export interface WrittenTable {
  csv: string;
  md: string;
  tex: string;
}

/** Write <dir>/<name>.csv, .md and .tex (creating dir); returns the three paths. */
export function writeTable(dir: string, name: string, input: Row[] | TableLike, opts: TableOptions = {}): WrittenTable {
  if (!/^[\w.@-]+$/.test(name)) throw new R2ecError(`writeTable: name "${name}" must be a plain file name`);
  mkdirSync(dir, { recursive: true });
  const out = {
    csv: path.join(dir, `${name}.csv`),
    md: path.join(dir, `${name}.md`),
    tex: path.join(dir, `${name}.tex`),
  };
  writeFileSync(out.csv, toCsv(input, opts));
  writeFileSync(out.md, toMarkdown(input, opts));
  writeFileSync(out.tex, toLatex(input, opts));
  return out;
}

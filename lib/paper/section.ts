// The shared format of a section's tables (rows + column specs + optional column groups, one per dataset, over the
// header) in CSV, Markdown and booktabs LaTeX, the section list and the results folder of a section.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { latexEscape, toCsv, toLatex, toMarkdown, type ColumnSpec, type Row, type TableOptions } from '../report/table';
import { showTable } from '../report/display';
import { resultsRoot } from '../util/env';
import { R2ecError } from '../util/errors';

/** The sections (notebook names = results folder names) and what each reproduces. */
export const SECTIONS: Record<string, string> = {
  '00-data': 'Dataset statistics (paper Table 5)',
  '01-main-results': 'Main results: R²ec vs w/o reasoning, zero-shot and the baselines (paper Table 1)',
  '02-reward-ablations': 'Reward and training ablations, GRPO vs RLOO curves, sweeps over β, G, temperature, top-k (paper Table 2, Figs. 2–3)',
  '03-cold-start': 'Cold vs warm users and items per method',
  '04-embedding-pooling': 'User and item read-out: last hidden state vs mean/max pooling vs special token (paper Table 3)',
  '05-reasoning-behaviors': 'Reasoning behaviours: seven-behaviour tagging, shares per dataset, examples, annotation agreement',
  '06-efficiency': 'Inference latency (batch 1) and throughput (paper Table 4)',
  '07-recpo-learning': 'Does RecPO learn? Budget runs with paired tests against their start and the shipped backbone, valid curves',
};

export function sectionDir(section: string, root = resultsRoot()): string {
  return path.join(root, section);
}

// ---------------------------------------------------------------------------------------------------------------
// Section tables: rows + column specs + optional column groups (datasets) over the header

export interface ColumnGroup {
  label: string;
  /** keys of consecutive columns under this label */
  keys: string[];
}

export interface SectionTable {
  /** file base name: <name>.csv|md|tex */
  name: string;
  rows: Row[];
  /** columns must be given (their keys are the CSV header) */
  options: Omit<TableOptions, 'columns'> & { columns: ColumnSpec[] };
  /** a header row over the column labels (LaTeX: \multicolumn + \cmidrule; Markdown/HTML: "group label" prefix) */
  groups?: ColumnGroup[];
}

function checkGroups(t: SectionTable): void {
  const keys = t.options.columns.map((c) => c.key);
  for (const g of t.groups ?? []) {
    const idx = g.keys.map((k) => keys.indexOf(k));
    if (idx.some((i) => i < 0)) throw new R2ecError(`table ${t.name}: group "${g.label}" names a column that is not in the table`);
    if (idx.some((v, i) => i > 0 && v !== idx[i - 1] + 1)) throw new R2ecError(`table ${t.name}: group "${g.label}" columns are not consecutive`);
  }
}

/** Column specs with the group label in front of each label (for Markdown/HTML, which have one header row). */
function flatColumns(t: SectionTable): ColumnSpec[] {
  const groupOf = new Map<string, string>();
  for (const g of t.groups ?? []) for (const k of g.keys) groupOf.set(k, g.label);
  return t.options.columns.map((c) => (groupOf.has(c.key) ? { ...c, label: `${groupOf.get(c.key)} ${c.label ?? c.key}` } : c));
}

export function sectionMarkdown(t: SectionTable): string {
  checkGroups(t);
  return toMarkdown(t.rows, { ...t.options, columns: flatColumns(t) });
}

export function sectionCsv(t: SectionTable): string {
  return toCsv(t.rows, { columns: t.options.columns });
}

/** booktabs LaTeX; with groups, a row of \multicolumn labels and \cmidrule(lr) lines is put under \toprule. */
export function sectionLatex(t: SectionTable): string {
  checkGroups(t);
  const tex = toLatex(t.rows, t.options);
  if (!t.groups || t.groups.length === 0) return tex;
  const keys = t.options.columns.map((c) => c.key);
  const cells: string[] = [];
  const rules: string[] = [];
  for (let c = 0; c < keys.length; ) {
    const g = t.groups.find((x) => x.keys[0] === keys[c]);
    if (g) {
      cells.push(g.keys.length === 1 ? latexEscape(g.label) : `\\multicolumn{${g.keys.length}}{c}{${latexEscape(g.label)}}`);
      rules.push(`\\cmidrule(lr){${c + 1}-${c + g.keys.length}}`);
      c += g.keys.length;
    } else {
      cells.push('');
      c += 1;
    }
  }
  const header = `${cells.join(' & ')} \\\\\n${rules.join(' ')}`;
  return tex.replace('\\toprule\n', `\\toprule\n${header}\n`);
}

/** Show a section table inline (HTML in the kernel, Markdown on the console). */
export function showSectionTable(t: SectionTable): void {
  checkGroups(t);
  showTable(t.rows, { ...t.options, columns: flatColumns(t), maxRows: Math.max(50, t.rows.length) });
}

export function writeSectionTable(dir: string, t: SectionTable): string[] {
  if (!/^[\w.@-]+$/.test(t.name)) throw new R2ecError(`table name "${t.name}" must be a plain file name`);
  mkdirSync(dir, { recursive: true });
  const files = [path.join(dir, `${t.name}.csv`), path.join(dir, `${t.name}.md`), path.join(dir, `${t.name}.tex`)];
  writeFileSync(files[0], sectionCsv(t));
  writeFileSync(files[1], sectionMarkdown(t));
  writeFileSync(files[2], sectionLatex(t));
  return files;
}

/** Cell format "mean ± std" (std taken from the row's hidden `_std:<key>` field), or the mean alone. */
export const fmtMeanStd = (decimals: number) => (v: unknown, row: Row, key: string) => {
  if (typeof v !== 'number' || Number.isNaN(v)) return '–';
  const sd = row[`_std:${key}`];
  return typeof sd === 'number' ? `${v.toFixed(decimals)} ± ${sd.toFixed(decimals)}` : v.toFixed(decimals);
};

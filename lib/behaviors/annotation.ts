// Human annotation round trip: export reasoning texts to a CSV (one 0/1 column per behaviour, pre-filled by a tagger
// or left empty), let people fill it in a spreadsheet, read it back as a label source for agreementTable.
//
// Format: header `id,reasoning,<7 behaviour ids>,notes[,rule_evidence]`; RFC 4180 quoting (fields with a comma,
// quote, CR or LF, or leading/trailing spaces are quoted, quotes doubled); records end with "\n".
// Reading accepts 0/1, true/false, yes/no, y/n (any case, spaces trimmed). A row whose seven behaviour cells are all
// empty is "not annotated yet" and listed, not an error; a row with some cells filled and others empty is an error.
// Caveat: spreadsheet programs may treat a text starting with "=", "+", "-" or "@" as a formula when opening the
// file; import it as text (LibreOffice: "Evaluate formulas" off) so that reasoning texts survive unchanged.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { DataError, R2ecError } from '../util/errors';
import { BEHAVIOR_IDS, type Behavior, type TagInput, type TagResult } from './types';

export interface AnnotationCsvOptions {
  /** pre-fill the behaviour columns with the results' 0/1 labels; default true when results are given */
  prefill?: boolean;
  /** add a `rule_evidence` column with the matched cues (helps annotators check; may anchor them); default false */
  evidence?: boolean;
}

function csvField(v: string): string {
  return /[",\r\n]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * CSV text for annotation, rows in the order of `inputs`. `results` (e.g. the rule tagger's) pre-fill the behaviour
 * columns; pass null for an empty sheet. A result with labels null leaves its row empty.
 */
export function toAnnotationCsv(
  results: TagResult[] | null | undefined,
  inputs: TagInput[],
  opts: AnnotationCsvOptions = {},
): string {
  const byId = new Map<string, TagResult>();
  for (const r of results ?? []) byId.set(r.id, r);
  const prefill = results ? (opts.prefill ?? true) : false;
  const header = ['id', 'reasoning', ...BEHAVIOR_IDS, 'notes', ...(opts.evidence ? ['rule_evidence'] : [])];
  const lines = [header.join(',')];
  const seen = new Set<string>();
  for (const inp of inputs) {
    if (seen.has(inp.id)) throw new R2ecError(`toAnnotationCsv: duplicate input id "${inp.id}"`);
    seen.add(inp.id);
    const r = byId.get(inp.id);
    if (results && !r) throw new R2ecError(`toAnnotationCsv: no result for input "${inp.id}"`);
    const cells = BEHAVIOR_IDS.map((b) => (prefill && r?.labels ? (r.labels[b] ? '1' : '0') : ''));
    const row = [inp.id, inp.reasoning, ...cells, ''];
    if (opts.evidence) {
      const ev = r ? BEHAVIOR_IDS.filter((b) => r.evidence[b]?.length).map((b) => `${b}: ${r.evidence[b]!.join(' | ')}`) : [];
      row.push(ev.join('; '));
    }
    lines.push(row.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

export function writeAnnotationCsv(
  path: string,
  results: TagResult[] | null | undefined,
  inputs: TagInput[],
  opts: AnnotationCsvOptions = {},
): void {
  writeFileSync(path, toAnnotationCsv(results, inputs, opts));
}

export interface AnnotationRead {
  /** one result per annotated row (labels from the sheet, no evidence), in file order */
  results: TagResult[];
  /** every row's id and text, in file order */
  inputs: TagInput[];
  /** ids of rows whose seven behaviour cells are all empty (not annotated yet) */
  unannotated: string[];
}

function cellBool(raw: string): boolean | undefined | 'bad' {
  const s = raw.trim().toLowerCase();
  if (s === '') return undefined;
  if (s === '1' || s === 'true' || s === 'yes' || s === 'y') return true;
  if (s === '0' || s === 'false' || s === 'no' || s === 'n') return false;
  return 'bad';
}

/** Parse annotation CSV text; `file` names the source in errors. */
export function parseAnnotationCsv(text: string, file = '<annotation csv>'): AnnotationRead {
  let records: { record: Record<string, string>; raw: string; info: { lines: number } }[];
  try {
    records = parse(text, {
      columns: (header: string[]) => header.map((h) => h.trim()),
      bom: true,
      info: true,
      raw: true,
      skip_empty_lines: true,
      relax_column_count: false,
    }) as unknown as typeof records;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new DataError(file, err.lines, undefined, `not readable as CSV: ${err.message}`);
  }
  const firstLine = text.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  const header = records.length ? Object.keys(records[0].record) : firstLine.split(',').map((h) => h.trim());
  const required = ['id', ...BEHAVIOR_IDS];
  const missing = required.filter((c) => !header.includes(c));
  if (missing.length) throw new DataError(file, 1, missing[0], `missing column(s) ${missing.join(', ')}; expected header ${['id', 'reasoning', ...BEHAVIOR_IDS].join(',')}`);

  const out: AnnotationRead = { results: [], inputs: [], unannotated: [] };
  const seen = new Map<string, number>();
  for (const { record, raw, info } of records) {
    // info.lines is the record's last line; a quoted text with newlines starts earlier.
    const body = raw.replace(/^(?:\r?\n)+/, '').replace(/\r?\n$/, '');
    const line = info.lines - (body.match(/\n/g)?.length ?? 0);
    const id = (record.id ?? '').trim();
    if (!id) throw new DataError(file, line, 'id', 'empty id');
    if (seen.has(id)) throw new DataError(file, line, 'id', `duplicate id "${id}" (first on line ${seen.get(id)})`);
    seen.set(id, line);
    out.inputs.push({ id, reasoning: record.reasoning ?? '' });
    const labels = {} as Record<Behavior, boolean>;
    const empty: Behavior[] = [];
    for (const b of BEHAVIOR_IDS) {
      const v = cellBool(record[b] ?? '');
      if (v === 'bad') throw new DataError(file, line, b, `"${record[b]}" is not a label; use 1 or 0 (also true/false, yes/no)`);
      if (v === undefined) empty.push(b);
      else labels[b] = v;
    }
    if (empty.length === BEHAVIOR_IDS.length) {
      out.unannotated.push(id);
      continue;
    }
    if (empty.length) throw new DataError(file, line, empty[0], `empty cell in a partly annotated row (${empty.join(', ')} empty); fill 0 or 1, or leave the whole row empty`);
    out.results.push({ id, labels, evidence: {} });
  }
  return out;
}

/** Read a human-annotated CSV written by toAnnotationCsv (and edited in a spreadsheet). */
export function readAnnotationCsv(path: string): AnnotationRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(path, undefined, undefined, `cannot read: ${(e as Error).message}`);
  }
  return parseAnnotationCsv(text, path);
}

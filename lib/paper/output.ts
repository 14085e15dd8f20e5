// Writing a section: its tables (CSV/Markdown/LaTeX), figures (SVG/PNG), extra files and manifest.json into
// results/<section>/, and the results/README.md index of every section and experiment run.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Run } from '../experiment/grid';
import { toMarkdown, type Row } from '../report/table';
import { exportFigures } from '../report/export';
import type { Figure } from '../report/figures';
import { makeManifest } from '../util/manifest';
import { resultsRoot } from '../util/env';
import { R2ecError } from '../util/errors';
import { SECTIONS, writeSectionTable, type SectionTable } from './section';

export interface SectionOutput {
  /** the section id = notebook name = results folder, e.g. '01-main-results' */
  section: string;
  tables: SectionTable[];
  figures: { name: string; figure: Figure }[];
  /** extra files (tidy CSVs, Markdown) written as given */
  files?: { name: string; content: string }[];
  /** the notebook's settings (must include profile) */
  config: Record<string, unknown>;
  /** the experiment runs behind the section (for backend, data provenance and the experiment manifests) */
  runs?: Run[];
  /** anything else worth recording (e.g. tagger statistics) */
  extra?: Record<string, unknown>;
  /** Date.now() at the start of the notebook, for the wall time */
  startedAt: number;
}

/** backend, seeds, data provenance and the experiment manifests of a list of runs. */
export function runsManifest(runs: Run[]): Record<string, unknown> {
  const backends = [...new Set(runs.map((r) => String(r.result.manifest.backend ?? 'unknown')))];
  const data: Record<string, unknown> = {};
  for (const r of runs) {
    const p = r.result.dataset.provenance;
    data[r.dataset] = { synthetic: p.synthetic, source: p.source, key: p.key, options: p.options, files: p.files, dropped: p.dropped, notes: p.notes };
  }
  return {
    backend: backends.join(', '),
    seed: [...new Set(runs.map((r) => r.seed))],
    data,
    experiments: runs.map((r) => ({
      dataset: r.dataset,
      seed: r.seed,
      outDir: r.result.outDir,
      createdAt: r.result.manifest.createdAt,
      evaluation: r.result.manifest.evaluation,
      durationsSec: r.result.manifest.durationsSec,
      methods: r.result.methods.map((m) => ({ name: m.name, kind: m.kind, configHash: m.configHash, trainSec: m.trainSec, evalSec: m.evalSec })),
    })),
    host: runs[0]?.result.manifest.host,
  };
}

export interface WrittenSection {
  written: string[];
  figuresSkipped?: string;
  manifestFile: string;
  /** results/README.md, updated (writeResultsIndex of the section folder's parent) */
  indexFile?: string;
  /** "**Written** to `dir` (N s):" and the file list, for the notebook's last cell (showMarkdown) */
  markdown: string;
}

/**
 * Write the section's tables (CSV/MD/TeX), figures (SVG/PNG), extra files and manifest.json into `dir`, then update
 * the results index of its parent folder (results/README.md; `index: false` skips it). Returns the files and the
 * "Written to" Markdown.
 */
export async function writeSection(dir: string, out: SectionOutput, opts: { index?: boolean } = {}): Promise<WrittenSection> {
  if (typeof out.config.profile !== 'string') throw new R2ecError('writeSection: config.profile is missing');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const t of out.tables) written.push(...writeSectionTable(dir, t));
  for (const f of out.files ?? []) {
    if (!/^[\w.@-]+$/.test(f.name)) throw new R2ecError(`writeSection: file name "${f.name}" must be a plain file name`);
    const file = path.join(dir, f.name);
    writeFileSync(file, f.content);
    written.push(file);
  }
  const figs = await exportFigures(out.figures, dir);
  written.push(...figs.written);
  const manifest = makeManifest({
    section: out.section,
    title: SECTIONS[out.section] ?? out.section,
    notebook: `notebooks/${out.section}.ipynb`,
    config: out.config,
    ...(out.runs ? runsManifest(out.runs) : {}),
    ...(out.extra ?? {}),
    outputs: written.map((f) => path.relative(dir, f)),
    figuresSkipped: figs.skipped,
    durationsSec: { total: (Date.now() - out.startedAt) / 1000 },
  });
  const manifestFile = path.join(dir, 'manifest.json');
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  const indexFile = opts.index === false ? undefined : writeResultsIndex(path.dirname(dir));
  const markdown = [
    `**Written** to \`${dir}\` (${((Date.now() - out.startedAt) / 1000).toFixed(0)} s):`,
    ...written.map((f) => `- \`${f}\``),
    ...(figs.skipped ? [`- figures skipped: ${figs.skipped}`] : []),
  ].join('\n');
  return { written, figuresSkipped: figs.skipped, manifestFile, indexFile, markdown };
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * results/README.md: the latest run of every section (results/<section>/manifest.json: what, when, profile, backend,
 * datasets, commit, wall time) and of every experiment folder (results/<experiment>/<dataset>/manifest.json).
 * Unreadable manifests are listed, not skipped silently.
 */
export function writeResultsIndex(root = resultsRoot()): string {
  const sections: Row[] = [];
  const experiments: Row[] = [];
  const broken: string[] = [];
  const dirs = existsSync(root) ? readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
  const commitOf = (m: Record<string, unknown>) => `${String(m.commit ?? 'unknown').slice(0, 10)}${m.dirty ? ' (dirty)' : ''}`;
  for (const name of dirs) {
    const file = path.join(root, name, 'manifest.json');
    if (existsSync(file)) {
      const m = readJson(file);
      if (!m) {
        broken.push(path.relative(root, file));
        continue;
      }
      const cfg = (m.config ?? {}) as Record<string, unknown>;
      const ds = cfg.datasets ?? cfg.dataset;
      const total = (m.durationsSec as Record<string, number> | undefined)?.total;
      sections.push({
        Section: `[${name}](${name}/)`,
        What: String(m.title ?? SECTIONS[name] ?? m.notebook ?? name),
        When: String(m.createdAt ?? ''),
        Profile: String(cfg.profile ?? ''),
        Backend: String(m.backend ?? ''),
        Datasets: Array.isArray(ds) ? ds.join(', ') : String(ds ?? ''),
        Commit: commitOf(m),
        'Wall time (s)': typeof total === 'number' ? Math.round(total) : null,
      });
      continue;
    }
    for (const sub of readdirSync(path.join(root, name), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
      const f = path.join(root, name, sub, 'manifest.json');
      if (!existsSync(f)) continue;
      const m = readJson(f);
      if (!m) {
        broken.push(path.relative(root, f));
        continue;
      }
      const cfg = (m.config ?? {}) as Record<string, unknown>;
      const ev = (m.evaluation ?? {}) as Record<string, unknown>;
      // wall time of the work itself: the LM and every method as trained (a rerun that reuses finished methods
      // takes ~0 s but keeps their original durations)
      const ds = (m.durationsSec ?? {}) as Record<string, number>;
      const parts = Object.entries(ds).filter(([k, v]) => k !== 'total' && typeof v === 'number');
      const total = parts.length ? parts.reduce((a, [, v]) => a + v, 0) : ds.total;
      experiments.push({
        Experiment: `[${name}/${sub}](${name}/${sub}/)`,
        Methods: Array.isArray(cfg.methods) ? (cfg.methods as { name: string }[]).map((x) => x.name).join(', ') : '',
        When: String(m.createdAt ?? ''),
        Profile: String(cfg.profile ?? ''),
        Backend: String(m.backend ?? ''),
        'Test samples': typeof ev.testSamples === 'number' ? ev.testSamples : null,
        Commit: commitOf(m),
        'Wall time (s)': typeof total === 'number' ? Math.round(total) : null,
      });
    }
  }
  const lines = [
    '# Results',
    '',
    `Generated by \`writeResultsIndex()\` (lib/paper/output.ts) at the end of every notebook, from the manifest.json files under this folder; do not edit by hand. Updated ${new Date().toISOString()}.`,
    '',
    '## Sections (notebooks)',
    '',
    sections.length ? toMarkdown(sections).trim() : '(none yet)',
    '',
    '## Experiment runs (results/<experiment>/<dataset>/)',
    '',
    experiments.length ? toMarkdown(experiments).trim() : '(none yet)',
    '',
  ];
  if (broken.length) lines.push('## Unreadable manifests', '', ...broken.map((b) => `- ${b}`), '');
  mkdirSync(root, { recursive: true });
  const file = path.join(root, 'README.md');
  writeFileSync(file, lines.join('\n'));
  return file;
}

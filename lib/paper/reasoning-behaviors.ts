// Section 05: the reasoning texts of a run, tagged with the seven behaviours (rules, an optional LLM judge, human
// annotations), shares per dataset, examples, and Cohen's kappa between label sources.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Row, ColumnSpec } from '../report/table';
import { groupedBarChart, type Figure } from '../report/figures';
import { agreementTable, type AgreementTable } from '../behaviors/agreement';
import { readAnnotationCsv } from '../behaviors/annotation';
import { behaviorShares, examplesPerBehavior } from '../behaviors/summary';
import { BEHAVIORS, BEHAVIOR_IDS, type TagInput, type TagResult } from '../behaviors/types';
import { hashSeed, makeRng } from '../util/rng';
import { ConfigError, R2ecError } from '../util/errors';
import { methodOverSeeds, type DatasetRuns } from './runs';
import type { ColumnGroup, SectionTable } from './section';

export interface TextSample {
  dataset: string;
  method: string;
  sampleIndex: number;
  user: number;
  text: string;
  tokens: number;
}

/**
 * Up to `perDataset` test reasoning texts per dataset and method (first seed), a seeded sample of the texts the run
 * kept (eval.keepTexts), in test order. Fewer when fewer were kept (the caller reports the count).
 */
export function reasoningTexts(data: DatasetRuns[], methods: string[], perDataset: number, seed: number): TextSample[] {
  if (!Number.isInteger(perDataset) || perDataset < 1) throw new ConfigError('textsPerDataset', `must be an integer ≥ 1, got ${perDataset}`);
  const out: TextSample[] = [];
  for (const d of data) {
    for (const method of methods) {
      const m = methodOverSeeds(d, method)[0];
      const texts = m.texts ?? [];
      const idx = texts.map((_, i) => i);
      const rng = makeRng(hashSeed(seed, 'behavior-texts', d.dataset, method));
      for (let i = 0; i < Math.min(perDataset, idx.length); i++) {
        const j = i + rng.int(idx.length - i);
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      const picked = idx.slice(0, Math.min(perDataset, idx.length)).sort((a, b) => a - b);
      for (const i of picked) out.push({ dataset: d.dataset, method, ...texts[i] });
    }
  }
  return out;
}

/** Group of a text for the behaviour tables: its dataset, or "dataset · method" when texts come from several methods. */
export function behaviorGroupOf(texts: TextSample[]): (id: string) => string {
  const several = new Set(texts.map((t) => t.method)).size > 1;
  const map = new Map(texts.map((t) => [textId(t), several ? `${t.dataset} · ${t.method}` : t.dataset]));
  return (id: string) => {
    const g = map.get(id);
    if (g === undefined) throw new R2ecError(`behaviour group: unknown text id "${id}"`);
    return g;
  };
}

export function textId(t: Pick<TextSample, 'dataset' | 'method' | 'sampleIndex'>): string {
  return `${t.dataset}/${t.method}/${t.sampleIndex}`;
}

/**
 * Tagger inputs: the reasoning text plus what the prompt showed (spec §2): the last `promptHistory` history items'
 * titles, their ratings (when the dataset has ratings) and their categories/brands.
 */
export function behaviorInputs(data: DatasetRuns[], texts: TextSample[]): TagInput[] {
  return texts.map((t) => {
    const d = data.find((x) => x.dataset === t.dataset);
    if (!d) throw new R2ecError(`behaviorInputs: no runs for dataset "${t.dataset}"`);
    const input: TagInput = { id: textId(t), reasoning: t.text };
    const ds = d.data;
    if (!ds) return input;
    const sample = ds.samples.test.find((s) => s.index === t.sampleIndex);
    if (!sample) throw new R2ecError(`behaviorInputs: ${t.dataset} has no test sample with index ${t.sampleIndex}`);
    const cfg = methodOverSeeds(d, t.method)[0].config as { promptHistory?: number } | undefined;
    const h = cfg?.promptHistory ?? sample.history.length;
    const hist = h > 0 ? sample.history.slice(-h) : sample.history;
    input.historyTitles = hist.map((x) => ds.items[x.item].title);
    if (hist.every((x) => Number.isFinite(x.rating) && x.rating > 0)) input.historyRatings = hist.map((x) => x.rating);
    input.historyAttributes = hist.flatMap((x) => [...(ds.items[x.item].categories ?? []), ...(ds.items[x.item].brand ? [ds.items[x.item].brand!] : [])]);
    return input;
  });
}

export interface LabelSource {
  name: string;
  results: TagResult[];
}

/**
 * Share (%) of texts showing each behaviour, one row per behaviour, a column group per text group (dataset, or
 * dataset · method) and a column per label source. Texts a source could not label are left out of its n (counted).
 */
export function behaviorSharesTable(
  sources: LabelSource[],
  groupOf: (id: string) => string,
  opts: { name?: string; label?: string; describe?: string } = {},
): { table: SectionTable; long: Row[] } {
  if (sources.length === 0) throw new R2ecError('behaviorSharesTable: no label source');
  const groups: string[] = [];
  for (const r of sources[0].results) if (!groups.includes(groupOf(r.id))) groups.push(groupOf(r.id));
  const rows: Row[] = BEHAVIORS.map((b) => ({ behavior: b.id, Behaviour: b.label }));
  const columns: ColumnSpec[] = [{ key: 'Behaviour' }];
  const colGroups: ColumnGroup[] = [];
  const long: Row[] = [];
  const ns: string[] = [];
  for (const g of groups) {
    const keys = sources.map((s) => `${g} ${s.name}`);
    for (const s of sources) {
      const shares = behaviorShares(s.results.filter((r) => groupOf(r.id) === g));
      const n = shares[0]?.n ?? 0;
      const unl = shares[0]?.unlabeled ?? 0;
      ns.push(`${g} ${s.name}: n=${n} texts${unl ? ` (+${unl} the source could not label)` : ''}`);
      columns.push({ key: `${g} ${s.name}`, label: `${s.name} (%)`, decimals: 1 });
      for (const sh of shares) {
        const row = rows.find((r) => r.behavior === sh.behavior)!;
        row[`${g} ${s.name}`] = sh.share === null ? null : 100 * sh.share;
        long.push({ group: g, source: s.name, behavior: sh.behavior, label: sh.label, count: sh.count, n: sh.n, share: sh.share, unlabeled: sh.unlabeled });
      }
    }
    colGroups.push({ label: g, keys });
  }
  return {
    long,
    table: {
      name: opts.name ?? 'behavior-shares',
      rows,
      groups: colGroups,
      options: {
        columns,
        label: opts.label,
        caption:
          `Share of reasoning texts showing each behaviour (%)${opts.describe ? `, ${opts.describe}` : ''}; ${ns.join('; ')}. ` +
          `A text can show several behaviours.`,
      },
    },
  };
}

/** Grouped bars: behaviours along x, a bar per text group (first source, or the named one). */
export function behaviorFigure(long: Row[], source?: string): Figure {
  const src = source ?? String(long[0]?.source ?? '');
  const rows = long.filter((r) => r.source === src);
  const groups: string[] = [];
  for (const r of rows) if (!groups.includes(String(r.group))) groups.push(String(r.group));
  return groupedBarChart({
    categories: BEHAVIORS.map((b) => b.label),
    series: groups.map((g) => ({
      name: g,
      values: BEHAVIORS.map((b) => {
        const r = rows.find((x) => x.group === g && x.behavior === b.id);
        return r && typeof r.share === 'number' ? 100 * r.share : NaN;
      }),
    })),
    xLabel: 'Behaviour',
    yLabel: `Texts showing it (%, ${src})`,
    layout: { xaxis: { tickangle: -30 } },
  });
}

/** Human label sources: every annotated*.csv in `dir` (a copy of the annotation template filled in by a person). */
export function humanLabelSources(dir: string): { sources: LabelSource[]; notes: string[] } {
  if (!existsSync(dir)) return { sources: [], notes: [] };
  const sources: LabelSource[] = [];
  const notes: string[] = [];
  for (const f of readdirSync(dir).filter((x) => /^annotated.*\.csv$/i.test(x)).sort()) {
    const read = readAnnotationCsv(path.join(dir, f));
    sources.push({ name: `human:${f.replace(/\.csv$/i, '')}`, results: read.results });
    notes.push(`${f}: ${read.results.length} annotated row(s), ${read.unannotated.length} not annotated yet`);
  }
  return { sources, notes };
}

/**
 * Cohen's kappa per behaviour for every pair of label sources (joined by text id). A pair without common labelled
 * texts is reported in `problems`, not thrown. Undefined table when fewer than two sources could be compared.
 */
export function kappaTable(sources: LabelSource[], opts: { name?: string; label?: string } = {}): { table?: SectionTable; pairs: AgreementTable[]; problems: string[] } {
  const pairs: AgreementTable[] = [];
  const problems: string[] = [];
  for (let i = 0; i < sources.length; i++) {
    for (let j = i + 1; j < sources.length; j++) {
      try {
        pairs.push(agreementTable(sources[i].results, sources[j].results, { nameA: sources[i].name, nameB: sources[j].name }));
      } catch (e) {
        problems.push(`${sources[i].name} vs ${sources[j].name}: ${(e as Error).message}`);
      }
    }
  }
  if (pairs.length === 0) return { pairs, problems };
  const rows: Row[] = [...BEHAVIORS.map((b) => ({ Behaviour: b.label } as Row)), { Behaviour: 'mean' }];
  const columns: ColumnSpec[] = [{ key: 'Behaviour' }];
  for (const p of pairs) {
    const key = `${p.nameA} vs ${p.nameB}`;
    columns.push({ key, label: `${key} (n=${p.n})`, decimals: 3 });
    p.rows.forEach((r, i) => (rows[i][key] = r.kappa));
    rows[rows.length - 1][key] = p.meanKappa;
  }
  return {
    pairs,
    problems,
    table: {
      name: opts.name ?? 'kappa',
      rows,
      options: {
        columns,
        label: opts.label,
        caption:
          "Cohen's kappa between label sources per behaviour (n = texts labelled by both). " +
          pairs.map((p) => `${p.nameA} vs ${p.nameB}: ${p.skipped.onlyInA.length + p.skipped.onlyInB.length} text(s) in one source only, ${p.skipped.nullInA.length + p.skipped.nullInB.length} unlabelled`).join('; ') + '.',
      },
    },
  };
}

/** One row per text and source: ids, dataset, method, length, the seven 0/1 labels and the evidence. */
export function tagRows(texts: TextSample[], sources: LabelSource[]): Row[] {
  const out: Row[] = [];
  for (const s of sources) {
    const byId = new Map(s.results.map((r) => [r.id, r]));
    for (const t of texts) {
      const r = byId.get(textId(t));
      if (!r) continue;
      const row: Row = { id: textId(t), source: s.name, dataset: t.dataset, method: t.method, sampleIndex: t.sampleIndex, tokens: t.tokens };
      for (const b of BEHAVIOR_IDS) row[b] = r.labels ? (r.labels[b] ? 1 : 0) : null;
      row.evidence = BEHAVIOR_IDS.filter((b) => r.evidence[b]?.length).map((b) => `${b}: ${r.evidence[b]!.join(' | ')}`).join('; ');
      row.error = r.error ?? '';
      out.push(row);
    }
  }
  return out;
}

/** Markdown: k seeded example texts per behaviour with the evidence in bold (behaviours without texts say so). */
export function examplesMarkdown(results: TagResult[], inputs: TagInput[], k: number, seed: number, source = 'rules'): string {
  const ex = examplesPerBehavior(results, inputs, k, seed);
  const parts: string[] = [`# Example reasoning texts per behaviour (${source})`, ''];
  for (const b of BEHAVIORS) {
    parts.push(`## ${b.label}`, '', `_${b.definition}_`, '');
    if (ex[b.id].length === 0) parts.push('(no text shows this behaviour)', '');
    for (const e of ex[b.id]) parts.push(`**${e.id}** — evidence: ${e.evidence.length ? e.evidence.join(', ') : '–'}`, '', `> ${e.markdown.replace(/\n/g, '\n> ')}`, '');
  }
  return parts.join('\n');
}

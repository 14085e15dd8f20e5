// Agreement between two label sources (rules vs LLM judge vs human annotation), per behaviour: Cohen's kappa.
import { R2ecError } from '../util/errors';
import { BEHAVIORS, type Behavior, type TagResult } from './types';

/**
 * Cohen's kappa for two binary raters over the same items: (p_o − p_e) / (1 − p_e), with p_o the observed agreement
 * and p_e = p_a·p_b + (1−p_a)(1−p_b) the agreement expected from the raters' marginals.
 *
 * Degenerate case: when p_e = 1 (both raters gave every item the same single label) the formula is 0/0. We define
 * kappa = 1 if the two label vectors are identical and 0 otherwise, so the result is never NaN. (With binary labels
 * p_e = 1 forces identical vectors, so in practice this returns 1; two raters that are each constant but disagree
 * have p_e = 0 and kappa = 0 from the formula.)
 * Throws R2ecError on different lengths or no items.
 */
export function cohenKappa(a: boolean[], b: boolean[]): number {
  if (a.length !== b.length) throw new R2ecError(`cohenKappa: label vectors differ in length (${a.length} vs ${b.length})`);
  const n = a.length;
  if (n === 0) throw new R2ecError('cohenKappa: no items to compare');
  let agree = 0;
  let posA = 0;
  let posB = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    if (a[i]) posA++;
    if (b[i]) posB++;
  }
  const po = agree / n;
  const pa = posA / n;
  const pb = posB / n;
  const pe = pa * pb + (1 - pa) * (1 - pb);
  if (1 - pe < 1e-12) return agree === n ? 1 : 0;
  return (po - pe) / (1 - pe);
}

export interface AgreementRow {
  behavior: Behavior;
  label: string;
  /** items compared (present in both sources with labels) */
  n: number;
  kappa: number;
  /** observed agreement p_o */
  agreement: number;
  bothTrue: number;
  onlyA: number;
  onlyB: number;
  bothFalse: number;
  /** share of the n items that source A / B labels true */
  shareA: number;
  shareB: number;
}

export interface AgreementTable {
  nameA: string;
  nameB: string;
  rows: AgreementRow[];
  /** unweighted mean of the per-behaviour kappas */
  meanKappa: number;
  /** items compared */
  n: number;
  /** items left out, by reason (never silently) */
  skipped: { onlyInA: string[]; onlyInB: string[]; nullInA: string[]; nullInB: string[] };
}

function byId(results: TagResult[], name: string): Map<string, TagResult> {
  const m = new Map<string, TagResult>();
  for (const r of results) {
    if (m.has(r.id)) throw new R2ecError(`agreementTable: duplicate id "${r.id}" in source "${name}"`);
    m.set(r.id, r);
  }
  return m;
}

/**
 * Per-behaviour agreement of two label sources, joined by id. Items missing from one source or with labels null
 * (a failed LLM judgement, an unannotated CSV row) are left out and listed in `skipped`.
 */
export function agreementTable(
  a: TagResult[],
  b: TagResult[],
  opts: { nameA?: string; nameB?: string } = {},
): AgreementTable {
  const nameA = opts.nameA ?? 'A';
  const nameB = opts.nameB ?? 'B';
  const ma = byId(a, nameA);
  const mb = byId(b, nameB);
  const skipped = { onlyInA: [] as string[], onlyInB: [] as string[], nullInA: [] as string[], nullInB: [] as string[] };
  const pairs: [Record<Behavior, boolean>, Record<Behavior, boolean>][] = [];
  for (const [id, ra] of ma) {
    const rb = mb.get(id);
    if (!rb) {
      skipped.onlyInA.push(id);
      continue;
    }
    if (!ra.labels) skipped.nullInA.push(id);
    if (!rb.labels) skipped.nullInB.push(id);
    if (ra.labels && rb.labels) pairs.push([ra.labels, rb.labels]);
  }
  for (const id of mb.keys()) if (!ma.has(id)) skipped.onlyInB.push(id);
  if (pairs.length === 0)
    throw new R2ecError(
      `agreementTable: "${nameA}" and "${nameB}" have no item in common with labels on both sides ` +
        `(only in ${nameA}: ${skipped.onlyInA.length}, only in ${nameB}: ${skipped.onlyInB.length}, ` +
        `null in ${nameA}: ${skipped.nullInA.length}, null in ${nameB}: ${skipped.nullInB.length})`,
    );
  const n = pairs.length;
  const rows = BEHAVIORS.map(({ id, label }): AgreementRow => {
    const la = pairs.map(([x]) => x[id]);
    const lb = pairs.map(([, y]) => y[id]);
    let bothTrue = 0;
    let onlyA = 0;
    let onlyB = 0;
    for (let i = 0; i < n; i++) {
      if (la[i] && lb[i]) bothTrue++;
      else if (la[i]) onlyA++;
      else if (lb[i]) onlyB++;
    }
    return {
      behavior: id,
      label,
      n,
      kappa: cohenKappa(la, lb),
      agreement: (n - onlyA - onlyB) / n,
      bothTrue,
      onlyA,
      onlyB,
      bothFalse: n - bothTrue - onlyA - onlyB,
      shareA: (bothTrue + onlyA) / n,
      shareB: (bothTrue + onlyB) / n,
    };
  });
  return { nameA, nameB, rows, meanKappa: rows.reduce((s, r) => s + r.kappa, 0) / rows.length, n, skipped };
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allFalse,
  behaviorShares,
  evidenceSpans,
  examplesPerBehavior,
  highlightMarkdown,
  ruleTagger,
  type Behavior,
  type TagResult,
} from '../lib/behaviors';

const res = (id: string, on: Behavior[] | null): TagResult => {
  if (on === null) return { id, labels: null, evidence: {}, error: 'failed' };
  const labels = allFalse();
  for (const b of on) labels[b] = true;
  return { id, labels, evidence: {} };
};

const RESULTS = [
  res('cds/1', ['temporal', 'self_explanation']),
  res('cds/2', ['temporal']),
  res('cds/3', []),
  res('cds/4', null),
  res('games/1', ['temporal', 'multi_objective']),
  res('games/2', ['multi_objective']),
];

test('behaviorShares: one group by default, failed labels counted apart', () => {
  const rows = behaviorShares(RESULTS);
  assert.equal(rows.length, 7);
  const t = rows.find((r) => r.behavior === 'temporal')!;
  assert.deepEqual(
    { group: t.group, count: t.count, n: t.n, share: t.share, unlabeled: t.unlabeled },
    { group: 'all', count: 3, n: 5, share: 0.6, unlabeled: 1 },
  );
  assert.equal(rows.find((r) => r.behavior === 'role_scenario')!.share, 0);
});

test('behaviorShares: per group, by function, Map or record; a missing group is an error', () => {
  const byPrefix = (id: string) => id.split('/')[0];
  const rows = behaviorShares(RESULTS, byPrefix);
  assert.deepEqual([...new Set(rows.map((r) => r.group))], ['cds', 'games']);
  const get = (g: string, b: Behavior) => rows.find((r) => r.group === g && r.behavior === b)!;
  assert.deepEqual([get('cds', 'temporal').count, get('cds', 'temporal').n, get('cds', 'temporal').unlabeled], [2, 3, 1]);
  assert.ok(Math.abs(get('cds', 'temporal').share! - 2 / 3) < 1e-12);
  assert.deepEqual([get('games', 'multi_objective').count, get('games', 'multi_objective').share], [2, 1]);
  assert.equal(get('games', 'self_explanation').share, 0);
  const map = new Map(RESULTS.map((r) => [r.id, byPrefix(r.id)]));
  assert.deepEqual(behaviorShares(RESULTS, map), rows);
  assert.deepEqual(behaviorShares(RESULTS, Object.fromEntries(map)), rows);
  // a group whose texts all failed has share null, never NaN
  const allFailed = behaviorShares([res('x', null)]);
  assert.ok(allFailed.every((r) => r.share === null && r.n === 0 && r.unlabeled === 1));
  assert.throws(() => behaviorShares(RESULTS, new Map([['cds/1', 'cds']])), /no group for result "cds\/2"/);
});

test('highlightMarkdown: bold spans, merged overlaps, markdown characters escaped', () => {
  assert.equal(highlightMarkdown('so it is', [{ start: 0, end: 2 }]), '**so** it is');
  assert.equal(highlightMarkdown('abcdef', [{ start: 1, end: 3 }, { start: 2, end: 4 }]), 'a**bcd**ef');
  assert.equal(highlightMarkdown('a *b* [T](5.0) <answer>', [{ start: 0, end: 1 }]), '**a** \\*b\\* \\[T\\](5.0) &lt;answer&gt;');
  assert.deepEqual(evidenceSpans('Not notable, not.', ['not']), [
    { start: 0, end: 3 },
    { start: 13, end: 16 },
  ]);
});

test('examplesPerBehavior: seeded choice of k texts per behaviour, evidence in bold', () => {
  const inputs = Array.from({ length: 12 }, (_, k) => ({
    id: `t${k}`,
    reasoning: k % 3 === 0 ? `Text ${k}: they recently bought it.` : `Text ${k}: nothing to see.`,
  }));
  const results = ruleTagger().tagSync(inputs);
  const ex = examplesPerBehavior(results, inputs, 2, 7);
  assert.equal(ex.temporal.length, 2);
  assert.equal(ex.role_scenario.length, 0);
  for (const e of ex.temporal) {
    assert.ok(['t0', 't3', 't6', 't9'].includes(e.id));
    assert.equal(e.markdown, `Text ${e.id.slice(1)}: they **recently** bought it.`);
    assert.deepEqual(e.evidence, ['recently']);
  }
  assert.notEqual(ex.temporal[0].id, ex.temporal[1].id);
  // same seed → same picks; the picks over many seeds cover the whole pool (the seed matters)
  assert.deepEqual(examplesPerBehavior(results, inputs, 2, 7), ex);
  const seen = new Set<string>();
  for (let s = 0; s < 40; s++) for (const e of examplesPerBehavior(results, inputs, 1, s).temporal) seen.add(e.id);
  assert.deepEqual([...seen].sort(), ['t0', 't3', 't6', 't9']);
  // k larger than the pool gives the pool
  assert.equal(examplesPerBehavior(results, inputs, 10, 1).temporal.length, 4);
  // a source without spans (LLM judge, humans) is highlighted by searching its evidence strings
  const noSpans: TagResult[] = [{ id: 't0', labels: { ...allFalse(), temporal: true }, evidence: { temporal: ['Recently'] } }];
  assert.equal(examplesPerBehavior(noSpans, inputs, 1, 1).temporal[0].markdown, 'Text 0: they **recently** bought it.');
  assert.throws(() => examplesPerBehavior(results, inputs.slice(1), 5, 1), /no input text for result "t0"/);
  assert.throws(() => examplesPerBehavior(results, inputs, -1, 1), /k must be an integer/);
});

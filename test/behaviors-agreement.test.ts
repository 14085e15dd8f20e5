import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIOR_IDS, agreementTable, allFalse, cohenKappa, type Behavior, type TagResult } from '../lib/behaviors';
import { R2ecError } from '../lib/util/errors';

/** Two label vectors from the four cells of a 2×2 table (yes-yes, yes-no, no-yes, no-no). */
function fromCells(yy: number, yn: number, ny: number, nn: number): [boolean[], boolean[]] {
  const a: boolean[] = [];
  const b: boolean[] = [];
  const push = (n: number, x: boolean, y: boolean) => {
    for (let i = 0; i < n; i++) a.push(x), b.push(y);
  };
  push(yy, true, true);
  push(yn, true, false);
  push(ny, false, true);
  push(nn, false, false);
  return [a, b];
}

test('cohenKappa: the classic 2×2 example gives 0.4', () => {
  // p_o = 35/50 = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, kappa = 0.2/0.5 = 0.4
  const [a, b] = fromCells(20, 5, 10, 15);
  assert.ok(Math.abs(cohenKappa(a, b) - 0.4) < 1e-12);
  // symmetric in the raters
  assert.ok(Math.abs(cohenKappa(b, a) - 0.4) < 1e-12);
});

test('cohenKappa: more hand-computed values', () => {
  // p_o = 3/4, p_a = 3/4, p_b = 1/2, p_e = 3/8 + 1/8 = 1/2 → 0.5
  assert.ok(Math.abs(cohenKappa([true, true, true, false], [true, true, false, false]) - 0.5) < 1e-12);
  // complete disagreement with balanced marginals → −1
  assert.equal(cohenKappa([true, false], [false, true]), -1);
  // perfect agreement with both labels present → 1
  assert.equal(cohenKappa([true, false, true], [true, false, true]), 1);
  // p_o = 0.8, p_e = 0.9·0.9 + 0.1·0.1 = 0.82 → (0.8−0.82)/0.18 = −1/9 (high agreement, kappa below 0: the paradox)
  const [a, b] = fromCells(8, 1, 1, 0);
  assert.ok(Math.abs(cohenKappa(a, b) - -1 / 9) < 1e-12);
});

test('cohenKappa: degenerate cases are defined, never NaN', () => {
  // both raters constant and equal: p_e = 1 → defined as 1
  assert.equal(cohenKappa([true, true, true], [true, true, true]), 1);
  assert.equal(cohenKappa([false, false], [false, false]), 1);
  // each rater constant but opposite: p_e = 0, p_o = 0 → 0 from the formula
  assert.equal(cohenKappa([true, true], [false, false]), 0);
  // one rater constant: p_o = 0.5, p_a = 1, p_b = 0.5, p_e = 0.5 → 0
  assert.equal(cohenKappa([true, true], [true, false]), 0);
  assert.throws(() => cohenKappa([], []), R2ecError);
  assert.throws(() => cohenKappa([true], [true, false]), /differ in length \(1 vs 2\)/);
});

const res = (id: string, on: Behavior[] | null): TagResult => {
  if (on === null) return { id, labels: null, evidence: {}, error: 'failed' };
  const labels = allFalse();
  for (const b of on) labels[b] = true;
  return { id, labels, evidence: {} };
};

test('agreementTable: joins by id, counts cells per behaviour, lists what it left out', () => {
  const rules = [
    res('1', ['temporal', 'self_explanation']),
    res('2', ['temporal']),
    res('3', []),
    res('4', ['temporal']),
    res('5', ['temporal']),
    res('only-rules', ['temporal']),
  ];
  const judge = [
    res('4', ['temporal', 'self_explanation']),
    res('3', ['temporal']),
    res('2', []),
    res('1', ['temporal', 'self_explanation']),
    res('5', null),
    res('only-judge', []),
  ];
  const t = agreementTable(rules, judge, { nameA: 'rules', nameB: 'judge' });
  assert.equal(t.n, 4);
  assert.deepEqual(t.skipped, { onlyInA: ['only-rules'], onlyInB: ['only-judge'], nullInA: [], nullInB: ['5'] });
  assert.deepEqual(t.rows.map((r) => r.behavior), [...BEHAVIOR_IDS]);
  const temporal = t.rows.find((r) => r.behavior === 'temporal')!;
  // ids 1..4: rules T,T,F,T; judge T,F,T,T → yy 2, yn 1, ny 1, nn 0; p_o = .5, p_e = .75·.75 + .25·.25 = .625 → −1/3
  assert.deepEqual(
    { bothTrue: temporal.bothTrue, onlyA: temporal.onlyA, onlyB: temporal.onlyB, bothFalse: temporal.bothFalse },
    { bothTrue: 2, onlyA: 1, onlyB: 1, bothFalse: 0 },
  );
  assert.ok(Math.abs(temporal.kappa - -1 / 3) < 1e-12);
  assert.equal(temporal.agreement, 0.5);
  assert.equal(temporal.shareA, 0.75);
  const selfExp = t.rows.find((r) => r.behavior === 'self_explanation')!;
  // rules T,F,F,F; judge T,F,F,T → p_o = .75, p_e = .25·.5 + .75·.5 = .5 → .5
  assert.ok(Math.abs(selfExp.kappa - 0.5) < 1e-12);
  // the five other behaviours are all-false on both sides: degenerate, kappa 1
  for (const r of t.rows) if (r.behavior !== 'temporal' && r.behavior !== 'self_explanation') assert.equal(r.kappa, 1);
  assert.ok(Math.abs(t.meanKappa - (5 + 0.5 - 1 / 3) / 7) < 1e-12);
  for (const r of t.rows) assert.ok(Number.isFinite(r.kappa));
});

test('agreementTable: nothing in common or duplicate ids is an error', () => {
  assert.throws(() => agreementTable([res('a', [])], [res('b', [])]), /no item in common/);
  assert.throws(() => agreementTable([res('a', [])], [res('a', null)]), /null in B: 1/);
  assert.throws(() => agreementTable([res('a', []), res('a', [])], [res('a', [])], { nameA: 'human' }), /duplicate id "a" in source "human"/);
});

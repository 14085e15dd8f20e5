// The synthetic dataset: deterministic, shaped like real data, and carrying real sequential signal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSynthetic, SYNTHETIC_KINDS } from '../lib/data/synthetic';
import type { Dataset, Sample } from '../lib/data/types';
import { ConfigError } from '../lib/util/errors';

const ds = generateSynthetic();

test('same seed gives an identical dataset, another seed a different one', () => {
  assert.deepStrictEqual(generateSynthetic({ seed: 42 }), ds);
  const other = generateSynthetic({ seed: 43 });
  assert.notDeepStrictEqual(other.items.map((i) => i.title), ds.items.map((i) => i.title));
  assert.notDeepStrictEqual(other.interactions, ds.interactions);
});

test('default size, name, provenance and item text', () => {
  assert.equal(ds.name, 'synthetic');
  assert.equal(ds.users.length, 400);
  assert.equal(ds.items.length, 301); // + pad
  assert.equal(ds.items[0].id, 0);
  assert.equal(ds.window, 20);
  assert.equal(ds.provenance.source, 'synthetic');
  assert.equal(ds.provenance.synthetic, true);
  assert.deepEqual(ds.provenance.files, []);
  assert.match(ds.provenance.key, /^[0-9a-f]{32}$/);
  assert.ok(ds.provenance.notes.some((n) => /complementary/.test(n)));
  const kinds = new Set(SYNTHETIC_KINDS.map((k) => k.name));
  const titles = new Set<string>();
  for (const it of ds.items.slice(1)) {
    assert.equal(ds.items[it.id], it);
    // "<Brand> <Attr> <Attr> <Noun>": the brand opens the title, the kind's noun ends it
    assert.ok(it.title.startsWith(`${it.brand} `), it.title);
    assert.ok(it.title.split(' ').length >= 4, it.title);
    assert.ok(kinds.has(it.categories![0]));
    assert.match(it.description!, new RegExp(`^An? .* by ${it.brand}, made for .*\\.$`));
    assert.ok(it.averageRating! >= 1 && it.averageRating! <= 5);
    assert.ok(Number.isInteger(it.ratingCount) && it.ratingCount! >= 1);
    titles.add(it.title);
  }
  assert.equal(titles.size, 300, 'titles are unique');
  // a different option changes the key
  assert.notEqual(generateSynthetic({ users: 100 }).provenance.key, ds.provenance.key);
});

test('interactions per user, chronology and the 80/10/10 split', () => {
  const perUser = new Map<number, number[]>();
  for (const it of ds.interactions) {
    const ts = perUser.get(it.user) ?? [];
    ts.push(it.timestamp);
    perUser.set(it.user, ts);
    assert.ok(Number.isInteger(it.rating) && it.rating >= 1 && it.rating <= 5);
  }
  assert.equal(perUser.size, 400);
  let shortGaps = 0;
  let longGaps = 0;
  let cold = 0;
  for (const ts of perUser.values()) {
    if (ts.length < 15) {
      cold++;
      assert.ok(ts.length >= 2 && ts.length <= 5, `cold user with ${ts.length} interactions`);
    } else assert.ok(ts.length <= 40);
    for (let i = 1; i < ts.length; i++) {
      const gap = ts[i] - ts[i - 1];
      assert.ok(gap >= 60, 'timestamps strictly advance');
      if (gap < 3600) shortGaps++;
      if (gap > 86400) longGaps++;
    }
  }
  assert.equal(cold, 32); // 8% of 400
  assert.ok(shortGaps > 500 && longGaps > 3000, `gaps: ${shortGaps} within the hour, ${longGaps} over a day`);
  const { train, valid, test: tst } = ds.samples;
  const n = train.length + valid.length + tst.length;
  assert.equal(n, ds.interactions.length - 400); // one sample per interaction after each user's first
  assert.equal(train.length, Math.floor(n * 0.8));
  assert.equal(valid.length, Math.floor(n * 0.9) - Math.floor(n * 0.8));
  assert.ok(train[train.length - 1].target.timestamp <= valid[0].target.timestamp);
  assert.ok(valid[valid.length - 1].target.timestamp <= tst[0].target.timestamp);
  assert.ok([...train, ...valid, ...tst].every((s) => s.history.length >= 1 && s.history.length <= 20));
});

test('cold users and cold items occur in valid+test', () => {
  const trainUsers = new Set(ds.samples.train.map((s) => s.user));
  const trainItems = new Set(ds.samples.train.flatMap((s) => [s.target.item, ...s.history.map((h) => h.item)]));
  const evalSamples = [...ds.samples.valid, ...ds.samples.test];
  const coldUserSamples = evalSamples.filter((s) => !trainUsers.has(s.user)).length;
  const coldItemSamples = evalSamples.filter((s) => !trainItems.has(s.target.item)).length;
  assert.ok(coldUserSamples >= 20, `cold-user samples: ${coldUserSamples}`);
  assert.ok(coldItemSamples >= 20, `cold-item samples: ${coldItemSamples}`);
});

/** HR@10 on `samples` of a ranking function (history items excluded, as in evaluation: spec §5). */
function hitRate(d: Dataset, samples: Sample[], score: (s: Sample, item: number) => number): number {
  let hits = 0;
  for (const s of samples) {
    const hist = new Set(s.history.map((h) => h.item));
    const target = score(s, s.target.item);
    let better = 0;
    for (let j = 1; j < d.items.length; j++) {
      if (j === s.target.item || hist.has(j)) continue;
      const v = score(s, j);
      if (v > target || (v === target && j < s.target.item)) better++;
    }
    if (better < 10) hits++;
  }
  return hits / samples.length;
}

test('history carries signal: a complementary-kind predictor beats popularity by a wide margin', () => {
  const pop = new Map<number, number>();
  for (const s of ds.samples.train) pop.set(s.target.item, (pop.get(s.target.item) ?? 0) + 1);
  const popularity = (_s: Sample, j: number) => pop.get(j) ?? 0;
  const kindOf = (j: number) => ds.items[j].categories![0];
  const complement = new Map(SYNTHETIC_KINDS.map((k) => [k.name, k.complement]));
  // next of the complementary kind (same brand first), then the user's usual kinds; popularity breaks ties
  const habit = (s: Sample, j: number) => {
    const last = s.history[s.history.length - 1].item;
    const share = s.history.filter((h) => kindOf(h.item) === kindOf(j)).length / s.history.length;
    const comp = kindOf(j) === complement.get(kindOf(last)) ? 4 + (ds.items[j].brand === ds.items[last].brand ? 2 : 0) : 0;
    return comp + 2 * share + (pop.get(j) ?? 0) / 1e4;
  };
  const hrPop = hitRate(ds, ds.samples.test, popularity);
  const hrHabit = hitRate(ds, ds.samples.test, habit);
  assert.ok(hrPop > 0.03, `popularity HR@10 ${hrPop}`);
  assert.ok(hrHabit > 1.8 * hrPop, `habit HR@10 ${hrHabit.toFixed(3)} vs popularity ${hrPop.toFixed(3)}`);
});

test('ratings follow taste: low ratings exist and are rarer in a user\'s usual kinds', () => {
  const low = ds.interactions.filter((it) => it.rating <= 2).length;
  assert.ok(low / ds.interactions.length > 0.05, `share of ≤2★ ratings ${low / ds.interactions.length}`);
  // the user's most-bought kind (a proxy for a preferred kind) gets higher ratings than their other kinds
  const byUser = new Map<number, { kind: string; rating: number }[]>();
  for (const it of ds.interactions) {
    const l = byUser.get(it.user) ?? [];
    l.push({ kind: ds.items[it.item].categories![0], rating: it.rating });
    byUser.set(it.user, l);
  }
  let inSum = 0, inN = 0, outSum = 0, outN = 0;
  for (const l of byUser.values()) {
    const counts = new Map<string, number>();
    for (const x of l) counts.set(x.kind, (counts.get(x.kind) ?? 0) + 1);
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1])[0][0];
    for (const x of l) {
      if (x.kind === top) (inSum += x.rating), inN++;
      else (outSum += x.rating), outN++;
    }
  }
  assert.ok(inSum / inN > outSum / outN + 0.3, `mean rating ${inSum / inN} in the usual kind vs ${outSum / outN}`);
});

test('options are validated', () => {
  assert.throws(() => generateSynthetic({ users: 1 }), ConfigError);
  assert.throws(() => generateSynthetic({ coldItemShare: 0.9 }), ConfigError);
  assert.throws(() => generateSynthetic({ start: '2022-13-01x' }), ConfigError);
  assert.throws(() => generateSynthetic({ colour: 1 } as never), /unknown option/);
  const small = generateSynthetic({ users: 30, items: 40, minPerUser: 5, maxPerUser: 10, window: 5 });
  assert.equal(small.users.length, 30);
  assert.equal(small.items.length, 41);
  assert.ok([...small.samples.train, ...small.samples.test].every((s) => s.history.length <= 5));
});

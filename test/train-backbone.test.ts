// The backbone stage (lib/train/backbone.ts, lib/experiment/backbone.ts): the sampled-softmax loss against a hand
// computation, GradCache against one tape over the whole batch, batches and the sampling correction, learning on a
// planted signal, resume = uninterrupted, 2 ranks = 1 rank, the key (shipped backbones used only when it matches).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { forward, lmLogits, padBatch } from '../lib/model/decoder';
import { readOut } from '../lib/model/readout';
import { recScores } from '../lib/model/rec-head';
import { crossEntropy } from '../lib/model/losses';
import { saveCheckpoint, loadCheckpoint } from '../lib/model/checkpoint';
import { loadDataset } from '../lib/data/registry';
import type { Dataset } from '../lib/data/types';
import { trainTokenizer } from '../lib/text/bpe';
import { tokenizerCorpus } from '../lib/text/corpus';
import { paramGrads } from '../lib/train/grads';
import { SOLO } from '../lib/train/parallel';
import {
  BACKBONE_DEFAULTS, BACKBONE_OBJECTIVE_VERSION, backboneSchedule, OBJECTIVE_FINGERPRINT, contrastiveLossAndGrads, epochBatch, makeBackboneContext,
  samplingLogQ, stepBatch, stepGradients, trainBackbone, nextClauseStart, validateBackboneConfig, validReasoningTexts, hindsightReasoningTexts, type BackboneConfig, type BackboneJob,
} from '../lib/train/backbone';
import { itemAttributes, targetAim, templatedReasoning } from '../lib/text/corpus';
import { tokenizerFromJSON } from '../lib/text/bpe';
import { userPromptIds } from '../lib/text/sequences';
import { generateText, GREEDY } from '../lib/model/generate';
import { makeRng } from '../lib/util/rng';
import { makeConfig } from '../lib/experiment/config';
import { prepareBackbone } from '../lib/experiment/backbone';
import { sha256 } from '../lib/util/hash';
import { ConfigError } from '../lib/util/errors';
import { meanPairwiseCosine, readoutCosines } from '../lib/eval/collapse';

let ds: Dataset;
let tokJson: unknown;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-backbone-'));
const SEQ = { format: 'compact' as const, history: 5, maxPromptTokens: 160, maxItemTokens: 64, readoutToken: false };

before(async () => {
  await initBackend({ log: false });
  ds = await loadDataset('synthetic', { users: 120, items: 60, minPerUser: 8, maxPerUser: 14 } as never);
  tokJson = trainTokenizer(tokenizerCorpus(ds, { seed: 1, maxChars: 60_000, format: 'compact' }), { vocabSize: 400 }).toJSON();
});

function job(over: Partial<BackboneConfig> = {}, extra: Partial<BackboneJob> = {}): BackboneJob {
  return {
    dataset: ds,
    tokenizer: tokJson,
    model: modelConfig('tiny', { vocabSize: 400, maxSeqLen: 256 }),
    config: { ...structuredClone(BACKBONE_DEFAULTS), usersPerStep: 6, negatives: 5, chunk: 4, steps: 4, evalEvery: 4, schedule: { kind: 'constant', warmupSteps: 0, minRatio: 1 }, ...over },
    head: { similarity: 'cosine', tau: 0.05 },
    pooling: 'last',
    sequences: SEQ,
    validIdx: [],
    workDir: fs.mkdtempSync(path.join(tmp, 'run-')),
    ...extra,
  };
}

test('sampled-softmax loss and its gradient: hand computation and finite differences', () => {
  const d = 2;
  const users = Float32Array.from([1, 0, 0.6, 0.8]);
  const cols = Float32Array.from([1, 0, 0, 1, -1, 0]);
  const logQ = Float32Array.from([0.1, -0.2, 0.3]);
  const mask = Float32Array.from([0, 0, 0, 0, 0, -1e9]); // user 1 must not see column 2
  const head = { similarity: 'dot' as const, tau: 1 };
  const r = contrastiveLossAndGrads(users, cols, d, logQ, mask, head);
  // by hand: logits_ij = u_i·c_j − logQ_j (+ mask); loss = mean_i −log softmax_i(logits)[i]
  const u = [[1, 0], [0.6, 0.8]];
  const c = [[1, 0], [0, 1], [-1, 0]];
  const lossOf = (uu: number[][], cc: number[][]) => {
    let sum = 0;
    uu.forEach((ui, i) => {
      const logits = cc.map((cj, j) => ui[0] * cj[0] + ui[1] * cj[1] - logQ[j] + mask[i * 3 + j]);
      const lse = Math.log(logits.reduce((a, x) => a + Math.exp(x), 0));
      sum += lse - logits[i];
    });
    return sum / uu.length;
  };
  assert.ok(Math.abs(r.loss - lossOf(u, c)) < 1e-5, `${r.loss} vs ${lossOf(u, c)}`);
  const eps = 1e-3;
  for (let k = 0; k < 4; k++) {
    const up = u.map((x) => [...x]);
    const um = u.map((x) => [...x]);
    up[Math.floor(k / 2)][k % 2] += eps;
    um[Math.floor(k / 2)][k % 2] -= eps;
    const num = (lossOf(up, c) - lossOf(um, c)) / (2 * eps);
    assert.ok(Math.abs(num - r.dUsers[k]) < 1e-3, `dUsers[${k}] ${r.dUsers[k]} vs ${num}`);
  }
  for (let k = 0; k < 6; k++) {
    const cp = c.map((x) => [...x]);
    const cm = c.map((x) => [...x]);
    cp[Math.floor(k / 2)][k % 2] += eps;
    cm[Math.floor(k / 2)][k % 2] -= eps;
    const num = (lossOf(u, cp) - lossOf(u, cm)) / (2 * eps);
    assert.ok(Math.abs(num - r.dCols[k]) < 1e-3, `dCols[${k}] ${r.dCols[k]} vs ${num}`);
  }
});

test('epoch batches visit every train sample once per epoch, the same for the same seed', () => {
  const n = 10;
  const B = 4;
  const seen: number[] = [];
  for (let step = 0; step < 5; step++) seen.push(...epochBatch(n, B, step, 3)); // 20 draws = 2 epochs
  assert.deepEqual([...seen.slice(0, 10)].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  assert.deepEqual([...seen.slice(10, 20)].sort((a, b) => a - b), Array.from({ length: 10 }, (_, i) => i));
  assert.notDeepEqual(seen.slice(0, 10), seen.slice(10, 20));
  assert.deepEqual(epochBatch(n, B, 2, 3), seen.slice(8, 12));
});

test('schedule: steps from epochs (⌈epochs · n / B⌉) unless given, 8 evaluations an epoch unless given', () => {
  assert.deepEqual(backboneSchedule({ ...BACKBONE_DEFAULTS, epochs: 1, usersPerStep: 64 }, 79245), { steps: 1239, evalEvery: 155 });
  assert.deepEqual(backboneSchedule({ ...BACKBONE_DEFAULTS, epochs: 2.5, usersPerStep: 10 }, 95), { steps: 25, evalEvery: 2 });
  assert.deepEqual(backboneSchedule({ ...BACKBONE_DEFAULTS, steps: 7, evalEvery: 3 }, 1000), { steps: 7, evalEvery: 3 });
  assert.equal(backboneSchedule({ ...BACKBONE_DEFAULTS, epochs: 0 }, 1000).steps, 0);
});

test('log q = log(B · train frequency + M / N): hand-computed', () => {
  const q = samplingLogQ(ds, 6, 5);
  const N = ds.items.length - 1;
  const freq = new Array(ds.items.length).fill(0);
  for (const s of ds.samples.train) freq[s.target.item]++;
  for (const id of [1, 7, N]) {
    assert.ok(Math.abs(q[id] - Math.log(6 * (freq[id] / ds.samples.train.length) + 5 / N)) < 1e-9);
  }
});

test('GradCache gradients equal one tape over the whole batch (contrastive + LM term, chunk 1 and 4)', () => {
  for (const chunk of [1, 4]) {
    const j = job({ chunk, reasoningShare: 0.5, lmWeight: 0.3 });
    const ctx = makeBackboneContext(j, SOLO);
    const sb = stepBatch(ctx, 0);
    assert.ok(sb.sequences.some((u) => u.reasoningFrom >= 0) && sb.sequences.some((u) => u.reasoningFrom < 0), 'both kinds of user sequence');
    const cache = stepGradients(ctx, 0);
    const d = j.model.dModel;
    const ref = paramGrads(ctx.params, () => {
      const ub = padBatch(sb.sequences.map((u) => u.ids), 'right');
      const hidden = forward(ctx.params, j.model, ub);
      const users = readOut(hidden, ub, 'last');
      const ib = padBatch(sb.columns.map((c) => ctx.itemSeqs[c]), 'right');
      const cols = readOut(forward(ctx.params, j.model, ib), ib, 'last');
      let logits = tf.sub(recScores(users, cols, j.head), tf.tensor2d(sb.logQ!, [1, sb.columns.length]));
      logits = tf.add(logits, tf.tensor2d(sb.mask, [sb.users.length, sb.columns.length]));
      const con = crossEntropy(logits as tf.Tensor2D, tf.tensor1d(sb.users.map((_, i) => i), 'int32'));
      const rows: number[] = [];
      const next: number[] = [];
      sb.sequences.forEach((u, b) => {
        if (u.reasoningFrom < 0) return;
        for (let t = u.reasoningFrom - 1; t < u.ids.length - 1; t++) {
          rows.push(b * ub.T + t);
          next.push(u.ids[t + 1]);
        }
      });
      assert.equal(rows.length, sb.reasoningTokens);
      const h2 = tf.gather(tf.reshape(hidden, [ub.B * ub.T, d]), tf.tensor1d(rows, 'int32')) as tf.Tensor2D;
      const lm = crossEntropy(lmLogits(ctx.params, h2), tf.tensor1d(next, 'int32'));
      return tf.add(con, tf.mul(lm, 0.3)) as tf.Scalar;
    });
    assert.ok(Math.abs(ref.value.dataSync()[0] - (cache.loss + 0.3 * cache.lmLoss)) < 1e-4);
    for (const [k, g] of Object.entries(ref.grads)) {
      const a = g.dataSync() as Float32Array;
      const b = cache.grads[k].dataSync() as Float32Array;
      let num = 0;
      let den = 0;
      for (let i = 0; i < a.length; i++) {
        num += (a[i] - b[i]) ** 2;
        den += a[i] ** 2;
      }
      assert.ok(Math.sqrt(num) <= 1e-3 * Math.sqrt(den) + 1e-7, `chunk ${chunk}: gradient of ${k} differs (relative ${Math.sqrt(num / Math.max(den, 1e-30))})`);
    }
    ref.value.dispose();
    Object.values(ref.grads).forEach((g) => g.dispose());
    Object.values(cache.grads).forEach((g) => g.dispose());
    Object.values(ctx.params).forEach((p) => p.dispose());
  }
});

test('objective version: one step on a tiny model computes what OBJECTIVE_FINGERPRINT recorded', () => {
  const ctx = makeBackboneContext(job({ reasoningShare: 0.5, lmWeight: 0.3 }), SOLO);
  Object.values(stepGradients(ctx, 1).grads).forEach((t) => t.dispose()); // first call fills the kernels' constant caches
  const before = tf.memory().numTensors;
  const g = stepGradients(ctx, 0);
  const norm = Math.sqrt(Object.values(g.grads).reduce((a, t) => a + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0));
  Object.values(g.grads).forEach((t) => t.dispose());
  assert.equal(tf.memory().numTensors, before, 'a step leaves no tensors behind');
  const fp = sha256([g.loss, g.lmLoss, norm].map((x) => x.toPrecision(3)).join(',')).slice(0, 12);
  Object.values(ctx.params).forEach((p) => p.dispose());
  assert.equal(
    fp, OBJECTIVE_FINGERPRINT,
    `one backbone step now computes ${fp} (loss ${g.loss}, lm ${g.lmLoss}, |g| ${norm}); if the objective changed on purpose, bump ` +
      `BACKBONE_OBJECTIVE_VERSION (now ${BACKBONE_OBJECTIVE_VERSION}) and set OBJECTIVE_FINGERPRINT = '${fp}' in lib/train/backbone.ts`,
  );
});

test('config errors name the field', () => {
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, reasoningShare: 1.5 }), (e: unknown) => e instanceof ConfigError && /backbone\.reasoningShare/.test(String(e)));
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, usersPerStep: 1 }), /backbone\.usersPerStep/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, epochs: -1 }), /backbone\.epochs/);
  assert.throws(() => makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { 'backbone.negativez': 3 } }), /backbone\.negativez/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, reasoningAim: 'future' as never }), /backbone\.reasoningAim/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, reasoningAim: 'target', reasoningStyle: 'full' }), /backbone\.reasoningAim.*brief/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, init: 3 as never }), /backbone\.init/);
});

test("reasoningAim 'target': the training text's Next: names the target's attributes; the valid reasoning is generated", () => {
  // the target's first two attributes that are not decades
  const shop = { ...ds, items: ds.items.map((it, id) => (id === 1 ? { ...it, categories: ['Jazz'], brand: undefined, year: 1995 } : id === 2 ? { ...it, categories: ['Jazz', 'Blues', 'Soul'], year: 1971 } : it)) };
  assert.deepEqual(itemAttributes(shop)[1], ['Jazz', '1990s']);
  assert.deepEqual(targetAim(shop, 1), ['Jazz']);
  assert.deepEqual(targetAim(shop, 2), ['Jazz', 'Blues']);
  const s = ds.samples.train.find((x) => targetAim(ds, x.target.item).length === 2)!;
  const aim = targetAim(ds, s.target.item);
  const brief = (a?: string[]) => templatedReasoning(ds, s.history, s.target.timestamp, makeRng(7), 'brief', a).assistant;
  assert.match(brief(aim), new RegExp(`Next: ${aim[0]} and ${aim[1]}\\.<answer>`));
  // the same clauses before it (same rng draws): only the aim differs
  assert.equal(brief(aim).split('Next:')[0], brief().split('Next:')[0]);
  // training sequences carry it ...
  const ctx = makeBackboneContext(job({ reasoningShare: 1, reasoningAim: 'target', chunk: 8 }), SOLO);
  const tok = tokenizerFromJSON(tokJson);
  const sb = stepBatch(ctx, 0);
  sb.users.forEach((u, i) => {
    const a = targetAim(ds, u.target.item);
    if (a.length) assert.ok(tok.decode(sb.sequences[i].ids).includes(`Next: ${a.join(' and ')}.`), tok.decode(sb.sequences[i].ids));
  });
  // ... the valid read-out does not: the greedy reasoning, whatever the valid targets are
  const valid = ds.samples.valid.slice(0, 6);
  const texts = validReasoningTexts(ctx, valid, 0);
  const greedy = generateText(ctx.params, ctx.mcfg, ctx.tok, valid.map((v) => userPromptIds(tok, ds, v, SEQ)), { ...GREEDY }, makeRng(0)).texts;
  assert.deepEqual(texts, greedy);
  const swapped = valid.map((v, i) => ({ ...v, target: { ...v.target, item: valid[(i + 1) % valid.length].target.item } }));
  assert.deepEqual(validReasoningTexts(ctx, swapped, 0), texts);
  // 'history' keeps the template (as before)
  const hist = makeBackboneContext(job({ reasoningShare: 1 }), SOLO);
  const histTexts = validReasoningTexts(hist, valid, 0);
  assert.ok(histTexts.every((t) => t.includes('Next:') && t.endsWith('<answer>')));
  // the hindsight read-out's texts: the history aim's valid texts with the target's Next: (whatever the model's aim)
  for (const c of [hist, ctx]) {
    hindsightReasoningTexts(c, valid, 0).forEach((t, i) => {
      const a = targetAim(ds, valid[i].target.item);
      assert.equal(t.split('Next:')[0], histTexts[i].split('Next:')[0]);
      if (a.length) assert.ok(t.endsWith(`Next: ${a.join(' and ')}.<answer>`), t);
    });
  }
  for (const c of [ctx, hist]) Object.values(c.params).forEach((p) => p.dispose());
});

test("reasoningAim 'target-readout': the read-out sees the hindsight Next:, the LM term stops before it", () => {
  const tok = tokenizerFromJSON(tokJson);
  const ctx = makeBackboneContext(job({ reasoningShare: 1, reasoningAim: 'target-readout', chunk: 8 }), SOLO);
  const aimed = makeBackboneContext(job({ reasoningShare: 1, reasoningAim: 'target', chunk: 8 }), SOLO);
  const sb = stepBatch(ctx, 0);
  const sbTarget = stepBatch(aimed, 0);
  let checked = 0;
  sb.sequences.forEach((q, i) => {
    // the same sequences as 'target' (the read-out trains on the hindsight text) ...
    assert.deepEqual(q.ids, sbTarget.sequences[i].ids);
    assert.equal(sbTarget.sequences[i].reasoningTo, q.ids.length, "'target' trains the LM on the whole reasoning");
    // ... but the LM-trained tokens end where "Next:" begins
    assert.ok(q.reasoningFrom > 0 && q.reasoningTo > q.reasoningFrom && q.reasoningTo < q.ids.length);
    const trained = tok.decode(q.ids.slice(q.reasoningFrom, q.reasoningTo));
    const rest = tok.decode(q.ids.slice(q.reasoningTo));
    assert.ok(!trained.includes('Next'), trained);
    assert.match(rest, /^\s*Next: .*<answer>$/, rest);
    checked++;
  });
  assert.ok(checked > 0);
  assert.equal(sb.reasoningTokens, sb.sequences.reduce((a, q) => a + q.reasoningTo - q.reasoningFrom, 0));
  assert.ok(sb.reasoningTokens < sbTarget.reasoningTokens);
  // a tokeniser that merges across the boundary only shortens the trained span
  const ids = [9, 9, 1, 2, 3, 4, 5];
  const fake = (m: Record<string, number[]>) => ({ encode: (t: string) => m[t] ?? [] });
  assert.equal(nextClauseStart(fake({ 'ab ': [1, 2, 3] }), ids, 2, 'ab Next: x'), 5);
  assert.equal(nextClauseStart(fake({ 'ab ': [1, 7, 3] }), ids, 2, 'ab Next: x'), 3);
  assert.equal(nextClauseStart(fake({}), ids, 2, 'no clause'), ids.length);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, reasoningAim: 'target-readout', reasoningStyle: 'full' }), /backbone\.reasoningAim.*brief/);
  for (const c of [ctx, aimed]) Object.values(c.params).forEach((p) => p.dispose());
});

test('hindsightShare: each text names the target or the history, about that share name the target; 0 = the history aim', () => {
  const make = (over: Partial<BackboneConfig>) => makeBackboneContext(job({ reasoningShare: 1, chunk: 8, ...over }), SOLO);
  const mixed = make({ reasoningAim: 'target-readout', hindsightShare: 0.5 });
  const none = make({ reasoningAim: 'target-readout', hindsightShare: 0 });
  const all = make({ reasoningAim: 'target-readout' });
  const history = make({ reasoningAim: 'history' });
  let hits = 0, n = 0;
  for (const step of [0, 1, 2, 3]) {
    const [m, z, a, h] = [mixed, none, all, history].map((c) => stepBatch(c, step).sequences);
    m.forEach((q, i) => {
      assert.deepEqual(z[i].ids, h[i].ids, 'share 0 writes the history aim\'s text');
      const isTarget = JSON.stringify(q.ids) === JSON.stringify(a[i].ids);
      assert.ok(isTarget || JSON.stringify(q.ids) === JSON.stringify(h[i].ids), 'neither the target nor the history text');
      // the LM term stops before "Next:" whichever it names
      assert.ok(q.reasoningTo < q.ids.length);
      if (JSON.stringify(a[i].ids) !== JSON.stringify(h[i].ids)) { n++; if (isTarget) hits++; }
    });
  }
  assert.ok(n >= 12, `only ${n} sequences where the two texts differ`);
  assert.ok(hits > 0 && hits < n, `${hits} of ${n} name the target`);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, reasoningAim: 'target', hindsightShare: 1.5 }), /backbone\.hindsightShare/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, hindsightShare: 0.5 }), /backbone\.hindsightShare.*target aims/);
  for (const c of [mixed, none, all, history]) Object.values(c.params).forEach((p) => p.dispose());
});

test("nextNames 'title': Next: names the target's title with hindsight, else a popular title of the history's top attribute the history lacks", () => {
  const tok = tokenizerFromJSON(tokJson);
  const attrs = itemAttributes(ds);
  const byTitle = new Map(ds.items.map((it, id) => [it.title, id]));
  const nextOf = (ids: number[]) => {
    const text = tok.decode(ids);
    return text.slice(text.lastIndexOf('Next: ') + 6, text.lastIndexOf('.<answer>'));
  };
  const target = makeBackboneContext(job({ reasoningShare: 1, reasoningAim: 'target', nextNames: 'title', chunk: 8 }), SOLO);
  const guess = makeBackboneContext(job({ reasoningShare: 1, nextNames: 'title', chunk: 8 }), SOLO);
  const trainFreq = new Map<number, number>();
  for (const x of ds.samples.train) trainFreq.set(x.target.item, (trainFreq.get(x.target.item) ?? 0) + 1);
  let guesses = 0;
  const named = new Set<number>();
  for (const step of [0, 1, 2]) {
    const [t, g] = [target, guess].map((c) => stepBatch(c, step));
    t.users.forEach((u, i) => assert.equal(nextOf(t.sequences[i].ids), ds.items[u.target.item].title));
    g.users.forEach((u, i) => {
      const id = byTitle.get(nextOf(g.sequences[i].ids));
      if (id === undefined) return; // no item of the top attribute outside the history: attributes are named
      guesses++;
      named.add(id);
      const shown = u.history.slice(-SEQ.history);
      assert.ok(!u.history.some((h) => h.item === id), 'the guess is not one of the history');
      assert.ok((trainFreq.get(id) ?? 0) > 0, 'the guess is a train target');
      // it shares the attribute the shown history has most often
      const counts = new Map<string, number>();
      for (const h of shown) for (const a of attrs[h.item] ?? []) if (!/^\d{3,4}0s$/.test(a)) counts.set(a, (counts.get(a) ?? 0) + 1);
      const max = Math.max(...counts.values());
      assert.ok((attrs[id] ?? []).some((a) => counts.get(a) === max), `guess ${id} lacks the history's top attribute`);
    });
  }
  assert.ok(guesses >= 12 && named.size > 1, `${guesses} guesses, ${named.size} distinct`);
  // validated (the default is not hashed into the key: test/backbones-shipped.test.ts checks the shipped keys)
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, nextNames: 'titles' as never }), /backbone\.nextNames/);
  assert.throws(() => validateBackboneConfig({ ...BACKBONE_DEFAULTS, nextNames: 'title', reasoningStyle: 'full' }), /backbone\.nextNames.*brief/);
  for (const c of [target, guess]) Object.values(c.params).forEach((p) => p.dispose());
});

test('mean pairwise cosine: parallel rows → 1, orthogonal → 0, user–item block', () => {
  assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 0, 2, 0, 3, 0]), 2) - 1) < 1e-6);
  assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 0, 0, 1]), 2)) < 1e-6);
  assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 0]), 2, Float32Array.from([0, 1, 1, 0])) - 0.5) < 1e-6);
  const c = readoutCosines(Float32Array.from([1, 0, 1, 0, 0, 1]), Float32Array.from([0, 1, 0, 2]), 2, 2); // first 2 users only
  assert.deepEqual([c.userUser, c.itemItem, c.userItem].map((x) => Math.round(x * 1e6) / 1e6), [1, 1, 0]);
});

test('learning: valid NDCG@10 rises well above its start; resume = uninterrupted; 2 ranks = 1 rank', async () => {
  const validIdx = Array.from({ length: Math.min(120, ds.samples.valid.length) }, (_, i) => i);
  const cfg = { steps: 40, evalEvery: 40, usersPerStep: 16, negatives: 16, chunk: 16, optimizer: { ...BACKBONE_DEFAULTS.optimizer, lr: 3e-3 } };
  const full = await trainBackbone(job(cfg, { validIdx }), 1);
  const [v0, v1] = [full.curves.validNdcg10Direct[0], full.curves.validNdcg10Direct.at(-1)!];
  // (beating Popularity takes the real budget; the end-to-end test on the default synthetic shop checks that)
  assert.ok(v1 > v0 + 0.03, `valid NDCG@10 (after the prompt) ${v0} → ${v1}`);
  // resume: stop after 15 steps, rerun to the end in the same folder → the same weights as the uninterrupted run
  const workDir = fs.mkdtempSync(path.join(tmp, 'resume-'));
  await trainBackbone(job(cfg, { validIdx, workDir, stopAfter: 15 }), 1);
  await trainBackbone(job(cfg, { validIdx, workDir }), 1);
  const a = loadCheckpoint(path.join(workDir, 'latest')).params;
  const refDir = fs.readdirSync(tmp).map((f) => path.join(tmp, f)).find((f) => fs.existsSync(path.join(f, 'latest')) && f !== workDir && loadCheckpoint(path.join(f, 'latest')).state?.step === 40)!;
  const b = loadCheckpoint(path.join(refDir, 'latest')).params;
  for (const k of Object.keys(b)) assert.deepEqual(a[k].data, b[k].data, `resumed weights differ in ${k}`);
  // two ranks: the same losses up to summation order
  const two = await trainBackbone(job({ ...cfg, steps: 6, evalEvery: 6 }, { validIdx: [] }), 2);
  const one = await trainBackbone(job({ ...cfg, steps: 6, evalEvery: 6 }, { validIdx: [] }), 1);
  two.curves.loss.forEach((l, i) => assert.ok(Math.abs(l - one.curves.loss[i]) < 2e-3 * Math.max(1, Math.abs(l)), `step ${i + 1}: ${l} vs ${one.curves.loss[i]}`));
});

test('prepareBackbone: trains once and reuses; a shipped backbone is used only when its key matches', async () => {
  const env = { R2EC_BACKBONE_CACHE: path.join(tmp, 'cache'), R2EC_LM_CACHE: path.join(tmp, 'lm'), R2EC_BACKBONES_DIR: path.join(tmp, 'shipped') };
  Object.assign(process.env, env);
  try {
    const cfg = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: { users: 120, items: 60, minPerUser: 8, maxPerUser: 14 } } });
    const logs: string[] = [];
    const first = await prepareBackbone(ds, cfg, 1, { log: (m) => logs.push(m) });
    assert.equal(first.source, 'trained');
    const again = await prepareBackbone(ds, cfg, 1, { log: (m) => logs.push(m) });
    assert.equal(again.source, 'cache');
    assert.equal(again.key, first.key);
    // the methods may select on more valid samples (eval.validSamples) while the backbone keeps its own set: reused
    const wider = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'eval.validSamples': 40, 'backbone.validSamples': cfg.eval.validSamples } });
    const w = await prepareBackbone(ds, wider, 1);
    assert.deepEqual([w.source, w.key], ['cache', first.key]);
    // the backbone's own selection size is what its stage selects on
    const own: string[] = [];
    const o = await prepareBackbone(ds, makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.validSamples': 8 } }), 1, { log: (m) => own.push(m) });
    assert.notEqual(o.key, first.key);
    assert.ok(own.some((m) => /selected on 8 valid samples/.test(m)), own.join('\n'));
    // ship it: used as is
    const shipped = path.join(env.R2EC_BACKBONES_DIR, ds.name);
    const ck = loadCheckpoint(first.checkpoint);
    saveCheckpoint(shipped, { config: ck.config, params: ck.params, tokenizer: ck.tokenizer });
    fs.writeFileSync(path.join(shipped, 'manifest.json'), JSON.stringify(first.alignment!.manifest));
    assert.equal((await prepareBackbone(ds, cfg, 1)).source, 'shipped');
    // another config → another key: the shipped one is reported and not used
    const other = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.negatives': 9 } });
    const msgs: string[] = [];
    const b = await prepareBackbone(ds, other, 1, { log: (m) => msgs.push(m) });
    assert.equal(b.source, 'trained');
    assert.notEqual(b.key, first.key);
    assert.ok(msgs.some((m) => /shipped backbone .* not used/.test(m)), msgs.join('\n'));
    // a changed prompt wording changes the training data fingerprint, hence the key
    const spec = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'recpo.promptFormat': 'compact' } });
    assert.notEqual((await prepareBackbone(ds, spec, 1)).key, first.key);
    // the hindsight aim is another backbone
    const aimed = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.reasoningAim': 'target' } });
    assert.notEqual((await prepareBackbone(ds, aimed, 1)).key, first.key);
    // backbone.init: trains on from that checkpoint (its step-0 evaluation is the init's own), under a key of its own
    const initDir = path.join(env.R2EC_BACKBONE_CACHE, `${ds.name}-${first.key}`);
    const cont = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.init': first.checkpoint } });
    const c = await prepareBackbone(ds, cont, 1);
    assert.equal(c.source, 'trained');
    assert.notEqual(c.key, first.key);
    const fc = first.alignment!.curves;
    const at = fc.evalStep.indexOf(first.alignment!.bestStep);
    assert.equal(c.alignment!.curves.validNdcg10Direct[0], fc.validNdcg10Direct[at]);
    assert.equal(c.alignment!.curves.validNdcg10Reasoning[0], fc.validNdcg10Reasoning[at]);
    assert.equal(c.alignment!.curves.validNdcg10Hindsight[0], fc.validNdcg10Hindsight[at]);
    assert.equal(fc.validNdcg10Hindsight.length, fc.evalStep.length);
    assert.ok(fs.existsSync(initDir));
    // backbone.from: a run's best/ carries the run's key; its latest/ (other weights) a key of its own
    const fromKey = async (dir: string) => (await prepareBackbone(ds, makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.from': dir } }), 1)).key;
    const contDir = path.dirname(c.checkpoint);
    assert.equal(await fromKey(path.join(contDir, 'best')), c.key);
    const latestKey = await fromKey(path.join(contDir, 'latest'));
    assert.match(latestKey, new RegExp(`^${c.key}-latest-[0-9a-f]{8}$`));
    assert.equal(await fromKey(shipped), first.key, 'a folder with its own manifest keeps its key');
    // a checkpoint with another tokenizer cannot be trained on
    const alien = path.join(tmp, 'alien');
    saveCheckpoint(alien, { config: ck.config, params: ck.params, tokenizer: trainTokenizer(['a b c d e f'], { vocabSize: 300 }).toJSON() });
    const bad = makeConfig({ profile: 'smoke', dataset: 'synthetic', set: { datasetOptions: cfg.datasetOptions, 'backbone.init': alien } });
    await assert.rejects(prepareBackbone(ds, bad, 1), /backbone\.init: .*alien has another tokenizer/);
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
});

// Generation with the KV cache (lib/model/generate.ts, decoder.ts): incremental decoding of left-padded batches of
// different prompt lengths equals a full forward over prompt + generated prefix (tokens and per-token log-probs);
// stop tokens; seeded reproducibility; sampleToken's greedy/top-k/top-p/temperature semantics; no tensor leaks;
// bad input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig, type ModelConfig } from '../lib/model/config';
import {
  disposeCache, disposeParams, emptyCache, forward, initParams, lmLogits, padBatch, type Params, type TokenBatch,
} from '../lib/model/decoder';
import { generate, GREEDY, sampleToken, type SamplingConfig } from '../lib/model/generate';
import { makeRng } from '../lib/util/rng';
import { ConfigError, R2ecError } from '../lib/util/errors';

before(async () => {
  await initBackend({ log: false });
});

// initStd 0.3: peaked, well-separated logits, so greedy ties (which float rounding could break either way) are rare
const CFG: ModelConfig = modelConfig('tiny', { vocabSize: 60, maxSeqLen: 40, initStd: 0.3 });

function prompts(seed: number, lengths: number[]): number[][] {
  const rng = makeRng(seed);
  return lengths.map((n) => Array.from({ length: n }, () => 1 + rng.int(CFG.vocabSize - 1)));
}

/** Logits at the last position of one unpadded sequence, by a full forward (no cache). */
function lastLogits(params: Params, seq: number[]): Float32Array {
  return tf.tidy(() => {
    const batch = padBatch([seq], 'right');
    const h = forward(params, CFG, batch);
    const last = tf.reshape(tf.slice(h, [0, seq.length - 1, 0], [1, 1, CFG.dModel]), [1, CFG.dModel]) as tf.Tensor2D;
    return lmLogits(params, last).dataSync() as Float32Array;
  });
}

function logSoftmax(x: Float32Array): number[] {
  let m = -Infinity;
  for (const v of x) m = Math.max(m, v);
  let z = 0;
  for (const v of x) z += Math.exp(v - m);
  return Array.from(x, (v) => v - m - Math.log(z));
}

/** Every generated token is the argmax of the full forward (up to float ties) and its log-prob matches. */
function checkAgainstFullForward(params: Params, ps: number[][], tokens: number[][], logProbs: number[][], greedy: boolean) {
  let compared = 0;
  ps.forEach((p, b) => {
    tokens[b].forEach((tok, s) => {
      const ref = lastLogits(params, [...p, ...tokens[b].slice(0, s)]);
      const lsm = logSoftmax(ref);
      if (greedy) {
        const max = Math.max(...ref);
        const argmax = ref.indexOf(max);
        // equal, unless the top two are within float noise of each other (then either is a correct argmax)
        if (tok !== argmax) assert.ok(ref[tok] >= max - 1e-4, `row ${b} step ${s}: generated ${tok}, argmax ${argmax}`);
      }
      assert.ok(Math.abs(logProbs[b][s] - lsm[tok]) < 1e-4, `row ${b} step ${s}: log-prob ${logProbs[b][s]} vs ${lsm[tok]}`);
      compared++;
    });
  });
  return compared;
}

test('KV cache: greedy tokens and log-probs of a left-padded batch equal a full forward over prompt + prefix', () => {
  const params = initParams(CFG, 1);
  const ps = prompts(2, [5, 9, 3, 1]);
  const r = generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 7 }, makeRng(0));
  assert.deepEqual(r.tokens.map((t) => t.length), [7, 7, 7, 7]);
  assert.deepEqual(r.stopped, [false, false, false, false]);
  assert.equal(checkAgainstFullForward(params, ps, r.tokens, r.logProbs, true), 28);
  // not a degenerate model: the rows do not all generate the same thing
  assert.ok(new Set(r.tokens.map((t) => t.join())).size > 1);
  disposeParams(params);
});

test('repeated prompts share one prefill: sampled tokens and log-probs still match a full forward, no tensors leak', () => {
  const params = initParams(CFG, 1);
  const [a, b, c] = prompts(6, [5, 9, 3]);
  // RecPO's layout: G copies of each user's prompt, users of different lengths
  const ps = [a, a, a, b, b, b, c, c, c];
  const sampling: SamplingConfig = { temperature: 1.3, topK: 0, topP: 1, maxNewTokens: 6 };
  const before = tf.memory().numTensors;
  const r = generate(params, CFG, ps, sampling, makeRng(11));
  assert.equal(tf.memory().numTensors, before);
  assert.equal(checkAgainstFullForward(params, ps, r.tokens, r.logProbs, false), 54);
  // the copies of one prompt sample independently (same cache, different draws)
  assert.ok(new Set(r.tokens.slice(0, 3).map((t) => t.join())).size > 1);
  // greedy copies of one prompt agree with the prompt generated alone
  const g = generate(params, CFG, [b, a, b], { ...GREEDY, maxNewTokens: 6 }, makeRng(0));
  const alone = generate(params, CFG, [b], { ...GREEDY, maxNewTokens: 6 }, makeRng(0));
  assert.deepEqual(g.tokens[0], alone.tokens[0]);
  assert.deepEqual(g.tokens[2], alone.tokens[0]);
  disposeParams(params);
});

test('KV cache: hidden states of incremental decoding equal the full forward of the left-padded batch', () => {
  const params = initParams(CFG, 3);
  const ps = prompts(4, [6, 2, 4]);
  const extra = prompts(5, [3, 3, 3]); // tokens appended one step at a time
  const B = ps.length;
  const cache = emptyCache(B);
  let batch: TokenBatch = padBatch(ps, 'left');
  const h0 = forward(params, CFG, batch, { cache });
  h0.dispose();
  for (let s = 0; s < 3; s++) {
    const ids = Int32Array.from(extra.map((e) => e[s]));
    const positions = Int32Array.from(ps.map((p) => p.length + s));
    batch = { B, T: 1, ids, mask: new Uint8Array(B).fill(1), positions, lengths: new Array(B).fill(1), side: 'left' };
    const inc = forward(params, CFG, batch, { cache });
    const full = forward(params, CFG, padBatch(ps.map((p, b) => [...p, ...extra[b].slice(0, s + 1)]), 'left'));
    const incV = inc.dataSync();
    const T = full.shape[1];
    const fullLast = tf.tidy(() => tf.slice(full, [0, T - 1, 0], [B, 1, CFG.dModel]).dataSync());
    for (let i = 0; i < incV.length; i++) assert.ok(Math.abs(incV[i] - fullLast[i]) < 1e-4, `step ${s} element ${i}`);
    tf.dispose([inc, full]);
  }
  assert.equal(cache.len, 6 + 3);
  disposeCache(cache);
  disposeParams(params);
});

test('stop tokens end a row (kept in its output); finished rows do not disturb the others', () => {
  const params = initParams(CFG, 1);
  const ps = prompts(2, [5, 9, 3, 1]);
  const free = generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 7 }, makeRng(0));
  const stop = free.tokens[0][2];
  const r = generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 7 }, makeRng(0), [stop]);
  free.tokens.forEach((t, b) => {
    const at = t.indexOf(stop);
    const expected = at >= 0 ? t.slice(0, at + 1) : t;
    assert.deepEqual(r.tokens[b], expected, `row ${b}`);
    assert.equal(r.stopped[b], at >= 0);
    assert.equal(r.logProbs[b].length, expected.length);
  });
  assert.ok(r.tokens[0].length <= 3 && r.stopped[0]);
  assert.ok(r.stopped.some((s) => !s), 'some row should run to maxNewTokens');
  disposeParams(params);
});

test('allowedTokens: greedy picks the argmax among the allowed ids, log-probs are renormalised over them', () => {
  const params = initParams(CFG, 4);
  const ps = prompts(6, [4, 7, 2]);
  // a rule that depends on what was generated: odd ids after an even step count, even ids otherwise; free at step 3
  const allowedAt = (n: number) => (n === 3 ? undefined : Array.from({ length: CFG.vocabSize }, (_, i) => i).filter((i) => i % 2 === n % 2));
  const r = generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 6 }, makeRng(0), [], 0, undefined, (g) => allowedAt(g.length));
  let compared = 0;
  ps.forEach((p, b) => {
    r.tokens[b].forEach((tok, s) => {
      const ref = lastLogits(params, [...p, ...r.tokens[b].slice(0, s)]);
      const allowed = allowedAt(s) ?? Array.from({ length: CFG.vocabSize }, (_, i) => i);
      const best = allowed.reduce((a, i) => (ref[i] > ref[a] ? i : a), allowed[0]);
      assert.ok(allowed.includes(tok), `row ${b} step ${s}: ${tok} not allowed`);
      assert.ok(ref[tok] >= ref[best] - 1e-4, `row ${b} step ${s}: ${tok} is not the allowed argmax ${best}`);
      const sub = Float32Array.from(allowed.map((i) => ref[i]));
      const lsm = logSoftmax(sub)[allowed.indexOf(tok)];
      assert.ok(Math.abs(r.logProbs[b][s] - lsm) < 1e-4, `row ${b} step ${s}: log-prob ${r.logProbs[b][s]} vs ${lsm}`);
      compared++;
    });
  });
  assert.equal(compared, 18);
  disposeParams(params);
});

test('sampling: log-probs are the temperature-1 log-softmax of the full forward; same seed → same output', () => {
  const params = initParams(CFG, 6);
  const ps = prompts(7, [4, 8, 2]);
  const s: SamplingConfig = { temperature: 1.3, topK: 20, topP: 0.95, maxNewTokens: 8 };
  const a = generate(params, CFG, ps, s, makeRng(42));
  const b = generate(params, CFG, ps, s, makeRng(42));
  assert.deepEqual(b, a);
  checkAgainstFullForward(params, ps, a.tokens, a.logProbs, false);
  const c = generate(params, CFG, ps, s, makeRng(43));
  assert.notDeepEqual(c.tokens, a.tokens);
  disposeParams(params);
});

test('initParams: same seed → bitwise identical; different seed → different', () => {
  const a = initParams(CFG, 5);
  const b = initParams(CFG, 5);
  const c = initParams(CFG, 6);
  for (const k of Object.keys(a)) {
    assert.deepEqual(Buffer.from((a[k].dataSync() as Float32Array).buffer), Buffer.from((b[k].dataSync() as Float32Array).buffer), k);
    if (!k.endsWith('norm')) assert.notDeepEqual(Array.from(a[k].dataSync()), Array.from(c[k].dataSync()), k);
  }
  // norms start at one; matrices are N(0, initStd) with the output projections scaled by 1/sqrt(2·nLayers)
  assert.ok(Array.from(a.final_norm.dataSync()).every((x) => x === 1));
  const std = (t: tf.Tensor) => {
    const v = Array.from(t.dataSync());
    return Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  };
  assert.ok(Math.abs(std(a.embed) - 0.3) < 0.02, `embed std ${std(a.embed)}`);
  assert.ok(Math.abs(std(a['layers.0.wo']) - 0.3 / 2) < 0.02, `wo std ${std(a['layers.0.wo'])}`);
  [a, b, c].forEach(disposeParams);
});

test('sampleToken: top-k = 1 and a tiny top-p are greedy; ties break to the lowest id; log-prob at temperature 1', () => {
  const rng = makeRng(9);
  for (let r = 0; r < 50; r++) {
    const logits = Float32Array.from({ length: 30 }, () => rng.normal() * 2);
    const argmax = logits.indexOf(Math.max(...logits));
    const lsm = logSoftmax(logits);
    const [g, lpg] = sampleToken(logits, GREEDY, rng);
    assert.equal(g, argmax);
    assert.ok(Math.abs(lpg - lsm[argmax]) < 1e-9);
    assert.equal(sampleToken(logits, { ...GREEDY, temperature: 2, topK: 1 }, rng)[0], argmax);
    const [p, lpp] = sampleToken(logits, { ...GREEDY, temperature: 1.5, topP: 1e-6 }, rng);
    assert.equal(p, argmax);
    // the reported log-prob is of the untempered distribution, not of the truncated/tempered one (which would be 0)
    assert.ok(Math.abs(lpp - lsm[argmax]) < 1e-9);
    // top-k = 3 never leaves the three best
    const top3 = Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x]).slice(0, 3);
    assert.ok(top3.includes(sampleToken(logits, { ...GREEDY, temperature: 5, topK: 3 }, rng)[0]));
  }
  assert.equal(sampleToken(Float32Array.from([1, 3, 3, 0]), GREEDY, rng)[0], 1);
  // top-k at a tie on its boundary keeps the lowest ids of the tie: ids 1 and 2 of the three 5s, never 3
  const tied = Float32Array.from([0, 5, 5, 5, 1, 4.5, -2]);
  const seen = new Set<number>();
  for (let r = 0; r < 200; r++) seen.add(sampleToken(tied, { ...GREEDY, temperature: 3, topK: 2 }, rng)[0]);
  assert.deepEqual([...seen].sort(), [1, 2]);
  // and above the tie, everything larger is kept: top-3 of [5, 5, 5, 4.5 …] is the three 5s
  for (let r = 0; r < 100; r++) assert.ok([1, 2, 3].includes(sampleToken(tied, { ...GREEDY, temperature: 3, topK: 3 }, rng)[0]));
  const four = new Set<number>();
  for (let r = 0; r < 300; r++) four.add(sampleToken(tied, { ...GREEDY, temperature: 3, topK: 4 }, rng)[0]);
  assert.deepEqual([...four].sort(), [1, 2, 3, 5]);
});

test('sampleToken: frequencies follow softmax(logits / T) (chi-square, fixed seed)', () => {
  const logits = Float32Array.from([1.0, 0.4, -0.5]);
  const T = 0.7;
  const n = 30000;
  const counts = [0, 0, 0];
  const rng = makeRng(123);
  for (let i = 0; i < n; i++) counts[sampleToken(logits, { ...GREEDY, temperature: T }, rng)[0]]++;
  const chi2 = (temp: number) => {
    const w = Array.from(logits, (l) => Math.exp(l / temp));
    const z = w.reduce((a, b) => a + b, 0);
    return counts.reduce((s, c, i) => s + (c - (n * w[i]) / z) ** 2 / ((n * w[i]) / z), 0);
  };
  // 2 degrees of freedom: P(χ² > 13.8) = 0.001
  assert.ok(chi2(T) < 13.8, `χ² = ${chi2(T)} against softmax(l/${T}); counts ${counts}`);
  // power: the untempered distribution, and T = 0.6, are clearly rejected with this many draws
  assert.ok(chi2(1) > 100, `χ² against softmax(l) only ${chi2(1)}`);
  assert.ok(chi2(0.6) > 13.8, `χ² against softmax(l/0.6) only ${chi2(0.6)}`);
  // top-p 0.7 on these probabilities (0.59, 0.25, 0.16 at T = 0.7... recomputed below) keeps the first two only
  const w = Array.from(logits, (l) => Math.exp(l / T));
  const z = w.reduce((a, b) => a + b, 0);
  const p = w.map((x) => x / z);
  assert.ok(p[0] < 0.7 && p[0] + p[1] >= 0.7);
  const kept = [0, 0, 0];
  for (let i = 0; i < 3000; i++) kept[sampleToken(logits, { ...GREEDY, temperature: T, topP: 0.7 }, rng)[0]]++;
  assert.equal(kept[2], 0);
  // renormalised over the two kept tokens
  const share = kept[0] / 3000;
  const expected = p[0] / (p[0] + p[1]);
  assert.ok(Math.abs(share - expected) < 0.03, `top-p share ${share} vs ${expected}`);
});

test('generation leaves no tensors behind', () => {
  const params = initParams(CFG, 1);
  const ps = prompts(2, [5, 9, 3]);
  generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 3 }, makeRng(0));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    generate(params, CFG, ps, { temperature: 1, topK: 5, topP: 0.9, maxNewTokens: 5 }, makeRng(i));
    generate(params, CFG, ps, { ...GREEDY, maxNewTokens: 4 }, makeRng(i), [ps[0][0]]);
  }
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
});

test('bad input: prompt + maxNewTokens beyond maxSeqLen, empty prompt, ids outside the vocabulary, bad sampling', () => {
  const params = initParams(CFG, 1);
  const before = tf.memory().numTensors;
  assert.throws(
    () => generate(params, CFG, [Array(35).fill(1)], { ...GREEDY, maxNewTokens: 6 }, makeRng(0)),
    (e: unknown) => e instanceof R2ecError && /35 tokens/.test(e.message) && /maxSeqLen 40/.test(e.message),
  );
  assert.throws(() => forward(params, CFG, padBatch([Array(41).fill(1)], 'right')), (e: unknown) =>
    e instanceof R2ecError && /41 tokens exceeds/.test(e.message) && /maxSeqLen=40/.test(e.message),
  );
  assert.throws(() => generate(params, CFG, [[1, 2], []], GREEDY, makeRng(0)), (e: unknown) => e instanceof R2ecError && /empty prompt/.test(e.message));
  assert.throws(() => generate(params, CFG, [[1, 60]], { ...GREEDY, maxNewTokens: 2 }, makeRng(0)), (e: unknown) =>
    e instanceof R2ecError && /token id 60/.test(e.message) && /vocabulary \(size 60\)/.test(e.message),
  );
  assert.throws(() => forward(params, CFG, padBatch([[3, -1]], 'right')), /token id -1/);
  assert.throws(() => generate(params, CFG, [[1]], { ...GREEDY, topP: 0 }, makeRng(0)), (e: unknown) =>
    e instanceof ConfigError && e.field === 'sampling.topP',
  );
  assert.throws(() => generate(params, CFG, [[1]], { ...GREEDY, topK: 1.5 }, makeRng(0)), (e: unknown) =>
    e instanceof ConfigError && e.field === 'sampling.topK',
  );
  assert.throws(() => generate(params, CFG, [[1]], { ...GREEDY, temperature: -1 }, makeRng(0)), (e: unknown) =>
    e instanceof ConfigError && e.field === 'sampling.temperature',
  );
  assert.throws(() => generate(params, CFG, [[1]], { ...GREEDY, maxNewTokens: 0 }, makeRng(0)), (e: unknown) =>
    e instanceof ConfigError && e.field === 'sampling.maxNewTokens',
  );
  // no prompts: nothing to do (not a tfjs broadcast error deep in forward)
  assert.deepEqual(generate(params, CFG, [], GREEDY, makeRng(0)), { tokens: [], logProbs: [], stopped: [] });
  // failed calls leak nothing either
  assert.equal(tf.memory().numTensors, before);
  disposeParams(params);
});

// Read-outs (lib/model/readout.ts, spec §2 "Vector read-out"): 'last' is the post-norm hidden state at the last real
// token and does not depend on right padding; 'mean'/'max' pool over real tokens only; encodeSequences keeps the input
// order across its length-sorted batches; bad input.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, forward, initParams, padBatch, type Params } from '../lib/model/decoder';
import { encodeSequences, readOut, validatePooling, type Pooling } from '../lib/model/readout';
import { makeRng } from '../lib/util/rng';
import { ConfigError, R2ecError } from '../lib/util/errors';

const CFG = modelConfig('tiny', { vocabSize: 60, maxSeqLen: 64, initStd: 0.3 });
const D = CFG.dModel;
let params: Params;

before(async () => {
  await initBackend({ log: false });
  params = initParams(CFG, 21);
});

function seqs(seed: number, lengths: number[]): number[][] {
  const rng = makeRng(seed);
  return lengths.map((n) => Array.from({ length: n }, () => 1 + rng.int(CFG.vocabSize - 1)));
}

/** Hidden states [T, d] of one sequence alone (no padding). */
function hiddenAlone(seq: number[]): Float32Array[] {
  const h = tf.tidy(() => forward(params, CFG, padBatch([seq], 'right')).dataSync() as Float32Array);
  return seq.map((_, t) => h.slice(t * D, (t + 1) * D));
}

function readRows(ss: number[][], pooling: Pooling, padId = 0, T?: number): Float32Array[] {
  const batch = padBatch(ss, 'right', padId, T);
  const v = tf.tidy(() => readOut(forward(params, CFG, batch), batch, pooling).dataSync() as Float32Array);
  return ss.map((_, b) => v.slice(b * D, (b + 1) * D));
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, msg: string) {
  assert.equal(a.length, b.length, msg);
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol) assert.fail(`${msg}: [${i}] ${a[i]} vs ${b[i]}`);
}

const TOL = 1e-5; // same arithmetic, only the matMul row blocking differs between batch shapes

test("'last' is the hidden state at the last real token, whatever the right padding", () => {
  const [a, b] = seqs(1, [7, 13]);
  const ha = hiddenAlone(a);
  const alone = readRows([a], 'last')[0];
  assertClose(alone, ha[6], TOL, 'alone');
  // padded to 13 by a longer neighbour, then to 20 with another pad id: same vector
  assertClose(readRows([a, b], 'last')[0], ha[6], TOL, 'padded in a batch');
  assertClose(readRows([b, a], 'last', 7, 20)[1], ha[6], TOL, 'padded with id 7 to T=20');
  // and the neighbour's own read-out is its own last token
  assertClose(readRows([a, b], 'last')[1], hiddenAlone(b)[12], TOL, 'neighbour');
  // 'token' (an appended special token read as the last token) reads the same position
  assertClose(readRows([a, b], 'token')[0], ha[6], TOL, "'token'");
  // not trivially equal to another position (the read-out position matters)
  assert.ok(Math.abs(ha[5][0] - ha[6][0]) + Math.abs(ha[5][1] - ha[6][1]) > 1e-3);
});

test("'mean' and 'max' pool over real tokens only (pad ids and pad count do not matter)", () => {
  const [a, b] = seqs(2, [6, 11]);
  const ha = hiddenAlone(a);
  const mean = new Float64Array(D);
  const max = new Float64Array(D).fill(-Infinity);
  for (const row of ha) {
    for (let j = 0; j < D; j++) {
      mean[j] += row[j] / ha.length;
      max[j] = Math.max(max[j], row[j]);
    }
  }
  for (const [pooling, ref] of [['mean', mean], ['max', max]] as const) {
    assertClose(readRows([a], pooling)[0], ref, TOL, `${pooling} alone`);
    assertClose(readRows([a, b], pooling)[0], ref, TOL, `${pooling} padded`);
    assertClose(readRows([b, a], pooling, 9, 16)[1], ref, TOL, `${pooling} pad id 9, T=16`);
  }
  // the pads' own hidden states differ from the real ones, so including them would change the result
  const batch = padBatch([a, b], 'right', 9);
  const hp = tf.tidy(() => forward(params, CFG, batch).dataSync() as Float32Array);
  const padRow = hp.slice((0 * batch.T + 8) * D, (0 * batch.T + 9) * D);
  assert.ok(Math.abs(padRow[0] - mean[0]) > 1e-3);
});

test('encodeSequences keeps the input order across length-sorted batches and equals readOut per sequence', () => {
  const ss = seqs(3, [9, 2, 15, 5, 5, 1, 12]);
  for (const pooling of ['last', 'mean', 'max'] as Pooling[]) {
    const out = encodeSequences(params, CFG, ss, pooling, 3);
    assert.equal(out.length, ss.length * D);
    ss.forEach((s, i) => assertClose(out.subarray(i * D, (i + 1) * D), readRows([s], pooling)[0], TOL, `${pooling} seq ${i}`));
  }
  assert.equal(encodeSequences(params, CFG, [], 'last').length, 0);
});

test('read-outs leave no tensors behind', () => {
  const ss = seqs(4, [4, 8, 3]);
  encodeSequences(params, CFG, ss, 'last');
  const before = tf.memory().numTensors;
  for (const p of ['last', 'mean', 'max', 'token'] as Pooling[]) encodeSequences(params, CFG, ss, p, 2);
  assert.equal(tf.memory().numTensors, before);
});

test('bad input: left-padded batch for last, empty sequences, unknown pooling', () => {
  const ss = seqs(5, [4, 6]);
  const left = padBatch(ss, 'left');
  assert.throws(() => tf.tidy(() => readOut(forward(params, CFG, left), left, 'last')), (e: unknown) =>
    e instanceof ConfigError && /right-padded/.test(e.message),
  );
  // an empty sequence has no last token: a clear error naming it (input index), not garbage
  assert.throws(() => encodeSequences(params, CFG, [ss[0], [], ss[1]], 'last'), (e: unknown) =>
    e instanceof R2ecError && /sequence 1 is empty/.test(e.message),
  );
  assert.throws(() => encodeSequences(params, CFG, [[]], 'max'), R2ecError);
  const withEmpty = padBatch([ss[0], []], 'right');
  assert.throws(() => tf.tidy(() => readOut(forward(params, CFG, withEmpty), withEmpty, 'mean')), /sequence 1 of the batch is empty/);
  assert.throws(() => validatePooling('cls', 'rec.pooling'), (e: unknown) => e instanceof ConfigError && e.field === 'rec.pooling');
  assert.equal(validatePooling('mean'), 'mean');
  // a sequence longer than the context
  assert.throws(() => encodeSequences(params, CFG, [Array(65).fill(1)], 'last'), /maxSeqLen=64/);
});

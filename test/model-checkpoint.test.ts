// Checkpoints (lib/model/checkpoint.ts): safetensors layout, save/load round trip (weights bitwise, optimizer moments
// and step, tokenizer, trainer state, extra tensors), continuing AdamW from a restored state is exact, atomic
// replacement, and damaged checkpoints → R2ecErrors naming the file and tensor.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, forward, initParams, lmLogits, padBatch, paramNames, type Params } from '../lib/model/decoder';
import { crossEntropy } from '../lib/model/losses';
import {
  assignParams, decodeSafetensors, encodeSafetensors, hasCheckpoint, loadCheckpoint,
  paramsFromArrays, paramsToArrays, saveCheckpoint, type NamedArrays,
} from '../lib/model/checkpoint';
import { adamWStep, disposeAdamW, initAdamW, optimizerToArrays, restoreOptimizer, DEFAULT_ADAMW, type AdamWState } from '../lib/train/optimizer';
import { paramGrads } from '../lib/train/grads';
import { trainTokenizer, tokenizerFromJSON } from '../lib/text/bpe';
import { makeRng } from '../lib/util/rng';
import { ConfigError, R2ecError } from '../lib/util/errors';

const CFG = modelConfig('tiny', { vocabSize: 300, maxSeqLen: 32 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'r2ec-ckpt-'));

before(async () => {
  await initBackend({ log: false });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function bytes(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A few AdamW steps on random tokens, so that weights and moments are non-trivial. */
function trainSteps(params: Params, opt: AdamWState, steps: number, seed: number): number[] {
  const rng = makeRng(seed);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const seqs = Array.from({ length: 3 }, () => Array.from({ length: 9 }, () => rng.int(CFG.vocabSize)));
    const batch = padBatch(seqs.map((q) => q.slice(0, 8)), 'right');
    const targets = seqs.flatMap((q) => q.slice(1));
    const { value, grads } = paramGrads(params, () => {
      const h = forward(params, CFG, batch);
      return crossEntropy(lmLogits(params, tf.reshape(h, [24, CFG.dModel]) as tf.Tensor2D), tf.tensor1d(targets, 'int32'));
    });
    losses.push(value.dataSync()[0]);
    adamWStep(params, grads, opt, { ...DEFAULT_ADAMW, lr: 1e-2 });
    tf.dispose([value, ...Object.values(grads)]);
  }
  return losses;
}

test('safetensors layout: 8-byte little-endian header length, JSON header (8-aligned), raw little-endian float32 data', () => {
  const buf = encodeSafetensors(
    { b: { shape: [2], data: Float32Array.from([1.5, -2]) }, a: { shape: [1, 1], data: Float32Array.from([3]) } },
    { format: 'r2ec' },
  );
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  // names sorted: a (4 bytes) then b (8 bytes)
  assert.deepEqual(header, {
    __metadata__: { format: 'r2ec' },
    a: { dtype: 'F32', shape: [1, 1], data_offsets: [0, 4] },
    b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
  });
  assert.equal(buf.length, 8 + n + 12);
  assert.equal(buf.readFloatLE(8 + n), 3);
  assert.equal(buf.readFloatLE(8 + n + 4), 1.5);
  assert.equal(buf.readFloatLE(8 + n + 8), -2);
  const back = decodeSafetensors(buf);
  assert.deepEqual(back.metadata, { format: 'r2ec' });
  assert.deepEqual(Array.from(back.arrays.b.data), [1.5, -2]);
  assert.deepEqual(back.arrays.a.shape, [1, 1]);
});

test('save/load round trip: weights bitwise, optimizer moments and step, tokenizer, trainer state, extra tensors', () => {
  const params = initParams(CFG, 1);
  const opt = initAdamW(params);
  trainSteps(params, opt, 3, 2);
  const tok = trainTokenizer(['a small corpus for a small tokenizer, a small test'], { vocabSize: 280 });
  const dir = path.join(tmp, 'round-trip');
  const head = { shape: [4, CFG.dModel], data: Float32Array.from({ length: 4 * CFG.dModel }, (_, i) => i / 7) };
  saveCheckpoint(dir, {
    config: CFG,
    params: { ...paramsToArrays(params), rec_head: head },
    extraParams: ['rec_head'],
    tokenizer: tok.toJSON(),
    optimizer: optimizerToArrays(opt),
    state: { kind: 'test', step: 3, curves: { loss: [1, 0.5] } },
  });
  assert.ok(hasCheckpoint(dir));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'optimizer.safetensors', 'tokenizer.json', 'trainer_state.json']);
  const ck = loadCheckpoint(dir);
  assert.deepEqual(ck.config, CFG);
  assert.deepEqual(ck.extraParams, ['rec_head']);
  for (const n of paramNames(CFG)) {
    assert.deepEqual(ck.params[n].shape, params[n].shape, n);
    assert.ok(bytes(ck.params[n].data).equals(bytes(params[n].dataSync() as Float32Array)), `${n} not bitwise equal`);
  }
  assert.ok(bytes(ck.params.rec_head.data).equals(bytes(head.data)));
  assert.equal(ck.optimizer!.step, 3);
  for (const n of paramNames(CFG)) {
    assert.ok(bytes(ck.optimizer!.m[n].data).equals(bytes(opt.m[n].dataSync() as Float32Array)), `m/${n}`);
    assert.ok(bytes(ck.optimizer!.v[n].data).equals(bytes(opt.v[n].dataSync() as Float32Array)), `v/${n}`);
  }
  assert.deepEqual(ck.state, { kind: 'test', step: 3, curves: { loss: [1, 0.5] } });
  const tok2 = tokenizerFromJSON(ck.tokenizer);
  assert.deepEqual(tok2.encode('a small test'), tok.encode('a small test'));

  // restored into fresh variables (another seed) and a fresh optimizer, training continues exactly as the original
  const p2 = initParams(CFG, 99);
  assignParams(p2, ck.params);
  const o2 = initAdamW(p2);
  restoreOptimizer(o2, ck.optimizer!);
  assert.equal(o2.step, 3);
  const l1 = trainSteps(params, opt, 2, 3);
  const l2 = trainSteps(p2, o2, 2, 3);
  assert.deepEqual(l2, l1);
  for (const n of paramNames(CFG)) assert.ok(bytes(p2[n].dataSync() as Float32Array).equals(bytes(params[n].dataSync() as Float32Array)), n);
  // paramsFromArrays builds the same weights as new variables
  const p3 = paramsFromArrays(ck.params, paramNames(CFG));
  assert.deepEqual(Object.keys(p3), paramNames(CFG));
  assert.ok(bytes(p3.embed.dataSync() as Float32Array).equals(bytes(ck.params.embed.data)));
  [params, p2, p3].forEach(disposeParams);
  disposeAdamW(opt);
  disposeAdamW(o2);
});

test('saving over a checkpoint replaces it whole; a leftover temporary folder from a killed save is ignored', () => {
  const params = initParams(CFG, 4);
  const dir = path.join(tmp, 'replace');
  saveCheckpoint(dir, { config: CFG, params: paramsToArrays(params), tokenizer: { any: 1 }, state: { step: 1 } });
  // the second save has no tokenizer: the old tokenizer.json must not survive
  saveCheckpoint(dir, { config: CFG, params: paramsToArrays(params), state: { step: 2 } });
  assert.ok(!fs.existsSync(path.join(dir, 'tokenizer.json')));
  assert.equal(loadCheckpoint(dir).state!.step, 2);
  // a save killed while writing leaves only <dir>.tmp-<pid>; neither it nor moved-aside folders remain after a save
  fs.mkdirSync(`${dir}.tmp-999999`);
  fs.writeFileSync(path.join(`${dir}.tmp-999999`, 'model.safetensors'), 'half');
  assert.equal(loadCheckpoint(dir).state!.step, 2);
  assert.ok(!hasCheckpoint(path.join(tmp, 'never-saved')));
  const siblings = fs.readdirSync(tmp).filter((f) => f.startsWith('replace'));
  assert.deepEqual(siblings.sort(), ['replace', 'replace.tmp-999999']);
  disposeParams(params);
});

/** Write a checkpoint, then damage one file with `damage`; return the error message of loading it. */
function loadDamaged(name: string, damage: (dir: string, arrays: NamedArrays) => void): R2ecError {
  const params = initParams(CFG, 5);
  const arrays = paramsToArrays(params);
  disposeParams(params);
  const opt = { step: 2, m: arrays, v: arrays };
  const dir = path.join(tmp, name);
  saveCheckpoint(dir, { config: CFG, params: arrays, optimizer: opt, tokenizer: { x: 1 }, state: { step: 2 } });
  damage(dir, arrays);
  try {
    loadCheckpoint(dir);
  } catch (e) {
    assert.ok(e instanceof R2ecError, `expected an R2ecError, got ${(e as Error).stack}`);
    return e;
  }
  return assert.fail(`${name}: loading the damaged checkpoint did not fail`);
}

test('damaged checkpoints → R2ecErrors naming the file and the tensor', () => {
  const model = (dir: string) => path.join(dir, 'model.safetensors');
  const rewrite = (dir: string, arrays: NamedArrays) => fs.writeFileSync(model(dir), encodeSafetensors(arrays));

  let e = loadDamaged('missing-tensor', (dir, a) => {
    const { ['layers.1.wq']: _gone, ...rest } = a;
    rewrite(dir, rest);
  });
  assert.match(e.message, /missing-tensor\/model\.safetensors: missing tensors layers\.1\.wq/);

  e = loadDamaged('wrong-shape', (dir, a) => rewrite(dir, { ...a, 'layers.0.w_gate': { shape: [64, 32], data: new Float32Array(64 * 32) } }));
  assert.match(e.message, /wrong-shape\/model\.safetensors: tensor "layers\.0\.w_gate" has shape \[64,32\], the config expects \[32,64\]/);

  e = loadDamaged('unexpected-tensor', (dir, a) => rewrite(dir, { ...a, stray: { shape: [1], data: new Float32Array(1) } }));
  assert.match(e.message, /unexpected-tensor\/model\.safetensors: unexpected tensors stray/);

  e = loadDamaged('corrupt-header', (dir) => {
    const buf = fs.readFileSync(model(dir));
    buf.write('#garbage#', 8, 'latin1'); // over the opening brace
    fs.writeFileSync(model(dir), buf);
  });
  assert.match(e.message, /corrupt-header\/model\.safetensors: safetensors header is not valid JSON/);

  e = loadDamaged('header-length', (dir) => {
    const buf = fs.readFileSync(model(dir));
    buf.writeBigUInt64LE(BigInt(buf.length * 2), 0);
    fs.writeFileSync(model(dir), buf);
  });
  assert.match(e.message, /header-length\/model\.safetensors: corrupt safetensors header length/);

  e = loadDamaged('header-not-object', (dir) => {
    const json = Buffer.from('[1,2,3]   ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(model(dir), Buffer.concat([len, json]));
  });
  assert.match(e.message, /header-not-object\/model\.safetensors: safetensors header is not a JSON object/);

  e = loadDamaged('header-fields', (dir) => {
    const json = Buffer.from('{"embed":{"dtype":"F32"}}      ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(model(dir), Buffer.concat([len, json]));
  });
  assert.match(e.message, /header-fields\/model\.safetensors: tensor "embed" has no shape or data_offsets/);

  e = loadDamaged('truncated', (dir) => {
    const buf = fs.readFileSync(model(dir));
    fs.writeFileSync(model(dir), buf.subarray(0, buf.length - 100));
  });
  assert.match(e.message, /truncated\/model\.safetensors: tensor "[^"]+" has inconsistent offsets/);

  e = loadDamaged('too-short', (dir) => fs.writeFileSync(model(dir), Buffer.from([1, 2, 3])));
  assert.match(e.message, /too-short\/model\.safetensors: not a safetensors file/);

  e = loadDamaged('dtype', (dir) => {
    const buf = fs.readFileSync(model(dir));
    const n = Number(buf.readBigUInt64LE(0));
    const header = buf.subarray(8, 8 + n).toString('utf8').replace('"dtype":"F32"', '"dtype":"F16"');
    fs.writeFileSync(model(dir), Buffer.concat([buf.subarray(0, 8), Buffer.from(header), buf.subarray(8 + n)]));
  });
  assert.match(e.message, /dtype\/model\.safetensors: tensor "[^"]+" has dtype F16; only F32/);

  e = loadDamaged('no-weights', (dir) => fs.rmSync(model(dir)));
  assert.match(e.message, /no-weights: missing model\.safetensors/);

  e = loadDamaged('no-config', (dir) => fs.rmSync(path.join(dir, 'config.json')));
  assert.match(e.message, /no-config: missing config\.json/);

  e = loadDamaged('config-json', (dir) => fs.writeFileSync(path.join(dir, 'config.json'), '{"model": '));
  assert.match(e.message, /config-json\/config\.json: not valid JSON/);

  e = loadDamaged('config-field', (dir) =>
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model: { ...CFG, nHeads: 3 } })),
  );
  assert.ok(e instanceof ConfigError);
  assert.match(e.field, /config-field\/config\.json: model\.nHeads$/);

  e = loadDamaged('optimizer', (dir) => fs.writeFileSync(path.join(dir, 'optimizer.safetensors'), Buffer.alloc(16)));
  assert.match(e.message, /optimizer\/optimizer\.safetensors: corrupt safetensors header length 0/);

  e = loadDamaged('state', (dir) => fs.writeFileSync(path.join(dir, 'trainer_state.json'), '{"step": 2'));
  assert.match(e.message, /state\/trainer_state\.json: not valid JSON/);

  e = loadDamaged('tokenizer', (dir) => fs.writeFileSync(path.join(dir, 'tokenizer.json'), 'nope'));
  assert.match(e.message, /tokenizer\/tokenizer\.json: not valid JSON/);
});

test('restoring optimizer state without the moments of a parameter names it', () => {
  const params = initParams(CFG, 6);
  const opt = initAdamW(params);
  const saved = optimizerToArrays(opt);
  delete saved.m['layers.0.wk'];
  assert.throws(() => restoreOptimizer(opt, saved), (e: unknown) => e instanceof R2ecError && /"layers\.0\.wk"/.test(e.message));
  const missing = paramsToArrays(params);
  delete missing.final_norm;
  assert.throws(() => assignParams(params, missing), /no tensor "final_norm"/);
  disposeParams(params);
  disposeAdamW(opt);
});

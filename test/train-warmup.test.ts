// Tokenizer ↔ model smoke test, a real learning test: train a BPE on a small synthetic-shop corpus (lib/text), warm
// up a tiny LM on the encoded warm-up documents (lib/train/lm.ts), and check that the validation loss falls well
// below both the untrained model's and a unigram model's (so the model uses context, not just token frequencies).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf, initBackend } from '../lib/model/backend';
import { modelConfig } from '../lib/model/config';
import { disposeParams, forward, initParams, lmLogits, padBatch } from '../lib/model/decoder';
import { crossEntropy } from '../lib/model/losses';
import { generateSynthetic } from '../lib/data/synthetic';
import { tokenizerCorpus, warmupCorpus } from '../lib/text/corpus';
import { SPECIAL, trainTokenizer } from '../lib/text/bpe';
import { trainLM, windowStarts, type LMJob } from '../lib/train/lm';
import { DEFAULT_ADAMW } from '../lib/train/optimizer';

before(async () => {
  await initBackend({ log: false });
});

test('a tiny LM warmed up on tokenized warm-up documents learns: validation loss −30% and below the unigram model', async () => {
  const ds = generateSynthetic({ users: 60, items: 80 });
  const docs = warmupCorpus(ds, { seed: 1, maxDocs: 150 });
  const tok = trainTokenizer(tokenizerCorpus(ds, { maxChars: 60_000 }), { vocabSize: 512 });
  assert.equal(tok.vocabSize, 512);
  const encode = (texts: string[]) => Int32Array.from(texts.flatMap((d) => [...tok.encode(d), SPECIAL.eos]));
  const trainTokens = encode(docs.slice(0, 130));
  const valTokens = encode(docs.slice(130));
  // round trip: the tokenizer is lossless on the corpus it feeds the model
  assert.equal(tok.decode(tok.encode(docs[0])), docs[0]);

  const seqLen = 64;
  const evalWindows = 16;
  const job: LMJob = {
    model: modelConfig('tiny', { vocabSize: tok.vocabSize, maxSeqLen: seqLen }),
    train: {
      steps: 40,
      batchSize: 8,
      seqLen,
      optimizer: { ...DEFAULT_ADAMW, lr: 1e-2 },
      schedule: { kind: 'cosine', warmupSteps: 5, minRatio: 0.1 },
      evalEvery: 20,
      evalWindows,
      checkpointEvery: 0,
      seed: 3,
    },
    trainTokens,
    valTokens,
  };

  // the untrained model's loss on the same validation windows (trainLM initialises from the same seed)
  const init = initParams(job.model, job.train.seed);
  const starts = windowStarts(valTokens.length, seqLen).slice(0, evalWindows);
  assert.equal(starts.length, evalWindows);
  const initialLoss = tf.tidy(() => {
    const batch = padBatch(starts.map((s) => Array.from(valTokens.subarray(s, s + seqLen))), 'right');
    const targets = Int32Array.from(starts.flatMap((s) => Array.from(valTokens.subarray(s + 1, s + seqLen + 1))));
    const h = forward(init, job.model, batch);
    const logits = lmLogits(init, tf.reshape(h, [starts.length * seqLen, job.model.dModel]) as tf.Tensor2D);
    return crossEntropy(logits, tf.tensor1d(targets, 'int32')).dataSync()[0];
  });
  disposeParams(init);
  // near-uniform at initialisation: ln 512 = 6.24
  assert.ok(Math.abs(initialLoss - Math.log(512)) < 0.3, `initial loss ${initialLoss}`);

  // unigram model fitted on the training tokens (add-one smoothing), scored on the same validation targets
  const counts = new Float64Array(tok.vocabSize).fill(1);
  for (const t of trainTokens) counts[t]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let unigram = 0;
  for (const s of starts) for (let i = 1; i <= seqLen; i++) unigram -= Math.log(counts[valTokens[s + i]] / total);
  unigram /= starts.length * seqLen;

  const r = await trainLM(job, 1);
  const [mid, last] = r.curves.valLoss;
  assert.deepEqual(r.curves.valStep, [20, 40]);
  assert.ok(last < 0.7 * initialLoss, `validation loss ${initialLoss.toFixed(3)} → ${last.toFixed(3)}: less than 30% down`);
  assert.ok(last < unigram - 0.3, `validation loss ${last.toFixed(3)} not clearly below the unigram model's ${unigram.toFixed(3)}`);
  assert.ok(last < mid, `still improving: ${mid} → ${last}`);
  disposeParams(r.params);
});

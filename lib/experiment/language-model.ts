// The language model every LM method starts from: a BPE tokenizer trained on the dataset's text and an LM warmed up
// on item prompts, user prompts and templated reasoning (train split only), standing in for the pretrained LLM of
// the paper. Cached by a hash of everything that shapes it, so the methods of an experiment (and reruns) share it.
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../data/types';
import { trainTokenizer, tokenizerFromJSON, SPECIAL } from '../text/bpe';
import { tokenizerCorpus, warmupDocuments } from '../text/corpus';
import { encodeChat } from '../text/chat';
import { modelConfig, parameterCount, type ModelConfig } from '../model/config';
import { hasCheckpoint, loadCheckpoint } from '../model/checkpoint';
import { trainLM, type LMCurves, type LMHooks } from '../train/lm';
import { sha256, stableStringify } from '../util/hash';
import { lmCacheRoot } from '../util/env';
import { hashSeed, makeRng, shuffleInPlace } from '../util/rng';
import { disposeParams } from '../model/decoder';
import { importBackboneForExperiment } from '../model/hf/workbench';
import type { ExperimentConfig } from './config';

export interface PreparedLM {
  dir: string;
  /** warm-up checkpoint (weights + tokenizer) */
  checkpoint: string;
  tokenizer: unknown;
  model: ModelConfig;
  parameters: number;
  curves: LMCurves;
  tokens: { train: number; valid: number };
  key: string;
  cached: boolean;
  seconds: number;
}

export { lmCacheRoot };

/** Documents → one token stream joined by <eos>; 5% of documents (seeded) held out for validation perplexity. */
function tokenStreams(ds: Dataset, cfg: ExperimentConfig, tok: ReturnType<typeof tokenizerFromJSON>) {
  const docs = warmupDocuments(ds, {
    seed: cfg.seed, maxDocs: cfg.warmup.maxDocs > 0 ? cfg.warmup.maxDocs : undefined, answer: cfg.warmup.answer, format: cfg.recpo.promptFormat,
  });
  const order = shuffleInPlace(docs.map((_, i) => i), makeRng(hashSeed(cfg.seed, 'warmup-valid')));
  const nVal = Math.max(1, Math.floor(docs.length * 0.05));
  const valSet = new Set(order.slice(0, nVal));
  const train: number[] = [];
  const valid: number[] = [];
  docs.forEach((d, i) => {
    const ids = encodeChat(tok, d.user, d.assistant, { maxLen: Number.MAX_SAFE_INTEGER }).ids; // windows cut documents anyway
    const out = valSet.has(i) ? valid : train;
    for (const id of ids) out.push(id);
    out.push(SPECIAL.eos);
  });
  return { train: Int32Array.from(train), valid: Int32Array.from(valid) };
}

export async function prepareLanguageModel(
  ds: Dataset,
  cfg: ExperimentConfig,
  world: number,
  hooks: LMHooks & { log?: (msg: string) => void } = {},
): Promise<PreparedLM> {
  const t0 = performance.now();
  const log = hooks.log ?? (() => {});
  if (cfg.model.backbone) {
    // an imported Hugging Face backbone: no BPE, no warm-up (lib/model/hf/workbench.ts)
    const b = await importBackboneForExperiment(cfg.model.backbone, lmCacheRoot(), { maxSeqLen: cfg.model.maxSeqLen, log });
    log(`language model: backbone ${cfg.model.backbone} (${(b.parameters / 1e6).toFixed(1)}M parameters${b.cached ? ', cached import' : ''})`);
    const curves = { step: [], loss: [], lr: [], gradNorm: [], valStep: [], valLoss: [], valPerplexity: [] };
    return {
      dir: path.dirname(b.checkpoint), checkpoint: b.checkpoint, tokenizer: b.tokenizer, model: b.config, parameters: b.parameters,
      curves, tokens: { train: 0, valid: 0 }, key: `backbone-${b.key}`, cached: b.cached, seconds: (performance.now() - t0) / 1000,
    };
  }
  const key = sha256(
    stableStringify({
      v: 1,
      data: ds.provenance.key || ds.name,
      model: cfg.model,
      tokenizer: cfg.tokenizer,
      warmup: cfg.warmup,
      seed: cfg.seed,
      // the prompt wording shapes the BPE and the warm-up documents ('spec' keeps the keys of earlier caches)
      ...(cfg.recpo.promptFormat !== 'spec' ? { promptFormat: cfg.recpo.promptFormat } : {}),
    }),
  ).slice(0, 16);
  const dir = path.join(lmCacheRoot(), `${ds.name}-${key}`);
  const checkpoint = path.join(dir, 'warmup');
  const metaFile = path.join(dir, 'meta.json');
  if (hasCheckpoint(checkpoint) && fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    if (meta.done) {
      const ck = loadCheckpoint(checkpoint);
      log(`language model: reusing the warmed-up LM in ${dir}`);
      return { ...meta, dir, checkpoint, tokenizer: ck.tokenizer, model: ck.config, cached: true, seconds: (performance.now() - t0) / 1000 };
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  log(`language model: training a ${cfg.model.vocabSize}-token BPE on ${ds.name} text`);
  const tokFile = path.join(dir, 'tokenizer.json');
  let tokJson: unknown;
  if (fs.existsSync(tokFile)) tokJson = JSON.parse(fs.readFileSync(tokFile, 'utf8'));
  else {
    const corpus = tokenizerCorpus(ds, { seed: cfg.seed, maxChars: cfg.tokenizer.maxChars, format: cfg.recpo.promptFormat });
    tokJson = trainTokenizer(corpus, { vocabSize: cfg.model.vocabSize }).toJSON();
    fs.writeFileSync(tokFile, JSON.stringify(tokJson));
  }
  const tok = tokenizerFromJSON(tokJson);
  const model = modelConfig(cfg.model.preset, { vocabSize: tok.vocabSize, maxSeqLen: cfg.model.maxSeqLen });
  const streams = tokenStreams(ds, cfg, tok);
  log(
    `language model: ${cfg.model.preset} (${(parameterCount(model) / 1e6).toFixed(2)}M parameters), warm-up ${cfg.warmup.steps} steps ` +
      `on ${(streams.train.length / 1e6).toFixed(2)}M tokens, ${world} rank(s)`,
  );
  const { maxDocs: _m, answer: _a, ...train } = cfg.warmup;
  void _m;
  void _a;
  const res = await trainLM(
    { model, train, trainTokens: streams.train, valTokens: streams.valid, checkpointDir: checkpoint, tokenizer: tokJson },
    world,
    hooks,
  );
  disposeParams(res.params);
  const meta = {
    done: true,
    key,
    parameters: parameterCount(model),
    curves: res.curves,
    tokens: { train: streams.train.length, valid: streams.valid.length },
    tokensPerSec: res.tokensPerSec,
  };
  fs.writeFileSync(metaFile, JSON.stringify(meta));
  return { ...meta, dir, checkpoint, tokenizer: tokJson, model, cached: false, seconds: (performance.now() - t0) / 1000 };
}

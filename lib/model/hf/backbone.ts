// One entry point for "a backbone folder": a Hugging Face checkpoint (merged weights), or a PEFT LoRA adapter folder
// on top of one (its base from --base / opts.base, else adapter_config.json's base_model_name_or_path when that is a
// local folder). Used by `r2ec backbone …`, `r2ec import` and the experiment's `model.backbone`.
import fs from 'node:fs';
import path from 'node:path';
import { headDim, parameterCount, type ModelConfig } from '../config';
import type { Params } from '../decoder';
import { R2ecError } from '../../util/errors';
import { inspectHFCheckpoint, isHFCheckpoint, loadHFCheckpoint, type HFCheckpointInfo } from './checkpoint';
import { isAdapterDir, loadAdapter, readAdapterConfig } from './lora';
import type { Architecture } from './architectures';

export interface BackboneSource {
  /** the weights folder (the base when `adapter` is set) */
  base: string;
  /** a PEFT adapter folder applied on top */
  adapter?: string;
  /** where tokenizer.json lives (the adapter folder when it has one, else the base) */
  tokenizerDir?: string;
}

/** Resolve a folder given by the user into base (+ adapter); errors say what the folder lacks. */
export function resolveBackbone(dir: string, opts: { base?: string; adapter?: string } = {}): BackboneSource {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new R2ecError(`${dir}: not a folder`);
  let base = dir;
  let adapter = opts.adapter;
  if (isAdapterDir(dir)) {
    adapter = dir;
    const named = readAdapterConfig(dir).baseModel;
    const candidate = opts.base ?? (named && fs.existsSync(named) ? named : undefined);
    if (!candidate) {
      throw new R2ecError(
        `${dir}: a LoRA adapter whose base model${named ? ` "${named}"` : ''} is not a local folder; give the base checkpoint folder (--base <dir>)`,
      );
    }
    base = candidate;
  } else if (opts.base) {
    throw new R2ecError(`${dir}: --base is only for LoRA adapter folders (this folder has no adapter_config.json)`);
  }
  if (!isHFCheckpoint(base)) throw new R2ecError(`${base}: no config.json with "architectures" (not a Hugging Face checkpoint folder)`);
  if (adapter && !isAdapterDir(adapter)) throw new R2ecError(`${adapter}: no adapter_config.json (not a PEFT adapter folder)`);
  const tokDir = [adapter, base].find((d) => d !== undefined && fs.existsSync(path.join(d, 'tokenizer.json')));
  return { base, adapter, tokenizerDir: tokDir };
}

export interface LoadedBackbone {
  source: BackboneSource;
  arch: Architecture;
  info: HFCheckpointInfo;
  config: ModelConfig;
  params: Params;
}

/** Load weights (+ LoRA adapter, applied unmerged) as decoder params. */
export function loadBackbone(src: BackboneSource, opts: { maxSeqLen?: number } = {}): LoadedBackbone {
  const m = loadHFCheckpoint(src.base, opts);
  let config = m.config;
  let params = m.params;
  if (src.adapter) ({ config, params } = loadAdapter(src.adapter, { config, params }));
  return { source: src, arch: m.arch, info: m, config, params };
}

export interface BackboneReport {
  folder: string;
  adapter?: string;
  architecture: Architecture;
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  maxPositions: number;
  parameters: number;
  dtypes: Record<string, number>;
  storedBytes: number;
  /** bytes of the weights as float32 (what the forward pass holds) */
  float32Bytes: number;
  /** float32 activation bytes of one forward pass at batch 1 × `tokens`, everything kept for backprop */
  activationBytesPer1kTokens: number;
  /** weights + one 1k-token scoring forward fit in the wasm heap (4 GiB) */
  fitsWasmInference: boolean;
  /** weights + LoRA training of one 1k-token sequence (activations kept twice for backprop) fit in the wasm heap */
  fitsWasmLoraTraining: boolean;
  tokenizer: boolean;
  chatTemplate: boolean;
}

/** The wasm backend's heap limit (32-bit wasm memory). */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Float32 bytes of the intermediate tensors of one forward pass over T tokens (batch 1), all kept until the end as
 * tf.tidy and backprop keep them: per layer the normed input, q/k/v/o, rotated q/k, context (≈ 8·d), the MLP's
 * gate/up/act (3·dFF), and the attention scores and probabilities (2·H·T²); plus the logits are not counted
 * (the read-out takes one position).
 */
export function activationBytes(cfg: ModelConfig, T: number): number {
  const dh = headDim(cfg);
  const perToken = 4 * cfg.dModel + 4 * cfg.nHeads * dh + 3 * cfg.dFF;
  return 4 * cfg.nLayers * (T * perToken + 2 * cfg.nHeads * T * T);
}

export function backboneReport(dir: string, opts: { base?: string } = {}): BackboneReport {
  const src = resolveBackbone(dir, opts);
  const info = inspectHFCheckpoint(src.base);
  let cfg = info.config;
  if (src.adapter) cfg = { ...cfg, lora: readAdapterConfig(src.adapter).lora };
  const params = parameterCount(cfg);
  const act = activationBytes(cfg, 1024);
  const tokFile = src.tokenizerDir ? path.join(src.tokenizerDir, 'tokenizer_config.json') : undefined;
  let chat = false;
  if (src.tokenizerDir) {
    chat = fs.existsSync(path.join(src.tokenizerDir, 'chat_template.jinja'));
    if (!chat && tokFile && fs.existsSync(tokFile)) {
      try {
        chat = JSON.parse(fs.readFileSync(tokFile, 'utf8')).chat_template !== undefined;
      } catch {
        throw new R2ecError(`${tokFile}: not valid JSON`);
      }
    }
  }
  return {
    folder: src.base,
    adapter: src.adapter,
    architecture: info.arch,
    layers: cfg.nLayers,
    hiddenSize: cfg.dModel,
    heads: cfg.nHeads,
    kvHeads: cfg.nKvHeads,
    headDim: headDim(cfg),
    intermediateSize: cfg.dFF,
    vocabSize: cfg.vocabSize,
    tiedEmbeddings: cfg.tieEmbeddings !== false,
    maxPositions: cfg.maxSeqLen,
    parameters: params,
    dtypes: info.dtypes,
    storedBytes: info.storedBytes,
    float32Bytes: params * 4,
    activationBytesPer1kTokens: act,
    fitsWasmInference: params * 4 + act < WASM_HEAP_BYTES,
    fitsWasmLoraTraining: params * 4 + 2 * act < WASM_HEAP_BYTES,
    tokenizer: src.tokenizerDir !== undefined,
    chatTemplate: chat,
  };
}

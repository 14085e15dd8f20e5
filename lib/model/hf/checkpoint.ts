// Import and export of Hugging Face checkpoint folders as the decoder's parameters (lib/model/decoder.ts), so an
// imported backbone runs through the same forward / readOut / generate as the small models. Nothing is downloaded:
// everything comes from the folder the user gives.
//
//   folder/config.json                                   architecture + sizes (architectures.ts)
//   folder/model.safetensors                             or model-0000k-of-0000n.safetensors + model.safetensors.index.json
//   folder/tokenizer.json, tokenizer_config.json, ...    copied through on export (lib/text/hf-tokenizer.ts reads them)
//
// Weights are widened to float32 on import (BF16/F16/F32 stored); the forward pass runs in float32.
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend';
import type { ModelConfig } from '../config';
import { paramNames, paramShapes, type Params } from '../decoder';
import { R2ecError } from '../../util/errors';
import {
  architectureOf,
  defaultArchitecture,
  hfConfigFromModel,
  ignorableTensor,
  modelConfigFromHF,
  weightMap,
  type Architecture,
  type HFConfig,
} from './architectures';
import { openWeights, readWeight, writeWeights, type NamedArrays, type WriteDtype } from './safetensors';

/** Tokenizer files copied with a checkpoint (whichever exist). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'chat_template.jinja',
  'vocab.json',
  'merges.txt',
  'tokenizer.model',
];

/** [rows, cols] row-major → [cols, rows] (blocked, so large matrices stay cache friendly). */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * cols + c];
    }
  }
  return out;
}

function readJson(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new R2ecError(`${file}: file not found`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new R2ecError(`${file}: not valid JSON`);
  }
}

export interface HFCheckpointInfo {
  dir: string;
  arch: Architecture;
  hfConfig: HFConfig;
  config: ModelConfig;
  /** stored dtypes and how many tensors of each */
  dtypes: Record<string, number>;
  /** weight files read */
  files: string[];
  /** bytes of the weights as stored */
  storedBytes: number;
}

/** Read config.json and the safetensors headers only (no weights): what `r2ec backbone info` prints. */
export function inspectHFCheckpoint(dir: string, opts: { maxSeqLen?: number } = {}): HFCheckpointInfo {
  const cfgFile = path.join(dir, 'config.json');
  const hfConfig = readJson(cfgFile);
  const { arch, config } = modelConfigFromHF(hfConfig, cfgFile, opts);
  const index = openWeights(dir);
  const dtypes: Record<string, number> = {};
  let storedBytes = 0;
  for (const t of index.tensors.values()) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    storedBytes += t.end - t.begin;
  }
  return { dir, arch, hfConfig, config, dtypes, files: index.files, storedBytes };
}

export interface LoadedHF extends HFCheckpointInfo {
  params: Params;
}

/**
 * Load a Hugging Face checkpoint folder as decoder parameters. Every weight the architecture needs must be there
 * with the shape config.json implies; a missing one, one of the wrong shape, or one that maps to nothing is an
 * error naming the tensor and its file.
 */
export function loadHFCheckpoint(dir: string, opts: { maxSeqLen?: number } = {}): LoadedHF {
  const info = inspectHFCheckpoint(dir, opts);
  const index = openWeights(dir);
  const { arch, config } = info;
  const mapping = weightMap(arch, config);
  const shapes = paramShapes(config);
  const known = new Set(mapping.map((m) => m.hf));
  for (const name of index.tensors.keys()) {
    if (!known.has(name) && !ignorableTensor(name, config)) {
      throw new R2ecError(`${index.tensors.get(name)!.file}: tensor "${name}" does not map to any weight of ${arch} (config ${path.join(dir, 'config.json')})`);
    }
  }
  const params: Params = {};
  try {
    for (const m of mapping) {
      const t = index.tensors.get(m.hf);
      if (!t) throw new R2ecError(`${index.files.join(', ')}: missing tensor "${m.hf}" (${arch} with ${config.nLayers} layers needs it)`);
      const want = shapes[m.ours];
      const hfShape = m.transpose ? [want[1], want[0]] : want;
      if (t.shape.length !== hfShape.length || t.shape.some((x, i) => x !== hfShape[i])) {
        throw new R2ecError(`${t.file}: tensor "${m.hf}" has shape [${t.shape}], config.json implies [${hfShape}]`);
      }
      const { data } = readWeight(index, m.hf);
      const vals = m.transpose ? transpose2d(data, hfShape[0], hfShape[1]) : data;
      params[m.ours] = tf.tidy(() => tf.variable(tf.tensor(vals, want), true));
    }
  } catch (e) {
    for (const v of Object.values(params)) v.dispose();
    throw e;
  }
  return { ...info, params };
}

/** Hugging Face-named float32 arrays of the decoder's weights (LoRA adapters must be merged or saved apart first). */
export function toHFArrays(arch: Architecture, config: ModelConfig, params: Params): NamedArrays {
  const out: NamedArrays = {};
  for (const m of weightMap(arch, config)) {
    const v = params[m.ours];
    if (!v) throw new R2ecError(`export: the model has no weight "${m.ours}"`);
    const data = v.dataSync() as Float32Array;
    const [r, c] = v.shape.length === 2 ? v.shape : [v.shape[0], 1];
    out[m.hf] = m.transpose ? { shape: [c, r], data: transpose2d(data, r, c) } : { shape: v.shape.slice(), data: Float32Array.from(data) };
  }
  return out;
}

export interface ExportOptions {
  /** default: defaultArchitecture(config) */
  arch?: Architecture;
  /** stored dtype (default BF16, as the paper loads the backbone; F32 keeps every bit) */
  dtype?: WriteDtype;
  /** split into shards above this size (default 2 GiB) */
  maxShardBytes?: number;
  /** copy these tokenizer files (TOKENIZER_FILES that exist) from a folder */
  tokenizerFrom?: string;
  /** or write these files (name → content) */
  tokenizerFiles?: Record<string, string>;
  /** token ids for config.json */
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
}

/**
 * Write a model in the Hugging Face layout (config.json + safetensors + tokenizer files), loadable by
 * `transformers` (AutoModelForCausalLM.from_pretrained) and vLLM. A model with LoRA adapters must be merged first
 * (mergeLora) or its adapters saved with saveAdapter.
 */
export function saveHFCheckpoint(dir: string, config: ModelConfig, params: Params, opts: ExportOptions = {}): string[] {
  if (config.lora) throw new R2ecError('export: the model has LoRA adapters; merge them (mergeLora) or save them alone (saveAdapter)');
  const arch = opts.arch ?? defaultArchitecture(config);
  const dtype = opts.dtype ?? 'BF16';
  const expected = new Set(paramNames(config));
  for (const k of Object.keys(params)) if (!expected.has(k)) throw new R2ecError(`export: unexpected weight "${k}" for this config`);
  const hfConfig = hfConfigFromModel(arch, config, { dtype, bosTokenId: opts.bosTokenId, eosTokenId: opts.eosTokenId, padTokenId: opts.padTokenId });
  if (arch === 'Gemma2ForCausalLM') {
    const even = Array.from({ length: config.nLayers }, (_, i) => i).filter((i) => i % 2 === 0);
    if (config.embedScale === undefined || Math.abs(config.embedScale - Math.sqrt(config.dModel)) > 1e-6) {
      throw new R2ecError('export: Gemma2ForCausalLM scales the embedding by sqrt(hidden_size); this model does not');
    }
    if (config.slidingWindow && JSON.stringify(config.slidingWindow.layers) !== JSON.stringify(even)) {
      throw new R2ecError('export: Gemma2ForCausalLM uses the sliding window on the even layers only');
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  const files = writeWeights(dir, toHFArrays(arch, config, params), dtype, { maxShardBytes: opts.maxShardBytes ?? 2 * 1024 ** 3 });
  const cfgFile = path.join(dir, 'config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(hfConfig, null, 2) + '\n');
  files.push(cfgFile);
  if (opts.tokenizerFrom) {
    for (const f of TOKENIZER_FILES) {
      const src = path.join(opts.tokenizerFrom, f);
      if (fs.existsSync(src) && path.resolve(src) !== path.resolve(dir, f)) {
        fs.copyFileSync(src, path.join(dir, f));
        files.push(path.join(dir, f));
      }
    }
  }
  for (const [name, content] of Object.entries(opts.tokenizerFiles ?? {})) {
    fs.writeFileSync(path.join(dir, name), content);
    files.push(path.join(dir, name));
  }
  return files;
}

/** True when the folder looks like a Hugging Face checkpoint (config.json with "architectures"). */
export function isHFCheckpoint(dir: string): boolean {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f)) return false;
  try {
    const j = JSON.parse(fs.readFileSync(f, 'utf8'));
    return Array.isArray(j.architectures);
  } catch {
    return false;
  }
}

export { architectureOf };

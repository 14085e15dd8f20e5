// Model configuration: a small typed object (nanoGPT style), named presets, validation with clear errors.
import { ConfigError } from '../util/errors';

export interface ModelConfig {
  /** tokenizer vocabulary size (embedding rows; the output layer is tied to the embedding) */
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** key/value heads for grouped-query attention; = nHeads for plain multi-head attention */
  nKvHeads: number;
  /** SwiGLU hidden width */
  dFF: number;
  /** longest sequence the model accepts (prompt + generation) */
  maxSeqLen: number;
  ropeTheta: number;
  normEps: number;
  /** std of the normal initialisation */
  initStd: number;
  // Options of imported Hugging Face backbones (lib/model/hf/). All optional: absent = the small model's behaviour.
  /** per-head width when it is not dModel/nHeads (Gemma-2: 256) */
  headDim?: number;
  /** q/k/v projection biases (Qwen2) */
  attnBias?: boolean;
  /** false: a separate output layer `lm_head` [vocab, d]; default true (tied to the embedding) */
  tieEmbeddings?: boolean;
  /** RoPE frequency scaling as in Hugging Face `rope_scaling` (Llama 3.1+: 'llama3'; 'linear') */
  ropeScaling?: RopeScaling;
  /** MLP gate activation: 'silu' (default, SwiGLU) or 'gelu_tanh' (Gemma's GeGLU, gelu_pytorch_tanh) */
  activation?: 'silu' | 'gelu_tanh';
  /** RMSNorm scales by (1 + w) instead of w (Gemma) */
  normPlusOne?: boolean;
  /** the token embedding is multiplied by this before the first layer (Gemma: sqrt(d)) */
  embedScale?: number;
  /** attention score scale; default 1/sqrt(headDim) (Gemma-2: query_pre_attn_scalar^-0.5) */
  attnScale?: number;
  /** cap·tanh(score/cap) on attention scores (Gemma-2: 50) */
  attnSoftcap?: number;
  /** cap·tanh(logit/cap) on token logits (Gemma-2: 30; spec §3) */
  logitSoftcap?: number;
  /** local attention: a query sees keys fewer than `size` positions back, in the listed layers (Gemma-2: even layers) */
  slidingWindow?: { size: number; layers: number[] };
  /** extra RMSNorms after attention and after the MLP, before the residual add (Gemma-2) */
  sandwichNorms?: boolean;
  /** LoRA adapters (spec §3): `layers.l.<w>.lora_a` [in, r] and `.lora_b` [r, out] beside the frozen base weights */
  lora?: LoraConfig;
}

export interface RopeScaling {
  type: 'linear' | 'llama3';
  factor: number;
  /** llama3 only */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

/** Hugging Face / PEFT module names that LoRA can target (spec §3 targets all seven). */
export const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraConfig {
  rank: number;
  /** scale = alpha / rank (PEFT's default, not rsLoRA) */
  alpha: number;
  targets: LoraTarget[];
}

type Preset = Omit<ModelConfig, 'vocabSize'> & { vocabSize?: number };

const common = { ropeTheta: 10000, normEps: 1e-6, initStd: 0.02 };

/**
 * tiny: tests. small: CPU default (~2M parameters with a 4k vocabulary). base: GPU-sized.
 * ref: the stack notes' reference configuration (vocab 2000, d 128, 4 heads, 2 layers, T 128), with a SwiGLU
 * width of 8d/3 so that its MLP has the same parameters and FLOPs as the PyTorch anchor's 4d GELU MLP.
 */
export const PRESETS: Record<string, Preset> = {
  tiny: { dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 512, ...common },
  small: { dModel: 128, nLayers: 4, nHeads: 4, nKvHeads: 2, dFF: 352, maxSeqLen: 1024, ...common },
  base: { dModel: 256, nLayers: 6, nHeads: 8, nKvHeads: 4, dFF: 704, maxSeqLen: 2048, ...common },
  ref: { vocabSize: 2000, dModel: 128, nLayers: 2, nHeads: 4, nKvHeads: 4, dFF: 341, maxSeqLen: 128, ...common },
};

export function modelConfig(preset: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
  const p = PRESETS[preset];
  if (!p) throw new ConfigError('model.preset', `unknown preset "${preset}"; choose one of ${Object.keys(PRESETS).join(', ')}`);
  const cfg = { vocabSize: 0, ...p, ...overrides } as ModelConfig;
  validateModelConfig(cfg);
  return cfg;
}

const HF_KEYS: (keyof ModelConfig)[] = [
  'headDim', 'attnBias', 'tieEmbeddings', 'ropeScaling', 'activation', 'normPlusOne', 'embedScale', 'attnScale',
  'attnSoftcap', 'logitSoftcap', 'slidingWindow', 'sandwichNorms', 'lora',
];

const KEYS: (keyof ModelConfig)[] = [
  'vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'maxSeqLen', 'ropeTheta', 'normEps', 'initStd',
  ...HF_KEYS,
];

export function validateModelConfig(cfg: ModelConfig, prefix = 'model'): void {
  for (const k of Object.keys(cfg)) {
    if (!KEYS.includes(k as keyof ModelConfig)) throw new ConfigError(`${prefix}.${k}`, `unknown key (valid: ${KEYS.join(', ')})`);
  }
  const posInt = (k: 'vocabSize' | 'dModel' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'dFF' | 'maxSeqLen') => {
    const v = cfg[k];
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${prefix}.${k}`, `must be a positive integer, got ${v}`);
  };
  (['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'maxSeqLen'] as const).forEach(posInt);
  if (cfg.headDim === undefined && cfg.dModel % cfg.nHeads !== 0) {
    throw new ConfigError(`${prefix}.nHeads`, `${cfg.nHeads} heads do not divide the width dModel=${cfg.dModel}`);
  }
  if (headDim(cfg) % 2 !== 0) {
    throw new ConfigError(`${prefix}.nHeads`, `head size ${headDim(cfg)} must be even for rotary positions`);
  }
  if (cfg.nHeads % cfg.nKvHeads !== 0) {
    throw new ConfigError(`${prefix}.nKvHeads`, `${cfg.nKvHeads} key/value heads do not divide nHeads=${cfg.nHeads}`);
  }
  for (const k of ['ropeTheta', 'normEps', 'initStd'] as const) {
    if (!(cfg[k] > 0)) throw new ConfigError(`${prefix}.${k}`, `must be > 0, got ${cfg[k]}`);
  }
  validateHFOptions(cfg, prefix);
}


/** Per-head width: headDim when set, else dModel / nHeads. */
export function headDim(cfg: ModelConfig): number {
  return cfg.headDim ?? cfg.dModel / cfg.nHeads;
}

function validateHFOptions(cfg: ModelConfig, prefix: string): void {
  const bad = (k: string, msg: string) => new ConfigError(`${prefix}.${k}`, msg);
  if (cfg.headDim !== undefined && (!Number.isInteger(cfg.headDim) || cfg.headDim <= 0)) {
    throw bad('headDim', `must be a positive integer, got ${cfg.headDim}`);
  }
  for (const k of ['attnBias', 'tieEmbeddings', 'normPlusOne', 'sandwichNorms'] as const) {
    if (cfg[k] !== undefined && typeof cfg[k] !== 'boolean') throw bad(k, `must be true or false, got ${JSON.stringify(cfg[k])}`);
  }
  for (const k of ['embedScale', 'attnScale', 'attnSoftcap', 'logitSoftcap'] as const) {
    const v = cfg[k];
    if (v !== undefined && !(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw bad(k, `must be a number > 0, got ${v}`);
  }
  if (cfg.activation !== undefined && cfg.activation !== 'silu' && cfg.activation !== 'gelu_tanh') {
    throw bad('activation', `must be 'silu' or 'gelu_tanh', got ${JSON.stringify(cfg.activation)}`);
  }
  const rs = cfg.ropeScaling;
  if (rs !== undefined) {
    if (rs.type !== 'linear' && rs.type !== 'llama3') throw bad('ropeScaling.type', `must be 'linear' or 'llama3', got ${JSON.stringify(rs.type)}`);
    if (!(rs.factor > 0)) throw bad('ropeScaling.factor', `must be > 0, got ${rs.factor}`);
    if (rs.type === 'llama3') {
      for (const k of ['lowFreqFactor', 'highFreqFactor', 'originalMaxPositions'] as const) {
        if (!(typeof rs[k] === 'number' && rs[k]! > 0)) throw bad(`ropeScaling.${k}`, `must be a number > 0, got ${rs[k]}`);
      }
      if (!(rs.highFreqFactor! > rs.lowFreqFactor!)) throw bad('ropeScaling.highFreqFactor', 'must be larger than lowFreqFactor');
    }
  }
  const sw = cfg.slidingWindow;
  if (sw !== undefined) {
    if (!Number.isInteger(sw.size) || sw.size < 1) throw bad('slidingWindow.size', `must be a positive integer, got ${sw.size}`);
    if (!Array.isArray(sw.layers) || sw.layers.some((l) => !Number.isInteger(l) || l < 0 || l >= cfg.nLayers)) {
      throw bad('slidingWindow.layers', `must list layer indices in [0, ${cfg.nLayers})`);
    }
  }
  const lora = cfg.lora;
  if (lora !== undefined) {
    if (!Number.isInteger(lora.rank) || lora.rank < 1) throw bad('lora.rank', `must be a positive integer, got ${lora.rank}`);
    if (!(lora.alpha > 0)) throw bad('lora.alpha', `must be > 0, got ${lora.alpha}`);
    if (!Array.isArray(lora.targets) || lora.targets.length === 0) throw bad('lora.targets', 'must list at least one module');
    for (const t of lora.targets) {
      if (!(LORA_TARGETS as readonly string[]).includes(t)) throw bad('lora.targets', `unknown module "${t}" (valid: ${LORA_TARGETS.join(', ')})`);
    }
  }
}

/** Parameter count (tied embedding counted once; LoRA adapters included when configured). */
export function parameterCount(cfg: ModelConfig): number {
  const d = cfg.dModel;
  const dh = headDim(cfg);
  const q = cfg.nHeads * dh;
  const kv = cfg.nKvHeads * dh;
  let attn = d * q * 2 + 2 * d * kv;
  if (cfg.attnBias) attn += q + 2 * kv;
  const mlp = 3 * d * cfg.dFF;
  const norms = (cfg.sandwichNorms ? 4 : 2) * d;
  let lora = 0;
  if (cfg.lora) {
    const io: Record<string, [number, number]> = {
      q_proj: [d, q], k_proj: [d, kv], v_proj: [d, kv], o_proj: [q, d], gate_proj: [d, cfg.dFF], up_proj: [d, cfg.dFF], down_proj: [cfg.dFF, d],
    };
    for (const t of cfg.lora.targets) lora += cfg.lora.rank * (io[t][0] + io[t][1]);
  }
  const head = cfg.tieEmbeddings === false ? cfg.vocabSize * d : 0;
  return cfg.vocabSize * d + head + cfg.nLayers * (attn + mlp + norms + lora) + d;
}

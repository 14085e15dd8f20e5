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

const KEYS: (keyof ModelConfig)[] = [
  'vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'maxSeqLen', 'ropeTheta', 'normEps', 'initStd',
];

export function validateModelConfig(cfg: ModelConfig, prefix = 'model'): void {
  for (const k of Object.keys(cfg)) {
    if (!KEYS.includes(k as keyof ModelConfig)) throw new ConfigError(`${prefix}.${k}`, `unknown key (valid: ${KEYS.join(', ')})`);
  }
  const posInt = (k: keyof ModelConfig) => {
    const v = cfg[k];
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${prefix}.${k}`, `must be a positive integer, got ${v}`);
  };
  (['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'dFF', 'maxSeqLen'] as const).forEach(posInt);
  if (cfg.dModel % cfg.nHeads !== 0) {
    throw new ConfigError(`${prefix}.nHeads`, `${cfg.nHeads} heads do not divide the width dModel=${cfg.dModel}`);
  }
  if ((cfg.dModel / cfg.nHeads) % 2 !== 0) {
    throw new ConfigError(`${prefix}.nHeads`, `head size ${cfg.dModel / cfg.nHeads} must be even for rotary positions`);
  }
  if (cfg.nHeads % cfg.nKvHeads !== 0) {
    throw new ConfigError(`${prefix}.nKvHeads`, `${cfg.nKvHeads} key/value heads do not divide nHeads=${cfg.nHeads}`);
  }
  for (const k of ['ropeTheta', 'normEps', 'initStd'] as const) {
    if (!(cfg[k] > 0)) throw new ConfigError(`${prefix}.${k}`, `must be > 0, got ${cfg[k]}`);
  }
}

/** Parameter count (tied embedding counted once). */
export function parameterCount(cfg: ModelConfig): number {
  const dh = cfg.dModel / cfg.nHeads;
  const attn = cfg.dModel * cfg.dModel * 2 + 2 * cfg.dModel * cfg.nKvHeads * dh;
  const mlp = 3 * cfg.dModel * cfg.dFF;
  return cfg.vocabSize * cfg.dModel + cfg.nLayers * (attn + mlp + 2 * cfg.dModel) + cfg.dModel;
}

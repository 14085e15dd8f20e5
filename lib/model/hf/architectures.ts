// Hugging Face architectures ↔ our decoder (lib/model/decoder.ts): config.json fields → ModelConfig, and the weight
// names of each architecture → ours. Hugging Face `nn.Linear` weights are [out, in] (y = x·Wᵀ); ours are [in, out]
// (y = x·W), so matrices are transposed on import and on export. Supported (spec §3 backbones):
//   LlamaForCausalLM   RMSNorm, rotate-half RoPE (rope_theta, rope_scaling linear|llama3), GQA, SwiGLU, no biases
//   Qwen2ForCausalLM   the same with q/k/v biases
//   Gemma2ForCausalLM  norms scale by (1 + w), embedding × sqrt(d), GeGLU (gelu tanh), sandwich norms, attention
//                      and final-logit soft-capping, query_pre_attn_scalar, sliding window on even layers
import { R2ecError } from '../../util/errors';
import { headDim, validateModelConfig, type ModelConfig } from '../config';

export const ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Gemma2ForCausalLM'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const MODEL_TYPE: Record<Architecture, string> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Gemma2ForCausalLM: 'gemma2',
};

/** The raw config.json of a Hugging Face checkpoint (only the fields we read are typed). */
export type HFConfig = Record<string, unknown>;

function field<T>(cfg: HFConfig, file: string, key: string, check: (v: unknown) => boolean, what: string, dflt?: T): T {
  const v = cfg[key];
  if (v === undefined || v === null) {
    if (dflt !== undefined) return dflt;
    throw new R2ecError(`${file}: missing field "${key}" (${what})`);
  }
  if (!check(v)) throw new R2ecError(`${file}: field "${key}" must be ${what}, got ${JSON.stringify(v)}`);
  return v as T;
}
const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const posNum = (v: unknown) => typeof v === 'number' && v > 0;
const bool = (v: unknown) => typeof v === 'boolean';

/** Which architecture a config.json declares (error naming the file when it is missing or not supported). */
export function architectureOf(cfg: HFConfig, file: string): Architecture {
  const archs = cfg.architectures;
  if (!Array.isArray(archs) || archs.length === 0) {
    throw new R2ecError(`${file}: missing field "architectures" (expected one of ${ARCHITECTURES.join(', ')})`);
  }
  const a = archs[0] as string;
  if (!(ARCHITECTURES as readonly string[]).includes(a)) {
    throw new R2ecError(`${file}: architecture "${a}" is not supported (supported: ${ARCHITECTURES.join(', ')})`);
  }
  return a as Architecture;
}

/** config.json → ModelConfig (validated). `maxSeqLen` is capped at maxPositions (attention is O(T²) here anyway). */
export function modelConfigFromHF(cfg: HFConfig, file: string, opts: { maxSeqLen?: number } = {}): { arch: Architecture; config: ModelConfig } {
  const arch = architectureOf(cfg, file);
  const d = field<number>(cfg, file, 'hidden_size', posInt, 'a positive integer');
  const nHeads = field<number>(cfg, file, 'num_attention_heads', posInt, 'a positive integer');
  const nKvHeads = field<number>(cfg, file, 'num_key_value_heads', posInt, 'a positive integer', nHeads);
  const gemma = arch === 'Gemma2ForCausalLM';
  const mc: ModelConfig = {
    vocabSize: field<number>(cfg, file, 'vocab_size', posInt, 'a positive integer'),
    dModel: d,
    nLayers: field<number>(cfg, file, 'num_hidden_layers', posInt, 'a positive integer'),
    nHeads,
    nKvHeads,
    dFF: field<number>(cfg, file, 'intermediate_size', posInt, 'a positive integer'),
    maxSeqLen: field<number>(cfg, file, 'max_position_embeddings', posInt, 'a positive integer', 2048),
    ropeTheta: field<number>(cfg, file, 'rope_theta', posNum, 'a number > 0', 10000),
    normEps: field<number>(cfg, file, 'rms_norm_eps', posNum, 'a number > 0', 1e-6),
    initStd: field<number>(cfg, file, 'initializer_range', posNum, 'a number > 0', 0.02),
  };
  if (opts.maxSeqLen !== undefined) mc.maxSeqLen = Math.min(mc.maxSeqLen, opts.maxSeqLen);
  const hd = cfg.head_dim;
  if (hd !== undefined && hd !== null) {
    if (!posInt(hd)) throw new R2ecError(`${file}: field "head_dim" must be a positive integer, got ${JSON.stringify(hd)}`);
    if (hd !== d / nHeads) mc.headDim = hd as number;
  } else if (d % nHeads !== 0) {
    throw new R2ecError(`${file}: hidden_size ${d} is not divisible by num_attention_heads ${nHeads} and there is no head_dim`);
  }
  // Hugging Face defaults of tie_word_embeddings: Llama/Qwen2 false, Gemma2 true
  mc.tieEmbeddings = field<boolean>(cfg, file, 'tie_word_embeddings', bool, 'true or false', gemma);
  if (arch === 'Qwen2ForCausalLM') {
    mc.attnBias = true;
    if (cfg.use_sliding_window === true) {
      throw new R2ecError(`${file}: use_sliding_window=true is not supported for Qwen2 (Qwen2.5 checkpoints ship it false)`);
    }
  }
  if (arch === 'LlamaForCausalLM') {
    if (cfg.attention_bias === true) throw new R2ecError(`${file}: attention_bias=true is not supported for LlamaForCausalLM (it adds an o_proj bias)`);
    if (cfg.mlp_bias === true) throw new R2ecError(`${file}: mlp_bias=true is not supported`);
  }
  const act = (cfg.hidden_activation ?? cfg.hidden_act ?? (gemma ? 'gelu_pytorch_tanh' : 'silu')) as string;
  if (gemma) {
    if (act !== 'gelu_pytorch_tanh' && act !== 'gelu_tanh') {
      throw new R2ecError(`${file}: hidden_activation "${act}" is not supported for Gemma2 (expected gelu_pytorch_tanh)`);
    }
    mc.activation = 'gelu_tanh';
    mc.normPlusOne = true;
    mc.sandwichNorms = true;
    mc.embedScale = Math.sqrt(d);
    const qpas = field<number>(cfg, file, 'query_pre_attn_scalar', posNum, 'a number > 0', headDim(mc));
    mc.attnScale = 1 / Math.sqrt(qpas);
    const ac = cfg.attn_logit_softcapping;
    if (ac !== undefined && ac !== null) mc.attnSoftcap = field<number>(cfg, file, 'attn_logit_softcapping', posNum, 'a number > 0');
    const fc = cfg.final_logit_softcapping;
    if (fc !== undefined && fc !== null) mc.logitSoftcap = field<number>(cfg, file, 'final_logit_softcapping', posNum, 'a number > 0');
    const sw = cfg.sliding_window;
    if (sw !== undefined && sw !== null) {
      const size = field<number>(cfg, file, 'sliding_window', posInt, 'a positive integer');
      // transformers 4.48 (spec §3's version): layer i is local when i is even
      mc.slidingWindow = { size, layers: Array.from({ length: mc.nLayers }, (_, i) => i).filter((i) => i % 2 === 0) };
    }
  } else if (act !== 'silu') {
    throw new R2ecError(`${file}: hidden_act "${act}" is not supported for ${arch} (expected silu)`);
  }
  const rs = cfg.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs) {
    const type = (rs.rope_type ?? rs.type) as string;
    if (type === 'linear') mc.ropeScaling = { type: 'linear', factor: rs.factor as number };
    else if (type === 'llama3') {
      mc.ropeScaling = {
        type: 'llama3',
        factor: rs.factor as number,
        lowFreqFactor: rs.low_freq_factor as number,
        highFreqFactor: rs.high_freq_factor as number,
        originalMaxPositions: rs.original_max_position_embeddings as number,
      };
    } else if (type !== 'default') {
      throw new R2ecError(`${file}: rope_scaling type "${type}" is not supported (supported: linear, llama3)`);
    }
  }
  try {
    validateModelConfig(mc, `${file}`);
  } catch (e) {
    throw new R2ecError(`${file}: ${(e as Error).message}`);
  }
  return { arch, config: mc };
}

/** Our name → Hugging Face name, and whether the matrix is transposed between the two layouts. */
export interface NameMapping {
  ours: string;
  hf: string;
  transpose: boolean;
}

/** Every weight of `cfg` with its Hugging Face name (LoRA adapters excluded: see lora.ts). */
export function weightMap(arch: Architecture, cfg: ModelConfig): NameMapping[] {
  const out: NameMapping[] = [{ ours: 'embed', hf: 'model.embed_tokens.weight', transpose: false }];
  const gemma = arch === 'Gemma2ForCausalLM';
  for (let l = 0; l < cfg.nLayers; l++) {
    const o = `layers.${l}.`;
    const h = `model.layers.${l}.`;
    const m = (ours: string, hf: string, transpose: boolean) => out.push({ ours: o + ours, hf: h + hf, transpose });
    m('attn_norm', 'input_layernorm.weight', false);
    m('wq', 'self_attn.q_proj.weight', true);
    m('wk', 'self_attn.k_proj.weight', true);
    m('wv', 'self_attn.v_proj.weight', true);
    m('wo', 'self_attn.o_proj.weight', true);
    if (cfg.attnBias) {
      m('bq', 'self_attn.q_proj.bias', false);
      m('bk', 'self_attn.k_proj.bias', false);
      m('bv', 'self_attn.v_proj.bias', false);
    }
    if (gemma) {
      m('post_attn_norm', 'post_attention_layernorm.weight', false);
      m('mlp_norm', 'pre_feedforward_layernorm.weight', false);
      m('post_mlp_norm', 'post_feedforward_layernorm.weight', false);
    } else {
      m('mlp_norm', 'post_attention_layernorm.weight', false);
    }
    m('w_gate', 'mlp.gate_proj.weight', true);
    m('w_up', 'mlp.up_proj.weight', true);
    m('w_down', 'mlp.down_proj.weight', true);
  }
  out.push({ ours: 'final_norm', hf: 'model.norm.weight', transpose: false });
  if (cfg.tieEmbeddings === false) out.push({ ours: 'lm_head', hf: 'lm_head.weight', transpose: false });
  return out;
}

/** Tensors a checkpoint may carry that the forward pass does not use (ignored on import). */
export function ignorableTensor(name: string, cfg: ModelConfig): boolean {
  if (/\.rotary_emb\.inv_freq$/.test(name)) return true;
  // a tied checkpoint may still store lm_head.weight (a copy of the embedding): Hugging Face ignores it
  return name === 'lm_head.weight' && cfg.tieEmbeddings !== false;
}

/** ModelConfig → config.json of the given architecture (what `transformers` and vLLM read). */
export function hfConfigFromModel(
  arch: Architecture,
  cfg: ModelConfig,
  extra: { dtype?: string; bosTokenId?: number; eosTokenId?: number | number[]; padTokenId?: number } = {},
): HFConfig {
  const gemma = arch === 'Gemma2ForCausalLM';
  if (arch === 'LlamaForCausalLM' && cfg.attnBias) throw new R2ecError('export: a model with q/k/v biases is Qwen2ForCausalLM, not LlamaForCausalLM');
  if (!gemma && (cfg.normPlusOne || cfg.sandwichNorms || cfg.activation === 'gelu_tanh')) {
    throw new R2ecError(`export: this model has Gemma-2 options and cannot be written as ${arch}`);
  }
  const out: HFConfig = {
    architectures: [arch],
    model_type: MODEL_TYPE[arch],
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.dModel,
    intermediate_size: cfg.dFF,
    num_hidden_layers: cfg.nLayers,
    num_attention_heads: cfg.nHeads,
    num_key_value_heads: cfg.nKvHeads,
    head_dim: headDim(cfg),
    max_position_embeddings: cfg.maxSeqLen,
    rms_norm_eps: cfg.normEps,
    rope_theta: cfg.ropeTheta,
    initializer_range: cfg.initStd,
    tie_word_embeddings: cfg.tieEmbeddings !== false,
    attention_dropout: 0.0,
    use_cache: true,
    torch_dtype: extra.dtype === 'BF16' ? 'bfloat16' : 'float32',
  };
  if (extra.bosTokenId !== undefined) out.bos_token_id = extra.bosTokenId;
  if (extra.eosTokenId !== undefined) out.eos_token_id = extra.eosTokenId;
  if (extra.padTokenId !== undefined) out.pad_token_id = extra.padTokenId;
  if (arch === 'LlamaForCausalLM') Object.assign(out, { hidden_act: 'silu', attention_bias: false, mlp_bias: false, pretraining_tp: 1 });
  if (arch === 'Qwen2ForCausalLM') Object.assign(out, { hidden_act: 'silu', use_sliding_window: false, sliding_window: null, max_window_layers: cfg.nLayers });
  if (gemma) {
    Object.assign(out, {
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_act: 'gelu_pytorch_tanh',
      query_pre_attn_scalar: cfg.attnScale !== undefined ? Math.round(1 / (cfg.attnScale * cfg.attnScale)) : headDim(cfg),
      attn_logit_softcapping: cfg.attnSoftcap ?? null,
      final_logit_softcapping: cfg.logitSoftcap ?? null,
      sliding_window: cfg.slidingWindow?.size ?? null,
      attention_bias: false,
    });
  }
  const rs = cfg.ropeScaling;
  if (rs?.type === 'linear') out.rope_scaling = { rope_type: 'linear', factor: rs.factor };
  if (rs?.type === 'llama3') {
    out.rope_scaling = {
      rope_type: 'llama3',
      factor: rs.factor,
      low_freq_factor: rs.lowFreqFactor,
      high_freq_factor: rs.highFreqFactor,
      original_max_position_embeddings: rs.originalMaxPositions,
    };
  }
  return out;
}

/** The architecture a config of ours exports as: Gemma-2 options → Gemma2, q/k/v biases → Qwen2, else Llama. */
export function defaultArchitecture(cfg: ModelConfig): Architecture {
  if (cfg.normPlusOne || cfg.sandwichNorms) return 'Gemma2ForCausalLM';
  return cfg.attnBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM';
}

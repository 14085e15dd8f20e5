// LoRA (spec §3: r = 4, alpha = 128, on q, k, v, o, gate, up, down; bias none; base weights frozen): adapters
// A [in, r] and B [r, out] beside each target weight W [in, out], so y = x·W + (alpha/r)·(x·A)·B (decoder.ts). A fresh
// adapter has B = 0 (PEFT's init), so it starts as the base model. Adapters are saved alone in PEFT's layout
// (adapter_config.json + adapter_model.safetensors, names `base_model.model.<module>.lora_A.weight` [r, in] and
// `.lora_B.weight` [out, r]) or merged into the weights (W + (alpha/r)·A·B) for an export vLLM can serve directly.
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../backend';
import { LORA_TARGETS, type LoraConfig, type LoraTarget, type ModelConfig } from '../config';
import { initParams, LORA_WEIGHT, paramNames, type Params } from '../decoder';
import { R2ecError } from '../../util/errors';
import { transpose2d } from './checkpoint';
import { readHeader, readTensor, writeWeights, type NamedArrays } from './safetensors';
import type { Architecture } from './architectures';

/** spec §3 */
export const PAPER_LORA: LoraConfig = { rank: 4, alpha: 128, targets: [...LORA_TARGETS] };

const MODULE_PATH: Record<LoraTarget, string> = {
  q_proj: 'self_attn.q_proj', k_proj: 'self_attn.k_proj', v_proj: 'self_attn.v_proj', o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj', up_proj: 'mlp.up_proj', down_proj: 'mlp.down_proj',
};

/** PEFT tensor name of an adapter matrix. */
export function peftName(layer: number, target: LoraTarget, which: 'A' | 'B'): string {
  return `base_model.model.model.layers.${layer}.${MODULE_PATH[target]}.lora_${which}.weight`;
}

/**
 * Add fresh adapters to a base model: returns the config with `lora` set and params = the base params (the same
 * variables, shared) plus new A (seeded N(0, 1/in)) and B (zeros) variables.
 */
export function addLora(config: ModelConfig, params: Params, lora: LoraConfig, seed: number): { config: ModelConfig; params: Params } {
  if (config.lora) throw new R2ecError('LoRA: the model already has adapters');
  const cfg: ModelConfig = { ...config, lora: { ...lora, targets: [...lora.targets] } };
  const fresh = initParams(cfg, seed, (n) => n.endsWith('.lora_a') || n.endsWith('.lora_b'));
  return { config: cfg, params: { ...params, ...fresh } };
}

/** Merged weights: W + (alpha/r)·A·B for every adapted weight; returns a config without `lora` and new params. */
export function mergeLora(config: ModelConfig, params: Params): { config: ModelConfig; params: Params } {
  if (!config.lora) throw new R2ecError('LoRA: the model has no adapters to merge');
  const scale = config.lora.alpha / config.lora.rank;
  const { lora: _lora, ...base } = config;
  void _lora;
  const out: Params = {};
  for (const name of paramNames(base)) {
    const a = params[`${name}.lora_a`];
    out[name] = tf.tidy(() =>
      tf.variable(a ? tf.add(params[name], tf.mul(tf.matMul(a, params[`${name}.lora_b`]), scale)) : params[name].clone(), true),
    );
  }
  return { config: base, params: out };
}

export interface AdapterSaveOptions {
  /** base_model_name_or_path written into adapter_config.json (the base checkpoint folder or hub name) */
  baseModel?: string;
  arch?: Architecture;
}

/** Save the adapters alone in PEFT's layout (float32). */
export function saveAdapter(dir: string, config: ModelConfig, params: Params, opts: AdapterSaveOptions = {}): string[] {
  const lora = config.lora;
  if (!lora) throw new R2ecError('LoRA: the model has no adapters to save');
  const arrays: NamedArrays = {};
  for (let l = 0; l < config.nLayers; l++) {
    for (const t of lora.targets) {
      const w = `layers.${l}.${LORA_WEIGHT[t]}`;
      const a = params[`${w}.lora_a`];
      const b = params[`${w}.lora_b`];
      if (!a || !b) throw new R2ecError(`LoRA: missing adapter of "${w}"`);
      const [inp, r] = a.shape as [number, number];
      const out = b.shape[1] as number;
      arrays[peftName(l, t, 'A')] = { shape: [r, inp], data: transpose2d(a.dataSync() as Float32Array, inp, r) };
      arrays[peftName(l, t, 'B')] = { shape: [out, r], data: transpose2d(b.dataSync() as Float32Array, r, out) };
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  const files = writeWeights(dir, arrays, 'F32', { prefix: 'adapter_model' });
  const cfg = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModel ?? null,
    r: lora.rank,
    lora_alpha: lora.alpha,
    lora_dropout: 0.05, // spec §3: set but inert (all dropout disabled)
    target_modules: [...lora.targets],
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    layers_to_transform: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
  const cfgFile = path.join(dir, 'adapter_config.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2) + '\n');
  return [...files, cfgFile];
}

/** True when the folder holds a PEFT adapter. */
export function isAdapterDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'adapter_config.json'));
}

/** Read adapter_config.json (checked: LoRA, no rsLoRA/DoRA/bias/modules_to_save/per-layer patterns). */
export function readAdapterConfig(dir: string): { lora: LoraConfig; baseModel: string | null } {
  const file = path.join(dir, 'adapter_config.json');
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new R2ecError(`${file}: missing or not valid JSON`);
  }
  const bad = (k: string, msg: string) => new R2ecError(`${file}: field "${k}" ${msg}`);
  if (j.peft_type !== 'LORA') throw bad('peft_type', `must be "LORA", got ${JSON.stringify(j.peft_type)}`);
  if (!Number.isInteger(j.r) || (j.r as number) < 1) throw bad('r', `must be a positive integer, got ${JSON.stringify(j.r)}`);
  if (!(typeof j.lora_alpha === 'number' && j.lora_alpha > 0)) throw bad('lora_alpha', `must be a number > 0, got ${JSON.stringify(j.lora_alpha)}`);
  if (j.use_rslora === true) throw bad('use_rslora', 'true is not supported (scale alpha/sqrt(r))');
  if (j.use_dora === true) throw bad('use_dora', 'true is not supported');
  if (j.bias !== undefined && j.bias !== 'none') throw bad('bias', `"${j.bias}" is not supported (spec §3: none)`);
  if (j.fan_in_fan_out === true) throw bad('fan_in_fan_out', 'true is not supported');
  if (Array.isArray(j.modules_to_save) && j.modules_to_save.length) throw bad('modules_to_save', 'is not supported');
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    if (j[k] && typeof j[k] === 'object' && Object.keys(j[k] as object).length) throw bad(k, 'per-module ranks/alphas are not supported');
  }
  let targets = j.target_modules as unknown;
  if (typeof targets === 'string') {
    throw bad('target_modules', `a regular expression (${JSON.stringify(targets)}) is not supported; list the modules`);
  }
  if (!Array.isArray(targets) || targets.length === 0) throw bad('target_modules', 'must list modules');
  targets = (targets as string[]).map((t) => t.split('.').pop());
  for (const t of targets as string[]) {
    if (!(LORA_TARGETS as readonly string[]).includes(t)) throw bad('target_modules', `module "${t}" is not supported (${LORA_TARGETS.join(', ')})`);
  }
  const order = LORA_TARGETS.filter((t) => (targets as string[]).includes(t));
  return { lora: { rank: j.r as number, alpha: j.lora_alpha as number, targets: order }, baseModel: (j.base_model_name_or_path as string) ?? null };
}

/**
 * Load a PEFT adapter folder onto base params (which are shared, not copied). Every adapter tensor must be there
 * with the right shape; unknown tensors are an error naming them.
 */
export function loadAdapter(dir: string, base: { config: ModelConfig; params: Params }): { config: ModelConfig; params: Params } {
  const { lora } = readAdapterConfig(dir);
  if (base.config.lora) throw new R2ecError(`${dir}: the base model already has adapters`);
  const config: ModelConfig = { ...base.config, lora };
  const st = path.join(dir, 'adapter_model.safetensors');
  if (!fs.existsSync(st)) {
    if (fs.existsSync(path.join(dir, 'adapter_model.bin'))) throw new R2ecError(`${dir}: adapter_model.bin (pickle) is not supported; save with safe_serialization=True`);
    throw new R2ecError(`${dir}: missing adapter_model.safetensors`);
  }
  const header = readHeader(st);
  const params: Params = { ...base.params };
  const seen = new Set<string>();
  const created: tf.Variable[] = [];
  try {
    for (let l = 0; l < config.nLayers; l++) {
      for (const t of lora.targets) {
        const w = `layers.${l}.${LORA_WEIGHT[t]}`;
        const [inp, out] = base.params[w].shape;
        for (const which of ['A', 'B'] as const) {
          // PEFT omits the adapter name in saved files; accept ".lora_A.default.weight" too
          let name = peftName(l, t, which);
          if (!header.tensors.has(name)) name = name.replace(`.lora_${which}.weight`, `.lora_${which}.default.weight`);
          if (!header.tensors.has(name)) throw new R2ecError(`${st}: missing tensor "${peftName(l, t, which)}"`);
          seen.add(name);
          const want = which === 'A' ? [lora.rank, inp] : [out, lora.rank];
          const { shape, data } = readTensor(header, name);
          if (shape.length !== 2 || shape[0] !== want[0] || shape[1] !== want[1]) {
            throw new R2ecError(`${st}: tensor "${name}" has shape [${shape}], expected [${want}] (r=${lora.rank})`);
          }
          const v = tf.tidy(() => tf.variable(tf.tensor(transpose2d(data, want[0], want[1]), [want[1], want[0]]), true));
          created.push(v);
          params[`${w}.lora_${which === 'A' ? 'a' : 'b'}`] = v;
        }
      }
    }
    for (const name of header.tensors.keys()) if (!seen.has(name)) throw new R2ecError(`${st}: tensor "${name}" is not an adapter of this model`);
  } catch (e) {
    created.forEach((v) => v.dispose());
    throw e;
  }
  return { config, params };
}

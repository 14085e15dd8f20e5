// Checkpoints: weights as safetensors + config.json + tokenizer JSON + optimizer state (safetensors) + trainer
// state JSON. Written to a temporary folder and renamed, so a kill mid-write never leaves a half checkpoint.
import fs from 'node:fs';
import path from 'node:path';
import { tf } from './backend';
import type { ModelConfig } from './config';
import { validateModelConfig } from './config';
import { paramNames, paramShapes, type Params } from './decoder';
import { R2ecError } from '../util/errors';

export type NamedArrays = Record<string, { shape: number[]; data: Float32Array }>;

/** Serialise float32 arrays in the safetensors format (8-byte LE header length, JSON header, raw data). */
export function encodeSafetensors(arrays: NamedArrays, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(arrays).sort();
  for (const name of names) {
    const { shape, data } = arrays[name];
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // align the data to 8 bytes
  const hbuf = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hbuf.length + offset);
  out.writeBigUInt64LE(BigInt(hbuf.length), 0);
  hbuf.copy(out, 8);
  let pos = 8 + hbuf.length;
  for (const name of names) {
    const { data } = arrays[name];
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, pos);
    pos += data.byteLength;
  }
  return out;
}

export function decodeSafetensors(buf: Buffer, file = 'safetensors'): { arrays: NamedArrays; metadata: Record<string, string> } {
  if (buf.length < 8) throw new R2ecError(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.length) throw new R2ecError(`${file}: corrupt safetensors header length ${n}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw new R2ecError(`${file}: safetensors header is not valid JSON`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new R2ecError(`${file}: safetensors header is not a JSON object`);
  const base = 8 + n;
  const arrays: NamedArrays = {};
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = info as unknown as Record<string, string>;
      continue;
    }
    if (!info || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
      throw new R2ecError(`${file}: tensor "${name}" has no shape or data_offsets in the header`);
    }
    if (info.dtype !== 'F32') throw new R2ecError(`${file}: tensor "${name}" has dtype ${info.dtype}; only F32 is supported`);
    const [s, e] = info.data_offsets;
    const size = info.shape.reduce((a, b) => a * b, 1);
    if (e - s !== size * 4 || base + e > buf.length) {
      throw new R2ecError(`${file}: tensor "${name}" has inconsistent offsets for shape [${info.shape}]`);
    }
    const data = new Float32Array(size);
    Buffer.from(data.buffer).set(buf.subarray(base + s, base + e));
    arrays[name] = { shape: info.shape, data };
  }
  return { arrays, metadata };
}

export function paramsToArrays(params: Record<string, tf.Variable | tf.Tensor>): NamedArrays {
  const out: NamedArrays = {};
  for (const [k, v] of Object.entries(params)) out[k] = { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) };
  return out;
}

/** Check names and shapes against the config: missing, unexpected or mismatched tensors are named in the error. */
export function checkParamArrays(arrays: NamedArrays, cfg: ModelConfig, file: string, extra: string[] = []): void {
  const shapes = paramShapes(cfg);
  const expected = paramNames(cfg);
  const missing = expected.filter((n) => !arrays[n]);
  if (missing.length) throw new R2ecError(`${file}: missing tensors ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''}`);
  const unexpected = Object.keys(arrays).filter((n) => !shapes[n] && !extra.includes(n));
  if (unexpected.length) throw new R2ecError(`${file}: unexpected tensors ${unexpected.slice(0, 5).join(', ')}`);
  for (const n of expected) {
    const got = arrays[n].shape;
    if (got.length !== shapes[n].length || got.some((x, i) => x !== shapes[n][i])) {
      throw new R2ecError(`${file}: tensor "${n}" has shape [${got}], the config expects [${shapes[n]}]`);
    }
  }
}

export interface CheckpointContents {
  config: ModelConfig;
  params: NamedArrays;
  /** tokenizer as JSON (whatever lib/text serialises) */
  tokenizer?: unknown;
  optimizer?: { step: number; m: NamedArrays; v: NamedArrays };
  /** trainer-specific state: step, rng state, curves, ... */
  state?: Record<string, unknown>;
  /** extra named arrays saved with the weights (e.g. a classification head) */
  extraParams?: string[];
}

export function saveCheckpoint(dir: string, c: CheckpointContents): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'model.safetensors'), encodeSafetensors(c.params, { format: 'r2ec' }));
  fs.writeFileSync(path.join(tmp, 'config.json'), JSON.stringify({ model: c.config, extraParams: c.extraParams ?? [] }, null, 2));
  if (c.tokenizer !== undefined) fs.writeFileSync(path.join(tmp, 'tokenizer.json'), JSON.stringify(c.tokenizer));
  if (c.optimizer) {
    const arrays: NamedArrays = {};
    for (const [k, v] of Object.entries(c.optimizer.m)) arrays[`m/${k}`] = v;
    for (const [k, v] of Object.entries(c.optimizer.v)) arrays[`v/${k}`] = v;
    fs.writeFileSync(path.join(tmp, 'optimizer.safetensors'), encodeSafetensors(arrays, { step: String(c.optimizer.step) }));
  }
  fs.writeFileSync(path.join(tmp, 'trainer_state.json'), JSON.stringify(c.state ?? {}, null, 2));
  // Move the previous checkpoint aside by a rename (not a recursive delete, which left a window of milliseconds
  // with no checkpoint at all: a kill there lost the run's progress), then rename the new one in.
  const old = `${dir}.old-${process.pid}`;
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fs.rmSync(old, { recursive: true, force: true });
}

export function hasCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'model.safetensors')) && fs.existsSync(path.join(dir, 'config.json'));
}

export function loadCheckpoint(dir: string): CheckpointContents {
  const need = (f: string) => {
    const p = path.join(dir, f);
    if (!fs.existsSync(p)) throw new R2ecError(`checkpoint ${dir}: missing ${f}`);
    return p;
  };
  const cfgFile = need('config.json');
  let cfgJson: { model: ModelConfig; extraParams?: string[] };
  try {
    cfgJson = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  } catch {
    throw new R2ecError(`${cfgFile}: not valid JSON`);
  }
  if (!cfgJson.model) throw new R2ecError(`${cfgFile}: missing field "model"`);
  validateModelConfig(cfgJson.model, `${cfgFile}: model`);
  const wFile = need('model.safetensors');
  const { arrays } = decodeSafetensors(fs.readFileSync(wFile), wFile);
  checkParamArrays(arrays, cfgJson.model, wFile, cfgJson.extraParams ?? []);
  const out: CheckpointContents = { config: cfgJson.model, params: arrays, extraParams: cfgJson.extraParams ?? [] };
  const readJson = (f: string): unknown => {
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
      throw new R2ecError(`${f}: not valid JSON`);
    }
  };
  const tokFile = path.join(dir, 'tokenizer.json');
  if (fs.existsSync(tokFile)) out.tokenizer = readJson(tokFile);
  const optFile = path.join(dir, 'optimizer.safetensors');
  if (fs.existsSync(optFile)) {
    const { arrays: o, metadata } = decodeSafetensors(fs.readFileSync(optFile), optFile);
    const m: NamedArrays = {};
    const v: NamedArrays = {};
    for (const [k, a] of Object.entries(o)) (k.startsWith('m/') ? m : v)[k.slice(2)] = a;
    out.optimizer = { step: Number(metadata.step ?? 0), m, v };
  }
  const stFile = path.join(dir, 'trainer_state.json');
  if (fs.existsSync(stFile)) out.state = readJson(stFile) as Record<string, unknown>;
  return out;
}

/** Copy arrays into existing variables (shapes already checked). */
export function assignParams(params: Params, arrays: NamedArrays): void {
  for (const [k, v] of Object.entries(params)) {
    const a = arrays[k];
    if (!a) throw new R2ecError(`checkpoint has no tensor "${k}"`);
    tf.tidy(() => v.assign(tf.tensor(a.data, a.shape)));
  }
}

export function paramsFromArrays(arrays: NamedArrays, names: string[]): Params {
  const out: Params = {};
  for (const n of names) out[n] = tf.tidy(() => tf.variable(tf.tensor(arrays[n].data, arrays[n].shape), true));
  return out;
}

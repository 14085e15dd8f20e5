// Hugging Face safetensors files, read lazily (a header, then one tensor at a time from the file, so a multi-GB
// checkpoint never sits in one Buffer) and written in F32 or BF16. Format: 8-byte little-endian header length N, N
// bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the raw data
// (offsets relative to the end of the header). Sharded checkpoints list their shards in
// `model.safetensors.index.json` {"weight_map": {tensor name: shard file}}.
import fs from 'node:fs';
import path from 'node:path';
import { R2ecError } from '../../util/errors';

/** Stored dtypes we read (every one is widened to float32) and the bytes per element. */
export const READ_DTYPES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
/** Dtypes we write. */
export type WriteDtype = 'F32' | 'BF16';

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** byte offsets inside the data section */
  begin: number;
  end: number;
  /** the file holding it */
  file: string;
}

export interface SafetensorsHeader {
  file: string;
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  /** absolute file offset of the data section */
  dataStart: number;
  fileSize: number;
}

/** Read and check the header of one safetensors file (every failure names the file, and the tensor where one is at fault). */
export function readHeader(file: string): SafetensorsHeader {
  if (!fs.existsSync(file)) throw new R2ecError(`${file}: file not found`);
  const fileSize = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  try {
    if (fileSize < 8) throw new R2ecError(`${file}: truncated safetensors file (${fileSize} bytes, no header length)`);
    const lenBuf = Buffer.alloc(8);
    fs.readSync(fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 0 || 8 + n > fileSize) {
      throw new R2ecError(`${file}: truncated safetensors header (says ${n} bytes, the file has ${fileSize - 8} after the length)`);
    }
    const hbuf = Buffer.alloc(n);
    fs.readSync(fd, hbuf, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch {
      throw new R2ecError(`${file}: safetensors header is not valid JSON (truncated or corrupt)`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new R2ecError(`${file}: safetensors header is not a JSON object`);
    const dataStart = 8 + n;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (!info || typeof info.dtype !== 'string' || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) {
        throw new R2ecError(`${file}: tensor "${name}" has no dtype, shape or data_offsets in the header`);
      }
      const shape = info.shape as number[];
      const [begin, end] = info.data_offsets as number[];
      if (shape.some((x) => !Number.isInteger(x) || x < 0) || !Number.isInteger(begin) || !Number.isInteger(end) || end < begin) {
        throw new R2ecError(`${file}: tensor "${name}" has an invalid shape [${shape}] or data_offsets [${begin}, ${end}]`);
      }
      const width = READ_DTYPES[info.dtype];
      if (width !== undefined && end - begin !== shape.reduce((a, b) => a * b, 1) * width) {
        throw new R2ecError(`${file}: tensor "${name}" (${info.dtype} [${shape}]) has ${end - begin} bytes of data, expected ${shape.reduce((a, b) => a * b, 1) * width}`);
      }
      if (dataStart + end > fileSize) {
        throw new R2ecError(`${file}: truncated: tensor "${name}" ends at byte ${dataStart + end} but the file has ${fileSize}`);
      }
      tensors.set(name, { name, dtype: info.dtype, shape, begin, end, file });
    }
    return { file, tensors, metadata, dataStart, fileSize };
  } finally {
    fs.closeSync(fd);
  }
}

/** bfloat16 bits → float32: the upper half of the float32 bit pattern. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i] << 16;
  return new Float32Array(out.buffer);
}

/** float32 → bfloat16 bits, rounded to nearest even (as torch's .to(torch.bfloat16)); NaN stays NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i];
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) out[i] = (u >>> 16) | 0x40; // quiet NaN
    else out[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** IEEE half bits → float32 (normals, subnormals, inf, NaN). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Read one tensor as float32 (any of READ_DTYPES). */
export function readTensor(header: SafetensorsHeader, name: string): { shape: number[]; data: Float32Array; dtype: string } {
  const info = header.tensors.get(name);
  if (!info) throw new R2ecError(`${header.file}: no tensor "${name}"`);
  if (READ_DTYPES[info.dtype] === undefined) {
    throw new R2ecError(`${header.file}: tensor "${name}" has dtype ${info.dtype}; supported: ${Object.keys(READ_DTYPES).join(', ')}`);
  }
  const bytes = info.end - info.begin;
  const buf = Buffer.alloc(bytes);
  const fd = fs.openSync(header.file, 'r');
  try {
    let got = 0;
    while (got < bytes) {
      const n = fs.readSync(fd, buf, got, bytes - got, header.dataStart + info.begin + got);
      if (n <= 0) throw new R2ecError(`${header.file}: truncated while reading tensor "${name}"`);
      got += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  // copy into an aligned array (the Buffer may not be 4-byte aligned)
  let data: Float32Array;
  if (info.dtype === 'F32') {
    data = new Float32Array(bytes / 4);
    new Uint8Array(data.buffer).set(buf);
  } else {
    const half = new Uint16Array(bytes / 2);
    new Uint8Array(half.buffer).set(buf);
    data = info.dtype === 'BF16' ? bf16ToF32(half) : f16ToF32(half);
  }
  return { shape: info.shape.slice(), data, dtype: info.dtype };
}

export interface WeightIndex {
  /** tensor name → where it is */
  tensors: Map<string, TensorInfo>;
  headers: SafetensorsHeader[];
  /** the file(s) read, for messages */
  files: string[];
}

/**
 * All tensors of a checkpoint folder: `model.safetensors`, or the shards named by `model.safetensors.index.json`.
 * A shard the index names that is missing, or a tensor the index places in a shard that lacks it, is an error.
 */
export function openWeights(dir: string): WeightIndex {
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  const single = path.join(dir, 'model.safetensors');
  if (fs.existsSync(indexFile)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
    } catch {
      throw new R2ecError(`${indexFile}: not valid JSON`);
    }
    const map = index.weight_map;
    if (!map || typeof map !== 'object') throw new R2ecError(`${indexFile}: missing "weight_map"`);
    const shards = [...new Set(Object.values(map))].sort();
    const headers: SafetensorsHeader[] = [];
    for (const shard of shards) {
      const f = path.join(dir, shard);
      if (!fs.existsSync(f)) {
        const first = Object.keys(map).find((k) => map[k] === shard);
        throw new R2ecError(`${indexFile}: shard ${shard} is missing (it holds "${first}" and more)`);
      }
      headers.push(readHeader(f));
    }
    const tensors = new Map<string, TensorInfo>();
    for (const [name, shard] of Object.entries(map)) {
      const h = headers[shards.indexOf(shard)];
      const info = h.tensors.get(name);
      if (!info) throw new R2ecError(`${h.file}: tensor "${name}" is listed in ${path.basename(indexFile)} but not in this shard`);
      tensors.set(name, info);
    }
    return { tensors, headers, files: headers.map((h) => h.file) };
  }
  if (!fs.existsSync(single)) {
    throw new R2ecError(`${dir}: no model.safetensors or model.safetensors.index.json (a Hugging Face checkpoint folder has one of them)`);
  }
  const h = readHeader(single);
  return { tensors: new Map(h.tensors), headers: [h], files: [single] };
}

export function readWeight(index: WeightIndex, name: string): { shape: number[]; data: Float32Array; dtype: string } {
  const info = index.tensors.get(name);
  if (!info) throw new R2ecError(`${index.files.join(', ')}: no tensor "${name}"`);
  return readTensor(index.headers.find((h) => h.file === info.file)!, name);
}

export type NamedArrays = Record<string, { shape: number[]; data: Float32Array }>;

/** Encode arrays as one safetensors buffer in F32 or BF16 (names sorted, data 8-byte aligned after the header). */
export function encodeSafetensorsAs(arrays: NamedArrays, dtype: WriteDtype, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const names = Object.keys(arrays).sort();
  const width = dtype === 'F32' ? 4 : 2;
  let offset = 0;
  for (const name of names) {
    const { shape, data } = arrays[name];
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new R2ecError(`safetensors: tensor "${name}" has ${data.length} values for shape [${shape}]`);
    header[name] = { dtype, shape, data_offsets: [offset, offset + size * width] };
    offset += size * width;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hbuf = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + hbuf.length + offset);
  out.writeBigUInt64LE(BigInt(hbuf.length), 0);
  hbuf.copy(out, 8);
  let pos = 8 + hbuf.length;
  for (const name of names) {
    const { data } = arrays[name];
    const bytes = dtype === 'F32' ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(f32ToBf16(data).buffer);
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

/**
 * Write arrays as `model.safetensors`, or as `model-0000k-of-0000n.safetensors` shards + the index JSON when their
 * size exceeds maxShardBytes (Hugging Face's layout). Returns the files written.
 */
export function writeWeights(
  dir: string,
  arrays: NamedArrays,
  dtype: WriteDtype,
  opts: { maxShardBytes?: number; prefix?: string; metadata?: Record<string, string> } = {},
): string[] {
  const prefix = opts.prefix ?? 'model';
  const metadata = { format: 'pt', ...(opts.metadata ?? {}) };
  const width = dtype === 'F32' ? 4 : 2;
  const names = Object.keys(arrays).sort();
  const total = names.reduce((s, n) => s + arrays[n].data.length * width, 0);
  const max = opts.maxShardBytes ?? Infinity;
  fs.mkdirSync(dir, { recursive: true });
  if (total <= max) {
    const f = path.join(dir, `${prefix}.safetensors`);
    fs.writeFileSync(f, encodeSafetensorsAs(arrays, dtype, metadata));
    return [f];
  }
  const shards: string[][] = [[]];
  let size = 0;
  for (const n of names) {
    const b = arrays[n].data.length * width;
    if (size > 0 && size + b > max) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(n);
    size += b;
  }
  const pad = (k: number) => String(k).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  const files: string[] = [];
  shards.forEach((group, k) => {
    const name = `${prefix}-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`;
    const part: NamedArrays = {};
    for (const n of group) {
      part[n] = arrays[n];
      weightMap[n] = name;
    }
    const f = path.join(dir, name);
    fs.writeFileSync(f, encodeSafetensorsAs(part, dtype, metadata));
    files.push(f);
  });
  const indexFile = path.join(dir, `${prefix}.safetensors.index.json`);
  fs.writeFileSync(indexFile, JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  return [...files, indexFile];
}

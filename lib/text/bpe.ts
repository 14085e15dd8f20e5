// Byte-level BPE tokenizer, trained deterministically on the workbench's own prompts (no pretrained LLM can be
// downloaded here, so the small decoder LM comes with its own vocabulary; spec §12 "any chat decoder LM works").
//
// Vocabulary layout (fixed):
//   ids 0..12          special tokens, in SPECIAL_TOKENS order (`<pad>`=0, `<bos>`=1, `<eos>`=2, ...)
//   ids 13..268        the 256 bytes (so ANY UTF-8 text round-trips; there is no unknown token)
//   ids 269..          merges, in the order they were learnt
//
// Pre-tokenisation (GPT-2/Llama-3-like): contractions, letter runs with an optional leading space, digit groups of
// at most 3, punctuation runs with an optional leading space, whitespace. Merges never cross these boundaries, and
// special-token strings are cut out before pre-tokenisation, so they are never split or merged.
//
// Strings: JS strings are UTF-16; encode() converts with TextEncoder semantics, so a lone surrogate (not valid
// Unicode, hence not valid UTF-8) becomes U+FFFD. decode(encode(s)) === s for every well-formed string.
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, R2ecError } from '../util/errors';
import { HF_TOKENIZER_FORMAT, hfTokenizerFromRef, type HFTokenizerRef } from './hf-tokenizer';

/** Special tokens at fixed ids 0..12. `<|emb|>` (= reserved slot 0) is the appended read-out token of the pooling study. */
export const SPECIAL_TOKENS = [
  '<pad>',
  '<bos>',
  '<eos>',
  '<|system|>',
  '<|user|>',
  '<|assistant|>',
  '<|end|>',
  '<answer>',
  '</answer>',
  '<|emb|>',
  '<|reserved_1|>',
  '<|reserved_2|>',
  '<|reserved_3|>',
] as const;

export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** Ids of the special tokens (the same for every tokenizer). */
export const SPECIAL = {
  pad: 0,
  bos: 1,
  eos: 2,
  system: 3,
  user: 4,
  assistant: 5,
  /** end of turn */
  end: 6,
  /** `<answer>`: closes the reasoning; the user/item vector is read here (spec §2) */
  answer: 7,
  /** `</answer>` */
  answerEnd: 8,
  /** `<|emb|>`: appended read-out token (pooling study) */
  emb: 9,
  reserved1: 10,
  reserved2: 11,
  reserved3: 12,
} as const;

export type SpecialIds = typeof SPECIAL;

export const NUM_SPECIAL = SPECIAL_TOKENS.length;
/** id of byte 0; byte b has id BYTE_OFFSET + b */
export const BYTE_OFFSET = NUM_SPECIAL;
/** smallest legal vocabulary: specials + 256 bytes, no merges */
export const MIN_VOCAB_SIZE = NUM_SPECIAL + 256;
/** pair keys are a·2^16 + b, so ids must stay below 2^16 */
export const MAX_VOCAB_SIZE = 65536;

/** Pre-tokeniser. Every character is matched by one branch (letters+marks, digits, other, whitespace). */
export const PRETOKENIZE_PATTERN =
  "'(?:s|t|re|ve|m|ll|d)| ?[\\p{L}\\p{M}]+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{M}\\p{N}]+|\\s+(?!\\S)|\\s+";

export const TOKENIZER_FORMAT = 'r2ec-byte-bpe';
export const TOKENIZER_VERSION = 1;

export interface EncodeOptions {
  /**
   * Which special-token strings in the text become special ids: true (default) = all, false = none (the text is
   * encoded as plain bytes), or a list of the allowed ones (e.g. ['<answer>', '</answer>']).
   */
  allowSpecial?: boolean | readonly string[];
}

export interface DecodeOptions {
  /** drop special tokens from the output (default false: they are written as their strings) */
  skipSpecial?: boolean;
}

export interface TokenizerJSON {
  format: string;
  version: number;
  pattern: string;
  specialTokens: string[];
  /** merge i creates id MIN_VOCAB_SIZE + i from the pair of ids merges[i] */
  merges: [number, number][];
  /** how it was trained (informational) */
  config?: { vocabSize: number; minFrequency: number; texts: number; chars: number };
}

export interface Tokenizer {
  /** actual vocabulary size (≤ the requested one when merges ran out above minFrequency) */
  readonly vocabSize: number;
  /** readable token strings: specials as written, bytes in GPT-2's byte-to-unicode alphabet (space = "Ġ") */
  readonly idToToken: readonly string[];
  readonly special: SpecialIds;
  readonly merges: readonly (readonly [number, number])[];
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  /** raw UTF-8 bytes of one token (specials: their string) */
  tokenBytes(id: number): Uint8Array;
  toJSON(): TokenizerJSON;
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

const utf8 = new TextEncoder();

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const SPECIAL_INDEX = new Map<string, number>(SPECIAL_TOKENS.map((s, i) => [s, i]));
const ALL_SPECIAL_RE = new RegExp(SPECIAL_TOKENS.map(escapeRegExp).join('|'), 'g');

/** Split text into [plain, special, plain, special, ..., plain] around the allowed special strings. */
function splitSpecial(text: string, re: RegExp | null): { parts: string[]; specials: number[] } {
  if (!re) return { parts: [text], specials: [] };
  const parts: string[] = [];
  const specials: number[] = [];
  re.lastIndex = 0;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    parts.push(text.slice(last, m.index));
    specials.push(SPECIAL_INDEX.get(m[0])!);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { parts, specials };
}

/** GPT-2's reversible byte → printable-unicode map, used only for readable token strings. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}
const BYTE_CHARS = bytesToUnicode();

function pairKey(a: number, b: number): number {
  return a * 65536 + b;
}

// ---------------------------------------------------------------------------------------------------------------
// Training

export interface TrainOptions {
  /** target vocabulary size including the 13 specials and 256 bytes */
  vocabSize: number;
  /** stop when the most frequent pair occurs fewer times than this (default 2) */
  minFrequency?: number;
}

/** Max-heap of (count, key): larger count first, then smaller key (lexicographic on the pair ids: the tie rule). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] {
    const top: [number, number] = [this.counts[0], this.keys[0]];
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/**
 * Train a byte-level BPE. Deterministic: the same texts (in any order) give the same merges — the most frequent pair
 * wins, ties go to the smaller (left id, right id). Word-frequency tables plus incremental pair-count updates keep
 * it fast (the corpus is never re-counted).
 */
export function trainTokenizer(texts: Iterable<string>, opts: TrainOptions): Tokenizer {
  const { vocabSize } = opts;
  const minFrequency = opts.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_VOCAB_SIZE || vocabSize > MAX_VOCAB_SIZE) {
    throw new ConfigError(
      'vocabSize',
      `must be an integer in [${MIN_VOCAB_SIZE}, ${MAX_VOCAB_SIZE}] (${NUM_SPECIAL} special tokens + 256 bytes + merges), got ${vocabSize}`,
    );
  }
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new ConfigError('minFrequency', `must be an integer ≥ 1, got ${minFrequency}`);
  }

  // 1. word-frequency table over pre-tokens (special-token strings cut out first)
  const pre = new RegExp(PRETOKENIZE_PATTERN, 'gu');
  const wordCounts = new Map<string, number>();
  let nTexts = 0;
  let nChars = 0;
  for (const text of texts) {
    nTexts++;
    nChars += text.length;
    for (const part of splitSpecial(text, ALL_SPECIAL_RE).parts) {
      pre.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = pre.exec(part)) !== null) {
        const w = m[0];
        wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      }
    }
  }

  // 2. symbol sequences, pair counts, and the words each pair occurs in
  const words: number[][] = [];
  const freq: number[] = [];
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  for (const [w, c] of wordCounts) {
    const bytes = utf8.encode(w);
    if (bytes.length < 2) continue; // a single byte has no pair to merge
    const sym = Array.from(bytes, (b) => BYTE_OFFSET + b);
    const wi = words.length;
    words.push(sym);
    freq.push(c);
    for (let i = 0; i + 1 < sym.length; i++) {
      const k = pairKey(sym[i], sym[i + 1]);
      pairCounts.set(k, (pairCounts.get(k) ?? 0) + c);
      const list = pairWords.get(k);
      if (list === undefined) pairWords.set(k, [wi]);
      else if (list[list.length - 1] !== wi) list.push(wi);
    }
  }
  const heap = new PairHeap();
  for (const [k, c] of pairCounts) heap.push(c, k);

  // 3. merge loop
  const merges: [number, number][] = [];
  const seen = new Int32Array(words.length).fill(-1);
  let nextId = MIN_VOCAB_SIZE;
  while (nextId < vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    if (pairCounts.get(key) !== count) continue; // stale entry
    if (count < minFrequency) break;
    const a = Math.floor(key / 65536);
    const b = key % 65536;
    const c = nextId++;
    merges.push([a, b]);
    const affected = pairWords.get(key) ?? [];
    pairWords.delete(key);
    pairCounts.delete(key);
    const delta = new Map<number, number>();
    const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const wi of affected) {
      if (seen[wi] === c) continue;
      seen[wi] = c;
      const sym = words[wi];
      let has = false;
      for (let i = 0; i + 1 < sym.length; i++) {
        if (sym[i] === a && sym[i + 1] === b) {
          has = true;
          break;
        }
      }
      if (!has) continue; // the list is lazy: this word lost the pair to an earlier merge
      const f = freq[wi];
      for (let i = 0; i + 1 < sym.length; i++) bump(pairKey(sym[i], sym[i + 1]), -f);
      const out: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(sym[i]);
      }
      words[wi] = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const k = pairKey(out[i], out[i + 1]);
        bump(k, f);
        if (out[i] === c || out[i + 1] === c) {
          const list = pairWords.get(k);
          if (list === undefined) pairWords.set(k, [wi]);
          else if (list[list.length - 1] !== wi) list.push(wi);
        }
      }
    }
    for (const [k, d] of delta) {
      if (k === key || d === 0) continue;
      const n = (pairCounts.get(k) ?? 0) + d;
      if (n > 0) {
        pairCounts.set(k, n);
        heap.push(n, k);
      } else pairCounts.delete(k);
    }
  }

  return buildTokenizer(merges, { vocabSize, minFrequency, texts: nTexts, chars: nChars });
}

// ---------------------------------------------------------------------------------------------------------------
// The tokenizer object

function buildTokenizer(merges: [number, number][], config?: TokenizerJSON['config']): Tokenizer {
  const size = MIN_VOCAB_SIZE + merges.length;
  const bytesOf: Uint8Array[] = new Array(size);
  const idToToken: string[] = new Array(size);
  SPECIAL_TOKENS.forEach((s, i) => {
    bytesOf[i] = utf8.encode(s);
    idToToken[i] = s;
  });
  for (let b = 0; b < 256; b++) {
    bytesOf[BYTE_OFFSET + b] = Uint8Array.of(b);
    idToToken[BYTE_OFFSET + b] = BYTE_CHARS[b];
  }
  const rank = new Map<number, number>();
  merges.forEach(([a, b], i) => {
    const id = MIN_VOCAB_SIZE + i;
    const x = bytesOf[a];
    const y = bytesOf[b];
    const z = new Uint8Array(x.length + y.length);
    z.set(x);
    z.set(y, x.length);
    bytesOf[id] = z;
    idToToken[id] = idToToken[a] + idToToken[b];
    rank.set(pairKey(a, b), i);
  });

  // BPE on one pre-token: repeatedly merge the adjacent pair of lowest rank (equivalent to replaying the merges).
  const bpeWord = (word: string): number[] => {
    const bytes = utf8.encode(word);
    let sym = Array.from(bytes, (b) => BYTE_OFFSET + b);
    while (sym.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = rank.get(pairKey(sym[i], sym[i + 1]));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = merges[bestRank];
      const c = MIN_VOCAB_SIZE + bestRank;
      const out: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(sym[i]);
      }
      sym = out;
    }
    return sym;
  };

  const cache = new Map<string, number[]>();
  const CACHE_MAX = 500_000;
  const pre = new RegExp(PRETOKENIZE_PATTERN, 'gu');
  const encodePlain = (text: string, out: number[]) => {
    pre.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = pre.exec(text)) !== null) {
      const w = m[0];
      let ids = cache.get(w);
      if (ids === undefined) {
        ids = bpeWord(w);
        if (cache.size >= CACHE_MAX) cache.clear();
        cache.set(w, ids);
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  };

  const specialRes = new Map<string, RegExp | null>();
  const specialRe = (allow: readonly string[]): RegExp | null => {
    const key = allow.join('\u0000');
    let re = specialRes.get(key);
    if (re === undefined) {
      for (const s of allow) {
        if (!SPECIAL_INDEX.has(s)) throw new R2ecError(`encode: allowSpecial lists "${s}", which is not a special token`);
      }
      // longest first, so no allowed token can shadow a longer one
      const sorted = [...allow].sort((x, y) => y.length - x.length);
      re = sorted.length ? new RegExp(sorted.map(escapeRegExp).join('|'), 'g') : null;
      specialRes.set(key, re);
    }
    return re;
  };

  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  const tok: Tokenizer = {
    vocabSize: size,
    idToToken,
    special: SPECIAL,
    merges,
    encode(text: string, opts?: EncodeOptions): number[] {
      const allow = opts?.allowSpecial ?? true;
      const re = allow === true ? ALL_SPECIAL_RE : allow === false ? null : specialRe(allow);
      const out: number[] = [];
      const { parts, specials } = splitSpecial(text, re);
      for (let i = 0; i < parts.length; i++) {
        if (parts[i].length) encodePlain(parts[i], out);
        if (i < specials.length) out.push(specials[i]);
      }
      return out;
    },
    decode(ids: readonly number[], opts?: DecodeOptions): string {
      const skip = opts?.skipSpecial ?? false;
      let n = 0;
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= size) {
          throw new R2ecError(`decode: token id ${id} is outside the vocabulary [0, ${size})`);
        }
        if (!(skip && id < NUM_SPECIAL)) n += bytesOf[id].length;
      }
      const buf = new Uint8Array(n);
      let o = 0;
      for (const id of ids) {
        if (skip && id < NUM_SPECIAL) continue;
        buf.set(bytesOf[id], o);
        o += bytesOf[id].length;
      }
      // invalid or cut UTF-8 (ids that split a multi-byte character) decodes to U+FFFD, never throws
      return decoder.decode(buf);
    },
    tokenBytes(id: number): Uint8Array {
      if (!Number.isInteger(id) || id < 0 || id >= size) {
        throw new R2ecError(`tokenBytes: token id ${id} is outside the vocabulary [0, ${size})`);
      }
      return bytesOf[id].slice();
    },
    toJSON(): TokenizerJSON {
      return {
        format: TOKENIZER_FORMAT,
        version: TOKENIZER_VERSION,
        pattern: PRETOKENIZE_PATTERN,
        specialTokens: [...SPECIAL_TOKENS],
        merges: merges.map(([a, b]) => [a, b]),
        ...(config ? { config } : {}),
      };
    },
  };
  return tok;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialisation

/** Rebuild a tokenizer from toJSON() output; a missing or malformed field → R2ecError naming it. */
export function tokenizerFromJSON(json: unknown, source = 'tokenizer JSON'): Tokenizer {
  const bad = (field: string, problem: string) => new R2ecError(`${source}: field "${field}" ${problem}`);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new R2ecError(`${source}: not a JSON object`);
  const o = json as Record<string, unknown>;
  // an imported Hugging Face backbone stores a reference to its tokenizer folder instead (lib/text/hf-tokenizer.ts)
  if (o.format === HF_TOKENIZER_FORMAT) return hfTokenizerFromRef(o as unknown as HFTokenizerRef, source);
  if (o.format === undefined) throw bad('format', 'is missing');
  if (o.format !== TOKENIZER_FORMAT) throw bad('format', `must be "${TOKENIZER_FORMAT}", got ${JSON.stringify(o.format)}`);
  if (o.version === undefined) throw bad('version', 'is missing');
  if (o.version !== TOKENIZER_VERSION) throw bad('version', `must be ${TOKENIZER_VERSION}, got ${JSON.stringify(o.version)}`);
  if (o.pattern === undefined) throw bad('pattern', 'is missing');
  if (o.pattern !== PRETOKENIZE_PATTERN) {
    throw bad('pattern', 'differs from this version\'s pre-tokeniser (the tokenizer was made by other code)');
  }
  if (o.specialTokens === undefined) throw bad('specialTokens', 'is missing');
  if (
    !Array.isArray(o.specialTokens) ||
    o.specialTokens.length !== NUM_SPECIAL ||
    o.specialTokens.some((s, i) => s !== SPECIAL_TOKENS[i])
  ) {
    throw bad('specialTokens', `must be exactly ${JSON.stringify(SPECIAL_TOKENS)}`);
  }
  if (o.merges === undefined) throw bad('merges', 'is missing');
  if (!Array.isArray(o.merges)) throw bad('merges', 'must be an array of [id, id] pairs');
  const merges: [number, number][] = [];
  o.merges.forEach((m, i) => {
    const limit = MIN_VOCAB_SIZE + i; // a merge may only use ids that exist before it
    if (
      !Array.isArray(m) ||
      m.length !== 2 ||
      !m.every((x) => Number.isInteger(x) && x >= NUM_SPECIAL && x < limit)
    ) {
      throw bad(`merges[${i}]`, `must be a pair of ids in [${NUM_SPECIAL}, ${limit}), got ${JSON.stringify(m)}`);
    }
    merges.push([m[0], m[1]]);
  });
  if (MIN_VOCAB_SIZE + merges.length > MAX_VOCAB_SIZE) throw bad('merges', `has more than ${MAX_VOCAB_SIZE - MIN_VOCAB_SIZE} entries`);
  const config = o.config as TokenizerJSON['config'] | undefined;
  return buildTokenizer(merges, config);
}

export function saveTokenizer(tok: Tokenizer, path: string): void {
  writeFileSync(path, JSON.stringify(tok.toJSON()) + '\n');
}

export function loadTokenizer(path: string): Tokenizer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new R2ecError(`${path}: cannot read tokenizer (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new R2ecError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return tokenizerFromJSON(json, path);
}

// The tokenizer and chat template of a Hugging Face checkpoint (spec §2 "Chat templating"): tokenizer.json +
// tokenizer_config.json through @huggingface/tokenizers (the Hugging Face JavaScript port of `tokenizers`), and the
// checkpoint's own chat template rendered by @huggingface/jinja (the Jinja engine made for chat templates), the way
// transformers' apply_chat_template does:
//   - generation input: [user] + add_generation_prompt;
//   - scoring input: [user, assistant] with continue_final_message: the render is cut right after the assistant
//     content (its last occurrence; stripped if the template trims), so nothing follows it;
//   - the string is tokenized with add_special_tokens=false (the template already writes <bos>).
// The spec §2 prompts go through unchanged. The project's own BPE (bpe.ts, chat.ts) stays for the small models.
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as HFTokenizerImpl } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { R2ecError } from '../util/errors';
import type { SpecialIds, Tokenizer, TokenizerJSON } from './bpe';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface HFTokenizer {
  readonly kind: 'hf';
  /** folder it was read from */
  readonly dir: string;
  /** ids in use (model vocabulary + added tokens); the model's embedding may have more rows */
  readonly vocabSize: number;
  /** special token strings and ids from tokenizer_config.json (undefined when the checkpoint has none) */
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly padToken?: string;
  readonly bosId?: number;
  readonly eosId?: number;
  /** pad id: the pad token, else the eos token (a right-padded batch never reads it) */
  readonly padId: number;
  /** ids that end a generation: eos + the template's end-of-turn token when it has one */
  readonly stopIds: number[];
  readonly hasChatTemplate: boolean;
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** apply_chat_template(messages, tokenize=False, ...) */
  renderChat(messages: ChatMessage[], opts?: { addGenerationPrompt?: boolean; continueFinalMessage?: boolean }): string;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new R2ecError(`${file}: ${fs.existsSync(file) ? 'not valid JSON' : 'file not found'}${fs.existsSync(file) ? ` (${(e as Error).message})` : ''}`);
  }
}

/** A special token in tokenizer_config.json is a string or an AddedToken object {content: ...}. */
function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/** The chat template: chat_template.jinja beside the config (newer checkpoints), else tokenizer_config.chat_template. */
function findChatTemplate(dir: string, tc: Record<string, unknown>, file: string): string | undefined {
  const jinja = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, 'utf8');
  const t = tc.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const def = t.find((x) => x && (x as { name?: string }).name === 'default') as { template?: string } | undefined;
    if (def && typeof def.template === 'string') return def.template;
  }
  throw new R2ecError(`${file}: field "chat_template" is neither a string nor a list with a "default" template`);
}

/** Load tokenizer.json + tokenizer_config.json (+ chat_template.jinja) from a checkpoint folder. Nothing is downloaded. */
export function loadHFTokenizer(dir: string): HFTokenizer {
  const tjFile = path.join(dir, 'tokenizer.json');
  const tcFile = path.join(dir, 'tokenizer_config.json');
  if (!fs.existsSync(tjFile)) {
    throw new R2ecError(`${dir}: no tokenizer.json (only the fast-tokenizer file is supported; tokenizer.model / vocab.json alone are not)`);
  }
  const tj = readJson(tjFile);
  const tc = fs.existsSync(tcFile) ? readJson(tcFile) : {};
  let impl: HFTokenizerImpl;
  try {
    impl = new HFTokenizerImpl(tj, tc);
  } catch (e) {
    throw new R2ecError(`${tjFile}: cannot build the tokenizer (${(e as Error).message})`);
  }
  const templateText = findChatTemplate(dir, tc, tcFile);
  let template: Template | undefined;
  if (templateText !== undefined) {
    try {
      template = new Template(templateText);
    } catch (e) {
      throw new R2ecError(`${tcFile}: chat_template does not parse (${(e as Error).message})`);
    }
  }
  const special: Record<string, string> = {};
  for (const k of ['bos_token', 'eos_token', 'unk_token', 'pad_token', 'sep_token', 'cls_token', 'mask_token']) {
    const s = tokenString(tc[k]);
    if (s !== undefined) special[k] = s;
  }
  const idOf = (s: string | undefined) => (s === undefined ? undefined : impl.token_to_id(s));
  let maxId = 0;
  const vocab = (tj.model as { vocab?: Record<string, number> | [string, number][] } | undefined)?.vocab;
  if (vocab && !Array.isArray(vocab)) for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
  else if (Array.isArray(vocab)) maxId = vocab.length - 1;
  for (const t of (tj.added_tokens as { id: number }[] | undefined) ?? []) maxId = Math.max(maxId, t.id);
  const bosId = idOf(special.bos_token);
  const eosId = idOf(special.eos_token);
  const padId = idOf(special.pad_token) ?? eosId ?? 0;
  const stopIds = new Set<number>();
  if (eosId !== undefined) stopIds.add(eosId);
  // end-of-turn tokens of the common templates (Gemma <end_of_turn>, Qwen <|im_end|>, Llama 3 <|eot_id|>)
  for (const s of ['<end_of_turn>', '<|im_end|>', '<|eot_id|>', '<|end|>']) {
    const id = impl.token_to_id(s);
    if (id !== undefined && templateText?.includes(s)) stopIds.add(id);
  }
  const tok: HFTokenizer = {
    kind: 'hf',
    dir,
    vocabSize: maxId + 1,
    bosToken: special.bos_token,
    eosToken: special.eos_token,
    padToken: special.pad_token,
    bosId,
    eosId,
    padId,
    stopIds: [...stopIds],
    hasChatTemplate: template !== undefined,
    encode: (text, opts = {}) => impl.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids,
    decode: (ids, opts = {}) => (ids.length === 0 ? '' : impl.decode([...ids], { skip_special_tokens: opts.skipSpecial ?? false })),
    tokenToId: (s) => impl.token_to_id(s),
    idToToken: (id) => impl.id_to_token(id),
    renderChat(messages, opts = {}) {
      if (!template) throw new R2ecError(`${tcFile}: the checkpoint has no chat_template`);
      const cont = opts.continueFinalMessage === true;
      if (cont && opts.addGenerationPrompt) throw new R2ecError('renderChat: continueFinalMessage and addGenerationPrompt exclude each other');
      if (cont && messages[messages.length - 1]?.role !== 'assistant') {
        throw new R2ecError('renderChat: continueFinalMessage needs an assistant message last');
      }
      let rendered: string;
      try {
        rendered = template.render({
          messages,
          add_generation_prompt: opts.addGenerationPrompt === true,
          ...special,
          additional_special_tokens: tc.additional_special_tokens ?? [],
        }); // @huggingface/jinja provides raise_exception itself
      } catch (e) {
        throw new R2ecError(`${tcFile}: chat_template failed: ${(e as Error).message}`);
      }
      if (cont) {
        // transformers' apply_chat_template(continue_final_message=True): cut after the last occurrence of the
        // final content; templates that trim (Gemma, Llama 3) are matched with the stripped content
        let final = messages[messages.length - 1].content;
        let at = rendered.lastIndexOf(final);
        if (at < 0 || final.length === 0) {
          final = final.trim();
          at = rendered.lastIndexOf(final);
        }
        if (at < 0) throw new R2ecError(`${tcFile}: the rendered chat does not contain the final assistant message`);
        rendered = rendered.slice(0, at + final.length);
      }
      return rendered;
    },
  };
  return tok;
}

/** True for an HFTokenizer (as opposed to the project's own BPE Tokenizer). */
export function isHFTokenizer(t: unknown): t is HFTokenizer {
  return !!t && typeof t === 'object' && (t as { kind?: unknown }).kind === 'hf';
}

/** spec §2 generation input: render [user] + generation prompt, tokenize, truncate on the right to maxLen. */
export function hfGenerationPrompt(tok: HFTokenizer, userContent: string, maxLen: number): number[] {
  const ids = tok.encode(tok.renderChat([{ role: 'user', content: userContent }], { addGenerationPrompt: true }));
  return ids.length > maxLen ? ids.slice(0, maxLen) : ids;
}

/**
 * spec §2 scoring input: [user, assistant] with continue_final_message, tokenized; the vector is read at the last
 * token (the end of the `<answer>` that closes the assistant content).
 */
export function hfScoringSequence(tok: HFTokenizer, userContent: string, assistantContent: string): number[] {
  return tok.encode(
    tok.renderChat(
      [
        { role: 'user', content: userContent },
        { role: 'assistant', content: assistantContent },
      ],
      { continueFinalMessage: true },
    ),
  );
}

/**
 * A stop test for generation at a stop *string* (spec §2: stop at `<answer>`, which is several tokens in a
 * pretrained vocabulary): true once the decoded continuation contains it.
 */
export function stopAtString(tok: HFTokenizer, stop: string): (generated: readonly number[]) => boolean {
  return (generated) => generated.length > 0 && tok.decode(generated.slice(-Math.max(16, stop.length * 2))).includes(stop);
}

// ---------------------------------------------------------------------------------------------------------------
// The workbench's Tokenizer interface (bpe.ts) over a Hugging Face tokenizer, so RecPO, evaluation and the notebooks
// run unchanged on an imported backbone: chat.ts's encodeChat renders through the checkpoint's template, and
// generation stops at the `<answer>` *string* (stopWhen), since a pretrained vocabulary has no `<answer>` token.

/** tokenizer JSON stored in workbench checkpoints for an imported backbone (instead of our BPE's merges) */
export const HF_TOKENIZER_FORMAT = 'hf';

export interface HFTokenizerRef {
  format: typeof HF_TOKENIZER_FORMAT;
  /** folder with tokenizer.json / tokenizer_config.json */
  dir: string;
}

export type WorkbenchHFTokenizer = Tokenizer & {
  readonly hf: HFTokenizer;
  /** generation stop test on the generated ids (spec §2: stop at the string `<answer>`) */
  stopWhen(generated: readonly number[]): boolean;
};

/** Wrap an HFTokenizer as a workbench Tokenizer (see above). `special` ids without a token are -1. */
export function asWorkbenchTokenizer(hf: HFTokenizer): WorkbenchHFTokenizer {
  let table: string[] | undefined;
  const idToToken = () => (table ??= Array.from({ length: hf.vocabSize }, (_, i) => hf.idToToken(i) ?? ''));
  const id = (s: string) => hf.tokenToId(s) ?? -1;
  const special = {
    pad: hf.padId,
    bos: hf.bosId ?? -1,
    eos: hf.eosId ?? -1,
    system: -1,
    user: -1,
    assistant: -1,
    end: hf.stopIds.find((i) => i !== hf.eosId) ?? hf.eosId ?? -1,
    answer: id('<answer>'),
    answerEnd: id('</answer>'),
    // the pooling study's appended read-out token (paper Table 3): a pretrained vocabulary has no <|emb|>, so the
    // checkpoint's EOS token is appended instead
    emb: hf.eosId ?? hf.padId,
    reserved1: -1,
    reserved2: -1,
    reserved3: -1,
  } as unknown as SpecialIds;
  const stop = stopAtString(hf, '<answer>');
  const utf8 = new TextEncoder();
  return {
    hf,
    get vocabSize() {
      return hf.vocabSize;
    },
    get idToToken() {
      return idToToken();
    },
    special,
    merges: [],
    // `allowSpecial` is the workbench BPE's switch; Hugging Face tokenizers match their added tokens everywhere
    encode: (text: string) => hf.encode(text),
    decode: (ids, opts = {}) => hf.decode(ids, { skipSpecial: opts.skipSpecial }),
    tokenBytes: (i: number) => utf8.encode(hf.decode([i])),
    toJSON: () => ({ format: HF_TOKENIZER_FORMAT, dir: hf.dir }) as unknown as TokenizerJSON,
    stopWhen: (generated) => stop(generated) || (generated.length > 0 && hf.stopIds.includes(generated[generated.length - 1])),
  };
}

/** True for a workbench Tokenizer that wraps a Hugging Face one. */
export function isWorkbenchHFTokenizer(t: unknown): t is WorkbenchHFTokenizer {
  return !!t && typeof t === 'object' && isHFTokenizer((t as { hf?: unknown }).hf);
}

const loaded = new Map<string, WorkbenchHFTokenizer>();

/** The tokenizer of an HFTokenizerRef (loaded once per folder and process). */
export function hfTokenizerFromRef(ref: HFTokenizerRef, source = 'tokenizer JSON'): WorkbenchHFTokenizer {
  if (typeof ref.dir !== 'string' || !ref.dir) throw new R2ecError(`${source}: field "dir" must name the tokenizer folder`);
  const key = path.resolve(ref.dir);
  let t = loaded.get(key);
  if (!t) loaded.set(key, (t = asWorkbenchTokenizer(loadHFTokenizer(ref.dir))));
  return t;
}

/**
 * chat.ts's encodeChat through the checkpoint's chat template (spec §2): [user] + generation prompt, or [user,
 * assistant] with continue_final_message, tokenized with add_special_tokens=false. Truncation as chat.ts: 'right'
 * cuts a generation prompt's ids; 'middle' drops history lines (splitHead) until it fits; 'none' throws.
 */
export function encodeChatHF(
  tok: HFTokenizer,
  userContent: string,
  assistantContent: string | undefined,
  opts: { maxLen: number; truncate?: 'none' | 'right' | 'middle' },
  splitHead: (content: string) => { head: string; lines: string[] },
): { ids: number[]; promptLength: number; droppedLines: number; droppedIds: number } {
  const build = (user: string) => {
    const prompt = hfGenerationPrompt(tok, user, Number.MAX_SAFE_INTEGER);
    const ids = assistantContent === undefined ? prompt : hfScoringSequence(tok, user, assistantContent);
    return { ids, promptLength: prompt.length };
  };
  const full = build(userContent);
  const { maxLen } = opts;
  const truncate = opts.truncate ?? 'none';
  if (full.ids.length <= maxLen) return { ...full, droppedLines: 0, droppedIds: 0 };
  const what = assistantContent === undefined ? 'generation prompt' : 'scoring sequence';
  if (truncate === 'none') throw new R2ecError(`${what} is ${full.ids.length} tokens, longer than maxLen = ${maxLen}`);
  if (truncate === 'right' && assistantContent === undefined) {
    return { ids: full.ids.slice(0, maxLen), promptLength: Math.min(full.promptLength, maxLen), droppedLines: 0, droppedIds: full.ids.length - maxLen };
  }
  const { head, lines } = splitHead(userContent);
  for (let k = 1; k <= lines.length; k++) {
    const kept = lines.slice(k);
    const enc = build(kept.length ? head + kept.join('\n') : head.replace(/\n$/, ''));
    if (enc.ids.length <= maxLen) return { ...enc, droppedLines: k, droppedIds: 0 };
  }
  throw new R2ecError(`${what} is ${full.ids.length} tokens, longer than maxLen = ${maxLen}, even with every history line dropped`);
}

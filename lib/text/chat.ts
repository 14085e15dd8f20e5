// Our own small chat template (spec §2 "Chat templating", adapted: there is no Gemma template here).
//
//   generation prompt:  <bos><|user|>\n{user}<|end|>\n<|assistant|>\n
//   scoring sequence:   <bos><|user|>\n{user}<|end|>\n<|assistant|>\n{assistant}      (continue_final_message:
//                       nothing after the assistant content, so its last token is the read-out `<answer>`)
//
// At token level the template's markers are inserted as ids. The user content is encoded with allowSpecial: false,
// so a title that contains "<answer>" or "<|end|>" can never inject a special token (the instruction's own
// "<answer> and </answer>" is plain text in the user turn too). The assistant content is encoded with only
// `<answer>`/`</answer>` recognised, so the `<answer>` that closes the reasoning is the special id. The "\n" after
// `<|assistant|>` is its own segment, so a scoring sequence always starts with the exact ids of its generation prompt.
import { ConfigError, R2ecError } from '../util/errors';
import { SPECIAL, type Tokenizer } from './bpe';
import { encodeChatHF, isWorkbenchHFTokenizer } from './hf-tokenizer';

export const ANSWER = '<answer>';
export const ANSWER_END = '</answer>';
/** the special strings the assistant content may contain */
export const ASSISTANT_SPECIALS = [ANSWER, ANSWER_END] as const;

/** spec §2 length caps of the official code (user sequences 2048, item sequences 768) */
export const MAX_USER_TOKENS = 2048;
export const MAX_ITEM_TOKENS = 768;

/** String form of the generation input: [user] + the generation prompt. */
export function renderGenerationPrompt(userContent: string): string {
  return `<bos><|user|>\n${userContent}<|end|>\n<|assistant|>\n`;
}

/** String form of the scoring input: [user, assistant] rendered with continue_final_message (no `<|end|>`). */
export function renderScoringSequence(userContent: string, assistantContent: string): string {
  return renderGenerationPrompt(userContent) + assistantContent;
}

/**
 * spec §2 "Reasoning completion": keep the text up to and including the first `<answer>`; if there is none (max
 * tokens reached, or EOS), append `<answer>`. Decode generated ids with skipSpecial: true before calling this (a
 * stop on the `<answer>` id then drops it and it is re-appended here; an `<eos>` leaves no trace in the text).
 */
export function completeReasoning(text: string): string {
  const i = text.indexOf(ANSWER);
  return i >= 0 ? text.slice(0, i + ANSWER.length) : text + ANSWER;
}

/**
 * What to do when a sequence is longer than maxLen:
 * - 'none' (default): throw an R2ecError saying how long it is and which limit.
 * - 'right': spec §2 "Truncate on the right" — keep the first maxLen ids. Only for generation prompts (it cuts the
 *   `<|assistant|>` header); scoring sequences treat it as 'middle', because cutting on the right would lose the
 *   read-out `<answer>`.
 * - 'middle': drop whole history lines from the middle of the user content: keep the instruction head (everything up
 *   to and including the first line after the first blank line — "Below is my historical ...:" for users, "Title:
 *   ..." for items) and as many of the LAST lines as fit (the most recent history), so the tail of the sequence
 *   (template markers, assistant content, final `<answer>`) is intact. If even the head alone does not fit → throw.
 */
export type Truncation = 'none' | 'right' | 'middle';

export interface ChatEncodeOptions {
  maxLen: number;
  truncate?: Truncation;
}

export interface ChatEncoding {
  ids: number[];
  /** number of ids of the generation prompt (ids[0..promptLength) equal encodeGenerationPrompt of the same user content) */
  promptLength: number;
  /** lines removed from the user content by 'middle' truncation (0 if none) */
  droppedLines: number;
  /** ids removed by 'right' truncation (0 if none) */
  droppedIds: number;
}

function encodeUserTurn(tok: Tokenizer, userContent: string): number[] {
  return [SPECIAL.bos, SPECIAL.user, ...tok.encode(`\n${userContent}`, { allowSpecial: false }), SPECIAL.end];
}

function assistantHeader(tok: Tokenizer): number[] {
  return [...tok.encode('\n', { allowSpecial: false }), SPECIAL.assistant, ...tok.encode('\n', { allowSpecial: false })];
}

/** Split user content into the kept head and the droppable lines (see Truncation 'middle'). */
export function splitHead(content: string): { head: string; lines: string[] } {
  const blank = content.indexOf('\n\n');
  const from = blank >= 0 ? blank + 2 : 0;
  const nl = content.indexOf('\n', from);
  if (nl < 0) return { head: content, lines: [] };
  return { head: content.slice(0, nl + 1), lines: content.slice(nl + 1).split('\n') };
}

/**
 * Encode [user] (+ generation prompt) or [user, assistant] (continue_final_message) to ids. Generic form of
 * encodeGenerationPrompt / encodeScoringSequence; also used for warm-up documents.
 */
export function encodeChat(
  tok: Tokenizer,
  userContent: string,
  assistantContent: string | undefined,
  opts: ChatEncodeOptions,
): ChatEncoding {
  const { maxLen } = opts;
  const truncate = opts.truncate ?? 'none';
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new ConfigError('maxLen', `must be a positive integer, got ${maxLen}`);
  if (!['none', 'right', 'middle'].includes(truncate)) {
    throw new ConfigError('truncate', `must be 'none', 'right' or 'middle', got ${JSON.stringify(truncate)}`);
  }
  // an imported Hugging Face backbone: its own chat template and tokenizer (spec §2)
  if (isWorkbenchHFTokenizer(tok)) return encodeChatHF(tok.hf, userContent, assistantContent, { maxLen, truncate }, splitHead);
  const header = assistantHeader(tok);
  const tail =
    assistantContent === undefined ? [] : tok.encode(assistantContent, { allowSpecial: ASSISTANT_SPECIALS });
  const build = (user: string) => {
    const prompt = [...encodeUserTurn(tok, user), ...header];
    return { ids: prompt.concat(tail), promptLength: prompt.length };
  };
  const full = build(userContent);
  if (full.ids.length <= maxLen) return { ...full, droppedLines: 0, droppedIds: 0 };

  const what = assistantContent === undefined ? 'generation prompt' : 'scoring sequence';
  if (truncate === 'none') {
    throw new R2ecError(
      `${what} is ${full.ids.length} tokens, longer than maxLen = ${maxLen} (pass truncate: 'middle' to drop history lines)`,
    );
  }
  if (truncate === 'right' && assistantContent === undefined) {
    return {
      ids: full.ids.slice(0, maxLen),
      promptLength: Math.min(full.promptLength, maxLen),
      droppedLines: 0,
      droppedIds: full.ids.length - maxLen,
    };
  }
  const { head, lines } = splitHead(userContent);
  for (let k = 1; k <= lines.length; k++) {
    const kept = lines.slice(k);
    const user = kept.length ? head + kept.join('\n') : head.replace(/\n$/, '');
    const enc = build(user);
    if (enc.ids.length <= maxLen) return { ...enc, droppedLines: k, droppedIds: 0 };
  }
  const minimal = build(head.replace(/\n$/, '')).ids.length;
  throw new R2ecError(
    `${what} is ${full.ids.length} tokens, longer than maxLen = ${maxLen}, and still ${minimal} tokens with every ` +
      `history line dropped (instruction head${assistantContent === undefined ? '' : ` + ${tail.length} assistant tokens`})`,
  );
}

/** Generation input ids: `<bos><|user|>\n{content}<|end|>\n<|assistant|>\n` (spec §2, max 2048 in the paper). */
export function encodeGenerationPrompt(
  tok: Tokenizer,
  userContent: string,
  maxLen: number,
  opts: { truncate?: Truncation } = {},
): number[] {
  return encodeChat(tok, userContent, undefined, { maxLen, truncate: opts.truncate }).ids;
}

/**
 * Scoring input ids: generation prompt + assistant content, nothing after it. The assistant content must end with
 * `<answer>` (the read-out token; use completeReasoning, or ITEM_ASSISTANT_PREFILL for items), so the last id is
 * always SPECIAL.answer — truncation never removes it.
 */
export function encodeScoringSequence(
  tok: Tokenizer,
  userContent: string,
  assistantContent: string,
  maxLen: number,
  opts: { truncate?: Truncation } = {},
): number[] {
  if (!assistantContent.endsWith(ANSWER)) {
    throw new R2ecError(
      `scoring sequence: the assistant content must end with ${ANSWER} (the read-out token; see completeReasoning), ` +
        `got ...${JSON.stringify(assistantContent.slice(-40))}`,
    );
  }
  const truncate = opts.truncate === 'right' ? 'middle' : opts.truncate;
  return encodeChat(tok, userContent, assistantContent, { maxLen, truncate }).ids;
}

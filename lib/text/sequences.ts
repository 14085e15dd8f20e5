// Token sequences the recommender feeds its model (spec §2), shared by the backbone stage, RecPO and evaluation:
// user generation prompts, item sequences with the prefilled `<answer>`, reasoning completions and the no-reasoning
// read-out sequence. The read-out is always the sequence's last token (`<answer>`, or an appended `<|emb|>`).
import type { Dataset, Sample } from '../data/types';
import { R2ecError } from '../util/errors';
import type { Tokenizer } from './bpe';
import { ASSISTANT_SPECIALS, completeReasoning, encodeChat } from './chat';
import { ITEM_ASSISTANT_PREFILL, itemPromptAs, userPromptAs, type PromptFormat } from './prompts';

export interface SequenceConfig {
  format: PromptFormat;
  /** history lines shown in the user prompt (spec: 20) */
  history: number;
  /** cap on generation prompts (history lines are dropped from the middle beyond it) */
  maxPromptTokens: number;
  /** cap on item sequences */
  maxItemTokens: number;
  /** append `<|emb|>` to every user and item sequence (the pooling study's special-token read-out) */
  readoutToken: boolean;
}

/** User prompt text with the last `history` interactions. */
export function userText(ds: Dataset, s: Sample, sc: SequenceConfig): string {
  const h = sc.history;
  return userPromptAs(sc.format, ds, h > 0 && s.history.length > h ? { ...s, history: s.history.slice(-h) } : s);
}

/** Generation prompt ids of a sample (history lines dropped from the middle if it does not fit). */
export function userPromptIds(tok: Tokenizer, ds: Dataset, s: Sample, sc: SequenceConfig): number[] {
  return encodeChat(tok, userText(ds, s, sc), undefined, { maxLen: sc.maxPromptTokens, truncate: 'middle' }).ids;
}

function withReadoutToken(tok: Tokenizer, sc: SequenceConfig, ids: number[]): number[] {
  return sc.readoutToken ? ids.concat(tok.special.emb) : ids;
}

/** Item sequences by item id: item prompt + prefilled `<answer>` (spec §2); row 0 (pad) is an empty placeholder. */
export function itemSequences(tok: Tokenizer, ds: Dataset, sc: SequenceConfig): number[][] {
  const seqs: number[][] = [[]];
  const maxLen = sc.maxItemTokens - (sc.readoutToken ? 1 : 0);
  for (let id = 1; id < ds.items.length; id++) {
    let text = itemPromptAs(sc.format, ds, ds.items[id]);
    let ids: number[] | undefined;
    // 'middle' drops whole attribute lines; a prompt whose head (instruction + title) alone is too long is cut
    // at the end of its text, keeping the chat markers and the prefilled <answer> (the read-out token)
    while (!ids) {
      try {
        ids = encodeChat(tok, text, ITEM_ASSISTANT_PREFILL, { maxLen, truncate: 'middle' }).ids;
      } catch (e) {
        if (!(e instanceof R2ecError) || text.length < 16) throw e;
        text = text.slice(0, Math.floor(text.length * 0.8));
      }
    }
    seqs.push(withReadoutToken(tok, sc, ids));
  }
  return seqs;
}

/**
 * Scoring sequence of a reasoning: prompt ids + re-tokenised `reasoning…<answer>` (spec §2 "Reasoning completion"),
 * at most maxSeqLen tokens: if too long, reasoning tokens before the final `<answer>` are cut (the read-out stays).
 */
export function scoringIds(tok: Tokenizer, prompt: number[], reasoningText: string, sc: SequenceConfig, maxSeqLen: number): number[] {
  const tail = tok.encode(completeReasoning(reasoningText), { allowSpecial: ASSISTANT_SPECIALS });
  const room = maxSeqLen - prompt.length - (sc.readoutToken ? 1 : 0);
  const body = tail.length > room ? tail.slice(0, room - 1).concat(tail[tail.length - 1]) : tail;
  return withReadoutToken(tok, sc, prompt.concat(body));
}

/** User sequence without reasoning (w/o reasoning, spec §7.11): `<answer>` right after the prompt. */
export function directIds(tok: Tokenizer, prompt: number[], sc: SequenceConfig): number[] {
  return withReadoutToken(tok, sc, prompt.concat(tok.encode(ITEM_ASSISTANT_PREFILL, { allowSpecial: ASSISTANT_SPECIALS })));
}

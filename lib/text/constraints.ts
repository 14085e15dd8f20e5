// Constrained decoding of the reasoning: after its closing "Next:", a reasoning may only continue with one title and
// then stop. The small decoder cannot spell a title on its own (it writes "Next: and ." greedily;
// results/recpo-budget/ fourth section), while its read-out follows a named title strongly; a trie of titles' tokens
// gives it the vocabulary and leaves the choice of title to the policy. Two sets of titles (recpo.nextTitles):
//   'catalog' — any item's: the reasoning names its guess of the next item;
//   'history' — one of the items its prompt shows: the reasoning points at the history item the next choice follows
//               from, a choice among ≤ 20 that a small model can copy (scripts/probes/history-pointer.ts).
// The rule has the shape of generate's `allowedTokens` (lib/model/generate.ts).
import type { Dataset, Sample } from '../data/types';
import { ConfigError, R2ecError } from '../util/errors';
import { ANSWER } from './chat';
import { targetTitle } from './corpus';

interface TrieNode {
  next: Map<number, TrieNode>;
  /** a title (with its closing ".") ends here: the item ids with this exact tokenisation */
  items: number[];
}

export type TitleTrie = TrieNode;

type Encoder = { encode(text: string, opts?: { allowSpecial?: boolean }): number[] };
type ByteTokens = { tokenBytes(id: number): Uint8Array };

/** Tokens of " {title}." per item id, the title as targetTitle writes it for "Next:" (empty for id 0). */
export function titleTokens(tok: Encoder, ds: Pick<Dataset, 'items'>): number[][] {
  return ds.items.map((it, i) => (i === 0 || !it ? [] : tok.encode(` ${targetTitle(ds, i).title}.`, { allowSpecial: false })));
}

/** A trie over the token sequences of the given items. */
export function titleTrie(tokens: readonly (readonly number[])[], items: Iterable<number>): TitleTrie {
  const root: TrieNode = { next: new Map(), items: [] };
  for (const i of items) {
    if (tokens[i].length === 0) continue;
    let node = root;
    for (const t of tokens[i]) {
      let child = node.next.get(t);
      if (!child) node.next.set(t, (child = { next: new Map(), items: [] }));
      node = child;
    }
    if (!node.items.includes(i)) node.items.push(i);
  }
  return root;
}

/**
 * The allowed-token rule: free text until the decoded text contains `trigger` ("Next:") at a token boundary, then
 * only paths of the row's title trie from the token after it, and once a title is complete only the `closing`
 * tokens (`<answer>`: one token in the workbench vocabulary, a few in a pretrained one, where generation stops at the
 * string). A trigger that ends inside a token (a non-standard token such as ":." there) leaves the row free.
 */
export function titleConstraint(
  tok: ByteTokens,
  trieOf: (row: number) => TitleTrie | undefined,
  closing: readonly number[],
  trigger = 'Next:',
): (generated: readonly number[], row: number) => readonly number[] | undefined {
  if (closing.length === 0) throw new R2ecError('titleConstraint: no closing tokens');
  const want = new TextEncoder().encode(trigger);
  return (generated, row) => {
    const root = trieOf(row);
    if (!root || root.next.size === 0) return undefined;
    // the last token boundary at which `trigger` ends
    const bytes: number[] = [];
    let at = -1;
    for (let k = 0; k < generated.length; k++) {
      for (const b of tok.tokenBytes(generated[k])) bytes.push(b);
      if (bytes.length >= want.length && endsWith(bytes, want)) at = k + 1;
    }
    if (at < 0) return undefined;
    let node = root;
    let k = at;
    for (; k < generated.length; k++) {
      const child = node.next.get(generated[k]);
      if (child) node = child;
      else if (node.items.length > 0 && generated[k] === closing[0]) break; // the title is complete; closing
      else return undefined; // left the trie (only before the rule applied, e.g. a second "Next:" in free text)
    }
    if (k < generated.length) {
      const j = generated.length - k;
      for (let i = 0; i < j; i++) if (generated[k + i] !== closing[i]) return undefined;
      return j < closing.length ? [closing[j]] : undefined;
    }
    const ids = [...node.next.keys()];
    if (node.items.length > 0 && !node.next.has(closing[0])) ids.push(closing[0]);
    return ids;
  };
}

function endsWith(bytes: number[], suffix: Uint8Array): boolean {
  const o = bytes.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (bytes[o + i] !== suffix[i]) return false;
  return true;
}

export type NextTitles = 'free' | 'catalog' | 'history';
export const NEXT_TITLES: NextTitles[] = ['free', 'catalog', 'history'];

/**
 * The rule for rows that continue the given samples' prompts (`rowSample(row)`): 'catalog' = one trie of every item,
 * 'history' = a trie of the last `shown` history items of that row's sample (the items its prompt lists), cached per
 * sample. Undefined for 'free'.
 */
export function nextTitleRule(
  tok: Encoder & ByteTokens & { special: { answer: number } },
  ds: Pick<Dataset, 'items'>,
  mode: NextTitles,
  shown: number,
  field = 'recpo.nextTitles',
): ((rowSample: (row: number) => Sample) => (generated: readonly number[], row: number) => readonly number[] | undefined) | undefined {
  if (mode === 'free') return undefined;
  // a pretrained vocabulary has no <answer> token: the title is closed by the tokens of the string
  const closing = tok.special.answer >= 0 ? [tok.special.answer] : tok.encode(ANSWER);
  if (closing.length === 0) throw new ConfigError(field, 'the tokenizer cannot encode <answer> to close the title');
  const tokens = titleTokens(tok, ds);
  const catalog = mode === 'catalog' ? titleTrie(tokens, tokens.keys()) : undefined;
  const perSample = new Map<Sample, TitleTrie>();
  const historyTrie = (s: Sample) => {
    let t = perSample.get(s);
    if (!t) perSample.set(s, (t = titleTrie(tokens, s.history.slice(-shown).map((h) => h.item))));
    return t;
  };
  return (rowSample) => titleConstraint(tok, (row) => catalog ?? historyTrie(rowSample(row)), closing);
}

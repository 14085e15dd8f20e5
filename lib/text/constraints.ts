// Constrained decoding of the reasoning: after its closing "Next:", a reasoning may only continue with one catalog
// title and then stop. The small decoder cannot spell a title on its own (it writes "Next: and ." greedily;
// results/recpo-budget/ fourth section), while its read-out follows a named title strongly; a trie of the catalog's
// titles gives it the vocabulary a pretrained LLM would have, and leaves the choice of title to the policy.
// The rule has the shape of generate's `allowedTokens` (lib/model/generate.ts).

import type { Dataset } from '../data/types';
import { ConfigError } from '../util/errors';
import { defuseAnswerTags } from './corpus';

interface TrieNode {
  next: Map<number, TrieNode>;
  /** a title (with its closing ".") ends here; value: the item ids with this exact tokenisation */
  items: number[];
}

export interface TitleTrie {
  root: TrieNode;
  /** tokens of each item's " {title}." (index = item id; empty for id 0) */
  tokens: number[][];
}

/** A trie over the token sequences of " {title}." for items 1…N (as "Next: {title}." tokenises them). */
export function titleTrie(tok: { encode(text: string, opts?: { allowSpecial?: boolean }): number[] }, titles: readonly string[]): TitleTrie {
  const root: TrieNode = { next: new Map(), items: [] };
  const tokens: number[][] = [[]];
  for (let i = 1; i < titles.length; i++) {
    const ids = tok.encode(` ${titles[i]}.`, { allowSpecial: false });
    tokens.push(ids);
    let node = root;
    for (const t of ids) {
      let child = node.next.get(t);
      if (!child) node.next.set(t, (child = { next: new Map(), items: [] }));
      node = child;
    }
    node.items.push(i);
  }
  return { root, tokens };
}

/**
 * The allowed-token rule: free text until the decoded text contains `trigger` ("Next:"), then only paths of the
 * title trie from the token after it, and once a title is complete only `stopId` (`<answer>`). A trigger that ends
 * inside a token leaves the row free (the model wrote a non-standard token such as ":." there).
 */
export function titleConstraint(
  tok: { tokenBytes(id: number): Uint8Array },
  trie: TitleTrie,
  stopId: number,
  trigger = 'Next:',
): (generated: readonly number[]) => readonly number[] | undefined {
  const want = new TextEncoder().encode(trigger);
  const rootIds = [...trie.root.next.keys()];
  return (generated) => {
    // the byte offset where each token ends, and the last token boundary at which `trigger` ends
    const bytes: number[] = [];
    let at = -1;
    for (let k = 0; k < generated.length; k++) {
      for (const b of tok.tokenBytes(generated[k])) bytes.push(b);
      if (bytes.length >= want.length && endsWith(bytes, want)) at = k + 1;
    }
    if (at < 0) return undefined;
    let node = trie.root;
    for (let k = at; k < generated.length; k++) {
      const child = node.next.get(generated[k]);
      if (!child) return undefined; // left the trie (only before the rule applied, e.g. a second "Next:" in free text)
      node = child;
    }
    if (node === trie.root) return rootIds;
    const ids = [...node.next.keys()];
    if (node.items.length > 0) ids.push(stopId);
    return ids;
  };
}

function endsWith(bytes: number[], suffix: Uint8Array): boolean {
  const o = bytes.length - suffix.length;
  for (let i = 0; i < suffix.length; i++) if (bytes[o + i] !== suffix[i]) return false;
  return true;
}

/** titleConstraint over the dataset's catalog, titles written as targetTitle writes them (lib/text/corpus.ts). */
export function catalogTitleConstraint(
  tok: { encode(text: string, opts?: { allowSpecial?: boolean }): number[]; tokenBytes(id: number): Uint8Array; special: { answer: number } },
  ds: Dataset,
): (generated: readonly number[]) => readonly number[] | undefined {
  if (!(tok.special.answer >= 0)) throw new ConfigError('recpo.nextTitles', 'needs a tokenizer with an <answer> token to end the title');
  const titles = ds.items.map((it, i) => (i === 0 || !it ? '' : defuseAnswerTags(it.title)));
  return titleConstraint(tok, titleTrie(tok, titles), tok.special.answer);
}

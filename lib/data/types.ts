// The one in-memory model every data source is read into (issue: foundation; method spec §1).

/** A catalog item. Real items have ids 1..N; id 0 is the pad item (spec §1), kept as items[0]. */
export interface Item {
  id: number;
  /** id in the source (ASIN, MovieLens movieId, ...) */
  externalId: string;
  title: string;
  description?: string;
  /** categories or genres */
  categories?: string[];
  brand?: string;
  /** source's average rating of the item (Amazon `average_rating`) */
  averageRating?: number;
  /** source's number of ratings (Amazon `rating_number`) */
  ratingCount?: number;
  price?: number;
  year?: number;
  /** free-text tags (MovieLens latest tags) */
  tags?: string[];
}

/** One user-item event. Timestamps are unix seconds (Amazon ms are divided by 1000). */
export interface Interaction {
  user: number;
  item: number;
  rating: number;
  timestamp: number;
}

/** One training/evaluation example: up to W prior interactions (oldest first) and the target interaction. */
export interface Sample {
  /** position after the global chronological sort (spec §1 `interaction_id`) */
  index: number;
  user: number;
  history: Interaction[];
  target: Interaction;
}

export type SplitName = 'train' | 'valid' | 'test';

export interface Splits {
  train: Sample[];
  valid: Sample[];
  test: Sample[];
}

/** Where the data came from and what happened to it on the way in. Nothing is dropped without a count here. */
export interface Provenance {
  /** reader id: amazon2023 | d3 | movielens-recbole | movielens-csv | goodreads-sprec | synthetic */
  source: string;
  /** source files with size and sha256 (empty for synthetic) */
  files: { path: string; bytes: number; sha256: string }[];
  /** options that shaped the dataset (window, K-core, time range, seed, ...) */
  options: Record<string, unknown>;
  /** dropped rows or items by reason, e.g. {"item: price not a float": 812} */
  dropped: Record<string, number>;
  /** human-readable notes (rebuilt train split, tie-break rule, split rule, ...) */
  notes: string[];
  synthetic: boolean;
  /** hash of files + options + reader version: the cache key */
  key: string;
}

/** Words used by the prompts (spec §2): "Analyze ... next {singular}", "my historical {plural} purchases". */
export interface Domain {
  singular: string;
  plural: string;
  /** verb for the user prompt, e.g. "purchase" for Amazon, "watch" for movies */
  verb: string;
}

export interface Dataset {
  name: string;
  domain: Domain;
  /** items[id]; items[0] is the pad item */
  items: Item[];
  /** external user ids; user u is users[u] */
  users: string[];
  /** all interactions, sorted by (timestamp, tie-break) within each user */
  interactions: Interaction[];
  samples: Splits;
  /** history window W used to build samples */
  window: number;
  provenance: Provenance;
}

export const PAD_ITEM_ID = 0;

export function padItem(): Item {
  return { id: PAD_ITEM_ID, externalId: '', title: 'pad_title', averageRating: 0, ratingCount: 0, categories: [] };
}

/** Number of real items (excludes the pad row). */
export function numItems(ds: Dataset): number {
  return ds.items.length - 1;
}

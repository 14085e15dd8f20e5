// Amazon Reviews 2023 reader with R²ec's preprocessing (spec §1, preprocess.py): item filter in metadata order,
// string-field cleaning, time window with the 10k-item roll-back, iterative K-core, ids in metadata order,
// one sample per interaction after a user's first, global chronological 80/10/10 split.
import { ConfigError, DataError } from '../util/errors';
import { cleanText, filterTitleForm, pyFloat, pyLen, pySpaceSplitCount } from './clean';
import { buildSamples, chronologicalSplit } from './samples';
import {
  drop, dropNotes, fileProvenance, headerIndex, makeDropLog, parseFiniteNumber, readCsv, readLines,
  requireSourceFile,
} from './sourceFiles';
import { padItem, type Dataset, type Domain, type Interaction, type Item } from './types';

export interface Amazon2023Options {
  /** e.g. "Video_Games"; file names are `<category>.csv[.gz]` and `meta_<category>.jsonl[.gz]` */
  category: string;
  /** history window W (spec: 20) */
  window?: number;
  /** K of the iterative K-core; 0 = none (spec launch default) */
  kCore?: number;
  /** window start "YYYY-MM" (first day of the month, 00:00 UTC) */
  start?: string;
  /** window end "YYYY-MM" (first day of the month, 00:00 UTC, inclusive) */
  end?: string;
  /** roll the start back 3 months while the window holds fewer unique items than this (spec: 10,000) */
  minItems?: number;
}

/** Prompt words for an Amazon category (spec §2); categories the spec does not name get words derived from the name. */
export function amazonDomain(category: string): Domain {
  const known: Record<string, [string, string]> = {
    Video_Games: ['video game', 'video games'],
    CDs_and_Vinyl: ['CD or vinyl', 'CDs and vinyl'],
    Musical_Instruments: ['musical instrument', 'musical instruments'],
  };
  if (known[category]) return { singular: known[category][0], plural: known[category][1], verb: 'purchase' };
  // Derived: words lower-cased unless they carry inner capitals ("CDs"); the singular singularizes the last word of
  // each "_and_" part and joins the parts with "or" (Toys_and_Games → "toy or game").
  const word = (w: string) => (/[A-Z]/.test(w.slice(1)) ? w : w.toLowerCase());
  const singularize = (w: string) =>
    /ies$/.test(w) ? w.slice(0, -3) + 'y' : /[^s]s$/.test(w) && !/(ss|us|is)$/.test(w) ? w.slice(0, -1) : w;
  const parts = category.split(/_and_/).map((p) => p.split('_').filter(Boolean).map(word));
  const plural = parts.map((p) => p.join(' ')).join(' and ');
  const singular = parts
    .map((p) => [...p.slice(0, -1), singularize(p[p.length - 1] ?? '')].join(' '))
    .join(' or ');
  return { singular, plural, verb: 'purchase' };
}

function parseYearMonth(field: string, v: string): { y: number; m: number } {
  const m = /^(\d{4})-(\d{1,2})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new ConfigError(field, `expected "YYYY-MM", got "${v}"`);
  return { y: Number(m[1]), m: Number(m[2]) };
}

function positiveInt(field: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ConfigError(field, `expected an integer ≥ ${min}, got ${v}`);
  return v;
}

interface KeptItem {
  asin: string;
  title: string;
  description: string;
  categories: string[];
  brand?: string;
  averageRating?: number;
  ratingCount?: number;
  price?: number;
}

/** One metadata record → a kept item, or the spec §1 filter reason that drops it. */
function filterItem(rec: Record<string, unknown>): KeptItem | string {
  const rawTitle = rec.title;
  if (rawTitle === undefined || rawTitle === null) return 'item: title missing or null';
  if (typeof rawTitle !== 'string') return 'item: title not a string';
  if (rawTitle.includes('<span id')) return 'item: title contains "<span id"';
  const title = filterTitleForm(rawTitle);
  if (pySpaceSplitCount(title) > 20) return 'item: title longer than 20 words';
  if (pyLen(title) <= 1) return 'item: title at most 1 character';
  const price = pyFloat(rec.price);
  if (price === undefined) return 'item: price not parseable by float()';
  // Every string-valued field is cleaned; list fields are not (spec §1). A string description is cleaned and then
  // wrapped in a list by item_info_to_df; the code's set() dedup has no defined order, so we keep first occurrences.
  const str = (v: unknown) => (typeof v === 'string' ? cleanText(v) : undefined);
  const descList = Array.isArray(rec.description)
    ? [...new Set(rec.description.map((d) => String(d)))]
    : typeof rec.description === 'string'
      ? [cleanText(rec.description)]
      : [];
  return {
    asin: '',
    title: cleanText(title),
    // spec §2 prompt order: the description list reversed, joined with spaces (the 100-word cut is the prompt's)
    description: descList.reverse().join(' '),
    categories: Array.isArray(rec.categories) ? rec.categories.map((c) => String(c)) : [],
    brand: str(rec.store),
    averageRating: typeof rec.average_rating === 'number' ? rec.average_rating : undefined,
    ratingCount: typeof rec.rating_number === 'number' ? Math.trunc(rec.rating_number) : undefined,
    price: Number.isFinite(price) ? price : undefined,
  };
}

/** Reads `<category>.csv[.gz]` (rating_only: user_id,parent_asin,rating,timestamp in ms) and
 * `meta_<category>.jsonl[.gz]` from `dir` and applies R²ec's preprocessing exactly as spec §1 describes. */
export async function readAmazon2023(
  dir: string,
  opts: { category: string; window?: number; kCore?: number; start?: string; end?: string; minItems?: number },
): Promise<Dataset> {
  const category = opts.category;
  if (!category || /[\\/]/.test(category)) throw new ConfigError('category', `not a category name: "${category}"`);
  const window = positiveInt('window', opts.window ?? 20, 1);
  const kCore = positiveInt('kCore', opts.kCore ?? 0, 0);
  const minItems = positiveInt('minItems', opts.minItems ?? 10000, 0);
  const startOpt = opts.start ?? '2022-10';
  const endOpt = opts.end ?? '2023-10';
  const start0 = parseYearMonth('start', startOpt);
  const end = parseYearMonth('end', endOpt);
  const endMs = Date.UTC(end.y, end.m - 1, 1);
  if (Date.UTC(start0.y, start0.m - 1, 1) > endMs) throw new ConfigError('start', `${startOpt} is after end ${endOpt}`);

  const ratingFile = requireSourceFile(dir, [`${category}.csv`], `Amazon 2023 rating file for ${category}`);
  const metaFile = requireSourceFile(dir, [`meta_${category}.jsonl`], `Amazon 2023 metadata file for ${category}`);
  const log = makeDropLog();
  const notes: string[] = [];

  // 1. Item filter, metadata file order (spec §1 load_items).
  const kept: KeptItem[] = [];
  const keptIndex = new Map<string, number>();
  const seenAsin = new Map<string, number>(); // asin → line, for every record (kept or filtered)
  let metaRecords = 0;
  for await (const [line, no] of readLines(metaFile)) {
    if (line.trim() === '') continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (err) {
      throw new DataError(metaFile, no, undefined, `not valid JSON: ${(err as Error).message}`);
    }
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) {
      throw new DataError(metaFile, no, undefined, 'expected a JSON object per line');
    }
    metaRecords++;
    const r = rec as Record<string, unknown>;
    const asin = r.parent_asin;
    if (typeof asin !== 'string' || asin === '') {
      drop(log, 'item: parent_asin missing or empty', `${metaFile}:${no}`);
      continue;
    }
    if (seenAsin.has(asin)) {
      drop(log, 'item: duplicate parent_asin (later record dropped)', `${metaFile}:${no} (first at line ${seenAsin.get(asin)})`);
      continue;
    }
    seenAsin.set(asin, no);
    const item = filterItem(r);
    if (typeof item === 'string') {
      drop(log, item);
      continue;
    }
    item.asin = asin;
    keptIndex.set(asin, kept.length);
    kept.push(item);
  }
  if (metaRecords === 0) throw new DataError(metaFile, undefined, undefined, 'no metadata records');

  // 2. Reviews of surviving items (spec §1 "Interaction filtering" step 1), kept compactly in rating-file order.
  const userIds = new Map<string, number>();
  const userNames: string[] = [];
  const rUser: number[] = [];
  const rItem: number[] = [];
  const rRating: number[] = [];
  const rTime: number[] = [];
  let header: Record<string, number> | undefined;
  let nFields = 0;
  for await (const [rec, no] of readCsv(ratingFile)) {
    if (!header) {
      header = headerIndex(ratingFile, rec, ['user_id', 'parent_asin', 'rating', 'timestamp']);
      nFields = rec.length;
      continue;
    }
    const where = () => `${ratingFile}:${no}`;
    if (rec.length !== nFields) {
      drop(log, 'review: wrong number of fields', where());
      continue;
    }
    const user = rec[header.user_id];
    const asin = rec[header.parent_asin];
    if (!user || !asin) {
      drop(log, 'review: empty user_id or parent_asin', where());
      continue;
    }
    const rating = parseFiniteNumber(rec[header.rating]);
    if (rating === undefined) {
      drop(log, 'review: rating not a number', where());
      continue;
    }
    const ts = parseFiniteNumber(rec[header.timestamp]);
    if (ts === undefined) {
      drop(log, 'review: timestamp not a number', where());
      continue;
    }
    const item = keptIndex.get(asin);
    if (item === undefined) {
      drop(log, seenAsin.has(asin) ? 'review: item removed by the item filter' : 'review: item not in metadata');
      continue;
    }
    let u = userIds.get(user);
    if (u === undefined) {
      userIds.set(user, (u = userNames.length));
      userNames.push(user);
    }
    rUser.push(u);
    rItem.push(item);
    rRating.push(rating);
    rTime.push(ts);
  }
  if (!header) throw new DataError(ratingFile, 1, undefined, 'file is empty: expected a header row');
  const nReviews = rTime.length;
  if (nReviews === 0) {
    throw new DataError(ratingFile, undefined, undefined, 'no review of a surviving item: nothing to build a dataset from');
  }
  let earliestYear = Infinity;
  for (let i = 0; i < nReviews; i++) earliestYear = Math.min(earliestYear, new Date(rTime[i]).getUTCFullYear());

  // 3.–4. Time window, K-core, 10k-item roll-back (spec §1 steps 2–4).
  let start = { ...start0 };
  let selected: number[];
  let inWindow: number;
  for (;;) {
    const startMs = Date.UTC(start.y, start.m - 1, 1);
    selected = [];
    for (let i = 0; i < nReviews; i++) if (rTime[i] >= startMs && rTime[i] <= endMs) selected.push(i);
    inWindow = selected.length;
    selected = kCoreFilter(selected, rUser, rItem, kCore);
    const uniqueItems = new Set(selected.map((i) => rItem[i])).size;
    if (uniqueItems < minItems && start.y > earliestYear) {
      const next = start.m > 3 ? { y: start.y, m: start.m - 3 } : { y: start.y - 1, m: start.m + 9 };
      notes.push(
        `Window from ${fmtYm(start)}: ${uniqueItems} unique items < minItems ${minItems} and start year ${start.y} > ` +
          `earliest review year ${earliestYear}, so the start moves back 3 months to ${fmtYm(next)} (spec §1 step 4).`,
      );
      start = next;
      continue;
    }
    if (uniqueItems < minItems) {
      notes.push(
        `Window from ${fmtYm(start)} holds ${uniqueItems} unique items < minItems ${minItems}, but the start year ` +
          `already equals the earliest review year ${earliestYear}: stopped there, as the code does.`,
      );
    }
    break;
  }
  drop(log, 'review: outside the time window', undefined, nReviews - inWindow);
  drop(log, `review: removed by the ${kCore}-core filter`, undefined, inWindow - selected.length);

  // Ids: items 1..N in metadata order counting only items in the window; users by first appearance in the
  // rating file among the kept reviews (the code's dict order, which also orders equal-timestamp samples).
  const itemUsed = new Uint8Array(kept.length);
  for (const i of selected) itemUsed[rItem[i]] = 1;
  const itemId = new Int32Array(kept.length).fill(-1);
  const items: Item[] = [padItem()];
  kept.forEach((k, idx) => {
    if (!itemUsed[idx]) return;
    itemId[idx] = items.length;
    items.push({
      id: items.length,
      externalId: k.asin,
      title: k.title,
      description: k.description,
      categories: k.categories,
      brand: k.brand,
      averageRating: k.averageRating,
      ratingCount: k.ratingCount,
      price: k.price,
    });
  });
  drop(log, 'item: passed the item filter but has no review in the window', undefined, kept.length - (items.length - 1));
  const userId = new Int32Array(userNames.length).fill(-1);
  const users: string[] = [];
  const interactions: Interaction[] = [];
  for (const i of selected) {
    let u = userId[rUser[i]];
    if (u < 0) {
      u = userId[rUser[i]] = users.length;
      users.push(userNames[rUser[i]]);
    }
    // ms → s; the order is the same because the ms values are integers well inside double precision
    interactions.push({ user: u, item: itemId[rItem[i]], rating: rRating[i], timestamp: rTime[i] / 1000 });
  }

  // Samples and split (spec §1): stable per-user sort by timestamp (ties keep rating-file order), W, 80/10/10.
  const { samples, sequences } = buildSamples(interactions, window);
  if (samples.length === 0) throw new DataError(ratingFile, undefined, undefined, 'no user has two reviews in the window: no samples');
  const ordered: Interaction[] = [];
  for (let u = 0; u < users.length; u++) ordered.push(...(sequences.get(u) ?? []));

  notes.push(
    `Item filter (spec §1) in metadata file order over ${metaRecords} records: ${kept.length} items pass ` +
      '(title missing/null, containing "<span id", >20 space-separated words or ≤1 character after &quot;/&amp; ' +
      'replacement and stripping spaces then quotes, or price not parseable by Python float() are dropped).',
    'Item text: every string field of a surviving item is cleaned as preprocess.py clean_text (HTML-unescape, strip, ' +
      'delete <...> tags, \\n/\\t → space, collapse spaces, non-ASCII → space); the title is the stripped filter form, ' +
      'cleaned. List fields (categories, description) are not cleaned.',
    'description = the metadata description list, deduplicated keeping first occurrences (the code uses set(), whose ' +
      'order is undefined), REVERSED and joined with single spaces: already the spec §2 item-prompt order; the ' +
      '100-word cut is left to the prompt builder. brand = store; price = float(price), left undefined when inf/nan.',
    `Time window ${fmtYm(start)}-01 00:00 UTC <= time <= ${fmtYm(end)}-01 00:00 UTC (end inclusive); ` +
      `${kCore === 0 ? 'no K-core (K=0)' : `iterative ${kCore}-core`}.`,
    `Ids: items 1..${items.length - 1} in metadata-file order counting only items in the window (item 0 = pad); ` +
      `users 0..${users.length - 1} by first appearance in the rating file.`,
    `Samples: per user, a stable sort by timestamp (equal timestamps keep rating-file order, as the code's sorted()); ` +
      `one sample per interaction after the user's first, history = the previous ≤${window}. Split: all samples ` +
      'sorted by target timestamp (ties in user, then position order) and cut at int(n·0.8), int(n·0.9).',
    ...dropNotes(log),
  );

  const files = [await fileProvenance(ratingFile, dir), await fileProvenance(metaFile, dir)];
  return {
    name: `${category}_${kCore}_${start0.y}-${start0.m}-${end.y}-${end.m}`,
    domain: amazonDomain(category),
    items,
    users,
    interactions: ordered,
    samples: chronologicalSplit(samples),
    window,
    provenance: {
      source: 'amazon2023',
      files,
      options: { category, window, kCore, start: startOpt, end: endOpt, minItems, effectiveStart: fmtYm(start) },
      dropped: log.dropped,
      notes,
      synthetic: false,
      key: '',
    },
  };
}

function fmtYm(d: { y: number; m: number }): string {
  return `${d.y}-${String(d.m).padStart(2, '0')}`;
}

/** Iterative K-core over review indices: drop users and items with < K reviews until none is dropped (K=0: none). */
function kCoreFilter(selected: number[], user: number[], item: number[], k: number): number[] {
  if (k <= 0) return selected;
  let cur = selected;
  for (;;) {
    const uc = new Map<number, number>();
    const ic = new Map<number, number>();
    for (const i of cur) {
      uc.set(user[i], (uc.get(user[i]) ?? 0) + 1);
      ic.set(item[i], (ic.get(item[i]) ?? 0) + 1);
    }
    const next = cur.filter((i) => uc.get(user[i])! >= k && ic.get(item[i])! >= k);
    if (next.length === cur.length) return cur;
    cur = next;
  }
}

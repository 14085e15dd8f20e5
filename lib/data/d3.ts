// D3/BIGRec-processed Amazon CSVs (info/*.txt, train|valid|test/*.csv) as in
// shared/data/amazon2018-CDs_and_Vinyl-D3. The staged copy has no train split, so the interaction log is rebuilt
// from every history and target, then the spec §1 sample construction and chronological 80/10/10 split are redone.
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ConfigError, DataError } from '../util/errors';
import { amazonDomain } from './amazon2023';
import { buildSamples, chronologicalSplit } from './samples';
import {
  drop, dropNotes, fileProvenance, findSourceFile, headerIndex, makeDropLog, parseFiniteNumber, parsePythonList,
  readCsv, readLines,
} from './sourceFiles';
import { padItem, type Dataset, type Interaction, type Item } from './types';

const REQUIRED = [
  'user_id', 'item_asins', 'item_asin', 'history_item_id', 'item_id', 'history_rating', 'rating',
  'history_timestamp', 'timestamp',
];
const OPTIONAL = ['history_item_title', 'item_title'];

interface Event {
  user: number;
  asin: string;
  item: number; // our id (D3 id + 1)
  rating: number;
  timestamp: number;
  firstSeen: number;
}

/** Column name of position j of a row's sequence (n = the target position). */
function colName(j: number, n: number, target: string, history: string): string {
  return j === n ? target : `${history}[${j}]`;
}

function cellList(path: string, line: number, field: string, cell: string): (string | number)[] {
  try {
    return parsePythonList(cell);
  } catch (err) {
    throw new DataError(path, line, field, (err as Error).message);
  }
}

/** Reads a D3/BIGRec dataset folder; `window` defaults to 10, the window the D3 files were made with. */
export async function readD3(dir: string, opts: { window?: number } = {}): Promise<Dataset> {
  const window = opts.window ?? 10;
  if (!Number.isInteger(window) || window < 1) throw new ConfigError('window', `expected an integer ≥ 1, got ${window}`);
  const infoDir = join(dir, 'info');
  let infoNames: string[];
  try {
    infoNames = readdirSync(infoDir).filter((f) => f.endsWith('.txt'));
  } catch {
    throw new DataError(infoDir, undefined, undefined, 'D3 item table folder info/ not found');
  }
  if (infoNames.length !== 1) {
    throw new DataError(
      infoDir, undefined, undefined,
      infoNames.length === 0 ? 'no info/*.txt item table' : `several item tables (${infoNames.join(', ')}): point at a folder with one dataset`,
    );
  }
  const stem = basename(infoNames[0], '.txt');
  const infoFile = join(infoDir, infoNames[0]);
  const splitFiles: { split: string; path: string }[] = [];
  for (const split of ['train', 'valid', 'test']) {
    const p = findSourceFile(join(dir, split), [`${stem}.csv`]);
    if (p) splitFiles.push({ split, path: p });
    else if (split !== 'train') {
      throw new DataError(join(dir, split, `${stem}.csv`), undefined, undefined, `D3 ${split} split not found (also tried .gz)`);
    }
  }
  const log = makeDropLog();

  // Catalog: every item of info/*.txt, D3 id k → our id k+1 (item 0 = pad).
  const titles: string[] = [];
  const titleLine: number[] = [];
  for await (const [line, no] of readLines(infoFile)) {
    if (line === '') continue;
    const tab = line.lastIndexOf('\t');
    if (tab < 0) throw new DataError(infoFile, no, undefined, 'expected "title<TAB>item_id"');
    const idText = line.slice(tab + 1).trim();
    if (!/^\d+$/.test(idText)) throw new DataError(infoFile, no, 'item_id', `not a non-negative integer: "${idText}"`);
    const k = Number(idText);
    const title = line.slice(0, tab).trim();
    if (title === '') throw new DataError(infoFile, no, 'title', `empty title for item ${k}`);
    if (titles[k] !== undefined) throw new DataError(infoFile, no, 'item_id', `duplicate item id ${k} (first at line ${titleLine[k]})`);
    titles[k] = title;
    titleLine[k] = no;
  }
  const nItems = titles.length;
  for (let k = 0; k < nItems; k++) {
    if (titles[k] === undefined) throw new DataError(infoFile, undefined, 'item_id', `item ids must be 0..${nItems - 1}; ${k} is missing`);
  }
  if (nItems === 0) throw new DataError(infoFile, undefined, undefined, 'empty item table');

  // Events from every history and target, deduplicated on (user, asin, timestamp, rating).
  const userIds = new Map<string, number>();
  const users: string[] = [];
  const events: Event[] = [];
  const eventKey = new Map<string, number>();
  const asinOf: (string | undefined)[] = new Array(nItems);
  const asinItem = new Map<string, number>();
  const windowsByUser: number[][][] = []; // per user, each row's event sequence (history..., target)
  let titleMismatch = 0;
  let dedup = 0;
  let rows = 0;
  for (const { split, path } of splitFiles) {
    let h: Record<string, number> | undefined;
    let nFields = 0;
    for await (const [rec, no] of readCsv(path)) {
      if (!h) {
        h = headerIndex(path, rec, REQUIRED, OPTIONAL);
        nFields = rec.length;
        continue;
      }
      if (rec.length !== nFields) {
        drop(log, 'row: wrong number of fields', `${path}:${no}`);
        continue;
      }
      const userExt = rec[h.user_id];
      if (!userExt) {
        drop(log, 'row: empty user_id', `${path}:${no}`);
        continue;
      }
      const asins = cellList(path, no, 'item_asins', rec[h.item_asins]);
      const ids = cellList(path, no, 'history_item_id', rec[h.history_item_id]);
      const ratings = cellList(path, no, 'history_rating', rec[h.history_rating]);
      const stamps = cellList(path, no, 'history_timestamp', rec[h.history_timestamp]);
      const htitles = h.history_item_title !== undefined
        ? cellList(path, no, 'history_item_title', rec[h.history_item_title]) : undefined;
      const n = asins.length;
      if (ids.length !== n) throw new DataError(path, no, 'history_item_id', `has ${ids.length} entries but item_asins has ${n}`);
      if (ratings.length !== n) throw new DataError(path, no, 'history_rating', `has ${ratings.length} entries but item_asins has ${n}`);
      if (stamps.length !== n) throw new DataError(path, no, 'history_timestamp', `has ${stamps.length} entries but item_asins has ${n}`);
      if (htitles && htitles.length !== n) throw new DataError(path, no, 'history_item_title', `has ${htitles.length} entries but item_asins has ${n}`);
      // the target is position n of the row's sequence
      asins.push(rec[h.item_asin]);
      ids.push(parseFiniteNumber(rec[h.item_id]) ?? NaN);
      ratings.push(parseFiniteNumber(rec[h.rating]) ?? NaN);
      stamps.push(parseFiniteNumber(rec[h.timestamp]) ?? NaN);
      htitles?.push(h.item_title !== undefined ? rec[h.item_title] : '');
      if (!asins[n] || Number.isNaN(ids[n]) || Number.isNaN(ratings[n]) || Number.isNaN(stamps[n])) {
        drop(log, 'row: target item_asin, item_id, rating or timestamp empty or not a number', `${path}:${no}`);
        continue;
      }
      rows++;
      let u = userIds.get(userExt);
      if (u === undefined) {
        userIds.set(userExt, (u = users.length));
        users.push(userExt);
        windowsByUser.push([]);
      }
      const seq: number[] = [];
      for (let j = 0; j <= n; j++) {
        const asin = asins[j];
        const id = ids[j];
        const rating = ratings[j];
        const ts = stamps[j];
        if (typeof asin !== 'string' || asin === '') throw new DataError(path, no, colName(j, n, 'item_asin', 'item_asins'), 'expected a non-empty ASIN string');
        if (typeof id !== 'number' || !Number.isInteger(id)) throw new DataError(path, no, colName(j, n, 'item_id', 'history_item_id'), 'expected an integer item id');
        if (typeof rating !== 'number') throw new DataError(path, no, colName(j, n, 'rating', 'history_rating'), 'expected a number');
        if (typeof ts !== 'number') throw new DataError(path, no, colName(j, n, 'timestamp', 'history_timestamp'), 'expected a number');
        if (id < 0 || id >= nItems) {
          drop(log, 'event: item id not in info/*.txt', `${path}:${no} (${colName(j, n, 'item_id', 'history_item_id')} = ${id})`);
          continue;
        }
        const prevItem = asinItem.get(asin);
        if (prevItem !== undefined && prevItem !== id) {
          throw new DataError(path, no, colName(j, n, 'item_id', 'history_item_id'), `ASIN ${asin} has item id ${id} here but ${prevItem} elsewhere`);
        }
        if (asinOf[id] !== undefined && asinOf[id] !== asin) {
          throw new DataError(path, no, colName(j, n, 'item_asin', 'item_asins'), `item id ${id} has ASIN ${asin} here but ${asinOf[id]} elsewhere`);
        }
        asinItem.set(asin, id);
        asinOf[id] = asin;
        if (htitles && htitles[j] !== titles[id]) titleMismatch++;
        const key = `${u}\u0000${asin}\u0000${ts}\u0000${rating}`;
        let ev = eventKey.get(key);
        if (ev === undefined) {
          eventKey.set(key, (ev = events.length));
          events.push({ user: u, asin, item: id + 1, rating, timestamp: ts, firstSeen: events.length });
        } else {
          dedup++;
        }
        seq.push(ev);
      }
      windowsByUser[u].push(seq);
    }
    if (!h) throw new DataError(path, 1, undefined, `${split} split is empty: expected a header row`);
  }
  if (events.length === 0) throw new DataError(dir, undefined, undefined, 'no events in the D3 splits');
  drop(log, 'event: repeat of an event already read from another row (deduplicated)', undefined, dedup);

  // Per-user order: the source's own sequence order, as recorded by consecutive positions in the histories
  // (a topological order of those precedences, smallest timestamp first, then first-seen).
  const orderConflicts = { n: 0 };
  const interactions: Interaction[] = [];
  const eventsByUser: number[][] = users.map(() => []);
  for (const ev of events) eventsByUser[ev.user].push(ev.firstSeen);
  for (let u = 0; u < users.length; u++) {
    for (const e of orderUserEvents(eventsByUser[u], windowsByUser[u], events, orderConflicts)) {
      interactions.push({ user: u, item: events[e].item, rating: events[e].rating, timestamp: events[e].timestamp });
    }
  }
  // interactions arrive per user in that order; buildSamples' stable sort by timestamp keeps it for ties.
  const { samples, sequences } = buildSamples(interactions, window);
  if (samples.length === 0) throw new DataError(dir, undefined, undefined, 'no user has two events: no samples');
  const ordered: Interaction[] = [];
  for (let u = 0; u < users.length; u++) ordered.push(...(sequences.get(u) ?? []));

  const items: Item[] = [padItem()];
  let noAsin = 0;
  for (let k = 0; k < nItems; k++) {
    if (asinOf[k] === undefined) noAsin++;
    items.push({ id: k + 1, externalId: asinOf[k] ?? `d3-id:${k}`, title: titles[k] });
  }
  const junk = titles.filter((t) => t.startsWith('<span')).length;
  const withTrain = splitFiles.some((f) => f.split === 'train');
  const notes = [
    `Interaction log REBUILT from the histories and targets of ${splitFiles.map((f) => f.split).join('+')} ` +
      `(${rows} rows${withTrain ? '' : '; this copy has no train split'}): ${events.length} distinct ` +
      '(user, ASIN, timestamp, rating) events after deduplication. The D3 samples themselves are not reused: samples ' +
      `are rebuilt from this log (one per event after a user's first, history = previous ≤${window}) and split ` +
      'chronologically 80/10/10 at int(n·0.8), int(n·0.9) (spec §1). Events that only ever sat in train histories ' +
      'beyond the last 10 positions are not recoverable, so the histories are shorter than the originals.',
    'Order within a user: the sequence order recorded by consecutive positions in the D3 histories (ties in the ' +
      `day-resolution timestamps keep D3's own order)${orderConflicts.n ? `; ${orderConflicts.n} contradictory precedences, which arise where one deduplicated event sat at two positions of a D3 sequence, were broken by timestamp then first appearance` : ''}.`,
    `Catalog: all ${nItems} items of info/${infoNames[0]}, D3 item id k → our id k+1 (item 0 = pad). ` +
      `${noAsin} items never appear in the splits; their ASIN is unknown and externalId is "d3-id:<k>".`,
    `${junk} item titles are HTML junk ("<span class=..."; D3's filter only checks "<span id"): kept as they are, ` +
      'because they are part of the catalog D3 trained and evaluated with.',
    ...(titleMismatch ? [`${titleMismatch} title cells in the CSVs differ from info/*.txt; the info title is used.`] : []),
    `Users: ${users.length}, numbered by first appearance in ${splitFiles.map((f) => f.split).join(', ')} file order.`,
    ...dropNotes(log),
  ];
  const files = [await fileProvenance(infoFile, dir)];
  for (const f of splitFiles) files.push(await fileProvenance(f.path, dir));
  return {
    name: stem,
    domain: amazonDomain(stem.replace(/_\d+_\d{4}-\d{1,2}-\d{4}-\d{1,2}$/, '')),
    items,
    users,
    interactions: ordered,
    samples: chronologicalSplit(samples),
    window,
    provenance: {
      source: 'd3',
      files,
      options: { window, splits: splitFiles.map((f) => f.split) },
      dropped: log.dropped,
      notes,
      synthetic: false,
      key: '',
    },
  };
}

/**
 * Orders one user's events: Kahn's algorithm over the "a directly precedes b" pairs of every recorded window,
 * always taking the available event with the smallest (timestamp, first-seen). Windows are consecutive stretches of
 * one timestamp-sorted sequence, so the result is sorted by timestamp and agrees with every window; should the
 * pairs contradict each other (a cycle), the smallest remaining event is taken and counted.
 */
function orderUserEvents(ids: number[], windows: number[][], events: Event[], conflicts: { n: number }): number[] {
  const indeg = new Map<number, number>(ids.map((e) => [e, 0]));
  const next = new Map<number, Set<number>>(ids.map((e) => [e, new Set<number>()]));
  for (const w of windows) {
    for (let j = 1; j < w.length; j++) {
      const a = w[j - 1];
      const b = w[j];
      if (a === b || next.get(a)!.has(b)) continue;
      next.get(a)!.add(b);
      indeg.set(b, indeg.get(b)! + 1);
    }
  }
  const less = (a: number, b: number) =>
    events[a].timestamp - events[b].timestamp || events[a].firstSeen - events[b].firstSeen;
  const out: number[] = [];
  const done = new Set<number>();
  while (out.length < ids.length) {
    let best = -1;
    let bestFree = -1;
    for (const e of ids) {
      if (done.has(e)) continue;
      if (best < 0 || less(e, best) < 0) best = e;
      if (indeg.get(e) === 0 && (bestFree < 0 || less(e, bestFree) < 0)) bestFree = e;
    }
    let pick = bestFree;
    if (pick < 0) {
      conflicts.n++;
      pick = best;
    }
    done.add(pick);
    out.push(pick);
    for (const b of next.get(pick)!) indeg.set(b, indeg.get(b)! - 1);
  }
  return out;
}


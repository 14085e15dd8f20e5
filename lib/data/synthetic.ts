// Seeded synthetic dataset: the embedded default when no data directory is configured, and a fast, fully known
// testbed. "Fjellgard Outfitters", a made-up outdoor shop with 8 product kinds. Users have latent tastes and
// sequential habits, so a user's history carries learnable signal beyond popularity (see `notes` below, which are
// also written into provenance). Samples and the split are built exactly as for real data (spec §1, samples.ts).
import { ConfigError } from '../util/errors';
import { hashSeed, makeRng, type Rng } from '../util/rng';
import { cacheKey } from './cache';
import { buildSamples, chronologicalSplit } from './samples';
import { padItem, type Dataset, type Interaction, type Item } from './types';

/** Bump when the generative process changes (part of the cache/provenance key). */
export const SYNTHETIC_VERSION = 1;

export interface SyntheticOptions {
  seed?: number;
  /** number of users, cold users included */
  users?: number;
  /** number of real items, cold items included */
  items?: number;
  /** history window W */
  window?: number;
  /** interactions per regular user, uniform in [minPerUser, maxPerUser] */
  minPerUser?: number;
  maxPerUser?: number;
  /** share of users that are cold: 2–5 interactions, all in the last ~15% of the timeline */
  coldUserShare?: number;
  /** share of items introduced late (last ~18% of the timeline), so that they are rare or absent in train */
  coldItemShare?: number;
  /** first day of the timeline (ISO date, UTC) */
  start?: string;
  /** timeline length in days */
  days?: number;
}

/** Defaults: small enough to train quickly on 2 cores (~10k interactions, ~9.7k samples). */
export const SYNTHETIC_DEFAULTS: Required<SyntheticOptions> = {
  seed: 42,
  users: 400,
  items: 300,
  window: 20,
  minPerUser: 15,
  maxPerUser: 40,
  coldUserShare: 0.08,
  coldItemShare: 0.1,
  start: '2022-01-01',
  days: 730,
};

interface Kind {
  name: string;
  nouns: string[];
  /** the kind a buyer of this kind often buys next (two 4-cycles: walking kit and camp kit) */
  complement: string;
  use: string;
  price: [number, number];
}

/** The 8 product kinds of the shop. */
export const SYNTHETIC_KINDS: Kind[] = [
  { name: 'Boots', nouns: ['Hiking Boot', 'Trail Boot', 'Approach Shoe'], complement: 'Socks', use: 'long days on rough trails', price: [90, 220] },
  { name: 'Socks', nouns: ['Hiking Sock', 'Crew Sock', 'Liner Sock'], complement: 'Jackets', use: 'blister-free miles', price: [12, 30] },
  { name: 'Jackets', nouns: ['Jacket', 'Shell', 'Parka', 'Anorak'], complement: 'Backpacks', use: 'changeable mountain weather', price: [80, 350] },
  { name: 'Backpacks', nouns: ['Backpack', 'Daypack', 'Rucksack'], complement: 'Boots', use: 'day hikes and hut tours', price: [50, 240] },
  { name: 'Tents', nouns: ['Tent', 'Tarp Shelter', 'Bivy'], complement: 'Sleeping Bags', use: 'nights above the tree line', price: [120, 600] },
  { name: 'Sleeping Bags', nouns: ['Sleeping Bag', 'Quilt', 'Down Bag'], complement: 'Stoves', use: 'cold nights in camp', price: [90, 450] },
  { name: 'Stoves', nouns: ['Stove', 'Burner', 'Cook System'], complement: 'Headlamps', use: 'hot meals at camp', price: [35, 180] },
  { name: 'Headlamps', nouns: ['Headlamp', 'Lantern', 'Torch'], complement: 'Tents', use: 'early starts and late returns', price: [20, 90] },
];

const BRANDS = [
  'Nordlicht', 'Fjellrev', 'Kestrel', 'Tamarack', 'Skylark', 'Ridgeway',
  'Copperfox', 'Halvard', 'Moss Lane', 'Ostara', 'Blue Ember', 'Granite Owl',
];

const ATTRIBUTES: { word: string; phrase: string }[] = [
  { word: 'Wool', phrase: 'warm wool' },
  { word: 'Merino', phrase: 'soft merino' },
  { word: 'Ultralight', phrase: 'ultralight' },
  { word: 'Waterproof', phrase: 'waterproof' },
  { word: 'Insulated', phrase: 'insulated' },
  { word: 'Trail', phrase: 'trail-ready' },
  { word: 'Alpine', phrase: 'alpine-grade' },
  { word: 'Packable', phrase: 'packable' },
  { word: 'Recycled', phrase: 'recycled-fabric' },
  { word: 'Canvas', phrase: 'rugged canvas' },
];

const MODEL_SUFFIXES = ['II', 'Pro', 'Lite', 'XT', 'Classic', 'Plus', 'Edge', 'Max'];

const DAY = 86400;

interface Latent {
  kind: number;
  brand: number;
  attrs: [number, number];
  pop: number;
  quality: number;
  introducedAt: number;
  /** not in the catalog from day one */
  late: boolean;
}

interface UserState {
  kindPref: number[];
  preferredKinds: Set<number>;
  attrs: Set<number>;
  liked: Set<number>;
  disliked: Set<number>;
}

export const SYNTHETIC_NOTES = [
  'Synthetic data from a seeded generator (lib/data/synthetic.ts): a made-up outdoor shop with 8 product kinds, 12 brands and 10 attribute words; titles are "<brand> <attribute> <attribute> <noun>", descriptions one sentence.',
  'Items: latent popularity (log-normal), brand quality + item noise (drives average rating; rating count follows popularity); some items appear during the first half of the timeline, and cold items only in its last ~18%.',
  'Users: latent tastes (2–3 preferred kinds, 2 preferred attributes, 2 liked brands) and sequential habits: after an item of kind A rated ≥3 the next purchase is often of the complementary kind B (Boots→Socks→Jackets→Backpacks→Boots, Tents→Sleeping Bags→Stoves→Headlamps→Tents), preferably the same brand; after a 4–5★ purchase a same-brand purchase is likelier; a ≤2★ rating makes the brand disliked, a 5★ rating makes it liked; 8% of picks are uniform exploration.',
  'Ratings: 1–5 from taste match (preferred kind, attribute overlap, liked/disliked brand) + item quality + noise, so low ratings exist and carry negative preference. No repeat purchases.',
  'Timestamps: sessions with minutes-apart purchases, separated by gaps of days to weeks scaled to each user\'s active period; cold users (2–5 interactions) appear only in the last ~15% of the timeline.',
  'Samples and the chronological 80/10/10 split are built as for real data (spec §1).',
];

function checkInt(field: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`synthetic.${field}`, `must be an integer ≥ ${min}, got ${v}`);
}

function resolveOptions(opts: SyntheticOptions): Required<SyntheticOptions> {
  const known = new Set(Object.keys(SYNTHETIC_DEFAULTS));
  for (const k of Object.keys(opts)) {
    if (!known.has(k)) throw new ConfigError(`synthetic.${k}`, `unknown option (known: ${[...known].join(', ')})`);
  }
  const o = { ...SYNTHETIC_DEFAULTS };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined) (o as Record<string, unknown>)[k] = v;
  checkInt('seed', o.seed, 0);
  checkInt('users', o.users, 2);
  checkInt('items', o.items, 2 * SYNTHETIC_KINDS.length);
  checkInt('window', o.window, 1);
  checkInt('minPerUser', o.minPerUser, 2);
  checkInt('maxPerUser', o.maxPerUser, o.minPerUser);
  checkInt('days', o.days, 30);
  if (o.maxPerUser > o.items / 2) throw new ConfigError('synthetic.maxPerUser', `must be at most items/2 = ${o.items / 2} (no repeat purchases)`);
  for (const f of ['coldUserShare', 'coldItemShare'] as const) {
    if (!(o[f] >= 0 && o[f] < 0.5)) throw new ConfigError(`synthetic.${f}`, `must be in [0, 0.5), got ${o[f]}`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(o.start) || Number.isNaN(Date.parse(`${o.start}T00:00:00Z`)))
    throw new ConfigError('synthetic.start', `must be an ISO date YYYY-MM-DD, got "${o.start}"`);
  return o;
}

function pick<T>(arr: T[], rng: Rng): T {
  return arr[rng.int(arr.length)];
}

/** Index drawn with probability ∝ w (w ≥ 0, not all zero). */
function weighted(w: number[], rng: Rng): number {
  let total = 0;
  for (const x of w) total += x;
  let r = rng.next() * total;
  for (let i = 0; i < w.length; i++) {
    r -= w[i];
    if (r < 0) return i;
  }
  for (let i = w.length - 1; i >= 0; i--) if (w[i] > 0) return i;
  return w.length - 1;
}

function exponential(mean: number, rng: Rng): number {
  return -mean * Math.log(1 - rng.next());
}

/** The catalog: latent item factors and their readable text. */
function makeCatalog(o: Required<SyntheticOptions>, T0: number, T: number): { items: Item[]; latent: Latent[] } {
  const rng = makeRng(hashSeed(o.seed, 'synthetic', 'catalog'));
  const K = SYNTHETIC_KINDS.length;
  // every brand sells 4 of the 8 kinds; every kind is sold by ≥ 3 brands
  const brandKinds: number[][] = [];
  for (;;) {
    brandKinds.length = 0;
    for (let b = 0; b < BRANDS.length; b++) {
      const ks = [...Array(K).keys()];
      for (let i = ks.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [ks[i], ks[j]] = [ks[j], ks[i]];
      }
      brandKinds.push(ks.slice(0, 4));
    }
    const per = Array(K).fill(0);
    for (const ks of brandKinds) for (const k of ks) per[k]++;
    if (per.every((c) => c >= 3)) break;
  }
  const brandQuality = BRANDS.map(() => 0.5 * rng.normal());
  const items: Item[] = [padItem()];
  const latent: Latent[] = [{ kind: -1, brand: -1, attrs: [0, 0], pop: 0, quality: 0, introducedAt: 0, late: false }];
  const titles = new Set<string>();
  const nCold = Math.round(o.items * o.coldItemShare);
  const coldIds = new Set<number>();
  while (coldIds.size < nCold) coldIds.add(1 + rng.int(o.items));
  for (let id = 1; id <= o.items; id++) {
    const kind = id <= K ? id - 1 : rng.int(K); // every kind has at least one item
    const sellers = BRANDS.map((_, b) => b).filter((b) => brandKinds[b].includes(kind));
    const brand = pick(sellers, rng);
    const a1 = rng.int(ATTRIBUTES.length);
    let a2 = rng.int(ATTRIBUTES.length - 1);
    if (a2 >= a1) a2++;
    const k = SYNTHETIC_KINDS[kind];
    const noun = pick(k.nouns, rng);
    let title = `${BRANDS[brand]} ${ATTRIBUTES[a1].word} ${ATTRIBUTES[a2].word} ${noun}`;
    for (let s = 0; titles.has(title); s++) {
      title = `${BRANDS[brand]} ${ATTRIBUTES[a1].word} ${ATTRIBUTES[a2].word} ${noun} ${MODEL_SUFFIXES[s % MODEL_SUFFIXES.length]}${s >= MODEL_SUFFIXES.length ? ` ${Math.floor(s / MODEL_SUFFIXES.length) + 1}` : ''}`;
    }
    titles.add(title);
    const pop = Math.exp(0.8 * rng.normal());
    const quality = brandQuality[brand] + 0.4 * rng.normal();
    const r = rng.next();
    const introducedAt = coldIds.has(id)
      ? T0 + (0.8 + 0.15 * rng.next()) * (T - T0)
      : r < 0.3
        ? T0 + 0.5 * rng.next() * (T - T0)
        : T0;
    const averageRating = Math.round(10 * Math.min(5, Math.max(1, 3.9 + 0.6 * quality + 0.25 * rng.normal()))) / 10;
    const ratingCount = Math.max(1, Math.round(pop * 40 * Math.exp(0.5 * rng.normal())));
    const price = Math.round(k.price[0] + rng.next() * (k.price[1] - k.price[0])) - 0.01;
    items.push({
      id,
      externalId: `FJ-${String(id).padStart(5, '0')}`,
      title,
      description: `${/^[aeiou]/i.test(ATTRIBUTES[a1].phrase) ? 'An' : 'A'} ${ATTRIBUTES[a1].phrase}, ${ATTRIBUTES[a2].phrase} ${noun.toLowerCase()} by ${BRANDS[brand]}, made for ${k.use}.`,
      categories: [k.name],
      brand: BRANDS[brand],
      averageRating,
      ratingCount,
      price: Math.round(price * 100) / 100,
    });
    latent.push({ kind, brand, attrs: [a1, a2], pop, quality, introducedAt, late: introducedAt > T0 });
  }
  return { items, latent };
}

/**
 * Generate the synthetic dataset. Deterministic for a seed: same options → identical dataset.
 * Default size (SYNTHETIC_DEFAULTS): 400 users (8% cold), 300 items (10% cold), 15–40 interactions per regular
 * user, two years of timestamps from 2022-01-01, W = 20.
 */
export function generateSynthetic(opts: SyntheticOptions = {}): Dataset {
  const o = resolveOptions(opts);
  const T0 = Date.parse(`${o.start}T00:00:00Z`) / 1000;
  const T = T0 + o.days * DAY;
  const { items, latent } = makeCatalog(o, T0, T);
  const K = SYNTHETIC_KINDS.length;
  const kindIndex = new Map(SYNTHETIC_KINDS.map((k, i) => [k.name, i]));
  const complementOf = SYNTHETIC_KINDS.map((k) => kindIndex.get(k.complement)!);
  const rng = makeRng(hashSeed(o.seed, 'synthetic', 'users'));
  const nCold = Math.round(o.users * o.coldUserShare);
  const coldUsers = new Set<number>();
  while (coldUsers.size < nCold) coldUsers.add(rng.int(o.users));

  const users: string[] = [];
  const interactions: Interaction[] = [];
  for (let u = 0; u < o.users; u++) {
    users.push(`fj-user-${String(u + 1).padStart(5, '0')}`);
    const cold = coldUsers.has(u);
    // latent tastes
    const nPref = 2 + rng.int(2);
    const preferredKinds = new Set<number>();
    while (preferredKinds.size < nPref) preferredKinds.add(rng.int(K));
    const kindPref = Array.from({ length: K }, (_, k) => (preferredKinds.has(k) ? 4 : 0.25));
    const attrs = new Set<number>();
    while (attrs.size < 2) attrs.add(rng.int(ATTRIBUTES.length));
    const liked = new Set<number>();
    while (liked.size < 2) liked.add(rng.int(BRANDS.length));
    const st: UserState = { kindPref, preferredKinds, attrs, liked, disliked: new Set() };

    // timeline: sessions of minutes-apart purchases separated by day-to-week gaps, scaled to the active period
    const n = cold ? 2 + rng.int(4) : o.minPerUser + rng.int(o.maxPerUser - o.minPerUser + 1);
    const start = cold ? T0 + (0.85 + 0.12 * rng.next()) * (T - T0) : T0 + 0.55 * rng.next() * (T - T0);
    const end = cold ? Math.min(T, start + (5 + 20 * rng.next()) * DAY) : start + (0.35 + 0.65 * rng.next()) * (T - start);
    const inSession: boolean[] = [];
    const gaps: number[] = [];
    for (let i = 1; i < n; i++) {
      const s = rng.next() < 0.35;
      inSession.push(s);
      gaps.push(s ? 60 + exponential(30 * 60, rng) : exponential(7 * DAY, rng) + DAY / 4);
    }
    const between = gaps.reduce((acc, g, i) => acc + (inSession[i] ? 0 : g), 0);
    const withinTotal = gaps.reduce((acc, g, i) => acc + (inSession[i] ? g : 0), 0);
    const scale = between > 0 ? Math.max(0, end - start - withinTotal) / between : 1;
    let t = start;
    const seen = new Set<number>();
    let prev: { item: number; rating: number } | undefined;
    for (let i = 0; i < n; i++) {
      if (i > 0) t += inSession[i - 1] ? gaps[i - 1] : Math.max(DAY / 4, gaps[i - 1] * scale);
      const ts = Math.round(t);
      const item = chooseItem(st, prev, ts, latent, seen, complementOf, rng);
      if (item < 0) break;
      seen.add(item);
      const rating = rateItem(st, latent[item], prev, rng);
      interactions.push({ user: u, item, rating, timestamp: ts });
      // habits update: a bad experience puts the brand off, a great one makes it liked
      const b = latent[item].brand;
      if (rating <= 2) {
        st.disliked.add(b);
        st.liked.delete(b);
      } else if (rating === 5) {
        st.liked.add(b);
        st.disliked.delete(b);
      }
      prev = { item, rating };
    }
  }

  // timestamps within a user are distinct (≥ 60 s apart); the stable sort keeps generation order anyway
  const { samples } = buildSamples(interactions, o.window);
  const splits = chronologicalSplit(samples);
  const options: Record<string, unknown> = { ...o };
  return {
    name: 'synthetic',
    domain: { singular: 'outdoor product', plural: 'outdoor products', verb: 'purchase' },
    items,
    users,
    interactions,
    samples: splits,
    window: o.window,
    provenance: {
      source: 'synthetic',
      files: [],
      options,
      dropped: {},
      notes: [...SYNTHETIC_NOTES],
      synthetic: true,
      key: cacheKey({ reader: 'synthetic', readerVersion: SYNTHETIC_VERSION, files: [], options }),
    },
  };
}

function attrOverlap(st: UserState, l: Latent): number {
  return (st.attrs.has(l.attrs[0]) ? 1 : 0) + (st.attrs.has(l.attrs[1]) ? 1 : 0);
}

function brandFactor(st: UserState, l: Latent): number {
  return st.disliked.has(l.brand) ? 0.1 : st.liked.has(l.brand) ? 2 : 1;
}

/** Next item for a user: complementary follow-up, same-brand loyalty, taste-driven or exploration. −1 if none left. */
function chooseItem(
  st: UserState,
  prev: { item: number; rating: number } | undefined,
  t: number,
  latent: Latent[],
  seen: Set<number>,
  complementOf: number[],
  rng: Rng,
): number {
  const avail: number[] = [];
  for (let j = 1; j < latent.length; j++) if (latent[j].introducedAt <= t && !seen.has(j)) avail.push(j);
  if (avail.length === 0) return -1;
  // new arrivals get attention for ~60 days: cold items do get bought in valid/test
  const novelty = (l: Latent) => (l.late && t - l.introducedAt < 60 * DAY ? 3 : 1);
  const r = rng.next();
  if (r < 0.08) return pick(avail, rng);
  const p = prev ? latent[prev.item] : undefined;
  const pComp = p && prev!.rating >= 3 ? 0.45 : 0;
  const pBrand = p && prev!.rating >= 4 ? 0.15 : 0;
  const u = rng.next();
  let w: number[] | undefined;
  if (p && u < pComp) {
    const want = complementOf[p.kind];
    w = avail.map((j) => {
      const l = latent[j];
      if (l.kind !== want) return 0;
      return Math.sqrt(l.pop) * (l.brand === p.brand ? 6 : 1) * brandFactor(st, l) * Math.exp(0.7 * attrOverlap(st, l)) * novelty(l);
    });
  } else if (p && u < pComp + pBrand) {
    w = avail.map((j) => {
      const l = latent[j];
      if (l.brand !== p.brand) return 0;
      return st.kindPref[l.kind] * Math.sqrt(l.pop) * Math.exp(0.7 * attrOverlap(st, l)) * novelty(l);
    });
  }
  if (!w || !w.some((x) => x > 0)) {
    w = avail.map((j) => {
      const l = latent[j];
      return st.kindPref[l.kind] * l.pop * brandFactor(st, l) * Math.exp(0.7 * attrOverlap(st, l)) * novelty(l);
    });
  }
  return avail[weighted(w, rng)];
}

/** 1–5 stars from taste match, item quality and noise. */
function rateItem(st: UserState, l: Latent, prev: { item: number; rating: number } | undefined, rng: Rng): number {
  let m = st.preferredKinds.has(l.kind) ? 0.9 : -0.9;
  m += 0.5 * attrOverlap(st, l);
  if (st.liked.has(l.brand)) m += 0.6;
  if (st.disliked.has(l.brand)) m -= 1.2;
  m += 0.6 * l.quality;
  if (prev && prev.rating >= 4) m += 0.2;
  const r = Math.round(3.2 + m + 0.7 * rng.normal());
  return Math.min(5, Math.max(1, r));
}

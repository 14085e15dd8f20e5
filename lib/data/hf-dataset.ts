// A dataset written in the on-disk format of spec §1 "Output": a Hugging Face `DatasetDict` saved with
// save_to_disk, so the official PyTorch code (datasets.load_from_disk) trains on exactly our splits at multi-GPU
// scale. Layout (datasets' own):
//   <dir>/dataset_dict.json                      {"splits": ["train", "valid", "test", "item_info"]}
//   <dir>/<split>/data-00000-of-00001.arrow      Arrow IPC *stream* file (schema metadata "huggingface": features)
//   <dir>/<split>/dataset_info.json              features (Value / Sequence types), description, ...
//   <dir>/<split>/state.json                     data files, fingerprint, format
// Columns (spec §1): train/valid/test = user_id, item_asins, item_asin, history_item_id, item_id, history_item_title,
// item_title, history_rating, rating, history_timestamp, timestamp, interaction_id; item_info = the item metadata we
// hold (title, average_rating, rating_number, description as a list, categories, store, price, ...) + item_id, with
// the pad item (id 0, "pad_title") as the last row. Timestamps are written in milliseconds, as the source files.
import fs from 'node:fs';
import path from 'node:path';
import { Field, Float64, Int64, List, Schema, Table, Utf8, tableToIPC, vectorFromArray, type DataType } from 'apache-arrow';
import type { Dataset, Item, Sample, SplitName } from './types';
import { sha256 } from '../util/hash';
import { R2ecError } from '../util/errors';

type ColumnKind = 'string' | 'int64' | 'float64' | 'list<string>' | 'list<int64>' | 'list<float64>';

interface Column {
  name: string;
  kind: ColumnKind;
  values: unknown[];
}

const ARROW: Record<ColumnKind, () => DataType> = {
  string: () => new Utf8(),
  int64: () => new Int64(),
  float64: () => new Float64(),
  'list<string>': () => new List(new Field('item', new Utf8(), true)),
  'list<int64>': () => new List(new Field('item', new Int64(), true)),
  'list<float64>': () => new List(new Field('item', new Float64(), true)),
};

/** datasets' feature description of a column (dataset_info.json "features"). */
function feature(kind: ColumnKind): Record<string, unknown> {
  const value = (dtype: string) => ({ dtype, _type: 'Value' });
  switch (kind) {
    case 'string':
      return value('string');
    case 'int64':
      return value('int64');
    case 'float64':
      return value('float64');
    default:
      return { feature: value(kind.slice(5, -1)), _type: 'Sequence' };
  }
}

const ms = (seconds: number) => BigInt(Math.round(seconds * 1000));

function sampleColumns(ds: Dataset, samples: Sample[]): Column[] {
  const item = (id: number): Item => {
    const it = ds.items[id];
    if (!it) throw new R2ecError(`dataset ${ds.name}: item ${id} is not in the catalog`);
    return it;
  };
  const col = (name: string, kind: ColumnKind, f: (s: Sample) => unknown): Column => ({ name, kind, values: samples.map(f) });
  return [
    col('user_id', 'string', (s) => ds.users[s.user] ?? String(s.user)),
    col('item_asins', 'list<string>', (s) => s.history.map((h) => item(h.item).externalId)),
    col('item_asin', 'string', (s) => item(s.target.item).externalId),
    col('history_item_id', 'list<int64>', (s) => s.history.map((h) => BigInt(h.item))),
    col('item_id', 'int64', (s) => BigInt(s.target.item)),
    col('history_item_title', 'list<string>', (s) => s.history.map((h) => item(h.item).title)),
    col('item_title', 'string', (s) => item(s.target.item).title),
    col('history_rating', 'list<float64>', (s) => s.history.map((h) => h.rating)),
    col('rating', 'float64', (s) => s.target.rating),
    col('history_timestamp', 'list<int64>', (s) => s.history.map((h) => ms(h.timestamp))),
    col('timestamp', 'int64', (s) => ms(s.target.timestamp)),
    col('interaction_id', 'int64', (s) => BigInt(s.index)),
  ];
}

function itemColumns(ds: Dataset): Column[] {
  // real items 1..N in id order, then the pad item last (spec §1: row id-1 is item id)
  const rows = [...ds.items.slice(1), ds.items[0]];
  const col = (name: string, kind: ColumnKind, f: (it: Item) => unknown): Column => ({ name, kind, values: rows.map(f) });
  return [
    col('parent_asin', 'string', (it) => it.externalId),
    col('title', 'string', (it) => it.title),
    col('average_rating', 'float64', (it) => it.averageRating ?? null),
    col('rating_number', 'int64', (it) => (it.ratingCount !== undefined && Number.isFinite(it.ratingCount) ? BigInt(Math.round(it.ratingCount)) : null)),
    col('description', 'list<string>', (it) => (it.description ? [it.description] : [])),
    col('features', 'list<string>', () => []),
    col('categories', 'list<string>', (it) => it.categories ?? []),
    col('store', 'string', (it) => it.brand ?? ''),
    col('price', 'float64', (it) => it.price ?? null),
    col('subtitle', 'string', () => ''),
    col('details', 'string', (it) => JSON.stringify({ ...(it.year !== undefined ? { year: it.year } : {}), ...(it.tags ? { tags: it.tags } : {}) })),
    col('item_id', 'int64', (it) => BigInt(it.id)),
  ];
}

/** Write one split folder; returns its row count. */
function writeSplit(dir: string, split: string, columns: Column[], description: string): number {
  const features: Record<string, unknown> = {};
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const vectors: Record<string, any> = {};
  for (const c of columns) {
    features[c.name] = feature(c.kind);
    vectors[c.name] = vectorFromArray(c.values as never[], ARROW[c.kind]());
  }
  const info = { builder_name: null, citation: '', config_name: null, dataset_name: null, description, features, homepage: '', license: '', splits: null };
  const table0 = new Table(vectors);
  const schema = new Schema(table0.schema.fields, new Map([['huggingface', JSON.stringify({ info: { features } })]]));
  const table = new Table(schema, table0.batches);
  const bytes = tableToIPC(table, 'stream');
  const out = path.join(dir, split);
  fs.mkdirSync(out, { recursive: true });
  const file = 'data-00000-of-00001.arrow';
  fs.writeFileSync(path.join(out, file), bytes);
  fs.writeFileSync(path.join(out, 'dataset_info.json'), JSON.stringify(info, null, 2) + '\n');
  const state = {
    _data_files: [{ filename: file }],
    _fingerprint: sha256(Buffer.from(bytes)).slice(0, 16),
    _format_columns: null,
    _format_kwargs: {},
    _format_type: null,
    _output_all_columns: false,
    _split: null,
  };
  fs.writeFileSync(path.join(out, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  return table.numRows;
}

export const DATASET_DICT_SPLITS = ['train', 'valid', 'test', 'item_info'] as const;

/**
 * Write the dataset's splits and item table as a DatasetDict folder (spec §1 "Output"). Returns the rows per split.
 * datasets.load_from_disk(dir) reads it; dataset["train"][0]["history_item_title"] is a list of titles, etc.
 */
export function writeDatasetDict(ds: Dataset, dir: string): Record<string, number> {
  fs.mkdirSync(dir, { recursive: true });
  const rows: Record<string, number> = {};
  const note = `R²ec workbench export of ${ds.name} (${ds.provenance.source}); timestamps in ms; see the spec §1`;
  for (const split of ['train', 'valid', 'test'] as SplitName[]) rows[split] = writeSplit(dir, split, sampleColumns(ds, ds.samples[split]), note);
  rows.item_info = writeSplit(dir, 'item_info', itemColumns(ds), note);
  fs.writeFileSync(path.join(dir, 'dataset_dict.json'), JSON.stringify({ splits: [...DATASET_DICT_SPLITS] }) + '\n');
  return rows;
}

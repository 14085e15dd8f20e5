// Item table H_V: full refresh over shards (pad row zero, rows in id order, same on every rank) and partial refresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createItemTable, refreshAll, writeRows } from '../lib/train/item-table';
import { SOLO, shardRange, type Collective } from '../lib/train/parallel';

const d = 3;
/** a fake encoder: the vector of item i is [i, 10·i, −i] */
const encode = (ids: number[]) => Float32Array.from(ids.flatMap((i) => [i, 10 * i, -i]));

test('full refresh writes every item row from its encoder output; the pad row stays zero', () => {
  const t = createItemTable(6, d);
  t.rows.fill(7); // stale values everywhere, pad row included
  refreshAll(t, encode, SOLO);
  assert.deepEqual(Array.from(t.rows.subarray(0, d)), [0, 0, 0]);
  for (let i = 1; i < 6; i++) assert.deepEqual(Array.from(t.rows.subarray(i * d, (i + 1) * d)), [i, 10 * i, -i]);
});

test('sharded refresh over 2 ranks gives both ranks the same, complete table', () => {
  const n = 7; // items 1..7, shards of 4 and 3
  const world = 2;
  const parts = Array.from({ length: world }, (_, r) => {
    const [a, b] = shardRange(n, r, world);
    return encode(Array.from({ length: b - a }, (_, i) => a + 1 + i));
  });
  const tables = [0, 1].map((rank) => {
    const encoded: number[][] = [];
    const comm: Collective = {
      rank, world, barrier: () => {}, allReduceSum: () => {},
      allGather: (buf) => {
        assert.deepEqual(Array.from(buf), Array.from(parts[rank])); // each rank encodes only its own shard
        return parts;
      },
    };
    const t = createItemTable(n + 1, d);
    refreshAll(t, (ids) => {
      encoded.push(ids);
      return encode(ids);
    }, comm);
    assert.deepEqual(encoded, [rank === 0 ? [1, 2, 3, 4] : [5, 6, 7]]);
    return t;
  });
  assert.deepEqual(tables[0].rows, tables[1].rows);
  const solo = createItemTable(n + 1, d);
  refreshAll(solo, encode, SOLO);
  assert.deepEqual(tables[0].rows, solo.rows);
});

test('partial refresh overwrites exactly the rows of the batch targets', () => {
  const t = createItemTable(5, d);
  refreshAll(t, encode, SOLO);
  const before = Float32Array.from(t.rows);
  writeRows(t, [4, 2], Float32Array.from([1, 1, 1, 2, 2, 2]));
  assert.deepEqual(Array.from(t.rows.subarray(4 * d, 5 * d)), [1, 1, 1]);
  assert.deepEqual(Array.from(t.rows.subarray(2 * d, 3 * d)), [2, 2, 2]);
  for (const i of [0, 1, 3]) assert.deepEqual(t.rows.subarray(i * d, (i + 1) * d), before.subarray(i * d, (i + 1) * d));
});

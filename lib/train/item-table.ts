// The item table H_V (spec §3): one vector per item id, row 0 = the pad item (zeros, never ranked). A host-memory
// cache, identical on every data-parallel rank, refreshed in full at evaluations and partially at every step.
import { shardRange, type Collective } from './parallel';

export interface ItemTable {
  /** rows = item ids 0..N, row-major [N+1, d] */
  rows: Float32Array;
  d: number;
  numRows: number;
}

export function createItemTable(numRows: number, d: number): ItemTable {
  return { rows: new Float32Array(numRows * d), d, numRows };
}

/**
 * Full refresh: re-encode items 1..N with the current weights (spec §3 "Full refresh"). Each rank encodes a
 * contiguous shard and the shards are gathered in rank order, so every rank ends with the same table.
 */
export function refreshAll(table: ItemTable, encode: (ids: number[]) => Float32Array, comm: Collective): void {
  const n = table.numRows - 1;
  const [a, b] = shardRange(n, comm.rank, comm.world);
  const ids = Array.from({ length: b - a }, (_, i) => a + 1 + i);
  const parts = comm.allGather(encode(ids));
  table.rows.fill(0, 0, table.d);
  let row = 1;
  for (const p of parts) {
    table.rows.set(p, row * table.d);
    row += p.length / table.d;
  }
  if (row !== table.numRows) throw new Error(`item table refresh filled ${row} of ${table.numRows} rows`);
}

/** Partial refresh: overwrite the rows of `ids` with detached vectors [ids.length, d] (spec §3, step 4(c)). */
export function writeRows(table: ItemTable, ids: readonly number[], vecs: Float32Array): void {
  const d = table.d;
  ids.forEach((id, j) => table.rows.set(vecs.subarray(j * d, (j + 1) * d), id * d));
}

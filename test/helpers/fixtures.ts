// Small data folders written by the tests themselves, in the layouts the readers take (so the readers, the registry,
// the cache and the CLI are tested without the real datasets).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A raw-GroupLens ml-100k folder under `root`: 3 users, 4 items, 9 ratings (u.data tab-separated, u.item with 19 genre
 * flags). Each user has 3 ratings at distinct times → 2 samples per user, 6 in all.
 */
export function writeTinyMl100k(root: string): string {
  const dir = path.join(root, 'ml-100k');
  mkdirSync(dir, { recursive: true });
  const rows = [
    [1, 1, 5, 100], [1, 2, 3, 200], [1, 3, 4, 300],
    [2, 2, 2, 150], [2, 4, 5, 250], [2, 1, 1, 350],
    [3, 3, 4, 400], [3, 4, 3, 500], [3, 2, 5, 600],
  ];
  writeFileSync(path.join(dir, 'u.data'), rows.map((r) => r.join('\t')).join('\n') + '\n');
  const g = (on: number) => Array.from({ length: 19 }, (_, k) => (k === on ? 1 : 0)).join('|');
  writeFileSync(
    path.join(dir, 'u.item'),
    ['Alpha (1990)', 'Beta (1991)', 'Gamma (1992)', 'Delta (1993)']
      .map((t, i) => `${i + 1}|${t}|01-Jan-1990||http://example.org/${i + 1}|${g(i + 1)}`)
      .join('\n') + '\n',
  );
  return dir;
}

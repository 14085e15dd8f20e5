// Tests that read a real dataset (the project's shared data: ml-100k, ml-latest-small-2016, cds, goodreads) run when
// it is present under the data root and are SKIPPED otherwise, saying why and how to get it, so a fresh clone passes
// its own tests. CI sets R2EC_REQUIRE_DATA=1 (.ci/run): an absent dataset is then a failure, never a skip. The logic
// these tests cover is also tested on data the tests write themselves (test/data-fixtures.test.ts and others).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { envFlag, envValue } from '../../lib/util/env';

/** R2EC_DATA_DIR, else ../shared/data when it exists (the project machines), else ./data (the CLI's default). */
export const DATA_ROOT = path.resolve(envValue('R2EC_DATA_DIR') ?? (existsSync('../shared/data') ? '../shared/data' : 'data'));

export interface DataNeed {
  /** what the tests call it */
  name: string;
  /** a file or folder under the data root that must exist */
  path: string;
  /** how to get it (a command where there is one) */
  fetch: string;
}

const into = (folder: string) => `into ${path.join(DATA_ROOT, folder)}/`;

/** The shared datasets, each with the file the tests read and where it comes from (../shared/data/README.md). */
export const REAL: Record<'ml100k' | 'mlLatest2016' | 'cds' | 'goodreads', DataNeed> = {
  ml100k: {
    name: 'ml-100k (RecBole atomic files)',
    path: 'ml-100k/ml-100k.inter',
    fetch:
      `fetch RecBole's dataset/ml-100k/ml-100k.{inter,item,user} (github.com/RUCAIBox/RecBole) ${into('ml-100k')} ` +
      '(`npx r2ec data download ml-100k` gets the GroupLens originals, which the CLI reads but these counts are not checked on)',
  },
  mlLatest2016: {
    name: 'ml-latest-small, 2016 release',
    path: 'ml-latest-small-2016/ratings.csv',
    fetch: `fetch the Oct-2016 ml-latest-small CSVs (ratings, movies, tags, links) ${into('ml-latest-small-2016')} (GroupLens now serves a newer release)`,
  },
  cds: {
    name: 'cds (Amazon 2018 CDs & Vinyl, D3-processed)',
    path: 'amazon2018-CDs_and_Vinyl-D3/info',
    fetch: `fetch data/{info,valid,test}/CDs_and_Vinyl_5_2015-10-2018-11.* of github.com/mingyao-huang/R3 (commit 6678092) ${into('amazon2018-CDs_and_Vinyl-D3')}`,
  },
  goodreads: {
    name: 'goodreads (SPRec subset)',
    path: 'goodreads-SPRec/data/train.json',
    fetch: `fetch data/Goodreads/train.json and eval/Goodreads/*.json of github.com/RegionCh/SPRec ${into('goodreads-SPRec')} (data/, eval/)`,
  },
};
export const ALL_REAL = Object.values(REAL);

/** true when R2EC_REQUIRE_DATA=1 (CI): absent data fails the test instead of skipping it. */
export const requireData = () => envFlag('R2EC_REQUIRE_DATA');

/** Why the needs are not met (undefined when every one is present under the data root). */
export function missingData(needs: DataNeed[]): string | undefined {
  const missing = needs.filter((n) => !existsSync(path.join(DATA_ROOT, n.path)));
  if (missing.length === 0) return undefined;
  return (
    `needs ${missing.map((n) => `${n.name} (${path.join(DATA_ROOT, n.path)} is absent)`).join(', ')}; to run it: ` +
    missing.map((n) => n.fetch).join('; ') + ', or set R2EC_DATA_DIR to a folder that holds them'
  );
}

type Body = (t: TestContext) => void | Promise<void>;

/**
 * A test that needs real data: skipped with the reason and the fetch instructions when it is absent, a failure
 * with the same message when R2EC_REQUIRE_DATA=1. Works inside describe() too.
 */
export function dataTest(name: string, needs: DataNeed[], fn: Body): void {
  const missing = missingData(needs);
  if (missing && !requireData()) {
    test(name, { skip: missing }, fn);
    return;
  }
  test(name, async (t) => {
    if (missing) assert.fail(`${missing} (R2EC_REQUIRE_DATA=1: CI never skips a real-data test)`);
    await fn(t);
  });
}

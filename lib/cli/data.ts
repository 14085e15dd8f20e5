// `r2ec data …`: list, stats, prepare, download (the data layer, lib/data/).
import type { Command } from 'commander';
import { ConfigError } from '../util/errors';
import { envValue } from '../util/env';
import {
  availableDatasets,
  dataRoot,
  datasetStats,
  downloadDataset,
  DOWNLOADABLE,
  formatStatsTable,
  prepareDataset,
  type LoadOptions,
} from '../data/index';

/** Parse an integer CLI option, naming the flag on error. */
export function intOption(flag: string): (v: string) => number {
  return (v: string) => {
    if (!/^-?\d+$/.test(v.trim())) throw new ConfigError(flag, `expected an integer, got "${v}"`);
    return Number(v);
  };
}

interface DataFlags {
  window?: number;
  seed?: number;
  kCore?: number;
  start?: string;
  end?: string;
  cache?: boolean;
}

/** Dataset options from flags; only flags the user gave (the registry rejects ones a reader does not take). */
export function loadOptionsFromFlags(f: DataFlags): LoadOptions {
  const o: LoadOptions = {};
  if (f.window !== undefined) o.window = f.window;
  if (f.seed !== undefined) o.seed = f.seed;
  if (f.kCore !== undefined) o.kCore = f.kCore;
  if (f.start !== undefined) o.start = f.start;
  if (f.end !== undefined) o.end = f.end;
  if (f.cache === false) o.cache = false;
  return o;
}

function datasetFlags(cmd: Command): Command {
  return cmd
    .option('--window <n>', 'history window W (default 20)', intOption('--window'))
    .option('--seed <n>', 'seed (synthetic, goodreads)', intOption('--seed'))
    .option('--k-core <k>', 'iterative K-core (amazon2023-*)', intOption('--k-core'))
    .option('--start <date>', 'time window start (amazon2023-*: YYYY-MM; synthetic: YYYY-MM-DD)')
    .option('--end <date>', 'time window end (amazon2023-*: YYYY-MM)')
    .option('--no-cache', 'do not read or write the processed-data cache');
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('datasets: list, statistics, prepare (cache), download');

  data
    .command('list')
    .description('datasets available under the data root (R2EC_DATA_DIR or ./data), plus synthetic')
    .action(() => {
      const root = dataRoot();
      console.log(`data root: ${root}${envValue('R2EC_DATA_DIR') ? ' (R2EC_DATA_DIR)' : ''}`);
      const rows = availableDatasets(root);
      const w = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) console.log(`  ${r.name.padEnd(w)}  ${r.reader.padEnd(10)}  ${r.dir || '(generated)'}`);
      console.log(`downloadable with \`r2ec data download <name>\`: ${DOWNLOADABLE.join(', ')}`);
    });

  datasetFlags(
    data
      .command('stats <dataset>')
      .description('dataset statistics: users, items, interactions, samples per split, cold users/items, ...')
      .option('--json', 'print JSON'),
  ).action(async (name: string, flags: DataFlags & { json?: boolean }) => {
    const { dataset } = await prepareDataset(name, loadOptionsFromFlags(flags));
    const st = datasetStats(dataset);
    console.log(flags.json ? JSON.stringify(st, null, 2) : formatStatsTable(st));
  });

  datasetFlags(
    data.command('prepare <dataset>').description('read the dataset, build samples and cache them; print the provenance'),
  ).action(async (name: string, flags: DataFlags) => {
    const t0 = Date.now();
    const p = await prepareDataset(name, loadOptionsFromFlags(flags));
    const pv = p.dataset.provenance;
    const secs = ((Date.now() - t0) / 1000).toFixed(2);
    console.log(`dataset ${p.dataset.name} (${pv.source}${pv.synthetic ? ', synthetic' : ''}) ready in ${secs} s`);
    console.log(
      p.cachePath
        ? `cache: ${p.cachePath} (${p.cacheHit ? 'reloaded' : 'built and written'})`
        : 'cache: none (synthetic data is generated on demand)',
    );
    console.log(`key: ${pv.key}`);
    console.log(`options: ${JSON.stringify(pv.options)}`);
    if (pv.files.length) {
      console.log('files:');
      for (const f of pv.files) console.log(`  ${f.path}  ${f.bytes} bytes  sha256 ${f.sha256.slice(0, 16)}…`);
    }
    const dropped = Object.entries(pv.dropped);
    console.log(dropped.length ? 'dropped:' : 'dropped: nothing');
    for (const [k, v] of dropped) console.log(`  ${k}: ${v}`);
    if (pv.notes.length) {
      console.log('notes:');
      for (const n of pv.notes) console.log(`  - ${n}`);
    }
    const s = p.dataset.samples;
    console.log(
      `users ${p.dataset.users.length}, items ${p.dataset.items.length - 1}, interactions ${p.dataset.interactions.length}, ` +
        `samples ${s.train.length}/${s.valid.length}/${s.test.length} (train/valid/test), W=${p.dataset.window}`,
    );
  });

  data
    .command('download <dataset>')
    .description(`download a dataset into the data root (${DOWNLOADABLE.join(', ')})`)
    .option('--root <dir>', 'data root to download into (default: R2EC_DATA_DIR or ./data)')
    .option('--force', 'download again even if present')
    .action(async (name: string, flags: { root?: string; force?: boolean }) => {
      const r = await downloadDataset(name, { root: flags.root, force: flags.force });
      for (const c of r.checks) console.log(`  ${c}`);
      console.log(r.skipped ? `${name}: already in ${r.dir}` : `${name}: ${r.files.length} files in ${r.dir}`);
      if (flags.root && !envValue('R2EC_DATA_DIR')) console.log(`use it with R2EC_DATA_DIR=${flags.root}`);
    });
}

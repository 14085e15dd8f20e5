// The runs behind a section, grouped per dataset (one entry per seed, the same methods in each), and the datasets a
// section runs on by default. Everything a section shows is computed from these MethodResults, nothing typed in.
import type { MethodResult } from '../experiment/run';
import type { Run } from '../experiment/grid';
import type { Profile } from '../experiment/config';
import { availableDatasets, dataRoot } from '../data/registry';
import type { Dataset } from '../data/types';
import { envList, type Env } from '../util/env';
import { R2ecError } from '../util/errors';

export type { Run } from '../experiment/grid';

/**
 * Datasets a section runs on: R2EC_DATASETS if set; smoke: synthetic (+ ml-100k); quick: the paper-like pair
 * ml-100k + cds when present (each dataset costs minutes on 2 cores; add the others in the first cell); full: every
 * real dataset under the data root. Falls back to synthetic when none is present.
 */
export function defaultDatasets(
  profile: Profile,
  opts: { smoke?: string[]; quick?: string[]; root?: string; env?: Env } = {},
): string[] {
  const fromEnv = envList('R2EC_DATASETS', opts.env);
  if (fromEnv) return fromEnv;
  const present = availableDatasets(opts.root ?? dataRoot()).map((e) => e.name);
  if (profile === 'smoke') return opts.smoke ? [...opts.smoke] : ['synthetic', ...present.filter((n) => n === 'ml-100k')];
  const real = present.filter((n) => n !== 'synthetic');
  const chosen = profile === 'quick' ? real.filter((n) => (opts.quick ?? ['ml-100k', 'cds']).includes(n)) : real;
  return chosen.length > 0 ? chosen : real.length > 0 ? real.slice(0, 1) : ['synthetic'];
}

/** The runs of one dataset: one entry per seed, each with the same methods in the same order. */
export interface DatasetRuns {
  dataset: string;
  synthetic: boolean;
  profile: string;
  backend: string;
  seeds: { seed: number; methods: MethodResult[] }[];
  /** the loaded dataset (for the behaviour study's history titles); absent in hand-built runs */
  data?: Dataset;
}

/** Group runs by dataset (in first-appearance order), checking that every seed has the same methods. */
export function groupRuns(runs: Run[]): DatasetRuns[] {
  const out: DatasetRuns[] = [];
  for (const r of runs) {
    let d = out.find((x) => x.dataset === r.dataset);
    if (!d) {
      d = {
        dataset: r.dataset,
        synthetic: r.result.dataset.provenance.synthetic,
        profile: r.result.config.profile,
        backend: String(r.result.manifest.backend ?? 'unknown'),
        seeds: [],
        data: r.result.dataset,
      };
      out.push(d);
    }
    d.seeds.push({ seed: r.seed, methods: r.result.methods });
  }
  for (const d of out) checkRuns(d);
  return out;
}

function checkRuns(d: DatasetRuns): void {
  if (d.seeds.length === 0) throw new R2ecError(`${d.dataset}: no runs`);
  const names = d.seeds[0].methods.map((m) => m.name);
  for (const s of d.seeds) {
    const these = s.methods.map((m) => m.name);
    if (these.join('\u0000') !== names.join('\u0000')) {
      throw new R2ecError(`${d.dataset}: seed ${s.seed} has methods [${these.join(', ')}], seed ${d.seeds[0].seed} has [${names.join(', ')}]`);
    }
  }
}

export function methodNames(d: DatasetRuns): string[] {
  return d.seeds[0].methods.map((m) => m.name);
}

/** The results of one method over the seeds of a dataset (R2ecError naming what is there when absent). */
export function methodOverSeeds(d: DatasetRuns, name: string): MethodResult[] {
  return d.seeds.map((s) => {
    const m = s.methods.find((x) => x.name === name);
    if (!m) throw new R2ecError(`${d.dataset}: no method "${name}" (have ${s.methods.map((x) => x.name).join(', ')})`);
    return m;
  });
}

/** Test samples evaluated on a dataset (the same for every method and seed; checked). */
export function testSampleCount(d: DatasetRuns): number {
  const ns = new Set(d.seeds.flatMap((s) => s.methods.map((m) => m.test.n)));
  if (ns.size !== 1) throw new R2ecError(`${d.dataset}: methods were evaluated on different numbers of test samples (${[...ns].join(', ')})`);
  return [...ns][0];
}

/** Valid samples every method selected its checkpoint / early-stopping epoch on (the same for all; checked). */
export function validSampleCount(d: DatasetRuns): number {
  const ns = new Set(d.seeds.flatMap((s) => s.methods.map((m) => m.valid.n)));
  if (ns.size !== 1) throw new R2ecError(`${d.dataset}: methods were selected on different numbers of valid samples (${[...ns].join(', ')})`);
  return [...ns][0];
}

/** For captions: which valid samples every method selected on. */
export function selectionText(data: DatasetRuns[]): string {
  return (
    'every method selected its checkpoint or early-stopping epoch on valid NDCG@10 over the same valid samples (' +
    data.map((d) => `${d.dataset}: n=${validSampleCount(d)}`).join(', ') + ')'
  );
}

/** The dataset's name for headers and legends, flagged when the data is synthetic and the name does not say so. */
export function datasetLabel(d: Pick<DatasetRuns, 'dataset' | 'synthetic'>): string {
  return d.synthetic && !/synthetic/i.test(d.dataset) ? `${d.dataset} (synthetic)` : d.dataset;
}

/** "ml-100k (n=1000), synthetic [synthetic data] (n=48); profile quick; backend wasm; seed 42" for captions. */
export function describeRuns(data: DatasetRuns[]): string {
  const ds = data.map((d) => `${d.dataset}${d.synthetic ? ' [synthetic data]' : ''} (n=${testSampleCount(d)} test samples)`).join(', ');
  const profiles = [...new Set(data.map((d) => d.profile))].join('/');
  const backends = [...new Set(data.map((d) => d.backend))].join('/');
  const seeds = [...new Set(data.flatMap((d) => d.seeds.map((s) => s.seed)))];
  return `${ds}; profile ${profiles}; backend ${backends}; ${seeds.length > 1 ? `mean ± std over seeds ${seeds.join(', ')}` : `seed ${seeds[0]}`}`;
}

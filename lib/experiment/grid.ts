// Runs over datasets × seeds: the grid runner behind every paper section (lib/paper/) and any multi-seed study.
// Each (dataset, seed) is one runExperiment, validated before anything trains; finished methods are reused from their
// results folders.
import { makeConfig, type MethodSpec, type Profile } from './config';
import { runExperiment, type ExperimentResult } from './run';
import { DEFAULT_SEED } from '../util/rng';
import { resultsRoot } from '../util/env';
import { ConfigError } from '../util/errors';

/**
 * Overrides that set every training seed (LM warm-up, RecPO, baselines). The top-level `seed` is left alone on
 * purpose: it picks the evaluated valid/test subset, so every seed is evaluated on the same samples and the runs pair
 * up sample by sample (the per-sample mean over seeds is what the significance test uses).
 */
export function seedOverrides(seed: number): Record<string, unknown> {
  if (!Number.isInteger(seed) || seed < 0) throw new ConfigError('seeds', `a seed must be an integer ≥ 0, got ${JSON.stringify(seed)}`);
  return { 'warmup.seed': seed, 'recpo.seed': seed, 'sasrec.seed': seed, 'gru4rec.seed': seed, 'caser.seed': seed };
}

/** results/<experiment>/ for the default seed (DEFAULT_SEED) (shared with `r2ec run <experiment>`), <experiment>-seed<s> otherwise. */
export function experimentName(base: string, seed: number): string {
  return seed === DEFAULT_SEED ? base : `${base}-seed${seed}`;
}

export interface GridOptions {
  /** names results/<experiment>/<dataset>/ (see experimentName for seeds) */
  experiment: string;
  profile: Profile;
  datasets: string[];
  seeds: number[];
  methods: MethodSpec[];
  /** dotted-key overrides for every method (e.g. {'recpo.steps': 100}) */
  set?: Record<string, unknown>;
  /** results root (default resultsRoot()) */
  resultsDir?: string;
  log?: (msg: string) => void;
}

export interface Run {
  dataset: string;
  seed: number;
  result: ExperimentResult;
}

/** Validate a grid before anything trains: every (dataset, seed) config is built and checked first. */
function gridConfigs(o: GridOptions) {
  if (!Array.isArray(o.datasets) || o.datasets.length === 0) throw new ConfigError('datasets', 'needs at least one dataset');
  if (!Array.isArray(o.seeds) || o.seeds.length === 0) throw new ConfigError('seeds', 'needs at least one seed');
  if (new Set(o.seeds).size !== o.seeds.length) throw new ConfigError('seeds', `duplicate seed in ${JSON.stringify(o.seeds)}`);
  if (new Set(o.datasets).size !== o.datasets.length) throw new ConfigError('datasets', `duplicate dataset in ${JSON.stringify(o.datasets)}`);
  const out: { dataset: string; seed: number; cfg: ReturnType<typeof makeConfig> }[] = [];
  for (const dataset of o.datasets) {
    for (const seed of o.seeds) {
      const cfg = makeConfig({
        profile: o.profile,
        dataset,
        experiment: experimentName(o.experiment, seed),
        set: { ...seedOverrides(seed), ...(o.set ?? {}), methods: o.methods, resultsDir: o.resultsDir ?? resultsRoot() },
      });
      out.push({ dataset, seed, cfg });
    }
  }
  return out;
}

/** runExperiment for every dataset and seed (finished methods are reused from their results folders). */
export async function runGrid(o: GridOptions): Promise<Run[]> {
  const log = o.log ?? ((m: string) => console.log(m));
  const cfgs = gridConfigs(o);
  const runs: Run[] = [];
  for (const { dataset, seed, cfg } of cfgs) {
    const t0 = Date.now();
    const result = await runExperiment(cfg, { log });
    runs.push({ dataset, seed, result });
    log(`${cfg.experiment}/${dataset} (seed ${seed}) done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  return runs;
}

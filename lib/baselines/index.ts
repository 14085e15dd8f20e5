// Traditional baselines of paper Table 1, one file per model, all evaluated through lib/eval (spec §5).
import type { Dataset } from '../data/types';
import { ConfigError } from '../util/errors';
import type { TrainedBaseline, TrainHooks, TrainOptions } from './common';
import { trainCaser, validateCaserConfig } from './caser';
import { trainGRU4Rec, validateGRU4RecConfig } from './gru4rec';
import { trainPopularity, validatePopularityConfig } from './popularity';
import { trainSASRec, validateSASRecConfig } from './sasrec';

export * from './common';
export * from './popularity';
export * from './sasrec';
export * from './gru4rec';
export * from './caser';

export type BaselineName = 'popularity' | 'sasrec' | 'gru4rec' | 'caser';

/** name → { validate, train }: how runExperiment, CLIs and notebooks pick baselines by name. */
export const BASELINES: Record<
  BaselineName,
  {
    validate(cfg?: Record<string, unknown>): unknown;
    train(ds: Dataset, cfg?: Record<string, unknown>, hooks?: TrainHooks, opts?: TrainOptions): Promise<TrainedBaseline>;
  }
> = {
  popularity: { validate: validatePopularityConfig, train: async (ds, cfg) => trainPopularity(ds, cfg) },
  sasrec: { validate: validateSASRecConfig, train: (ds, cfg, hooks, opts) => trainSASRec(ds, cfg, hooks, opts) as Promise<TrainedBaseline> },
  gru4rec: { validate: validateGRU4RecConfig, train: (ds, cfg, hooks, opts) => trainGRU4Rec(ds, cfg, hooks, opts) as Promise<TrainedBaseline> },
  caser: { validate: validateCaserConfig, train: (ds, cfg, hooks, opts) => trainCaser(ds, cfg, hooks, opts) as Promise<TrainedBaseline> },
};

/** Train a baseline by name (unknown name → ConfigError listing the known ones). */
export function trainBaseline(name: string, ds: Dataset, cfg?: Record<string, unknown>, hooks?: TrainHooks, opts?: TrainOptions): Promise<TrainedBaseline> {
  const b = BASELINES[name as BaselineName];
  if (!b) throw new ConfigError('baseline', `unknown baseline "${name}"; known: ${Object.keys(BASELINES).join(', ')}`);
  return b.train(ds, cfg, hooks, opts);
}

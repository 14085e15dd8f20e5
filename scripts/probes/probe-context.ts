// What the read-out probes share: ml-100k's seeded valid samples (the methods' selection subset), a checkpoint opened
// as R²ec's evaluation context at the quick profile, and valid NDCG@10 of its read-out after given reasoning texts.
import { tf } from '../../lib/model/backend';
import { loadDataset } from '../../lib/data';
import type { Dataset, Sample } from '../../lib/data/types';
import { defaultConfig, methodRecConfig } from '../../lib/experiment/config';
import { loadCheckpoint } from '../../lib/model/checkpoint';
import { SOLO } from '../../lib/train/parallel';
import type { RecPOConfig } from '../../lib/train/recpo/config';
import { makeContext, refreshItemTable, catalogScores, type RecContext } from '../../lib/train/recpo/context';
import { readOutAfter } from '../../lib/train/recpo/evaluate';
import { evaluateRanking, type EvalResult } from '../../lib/eval/evaluate';
import { evalSubset } from '../../lib/eval/subsets';
import { backendName } from '../../lib/model/backend';
import { makeManifest } from '../../lib/util/manifest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Probe {
  ds: Dataset;
  rec: RecPOConfig;
  samples: Sample[];
  /** a checkpoint as R²ec's context, its item table refreshed */
  open(dir: string): RecContext;
  /** valid metrics of `reader`'s read-out after `texts` (one per sample) */
  score(reader: RecContext, texts: string[]): Promise<EvalResult>;
  /**
   * Write the probe's numbers with a manifest (commit, the probe's environment settings, seed, backend, data
   * provenance) to $OUT or results/probes/<name>.json; returns the file.
   */
  write(name: string, results: Record<string, unknown>): string;
}

/** The environment settings the probes read (recorded in their result files). */
const PROBE_ENV = ['CKPT', 'BEFORE', 'AFTER', 'BACKBONE', 'N', 'K', 'M', 'U', 'MODE', 'TEMPERATURE', 'TOPK'];

export async function makeProbe(n: number): Promise<Probe> {
  const ds = await loadDataset('ml-100k');
  const cfg = defaultConfig('quick', 'ml-100k');
  const rec = methodRecConfig(cfg, { name: 'R²ec', kind: 'r2ec' } as never);
  const samples = evalSubset(ds.samples.valid.length, n, cfg.seed, 'valid').map((i) => ds.samples.valid[i]);
  const pos = new Map(samples.map((s, i) => [s, i]));
  return {
    ds,
    rec,
    samples,
    open(dir) {
      const ck = loadCheckpoint(dir);
      const ctx = makeContext({ method: 'probe', dataset: ds, tokenizer: ck.tokenizer, model: ck.config as never, initCheckpoint: dir, config: rec, validIdx: [], testIdx: [], workDir: '/tmp/r2ec-probe', latencyRequests: 0, keepTexts: 0, eval: { ks: [10], maskHistory: true } }, SOLO);
      refreshItemTable(ctx);
      return ctx;
    },
    async score(reader, texts) {
      const users = tf.tensor2d(readOutAfter(reader, samples, texts), [samples.length, reader.mcfg.dModel]);
      try {
        return await evaluateRanking(ds, samples, async (batch) =>
          tf.tidy(() => catalogScores(reader, tf.gather(users, tf.tensor1d(batch.map((s) => pos.get(s)!), 'int32')) as tf.Tensor2D)), { ks: [10], batchSize: 128, maskHistory: true });
      } finally {
        users.dispose();
      }
    },
    write(name, results) {
      const file = process.env.OUT ?? path.join('results', 'probes', `${name}.json`);
      mkdirSync(path.dirname(file), { recursive: true });
      const env = Object.fromEntries(PROBE_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
      const manifest = makeManifest({ config: { probe: name, env, validSamples: samples.length, quick: rec }, seed: cfg.seed, backend: backendName(), data: { name: ds.name, provenance: ds.provenance } });
      writeFileSync(file, JSON.stringify({ manifest, results }, null, 2) + '\n');
      console.log(`written: ${file}`);
      return file;
    },
  };
}

/** A short name for a checkpoint folder in result file names: "shipped" or the backbone key and best/latest. */
export function checkpointLabel(dir: string): string {
  if (path.resolve(dir) === path.resolve('backbones/ml-100k')) return 'shipped';
  const key = /([0-9a-f]{16})/.exec(dir)?.[1];
  const which = /(best|latest)\/?$/.exec(dir)?.[1];
  return key ? `${key.slice(0, 8)}${which ? `-${which}` : ''}` : path.basename(path.resolve(dir));
}

/** A reasoning with its closing "Next: …" clause replaced by "Next: {what}." (appended when it has none). */
export function withNext(text: string, what: string): string {
  const at = text.lastIndexOf('Next:');
  return `${at >= 0 ? text.slice(0, at) : `${text} `}Next: ${what}.`;
}

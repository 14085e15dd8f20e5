// Hand-off to and from the PyTorch stack (issue 11):
//   r2ec export model <checkpoint> --out <dir>   a workbench checkpoint (warm-up LM, RecPO best/latest) in the Hugging
//                                                Face layout, with our tokenizer as tokenizer.json (+ chat template)
//   r2ec export rrec --dataset <name>            splits + item table as a DatasetDict (spec §1 "Output") + backbone +
//                                                experiment config, for the official code at multi-GPU scale
//   r2ec import <dir> [--base <dir>] --out <dir> a checkpoint the PyTorch code wrote (merged, or a LoRA adapter on its
//                                                base) checked, merged and written as a self-contained backbone folder
//                                                for `--set model.backbone=<dir>`
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { initBackend } from '../model/backend';
import { loadCheckpoint, paramsFromArrays } from '../model/checkpoint';
import { disposeParams, paramNames } from '../model/decoder';
import { saveHFCheckpoint, TOKENIZER_FILES } from '../model/hf/checkpoint';
import { loadBackbone, resolveBackbone, backboneReport } from '../model/hf/backbone';
import { mergeLora } from '../model/hf/lora';
import { ARCHITECTURES, type Architecture } from '../model/hf/architectures';
import { tokenizerFromJSON, SPECIAL } from '../text/bpe';
import { bpeToHFTokenizerFiles } from '../text/hf-bpe-export';
import { ConfigError, R2ecError } from '../util/errors';
import { formatReport } from './backbone';
import { makeConfig, parseSets, PROFILES, validateExperimentConfig, type ExperimentConfig, type Profile } from '../experiment/config';
import { prepareLanguageModel } from '../experiment/language-model';
import { loadDataset } from '../data/registry';
import { writeDatasetDict } from '../data/hf-dataset';

function dtypeOption(v: string | undefined): 'F32' | 'BF16' {
  const d = (v ?? 'bf16').toLowerCase();
  if (d === 'bf16' || d === 'bfloat16') return 'BF16';
  if (d === 'f32' || d === 'float32' || d === 'fp32') return 'F32';
  throw new ConfigError('--dtype', `must be bf16 or f32, got "${v}"`);
}

/** Export a workbench checkpoint folder (model.safetensors + config.json {model} + tokenizer.json) as Hugging Face. */
export async function exportWorkbenchCheckpoint(src: string, out: string, opts: { dtype?: 'F32' | 'BF16'; arch?: Architecture } = {}): Promise<string[]> {
  await initBackend({ log: false });
  const ck = loadCheckpoint(src);
  const extra = (ck.extraParams ?? []).filter((n) => ck.params[n]);
  if (extra.length) process.stderr.write(`note: ${extra.join(', ')} (a classification head) is not part of a causal LM and is not exported\n`);
  const params = paramsFromArrays(ck.params, paramNames(ck.config));
  try {
    let tokenizerFiles: Record<string, string> | undefined;
    if (ck.tokenizer !== undefined) {
      const t = ck.tokenizer as { format?: string; dir?: string };
      tokenizerFiles = t.format === 'hf' ? undefined : bpeToHFTokenizerFiles(tokenizerFromJSON(ck.tokenizer, path.join(src, 'tokenizer.json')));
    }
    const hfTokDir = (ck.tokenizer as { format?: string; dir?: string } | undefined)?.format === 'hf' ? (ck.tokenizer as { dir: string }).dir : undefined;
    return saveHFCheckpoint(out, ck.config, params, {
      dtype: opts.dtype ?? 'F32',
      arch: opts.arch,
      tokenizerFiles,
      tokenizerFrom: hfTokDir,
      ...(tokenizerFiles ? { bosTokenId: SPECIAL.bos, eosTokenId: SPECIAL.eos, padTokenId: SPECIAL.pad } : {}),
    });
  } finally {
    disposeParams(params);
  }
}

/**
 * Bring a PyTorch-side checkpoint back: load it (a LoRA adapter is applied to its base and merged), and write a
 * self-contained Hugging Face folder (weights + tokenizer files) to use as `model.backbone`.
 */
export async function importCheckpoint(dir: string, out: string, opts: { base?: string; dtype?: 'F32' | 'BF16' } = {}): Promise<string[]> {
  await initBackend({ log: false });
  const src = resolveBackbone(dir, { base: opts.base });
  const m = loadBackbone(src);
  let { config, params } = m;
  const owned = [params];
  if (config.lora) {
    ({ config, params } = mergeLora(config, params));
    owned.push(params);
  }
  try {
    if (path.resolve(out) === path.resolve(src.base)) throw new R2ecError(`${out}: the output folder is the input folder`);
    const files = saveHFCheckpoint(out, config, params, { arch: m.arch, dtype: opts.dtype ?? 'BF16', tokenizerFrom: src.tokenizerDir });
    // keep generation/eos settings of the original config.json
    const orig = JSON.parse(fs.readFileSync(path.join(src.base, 'config.json'), 'utf8'));
    const cfgFile = path.join(out, 'config.json');
    const written = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (orig[k] !== undefined) written[k] = orig[k];
    fs.writeFileSync(cfgFile, JSON.stringify(written, null, 2) + '\n');
    return files;
  } finally {
    const seen = new Set();
    for (const p of owned) for (const v of Object.values(p)) if (!seen.has(v)) (seen.add(v), v.dispose());
  }
}

export interface RRecExport {
  out: string;
  data: string;
  rows: Record<string, number>;
  backbone?: string;
  experiment: string;
}

/**
 * `r2ec export rrec`: the experiment's dataset as a DatasetDict (spec §1 "Output"), its backbone in the Hugging Face
 * layout (model.backbone merged and copied, else the warmed-up workbench LM — trained first if not cached) and the
 * experiment config, with the settings the official code takes (spec §3–§4) spelled out in experiment.json.
 */
export async function exportRRec(
  cfg: ExperimentConfig,
  out: string,
  opts: { backbone?: boolean; log?: (msg: string) => void } = {},
): Promise<RRecExport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  await initBackend({ log: false });
  const ds = await loadDataset(cfg.dataset, cfg.datasetOptions as never);
  validateExperimentConfig(cfg, ds.items.length - 1);
  const data = path.join(out, 'data', ds.name);
  fs.rmSync(data, { recursive: true, force: true });
  const rows = writeDatasetDict(ds, data);
  log(`data: ${Object.entries(rows).map(([k, n]) => `${k} ${n}`).join(', ')} → ${data}`);
  let backbone: string | undefined;
  if (opts.backbone !== false) {
    backbone = path.join(out, 'backbone');
    fs.rmSync(backbone, { recursive: true, force: true });
    if (cfg.model.backbone) await importCheckpoint(cfg.model.backbone, backbone, { dtype: 'BF16' });
    else {
      const world = cfg.world > 0 ? cfg.world : 1;
      const lm = await prepareLanguageModel(ds, cfg, world, { log });
      await exportWorkbenchCheckpoint(lm.checkpoint, backbone, { dtype: 'F32' });
    }
    log(`backbone → ${backbone}`);
  }
  const r = cfg.recpo;
  const experiment = path.join(out, 'experiment.json');
  const official = {
    note: 'settings of the official RRec code (spec §3–§4) that this workbench config corresponds to; check them against its launch script',
    model_name_or_path: backbone ? path.resolve(backbone) : null,
    dataset_path: path.resolve(data),
    learning_rate: r.optimizer.lr,
    num_generations: r.groupSize,
    reward_softmax_weight: r.reward.beta,
    temperature: r.rollout.temperature,
    top_k: r.rollout.topK,
    top_p: r.rollout.topP,
    max_new_tokens: r.rollout.maxNewTokens,
    seed: cfg.seed,
    lora: { r: 4, lora_alpha: 128, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
  };
  fs.writeFileSync(experiment, JSON.stringify({ workbench: cfg, official }, null, 2) + '\n');
  return { out, data, rows, backbone, experiment };
}

function archOption(v: string | undefined): Architecture | undefined {
  if (v === undefined) return undefined;
  if (!(ARCHITECTURES as readonly string[]).includes(v)) throw new ConfigError('--arch', `must be one of ${ARCHITECTURES.join(', ')}, got "${v}"`);
  return v as Architecture;
}

export function registerHandoffCommands(program: Command): void {
  const exp = program.command('export').description('write models and data for the PyTorch stack (Hugging Face layouts)');

  exp
    .command('model <checkpoint>')
    .description('a workbench checkpoint folder (e.g. .cache/lm/<key>/warmup or a RecPO best/ checkpoint) as a Hugging Face model folder')
    .requiredOption('--out <dir>', 'output folder')
    .option('--dtype <dtype>', 'bf16 or f32 (default f32: keeps every bit)', 'f32')
    .option('--arch <name>', `architecture to write (${ARCHITECTURES.join(', ')}; default from the config)`)
    .action(async (ck: string, o: { out: string; dtype?: string; arch?: string }) => {
      const files = await exportWorkbenchCheckpoint(ck, o.out, { dtype: dtypeOption(o.dtype), arch: archOption(o.arch) });
      console.log(`wrote ${files.length} files to ${o.out}`);
    });

  exp
    .command('rrec')
    .description('splits + item table as a Hugging Face DatasetDict (spec §1 "Output"), the backbone and the experiment config, for the official PyTorch code')
    .requiredOption('-d, --dataset <name>', 'dataset (see r2ec data list)')
    .option('--out <dir>', 'output folder (default export/rrec-<dataset>)')
    .option('-p, --profile <profile>', `${PROFILES.join(' | ')} (shapes the warm-up LM when there is no model.backbone)`, 'quick')
    .option('-s, --set <key=value>', 'config override, repeatable', (v: string, acc: string[]) => acc.concat(v), [] as string[])
    .option('--no-backbone', 'write the data and config only')
    .action(async (o: { dataset: string; out?: string; profile: string; set: string[]; backbone: boolean }) => {
      if (!PROFILES.includes(o.profile as Profile)) throw new ConfigError('profile', `"${o.profile}" is not one of ${PROFILES.join(', ')}`);
      const cfg = makeConfig({ profile: o.profile as Profile, dataset: o.dataset, experiment: 'rrec-export', set: parseSets(o.set) });
      const res = await exportRRec(cfg, o.out ?? path.join('export', `rrec-${o.dataset}`), { backbone: o.backbone });
      console.log(`wrote ${res.out}: data/${path.basename(res.data)} (${Object.entries(res.rows).map(([k, n]) => `${k} ${n}`).join(', ')})${res.backbone ? ', backbone/' : ''}, experiment.json`);
    });

  program
    .command('import <dir>')
    .description('check a Hugging Face checkpoint (merged, or a PEFT LoRA adapter with --base) and write it as a backbone folder')
    .option('--base <dir>', 'base checkpoint folder when <dir> is a LoRA adapter')
    .option('--out <dir>', 'write the merged, self-contained backbone folder here (without it: check and report only)')
    .option('--dtype <dtype>', 'bf16 (default) or f32 for the written weights', 'bf16')
    .action(async (dir: string, o: { base?: string; out?: string; dtype?: string }) => {
      console.log(formatReport(backboneReport(dir, { base: o.base })));
      if (!o.out) {
        await initBackend({ log: false });
        const m = loadBackbone(resolveBackbone(dir, { base: o.base })); // loads every tensor: the full check
        disposeParams(m.params);
        console.log(`\nchecked: every tensor loads. Use --out <dir> to write a merged backbone folder.`);
        return;
      }
      const files = await importCheckpoint(dir, o.out, { base: o.base, dtype: dtypeOption(o.dtype) });
      const copied = files.filter((f) => TOKENIZER_FILES.includes(path.basename(f)));
      console.log(`\nwrote ${files.length} files to ${o.out}${copied.length ? '' : ' (no tokenizer files found: token ids only)'}`);
      console.log(`use it with: --set model.backbone=${o.out}`);
    });
}

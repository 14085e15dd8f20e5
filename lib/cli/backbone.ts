// `r2ec backbone …`: inspect a Hugging Face checkpoint folder (or a PEFT LoRA adapter on one) and print the logits
// of an id sequence — the reference anyone can compare with PyTorch (`model(torch.tensor([ids])).logits`).
import type { Command } from 'commander';
import { initBackend, tf } from '../model/backend';
import { forward, lmLogits, padBatch, disposeParams } from '../model/decoder';
import { backboneReport, loadBackbone, resolveBackbone, type BackboneReport } from '../model/hf/backbone';
import { loadHFTokenizer } from '../text/hf-tokenizer';
import { ConfigError } from '../util/errors';
import fs from 'node:fs';
import path from 'node:path';
import { loadDataset } from '../data/registry';
import { makeConfig, parseSets, validateExperimentConfig, PROFILES, type Profile } from '../experiment/config';
import { exportBackbone, prepareBackbone, shippedBackboneRoot } from '../experiment/backbone';
import { defaultWorld } from '../train/parallel';

function gb(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

export function formatReport(r: BackboneReport): string {
  const rows: [string, string][] = [
    ['folder', r.folder + (r.adapter ? ` + LoRA adapter ${r.adapter}` : '')],
    ['architecture', r.architecture],
    ['layers × width', `${r.layers} × ${r.hiddenSize}, ${r.heads} heads (${r.kvHeads} key/value), head dim ${r.headDim}, MLP ${r.intermediateSize}`],
    ['vocabulary', `${r.vocabSize} (${r.tiedEmbeddings ? 'output layer tied to the embedding' : 'separate lm_head'})`],
    ['max positions', String(r.maxPositions)],
    ['parameters', r.parameters >= 1e6 ? `${(r.parameters / 1e6).toFixed(1)}M` : String(r.parameters)],
    ['stored', `${Object.entries(r.dtypes).map(([d, n]) => `${d} (${n} tensors)`).join(', ')}, ${gb(r.storedBytes)}`],
    ['memory (float32)', `weights ${gb(r.float32Bytes)}; one 1k-token forward keeps ~${gb(r.activationBytesPer1kTokens)} of activations`],
    ['wasm heap (4 GiB)', `inference ${r.fitsWasmInference ? 'fits' : 'does NOT fit'}; LoRA training ${r.fitsWasmLoraTraining ? 'fits' : 'does NOT fit'} (estimate)`],
    ['tokenizer', r.tokenizer ? `tokenizer.json${r.chatTemplate ? ' + chat template' : ' (no chat template)'}` : 'none (token ids only)'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** "1,2,3" → [1, 2, 3] (errors name the flag). */
export function parseIds(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) throw new ConfigError('--ids', `expected comma-separated token ids, got "${raw}"`);
  return parts.map(Number);
}

/** Float32 logits [T][V] of one id sequence (no padding). */
export async function backboneLogits(dir: string, ids: number[], opts: { base?: string } = {}): Promise<number[][]> {
  await initBackend({ log: false });
  const m = loadBackbone(resolveBackbone(dir, opts), { maxSeqLen: Math.max(ids.length, 1) });
  try {
    const bad = ids.find((i) => i >= m.config.vocabSize);
    if (bad !== undefined) throw new ConfigError('--ids', `token id ${bad} is outside the vocabulary (size ${m.config.vocabSize})`);
    const batch = padBatch([ids], 'right');
    const out = tf.tidy(() => {
      const h = forward(m.params, m.config, batch);
      return lmLogits(m.params, tf.reshape(h, [ids.length, m.config.dModel]) as tf.Tensor2D, m.config);
    });
    const rows = out.arraySync() as number[][];
    out.dispose();
    return rows;
  } finally {
    disposeParams(m.params);
  }
}

interface TrainOptions {
  profile: string;
  set: string[];
  world?: string;
  /** true = backbones/<dataset>/; a string = backbones/<that folder>/ */
  ship: boolean | string;
}

/**
 * `r2ec backbone train <dataset>`: the backbone stage alone (tokenizer, warm-up, retrieval alignment), resumable —
 * rerun the same command after a kill. With --ship the result is copied to backbones/<dataset>/ (or --ship <folder>) with its manifest,
 * so that a clone of the repository starts every experiment of this config from it.
 */
export async function backboneTrainCommand(dataset: string, o: TrainOptions): Promise<void> {
  const set: Record<string, unknown> = { ...parseSets(o.set) };
  if (o.world !== undefined) set.world = Number(o.world);
  const cfg = makeConfig({ profile: o.profile as Profile, dataset, experiment: 'backbone', set });
  await initBackend({ log: true });
  const ds = await loadDataset(cfg.dataset, cfg.datasetOptions as never);
  validateExperimentConfig(cfg, ds.items.length - 1);
  const world = cfg.world > 0 ? cfg.world : defaultWorld();
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const t0 = performance.now();
  const b = await prepareBackbone(ds, cfg, world, {
    log,
    onStep: (i) => {
      if (i.step % 10 === 0 || i.step <= 3 || i.step === i.steps) log(`  step ${i.step}/${i.steps} loss ${i.loss.toFixed(4)} lm ${i.lmLoss.toFixed(3)} ${i.samplesPerSec.toFixed(1)} samples/s, ${i.tensors} tensors (${((performance.now() - t0) / 60000).toFixed(1)} min)`);
    },
    onEval: (i) => log(`  valid NDCG@10 at step ${i.step}: ${i.direct.toFixed(4)} (after the prompt), ${i.reasoning.toFixed(4)} (after a reasoning), ${i.hindsight.toFixed(4)} (after the hindsight Next:); cosine uu/ii/ui ${i.cos.map((c) => c.toFixed(3)).join('/')}`),
  });
  log(`backbone (${b.source}): ${b.checkpoint}`);
  if (o.ship) {
    if (!b.alignment) throw new ConfigError('--ship', `nothing to ship: the backbone is "${b.source}" (backbone.epochs = ${cfg.backbone.epochs})`);
    const dest = path.join(shippedBackboneRoot(), typeof o.ship === 'string' ? o.ship : ds.name);
    if (b.source === 'shipped') throw new ConfigError('--ship', `the backbone is already the shipped one (${b.checkpoint}); nothing to ship`);
    fs.rmSync(dest, { recursive: true, force: true });
    exportBackbone(b.checkpoint, dest, b.alignment.manifest);
    fs.writeFileSync(path.join(dest, 'curves.json'), JSON.stringify(b.alignment.curves));
    log(`shipped to ${path.relative(process.cwd(), dest)} (commit it with the manifest)`);
  }
}

export function registerBackboneCommands(program: Command): void {
  const bb = program.command('backbone').description('the backbone LM methods start from: train (and ship) the small one, inspect Hugging Face checkpoints');

  bb.command('train <dataset>')
    .description('train the backbone stage (tokenizer, warm-up, retrieval alignment) for a dataset and profile; resumable')
    .option('-p, --profile <profile>', `profile: ${PROFILES.join(' | ')}`, 'quick')
    .option('-s, --set <key=value>', 'override a config field (repeatable), e.g. backbone.epochs=2', (v: string, acc: string[]) => acc.concat(v), [])
    .option('-w, --world <n>', 'data-parallel ranks (default: R2EC_WORKERS or min(2, cores))')
    .option('--ship [folder]', 'copy the trained backbone to backbones/<dataset>/, or backbones/<folder>/ (shipped with the repository)', false)
    .action((dataset: string, o: TrainOptions) => backboneTrainCommand(dataset, o));

  bb.command('info <dir>')
    .description('architecture, sizes, parameters, stored dtype and the memory it needs (reads config.json and the safetensors headers only)')
    .option('--base <dir>', 'base checkpoint folder when <dir> is a LoRA adapter')
    .option('--json', 'print JSON')
    .action((dir: string, o: { base?: string; json?: boolean }) => {
      const r = backboneReport(dir, { base: o.base });
      console.log(o.json ? JSON.stringify(r, null, 2) : formatReport(r));
    });

  bb.command('logits <dir>')
    .description('float32 logits at every position of an id sequence (compare with PyTorch: model(torch.tensor([ids])).logits)')
    .requiredOption('--ids <ids>', 'comma-separated token ids, e.g. 1,2,3')
    .option('--base <dir>', 'base checkpoint folder when <dir> is a LoRA adapter')
    .option('--json', 'print {"logits": [[...], ...]} (one row per position)')
    .action(async (dir: string, o: { ids: string; base?: string; json?: boolean }) => {
      const ids = parseIds(o.ids);
      const logits = await backboneLogits(dir, ids, { base: o.base });
      if (o.json) {
        console.log(JSON.stringify({ logits }));
        return;
      }
      const src = resolveBackbone(dir, { base: o.base });
      const tok = src.tokenizerDir ? loadHFTokenizer(src.tokenizerDir) : undefined;
      const show = (id: number) => (tok ? `${id} ${JSON.stringify(tok.idToToken(id) ?? '')}` : String(id));
      logits.forEach((row, t) => {
        const top = row.map((v, i) => [v, i] as [number, number]).sort((a, b) => b[0] - a[0]).slice(0, 5);
        console.log(`position ${t} (input ${show(ids[t])}): top-5 next ${top.map(([v, i]) => `${show(i)} ${v.toFixed(3)}`).join(', ')}`);
      });
    });
}

// `r2ec backbone …`: inspect a Hugging Face checkpoint folder (or a PEFT LoRA adapter on one) and print the logits
// of an id sequence — the reference anyone can compare with PyTorch (`model(torch.tensor([ids])).logits`).
import type { Command } from 'commander';
import { initBackend, tf } from '../model/backend';
import { forward, lmLogits, padBatch, disposeParams } from '../model/decoder';
import { backboneReport, loadBackbone, resolveBackbone, type BackboneReport } from '../model/hf/backbone';
import { loadHFTokenizer } from '../text/hf-tokenizer';
import { ConfigError } from '../util/errors';

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

export function registerBackboneCommands(program: Command): void {
  const bb = program.command('backbone').description('Hugging Face backbones: inspect a checkpoint folder, print reference logits');

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

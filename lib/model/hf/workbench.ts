// An imported backbone as the experiment's starting model (`--set model.backbone=<dir>`): loaded once (a LoRA adapter
// merged), converted to a workbench checkpoint (float32 weights + extended ModelConfig + a reference to the
// checkpoint's tokenizer folder) in the LM cache, so every LM method, RecPO rank and notebook starts from it through
// the same loadCheckpoint / forward / readOut / generate as the small models. No BPE, no warm-up: the pretrained
// model stands where the warm-up LM stands otherwise (spec §3: R²ec starts from the pretrained LLM).
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../backend';
import { parameterCount, type ModelConfig } from '../config';
import { hasCheckpoint, paramsToArrays, saveCheckpoint } from '../checkpoint';
import { sha256, stableStringify } from '../../util/hash';
import { R2ecError } from '../../util/errors';
import { loadBackbone, resolveBackbone } from './backbone';
import { mergeLora } from './lora';
import { HF_TOKENIZER_FORMAT, loadHFTokenizer, type HFTokenizerRef } from '../../text/hf-tokenizer';

export interface ImportedBackbone {
  /** workbench checkpoint folder (loadCheckpoint reads it) */
  checkpoint: string;
  config: ModelConfig;
  tokenizer: HFTokenizerRef;
  parameters: number;
  key: string;
  cached: boolean;
}

/** A cache key from the folder's path, its config and the sizes/mtimes of its files. */
function folderKey(dirs: string[], maxSeqLen: number): string {
  const files = dirs.flatMap((d) =>
    fs
      .readdirSync(d)
      .sort()
      .map((f) => {
        const st = fs.statSync(path.join(d, f));
        return [path.resolve(d, f), st.size, st.mtimeMs];
      }),
  );
  return sha256(stableStringify({ v: 1, files, maxSeqLen })).slice(0, 16);
}

export async function importBackboneForExperiment(
  dir: string,
  cacheRoot: string,
  opts: { maxSeqLen: number; log?: (msg: string) => void },
): Promise<ImportedBackbone> {
  const src = resolveBackbone(dir);
  if (!src.tokenizerDir) throw new R2ecError(`${dir}: no tokenizer.json in the checkpoint (or its base); the prompts need the model's tokenizer`);
  const tok = loadHFTokenizer(src.tokenizerDir);
  if (!tok.hasChatTemplate) throw new R2ecError(`${src.tokenizerDir}: tokenizer_config.json has no chat_template (spec §2 renders prompts with it)`);
  const key = folderKey([src.base, ...(src.adapter ? [src.adapter] : [])], opts.maxSeqLen);
  const out = path.join(cacheRoot, `backbone-${path.basename(path.resolve(src.adapter ?? src.base))}-${key}`);
  const checkpoint = path.join(out, 'warmup');
  const tokenizer: HFTokenizerRef = { format: HF_TOKENIZER_FORMAT, dir: path.resolve(src.tokenizerDir) };
  const metaFile = path.join(out, 'meta.json');
  if (hasCheckpoint(checkpoint) && fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    return { checkpoint, config: meta.config, tokenizer, parameters: meta.parameters, key, cached: true };
  }
  await initBackend({ log: false });
  opts.log?.(`backbone: importing ${dir} into ${out}`);
  const m = loadBackbone(src, { maxSeqLen: opts.maxSeqLen });
  let { config, params } = m;
  const owned = [params];
  if (config.lora) {
    ({ config, params } = mergeLora(config, params));
    owned.push(params);
  }
  try {
    saveCheckpoint(checkpoint, { config, params: paramsToArrays(params), tokenizer, state: { source: path.resolve(dir), arch: m.arch } });
  } finally {
    const seen = new Set<unknown>();
    for (const p of owned) for (const v of Object.values(p)) if (!seen.has(v)) (seen.add(v), v.dispose());
  }
  const parameters = parameterCount(config);
  fs.writeFileSync(metaFile, JSON.stringify({ done: true, key, config, parameters, source: path.resolve(dir), arch: m.arch }));
  return { checkpoint, config, tokenizer, parameters, key, cached: false };
}


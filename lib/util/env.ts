// The environment variables the workbench reads, in one place: what each one sets and its default. Library code
// reads R2EC_* through this module (a typo in a name is a type error here, not a silently ignored variable); the
// meaning of a value (e.g. which profiles exist) stays with the concept (lib/experiment/config.ts profileFromEnv).
// Read elsewhere: R2EC_JUDGE_* (lib/behaviors/llm-judge.ts, which takes an env map for its tests); R2EC_NATIVE is
// handed to a benchmark's child processes by lib/cli/bench.ts.
import path from 'node:path';
import { R2ecError } from './errors';

export type Env = Record<string, string | undefined>;

/** Every variable read through this module, with what it does (the README's list). */
export const ENV_VARS = {
  R2EC_PROFILE: 'experiment profile: smoke | quick (default) | full',
  R2EC_RESULTS_DIR: 'results root (default results)',
  R2EC_DATASETS: 'comma-separated datasets a notebook section runs on (default: per profile, lib/paper/runs.ts)',
  R2EC_DATASET: 'the dataset notebook 00 shows in detail (default ml-100k)',
  R2EC_WORKERS: 'data-parallel ranks for LM training (default min(2, cores))',
  R2EC_LM_CACHE: 'cache of tokenizers + warmed-up LMs (default .cache/lm)',
  R2EC_BACKBONE_CACHE: 'cache of trained backbones (the backbone stage; default .cache/backbone)',
  R2EC_BACKBONES_DIR: 'shipped backbones, one folder per dataset with its manifest (default backbones/ in the repository)',
  R2EC_BACKBONE: 'default model.backbone: a Hugging Face checkpoint folder every LM method (and notebook) starts from (default none)',
  R2EC_FIGURE_MODE: 'inline figures: svg (default) | interactive',
  R2EC_CHROMIUM: 'Chromium used for SVG/PNG export (default /usr/bin/chromium)',
  R2EC_DATA_DIR: 'data root (lib/data/registry.ts dataRoot; default ./data)',
  R2EC_CACHE_DIR: 'processed-dataset cache (lib/data/cache.ts; default data/processed in the project)',
  R2EC_DOWNLOAD_BASE: 'mirror that replaces the download URLs of `r2ec data download` (default: the original hosts)',
  R2EC_BACKEND: 'TensorFlow.js backend: tensorflow | wasm | cpu (default: the first that loads, in that order)',
  R2EC_NATIVE: 'native kernels on wasm: 1 = required, 0 = off, unset = when they load (lib/model/native-kernels.ts)',
  R2EC_NATIVE_MODULE: 'path of the native kernels module (default native/build/Release/r2ec_native.node; tests of the fallback)',
  R2EC_TORCH_ANCHOR: 'the PyTorch anchor script for `r2ec bench` (default ../shared/bench/torch_anchor.py)',
  R2EC_REQUIRE_DATA: '1 = a test that needs a real dataset fails when it is absent instead of skipping (CI)',
} as const;

export type EnvName = keyof typeof ENV_VARS;

/** The variable's value, trimmed; undefined when unset or blank. */
export function envValue(name: EnvName, env: Env = process.env): string | undefined {
  const v = env[name];
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/** A comma-separated list (empty entries dropped); undefined when unset or empty. */
export function envList(name: EnvName, env: Env = process.env): string[] | undefined {
  const list = envValue(name, env)?.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return list && list.length > 0 ? list : undefined;
}

/** A positive integer, or undefined when unset; anything else is an error naming the variable. */
export function envPositiveInt(name: EnvName, env: Env = process.env): number | undefined {
  const v = envValue(name, env);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new R2ecError(`${name}="${v}" must be a positive integer`);
  return n;
}

/** One of `allowed`, or undefined when unset; anything else is an error naming the variable and the choices. */
export function envChoice<T extends string>(name: EnvName, allowed: readonly T[], env: Env = process.env): T | undefined {
  const v = envValue(name, env);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new R2ecError(`${name}="${v}": use one of ${allowed.join(', ')}`);
  return v as T;
}

/** true when the variable is 1/true/yes. */
export function envFlag(name: EnvName, env: Env = process.env): boolean {
  return /^(1|true|yes)$/i.test(envValue(name, env) ?? '');
}

/** Root of results/ (R2EC_RESULTS_DIR, default 'results'). */
export function resultsRoot(env: Env = process.env): string {
  return envValue('R2EC_RESULTS_DIR', env) ?? 'results';
}

/** Cache of tokenizers + warmed-up LMs (R2EC_LM_CACHE, default ./.cache/lm). */
export function lmCacheRoot(env: Env = process.env): string {
  return envValue('R2EC_LM_CACHE', env) ?? path.join(process.cwd(), '.cache', 'lm');
}

/** Cache of trained backbones (R2EC_BACKBONE_CACHE, default ./.cache/backbone). */
export function backboneCacheRoot(env: Env = process.env): string {
  return envValue('R2EC_BACKBONE_CACHE', env) ?? path.join(process.cwd(), '.cache', 'backbone');
}

/** Shipped backbones (R2EC_BACKBONES_DIR, default backbones/ in the repository). */
export function shippedBackboneRoot(env: Env = process.env): string {
  return envValue('R2EC_BACKBONES_DIR', env) ?? path.join(__dirname, '..', '..', 'backbones');
}

// Every result file carries a manifest: config, seed, backend, data provenance, commit, durations.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Manifest {
  createdAt: string;
  commit: string;
  /** the code differs from `commit`: tracked files changed outside results/ (results are rewritten by the runs themselves) */
  dirty: boolean;
  node: string;
  host: { cpus: number; cpuModel: string; memGiB: number; platform: string };
  backend?: string;
  seed?: number | number[];
  config?: unknown;
  data?: unknown;
  durationsSec?: Record<string, number>;
  [k: string]: unknown;
}

const gitCache = new Map<string, { commit: string; dirty: boolean }>();

/** Commit and dirty flag of the checkout at `cwd`, read once per process and folder. */
export function gitInfo(cwd = process.cwd()): { commit: string; dirty: boolean } {
  const cached = gitCache.get(cwd);
  if (cached) return cached;
  let info: { commit: string; dirty: boolean };
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    // results/ is excluded: a section rewrites its own tracked outputs (figures differ byte-wise) before its manifest
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)results'], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    info = { commit, dirty: status.trim().length > 0 };
  } catch {
    info = { commit: 'unknown', dirty: false };
  }
  gitCache.set(cwd, info);
  return info;
}

export function makeManifest(extra: Partial<Manifest> = {}): Manifest {
  const { commit, dirty } = gitInfo();
  const cpus = os.cpus();
  return {
    createdAt: new Date().toISOString(),
    commit,
    dirty,
    node: process.version,
    host: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      platform: `${os.platform()}-${os.arch()}`,
    },
    ...extra,
  };
}

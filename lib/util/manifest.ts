// Every result file carries a manifest: config, seed, backend, data provenance, commit, durations.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface Manifest {
  createdAt: string;
  commit: string;
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

let gitCache: { commit: string; dirty: boolean } | undefined;

export function gitInfo(cwd = process.cwd()): { commit: string; dirty: boolean } {
  if (gitCache) return gitCache;
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
    gitCache = { commit, dirty: status.trim().length > 0 };
  } catch {
    gitCache = { commit: 'unknown', dirty: false };
  }
  return gitCache;
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

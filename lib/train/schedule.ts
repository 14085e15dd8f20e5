// Learning-rate schedules: linear warmup, then constant or cosine decay to lr·minRatio.
import { ConfigError } from '../util/errors';

export interface LrSchedule {
  kind: 'constant' | 'cosine';
  warmupSteps: number;
  /** final lr as a fraction of the peak (cosine) */
  minRatio: number;
}

export function lrAt(step: number, totalSteps: number, peak: number, s: LrSchedule): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (peak * (step + 1)) / s.warmupSteps;
  if (s.kind === 'constant') return peak;
  const span = Math.max(1, totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return peak * (s.minRatio + (1 - s.minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

export function validateSchedule(s: LrSchedule, prefix = 'schedule'): void {
  if (s.kind !== 'constant' && s.kind !== 'cosine') throw new ConfigError(`${prefix}.kind`, `must be "constant" or "cosine", got ${JSON.stringify(s.kind)}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new ConfigError(`${prefix}.warmupSteps`, `must be an integer ≥ 0, got ${JSON.stringify(s.warmupSteps)}`);
  if (!(s.minRatio >= 0 && s.minRatio <= 1)) throw new ConfigError(`${prefix}.minRatio`, `must be in [0, 1], got ${JSON.stringify(s.minRatio)}`);
}

// Learning-rate schedules: linear warmup, then constant or cosine decay to lr·minRatio.
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

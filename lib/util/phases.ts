// Phase timing for profiles (`r2ec bench`: where one RecPO step's time goes). Off by default: `timed(name, f)` is
// then a plain call. When on, each phase accumulates its *exclusive* wall time (a phase nested in another is
// subtracted from the outer one), per thread (every data-parallel rank has its own).

let totals: Map<string, number> | undefined;
const stack: { name: string; t0: number; inner: number }[] = [];

/** Run f as phase `name` (its time is added to the phase when timing is on). */
export function timed<T>(name: string, f: () => T): T {
  if (!totals) return f();
  const frame = { name, t0: performance.now(), inner: 0 };
  stack.push(frame);
  try {
    return f();
  } finally {
    stack.pop();
    const total = performance.now() - frame.t0;
    totals.set(name, (totals.get(name) ?? 0) + total - frame.inner);
    if (stack.length) stack[stack.length - 1].inner += total;
  }
}

/** Start (or restart) timing: totals back to zero. */
export function startPhases(): void {
  totals = new Map();
  stack.length = 0;
}

/** Stop timing and return ms per phase (exclusive). */
export function stopPhases(): Record<string, number> {
  const out = Object.fromEntries(totals ?? []);
  totals = undefined;
  return out;
}

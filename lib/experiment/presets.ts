// Named experiments: the method rows of each paper section. `r2ec run <experiment>` and the notebooks start here;
// any row can be edited or added (a MethodSpec is a kind plus dotted-key overrides).
import { ConfigError } from '../util/errors';
import { MAIN_METHODS, type MethodSpec } from './config';

export const EXPERIMENTS: Record<string, { description: string; methods: MethodSpec[] }> = {
  main: {
    description: 'paper Table 1: R²ec vs w/o reasoning, zero-shot and the traditional baselines',
    methods: MAIN_METHODS,
  },
  ablations: {
    description: 'paper Table 2 and Fig. 2: reward terms, reasoning, the untrained starts, classification head, advantage estimator, objective',
    methods: [
      { name: 'R²ec', kind: 'r2ec' },
      { name: 'w/o R_d', kind: 'r2ec', set: { 'recpo.reward.useRd': false } },
      { name: 'w/o R_c', kind: 'r2ec', set: { 'recpo.reward.useRc': false } },
      { name: 'w/o reasoning', kind: 'no-reasoning' },
      // the start of R²ec and of w/o reasoning: what RecPO and the contrastive loss add, and what the backbone's own
      // reasoning does to its read-out before any of them
      { name: 'zero-shot', kind: 'zero-shot' },
      { name: 'zero-shot w/o reasoning', kind: 'no-reasoning', set: { 'recpo.steps': 0 } },
      { name: 'w/ ClsHead', kind: 'cls-head' },
      { name: 'RLOO', kind: 'r2ec', set: { 'recpo.advantage': 'rloo' } },
      { name: 'reference-code loss', kind: 'r2ec', set: { 'recpo.objective': 'reference-code' } },
    ],
  },
  pooling: {
    description: 'paper Table 3: user and item read-out (last hidden state, mean, max, appended special token)',
    methods: [
      { name: 'last hidden state', kind: 'r2ec', set: { 'recpo.pooling': 'last' } },
      { name: 'mean pooling', kind: 'r2ec', set: { 'recpo.pooling': 'mean' } },
      { name: 'max pooling', kind: 'r2ec', set: { 'recpo.pooling': 'max' } },
      { name: 'special token', kind: 'r2ec', set: { 'recpo.pooling': 'token' } },
    ],
  },
  efficiency: {
    description: 'paper Table 4: latency per request (batch 1) and throughput',
    methods: [
      { name: 'R²ec', kind: 'r2ec' },
      { name: 'w/o reasoning', kind: 'no-reasoning' },
      { name: 'SASRec', kind: 'sasrec' },
    ],
  },
};

/** Sweep rows over one setting, e.g. sweep('recpo.reward.beta', [0, 0.05, 0.5, 1], 'β'). */
export function sweep(key: string, values: unknown[], label = key): MethodSpec[] {
  return values.map((v) => ({ name: `${label}=${JSON.stringify(v)}`, kind: 'r2ec' as const, set: { [key]: v } }));
}

export function experimentMethods(name: string): MethodSpec[] {
  const e = EXPERIMENTS[name];
  if (!e) throw new ConfigError('experiment', `unknown experiment "${name}"; choose one of ${Object.keys(EXPERIMENTS).join(', ')}`);
  return e.methods.map((m) => structuredClone(m));
}

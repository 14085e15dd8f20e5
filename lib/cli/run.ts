// `r2ec run <experiment>` and `r2ec start` (npm start): thin callers of runExperiment.
import type { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { defaultDataset, dataRoot } from '../data/registry';
import { makeConfig, parseSets, profileFromEnv, PROFILES, type Profile } from '../experiment/config';
import { EXPERIMENTS, experimentMethods } from '../experiment/presets';
import { runExperiment, metricColumns, type ExperimentHooks } from '../experiment/run';
import { toMarkdown } from '../report/table';
import { ConfigError } from '../util/errors';

interface RunOptions {
  dataset?: string;
  profile: string;
  set: string[];
  methods?: string;
  world?: string;
  resume: boolean;
  results?: string;
}

/** Progress bars on a terminal, one line per event otherwise (logs, CI). */
function progressHooks(): ExperimentHooks {
  const tty = process.stderr.isTTY;
  let bar: SingleBar | undefined;
  let label = '';
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const tick = (name: string, step: number, steps: number, extra: string, every: number) => {
    if (!tty) {
      if (step % every === 0 || step === steps) process.stderr.write(`  ${name} ${step}/${steps} ${extra}\n`);
      return;
    }
    if (!bar || label !== name) {
      stop();
      label = name;
      bar = new SingleBar({ format: `  ${name} [{bar}] {value}/{total} {extra}`, clearOnComplete: false, stream: process.stderr }, Presets.shades_classic);
      bar.start(steps, 0, { extra });
    }
    bar.update(step, { extra });
    if (step === steps) stop();
  };
  return {
    log: (msg) => {
      stop();
      process.stderr.write(`${msg}\n`);
    },
    onLMStep: (i) => tick('LM warm-up', i.step, i.steps, `loss ${i.loss.toFixed(3)}`, 50),
    onBackboneStep: (i) => tick('backbone', i.step, i.steps, `loss ${i.loss.toFixed(3)} ${i.samplesPerSec.toFixed(1)} samples/s`, 50),
    onRecStep: (m, i) => tick(m, i.step, i.steps, i.length > 0 ? `reward ${i.reward.toFixed(4)} (within-group std ${i.groupStd.toFixed(4)}) reasoning ${i.length.toFixed(0)} tok` : '', 10),
  };
}

export async function runCommand(experiment: string, o: RunOptions): Promise<void> {
  if (!PROFILES.includes(o.profile as Profile)) throw new ConfigError('profile', `"${o.profile}" is not one of ${PROFILES.join(', ')}`);
  const dataset = o.dataset ?? defaultDataset();
  let methods = experimentMethods(experiment);
  if (o.methods) {
    const want = o.methods.split(',').map((s) => s.trim());
    const unknown = want.filter((w) => !methods.some((m) => m.name === w || m.kind === w));
    if (unknown.length) throw new ConfigError('methods', `unknown method(s) ${unknown.join(', ')}; this experiment has ${methods.map((m) => m.name).join(', ')}`);
    methods = methods.filter((m) => want.includes(m.name) || want.includes(m.kind));
  }
  const set: Record<string, unknown> = { ...parseSets(o.set) };
  if (o.world !== undefined) set.world = Number(o.world);
  if (o.results) set.resultsDir = o.results;
  set.resume = o.resume;
  set.methods = methods;
  const cfg = makeConfig({ profile: o.profile as Profile, dataset, experiment, set });
  if (dataset === 'synthetic') process.stderr.write('note: dataset "synthetic" is generated data, not a real benchmark\n');
  const result = await runExperiment(cfg, progressHooks());
  console.log(`\n${toMarkdown(result.table.rows, { caption: `${experiment} on ${dataset}${result.dataset.provenance.synthetic ? ' (synthetic)' : ''}, profile ${cfg.profile}`, decimals: 4, better: Object.fromEntries(metricColumns(cfg.eval.ks).map((k) => [k, 'higher' as const])) })}`);
  console.log(`results: ${result.outDir}`);
}

/** npm start: the main comparison on the default dataset at the quick profile. */
export async function startCommand(opts: { profile?: string } = {}): Promise<void> {
  const name = defaultDataset();
  process.stderr.write(
    name === 'synthetic'
      ? `No ml-100k under the data root ${dataRoot()}: running on the built-in SYNTHETIC dataset. ` +
          'Set R2EC_DATA_DIR to a folder holding ml-100k (or run `npx r2ec data download ml-100k`) for real data.\n'
      : `Dataset: ${name} (data root ${dataRoot()})\n`,
  );
  await runCommand('main', { dataset: name, profile: opts.profile ?? profileFromEnv(), set: [], resume: true });
}

export function registerRunCommands(program: Command): void {
  program
    .command('run <experiment>')
    .description(`run an experiment (${Object.keys(EXPERIMENTS).join(', ')}) and write results/<experiment>/<dataset>/`)
    .option('-d, --dataset <name>', 'dataset (default: ml-100k if present, else synthetic)')
    .option('-p, --profile <profile>', `profile: ${PROFILES.join(' | ')}`, 'quick')
    .option('-s, --set <key=value>', 'override a config field (repeatable), e.g. recpo.groupSize=8', (v: string, acc: string[]) => acc.concat(v), [])
    .option('-m, --methods <list>', 'comma-separated subset of the experiment\'s methods (names or kinds)')
    .option('-w, --world <n>', 'data-parallel ranks (default: R2EC_WORKERS or min(2, cores))')
    .option('-o, --results <dir>', 'results root (default ./results)')
    .option('--no-resume', 'retrain methods even if a finished result with the same config exists')
    .action((experiment: string, o: RunOptions) => runCommand(experiment, o));
  program
    .command('start')
    .description('quick start: the main comparison on the default dataset (ml-100k if present, else synthetic), quick profile')
    .option('-p, --profile <profile>', 'profile (default quick, or R2EC_PROFILE)')
    .action((o: { profile?: string }) => startCommand(o));
}

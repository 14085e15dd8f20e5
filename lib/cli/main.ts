// The `r2ec` command. Each command group lives in its own module and registers itself on the program; add new
// groups (run, bench, notebook, ...) to REGISTRARS below.
import { Command } from 'commander';
import { datasetStats, defaultDataset, formatStatsTable, loadDataset, dataRoot } from '../data/index';
import { registerDataCommands } from './data';

export type Registrar = (program: Command) => void;

/** Command groups, in help order. Other engineers: append `registerRunCommands`, `registerBenchCommands`,
 *  `registerNotebookCommands` here, and replace `startCommand` below. */
export const REGISTRARS: Registrar[] = [registerDataCommands, registerStartCommand];

/** `r2ec start` (placeholder until the experiment layer lands): announce and describe the default dataset. */
export async function startCommand(): Promise<void> {
  const name = defaultDataset();
  console.log(
    name === 'synthetic'
      ? `No ml-100k under the data root ${dataRoot()}: using the built-in synthetic dataset ("synthetic"). ` +
          'Set R2EC_DATA_DIR to a folder holding ml-100k (or run `r2ec data download ml-100k`) for real data.'
      : `Dataset: ${name} (data root ${dataRoot()})`,
  );
  const ds = await loadDataset(name);
  console.log(formatStatsTable(datasetStats(ds)));
}

function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('quick start: describe the default dataset (ml-100k if present, else synthetic)')
    .action(startCommand);
}

export function buildProgram(): Command {
  const program = new Command('r2ec')
    .description('R²ec research workbench: reasoning recommender models trained with RecPO')
    .showHelpAfterError('(run with --help for usage)');
  for (const register of REGISTRARS) register(program);
  return program;
}

/** Entry point used by bin/r2ec.js; R2ecErrors propagate to its one-line printer. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
